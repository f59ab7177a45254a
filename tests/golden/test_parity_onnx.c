/* Parity of vrt with ONNX Runtime 1.30 on the PP-OCR models (det, rec, cls),
 * on inputs built from a real photo by tools/ref/golden_onnx.sh (golden data in
 * $VIGIL_HOME/golden/onnx/<model>/). Also checks the model facts of
 * MODEL-FACTS.md: shapes, softmax rows, the text and angles ORT reads. */
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

#define MAX_IO 4

static void asset(char *buf, size_t len, const char *rel) {
  const char *home = getenv("VIGIL_HOME");
  if (home && home[0]) snprintf(buf, len, "%s/%s", home, rel);
  else snprintf(buf, len, "%s/.cache/vigil/%s", getenv("HOME") ? getenv("HOME") : "", rel);
  if (access(buf, R_OK) != 0) fail_msg("%s is missing: run `make deps`", buf);
}

static void *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("cannot open %s: run `make deps`", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  void *b = malloc((size_t)n + 1);
  assert_non_null(b);
  assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return b;
}

static json_t *read_json(const char *dir, const char *file) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", dir, file);
  json_error_t e;
  json_t *j = json_load_file(p, 0, &e);
  if (!j) fail_msg("%s: %s (run `make deps`)", p, e.text);
  return j;
}

/* Tensors described by inputs.json / outputs.json: [{name, dtype, shape, file}] */
static int read_tensors(const char *dir, const char *file, vrt_tensor *t) {
  json_t *a = read_json(dir, file);
  int n = (int)json_array_size(a);
  assert_true(n > 0 && n <= MAX_IO);
  for (int i = 0; i < n; i++) {
    json_t *o = json_array_get(a, i);
    memset(&t[i], 0, sizeof t[i]);
    t[i].name = strdup(json_string_value(json_object_get(o, "name")));
    assert_string_equal(json_string_value(json_object_get(o, "dtype")), "float32");
    t[i].dtype = VRT_F32;
    json_t *shape = json_object_get(o, "shape");
    t[i].ndim = (int)json_array_size(shape);
    for (int d = 0; d < t[i].ndim; d++) t[i].dims[d] = json_integer_value(json_array_get(shape, d));
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, json_string_value(json_object_get(o, "file")));
    t[i].data = read_all(p, &t[i].nbytes);
    assert_int_equal(t[i].nbytes, (size_t)vrt_tensor_numel(&t[i]) * 4);
  }
  json_decref(a);
  return n;
}

typedef struct parity {
  vrt_tensor in[MAX_IO], want[MAX_IO];
  int nin, nwant;
  vrt_model_t *m;
  vrt_session_t *s;
  const vrt_tensor *out;
  int nout;
  json_t *meta;
} parity;

static void parity_free(parity *p) {
  for (int i = 0; i < MAX_IO; i++) {
    free(p->in[i].data), free((char *)p->in[i].name);
    free(p->want[i].data), free((char *)p->want[i].name);
  }
  vrt_session_free(p->s);
  vrt_model_free(p->m);
  json_decref(p->meta);
}

/* Loads golden/onnx/<name>, runs vrt, and checks every output against ORT. */
static void run_parity(parity *p, const char *name) {
  memset(p, 0, sizeof *p);
  char rel[256], dir[1024], model[1024];
  snprintf(rel, sizeof rel, "golden/onnx/%s/meta.json", name);
  asset(dir, sizeof dir, rel);
  *strrchr(dir, '/') = 0;
  p->meta = read_json(dir, "meta.json");
  asset(model, sizeof model, json_string_value(json_object_get(p->meta, "model")));
  p->nin = read_tensors(dir, "inputs.json", p->in);
  p->nwant = read_tensors(dir, "outputs.json", p->want);
  if (vrt_model_load(&p->m, model, vrt_load_default_params())) fail_msg("%s: %s", model, vrt_last_error());
  if (vrt_session_create(&p->s, p->m, vrt_session_default_params())) fail_msg("session: %s", vrt_last_error());
  if (vrt_session_run(p->s, p->in, p->nin, &p->out, &p->nout)) fail_msg("%s: run: %s", name, vrt_last_error());
  assert_int_equal(p->nout, p->nwant);
  for (int k = 0; k < p->nwant; k++) {
    const vrt_tensor *got = &p->out[k], *want = &p->want[k];
    assert_string_equal(got->name, want->name);
    assert_int_equal(got->dtype, VRT_F32);
    assert_int_equal(got->ndim, want->ndim);
    for (int d = 0; d < want->ndim; d++) assert_int_equal(got->dims[d], want->dims[d]);
    int64_t n = vrt_tensor_numel(want);
    const float *g = got->data, *w = want->data;
    double maxerr = 0, maxref = 0;
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) {
      double e = fabs((double)g[i] - w[i]);
      if (!(e <= maxerr)) maxerr = e, at = i; /* NaN counts as worst */
      if (fabs(w[i]) > maxref) maxref = fabs(w[i]);
    }
    double tol = 1e-4 * (maxref > 1 ? maxref : 1);
    printf("%s %s: max abs error %.3g (at %lld: vrt %.7g, ort %.7g), max |ref| %.3g, tolerance %.3g\n", name,
           want->name, maxerr, (long long)at, g[at], w[at], maxref, tol);
    assert_true(maxerr <= tol);
  }
}

static void check_input_decl(const vrt_model_t *m, const int64_t *dims) {
  assert_int_equal(vrt_model_num_inputs(m), 1);
  const vrt_tensor *x = vrt_model_input(m, 0);
  assert_string_equal(x->name, "x");
  assert_int_equal(x->dtype, VRT_F32);
  assert_int_equal(x->ndim, 4);
  for (int d = 0; d < 4; d++) assert_int_equal(x->dims[d], dims[d]);
}

static void test_det(void **state) {
  (void)state;
  parity p;
  run_parity(&p, "det");
  check_input_decl(p.m, (const int64_t[]){-1, 3, -1, -1});
  /* [N,1,H,W] probability map at the input's size */
  const vrt_tensor *y = &p.out[0];
  assert_int_equal(y->ndim, 4);
  assert_int_equal(y->dims[1], 1);
  assert_int_equal(y->dims[2], p.in[0].dims[2]);
  assert_int_equal(y->dims[3], p.in[0].dims[3]);
  const float *v = y->data;
  int64_t text = 0, n = vrt_tensor_numel(y);
  for (int64_t i = 0; i < n; i++) {
    assert_true(v[i] >= 0.0f && v[i] <= 1.0f);
    text += v[i] > 0.3f;
  }
  int64_t want = json_integer_value(json_object_get(p.meta, "text_pixels"));
  printf("det: %lld text pixels (ort %lld)\n", (long long)text, (long long)want);
  assert_true(text > 1000 && llabs(text - want) <= want / 100);
  parity_free(&p);
}

static void test_rec(void **state) {
  (void)state;
  parity p;
  run_parity(&p, "rec");
  check_input_decl(p.m, (const int64_t[]){-1, 3, 48, -1});
  /* [N, W/8, 6625] softmax rows; the greedy CTC path equals ORT's */
  const vrt_tensor *y = &p.out[0];
  assert_int_equal(y->ndim, 3);
  assert_int_equal(y->dims[0], p.in[0].dims[0]);
  assert_int_equal(y->dims[1], p.in[0].dims[3] / 8);
  assert_int_equal(y->dims[2], 6625);
  const float *g = y->data, *w = p.want[0].data;
  int64_t rows = y->dims[0] * y->dims[1], C = y->dims[2], nonblank = 0;
  for (int64_t r = 0; r < rows; r++) {
    double sum = 0;
    int64_t ag = 0, aw = 0;
    for (int64_t c = 0; c < C; c++) {
      sum += g[r * C + c];
      if (g[r * C + c] > g[r * C + ag]) ag = c;
      if (w[r * C + c] > w[r * C + aw]) aw = c;
    }
    assert_true(fabs(sum - 1.0) < 1e-3);
    assert_int_equal(ag, aw);
    nonblank += ag != 0;
  }
  json_t *text = json_object_get(p.meta, "text");
  printf("rec: ort reads");
  for (size_t i = 0; i < json_array_size(text); i++) printf(" \"%s\"", json_string_value(json_array_get(text, i)));
  printf("; vrt's greedy path is identical (%lld non-blank steps)\n", (long long)nonblank);
  assert_string_equal(json_string_value(json_array_get(text, 0)), "NOTICE");
  assert_true(nonblank >= 6);
  parity_free(&p);
}

static void test_cls(void **state) {
  (void)state;
  parity p;
  run_parity(&p, "cls");
  check_input_decl(p.m, (const int64_t[]){-1, 3, -1, -1});
  const vrt_tensor *y = &p.out[0];
  assert_int_equal(y->ndim, 2);
  assert_int_equal(y->dims[0], p.in[0].dims[0]);
  assert_int_equal(y->dims[1], 2);
  json_t *angle = json_object_get(p.meta, "angle");
  const float *v = y->data;
  for (int64_t i = 0; i < y->dims[0]; i++) {
    const char *a = v[2 * i + 1] > v[2 * i] ? "180" : "0";
    assert_string_equal(a, json_string_value(json_array_get(angle, (size_t)i)));
  }
  /* the second crop is the first turned 180 degrees */
  assert_string_equal(json_string_value(json_array_get(angle, 0)), "0");
  assert_string_equal(json_string_value(json_array_get(angle, 1)), "180");
  parity_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_det),
      cmocka_unit_test(test_rec),
      cmocka_unit_test(test_cls),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
