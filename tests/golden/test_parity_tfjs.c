/* Parity of vrt with TensorFlow.js 4.22.0 (pure-JS cpu backend) on the nine
 * human-models graphs: the same input, built from a real sample photo by
 * tools/ref/golden_tfjs.sh, must give every output within
 * 1e-4 * max(1, max|ref|) of the reference. Also checks the input/output
 * names and shapes that MODEL-FACTS.md states. Needs `make deps` (models,
 * reference outputs under $VIGIL_HOME/golden/tfjs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
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

static void run_parity(const model_fact *mf) {
  char rel[256], path[2048], gdir[1024];
  snprintf(rel, sizeof rel, "golden/tfjs/%s/meta.json", mf->name);
  asset_path(path, sizeof path, rel);
  json_error_t je;
  json_t *meta = json_load_file(path, 0, &je);
  if (!meta) fail_msg("%s: %s", path, je.text);
  snprintf(gdir, sizeof gdir, "%.*s", (int)(strrchr(path, '/') - path), path);

  /* the model and its introspection */
  snprintf(rel, sizeof rel, "models/human/%s.json", mf->name);
  asset_path(path, sizeof path, rel);
  vrt_model_t *m = NULL;
  int rc = vrt_model_load(&m, path, vrt_load_default_params());
  if (rc) fail_msg("%s: load: %s", mf->name, vrt_last_error());
  assert_int_equal(vrt_model_num_inputs(m), 1);
  const vrt_tensor *in = vrt_model_input(m, 0);
  assert_string_equal(in->name, mf->input);
  assert_int_equal(in->dtype, mf->dtype);
  assert_int_equal(in->ndim, 4);
  for (int d = 0; d < 4; d++) assert_int_equal(in->dims[d], mf->in_dims[d]);
  assert_int_equal(vrt_model_num_outputs(m), mf->nout);
  for (int i = 0; i < mf->nout; i++) assert_non_null(find_fact(mf, vrt_model_output(m, i)->name));

  /* the golden input */
  json_t *jin = json_array_get(json_object_get(meta, "inputs"), 0);
  vrt_tensor x = {.name = mf->input, .dtype = mf->dtype};
  x.ndim = read_shape(json_object_get(jin, "shape"), x.dims);
  snprintf(path, sizeof path, "%s/%s", gdir, json_string_value(json_object_get(jin, "file")));
  x.data = read_all(path, &x.nbytes);
  assert_int_equal(x.nbytes, (size_t)vrt_tensor_numel(&x) * 4);

  vrt_session_t *s = NULL;
  vrt_session_params sp = vrt_session_default_params();
  sp.threads = 1;
  if ((rc = vrt_session_create(&s, m, sp))) fail_msg("%s: session: %s", mf->name, vrt_last_error());
  const vrt_tensor *outs = NULL;
  int nouts = 0;
  if ((rc = vrt_session_run(s, &x, 1, &outs, &nouts))) fail_msg("%s: run: %s", mf->name, vrt_last_error());
  assert_int_equal(nouts, mf->nout);

  /* every reference output: name, shape (also against the facts), values */
  json_t *jouts = json_object_get(meta, "outputs");
  assert_int_equal((int)json_array_size(jouts), mf->nout);
  int bad = 0;
  for (size_t k = 0; k < json_array_size(jouts); k++) {
    json_t *jo = json_array_get(jouts, k);
    const char *name = json_string_value(json_object_get(jo, "name"));
    const out_fact *of = find_fact(mf, name);
    if (!of) fail_msg("%s: reference output '%s' is not a known output", mf->name, name);
    int64_t rdims[VRT_MAX_DIMS];
    int rnd = read_shape(json_object_get(jo, "shape"), rdims);
    assert_int_equal(rnd, of->ndim);
    for (int d = 0; d < rnd; d++) assert_int_equal(rdims[d], of->dims[d]);
    const vrt_tensor *o = NULL;
    for (int i = 0; i < nouts; i++)
      if (!strcmp(outs[i].name, name)) o = &outs[i];
    if (!o) fail_msg("%s: vrt has no output '%s'", mf->name, name);
    char want[96] = "", got[96] = "";
    for (int d = 0; d < rnd; d++) snprintf(want + strlen(want), sizeof want - strlen(want), "%lld,", (long long)rdims[d]);
    for (int d = 0; d < o->ndim; d++) snprintf(got + strlen(got), sizeof got - strlen(got), "%lld,", (long long)o->dims[d]);
    if (strcmp(want, got)) fail_msg("%s/%s: shape [%s] want [%s]", mf->name, name, got, want);
    const char *rdt = json_string_value(json_object_get(jo, "dtype"));
    snprintf(path, sizeof path, "%s/%s", gdir, json_string_value(json_object_get(jo, "file")));
    size_t rlen;
    void *ref = read_all(path, &rlen);
    int64_t n = vrt_tensor_numel(o);
    assert_int_equal(rlen, (size_t)n * 4);
    double maxref = 0, maxerr = 0;
    int64_t at = 0;
    if (!strcmp(rdt, "float32")) {
      assert_int_equal(o->dtype, VRT_F32);
      const float *r = ref, *v = o->data;
      for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)v[i] - r[i]);
        if (fabs(r[i]) > maxref) maxref = fabs(r[i]);
        if (e > maxerr || e != e) maxerr = e != e ? INFINITY : e, at = i;
      }
    } else {
      assert_int_equal(o->dtype, VRT_I32);
      const int32_t *r = ref, *v = o->data;
      for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)v[i] - r[i]);
        if (fabs((double)r[i]) > maxref) maxref = fabs((double)r[i]);
        if (e > maxerr) maxerr = e, at = i;
      }
    }
    double tol = 1e-4 * (maxref > 1 ? maxref : 1);
    printf("parity %-18s %-24s max|ref| %10.4f  max err %.3g (tol %.3g)%s\n", mf->name, name, maxref, maxerr, tol,
           maxerr <= tol ? "" : "  FAIL");
    if (!(maxerr <= tol)) {
      printf("  worst at element %lld\n", (long long)at);
      bad++;
    }
    free(ref);
  }
  fflush(stdout);
  vrt_session_free(s);
  vrt_model_free(m);
  free(x.data);
  json_decref(meta);
  if (bad) fail_msg("%s: %d output(s) differ from TensorFlow.js beyond tolerance", mf->name, bad);
}

static void test_model(void **state) { run_parity((const model_fact *)*state); }

int main(void) {
  struct CMUnitTest tests[sizeof facts / sizeof facts[0]];
  for (size_t i = 0; i < sizeof facts / sizeof facts[0]; i++) {
    tests[i] = (struct CMUnitTest){facts[i].name, test_model, NULL, NULL, (void *)&facts[i]};
  }
  return _cmocka_run_group_tests("parity_tfjs", tests, sizeof facts / sizeof facts[0], NULL, NULL);
}
