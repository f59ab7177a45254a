/* Parity of vrt with TensorFlow.js 4.22.0 (pure-JS cpu backend) on the nine
 * human-models graphs: the same input, built from a real sample photo by
 * tools/ref/golden_tfjs.sh, must give every output within
 * 1e-4 * max(1, max|ref|) of the reference. Also checks the input/output
 * names and shapes that MODEL-FACTS.md states, runs the dynamic-batch models
 * (gear, age, gender, faceres) at batch 2, and runs the synthetic graphs of
 * tools/ref/tfjs_ops_cases.py that cover the lowerings the real models miss.
 * Needs `make deps` (models, reference outputs under $VIGIL_HOME/golden/tfjs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vrt/vrt.h"

typedef struct out_fact {
  const char *name;
  int ndim;
  int64_t dims[4];
} out_fact;

typedef struct model_fact {
  const char *name, *input;
  vrt_dtype dtype;
  int64_t in_dims[4]; /* -1: dynamic batch */
  int nout;
  out_fact outs[6];
} model_fact;

static const model_fact facts[] = {
    {"centernet", "tower_0/images", VRT_F32, {1, 512, 512, 3}, 3,
     {{"tower_0/wh", 4, {1, 128, 128, 4}}, {"tower_0/keypoints", 4, {1, 128, 128, 80}},
      {"tower_0/detections", 3, {1, 100, 6}}}},
    {"nanodet", "input_1", VRT_F32, {1, 3, 416, 416}, 6,
     {{"Identity:0", 3, {1, 2704, 80}}, {"Identity_1:0", 3, {1, 676, 80}}, {"Identity_2:0", 3, {1, 169, 80}},
      {"Identity_3:0", 3, {1, 2704, 44}}, {"Identity_4:0", 3, {1, 676, 44}}, {"Identity_5:0", 3, {1, 169, 44}}}},
    {"movenet-lightning", "input", VRT_I32, {1, 192, 192, 3}, 1, {{"Identity:0", 4, {1, 1, 17, 3}}}},
    {"movenet-thunder", "input", VRT_I32, {1, 256, 256, 3}, 1, {{"Identity:0", 4, {1, 1, 17, 3}}}},
    {"blazeface", "input", VRT_F32, {1, 256, 256, 3}, 4,
     {{"Identity:0", 3, {1, 512, 1}}, {"Identity_1:0", 3, {1, 384, 1}}, {"Identity_2:0", 3, {1, 512, 16}},
      {"Identity_3:0", 3, {1, 384, 16}}}},
    {"gear", "input_1", VRT_F32, {-1, 198, 198, 3}, 3,
     {{"age_output", 2, {1, 7}}, {"gender_output", 2, {1, 2}}, {"race_output", 2, {1, 5}}}},
    {"age", "input_1", VRT_F32, {-1, 64, 64, 3}, 1, {{"Identity:0", 2, {1, 1}}}},
    {"gender", "input_1", VRT_F32, {-1, 64, 64, 1}, 1, {{"Identity:0", 2, {1, 2}}}},
    {"faceres", "input_1", VRT_F32, {-1, 224, 224, 3}, 3,
     {{"gender_pred/Sigmoid:0", 2, {1, 1}}, {"global_pooling/Mean", 2, {1, 1024}},
      {"age_pred/Softmax:0", 2, {1, 100}}}},
};

/* "$VIGIL_HOME/<rel>"; fails the test when it is missing. */
static void asset_path(char *buf, size_t len, const char *rel) {
  const char *home = getenv("VIGIL_HOME");
  if (home && *home)
    snprintf(buf, len, "%s/%s", home, rel);
  else
    snprintf(buf, len, "%s/.cache/vigil/%s", getenv("HOME") ? getenv("HOME") : "", rel);
  if (access(buf, R_OK) != 0) fail_msg("%s is missing: run `make deps`", buf);
}

static void *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("%s: cannot open: run `make deps`", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  void *buf = malloc(n > 0 ? (size_t)n : 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static int read_shape(json_t *arr, int64_t *dims) {
  int n = (int)json_array_size(arr);
  assert_true(n <= VRT_MAX_DIMS);
  for (int i = 0; i < n; i++) dims[i] = json_integer_value(json_array_get(arr, (size_t)i));
  return n;
}

static const out_fact *find_fact(const model_fact *mf, const char *name) {
  for (int i = 0; i < mf->nout; i++)
    if (!strcmp(mf->outs[i].name, name)) return &mf->outs[i];
  return NULL;
}

/* Compares the vrt output named like reference output jo, whose batch dim
 * holds reps copies of the reference. Prints one line; returns 1 if bad. */
static int check_output(const char *label, const char *tag, const char *gdir, json_t *jo, const vrt_tensor *outs,
                        int nouts, int reps) {
  char path[2048], lbl[64];
  const char *name = json_string_value(json_object_get(jo, "name"));
  snprintf(lbl, sizeof lbl, "%s%s", label, tag);
  int64_t rdims[VRT_MAX_DIMS];
  int rnd = read_shape(json_object_get(jo, "shape"), rdims);
  if (rnd > 0) rdims[0] *= reps;
  const vrt_tensor *o = NULL;
  for (int i = 0; i < nouts; i++)
    if (!strcmp(outs[i].name, name)) o = &outs[i];
  if (!o) fail_msg("%s: vrt has no output '%s'", lbl, name);
  char want[160] = "", got[160] = "";
  for (int d = 0; d < rnd; d++) snprintf(want + strlen(want), sizeof want - strlen(want), "%lld,", (long long)rdims[d]);
  for (int d = 0; d < o->ndim; d++) snprintf(got + strlen(got), sizeof got - strlen(got), "%lld,", (long long)o->dims[d]);
  if (strcmp(want, got)) {
    printf("parity %-22s %-24s shape [%s] want [%s]  FAIL\n", lbl, name, got, want);
    return 1;
  }
  const char *rdt = json_string_value(json_object_get(jo, "dtype"));
  bool is_f32 = !strcmp(rdt, "float32");
  if ((is_f32 && o->dtype != VRT_F32) || (!is_f32 && o->dtype != VRT_I32)) {
    printf("parity %-22s %-24s dtype %s want %s  FAIL\n", lbl, name, vrt_dtype_name(o->dtype), rdt);
    return 1;
  }
  snprintf(path, sizeof path, "%s/%s", gdir, json_string_value(json_object_get(jo, "file")));
  size_t rlen;
  void *ref = read_all(path, &rlen);
  int64_t n = vrt_tensor_numel(o), nr = n / reps;
  assert_int_equal(rlen, (size_t)nr * 4);
  double maxref = 0, maxerr = 0;
  int64_t at = 0;
  for (int64_t i = 0; i < n; i++) {
    double r = is_f32 ? ((const float *)ref)[i % nr] : ((const int32_t *)ref)[i % nr];
    double v = is_f32 ? ((const float *)o->data)[i] : ((const int32_t *)o->data)[i];
    double e = fabs(v - r);
    if (e != e) e = INFINITY;
    if (fabs(r) > maxref) maxref = fabs(r);
    if (e > maxerr) maxerr = e, at = i;
  }
  double tol = 1e-4 * (maxref > 1 ? maxref : 1);
  printf("parity %-22s %-24s max|ref| %10.4f  max err %.3g (tol %.3g)%s\n", lbl, name, maxref, maxerr, tol,
         maxerr <= tol ? "" : "  FAIL");
  int bad = !(maxerr <= tol);
  if (bad) {
    double r = is_f32 ? ((const float *)ref)[at % nr] : ((const int32_t *)ref)[at % nr];
    double v = is_f32 ? ((const float *)o->data)[at] : ((const int32_t *)o->data)[at];
    printf("  worst at element %lld: vrt %.7g, tfjs %.7g\n", (long long)at, v, r);
  }
  free(ref);
  return bad;
}

/* Runs model_path on the golden inputs of gdir/meta.json and compares every
 * reference output; mf (NULL for the synthetic cases) adds the facts. */
static void run_parity(const char *label, const char *model_path, const char *gdir, const model_fact *mf) {
  char path[2048];
  snprintf(path, sizeof path, "%s/meta.json", gdir);
  json_error_t je;
  json_t *meta = json_load_file(path, 0, &je);
  if (!meta) fail_msg("%s: %s: run `make deps`", path, je.text);

  vrt_model_t *m = NULL;
  int rc = vrt_model_load(&m, model_path, vrt_load_default_params());
  if (rc) fail_msg("%s: load: %s", label, vrt_last_error());
  json_t *jins = json_object_get(meta, "inputs"), *jouts = json_object_get(meta, "outputs");
  int nin = (int)json_array_size(jins), nref = (int)json_array_size(jouts);
  assert_int_equal(vrt_model_num_inputs(m), nin);
  assert_int_equal(vrt_model_num_outputs(m), nref);
  if (mf) {
    const vrt_tensor *in = vrt_model_input(m, 0);
    assert_int_equal(nin, 1);
    assert_string_equal(in->name, mf->input);
    assert_int_equal(in->dtype, mf->dtype);
    assert_int_equal(in->ndim, 4);
    for (int d = 0; d < 4; d++) assert_int_equal(in->dims[d], mf->in_dims[d]);
    assert_int_equal(nref, mf->nout);
    for (int i = 0; i < mf->nout; i++) assert_non_null(find_fact(mf, vrt_model_output(m, i)->name));
  }

  /* the golden inputs, fed by position in the model's input order */
  vrt_tensor x[4];
  assert_true(nin >= 1 && nin <= 4);
  for (int i = 0; i < nin; i++) {
    json_t *jin = json_array_get(jins, (size_t)i);
    const vrt_tensor *mi = vrt_model_input(m, i);
    memset(&x[i], 0, sizeof x[i]);
    x[i].name = mi->name;
    x[i].dtype = strcmp(json_string_value(json_object_get(jin, "dtype")), "int32") ? VRT_F32 : VRT_I32;
    assert_int_equal(x[i].dtype, mi->dtype);
    x[i].ndim = read_shape(json_object_get(jin, "shape"), x[i].dims);
    snprintf(path, sizeof path, "%s/%s", gdir, json_string_value(json_object_get(jin, "file")));
    x[i].data = read_all(path, &x[i].nbytes);
    assert_int_equal(x[i].nbytes, (size_t)vrt_tensor_numel(&x[i]) * 4);
  }

  vrt_session_t *s = NULL;
  vrt_session_params sp = vrt_session_default_params();
  sp.threads = 1;
  if ((rc = vrt_session_create(&s, m, sp))) fail_msg("%s: session: %s", label, vrt_last_error());
  const vrt_tensor *outs = NULL;
  int nouts = 0;
  if ((rc = vrt_session_run(s, x, nin, &outs, &nouts))) fail_msg("%s: run: %s", label, vrt_last_error());
  assert_int_equal(nouts, nref);

  /* every reference output: name, shape (and the facts), values */
  int bad = 0;
  for (int k = 0; k < nref; k++) {
    json_t *jo = json_array_get(jouts, (size_t)k);
    if (mf) {
      int64_t rdims[VRT_MAX_DIMS];
      int rnd = read_shape(json_object_get(jo, "shape"), rdims);
      const out_fact *of = find_fact(mf, json_string_value(json_object_get(jo, "name")));
      if (!of) fail_msg("%s: reference output '%s' is not a known output", label, json_string_value(json_object_get(jo, "name")));
      assert_int_equal(rnd, of->ndim);
      for (int d = 0; d < rnd; d++) assert_int_equal(rdims[d], of->dims[d]);
    }
    bad += check_output(label, "", gdir, jo, outs, nouts, 1);
  }

  /* a dynamic batch: the input twice over must give the reference twice */
  if (mf && mf->in_dims[0] == -1) {
    vrt_tensor x2 = x[0];
    x2.dims[0] *= 2;
    x2.nbytes *= 2;
    x2.data = malloc(x2.nbytes);
    assert_non_null(x2.data);
    memcpy(x2.data, x[0].data, x[0].nbytes);
    memcpy((char *)x2.data + x[0].nbytes, x[0].data, x[0].nbytes);
    if ((rc = vrt_session_run(s, &x2, 1, &outs, &nouts))) fail_msg("%s: batch-2 run: %s", label, vrt_last_error());
    for (int k = 0; k < nref; k++) bad += check_output(label, " x2", gdir, json_array_get(jouts, (size_t)k), outs, nouts, 2);
    free(x2.data);
  }
  fflush(stdout);
  vrt_session_free(s);
  vrt_model_free(m);
  for (int i = 0; i < nin; i++) free(x[i].data);
  json_decref(meta);
  if (bad) fail_msg("%s: %d output(s) differ from TensorFlow.js", label, bad);
}

static void test_model(void **state) {
  const model_fact *mf = *state;
  char rel[256], model[1024], gdir[1024];
  snprintf(rel, sizeof rel, "models/human/%s.json", mf->name);
  asset_path(model, sizeof model, rel);
  snprintf(rel, sizeof rel, "golden/tfjs/%s", mf->name);
  asset_path(gdir, sizeof gdir, rel);
  run_parity(mf->name, model, gdir, mf);
}

/* The synthetic graphs of tools/ref/tfjs_ops_cases.py, one per lowering
 * family the real models leave untested. */
static const char *const op_cases[] = {
    "conv_explicit_prelu", "conv_dilated_leaky", "depthwise", "pools",     "matmul", "resize",
    "split_pack",          "strided_slice",      "reduce_topk", "misc",    "int_ops",
};

static void test_op_case(void **state) {
  const char *name = *state;
  char rel[256], model[1100], gdir[1024];
  snprintf(rel, sizeof rel, "golden/tfjs/ops/%s", name);
  asset_path(gdir, sizeof gdir, rel);
  snprintf(model, sizeof model, "%s/model.json", gdir);
  run_parity(name, model, gdir, NULL);
}

int main(void) {
  enum { NM = sizeof facts / sizeof facts[0], NC = sizeof op_cases / sizeof op_cases[0] };
  struct CMUnitTest tests[NM + NC];
  for (size_t i = 0; i < NM; i++)
    tests[i] = (struct CMUnitTest){facts[i].name, test_model, NULL, NULL, (void *)&facts[i]};
  for (size_t i = 0; i < NC; i++)
    tests[NM + i] = (struct CMUnitTest){op_cases[i], test_op_case, NULL, NULL, (void *)op_cases[i]};
  return _cmocka_run_group_tests("parity_tfjs", tests, NM + NC, NULL, NULL);
}
