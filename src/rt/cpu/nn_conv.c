/* Conv and ConvTranspose, NCHW or NHWC ("vrt_layout"), 1-3 spatial dims.
 *
 * Reference: one direct loop nest for both layouts (nn_conv_direct_f32 in
 * nn.c, shared with the integer convolutions; the layout only changes
 * the element strides), the oracle for everything else.
 *
 * Fast path (default; VRT_REFERENCE=1 disables it):
 *   - depthwise (one input channel per group): direct loops ordered so the
 *     innermost loop runs over contiguous memory (output columns in NCHW,
 *     channels in NHWC), no bounds checks inside;
 *   - everything else with 1-2 spatial dims: im2col into a bounded scratch
 *     tile (skipped for 1x1/stride 1/no pad) and oneDNN's dnnl_sgemm, which
 *     dispatches AVX2/AVX-512 at run time;
 *   - ConvTranspose: dnnl_sgemm into a column tile, then col2im scatter-add.
 * Why sgemm instead of oneDNN conv primitives: a primitive is specific to one
 * shape and must be cached per shape behind a lock, because a model (and so
 * the node) is shared by all threads while exec only sees a const node;
 * sgemm needs no state, so there is nothing to cache or lock, and the
 * scratch comes from the session's per-run allocator. */
#include <dnnl.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"

#define TILE_FLOATS (1 << 18) /* im2col / col2im tile: about 1 MiB, cache-sized */

static int sgemm(const vrt_node *n, char ta, char tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                 const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
  if (M <= 0 || N <= 0) return 0;
  if (K <= 0) {
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0 ? 0 : beta * C[i * ldc + j];
    return 0;
  }
  dnnl_status_t st = dnnl_sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
  if (st != dnnl_success) return NN_ERR(n, VRT_EINVAL, "dnnl_sgemm failed (status %d)", (int)st);
  return 0;
}

/* ---- shared: checks, bias, activation ------------------------------------ */

static int conv_check_common(const vrt_node *n, const vrt_tensor *const *in, int nin, int64_t M) {
  if (in[0]->dtype != VRT_F32 || in[1]->dtype != VRT_F32)
    return NN_ERR(n, VRT_ETYPE, "only float32 data and weights are supported");
  if (nin > 2 && in[2]) {
    if (in[2]->dtype != VRT_F32 || vrt_tensor_numel(in[2]) != M)
      return NN_ERR(n, VRT_ESHAPE, "bias must be float32 with %lld elements", (long long)M);
  }
  return 0;
}

static void bias_act(const nn_geom *g, float *y, const float *bias, const nn_act *a, const float *slope,
                     int64_t ns) {
  int64_t P = g->out[0] * g->out[1] * g->out[2];
  if (g->layout == 0) nn_bias_act(y, g->N, g->M, P, bias, a, slope, ns);
  else nn_bias_act(y, g->N * P, g->M, 1, bias, a, slope, ns);
}

/* y = act(y + bias + res): res is the residual that the fusion pass folded
 * in from a following Add (input 4, the output's shape), NULL when none. */
static void finish(const nn_geom *g, float *y, const float *bias, const nn_act *a, const float *slope, int64_t ns,
                   const float *res) {
  if (!res) {
    bias_act(g, y, bias, a, slope, ns);
    return;
  }
  bias_act(g, y, bias, NULL, NULL, 0);
  int64_t total = g->N * g->M * g->out[0] * g->out[1] * g->out[2];
  for (int64_t i = 0; i < total; i++) y[i] += res[i];
  bias_act(g, y, NULL, a, slope, ns);
}

/* The fused residual (input 4) must have the output's shape exactly. */
static int check_residual(const vrt_node *n, const vrt_tensor *const *in, int nin, const vrt_tensor *out) {
  if (nin <= 4 || !in[4]) return 0;
  if (in[4]->dtype != VRT_F32 || !vrt__same_shape(in[4], out))
    return NN_ERR(n, VRT_ESHAPE, "fused residual must be float32 with the output's shape");
  return 0;
}

/* ---- Conv ------------------------------------------------------------------ */

/* Conv: w is [M, C/group, k...]; ConvTranspose: w is [C, M/group, k...]. */
static int conv_geom(const vrt_node *n, const vrt_tensor *const *in, nn_geom *g) {
  const nn_conv_params *p = n->params;
  return n->op == VRT_OP_ConvTranspose ? nn_convt_geom(n, p, in[0], in[1], g) : nn_conv_geom(n, p, in[0], in[1], g);
}

/* Conv and ConvTranspose (which has no residual input). */
static int conv_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  const nn_conv_params *p = n->params;
  nn_geom g;
  int rc = conv_geom(n, in, &g);
  if (!rc) rc = conv_check_common(n, in, nin, g.M);
  if (rc) return rc;
  out[0].dtype = VRT_F32;
  out[0].ndim = in[0]->ndim;
  nn_layout_dims(p->layout, g.nsp, g.N, g.M, g.out, out[0].dims);
  return check_residual(n, in, nin, &out[0]);
}

/* What both executions read first: the geometry, the bias, and the fused
 * activation with its PRelu slope. */
typedef struct conv_call {
  nn_geom g;
  const float *bias, *slope;
  int64_t ns;
  const nn_act *act;
} conv_call;

static int conv_call_get(const vrt_node *n, const vrt_tensor *const *in, int nin, conv_call *c) {
  const nn_conv_params *p = n->params;
  int rc = conv_geom(n, in, &c->g);
  if (rc) return rc;
  c->bias = nin > 2 && in[2] ? in[2]->data : NULL;
  c->act = &p->act;
  return nn_prelu_slope(n, in, nin, 3, c->g.M, &p->act, &c->slope, &c->ns);
}

/* Valid output range [lo, hi) along one axis for kernel tap offset off:
 * 0 <= o*s + off < in. */
static void tap_range(int64_t off, int64_t s, int64_t in, int64_t out, int64_t *lo, int64_t *hi) {
  int64_t l = off < 0 ? (-off + s - 1) / s : 0;
  int64_t h = in - 1 - off >= 0 ? (in - 1 - off) / s + 1 : 0;
  if (h > out) h = out;
  *lo = l;
  *hi = h < l ? l : h;
}

/* Depthwise (Cg == 1), NCHW: taps outermost, contiguous output rows inside. */
static void dw_nchw(const nn_geom *g, const float *x, const float *w, float *y) {
  int64_t H = g->in[1], W = g->in[2], OH = g->out[1], OW = g->out[2], kh = g->k[1], kw = g->k[2];
  int64_t sh = g->s[1], sw = g->s[2], Mg = g->M / g->group;
  for (int64_t n = 0; n < g->N; n++)
    for (int64_t m = 0; m < g->M; m++) {
      const float *xp = x + (n * g->C + m / Mg) * H * W;
      const float *wp = w + m * kh * kw;
      float *yp = y + (n * g->M + m) * OH * OW;
      memset(yp, 0, sizeof(float) * (size_t)(OH * OW));
      for (int64_t qh = 0; qh < kh; qh++) {
        int64_t hlo, hhi;
        tap_range(qh * g->d[1] - g->pb[1], sh, H, OH, &hlo, &hhi);
        for (int64_t qw = 0; qw < kw; qw++) {
          int64_t off = qw * g->d[2] - g->pb[2], wlo, whi;
          tap_range(off, sw, W, OW, &wlo, &whi);
          float wv = wp[qh * kw + qw];
          for (int64_t oh = hlo; oh < hhi; oh++) {
            const float *xr = xp + (oh * sh + qh * g->d[1] - g->pb[1]) * W + off;
            float *yr = yp + oh * OW;
            if (sw == 1)
              for (int64_t ow = wlo; ow < whi; ow++) yr[ow] += wv * xr[ow];
            else
              for (int64_t ow = wlo; ow < whi; ow++) yr[ow] += wv * xr[ow * sw];
          }
        }
      }
    }
}

/* Depthwise, NHWC: weights reordered to [tap][M] so the inner loop runs over
 * channels. */
static void dw_nhwc(const nn_geom *g, const float *x, const float *w, float *wt, float *y) {
  int64_t H = g->in[1], W = g->in[2], OH = g->out[1], OW = g->out[2], kh = g->k[1], kw = g->k[2];
  int64_t C = g->C, M = g->M, Mg = M / g->group, kk = kh * kw;
  for (int64_t m = 0; m < M; m++)
    for (int64_t q = 0; q < kk; q++) wt[q * M + m] = w[m * kk + q];
  for (int64_t n = 0; n < g->N; n++)
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++) {
        float *yp = y + ((n * OH + oh) * OW + ow) * M;
        memset(yp, 0, sizeof(float) * (size_t)M);
        for (int64_t qh = 0; qh < kh; qh++) {
          int64_t ih = oh * g->s[1] - g->pb[1] + qh * g->d[1];
          if (ih < 0 || ih >= H) continue;
          for (int64_t qw = 0; qw < kw; qw++) {
            int64_t iw = ow * g->s[2] - g->pb[2] + qw * g->d[2];
            if (iw < 0 || iw >= W) continue;
            const float *xp = x + ((n * H + ih) * W + iw) * C;
            const float *wq = wt + (qh * kw + qw) * M;
            if (Mg == 1)
              for (int64_t m = 0; m < M; m++) yp[m] += xp[m] * wq[m];
            else
              for (int64_t m = 0; m < M; m++) yp[m] += xp[m / Mg] * wq[m];
          }
        }
      }
}

static int64_t tile_len(int64_t K, int64_t P) {
  int64_t t = TILE_FLOATS / (K > 0 ? K : 1);
  if (t < 16) t = 16;
  return t < P ? t : P;
}

/* NCHW im2col of one group of one image: col[K][pt] for output pixels
 * p0..p0+pt, K ordered (c, kh, kw) like the OIHW weights. Each row is
 * filled one output row segment at a time: zeros where the tap falls in
 * the padding, a (strided) copy in between. */
static void im2col_nchw(const nn_geom *g, const float *xg, int64_t Cg, int64_t p0, int64_t pt, float *col) {
  int64_t H = g->in[1], W = g->in[2], OW = g->out[2], kh = g->k[1], kw = g->k[2], sw = g->s[2];
  for (int64_t c = 0; c < Cg; c++)
    for (int64_t qh = 0; qh < kh; qh++)
      for (int64_t qw = 0; qw < kw; qw++) {
        float *row = col + ((c * kh + qh) * kw + qw) * pt;
        int64_t off = qw * g->d[2] - g->pb[2], lo, hi;
        tap_range(off, sw, W, OW, &lo, &hi);
        for (int64_t i = 0, p = p0; i < pt;) {
          int64_t oh = p / OW, ow0 = p % OW, len = OW - ow0 < pt - i ? OW - ow0 : pt - i, ow1 = ow0 + len;
          int64_t ih = oh * g->s[1] - g->pb[1] + qh * g->d[1];
          float *dst = row + i - ow0; /* indexed by ow */
          if (ih < 0 || ih >= H) {
            memset(dst + ow0, 0, sizeof(float) * (size_t)len);
          } else {
            const float *xr = xg + c * H * W + ih * W + off;
            /* zeros on [ow0, a), input on [a, b), zeros on [b, ow1) */
            int64_t a = lo < ow0 ? ow0 : (lo > ow1 ? ow1 : lo);
            int64_t b = hi < a ? a : (hi > ow1 ? ow1 : hi);
            for (int64_t ow = ow0; ow < a; ow++) dst[ow] = 0;
            if (sw == 1) memcpy(dst + a, xr + a, sizeof(float) * (size_t)(b - a));
            else
              for (int64_t ow = a; ow < b; ow++) dst[ow] = xr[ow * sw];
            for (int64_t ow = b; ow < ow1; ow++) dst[ow] = 0;
          }
          i += len;
          p += len;
        }
      }
}

/* NHWC im2col: col[pt][K], K ordered (kh, kw, c); weights are reordered the
 * same way so each tap copies Cg contiguous channels. */
static void im2col_nhwc(const nn_geom *g, const float *xn, int64_t c0, int64_t Cg, int64_t p0, int64_t pt,
                        float *col) {
  int64_t H = g->in[1], W = g->in[2], OW = g->out[2], kh = g->k[1], kw = g->k[2], C = g->C;
  int64_t K = kh * kw * Cg;
  int64_t oh = p0 / OW, ow = p0 % OW;
  for (int64_t i = 0; i < pt; i++) {
    float *dst = col + i * K;
    for (int64_t qh = 0; qh < kh; qh++) {
      int64_t ih = oh * g->s[1] - g->pb[1] + qh * g->d[1];
      for (int64_t qw = 0; qw < kw; qw++) {
        int64_t iw = ow * g->s[2] - g->pb[2] + qw * g->d[2];
        float *d = dst + (qh * kw + qw) * Cg;
        if (ih >= 0 && ih < H && iw >= 0 && iw < W)
          memcpy(d, xn + (ih * W + iw) * C + c0, sizeof(float) * (size_t)Cg);
        else
          memset(d, 0, sizeof(float) * (size_t)Cg);
      }
    }
    if (++ow == OW) {
      ow = 0;
      oh++;
    }
  }
}

static int conv_fast(const vrt_node *n, const nn_geom *g, const float *x, const float *w, float *y,
                     vrt_exec_ctx *ctx) {
  int64_t Cg = g->C / g->group, Mg = g->M / g->group, kh = g->k[1], kw = g->k[2];
  int64_t HW = g->in[1] * g->in[2], P = g->out[1] * g->out[2], K = Cg * kh * kw;
  if (Cg == 1 && g->group > 1) {
    if (g->layout == 0) {
      dw_nchw(g, x, w, y);
      return 0;
    }
    float *wt = ctx->scratch(ctx, sizeof(float) * (size_t)(g->M * kh * kw));
    if (!wt) return NN_ERR(n, VRT_ENOMEM, "out of memory for weights scratch");
    dw_nhwc(g, x, w, wt, y);
    return 0;
  }
  bool pointwise = kh == 1 && kw == 1 && g->s[1] == 1 && g->s[2] == 1 && !g->pb[1] && !g->pb[2] && !g->pe[1] &&
                   !g->pe[2];
  int64_t pt = pointwise ? P : tile_len(K, P);
  int rc = 0;
  if (g->layout == 0) {
    float *col = pointwise ? NULL : ctx->scratch(ctx, sizeof(float) * (size_t)(K * pt));
    if (!pointwise && !col) return NN_ERR(n, VRT_ENOMEM, "out of memory for im2col scratch");
    for (int64_t b = 0; b < g->N && !rc; b++)
      for (int64_t gi = 0; gi < g->group && !rc; gi++) {
        const float *xg = x + (b * g->C + gi * Cg) * HW;
        const float *wg = w + gi * Mg * K;
        float *yg = y + (b * g->M + gi * Mg) * P;
        if (pointwise) {
          rc = sgemm(n, 'N', 'N', Mg, P, K, wg, K, xg, P, 0, yg, P);
          continue;
        }
        for (int64_t p0 = 0; p0 < P && !rc; p0 += pt) {
          int64_t len = P - p0 < pt ? P - p0 : pt;
          im2col_nchw(g, xg, Cg, p0, len, col);
          rc = sgemm(n, 'N', 'N', Mg, len, K, wg, K, col, len, 0, yg + p0, P);
        }
      }
    return rc;
  }
  /* NHWC: weights reordered to [M][kh][kw][Cg] (already so for 1x1) */
  const float *wr = w;
  if (kh * kw > 1) {
    float *t = ctx->scratch(ctx, sizeof(float) * (size_t)(g->M * K));
    if (!t) return NN_ERR(n, VRT_ENOMEM, "out of memory for weights scratch");
    for (int64_t m = 0; m < g->M; m++)
      for (int64_t c = 0; c < Cg; c++)
        for (int64_t q = 0; q < kh * kw; q++) t[m * K + q * Cg + c] = w[m * K + c * kh * kw + q];
    wr = t;
  }
  float *col = pointwise ? NULL : ctx->scratch(ctx, sizeof(float) * (size_t)(K * pt));
  if (!pointwise && !col) return NN_ERR(n, VRT_ENOMEM, "out of memory for im2col scratch");
  for (int64_t b = 0; b < g->N && !rc; b++) {
    const float *xn = x + b * HW * g->C;
    float *yn = y + b * P * g->M;
    for (int64_t gi = 0; gi < g->group && !rc; gi++) {
      const float *wg = wr + gi * Mg * K;
      if (pointwise) {
        rc = sgemm(n, 'N', 'T', P, Mg, K, xn + gi * Cg, g->C, wg, K, 0, yn + gi * Mg, g->M);
        continue;
      }
      for (int64_t p0 = 0; p0 < P && !rc; p0 += pt) {
        int64_t len = P - p0 < pt ? P - p0 : pt;
        im2col_nhwc(g, xn, gi * Cg, Cg, p0, len, col);
        rc = sgemm(n, 'N', 'T', len, Mg, K, col, K, wg, K, 0, yn + p0 * g->M + gi * Mg, g->M);
      }
    }
  }
  return rc;
}

static int conv_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                     vrt_exec_ctx *ctx) {
  conv_call c;
  int rc = conv_call_get(n, in, nin, &c);
  if (rc) return rc;
  float *y = out[0].data;
  const float *res = nin > 4 && in[4] ? in[4]->data : NULL;
  if (vrt_tensor_numel(&out[0]) == 0) return 0;
  if (!nn_use_reference() && c.g.nsp <= 2) {
    nn_set_threads(ctx->threads);
    if ((rc = conv_fast(n, &c.g, in[0]->data, in[1]->data, y, ctx))) return rc;
    finish(&c.g, y, c.bias, c.act, c.slope, c.ns, res);
    return 0;
  }
  nn_conv_direct_f32(&c.g, in[0]->data, in[1]->data, c.bias, y);
  finish(&c.g, y, NULL, c.act, c.slope, c.ns, res);
  return 0;
}

/* Inputs: X, W, B, Prelu slope (fused act), residual (fused Add). */
const vrt_opdef vrt__op_Conv = {
    .op = VRT_OP_Conv, .prepare = nn_conv_prepare, .infer = conv_infer, .exec = conv_exec,
    .min_inputs = 2, .max_inputs = 5,
};

/* ---- ConvTranspose -------------------------------------------------------- */

/* Scatter form of the definition: every input pixel adds its weighted kernel
 * footprint into the output. */
static void convt_ref(const nn_geom *g, const float *x, const float *w, float *y) {
  int64_t xsn, xsc, xs[3], ysn, ysc, ys[3];
  nn_layout_strides(g->layout, g->C, g->in, &xsn, &xsc, xs);
  nn_layout_strides(g->layout, g->M, g->out, &ysn, &ysc, ys);
  int64_t Cg = g->C / g->group, Mg = g->M / g->group, kk = g->k[0] * g->k[1] * g->k[2];
  memset(y, 0, sizeof(float) * (size_t)(g->N * g->M * g->out[0] * g->out[1] * g->out[2]));
  for (int64_t n = 0; n < g->N; n++)
    for (int64_t c = 0; c < g->C; c++)
      for (int64_t i0 = 0; i0 < g->in[0]; i0++)
        for (int64_t i1 = 0; i1 < g->in[1]; i1++)
          for (int64_t i2 = 0; i2 < g->in[2]; i2++) {
            float xv = x[n * xsn + c * xsc + i0 * xs[0] + i1 * xs[1] + i2 * xs[2]];
            for (int64_t m = 0; m < Mg; m++) {
              const float *wk = w + (c * Mg + m) * kk;
              int64_t oc = (c / Cg) * Mg + m;
              for (int64_t q0 = 0; q0 < g->k[0]; q0++) {
                int64_t o0 = i0 * g->s[0] + q0 * g->d[0] - g->pb[0];
                if (o0 < 0 || o0 >= g->out[0]) continue;
                for (int64_t q1 = 0; q1 < g->k[1]; q1++) {
                  int64_t o1 = i1 * g->s[1] + q1 * g->d[1] - g->pb[1];
                  if (o1 < 0 || o1 >= g->out[1]) continue;
                  for (int64_t q2 = 0; q2 < g->k[2]; q2++) {
                    int64_t o2 = i2 * g->s[2] + q2 * g->d[2] - g->pb[2];
                    if (o2 < 0 || o2 >= g->out[2]) continue;
                    y[n * ysn + oc * ysc + o0 * ys[0] + o1 * ys[1] + o2 * ys[2]] +=
                        xv * wk[(q0 * g->k[1] + q1) * g->k[2] + q2];
                  }
                }
              }
            }
          }
}

/* col2im: col element (m, tap, pixel i of the tile) at col[m*cm + tap*cq + i*cp]
 * is added to output channel m of the image at yn (channel stride ysc). */
static void col2im(const nn_geom *g, const float *col, int64_t cm, int64_t cq, int64_t cp, int64_t Mg,
                   int64_t p0, int64_t pt, float *yn, int64_t ysc, const int64_t ys[3]) {
  for (int64_t m = 0; m < Mg; m++)
    for (int64_t q0 = 0; q0 < g->k[0]; q0++)
      for (int64_t q1 = 0; q1 < g->k[1]; q1++)
        for (int64_t q2 = 0; q2 < g->k[2]; q2++) {
          const float *cr = col + m * cm + ((q0 * g->k[1] + q1) * g->k[2] + q2) * cq;
          float *ym = yn + m * ysc;
          int64_t p = p0;
          int64_t i2 = p % g->in[2], i1 = (p / g->in[2]) % g->in[1], i0 = p / (g->in[2] * g->in[1]);
          for (int64_t i = 0; i < pt; i++) {
            int64_t o0 = i0 * g->s[0] + q0 * g->d[0] - g->pb[0];
            int64_t o1 = i1 * g->s[1] + q1 * g->d[1] - g->pb[1];
            int64_t o2 = i2 * g->s[2] + q2 * g->d[2] - g->pb[2];
            if (o0 >= 0 && o0 < g->out[0] && o1 >= 0 && o1 < g->out[1] && o2 >= 0 && o2 < g->out[2])
              ym[o0 * ys[0] + o1 * ys[1] + o2 * ys[2]] += cr[i * cp];
            if (++i2 == g->in[2]) {
              i2 = 0;
              if (++i1 == g->in[1]) {
                i1 = 0;
                i0++;
              }
            }
          }
        }
}

static int convt_fast(const vrt_node *n, const nn_geom *g, const float *x, const float *w, float *y,
                      vrt_exec_ctx *ctx) {
  int64_t Cg = g->C / g->group, Mg = g->M / g->group, kk = g->k[0] * g->k[1] * g->k[2];
  int64_t Pin = g->in[0] * g->in[1] * g->in[2], Pout = g->out[0] * g->out[1] * g->out[2];
  int64_t R = Mg * kk, pt = tile_len(R, Pin);
  float *col = ctx->scratch(ctx, sizeof(float) * (size_t)(R * pt));
  if (!col) return NN_ERR(n, VRT_ENOMEM, "out of memory for col2im scratch");
  int64_t ysn, ysc, ys[3];
  nn_layout_strides(g->layout, g->M, g->out, &ysn, &ysc, ys);
  memset(y, 0, sizeof(float) * (size_t)(g->N * g->M * Pout));
  int rc = 0;
  for (int64_t b = 0; b < g->N && !rc; b++)
    for (int64_t gi = 0; gi < g->group && !rc; gi++) {
      const float *wg = w + gi * Cg * R; /* [Cg][Mg*kk] */
      float *yn = y + b * ysn + gi * Mg * ysc;
      for (int64_t p0 = 0; p0 < Pin && !rc; p0 += pt) {
        int64_t len = Pin - p0 < pt ? Pin - p0 : pt;
        if (g->layout == 0) {
          const float *xg = x + (b * g->C + gi * Cg) * Pin + p0;
          rc = sgemm(n, 'T', 'N', R, len, Cg, wg, R, xg, Pin, 0, col, len); /* col[R][len] */
          if (!rc) col2im(g, col, kk * len, len, 1, Mg, p0, len, yn, ysc, ys);
        } else {
          const float *xg = x + (b * Pin + p0) * g->C + gi * Cg;
          rc = sgemm(n, 'N', 'N', len, R, Cg, xg, g->C, wg, R, 0, col, R); /* col[len][R] */
          if (!rc) col2im(g, col, kk, 1, R, Mg, p0, len, yn, ysc, ys);
        }
      }
    }
  return rc;
}

static int convt_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                      vrt_exec_ctx *ctx) {
  conv_call c;
  int rc = conv_call_get(n, in, nin, &c);
  if (rc || vrt_tensor_numel(&out[0]) == 0) return rc;
  if (!nn_use_reference()) {
    nn_set_threads(ctx->threads);
    if ((rc = convt_fast(n, &c.g, in[0]->data, in[1]->data, out[0].data, ctx))) return rc;
  } else {
    convt_ref(&c.g, in[0]->data, in[1]->data, out[0].data);
  }
  finish(&c.g, out[0].data, c.bias, c.act, c.slope, c.ns, NULL);
  return 0;
}

const vrt_opdef vrt__op_ConvTranspose = {
    .op = VRT_OP_ConvTranspose, .prepare = nn_conv_prepare, .infer = conv_infer, .exec = convt_exec,
    .min_inputs = 2, .max_inputs = 4,
};
