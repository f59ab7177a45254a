/* The Florence-2 port (8092) with Florence-2 installed: `vigil serve florence` on the
 * generated stand-in (tools/testmodels/gen_florence_models.py: a red image answers "a
 * red car" with box bins 100, 200, 600, 700), driven with curl over loopback. Every task
 * prompt through /extract in Florence's own layout, the /caption, /detect and
 * /dense-caption shortcuts, boxes in image pixels, a generation cut at
 * FLORENCE_MAX_NEW_TOKENS, /health, and bad prompts. /ocr stays PP-OCRv4. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "service_test.h"

static int port, port_short;
static pid_t pid, pid_short;

static pid_t start(int p, const char *max_tokens) {
  pid_t c = fork();
  if (c == 0) {
    char ports[16], log[512], v[600];
    snprintf(ports, sizeof ports, "%d", p);
    snprintf(log, sizeof log, "%s/serve-%d.log", tmp, p);
    snprintf(v, sizeof v, "%s/florence", tmp), setenv("FLORENCE_MODEL_PATH", v, 1);
    setenv("FLORENCE_MAX_NEW_TOKENS", max_tokens, 1);
    if (!freopen(log, "w", stderr)) _exit(126);
    const char *bin = getenv("VIGIL_BINARY");
    execl(bin, bin, "serve", "florence", "--port", ports, (char *)NULL);
    _exit(127);
  }
  return c;
}

static json_t *call(int p, const char *path, const char *extra, int want) {
  json_t *j;
  int st;
  if (svc_curl(&j, &st, "-F file=@%s/red.png %s 'http://127.0.0.1:%d%s'", tmp, extra, p, path))
    fail_msg("%s %s: no JSON reply", path, extra);
  if (st != want) fail_msg("%s: status %d, wanted %d: %s", path, st, want, json_dumps(j, 0));
  return j;
}

static int setup(void **s) {
  (void)s;
  if (!getenv("VIGIL_BINARY")) return -1;
  snprintf(tmp, sizeof tmp, "/tmp/vigil-florence2-XXXXXX");
  if (!mkdtemp(tmp)) return -1;
  const char *src = getenv("VIGIL_SOURCE_DIR");
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 %s/tools/testmodels/gen_florence_models.py %s && /usr/bin/python3 -c \"from PIL import Image; "
           "Image.new('RGB',(1000,500),(220,30,30)).save('%s/red.png')\"",
           src ? src : ".", tmp, tmp);
  if (system(cmd)) return -1;
  port = svc_free_port(), port_short = svc_free_port();
  if (port < 0 || port_short < 0 || port == port_short) return -1;
  pid = start(port, "1024");
  pid_short = start(port_short, "3");
  return svc_wait_up(port) && svc_wait_up(port_short) ? 0 : -1;
}

static int teardown(void **s) {
  (void)s;
  int st;
  kill(pid, SIGTERM), waitpid(pid, &st, 0);
  kill(pid_short, SIGTERM), waitpid(pid_short, &st, 0);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  return system(cmd) ? -1 : 0;
}

static void test_health(void **s) {
  (void)s;
  json_t *j;
  int st;
  assert_int_equal(svc_curl(&j, &st, "http://127.0.0.1:%d/health", port), 0);
  assert_string_equal(json_string_value(json_object_get(j, "status")), "healthy");
  assert_true(json_is_true(json_object_get(j, "model_loaded")));
  json_decref(j);
}

static void test_caption_and_extract(void **s) {
  (void)s;
  json_t *j = call(port, "/caption", "", 200);
  assert_string_equal(json_string_value(json_object_get(json_object_get(j, "result"), "<CAPTION>")), "a red car");
  assert_string_equal(json_string_value(json_object_get(j, "engine")), "florence-2");
  assert_false(json_is_true(json_object_get(j, "truncated")));
  json_decref(j);
  j = call(port, "/caption?detail=detailed", "", 200);
  assert_non_null(json_object_get(json_object_get(j, "result"), "<DETAILED_CAPTION>"));
  json_decref(j);
  json_decref(call(port, "/caption?detail=epic", "", 400));
  /* every prompt through /extract answers under its own key */
  const char *prompts[] = {"<CAPTION>", "<DETAILED_CAPTION>", "<MORE_DETAILED_CAPTION>", "<OD>", "<DENSE_REGION_CAPTION>",
                           "<REGION_PROPOSAL>", "<OCR>", "<OCR_WITH_REGION>"};
  for (size_t i = 0; i < sizeof prompts / sizeof *prompts; i++) {
    char extra[128];
    snprintf(extra, sizeof extra, "--form-string 'prompt=%s'", prompts[i]); /* -F would read a file for '<' */
    j = call(port, "/extract", extra, 200);
    if (!json_object_get(json_object_get(j, "result"), prompts[i])) fail_msg("%s: %s", prompts[i], json_dumps(j, 0));
    json_decref(j);
  }
  json_decref(call(port, "/extract", "--form-string 'prompt=<NOPE>'", 400));
}

static void test_boxes_in_pixels(void **s) {
  (void)s;
  json_t *j = call(port, "/detect", "", 200);
  json_t *od = json_object_get(json_object_get(j, "result"), "<OD>");
  assert_int_equal(json_array_size(json_object_get(od, "bboxes")), 1);
  json_t *b = json_array_get(json_object_get(od, "bboxes"), 0);
  /* bins 100, 200, 600, 700 of a 1000 x 500 image */
  assert_true(fabs(json_number_value(json_array_get(b, 0)) - 100.5) < 0.1);
  assert_true(fabs(json_number_value(json_array_get(b, 1)) - 100.25) < 0.1);
  assert_true(fabs(json_number_value(json_array_get(b, 2)) - 600.5) < 0.1);
  assert_true(fabs(json_number_value(json_array_get(b, 3)) - 350.25) < 0.1);
  assert_string_equal(json_string_value(json_array_get(json_object_get(od, "labels"), 0)), "a red car");
  json_decref(j);
  j = call(port, "/dense-caption", "", 200);
  assert_int_equal(json_array_size(json_object_get(json_object_get(json_object_get(j, "result"), "<DENSE_REGION_CAPTION>"), "bboxes")), 1);
  json_decref(j);
}

static void test_cut_at_max_tokens(void **s) {
  (void)s;
  json_t *j = call(port_short, "/caption", "", 200);
  assert_true(json_is_true(json_object_get(j, "truncated")));
  assert_int_equal(json_integer_value(json_object_get(j, "tokens")), 3);
  json_decref(j);
}

int main(void) {
  const struct CMUnitTest t[] = {
      cmocka_unit_test(test_health),
      cmocka_unit_test(test_caption_and_extract),
      cmocka_unit_test(test_boxes_in_pixels),
      cmocka_unit_test(test_cut_at_max_tokens),
  };
  return cmocka_run_group_tests(t, setup, teardown);
}
