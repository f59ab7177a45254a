/* Resize / Upsample: nearest modes, linear with several coordinate modes,
 * cubic properties, tf_crop_and_resize extrapolation, the opset-18 axes on
 * NHWC data (as the TF.js loader emits) and errors. */
#include "test_nn_util.h"

static const float r4[4] = {10, 20, 30, 40};

/* Resize of a 1-D tensor to `size` elements. */
static void resize1d(const char *mode, const char *ctm, const char *nearest, int64_t size, const float *want) {
  vrt_node n = op_test_node(VRT_OP_Resize, 4, 1);
  vrt_node_set_string(&n, "mode", mode);
  vrt_node_set_string(&n, "coordinate_transformation_mode", ctm);
  if (nearest) vrt_node_set_string(&n, "nearest_mode", nearest);
  vrt_tensor in[4] = {NN_T(VRT_F32, 1, NN_DIMS(4), r4), {0}, {0}, NN_T(VRT_I64, 1, NN_DIMS(1), &size)}, out;
  int rc = nn_run(&n, in, 4, &out, 1);
  if (rc) fprintf(stderr, "%s\n", vrt_last_error());
  assert_int_equal(rc, 0);
  assert_int_equal(out.dims[0], size);
  nn_expect_f32(&out, want, size, 1e-5);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
}

static void test_resize_nearest_modes(void **state) {
  resize1d("nearest", "asymmetric", "floor", 6, (const float[]){10, 10, 20, 30, 30, 40});
  resize1d("nearest", "asymmetric", "ceil", 6, (const float[]){10, 20, 30, 30, 40, 40});
  resize1d("nearest", "asymmetric", "round_prefer_floor", 8, (const float[]){10, 10, 20, 20, 30, 30, 40, 40});
  resize1d("nearest", "asymmetric", "round_prefer_ceil", 8, (const float[]){10, 20, 20, 30, 30, 40, 40, 40});
  /* default half_pixel + round_prefer_floor */
  resize1d("nearest", "half_pixel", NULL, 8, (const float[]){10, 10, 20, 20, 30, 30, 40, 40});
  resize1d("nearest", "tf_half_pixel_for_nn", NULL, 2, (const float[]){20, 40});
}

static void test_resize_linear(void **state) {
  resize1d("linear", "half_pixel", NULL, 8, (const float[]){10, 12.5f, 17.5f, 22.5f, 27.5f, 32.5f, 37.5f, 40});
  resize1d("linear", "align_corners", NULL, 7, (const float[]){10, 15, 20, 25, 30, 35, 40});
  resize1d("linear", "asymmetric", NULL, 8, (const float[]){10, 15, 20, 25, 30, 35, 40, 40});
  resize1d("linear", "pytorch_half_pixel", NULL, 1, (const float[]){10});
  resize1d("linear", "half_pixel", NULL, 2, (const float[]){15, 35}); /* downsample */
}

static void test_resize_cubic(void **state) {
  /* a ramp stays a ramp inside (Keys' kernel reproduces linear functions) */
  float ramp[8];
  for (int i = 0; i < 8; i++) ramp[i] = (float)i;
  for (int excl = 0; excl < 2; excl++) {
    vrt_node n = op_test_node(VRT_OP_Resize, 3, 1);
    vrt_node_set_string(&n, "mode", "cubic");
    vrt_node_set_string(&n, "coordinate_transformation_mode", "asymmetric");
    vrt_node_set_int(&n, "exclude_outside", excl);
    float sc = 2;
    vrt_tensor in[3] = {NN_T(VRT_F32, 1, NN_DIMS(8), ramp), {0}, NN_T(VRT_F32, 1, NN_DIMS(1), &sc)}, out;
    assert_int_equal(nn_run(&n, in, 3, &out, 1), 0);
    assert_int_equal(out.dims[0], 16);
    const float *y = out.data;
    for (int x = 2; x <= 12; x++) assert_true(fabsf(y[x] - x / 2.0f) < 1e-5f);
    /* at the left edge the two differ: tap -1 is clamped to x[0] = 0 with
     * weight -0.09375, or dropped and the rest renormalised (/1.09375) */
    assert_true(fabsf(y[0]) < 1e-6f);
    assert_true(fabsf(y[1] - (excl ? 0.40625f / 1.09375f : 0.40625f)) < 1e-5f);
    nn_out_free(&out, 1);
    op_test_node_free(&n);
  }
  /* constant input stays constant */
  const float c[6] = {3, 3, 3, 3, 3, 3};
  vrt_node n = op_test_node(VRT_OP_Resize, 3, 1);
  vrt_node_set_string(&n, "mode", "cubic");
  float sc[2] = {1.5f, 0.5f};
  vrt_tensor in[3] = {NN_T(VRT_F32, 2, NN_DIMS(2, 3), c), {0}, NN_T(VRT_F32, 1, NN_DIMS(2), sc)}, out;
  assert_int_equal(nn_run(&n, in, 3, &out, 1), 0);
  assert_int_equal(out.dims[0], 3);
  assert_int_equal(out.dims[1], 1);
  nn_expect_f32(&out, (const float[]){3, 3, 3}, 3, 1e-5);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
}

static void test_resize_crop_extrapolate(void **state) {
  vrt_node n = op_test_node(VRT_OP_Resize, 4, 1);
  vrt_node_set_string(&n, "mode", "linear");
  vrt_node_set_string(&n, "coordinate_transformation_mode", "tf_crop_and_resize");
  vrt_node_set_float(&n, "extrapolation_value", 99);
  const float roi[2] = {0.5f, 1.5f};
  int64_t size = 3;
  vrt_tensor in[4] = {NN_T(VRT_F32, 1, NN_DIMS(4), r4), NN_T(VRT_F32, 1, NN_DIMS(2), roi), {0},
                      NN_T(VRT_I64, 1, NN_DIMS(1), &size)},
             out;
  assert_int_equal(nn_run(&n, in, 4, &out, 1), 0);
  nn_expect_f32(&out, (const float[]){25, 40, 99}, 3, 1e-5);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
}

/* NHWC data with sizes for axes [1,2] only equals the NCHW resize of each
 * channel. */
static void test_resize_axes_nhwc(void **state) {
  const float nhwc[8] = {1, -1, 2, -2, 3, -3, 4, -4}; /* [1,2,2,2] */
  const float nchw[8] = {1, 2, 3, 4, -1, -2, -3, -4};
  int64_t sz2[2] = {3, 5}, sz4[4] = {1, 2, 3, 5};
  vrt_node a = op_test_node(VRT_OP_Resize, 4, 1);
  vrt_node_set_string(&a, "mode", "linear");
  vrt_node_set_ints(&a, "axes", (int64_t[]){1, 2}, 2);
  vrt_tensor ina[4] = {NN_T(VRT_F32, 4, NN_DIMS(1, 2, 2, 2), nhwc), {0}, {0}, NN_T(VRT_I64, 1, NN_DIMS(2), sz2)}, oa;
  assert_int_equal(nn_run(&a, ina, 4, &oa, 1), 0);
  assert_int_equal(oa.dims[1], 3);
  assert_int_equal(oa.dims[2], 5);
  assert_int_equal(oa.dims[3], 2);
  vrt_node b = op_test_node(VRT_OP_Resize, 4, 1);
  vrt_node_set_string(&b, "mode", "linear");
  vrt_tensor inb[4] = {NN_T(VRT_F32, 4, NN_DIMS(1, 2, 2, 2), nchw), {0}, {0}, NN_T(VRT_I64, 1, NN_DIMS(4), sz4)}, ob;
  assert_int_equal(nn_run(&b, inb, 4, &ob, 1), 0);
  const float *ya = oa.data, *yb = ob.data;
  for (int c = 0; c < 2; c++)
    for (int i = 0; i < 15; i++) assert_true(fabsf(ya[i * 2 + c] - yb[c * 15 + i]) < 1e-6f);
  assert_true(fabsf(yb[0] - 1) < 1e-6f); /* corner keeps its value */
  nn_out_free(&oa, 1);
  nn_out_free(&ob, 1);
  op_test_node_free(&a);
  op_test_node_free(&b);
  /* keep_aspect_ratio_policy not_larger: 2x2 into at most 4x6 -> 4x4 */
  vrt_node k = op_test_node(VRT_OP_Resize, 4, 1);
  vrt_node_set_ints(&k, "axes", (int64_t[]){2, 3}, 2);
  vrt_node_set_string(&k, "keep_aspect_ratio_policy", "not_larger");
  int64_t lim[2] = {4, 6};
  vrt_tensor ink[4] = {NN_T(VRT_F32, 4, NN_DIMS(1, 2, 2, 2), nchw), {0}, {0}, NN_T(VRT_I64, 1, NN_DIMS(2), lim)}, ok;
  assert_int_equal(nn_run(&k, ink, 4, &ok, 1), 0);
  assert_int_equal(ok.dims[2], 4);
  assert_int_equal(ok.dims[3], 4);
  nn_out_free(&ok, 1);
  op_test_node_free(&k);
}

static void test_upsample(void **state) {
  const float x[4] = {1, 2, 3, 4};
  const float sc[4] = {1, 1, 2, 3};
  vrt_node n = op_test_node(VRT_OP_Upsample, 2, 1);
  vrt_tensor in[2] = {NN_T(VRT_F32, 4, NN_DIMS(1, 1, 2, 2), x), NN_T(VRT_F32, 1, NN_DIMS(4), sc)}, out;
  assert_int_equal(nn_run(&n, in, 2, &out, 1), 0);
  assert_int_equal(out.dims[2], 4);
  assert_int_equal(out.dims[3], 6);
  nn_expect_f32(&out,
                (const float[]){1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4}, 24, 0);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
}

/* nearest is a gather, so it works on integer data too */
static void test_resize_nearest_u8(void **state) {
  const uint8_t x[4] = {1, 2, 3, 250};
  vrt_node n = op_test_node(VRT_OP_Resize, 4, 1);
  int64_t sz[2] = {3, 4};
  vrt_tensor in[4] = {NN_T(VRT_U8, 2, NN_DIMS(2, 2), x), {0}, {0}, NN_T(VRT_I64, 1, NN_DIMS(2), sz)}, out;
  assert_int_equal(nn_run(&n, in, 4, &out, 1), 0);
  assert_int_equal(out.dtype, VRT_U8);
  /* rows: half_pixel 2->3 maps to 0,0,1 (0.5 rounds down); cols 2->4 to 0,0,1,1 */
  const uint8_t want[12] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 250, 250};
  assert_memory_equal(out.data, want, 12);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
  n = op_test_node(VRT_OP_Resize, 4, 1);
  vrt_node_set_string(&n, "mode", "linear");
  assert_int_equal(nn_run(&n, in, 4, &out, 1), VRT_ETYPE);
  op_test_node_free(&n);
}

static void test_resize_errors(void **state) {
  vrt_tensor out;
  vrt_node n = op_test_node(VRT_OP_Resize, 1, 1);
  vrt_tensor x = NN_T(VRT_F32, 1, NN_DIMS(4), r4);
  assert_int_equal(nn_run(&n, &x, 1, &out, 1), VRT_EINVAL); /* neither scales nor sizes */
  op_test_node_free(&n);
  n = op_test_node(VRT_OP_Resize, 4, 1);
  int64_t sz[2] = {2, 2};
  vrt_tensor in[4] = {x, {0}, {0}, NN_T(VRT_I64, 1, NN_DIMS(2), sz)};
  assert_int_equal(nn_run(&n, in, 4, &out, 1), VRT_ESHAPE); /* sizes of the wrong length */
  in[3].data = NULL;
  in[3].dims[0] = 1;
  assert_int_equal(nn_run(&n, in, 4, &out, 1), VRT_EGRAPH); /* sizes unknown at load time */
  op_test_node_free(&n);
  n = op_test_node(VRT_OP_Resize, 3, 1);
  vrt_node_set_string(&n, "mode", "lanczos");
  float sc = 2;
  vrt_tensor in3[3] = {x, {0}, NN_T(VRT_F32, 1, NN_DIMS(1), &sc)};
  assert_int_equal(nn_run(&n, in3, 3, &out, 1), VRT_EUNSUPPORTED);
  op_test_node_free(&n);
  n = op_test_node(VRT_OP_Resize, 3, 1);
  sc = -1;
  assert_int_equal(nn_run(&n, in3, 3, &out, 1), VRT_EINVAL);
  op_test_node_free(&n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_resize_nearest_modes), cmocka_unit_test(test_resize_linear),
      cmocka_unit_test(test_resize_cubic),         cmocka_unit_test(test_resize_crop_extrapolate),
      cmocka_unit_test(test_resize_axes_nhwc),     cmocka_unit_test(test_upsample),
      cmocka_unit_test(test_resize_errors),        cmocka_unit_test(test_resize_nearest_u8),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
