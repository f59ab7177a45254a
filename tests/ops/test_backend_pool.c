/* The oneDNN backend on what torchvision's classifiers put between their
 * convolutions, against the reference kernels (VRT_REFERENCE=1) on random
 * shapes: MaxPool / AveragePool with ceil_mode (GoogLeNet, SqueezeNet),
 * RegNetY's squeeze-excitation gate after a grouped convolution with 8
 * channels per group, and a plan in which many nodes are refused (each must
 * fall back alone, not take the whole graph off the backend), and the
 * denormals oneDNN's kernels flush (tiny activations of such classifiers
 * slowed its convolutions several times). Each test
 * also says which nodes must run on oneDNN: a silent fallback to the
 * reference would compare the reference with itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "model.h"
#define OP_TEST_RNG_SEED 777u
#include "op_test.h"

/* A graph with input x [1, C, H, W]; nodes are added by the test. */
static vrt_graph *graph_start(int64_t C, int64_t H, int64_t W, int *x) {
  vrt_graph *g = vrt_graph_new();
  *x = vrt_graph_add_value(g, "x", VRT_F32, 4, (int64_t[]){1, C, H, W});
  g->values[*x].flags |= VRT_VAL_INPUT;
  g->inputs = malloc(sizeof(int));
  g->inputs[0] = *x;
  g->ninputs = 1;
  return g;
}

static int value(vrt_graph *g, const char *name) { return vrt_graph_add_value(g, name, VRT_UNDEFINED, -1, NULL); }

/* Conv(in) with random [M, C/group, k, k] weights, pads k/2, an optional
 * fused activation; returns the node index. */
static int add_conv(vrt_graph *g, const char *name, int in, int out, int64_t M, int64_t C, int64_t k, int64_t group,
                    const char *act) {
  int64_t wn = M * (C / group) * k * k;
  char wname[64];
  snprintf(wname, sizeof wname, "%s.w", name);
  int w = vrt_graph_add_const(g, wname, VRT_F32, 4, (int64_t[]){M, C / group, k, k}, rand_buf(wn),
                              sizeof(float) * (size_t)wn, false);
  int i = vrt_graph_add_node(g, VRT_OP_Conv, name, "Conv", (int[]){in, w}, 2, &out, 1);
  int64_t p = k / 2;
  vrt_node_set_ints(&g->nodes[i], "pads", (int64_t[]){p, p, p, p}, 4);
  vrt_node_set_int(&g->nodes[i], "group", group);
  if (act) vrt_node_set_string(&g->nodes[i], "vrt_act", act);
  return i;
}

static int add_pool(vrt_graph *g, vrt_op op, const char *name, int in, int out, int64_t k, int64_t s,
                    const int64_t *pads, int ceil, int incl) {
  int i = vrt_graph_add_node(g, op, name, vrt_op_name(op), &in, 1, &out, 1);
  vrt_node *n = &g->nodes[i];
  vrt_node_set_ints(n, "kernel_shape", (int64_t[]){k, k}, 2);
  vrt_node_set_ints(n, "strides", (int64_t[]){s, s}, 2);
  vrt_node_set_ints(n, "pads", pads, 4);
  vrt_node_set_int(n, "ceil_mode", ceil);
  if (op == VRT_OP_AveragePool) vrt_node_set_int(n, "count_include_pad", incl);
  return i;
}

static int node_index(const vrt_model_t *m, const char *name) {
  for (int i = 0; i < m->g->nnodes; i++)
    if (!strcmp(m->g->nodes[i].name, name)) return i;
  fail_msg("no node %s after load", name);
  return -1;
}

/* Runs m on random x: unplanned, planned (backends), then planned again
 * with VRT_REFERENCE=1; returns max |backend - reference| of output 0
 * over max(1, max |reference|) (deep random graphs grow large values).
 * Before the reference run, the nodes named in dnn (NULL terminated) must
 * be on oneDNN and those in own on their own exec. */
static double run_vs_ref(vrt_model_t *m, const char *const *dnn, const char *const *own) {
  vrt_session_t *s;
  assert_int_equal(vrt_session_create(&s, m, vrt_session_default_params()), 0);
  const vrt_tensor *xin = vrt_model_input(m, 0);
  int64_t xn = vrt_tensor_numel(xin);
  float *x = rand_buf(xn);
  vrt_tensor in = op_test_tensor(VRT_F32, 4, xin->dims, x);
  in.name = "x";
  const vrt_tensor *out;
  int nout;
  for (int r = 0; r < 2; r++) {
    int rc = vrt_session_run(s, &in, 1, &out, &nout);
    if (rc) fprintf(stderr, "run: %s\n", vrt_last_error());
    assert_int_equal(rc, 0);
  }
  for (int i = 0; dnn && dnn[i]; i++) {
    const char *b = vrt__session_node_backend(s, node_index(m, dnn[i]));
    if (!b || strcmp(b, "onednn")) fail_msg("node %s runs on %s, not oneDNN", dnn[i], b ? b : "its own exec");
  }
  for (int i = 0; own && own[i]; i++) assert_null(vrt__session_node_backend(s, node_index(m, own[i])));
  int64_t ny = vrt_tensor_numel(&out[0]);
  float *fast = malloc(sizeof(float) * (size_t)ny);
  memcpy(fast, out[0].data, sizeof(float) * (size_t)ny);
  setenv("VRT_REFERENCE", "1", 1);
  assert_int_equal(vrt_session_run(s, &in, 1, &out, &nout), 0);
  unsetenv("VRT_REFERENCE");
  double d = op_test_maxdiff(fast, out[0].data, ny), big = 1;
  for (int64_t i = 0; i < ny; i++) big = fmax(big, fabs(((const float *)out[0].data)[i]));
  d /= big;
  free(fast);
  free(x);
  vrt_session_free(s);
  return d;
}

/* Conv -> MaxPool (ceil_mode, random kernel, stride, pads) -> AveragePool
 * (ceil_mode, random pads and count_include_pad) -> Conv. Both pools run on
 * oneDNN in the conv's layout, except an AveragePool that counts pads and
 * has a ceil_mode overhang: oneDNN would divide by the whole kernel there,
 * ONNX (and ORT) by the taps inside the padded input. */
static void test_pool_ceil_mode(void **state) {
  (void)state;
  int dnn_avg = 0, own_avg = 0;
  for (int trial = 0; trial < 40; trial++) {
    int64_t C = irand(3, 40), H = irand(7, 30), W = irand(7, 30);
    int64_t k1 = irand(2, 3), s1 = irand(1, 2), k2 = irand(2, 3), s2 = irand(1, 3);
    int64_t p1 = irand(0, (int)k1 / 2), p2 = trial % 3 ? irand(1, (int)k2 / 2) : 0;
    int incl = trial % 5 < 3, ceil2 = trial % 4 != 3;
    int x, v[4];
    vrt_graph *g = graph_start(C, H, W, &x);
    const char *names[] = {"c", "mp", "ap", "y"};
    for (int i = 0; i < 4; i++) v[i] = value(g, names[i]);
    add_conv(g, "c1", x, v[0], C, C, 3, 1, "Relu");
    add_pool(g, VRT_OP_MaxPool, "mp", v[0], v[1], k1, s1, (int64_t[]){p1, p1, 0, p1}, 1, 0);
    add_pool(g, VRT_OP_AveragePool, "ap", v[1], v[2], k2, s2, (int64_t[]){p2, 0, p2, p2}, ceil2, incl);
    add_conv(g, "c2", v[2], v[3], C, C, 1, 1, NULL);
    vrt_model_t *m = op_test_model(g, -1, v[3], vrt_load_default_params());
    /* the geometry as the reference computes it: is there an overhang? */
    int64_t mh = (H + p1 - k1 + s1 - 1) / s1 + 1, mw = (W + 2 * p1 - k1 + s1 - 1) / s1 + 1;
    if ((mh - 1) * s1 >= H + p1) mh--;
    if ((mw - 1) * s1 >= W + p1) mw--;
    bool over = false;
    int64_t in2[2] = {mh, mw}, pb2[2] = {p2, p2}, pe2[2] = {p2, p2};
    pe2[0] = p2, pb2[1] = 0;
    for (int a = 0; a < 2; a++) {
      int64_t span = in2[a] + pb2[a] + pe2[a] - k2;
      int64_t o = ceil2 ? (span + s2 - 1) / s2 + 1 : span / s2 + 1;
      if (ceil2 && (o - 1) * s2 >= in2[a] + pb2[a]) o--;
      over |= (o - 1) * s2 + k2 > in2[a] + pb2[a] + pe2[a];
    }
    bool refused = incl && p2 > 0 && over;
    const char *dnn[] = {"c1", "mp", refused ? NULL : "ap", NULL}, *own[] = {refused ? "ap" : NULL, NULL};
    double d = run_vs_ref(m, dnn, own);
    if (d > 1e-4)
      fprintf(stderr, "trial %d C%lld %lldx%lld mp k%lld s%lld p%lld ap k%lld s%lld p%lld ceil %d incl %d: %g\n", trial,
              (long long)C, (long long)H, (long long)W, (long long)k1, (long long)s1, (long long)p1, (long long)k2,
              (long long)s2, (long long)p2, ceil2, incl, d);
    assert_true(d < 1e-4);
    dnn_avg += !refused && ceil2 && over;
    own_avg += refused;
    vrt_model_free(m);
  }
  /* the random cases covered both an overhang on oneDNN and a refusal */
  assert_true(dnn_avg > 0);
  assert_true(own_avg > 0);
}

/* The count_include_pad=1 divisor with ceil_mode=1 on cases worked by hand
 * and checked against ONNX Runtime (onnxruntime-node 1.30 prints exactly
 * these), AveragePool k3 s2 on x = 0, 1, 2, ...:
 *   4x4, pads (0, 0, 1, 1): 2x2 windows, the last ones reaching into the end
 *     pad and no further: every divisor is 9, pads counted (oneDNN's
 *     include-padding);
 *   4x4, no pads: the last windows overhang the input and only the 6 or 4
 *     taps inside count (oneDNN's exclude-padding is the same divisor);
 *   5x5, pads (1, 1, 0, 0): the leading pad counts, the overhang at the end
 *     does not (divisors 9, 6, 4): oneDNN has no such divisor and the node
 *     stays on its own kernel. */
static void test_avgpool_divisor_by_hand(void **state) {
  (void)state;
  static const struct {
    int64_t hw, pads[4];
    bool dnn;
    int n;
    float want[9];
  } cases[] = {
      {4, {0, 0, 1, 1}, true, 4, {5, 39.0f / 9, 66.0f / 9, 50.0f / 9}},
      {4, {0, 0, 0, 0}, true, 4, {5, 6.5f, 11, 12.5f}},
      {5, {1, 1, 0, 0}, false, 9, {12.0f / 9, 3, 4, 7, 12, 13.5f, 12, 19.5f, 21}},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    int64_t hw = cases[c].hw;
    int x, y;
    vrt_graph *g = graph_start(1, hw, hw, &x);
    y = value(g, "y");
    add_pool(g, VRT_OP_AveragePool, "ap", x, y, 3, 2, cases[c].pads, 1, 1);
    vrt_model_t *m = op_test_model(g, -1, y, vrt_load_default_params());
    vrt_session_t *s;
    assert_int_equal(vrt_session_create(&s, m, vrt_session_default_params()), 0);
    float xv[25];
    for (int i = 0; i < 25; i++) xv[i] = (float)i;
    vrt_tensor in = op_test_tensor(VRT_F32, 4, (int64_t[]){1, 1, hw, hw}, xv);
    const vrt_tensor *out;
    int nout;
    for (int r = 0; r < 3; r++) { /* unplanned, planned, reference */
      if (r == 2) setenv("VRT_REFERENCE", "1", 1);
      assert_int_equal(vrt_session_run(s, &in, 1, &out, &nout), 0);
      unsetenv("VRT_REFERENCE");
      if (r == 1) assert_int_equal(vrt__session_node_backend(s, 0) != NULL, cases[c].dnn);
      assert_int_equal(vrt_tensor_numel(&out[0]), cases[c].n);
      const float *o = out[0].data;
      for (int i = 0; i < cases[c].n; i++) assert_true(fabsf(o[i] - cases[c].want[i]) < 1e-5f);
    }
    vrt_session_free(s);
    vrt_model_free(m);
  }
}

/* RegNetY's block: 1x1 Conv+Relu -> 3x3 grouped Conv+Relu with 8 (or 16)
 * channels per group -> squeeze-excitation (GlobalAveragePool -> 1x1 Conv
 * + Relu -> 1x1 Conv + Sigmoid -> Mul with the block's activations) -> 1x1
 * Conv, three blocks in a row. oneDNN writes the grouped conv in nChw8c,
 * for which it has no jit binary with a broadcast: the Mul brings it to
 * nhwc; with nChw16c the gate takes that layout. Every node on oneDNN. */
static void test_se_gate_after_grouped_conv(void **state) {
  (void)state;
  for (int trial = 0; trial < 6; trial++) {
    int64_t gw = trial & 1 ? 16 : 8, C = gw * irand(2, 7), H = irand(5, 16), W = irand(5, 16), R = irand(4, 12);
    int x;
    vrt_graph *g = graph_start(C, H, W, &x);
    const char *dnn[32];
    int nd = 0, in = x, y = -1;
    for (int b = 0; b < 3; b++) {
      char nm[6][32];
      int v[6];
      const char *what[] = {"a", "gc", "gap", "fc1", "fc2", "se"};
      for (int i = 0; i < 6; i++) {
        snprintf(nm[i], sizeof nm[i], "b%d.%s", b, what[i]);
        v[i] = value(g, nm[i]);
      }
      add_conv(g, nm[0], in, v[0], C, C, 1, 1, "Relu");
      add_conv(g, nm[1], v[0], v[1], C, C, 3, C / gw, "Relu");
      vrt_graph_add_node(g, VRT_OP_GlobalAveragePool, nm[2], "GlobalAveragePool", &v[1], 1, &v[2], 1);
      add_conv(g, nm[3], v[2], v[3], R, C, 1, 1, "Relu");
      add_conv(g, nm[4], v[3], v[4], C, R, 1, 1, "Sigmoid");
      vrt_graph_add_node(g, VRT_OP_Mul, nm[5], "Mul", (int[]){v[1], v[4]}, 2, &v[5], 1);
      char out[32];
      snprintf(out, sizeof out, "b%d.out", b);
      y = value(g, out);
      add_conv(g, out, v[5], y, C, C, 1, 1, NULL);
      in = y;
      static char keep[3][7][32];
      for (int i = 0; i < 6; i++) strcpy(keep[b][i], nm[i]), dnn[nd++] = keep[b][i];
      strcpy(keep[b][6], out), dnn[nd++] = keep[b][6];
    }
    dnn[nd] = NULL;
    vrt_model_t *m = op_test_model(g, -1, y, vrt_load_default_params());
    double d = run_vs_ref(m, dnn, NULL);
    if (d > 1e-3) fprintf(stderr, "trial %d gw %lld C%lld %lldx%lld: %g\n", trial, (long long)gw, (long long)C, (long long)H, (long long)W, d);
    assert_true(d < 1e-3);
    vrt_model_free(m);
  }
}

/* Six branches Conv(x) -> AveragePool that oneDNN refuses at plan time
 * (pads counted with a ceil_mode overhang) reading the conv's private
 * layout, summed by Adds. Each such refusal bans its node from the backend
 * and the plan is made again; they must all be found in one round, or the
 * planner runs out of rounds, gives up on every kernel and all convolutions
 * run on the reference. */
static void test_many_refusals_keep_the_rest(void **state) {
  (void)state;
  int x;
  int64_t C = 16;
  vrt_graph *g = graph_start(C, 10, 10, &x);
  const char *dnn[8], *own[8];
  static char names[6][3][16];
  int sum = -1;
  for (int b = 0; b < 6; b++) {
    snprintf(names[b][0], 16, "c%d", b);
    snprintf(names[b][1], 16, "p%d", b);
    snprintf(names[b][2], 16, "s%d", b);
    int c = value(g, names[b][0]), p = value(g, names[b][1]);
    add_conv(g, names[b][0], x, c, C, C, 3, 1, "Relu");
    /* 10x10, k2 s2, a leading pad: 6x6 windows, the last overhanging */
    add_pool(g, VRT_OP_AveragePool, names[b][1], c, p, 2, 2, (int64_t[]){1, 1, 0, 0}, 1, 1);
    if (sum < 0) {
      sum = p;
    } else {
      int s = value(g, names[b][2]);
      vrt_graph_add_node(g, VRT_OP_Add, names[b][2], "Add", (int[]){sum, p}, 2, &s, 1);
      sum = s;
    }
    dnn[b] = names[b][0];
    own[b] = names[b][1];
  }
  dnn[6] = own[6] = NULL;
  vrt_model_t *m = op_test_model(g, -1, sum, vrt_load_default_params());
  double d = run_vs_ref(m, dnn, own);
  assert_true(d < 1e-4);
  vrt_model_free(m);
}

/* oneDNN's kernels run with denormals as zero (onednn.c: a subnormal input
 * costs a microcode assist per FMA), the own kernels and VRT_DENORMALS=keep
 * keep them: a 1x1 Conv of ones over x = 1e-39 everywhere gives 0 on oneDNN
 * and C * 1e-39 (a normal float) otherwise; the caller's control register
 * is as it was after every run. */
static void test_denormals_flushed_on_onednn(void **state) {
  (void)state;
  int64_t C = 16, H = 5, W = 5;
  for (int keep = 0; keep < 2; keep++) {
    if (keep) setenv("VRT_DENORMALS", "keep", 1);
    int x, y;
    vrt_graph *g = graph_start(C, H, W, &x);
    y = value(g, "y");
    float *ones = malloc(sizeof(float) * (size_t)(C * C));
    for (int64_t i = 0; i < C * C; i++) ones[i] = 1;
    int w = vrt_graph_add_const(g, "w", VRT_F32, 4, (int64_t[]){C, C, 1, 1}, ones, sizeof(float) * (size_t)(C * C), false);
    vrt_graph_add_node(g, VRT_OP_Conv, "c", "Conv", (int[]){x, w}, 2, &y, 1);
    vrt_model_t *m = op_test_model(g, -1, y, vrt_load_default_params());
    vrt_session_t *s;
    assert_int_equal(vrt_session_create(&s, m, vrt_session_default_params()), 0);
    float *xv = malloc(sizeof(float) * (size_t)(C * H * W));
    for (int64_t i = 0; i < C * H * W; i++) xv[i] = 1e-39f;
    vrt_tensor in = op_test_tensor(VRT_F32, 4, (int64_t[]){1, C, H, W}, xv);
    const vrt_tensor *out;
    int nout;
    unsigned before = __builtin_ia32_stmxcsr();
    for (int r = 0; r < 3; r++) { /* unplanned (own), planned (oneDNN), reference */
      if (r == 2) setenv("VRT_REFERENCE", "1", 1);
      assert_int_equal(vrt_session_run(s, &in, 1, &out, &nout), 0);
      unsetenv("VRT_REFERENCE");
      assert_int_equal(__builtin_ia32_stmxcsr(), before);
      if (r == 1) assert_non_null(vrt__session_node_backend(s, 0));
      const float *o = out[0].data;
      bool flushed = r == 1 && !keep;
      for (int64_t i = 0; i < C * H * W; i++) {
        if (flushed) assert_true(o[i] == 0.0f);
        else assert_true(fabsf(o[i] - (float)C * 1e-39f) < 1e-40f);
      }
    }
    free(xv);
    vrt_session_free(s);
    vrt_model_free(m);
    unsetenv("VRT_DENORMALS");
  }
}

/* 3x3 stride-1 convolutions with enough channels run as Winograd (onednn.c):
 * a 1x1 Conv -> 3x3 Conv (random channels, size, pads, bias, Relu, a
 * residual from the 1x1 on some trials) -> 1x1 Conv chain against the
 * reference, relative error ~1e-6 expected, and not bit-equal to the
 * direct kernel (VRT_WINOGRAD=0), which says the other kernel did run. */
static void test_winograd_conv(void **state) {
  (void)state;
  int differ = 0;
  for (int trial = 0; trial < 8; trial++) {
    int64_t C = irand(16, 80), M = irand(64, 160), H = irand(13, 40), W = irand(13, 40);
    bool res = trial % 3 == 2;
    if (res) M = C;
    uint32_t seed = rng;
    float out_direct = 0, out_wino = 0;
    for (int direct = 0; direct < 2; direct++) {
      if (direct) setenv("VRT_WINOGRAD", "0", 1);
      rng = seed; /* the same weights and input */
      int x;
      vrt_graph *g = graph_start(C, H, W, &x);
      int a = value(g, "a"), b = value(g, "b"), y = value(g, "y");
      add_conv(g, "c1", x, a, C, C, 1, 1, "Relu");
      int i = add_conv(g, "c3", a, b, M, C, 3, 1, trial & 1 ? "Relu" : NULL);
      if (res) {
        vrt_node *n = &g->nodes[i];
        int bias = vrt_graph_add_const(g, "c3.b", VRT_F32, 1, (int64_t[]){M}, rand_buf(M), sizeof(float) * (size_t)M, false);
        int *in = realloc(n->in, sizeof(int) * 5);
        in[2] = bias, in[3] = -1, in[4] = a;
        n->in = in;
        n->nin = 5;
      }
      if (trial % 4 == 3) vrt_node_set_ints(&g->nodes[i], "pads", (int64_t[]){0, 0, 0, 0}, 4);
      add_conv(g, "c2", b, y, 24, M, 1, 1, NULL);
      vrt_model_t *m = op_test_model(g, -1, y, vrt_load_default_params());
      double d = run_vs_ref(m, (const char *[]){"c1", "c3", "c2", NULL}, NULL);
      if (d > 1e-5)
        fprintf(stderr, "trial %d C%lld M%lld %lldx%lld direct %d: %g\n", trial, (long long)C, (long long)M, (long long)H,
                (long long)W, direct, d);
      assert_true(d < 1e-5);
      *(direct ? &out_direct : &out_wino) = (float)d;
      vrt_model_free(m);
      unsetenv("VRT_WINOGRAD");
    }
    differ += out_direct != out_wino;
  }
  assert_true(differ >= 6);
}

int main(void) {
  unsetenv("VRT_REFERENCE");
  unsetenv("VRT_BACKENDS");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pool_ceil_mode),
      cmocka_unit_test(test_avgpool_divisor_by_hand),
      cmocka_unit_test(test_se_gate_after_grouped_conv),
      cmocka_unit_test(test_many_refusals_keep_the_rest),
      cmocka_unit_test(test_denormals_flushed_on_onednn),
      cmocka_unit_test(test_winograd_conv),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
