/* RoiAlign: averages of bilinear samples over bins, both coordinate modes,
 * max mode, batch indices and errors. */
#include "test_nn_util.h"

static int roi(const float *x, const float *rois, const int64_t *bidx, int64_t R, const char *mode,
               const char *ctm, int64_t oh, int64_t ow, int64_t ratio, vrt_tensor *out) {
  vrt_node n = op_test_node(VRT_OP_RoiAlign, 3, 1);
  if (mode) vrt_node_set_string(&n, "mode", mode);
  if (ctm) vrt_node_set_string(&n, "coordinate_transformation_mode", ctm);
  vrt_node_set_int(&n, "output_height", oh);
  vrt_node_set_int(&n, "output_width", ow);
  vrt_node_set_int(&n, "sampling_ratio", ratio);
  vrt_tensor in[3] = {NN_T(VRT_F32, 4, NN_DIMS(2, 1, 4, 4), x), NN_T(VRT_F32, 2, NN_DIMS(R, 4), rois),
                      NN_T(VRT_I64, 1, NN_DIMS(R), bidx)};
  int rc = nn_run(&n, in, 3, out, 1);
  op_test_node_free(&n);
  return rc;
}

static void test_roialign(void **state) {
  float x[32];
  for (int i = 0; i < 16; i++) x[i] = (float)(i % 4); /* image 0: value = column */
  for (int i = 0; i < 16; i++) x[16 + i] = (float)(i / 4); /* image 1: value = row */
  vrt_tensor out;
  /* half_pixel: region 0..4 shifts to -0.5..3.5; one bin, 2x2 samples at
   * 0.5 and 2.5 -> mean 1.5 */
  const float r1[4] = {0, 0, 4, 4};
  const int64_t b0 = 0, b1 = 1;
  assert_int_equal(roi(x, r1, &b0, 1, NULL, NULL, 1, 1, 2, &out), 0);
  assert_int_equal(out.ndim, 4);
  nn_expect_f32(&out, (const float[]){1.5f}, 1, 1e-6);
  nn_out_free(&out, 1);
  /* the same region on image 1 gives the mean row */
  assert_int_equal(roi(x, r1, &b1, 1, NULL, NULL, 1, 1, 2, &out), 0);
  nn_expect_f32(&out, (const float[]){1.5f}, 1, 1e-6);
  nn_out_free(&out, 1);
  /* output_half_pixel, 1x2 bins over columns 0..2: samples at 0.5 and 1.5 */
  const float r2[4] = {0, 0, 2, 2};
  assert_int_equal(roi(x, r2, &b0, 1, "avg", "output_half_pixel", 1, 2, 1, &out), 0);
  nn_expect_f32(&out, (const float[]){0.5f, 1.5f}, 2, 1e-6);
  nn_out_free(&out, 1);
  /* max mode takes the largest weighted corner: at x = 1.5 that is 0.5 * 2 */
  assert_int_equal(roi(x, r2, &b0, 1, "max", "output_half_pixel", 1, 2, 1, &out), 0);
  nn_expect_f32(&out, (const float[]){0.5f, 1.0f}, 2, 1e-6);
  nn_out_free(&out, 1);
  /* errors: batch index out of range, bad mode */
  const int64_t b9 = 9;
  assert_int_equal(roi(x, r1, &b9, 1, NULL, NULL, 1, 1, 2, &out), VRT_EINVAL);
  assert_int_equal(roi(x, r1, &b0, 1, "median", NULL, 1, 1, 2, &out), VRT_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roialign),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
