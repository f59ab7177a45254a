/* GridSample: identity grids reproduce the input, padding modes outside
 * the image, nearest and bicubic on hand-checkable points, errors. */
#include "test_nn_util.h"

static const float img[6] = {1, 2, 3, 4, 5, 6}; /* [1,1,2,3] */

static int gs(const char *mode, const char *pad, int align, const float *grid, int64_t ho, int64_t wo,
              vrt_tensor *out) {
  vrt_node n = op_test_node(VRT_OP_GridSample, 2, 1);
  if (mode) vrt_node_set_string(&n, "mode", mode);
  if (pad) vrt_node_set_string(&n, "padding_mode", pad);
  vrt_node_set_int(&n, "align_corners", align);
  vrt_tensor in[2] = {NN_T(VRT_F32, 4, NN_DIMS(1, 1, 2, 3), img), NN_T(VRT_F32, 4, NN_DIMS(1, ho, wo, 2), grid)};
  int rc = nn_run(&n, in, 2, out, 1);
  op_test_node_free(&n);
  return rc;
}

static void test_identity(void **state) {
  /* pixel centres: x in {-1, 0, 1} (align_corners) or {-2/3, 0, 2/3} */
  float g1[12], g0[12];
  for (int y = 0; y < 2; y++)
    for (int x = 0; x < 3; x++) {
      g1[(y * 3 + x) * 2] = (float)x - 1, g1[(y * 3 + x) * 2 + 1] = (float)(2 * y - 1);
      g0[(y * 3 + x) * 2] = (2.0f * x + 1) / 3 - 1, g0[(y * 3 + x) * 2 + 1] = (2.0f * y + 1) / 2 - 1;
    }
  static const char *modes[] = {"bilinear", "nearest", "bicubic"};
  for (int m = 0; m < 3; m++) {
    vrt_tensor out;
    assert_int_equal(gs(modes[m], NULL, 1, g1, 2, 3, &out), 0);
    assert_int_equal(out.dims[2], 2);
    assert_int_equal(out.dims[3], 3);
    nn_expect_f32(&out, img, 6, 1e-5);
    nn_out_free(&out, 1);
    assert_int_equal(gs(modes[m], NULL, 0, g0, 2, 3, &out), 0);
    nn_expect_f32(&out, img, 6, 1e-5);
    nn_out_free(&out, 1);
  }
}

static void test_padding_and_interp(void **state) {
  /* (x, y) = (3, 0) is far right of the image; (0, 0) is its centre */
  const float g[4] = {3, 0, 0, 0};
  vrt_tensor out;
  assert_int_equal(gs("bilinear", "zeros", 1, g, 1, 2, &out), 0);
  nn_expect_f32(&out, (const float[]){0, 3.5f}, 2, 1e-6); /* centre: mean of 2 and 5 */
  nn_out_free(&out, 1);
  assert_int_equal(gs("bilinear", "border", 1, g, 1, 2, &out), 0);
  nn_expect_f32(&out, (const float[]){4.5f, 3.5f}, 2, 1e-6); /* clamped to the right edge: mean of 3, 6 */
  nn_out_free(&out, 1);
  /* reflection with align_corners: x = 3 maps to pixel 4 -> reflected to 0 */
  assert_int_equal(gs("bilinear", "reflection", 1, g, 1, 2, &out), 0);
  nn_expect_f32(&out, (const float[]){2.5f, 3.5f}, 2, 1e-6);
  nn_out_free(&out, 1);
  /* nearest at (x=0.4, y=-1) with align_corners: column 1.4 -> 1, row 0 */
  const float gn[2] = {0.4f, -1};
  assert_int_equal(gs("nearest", NULL, 1, gn, 1, 1, &out), 0);
  nn_expect_f32(&out, (const float[]){2}, 1, 0);
  nn_out_free(&out, 1);
}

static void test_errors(void **state) {
  vrt_tensor out;
  const float g[4] = {0};
  assert_int_equal(gs("lanczos", NULL, 0, g, 1, 2, &out), VRT_EUNSUPPORTED);
  assert_int_equal(gs(NULL, "mirror", 0, g, 1, 2, &out), VRT_EUNSUPPORTED);
  vrt_node n = op_test_node(VRT_OP_GridSample, 2, 1);
  vrt_tensor in[2] = {NN_T(VRT_F32, 4, NN_DIMS(1, 1, 2, 3), img), NN_T(VRT_F32, 4, NN_DIMS(1, 1, 2, 3), img)};
  assert_int_equal(nn_run(&n, in, 2, &out, 1), VRT_ESHAPE); /* grid's last dim must be 2 */
  op_test_node_free(&n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_identity),
      cmocka_unit_test(test_padding_and_interp),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
