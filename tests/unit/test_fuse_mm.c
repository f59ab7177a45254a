/* The transformer fusion passes (fuse_mm.c) on graphs built here, shaped
 * like torch's exports: nn.MultiheadAttention (Q divided by sqrt(d) before
 * Q.Kt), CLIP-style (scores scaled after Q.Kt, plus a mask; or HF CLIP's
 * mask added on a 4-D view between two Reshapes), the erf GELU after
 * a Linear (MatMul + bias Add) and on its own. Each fuses to the expected
 * nodes, leaves alone what has a second reader, and computes what the
 * unfused graph does (VRT_FUSE=0) on the backends and on the reference
 * kernels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuse.h"
#include "model.h"
#include "ops.h"

static uint32_t rng = 31337;
static float frand(void) {
  rng = rng * 1664525u + 1013904223u;
  return (float)((rng >> 8) % 2001) / 1000.0f - 1.0f;
}

static int cnst(vrt_graph *g, const char *name, int ndim, const int64_t *dims) {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= dims[i];
  float *p = malloc(sizeof(float) * (size_t)n);
  for (int64_t i = 0; i < n; i++) p[i] = frand();
  return vrt_graph_add_const(g, name, VRT_F32, ndim, dims, p, sizeof(float) * (size_t)n, false);
}

static int scal(vrt_graph *g, const char *name, float v) {
  float *p = malloc(sizeof(float));
  *p = v;
  return vrt_graph_add_const(g, name, VRT_F32, 0, NULL, p, sizeof(float), false);
}

static int val(vrt_graph *g, const char *name) { return vrt_graph_add_value(g, name, VRT_UNDEFINED, -1, NULL); }

static int input(vrt_graph *g, const char *name, int nd, const int64_t *dims) {
  int v = vrt_graph_add_value(g, name, VRT_F32, nd, dims);
  g->values[v].flags |= VRT_VAL_INPUT;
  g->inputs = realloc(g->inputs, sizeof(int) * (size_t)(g->ninputs + 1));
  g->inputs[g->ninputs++] = v;
  return v;
}

static void output(vrt_graph *g, int v) {
  g->values[v].flags |= VRT_VAL_OUTPUT;
  g->outputs = realloc(g->outputs, sizeof(int) * (size_t)(g->noutputs + 1));
  g->outputs[g->noutputs++] = v;
}

static int node(vrt_graph *g, vrt_op op, const char *name, const int *in, int nin, int out) {
  return vrt_graph_add_node(g, op, name, vrt_op_name(op), in, nin, &out, 1);
}

enum { G_VIT, G_CLIP, G_SOFTMAX_OUT, G_LINEAR_GELU, G_GELU_HALF_FIRST, G_CLIP_VIEW };

static int shape_const(vrt_graph *g, const char *name, int n, const int64_t *v) {
  int64_t *p = malloc(sizeof(int64_t) * (size_t)n);
  memcpy(p, v, sizeof(int64_t) * (size_t)n);
  return vrt_graph_add_const(g, name, VRT_I64, 1, (int64_t[]){n}, p, sizeof(int64_t) * (size_t)n, false);
}

static vrt_graph *build(int kind) {
  vrt_graph *g = vrt_graph_new();
  if (kind == G_LINEAR_GELU || kind == G_GELU_HALF_FIRST) {
    int x = input(g, "x", 3, (int64_t[]){2, 3, 6});
    int h = x;
    if (kind == G_LINEAR_GELU) { /* Linear: MatMul + Add(bias, .) as torch writes it */
      int w = cnst(g, "w", 2, (int64_t[]){6, 10}), b = cnst(g, "b", 1, (int64_t[]){10});
      int mm = val(g, "mm");
      h = val(g, "h");
      node(g, VRT_OP_MatMul, "mm", (int[]){x, w}, 2, mm);
      node(g, VRT_OP_Add, "bias", (int[]){b, mm}, 2, h);
    }
    int d = val(g, "d"), e = val(g, "e"), a = val(g, "a"), m1 = val(g, "m1"), y = val(g, "y");
    int s2 = scal(g, "sqrt2", 1.4142135f), one = scal(g, "one", 1), half = scal(g, "half", 0.5f);
    node(g, VRT_OP_Div, "div", (int[]){h, s2}, 2, d);
    node(g, VRT_OP_Erf, "erf", &d, 1, e);
    node(g, VRT_OP_Add, "add1", (int[]){e, one}, 2, a);
    if (kind == G_LINEAR_GELU) {
      node(g, VRT_OP_Mul, "mulx", (int[]){h, a}, 2, m1);
      node(g, VRT_OP_Mul, "half", (int[]){m1, half}, 2, y);
    } else {
      node(g, VRT_OP_Mul, "half", (int[]){h, half}, 2, m1);
      node(g, VRT_OP_Mul, "mulx", (int[]){m1, a}, 2, y);
    }
    output(g, y);
    return g;
  }
  /* attention over [2 heads, 5 queries, 8], 7 keys, values of 4 */
  int q = input(g, "q", 3, (int64_t[]){2, 5, 8}), kt = input(g, "kt", 3, (int64_t[]){2, 8, 7});
  int v = input(g, "v", 3, (int64_t[]){2, 7, 4});
  int s = val(g, "s"), p = val(g, "p"), y = val(g, "y");
  if (kind == G_CLIP_VIEW) { /* HF CLIP: the mask is added on a [b=1, h=2, t, t] view */
    int mask = input(g, "mask", 4, (int64_t[]){1, 1, 5, 7});
    int raw = val(g, "raw"), r4 = val(g, "r4"), a4 = val(g, "a4");
    node(g, VRT_OP_MatMul, "qk", (int[]){q, kt}, 2, raw);
    node(g, VRT_OP_Reshape, "view4", (int[]){raw, shape_const(g, "s4", 4, (int64_t[]){1, 2, 5, 7})}, 2, r4);
    node(g, VRT_OP_Add, "mask", (int[]){r4, mask}, 2, a4);
    node(g, VRT_OP_Reshape, "view3", (int[]){a4, shape_const(g, "s3", 3, (int64_t[]){2, 5, 7})}, 2, s);
  } else if (kind == G_CLIP) {
    int mask = input(g, "mask", 2, (int64_t[]){5, 7});
    int raw = val(g, "raw"), sc = val(g, "sc");
    node(g, VRT_OP_MatMul, "qk", (int[]){q, kt}, 2, raw);
    node(g, VRT_OP_Mul, "scale", (int[]){raw, scal(g, "c", 0.35355339f)}, 2, sc);
    node(g, VRT_OP_Add, "mask", (int[]){sc, mask}, 2, s);
  } else {
    int qs = val(g, "qs");
    node(g, VRT_OP_Div, "scale", (int[]){q, scal(g, "c", 2.8284271f)}, 2, qs);
    node(g, VRT_OP_MatMul, "qk", (int[]){qs, kt}, 2, s);
  }
  node(g, VRT_OP_Softmax, "softmax", &s, 1, p);
  vrt_node_set_int(&g->nodes[g->nnodes - 1], "axis", -1);
  node(g, VRT_OP_MatMul, "pv", (int[]){p, v}, 2, y);
  output(g, y);
  if (kind == G_SOFTMAX_OUT) output(g, p);
  return g;
}

static vrt_model_t *load(int kind, bool fuse) {
  setenv("VRT_FUSE", fuse ? "1" : "0", 1);
  vrt_model_t *m = NULL;
  uint32_t seed = rng;
  rng = 5; /* same constants both times */
  int rc = vrt__model_from_graph(&m, build(kind), vrt_load_default_params());
  rng = seed;
  unsetenv("VRT_FUSE");
  if (rc) fprintf(stderr, "load: %s\n", vrt_last_error());
  assert_int_equal(rc, 0);
  return m;
}

/* Runs both models on the same random inputs (planned runs, then on the
 * reference kernels) and compares output 0. */
static void same_outputs(vrt_model_t *a, vrt_model_t *b) {
  int nin = vrt_model_num_inputs(a);
  vrt_tensor in[4];
  float *bufs[4];
  for (int i = 0; i < nin; i++) {
    const vrt_tensor *t = vrt_model_input(a, i);
    int64_t n = vrt_tensor_numel(t);
    bufs[i] = malloc(sizeof(float) * (size_t)n);
    for (int64_t k = 0; k < n; k++) bufs[i][k] = frand() * 2;
    in[i] = *t;
    in[i].data = bufs[i];
    in[i].nbytes = sizeof(float) * (size_t)n;
  }
  for (int ref = 0; ref < 2; ref++) {
    if (ref) setenv("VRT_REFERENCE", "1", 1);
    float *y[2];
    int64_t ny = 0;
    vrt_model_t *ms[2] = {a, b};
    for (int k = 0; k < 2; k++) {
      vrt_session_t *s;
      assert_int_equal(vrt_session_create(&s, ms[k], vrt_session_default_params()), 0);
      const vrt_tensor *out;
      int nout;
      for (int r = 0; r < 2; r++) assert_int_equal(vrt_session_run(s, in, nin, &out, &nout), 0);
      ny = vrt_tensor_numel(&out[0]);
      y[k] = malloc(sizeof(float) * (size_t)ny);
      memcpy(y[k], out[0].data, sizeof(float) * (size_t)ny);
      vrt_session_free(s);
    }
    for (int64_t i = 0; i < ny; i++) assert_float_equal(y[0][i], y[1][i], 1e-4 * (1 + fabsf(y[0][i])));
    free(y[0]), free(y[1]);
    unsetenv("VRT_REFERENCE");
  }
  for (int i = 0; i < nin; i++) free(bufs[i]);
}

static void check(int kind, int want_nodes, const char *want_op) {
  vrt_model_t *plain = load(kind, false), *fused = load(kind, true);
  assert_int_equal(vrt_model_num_nodes(fused), want_nodes);
  if (want_op) {
    bool found = false;
    for (int i = 0; i < vrt_model_num_nodes(fused); i++) found |= !strcmp(vrt_model_node_op(fused, i), want_op);
    assert_true(found);
  }
  same_outputs(plain, fused);
  vrt_model_free(plain);
  vrt_model_free(fused);
}

static void test_attention_mha(void **state) {
  (void)state;
  check(G_VIT, 1, "VrtAttention");
  vrt_model_t *m = load(G_VIT, true); /* the q-side 1/sqrt(8) became the scale */
  assert_float_equal(vrt_attr_float(&m->g->nodes[0], "scale", 0), 0.35355339f, 1e-6);
  assert_int_equal(m->g->nodes[0].nin, 3);
  vrt_model_free(m);
}

static void test_attention_clip_mask(void **state) {
  (void)state;
  check(G_CLIP, 1, "VrtAttention");
  vrt_model_t *m = load(G_CLIP, true);
  assert_int_equal(m->g->nodes[0].nin, 4); /* q, kt, v, mask */
  vrt_model_free(m);
}

static void test_attention_clip_mask_view(void **state) {
  (void)state;
  check(G_CLIP_VIEW, 1, "VrtAttention");
}

static void test_attention_softmax_read_twice(void **state) {
  (void)state;
  check(G_SOFTMAX_OUT, 4, "Softmax"); /* the probabilities leave the graph: nothing fused */
}

static void test_linear_gelu(void **state) {
  (void)state;
  check(G_LINEAR_GELU, 1, "MatMul");
  vrt_model_t *m = load(G_LINEAR_GELU, true);
  assert_string_equal(vrt_attr_string(&m->g->nodes[0], "vrt_act", ""), "Gelu");
  assert_int_equal(m->g->nodes[0].nin, 3); /* the bias */
  vrt_model_free(m);
}

static void test_gelu_half_first(void **state) {
  (void)state;
  check(G_GELU_HALF_FIRST, 1, "Gelu");
}

int main(void) {
  unsetenv("VRT_REFERENCE");
  unsetenv("VRT_BACKENDS");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_attention_mha),      cmocka_unit_test(test_attention_clip_mask),
      cmocka_unit_test(test_attention_softmax_read_twice), cmocka_unit_test(test_linear_gelu),
      cmocka_unit_test(test_gelu_half_first),    cmocka_unit_test(test_attention_clip_mask_view),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
