/* Load-time fusion passes: BatchNorm folded into Conv, a residual Add and an
 * activation folded into the Conv/Gemm/MatMul before them; a BatchNorm that
 * folds into nothing becomes a depthwise 1x1 Conv (or, below rank 4, takes a
 * ReLU itself); a zero Pad goes into the AveragePool after it.
 *
 * Each pass rewrites the graph in place after constant folding (so shapes
 * and constants are known) and marks the swallowed node dead (op = -1) for
 * remove_dead. The fused forms are the ones the kernels already understand:
 *   - a folded BatchNorm is new constant weights and bias on the Conv;
 *   - an activation is the "vrt_act" attribute (nn_act_parse), applied after
 *     bias and residual;
 *   - a residual Add is Conv input 4, added before the activation.
 * The reference kernels implement every fused form, so fusion never depends
 * on a backend; oneDNN maps them to post-ops. A node is only swallowed when
 * the intermediate value has exactly one consumer and is not a graph output,
 * so nothing else can observe it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuse.h"
#include "ops.h"

int *vrt__fuse_uses(const vrt_graph *g) {
  int *u = calloc((size_t)g->nvalues + 1, sizeof *u);
  if (!u) return NULL;
  for (int i = 0; i < g->nnodes; i++) {
    if (g->nodes[i].op < 0) continue;
    for (int k = 0; k < g->nodes[i].nin; k++)
      if (g->nodes[i].in[k] >= 0) u[g->nodes[i].in[k]]++;
  }
  for (int i = 0; i < g->noutputs; i++) u[g->outputs[i]]++;
  return u;
}

static bool const_f32(const vrt_graph *g, int v, int64_t numel) {
  if (v < 0) return false;
  const vrt_value *val = &g->values[v];
  return (val->flags & VRT_VAL_CONST) && val->t.dtype == VRT_F32 && val->t.data &&
         vrt_tensor_numel(&val->t) == numel;
}

int vrt__fuse_pass(vrt_graph *g, char *changed, vrt_fuse_rule rule) {
  int *uses = vrt__fuse_uses(g);
  if (!uses) return vrt__err(VRT_ENOMEM, "out of memory");
  int rc = 0, fused = 0;
  for (int i = 0; i < g->nnodes && rc >= 0; i++)
    if ((rc = rule(g, uses, i, changed)) > 0) fused++;
  free(uses);
  return rc < 0 ? rc : fused;
}

int vrt__fuse_seq(vrt_graph *g, char *changed, const vrt_fuse_fn *passes, int n) {
  int total = 0;
  for (int k = 0; k < n; k++) {
    int rc = passes[k](g, changed);
    if (rc < 0) return rc;
    total += rc;
  }
  return total;
}

vrt_node *vrt__fuse_producer(vrt_graph *g, int v) {
  if (v < 0 || g->values[v].producer < 0) return NULL;
  vrt_node *p = &g->nodes[g->values[v].producer];
  return p->op < 0 ? NULL : p;
}

int vrt__fuse_rewrite(vrt_node *n, int op, const char *op_type, const int *in, int nin) {
  int *ni = malloc(sizeof(int) * (size_t)nin);
  char *t = strdup(op_type);
  if (!ni || !t) {
    free(ni), free(t);
    return vrt__err(VRT_ENOMEM, "out of memory");
  }
  memcpy(ni, in, sizeof(int) * (size_t)nin);
  free(n->in);
  n->in = ni;
  n->nin = nin;
  for (int k = 0; k < n->nattr; k++) vrt_attr_clear(&n->attrs[k]);
  free(n->attrs);
  n->attrs = NULL;
  n->nattr = 0;
  free(n->op_type);
  n->op_type = t;
  n->op = op;
  return 0;
}

void vrt__fuse_kill(vrt_node *const *dead, size_t n) {
  for (size_t k = 0; k < n; k++)
    if (dead[k]) dead[k]->op = -1;
}

static bool has_fused(const vrt_node *n) {
  const char *a = vrt_attr_string(n, "vrt_act", NULL);
  return (a && *a) || n->nin > 3;
}

void vrt__fuse_take_output(vrt_graph *g, vrt_node *n, vrt_node *dead) {
  int old = n->out[0], v = dead->out[0];
  n->out[0] = v;
  g->values[v].producer = (int)(n - g->nodes);
  if (old != v) g->values[old].producer = -1;
  dead->op = -1;
}

static int set_input(vrt_node *n, int k, int v) {
  if (k >= n->nin) {
    int *in = realloc(n->in, sizeof(int) * (size_t)(k + 1));
    if (!in) return vrt__err(VRT_ENOMEM, "out of memory");
    for (int i = n->nin; i <= k; i++) in[i] = -1;
    n->in = in;
    n->nin = k + 1;
  }
  n->in[k] = v;
  return 0;
}

static void mark(char *changed, const vrt_graph *g, const vrt_node *n) {
  if (changed) changed[n - g->nodes] = 1;
}

/* Output channel of element j of row r of Conv (tr false, W [M, C/G, k..])
 * or ConvTranspose (tr true, W [C, M/G, k..]) weights with per elements per
 * row: the mapping BatchNorm folding and per-channel scaling share. */
static int64_t out_channel(bool tr, int64_t r, int64_t j, int64_t rows, int64_t G, int64_t Mg, int64_t kk) {
  return tr ? (r / (rows / G)) * Mg + j / kk : r;
}

static int batchnorm_at(vrt_graph *g, const int *uses, int i, char *changed) {
  vrt_node *bn = &g->nodes[i];
  if (bn->op != VRT_OP_BatchNormalization || bn->nin != 5 || bn->nout != 1) return 0;
  const char *act = vrt_attr_string(bn, "vrt_act", NULL);
  if (vrt_attr_int(bn, "training_mode", 0) || (act && *act)) return 0;
  vrt_node *cv = vrt__fuse_producer(g, bn->in[0]);
  if (!cv || (cv->op != VRT_OP_Conv && cv->op != VRT_OP_ConvTranspose) || uses[bn->in[0]] != 1 || has_fused(cv))
    return 0;
  bool tr = cv->op == VRT_OP_ConvTranspose;
  if (vrt_attr_int(cv, "vrt_layout", 0) != 0) return 0; /* BatchNorm's axis 1 is NCHW's channel */
  const vrt_tensor *w = &g->values[cv->in[1]].t;
  if (w->ndim < 3 || !const_f32(g, cv->in[1], vrt_tensor_numel(w))) return 0;
  /* Conv W is [M, C/G, k..]: output channel m is row m. ConvTranspose W is
   * [C, M/G, k..]: output channel (c / (C/G)) * M/G + o is W[c, o]. */
  int64_t G = vrt_attr_int(cv, "group", 1);
  if (G < 1 || w->dims[0] % G) return 0;
  int64_t M = tr ? w->dims[1] * G : w->dims[0], rows = w->dims[0], Mg = w->dims[1];
  int64_t per = vrt_tensor_numel(w) / (rows ? rows : 1), kk = tr ? per / (Mg ? Mg : 1) : per;
  bool ok = M > 0 && rows > 0;
  for (int k = 1; k < 5; k++) ok = ok && const_f32(g, bn->in[k], M);
  bool bias = cv->nin > 2 && cv->in[2] >= 0;
  if (!ok || (bias && !const_f32(g, cv->in[2], M))) return 0;
  const float *sc = g->values[bn->in[1]].t.data, *sh = g->values[bn->in[2]].t.data;
  const float *mean = g->values[bn->in[3]].t.data, *var = g->values[bn->in[4]].t.data;
  const float *w0 = w->data, *b0 = bias ? g->values[cv->in[2]].t.data : NULL;
  float eps = vrt_attr_float(bn, "epsilon", 1e-5f);
  float *nw = malloc(sizeof(float) * (size_t)(rows * per)), *nb = malloc(sizeof(float) * (size_t)M);
  if (!nw || !nb) {
    free(nw), free(nb);
    return vrt__err(VRT_ENOMEM, "out of memory folding BatchNorm");
  }
  for (int64_t m = 0; m < M; m++) nb[m] = ((b0 ? b0[m] : 0) - mean[m]) * (sc[m] / sqrtf(var[m] + eps)) + sh[m];
  for (int64_t r = 0; r < rows; r++)
    for (int64_t j = 0; j < per; j++) {
      int64_t m = out_channel(tr, r, j, rows, G, Mg, kk);
      nw[r * per + j] = w0[r * per + j] * (sc[m] / sqrtf(var[m] + eps));
    }
  int64_t bd[1] = {M};
  char name[256];
  snprintf(name, sizeof name, "%s/bn_folded_w", cv->name);
  int64_t wd[VRT_MAX_DIMS]; /* adding a value may move g->values, and w with it */
  int wn = w->ndim;
  memcpy(wd, w->dims, sizeof wd);
  int vw = vrt_graph_add_const(g, name, VRT_F32, wn, wd, nw, sizeof(float) * (size_t)(rows * per), false);
  if (vw < 0) { /* add_const freed nw */
    free(nb);
    return vw;
  }
  snprintf(name, sizeof name, "%s/bn_folded_b", cv->name);
  int vb = vrt_graph_add_const(g, name, VRT_F32, 1, bd, nb, sizeof(float) * (size_t)M, false);
  if (vb < 0) return vb;
  bn = &g->nodes[i]; /* values may have moved; nodes did not */
  cv->in[1] = vw;
  int rc = set_input(cv, 2, vb);
  if (rc) return rc;
  vrt__fuse_take_output(g, cv, bn);
  mark(changed, g, cv);
  return 1;
}

int vrt__fuse_batchnorm(vrt_graph *g, char *changed) { return vrt__fuse_pass(g, changed, batchnorm_at); }

/* A constant that is a scalar or, for an NCHW host, one value per output
 * channel ([M,1,1] or [1,M,1,1]): its values through *v, count via *per_ch. */
static bool channel_const(const vrt_graph *g, int v, int64_t M, bool nchw, const float **vals, bool *per_ch) {
  if (const_f32(g, v, 1)) {
    *vals = g->values[v].t.data;
    *per_ch = false;
    return true;
  }
  if (!nchw || M <= 1 || !const_f32(g, v, M)) return false;
  const vrt_tensor *t = &g->values[v].t;
  if (!(t->ndim == 3 && t->dims[0] == M) && !(t->ndim == 4 && t->dims[0] == 1 && t->dims[1] == M)) return false;
  *vals = t->data;
  *per_ch = true;
  return true;
}

/* Conv/ConvTranspose -> Mul(., k) or Add(., b) with a constant scalar or
 * per-output-channel k / b: k scales the weights and bias, b adds to the
 * bias (Paddle writes ConvTranspose bias as such an Add, and MobileOne blocks
 * a scalar affine after every conv). Repeats until nothing changes. */
static int affine_at(vrt_graph *g, const int *uses, int i, char *changed) {
  vrt_node *op = &g->nodes[i];
  if ((op->op != VRT_OP_Mul && op->op != VRT_OP_Add) || op->nin != 2 || op->nout != 1) return 0;
  for (int side = 0; side < 2; side++) {
    int c = op->in[1 - side];
    vrt_node *cv = vrt__fuse_producer(g, c);
    if (!cv || (cv->op != VRT_OP_Conv && cv->op != VRT_OP_ConvTranspose) || uses[c] != 1 || has_fused(cv) ||
        cv->nout != 1)
      continue;
    bool tr = cv->op == VRT_OP_ConvTranspose;
    const vrt_tensor *w = &g->values[cv->in[1]].t;
    int64_t G = vrt_attr_int(cv, "group", 1);
    if (w->ndim < 3 || G < 1 || w->dims[0] % G || !const_f32(g, cv->in[1], vrt_tensor_numel(w))) continue;
    int64_t rows = w->dims[0], Mg = w->dims[1], M = tr ? Mg * G : rows, nw = vrt_tensor_numel(w);
    int64_t per = nw / rows, kk = tr ? per / (Mg ? Mg : 1) : per;
    const float *kv;
    bool per_ch;
    if (!channel_const(g, op->in[side], M, vrt_attr_int(cv, "vrt_layout", 0) == 0, &kv, &per_ch)) continue;
    bool bias = cv->nin > 2 && cv->in[2] >= 0;
    if (bias && !const_f32(g, cv->in[2], M)) continue;
    bool mul = op->op == VRT_OP_Mul;
    float *nb = malloc(sizeof(float) * (size_t)M), *nwt = mul ? malloc(sizeof(float) * (size_t)nw) : NULL;
    if (!nb || (mul && !nwt)) {
      free(nb), free(nwt);
      return vrt__err(VRT_ENOMEM, "out of memory");
    }
    const float *b0 = bias ? g->values[cv->in[2]].t.data : NULL;
    for (int64_t m = 0; m < M; m++) {
      float k = kv[per_ch ? m : 0], b = b0 ? b0[m] : 0;
      nb[m] = mul ? b * k : b + k;
    }
    char name[256];
    int64_t bd[1] = {M};
    if (mul) {
      const float *w0 = w->data;
      for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < per; j++)
          nwt[r * per + j] = w0[r * per + j] * kv[per_ch ? out_channel(tr, r, j, rows, G, Mg, kk) : 0];
      snprintf(name, sizeof name, "%s/scaled_w", cv->name);
      int64_t wd[VRT_MAX_DIMS]; /* adding a value may move g->values, and w with it */
      int wn = w->ndim;
      memcpy(wd, w->dims, sizeof wd);
      int vw = vrt_graph_add_const(g, name, VRT_F32, wn, wd, nwt, sizeof(float) * (size_t)nw, false);
      if (vw < 0) {
        free(nb);
        return vw;
      }
      cv->in[1] = vw;
    }
    snprintf(name, sizeof name, "%s/affine_b", cv->name);
    int vb = vrt_graph_add_const(g, name, VRT_F32, 1, bd, nb, sizeof(float) * (size_t)M, false);
    if (vb < 0 || set_input(cv, 2, vb) < 0) return vb < 0 ? vb : VRT_ENOMEM;
    vrt__fuse_take_output(g, cv, op);
    mark(changed, g, cv);
    return 1;
  }
  return 0;
}

/* Every pass sees the uses of the graph as the pass began: run again while
 * fusions make new matches (a bias Add, then a scale, after one Conv). */
int vrt__fuse_affine(vrt_graph *g, char *changed) {
  int rc, fused = 0;
  while ((rc = vrt__fuse_pass(g, changed, affine_at)) > 0) fused += rc;
  return rc < 0 ? rc : fused;
}

/* Is v the other operand of Add(a, v) with exactly a's full static shape, and
 * available before node index before? */
static bool same_static_shape(const vrt_tensor *a, const vrt_tensor *b) {
  if (a->ndim < 0 || a->ndim != b->ndim || a->dtype != b->dtype) return false;
  for (int d = 0; d < a->ndim; d++)
    if (a->dims[d] < 0 || a->dims[d] != b->dims[d]) return false;
  return true;
}

static int residual_at(vrt_graph *g, const int *uses, int i, char *changed) {
  vrt_node *add = &g->nodes[i];
  if (add->op != VRT_OP_Add || add->nin != 2 || add->nout != 1) return 0;
  for (int side = 0; side < 2; side++) {
    int a = add->in[side], r = add->in[1 - side];
    vrt_node *cv = vrt__fuse_producer(g, a);
    if (!cv || cv->op != VRT_OP_Conv || uses[a] != 1 || has_fused(cv) || a == r) continue;
    if (!same_static_shape(&g->values[a].t, &g->values[r].t) || g->values[a].t.dtype != VRT_F32) continue;
    int rp = g->values[r].producer; /* the residual must exist when the Conv runs */
    if (rp >= 0 && rp >= (int)(cv - g->nodes)) continue;
    if (set_input(cv, 4, r) < 0) return VRT_ENOMEM;
    vrt__fuse_take_output(g, cv, add);
    mark(changed, g, cv);
    return 1;
  }
  return 0;
}

int vrt__fuse_residual(vrt_graph *g, char *changed) { return vrt__fuse_pass(g, changed, residual_at); }

/* Activation of node a as a "vrt_act" name (+ alpha/beta), or NULL. */
static const char *act_of(const vrt_graph *g, const vrt_node *a, float *alpha, float *beta) {
  *alpha = 0, *beta = 0;
  switch (a->op) {
    case VRT_OP_Relu: return "Relu";
    case VRT_OP_Sigmoid: return "Sigmoid";
    case VRT_OP_Tanh: return "Tanh";
    case VRT_OP_HardSwish: return "HardSwish";
    case VRT_OP_LeakyRelu: *alpha = vrt_attr_float(a, "alpha", 0.01f); return "LeakyRelu";
    case VRT_OP_Elu: *alpha = vrt_attr_float(a, "alpha", 1.0f); return "Elu";
    case VRT_OP_Gelu: return strcmp(vrt_attr_string(a, "approximate", "none"), "none") ? NULL : "Gelu";
    case VRT_OP_Clip: {
      *alpha = -INFINITY, *beta = INFINITY;
      if (vrt_node_attr(a, "min")) *alpha = vrt_attr_float(a, "min", 0);
      if (vrt_node_attr(a, "max")) *beta = vrt_attr_float(a, "max", 0);
      for (int k = 1; k < a->nin && k < 3; k++) {
        if (a->in[k] < 0) continue;
        if (!const_f32(g, a->in[k], 1)) return NULL;
        float v = *(const float *)g->values[a->in[k]].t.data;
        if (k == 1) *alpha = v;
        else *beta = v;
      }
      if (*alpha == 0 && *beta == 6) return "Relu6";
      return "Clip";
    }
    default: return NULL;
  }
}

static bool act_host(const vrt_node *n) {
  if (n->op == VRT_OP_Conv || n->op == VRT_OP_ConvTranspose) return true;
  /* a BatchNorm left standalone (pre-activation: after a Concat or an Add)
   * takes a ReLU, which oneDNN's batch normalization applies in the same
   * pass (fuse_norm_relu); inference only */
  if (n->op == VRT_OP_BatchNormalization) return n->nout == 1 && !vrt_attr_int(n, "training_mode", 0);
  /* Gemm/MatMul apply vrt_act too; their input 3 is the Prelu slope only */
  return (n->op == VRT_OP_Gemm || n->op == VRT_OP_MatMul) && n->nin <= 3;
}

static int set_act(vrt_node *n, const char *name, float alpha, float beta) {
  int rc = vrt_node_set_string(n, "vrt_act", name);
  if (!rc) rc = vrt_node_set_float(n, "vrt_act_alpha", alpha);
  if (!rc) rc = vrt_node_set_float(n, "vrt_act_beta", beta);
  return rc;
}

/* The live node after index from that reads v with op (any input slot), or
 * NULL. */
static vrt_node *reader(vrt_graph *g, int v, int op, int from) {
  for (int j = from + 1; j < g->nnodes; j++) {
    vrt_node *m = &g->nodes[j];
    if (m->op != op) continue;
    for (int k = 0; k < m->nin; k++)
      if (m->in[k] == v) return m;
  }
  return NULL;
}

static bool scalar_is(const vrt_graph *g, int v, float want) {
  return const_f32(g, v, 1) && fabsf(*(const float *)g->values[v].t.data - want) < 1e-6f * (1 + fabsf(want));
}

/* HardSwish spelled out, as Paddle and older torch exports write it, on a
 * value x that only these nodes read:
 *   Mul(x, Clip(Add(x, 3), 0, 6)) then Div(., 6) or Mul(., 1/6)   (x read twice)
 *   Mul(x, HardSigmoid(x; alpha 1/6, beta 1/2))                      (x read twice)
 * Returns the node whose output is the HardSwish and marks the rest dead
 * (only when the whole pattern matches), or NULL. */
static vrt_node *match_hardswish(vrt_graph *g, const int *uses, int x, int from) {
  vrt_node *hs = reader(g, x, VRT_OP_HardSigmoid, from);
  if (hs && uses[x] == 2 && uses[hs->out[0]] == 1 && fabsf(vrt_attr_float(hs, "alpha", 0.2f) - 1.0f / 6) < 1e-6f &&
      fabsf(vrt_attr_float(hs, "beta", 0.5f) - 0.5f) < 1e-6f) {
    vrt_node *mul = reader(g, hs->out[0], VRT_OP_Mul, from);
    if (mul && mul->nin == 2 && (mul->in[0] == x || mul->in[1] == x)) {
      hs->op = -1;
      return mul;
    }
    return NULL;
  }
  vrt_node *add = reader(g, x, VRT_OP_Add, from);
  if (!add || uses[x] != 2 || add->nin != 2 || !scalar_is(g, add->in[add->in[0] == x ? 1 : 0], 3)) return NULL;
  vrt_node *clip = reader(g, add->out[0], VRT_OP_Clip, from);
  if (!clip || uses[add->out[0]] != 1 || uses[clip->out[0]] != 1) return NULL;
  float lo, hi;
  const char *k = act_of(g, clip, &lo, &hi);
  if (!k || strcmp(k, "Relu6")) return NULL;
  vrt_node *mul = reader(g, clip->out[0], VRT_OP_Mul, from);
  if (!mul || mul->nin != 2 || !(mul->in[0] == x || mul->in[1] == x) || uses[mul->out[0]] != 1) return NULL;
  vrt_node *div = reader(g, mul->out[0], VRT_OP_Div, from), *last = NULL;
  if (div && div->nin == 2 && div->in[0] == mul->out[0] && scalar_is(g, div->in[1], 6)) last = div;
  vrt_node *m6 = last ? NULL : reader(g, mul->out[0], VRT_OP_Mul, from);
  if (m6 && m6->nin == 2 && scalar_is(g, m6->in[m6->in[0] == mul->out[0] ? 1 : 0], 1.0f / 6)) last = m6;
  if (!last) return NULL;
  add->op = -1, clip->op = -1, mul->op = -1;
  return last;
}

/* h takes activation name; its output becomes last's (the rest of the
 * pattern is dead already). */
static int fold_act(vrt_graph *g, vrt_node *h, vrt_node *last, const char *name, float alpha, float beta,
                    char *changed) {
  int rc = set_act(h, name, alpha, beta);
  if (rc) return rc;
  vrt__fuse_take_output(g, h, last);
  mark(changed, g, h);
  return 1;
}

static int activation_at(vrt_graph *g, const int *uses, int i, char *changed) {
  vrt_node *a = &g->nodes[i];
  if (a->op < 0 || a->nin < 1 || a->nout != 1) return 0;
  int x = a->in[0];
  vrt_node *h = vrt__fuse_producer(g, x);
  if (!h || !act_host(h) || h->nout != 1) return 0;
  const char *cur = vrt_attr_string(h, "vrt_act", NULL);
  if (cur && *cur) return 0;
  /* Conv is float32 only; Gemm/MatMul must be known to be (dynamic shapes
   * leave dtypes unset at load) */
  bool conv = h->op == VRT_OP_Conv || h->op == VRT_OP_ConvTranspose;
  if (!conv && g->values[x].t.dtype != VRT_F32) return 0;
  float alpha, beta;
  const char *name = act_of(g, a, &alpha, &beta);
  if (h->op == VRT_OP_BatchNormalization) /* ReLU alone: what fuse_norm_relu is */
    return name && !strcmp(name, "Relu") && uses[x] == 1 ? fold_act(g, h, a, name, alpha, beta, changed) : 0;
  if (name && uses[x] == 1) return fold_act(g, h, a, name, alpha, beta, changed);
  vrt_node *last = !name && uses[x] == 2 ? match_hardswish(g, uses, x, (int)(h - g->nodes)) : NULL;
  if (last) return fold_act(g, h, last, "HardSwish", 0, 0, changed);
  /* SiLU: y = Mul(x, Sigmoid(x)), x read by exactly those two */
  if (a->op != VRT_OP_Sigmoid || uses[x] != 2 || uses[a->out[0]] != 1) return 0;
  for (int j = i + 1; j < g->nnodes; j++) {
    vrt_node *m = &g->nodes[j];
    if (m->op == VRT_OP_Mul && m->nin == 2 &&
        ((m->in[0] == x && m->in[1] == a->out[0]) || (m->in[1] == x && m->in[0] == a->out[0]))) {
      int rc = fold_act(g, h, m, "SiLU", 0, 0, changed);
      if (rc > 0) a->op = -1;
      return rc;
    }
  }
  return 0;
}

int vrt__fuse_activation(vrt_graph *g, char *changed) { return vrt__fuse_pass(g, changed, activation_at); }

/* ReduceMean over the last axis only (keepdims), by attribute or constant
 * axes input. */
static bool mean_last(const vrt_graph *g, const vrt_node *r, int x) {
  if (r->op != VRT_OP_ReduceMean || r->in[0] != x || !vrt_attr_int(r, "keepdims", 1)) return false;
  const int64_t *ax;
  int na = vrt_attr_ints(r, "axes", &ax);
  int64_t a;
  if (na == 1) {
    a = ax[0];
  } else if (na == 0 && r->nin > 1 && r->in[1] >= 0) {
    const vrt_value *v = &g->values[r->in[1]];
    if (!(v->flags & VRT_VAL_CONST) || v->t.dtype != VRT_I64 || vrt_tensor_numel(&v->t) != 1) return false;
    a = *(const int64_t *)v->t.data;
  } else {
    return false;
  }
  int rank = g->values[x].t.ndim;
  return a == -1 || (rank > 0 && a == rank - 1);
}

vrt_node *vrt__fuse_sole_reader(vrt_graph *g, const int *uses, int v, int from) {
  if (v < 0 || uses[v] != 1) return NULL;
  for (int j = from + 1; j < g->nnodes; j++) {
    vrt_node *m = &g->nodes[j];
    if (m->op < 0) continue;
    for (int k = 0; k < m->nin; k++)
      if (m->in[k] == v) return m;
  }
  return NULL;
}

/* LayerNorm written out, as exporters before opset 17 do:
 *   m = ReduceMean(x, -1); d = x - m; v = ReduceMean(d*d or Pow(d, 2), -1);
 *   y = d / Sqrt(v + eps) [* gamma] [+ beta]
 * becomes LayerNormalization(x, gamma or 1, beta; axis -1, epsilon eps). */
static int layernorm_at(vrt_graph *g, const int *uses, int i, char *changed) {
  vrt_node *m = &g->nodes[i];
  if (m->op != VRT_OP_ReduceMean || m->nout != 1) return 0;
  int x = m->in[0];
  if (!mean_last(g, m, x)) return 0;
  vrt_node *sub = vrt__fuse_sole_reader(g, uses, m->out[0], i);
  if (!sub || sub->op != VRT_OP_Sub || sub->nin != 2 || sub->in[0] != x || sub->in[1] != m->out[0]) return 0;
  int d = sub->out[0];
  if (uses[d] != 2 && uses[d] != 3) return 0;
  /* d is read by the square (Pow(d,2): once; Mul(d,d): twice) and the Div */
  vrt_node *sq = NULL, *div = NULL;
  for (int j = (int)(sub - g->nodes) + 1; j < g->nnodes; j++) {
    vrt_node *c = &g->nodes[j];
    if (c->op == VRT_OP_Pow && c->nin == 2 && c->in[0] == d && scalar_is(g, c->in[1], 2)) sq = c;
    if (c->op == VRT_OP_Mul && c->nin == 2 && c->in[0] == d && c->in[1] == d) sq = c;
    if (c->op == VRT_OP_Div && c->nin == 2 && c->in[0] == d) div = c;
  }
  if (!sq || !div || uses[d] != (sq->op == VRT_OP_Mul ? 3 : 2)) return 0;
  vrt_node *m2 = vrt__fuse_sole_reader(g, uses, sq->out[0], (int)(sq - g->nodes));
  if (!m2 || !mean_last(g, m2, sq->out[0])) return 0;
  vrt_node *add = vrt__fuse_sole_reader(g, uses, m2->out[0], (int)(m2 - g->nodes));
  if (!add || add->op != VRT_OP_Add || add->nin != 2) return 0;
  int ev = add->in[add->in[0] == m2->out[0] ? 1 : 0];
  if (!const_f32(g, ev, 1)) return 0;
  float eps = *(const float *)g->values[ev].t.data;
  vrt_node *sq2 = vrt__fuse_sole_reader(g, uses, add->out[0], (int)(add - g->nodes));
  if (!sq2 || sq2->op != VRT_OP_Sqrt || div->in[1] != sq2->out[0] || uses[sq2->out[0]] != 1) return 0;
  /* optional affine: Mul by a 1-D gamma, Add of a 1-D beta */
  vrt_node *last = div, *mul = NULL, *badd = NULL;
  int gamma = -1, beta = -1;
  vrt_node *nx = vrt__fuse_sole_reader(g, uses, div->out[0], (int)(div - g->nodes));
  if (nx && nx->op == VRT_OP_Mul && nx->nin == 2) {
    int gv = nx->in[nx->in[0] == div->out[0] ? 1 : 0];
    const vrt_tensor *gt = &g->values[gv].t;
    if (gt->ndim == 1 && const_f32(g, gv, gt->dims[0])) mul = nx, gamma = gv, last = nx;
  }
  nx = mul ? vrt__fuse_sole_reader(g, uses, mul->out[0], (int)(mul - g->nodes)) : NULL;
  if (nx && nx->op == VRT_OP_Add && nx->nin == 2) {
    int bv = nx->in[nx->in[0] == mul->out[0] ? 1 : 0];
    const vrt_tensor *bt = &g->values[bv].t;
    if (bt->ndim == 1 && const_f32(g, bv, bt->dims[0])) badd = nx, beta = bv, last = nx;
  }
  const vrt_tensor *xt = &g->values[x].t;
  int64_t D = xt->ndim > 0 ? xt->dims[xt->ndim - 1] : -1;
  if (gamma >= 0 && D >= 0 && g->values[gamma].t.dims[0] != D) return 0;
  if (beta >= 0 && D >= 0 && g->values[beta].t.dims[0] != D) return 0;
  if (gamma < 0) { /* LayerNormalization needs a scale: a scalar 1 broadcasts */
    float *one = malloc(sizeof(float));
    if (!one) return vrt__err(VRT_ENOMEM, "out of memory");
    *one = 1;
    char name[256];
    snprintf(name, sizeof name, "%s/ln_one", m->name);
    if ((gamma = vrt_graph_add_const(g, name, VRT_F32, 0, NULL, one, sizeof(float), false)) < 0) return gamma;
  }
  /* m becomes the LayerNormalization producing last's output */
  int ins[3] = {x, gamma, beta}, rc;
  if ((rc = vrt__fuse_rewrite(m, VRT_OP_LayerNormalization, "LayerNormalization", ins, beta >= 0 ? 3 : 2)) ||
      (rc = vrt_node_set_int(m, "axis", -1)) || (rc = vrt_node_set_float(m, "epsilon", eps)))
    return rc;
  vrt__fuse_take_output(g, m, last);
  vrt_node *dead[] = {sub, sq, m2, add, sq2, div, mul, badd};
  vrt__fuse_kill(dead, sizeof dead / sizeof dead[0]);
  mark(changed, g, m);
  return 1;
}

int vrt__fuse_layernorm(vrt_graph *g, char *changed) { return vrt__fuse_pass(g, changed, layernorm_at); }

/* A BatchNorm that folded into no producer (DenseNet's pre-activation BN
 * after a Concat) becomes a depthwise 1x1 Conv: weights scale / std, bias
 * B - mean * scale / std (ONNX Runtime's NCHWc transformer does the same).
 * oneDNN's depthwise kernel runs it 2-4x faster than its batch
 * normalization does on nhwc data, in the producer's layout, and the ReLU
 * after it fuses as into any Conv. NCHW, rank 4, inference. */
static int bn_dwconv_at(vrt_graph *g, const int *uses, int i, char *changed) {
  vrt_node *bn = &g->nodes[i];
  if (bn->op != VRT_OP_BatchNormalization || bn->nin != 5 || bn->nout != 1 || bn->in[0] < 0) return 0;
  const char *act = vrt_attr_string(bn, "vrt_act", NULL);
  if (vrt_attr_int(bn, "training_mode", 0) || vrt_attr_int(bn, "vrt_layout", 0) || (act && *act)) return 0;
  const vrt_tensor *x = &g->values[bn->in[0]].t;
  if (x->ndim != 4 || x->dtype != VRT_F32 || x->dims[1] <= 0) return 0;
  int64_t C = x->dims[1];
  for (int k = 1; k < 5; k++)
    if (!const_f32(g, bn->in[k], C)) return 0;
  const float *sc = g->values[bn->in[1]].t.data, *sh = g->values[bn->in[2]].t.data;
  const float *mean = g->values[bn->in[3]].t.data, *var = g->values[bn->in[4]].t.data;
  float eps = vrt_attr_float(bn, "epsilon", 1e-5f);
  float *w = malloc(sizeof(float) * (size_t)C), *b = malloc(sizeof(float) * (size_t)C);
  if (!w || !b) {
    free(w), free(b);
    return vrt__err(VRT_ENOMEM, "out of memory rewriting BatchNorm");
  }
  for (int64_t c = 0; c < C; c++) {
    w[c] = sc[c] / sqrtf(var[c] + eps);
    b[c] = sh[c] - mean[c] * w[c];
  }
  char name[256];
  snprintf(name, sizeof name, "%s/dw_w", bn->name);
  int vw = vrt_graph_add_const(g, name, VRT_F32, 4, (int64_t[]){C, 1, 1, 1}, w, sizeof(float) * (size_t)C, false);
  if (vw < 0) { /* add_const freed w */
    free(b);
    return vw;
  }
  snprintf(name, sizeof name, "%s/dw_b", bn->name);
  int vb = vrt_graph_add_const(g, name, VRT_F32, 1, (int64_t[]){C}, b, sizeof(float) * (size_t)C, false);
  if (vb < 0) return vb;
  bn = &g->nodes[i]; /* values may have moved; nodes did not */
  int rc = vrt__fuse_rewrite(bn, VRT_OP_Conv, "Conv", (int[]){bn->in[0], vw, vb}, 3);
  if (!rc) rc = vrt_node_set_int(bn, "group", C);
  if (rc) return rc;
  mark(changed, g, bn);
  return 1;
}

int vrt__fuse_bn_dwconv(vrt_graph *g, char *changed) { return vrt__fuse_pass(g, changed, bn_dwconv_at); }

/* The pads of a Pad node (constant input 1, or the opset < 11 attribute),
 * count into *np; NULL when they are not known at load. */
static const int64_t *pad_amounts(const vrt_graph *g, const vrt_node *n, int64_t *np) {
  const int64_t *pads = NULL;
  *np = 0;
  if (n->nin > 1 && n->in[1] >= 0) {
    const vrt_value *v = &g->values[n->in[1]];
    if (!(v->flags & VRT_VAL_CONST) || v->t.dtype != VRT_I64 || !v->t.data) return NULL;
    *np = vrt_tensor_numel(&v->t);
    return v->t.data;
  }
  *np = vrt_attr_ints(n, "pads", &pads);
  return pads;
}

/* Pads of a Pad node (constant input 1, or the opset < 11 attribute) all
 * zero: the node copies its input. */
static bool pad_is_identity(const vrt_graph *g, const vrt_node *n) {
  if (n->op != VRT_OP_Pad || n->nin < 1 || n->nout != 1 || n->in[0] < 0) return false;
  int64_t np;
  const int64_t *pads = pad_amounts(g, n, &np);
  if (np <= 0 || !pads) return false;
  for (int64_t i = 0; i < np; i++)
    if (pads[i] != 0) return false;
  return true;
}

/* A node that copies its input 0: a Pad of zeros, or a Concat of one input
 * (DenseNet's first layer of a block concatenates a list of one tensor). */
static bool is_identity(const vrt_graph *g, const vrt_node *n) {
  if (n->op == VRT_OP_Concat) return n->nin == 1 && n->nout == 1 && n->in[0] >= 0;
  return pad_is_identity(g, n);
}

int vrt__fuse_identity(vrt_graph *g, char *changed) {
  int removed = 0;
  for (int i = 0; i < g->nnodes; i++) {
    vrt_node *p = &g->nodes[i];
    if (!is_identity(g, p)) continue;
    int x = p->in[0], y = p->out[0];
    bool is_out = false;
    for (int k = 0; k < g->noutputs; k++) is_out |= g->outputs[k] == y;
    if (is_out || g->values[x].t.dtype != g->values[y].t.dtype) continue;
    for (int j = 0; j < g->nnodes; j++) {
      vrt_node *r = &g->nodes[j];
      if (r->op < 0) continue;
      for (int k = 0; k < r->nin; k++)
        if (r->in[k] == y) {
          r->in[k] = x;
          mark(changed, g, r);
        }
    }
    g->values[y].producer = -1;
    p->op = -1;
    removed++;
  }
  return removed;
}

/* Pad with zeros over the spatial axes of an NCHW float tensor -> its only
 * reader, an AveragePool without pads or ceil_mode of its own: the pool
 * takes the pads and counts them (count_include_pad = 1), and the Pad dies.
 * torchvision's Inception writes avg_pool2d(x, 3, 1, 1) so; the Pad, an own
 * kernel on plain data, forced reorders around every block. */
static int pad_pool_at(vrt_graph *g, const int *uses, int i, char *changed) {
  vrt_node *p = &g->nodes[i];
  if (p->op != VRT_OP_Pad || p->nout != 1 || p->nin < 1 || p->in[0] < 0) return 0;
  if (p->nin > 3 && p->in[3] >= 0) return 0; /* opset-18 axes */
  if (strcmp(vrt_attr_string(p, "mode", "constant"), "constant")) return 0;
  if (p->nin > 2 && p->in[2] >= 0 ? !scalar_is(g, p->in[2], 0.0f) : vrt_attr_float(p, "value", 0.0f) != 0.0f) return 0;
  const vrt_tensor *x = &g->values[p->in[0]].t;
  int r = x->ndim;
  int64_t np;
  const int64_t *pads = pad_amounts(g, p, &np);
  if (x->dtype != VRT_F32 || r < 3 || r > 5 || !pads || np != 2 * r || pads[0] || pads[1] || pads[r] || pads[r + 1])
    return 0;
  for (int k = 0; k < 2 * r; k++)
    if (pads[k] < 0) return 0;
  vrt_node *a = vrt__fuse_sole_reader(g, uses, p->out[0], i);
  if (!a || a->op != VRT_OP_AveragePool || a->nin != 1 || a->in[0] != p->out[0]) return 0;
  /* with ceil_mode a window starting in the end pad would be dropped as
   * pads, but is one as input */
  if (vrt_attr_int(a, "vrt_layout", 0) || vrt_attr_int(a, "ceil_mode", 0) ||
      strcmp(vrt_attr_string(a, "auto_pad", "NOTSET"), "NOTSET"))
    return 0;
  const int64_t *own;
  int nown = vrt_attr_ints(a, "pads", &own);
  for (int k = 0; k < nown; k++)
    if (own[k]) return 0;
  int64_t ap[6];
  int ns = r - 2;
  for (int k = 0; k < ns; k++) ap[k] = pads[2 + k], ap[ns + k] = pads[r + 2 + k];
  int rc = vrt_node_set_ints(a, "pads", ap, 2 * ns);
  if (!rc) rc = vrt_node_set_int(a, "count_include_pad", 1);
  if (rc) return rc;
  a->in[0] = p->in[0];
  g->values[p->out[0]].producer = -1;
  p->op = -1;
  mark(changed, g, a);
  return 1;
}

int vrt__fuse_pad_pool(vrt_graph *g, char *changed) { return vrt__fuse_pass(g, changed, pad_pool_at); }

int vrt__fuse_all(vrt_graph *g, char *changed) {
  static const vrt_fuse_fn conv_folds[] = {vrt__fuse_affine, vrt__fuse_batchnorm};
  /* a residual before the activation after it */
  static const vrt_fuse_fn rest[] = {vrt__fuse_bn_dwconv, vrt__fuse_layernorm, vrt__fuse_transformer,
                                     vrt__fuse_residual,  vrt__fuse_activation, vrt__fuse_pad_pool};
  int total = vrt__fuse_identity(g, changed), rc = 1;
  if (total < 0) return total;
  /* bias Add, then BatchNorm, then a scale ...: again while they fold */
  for (int round = 0; round < 8 && rc > 0; round++) {
    if ((rc = vrt__fuse_seq(g, changed, conv_folds, (int)(sizeof conv_folds / sizeof *conv_folds))) < 0) return rc;
    total += rc;
  }
  if ((rc = vrt__fuse_seq(g, changed, rest, (int)(sizeof rest / sizeof *rest))) < 0) return rc;
  return total + rc;
}
