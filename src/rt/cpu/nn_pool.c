/* Pooling: MaxPool (with optional Indices), AveragePool, LpPool and the
 * global pools, NCHW or NHWC ("vrt_layout"), 1-3 spatial dims, honouring
 * pads, auto_pad, strides, dilations, ceil_mode and count_include_pad. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "nn.h"

static int pool_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  const nn_conv_params *p = n->params;
  nn_geom g;
  int rc = nn_pool_geom(n, p, in[0], &g);
  if (rc) return rc;
  vrt_dtype dt = in[0]->dtype;
  bool ok = dt == VRT_F32 || dt == VRT_F64 ||
            (n->op == VRT_OP_MaxPool && (dt == VRT_U8 || dt == VRT_I8 || dt == VRT_I32 || dt == VRT_I64));
  if (!ok) return NN_ERR(n, VRT_ETYPE, "unsupported dtype %s", vrt_dtype_name(dt));
  if (n->op == VRT_OP_LpPool && p->p < 1) return NN_ERR(n, VRT_EINVAL, "p must be >= 1");
  out[0].dtype = dt;
  out[0].ndim = in[0]->ndim;
  nn_layout_dims(p->layout, g.nsp, g.N, g.C, g.out, out[0].dims);
  if (nout > 1) {
    out[1] = out[0];
    out[1].dtype = VRT_I64;
  }
  return 0;
}

/* Loops over every output element; BODY sees the input base pointer of the
 * (n, c) plane as xp and the window start i0s/i1s/i2s. */
#define POOL_LOOP(...)                                                                                     \
  do {                                                                                                      \
    int64_t xsn, xsc, xs[3], ysn, ysc, ys[3];                                                               \
    nn_layout_strides(g->layout, g->C, g->in, &xsn, &xsc, xs);                                              \
    nn_layout_strides(g->layout, g->C, g->out, &ysn, &ysc, ys);                                             \
    for (int64_t b = 0; b < g->N; b++)                                                                      \
      for (int64_t c = 0; c < g->C; c++)                                                                    \
        for (int64_t o0 = 0; o0 < g->out[0]; o0++)                                                          \
          for (int64_t o1 = 0; o1 < g->out[1]; o1++)                                                        \
            for (int64_t o2 = 0; o2 < g->out[2]; o2++) {                                                    \
              int64_t yi = b * ysn + c * ysc + o0 * ys[0] + o1 * ys[1] + o2 * ys[2];                        \
              int64_t xb = b * xsn + c * xsc;                                                               \
              int64_t i0s = o0 * g->s[0] - g->pb[0], i1s = o1 * g->s[1] - g->pb[1],                          \
                      i2s = o2 * g->s[2] - g->pb[2];                                                        \
              __VA_ARGS__                                                                                          \
            }                                                                                               \
  } while (0)

/* Iterates the in-range taps of the window: i0, i1, i2 and the input index xi. */
#define WINDOW(...)                                                                \
  for (int64_t q0 = 0; q0 < g->k[0]; q0++) {                                       \
    int64_t i0 = i0s + q0 * g->d[0];                                               \
    if (i0 < 0 || i0 >= g->in[0]) continue;                                        \
    for (int64_t q1 = 0; q1 < g->k[1]; q1++) {                                     \
      int64_t i1 = i1s + q1 * g->d[1];                                             \
      if (i1 < 0 || i1 >= g->in[1]) continue;                                      \
      for (int64_t q2 = 0; q2 < g->k[2]; q2++) {                                   \
        int64_t i2 = i2s + q2 * g->d[2];                                           \
        if (i2 < 0 || i2 >= g->in[2]) continue;                                    \
        int64_t xi = xb + i0 * xs[0] + i1 * xs[1] + i2 * xs[2];                    \
        __VA_ARGS__                                                                        \
      }                                                                            \
    }                                                                              \
  }

/* ONNX Indices: flat index into the NCHW input, row major (storage_order 0)
 * or with the last two spatial axes swapped (column major). */
#define MAXPOOL_FN(NAME, T, LOWEST)                                                                           \
  static void NAME(const nn_geom *g, int order, const T *x, T *y, int64_t *idx) {                             \
    POOL_LOOP({                                                                                               \
      T best = LOWEST;                                                                                        \
      int64_t bi = -1;                                                                                        \
      WINDOW(if (bi < 0 || x[xi] > best) {                                                                    \
        best = x[xi];                                                                                         \
        bi = order ? ((b * g->C + c) * g->in[0] + i0) * g->in[1] * g->in[2] + i2 * g->in[1] + i1             \
                   : (((b * g->C + c) * g->in[0] + i0) * g->in[1] + i1) * g->in[2] + i2;                      \
      })                                                                                                      \
      y[yi] = best;                                                                                           \
      if (idx) idx[yi] = bi < 0 ? 0 : bi;                                                                     \
    });                                                                                                       \
  }

MAXPOOL_FN(maxpool_f32, float, -FLT_MAX)
MAXPOOL_FN(maxpool_f64, double, -DBL_MAX)
MAXPOOL_FN(maxpool_u8, uint8_t, 0)
MAXPOOL_FN(maxpool_i8, int8_t, INT8_MIN)
MAXPOOL_FN(maxpool_i32, int32_t, INT32_MIN)
MAXPOOL_FN(maxpool_i64, int64_t, INT64_MIN)

/* Taps of one pooling axis inside the padded input (count_include_pad). */
static int64_t padded_taps(int64_t start, int64_t k, int64_t d, int64_t in, int64_t pb, int64_t pe) {
  int64_t c = 0;
  for (int64_t q = 0; q < k; q++) {
    int64_t i = start + q * d;
    c += i >= -pb && i < in + pe;
  }
  return c;
}

/* NHWC float32 max/average pooling: channels innermost, so every tap is one
 * contiguous (vectorisable) pass over C values. */
static void pool_nhwc_f32(const nn_geom *g, bool is_max, int incl, const float *x, float *y) {
  int64_t C = g->C;
  for (int64_t b = 0; b < g->N; b++)
    for (int64_t o0 = 0; o0 < g->out[0]; o0++)
      for (int64_t o1 = 0; o1 < g->out[1]; o1++)
        for (int64_t o2 = 0; o2 < g->out[2]; o2++) {
          float *yp = y + (((b * g->out[0] + o0) * g->out[1] + o1) * g->out[2] + o2) * C;
          int64_t i0s = o0 * g->s[0] - g->pb[0], i1s = o1 * g->s[1] - g->pb[1], i2s = o2 * g->s[2] - g->pb[2];
          for (int64_t c = 0; c < C; c++) yp[c] = is_max ? -FLT_MAX : 0;
          int64_t cnt = 0;
          for (int64_t q0 = 0; q0 < g->k[0]; q0++) {
            int64_t i0 = i0s + q0 * g->d[0];
            if (i0 < 0 || i0 >= g->in[0]) continue;
            for (int64_t q1 = 0; q1 < g->k[1]; q1++) {
              int64_t i1 = i1s + q1 * g->d[1];
              if (i1 < 0 || i1 >= g->in[1]) continue;
              for (int64_t q2 = 0; q2 < g->k[2]; q2++) {
                int64_t i2 = i2s + q2 * g->d[2];
                if (i2 < 0 || i2 >= g->in[2]) continue;
                const float *xp = x + (((b * g->in[0] + i0) * g->in[1] + i1) * g->in[2] + i2) * C;
                if (is_max)
                  for (int64_t c = 0; c < C; c++) yp[c] = xp[c] > yp[c] ? xp[c] : yp[c];
                else
                  for (int64_t c = 0; c < C; c++) yp[c] += xp[c];
                cnt++;
              }
            }
          }
          if (is_max) continue;
          if (incl)
            cnt = padded_taps(i0s, g->k[0], g->d[0], g->in[0], g->pb[0], g->pe[0]) *
                  padded_taps(i1s, g->k[1], g->d[1], g->in[1], g->pb[1], g->pe[1]) *
                  padded_taps(i2s, g->k[2], g->d[2], g->in[2], g->pb[2], g->pe[2]);
          float inv = cnt ? 1.0f / (float)cnt : 0.0f;
          for (int64_t c = 0; c < C; c++) yp[c] *= inv;
        }
}

/* NCHW float32 MaxPool over (at most) two spatial axes without Indices,
 * the fallback when oneDNN refuses a pool: per output row, the max over
 * the window's input rows first (contiguous, vectorisable passes), into a
 * row padded with -FLT_MAX on both sides so that the pass over each
 * window's columns needs no bounds checks. row holds W plus both pads. */
static void maxpool2d_nchw_f32(const nn_geom *g, const float *x, float *y, float *row, int64_t lpad, int64_t rpad) {
  int64_t H = g->in[1], W = g->in[2], OH = g->out[1], OW = g->out[2];
  int64_t kh = g->k[1], kw = g->k[2], sh = g->s[1], sw = g->s[2], dh = g->d[1], dw = g->d[2];
  float *r = row + lpad;
  for (int64_t i = 0; i < lpad; i++) row[i] = -FLT_MAX;
  for (int64_t i = 0; i < rpad; i++) r[W + i] = -FLT_MAX;
  for (int64_t p = 0; p < g->N * g->C; p++) {
    const float *xp = x + p * H * W;
    float *yr = y + p * OH * OW;
    for (int64_t oh = 0; oh < OH; oh++, yr += OW) {
      int64_t h0 = oh * sh - g->pb[1], taps = 0;
      for (int64_t q = 0; q < kh; q++) {
        int64_t h = h0 + q * dh;
        if (h < 0 || h >= H) continue;
        const float *xr = xp + h * W;
        if (taps++ == 0) memcpy(r, xr, sizeof *r * (size_t)W);
        else
          for (int64_t w = 0; w < W; w++) r[w] = xr[w] > r[w] ? xr[w] : r[w];
      }
      if (!taps) { /* a window wholly in the pads (possible with dilations) */
        for (int64_t o = 0; o < OW; o++) yr[o] = -FLT_MAX;
        continue;
      }
      const float *rw = r - g->pb[2];
      for (int64_t o = 0; o < OW; o++, rw += sw) {
        float m = rw[0];
        for (int64_t q = 1; q < kw; q++) m = rw[q * dw] > m ? rw[q * dw] : m;
        yr[o] = m;
      }
    }
  }
}

/* MaxPool of x (dtype dt) into y, with the Indices output when idx. */
static int maxpool_run(const vrt_node *n, const nn_geom *g, vrt_dtype dt, const void *x, void *y, int64_t *idx,
                       vrt_exec_ctx *ctx) {
  int order = ((const nn_conv_params *)n->params)->storage_order;
  if (g->layout == 1 && dt == VRT_F32 && !idx) {
    pool_nhwc_f32(g, true, 0, x, y);
    return 0;
  }
  if (g->layout == 0 && dt == VRT_F32 && !idx && g->k[0] == 1 && g->in[0] == 1 && g->out[0] == 1 && g->pb[0] == 0 &&
      g->out[2] > 0) {
    /* the columns the windows reach left of 0 and right of W - 1 */
    int64_t last = (g->out[2] - 1) * g->s[2] - g->pb[2] + (g->k[2] - 1) * g->d[2];
    int64_t lpad = g->pb[2], rpad = last >= g->in[2] ? last - g->in[2] + 1 : 0;
    float *row = ctx->scratch(ctx, sizeof(float) * (size_t)(lpad + g->in[2] + rpad));
    if (!row) return NN_ERR(n, VRT_ENOMEM, "out of memory");
    maxpool2d_nchw_f32(g, x, y, row, lpad, rpad);
    return 0;
  }
  switch (dt) {
    case VRT_F32: maxpool_f32(g, order, x, y, idx); break;
    case VRT_F64: maxpool_f64(g, order, x, y, idx); break;
    case VRT_U8: maxpool_u8(g, order, x, y, idx); break;
    case VRT_I8: maxpool_i8(g, order, x, y, idx); break;
    case VRT_I32: maxpool_i32(g, order, x, y, idx); break;
    case VRT_I64: maxpool_i64(g, order, x, y, idx); break;
    default: return NN_ERR(n, VRT_ETYPE, "unsupported dtype");
  }
  return 0;
}

/* count_include_pad counts the taps inside the padded input (not the
 * ceil_mode overhang beyond the end pad); otherwise only in-range taps. */
#define AVGPOOL_FN(NAME, T)                                                                          \
  static void NAME(const nn_geom *g, int incl, const T *x, T *y) {                                    \
    POOL_LOOP({                                                                                       \
      double sum = 0;                                                                                 \
      int64_t cnt = 0;                                                                                \
      WINDOW(sum += x[xi]; cnt++;)                                                                    \
      if (incl)                                                                                       \
        cnt = padded_taps(i0s, g->k[0], g->d[0], g->in[0], g->pb[0], g->pe[0]) *                      \
              padded_taps(i1s, g->k[1], g->d[1], g->in[1], g->pb[1], g->pe[1]) *                      \
              padded_taps(i2s, g->k[2], g->d[2], g->in[2], g->pb[2], g->pe[2]);                       \
      y[yi] = cnt ? (T)(sum / (double)cnt) : (T)0;                                                    \
    });                                                                                               \
  }

AVGPOOL_FN(avgpool_f32, float)
AVGPOOL_FN(avgpool_f64, double)


#define LPPOOL_FN(NAME, T)                                                       \
  static void NAME(const nn_geom *g, double pw, const T *x, T *y) {               \
    POOL_LOOP({                                                                   \
      double sum = 0;                                                             \
      WINDOW(sum += pow(fabs((double)x[xi]), pw);)                                \
      y[yi] = (T)pow(sum, 1.0 / pw);                                              \
    });                                                                           \
  }

LPPOOL_FN(lppool_f32, float)
LPPOOL_FN(lppool_f64, double)

static int pool_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                     vrt_exec_ctx *ctx) {
  const nn_conv_params *p = n->params;
  nn_geom g;
  int rc = nn_pool_geom(n, p, in[0], &g);
  if (rc) return rc;
  const void *x = in[0]->data;
  void *y = out[0].data;
  bool f32 = in[0]->dtype == VRT_F32;
  if (n->op == VRT_OP_MaxPool) return maxpool_run(n, &g, in[0]->dtype, x, y, nout > 1 ? out[1].data : NULL, ctx);
  if (n->op == VRT_OP_LpPool && f32) lppool_f32(&g, (double)p->p, x, y);
  else if (n->op == VRT_OP_LpPool) lppool_f64(&g, (double)p->p, x, y);
  else if (g.layout == 1 && f32) pool_nhwc_f32(&g, false, p->count_include_pad, x, y);
  else if (f32) avgpool_f32(&g, p->count_include_pad, x, y);
  else avgpool_f64(&g, p->count_include_pad, x, y);
  return 0;
}

const vrt_opdef vrt__op_MaxPool = {VRT_OP_MaxPool, nn_conv_prepare, pool_infer, pool_exec, 0, 1, 1};
const vrt_opdef vrt__op_AveragePool = {VRT_OP_AveragePool, nn_conv_prepare, pool_infer, pool_exec, 0, 1, 1};
const vrt_opdef vrt__op_LpPool = {VRT_OP_LpPool, nn_conv_prepare, pool_infer, pool_exec, 0, 1, 1};

/* ---- global pools ---------------------------------------------------------- */

static int gpool_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  nn_geom g;
  int layout = (int)vrt_attr_int(n, "vrt_layout", 0);
  int rc = nn_read_nchw(n, in[0], layout, &g);
  if (rc) return rc;
  if (in[0]->dtype != VRT_F32 && in[0]->dtype != VRT_F64)
    return NN_ERR(n, VRT_ETYPE, "unsupported dtype %s", vrt_dtype_name(in[0]->dtype));
  int64_t one[3] = {1, 1, 1};
  out[0].dtype = in[0]->dtype;
  out[0].ndim = in[0]->ndim;
  nn_layout_dims(layout, g.nsp, g.N, g.C, one, out[0].dims);
  return 0;
}

#define GPOOL_FN(NAME, T, INIT, ACC, FIN)                                             \
  static void NAME(int64_t N, int64_t C, int64_t P, int layout, const T *x, T *y) {   \
    for (int64_t b = 0; b < N; b++)                                                   \
      for (int64_t c = 0; c < C; c++) {                                               \
        const T *xp = layout == 0 ? x + (b * C + c) * P : x + b * P * C + c;          \
        int64_t st = layout == 0 ? 1 : C;                                             \
        double a = INIT;                                                              \
        for (int64_t i = 0; i < P; i++) {                                             \
          double v = xp[i * st];                                                      \
          ACC;                                                                        \
        }                                                                             \
        y[b * C + c] = (T)(FIN);                                                      \
      }                                                                               \
  }

GPOOL_FN(gavg_f32, float, 0, a += v, P ? a / (double)P : 0)
GPOOL_FN(gavg_f64, double, 0, a += v, P ? a / (double)P : 0)
GPOOL_FN(gmax_f32, float, -INFINITY, a = v > a ? v : a, a)
GPOOL_FN(gmax_f64, double, -INFINITY, a = v > a ? v : a, a)

static int gpool_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                      vrt_exec_ctx *ctx) {
  nn_geom g;
  int layout = (int)vrt_attr_int(n, "vrt_layout", 0);
  int rc = nn_read_nchw(n, in[0], layout, &g);
  if (rc) return rc;
  int64_t P = g.in[0] * g.in[1] * g.in[2];
  bool avg = n->op == VRT_OP_GlobalAveragePool;
  if (in[0]->dtype == VRT_F32)
    (avg ? gavg_f32 : gmax_f32)(g.N, g.C, P, layout, in[0]->data, out[0].data);
  else
    (avg ? gavg_f64 : gmax_f64)(g.N, g.C, P, layout, in[0]->data, out[0].data);
  return 0;
}

const vrt_opdef vrt__op_GlobalAveragePool = {
    .op = VRT_OP_GlobalAveragePool, .infer = gpool_infer, .exec = gpool_exec, .min_inputs = 1, .max_inputs = 1,
};
const vrt_opdef vrt__op_GlobalMaxPool = {
    .op = VRT_OP_GlobalMaxPool, .infer = gpool_infer, .exec = gpool_exec, .min_inputs = 1, .max_inputs = 1,
};

/* ---- MaxUnpool --------------------------------------------------------------------
 * Scatters X into zeros at the flat positions I (MaxPool's Indices). The
 * output shape is output_shape when given, else the inverse pool size
 * (in - 1) * stride + kernel - pads. */

static int unpool_shape(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *o, bool dflt) {
  const nn_conv_params *p = n->params;
  nn_geom g;
  int rc = nn_read_nchw(n, in[0], 0, &g);
  if (rc) return rc;
  if (in[1]->dtype != VRT_I64 || !vrt__same_shape(in[0], in[1]))
    return NN_ERR(n, VRT_ESHAPE, "indices must be int64 with the shape of X");
  if (in[0]->dtype != VRT_F32 && in[0]->dtype != VRT_F64)
    return NN_ERR(n, VRT_ETYPE, "unsupported dtype %s", vrt_dtype_name(in[0]->dtype));
  o->dtype = in[0]->dtype;
  o->ndim = in[0]->ndim;
  const vrt_tensor *os = nin > 2 ? in[2] : NULL;
  if (!dflt && os && vrt_tensor_numel(os) > 0) {
    if (!os->data) return VRT_ENEEDDATA;
    if (os->dtype != VRT_I64 || vrt_tensor_numel(os) != in[0]->ndim)
      return NN_ERR(n, VRT_ESHAPE, "output_shape must be int64 with %d elements", in[0]->ndim);
    for (int i = 0; i < in[0]->ndim; i++) {
      o->dims[i] = ((const int64_t *)os->data)[i];
      if (o->dims[i] < 0 || o->dims[i] > (INT64_C(1) << 32)) return NN_ERR(n, VRT_ESHAPE, "bad output_shape");
    }
    return 0;
  }
  if (p->nk != g.nsp || (p->nstrides && p->nstrides != g.nsp) || (p->npads && p->npads != 2 * g.nsp))
    return NN_ERR(n, VRT_EINVAL, "kernel_shape/strides/pads do not match the input rank");
  o->dims[0] = in[0]->dims[0];
  o->dims[1] = in[0]->dims[1];
  for (int i = 0; i < g.nsp; i++) {
    int64_t s = p->nstrides ? p->strides[i] : 1;
    int64_t pads = p->npads ? p->pads[i] + p->pads[i + g.nsp] : 0;
    o->dims[2 + i] = (in[0]->dims[2 + i] - 1) * s + p->kernel[i] - pads;
    if (o->dims[2 + i] < 0) return NN_ERR(n, VRT_ESHAPE, "negative output size");
  }
  return 0;
}

static int unpool_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  return unpool_shape(n, in, nin, &out[0], false);
}

/* The indices are flat positions in the default output shape; with an
 * explicit output_shape each is re-encoded into that shape. */
static int unpool_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                       vrt_exec_ctx *ctx) {
  vrt_tensor def;
  memset(&def, 0, sizeof def);
  int rc = unpool_shape(n, in, nin, &def, true);
  if (rc) return rc;
  int nd = out[0].ndim;
  int64_t ny = vrt_tensor_numel(&out[0]), nx = vrt_tensor_numel(in[0]), nd_def = vrt_tensor_numel(&def);
  size_t es = vrt_dtype_size(out[0].dtype);
  memset(out[0].data, 0, es * (size_t)ny);
  int64_t *pos = ctx->scratch(ctx, sizeof(int64_t) * (size_t)(nx ? nx : 1));
  if (!pos) return NN_ERR(n, VRT_ENOMEM, "out of memory");
  const int64_t *idx = in[1]->data;
  bool same = vrt__same_shape(&def, &out[0]);
  for (int64_t i = 0; i < nx; i++) {
    int64_t v = idx[i];
    if (v < 0 || v >= nd_def) return NN_ERR(n, VRT_EINVAL, "index %lld out of range", (long long)v);
    if (!same) {
      int64_t r = 0, st = 1;
      for (int a = nd - 1; a >= 0; a--) {
        int64_t c = v % def.dims[a];
        v /= def.dims[a];
        if (c >= out[0].dims[a]) return NN_ERR(n, VRT_EINVAL, "index falls outside output_shape");
        r += c * st;
        st *= out[0].dims[a];
      }
      v = r;
    }
    pos[i] = v;
  }
  if (out[0].dtype == VRT_F32) {
    const float *x = in[0]->data;
    float *y = out[0].data;
    for (int64_t i = 0; i < nx; i++) y[pos[i]] = x[i];
  } else {
    const double *x = in[0]->data;
    double *y = out[0].data;
    for (int64_t i = 0; i < nx; i++) y[pos[i]] = x[i];
  }
  return 0;
}

const vrt_opdef vrt__op_MaxUnpool = {
    .op = VRT_OP_MaxUnpool, .prepare = nn_conv_prepare, .infer = unpool_infer, .exec = unpool_exec,
    .flags = VRT_OPF_DATA_DEPENDENT, .min_inputs = 2, .max_inputs = 3,
};
