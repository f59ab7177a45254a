/* The pipeline proper: one frame of one camera at a time, motion -> detect
 * (on crops around the motion) -> track -> enrich -> batch; a closed batch is
 * annotated, scored, stored and reported.
 *
 * Motion gating: a frame without motion is not detected; the tracker only
 * predicts. A frame whose motion all lies on known tracks is detected at most
 * detect_fps times per second; new motion is detected at once. Still tracks
 * (a parked car, a person standing) are re-checked every recheck_s on the
 * whole frame, so they neither vanish nor linger when they leave unseen.
 *
 * Only confirmed tracks (vigil/track.h: median score, first sighting) reach
 * enrichment and batches, one batch entry per track, updated in place while
 * the object stays: the entry carries its best sighting, dwell and zones.
 * A track is enriched when confirmed and again after enrich_interval_s; at
 * most max_enrich_per_frame calls per frame, highest confidence first.
 *
 * Snapshots: for each open batch the pipeline keeps the frame with the most
 * confirmed objects (the latest on ties), with its boxes and skeletons, and
 * writes it annotated when the batch closes. Each batch entry (a tracked
 * object) also keeps a crop of its best sighting (best_crop_offer: score,
 * weighted down when cut by the frame edge or small), written as its own
 * JPEG when the batch closes (vigil_detection.snapshot_path). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <pthread.h>
#include <time.h>

#include "util/clock.h"
#include "util/log.h"
#include "vigil/config.h"
#include "vigil/annotate.h"
#include "vigil/enrich.h"
#include "vigil/motion.h"
#include "pipeline/live.h"
#include "vigil/pipeline.h"
#include "vigil/tamper.h"
#include "vigil/plate.h"
#include "vigil/risk.h"
#include "vigil/status.h"
#include "vigil/store.h"
#include "vigil/yolo_world.h"

#define SNAP_MAX 64
#define PIPELINE_STILL_GAP_S 5.0
#define MAX_REGIONS 32

/* What the pipeline keeps per track beside the tracker's own state. */
typedef struct {
  unsigned id;              /* 0 = free */
  double enriched_at;
  vigil_enrichment enr;
  bool has_pose;
  pose_result pose;
  long batch_serial;        /* the batch its entry is in, and where */
  size_t batch_idx;
  char det_id[VIGIL_ID_LEN];
  char entry_zone[VIGIL_NAME_LEN], exit_zone[VIGIL_NAME_LEN];
} track_extra;

typedef struct {
  vigil_image frame;
  int n;
  vigil_det dets[SNAP_MAX];
  bool has_pose[SNAP_MAX];
  pose_result pose[SNAP_MAX];
} snapshot;

/* The crop of a batch entry's best sighting so far. */
typedef struct {
  float q;                  /* sighting_quality of the kept crop; 0 = none */
  vigil_image crop;
} best_crop;

typedef struct {
  camera cam;
  batcher b;
  best_crop *best;          /* per entry of the open batch (same index), nbest of them */
  size_t nbest;
  tracker tr;
  motion_detector md;
  track_extra *ex;          /* PIPELINE_MAX_TRACKS */
  double last_detect, last_full, last_ts;
  snapshot snap;
  long seq;
  pipeline_stats st;        /* this camera's share; pipeline_get_stats sums */
  pipeline_stats pub;       /* st as of the last finished frame, and the drops: read by other threads (/metrics) */
  pthread_mutex_t pub_mu;
  tamper_state *tamper;     /* NULL: tampering checks are off */
  double tamper_last;       /* time of the last frame the check looked at */
  int last_w, last_h;       /* size of the last frame */
  vigil_image before;       /* the last view the check found normal (the "before" snapshot) */
  double before_ts;
  double live_at;           /* monotonic seconds of the last live-state publish (0 = never) */
} cam_state;

struct pipeline {
  pipeline_params p;
  detector_t *det;
  enrich_engine *enrich;
  risk_analyzer *risk;
  store *st;
  cam_state **cams;         /* stable addresses: cameras run on worker threads */
  int ncams;
  pipeline_stats stats;
  pthread_mutex_t mu;       /* closing batches (risk, store, on_event), the stats sum, plate votes */
  plate_votes *votes;       /* licence plates voted per track (key: camera << 32 | track id) */
  plate_config plates;      /* KNOWN_PLATES after voting */
  bool durable;             /* batch entries stored as found, open batches resumed (watch mode) */
  pipeline_scene *scene;    /* caption, CLIP anomaly, search embeddings; NULL = off (scene.c) */
};

void pipeline_set_scene(pipeline *p, pipeline_scene *s) { p->scene = s; }

pipeline_params pipeline_default_params(void) {
  pipeline_params p;
  memset(&p, 0, sizeof p);
  p.batch = batch_default_params();
  p.enrich_interval_s = 10;
  p.max_enrich_per_frame = 4;
  p.enrich = true;
  p.motion = true;
  p.motion_params = motion_default_params();
  p.track = tracker_default_params();
  p.detect_fps = 4;
  p.recheck_s = 5;
  p.max_crops = 1;
  p.tamper = true;
  p.tamper_fps = 2;
  p.live_interval_s = 1;
  p.live_max_width = 640;
  return p;
}

int pipeline_params_from_config(pipeline_params *p, const struct vigil_config *cfg, char *err, size_t errlen) {
  double f;
  long i;
  bool b;
  if (vigil_config_bool(cfg, "MOTION_GATING", &b, err, errlen) == 0) p->motion = b;
  else return -1;
  if (vigil_config_int(cfg, "MOTION_THRESHOLD", &i, err, errlen)) return -1;
  p->motion_params.threshold = (int)i;
  if (vigil_config_float(cfg, "MOTION_MIN_AREA", &f, err, errlen)) return -1;
  p->motion_params.min_area = (float)f;
  if (vigil_config_float(cfg, "MOTION_DETECT_FPS", &p->detect_fps, err, errlen)) return -1;
  if (vigil_config_float(cfg, "MOTION_RECHECK_S", &p->recheck_s, err, errlen)) return -1;
  if (vigil_config_bool(cfg, "TAMPER_DETECT", &p->tamper, err, errlen)) return -1;
  if (vigil_config_float(cfg, "TAMPER_FPS", &p->tamper_fps, err, errlen)) return -1;
  if (vigil_config_float(cfg, "LIVE_INTERVAL_S", &p->live_interval_s, err, errlen)) return -1;
  if (vigil_config_int(cfg, "LIVE_MAX_WIDTH", &i, err, errlen)) return -1;
  p->live_max_width = (int)i;
  if (vigil_config_float(cfg, "TRACK_CONFIRM_SCORE", &f, err, errlen)) return -1;
  p->track.confirm_median = (float)f;
  if (vigil_config_float(cfg, "TRACK_MIN_FIRST_SCORE", &f, err, errlen)) return -1;
  p->track.min_first_score = (float)f;
  if (vigil_config_int(cfg, "TRACK_MIN_HITS", &i, err, errlen)) return -1;
  p->track.min_hits = (int)i;
  const char *cls = vigil_config_str(cfg, "TRACK_CLASSES");
  char e2[200];
  if (cls && tracker_parse_classes(&p->track, cls, e2, sizeof e2)) {
    vigil_err(err, errlen, -1, "TRACK_CLASSES: %s", e2);
    return -1;
  }
  return 0;
}

int pipeline_init(pipeline **out, pipeline_params p, detector_t *det, enrich_engine *enrich, risk_analyzer *risk,
                  store *st, char *err, size_t errlen) {
  *out = NULL;
  if (!det || !risk || !st) {
    vigil_err(err, errlen, -1, "pipeline needs a detector, a risk analyzer and a store");
    return -1;
  }
  pipeline *pl = calloc(1, sizeof *pl);
  if (!pl) return vigil_err_oom(err, errlen);
  pl->p = p;
  pl->det = det;
  pl->enrich = p.enrich ? enrich : NULL;
  pl->risk = risk;
  pl->st = st;
  pl->votes = plate_votes_new();
  if (!pl->votes ? vigil_err_oom(err, errlen) : plate_config_init(&pl->plates, NULL, err, errlen)) {
    plate_votes_free(pl->votes);
    free(pl);
    return -1;
  }
  pthread_mutex_init(&pl->mu, NULL);
  if (p.snapshot_dir[0] && mkdir(p.snapshot_dir, 0755) && errno != EEXIST) {
    vigil_err(err, errlen, -1, "cannot create snapshot folder %s: %s", p.snapshot_dir, strerror(errno));
    plate_votes_free(pl->votes);
    plate_config_free(&pl->plates);
    pthread_mutex_destroy(&pl->mu);
    free(pl);
    return -1;
  }
  *out = pl;
  return 0;
}

void pipeline_free(pipeline *p) {
  if (!p) return;
  for (int i = 0; i < p->ncams; i++) {
    batcher_free(&p->cams[i]->b);
    tracker_free(&p->cams[i]->tr);
    motion_free(&p->cams[i]->md);
    tamper_free(p->cams[i]->tamper);
    vigil_image_free(&p->cams[i]->before);
    free(p->cams[i]->ex);
    vigil_image_free(&p->cams[i]->snap.frame);
    for (size_t k = 0; k < p->cams[i]->nbest; k++) vigil_image_free(&p->cams[i]->best[k].crop);
    free(p->cams[i]->best);
    pthread_mutex_destroy(&p->cams[i]->pub_mu);
    free(p->cams[i]);
  }
  free(p->cams);
  plate_votes_free(p->votes);
  plate_config_free(&p->plates);
  pthread_mutex_destroy(&p->mu);
  free(p);
}

const pipeline_stats *pipeline_get_stats(const pipeline *p) {
  pipeline *m = (pipeline *)p; /* the sum is a cache; callers see a snapshot */
  pthread_mutex_lock(&m->mu);
  pipeline_stats s;
  memset(&s, 0, sizeof s);
  for (int i = 0; i < p->ncams; i++) {
    const pipeline_stats *c = &p->cams[i]->st;
#define SUM(f) s.f += c->f
    SUM(motion_ms), SUM(detect_ms), SUM(track_ms), SUM(enrich_ms), SUM(risk_ms), SUM(store_ms), SUM(frames);
    SUM(detections), SUM(enriched), SUM(batches), SUM(events), SUM(duplicates), SUM(frames_gated);
    SUM(detected_frames), SUM(detector_calls), SUM(tracks_confirmed), SUM(plan_full), SUM(plan_new), SUM(plan_tracks);
    SUM(scene_ms);
#undef SUM
    pthread_mutex_lock(&p->cams[i]->pub_mu);
    s.dropped += p->cams[i]->pub.dropped;
    pthread_mutex_unlock(&p->cams[i]->pub_mu);
  }
  m->stats = s;
  pthread_mutex_unlock(&m->mu);
  return &m->stats;
}

void pipeline_add_dropped(pipeline *p, int cam, long n) {
  pthread_mutex_lock(&p->mu);
  cam_state *cs = cam >= 0 && cam < p->ncams ? p->cams[cam] : NULL;
  pthread_mutex_unlock(&p->mu);
  if (!cs) return;
  pthread_mutex_lock(&cs->pub_mu);
  cs->pub.dropped += n;
  pthread_mutex_unlock(&cs->pub_mu);
}

/* The camera's counters become visible to other threads (the drops are
 * counted there by the thread that queues frames). */
static void stats_publish(cam_state *cs) {
  pthread_mutex_lock(&cs->pub_mu);
  long dropped = cs->pub.dropped;
  cs->pub = cs->st;
  cs->pub.dropped = dropped;
  pthread_mutex_unlock(&cs->pub_mu);
}

int pipeline_camera_stats(pipeline *p, int cam, char *id, size_t idlen, pipeline_stats *out) {
  pthread_mutex_lock(&p->mu); /* cameras may be added meanwhile (the watcher) */
  cam_state *cs = cam >= 0 && cam < p->ncams ? p->cams[cam] : NULL;
  pthread_mutex_unlock(&p->mu);
  if (!cs) return -1;
  snprintf(id, idlen, "%s", cs->cam.id);
  pthread_mutex_lock(&cs->pub_mu);
  *out = cs->pub;
  pthread_mutex_unlock(&cs->pub_mu);
  return 0;
}

int pipeline_camera_count(pipeline *p) {
  pthread_mutex_lock(&p->mu);
  int n = p->ncams;
  pthread_mutex_unlock(&p->mu);
  return n;
}

/* A batch left open by a crash or kill resumes where it stopped: its entries
 * were stored as they came (store_add_open_detection). */
static int resume_open(pipeline *p, cam_state *cs, char *err, size_t errlen) {
  vigil_batch open;
  pthread_mutex_lock(&p->mu);
  int rc = store_open_batch(p->st, cs->cam.id, &open, err, errlen);
  pthread_mutex_unlock(&p->mu);
  if (rc) return -1;
  if (!open.n) {
    vigil_batch_free(&open);
    return 0;
  }
  vigil_batch_free(&cs->b.cur);
  cs->b.cur = open;
  snprintf(cs->b.cur.camera_name, sizeof cs->b.cur.camera_name, "%s", cs->cam.name);
  cs->b.last_det = open.window_end;
  cs->b.serial++; /* no track points into the resumed entries */
  vlog_info("pipeline: camera %s: resumed its open batch of %zu entries from the store", cs->cam.id, open.n);
  return 0;
}

int pipeline_recover(pipeline *p, const camera *(*find)(void *ud, const char *id), void *ud, char *err,
                     size_t errlen) {
  p->durable = true;
  char(*ids)[VIGIL_ID_LEN] = NULL;
  int n = 0;
  pthread_mutex_lock(&p->mu);
  int rc = store_open_cameras(p->st, &ids, &n, err, errlen);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; !rc && i < n; i++) {
    int k = 0;
    while (k < p->ncams && strcmp(p->cams[k]->cam.id, ids[i])) k++;
    if (k < p->ncams) { /* known already (files analyzed before the watch): resume unless it has a batch */
      if (p->cams[k]->b.cur.n == 0 && resume_open(p, p->cams[k], err, errlen)) rc = -1;
      continue;
    }
    const camera *reg = find ? find(ud, ids[i]) : NULL;
    camera c;
    memset(&c, 0, sizeof c);
    if (reg) c = *reg;
    else snprintf(c.id, sizeof c.id, "%s", ids[i]), snprintf(c.name, sizeof c.name, "%.47s", ids[i]);
    if (pipeline_add_camera(p, &c, err, errlen) < 0) rc = -1;
  }
  free(ids);
  return rc;
}

int pipeline_add_camera(pipeline *p, const camera *c, char *err, size_t errlen) {
  for (int i = 0; i < p->ncams; i++)
    if (!strcmp(p->cams[i]->cam.id, c->id)) { /* known (e.g. recovered): same state, same open batch */
      snprintf(p->cams[i]->b.cur.camera_name, sizeof p->cams[i]->b.cur.camera_name, "%s", c->name);
      return i;
    }
  pthread_mutex_lock(&p->mu); /* other threads read the camera list (/metrics) */
  cam_state **n = realloc(p->cams, sizeof *n * (size_t)(p->ncams + 1));
  if (n) p->cams = n;
  pthread_mutex_unlock(&p->mu);
  if (!n) return vigil_err_oom(err, errlen);
  cam_state *cs = calloc(1, sizeof *cs);
  if (!cs) return vigil_err_oom(err, errlen);
  cs->cam = *c;
  pthread_mutex_init(&cs->pub_mu, NULL);
  cs->ex = calloc(PIPELINE_MAX_TRACKS, sizeof *cs->ex);
  if (!cs->ex) {
    free(cs);
    return vigil_err_oom(err, errlen);
  }
  batcher_init(&cs->b, p->p.batch, c->id);
  tracker_init(&cs->tr, &p->p.track);
  motion_params mp = p->p.motion_params;
  for (int z = 0; z < c->nmasks && mp.nmasks < MOTION_MAX_MASKS; z++) {
    motion_mask *m = &mp.masks[mp.nmasks++];
    m->npoints = c->masks[z].npoints < MOTION_MAX_POINTS ? c->masks[z].npoints : MOTION_MAX_POINTS;
    memcpy(m->x, c->masks[z].x, sizeof(float) * (size_t)m->npoints);
    memcpy(m->y, c->masks[z].y, sizeof(float) * (size_t)m->npoints);
  }
  motion_init(&cs->md, &mp);
  cs->last_detect = cs->last_full = cs->last_ts = -1e18;
  cs->tamper_last = cs->before_ts = -1e18;
  if (p->p.tamper && tamper_init(&cs->tamper, tamper_default_params())) {
    batcher_free(&cs->b), tracker_free(&cs->tr), motion_free(&cs->md);
    pthread_mutex_destroy(&cs->pub_mu);
    free(cs->ex), free(cs);
    return vigil_err_oom(err, errlen);
  }
  snprintf(cs->b.cur.camera_name, sizeof cs->b.cur.camera_name, "%s", c->name);
  pthread_mutex_lock(&p->mu);
  int rc = store_upsert_camera(p->st, c->id, c->name, c->source, err, errlen);
  if (rc == 0) p->cams[p->ncams++] = cs;
  pthread_mutex_unlock(&p->mu);
  if (rc) {
    batcher_free(&cs->b);
    tracker_free(&cs->tr);
    motion_free(&cs->md);
    tamper_free(cs->tamper);
    pthread_mutex_destroy(&cs->pub_mu);
    free(cs->ex);
    free(cs);
    return -1;
  }
  if (p->durable && resume_open(p, cs, err, errlen)) return -1;
  return p->ncams - 1;
}

static track_extra *extra_of(cam_state *cs, unsigned id) {
  track_extra *free_slot = NULL;
  for (int i = 0; i < PIPELINE_MAX_TRACKS; i++) {
    if (cs->ex[i].id == id) return &cs->ex[i];
    if (!free_slot && !cs->ex[i].id) free_slot = &cs->ex[i];
  }
  if (!free_slot) { /* recycle the slot of a track the tracker dropped */
    for (int i = 0; i < PIPELINE_MAX_TRACKS && !free_slot; i++) {
      bool alive = false;
      for (int k = 0; k < cs->tr.n && !alive; k++) alive = cs->tr.t[k].id == cs->ex[i].id;
      if (!alive) free_slot = &cs->ex[i];
    }
  }
  if (!free_slot) return NULL;
  memset(free_slot, 0, sizeof *free_slot);
  free_slot->id = id;
  free_slot->enriched_at = -1e18;
  free_slot->batch_serial = -1;
  return free_slot;
}

static long vote_key(int cam, unsigned track_id) { return (long)cam << 32 | (long)track_id; }

/* Frees the extras (and plate votes) of tracks the tracker no longer holds. */
static void extras_gc(pipeline *p, int cam, cam_state *cs) {
  for (int i = 0; i < PIPELINE_MAX_TRACKS; i++) {
    if (!cs->ex[i].id) continue;
    bool alive = false;
    for (int k = 0; k < cs->tr.n && !alive; k++) alive = cs->tr.t[k].id == cs->ex[i].id;
    if (alive) continue;
    pthread_mutex_lock(&p->mu);
    plate_votes_forget(p->votes, vote_key(cam, cs->ex[i].id));
    pthread_mutex_unlock(&p->mu);
    cs->ex[i].id = 0;
  }
}

/* The camera's watch list through YOLO-World on the whole frame, appended to l (the
 * labels point into the camera's registry entry, which lives as long as cs). */
static int detect_watched(pipeline *p, cam_state *cs, const vigil_image *frame, vigil_det_list *l, char *err,
                          size_t errlen) {
  const char *cls[VIGIL_MAX_WATCH];
  for (int i = 0; i < cs->cam.nwatch; i++) cls[i] = cs->cam.watch[i];
  vigil_det_list w;
  int n = cs->cam.nwatch < yolo_world_max_classes(p->p.world) ? cs->cam.nwatch : yolo_world_max_classes(p->p.world);
  if (yolo_world_detect(p->p.world, &w, frame, cls, n, p->p.world_conf, err, errlen)) return -1;
  cs->st.detector_calls++;
  if (!w.n) return 0;
  vigil_det *nd = realloc(l->dets, sizeof *nd * (size_t)(l->n + w.n));
  if (!nd) {
    vigil_det_list_free(&w);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  for (int i = 0; i < w.n; i++) w.dets[i].cls += 1000; /* never the same class id as a COCO class */
  memcpy(nd + l->n, w.dets, sizeof *nd * (size_t)w.n);
  l->dets = nd;
  l->n += w.n;
  vigil_det_list_free(&w);
  return 0;
}

/* Detects on the planned crops; boxes come back in frame pixels. */
static int detect_crops(pipeline *p, cam_state *cs, const vigil_image *frame, const track_region *crops, int ncrops,
                        vigil_det_list *out, char *err, size_t errlen) {
  out->dets = NULL, out->n = 0;
  if (ncrops == 1 && crops[0].x1 <= 0 && crops[0].y1 <= 0 && crops[0].x2 >= (float)frame->w &&
      crops[0].y2 >= (float)frame->h) {
    const vigil_image *imgs[1] = {frame};
    cs->st.detector_calls++;
    return detector_run(p->det, out, imgs, 1, err, errlen);
  }
  vigil_image im[MAX_REGIONS];
  const vigil_image *ptr[MAX_REGIONS];
  vigil_det_list l[MAX_REGIONS];
  memset(im, 0, sizeof im);
  int rc = 0;
  for (int i = 0; i < ncrops && !rc; i++) {
    rc = vigil_img_crop(&im[i], frame, (int)crops[i].x1, (int)crops[i].y1, (int)(crops[i].x2 - crops[i].x1),
                        (int)(crops[i].y2 - crops[i].y1));
    ptr[i] = &im[i];
  }
  if (rc) vigil_err(err, errlen, -1, "cannot crop a motion region");
  if (!rc) {
    cs->st.detector_calls += ncrops;
    rc = detector_run(p->det, l, ptr, ncrops, err, errlen);
  }
  for (int i = 0; i < ncrops; i++) vigil_image_free(&im[i]);
  if (rc) return rc;
  int total = 0;
  for (int i = 0; i < ncrops; i++) total += l[i].n;
  out->dets = malloc(sizeof *out->dets * (size_t)(total + 1));
  for (int i = 0; i < ncrops; i++) {
    for (int k = 0; out->dets && k < l[i].n; k++) {
      vigil_det d = l[i].dets[k];
      d.x1 += crops[i].x1, d.x2 += crops[i].x1, d.y1 += crops[i].y1, d.y2 += crops[i].y1;
      out->dets[out->n++] = d;
    }
    vigil_det_list_free(&l[i]);
  }
  if (!out->dets) {
    vigil_err(err, errlen, -1, "out of memory");
    return -1;
  }
  out->n = det_nms(out->dets, out->n, 0.5f); /* one object seen by two overlapping crops */
  return 0;
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

/* ---- per-object snapshots: the best sighting of each batch entry ---------------------- */

#define BEST_CROP_SIDE 256 /* longest side of a kept crop, px */

/* How good a sighting is for a picture of the object: its detector score,
 * halved when the box touches the frame edge (the object is cut off), and
 * scaled down below 96 px of height (too small to see much). */
static float sighting_quality(const vigil_det *d, int fw, int fh) {
  float q = d->score;
  if (d->x1 <= 2 || d->y1 <= 2 || d->x2 >= (float)fw - 2 || d->y2 >= (float)fh - 2) q *= 0.5f;
  float h = d->y2 - d->y1;
  if (h < 96) q *= h > 8 ? h / 96 : 8.0f / 96;
  return q;
}

/* Keeps a crop of this sighting for entry idx of the open batch when it is
 * better than the one kept (the box grown by 15% a side, at most
 * BEST_CROP_SIDE px). Best effort: out of memory keeps the old one. */
static void best_crop_offer(cam_state *cs, size_t idx, const vigil_image *frame, const vigil_det *d) {
  if (idx >= cs->nbest) {
    size_t n = idx + 16;
    best_crop *nb = realloc(cs->best, n * sizeof *nb);
    if (!nb) return;
    memset(nb + cs->nbest, 0, (n - cs->nbest) * sizeof *nb);
    cs->best = nb, cs->nbest = n;
  }
  best_crop *bc = &cs->best[idx];
  float q = sighting_quality(d, frame->w, frame->h);
  if (bc->crop.data && q <= bc->q) return;
  float mw = (d->x2 - d->x1) * 0.15f, mh = (d->y2 - d->y1) * 0.15f;
  int x1 = (int)fmaxf(0, d->x1 - mw), y1 = (int)fmaxf(0, d->y1 - mh);
  int x2 = (int)fminf((float)frame->w, d->x2 + mw), y2 = (int)fminf((float)frame->h, d->y2 + mh);
  if (x2 - x1 < 2 || y2 - y1 < 2) return;
  vigil_image c = {0}, s = {0};
  if (vigil_img_crop(&c, frame, x1, y1, x2 - x1, y2 - y1)) return;
  int side = c.w > c.h ? c.w : c.h;
  if (side > BEST_CROP_SIDE) {
    int w = (int)((double)c.w * BEST_CROP_SIDE / side + 0.5), h = (int)((double)c.h * BEST_CROP_SIDE / side + 0.5);
    int rc = vigil_img_resize(&s, &c, w < 1 ? 1 : w, h < 1 ? 1 : h, VIGIL_RESIZE_AREA);
    vigil_image_free(&c);
    if (rc) return;
    c = s;
  }
  vigil_image_free(&bc->crop);
  bc->crop = c;
  bc->q = q;
}

/* Writes the kept crops of a closing batch (entry i = crop i) as JPEGs and
 * sets the entries' snapshot_path; forgets the crops either way. */
static void best_crops_write(pipeline *p, cam_state *cs, vigil_batch *b) {
  for (size_t i = 0; i < b->n && i < cs->nbest; i++) {
    best_crop *bc = &cs->best[i];
    b->dets[i].snapshot_path[0] = 0;
    if (!bc->crop.data || !p->p.snapshot_dir[0]) continue;
    uint8_t *jpg;
    size_t len;
    if (annotate_encode_jpeg(&jpg, &len, &bc->crop, 85)) continue;
    char dir[512], path[sizeof b->dets[i].snapshot_path];
    if (snprintf(dir, sizeof dir, "%.400s/%.63s", p->p.snapshot_dir, b->camera_id) < (int)sizeof dir) {
      mkdir(dir, 0755);
      snprintf(path, sizeof path, "%.400s/obj-%.63s.jpg", dir, b->dets[i].id);
      FILE *f = fopen(path, "wb");
      if (f) {
        bool ok = fwrite(jpg, 1, len, f) == len;
        ok = fclose(f) == 0 && ok;
        if (ok) snprintf(b->dets[i].snapshot_path, sizeof b->dets[i].snapshot_path, "%s", path);
        else vlog_warn("pipeline: cannot write snapshot %s", path);
      }
    }
    free(jpg);
  }
  for (size_t i = 0; i < cs->nbest; i++) {
    vigil_image_free(&cs->best[i].crop);
    cs->best[i].q = 0;
  }
}

/* Scores, stores and reports one closed batch; frees it. */
static int close_batch_locked(pipeline *p, cam_state *cs, vigil_batch *b, const pipeline_scene_out *so, char *err,
                              size_t errlen);

/* Cameras run on worker threads; the risk analyzer, the store connection and
 * the caller's on_event are shared, so batches close one at a time. The scene
 * models (the slow part) look at the camera's own snapshot before the lock. */
static int close_batch(pipeline *p, cam_state *cs, vigil_batch *b, char *err, size_t errlen) {
  pipeline_scene_out so = {0};
  if (p->scene) {
    double t0 = vigil_mono_ms();
    pipeline_scene_run(p->scene, b, &cs->snap.frame, cs->snap.dets, cs->snap.n, &so);
    cs->st.scene_ms += vigil_mono_ms() - t0;
  }
  pthread_mutex_lock(&p->mu);
  int rc = close_batch_locked(p, cs, b, &so, err, errlen);
  pthread_mutex_unlock(&p->mu);
  pipeline_scene_out_free(&so);
  return rc;
}

static int close_batch_locked(pipeline *p, cam_state *cs, vigil_batch *b, const pipeline_scene_out *so, char *err,
                              size_t errlen) {
  int rc = 0;
  int hour, minute;
  camera_local_time(&cs->cam, b->window_end, &hour, &minute);
  b->local_hour = hour;
  b->local_minute = minute;
  b->n_watch = cs->cam.nwatch;
  memcpy(b->watch, cs->cam.watch, sizeof b->watch);
  write_snapshot(p, cs, b);
  best_crops_write(p, cs, b);
  vigil_image_free(&cs->snap.frame);
  cs->snap.n = 0;
  vigil_event ev;
  memset(&ev, 0, sizeof ev);
  double t0 = vigil_mono_ms();
  rc = risk_analyze(p->risk, b, &ev, err, errlen);
  cs->st.risk_ms += vigil_mono_ms() - t0;
  if (rc == 0) {
    bool dup = false;
    t0 = vigil_mono_ms();
    rc = store_insert_batch(p->st, b, &ev, &dup, err, errlen);
    cs->st.store_ms += vigil_mono_ms() - t0;
    if (rc == 0) {
      cs->st.batches++;
      cs->st.events += !dup;
      cs->st.duplicates += dup;
      if (!dup) pipeline_scene_store(p->st, ev.id, so);
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

static const camera_zone *zone_at(const cam_state *cs, float x1, float x2, float y2) {
  for (int z = 0; z < cs->cam.nzones; z++) /* a zone holds an object when it holds its foot point */
    if (camera_zone_contains(&cs->cam.zones[z], (x1 + x2) / 2, y2)) return &cs->cam.zones[z];
  return NULL;
}

/* Decides what the detector looks at in this frame: 0 crops = nothing. */
static int plan(pipeline *p, cam_state *cs, const vigil_image *frame, double ts, track_region *crops) {
  track_region reg[MAX_REGIONS];
  const track_region whole = {0, 0, (float)frame->w, (float)frame->h};
  if (!p->p.motion) {
    crops[0] = whole;
    return 1;
  }
  double t0 = vigil_mono_ms();
  int nreg = motion_detect(&cs->md, frame, reg, MAX_REGIONS);
  cs->st.motion_ms += vigil_mono_ms() - t0;
  bool first = cs->md.frames == 1;
  bool any_track = cs->tr.n > 0;
  if (first || nreg < 0 || (any_track && ts - cs->last_full >= p->p.recheck_s)) {
    cs->last_full = ts; /* the first frame, and a regular look at still objects */
    cs->st.plan_full++;
    crops[0] = whole;
    return 1;
  }
  if (nreg == 0) return 0;
  /* motion on known tracks only: the tracker predicts between detections */
  bool explained = true;
  float small = 0.002f * (float)frame->w * (float)frame->h;
  for (int i = 0; i < nreg && explained; i++) {
    /* specks (a shadow, a flag, compression noise) wait for the next
     * detect_fps tick rather than forcing a detection now */
    if ((reg[i].x2 - reg[i].x1) * (reg[i].y2 - reg[i].y1) < small) continue;
    /* covered by the tracks' boxes (grown by half: limbs, shadows, the
     * prediction's error); overlaps between tracks may count twice, which
     * only errs towards detecting less often when people walk together */
    float area = (reg[i].x2 - reg[i].x1) * (reg[i].y2 - reg[i].y1), cover = 0;
    for (int k = 0; k < cs->tr.n; k++) {
      const track_t *t = &cs->tr.t[k];
      float mw = (t->x2 - t->x1) * 0.5f, mh = (t->y2 - t->y1) * 0.5f;
      float ix = fminf(reg[i].x2, t->x2 + mw) - fmaxf(reg[i].x1, t->x1 - mw);
      float iy = fminf(reg[i].y2, t->y2 + mh) - fmaxf(reg[i].y1, t->y1 - mh);
      if (ix > 0 && iy > 0) cover += ix * iy;
    }
    bool on = cover >= 0.5f * area;
    if (!on)
      vlog_debug("pipeline: camera %s: new motion %.0f,%.0f-%.0f,%.0f (%.0f%% on %d tracks)", cs->cam.id, reg[i].x1,
                 reg[i].y1, reg[i].x2, reg[i].y2, 100 * cover / area, cs->tr.n);
    explained = on;
  }
  vlog_debug("pipeline: camera %s: %d motion region(s)%s, first %.0f,%.0f-%.0f,%.0f", cs->cam.id, nreg,
             explained ? " on known tracks" : "", reg[0].x1, reg[0].y1, reg[0].x2, reg[0].y2);
  if (explained && p->p.detect_fps > 0 && ts - cs->last_detect < 1.0 / p->p.detect_fps - 1e-6) return 0;
  if (explained) cs->st.plan_tracks++;
  else cs->st.plan_new++;
  int side_w, side_h;
  detector_input_size(p->det, &side_w, &side_h);
  int n = motion_plan_crops(reg, nreg, frame->w, frame->h, side_w > side_h ? side_w : side_h,
                            p->p.max_crops > 0 ? p->p.max_crops : 1, crops);
  if (n == 1 && crops[0].x1 <= 0 && crops[0].y1 <= 0 && crops[0].x2 >= frame->w && crops[0].y2 >= frame->h)
    cs->last_full = ts;
  return n;
}

/* ---- camera tampering ------------------------------------------------------------------ */

/* Risk of a tampering incident (docs/risk.md): a camera that cannot see is a high risk;
 * covered or blinded (someone acted on the camera) ranks above a lost focus or view. */
static int tamper_score(tamper_kind k) {
  return k == TAMPER_COVERED ? 80 : k == TAMPER_BLINDED ? 75 : 70;
}

static const char *tamper_words(tamper_kind k) {
  switch (k) {
  case TAMPER_COVERED: return "covered: the frame went near-uniform";
  case TAMPER_DEFOCUSED: return "defocused or smeared: sharpness collapsed";
  case TAMPER_BLINDED: return "blinded: most of the frame is saturated";
  case TAMPER_MOVED: return "turned away: the scene no longer matches its usual view";
  default: return "tampered with";
  }
}

/* The frame scaled to height h (a copy). */
static int scaled(vigil_image *out, const vigil_image *in, int h) {
  int w = (int)((double)in->w * h / in->h + 0.5);
  return vigil_img_resize(out, in, w < 1 ? 1 : w, h, VIGIL_RESIZE_AREA);
}

/* before | after side by side, labelled, as the event's snapshot; "" when there is
 * no snapshot folder or no "before" view yet. */
static void tamper_snapshot(pipeline *p, cam_state *cs, const vigil_image *after, double ts, char *path, size_t len) {
  path[0] = 0;
  if (!p->p.snapshot_dir[0]) return;
  vigil_image a = {0}, b = {0}, both = {0};
  const int H = 240;
  if (scaled(&a, after, H)) return;
  bool have_before = cs->before.data && !scaled(&b, &cs->before, H);
  int w = a.w + (have_before ? b.w + 4 : 0);
  if (!vigil_image_init(&both, w, H, 3)) {
    int x = 0;
    const vigil_image *parts[2] = {have_before ? &b : NULL, &a};
    for (int k = 0; k < 2; k++) {
      if (!parts[k]) continue;
      for (int y = 0; y < H; y++)
        memcpy(both.data + (size_t)y * both.stride + (size_t)x * 3, parts[k]->data + (size_t)y * parts[k]->stride,
               (size_t)parts[k]->w * 3);
      annotate_text(&both, x + 4, 4, k == 0 ? "before" : "after", 1, (vigil_rgb){255, 255, 255}, (vigil_rgb){200, 30, 30});
      x += parts[k]->w + 4;
    }
    uint8_t *jpg;
    size_t n;
    if (annotate_encode_jpeg(&jpg, &n, &both, 85) == 0) {
      char dir[512];
      if (snprintf(dir, sizeof dir, "%.400s/%.63s", p->p.snapshot_dir, cs->cam.id) < (int)sizeof dir) {
        mkdir(dir, 0755);
        char file[512];
        snprintf(file, sizeof file, "%.440s/tamper-%.0f.jpg", dir, ts * 1000);
        FILE *f = fopen(file, "wb");
        if (f) {
          bool ok = fwrite(jpg, 1, n, f) == n;
          ok = fclose(f) == 0 && ok;
          if (ok) snprintf(path, len, "%s", file);
        }
      }
      free(jpg);
    }
  }
  vigil_image_free(&a), vigil_image_free(&b), vigil_image_free(&both);
}

/* One camera_tampering event per incident: its own batch (no detections, an
 * idempotency key from the camera and the time), scored by the documented table, not
 * by the LLM, stored and reported like any other event. */
static int tamper_event(pipeline *p, cam_state *cs, const vigil_image *frame, double ts, const tamper_verdict *v,
                        char *err, size_t errlen) {
  vigil_batch b;
  vigil_batch_init(&b, cs->cam.id);
  snprintf(b.camera_name, sizeof b.camera_name, "%s", cs->cam.name);
  b.window_start = cs->before.data && cs->before_ts < ts ? cs->before_ts : ts;
  b.window_end = ts;
  camera_local_time(&cs->cam, ts, &b.local_hour, &b.local_minute);
  snprintf(b.batch_key, sizeof b.batch_key, "tamper-%.0f", ts * 1000);
  tamper_snapshot(p, cs, frame, ts, b.snapshot_path, sizeof b.snapshot_path);
  vigil_event ev;
  memset(&ev, 0, sizeof ev);
  snprintf(ev.camera_id, sizeof ev.camera_id, "%s", cs->cam.id);
  ev.risk_score = tamper_score(v->started);
  snprintf(ev.risk_level, sizeof ev.risk_level, "%s", vigil_risk_level(ev.risk_score));
  snprintf(ev.scorer, sizeof ev.scorer, "tamper");
  char sum[256], why[512];
  snprintf(sum, sizeof sum, "camera_tampering: camera %s was %s", cs->cam.name[0] ? cs->cam.name : cs->cam.id,
           tamper_words(v->started));
  snprintf(why, sizeof why,
           "Rule camera_tampering (%s) held for 5 s against the camera's rolling baseline: grey spread %.1f, "
           "sharpness %.0f%% of usual, %.0f%% saturated, scene match %.2f. The snapshot shows the view before and "
           "after.",
           tamper_kind_name(v->started), v->grey_std, 100 * v->sharpness_ratio, 100 * v->saturated, v->scene_corr);
  ev.summary = strdup(sum);
  ev.reasoning = strdup(why);
  ev.window_start = b.window_start, ev.window_end = b.window_end;
  int rc = ev.summary && ev.reasoning ? 0 : -1;
  if (rc) vigil_err(err, errlen, -1, "out of memory");
  pthread_mutex_lock(&p->mu);
  bool dup = false;
  if (!rc) rc = store_insert_batch(p->st, &b, &ev, &dup, err, errlen);
  if (!rc) {
    cs->st.batches++;
    cs->st.events += !dup;
    cs->st.duplicates += dup;
    if (p->p.on_event) p->p.on_event(p->p.ud, &ev, &b, dup);
  }
  pthread_mutex_unlock(&p->mu);
  vlog_warn("camera %s: tampering (%s) at %.1f s", cs->cam.id, tamper_kind_name(v->started), ts);
  vigil_event_free(&ev);
  vigil_batch_free(&b);
  return rc;
}

/* Looks at the frame for tampering at most tamper_fps times a second; keeps the last
 * normal view (refreshed every 10 s) for the incident's "before" snapshot. */
static int tamper_check(pipeline *p, cam_state *cs, const vigil_image *frame, double ts, char *err, size_t errlen) {
  if (!cs->tamper || (p->p.tamper_fps > 0 && ts - cs->tamper_last < 1.0 / p->p.tamper_fps && ts >= cs->tamper_last))
    return 0;
  cs->tamper_last = ts;
  tamper_verdict v;
  if (tamper_update(cs->tamper, &v, frame, ts)) return 0; /* an unusable frame changes nothing */
  if (v.started) return tamper_event(p, cs, frame, ts, &v, err, errlen);
  if (!v.suspect && !v.ongoing && (ts - cs->before_ts >= 10 || ts < cs->before_ts || !cs->before.data)) {
    vigil_image_free(&cs->before);
    if (scaled(&cs->before, frame, frame->h > 480 ? 480 : frame->h) == 0) cs->before_ts = ts;
  }
  return 0;
}

static int frame_run(pipeline *p, int cam, cam_state *cs, const vigil_image *frame, double ts, char *err,
                     size_t errlen);

/* The camera's live state for the dashboard (src/pipeline/live.c), at most once
 * per live_interval_s of wall time whatever the frame rate; a failure is logged,
 * never the frame's. */
static void publish_live(pipeline *p, int cam, const vigil_image *frame, double ts) {
  cam_state *cs = p->cams[cam];
  double now = vigil_mono_s();
  if (!p->st || p->p.live_interval_s <= 0 || (cs->live_at > 0 && now - cs->live_at < p->p.live_interval_s)) return;
  cs->live_at = now;
  pipeline_track *tr = malloc(PIPELINE_MAX_TRACKS * sizeof *tr);
  int n = tr ? pipeline_camera_tracks(p, cam, tr, PIPELINE_MAX_TRACKS) : -1;
  pthread_mutex_lock(&cs->pub_mu); /* the published counters: dropped is counted by the decode thread */
  pipeline_stats st = cs->pub;
  pthread_mutex_unlock(&cs->pub_mu);
  char err[256];
  if (n >= 0 && live_publish(p->st, cs->cam.id, frame, ts, tr, n, &st, p->p.live_max_width, err, sizeof err))
    vlog_warn("pipeline: camera %s: %s", cs->cam.id, err);
  free(tr);
}

int pipeline_frame(pipeline *p, int cam, const vigil_image *frame, double ts, char *err, size_t errlen) {
  if (cam < 0 || cam >= p->ncams) {
    vigil_err(err, errlen, -1, "no camera %d", cam);
    return -1;
  }
  cam_state *cs = p->cams[cam];
  int rc = frame_run(p, cam, cs, frame, ts, err, errlen);
  stats_publish(cs);
  publish_live(p, cam, frame, ts);
  return rc;
}

static int frame_run(pipeline *p, int cam, cam_state *cs, const vigil_image *frame, double ts, char *err,
                     size_t errlen) {
  cs->st.frames++;
  if (tamper_check(p, cs, frame, ts, err, errlen)) vlog_warn("camera %s: tampering event not stored: %s", cs->cam.id, err);
  /* A frame that is not the next frame of a moving picture (long after the
   * previous one: a snapshot camera's still, the first frame; at the same instant:
   * two uploads stamped alike; of another size) cannot be tracked: it is detected
   * whole and one sighting may confirm an object (its score is the median of one). */
  bool still = ts - cs->last_ts > PIPELINE_STILL_GAP_S || ts <= cs->last_ts || frame->w != cs->last_w ||
               frame->h != cs->last_h; /* an image at the same instant, or of another size, is not the next frame */
  cs->last_ts = ts;
  cs->last_w = frame->w, cs->last_h = frame->h;
  track_region crops[MAX_REGIONS];
  int ncrops = plan(p, cs, frame, ts, crops);
  if (still) ncrops = 1, crops[0] = (track_region){0, 0, (float)frame->w, (float)frame->h};
  vigil_batch closed;
  if (ncrops == 0) { /* nothing new moves: no detector call */
    cs->st.frames_gated++;
    tracker_predict(&cs->tr, ts);
    if (batcher_tick(&cs->b, ts, false, &closed) == 1) return close_batch(p, cs, &closed, err, errlen);
    return 0;
  }
  vigil_det_list l;
  double t0 = vigil_mono_ms();
  if (detect_crops(p, cs, frame, crops, ncrops, &l, err, errlen)) return -1;
  if (p->p.world && cs->cam.nwatch > 0 && detect_watched(p, cs, frame, &l, err, errlen)) {
    vigil_det_list_free(&l);
    return -1;
  }
  cs->st.detect_ms += vigil_mono_ms() - t0;
  cs->last_detect = ts;
  cs->st.detected_frames++;
  cs->st.detections += l.n;
  t0 = vigil_mono_ms();
  int *dt = calloc((size_t)l.n + 1, sizeof *dt);
  cs->tr.one_shot = still;
  if (!dt || tracker_update(&cs->tr, l.dets, l.n, ts, crops, ncrops, dt)) {
    free(dt);
    vigil_det_list_free(&l);
    vigil_err(err, errlen, -1, "out of memory");
    return -1;
  }
  extras_gc(p, cam, cs);
  cs->st.track_ms += vigil_mono_ms() - t0;
  bool has_pose[SNAP_MAX] = {0};
  pose_result *poses = calloc(SNAP_MAX, sizeof *poses);
  vigil_det_list conf = {calloc((size_t)l.n + 1, sizeof(vigil_det)), 0};
  int rc = poses && conf.dets ? 0 : -1;
  int budget = p->p.max_enrich_per_frame;
  /* violence detection looks at the whole frame, once, when >= 2 people are confirmed in it */
  int persons_now = 0;
  bool violence_asked = false;
  for (int i = 0; i < l.n; i++)
    persons_now += dt[i] >= 0 && cs->tr.t[dt[i]].confirmed && vigil_class_kind(l.dets[i].label) == VIGIL_KIND_PERSON;
  for (int i = 0; !rc && i < l.n; i++) { /* l is sorted by score: most confident first */
    if (dt[i] < 0) continue;
    const track_t *t = &cs->tr.t[dt[i]];
    if (!t->confirmed) continue; /* detector noise never reaches enrichment or events */
    if (t->confirmed_now) cs->st.tracks_confirmed++;
    track_extra *x = extra_of(cs, t->id);
    if (!x) continue;
    const vigil_det *d = &l.dets[i];
    if (!x->det_id[0] || x->batch_serial != cs->b.serial)
      snprintf(x->det_id, sizeof x->det_id, "%.36s-%lld-%u", cs->cam.id, (long long)llround(ts * 1000), t->id);
    enrich_kind kind = vigil_class_kind(d->label);
    if (kind != ENRICH_OBJECT && (p->enrich || (p->p.enrich && p->p.enrich_fn)) && budget > 0 &&
        ts - x->enriched_at >= p->p.enrich_interval_s) {
      enrich_request rq = {.frame = frame, .x1 = d->x1, .y1 = d->y1, .x2 = d->x2, .y2 = d->y2, .kind = kind,
                           .detection_id = x->det_id, .camera_id = cs->cam.id, .ts = ts,
                           .opt = {.include_pose = true, .include_weather = true},
                           .det_class = d->label, .det_score = d->score, .timezone = cs->cam.timezone,
                           .depth_px_per_m = cs->cam.depth_px_per_m};
      for (int z = 0; z < cs->cam.nzones; z++) /* distance for the entrance rule (docs/risk.md) */
        rq.opt.include_depth |= cs->cam.zones[z].entrance && rq.kind == ENRICH_PERSON;
      if (persons_now >= 2 && rq.kind == ENRICH_PERSON && !violence_asked)
        rq.opt.include_violence = violence_asked = true;
      enrich_result *r = malloc(sizeof *r);
      char eerr[256];
      t0 = vigil_mono_ms();
      int erc = !r ? -1
                : p->p.enrich_fn ? p->p.enrich_fn(p->p.enrich_ud, r, &rq, eerr, sizeof eerr)
                                 : enrich_run(p->enrich, r, &rq, eerr, sizeof eerr);
      if (erc && r) vlog_warn("pipeline: camera %s: enrichment of %s: %s", cs->cam.id, x->det_id, eerr);
      if (erc == 0) {
        enrich_result_summary(r, x->det_id, &x->enr);
        if (r->plate_ran) {
          pthread_mutex_lock(&p->mu);
          plate_vote_apply(p->votes, &p->plates, vote_key(cam, t->id), &x->enr.plate);
          pthread_mutex_unlock(&p->mu);
        }
        x->has_pose = r->has_pose;
        if (r->has_pose) x->pose = r->pose;
        cs->st.enriched++;
      }
      x->enriched_at = ts; /* a failed call is not retried every frame either */
      cs->st.enrich_ms += vigil_mono_ms() - t0;
      free(r);
      budget--;
    }
    if (conf.n < SNAP_MAX) {
      conf.dets[conf.n] = *d;
      if (x->has_pose && ts - x->enriched_at < 0.5) has_pose[conf.n] = true, poses[conf.n] = x->pose;
      conf.n++;
    }
    /* the track's batch entry: best sighting, dwell, zones */
    const camera_zone *cz = zone_at(cs, d->x1, d->x2, d->y2);
    const char *zone = cz ? cz->name : NULL;
    for (int z = 0; z < cs->cam.nzones; z++) /* every zone that holds its foot point */
      if (camera_zone_contains(&cs->cam.zones[z], (d->x1 + d->x2) / 2, d->y2)) {
        vigil_batch_add_zone(&cs->b.cur, cs->cam.zones[z].name);
        if (cs->cam.zones[z].entrance) vigil_batch_mark_entrance(&cs->b.cur, cs->cam.zones[z].name);
      }
    if (zone) {
      if (!x->entry_zone[0] && t->confirmed_now) snprintf(x->entry_zone, sizeof x->entry_zone, "%s", zone);
      snprintf(x->exit_zone, sizeof x->exit_zone, "%s", zone);
    }
    vigil_detection vd;
    memset(&vd, 0, sizeof vd);
    snprintf(vd.id, sizeof vd.id, "%s", x->det_id);
    snprintf(vd.camera_id, sizeof vd.camera_id, "%s", cs->cam.id);
    snprintf(vd.cls, sizeof vd.cls, "%s", t->label);
    vd.confidence = t->best_score;
    vd.bbox = (vigil_bbox){t->bx1, t->by1, t->bx2, t->by2};
    vd.ts = ts; /* the window runs on sightings; the box and score are the best sighting's */
    vd.track_id = t->id;
    vd.first_seen = t->first_seen;
    vd.last_seen = t->last_seen;
    vd.stationary = t->stationary;
    vd.frames = t->hits;
    snprintf(vd.entry_zone, sizeof vd.entry_zone, "%s", x->entry_zone);
    snprintf(vd.exit_zone, sizeof vd.exit_zone, "%s", x->exit_zone);
    snprintf(x->enr.detection_id, sizeof x->enr.detection_id, "%s", x->det_id);
    int c;
    bool touch = x->batch_serial == cs->b.serial && x->batch_idx < cs->b.cur.n;
    if (p->durable) { /* stored at once: a crash loses no entry */
      bool fresh;
      pthread_mutex_lock(&p->mu);
      int src = store_add_open_detection(p->st, cs->cam.name, &vd, &x->enr, &fresh, err, errlen);
      pthread_mutex_unlock(&p->mu);
      if (src) {
        rc = -1;
        break;
      }
      if (!fresh) continue; /* in a stored event already: this frame was processed before a restart */
    }
    best_crop_offer(cs, touch ? x->batch_idx : cs->b.cur.n, frame, d);
    if (touch) {
      c = batcher_touch(&cs->b, x->batch_idx, &vd, &x->enr, &closed);
    } else {
      x->batch_serial = cs->b.serial;
      x->batch_idx = cs->b.cur.n;
      c = batcher_add(&cs->b, &vd, &x->enr, &closed);
    }
    if (c < 0) rc = -1;
    else if (c == 1) {
      keep_snapshot(cs, frame, &conf, has_pose, poses);
      rc = close_batch(p, cs, &closed, err, errlen);
    }
  }
  if (!rc) keep_snapshot(cs, frame, &conf, has_pose, poses);
  free(poses);
  free(conf.dets);
  free(dt);
  vigil_det_list_free(&l);
  if (rc) return rc;
  if (batcher_tick(&cs->b, ts, false, &closed) == 1) return close_batch(p, cs, &closed, err, errlen);
  return 0;
}

int pipeline_camera_tracks(const pipeline *p, int cam, pipeline_track *out, int max) {
  if (cam < 0 || cam >= p->ncams) return -1;
  const cam_state *cs = p->cams[cam];
  int n = 0;
  for (int i = 0; i < cs->tr.n && n < max; i++) {
    const track_t *t = &cs->tr.t[i];
    if (!t->confirmed) continue;
    pipeline_track *o = &out[n++];
    memset(o, 0, sizeof *o);
    o->track_id = t->id;
    snprintf(o->cls, sizeof o->cls, "%s", t->label ? t->label : "");
    o->score = t->score;
    o->bbox = (vigil_bbox){t->x1, t->y1, t->x2, t->y2};
    o->first_seen = t->first_seen;
    o->last_seen = t->last_seen;
    o->stationary = t->stationary;
    o->frames = t->hits;
  }
  return n;
}

int pipeline_flush(pipeline *p, int cam, char *err, size_t errlen) {
  for (int i = 0; i < p->ncams; i++) {
    if (cam >= 0 && i != cam) continue;
    vigil_batch closed;
    int rc = batcher_tick(&p->cams[i]->b, 0, true, &closed) == 1 ? close_batch(p, p->cams[i], &closed, err, errlen) : 0;
    stats_publish(p->cams[i]);
    if (rc) return -1;
  }
  return 0;
}

int pipeline_tick(pipeline *p, double now, char *err, size_t errlen) {
  for (int i = 0; i < p->ncams; i++) {
    vigil_batch closed;
    int rc = batcher_tick(&p->cams[i]->b, now, false, &closed) == 1 ? close_batch(p, p->cams[i], &closed, err, errlen) : 0;
    stats_publish(p->cams[i]);
    if (rc) return -1;
  }
  return 0;
}
