/* Tests for src/util/assets.c: VIGIL_HOME resolution, asset paths, and that every asset
 * listed in tools/setup/assets.txt is installed (else: run `make deps`). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/assets.h"

static char *orig_vigil_home; /* the environment the test was started with */
static char *orig_home;

static void restore_env(void) {
  if (orig_vigil_home) setenv("VIGIL_HOME", orig_vigil_home, 1);
  else unsetenv("VIGIL_HOME");
  if (orig_home) setenv("HOME", orig_home, 1);
  else unsetenv("HOME");
}

static int teardown(void **state) {
  (void)state;
  restore_env();
  return 0;
}

static void test_home_from_env(void **state) {
  (void)state;
  setenv("VIGIL_HOME", "/srv/vigil-assets", 1);
  assert_string_equal(vigil_home(), "/srv/vigil-assets");
  setenv("VIGIL_HOME", "/srv/x//", 1);
  assert_string_equal(vigil_home(), "/srv/x");
  setenv("VIGIL_HOME", "/", 1);
  assert_string_equal(vigil_home(), "/");
}

static void test_home_default(void **state) {
  (void)state;
  unsetenv("VIGIL_HOME");
  setenv("HOME", "/home/alice", 1);
  assert_string_equal(vigil_home(), "/home/alice/.cache/vigil");
  setenv("VIGIL_HOME", "", 1); /* empty counts as unset */
  assert_string_equal(vigil_home(), "/home/alice/.cache/vigil");
  unsetenv("HOME"); /* falls back to the passwd entry: still absolute */
  unsetenv("VIGIL_HOME");
  const char *h = vigil_home();
  assert_true(h[0] == '/');
  assert_non_null(strstr(h, "/.cache/vigil"));
}

static void test_asset_path(void **state) {
  (void)state;
  setenv("VIGIL_HOME", "/v/", 1);
  char buf[64];
  assert_int_equal(vigil_asset_path(buf, sizeof buf, "models/human/centernet.json"), 0);
  assert_string_equal(buf, "/v/models/human/centernet.json");
  assert_int_equal(vigil_asset_path(buf, sizeof buf, "..hidden/x"), 0);
  assert_string_equal(buf, "/v/..hidden/x");

  const char *bad[] = {"", "/etc/passwd", "..", "../x", "media/../../etc", "a/.."};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    strcpy(buf, "junk");
    assert_int_equal(vigil_asset_path(buf, sizeof buf, bad[i]), -EINVAL);
    assert_string_equal(buf, "");
    assert_true(strlen(vigil_asset_errmsg()) > 0);
  }
  assert_int_equal(vigil_asset_path(buf, sizeof buf, NULL), -EINVAL);
  assert_int_equal(vigil_asset_path(NULL, 10, "x"), -EINVAL);

  char small[8]; /* "/v/" + 5 chars + NUL does not fit */
  assert_int_equal(vigil_asset_path(small, sizeof small, "abcde"), -ENAMETOOLONG);
  assert_string_equal(small, "");
  assert_int_equal(vigil_asset_path(small, sizeof small, "abcd"), 0);
  assert_string_equal(small, "/v/abcd");
}

static void test_exists_and_require(void **state) {
  (void)state;
  char dir[] = "/tmp/vigil-test-assets-XXXXXX";
  assert_non_null(mkdtemp(dir));
  setenv("VIGIL_HOME", dir, 1);

  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/media", dir);
  assert_int_equal(mkdir(path, 0755), 0);
  snprintf(path, sizeof path, "%s/media/a.jpg", dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("x", f);
  fclose(f);

  assert_true(vigil_asset_exists("media/a.jpg"));
  assert_true(vigil_asset_exists("media"));
  assert_false(vigil_asset_exists("media/b.jpg"));
  assert_false(vigil_asset_exists("../etc/passwd"));

  char buf[PATH_MAX];
  assert_int_equal(vigil_asset_require(buf, sizeof buf, "media/a.jpg"), 0);
  assert_string_equal(buf, path);
  assert_int_equal(vigil_asset_require(buf, sizeof buf, "media/b.jpg"), -ENOENT);
  assert_non_null(strstr(vigil_asset_errmsg(), "make deps"));
  assert_non_null(strstr(vigil_asset_errmsg(), "media/b.jpg"));

  unlink(path);
  snprintf(path, sizeof path, "%s/media", dir);
  rmdir(path);
  rmdir(dir);
}

/* Every destination in tools/setup/assets.txt must be installed under the real VIGIL_HOME. */
static void test_setup_assets_installed(void **state) {
  (void)state;
  restore_env();
  const char *src = getenv("VIGIL_SOURCE_DIR");
  if (!src) fail_msg("VIGIL_SOURCE_DIR is not set (run this test through ctest)");
  char list[PATH_MAX];
  snprintf(list, sizeof list, "%s/tools/setup/assets.txt", src);
  FILE *f = fopen(list, "r");
  if (!f) fail_msg("cannot open %s", list);

  char line[1024];
  int nfiles = 0, nmissing = 0;
  while (fgets(line, sizeof line, f)) {
    char kind[16], id[64], member[512], dest[512], sum[80];
    if (sscanf(line, "%15s %63s %511s %511s %79s", kind, id, member, dest, sum) != 5) continue;
    if (strcmp(kind, "file")) continue;
    nfiles++;
    char path[PATH_MAX];
    if (vigil_asset_require(path, sizeof path, dest) < 0) {
      if (nmissing < 5) print_error("%s\n", vigil_asset_errmsg());
      nmissing++;
      continue;
    }
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 0);
  }
  fclose(f);
  assert_true(nfiles >= 40); /* 18 human + 4 ocr + 20 media files at the time of writing */
  if (nmissing)
    fail_msg("%d of %d setup assets are missing under %s: run `make deps`", nmissing, nfiles,
             vigil_home());
}

int main(void) {
  if (getenv("VIGIL_HOME")) orig_vigil_home = strdup(getenv("VIGIL_HOME"));
  if (getenv("HOME")) orig_home = strdup(getenv("HOME"));
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_home_from_env, teardown),
      cmocka_unit_test_teardown(test_home_default, teardown),
      cmocka_unit_test_teardown(test_asset_path, teardown),
      cmocka_unit_test_teardown(test_exists_and_require, teardown),
      cmocka_unit_test_teardown(test_setup_assets_installed, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  free(orig_vigil_home);
  free(orig_home);
  return rc;
}
