/* Protobuf wire-format reader (see pb.h): bounds-checked varints, fixed
 * fields, length-delimited slices and repeated-field iteration. */
#include "pb.h"

#include <string.h>

#include "rt.h"

static size_t off(const pb_reader *r) { return (size_t)(r->p - r->base); }

static int read_varint(pb_reader *r, uint64_t *v) {
  uint64_t x = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (r->p >= r->end) return vrt__err(VRT_EPARSE, "onnx: truncated varint at offset %zu", off(r));
    uint8_t b = *r->p++;
    if (shift == 63 && (b & 0x7e))
      return vrt__err(VRT_EPARSE, "onnx: varint overflows 64 bits at offset %zu", off(r));
    x |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = x;
      return 0;
    }
  }
  return vrt__err(VRT_EPARSE, "onnx: varint longer than 10 bytes at offset %zu", off(r));
}

static int read_fixed(pb_reader *r, int nbytes, uint64_t *v) {
  if ((size_t)(r->end - r->p) < (size_t)nbytes)
    return vrt__err(VRT_EPARSE, "onnx: truncated fixed%d at offset %zu", nbytes * 8, off(r));
  uint64_t x = 0;
  for (int i = nbytes - 1; i >= 0; i--) x = (x << 8) | r->p[i];
  r->p += nbytes;
  *v = x;
  return 0;
}

int pb_next(pb_reader *r, pb_field *f) {
  if (r->p >= r->end) return 0;
  uint64_t tag;
  int rc = read_varint(r, &tag);
  if (rc) return rc;
  uint64_t num = tag >> 3;
  if (num == 0 || num > 0x1fffffff) return vrt__err(VRT_EPARSE, "onnx: bad field number at offset %zu", off(r));
  f->num = (uint32_t)num;
  f->wire = (int)(tag & 7);
  f->v = 0;
  f->data = NULL;
  f->len = 0;
  switch (f->wire) {
    case PB_VARINT: return read_varint(r, &f->v) ? VRT_EPARSE : 1;
    case PB_FIXED64: return read_fixed(r, 8, &f->v) ? VRT_EPARSE : 1;
    case PB_FIXED32: return read_fixed(r, 4, &f->v) ? VRT_EPARSE : 1;
    case PB_LEN: {
      uint64_t n;
      if (read_varint(r, &n)) return VRT_EPARSE;
      if (n > (uint64_t)(r->end - r->p))
        return vrt__err(VRT_EPARSE, "onnx: field %u claims %llu bytes but %zu remain (offset %zu)", f->num,
                        (unsigned long long)n, (size_t)(r->end - r->p), off(r));
      f->data = r->p;
      f->len = (size_t)n;
      r->p += n;
      return 1;
    }
    default:
      return vrt__err(VRT_EPARSE, "onnx: unsupported wire type %d (field %u) at offset %zu", f->wire, f->num,
                      off(r));
  }
}

void pb_iter_init(pb_iter *it, const pb_reader *msg, uint32_t num, int wire) {
  it->msg = *msg;
  it->packed.p = it->packed.end = NULL;
  it->packed.base = msg->base;
  it->num = num;
  it->wire = wire;
}

static int read_scalar(pb_reader *r, int wire, uint64_t *v) {
  if (wire == PB_VARINT) return read_varint(r, v);
  return read_fixed(r, wire == PB_FIXED32 ? 4 : 8, v);
}

int pb_iter_next(pb_iter *it, uint64_t *v) {
  for (;;) {
    if (it->packed.p < it->packed.end) return read_scalar(&it->packed, it->wire, v) ? VRT_EPARSE : 1;
    pb_field f;
    int rc = pb_next(&it->msg, &f);
    if (rc <= 0) return rc;
    if (f.num != it->num) continue;
    if (f.wire == PB_LEN) {
      it->packed = pb_sub(&it->msg, f.data, f.len);
      continue;
    }
    if (f.wire != it->wire)
      return vrt__err(VRT_EPARSE, "onnx: field %u has wire type %d, expected %d", f.num, f.wire, it->wire);
    *v = f.v;
    return 1;
  }
}

int pb_count(const pb_reader *msg, uint32_t num, int wire, size_t *count) {
  pb_reader r = *msg;
  size_t n = 0;
  pb_field f;
  int rc;
  while ((rc = pb_next(&r, &f)) > 0) {
    if (f.num != num) continue;
    if (f.wire == PB_LEN) {
      if (wire == PB_VARINT) {
        /* one element ends at each byte without the continuation bit */
        if (f.len && (f.data[f.len - 1] & 0x80))
          return vrt__err(VRT_EPARSE, "onnx: truncated packed varints in field %u", num);
        for (size_t i = 0; i < f.len; i++) n += !(f.data[i] & 0x80);
      } else {
        size_t es = wire == PB_FIXED32 ? 4 : 8;
        if (f.len % es) return vrt__err(VRT_EPARSE, "onnx: packed field %u is %zu bytes, not a multiple of %zu", num, f.len, es);
        n += f.len / es;
      }
    } else if (f.wire == wire) {
      n++;
    } else {
      return vrt__err(VRT_EPARSE, "onnx: field %u has wire type %d, expected %d", f.num, f.wire, wire);
    }
  }
  if (rc < 0) return rc;
  *count = n;
  return 0;
}
