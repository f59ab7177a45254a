/* The detection service as a black box: `vigil serve detect` on a free port,
 * driven with curl over loopback, on real photos (CONTRACTS.md shapes). */
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
#include "util/assets.h"

static char media[1024];
static int port;
static pid_t pid;

static pid_t start(int p, const char *model) {
  pid_t c = fork();
  if (c == 0) {
    char ports[16], log[512];
    snprintf(ports, sizeof ports, "%d", p);
    snprintf(log, sizeof log, "%s/serve-%d.log", tmp, p);
    if (model) setenv("YOLO26_MODEL_PATH", model, 1);
    if (!freopen(log, "w", stderr)) _exit(126);
    const char *bin = getenv("VIGIL_BINARY");
    execl(bin, bin, "serve", "detect", "--port", ports, (char *)NULL);
    _exit(127);
  }
  return c;
}

static void wait_up(int p) {
  if (!svc_wait_up(p)) fail_msg("server on port %d did not come up", p);
}

static int setup(void **s) {
  (void)s;
  if (!getenv("VIGIL_BINARY")) return -1;
  if (vigil_asset_require(media, sizeof media, "media")) {
    fprintf(stderr, "%s\n", vigil_asset_errmsg());
    return -1;
  }
  snprintf(tmp, sizeof tmp, "/tmp/vigil-detect-XXXXXX");
  if (!mkdtemp(tmp)) return -1;
  port = svc_free_port();
  pid = start(port, NULL);
  wait_up(port);
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

static bool has_class(json_t *dets, const char *cls) {
  size_t i;
  json_t *d;
  json_array_foreach(dets, i, d) if (!strcmp(json_string_value(json_object_get(d, "class")), cls)) return true;
  return false;
}

static void test_health(void **s) {
  (void)s;
  json_t *j;
  int st;
  char args[128];
  snprintf(args, sizeof args, "http://127.0.0.1:%d/health", port);
  assert_int_equal(svc_curl(&j, &st, "%s", args), 0);
  assert_int_equal(st, 200);
  assert_string_equal(json_string_value(json_object_get(j, "status")), "healthy");
  assert_true(json_is_true(json_object_get(j, "model_loaded")));
  assert_string_equal(json_string_value(json_object_get(j, "device")), "cpu");
  json_decref(j);
}

static void test_detect_multipart_and_json(void **s) {
  (void)s;
  json_t *j;
  int st;
  char args[4096];
  snprintf(args, sizeof args, "-F file=@%s/dog.jpg http://127.0.0.1:%d/detect", media, port);
  assert_int_equal(svc_curl(&j, &st, "%s", args), 0);
  assert_int_equal(st, 200);
  json_t *dets = json_object_get(j, "detections");
  assert_true(has_class(dets, "dog") && has_class(dets, "bicycle"));
  /* the pickup: one box, car or truck, not both (vehicle classes suppress each other) */
  assert_true(has_class(dets, "truck") != has_class(dets, "car"));
  assert_int_equal(json_integer_value(json_object_get(j, "image_width")), 768);
  assert_int_equal(json_integer_value(json_object_get(j, "image_height")), 576);
  size_t i;
  json_t *d;
  json_array_foreach(dets, i, d) {
    json_t *b = json_object_get(d, "bbox");
    double x = json_number_value(json_object_get(b, "x")), w = json_number_value(json_object_get(b, "width"));
    assert_true(x >= 0 && w > 0 && x + w <= 768.5);
    assert_true(json_number_value(json_object_get(d, "confidence")) >= 0.3);
  }
  json_decref(j);
  /* the same image as JSON base64 gives the same answer */
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "printf '{\"image_base64\":\"%%s\"}' $(base64 -w0 %s/person.jpg) > %s/req.json", media, tmp);
  assert_int_equal(system(cmd), 0);
  snprintf(args, sizeof args, "-H 'Content-Type: application/json' --data-binary @%s/req.json http://127.0.0.1:%d/detect",
           tmp, port);
  assert_int_equal(svc_curl(&j, &st, "%s", args), 0);
  assert_int_equal(st, 200);
  dets = json_object_get(j, "detections");
  assert_true(has_class(dets, "person") && has_class(dets, "dog"));
  assert_false(has_class(dets, "horse"));
  json_decref(j);
}

static void test_batch(void **s) {
  (void)s;
  json_t *j;
  int st;
  char args[4096];
  snprintf(args, sizeof args, "-F file=@%s/dog.jpg -F file=@%s/person.jpg http://127.0.0.1:%d/detect/batch", media,
           media, port);
  assert_int_equal(svc_curl(&j, &st, "%s", args), 0);
  assert_int_equal(st, 200);
  assert_int_equal(json_integer_value(json_object_get(j, "num_images")), 2);
  json_t *res = json_object_get(j, "results");
  assert_int_equal(json_array_size(res), 2);
  json_t *d0 = json_object_get(json_array_get(res, 0), "detections");
  assert_true(has_class(d0, "truck") != has_class(d0, "car"));
  assert_true(has_class(json_object_get(json_array_get(res, 1), "detections"), "person"));
  assert_string_equal(json_string_value(json_object_get(json_array_get(res, 1), "filename")), "person.jpg");
  json_decref(j);
}

static void test_bad_input(void **s) {
  (void)s;
  json_t *j;
  int st;
  char args[4096], cmd[1024];
  /* not an image */
  snprintf(args, sizeof args, "-F file=@/etc/hostname http://127.0.0.1:%d/detect", port);
  assert_int_equal(svc_curl(&j, &st, "%s", args), 0);
  assert_int_equal(st, 400);
  assert_non_null(json_string_value(json_object_get(j, "detail")));
  json_decref(j);
  /* a 1x1 PNG: documented as 200 with no detections */
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 -c \"from PIL import Image; Image.new('RGB', (1, 1), (9, 9, 9)).save('%s/one.png')\"",
           tmp);
  assert_int_equal(system(cmd), 0);
  snprintf(args, sizeof args, "-F file=@%s/one.png http://127.0.0.1:%d/detect", tmp, port);
  assert_int_equal(svc_curl(&j, &st, "%s", args), 0);
  assert_int_equal(st, 200);
  assert_int_equal(json_array_size(json_object_get(j, "detections")), 0);
  assert_int_equal(json_integer_value(json_object_get(j, "image_width")), 1);
  json_decref(j);
  /* over 10 MB */
  snprintf(cmd, sizeof cmd, "head -c 11000000 /dev/zero > %s/big.bin", tmp);
  assert_int_equal(system(cmd), 0);
  snprintf(args, sizeof args, "-F file=@%s/big.bin http://127.0.0.1:%d/detect", tmp, port);
  assert_int_equal(svc_curl(&j, &st, "%s", args), 0);
  assert_int_equal(st, 413);
  json_decref(j);
  /* no file at all */
  snprintf(args, sizeof args, "-H 'Content-Type: application/json' -d '{}' http://127.0.0.1:%d/detect", port);
  assert_int_equal(svc_curl(&j, &st, "%s", args), 0);
  assert_int_equal(st, 400);
  json_decref(j);
}

/* A model whose outputs match no detector family: the service starts, says
 * so in /health and refuses /detect with 503 naming what it found. */
static void test_unknown_family(void **s) {
  (void)s;
  char model[1024];
  if (vigil_asset_require(model, sizeof model, "models/human/faceres.json")) fail_msg("%s", vigil_asset_errmsg());
  int p2 = svc_free_port(); /* not port + 1: another test may hold it */
  pid_t c = start(p2, model);
  wait_up(p2);
  json_t *j;
  int st;
  char args[4096];
  snprintf(args, sizeof args, "http://127.0.0.1:%d/health", p2);
  assert_int_equal(svc_curl(&j, &st, "%s", args), 0);
  assert_string_equal(json_string_value(json_object_get(j, "status")), "unhealthy");
  const char *e = json_string_value(json_object_get(j, "error"));
  assert_non_null(e);
  assert_non_null(strstr(e, "no known detector family"));
  assert_non_null(strstr(e, "gender_pred"));
  json_decref(j);
  snprintf(args, sizeof args, "-F file=@%s/dog.jpg http://127.0.0.1:%d/detect", media, p2);
  assert_int_equal(svc_curl(&j, &st, "%s", args), 0);
  assert_int_equal(st, 503);
  json_decref(j);
  kill(c, SIGTERM);
  waitpid(c, &st, 0);
}

int main(void) {
  const struct CMUnitTest t[] = {
      cmocka_unit_test(test_health), cmocka_unit_test(test_detect_multipart_and_json), cmocka_unit_test(test_batch),
      cmocka_unit_test(test_bad_input), cmocka_unit_test(test_unknown_family),
  };
  return cmocka_run_group_tests(t, setup, teardown);
}
