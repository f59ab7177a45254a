/* The executor: per-shape plans, arena reuse, input checking, constant
 * folding and dead-node removal, on small graphs built in memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "model.h"
#include "ops.h"
#include "ops/op_test.h"

/* y = Relu(x) + c ; z = y * y, with x of shape [N, 4] (N dynamic), plus a
 * constant-only branch (c2 = c + c) that feeds a dead node. */
static vrt_model_t *build(void) {
  vrt_graph *g = vrt_graph_new();
  int64_t xd[2] = {-1, 4}, cd[1] = {4};
  int x = vrt_graph_add_value(g, "x", VRT_F32, 2, xd);
  g->values[x].flags |= VRT_VAL_INPUT;
  float *cv = malloc(16);
  for (int i = 0; i < 4; i++) cv[i] = (float)i;
  int c = vrt_graph_add_const(g, "c", VRT_F32, 1, cd, cv, 16, false);
  int r = vrt_graph_add_value(g, "r", VRT_UNDEFINED, -1, NULL);
  int y = vrt_graph_add_value(g, "y", VRT_UNDEFINED, -1, NULL);
  int z = vrt_graph_add_value(g, "z", VRT_UNDEFINED, -1, NULL);
  int c2 = vrt_graph_add_value(g, "c2", VRT_UNDEFINED, -1, NULL);
  int dead = vrt_graph_add_value(g, "dead", VRT_UNDEFINED, -1, NULL);
  int in1[1] = {x}, in2[2] = {r, c}, in3[2] = {y, y}, in4[2] = {c, c}, in5[2] = {c2, y};
  vrt_graph_add_node(g, VRT_OP_Relu, "relu", "Relu", in1, 1, &r, 1);
  vrt_graph_add_node(g, VRT_OP_Add, "add", "Add", in2, 2, &y, 1);
  vrt_graph_add_node(g, VRT_OP_Mul, "mul", "Mul", in3, 2, &z, 1);
  vrt_graph_add_node(g, VRT_OP_Add, "cfold", "Add", in4, 2, &c2, 1);
  vrt_graph_add_node(g, VRT_OP_Add, "unused", "Add", in5, 2, &dead, 1);
  vrt_model_t *m = op_test_model(g, x, z, vrt_load_default_params());
  return m;
}

static void expect_run(vrt_session_t *s, int n) {
  float *x = malloc(sizeof(float) * 4 * (size_t)n);
  for (int i = 0; i < 4 * n; i++) x[i] = (float)(i % 7) - 3.0f;
  vrt_tensor in = {.name = "x", .dtype = VRT_F32, .ndim = 2, .dims = {n, 4}, .data = x, .nbytes = 16 * (size_t)n};
  const vrt_tensor *out;
  int nout;
  int rc = vrt_session_run(s, &in, 1, &out, &nout);
  if (rc) fprintf(stderr, "run: %s\n", vrt_last_error());
  assert_int_equal(rc, 0);
  assert_int_equal(nout, 1);
  assert_string_equal(out[0].name, "z");
  assert_int_equal(out[0].ndim, 2);
  assert_int_equal(out[0].dims[0], n);
  for (int i = 0; i < 4 * n; i++) {
    float r = x[i] > 0 ? x[i] : 0;
    float y = r + (float)(i % 4);
    assert_float_equal(((float *)out[0].data)[i], y * y, 1e-6);
  }
  free(x);
}

static void test_plans_per_shape(void **state) {
  (void)state;
  vrt_model_t *m = build();
  /* the dead branch and the folded constant are gone: relu, add, mul */
  assert_int_equal(vrt_model_num_nodes(m), 3);
  vrt_session_t *s;
  assert_int_equal(vrt_session_create(&s, m, vrt_session_default_params()), 0);
  expect_run(s, 3);
  expect_run(s, 3);
  vrt_memory_info mi;
  vrt_session_memory(s, &mi);
  assert_int_equal(mi.plan_count, 1);
  /* r and y die before z is complete only partly: arena holds at most 3 values */
  assert_true(mi.arena_bytes >= 3 * 4 * 4);
  assert_true(mi.arena_bytes <= 3 * 64);
  expect_run(s, 5);
  vrt_session_memory(s, &mi);
  assert_int_equal(mi.plan_count, 2);
  expect_run(s, 3);
  vrt_session_memory(s, &mi);
  assert_int_equal(mi.plan_count, 2);
  assert_true(mi.peak_bytes >= mi.arena_bytes);
  assert_int_equal(mi.weight_bytes, 16);
  vrt_session_free(s);
  vrt_model_free(m);
}

static void test_bad_inputs(void **state) {
  (void)state;
  vrt_model_t *m = build();
  vrt_session_t *s;
  assert_int_equal(vrt_session_create(&s, m, vrt_session_default_params()), 0);
  float x[8] = {0};
  const vrt_tensor *out;
  int nout;
  vrt_tensor wrong_dim = {.name = "x", .dtype = VRT_F32, .ndim = 2, .dims = {2, 3}, .data = x, .nbytes = 24};
  assert_int_equal(vrt_session_run(s, &wrong_dim, 1, &out, &nout), VRT_ESHAPE);
  assert_non_null(strstr(vrt_last_error(), "'x'"));
  vrt_tensor wrong_type = {.name = "x", .dtype = VRT_I32, .ndim = 2, .dims = {2, 4}, .data = x, .nbytes = 32};
  assert_int_equal(vrt_session_run(s, &wrong_type, 1, &out, &nout), VRT_ETYPE);
  vrt_tensor wrong_name = {.name = "nope", .dtype = VRT_F32, .ndim = 2, .dims = {2, 4}, .data = x, .nbytes = 32};
  assert_int_equal(vrt_session_run(s, &wrong_name, 1, &out, &nout), VRT_ENOTFOUND);
  vrt_tensor too_small = {.name = "x", .dtype = VRT_F32, .ndim = 2, .dims = {4, 4}, .data = x, .nbytes = 32};
  assert_int_equal(vrt_session_run(s, &too_small, 1, &out, &nout), VRT_EINVAL);
  assert_int_equal(vrt_session_run(s, NULL, 0, &out, &nout), VRT_EINVAL);
  expect_run(s, 2); /* still usable */
  vrt_session_free(s);
  vrt_model_free(m);
}

static void test_unknown_op_named(void **state) {
  (void)state;
  vrt_graph *g = vrt_graph_new();
  int64_t d[1] = {2};
  int x = vrt_graph_add_value(g, "x", VRT_F32, 1, d);
  g->values[x].flags |= VRT_VAL_INPUT;
  int y = vrt_graph_add_value(g, "y", VRT_UNDEFINED, -1, NULL);
  vrt_graph_add_node(g, 100000, "weird_node", "Frobnicate", &x, 1, &y, 1);
  g->inputs = malloc(sizeof(int));
  g->inputs[0] = x;
  g->ninputs = 1;
  g->outputs = malloc(sizeof(int));
  g->outputs[0] = y;
  g->noutputs = 1;
  vrt_model_t *m = NULL;
  assert_int_equal(vrt__model_from_graph(&m, g, vrt_load_default_params()), VRT_EUNSUPPORTED);
  assert_null(m);
  assert_non_null(strstr(vrt_last_error(), "weird_node"));
  assert_non_null(strstr(vrt_last_error(), "Frobnicate"));
}

/* x [N, 20] (N dynamic) -> Split(axis 1) into 20 outputs -> all outputs.
 * Static shape inference cannot run (N unknown), so only the executor sees
 * the node's width: it used to keep 16 output slots on the stack. */
static vrt_graph *split_graph(int nsplit) {
  vrt_graph *g = vrt_graph_new();
  int64_t xd[2] = {-1, nsplit};
  int x = vrt_graph_add_value(g, "x", VRT_F32, 2, xd);
  g->values[x].flags |= VRT_VAL_INPUT;
  int *outs = malloc(sizeof(int) * (size_t)nsplit);
  for (int i = 0; i < nsplit; i++) {
    char name[16];
    snprintf(name, sizeof name, "y%d", i);
    outs[i] = vrt_graph_add_value(g, name, VRT_UNDEFINED, -1, NULL);
    g->values[outs[i]].flags |= VRT_VAL_OUTPUT;
  }
  vrt_graph_add_node(g, VRT_OP_Split, "split", "Split", &x, 1, outs, nsplit);
  vrt_node_set_int(&g->nodes[0], "axis", 1);
  g->inputs = malloc(sizeof(int));
  g->inputs[0] = x;
  g->ninputs = 1;
  g->outputs = outs;
  g->noutputs = nsplit;
  return g;
}

static void test_wide_split_dynamic(void **state) {
  (void)state;
  vrt_model_t *m = NULL;
  int rc = vrt__model_from_graph(&m, split_graph(20), vrt_load_default_params());
  if (rc) fprintf(stderr, "load: %s\n", vrt_last_error());
  assert_int_equal(rc, 0);
  vrt_session_t *s;
  assert_int_equal(vrt_session_create(&s, m, vrt_session_default_params()), 0);
  float x[3 * 20];
  for (int i = 0; i < 60; i++) x[i] = (float)i;
  vrt_tensor in = {.name = "x", .dtype = VRT_F32, .ndim = 2, .dims = {3, 20}, .data = x, .nbytes = sizeof x};
  for (int run = 0; run < 2; run++) { /* unplanned, then planned */
    const vrt_tensor *out;
    int nout;
    assert_int_equal(vrt_session_run(s, &in, 1, &out, &nout), 0);
    assert_int_equal(nout, 20);
    for (int k = 0; k < 20; k++) {
      assert_int_equal(out[k].dims[0], 3);
      assert_int_equal(out[k].dims[1], 1);
      for (int r = 0; r < 3; r++) assert_float_equal(((float *)out[k].data)[r], x[r * 20 + k], 0);
    }
  }
  vrt_session_free(s);
  vrt_model_free(m);
  /* one output past the limit: refused by validation, naming the node */
  rc = vrt__model_from_graph(&m, split_graph(VRT_MAX_NODE_IO + 1), vrt_load_default_params());
  assert_int_equal(rc, VRT_ELIMIT);
  assert_non_null(strstr(vrt_last_error(), "split"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plans_per_shape),
      cmocka_unit_test(test_bad_inputs),
      cmocka_unit_test(test_unknown_op_named),
      cmocka_unit_test(test_wide_split_dynamic),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
