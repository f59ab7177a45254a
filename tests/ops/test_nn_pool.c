/* Pooling ops: hand-computed MaxPool / AveragePool / LpPool / global pools,
 * with pads, ceil_mode, count_include_pad, Indices, NHWC and integer data;
 * the fast float paths against the generic loops on random geometries. */
#include "test_nn_util.h"

static const float x33[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};

static vrt_node pool_node(vrt_op op, int64_t k, int64_t s, const int64_t *pads, int nout) {
  vrt_node n = op_test_node(op, 1, nout);
  vrt_node_set_ints(&n, "kernel_shape", (int64_t[]){k, k}, 2);
  vrt_node_set_ints(&n, "strides", (int64_t[]){s, s}, 2);
  if (pads) vrt_node_set_ints(&n, "pads", pads, 4);
  return n;
}

static void test_maxpool_basic_indices(void **state) {
  float x[16];
  for (int i = 0; i < 16; i++) x[i] = (float)i;
  vrt_node n = pool_node(VRT_OP_MaxPool, 2, 2, NULL, 2);
  vrt_tensor in = NN_T(VRT_F32, 4, NN_DIMS(1, 1, 4, 4), x), out[2];
  assert_int_equal(nn_run(&n, &in, 1, out, 2), 0);
  nn_expect_f32(&out[0], (const float[]){5, 7, 13, 15}, 4, 0);
  assert_int_equal(out[1].dtype, VRT_I64);
  const int64_t *idx = out[1].data;
  assert_int_equal(idx[0], 5);
  assert_int_equal(idx[3], 15);
  nn_out_free(out, 2);
  op_test_node_free(&n);
  /* ceil_mode: 4x4, k3 s2 -> 2x2 with a partial last window */
  n = pool_node(VRT_OP_MaxPool, 3, 2, NULL, 1);
  vrt_node_set_int(&n, "ceil_mode", 1);
  assert_int_equal(nn_run(&n, &in, 1, out, 1), 0);
  assert_int_equal(out[0].dims[2], 2);
  nn_expect_f32(&out[0], (const float[]){10, 11, 14, 15}, 4, 0);
  nn_out_free(out, 1);
  op_test_node_free(&n);
}

static void test_maxpool_pads_and_ints(void **state) {
  vrt_node n = pool_node(VRT_OP_MaxPool, 3, 1, (const int64_t[]){1, 1, 1, 1}, 1);
  vrt_tensor in = NN_T(VRT_F32, 4, NN_DIMS(1, 1, 3, 3), x33), out;
  assert_int_equal(nn_run(&n, &in, 1, &out, 1), 0);
  nn_expect_f32(&out, (const float[]){4, 5, 5, 7, 8, 8, 7, 8, 8}, 9, 0);
  nn_out_free(&out, 1);
  const int8_t xi[9] = {-5, -4, -3, -2, -1, -6, -7, -8, -9};
  vrt_tensor ini = NN_T(VRT_I8, 4, NN_DIMS(1, 1, 3, 3), xi);
  assert_int_equal(nn_run(&n, &ini, 1, &out, 1), 0);
  assert_int_equal(out.dtype, VRT_I8);
  const int8_t want[9] = {-1, -1, -1, -1, -1, -1, -1, -1, -1};
  assert_memory_equal(out.data, want, 9);
  nn_out_free(&out, 1);
  const uint8_t xu[9] = {9, 1, 2, 3, 4, 5, 6, 7, 200};
  vrt_tensor inu = NN_T(VRT_U8, 4, NN_DIMS(1, 1, 3, 3), xu);
  assert_int_equal(nn_run(&n, &inu, 1, &out, 1), 0);
  const uint8_t wu[9] = {9, 9, 5, 9, 200, 200, 7, 200, 200};
  assert_memory_equal(out.data, wu, 9);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
}

static void test_avgpool_pads(void **state) {
  for (int incl = 0; incl < 2; incl++) {
    vrt_node n = pool_node(VRT_OP_AveragePool, 3, 1, (const int64_t[]){1, 1, 1, 1}, 1);
    vrt_node_set_int(&n, "count_include_pad", incl);
    vrt_tensor in = NN_T(VRT_F32, 4, NN_DIMS(1, 1, 3, 3), x33), out;
    assert_int_equal(nn_run(&n, &in, 1, &out, 1), 0);
    if (incl) {
      float w[9] = {8, 15, 12, 21, 36, 27, 20, 33, 24};
      for (int i = 0; i < 9; i++) w[i] /= 9;
      nn_expect_f32(&out, w, 9, 1e-6);
    } else {
      nn_expect_f32(&out, (const float[]){2, 2.5f, 3, 3.5f, 4, 4.5f, 5, 5.5f, 6}, 9, 1e-6);
    }
    nn_out_free(&out, 1);
    op_test_node_free(&n);
  }
  /* ceil_mode overhang is never counted, even with count_include_pad */
  for (int incl = 0; incl < 2; incl++) {
    vrt_node n = pool_node(VRT_OP_AveragePool, 2, 2, NULL, 1);
    vrt_node_set_int(&n, "ceil_mode", 1);
    vrt_node_set_int(&n, "count_include_pad", incl);
    vrt_tensor in = NN_T(VRT_F32, 4, NN_DIMS(1, 1, 3, 3), x33), out;
    assert_int_equal(nn_run(&n, &in, 1, &out, 1), 0);
    nn_expect_f32(&out, (const float[]){2, 3.5f, 6.5f, 8}, 4, 1e-6);
    nn_out_free(&out, 1);
    op_test_node_free(&n);
  }
  /* SAME_UPPER with stride 2 on 3x3: out 2x2, pad at the end */
  vrt_node n = op_test_node(VRT_OP_AveragePool, 1, 1);
  vrt_node_set_ints(&n, "kernel_shape", (int64_t[]){2, 2}, 2);
  vrt_node_set_ints(&n, "strides", (int64_t[]){2, 2}, 2);
  vrt_node_set_string(&n, "auto_pad", "SAME_UPPER");
  vrt_tensor in = NN_T(VRT_F32, 4, NN_DIMS(1, 1, 3, 3), x33), out;
  assert_int_equal(nn_run(&n, &in, 1, &out, 1), 0);
  nn_expect_f32(&out, (const float[]){2, 3.5f, 6.5f, 8}, 4, 1e-6);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
}

static void test_pool_nhwc(void **state) {
  const float x[8] = {1, -1, 2, -2, 3, -3, 4, -4}; /* [1,2,2,2] NHWC */
  vrt_node n = pool_node(VRT_OP_MaxPool, 2, 1, NULL, 1);
  vrt_node_set_int(&n, "vrt_layout", 1);
  vrt_tensor in = NN_T(VRT_F32, 4, NN_DIMS(1, 2, 2, 2), x), out;
  assert_int_equal(nn_run(&n, &in, 1, &out, 1), 0);
  assert_int_equal(out.ndim, 4);
  assert_int_equal(out.dims[3], 2);
  nn_expect_f32(&out, (const float[]){4, -1}, 2, 0);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
  n = pool_node(VRT_OP_AveragePool, 2, 1, NULL, 1);
  vrt_node_set_int(&n, "vrt_layout", 1);
  assert_int_equal(nn_run(&n, &in, 1, &out, 1), 0);
  nn_expect_f32(&out, (const float[]){2.5f, -2.5f}, 2, 1e-6);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
  n = op_test_node(VRT_OP_GlobalAveragePool, 1, 1);
  vrt_node_set_int(&n, "vrt_layout", 1);
  assert_int_equal(nn_run(&n, &in, 1, &out, 1), 0);
  assert_int_equal(out.dims[1], 1);
  assert_int_equal(out.dims[3], 2);
  nn_expect_f32(&out, (const float[]){2.5f, -2.5f}, 2, 1e-6);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
}

/* The NHWC float path (channels innermost) against the generic NCHW loops
 * on random data with pads, strides, dilations, ceil_mode and
 * count_include_pad. */
static void test_pool_nhwc_matches_nchw(void **state) {
  int64_t N = 2, C = 5, H = 9, W = 7;
  float *x = nn_rand(N * C * H * W, 11), *xt = malloc(sizeof(float) * N * C * H * W);
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t i = 0; i < H * W; i++) xt[(n * H * W + i) * C + c] = x[(n * C + c) * H * W + i];
  int cases = 0;
  for (int op = 0; op < 2; op++)
    for (int ceil = 0; ceil < 2; ceil++)
      for (int incl = 0; incl < 2; incl++)
        for (int d = 1; d <= 2; d++) {
          vrt_tensor o[2];
          for (int layout = 0; layout < 2; layout++) {
            vrt_node n = pool_node(op ? VRT_OP_AveragePool : VRT_OP_MaxPool, 3, 2, (const int64_t[]){1, 0, 1, 2}, 1);
            vrt_node_set_int(&n, "vrt_layout", layout);
            vrt_node_set_int(&n, "ceil_mode", ceil);
            vrt_node_set_int(&n, "count_include_pad", incl);
            vrt_node_set_ints(&n, "dilations", (int64_t[]){d, 1}, 2);
            vrt_tensor in = layout ? NN_T(VRT_F32, 4, NN_DIMS(N, H, W, C), xt) : NN_T(VRT_F32, 4, NN_DIMS(N, C, H, W), x);
            assert_int_equal(nn_run(&n, &in, 1, &o[layout], 1), 0);
            op_test_node_free(&n);
          }
          int64_t OH = o[0].dims[2], OW = o[0].dims[3];
          assert_int_equal(o[1].dims[1], OH);
          assert_int_equal(o[1].dims[2], OW);
          const float *a = o[0].data, *t = o[1].data;
          for (int64_t n = 0; n < N; n++)
            for (int64_t c = 0; c < C; c++)
              for (int64_t i = 0; i < OH * OW; i++)
                assert_true(fabsf(a[(n * C + c) * OH * OW + i] - t[(n * OH * OW + i) * C + c]) < 1e-5f);
          nn_out_free(o, 2);
          cases++;
        }
  assert_int_equal(cases, 16);
  free(x);
  free(xt);
}

/* The NCHW float32 MaxPool row-pass path (no Indices) against the generic
 * loops it replaces, which float64 data and the Indices output still take:
 * random 1-D and 2-D geometries with pads, strides, dilations and
 * ceil_mode; max is exact, so the results must be equal. */
static void test_maxpool_nchw_rows_match_generic(void **state) {
  uint32_t seed = 5;
  int ran = 0;
  for (int trial = 0; trial < 60; trial++) {
    seed = seed * 1664525u + 1013904223u;
    uint32_t r = seed >> 8;
    bool one_d = trial % 5 == 4;
    int64_t N = 1 + r % 2, C = 1 + (r >> 1) % 5, H = one_d ? 1 : 3 + (r >> 4) % 12, W = 3 + (r >> 8) % 14;
    int64_t k = 1 + (r >> 12) % 3, s = 1 + (r >> 14) % 3, d = 1 + (r >> 16) % 2, p = (r >> 18) % 2;
    if (p >= k) p = k - 1;
    int ceil = (r >> 20) & 1;
    if ((k - 1) * d + 1 > (one_d ? W : (H < W ? H : W))) continue;
    int64_t n = N * C * H * W;
    float *x = nn_rand(n, seed);
    double *xd = malloc(sizeof(double) * (size_t)n);
    for (int64_t i = 0; i < n; i++) xd[i] = x[i];
    vrt_node nd = op_test_node(VRT_OP_MaxPool, 1, 1), ni = op_test_node(VRT_OP_MaxPool, 1, 2);
    vrt_node *nodes[2] = {&nd, &ni};
    for (int j = 0; j < 2; j++) {
      vrt_node *q = nodes[j];
      int sp = one_d ? 1 : 2;
      vrt_node_set_ints(q, "kernel_shape", (int64_t[]){k, k}, sp);
      vrt_node_set_ints(q, "strides", (int64_t[]){s, s}, sp);
      vrt_node_set_ints(q, "dilations", (int64_t[]){d, d}, sp);
      vrt_node_set_ints(q, "pads", one_d ? (int64_t[]){p, 0} : (int64_t[]){p, 0, 0, p}, 2 * sp);
      vrt_node_set_int(q, "ceil_mode", ceil);
    }
    vrt_tensor inf = one_d ? NN_T(VRT_F32, 3, NN_DIMS(N, C, W), x) : NN_T(VRT_F32, 4, NN_DIMS(N, C, H, W), x);
    vrt_tensor ind = one_d ? NN_T(VRT_F64, 3, NN_DIMS(N, C, W), xd) : NN_T(VRT_F64, 4, NN_DIMS(N, C, H, W), xd);
    vrt_tensor of, od, oi[2];
    assert_int_equal(nn_run(&nd, &inf, 1, &of, 1), 0);
    assert_int_equal(nn_run(&nd, &ind, 1, &od, 1), 0);
    assert_int_equal(nn_run(&ni, &inf, 1, oi, 2), 0);
    int64_t ny = vrt_tensor_numel(&of);
    assert_true(ny > 0);
    assert_int_equal(ny, vrt_tensor_numel(&od));
    const float *a = of.data, *b = oi[0].data;
    const double *c = od.data;
    for (int64_t i = 0; i < ny; i++) {
      assert_true(a[i] == (float)c[i]);
      assert_true(a[i] == b[i]);
    }
    nn_out_free(&of, 1);
    nn_out_free(&od, 1);
    nn_out_free(oi, 2);
    op_test_node_free(&nd);
    op_test_node_free(&ni);
    free(x);
    free(xd);
    ran++;
  }
  assert_true(ran >= 40);
}

static void test_global_and_lp(void **state) {
  vrt_tensor in = NN_T(VRT_F32, 4, NN_DIMS(1, 3, 1, 3), x33), out;
  vrt_node n = op_test_node(VRT_OP_GlobalAveragePool, 1, 1);
  assert_int_equal(nn_run(&n, &in, 1, &out, 1), 0);
  assert_int_equal(out.dims[2], 1);
  nn_expect_f32(&out, (const float[]){1, 4, 7}, 3, 1e-6);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
  n = op_test_node(VRT_OP_GlobalMaxPool, 1, 1);
  assert_int_equal(nn_run(&n, &in, 1, &out, 1), 0);
  nn_expect_f32(&out, (const float[]){2, 5, 8}, 3, 0);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
  const float x[4] = {3, -4, 0, 1};
  vrt_tensor in2 = NN_T(VRT_F32, 3, NN_DIMS(1, 1, 4), x);
  n = op_test_node(VRT_OP_LpPool, 1, 1);
  vrt_node_set_ints(&n, "kernel_shape", (int64_t[]){2}, 1);
  vrt_node_set_ints(&n, "strides", (int64_t[]){2}, 1);
  assert_int_equal(nn_run(&n, &in2, 1, &out, 1), 0);
  nn_expect_f32(&out, (const float[]){5, 1}, 2, 1e-5);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
}

static void test_pool_errors(void **state) {
  vrt_tensor out;
  vrt_tensor in = NN_T(VRT_F32, 4, NN_DIMS(1, 1, 3, 3), x33);
  vrt_node n = op_test_node(VRT_OP_MaxPool, 1, 1); /* no kernel_shape */
  assert_int_equal(nn_run(&n, &in, 1, &out, 1), VRT_EINVAL);
  op_test_node_free(&n);
  n = pool_node(VRT_OP_MaxPool, 5, 1, NULL, 1); /* kernel larger than input */
  assert_int_equal(nn_run(&n, &in, 1, &out, 1), VRT_ESHAPE);
  op_test_node_free(&n);
  const int32_t xi[9] = {0};
  vrt_tensor ini = NN_T(VRT_I32, 4, NN_DIMS(1, 1, 3, 3), xi);
  n = pool_node(VRT_OP_AveragePool, 2, 1, NULL, 1); /* int average: unsupported */
  assert_int_equal(nn_run(&n, &ini, 1, &out, 1), VRT_ETYPE);
  op_test_node_free(&n);
  n = op_test_node(VRT_OP_MaxPool, 1, 1);
  vrt_node_set_string(&n, "auto_pad", "SIDEWAYS");
  vrt_node_set_ints(&n, "kernel_shape", (int64_t[]){2, 2}, 2);
  assert_int_equal(nn_run(&n, &in, 1, &out, 1), VRT_EINVAL);
  op_test_node_free(&n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_maxpool_basic_indices), cmocka_unit_test(test_maxpool_pads_and_ints),
      cmocka_unit_test(test_avgpool_pads),          cmocka_unit_test(test_pool_nhwc),
      cmocka_unit_test(test_global_and_lp),         cmocka_unit_test(test_pool_errors),
      cmocka_unit_test(test_pool_nhwc_matches_nchw), cmocka_unit_test(test_maxpool_nchw_rows_match_generic),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
