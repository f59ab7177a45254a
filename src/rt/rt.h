/* vrt internals shared by every file of the runtime: errors, checked
 * arithmetic, tensor helpers. Nothing here is public API. */
#ifndef VRT_RT_H
#define VRT_RT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "vrt/vrt.h"

/* Record a readable message for vrt_last_error() and return code (<0). */
int vrt__err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vrt__err_clear(void);

/* Checked size arithmetic: return false on overflow. */
bool vrt__mul_ok(size_t a, size_t b, size_t *out);
bool vrt__add_ok(size_t a, size_t b, size_t *out);

/* Number of elements of dims[0..ndim); -1 if any dim is negative or the
 * product overflows int64. ndim 0 is a scalar (1 element). */
int64_t vrt__numel(const int64_t *dims, int ndim);
/* Bytes of a tensor with t->dtype and t->dims; false on overflow/unknown. */
bool vrt__tensor_bytes(const vrt_tensor *t, size_t *out);
bool vrt__same_shape(const vrt_tensor *a, const vrt_tensor *b);
/* Row-major strides (in elements) of dims. */
void vrt__strides(const int64_t *dims, int ndim, int64_t *strides);
/* Numpy-style broadcast of a and b into out (ndim = max). VRT_ESHAPE if not
 * broadcastable. */
int vrt__broadcast_shape(const int64_t *a, int na, const int64_t *b, int nb, int64_t *out, int *nout);
/* Read element i of a tensor of any integer/float dtype as int64 / double. */
int64_t vrt__get_i64(const vrt_tensor *t, int64_t i);
double vrt__get_f64(const vrt_tensor *t, int64_t i);
/* fp16 / bf16 conversions */
float vrt__f16_to_f32(uint16_t h);
uint16_t vrt__f32_to_f16(float f);
float vrt__bf16_to_f32(uint16_t h);
uint16_t vrt__f32_to_bf16(float f);
/* "[1,3,640,640]" into buf */
const char *vrt__shape_str(const int64_t *dims, int ndim, char *buf, size_t len);

void *vrt__aligned_alloc(size_t bytes); /* 64-byte aligned, zero bytes -> valid ptr */
void vrt__aligned_free(void *p);
/* Hand the C heap's free pages back to the system (glibc: malloc_trim) after
 * a burst of temporary buffers: a load's decoded and transformed weights,
 * a first run's per-value buffers. Without it they stay in the process's
 * resident set, below the heap top, until reused. */
void vrt__trim_heap(void);

#endif
