/* Tests of the unary-family reference kernels against hand-computed values. */
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

/* y = op(x) on a 1-D float vector; compares against want with tolerance. */
static void check_f32(vrt_op op, const float *x, const float *want, int64_t len, double tol) {
  vrt_node n = op_test_node(op, 1, 1);
  vrt_tensor tx = op_test_tensor(VRT_F32, 1, &len, x);
  const vrt_tensor *in[] = {&tx};
  vrt_tensor out;
  run_ok(&n, in, 1, &out, 1);
  assert_int_equal(out.dtype, VRT_F32);
  assert_int_equal(out.ndim, 1);
  assert_int_equal(out.dims[0], len);
  double d = op_test_maxdiff(out.data, want, len);
  if (d > tol) fail_msg("%s: max diff %g > %g", vrt_op_name(op), d, tol);
  vrt__aligned_free(out.data);
  op_test_node_free(&n);
}

static void test_math(void **state) {
  (void)state;
  const float x[] = {-2.0f, -0.5f, 0.0f, 0.5f, 3.0f};
  const float relu[] = {0, 0, 0, 0.5f, 3.0f};
  check_f32(VRT_OP_Relu, x, relu, 5, 0);
  const float sig[] = {0.11920292f, 0.37754067f, 0.5f, 0.62245933f, 0.95257413f};
  check_f32(VRT_OP_Sigmoid, x, sig, 5, 1e-6);
  const float absv[] = {2, 0.5f, 0, 0.5f, 3};
  check_f32(VRT_OP_Abs, x, absv, 5, 0);
  const float neg[] = {2, 0.5f, 0, -0.5f, -3};
  check_f32(VRT_OP_Neg, x, neg, 5, 0);
  const float sign[] = {-1, -1, 0, 1, 1};
  check_f32(VRT_OP_Sign, x, sign, 5, 0);
  const float erfv[] = {-0.99532227f, -0.52049988f, 0.0f, 0.52049988f, 0.99997791f};
  check_f32(VRT_OP_Erf, x, erfv, 5, 1e-6);
  /* Gelu (erf form): 0.5 x (1 + erf(x / sqrt 2)) */
  const float gelu[] = {-0.04550026f, -0.15426877f, 0.0f, 0.34573123f, 2.99595031f};
  check_f32(VRT_OP_Gelu, x, gelu, 5, 1e-6);
  /* HardSigmoid alpha 0.2 beta 0.5, HardSwish x * clamp(x/6 + 0.5) */
  const float hsig[] = {0.1f, 0.4f, 0.5f, 0.6f, 1.0f};
  check_f32(VRT_OP_HardSigmoid, x, hsig, 5, 1e-7);
  const float hswish[] = {-0.33333334f, -0.20833333f, 0.0f, 0.29166666f, 3.0f};
  check_f32(VRT_OP_HardSwish, x, hswish, 5, 1e-6);
  const float lrelu[] = {-0.02f, -0.005f, 0, 0.5f, 3};
  check_f32(VRT_OP_LeakyRelu, x, lrelu, 5, 1e-7);
  const float rnd_in[] = {-2.5f, -0.5f, 0.5f, 1.5f, 2.4f};
  const float rnd[] = {-2, -0, 0, 2, 2}; /* half to even */
  check_f32(VRT_OP_Round, rnd_in, rnd, 5, 0);
  const float sq_in[] = {0, 1, 4, 9, 2.25f};
  const float sq[] = {0, 1, 2, 3, 1.5f};
  check_f32(VRT_OP_Sqrt, sq_in, sq, 5, 0);
  const float softplus[] = {0.12692801f, 0.47407698f, 0.69314718f, 0.97407698f, 3.04858735f};
  check_f32(VRT_OP_Softplus, x, softplus, 5, 1e-6);
}

static void test_attr_alpha(void **state) {
  (void)state;
  vrt_node n = op_test_node(VRT_OP_LeakyRelu, 1, 1);
  vrt_node_set_float(&n, "alpha", 0.2f);
  const float x[] = {-10.0f, 4.0f};
  int64_t len = 2;
  vrt_tensor tx = op_test_tensor(VRT_F32, 1, &len, x);
  const vrt_tensor *in[] = {&tx};
  vrt_tensor out;
  run_ok(&n, in, 1, &out, 1);
  float *y = out.data;
  assert_float_equal(y[0], -2.0f, 1e-6);
  assert_float_equal(y[1], 4.0f, 0);
  vrt__aligned_free(out.data);
  op_test_node_free(&n);

  n = op_test_node(VRT_OP_Gelu, 1, 1);
  vrt_node_set_string(&n, "approximate", "tanh");
  const float g[] = {1.0f, -1.0f};
  tx = op_test_tensor(VRT_F32, 1, &len, g);
  run_ok(&n, in, 1, &out, 1);
  y = out.data;
  assert_float_equal(y[0], 0.84119199f, 1e-6);
  assert_float_equal(y[1], -0.15880801f, 1e-6);
  vrt__aligned_free(out.data);
  op_test_node_free(&n);
}

static void test_int_paths(void **state) {
  (void)state;
  const int32_t x[] = {INT32_MIN, -7, 0, 5};
  int64_t len = 4;
  vrt_tensor tx = op_test_tensor(VRT_I32, 1, &len, x);
  const vrt_tensor *in[] = {&tx};
  vrt_tensor out;
  vrt_node n = op_test_node(VRT_OP_Abs, 1, 1);
  run_ok(&n, in, 1, &out, 1);
  const int32_t *y = out.data;
  assert_int_equal(out.dtype, VRT_I32);
  assert_int_equal(y[0], INT32_MIN); /* wraps, no trap */
  assert_int_equal(y[1], 7);
  assert_int_equal(y[3], 5);
  vrt__aligned_free(out.data);
  op_test_node_free(&n);

  n = op_test_node(VRT_OP_Relu, 1, 1);
  run_ok(&n, in, 1, &out, 1);
  y = out.data;
  assert_int_equal(y[0], 0);
  assert_int_equal(y[1], 0);
  assert_int_equal(y[3], 5);
  vrt__aligned_free(out.data);
  op_test_node_free(&n);

  /* Sqrt has no integer kernel: a type error naming the node */
  n = op_test_node(VRT_OP_Sqrt, 1, 1);
  assert_int_equal(vrt_node_run1(&n, in, 1, &out, 1), VRT_ETYPE);
  assert_non_null(strstr(vrt_last_error(), "test_node"));
  op_test_node_free(&n);
}

static void test_f16(void **state) {
  (void)state;
  uint16_t x[3] = {vrt__f32_to_f16(-1.5f), vrt__f32_to_f16(0.25f), vrt__f32_to_f16(2.0f)};
  int64_t len = 3;
  vrt_tensor tx = op_test_tensor(VRT_F16, 1, &len, x);
  const vrt_tensor *in[] = {&tx};
  vrt_tensor out;
  vrt_node n = op_test_node(VRT_OP_Relu, 1, 1);
  run_ok(&n, in, 1, &out, 1);
  const uint16_t *y = out.data;
  assert_int_equal(out.dtype, VRT_F16);
  assert_float_equal(vrt__f16_to_f32(y[0]), 0.0f, 0);
  assert_float_equal(vrt__f16_to_f32(y[1]), 0.25f, 0);
  assert_float_equal(vrt__f16_to_f32(y[2]), 2.0f, 0);
  vrt__aligned_free(out.data);
  op_test_node_free(&n);
}

static void test_clip(void **state) {
  (void)state;
  const float x[] = {-3, -1, 0, 2, 9};
  const float lo = -1.5f, hi = 2.0f;
  int64_t len = 5;
  vrt_tensor tx = op_test_tensor(VRT_F32, 1, &len, x), tlo = op_test_tensor(VRT_F32, 0, NULL, &lo),
             thi = op_test_tensor(VRT_F32, 0, NULL, &hi);
  vrt_node n = op_test_node(VRT_OP_Clip, 3, 1);
  const vrt_tensor *in[] = {&tx, &tlo, &thi};
  vrt_tensor out;
  run_ok(&n, in, 3, &out, 1);
  const float want[] = {-1.5f, -1, 0, 2, 2};
  assert_true(op_test_maxdiff(out.data, want, 5) == 0);
  vrt__aligned_free(out.data);
  /* min omitted (NULL input): only the upper bound applies */
  const vrt_tensor *in2[] = {&tx, NULL, &thi};
  run_ok(&n, in2, 3, &out, 1);
  const float want2[] = {-3, -1, 0, 2, 2};
  assert_true(op_test_maxdiff(out.data, want2, 5) == 0);
  vrt__aligned_free(out.data);
  op_test_node_free(&n);

  /* int8 with a min only */
  const int8_t xi[] = {-128, -5, 100};
  const int8_t loi = -10;
  int64_t l3 = 3;
  vrt_tensor txi = op_test_tensor(VRT_I8, 1, &l3, xi), tloi = op_test_tensor(VRT_I8, 0, NULL, &loi);
  n = op_test_node(VRT_OP_Clip, 2, 1);
  const vrt_tensor *in3[] = {&txi, &tloi};
  run_ok(&n, in3, 2, &out, 1);
  const int8_t *yi = out.data;
  assert_int_equal(yi[0], -10);
  assert_int_equal(yi[1], -5);
  assert_int_equal(yi[2], 100);
  vrt__aligned_free(out.data);
  /* bound of another dtype is rejected */
  const vrt_tensor *in4[] = {&txi, &tlo};
  assert_int_equal(vrt_node_run1(&n, in4, 2, &out, 1), VRT_ETYPE);
  op_test_node_free(&n);
}

static void cast_run(const void *x, vrt_dtype from, int64_t len, vrt_dtype to, vrt_tensor *out) {
  vrt_node n = op_test_node(VRT_OP_Cast, 1, 1);
  vrt_node_set_int(&n, "to", to);
  vrt_tensor tx = op_test_tensor(from, 1, &len, x);
  const vrt_tensor *in[] = {&tx};
  run_ok(&n, in, 1, out, 1);
  assert_int_equal(out->dtype, to);
  op_test_node_free(&n);
}

static void test_cast(void **state) {
  (void)state;
  vrt_tensor out;
  const float f[] = {-2.7f, 2.7f, 3e10f, NAN, -0.0f};
  cast_run(f, VRT_F32, 5, VRT_I32, &out);
  const int32_t *i = out.data;
  assert_int_equal(i[0], -2); /* truncation */
  assert_int_equal(i[1], 2);
  assert_int_equal(i[2], INT32_MAX); /* saturates */
  assert_int_equal(i[3], 0);         /* NaN -> 0 */
  vrt__aligned_free(out.data);

  cast_run(f, VRT_F32, 5, VRT_BOOL, &out);
  const uint8_t *b = out.data;
  assert_int_equal(b[0], 1);
  assert_int_equal(b[4], 0);
  vrt__aligned_free(out.data);

  const int64_t big[] = {INT64_C(9007199254740993), -1};
  cast_run(big, VRT_I64, 2, VRT_U64, &out);
  const uint64_t *u = out.data;
  assert_true(u[0] == UINT64_C(9007199254740993)); /* exact: never via double */
  assert_true(u[1] == UINT64_MAX);
  vrt__aligned_free(out.data);

  const float h[] = {1.0f / 3.0f, 65504.0f, 1e6f};
  cast_run(h, VRT_F32, 3, VRT_F16, &out);
  const uint16_t *hh = out.data;
  assert_float_equal(vrt__f16_to_f32(hh[0]), 0.333251953125f, 0);
  assert_float_equal(vrt__f16_to_f32(hh[1]), 65504.0f, 0);
  assert_true(isinf(vrt__f16_to_f32(hh[2])));
  vrt__aligned_free(out.data);

  const uint8_t bb[] = {1, 0};
  cast_run(bb, VRT_BOOL, 2, VRT_F32, &out);
  const float *ff = out.data;
  assert_float_equal(ff[0], 1.0f, 0);
  assert_float_equal(ff[1], 0.0f, 0);
  vrt__aligned_free(out.data);

  /* CastLike takes the dtype of its second input */
  vrt_node n = op_test_node(VRT_OP_CastLike, 2, 1);
  const double like = 0;
  int64_t len = 2;
  vrt_tensor tx = op_test_tensor(VRT_I32, 1, &len, i), tl = op_test_tensor(VRT_F64, 0, NULL, &like);
  const int32_t iv[] = {7, -3};
  tx.data = (void *)iv;
  const vrt_tensor *in[] = {&tx, &tl};
  run_ok(&n, in, 2, &out, 1);
  assert_int_equal(out.dtype, VRT_F64);
  assert_float_equal(((double *)out.data)[1], -3.0, 0);
  vrt__aligned_free(out.data);
  op_test_node_free(&n);
}

static void test_isinf_isnan_not(void **state) {
  (void)state;
  const float x[] = {INFINITY, -INFINITY, NAN, 1.0f};
  int64_t len = 4;
  vrt_tensor tx = op_test_tensor(VRT_F32, 1, &len, x);
  const vrt_tensor *in[] = {&tx};
  vrt_tensor out;
  vrt_node n = op_test_node(VRT_OP_IsInf, 1, 1);
  vrt_node_set_int(&n, "detect_negative", 0);
  run_ok(&n, in, 1, &out, 1);
  const uint8_t *b = out.data;
  assert_int_equal(out.dtype, VRT_BOOL);
  assert_int_equal(b[0], 1);
  assert_int_equal(b[1], 0);
  assert_int_equal(b[2], 0);
  vrt__aligned_free(out.data);
  op_test_node_free(&n);

  n = op_test_node(VRT_OP_IsNaN, 1, 1);
  run_ok(&n, in, 1, &out, 1);
  b = out.data;
  assert_int_equal(b[2], 1);
  assert_int_equal(b[3], 0);
  vrt__aligned_free(out.data);
  op_test_node_free(&n);

  const uint8_t bv[] = {1, 0};
  int64_t l2 = 2;
  vrt_tensor tb = op_test_tensor(VRT_BOOL, 1, &l2, bv);
  const vrt_tensor *inb[] = {&tb};
  n = op_test_node(VRT_OP_Not, 1, 1);
  run_ok(&n, inb, 1, &out, 1);
  b = out.data;
  assert_int_equal(b[0], 0);
  assert_int_equal(b[1], 1);
  vrt__aligned_free(out.data);
  op_test_node_free(&n);
}

static void test_identity_dropout(void **state) {
  (void)state;
  const int64_t x[] = {4, 5, 6};
  int64_t len = 3;
  vrt_tensor tx = op_test_tensor(VRT_I64, 1, &len, x);
  const vrt_tensor *in[] = {&tx};
  vrt_tensor out[2];
  vrt_node n = op_test_node(VRT_OP_Dropout, 1, 2);
  run_ok(&n, in, 1, out, 2);
  assert_int_equal(((int64_t *)out[0].data)[2], 6);
  assert_int_equal(out[1].dtype, VRT_BOOL);
  assert_int_equal(((uint8_t *)out[1].data)[1], 1);
  vrt__aligned_free(out[0].data);
  vrt__aligned_free(out[1].data);
  op_test_node_free(&n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_math),      cmocka_unit_test(test_attr_alpha),       cmocka_unit_test(test_int_paths),
      cmocka_unit_test(test_f16),       cmocka_unit_test(test_clip),             cmocka_unit_test(test_cast),
      cmocka_unit_test(test_isinf_isnan_not), cmocka_unit_test(test_identity_dropout),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
