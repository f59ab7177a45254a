/* Violence detection through `vigil analyze` on the real surveillance video (vtest.avi,
 * several people walking): with the generated violence stand-in (gen_hub_models.py
 * violence: violence = sigmoid(6 (mean R - mean B)), which these frames tip towards
 * violent) the pipeline asks for it on multi-person frames, the event is raised by
 * violence_detected and the stored enrichment carries the result; without the export
 * the rule never fires and the run still succeeds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/assets.h"

static char tmp[] = "/tmp/vigil-violence-XXXXXX";

static int setup(void **s) {
  (void)s;
  char media[1024], cmd[4096];
  const char *src = getenv("VIGIL_SOURCE_DIR");
  if (!getenv("VIGIL_BINARY") || !src) return -1;
  if (vigil_asset_require(media, sizeof media, "media/vtest.avi")) {
    fprintf(stderr, "%s\n", vigil_asset_errmsg());
    return -1;
  }
  if (!mkdtemp(tmp)) return -1;
  snprintf(cmd, sizeof cmd,
           "cd %s && /usr/bin/python3 '%s/tools/testmodels/gen_hub_models.py' . violence > /dev/null && "
           "mkdir -p cams/yard && /usr/bin/python3 -c \"\n"
           "import cv2, os\n"
           "cap = cv2.VideoCapture('%s'); i = 0; k = 0\n"
           "while k < 12:\n"
           "    ok, f = cap.read()\n"
           "    if not ok: break\n"
           "    if i %% 5 == 0:\n"
           "        p = 'cams/yard/f%%03d.jpg' %% k; cv2.imwrite(p, f); os.utime(p, (1764000000 + 0.5 * k,) * 2); k += 1\n"
           "    i += 1\n"
           "\"",
           tmp, src, media);
  return system(cmd) ? -1 : 0;
}

static int teardown(void **s) {
  (void)s;
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  return system(cmd) ? -1 : 0;
}

/* runs analyze with VIOLENCE_MODEL_PATH=model; counts events naming violence_detected
 * and stored enrichments carrying a violence result */
static void run(const char *model, const char *tag, int *events, int *stored) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd,
           "cd %s && VIOLENCE_MODEL_PATH=%s NEMOTRON_API=none %s analyze cams --json --db sqlite://%s/%s.db "
           "> %s.jsonl 2> %s.err",
           tmp, model, getenv("VIGIL_BINARY"), tmp, tag, tag, tag);
  assert_int_equal(system(cmd), 0); /* the run succeeds with or without the model */
  snprintf(cmd, sizeof cmd,
           "cd %s && (grep -c 'violence_detected' %s.jsonl; "
           "sqlite3 %s.db \"select count(*) from enrichment_results where json like '%%\\\"violence\\\":{%%'\") > %s.n",
           tmp, tag, tag, tag);
  assert_int_equal(system(cmd), 0); /* the subshell ends with sqlite3; grep -c may count 0 */
  snprintf(cmd, sizeof cmd, "%s/%s.n", tmp, tag);
  FILE *f = fopen(cmd, "r");
  assert_non_null(f);
  assert_int_equal(fscanf(f, "%d %d", events, stored), 2);
  fclose(f);
}

static void test_multi_person_violence(void **s) {
  (void)s;
  char model[400];
  snprintf(model, sizeof model, "%s/violence.onnx", tmp);
  int events = 0, stored = 0;
  run(model, "with", &events, &stored);
  assert_int_equal(events, 1);
  assert_true(stored >= 1);
  run("/nonexistent/violence.onnx", "without", &events, &stored);
  assert_int_equal(events, 0);
  assert_int_equal(stored, 0);
}

int main(void) {
  const struct CMUnitTest t[] = {cmocka_unit_test(test_multi_person_violence)};
  return cmocka_run_group_tests(t, setup, teardown);
}
