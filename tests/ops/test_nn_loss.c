/* NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss, LRN and MaxUnpool:
 * hand-computed values, reductions, ignore_index, weights and errors. */
#include "test_nn_util.h"

/* log-probabilities of N=2 samples over C=3 classes */
static const float logp[6] = {-0.5f, -1.0f, -2.0f, -3.0f, -0.25f, -1.5f};
static const int64_t target[2] = {0, 2};
static const float weight[3] = {2, 1, 4};

static int nll(const char *red, const int64_t *ignore, bool weighted, vrt_tensor *out) {
  vrt_node n = op_test_node(VRT_OP_NegativeLogLikelihoodLoss, 3, 1);
  vrt_node_set_string(&n, "reduction", red);
  if (ignore) vrt_node_set_int(&n, "ignore_index", *ignore);
  vrt_tensor in[3] = {NN_T(VRT_F32, 2, NN_DIMS(2, 3), logp), NN_T(VRT_I64, 1, NN_DIMS(2), target),
                      weighted ? NN_T(VRT_F32, 1, NN_DIMS(3), weight) : (vrt_tensor){0}};
  int rc = nn_run(&n, in, 3, out, 1);
  op_test_node_free(&n);
  return rc;
}

static void test_nll(void **state) {
  vrt_tensor out;
  assert_int_equal(nll("none", NULL, false, &out), 0);
  assert_int_equal(out.ndim, 1);
  nn_expect_f32(&out, (const float[]){0.5f, 1.5f}, 2, 1e-6);
  nn_out_free(&out, 1);
  assert_int_equal(nll("sum", NULL, true, &out), 0);
  assert_int_equal(out.ndim, 0);
  nn_expect_f32(&out, (const float[]){0.5f * 2 + 1.5f * 4}, 1, 1e-6);
  nn_out_free(&out, 1);
  assert_int_equal(nll("mean", NULL, true, &out), 0);
  nn_expect_f32(&out, (const float[]){7.0f / 6}, 1, 1e-6); /* divided by the weights used */
  nn_out_free(&out, 1);
  const int64_t ig = 2;
  assert_int_equal(nll("mean", &ig, true, &out), 0); /* sample 1 ignored */
  nn_expect_f32(&out, (const float[]){0.5f}, 1, 1e-6);
  nn_out_free(&out, 1);
  /* class out of range */
  vrt_node n = op_test_node(VRT_OP_NegativeLogLikelihoodLoss, 2, 1);
  const int64_t bad[2] = {0, 3};
  vrt_tensor in[2] = {NN_T(VRT_F32, 2, NN_DIMS(2, 3), logp), NN_T(VRT_I64, 1, NN_DIMS(2), bad)};
  assert_int_equal(nn_run(&n, in, 2, &out, 1), VRT_EINVAL);
  assert_non_null(strstr(vrt_last_error(), "range"));
  op_test_node_free(&n);
  n = op_test_node(VRT_OP_NegativeLogLikelihoodLoss, 2, 1);
  vrt_node_set_string(&n, "reduction", "median");
  assert_int_equal(nn_run(&n, in, 2, &out, 1), VRT_EINVAL);
  op_test_node_free(&n);
}

static void test_sce(void **state) {
  /* scores [1, 2, 2] (N, C, d): softmax along C at each of the 2 positions */
  const float x[4] = {0, 1, 0, 3};
  const int32_t y[2] = {0, 1};
  vrt_node n = op_test_node(VRT_OP_SoftmaxCrossEntropyLoss, 2, 2);
  vrt_node_set_string(&n, "reduction", "sum");
  vrt_tensor in[2] = {NN_T(VRT_F32, 3, NN_DIMS(1, 2, 2), x), NN_T(VRT_I32, 2, NN_DIMS(1, 2), y)}, out[2];
  assert_int_equal(nn_run(&n, in, 2, out, 2), 0);
  double l0 = log(2.0), l1 = log(1 + exp(-2.0)); /* -log p(class 0 | 0,0), -log p(class 1 | 1,3) */
  nn_expect_f32(&out[0], (const float[]){(float)(l0 + l1)}, 1, 1e-6);
  nn_expect_f32(&out[1], (const float[]){(float)-l0, (float)(1 - 3 - l1), (float)-l0, (float)-l1}, 4, 1e-6);
  nn_out_free(out, 2);
  op_test_node_free(&n);
}

static void test_lrn(void **state) {
  const float x[3] = {1, 2, 3}; /* [1,3,1,1] */
  vrt_node n = op_test_node(VRT_OP_LRN, 1, 1);
  vrt_node_set_int(&n, "size", 3);
  vrt_node_set_float(&n, "alpha", 3);
  vrt_node_set_float(&n, "beta", 1);
  vrt_node_set_float(&n, "bias", 1);
  vrt_tensor in = NN_T(VRT_F32, 4, NN_DIMS(1, 3, 1, 1), x), out;
  assert_int_equal(nn_run(&n, &in, 1, &out, 1), 0);
  /* windows {1,2}, {1,2,3}, {2,3}: y = x / (1 + sum sq) */
  nn_expect_f32(&out, (const float[]){1.0f / 6, 2.0f / 15, 3.0f / 14}, 3, 1e-6);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
  n = op_test_node(VRT_OP_LRN, 1, 1); /* size is required */
  assert_int_equal(nn_run(&n, &in, 1, &out, 1), VRT_EINVAL);
  op_test_node_free(&n);
}

static void test_maxunpool(void **state) {
  const float x[4] = {5, 6, 7, 8};
  const int64_t idx[4] = {5, 7, 13, 15};
  vrt_node n = op_test_node(VRT_OP_MaxUnpool, 3, 1);
  vrt_node_set_ints(&n, "kernel_shape", (int64_t[]){2, 2}, 2);
  vrt_node_set_ints(&n, "strides", (int64_t[]){2, 2}, 2);
  vrt_tensor in[3] = {NN_T(VRT_F32, 4, NN_DIMS(1, 1, 2, 2), x), NN_T(VRT_I64, 4, NN_DIMS(1, 1, 2, 2), idx), {0}}, out;
  assert_int_equal(nn_run(&n, in, 3, &out, 1), 0);
  assert_int_equal(out.dims[2], 4);
  nn_expect_f32(&out, (const float[]){0, 0, 0, 0, 0, 5, 0, 6, 0, 0, 0, 0, 0, 7, 0, 8}, 16, 0);
  nn_out_free(&out, 1);
  /* a larger output_shape keeps each index's (row, col) of the default 4x4 */
  const int64_t shape[4] = {1, 1, 5, 5};
  in[2] = NN_T(VRT_I64, 1, NN_DIMS(4), shape);
  assert_int_equal(nn_run(&n, in, 3, &out, 1), 0);
  const float *y = out.data;
  assert_true(y[1 * 5 + 1] == 5 && y[1 * 5 + 3] == 6 && y[3 * 5 + 1] == 7 && y[3 * 5 + 3] == 8);
  nn_out_free(&out, 1);
  const int64_t bad[4] = {5, 7, 13, 16};
  in[1] = NN_T(VRT_I64, 4, NN_DIMS(1, 1, 2, 2), bad);
  in[2] = (vrt_tensor){0};
  assert_int_equal(nn_run(&n, in, 3, &out, 1), VRT_EINVAL);
  op_test_node_free(&n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nll),
      cmocka_unit_test(test_sce),
      cmocka_unit_test(test_lrn),
      cmocka_unit_test(test_maxunpool),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
