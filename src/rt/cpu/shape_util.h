/* Helpers shared by the unary, binary, reduce and shape reference kernels:
 * error messages that name the node, axis normalisation, reading small
 * integer inputs, dtype type lists for generating typed loops, and the
 * broadcasting / transpose / cast engines that several families reuse. */
#ifndef VRT_CPU_SHAPE_UTIL_H
#define VRT_CPU_SHAPE_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ops.h"

/* What a Slice node reads, resolved as its kernel does (python-style clamping,
 * negative indices): per axis of in[0] the first index, the step and the
 * output length. Needs the starts/ends/axes/steps inputs' data. */
int vrt__slice_window(const vrt_node *n, const vrt_tensor *const *in, int nin, int64_t *start, int64_t *step,
                      int64_t *odims);

/* An error naming the node: every kernel error goes through this. */
#define KERN_ERR(n, code, ...) vrt__kern_err_node((n), (code), __VA_ARGS__)
int vrt__kern_err_node(const vrt_node *n, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define KERN_ID(x) (x)

/* Type lists for generating typed loops:
 *   X(dtype, storage type, compute type, load, store, suffix) */
#define KERN_FLOAT_TYPES(X)                                              \
  X(VRT_F32, float, float, KERN_ID, KERN_ID, f32)                          \
  X(VRT_F64, double, double, KERN_ID, KERN_ID, f64)                        \
  X(VRT_F16, uint16_t, float, vrt__f16_to_f32, vrt__f32_to_f16, f16)   \
  X(VRT_BF16, uint16_t, float, vrt__bf16_to_f32, vrt__f32_to_bf16, bf16)
#define KERN_SINT_TYPES(X)                       \
  X(VRT_I8, int8_t, int8_t, KERN_ID, KERN_ID, i8)    \
  X(VRT_I16, int16_t, int16_t, KERN_ID, KERN_ID, i16) \
  X(VRT_I32, int32_t, int32_t, KERN_ID, KERN_ID, i32) \
  X(VRT_I64, int64_t, int64_t, KERN_ID, KERN_ID, i64)
#define KERN_UINT_TYPES(X)                          \
  X(VRT_U8, uint8_t, uint8_t, KERN_ID, KERN_ID, u8)     \
  X(VRT_U16, uint16_t, uint16_t, KERN_ID, KERN_ID, u16) \
  X(VRT_U32, uint32_t, uint32_t, KERN_ID, KERN_ID, u32) \
  X(VRT_U64, uint64_t, uint64_t, KERN_ID, KERN_ID, u64)
#define KERN_INT_TYPES(X) KERN_SINT_TYPES(X) KERN_UINT_TYPES(X)

/* Number of dtype slots in per-dtype kernel tables (VRT_BF16 is the largest). */
#define KERN_NDT 17

static inline bool kern_is_float(vrt_dtype t) {
  return t == VRT_F32 || t == VRT_F64 || t == VRT_F16 || t == VRT_BF16;
}
static inline bool kern_is_int(vrt_dtype t) {
  return t == VRT_I8 || t == VRT_I16 || t == VRT_I32 || t == VRT_I64 || t == VRT_U8 || t == VRT_U16 ||
         t == VRT_U32 || t == VRT_U64;
}
static inline bool kern_is_index(vrt_dtype t) { return t == VRT_I32 || t == VRT_I64; }

/* Required inputs 0..count-1 must be present (a malformed graph can omit
 * one in the middle); VRT_EGRAPH naming the node otherwise. */
int vrt__kern_need(const vrt_node *n, const vrt_tensor *const *in, int nin, int count);
#define KERN_NEED(count)                           \
  do {                                           \
    int rc_ = vrt__kern_need(n, in, nin, (count));      \
    if (rc_ < 0) return rc_;                     \
  } while (0)

/* Normalise axis into [0, rank); VRT_EINVAL naming the node if out of range. */
int vrt__kern_axis(const vrt_node *n, int64_t axis, int rank, int *out);
/* mask[0..rank) = whether the axis is one of axes[0..na) (each normalised);
 * VRT_EINVAL naming the node for an axis out of range or repeated. */
int vrt__kern_axes_mask(const vrt_node *n, const int64_t *axes, int na, int rank, bool *mask);

/* Read a 0-D/1-D integer tensor into out[0..max). Returns the count, or
 * VRT_ENEEDDATA if its data is not known yet, or an error naming the node. */
int vrt__kern_read_ints(const vrt_node *n, const vrt_tensor *t, const char *what, int64_t *out, int max);

/* Set an output's shape. */
static inline void kern_set_shape(vrt_tensor *o, vrt_dtype dt, int ndim, const int64_t *dims) {
  o->dtype = dt;
  o->ndim = ndim;
  for (int i = 0; i < ndim; i++) o->dims[i] = dims[i];
}

/* Broadcasting engine (binary.c). Calls row(ctx, out_row, in_rows, in_strides,
 * n) once per contiguous run of the output, after collapsing dims; in_strides
 * are 0 (broadcast) or 1. out has its final shape; every input must be
 * broadcastable to it (unidirectionally). nin <= 3. */
typedef void (*vrt__kern_row_fn)(void *ctx, void *o, const void *const *p, const int64_t *s, int64_t n);
int vrt__kern_broadcast(const vrt_node *n, vrt_tensor *out, const vrt_tensor *const *in, int nin, vrt__kern_row_fn row,
                 void *ctx);
/* out = in broadcast to out's shape (any dtype; Expand, variadic ops). */
int vrt__kern_broadcast_copy(const vrt_node *n, vrt_tensor *out, const vrt_tensor *in);

/* Transpose src (dims, ndim) into dst by perm, elements of esize bytes
 * (shape_transpose.c). perm must be a valid permutation. */
void vrt__kern_transpose(void *dst, const void *src, size_t esize, int ndim, const int64_t *dims, const int *perm);

/* Convert count elements from src (dtype st) into dst (dtype dt): ONNX Cast
 * semantics (float->int truncates and saturates, NaN -> 0; ->bool is != 0).
 * Returns VRT_ETYPE for unsupported dtypes (unary.c). */
int vrt__kern_cast(void *dst, vrt_dtype dt, const void *src, vrt_dtype st, int64_t count);

/* dst (dense, dims odims[0..ndim)) = src viewed with element strides
 * sstr[] starting at element offset base. Strides may be 0 or negative
 * (shape_transpose.c). The Transpose, Slice, StridedSlice workhorse. */
void vrt__kern_strided_gather(void *dst, const void *src, size_t es, int ndim, const int64_t *odims, const int64_t *sstr,
                       int64_t base);

/* Copy count elements of size es (1,2,4,8) with a source stride; typed loops. */
void vrt__kern_strided_copy(void *dst, const void *src, size_t es, int64_t count, int64_t src_stride);

#endif
