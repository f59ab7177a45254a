/* SORT-style tracker on synthetic tracks (association, Kalman prediction,
 * confirmation by median score, stationary marking, regions not looked at)
 * and NMS across the vehicle classes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "vigil/detect.h"
#include "vigil/track.h"

static vigil_det box(const char *label, float score, float cx, float cy, float w, float h) {
  vigil_det d = {.cls = coco_class_id(label), .label = coco_label(coco_class_id(label)), .score = score,
                 .x1 = cx - w / 2, .y1 = cy - h / 2, .x2 = cx + w / 2, .y2 = cy + h / 2};
  return d;
}

static const track_t *find(const tracker *tr, unsigned id) {
  for (int i = 0; i < tr->n; i++)
    if (tr->t[i].id == id) return &tr->t[i];
  return NULL;
}

/* Two people walking towards each other and crossing keep their ids. */
static void test_two_walkers_keep_ids(void **s) {
  (void)s;
  tracker tr;
  tracker_init(&tr, NULL);
  unsigned id_a = 0, id_b = 0;
  for (int f = 0; f < 30; f++) {
    double ts = 1000 + f * 0.1;
    vigil_det d[2] = {box("person", 0.7f, 100 + f * 8, 200, 30, 80), box("person", 0.6f, 400 - f * 8, 260, 30, 80)};
    int dt[2];
    assert_int_equal(tracker_update(&tr, d, 2, ts, NULL, 0, dt), 0);
    assert_true(dt[0] >= 0 && dt[1] >= 0 && dt[0] != dt[1]);
    if (f == 0) id_a = tr.t[dt[0]].id, id_b = tr.t[dt[1]].id;
    assert_int_equal(tr.t[dt[0]].id, id_a);
    assert_int_equal(tr.t[dt[1]].id, id_b);
  }
  assert_int_equal(tr.n, 2);
  const track_t *a = find(&tr, id_a);
  assert_true(a->confirmed);
  assert_false(a->stationary);
  /* the filter learnt the velocity: 8 px per 0.1 s = 80 px/s */
  assert_true(fabs(a->kx[4] - 80) < 10);
  tracker_free(&tr);
}

/* At 1 frame/s a small walker moves more than its own width: the prediction
 * and the distance fallback keep the track. */
static void test_low_rate_small_walker(void **s) {
  (void)s;
  tracker tr;
  tracker_init(&tr, NULL);
  unsigned id = 0;
  for (int f = 0; f < 8; f++) {
    vigil_det d = box("person", 0.6f, 50 + f * 25, 100, 15, 40);
    int dt;
    assert_int_equal(tracker_update(&tr, &d, 1, 2000 + f, NULL, 0, &dt), 0);
    if (f == 0) id = tr.t[dt].id;
    assert_int_equal(tr.t[dt].id, id);
  }
  assert_int_equal(tr.n, 1);
  tracker_free(&tr);
}

/* A static object at a low score is tracked but never confirmed; a real
 * person at a good score is confirmed after min_hits, and marked stationary
 * when it stops. */
static void test_confirmation_by_median(void **s) {
  (void)s;
  tracker tr;
  tracker_init(&tr, NULL);
  for (int f = 0; f < 50; f++) {
    double ts = f * 0.1;
    float rock = 0.31f + 0.07f * (float)(f % 3) / 2; /* 0.31 .. 0.38 */
    vigil_det d[2] = {box("person", rock, 176, 262, 31, 28), box("person", f % 5 ? 0.6f : 0.35f, 300 + (f < 20 ? f * 5 : 100), 300, 30, 80)};
    int dt[2];
    assert_int_equal(tracker_update(&tr, d, 2, ts, NULL, 0, dt), 0);
    if (f == 1) assert_false(tr.t[dt[1]].confirmed); /* two hits: not yet */
    if (f == 2) {
      assert_true(tr.t[dt[1]].confirmed);
      assert_true(tr.t[dt[1]].confirmed_now);
    }
    if (f == 3) assert_false(tr.t[dt[1]].confirmed_now);
    assert_false(tr.t[dt[0]].confirmed);
  }
  assert_int_equal(tr.n, 2);
  assert_int_equal(tracker_count_confirmed(&tr, "person", 0), 1);
  const track_t *p = tr.t[0].confirmed ? &tr.t[0] : &tr.t[1];
  assert_true(p->stationary); /* stopped at f=20, 3 s before the end */
  assert_true(fabsf(track_median_score(p) - 0.6f) < 1e-6f);
  assert_true(p->best_score > 0.59f);
  /* a per-class override can lower the bar */
  tracker_params tp = tracker_default_params();
  char err[128];
  assert_int_equal(tracker_parse_classes(&tp, "person:0.3:0.30, car:0.4:0.5", err, sizeof err), 0);
  assert_int_equal(tp.nclasses, 2);
  float first, med;
  tracker_class_thresholds(&tp, "car", &first, &med);
  assert_true(fabsf(first - 0.4f) < 1e-6f && fabsf(med - 0.5f) < 1e-6f);
  tracker_class_thresholds(&tp, "dog", &first, &med);
  assert_true(fabsf(med - tp.confirm_median) < 1e-6f);
  tracker_params def = tracker_default_params();
  tracker_class_thresholds(&def, "person", &first, &med);
  assert_true(med > def.confirm_median); /* calibrated stricter for people */
  assert_int_equal(tracker_parse_classes(&tp, "person:0.3", err, sizeof err), -1);
  assert_int_equal(tracker_parse_classes(&tp, "person:0.3:1.5", err, sizeof err), -1);
  assert_int_equal(tracker_parse_classes(&tp, "person:x:0.5", err, sizeof err), -1);
  tracker_free(&tr);
}

/* A track outside the regions the detector looked at is neither aged nor
 * dropped; one inside that goes unmatched dies after max_age_s. */
static void test_regions_and_ageing(void **s) {
  (void)s;
  tracker tr;
  tracker_init(&tr, NULL);
  vigil_det d[2] = {box("car", 0.8f, 100, 100, 80, 40), box("person", 0.8f, 500, 300, 30, 80)};
  for (int f = 0; f < 5; f++) assert_int_equal(tracker_update(&tr, d, 2, f * 0.5, NULL, 0, NULL), 0);
  assert_int_equal(tr.n, 2);
  track_region rg = {400, 200, 700, 500}; /* only around the person */
  for (int f = 5; f < 20; f++) assert_int_equal(tracker_update(&tr, &d[1], 1, f * 0.5, &rg, 1, NULL), 0);
  assert_int_equal(tr.n, 2); /* the car was not looked at: kept */
  track_region rg2 = {0, 0, 300, 300}; /* now only around the car, which is gone */
  for (int f = 20; f < 28; f++) assert_int_equal(tracker_update(&tr, NULL, 0, f * 0.5, &rg2, 1, NULL), 0);
  assert_int_equal(tr.n, 1);
  assert_string_equal(tr.t[0].label, "person");
  tracker_free(&tr);
}

/* One van scored as car and truck is one object; a person in front of a car
 * is two; two cars side by side are two. */
static void test_nms_vehicle_group(void **s) {
  (void)s;
  vigil_det d[5] = {box("truck", 0.38f, 683, 71, 82, 59), box("car", 0.25f, 683, 71, 82, 59),
                    box("person", 0.6f, 683, 71, 30, 59), box("car", 0.5f, 100, 100, 60, 40),
                    box("car", 0.45f, 170, 100, 60, 40)};
  int n = det_nms(d, 5, 0.45f);
  assert_int_equal(n, 4);
  int trucks = 0, cars = 0;
  for (int i = 0; i < n; i++) trucks += !strcmp(d[i].label, "truck"), cars += !strcmp(d[i].label, "car");
  assert_int_equal(trucks, 1);
  assert_int_equal(cars, 2);
  assert_true(d[0].score >= d[1].score && d[1].score >= d[2].score); /* sorted */
  /* end-to-end heads: same-class pairs untouched (iou > 1), vehicle classes suppressed */
  vigil_det e[3] = {box("car", 0.52f, 50, 50, 40, 40), box("truck", 0.41f, 51, 50, 40, 40),
                    box("person", 0.5f, 50, 50, 40, 40)};
  assert_int_equal(det_nms_ex(e, 3, 1.01f, 0.45f), 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_two_walkers_keep_ids), cmocka_unit_test(test_low_rate_small_walker),
      cmocka_unit_test(test_confirmation_by_median), cmocka_unit_test(test_regions_and_ageing),
      cmocka_unit_test(test_nms_vehicle_group),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
