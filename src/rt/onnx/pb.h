/* A minimal reader for the protobuf wire format, enough for ONNX: tagged
 * fields, varints, fixed32/64, length-delimited slices, and iteration over
 * repeated scalar fields in both packed and unpacked encodings. Every length
 * is checked against the bytes that remain; nothing here allocates. */
#ifndef VRT_ONNX_PB_H
#define VRT_ONNX_PB_H

#include <stddef.h>
#include <stdint.h>

enum { PB_VARINT = 0, PB_FIXED64 = 1, PB_LEN = 2, PB_FIXED32 = 5 };

typedef struct pb_reader {
  const uint8_t *p, *end;
  const uint8_t *base; /* start of the whole buffer, for error offsets */
} pb_reader;

typedef struct pb_field {
  uint32_t num;
  int wire;
  uint64_t v;          /* VARINT, FIXED32, FIXED64 */
  const uint8_t *data; /* LEN */
  size_t len;
} pb_field;

static inline pb_reader pb_sub(const pb_reader *parent, const uint8_t *p, size_t len) {
  pb_reader r = {p, p + len, parent ? parent->base : p};
  return r;
}

/* Next field of the message: 1 when *f is filled, 0 at the end, <0 on
 * malformed input (vrt__err set). Groups (wire 3/4) are rejected. */
int pb_next(pb_reader *r, pb_field *f);

/* Iterates one repeated scalar field of a message, whatever its encoding
 * (packed chunks and single values may be mixed, as protobuf allows). */
typedef struct pb_iter {
  pb_reader msg;    /* rest of the message */
  pb_reader packed; /* rest of the current packed chunk */
  uint32_t num;
  int wire; /* scalar wire type of the elements: VARINT, FIXED32, FIXED64 */
} pb_iter;

void pb_iter_init(pb_iter *it, const pb_reader *msg, uint32_t num, int wire);
/* 1 with *v set, 0 at the end, <0 on malformed input. */
int pb_iter_next(pb_iter *it, uint64_t *v);
/* Number of elements of the repeated field (walks it once). */
int pb_count(const pb_reader *msg, uint32_t num, int wire, size_t *count);

static inline float pb_f32(uint64_t v) {
  union { uint32_t u; float f; } x = {(uint32_t)v};
  return x.f;
}
static inline double pb_f64(uint64_t v) {
  union { uint64_t u; double d; } x = {v};
  return x.d;
}

#endif
