/* BRISQUE against its reference (OpenCV's quality module, via
 * tools/ref/golden_brisque.sh) on real photos and on blurred, noisy, JPEG-compressed
 * and darkened versions of them: every score within 1e-3 (relative, the score floored
 * at 1 in the denominator), every feature within float precision (src/img/brisque.c
 * reproduces the reference's float32 arithmetic, which decides the flat areas of the
 * JPEG-8 and darkened images). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/assets.h"
#include "vigil/quality.h"

static vigil_brisque *model;

static int setup(void **s) {
  (void)s;
  char mp[1024], rp[1024], err[256];
  if (vigil_asset_require(mp, sizeof mp, "models/brisque/brisque_model_live.yml") ||
      vigil_asset_require(rp, sizeof rp, "models/brisque/brisque_range_live.yml")) {
    fprintf(stderr, "%s\n", vigil_asset_errmsg());
    return -1;
  }
  if (vigil_brisque_load(&model, mp, rp, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  return 0;
}

static int teardown(void **s) {
  (void)s;
  vigil_brisque_free(model);
  return 0;
}

static void *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  void *b = malloc(n > 0 ? (size_t)n : 1);
  *len = fread(b, 1, (size_t)(n > 0 ? n : 0), f);
  fclose(f);
  return b;
}

static void load_png(vigil_image *im, const char *dir, const char *name) {
  char path[2048], err[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  size_t len = 0;
  void *buf = slurp(path, &len);
  assert_non_null(buf);
  vigil_img_limits lim = vigil_img_default_limits();
  if (vigil_img_decode(im, buf, len, &lim, err, sizeof err)) fail_msg("%s: %s", name, err);
  free(buf);
}

static void test_against_opencv(void **s) {
  (void)s;
  char dir[1024];
  if (vigil_asset_require(dir, sizeof dir, "golden/brisque/scores.txt")) fail_msg("%s", vigil_asset_errmsg());
  FILE *f = fopen(dir, "r");
  assert_non_null(f);
  *strrchr(dir, '/') = 0;
  char line[8192];
  int n = 0;
  double worst = 0, worst_feat = 0, clean_max = 0, blur_min = 1e9;
  while (fgets(line, sizeof line, f)) {
    char name[256];
    double ref, rf[VIGIL_BRISQUE_NFEAT];
    char *p = line;
    int used = 0;
    assert_int_equal(sscanf(p, "%255s %lf%n", name, &ref, &used), 2);
    p += used;
    for (int i = 0; i < VIGIL_BRISQUE_NFEAT; i++) {
      assert_int_equal(sscanf(p, "%lf%n", &rf[i], &used), 1);
      p += used;
    }
    vigil_image im = {0};
    load_png(&im, dir, name);
    double feat[VIGIL_BRISQUE_NFEAT], score;
    char err[256];
    assert_int_equal(vigil_brisque_features(feat, &im, err, sizeof err), 0);
    assert_int_equal(vigil_brisque_score(&score, model, &im, err, sizeof err), 0);
    vigil_image_free(&im);
    /* the reference prints floats with 9 digits: allow a few float ulps */
    for (int i = 0; i < VIGIL_BRISQUE_NFEAT; i++) {
      double d = fabs(feat[i] - rf[i]) / fmax(fabs(rf[i]), 1e-6);
      if (d > worst_feat) worst_feat = d;
      if (d > 1e-5) fail_msg("%s: feature %d is %.9g, reference %.9g", name, i, feat[i], rf[i]);
    }
    double got = score;
    assert_true(got >= 0 && got <= 100);
    double rel = fabs(got - ref) / fmax(fabs(ref), 1.0);
    if (rel > worst) worst = rel;
    if (rel > 1e-3) fail_msg("%s: score %.6f, reference %.6f (rel %.2e)", name, got, ref, rel);
    if (!strchr(name, '_')) clean_max = fmax(clean_max, got);
    if (strstr(name, "_blur3")) blur_min = fmin(blur_min, got);
    n++;
  }
  fclose(f);
  assert_int_equal(n, 30);
  printf("brisque: %d images, worst relative error: score %.2e, feature %.2e\n", n, worst, worst_feat);
  /* the photos are good, their blurred versions poor */
  assert_true(clean_max < 35);
  assert_true(blur_min >= 55);
  assert_string_equal(vigil_brisque_label(clean_max), "good");
  assert_string_equal(vigil_brisque_label(blur_min), "poor");
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_against_opencv)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
