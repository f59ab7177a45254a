/* Loss ops of the ONNX node suite: NegativeLogLikelihoodLoss and
 * SoftmaxCrossEntropyLoss (= NLL of LogSoftmax along axis 1), with class
 * weights, ignore_index and reduction none/sum/mean. float32 and float64. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"

enum { RED_NONE, RED_SUM, RED_MEAN };

typedef struct loss_params {
  int reduction;
  int64_t ignore_index;
  bool has_ignore;
} loss_params;

static int loss_prepare(vrt_node *n) {
  loss_params *p = calloc(1, sizeof *p);
  if (!p) return NN_ERR(n, VRT_ENOMEM, "out of memory");
  const char *r = vrt_attr_string(n, "reduction", "mean");
  if (!strcmp(r, "none")) p->reduction = RED_NONE;
  else if (!strcmp(r, "sum")) p->reduction = RED_SUM;
  else if (!strcmp(r, "mean")) p->reduction = RED_MEAN;
  else {
    free(p);
    return NN_ERR(n, VRT_EINVAL, "bad reduction '%s'", r);
  }
  p->has_ignore = vrt_node_attr(n, "ignore_index") != NULL;
  p->ignore_index = vrt_attr_int(n, "ignore_index", 0);
  n->params = p;
  n->params_free = free;
  return 0;
}

/* Shapes: scores [N, C, d...], target [N, d...] int, weight [C]. */
static int loss_check(const vrt_node *n, const vrt_tensor *const *in, int nin, int64_t *N, int64_t *C, int64_t *D) {
  const vrt_tensor *x = in[0], *t = in[1], *w = nin > 2 ? in[2] : NULL;
  if (x->dtype != VRT_F32 && x->dtype != VRT_F64)
    return NN_ERR(n, VRT_ETYPE, "unsupported dtype %s", vrt_dtype_name(x->dtype));
  if (t->dtype != VRT_I64 && t->dtype != VRT_I32) return NN_ERR(n, VRT_ETYPE, "target must be int32 or int64");
  if (x->ndim < 2 || t->ndim != x->ndim - 1 || t->dims[0] != x->dims[0])
    return NN_ERR(n, VRT_ESHAPE, "scores must be [N,C,...] and target [N,...]");
  for (int i = 2; i < x->ndim; i++)
    if (t->dims[i - 1] != x->dims[i]) return NN_ERR(n, VRT_ESHAPE, "target shape does not match the scores");
  if (w && (w->dtype != x->dtype || w->ndim != 1 || w->dims[0] != x->dims[1]))
    return NN_ERR(n, VRT_ESHAPE, "weight must be [C] of the scores' dtype");
  *N = x->dims[0];
  *C = x->dims[1];
  *D = vrt__numel(x->dims + 2, x->ndim - 2);
  return 0;
}

static int loss_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  const loss_params *p = n->params;
  int64_t N, C, D;
  int rc = loss_check(n, in, nin, &N, &C, &D);
  if (rc) return rc;
  out[0].dtype = in[0]->dtype;
  out[0].ndim = 0;
  if (p->reduction == RED_NONE) {
    out[0].ndim = in[1]->ndim;
    memcpy(out[0].dims, in[1]->dims, sizeof(int64_t) * in[1]->ndim);
  }
  if (nout > 1) { /* SoftmaxCrossEntropyLoss: log_prob */
    out[1].dtype = in[0]->dtype;
    out[1].ndim = in[0]->ndim;
    memcpy(out[1].dims, in[0]->dims, sizeof(int64_t) * in[0]->ndim);
  }
  return 0;
}

/* loss[n,d] = -logp[n, t, d] * w[t]; ignored targets give 0 with weight 0.
 * Returns VRT_EINVAL (through bad) when a target is out of range. */
#define NLL_FN(NAME, T)                                                                                     \
  static int NAME(const loss_params *p, int64_t N, int64_t C, int64_t D, const T *logp, const int64_t *tg,   \
                  const T *w, T *out) {                                                                     \
    double sum = 0, wsum = 0;                                                                               \
    for (int64_t b = 0; b < N; b++)                                                                         \
      for (int64_t d = 0; d < D; d++) {                                                                     \
        int64_t c = tg[b * D + d];                                                                          \
        double l = 0, wt = 0;                                                                               \
        if (!(p->has_ignore && c == p->ignore_index)) {                                                     \
          if (c < 0 || c >= C) return -1;                                                                   \
          wt = w ? (double)w[c] : 1.0;                                                                      \
          l = -(double)logp[(b * C + c) * D + d] * wt;                                                      \
        }                                                                                                   \
        if (p->reduction == RED_NONE) out[b * D + d] = (T)l;                                                \
        sum += l;                                                                                           \
        wsum += wt;                                                                                         \
      }                                                                                                     \
    if (p->reduction == RED_SUM) out[0] = (T)sum;                                                           \
    if (p->reduction == RED_MEAN) out[0] = (T)(wsum != 0 ? sum / wsum : NAN);                               \
    return 0;                                                                                               \
  }

NLL_FN(nll_f32, float)
NLL_FN(nll_f64, double)

/* log_prob = x - max - log(sum(exp(x - max))) along axis 1 of [N, C, D] */
#define LOGSM_FN(NAME, T)                                                         \
  static void NAME(int64_t N, int64_t C, int64_t D, const T *x, T *y) {            \
    for (int64_t b = 0; b < N; b++)                                                \
      for (int64_t d = 0; d < D; d++) {                                            \
        const T *xp = x + b * C * D + d;                                           \
        T *yp = y + b * C * D + d;                                                 \
        double mx = -INFINITY, s = 0;                                              \
        for (int64_t c = 0; c < C; c++) mx = fmax(mx, (double)xp[c * D]);          \
        for (int64_t c = 0; c < C; c++) s += exp((double)xp[c * D] - mx);          \
        double ls = log(s);                                                        \
        for (int64_t c = 0; c < C; c++) yp[c * D] = (T)((double)xp[c * D] - mx - ls); \
      }                                                                            \
  }

LOGSM_FN(logsm_f32, float)
LOGSM_FN(logsm_f64, double)

static int loss_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                     vrt_exec_ctx *ctx) {
  int64_t N, C, D;
  int rc = loss_check(n, in, nin, &N, &C, &D);
  if (rc) return rc;
  bool f64 = in[0]->dtype == VRT_F64;
  size_t es = f64 ? 8 : 4;
  /* targets as int64, converted once */
  int64_t nt = N * D;
  const int64_t *tg = in[1]->data;
  if (in[1]->dtype == VRT_I32) {
    int64_t *t = ctx->scratch(ctx, sizeof(int64_t) * (size_t)nt);
    if (!t) return NN_ERR(n, VRT_ENOMEM, "out of memory");
    const int32_t *s = in[1]->data;
    for (int64_t i = 0; i < nt; i++) t[i] = s[i];
    tg = t;
  }
  const void *logp = in[0]->data;
  if (n->op == VRT_OP_SoftmaxCrossEntropyLoss) {
    void *lp = nout > 1 && out[1].data ? out[1].data : ctx->scratch(ctx, es * (size_t)(N * C * D));
    if (!lp) return NN_ERR(n, VRT_ENOMEM, "out of memory");
    if (f64) logsm_f64(N, C, D, in[0]->data, lp);
    else logsm_f32(N, C, D, in[0]->data, lp);
    logp = lp;
  }
  const void *w = nin > 2 && in[2] ? in[2]->data : NULL;
  const loss_params *p = n->params;
  rc = f64 ? nll_f64(p, N, C, D, logp, tg, w, out[0].data) : nll_f32(p, N, C, D, logp, tg, w, out[0].data);
  if (rc) return NN_ERR(n, VRT_EINVAL, "target class out of range [0, %lld)", (long long)C);
  return 0;
}

const vrt_opdef vrt__op_NegativeLogLikelihoodLoss = {VRT_OP_NegativeLogLikelihoodLoss, loss_prepare, loss_infer,
                                                     loss_exec, 0, 2, 3};
const vrt_opdef vrt__op_SoftmaxCrossEntropyLoss = {VRT_OP_SoftmaxCrossEntropyLoss, loss_prepare, loss_infer,
                                                   loss_exec, 0, 2, 3};
