/* Tests for the TF.js graph-model loader (src/rt/tfjs): graph structure,
 * weight decoding (float32, float16, uint8/uint16 affine), filter layout
 * conversion, op lowering, input/output naming, error handling of broken
 * models, and loading of the nine real human-models graphs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loaders.h"
#include "ops.h"
#include "tfjs/tfjs.h"

/* ---- helpers -------------------------------------------------------------- */

/* "$VIGIL_HOME/<rel>" (default ~/.cache/vigil); fails the test when missing.
 * (This test links vrt alone, so it does not use util/assets.) */
static void asset_path(char *buf, size_t len, const char *rel) {
  const char *home = getenv("VIGIL_HOME");
  if (home && *home)
    snprintf(buf, len, "%s/%s", home, rel);
  else
    snprintf(buf, len, "%s/.cache/vigil/%s", getenv("HOME") ? getenv("HOME") : "", rel);
  if (access(buf, R_OK) != 0) fail_msg("%s is missing: run `make deps`", buf);
}

static char tmpdir[64];

static int setup_dir(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/vigil_tfjs_XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *name, const void *data, size_t len) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", tmpdir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  fclose(f);
}

static int load_model(vrt_graph **g, const char *json, const void *bin, size_t binlen) {
  write_file("model.json", json, strlen(json));
  if (bin) write_file("w.bin", bin, binlen);
  char path[256];
  snprintf(path, sizeof path, "%s/model.json", tmpdir);
  return vrt__tfjs_load_file(g, path);
}

static const vrt_node *find_node(const vrt_graph *g, const char *name) {
  for (int i = 0; i < g->nnodes; i++)
    if (!strcmp(g->nodes[i].name, name)) return &g->nodes[i];
  return NULL;
}

static const vrt_value *in_value(const vrt_graph *g, const vrt_node *n, int k) {
  assert_true(k < n->nin);
  assert_true(n->in[k] >= 0);
  return &g->values[n->in[k]];
}

static int64_t ival(const vrt_tensor *t, int64_t i) { return vrt__get_i64(t, i); }

static void put_f16(uint8_t *p, float f) {
  uint16_t h = vrt__f32_to_f16(f);
  p[0] = (uint8_t)h, p[1] = (uint8_t)(h >> 8);
}

/* ---- a small model covering the conv family and weight formats ------------ */

/* Nodes are deliberately out of order (consumers first) and carry a control
 * input; the conv filter is float32 HWIO, the depthwise filter float16, the
 * bias uint8-quantised, the PReLU alpha uint16-quantised. */
static const char *conv_json =
    "{\"format\":\"graph-model\",\"generatedBy\":\"test\",\"convertedBy\":\"hand\","
    "\"signature\":{\"outputs\":{\"result\":{\"name\":\"out:0\"},\"dw_out\":{\"name\":\"dwc\"}}},"
    "\"modelTopology\":{\"node\":["
    "{\"name\":\"out\",\"op\":\"Identity\",\"input\":[\"conv\",\"^x\"]},"
    "{\"name\":\"conv\",\"op\":\"_FusedConv2D\",\"input\":[\"x\",\"w\",\"b\"],\"attr\":{"
    "\"strides\":{\"list\":{\"i\":[\"1\",\"2\",\"2\",\"1\"]}},\"padding\":{\"s\":\"U0FNRQ==\"},"
    "\"data_format\":{\"s\":\"TkhXQw==\"},\"dilations\":{\"list\":{\"i\":[\"1\",\"1\",\"1\",\"1\"]}},"
    "\"num_args\":{\"i\":\"1\"},\"fused_ops\":{\"list\":{\"s\":[\"Qmlhc0FkZA==\",\"UmVsdTY=\"]}}}},"
    "{\"name\":\"dwc\",\"op\":\"FusedDepthwiseConv2dNative\",\"input\":[\"x\",\"dw\",\"b2\",\"alpha\"],\"attr\":{"
    "\"strides\":{\"list\":{\"i\":[\"1\",\"1\",\"1\",\"1\"]}},\"padding\":{\"s\":\"VkFMSUQ=\"},"
    "\"num_args\":{\"i\":\"2\"},\"fused_ops\":{\"list\":{\"s\":[\"Qmlhc0FkZA==\",\"UHJlbHU=\"]}}}},"
    "{\"name\":\"x\",\"op\":\"Placeholder\",\"attr\":{\"dtype\":{\"type\":\"DT_FLOAT\"},"
    "\"shape\":{\"shape\":{\"dim\":[{\"size\":\"-1\"},{\"size\":\"4\"},{\"size\":\"4\"},{\"size\":\"2\"}]}}}},"
    "{\"name\":\"w\",\"op\":\"Const\"},{\"name\":\"b\",\"op\":\"Const\"},{\"name\":\"dw\",\"op\":\"Const\"},"
    "{\"name\":\"b2\",\"op\":\"Const\"},{\"name\":\"alpha\",\"op\":\"Const\"},{\"name\":\"unused\",\"op\":\"Const\"}"
    "]},"
    "\"weightsManifest\":[{\"paths\":[\"w.bin\"],\"weights\":["
    "{\"name\":\"w\",\"shape\":[2,2,2,3],\"dtype\":\"float32\"},"
    "{\"name\":\"b\",\"shape\":[3],\"dtype\":\"float32\",\"quantization\":{\"dtype\":\"uint8\",\"scale\":0.5,\"min\":-1}},"
    "{\"name\":\"dw\",\"shape\":[3,3,2,1],\"dtype\":\"float32\",\"quantization\":{\"dtype\":\"float16\",\"original_dtype\":\"float32\"}},"
    "{\"name\":\"b2\",\"shape\":[2],\"dtype\":\"float32\"},"
    "{\"name\":\"alpha\",\"shape\":[2],\"dtype\":\"float32\",\"quantization\":{\"dtype\":\"uint16\",\"scale\":0.25,\"min\":1}},"
    "{\"name\":\"unused\",\"shape\":[],\"dtype\":\"int32\"}"
    "]}]}";

static size_t conv_bin(uint8_t *buf) {
  size_t o = 0;
  for (int i = 0; i < 24; i++, o += 4) {
    float f = (float)i;
    memcpy(buf + o, &f, 4);
  }
  buf[o++] = 0, buf[o++] = 3, buf[o++] = 255;               /* b: -1, 0.5, 126.5 */
  for (int i = 0; i < 18; i++, o += 2) put_f16(buf + o, (float)i * 0.5f); /* dw */
  float b2[2] = {0.25f, -0.5f};
  memcpy(buf + o, b2, 8), o += 8;
  buf[o++] = 4, buf[o++] = 0, buf[o++] = 0, buf[o++] = 1; /* alpha: 2, 65 */
  int32_t u = 7;
  memcpy(buf + o, &u, 4), o += 4;
  return o;
}

static void test_conv_model(void **state) {
  (void)state;
  uint8_t bin[256];
  size_t n = conv_bin(bin);
  vrt_graph *g = NULL;
  int rc = load_model(&g, conv_json, bin, n);
  assert_int_equal(rc, 0);
  assert_non_null(g);

  /* input: Placeholder name, dtype, dynamic batch */
  assert_int_equal(g->ninputs, 1);
  const vrt_value *x = &g->values[g->inputs[0]];
  assert_string_equal(x->t.name, "x");
  assert_int_equal(x->t.dtype, VRT_F32);
  assert_int_equal(x->t.ndim, 4);
  assert_int_equal(x->t.dims[0], -1);
  assert_int_equal(x->t.dims[3], 2);
  assert_string_equal(x->dim_names[0], "batch");
  assert_true(x->flags & VRT_VAL_INPUT);

  /* outputs: signature keys, in signature order */
  assert_int_equal(g->noutputs, 2);
  assert_string_equal(g->values[g->outputs[0]].t.name, "result");
  assert_string_equal(g->values[g->outputs[1]].t.name, "dw_out");
  assert_true(g->values[g->outputs[0]].flags & VRT_VAL_OUTPUT);

  /* metadata */
  int found = 0;
  for (int i = 0; i < g->nmeta; i++)
    if (!strcmp(g->meta[i].key, "convertedBy") && !strcmp(g->meta[i].val, "hand")) found = 1;
  assert_true(found);

  /* the conv: NHWC, SAME_UPPER, strides from the 4-vector, bias, Relu6 */
  const vrt_node *c = find_node(g, "conv");
  assert_non_null(c);
  assert_int_equal(c->op, VRT_OP_Conv);
  assert_string_equal(c->op_type, "_FusedConv2D");
  assert_int_equal(c->nin, 3);
  assert_int_equal(vrt_attr_int(c, "vrt_layout", 0), 1);
  assert_string_equal(vrt_attr_string(c, "auto_pad", ""), "SAME_UPPER");
  assert_string_equal(vrt_attr_string(c, "vrt_act", ""), "Relu6");
  assert_int_equal(vrt_attr_int(c, "group", 0), 1);
  const int64_t *a;
  assert_int_equal(vrt_attr_ints(c, "strides", &a), 2);
  assert_int_equal(a[0], 2);
  assert_int_equal(a[1], 2);
  assert_int_equal(vrt_attr_ints(c, "kernel_shape", &a), 2);
  assert_int_equal(a[0], 2);
  /* the output is the conv's value itself (Identity is an alias) */
  assert_int_equal(g->outputs[0], c->out[0]);

  /* filter HWIO [2,2,2,3] -> OIHW [3,2,2,2]: W[o][i][h][w] = src[((h*2+w)*2+i)*3+o] */
  const vrt_value *w = in_value(g, c, 1);
  assert_true(w->flags & VRT_VAL_CONST);
  assert_int_equal(w->t.ndim, 4);
  assert_int_equal(w->t.dims[0], 3);
  assert_int_equal(w->t.dims[1], 2);
  const float *wd = w->t.data;
  for (int o = 0; o < 3; o++)
    for (int i = 0; i < 2; i++)
      for (int h = 0; h < 2; h++)
        for (int ww = 0; ww < 2; ww++)
          assert_float_equal(wd[((o * 2 + i) * 2 + h) * 2 + ww], (float)(((h * 2 + ww) * 2 + i) * 3 + o), 0);

  /* uint8 bias: q * 0.5 - 1 */
  const vrt_value *b = in_value(g, c, 2);
  assert_int_equal(b->t.dtype, VRT_F32);
  const float *bd = b->t.data;
  assert_float_equal(bd[0], -1.0f, 1e-6);
  assert_float_equal(bd[1], 0.5f, 1e-6);
  assert_float_equal(bd[2], 126.5f, 1e-6);

  /* depthwise: group = C, [3,3,2,1] float16 -> [2,1,3,3] float32, Prelu alpha 4th input */
  const vrt_node *d = find_node(g, "dwc");
  assert_non_null(d);
  assert_int_equal(d->op, VRT_OP_Conv);
  assert_int_equal(d->nin, 4);
  assert_int_equal(vrt_attr_int(d, "group", 0), 2);
  assert_string_equal(vrt_attr_string(d, "auto_pad", ""), "VALID");
  assert_string_equal(vrt_attr_string(d, "vrt_act", ""), "Prelu");
  const vrt_value *dw = in_value(g, d, 1);
  assert_int_equal(dw->t.dims[0], 2);
  assert_int_equal(dw->t.dims[1], 1);
  assert_int_equal(dw->t.dims[2], 3);
  const float *dd = dw->t.data;
  for (int ch = 0; ch < 2; ch++)
    for (int h = 0; h < 3; h++)
      for (int ww = 0; ww < 3; ww++)
        assert_float_equal(dd[(ch * 3 + h) * 3 + ww], (float)(((h * 3 + ww) * 2 + ch)) * 0.5f, 0);
  const float *al = in_value(g, d, 3)->t.data;
  assert_float_equal(al[0], 2.0f, 1e-6);  /* 4 * 0.25 + 1 */
  assert_float_equal(al[1], 65.0f, 1e-6); /* 256 * 0.25 + 1 */

  /* nodes come out in topological order and validate */
  assert_int_equal(vrt_graph_validate(g), 0);
  /* an unreferenced constant is not materialised */
  assert_int_equal(vrt_graph_find_value(g, "unused"), -1);
  vrt_graph_free(g);
}

/* A filter two convolutions share, and one a conv and a graph output share:
 * the loader frees a decoded filter once its one conv has transposed it,
 * never one that something else still reads. */
static const char *shared_filter_json =
    "{\"format\":\"graph-model\",\"modelTopology\":{\"node\":["
    "{\"name\":\"x\",\"op\":\"Placeholder\",\"attr\":{\"dtype\":{\"type\":\"DT_FLOAT\"},"
    "\"shape\":{\"shape\":{\"dim\":[{\"size\":\"1\"},{\"size\":\"4\"},{\"size\":\"4\"},{\"size\":\"2\"}]}}}},"
    "{\"name\":\"w\",\"op\":\"Const\"},{\"name\":\"w1\",\"op\":\"Const\"},"
    "{\"name\":\"ca\",\"op\":\"Conv2D\",\"input\":[\"x\",\"w\"],\"attr\":{\"padding\":{\"s\":\"VkFMSUQ=\"},"
    "\"strides\":{\"list\":{\"i\":[\"1\",\"1\",\"1\",\"1\"]}}}},"
    "{\"name\":\"cb\",\"op\":\"Conv2D\",\"input\":[\"x\",\"w\"],\"attr\":{\"padding\":{\"s\":\"VkFMSUQ=\"},"
    "\"strides\":{\"list\":{\"i\":[\"1\",\"2\",\"2\",\"1\"]}}}},"
    "{\"name\":\"cc\",\"op\":\"Conv2D\",\"input\":[\"x\",\"w1\"],\"attr\":{\"padding\":{\"s\":\"VkFMSUQ=\"},"
    "\"strides\":{\"list\":{\"i\":[\"1\",\"1\",\"1\",\"1\"]}}}}"
    "]},\"signature\":{\"outputs\":{\"a\":{\"name\":\"ca\"},\"b\":{\"name\":\"cb\"},\"c\":{\"name\":\"cc\"},"
    "\"d\":{\"name\":\"w1\"}}},"
    "\"weightsManifest\":[{\"paths\":[\"w.bin\"],\"weights\":["
    "{\"name\":\"w\",\"shape\":[2,2,2,3],\"dtype\":\"float32\"},{\"name\":\"w1\",\"shape\":[2,2,2,3],\"dtype\":\"float32\"}"
    "]}]}";

static void test_shared_filter(void **state) {
  (void)state;
  float bin[48];
  for (int i = 0; i < 48; i++) bin[i] = (float)i;
  vrt_graph *g = NULL;
  assert_int_equal(load_model(&g, shared_filter_json, bin, sizeof bin), 0);
  const char *names[] = {"ca", "cb", "cc"};
  for (int k = 0; k < 3; k++) {
    const vrt_node *c = find_node(g, names[k]);
    assert_non_null(c);
    const vrt_value *w = in_value(g, c, 1);
    assert_non_null(w->t.data);
    const float *wd = w->t.data;
    float base = k == 2 ? 24.0f : 0.0f; /* w1 follows w in the shard */
    for (int o = 0; o < 3; o++)
      for (int i = 0; i < 2; i++)
        for (int h = 0; h < 2; h++)
          for (int ww = 0; ww < 2; ww++)
            assert_float_equal(wd[((o * 2 + i) * 2 + h) * 2 + ww], base + (float)(((h * 2 + ww) * 2 + i) * 3 + o), 0);
  }
  const vrt_value *d = NULL; /* w1 as it is in the file, HWIO */
  for (int o = 0; o < g->noutputs; o++)
    if (!strcmp(g->values[g->outputs[o]].t.name, "d")) d = &g->values[g->outputs[o]];
  assert_non_null(d);
  /* the output is the constant itself or a copy node of it */
  const vrt_value *src = d->producer >= 0 ? &g->values[g->nodes[d->producer].in[0]] : d;
  assert_true(src->flags & VRT_VAL_CONST);
  assert_non_null(src->t.data);
  for (int i = 0; i < 24; i++) assert_float_equal(((const float *)src->t.data)[i], 24.0f + (float)i, 0);
  vrt_graph_free(g);
}

/* ---- op lowering ------------------------------------------------------------ */

#define CONST_I32(name) "{\"name\":\"" name "\",\"op\":\"Const\"}"

static const char *ops_json =
    "{\"modelTopology\":{\"node\":["
    "{\"name\":\"x\",\"op\":\"Placeholder\",\"attr\":{\"dtype\":{\"type\":\"DT_FLOAT\"},"
    "\"shape\":{\"shape\":{\"dim\":[{\"size\":\"1\"},{\"size\":\"6\"},{\"size\":\"4\"}]}}}},"
    CONST_I32("axis1") "," CONST_I32("sizes") "," CONST_I32("k") "," CONST_I32("perm") "," CONST_I32("pads") ","
    CONST_I32("shape") "," CONST_I32("red") ","
    "{\"name\":\"sv\",\"op\":\"SplitV\",\"input\":[\"x\",\"sizes\",\"axis1\"],\"attr\":{\"num_split\":{\"i\":\"3\"}}},"
    "{\"name\":\"pk\",\"op\":\"Pack\",\"input\":[\"sv\",\"sv:2\"],\"attr\":{\"axis\":{\"i\":\"1\"},\"N\":{\"i\":\"2\"}}},"
    "{\"name\":\"up\",\"op\":\"Unpack\",\"input\":[\"pk\"],\"attr\":{\"axis\":{\"i\":\"1\"},\"num\":{\"i\":\"2\"}}},"
    "{\"name\":\"sq\",\"op\":\"SquaredDifference\",\"input\":[\"up\",\"up:1\"]},"
    "{\"name\":\"r6\",\"op\":\"Relu6\",\"input\":[\"sq\"],\"attr\":{\"T\":{\"type\":\"DT_FLOAT\"}}},"
    "{\"name\":\"tk\",\"op\":\"TopKV2\",\"input\":[\"r6\",\"k\"]},"
    "{\"name\":\"tr\",\"op\":\"Transpose\",\"input\":[\"x\",\"perm\"]},"
    "{\"name\":\"pd\",\"op\":\"Pad\",\"input\":[\"tr\",\"pads\"]},"
    "{\"name\":\"rs\",\"op\":\"Reshape\",\"input\":[\"pd\",\"shape\"]},"
    "{\"name\":\"mn\",\"op\":\"Mean\",\"input\":[\"rs\",\"red\"],\"attr\":{\"keep_dims\":{\"b\":true}}},"
    "{\"name\":\"am\",\"op\":\"ArgMax\",\"input\":[\"x\",\"axis1\"],\"attr\":{\"output_type\":{\"type\":\"DT_INT32\"}}},"
    "{\"name\":\"ct\",\"op\":\"Cast\",\"input\":[\"am\"],\"attr\":{\"DstT\":{\"type\":\"DT_INT64\"}}}"
    "]},"
    "\"weightsManifest\":[{\"paths\":[\"w.bin\"],\"weights\":["
    "{\"name\":\"axis1\",\"shape\":[],\"dtype\":\"int32\"},"
    "{\"name\":\"sizes\",\"shape\":[3],\"dtype\":\"int32\"},"
    "{\"name\":\"k\",\"shape\":[],\"dtype\":\"int32\"},"
    "{\"name\":\"perm\",\"shape\":[3],\"dtype\":\"int32\"},"
    "{\"name\":\"pads\",\"shape\":[3,2],\"dtype\":\"int32\"},"
    "{\"name\":\"shape\",\"shape\":[2],\"dtype\":\"int32\"},"
    "{\"name\":\"red\",\"shape\":[1],\"dtype\":\"int32\"}"
    "]}]}";

static void test_op_lowering(void **state) {
  (void)state;
  int32_t w[] = {1,            /* axis1 */
                 2, -1, 1,     /* sizes: the -1 part is sliced */
                 3,            /* k */
                 0, 2, 1,      /* perm */
                 0, 0, 1, 2, 3, 4, /* pads [[0,0],[1,2],[3,4]] */
                 1, -1,        /* shape */
                 -1};          /* red */
  vrt_graph *g = NULL;
  assert_int_equal(load_model(&g, ops_json, w, sizeof w), 0);

  /* no signature: unconsumed nodes in natural name order */
  const char *want[] = {"ct", "mn", "tk"};
  assert_int_equal(g->noutputs, 3);
  for (int i = 0; i < 3; i++) assert_string_equal(g->values[g->outputs[i]].t.name, want[i]);

  /* SplitV with -1: three Slices counted from both ends */
  const vrt_node *s0 = find_node(g, "sv"), *s1 = find_node(g, "sv:1"), *s2 = find_node(g, "sv:2");
  assert_non_null(s0), assert_non_null(s1), assert_non_null(s2);
  assert_int_equal(s1->op, VRT_OP_Slice);
  assert_int_equal(ival(&in_value(g, s0, 1)->t, 0), 0);
  assert_int_equal(ival(&in_value(g, s0, 2)->t, 0), 2);
  assert_int_equal(ival(&in_value(g, s1, 1)->t, 0), 2);
  assert_int_equal(ival(&in_value(g, s1, 2)->t, 0), -1);
  assert_int_equal(ival(&in_value(g, s2, 1)->t, 0), -1);
  assert_int_equal(ival(&in_value(g, s2, 2)->t, 0), INT64_MAX);
  assert_int_equal(ival(&in_value(g, s1, 3)->t, 0), 1);

  /* Pack: Unsqueeze each then Concat on the axis */
  const vrt_node *pk = find_node(g, "pk");
  assert_int_equal(pk->op, VRT_OP_Concat);
  assert_int_equal(vrt_attr_int(pk, "axis", -9), 1);
  assert_int_equal(pk->nin, 2);
  assert_int_equal(g->nodes[g->values[pk->in[0]].producer].op, VRT_OP_Unsqueeze);

  /* Unpack: Split into ones, Squeeze each */
  const vrt_node *u1 = find_node(g, "up:1");
  assert_non_null(u1);
  assert_int_equal(u1->op, VRT_OP_Squeeze);
  const vrt_node *sp = &g->nodes[g->values[u1->in[0]].producer];
  assert_int_equal(sp->op, VRT_OP_Split);
  assert_int_equal(sp->nout, 2);
  assert_int_equal(u1->in[0], sp->out[1]);

  /* SquaredDifference: Sub then Mul(d, d) */
  const vrt_node *sq = find_node(g, "sq");
  assert_int_equal(sq->op, VRT_OP_Mul);
  assert_int_equal(sq->in[0], sq->in[1]);
  assert_int_equal(g->nodes[g->values[sq->in[0]].producer].op, VRT_OP_Sub);

  /* Relu6: Clip with constant bounds */
  const vrt_node *r6 = find_node(g, "r6");
  assert_int_equal(r6->op, VRT_OP_Clip);
  assert_float_equal(*(float *)in_value(g, r6, 2)->t.data, 6.0f, 0);

  /* TopKV2: K as int64 [1]; indices through Cast int32 */
  const vrt_node *tk = find_node(g, "tk/vrt_topk"), *ti = find_node(g, "tk:1");
  assert_non_null(tk), assert_non_null(ti);
  assert_int_equal(tk->op, VRT_OP_TopK);
  assert_int_equal(in_value(g, tk, 1)->t.dtype, VRT_I64);
  assert_int_equal(in_value(g, tk, 1)->t.ndim, 1);
  assert_int_equal(ival(&in_value(g, tk, 1)->t, 0), 3);
  assert_int_equal(ti->op, VRT_OP_Cast);
  assert_int_equal(vrt_attr_int(ti, "to", 0), VRT_I32);
  assert_int_equal(g->values[g->outputs[2]].producer, tk - g->nodes);

  /* Transpose perm attribute, Pad in ONNX order */
  const vrt_node *tr = find_node(g, "tr");
  const int64_t *perm;
  assert_int_equal(vrt_attr_ints(tr, "perm", &perm), 3);
  assert_int_equal(perm[1], 2);
  const vrt_node *pd = find_node(g, "pd");
  const vrt_tensor *pads = &in_value(g, pd, 1)->t;
  int64_t want_pads[6] = {0, 1, 3, 0, 2, 4};
  assert_int_equal(pads->dtype, VRT_I64);
  for (int i = 0; i < 6; i++) assert_int_equal(ival(pads, i), want_pads[i]);

  /* Reshape: int64 shape, allowzero */
  const vrt_node *rs = find_node(g, "rs");
  assert_int_equal(vrt_attr_int(rs, "allowzero", 0), 1);
  assert_int_equal(in_value(g, rs, 1)->t.dtype, VRT_I64);

  /* Mean: ReduceMean with axes input and keepdims */
  const vrt_node *mn = find_node(g, "mn");
  assert_int_equal(mn->op, VRT_OP_ReduceMean);
  assert_int_equal(vrt_attr_int(mn, "keepdims", 0), 1);
  assert_int_equal(ival(&in_value(g, mn, 1)->t, 0), -1);

  /* ArgMax: axis attribute, keepdims 0, Cast to int32; Cast int64 -> int32 */
  const vrt_node *am = find_node(g, "am/vrt_i64");
  assert_int_equal(am->op, VRT_OP_ArgMax);
  assert_int_equal(vrt_attr_int(am, "axis", 0), 1);
  assert_int_equal(vrt_attr_int(am, "keepdims", 1), 0);
  assert_int_equal(vrt_attr_int(find_node(g, "ct"), "to", 0), VRT_I32);
  vrt_graph_free(g);
}

/* ---- errors ---------------------------------------------------------------- */

static const char *ph = "{\"name\":\"x\",\"op\":\"Placeholder\",\"attr\":{\"dtype\":{\"type\":\"DT_FLOAT\"}}}";

static void expect_error(const char *json, const void *bin, size_t binlen, int code, const char *needle) {
  vrt_graph *g = (vrt_graph *)0x1;
  int rc = load_model(&g, json, bin, binlen);
  if (rc != code) fail_msg("expected %d got %d: %s", code, rc, vrt_last_error());
  assert_ptr_equal(g, (vrt_graph *)0x1); /* untouched on failure */
  if (needle && !strstr(vrt_last_error(), needle)) fail_msg("'%s' not in '%s'", needle, vrt_last_error());
}

static void test_errors(void **state) {
  (void)state;
  char j[2048];
  /* unknown op names the op and the node */
  snprintf(j, sizeof j, "{\"modelTopology\":{\"node\":[%s,{\"name\":\"weird\",\"op\":\"FFT\",\"input\":[\"x\"]}]}}", ph);
  expect_error(j, NULL, 0, VRT_EUNSUPPORTED, "FFT");
  assert_non_null(strstr(vrt_last_error(), "weird"));
  /* cycle */
  snprintf(j, sizeof j,
           "{\"modelTopology\":{\"node\":[%s,{\"name\":\"a\",\"op\":\"Add\",\"input\":[\"x\",\"b\"]},"
           "{\"name\":\"b\",\"op\":\"Relu\",\"input\":[\"a\"]},{\"name\":\"o\",\"op\":\"Relu\",\"input\":[\"b\"]}]}}",
           ph);
  expect_error(j, NULL, 0, VRT_EGRAPH, "cycle");
  /* missing input */
  snprintf(j, sizeof j, "{\"modelTopology\":{\"node\":[%s,{\"name\":\"o\",\"op\":\"Relu\",\"input\":[\"nope\"]}]}}", ph);
  expect_error(j, NULL, 0, VRT_EGRAPH, "nope");
  /* output index a node does not have */
  snprintf(j, sizeof j, "{\"modelTopology\":{\"node\":[%s,{\"name\":\"o\",\"op\":\"Relu\",\"input\":[\"x:3\"]}]}}", ph);
  expect_error(j, NULL, 0, VRT_EGRAPH, "x:3");
  /* duplicate node names */
  snprintf(j, sizeof j, "{\"modelTopology\":{\"node\":[%s,%s]}}", ph, ph);
  expect_error(j, NULL, 0, VRT_EPARSE, "two nodes");
  /* truncated json */
  expect_error("{\"modelTopology\":{\"node\":[", NULL, 0, VRT_EPARSE, "model.json");
  /* not a graph model */
  expect_error("{\"modelTopology\":{\"class_name\":\"Sequential\"}}", NULL, 0, VRT_EPARSE, "node");
  /* shard too small for the manifest */
  const char *wj = "{\"modelTopology\":{\"node\":[%s,{\"name\":\"c\",\"op\":\"Const\"},"
                   "{\"name\":\"o\",\"op\":\"Add\",\"input\":[\"x\",\"c\"]}]},"
                   "\"weightsManifest\":[{\"paths\":[\"%s\"],\"weights\":[{\"name\":\"c\",\"shape\":%s,"
                   "\"dtype\":\"float32\"}]}]}";
  float four[4] = {1, 2, 3, 4};
  snprintf(j, sizeof j, wj, ph, "w.bin", "[8]");
  expect_error(j, four, sizeof four, VRT_EPARSE, "'c'");
  /* shard bigger than the manifest */
  snprintf(j, sizeof j, wj, ph, "w.bin", "[2]");
  expect_error(j, four, sizeof four, VRT_EPARSE, "16 bytes");
  /* huge dims: refused before any allocation */
  snprintf(j, sizeof j, wj, ph, "w.bin", "[1000000,1000000,1000]");
  expect_error(j, four, sizeof four, VRT_EPARSE, "'c'");
  snprintf(j, sizeof j, wj, ph, "w.bin", "[99999999999]");
  expect_error(j, four, sizeof four, VRT_ELIMIT, "dim");
  snprintf(j, sizeof j, wj, ph, "w.bin", "[-4]");
  expect_error(j, four, sizeof four, VRT_EPARSE, "dim");
  /* path traversal and absolute shard paths */
  snprintf(j, sizeof j, wj, ph, "../w.bin", "[4]");
  expect_error(j, four, sizeof four, VRT_EPARSE, "relative");
  snprintf(j, sizeof j, wj, ph, "/etc/passwd", "[4]");
  expect_error(j, four, sizeof four, VRT_EPARSE, "relative");
  /* missing shard */
  snprintf(j, sizeof j, wj, ph, "missing.bin", "[4]");
  expect_error(j, NULL, 0, VRT_ENOTFOUND, "missing.bin");
  /* the same loads fine when sizes agree */
  vrt_graph *g = NULL;
  snprintf(j, sizeof j, wj, ph, "w.bin", "[4]");
  assert_int_equal(load_model(&g, j, four, sizeof four), 0);
  vrt_graph_free(g);
  /* from memory without a folder, shards cannot be resolved */
  assert_int_equal(vrt__tfjs_load_json(&g, j, strlen(j), NULL), VRT_EINVAL);
  /* ... but a graph without weights loads from memory */
  snprintf(j, sizeof j, "{\"modelTopology\":{\"node\":[%s,{\"name\":\"y\",\"op\":\"Relu\",\"input\":[\"x\"]}]}}", ph);
  g = NULL;
  assert_int_equal(vrt__tfjs_load_json(&g, j, strlen(j), NULL), 0);
  assert_int_equal(g->nnodes, 1);
  assert_int_equal(g->nodes[0].op, VRT_OP_Relu);
  assert_int_equal(g->values[g->inputs[0]].t.ndim, -1); /* no shape attribute: unknown rank */
  vrt_graph_free(g);
  /* zero-size weights with an empty shard load (nanodet has [0] and [0,1]
   * constants); an output that is a constant gets an Identity under its name */
  const char *zj = "{\"modelTopology\":{\"node\":[{\"name\":\"z\",\"op\":\"Const\"},"
                   "{\"name\":\"o\",\"op\":\"Identity\",\"input\":[\"z\"]}]},"
                   "\"weightsManifest\":[{\"paths\":[\"w.bin\"],\"weights\":[{\"name\":\"z\",\"shape\":[0,1],"
                   "\"dtype\":\"int32\"}]}]}";
  assert_int_equal(load_model(&g, zj, "", 0), 0);
  assert_int_equal(g->noutputs, 1);
  const vrt_value *zo = &g->values[g->outputs[0]];
  assert_string_equal(zo->t.name, "o");
  assert_int_equal(g->nodes[zo->producer].op, VRT_OP_Identity);
  const vrt_value *zc = &g->values[g->nodes[zo->producer].in[0]];
  assert_true(zc->flags & VRT_VAL_CONST);
  assert_int_equal(zc->t.dims[0], 0);
  assert_int_equal(zc->t.nbytes, 0);
  vrt_graph_free(g);
  assert_int_equal(vrt__tfjs_load_json_weights(&g, zj, strlen(zj), NULL, 0), 0);
  vrt_graph_free(g);
  /* a non-constant conv filter */
  snprintf(j, sizeof j,
           "{\"modelTopology\":{\"node\":[%s,{\"name\":\"o\",\"op\":\"Conv2D\",\"input\":[\"x\",\"x\"],"
           "\"attr\":{\"padding\":{\"s\":\"U0FNRQ==\"}}}]}}",
           ph);
  expect_error(j, NULL, 0, VRT_EUNSUPPORTED, "constant");
  vrt_graph_free(NULL);
}

/* ---- the real models --------------------------------------------------------- */

typedef struct real_model {
  const char *name, *input;
  vrt_dtype dtype;
  int64_t dims[4];
  int nout;
  const char *outputs[6];
} real_model;

static const real_model real[] = {
    {"centernet", "tower_0/images", VRT_F32, {1, 512, 512, 3}, 3,
     {"tower_0/wh", "tower_0/keypoints", "tower_0/detections"}},
    {"nanodet", "input_1", VRT_F32, {1, 3, 416, 416}, 6,
     {"Identity_2:0", "Identity_5:0", "Identity_1:0", "Identity:0", "Identity_4:0", "Identity_3:0"}},
    {"movenet-lightning", "input", VRT_I32, {1, 192, 192, 3}, 1, {"Identity:0"}},
    {"movenet-thunder", "input", VRT_I32, {1, 256, 256, 3}, 1, {"Identity:0"}},
    {"blazeface", "input", VRT_F32, {1, 256, 256, 3}, 4, {"Identity_3:0", "Identity:0", "Identity_1:0", "Identity_2:0"}},
    {"gear", "input_1", VRT_F32, {-1, 198, 198, 3}, 3, {"race_output", "gender_output", "age_output"}},
    {"age", "input_1", VRT_F32, {-1, 64, 64, 3}, 1, {"Identity:0"}},
    {"gender", "input_1", VRT_F32, {-1, 64, 64, 1}, 1, {"Identity:0"}},
    {"faceres", "input_1", VRT_F32, {-1, 224, 224, 3}, 3,
     {"gender_pred/Sigmoid:0", "global_pooling/Mean", "age_pred/Softmax:0"}},
};

static void test_real_models(void **state) {
  (void)state;
  for (size_t m = 0; m < sizeof real / sizeof real[0]; m++) {
    const real_model *r = &real[m];
    char rel[128], path[1024];
    snprintf(rel, sizeof rel, "models/human/%s.json", r->name);
    asset_path(path, sizeof path, rel);
    vrt_graph *g = NULL;
    int rc = vrt__tfjs_load_file(&g, path);
    if (rc) fail_msg("%s: %s", r->name, vrt_last_error());
    assert_int_equal(g->ninputs, 1);
    const vrt_value *in = &g->values[g->inputs[0]];
    assert_string_equal(in->t.name, r->input);
    assert_int_equal(in->t.dtype, r->dtype);
    assert_int_equal(in->t.ndim, 4);
    for (int d = 0; d < 4; d++) assert_int_equal(in->t.dims[d], r->dims[d]);
    assert_int_equal(g->noutputs, r->nout);
    for (int o = 0; o < r->nout; o++) {
      assert_string_equal(g->values[g->outputs[o]].t.name, r->outputs[o]);
      assert_int_equal(g->values[g->outputs[o]].t.dtype, VRT_F32); /* from the signature */
    }
    /* every node lowered onto a known IR op; no TF op survives */
    for (int i = 0; i < g->nnodes; i++) assert_true(g->nodes[i].op >= 0 && g->nodes[i].op < VRT_OP_COUNT);
    assert_int_equal(vrt_graph_validate(g), 0);
    /* weights: float16 shards double when widened to float32 */
    size_t wb = 0;
    for (int i = 0; i < g->nvalues; i++)
      if (g->values[i].flags & VRT_VAL_CONST) wb += g->values[i].t.nbytes;
    assert_true(wb > 1000);
    printf("%-18s %4d IR nodes, %9zu weight bytes\n", r->name, g->nnodes, wb);
    vrt_graph_free(g);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_conv_model, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_shared_filter, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_op_lowering, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_errors, setup_dir, teardown_dir),
      cmocka_unit_test(test_real_models),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
