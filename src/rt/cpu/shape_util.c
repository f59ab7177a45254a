/* Small helpers of the reference kernels (see shape_util.h): node-named
 * errors, axis normalisation, reading integer inputs, strided copies. */
#include "shape_util.h"

#include <stdio.h>
#include <stdlib.h>

int vrt__kern_err_node(const vrt_node *n, int code, const char *fmt, ...) {
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return vrt__err(code, "node '%s' (%s): %s", n->name ? n->name : "?", n->op_type ? n->op_type : "?", msg);
}

int vrt__kern_need(const vrt_node *n, const vrt_tensor *const *in, int nin, int count) {
  for (int i = 0; i < count; i++)
    if (i >= nin || !in[i])
      return KERN_ERR(n, VRT_EGRAPH, "required input %d is missing", i);
  return 0;
}

int vrt__kern_axis(const vrt_node *n, int64_t axis, int rank, int *out) {
  if (axis < -(int64_t)rank || axis >= rank || rank == 0)
    return KERN_ERR(n, VRT_EINVAL, "axis %lld out of range for rank %d", (long long)axis, rank);
  *out = (int)(axis < 0 ? axis + rank : axis);
  return 0;
}

int vrt__kern_axes_mask(const vrt_node *n, const int64_t *axes, int na, int rank, bool *mask) {
  for (int d = 0; d < rank; d++) mask[d] = false;
  for (int i = 0; i < na; i++) {
    int a = 0;
    int rc = vrt__kern_axis(n, axes[i], rank, &a);
    if (rc < 0) return rc;
    if (mask[a]) return KERN_ERR(n, VRT_EINVAL, "axis %lld repeated", (long long)axes[i]);
    mask[a] = true;
  }
  return 0;
}

int vrt__kern_read_ints(const vrt_node *n, const vrt_tensor *t, const char *what, int64_t *out, int max) {
  if (!t) return 0;
  if (!kern_is_int(t->dtype))
    return KERN_ERR(n, VRT_ETYPE, "%s must be an integer tensor, got %s", what, vrt_dtype_name(t->dtype));
  if (t->ndim > 1) return KERN_ERR(n, VRT_ESHAPE, "%s must be 0-D or 1-D, got rank %d", what, t->ndim);
  int64_t cnt = vrt__numel(t->dims, t->ndim);
  if (cnt < 0 || cnt > max) return KERN_ERR(n, VRT_ESHAPE, "%s has %lld values, at most %d allowed", what, (long long)cnt, max);
  if (cnt > 0 && !t->data) return VRT_ENEEDDATA;
  for (int64_t i = 0; i < cnt; i++) out[i] = vrt__get_i64(t, i);
  return (int)cnt;
}

#define STRIDED_COPY(T)                                                   \
  do {                                                                    \
    T *d = dst;                                                           \
    const T *s = src;                                                     \
    if (src_stride == 1) memcpy(d, s, (size_t)count * sizeof(T));         \
    else for (int64_t i = 0; i < count; i++) d[i] = s[i * src_stride];    \
  } while (0)

void vrt__kern_strided_copy(void *dst, const void *src, size_t es, int64_t count, int64_t src_stride) {
  switch (es) {
    case 1: STRIDED_COPY(uint8_t); break;
    case 2: STRIDED_COPY(uint16_t); break;
    case 4: STRIDED_COPY(uint32_t); break;
    case 8: STRIDED_COPY(uint64_t); break;
    default:
      for (int64_t i = 0; i < count; i++) memcpy((char *)dst + i * es, (const char *)src + i * src_stride * es, es);
  }
}
