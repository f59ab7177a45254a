/* Tests for the ONNX loader (src/rt/onnx): tiny models written at test time by
 * tools/ref/gen_onnx_test_models.py, malformed bytes built here, and the real
 * PP-OCR files from $VIGIL_HOME/models/ocr. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "loaders.h"
#include "model.h"
#include "ops.h"

static char tmpdir[256];

/* $VIGIL_HOME/<rel> (default ~/.cache/vigil); this test links vrt alone, so it
 * resolves the asset root itself. Fails when the asset is missing. */
static void require_asset(char *buf, size_t len, const char *rel) {
  const char *home = getenv("VIGIL_HOME");
  if (home && home[0]) snprintf(buf, len, "%s/%s", home, rel);
  else snprintf(buf, len, "%s/.cache/vigil/%s", getenv("HOME") ? getenv("HOME") : "", rel);
  if (access(buf, R_OK) != 0) fail_msg("%s is missing: run `make deps`", buf);
}

static const char *model_path(const char *name) {
  static char buf[512];
  snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
  return buf;
}

static int group_setup(void **state) {
  (void)state;
  const char *src = getenv("VIGIL_SOURCE_DIR");
  if (!src) {
    fprintf(stderr, "VIGIL_SOURCE_DIR is not set (run through ctest)\n");
    return -1;
  }
  snprintf(tmpdir, sizeof tmpdir, "%s/vigil-onnx-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(tmpdir)) return -1;
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tools/ref/gen_onnx_test_models.py' '%s'", src, tmpdir);
  if (system(cmd) != 0) {
    fprintf(stderr, "generating test models failed (needs python3-onnx and python3-numpy; run `make deps`)\n");
    return -1;
  }
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

static vrt_graph *load_ok(const char *name) {
  vrt_graph *g = NULL;
  int rc = vrt__onnx_load_file(&g, model_path(name));
  if (rc) fprintf(stderr, "%s: %s\n", name, vrt_last_error());
  assert_int_equal(rc, 0);
  assert_non_null(g);
  return g;
}

/* Loading must fail with code and a message containing every needle. */
static void load_fails(const char *name, int code, const char *needle1, const char *needle2) {
  vrt_graph *g = (vrt_graph *)0x1;
  int rc = vrt__onnx_load_file(&g, model_path(name));
  const char *msg = vrt_last_error();
  if (rc != code) fprintf(stderr, "%s: rc %d: %s\n", name, rc, msg);
  assert_int_equal(rc, code);
  assert_ptr_equal(g, (vrt_graph *)0x1); /* *out untouched on failure */
  if (needle1) assert_non_null(strstr(msg, needle1));
  if (needle2) assert_non_null(strstr(msg, needle2));
}

static const vrt_value *value(const vrt_graph *g, const char *name) {
  int i = vrt_graph_find_value(g, name);
  assert_true(i >= 0);
  return &g->values[i];
}

static int count_op(const vrt_graph *g, int op) {
  int n = 0;
  for (int i = 0; i < g->nnodes; i++) n += g->nodes[i].op == op;
  return n;
}

static const vrt_node *node(const vrt_graph *g, const char *name) {
  for (int i = 0; i < g->nnodes; i++)
    if (strcmp(g->nodes[i].name, name) == 0) return &g->nodes[i];
  fail_msg("no node '%s'", name);
  return NULL;
}

static const char *meta(const vrt_graph *g, const char *key) {
  for (int i = 0; i < g->nmeta; i++)
    if (strcmp(g->meta[i].key, key) == 0) return g->meta[i].val;
  return NULL;
}

static void test_add_model(void **state) {
  (void)state;
  vrt_graph *g = load_ok("add.onnx");
  assert_int_equal(g->opset, 17);
  assert_int_equal(g->ninputs, 1);
  const vrt_value *x = &g->values[g->inputs[0]];
  assert_string_equal(x->t.name, "X");
  assert_int_equal(x->t.dtype, VRT_F32);
  assert_int_equal(x->t.ndim, 2);
  assert_int_equal(x->t.dims[0], -1);
  assert_string_equal(x->dim_names[0], "N");
  assert_int_equal(x->t.dims[1], 3);
  assert_true(x->flags & VRT_VAL_INPUT);
  const vrt_value *w = value(g, "W");
  assert_true(w->flags & VRT_VAL_CONST);
  assert_int_equal(w->t.nbytes, 12);
  assert_true(((const float *)w->t.data)[2] == 2.0f);
  assert_int_equal(g->nnodes, 1);
  assert_int_equal(g->nodes[0].op, VRT_OP_Add);
  assert_string_equal(g->nodes[0].name, "add0");
  assert_int_equal(g->noutputs, 1);
  assert_true(g->values[g->outputs[0]].flags & VRT_VAL_OUTPUT);
  assert_string_equal(meta(g, "author"), "vigil");
  assert_int_equal(vrt_graph_validate(g), 0);
  vrt_graph_free(g);
}

static void test_constants(void **state) {
  (void)state;
  vrt_graph *g = load_ok("constants.onnx");
  /* Constant nodes are gone: only Mul, Add, Add, Cast remain */
  assert_int_equal(g->nnodes, 4);
  assert_int_equal(count_op(g, VRT_OP_Constant), 0);
  const vrt_value *v = value(g, "c_t");
  assert_true(v->flags & VRT_VAL_CONST);
  assert_int_equal(v->t.ndim, 2);
  assert_true(((const float *)v->t.data)[3] == 4.0f); /* from float_data, not raw */
  v = value(g, "c_f");
  assert_int_equal(v->t.dtype, VRT_F32);
  assert_int_equal(v->t.ndim, 0);
  assert_true(*(const float *)v->t.data == 2.5f);
  v = value(g, "c_fs");
  assert_int_equal(v->t.dims[0], 3);
  assert_true(((const float *)v->t.data)[2] == 3.0f);
  v = value(g, "c_i");
  assert_int_equal(v->t.dtype, VRT_I64);
  assert_int_equal(*(const int64_t *)v->t.data, -7);
  v = value(g, "c_is");
  assert_int_equal(((const int64_t *)v->t.data)[1], -5);
  v = value(g, "c_i32");
  assert_int_equal(v->t.dtype, VRT_I32);
  assert_int_equal(((const int32_t *)v->t.data)[0], -1);
  assert_int_equal(((const int32_t *)v->t.data)[2], 7);
  v = value(g, "c_b");
  assert_int_equal(v->t.dtype, VRT_BOOL);
  assert_int_equal(((const uint8_t *)v->t.data)[0], 1);
  assert_int_equal(((const uint8_t *)v->t.data)[1], 0);
  v = value(g, "h"); /* fp16 stays fp16 */
  assert_int_equal(v->t.dtype, VRT_F16);
  assert_int_equal(v->t.nbytes, 4);
  assert_true(vrt__f16_to_f32(((const uint16_t *)v->t.data)[1]) == -2.0f);
  /* a constant can be a graph output */
  assert_int_equal(g->noutputs, 6);
  assert_true(value(g, "c_fs")->flags & VRT_VAL_OUTPUT);
  vrt_graph_free(g);
}

static const vrt_value *input_of(const vrt_graph *g, const vrt_node *n, int k) {
  assert_true(k < n->nin);
  assert_true(n->in[k] >= 0);
  return &g->values[n->in[k]];
}

static void test_opset9_normalised(void **state) {
  (void)state;
  vrt_graph *g = load_ok("opset9.onnx");
  assert_int_equal(g->opset, 9);
  const vrt_node *n = node(g, "squeeze0");
  assert_int_equal(n->nin, 2);
  const vrt_value *v = input_of(g, n, 1);
  assert_true(v->flags & VRT_VAL_CONST);
  assert_int_equal(v->t.dtype, VRT_I64);
  assert_int_equal(*(const int64_t *)v->t.data, 0);
  assert_null(vrt_node_attr(n, "axes"));
  n = node(g, "slice0");
  assert_int_equal(n->nin, 4);
  assert_int_equal(*(const int64_t *)input_of(g, n, 2)->t.data, 2);  /* ends */
  assert_int_equal(*(const int64_t *)input_of(g, n, 3)->t.data, 3);  /* axes */
  n = node(g, "clip0");
  assert_int_equal(n->nin, 3);
  assert_true(*(const float *)input_of(g, n, 2)->t.data == 6.0f);
  assert_int_equal(input_of(g, n, 1)->t.ndim, 0);
  n = node(g, "rmean0");
  assert_int_equal(n->nin, 2);
  assert_int_equal(*(const int64_t *)input_of(g, n, 1)->t.data, -1);
  assert_int_equal(vrt_attr_int(n, "keepdims", 0), 1);
  n = node(g, "pad0");
  assert_int_equal(n->nin, 3);
  assert_int_equal(input_of(g, n, 1)->t.dims[0], 8);
  assert_true(*(const float *)input_of(g, n, 2)->t.data == 1.5f);
  n = node(g, "up0"); /* Upsample -> Resize(X, roi omitted, scales) */
  assert_int_equal(n->op, VRT_OP_Resize);
  assert_int_equal(n->nin, 3);
  assert_int_equal(n->in[1], -1);
  assert_string_equal(input_of(g, n, 2)->t.name, "sc");
  assert_string_equal(vrt_attr_string(n, "coordinate_transformation_mode", ""), "asymmetric");
  assert_string_equal(vrt_attr_string(n, "nearest_mode", ""), "floor");
  /* Softmax(axis=1) of opset 9 on a 4-D input: Shape + Flatten + Softmax + Reshape */
  n = node(g, "softmax0/flatten");
  assert_int_equal(n->op, VRT_OP_Flatten);
  assert_int_equal(vrt_attr_int(n, "axis", -5), 1);
  n = node(g, "softmax0");
  assert_int_equal(vrt_attr_int(n, "axis", -5), 1);
  assert_int_equal(node(g, "softmax0/reshape")->op, VRT_OP_Reshape);
  /* ... but on the last axis of a declared 4-D output it stays one node */
  n = node(g, "softmax1");
  assert_int_equal(vrt_attr_int(n, "axis", -5), 3);
  assert_string_equal(input_of(g, n, 0)->t.name, "X");
  n = node(g, "topk0");
  assert_int_equal(n->nin, 2);
  assert_int_equal(*(const int64_t *)input_of(g, n, 1)->t.data, 2);
  n = node(g, "drop0"); /* ratio attr -> input; unused mask output dropped */
  assert_int_equal(n->nin, 2);
  assert_int_equal(n->nout, 1);
  n = node(g, "split0");
  assert_int_equal(n->nin, 2);
  assert_int_equal(((const int64_t *)input_of(g, n, 1)->t.data)[1], 3);
  assert_int_equal(n->nout, 2);
  n = node(g, "bn0"); /* training outputs named "" are dropped */
  assert_int_equal(n->nout, 1);
  assert_int_equal(vrt_graph_validate(g), 0);
  vrt_graph_free(g);
  g = load_ok("opset9_f16.onnx");
  n = node(g, "clip16");
  assert_int_equal(input_of(g, n, 2)->t.dtype, VRT_F16);
  assert_true(vrt__f16_to_f32(*(const uint16_t *)input_of(g, n, 2)->t.data) == 2.5f);
  n = node(g, "pad16"); /* its input is not known here: float32 */
  assert_int_equal(input_of(g, n, 2)->t.dtype, VRT_F32);
  vrt_graph_free(g);
}

static void test_unsorted_nodes_are_sorted(void **state) {
  (void)state;
  vrt_graph *g = load_ok("unsorted.onnx");
  assert_int_equal(g->nnodes, 3);
  assert_string_equal(g->nodes[0].name, "first");
  assert_string_equal(g->nodes[1].name, "middle");
  assert_string_equal(g->nodes[2].name, "last");
  for (int i = 0; i < g->nnodes; i++) assert_int_equal(g->values[g->nodes[i].out[0]].producer, i);
  vrt_graph_free(g);
}

static void test_graph_errors(void **state) {
  (void)state;
  load_fails("cycle.onnx", VRT_EGRAPH, "cycle", "node_");
  load_fails("cycle2.onnx", VRT_EGRAPH, "cycle", "loop_");
  load_fails("unknown_op.onnx", VRT_EUNSUPPORTED, "FancyOp", "mystery_node");
  load_fails("foreign_domain.onnx", VRT_EUNSUPPORTED, "com.microsoft:FusedConv", "ms_node");
  load_fails("undefined_input.onnx", VRT_EGRAPH, "ghost", "add_ghost");
  load_fails("missing_output.onnx", VRT_EGRAPH, "'Z'", NULL);
  load_fails("defined_twice.onnx", VRT_EGRAPH, "'Y'", "twice");
}

static void test_huge_dims(void **state) {
  (void)state;
  load_fails("huge_dims.onnx", VRT_ELIMIT, "'H'", NULL);
  load_fails("overflow_dims.onnx", VRT_ELIMIT, "'H'", NULL);
}

static void test_external_data(void **state) {
  (void)state;
  vrt_graph *g = load_ok("external.onnx");
  const vrt_value *e = value(g, "E");
  assert_int_equal(e->t.dims[0], 4);
  assert_true(((const float *)e->t.data)[0] == 1.5f);
  assert_true(((const float *)e->t.data)[3] == 8.0f);
  assert_true(e->flags & VRT_VAL_BORROWED); /* aligned: read in place from the mapped file */
  vrt_graph_free(g);
  load_fails("external_escape.onnx", VRT_EINVAL, "leaves", NULL);
  /* a symlink inside the folder that points out of it is refused too */
  char outside[300], link[300];
  snprintf(outside, sizeof outside, "%s.outside", tmpdir);
  snprintf(link, sizeof link, "%s/link.bin", tmpdir);
  FILE *o = fopen(outside, "wb");
  assert_non_null(o);
  char zeros[64] = {0};
  assert_int_equal(fwrite(zeros, 1, sizeof zeros, o), sizeof zeros);
  fclose(o);
  assert_int_equal(symlink(outside, link), 0);
  load_fails("external_link.onnx", VRT_EINVAL, "outside", NULL);
  unlink(link);
  unlink(outside);
  /* from memory there is no folder to read it from */
  FILE *f = fopen(model_path("external.onnx"), "rb");
  assert_non_null(f);
  uint8_t buf[4096];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  g = NULL;
  assert_int_equal(vrt__onnx_load_buffer(&g, buf, n, NULL), VRT_EUNSUPPORTED);
  assert_null(g);
  assert_int_equal(vrt__onnx_load_buffer(&g, buf, n, tmpdir), 0);
  assert_true(((const float *)value(g, "E")->t.data)[1] == -2.0f);
  vrt_graph_free(g);
}

static void test_sparse(void **state) {
  (void)state;
  vrt_graph *g = load_ok("sparse.onnx");
  const vrt_value *s = value(g, "S");
  assert_true(s->flags & VRT_VAL_CONST);
  assert_int_equal(s->t.ndim, 2);
  const float *d = s->t.data;
  float want[6] = {0, 5, 0, 0, 0, -1};
  for (int i = 0; i < 6; i++) assert_true(d[i] == want[i]);
  d = value(g, "C")->t.data; /* sparse_value with [nnz, rank] indices */
  assert_true(d[5] == 7.0f && d[0] == 0.0f);
  vrt_graph_free(g);
  load_fails("sparse_huge.onnx", VRT_ELIMIT, "too large", NULL);
}

static void test_subgraph_op(void **state) {
  (void)state;
  load_fails("if_node.onnx", VRT_EUNSUPPORTED, "If", "branchy");
  /* a graph attribute on an op that does not read it is skipped */
  vrt_graph *g = load_ok("graph_attr.onnx");
  assert_int_equal(g->nnodes, 1);
  assert_null(vrt_node_attr(&g->nodes[0], "body"));
  assert_string_equal(vrt_attr_string(&g->nodes[0], "note", ""), "kept");
  vrt_graph_free(g);
}

static uint8_t *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc((size_t)n + 1);
  assert_non_null(b);
  assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return b;
}

/* Every strict prefix of a valid model fails cleanly (never crashes), except
 * cuts between the trailing metadata entries, which leave a valid model. */
static void test_truncated(void **state) {
  (void)state;
  const char *models[] = {"constants.onnx", "opset9.onnx"};
  for (size_t m = 0; m < 2; m++) {
    size_t len;
    uint8_t *b = read_all(model_path(models[m]), &len);
    vrt_graph *g = NULL;
    assert_int_equal(vrt__onnx_load_buffer(&g, b, len, NULL), 0);
    vrt_graph_free(g);
    for (size_t cut = 0; cut < len; cut++) {
      g = NULL;
      /* a copy of exactly cut bytes, so ASan sees any overread */
      uint8_t *p = malloc(cut ? cut : 1);
      memcpy(p, b, cut);
      int rc = vrt__onnx_load_buffer(&g, p, cut, NULL);
      free(p);
      if (rc == 0) {
        if (g->nmeta >= 2) fail_msg("%s cut at %zu of %zu loaded whole", models[m], cut, len);
        vrt_graph_free(g);
        continue;
      }
      assert_null(g);
      assert_true(vrt_last_error()[0] != 0);
    }
    free(b);
  }
}

static void test_corrupt_bytes(void **state) {
  (void)state;
  vrt_graph *g = NULL;
  /* field 1 varint with 11 continuation bytes */
  uint8_t bad_varint[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  assert_int_equal(vrt__onnx_load_buffer(&g, bad_varint, sizeof bad_varint, NULL), VRT_EPARSE);
  assert_non_null(strstr(vrt_last_error(), "varint"));
  /* graph field claiming 2^31 bytes */
  uint8_t bad_len[] = {0x3a, 0x80, 0x80, 0x80, 0x80, 0x08, 0x00};
  assert_int_equal(vrt__onnx_load_buffer(&g, bad_len, sizeof bad_len, NULL), VRT_EPARSE);
  /* group wire types are refused */
  uint8_t group[] = {0x0b, 0x0c};
  assert_int_equal(vrt__onnx_load_buffer(&g, group, sizeof group, NULL), VRT_EPARSE);
  /* no graph at all, and an empty buffer */
  uint8_t ir_only[] = {0x08, 0x08};
  assert_int_equal(vrt__onnx_load_buffer(&g, ir_only, sizeof ir_only, NULL), VRT_EPARSE);
  assert_int_equal(vrt__onnx_load_buffer(&g, ir_only, 0, NULL), VRT_EPARSE);
  assert_null(g);
  /* random flips of a valid model: errors or graphs, never crashes */
  size_t len;
  uint8_t *b = read_all(model_path("opset9.onnx"), &len);
  uint32_t seed = 12345;
  for (int it = 0; it < 3000; it++) {
    uint8_t *p = malloc(len);
    memcpy(p, b, len);
    for (int k = 0; k < 1 + it % 4; k++) {
      seed = seed * 1664525u + 1013904223u;
      p[(seed >> 8) % len] ^= (uint8_t)(1u << (seed >> 29));
    }
    g = NULL;
    if (vrt__onnx_load_buffer(&g, p, len, NULL) == 0) {
      assert_int_equal(vrt_graph_validate(g), 0);
      vrt_graph_free(g);
    }
    free(p);
  }
  free(b);
}

static void test_parse_tensor(void **state) {
  (void)state;
  size_t len;
  uint8_t *b = read_all(model_path("tensor_i64.pb"), &len);
  vrt_tensor t;
  assert_int_equal(vrt__onnx_parse_tensor(b, len, &t), 0);
  assert_string_equal(t.name, "ints");
  assert_int_equal(t.dtype, VRT_I64);
  assert_int_equal(t.ndim, 2);
  assert_int_equal(t.nbytes, 48);
  assert_int_equal(((int64_t *)t.data)[1], -2);
  assert_int_equal(((int64_t *)t.data)[5], (int64_t)1 << 40);
  free(t.data), free((char *)t.name);
  assert_int_equal(vrt__onnx_parse_tensor(b, len - 3, &t) < 0, 1);
  free(b);
  b = read_all(model_path("tensor_raw.pb"), &len);
  assert_int_equal(vrt__onnx_parse_tensor(b, len, &t), 0);
  assert_int_equal(t.dtype, VRT_F32);
  assert_int_equal(t.dims[1], 4);
  assert_true(((float *)t.data)[0] == -1.0f && ((float *)t.data)[11] == 1.0f);
  free(t.data), free((char *)t.name);
  free(b);
  /* a node-test file from Debian's libonnx-testdata */
  const char *pb = "/usr/share/libonnx-testdata/data/node/test_add/test_data_set_0/input_0.pb";
  if (access(pb, R_OK) != 0) fail_msg("%s is missing: run `make deps` (package libonnx-testdata)", pb);
  b = read_all(pb, &len);
  assert_int_equal(vrt__onnx_parse_tensor(b, len, &t), 0);
  assert_int_equal(t.ndim, 3);
  assert_int_equal(t.dims[0], 3);
  assert_int_equal(t.dims[2], 5);
  assert_int_equal(t.nbytes, 3 * 4 * 5 * 4);
  free(t.data), free((char *)t.name);
  free(b);
}

static void free_tensor(vrt_tensor *t) {
  free(t->data);
  free((char *)t->name);
}

/* Old-opset forms, rewritten by the loader, must compute what the original
 * ops compute (expected outputs from numpy, see the generator). */
static void run_model(const char *name, int nin, int nout) {
  char file[128];
  snprintf(file, sizeof file, "run_%s.onnx", name);
  vrt_model_t *m = NULL;
  vrt_session_t *s = NULL;
  if (vrt_model_load(&m, model_path(file), vrt_load_default_params())) fail_msg("%s: %s", file, vrt_last_error());
  assert_int_equal(vrt_session_create(&s, m, vrt_session_default_params()), 0);
  vrt_tensor in[4], want[16];
  for (int i = 0; i < nin; i++) {
    snprintf(file, sizeof file, "run_%s_in_%d.pb", name, i);
    size_t len;
    uint8_t *b = read_all(model_path(file), &len);
    assert_int_equal(vrt__onnx_parse_tensor(b, len, &in[i]), 0);
    free(b);
  }
  for (int i = 0; i < nout; i++) {
    snprintf(file, sizeof file, "run_%s_out_%d.pb", name, i);
    size_t len;
    uint8_t *b = read_all(model_path(file), &len);
    assert_int_equal(vrt__onnx_parse_tensor(b, len, &want[i]), 0);
    free(b);
  }
  const vrt_tensor *out;
  int n;
  if (vrt_session_run(s, in, nin, &out, &n)) fail_msg("%s: run: %s", name, vrt_last_error());
  assert_int_equal(n, nout);
  for (int k = 0; k < nout; k++) {
    const vrt_tensor *g = &out[k], *w = &want[k];
    if (strcmp(g->name, w->name) != 0 || g->dtype != w->dtype || !vrt__same_shape(g, w)) {
      char a[96], b[96];
      fail_msg("%s output %d: %s %s %s, expected %s %s %s", name, k, g->name, vrt_dtype_name(g->dtype),
               vrt__shape_str(g->dims, g->ndim, a, sizeof a), w->name, vrt_dtype_name(w->dtype),
               vrt__shape_str(w->dims, w->ndim, b, sizeof b));
    }
    for (int64_t i = 0; i < vrt_tensor_numel(w); i++) {
      double x = vrt__get_f64(g, i), y = vrt__get_f64(w, i);
      if (fabs(x - y) > 1e-5 + 1e-5 * fabs(y)) fail_msg("%s output '%s'[%lld] = %g, expected %g", name, w->name, (long long)i, x, y);
    }
  }
  for (int i = 0; i < nin; i++) free_tensor(&in[i]);
  for (int i = 0; i < nout; i++) free_tensor(&want[i]);
  vrt_session_free(s);
  vrt_model_free(m);
}

static void test_old_opsets_run(void **state) {
  (void)state;
  run_model("opset9", 1, 13);
  run_model("opset10", 1, 3);
}

/* The real PP-OCR models: weights in Constant nodes, dynamic dims, opsets 9 and 11. */
static void check_ocr(const char *file, int opset, int nconst_min, int nnodes, const char *in_dims, const char *out_dims) {
  char rel[256], path[1024];
  snprintf(rel, sizeof rel, "models/ocr/%s", file);
  require_asset(path, sizeof path, rel);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  vrt_graph *g = NULL;
  int rc = vrt__onnx_load_file(&g, path);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (rc) fail_msg("%s: %s", file, vrt_last_error());
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  int nconst = 0, in_file = 0, copied = 0;
  size_t bytes = 0;
  for (int i = 0; i < g->nvalues; i++) {
    const vrt_value *v = &g->values[i];
    if (!(v->flags & VRT_VAL_CONST)) continue;
    nconst++;
    bytes += v->t.nbytes;
    if (!(v->flags & VRT_VAL_BORROWED)) continue;
    /* every borrowed constant lies inside a mapping the graph keeps */
    int in = -1;
    for (int k = 0; k < g->nmaps && in < 0; k++) {
      const uint8_t *a = g->maps[k].addr, *d = v->t.data;
      if (d >= a && d + v->t.nbytes <= a + g->maps[k].len) in = k;
    }
    assert_true(in >= 0);
    if (g->maps[in].len == (size_t)st.st_size) in_file++;
    else copied++;
  }
  printf("%s: opset %d, %d nodes, %d constants (%d read in place from the file mapping, %d copied to the "
         "aligned arena), %zu weight bytes, loaded in %.1f ms\n",
         file, g->opset, g->nnodes, nconst, in_file, copied, bytes,
         (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
  assert_int_equal(g->opset, opset);
  assert_true(nconst >= nconst_min);
  assert_int_equal(g->nnodes, nnodes);
  assert_int_equal(count_op(g, VRT_OP_Constant), 0);
  assert_true(in_file > 0);
  assert_int_equal(g->ninputs, 1);
  const vrt_value *x = &g->values[g->inputs[0]];
  char b[128];
  assert_string_equal(x->t.name, "x");
  assert_int_equal(x->t.dtype, VRT_F32);
  assert_string_equal(vrt__shape_str(x->t.dims, x->t.ndim, b, sizeof b), in_dims);
  assert_string_equal(x->dim_names[0], "p2o.DynamicDimension.0");
  assert_int_equal(g->noutputs, 1);
  const vrt_value *y = &g->values[g->outputs[0]];
  assert_string_equal(vrt__shape_str(y->t.dims, y->t.ndim, b, sizeof b), out_dims);
  assert_int_equal(vrt_graph_validate(g), 0);
  vrt_graph_free(g);
}

static void test_ppocr_det(void **state) {
  (void)state;
  check_ocr("ch_PP-OCRv4_det_infer.onnx", 11, 342, 330, "[-1,3,-1,-1]", "[-1,1,-1,-1]");
}
static void test_ppocr_rec(void **state) {
  (void)state;
  /* 765 nodes - 325 Constant nodes, + 2 x 3 nodes for the two opset-9 Softmax
   * on a non-final-known axis */
  check_ocr("ch_PP-OCRv4_rec_infer.onnx", 9, 325, 446, "[-1,3,48,-1]", "[-1,-1,6625]");
}
static void test_ppocr_cls(void **state) {
  (void)state;
  check_ocr("ch_ppocr_mobile_v2.0_cls_infer.onnx", 9, 250, 221, "[-1,3,-1,-1]", "[-1,2]");
}

/* Issue 10 item 2.7: one changed byte (5558 -> 0x0d) turns a Constant's
 * `value` attribute into one the node cannot use; the loader then freed the
 * tensor data that points into the file mapping ("free(): invalid pointer").
 * Loaded through the file path (mmap), the mutated model must give an error
 * or a valid graph. Then every byte of a window around it, and a stride over
 * the whole file, set to a few values. */
static void test_ppocr_cls_mutations(void **state) {
  (void)state;
  char path[1024];
  require_asset(path, sizeof path, "models/ocr/ch_ppocr_mobile_v2.0_cls_infer.onnx");
  size_t len;
  uint8_t *b = read_all(path, &len);
  assert_true(len > 6000);
  const char *mpath = model_path("cls-mutated.onnx");
  typedef struct {
    size_t off;
    uint8_t v;
  } mutation;
  mutation muts[512];
  int nm = 0;
  muts[nm++] = (mutation){5558, 0x0d};
  for (size_t o = 5540; o < 5580 && nm < 200; o++) muts[nm++] = (mutation){o, (uint8_t)(b[o] ^ 0x08)};
  for (size_t o = 7; nm < 512; o += len / 300) muts[nm++] = (mutation){o % len, (uint8_t)(o * 37)};
  int loaded = 0, refused = 0;
  for (int i = 0; i < nm; i++) {
    uint8_t keep = b[muts[i].off];
    b[muts[i].off] = muts[i].v;
    FILE *f = fopen(mpath, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    b[muts[i].off] = keep;
    vrt_graph *g = NULL;
    if (vrt__onnx_load_file(&g, mpath) == 0) {
      assert_int_equal(vrt_graph_validate(g), 0);
      vrt_graph_free(g);
      loaded++;
    } else {
      assert_null(g);
      assert_true(vrt_last_error()[0] != 0);
      if (i == 0) printf("byte 5558 = 0x0d: %s\n", vrt_last_error());
      refused++;
    }
    vrt_model_t *m = NULL; /* the public path: load passes too */
    if (vrt_model_load(&m, mpath, vrt_load_default_params()) == 0) vrt_model_free(m);
  }
  printf("%d single-byte mutations of the cls model: %d loaded, %d refused\n", nm, loaded, refused);
  assert_int_equal(loaded + refused, nm);
  free(b);
}

/* Found by fuzz_onnx (a 1-hour run): an Upsample (run by the Resize kernel) whose first input name is ""
 * reached the kernel's shape inference as a NULL tensor. A required input
 * that is missing is now a load error. The file is the fuzzer's reproducer,
 * kept as a seed of its corpus. */
static void test_missing_required_input(void **state) {
  (void)state;
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/fuzz/corpus/fuzz_onnx/resize-missing-input.onnx", getenv("VIGIL_SOURCE_DIR"));
  vrt_model_t *m = NULL;
  int rc = vrt_model_load(&m, path, vrt_load_default_params());
  printf("resize with a missing input: %s\n", rc ? vrt_last_error() : "loaded");
  assert_int_not_equal(rc, 0);
  assert_null(m);
  assert_non_null(strstr(vrt_last_error(), "required input 0 is missing"));
}

/* Found by fuzz_onnx: a 978-byte model whose run needs more than 2 GB of
 * intermediate values. With vrt_session_params.max_bytes the run fails with
 * VRT_ELIMIT before allocating. */
static void test_session_byte_limit(void **state) {
  (void)state;
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/fuzz/corpus/fuzz_onnx/huge-intermediate.onnx", getenv("VIGIL_SOURCE_DIR"));
  vrt_model_t *m = NULL;
  assert_int_equal(vrt_model_load(&m, path, vrt_load_default_params()), 0);
  vrt_tensor in[16];
  memset(in, 0, sizeof in);
  int nin = vrt_model_num_inputs(m);
  assert_true(nin >= 1 && nin <= 16);
  for (int i = 0; i < nin; i++) { /* as the fuzz target feeds it: dynamic dims 2, zeros */
    const vrt_tensor *d = vrt_model_input(m, i);
    in[i] = *d;
    size_t n = vrt_dtype_size(d->dtype);
    for (int k = 0; k < d->ndim; k++) n *= (size_t)(in[i].dims[k] = d->dims[k] < 0 ? 2 : d->dims[k]);
    in[i].nbytes = n;
    in[i].data = calloc(1, n ? n : 1);
  }
  vrt_session_params sp = vrt_session_default_params();
  sp.max_bytes = 256u << 20;
  vrt_session_t *s;
  assert_int_equal(vrt_session_create(&s, m, sp), 0);
  const vrt_tensor *out;
  int nout;
  int rc = vrt_session_run(s, in, nin, &out, &nout);
  printf("hostile model under a 256 MB limit: %s\n", rc ? vrt_last_error() : "ran");
  assert_int_equal(rc, VRT_ELIMIT);
  assert_non_null(strstr(vrt_last_error(), "session limit"));
  vrt_session_free(s);
  for (int i = 0; i < nin; i++) free(in[i].data);
  vrt_model_free(m);
}

/* Weights oneDNN packs give their own pages back once packed, and come back
 * (from the file) whenever a reference kernel reads them again: a new input
 * shape's first run and VRT_REFERENCE=1 must give exactly what a model that
 * never dropped them gives. */
/* Runs X of batch n (a fixed pattern) and copies Y to out; 0 or the error
 * (no cmocka asserts: the threaded test calls it off the main thread). */
static int run_n(vrt_session_t *s, int64_t n, float *out, size_t cap) {
  size_t numel = (size_t)n * 8 * 12 * 12;
  float *x = malloc(sizeof(float) * numel);
  if (!x) return VRT_ENOMEM;
  for (size_t i = 0; i < numel; i++) x[i] = (float)((i * 7919) % 255) / 127.0f - 1.0f;
  vrt_tensor in = {.name = "X", .dtype = VRT_F32, .ndim = 4, .dims = {n, 8, 12, 12}, .data = x,
                   .nbytes = sizeof(float) * numel};
  const vrt_tensor *o;
  int no;
  int rc = vrt_session_run(s, &in, 1, &o, &no);
  free(x);
  if (rc) return rc;
  if (o[0].nbytes != sizeof(float) * 128 * (size_t)n || o[0].nbytes > cap) return VRT_ESHAPE;
  memcpy(out, o[0].data, o[0].nbytes);
  return 0;
}

static void run_x(vrt_session_t *s, int64_t n, float *out, size_t cap) {
  int rc = run_n(s, n, out, cap);
  if (rc) fail_msg("run N=%lld: %s %s", (long long)n, vrt_strerror(rc), vrt_last_error());
}

static bool close_to(const float *a, const float *b, int n) {
  for (int i = 0; i < n; i++)
    if (!(fabsf(a[i] - b[i]) <= 1e-4f + 1e-4f * fabsf(b[i]))) return false;
  return true;
}

static size_t dropped_now(const vrt_model_t *m) {
  size_t packed = 0, dropped = 0;
  vrt__model_weight_stats(m, &packed, &dropped);
  return dropped;
}

/* packed_weights.onnx twice: *m from the file (from_memory: from a buffer,
 * so no weight is in a file and each one comes back by unpacking its packed
 * copy) and *fresh, the reference, from a buffer. */
static void load_packed_weights(bool from_memory, vrt_model_t **m, vrt_model_t **fresh) {
  size_t len;
  uint8_t *bytes = read_all(model_path("packed_weights.onnx"), &len);
  *m = *fresh = NULL;
  if (from_memory) assert_int_equal(vrt_model_load_memory(m, bytes, len, vrt_load_default_params()), 0);
  else assert_int_equal(vrt_model_load(m, model_path("packed_weights.onnx"), vrt_load_default_params()), 0);
  assert_int_equal(vrt_model_load_memory(fresh, bytes, len, vrt_load_default_params()), 0);
  free(bytes);
}

/* These tests need the default backends in float32: bf16 packs have no exact
 * inverse (those weights stay) and round differently from a first run. */
static bool default_fp32(void) {
  const char *backends = getenv("VRT_BACKENDS"), *ref = getenv("VRT_REFERENCE"), *prec = getenv("VRT_PRECISION");
  return !(backends && *backends) && !(ref && *ref && strcmp(ref, "0")) && !(prec && !strcmp(prec, "bf16"));
}

static void check_given_back(bool from_memory) {
  if (!default_fp32()) skip();
  vrt_model_t *m, *fresh;
  load_packed_weights(from_memory, &m, &fresh);
  /* the generator made one weight 4-aligned in the file (used in place) and the others copies */
  const char *wn[] = {"conv", "mm", "gemm"};
  size_t wbytes = 0;
  int in_place = 0, copies = 0, heap = 0;
  for (int i = 0; i < m->g->nnodes; i++)
    for (int k = 0; k < 3; k++)
      if (!strcmp(m->g->nodes[i].name, wn[k])) {
        const vrt_value *w = &m->g->values[m->g->nodes[i].in[1]];
        heap += !w->file_src;
        in_place += w->file_src && w->file_src == w->t.data;
        copies += w->file_src && w->file_src != w->t.data;
        wbytes += w->t.nbytes;
      }
  if (from_memory) {
    assert_int_equal(heap, 3);
  } else {
    assert_int_equal(in_place + copies, 3);
    assert_true(in_place >= 1 && copies >= 1);
  }
  vrt_session_t *s, *sf;
  assert_int_equal(vrt_session_create(&s, m, vrt_session_default_params()), 0);
  assert_int_equal(vrt_session_create(&sf, fresh, vrt_session_default_params()), 0);
  static float a[128 * 3], b[128 * 3], r1[128 * 3], r2[128 * 3], r3[128 * 3], rr1[128 * 3];
  /* what the kernels give on weights never dropped (no backend: nothing is
   * packed): the reference loops at N=1, the own kernels (what a shape's
   * first run uses) at N=2 and 3 */
  setenv("VRT_REFERENCE", "1", 1);
  run_x(sf, 1, rr1, sizeof rr1);
  unsetenv("VRT_REFERENCE");
  setenv("VRT_BACKENDS", "none", 1);
  run_x(sf, 2, r2, sizeof r2);
  run_x(sf, 3, r3, sizeof r3);
  unsetenv("VRT_BACKENDS");
  assert_int_equal(dropped_now(fresh), 0);
  assert_int_equal(dropped_now(m), 0);
  /* unplanned: the reference kernels on the weights as loaded; the plan made
   * after it packs them, and the originals go */
  run_x(s, 1, r1, sizeof r1);
  run_x(s, 1, a, sizeof a); /* planned */
  printf("weights %zu bytes, %d used in place, %d copies, %d on the heap; given back after packing: %zu\n", wbytes,
         in_place, copies, heap, dropped_now(m));
  assert_int_equal(dropped_now(m), wbytes);
  run_x(s, 1, b, sizeof b);
  assert_memory_equal(a, b, sizeof(float) * 128);
  assert_true(close_to(a, r1, 128));
  /* a new batch size: its first run reads the originals again */
  run_x(s, 3, a, sizeof a);
  assert_memory_equal(a, r3, sizeof(float) * 128 * 3);
  assert_int_equal(dropped_now(m), wbytes); /* and gave them back after it */
  run_x(s, 3, b, sizeof b);
  assert_true(close_to(b, r3, 128 * 3));
  /* another one: restored a second time, the weights stay for good (shapes
   * that change run after run must not restore every weight every run) */
  run_x(s, 2, a, sizeof a);
  assert_memory_equal(a, r2, sizeof(float) * 128 * 2);
  size_t kept = dropped_now(m);
  printf("after a third shape: %zu bytes still given back\n", kept);
  assert_true(kept < wbytes);
  /* the reference loops on a planned session */
  setenv("VRT_REFERENCE", "1", 1);
  run_x(s, 1, a, sizeof a);
  run_x(s, 1, b, sizeof b);
  unsetenv("VRT_REFERENCE");
  assert_memory_equal(a, rr1, sizeof(float) * 128);
  assert_memory_equal(b, rr1, sizeof(float) * 128);
  assert_int_equal(dropped_now(m), kept);
  vrt_session_free(s);
  vrt_session_free(sf);
  vrt_model_free(m);
  vrt_model_free(fresh);
}

static void test_packed_weights_given_back(void **state) {
  (void)state;
  check_given_back(false);
}

static void test_packed_weights_unpacked(void **state) {
  (void)state;
  check_given_back(true);
}

/* Sessions of one model on several threads, each starting on another batch
 * size: first runs (reference kernels, pinning weights back), packing and
 * giving back interleave under the model's lock; every output must match
 * what a model that never dropped anything gives. */
typedef struct {
  const vrt_model_t *m;
  int phase, bad;
  const float *want[4];
} conc_arg;

static void *conc_worker(void *p) {
  conc_arg *a = p;
  vrt_session_t *s;
  if (vrt_session_create(&s, a->m, vrt_session_default_params())) {
    a->bad++;
    return NULL;
  }
  float out[128 * 3];
  for (int r = 0; r < 9; r++) {
    int n = 1 + (r + a->phase) % 3;
    if (run_n(s, n, out, sizeof out) || !close_to(out, a->want[n], 128 * n)) a->bad++;
  }
  vrt_session_free(s);
  return NULL;
}

static void test_packed_weights_threads(void **state) {
  (void)state;
  if (!default_fp32()) skip();
  static float want[4][128 * 3];
  for (int from_memory = 0; from_memory < 2; from_memory++) {
    vrt_model_t *m, *fresh;
    load_packed_weights(from_memory, &m, &fresh);
    vrt_session_t *sf;
    assert_int_equal(vrt_session_create(&sf, fresh, vrt_session_default_params()), 0);
    for (int n = 1; n <= 3; n++) run_x(sf, n, want[n], sizeof want[n]);
    conc_arg args[3];
    pthread_t th[3];
    for (int t = 0; t < 3; t++) {
      args[t] = (conc_arg){m, t, 0, {NULL, want[1], want[2], want[3]}};
      assert_int_equal(pthread_create(&th[t], NULL, conc_worker, &args[t]), 0);
    }
    int bad = 0;
    for (int t = 0; t < 3; t++) {
      pthread_join(th[t], NULL);
      bad += args[t].bad;
    }
    printf("%s: 3 threads x 9 runs, %d wrong; weights given back at the end: %zu bytes\n",
           from_memory ? "from memory" : "from the file", bad, dropped_now(m));
    assert_int_equal(bad, 0);
    vrt_session_free(sf);
    vrt_model_free(m);
    vrt_model_free(fresh);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_add_model),
      cmocka_unit_test(test_constants),
      cmocka_unit_test(test_opset9_normalised),
      cmocka_unit_test(test_unsorted_nodes_are_sorted),
      cmocka_unit_test(test_graph_errors),
      cmocka_unit_test(test_huge_dims),
      cmocka_unit_test(test_external_data),
      cmocka_unit_test(test_sparse),
      cmocka_unit_test(test_subgraph_op),
      cmocka_unit_test(test_truncated),
      cmocka_unit_test(test_corrupt_bytes),
      cmocka_unit_test(test_parse_tensor),
      cmocka_unit_test(test_old_opsets_run),
      cmocka_unit_test(test_ppocr_det),
      cmocka_unit_test(test_ppocr_rec),
      cmocka_unit_test(test_ppocr_cls),
      cmocka_unit_test(test_ppocr_cls_mutations),
      cmocka_unit_test(test_missing_required_input),
      cmocka_unit_test(test_session_byte_limit),
      cmocka_unit_test(test_packed_weights_given_back),
      cmocka_unit_test(test_packed_weights_unpacked),
      cmocka_unit_test(test_packed_weights_threads),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
