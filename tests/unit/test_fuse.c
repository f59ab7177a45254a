/* Load-time fusion passes on graphs built here: each pass fuses what it
 * should (node count after load), leaves alone what it must not (a value
 * with a second consumer, NHWC BatchNorm), and the fused model computes what
 * the unfused one does (VRT_FUSE=0), on the reference kernels and on the
 * backends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuse.h"
#include "model.h"
#include "ops.h"

static uint32_t rng = 777;
static float frand(void) {
  rng = rng * 1664525u + 1013904223u;
  return (float)((rng >> 8) % 2001) / 1000.0f - 1.0f;
}

static int cnst(vrt_graph *g, const char *name, int ndim, const int64_t *dims, float lo) {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= dims[i];
  float *p = malloc(sizeof(float) * (size_t)n);
  for (int64_t i = 0; i < n; i++) p[i] = lo + (lo > 0 ? 1.0f + frand() * 0.5f : frand());
  return vrt_graph_add_const(g, name, VRT_F32, ndim, dims, p, sizeof(float) * (size_t)n, false);
}

static int val(vrt_graph *g, const char *name) { return vrt_graph_add_value(g, name, VRT_UNDEFINED, -1, NULL); }

static int node(vrt_graph *g, vrt_op op, const char *name, const int *in, int nin, int out) {
  return vrt_graph_add_node(g, op, name, vrt_op_name(op), in, nin, &out, 1);
}

enum { P_BN, P_RELU, P_RES_RELU, P_SILU, P_CLIP6, P_TWO_USES, P_HSWISH, P_BN_T, P_AFFINE_T, P_PAD0, P_PAD1, P_CAT1,
       P_PREACT, P_PREACT_SIG, P_PAD_CEIL, P_PAD_MAX, P_PAD_ONE, P_PAD_CH };

/* x [1, 4, 6, 6] -> Conv 3x3 (8 channels) -> the pattern -> y (output). */
static vrt_graph *pattern(int kind) {
  vrt_graph *g = vrt_graph_new();
  int x = vrt_graph_add_value(g, "x", VRT_F32, 4, (int64_t[]){1, 4, 6, 6});
  g->values[x].flags |= VRT_VAL_INPUT;
  bool tr = kind == P_BN_T || kind == P_AFFINE_T; /* grouped ConvTranspose: W [C=4, M/G=4, 3, 3], G 2, M 8 */
  int w = cnst(g, "w", 4, tr ? (int64_t[]){4, 4, 3, 3} : (int64_t[]){8, 4, 3, 3}, 0);
  int b = cnst(g, "b", 1, (int64_t[]){8}, 0);
  int c = val(g, "c"), y = val(g, "y");
  int extra_out = -1;
  node(g, tr ? VRT_OP_ConvTranspose : VRT_OP_Conv, "conv", (int[]){x, w, b}, 3, c);
  vrt_node_set_ints(&g->nodes[0], "pads", (int64_t[]){1, 1, 1, 1}, 4);
  if (tr) vrt_node_set_int(&g->nodes[0], "group", 2);
  switch (kind) {
    case P_BN_T:
    case P_BN: {
      int s = cnst(g, "s", 1, (int64_t[]){8}, 0), sh = cnst(g, "sh", 1, (int64_t[]){8}, 0);
      int mu = cnst(g, "mu", 1, (int64_t[]){8}, 0), var = cnst(g, "var", 1, (int64_t[]){8}, 0.5f);
      node(g, VRT_OP_BatchNormalization, "bn", (int[]){c, s, sh, mu, var}, 5, y);
      break;
    }
    case P_RELU: node(g, VRT_OP_Relu, "relu", &c, 1, y); break;
    case P_RES_RELU: { /* y = Relu(conv(x) + Relu(x'))  with x' = a 1x1 conv of x */
      int w2 = cnst(g, "w2", 4, (int64_t[]){8, 4, 1, 1}, 0), r = val(g, "r"), s = val(g, "s");
      node(g, VRT_OP_Conv, "skip", (int[]){x, w2}, 2, r);
      node(g, VRT_OP_Add, "add", (int[]){r, c}, 2, s);
      node(g, VRT_OP_Relu, "relu", &s, 1, y);
      break;
    }
    case P_SILU: {
      int sg = val(g, "sg");
      node(g, VRT_OP_Sigmoid, "sig", &c, 1, sg);
      node(g, VRT_OP_Mul, "mul", (int[]){c, sg}, 2, y);
      break;
    }
    case P_CLIP6: {
      int lo = cnst(g, "lo", 0, NULL, 0), hi = cnst(g, "hi", 0, NULL, 0);
      *(float *)g->values[lo].t.data = 0;
      *(float *)g->values[hi].t.data = 6;
      node(g, VRT_OP_Clip, "clip", (int[]){c, lo, hi}, 3, y);
      break;
    }
    case P_HSWISH: { /* y = c * Clip(c + 3, 0, 6) / 6, as Paddle writes HardSwish */
      int k3 = cnst(g, "k3", 0, NULL, 0), lo = cnst(g, "lo", 0, NULL, 0), hi = cnst(g, "hi", 0, NULL, 0);
      int k6 = cnst(g, "k6", 0, NULL, 0), a = val(g, "a"), cl = val(g, "cl"), m = val(g, "m");
      *(float *)g->values[k3].t.data = 3, *(float *)g->values[lo].t.data = 0;
      *(float *)g->values[hi].t.data = 6, *(float *)g->values[k6].t.data = 6;
      node(g, VRT_OP_Add, "add3", (int[]){c, k3}, 2, a);
      node(g, VRT_OP_Clip, "clip", (int[]){a, lo, hi}, 3, cl);
      node(g, VRT_OP_Mul, "mul", (int[]){c, cl}, 2, m);
      node(g, VRT_OP_Div, "div6", (int[]){m, k6}, 2, y);
      break;
    }
    case P_AFFINE_T: { /* y = Relu((convT(x) + b[1,8,1,1]) * k[8,1,1] * 0.5) */
      int bb = cnst(g, "bb", 4, (int64_t[]){1, 8, 1, 1}, 0), kc = cnst(g, "kc", 3, (int64_t[]){8, 1, 1}, 0);
      int half = cnst(g, "half", 0, NULL, 0), a1 = val(g, "a1"), a2 = val(g, "a2"), a3 = val(g, "a3");
      *(float *)g->values[half].t.data = 0.5f;
      node(g, VRT_OP_Add, "addb", (int[]){c, bb}, 2, a1);
      node(g, VRT_OP_Mul, "mulk", (int[]){kc, a1}, 2, a2);
      node(g, VRT_OP_Mul, "half", (int[]){a2, half}, 2, a3);
      node(g, VRT_OP_Relu, "relu", &a3, 1, y);
      break;
    }
    case P_PAD0:
    case P_PAD1:
    case P_PAD_CEIL:
    case P_PAD_MAX:
    case P_PAD_ONE:
    case P_PAD_CH: {
      /* Pad (zero pads; one row at the bottom; a row on top and a column on
       * the right; the same padding with ones; a channel) -> AveragePool 2x2
       * s2 (with ceil_mode, or a MaxPool) */
      int64_t *pads = calloc(8, sizeof *pads);
      if (kind == P_PAD1) pads[6] = 1;
      if (kind == P_PAD_CEIL || kind == P_PAD_MAX || kind == P_PAD_ONE) pads[2] = 1, pads[7] = 1;
      if (kind == P_PAD_CH) pads[5] = 1;
      int pv = vrt_graph_add_const(g, "pads", VRT_I64, 1, (int64_t[]){8}, pads, 8 * sizeof *pads, false);
      int pd = val(g, "pd"), ins[3] = {c, pv, -1};
      if (kind == P_PAD_ONE) {
        ins[2] = cnst(g, "one", 0, NULL, 0);
        *(float *)g->values[ins[2]].t.data = 1;
      }
      node(g, VRT_OP_Pad, "pad", ins, kind == P_PAD_ONE ? 3 : 2, pd);
      node(g, kind == P_PAD_MAX ? VRT_OP_MaxPool : VRT_OP_AveragePool, "pool", &pd, 1, y);
      vrt_node_set_ints(&g->nodes[2], "kernel_shape", (int64_t[]){2, 2}, 2);
      vrt_node_set_ints(&g->nodes[2], "strides", (int64_t[]){2, 2}, 2);
      if (kind == P_PAD_CEIL) vrt_node_set_int(&g->nodes[2], "ceil_mode", 1);
      break;
    }
    case P_CAT1: { /* Concat of one input -> Relu */
      int k = val(g, "k");
      node(g, VRT_OP_Concat, "cat", &c, 1, k);
      vrt_node_set_int(&g->nodes[1], "axis", 1);
      node(g, VRT_OP_Relu, "relu", &k, 1, y);
      break;
    }
    case P_PREACT:
    case P_PREACT_SIG: { /* DenseNet: Relu (or Sigmoid) (BatchNorm (Concat(c, x))), 12 channels */
      int k = val(g, "k"), n = val(g, "n");
      node(g, VRT_OP_Concat, "cat", (int[]){c, x}, 2, k);
      vrt_node_set_int(&g->nodes[1], "axis", 1);
      int s = cnst(g, "s", 1, (int64_t[]){12}, 0), sh = cnst(g, "sh", 1, (int64_t[]){12}, 0);
      int mu = cnst(g, "mu", 1, (int64_t[]){12}, 0), var = cnst(g, "var", 1, (int64_t[]){12}, 0.5f);
      node(g, VRT_OP_BatchNormalization, "bn", (int[]){k, s, sh, mu, var}, 5, n);
      node(g, kind == P_PREACT ? VRT_OP_Relu : VRT_OP_Sigmoid, "act", &n, 1, y);
      break;
    }
    case P_TWO_USES: { /* c also leaves the graph: the Relu must stay */
      node(g, VRT_OP_Relu, "relu", &c, 1, y);
      extra_out = c;
      break;
    }
    default: break;
  }
  g->inputs = malloc(sizeof(int));
  g->inputs[0] = x;
  g->ninputs = 1;
  g->outputs = malloc(sizeof(int) * 2);
  g->outputs[0] = y;
  g->noutputs = 1;
  g->values[y].flags |= VRT_VAL_OUTPUT;
  if (extra_out >= 0) {
    g->outputs[g->noutputs++] = extra_out;
    g->values[extra_out].flags |= VRT_VAL_OUTPUT;
  }
  return g;
}

/* Nodes are appended in call order, so for P_RES_RELU "skip" comes after
 * "conv": swap them so the residual is ready when the main Conv runs. */
static void residual_first(vrt_graph *g) {
  vrt_node t = g->nodes[0];
  g->nodes[0] = g->nodes[1];
  g->nodes[1] = t;
  for (int i = 0; i < 2; i++) g->values[g->nodes[i].out[0]].producer = i;
}

static vrt_model_t *load(int kind, bool fuse) {
  vrt_graph *g = pattern(kind);
  if (kind == P_RES_RELU) residual_first(g);
  setenv("VRT_FUSE", fuse ? "1" : "0", 1);
  vrt_model_t *m = NULL;
  int rc = vrt__model_from_graph(&m, g, vrt_load_default_params());
  unsetenv("VRT_FUSE");
  if (rc) fprintf(stderr, "load: %s\n", vrt_last_error());
  assert_int_equal(rc, 0);
  return m;
}

static float *run(vrt_model_t *m, const float *x, int64_t *ny) {
  vrt_session_t *s;
  assert_int_equal(vrt_session_create(&s, m, vrt_session_default_params()), 0);
  vrt_tensor in = {.name = "x", .dtype = VRT_F32, .ndim = 4, .dims = {1, 4, 6, 6}, .data = (void *)x,
                   .nbytes = sizeof(float) * 144};
  const vrt_tensor *out;
  int nout;
  for (int r = 0; r < 2; r++) assert_int_equal(vrt_session_run(s, &in, 1, &out, &nout), 0); /* planned */
  *ny = vrt_tensor_numel(&out[0]);
  float *y = malloc(sizeof(float) * (size_t)*ny);
  memcpy(y, out[0].data, sizeof(float) * (size_t)*ny);
  vrt_session_free(s);
  return y;
}

/* Fused vs unfused on the same input, with the backends and on the
 * reference kernels; returns the fused model's node count. */
static int check(int kind) {
  float x[144];
  for (int i = 0; i < 144; i++) x[i] = frand() * 2;
  uint32_t seed = rng;
  vrt_model_t *plain = load(kind, false);
  rng = seed;
  vrt_model_t *fused = load(kind, true);
  int nodes = vrt_model_num_nodes(fused);
  for (int ref = 0; ref < 2; ref++) {
    if (ref) setenv("VRT_REFERENCE", "1", 1);
    int64_t n1, n2;
    float *a = run(plain, x, &n1), *b = run(fused, x, &n2);
    assert_int_equal(n1, n2);
    for (int64_t i = 0; i < n1; i++) assert_float_equal(a[i], b[i], 1e-4 * (1 + fabsf(a[i])));
    free(a), free(b);
    unsetenv("VRT_REFERENCE");
  }
  vrt_model_free(plain);
  vrt_model_free(fused);
  return nodes;
}

static void test_batchnorm_folded(void **state) {
  (void)state;
  assert_int_equal(check(P_BN), 1);
}

static void test_batchnorm_into_convtranspose(void **state) {
  (void)state;
  assert_int_equal(check(P_BN_T), 1);
}

static void test_channel_affine_into_convtranspose(void **state) {
  (void)state;
  assert_int_equal(check(P_AFFINE_T), 1);
}

static void test_relu_fused(void **state) {
  (void)state;
  assert_int_equal(check(P_RELU), 1);
}

static void test_residual_then_relu(void **state) {
  (void)state;
  assert_int_equal(check(P_RES_RELU), 2); /* skip conv + conv(residual, relu) */
}

static void test_silu_fused(void **state) {
  (void)state;
  assert_int_equal(check(P_SILU), 1);
}

static void test_clip_relu6_fused(void **state) {
  (void)state;
  assert_int_equal(check(P_CLIP6), 1);
  /* the fused activation is Relu6 */
  vrt_model_t *m = load(P_CLIP6, true);
  assert_string_equal(vrt_attr_string(&m->g->nodes[0], "vrt_act", ""), "Relu6");
  vrt_model_free(m);
}

static void test_hardswish_spelled_out(void **state) {
  (void)state;
  assert_int_equal(check(P_HSWISH), 1);
}

static void test_second_consumer_blocks(void **state) {
  (void)state;
  assert_int_equal(check(P_TWO_USES), 2);
}

/* A Pad with all-zero pads is dropped. */
static void test_identity_pad_dropped(void **state) {
  (void)state;
  assert_int_equal(check(P_PAD0), 2);
}

/* A Pad of zeros over H and W before an AveragePool becomes the pool's
 * counted pads; a Pad before a MaxPool, with ones, over channels, or before
 * a pool with ceil_mode stays (7x7 padded, k2 s2 -> 4x4 windows, the last
 * starting in what would be the end pad, which ONNX drops). */
static void test_pad_into_avgpool(void **state) {
  (void)state;
  assert_int_equal(check(P_PAD1), 2);
  vrt_model_t *m = load(P_PAD1, true);
  const vrt_node *pool = &m->g->nodes[1];
  assert_int_equal(pool->op, VRT_OP_AveragePool);
  assert_int_equal(vrt_attr_int(pool, "count_include_pad", 0), 1);
  const int64_t *pads;
  assert_int_equal(vrt_attr_ints(pool, "pads", &pads), 4);
  assert_int_equal(pads[0], 0);
  assert_int_equal(pads[1], 0);
  assert_int_equal(pads[2], 1);
  assert_int_equal(pads[3], 0);
  vrt_model_free(m);
  assert_int_equal(check(P_PAD_CEIL), 3);
  assert_int_equal(check(P_PAD_MAX), 3);
  assert_int_equal(check(P_PAD_ONE), 3);
  assert_int_equal(check(P_PAD_CH), 3);
}

/* A Concat of one input is dropped like a Pad of zeros (the Relu then
 * folds into the Conv). */
static void test_concat_of_one_dropped(void **state) {
  (void)state;
  assert_int_equal(check(P_CAT1), 1);
}

/* A BatchNorm after a Concat (folding into no producer) becomes a depthwise
 * 1x1 Conv, which then takes the activation after it. */
static void test_preact_bn_depthwise(void **state) {
  (void)state;
  assert_int_equal(check(P_PREACT), 3);
  assert_int_equal(check(P_PREACT_SIG), 3);
  vrt_model_t *m = load(P_PREACT, true);
  const vrt_node *dw = NULL;
  for (int i = 0; i < m->g->nnodes; i++) {
    assert_int_not_equal(m->g->nodes[i].op, VRT_OP_BatchNormalization);
    if (m->g->nodes[i].op == VRT_OP_Conv && vrt_attr_int(&m->g->nodes[i], "group", 1) == 12) dw = &m->g->nodes[i];
  }
  assert_non_null(dw);
  assert_string_equal(vrt_attr_string(dw, "vrt_act", ""), "Relu");
  vrt_model_free(m);
}

/* The passes on their own: a Conv in NHWC is not a BatchNorm host. */
static void test_bn_nhwc_left_alone(void **state) {
  (void)state;
  vrt_graph *g = pattern(P_BN);
  vrt_node_set_int(&g->nodes[0], "vrt_layout", 1);
  assert_int_equal(vrt__fuse_batchnorm(g, NULL), 0);
  assert_int_equal(g->nodes[1].op, VRT_OP_BatchNormalization);
  vrt_graph_free(g);
}

/* x [2, 5, 8] -> LayerNorm written out over the last axis -> y; affine with
 * Pow(d, 2), or bare with Mul(d, d). */
static vrt_graph *ln_graph(bool affine) {
  vrt_graph *g = vrt_graph_new();
  int x = vrt_graph_add_value(g, "x", VRT_F32, 3, (int64_t[]){2, 5, 8});
  g->values[x].flags |= VRT_VAL_INPUT;
  int64_t *ax = malloc(8);
  *ax = -1;
  int axes = vrt_graph_add_const(g, "axes", VRT_I64, 1, (int64_t[]){1}, ax, 8, false);
  int two = cnst(g, "two", 0, NULL, 0), eps = cnst(g, "eps", 0, NULL, 0);
  *(float *)g->values[two].t.data = 2, *(float *)g->values[eps].t.data = 1e-5f;
  int gm = cnst(g, "gamma", 1, (int64_t[]){8}, 0), bt = cnst(g, "beta", 1, (int64_t[]){8}, 0);
  const char *names[] = {"m", "d", "p", "v", "e", "s", "n", "o", "y"};
  int v[9];
  for (int i = 0; i < 9; i++) v[i] = val(g, names[i]);
  node(g, VRT_OP_ReduceMean, "mean1", (int[]){x, axes}, 2, v[0]);
  node(g, VRT_OP_Sub, "sub", (int[]){x, v[0]}, 2, v[1]);
  if (affine) node(g, VRT_OP_Pow, "pow", (int[]){v[1], two}, 2, v[2]);
  else node(g, VRT_OP_Mul, "sq", (int[]){v[1], v[1]}, 2, v[2]);
  node(g, VRT_OP_ReduceMean, "mean2", (int[]){v[2], axes}, 2, v[3]);
  node(g, VRT_OP_Add, "addeps", (int[]){v[3], eps}, 2, v[4]);
  node(g, VRT_OP_Sqrt, "sqrt", &v[4], 1, v[5]);
  node(g, VRT_OP_Div, "div", (int[]){v[1], v[5]}, 2, affine ? v[6] : v[8]);
  if (affine) {
    node(g, VRT_OP_Mul, "gamma", (int[]){v[6], gm}, 2, v[7]);
    node(g, VRT_OP_Add, "beta", (int[]){bt, v[7]}, 2, v[8]);
  }
  g->inputs = malloc(sizeof(int));
  g->inputs[0] = x;
  g->ninputs = 1;
  g->outputs = malloc(sizeof(int));
  g->outputs[0] = v[8];
  g->noutputs = 1;
  g->values[v[8]].flags |= VRT_VAL_OUTPUT;
  return g;
}

static void test_layernorm_pattern(void **state) {
  (void)state;
  for (int affine = 0; affine < 2; affine++) {
    vrt_model_t *mm[2];
    for (int f = 0; f < 2; f++) {
      rng = 99;
      setenv("VRT_FUSE", f ? "1" : "0", 1);
      int rc = vrt__model_from_graph(&mm[f], ln_graph(affine), vrt_load_default_params());
      unsetenv("VRT_FUSE");
      if (rc) fprintf(stderr, "load: %s\n", vrt_last_error());
      assert_int_equal(rc, 0);
    }
    assert_int_equal(vrt_model_num_nodes(mm[1]), 1);
    assert_string_equal(vrt_model_node_op(mm[1], 0), "LayerNormalization");
    float x[80];
    for (int i = 0; i < 80; i++) x[i] = frand() * 3;
    float *y[2];
    for (int f = 0; f < 2; f++) {
      vrt_session_t *s;
      assert_int_equal(vrt_session_create(&s, mm[f], vrt_session_default_params()), 0);
      vrt_tensor in = {.name = "x", .dtype = VRT_F32, .ndim = 3, .dims = {2, 5, 8}, .data = x, .nbytes = sizeof x};
      const vrt_tensor *out;
      int nout;
      assert_int_equal(vrt_session_run(s, &in, 1, &out, &nout), 0);
      assert_int_equal(vrt_tensor_numel(&out[0]), 80);
      y[f] = malloc(sizeof x);
      memcpy(y[f], out[0].data, sizeof x);
      vrt_session_free(s);
    }
    for (int i = 0; i < 80; i++) assert_float_equal(y[0][i], y[1][i], 1e-4);
    free(y[0]), free(y[1]);
    vrt_model_free(mm[0]), vrt_model_free(mm[1]);
  }
}

/* vrt__fuse_pass: the rule sees every node in order with the uses taken as
 * the pass began, fusions are counted, and the first error ends the pass. */
static int seen[8], nseen;
static int rule_probe(vrt_graph *g, const int *uses, int i, char *changed) {
  (void)changed;
  seen[nseen++] = i;
  assert_int_equal(uses[g->nodes[i].in[0]], 1); /* each value read once */
  if (g->nodes[i].op == VRT_OP_Sigmoid) return vrt__err(VRT_ENOMEM, "probe error");
  return g->nodes[i].op == VRT_OP_Relu;
}

static void test_pass_driver(void **state) {
  (void)state;
  vrt_graph *g = vrt_graph_new();
  static const vrt_op ops[] = {VRT_OP_Relu, VRT_OP_Tanh, VRT_OP_Relu, VRT_OP_Relu, VRT_OP_Sigmoid, VRT_OP_Relu};
  int v = val(g, "v0");
  for (int i = 0; i < 6; i++) {
    char nm[8];
    snprintf(nm, sizeof nm, "v%d", i + 1);
    int o = val(g, nm);
    assert_true(node(g, ops[i], nm, &v, 1, o) >= 0);
    v = o;
  }
  nseen = 0;
  assert_int_equal(vrt__fuse_pass(g, NULL, rule_probe), VRT_ENOMEM);
  assert_int_equal(nseen, 5); /* stopped at the Sigmoid */
  for (int i = 0; i < nseen; i++) assert_int_equal(seen[i], i);
  g->nodes[4].op = VRT_OP_Relu;
  nseen = 0;
  assert_int_equal(vrt__fuse_pass(g, NULL, rule_probe), 5);
  assert_int_equal(nseen, 6);
  vrt_graph_free(g);
}

int main(void) {
  unsetenv("VRT_REFERENCE");
  unsetenv("VRT_BACKENDS");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_batchnorm_folded),  cmocka_unit_test(test_relu_fused),
      cmocka_unit_test(test_residual_then_relu), cmocka_unit_test(test_silu_fused),
      cmocka_unit_test(test_clip_relu6_fused),  cmocka_unit_test(test_second_consumer_blocks),
      cmocka_unit_test(test_bn_nhwc_left_alone), cmocka_unit_test(test_hardswish_spelled_out),
      cmocka_unit_test(test_batchnorm_into_convtranspose), cmocka_unit_test(test_layernorm_pattern), cmocka_unit_test(test_channel_affine_into_convtranspose),
      cmocka_unit_test(test_identity_pad_dropped), cmocka_unit_test(test_concat_of_one_dropped),
      cmocka_unit_test(test_preact_bn_depthwise), cmocka_unit_test(test_pad_into_avgpool),
      cmocka_unit_test(test_pass_driver),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
