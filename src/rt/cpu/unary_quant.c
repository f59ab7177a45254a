/* CPU reference kernels for linear (de)quantization: QuantizeLinear,
 * DequantizeLinear (per tensor or per axis) and DynamicQuantizeLinear.
 * Rounding is half to even; results saturate to the integer type. */
#include <math.h>
#include <stdlib.h>

#include "shape_util.h"

/* Scale/zero-point geometry: x viewed as [outer, C, inner] where C is the
 * length of a per-axis scale (1 for a per-tensor scale). */
static int quant_geometry(const vrt_node *n, const vrt_tensor *x, const vrt_tensor *scale, const vrt_tensor *zp,
                          int64_t *outer, int64_t *C, int64_t *inner) {
  int64_t ns = vrt_tensor_numel(scale);
  if (scale->dtype != VRT_F32) return KERN_ERR(n, VRT_ETYPE, "scale must be float32, got %s", vrt_dtype_name(scale->dtype));
  if (scale->ndim > 1) return KERN_ERR(n, VRT_ESHAPE, "scale must be a scalar or 1-D");
  if (zp && vrt_tensor_numel(zp) != ns) return KERN_ERR(n, VRT_ESHAPE, "zero point and scale differ in size");
  *outer = 1, *C = 1, *inner = vrt_tensor_numel(x);
  if (scale->ndim == 1 && ns != 1) {
    int axis;
    int rc = vrt__kern_axis(n, vrt_attr_int(n, "axis", 1), x->ndim, &axis);
    if (rc < 0) return rc;
    if (x->dims[axis] != ns) return KERN_ERR(n, VRT_ESHAPE, "scale has %lld values for axis of %lld", (long long)ns, (long long)x->dims[axis]);
    *outer = vrt__numel(x->dims, axis);
    *C = ns;
    *inner = vrt__numel(x->dims + axis + 1, x->ndim - axis - 1);
  } else if (ns != 1) {
    return KERN_ERR(n, VRT_ESHAPE, "scale must have one value or be 1-D along axis");
  }
  return 0;
}

/* The output dtype: QuantizeLinear float32 / int32 / float16 -> the zero
 * point's 8-bit type (uint8 without one); DequantizeLinear 8-bit or int32
 * (with a zero point of the same type) -> float32. */
static int lin_out_dtype(const vrt_node *n, const vrt_tensor *x, const vrt_tensor *zp, vrt_dtype *od) {
  vrt_dtype dt = x->dtype;
  if (n->op == VRT_OP_DequantizeLinear) {
    if (dt != VRT_U8 && dt != VRT_I8 && dt != VRT_I32) return KERN_ERR(n, VRT_ETYPE, "input dtype %s not supported", vrt_dtype_name(dt));
    if (zp && zp->dtype != dt) return KERN_ERR(n, VRT_ETYPE, "zero point dtype differs from input");
    *od = VRT_F32;
    return 0;
  }
  *od = zp ? zp->dtype : VRT_U8;
  if (*od != VRT_U8 && *od != VRT_I8) return KERN_ERR(n, VRT_ETYPE, "zero point must be uint8 or int8");
  if (dt != VRT_F32 && dt != VRT_I32 && dt != VRT_F16)
    return KERN_ERR(n, VRT_ETYPE, "input dtype %s not supported", vrt_dtype_name(dt));
  return 0;
}

/* QuantizeLinear and DequantizeLinear. */
static int lin_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(2);
  const vrt_tensor *zp = nin > 2 ? in[2] : NULL;
  vrt_dtype od = VRT_F32;
  int64_t o, c, i;
  int rc = lin_out_dtype(n, in[0], zp, &od);
  if (rc == 0) rc = quant_geometry(n, in[0], in[1], zp, &o, &c, &i);
  if (rc == 0) kern_set_shape(out, od, in[0]->ndim, in[0]->dims);
  return rc;
}

#define QUANT_LOOP(T, LO, HI)                                                     \
  do {                                                                            \
    T *y = out->data;                                                             \
    for (int64_t ob = 0; ob < outer; ob++)                                        \
      for (int64_t c = 0; c < C; c++) {                                           \
        float s = sc[c];                                                          \
        int32_t z = zp ? (int32_t)vrt__get_i64(zp, c) : 0;                        \
        const float *px = xf + (ob * C + c) * inner;                              \
        T *py = y + (ob * C + c) * inner;                                         \
        for (int64_t i = 0; i < inner; i++) {                                     \
          float v = rintf(px[i] / s) + (float)z;                                  \
          py[i] = (T)(v != v ? z : v < (LO) ? (LO) : v > (HI) ? (HI) : v);        \
        }                                                                         \
      }                                                                           \
  } while (0)

#define DEQUANT_LOOP(T)                                                           \
  do {                                                                            \
    const T *px0 = in[0]->data;                                                   \
    float *y = out->data;                                                         \
    for (int64_t ob = 0; ob < outer; ob++)                                        \
      for (int64_t c = 0; c < C; c++) {                                           \
        float s = sc[c];                                                          \
        int64_t z = zp ? vrt__get_i64(zp, c) : 0;                                 \
        const T *px = px0 + (ob * C + c) * inner;                                 \
        float *py = y + (ob * C + c) * inner;                                     \
        for (int64_t i = 0; i < inner; i++) py[i] = (float)((int64_t)px[i] - z) * s; \
      }                                                                           \
  } while (0)

static int lin_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                    vrt_exec_ctx *x) {
  const vrt_tensor *zp = nin > 2 ? in[2] : NULL;
  int64_t outer, C, inner;
  int rc = quant_geometry(n, in[0], in[1], zp, &outer, &C, &inner);
  if (rc < 0) return rc;
  const float *sc = in[1]->data;
  if (n->op == VRT_OP_DequantizeLinear) {
    switch (in[0]->dtype) {
      case VRT_U8: DEQUANT_LOOP(uint8_t); break;
      case VRT_I8: DEQUANT_LOOP(int8_t); break;
      default: DEQUANT_LOOP(int32_t); break;
    }
    return 0;
  }
  int64_t cnt = vrt_tensor_numel(in[0]);
  const float *xf = in[0]->data;
  if (in[0]->dtype != VRT_F32) { /* int32 / float16 inputs: widen once */
    float *buf = x->scratch(x, sizeof(float) * (size_t)(cnt ? cnt : 1));
    if (!buf) return KERN_ERR(n, VRT_ENOMEM, "out of memory");
    vrt__kern_cast(buf, VRT_F32, in[0]->data, in[0]->dtype, cnt);
    xf = buf;
  }
  if (out->dtype == VRT_U8) QUANT_LOOP(uint8_t, 0, 255);
  else QUANT_LOOP(int8_t, -128, 127);
  return 0;
}

/* DynamicQuantizeLinear(x) -> y uint8, y_scale, y_zero_point over [0, 255] */
static int dyn_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(1);
  if (in[0]->dtype != VRT_F32) return KERN_ERR(n, VRT_ETYPE, "input must be float32");
  kern_set_shape(&out[0], VRT_U8, in[0]->ndim, in[0]->dims);
  if (nout > 1) kern_set_shape(&out[1], VRT_F32, 0, NULL);
  if (nout > 2) kern_set_shape(&out[2], VRT_U8, 0, NULL);
  return 0;
}

static int dyn_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                    vrt_exec_ctx *x) {
  const float *xf = in[0]->data;
  int64_t cnt = vrt_tensor_numel(in[0]);
  float lo = 0, hi = 0; /* the range always includes 0 */
  for (int64_t i = 0; i < cnt; i++) {
    if (xf[i] < lo) lo = xf[i];
    if (xf[i] > hi) hi = xf[i];
  }
  float scale = (hi - lo) / 255.0f;
  float zpf = scale > 0 ? rintf(0.0f - lo / scale) : 0;
  uint8_t zp = (uint8_t)(zpf < 0 ? 0 : zpf > 255 ? 255 : zpf);
  uint8_t *y = out[0].data;
  for (int64_t i = 0; i < cnt; i++) {
    float v = scale > 0 ? rintf(xf[i] / scale) + (float)zp : (float)zp;
    y[i] = (uint8_t)(v != v ? zp : v < 0 ? 0 : v > 255 ? 255 : v);
  }
  if (nout > 1 && out[1].data) *(float *)out[1].data = scale;
  if (nout > 2 && out[2].data) *(uint8_t *)out[2].data = zp;
  return 0;
}

const vrt_opdef vrt__op_QuantizeLinear = {VRT_OP_QuantizeLinear, NULL, lin_infer, lin_exec, 0, 2, 3};
const vrt_opdef vrt__op_DequantizeLinear = {VRT_OP_DequantizeLinear, NULL, lin_infer, lin_exec, 0, 2, 3};
const vrt_opdef vrt__op_DynamicQuantizeLinear = {VRT_OP_DynamicQuantizeLinear, NULL, dyn_infer, dyn_exec, 0, 1, 1};
