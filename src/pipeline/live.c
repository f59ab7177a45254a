/* Live state of a camera for the dashboard: its latest frame with the confirmed
 * tracks drawn on it and the tracks as JSON, replaced in the store per camera. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/live.h"
#include "vigil/annotate.h"
#include "vigil/status.h"

char *live_tracks_json(const pipeline_track *tr, int n) {
  json_t *arr = json_array();
  for (int i = 0; arr && i < n; i++) {
    const pipeline_track *t = &tr[i];
    double dwell = t->last_seen - t->first_seen;
    json_t *label = json_string(t->cls);
    json_array_append_new(
        arr, json_pack("{s:I,s:o,s:f,s:{s:f,s:f,s:f,s:f},s:b,s:f,s:f,s:f,s:i}", "id", (json_int_t)t->track_id,
                       "label", label ? label : json_string(""), "score", (double)t->score, "bbox", "x1",
                       (double)t->bbox.x1, "y1", (double)t->bbox.y1, "x2", (double)t->bbox.x2, "y2",
                       (double)t->bbox.y2, "stationary", t->stationary, "dwell_s", isfinite(dwell) && dwell > 0 ? dwell : 0.0,
                       "first_seen", t->first_seen, "last_seen", t->last_seen, "frames", t->frames));
  }
  char *s = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
  json_decref(arr);
  return s;
}

char *live_stats_json(const pipeline_stats *st) {
  json_t *j = json_object();
#define I_(f) json_object_set_new(j, #f, json_integer(st->f))
#define F_(f) json_object_set_new(j, #f, json_real(isfinite(st->f) ? st->f : 0))
  I_(frames), I_(dropped), I_(frames_gated), I_(detected_frames), I_(detector_calls), I_(detections);
  I_(tracks_confirmed), I_(enriched), I_(batches), I_(events), I_(duplicates);
  F_(motion_ms), F_(detect_ms), F_(track_ms), F_(enrich_ms), F_(risk_ms), F_(store_ms);
#undef I_
#undef F_
  char *s = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  return s;
}

/* A copy of the frame at most max_w wide; *scale maps frame pixels into it. */
static int scaled_copy(vigil_image *out, const vigil_image *in, int max_w, float *scale) {
  *scale = 1;
  if (max_w > 0 && in->w > max_w) {
    int h = (int)lround((double)in->h * max_w / in->w);
    *scale = (float)max_w / (float)in->w;
    return vigil_img_resize(out, in, max_w, h > 0 ? h : 1, VIGIL_RESIZE_AREA);
  }
  if (vigil_image_init(out, in->w, in->h, 3)) return -1;
  for (int y = 0; y < in->h; y++)
    memcpy(out->data + (size_t)y * out->stride, in->data + (size_t)y * in->stride, (size_t)in->w * 3);
  return 0;
}

static int annotated_jpeg(uint8_t **jpg, size_t *len, const vigil_image *frame, const pipeline_track *tr, int n,
                          int max_w) {
  *jpg = NULL;
  *len = 0;
  if (!frame || !frame->data || frame->c != 3) return 0; /* no picture to show: tracks only */
  vigil_image im = {0};
  float k;
  if (scaled_copy(&im, frame, max_w, &k)) return -1;
  int scale = im.w >= 1000 ? 2 : 1;
  for (int i = 0; i < n; i++) {
    const pipeline_track *t = &tr[i];
    vigil_rgb c = annotate_class_color(t->cls);
    float x1 = t->bbox.x1 * k, y1 = t->bbox.y1 * k;
    annotate_rect(&im, x1, y1, t->bbox.x2 * k, t->bbox.y2 * k, 2, c);
    char label[80];
    snprintf(label, sizeof label, "#%u %s%s", (unsigned)t->track_id, t->cls, t->stationary ? " (still)" : "");
    int ty = (int)y1 - 9 * scale;
    annotate_text(&im, (int)x1, ty < 0 ? (int)y1 : ty, label, scale, (vigil_rgb){255, 255, 255}, c);
  }
  int rc = annotate_encode_jpeg(jpg, len, &im, 75);
  vigil_image_free(&im);
  return rc ? -1 : 0;
}

int live_publish(store *st, const char *camera_id, const vigil_image *frame, double ts, const pipeline_track *tr,
                 int n, const pipeline_stats *stats, int max_w, char *err, size_t errlen) {
  char *tracks = live_tracks_json(tr, n), *sj = stats ? live_stats_json(stats) : NULL;
  uint8_t *jpg = NULL;
  size_t len = 0;
  if (!tracks || (stats && !sj) || annotated_jpeg(&jpg, &len, frame, tr, n, max_w)) {
    free(tracks);
    free(sj);
    free(jpg);
    return vigil_err(err, errlen, -1, "live state of %s: out of memory or encoding failed", camera_id);
  }
  int rc = store_put_live(st, camera_id, ts, frame ? frame->w : 0, frame ? frame->h : 0, tracks, sj, jpg, len, err,
                          errlen);
  free(tracks);
  free(sj);
  free(jpg);
  return rc;
}
