/* Configuration: defaults, file values, environment precedence, typed getters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/config.h"

static char path[64];

static vigil_config *load_text(const char *text) {
  snprintf(path, sizeof path, "/tmp/vigil_test_config_%d.env", (int)getpid());
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  vigil_config *c = NULL;
  char err[256] = "";
  int rc = vigil_config_load(&c, path, err, sizeof err);
  if (rc) fail_msg("load: %s", err);
  return c;
}

static void defaults(void **state) {
  unsetenv("YOLO26_CONFIDENCE");
  unsetenv("VRAM_BUDGET_GB");
  double v = -1;
  assert_int_equal(vigil_config_float(NULL, "YOLO26_CONFIDENCE", &v, NULL, 0), 0);
  assert_true(v == 0.5);
  assert_int_equal(vigil_config_float(NULL, "VRAM_BUDGET_GB", &v, NULL, 0), 0);
  assert_true(v == 6.0);
  assert_string_equal(vigil_config_str(NULL, "VEHICLE_MODEL_PATH"), "/models/vehicle-segment-classification");
  assert_string_equal(vigil_config_str(NULL, "ENRICHMENT_POSE_SERVICE"), "light");
  assert_string_equal(vigil_config_source(NULL, "ENRICHMENT_POSE_SERVICE"), "default");
  /* a key with no default, and one that does not exist */
  unsetenv("PORT");
  long port = 42;
  assert_int_equal(vigil_config_int(NULL, "PORT", &port, NULL, 0), VIGIL_CFG_ENOTFOUND);
  assert_int_equal(port, 42);
  assert_null(vigil_config_str(NULL, "NO_SUCH_KEY"));
  /* patterns */
  assert_non_null(vigil_config_find("ENRICHMENT_LICENSE_PLATE_SERVICE"));
  assert_null(vigil_config_find("ENRICHMENT__SERVICE"));
  assert_null(vigil_config_find("ENRICHMENT_lower_SERVICE"));
}

static void every_design_key_is_known(void **state) {
  static const char *design[] = {"PORT", "YOLO26_MODEL_PATH", "YOLO26_CONFIDENCE", "VRAM_BUDGET_GB",
                                 "VEHICLE_MODEL_PATH", "PET_MODEL_PATH", "CLOTHING_MODEL_PATH", "DEPTH_MODEL_PATH",
                                 "VITPOSE_MODEL_PATH", "ACTION_MODEL_PATH", "ENRICHMENT_PRELOAD_MODELS",
                                 "ENRICHMENT_POSE_SERVICE", "VIGIL_HOME", "VIGIL_LOG", "NEMOTRON_URL"};
  for (size_t i = 0; i < sizeof design / sizeof design[0]; i++)
    if (!vigil_config_find(design[i])) fail_msg("%s is not in the table", design[i]);
  /* and the docs list every key of the table */
  const char *src = getenv("VIGIL_SOURCE_DIR");
  char doc[512];
  snprintf(doc, sizeof doc, "%s/docs/configuration.md", src ? src : ".");
  FILE *f = fopen(doc, "r");
  if (!f) fail_msg("cannot open %s", doc);
  static char text[65536];
  size_t n = fread(text, 1, sizeof text - 1, f);
  text[n] = '\0';
  fclose(f);
  size_t nk;
  const vigil_config_key *keys = vigil_config_keys(&nk);
  for (size_t i = 0; i < nk; i++) {
    char needle[96];
    snprintf(needle, sizeof needle, "`%s`", keys[i].key);
    if (!strstr(text, needle)) fail_msg("docs/configuration.md does not list %s", keys[i].key);
  }
}

static void file_then_env(void **state) {
  unsetenv("YOLO26_CONFIDENCE");
  unsetenv("ENRICHMENT_PRELOAD_MODELS");
  unsetenv("NEMOTRON_URL");
  vigil_config *c = load_text("# comment\n\n  YOLO26_CONFIDENCE = 0.25\nexport NEMOTRON_URL=\"http://llm:8091\"\n"
                              "ENRICHMENT_PRELOAD_MODELS= vit-age, ,fashion-clip ,\nSOME_FUTURE_KEY=1\n"
                              "YOLO26_CONFIDENCE=0.3\n");
  double v;
  assert_int_equal(vigil_config_float(c, "YOLO26_CONFIDENCE", &v, NULL, 0), 0);
  assert_true(v == 0.3); /* the later line wins */
  assert_string_equal(vigil_config_source(c, "YOLO26_CONFIDENCE"), "file");
  assert_string_equal(vigil_config_str(c, "NEMOTRON_URL"), "http://llm:8091");
  char **items;
  size_t n;
  assert_int_equal(vigil_config_list(c, "ENRICHMENT_PRELOAD_MODELS", &items, &n, NULL, 0), 0);
  assert_int_equal(n, 2);
  assert_string_equal(items[0], "vit-age");
  assert_string_equal(items[1], "fashion-clip");
  vigil_config_list_free(items, n);
  assert_string_equal(vigil_config_str(c, "SOME_FUTURE_KEY"), "1");
  /* the environment wins over the file */
  setenv("YOLO26_CONFIDENCE", "0.75", 1);
  assert_int_equal(vigil_config_float(c, "YOLO26_CONFIDENCE", &v, NULL, 0), 0);
  assert_true(v == 0.75);
  assert_string_equal(vigil_config_source(c, "YOLO26_CONFIDENCE"), "env");
  unsetenv("YOLO26_CONFIDENCE");
  /* the global instance */
  vigil_config_set_global(c);
  assert_string_equal(vigil_config_str(NULL, "NEMOTRON_URL"), "http://llm:8091");
  vigil_config_set_global(NULL);
  assert_string_equal(vigil_config_str(NULL, "NEMOTRON_URL"), "http://localhost:8091");
  unlink(path);
}

static void bad_values(void **state) {
  char err[256];
  double v;
  long i;
  bool b;
  setenv("YOLO26_CONFIDENCE", "1.5", 1);
  assert_int_equal(vigil_config_float(NULL, "YOLO26_CONFIDENCE", &v, err, sizeof err), VIGIL_CFG_EINVAL);
  assert_non_null(strstr(err, "out of range"));
  setenv("YOLO26_CONFIDENCE", "0.5x", 1);
  assert_int_equal(vigil_config_float(NULL, "YOLO26_CONFIDENCE", &v, err, sizeof err), VIGIL_CFG_EINVAL);
  assert_non_null(strstr(err, "YOLO26_CONFIDENCE"));
  setenv("YOLO26_CONFIDENCE", "nan", 1);
  assert_int_equal(vigil_config_float(NULL, "YOLO26_CONFIDENCE", &v, err, sizeof err), VIGIL_CFG_EINVAL);
  unsetenv("YOLO26_CONFIDENCE");
  setenv("VRAM_BUDGET_GB", "-1", 1);
  assert_int_equal(vigil_config_float(NULL, "VRAM_BUDGET_GB", &v, err, sizeof err), VIGIL_CFG_EINVAL);
  unsetenv("VRAM_BUDGET_GB");
  setenv("PORT", "70000", 1);
  assert_int_equal(vigil_config_int(NULL, "PORT", &i, err, sizeof err), VIGIL_CFG_EINVAL);
  setenv("PORT", "80a", 1);
  assert_int_equal(vigil_config_int(NULL, "PORT", &i, err, sizeof err), VIGIL_CFG_EINVAL);
  setenv("PORT", " 8080 ", 1);
  assert_int_equal(vigil_config_int(NULL, "PORT", &i, err, sizeof err), 0); /* surrounding spaces are fine */
  assert_int_equal(i, 8080);
  setenv("PORT", "8080", 1);
  assert_int_equal(vigil_config_int(NULL, "PORT", &i, err, sizeof err), 0);
  assert_int_equal(i, 8080);
  unsetenv("PORT");
  setenv("VIGIL_TEST_BOOL", "Yes", 1);
  assert_int_equal(vigil_config_bool(NULL, "VIGIL_TEST_BOOL", &b, err, sizeof err), 0);
  assert_true(b);
  setenv("VIGIL_TEST_BOOL", "maybe", 1);
  assert_int_equal(vigil_config_bool(NULL, "VIGIL_TEST_BOOL", &b, err, sizeof err), VIGIL_CFG_EINVAL);
  unsetenv("VIGIL_TEST_BOOL");
}

static void bad_files(void **state) {
  vigil_config *c = (vigil_config *)1;
  char err[256] = "";
  assert_int_equal(vigil_config_load(&c, "/nonexistent/vigil.env", err, sizeof err), VIGIL_CFG_EIO);
  assert_null(c);
  assert_non_null(strstr(err, "/nonexistent/vigil.env"));
  snprintf(path, sizeof path, "/tmp/vigil_test_config_%d.env", (int)getpid());
  const char *bad[] = {"JUST_A_KEY\n", "lower=1\n", "=1\n", "BAD KEY=1\n"};
  for (int i = 0; i < 4; i++) {
    FILE *f = fopen(path, "w");
    fprintf(f, "OK_KEY=1\n%s", bad[i]);
    fclose(f);
    err[0] = '\0';
    assert_int_equal(vigil_config_load(&c, path, err, sizeof err), VIGIL_CFG_ESYNTAX);
    assert_non_null(strstr(err, ":2:")); /* names the line */
  }
  unlink(path);
  /* no path and no VIGIL_CONFIG: empty config */
  unsetenv("VIGIL_CONFIG");
  assert_int_equal(vigil_config_load(&c, NULL, err, sizeof err), 0);
  assert_non_null(c);
  vigil_config_free(c);
  vigil_config_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(defaults), cmocka_unit_test(every_design_key_is_known), cmocka_unit_test(file_then_env),
      cmocka_unit_test(bad_values), cmocka_unit_test(bad_files),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
