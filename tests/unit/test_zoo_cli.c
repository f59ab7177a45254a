/* Black-box tests of `vigil models list` and `vigil models fetch` against the
 * built binary ($VIGIL_BINARY), with a scratch $VIGIL_HOME. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmp[64];

static char *run(const char *args, int *status) {
  const char *bin = getenv("VIGIL_BINARY");
  if (!bin) fail_msg("VIGIL_BINARY is not set (run through ctest)");
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s %s 2>&1", bin, args);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  size_t cap = 1 << 20, len = 0;
  char *out = malloc(cap);
  size_t n;
  while ((n = fread(out + len, 1, cap - len - 1, p)) > 0) len += n;
  out[len] = 0;
  int st = pclose(p);
  *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int setup(void **state) {
  snprintf(tmp, sizeof tmp, "/tmp/zoo_cli_XXXXXX");
  assert_non_null(mkdtemp(tmp));
  char p[256];
  snprintf(p, sizeof p, "%s/models", tmp);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/models/human", tmp);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/models/human/movenet-lightning.json", tmp);
  write_file(p, "{}");
  setenv("VIGIL_HOME", tmp, 1);
  unsetenv("VIGIL_ZOO_CONFIG");
  unsetenv("MOVENET_MODEL_PATH");
  unsetenv("BLAZEFACE_MODEL_PATH");
  return 0;
}

static int teardown(void **state) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  return system(cmd) == 0 ? 0 : -1;
}

static void test_list_text(void **state) {
  int st;
  setenv("VITPOSE_MODEL_PATH", "", 1);
  char *out = run("models list", &st);
  assert_int_equal(st, 0);
  assert_non_null(strstr(out, "missing: set VITPOSE_MODEL_PATH or place /models/vitpose-plus-small"));
  assert_non_null(strstr(out, "threat-detection-yolov8n"));
  assert_non_null(strstr(out, "installed: "));
  assert_non_null(strstr(out, "/models/human/movenet-lightning.json"));
  assert_non_null(strstr(out, "missing: run `vigil models fetch`")); /* blazeface etc. */
  free(out);
  out = run("models list --service bogus", &st);
  assert_int_equal(st, 2);
  free(out);
  out = run("models frobnicate", &st);
  assert_int_equal(st, 2);
  free(out);
}

static void test_list_json(void **state) {
  int st;
  char weights[256];
  snprintf(weights, sizeof weights, "%s/vitpose.bin", tmp);
  write_file(weights, "w");
  setenv("VITPOSE_MODEL_PATH", weights, 1);
  char *out = run("models list --json", &st);
  unsetenv("VITPOSE_MODEL_PATH");
  assert_int_equal(st, 0);
  json_error_t je;
  json_t *arr = json_loads(out, 0, &je);
  if (!arr) fail_msg("not JSON: %s\n%s", je.text, out);
  assert_true(json_array_size(arr) >= 22 + 3 + 12);
  int seen = 0;
  for (size_t i = 0; i < json_array_size(arr); i++) {
    json_t *o = json_array_get(arr, i);
    const char *name = json_string_value(json_object_get(o, "name"));
    const char *state = json_string_value(json_object_get(o, "state"));
    assert_non_null(name);
    assert_non_null(state);
    if (!strcmp(name, "vitpose-small")) {
      seen++;
      assert_string_equal(state, "installed");
      assert_true(json_is_true(json_object_get(o, "from_env")));
      assert_string_equal(json_string_value(json_object_get(o, "priority")), "HIGH");
      assert_string_equal(json_string_value(json_object_get(o, "service")), "light");
    } else if (!strcmp(name, "movenet-lightning")) {
      seen++;
      assert_string_equal(state, "installed");
      assert_true(json_is_true(json_object_get(o, "vigil_default")));
    } else if (!strcmp(name, "blazeface")) {
      seen++;
      assert_string_equal(state, "missing");
    } else if (!strcmp(name, "brisque-quality")) {
      seen++;
      assert_string_equal(state, "missing"); /* its LIVE model folder is not in this home */
    }
  }
  assert_int_equal(seen, 4);
  json_decref(arr);
  free(out);
}

static void test_config_rows_listed(void **state) {
  char cfg[256];
  snprintf(cfg, sizeof cfg, "%s/zoo.conf", tmp);
  write_file(cfg, "site-model declared_mb=42 priority=LOW service=light env=SITE_MODEL_PATH "
                  "path=/nonexistent/site.onnx\n");
  setenv("VIGIL_ZOO_CONFIG", cfg, 1);
  int st;
  char *out = run("models list --missing --service light", &st);
  assert_int_equal(st, 0);
  assert_non_null(strstr(out, "site-model"));
  assert_non_null(strstr(out, "missing: set SITE_MODEL_PATH or place /nonexistent/site.onnx"));
  assert_null(strstr(out, "movenet-lightning")); /* installed: filtered out */
  assert_null(strstr(out, "fashion-clip"));      /* heavy: filtered out */
  free(out);
  write_file(cfg, "site-model priority=URGENT\n");
  out = run("models list", &st);
  assert_int_equal(st, 1);
  assert_non_null(strstr(out, "URGENT"));
  free(out);
  unsetenv("VIGIL_ZOO_CONFIG");
}

static void test_fetch_runs_deps(void **state) {
  char dir[256], script[300], log[300];
  snprintf(dir, sizeof dir, "%s/src/tools/setup", tmp);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
  assert_int_equal(system(cmd), 0);
  snprintf(script, sizeof script, "%s/deps.sh", dir);
  snprintf(log, sizeof log, "%s/args.txt", tmp);
  char body[512];
  snprintf(body, sizeof body, "echo \"$@\" > %s\nexit 0\n", log);
  write_file(script, body);
  char src[256];
  snprintf(src, sizeof src, "%s/src", tmp);
  char *old = getenv("VIGIL_SOURCE_DIR") ? strdup(getenv("VIGIL_SOURCE_DIR")) : NULL;
  setenv("VIGIL_SOURCE_DIR", src, 1);
  int st;
  char *out = run("models fetch --check", &st);
  assert_int_equal(st, 0);
  free(out);
  FILE *f = fopen(log, "r");
  assert_non_null(f);
  char line[128] = "";
  assert_non_null(fgets(line, sizeof line, f));
  fclose(f);
  assert_string_equal(line, "--assets-only --check\n");
  /* a failing deps.sh is reported */
  write_file(script, "exit 3\n");
  out = run("models fetch", &st);
  assert_int_equal(st, 1);
  assert_non_null(strstr(out, "failed"));
  free(out);
  /* no source tree: a clear message */
  setenv("VIGIL_SOURCE_DIR", "/nonexistent", 1);
  out = run("models fetch", &st);
  assert_int_equal(st, 3);
  assert_non_null(strstr(out, "VIGIL_SOURCE_DIR"));
  free(out);
  if (old) setenv("VIGIL_SOURCE_DIR", old, 1);
  free(old);
}

/* vigil starts oneDNN's OpenMP runtime with a short spin (10000 polls)
 * although the environment does not ask for it (it re-executes itself,
 * apps/main.c): with OMP_DISPLAY_ENV=verbose each libgomp start prints its
 * spin count, the last one (the process that runs the command) must be it. */
static void test_omp_short_spin(void **state) {
  (void)state;
  unsetenv("OMP_WAIT_POLICY");
  unsetenv("GOMP_SPINCOUNT");
  setenv("OMP_DISPLAY_ENV", "verbose", 1);
  int st;
  char *out = run("--help", &st);
  unsetenv("OMP_DISPLAY_ENV");
  assert_int_equal(st, 0);
  const char *key = "GOMP_SPINCOUNT = '", *p = out, *last = NULL;
  while ((p = strstr(p, key))) last = p += strlen(key);
  assert_non_null(last);
  assert_int_equal(strtol(last, NULL, 10), 10000);
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_omp_short_spin),
      cmocka_unit_test(test_list_text),
      cmocka_unit_test(test_list_json),
      cmocka_unit_test(test_config_rows_listed),
      cmocka_unit_test(test_fetch_runs_deps),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
