/* Annotation: boxes land where asked, text draws inside its background, and
 * the JPEG round-trips through vigil's own decoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/annotate.h"

static void test_draw_and_encode(void **s) {
  (void)s;
  vigil_image im = {0};
  assert_int_equal(vigil_image_init(&im, 200, 100, 3), 0);
  vigil_rgb red = {255, 0, 0}, white = {255, 255, 255}, black = {0, 0, 0};
  annotate_rect(&im, 10, 10, 60, 50, 2, red);
  const uint8_t *p = im.data + 10 * im.stride + 30 * 3; /* top edge */
  assert_int_equal(p[0], 255);
  assert_int_equal(p[1], 0);
  p = im.data + 30 * im.stride + 30 * 3; /* inside stays black */
  assert_int_equal(p[0], 0);
  annotate_rect(&im, -50, -50, 500, 500, 3, red); /* off-image: clipped, no crash */
  annotate_text(&im, 80, 20, "Person 0.91", 2, white, black);
  int lit = 0;
  for (int y = 20; y < 38; y++)
    for (int x = 80; x < 80 + 12 * 12; x++) lit += im.data[(size_t)y * im.stride + (size_t)x * 3] == 255;
  assert_true(lit > 50);
  uint8_t *jpg;
  size_t len;
  assert_int_equal(annotate_encode_jpeg(&jpg, &len, &im, 90), 0);
  assert_true(len > 100);
  vigil_image back = {0};
  char err[128];
  vigil_img_limits lim = vigil_img_default_limits();
  assert_int_equal(vigil_img_decode(&back, jpg, len, &lim, err, sizeof err), 0);
  assert_int_equal(back.w, 200);
  assert_int_equal(back.h, 100);
  p = back.data + 11 * back.stride + 30 * 3;
  assert_true(p[0] > 180 && p[1] < 80);
  free(jpg);
  vigil_image_free(&im);
  vigil_image_free(&back);
}

int main(void) {
  const struct CMUnitTest t[] = {cmocka_unit_test(test_draw_and_encode)};
  return cmocka_run_group_tests(t, NULL, NULL);
}
