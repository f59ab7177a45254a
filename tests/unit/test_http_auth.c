/* The access rules' parsers and checks (src/http/auth.c): keys files, key
 * roles from Authorization / X-API-Key, Host names (DNS rebinding), Origins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/http.h"

#define ADMIN "admin-key-0123456789abcdef"
#define READER "read-key-0123456789abcdef"

static void keys_file(void **state) {
  vigil_http_auth *a = vigil_http_auth_new();
  char err[256];
  const char *ok = "# vigil keys\n\n  admin   " ADMIN "  \r\nREAD-ONLY " READER "\n";
  assert_int_equal(vigil_http_auth_parse_keys(a, ok, strlen(ok), err, sizeof err), 0);
  assert_int_equal(vigil_http_auth_n_keys(a), 2);
  assert_int_equal(vigil_http_auth_role(a, "Bearer " ADMIN, NULL), VIGIL_ROLE_ADMIN);
  assert_int_equal(vigil_http_auth_role(a, "bearer  " READER " ", NULL), VIGIL_ROLE_READ);
  assert_int_equal(vigil_http_auth_role(a, NULL, READER), VIGIL_ROLE_READ);
  assert_int_equal(vigil_http_auth_role(a, "Basic " ADMIN, NULL), VIGIL_ROLE_NONE);
  assert_int_equal(vigil_http_auth_role(a, "Bearer " ADMIN "x", NULL), VIGIL_ROLE_NONE);
  assert_int_equal(vigil_http_auth_role(a, "Bearer admin-key-0123456789abcde", NULL), VIGIL_ROLE_NONE);
  assert_int_equal(vigil_http_auth_role(a, NULL, NULL), VIGIL_ROLE_NONE);
  assert_int_equal(vigil_http_auth_role(a, "Bearer ", ""), VIGIL_ROLE_NONE);
  const struct {
    const char *text, *err;
  } bad[] = {
      {"admin\n", "no key"},
      {"owner " ADMIN "\n", "line 1"},
      {"# x\nadmin short\n", "line 2"},
      {"read key with spaces in it ok\n", "printable"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    vigil_http_auth *b = vigil_http_auth_new();
    err[0] = 0;
    assert_int_equal(vigil_http_auth_parse_keys(b, bad[i].text, strlen(bad[i].text), err, sizeof err), -1);
    if (!strstr(err, bad[i].err)) fail_msg("'%s': error '%s' lacks '%s'", bad[i].text, err, bad[i].err);
    vigil_http_auth_free(b);
  }
  vigil_http_auth_free(a);
  /* no keys: everyone may do everything (the server then binds loopback only) */
  assert_int_equal(vigil_http_auth_role(NULL, NULL, NULL), VIGIL_ROLE_ADMIN);
}

static void from_config(void **state) {
  char path[] = "/tmp/vigil-keys-XXXXXX", err[256];
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *text = "read " READER "\n";
  assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
  close(fd);
  setenv("VIGIL_API_KEY", ADMIN, 1);
  setenv("VIGIL_API_KEYS_FILE", path, 1);
  setenv("VIGIL_HTTP_ALLOWED_HOSTS", "vigil.lan, cams.local", 1);
  vigil_http_auth *a;
  assert_int_equal(vigil_http_auth_from_config(&a, NULL, err, sizeof err), 0);
  assert_int_equal(vigil_http_auth_n_keys(a), 2);
  assert_int_equal(vigil_http_auth_role(a, NULL, ADMIN), VIGIL_ROLE_ADMIN);
  assert_int_equal(vigil_http_auth_role(a, NULL, READER), VIGIL_ROLE_READ);
  assert_true(vigil_http_host_allowed(a, "CAMS.local:8090"));
  vigil_http_auth_free(a);
  setenv("VIGIL_API_KEY", "short", 1);
  assert_int_equal(vigil_http_auth_from_config(&a, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "VIGIL_API_KEY"));
  unsetenv("VIGIL_API_KEY");
  setenv("VIGIL_API_KEYS_FILE", "/nonexistent/keys", 1);
  assert_int_equal(vigil_http_auth_from_config(&a, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "/nonexistent/keys"));
  unsetenv("VIGIL_API_KEYS_FILE");
  unsetenv("VIGIL_HTTP_ALLOWED_HOSTS");
  assert_int_equal(vigil_http_auth_from_config(&a, NULL, err, sizeof err), 0);
  assert_int_equal(vigil_http_auth_n_keys(a), 0);
  vigil_http_auth_free(a);
  unlink(path);
}

static void hosts(void **state) {
  vigil_http_auth *a = vigil_http_auth_new();
  assert_int_equal(vigil_http_auth_add_host(a, "Vigil.LAN"), 0);
  const char *yes[] = {"127.0.0.1", "127.0.0.1:8095", "192.168.1.20:80", "[::1]", "[::1]:8090", "localhost",
                       "LOCALHOST:8095", "localhost.", "vigil.lan", "vigil.lan:8443"};
  const char *no[] = {"evil.example", "evil.example:8095", "vigil.lan.evil.example", "localhost.evil.example",
                      "127.0.0.1:", "127.0.0.1:123456", "127.0.0.1:8a", "[::1", "[zz]:80", "", ":80",
                      "1.2.3", "vigil.lan/x", "vigil lan", "0x7f.1"};
  for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
    if (!vigil_http_host_allowed(a, yes[i])) fail_msg("Host '%s' refused", yes[i]);
  for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
    if (vigil_http_host_allowed(a, no[i])) fail_msg("Host '%s' allowed", no[i]);
  assert_false(vigil_http_host_allowed(NULL, "vigil.lan"));
  assert_false(vigil_http_host_allowed(a, NULL));
  assert_int_equal(vigil_http_auth_add_host(a, "*"), 0);
  assert_true(vigil_http_host_allowed(a, "anything.example"));
  assert_false(vigil_http_host_allowed(a, "bad host"));
  vigil_http_auth_free(a);
}

static void origins(void **state) {
  vigil_http_auth *a = vigil_http_auth_new();
  assert_int_equal(vigil_http_auth_add_origin(a, "https://Dash.example:8443/"), 0);
  /* no Origin (curl, servers): allowed; the rules are for browsers */
  assert_true(vigil_http_origin_allowed(a, NULL, "127.0.0.1:8090"));
  /* same origin */
  assert_true(vigil_http_origin_allowed(a, "http://127.0.0.1:8090", "127.0.0.1:8090"));
  assert_true(vigil_http_origin_allowed(a, "http://vigil.lan", "vigil.lan:80"));
  assert_true(vigil_http_origin_allowed(a, "https://vigil.lan", "vigil.lan"));
  assert_true(vigil_http_origin_allowed(a, "HTTP://VIGIL.lan:8090", "vigil.LAN:8090"));
  /* cross origin */
  assert_false(vigil_http_origin_allowed(a, "http://evil.example", "127.0.0.1:8090"));
  assert_false(vigil_http_origin_allowed(a, "http://127.0.0.1:9999", "127.0.0.1:8090"));
  assert_false(vigil_http_origin_allowed(a, "https://vigil.lan", "vigil.lan:80"));
  assert_false(vigil_http_origin_allowed(a, "null", "127.0.0.1:8090"));
  assert_false(vigil_http_origin_allowed(a, "http://127.0.0.1:8090", NULL));
  /* the allow-list */
  assert_true(vigil_http_origin_listed(a, "https://dash.example:8443"));
  assert_true(vigil_http_origin_allowed(a, "https://dash.example:8443", "127.0.0.1:8090"));
  assert_false(vigil_http_origin_listed(a, "https://dash.example"));
  vigil_http_auth_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(keys_file),
      cmocka_unit_test(from_config),
      cmocka_unit_test(hosts),
      cmocka_unit_test(origins),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
