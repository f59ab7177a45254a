/* Licence plates rendered at test time (tools/testmedia/ocr_media.py: several
 * fonts, sizes, slight perspective, blur) onto real vehicle photos, read by
 * plate_find with the real PP-OCRv4 models: the normalised text must match
 * and the box must cover the rendered plate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/assets.h"
#include "vigil/plate.h"

static ocr_engine *eng;
static plate_config pc;
static char dir[256];

static int setup(void **s) {
  (void)s;
  char err[512], media[1024], cmd[2048];
  const char *src = getenv("VIGIL_SOURCE_DIR");
  if (!src) src = "..";
  if (vigil_asset_require(media, sizeof media, "media")) {
    fprintf(stderr, "%s\n", vigil_asset_errmsg());
    return -1;
  }
  snprintf(dir, sizeof dir, "/tmp/vigil-plates-XXXXXX");
  if (!mkdtemp(dir)) return -1;
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tools/testmedia/ocr_media.py plates %s %s", src, media, dir);
  if (system(cmd)) {
    fprintf(stderr, "rendering the plates failed (python3-pil)\n");
    return -1;
  }
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tools/testmodels/gen_hub_models.py %s plate", src, dir);
  if (system(cmd)) {
    fprintf(stderr, "generating the plate detector stand-in failed (python3-onnx)\n");
    return -1;
  }
  if (ocr_load_config(&eng, NULL, NULL, err, sizeof err) ||
      plate_config_set(&pc, "^([A-Z0-9][ -]?){3,9}[A-Z0-9]$", NULL, 0, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  return 0;
}

static int teardown(void **s) {
  (void)s;
  ocr_free(eng);
  plate_config_free(&pc);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd) ? -1 : 0;
}

static int load(vigil_image *im, const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc((size_t)n);
  size_t got = fread(b, 1, (size_t)n, f);
  fclose(f);
  vigil_img_limits lim = vigil_img_default_limits();
  int rc = got == (size_t)n ? vigil_img_decode(im, b, got, &lim, NULL, 0) : -1;
  free(b);
  return rc;
}

static void test_rendered_plates(void **s) {
  (void)s;
  char path[512];
  snprintf(path, sizeof path, "%s/plates.json", dir);
  json_error_t je;
  json_t *rows = json_load_file(path, 0, &je);
  assert_non_null(rows);
  size_t i, ok = 0, n = json_array_size(rows);
  json_t *row;
  json_array_foreach(rows, i, row) {
    const char *file = json_string_value(json_object_get(row, "file"));
    const char *want = json_string_value(json_object_get(row, "text"));
    json_t *v = json_object_get(row, "vehicle"), *pl = json_object_get(row, "plate");
    snprintf(path, sizeof path, "%s/%s", dir, file);
    vigil_image im = {0};
    assert_int_equal(load(&im, path), 0);
    plate_read r;
    char err[512];
    assert_int_equal(plate_find(eng, &pc, &r, &im, (float)json_number_value(json_array_get(v, 0)),
                                (float)json_number_value(json_array_get(v, 1)),
                                (float)json_number_value(json_array_get(v, 2)),
                                (float)json_number_value(json_array_get(v, 3)), err, sizeof err),
                     0);
    float px1 = (float)json_number_value(json_array_get(pl, 0)), py1 = (float)json_number_value(json_array_get(pl, 1));
    float px2 = (float)json_number_value(json_array_get(pl, 2)), py2 = (float)json_number_value(json_array_get(pl, 3));
    /* the text box lies inside the rendered plate (a few pixels of slack) */
    bool inside = r.found && r.x1 >= px1 - 4 && r.y1 >= py1 - 4 && r.x2 <= px2 + 4 && r.y2 <= py2 + 4;
    bool hit = r.found && !strcmp(r.text, want) && inside;
    printf("%-18s want %-8s got %-8s (raw '%s', %.2f) box %.0f,%.0f-%.0f,%.0f in %.0f,%.0f-%.0f,%.0f %s\n", file,
           want, r.found ? r.text : "-", r.raw, r.confidence, r.x1, r.y1, r.x2, r.y2, px1, py1, px2, py2,
           hit ? "ok" : "MISS");
    ok += hit;
    vigil_image_free(&im);
  }
  printf("plates read: %zu of %zu\n", ok, n);
  /* every rendered plate is meant to be legible */
  assert_true(n >= 12);
  assert_true(ok * 10 >= n * 9);
  json_decref(rows);
}

/* The real photo without a plate rendered on it: nothing plate-like is made up. */
static void test_no_plate(void **s) {
  (void)s;
  char path[1024];
  assert_int_equal(vigil_asset_require(path, sizeof path, "media/dog.jpg"), 0);
  vigil_image im = {0};
  assert_int_equal(load(&im, path), 0);
  plate_read r;
  char err[512];
  assert_int_equal(plate_find(eng, &pc, &r, &im, 465, 75, 695, 170, err, sizeof err), 0);
  assert_false(r.found);
  vigil_image_free(&im);
}

/* The yolo11-license-plate path, with the generated stand-in (same input and
 * output as the real export) whose one box lands on the rendered plate: the
 * box comes from the detector, the text from OCR inside it. */
static void test_detector_box(void **s) {
  (void)s;
  char path[512], err[512];
  snprintf(path, sizeof path, "%s/yolo11-license-plate.onnx", dir);
  detector_params dp = detector_default_params();
  dp.path = path;
  dp.security_only = false;
  dp.conf = 0.05f;
  detector_t *det;
  assert_int_equal(detector_load(&det, dp, err, sizeof err), 0);
  snprintf(path, sizeof path, "%s/plate_0_0.png", dir);
  vigil_image im = {0};
  assert_int_equal(load(&im, path), 0);
  plate_read hint, r;
  memset(&hint, 0, sizeof hint);
  assert_int_equal(plate_box_detect(det, &hint, &im, 465, 75, 695, 170, err, sizeof err), 0);
  printf("detector box %.0f,%.0f-%.0f,%.0f (%.2f)\n", hint.x1, hint.y1, hint.x2, hint.y2, hint.confidence);
  assert_string_equal(hint.source, "yolo11-license-plate");
  assert_false(hint.found);
  /* the planted box, mapped back through the letterbox: the plate at 518,130-602,151 */
  assert_true(fabsf(hint.x1 - 518) < 6 && fabsf(hint.x2 - 602) < 6);
  assert_true(fabsf(hint.y1 - 130) < 6 && fabsf(hint.y2 - 151) < 6);
  assert_int_equal(plate_read_in_box(eng, &pc, &r, &im, &hint, err, sizeof err), 0);
  assert_true(r.found);
  assert_string_equal(r.text, "KX21ABC");
  assert_string_equal(r.source, "yolo11-license-plate");
  assert_float_equal(r.x1, hint.x1, 1e-3);
  assert_float_equal(r.y2, hint.y2, 1e-3);
  /* a box with nothing readable in it: no plate */
  hint.x1 = 470, hint.y1 = 80, hint.x2 = 520, hint.y2 = 95;
  assert_int_equal(plate_read_in_box(eng, &pc, &r, &im, &hint, err, sizeof err), 0);
  assert_false(r.found);
  vigil_image_free(&im);
  detector_free(det);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_rendered_plates), cmocka_unit_test(test_no_plate),
                                     cmocka_unit_test(test_detector_box)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
