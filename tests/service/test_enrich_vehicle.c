/* The vehicle and animal path through `vigil serve enrich` (black box), on
 * the generated hub models: /enrich for a vehicle (type, damage with masks,
 * the patterns at the camera's local time, the LLM context), an animal (pet
 * breed, household flag), /vehicle-classify, /pet-classify, /vehicle-damage,
 * /depth-estimate (PNG), /object-distance, weather; without the exports the
 * detector-class fallbacks; bad input (2x2 and outside boxes, unknown parts,
 * a depth export of the wrong shape) answered with reasons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "service_test.h"

static int port, port_bare, port_bad;
static pid_t pids[3];

/* a port nobody listens on right now */
static int free_port(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof a;
  if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || getsockname(s, (struct sockaddr *)&a, &l)) return -1;
  close(s);
  return ntohs(a.sin_port);
}

static pid_t start(int p, int which) {
  pid_t c = fork();
  if (c == 0) {
    char v[600];
    static const char *const keys[] = {"VEHICLE_MODEL_PATH", "VEHICLE_DAMAGE_MODEL_PATH", "PET_MODEL_PATH",
                                       "DEPTH_MODEL_PATH", "WEATHER_MODEL_PATH"};
    static const char *const files[] = {"vehicle-segment.onnx", "damage-seg.onnx", "resnet-18.onnx",
                                        "depth-anything.onnx", "weather.onnx"};
    for (int i = 0; i < 5; i++) {
      if (which == 0) snprintf(v, sizeof v, "%s/%s", tmp, files[i]);
      else if (which == 2 && i == 3) snprintf(v, sizeof v, "%s/depth-bad.onnx", tmp);
      else snprintf(v, sizeof v, "/nonexistent/%s", files[i]);
      setenv(keys[i], v, 1);
    }
    setenv("VIGIL_HOUSEHOLD_PETS", "dog:golden retriever", 1);
    snprintf(v, sizeof v, "%s/gallery-%d.sqlite", tmp, p), setenv("VIGIL_REID_GALLERY", v, 1);
    svc_serve_exec("enrich", p, true);
  }
  return c;
}

/* tmp/NAME: an /enrich body for the synthetic frame with extra JSON */
static void body(const char *name, const char *extra) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "printf '{\"image\":\"%%s\",%s}' $(base64 -w0 %s/frame.png) > %s/%s", extra, tmp, tmp,
           name);
  assert_int_equal(system(cmd), 0);
}

static int setup(void **s) {
  (void)s;
  if (!getenv("VIGIL_BINARY")) return -1;
  snprintf(tmp, sizeof tmp, "/tmp/vigil-enrich-veh-XXXXXX");
  if (!mkdtemp(tmp)) return -1;
  const char *src = getenv("VIGIL_SOURCE_DIR");
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 %s/tools/testmodels/gen_hub_models.py %s vehicle damage pet depth depthbad weather",
           src ? src : ".", tmp);
  if (system(cmd)) return -1;
  /* a 640x400 frame: red | blue | green thirds (the generated models read colours) */
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 -c \"import numpy as np, cv2; a=np.zeros((400,640,3),np.uint8); a[:,:213]=(0,0,255); "
           "a[:,213:426]=(255,0,0); a[:,426:]=(0,255,0); cv2.imwrite('%s/frame.png', a)\"",
           tmp);
  if (system(cmd)) return -1;
  port = free_port(), port_bare = free_port(), port_bad = free_port();
  pids[0] = start(port, 0);
  pids[1] = start(port_bare, 1);
  pids[2] = start(port_bad, 2);
  int ports[3] = {port, port_bare, port_bad};
  for (int i = 0; i < 3; i++) { /* a loaded machine may take a while */
    bool up = false;
    for (int k = 0; k < 4 && !up; k++) up = svc_wait_up(ports[i]);
    if (!up) {
      fprintf(stderr, "vigil serve enrich did not come up on port %d (%s/serve-%d.log)\n", ports[i], tmp, ports[i]);
      return -1;
    }
  }
  return 0;
}

static int teardown(void **s) {
  (void)s;
  for (int i = 0; i < 3; i++) {
    kill(pids[i], SIGTERM);
    waitpid(pids[i], NULL, 0);
  }
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  return system(cmd) ? -1 : 0;
}

static const char *str(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static void test_vehicle(void **s) {
  (void)s;
  /* 2024-11-27 06:46:40 UTC = 01:46 in New York: night */
  body("car.json", "\"detection_type\":\"vehicle\",\"detection_class\":\"car\",\"detection_confidence\":0.75,\"bbox\":{\"x1\":10,\"y1\":40,"
                   "\"x2\":200,\"y2\":360},\"timestamp\":1732690000,\"timezone\":\"America/New_York\"");
  json_t *j = svc_post_file(port, "/enrich", "car.json", 200);
  json_t *v = json_object_get(j, "vehicle");
  assert_string_equal(str(v, "vehicle_type"), "pickup_truck");
  assert_string_equal(str(v, "display_name"), "pickup truck");
  assert_true(json_is_false(json_object_get(v, "is_commercial")));
  assert_string_equal(str(v, "source"), "model");
  assert_int_equal(json_array_size(json_object_get(v, "top_3")), 3);
  json_t *d = json_object_get(j, "vehicle_damage");
  assert_int_equal(json_integer_value(json_object_get(d, "total_damage_count")), 2);
  assert_true(json_is_true(json_object_get(d, "has_high_security_damage")));
  json_t *d0 = json_array_get(json_object_get(d, "detections"), 0);
  assert_string_equal(str(d0, "damage_type"), "glass_shatter");
  assert_true(json_is_true(json_object_get(d0, "has_mask")));
  assert_true(json_integer_value(json_object_get(d0, "mask_area")) > 0);
  json_t *pat = json_object_get(d, "patterns");
  assert_true(json_is_true(json_object_get(pat, "break_in_pattern")));
  assert_true(json_is_true(json_object_get(pat, "critical_alert")));
  assert_true(json_is_true(json_object_get(pat, "elevated_risk")));
  assert_string_equal(str(d, "local_time"), "01:46");
  const char *ctx = str(d, "context");
  assert_non_null(strstr(ctx, "Vehicle Damage Detected (2 instances):"));
  assert_non_null(strstr(ctx, "- glass_shatter: 1 instance(s) (avg conf: 90%)"));
  assert_non_null(strstr(ctx, "**HIGH SECURITY ALERT**"));
  assert_true(json_is_null(json_object_get(j, "pose")));
  assert_int_equal(json_object_size(json_object_get(j, "errors")), 0);
  json_decref(j);
  /* the same at 06:46 UTC: daytime, no night patterns */
  body("car-utc.json", "\"detection_type\":\"vehicle\",\"bbox\":{\"x1\":10,\"y1\":40,\"x2\":200,\"y2\":360},"
                       "\"timestamp\":1732690000,\"timezone\":\"UTC\"");
  j = svc_post_file(port, "/vehicle-damage", "car-utc.json", 200);
  pat = json_object_get(json_object_get(j, "vehicle_damage"), "patterns");
  assert_true(json_is_false(json_object_get(pat, "critical_alert")));
  assert_true(json_is_true(json_object_get(pat, "break_in_pattern")));
  json_decref(j);
  /* /vehicle-classify on the blue third: a commercial work van */
  body("van.json", "\"detection_type\":\"vehicle\",\"bbox\":{\"x1\":230,\"y1\":40,\"x2\":410,\"y2\":360}");
  j = svc_post_file(port, "/vehicle-classify", "van.json", 200);
  assert_string_equal(str(json_object_get(j, "vehicle"), "vehicle_type"), "work_van");
  assert_true(json_is_true(json_object_get(json_object_get(j, "vehicle"), "is_commercial")));
  json_decref(j);
  /* without the exports: the detector's class, damage null with the reason */
  j = svc_post_file(port_bare, "/enrich", "car.json", 200);
  v = json_object_get(j, "vehicle");
  assert_string_equal(str(v, "vehicle_type"), "car");
  assert_string_equal(str(v, "source"), "detector");
  assert_float_equal(json_number_value(json_object_get(v, "confidence")), 0.75, 1e-6);
  assert_true(json_is_null(json_object_get(j, "vehicle_damage")));
  assert_non_null(strstr(str(json_object_get(j, "errors"), "damage"), "VEHICLE_DAMAGE_MODEL_PATH"));
  json_decref(j);
  j = svc_post_file(port_bare, "/vehicle-damage", "car.json", 503);
  json_decref(j);
}

static void test_animal_depth_weather(void **s) {
  (void)s;
  body("dog.json", "\"detection_type\":\"animal\",\"detection_class\":\"dog\",\"bbox\":{\"x1\":20,\"y1\":50,"
                   "\"x2\":200,\"y2\":350},\"options\":{\"include_depth\":true,\"include_weather\":true},"
                   "\"camera_id\":\"yard\",\"depth_px_per_m\":850");
  json_t *j = svc_post_file(port, "/enrich", "dog.json", 200);
  json_t *p = json_object_get(j, "pet");
  assert_string_equal(str(p, "pet_type"), "dog");
  assert_string_equal(str(p, "breed"), "golden retriever");
  assert_true(json_is_true(json_object_get(p, "is_household_pet")));
  json_t *d = json_object_get(j, "depth");
  assert_non_null(str(d, "depth_map_base64"));
  assert_string_equal(str(d, "calibration"), "camera");
  /* 850 px/m -> focal 500; a 300 px animal box of 0.5 m: 500 * 0.5 / 300 m */
  assert_float_equal(json_number_value(json_object_get(d, "estimated_distance_m")), 0.83, 0.006);
  assert_string_equal(str(d, "proximity_label"), "very_close");
  json_t *w = json_object_get(j, "weather");
  assert_string_equal(str(w, "label"), "fog"); /* the green third is one column wider: the mean is greenest */
  json_decref(j);
  /* /pet-classify on the blue third: a cat, not a household pet */
  body("cat.json", "\"detection_type\":\"animal\",\"bbox\":{\"x1\":230,\"y1\":50,\"x2\":410,\"y2\":350}");
  j = svc_post_file(port, "/pet-classify", "cat.json", 200);
  assert_string_equal(str(json_object_get(j, "pet"), "breed"), "tabby");
  assert_true(json_is_false(json_object_get(json_object_get(j, "pet"), "is_household_pet")));
  json_decref(j);
  /* /depth-estimate: a PNG */
  j = svc_post_file(port, "/depth-estimate", "cat.json", 200);
  const char *png = str(json_object_get(j, "depth"), "depth_map_base64");
  assert_non_null(png);
  assert_int_equal(strncmp(png, "iVBORw0KGgo", 11), 0); /* \x89PNG\r\n\x1a\n */
  json_decref(j);
  /* without the exports: pet from the detector, distance from the box alone */
  j = svc_post_file(port_bare, "/enrich", "dog.json", 200);
  assert_string_equal(str(json_object_get(j, "pet"), "source"), "detector");
  assert_true(json_is_true(json_object_get(json_object_get(j, "pet"), "is_household_pet"))); /* by type */
  d = json_object_get(j, "depth");
  assert_true(json_is_null(json_object_get(d, "depth_map_base64")));
  assert_string_equal(str(d, "source"), "box");
  assert_true(json_is_null(json_object_get(j, "weather")));
  assert_non_null(json_object_get(json_object_get(j, "errors"), "weather"));
  json_decref(j);
  json_decref(svc_post_file(port_bare, "/depth-estimate", "cat.json", 503));
  j = svc_post_file(port_bare, "/object-distance", "cat.json", 200);
  assert_string_equal(str(json_object_get(j, "depth"), "calibration"), "default");
  json_decref(j);
  /* a depth export of the wrong shape: the reason names it */
  j = svc_post_file(port_bad, "/depth-estimate", "cat.json", 503);
  fprintf(stderr, "bad depth export: %s\n", str(j, "detail"));
  assert_non_null(strstr(str(j, "detail"), "unexpected output shape [1,37,37]"));
  json_decref(j);
}

static void test_bad_input(void **s) {
  (void)s;
  body("tiny.json", "\"detection_type\":\"vehicle\",\"bbox\":{\"x1\":50,\"y1\":50,\"x2\":52,\"y2\":52}");
  json_t *j = svc_post_file(port, "/enrich", "tiny.json", 400);
  fprintf(stderr, "2x2: %s\n", str(j, "detail"));
  assert_non_null(strstr(str(j, "detail"), "2x2"));
  json_decref(j);
  json_decref(svc_post_file(port, "/vehicle-classify", "tiny.json", 400));
  body("out.json", "\"detection_type\":\"vehicle\",\"bbox\":{\"x1\":900,\"y1\":50,\"x2\":1000,\"y2\":150}");
  j = svc_post_file(port, "/enrich", "out.json", 400);
  assert_non_null(strstr(str(j, "detail"), "640x400"));
  json_decref(j);
  body("parts.json", "\"detection_type\":\"vehicle\",\"parts\":[\"vehicle\",\"wheels\"]");
  j = svc_post_file(port, "/enrich", "parts.json", 400);
  assert_non_null(strstr(str(j, "detail"), "wheels"));
  json_decref(j);
  body("tz.json", "\"detection_type\":\"vehicle\",\"timezone\":\"Mars/Olympus\"");
  json_decref(svc_post_file(port, "/enrich", "tz.json", 400));
  /* parts: only what is asked runs */
  body("only.json", "\"detection_type\":\"vehicle\",\"parts\":[\"vehicle\"],\"bbox\":{\"x1\":10,\"y1\":40,"
                    "\"x2\":200,\"y2\":360}");
  j = svc_post_file(port, "/enrich", "only.json", 200);
  assert_non_null(str(json_object_get(j, "vehicle"), "vehicle_type"));
  assert_true(json_is_null(json_object_get(j, "vehicle_damage")));
  json_decref(j);
}

int main(void) {
  const struct CMUnitTest t[] = {cmocka_unit_test(test_vehicle), cmocka_unit_test(test_animal_depth_weather),
                                 cmocka_unit_test(test_bad_input)};
  return cmocka_run_group_tests(t, setup, teardown);
}
