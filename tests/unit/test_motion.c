/* Motion detection on synthetic frames (still, a moving block, a mask, a
 * size change) and the planning of detector crops around motion regions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "vigil/motion.h"

static void fill(vigil_image *im, uint8_t v) {
  for (int y = 0; y < im->h; y++) memset(im->data + (size_t)y * im->stride, v, (size_t)im->w * 3);
}

static void block(vigil_image *im, int x0, int y0, int w, int h, uint8_t v) {
  for (int y = y0; y < y0 + h; y++) memset(im->data + (size_t)y * im->stride + (size_t)x0 * 3, v, (size_t)w * 3);
}

static bool contains(const track_region *r, float x1, float y1, float x2, float y2) {
  return r->x1 <= x1 && r->y1 <= y1 && r->x2 >= x2 && r->y2 >= y2;
}

static void test_still_and_moving(void **s) {
  (void)s;
  vigil_image im = {0};
  assert_int_equal(vigil_image_init(&im, 640, 480, 3), 0);
  motion_detector m;
  motion_init(&m, NULL);
  track_region r[8];
  fill(&im, 100);
  assert_int_equal(motion_detect(&m, &im, r, 8), 0); /* first frame: background only */
  assert_int_equal(motion_detect(&m, &im, r, 8), 0); /* nothing moved */
  int n = 0;
  for (int f = 0; f < 5; f++) {
    fill(&im, 100);
    block(&im, 200 + f * 12, 150, 40, 100, 220);
    n = motion_detect(&m, &im, r, 8);
  }
  assert_int_equal(n, 1);
  /* the block at its last position lies in the region, in frame pixels */
  assert_true(contains(&r[0], 248 + 4, 154, 288 - 4, 246));
  assert_true(r[0].x2 - r[0].x1 < 200 && r[0].y2 - r[0].y1 < 200);
  /* it stops: motion ends (no ghost where it stood) */
  for (int f = 0; f < 3; f++) n = motion_detect(&m, &im, r, 8);
  assert_int_equal(n, 0);
  /* a new frame size restarts the background */
  vigil_image small = {0};
  assert_int_equal(vigil_image_init(&small, 320, 240, 3), 0);
  fill(&small, 30);
  assert_int_equal(motion_detect(&m, &small, r, 8), 0);
  motion_free(&m);
  vigil_image_free(&small);
  vigil_image_free(&im);
}

static void test_mask_and_min_area(void **s) {
  (void)s;
  vigil_image im = {0};
  assert_int_equal(vigil_image_init(&im, 640, 480, 3), 0);
  motion_params p = motion_default_params();
  p.nmasks = 1; /* a tree on the left half */
  p.masks[0] = (motion_mask){4, {0, 320, 320, 0}, {0, 0, 480, 480}};
  motion_detector m;
  motion_init(&m, &p);
  track_region r[8];
  fill(&im, 90);
  motion_detect(&m, &im, r, 8);
  int n = 0;
  for (int f = 0; f < 4; f++) {
    fill(&im, 90);
    block(&im, 60 + f * 10, 100, 60, 120, 200);  /* in the mask */
    block(&im, 500 + (f % 2) * 3, 20, 2, 2, 200); /* a speck below the minimum area */
    n = motion_detect(&m, &im, r, 8);
  }
  assert_int_equal(n, 0);
  for (int f = 0; f < 3; f++) {
    fill(&im, 90);
    block(&im, 400 + f * 10, 300, 50, 100, 200); /* outside the mask */
    n = motion_detect(&m, &im, r, 8);
  }
  assert_int_equal(n, 1);
  assert_true(r[0].x1 >= 320);
  motion_free(&m);
  vigil_image_free(&im);
}

static void test_plan_crops(void **s) {
  (void)s;
  track_region out[4];
  /* two small far-apart movers in a 1920x1080 frame: two 512 crops at full resolution */
  track_region a[2] = {{100, 100, 130, 180}, {1500, 800, 1540, 900}};
  int n = motion_plan_crops(a, 2, 1920, 1080, 512, 4, out);
  assert_int_equal(n, 2);
  for (int i = 0; i < n; i++) {
    assert_true(out[i].x2 - out[i].x1 == 512 && out[i].y2 - out[i].y1 == 512);
    assert_true(out[i].x1 >= 0 && out[i].y1 >= 0 && out[i].x2 <= 1920 && out[i].y2 <= 1080);
  }
  assert_true(contains(&out[0], 100, 100, 130, 180) || contains(&out[1], 100, 100, 130, 180));
  assert_true(contains(&out[0], 1500, 800, 1540, 900) || contains(&out[1], 1500, 800, 1540, 900));
  /* two movers close together: one crop holds both */
  track_region b[2] = {{600, 400, 640, 500}, {800, 420, 840, 520}};
  n = motion_plan_crops(b, 2, 1920, 1080, 512, 4, out);
  assert_int_equal(n, 1);
  assert_true(contains(&out[0], 600, 400, 840, 520));
  /* a region larger than the input: a square crop around it, still inside the frame */
  track_region c[1] = {{0, 0, 900, 300}};
  n = motion_plan_crops(c, 1, 1920, 1080, 512, 4, out);
  assert_int_equal(n, 1);
  assert_true(contains(&out[0], 0, 0, 900, 300));
  assert_true(out[0].x1 >= 0 && out[0].y1 >= 0);
  /* more crops than allowed: the whole frame */
  n = motion_plan_crops(a, 2, 1920, 1080, 512, 1, out);
  assert_int_equal(n, 1);
  assert_true(out[0].x1 == 0 && out[0].y1 == 0 && out[0].x2 == 1920 && out[0].y2 == 1080);
  /* a frame barely larger than the input: crops would cover most of it */
  track_region d[2] = {{10, 10, 40, 80}, {700, 480, 740, 560}};
  n = motion_plan_crops(d, 2, 768, 576, 512, 4, out);
  assert_int_equal(n, 1);
  assert_true(out[0].x2 == 768 && out[0].y2 == 576);
  assert_int_equal(motion_plan_crops(d, 0, 768, 576, 512, 4, out), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_still_and_moving),
      cmocka_unit_test(test_mask_and_min_area),
      cmocka_unit_test(test_plan_crops),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
