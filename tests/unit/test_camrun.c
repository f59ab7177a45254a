/* The per-camera bounded frame queue: drop-oldest for live cameras (counted),
 * refusal (the producer waits) for files, order and buffer reuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "vigil/camrun.h"

static vigil_image frame(uint8_t v) {
  vigil_image im = {0};
  vigil_image_init(&im, 8, 4, 3);
  for (int y = 0; y < im.h; y++) memset(im.data + (size_t)y * im.stride, v, (size_t)im.w * 3);
  return im;
}

static void test_live_drops_oldest(void **s) {
  (void)s;
  frame_queue q;
  assert_int_equal(frame_queue_init(&q, 3, true), 0);
  for (int i = 0; i < 5; i++) {
    vigil_image im = frame((uint8_t)(10 + i));
    assert_int_equal(frame_queue_push(&q, &im, 100 + i), i < 3 ? 0 : 1);
    vigil_image_free(&im);
  }
  assert_int_equal(q.dropped, 2);
  assert_int_equal(q.n, 3);
  vigil_image out = {0};
  double ts;
  for (int i = 2; i < 5; i++) { /* the newest three, oldest first */
    assert_int_equal(frame_queue_pop(&q, &out, &ts), 1);
    assert_true(ts == 100 + i);
    assert_int_equal(out.data[0], 10 + i);
    assert_int_equal(out.w, 8);
  }
  assert_int_equal(frame_queue_pop(&q, &out, &ts), 0);
  vigil_image_free(&out);
  frame_queue_free(&q);
}

static void test_file_waits(void **s) {
  (void)s;
  frame_queue q;
  assert_int_equal(frame_queue_init(&q, 2, false), 0);
  vigil_image a = frame(1), b = frame(2), c = frame(3), out = {0};
  assert_int_equal(frame_queue_push(&q, &a, 1), 0);
  assert_int_equal(frame_queue_push(&q, &b, 2), 0);
  assert_int_equal(frame_queue_push(&q, &c, 3), 2); /* full: nothing stored, nothing lost */
  assert_int_equal(q.dropped, 0);
  double ts;
  assert_int_equal(frame_queue_pop(&q, &out, &ts), 1);
  assert_true(ts == 1);
  assert_int_equal(frame_queue_push(&q, &c, 3), 0);
  assert_int_equal(frame_queue_pop(&q, &out, &ts), 1);
  assert_int_equal(out.data[0], 2);
  assert_int_equal(frame_queue_pop(&q, &out, &ts), 1);
  assert_int_equal(out.data[0], 3);
  vigil_image_free(&a), vigil_image_free(&b), vigil_image_free(&c), vigil_image_free(&out);
  frame_queue_free(&q);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_live_drops_oldest),
      cmocka_unit_test(test_file_waits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
