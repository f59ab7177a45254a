/* Tests of QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear:
 * half-to-even rounding, saturation, per-axis scales, errors. */
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

static void test_quantize(void **state) {
  (void)state;
  const float x[] = {0, 1.5f, 2.5f, -1, 1000};
  const float s = 1;
  int64_t d = 5;
  vrt_tensor tx = op_test_tensor(VRT_F32, 1, &d, x), ts = op_test_tensor(VRT_F32, 0, NULL, &s);
  const vrt_tensor *in[] = {&tx, &ts};
  vrt_tensor o;
  vrt_node n = op_test_node(VRT_OP_QuantizeLinear, 2, 1);
  run_ok(&n, in, 2, &o, 1);
  assert_int_equal(o.dtype, VRT_U8); /* no zero point: uint8 */
  const uint8_t w[] = {0, 2, 2, 0, 255};
  assert_memory_equal(o.data, w, 5);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);

  /* int8 zero point -10, scale 0.5 */
  const float s2 = 0.5f;
  const int8_t z = -10;
  vrt_tensor ts2 = op_test_tensor(VRT_F32, 0, NULL, &s2), tz = op_test_tensor(VRT_I8, 0, NULL, &z);
  const vrt_tensor *in2[] = {&tx, &ts2, &tz};
  n = op_test_node(VRT_OP_QuantizeLinear, 3, 1);
  run_ok(&n, in2, 3, &o, 1);
  assert_int_equal(o.dtype, VRT_I8);
  const int8_t w2[] = {-10, -7, -5, -12, 127};
  assert_memory_equal(o.data, w2, 5);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);
}

static void test_per_axis_and_back(void **state) {
  (void)state;
  /* [2,3] quantized per column (axis 1) */
  const float x[] = {1, 2, 3, -1, -2, -3};
  const float s[] = {1, 2, 0.5f};
  const uint8_t z[] = {10, 20, 30};
  int64_t dx[] = {2, 3}, ds = 3;
  vrt_tensor tx = op_test_tensor(VRT_F32, 2, dx, x), ts = op_test_tensor(VRT_F32, 1, &ds, s),
             tz = op_test_tensor(VRT_U8, 1, &ds, z);
  const vrt_tensor *in[] = {&tx, &ts, &tz};
  vrt_tensor q;
  vrt_node n = op_test_node(VRT_OP_QuantizeLinear, 3, 1);
  run_ok(&n, in, 3, &q, 1);
  const uint8_t wq[] = {11, 21, 36, 9, 19, 24};
  assert_memory_equal(q.data, wq, 6);
  op_test_node_free(&n);

  const vrt_tensor *in2[] = {&q, &ts, &tz};
  vrt_tensor o;
  n = op_test_node(VRT_OP_DequantizeLinear, 3, 1);
  run_ok(&n, in2, 3, &o, 1);
  assert_int_equal(o.dtype, VRT_F32);
  assert_true(op_test_maxdiff(o.data, x, 6) == 0);
  vrt__aligned_free(o.data);
  /* a scale of the wrong length is an error */
  int64_t d2 = 2;
  vrt_tensor ts2 = op_test_tensor(VRT_F32, 1, &d2, s), tz2 = op_test_tensor(VRT_U8, 1, &d2, z);
  const vrt_tensor *bad[] = {&q, &ts2, &tz2};
  assert_int_equal(vrt_node_run1(&n, bad, 3, &o, 1), VRT_ESHAPE);
  vrt__aligned_free(q.data);
  op_test_node_free(&n);
}

static void test_dynamic(void **state) {
  (void)state;
  const float x[] = {0, 2, -3, -2.5f, 1.34f, 0.5f};
  int64_t d = 6;
  vrt_tensor tx = op_test_tensor(VRT_F32, 1, &d, x);
  const vrt_tensor *in[] = {&tx};
  vrt_tensor o[3];
  vrt_node n = op_test_node(VRT_OP_DynamicQuantizeLinear, 1, 3);
  run_ok(&n, in, 1, o, 3);
  float scale = *(float *)o[1].data;
  assert_float_equal(scale, 5.0f / 255.0f, 1e-8); /* range [-3, 2] */
  assert_int_equal(*(uint8_t *)o[2].data, 153);   /* rint(3 / scale) */
  const uint8_t *y = o[0].data;
  assert_int_equal(y[0], 153);
  assert_int_equal(y[1], 255);
  assert_int_equal(y[2], 0);
  for (int i = 0; i < 3; i++) vrt__aligned_free(o[i].data);
  op_test_node_free(&n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_quantize),
      cmocka_unit_test(test_per_axis_and_back),
      cmocka_unit_test(test_dynamic),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
