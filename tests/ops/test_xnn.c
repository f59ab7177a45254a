/* The XNNPACK backend (src/rt/cpu/xnn.c) against vrt's reference kernels
 * (VRT_REFERENCE=1) on random NHWC shapes: conv (dense, grouped, depthwise,
 * strides, dilations, asymmetric and SAME pads, fused activations and
 * residual), pooling, fully connected; a small NHWC model run in a session
 * through the backend table (VRT_BACKENDS=xnnpack); and what it must refuse.
 * Built without XNNPACK, every node must be refused. */
#include "test_nn_util.h"

#include "backend.h"
#include "cpu/xnn.h"
#include "model.h"

static uint32_t rng = 7;
static int64_t rnd(int64_t lo, int64_t hi) { /* [lo, hi] */
  rng = rng * 1664525u + 1013904223u;
  return lo + (int64_t)((rng >> 8) % (uint32_t)(hi - lo + 1));
}

/* Reference output of n (prepares the node), then the XNNPACK output on the
 * same inputs; returns max |diff| scaled by (1 + max |ref|). */
static double xnn_vs_ref(vrt_node *n, const vrt_tensor *in, int nin, int threads) {
  vrt_tensor ref;
  setenv("VRT_REFERENCE", "1", 1);
  int rc = nn_run(n, in, nin, &ref, 1);
  unsetenv("VRT_REFERENCE");
  if (rc) fprintf(stderr, "reference: %s\n", vrt_last_error());
  assert_int_equal(rc, 0);
  const vrt_tensor *ptr[8];
  for (int i = 0; i < nin; i++) ptr[i] = in[i].dtype ? &in[i] : NULL;
  assert_true(xnn_supports_node(n, ptr, nin, true));
  xnn_node *x = NULL;
  rc = xnn_prepare_node(n, ptr, nin, &x);
  if (rc) fprintf(stderr, "prepare: %s\n", vrt_last_error());
  assert_int_equal(rc, 0);
  vrt_tensor out = ref;
  out.data = vrt__aligned_alloc(ref.nbytes ? ref.nbytes : 4);
  memset(out.data, 0xff, ref.nbytes); /* NaN: every element must be written */
  rc = xnn_run_node(x, ptr, nin, &out, threads);
  if (rc) fprintf(stderr, "run: %s\n", vrt_last_error());
  assert_int_equal(rc, 0);
  int64_t cnt = vrt_tensor_numel(&ref);
  double mag = 0;
  for (int64_t i = 0; i < cnt; i++) mag = fmax(mag, fabs(((float *)ref.data)[i]));
  double d = op_test_maxdiff(out.data, ref.data, cnt) / (1 + mag);
  xnn_node_free(x);
  vrt__aligned_free(out.data);
  nn_out_free(&ref, 1);
  return d;
}

static void test_conv_random(void **state) {
  (void)state;
  if (!xnn_available()) skip();
  static const char *acts[] = {NULL, "Relu", "Relu6", "HardSwish", "Sigmoid", "LeakyRelu", "Clip", "SiLU"};
  for (int t = 0; t < 60; t++) {
    int kind = t % 3; /* 0 dense, 1 depthwise, 2 grouped */
    int64_t N = rnd(1, 2), H = rnd(3, 17), W = rnd(3, 17), k = rnd(1, 5), s = rnd(1, 2), d = t % 7 == 0 ? 2 : 1;
    int64_t C, M, G;
    if (kind == 0) C = rnd(1, 24), M = rnd(1, 24), G = 1;
    else if (kind == 1) C = rnd(1, 40), G = C, M = C * rnd(1, 2);
    else G = rnd(2, 4), C = G * rnd(1, 6), M = G * rnd(1, 6);
    if ((k - 1) * d + 1 > H || (k - 1) * d + 1 > W) k = 1;
    int64_t pads[4] = {rnd(0, k / 2), rnd(0, k / 2), rnd(0, k / 2), rnd(0, k / 2)};
    float *x = nn_rand(N * H * W * C, (uint32_t)t * 3 + 1), *w = nn_rand(M * (C / G) * k * k, (uint32_t)t * 3 + 2);
    float *b = nn_rand(M, (uint32_t)t * 3 + 3);
    vrt_node n = op_test_node(VRT_OP_Conv, 3, 1);
    vrt_node_set_int(&n, "vrt_layout", 1);
    vrt_node_set_int(&n, "group", G);
    vrt_node_set_ints(&n, "strides", NN_DIMS(s, s), 2);
    vrt_node_set_ints(&n, "dilations", NN_DIMS(d, d), 2);
    if (t % 5 == 4) vrt_node_set_string(&n, "auto_pad", "SAME_UPPER");
    else vrt_node_set_ints(&n, "pads", pads, 4);
    const char *act = acts[t % 8];
    if (act) vrt_node_set_string(&n, "vrt_act", act);
    if (act && !strcmp(act, "Clip")) {
      vrt_node_set_float(&n, "vrt_act_alpha", -0.3f);
      vrt_node_set_float(&n, "vrt_act_beta", 0.4f);
    }
    /* output shape, for the fused residual (Conv input 4) */
    int64_t ext = (k - 1) * d + 1, OH, OW;
    if (t % 5 == 4) OH = (H + s - 1) / s, OW = (W + s - 1) / s;
    else OH = (H + pads[0] + pads[2] - ext) / s + 1, OW = (W + pads[1] + pads[3] - ext) / s + 1;
    float *r = nn_rand(N * OH * OW * M, (uint32_t)t * 3 + 4);
    vrt_tensor in[5] = {NN_T(VRT_F32, 4, NN_DIMS(N, H, W, C), x), NN_T(VRT_F32, 4, NN_DIMS(M, C / G, k, k), w),
                        NN_T(VRT_F32, 1, NN_DIMS(M), b), {0}, NN_T(VRT_F32, 4, NN_DIMS(N, OH, OW, M), r)};
    int nin = t % 4 == 3 ? 2 : t % 3 == 1 ? 5 : 3; /* some without bias, some with a residual */
    double diff = xnn_vs_ref(&n, in, nin, 1 + t % 2);
    if (diff > 1e-5)
      fprintf(stderr, "case %d: N%lld H%lld W%lld C%lld M%lld G%lld k%lld s%lld d%lld act %s: %g\n", t, (long long)N,
              (long long)H, (long long)W, (long long)C, (long long)M, (long long)G, (long long)k, (long long)s,
              (long long)d, act ? act : "-", diff);
    assert_true(diff <= 1e-5);
    op_test_node_free(&n);
    free(x), free(w), free(b), free(r);
  }
}

static void test_pool_random(void **state) {
  (void)state;
  if (!xnn_available()) skip();
  for (int t = 0; t < 40; t++) {
    vrt_op op = t % 2 ? VRT_OP_AveragePool : VRT_OP_MaxPool;
    int64_t N = rnd(1, 2), H = rnd(4, 20), W = rnd(4, 20), C = rnd(1, 33), k = rnd(2, 3), s = rnd(1, 2);
    int64_t p = rnd(0, k - 1), ceil = t % 3 == 0;
    float *x = nn_rand(N * H * W * C, (uint32_t)t + 100);
    vrt_node n = op_test_node(op, 1, 1);
    vrt_node_set_int(&n, "vrt_layout", 1);
    vrt_node_set_ints(&n, "kernel_shape", NN_DIMS(k, k), 2);
    vrt_node_set_ints(&n, "strides", NN_DIMS(s, s), 2);
    vrt_node_set_ints(&n, "pads", NN_DIMS(p, p, p, p), 4);
    vrt_node_set_int(&n, "ceil_mode", ceil);
    vrt_tensor in[1] = {NN_T(VRT_F32, 4, NN_DIMS(N, H, W, C), x)};
    double diff = xnn_vs_ref(&n, in, 1, 1);
    if (diff > 1e-6)
      fprintf(stderr, "case %d: %s H%lld W%lld C%lld k%lld s%lld p%lld ceil %lld: %g\n", t, vrt_op_name(op),
              (long long)H, (long long)W, (long long)C, (long long)k, (long long)s, (long long)p, (long long)ceil,
              diff);
    assert_true(diff <= 1e-6);
    op_test_node_free(&n);
    free(x);
  }
  /* global average pooling */
  float *x = nn_rand(2 * 7 * 5 * 19, 9);
  vrt_node n = op_test_node(VRT_OP_GlobalAveragePool, 1, 1);
  vrt_node_set_int(&n, "vrt_layout", 1);
  vrt_tensor in[1] = {NN_T(VRT_F32, 4, NN_DIMS(2, 7, 5, 19), x)};
  assert_true(xnn_vs_ref(&n, in, 1, 2) <= 1e-6);
  op_test_node_free(&n);
  free(x);
}

static void test_fc(void **state) {
  (void)state;
  if (!xnn_available()) skip();
  for (int t = 0; t < 12; t++) {
    int64_t M = rnd(1, 9), K = rnd(1, 70), N = rnd(1, 50);
    int tb = t % 2, matmul = t % 4 == 3;
    float *a = nn_rand(2 * M * K, (uint32_t)t + 200), *b = nn_rand(K * N, (uint32_t)t + 300);
    float *c = nn_rand(N, (uint32_t)t + 400);
    vrt_node n = op_test_node(matmul ? VRT_OP_MatMul : VRT_OP_Gemm, matmul ? 2 : 3, 1);
    vrt_tensor in[3];
    if (matmul) {
      if (t == 7) vrt_node_set_string(&n, "vrt_act", "Gelu"); /* fuse.c puts activations on MatMul too */
      in[0] = NN_T(VRT_F32, 3, NN_DIMS(2, M, K), a); /* batch rows share the weights */
      in[1] = NN_T(VRT_F32, 2, NN_DIMS(K, N), b);
    } else {
      vrt_node_set_int(&n, "transB", tb);
      if (t % 3 == 0) vrt_node_set_string(&n, "vrt_act", t % 2 ? "Relu" : "Sigmoid");
      in[0] = NN_T(VRT_F32, 2, NN_DIMS(M, K), a);
      in[1] = tb ? NN_T(VRT_F32, 2, NN_DIMS(N, K), b) : NN_T(VRT_F32, 2, NN_DIMS(K, N), b);
      in[2] = NN_T(VRT_F32, 1, NN_DIMS(N), c);
    }
    double diff = xnn_vs_ref(&n, in, matmul ? 2 : 3, 1);
    if (diff > 1e-5) fprintf(stderr, "fc case %d: M%lld K%lld N%lld: %g\n", t, (long long)M, (long long)K, (long long)N, diff);
    assert_true(diff <= 1e-5);
    op_test_node_free(&n);
    free(a), free(b), free(c);
  }
}

/* x [1,12,10,6] NHWC -> Conv 3x3 depthwise, Relu -> MaxPool 2x2 s2 ->
 * Conv 1x1 6->8 -> GlobalAveragePool -> y; run in a session with
 * VRT_BACKENDS=xnnpack (the second run is planned) and with the reference:
 * with VRT_XNNPACK_CONV=1 the convolutions and the pool run on XNNPACK,
 * without it only the pool. */
static void test_session_through_table(void **state) {
  (void)state;
  vrt_graph *g = vrt_graph_new();
  int x = vrt_graph_add_value(g, "x", VRT_F32, 4, NN_DIMS(1, 12, 10, 6));
  g->values[x].flags |= VRT_VAL_INPUT;
  int w1 = vrt_graph_add_const(g, "w1", VRT_F32, 4, NN_DIMS(6, 1, 3, 3), nn_rand(54, 1), 54 * 4, false);
  int b1 = vrt_graph_add_const(g, "b1", VRT_F32, 1, NN_DIMS(6), nn_rand(6, 2), 6 * 4, false);
  int w2 = vrt_graph_add_const(g, "w2", VRT_F32, 4, NN_DIMS(8, 6, 1, 1), nn_rand(48, 3), 48 * 4, false);
  int v[4];
  for (int i = 0; i < 4; i++) {
    char name[8];
    snprintf(name, sizeof name, "v%d", i);
    v[i] = vrt_graph_add_value(g, name, VRT_UNDEFINED, -1, NULL);
  }
  g->values[v[3]].flags |= VRT_VAL_OUTPUT;
  vrt_graph_add_node(g, VRT_OP_Conv, "dw", "Conv", (int[]){x, w1, b1}, 3, &v[0], 1);
  vrt_node_set_int(&g->nodes[0], "group", 6);
  vrt_node_set_ints(&g->nodes[0], "pads", NN_DIMS(1, 1, 1, 1), 4);
  vrt_node_set_string(&g->nodes[0], "vrt_act", "Relu");
  vrt_graph_add_node(g, VRT_OP_MaxPool, "pool", "MaxPool", (int[]){v[0]}, 1, &v[1], 1);
  vrt_node_set_ints(&g->nodes[1], "kernel_shape", NN_DIMS(2, 2), 2);
  vrt_node_set_ints(&g->nodes[1], "strides", NN_DIMS(2, 2), 2);
  vrt_graph_add_node(g, VRT_OP_Conv, "pw", "Conv", (int[]){v[1], w2}, 2, &v[2], 1);
  vrt_graph_add_node(g, VRT_OP_GlobalAveragePool, "gap", "GlobalAveragePool", (int[]){v[2]}, 1, &v[3], 1);
  for (int i = 0; i < 4; i++) vrt_node_set_int(&g->nodes[i], "vrt_layout", 1);
  g->inputs = malloc(sizeof(int));
  g->inputs[0] = x;
  g->ninputs = 1;
  g->outputs = malloc(sizeof(int));
  g->outputs[0] = v[3];
  g->noutputs = 1;
  vrt_model_t *m = NULL;
  int rc = vrt__model_from_graph(&m, g, vrt_load_default_params());
  if (rc) fprintf(stderr, "load: %s\n", vrt_last_error());
  assert_int_equal(rc, 0);

  float *xd = nn_rand(12 * 10 * 6, 4);
  vrt_tensor in = NN_T(VRT_F32, 4, NN_DIMS(1, 12, 10, 6), xd);
  for (int conv = 0; conv < 2; conv++) {
    setenv("VRT_BACKENDS", "xnnpack", 1);
    if (conv) setenv("VRT_XNNPACK_CONV", "1", 1);
    vrt_session_t *s;
    assert_int_equal(vrt_session_create(&s, m, vrt_session_default_params()), 0);
    const vrt_tensor *out;
    int nout;
    int64_t before = xnn_run_count();
    for (int r = 0; r < 3; r++) assert_int_equal(vrt_session_run(s, &in, 1, &out, &nout), 0);
    int64_t ran = xnn_run_count() - before;
    assert_int_equal(out[0].ndim, 4);
    assert_int_equal(out[0].dims[3], 8);
    float fast[8];
    memcpy(fast, out[0].data, sizeof fast);
    setenv("VRT_REFERENCE", "1", 1);
    assert_int_equal(vrt_session_run(s, &in, 1, &out, &nout), 0);
    unsetenv("VRT_REFERENCE");
    unsetenv("VRT_BACKENDS");
    unsetenv("VRT_XNNPACK_CONV");
    assert_true(op_test_maxdiff(fast, out[0].data, 8) < 1e-5);
    /* two planned runs: the pool, plus both convolutions when they are routed here */
    if (xnn_available()) assert_int_equal(ran, 2 * (conv ? 3 : 1));
    else assert_int_equal(ran, 0);
    vrt_session_free(s);
  }
  vrt_model_free(m);
  free(xd);
}

/* What the backend must refuse (and, built without XNNPACK, everything). */
static void test_refusals(void **state) {
  (void)state;
  float x[2 * 6 * 6 * 4] = {0}, w[8 * 4 * 3 * 3] = {0}, y[64];
  const vrt_tensor tx = NN_T(VRT_F32, 4, NN_DIMS(2, 6, 6, 4), x), tw = NN_T(VRT_F32, 4, NN_DIMS(8, 4, 3, 3), w);
  const vrt_tensor *in[2] = {&tx, &tw};
  vrt_tensor out;

  vrt_node n = op_test_node(VRT_OP_Conv, 2, 1); /* NCHW: not XNNPACK's */
  const vrt_tensor tc = NN_T(VRT_F32, 4, NN_DIMS(2, 4, 6, 6), x);
  assert_int_equal(nn_run(&n, (vrt_tensor[]){tc, tw}, 2, &out, 1), 0);
  nn_out_free(&out, 1);
  assert_false(xnn_supports_node(&n, (const vrt_tensor *[]){&tc, &tw}, 2, true));
  op_test_node_free(&n);

  n = op_test_node(VRT_OP_Conv, 2, 1);
  vrt_node_set_int(&n, "vrt_layout", 1);
  assert_int_equal(nn_run(&n, (vrt_tensor[]){tx, tw}, 2, &out, 1), 0);
  assert_false(xnn_supports_node(&n, in, 2, false)); /* weights not constant */
  assert_int_equal(xnn_supports_node(&n, in, 2, true), xnn_available());
  xnn_node *xn = NULL;
  int rc = xnn_prepare_node(&n, in, 2, &xn);
  if (xnn_available()) {
    assert_int_equal(rc, 0);
    /* an input of another shape is an error, not a crash */
    const vrt_tensor small = NN_T(VRT_F32, 4, NN_DIMS(1, 6, 6, 4), x);
    vrt_tensor o = NN_T(VRT_F32, 4, NN_DIMS(1, 4, 4, 8), y);
    assert_int_equal(xnn_run_node(xn, (const vrt_tensor *[]){&small, &tw}, 2, &o, 1), VRT_ESHAPE);
  } else {
    assert_int_equal(rc, VRT_EUNSUPPORTED);
    assert_null(xn);
  }
  xnn_node_free(xn);
  nn_out_free(&out, 1);
  op_test_node_free(&n);

  n = op_test_node(VRT_OP_Gemm, 2, 1); /* transA is not a fully connected layer */
  vrt_node_set_int(&n, "transA", 1);
  const vrt_tensor a = NN_T(VRT_F32, 2, NN_DIMS(4, 3), x), b = NN_T(VRT_F32, 2, NN_DIMS(4, 5), w);
  assert_false(xnn_supports_node(&n, (const vrt_tensor *[]){&a, &b}, 2, true));
  op_test_node_free(&n);

  n = op_test_node(VRT_OP_MaxPool, 1, 2); /* with Indices */
  vrt_node_set_int(&n, "vrt_layout", 1);
  vrt_node_set_ints(&n, "kernel_shape", NN_DIMS(2, 2), 2);
  vrt_tensor outs[2];
  assert_int_equal(nn_run(&n, (vrt_tensor[]){tx}, 1, outs, 2), 0);
  nn_out_free(outs, 2);
  assert_false(xnn_supports_node(&n, in, 1, true));
  op_test_node_free(&n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conv_random),
      cmocka_unit_test(test_pool_random),
      cmocka_unit_test(test_fc),
      cmocka_unit_test(test_session_through_table),
      cmocka_unit_test(test_refusals),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
