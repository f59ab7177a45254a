/* TopK (ties, largest/smallest, axes, ints, bad K) and NonMaxSuppression
 * (IoU and score thresholds, limits, classes, box formats). */
#include "test_nn_util.h"

static void expect_i64(const vrt_tensor *t, const int64_t *want, int64_t n) {
  assert_int_equal(t->dtype, VRT_I64);
  assert_int_equal(vrt_tensor_numel(t), n);
  assert_memory_equal(t->data, want, sizeof(int64_t) * (size_t)n);
}

static int topk(const vrt_tensor *x, int64_t k, int64_t axis, int largest, vrt_tensor *out) {
  vrt_node n = op_test_node(VRT_OP_TopK, 2, 2);
  vrt_node_set_int(&n, "axis", axis);
  vrt_node_set_int(&n, "largest", largest);
  vrt_tensor in[2] = {*x, NN_T(VRT_I64, 1, NN_DIMS(1), &k)};
  int rc = nn_run(&n, in, 2, out, 2);
  op_test_node_free(&n);
  return rc;
}

static void test_topk(void **state) {
  const float xv[8] = {1, 3, 3, 2, 5, 1, 5, 0};
  vrt_tensor x = NN_T(VRT_F32, 2, NN_DIMS(2, 4), xv), out[2];
  assert_int_equal(topk(&x, 2, -1, 1, out), 0);
  assert_int_equal(out[0].dims[1], 2);
  nn_expect_f32(&out[0], (const float[]){3, 3, 5, 5}, 4, 0);
  expect_i64(&out[1], (const int64_t[]){1, 2, 0, 2}, 4); /* ties: lower index first */
  nn_out_free(out, 2);
  assert_int_equal(topk(&x, 3, 1, 0, out), 0);
  nn_expect_f32(&out[0], (const float[]){1, 2, 3, 0, 1, 5}, 6, 0);
  expect_i64(&out[1], (const int64_t[]){0, 3, 1, 3, 1, 0}, 6);
  nn_out_free(out, 2);
  assert_int_equal(topk(&x, 1, 0, 1, out), 0);
  assert_int_equal(out[0].dims[0], 1);
  assert_int_equal(out[0].dims[1], 4);
  nn_expect_f32(&out[0], (const float[]){5, 3, 5, 2}, 4, 0);
  expect_i64(&out[1], (const int64_t[]){1, 0, 1, 0}, 4);
  nn_out_free(out, 2);
  const int64_t xi[5] = {7, -3, 9, 7, 100};
  vrt_tensor xl = NN_T(VRT_I64, 1, NN_DIMS(5), xi);
  assert_int_equal(topk(&xl, 3, 0, 1, out), 0);
  expect_i64(&out[0], (const int64_t[]){100, 9, 7}, 3);
  expect_i64(&out[1], (const int64_t[]){4, 2, 0}, 3);
  nn_out_free(out, 2);
  /* heap path (k much smaller than the axis) agrees with the full sort */
  float *big = malloc(sizeof(float) * 1000);
  for (int i = 0; i < 1000; i++) big[i] = (float)((i * 37) % 101); /* many ties */
  vrt_tensor xb = NN_T(VRT_F32, 1, NN_DIMS(1000), big), full[2];
  for (int largest = 0; largest < 2; largest++) {
    assert_int_equal(topk(&xb, 10, 0, largest, out), 0);
    assert_int_equal(topk(&xb, 1000, 0, largest, full), 0);
    assert_memory_equal(out[0].data, full[0].data, 10 * sizeof(float));
    assert_memory_equal(out[1].data, full[1].data, 10 * sizeof(int64_t));
    const int64_t *ix = out[1].data;
    for (int j = 1; j < 10; j++) /* ties come out in index order */
      if (((const float *)out[0].data)[j] == ((const float *)out[0].data)[j - 1]) assert_true(ix[j] > ix[j - 1]);
    assert_true(((const float *)out[0].data)[0] == (largest ? 100.0f : 0.0f));
    nn_out_free(out, 2);
    nn_out_free(full, 2);
  }
  free(big);
  assert_int_equal(topk(&x, 0, 1, 1, out), 0); /* K = 0: empty outputs */
  assert_int_equal(vrt_tensor_numel(&out[0]), 0);
  nn_out_free(out, 2);
  assert_int_equal(topk(&x, 5, 1, 1, out), VRT_EINVAL);
  assert_non_null(strstr(vrt_last_error(), "K"));
  assert_int_equal(topk(&x, 1, 2, 1, out), VRT_EINVAL);
  /* K without data at load time */
  vrt_node n = op_test_node(VRT_OP_TopK, 2, 2);
  vrt_tensor in[2] = {x, NN_T(VRT_I64, 1, NN_DIMS(1), NULL)};
  assert_int_equal(nn_run(&n, in, 2, out, 2), VRT_EGRAPH);
  op_test_node_free(&n);
}

/* ONNX's suppress-by-IoU example: three clusters of boxes. */
static const float boxes6[24] = {0, 0, 1, 1, 0, 0.1f, 1, 1.1f, 0, -0.1f, 1, 0.9f,
                                 0, 10, 1, 11, 0, 10.1f, 1, 11.1f, 0, 100, 1, 101};
static const float scores6[6] = {0.9f, 0.75f, 0.6f, 0.95f, 0.5f, 0.3f};

static int nms(const float *boxes, const float *scores, int64_t C, int64_t maxo, float iou, const float *sth,
               int center, vrt_tensor *out) {
  vrt_node n = op_test_node(VRT_OP_NonMaxSuppression, 5, 1);
  if (center) vrt_node_set_int(&n, "center_point_box", 1);
  vrt_tensor in[5] = {NN_T(VRT_F32, 3, NN_DIMS(1, 6, 4), boxes), NN_T(VRT_F32, 3, NN_DIMS(1, C, 6), scores),
                      NN_T(VRT_I64, 1, NN_DIMS(1), &maxo), NN_T(VRT_F32, 1, NN_DIMS(1), &iou),
                      sth ? NN_T(VRT_F32, 1, NN_DIMS(1), sth) : (vrt_tensor){0}};
  int rc = nn_run(&n, in, 5, out, 1);
  op_test_node_free(&n);
  return rc;
}

static void test_nms(void **state) {
  vrt_tensor out;
  assert_int_equal(nms(boxes6, scores6, 1, 3, 0.5f, NULL, 0, &out), 0);
  assert_int_equal(out.dims[0], 3);
  assert_int_equal(out.dims[1], 3);
  expect_i64(&out, (const int64_t[]){0, 0, 3, 0, 0, 0, 0, 0, 5}, 9);
  nn_out_free(&out, 1);
  const float th = 0.4f;
  assert_int_equal(nms(boxes6, scores6, 1, 3, 0.5f, &th, 0, &out), 0);
  expect_i64(&out, (const int64_t[]){0, 0, 3, 0, 0, 0}, 6);
  nn_out_free(&out, 1);
  assert_int_equal(nms(boxes6, scores6, 1, 2, 0.5f, NULL, 0, &out), 0); /* limit */
  expect_i64(&out, (const int64_t[]){0, 0, 3, 0, 0, 0}, 6);
  nn_out_free(&out, 1);
  assert_int_equal(nms(boxes6, scores6, 1, 10, 1.0f, NULL, 0, &out), 0); /* nothing suppressed */
  assert_int_equal(out.dims[0], 6);
  nn_out_free(&out, 1);
  assert_int_equal(nms(boxes6, scores6, 1, 0, 0.5f, NULL, 0, &out), 0); /* max 0: no output */
  assert_int_equal(out.dims[0], 0);
  nn_out_free(&out, 1);
  /* two classes: class 1 scores reversed */
  float sc2[12];
  for (int i = 0; i < 6; i++) sc2[i] = scores6[i], sc2[6 + i] = scores6[5 - i];
  assert_int_equal(nms(boxes6, sc2, 2, 2, 0.5f, NULL, 0, &out), 0);
  expect_i64(&out, (const int64_t[]){0, 0, 3, 0, 0, 0, 0, 1, 2, 0, 1, 5}, 12);
  nn_out_free(&out, 1);
  /* centre format: the same boxes as (xc, yc, w, h) */
  float cb[24];
  for (int i = 0; i < 6; i++) {
    const float *b = boxes6 + i * 4; /* y1 x1 y2 x2 */
    cb[i * 4 + 0] = (b[1] + b[3]) / 2;
    cb[i * 4 + 1] = (b[0] + b[2]) / 2;
    cb[i * 4 + 2] = b[3] - b[1];
    cb[i * 4 + 3] = b[2] - b[0];
  }
  assert_int_equal(nms(cb, scores6, 1, 3, 0.5f, NULL, 1, &out), 0);
  expect_i64(&out, (const int64_t[]){0, 0, 3, 0, 0, 0, 0, 0, 5}, 9);
  nn_out_free(&out, 1);
  /* bad shapes */
  vrt_node n = op_test_node(VRT_OP_NonMaxSuppression, 2, 1);
  vrt_tensor in[2] = {NN_T(VRT_F32, 3, NN_DIMS(1, 6, 4), boxes6), NN_T(VRT_F32, 3, NN_DIMS(1, 1, 5), scores6)};
  assert_int_equal(nn_run(&n, in, 2, &out, 1), VRT_ESHAPE);
  op_test_node_free(&n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_topk),
      cmocka_unit_test(test_nms),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
