/* Violence detection and SegFormer clothes through `vigil serve enrich` (black box) on
 * the generated stand-ins (tools/testmodels/gen_hub_models.py violence segformer):
 * /violence-detect, /enrich with include_violence, SegFormer's items in the clothing
 * part beside a missing FashionSigLIP, and a service without the exports answering
 * with the reason. */
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
static pid_t pids[2];

static pid_t start(int p, bool models) {
  pid_t c = fork();
  if (c == 0) {
    char v[600];
    snprintf(v, sizeof v, "%s/violence.onnx", models ? tmp : "/nonexistent");
    setenv("VIOLENCE_MODEL_PATH", v, 1);
    snprintf(v, sizeof v, "%s/segformer.onnx", models ? tmp : "/nonexistent");
    setenv("SEGFORMER_MODEL_PATH", v, 1);
    setenv("CLOTHING_MODEL_PATH", "/nonexistent/fashion-clip", 1);
    snprintf(v, sizeof v, "%s/gallery-%d.sqlite", tmp, p), setenv("VIGIL_REID_GALLERY", v, 1);
    svc_serve_exec("enrich", p, true);
  }
  return c;
}

static void body(const char *name, const char *extra) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "printf '{\"image\":\"%%s\",%s}' $(base64 -w0 %s/frame.png) > %s/%s", extra, tmp, tmp,
           name);
  assert_int_equal(system(cmd), 0);
}

static int setup(void **s) {
  (void)s;
  if (!getenv("VIGIL_BINARY")) return -1;
  snprintf(tmp, sizeof tmp, "/tmp/vigil-enrich-scene-XXXXXX");
  if (!mkdtemp(tmp)) return -1;
  const char *src = getenv("VIGIL_SOURCE_DIR");
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tools/testmodels/gen_hub_models.py %s violence segformer",
           src ? src : ".", tmp);
  if (system(cmd)) return -1;
  /* 640 x 400: the person (left half) red above y 240, blue below; the right half red */
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 -c \"from PIL import Image; im = Image.new('RGB', (640, 400), (255, 0, 0)); "
           "im.paste((0, 0, 255), (0, 240, 320, 400)); im.save('%s/frame.png')\"",
           tmp);
  if (system(cmd)) return -1;
  port = svc_free_port();
  pids[0] = start(port, true);
  port_bare = svc_free_port();
  pids[1] = start(port_bare, false);
  return svc_wait_up(port) && svc_wait_up(port_bare) ? 0 : -1;
}

static int teardown(void **s) {
  (void)s;
  for (int i = 0; i < 2; i++) {
    kill(pids[i], SIGTERM);
    waitpid(pids[i], NULL, 0);
  }
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  return system(cmd) ? -1 : 0;
}

static const char *str(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static void test_violence(void **s) {
  (void)s;
  body("v.json", "\"bbox\":{\"x1\":0,\"y1\":0,\"x2\":320,\"y2\":400}");
  json_t *j = svc_post_file(port, "/violence-detect", "v.json", 200);
  json_t *v = json_object_get(j, "violence");
  assert_true(json_is_object(v));
  /* the whole frame: 80% red, 20% blue -> logit gap 6 (0.8 - 0.2) * 2 = 7.2 */
  assert_true(json_is_true(json_object_get(v, "is_violent")));
  assert_true(json_number_value(json_object_get(v, "violence_score")) > 0.99);
  assert_string_equal(str(v, "label"), "violence");
  json_decref(j);
  /* /enrich asks for it only with include_violence (the pipeline: >= 2 people) */
  body("p.json", "\"detection_type\":\"person\",\"bbox\":{\"x1\":0,\"y1\":0,\"x2\":320,\"y2\":400}");
  j = svc_post_file(port, "/enrich", "p.json", 200);
  assert_true(json_is_null(json_object_get(j, "violence")));
  json_decref(j);
  body("pv.json", "\"detection_type\":\"person\",\"bbox\":{\"x1\":0,\"y1\":0,\"x2\":320,\"y2\":400},"
                  "\"options\":{\"include_violence\":true}");
  j = svc_post_file(port, "/enrich", "pv.json", 200);
  assert_true(json_is_true(json_object_get(json_object_get(j, "violence"), "is_violent")));
  json_decref(j);
}

static void test_segformer_items(void **s) {
  (void)s;
  body("p.json", "\"detection_type\":\"person\",\"bbox\":{\"x1\":0,\"y1\":0,\"x2\":320,\"y2\":400}");
  json_t *j = svc_post_file(port, "/enrich", "p.json", 200);
  json_t *c = json_object_get(j, "clothing");
  assert_true(json_is_object(c));
  json_t *segs = json_object_get(c, "segments");
  assert_int_equal(json_array_size(segs), 2);
  json_t *a = json_array_get(segs, 0), *b = json_array_get(segs, 1);
  assert_string_equal(str(a, "item"), "upper_clothes");
  assert_string_equal(str(a, "color"), "red");
  assert_float_equal(json_number_value(json_object_get(a, "area")), 0.6, 0.02);
  assert_string_equal(str(b, "item"), "pants");
  assert_string_equal(str(b, "color"), "blue");
  assert_float_equal(json_number_value(json_object_get(json_object_get(b, "bbox"), "y1")), 240, 4);
  /* the label map: 128 x 128 label ids as a grey PNG (upper clothes 4 above, pants 6 below) */
  json_t *m = json_object_get(c, "segment_mask");
  assert_int_equal(json_integer_value(json_object_get(m, "width")), 128);
  assert_string_equal(json_string_value(json_array_get(json_object_get(m, "labels"), 6)), "pants");
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s/mask.b64", tmp);
  FILE *f = fopen(cmd, "w");
  assert_non_null(f);
  fputs(json_string_value(json_object_get(m, "png_base64")), f);
  fclose(f);
  snprintf(cmd, sizeof cmd,
           "cd %s && base64 -d mask.b64 > mask.png && /usr/bin/python3 -c \"from PIL import Image; "
           "im = Image.open('mask.png'); assert im.size == (128, 128) and im.mode == 'L'; "
           "assert im.getpixel((64, 10)) == 4 and im.getpixel((64, 120)) == 6\"",
           tmp);
  assert_int_equal(system(cmd), 0);
  /* FashionSigLIP is not installed: no label, and the reason is given */
  assert_null(json_object_get(c, "clothing_type"));
  char *dump = json_dumps(j, 0);
  assert_non_null(strstr(dump, "fashion-clip"));
  free(dump);
  json_decref(j);
}

static void test_without_exports(void **s) {
  (void)s;
  body("v.json", "\"bbox\":{\"x1\":0,\"y1\":0,\"x2\":320,\"y2\":400}");
  json_t *j = svc_post_file(port_bare, "/violence-detect", "v.json", 503);
  char *dump = json_dumps(j, 0);
  if (!strstr(dump, "violence-detection") || !strstr(dump, "not installed")) fail_msg("no reason given: %s", dump);
  free(dump);
  json_decref(j);
  /* in /enrich the part is null with the reason */
  body("pv.json", "\"detection_type\":\"person\",\"bbox\":{\"x1\":0,\"y1\":0,\"x2\":320,\"y2\":400},"
                  "\"options\":{\"include_violence\":true}");
  j = svc_post_file(port_bare, "/enrich", "pv.json", 200);
  assert_true(json_is_null(json_object_get(j, "violence")));
  dump = json_dumps(j, 0);
  if (!strstr(dump, "VIOLENCE_MODEL_PATH")) fail_msg("no reason given: %s", dump);
  free(dump);
  json_decref(j);
  /* segformer not installed is no error of the clothing part (it is optional) */
  body("p.json", "\"detection_type\":\"person\",\"bbox\":{\"x1\":0,\"y1\":0,\"x2\":320,\"y2\":400}");
  j = svc_post_file(port_bare, "/enrich", "p.json", 200);
  dump = json_dumps(j, 0);
  assert_null(strstr(dump, "segformer"));
  free(dump);
  json_decref(j);
}

int main(void) {
  const struct CMUnitTest t[] = {cmocka_unit_test(test_violence), cmocka_unit_test(test_segformer_items),
                                 cmocka_unit_test(test_without_exports)};
  return cmocka_run_group_tests(t, setup, teardown);
}
