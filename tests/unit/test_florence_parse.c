/* Florence-2's answers into results: <loc_N> bins into pixels ((N + 0.5) / 1000 of the
 * side), labels owning one or several boxes, OCR quadrilaterals, captions with location
 * tokens removed, malformed and hostile answers (incomplete groups, out-of-range bins,
 * thousands of boxes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/florence.h"

static void near(float a, float b) {
  if (fabsf(a - b) > 1e-3f) fail_msg("%g != %g", a, b);
}

static void test_tasks(void **s) {
  (void)s;
  assert_int_equal(florence_task_parse("<OD>"), FLORENCE_OD);
  assert_int_equal(florence_task_parse("<OCR_WITH_REGION>"), FLORENCE_OCR_WITH_REGION);
  assert_int_equal(florence_task_parse("<od>"), -1);
  assert_int_equal(florence_task_parse(NULL), -1);
  for (int t = 0; t < FLORENCE_NTASKS; t++) {
    assert_int_equal(florence_task_parse(florence_task_prompt(t)), t);
    assert_true(strlen(florence_task_question(t)) > 10);
  }
}

static void test_od(void **s) {
  (void)s;
  florence_result r;
  assert_int_equal(florence_parse(&r, FLORENCE_OD, "car<loc_100><loc_200><loc_300><loc_400>person<loc_0><loc_0><loc_999><loc_999><loc_10><loc_20><loc_30><loc_40>", 1000, 500), 0);
  assert_int_equal(r.n_boxes, 3);
  assert_string_equal(r.boxes[0].label, "car");
  near(r.boxes[0].x1, 100.5f), near(r.boxes[0].y1, 100.25f), near(r.boxes[0].x2, 300.5f), near(r.boxes[0].y2, 200.25f);
  assert_string_equal(r.boxes[1].label, "person");
  near(r.boxes[1].x2, 999.5f), near(r.boxes[1].y2, 499.75f);
  assert_string_equal(r.boxes[2].label, "person"); /* a label owns every group that follows it */
  near(r.boxes[2].x1, 10.5f);
  assert_string_equal(r.text, "carperson");
  florence_result_free(&r);
}

static void test_dense_and_proposals(void **s) {
  (void)s;
  florence_result r;
  assert_int_equal(florence_parse(&r, FLORENCE_DENSE_REGION_CAPTION, " a white van parked <loc_1><loc_2><loc_3><loc_4>a man in a red jacket<loc_5><loc_6><loc_7><loc_8>", 100, 100), 0);
  assert_int_equal(r.n_boxes, 2);
  assert_string_equal(r.boxes[0].label, "a white van parked");
  assert_string_equal(r.boxes[1].label, "a man in a red jacket");
  florence_result_free(&r);
  assert_int_equal(florence_parse(&r, FLORENCE_REGION_PROPOSAL, "<loc_1><loc_2><loc_3><loc_4><loc_5><loc_6><loc_7><loc_8>", 100, 100), 0);
  assert_int_equal(r.n_boxes, 2);
  assert_string_equal(r.boxes[1].label, "");
  florence_result_free(&r);
}

static void test_ocr_with_region(void **s) {
  (void)s;
  florence_result r;
  assert_int_equal(florence_parse(&r, FLORENCE_OCR_WITH_REGION, "NO PARKING<loc_10><loc_20><loc_90><loc_20><loc_90><loc_40><loc_10><loc_40>KX21 ABC<loc_1><loc_2><loc_3><loc_4><loc_5><loc_6><loc_7><loc_8>", 1000, 1000), 0);
  assert_int_equal(r.n_regions, 2);
  assert_string_equal(r.regions[0].text, "NO PARKING");
  near(r.regions[0].quad[2], 90.5f), near(r.regions[0].quad[5], 40.5f);
  assert_string_equal(r.regions[1].text, "KX21 ABC");
  assert_string_equal(r.text, "NO PARKINGKX21 ABC");
  florence_result_free(&r);
}

static void test_captions_and_ocr(void **s) {
  (void)s;
  florence_result r;
  assert_int_equal(florence_parse(&r, FLORENCE_CAPTION, "  A red car parked on a street.<loc_5> ", 10, 10), 0);
  assert_string_equal(r.text, "A red car parked on a street.");
  assert_int_equal(r.n_boxes, 0);
  assert_null(r.boxes);
  florence_result_free(&r);
  assert_int_equal(florence_parse(&r, FLORENCE_OCR, "", 10, 10), 0);
  assert_string_equal(r.text, "");
  florence_result_free(&r);
}

static void test_hostile_answers(void **s) {
  (void)s;
  florence_result r;
  /* an incomplete group, a bin out of range, a broken token: no box from them */
  assert_int_equal(florence_parse(&r, FLORENCE_OD, "car<loc_1><loc_2><loc_3>dog<loc_1000><loc_1><loc_2><loc_3>x<loc_>", 100, 100), 0);
  assert_int_equal(r.n_boxes, 0);
  florence_result_free(&r);
  /* thousands of boxes: capped */
  size_t n = 5000;
  char *big = malloc(n * 40 + 1), *p = big;
  for (size_t i = 0; i < n; i++) p += sprintf(p, "a<loc_1><loc_2><loc_3><loc_4>");
  assert_int_equal(florence_parse(&r, FLORENCE_OD, big, 100, 100), 0);
  assert_int_equal(r.n_boxes, FLORENCE_MAX_ITEMS);
  florence_result_free(&r);
  /* a label longer than the field is cut on a character boundary */
  memset(big, 0, 1);
  strcpy(big, "");
  for (int i = 0; i < 200; i++) strcat(big, "\xc3\xa9");
  strcat(big, "<loc_1><loc_2><loc_3><loc_4>");
  assert_int_equal(florence_parse(&r, FLORENCE_OD, big, 100, 100), 0);
  assert_int_equal(r.n_boxes, 1);
  assert_int_equal(strlen(r.boxes[0].label) % 2, 0);
  free(big);
  florence_result_free(&r);
  florence_result_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tasks),           cmocka_unit_test(test_od),
      cmocka_unit_test(test_dense_and_proposals), cmocka_unit_test(test_ocr_with_region),
      cmocka_unit_test(test_captions_and_ocr), cmocka_unit_test(test_hostile_answers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
