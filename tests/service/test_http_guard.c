/* The HTTP edge's guards on the real binary (`vigil serve detect`):
 *  - decoded-pixel budgets: a 16384x3000 PNG of ~150 KB, 32 times in one
 *    /detect/batch, is refused 413 with the reason, and the server's peak
 *    RSS stays bounded (it reached 4.67 GB before the budget existed);
 *  - binding: without an API key the service listens on loopback only and
 *    says so; --bind 0.0.0.0 without a key refuses to start unless
 *    --insecure; with VIGIL_API_KEY, /health stays open and the rest needs
 *    the key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <signal.h>
#include <spng.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "service_test.h"

static char png_path[300];

/* A 16384x3000 grey PNG, one zero row repeated: tiny file, huge image. */
static int write_png(const char *path) {
  spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
  FILE *f = fopen(path, "wb");
  if (!ctx || !f) return -1;
  spng_set_png_file(ctx, f);
  struct spng_ihdr ih = {.width = 16384, .height = 3000, .bit_depth = 8, .color_type = SPNG_COLOR_TYPE_GRAYSCALE};
  spng_set_ihdr(ctx, &ih);
  int rc = spng_encode_image(ctx, NULL, 0, SPNG_FMT_PNG, SPNG_ENCODE_PROGRESSIVE | SPNG_ENCODE_FINALIZE);
  static uint8_t row[16384];
  for (int y = 0; y < 3000 && (rc == 0 || rc == SPNG_EOI); y++) rc = spng_encode_row(ctx, row, sizeof row);
  spng_ctx_free(ctx);
  fclose(f);
  return rc == SPNG_EOI ? 0 : -1;
}

/* Starts `vigil serve detect` on `port` with extra args; stderr to log. */
static pid_t start(int port, const char *log, const char *a1, const char *a2, const char *a3) {
  fflush(NULL);
  pid_t c = fork();
  if (c == 0) {
    char ports[16];
    snprintf(ports, sizeof ports, "%d", port);
    if (!freopen(log, "w", stderr)) _exit(126);
    const char *bin = getenv("VIGIL_BINARY");
    execl(bin, bin, "serve", "detect", "--port", ports, a1, a2, a3, (char *)NULL);
    _exit(127);
  }
  return c;
}

static void stop(pid_t p) {
  kill(p, SIGTERM);
  int st;
  waitpid(p, &st, 0);
}

static long peak_rss_kb(pid_t p) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)p);
  FILE *f = fopen(path, "r");
  long kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmHWM:", 6)) kb = atol(line + 6);
  if (f) fclose(f);
  return kb;
}

static bool log_has(const char *log, const char *what) {
  char cmd[700];
  snprintf(cmd, sizeof cmd, "grep -q -- '%s' %s", what, log);
  return system(cmd) == 0;
}

static int setup(void **s) {
  if (!getenv("VIGIL_BINARY")) return -1;
  snprintf(tmp, sizeof tmp, "/tmp/vigil-guard-XXXXXX");
  if (!mkdtemp(tmp)) return -1;
  snprintf(png_path, sizeof png_path, "%s/wide.png", tmp);
  if (write_png(png_path)) return -1;
  unsetenv("VIGIL_API_KEY");
  unsetenv("VIGIL_API_KEYS_FILE");
  unsetenv("VIGIL_HTTP_BIND");
  unsetenv("VIGIL_HTTP_INSECURE");
  setenv("VIGIL_LOG", "info", 1);
  return 0;
}

static int teardown(void **s) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  return system(cmd) ? -1 : 0;
}

static void pixel_budget(void **s) {
  FILE *f = fopen(png_path, "rb");
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fclose(f);
  assert_true(size < 400 * 1024); /* a small file ... */
  int port = svc_free_port();
  char log[300];
  snprintf(log, sizeof log, "%s/pixels.log", tmp);
  pid_t p = start(port, log, NULL, NULL, NULL);
  if (!svc_wait_up(port)) fail_msg("server did not come up");
  long base_kb = peak_rss_kb(p);
  /* ... that decodes to 49 M pixels: 32 of them in one batch */
  char args[8192];
  int n = snprintf(args, sizeof args, "-X POST http://127.0.0.1:%d/detect/batch", port);
  for (int i = 0; i < 32; i++) n += snprintf(args + n, sizeof args - (size_t)n, " -F file=@%s", png_path);
  json_t *j;
  int st;
  assert_int_equal(svc_curl(&j, &st, "%s", args), 0);
  assert_int_equal(st, 413);
  const char *d = json_string_value(json_object_get(j, "detail"));
  assert_non_null(d);
  if (!strstr(d, "VIGIL_HTTP_MAX_REQUEST_PIXELS")) fail_msg("detail: %s", d);
  json_decref(j);
  long peak_kb = peak_rss_kb(p);
  fprintf(stderr, "detect peak RSS: %ld MB before, %ld MB after the batch\n", base_kb / 1024, peak_kb / 1024);
  /* at most the 100 M pixel budget decoded (3 bytes each) over the idle process */
  assert_true(peak_kb - base_kb < 700 * 1024);
  assert_true(svc_wait_up(port)); /* still serving */
  stop(p);
  /* a service budget below one image: that image is refused, with the reason */
  setenv("VIGIL_HTTP_MAX_INFLIGHT_PIXELS", "40000000", 1);
  p = start(port, log, NULL, NULL, NULL);
  unsetenv("VIGIL_HTTP_MAX_INFLIGHT_PIXELS");
  if (!svc_wait_up(port)) fail_msg("server did not come up");
  assert_int_equal(svc_curl(&j, &st, "-X POST http://127.0.0.1:%d/detect -F file=@%s", port, png_path), 0);
  assert_int_equal(st, 413);
  d = json_string_value(json_object_get(j, "detail"));
  if (!d || !strstr(d, "VIGIL_HTTP_MAX_INFLIGHT_PIXELS")) fail_msg("detail: %s", d ? d : "(none)");
  json_decref(j);
  stop(p);
}

static void binding_and_keys(void **s) {
  int port = svc_free_port();
  char log[300];
  snprintf(log, sizeof log, "%s/bind.log", tmp);
  /* no key: loopback, said at start */
  pid_t p = start(port, log, NULL, NULL, NULL);
  if (!svc_wait_up(port)) fail_msg("server did not come up");
  stop(p);
  assert_true(log_has(log, "listening on 127.0.0.1 only"));
  /* no key, beyond loopback: refuses to start */
  p = start(port, log, "--bind", "0.0.0.0", NULL);
  int st;
  waitpid(p, &st, 0);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) != 0);
  assert_true(log_has(log, "refusing to listen on 0.0.0.0 without an API key"));
  /* ... unless explicitly allowed */
  p = start(port, log, "--bind", "0.0.0.0", "--insecure");
  if (!svc_wait_up(port)) fail_msg("server did not come up with --insecure");
  stop(p);
  assert_true(log_has(log, "anyone who reaches these ports"));
  /* with a key: anywhere; /health open, the rest needs the key */
  setenv("VIGIL_API_KEY", "guard-key-0123456789abcdef", 1);
  p = start(port, log, "--bind", "0.0.0.0", NULL);
  unsetenv("VIGIL_API_KEY");
  if (!svc_wait_up(port)) fail_msg("server did not come up with a key");
  json_t *j;
  assert_int_equal(svc_curl(&j, &st, "-X POST http://127.0.0.1:%d/detect -F file=@%s", port, png_path), 0);
  assert_int_equal(st, 401);
  json_decref(j);
  assert_int_equal(svc_curl(&j, &st, "http://127.0.0.1:%d/metrics -H 'X-API-Key: guard-key-0123456789abcdef'", port), -1);
  assert_int_equal(st, 200); /* text, not JSON: svc_curl's parse fails, the status is what counts */
  assert_int_equal(svc_curl(&j, &st, "-X POST http://127.0.0.1:%d/detect -H 'Authorization: Bearer guard-key-0123456789abcdef' "
                                     "-H 'Content-Type: text/plain' --data-binary x", port), 0);
  assert_int_equal(st, 415);
  json_decref(j);
  stop(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(pixel_budget),
      cmocka_unit_test(binding_and_keys),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
