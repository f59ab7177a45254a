/* VrtAttention: softmax(Q . Kt * scale [+ mask]) . V over the last two axes,
 * the op vrt__fuse_attention (fuse_mm.c) makes of an exported attention
 * block. Inputs Q [b.., M, D], Kt [b.., D, N] (K already transposed, as the
 * exporters feed the first MatMul), V [b.., N, Dv], optional float mask
 * broadcasting to [b.., M, N] (extra leading 1s allowed); attribute "scale". This is the reference
 * kernel (and the one that runs when the oneDNN backend refuses): per batch
 * dnnl_sgemm, then the row softmax, then dnnl_sgemm again; VRT_REFERENCE=1
 * runs plain loops. */
#include <dnnl.h>
#include <math.h>
#include <string.h>

#include "nn.h"

int nn_attn_geom(const vrt_node *n, const vrt_tensor *const *in, int nin, nn_attn_geom_t *g) {
  memset(g, 0, sizeof *g);
  if (nin < 3 || !in[0] || !in[1] || !in[2]) return NN_ERR(n, VRT_EINVAL, "needs Q, Kt and V");
  const vrt_tensor *q = in[0], *k = in[1], *v = in[2], *m = nin > 3 ? in[3] : NULL;
  int r = q->ndim;
  if (r < 2 || k->ndim != r || v->ndim != r) return NN_ERR(n, VRT_ESHAPE, "Q, Kt and V need one rank >= 2");
  if (q->dtype != VRT_F32 || k->dtype != VRT_F32 || v->dtype != VRT_F32 || (m && m->dtype != VRT_F32))
    return NN_ERR(n, VRT_ETYPE, "float32 only");
  g->batch = 1;
  for (int i = 0; i < r - 2; i++) {
    if (k->dims[i] != q->dims[i] || v->dims[i] != q->dims[i])
      return NN_ERR(n, VRT_ESHAPE, "batch dimensions of Q, Kt and V differ");
    g->batch *= q->dims[i];
  }
  g->rank = r;
  g->M = q->dims[r - 2], g->D = q->dims[r - 1], g->N = k->dims[r - 1], g->Dv = v->dims[r - 1];
  if (k->dims[r - 2] != g->D) return NN_ERR(n, VRT_ESHAPE, "Q and Kt inner dimensions differ");
  if (v->dims[r - 2] != g->N) return NN_ERR(n, VRT_ESHAPE, "Kt and V key counts differ");
  if (m) { /* strides of the mask over the score dims [b.., M, N] (0: broadcast) */
    for (int i = 0; i < m->ndim - r; i++)
      if (m->dims[i] != 1) return NN_ERR(n, VRT_ESHAPE, "mask rank exceeds the scores'");
    int64_t st = 1;
    for (int i = r - 1; i >= 0; i--) {
      int mi = i - (r - m->ndim);
      int64_t sd = i == r - 1 ? g->N : i == r - 2 ? g->M : q->dims[i];
      int64_t md = mi >= 0 ? m->dims[mi] : 1;
      if (md != 1 && md != sd) return NN_ERR(n, VRT_ESHAPE, "mask does not broadcast to the scores");
      g->mst[i] = md == 1 ? 0 : st;
      st *= md;
    }
    g->mask = true;
  }
  g->scale = vrt_attr_float(n, "scale", 1.0f);
  return 0;
}

static int attn_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  (void)nout;
  nn_attn_geom_t g;
  int rc = nn_attn_geom(n, in, nin, &g);
  if (rc) return rc;
  out[0].dtype = VRT_F32;
  out[0].ndim = g.rank;
  memcpy(out[0].dims, in[0]->dims, sizeof(int64_t) * (size_t)g.rank);
  out[0].dims[g.rank - 1] = g.Dv;
  return 0;
}

/* Offset of the mask row of batch t, query row i. */
static int64_t mask_row(const nn_attn_geom_t *g, const vrt_tensor *q, int64_t t, int64_t i) {
  int64_t off = i * g->mst[g->rank - 2];
  for (int d = g->rank - 3; d >= 0; d--) {
    off += (t % q->dims[d]) * g->mst[d];
    t /= q->dims[d];
  }
  return off;
}

/* s[0..N) = softmax(s + mask row), in place. */
static void softmax_row(float *s, int64_t N, const float *mrow, int64_t mstep) {
  float mx = -INFINITY;
  for (int64_t j = 0; j < N; j++) {
    if (mrow) s[j] += mrow[j * mstep];
    if (s[j] > mx) mx = s[j];
  }
  float sum = 0;
  for (int64_t j = 0; j < N; j++) {
    s[j] = mx == -INFINITY ? 0 : expf(s[j] - mx);
    sum += s[j];
  }
  float inv = sum > 0 ? 1.0f / sum : 0;
  for (int64_t j = 0; j < N; j++) s[j] *= inv;
}

static int attn_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                     vrt_exec_ctx *x) {
  (void)nout;
  nn_attn_geom_t g;
  int rc = nn_attn_geom(n, in, nin, &g);
  if (rc) return rc;
  const float *Q = in[0]->data, *K = in[1]->data, *V = in[2]->data;
  const float *mask = g.mask ? in[3]->data : NULL;
  float *O = out[0].data;
  int64_t M = g.M, N = g.N, D = g.D, Dv = g.Dv;
  if (M == 0 || Dv == 0) return 0;
  float *S = x->scratch(x, sizeof(float) * (size_t)(M * (N ? N : 1)));
  if (!S) return NN_ERR(n, VRT_ENOMEM, "out of memory for attention scores");
  bool ref = nn_use_reference();
  if (!ref) nn_set_threads(x->threads);
  for (int64_t t = 0; t < g.batch; t++) {
    const float *q = Q + t * M * D, *k = K + t * D * N, *v = V + t * N * Dv;
    float *o = O + t * M * Dv;
    if (ref || N == 0 || D == 0) {
      for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
          float s = 0;
          for (int64_t c = 0; c < D; c++) s += q[i * D + c] * k[c * N + j];
          S[i * N + j] = s * g.scale;
        }
    } else if (dnnl_sgemm('N', 'N', M, N, D, g.scale, q, D, k, N, 0, S, N) != dnnl_success) {
      return NN_ERR(n, VRT_EINVAL, "dnnl_sgemm failed");
    }
    for (int64_t i = 0; i < M; i++)
      softmax_row(S + i * N, N, mask ? mask + mask_row(&g, in[0], t, i) : NULL, g.mask ? g.mst[g.rank - 1] : 0);
    if (ref || N == 0) {
      for (int64_t i = 0; i < M; i++)
        for (int64_t c = 0; c < Dv; c++) {
          float s = 0;
          for (int64_t j = 0; j < N; j++) s += S[i * N + j] * v[j * Dv + c];
          o[i * Dv + c] = s;
        }
    } else if (dnnl_sgemm('N', 'N', M, Dv, N, 1.0f, S, N, v, Dv, 0, o, Dv) != dnnl_success) {
      return NN_ERR(n, VRT_EINVAL, "dnnl_sgemm failed");
    }
  }
  return 0;
}

const vrt_opdef vrt__op_VrtAttention = {
    .op = VRT_OP_VrtAttention, .infer = attn_infer, .exec = attn_exec, .min_inputs = 3, .max_inputs = 4,
};
