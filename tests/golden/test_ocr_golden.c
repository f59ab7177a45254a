/* The PP-OCRv4 pipeline on real photos (opencv-doc's scenetext signs) with the
 * real models: the words each sign carries must be read (case-insensitive,
 * spaces ignored); a photo without text reads nothing; a 1x1 image, noise and
 * text in a script outside the dictionary are handled without error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/assets.h"
#include "vigil/ocr.h"

static ocr_engine *eng;

static int setup(void **s) {
  (void)s;
  char err[512];
  if (ocr_load_config(&eng, NULL, NULL, err, sizeof err)) {
    fprintf(stderr, "%s (run `make deps`)\n", err);
    return -1;
  }
  return 0;
}

static int teardown(void **s) {
  (void)s;
  ocr_free(eng);
  return 0;
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
  char err[256];
  assert_int_equal(vigil_img_decode(im, b, (size_t)n, &lim, err, sizeof err), 0);
  free(b);
}

/* Upper case, spaces dropped. */
static void squash(char *out, size_t cap, const char *s) {
  size_t k = 0;
  for (; *s && k + 1 < cap; s++)
    if (*s != ' ') out[k++] = (char)toupper((unsigned char)*s);
  out[k] = 0;
}

static void read_expect(const char *name, const char *const *words, int nwords) {
  vigil_image im = {0};
  load_media(&im, name);
  ocr_result r;
  char err[512];
  ocr_params p = ocr_default_params();
  assert_int_equal(ocr_run(eng, &r, &im, &p, err, sizeof err), 0);
  char *text = ocr_result_text(&r);
  static char flat[8192];
  squash(flat, sizeof flat, text);
  printf("%s: %d lines, %.0f ms (det %.0f cls %.0f rec %.0f)\n", name, r.n, r.total_ms, r.det_ms, r.cls_ms,
         r.rec_ms);
  for (int i = 0; i < r.n; i++)
    printf("  %-32s %.3f  (%.0f,%.0f)-(%.0f,%.0f)\n", r.lines[i].text, r.lines[i].confidence, r.lines[i].quad[0].x,
           r.lines[i].quad[0].y, r.lines[i].quad[2].x, r.lines[i].quad[2].y);
  for (int i = 0; i < nwords; i++) {
    char w[128];
    squash(w, sizeof w, words[i]);
    if (!strstr(flat, w)) fail_msg("%s: '%s' not read (got '%s')", name, words[i], text);
  }
  for (int i = 0; i < r.n; i++) {
    assert_true(r.lines[i].confidence >= p.drop_score && r.lines[i].confidence <= 1.0001f);
    for (int k = 0; k < 4; k++) {
      assert_true(r.lines[i].quad[k].x >= 0 && r.lines[i].quad[k].x < im.w);
      assert_true(r.lines[i].quad[k].y >= 0 && r.lines[i].quad[k].y < im.h);
    }
  }
  free(text);
  ocr_result_free(&r);
  vigil_image_free(&im);
}

static void test_scenetext01(void **s) {
  (void)s;
  static const char *const w[] = {"NOTICE", "DOUBLE", "PARKING", "PROHIBITED"};
  read_expect("scenetext01.jpg", w, 4);
}

static void test_scenetext05(void **s) {
  (void)s;
  static const char *const w[] = {"NO PARKING"};
  read_expect("scenetext05.jpg", w, 1);
}

static void test_scenetext02(void **s) {
  (void)s;
  static const char *const w[] = {"Sports Centre", "Car Parks"};
  read_expect("scenetext02.jpg", w, 2);
}

/* Reading order: NOTICE is above DOUBLE PARKING, which is above PROHIBITED. */
static void test_reading_order(void **s) {
  (void)s;
  vigil_image im = {0};
  load_media(&im, "scenetext01.jpg");
  ocr_result r;
  char err[512];
  assert_int_equal(ocr_run(eng, &r, &im, NULL, err, sizeof err), 0);
  char *text = ocr_result_text(&r), flat[4096];
  squash(flat, sizeof flat, text);
  char *a = strstr(flat, "NOTICE"), *b = strstr(flat, "PARKING"), *c = strstr(flat, "PROHIBITED");
  assert_non_null(a);
  assert_non_null(b);
  assert_non_null(c);
  assert_true(a < b && b < c);
  for (int i = 1; i < r.n; i++) assert_true(r.lines[i].quad[0].y + 10 >= r.lines[i - 1].quad[0].y);
  free(text);
  ocr_result_free(&r);
  vigil_image_free(&im);
}

/* A photo without text: no lines, empty text, not an error. */
static void test_no_text(void **s) {
  (void)s;
  vigil_image im = {0};
  assert_int_equal(vigil_image_init(&im, 320, 240, 3), 0);
  for (int y = 0; y < 240; y++)
    for (int x = 0; x < 320; x++) {
      uint8_t *p = im.data + y * im.stride + x * 3;
      p[0] = (uint8_t)(60 + y / 4), p[1] = (uint8_t)(120 + x / 8), p[2] = 200; /* a smooth sky */
    }
  ocr_result r;
  char err[512];
  assert_int_equal(ocr_run(eng, &r, &im, NULL, err, sizeof err), 0);
  assert_int_equal(r.n, 0);
  char *t = ocr_result_text(&r);
  assert_string_equal(t, "");
  free(t);
  ocr_result_free(&r);
  vigil_image_free(&im);
}

static void test_one_pixel(void **s) {
  (void)s;
  vigil_image im = {0};
  assert_int_equal(vigil_image_init(&im, 1, 1, 3), 0);
  ocr_result r;
  char err[512];
  assert_int_equal(ocr_run(eng, &r, &im, NULL, err, sizeof err), 0);
  assert_int_equal(r.n, 0);
  ocr_result_free(&r);
  vigil_image_free(&im);
}

/* Salt-and-pepper noise makes thousands of candidate regions: the candidates
 * examined and the lines recognised are capped. */
static void test_noise_capped(void **s) {
  (void)s;
  vigil_image im = {0};
  assert_int_equal(vigil_image_init(&im, 960, 960, 3), 0);
  unsigned st = 12345;
  for (int y = 0; y < im.h; y++)
    for (int x = 0; x < im.w; x++) {
      st = st * 1103515245u + 12345u;
      uint8_t v = (st >> 16) & 1 ? 255 : 0;
      memset(im.data + y * im.stride + x * 3, v, 3);
    }
  ocr_params p = ocr_default_params();
  p.max_candidates = 300;
  p.max_lines = 20;
  ocr_result r;
  char err[512];
  assert_int_equal(ocr_run(eng, &r, &im, &p, err, sizeof err), 0);
  printf("noise: %d candidate regions, %d lines, capped %d\n", r.candidates, r.n, r.capped);
  assert_true(r.n <= p.max_lines);
  if (r.candidates > p.max_candidates) assert_true(r.capped);
  ocr_result_free(&r);
  vigil_image_free(&im);
}

/* The line cap on a real sign: only the first lines in reading order are kept. */
static void test_lines_capped(void **s) {
  (void)s;
  vigil_image im = {0};
  load_media(&im, "scenetext01.jpg");
  ocr_params p = ocr_default_params();
  p.max_lines = 2;
  ocr_result r;
  char err[512];
  assert_int_equal(ocr_run(eng, &r, &im, &p, err, sizeof err), 0);
  assert_true(r.capped);
  assert_true(r.n >= 1 && r.n <= 2);
  assert_string_equal(r.lines[0].text, "NOTICE");
  ocr_result_free(&r);
  vigil_image_free(&im);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scenetext01), cmocka_unit_test(test_scenetext05),  cmocka_unit_test(test_scenetext02),
      cmocka_unit_test(test_reading_order), cmocka_unit_test(test_no_text),   cmocka_unit_test(test_one_pixel),
      cmocka_unit_test(test_noise_capped), cmocka_unit_test(test_lines_capped),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
