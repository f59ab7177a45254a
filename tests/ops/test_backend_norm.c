/* The oneDNN batch normalization and eltwise kernels against the reference
 * kernels: DenseNet's pre-activation block (Conv, Concat, BatchNorm + ReLU,
 * Conv) and standalone activations on random shapes, reading and writing the
 * convolutions' private layouts or plain data (graph outputs), at 1 and 2
 * threads, as loaded (the BatchNorm a depthwise 1x1 Conv with the ReLU
 * fused, fuse.c) and unfused (VRT_FUSE=0: batch normalization and eltwise
 * primitives); BatchNorm + ReLU of rank 2 and 3; and oneDNN planning those
 * nodes itself rather than refusing them to the own kernels. Also a fused
 * residual summed in place: the convolution's output takes the dying
 * residual's arena bytes (a smaller arena), on oneDNN and, from the same
 * plan, on the own kernel; likewise a BatchNorm or Relu overwriting its
 * input. The second (planned) run of a session goes through the backend,
 * the third runs with VRT_REFERENCE=1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "model.h"
#define OP_TEST_OWN_RAND_BUF /* its own, with a lower bound */
#define OP_TEST_RNG_SEED 9091u
#include "op_test.h"

static float *rand_buf(int64_t n, float lo) {
  float *p = malloc(sizeof(float) * (size_t)(n ? n : 1));
  for (int64_t i = 0; i < n; i++) p[i] = lo > 0 ? lo + frand() * 0.5f + 0.5f : frand();
  return p;
}

static int add_const(vrt_graph *g, const char *name, int nd, const int64_t *dims, float lo) {
  int64_t n = vrt__numel(dims, nd);
  return vrt_graph_add_const(g, name, VRT_F32, nd, dims, rand_buf(n, lo), sizeof(float) * (size_t)n, false);
}

static int value(vrt_graph *g, const char *name) { return vrt_graph_add_value(g, name, VRT_UNDEFINED, -1, NULL); }

/* BatchNormalization of x with C channels into y (random statistics,
 * variance > 0). */
static void add_bn(vrt_graph *g, int x, int64_t C, int y) {
  int64_t d[1] = {C};
  int in[5] = {x, add_const(g, "scale", 1, d, 0), add_const(g, "B", 1, d, 0), add_const(g, "mean", 1, d, 0),
               add_const(g, "var", 1, d, 0.2f)};
  vrt_graph_add_node(g, VRT_OP_BatchNormalization, "bn", "BatchNormalization", in, 5, &y, 1);
  vrt_node_set_float(&g->nodes[g->nnodes - 1], "epsilon", 1e-3f);
}

static bool unfused; /* load without the fusion passes (VRT_FUSE=0) */

static vrt_model_t *finish(vrt_graph *g, int x, const int *outs, int nout) {
  g->inputs = malloc(sizeof(int));
  g->inputs[0] = x;
  g->ninputs = 1;
  g->outputs = malloc(sizeof(int) * (size_t)nout);
  for (int i = 0; i < nout; i++) {
    g->outputs[i] = outs[i];
    g->values[outs[i]].flags |= VRT_VAL_OUTPUT;
  }
  g->noutputs = nout;
  vrt_model_t *m = NULL;
  if (unfused) setenv("VRT_FUSE", "0", 1);
  int rc = vrt__model_from_graph(&m, g, vrt_load_default_params());
  unsetenv("VRT_FUSE");
  if (rc) fprintf(stderr, "load: %s\n", vrt_last_error());
  assert_int_equal(rc, 0);
  return m;
}

/* Planned runs (backends) against VRT_REFERENCE=1 on one random input;
 * returns the largest difference over every output. */
static double run_vs_ref(vrt_model_t *m, int threads) {
  vrt_session_t *s;
  vrt_session_params sp = vrt_session_default_params();
  sp.threads = threads;
  assert_int_equal(vrt_session_create(&s, m, sp), 0);
  const vrt_tensor *xin = vrt_model_input(m, 0);
  int64_t xn = vrt_tensor_numel(xin);
  float *x = rand_buf(xn, 0);
  vrt_tensor in = op_test_tensor(VRT_F32, xin->ndim, xin->dims, x);
  in.name = xin->name;
  const vrt_tensor *out;
  int nout;
  for (int r = 0; r < 2; r++) {
    int rc = vrt_session_run(s, &in, 1, &out, &nout);
    if (rc) fprintf(stderr, "run: %s\n", vrt_last_error());
    assert_int_equal(rc, 0);
  }
  int64_t total = 0, off = 0;
  for (int i = 0; i < nout; i++) total += vrt_tensor_numel(&out[i]);
  float *fast = malloc(sizeof(float) * (size_t)total);
  for (int i = 0; i < nout; i++) {
    memcpy(fast + off, out[i].data, sizeof(float) * (size_t)vrt_tensor_numel(&out[i]));
    off += vrt_tensor_numel(&out[i]);
  }
  setenv("VRT_REFERENCE", "1", 1);
  assert_int_equal(vrt_session_run(s, &in, 1, &out, &nout), 0);
  unsetenv("VRT_REFERENCE");
  double d = 0;
  off = 0;
  for (int i = 0; i < nout; i++) {
    int64_t n = vrt_tensor_numel(&out[i]);
    double di = op_test_maxdiff(fast + off, out[i].data, n);
    if (di > d) d = di;
    off += n;
  }
  free(fast);
  free(x);
  vrt_session_free(s);
  return d;
}

/* Does oneDNN plan the live node with op type op of m on its own kernels
 * (plain layouts)? */
static bool onednn_plans(const vrt_model_t *m, vrt_op op) {
  const vrt_graph *g = m->g;
  for (int i = 0; i < g->nnodes; i++) {
    const vrt_node *n = &g->nodes[i];
    if (n->op != (int)op) continue;
    const vrt_tensor *in[8] = {NULL};
    for (int k = 0; k < n->nin && k < 8; k++) in[k] = n->in[k] >= 0 ? &g->values[n->in[k]].t : NULL;
    vrt_kernel_req rq = {m, g, i, n, in, n->nin, &g->values[n->out[0]].t, 1, 1, NULL, NULL, NULL, NULL, NULL};
    if (!vrt__backend_onednn.supports_op(&rq)) return false;
    vrt_kernel k = {0};
    if (vrt__kernel_plan_on(&vrt__backend_onednn, &rq, &k)) return false;
    vrt__kernel_release(&k);
    return true;
  }
  return false;
}

static const vrt_op acts[] = {VRT_OP_Relu, VRT_OP_Sigmoid, VRT_OP_LeakyRelu, VRT_OP_Clip, VRT_OP_Tanh,
                              VRT_OP_HardSwish, VRT_OP_Elu};
enum { NACTS = sizeof acts / sizeof acts[0] };

/* y = act(x) (Clip with constant min / max inputs). */
static void add_act(vrt_graph *g, vrt_op op, int x, int y) {
  int in[3] = {x, -1, -1}, nin = 1;
  if (op == VRT_OP_Clip) {
    float *lo = malloc(sizeof(float)), *hi = malloc(sizeof(float));
    *lo = -0.4f, *hi = 0.6f;
    in[1] = vrt_graph_add_const(g, "lo", VRT_F32, 0, NULL, lo, sizeof(float), false);
    in[2] = vrt_graph_add_const(g, "hi", VRT_F32, 0, NULL, hi, sizeof(float), false);
    nin = 3;
  }
  vrt_graph_add_node(g, op, "act", vrt_op_name(op), in, nin, &y, 1);
  if (op == VRT_OP_LeakyRelu) vrt_node_set_float(&g->nodes[g->nnodes - 1], "alpha", 0.3f);
}

/* DenseNet's layer, and an activation on a convolution's output:
 *   a = Conv3x3(x); cat = Concat(a, x); b = Relu(BN(cat)) (or BN alone);
 *   y = Conv1x1(b); e = act(a); z = Conv1x1(e); u = act2(cat)
 * outputs y, z (through private layouts) and u (plain, a graph output). */
static void test_preact_block(void **state) {
  (void)state;
  for (int trial = 0; trial < 12; trial++) {
    int64_t C0 = irand(2, 40), C1 = irand(2, 40), H = irand(3, 17), W = irand(3, 17), C = C0 + C1;
    bool relu = trial % 3 != 2;
    vrt_op act = acts[trial % NACTS], act2 = acts[(trial + 3) % NACTS];
    vrt_graph *g = vrt_graph_new();
    int x = vrt_graph_add_value(g, "x", VRT_F32, 4, (int64_t[]){1, C0, H, W});
    g->values[x].flags |= VRT_VAL_INPUT;
    const char *names[] = {"a", "cat", "bn", "b", "y", "e", "z", "u"};
    int v[8];
    for (int i = 0; i < 8; i++) v[i] = value(g, names[i]);
    int w1 = add_const(g, "w1", 4, (int64_t[]){C1, C0, 3, 3}, 0);
    int w2 = add_const(g, "w2", 4, (int64_t[]){8, C, 1, 1}, 0);
    int w3 = add_const(g, "w3", 4, (int64_t[]){5, C1, 1, 1}, 0);
    vrt_graph_add_node(g, VRT_OP_Conv, "c1", "Conv", (int[]){x, w1}, 2, &v[0], 1);
    vrt_node_set_ints(&g->nodes[g->nnodes - 1], "pads", (int64_t[]){1, 1, 1, 1}, 4);
    vrt_graph_add_node(g, VRT_OP_Concat, "cat", "Concat", (int[]){v[0], x}, 2, &v[1], 1);
    vrt_node_set_int(&g->nodes[g->nnodes - 1], "axis", 1);
    add_bn(g, v[1], C, relu ? v[2] : v[3]);
    if (relu) vrt_graph_add_node(g, VRT_OP_Relu, "relu", "Relu", &v[2], 1, &v[3], 1);
    vrt_graph_add_node(g, VRT_OP_Conv, "c2", "Conv", (int[]){v[3], w2}, 2, &v[4], 1);
    add_act(g, act, v[0], v[5]);
    vrt_graph_add_node(g, VRT_OP_Conv, "c3", "Conv", (int[]){v[5], w3}, 2, &v[6], 1);
    add_act(g, act2, v[1], v[7]);
    unfused = trial & 2;
    vrt_model_t *m = finish(g, x, (int[]){v[4], v[6], v[7]}, 3);
    unfused = false;
    if (trial & 2) { /* as written: batch normalization and eltwise primitives */
      assert_true(onednn_plans(m, VRT_OP_BatchNormalization));
      if (relu) assert_true(onednn_plans(m, VRT_OP_Relu));
    } else { /* the BatchNorm is a depthwise Conv that took the ReLU */
      const vrt_node *dw = NULL;
      for (int i = 0; i < m->g->nnodes; i++) {
        assert_int_not_equal(m->g->nodes[i].op, VRT_OP_BatchNormalization);
        if (m->g->nodes[i].op == VRT_OP_Conv && vrt_attr_int(&m->g->nodes[i], "group", 1) == C) dw = &m->g->nodes[i];
      }
      assert_non_null(dw);
      assert_string_equal(vrt_attr_string(dw, "vrt_act", ""), relu ? "Relu" : "");
    }
    assert_true(onednn_plans(m, act));
    double d = run_vs_ref(m, 1 + (trial & 1));
    if (d > 1e-3)
      fprintf(stderr, "trial %d C%lld+%lld %lldx%lld %s/%s: max diff %g\n", trial, (long long)C0, (long long)C1,
              (long long)H, (long long)W, vrt_op_name(act), vrt_op_name(act2), d);
    assert_true(d < 1e-3);
    vrt_model_free(m);
  }
}

/* BatchNorm1d: x [N, C] and [N, C, L] -> BN -> Relu (fused into the
 * BatchNorm, oneDNN's fuse_norm_relu), plain in and out. */
static void test_bn_low_rank(void **state) {
  (void)state;
  for (int rank = 2; rank <= 3; rank++) {
    int64_t C = irand(3, 30), dims[3] = {irand(1, 4), C, irand(2, 9)};
    vrt_graph *g = vrt_graph_new();
    int x = vrt_graph_add_value(g, "x", VRT_F32, rank, dims);
    g->values[x].flags |= VRT_VAL_INPUT;
    int a = value(g, "a"), y = value(g, "y");
    add_bn(g, x, C, a);
    vrt_graph_add_node(g, VRT_OP_Relu, "relu", "Relu", &a, 1, &y, 1);
    vrt_model_t *m = finish(g, x, &y, 1);
    assert_int_equal(vrt_model_num_nodes(m), 1);
    assert_string_equal(vrt_attr_string(&m->g->nodes[0], "vrt_act", ""), "Relu");
    assert_true(onednn_plans(m, VRT_OP_BatchNormalization));
    assert_true(run_vs_ref(m, 1) < 1e-4);
    vrt_model_free(m);
  }
}

/* The arena of a session of m after two runs (planned), with backends
 * (VRT_BACKENDS as given, NULL: the default). */
static size_t arena_after_plan(vrt_model_t *m, const char *backends) {
  if (backends) setenv("VRT_BACKENDS", backends, 1);
  vrt_session_t *s;
  assert_int_equal(vrt_session_create(&s, m, vrt_session_default_params()), 0);
  const vrt_tensor *xin = vrt_model_input(m, 0);
  float *x = rand_buf(vrt_tensor_numel(xin), 0);
  vrt_tensor in = op_test_tensor(VRT_F32, xin->ndim, xin->dims, x);
  in.name = xin->name;
  const vrt_tensor *out;
  int nout;
  for (int r = 0; r < 2; r++) assert_int_equal(vrt_session_run(s, &in, 1, &out, &nout), 0);
  unsetenv("VRT_BACKENDS");
  vrt_memory_info mi;
  vrt_session_memory(s, &mi);
  free(x);
  vrt_session_free(s);
  return mi.arena_bytes;
}

/* a = Conv3x3(x) relu; b = Conv3x3(a) relu; y = Relu(Conv1x1(b) + a);
 * z = Conv1x1(y): the Add and Relu fuse into the third Conv, whose output
 * may take a's bytes (a dies there; y in oneDNN's layout like a, z the
 * plain graph output): three values live at once become two. */
static void test_residual_in_place(void **state) {
  (void)state;
  for (int trial = 0; trial < 4; trial++) {
    int64_t C = 16 * irand(1, 3), H = irand(4, 20), W = irand(4, 20);
    vrt_graph *g = vrt_graph_new();
    int x = vrt_graph_add_value(g, "x", VRT_F32, 4, (int64_t[]){1, C, H, W});
    g->values[x].flags |= VRT_VAL_INPUT;
    const char *names[] = {"a", "a1", "b", "b1", "c", "s", "y", "z"};
    int v[8];
    for (int i = 0; i < 8; i++) v[i] = value(g, names[i]);
    int w1 = add_const(g, "w1", 4, (int64_t[]){C, C, 3, 3}, 0), w2 = add_const(g, "w2", 4, (int64_t[]){C, C, 3, 3}, 0);
    int w3 = add_const(g, "w3", 4, (int64_t[]){C, C, 1, 1}, 0);
    vrt_graph_add_node(g, VRT_OP_Conv, "c1", "Conv", (int[]){x, w1}, 2, &v[1], 1);
    vrt_node_set_ints(&g->nodes[g->nnodes - 1], "pads", (int64_t[]){1, 1, 1, 1}, 4);
    vrt_graph_add_node(g, VRT_OP_Relu, "r1", "Relu", &v[1], 1, &v[0], 1);
    vrt_graph_add_node(g, VRT_OP_Conv, "c2", "Conv", (int[]){v[0], w2}, 2, &v[3], 1);
    vrt_node_set_ints(&g->nodes[g->nnodes - 1], "pads", (int64_t[]){1, 1, 1, 1}, 4);
    vrt_graph_add_node(g, VRT_OP_Relu, "r2", "Relu", &v[3], 1, &v[2], 1);
    vrt_graph_add_node(g, VRT_OP_Conv, "c3", "Conv", (int[]){v[2], w3}, 2, &v[4], 1);
    vrt_graph_add_node(g, VRT_OP_Add, "add", "Add", (int[]){v[4], v[0]}, 2, &v[5], 1);
    vrt_graph_add_node(g, VRT_OP_Relu, "r3", "Relu", &v[5], 1, &v[6], 1);
    vrt_graph_add_node(g, VRT_OP_Conv, "c4", "Conv", (int[]){v[6], w3}, 2, &v[7], 1);
    vrt_model_t *m = finish(g, x, &v[7], 1);
    assert_int_equal(vrt_model_num_nodes(m), 4);
    assert_int_equal(m->g->nodes[2].nin, 5); /* the residual */
    size_t own = arena_after_plan(m, "none"), dn = arena_after_plan(m, NULL);
    assert_true(dn < own);
    assert_true(dn >= 2 * sizeof(float) * (size_t)(C * H * W));
    double d = run_vs_ref(m, 1 + (trial & 1)); /* the reference runs in the plan that aliases */
    if (d > 1e-3) fprintf(stderr, "trial %d C%lld %lldx%lld: max diff %g\n", trial, (long long)C, (long long)H,
                          (long long)W, d);
    assert_true(d < 1e-3);
    vrt_model_free(m);
  }
}

/* x [1, C0, H, W] -> a = Conv3x3 (C1); cat = Concat(a, x); b = Relu(BN(cat));
 * y = Conv1x1(b) (8), or with ReLU written out after an unfused BatchNorm
 * (VRT_FUSE=0: batch normalization and eltwise primitives). The BatchNorm
 * (a depthwise 1x1 Conv, or the primitive) and the Relu may overwrite what
 * they read (it dies there): a smaller arena than on the own kernels,
 * and the same values as the reference, which reads a copy. */
static void test_elementwise_in_place(void **state) {
  (void)state;
  for (int trial = 0; trial < 4; trial++) {
    int64_t C0 = 16 * irand(1, 3), C1 = 16 * irand(1, 3), H = irand(4, 20), W = irand(4, 20), C = C0 + C1;
    vrt_graph *g = vrt_graph_new();
    int x = vrt_graph_add_value(g, "x", VRT_F32, 4, (int64_t[]){1, C0, H, W});
    g->values[x].flags |= VRT_VAL_INPUT;
    const char *names[] = {"a", "cat", "n", "b", "y"};
    int v[5];
    for (int i = 0; i < 5; i++) v[i] = value(g, names[i]);
    int w1 = add_const(g, "w1", 4, (int64_t[]){C1, C0, 3, 3}, 0), w2 = add_const(g, "w2", 4, (int64_t[]){8, C, 1, 1}, 0);
    vrt_graph_add_node(g, VRT_OP_Conv, "c1", "Conv", (int[]){x, w1}, 2, &v[0], 1);
    vrt_node_set_ints(&g->nodes[g->nnodes - 1], "pads", (int64_t[]){1, 1, 1, 1}, 4);
    vrt_graph_add_node(g, VRT_OP_Concat, "cat", "Concat", (int[]){v[0], x}, 2, &v[1], 1);
    vrt_node_set_int(&g->nodes[g->nnodes - 1], "axis", 1);
    add_bn(g, v[1], C, v[2]);
    vrt_graph_add_node(g, VRT_OP_Relu, "relu", "Relu", &v[2], 1, &v[3], 1);
    vrt_graph_add_node(g, VRT_OP_Conv, "c2", "Conv", (int[]){v[3], w2}, 2, &v[4], 1);
    unfused = trial & 1;
    vrt_model_t *m = finish(g, x, &v[4], 1);
    unfused = false;
    assert_int_equal(vrt_model_num_nodes(m), (trial & 1) ? 5 : 4);
    size_t own = arena_after_plan(m, "none"), dn = arena_after_plan(m, NULL);
    if (dn >= own) fprintf(stderr, "trial %d: arena %zu on oneDNN, %zu own\n", trial, dn, own);
    assert_true(dn < own);
    double d = run_vs_ref(m, 1 + (trial & 2) / 2);
    if (d > 1e-3) fprintf(stderr, "trial %d C%lld+%lld %lldx%lld: max diff %g\n", trial, (long long)C0,
                          (long long)C1, (long long)H, (long long)W, d);
    assert_true(d < 1e-3);
    vrt_model_free(m);
  }
}

int main(void) {
  unsetenv("VRT_REFERENCE");
  unsetenv("VRT_BACKENDS");
  unsetenv("VRT_FUSE");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_preact_block),
      cmocka_unit_test(test_bn_low_rank),
      cmocka_unit_test(test_residual_in_place),
      cmocka_unit_test(test_elementwise_in_place),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
