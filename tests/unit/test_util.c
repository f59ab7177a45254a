/* vigilcore's shared helpers: the status map and formatted errors, the clocks,
 * bounded whole-file reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/clock.h"
#include "util/file.h"
#include "vigil/config.h"
#include "vigil/risk.h"
#include "vigil/status.h"
#include "vigil/store.h"

static void status_map(void **state) {
  (void)state;
  assert_string_equal(vigil_strerror(VIGIL_OK), "ok");
  assert_string_equal(vigil_strerror(VIGIL_ENOMEM), "out of memory");
  assert_string_equal(vigil_strerror(12345), "unknown error");
  assert_int_equal(VIGIL_EFAIL, -1); /* the code most functions have always returned */
  assert_int_equal(vigil_status_http(VIGIL_EINVAL), 400);
  assert_int_equal(vigil_status_http(VIGIL_ETOOBIG), 413);
  assert_int_equal(vigil_status_http(-999), 500);
  /* the modules' own maps keep their values */
  assert_int_equal(STORE_ENOTFOUND, -2);
  assert_int_equal(store_http_status(STORE_ENOTFOUND), 404);
  assert_int_equal(store_http_status(STORE_EINVAL), 400);
  assert_int_equal(store_http_status(STORE_EDB), 500);
  assert_string_equal(store_strerror(STORE_ENOMEM), "out of memory");
  assert_int_equal(RISK_ENOLLM, -6);
  assert_string_equal(risk_strerror(RISK_ENOMEM), "out of memory");
  assert_int_equal(VIGIL_CFG_ENOMEM, -5);
  assert_string_equal(vigil_config_strerror(VIGIL_CFG_EIO), "the config file cannot be read");
}

static void err_helper(void **state) {
  (void)state;
  char err[16] = "x";
  assert_int_equal(vigil_err(err, sizeof err, -7, "a %d %s", 1, "long message cut"), -7);
  assert_string_equal(err, "a 1 long messag"); /* truncated, terminated */
  assert_int_equal(vigil_err(NULL, 0, -1, "nowhere"), -1);
  assert_int_equal(vigil_err(err, 0, -2, "none"), -2);
  assert_string_equal(err, "a 1 long messag"); /* errlen 0: untouched */
  assert_int_equal(vigil_err_oom(err, sizeof err), VIGIL_ENOMEM);
  assert_string_equal(err, "out of memory");
}

static void clocks(void **state) {
  (void)state;
  double a = vigil_mono_ms(), b = vigil_mono_ms();
  assert_true(b >= a);
  assert_true(vigil_mono_s() * 1e3 >= a - 1);
  assert_true(vigil_wall_s() > 1.6e9); /* after 2020 */
}

static void file_read(void **state) {
  (void)state;
  char path[] = "/tmp/vigil_test_util_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  /* larger than the first read chunk, so the buffer grows */
  size_t big = 200000;
  char *data = malloc(big);
  for (size_t i = 0; i < big; i++) data[i] = (char)('a' + i % 26);
  assert_int_equal(write(fd, data, big), (ssize_t)big);
  close(fd);

  char *buf, err[256];
  size_t len;
  assert_int_equal(vigil_file_read(path, big, &buf, &len, err, sizeof err), 0);
  assert_int_equal(len, big);
  assert_memory_equal(buf, data, big);
  assert_int_equal(buf[len], '\0');
  free(buf);

  assert_int_equal(vigil_file_read(path, big - 1, &buf, &len, err, sizeof err), VIGIL_ETOOBIG);
  assert_null(buf);
  assert_non_null(strstr(err, "larger than"));
  assert_int_equal(vigil_file_read(path, 10, &buf, &len, err, sizeof err), VIGIL_ETOOBIG);

  /* empty file: an empty, terminated buffer */
  FILE *f = fopen(path, "wb");
  fclose(f);
  assert_int_equal(vigil_file_read(path, 10, &buf, &len, err, sizeof err), 0);
  assert_int_equal(len, 0);
  assert_int_equal(buf[0], '\0');
  free(buf);
  unlink(path);

  assert_int_equal(vigil_file_read(path, 10, &buf, &len, err, sizeof err), VIGIL_EIO);
  assert_non_null(strstr(err, path));
  free(data);
}

/* vigil_config_given: env or file only, never the default column. */
static void config_given(void **state) {
  (void)state;
  unsetenv("ZOO_ACQUIRE_TIMEOUT_MS");
  assert_null(vigil_config_given(NULL, "ZOO_ACQUIRE_TIMEOUT_MS"));
  assert_string_equal(vigil_config_str(NULL, "ZOO_ACQUIRE_TIMEOUT_MS"), "5000");
  setenv("ZOO_ACQUIRE_TIMEOUT_MS", "250", 1);
  assert_string_equal(vigil_config_given(NULL, "ZOO_ACQUIRE_TIMEOUT_MS"), "250");
  unsetenv("ZOO_ACQUIRE_TIMEOUT_MS");
  /* registry rows' variables are documented by the *_MODEL_PATH pattern */
  assert_non_null(vigil_config_find("MOVENET_MODEL_PATH"));
  assert_non_null(vigil_config_find("ZOO_REAPER_INTERVAL_S"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(status_map),
      cmocka_unit_test(err_helper),
      cmocka_unit_test(clocks),
      cmocka_unit_test(file_read),
      cmocka_unit_test(config_given),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
