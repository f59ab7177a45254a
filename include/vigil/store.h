/* The event store: cameras, detections, enrichment results and risk events,
 * in SQLite (default, WAL) or PostgreSQL (libpq), with one schema, versioned
 * migrations and one API behind a small backend table.
 *
 * Threads: a store handle may be shared by threads; calls on one handle are
 * serialised by its mutex. Several processes may open the same SQLite file.
 * Ownership: events returned by the store are owned by the caller
 * (vigil_event_free / store_events_free). Fallible calls return 0 or a
 * negative STORE_E* and write a readable message into err[errlen] (err may be
 * NULL). */
#ifndef VIGIL_STORE_H
#define VIGIL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/event.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes, defined once: X(name, code, HTTP status, message). EDB: the
 * database reported an error; EUNSUPPORTED: e.g. PostgreSQL asked for but not
 * built in. */
#define STORE_STATUS_MAP(X)                                      \
  X(OK, 0, 200, "ok")                                            \
  X(EINVAL, -1, 400, "bad argument, URL or filter")              \
  X(ENOTFOUND, -2, 404, "no such event")                         \
  X(EDB, -3, 500, "database error")                              \
  X(ENOMEM, -4, 500, "out of memory")                            \
  X(EUNSUPPORTED, -5, 500, "store backend not built in")

enum {
#define STORE_X_(name, code, http, msg) STORE_##name = code,
  STORE_STATUS_MAP(STORE_X_)
#undef STORE_X_
};

const char *store_strerror(int status);
int store_http_status(int status); /* 200, 400, 404, 500 */

typedef struct store store;

/* url: "sqlite:///abs/path.db", "sqlite://rel.db", "sqlite::memory:", a bare
 * path (SQLite), or "postgresql://user@host:port/db?..." / "postgres://...".
 * Opens, configures (SQLite: WAL, foreign keys, busy timeout) and migrates. */
int store_open(store **out, const char *url, char *err, size_t errlen);
void store_close(store *s); /* NULL is a no-op */

const char *store_backend_name(const store *s); /* "sqlite" or "postgresql" */
int store_schema_version(store *s, int *version, char *err, size_t errlen);
int store_latest_schema_version(void);

/* The store URL from config key VIGIL_DB, default sqlite://$VIGIL_HOME/vigil.db. */
int store_default_url(char *buf, size_t len);

/* Adds or updates a camera row. */
int store_upsert_camera(store *s, const char *id, const char *name, const char *source, char *err,
                        size_t errlen);

/* Writes a batch's camera (if new), detections, enrichment results, the event
 * and its detection links in one transaction. ev holds the scored event (from
 * risk_analyze); on return ev->id is set. The idempotency key is
 * (camera, window_start, batch_key), batch_key defaulting to a hash of the
 * detection ids: inserting the same batch again stores nothing, sets
 * *duplicate (may be NULL) and replaces *ev with the stored event. */
int store_insert_batch(store *s, const vigil_batch *b, vigil_event *ev, bool *duplicate, char *err,
                       size_t errlen);

typedef struct {
  const char *camera_id; /* NULL = any */
  const char *level;     /* NULL = any; else low|medium|high|critical */
  double since, until;   /* unix seconds; 0 = open; events whose window overlaps */
  int reviewed;          /* -1 any, 0 not reviewed, 1 reviewed */
  int limit;             /* 1..1000; default 50 */
  int offset;            /* >= 0 */
  const char *plate;     /* NULL = any; else a normalised licence plate (KX21ABC) read in the event */
  const char *rule;      /* NULL = any; else the id of a risk rule that fired (weapon_knife) */
} store_filter;

store_filter store_default_filter(void);

/* Newest first (window_start, then id). *evs is malloc'ed (NULL when n = 0). */
int store_list_events(store *s, const store_filter *f, vigil_event **evs, size_t *n, char *err, size_t errlen);
void store_events_free(vigil_event *evs, size_t n);

int store_get_event(store *s, int64_t id, vigil_event *out, char *err, size_t errlen);

/* reviewed: -1 keeps it; notes: NULL keeps them. out (may be NULL) receives
 * the updated event. STORE_ENOTFOUND for an unknown id. */
int store_patch_event(store *s, int64_t id, int reviewed, const char *notes, vigil_event *out, char *err,
                      size_t errlen);

/* Events with id > after_id, oldest first, at most limit (1..1000): the
 * cursor of the live stream. */
int store_events_after(store *s, int64_t after_id, int limit, vigil_event **evs, size_t *n, char *err,
                       size_t errlen);
/* The highest event id (0 when there is none). */
int store_max_event_id(store *s, int64_t *id, char *err, size_t errlen);

/* Rows in one of: cameras, detections, enrichment_results, events, event_detections, outbox. */
int store_count(store *s, const char *table, int64_t *n, char *err, size_t errlen);

/* The stored enrichment JSON text of a detection (*json malloc'ed; NULL if none). */
int store_get_enrichment(store *s, const char *detection_id, char **json, char *err, size_t errlen);
/* The path of a detection's object snapshot (*path malloc'ed, "" when it has
 * none); STORE_ENOTFOUND for no such detection. */
int store_detection_snapshot(store *s, const char *detection_id, char **path, char *err, size_t errlen);

/* ---- the notification outbox ----------------------------------------------------------
 * store_insert_batch writes one outbox row per configured sink in the event's
 * own transaction; a dispatcher (src/notify) delivers due rows and marks them
 * sent only after the broker or webhook acknowledged them (at-least-once; the
 * event id is the de-duplication key). The sinks default from the config:
 * MQTT_URL set -> "mqtt", WEBHOOK_URL set -> "webhook" for events at or above
 * WEBHOOK_MIN_LEVEL. */
enum { STORE_SINK_MQTT = 1, STORE_SINK_WEBHOOK = 2 };
/* Overrides the configured sinks of this handle; level NULL = low. */
int store_set_outbox(store *s, unsigned sinks, const char *webhook_min_level);

typedef struct {
  int64_t id, event_id;
  char sink[16]; /* "mqtt" or "webhook" */
  int attempts;  /* failed attempts so far */
} store_outbox_item;

/* Unsent rows of `sink` whose next attempt is due at `now`, oldest first
 * (*items malloc'ed, NULL when none). Each row returned is claimed until
 * now + lease_s: other dispatchers on the same store skip it meanwhile, and
 * it is due again after the lease if its claimer never reported back. */
int store_outbox_due(store *s, const char *sink, double now, double lease_s, int limit, store_outbox_item **items,
                     size_t *n, char *err, size_t errlen);
int store_outbox_sent(store *s, int64_t id, char *err, size_t errlen);
/* Gives a claimed row back unattempted (due at once). */
int store_outbox_release(store *s, int64_t id, char *err, size_t errlen);
/* Counts a failed attempt and sets the time of the next one. */
int store_outbox_retry(store *s, int64_t id, double next_at, const char *error, char *err, size_t errlen);
int store_outbox_pending(store *s, const char *sink, int64_t *n, char *err, size_t errlen);

/* The detections of an event in stored order (*dets malloc'ed). */
int store_event_detections(store *s, int64_t event_id, vigil_detection **dets, size_t *n, char *err,
                           size_t errlen);

typedef struct {
  char id[VIGIL_ID_LEN];
  char name[VIGIL_NAME_LEN];
} store_camera;
int store_list_cameras(store *s, store_camera **cams, size_t *n, char *err, size_t errlen); /* *cams malloc'ed */

/* ---- durable open batches (a crash loses no detection) ---- */

/* Stores a detection of a still-open batch (with its enrichment) at once, in
 * one transaction. *fresh is false, and nothing is written, when the
 * detection id is already stored: the frame was processed before (a restart
 * going over the same file) and must not be counted again. */
int store_add_open_detection(store *s, const char *camera_name, const vigil_detection *d, const vigil_enrichment *e,
                             bool *fresh, char *err, size_t errlen);
/* The open batch of a camera as stored (n = 0: none), in arrival order; the
 * caller frees it. store_insert_batch closes its rows. */
int store_open_batch(store *s, const char *camera_id, vigil_batch *b, char *err, size_t errlen);
/* Cameras with an open batch (*ids malloc'ed, *n of them). */
int store_open_cameras(store *s, char (**ids)[VIGIL_ID_LEN], int *n, char *err, size_t errlen);

/* ---- the watcher's ledger of files (exactly once across restarts) ---- */

int store_file_seen(store *s, const char *path, long long size, int64_t mtime_ns, bool *seen, char *err,
                    size_t errlen);
/* status: "processed", "failed" (could not be read or decoded), "preexisting". */
int store_mark_file(store *s, const char *path, long long size, int64_t mtime_ns, const char *status, char *err,
                    size_t errlen);
/* Records root as watched; *first is true the first time ever. */
int store_watch_root_first_start(store *s, const char *root, bool *first, char *err, size_t errlen);

/* ---- CLIP embeddings of an event, for semantic search (src/store/embeddings.c) ----
 * The pipeline stores, after the event, the embedding of its snapshot and of its
 * confirmed person and vehicle crops; the events API ranks events by them. */
#define STORE_MAX_EMBEDDINGS 9 /* per event: the snapshot and up to 8 crops */
#define STORE_MAX_EMBED_DIM 4096

typedef struct {
  char kind[16];                   /* "snapshot" or "crop" */
  char detection_id[VIGIL_ID_LEN]; /* the crop's detection; "" = none (the snapshot) */
  char label[VIGIL_NAME_LEN];      /* the crop's class, "" for the snapshot */
  int dim;
  float *vec;                      /* dim floats (L2-normalised by the caller) */
} store_embedding;

/* Replaces the embeddings of an event (at most STORE_MAX_EMBEDDINGS, one width). */
int store_put_embeddings(store *s, int64_t event_id, const store_embedding *e, int n, char *err, size_t errlen);
/* The embeddings of one event in stored order (*e malloc'ed with their vectors; n 0 = none). */
int store_event_embeddings(store *s, int64_t event_id, store_embedding **e, int *n, char *err, size_t errlen);
void store_embeddings_free(store_embedding *e, int n);

/* Calls fn for every stored embedding of width dim, by event id then order; the
 * store is read a page at a time (memory stays bounded, writers are not held up).
 * e->vec is valid during the call only. Non-zero from fn stops the scan. */
typedef int (*store_embedding_fn)(void *ud, int64_t event_id, const store_embedding *e);
int store_scan_embeddings(store *s, int dim, store_embedding_fn fn, void *ud, char *err, size_t errlen);
/* ---- live state: what each camera's pipeline sees now (dashboard tiles) ----
 * The pipeline (vigil analyze, watch mode, streams) replaces its camera's row
 * at a bounded rate (LIVE_INTERVAL_S); the events service, in this or another
 * process on the same store, serves it and pushes a `camera` record on its
 * SSE stream when a row's seq grows. */
#define STORE_LIVE_MAX_JPEG (4u << 20)
#define STORE_LIVE_MAX_TRACKS_JSON (256u << 10)
typedef struct {
  char camera_id[VIGIL_ID_LEN];
  int64_t seq;          /* grows with every publish of any camera */
  double updated_at;    /* unix seconds of the publish */
  double frame_ts;      /* unix seconds of the frame */
  int width, height;    /* of the frame the boxes are in */
  char *tracks_json;    /* owned: JSON array of the confirmed tracks */
  char *stats_json;     /* owned: JSON object, the camera's pipeline counters and stage times */
  uint8_t *jpeg;        /* owned: the annotated frame; NULL when not asked for or none */
  size_t jpeg_len;
  bool has_jpeg;        /* the row holds a frame (also when it was not asked for) */
} store_live;
void store_live_free(store_live *l); /* the members; NULL is a no-op */
void store_lives_free(store_live *l, size_t n);
/* Replaces the camera's row (tracks_json a JSON array and stats_json a JSON
 * object (NULL = {}), each at most STORE_LIVE_MAX_TRACKS_JSON; jpeg may be
 * NULL, at most STORE_LIVE_MAX_JPEG). */
int store_put_live(store *s, const char *camera_id, double frame_ts, int width, int height, const char *tracks_json,
                   const char *stats_json, const uint8_t *jpeg, size_t jpeg_len, char *err, size_t errlen);
/* One camera's row, with its JPEG when with_jpeg; STORE_ENOTFOUND when it has none. */
int store_get_live(store *s, const char *camera_id, bool with_jpeg, store_live *out, char *err, size_t errlen);
/* Rows with seq > after_seq, oldest first, without JPEGs (*out malloc'ed, NULL when none). */
int store_live_after(store *s, int64_t after_seq, store_live **out, size_t *n, char *err, size_t errlen);
int store_live_max_seq(store *s, int64_t *seq, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
