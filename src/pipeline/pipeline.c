/* The pipeline proper: one frame at a time, detect -> enrich -> batch; a
 * closed batch is annotated, scored, stored and reported.
 *
 * Enrichment is the expensive stage, so it is sampled: every enrichable
 * detection (person, vehicle, animal) is matched to a short-lived track of
 * the same class on the same camera (IoU > 0.3 with its last box, seen in the
 * last 5 s). A track is enriched when it is new or its last enrichment is
 * older than enrich_interval_s; otherwise the detection carries the track's
 * last enrichment, so every detection of a batch still has its context.
 * At most max_enrich_per_frame calls run per frame, highest confidence first.
 *
 * Snapshots: for each open batch the pipeline keeps the frame with the most
 * detections (the latest on ties), with its boxes and skeletons, and writes
 * it annotated when the batch closes. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "util/log.h"
#include "vigil/annotate.h"
#include "vigil/enrich.h"
#include "vigil/pipeline.h"
#include "vigil/plate.h"
#include "vigil/risk.h"
#include "vigil/store.h"

#define TRACK_MAX 64
#define TRACK_TTL_S 5.0
#define SNAP_MAX 64

typedef struct {
  bool used;
  char cls[VIGIL_NAME_LEN];
  float x1, y1, x2, y2;
  double last_seen, enriched_at;
  vigil_enrichment enr;
  bool has_pose;
  pose_result pose;
  long id; /* pipeline-wide, for plate voting */
} track;

typedef struct {
  vigil_image frame;
  int n;
  vigil_det dets[SNAP_MAX];
  bool has_pose[SNAP_MAX];
  pose_result pose[SNAP_MAX];
} snapshot;

typedef struct {
  camera cam;
  batcher b;
  track tracks[TRACK_MAX];
  snapshot snap;
  long seq;
} cam_state;

struct pipeline {
  pipeline_params p;
  detector_t *det;
  enrich_engine *enrich;
  risk_analyzer *risk;
  store *st;
  cam_state *cams;
  int ncams;
  pipeline_stats stats;
  long next_track;
  plate_votes *votes;  /* licence plates voted per track */
  plate_config plates; /* KNOWN_PLATES after voting */
};

pipeline_params pipeline_default_params(void) {
  pipeline_params p;
  memset(&p, 0, sizeof p);
  p.batch = batch_default_params();
  p.enrich_interval_s = 10;
  p.max_enrich_per_frame = 4;
  p.enrich = true;
  return p;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int pipeline_init(pipeline **out, pipeline_params p, detector_t *det, enrich_engine *enrich, risk_analyzer *risk,
                  store *st, char *err, size_t errlen) {
  *out = NULL;
  if (!det || !risk || !st) {
    snprintf(err, errlen, "pipeline needs a detector, a risk analyzer and a store");
    return -1;
  }
  pipeline *pl = calloc(1, sizeof *pl);
  if (!pl) return -1;
  pl->p = p;
  pl->det = det;
  pl->enrich = p.enrich ? enrich : NULL;
  pl->risk = risk;
  pl->st = st;
  if (!(pl->votes = plate_votes_new()) || plate_config_init(&pl->plates, NULL, err, errlen)) {
    plate_votes_free(pl->votes);
    free(pl);
    return -1;
  }
  if (p.snapshot_dir[0] && mkdir(p.snapshot_dir, 0755) && errno != EEXIST) {
    snprintf(err, errlen, "cannot create snapshot folder %s: %s", p.snapshot_dir, strerror(errno));
    plate_votes_free(pl->votes);
    plate_config_free(&pl->plates);
    free(pl);
    return -1;
  }
  *out = pl;
  return 0;
}

void pipeline_free(pipeline *p) {
  if (!p) return;
  for (int i = 0; i < p->ncams; i++) {
    batcher_free(&p->cams[i].b);
    vigil_image_free(&p->cams[i].snap.frame);
  }
  free(p->cams);
  plate_votes_free(p->votes);
  plate_config_free(&p->plates);
  free(p);
}

const pipeline_stats *pipeline_get_stats(const pipeline *p) { return &p->stats; }

int pipeline_add_camera(pipeline *p, const camera *c, char *err, size_t errlen) {
  cam_state *n = realloc(p->cams, sizeof *n * (size_t)(p->ncams + 1));
  if (!n) return -1;
  p->cams = n;
  cam_state *cs = &p->cams[p->ncams];
  memset(cs, 0, sizeof *cs);
  cs->cam = *c;
  batcher_init(&cs->b, p->p.batch, c->id);
  snprintf(cs->b.cur.camera_name, sizeof cs->b.cur.camera_name, "%s", c->name);
  if (store_upsert_camera(p->st, c->id, c->name, c->source, err, errlen)) return -1;
  return p->ncams++;
}

static enrich_kind kind_of(const char *cls, bool *enrichable) {
  *enrichable = true;
  if (!strcmp(cls, "person")) return ENRICH_PERSON;
  if (!strcmp(cls, "car") || !strcmp(cls, "truck") || !strcmp(cls, "bus") || !strcmp(cls, "motorcycle") ||
      !strcmp(cls, "bicycle"))
    return ENRICH_VEHICLE;
  if (!strcmp(cls, "dog") || !strcmp(cls, "cat") || !strcmp(cls, "bird")) return ENRICH_ANIMAL;
  *enrichable = false;
  return ENRICH_OBJECT;
}

static track *match_track(cam_state *cs, const vigil_det *d, double ts) {
  track *best = NULL;
  float best_iou = 0.3f;
  vigil_det a = *d;
  for (int i = 0; i < TRACK_MAX; i++) {
    track *t = &cs->tracks[i];
    if (!t->used || strcmp(t->cls, d->label) || ts - t->last_seen > TRACK_TTL_S) continue;
    vigil_det b = {.x1 = t->x1, .y1 = t->y1, .x2 = t->x2, .y2 = t->y2};
    float iou = det_iou(&a, &b);
    if (iou > best_iou) best_iou = iou, best = t;
  }
  return best;
}

static track *new_track(pipeline *p, cam_state *cs, const vigil_det *d, double ts) {
  track *slot = &cs->tracks[0];
  for (int i = 0; i < TRACK_MAX; i++) {
    track *t = &cs->tracks[i];
    if (!t->used || ts - t->last_seen > TRACK_TTL_S) {
      slot = t;
      break;
    }
    if (t->last_seen < slot->last_seen) slot = t;
  }
  if (slot->used) plate_votes_forget(p->votes, slot->id);
  memset(slot, 0, sizeof *slot);
  slot->used = true;
  slot->id = ++p->next_track;
  snprintf(slot->cls, sizeof slot->cls, "%s", d->label);
  slot->enriched_at = -1e18;
  return slot;
}

/* Writes the annotated snapshot of the batch; returns the path or "". */
static void write_snapshot(pipeline *p, cam_state *cs, vigil_batch *b) {
  snapshot *s = &cs->snap;
  b->snapshot_path[0] = 0;
  if (!p->p.snapshot_dir[0] || !s->frame.data) return;
  vigil_image im = {0};
  if (vigil_image_init(&im, s->frame.w, s->frame.h, 3)) return;
  for (int y = 0; y < im.h; y++) memcpy(im.data + (size_t)y * im.stride, s->frame.data + (size_t)y * s->frame.stride, (size_t)im.w * 3);
  int scale = im.w >= 1000 ? 2 : 1;
  for (int i = 0; i < s->n; i++) {
    const vigil_det *d = &s->dets[i];
    vigil_rgb c = annotate_class_color(d->label);
    annotate_rect(&im, d->x1, d->y1, d->x2, d->y2, 2, c);
    if (s->has_pose[i]) annotate_pose(&im, &s->pose[i], POSE_MIN_KP_SCORE);
    char label[64];
    snprintf(label, sizeof label, "%s %.2f", d->label, d->score);
    int ty = (int)d->y1 - 9 * scale;
    annotate_text(&im, (int)d->x1, ty < 0 ? (int)d->y1 : ty, label, scale, (vigil_rgb){255, 255, 255}, c);
  }
  uint8_t *jpg;
  size_t len;
  if (annotate_encode_jpeg(&jpg, &len, &im, 85) == 0) {
    char dir[sizeof b->snapshot_path], path[sizeof b->snapshot_path];
    if (snprintf(dir, sizeof dir, "%.400s/%.63s", p->p.snapshot_dir, b->camera_id) >= (int)sizeof dir) return;
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%.470s/%.0f-%ld.jpg", dir, b->window_start * 1000, cs->seq++);
    FILE *f = fopen(path, "wb");
    if (f) {
      bool ok = fwrite(jpg, 1, len, f) == len;
      ok = fclose(f) == 0 && ok;
      if (ok) snprintf(b->snapshot_path, sizeof b->snapshot_path, "%s", path);
      else vlog_warn("pipeline: cannot write snapshot %s", path);
    }
    free(jpg);
  }
  vigil_image_free(&im);
}

/* Scores, stores and reports one closed batch; frees it. */
static int close_batch(pipeline *p, cam_state *cs, vigil_batch *b, char *err, size_t errlen) {
  int rc = 0;
  int hour, minute;
  camera_local_time(&cs->cam, b->window_end, &hour, &minute);
  b->local_hour = hour;
  b->local_minute = minute;
  write_snapshot(p, cs, b);
  vigil_image_free(&cs->snap.frame);
  cs->snap.n = 0;
  vigil_event ev;
  memset(&ev, 0, sizeof ev);
  double t0 = now_ms();
  rc = risk_analyze(p->risk, b, &ev, err, errlen);
  p->stats.risk_ms += now_ms() - t0;
  if (rc == 0) {
    bool dup = false;
    t0 = now_ms();
    rc = store_insert_batch(p->st, b, &ev, &dup, err, errlen);
    p->stats.store_ms += now_ms() - t0;
    if (rc == 0) {
      p->stats.batches++;
      p->stats.events += !dup;
      p->stats.duplicates += dup;
      if (p->p.on_event) p->p.on_event(p->p.ud, &ev, b, dup);
    }
  }
  vigil_event_free(&ev);
  vigil_batch_free(b);
  return rc;
}

static void keep_snapshot(cam_state *cs, const vigil_image *frame, const vigil_det_list *l, const bool *has_pose,
                          const pose_result *poses) {
  snapshot *s = &cs->snap;
  if (l->n == 0 || (s->frame.data && l->n < s->n)) return;
  if (!s->frame.data || s->frame.w != frame->w || s->frame.h != frame->h) {
    vigil_image_free(&s->frame);
    if (vigil_image_init(&s->frame, frame->w, frame->h, 3)) return;
  }
  for (int y = 0; y < frame->h; y++)
    memcpy(s->frame.data + (size_t)y * s->frame.stride, frame->data + (size_t)y * frame->stride, (size_t)frame->w * 3);
  s->n = l->n < SNAP_MAX ? l->n : SNAP_MAX;
  for (int i = 0; i < s->n; i++) {
    s->dets[i] = l->dets[i];
    s->has_pose[i] = has_pose[i];
    if (has_pose[i]) s->pose[i] = poses[i];
  }
}

int pipeline_frame(pipeline *p, int cam, const vigil_image *frame, double ts, char *err, size_t errlen) {
  if (cam < 0 || cam >= p->ncams) {
    snprintf(err, errlen, "no camera %d", cam);
    return -1;
  }
  cam_state *cs = &p->cams[cam];
  vigil_det_list l;
  const vigil_image *imgs[1] = {frame};
  double t0 = now_ms();
  if (detector_run(p->det, &l, imgs, 1, err, errlen)) return -1;
  p->stats.detect_ms += now_ms() - t0;
  p->stats.frames++;
  p->stats.detections += l.n;
  bool has_pose[SNAP_MAX] = {0};
  pose_result *poses = calloc(SNAP_MAX, sizeof *poses);
  vigil_enrichment *enr = calloc((size_t)l.n + 1, sizeof *enr);
  track **tr = calloc((size_t)l.n + 1, sizeof *tr);
  int rc = poses && enr && tr ? 0 : -1;
  /* tracks first, then enrichment for the most confident stale ones */
  for (int i = 0; !rc && i < l.n; i++) {
    bool enrichable;
    kind_of(l.dets[i].label, &enrichable);
    if (!enrichable) continue;
    tr[i] = match_track(cs, &l.dets[i], ts);
    if (!tr[i]) tr[i] = new_track(p, cs, &l.dets[i], ts);
    tr[i]->x1 = l.dets[i].x1, tr[i]->y1 = l.dets[i].y1, tr[i]->x2 = l.dets[i].x2, tr[i]->y2 = l.dets[i].y2;
    tr[i]->last_seen = ts;
  }
  int budget = p->p.max_enrich_per_frame;
  char id[VIGIL_ID_LEN];
  for (int i = 0; !rc && i < l.n; i++) { /* l is sorted by score: most confident first */
    const vigil_det *d = &l.dets[i];
    snprintf(id, sizeof id, "%.36s-%lld-%d", cs->cam.id, (long long)llround(ts * 1000), i);
    if (tr[i] && (p->enrich || (p->p.enrich && p->p.enrich_fn)) && budget > 0 &&
        ts - tr[i]->enriched_at >= p->p.enrich_interval_s) {
      bool e_ok;
      enrich_request rq = {.frame = frame, .x1 = d->x1, .y1 = d->y1, .x2 = d->x2, .y2 = d->y2,
                           .kind = kind_of(d->label, &e_ok), .detection_id = id, .camera_id = cs->cam.id,
                           .ts = ts, .opt = {.include_pose = true, .include_weather = true},
                           .det_class = d->label, .det_score = d->score, .timezone = cs->cam.timezone,
                           .depth_px_per_m = cs->cam.depth_px_per_m};
      for (int z = 0; z < cs->cam.nzones; z++) /* distance for the entrance rule (docs/risk.md) */
        rq.opt.include_depth |= cs->cam.zones[z].entrance && rq.kind == ENRICH_PERSON;
      enrich_result *r = malloc(sizeof *r);
      char eerr[256];
      t0 = now_ms();
      int erc = !r ? -1
                : p->p.enrich_fn ? p->p.enrich_fn(p->p.enrich_ud, r, &rq, eerr, sizeof eerr)
                                 : enrich_run(p->enrich, r, &rq, eerr, sizeof eerr);
      if (erc && r) vlog_warn("pipeline: enrichment of %s: %s", id, eerr);
      if (erc == 0) {
        enrich_result_summary(r, id, &tr[i]->enr);
        if (r->plate_ran) plate_vote_apply(p->votes, &p->plates, tr[i]->id, &tr[i]->enr.plate);
        tr[i]->has_pose = r->has_pose;
        if (r->has_pose) tr[i]->pose = r->pose;
        tr[i]->enriched_at = ts;
        p->stats.enriched++;
      }
      p->stats.enrich_ms += now_ms() - t0;
      free(r);
      budget--;
    }
    if (tr[i]) {
      enr[i] = tr[i]->enr;
      if (i < SNAP_MAX && tr[i]->has_pose && ts - tr[i]->enriched_at < 0.5) { /* the skeleton of this frame */
        has_pose[i] = true;
        poses[i] = tr[i]->pose;
      }
    }
    snprintf(enr[i].detection_id, sizeof enr[i].detection_id, "%s", id);
  }
  if (!rc) keep_snapshot(cs, frame, &l, has_pose, poses);
  for (int i = 0; !rc && i < l.n; i++) {
    const vigil_det *d = &l.dets[i];
    vigil_detection vd;
    memset(&vd, 0, sizeof vd);
    snprintf(vd.id, sizeof vd.id, "%s", enr[i].detection_id);
    snprintf(vd.camera_id, sizeof vd.camera_id, "%s", cs->cam.id);
    snprintf(vd.cls, sizeof vd.cls, "%s", d->label);
    vd.confidence = d->score;
    vd.bbox = (vigil_bbox){d->x1, d->y1, d->x2, d->y2};
    vd.ts = ts;
    for (int z = 0; z < cs->cam.nzones; z++) /* a zone holds a detection when it holds its foot point */
      if (camera_zone_contains(&cs->cam.zones[z], (d->x1 + d->x2) / 2, d->y2)) {
        vigil_batch_add_zone(&cs->b.cur, cs->cam.zones[z].name);
        if (cs->cam.zones[z].entrance) vigil_batch_mark_entrance(&cs->b.cur, cs->cam.zones[z].name);
      }
    vigil_batch closed;
    int c = batcher_add(&cs->b, &vd, &enr[i], &closed);
    if (c < 0) rc = -1;
    else if (c == 1) rc = close_batch(p, cs, &closed, err, errlen);
  }
  free(poses);
  free(enr);
  free(tr);
  vigil_det_list_free(&l);
  if (rc) return rc;
  vigil_batch closed;
  if (batcher_tick(&cs->b, ts, false, &closed) == 1) return close_batch(p, cs, &closed, err, errlen);
  return 0;
}

int pipeline_flush(pipeline *p, int cam, char *err, size_t errlen) {
  for (int i = 0; i < p->ncams; i++) {
    if (cam >= 0 && i != cam) continue;
    vigil_batch closed;
    if (batcher_tick(&p->cams[i].b, 0, true, &closed) == 1 && close_batch(p, &p->cams[i], &closed, err, errlen))
      return -1;
  }
  return 0;
}

int pipeline_tick(pipeline *p, double now, char *err, size_t errlen) {
  for (int i = 0; i < p->ncams; i++) {
    vigil_batch closed;
    if (batcher_tick(&p->cams[i].b, now, false, &closed) == 1 && close_batch(p, &p->cams[i], &closed, err, errlen))
      return -1;
  }
  return 0;
}
