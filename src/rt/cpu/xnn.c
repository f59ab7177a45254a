/* XNNPACK backend: NHWC f32 Conv/depthwise, fully connected Gemm/MatMul,
 * max/average/global-average pooling through XNNPACK's operator API
 * (libxnnpack-dev, 2022-02). See xnn.h for the interface and its rules. */
#include "xnn.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "model.h"
#include "nn.h"

#ifdef VIGIL_HAVE_XNNPACK
#include <xnnpack.h>

typedef enum { XK_CONV, XK_FC, XK_MAXPOOL, XK_AVGPOOL, XK_GAVGPOOL } xnn_kind;

struct xnn_node {
  const vrt_node *n;
  xnn_kind kind;
  xnn_operator_t op;
  int64_t batch, h, w;  /* what setup is called with (FC: batch = rows) */
  int64_t in_numel, out_numel;
  nn_act post;          /* activation XNNPACK cannot fuse as output bounds */
  int64_t channels;     /* of the output, for post */
  bool residual;        /* Conv input 4 (fused Add): added before post */
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static bool init_ok;
static _Atomic int64_t runs;

int64_t xnn_run_count(void) { return runs; }

static void init_lib(void) { init_ok = xnn_initialize(NULL) == xnn_status_success; }

bool xnn_available(void) {
  pthread_once(&init_once, init_lib);
  return init_ok;
}

/* One pool per thread count, created on first use and kept for the process. */
#define XNN_MAX_POOL 16
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthreadpool_t pools[XNN_MAX_POOL + 1];

static pthreadpool_t pool_get(int threads) {
  if (threads <= 1) return NULL;
  if (threads > XNN_MAX_POOL) threads = XNN_MAX_POOL;
  pthread_mutex_lock(&pool_mu);
  if (!pools[threads]) pools[threads] = pthreadpool_create((size_t)threads);
  pthreadpool_t p = pools[threads];
  pthread_mutex_unlock(&pool_mu);
  return p;
}

static bool is_f32(const vrt_tensor *t, int ndim) { return t && t->dtype == VRT_F32 && (ndim < 0 || t->ndim == ndim); }

/* Output bounds for the activations XNNPACK clamps; the rest run after (and
 * all of them when a residual must be added first). */
static void act_bounds(const nn_act *a, bool residual, float *lo, float *hi, nn_act *post) {
  *lo = -INFINITY, *hi = INFINITY;
  memset(post, 0, sizeof *post);
  if (residual) *post = *a;
  else if (a->kind == NN_ACT_RELU) *lo = 0;
  else if (a->kind == NN_ACT_RELU6) *lo = 0, *hi = 6;
  else if (a->kind == NN_ACT_CLIP && a->alpha <= a->beta) *lo = a->alpha, *hi = a->beta;
  else *post = *a;
}

static bool has_residual(const vrt_tensor *const *in, int nin) { return nin > 4 && in[4]; }

static bool conv_ok(const vrt_node *n, const vrt_tensor *const *in, int nin, bool wconst, nn_geom *g) {
  const nn_conv_params *p = n->params;
  if (!p || p->layout != 1 || nin < 2 || !wconst || !is_f32(in[0], 4) || !is_f32(in[1], 4) || !in[1]->data) return false;
  if (nin > 2 && in[2] && (!is_f32(in[2], 1) || !in[2]->data)) return false;
  if (p->act.kind == NN_ACT_PRELU) return false;
  if (nn_conv_geom(n, p, in[0], in[1], g) || g->nsp != 2) {
    vrt__err_clear();
    return false;
  }
  if (has_residual(in, nin) && (!is_f32(in[4], 4) || vrt_tensor_numel(in[4]) != g->N * g->out[1] * g->out[2] * g->M))
    return false;
  return g->k[1] <= UINT32_MAX && g->k[2] <= UINT32_MAX && g->N > 0;
}

static bool pool_ok(const vrt_node *n, const vrt_tensor *const *in, int nin, nn_geom *g) {
  const nn_conv_params *p = n->params;
  if (!p || p->layout != 1 || nin < 1 || !is_f32(in[0], 4)) return false;
  if (nn_pool_geom(n, p, in[0], g) || g->nsp != 2) {
    vrt__err_clear();
    return false;
  }
  if (g->k[1] * g->k[2] < 2) return false; /* XNNPACK wants a window of at least 2 */
  if (n->op == VRT_OP_AveragePool) {
    if (p->count_include_pad && (g->pb[1] || g->pb[2] || g->pe[1] || g->pe[2])) return false;
    if (g->d[1] != 1 || g->d[2] != 1) return false;
  }
  return true;
}

/* Gemm with A [M,K] (no transA, alpha 1) and constant B, C a constant [N]
 * bias with beta 1; MatMul with constant 2-D B. */
static bool fc_ok(const vrt_node *n, const vrt_tensor *const *in, int nin, bool wconst, int64_t *K, int64_t *N) {
  if (nin < 2 || !wconst || !is_f32(in[0], -1) || in[0]->ndim < 2 || !is_f32(in[1], 2) || !in[1]->data) return false;
  if (n->op == VRT_OP_Gemm) {
    if (in[0]->ndim != 2 || vrt_attr_int(n, "transA", 0) || vrt_attr_float(n, "alpha", 1.0f) != 1.0f) return false;
    bool tb = vrt_attr_int(n, "transB", 0) != 0;
    *K = tb ? in[1]->dims[1] : in[1]->dims[0];
    *N = tb ? in[1]->dims[0] : in[1]->dims[1];
    if (nin > 2 && in[2]) {
      const vrt_tensor *c = in[2];
      if (!is_f32(c, -1) || !c->data || vrt_attr_float(n, "beta", 1.0f) != 1.0f) return false;
      if (vrt_tensor_numel(c) != *N || c->dims[c->ndim - 1] != *N) return false;
    }
  } else if (n->op == VRT_OP_MatMul) {
    *K = in[1]->dims[0];
    *N = in[1]->dims[1];
  } else {
    return false;
  }
  nn_act a; /* both may carry a fused activation (fuse.c) */
  if (nn_act_parse(n, &a) || a.kind == NN_ACT_PRELU) {
    vrt__err_clear();
    return false;
  }
  return in[0]->dims[in[0]->ndim - 1] == *K && *K > 0 && *N > 0;
}

bool xnn_supports_node(const vrt_node *n, const vrt_tensor *const *in, int nin, bool wconst) {
  if (!n || !in || !xnn_available()) return false;
  nn_geom g;
  int64_t K, N;
  switch (n->op) {
    case VRT_OP_Conv: return conv_ok(n, in, nin, wconst, &g);
    case VRT_OP_MaxPool: return n->nout == 1 && pool_ok(n, in, nin, &g);
    case VRT_OP_AveragePool: return pool_ok(n, in, nin, &g);
    case VRT_OP_GlobalAveragePool:
      return vrt_attr_int(n, "vrt_layout", 0) == 1 && nin >= 1 && is_f32(in[0], 4) && in[0]->dims[3] > 0;
    case VRT_OP_Gemm:
    case VRT_OP_MatMul: return fc_ok(n, in, nin, wconst, &K, &N);
    default: return false;
  }
}

/* End padding that makes XNNPACK's floor formula give exactly out[j]
 * (covers ceil_mode and pads the last window never reaches). */
static uint32_t end_pad(const nn_geom *g, int j) {
  int64_t ext = (g->k[j] - 1) * g->d[j] + 1;
  int64_t pe = (g->out[j] - 1) * g->s[j] + ext - g->in[j] - g->pb[j];
  return (uint32_t)(pe < 0 ? 0 : pe);
}

static int prepare_conv(xnn_node *x, const vrt_node *n, const vrt_tensor *const *in, int nin) {
  const nn_conv_params *p = n->params;
  nn_geom g;
  if (!conv_ok(n, in, nin, true, &g)) return NN_ERR(n, VRT_EUNSUPPORTED, "not an XNNPACK convolution");
  int64_t cig = g.C / g.group, cog = g.M / g.group, kk = g.k[1] * g.k[2];
  bool dw = g.group > 1 && cig == 1;
  const float *w = in[1]->data;
  float *wt = malloc(sizeof(float) * (size_t)(g.M * cig * kk));
  if (!wt) return NN_ERR(n, VRT_ENOMEM, "out of memory");
  /* OIHW -> [G, O/G, H, W, I/G] (OHWI), or [1, H, W, C*mult] for depthwise */
  for (int64_t o = 0; o < g.M; o++)
    for (int64_t i = 0; i < cig; i++)
      for (int64_t k = 0; k < kk; k++) wt[dw ? k * g.M + o : (o * kk + k) * cig + i] = w[(o * cig + i) * kk + k];
  float lo, hi;
  x->residual = has_residual(in, nin);
  act_bounds(&p->act, x->residual, &lo, &hi, &x->post);
  enum xnn_status s = xnn_create_convolution2d_nhwc_f32(
      (uint32_t)g.pb[1], end_pad(&g, 2), end_pad(&g, 1), (uint32_t)g.pb[2], (uint32_t)g.k[1], (uint32_t)g.k[2],
      (uint32_t)g.s[1], (uint32_t)g.s[2], (uint32_t)g.d[1], (uint32_t)g.d[2], (uint32_t)g.group, (size_t)cig,
      (size_t)cog, (size_t)g.C, (size_t)g.M, wt, nin > 2 && in[2] ? in[2]->data : NULL, lo, hi,
      dw ? XNN_FLAG_DEPTHWISE_CONVOLUTION : 0, &x->op);
  free(wt); /* packed into the operator's own buffer by create */
  if (s != xnn_status_success) return NN_ERR(n, VRT_EUNSUPPORTED, "xnn_create_convolution2d_nhwc_f32: status %d", s);
  x->kind = XK_CONV;
  x->batch = g.N, x->h = g.in[1], x->w = g.in[2];
  x->out_numel = g.N * g.out[1] * g.out[2] * g.M;
  x->channels = g.M;
  return 0;
}

static int prepare_pool(xnn_node *x, const vrt_node *n, const vrt_tensor *const *in, int nin) {
  nn_geom g;
  if (!pool_ok(n, in, nin, &g)) return NN_ERR(n, VRT_EUNSUPPORTED, "not an XNNPACK pooling");
  enum xnn_status s;
  if (n->op == VRT_OP_MaxPool) {
    s = xnn_create_max_pooling2d_nhwc_f32((uint32_t)g.pb[1], end_pad(&g, 2), end_pad(&g, 1), (uint32_t)g.pb[2],
                                          (uint32_t)g.k[1], (uint32_t)g.k[2], (uint32_t)g.s[1], (uint32_t)g.s[2],
                                          (uint32_t)g.d[1], (uint32_t)g.d[2], (size_t)g.C, (size_t)g.C, (size_t)g.C,
                                          -INFINITY, INFINITY, 0, &x->op);
    x->kind = XK_MAXPOOL;
  } else {
    s = xnn_create_average_pooling2d_nhwc_f32((uint32_t)g.pb[1], end_pad(&g, 2), end_pad(&g, 1), (uint32_t)g.pb[2],
                                              (uint32_t)g.k[1], (uint32_t)g.k[2], (uint32_t)g.s[1], (uint32_t)g.s[2],
                                              (size_t)g.C, (size_t)g.C, (size_t)g.C, -INFINITY, INFINITY, 0, &x->op);
    x->kind = XK_AVGPOOL;
  }
  if (s != xnn_status_success) return NN_ERR(n, VRT_EUNSUPPORTED, "XNNPACK pooling create: status %d", s);
  x->batch = g.N, x->h = g.in[1], x->w = g.in[2];
  x->out_numel = g.N * g.out[1] * g.out[2] * g.C;
  return 0;
}

static int prepare_gavg(xnn_node *x, const vrt_node *n, const vrt_tensor *const *in) {
  const vrt_tensor *t = in[0];
  int64_t C = t->dims[3];
  enum xnn_status s =
      xnn_create_global_average_pooling_nwc_f32((size_t)C, (size_t)C, (size_t)C, -INFINITY, INFINITY, 0, &x->op);
  if (s != xnn_status_success) return NN_ERR(n, VRT_EUNSUPPORTED, "XNNPACK global average pooling: status %d", s);
  x->kind = XK_GAVGPOOL;
  x->batch = t->dims[0], x->h = t->dims[1], x->w = t->dims[2];
  x->out_numel = t->dims[0] * C;
  return 0;
}

static int prepare_fc(xnn_node *x, const vrt_node *n, const vrt_tensor *const *in, int nin) {
  int64_t K, N;
  if (!fc_ok(n, in, nin, true, &K, &N)) return NN_ERR(n, VRT_EUNSUPPORTED, "not an XNNPACK fully connected");
  bool tb = n->op == VRT_OP_Gemm && vrt_attr_int(n, "transB", 0);
  const float *bias = n->op == VRT_OP_Gemm && nin > 2 && in[2] ? in[2]->data : NULL;
  nn_act a;
  if (nn_act_parse(n, &a)) return -1;
  float lo, hi;
  act_bounds(&a, false, &lo, &hi, &x->post);
  /* XNNPACK's kernel is [N, K]; a [K, N] B is its transposed form */
  enum xnn_status s = xnn_create_fully_connected_nc_f32((size_t)K, (size_t)N, (size_t)K, (size_t)N, in[1]->data, bias,
                                                        lo, hi, tb ? 0 : XNN_FLAG_TRANSPOSE_WEIGHTS, &x->op);
  if (s != xnn_status_success) return NN_ERR(n, VRT_EUNSUPPORTED, "xnn_create_fully_connected_nc_f32: status %d", s);
  x->kind = XK_FC;
  x->batch = vrt_tensor_numel(in[0]) / K;
  x->out_numel = x->batch * N;
  x->channels = N;
  return 0;
}

int xnn_prepare_node(const vrt_node *n, const vrt_tensor *const *in, int nin, xnn_node **out) {
  *out = NULL;
  if (!xnn_available()) return NN_ERR(n, VRT_EUNSUPPORTED, "XNNPACK did not initialise on this CPU");
  xnn_node *x = calloc(1, sizeof *x);
  if (!x) return NN_ERR(n, VRT_ENOMEM, "out of memory");
  x->n = n;
  int rc;
  switch (n->op) {
    case VRT_OP_Conv: rc = prepare_conv(x, n, in, nin); break;
    case VRT_OP_MaxPool:
    case VRT_OP_AveragePool: rc = prepare_pool(x, n, in, nin); break;
    case VRT_OP_GlobalAveragePool:
      rc = xnn_supports_node(n, in, nin, true) ? prepare_gavg(x, n, in) : NN_ERR(n, VRT_EUNSUPPORTED, "not NHWC f32");
      break;
    case VRT_OP_Gemm:
    case VRT_OP_MatMul: rc = prepare_fc(x, n, in, nin); break;
    default: rc = NN_ERR(n, VRT_EUNSUPPORTED, "no XNNPACK operator for this op");
  }
  if (rc) {
    xnn_node_free(x);
    return rc;
  }
  x->in_numel = vrt_tensor_numel(in[0]);
  *out = x;
  return 0;
}

/* XNNPACK may read up to XNN_EXTRA_BYTES past an input's end. vrt's own
 * buffers are padded to 64 bytes, but a caller's input tensor is not: when
 * such a read could cross into the next page, run on a padded copy. */
static bool tail_unsafe(const void *p, size_t bytes) {
  uintptr_t end = (uintptr_t)p + bytes;
  return (end & 4095) > 4096 - XNN_EXTRA_BYTES || (end & 4095) == 0;
}

int xnn_run_node(xnn_node *x, const vrt_tensor *const *in, int nin, vrt_tensor *out, int threads) {
  const vrt_node *n = x->n;
  if (nin < 1 || !in[0] || vrt_tensor_numel(in[0]) != x->in_numel || vrt_tensor_numel(out) != x->out_numel)
    return NN_ERR(n, VRT_ESHAPE, "input shape differs from the one XNNPACK was prepared for");
  const float *src = in[0]->data;
  float *copy = NULL;
  size_t bytes = sizeof(float) * (size_t)x->in_numel;
  if (tail_unsafe(src, bytes)) {
    copy = malloc(bytes + XNN_EXTRA_BYTES);
    if (!copy) return NN_ERR(n, VRT_ENOMEM, "out of memory");
    memcpy(copy, src, bytes);
    src = copy;
  }
  pthreadpool_t pool = pool_get(threads);
  float *dst = out->data;
  enum xnn_status s;
  switch (x->kind) {
    case XK_CONV:
      s = xnn_setup_convolution2d_nhwc_f32(x->op, (size_t)x->batch, (size_t)x->h, (size_t)x->w, src, dst, pool);
      break;
    case XK_MAXPOOL:
      s = xnn_setup_max_pooling2d_nhwc_f32(x->op, (size_t)x->batch, (size_t)x->h, (size_t)x->w, src, dst, pool);
      break;
    case XK_AVGPOOL:
      s = xnn_setup_average_pooling2d_nhwc_f32(x->op, (size_t)x->batch, (size_t)x->h, (size_t)x->w, src, dst, pool);
      break;
    case XK_GAVGPOOL:
      s = xnn_setup_global_average_pooling_nwc_f32(x->op, (size_t)x->batch, (size_t)(x->h * x->w), src, dst, pool);
      break;
    case XK_FC: s = xnn_setup_fully_connected_nc_f32(x->op, (size_t)x->batch, src, dst, pool); break;
    default: s = xnn_status_invalid_parameter;
  }
  if (s == xnn_status_success) s = xnn_run_operator(x->op, pool);
  free(copy);
  runs++;
  if (s != xnn_status_success) return NN_ERR(n, VRT_EINVAL, "XNNPACK run failed: status %d", s);
  if (x->residual) {
    if (!has_residual(in, nin) || vrt_tensor_numel(in[4]) != x->out_numel)
      return NN_ERR(n, VRT_ESHAPE, "fused residual must have the output's shape");
    const float *r = in[4]->data;
    for (int64_t i = 0; i < x->out_numel; i++) dst[i] += r[i];
  }
  if (x->post.kind != NN_ACT_NONE) nn_bias_act(dst, x->out_numel / x->channels, x->channels, 1, NULL, &x->post, NULL, 0);
  return 0;
}

void xnn_node_free(xnn_node *x) {
  if (!x) return;
  if (x->op) xnn_delete_operator(x->op);
  free(x);
}

#else /* built without XNNPACK */

bool xnn_available(void) { return false; }

bool xnn_supports_node(const vrt_node *n, const vrt_tensor *const *in, int nin, bool wconst) { return false; }

int xnn_prepare_node(const vrt_node *n, const vrt_tensor *const *in, int nin, xnn_node **out) {
  *out = NULL;
  return NN_ERR(n, VRT_EUNSUPPORTED, "vrt was built without XNNPACK");
}

int xnn_run_node(xnn_node *x, const vrt_tensor *const *in, int nin, vrt_tensor *out, int threads) {
  return VRT_EUNSUPPORTED;
}

void xnn_node_free(xnn_node *x) {}

int64_t xnn_run_count(void) { return 0; }

#endif

/* ---- the backend table entry (backend.h) --------------------------------------
 * Constants are the inputs whose data the request carries, so "weights are
 * constant" is in[1]->data != NULL, which xnn_supports_node checks. This
 * XNNPACK (2022-02) has no shared weights cache: each session's plan packs
 * its own copy of a node's weights when it creates the operator. */

/* What the table routes here, from `vigil bench kernels` on this CPU:
 * NHWC max and average pooling (1.6-2x faster than oneDNN's primitive). Not
 * convolution (oneDNN's JIT primitives are faster almost everywhere; set
 * VRT_XNNPACK_CONV=1 to route NHWC convolutions here for comparison), not
 * global average pooling (oneDNN ties or wins), not fully connected (vrt's
 * sgemm path wins: 1.8x at 197x768x768). */
static bool backend_supports(const vrt_kernel_req *rq) {
  switch (rq->n->op) {
    case VRT_OP_MaxPool:
    case VRT_OP_AveragePool: break;
    case VRT_OP_Conv: {
      const char *e = getenv("VRT_XNNPACK_CONV");
      if (!e || strcmp(e, "1")) return false;
      break;
    }
    default: return false;
  }
  return xnn_supports_node(rq->n, rq->in, rq->nin, true);
}

static int backend_plan(const vrt_kernel_req *rq, void **state) {
  *state = NULL;
  for (int k = 0; k < rq->nin; k++) /* no accepts_private: every input must arrive plain */
    if (rq->in_layout && rq->in_layout[k]) return NN_ERR(rq->n, VRT_EUNSUPPORTED, "input %d is not plain", k);
  xnn_node *x = NULL;
  /* XNNPACK packs the weights itself, from the originals: pinned, one that
   * oneDNN's packing gave back is there (backend.c) */
  int rc = vrt__model_weights_pin(rq->m, rq->node, false);
  if (rc == 0) rc = xnn_prepare_node(rq->n, rq->in, rq->nin, &x);
  vrt__model_weights_unpin(rq->m, rq->node);
  *state = x;
  return rc;
}

/* On the caller's thread only: oneDNN's OpenMP team is the session's thread
 * pool, and a second pool (pthreadpool's) beside it would oversubscribe the
 * cores; the pooling routed here is short and memory-bound. */
static int backend_exec(void *state, const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out,
                        int nout, vrt_exec_ctx *x) {
  return xnn_run_node(state, in, nin, &out[0], 1);
}

static void backend_release(void *state) { xnn_node_free(state); }

const vrt_backend vrt__backend_xnn = {
    .name = "xnnpack",
    .supports_op = backend_supports,
    .plan = backend_plan,
    .exec = backend_exec,
    .release = backend_release,
};
