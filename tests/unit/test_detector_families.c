/* The detector adapter on generated Ultralytics-shaped models
 * (tools/testmodels/gen_yolo_models.py): family recognition, YOLO
 * preprocessing (letterbox to 640 with grey 114, RGB / 255), YOLO26's
 * end-to-end rows and YOLOv8's [1,84,N] decoding with class-aware NMS, boxes
 * back in the original image's pixels, and a clear error for a model that
 * matches no family. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/detect.h"

static char dir[256];

static int setup(void **s) {
  (void)s;
  snprintf(dir, sizeof dir, "/tmp/vigil-yolo-XXXXXX");
  if (!mkdtemp(dir)) return -1;
  const char *src = getenv("VIGIL_SOURCE_DIR");
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tools/testmodels/gen_yolo_models.py %s", src ? src : ".", dir);
  if (system(cmd)) {
    fprintf(stderr, "generating the YOLO test models failed (needs python3-onnx: run `make deps`)\n");
    return -1;
  }
  return 0;
}

static int teardown(void **s) {
  (void)s;
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd) ? -1 : 0;
}

static detector_t *load(const char *name, float conf) {
  char path[512], err[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  detector_params p = detector_default_params();
  p.path = path;
  p.conf = conf;
  detector_t *d;
  if (detector_load(&d, p, err, sizeof err)) fail_msg("%s", err);
  return d;
}

static void uniform(vigil_image *im, int w, int h, uint8_t r, uint8_t g, uint8_t b) {
  assert_int_equal(vigil_image_init(im, w, h, 3), 0);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      uint8_t *p = im->data + (size_t)y * im->stride + (size_t)x * 3;
      p[0] = r, p[1] = g, p[2] = b;
    }
}

static const vigil_det *find(const vigil_det_list *l, const char *label) {
  for (int i = 0; i < l->n; i++)
    if (!strcmp(l->dets[i].label, label)) return &l->dets[i];
  return NULL;
}

static void test_yolo26_end_to_end(void **s) {
  (void)s;
  detector_t *d = load("yolo26.onnx", 0.3f);
  assert_int_equal(detector_family(d), DET_FAMILY_YOLO26);
  vigil_image im = {0};
  uniform(&im, 800, 400, 200, 100, 50); /* letterbox: scale 0.8, 640x320 at y 160 */
  const vigil_image *imgs[1] = {&im};
  vigil_det_list l;
  char err[256];
  assert_int_equal(detector_run(d, &l, imgs, 1, err, sizeof err), 0);
  assert_int_equal(l.n, 2); /* the dog at 0.2 is under the cut-off */
  const vigil_det *p = find(&l, "person"), *c = find(&l, "car");
  assert_non_null(p);
  assert_non_null(c);
  /* row 0's score is the mean input: half image (350/3 / 255), half padding (114 / 255) */
  double expect = 0.5 * (350.0 / 3 / 255) + 0.5 * (114.0 / 255);
  assert_float_equal(p->score, expect, 2e-3);
  assert_float_equal(p->x1, 125, 0.5);
  assert_float_equal(p->y1, 50, 0.5);
  assert_float_equal(p->x2, 375, 0.5);
  assert_float_equal(p->y2, 400, 0.5); /* 425 clipped to the image */
  assert_float_equal(c->x1, 437.5, 0.5);
  assert_float_equal(c->y1, 112.5, 0.5);
  assert_float_equal(c->x2, 750, 0.5);
  assert_float_equal(c->y2, 300, 0.5);
  assert_true(l.dets[0].score >= l.dets[1].score); /* sorted */
  vigil_det_list_free(&l);
  vigil_image_free(&im);
  detector_free(d);
}

/* A region of a larger frame: the same detections as on the region alone, in
 * frame pixels; a region outside the frame is an error. */
static void test_run_region(void **s) {
  (void)s;
  detector_t *d = load("yolo26.onnx", 0.3f);
  vigil_image im = {0};
  uniform(&im, 1000, 600, 200, 100, 50);
  vigil_det_list l;
  char err[256];
  assert_int_equal(detector_run_region(d, &l, &im, 100, 150, 800, 400, err, sizeof err), 0);
  assert_int_equal(l.n, 2);
  const vigil_det *p = find(&l, "person"), *c = find(&l, "car");
  assert_non_null(p);
  assert_non_null(c);
  assert_float_equal(p->x1, 100 + 125, 0.5); /* test_yolo26_end_to_end's boxes, moved by (100, 150) */
  assert_float_equal(p->y2, 150 + 400, 0.5);
  assert_float_equal(c->x1, 100 + 437.5, 0.5);
  assert_float_equal(c->y1, 150 + 112.5, 0.5);
  vigil_det_list_free(&l);
  assert_int_not_equal(detector_run_region(d, &l, &im, 2000, 0, 10, 10, err, sizeof err), 0);
  assert_int_equal(l.n, 0);
  assert_non_null(strstr(err, "region"));
  vigil_image_free(&im);
  detector_free(d);
}

/* One anchor of a [4 + nc, n] output: the best class at or over conf, NaN
 * and unnamed classes never win, the raw cx, cy, w, h. */
static void test_anchor_best(void **s) {
  (void)s;
  /* rows cx, cy, w, h, 3 class scores; 2 anchors. Anchor 0 scores .2 .7 .7: a tie goes to the later class */
  const float p[7 * 2] = {10, 20, 30, 40, 5, 6, 7, 8, 0.2f, 0.1f, 0.7f, NAN, 0.7f, 0.3f};
  float sc, b[4];
  assert_int_equal(yolo_anchor_best(p, 2, 0, 3, NULL, 0.25f, &sc, b), 2);
  assert_float_equal(sc, 0.7f, 1e-6);
  assert_float_equal(b[0], 10, 0);
  assert_float_equal(b[1], 30, 0);
  assert_float_equal(b[2], 5, 0);
  assert_float_equal(b[3], 7, 0);
  const char *names[3] = {"a", "b", NULL};
  assert_int_equal(yolo_anchor_best(p, 2, 0, 3, names, 0.25f, &sc, b), 1);
  assert_int_equal(yolo_anchor_best(p, 2, 1, 3, NULL, 0.25f, &sc, b), 2); /* NaN is skipped */
  assert_float_equal(sc, 0.3f, 1e-6);
  assert_int_equal(yolo_anchor_best(p, 2, 1, 3, NULL, 0.5f, &sc, b), -1);
}

static void test_yolov8_nms(void **s) {
  (void)s;
  detector_t *d = load("yolov8.onnx", -1); /* family default 0.5 */
  assert_int_equal(detector_family(d), DET_FAMILY_YOLO);
  assert_float_equal(detector_conf(d), 0.5, 1e-6);
  vigil_image im = {0};
  uniform(&im, 640, 640, 10, 20, 30);
  const vigil_image *imgs[1] = {&im};
  vigil_det_list l;
  char err[256];
  assert_int_equal(detector_run(d, &l, imgs, 1, err, sizeof err), 0);
  assert_int_equal(l.n, 2); /* one person after NMS, the car kept, the horse filtered */
  const vigil_det *p = find(&l, "person");
  assert_non_null(p);
  assert_float_equal(p->score, 0.9, 1e-6);
  assert_float_equal(p->x1, 270, 0.5);
  assert_float_equal(p->y1, 220, 0.5);
  assert_float_equal(p->x2, 370, 0.5);
  assert_float_equal(p->y2, 420, 0.5);
  assert_non_null(find(&l, "car"));
  assert_null(find(&l, "horse"));
  vigil_det_list_free(&l);
  /* two images in one call give the same boxes each */
  vigil_det_list two[2];
  const vigil_image *imgs2[2] = {&im, &im};
  assert_int_equal(detector_run(d, two, imgs2, 2, err, sizeof err), 0);
  assert_int_equal(two[0].n, 2);
  assert_int_equal(two[1].n, 2);
  vigil_det_list_free(&two[0]);
  vigil_det_list_free(&two[1]);
  vigil_image_free(&im);
  detector_free(d);
}

static void test_unknown_family(void **s) {
  (void)s;
  char path[512], err[512] = "";
  snprintf(path, sizeof path, "%s/bad.onnx", dir);
  detector_params p = detector_default_params();
  p.path = path;
  detector_t *d = NULL;
  assert_int_not_equal(detector_load(&d, p, err, sizeof err), 0);
  assert_null(d);
  assert_non_null(strstr(err, "no known detector family"));
  assert_non_null(strstr(err, "scores[1,7]"));
  /* a configured family that disagrees with the model is refused too */
  snprintf(path, sizeof path, "%s/yolo26.onnx", dir);
  p.family = DET_FAMILY_YOLO;
  assert_int_not_equal(detector_load(&d, p, err, sizeof err), 0);
  assert_non_null(strstr(err, "yolo26"));
}

int main(void) {
  const struct CMUnitTest t[] = {cmocka_unit_test(test_yolo26_end_to_end), cmocka_unit_test(test_run_region),
                                 cmocka_unit_test(test_anchor_best),
                                 cmocka_unit_test(test_yolov8_nms),
                                 cmocka_unit_test(test_unknown_family)};
  return cmocka_run_group_tests(t, setup, teardown);
}
