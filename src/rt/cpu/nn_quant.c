/* Integer and quantized-linear Conv / MatMul: ConvInteger, MatMulInteger
 * (int32 outputs) and QLinearConv, QLinearMatMul (requantised to the
 * output zero point's 8-bit type). Reference kernels: operands are first
 * widened to int32 with their zero points subtracted (one dtype switch per
 * tensor), then plain integer loops accumulate in int64 (the convolution is
 * nn_conv_direct_i32, the float reference's loop nest). */
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

/* t widened to int32 in scratch (*out) with its zero point taken off: zp has
 * 1 value or count values, element i taking zp[(i / inner) % count]. */
static int widen_zp(const vrt_node *n, vrt_exec_ctx *ctx, const vrt_tensor *t, const vrt_tensor *zp, int64_t count,
                    int64_t inner, int32_t **out) {
  int64_t nz;
  int32_t *z = ctx->scratch(ctx, sizeof(int32_t) * (size_t)(count + 1));
  *out = ctx->scratch(ctx, sizeof(int32_t) * (size_t)vrt_tensor_numel(t));
  if (!z || !*out) return NN_ERR(n, VRT_ENOMEM, "out of memory");
  int rc = zero_points(n, zp, t->dtype, count, z, &nz);
  if (rc) return rc == VRT_ENEEDDATA ? NN_ERR(n, VRT_EINVAL, "zero points have no data") : rc;
  widen(t, z, nz, inner, *out);
  return 0;
}

/* acc[t, i, j] = sum over k of a[t, i, k] * b[t, k, j], the batch dims
 * broadcast by g's strides. */
static void mm_int(const nn_mm_geom *g, const int32_t *a, const int32_t *b, int64_t *acc) {
  for (int64_t t = 0; t < g->batch; t++) {
    int64_t oa, ob;
    nn_mm_offsets(g, t, &oa, &ob);
    for (int64_t i = 0; i < g->M; i++)
      for (int64_t j = 0; j < g->N; j++) {
        int64_t s = 0;
        for (int64_t k = 0; k < g->K; k++) s += (int64_t)a[oa + i * g->K + k] * b[ob + k * g->N + j];
        acc[(t * g->M + i) * g->N + j] = s;
      }
  }
}

/* ---- the four ops ----------------------------------------------------------------
 * ConvInteger (x, w, x_zp, w_zp) and MatMulInteger (a, b, a_zp, b_zp) take
 * their inputs at the same positions, as do QLinearConv (x, x_scale, x_zp,
 * w, w_scale, w_zp, y_scale, y_zp, B) and QLinearMatMul (a, a_scale, a_zp,
 * b, b_scale, b_zp, y_scale, y_zp): one reader serves all four, with a and
 * b standing for x and w. */
typedef struct q_io {
  bool conv;   /* ConvInteger, QLinearConv */
  bool linear; /* QLinear*: output requantised to y_zp's 8-bit type */
  const vrt_tensor *a, *b, *azp, *bzp, *as, *bs, *ys, *yzp, *bias;
  nn_geom g;      /* conv */
  nn_mm_geom mg;  /* matmul */
} q_io;

/* Picks the inputs by position and checks them and the geometry. */
static int q_get(const vrt_node *n, const vrt_tensor *const *in, int nin, q_io *q) {
  memset(q, 0, sizeof *q);
  q->conv = n->op == VRT_OP_ConvInteger || n->op == VRT_OP_QLinearConv;
  q->linear = n->op == VRT_OP_QLinearConv || n->op == VRT_OP_QLinearMatMul;
  if (!q->linear) {
    q->a = in[0], q->b = in[1];
    q->azp = nin > 2 ? in[2] : NULL, q->bzp = nin > 3 ? in[3] : NULL;
  } else {
    q->a = in[0], q->as = in[1], q->azp = in[2], q->b = in[3], q->bs = in[4], q->bzp = in[5];
    q->ys = in[6], q->yzp = in[7], q->bias = q->conv && nin > 8 ? in[8] : NULL;
  }
  if (!q->a || !q->b || !q8(q->a->dtype) || !q8(q->b->dtype))
    return NN_ERR(n, VRT_ETYPE, "%s must be uint8 or int8", q->conv ? "x and w" : "A and B");
  int rc = q->conv ? nn_conv_geom(n, n->params, q->a, q->b, &q->g) : nn_mm_geom_get(n, q->a, q->b, &q->mg);
  if (rc || !q->linear) return rc;
  if (!q->as || !q->bs || !q->ys || !q->yzp || !q->azp || !q->bzp)
    return NN_ERR(n, VRT_EINVAL, "%s needs every scale and zero point", q->conv ? "QLinearConv" : "QLinearMatMul");
  if (q->as->dtype != VRT_F32 || q->bs->dtype != VRT_F32 || q->ys->dtype != VRT_F32 || !q8(q->yzp->dtype))
    return NN_ERR(n, VRT_ETYPE, "scales must be float32 and y_zero_point 8-bit");
  int64_t nbs = vrt_tensor_numel(q->bs);
  if (vrt_tensor_numel(q->as) != 1 || vrt_tensor_numel(q->ys) != 1 || vrt_tensor_numel(q->yzp) != 1 ||
      (nbs != 1 && (!q->conv || nbs != q->g.M)))
    return NN_ERR(n, VRT_ESHAPE, "%s", q->conv ? "scales: x and y per tensor, w per tensor or per output channel"
                                             : "only per-tensor scales are supported");
  if (q->bias && (q->bias->dtype != VRT_I32 || vrt_tensor_numel(q->bias) != q->g.M))
    return NN_ERR(n, VRT_ESHAPE, "B must be int32 with %lld elements", (long long)q->g.M);
  return 0;
}

static int q_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  q_io q;
  int rc = q_get(n, in, nin, &q);
  if (rc) return rc;
  out[0].dtype = q.linear ? q.yzp->dtype : VRT_I32;
  if (q.conv) {
    out[0].ndim = q.a->ndim;
    nn_layout_dims(q.g.layout, q.g.nsp, q.g.N, q.g.M, q.g.out, out[0].dims);
  } else {
    out[0].ndim = q.mg.ndim_out;
    memcpy(out[0].dims, q.mg.out_dims, sizeof(int64_t) * q.mg.ndim_out);
  }
  return 0;
}

/* a and b widened (conv: x's zero point per tensor, w's per output channel;
 * matmul: a's per row, b's per column), their products summed in int64,
 * stored as int32 or requantised with per-channel (conv w) scales and bias. */
static int q_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                  vrt_exec_ctx *ctx) {
  q_io q;
  int rc = q_get(n, in, nin, &q);
  if (rc) return rc;
  int64_t ny = vrt_tensor_numel(&out[0]), M = q.conv ? q.g.M : q.mg.M, nb = vrt_tensor_numel(q.b);
  int64_t *acc = ctx->scratch(ctx, sizeof(int64_t) * (size_t)ny);
  if (!acc) return NN_ERR(n, VRT_ENOMEM, "out of memory");
  int32_t *ai, *bi;
  if ((rc = widen_zp(n, ctx, q.a, q.azp, q.conv ? 1 : M, q.conv ? 1 : q.mg.K, &ai)) ||
      (rc = widen_zp(n, ctx, q.b, q.bzp, q.conv ? M : q.mg.N, q.conv && M ? nb / M : 1, &bi)))
    return rc;
  if (q.conv) nn_conv_direct_i32(&q.g, ai, bi, NULL, acc);
  else mm_int(&q.mg, ai, bi, acc);
  if (!q.linear) {
    int32_t *y = out[0].data;
    for (int64_t i = 0; i < ny; i++) y[i] = (int32_t)acc[i];
    return 0;
  }
  int32_t yzp = q.yzp->dtype == VRT_U8 ? *(const uint8_t *)q.yzp->data : *(const int8_t *)q.yzp->data;
  const int32_t *bias = q.bias ? q.bias->data : NULL;
  double as = scalar_f32(q.as, 0), ys = scalar_f32(q.ys, 0);
  int64_t P = q.g.out[0] * q.g.out[1] * q.g.out[2]; /* conv: output pixels per channel */
  for (int64_t i = 0; i < ny; i++) {
    int64_t m = !q.conv ? 0 : q.g.layout ? i % M : (i / P) % M;
    double v = (double)(acc[i] + (bias ? bias[m] : 0)) * (as * scalar_f32(q.bs, m) / ys);
    requant_store(out[0].dtype, out[0].data, i, v, yzp);
  }
  return 0;
}

const vrt_opdef vrt__op_ConvInteger = {VRT_OP_ConvInteger, nn_conv_prepare, q_infer, q_exec, 0, 2, 4};
const vrt_opdef vrt__op_QLinearConv = {VRT_OP_QLinearConv, nn_conv_prepare, q_infer, q_exec, 0, 8, 9};
const vrt_opdef vrt__op_MatMulInteger = {VRT_OP_MatMulInteger, NULL, q_infer, q_exec, 0, 2, 4};
const vrt_opdef vrt__op_QLinearMatMul = {VRT_OP_QLinearMatMul, NULL, q_infer, q_exec, 0, 8, 8};
