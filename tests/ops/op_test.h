/* Helpers for per-op tests: build a one-node graph by hand, run it with
 * vrt_node_run1, compare against an expected array. Header-only. */
#ifndef VIGIL_TESTS_OP_TEST_H
#define VIGIL_TESTS_OP_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "ir.h"
#include "model.h"
#include "ops.h"

/* A standalone node with no graph: inputs/outputs are given as tensors to
 * vrt_node_run1 directly. Free with op_test_node_free. */
static inline vrt_node op_test_node(vrt_op op, int nin, int nout) {
  vrt_node n;
  memset(&n, 0, sizeof n);
  n.op = op;
  n.name = strdup("test_node");
  n.op_type = strdup(vrt_op_name(op));
  n.nin = nin;
  n.nout = nout;
  n.in = calloc((size_t)(nin ? nin : 1), sizeof(int));
  n.out = calloc((size_t)(nout ? nout : 1), sizeof(int));
  for (int i = 0; i < nin; i++) n.in[i] = i;
  for (int i = 0; i < nout; i++) n.out[i] = nin + i;
  return n;
}

static inline void op_test_node_free(vrt_node *n) {
  if (n->params_free) n->params_free(n->params);
  for (int k = 0; k < n->nattr; k++) vrt_attr_clear(&n->attrs[k]);
  free(n->attrs);
  free(n->in);
  free(n->out);
  free(n->name);
  free(n->op_type);
}

static inline vrt_tensor op_test_tensor(vrt_dtype dt, int ndim, const int64_t *dims, const void *data) {
  vrt_tensor t;
  memset(&t, 0, sizeof t);
  t.dtype = dt;
  t.ndim = ndim;
  for (int i = 0; i < ndim; i++) t.dims[i] = dims[i];
  size_t bytes = 0;
  vrt__tensor_bytes(&t, &bytes);
  t.data = (void *)data;
  t.nbytes = bytes;
  return t;
}

/* max |a-b| over n floats */
static inline double op_test_maxdiff(const float *a, const float *b, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - (double)b[i]);
    if (isnan(a[i]) != isnan(b[i])) return INFINITY;
    if (d > m) m = d;
  }
  return m;
}

#ifdef assert_int_equal
/* Graph g as a model: input x (x < 0: g's inputs are set already) and the
 * one output y, loaded with lp; the test fails (saying why) when it does not
 * load. Needs cmocka.h included first. */
static inline vrt_model_t *op_test_model(vrt_graph *g, int x, int y, vrt_load_params lp) {
  if (x >= 0) {
    g->inputs = malloc(sizeof(int));
    g->inputs[0] = x;
    g->ninputs = 1;
  }
  g->outputs = malloc(sizeof(int));
  g->outputs[0] = y;
  g->noutputs = 1;
  g->values[y].flags |= VRT_VAL_OUTPUT;
  vrt_model_t *m = NULL;
  int rc = vrt__model_from_graph(&m, g, lp);
  if (rc) fprintf(stderr, "load: %s\n", vrt_last_error());
  assert_int_equal(rc, 0);
  return m;
}
#endif

#ifdef OP_TEST_RNG_SEED
/* The random-shape tests' generator (define OP_TEST_RNG_SEED before the
 * include): one LCG stream per test file, the same numbers run to run. */
static uint32_t rng = OP_TEST_RNG_SEED;
static inline uint32_t rnd(void) {
  rng = rng * 1664525u + 1013904223u;
  return rng >> 8;
}
static inline int irand(int lo, int hi) { return lo + (int)(rnd() % (uint32_t)(hi - lo + 1)); }
static inline float frand(void) { return (float)(rnd() % 2001) / 1000.0f - 1.0f; }
#ifndef OP_TEST_OWN_RAND_BUF
/* n values in [-1, 1] (malloc'd; at least one slot). */
static inline float *rand_buf(int64_t n) {
  float *p = malloc(sizeof(float) * (size_t)(n ? n : 1));
  for (int64_t i = 0; i < n; i++) p[i] = frand();
  return p;
}
#endif
#endif

#endif
