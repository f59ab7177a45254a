/* MatMul (broadcasting, 1-D operands, ints, fused bias/activation), Gemm
 * (transposes, alpha/beta, C broadcasting) and Einsum; fast path against the
 * reference on random shapes. */
#include "test_nn_util.h"

static const float a23[6] = {1, 2, 3, 4, 5, 6};
static const float b32[6] = {7, 8, 9, 10, 11, 12};

static void test_matmul_2d_and_1d(void **state) {
  vrt_node n = op_test_node(VRT_OP_MatMul, 2, 1);
  vrt_tensor out;
  for (int ref = 0; ref < 2; ref++) {
    if (ref) setenv("VRT_REFERENCE", "1", 1);
    vrt_tensor in[2] = {NN_T(VRT_F32, 2, NN_DIMS(2, 3), a23), NN_T(VRT_F32, 2, NN_DIMS(3, 2), b32)};
    assert_int_equal(nn_run(&n, in, 2, &out, 1), 0);
    nn_expect_f32(&out, (const float[]){58, 64, 139, 154}, 4, 1e-5);
    nn_out_free(&out, 1);
    unsetenv("VRT_REFERENCE");
  }
  /* [3] x [3,2] -> [2] */
  vrt_tensor in1[2] = {NN_T(VRT_F32, 1, NN_DIMS(3), a23), NN_T(VRT_F32, 2, NN_DIMS(3, 2), b32)};
  assert_int_equal(nn_run(&n, in1, 2, &out, 1), 0);
  assert_int_equal(out.ndim, 1);
  nn_expect_f32(&out, (const float[]){58, 64}, 2, 1e-5);
  nn_out_free(&out, 1);
  /* [2,3] x [3] -> [2] */
  vrt_tensor in2[2] = {NN_T(VRT_F32, 2, NN_DIMS(2, 3), a23), NN_T(VRT_F32, 1, NN_DIMS(3), b32)};
  assert_int_equal(nn_run(&n, in2, 2, &out, 1), 0);
  assert_int_equal(out.ndim, 1);
  nn_expect_f32(&out, (const float[]){50, 122}, 2, 1e-5);
  nn_out_free(&out, 1);
  /* [3] x [3] -> scalar */
  vrt_tensor in3[2] = {NN_T(VRT_F32, 1, NN_DIMS(3), a23), NN_T(VRT_F32, 1, NN_DIMS(3), b32)};
  assert_int_equal(nn_run(&n, in3, 2, &out, 1), 0);
  assert_int_equal(out.ndim, 0);
  nn_expect_f32(&out, (const float[]){50}, 1, 1e-5);
  nn_out_free(&out, 1);
  /* int64 */
  const int64_t ai[4] = {1, 2, 3, 4}, bi[4] = {5, 6, 7, 8};
  vrt_tensor in4[2] = {NN_T(VRT_I64, 2, NN_DIMS(2, 2), ai), NN_T(VRT_I64, 2, NN_DIMS(2, 2), bi)};
  assert_int_equal(nn_run(&n, in4, 2, &out, 1), 0);
  assert_int_equal(out.dtype, VRT_I64);
  const int64_t *o = out.data;
  assert_int_equal(o[0], 19);
  assert_int_equal(o[3], 50);
  nn_out_free(&out, 1);
  /* int32 overflow wraps like numpy (65536 * 65536 + 3 * 1 = 2^32 + 3 -> 3) */
  const int32_t a32[2] = {65536, 3}, b32i[2] = {65536, 1};
  vrt_tensor in5[2] = {NN_T(VRT_I32, 2, NN_DIMS(1, 2), a32), NN_T(VRT_I32, 2, NN_DIMS(2, 1), b32i)};
  assert_int_equal(nn_run(&n, in5, 2, &out, 1), 0);
  assert_int_equal(((const int32_t *)out.data)[0], 3);
  nn_out_free(&out, 1);
  /* errors: inner mismatch, mixed dtypes, non-broadcastable batch */
  vrt_tensor e1[2] = {NN_T(VRT_F32, 2, NN_DIMS(2, 3), a23), NN_T(VRT_F32, 2, NN_DIMS(2, 3), b32)};
  assert_int_equal(nn_run(&n, e1, 2, &out, 1), VRT_ESHAPE);
  assert_non_null(strstr(vrt_last_error(), "test_node"));
  vrt_tensor e2[2] = {NN_T(VRT_F32, 2, NN_DIMS(2, 2), a23), NN_T(VRT_I64, 2, NN_DIMS(2, 2), bi)};
  assert_int_equal(nn_run(&n, e2, 2, &out, 1), VRT_ETYPE);
  vrt_tensor e3[2] = {NN_T(VRT_F32, 3, NN_DIMS(2, 1, 1), a23), NN_T(VRT_F32, 3, NN_DIMS(3, 1, 1), b32)};
  assert_int_equal(nn_run(&n, e3, 2, &out, 1), VRT_ESHAPE);
  op_test_node_free(&n);
}

static void test_matmul_broadcast(void **state) {
  /* A [2,1,2,2] x B [3,2,2] -> [2,3,2,2]; B[j] = j * I */
  const float A[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  float B[12] = {0};
  for (int j = 0; j < 3; j++) B[j * 4] = B[j * 4 + 3] = (float)j;
  vrt_node n = op_test_node(VRT_OP_MatMul, 2, 1);
  vrt_tensor in[2] = {NN_T(VRT_F32, 4, NN_DIMS(2, 1, 2, 2), A), NN_T(VRT_F32, 3, NN_DIMS(3, 2, 2), B)}, out;
  assert_int_equal(nn_run(&n, in, 2, &out, 1), 0);
  assert_int_equal(out.ndim, 4);
  assert_int_equal(out.dims[0], 2);
  assert_int_equal(out.dims[1], 3);
  const float *y = out.data;
  for (int b = 0; b < 2; b++)
    for (int j = 0; j < 3; j++)
      for (int e = 0; e < 4; e++) assert_true(fabsf(y[(b * 3 + j) * 4 + e] - A[b * 4 + e] * j) < 1e-6f);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
}

static void test_matmul_fused(void **state) {
  /* bias along N, then LeakyRelu(0.5) */
  const float bias[2] = {-100, 0};
  vrt_node n = op_test_node(VRT_OP_MatMul, 3, 1);
  vrt_node_set_string(&n, "vrt_act", "LeakyRelu");
  vrt_node_set_float(&n, "vrt_act_alpha", 0.5f);
  vrt_tensor in[3] = {NN_T(VRT_F32, 2, NN_DIMS(2, 3), a23), NN_T(VRT_F32, 2, NN_DIMS(3, 2), b32),
                      NN_T(VRT_F32, 1, NN_DIMS(2), bias)},
             out;
  assert_int_equal(nn_run(&n, in, 3, &out, 1), 0);
  nn_expect_f32(&out, (const float[]){-21, 64, 39, 154}, 4, 1e-5);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
}

static void test_matmul_fast_vs_ref(void **state) {
  struct {
    int na, nb;
    int64_t a[4], b[4];
  } cases[] = {
      {2, 2, {17, 33}, {33, 9}},
      {3, 2, {4, 7, 16}, {16, 5}},          /* shared B: one big GEMM */
      {3, 3, {4, 7, 16}, {4, 16, 5}},       /* batched */
      {4, 3, {2, 1, 5, 8}, {3, 8, 6}},      /* broadcast A */
      {2, 3, {5, 8}, {3, 8, 6}},            /* shared A */
      {1, 3, {8}, {2, 8, 3}},               /* 1-D A */
      {3, 1, {2, 5, 8}, {8}},               /* 1-D B */
      {4, 4, {1, 2, 64, 32}, {1, 2, 32, 64}}, /* attention-like */
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    int64_t na = vrt__numel(cases[c].a, cases[c].na), nb = vrt__numel(cases[c].b, cases[c].nb);
    float *A = nn_rand(na, (uint32_t)c), *B = nn_rand(nb, (uint32_t)c + 50);
    vrt_node n = op_test_node(VRT_OP_MatMul, 2, 1);
    vrt_tensor in[2] = {NN_T(VRT_F32, cases[c].na, cases[c].a, A), NN_T(VRT_F32, cases[c].nb, cases[c].b, B)};
    assert_true(nn_fast_vs_ref(&n, in, 2) < 1e-4);
    op_test_node_free(&n);
    free(A);
    free(B);
  }
}

static void test_gemm(void **state) {
  /* A^T given as [3,2], B^T as [2,3]; alpha 2, beta 0.5, C per column */
  const float at[6] = {1, 4, 2, 5, 3, 6};     /* A = [[1,2,3],[4,5,6]] */
  const float bt[6] = {7, 9, 11, 8, 10, 12};  /* B = [[7,8],[9,10],[11,12]] */
  const float c_row[2] = {10, 20}, c_col[2] = {10, 20}, c_sc = 4;
  for (int ref = 0; ref < 2; ref++) {
    if (ref) setenv("VRT_REFERENCE", "1", 1);
    vrt_node n = op_test_node(VRT_OP_Gemm, 3, 1);
    vrt_node_set_int(&n, "transA", 1);
    vrt_node_set_int(&n, "transB", 1);
    vrt_node_set_float(&n, "alpha", 2);
    vrt_node_set_float(&n, "beta", 0.5f);
    vrt_tensor out;
    vrt_tensor in[3] = {NN_T(VRT_F32, 2, NN_DIMS(3, 2), at), NN_T(VRT_F32, 2, NN_DIMS(2, 3), bt),
                        NN_T(VRT_F32, 1, NN_DIMS(2), c_row)};
    assert_int_equal(nn_run(&n, in, 3, &out, 1), 0);
    nn_expect_f32(&out, (const float[]){121, 138, 283, 318}, 4, 1e-4);
    nn_out_free(&out, 1);
    in[2] = NN_T(VRT_F32, 2, NN_DIMS(2, 1), c_col);
    assert_int_equal(nn_run(&n, in, 3, &out, 1), 0);
    nn_expect_f32(&out, (const float[]){121, 133, 288, 318}, 4, 1e-4);
    nn_out_free(&out, 1);
    in[2] = NN_T(VRT_F32, 0, NULL, &c_sc);
    assert_int_equal(nn_run(&n, in, 3, &out, 1), 0);
    nn_expect_f32(&out, (const float[]){118, 130, 280, 310}, 4, 1e-4);
    nn_out_free(&out, 1);
    in[2] = NN_T(VRT_F32, 1, NN_DIMS(3), c_row); /* does not broadcast to 2x2 */
    assert_int_equal(nn_run(&n, in, 3, &out, 1), VRT_ESHAPE);
    op_test_node_free(&n);
    unsetenv("VRT_REFERENCE");
  }
  /* no C, fused Relu */
  vrt_node n = op_test_node(VRT_OP_Gemm, 2, 1);
  vrt_node_set_float(&n, "alpha", -1);
  vrt_node_set_string(&n, "vrt_act", "Relu");
  vrt_tensor in[2] = {NN_T(VRT_F32, 2, NN_DIMS(2, 3), a23), NN_T(VRT_F32, 2, NN_DIMS(3, 2), b32)}, out;
  assert_int_equal(nn_run(&n, in, 2, &out, 1), 0);
  nn_expect_f32(&out, (const float[]){0, 0, 0, 0}, 4, 0);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
  /* fast vs reference on a random shape with every attribute */
  float *A = nn_rand(37 * 19, 1), *B = nn_rand(23 * 37, 2), *C = nn_rand(23, 3);
  n = op_test_node(VRT_OP_Gemm, 3, 1);
  vrt_node_set_int(&n, "transA", 1);
  vrt_node_set_int(&n, "transB", 1);
  vrt_node_set_float(&n, "alpha", 0.7f);
  vrt_node_set_float(&n, "beta", -1.3f);
  vrt_tensor r[3] = {NN_T(VRT_F32, 2, NN_DIMS(37, 19), A), NN_T(VRT_F32, 2, NN_DIMS(23, 37), B),
                     NN_T(VRT_F32, 2, NN_DIMS(1, 23), C)};
  assert_true(nn_fast_vs_ref(&n, r, 3) < 1e-4);
  op_test_node_free(&n);
  free(A);
  free(B);
  free(C);
}

static void einsum_case(const char *eq, int nin, const vrt_tensor *in, const float *want, int64_t nwant, int ndim) {
  vrt_node n = op_test_node(VRT_OP_Einsum, nin, 1);
  vrt_node_set_string(&n, "equation", eq);
  vrt_tensor out;
  int rc = nn_run(&n, in, nin, &out, 1);
  if (rc) fprintf(stderr, "%s: %s\n", eq, vrt_last_error());
  assert_int_equal(rc, 0);
  assert_int_equal(out.ndim, ndim);
  nn_expect_f32(&out, want, nwant, 1e-4);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
}

static void test_einsum(void **state) {
  vrt_tensor mm[2] = {NN_T(VRT_F32, 2, NN_DIMS(2, 3), a23), NN_T(VRT_F32, 2, NN_DIMS(3, 2), b32)};
  einsum_case("ij,jk->ik", 2, mm, (const float[]){58, 64, 139, 154}, 4, 2);
  einsum_case("ij,jk", 2, mm, (const float[]){58, 64, 139, 154}, 4, 2); /* implicit output */
  vrt_tensor one = NN_T(VRT_F32, 2, NN_DIMS(2, 3), a23);
  einsum_case("ij->ji", 1, &one, (const float[]){1, 4, 2, 5, 3, 6}, 6, 2);
  einsum_case("ij->", 1, &one, (const float[]){21}, 1, 0);
  einsum_case("ij->i", 1, &one, (const float[]){6, 15}, 2, 1);
  einsum_case("...j->...", 1, &one, (const float[]){6, 15}, 2, 1);
  const float sq[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  vrt_tensor s = NN_T(VRT_F32, 2, NN_DIMS(3, 3), sq);
  einsum_case("ii->i", 1, &s, (const float[]){1, 5, 9}, 3, 1);
  einsum_case("ii", 1, &s, (const float[]){15}, 1, 0); /* trace */
  /* batched matmul with a broadcast ellipsis: [2,1,3] x [3,1] */
  vrt_tensor bm[2] = {NN_T(VRT_F32, 3, NN_DIMS(2, 1, 3), a23), NN_T(VRT_F32, 2, NN_DIMS(3, 1), b32)};
  einsum_case("...ij,jk->...ik", 2, bm, (const float[]){50, 122}, 2, 3);
  /* errors */
  vrt_node n = op_test_node(VRT_OP_Einsum, 1, 1);
  vrt_node_set_string(&n, "equation", "ij,jk->ik");
  vrt_tensor out;
  assert_int_equal(nn_run(&n, &one, 1, &out, 1), VRT_EINVAL);
  op_test_node_free(&n);
  n = op_test_node(VRT_OP_Einsum, 1, 1);
  vrt_node_set_string(&n, "equation", "ijk->i"); /* rank mismatch */
  assert_int_equal(nn_run(&n, &one, 1, &out, 1), VRT_ESHAPE);
  op_test_node_free(&n);
  n = op_test_node(VRT_OP_Einsum, 1, 1);
  vrt_node_set_string(&n, "equation", "ij->k"); /* unknown output label */
  assert_int_equal(nn_run(&n, &one, 1, &out, 1), VRT_EINVAL);
  op_test_node_free(&n);
}

/* The GEMM path of two-operand Einsum against the general loop. */
static void test_einsum_fast_vs_ref(void **state) {
  struct {
    const char *eq;
    int na, nb;
    int64_t a[4], b[4];
  } cases[] = {
      {"bij,bjk->bik", 3, 3, {3, 5, 7}, {3, 7, 4}},
      {"bhqd,bhkd->bhqk", 4, 4, {2, 3, 5, 8}, {2, 3, 6, 8}},
      {"ij,kj->ik", 2, 2, {9, 4}, {5, 4}},
      {"bij,jk->kbi", 3, 2, {2, 3, 4}, {4, 6}},
      {"i,j->ij", 1, 1, {5}, {3}},
      {"ij,ij->i", 2, 2, {4, 6}, {4, 6}},
      {"...ij,...jk->...ik", 3, 3, {2, 3, 4}, {2, 4, 5}},
      {"ii,ij->j", 2, 2, {4, 4}, {4, 3}}, /* diagonal: general loop */
      {"ij,jk", 2, 2, {3, 4}, {4, 2}},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    int64_t na = vrt__numel(cases[c].a, cases[c].na), nb = vrt__numel(cases[c].b, cases[c].nb);
    float *A = nn_rand(na, (uint32_t)c + 5), *B = nn_rand(nb, (uint32_t)c + 55);
    vrt_node n = op_test_node(VRT_OP_Einsum, 2, 1);
    vrt_node_set_string(&n, "equation", cases[c].eq);
    vrt_tensor in[2] = {NN_T(VRT_F32, cases[c].na, cases[c].a, A), NN_T(VRT_F32, cases[c].nb, cases[c].b, B)};
    double d = nn_fast_vs_ref(&n, in, 2);
    if (d > 1e-4) fprintf(stderr, "%s: diff %g\n", cases[c].eq, d);
    assert_true(d <= 1e-4);
    op_test_node_free(&n);
    free(A);
    free(B);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_matmul_2d_and_1d), cmocka_unit_test(test_matmul_broadcast),
      cmocka_unit_test(test_matmul_fused),     cmocka_unit_test(test_matmul_fast_vs_ref),
      cmocka_unit_test(test_gemm),             cmocka_unit_test(test_einsum),
      cmocka_unit_test(test_einsum_fast_vs_ref),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
