/* In-place Concat and Slice (src/rt/views.c) on small graphs built here: which
 * nodes become views, and that the outputs match the copying run bit for
 * bit (VRT_VIEWS=0, the unplanned first run) and the reference kernels
 * (VRT_REFERENCE=1) within 1e-6, including the cases that must copy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "model.h"
#include "ops.h"
#include "ops/op_test.h"

enum { C = 4, H = 3, W = 5 };

/* The input of the graph being built (and run): [N, C, H, W]. */
static int64_t in_dims[4];

typedef struct {
  vrt_graph *g;
  int x;
} gb;

static gb gb_new4(int64_t n, int64_t c, int64_t h, int64_t w) {
  gb b = {vrt_graph_new(), 0};
  int64_t xd[4] = {n, c, h, w};
  memcpy(in_dims, xd, sizeof xd);
  b.x = vrt_graph_add_value(b.g, "x", VRT_F32, 4, xd);
  b.g->values[b.x].flags |= VRT_VAL_INPUT;
  b.g->inputs = malloc(sizeof(int));
  b.g->inputs[0] = b.x;
  b.g->ninputs = 1;
  return b;
}

static gb gb_new(int64_t n) { return gb_new4(n, C, H, W); }

/* A node named after its output; returns the output value. */
static int op(gb *b, int opc, const char *type, const int *in, int nin, const char *out) {
  int v = vrt_graph_add_value(b->g, out, VRT_UNDEFINED, -1, NULL);
  assert_true(vrt_graph_add_node(b->g, opc, out, type, in, nin, &v, 1) >= 0);
  return v;
}

static int op1(gb *b, int opc, const char *type, int a, const char *out) { return op(b, opc, type, &a, 1, out); }

static int concat(gb *b, const int *in, int nin, int axis, const char *out) {
  int v = op(b, VRT_OP_Concat, "Concat", in, nin, out);
  vrt_node_set_int(&b->g->nodes[b->g->nnodes - 1], "axis", axis);
  return v;
}

static int i64_const(gb *b, const char *name, int64_t v) {
  int64_t d[1] = {1};
  int64_t *p = malloc(sizeof *p);
  *p = v;
  return vrt_graph_add_const(b->g, name, VRT_I64, 1, d, p, sizeof *p, false);
}

/* Slice(a)[start:end] on one axis (opset-13 form, constant inputs). */
static int slice(gb *b, int a, int axis, int64_t start, int64_t end, const char *out) {
  char nm[64];
  snprintf(nm, sizeof nm, "%s_s", out);
  int s = i64_const(b, nm, start);
  snprintf(nm, sizeof nm, "%s_e", out);
  int e = i64_const(b, nm, end);
  snprintf(nm, sizeof nm, "%s_a", out);
  int ax = i64_const(b, nm, axis);
  int in[4] = {a, s, e, ax};
  return op(b, VRT_OP_Slice, "Slice", in, 4, out);
}

/* k x k Conv (stride s, padding k / 2) of c input channels to m, constant
 * weights and bias. */
static int conv(gb *b, int a, int c, int m, int k, int s, const char *out) {
  char nm[64];
  int64_t wd[4] = {m, c, k, k}, bd[1] = {m};
  int nw = m * c * k * k;
  float *w = malloc(sizeof(float) * (size_t)nw), *bias = malloc(sizeof(float) * (size_t)m);
  for (int i = 0; i < nw; i++) w[i] = (float)((i * 7) % 11 - 5) / (8.0f * (float)(k * k));
  for (int i = 0; i < m; i++) bias[i] = (float)i / 4.0f - 0.5f;
  snprintf(nm, sizeof nm, "%s_w", out);
  int vw = vrt_graph_add_const(b->g, nm, VRT_F32, 4, wd, w, sizeof(float) * (size_t)nw, false);
  snprintf(nm, sizeof nm, "%s_b", out);
  int vb = vrt_graph_add_const(b->g, nm, VRT_F32, 1, bd, bias, sizeof(float) * (size_t)m, false);
  int in[3] = {a, vw, vb};
  int v = op(b, VRT_OP_Conv, "Conv", in, 3, out);
  vrt_node *n = &b->g->nodes[b->g->nnodes - 1];
  int64_t ks[2] = {k, k}, st[2] = {s, s}, pads[4] = {k / 2, k / 2, k / 2, k / 2};
  vrt_node_set_ints(n, "kernel_shape", ks, 2);
  vrt_node_set_ints(n, "strides", st, 2);
  vrt_node_set_ints(n, "pads", pads, 4);
  return v;
}

static int conv1x1(gb *b, int a, int c, int m, const char *out) { return conv(b, a, c, m, 1, 1, out); }

static vrt_model_t *gb_model(gb *b, int out) { return op_test_model(b->g, -1, out, vrt_load_default_params()); }

/* Two runs of a fresh session (unplanned, then planned): the planned output
 * (a copy) and, through *views, the number of view nodes of its plan. The
 * first run never uses views (nor backends): it must agree within tol. */
static float *run_twice(vrt_model_t *m, size_t *count, size_t *views, float tol) {
  size_t nx = (size_t)(in_dims[0] * in_dims[1] * in_dims[2] * in_dims[3]);
  float *x = malloc(sizeof(float) * nx);
  for (size_t i = 0; i < nx; i++) x[i] = (float)((int)(i * 37 % 29) - 14) / 7.0f;
  vrt_tensor in = {.name = "x", .dtype = VRT_F32, .ndim = 4, .dims = {in_dims[0], in_dims[1], in_dims[2], in_dims[3]}, .data = x,
                   .nbytes = sizeof(float) * nx};
  vrt_session_t *s;
  assert_int_equal(vrt_session_create(&s, m, vrt_session_default_params()), 0);
  float *first = NULL, *res = NULL;
  for (int run = 0; run < 2; run++) {
    const vrt_tensor *out;
    int nout;
    int rc = vrt_session_run(s, &in, 1, &out, &nout);
    if (rc) fprintf(stderr, "run: %s\n", vrt_last_error());
    assert_int_equal(rc, 0);
    *count = out[0].nbytes / sizeof(float);
    float *copy = malloc(out[0].nbytes);
    memcpy(copy, out[0].data, out[0].nbytes);
    if (run == 0) first = copy;
    else res = copy;
  }
  for (size_t i = 0; i < *count; i++) assert_true(fabsf(first[i] - res[i]) <= tol * (1 + fabsf(first[i])));
  vrt_memory_info mi;
  vrt_session_memory(s, &mi);
  *views = mi.view_nodes;
  vrt_session_free(s);
  free(first);
  free(x);
  return res;
}

/* The model with views (expecting `views` of them), without, and on the
 * reference kernels: the same numbers. */
static void check_tol(vrt_model_t *m, size_t views, float tol) {
  size_t cnt, cnt0, cntr, v, v0, vr;
  float *a = run_twice(m, &cnt, &v, tol);
  setenv("VRT_VIEWS", "0", 1);
  float *b = run_twice(m, &cnt0, &v0, tol);
  unsetenv("VRT_VIEWS");
  setenv("VRT_REFERENCE", "1", 1);
  float *r = run_twice(m, &cntr, &vr, 0); /* own kernels both times */
  unsetenv("VRT_REFERENCE");
  assert_int_equal(v, views);
  assert_int_equal(v0, 0);
  assert_int_equal(vr, views); /* plain everywhere: the same views */
  assert_int_equal(cnt, cnt0);
  assert_int_equal(cnt, cntr);
  assert_memory_equal(a, b, cnt * sizeof(float));
  for (size_t i = 0; i < cnt; i++) assert_true(fabsf(a[i] - r[i]) <= tol * (1 + fabsf(r[i])));
  free(a);
  free(b);
  free(r);
  vrt_model_free(m);
}

static void check(vrt_model_t *m, int64_t n, size_t views) {
  assert_int_equal(in_dims[0], n);
  check_tol(m, views, 1e-6f);
}

/* DenseNet's growth: every layer joins all earlier maps again. The convs
 * write straight into the last join, whose prefixes the earlier joins are;
 * the joins feed own-kernel Negs, so they are stored plain. */
static void test_dense_chain(void **state) {
  (void)state;
  gb b = gb_new(1);
  int f0 = conv1x1(&b, b.x, C, C, "f0");
  int f1 = conv1x1(&b, op1(&b, VRT_OP_Relu, "Relu", f0, "r0"), C, C, "f1");
  int c1 = concat(&b, (int[]){f0, f1}, 2, 1, "c1");
  int f2 = conv1x1(&b, op1(&b, VRT_OP_Neg, "Neg", c1, "r1"), 2 * C, C, "f2");
  int c2 = concat(&b, (int[]){f0, f1, f2}, 3, 1, "c2");
  int y = op1(&b, VRT_OP_Neg, "Neg", c2, "y");
  check(gb_model(&b, y), 1, 2);
}

/* YOLO's C2f: a channel split of one tensor, the halves joined again with a
 * new map; SPPF: a map and pools of it joined (axis -3 is the channel axis). */
static void test_split_join(void **state) {
  (void)state;
  gb b = gb_new(1);
  int t = op1(&b, VRT_OP_Sigmoid, "Sigmoid", b.x, "t");
  int lo = slice(&b, t, 1, 0, C / 2, "lo"), hi = slice(&b, t, 1, C / 2, C, "hi");
  int m = op1(&b, VRT_OP_Relu, "Relu", hi, "m");
  int j = concat(&b, (int[]){lo, hi, m}, 3, -3, "j");
  int y = op1(&b, VRT_OP_Neg, "Neg", j, "y");
  check(gb_model(&b, y), 1, 3);
}

/* A middle window of a join of three (a slice across two members). */
static void test_slice_of_join(void **state) {
  (void)state;
  gb b = gb_new(1);
  int p = op1(&b, VRT_OP_Relu, "Relu", b.x, "p"), q = op1(&b, VRT_OP_Neg, "Neg", b.x, "q");
  int r = op1(&b, VRT_OP_Sigmoid, "Sigmoid", b.x, "r");
  int j = concat(&b, (int[]){p, q, r}, 3, 1, "j");
  int s = slice(&b, j, 1, 2, 2 * C + 1, "s");
  int y = op1(&b, VRT_OP_Neg, "Neg", s, "y");
  int z = op1(&b, VRT_OP_Relu, "Relu", j, "z"); /* j read again after the slice */
  int both = concat(&b, (int[]){y, z}, 2, 1, "both");
  int out = op1(&b, VRT_OP_Sigmoid, "Sigmoid", both, "out");
  check(gb_model(&b, out), 1, 3);
}

/* Two joins of the same map with different partners: both would put their
 * partner in the same bytes, so only the first is a view. */
static void test_conflict_copies(void **state) {
  (void)state;
  gb b = gb_new(1);
  int p = op1(&b, VRT_OP_Relu, "Relu", b.x, "p"), q = op1(&b, VRT_OP_Neg, "Neg", b.x, "q");
  int r = op1(&b, VRT_OP_Sigmoid, "Sigmoid", b.x, "r");
  int j1 = concat(&b, (int[]){p, q}, 2, 1, "j1"), j2 = concat(&b, (int[]){p, r}, 2, 1, "j2");
  int a1 = op1(&b, VRT_OP_Neg, "Neg", j1, "a1"), a2 = op1(&b, VRT_OP_Relu, "Relu", j2, "a2");
  int y = op(&b, VRT_OP_Add, "Add", (int[]){a1, a2}, 2, "y");
  check(gb_model(&b, y), 1, 1);
}

/* What always copies: a graph input joined, a map joined twice in one
 * Concat, a join that is a graph output, a batch of 2, a cut on an inner
 * axis after a channel axis of size > 1. */
static void test_fallbacks(void **state) {
  (void)state;
  gb b = gb_new(1);
  int p = op1(&b, VRT_OP_Relu, "Relu", b.x, "p");
  int j1 = concat(&b, (int[]){b.x, p}, 2, 1, "j1"); /* a graph input */
  int j2 = concat(&b, (int[]){p, p}, 2, 1, "j2");   /* one map twice */
  int q = op1(&b, VRT_OP_Neg, "Neg", p, "q");
  int j3 = concat(&b, (int[]){p, q}, 2, 2, "j3"); /* along H, C > 1 before it */
  int s = slice(&b, q, 3, 1, 3, "s");             /* along W */
  int a = op(&b, VRT_OP_Add, "Add", (int[]){op1(&b, VRT_OP_Neg, "Neg", j1, "n1"), j2}, 2, "a");
  int r = op1(&b, VRT_OP_Relu, "Relu", j3, "r");
  int sr = op1(&b, VRT_OP_Relu, "Relu", s, "sr");
  int flat = concat(&b, (int[]){op1(&b, VRT_OP_Flatten, "Flatten", a, "fa"), op1(&b, VRT_OP_Flatten, "Flatten", r, "fr"),
                                op1(&b, VRT_OP_Flatten, "Flatten", sr, "fs")},
                    3, 1, "flat"); /* a graph output */
  check(gb_model(&b, flat), 1, 3);          /* only the three Flattens are views */

  gb b2 = gb_new(2); /* batch 2: a channel join is not contiguous */
  int p2 = op1(&b2, VRT_OP_Relu, "Relu", b2.x, "p"), q2 = op1(&b2, VRT_OP_Neg, "Neg", b2.x, "q");
  int j = concat(&b2, (int[]){p2, q2}, 2, 1, "j");
  check(gb_model(&b2, op1(&b2, VRT_OP_Sigmoid, "Sigmoid", j, "y")), 2, 0);
}

/* Reshapes keep the bytes: a view of their input, also of a join; not of a
 * graph input, and not when they make the graph output. */
static void test_reshape(void **state) {
  (void)state;
  gb b = gb_new(1);
  int64_t sd[1] = {3};
  int64_t *shp = malloc(sizeof(int64_t) * 3);
  shp[0] = 1, shp[1] = C * H, shp[2] = W;
  int sv = vrt_graph_add_const(b.g, "shape", VRT_I64, 1, sd, shp, sizeof(int64_t) * 3, false);
  int p = op1(&b, VRT_OP_Relu, "Relu", b.x, "p");
  int rx = op(&b, VRT_OP_Reshape, "Reshape", (int[]){b.x, sv}, 2, "rx"); /* a graph input: copies */
  int rp = op(&b, VRT_OP_Reshape, "Reshape", (int[]){p, sv}, 2, "rp");  /* view */
  int j = concat(&b, (int[]){p, op1(&b, VRT_OP_Neg, "Neg", b.x, "q")}, 2, 1, "j");
  int fj = op1(&b, VRT_OP_Flatten, "Flatten", j, "fj"); /* view of a view */
  vrt_node_set_int(&b.g->nodes[b.g->nnodes - 1], "axis", 1);
  int a = op(&b, VRT_OP_Add, "Add", (int[]){rx, rp}, 2, "a");
  int fa = op1(&b, VRT_OP_Flatten, "Flatten", a, "fa"); /* view */
  vrt_node_set_int(&b.g->nodes[b.g->nnodes - 1], "axis", 1);
  int both = concat(&b, (int[]){fa, fj}, 2, 1, "both"); /* 1 x (CHW + 2CHW): a view too */
  int out = op1(&b, VRT_OP_Flatten, "Flatten", op1(&b, VRT_OP_Sigmoid, "Sigmoid", both, "sg"), "out"); /* output */
  check(gb_model(&b, out), 1, 5);
}

/* YOLO's stem at 320^2: the first Conv reads the NCHW input as it is and
 * the ones on large maps after it run in oneDNN's nChw16c; the split of a
 * 32-channel map into 16-channel halves and the join of the halves with a
 * new map are then views of whole channel blocks (the same views as on the
 * plain reference kernels). Convolutions sum in another order there: 1e-5. */
static void test_blocked_stem(void **state) {
  (void)state;
  gb b = gb_new4(1, 3, 320, 320);
  int s0 = conv(&b, b.x, 3, 16, 3, 2, "s0");  /* 160^2 */
  int t = conv1x1(&b, s0, 16, 32, "t");
  int lo = slice(&b, t, 1, 0, 16, "lo"), hi = slice(&b, t, 1, 16, 32, "hi");
  int m1 = conv(&b, hi, 16, 16, 3, 1, "m1");
  int j = concat(&b, (int[]){lo, hi, m1}, 3, 1, "j");
  int y = conv1x1(&b, j, 48, 16, "y");
  check_tol(gb_model(&b, op1(&b, VRT_OP_Sigmoid, "Sigmoid", y, "out")), 3, 1e-5f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dense_chain),     cmocka_unit_test(test_split_join),
      cmocka_unit_test(test_slice_of_join),   cmocka_unit_test(test_conflict_copies),
      cmocka_unit_test(test_fallbacks),       cmocka_unit_test(test_reshape),
      cmocka_unit_test(test_blocked_stem),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
