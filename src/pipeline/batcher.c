/* Per-camera batching, by CONTRACTS.md: a batch closes 90 s after its first
 * detection, 30 s after its last, or at 100 detections; a person detected at
 * confidence >= 0.90 takes the fast path and closes its batch at once (the
 * batch is then scored alone, flagged fast_path). All windows configurable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
  vigil_batch_init(&b->cur, out->camera_id);
  snprintf(b->cur.camera_name, sizeof b->cur.camera_name, "%s", out->camera_name);
}

int batcher_add(batcher *b, const vigil_detection *d, const vigil_enrichment *e, vigil_batch *out) {
  if (b->cur.n == 0) b->cur.window_start = d->ts;
  if (vigil_batch_add(&b->cur, d, e)) return -1;
  b->last_det = d->ts;
  if (d->ts > b->cur.window_end) b->cur.window_end = d->ts;
  bool fast = !strcmp(d->cls, "person") && d->confidence >= b->p.fast_path_conf;
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
