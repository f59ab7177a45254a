/* Tests of DFT and STFT against hand-computed transforms. */
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

static void test_dft(void **state) {
  (void)state;
  /* real [1,2,3,4] as [1, 4, 1] -> [10, -2+2i, -2, -2-2i] */
  const float x[] = {1, 2, 3, 4};
  int64_t d[] = {1, 4, 1};
  vrt_tensor tx = op_test_tensor(VRT_F32, 3, d, x);
  const vrt_tensor *in[] = {&tx};
  vrt_tensor o;
  vrt_node n = op_test_node(VRT_OP_DFT, 1, 1);
  run_ok(&n, in, 1, &o, 1);
  assert_int_equal(o.dims[1], 4);
  assert_int_equal(o.dims[2], 2);
  const float w[] = {10, 0, -2, 2, -2, 0, -2, -2};
  assert_true(op_test_maxdiff(o.data, w, 8) < 1e-5);
  op_test_node_free(&n);

  /* inverse of that gives the signal back as complex values */
  const vrt_tensor *in2[] = {&o};
  vrt_tensor back;
  n = op_test_node(VRT_OP_DFT, 1, 1);
  vrt_node_set_int(&n, "inverse", 1);
  run_ok(&n, in2, 1, &back, 1);
  const float wb[] = {1, 0, 2, 0, 3, 0, 4, 0};
  assert_true(op_test_maxdiff(back.data, wb, 8) < 1e-5);
  vrt__aligned_free(back.data);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);

  /* onesided keeps L/2 + 1 bins */
  n = op_test_node(VRT_OP_DFT, 1, 1);
  vrt_node_set_int(&n, "onesided", 1);
  run_ok(&n, in, 1, &o, 1);
  assert_int_equal(o.dims[1], 3);
  assert_true(op_test_maxdiff(o.data, w, 6) < 1e-5);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);

  /* the complex dim cannot be the transform axis */
  n = op_test_node(VRT_OP_DFT, 1, 1);
  vrt_node_set_int(&n, "axis", -1);
  assert_int_equal(vrt_node_run1(&n, in, 1, &o, 1), VRT_EINVAL);
  op_test_node_free(&n);
}

static void test_stft(void **state) {
  (void)state;
  /* length 8, frames of 4 every 2: 3 frames, 3 onesided bins; bin 0 is the frame sum */
  const float x[] = {1, 2, 3, 4, 5, 6, 7, 8};
  int64_t d[] = {1, 8, 1};
  const int64_t step = 2, len = 4;
  vrt_tensor tx = op_test_tensor(VRT_F32, 3, d, x), ts = op_test_tensor(VRT_I64, 0, NULL, &step),
             tl = op_test_tensor(VRT_I64, 0, NULL, &len);
  const vrt_tensor *in[] = {&tx, &ts, NULL, &tl};
  vrt_tensor o;
  vrt_node n = op_test_node(VRT_OP_STFT, 4, 1);
  run_ok(&n, in, 4, &o, 1);
  const int64_t wd[] = {1, 3, 3, 2};
  assert_int_equal(o.ndim, 4);
  for (int i = 0; i < 4; i++) assert_int_equal(o.dims[i], wd[i]);
  const float *y = o.data;
  assert_float_equal(y[0], 10, 1e-5);           /* frame 0: 1+2+3+4 */
  assert_float_equal(y[6], 18, 1e-5);           /* frame 1: 3+4+5+6 */
  assert_float_equal(y[2], -2, 1e-5);           /* frame 0, bin 1: -2+2i */
  assert_float_equal(y[3], 2, 1e-5);
  vrt__aligned_free(o.data);
  /* a frame longer than the signal is an error */
  const int64_t big = 9;
  tl.data = (void *)&big;
  assert_int_equal(vrt_node_run1(&n, in, 4, &o, 1), VRT_EINVAL);
  op_test_node_free(&n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dft),
      cmocka_unit_test(test_stft),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
