/* The rolling CLIP scene baseline: the first samples average evenly, later ones decay
 * with the minimum weight, the mean stays unit length, and the count is kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

#include "vigil/clip.h"

static void test_average_then_decay(void **s) {
  (void)s;
  clip_baseline b;
  assert_int_equal(clip_baseline_init(&b, 2), 0);
  float x[2] = {1, 0}, y[2] = {0, 1};
  clip_baseline_update(&b, x, 0.1f);
  assert_true(fabsf(b.mean[0] - 1) < 1e-6 && fabsf(b.mean[1]) < 1e-6);
  clip_baseline_update(&b, y, 0.1f); /* weight 1/2: the even average, renormalised */
  assert_true(fabsf(b.mean[0] - sqrtf(0.5f)) < 1e-6 && fabsf(b.mean[1] - sqrtf(0.5f)) < 1e-6);
  assert_int_equal(b.count, 2);
  for (int i = 0; i < 50; i++) clip_baseline_update(&b, x, 0.1f);
  /* weights fell to 1/(n+1), then stayed at 0.1: the mean swings towards x, unit length */
  assert_true(b.mean[0] > 0.999f);
  assert_true(fabsf(b.mean[0] * b.mean[0] + b.mean[1] * b.mean[1] - 1) < 1e-5);
  /* one odd sample moves a long-run baseline by the minimum weight only */
  float before = b.mean[1];
  clip_baseline_update(&b, y, 0.1f);
  assert_true(b.mean[1] - before > 0.05f && b.mean[1] - before < 0.15f);
  assert_int_equal(b.count, 53);
  clip_baseline_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_average_then_decay)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
