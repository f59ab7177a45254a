/* Tests of the index-driven shape kernels: Gather, GatherElements,
 * GatherND, ScatterND, ScatterElements, SparseToDense, NonZero, OneHot,
 * including negative and out-of-range indices. */
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

static const float X[] = {0, 1, 2, 3, 4, 5}; /* [3,2] */
static const int64_t XD[] = {3, 2};

static void test_gather(void **state) {
  (void)state;
  vrt_tensor tx = op_test_tensor(VRT_F32, 2, XD, X);
  const int32_t idx[] = {2, -3};
  int64_t di = 2;
  vrt_tensor ti = op_test_tensor(VRT_I32, 1, &di, idx);
  const vrt_tensor *in[] = {&tx, &ti};
  vrt_tensor o;
  vrt_node n = op_test_node(VRT_OP_Gather, 2, 1);
  run_ok(&n, in, 2, &o, 1);
  assert_int_equal(o.dims[0], 2);
  assert_int_equal(o.dims[1], 2);
  const float w[] = {4, 5, 0, 1};
  assert_true(op_test_maxdiff(o.data, w, 4) == 0);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);
  /* axis 1 with a scalar index drops the axis */
  const int64_t one = 1;
  vrt_tensor ts = op_test_tensor(VRT_I64, 0, NULL, &one);
  const vrt_tensor *in2[] = {&tx, &ts};
  n = op_test_node(VRT_OP_Gather, 2, 1);
  vrt_node_set_int(&n, "axis", 1);
  run_ok(&n, in2, 2, &o, 1);
  assert_int_equal(o.ndim, 1);
  const float w2[] = {1, 3, 5};
  assert_true(op_test_maxdiff(o.data, w2, 3) == 0);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);
  /* out of range */
  const int32_t bad[] = {3, 0};
  ti.data = (void *)bad;
  n = op_test_node(VRT_OP_Gather, 2, 1);
  assert_int_equal(vrt_node_run1(&n, in, 2, &o, 1), VRT_EINVAL);
  assert_non_null(strstr(vrt_last_error(), "out of range"));
  op_test_node_free(&n);
}

static void test_gather_elements_nd(void **state) {
  (void)state;
  vrt_tensor tx = op_test_tensor(VRT_F32, 2, XD, X);
  const int64_t idx[] = {1, 0, 0, -1};
  int64_t di[] = {2, 2};
  vrt_tensor ti = op_test_tensor(VRT_I64, 2, di, idx);
  const vrt_tensor *in[] = {&tx, &ti};
  vrt_tensor o;
  vrt_node n = op_test_node(VRT_OP_GatherElements, 2, 1);
  vrt_node_set_int(&n, "axis", 1);
  run_ok(&n, in, 2, &o, 1);
  const float w[] = {1, 0, 2, 3};
  assert_true(op_test_maxdiff(o.data, w, 4) == 0);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);

  /* GatherND: [[2,1],[0,0]] -> x[2][1], x[0][0] */
  const int64_t nd[] = {2, 1, 0, 0};
  vrt_tensor tn = op_test_tensor(VRT_I64, 2, di, nd);
  const vrt_tensor *in2[] = {&tx, &tn};
  n = op_test_node(VRT_OP_GatherND, 2, 1);
  run_ok(&n, in2, 2, &o, 1);
  assert_int_equal(o.ndim, 1);
  const float w2[] = {5, 0};
  assert_true(op_test_maxdiff(o.data, w2, 2) == 0);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);
  /* GatherND with k=1 takes whole rows */
  const int64_t rows[] = {1, 2};
  int64_t dr[] = {2, 1};
  vrt_tensor trw = op_test_tensor(VRT_I64, 2, dr, rows);
  const vrt_tensor *in3[] = {&tx, &trw};
  n = op_test_node(VRT_OP_GatherND, 2, 1);
  run_ok(&n, in3, 2, &o, 1);
  assert_int_equal(o.ndim, 2);
  const float w3[] = {2, 3, 4, 5};
  assert_true(op_test_maxdiff(o.data, w3, 4) == 0);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);
}

static void test_scatter(void **state) {
  (void)state;
  vrt_tensor tx = op_test_tensor(VRT_F32, 2, XD, X);
  const int64_t idx[] = {2, 0};
  int64_t di[] = {2, 1};
  const float up[] = {10, 11, 20, 21};
  int64_t du[] = {2, 2};
  vrt_tensor ti = op_test_tensor(VRT_I64, 2, di, idx), tu = op_test_tensor(VRT_F32, 2, du, up);
  const vrt_tensor *in[] = {&tx, &ti, &tu};
  vrt_tensor o;
  vrt_node n = op_test_node(VRT_OP_ScatterND, 3, 1);
  run_ok(&n, in, 3, &o, 1);
  const float w[] = {20, 21, 2, 3, 10, 11};
  assert_true(op_test_maxdiff(o.data, w, 6) == 0);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);
  n = op_test_node(VRT_OP_ScatterND, 3, 1);
  vrt_node_set_string(&n, "reduction", "add");
  run_ok(&n, in, 3, &o, 1);
  const float wa[] = {20, 22, 2, 3, 14, 16};
  assert_true(op_test_maxdiff(o.data, wa, 6) == 0);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);

  /* ScatterElements along axis 1 */
  const int64_t ie[] = {1, 0};
  int64_t de[] = {1, 2};
  const float ue[] = {7, 8};
  vrt_tensor tie = op_test_tensor(VRT_I64, 2, de, ie), tue = op_test_tensor(VRT_F32, 2, de, ue);
  const vrt_tensor *in2[] = {&tx, &tie, &tue};
  n = op_test_node(VRT_OP_ScatterElements, 3, 1);
  vrt_node_set_int(&n, "axis", 1);
  run_ok(&n, in2, 3, &o, 1);
  const float we[] = {8, 7, 2, 3, 4, 5};
  assert_true(op_test_maxdiff(o.data, we, 6) == 0);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);
}

static void test_sparse_to_dense(void **state) {
  (void)state;
  /* TF: indices [[0,1],[2,0]], shape [3,2], values [5,6], default -1 */
  const int32_t idx[] = {0, 1, 2, 0}, shape[] = {3, 2};
  const float vals[] = {5, 6}, dflt = -1;
  int64_t di[] = {2, 2}, ds = 2, dv = 2;
  vrt_tensor ti = op_test_tensor(VRT_I32, 2, di, idx), ts = op_test_tensor(VRT_I32, 1, &ds, shape),
             tv = op_test_tensor(VRT_F32, 1, &dv, vals), td = op_test_tensor(VRT_F32, 0, NULL, &dflt);
  const vrt_tensor *in[] = {&ti, &ts, &tv, &td};
  vrt_tensor o;
  vrt_node n = op_test_node(VRT_OP_SparseToDense, 4, 1);
  run_ok(&n, in, 4, &o, 1);
  assert_int_equal(o.ndim, 2);
  const float w[] = {-1, 5, -1, -1, 6, -1};
  assert_true(op_test_maxdiff(o.data, w, 6) == 0);
  vrt__aligned_free(o.data);
  /* 1-D indices with a scalar value */
  const int64_t i1[] = {0, 3};
  const int64_t s1 = 4;
  const float v1 = 9;
  int64_t d2 = 2, d1 = 1;
  vrt_tensor ti1 = op_test_tensor(VRT_I64, 1, &d2, i1), ts1 = op_test_tensor(VRT_I64, 1, &d1, &s1),
             tv1 = op_test_tensor(VRT_F32, 0, NULL, &v1);
  const vrt_tensor *in1[] = {&ti1, &ts1, &tv1, &td};
  run_ok(&n, in1, 4, &o, 1);
  const float w1[] = {9, -1, -1, 9};
  assert_true(op_test_maxdiff(o.data, w1, 4) == 0);
  vrt__aligned_free(o.data);
  /* index outside the output shape */
  const int64_t i2[] = {0, 4};
  ti1.data = (void *)i2;
  assert_int_equal(vrt_node_run1(&n, in1, 4, &o, 1), VRT_EINVAL);
  op_test_node_free(&n);
}

static void test_nonzero_onehot(void **state) {
  (void)state;
  const float x[] = {0, 2, 0, -1, -0.0f, 3};
  int64_t d[] = {2, 3};
  vrt_tensor tx = op_test_tensor(VRT_F32, 2, d, x);
  const vrt_tensor *in[] = {&tx};
  vrt_tensor o;
  vrt_node n = op_test_node(VRT_OP_NonZero, 1, 1);
  run_ok(&n, in, 1, &o, 1);
  assert_int_equal(o.dims[0], 2);
  assert_int_equal(o.dims[1], 3);
  const int64_t w[] = {0, 1, 1, 1, 0, 2}; /* rows then cols; -0.0 is zero */
  for (int i = 0; i < 6; i++) assert_int_equal(((int64_t *)o.data)[i], w[i]);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);

  const int64_t idx[] = {1, -1, 5};
  const float depth = 3, vals[] = {0, 1};
  int64_t di = 3, dv = 2;
  vrt_tensor ti = op_test_tensor(VRT_I64, 1, &di, idx), tdp = op_test_tensor(VRT_F32, 0, NULL, &depth),
             tv = op_test_tensor(VRT_F32, 1, &dv, vals);
  const vrt_tensor *oin[] = {&ti, &tdp, &tv};
  n = op_test_node(VRT_OP_OneHot, 3, 1);
  run_ok(&n, oin, 3, &o, 1);
  assert_int_equal(o.dims[0], 3);
  assert_int_equal(o.dims[1], 3);
  const float wo[] = {0, 1, 0, 0, 0, 1, 0, 0, 0}; /* -1 wraps to 2; 5 is out of range */
  assert_true(op_test_maxdiff(o.data, wo, 9) == 0);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gather),          cmocka_unit_test(test_gather_elements_nd),
      cmocka_unit_test(test_scatter),         cmocka_unit_test(test_sparse_to_dense),
      cmocka_unit_test(test_nonzero_onehot),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
