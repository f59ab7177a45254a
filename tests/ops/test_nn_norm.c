/* Softmax family and normalisations: hand-computed values, axes (negative
 * too), optional outputs and error cases. */
#include "test_nn_util.h"

static void test_softmax_axes(void **state) {
  const float x[6] = {1, 2, 3, 1, 1, 1}; /* [2,3] */
  vrt_tensor in = NN_T(VRT_F32, 2, NN_DIMS(2, 3), x), out;
  vrt_node n = op_test_node(VRT_OP_Softmax, 1, 1); /* default axis -1 */
  assert_int_equal(nn_run(&n, &in, 1, &out, 1), 0);
  nn_expect_f32(&out, (const float[]){0.09003057f, 0.24472847f, 0.66524096f, 1 / 3.f, 1 / 3.f, 1 / 3.f}, 6, 1e-6);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
  n = op_test_node(VRT_OP_Softmax, 1, 1);
  vrt_node_set_int(&n, "axis", 0); /* opset 13: only axis 0, not flattened */
  assert_int_equal(nn_run(&n, &in, 1, &out, 1), 0);
  float e1 = 1 / (1 + expf(-1)), e2 = 1 / (1 + expf(-2));
  nn_expect_f32(&out, (const float[]){0.5f, e1, e2, 0.5f, 1 - e1, 1 - e2}, 6, 1e-6);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
  n = op_test_node(VRT_OP_LogSoftmax, 1, 1);
  vrt_node_set_int(&n, "axis", -2);
  assert_int_equal(nn_run(&n, &in, 1, &out, 1), 0);
  nn_expect_f32(&out, (const float[]){logf(0.5f), logf(e1), logf(e2), logf(0.5f), logf(1 - e1), logf(1 - e2)}, 6,
                1e-5);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
  /* large inputs stay finite */
  const float big[3] = {1000, 1001, 1002};
  vrt_tensor inb = NN_T(VRT_F32, 1, NN_DIMS(3), big);
  n = op_test_node(VRT_OP_Softmax, 1, 1);
  assert_int_equal(nn_run(&n, &inb, 1, &out, 1), 0);
  nn_expect_f32(&out, (const float[]){0.09003057f, 0.24472847f, 0.66524096f}, 3, 1e-6);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
  /* bad axis */
  n = op_test_node(VRT_OP_Softmax, 1, 1);
  vrt_node_set_int(&n, "axis", 2);
  assert_int_equal(nn_run(&n, &in, 1, &out, 1), VRT_EINVAL);
  assert_non_null(strstr(vrt_last_error(), "axis"));
  op_test_node_free(&n);
}

static void test_hardmax_ties(void **state) {
  const float x[6] = {3, 1, 3, 0, 5, 5};
  vrt_tensor in = NN_T(VRT_F32, 2, NN_DIMS(2, 3), x), out;
  vrt_node n = op_test_node(VRT_OP_Hardmax, 1, 1);
  assert_int_equal(nn_run(&n, &in, 1, &out, 1), 0);
  nn_expect_f32(&out, (const float[]){1, 0, 0, 0, 1, 0}, 6, 0); /* first max wins */
  nn_out_free(&out, 1);
  op_test_node_free(&n);
}

static void test_layernorm(void **state) {
  const float x[6] = {1, 2, 3, 2, 4, 6};
  const float scale[3] = {1, 2, 3}, bias[3] = {0, 1, 0};
  vrt_node n = op_test_node(VRT_OP_LayerNormalization, 3, 3);
  vrt_node_set_float(&n, "epsilon", 0);
  vrt_tensor in[3] = {NN_T(VRT_F32, 2, NN_DIMS(2, 3), x), NN_T(VRT_F32, 1, NN_DIMS(3), scale),
                      NN_T(VRT_F32, 1, NN_DIMS(3), bias)},
             out[3];
  assert_int_equal(nn_run(&n, in, 3, out, 3), 0);
  float k = sqrtf(1.5f); /* 1/std of {1,2,3} */
  nn_expect_f32(&out[0], (const float[]){-k, 1, 3 * k, -k, 1, 3 * k}, 6, 1e-5);
  assert_int_equal(out[1].ndim, 2);
  assert_int_equal(out[1].dims[1], 1);
  nn_expect_f32(&out[1], (const float[]){2, 4}, 2, 1e-6);
  nn_expect_f32(&out[2], (const float[]){k, k / 2}, 2, 1e-5);
  nn_out_free(out, 3);
  op_test_node_free(&n);
  /* axis 0 over everything, scale broadcast from [1,3] */
  n = op_test_node(VRT_OP_LayerNormalization, 2, 1);
  vrt_node_set_int(&n, "axis", -2);
  vrt_node_set_float(&n, "epsilon", 0);
  vrt_tensor in2[2] = {NN_T(VRT_F32, 2, NN_DIMS(2, 3), x), NN_T(VRT_F32, 2, NN_DIMS(1, 3), scale)};
  assert_int_equal(nn_run(&n, in2, 2, out, 1), 0);
  /* mean 3, var (4+1+0+1+1+9)/6 = 16/6 */
  float s = 1 / sqrtf(16.f / 6);
  nn_expect_f32(&out[0], (const float[]){-2 * s, -2 * s, 0, -s, 2 * s, 9 * s}, 6, 1e-5);
  nn_out_free(out, 1);
  /* scale that does not broadcast */
  vrt_tensor in3[2] = {NN_T(VRT_F32, 2, NN_DIMS(2, 3), x), NN_T(VRT_F32, 1, NN_DIMS(2), scale)};
  assert_int_equal(nn_run(&n, in3, 2, out, 1), VRT_ESHAPE);
  op_test_node_free(&n);
}

static void test_batchnorm(void **state) {
  const float x[8] = {1, 2, 3, 4, 10, 20, 30, 40}; /* [1,2,2,2] */
  const float scale[2] = {1, 2}, bias[2] = {0, 1}, mean[2] = {2, 20}, var[2] = {4, 100};
  vrt_node n = op_test_node(VRT_OP_BatchNormalization, 5, 1);
  vrt_node_set_float(&n, "epsilon", 0);
  vrt_tensor in[5] = {NN_T(VRT_F32, 4, NN_DIMS(1, 2, 2, 2), x), NN_T(VRT_F32, 1, NN_DIMS(2), scale),
                      NN_T(VRT_F32, 1, NN_DIMS(2), bias), NN_T(VRT_F32, 1, NN_DIMS(2), mean),
                      NN_T(VRT_F32, 1, NN_DIMS(2), var)},
             out[3];
  assert_int_equal(nn_run(&n, in, 5, out, 1), 0);
  nn_expect_f32(&out[0], (const float[]){-0.5f, 0, 0.5f, 1, -1, 1, 3, 5}, 8, 1e-6);
  nn_out_free(out, 1);
  op_test_node_free(&n);
  /* training mode: batch statistics and running averages */
  n = op_test_node(VRT_OP_BatchNormalization, 5, 3);
  vrt_node_set_float(&n, "epsilon", 0);
  vrt_node_set_int(&n, "training_mode", 1);
  vrt_node_set_float(&n, "momentum", 0.5f);
  assert_int_equal(nn_run(&n, in, 5, out, 3), 0);
  float k = 1 / sqrtf(1.25f);
  float k2 = 2 / sqrtf(125);
  nn_expect_f32(&out[0],
                (const float[]){-1.5f * k, -0.5f * k, 0.5f * k, 1.5f * k, 1 - 15 * k2, 1 - 5 * k2, 1 + 5 * k2,
                                1 + 15 * k2},
                8, 1e-5);
  nn_expect_f32(&out[1], (const float[]){2.25f, 22.5f}, 2, 1e-5);
  nn_expect_f32(&out[2], (const float[]){2.625f, 112.5f}, 2, 1e-4);
  nn_out_free(out, 3);
  op_test_node_free(&n);
  /* wrong parameter length */
  n = op_test_node(VRT_OP_BatchNormalization, 5, 1);
  in[3] = NN_T(VRT_F32, 1, NN_DIMS(1), mean);
  assert_int_equal(nn_run(&n, in, 5, out, 1), VRT_ESHAPE);
  op_test_node_free(&n);
}

static void test_instance_group_norm(void **state) {
  const float x[8] = {1, 2, 3, 4, 10, 10, 10, 10}; /* [1,2,4] */
  const float scale[2] = {2, 1}, bias[2] = {1, 5};
  vrt_node n = op_test_node(VRT_OP_InstanceNormalization, 3, 1);
  vrt_node_set_float(&n, "epsilon", 0);
  vrt_tensor in[3] = {NN_T(VRT_F32, 3, NN_DIMS(1, 2, 4), x), NN_T(VRT_F32, 1, NN_DIMS(2), scale),
                      NN_T(VRT_F32, 1, NN_DIMS(2), bias)},
             out;
  /* channel 1 is constant: var 0 with eps 0 gives nan; use eps 1e-5 */
  vrt_node_set_float(&n, "epsilon", 1e-5f);
  assert_int_equal(nn_run(&n, in, 3, &out, 1), 0);
  float k = 2 / sqrtf(1.25f + 1e-5f);
  nn_expect_f32(&out, (const float[]){1 - 1.5f * k, 1 - 0.5f * k, 1 + 0.5f * k, 1 + 1.5f * k, 5, 5, 5, 5}, 8, 1e-4);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
  /* GroupNormalization with one group over both channels, per-channel affine */
  n = op_test_node(VRT_OP_GroupNormalization, 3, 1);
  vrt_node_set_int(&n, "num_groups", 1);
  vrt_node_set_float(&n, "epsilon", 0);
  assert_int_equal(nn_run(&n, in, 3, &out, 1), 0);
  /* mean 6.25, var: sum sq dev = 27.5625+18.0625+10.5625+5.0625+4*14.0625 = 117.5 / 8 */
  float inv = 1 / sqrtf(117.5f / 8);
  nn_expect_f32(&out,
                (const float[]){1 + 2 * (1 - 6.25f) * inv, 1 + 2 * (2 - 6.25f) * inv, 1 + 2 * (3 - 6.25f) * inv,
                                1 + 2 * (4 - 6.25f) * inv, 5 + 3.75f * inv, 5 + 3.75f * inv, 5 + 3.75f * inv,
                                5 + 3.75f * inv},
                8, 1e-4);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
  /* num_groups that does not divide C */
  n = op_test_node(VRT_OP_GroupNormalization, 3, 1);
  vrt_node_set_int(&n, "num_groups", 3);
  assert_int_equal(nn_run(&n, in, 3, &out, 1), VRT_EINVAL);
  op_test_node_free(&n);
}

static void test_lpnorm(void **state) {
  const float x[4] = {3, 4, -1, 1};
  vrt_tensor in = NN_T(VRT_F32, 2, NN_DIMS(2, 2), x), out;
  vrt_node n = op_test_node(VRT_OP_LpNormalization, 1, 1);
  assert_int_equal(nn_run(&n, &in, 1, &out, 1), 0);
  nn_expect_f32(&out, (const float[]){0.6f, 0.8f, -0.70710678f, 0.70710678f}, 4, 1e-6);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
  n = op_test_node(VRT_OP_LpNormalization, 1, 1);
  vrt_node_set_int(&n, "p", 1);
  vrt_node_set_int(&n, "axis", 0);
  assert_int_equal(nn_run(&n, &in, 1, &out, 1), 0);
  nn_expect_f32(&out, (const float[]){0.75f, 0.8f, -0.25f, 0.2f}, 4, 1e-6);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
  n = op_test_node(VRT_OP_LpNormalization, 1, 1);
  vrt_node_set_int(&n, "p", 3);
  assert_int_equal(nn_run(&n, &in, 1, &out, 1), VRT_EINVAL);
  op_test_node_free(&n);
}

static void test_mvn(void **state) {
  const float x[4] = {1, 3, 10, 10}; /* [1,2,1,2] */
  vrt_tensor in = NN_T(VRT_F32, 4, NN_DIMS(1, 2, 1, 2), x), out;
  vrt_node n = op_test_node(VRT_OP_MeanVarianceNormalization, 1, 1); /* axes 0,2,3: per channel */
  assert_int_equal(nn_run(&n, &in, 1, &out, 1), 0);
  nn_expect_f32(&out, (const float[]){-1, 1, 0, 0}, 4, 1e-6);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
  n = op_test_node(VRT_OP_MeanVarianceNormalization, 1, 1); /* over everything */
  vrt_node_set_ints(&n, "axes", (int64_t[]){0, 1, 2, -1}, 4);
  assert_int_equal(nn_run(&n, &in, 1, &out, 1), 0);
  /* mean 6, E[x^2] = 210/4 = 52.5, std = sqrt(16.5) */
  float s = sqrtf(16.5f);
  nn_expect_f32(&out, (const float[]){-5 / s, -3 / s, 4 / s, 4 / s}, 4, 1e-5);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
  n = op_test_node(VRT_OP_MeanVarianceNormalization, 1, 1);
  vrt_node_set_ints(&n, "axes", (int64_t[]){4}, 1);
  assert_int_equal(nn_run(&n, &in, 1, &out, 1), VRT_EINVAL);
  op_test_node_free(&n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_softmax_axes),  cmocka_unit_test(test_hardmax_ties),
      cmocka_unit_test(test_layernorm),     cmocka_unit_test(test_batchnorm),
      cmocka_unit_test(test_instance_group_norm), cmocka_unit_test(test_lpnorm),
      cmocka_unit_test(test_mvn),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
