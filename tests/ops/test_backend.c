/* The backend table and the oneDNN backend against the reference kernels:
 * one-node Conv / ConvTranspose graphs on random shapes (both layouts,
 * groups, depthwise, strides, dilations, pads, bias, fused activations and
 * residual) run in a session, whose second (planned) run goes through the
 * backend, and again with VRT_REFERENCE=1. Also: weights packed once per
 * model and shared by sessions, and a refused node falling back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <dnnl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "model.h"
#define OP_TEST_RNG_SEED 12345u
#include "op_test.h"

typedef struct conv_case {
  bool deconv, nhwc, bias, residual;
  int64_t N, C, M, H, W, kh, kw, group, s, d, pad;
  const char *act;
} conv_case;

/* x -> Conv(x, W, B [, -, residual]) -> y. Residual is a second input r. */
static vrt_model_t *conv_model(const conv_case *c) {
  vrt_graph *g = vrt_graph_new();
  int64_t xd[4] = {c->N, c->C, c->H, c->W};
  if (c->nhwc) xd[1] = c->H, xd[2] = c->W, xd[3] = c->C;
  int x = vrt_graph_add_value(g, "x", VRT_F32, 4, xd);
  g->values[x].flags |= VRT_VAL_INPUT;
  int64_t wd[4] = {c->M, c->C / c->group, c->kh, c->kw};
  if (c->deconv) wd[0] = c->C, wd[1] = c->M / c->group;
  int64_t wn = wd[0] * wd[1] * wd[2] * wd[3];
  int w = vrt_graph_add_const(g, "w", VRT_F32, 4, wd, rand_buf(wn), sizeof(float) * (size_t)wn, false);
  int b = -1, r = -1;
  if (c->bias) b = vrt_graph_add_const(g, "b", VRT_F32, 1, (int64_t[]){c->M}, rand_buf(c->M), sizeof(float) * (size_t)c->M, false);
  int ins[5] = {x, w, b, -1, -1}, nin = c->bias ? 3 : 2;
  int y = vrt_graph_add_value(g, "y", VRT_UNDEFINED, -1, NULL);
  g->values[y].flags |= VRT_VAL_OUTPUT;
  g->inputs = malloc(sizeof(int) * 2);
  g->inputs[0] = x;
  g->ninputs = 1;
  if (c->residual) { /* Conv only: the output's shape, NCHW or NHWC */
    int64_t oh = (c->H + 2 * c->pad - c->d * (c->kh - 1) - 1) / c->s + 1;
    int64_t ow = (c->W + 2 * c->pad - c->d * (c->kw - 1) - 1) / c->s + 1;
    int64_t rd[4] = {c->N, c->M, oh, ow};
    if (c->nhwc) rd[1] = oh, rd[2] = ow, rd[3] = c->M;
    r = vrt_graph_add_value(g, "r", VRT_F32, 4, rd);
    g->values[r].flags |= VRT_VAL_INPUT;
    g->inputs[g->ninputs++] = r;
    ins[4] = r;
    nin = 5;
  }
  vrt_graph_add_node(g, c->deconv ? VRT_OP_ConvTranspose : VRT_OP_Conv, "conv", c->deconv ? "ConvTranspose" : "Conv",
                     ins, nin, &y, 1);
  vrt_node *n = &g->nodes[0];
  vrt_node_set_int(n, "group", c->group);
  vrt_node_set_ints(n, "strides", (int64_t[]){c->s, c->s}, 2);
  vrt_node_set_ints(n, "dilations", (int64_t[]){c->d, c->d}, 2);
  vrt_node_set_ints(n, "pads", (int64_t[]){c->pad, c->pad, c->pad, c->pad}, 4);
  if (c->nhwc) vrt_node_set_int(n, "vrt_layout", 1);
  if (c->act) vrt_node_set_string(n, "vrt_act", c->act);
  if (c->act && !strcmp(c->act, "LeakyRelu")) vrt_node_set_float(n, "vrt_act_alpha", 0.2f);
  if (c->act && !strcmp(c->act, "Clip")) {
    vrt_node_set_float(n, "vrt_act_alpha", -0.5f);
    vrt_node_set_float(n, "vrt_act_beta", 0.7f);
  }
  g->outputs = malloc(sizeof(int));
  g->outputs[0] = y;
  g->noutputs = 1;
  vrt_model_t *m = NULL;
  int rc = vrt__model_from_graph(&m, g, vrt_load_default_params());
  if (rc) fprintf(stderr, "load: %s\n", vrt_last_error());
  assert_int_equal(rc, 0);
  return m;
}

/* Runs the model three times: unplanned, planned (backend kernels), and
 * planned again with VRT_REFERENCE=1; returns max |backend - reference|. */
static int session_threads = 1;

static double run_vs_ref(vrt_model_t *m, const conv_case *c, int64_t *out_elems) {
  vrt_session_t *s;
  vrt_session_params sp = vrt_session_default_params();
  sp.threads = session_threads;
  assert_int_equal(vrt_session_create(&s, m, sp), 0);
  const vrt_tensor *xin = vrt_model_input(m, 0);
  int64_t xn = vrt_tensor_numel(xin);
  float *x = rand_buf(xn);
  vrt_tensor in[2] = {op_test_tensor(VRT_F32, 4, xin->dims, x)};
  in[0].name = "x";
  const vrt_tensor *out;
  int nout;
  float *res = NULL;
  if (c->residual) {
    const vrt_tensor *rin = vrt_model_input(m, 1);
    res = rand_buf(vrt_tensor_numel(rin));
    in[1] = op_test_tensor(VRT_F32, 4, rin->dims, res);
    in[1].name = "r";
  }
  int nin = c->residual ? 2 : 1;
  int rc = vrt_session_run(s, in, nin, &out, &nout);
  if (rc) fprintf(stderr, "run: %s\n", vrt_last_error());
  assert_int_equal(rc, 0);
  assert_int_equal(vrt_session_run(s, in, nin, &out, &nout), 0);
  int64_t ny = vrt_tensor_numel(&out[0]);
  float *fast = malloc(sizeof(float) * (size_t)ny);
  memcpy(fast, out[0].data, sizeof(float) * (size_t)ny);
  setenv("VRT_REFERENCE", "1", 1);
  assert_int_equal(vrt_session_run(s, in, nin, &out, &nout), 0);
  unsetenv("VRT_REFERENCE");
  double d = op_test_maxdiff(fast, out[0].data, ny);
  *out_elems = ny;
  free(fast);
  free(x);
  free(res);
  vrt_session_free(s);
  return d;
}

static conv_case random_case(bool deconv) {
  static const char *acts[] = {NULL, "Relu", "Relu6", "LeakyRelu", "Sigmoid", "Tanh", "HardSwish", "SiLU", "Gelu",
                               "Clip", "Elu"};
  conv_case c = {.deconv = deconv};
  c.nhwc = rnd() & 1;
  c.bias = rnd() % 4 != 0;
  c.N = irand(1, 2);
  int kind = irand(0, deconv ? 1 : 2); /* plain, grouped, depthwise */
  c.group = kind == 0 ? 1 : kind == 1 ? irand(2, 3) : irand(3, 20);
  c.C = kind == 2 ? c.group : c.group * irand(1, 9);
  c.M = kind == 2 ? c.group * irand(1, 2) : c.group * irand(1, 9);
  if (deconv) c.M = c.group * irand(8, 12); /* fewer per group stay on nn_conv.c (onednn.c) */
  c.H = irand(5, 17);
  c.W = irand(5, 17);
  c.kh = irand(1, 3);
  c.kw = rnd() % 3 ? c.kh : irand(1, 3);
  c.s = irand(1, 2);
  c.d = deconv ? 1 : irand(1, 2);
  c.pad = irand(0, (int)(c.kh < c.kw ? c.kh : c.kw) - 1);
  c.act = acts[rnd() % (sizeof acts / sizeof acts[0])];
  c.residual = !deconv && rnd() % 3 == 0;
  return c;
}

static void check_cases(bool deconv) {
  int ran = 0;
  for (int i = 0; i < 60; i++) {
    conv_case c = random_case(deconv);
    vrt_model_t *m = conv_model(&c);
    int64_t ny;
    double d = run_vs_ref(m, &c, &ny);
    if (d > 1e-3) {
      fprintf(stderr, "case %d: deconv %d nhwc %d N%lld C%lld M%lld %lldx%lld k%lldx%lld g%lld s%lld d%lld p%lld act %s bias %d res %d: max diff %g\n",
              i, c.deconv, c.nhwc, (long long)c.N, (long long)c.C, (long long)c.M, (long long)c.H, (long long)c.W,
              (long long)c.kh, (long long)c.kw, (long long)c.group, (long long)c.s, (long long)c.d, (long long)c.pad,
              c.act ? c.act : "-", c.bias, c.residual, d);
      fail();
    }
    ran += m->packed != NULL; /* the backend took the node: it packed weights */
    vrt_model_free(m);
  }
  /* oneDNN takes every one of these; a silent fallback would test nothing */
  assert_int_equal(ran, 60);
}

static void test_conv_vs_reference(void **state) {
  (void)state;
  check_cases(false);
}

static void test_deconv_vs_reference(void **state) {
  (void)state;
  check_cases(true);
}

/* Two sessions of one model: the weights are packed once, for both. */
static void test_weights_shared(void **state) {
  (void)state;
  conv_case c = {.nhwc = false, .bias = true, .N = 1, .C = 16, .M = 32, .H = 14, .W = 14, .kh = 3, .kw = 3,
                 .group = 1, .s = 1, .d = 1, .pad = 1, .act = "Relu"};
  vrt_model_t *m = conv_model(&c);
  int64_t ny;
  assert_true(run_vs_ref(m, &c, &ny) < 1e-3);
  assert_non_null(m->packed);
  size_t once = m->packed_bytes;
  assert_true(once >= 16 * 32 * 9 * sizeof(float));
  assert_true(run_vs_ref(m, &c, &ny) < 1e-3);
  assert_int_equal(m->packed_bytes, once);
  vrt_model_free(m);
}

/* VRT_BACKENDS picks backends by name; "none" leaves every node on its own
 * exec (no packing), and results agree. */
static void test_backends_env(void **state) {
  (void)state;
  const vrt_backend *bs[4];
  setenv("VRT_BACKENDS", "none", 1);
  assert_int_equal(vrt__backends_enabled(bs, 4), 0);
  conv_case c = {.nhwc = true, .N = 1, .C = 8, .M = 8, .H = 9, .W = 9, .kh = 3, .kw = 3, .group = 8, .s = 1,
                 .d = 1, .pad = 1};
  vrt_model_t *m = conv_model(&c);
  int64_t ny;
  assert_true(run_vs_ref(m, &c, &ny) < 1e-4);
  assert_null(m->packed);
  vrt_model_free(m);
  setenv("VRT_BACKENDS", "onednn", 1);
  assert_int_equal(vrt__backends_enabled(bs, 4), 1);
  assert_string_equal(bs[0]->name, "onednn");
  unsetenv("VRT_BACKENDS");
  setenv("VRT_REFERENCE", "1", 1);
  assert_int_equal(vrt__backends_enabled(bs, 4), 0);
  unsetenv("VRT_REFERENCE");
}

/* A ConvTranspose whose output padding oneDNN cannot express is refused at
 * plan time and runs on the reference kernel: right answer, nothing packed. */
static void test_refused_falls_back(void **state) {
  (void)state;
  vrt_graph *g = vrt_graph_new();
  int x = vrt_graph_add_value(g, "x", VRT_F32, 4, (int64_t[]){1, 2, 4, 4});
  g->values[x].flags |= VRT_VAL_INPUT;
  int w = vrt_graph_add_const(g, "w", VRT_F32, 4, (int64_t[]){2, 3, 1, 1}, rand_buf(6), 24, false);
  int y = vrt_graph_add_value(g, "y", VRT_UNDEFINED, -1, NULL);
  g->values[y].flags |= VRT_VAL_OUTPUT;
  int ins[2] = {x, w};
  vrt_graph_add_node(g, VRT_OP_ConvTranspose, "convt", "ConvTranspose", ins, 2, &y, 1);
  vrt_node_set_ints(&g->nodes[0], "strides", (int64_t[]){3, 3}, 2);
  vrt_node_set_ints(&g->nodes[0], "output_padding", (int64_t[]){2, 2}, 2);
  g->inputs = malloc(sizeof(int));
  g->inputs[0] = x;
  g->ninputs = 1;
  g->outputs = malloc(sizeof(int));
  g->outputs[0] = y;
  g->noutputs = 1;
  vrt_model_t *m = NULL;
  assert_int_equal(vrt__model_from_graph(&m, g, vrt_load_default_params()), 0);
  conv_case c = {0};
  int64_t ny;
  assert_true(run_vs_ref(m, &c, &ny) < 1e-5);
  assert_int_equal(ny, 3 * 12 * 12);
  assert_null(m->packed);
  vrt_model_free(m);
}

/* Binary ops and pools on oneDNN, in a chain after a convolution (so they
 * read and write its private layout) and alone on plain random broadcasts:
 *   c = Conv(x); g = GlobalAveragePool(c); m = Mul(c, g); a = Add(m, c);
 *   s = Sub(a, k[1,C,1,1]); mp = MaxPool(s 3x3 s2 p1); y = AveragePool(mp 2x2 s2 p1)
 * Planned runs against the reference. */
static void test_binary_pool_chain(void **state) {
  (void)state;
  for (int trial = 0; trial < 6; trial++) {
    int64_t C = irand(3, 40), H = irand(6, 20), W = irand(6, 20);
    vrt_graph *g = vrt_graph_new();
    int x = vrt_graph_add_value(g, "x", VRT_F32, 4, (int64_t[]){1, C, H, W});
    g->values[x].flags |= VRT_VAL_INPUT;
    int w = vrt_graph_add_const(g, "w", VRT_F32, 4, (int64_t[]){C, C, 3, 3}, rand_buf(C * C * 9),
                                sizeof(float) * (size_t)(C * C * 9), false);
    int k = vrt_graph_add_const(g, "k", VRT_F32, 4, (int64_t[]){1, C, 1, 1}, rand_buf(C), sizeof(float) * (size_t)C,
                                false);
    const char *names[] = {"c", "g", "m", "a", "s", "mp", "y"};
    int v[7];
    for (int i = 0; i < 7; i++) v[i] = vrt_graph_add_value(g, names[i], VRT_UNDEFINED, -1, NULL);
    vrt_graph_add_node(g, VRT_OP_Conv, "conv", "Conv", (int[]){x, w}, 2, &v[0], 1);
    vrt_node_set_ints(&g->nodes[0], "pads", (int64_t[]){1, 1, 1, 1}, 4);
    vrt_graph_add_node(g, VRT_OP_GlobalAveragePool, "gap", "GlobalAveragePool", &v[0], 1, &v[1], 1);
    vrt_graph_add_node(g, VRT_OP_Mul, "mul", "Mul", (int[]){v[0], v[1]}, 2, &v[2], 1);
    vrt_graph_add_node(g, VRT_OP_Add, "add", "Add", (int[]){v[2], v[0]}, 2, &v[3], 1);
    vrt_graph_add_node(g, VRT_OP_Sub, "sub", "Sub", (int[]){v[3], k}, 2, &v[4], 1);
    vrt_graph_add_node(g, VRT_OP_MaxPool, "mp", "MaxPool", &v[4], 1, &v[5], 1);
    vrt_node_set_ints(&g->nodes[5], "kernel_shape", (int64_t[]){3, 3}, 2);
    vrt_node_set_ints(&g->nodes[5], "strides", (int64_t[]){2, 2}, 2);
    vrt_node_set_ints(&g->nodes[5], "pads", (int64_t[]){1, 1, 1, 1}, 4);
    vrt_graph_add_node(g, VRT_OP_AveragePool, "ap", "AveragePool", &v[5], 1, &v[6], 1);
    vrt_node_set_ints(&g->nodes[6], "kernel_shape", (int64_t[]){2, 2}, 2);
    vrt_node_set_ints(&g->nodes[6], "strides", (int64_t[]){2, 2}, 2);
    vrt_node_set_ints(&g->nodes[6], "pads", (int64_t[]){1, 1, 1, 1}, 4);
    vrt_node_set_int(&g->nodes[6], "count_include_pad", trial & 1);
    g->inputs = malloc(sizeof(int));
    g->inputs[0] = x;
    g->ninputs = 1;
    g->outputs = malloc(sizeof(int));
    g->outputs[0] = v[6];
    g->noutputs = 1;
    g->values[v[6]].flags |= VRT_VAL_OUTPUT;
    vrt_model_t *m = NULL;
    setenv("VRT_FUSE", "0", 1); /* keep the Add a binary node */
    int rc = vrt__model_from_graph(&m, g, vrt_load_default_params());
    unsetenv("VRT_FUSE");
    if (rc) fprintf(stderr, "load: %s\n", vrt_last_error());
    assert_int_equal(rc, 0);
    conv_case cc = {0};
    int64_t ny;
    double d = run_vs_ref(m, &cc, &ny);
    if (d > 1e-3) fprintf(stderr, "trial %d C%lld %lldx%lld: max diff %g\n", trial, (long long)C, (long long)H, (long long)W, d);
    assert_true(d < 1e-3);
    vrt_model_free(m);
  }
}

/* Conv -> Resize (nearest, integer factors, both coordinate conventions
 * oneDNN matches) -> Conv, against the reference; and a mode it does not
 * match (asymmetric + round_prefer_floor at factor 3) staying correct on
 * the own kernel. */
static void test_resize_nearest(void **state) {
  (void)state;
  static const char *const ct[] = {"asymmetric", "half_pixel", "asymmetric"};
  static const char *const nm[] = {"floor", "round_prefer_floor", "round_prefer_floor"};
  for (int trial = 0; trial < 6; trial++) {
    int64_t C = irand(2, 20), H = irand(3, 9), W = irand(3, 9), fh = irand(1, 3), fw = irand(2, 3);
    vrt_graph *g = vrt_graph_new();
    int x = vrt_graph_add_value(g, "x", VRT_F32, 4, (int64_t[]){1, C, H, W});
    g->values[x].flags |= VRT_VAL_INPUT;
    int w = vrt_graph_add_const(g, "w", VRT_F32, 4, (int64_t[]){C, C, 1, 1}, rand_buf(C * C),
                                sizeof(float) * (size_t)(C * C), false);
    float *sc = malloc(16);
    sc[0] = 1, sc[1] = 1, sc[2] = (float)fh, sc[3] = (float)fw;
    int scales = vrt_graph_add_const(g, "scales", VRT_F32, 1, (int64_t[]){4}, sc, 16, false);
    int a = vrt_graph_add_value(g, "a", VRT_UNDEFINED, -1, NULL), r = vrt_graph_add_value(g, "r", VRT_UNDEFINED, -1, NULL);
    int y = vrt_graph_add_value(g, "y", VRT_UNDEFINED, -1, NULL);
    vrt_graph_add_node(g, VRT_OP_Conv, "c1", "Conv", (int[]){x, w}, 2, &a, 1);
    vrt_graph_add_node(g, VRT_OP_Resize, "rs", "Resize", (int[]){a, -1, scales}, 3, &r, 1);
    vrt_node_set_string(&g->nodes[1], "mode", "nearest");
    vrt_node_set_string(&g->nodes[1], "coordinate_transformation_mode", ct[trial % 3]);
    vrt_node_set_string(&g->nodes[1], "nearest_mode", nm[trial % 3]);
    vrt_graph_add_node(g, VRT_OP_Conv, "c2", "Conv", (int[]){r, w}, 2, &y, 1);
    vrt_model_t *m = op_test_model(g, x, y, vrt_load_default_params());
    conv_case cc = {0};
    int64_t ny;
    double d = run_vs_ref(m, &cc, &ny);
    if (d > 1e-4) fprintf(stderr, "trial %d %s/%s x%lldx%lld: max diff %g\n", trial, ct[trial % 3], nm[trial % 3], (long long)fh, (long long)fw, d);
    assert_true(d < 1e-4);
    assert_int_equal(ny, C * H * fh * W * fw);
    vrt_model_free(m);
  }
}

/* Softmax and LogSoftmax over every axis of random rank-1..5 tensors. */
static void test_softmax(void **state) {
  (void)state;
  for (int trial = 0; trial < 20; trial++) {
    int nd = irand(1, 5);
    int64_t dims[5];
    for (int i = 0; i < nd; i++) dims[i] = irand(1, 7);
    int axis = irand(-nd, nd - 1);
    bool logsm = rnd() & 1;
    vrt_graph *g = vrt_graph_new();
    int x = vrt_graph_add_value(g, "x", VRT_F32, nd, dims);
    g->values[x].flags |= VRT_VAL_INPUT;
    int y = vrt_graph_add_value(g, "y", VRT_UNDEFINED, -1, NULL);
    vrt_op op = logsm ? VRT_OP_LogSoftmax : VRT_OP_Softmax;
    vrt_graph_add_node(g, op, "sm", vrt_op_name(op), &x, 1, &y, 1);
    vrt_node_set_int(&g->nodes[0], "axis", axis);
    vrt_model_t *m = op_test_model(g, x, y, vrt_load_default_params());
    /* run_vs_ref feeds a rank-4 view: give it this rank */
    vrt_session_t *s;
    assert_int_equal(vrt_session_create(&s, m, vrt_session_default_params()), 0);
    int64_t n = vrt__numel(dims, nd);
    float *xv = rand_buf(n);
    for (int64_t i = 0; i < n; i++) xv[i] *= 8;
    vrt_tensor in = op_test_tensor(VRT_F32, nd, dims, xv);
    const vrt_tensor *out;
    int nout;
    for (int r = 0; r < 2; r++) assert_int_equal(vrt_session_run(s, &in, 1, &out, &nout), 0);
    float *fast = malloc(sizeof(float) * (size_t)n);
    memcpy(fast, out[0].data, sizeof(float) * (size_t)n);
    setenv("VRT_REFERENCE", "1", 1);
    assert_int_equal(vrt_session_run(s, &in, 1, &out, &nout), 0);
    unsetenv("VRT_REFERENCE");
    assert_true(op_test_maxdiff(fast, out[0].data, n) < 1e-5);
    free(fast);
    free(xv);
    vrt_session_free(s);
    vrt_model_free(m);
  }
}

/* One binary node on plain inputs with numpy broadcasts both ways. */
static void test_binary_broadcasts(void **state) {
  (void)state;
  static const vrt_op ops[] = {VRT_OP_Add, VRT_OP_Mul, VRT_OP_Sub, VRT_OP_Div, VRT_OP_Max, VRT_OP_Min};
  for (int trial = 0; trial < 40; trial++) {
    int64_t full[4] = {irand(1, 2), irand(1, 9), irand(1, 9), irand(1, 9)}, bd[4];
    int nb = irand(1, 4);
    for (int i = 0; i < nb; i++) bd[i] = rnd() & 1 ? full[4 - nb + i] : 1;
    bool swap = rnd() & 1;
    vrt_op op = ops[rnd() % 6];
    vrt_graph *g = vrt_graph_new();
    int x = vrt_graph_add_value(g, "x", VRT_F32, 4, full);
    g->values[x].flags |= VRT_VAL_INPUT;
    int64_t nbel = vrt__numel(bd, nb);
    float *bv = rand_buf(nbel);
    for (int64_t i = 0; i < nbel; i++) bv[i] += bv[i] >= 0 ? 0.5f : -0.5f; /* no division by ~0 */
    int b = vrt_graph_add_const(g, "b", VRT_F32, nb, bd, bv, sizeof(float) * (size_t)nbel, false);
    int y = vrt_graph_add_value(g, "y", VRT_UNDEFINED, -1, NULL);
    int ins[2] = {swap ? b : x, swap ? x : b};
    vrt_graph_add_node(g, op, "bin", vrt_op_name(op), ins, 2, &y, 1);
    vrt_model_t *m = op_test_model(g, x, y, vrt_load_default_params());
    conv_case cc = {0};
    int64_t ny;
    double d = run_vs_ref(m, &cc, &ny);
    if (d > 1e-4) fprintf(stderr, "trial %d %s swap %d: max diff %g\n", trial, vrt_op_name(op), swap, d);
    assert_true(d < 1e-4);
    vrt_model_free(m);
  }
}

/* VRT_PRECISION=bf16 where the CPU has bf16 dot products: close to the f32
 * reference but not bit-equal (so the bf16 kernels did run); elsewhere the
 * float32 result. */
static void test_bf16_opt_in(void **state) {
  (void)state;
  dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
  bool has = isa == dnnl_cpu_isa_avx512_core_bf16 || isa == dnnl_cpu_isa_avx512_core_amx;
  setenv("VRT_PRECISION", "bf16", 1);
  for (int nhwc = 0; nhwc < 2; nhwc++) {
    conv_case c = {.nhwc = nhwc, .bias = true, .N = 1, .C = 16, .M = 32, .H = 12, .W = 12, .kh = 3, .kw = 3,
                   .group = 1, .s = 1, .d = 1, .pad = 1, .act = "Relu"};
    vrt_model_t *m = conv_model(&c);
    int64_t ny;
    double d = run_vs_ref(m, &c, &ny);
    if (has) {
      assert_true(d > 0);
      assert_true(d < 0.1);
    } else {
      assert_true(d < 1e-3);
    }
    vrt_model_free(m);
  }
  unsetenv("VRT_PRECISION");
}

/* A chain of NCHW convolutions whose intermediates stay in oneDNN's layout:
 *   a = Conv1(x) relu; b = Conv2(a) (depthwise); c = Conv3(b) + a (residual);
 *   d = Softsign(b) (a reader on its own kernel: b must stay plain);
 *   outputs c, d. Planned runs against the reference, twice. */
static void test_private_layout_chain(void **state) {
  (void)state;
  vrt_graph *g = vrt_graph_new();
  int x = vrt_graph_add_value(g, "x", VRT_F32, 4, (int64_t[]){1, 24, 13, 11});
  g->values[x].flags |= VRT_VAL_INPUT;
  int w1 = vrt_graph_add_const(g, "w1", VRT_F32, 4, (int64_t[]){32, 24, 3, 3}, rand_buf(32 * 24 * 9), 4 * 32 * 24 * 9, false);
  int w2 = vrt_graph_add_const(g, "w2", VRT_F32, 4, (int64_t[]){32, 1, 3, 3}, rand_buf(32 * 9), 4 * 32 * 9, false);
  int w3 = vrt_graph_add_const(g, "w3", VRT_F32, 4, (int64_t[]){32, 32, 1, 1}, rand_buf(32 * 32), 4 * 32 * 32, false);
  int w4 = vrt_graph_add_const(g, "w4", VRT_F32, 4, (int64_t[]){20, 32, 1, 1}, rand_buf(20 * 32), 4 * 20 * 32, false);
  int a = vrt_graph_add_value(g, "a", VRT_UNDEFINED, -1, NULL), b = vrt_graph_add_value(g, "b", VRT_UNDEFINED, -1, NULL);
  int c = vrt_graph_add_value(g, "c", VRT_UNDEFINED, -1, NULL), d = vrt_graph_add_value(g, "d", VRT_UNDEFINED, -1, NULL);
  int e = vrt_graph_add_value(g, "e", VRT_UNDEFINED, -1, NULL);
  vrt_graph_add_node(g, VRT_OP_Conv, "c1", "Conv", (int[]){x, w1}, 2, &a, 1);
  vrt_node_set_ints(&g->nodes[0], "pads", (int64_t[]){1, 1, 1, 1}, 4);
  vrt_node_set_string(&g->nodes[0], "vrt_act", "Relu");
  vrt_graph_add_node(g, VRT_OP_Conv, "c2", "Conv", (int[]){a, w2}, 2, &b, 1);
  vrt_node_set_ints(&g->nodes[1], "pads", (int64_t[]){1, 1, 1, 1}, 4);
  vrt_node_set_int(&g->nodes[1], "group", 32);
  vrt_graph_add_node(g, VRT_OP_Conv, "c3", "Conv", (int[]){b, w3, -1, -1, a}, 5, &c, 1);
  vrt_graph_add_node(g, VRT_OP_Softsign, "sig", "Softsign", &b, 1, &d, 1);
  vrt_graph_add_node(g, VRT_OP_Conv, "c4", "Conv", (int[]){c, w4}, 2, &e, 1);
  g->inputs = malloc(sizeof(int));
  g->inputs[0] = x;
  g->ninputs = 1;
  g->outputs = malloc(sizeof(int) * 2);
  g->outputs[0] = e, g->outputs[1] = d;
  g->noutputs = 2;
  g->values[e].flags |= VRT_VAL_OUTPUT;
  g->values[d].flags |= VRT_VAL_OUTPUT;
  vrt_model_t *m = NULL;
  int rc = vrt__model_from_graph(&m, g, vrt_load_default_params());
  if (rc) fprintf(stderr, "load: %s\n", vrt_last_error());
  assert_int_equal(rc, 0);
  conv_case cc = {0};
  int64_t ny;
  for (int i = 0; i < 2; i++) assert_true(run_vs_ref(m, &cc, &ny) < 1e-3);
  assert_int_equal(ny, 20 * 13 * 11);
  assert_non_null(m->packed);
  /* the second output (through the plain Softsign) too */
  vrt_session_t *s;
  assert_int_equal(vrt_session_create(&s, m, vrt_session_default_params()), 0);
  float *xv = rand_buf(24 * 13 * 11);
  vrt_tensor in = op_test_tensor(VRT_F32, 4, (int64_t[]){1, 24, 13, 11}, xv);
  const vrt_tensor *out;
  int nout;
  for (int r = 0; r < 2; r++) assert_int_equal(vrt_session_run(s, &in, 1, &out, &nout), 0);
  float *fast = malloc(sizeof(float) * 32 * 13 * 11);
  memcpy(fast, out[1].data, sizeof(float) * 32 * 13 * 11);
  setenv("VRT_REFERENCE", "1", 1);
  assert_int_equal(vrt_session_run(s, &in, 1, &out, &nout), 0);
  unsetenv("VRT_REFERENCE");
  assert_true(op_test_maxdiff(fast, out[1].data, 32 * 13 * 11) < 1e-4);
  free(fast);
  free(xv);
  vrt_session_free(s);
  vrt_model_free(m);
}

/* A 1x1 Conv whose output leaves plain (a graph output) after a Conv that
 * stores nhwc: oneDNN runs it as one matmul reading the nhwc input through
 * its strides and writing NCHW (onednn.c, pw_plan), the bias as each row's
 * start; with and without bias and activation, against the reference. */
static void test_pointwise_to_plain(void **state) {
  (void)state;
  for (int variant = 0; variant < 2; variant++) {
    vrt_graph *g = vrt_graph_new();
    int x = vrt_graph_add_value(g, "x", VRT_F32, 4, (int64_t[]){1, 16, 17, 19}); /* 323 pixels: over DN_PW_MIN_PIX */
    g->values[x].flags |= VRT_VAL_INPUT;
    int w1 = vrt_graph_add_const(g, "w1", VRT_F32, 4, (int64_t[]){24, 16, 3, 3}, rand_buf(24 * 16 * 9), 4 * 24 * 16 * 9, false);
    int w2 = vrt_graph_add_const(g, "w2", VRT_F32, 4, (int64_t[]){20, 24, 1, 1}, rand_buf(20 * 24), 4 * 20 * 24, false);
    int b2 = vrt_graph_add_const(g, "b2", VRT_F32, 1, (int64_t[]){20}, rand_buf(20), 4 * 20, false);
    int a = vrt_graph_add_value(g, "a", VRT_UNDEFINED, -1, NULL), y = vrt_graph_add_value(g, "y", VRT_UNDEFINED, -1, NULL);
    vrt_graph_add_node(g, VRT_OP_Conv, "c1", "Conv", (int[]){x, w1}, 2, &a, 1);
    vrt_node_set_ints(&g->nodes[0], "pads", (int64_t[]){1, 1, 1, 1}, 4);
    vrt_node_set_string(&g->nodes[0], "vrt_act", "Relu");
    vrt_graph_add_node(g, VRT_OP_Conv, "c2", "Conv", (int[]){a, w2, b2}, variant ? 2 : 3, &y, 1);
    if (!variant) vrt_node_set_string(&g->nodes[1], "vrt_act", "SiLU");
    vrt_model_t *m = op_test_model(g, x, y, vrt_load_default_params());
    conv_case cc = {0};
    int64_t ny;
    assert_true(run_vs_ref(m, &cc, &ny) < 1e-4);
    assert_int_equal(ny, 20 * 17 * 19);
    vrt_model_free(m);
  }
}

/* A channel gate as OSNet and SE blocks write it: Conv -> ReduceMean over
 * H, W (keepdims; ReduceMax, and the opset-18 axes input, on some trials) ->
 * 1x1 Conv + Sigmoid -> Mul(x, gate) -> ReduceMean without keepdims ([N, C]).
 * The reduces run as oneDNN global pooling in the conv's layout; both
 * outputs against the reference. */
static void test_spatial_reduce_gate(void **state) {
  (void)state;
  for (int trial = 0; trial < 8; trial++) {
    int64_t C = irand(3, 40), H = irand(1, 17), W = irand(1, 17);
    bool axes_input = trial & 1, use_max = trial & 2;
    vrt_graph *g = vrt_graph_new();
    int x = vrt_graph_add_value(g, "x", VRT_F32, 4, (int64_t[]){1, C, H, W});
    g->values[x].flags |= VRT_VAL_INPUT;
    int w1 = vrt_graph_add_const(g, "w1", VRT_F32, 4, (int64_t[]){C, C, 3, 3}, rand_buf(C * C * 9),
                                 sizeof(float) * (size_t)(C * C * 9), false);
    int w2 = vrt_graph_add_const(g, "w2", VRT_F32, 4, (int64_t[]){C, C, 1, 1}, rand_buf(C * C),
                                 sizeof(float) * (size_t)(C * C), false);
    int64_t *ax = malloc(2 * sizeof *ax);
    ax[0] = trial & 4 ? -1 : 2, ax[1] = trial & 4 ? -2 : 3;
    int axv = vrt_graph_add_const(g, "axes", VRT_I64, 1, (int64_t[]){2}, ax, 2 * sizeof *ax, false);
    const char *names[] = {"a", "m", "gs", "y", "f"};
    int v[5];
    for (int i = 0; i < 5; i++) v[i] = vrt_graph_add_value(g, names[i], VRT_UNDEFINED, -1, NULL);
    vrt_graph_add_node(g, VRT_OP_Conv, "c1", "Conv", (int[]){x, w1}, 2, &v[0], 1);
    vrt_node_set_ints(&g->nodes[0], "pads", (int64_t[]){1, 1, 1, 1}, 4);
    vrt_node_set_string(&g->nodes[0], "vrt_act", "Relu");
    int rop = use_max ? VRT_OP_ReduceMax : VRT_OP_ReduceMean;
    const char *rname = use_max ? "ReduceMax" : "ReduceMean";
    if (axes_input) {
      vrt_graph_add_node(g, rop, "r1", rname, (int[]){v[0], axv}, 2, &v[1], 1);
    } else {
      vrt_graph_add_node(g, rop, "r1", rname, &v[0], 1, &v[1], 1);
      vrt_node_set_ints(&g->nodes[1], "axes", ax, 2);
    }
    vrt_graph_add_node(g, VRT_OP_Conv, "fc", "Conv", (int[]){v[1], w2}, 2, &v[2], 1);
    vrt_node_set_string(&g->nodes[2], "vrt_act", "Sigmoid");
    vrt_graph_add_node(g, VRT_OP_Mul, "gate", "Mul", (int[]){v[0], v[2]}, 2, &v[3], 1);
    vrt_graph_add_node(g, VRT_OP_ReduceMean, "r2", "ReduceMean", &v[3], 1, &v[4], 1);
    vrt_node_set_ints(&g->nodes[4], "axes", (int64_t[]){3, 2}, 2);
    vrt_node_set_int(&g->nodes[4], "keepdims", 0);
    g->inputs = malloc(sizeof(int));
    g->inputs[0] = x;
    g->ninputs = 1;
    g->outputs = malloc(sizeof(int) * 2);
    g->outputs[0] = v[3], g->outputs[1] = v[4];
    g->noutputs = 2;
    g->values[v[3]].flags |= VRT_VAL_OUTPUT;
    g->values[v[4]].flags |= VRT_VAL_OUTPUT;
    vrt_model_t *m = NULL;
    int rc = vrt__model_from_graph(&m, g, vrt_load_default_params());
    if (rc) fprintf(stderr, "load: %s\n", vrt_last_error());
    assert_int_equal(rc, 0);
    vrt_session_t *s;
    assert_int_equal(vrt_session_create(&s, m, vrt_session_default_params()), 0);
    float *xv = rand_buf(C * H * W);
    vrt_tensor in = op_test_tensor(VRT_F32, 4, (int64_t[]){1, C, H, W}, xv);
    in.name = "x";
    const vrt_tensor *out;
    int nout;
    for (int r = 0; r < 2; r++) assert_int_equal(vrt_session_run(s, &in, 1, &out, &nout), 0);
    assert_int_equal(nout, 2);
    assert_int_equal(out[1].ndim, 2);
    assert_int_equal(out[1].dims[1], C);
    int64_t n0 = C * H * W;
    float *fast = malloc(sizeof(float) * (size_t)(n0 + C));
    memcpy(fast, out[0].data, sizeof(float) * (size_t)n0);
    memcpy(fast + n0, out[1].data, sizeof(float) * (size_t)C);
    setenv("VRT_REFERENCE", "1", 1);
    assert_int_equal(vrt_session_run(s, &in, 1, &out, &nout), 0);
    unsetenv("VRT_REFERENCE");
    double d0 = op_test_maxdiff(fast, out[0].data, n0), d1 = op_test_maxdiff(fast + n0, out[1].data, C);
    if (d0 > 1e-4 || d1 > 1e-4)
      fprintf(stderr, "trial %d C%lld %lldx%lld: max diff %g %g\n", trial, (long long)C, (long long)H, (long long)W,
              d0, d1);
    assert_true(d0 < 1e-4 && d1 < 1e-4);
    free(fast);
    free(xv);
    vrt_session_free(s);
    vrt_model_free(m);
  }
}

/* A C2f-style block: Conv -> Slice into two channel halves (unit steps,
 * bounds as the opset-13 inputs, one of them negative or past the end) ->
 * Conv on the second half -> Concat(axis) of the halves and the Conv output
 * (and on some trials the graph input itself, plain) -> Conv; plus a Slice
 * along a spatial axis straight to an output. Concat and Slice run on oneDNN
 * in the producers' layouts; both outputs against the reference. */
static int i64_const(vrt_graph *g, const char *name, const int64_t *v, int n) {
  int64_t *p = malloc(sizeof(int64_t) * (size_t)n);
  memcpy(p, v, sizeof(int64_t) * (size_t)n);
  return vrt_graph_add_const(g, name, VRT_I64, 1, (int64_t[]){n}, p, sizeof(int64_t) * (size_t)n, false);
}

static void test_concat_slice_chain(void **state) {
  (void)state;
  for (int trial = 0; trial < 8; trial++) {
    int64_t C = 2 * irand(2, 24), H = irand(2, 14), W = irand(2, 14), h = C / 2;
    bool with_input = trial & 1;
    vrt_graph *g = vrt_graph_new();
    int x = vrt_graph_add_value(g, "x", VRT_F32, 4, (int64_t[]){1, C, H, W});
    g->values[x].flags |= VRT_VAL_INPUT;
    int w1 = vrt_graph_add_const(g, "w1", VRT_F32, 4, (int64_t[]){C, C, 1, 1}, rand_buf(C * C),
                                 sizeof(float) * (size_t)(C * C), false);
    int w2 = vrt_graph_add_const(g, "w2", VRT_F32, 4, (int64_t[]){h, h, 3, 3}, rand_buf(h * h * 9),
                                 sizeof(float) * (size_t)(h * h * 9), false);
    int64_t cc = C + h + (with_input ? C : 0);
    int w3 = vrt_graph_add_const(g, "w3", VRT_F32, 4, (int64_t[]){8, cc, 1, 1}, rand_buf(8 * cc),
                                 sizeof(float) * (size_t)(8 * cc), false);
    int ax1 = i64_const(g, "ax1", (int64_t[]){1}, 1);
    int s0 = i64_const(g, "s0", (int64_t[]){0}, 1), e0 = i64_const(g, "e0", (int64_t[]){h}, 1);
    int s1 = i64_const(g, "s1", (int64_t[]){trial & 2 ? -h : h}, 1);
    int e1 = i64_const(g, "e1", (int64_t[]){trial & 2 ? INT64_MAX : C}, 1);
    int hs = i64_const(g, "hs", (int64_t[]){1}, 1), he = i64_const(g, "he", (int64_t[]){H > 2 ? H - 1 : H}, 1);
    int ax2 = i64_const(g, "ax2", (int64_t[]){trial & 4 ? 3 : 2}, 1);
    const char *names[] = {"a", "p0", "p1", "b", "cat", "y", "sp"};
    int v[7];
    for (int i = 0; i < 7; i++) v[i] = vrt_graph_add_value(g, names[i], VRT_UNDEFINED, -1, NULL);
    vrt_graph_add_node(g, VRT_OP_Conv, "c1", "Conv", (int[]){x, w1}, 2, &v[0], 1);
    vrt_node_set_string(&g->nodes[0], "vrt_act", "SiLU");
    vrt_graph_add_node(g, VRT_OP_Slice, "sl0", "Slice", (int[]){v[0], s0, e0, ax1}, 4, &v[1], 1);
    vrt_graph_add_node(g, VRT_OP_Slice, "sl1", "Slice", (int[]){v[0], s1, e1, ax1}, 4, &v[2], 1);
    vrt_graph_add_node(g, VRT_OP_Conv, "c2", "Conv", (int[]){v[2], w2}, 2, &v[3], 1);
    vrt_node_set_ints(&g->nodes[3], "pads", (int64_t[]){1, 1, 1, 1}, 4);
    int cat_in[4] = {v[1], v[2], v[3], x};
    vrt_graph_add_node(g, VRT_OP_Concat, "cat", "Concat", cat_in, with_input ? 4 : 3, &v[4], 1);
    vrt_node_set_int(&g->nodes[4], "axis", trial & 2 ? -3 : 1);
    vrt_graph_add_node(g, VRT_OP_Conv, "c3", "Conv", (int[]){v[4], w3}, 2, &v[5], 1);
    vrt_graph_add_node(g, VRT_OP_Slice, "sp", "Slice", (int[]){v[0], hs, he, ax2}, 4, &v[6], 1);
    g->inputs = malloc(sizeof(int));
    g->inputs[0] = x;
    g->ninputs = 1;
    g->outputs = malloc(sizeof(int) * 2);
    g->outputs[0] = v[5], g->outputs[1] = v[6];
    g->noutputs = 2;
    g->values[v[5]].flags |= VRT_VAL_OUTPUT;
    g->values[v[6]].flags |= VRT_VAL_OUTPUT;
    vrt_model_t *m = NULL;
    int rc = vrt__model_from_graph(&m, g, vrt_load_default_params());
    if (rc) fprintf(stderr, "load: %s\n", vrt_last_error());
    assert_int_equal(rc, 0);
    vrt_session_t *s;
    assert_int_equal(vrt_session_create(&s, m, vrt_session_default_params()), 0);
    float *xv = rand_buf(C * H * W);
    vrt_tensor in = op_test_tensor(VRT_F32, 4, (int64_t[]){1, C, H, W}, xv);
    in.name = "x";
    const vrt_tensor *out;
    int nout;
    for (int r = 0; r < 2; r++) assert_int_equal(vrt_session_run(s, &in, 1, &out, &nout), 0);
    int64_t n0 = vrt_tensor_numel(&out[0]), n1 = vrt_tensor_numel(&out[1]);
    assert_int_equal(n0, 8 * H * W);
    float *fast = malloc(sizeof(float) * (size_t)(n0 + n1));
    memcpy(fast, out[0].data, sizeof(float) * (size_t)n0);
    memcpy(fast + n0, out[1].data, sizeof(float) * (size_t)n1);
    setenv("VRT_REFERENCE", "1", 1);
    assert_int_equal(vrt_session_run(s, &in, 1, &out, &nout), 0);
    unsetenv("VRT_REFERENCE");
    double d0 = op_test_maxdiff(fast, out[0].data, n0), d1 = op_test_maxdiff(fast + n0, out[1].data, n1);
    if (d0 > 1e-3 || d1 > 1e-5)
      fprintf(stderr, "trial %d C%lld %lldx%lld: max diff %g %g\n", trial, (long long)C, (long long)H, (long long)W,
              d0, d1);
    assert_true(d0 < 1e-3 && d1 < 1e-5);
    free(fast);
    free(xv);
    vrt_session_free(s);
    vrt_model_free(m);
  }
}

/* Sessions with 2 threads (oneDNN's OpenMP team) compute what the reference
 * does. */
static void test_two_threads(void **state) {
  (void)state;
  session_threads = 2;
  for (int i = 0; i < 8; i++) {
    conv_case c = random_case(i & 1);
    vrt_model_t *m = conv_model(&c);
    int64_t ny;
    assert_true(run_vs_ref(m, &c, &ny) < 1e-3);
    vrt_model_free(m);
  }
  session_threads = 1;
}

/* The OpenMP runtime under oneDNN starts with a short spin although the
 * environment does not ask for it (vrt_omp_env_reexec, nn.c): a child
 * started without OMP_WAIT_POLICY / GOMP_SPINCOUNT calls it and prints
 * libgomp's own view of its settings (omp_display_env, verbose). Without the
 * call the child shows libgomp's default of 300000 polls. */
static void test_omp_short_spin_by_default(void **state) {
  (void)state;
  char exe[4096], cmd[4200];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  assert_true(n > 0);
  exe[n] = 0;
  for (int reexec = 0; reexec < 2; reexec++) {
    snprintf(cmd, sizeof cmd, "env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT '%s' %s 2>&1", exe,
             reexec ? "--omp-env" : "--omp-env-as-is");
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    char line[512];
    long spin = -1;
    while (fgets(line, sizeof line, f)) {
      const char *p = strstr(line, "GOMP_SPINCOUNT = '");
      if (p) spin = strtol(p + strlen("GOMP_SPINCOUNT = '"), NULL, 10);
    }
    assert_int_equal(pclose(f), 0);
    if (reexec) assert_int_equal(spin, 10000); /* ~0.5 ms: across one run's regions */
    else assert_int_equal(spin, 300000);      /* libgomp's default (~15 ms), what the call is for */
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && (!strcmp(argv[1], "--omp-env") || !strcmp(argv[1], "--omp-env-as-is"))) {
    if (!strcmp(argv[1], "--omp-env")) vrt_omp_env_reexec(argv);
    void (*display)(int) = NULL;
    *(void **)&display = dlsym(RTLD_DEFAULT, "omp_display_env");
    if (!display) return 1;
    display(1);
    return 0;
  }
  unsetenv("VRT_REFERENCE");
  unsetenv("VRT_BACKENDS");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conv_vs_reference), cmocka_unit_test(test_deconv_vs_reference),
      cmocka_unit_test(test_weights_shared),    cmocka_unit_test(test_backends_env),
      cmocka_unit_test(test_refused_falls_back), cmocka_unit_test(test_private_layout_chain),
      cmocka_unit_test(test_bf16_opt_in),       cmocka_unit_test(test_binary_pool_chain),
      cmocka_unit_test(test_binary_broadcasts),  cmocka_unit_test(test_two_threads),
      cmocka_unit_test(test_resize_nearest),    cmocka_unit_test(test_softmax),
      cmocka_unit_test(test_spatial_reduce_gate), cmocka_unit_test(test_omp_short_spin_by_default),
      cmocka_unit_test(test_concat_slice_chain), cmocka_unit_test(test_pointwise_to_plain),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
