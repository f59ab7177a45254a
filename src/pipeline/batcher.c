/* Per-camera batching, by CONTRACTS.md: a batch closes 90 s after its first
 * detection, 30 s after its last, or at 100 detections; a person detected at
 * confidence >= 0.90 takes the fast path and closes its batch at once (the
 * batch is then scored alone, flagged fast_path). All windows configurable.
 * The pipeline adds one entry per tracked object and updates it in place
 * (batcher_touch) while the object stays in view, so the 100 counts objects
 * and a batch stays open while something is still seen. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/classes.h"
#include "vigil/pipeline.h"

batch_params batch_default_params(void) {
  batch_params p = {.window_s = 90, .idle_s = 30, .max_detections = 100, .fast_path_conf = 0.90f};
  return p;
}

void batcher_init(batcher *b, batch_params p, const char *camera_id) {
  memset(b, 0, sizeof *b);
  b->p = p;
  vigil_batch_init(&b->cur, camera_id);
}

void batcher_free(batcher *b) {
  if (!b) return;
  vigil_batch_free(&b->cur);
}

/* Hands the open batch to *out and starts a new empty one. */
static void hand_over(batcher *b, vigil_batch *out) {
  *out = b->cur;
  b->serial++;
  vigil_batch_init(&b->cur, out->camera_id);
  snprintf(b->cur.camera_name, sizeof b->cur.camera_name, "%s", out->camera_name);
}

/* A tracked person takes the fast path once: later batches that hold the
 * same track close by their windows (else one person at 0.95 would close a
 * batch every frame). */
static bool takes_fast_path(batcher *b, const vigil_detection *d) {
  if (vigil_class_kind(d->cls) != VIGIL_KIND_PERSON || !(d->confidence >= b->p.fast_path_conf)) return false;
  if (!d->track_id) return true;
  for (int i = 0; i < BATCHER_FAST_IDS; i++)
    if (b->fast_ids[i] == d->track_id) return false;
  b->fast_ids[b->nfast++ % BATCHER_FAST_IDS] = d->track_id;
  return true;
}

int batcher_add(batcher *b, const vigil_detection *d, const vigil_enrichment *e, vigil_batch *out) {
  if (b->cur.n == 0) b->cur.window_start = d->ts;
  if (vigil_batch_add(&b->cur, d, e)) return -1;
  b->last_det = d->ts;
  if (d->ts > b->cur.window_end) b->cur.window_end = d->ts;
  bool fast = takes_fast_path(b, d);
  if (fast) b->cur.fast_path = true;
  if (fast || (int)b->cur.n >= b->p.max_detections) {
    hand_over(b, out);
    return 1;
  }
  return 0;
}

int batcher_tick(batcher *b, double now, bool force, vigil_batch *out) {
  if (b->cur.n == 0) return 0;
  bool due = force || now - b->cur.window_start >= b->p.window_s || now - b->last_det >= b->p.idle_s;
  if (!due) return 0;
  hand_over(b, out);
  return 1;
}

int batcher_touch(batcher *b, size_t idx, const vigil_detection *d, const vigil_enrichment *e, vigil_batch *out) {
  if (idx >= b->cur.n) return -1;
  char id[VIGIL_ID_LEN];
  snprintf(id, sizeof id, "%s", b->cur.dets[idx].id); /* the entry keeps its id: enrichment refers to it */
  b->cur.dets[idx] = *d;
  snprintf(b->cur.dets[idx].id, sizeof b->cur.dets[idx].id, "%s", id);
  if (e) {
    b->cur.enr[idx] = *e;
    snprintf(b->cur.enr[idx].detection_id, sizeof b->cur.enr[idx].detection_id, "%s", id);
  }
  double seen = d->last_seen > d->ts ? d->last_seen : d->ts;
  if (seen > b->last_det) b->last_det = seen;
  if (seen > b->cur.window_end) b->cur.window_end = seen;
  if (takes_fast_path(b, d)) {
    b->cur.fast_path = true;
    hand_over(b, out);
    return 1;
  }
  return 0;
}
