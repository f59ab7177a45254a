/* The Florence-2 port (8092) as a black box: `vigil serve florence` answers
 * /ocr and /extract from PP-OCRv4 on real signs, says which engine answered,
 * reports /health "degraded", and turns bad input into clear errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <ctype.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "service_test.h"
#include "util/assets.h"

static char media[1024];
static int port;
static pid_t pid;

static int setup(void **s) {
  (void)s;
  if (!getenv("VIGIL_BINARY")) return -1;
  if (vigil_asset_require(media, sizeof media, "media")) {
    fprintf(stderr, "%s\n", vigil_asset_errmsg());
    return -1;
  }
  snprintf(tmp, sizeof tmp, "/tmp/vigil-florence-XXXXXX");
  if (!mkdtemp(tmp)) return -1;
  const char *src = getenv("VIGIL_SOURCE_DIR");
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tools/testmedia/ocr_media.py basic %s", src ? src : "..", tmp);
  if (system(cmd)) return -1;
  port = svc_free_port();
  pid = fork();
  if (pid == 0) {
    char ports[16], log[512];
    snprintf(ports, sizeof ports, "%d", port);
    snprintf(log, sizeof log, "%s/serve.log", tmp);
    if (!freopen(log, "w", stderr)) _exit(126);
    const char *bin = getenv("VIGIL_BINARY");
    execl(bin, bin, "serve", "florence", "--port", ports, (char *)NULL);
    _exit(127);
  }
  if (!svc_wait_up(port)) return -1;
  return 0;
}

static int teardown(void **s) {
  (void)s;
  kill(pid, SIGTERM);
  int st;
  waitpid(pid, &st, 0);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  return system(cmd) ? -1 : 0;
}

static void squash(char *out, size_t cap, const char *s) {
  size_t k = 0;
  for (; s && *s && k + 1 < cap; s++)
    if (*s != ' ') out[k++] = (char)toupper((unsigned char)*s);
  out[k] = 0;
}

static void test_health(void **s) {
  (void)s;
  json_t *j;
  int st;
  assert_int_equal(svc_curl(&j, &st, "http://127.0.0.1:%d/health", port), 0);
  assert_int_equal(st, 200);
  assert_string_equal(json_string_value(json_object_get(j, "status")), "degraded");
  assert_string_equal(json_string_value(json_object_get(j, "ocr_engine")), "pp-ocrv4");
  assert_true(json_is_true(json_object_get(j, "ocr_loaded")));
  json_decref(j);
}

static void test_ocr_multipart(void **s) {
  (void)s;
  json_t *j;
  int st;
  assert_int_equal(svc_curl(&j, &st, "-F file=@%s/scenetext05.jpg http://127.0.0.1:%d/ocr", media, port), 0);
  assert_int_equal(st, 200);
  char flat[4096];
  squash(flat, sizeof flat, json_string_value(json_object_get(j, "text")));
  assert_non_null(strstr(flat, "NOPARKING"));
  json_t *lines = json_object_get(j, "lines");
  assert_true(json_array_size(lines) >= 1);
  json_t *l0 = json_array_get(lines, 0);
  assert_true(json_is_string(json_object_get(l0, "text")));
  double c = json_number_value(json_object_get(l0, "confidence"));
  assert_true(c > 0.5 && c <= 1.0);
  json_t *q = json_object_get(l0, "quad");
  assert_int_equal(json_array_size(q), 4);
  for (size_t k = 0; k < 4; k++) {
    double x = json_number_value(json_array_get(json_array_get(q, k), 0));
    double y = json_number_value(json_array_get(json_array_get(q, k), 1));
    assert_true(x >= 0 && x < 1000 && y >= 0 && y < 1000); /* original-image pixels */
  }
  assert_true(json_is_number(json_object_get(j, "inference_time_ms")));
  json_decref(j);
}

static void test_ocr_base64(void **s) {
  (void)s;
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "(printf '{\"image_base64\": \"'; base64 -w0 %s/scenetext01.jpg; printf '\"}') > %s/req.json",
           media, tmp);
  assert_int_equal(system(cmd), 0);
  json_t *j;
  int st;
  assert_int_equal(svc_curl(&j, &st, "-H 'Content-Type: application/json' --data-binary @%s/req.json "
                                     "http://127.0.0.1:%d/ocr", tmp, port), 0);
  assert_int_equal(st, 200);
  char flat[4096];
  squash(flat, sizeof flat, json_string_value(json_object_get(j, "text")));
  assert_non_null(strstr(flat, "NOTICE"));
  assert_non_null(strstr(flat, "PROHIBITED"));
  json_decref(j);
}

static void test_extract(void **s) {
  (void)s;
  json_t *j;
  int st;
  assert_int_equal(svc_curl(&j, &st, "-F file=@%s/scenetext05.jpg --form-string prompt='<OCR>' http://127.0.0.1:%d/extract",
                            media, port), 0);
  assert_int_equal(st, 200);
  assert_string_equal(json_string_value(json_object_get(j, "engine")), "pp-ocrv4");
  char flat[4096];
  squash(flat, sizeof flat, json_string_value(json_object_get(json_object_get(j, "result"), "<OCR>")));
  assert_non_null(strstr(flat, "NOPARKING"));
  json_decref(j);
  assert_int_equal(svc_curl(&j, &st, "-F file=@%s/scenetext05.jpg 'http://127.0.0.1:%d/extract?prompt=%%3COCR_WITH_REGION%%3E'",
                            media, port), 0);
  assert_int_equal(st, 200);
  json_t *r = json_object_get(json_object_get(j, "result"), "<OCR_WITH_REGION>");
  json_t *quads = json_object_get(r, "quad_boxes"), *labels = json_object_get(r, "labels");
  assert_true(json_array_size(quads) >= 1);
  assert_int_equal(json_array_size(quads), json_array_size(labels));
  assert_int_equal(json_array_size(json_array_get(quads, 0)), 8);
  json_decref(j);
  /* Florence-only prompts: 503 that says why; unknown or missing: 400 */
  assert_int_equal(svc_curl(&j, &st, "-F file=@%s/scenetext05.jpg --form-string prompt='<CAPTION>' http://127.0.0.1:%d/extract",
                            media, port), 0);
  assert_int_equal(st, 503);
  assert_non_null(strstr(json_string_value(json_object_get(j, "detail")), "Florence-2"));
  json_decref(j);
  assert_int_equal(svc_curl(&j, &st, "-F file=@%s/scenetext05.jpg --form-string prompt='<NOPE>' http://127.0.0.1:%d/extract",
                            media, port), 0);
  assert_int_equal(st, 400);
  json_decref(j);
  assert_int_equal(svc_curl(&j, &st, "-F file=@%s/scenetext05.jpg http://127.0.0.1:%d/extract", media, port), 0);
  assert_int_equal(st, 400);
  json_decref(j);
}

static void post_file(json_t **j, int *st, const char *name) {
  assert_int_equal(svc_curl(j, st, "-F file=@%s/%s http://127.0.0.1:%d/ocr", tmp, name, port), 0);
}

static void test_bad_input(void **s) {
  (void)s;
  json_t *j;
  int st;
  /* no text: 200, "" and no lines */
  post_file(&j, &st, "blank.png");
  assert_int_equal(st, 200);
  assert_string_equal(json_string_value(json_object_get(j, "text")), "");
  assert_int_equal(json_array_size(json_object_get(j, "lines")), 0);
  json_decref(j);
  /* 1x1 */
  post_file(&j, &st, "one.png");
  assert_int_equal(st, 200);
  assert_int_equal(json_array_size(json_object_get(j, "lines")), 0);
  json_decref(j);
  /* 40,000 px wide: refused by the pixel limit, with a reason */
  post_file(&j, &st, "wide.png");
  assert_true(st == 413 || st == 400);
  assert_true(strlen(json_string_value(json_object_get(j, "detail"))) > 5);
  json_decref(j);
  /* noise: answered, lines capped (200 at most) */
  post_file(&j, &st, "noise.png");
  assert_int_equal(st, 200);
  assert_true(json_array_size(json_object_get(j, "lines")) <= 200);
  json_decref(j);
  /* a script outside the dictionary: answered; whatever is read is valid UTF-8 (jansson checks) */
  post_file(&j, &st, "hebrew_arabic.png");
  assert_int_equal(st, 200);
  assert_true(json_is_string(json_object_get(j, "text")));
  json_decref(j);
  /* not an image */
  assert_int_equal(svc_curl(&j, &st, "-F file=@%s/serve.log http://127.0.0.1:%d/ocr", tmp, port), 0);
  assert_true(st == 400 || st == 415);
  json_decref(j);
  /* no file */
  assert_int_equal(svc_curl(&j, &st, "-H 'Content-Type: application/json' -d '{}' http://127.0.0.1:%d/ocr", port), 0);
  assert_int_equal(st, 400);
  json_decref(j);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_health),  cmocka_unit_test(test_ocr_multipart), cmocka_unit_test(test_ocr_base64),
      cmocka_unit_test(test_extract), cmocka_unit_test(test_bad_input),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
