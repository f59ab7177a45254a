/* Tests of Compress, ReverseSequence, Unique, Scatter, the window
 * generators and MelWeightMatrix against hand-computed values. */
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

static void test_compress(void **state) {
  (void)state;
  const float x[] = {1, 2, 3, 4, 5, 6}; /* [3,2] */
  const uint8_t c[] = {0, 1};
  int64_t dx[] = {3, 2}, dc = 2;
  vrt_tensor tx = op_test_tensor(VRT_F32, 2, dx, x), tc = op_test_tensor(VRT_BOOL, 1, &dc, c);
  const vrt_tensor *in[] = {&tx, &tc};
  vrt_tensor o;
  vrt_node n = op_test_node(VRT_OP_Compress, 2, 1);
  vrt_node_set_int(&n, "axis", 1);
  run_ok(&n, in, 2, &o, 1);
  assert_int_equal(o.dims[0], 3);
  assert_int_equal(o.dims[1], 1);
  const float w[] = {2, 4, 6};
  assert_true(op_test_maxdiff(o.data, w, 3) == 0);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);
  /* no axis: over the flattened input; a short condition keeps only its prefix */
  n = op_test_node(VRT_OP_Compress, 2, 1);
  run_ok(&n, in, 2, &o, 1);
  assert_int_equal(o.ndim, 1);
  assert_int_equal(o.dims[0], 1);
  assert_float_equal(((float *)o.data)[0], 2, 0);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);
  /* a condition longer than the axis is an error */
  const uint8_t c4[] = {1, 1, 1, 1};
  int64_t d4 = 4;
  vrt_tensor tc4 = op_test_tensor(VRT_BOOL, 1, &d4, c4);
  const vrt_tensor *in2[] = {&tx, &tc4};
  n = op_test_node(VRT_OP_Compress, 2, 1);
  vrt_node_set_int(&n, "axis", 0);
  assert_int_equal(vrt_node_run1(&n, in2, 2, &o, 1), VRT_ESHAPE);
  op_test_node_free(&n);
}

static void test_reverse_sequence(void **state) {
  (void)state;
  /* [batch 2, time 3] with lengths 2 and 3 */
  const int32_t x[] = {1, 2, 3, 4, 5, 6};
  const int64_t lens[] = {2, 3};
  int64_t dx[] = {2, 3}, dl = 2;
  vrt_tensor tx = op_test_tensor(VRT_I32, 2, dx, x), tl = op_test_tensor(VRT_I64, 1, &dl, lens);
  const vrt_tensor *in[] = {&tx, &tl};
  vrt_tensor o;
  vrt_node n = op_test_node(VRT_OP_ReverseSequence, 2, 1);
  vrt_node_set_int(&n, "batch_axis", 0);
  vrt_node_set_int(&n, "time_axis", 1);
  run_ok(&n, in, 2, &o, 1);
  const int32_t w[] = {2, 1, 3, 6, 5, 4};
  for (int i = 0; i < 6; i++) assert_int_equal(((int32_t *)o.data)[i], w[i]);
  vrt__aligned_free(o.data);
  /* a length beyond the time axis is an error */
  const int64_t bad[] = {4, 1};
  tl.data = (void *)bad;
  assert_int_equal(vrt_node_run1(&n, in, 2, &o, 1), VRT_EINVAL);
  op_test_node_free(&n);
}

static void test_unique(void **state) {
  (void)state;
  const float x[] = {2, 1, 1, 3, 4, 3};
  int64_t d = 6;
  vrt_tensor tx = op_test_tensor(VRT_F32, 1, &d, x);
  const vrt_tensor *in[] = {&tx};
  vrt_tensor o[4];
  vrt_node n = op_test_node(VRT_OP_Unique, 1, 4);
  vrt_node_set_int(&n, "sorted", 0);
  run_ok(&n, in, 1, o, 4);
  assert_int_equal(o[0].dims[0], 4);
  const float wy[] = {2, 1, 3, 4};
  assert_true(op_test_maxdiff(o[0].data, wy, 4) == 0);
  const int64_t widx[] = {0, 1, 3, 4}, winv[] = {0, 1, 1, 2, 3, 2}, wcnt[] = {1, 2, 2, 1};
  for (int i = 0; i < 4; i++) assert_int_equal(((int64_t *)o[1].data)[i], widx[i]);
  for (int i = 0; i < 6; i++) assert_int_equal(((int64_t *)o[2].data)[i], winv[i]);
  for (int i = 0; i < 4; i++) assert_int_equal(((int64_t *)o[3].data)[i], wcnt[i]);
  for (int i = 0; i < 4; i++) vrt__aligned_free(o[i].data);
  op_test_node_free(&n);

  /* sorted rows of a [3,2] matrix along axis 0 */
  const int64_t m[] = {5, 1, 0, 9, 5, 1};
  int64_t dm[] = {3, 2};
  vrt_tensor tm = op_test_tensor(VRT_I64, 2, dm, m);
  const vrt_tensor *in2[] = {&tm};
  n = op_test_node(VRT_OP_Unique, 1, 4);
  vrt_node_set_int(&n, "axis", 0);
  run_ok(&n, in2, 1, o, 4);
  assert_int_equal(o[0].dims[0], 2);
  const int64_t wrows[] = {0, 9, 5, 1};
  for (int i = 0; i < 4; i++) assert_int_equal(((int64_t *)o[0].data)[i], wrows[i]);
  assert_int_equal(((int64_t *)o[1].data)[1], 0); /* first occurrence of [5,1] */
  assert_int_equal(((int64_t *)o[2].data)[2], 1);
  assert_int_equal(((int64_t *)o[3].data)[1], 2);
  for (int i = 0; i < 4; i++) vrt__aligned_free(o[i].data);
  op_test_node_free(&n);
}

static void test_scatter_windows(void **state) {
  (void)state;
  const float data[] = {0, 0, 0, 0};
  const int64_t idx[] = {3, 1};
  const float up[] = {7, 8};
  int64_t dd = 4, di = 2;
  vrt_tensor td = op_test_tensor(VRT_F32, 1, &dd, data), ti = op_test_tensor(VRT_I64, 1, &di, idx),
             tu = op_test_tensor(VRT_F32, 1, &di, up);
  const vrt_tensor *in[] = {&td, &ti, &tu};
  vrt_tensor o;
  vrt_node n = op_test_node(VRT_OP_Scatter, 3, 1);
  run_ok(&n, in, 3, &o, 1);
  const float w[] = {0, 8, 0, 7};
  assert_true(op_test_maxdiff(o.data, w, 4) == 0);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);

  const int32_t size = 4;
  vrt_tensor ts = op_test_tensor(VRT_I32, 0, NULL, &size);
  const vrt_tensor *win[] = {&ts};
  n = op_test_node(VRT_OP_HannWindow, 1, 1); /* periodic: 0.5 - 0.5 cos(2 pi k / 4) */
  run_ok(&n, win, 1, &o, 1);
  const float wh[] = {0, 0.5f, 1, 0.5f};
  assert_true(op_test_maxdiff(o.data, wh, 4) < 1e-7);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);
  n = op_test_node(VRT_OP_BlackmanWindow, 1, 1);
  vrt_node_set_int(&n, "periodic", 0); /* symmetric: ends are 0.42 - 0.5 + 0.08 = 0 */
  run_ok(&n, win, 1, &o, 1);
  assert_float_equal(((float *)o.data)[0], 0, 1e-7);
  assert_float_equal(((float *)o.data)[3], 0, 1e-7);
  assert_float_equal(((float *)o.data)[1], 0.63f, 1e-6); /* 0.42 - 0.5 cos(2pi/3) + 0.08 cos(4pi/3) */
  vrt__aligned_free(o.data);
  op_test_node_free(&n);
}

static void test_mel_weight_matrix(void **state) {
  (void)state;
  /* 2 mel bins, dft 8 at 8 Hz over [0, 4] Hz: the edges land on DFT bins 0,1,2,3 */
  const int32_t mels = 2, dft = 8, rate = 8;
  const float lo = 0, hi = 4;
  vrt_tensor a = op_test_tensor(VRT_I32, 0, NULL, &mels), b = op_test_tensor(VRT_I32, 0, NULL, &dft),
             c = op_test_tensor(VRT_I32, 0, NULL, &rate), d = op_test_tensor(VRT_F32, 0, NULL, &lo),
             e = op_test_tensor(VRT_F32, 0, NULL, &hi);
  const vrt_tensor *in[] = {&a, &b, &c, &d, &e};
  vrt_tensor o;
  vrt_node n = op_test_node(VRT_OP_MelWeightMatrix, 5, 1);
  run_ok(&n, in, 5, &o, 1);
  assert_int_equal(o.dims[0], 5);
  assert_int_equal(o.dims[1], 2);
  const float w[] = {0, 0, 1, 0, 0, 1, 0, 0, 0, 0};
  assert_true(op_test_maxdiff(o.data, w, 10) == 0);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_compress),
      cmocka_unit_test(test_reverse_sequence),
      cmocka_unit_test(test_unique),
      cmocka_unit_test(test_scatter_windows),
      cmocka_unit_test(test_mel_weight_matrix),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
