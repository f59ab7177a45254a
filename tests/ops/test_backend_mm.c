/* The oneDNN matmul kernels against the reference kernels: one-node MatMul /
 * Gemm graphs with constant weights on random shapes (batched A, bias,
 * transB, fused activations; Gemm attributes oneDNN is not given fall back
 * to the op's own kernel), VrtAttention with and without masks,
 * LayerNormalization, weights
 * packed once per model, and bf16 on request. The second (planned) run of a
 * session goes through the backend; the third runs with VRT_REFERENCE=1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dnnl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "exec.h"
#include "model.h"
#define OP_TEST_RNG_SEED 4242u
#include "op_test.h"

static int add_input(vrt_graph *g, const char *name, int nd, const int64_t *dims) {
  int v = vrt_graph_add_value(g, name, VRT_F32, nd, dims);
  g->values[v].flags |= VRT_VAL_INPUT;
  g->inputs = realloc(g->inputs, sizeof(int) * (size_t)(g->ninputs + 1));
  g->inputs[g->ninputs++] = v;
  return v;
}

static int add_const(vrt_graph *g, const char *name, int nd, const int64_t *dims) {
  int64_t n = vrt__numel(dims, nd);
  return vrt_graph_add_const(g, name, VRT_F32, nd, dims, rand_buf(n), sizeof(float) * (size_t)n, false);
}

static int load_bf16; /* vrt_load_params.bf16 of the models finish() makes */

static vrt_model_t *finish(vrt_graph *g, int y) {
  vrt_load_params lp = vrt_load_default_params();
  lp.bf16 = load_bf16;
  return op_test_model(g, -1, y, lp);
}

/* Unplanned, planned (backend) and reference runs of one session on random
 * inputs; returns max |planned - reference| / (1 + max |reference|). */
static double run_vs_ref(vrt_model_t *m) {
  vrt_session_t *s;
  assert_int_equal(vrt_session_create(&s, m, vrt_session_default_params()), 0);
  int nin = vrt_model_num_inputs(m);
  vrt_tensor in[4];
  float *bufs[4];
  for (int i = 0; i < nin; i++) {
    const vrt_tensor *t = vrt_model_input(m, i);
    bufs[i] = rand_buf(vrt_tensor_numel(t));
    in[i] = op_test_tensor(VRT_F32, t->ndim, t->dims, bufs[i]);
    in[i].name = t->name;
  }
  const vrt_tensor *out;
  int nout;
  int rc = vrt_session_run(s, in, nin, &out, &nout);
  if (rc) fprintf(stderr, "run: %s\n", vrt_last_error());
  assert_int_equal(rc, 0);
  assert_int_equal(vrt_session_run(s, in, nin, &out, &nout), 0);
  int64_t ny = vrt_tensor_numel(&out[0]);
  float *fast = malloc(sizeof(float) * (size_t)ny);
  memcpy(fast, out[0].data, sizeof(float) * (size_t)ny);
  setenv("VRT_REFERENCE", "1", 1);
  assert_int_equal(vrt_session_run(s, in, nin, &out, &nout), 0);
  unsetenv("VRT_REFERENCE");
  double mx = 0;
  const float *ref = out[0].data;
  for (int64_t i = 0; i < ny; i++) mx = fmax(mx, fabs(ref[i]));
  double d = op_test_maxdiff(fast, ref, ny) / (1 + mx);
  free(fast);
  for (int i = 0; i < nin; i++) free(bufs[i]);
  vrt_session_free(s);
  return d;
}

typedef struct mm_case {
  bool gemm, tb, bias, bias2d, alpha; /* alpha: Gemm alpha 0.5 (not mapped: own kernel) */
  int rank;
  int64_t dims[4], K, N;
  const char *act;
} mm_case;

static vrt_model_t *mm_model(const mm_case *c) {
  vrt_graph *g = vrt_graph_new();
  int64_t ad[4];
  memcpy(ad, c->dims, sizeof ad);
  ad[c->rank - 1] = c->K;
  int a = add_input(g, "a", c->rank, ad);
  int w = add_const(g, "w", 2, c->tb ? (int64_t[]){c->N, c->K} : (int64_t[]){c->K, c->N});
  int ins[3] = {a, w, -1}, nin = 2;
  if (c->bias) ins[nin++] = add_const(g, "b", c->bias2d ? 2 : 1, c->bias2d ? (int64_t[]){1, c->N} : (int64_t[]){c->N});
  int y = vrt_graph_add_value(g, "y", VRT_UNDEFINED, -1, NULL);
  vrt_op op = c->gemm ? VRT_OP_Gemm : VRT_OP_MatMul;
  vrt_graph_add_node(g, op, "mm", vrt_op_name(op), ins, nin, &y, 1);
  vrt_node *n = &g->nodes[0];
  if (c->gemm && c->tb) vrt_node_set_int(n, "transB", 1);
  if (c->alpha) vrt_node_set_float(n, "alpha", 0.5f);
  if (c->act) vrt_node_set_string(n, "vrt_act", c->act);
  return finish(g, y);
}

static void test_matmul_vs_reference(void **state) {
  (void)state;
  static const char *acts[] = {NULL, "Relu", "Gelu", "Sigmoid", "Tanh", "HardSwish", "SiLU"};
  int taken = 0;
  for (int trial = 0; trial < 40; trial++) {
    mm_case c = {.gemm = trial % 3 == 2, .K = irand(1, 70), .N = irand(1, 90)};
    c.rank = c.gemm ? 2 : irand(2, 4);
    for (int i = 0; i < c.rank - 1; i++) c.dims[i] = irand(1, i == c.rank - 2 ? 40 : 3);
    c.tb = c.gemm && (rnd() & 1);
    c.bias = rnd() % 3 != 0;
    c.bias2d = c.gemm && c.bias && (rnd() & 1);
    c.alpha = c.gemm && rnd() % 4 == 0;
    c.act = acts[rnd() % 7];
    vrt_model_t *m = mm_model(&c);
    double d = run_vs_ref(m);
    if (d >= 1e-4)
      fprintf(stderr, "trial %d: %s rank %d K %lld N %lld tb %d bias %d act %s: diff %g\n", trial,
              c.gemm ? "Gemm" : "MatMul", c.rank, (long long)c.K, (long long)c.N, c.tb, c.bias, c.act ? c.act : "-",
              d);
    assert_true(d < 1e-4);
    /* weights packed exactly when the backend took the node */
    if (!c.alpha) assert_non_null(m->packed);
    else assert_null(m->packed);
    taken += m->packed != NULL;
    vrt_model_free(m);
  }
  assert_true(taken > 20);
}

/* Two sessions of one model share one packed copy of the weights. */
static void test_matmul_weights_shared(void **state) {
  (void)state;
  mm_case c = {.rank = 3, .dims = {2, 17}, .K = 64, .N = 48, .bias = true, .act = "Gelu"};
  vrt_model_t *m = mm_model(&c);
  assert_true(run_vs_ref(m) < 1e-4);
  size_t once = m->packed_bytes;
  assert_true(once >= 64 * 48 * sizeof(float));
  assert_true(run_vs_ref(m) < 1e-4);
  assert_int_equal(m->packed_bytes, once);
  vrt_model_free(m);
}

/* A weight of 64 MiB or more under a batch-1 Gemm (VGG's classifier) runs
 * as the model holds it: oneDNN takes the node, nothing is packed (the model
 * is not resident twice), and the weight's pages stay (pinned for good). */
static void big_weight_as_is(bool tb) {
  /* transB: an inner product over the rows; else a MatMul over [K, N] */
  mm_case c = {.gemm = tb, .tb = tb, .bias = true, .rank = 2, .dims = {1}, .K = 4096, .N = 4096, .act = "Relu"};
  vrt_model_t *m = mm_model(&c);
  vrt_session_t *s;
  assert_int_equal(vrt_session_create(&s, m, vrt_session_default_params()), 0);
  float *x = rand_buf(c.K);
  vrt_tensor in = op_test_tensor(VRT_F32, 2, (int64_t[]){1, c.K}, x);
  in.name = "a";
  const vrt_tensor *out;
  int nout;
  assert_int_equal(vrt_session_run(s, &in, 1, &out, &nout), 0);
  assert_int_equal(vrt_session_run(s, &in, 1, &out, &nout), 0); /* planned */
  assert_non_null(vrt__session_node_backend(s, 0));
  assert_string_equal(vrt__session_node_backend(s, 0), "onednn");
  assert_int_equal(m->packed_bytes, 0);
  size_t dropped = 1;
  vrt__model_weight_stats(m, NULL, &dropped);
  assert_int_equal(dropped, 0);
  float *fast = malloc(sizeof(float) * (size_t)c.N);
  memcpy(fast, out[0].data, sizeof(float) * (size_t)c.N);
  setenv("VRT_REFERENCE", "1", 1);
  assert_int_equal(vrt_session_run(s, &in, 1, &out, &nout), 0);
  unsetenv("VRT_REFERENCE");
  double mx = 0;
  const float *ref = out[0].data;
  for (int64_t i = 0; i < c.N; i++) mx = fmax(mx, fabs(ref[i]));
  assert_true(mx > 0);
  assert_true(op_test_maxdiff(fast, ref, c.N) / (1 + mx) < 1e-4);
  free(fast);
  free(x);
  vrt_session_free(s);
  vrt_model_free(m);
}

static void test_matmul_big_weight_as_is(void **state) {
  (void)state;
  big_weight_as_is(true);
  big_weight_as_is(false);
}

/* VrtAttention(q, kt, v [, mask]) on random shapes; mask shapes the backend
 * maps ([N], [M, N], [1.., M, N]) and one it refuses ([B, 1, M, N] over
 * [B, H, ...]: the op's own kernel). */
static void test_attention_vs_reference(void **state) {
  (void)state;
  for (int trial = 0; trial < 24; trial++) {
    int rank = irand(3, 4);
    int64_t b0 = irand(1, 3), h = irand(1, 4), M = irand(1, 40), N = irand(1, 40), D = irand(1, 24),
            Dv = irand(1, 24);
    int64_t qd[4], kd[4], vd[4];
    int nb = rank - 2;
    int64_t bd[2] = {b0, h};
    for (int i = 0; i < nb; i++) qd[i] = kd[i] = vd[i] = bd[i];
    qd[nb] = M, qd[nb + 1] = D, kd[nb] = D, kd[nb + 1] = N, vd[nb] = N, vd[nb + 1] = Dv;
    vrt_graph *g = vrt_graph_new();
    int q = add_input(g, "q", rank, qd), k = add_input(g, "k", rank, kd), v = add_input(g, "v", rank, vd);
    int ins[4] = {q, k, v, -1}, nin = 3;
    int mk = trial % 4;
    if (mk == 1) ins[nin++] = add_input(g, "mask", 1, (int64_t[]){N});
    if (mk == 2) ins[nin++] = add_input(g, "mask", 2, (int64_t[]){M, N});
    if (mk == 3) {
      int64_t md[4] = {rank == 4 ? b0 : 1, 1, M, N};
      ins[nin++] = add_input(g, "mask", 4, md);
      if (rank == 3) { /* [1, 1, M, N] over [b, M, N]: rank 4 mask on rank 3 scores is invalid */
        g->values[ins[3]].t.ndim = 3;
        g->values[ins[3]].t.dims[0] = 1, g->values[ins[3]].t.dims[1] = M, g->values[ins[3]].t.dims[2] = N;
      }
    }
    int y = vrt_graph_add_value(g, "y", VRT_UNDEFINED, -1, NULL);
    vrt_graph_add_node(g, VRT_OP_VrtAttention, "attn", "VrtAttention", ins, nin, &y, 1);
    vrt_node_set_float(&g->nodes[0], "scale", 1.0f / sqrtf((float)D) * (trial % 2 ? 1.0f : 3.0f));
    vrt_model_t *m = finish(g, y);
    double d = run_vs_ref(m);
    if (d >= 1e-4) fprintf(stderr, "trial %d rank %d mask %d: diff %g\n", trial, rank, mk, d);
    assert_true(d < 1e-4);
    vrt_model_free(m);
  }
}

/* A VrtAttention node with inconsistent shapes is an error at load, not a
 * crash. */
static void test_attention_bad_shapes(void **state) {
  (void)state;
  vrt_graph *g = vrt_graph_new();
  int q = add_input(g, "q", 3, (int64_t[]){2, 5, 8}), k = add_input(g, "k", 3, (int64_t[]){2, 7, 5});
  int v = add_input(g, "v", 3, (int64_t[]){2, 5, 4});
  int y = vrt_graph_add_value(g, "y", VRT_UNDEFINED, -1, NULL);
  vrt_graph_add_node(g, VRT_OP_VrtAttention, "attn", "VrtAttention", (int[]){q, k, v}, 3, &y, 1);
  g->values[y].flags |= VRT_VAL_OUTPUT;
  g->outputs = malloc(sizeof(int));
  g->outputs[0] = y;
  g->noutputs = 1;
  vrt_model_t *m = NULL;
  assert_true(vrt__model_from_graph(&m, g, vrt_load_default_params()) < 0);
  assert_null(m);
}

/* MatMul of two activations with numpy-broadcast batch dims (ranks 2..4),
 * against the reference. */
static void test_matmul_dynamic_vs_reference(void **state) {
  (void)state;
  for (int trial = 0; trial < 24; trial++) {
    int ra = irand(2, 4), rb = irand(2, 4), r = ra > rb ? ra : rb;
    int64_t full[4], ad[4], bd[4];
    for (int i = 0; i < r - 2; i++) full[i] = irand(1, 3);
    int64_t M = irand(1, 30), K = irand(1, 40), N = irand(1, 30);
    for (int i = 0; i < ra - 2; i++) ad[i] = rnd() % 3 == 0 ? 1 : full[r - ra + i];
    for (int i = 0; i < rb - 2; i++) bd[i] = rnd() % 3 == 0 ? 1 : full[r - rb + i];
    ad[ra - 2] = M, ad[ra - 1] = K, bd[rb - 2] = K, bd[rb - 1] = N;
    vrt_graph *g = vrt_graph_new();
    int a = add_input(g, "a", ra, ad), b = add_input(g, "b", rb, bd);
    int y = vrt_graph_add_value(g, "y", VRT_UNDEFINED, -1, NULL);
    vrt_graph_add_node(g, VRT_OP_MatMul, "mm", "MatMul", (int[]){a, b}, 2, &y, 1);
    vrt_model_t *m = finish(g, y);
    double d = run_vs_ref(m);
    if (d >= 1e-4) fprintf(stderr, "trial %d ranks %d %d: diff %g\n", trial, ra, rb, d);
    assert_true(d < 1e-4);
    vrt_model_free(m);
  }
}

/* LayerNormalization over the trailing axes (axis -1, or earlier: folded),
 * with and without bias, against the reference kernel. */
static void test_layernorm_vs_reference(void **state) {
  (void)state;
  for (int trial = 0; trial < 16; trial++) {
    int nd = irand(2, 4);
    int64_t dims[4];
    for (int i = 0; i < nd; i++) dims[i] = irand(1, i == nd - 1 ? 300 : 9);
    int axis = trial % 3 == 0 ? nd - 2 : -1;
    int first = axis < 0 ? nd - 1 : axis;
    vrt_graph *g = vrt_graph_new();
    int x = add_input(g, "x", nd, dims);
    int sc = add_const(g, "scale", nd - first, dims + first);
    int ins[3] = {x, sc, -1}, nin = 2;
    if (trial % 2) ins[nin++] = add_const(g, "bias", nd - first, dims + first);
    int y = vrt_graph_add_value(g, "y", VRT_UNDEFINED, -1, NULL);
    vrt_graph_add_node(g, VRT_OP_LayerNormalization, "ln", "LayerNormalization", ins, nin, &y, 1);
    vrt_node_set_int(&g->nodes[0], "axis", axis);
    vrt_node_set_float(&g->nodes[0], "epsilon", 1e-5f);
    vrt_model_t *m = finish(g, y);
    double d = run_vs_ref(m);
    if (d >= 1e-4) fprintf(stderr, "trial %d: diff %g\n", trial, d);
    assert_true(d < 1e-4);
    vrt_model_free(m);
  }
}

/* VRT_PRECISION=bf16 (every model), then vrt_load_params.bf16 (this model
 * only) on a CPU with bf16: close to, not equal to, float32; a model loaded
 * without the option stays float32. */
static void test_matmul_bf16(void **state) {
  (void)state;
  dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
  bool has = isa == dnnl_cpu_isa_avx512_core_bf16 || isa == dnnl_cpu_isa_avx512_core_amx;
  mm_case c = {.rank = 3, .dims = {1, 50}, .K = 96, .N = 64, .bias = true, .act = "Relu"};
  for (int how = 0; how < 3; how++) {
    if (how == 0) setenv("VRT_PRECISION", "bf16", 1);
    load_bf16 = how == 1;
    vrt_model_t *m = mm_model(&c);
    unsetenv("VRT_PRECISION");
    if (how == 0) setenv("VRT_PRECISION", "bf16", 1); /* read when the plan is made */
    double d = run_vs_ref(m);
    unsetenv("VRT_PRECISION");
    if (has && how < 2) {
      assert_true(d > 0);
      assert_true(d < 0.05);
    } else {
      assert_true(d < 1e-5);
    }
    vrt_model_free(m);
  }
  load_bf16 = 0;
}

int main(void) {
  unsetenv("VRT_REFERENCE");
  unsetenv("VRT_BACKENDS");
  unsetenv("VRT_PRECISION");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_matmul_vs_reference),    cmocka_unit_test(test_matmul_weights_shared),
      cmocka_unit_test(test_attention_vs_reference), cmocka_unit_test(test_attention_bad_shapes),
      cmocka_unit_test(test_matmul_bf16),            cmocka_unit_test(test_layernorm_vs_reference),
      cmocka_unit_test(test_matmul_dynamic_vs_reference), cmocka_unit_test(test_matmul_big_weight_as_is),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
