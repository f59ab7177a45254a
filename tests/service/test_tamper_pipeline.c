/* Camera tampering through `vigil analyze`: a folder camera whose frames are 15 s of
 * the real surveillance video (vtest.avi, 2 frames/s) and then 8 s of a covered lens
 * gets exactly one camera_tampering event (high, scored by the documented table, not
 * by the LLM) with a before/after snapshot; TAMPER_DETECT=false turns it off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/assets.h"

static char tmp[] = "/tmp/vigil-tamper-XXXXXX";

static int setup(void **s) {
  (void)s;
  char media[1024], cmd[4096];
  if (vigil_asset_require(media, sizeof media, "media/vtest.avi")) {
    fprintf(stderr, "%s\n", vigil_asset_errmsg());
    return -1;
  }
  if (!mkdtemp(tmp)) return -1;
  snprintf(cmd, sizeof cmd,
           "mkdir -p %s/cams/porch && cd %s/cams/porch && /usr/bin/python3 -c \"\n"
           "import cv2, os, numpy as np\n"
           "cap = cv2.VideoCapture('%s'); frames = []; i = 0\n"
           "while len(frames) < 30:\n"
           "    ok, f = cap.read()\n"
           "    if not ok: break\n"
           "    if i %% 5 == 0: frames.append(f)\n"
           "    i += 1\n"
           "rng = np.random.RandomState(1)\n"
           "frames += [np.clip(22 + rng.normal(0, 1.5, frames[0].shape), 0, 255).astype(np.uint8) for _ in range(16)]\n"
           "for k, f in enumerate(frames):\n"
           "    p = 'f%%03d.jpg' %% k; cv2.imwrite(p, f); os.utime(p, (1764000000 + 0.5 * k,) * 2)\n"
           "\"",
           tmp, tmp, media);
  return system(cmd) ? -1 : 0;
}

static int teardown(void **s) {
  (void)s;
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  return system(cmd) ? -1 : 0;
}

/* runs analyze; returns the number of output lines containing `needle` */
static int run(const char *env, const char *tag, const char *needle) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd,
           "%s NEMOTRON_API=none %s analyze %s/cams --json --no-enrich --db sqlite://%s/%s.db --snapshots %s/snaps-%s "
           "> %s/%s.jsonl 2> %s/%s.err && grep -c '%s' %s/%s.jsonl > %s/n || true",
           env, getenv("VIGIL_BINARY"), tmp, tmp, tag, tmp, tag, tmp, tag, tmp, tag, needle, tmp, tag, tmp);
  assert_int_equal(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "%s/n", tmp);
  FILE *f = fopen(cmd, "r");
  int n = -1;
  assert_non_null(f);
  if (fscanf(f, "%d", &n) != 1) n = 0;
  fclose(f);
  return n;
}

static void test_covered_camera(void **s) {
  (void)s;
  assert_int_equal(run("", "on", "camera_tampering"), 1);
  char cmd[2048];
  snprintf(cmd, sizeof cmd,
           "grep camera_tampering %s/on.jsonl | grep -q '\"risk_level\":\"high\"' && "
           "grep camera_tampering %s/on.jsonl | grep -q '\"scorer\":\"tamper\"' && "
           "grep camera_tampering %s/on.jsonl | grep -q 'covered' && "
           "grep camera_tampering %s/on.jsonl | grep -q '\"has_snapshot\":true' && "
           "ls %s/snaps-on/porch/tamper-*.jpg",
           tmp, tmp, tmp, tmp, tmp);
  if (system(cmd)) fail_msg("the tampering event lacks its level, scorer, kind or snapshot");
  /* the ordinary events of the walkers are still there */
  assert_true(run("", "on2", "Rule-based score") >= 1);
}

static void test_off(void **s) {
  (void)s;
  assert_int_equal(run("TAMPER_DETECT=false", "off", "camera_tampering"), 0);
}

int main(void) {
  const struct CMUnitTest t[] = {cmocka_unit_test(test_covered_camera), cmocka_unit_test(test_off)};
  return cmocka_run_group_tests(t, setup, teardown);
}
