/* `vigil analyze` end to end with a camera registry whose zone is marked as
 * an entrance: the person in person.jpg (a 2 m estimate from its box and the
 * default calibration) fires person_approaching_entrance; the same zone
 * without the mark does not; the missing weather model is tried once per
 * camera, not once per detection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/assets.h"

static char tmp[256], media[1024];

static int setup(void **s) {
  (void)s;
  if (!getenv("VIGIL_BINARY")) return -1;
  if (vigil_asset_require(media, sizeof media, "media/person.jpg") ||
      vigil_asset_require(media, sizeof media, "models/human/centernet.json") ||
      vigil_asset_require(media, sizeof media, "media")) {
    fprintf(stderr, "%s\n", vigil_asset_errmsg());
    return -1;
  }
  snprintf(tmp, sizeof tmp, "/tmp/vigil-entrance-XXXXXX");
  return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **s) {
  (void)s;
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  return system(cmd) ? -1 : 0;
}

/* Runs analyze with a registry whose one zone covers the frame; returns the
 * exit status, output in tmp/NAME.out and .err. */
static int analyze(const char *name, bool entrance) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd,
           "printf '[{\"id\":\"door\",\"source\":\"%s/person.jpg\",\"zones\":[{\"name\":\"front door\",%s"
           "\"points\":[[0,0],[4000,0],[4000,4000],[0,4000]]}]}]' > %s/%s.json && "
           "NEMOTRON_API=none WEATHER_MODEL_PATH=/nonexistent/weather.onnx %s analyze %s/person.jpg --cameras %s/%s.json "
           "--json --quiet --db sqlite://%s/%s.db > %s/%s.out 2> %s/%s.err",
           media, entrance ? "\"entrance\":true," : "", tmp, name, getenv("VIGIL_BINARY"), media, tmp, name, tmp, name,
           tmp, name, tmp, name);
  return system(cmd);
}

static int grep_count(const char *file, const char *pattern) {
  char cmd[1024], path[400];
  snprintf(path, sizeof path, "%s/count", tmp);
  snprintf(cmd, sizeof cmd, "grep -c '%s' %s/%s > %s; true", pattern, tmp, file, path);
  if (system(cmd)) return -1;
  FILE *f = fopen(path, "r");
  int n = -1;
  if (f) {
    if (fscanf(f, "%d", &n) != 1) n = -1;
    fclose(f);
  }
  return n;
}

static void test_entrance(void **s) {
  (void)s;
  assert_int_equal(analyze("door", true), 0);
  assert_int_equal(grep_count("door.out", "person_approaching_entrance"), 1);
  assert_int_equal(grep_count("door.out", "zone_entered"), 1);
  /* two detections (person and dog) on one camera: the weather model is tried once */
  assert_int_equal(grep_count("door.err", "weather-classification"), 1);
  assert_int_equal(analyze("plain", false), 0);
  assert_int_equal(grep_count("plain.out", "person_approaching_entrance"), 0);
  assert_int_equal(grep_count("plain.out", "zone_entered"), 1);
}

int main(void) {
  const struct CMUnitTest t[] = {cmocka_unit_test(test_entrance)};
  return cmocka_run_group_tests(t, setup, teardown);
}
