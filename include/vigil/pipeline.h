/* The risk pipeline: camera frames -> detections -> enrichment -> per-camera
 * batches -> risk events -> store. This header holds the pieces that have no
 * I/O of their own (camera registry, batcher) and the pipeline object that
 * ties the stages together for `vigil analyze` and the camera watcher. */
#ifndef VIGIL_PIPELINE_H
#define VIGIL_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/detect.h"
#include "vigil/enrich.h"
#include "vigil/event.h"
#include "vigil/img.h"
#include "vigil/motion.h"
#include "vigil/track.h"

/* ---- cameras ----------------------------------------------------------------------- */

#define CAMERA_MAX_ZONES 8
#define CAMERA_MAX_POINTS 16

typedef struct {
  char name[48];
  int npoints;
  float x[CAMERA_MAX_POINTS], y[CAMERA_MAX_POINTS]; /* polygon, pixels */
  bool entrance;          /* "entrance": true -- a door; people there get depth (approach rule) */
} camera_zone;

typedef struct {
  char id[64];
  char name[48];
  char source[512];       /* folder, file or rtsp:// URL */
  char timezone[48];      /* IANA name, "" = local time of this machine */
  int nzones;
  camera_zone zones[CAMERA_MAX_ZONES];
  float depth_px_per_m;   /* depth calibration: box height in px of a 1.7 m person at 1 m; 0 = none */
  int nmasks;             /* motion masks: polygons where movement is ignored (trees, a busy road) */
  camera_zone masks[CAMERA_MAX_ZONES];
  int nwatch;             /* "watch": classes looked for by YOLO-World (open vocabulary) and raised by the rules */
  char watch[VIGIL_MAX_WATCH][VIGIL_NAME_LEN];
} camera;

/* Point-in-polygon (even-odd). */
bool camera_zone_contains(const camera_zone *z, float x, float y);
/* Local hour/minute of unix time t in the camera's timezone. */
void camera_local_time(const camera *c, double t, int *hour, int *minute);

/* ---- batching (CONTRACTS.md) ---------------------------------------------------------- */

typedef struct {
  double window_s;        /* a batch closes this long after its first detection (90) */
  double idle_s;          /* ... or this long after its last detection (30) */
  int max_detections;     /* ... or at this many detections (100) */
  float fast_path_conf;   /* a person at or above this confidence closes a batch at once (0.90) */
} batch_params;

batch_params batch_default_params(void);

/* One camera's open batch. Feed it detections in time order; it says when a
 * batch is complete. Times are unix seconds (stream time for files). */
typedef struct {
  batch_params p;
  vigil_batch cur;  /* the open batch (cur.n == 0: none) */
  double last_det;
  long serial;      /* counts closed batches: tells an entry index of the open batch from an old one */
#define BATCHER_FAST_IDS 32
  uint32_t fast_ids[BATCHER_FAST_IDS]; /* tracks that took the fast path already */
  int nfast;
} batcher;

void batcher_init(batcher *b, batch_params p, const char *camera_id);
void batcher_free(batcher *b);
/* Adds a detection with its enrichment. Returns 1 when the batch closed with
 * it (fast path or max size): *out receives the closed batch (the caller owns
 * it and frees it with vigil_batch_free) and the batcher starts afresh.
 * Returns 0 otherwise, <0 on out of memory. */
int batcher_add(batcher *b, const vigil_detection *d, const vigil_enrichment *e, vigil_batch *out);
/* Updates entry idx of the open batch (the same tracked object seen again:
 * best sighting, dwell, zones); the entry keeps its id. Keeps the batch open
 * (idle time counts from d->last_seen) and takes the fast path when a person
 * reaches fast_path_conf. Returns 1 with *out filled when it closed, 0, or
 * -1 for an index outside the open batch. */
int batcher_touch(batcher *b, size_t idx, const vigil_detection *d, const vigil_enrichment *e, vigil_batch *out);
/* Closes the open batch when its window or idle time has passed at `now`
 * (or always, with force). Returns 1 with *out filled, 0 if nothing closed. */
int batcher_tick(batcher *b, double now, bool force, vigil_batch *out);

/* ---- the pipeline --------------------------------------------------------------------- */

struct enrich_engine;
struct risk_analyzer;
struct store;

typedef struct {
  double motion_ms, detect_ms, track_ms, enrich_ms, risk_ms, store_ms; /* summed stage times */
  double scene_ms;       /* the scene stage: caption, CLIP anomaly and embeddings (scene.c) */
  long frames, detections, enriched, batches, events, duplicates;
  long frames_gated;     /* frames not detected: no motion, or motion on known tracks between detections */
  long detected_frames;  /* frames the detector looked at */
  long detector_calls;   /* detector images run (one per crop) */
  long tracks_confirmed; /* tracks that became real objects */
  long dropped;          /* live frames dropped under overload (set by the caller that queues frames) */
  /* why gated frames were detected: the whole frame (first frame, still-track re-check),
   * new motion (at once), motion on known tracks (at most detect_fps) */
  long plan_full, plan_new, plan_tracks;
} pipeline_stats;

typedef struct {
  batch_params batch;
  double enrich_interval_s;   /* an object seen again within this reuses its enrichment (10) */
  int max_enrich_per_frame;   /* enrichment calls per frame at most (4) */
  bool enrich;                /* run enrichment at all (true) */
  char snapshot_dir[512];     /* annotated snapshots; "" = none */
  bool motion;                /* motion gating and region crops (true) */
  motion_params motion_params;
  tracker_params track;       /* association and confirmation */
  double detect_fps;          /* while all motion lies on known tracks, detect at most this often (4; 0 = every frame) */
  double recheck_s;           /* still tracks are re-checked on the whole frame this often (5) */
  int max_crops;              /* motion crops per frame before the whole frame is detected instead (1: a crop costs
                                 as much as the whole frame when the frame is not much larger than the input) */
  bool tamper;                /* camera tampering and blindness events (true; vigil/tamper.h) */
  double tamper_fps;          /* frames per second the tampering check looks at (2) */
  double live_interval_s;     /* each camera's live state (frame + tracks, dashboard) is stored at most this
                                 often, wall seconds (1; 0 = never) */
  int live_max_width;         /* the live frame is scaled down to this width (640) */
  /* called for every stored event (also duplicates, flagged) */
  struct yolo_world *world;   /* borrowed: cameras with a watch list also run it on detected frames (NULL = none) */
  float world_conf;           /* its minimum score (YOLO_WORLD_CONFIDENCE, 0.25) */
  void (*on_event)(void *ud, const vigil_event *ev, const vigil_batch *b, bool duplicate);
  void *ud;
  /* Enrichment elsewhere (e.g. over HTTP, vigil/enrich_client.h): called
   * instead of enrich_run(engine, ...) with the same contract; the engine given
   * to pipeline_init may then be NULL. NULL = the in-process engine. */
  int (*enrich_fn)(void *enrich_ud, enrich_result *out, const enrich_request *rq, char *err, size_t errlen);
  void *enrich_ud;
} pipeline_params;

pipeline_params pipeline_default_params(void);
/* Motion and track settings from the configuration (MOTION_*, TRACK_*;
 * docs/configuration.md) over *p. 0, or -1 with err naming the bad key. */
struct vigil_config;
int pipeline_params_from_config(pipeline_params *p, const struct vigil_config *cfg, char *err, size_t errlen);

typedef struct pipeline pipeline;

/* The stages are borrowed: the caller keeps them alive and frees them after
 * pipeline_free. enrich may be NULL (no enrichment). Threads: one camera is
 * driven by one thread at a time, different cameras may run on different
 * threads at once (the detector and enrichment are shared, batches close one
 * at a time under the pipeline's lock); add cameras before starting them. */
int pipeline_init(pipeline **out, pipeline_params p, detector_t *det, struct enrich_engine *enrich,
                  struct risk_analyzer *risk, struct store *st, char *err, size_t errlen);
void pipeline_free(pipeline *p);
/* Registers a camera (also in the store); returns its index or <0. A camera
 * already registered (same id) keeps its index and open batch. In durable
 * mode, an open batch the store holds for the camera (left by a crash) is
 * resumed. */
int pipeline_add_camera(pipeline *p, const camera *c, char *err, size_t errlen);
/* Durable mode (the watcher's): every detection is stored when its frame is
 * processed, as part of its camera's open batch, and a detection already
 * stored (the same frame processed before a restart) is skipped. Without it
 * (files, streams) nothing is written before a batch closes, and a rerun over
 * the same media re-forms the same batches, reported as stored earlier.
 * pipeline_recover turns durable mode on and registers every camera with an open batch in the
 * store (left by a crash or kill), resuming those batches, so that they close
 * (by their clocks, a tick or a flush) even if the camera sends nothing more.
 * find (may be NULL) gives a registry entry. */
int pipeline_recover(pipeline *p, const camera *(*find)(void *ud, const char *id), void *ud, char *err,
                     size_t errlen);
/* One frame of camera `cam` at unix time ts: detect, enrich, batch (durable
 * mode: see pipeline_recover); closed
 * batches are scored, stored and reported through on_event. */
int pipeline_frame(pipeline *p, int cam, const vigil_image *frame, double ts, char *err, size_t errlen);
/* Closes every open batch of camera cam (-1: all cameras), e.g. at the end of a file. */
int pipeline_flush(pipeline *p, int cam, char *err, size_t errlen);
/* Advances the batch clocks without a frame (time passes on idle cameras). */
int pipeline_tick(pipeline *p, double now, char *err, size_t errlen);
const pipeline_stats *pipeline_get_stats(const pipeline *p);
/* Counts frames of camera cam dropped before the pipeline saw them (overload). */
void pipeline_add_dropped(pipeline *p, int cam, long n);
/* Any thread (e.g. /metrics): the number of cameras, and camera cam's id and
 * counters as of its last processed frame (drops: as they happen). -1 for no
 * such camera. */
int pipeline_camera_count(pipeline *p);
int pipeline_camera_stats(pipeline *p, int cam, char *id, size_t idlen, pipeline_stats *out);

/* GET /health and GET /metrics (per-camera counters: frames, drops, gated
 * frames, detector calls, tracks, events) of a running pipeline on `port`
 * (0: the kernel picks; pipeline_http_port tells), under the services' rules
 * (API keys, VIGIL_HTTP_BIND; src/pipeline/pipeline_http.c). Stop it before
 * pipeline_free. */
typedef struct pipeline_http pipeline_http;
int pipeline_http_start(pipeline_http **out, pipeline *p, int port, char *err, size_t errlen);
int pipeline_http_port(const pipeline_http *h);
void pipeline_http_stop(pipeline_http *h);

/* A confirmed object a camera is tracking now (for dashboards). */
#define PIPELINE_MAX_TRACKS 256
typedef struct {
  uint32_t track_id;
  char cls[VIGIL_NAME_LEN];
  float score;          /* last detection */
  vigil_bbox bbox;      /* current (filtered) box, frame pixels */
  double first_seen, last_seen;
  bool stationary;
  int frames;
} pipeline_track;
/* Copies up to max confirmed tracks of camera cam; returns their count or -1
 * for no such camera. Call from the thread that drives the pipeline. */
int pipeline_camera_tracks(const pipeline *p, int cam, pipeline_track *out, int max);

/* ---- the scene stage (src/pipeline/scene.c) ----------------------------------------------
 * When a batch closes, its best snapshot gets a Florence-2 <DETAILED_CAPTION> and a
 * CLIP anomaly score against the camera's rolling baseline (batch->scene: the LLM
 * prompt and the stored event carry them), and CLIP embeddings of the snapshot and
 * of up to CLIP_SEARCH_MAX_CROPS confirmed person/vehicle crops are stored with the
 * event for semantic search. Runs on the camera's thread before the close lock. */
#include "vigil/store.h"

typedef struct pipeline_scene pipeline_scene;
#define PIPELINE_SCENE_MAX_EMBED STORE_MAX_EMBEDDINGS

/* Loads what is installed (CLIP_MODEL_PATH, FLORENCE_MODEL_PATH), logging once what
 * is not; *out is NULL when neither is installed or PIPELINE_SCENE is off. -1 only
 * when out of memory. */
int pipeline_scene_open(pipeline_scene **out, const struct vigil_config *cfg);
void pipeline_scene_close(pipeline_scene *s);
bool pipeline_scene_has_clip(const pipeline_scene *s);
bool pipeline_scene_has_florence(const pipeline_scene *s);
/* Borrowed; set before frames flow (NULL: off). Free it after pipeline_free. */
void pipeline_set_scene(pipeline *p, pipeline_scene *s);

typedef struct {
  int n;
  store_embedding emb[PIPELINE_SCENE_MAX_EMBED]; /* vec owned */
} pipeline_scene_out;

/* Fills b->scene from the snapshot frame (n boxes of it) and out with its embeddings. */
int pipeline_scene_run(pipeline_scene *s, vigil_batch *b, const vigil_image *frame, const vigil_det *dets, int n,
                       pipeline_scene_out *out);
void pipeline_scene_store(struct store *st, int64_t event_id, const pipeline_scene_out *o);
void pipeline_scene_out_free(pipeline_scene_out *o);

#endif
