/* ConvInteger, MatMulInteger, QLinearConv, QLinearMatMul: zero points (per
 * tensor, per row/column/channel), requantisation with rounding and
 * saturation, and errors. */
#include "test_nn_util.h"

static void test_convinteger(void **state) {
  const uint8_t x[9] = {2, 3, 4, 5, 6, 7, 8, 9, 10}; /* minus zero point 1: 1..9 */
  const uint8_t w[8] = {1, 1, 1, 1, 2, 2, 2, 2};     /* two 2x2 filters */
  const uint8_t xzp = 1, wzp[2] = {0, 1};            /* filter 1 becomes all ones */
  vrt_node n = op_test_node(VRT_OP_ConvInteger, 4, 1);
  vrt_tensor in[4] = {NN_T(VRT_U8, 4, NN_DIMS(1, 1, 3, 3), x), NN_T(VRT_U8, 4, NN_DIMS(2, 1, 2, 2), w),
                      NN_T(VRT_U8, 0, NULL, &xzp), NN_T(VRT_U8, 1, NN_DIMS(2), wzp)},
             out;
  assert_int_equal(nn_run(&n, in, 4, &out, 1), 0);
  assert_int_equal(out.dtype, VRT_I32);
  const int32_t want[8] = {12, 16, 24, 28, 12, 16, 24, 28}; /* window sums of 1..9 */
  assert_memory_equal(out.data, want, sizeof want);
  nn_out_free(&out, 1);
  in[2] = NN_T(VRT_I8, 0, NULL, &xzp); /* zero point of the wrong type */
  assert_int_equal(nn_run(&n, in, 4, &out, 1), VRT_ETYPE);
  op_test_node_free(&n);
}

static void test_matmulinteger(void **state) {
  const int8_t a[4] = {1, 2, 3, 4}, b[4] = {-1, 2, 3, -4};
  const int8_t azp[2] = {1, 0}; /* per row: row 0 becomes {0, 1} */
  vrt_node n = op_test_node(VRT_OP_MatMulInteger, 3, 1);
  vrt_tensor in[3] = {NN_T(VRT_I8, 2, NN_DIMS(2, 2), a), NN_T(VRT_I8, 2, NN_DIMS(2, 2), b),
                      NN_T(VRT_I8, 1, NN_DIMS(2), azp)},
             out;
  assert_int_equal(nn_run(&n, in, 3, &out, 1), 0);
  const int32_t want[4] = {3, -4, 9, -10};
  assert_memory_equal(out.data, want, sizeof want);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
}

static void test_qlinearmatmul(void **state) {
  /* real a = (q - 10) * 0.5, b = q * 0.25; y = real / 0.125 + 3, saturated */
  const uint8_t a[2] = {14, 12}, b[2] = {4, 200};
  const float as = 0.5f, bs = 0.25f, ys = 0.125f;
  const uint8_t azp = 10, bzp = 0, yzp = 3;
  vrt_node n = op_test_node(VRT_OP_QLinearMatMul, 8, 1);
  vrt_tensor in[8] = {NN_T(VRT_U8, 2, NN_DIMS(1, 2), a),  NN_T(VRT_F32, 0, NULL, &as), NN_T(VRT_U8, 0, NULL, &azp),
                      NN_T(VRT_U8, 2, NN_DIMS(2, 1), b),  NN_T(VRT_F32, 0, NULL, &bs), NN_T(VRT_U8, 0, NULL, &bzp),
                      NN_T(VRT_F32, 0, NULL, &ys),        NN_T(VRT_U8, 0, NULL, &yzp)},
             out;
  assert_int_equal(nn_run(&n, in, 8, &out, 1), 0);
  assert_int_equal(out.dtype, VRT_U8);
  /* acc = 4*4 + 2*200 = 416; 416 * 0.125 / 0.125 = 416 + 3 -> saturates at 255 */
  assert_int_equal(((const uint8_t *)out.data)[0], 255);
  nn_out_free(&out, 1);
  const uint8_t b2[2] = {1, 1}; /* acc = 6 -> 6 * 1 + 3 = 9 */
  in[3] = NN_T(VRT_U8, 2, NN_DIMS(2, 1), b2);
  assert_int_equal(nn_run(&n, in, 8, &out, 1), 0);
  assert_int_equal(((const uint8_t *)out.data)[0], 9);
  nn_out_free(&out, 1);
  in[1] = (vrt_tensor){0}; /* a scale missing */
  assert_int_equal(nn_run(&n, in, 8, &out, 1), VRT_EINVAL);
  op_test_node_free(&n);
}

static void test_qlinearconv(void **state) {
  /* 1x1 conv, 2 output channels with per-channel weight scales and a bias */
  const int8_t x[2] = {10, -6};
  const float xs = 0.5f, ys = 1.0f, ws[2] = {1.0f, 0.25f};
  const int8_t xzp = 0, wzp = 0, yzp = -1, w[2] = {2, 3};
  const int32_t bias[2] = {1, -2};
  vrt_node n = op_test_node(VRT_OP_QLinearConv, 9, 1);
  vrt_tensor in[9] = {NN_T(VRT_I8, 4, NN_DIMS(1, 1, 1, 2), x), NN_T(VRT_F32, 0, NULL, &xs),
                      NN_T(VRT_I8, 0, NULL, &xzp),            NN_T(VRT_I8, 4, NN_DIMS(2, 1, 1, 1), w),
                      NN_T(VRT_F32, 1, NN_DIMS(2), ws),       NN_T(VRT_I8, 0, NULL, &wzp),
                      NN_T(VRT_F32, 0, NULL, &ys),            NN_T(VRT_I8, 0, NULL, &yzp),
                      NN_T(VRT_I32, 1, NN_DIMS(2), bias)},
             out;
  assert_int_equal(nn_run(&n, in, 9, &out, 1), 0);
  assert_int_equal(out.dtype, VRT_I8);
  /* ch0: (2*x + 1) * 0.5 -> 10.5 -> 10 (half to even) - 1 = 9 and -5.5 -> -6 - 1 = -7
   * ch1: (3*x - 2) * 0.125 - 1 -> 3.5 -> 4 - 1 = 3 and -2.5 -> -2 - 1 = -3 */
  const int8_t want[4] = {9, -7, 3, -3};
  assert_memory_equal(out.data, want, sizeof want);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_convinteger),
      cmocka_unit_test(test_matmulinteger),
      cmocka_unit_test(test_qlinearmatmul),
      cmocka_unit_test(test_qlinearconv),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
