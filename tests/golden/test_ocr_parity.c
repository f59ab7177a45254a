/* Per-stage parity of vigil's OCR pipeline with ONNX Runtime 1.30 running the
 * same three models: every det, cls and rec call the pipeline makes on the
 * scenetext photos is recorded (bench/ocr_stages.h) and replayed with
 * onnxruntime-node (tools/ref/ort_stages.mjs). Each stage must agree: det maps
 * close and giving the same boxes after DB post-processing, cls the same
 * angle, rec the same text after CTC decoding at the same confidence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../bench/ocr_stages.h"
#include "util/assets.h"
#include "vigil/ocr.h"

static ocr_engine *eng;
static ocr_dict dict;
static ocr_stages rec;
static char det_p[1024], rec_p[1024], cls_p[1024], keys_p[1024];

static int setup(void **s) {
  (void)s;
  char err[512];
  if (vigil_asset_require(det_p, sizeof det_p, "models/ocr/ch_PP-OCRv4_det_infer.onnx") ||
      vigil_asset_require(rec_p, sizeof rec_p, "models/ocr/ch_PP-OCRv4_rec_infer.onnx") ||
      vigil_asset_require(cls_p, sizeof cls_p, "models/ocr/ch_ppocr_mobile_v2.0_cls_infer.onnx") ||
      vigil_asset_require(keys_p, sizeof keys_p, "models/ocr/ppocr_keys_v1.txt") ||
      !vigil_asset_exists("ref/node_modules/onnxruntime-node")) {
    fprintf(stderr, "%s (onnxruntime-node in $VIGIL_HOME/ref: run `make deps`)\n", vigil_asset_errmsg());
    return -1;
  }
  if (ocr_load(&eng, det_p, rec_p, cls_p, keys_p, 1, err, sizeof err) || ocr_dict_load(&dict, keys_p, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  snprintf(rec.dir, sizeof rec.dir, "/tmp/vigil-ocr-parity-XXXXXX");
  if (!mkdtemp(rec.dir)) return -1;
  rec.model_det = det_p, rec.model_rec = rec_p, rec.model_cls = cls_p;
  return 0;
}

static int teardown(void **s) {
  (void)s;
  ocr_free(eng);
  ocr_dict_free(&dict);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", rec.dir);
  return system(cmd) ? -1 : 0;
}

static void load_media(vigil_image *im, const char *name) {
  char rel[256], path[1024];
  snprintf(rel, sizeof rel, "media/%s", name);
  if (vigil_asset_require(path, sizeof path, rel)) fail_msg("%s", vigil_asset_errmsg());
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc((size_t)n);
  assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  vigil_img_limits lim = vigil_img_default_limits();
  assert_int_equal(vigil_img_decode(im, b, (size_t)n, &lim, NULL, 0), 0);
  free(b);
}

static void check_det(int i, const float *v, const float *o, size_t n) {
  long long d[4];
  assert_int_equal(ocr_stages_input_shape(&rec, i, d), 0);
  int w = (int)d[3], h = (int)d[2];
  assert_int_equal((size_t)w * h, n);
  double mx = 0;
  for (size_t k = 0; k < n; k++) mx = fmax(mx, fabs((double)v[k] - o[k]));
  ocr_params p = ocr_default_params();
  ocr_box *bv = malloc(sizeof *bv * 1000), *bo = malloc(sizeof *bo * 1000);
  int nv = ocr_db_boxes(bv, 1000, v, w, h, &p, NULL), no = ocr_db_boxes(bo, 1000, o, w, h, &p, NULL);
  printf("det %03d %dx%d: max |vrt - ort| %.2e, boxes %d / %d\n", i, w, h, mx, nv, no);
  assert_true(mx < 1e-3);
  assert_int_equal(nv, no);
  for (int b = 0; b < nv; b++)
    for (int k = 0; k < 4; k++) {
      assert_true(fabsf(bv[b].quad[k].x - bo[b].quad[k].x) < 1.0f);
      assert_true(fabsf(bv[b].quad[k].y - bo[b].quad[k].y) < 1.0f);
    }
  free(bv);
  free(bo);
}

static void check_rec(int i, const float *v, const float *o, size_t n) {
  long long d[4];
  assert_int_equal(ocr_stages_input_shape(&rec, i, d), 0);
  int N = (int)d[0], C = dict.n;
  int T = (int)(n / ((size_t)N * C));
  assert_int_equal((size_t)N * T * C, n);
  double mx = 0;
  for (size_t k = 0; k < n; k++) mx = fmax(mx, fabs((double)v[k] - o[k]));
  printf("rec %03d [%d,3,48,%lld]: max |vrt - ort| %.2e\n", i, N, d[3], mx);
  assert_true(mx < 1e-3);
  for (int b = 0; b < N; b++) {
    char tv[OCR_TEXT_MAX], to[OCR_TEXT_MAX];
    float cv, co;
    ocr_ctc_decode(tv, sizeof tv, &cv, v + (size_t)b * T * C, T, C, &dict);
    ocr_ctc_decode(to, sizeof to, &co, o + (size_t)b * T * C, T, C, &dict);
    printf("    '%s' %.4f | '%s' %.4f\n", tv, cv, to, co);
    assert_string_equal(tv, to);
    assert_true(fabsf(cv - co) < 1e-3f);
  }
}

static void check_cls(int i, const float *v, const float *o, size_t n) {
  double mx = 0;
  for (size_t k = 0; k < n; k++) mx = fmax(mx, fabs((double)v[k] - o[k]));
  printf("cls %03d: %zu lines, max |vrt - ort| %.2e\n", i, n / 2, mx);
  assert_true(mx < 1e-3);
  for (size_t k = 0; k + 1 < n; k += 2) assert_int_equal(v[k + 1] > v[k], o[k + 1] > o[k]);
}

static void test_stages(void **s) {
  (void)s;
  static const char *const photos[] = {"scenetext01.jpg", "scenetext02.jpg", "scenetext05.jpg"};
  ocr_set_stage_hook(ocr_stages_hook, &rec);
  for (int k = 0; k < 3; k++) {
    vigil_image im = {0};
    load_media(&im, photos[k]);
    rec.cur_image = k;
    ocr_result r;
    char err[512];
    assert_int_equal(ocr_run(eng, &r, &im, NULL, err, sizeof err), 0);
    ocr_result_free(&r);
    vigil_image_free(&im);
  }
  ocr_set_stage_hook(NULL, NULL);
  assert_false(rec.failed);
  int counts[3] = {0};
  for (int i = 0; i < rec.n; i++) counts[!strcmp(rec.stage[i], "det") ? 0 : !strcmp(rec.stage[i], "cls") ? 1 : 2]++;
  assert_int_equal(counts[0], 3); /* one det call per photo */
  assert_true(counts[1] >= 3 && counts[2] >= 3);
  const char *src = getenv("VIGIL_SOURCE_DIR");
  assert_int_equal(ocr_stages_run_ort(&rec, src ? src : "..", 0), 0);
  for (int i = 0; i < rec.n; i++) {
    size_t nv = 0, no = 0;
    float *v = ocr_stages_vrt_output(&rec, i, &nv), *o = ocr_stages_ort_output(&rec, i, &no, NULL);
    assert_non_null(v);
    assert_non_null(o);
    assert_int_equal(nv, no);
    if (!strcmp(rec.stage[i], "det")) check_det(i, v, o, nv);
    else if (!strcmp(rec.stage[i], "rec")) check_rec(i, v, o, nv);
    else check_cls(i, v, o, nv);
    free(v);
    free(o);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_stages)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
