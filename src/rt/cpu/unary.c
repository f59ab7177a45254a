/* CPU reference kernels: the "unary" family of ops.def (elementwise math,
 * activations, Clip, Cast/CastLike, Identity, Dropout) and the family table.
 * Each op has one typed loop per dtype, picked once per call. */
#include <stdlib.h>
#include <tgmath.h>

#include "shape_util.h"

typedef struct unary_params {
  float alpha, beta, gamma, lambd, bias;
  int approx_tanh;            /* Gelu */
  int detect_neg, detect_pos; /* IsInf */
} unary_params;

typedef void (*unary_fn)(void *o, const void *x, int64_t n, const unary_params *P);

/* One typed loop: v is the element in compute type ct; EXPR its result. */
#define UNARY_ONE(NAME, T, CT, LD, ST, SFX, OT, OST, EXPR)                              \
  static void NAME##_##SFX(void *o_, const void *x_, int64_t n, const unary_params *P) { \
    typedef CT ct;                                                                     \
    OT *o = o_;                                                                        \
    const T *x = x_;                                                                   \
    (void)P;                                                                           \
    for (int64_t i = 0; i < n; i++) {                                                  \
      ct v = LD(x[i]);                                                                 \
      o[i] = OST(EXPR);                                                                \
    }                                                                                  \
  }

#define F32_TO_F16(x) vrt__f32_to_f16((float)(x))
#define F32_TO_BF16(x) vrt__f32_to_bf16((float)(x))
#define UNARY_FLOAT(NAME, EXPR)                                                             \
  UNARY_ONE(NAME, float, float, KERN_ID, KERN_ID, f32, float, (float), EXPR)                    \
  UNARY_ONE(NAME, double, double, KERN_ID, KERN_ID, f64, double, (double), EXPR)                \
  UNARY_ONE(NAME, uint16_t, float, vrt__f16_to_f32, KERN_ID, f16, uint16_t, F32_TO_F16, EXPR) \
  UNARY_ONE(NAME, uint16_t, float, vrt__bf16_to_f32, KERN_ID, bf16, uint16_t, F32_TO_BF16, EXPR)
#define UNARY_FLOAT_BOOL(NAME, EXPR)                                                \
  UNARY_ONE(NAME, float, float, KERN_ID, KERN_ID, f32, uint8_t, (uint8_t), EXPR)        \
  UNARY_ONE(NAME, double, double, KERN_ID, KERN_ID, f64, uint8_t, (uint8_t), EXPR)      \
  UNARY_ONE(NAME, uint16_t, float, vrt__f16_to_f32, KERN_ID, f16, uint8_t, (uint8_t), EXPR) \
  UNARY_ONE(NAME, uint16_t, float, vrt__bf16_to_f32, KERN_ID, bf16, uint8_t, (uint8_t), EXPR)
#define UNARY_SINT(NAME, EXPR)                                               \
  UNARY_ONE(NAME, int8_t, int8_t, KERN_ID, KERN_ID, i8, int8_t, (int8_t), EXPR)     \
  UNARY_ONE(NAME, int16_t, int16_t, KERN_ID, KERN_ID, i16, int16_t, (int16_t), EXPR) \
  UNARY_ONE(NAME, int32_t, int32_t, KERN_ID, KERN_ID, i32, int32_t, (int32_t), EXPR) \
  UNARY_ONE(NAME, int64_t, int64_t, KERN_ID, KERN_ID, i64, int64_t, (int64_t), EXPR)
#define UNARY_UINT(NAME, EXPR)                                                     \
  UNARY_ONE(NAME, uint8_t, uint8_t, KERN_ID, KERN_ID, u8, uint8_t, (uint8_t), EXPR)       \
  UNARY_ONE(NAME, uint16_t, uint16_t, KERN_ID, KERN_ID, u16, uint16_t, (uint16_t), EXPR) \
  UNARY_ONE(NAME, uint32_t, uint32_t, KERN_ID, KERN_ID, u32, uint32_t, (uint32_t), EXPR) \
  UNARY_ONE(NAME, uint64_t, uint64_t, KERN_ID, KERN_ID, u64, uint64_t, (uint64_t), EXPR)

#define FLOAT_FNS(NAME) \
  [VRT_F32] = NAME##_f32, [VRT_F64] = NAME##_f64, [VRT_F16] = NAME##_f16, [VRT_BF16] = NAME##_bf16
#define SINT_FNS(NAME) [VRT_I8] = NAME##_i8, [VRT_I16] = NAME##_i16, [VRT_I32] = NAME##_i32, [VRT_I64] = NAME##_i64
#define UINT_FNS(NAME) [VRT_U8] = NAME##_u8, [VRT_U16] = NAME##_u16, [VRT_U32] = NAME##_u32, [VRT_U64] = NAME##_u64

/* two's complement negation without signed overflow */
#define NEG_WRAP(v) ((ct)(0 - (uint64_t)(v)))
#define CLAMP01(x) ((x) < 0 ? 0 : (x) > 1 ? 1 : (x))
#define SOFTPLUS(v) ((v) > 0 ? (v) + log1p(exp(-(v))) : log1p(exp(v)))

UNARY_FLOAT(op_abs, fabs(v))
UNARY_SINT(op_abs, (v < 0 ? NEG_WRAP(v) : v))
UNARY_UINT(op_abs, v)
UNARY_FLOAT(op_neg, -v)
UNARY_SINT(op_neg, NEG_WRAP(v))
UNARY_FLOAT(op_sign, (v > 0 ? (ct)1 : v < 0 ? (ct)-1 : v))
UNARY_SINT(op_sign, (v > 0 ? 1 : v < 0 ? -1 : 0))
UNARY_UINT(op_sign, (v > 0 ? 1 : 0))
UNARY_FLOAT(op_relu, (v < 0 ? (ct)0 : v))
UNARY_SINT(op_relu, (v < 0 ? 0 : v))
UNARY_FLOAT(op_acos, acos(v))
UNARY_FLOAT(op_acosh, acosh(v))
UNARY_FLOAT(op_asin, asin(v))
UNARY_FLOAT(op_asinh, asinh(v))
UNARY_FLOAT(op_atan, atan(v))
UNARY_FLOAT(op_atanh, atanh(v))
UNARY_FLOAT(op_ceil, ceil(v))
UNARY_FLOAT(op_cos, cos(v))
UNARY_FLOAT(op_cosh, cosh(v))
UNARY_FLOAT(op_erf, erf(v))
UNARY_FLOAT(op_exp, exp(v))
UNARY_FLOAT(op_floor, floor(v))
UNARY_FLOAT(op_log, log(v))
UNARY_FLOAT(op_reciprocal, ((ct)1 / v))
UNARY_FLOAT(op_round, rint(v))
UNARY_FLOAT(op_sin, sin(v))
UNARY_FLOAT(op_sinh, sinh(v))
UNARY_FLOAT(op_sqrt, sqrt(v))
UNARY_FLOAT(op_tan, tan(v))
UNARY_FLOAT(op_tanh, tanh(v))
UNARY_FLOAT(op_sigmoid, (v >= 0 ? (ct)1 / ((ct)1 + exp(-v)) : exp(v) / ((ct)1 + exp(v))))
UNARY_FLOAT(op_leakyrelu, (v < 0 ? (ct)P->alpha * v : v))
UNARY_FLOAT(op_elu, (v < 0 ? (ct)P->alpha * (exp(v) - (ct)1) : v))
UNARY_FLOAT(op_selu, (v > 0 ? (ct)P->gamma * v : (ct)P->gamma * ((ct)P->alpha * exp(v) - (ct)P->alpha)))
UNARY_FLOAT(op_celu, (v > 0 ? v : (ct)P->alpha * (exp(v / (ct)P->alpha) - (ct)1)))
UNARY_FLOAT(op_hardsigmoid, CLAMP01((ct)P->alpha * v + (ct)P->beta))
UNARY_FLOAT(op_hardswish, (v * CLAMP01(v / (ct)6 + (ct)0.5)))
UNARY_FLOAT(op_softplus, SOFTPLUS(v))
UNARY_FLOAT(op_softsign, (v / ((ct)1 + fabs(v))))
UNARY_FLOAT(op_mish, (v * tanh(SOFTPLUS(v))))
UNARY_FLOAT(op_gelu, (P->approx_tanh ? (ct)0.5 * v * ((ct)1 + tanh((ct)0.7978845608028654 * (v + (ct)0.044715 * v * v * v)))
                                     : (ct)0.5 * v * ((ct)1 + erf(v * (ct)0.7071067811865476))))
UNARY_FLOAT(op_thresholdedrelu, (v > (ct)P->alpha ? v : (ct)0))
UNARY_FLOAT(op_shrink, (v < -(ct)P->lambd ? v + (ct)P->bias : v > (ct)P->lambd ? v - (ct)P->bias : (ct)0))
UNARY_FLOAT_BOOL(op_isnan, isnan(v))
UNARY_FLOAT_BOOL(op_isinf, (isinf(v) && ((v > 0 && P->detect_pos) || (v < 0 && P->detect_neg))))
UNARY_ONE(op_not, uint8_t, uint8_t, KERN_ID, KERN_ID, b, uint8_t, (uint8_t), !v)

typedef struct {
  int op;
  bool bool_out;
  unary_fn fn[KERN_NDT];
} unary_kernels;

static const unary_kernels unary_tab[] = {
    {VRT_OP_Abs, 0, {FLOAT_FNS(op_abs), SINT_FNS(op_abs), UINT_FNS(op_abs)}},
    {VRT_OP_Neg, 0, {FLOAT_FNS(op_neg), SINT_FNS(op_neg)}},
    {VRT_OP_Sign, 0, {FLOAT_FNS(op_sign), SINT_FNS(op_sign), UINT_FNS(op_sign)}},
    {VRT_OP_Relu, 0, {FLOAT_FNS(op_relu), SINT_FNS(op_relu)}},
    {VRT_OP_Acos, 0, {FLOAT_FNS(op_acos)}},
    {VRT_OP_Acosh, 0, {FLOAT_FNS(op_acosh)}},
    {VRT_OP_Asin, 0, {FLOAT_FNS(op_asin)}},
    {VRT_OP_Asinh, 0, {FLOAT_FNS(op_asinh)}},
    {VRT_OP_Atan, 0, {FLOAT_FNS(op_atan)}},
    {VRT_OP_Atanh, 0, {FLOAT_FNS(op_atanh)}},
    {VRT_OP_Ceil, 0, {FLOAT_FNS(op_ceil)}},
    {VRT_OP_Cos, 0, {FLOAT_FNS(op_cos)}},
    {VRT_OP_Cosh, 0, {FLOAT_FNS(op_cosh)}},
    {VRT_OP_Erf, 0, {FLOAT_FNS(op_erf)}},
    {VRT_OP_Exp, 0, {FLOAT_FNS(op_exp)}},
    {VRT_OP_Floor, 0, {FLOAT_FNS(op_floor)}},
    {VRT_OP_Log, 0, {FLOAT_FNS(op_log)}},
    {VRT_OP_Reciprocal, 0, {FLOAT_FNS(op_reciprocal)}},
    {VRT_OP_Round, 0, {FLOAT_FNS(op_round)}},
    {VRT_OP_Sin, 0, {FLOAT_FNS(op_sin)}},
    {VRT_OP_Sinh, 0, {FLOAT_FNS(op_sinh)}},
    {VRT_OP_Sqrt, 0, {FLOAT_FNS(op_sqrt)}},
    {VRT_OP_Tan, 0, {FLOAT_FNS(op_tan)}},
    {VRT_OP_Tanh, 0, {FLOAT_FNS(op_tanh)}},
    {VRT_OP_Sigmoid, 0, {FLOAT_FNS(op_sigmoid)}},
    {VRT_OP_LeakyRelu, 0, {FLOAT_FNS(op_leakyrelu)}},
    {VRT_OP_Elu, 0, {FLOAT_FNS(op_elu)}},
    {VRT_OP_Selu, 0, {FLOAT_FNS(op_selu)}},
    {VRT_OP_Celu, 0, {FLOAT_FNS(op_celu)}},
    {VRT_OP_HardSigmoid, 0, {FLOAT_FNS(op_hardsigmoid)}},
    {VRT_OP_HardSwish, 0, {FLOAT_FNS(op_hardswish)}},
    {VRT_OP_Softplus, 0, {FLOAT_FNS(op_softplus)}},
    {VRT_OP_Softsign, 0, {FLOAT_FNS(op_softsign)}},
    {VRT_OP_Mish, 0, {FLOAT_FNS(op_mish)}},
    {VRT_OP_Gelu, 0, {FLOAT_FNS(op_gelu)}},
    {VRT_OP_ThresholdedRelu, 0, {FLOAT_FNS(op_thresholdedrelu)}},
    {VRT_OP_Shrink, 0, {FLOAT_FNS(op_shrink)}},
    {VRT_OP_IsNaN, 1, {FLOAT_FNS(op_isnan)}},
    {VRT_OP_IsInf, 1, {FLOAT_FNS(op_isinf)}},
    {VRT_OP_Not, 1, {[VRT_BOOL] = op_not_b}},
};

static const unary_kernels *unary_find(int op) {
  for (size_t i = 0; i < sizeof unary_tab / sizeof unary_tab[0]; i++)
    if (unary_tab[i].op == op) return &unary_tab[i];
  return NULL;
}

static int unary_prepare(vrt_node *n) {
  unary_params *p = calloc(1, sizeof *p);
  if (!p) return KERN_ERR(n, VRT_ENOMEM, "out of memory");
  float alpha = 1.0f, beta = 0.5f;
  switch (n->op) {
    case VRT_OP_LeakyRelu: alpha = 0.01f; break;
    case VRT_OP_Selu: alpha = 1.67326319217681884765625f; break;
    case VRT_OP_HardSigmoid: alpha = 0.2f; break;
    default: break;
  }
  p->alpha = vrt_attr_float(n, "alpha", alpha);
  p->beta = vrt_attr_float(n, "beta", beta);
  p->gamma = vrt_attr_float(n, "gamma", 1.05070102214813232421875f);
  p->lambd = vrt_attr_float(n, "lambd", 0.5f);
  p->bias = vrt_attr_float(n, "bias", 0.0f);
  p->detect_neg = (int)vrt_attr_int(n, "detect_negative", 1);
  p->detect_pos = (int)vrt_attr_int(n, "detect_positive", 1);
  const char *approx = vrt_attr_string(n, "approximate", "none");
  p->approx_tanh = strcmp(approx, "tanh") == 0;
  if (!p->approx_tanh && strcmp(approx, "none") != 0) {
    free(p);
    return KERN_ERR(n, VRT_EINVAL, "unknown approximate '%s'", approx);
  }
  if (n->op == VRT_OP_Celu && p->alpha == 0) {
    free(p);
    return KERN_ERR(n, VRT_EINVAL, "alpha must not be 0");
  }
  n->params = p;
  n->params_free = free;
  return 0;
}

static int same_shape_out(vrt_tensor *out, const vrt_tensor *x, vrt_dtype dt) {
  kern_set_shape(out, dt, x->ndim, x->dims);
  return 0;
}

static int unary_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(1);
  const unary_kernels *k = unary_find(n->op);
  vrt_dtype dt = in[0]->dtype;
  if (!k || dt < 0 || dt >= KERN_NDT || !k->fn[dt])
    return KERN_ERR(n, VRT_ETYPE, "dtype %s not supported", vrt_dtype_name(dt));
  return same_shape_out(&out[0], in[0], k->bool_out ? VRT_BOOL : dt);
}

static int unary_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                      vrt_exec_ctx *x) {
  const unary_kernels *k = unary_find(n->op);
  unary_params dflt = {0};
  const unary_params *p = n->params ? n->params : &dflt;
  k->fn[in[0]->dtype](out[0].data, in[0]->data, vrt_tensor_numel(in[0]), p);
  return 0;
}

#define UNARY_DEF(Name)                                                                              \
  const vrt_opdef vrt__op_##Name = {VRT_OP_##Name, unary_prepare, unary_infer, unary_exec, 0, 1, 1};
UNARY_DEF(Abs) UNARY_DEF(Neg) UNARY_DEF(Sign) UNARY_DEF(Relu) UNARY_DEF(Acos) UNARY_DEF(Acosh)
UNARY_DEF(Asin) UNARY_DEF(Asinh) UNARY_DEF(Atan) UNARY_DEF(Atanh) UNARY_DEF(Ceil) UNARY_DEF(Cos)
UNARY_DEF(Cosh) UNARY_DEF(Erf) UNARY_DEF(Exp) UNARY_DEF(Floor) UNARY_DEF(Log) UNARY_DEF(Reciprocal)
UNARY_DEF(Round) UNARY_DEF(Sin) UNARY_DEF(Sinh) UNARY_DEF(Sqrt) UNARY_DEF(Tan) UNARY_DEF(Tanh)
UNARY_DEF(Sigmoid) UNARY_DEF(LeakyRelu) UNARY_DEF(Elu) UNARY_DEF(Selu) UNARY_DEF(Celu)
UNARY_DEF(HardSigmoid) UNARY_DEF(HardSwish) UNARY_DEF(Softplus) UNARY_DEF(Softsign) UNARY_DEF(Mish)
UNARY_DEF(Gelu) UNARY_DEF(ThresholdedRelu) UNARY_DEF(Shrink) UNARY_DEF(IsNaN) UNARY_DEF(IsInf)
UNARY_DEF(Not)

/* ---- Clip: bounds from inputs 1/2 (opset >= 11) or min/max attributes ---- */

#define CLIP_ONE(DT, T, CT, LD, ST, SFX)                                                         \
  static void clip_##SFX(void *o_, const void *x_, int64_t n, const void *lo_, const void *hi_) { \
    T *o = o_;                                                                                   \
    const T *x = x_;                                                                             \
    bool has_lo = lo_ != NULL, has_hi = hi_ != NULL;                                             \
    CT lo = has_lo ? LD(*(const T *)lo_) : (CT)0, hi = has_hi ? LD(*(const T *)hi_) : (CT)0;     \
    for (int64_t i = 0; i < n; i++) {                                                            \
      CT v = LD(x[i]);                                                                           \
      if (has_lo && v < lo) v = lo;                                                              \
      if (has_hi && v > hi) v = hi;                                                              \
      o[i] = ST(v);                                                                              \
    }                                                                                            \
  }
KERN_FLOAT_TYPES(CLIP_ONE)
KERN_INT_TYPES(CLIP_ONE)

typedef void (*clip_fn)(void *o, const void *x, int64_t n, const void *lo, const void *hi);
#define CLIP_ROW(DT, T, CT, LD, ST, SFX) [DT] = clip_##SFX,
static const clip_fn clip_tab[KERN_NDT] = {KERN_FLOAT_TYPES(CLIP_ROW) KERN_INT_TYPES(CLIP_ROW)};

static int clip_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(1);
  vrt_dtype dt = in[0]->dtype;
  if (dt < 0 || dt >= KERN_NDT || !clip_tab[dt]) return KERN_ERR(n, VRT_ETYPE, "dtype %s not supported", vrt_dtype_name(dt));
  for (int i = 1; i < nin && i < 3; i++) {
    if (!in[i]) continue;
    if (in[i]->dtype != dt) return KERN_ERR(n, VRT_ETYPE, "bound %d has dtype %s, input %s", i, vrt_dtype_name(in[i]->dtype), vrt_dtype_name(dt));
    if (vrt_tensor_numel(in[i]) != 1) return KERN_ERR(n, VRT_ESHAPE, "bound %d must have one element", i);
  }
  return same_shape_out(&out[0], in[0], dt);
}

static int clip_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                     vrt_exec_ctx *x) {
  vrt_dtype dt = in[0]->dtype;
  const void *lo = nin > 1 && in[1] ? in[1]->data : NULL;
  const void *hi = nin > 2 && in[2] ? in[2]->data : NULL;
  union { float f; double d; uint16_t h; } alo, ahi;
  /* opset < 11: float attributes (the loaders may leave them) */
  const vrt_attr *amin = vrt_node_attr(n, "min"), *amax = vrt_node_attr(n, "max");
  if ((amin && !lo) || (amax && !hi)) {
    if (!kern_is_float(dt)) return KERN_ERR(n, VRT_ETYPE, "min/max attributes need a float input");
    if (amin && !lo) { vrt__kern_cast(&alo, dt, &amin->f, VRT_F32, 1); lo = &alo; }
    if (amax && !hi) { vrt__kern_cast(&ahi, dt, &amax->f, VRT_F32, 1); hi = &ahi; }
  }
  clip_tab[dt](out[0].data, in[0]->data, vrt_tensor_numel(in[0]), lo, hi);
  return 0;
}

const vrt_opdef vrt__op_Clip = {VRT_OP_Clip, NULL, clip_infer, clip_exec, 0, 1, 3};

/* ---- Identity, Dropout (inference: copy; mask all true) ---- */

static int identity_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(1);
  if (vrt_dtype_size(in[0]->dtype) == 0) return KERN_ERR(n, VRT_ETYPE, "dtype %s not supported", vrt_dtype_name(in[0]->dtype));
  same_shape_out(&out[0], in[0], in[0]->dtype);
  if (nout > 1) same_shape_out(&out[1], in[0], VRT_BOOL); /* Dropout mask */
  return 0;
}

static int identity_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                         vrt_exec_ctx *x) {
  if (n->op == VRT_OP_Dropout && nin > 2 && in[2] && in[2]->data && vrt__get_i64(in[2], 0)) {
    double ratio = nin > 1 && in[1] && in[1]->data ? vrt__get_f64(in[1], 0) : 0.5;
    if (ratio != 0) return KERN_ERR(n, VRT_EUNSUPPORTED, "training-mode dropout is not supported");
  }
  size_t bytes = out[0].nbytes;
  if (out[0].data != in[0]->data && bytes) memmove(out[0].data, in[0]->data, bytes);
  if (nout > 1 && out[1].data) memset(out[1].data, 1, out[1].nbytes);
  return 0;
}

const vrt_opdef vrt__op_Identity = {VRT_OP_Identity, NULL, identity_infer, identity_exec, VRT_OPF_ALIAS_IN0, 1, 1};
const vrt_opdef vrt__op_Dropout = {VRT_OP_Dropout, NULL, identity_infer, identity_exec, VRT_OPF_ALIAS_IN0, 1, 3};

/* ---- Cast ----
 * Two stages per chunk: load the source into int64 (integer/bool sources) or
 * double (float sources), then store into the destination type. Integer
 * values never pass through double, so 64-bit values survive exactly. */

#define CAST_CHUNK 512

#define LOAD_I(DT, T, CT, LD, ST, SFX) \
  static void load_##SFX(int64_t *d, const void *s, int64_t n) { const T *x = s; for (int64_t i = 0; i < n; i++) d[i] = (int64_t)x[i]; }
#define LOAD_F(DT, T, CT, LD, ST, SFX) \
  static void load_##SFX(double *d, const void *s, int64_t n) { const T *x = s; for (int64_t i = 0; i < n; i++) d[i] = (double)LD(x[i]); }
KERN_INT_TYPES(LOAD_I)
KERN_FLOAT_TYPES(LOAD_F)

/* saturating double -> integer; NaN -> 0 */
#define STORE_I(SFX, T, MIN, MAX)                                                        \
  static void store_i_##SFX(void *d_, const int64_t *s, int64_t n) {                     \
    T *d = d_;                                                                           \
    for (int64_t i = 0; i < n; i++) d[i] = (T)s[i];                                      \
  }                                                                                      \
  static void store_f_##SFX(void *d_, const double *s, int64_t n) {                      \
    T *d = d_;                                                                           \
    for (int64_t i = 0; i < n; i++) {                                                    \
      double v = s[i];                                                                   \
      d[i] = v != v ? (T)0 : v <= (double)MIN ? (T)MIN : v >= (double)MAX ? (T)MAX : (T)v; \
    }                                                                                    \
  }
STORE_I(i8, int8_t, INT8_MIN, INT8_MAX)
STORE_I(i16, int16_t, INT16_MIN, INT16_MAX)
STORE_I(i32, int32_t, INT32_MIN, INT32_MAX)
STORE_I(i64, int64_t, INT64_MIN, INT64_MAX)
STORE_I(u8, uint8_t, 0, UINT8_MAX)
STORE_I(u16, uint16_t, 0, UINT16_MAX)
STORE_I(u32, uint32_t, 0, UINT32_MAX)
STORE_I(u64, uint64_t, 0, UINT64_MAX)
#define STORE_F(DT, T, CT, LD, ST, SFX)                                                                              \
  static void store_i_##SFX(void *d_, const int64_t *s, int64_t n) { T *d = d_; for (int64_t i = 0; i < n; i++) d[i] = ST((CT)s[i]); } \
  static void store_f_##SFX(void *d_, const double *s, int64_t n) { T *d = d_; for (int64_t i = 0; i < n; i++) d[i] = ST((CT)s[i]); }
/* float -> bfloat16 in Cast truncates the low mantissa bits, as the ONNX
 * reference (and its node test data) does; NaN stays a quiet NaN. */
static inline uint16_t bf16_trunc(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)(((x >> 16) & 0x8000u) | 0x7fc0u);
  return (uint16_t)(x >> 16);
}
#define CAST_FLOAT_TYPES(X)                                  \
  X(VRT_F32, float, float, KERN_ID, KERN_ID, f32)                \
  X(VRT_F64, double, double, KERN_ID, KERN_ID, f64)              \
  X(VRT_F16, uint16_t, float, vrt__f16_to_f32, vrt__f32_to_f16, f16) \
  X(VRT_BF16, uint16_t, float, vrt__bf16_to_f32, bf16_trunc, bf16)
CAST_FLOAT_TYPES(STORE_F)
static void store_i_b(void *d_, const int64_t *s, int64_t n) { uint8_t *d = d_; for (int64_t i = 0; i < n; i++) d[i] = s[i] != 0; }
static void store_f_b(void *d_, const double *s, int64_t n) { uint8_t *d = d_; for (int64_t i = 0; i < n; i++) d[i] = s[i] != 0; }

typedef void (*load_i_fn)(int64_t *d, const void *s, int64_t n);
typedef void (*load_f_fn)(double *d, const void *s, int64_t n);
typedef void (*store_i_fn)(void *d, const int64_t *s, int64_t n);
typedef void (*store_f_fn)(void *d, const double *s, int64_t n);

#define ROW_LOAD(DT, T, CT, LD, ST, SFX) [DT] = load_##SFX,
#define ROW_STORE_I(DT, T, CT, LD, ST, SFX) [DT] = store_i_##SFX,
#define ROW_STORE_F(DT, T, CT, LD, ST, SFX) [DT] = store_f_##SFX,
static const load_i_fn load_i_tab[KERN_NDT] = {KERN_INT_TYPES(ROW_LOAD)[VRT_BOOL] = load_u8};
static const load_f_fn load_f_tab[KERN_NDT] = {KERN_FLOAT_TYPES(ROW_LOAD)};
static const store_i_fn store_i_tab[KERN_NDT] = {KERN_INT_TYPES(ROW_STORE_I) KERN_FLOAT_TYPES(ROW_STORE_I)[VRT_BOOL] = store_i_b};
static const store_f_fn store_f_tab[KERN_NDT] = {KERN_INT_TYPES(ROW_STORE_F) KERN_FLOAT_TYPES(ROW_STORE_F)[VRT_BOOL] = store_f_b};

static bool cast_supported(vrt_dtype t) { return t >= 0 && t < KERN_NDT && store_i_tab[t]; }

int vrt__kern_cast(void *dst, vrt_dtype dt, const void *src, vrt_dtype st, int64_t count) {
  if (!cast_supported(dt) || !cast_supported(st)) return VRT_ETYPE;
  size_t des = vrt_dtype_size(dt), ses = vrt_dtype_size(st);
  if (dt == st) {
    if (dst != src) memmove(dst, src, (size_t)count * des);
    return 0;
  }
  union { int64_t i[CAST_CHUNK]; double f[CAST_CHUNK]; } buf;
  for (int64_t off = 0; off < count; off += CAST_CHUNK) {
    int64_t m = count - off < CAST_CHUNK ? count - off : CAST_CHUNK;
    const char *s = (const char *)src + off * ses;
    char *d = (char *)dst + off * des;
    if (load_i_tab[st]) {
      load_i_tab[st](buf.i, s, m);
      store_i_tab[dt](d, buf.i, m);
    } else {
      load_f_tab[st](buf.f, s, m);
      store_f_tab[dt](d, buf.f, m);
    }
  }
  return 0;
}

static int cast_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(n->op == VRT_OP_CastLike ? 2 : 1);
  vrt_dtype to;
  if (n->op == VRT_OP_CastLike) {
    to = in[1]->dtype;
  } else {
    const vrt_attr *a = vrt_node_attr(n, "to");
    if (!a) return KERN_ERR(n, VRT_EINVAL, "missing attribute 'to'");
    to = (vrt_dtype)a->i;
  }
  if (!cast_supported(in[0]->dtype) || !cast_supported(to))
    return KERN_ERR(n, VRT_ETYPE, "cast from %s to %s not supported", vrt_dtype_name(in[0]->dtype), vrt_dtype_name(to));
  return same_shape_out(&out[0], in[0], to);
}

static int cast_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                     vrt_exec_ctx *x) {
  int rc = vrt__kern_cast(out[0].data, out[0].dtype, in[0]->data, in[0]->dtype, vrt_tensor_numel(in[0]));
  return rc < 0 ? KERN_ERR(n, rc, "cast failed") : 0;
}

const vrt_opdef vrt__op_Cast = {VRT_OP_Cast, NULL, cast_infer, cast_exec, 0, 1, 1};
const vrt_opdef vrt__op_CastLike = {VRT_OP_CastLike, NULL, cast_infer, cast_exec, 0, 2, 2};

