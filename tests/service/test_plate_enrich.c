/* Licence plates through both enrichment services (`vigil serve enrich` and
 * `enrich-light`): a vehicle request on a plate rendered onto a real photo
 * gets vehicle.license_plate with the normalised text, the raw text, and a
 * box in frame pixels; KNOWN_PLATES marks it known; a vehicle without a plate
 * gets license_plate null. The light service also has a yolo11-license-plate
 * export (the generated stand-in, tools/testmodels) and takes the box from it. */
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
static int port, port_light;
static pid_t pids[2];

static pid_t start(const char *service, int p, const char *known, const char *plate_model) {
  pid_t c = fork();
  if (c == 0) {
    char v[600];
    snprintf(v, sizeof v, "%s/gallery-%d.sqlite", tmp, p), setenv("VIGIL_REID_GALLERY", v, 1);
    if (known) setenv("KNOWN_PLATES", known, 1);
    else unsetenv("KNOWN_PLATES");
    if (plate_model) setenv("LICENSE_PLATE_MODEL_PATH", plate_model, 1);
    else unsetenv("LICENSE_PLATE_MODEL_PATH");
    svc_serve_exec(service, p, false);
  }
  return c;
}

static void body(const char *name, const char *dir, const char *image, const char *extra) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "printf '{\"image\":\"%%s\",%s}' $(base64 -w0 %s/%s) > %s/%s", extra, dir, image, tmp,
           name);
  assert_int_equal(system(cmd), 0);
}

static int setup(void **s) {
  (void)s;
  if (!getenv("VIGIL_BINARY")) return -1;
  if (vigil_asset_require(media, sizeof media, "media")) {
    fprintf(stderr, "%s\n", vigil_asset_errmsg());
    return -1;
  }
  snprintf(tmp, sizeof tmp, "/tmp/vigil-plate-enrich-XXXXXX");
  if (!mkdtemp(tmp)) return -1;
  const char *src = getenv("VIGIL_SOURCE_DIR");
  char cmd[1400];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tools/testmedia/ocr_media.py plates %s %s", src ? src : ".", media,
           tmp);
  if (system(cmd)) return -1;
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tools/testmodels/gen_hub_models.py %s plate", src ? src : ".", tmp);
  if (system(cmd)) return -1;
  char plate_model[512];
  snprintf(plate_model, sizeof plate_model, "%s/yolo11-license-plate.onnx", tmp);
  port = svc_free_port(), port_light = svc_free_port();
  pids[0] = start("enrich", port, NULL, NULL);
  pids[1] = start("enrich-light", port_light, "kx21 abc, LR69KVD", plate_model);
  if (!svc_wait_up(port) || !svc_wait_up(port_light)) return -1;
  const char *veh = "\"detection_type\":\"vehicle\",\"detection_id\":\"v1\",\"camera_id\":\"drive\","
                    "\"bbox\":{\"x1\":465,\"y1\":75,\"x2\":695,\"y2\":170}";
  body("plate.json", tmp, "plate_0_0.png", veh);
  body("noplate.json", media, "dog.jpg", veh);
  return 0;
}

static int teardown(void **s) {
  (void)s;
  for (int i = 0; i < 2; i++) {
    kill(pids[i], SIGTERM);
    int st;
    waitpid(pids[i], &st, 0);
  }
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  return system(cmd) ? -1 : 0;
}

static bool used(json_t *j, const char *model) {
  json_t *u = json_object_get(j, "models_used");
  for (size_t i = 0; i < json_array_size(u); i++)
    if (!strcmp(json_string_value(json_array_get(u, i)), model)) return true;
  return false;
}

static void check_plate(json_t *j, bool known) {
  json_t *lp = json_object_get(json_object_get(j, "vehicle"), "license_plate");
  if (!json_is_object(lp)) fail_msg("no license_plate: %s", json_dumps(j, 0));
  assert_string_equal(json_string_value(json_object_get(lp, "text")), "KX21ABC");
  assert_non_null(json_string_value(json_object_get(lp, "raw_text")));
  double c = json_number_value(json_object_get(lp, "confidence"));
  assert_true(c > 0.5 && c <= 1);
  json_t *b = json_object_get(lp, "bbox");
  /* the plate was rendered at 518,130-602,151 (frame pixels) */
  assert_true(json_number_value(json_object_get(b, "x1")) >= 510 && json_number_value(json_object_get(b, "x2")) <= 610);
  assert_true(json_number_value(json_object_get(b, "y1")) >= 122 && json_number_value(json_object_get(b, "y2")) <= 160);
  assert_int_equal(json_is_true(json_object_get(lp, "known")), known);
}

static void test_heavy(void **s) {
  (void)s;
  json_t *j = svc_post_file(port, "/enrich", "plate.json", 200);
  check_plate(j, false);
  assert_true(used(j, "paddleocr"));
  assert_false(used(j, "yolo11-license-plate")); /* not installed on this one */
  assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(j, "vehicle"), "license_plate"),
                                                        "source")),
                      "ocr-detector");
  json_decref(j);
  j = svc_post_file(port, "/vehicle-classify", "plate.json", 200);
  check_plate(j, false);
  json_decref(j);
}

static void test_light_known(void **s) {
  (void)s;
  json_t *j = svc_post_file(port_light, "/enrich", "plate.json", 200);
  check_plate(j, true);
  json_t *lp = json_object_get(json_object_get(j, "vehicle"), "license_plate");
  assert_string_equal(json_string_value(json_object_get(lp, "source")), "yolo11-license-plate");
  assert_true(used(j, "yolo11-license-plate"));
  assert_true(used(j, "paddleocr"));
  json_decref(j);
}

static void test_no_plate(void **s) {
  (void)s;
  json_t *j = svc_post_file(port, "/enrich", "noplate.json", 200);
  json_t *v = json_object_get(j, "vehicle");
  assert_true(json_is_object(v));
  assert_true(json_is_null(json_object_get(v, "license_plate")));
  json_decref(j);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_heavy), cmocka_unit_test(test_light_known),
                                     cmocka_unit_test(test_no_plate)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
