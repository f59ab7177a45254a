/* Tests of the reduce-family reference kernels: contiguous and scattered
 * axes, keepdims, axes as input or attribute, integer paths, ArgMax/ArgMin,
 * CumSum, and errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "op_test.h"

static void run_ok(vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  int rc = vrt_node_run1(n, in, nin, out, nout);
  if (rc != 0) fail_msg("run failed (%d): %s", rc, vrt_last_error());
}

/* x: 2x3x4 with x[i][j][k] = 12i + 4j + k */
static float X[24];
static const int64_t XD[] = {2, 3, 4};

static int setup(void **state) {
  (void)state;
  for (int i = 0; i < 24; i++) X[i] = (float)i;
  return 0;
}

static vrt_tensor reduce(vrt_op op, const int64_t *axes, int na, int keep) {
  vrt_node n = op_test_node(op, na ? 2 : 1, 1);
  vrt_node_set_int(&n, "keepdims", keep);
  vrt_tensor tx = op_test_tensor(VRT_F32, 3, XD, X);
  int64_t dn = na;
  vrt_tensor ta = op_test_tensor(VRT_I64, 1, &dn, axes);
  const vrt_tensor *in[] = {&tx, &ta};
  vrt_tensor out;
  run_ok(&n, in, na ? 2 : 1, &out, 1);
  op_test_node_free(&n);
  return out;
}

static void test_mean_axes(void **state) {
  (void)state;
  const int64_t a1[] = {-1};
  vrt_tensor o = reduce(VRT_OP_ReduceMean, a1, 1, 1);
  assert_int_equal(o.ndim, 3);
  assert_int_equal(o.dims[2], 1);
  const float w1[] = {1.5f, 5.5f, 9.5f, 13.5f, 17.5f, 21.5f};
  assert_true(op_test_maxdiff(o.data, w1, 6) < 1e-6);
  vrt__aligned_free(o.data);
  /* middle axis, dropped: inner-strided accumulation */
  const int64_t a2[] = {1};
  o = reduce(VRT_OP_ReduceSum, a2, 1, 0);
  assert_int_equal(o.ndim, 2);
  const float w2[] = {12, 15, 18, 21, 48, 51, 54, 57};
  assert_true(op_test_maxdiff(o.data, w2, 8) == 0);
  vrt__aligned_free(o.data);
  /* axes 0 and 2: not contiguous, goes through the transpose */
  const int64_t a3[] = {2, 0};
  o = reduce(VRT_OP_ReduceMax, a3, 2, 0);
  assert_int_equal(o.ndim, 1);
  assert_int_equal(o.dims[0], 3);
  const float w3[] = {15, 19, 23};
  assert_true(op_test_maxdiff(o.data, w3, 3) == 0);
  vrt__aligned_free(o.data);
  /* no axes: everything */
  o = reduce(VRT_OP_ReduceSum, NULL, 0, 0);
  assert_int_equal(o.ndim, 0);
  assert_float_equal(((float *)o.data)[0], 276.0f, 0);
  vrt__aligned_free(o.data);
}

static void test_other_reductions(void **state) {
  (void)state;
  const int64_t ax[] = {2};
  vrt_tensor o = reduce(VRT_OP_ReduceL2, ax, 1, 0);
  assert_float_equal(((float *)o.data)[0], sqrtf(0 + 1 + 4 + 9), 1e-5);
  vrt__aligned_free(o.data);
  o = reduce(VRT_OP_ReduceSumSquare, ax, 1, 0);
  assert_float_equal(((float *)o.data)[1], 16 + 25 + 36 + 49, 0);
  vrt__aligned_free(o.data);
  o = reduce(VRT_OP_ReduceProd, ax, 1, 0);
  assert_float_equal(((float *)o.data)[1], 4 * 5 * 6 * 7, 0);
  vrt__aligned_free(o.data);
  o = reduce(VRT_OP_ReduceMin, ax, 1, 0);
  assert_float_equal(((float *)o.data)[5], 20, 0);
  vrt__aligned_free(o.data);
  o = reduce(VRT_OP_ReduceLogSumExp, ax, 1, 0);
  assert_float_equal(((float *)o.data)[0], logf(expf(0) + expf(1) + expf(2) + expf(3)), 1e-5);
  vrt__aligned_free(o.data);

  /* log-sum-exp of large values does not overflow */
  const float big[] = {1000, 1000};
  int64_t d = 2;
  vrt_node n = op_test_node(VRT_OP_ReduceLogSumExp, 1, 1);
  vrt_tensor tb = op_test_tensor(VRT_F32, 1, &d, big);
  const vrt_tensor *in[] = {&tb};
  run_ok(&n, in, 1, &o, 1);
  assert_float_equal(((float *)o.data)[0], 1000 + logf(2), 1e-3);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);
}

/* Reducing x over axes (as input 1) fails with VRT_EINVAL and an error
 * message containing what. */
static void expect_bad_axes(vrt_op op, const vrt_tensor *x, const int64_t *axes, int64_t na, const char *what) {
  vrt_node n = op_test_node(op, 2, 1);
  vrt_tensor ta = op_test_tensor(VRT_I64, 1, &na, axes), o;
  const vrt_tensor *in[] = {x, &ta};
  assert_int_equal(vrt_node_run1(&n, in, 2, &o, 1), VRT_EINVAL);
  assert_non_null(strstr(vrt_last_error(), what));
  op_test_node_free(&n);
}

static void test_attr_axes_noop_int(void **state) {
  (void)state;
  /* opset < 18 attribute form on int32 data */
  const int32_t xi[] = {1, 2, 3, -4, -5, -6};
  int64_t d[] = {2, 3};
  vrt_node n = op_test_node(VRT_OP_ReduceSum, 1, 1);
  const int64_t ax[] = {1};
  vrt_node_set_ints(&n, "axes", ax, 1);
  vrt_tensor tx = op_test_tensor(VRT_I32, 2, d, xi);
  const vrt_tensor *in[] = {&tx};
  vrt_tensor o;
  run_ok(&n, in, 1, &o, 1);
  assert_int_equal(o.dtype, VRT_I32);
  assert_int_equal(o.ndim, 2);
  assert_int_equal(((int32_t *)o.data)[0], 6);
  assert_int_equal(((int32_t *)o.data)[1], -15);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);

  /* empty axes with noop_with_empty_axes: identity */
  n = op_test_node(VRT_OP_ReduceMax, 2, 1);
  vrt_node_set_int(&n, "noop_with_empty_axes", 1);
  int64_t zero = 0;
  vrt_tensor te = op_test_tensor(VRT_I64, 1, &zero, NULL);
  const vrt_tensor *in2[] = {&tx, &te};
  run_ok(&n, in2, 2, &o, 1);
  assert_int_equal(o.ndim, 2);
  assert_int_equal(((int32_t *)o.data)[5], -6);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);

  /* an axis out of range names the node; the same axis twice (-1 is 1
   * here) is refused */
  const int64_t bad[] = {2}, twice[] = {1, -1};
  expect_bad_axes(VRT_OP_ReduceMean, &tx, bad, 1, "test_node");
  expect_bad_axes(VRT_OP_ReduceSum, &tx, twice, 2, "repeated");
}

static void test_argmax(void **state) {
  (void)state;
  const float x[] = {1, 5, 5, 2, 9, 0};
  int64_t d[] = {2, 3};
  vrt_tensor tx = op_test_tensor(VRT_F32, 2, d, x);
  const vrt_tensor *in[] = {&tx};
  vrt_tensor o;
  vrt_node n = op_test_node(VRT_OP_ArgMax, 1, 1);
  vrt_node_set_int(&n, "axis", -1);
  vrt_node_set_int(&n, "keepdims", 0);
  run_ok(&n, in, 1, &o, 1);
  assert_int_equal(o.dtype, VRT_I64);
  assert_int_equal(o.ndim, 1);
  assert_int_equal(((int64_t *)o.data)[0], 1); /* first of the ties */
  assert_int_equal(((int64_t *)o.data)[1], 1);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);

  n = op_test_node(VRT_OP_ArgMax, 1, 1);
  vrt_node_set_int(&n, "axis", 1);
  vrt_node_set_int(&n, "select_last_index", 1);
  run_ok(&n, in, 1, &o, 1);
  assert_int_equal(o.ndim, 2);
  assert_int_equal(((int64_t *)o.data)[0], 2); /* last of the ties */
  vrt__aligned_free(o.data);
  op_test_node_free(&n);

  n = op_test_node(VRT_OP_ArgMin, 1, 1); /* axis 0 default */
  run_ok(&n, in, 1, &o, 1);
  assert_int_equal(o.dims[0], 1);
  assert_int_equal(o.dims[1], 3);
  const int64_t *r = o.data;
  assert_true(r[0] == 0 && r[1] == 0 && r[2] == 1);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);
}

static void test_cumsum(void **state) {
  (void)state;
  const int64_t x[] = {1, 2, 3, 4, 5, 6};
  int64_t d[] = {2, 3};
  const int32_t axis = 1;
  vrt_tensor tx = op_test_tensor(VRT_I64, 2, d, x), ta = op_test_tensor(VRT_I32, 0, NULL, &axis);
  const vrt_tensor *in[] = {&tx, &ta};
  vrt_tensor o;
  vrt_node n = op_test_node(VRT_OP_CumSum, 2, 1);
  run_ok(&n, in, 2, &o, 1);
  const int64_t w1[] = {1, 3, 6, 4, 9, 15};
  for (int i = 0; i < 6; i++) assert_int_equal(((int64_t *)o.data)[i], w1[i]);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);

  n = op_test_node(VRT_OP_CumSum, 2, 1);
  vrt_node_set_int(&n, "exclusive", 1);
  vrt_node_set_int(&n, "reverse", 1);
  run_ok(&n, in, 2, &o, 1);
  const int64_t w2[] = {5, 3, 0, 11, 6, 0};
  for (int i = 0; i < 6; i++) assert_int_equal(((int64_t *)o.data)[i], w2[i]);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);
}

static void test_dtypes(void **state) {
  (void)state;
  int64_t d[] = {2, 3};
  uint16_t h[6];
  for (int i = 0; i < 6; i++) h[i] = vrt__f32_to_f16((float)i * 0.5f);
  vrt_tensor th = op_test_tensor(VRT_F16, 2, d, h);
  const vrt_tensor *in[] = {&th};
  vrt_tensor o;
  vrt_node n = op_test_node(VRT_OP_ReduceSum, 1, 1);
  vrt_node_set_int(&n, "keepdims", 0);
  run_ok(&n, in, 1, &o, 1);
  assert_int_equal(o.dtype, VRT_F16);
  assert_float_equal(vrt__f16_to_f32(((uint16_t *)o.data)[0]), 7.5f, 0);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);

  const uint8_t u[] = {200, 100, 7, 9, 250, 1};
  vrt_tensor tu = op_test_tensor(VRT_U8, 2, d, u);
  const vrt_tensor *inu[] = {&tu};
  n = op_test_node(VRT_OP_ReduceMax, 1, 1);
  const int64_t ax[] = {1};
  vrt_node_set_ints(&n, "axes", ax, 1);
  run_ok(&n, inu, 1, &o, 1);
  assert_int_equal(((uint8_t *)o.data)[0], 200);
  assert_int_equal(((uint8_t *)o.data)[1], 250);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);

  const int8_t i8[] = {-3, 4, 4, -100, -7, 0};
  vrt_tensor ti = op_test_tensor(VRT_I8, 2, d, i8);
  const vrt_tensor *ini[] = {&ti};
  n = op_test_node(VRT_OP_ArgMin, 1, 1);
  vrt_node_set_int(&n, "axis", 1);
  run_ok(&n, ini, 1, &o, 1);
  assert_int_equal(((int64_t *)o.data)[0], 0);
  assert_int_equal(((int64_t *)o.data)[1], 0);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);

  const double x64[] = {0.5, 0.25, 0.125};
  int64_t d3 = 3;
  const int64_t axis = 0;
  vrt_tensor tx = op_test_tensor(VRT_F64, 1, &d3, x64), ta = op_test_tensor(VRT_I64, 0, NULL, &axis);
  const vrt_tensor *inc[] = {&tx, &ta};
  n = op_test_node(VRT_OP_CumSum, 2, 1);
  run_ok(&n, inc, 2, &o, 1);
  assert_float_equal(((double *)o.data)[2], 0.875, 0);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mean_axes), cmocka_unit_test(test_other_reductions),
      cmocka_unit_test(test_attr_axes_noop_int), cmocka_unit_test(test_argmax), cmocka_unit_test(test_cumsum), cmocka_unit_test(test_dtypes),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
