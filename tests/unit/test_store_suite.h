/* The event store test suite, run against SQLite (test_store.c) and a real
 * PostgreSQL 15 (tests/service/test_store_pg.c). The including file defines
 * suite_fresh_url(buf, len, name): a URL of an empty database for one test. */
#ifndef VIGIL_TEST_STORE_SUITE_H
#define VIGIL_TEST_STORE_SUITE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/events_search.h"
#include "unit/test_risk_fixtures.h"
#include "vigil/store.h"
#include "vigil/store_json.h"

static void suite_fresh_url(char *buf, size_t len, const char *name);

static store *suite_open(const char *name) {
  char url[1024], err[512] = "";
  suite_fresh_url(url, sizeof url, name);
  store *s = NULL;
  int rc = store_open(&s, url, err, sizeof err);
  if (rc) fail_msg("store_open(%s): %d %s", url, rc, err);
  return s;
}

/* Batch i of a camera: n detections at window 1700000000 + 100 i, enriched. */
static void suite_batch(vigil_batch *b, const char *cam, int i, int n) {
  vigil_batch_init(b, cam);
  b->window_start = 1700000000.0 + 100.0 * i;
  b->window_end = b->window_start + 90;
  b->local_hour = 12;
  for (int k = 0; k < n; k++) {
    char id[64];
    snprintf(id, sizeof id, "%.20s-%d-%d", cam, i, k);
    vigil_detection d = fx_det(cam, id, k % 2 ? "car" : "person", 0.5f + 0.01f * k, b->window_start + k);
    vigil_enrichment e = fx_none();
    if (k == 0) e = fx_threat("knife", 0.9f, "high");
    vigil_batch_add(b, &d, &e);
  }
}

static void suite_event(vigil_event *ev, const vigil_batch *b, int score) {
  vigil_event_init(ev);
  ev->risk_score = score;
  vigil_strlcpy(ev->risk_level, vigil_risk_level(score), sizeof ev->risk_level);
  ev->summary = strdup("summary with 'quotes' and ünïcode");
  ev->reasoning = strdup("reasoning");
  vigil_strlcpy(ev->scorer, "rules", sizeof ev->scorer);
  ev->created_at = b->window_end + 1;
}

static int64_t suite_insert(store *s, const char *cam, int i, int n, int score, bool *dup) {
  vigil_batch b;
  suite_batch(&b, cam, i, n);
  vigil_event ev;
  suite_event(&ev, &b, score);
  char err[512] = "";
  int rc = store_insert_batch(s, &b, &ev, dup, err, sizeof err);
  if (rc) fail_msg("store_insert_batch: %d %s", rc, err);
  int64_t id = ev.id;
  vigil_event_free(&ev);
  vigil_batch_free(&b);
  return id;
}

static int64_t suite_count(store *s, const char *t) {
  int64_t n = -1;
  assert_int_equal(store_count(s, t, &n, NULL, 0), 0);
  return n;
}

static void st_open_and_migrate(void **state) {
  char url[1024], err[512];
  suite_fresh_url(url, sizeof url, "migrate");
  store *s = NULL;
  assert_int_equal(store_open(&s, url, err, sizeof err), 0);
  int v = 0;
  assert_int_equal(store_schema_version(s, &v, NULL, 0), 0);
  assert_int_equal(v, store_latest_schema_version());
  assert_true(v >= 2);
  suite_insert(s, "cam", 0, 2, 10, NULL);
  store_close(s);
  /* reopening runs no migration twice and keeps the data */
  assert_int_equal(store_open(&s, url, err, sizeof err), 0);
  assert_int_equal(store_schema_version(s, &v, NULL, 0), 0);
  assert_int_equal(v, store_latest_schema_version());
  assert_int_equal(suite_count(s, "events"), 1);
  assert_int_equal(store_count(s, "events; DROP TABLE x", &(int64_t){0}, err, sizeof err), STORE_EINVAL);
  store_close(s);
  store_close(NULL);
  assert_int_equal(store_open(&s, "ftp://nope", err, sizeof err), STORE_EINVAL);
  assert_null(s);
  assert_int_equal(store_open(&s, "", err, sizeof err), STORE_EINVAL);
}

static void st_insert_and_get(void **state) {
  store *s = suite_open("insert");
  vigil_batch b;
  suite_batch(&b, "front", 1, 3);
  b.fast_path = true;
  vigil_strlcpy(b.snapshot_path, "/tmp/snap.jpg", sizeof b.snapshot_path);
  vigil_strlcpy(b.camera_name, "Front door", sizeof b.camera_name);
  vigil_event ev;
  suite_event(&ev, &b, 87);
  bool dup = true;
  char err[512] = "";
  assert_int_equal(store_insert_batch(s, &b, &ev, &dup, err, sizeof err), 0);
  assert_false(dup);
  assert_true(ev.id > 0);
  assert_int_equal(ev.n_detection_ids, 3);
  vigil_event got;
  assert_int_equal(store_get_event(s, ev.id, &got, err, sizeof err), 0);
  assert_int_equal(got.id, ev.id);
  assert_string_equal(got.camera_id, "front");
  assert_int_equal(got.risk_score, 87);
  assert_string_equal(got.risk_level, "critical");
  assert_string_equal(got.summary, "summary with 'quotes' and ünïcode");
  assert_string_equal(got.reasoning, "reasoning");
  assert_string_equal(got.scorer, "rules");
  assert_true(got.fast_path);
  assert_false(got.reviewed);
  assert_null(got.notes);
  assert_string_equal(got.snapshot_path, "/tmp/snap.jpg");
  assert_true(got.window_start == b.window_start);
  assert_true(got.window_end == b.window_end);
  assert_true(got.created_at > got.window_start);
  assert_int_equal(got.n_detection_ids, 3);
  assert_string_equal(got.detection_ids[0], "front-1-0");
  assert_string_equal(got.detection_ids[2], "front-1-2");
  /* JSON form */
  json_t *j = vigil_event_to_json(&got);
  assert_int_equal(json_integer_value(json_object_get(j, "risk_score")), 87);
  assert_string_equal(json_string_value(json_object_get(j, "window_start")), "2023-11-14T22:15:00.000Z");
  assert_int_equal(json_array_size(json_object_get(j, "detection_ids")), 3);
  assert_true(json_is_true(json_object_get(j, "has_snapshot")));
  assert_true(json_is_null(json_object_get(j, "notes")));
  json_decref(j);
  vigil_event_free(&got);
  /* enrichment JSON per detection */
  char *js = NULL;
  assert_int_equal(store_get_enrichment(s, "front-1-0", &js, NULL, 0), 0);
  assert_non_null(js);
  json_t *ej = json_loads(js, 0, NULL);
  assert_string_equal(json_string_value(json_object_get(json_object_get(ej, "threat"), "threat_type")), "knife");
  assert_true(json_is_null(json_object_get(ej, "pose")));
  json_decref(ej);
  free(js);
  assert_int_equal(suite_count(s, "cameras"), 1);
  assert_int_equal(suite_count(s, "detections"), 3);
  assert_int_equal(suite_count(s, "enrichment_results"), 3);
  assert_int_equal(suite_count(s, "event_detections"), 3);
  assert_int_equal(store_get_event(s, 999999, &got, err, sizeof err), STORE_ENOTFOUND);
  assert_non_null(strstr(err, "not found"));
  vigil_event_free(&ev);
  vigil_batch_free(&b);
  store_close(s);
}

static void st_idempotent(void **state) {
  store *s = suite_open("idem");
  bool dup = true;
  int64_t a = suite_insert(s, "cam", 1, 4, 40, &dup);
  assert_false(dup);
  int64_t b = suite_insert(s, "cam", 1, 4, 55, &dup); /* re-processed after a crash: scored again */
  assert_true(dup);
  assert_int_equal(a, b);
  {
    vigil_batch rb;
    suite_batch(&rb, "cam", 1, 4);
    vigil_event re;
    suite_event(&re, &rb, 77);
    assert_int_equal(store_insert_batch(s, &rb, &re, &dup, NULL, 0), 0);
    assert_true(dup);
    assert_int_equal(re.id, a);
    assert_int_equal(re.risk_score, 40); /* the caller gets the stored event back */
    assert_int_equal(re.n_detection_ids, 4);
    vigil_event_free(&re);
    vigil_batch_free(&rb);
  }
  assert_int_equal(suite_count(s, "events"), 1);
  assert_int_equal(suite_count(s, "detections"), 4);
  assert_int_equal(suite_count(s, "event_detections"), 4);
  vigil_event ev;
  assert_int_equal(store_get_event(s, a, &ev, NULL, 0), 0);
  assert_int_equal(ev.risk_score, 40); /* the first stored version stays */
  vigil_event_free(&ev);
  /* another window, or an explicit different key, is a new event */
  int64_t c = suite_insert(s, "cam", 2, 4, 40, &dup);
  assert_false(dup);
  assert_true(c != a);
  vigil_batch bb;
  suite_batch(&bb, "cam", 1, 4);
  vigil_strlcpy(bb.batch_key, "fast-1", sizeof bb.batch_key);
  suite_event(&ev, &bb, 90);
  assert_int_equal(store_insert_batch(s, &bb, &ev, &dup, NULL, 0), 0);
  assert_false(dup);
  assert_int_equal(suite_count(s, "events"), 3);
  assert_int_equal(suite_count(s, "detections"), 8); /* shared detections stored once */
  vigil_event_free(&ev);
  /* invalid input is refused before any write */
  suite_event(&ev, &bb, 150);
  assert_int_equal(store_insert_batch(s, &bb, &ev, &dup, NULL, 0), STORE_EINVAL);
  vigil_event_free(&ev);
  vigil_batch_free(&bb);
  store_close(s);
}

static void st_list_filters(void **state) {
  store *s = suite_open("list");
  int scores[] = {10, 40, 70, 90, 20, 65};
  for (int i = 0; i < 6; i++) suite_insert(s, i % 2 ? "back" : "front", i, 2, scores[i], NULL);
  vigil_event *evs;
  size_t n;
  store_filter f = store_default_filter();
  assert_int_equal(store_list_events(s, &f, &evs, &n, NULL, 0), 0);
  assert_int_equal(n, 6);
  assert_true(evs[0].window_start > evs[5].window_start); /* newest first */
  assert_int_equal(evs[0].n_detection_ids, 2);
  store_events_free(evs, n);
  f.camera_id = "back";
  assert_int_equal(store_list_events(s, &f, &evs, &n, NULL, 0), 0);
  assert_int_equal(n, 3);
  for (size_t i = 0; i < n; i++) assert_string_equal(evs[i].camera_id, "back");
  store_events_free(evs, n);
  f = store_default_filter();
  f.level = "high";
  assert_int_equal(store_list_events(s, &f, &evs, &n, NULL, 0), 0);
  assert_int_equal(n, 2);
  store_events_free(evs, n);
  f = store_default_filter();
  f.since = 1700000000.0 + 150; /* windows 2..5 overlap */
  f.until = 1700000000.0 + 350; /* windows 0..3 */
  assert_int_equal(store_list_events(s, &f, &evs, &n, NULL, 0), 0);
  assert_int_equal(n, 3);
  assert_int_equal(evs[0].risk_score, 90);
  assert_int_equal(evs[1].risk_score, 70);
  assert_int_equal(evs[2].risk_score, 40);
  store_events_free(evs, n);
  f = store_default_filter();
  f.limit = 2;
  f.offset = 1;
  assert_int_equal(store_list_events(s, &f, &evs, &n, NULL, 0), 0);
  assert_int_equal(n, 2);
  assert_int_equal(evs[0].risk_score, 20);
  assert_int_equal(evs[1].risk_score, 90);
  store_events_free(evs, n);
  f = store_default_filter();
  f.camera_id = "nowhere";
  assert_int_equal(store_list_events(s, &f, &evs, &n, NULL, 0), 0);
  assert_int_equal(n, 0);
  assert_null(evs);
  char err[256];
  f = store_default_filter();
  f.level = "severe";
  assert_int_equal(store_list_events(s, &f, &evs, &n, err, sizeof err), STORE_EINVAL);
  f = store_default_filter();
  f.limit = 5000;
  assert_int_equal(store_list_events(s, &f, &evs, &n, err, sizeof err), STORE_EINVAL);
  store_close(s);
}

static void st_patch(void **state) {
  store *s = suite_open("patch");
  int64_t id = suite_insert(s, "cam", 0, 1, 50, NULL);
  vigil_event ev;
  assert_int_equal(store_patch_event(s, id, 1, NULL, &ev, NULL, 0), 0);
  assert_true(ev.reviewed);
  assert_null(ev.notes);
  vigil_event_free(&ev);
  assert_int_equal(store_patch_event(s, id, -1, "the neighbour's cat; it's fine", &ev, NULL, 0), 0);
  assert_true(ev.reviewed);
  assert_string_equal(ev.notes, "the neighbour's cat; it's fine");
  vigil_event_free(&ev);
  assert_int_equal(store_patch_event(s, id, 0, "", NULL, NULL, 0), 0);
  assert_int_equal(store_get_event(s, id, &ev, NULL, 0), 0);
  assert_false(ev.reviewed);
  assert_string_equal(ev.notes, "");
  vigil_event_free(&ev);
  store_filter f = store_default_filter();
  f.reviewed = 1;
  vigil_event *evs;
  size_t n;
  assert_int_equal(store_list_events(s, &f, &evs, &n, NULL, 0), 0);
  assert_int_equal(n, 0);
  char err[256];
  assert_int_equal(store_patch_event(s, id + 100, 1, NULL, &ev, err, sizeof err), STORE_ENOTFOUND);
  assert_int_equal(store_patch_event(s, id, 7, NULL, NULL, err, sizeof err), STORE_EINVAL);
  store_close(s);
}

/* Crash consistency: a child inserts batches in a loop and is killed with
 * SIGKILL at a random moment, three times; every event present must be
 * complete, none duplicated, and finishing the work must give exactly one
 * event per batch. */
#define CRASH_BATCHES 300
#define CRASH_DETS 5
static void st_crash_consistency(void **state) {
  char url[1024], err[512];
  suite_fresh_url(url, sizeof url, "crash");
  store *s = NULL;
  assert_int_equal(store_open(&s, url, err, sizeof err), 0); /* migrate once, up front */
  store_close(s);
  srand((unsigned)time(NULL) ^ (unsigned)getpid());
  for (int round = 0; round < 3; round++) {
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      store *c = NULL;
      if (store_open(&c, url, NULL, 0)) _exit(2);
      for (int j = 0; j < CRASH_BATCHES; j++) {
        int i = (j + round * 97) % CRASH_BATCHES; /* each round starts elsewhere */
        vigil_batch b;
        suite_batch(&b, "crashcam", i, CRASH_DETS);
        vigil_event ev;
        suite_event(&ev, &b, i % 101);
        if (store_insert_batch(c, &b, &ev, NULL, NULL, 0)) _exit(3);
        vigil_event_free(&ev);
        vigil_batch_free(&b);
      }
      store_close(c);
      _exit(0);
    }
    struct timespec ts = {0, (long)(20 + rand() % 400) * 1000000L};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) != 0) fail_msg("writer failed with %d", WEXITSTATUS(st));

    assert_int_equal(store_open(&s, url, err, sizeof err), 0);
    int64_t ne = suite_count(s, "events");
    assert_int_equal(suite_count(s, "event_detections"), ne * CRASH_DETS);
    assert_true(suite_count(s, "detections") >= ne * CRASH_DETS);
    store_filter f = store_default_filter();
    f.limit = 1000;
    vigil_event *evs;
    size_t n;
    assert_int_equal(store_list_events(s, &f, &evs, &n, NULL, 0), 0);
    assert_int_equal((int64_t)n, ne);
    for (size_t i = 0; i < n; i++) {
      assert_int_equal(evs[i].n_detection_ids, CRASH_DETS);
      for (size_t k = 0; k < n; k++)
        if (k != i && evs[k].window_start == evs[i].window_start) fail_msg("duplicate event for one window");
    }
    store_events_free(evs, n);
    printf("# crash round %d: %lld events survived the kill\n", round, (long long)ne);
    store_close(s);
  }
  /* finish: re-process every batch; only the missing ones are added */
  assert_int_equal(store_open(&s, url, err, sizeof err), 0);
  int64_t before = suite_count(s, "events");
  int dups = 0;
  for (int i = 0; i < CRASH_BATCHES; i++) {
    bool dup = false;
    suite_insert(s, "crashcam", i, CRASH_DETS, i % 101, &dup);
    dups += dup;
  }
  assert_int_equal(dups, before);
  assert_int_equal(suite_count(s, "events"), CRASH_BATCHES);
  assert_int_equal(suite_count(s, "detections"), CRASH_BATCHES * CRASH_DETS);
  assert_int_equal(suite_count(s, "event_detections"), CRASH_BATCHES * CRASH_DETS);
  store_close(s);
}

/* The outbox: rows per configured sink in the event's transaction, due
 * order, retry scheduling, sent rows leave the queue, duplicates add none. */
static void st_outbox(void **state) {
  store *s = suite_open("outbox");
  char err[256];
  assert_int_equal(store_set_outbox(s, STORE_SINK_MQTT | STORE_SINK_WEBHOOK, "high"), 0);
  assert_int_equal(store_set_outbox(s, 8, NULL), STORE_EINVAL);
  assert_int_equal(store_set_outbox(s, STORE_SINK_MQTT, "urgent"), STORE_EINVAL);
  int64_t low = suite_insert(s, "ob", 0, 2, 10, NULL);  /* low: mqtt only */
  int64_t crit = suite_insert(s, "ob", 1, 2, 95, NULL); /* critical: both */
  bool dup = false;
  suite_insert(s, "ob", 1, 2, 95, &dup);
  assert_true(dup);
  assert_int_equal(suite_count(s, "outbox"), 3);
  store_outbox_item *it;
  size_t n;
  assert_int_equal(store_outbox_due(s, "mqtt", 1000, 0, 10, &it, &n, err, sizeof err), 0);
  assert_int_equal(n, 2);
  assert_int_equal(it[0].event_id, low);
  assert_int_equal(it[1].event_id, crit);
  assert_int_equal(it[0].attempts, 0);
  int64_t first = it[0].id;
  free(it);
  assert_int_equal(store_outbox_due(s, "webhook", 1000, 0, 10, &it, &n, err, sizeof err), 0);
  assert_int_equal(n, 1);
  assert_int_equal(it[0].event_id, crit);
  free(it);
  /* a failed attempt moves the row out of the due set until next_at */
  assert_int_equal(store_outbox_retry(s, first, 5e11, "broker down", err, sizeof err), 0);
  assert_int_equal(store_outbox_due(s, "mqtt", 4e11, 0, 10, &it, &n, err, sizeof err), 0);
  assert_int_equal(n, 1);
  assert_int_equal(it[0].event_id, crit);
  assert_int_equal(store_outbox_sent(s, it[0].id, err, sizeof err), 0);
  free(it);
  assert_int_equal(store_outbox_due(s, "mqtt", 1e12, 0, 10, &it, &n, err, sizeof err), 0);
  assert_int_equal(n, 1);
  assert_int_equal(it[0].id, first);
  assert_int_equal(it[0].attempts, 1);
  free(it);
  int64_t pending = -1;
  assert_int_equal(store_outbox_pending(s, "mqtt", &pending, err, sizeof err), 0);
  assert_int_equal(pending, 1);
  /* a claim: a second dispatcher does not get the row until the lease ends */
  assert_int_equal(store_outbox_due(s, "mqtt", 2e12, 50, 10, &it, &n, err, sizeof err), 0);
  assert_int_equal(n, 1);
  free(it);
  assert_int_equal(store_outbox_due(s, "mqtt", 2e12 + 20, 50, 10, &it, &n, err, sizeof err), 0);
  assert_int_equal(n, 0);
  assert_null(it);
  assert_int_equal(store_outbox_due(s, "mqtt", 2e12 + 51, 50, 10, &it, &n, err, sizeof err), 0);
  assert_int_equal(n, 1);
  assert_int_equal(it[0].id, first);
  free(it);
  assert_int_equal(store_outbox_due(s, "sms", 1e12, 0, 10, &it, &n, err, sizeof err), STORE_EINVAL);
  /* no sinks: no rows */
  assert_int_equal(store_set_outbox(s, 0, NULL), 0);
  suite_insert(s, "ob", 2, 1, 99, NULL);
  assert_int_equal(suite_count(s, "outbox"), 3);
  /* detections and cameras for the dashboard and MQTT */
  vigil_detection *d;
  assert_int_equal(store_event_detections(s, crit, &d, &n, err, sizeof err), 0);
  assert_int_equal(n, 2);
  assert_string_equal(d[0].cls, "person");
  assert_string_equal(d[1].cls, "car");
  assert_string_equal(d[0].camera_id, "ob");
  free(d);
  store_camera *cams;
  assert_int_equal(store_list_cameras(s, &cams, &n, err, sizeof err), 0);
  assert_int_equal(n, 1);
  assert_string_equal(cams[0].id, "ob");
  free(cams);
  store_close(s);
}

/* Plates are stored with the event; the plate filter finds exactly those
 * events; the enrichment JSON keeps the reading. */
static void st_plates(void **state) {
  (void)state;
  store *s = suite_open("plates");
  const char *plates[3] = {"KX21ABC", "AB123CD", NULL};
  int64_t ids[3];
  for (int i = 0; i < 3; i++) {
    vigil_batch b;
    suite_batch(&b, "drive", i, 1);
    if (plates[i]) {
      char id[64];
      snprintf(id, sizeof id, "drive-car-%d", i);
      vigil_detection d = fx_det("drive", id, "car", 0.8f, b.window_start + 5);
      vigil_enrichment e = fx_plate(plates[i], i == 1);
      vigil_batch_add(&b, &d, &e);
      vigil_batch_add(&b, &d, &e); /* the same plate twice in one batch: stored once */
      snprintf(id, sizeof id, "drive-car-%d-b", i);
      vigil_strlcpy(b.dets[b.n - 1].id, id, sizeof b.dets[0].id);
    }
    vigil_event ev;
    suite_event(&ev, &b, 40);
    char err[512] = "";
    if (store_insert_batch(s, &b, &ev, NULL, err, sizeof err)) fail_msg("insert: %s", err);
    ids[i] = ev.id;
    assert_int_equal(ev.n_plates, plates[i] ? 1 : 0);
    vigil_event_free(&ev);
    vigil_batch_free(&b);
  }
  assert_int_equal(suite_count(s, "event_plates"), 2);
  store_filter f = store_default_filter();
  f.plate = "KX21ABC";
  vigil_event *evs;
  size_t n;
  char err[512];
  assert_int_equal(store_list_events(s, &f, &evs, &n, err, sizeof err), 0);
  assert_int_equal(n, 1);
  assert_int_equal(evs[0].id, ids[0]);
  assert_int_equal(evs[0].n_plates, 1);
  assert_string_equal(evs[0].plates[0], "KX21ABC");
  store_events_free(evs, n);
  f.plate = "ZZ99ZZZ";
  assert_int_equal(store_list_events(s, &f, &evs, &n, err, sizeof err), 0);
  assert_int_equal(n, 0);
  store_events_free(evs, n);
  vigil_event ev;
  assert_int_equal(store_get_event(s, ids[1], &ev, err, sizeof err), 0);
  assert_int_equal(ev.n_plates, 1);
  assert_string_equal(ev.plates[0], "AB123CD");
  vigil_event_free(&ev);
  char *json = NULL;
  assert_int_equal(store_get_enrichment(s, "drive-car-1", &json, err, sizeof err), 0);
  assert_non_null(strstr(json, "\"license_plate\":{"));
  assert_non_null(strstr(json, "AB123CD"));
  free(json);
  store_close(s);
}

static void put4(store *s, int64_t ev, int n, const float (*v)[4], const char *const *labels) {
  store_embedding e[STORE_MAX_EMBEDDINGS];
  memset(e, 0, sizeof e);
  float copy[STORE_MAX_EMBEDDINGS][4];
  for (int i = 0; i < n; i++) {
    memcpy(copy[i], v[i], sizeof copy[i]);
    vigil_strlcpy(e[i].kind, labels && labels[i] ? "crop" : "snapshot", sizeof e[i].kind);
    if (labels && labels[i]) {
      vigil_strlcpy(e[i].label, labels[i], sizeof e[i].label);
      snprintf(e[i].detection_id, sizeof e[i].detection_id, "det-%lld-%d", (long long)ev, i);
    }
    e[i].dim = 4;
    e[i].vec = copy[i];
  }
  char err[256] = "";
  if (store_put_embeddings(s, ev, e, n, err, sizeof err)) fail_msg("store_put_embeddings: %s", err);
}

/* The scene row (caption, anomaly) with its event, and the embeddings semantic
 * search ranks: round trip, replacement, bad input, the ranking (best pair per
 * event, exclusion, limit), a store with none, and a scan over several pages. */
static void st_scene_and_embeddings(void **state) {
  (void)state;
  store *s = suite_open("scene");
  char err[512] = "";
  events_hit hits[100];
  int nh = -1;
  int64_t seen = -1;
  const float q0[4] = {1, 0, 0, 0}, q1[4] = {0, 1, 0, 0};
  assert_int_equal(events_search_rank(s, q0, 1, 4, 0, 10, hits, &nh, &seen, err, sizeof err), 0);
  assert_int_equal(nh, 0); /* an empty store: an empty list */
  assert_int_equal(seen, 0);
  int64_t id[3];
  for (int i = 0; i < 3; i++) {
    vigil_batch b;
    suite_batch(&b, "scene", i, 1);
    if (i == 0) {
      b.scene.has_caption = true;
      vigil_strlcpy(b.scene.caption, "a person in a red jacket at the door", sizeof b.scene.caption);
      b.scene.has_anomaly = true;
      b.scene.anomaly_score = 0.375f;
      b.scene.similarity = 0.625f;
      b.scene.baseline_warm = true;
      b.scene.baseline_samples = 41;
      b.scene.is_anomaly = true;
    } else if (i == 1) {
      b.scene.has_anomaly = true; /* a camera's first view: no baseline to compare with */
      b.scene.similarity = NAN;
      b.scene.baseline_samples = 1;
    }
    vigil_event ev;
    suite_event(&ev, &b, 30);
    if (store_insert_batch(s, &b, &ev, NULL, err, sizeof err)) fail_msg("insert: %s", err);
    id[i] = ev.id;
    if (i == 0) assert_string_equal(ev.scene.caption, "a person in a red jacket at the door");
    vigil_event_free(&ev);
    vigil_batch_free(&b);
  }
  assert_int_equal(suite_count(s, "event_scene"), 2);
  vigil_event ev;
  assert_int_equal(store_get_event(s, id[0], &ev, err, sizeof err), 0);
  assert_true(ev.scene.has_caption && ev.scene.has_anomaly && ev.scene.baseline_warm && ev.scene.is_anomaly);
  assert_string_equal(ev.scene.caption, "a person in a red jacket at the door");
  assert_float_equal(ev.scene.anomaly_score, 0.375, 1e-6);
  assert_float_equal(ev.scene.similarity, 0.625, 1e-6);
  assert_int_equal(ev.scene.baseline_samples, 41);
  json_t *j = vigil_event_to_json(&ev);
  json_t *sc = json_object_get(j, "scene");
  assert_string_equal(json_string_value(json_object_get(sc, "caption")), "a person in a red jacket at the door");
  assert_float_equal(json_number_value(json_object_get(sc, "anomaly_score")), 0.375, 1e-4);
  assert_true(json_is_true(json_object_get(sc, "is_anomaly")));
  json_decref(j);
  vigil_event_free(&ev);
  assert_int_equal(store_get_event(s, id[1], &ev, err, sizeof err), 0);
  assert_false(ev.scene.has_caption);
  assert_true(ev.scene.has_anomaly && !ev.scene.baseline_warm && isnan(ev.scene.similarity));
  j = vigil_event_to_json(&ev);
  assert_true(json_is_null(json_object_get(json_object_get(j, "scene"), "caption")));
  assert_true(json_is_null(json_object_get(json_object_get(j, "scene"), "similarity_to_baseline")));
  json_decref(j);
  vigil_event_free(&ev);
  assert_int_equal(store_get_event(s, id[2], &ev, err, sizeof err), 0);
  j = vigil_event_to_json(&ev);
  assert_true(json_is_null(json_object_get(j, "scene"))); /* no scene model ran */
  json_decref(j);
  vigil_event_free(&ev);

  /* event 0: a snapshot along q0 and a person crop leaning to q1; event 1 along q1 */
  const float e0[2][4] = {{1, 0, 0, 0}, {0.6f, 0.8f, 0, 0}}, e1[1][4] = {{0, 1, 0, 0}}, e2[1][4] = {{0, 0, 1, 0}};
  const char *const lab0[2] = {NULL, "person"};
  put4(s, id[0], 2, e0, lab0);
  put4(s, id[1], 1, e1, NULL);
  put4(s, id[2], 1, e2, NULL);
  put4(s, id[2], 1, e2, NULL); /* replaced, not added */
  assert_int_equal(suite_count(s, "event_embeddings"), 4);
  store_embedding *got;
  int ng;
  assert_int_equal(store_event_embeddings(s, id[0], &got, &ng, err, sizeof err), 0);
  assert_int_equal(ng, 2);
  assert_string_equal(got[0].kind, "snapshot");
  assert_string_equal(got[1].kind, "crop");
  assert_string_equal(got[1].label, "person");
  assert_int_equal(got[1].dim, 4);
  assert_memory_equal(got[1].vec, e0[1], sizeof e0[1]);
  store_embeddings_free(got, ng);

  assert_int_equal(events_search_rank(s, q0, 1, 4, 0, 10, hits, &nh, &seen, err, sizeof err), 0);
  assert_int_equal(nh, 3);
  assert_int_equal(seen, 3);
  assert_int_equal(hits[0].event_id, id[0]);
  assert_float_equal(hits[0].score, 1, 1e-6);
  assert_string_equal(hits[0].match.kind, "snapshot");
  assert_int_equal(hits[1].event_id, id[2]); /* both 0: the newer first */
  assert_int_equal(events_search_rank(s, q1, 1, 4, 0, 2, hits, &nh, NULL, err, sizeof err), 0);
  assert_int_equal(nh, 2); /* the limit */
  assert_int_equal(hits[0].event_id, id[1]);
  assert_int_equal(hits[1].event_id, id[0]); /* by its crop: 0.8 */
  assert_float_equal(hits[1].score, 0.8, 1e-6);
  assert_string_equal(hits[1].match.label, "person");
  assert_non_null(strstr(hits[1].match.detection_id, "det-"));
  assert_int_equal(events_search_rank(s, e0[0], 2, 4, id[0], 10, hits, &nh, &seen, err, sizeof err), 0);
  assert_int_equal(nh, 2); /* "similar to event 0": every pair, itself excluded */
  assert_int_equal(hits[0].event_id, id[1]);
  assert_float_equal(hits[0].score, 0.8, 1e-6);
  assert_int_equal(events_search_rank(s, q0, 1, 8, 0, 10, hits, &nh, NULL, err, sizeof err), 0);
  assert_int_equal(nh, 0); /* another model's width: nothing */

  /* bad input */
  float big[STORE_MAX_EMBEDDINGS + 1][4];
  memset(big, 0, sizeof big);
  store_embedding many[STORE_MAX_EMBEDDINGS + 1];
  memset(many, 0, sizeof many);
  for (int i = 0; i <= STORE_MAX_EMBEDDINGS; i++) many[i].dim = 4, many[i].vec = big[i];
  assert_int_equal(store_put_embeddings(s, id[0], many, STORE_MAX_EMBEDDINGS + 1, err, sizeof err), STORE_EINVAL);
  many[1].dim = 5;
  assert_int_equal(store_put_embeddings(s, id[0], many, 2, err, sizeof err), STORE_EINVAL);
  assert_int_equal(suite_count(s, "event_embeddings"), 4); /* untouched */

  /* more rows than one scan page: the best is found wherever it is */
  int64_t star = 0;
  for (int i = 0; i < 300; i++) {
    int64_t e = suite_insert(s, "many", 10 + i, 1, 10, NULL);
    const float v[2][4] = {{0, 0, 0.6f, 0.8f}, {0, 0, 0.8f, 0.6f}};
    const float best[2][4] = {{0, 0, 0, 1}, {0, 0, 0.8f, 0.6f}};
    put4(s, e, 2, i == 257 ? best : v, NULL);
    if (i == 257) star = e;
  }
  const float q3[4] = {0, 0, 0, 1};
  assert_int_equal(events_search_rank(s, q3, 1, 4, 0, 100, hits, &nh, &seen, err, sizeof err), 0);
  assert_int_equal(seen, 303);
  assert_int_equal(nh, 100);
  assert_int_equal(hits[0].event_id, star);
  assert_float_equal(hits[0].score, 1, 1e-6);
  for (int i = 1; i < nh; i++) assert_true(hits[i].score <= hits[i - 1].score);
  assert_float_equal(hits[1].score, 0.8, 1e-6);
  store_close(s);
}

/* The ids of the rules that fired are stored with the event, come back in
 * order, and the rule filter matches whole ids only (the '_' of an id is not a
 * LIKE wildcard: persons_2 must not find an event that only has persons_3plus). */
static void st_rules(void **state) {
  (void)state;
  store *s = suite_open("rules");
  const char *sets[3][3] = {{"base_person", "weapon_knife", "persons_2"}, {"base_vehicle", "persons_3plus", NULL},
                            {NULL, NULL, NULL}};
  int64_t ids[3];
  for (int i = 0; i < 3; i++) {
    vigil_batch b;
    suite_batch(&b, "rulecam", i, 1);
    vigil_event ev;
    suite_event(&ev, &b, 50);
    for (int k = 0; k < 3 && sets[i][k]; k++) vigil_strlcpy(ev.rules[ev.n_rules++], sets[i][k], VIGIL_RULE_LEN);
    char err[512] = "";
    if (store_insert_batch(s, &b, &ev, NULL, err, sizeof err)) fail_msg("insert: %s", err);
    ids[i] = ev.id;
    vigil_event_free(&ev);
    vigil_batch_free(&b);
  }
  char err[512];
  vigil_event ev;
  assert_int_equal(store_get_event(s, ids[0], &ev, err, sizeof err), 0);
  assert_int_equal(ev.n_rules, 3);
  assert_string_equal(ev.rules[0], "base_person");
  assert_string_equal(ev.rules[1], "weapon_knife");
  assert_string_equal(ev.rules[2], "persons_2");
  vigil_event_free(&ev);
  assert_int_equal(store_get_event(s, ids[2], &ev, err, sizeof err), 0);
  assert_int_equal(ev.n_rules, 0);
  vigil_event_free(&ev);
  const struct {
    const char *rule;
    int n;
    int64_t id;
  } q[] = {{"weapon_knife", 1, 0}, {"persons_2", 1, 0}, {"persons_3plus", 1, 1}, {"base_person", 1, 0},
           {"weapon_firearm", 0, -1}, {"person", 0, -1}};
  for (size_t k = 0; k < sizeof q / sizeof q[0]; k++) {
    store_filter f = store_default_filter();
    f.rule = q[k].rule;
    vigil_event *evs;
    size_t n;
    assert_int_equal(store_list_events(s, &f, &evs, &n, err, sizeof err), 0);
    if ((int)n != q[k].n) fail_msg("rule %s: %zu events, wanted %d", q[k].rule, n, q[k].n);
    if (n) assert_int_equal(evs[0].id, ids[q[k].id]);
    store_events_free(evs, n);
  }
  store_close(s);
}

/* Live state: one row per camera, replaced; seq grows with every publish of
 * any camera; the JPEG comes back byte for byte (NUL bytes included), only
 * when asked for; oversized input is refused. */
static void st_live(void **state) {
  (void)state;
  store *s = suite_open("live");
  char err[512] = "";
  int64_t seq = -1;
  assert_int_equal(store_live_max_seq(s, &seq, err, sizeof err), 0);
  assert_int_equal(seq, 0);
  store_live l;
  assert_int_equal(store_get_live(s, "front", true, &l, err, sizeof err), STORE_ENOTFOUND);
  uint8_t jpg[300];
  for (size_t i = 0; i < sizeof jpg; i++) jpg[i] = (uint8_t)(i * 7); /* holds 0 bytes */
  assert_int_equal(store_put_live(s, "front", 1700000000.5, 1280, 720, "[{\"id\":1}]", "{\"frames\":7}", jpg, sizeof jpg, err,
                                  sizeof err), 0);
  assert_int_equal(store_put_live(s, "back", 1700000001.0, 640, 480, "[]", NULL, NULL, 0, err, sizeof err), 0);
  assert_int_equal(store_put_live(s, "front", 1700000002.0, 1280, 720, "[{\"id\":1},{\"id\":2}]", "{\"frames\":9}", jpg, 100, err,
                                  sizeof err), 0);
  assert_int_equal(suite_count(s, "live_state"), 2);
  assert_int_equal(store_live_max_seq(s, &seq, err, sizeof err), 0);
  assert_int_equal(seq, 3);
  assert_int_equal(store_get_live(s, "front", true, &l, err, sizeof err), 0);
  assert_int_equal(l.seq, 3);
  assert_int_equal(l.width, 1280);
  assert_int_equal(l.height, 720);
  assert_true(l.frame_ts > 1700000001.9 && l.frame_ts < 1700000002.1);
  assert_true(l.updated_at > 1.7e9);
  assert_string_equal(l.tracks_json, "[{\"id\":1},{\"id\":2}]");
  assert_string_equal(l.stats_json, "{\"frames\":9}");
  assert_true(l.has_jpeg);
  assert_int_equal(l.jpeg_len, 100);
  assert_memory_equal(l.jpeg, jpg, 100);
  store_live_free(&l);
  assert_int_equal(store_get_live(s, "front", false, &l, err, sizeof err), 0);
  assert_null(l.jpeg);
  assert_true(l.has_jpeg);
  store_live_free(&l);
  assert_int_equal(store_get_live(s, "back", true, &l, err, sizeof err), 0);
  assert_false(l.has_jpeg);
  assert_null(l.jpeg);
  assert_int_equal(l.seq, 2);
  assert_string_equal(l.stats_json, "{}"); /* none given */
  store_live_free(&l);
  store_live *all;
  size_t n;
  assert_int_equal(store_live_after(s, 1, &all, &n, err, sizeof err), 0);
  assert_int_equal(n, 2); /* back (2), front (3): oldest first */
  assert_string_equal(all[0].camera_id, "back");
  assert_string_equal(all[1].camera_id, "front");
  assert_true(all[1].has_jpeg);
  assert_null(all[1].jpeg);
  store_lives_free(all, n);
  assert_int_equal(store_live_after(s, 3, &all, &n, err, sizeof err), 0);
  assert_int_equal(n, 0);
  store_lives_free(all, n);
  /* refused: no camera, a frame over the limit */
  assert_int_equal(store_put_live(s, "", 1, 1, 1, "[]", NULL, NULL, 0, err, sizeof err), STORE_EINVAL);
  assert_int_equal(store_put_live(s, "front", 1, 1, 1, "[]", NULL, jpg, STORE_LIVE_MAX_JPEG + 1, err, sizeof err),
                   STORE_EINVAL);
  assert_int_equal(suite_count(s, "live_state"), 2);
  store_close(s);
}

#define STORE_SUITE_TESTS                                                                         \
  cmocka_unit_test(st_open_and_migrate), cmocka_unit_test(st_insert_and_get),                     \
      cmocka_unit_test(st_idempotent), cmocka_unit_test(st_list_filters), cmocka_unit_test(st_patch), \
      cmocka_unit_test(st_crash_consistency), cmocka_unit_test(st_outbox), cmocka_unit_test(st_plates), \
      cmocka_unit_test(st_scene_and_embeddings), cmocka_unit_test(st_rules), cmocka_unit_test(st_live)

#endif
