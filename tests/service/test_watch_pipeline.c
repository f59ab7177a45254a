/* Camera watch lists through `vigil analyze` ("a ladder against the house at night"):
 * with the generated YOLO-World stand-in (tools/testmodels/gen_yolo_world.py, a red
 * letterbox cell matches the class "red"), a camera watching "red" at 23:00 gets one
 * event scored by watched_object and watched_object_night on a tracked "red" object; a
 * camera with the same frames and no watch list gets nothing (the detector sees no
 * object there); without the export analyze says so and still runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmp[] = "/tmp/vigil-watch-XXXXXX";

static int setup(void **s) {
  (void)s;
  const char *src = getenv("VIGIL_SOURCE_DIR");
  if (!getenv("VIGIL_BINARY") || !src || !mkdtemp(tmp)) return -1;
  char cmd[4096];
  snprintf(cmd, sizeof cmd,
           "cd %s && /usr/bin/python3 '%s/tools/testmodels/gen_yolo_world.py' . > /dev/null && "
           "mkdir -p cams/back cams/front && /usr/bin/python3 -c \"\n"
           "from PIL import Image; import os\n"
           "for cam in ('back', 'front'):\n"
           "    for k in range(6):\n"
           "        im = Image.new('RGB', (1280, 640), (128, 128, 128)); im.paste((255, 0, 0), (640, 320, 704, 384))\n"
           "        p = 'cams/%%s/f%%03d.png' %% (cam, k); im.save(p); os.utime(p, (1764025200 + 0.5 * k,) * 2)\n"
           "\" && printf '[{\"id\":\"back\",\"source\":\"%%s/cams/back\",\"timezone\":\"UTC\",\"watch\":[\"crowbar\",\"red\"]},"
           "{\"id\":\"front\",\"source\":\"%%s/cams/front\",\"timezone\":\"UTC\"}]' $PWD $PWD > cams.json",
           tmp, src);
  return system(cmd) ? -1 : 0;
}

static int teardown(void **s) {
  (void)s;
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  return system(cmd) ? -1 : 0;
}

/* runs analyze; returns its JSON lines as an array */
static json_t *run(const char *yw, const char *tag) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd,
           "cd %s && YOLO_WORLD_MODEL_PATH=%s NEMOTRON_API=none %s analyze cams --cameras cams.json --json --no-enrich "
           "--db sqlite://%s/%s.db > %s.jsonl 2> %s.err",
           tmp, yw, getenv("VIGIL_BINARY"), tmp, tag, tag, tag);
  assert_int_equal(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "%s/%s.jsonl", tmp, tag);
  FILE *f = fopen(cmd, "r");
  assert_non_null(f);
  json_t *arr = json_array();
  char line[65536];
  while (fgets(line, sizeof line, f)) {
    json_t *j = json_loads(line, 0, NULL);
    if (j) json_array_append_new(arr, j);
  }
  fclose(f);
  return arr;
}

static void test_watched_at_night(void **s) {
  (void)s;
  char yw[300];
  snprintf(yw, sizeof yw, "%s/yolo-world", tmp);
  json_t *ev = run(yw, "world");
  assert_int_equal(json_array_size(ev), 1);
  json_t *e = json_array_get(ev, 0);
  assert_string_equal(json_string_value(json_object_get(e, "camera_id")), "back");
  assert_int_equal(json_integer_value(json_object_get(e, "risk_score")), 35);
  const char *why = json_string_value(json_object_get(e, "reasoning"));
  assert_non_null(strstr(why, "watched_object_night"));
  assert_non_null(strstr(why, "- watched_object:"));
  json_t *o = json_array_get(json_object_get(e, "objects"), 0);
  assert_string_equal(json_string_value(json_object_get(o, "class")), "red");
  json_t *b = json_object_get(o, "bbox");
  assert_float_equal(json_number_value(json_array_get(b, 0)), 640, 1.0);
  assert_float_equal(json_number_value(json_array_get(b, 3)), 384, 1.0);
  json_decref(ev);
}

static void test_without_the_export(void **s) {
  (void)s;
  json_t *ev = run("/nonexistent/yolo-world", "bare");
  assert_int_equal(json_array_size(ev), 0);
  json_decref(ev);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "grep -q 'YOLO-World export not installed' %s/bare.err", tmp);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest t[] = {cmocka_unit_test(test_watched_at_night), cmocka_unit_test(test_without_the_export)};
  return cmocka_run_group_tests(t, setup, teardown);
}
