/* Tests of the binary-family reference kernels: broadcasting, integer
 * semantics (Div truncates, FloorDiv floors, Mod fmod 0/1), comparisons,
 * logic, variadic ops, Where, and shape/type errors. */
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

/* out = op(a, b) for two tensors; the caller frees out.data */
static vrt_tensor bin(vrt_op op, vrt_tensor a, vrt_tensor b, const char *attr, int64_t v) {
  vrt_node n = op_test_node(op, 2, 1);
  if (attr) vrt_node_set_int(&n, attr, v);
  const vrt_tensor *in[] = {&a, &b};
  vrt_tensor out;
  run_ok(&n, in, 2, &out, 1);
  op_test_node_free(&n);
  return out;
}

static void test_broadcast_add(void **state) {
  (void)state;
  /* [2,3] + [3] and [2,1] + [1,3] (bidirectional) */
  const float a[] = {1, 2, 3, 4, 5, 6}, b[] = {10, 20, 30}, c[] = {100, 200};
  int64_t da[] = {2, 3}, db[] = {3}, dc[] = {2, 1}, dd[] = {1, 3};
  vrt_tensor o = bin(VRT_OP_Add, op_test_tensor(VRT_F32, 2, da, a), op_test_tensor(VRT_F32, 1, db, b), NULL, 0);
  const float w1[] = {11, 22, 33, 14, 25, 36};
  assert_int_equal(o.ndim, 2);
  assert_true(op_test_maxdiff(o.data, w1, 6) == 0);
  vrt__aligned_free(o.data);
  o = bin(VRT_OP_Add, op_test_tensor(VRT_F32, 2, dc, c), op_test_tensor(VRT_F32, 2, dd, b), NULL, 0);
  const float w2[] = {110, 120, 130, 210, 220, 230};
  assert_int_equal(o.dims[0], 2);
  assert_int_equal(o.dims[1], 3);
  assert_true(op_test_maxdiff(o.data, w2, 6) == 0);
  vrt__aligned_free(o.data);
  /* scalar on the left: 1 - x */
  const float one = 1;
  o = bin(VRT_OP_Sub, op_test_tensor(VRT_F32, 0, NULL, &one), op_test_tensor(VRT_F32, 1, db, b), NULL, 0);
  const float w3[] = {-9, -19, -29};
  assert_true(op_test_maxdiff(o.data, w3, 3) == 0);
  vrt__aligned_free(o.data);
  /* [2,3,1] * [1,1,2]: an outer product over a middle broadcast */
  const float p[] = {1, 2, 3, 4, 5, 6}, q[] = {1, -1};
  int64_t dp[] = {2, 3, 1}, dq[] = {1, 1, 2};
  o = bin(VRT_OP_Mul, op_test_tensor(VRT_F32, 3, dp, p), op_test_tensor(VRT_F32, 3, dq, q), NULL, 0);
  const float w4[] = {1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6, -6};
  assert_int_equal(o.dims[2], 2);
  assert_true(op_test_maxdiff(o.data, w4, 12) == 0);
  vrt__aligned_free(o.data);
}

static void test_shape_errors(void **state) {
  (void)state;
  const float a[6] = {0}, b[4] = {0};
  int64_t da[] = {2, 3}, db[] = {4};
  vrt_tensor ta = op_test_tensor(VRT_F32, 2, da, a), tb = op_test_tensor(VRT_F32, 1, db, b);
  vrt_node n = op_test_node(VRT_OP_Add, 2, 1);
  const vrt_tensor *in[] = {&ta, &tb};
  vrt_tensor out;
  assert_int_equal(vrt_node_run1(&n, in, 2, &out, 1), VRT_ESHAPE);
  assert_non_null(strstr(vrt_last_error(), "test_node"));
  /* mixed dtypes are a type error */
  const int32_t ib[3] = {0};
  int64_t d3[] = {3};
  vrt_tensor tib = op_test_tensor(VRT_I32, 1, d3, ib);
  const vrt_tensor *in2[] = {&ta, &tib};
  assert_int_equal(vrt_node_run1(&n, in2, 2, &out, 1), VRT_ETYPE);
  /* a third input to a two-input op is refused, never folded in */
  const vrt_tensor *in3[] = {&ta, &ta, &ta};
  assert_int_equal(vrt_node_run1(&n, in3, 3, &out, 1), VRT_EGRAPH);
  op_test_node_free(&n);
}

static void test_int_division(void **state) {
  (void)state;
  const int32_t a[] = {7, -7, 7, -7, 5, INT32_MIN}, b[] = {2, 2, -2, -2, 0, -1};
  int64_t d[] = {6};
  vrt_tensor ta = op_test_tensor(VRT_I32, 1, d, a), tb = op_test_tensor(VRT_I32, 1, d, b);
  vrt_tensor o = bin(VRT_OP_Div, ta, tb, NULL, 0);
  const int32_t *y = o.data;
  /* truncation; x/0 -> 0 and INT_MIN/-1 wrap instead of trapping */
  int32_t want_div[] = {3, -3, -3, 3, 0, INT32_MIN};
  for (int i = 0; i < 6; i++) assert_int_equal(y[i], want_div[i]);
  vrt__aligned_free(o.data);
  o = bin(VRT_OP_FloorDiv, ta, tb, NULL, 0);
  y = o.data;
  int32_t want_fd[] = {3, -4, -4, 3, 0, INT32_MIN};
  for (int i = 0; i < 6; i++) assert_int_equal(y[i], want_fd[i]);
  vrt__aligned_free(o.data);
  o = bin(VRT_OP_Mod, ta, tb, NULL, 0); /* fmod=0: sign of the divisor */
  y = o.data;
  int32_t want_mod[] = {1, 1, -1, -1, 0, 0};
  for (int i = 0; i < 6; i++) assert_int_equal(y[i], want_mod[i]);
  vrt__aligned_free(o.data);
  o = bin(VRT_OP_Mod, ta, tb, "fmod", 1); /* fmod=1: sign of the dividend */
  y = o.data;
  int32_t want_fmod[] = {1, -1, 1, -1, 0, 0};
  for (int i = 0; i < 6; i++) assert_int_equal(y[i], want_fmod[i]);
  vrt__aligned_free(o.data);
  o = bin(VRT_OP_FloorMod, ta, tb, NULL, 0);
  y = o.data;
  for (int i = 0; i < 6; i++) assert_int_equal(y[i], want_mod[i]);
  vrt__aligned_free(o.data);
}

static void test_float_floor_ops(void **state) {
  (void)state;
  const float a[] = {7.5f, -7.5f, 5.0f}, b[] = {2, 2, -3};
  int64_t d[] = {3};
  vrt_tensor ta = op_test_tensor(VRT_F32, 1, d, a), tb = op_test_tensor(VRT_F32, 1, d, b);
  vrt_tensor o = bin(VRT_OP_FloorMod, ta, tb, NULL, 0);
  const float w[] = {1.5f, 0.5f, -1.0f};
  assert_true(op_test_maxdiff(o.data, w, 3) < 1e-6);
  vrt__aligned_free(o.data);
  o = bin(VRT_OP_FloorDiv, ta, tb, NULL, 0);
  const float w2[] = {3, -4, -2};
  assert_true(op_test_maxdiff(o.data, w2, 3) == 0);
  vrt__aligned_free(o.data);
  o = bin(VRT_OP_Mod, ta, tb, "fmod", 1);
  const float w3[] = {1.5f, -1.5f, 2.0f};
  assert_true(op_test_maxdiff(o.data, w3, 3) < 1e-6);
  vrt__aligned_free(o.data);
}

static void test_pow_mixed(void **state) {
  (void)state;
  const float x[] = {2, 3, 4};
  const int64_t e2 = 2;
  int64_t d[] = {3};
  vrt_tensor o = bin(VRT_OP_Pow, op_test_tensor(VRT_F32, 1, d, x), op_test_tensor(VRT_I64, 0, NULL, &e2), NULL, 0);
  assert_int_equal(o.dtype, VRT_F32);
  const float w[] = {4, 9, 16};
  assert_true(op_test_maxdiff(o.data, w, 3) == 0);
  vrt__aligned_free(o.data);
  const int64_t xi[] = {1, 2, 3};
  const float ef[] = {4, 5, 6};
  o = bin(VRT_OP_Pow, op_test_tensor(VRT_I64, 1, d, xi), op_test_tensor(VRT_F32, 1, d, ef), NULL, 0);
  assert_int_equal(o.dtype, VRT_I64);
  const int64_t *y = o.data;
  assert_int_equal(y[0], 1);
  assert_int_equal(y[1], 32);
  assert_int_equal(y[2], 729);
  vrt__aligned_free(o.data);
}

static void test_compare_logic(void **state) {
  (void)state;
  const int64_t a[] = {1, 5, 3}, b = 3;
  int64_t d[] = {3};
  vrt_tensor ta = op_test_tensor(VRT_I64, 1, d, a), tb = op_test_tensor(VRT_I64, 0, NULL, &b);
  vrt_tensor o = bin(VRT_OP_Equal, ta, tb, NULL, 0);
  const uint8_t *y = o.data;
  assert_int_equal(o.dtype, VRT_BOOL);
  assert_int_equal(y[0], 0);
  assert_int_equal(y[2], 1);
  vrt__aligned_free(o.data);
  o = bin(VRT_OP_Less, ta, tb, NULL, 0);
  y = o.data;
  assert_int_equal(y[0], 1);
  assert_int_equal(y[1], 0);
  assert_int_equal(y[2], 0);
  vrt__aligned_free(o.data);
  o = bin(VRT_OP_GreaterOrEqual, ta, tb, NULL, 0);
  y = o.data;
  assert_int_equal(y[0], 0);
  assert_int_equal(y[1], 1);
  assert_int_equal(y[2], 1);
  vrt__aligned_free(o.data);

  const uint8_t p[] = {1, 1, 0, 0}, q[] = {1, 0, 1, 0};
  int64_t d4[] = {4};
  vrt_tensor tp = op_test_tensor(VRT_BOOL, 1, d4, p), tq = op_test_tensor(VRT_BOOL, 1, d4, q);
  o = bin(VRT_OP_And, tp, tq, NULL, 0);
  y = o.data;
  assert_true(y[0] == 1 && y[1] == 0 && y[2] == 0 && y[3] == 0);
  vrt__aligned_free(o.data);
  o = bin(VRT_OP_Or, tp, tq, NULL, 0);
  y = o.data;
  assert_true(y[0] == 1 && y[1] == 1 && y[2] == 1 && y[3] == 0);
  vrt__aligned_free(o.data);
  o = bin(VRT_OP_Xor, tp, tq, NULL, 0);
  y = o.data;
  assert_true(y[0] == 0 && y[1] == 1 && y[2] == 1 && y[3] == 0);
  vrt__aligned_free(o.data);
  o = bin(VRT_OP_Equal, tp, tq, NULL, 0);
  y = o.data;
  assert_true(y[0] == 1 && y[1] == 0 && y[2] == 0 && y[3] == 1);
  vrt__aligned_free(o.data);
}

static void test_variadic(void **state) {
  (void)state;
  const float a[] = {1, 6, 3}, b[] = {4, 2, 9}, c = 5;
  int64_t d[] = {3};
  vrt_tensor ta = op_test_tensor(VRT_F32, 1, d, a), tb = op_test_tensor(VRT_F32, 1, d, b),
             tc = op_test_tensor(VRT_F32, 0, NULL, &c);
  const vrt_tensor *in[] = {&ta, &tb, &tc};
  vrt_tensor o;
  vrt_node n = op_test_node(VRT_OP_Max, 3, 1);
  run_ok(&n, in, 3, &o, 1);
  const float wmax[] = {5, 6, 9};
  assert_true(op_test_maxdiff(o.data, wmax, 3) == 0);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);
  n = op_test_node(VRT_OP_Mean, 3, 1);
  run_ok(&n, in, 3, &o, 1);
  const float wmean[] = {10.0f / 3, 13.0f / 3, 17.0f / 3};
  assert_true(op_test_maxdiff(o.data, wmean, 3) < 1e-6);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);
  n = op_test_node(VRT_OP_Sum, 1, 1); /* a single input is a copy */
  run_ok(&n, in, 1, &o, 1);
  assert_true(op_test_maxdiff(o.data, a, 3) == 0);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);
  /* Min with a NaN propagates it */
  const float nn[] = {NAN, 0, 0};
  vrt_tensor tn = op_test_tensor(VRT_F32, 1, d, nn);
  o = bin(VRT_OP_Min, tn, ta, NULL, 0);
  assert_true(isnan(((float *)o.data)[0]));
  assert_float_equal(((float *)o.data)[1], 0, 0);
  vrt__aligned_free(o.data);
}

static void test_where_prelu(void **state) {
  (void)state;
  const uint8_t c[] = {1, 0};
  const int64_t x[] = {1, 2, 3, 4}, y = -1;
  int64_t dc[] = {2}, dx[] = {2, 2};
  vrt_tensor tc = op_test_tensor(VRT_BOOL, 1, dc, c), tx = op_test_tensor(VRT_I64, 2, dx, x),
             ty = op_test_tensor(VRT_I64, 0, NULL, &y);
  vrt_node n = op_test_node(VRT_OP_Where, 3, 1);
  const vrt_tensor *in[] = {&tc, &tx, &ty};
  vrt_tensor o;
  run_ok(&n, in, 3, &o, 1);
  const int64_t *r = o.data;
  assert_int_equal(o.dtype, VRT_I64);
  assert_true(r[0] == 1 && r[1] == -1 && r[2] == 3 && r[3] == -1);
  vrt__aligned_free(o.data);
  /* condition must be bool */
  const vrt_tensor *bad[] = {&tx, &tx, &ty};
  assert_int_equal(vrt_node_run1(&n, bad, 3, &o, 1), VRT_ETYPE);
  /* a required input omitted in the middle (malformed graph) is an error, not a crash */
  const vrt_tensor *hole[] = {&tc, NULL, &ty};
  assert_int_equal(vrt_node_run1(&n, hole, 3, &o, 1), VRT_EGRAPH);
  assert_non_null(strstr(vrt_last_error(), "missing"));
  op_test_node_free(&n);

  const float px[] = {-2, 3, -4, 5}, slope[] = {0.5f, 0.25f};
  int64_t dpx[] = {2, 2}, ds[] = {2};
  o = bin(VRT_OP_PRelu, op_test_tensor(VRT_F32, 2, dpx, px), op_test_tensor(VRT_F32, 1, ds, slope), NULL, 0);
  const float w[] = {-1, 3, -2, 5};
  assert_true(op_test_maxdiff(o.data, w, 4) == 0);
  vrt__aligned_free(o.data);
}

static void test_uint8_bitshift(void **state) {
  (void)state;
  const uint8_t a[] = {250, 10}, b[] = {10, 20};
  int64_t d[] = {2};
  vrt_tensor o = bin(VRT_OP_Add, op_test_tensor(VRT_U8, 1, d, a), op_test_tensor(VRT_U8, 1, d, b), NULL, 0);
  assert_int_equal(((uint8_t *)o.data)[0], 4); /* wraps */
  assert_int_equal(((uint8_t *)o.data)[1], 30);
  vrt__aligned_free(o.data);
  const uint16_t s[] = {0xffff, 1}, k[] = {15, 16};
  vrt_node n = op_test_node(VRT_OP_BitShift, 2, 1);
  vrt_node_set_string(&n, "direction", "LEFT");
  vrt_tensor ts = op_test_tensor(VRT_U16, 1, d, s), tk = op_test_tensor(VRT_U16, 1, d, k);
  const vrt_tensor *in[] = {&ts, &tk};
  run_ok(&n, in, 2, &o, 1);
  assert_int_equal(((uint16_t *)o.data)[0], 0x8000);
  assert_int_equal(((uint16_t *)o.data)[1], 0); /* shift >= width gives 0 */
  vrt__aligned_free(o.data);
  op_test_node_free(&n);
}

/* the same broadcast add over every numeric dtype, plus f16 comparisons */
static void test_dtypes(void **state) {
  (void)state;
  int64_t d2[] = {2, 1}, d3[] = {3};
  const double a64[] = {1.5, -2}, b64[] = {10, 20, 30};
  vrt_tensor o = bin(VRT_OP_Add, op_test_tensor(VRT_F64, 2, d2, a64), op_test_tensor(VRT_F64, 1, d3, b64), NULL, 0);
  assert_int_equal(o.dtype, VRT_F64);
  assert_float_equal(((double *)o.data)[2], 31.5, 0);
  assert_float_equal(((double *)o.data)[3], 8, 0);
  vrt__aligned_free(o.data);
  const int8_t a8[] = {127, -128}, b8[] = {1, 2, 3};
  o = bin(VRT_OP_Add, op_test_tensor(VRT_I8, 2, d2, a8), op_test_tensor(VRT_I8, 1, d3, b8), NULL, 0);
  assert_int_equal(((int8_t *)o.data)[0], -128); /* wraps */
  assert_int_equal(((int8_t *)o.data)[5], -125);
  vrt__aligned_free(o.data);
  const uint64_t au[] = {UINT64_MAX, 5}, bu[] = {1, 2, 3};
  o = bin(VRT_OP_Sub, op_test_tensor(VRT_U64, 2, d2, au), op_test_tensor(VRT_U64, 1, d3, bu), NULL, 0);
  assert_true(((uint64_t *)o.data)[0] == UINT64_MAX - 1);
  assert_true(((uint64_t *)o.data)[5] == 2);
  vrt__aligned_free(o.data);
  const uint16_t ah[] = {vrt__f32_to_f16(0.5f), vrt__f32_to_f16(-1.0f)};
  const uint16_t bh[] = {vrt__f32_to_f16(0.25f), vrt__f32_to_f16(1.0f), vrt__f32_to_f16(-2.0f)};
  o = bin(VRT_OP_Mul, op_test_tensor(VRT_F16, 2, d2, ah), op_test_tensor(VRT_F16, 1, d3, bh), NULL, 0);
  assert_int_equal(o.dtype, VRT_F16);
  assert_float_equal(vrt__f16_to_f32(((uint16_t *)o.data)[0]), 0.125f, 0);
  assert_float_equal(vrt__f16_to_f32(((uint16_t *)o.data)[5]), 2.0f, 0);
  vrt__aligned_free(o.data);
  o = bin(VRT_OP_Less, op_test_tensor(VRT_F16, 2, d2, ah), op_test_tensor(VRT_F16, 1, d3, bh), NULL, 0);
  const uint8_t *y = o.data;
  assert_int_equal(o.dtype, VRT_BOOL);
  assert_true(y[0] == 0 && y[1] == 1 && y[2] == 0 && y[3] == 1 && y[4] == 1 && y[5] == 0);
  vrt__aligned_free(o.data);
  const int64_t ai[] = {-5, 7}, bi[] = {0, 6, 8};
  o = bin(VRT_OP_Max, op_test_tensor(VRT_I64, 2, d2, ai), op_test_tensor(VRT_I64, 1, d3, bi), NULL, 0);
  const int64_t wmax[] = {0, 6, 8, 7, 7, 8};
  for (int i = 0; i < 6; i++) assert_int_equal(((int64_t *)o.data)[i], wmax[i]);
  vrt__aligned_free(o.data);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_broadcast_add), cmocka_unit_test(test_shape_errors),  cmocka_unit_test(test_int_division),
      cmocka_unit_test(test_float_floor_ops), cmocka_unit_test(test_pow_mixed),   cmocka_unit_test(test_compare_logic),
      cmocka_unit_test(test_variadic),      cmocka_unit_test(test_where_prelu),   cmocka_unit_test(test_uint8_bitshift), cmocka_unit_test(test_dtypes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
