/* Per-camera batching windows of CONTRACTS.md, zones and camera time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "vigil/pipeline.h"

static vigil_detection det(const char *cls, float conf, double ts) {
  vigil_detection d;
  memset(&d, 0, sizeof d);
  snprintf(d.cls, sizeof d.cls, "%s", cls);
  snprintf(d.camera_id, sizeof d.camera_id, "cam1");
  snprintf(d.id, sizeof d.id, "cam1-%.0f", ts * 1000);
  d.confidence = conf;
  d.ts = ts;
  return d;
}

static void test_window_closes_after_90s(void **s) {
  (void)s;
  batcher b;
  batcher_init(&b, batch_default_params(), "cam1");
  vigil_batch out;
  vigil_enrichment e = {0};
  for (int t = 0; t < 89; t += 10) {
    vigil_detection d = det("person", 0.6f, 1000 + t);
    assert_int_equal(batcher_add(&b, &d, &e, &out), 0);
    assert_int_equal(batcher_tick(&b, 1000 + t, false, &out), 0);
  }
  assert_int_equal(batcher_tick(&b, 1089.9, false, &out), 0);
  assert_int_equal(batcher_tick(&b, 1090, false, &out), 1);
  assert_int_equal(out.n, 9);
  assert_true(out.window_start == 1000);
  assert_false(out.fast_path);
  assert_string_equal(out.camera_id, "cam1");
  vigil_batch_free(&out);
  assert_int_equal(batcher_tick(&b, 2000, false, &out), 0); /* nothing open */
  batcher_free(&b);
}

static void test_idle_closes_after_30s(void **s) {
  (void)s;
  batcher b;
  batcher_init(&b, batch_default_params(), "cam1");
  vigil_batch out;
  vigil_enrichment e = {0};
  vigil_detection d = det("car", 0.7f, 500);
  batcher_add(&b, &d, &e, &out);
  d = det("car", 0.7f, 510);
  batcher_add(&b, &d, &e, &out);
  assert_int_equal(batcher_tick(&b, 539.9, false, &out), 0);
  assert_int_equal(batcher_tick(&b, 540, false, &out), 1);
  assert_int_equal(out.n, 2);
  assert_true(out.window_end == 510);
  vigil_batch_free(&out);
  batcher_free(&b);
}

static void test_max_100(void **s) {
  (void)s;
  batcher b;
  batcher_init(&b, batch_default_params(), "cam1");
  vigil_batch out;
  vigil_enrichment e = {0};
  int closed = 0;
  for (int i = 0; i < 100; i++) {
    vigil_detection d = det("person", 0.5f, 100 + i * 0.1);
    int rc = batcher_add(&b, &d, &e, &out);
    if (i < 99) assert_int_equal(rc, 0);
    else closed = rc;
  }
  assert_int_equal(closed, 1);
  assert_int_equal(out.n, 100);
  vigil_batch_free(&out);
  batcher_free(&b);
}

static void test_fast_path(void **s) {
  (void)s;
  batcher b;
  batcher_init(&b, batch_default_params(), "cam1");
  vigil_batch out;
  vigil_enrichment e = {0};
  vigil_detection d = det("person", 0.89f, 1);
  assert_int_equal(batcher_add(&b, &d, &e, &out), 0);
  d = det("dog", 0.95f, 2); /* fast path is for people only */
  assert_int_equal(batcher_add(&b, &d, &e, &out), 0);
  d = det("person", 0.90f, 3);
  assert_int_equal(batcher_add(&b, &d, &e, &out), 1);
  assert_true(out.fast_path);
  assert_int_equal(out.n, 3);
  vigil_batch_free(&out);
  batcher_free(&b);
}

static void test_configurable_and_force(void **s) {
  (void)s;
  batch_params p = batch_default_params();
  p.window_s = 5;
  p.idle_s = 2;
  p.max_detections = 3;
  batcher b;
  batcher_init(&b, p, "c");
  vigil_batch out;
  vigil_enrichment e = {0};
  vigil_detection d = det("person", 0.5f, 0);
  batcher_add(&b, &d, &e, &out);
  assert_int_equal(batcher_tick(&b, 1.9, false, &out), 0);
  assert_int_equal(batcher_tick(&b, 2.0, false, &out), 1);
  vigil_batch_free(&out);
  d = det("person", 0.5f, 10);
  batcher_add(&b, &d, &e, &out);
  assert_int_equal(batcher_tick(&b, 10.5, true, &out), 1);
  vigil_batch_free(&out);
  batcher_free(&b);
}

static void test_zone(void **s) {
  (void)s;
  camera_zone z = {.name = "driveway", .npoints = 4, .x = {0, 100, 100, 0}, .y = {0, 0, 50, 50}};
  assert_true(camera_zone_contains(&z, 50, 25));
  assert_false(camera_zone_contains(&z, 150, 25));
  assert_false(camera_zone_contains(&z, 50, 60));
}

static void test_local_time(void **s) {
  (void)s;
  camera c;
  memset(&c, 0, sizeof c);
  snprintf(c.timezone, sizeof c.timezone, "UTC");
  int h, m;
  camera_local_time(&c, 1732690000, &h, &m); /* 2024-11-27 06:46:40 UTC */
  assert_int_equal(h, 6);
  assert_int_equal(m, 46);
  snprintf(c.timezone, sizeof c.timezone, "Asia/Tokyo");
  camera_local_time(&c, 1732690000, &h, &m);
  assert_int_equal(h, 15);
}

/* One entry per tracked object, updated in place; the batch stays open while
 * it is seen; a tracked person takes the fast path once only. */
static void test_touch_and_fast_once(void **s) {
  (void)s;
  batcher b;
  batcher_init(&b, batch_default_params(), "cam1");
  vigil_batch out;
  vigil_enrichment e = {0};
  vigil_detection d = det("person", 0.6f, 100);
  d.track_id = 7;
  assert_int_equal(batcher_add(&b, &d, &e, &out), 0);
  long serial = b.serial;
  for (int t = 1; t < 60; t++) { /* seen for a minute: one entry, still open (idle counts from last sighting) */
    vigil_detection u = det("person", 0.6f, 100 + t);
    u.track_id = 7;
    u.last_seen = 100 + t;
    assert_int_equal(batcher_touch(&b, 0, &u, &e, &out), 0);
    assert_int_equal(batcher_tick(&b, 100 + t, false, &out), 0);
  }
  assert_int_equal(b.cur.n, 1);
  assert_string_equal(b.cur.dets[0].id, "cam1-100000"); /* the entry keeps its first id */
  assert_int_equal(batcher_touch(&b, 5, &d, &e, &out), -1);
  vigil_detection f = det("person", 0.95f, 161);
  f.track_id = 7;
  assert_int_equal(batcher_touch(&b, 0, &f, &e, &out), 1); /* the fast path */
  assert_true(out.fast_path);
  assert_int_equal(out.n, 1);
  vigil_batch_free(&out);
  assert_true(b.serial == serial + 1);
  f.ts = 162;
  assert_int_equal(batcher_add(&b, &f, &e, &out), 0); /* same track again: no second fast path */
  f.track_id = 8;
  assert_int_equal(batcher_add(&b, &f, &e, &out), 1); /* another person does */
  vigil_batch_free(&out);
  batcher_free(&b);
}

int main(void) {
  const struct CMUnitTest t[] = {
      cmocka_unit_test(test_window_closes_after_90s), cmocka_unit_test(test_idle_closes_after_30s),
      cmocka_unit_test(test_max_100),                 cmocka_unit_test(test_fast_path),
      cmocka_unit_test(test_configurable_and_force),  cmocka_unit_test(test_zone),
      cmocka_unit_test(test_local_time),              cmocka_unit_test(test_touch_and_fast_once),
  };
  return cmocka_run_group_tests(t, NULL, NULL);
}
