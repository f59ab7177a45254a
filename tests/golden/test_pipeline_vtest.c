/* The real-time pipeline on the first 11 s of vtest.avi at its native 10
 * frames/s with the real centernet detector: no confirmed track sits on the
 * rock or the sign post that centernet scores as "person" on every frame,
 * the confirmed person count at two hand-labelled frames is within one,
 * motion gating skips detector calls, and the batch counts objects (one
 * entry per track), not detections over frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "util/assets.h"
#include "vigil/pipeline.h"
#include "vigil/risk.h"
#include "vigil/store.h"
#include "vigil/video.h"

static float iou(vigil_bbox a, vigil_bbox b) {
  float ix = fminf(a.x2, b.x2) - fmaxf(a.x1, b.x1), iy = fminf(a.y2, b.y2) - fmaxf(a.y1, b.y1);
  if (ix <= 0 || iy <= 0) return 0;
  return ix * iy / ((a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - ix * iy);
}

typedef struct {
  size_t max_entries, max_persons;
  long events;
} seen_events;

static void on_event(void *ud, const vigil_event *ev, const vigil_batch *b, bool dup) {
  (void)ev, (void)dup;
  seen_events *s = ud;
  s->events++;
  size_t persons = 0;
  for (size_t i = 0; i < b->n; i++) {
    assert_true(b->dets[i].track_id > 0);
    for (size_t k = 0; k < i; k++) assert_true(b->dets[k].track_id != b->dets[i].track_id);
    persons += !strcmp(b->dets[i].cls, "person");
  }
  if (b->n > s->max_entries) s->max_entries = b->n;
  if (persons > s->max_persons) s->max_persons = persons;
}

static void test_vtest_tracks(void **st) {
  (void)st;
  char video[1024], err[512], mp[1024];
  if (vigil_asset_require(video, sizeof video, "media/vtest.avi")) fail_msg("%s", vigil_asset_errmsg());
  setenv("NEMOTRON_API", "none", 1);
  detector_params dp;
  detector_t *det = NULL;
  if (detector_params_from_config(&dp, mp, sizeof mp, NULL, err, sizeof err) || detector_load(&det, dp, err, sizeof err))
    fail_msg("%s", err);
  risk_params rp;
  risk_analyzer *risk = NULL;
  assert_int_equal(risk_params_from_config(&rp, NULL, err, sizeof err), 0);
  assert_int_equal(risk_analyzer_init(&risk, &rp, err, sizeof err), 0);
  char db[64] = "/tmp/vigil-golden-vtest-XXXXXX", url[96];
  int fd = mkstemp(db);
  assert_true(fd >= 0);
  close(fd);
  snprintf(url, sizeof url, "sqlite://%s", db);
  store *sto = NULL;
  assert_int_equal(store_open(&sto, url, err, sizeof err), 0);
  seen_events se = {0};
  pipeline_params pp = pipeline_default_params();
  pp.enrich = false;
  pp.on_event = on_event;
  pp.ud = &se;
  pp.live_interval_s = 1e-9; /* the live state of every frame, checked against the tracks below */
  pipeline *pl = NULL;
  assert_int_equal(pipeline_init(&pl, pp, det, NULL, risk, sto, err, sizeof err), 0);
  camera c = {0};
  snprintf(c.id, sizeof c.id, "vtest");
  snprintf(c.name, sizeof c.name, "vtest");
  int cam = pipeline_add_camera(pl, &c, err, sizeof err);
  assert_true(cam >= 0);
  video_params vp = video_default_params();
  vp.fps = 0; /* native */
  video_reader *v;
  assert_int_equal(video_open(&v, video, vp, err, sizeof err), 0);
  vigil_image img = {0};
  double pts;
  int frame = 0;
  const vigil_bbox rock = {161, 249, 192, 277}, post = {30, 109, 46, 139};
  pipeline_track *tr = calloc(PIPELINE_MAX_TRACKS, sizeof *tr);
  assert_non_null(tr);
  while (frame <= 110 && video_next(v, &img, &pts, err, sizeof err) == 1) {
    double ts = 1.7e9 + pts;
    if (pipeline_frame(pl, cam, &img, ts, err, sizeof err)) fail_msg("frame %d: %s", frame, err);
    int n = pipeline_camera_tracks(pl, cam, tr, PIPELINE_MAX_TRACKS);
    assert_true(n >= 0);
    int persons = 0;
    for (int i = 0; i < n; i++) {
      if (strcmp(tr[i].cls, "person")) continue;
      if (iou(tr[i].bbox, rock) > 0.3f || iou(tr[i].bbox, post) > 0.3f)
        fail_msg("frame %d: confirmed person track %u on a static object", frame, tr[i].track_id);
      persons += tr[i].last_seen >= ts - 0.5;
    }
    /* hand-labelled: 6 people at frame 50, 7 at frame 100 (docs/models.md) */
    if (frame == 50) assert_true(abs(persons - 6) <= 1);
    if (frame == 100) assert_true(abs(persons - 7) <= 1);
    if (frame == 50 || frame == 100) { /* the dashboard's live state is these tracks on this frame */
      store_live l;
      assert_int_equal(store_get_live(sto, "vtest", true, &l, err, sizeof err), 0);
      assert_true(fabs(l.frame_ts - ts) < 1e-3);
      assert_int_equal(l.width, img.w);
      assert_true(l.jpeg_len > 1000 && l.jpeg[0] == 0xff && l.jpeg[1] == 0xd8);
      json_t *arr = json_loads(l.tracks_json, 0, NULL);
      assert_int_equal((int)json_array_size(arr), n);
      for (int i = 0; i < n; i++) {
        json_t *t = json_array_get(arr, (size_t)i);
        assert_int_equal(json_integer_value(json_object_get(t, "id")), tr[i].track_id);
        assert_string_equal(json_string_value(json_object_get(t, "label")), tr[i].cls);
        assert_true(fabs(json_number_value(json_object_get(json_object_get(t, "bbox"), "x1")) - tr[i].bbox.x1) < 0.01);
        assert_true(fabs(json_number_value(json_object_get(t, "dwell_s")) - (tr[i].last_seen - tr[i].first_seen)) < 1e-3);
      }
      json_decref(arr);
      json_t *stj = json_loads(l.stats_json, 0, NULL); /* the camera's counters up to this frame */
      assert_int_equal(json_integer_value(json_object_get(stj, "frames")), frame + 1);
      assert_true(json_integer_value(json_object_get(stj, "detector_calls")) > 0);
      json_decref(stj);
      store_live_free(&l);
    }
    frame++;
  }
  assert_int_equal(frame, 111);
  assert_int_equal(pipeline_flush(pl, -1, err, sizeof err), 0);
  const pipeline_stats *ps = pipeline_get_stats(pl);
  assert_true(ps->frames == 111);
  assert_true(ps->frames_gated > 0); /* motion gating skipped some detector calls */
  assert_true(ps->detector_calls < ps->frames);
  assert_true(se.events >= 1);
  /* about 10 people pass in 11 s; over 111 frames that were ~700 detections */
  assert_true(se.max_persons >= 5 && se.max_persons <= 20);
  free(tr);
  vigil_image_free(&img);
  video_close(v);
  pipeline_free(pl);
  store_close(sto);
  risk_analyzer_free(risk);
  detector_free(det);
  unlink(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_vtest_tracks)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
