/* Open-vocabulary detection over HTTP: `vigil serve detect` with the generated YOLO-World
 * stand-in (tools/testmodels/gen_yolo_world.py) answers "classes" requests; without the
 * export, and for bad vocabularies (1,000 classes, empty strings, not an array), 400. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "service_test.h"

static int port, port_bare;
static pid_t pid, pid_bare;

static pid_t start(int p, const char *yw) {
  pid_t c = fork();
  if (c == 0) {
    char ports[16], log[512];
    snprintf(ports, sizeof ports, "%d", p);
    snprintf(log, sizeof log, "%s/serve-%d.log", tmp, p);
    setenv("YOLO_WORLD_MODEL_PATH", yw, 1);
    if (!freopen(log, "w", stderr)) _exit(126);
    const char *bin = getenv("VIGIL_BINARY");
    execl(bin, bin, "serve", "detect", "--port", ports, (char *)NULL);
    _exit(127);
  }
  return c;
}

static int setup(void **s) {
  (void)s;
  const char *src = getenv("VIGIL_SOURCE_DIR");
  if (!getenv("VIGIL_BINARY") || !src) return -1;
  snprintf(tmp, sizeof tmp, "/tmp/vigil-detect-world-XXXXXX");
  if (!mkdtemp(tmp)) return -1;
  char cmd[2048], yw[600];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tools/testmodels/gen_yolo_world.py' '%s'", src, tmp);
  if (system(cmd)) return -1;
  /* 1280 x 640 grey with a red 64-px square at (640,320): one letterbox cell */
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 -c \"from PIL import Image; im = Image.new('RGB', (1280, 640), (128, 128, 128)); "
           "im.paste((255, 0, 0), (640, 320, 704, 384)); im.save('%s/scene.png')\" && "
           "printf '{\"image_base64\":\"%%s\",\"classes\":[\"ladder\",\"red\"]}' $(base64 -w0 %s/scene.png) > %s/ok.json",
           tmp, tmp, tmp);
  if (system(cmd)) return -1;
  snprintf(yw, sizeof yw, "%s/yolo-world", tmp);
  port = svc_free_port();
  pid = start(port, yw);
  port_bare = svc_free_port();
  pid_bare = start(port_bare, "/nonexistent/yolo-world");
  if (!svc_wait_up(port) || !svc_wait_up(port_bare)) return -1;
  return 0;
}

static int teardown(void **s) {
  (void)s;
  int st;
  kill(pid, SIGTERM);
  waitpid(pid, &st, 0);
  kill(pid_bare, SIGTERM);
  waitpid(pid_bare, &st, 0);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  return system(cmd) ? -1 : 0;
}

static void finds_the_asked_class(void **s) {
  (void)s;
  json_t *j;
  int st;
  assert_int_equal(svc_curl(&j, &st, "-H 'Content-Type: application/json' --data-binary @%s/ok.json "
                                     "http://127.0.0.1:%d/detect", tmp, port), 0);
  assert_int_equal(st, 200);
  json_t *d = json_object_get(j, "detections");
  assert_int_equal(json_array_size(d), 1);
  json_t *o = json_array_get(d, 0);
  assert_string_equal(json_string_value(json_object_get(o, "class")), "red");
  assert_true(json_number_value(json_object_get(o, "confidence")) > 0.99);
  json_t *b = json_object_get(o, "bbox");
  assert_float_equal(json_number_value(json_object_get(b, "x")), 640, 1.0);
  assert_float_equal(json_number_value(json_object_get(b, "y")), 320, 1.0);
  assert_float_equal(json_number_value(json_object_get(b, "width")), 64, 1.0);
  assert_string_equal(json_string_value(json_object_get(j, "model")), "yolo-world");
  json_decref(j);
  /* the same classes again: their embeddings come from the cache (/metrics counts) */
  assert_int_equal(svc_curl(&j, &st, "-H 'Content-Type: application/json' --data-binary @%s/ok.json "
                                     "http://127.0.0.1:%d/detect", tmp, port), 0);
  assert_int_equal(st, 200);
  json_decref(j);
  char cmd[600];
  snprintf(cmd, sizeof cmd,
           "curl -s http://127.0.0.1:%d/metrics | grep -q 'vigil_yolo_world_text_cache_total{result=\"hit\"} 2'", port);
  assert_int_equal(system(cmd), 0);
  assert_int_equal(svc_curl(&j, &st, "http://127.0.0.1:%d/health", port), 0);
  assert_true(json_is_true(json_object_get(j, "open_vocabulary")));
  assert_int_equal(json_integer_value(json_object_get(j, "open_vocabulary_max_classes")), 8);
  json_decref(j);
}

/* body: the JSON written after the image; expects 400 with a detail containing want */
static void expect_400(int p, const char *classes, const char *want) {
  char cmd[1200], path[400];
  snprintf(path, sizeof path, "%s/classes.json", tmp);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(classes, f);
  fclose(f);
  snprintf(cmd, sizeof cmd,
           "(printf '{\"image_base64\":\"%%s\",\"classes\":' $(base64 -w0 %s/scene.png); cat %s; printf '}') > "
           "%s/bad.json",
           tmp, path, tmp);
  assert_int_equal(system(cmd), 0);
  json_t *j;
  int st;
  assert_int_equal(svc_curl(&j, &st, "-H 'Content-Type: application/json' --data-binary @%s/bad.json "
                                     "http://127.0.0.1:%d/detect", tmp, p), 0);
  assert_int_equal(st, 400);
  const char *detail = json_string_value(json_object_get(j, "detail"));
  assert_non_null(detail);
  if (!strstr(detail, want)) fail_msg("detail \"%s\" lacks \"%s\"", detail, want);
  json_decref(j);
}

static void refuses_bad_vocabularies(void **s) {
  (void)s;
  char many[16000];
  size_t o = 0;
  many[o++] = '[';
  for (int i = 0; i < 1000; i++) o += (size_t)snprintf(many + o, sizeof many - o, "%s\"c%d\"", i ? "," : "", i);
  snprintf(many + o, sizeof many - o, "]");
  expect_400(port, many, "at most 8");
  expect_400(port, "[\"ladder\", \"\"]", "class 1 is empty");
  expect_400(port, "[]", "at least one");
  expect_400(port, "\"ladder\"", "array of strings");
  expect_400(port, "[\"ladder\", 7]", "item 1 must be a string");
}

static void refuses_classes_without_the_export(void **s) {
  (void)s;
  expect_400(port_bare, "[\"ladder\"]", "YOLO-World export");
  json_t *h;
  int hs;
  assert_int_equal(svc_curl(&h, &hs, "http://127.0.0.1:%d/health", port_bare), 0);
  assert_true(json_is_false(json_object_get(h, "open_vocabulary")));
  assert_non_null(strstr(json_string_value(json_object_get(h, "open_vocabulary_error")), "yolo_world.onnx"));
  json_decref(h);
  /* the fixed-vocabulary detector still answers there */
  json_t *j;
  int st;
  char cmd[600];
  snprintf(cmd, sizeof cmd, "printf '{\"image_base64\":\"%%s\"}' $(base64 -w0 %s/scene.png) > %s/plain.json", tmp, tmp);
  assert_int_equal(system(cmd), 0);
  assert_int_equal(svc_curl(&j, &st, "-H 'Content-Type: application/json' --data-binary @%s/plain.json "
                                     "http://127.0.0.1:%d/detect", tmp, port_bare), 0);
  assert_int_equal(st, 200);
  assert_non_null(json_object_get(j, "detections"));
  json_decref(j);
}

int main(void) {
  const struct CMUnitTest t[] = {
      cmocka_unit_test(finds_the_asked_class),
      cmocka_unit_test(refuses_bad_vocabularies),
      cmocka_unit_test(refuses_classes_without_the_export),
  };
  return cmocka_run_group_tests(t, setup, teardown);
}
