/* The enrichment services as a black box: `vigil serve enrich` with the real
 * default models (MoveNet, BlazeFace, FaceRes) and generated stand-ins for the
 * hub-only ones (threat, OSNet, SigLIP: tools/testmodels), driven with curl
 * over loopback. CONTRACTS.md shapes, the zoo endpoints, bad input, and a
 * missing model that nulls its part without a 500. */
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
#include "util/assets.h"

static char media[1024];
static int port, port_light, port_bare;
static pid_t pids[3];

static pid_t start(const char *service, int p, bool hub_models) {
  pid_t c = fork();
  if (c == 0) {
    char v[600];
    if (hub_models) {
      snprintf(v, sizeof v, "%s/threat-yolov8n.onnx", tmp), setenv("THREAT_MODEL_PATH", v, 1);
      snprintf(v, sizeof v, "%s/osnet_x0_25.onnx", tmp), setenv("REID_MODEL_PATH", v, 1);
      snprintf(v, sizeof v, "%s/siglip", tmp), setenv("CLOTHING_MODEL_PATH", v, 1);
    } else {
      unsetenv("THREAT_MODEL_PATH");
      setenv("REID_MODEL_PATH", "/nonexistent/osnet.onnx", 1);
    }
    snprintf(v, sizeof v, "%s/gallery-%d.sqlite", tmp, p), setenv("VIGIL_REID_GALLERY", v, 1);
    svc_serve_exec(service, p, false);
  }
  return c;
}

static void wait_up(int p) {
  if (!svc_wait_up(p)) fail_msg("server on port %d did not come up", p);
}

/* writes tmp/NAME: an /enrich body for an image with optional extra JSON */
static void body(const char *name, const char *image, const char *extra) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "printf '{\"image\":\"%%s\",%s}' $(base64 -w0 %s/%s) > %s/%s", extra, media, image, tmp,
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
  snprintf(tmp, sizeof tmp, "/tmp/vigil-enrich-XXXXXX");
  if (!mkdtemp(tmp)) return -1;
  const char *src = getenv("VIGIL_SOURCE_DIR");
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tools/testmodels/gen_hub_models.py %s threat osnet siglip",
           src ? src : ".", tmp);
  if (system(cmd)) {
    fprintf(stderr, "generating the hub test models failed (run `make deps`)\n");
    return -1;
  }
  port = svc_free_port(), port_light = svc_free_port(), port_bare = svc_free_port();
  pids[0] = start("enrich", port, true);
  pids[1] = start("enrich-light", port_light, true);
  pids[2] = start("enrich", port_bare, false);
  wait_up(port);
  wait_up(port_light);
  wait_up(port_bare);
  body("messi.json", "messi5.jpg",
       "\"detection_type\":\"person\",\"detection_id\":\"d1\",\"camera_id\":\"cam1\","
       "\"bbox\":{\"x1\":180,\"y1\":80,\"x2\":460,\"y2\":345}");
  return 0;
}

static int teardown(void **s) {
  (void)s;
  for (int i = 0; i < 3; i++) {
    int st;
    kill(pids[i], SIGTERM);
    waitpid(pids[i], &st, 0);
  }
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  return system(cmd) ? -1 : 0;
}

static void test_enrich_person(void **s) {
  (void)s;
  json_t *j = svc_post_file(port, "/enrich", "messi.json", 200);
  /* every part of the person path ran */
  json_t *pose = json_object_get(j, "pose");
  assert_int_equal(json_array_size(json_object_get(pose, "keypoints")), 17);
  assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(pose, "keypoints"), 0), "name")),
                      "nose");
  assert_non_null(json_string_value(json_object_get(pose, "posture")));
  json_t *demo = json_object_get(j, "demographics");
  assert_string_equal(json_string_value(json_object_get(demo, "gender")), "male");
  assert_string_equal(json_string_value(json_object_get(demo, "model")), "faceres");
  json_t *age = json_object_get(json_object_get(j, "age_classifications"), "d1");
  assert_non_null(age);
  double raw = json_number_value(json_object_get(age, "raw_prediction"));
  assert_true(raw > 18 && raw < 50);
  json_t *threat = json_object_get(j, "threat");
  assert_true(json_is_true(json_object_get(threat, "detected")));
  assert_string_equal(json_string_value(json_object_get(threat, "threat_type")), "gun"); /* gun beats knife */
  assert_string_equal(json_string_value(json_object_get(threat, "severity")), "critical");
  json_t *emb = json_object_get(j, "reid_embedding");
  assert_int_equal(json_array_size(emb), 512);
  double norm = 0;
  for (size_t i = 0; i < 512; i++) norm += pow(json_number_value(json_array_get(emb, i)), 2);
  assert_float_equal(norm, 1.0, 1e-3);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(j, "person_embeddings"), "d1"),
                                                      "embedding_dimension")),
                   512);
  json_t *cl = json_object_get(j, "clothing");
  assert_non_null(json_string_value(json_object_get(cl, "clothing_type")));
  assert_true(json_is_boolean(json_object_get(cl, "is_service_uniform")));
  assert_true(json_is_null(json_object_get(j, "vehicle")));
  assert_true(json_is_null(json_object_get(j, "action"))); /* one frame: no action */
  assert_int_equal(json_object_size(json_object_get(j, "errors")), 0);
  assert_true(json_array_size(json_object_get(j, "models_used")) >= 6);
  assert_true(json_number_value(json_object_get(j, "inference_time_ms")) > 0);
  const char *pid1 = json_string_value(json_object_get(j, "person_id"));
  assert_non_null(pid1);
  char first[64];
  snprintf(first, sizeof first, "%s", pid1);
  json_decref(j);
  /* the same person again: the gallery reuses the id */
  j = svc_post_file(port, "/enrich", "messi.json", 200);
  assert_string_equal(json_string_value(json_object_get(j, "person_id")), first);
  json_decref(j);
}

static void test_single_part_endpoints(void **s) {
  (void)s;
  json_t *j = svc_post_file(port, "/pose-analyze", "messi.json", 200);
  assert_non_null(json_object_get(json_object_get(j, "pose"), "keypoints"));
  json_decref(j);
  j = svc_post_file(port, "/threat-detect", "messi.json", 200);
  assert_true(json_is_true(json_object_get(json_object_get(j, "threat"), "detected")));
  json_decref(j);
  j = svc_post_file(port, "/demographics", "messi.json", 200);
  assert_non_null(json_object_get(j, "demographics"));
  json_decref(j);
  j = svc_post_file(port, "/reid-embed", "messi.json", 200);
  assert_int_equal(json_array_size(json_object_get(j, "reid_embedding")), 512);
  json_decref(j);
}

/* no threat weights, no re-id weights: those parts are null with the reason;
 * the call itself succeeds */
static void test_missing_models(void **s) {
  (void)s;
  json_t *j = svc_post_file(port_bare, "/enrich", "messi.json", 200);
  assert_true(json_is_null(json_object_get(j, "threat")));
  assert_true(json_is_null(json_object_get(j, "reid_embedding")));
  const char *why = json_string_value(json_object_get(json_object_get(j, "errors"), "threat"));
  assert_non_null(why);
  assert_non_null(strstr(why, "THREAT_MODEL_PATH"));
  assert_non_null(json_object_get(json_object_get(j, "errors"), "reid"));
  assert_non_null(json_object_get(j, "pose")); /* the rest still ran */
  json_decref(j);
  j = svc_post_file(port_bare, "/threat-detect", "messi.json", 503);
  assert_non_null(strstr(json_string_value(json_object_get(j, "detail")), "threat"));
  json_decref(j);
}

static void test_bad_input(void **s) {
  (void)s;
  body("empty.json", "messi5.jpg", "\"detection_type\":\"person\",\"bbox\":{\"x1\":50,\"y1\":50,\"x2\":50,\"y2\":90}");
  json_decref(svc_post_file(port, "/enrich", "empty.json", 400));
  body("outside.json", "messi5.jpg", "\"detection_type\":\"person\",\"bbox\":{\"x1\":-100,\"y1\":-50,\"x2\":9000,\"y2\":9000}");
  json_decref(svc_post_file(port, "/enrich", "outside.json", 200)); /* clipped */
  body("far.json", "messi5.jpg", "\"detection_type\":\"person\",\"bbox\":{\"x1\":5000,\"y1\":5000,\"x2\":6000,\"y2\":6000}");
  json_decref(svc_post_file(port, "/enrich", "far.json", 400));
  body("alien.json", "messi5.jpg", "\"detection_type\":\"alien\"");
  json_decref(svc_post_file(port, "/enrich", "alien.json", 400));
  char cmd[2048];
  /* 33 frames: over the limit of 32 */
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 -c \"import base64,json; b=base64.b64encode(open('%s/messi5.jpg','rb').read()).decode(); "
           "json.dump({'image':b,'detection_type':'person','frames':[b]*33}, open('%s/many.json','w'))\"",
           media, tmp);
  assert_int_equal(system(cmd), 0);
  json_decref(svc_post_file(port, "/enrich", "many.json", 400));
  /* frames of different sizes */
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 -c \"import base64,json; r=lambda f: base64.b64encode(open('%s/'+f,'rb').read()).decode(); "
           "json.dump({'image':r('messi5.jpg'),'detection_type':'person','frames':[r('messi5.jpg'),r('dog.jpg')]}, "
           "open('%s/mixed.json','w'))\"",
           media, tmp);
  assert_int_equal(system(cmd), 0);
  json_t *j = svc_post_file(port, "/enrich", "mixed.json", 400);
  assert_non_null(strstr(json_string_value(json_object_get(j, "detail")), "same size"));
  json_decref(j);
  snprintf(cmd, sizeof cmd, "printf '{\"image\":\"@@@\"}' > %s/b64.json", tmp);
  assert_int_equal(system(cmd), 0);
  json_decref(svc_post_file(port, "/enrich", "b64.json", 400));
  int st;
  assert_int_equal(svc_curl(&j, &st, "-F file=@%s/dog.jpg http://127.0.0.1:%d/enrich", media, port), 0);
  assert_int_equal(st, 415);
  json_decref(j);
}

static void test_models_endpoints(void **s) {
  (void)s;
  json_t *j;
  int st;
  assert_int_equal(svc_curl(&j, &st, "http://127.0.0.1:%d/models/status", port_light), 0);
  assert_int_equal(st, 200);
  assert_true(json_number_value(json_object_get(j, "vram_budget_mb")) > 0);
  assert_true(json_is_array(json_object_get(j, "loaded_models")));
  assert_true(json_is_array(json_object_get(j, "registered_models")));
  assert_true(json_is_array(json_object_get(j, "pending_loads")));
  json_decref(j);
  assert_int_equal(svc_curl(&j, &st, "-X POST 'http://127.0.0.1:%d/models/preload?model_name=movenet-lightning'", port_light), 0);
  assert_int_equal(st, 200);
  const char *status = json_string_value(json_object_get(j, "status"));
  assert_true(!strcmp(status, "loaded") || !strcmp(status, "already_loaded"));
  json_decref(j);
  assert_int_equal(svc_curl(&j, &st, "-X POST 'http://127.0.0.1:%d/models/preload?model_name=no-such-model'", port_light), 0);
  assert_int_equal(st, 400);
  json_decref(j);
  assert_int_equal(svc_curl(&j, &st, "-X POST 'http://127.0.0.1:%d/models/unload?model_name=movenet-lightning'", port_light), 0);
  assert_int_equal(st, 200);
  json_decref(j);
  assert_int_equal(svc_curl(&j, &st, "http://127.0.0.1:%d/health", port_light), 0);
  assert_string_equal(json_string_value(json_object_get(j, "service")), "light");
  json_decref(j);
}

/* BRISQUE on the light service: a real photo scores "good" with the same number the
 * library gives (the golden test checks that against OpenCV); multipart works too; a
 * uniform or tiny image is a 400 with the reason, never NaN; heavy says where to go. */
static void test_quality(void **s) {
  (void)s;
  char cmd[3072];
  snprintf(cmd, sizeof cmd, "printf '{\"image\":\"%%s\"}' $(base64 -w0 %s/dog.jpg) > %s/q.json", media, tmp);
  assert_int_equal(system(cmd), 0);
  json_t *j = svc_post_file(port_light, "/quality", "q.json", 200);
  double b = json_number_value(json_object_get(j, "brisque"));
  assert_true(b > 3.5 && b < 5.5); /* OpenCV: 4.484 */
  assert_string_equal(json_string_value(json_object_get(j, "quality")), "good");
  assert_true(json_number_value(json_object_get(j, "inference_time_ms")) > 0);
  json_decref(j);
  int st;
  assert_int_equal(svc_curl(&j, &st, "-F file=@%s/chelsea.png http://127.0.0.1:%d/quality", media, port_light), 0);
  assert_int_equal(st, 200);
  assert_string_equal(json_string_value(json_object_get(j, "quality")), "good");
  json_decref(j);
  /* a uniform 64x64 grey PNG and a 1x1 one */
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 -c \"from PIL import Image; Image.new('RGB',(64,64),(90,90,90)).save('%s/flat.png');"
           "Image.new('RGB',(1,1),(9,9,9)).save('%s/one.png')\"",
           tmp, tmp);
  assert_int_equal(system(cmd), 0);
  assert_int_equal(svc_curl(&j, &st, "-F file=@%s/flat.png http://127.0.0.1:%d/quality", tmp, port_light), 0);
  assert_int_equal(st, 400);
  assert_non_null(strstr(json_string_value(json_object_get(j, "detail")), "no texture"));
  json_decref(j);
  assert_int_equal(svc_curl(&j, &st, "-F file=@%s/one.png http://127.0.0.1:%d/quality", tmp, port_light), 0);
  assert_int_equal(st, 400);
  assert_non_null(strstr(json_string_value(json_object_get(j, "detail")), "smaller"));
  json_decref(j);
  json_decref(svc_post_file(port, "/quality", "q.json", 404));
}

int main(void) {
  const struct CMUnitTest t[] = {
      cmocka_unit_test(test_quality),
      cmocka_unit_test(test_enrich_person), cmocka_unit_test(test_single_part_endpoints),
      cmocka_unit_test(test_missing_models), cmocka_unit_test(test_bad_input), cmocka_unit_test(test_models_endpoints),
  };
  return cmocka_run_group_tests(t, setup, teardown);
}
