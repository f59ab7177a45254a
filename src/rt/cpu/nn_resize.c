/* Resize (opset 11-19 semantics: nearest with every nearest_mode, linear and
 * cubic, every coordinate_transformation_mode, roi for tf_crop_and_resize,
 * the opset-18 `axes` and keep_aspect_ratio_policy) and the deprecated
 * Upsample.
 *
 * All three modes are separable, so the kernel resizes one axis at a time,
 * last axis first (the order ONNX's reference recursion uses, which matters
 * only for tf_crop_and_resize extrapolation): for each output index along the
 * axis a short list of (input index, weight) taps is computed once, then
 * applied to the tensor viewed as [outer, len, inner]. Axes that map onto
 * themselves are skipped. Antialiasing is not supported. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"

enum { RS_NEAREST, RS_LINEAR, RS_CUBIC };
enum {
  CT_HALF_PIXEL,
  CT_HALF_PIXEL_SYM,
  CT_PYTORCH_HALF_PIXEL,
  CT_ALIGN_CORNERS,
  CT_ASYMMETRIC,
  CT_TF_HALF_PIXEL_NN,
  CT_TF_CROP_RESIZE
};
enum { NM_ROUND_PREFER_FLOOR, NM_ROUND_PREFER_CEIL, NM_FLOOR, NM_CEIL };
enum { KA_STRETCH, KA_NOT_LARGER, KA_NOT_SMALLER };

typedef struct rs_params {
  int mode, ctm, nearest, keep;
  float cubic_a, extrap;
  int exclude_outside;
  int naxes;
  int64_t axes[VRT_MAX_DIMS];
  int nscales_attr; /* Upsample opset 7 */
  float scales_attr[VRT_MAX_DIMS];
  bool upsample;
} rs_params;

static int lookup(const vrt_node *n, const char *attr, const char *dflt, const char *const *names, int count,
                  int *out) {
  const char *s = vrt_attr_string(n, attr, dflt);
  for (int i = 0; i < count; i++)
    if (strcmp(s, names[i]) == 0) {
      *out = i;
      return 0;
    }
  return NN_ERR(n, VRT_EUNSUPPORTED, "%s '%s' is not supported", attr, s);
}

static int rs_prepare(vrt_node *n) {
  static const char *const modes[] = {"nearest", "linear", "cubic"};
  static const char *const ctms[] = {"half_pixel",         "half_pixel_symmetric", "pytorch_half_pixel",
                                     "align_corners",      "asymmetric",           "tf_half_pixel_for_nn",
                                     "tf_crop_and_resize"};
  static const char *const nms[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
  static const char *const kas[] = {"stretch", "not_larger", "not_smaller"};
  rs_params *p = calloc(1, sizeof *p);
  if (!p) return NN_ERR(n, VRT_ENOMEM, "out of memory");
  p->upsample = n->op == VRT_OP_Upsample;
  const char *m = vrt_attr_string(n, "mode", "nearest");
  int rc = 0;
  if (strcmp(m, "bilinear") == 0 || strcmp(m, "trilinear") == 0) p->mode = RS_LINEAR; /* Upsample-7 spellings */
  else rc = lookup(n, "mode", "nearest", modes, 3, &p->mode);
  if (!rc && p->upsample) {
    p->ctm = CT_ASYMMETRIC;
    p->nearest = NM_FLOOR;
    const float *f;
    int k = vrt_attr_floats(n, "scales", &f);
    if (k > VRT_MAX_DIMS) rc = NN_ERR(n, VRT_EINVAL, "too many scales");
    for (int i = 0; !rc && i < k; i++) p->scales_attr[i] = f[i];
    p->nscales_attr = k;
  } else if (!rc) {
    rc = lookup(n, "coordinate_transformation_mode", "half_pixel", ctms, 7, &p->ctm);
    if (!rc) rc = lookup(n, "nearest_mode", "round_prefer_floor", nms, 4, &p->nearest);
    if (!rc) rc = lookup(n, "keep_aspect_ratio_policy", "stretch", kas, 3, &p->keep);
  }
  p->cubic_a = vrt_attr_float(n, "cubic_coeff_a", -0.75f);
  p->exclude_outside = (int)vrt_attr_int(n, "exclude_outside", 0);
  p->extrap = vrt_attr_float(n, "extrapolation_value", 0.0f);
  if (!rc && vrt_attr_int(n, "antialias", 0) != 0 && p->mode != RS_NEAREST)
    rc = NN_ERR(n, VRT_EUNSUPPORTED, "antialias is not supported");
  const int64_t *ax;
  int k = vrt_attr_ints(n, "axes", &ax);
  if (!rc && k > VRT_MAX_DIMS) rc = NN_ERR(n, VRT_EINVAL, "too many axes");
  for (int i = 0; !rc && i < k; i++) p->axes[i] = ax[i];
  p->naxes = k;
  return nn_params_keep(n, p, rc);
}

/* Output shape and per-axis scale (the scale the coordinate formulas use). */
typedef struct rs_geom {
  int ndim;
  int64_t in[VRT_MAX_DIMS], out[VRT_MAX_DIMS];
  double scale[VRT_MAX_DIMS];
  double roi_start[VRT_MAX_DIMS], roi_end[VRT_MAX_DIMS];
} rs_geom;

static int rs_geom_get(const vrt_node *n, const vrt_tensor *const *in, int nin, rs_geom *g, bool need_roi) {
  const rs_params *p = n->params;
  const vrt_tensor *x = in[0];
  int r = x->ndim;
  memset(g, 0, sizeof *g);
  g->ndim = r;
  const vrt_tensor *roi = NULL, *scales = NULL, *sizes = NULL;
  if (p->upsample) scales = nin > 1 ? in[1] : NULL;
  else if (nin == 2) scales = in[1]; /* opset-10 form: X, scales */
  else {
    roi = nin > 1 ? in[1] : NULL;
    scales = nin > 2 ? in[2] : NULL;
    sizes = nin > 3 ? in[3] : NULL;
  }
  if (roi && vrt_tensor_numel(roi) == 0) roi = NULL;
  if (scales && vrt_tensor_numel(scales) == 0) scales = NULL;
  if (sizes && vrt_tensor_numel(sizes) == 0) sizes = NULL;
  /* axes: which dims the scales/sizes/roi entries refer to */
  int axes[VRT_MAX_DIMS], na = p->naxes ? p->naxes : r;
  for (int i = 0; i < na; i++) {
    int64_t a = p->naxes ? p->axes[i] : i;
    if (a < -r || a >= r) return NN_ERR(n, VRT_EINVAL, "axis %lld out of range", (long long)a);
    axes[i] = (int)(a < 0 ? a + r : a);
  }
  for (int i = 0; i < r; i++) {
    g->in[i] = g->out[i] = x->dims[i];
    g->scale[i] = 1.0;
    g->roi_start[i] = 0;
    g->roi_end[i] = 1;
  }
  if (sizes) {
    if (!sizes->data) return VRT_ENEEDDATA;
    if (sizes->dtype != VRT_I64 || vrt_tensor_numel(sizes) != na)
      return NN_ERR(n, VRT_ESHAPE, "sizes must be int64 with %d elements", na);
    const int64_t *sz = sizes->data;
    if (p->keep == KA_STRETCH) {
      for (int i = 0; i < na; i++) {
        int a = axes[i];
        if (sz[i] < 0) return NN_ERR(n, VRT_EINVAL, "negative size");
        g->out[a] = sz[i];
        g->scale[a] = g->in[a] ? (double)sz[i] / (double)g->in[a] : 1.0;
      }
    } else {
      double s = p->keep == KA_NOT_LARGER ? INFINITY : 0;
      for (int i = 0; i < na; i++) {
        double t = g->in[axes[i]] ? (double)sz[i] / (double)g->in[axes[i]] : 1.0;
        s = p->keep == KA_NOT_LARGER ? fmin(s, t) : fmax(s, t);
      }
      for (int i = 0; i < na; i++) {
        int a = axes[i];
        g->scale[a] = s;
        g->out[a] = (int64_t)nearbyint(s * (double)g->in[a]);
      }
    }
  } else if (scales || p->nscales_attr) {
    int ns = scales ? (int)vrt_tensor_numel(scales) : p->nscales_attr;
    if (scales && !scales->data) return VRT_ENEEDDATA;
    if ((scales && scales->dtype != VRT_F32) || ns != na)
      return NN_ERR(n, VRT_ESHAPE, "scales must be float32 with %d elements", na);
    for (int i = 0; i < na; i++) {
      double s = scales ? ((const float *)scales->data)[i] : p->scales_attr[i];
      int a = axes[i];
      if (!(s > 0) || s > 1e6) return NN_ERR(n, VRT_EINVAL, "scale %g out of range", s);
      g->scale[a] = s;
      g->out[a] = (int64_t)floor(s * (double)g->in[a] + 1e-9);
    }
  } else {
    return NN_ERR(n, VRT_EINVAL, "needs scales or sizes");
  }
  if (need_roi && roi && p->ctm == CT_TF_CROP_RESIZE) {
    int64_t k = vrt_tensor_numel(roi);
    if (k != 2 * na) return NN_ERR(n, VRT_ESHAPE, "roi must have %d elements", 2 * na);
    for (int i = 0; i < na; i++) {
      g->roi_start[axes[i]] = vrt__get_f64(roi, i);
      g->roi_end[axes[i]] = vrt__get_f64(roi, na + i);
    }
  }
  return 0;
}

/* float32 for every mode; nearest (a pure gather) also for any other
 * fixed-size dtype, except with tf_crop_and_resize's float extrapolation. */
static int rs_dtype_ok(const rs_params *p, vrt_dtype t) {
  if (t == VRT_F32) return 1;
  return p->mode == RS_NEAREST && p->ctm != CT_TF_CROP_RESIZE && vrt_dtype_size(t) > 0;
}

static int rs_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  const rs_params *p = n->params;
  if (!rs_dtype_ok(p, in[0]->dtype))
    return NN_ERR(n, VRT_ETYPE, "dtype %s is not supported in this mode", vrt_dtype_name(in[0]->dtype));
  rs_geom g;
  int rc = rs_geom_get(n, in, nin, &g, false);
  if (rc) return rc;
  out[0].dtype = in[0]->dtype;
  out[0].ndim = g.ndim;
  memcpy(out[0].dims, g.out, sizeof(int64_t) * g.ndim);
  return 0;
}

/* The formulas use the unrounded output length in * scale, as ONNX's
 * reference does (it differs from the integer length when scales are
 * given). */
static double to_original(const rs_params *p, const rs_geom *g, int a, int64_t xr) {
  double s = g->scale[a], x = (double)xr, lin = (double)g->in[a], lout = s * lin;
  switch (p->ctm) {
    case CT_HALF_PIXEL: return (x + 0.5) / s - 0.5;
    case CT_HALF_PIXEL_SYM: {
      double adj = lout / (s * lin), center = lin / 2;
      return center * (1 - adj) + (x + 0.5) / s - 0.5;
    }
    case CT_PYTORCH_HALF_PIXEL: return lout > 1 ? (x + 0.5) / s - 0.5 : 0;
    case CT_ALIGN_CORNERS: return lout == 1 ? 0 : x * (lin - 1) / (lout - 1);
    case CT_ASYMMETRIC: return x / s;
    case CT_TF_HALF_PIXEL_NN: return (x + 0.5) / s;
    case CT_TF_CROP_RESIZE: {
      double st = g->roi_start[a], en = g->roi_end[a];
      return lout > 1 ? st * (lin - 1) + x * (en - st) * (lin - 1) / (lout - 1) : 0.5 * (st + en) * (lin - 1);
    }
  }
  return x;
}

static int64_t nearest_index(int mode, double x) {
  double f = floor(x);
  switch (mode) {
    case NM_ROUND_PREFER_FLOOR: return (int64_t)(x - f == 0.5 ? f : nearbyint(x));
    case NM_ROUND_PREFER_CEIL: return (int64_t)(x - f == 0.5 ? f + 1 : nearbyint(x));
    case NM_FLOOR: return (int64_t)f;
    default: return (int64_t)ceil(x);
  }
}

static int64_t clampi(int64_t v, int64_t hi) { return v < 0 ? 0 : (v > hi ? hi : v); }

/* Taps of axis a: idx/w hold ntap entries per output index, ext marks
 * outputs that take extrapolation_value. Returns true when the mapping is the
 * identity (the pass can be skipped). */
static bool axis_taps(const rs_params *p, const rs_geom *g, int a, int ntap, int64_t *idx, float *w, uint8_t *ext) {
  int64_t lin = g->in[a], lout = g->out[a];
  bool ident = lin == lout;
  for (int64_t o = 0; o < lout; o++) {
    double x = to_original(p, g, a, o);
    int64_t *ti = idx + o * ntap;
    float *tw = w + o * ntap;
    ext[o] = p->ctm == CT_TF_CROP_RESIZE && (x < 0 || x > (double)(lin - 1));
    if (ext[o]) ident = false;
    if (p->mode == RS_NEAREST) {
      ti[0] = clampi(nearest_index(p->nearest, x), lin - 1);
      tw[0] = 1;
    } else if (p->mode == RS_LINEAR) {
      double xc = x < 0 ? 0 : (x > (double)(lin - 1) ? (double)(lin - 1) : x);
      int64_t x0 = (int64_t)floor(xc);
      double t = xc - (double)x0;
      ti[0] = clampi(x0, lin - 1);
      ti[1] = clampi(x0 + 1, lin - 1);
      tw[0] = (float)(1 - t);
      tw[1] = (float)t;
    } else {
      double A = p->cubic_a, f = floor(x), t = x - f;
      double c[4] = {((A * (t + 1) - 5 * A) * (t + 1) + 8 * A) * (t + 1) - 4 * A,
                     ((A + 2) * t - (A + 3)) * t * t + 1, ((A + 2) * (1 - t) - (A + 3)) * (1 - t) * (1 - t) + 1,
                     ((A * (2 - t) - 5 * A) * (2 - t) + 8 * A) * (2 - t) - 4 * A};
      double sum = 0;
      for (int k = 0; k < 4; k++) {
        int64_t i = (int64_t)f - 1 + k;
        if (p->exclude_outside && (i < 0 || i >= lin)) c[k] = 0;
        sum += c[k];
        ti[k] = clampi(i, lin - 1);
      }
      for (int k = 0; k < 4; k++) tw[k] = (float)(p->exclude_outside && sum != 0 ? c[k] / sum : c[k]);
    }
    if (ident) {
      for (int k = 0; k < ntap; k++)
        if (tw[k] != 0 && (ti[k] != o || tw[k] != 1)) ident = false;
    }
  }
  return ident;
}

/* y[o][j][i] = ext[j] ? ev : sum_k w[j][k] * x[o][idx[j][k]][i] */
static void apply_axis(const float *x, float *y, int64_t outer, int64_t lin, int64_t lout, int64_t inner, int ntap,
                       const int64_t *idx, const float *w, const uint8_t *ext, float ev) {
  if (inner == 1) { /* the last axis: a gather per element, no row copies */
    for (int64_t o = 0; o < outer; o++) {
      const float *xo = x + o * lin;
      float *yo = y + o * lout;
      for (int64_t j = 0; j < lout; j++) {
        const int64_t *ti = idx + j * ntap;
        const float *tw = w + j * ntap;
        float v = 0;
        for (int k = 0; k < ntap; k++)
          if (tw[k] != 0) v += tw[k] * xo[ti[k]]; /* skip: 0 * inf would be nan */
        yo[j] = ext[j] ? ev : v;
      }
    }
    return;
  }
  for (int64_t o = 0; o < outer; o++) {
    const float *xo = x + o * lin * inner;
    float *yo = y + o * lout * inner;
    for (int64_t j = 0; j < lout; j++) {
      float *yr = yo + j * inner;
      if (ext[j]) {
        for (int64_t i = 0; i < inner; i++) yr[i] = ev;
        continue;
      }
      const int64_t *ti = idx + j * ntap;
      const float *tw = w + j * ntap;
      if (ntap == 1) {
        memcpy(yr, xo + ti[0] * inner, sizeof(float) * (size_t)inner);
        continue;
      }
      for (int64_t i = 0; i < inner; i++) yr[i] = 0;
      for (int k = 0; k < ntap; k++) {
        const float *xr = xo + ti[k] * inner;
        float wk = tw[k];
        if (wk == 0) continue;
        for (int64_t i = 0; i < inner; i++) yr[i] += wk * xr[i];
      }
    }
  }
}

/* Nearest gather along one axis for elements of esz bytes. */
static void apply_axis_bytes(const char *x, char *y, int64_t outer, int64_t lin, int64_t lout, int64_t inner,
                             const int64_t *idx, size_t esz) {
  size_t row = esz * (size_t)inner;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < lout; j++) memcpy(y + (o * lout + j) * row, x + (o * lin + idx[j]) * row, row);
}

static int rs_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                   vrt_exec_ctx *ctx) {
  const rs_params *p = n->params;
  rs_geom g;
  int rc = rs_geom_get(n, in, nin, &g, true);
  if (rc) return rc == VRT_ENEEDDATA ? NN_ERR(n, VRT_EINVAL, "scales/sizes have no data") : rc;
  int ntap = p->mode == RS_NEAREST ? 1 : p->mode == RS_LINEAR ? 2 : 4;
  int64_t ny = vrt_tensor_numel(&out[0]);
  if (ny == 0) return 0;
  for (int a = 0; a < g.ndim; a++)
    if (g.in[a] == 0) return NN_ERR(n, VRT_ESHAPE, "cannot resize an empty axis to a non-empty one");
  /* plan the passes, last axis first */
  int64_t cur[VRT_MAX_DIMS], maxn = 0, maxlen = 1;
  memcpy(cur, g.in, sizeof cur);
  for (int a = 0; a < g.ndim; a++) maxlen = g.out[a] > maxlen ? g.out[a] : maxlen;
  for (int a = g.ndim - 1; a >= 0; a--) {
    cur[a] = g.out[a];
    int64_t k = vrt__numel(cur, g.ndim);
    if (k > maxn) maxn = k;
  }
  int64_t *idx = ctx->scratch(ctx, sizeof(int64_t) * (size_t)(maxlen * ntap));
  float *w = ctx->scratch(ctx, sizeof(float) * (size_t)(maxlen * ntap));
  uint8_t *ext = ctx->scratch(ctx, (size_t)maxlen);
  size_t esz = vrt_dtype_size(in[0]->dtype);
  void *buf[2] = {ctx->scratch(ctx, esz * (size_t)maxn), ctx->scratch(ctx, esz * (size_t)maxn)};
  if (!idx || !w || !ext || !buf[0] || !buf[1]) return NN_ERR(n, VRT_ENOMEM, "out of memory for resize scratch");
  const void *src = in[0]->data;
  memcpy(cur, g.in, sizeof cur);
  int which = 0;
  for (int a = g.ndim - 1; a >= 0; a--) {
    if (axis_taps(p, &g, a, ntap, idx, w, ext)) continue;
    int64_t outer = vrt__numel(cur, a), inner = vrt__numel(cur + a + 1, g.ndim - a - 1);
    void *dst = buf[which];
    if (in[0]->dtype == VRT_F32)
      apply_axis(src, dst, outer, cur[a], g.out[a], inner, ntap, idx, w, ext, p->extrap);
    else
      apply_axis_bytes(src, dst, outer, cur[a], g.out[a], inner, idx, esz);
    cur[a] = g.out[a];
    src = dst;
    which ^= 1;
  }
  memcpy(out[0].data, src, esz * (size_t)ny);
  return 0;
}

const vrt_opdef vrt__op_Resize = {
    .op = VRT_OP_Resize, .prepare = rs_prepare, .infer = rs_infer, .exec = rs_exec, .min_inputs = 1, .max_inputs = 4,
};
const vrt_opdef vrt__op_Upsample = {
    .op = VRT_OP_Upsample, .prepare = rs_prepare, .infer = rs_infer, .exec = rs_exec,
    .min_inputs = 1, .max_inputs = 2,
};
