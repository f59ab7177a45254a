/* Normalisations (Batch, Instance, Layer, Group, Lp) and the Softmax family
 * (Softmax, LogSoftmax, Hardmax with opset-13 single-axis semantics).
 * Statistics accumulate in double; data is float32 (Softmax family and
 * LpNormalization also float64). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"

static int norm_axis(const vrt_node *n, int64_t axis, int ndim, int *out) {
  if (axis < -ndim || axis >= ndim)
    return NN_ERR(n, VRT_EINVAL, "axis %lld out of range for rank %d", (long long)axis, ndim);
  *out = (int)(axis < 0 ? axis + ndim : axis);
  return 0;
}

/* [outer, D, inner] view of t around axis */
static void split3(const vrt_tensor *t, int axis, int64_t *outer, int64_t *D, int64_t *inner) {
  *outer = vrt__numel(t->dims, axis);
  *D = t->dims[axis];
  *inner = vrt__numel(t->dims + axis + 1, t->ndim - axis - 1);
}

static int need_f32(const vrt_node *n, const vrt_tensor *const *in, int nin) {
  for (int i = 0; i < nin; i++)
    if (in[i] && in[i]->dtype != VRT_F32)
      return NN_ERR(n, VRT_ETYPE, "input %d: only float32 is supported (got %s)", i, vrt_dtype_name(in[i]->dtype));
  return 0;
}

static int same_shape_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  out[0].dtype = in[0]->dtype;
  out[0].ndim = in[0]->ndim;
  memcpy(out[0].dims, in[0]->dims, sizeof(int64_t) * in[0]->ndim);
  return 0;
}

/* Channel view of an [N, C, ...] (layout 0) or [N, ..., C] (layout 1) tensor:
 * element (b, c, i) at b*sn + c*sc + i*sp. */
typedef struct chan_view {
  int64_t N, C, P, sn, sc, sp;
} chan_view;

static int chan_view_get(const vrt_node *n, const vrt_tensor *x, int layout, chan_view *v) {
  if (x->ndim < 2) return NN_ERR(n, VRT_ESHAPE, "input must have rank >= 2");
  v->N = x->dims[0];
  v->C = layout ? x->dims[x->ndim - 1] : x->dims[1];
  v->P = layout ? vrt__numel(x->dims + 1, x->ndim - 2) : vrt__numel(x->dims + 2, x->ndim - 2);
  v->sn = v->C * v->P;
  v->sc = layout ? 1 : v->P;
  v->sp = layout ? v->C : 1;
  return 0;
}

static int check_vec(const vrt_node *n, const vrt_tensor *t, int64_t len, const char *what) {
  if (!t || vrt_tensor_numel(t) != len)
    return NN_ERR(n, VRT_ESHAPE, "%s must have %lld elements", what, (long long)len);
  return 0;
}

/* ---- BatchNormalization ------------------------------------------------------ */

static int bn_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  int rc = need_f32(n, in, nin);
  if (rc) return rc;
  chan_view v;
  if ((rc = chan_view_get(n, in[0], (int)vrt_attr_int(n, "vrt_layout", 0), &v))) return rc;
  for (int i = 1; i < 5 && !rc; i++) rc = check_vec(n, in[i], v.C, "scale/B/mean/var");
  if (rc) return rc;
  same_shape_infer(n, in, nin, out, nout);
  for (int i = 1; i < nout; i++) {
    out[i].dtype = VRT_F32;
    out[i].ndim = 1;
    out[i].dims[0] = v.C;
  }
  return 0;
}

static int bn_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                   vrt_exec_ctx *ctx) {
  chan_view v;
  int rc = chan_view_get(n, in[0], (int)vrt_attr_int(n, "vrt_layout", 0), &v);
  if (rc) return rc;
  float eps = vrt_attr_float(n, "epsilon", 1e-5f), mom = vrt_attr_float(n, "momentum", 0.9f);
  bool train = vrt_attr_int(n, "training_mode", 0) != 0;
  const float *x = in[0]->data, *scale = in[1]->data, *bias = in[2]->data, *mean = in[3]->data,
              *var = in[4]->data;
  float *y = out[0].data;
  for (int64_t c = 0; c < v.C; c++) {
    double mu = mean[c], va = var[c];
    if (train) {
      double s = 0, s2 = 0, cnt = (double)(v.N * v.P);
      for (int64_t b = 0; b < v.N; b++)
        for (int64_t i = 0; i < v.P; i++) s += x[b * v.sn + c * v.sc + i * v.sp];
      mu = cnt ? s / cnt : 0;
      for (int64_t b = 0; b < v.N; b++)
        for (int64_t i = 0; i < v.P; i++) {
          double d = x[b * v.sn + c * v.sc + i * v.sp] - mu;
          s2 += d * d;
        }
      va = cnt ? s2 / cnt : 0;
      if (nout > 1 && out[1].data) ((float *)out[1].data)[c] = (float)(mean[c] * mom + mu * (1 - mom));
      if (nout > 2 && out[2].data) ((float *)out[2].data)[c] = (float)(var[c] * mom + va * (1 - mom));
    } else { /* inference: running statistics pass through unchanged */
      if (nout > 1 && out[1].data) ((float *)out[1].data)[c] = mean[c];
      if (nout > 2 && out[2].data) ((float *)out[2].data)[c] = var[c];
    }
    /* (x - mean) * k + bias keeps precision when 1/std is large */
    float k = (float)(scale[c] / sqrt(va + eps)), m = (float)mu, b0 = bias[c];
    for (int64_t b = 0; b < v.N; b++)
      for (int64_t i = 0; i < v.P; i++) {
        int64_t j = b * v.sn + c * v.sc + i * v.sp;
        y[j] = (x[j] - m) * k + b0;
      }
  }
  /* a ReLU folded in at load (fuse.c; the only activation it folds here) */
  nn_act act;
  if ((rc = nn_act_parse(n, &act))) return rc;
  if (act.kind == NN_ACT_PRELU) return NN_ERR(n, VRT_EUNSUPPORTED, "BatchNormalization takes no fused PRelu");
  nn_bias_act(y, 1, 1, vrt_tensor_numel(&out[0]), NULL, &act, NULL, 0);
  return 0;
}

const vrt_opdef vrt__op_BatchNormalization = {
    .op = VRT_OP_BatchNormalization, .infer = bn_infer, .exec = bn_exec, .min_inputs = 5, .max_inputs = 5,
};

/* ---- InstanceNormalization / GroupNormalization -------------------------------- */

/* Normalises each (b, group) block of gc channels x P positions; the affine
 * parameters are per channel (per_group false) or per group. */
static void group_norm(const chan_view *v, int64_t G, const float *x, const float *scale, const float *bias,
                       bool per_group, float eps, float *y) {
  if (G <= 0) return; /* no channels: nothing to normalise */
  int64_t gc = v->C / G;
  for (int64_t b = 0; b < v->N; b++)
    for (int64_t g = 0; g < G; g++) {
      double s = 0, s2 = 0, cnt = (double)(gc * v->P);
      for (int64_t c = g * gc; c < (g + 1) * gc; c++)
        for (int64_t i = 0; i < v->P; i++) s += x[b * v->sn + c * v->sc + i * v->sp];
      double mu = cnt ? s / cnt : 0;
      for (int64_t c = g * gc; c < (g + 1) * gc; c++)
        for (int64_t i = 0; i < v->P; i++) {
          double d = x[b * v->sn + c * v->sc + i * v->sp] - mu;
          s2 += d * d;
        }
      double inv = 1.0 / sqrt((cnt ? s2 / cnt : 0) + eps);
      for (int64_t c = g * gc; c < (g + 1) * gc; c++) {
        int64_t pi = per_group ? g : c;
        float k = (float)(scale[pi] * inv), m = (float)mu, b0 = bias[pi];
        for (int64_t i = 0; i < v->P; i++) {
          int64_t j = b * v->sn + c * v->sc + i * v->sp;
          y[j] = (x[j] - m) * k + b0;
        }
      }
    }
}

static int in_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  int rc = need_f32(n, in, nin);
  chan_view v;
  if (!rc) rc = chan_view_get(n, in[0], (int)vrt_attr_int(n, "vrt_layout", 0), &v);
  if (!rc) rc = check_vec(n, in[1], v.C, "scale");
  if (!rc) rc = check_vec(n, in[2], v.C, "B");
  if (rc) return rc;
  return same_shape_infer(n, in, nin, out, nout);
}

static int in_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                   vrt_exec_ctx *ctx) {
  chan_view v;
  int rc = chan_view_get(n, in[0], (int)vrt_attr_int(n, "vrt_layout", 0), &v);
  if (rc) return rc;
  group_norm(&v, v.C, in[0]->data, in[1]->data, in[2]->data, false, vrt_attr_float(n, "epsilon", 1e-5f),
             out[0].data);
  return 0;
}

const vrt_opdef vrt__op_InstanceNormalization = {
    .op = VRT_OP_InstanceNormalization, .infer = in_infer, .exec = in_exec, .min_inputs = 3, .max_inputs = 3,
};

static int gn_check(const vrt_node *n, const vrt_tensor *const *in, int nin, chan_view *v, int64_t *G,
                    bool *per_group) {
  int rc = need_f32(n, in, nin);
  if (!rc) rc = chan_view_get(n, in[0], (int)vrt_attr_int(n, "vrt_layout", 0), v);
  if (rc) return rc;
  *G = vrt_attr_int(n, "num_groups", 0);
  if (*G < 1 || v->C % *G) return NN_ERR(n, VRT_EINVAL, "num_groups %lld does not divide %lld channels",
                                         (long long)*G, (long long)v->C);
  int64_t ks = vrt_tensor_numel(in[1]), kb = vrt_tensor_numel(in[2]);
  if (ks != kb || (ks != v->C && ks != *G))
    return NN_ERR(n, VRT_ESHAPE, "scale/bias must have C or num_groups elements");
  *per_group = ks != v->C;
  return 0;
}

static int gn_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  chan_view v;
  int64_t G;
  bool pg;
  int rc = gn_check(n, in, nin, &v, &G, &pg);
  if (rc) return rc;
  return same_shape_infer(n, in, nin, out, nout);
}

static int gn_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                   vrt_exec_ctx *ctx) {
  chan_view v;
  int64_t G;
  bool pg;
  int rc = gn_check(n, in, nin, &v, &G, &pg);
  if (rc) return rc;
  group_norm(&v, G, in[0]->data, in[1]->data, in[2]->data, pg, vrt_attr_float(n, "epsilon", 1e-5f), out[0].data);
  return 0;
}

const vrt_opdef vrt__op_GroupNormalization = {
    .op = VRT_OP_GroupNormalization, .infer = gn_infer, .exec = gn_exec, .min_inputs = 3, .max_inputs = 3,
};

/* ---- LayerNormalization -------------------------------------------------------- */

/* Index of normalised element i (0..inner) in a parameter tensor t that
 * broadcasts (right-aligned) to the normalised dims. */
static int64_t bcast_index(const vrt_tensor *t, const int64_t *nd, int nn, int64_t i) {
  int64_t r = 0, st = 1;
  for (int a = nn - 1, b = t->ndim - 1; a >= 0; a--, b--) {
    int64_t c = i % nd[a];
    i /= nd[a];
    if (b >= 0) {
      if (t->dims[b] != 1) r += c * st;
      st *= t->dims[b];
    }
  }
  return r;
}

static int bcast_ok(const vrt_tensor *t, const int64_t *nd, int nn) {
  if (t->ndim > nn) return 0;
  for (int a = nn - 1, b = t->ndim - 1; b >= 0; a--, b--)
    if (t->dims[b] != 1 && t->dims[b] != nd[a]) return 0;
  return 1;
}

static int ln_check(const vrt_node *n, const vrt_tensor *const *in, int nin, int *axis) {
  int rc = need_f32(n, in, nin);
  if (!rc) rc = norm_axis(n, vrt_attr_int(n, "axis", -1), in[0]->ndim, axis);
  if (rc) return rc;
  const int64_t *nd = in[0]->dims + *axis;
  int nn = in[0]->ndim - *axis;
  for (int i = 1; i < nin && i < 3; i++)
    if (in[i] && !bcast_ok(in[i], nd, nn)) return NN_ERR(n, VRT_ESHAPE, "input %d does not broadcast", i);
  return 0;
}

static int ln_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  int axis = 0;
  int rc = ln_check(n, in, nin, &axis);
  if (rc) return rc;
  same_shape_infer(n, in, nin, out, nout);
  for (int i = 1; i < nout; i++) {
    out[i] = out[0];
    for (int a = axis; a < out[i].ndim; a++) out[i].dims[a] = 1;
  }
  return 0;
}

static int ln_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                   vrt_exec_ctx *ctx) {
  int axis = 0;
  int rc = ln_check(n, in, nin, &axis);
  if (rc) return rc;
  int64_t outer = vrt__numel(in[0]->dims, axis), D = vrt__numel(in[0]->dims + axis, in[0]->ndim - axis);
  const int64_t *nd = in[0]->dims + axis;
  int nn = in[0]->ndim - axis;
  float eps = vrt_attr_float(n, "epsilon", 1e-5f);
  const vrt_tensor *ts = in[1], *tb = nin > 2 ? in[2] : NULL;
  /* per-element parameter indices only when the parameters are not dense */
  bool sd = vrt_tensor_numel(ts) == D, bd = !tb || vrt_tensor_numel(tb) == D;
  int64_t *si = NULL, *bi = NULL;
  if (!sd || !bd) {
    si = ctx->scratch(ctx, sizeof(int64_t) * (size_t)(2 * D));
    if (!si) return NN_ERR(n, VRT_ENOMEM, "out of memory");
    bi = si + D;
    for (int64_t i = 0; i < D; i++) {
      si[i] = bcast_index(ts, nd, nn, i);
      bi[i] = tb ? bcast_index(tb, nd, nn, i) : 0;
    }
  }
  const float *x = in[0]->data, *sc = ts->data, *bs = tb ? tb->data : NULL;
  float *y = out[0].data;
  float *mo = nout > 1 ? out[1].data : NULL, *io = nout > 2 ? out[2].data : NULL;
  for (int64_t o = 0; o < outer; o++) {
    const float *xr = x + o * D;
    float *yr = y + o * D;
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < D; i++) s += xr[i];
    double mu = D ? s / (double)D : 0;
    for (int64_t i = 0; i < D; i++) s2 += (xr[i] - mu) * (xr[i] - mu);
    double inv = 1.0 / sqrt((D ? s2 / (double)D : 0) + eps);
    for (int64_t i = 0; i < D; i++) {
      float v = (float)((xr[i] - mu) * inv) * sc[si ? si[i] : i];
      if (bs) v += bs[bi ? bi[i] : i];
      yr[i] = v;
    }
    if (mo) mo[o] = (float)mu;
    if (io) io[o] = (float)inv;
  }
  return 0;
}

const vrt_opdef vrt__op_LayerNormalization = {
    .op = VRT_OP_LayerNormalization, .infer = ln_infer, .exec = ln_exec, .min_inputs = 2, .max_inputs = 3,
};

/* ---- LpNormalization ------------------------------------------------------------ */

static int lpn_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  int axis = 0;
  int rc = norm_axis(n, vrt_attr_int(n, "axis", -1), in[0]->ndim, &axis);
  if (rc) return rc;
  int64_t p = vrt_attr_int(n, "p", 2);
  if (p != 1 && p != 2) return NN_ERR(n, VRT_EINVAL, "p must be 1 or 2");
  if (in[0]->dtype != VRT_F32 && in[0]->dtype != VRT_F64) return NN_ERR(n, VRT_ETYPE, "unsupported dtype");
  return same_shape_infer(n, in, nin, out, nout);
}

#define LPN_FN(NAME, T)                                                                 \
  static void NAME(int64_t outer, int64_t D, int64_t inner, int p, const T *x, T *y) {   \
    for (int64_t o = 0; o < outer; o++)                                                  \
      for (int64_t i = 0; i < inner; i++) {                                              \
        const T *xp = x + o * D * inner + i;                                             \
        T *yp = y + o * D * inner + i;                                                   \
        double s = 0;                                                                    \
        for (int64_t d = 0; d < D; d++) {                                                \
          double v = xp[d * inner];                                                      \
          s += p == 1 ? fabs(v) : v * v;                                                 \
        }                                                                                \
        double norm = p == 1 ? s : sqrt(s);                                              \
        for (int64_t d = 0; d < D; d++) yp[d * inner] = norm > 0 ? (T)(xp[d * inner] / norm) : 0; \
      }                                                                                  \
  }

LPN_FN(lpn_f32, float)
LPN_FN(lpn_f64, double)

static int lpn_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                    vrt_exec_ctx *ctx) {
  int axis = 0;
  int rc = norm_axis(n, vrt_attr_int(n, "axis", -1), in[0]->ndim, &axis);
  if (rc) return rc;
  int64_t o, D, i;
  split3(in[0], axis, &o, &D, &i);
  int p = (int)vrt_attr_int(n, "p", 2);
  if (in[0]->dtype == VRT_F32) lpn_f32(o, D, i, p, in[0]->data, out[0].data);
  else lpn_f64(o, D, i, p, in[0]->data, out[0].data);
  return 0;
}

const vrt_opdef vrt__op_LpNormalization = {
    .op = VRT_OP_LpNormalization, .infer = lpn_infer, .exec = lpn_exec, .min_inputs = 1, .max_inputs = 1,
};

/* ---- Softmax, LogSoftmax, Hardmax ------------------------------------------------- */

static int smax_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  int axis = 0;
  int rc = norm_axis(n, vrt_attr_int(n, "axis", -1), in[0]->ndim > 0 ? in[0]->ndim : 1, &axis);
  if (rc) return rc;
  if (in[0]->dtype != VRT_F32 && in[0]->dtype != VRT_F64)
    return NN_ERR(n, VRT_ETYPE, "unsupported dtype %s", vrt_dtype_name(in[0]->dtype));
  return same_shape_infer(n, in, nin, out, nout);
}

enum { SM_SOFT, SM_LOG, SM_HARD };

#define SMAX_FN(NAME, T, EXP, LOG)                                                         \
  static void NAME(int kind, int64_t outer, int64_t D, int64_t inner, const T *x, T *y) {   \
    for (int64_t o = 0; o < outer; o++)                                                     \
      for (int64_t i = 0; i < inner; i++) {                                                 \
        const T *xp = x + o * D * inner + i;                                                \
        T *yp = y + o * D * inner + i;                                                      \
        T mx = xp[0];                                                                       \
        int64_t am = 0;                                                                     \
        for (int64_t d = 1; d < D; d++)                                                     \
          if (xp[d * inner] > mx) mx = xp[d * inner], am = d;                               \
        if (kind == SM_HARD) {                                                              \
          for (int64_t d = 0; d < D; d++) yp[d * inner] = d == am;                          \
          continue;                                                                         \
        }                                                                                   \
        double s = 0;                                                                       \
        for (int64_t d = 0; d < D; d++) {                                                   \
          T e = EXP(xp[d * inner] - mx);                                                    \
          if (kind == SM_SOFT) yp[d * inner] = e;                                           \
          s += e;                                                                           \
        }                                                                                   \
        if (kind == SM_SOFT) {                                                              \
          T inv = (T)(1.0 / s);                                                             \
          for (int64_t d = 0; d < D; d++) yp[d * inner] *= inv;                             \
        } else {                                                                            \
          T ls = (T)LOG(s);                                                                 \
          for (int64_t d = 0; d < D; d++) yp[d * inner] = xp[d * inner] - mx - ls;          \
        }                                                                                   \
      }                                                                                     \
  }

SMAX_FN(smax_f32, float, expf, log)
SMAX_FN(smax_f64, double, exp, log)

static int smax_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                     vrt_exec_ctx *ctx) {
  if (in[0]->ndim == 0) { /* a scalar: one element along the only "axis" */
    double v = n->op == VRT_OP_LogSoftmax ? 0.0 : 1.0;
    if (in[0]->dtype == VRT_F32) *(float *)out[0].data = (float)v;
    else *(double *)out[0].data = v;
    return 0;
  }
  int axis = 0;
  int rc = norm_axis(n, vrt_attr_int(n, "axis", -1), in[0]->ndim, &axis);
  if (rc) return rc;
  int64_t o, D, i;
  split3(in[0], axis, &o, &D, &i);
  if (D == 0) return 0;
  int kind = n->op == VRT_OP_Softmax ? SM_SOFT : n->op == VRT_OP_LogSoftmax ? SM_LOG : SM_HARD;
  if (in[0]->dtype == VRT_F32) smax_f32(kind, o, D, i, in[0]->data, out[0].data);
  else smax_f64(kind, o, D, i, in[0]->data, out[0].data);
  return 0;
}

const vrt_opdef vrt__op_Softmax = {
    .op = VRT_OP_Softmax, .infer = smax_infer, .exec = smax_exec, .min_inputs = 1, .max_inputs = 1,
};
const vrt_opdef vrt__op_LogSoftmax = {
    .op = VRT_OP_LogSoftmax, .infer = smax_infer, .exec = smax_exec, .min_inputs = 1, .max_inputs = 1,
};
const vrt_opdef vrt__op_Hardmax = {
    .op = VRT_OP_Hardmax, .infer = smax_infer, .exec = smax_exec, .min_inputs = 1, .max_inputs = 1,
};

/* ---- LRN ------------------------------------------------------------------------
 * y = x / (bias + alpha / size * sum of x^2 over the channel window) ^ beta,
 * the window running from c - floor((size-1)/2) to c + ceil((size-1)/2). */

static int lrn_check(const vrt_node *n, const vrt_tensor *const *in, chan_view *v) {
  int rc = need_f32(n, in, 1);
  if (!rc) rc = chan_view_get(n, in[0], (int)vrt_attr_int(n, "vrt_layout", 0), v);
  if (rc) return rc;
  int64_t size = vrt_attr_int(n, "size", 0);
  if (size < 1 || size > (1 << 24)) return NN_ERR(n, VRT_EINVAL, "size must be >= 1");
  return 0;
}

static int lrn_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  chan_view v;
  int rc = lrn_check(n, in, &v);
  if (rc) return rc;
  return same_shape_infer(n, in, nin, out, nout);
}

static int lrn_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                    vrt_exec_ctx *ctx) {
  chan_view v;
  int rc = lrn_check(n, in, &v);
  if (rc) return rc;
  int64_t size = vrt_attr_int(n, "size", 1), lo = (size - 1) / 2, hi = size - 1 - lo;
  double alpha = vrt_attr_float(n, "alpha", 1e-4f), beta = vrt_attr_float(n, "beta", 0.75f);
  double bias = vrt_attr_float(n, "bias", 1.0f);
  const float *x = in[0]->data;
  float *y = out[0].data;
  for (int64_t b = 0; b < v.N; b++)
    for (int64_t c = 0; c < v.C; c++) {
      int64_t c0 = c - lo < 0 ? 0 : c - lo, c1 = c + hi >= v.C ? v.C - 1 : c + hi;
      for (int64_t i = 0; i < v.P; i++) {
        double s = 0;
        for (int64_t k = c0; k <= c1; k++) {
          double t = x[b * v.sn + k * v.sc + i * v.sp];
          s += t * t;
        }
        int64_t j = b * v.sn + c * v.sc + i * v.sp;
        y[j] = (float)(x[j] / pow(bias + alpha / (double)size * s, beta));
      }
    }
  return 0;
}

const vrt_opdef vrt__op_LRN = {
    .op = VRT_OP_LRN, .infer = lrn_infer, .exec = lrn_exec, .min_inputs = 1, .max_inputs = 1,
};

/* ---- MeanVarianceNormalization ---------------------------------------------------
 * y = (x - mean) / (sqrt(E[x^2] - mean^2) + 1e-9) over `axes` (default
 * 0, 2, 3), as the ONNX function body defines it. Statistics live in an
 * array indexed by the kept coordinates (reduced axes get stride 0). */

static int mvn_axes(const vrt_node *n, const vrt_tensor *x, bool red[VRT_MAX_DIMS]) {
  const int64_t *ax;
  int k = vrt_attr_ints(n, "axes", &ax);
  static const int64_t dflt[3] = {0, 2, 3};
  if (!vrt_node_attr(n, "axes")) ax = dflt, k = 3;
  memset(red, 0, sizeof(bool) * VRT_MAX_DIMS);
  for (int i = 0; i < k; i++) {
    int64_t a = ax[i] < 0 ? ax[i] + x->ndim : ax[i];
    if (a < 0 || a >= x->ndim) return NN_ERR(n, VRT_EINVAL, "axis %lld out of range", (long long)ax[i]);
    red[a] = true;
  }
  return 0;
}

static int mvn_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  bool red[VRT_MAX_DIMS];
  int rc = need_f32(n, in, 1);
  if (!rc) rc = mvn_axes(n, in[0], red);
  if (rc) return rc;
  return same_shape_infer(n, in, nin, out, nout);
}

static int mvn_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                    vrt_exec_ctx *ctx) {
  const vrt_tensor *x = in[0];
  bool red[VRT_MAX_DIMS];
  int rc = mvn_axes(n, x, red);
  if (rc) return rc;
  int nd = x->ndim;
  int64_t kst[VRT_MAX_DIMS], nk = 1, cnt = 1, total = vrt_tensor_numel(x);
  for (int a = nd - 1; a >= 0; a--) {
    kst[a] = red[a] ? 0 : nk;
    if (red[a]) cnt *= x->dims[a];
    else nk *= x->dims[a];
  }
  double *st = ctx->scratch(ctx, sizeof(double) * (size_t)(2 * nk + 1));
  if (!st) return NN_ERR(n, VRT_ENOMEM, "out of memory");
  memset(st, 0, sizeof(double) * (size_t)(2 * nk));
  const float *xp = x->data;
  float *y = out[0].data;
  for (int pass = 0; pass < 2; pass++) {
    int64_t idx[VRT_MAX_DIMS] = {0}, key = 0;
    for (int64_t i = 0; i < total; i++) {
      if (pass == 0) {
        st[2 * key] += xp[i];
        st[2 * key + 1] += (double)xp[i] * xp[i];
      } else {
        double m = st[2 * key] / (double)cnt, var = st[2 * key + 1] / (double)cnt - m * m;
        y[i] = (float)((xp[i] - m) / (sqrt(var > 0 ? var : 0) + 1e-9));
      }
      for (int a = nd - 1; a >= 0; a--) { /* odometer over x, key follows */
        key += kst[a];
        if (++idx[a] < x->dims[a]) break;
        key -= kst[a] * x->dims[a];
        idx[a] = 0;
      }
    }
  }
  return 0;
}

const vrt_opdef vrt__op_MeanVarianceNormalization = {
    .op = VRT_OP_MeanVarianceNormalization, .infer = mvn_infer, .exec = mvn_exec, .min_inputs = 1, .max_inputs = 1,
};
