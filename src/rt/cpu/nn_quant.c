/* Integer and quantized-linear Conv / MatMul: ConvInteger, MatMulInteger
 * (int32 outputs) and QLinearConv, QLinearMatMul (requantised to the
 * output zero point's 8-bit type). Reference kernels: operands are first
 * widened to int32 with their zero points subtracted (one dtype switch per
 * tensor), then plain integer loops accumulate in int64. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"

static bool q8(vrt_dtype t) { return t == VRT_U8 || t == VRT_I8; }

/* Zero point of tensor index i (per-tensor: 1 element, or `count` elements
 * along the axis it applies to) widened to int32; absent = 0. */
static int zero_points(const vrt_node *n, const vrt_tensor *zp, vrt_dtype data_type, int64_t count, int32_t *out,
                       int64_t *nout) {
  *nout = 1;
  out[0] = 0;
  if (!zp || vrt_tensor_numel(zp) == 0) return 0;
  int64_t k = vrt_tensor_numel(zp);
  if (zp->dtype != data_type) return NN_ERR(n, VRT_ETYPE, "zero point dtype differs from its data");
  if (k != 1 && k != count) return NN_ERR(n, VRT_ESHAPE, "zero point must have 1 or %lld elements", (long long)count);
  if (!zp->data) return VRT_ENEEDDATA;
  for (int64_t i = 0; i < k; i++)
    out[i] = zp->dtype == VRT_U8 ? ((const uint8_t *)zp->data)[i] : ((const int8_t *)zp->data)[i];
  *nout = k;
  return 0;
}

/* dst[i] = src[i] - zp[(i / inner) % nzp] (nzp 1: per tensor) */
static void widen(const vrt_tensor *t, const int32_t *zp, int64_t nzp, int64_t inner, int32_t *dst) {
  int64_t n = vrt_tensor_numel(t);
  if (t->dtype == VRT_U8) {
    const uint8_t *s = t->data;
    for (int64_t i = 0; i < n; i++) dst[i] = (int32_t)s[i] - zp[nzp == 1 ? 0 : (i / inner) % nzp];
  } else {
    const int8_t *s = t->data;
    for (int64_t i = 0; i < n; i++) dst[i] = (int32_t)s[i] - zp[nzp == 1 ? 0 : (i / inner) % nzp];
  }
}

static float scalar_f32(const vrt_tensor *t, int64_t i) { return ((const float *)t->data)[vrt_tensor_numel(t) == 1 ? 0 : i]; }

/* y = saturate(round_half_even(v) + zp) in the 8-bit type of zp_t */
static void requant_store(vrt_dtype t, void *y, int64_t i, double v, int32_t zp) {
  double r = nearbyint(v) + zp;
  if (t == VRT_U8) ((uint8_t *)y)[i] = (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
  else ((int8_t *)y)[i] = (int8_t)(r < -128 ? -128 : r > 127 ? 127 : r);
}

/* ---- integer convolution ------------------------------------------------------ */

/* Positions of the inputs: ConvInteger (x, w, x_zp, w_zp), QLinearConv
 * (x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B). */
typedef struct qconv_io {
  const vrt_tensor *x, *w, *xzp, *wzp, *xs, *ws, *ys, *yzp, *bias;
} qconv_io;

/* Picks the inputs by position and checks them and the geometry. */
static int qconv_get(const vrt_node *n, const vrt_tensor *const *in, int nin, qconv_io *q, nn_geom *g) {
  memset(q, 0, sizeof *q);
  if (n->op == VRT_OP_ConvInteger) {
    q->x = in[0], q->w = in[1];
    q->xzp = nin > 2 ? in[2] : NULL, q->wzp = nin > 3 ? in[3] : NULL;
  } else {
    q->x = in[0], q->xs = in[1], q->xzp = in[2], q->w = in[3], q->ws = in[4], q->wzp = in[5];
    q->ys = in[6], q->yzp = in[7], q->bias = nin > 8 ? in[8] : NULL;
  }
  const nn_conv_params *p = n->params;
  if (!q->x || !q->w || !q8(q->x->dtype) || !q8(q->w->dtype))
    return NN_ERR(n, VRT_ETYPE, "x and w must be uint8 or int8");
  int rc = nn_conv_geom(n, p, q->x, q->w, g);
  if (rc) return rc;
  if (n->op == VRT_OP_QLinearConv) {
    if (!q->xs || !q->ws || !q->ys || !q->yzp || !q->xzp || !q->wzp)
      return NN_ERR(n, VRT_EINVAL, "QLinearConv needs every scale and zero point");
    if (q->xs->dtype != VRT_F32 || q->ws->dtype != VRT_F32 || q->ys->dtype != VRT_F32 || !q8(q->yzp->dtype))
      return NN_ERR(n, VRT_ETYPE, "scales must be float32 and y_zero_point 8-bit");
    if (vrt_tensor_numel(q->xs) != 1 || vrt_tensor_numel(q->ys) != 1 || vrt_tensor_numel(q->yzp) != 1 ||
        (vrt_tensor_numel(q->ws) != 1 && vrt_tensor_numel(q->ws) != g->M))
      return NN_ERR(n, VRT_ESHAPE, "scales: x and y per tensor, w per tensor or per output channel");
    if (q->bias && (q->bias->dtype != VRT_I32 || vrt_tensor_numel(q->bias) != g->M))
      return NN_ERR(n, VRT_ESHAPE, "B must be int32 with %lld elements", (long long)g->M);
  }
  return 0;
}

static int qconv_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  qconv_io q;
  nn_geom g;
  int rc = qconv_get(n, in, nin, &q, &g);
  if (rc) return rc;
  const nn_conv_params *p = n->params;
  out[0].dtype = n->op == VRT_OP_ConvInteger ? VRT_I32 : q.yzp->dtype;
  out[0].ndim = q.x->ndim;
  nn_layout_dims(p->layout, g.nsp, g.N, g.M, g.out, out[0].dims);
  return 0;
}

static int qconv_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                      vrt_exec_ctx *ctx) {
  qconv_io q;
  nn_geom g;
  int rc = qconv_get(n, in, nin, &q, &g);
  if (rc) return rc;
  int64_t nx = vrt_tensor_numel(q.x), nw = vrt_tensor_numel(q.w), ny = vrt_tensor_numel(&out[0]);
  int32_t *xzp = ctx->scratch(ctx, sizeof(int32_t)), *wzp = ctx->scratch(ctx, sizeof(int32_t) * (size_t)(g.M + 1));
  int32_t *xi = ctx->scratch(ctx, sizeof(int32_t) * (size_t)nx), *wi = ctx->scratch(ctx, sizeof(int32_t) * (size_t)nw);
  int64_t *acc = ctx->scratch(ctx, sizeof(int64_t) * (size_t)ny);
  if (!xzp || !wzp || !xi || !wi || !acc) return NN_ERR(n, VRT_ENOMEM, "out of memory");
  int64_t nxz, nwz;
  if ((rc = zero_points(n, q.xzp, q.x->dtype, 1, xzp, &nxz)) || (rc = zero_points(n, q.wzp, q.w->dtype, g.M, wzp, &nwz)))
    return rc == VRT_ENEEDDATA ? NN_ERR(n, VRT_EINVAL, "zero points have no data") : rc;
  widen(q.x, xzp, 1, 1, xi);
  widen(q.w, wzp, nwz, g.M ? nw / g.M : 1, wi); /* w zero point per output channel */
  nn_conv_direct_i32(&g, xi, wi, NULL, acc);
  int64_t P = g.out[0] * g.out[1] * g.out[2];
  if (n->op == VRT_OP_ConvInteger) {
    int32_t *y = out[0].data;
    for (int64_t i = 0; i < ny; i++) y[i] = (int32_t)acc[i];
    return 0;
  }
  int32_t yzp = q.yzp->dtype == VRT_U8 ? *(const uint8_t *)q.yzp->data : *(const int8_t *)q.yzp->data;
  const int32_t *bias = q.bias ? q.bias->data : NULL;
  double xs = scalar_f32(q.xs, 0), ys = scalar_f32(q.ys, 0);
  for (int64_t i = 0; i < ny; i++) {
    int64_t m = g.layout ? i % g.M : (i / P) % g.M;
    double v = (double)(acc[i] + (bias ? bias[m] : 0)) * (xs * scalar_f32(q.ws, m) / ys);
    requant_store(out[0].dtype, out[0].data, i, v, yzp);
  }
  return 0;
}

const vrt_opdef vrt__op_ConvInteger = {VRT_OP_ConvInteger, nn_conv_prepare, qconv_infer, qconv_exec, 0, 2, 4};
const vrt_opdef vrt__op_QLinearConv = {VRT_OP_QLinearConv, nn_conv_prepare, qconv_infer, qconv_exec, 0, 8, 9};

/* ---- integer matmul ------------------------------------------------------------- */

typedef struct qmm_io {
  const vrt_tensor *a, *b, *azp, *bzp, *as, *bs, *ys, *yzp;
} qmm_io;

/* Picks the inputs by position and checks them and the geometry. */
static int qmm_get(const vrt_node *n, const vrt_tensor *const *in, int nin, qmm_io *q, nn_mm_geom *g) {
  memset(q, 0, sizeof *q);
  if (n->op == VRT_OP_MatMulInteger) {
    q->a = in[0], q->b = in[1], q->azp = nin > 2 ? in[2] : NULL, q->bzp = nin > 3 ? in[3] : NULL;
  } else {
    q->a = in[0], q->as = in[1], q->azp = in[2], q->b = in[3], q->bs = in[4], q->bzp = in[5];
    q->ys = in[6], q->yzp = in[7];
  }
  if (!q->a || !q->b || !q8(q->a->dtype) || !q8(q->b->dtype))
    return NN_ERR(n, VRT_ETYPE, "A and B must be uint8 or int8");
  int rc = nn_mm_geom_get(n, q->a, q->b, g);
  if (rc) return rc;
  if (n->op == VRT_OP_QLinearMatMul) {
    if (!q->as || !q->bs || !q->ys || !q->yzp || !q->azp || !q->bzp)
      return NN_ERR(n, VRT_EINVAL, "QLinearMatMul needs every scale and zero point");
    if (q->as->dtype != VRT_F32 || q->bs->dtype != VRT_F32 || q->ys->dtype != VRT_F32 || !q8(q->yzp->dtype))
      return NN_ERR(n, VRT_ETYPE, "scales must be float32 and y_zero_point 8-bit");
    if (vrt_tensor_numel(q->as) != 1 || vrt_tensor_numel(q->bs) != 1 || vrt_tensor_numel(q->ys) != 1 ||
        vrt_tensor_numel(q->yzp) != 1)
      return NN_ERR(n, VRT_ESHAPE, "only per-tensor scales are supported");
  }
  return 0;
}

static int qmm_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  qmm_io q;
  nn_mm_geom g;
  int rc = qmm_get(n, in, nin, &q, &g);
  if (rc) return rc;
  out[0].dtype = n->op == VRT_OP_MatMulInteger ? VRT_I32 : q.yzp->dtype;
  out[0].ndim = g.ndim_out;
  memcpy(out[0].dims, g.out_dims, sizeof(int64_t) * g.ndim_out);
  return 0;
}

static int qmm_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                    vrt_exec_ctx *ctx) {
  qmm_io q;
  nn_mm_geom g;
  int rc = qmm_get(n, in, nin, &q, &g);
  if (rc) return rc;
  int64_t na = vrt_tensor_numel(q.a), nb = vrt_tensor_numel(q.b), ny = vrt_tensor_numel(&out[0]);
  int32_t *azp = ctx->scratch(ctx, sizeof(int32_t) * (size_t)(g.M + 1));
  int32_t *bzp = ctx->scratch(ctx, sizeof(int32_t) * (size_t)(g.N + 1));
  int32_t *ai = ctx->scratch(ctx, sizeof(int32_t) * (size_t)na), *bi = ctx->scratch(ctx, sizeof(int32_t) * (size_t)nb);
  if (!azp || !bzp || !ai || !bi) return NN_ERR(n, VRT_ENOMEM, "out of memory");
  int64_t naz, nbz;
  /* a's zero point per row (M), b's per column (N) */
  if ((rc = zero_points(n, q.azp, q.a->dtype, g.M, azp, &naz)) || (rc = zero_points(n, q.bzp, q.b->dtype, g.N, bzp, &nbz)))
    return rc == VRT_ENEEDDATA ? NN_ERR(n, VRT_EINVAL, "zero points have no data") : rc;
  widen(q.a, azp, naz, g.K, ai);
  if (nbz == 1) {
    widen(q.b, bzp, 1, 1, bi);
  } else { /* per column: the zero point index is the column, i % N */
    widen(q.b, (const int32_t[]){0}, 1, 1, bi);
    for (int64_t i = 0; i < nb; i++) bi[i] -= bzp[i % g.N];
  }
  double scale = 1;
  int32_t yzp = 0;
  if (n->op == VRT_OP_QLinearMatMul) {
    scale = (double)scalar_f32(q.as, 0) * scalar_f32(q.bs, 0) / scalar_f32(q.ys, 0);
    yzp = q.yzp->dtype == VRT_U8 ? *(const uint8_t *)q.yzp->data : *(const int8_t *)q.yzp->data;
  }
  for (int64_t t = 0; t < g.batch; t++) {
    int64_t oa, ob;
    nn_mm_offsets(&g, t, &oa, &ob);
    for (int64_t i = 0; i < g.M; i++)
      for (int64_t j = 0; j < g.N; j++) {
        int64_t acc = 0;
        for (int64_t k = 0; k < g.K; k++) acc += (int64_t)ai[oa + i * g.K + k] * bi[ob + k * g.N + j];
        int64_t yi = (t * g.M + i) * g.N + j;
        if (n->op == VRT_OP_MatMulInteger) ((int32_t *)out[0].data)[yi] = (int32_t)acc;
        else requant_store(out[0].dtype, out[0].data, yi, (double)acc * scale, yzp);
      }
  }
  (void)ny;
  return 0;
}

const vrt_opdef vrt__op_MatMulInteger = {VRT_OP_MatMulInteger, NULL, qmm_infer, qmm_exec, 0, 2, 4};
const vrt_opdef vrt__op_QLinearMatMul = {VRT_OP_QLinearMatMul, NULL, qmm_infer, qmm_exec, 0, 8, 8};
