/* Licence plates rendered at test time (tools/testmedia/ocr_media.py: several
 * fonts, sizes, slight perspective, blur) onto real vehicle photos, read by
 * plate_find with the real PP-OCRv4 models: the normalised text must match
 * and the box must cover the rendered plate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
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

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_rendered_plates), cmocka_unit_test(test_no_plate)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
