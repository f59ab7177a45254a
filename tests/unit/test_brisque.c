/* BRISQUE's bad input: model files that are truncated or have the wrong vector length
 * fail to load with a reason; images that are too small or have no texture are
 * refused with a reason instead of scoring NaN; a valid model predicts what its
 * RBF-SVR formula says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/quality.h"

static char model_txt[16384], range_txt[4096];

/* Two support vectors: sv0 = all 0.5, sv1 = all -0.5; alpha = (2, -1), rho = 0.25. */
static void make_model(int n_values_sv1, const char *kernel) {
  char sv0[2048] = "", sv1[2048] = "";
  for (int i = 0; i < 36; i++) strcat(sv0, i ? ", 0.5" : "0.5");
  for (int i = 0; i < n_values_sv1; i++) strcat(sv1, i ? ", -0.5" : "-0.5");
  snprintf(model_txt, sizeof model_txt,
           "%%YAML:1.0\n---\nopencv_ml_svm:\n   format: 3\n   svmType: EPS_SVR\n   kernel:\n      type: %s\n"
           "      gamma: 0.1\n   var_count: 36\n   sv_total: 2\n   support_vectors:\n      - [ %s ]\n      - [ %s ]\n"
           "   decision_functions:\n      -\n         sv_count: 2\n         rho: 0.25\n         alpha: [ 2., -1. ]\n",
           kernel, sv0, sv1);
  char data[2048] = "";
  for (int i = 0; i < 72; i++) strcat(data, i == 0 ? "0" : i < 36 ? ", 0" : ", 1");
  snprintf(range_txt, sizeof range_txt, "%%YAML:1.0\n---\nrange: !!opencv-matrix\n   rows: 2\n   cols: 36\n   dt: f\n   data: [ %s ]\n", data);
}

static void test_valid_model_predicts_formula(void **s) {
  (void)s;
  make_model(36, "RBF");
  vigil_brisque *m;
  char err[256] = "";
  assert_int_equal(vigil_brisque_load_mem(&m, model_txt, strlen(model_txt), range_txt, strlen(range_txt), err, sizeof err), 0);
  double f[36];
  for (int i = 0; i < 36; i++) f[i] = 0.75; /* scaled: -1 + 2 * 0.75 = 0.5 = sv0 */
  double want = 2 * exp(0) - 1 * exp(-0.1 * 36 * 1.0) - 0.25;
  assert_true(fabs(vigil_brisque_predict(m, f) - want) < 1e-12);
  vigil_brisque_free(m);
}

static void test_bad_models_say_why(void **s) {
  (void)s;
  vigil_brisque *m = (vigil_brisque *)1;
  char err[256];
  make_model(35, "RBF"); /* wrong vector length */
  assert_int_not_equal(vigil_brisque_load_mem(&m, model_txt, strlen(model_txt), range_txt, strlen(range_txt), err, sizeof err), 0);
  assert_null(m);
  assert_non_null(strstr(err, "support vector 1"));
  make_model(36, "LINEAR");
  assert_int_not_equal(vigil_brisque_load_mem(&m, model_txt, strlen(model_txt), range_txt, strlen(range_txt), err, sizeof err), 0);
  assert_non_null(strstr(err, "RBF"));
  make_model(36, "RBF");
  for (size_t cut = 10; cut < strlen(model_txt); cut += 37) { /* every truncation fails cleanly */
    int rc = vigil_brisque_load_mem(&m, model_txt, cut, range_txt, strlen(range_txt), err, sizeof err);
    assert_int_not_equal(rc, 0);
    assert_true(err[0] != 0);
  }
  assert_int_not_equal(vigil_brisque_load_mem(&m, model_txt, strlen(model_txt), range_txt, strlen(range_txt) / 2, err, sizeof err), 0);
  assert_non_null(strstr(err, "range"));
  assert_int_not_equal(vigil_brisque_load(&m, "/nonexistent/model.yml", "/nonexistent/range.yml", err, sizeof err), 0);
  assert_non_null(strstr(err, "/nonexistent/model.yml"));
}

static void test_small_and_uniform_images_refused(void **s) {
  (void)s;
  double f[36];
  char err[256];
  vigil_image im = {0};
  assert_int_equal(vigil_image_init(&im, 1, 1, 3), 0);
  assert_int_equal(vigil_brisque_features(f, &im, err, sizeof err), VIGIL_IMG_EINVAL);
  assert_non_null(strstr(err, "smaller"));
  vigil_image_free(&im);
  assert_int_equal(vigil_image_init(&im, 64, 48, 3), 0);
  memset(im.data, 128, (size_t)im.h * im.stride);
  assert_int_equal(vigil_brisque_features(f, &im, err, sizeof err), VIGIL_IMG_EINVAL);
  assert_non_null(strstr(err, "no texture"));
  /* a textured image of the same size gives finite features */
  unsigned x = 1;
  for (size_t i = 0; i < (size_t)im.h * im.stride; i++) x = x * 1103515245u + 12345u, im.data[i] = (uint8_t)(x >> 24);
  assert_int_equal(vigil_brisque_features(f, &im, err, sizeof err), 0);
  for (int i = 0; i < 36; i++) assert_true(isfinite(f[i]));
  vigil_image_free(&im);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid_model_predicts_formula),
      cmocka_unit_test(test_bad_models_say_why),
      cmocka_unit_test(test_small_and_uniform_images_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
