/* CPU reference kernels: the "reduce" family of ops.def (Reduce*, ArgMax,
 * ArgMin, CumSum) and the family table.
 *
 * Every reduction runs on an (outer, red, inner) view: when the reduced axes
 * are one contiguous block that is the input as it lies; otherwise the input
 * is first transposed (into scratch) so the reduced axes come last. The
 * typed loops accumulate a whole inner row at a time (acc[inner]), so the
 * innermost loop is contiguous in memory. Floats accumulate in double. */
#include <stdlib.h>
#include <tgmath.h>

#include "shape_util.h"

typedef struct reduce_params {
  int keepdims, noop_empty, select_last, exclusive, reverse;
  int64_t axis;
  int naxes_attr;
  int64_t axes_attr[VRT_MAX_DIMS];
} reduce_params;

static int reduce_prepare(vrt_node *n) {
  reduce_params *p = calloc(1, sizeof *p);
  if (!p) return KERN_ERR(n, VRT_ENOMEM, "out of memory");
  p->keepdims = (int)vrt_attr_int(n, "keepdims", 1);
  p->noop_empty = (int)vrt_attr_int(n, "noop_with_empty_axes", 0);
  p->select_last = (int)vrt_attr_int(n, "select_last_index", 0);
  p->exclusive = (int)vrt_attr_int(n, "exclusive", 0);
  p->reverse = (int)vrt_attr_int(n, "reverse", 0);
  p->axis = vrt_attr_int(n, "axis", 0);
  const int64_t *ax;
  int na = vrt_attr_ints(n, "axes", &ax);
  if (na > VRT_MAX_DIMS) {
    free(p);
    return KERN_ERR(n, VRT_EINVAL, "too many axes (%d)", na);
  }
  p->naxes_attr = na;
  for (int i = 0; i < na; i++) p->axes_attr[i] = ax[i];
  n->params = p;
  n->params_free = free;
  return 0;
}

static const reduce_params *params_of(const vrt_node *n) {
  static const reduce_params dflt = {.keepdims = 1};
  return n->params ? n->params : &dflt;
}

/* Which axes of in[0] are reduced. Returns 1 when the op is a no-op (empty
 * axes with noop_with_empty_axes), 0 otherwise, or an error. */
static int reduce_axes(const vrt_node *n, const vrt_tensor *const *in, int nin, bool *mask) {
  const reduce_params *p = params_of(n);
  int rank = in[0]->ndim;
  int64_t axes[VRT_MAX_DIMS];
  int na;
  if (nin > 1 && in[1]) {
    na = vrt__kern_read_ints(n, in[1], "axes", axes, VRT_MAX_DIMS);
    if (na < 0) return na;
  } else {
    na = p->naxes_attr;
    memcpy(axes, p->axes_attr, sizeof(int64_t) * (size_t)na);
  }
  if (na > 0) return vrt__kern_axes_mask(n, axes, na, rank, mask);
  for (int d = 0; d < rank; d++) mask[d] = true; /* no axes: all of them, or none with noop_with_empty_axes */
  return p->noop_empty ? 1 : 0;
}

/* ---- typed reduction loops ---- */

typedef void (*red_fn)(void *o, const void *x, int64_t outer, int64_t red, int64_t inner, void *acc);

#define RED_ONE(NAME, T, LD, ST, ACC, INIT, COMBINE, FINAL, SFX)                                  \
  static void NAME##_##SFX(void *o_, const void *x_, int64_t outer, int64_t red, int64_t inner,   \
                           void *acc_) {                                                          \
    typedef ACC acc_t;                                                                            \
    T *o = o_;                                                                                    \
    const T *x = x_;                                                                              \
    acc_t *acc = acc_;                                                                            \
    for (int64_t ob = 0; ob < outer; ob++) {                                                      \
      for (int64_t i = 0; i < inner; i++) acc[i] = (INIT);                                        \
      for (int64_t r = 0; r < red; r++) {                                                         \
        const T *row = x + (ob * red + r) * inner;                                                \
        for (int64_t i = 0; i < inner; i++) {                                                     \
          acc_t v = (acc_t)LD(row[i]), a = acc[i];                                                \
          acc[i] = (COMBINE);                                                                     \
        }                                                                                         \
      }                                                                                           \
      for (int64_t i = 0; i < inner; i++) {                                                       \
        acc_t a = acc[i];                                                                         \
        o[ob * inner + i] = ST(FINAL);                                                            \
      }                                                                                           \
    }                                                                                             \
  }

#define F16_ST(x) vrt__f32_to_f16((float)(x))
#define BF16_ST(x) vrt__f32_to_bf16((float)(x))
#define RED_F(NAME, INIT, COMBINE, FINAL)                                                 \
  RED_ONE(NAME, float, KERN_ID, (float), double, INIT, COMBINE, FINAL, f32)                 \
  RED_ONE(NAME, double, KERN_ID, (double), double, INIT, COMBINE, FINAL, f64)               \
  RED_ONE(NAME, uint16_t, vrt__f16_to_f32, F16_ST, double, INIT, COMBINE, FINAL, f16)     \
  RED_ONE(NAME, uint16_t, vrt__bf16_to_f32, BF16_ST, double, INIT, COMBINE, FINAL, bf16)
#define RED_I(NAME, INIT, COMBINE, FINAL)                                              \
  RED_ONE(NAME, int8_t, KERN_ID, (int8_t), int64_t, INIT, COMBINE, FINAL, i8)            \
  RED_ONE(NAME, int16_t, KERN_ID, (int16_t), int64_t, INIT, COMBINE, FINAL, i16)         \
  RED_ONE(NAME, int32_t, KERN_ID, (int32_t), int64_t, INIT, COMBINE, FINAL, i32)         \
  RED_ONE(NAME, int64_t, KERN_ID, (int64_t), int64_t, INIT, COMBINE, FINAL, i64)         \
  RED_ONE(NAME, uint8_t, KERN_ID, (uint8_t), int64_t, INIT, COMBINE, FINAL, u8)          \
  RED_ONE(NAME, uint16_t, KERN_ID, (uint16_t), int64_t, INIT, COMBINE, FINAL, u16)       \
  RED_ONE(NAME, uint32_t, KERN_ID, (uint32_t), int64_t, INIT, COMBINE, FINAL, u32)       \
  RED_ONE(NAME, uint64_t, KERN_ID, (uint64_t), int64_t, INIT, COMBINE, FINAL, u64)

/* wrapping int64 arithmetic, no UB on overflow */
#define IADD(a, b) ((int64_t)((uint64_t)(a) + (uint64_t)(b)))
#define IMUL(a, b) ((int64_t)((uint64_t)(a) * (uint64_t)(b)))
#define IABS(v) ((v) < 0 ? (int64_t)(0 - (uint64_t)(v)) : (v))

RED_F(red_sum, 0, a + v, a)
RED_I(red_sum, 0, IADD(a, v), a)
RED_F(red_mean, 0, a + v, a / (double)red)
RED_I(red_mean, 0, IADD(a, v), (red ? a / red : 0))
RED_F(red_max, -INFINITY, ((v > a || v != v) ? v : a), a)
RED_I(red_max, INT64_MIN, (v > a ? v : a), a)
RED_F(red_min, INFINITY, ((v < a || v != v) ? v : a), a)
RED_I(red_min, INT64_MAX, (v < a ? v : a), a)
RED_F(red_prod, 1, a * v, a)
RED_I(red_prod, 1, IMUL(a, v), a)
RED_F(red_l1, 0, a + fabs(v), a)
RED_I(red_l1, 0, IADD(a, IABS(v)), a)
RED_F(red_l2, 0, a + v * v, sqrt(a))
RED_I(red_l2, 0, IADD(a, IMUL(v, v)), (int64_t)sqrt((double)a))
RED_F(red_sumsq, 0, a + v * v, a)
RED_I(red_sumsq, 0, IADD(a, IMUL(v, v)), a)
RED_F(red_logsum, 0, a + v, log(a))

/* log-sum-exp in two passes (max, then sum of exp(x - max)) for stability */
#define LSE_ONE(T, LD, ST, SFX)                                                                     \
  static void red_lse_##SFX(void *o_, const void *x_, int64_t outer, int64_t red, int64_t inner,    \
                            void *acc_) {                                                           \
    T *o = o_;                                                                                      \
    const T *x = x_;                                                                                \
    double *mx = acc_, *sum = mx + inner;                                                           \
    for (int64_t ob = 0; ob < outer; ob++) {                                                        \
      const T *base = x + ob * red * inner;                                                         \
      for (int64_t i = 0; i < inner; i++) mx[i] = -INFINITY, sum[i] = 0;                            \
      for (int64_t r = 0; r < red; r++)                                                             \
        for (int64_t i = 0; i < inner; i++) {                                                       \
          double v = LD(base[r * inner + i]);                                                       \
          if (v > mx[i]) mx[i] = v;                                                                 \
        }                                                                                           \
      for (int64_t i = 0; i < inner; i++)                                                           \
        if (isinf(mx[i])) mx[i] = 0;                                                                \
      for (int64_t r = 0; r < red; r++)                                                             \
        for (int64_t i = 0; i < inner; i++) sum[i] += exp((double)LD(base[r * inner + i]) - mx[i]); \
      for (int64_t i = 0; i < inner; i++) o[ob * inner + i] = ST(log(sum[i]) + mx[i]);              \
    }                                                                                               \
  }
LSE_ONE(float, KERN_ID, (float), f32)
LSE_ONE(double, KERN_ID, (double), f64)
LSE_ONE(uint16_t, vrt__f16_to_f32, F16_ST, f16)
LSE_ONE(uint16_t, vrt__bf16_to_f32, BF16_ST, bf16)

#define F_FNS(NAME) [VRT_F32] = NAME##_f32, [VRT_F64] = NAME##_f64, [VRT_F16] = NAME##_f16, [VRT_BF16] = NAME##_bf16
#define I_FNS(NAME)                                                                                         \
  [VRT_I8] = NAME##_i8, [VRT_I16] = NAME##_i16, [VRT_I32] = NAME##_i32, [VRT_I64] = NAME##_i64,             \
  [VRT_U8] = NAME##_u8, [VRT_U16] = NAME##_u16, [VRT_U32] = NAME##_u32, [VRT_U64] = NAME##_u64

typedef struct {
  int op;
  int acc_rows; /* accumulator rows of `inner` 8-byte values */
  red_fn fn[KERN_NDT];
} red_kernels;

static const red_kernels red_tab[] = {
    {VRT_OP_ReduceSum, 1, {F_FNS(red_sum), I_FNS(red_sum)}},
    {VRT_OP_ReduceMean, 1, {F_FNS(red_mean), I_FNS(red_mean)}},
    {VRT_OP_ReduceMax, 1, {F_FNS(red_max), I_FNS(red_max)}},
    {VRT_OP_ReduceMin, 1, {F_FNS(red_min), I_FNS(red_min)}},
    {VRT_OP_ReduceProd, 1, {F_FNS(red_prod), I_FNS(red_prod)}},
    {VRT_OP_ReduceL1, 1, {F_FNS(red_l1), I_FNS(red_l1)}},
    {VRT_OP_ReduceL2, 1, {F_FNS(red_l2), I_FNS(red_l2)}},
    {VRT_OP_ReduceSumSquare, 1, {F_FNS(red_sumsq), I_FNS(red_sumsq)}},
    {VRT_OP_ReduceLogSum, 1, {F_FNS(red_logsum)}},
    {VRT_OP_ReduceLogSumExp, 2, {F_FNS(red_lse)}},
};

static const red_kernels *red_find(int op) {
  for (size_t i = 0; i < sizeof red_tab / sizeof red_tab[0]; i++)
    if (red_tab[i].op == op) return &red_tab[i];
  return NULL;
}

static int reduce_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(1);
  const red_kernels *k = red_find(n->op);
  vrt_dtype dt = in[0]->dtype;
  if (!k || dt < 0 || dt >= KERN_NDT || !k->fn[dt]) return KERN_ERR(n, VRT_ETYPE, "dtype %s not supported", vrt_dtype_name(dt));
  bool mask[VRT_MAX_DIMS];
  int rc = reduce_axes(n, in, nin, mask);
  if (rc < 0) return rc;
  if (rc == 1) {
    kern_set_shape(&out[0], dt, in[0]->ndim, in[0]->dims);
    return 0;
  }
  int keep = params_of(n)->keepdims;
  out[0].dtype = dt;
  out[0].ndim = 0;
  for (int d = 0; d < in[0]->ndim; d++) {
    if (!mask[d]) out[0].dims[out[0].ndim++] = in[0]->dims[d];
    else if (keep) out[0].dims[out[0].ndim++] = 1;
  }
  return 0;
}

/* Bring x into (outer, red, inner) form: returns the data pointer to reduce
 * (x's own, or a transposed copy in scratch). */
static const void *reduce_view(const vrt_node *n, const vrt_tensor *t, const bool *mask, vrt_exec_ctx *x,
                               int64_t *outer, int64_t *red, int64_t *inner) {
  int rank = t->ndim, first = -1, last = -1;
  for (int d = 0; d < rank; d++)
    if (mask[d] && t->dims[d] != 1) {
      if (first < 0) first = d;
      last = d;
    }
  *outer = 1, *red = 1, *inner = 1;
  if (first < 0) { /* nothing (non-trivial) reduced */
    *outer = vrt_tensor_numel(t);
    return t->data;
  }
  bool contiguous = true;
  for (int d = first; d <= last; d++)
    if (!mask[d] && t->dims[d] != 1) contiguous = false;
  if (contiguous) {
    for (int d = 0; d < first; d++) *outer *= t->dims[d];
    for (int d = first; d <= last; d++) *red *= t->dims[d];
    for (int d = last + 1; d < rank; d++) *inner *= t->dims[d];
    return t->data;
  }
  int perm[VRT_MAX_DIMS], np = 0;
  for (int d = 0; d < rank; d++)
    if (!mask[d]) perm[np++] = d, *outer *= t->dims[d];
  for (int d = 0; d < rank; d++)
    if (mask[d]) perm[np++] = d, *red *= t->dims[d];
  void *buf = x->scratch(x, t->nbytes);
  if (!buf) {
    KERN_ERR(n, VRT_ENOMEM, "out of memory for %zu bytes", t->nbytes);
    return NULL;
  }
  vrt__kern_transpose(buf, t->data, vrt_dtype_size(t->dtype), rank, t->dims, perm);
  return buf;
}

static int reduce_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                       vrt_exec_ctx *x) {
  const red_kernels *k = red_find(n->op);
  bool mask[VRT_MAX_DIMS];
  int rc = reduce_axes(n, in, nin, mask);
  if (rc < 0) return rc;
  if (rc == 1) {
    if (out->data != in[0]->data) memcpy(out->data, in[0]->data, out->nbytes);
    return 0;
  }
  int64_t outer, red, inner;
  const void *src = reduce_view(n, in[0], mask, x, &outer, &red, &inner);
  if (!src && vrt_tensor_numel(in[0]) > 0) return VRT_ENOMEM;
  size_t accb;
  if (!vrt__mul_ok((size_t)inner, 8 * (size_t)k->acc_rows, &accb)) return KERN_ERR(n, VRT_ELIMIT, "too large");
  void *acc = x->scratch(x, accb);
  if (!acc) return KERN_ERR(n, VRT_ENOMEM, "out of memory");
  k->fn[in[0]->dtype](out->data, src, outer, red, inner, acc);
  return 0;
}

/* ---- ArgMax / ArgMin ---- */

typedef void (*arg_fn)(int64_t *o, const void *x, int64_t outer, int64_t red, int64_t inner, int last);

#define ARG_ONE(NAME, T, LD, CT, BETTER, SFX)                                                                    \
  static void NAME##_##SFX(int64_t *o, const void *x_, int64_t outer, int64_t red, int64_t inner, int last) { \
    const T *x = x_;                                                                                         \
    for (int64_t ob = 0; ob < outer; ob++)                                                                   \
      for (int64_t i = 0; i < inner; i++) {                                                                  \
        const T *p = x + ob * red * inner + i;                                                               \
        CT best = LD(p[0]);                                                                                  \
        int64_t bi = 0;                                                                                      \
        for (int64_t r = 1; r < red; r++) {                                                                  \
          CT v = LD(p[r * inner]);                                                                           \
          if (BETTER(v, best) || (last && v == best)) best = v, bi = r;                                      \
        }                                                                                                    \
        o[ob * inner + i] = bi;                                                                              \
      }                                                                                                      \
  }
#define GT(a, b) ((a) > (b))
#define LT(a, b) ((a) < (b))
#define ARG_ALL(NAME, BETTER)                                          \
  ARG_ONE(NAME, float, KERN_ID, float, BETTER, f32)                      \
  ARG_ONE(NAME, double, KERN_ID, double, BETTER, f64)                    \
  ARG_ONE(NAME, uint16_t, vrt__f16_to_f32, float, BETTER, f16)         \
  ARG_ONE(NAME, uint16_t, vrt__bf16_to_f32, float, BETTER, bf16)       \
  ARG_ONE(NAME, int8_t, KERN_ID, int8_t, BETTER, i8)                     \
  ARG_ONE(NAME, int16_t, KERN_ID, int16_t, BETTER, i16)                  \
  ARG_ONE(NAME, int32_t, KERN_ID, int32_t, BETTER, i32)                  \
  ARG_ONE(NAME, int64_t, KERN_ID, int64_t, BETTER, i64)                  \
  ARG_ONE(NAME, uint8_t, KERN_ID, uint8_t, BETTER, u8)                   \
  ARG_ONE(NAME, uint16_t, KERN_ID, uint16_t, BETTER, u16)                \
  ARG_ONE(NAME, uint32_t, KERN_ID, uint32_t, BETTER, u32)                \
  ARG_ONE(NAME, uint64_t, KERN_ID, uint64_t, BETTER, u64)
ARG_ALL(arg_max, GT)
ARG_ALL(arg_min, LT)
#define ARG_FNS(NAME) {F_FNS(NAME), I_FNS(NAME)}
static const arg_fn argmax_tab[KERN_NDT] = ARG_FNS(arg_max);
static const arg_fn argmin_tab[KERN_NDT] = ARG_FNS(arg_min);

static int arg_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(1);
  vrt_dtype dt = in[0]->dtype;
  if (dt < 0 || dt >= KERN_NDT || !argmax_tab[dt]) return KERN_ERR(n, VRT_ETYPE, "dtype %s not supported", vrt_dtype_name(dt));
  const reduce_params *p = params_of(n);
  int axis;
  int rc = vrt__kern_axis(n, p->axis, in[0]->ndim, &axis);
  if (rc < 0) return rc;
  if (in[0]->dims[axis] == 0) return KERN_ERR(n, VRT_ESHAPE, "cannot take arg of an empty axis");
  out[0].dtype = VRT_I64;
  out[0].ndim = 0;
  for (int d = 0; d < in[0]->ndim; d++) {
    if (d != axis) out[0].dims[out[0].ndim++] = in[0]->dims[d];
    else if (p->keepdims) out[0].dims[out[0].ndim++] = 1;
  }
  return 0;
}

static void axis_split(const vrt_tensor *t, int axis, int64_t *outer, int64_t *len, int64_t *inner) {
  *outer = 1, *inner = 1;
  for (int d = 0; d < axis; d++) *outer *= t->dims[d];
  *len = t->dims[axis];
  for (int d = axis + 1; d < t->ndim; d++) *inner *= t->dims[d];
}

static int arg_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                    vrt_exec_ctx *x) {
  const reduce_params *p = params_of(n);
  int axis;
  int rc = vrt__kern_axis(n, p->axis, in[0]->ndim, &axis);
  if (rc < 0) return rc;
  int64_t outer, red, inner;
  axis_split(in[0], axis, &outer, &red, &inner);
  const arg_fn *tab = n->op == VRT_OP_ArgMax ? argmax_tab : argmin_tab;
  tab[in[0]->dtype](out->data, in[0]->data, outer, red, inner, p->select_last);
  return 0;
}

/* ---- CumSum(x, axis) ---- */

typedef void (*cum_fn)(void *o, const void *x, int64_t outer, int64_t len, int64_t inner, int excl, int rev);

#define CUM_ONE(DT, T, CT, LD, ST, SFX)                                                                          \
  static void cum_##SFX(void *o_, const void *x_, int64_t outer, int64_t len, int64_t inner, int excl, int rev) { \
    T *o = o_;                                                                                                   \
    const T *x = x_;                                                                                             \
    for (int64_t ob = 0; ob < outer; ob++)                                                                       \
      for (int64_t i = 0; i < inner; i++) {                                                                      \
        CT acc = 0;                                                                                              \
        for (int64_t j = 0; j < len; j++) {                                                                      \
          int64_t r = rev ? len - 1 - j : j;                                                                     \
          int64_t at = (ob * len + r) * inner + i;                                                               \
          CT v = LD(x[at]);                                                                                      \
          if (excl) o[at] = ST(acc), acc = (CT)(acc + v);                                                        \
          else acc = (CT)(acc + v), o[at] = ST(acc);                                                             \
        }                                                                                                        \
      }                                                                                                          \
  }
KERN_FLOAT_TYPES(CUM_ONE)
KERN_INT_TYPES(CUM_ONE)
#define CUM_ROW(DT, T, CT, LD, ST, SFX) [DT] = cum_##SFX,
static const cum_fn cum_tab[KERN_NDT] = {KERN_FLOAT_TYPES(CUM_ROW) KERN_INT_TYPES(CUM_ROW)};

static int cumsum_axis(const vrt_node *n, const vrt_tensor *const *in, int *axis) {
  int64_t a;
  if (vrt_tensor_numel(in[1]) != 1) return KERN_ERR(n, VRT_ESHAPE, "axis must be a scalar");
  int rc = vrt__kern_read_ints(n, in[1], "axis", &a, 1);
  if (rc < 0) return rc;
  return vrt__kern_axis(n, a, in[0]->ndim, axis);
}

static int cumsum_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(2);
  vrt_dtype dt = in[0]->dtype;
  if (dt < 0 || dt >= KERN_NDT || !cum_tab[dt]) return KERN_ERR(n, VRT_ETYPE, "dtype %s not supported", vrt_dtype_name(dt));
  int axis, rc = cumsum_axis(n, in, &axis);
  if (rc < 0 && rc != VRT_ENEEDDATA) return rc;
  kern_set_shape(&out[0], dt, in[0]->ndim, in[0]->dims);
  return 0;
}

static int cumsum_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                       vrt_exec_ctx *x) {
  int axis, rc = cumsum_axis(n, in, &axis);
  if (rc < 0) return rc == VRT_ENEEDDATA ? KERN_ERR(n, VRT_EINVAL, "axis has no data") : rc;
  const reduce_params *p = params_of(n);
  int64_t outer, len, inner;
  axis_split(in[0], axis, &outer, &len, &inner);
  cum_tab[in[0]->dtype](out->data, in[0]->data, outer, len, inner, p->exclusive, p->reverse);
  return 0;
}

#define RED_DEF(Name) \
  const vrt_opdef vrt__op_##Name = {VRT_OP_##Name, reduce_prepare, reduce_infer, reduce_exec, 0, 1, 2};
RED_DEF(ReduceSum) RED_DEF(ReduceMean) RED_DEF(ReduceMax) RED_DEF(ReduceMin) RED_DEF(ReduceProd)
RED_DEF(ReduceL1) RED_DEF(ReduceL2) RED_DEF(ReduceLogSum) RED_DEF(ReduceLogSumExp) RED_DEF(ReduceSumSquare)
const vrt_opdef vrt__op_ArgMax = {VRT_OP_ArgMax, reduce_prepare, arg_infer, arg_exec, 0, 1, 1};
const vrt_opdef vrt__op_ArgMin = {VRT_OP_ArgMin, reduce_prepare, arg_infer, arg_exec, 0, 1, 1};
const vrt_opdef vrt__op_CumSum = {VRT_OP_CumSum, reduce_prepare, cumsum_infer, cumsum_exec, 0, 2, 2};

