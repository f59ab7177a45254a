/* Helpers shared by the nn-family op tests (tests/ops/test_nn_*.c): run a
 * node, random data, fast-path vs reference comparison. Header-only. */
#ifndef VIGIL_TESTS_TEST_NN_UTIL_H
#define VIGIL_TESTS_TEST_NN_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "op_test.h"

/* Deterministic pseudo-random floats in [-1, 1). */
static inline void nn_fill(float *p, int64_t n, uint32_t seed) {
  uint32_t s = seed * 2654435761u + 1;
  for (int64_t i = 0; i < n; i++) {
    s = s * 1664525u + 1013904223u;
    p[i] = (float)((s >> 8) & 0xffff) / 32768.0f - 1.0f;
  }
}

static inline float *nn_rand(int64_t n, uint32_t seed) {
  float *p = malloc(sizeof(float) * (size_t)(n ? n : 1));
  nn_fill(p, n, seed);
  return p;
}

/* Runs node n (must have nout outputs); returns rc. */
static inline int nn_run(vrt_node *n, const vrt_tensor *in, int nin, vrt_tensor *out, int nout) {
  const vrt_tensor *ptr[16];
  for (int i = 0; i < nin; i++) ptr[i] = in[i].dtype ? &in[i] : NULL;
  return vrt_node_run1(n, ptr, nin, out, nout);
}

static inline void nn_out_free(vrt_tensor *out, int nout) {
  for (int i = 0; i < nout; i++) {
    vrt__aligned_free(out[i].data);
    out[i].data = NULL;
  }
}

/* Runs n with the fast path and with VRT_REFERENCE=1; returns max |diff| of
 * output 0 (float32) and checks the shapes agree. */
static inline double nn_fast_vs_ref(vrt_node *n, const vrt_tensor *in, int nin) {
  vrt_tensor a, b;
  unsetenv("VRT_REFERENCE");
  int rc = nn_run(n, in, nin, &a, 1);
  if (rc) fprintf(stderr, "fast: %s\n", vrt_last_error());
  assert_int_equal(rc, 0);
  setenv("VRT_REFERENCE", "1", 1);
  rc = nn_run(n, in, nin, &b, 1);
  unsetenv("VRT_REFERENCE");
  assert_int_equal(rc, 0);
  assert_int_equal(a.ndim, b.ndim);
  for (int i = 0; i < a.ndim; i++) assert_int_equal(a.dims[i], b.dims[i]);
  double d = op_test_maxdiff(a.data, b.data, vrt_tensor_numel(&a));
  nn_out_free(&a, 1);
  nn_out_free(&b, 1);
  return d;
}

static inline void nn_expect_f32(const vrt_tensor *t, const float *want, int64_t n, double tol) {
  assert_int_equal(t->dtype, VRT_F32);
  assert_int_equal(vrt_tensor_numel(t), n);
  const float *got = t->data;
  for (int64_t i = 0; i < n; i++) {
    if (fabs((double)got[i] - (double)want[i]) > tol) {
      fprintf(stderr, "element %lld: got %g want %g\n", (long long)i, got[i], want[i]);
      fail();
    }
  }
}

#define NN_DIMS(...) ((const int64_t[]){__VA_ARGS__})
#define NN_T(dt, nd, dims, data) op_test_tensor(dt, nd, dims, data)

#endif
