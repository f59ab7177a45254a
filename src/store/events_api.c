/* The events service (port 8090): list, get and review risk events, fetch an
 * event's snapshot, and a Server-Sent Events feed of new events.
 *
 * The feed: the HTTP library answers each request with one whole body, so
 * GET /events/stream is a bounded SSE poll. It waits (up to ?wait=, default
 * 10 s; parked by the server, holding no request worker) for events after the client's cursor (Last-Event-ID header or
 * ?after=), sends them as `id: N` + `data: {"type":"new_event","event":{...}}`
 * records with a `retry:` hint, and ends; EventSource clients reconnect and
 * resume from the last id, so nothing is missed between polls. Without a
 * cursor the feed starts at the newest stored event. The store is polled, so
 * events written by another process (vigil analyze) are seen too.
 *
 * Live tiles: each pipeline replaces its cameras' live_state rows (frame with
 * the tracks drawn, tracks as JSON) about once a second; GET /cameras/{id}/live
 * and /live.jpg serve them, and /events/stream?live=1 adds `event: camera`
 * records when a row changes, with ids "EVENT:LIVE" that resume both cursors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "notify/notify.h"
#include "store/events_query.h"
#include "store/events_search.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/sbuf.h"
#include "vigil/http.h"
#include "vigil/plate.h"
#include "vigil/risk.h"
#include "vigil/status.h"
#include "vigil/store.h"
#include "vigil/store_json.h"
#include "web/assets.h"

#define MAX_SNAPSHOT_BYTES (32u << 20)

typedef struct {
  store *st;
  bool own;   /* close on free */
  notify *nt; /* the outbox dispatcher, when MQTT_URL or WEBHOOK_URL is set */
  events_search *search; /* semantic search (src/store/events_search.c) */
} events_ctx;

/* ---- parsing (src/store/events_query.c: strict, and reachable from a fuzz target) ---- */

static int parse_int(const char *s, long lo, long hi, long *out) { return events_parse_int(s, lo, hi, out); }

static int parse_id(const vigil_http_request *req, int64_t *id) { return events_parse_id(req->path_param, id); }

static const char *query_get(void *ud, const char *name) { return vigil_http_query(ud, name); }

/* ---- handlers ----------------------------------------------------------------------------- */

static int h_health(vigil_http_response *res, const vigil_http_request *req) {
  events_ctx *c = req->ctx;
  int v = -1;
  char err[256] = "";
  int rc = store_schema_version(c->st, &v, err, sizeof err);
  return vigil_http_reply_json(res, rc ? 503 : 200,
                               json_pack("{s:s,s:s,s:i,s:b}", "status", rc ? "unhealthy" : "healthy", "store",
                                         store_backend_name(c->st), "schema_version", v, "semantic_search",
                                         events_search_available(c->search)));
}

static int h_list(vigil_http_response *res, const vigil_http_request *req) {
  events_ctx *c = req->ctx;
  store_filter f;
  char msg[160];
  if (events_parse_filter(query_get, (void *)req, &f, msg, sizeof msg)) return vigil_http_error(res, 400, "%s", msg);
  const char *v;
  char plate[PLATE_TEXT_MAX];
  if ((v = vigil_http_query(req, "plate"))) {
    /* normalised like a read plate: "kx21 abc" finds KX21ABC */
    int k = plate_normalize(plate, sizeof plate, NULL, 0, v);
    if (k < 1 || k >= PLATE_TEXT_MAX) return vigil_http_error(res, 400, "plate must be 1-15 letters or digits");
    f.plate = plate;
  }
  vigil_event *evs;
  size_t cnt;
  char err[512] = "";
  int rc = store_list_events(c->st, &f, &evs, &cnt, err, sizeof err);
  if (rc) return vigil_http_error(res, store_http_status(rc), "%s", err);
  json_t *arr = json_array();
  for (size_t i = 0; i < cnt; i++) json_array_append_new(arr, vigil_event_to_json(&evs[i]));
  store_events_free(evs, cnt);
  return vigil_http_reply_json(res, 200,
                               json_pack("{s:o,s:i,s:i,s:i}", "events", arr, "count", (int)cnt, "limit",
                                         f.limit, "offset", f.offset));
}

/* The event as JSON (ev freed), or the store's error. */
static int reply_event(vigil_http_response *res, int rc, const char *err, vigil_event *ev) {
  if (rc) return vigil_http_error(res, store_http_status(rc), "%s", err);
  json_t *j = vigil_event_to_json(ev);
  vigil_event_free(ev);
  return vigil_http_reply_json(res, 200, j);
}

/* The event the path's id names, into *ev (the caller frees it): 0, or -1 with
 * the error reply (bad id, not found, store error) sent and its code in *reply. */
static int load_event(vigil_http_response *res, const vigil_http_request *req, int64_t *id, vigil_event *ev,
                      int *reply) {
  events_ctx *c = req->ctx;
  if (parse_id(req, id)) return *reply = vigil_http_error(res, 400, "event id must be a positive integer"), -1;
  char err[512] = "";
  int rc = store_get_event(c->st, *id, ev, err, sizeof err);
  if (rc) return *reply = vigil_http_error(res, store_http_status(rc), "%s", err), -1;
  return 0;
}

static int h_get(vigil_http_response *res, const vigil_http_request *req) {
  events_ctx *c = req->ctx;
  int64_t id;
  if (parse_id(req, &id)) return vigil_http_error(res, 400, "event id must be a positive integer");
  vigil_event ev;
  char err[512] = "";
  int rc = store_get_event(c->st, id, &ev, err, sizeof err);
  return reply_event(res, rc, err, &ev);
}

static int h_patch(vigil_http_response *res, const vigil_http_request *req) {
  events_ctx *c = req->ctx;
  int64_t id;
  if (parse_id(req, &id)) return vigil_http_error(res, 400, "event id must be a positive integer");
  int reviewed;
  char *notes, msg[160];
  if (events_parse_patch(req->body, req->body_len, &reviewed, &notes, msg, sizeof msg))
    return vigil_http_error(res, 400, "%s", msg);
  vigil_event ev;
  char err[512] = "";
  int rc = store_patch_event(c->st, id, reviewed, notes, &ev, err, sizeof err);
  free(notes);
  return reply_event(res, rc, err, &ev);
}

/* Answers with the image file at path (a snapshot the pipeline wrote); 404
 * when it is gone or not a plain file of a sane size. */
static int reply_snapshot(vigil_http_response *res, const char *path, const char *what) {
  FILE *f = fopen(path, "rb");
  struct stat stt;
  if (!f || fstat(fileno(f), &stt) || !S_ISREG(stt.st_mode) || stt.st_size > MAX_SNAPSHOT_BYTES) {
    vlog_warn("events: snapshot of %s unreadable: %s", what, path);
    if (f) fclose(f);
    return vigil_http_error(res, 404, "the snapshot of %s is no longer available", what);
  }
  size_t n = (size_t)stt.st_size;
  char *buf = malloc(n ? n : 1);
  size_t got = buf ? fread(buf, 1, n, f) : 0;
  fclose(f);
  size_t pl = strlen(path);
  const char *ct = pl > 4 && !strcasecmp(path + pl - 4, ".png") ? "image/png" : "image/jpeg";
  if (!buf || got != n) {
    free(buf);
    return vigil_http_error(res, 500, "reading the snapshot failed");
  }
  int rc = vigil_http_reply(res, 200, ct, buf, n);
  free(buf);
  return rc;
}

static int h_snapshot(vigil_http_response *res, const vigil_http_request *req) {
  int64_t id;
  vigil_event ev;
  int rc;
  if (load_event(res, req, &id, &ev, &rc)) return rc;
  if (!ev.snapshot_path || !ev.snapshot_path[0]) {
    vigil_event_free(&ev);
    return vigil_http_error(res, 404, "event %lld has no snapshot", (long long)id);
  }
  char what[64];
  snprintf(what, sizeof what, "event %lld", (long long)id);
  rc = reply_snapshot(res, ev.snapshot_path, what);
  vigil_event_free(&ev);
  return rc;
}

/* GET /detections/{id}/snapshot: the JPEG of a tracked object's best sighting. */
static int h_detection_snapshot(vigil_http_response *res, const vigil_http_request *req) {
  events_ctx *c = req->ctx;
  const char *id = req->path_param;
  if (!id || !*id || strlen(id) >= VIGIL_ID_LEN) return vigil_http_error(res, 400, "bad detection id");
  char *path = NULL, err[512] = "";
  int rc = store_detection_snapshot(c->st, id, &path, err, sizeof err);
  if (rc) return vigil_http_error(res, store_http_status(rc), "%s", err);
  if (!path[0]) {
    free(path);
    return vigil_http_error(res, 404, "detection %s has no snapshot", id);
  }
  char what[VIGIL_ID_LEN + 16];
  snprintf(what, sizeof what, "detection %s", id);
  rc = reply_snapshot(res, path, what);
  free(path);
  return rc;
}

/* A parked stream between polls (the server keeps it, then free()s it). */
typedef struct {
  int64_t cursor;
  double deadline;
  bool live;           /* ?live=1: also `camera` records when a camera's live state changes */
  int64_t live_cursor; /* the live_state seq sent last */
} stream_state;

/* The SSE id: the event cursor, and with ?live=1 also the live cursor ("12:345"),
 * so a reconnecting EventSource resumes both. */
static void stream_id(sbuf *out, const stream_state *ss) {
  if (ss->live)
    sbuf_addf(out, "id: %lld:%lld\n", (long long)ss->cursor, (long long)ss->live_cursor);
  else
    sbuf_addf(out, "id: %lld\n", (long long)ss->cursor);
}

static json_t *live_json(const store_live *l);

/* One SSE message, data {"type": type, type_key: obj} (taking obj), after
 * an `event: sse_event` line when sse_event is not NULL; nothing when it
 * cannot be serialised. The caller has advanced the cursors past it. */
static void stream_msg(sbuf *out, const stream_state *ss, const char *sse_event, const char *type,
                       const char *type_key, json_t *obj) {
  json_t *msg = json_pack("{s:s,s:o}", "type", type, type_key, obj);
  char *txt = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
  json_decref(msg);
  if (!txt) return;
  if (sse_event) sbuf_addf(out, "event: %s\n", sse_event);
  stream_id(out, ss);
  sbuf_addf(out, "data: %s\n\n", txt);
  free(txt);
}

/* Sends the events after *cursor, or, when there are none, waits: returns
 * VIGIL_HTTP_POLL until the deadline, then answers with the cursor kept. */
static int stream_poll(vigil_http_response *res, events_ctx *c, stream_state *ss) {
  char err[512] = "";
  vigil_event *evs;
  size_t n, nl = 0;
  store_live *lv = NULL;
  if (store_events_after(c->st, ss->cursor, 100, &evs, &n, err, sizeof err))
    return vigil_http_error(res, 500, "%s", err);
  if (ss->live && store_live_after(c->st, ss->live_cursor, &lv, &nl, err, sizeof err)) {
    store_events_free(evs, n);
    return vigil_http_error(res, 500, "%s", err);
  }
  if (!n && !nl && vigil_mono_s() < ss->deadline) {
    store_events_free(evs, n);
    return VIGIL_HTTP_POLL;
  }
  sbuf out;
  sbuf_init(&out, 0);
  sbuf_add(&out, "retry: 1000\n\n");
  for (size_t i = 0; i < n; i++) {
    ss->cursor = evs[i].id;
    stream_msg(&out, ss, NULL, "new_event", "event", vigil_event_to_json(&evs[i]));
  }
  store_events_free(evs, n);
  for (size_t i = 0; i < nl; i++) {
    ss->live_cursor = lv[i].seq;
    stream_msg(&out, ss, "camera", "camera", "camera", live_json(&lv[i]));
  }
  store_lives_free(lv, nl);
  if (!n && !nl) { /* keeps the cursor */
    sbuf_add(&out, ": no new events\n");
    stream_id(&out, ss);
    sbuf_add(&out, "\n");
  }
  if (out.oom) {
    sbuf_free(&out);
    return vigil_http_error(res, 500, "out of memory");
  }
  int rc = vigil_http_reply(res, 200, "text/event-stream", out.s, out.len);
  sbuf_free(&out);
  return rc;
}

/* ---- live state of a camera ---- */

static json_t *iso_or_null(double t) {
  if (!(t > 0) || t > 1e11) return json_null();
  time_t sec = (time_t)t;
  struct tm tm;
  gmtime_r(&sec, &tm);
  char buf[40], out[48];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  int ms = (int)((t - (double)sec) * 1000);
  snprintf(out, sizeof out, "%s.%03dZ", buf, ms < 0 ? 0 : ms > 999 ? 999 : ms);
  return json_string(out);
}

/* {"camera_id","seq","updated_at","frame_ts","width","height","tracks":[...],"stats":{...},"frame"}: frame is
 * the URL of the annotated JPEG (null without one), versioned by seq so browsers refetch it. */
static json_t *live_json(const store_live *l) {
  json_t *tracks = json_loads(l->tracks_json ? l->tracks_json : "[]", 0, NULL);
  if (!json_is_array(tracks)) { /* a damaged row: no tracks rather than no answer */
    json_decref(tracks);
    tracks = json_array();
  }
  json_t *stats = json_loads(l->stats_json ? l->stats_json : "{}", 0, NULL);
  if (!json_is_object(stats)) {
    json_decref(stats);
    stats = json_object();
  }
  char *esc = NULL, url[256];
  json_t *cam = json_string(l->camera_id);
  json_t *frame = json_null();
  if (cam && l->has_jpeg) {
    /* percent-encode the id for the URL (ids are free text) */
    size_t n = strlen(l->camera_id);
    esc = malloc(n * 3 + 1);
    size_t k = 0;
    for (size_t i = 0; esc && i < n; i++) {
      unsigned char ch = (unsigned char)l->camera_id[i];
      if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || strchr("-_.~", ch))
        esc[k++] = (char)ch;
      else
        k += (size_t)snprintf(esc + k, 4, "%%%02X", ch);
    }
    if (esc) esc[k] = '\0';
    if (esc && snprintf(url, sizeof url, "/cameras/%s/live.jpg?seq=%lld", esc, (long long)l->seq) < (int)sizeof url) {
      json_decref(frame);
      frame = json_string(url);
    }
  }
  free(esc);
  return json_pack("{s:o,s:I,s:o,s:o,s:i,s:i,s:o,s:o,s:o}", "camera_id", cam ? cam : json_string(""), "seq",
                   (json_int_t)l->seq, "updated_at", iso_or_null(l->updated_at), "frame_ts",
                   iso_or_null(l->frame_ts), "width", l->width, "height", l->height, "tracks", tracks, "stats", stats,
                   "frame", frame);
}

/* The live state of the path's camera (its JPEG too when with_jpeg): true
 * and *l (the caller frees it), or false with the error reply written and
 * *reply what writing it returned. */
static bool live_get(vigil_http_response *res, const vigil_http_request *req, bool with_jpeg, store_live *l,
                     int *reply) {
  events_ctx *c = req->ctx;
  const char *id = req->path_param;
  char err[512] = "";
  int rc = 0;
  if (!id || !*id || strlen(id) >= VIGIL_ID_LEN)
    *reply = vigil_http_error(res, 400, "camera id must be 1-63 bytes");
  else if ((rc = store_get_live(c->st, id, with_jpeg, l, err, sizeof err)))
    *reply = vigil_http_error(res, store_http_status(rc), "%s", err);
  else
    return true;
  return false;
}

/* GET /cameras/{id}/live: what the camera's pipeline sees now. */
static int h_live(vigil_http_response *res, const vigil_http_request *req) {
  store_live l;
  int rc;
  if (!live_get(res, req, false, &l, &rc)) return rc;
  json_t *j = live_json(&l);
  store_live_free(&l);
  return vigil_http_reply_json(res, 200, j);
}

/* GET /cameras/{id}/live.jpg: the annotated frame of that state. */
static int h_live_jpg(vigil_http_response *res, const vigil_http_request *req) {
  store_live l;
  int rc;
  if (!live_get(res, req, true, &l, &rc)) return rc;
  rc = l.jpeg ? vigil_http_reply(res, 200, "image/jpeg", l.jpeg, l.jpeg_len)
                  : vigil_http_error(res, 404, "camera %s has no live frame", l.camera_id);
  store_live_free(&l);
  return rc;
}

/* The wait happens parked (VIGIL_HTTP_POLL), so streams hold no request worker. */
static int h_stream(vigil_http_response *res, const vigil_http_request *req) {
  events_ctx *c = req->ctx;
  if (req->poll_state && *req->poll_state) return stream_poll(res, c, *req->poll_state);
  long after = -1, live_after = -1, wait_s = 10, live = 0;
  const char *v = vigil_http_query(req, "live");
  if (v && parse_int(v, 0, 1, &live)) return vigil_http_error(res, 400, "live must be 0 or 1");
  v = vigil_http_header(req, "Last-Event-ID");
  if (!v || !*v) v = vigil_http_query(req, "after");
  if (v && events_parse_cursor(v, live != 0, &after, &live_after))
    return vigil_http_error(res, 400, "after / Last-Event-ID must be an event id (with live=1: EVENT:LIVE)");
  if ((v = vigil_http_query(req, "wait")) && parse_int(v, 0, 60, &wait_s))
    return vigil_http_error(res, 400, "wait must be 0..60 seconds");
  char err[512] = "";
  stream_state st = {.cursor = after, .deadline = vigil_mono_s() + (double)wait_s, .live = live != 0,
                     .live_cursor = live_after};
  if (after < 0) {
    int rc = store_max_event_id(c->st, &st.cursor, err, sizeof err);
    if (rc) return vigil_http_error(res, 500, "%s", err);
  }
  if (st.live && live_after < 0) { /* from now: the page loads the current state itself */
    int rc = store_live_max_seq(c->st, &st.live_cursor, err, sizeof err);
    if (rc) return vigil_http_error(res, 500, "%s", err);
  }
  /* without a server to park it (in-process callers), the wait is 0 */
  if (!req->poll_state) st.deadline = 0;
  int rc = stream_poll(res, c, &st);
  if (rc != VIGIL_HTTP_POLL) return rc;
  stream_state *ss = malloc(sizeof *ss);
  if (!ss) return vigil_http_error(res, 500, "out of memory");
  *ss = st;
  *req->poll_state = ss;
  return VIGIL_HTTP_POLL;
}

/* GET /events/{id}/detections: the event's boxes and their enrichment (dashboard). */
static int h_detections(vigil_http_response *res, const vigil_http_request *req) {
  events_ctx *c = req->ctx;
  int64_t id;
  vigil_event ev;
  int rc;
  if (load_event(res, req, &id, &ev, &rc)) return rc;
  char err[512] = "";
  vigil_event_free(&ev);
  vigil_detection *d;
  size_t n;
  if ((rc = store_event_detections(c->st, id, &d, &n, err, sizeof err))) return vigil_http_error(res, 500, "%s", err);
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++) {
    json_t *j = vigil_detection_to_json(&d[i]);
    char *txt = NULL;
    if (!store_get_enrichment(c->st, d[i].id, &txt, NULL, 0) && txt) {
      json_t *e = json_loads(txt, 0, NULL);
      if (e) json_object_set_new(j, "enrichment", e);
    }
    free(txt);
    json_array_append_new(arr, j);
  }
  free(d);
  return vigil_http_reply_json(res, 200, json_pack("{s:I,s:o}", "event_id", (json_int_t)id, "detections", arr));
}

/* GET /api/cameras: the cameras of the store, each with its newest event and
 * its live state (or null). */
static int h_cameras(vigil_http_response *res, const vigil_http_request *req) {
  events_ctx *c = req->ctx;
  store_camera *cams;
  size_t n;
  char err[512] = "";
  if (store_list_cameras(c->st, &cams, &n, err, sizeof err)) return vigil_http_error(res, 500, "%s", err);
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++) {
    store_filter f = store_default_filter();
    f.camera_id = cams[i].id;
    f.limit = 1;
    vigil_event *evs = NULL;
    size_t ne = 0;
    json_t *last = json_null();
    if (!store_list_events(c->st, &f, &evs, &ne, NULL, 0) && ne) {
      json_decref(last);
      last = vigil_event_to_json(&evs[0]);
    }
    store_events_free(evs, ne);
    json_t *live = json_null();
    store_live l;
    if (!store_get_live(c->st, cams[i].id, false, &l, NULL, 0)) {
      json_decref(live);
      live = live_json(&l);
      store_live_free(&l);
    }
    json_array_append_new(arr, json_pack("{s:s,s:s,s:o,s:o}", "id", cams[i].id, "name", cams[i].name, "last_event",
                                         last, "live", live));
  }
  free(cams);
  return vigil_http_reply_json(res, 200, json_pack("{s:o}", "cameras", arr));
}

/* GET /api/rules: the risk rule table (ids the events list under "rules"). */
static int h_rules(vigil_http_response *res, const vigil_http_request *req) {
  (void)req;
  size_t n;
  const risk_rule *t = risk_rules_table(&n);
  static const char *const kinds[] = {"base", "add", "floor"};
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++)
    json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:i}", "id", t[i].id, "description", t[i].description, "kind",
                                         kinds[t[i].kind], "value", t[i].value));
  return vigil_http_reply_json(res, 200, json_pack("{s:o}", "rules", arr));
}

/* GET /event/{id}: the dashboard's page of one event; the app shell with 404
 * when the event does not exist, so the page and its status both say so. */
static int h_event_page(vigil_http_response *res, const vigil_http_request *req) {
  events_ctx *c = req->ctx;
  int64_t id;
  int status = 404;
  if (!parse_id(req, &id)) {
    vigil_event ev;
    int rc = store_get_event(c->st, id, &ev, NULL, 0);
    if (!rc) vigil_event_free(&ev);
    status = rc == 0 ? 200 : rc == STORE_ENOTFOUND ? 404 : 500;
  }
  return web_reply_asset(res, "index.html", status);
}

/* GET|POST /events/search, GET /events/{id}/similar: src/store/events_search.c */
static int h_search(vigil_http_response *res, const vigil_http_request *req) {
  events_ctx *c = req->ctx;
  return events_search_h_text(res, req, c->st, c->search);
}

static int h_similar(vigil_http_response *res, const vigil_http_request *req) {
  events_ctx *c = req->ctx;
  return events_search_h_similar(res, req, c->st, c->search);
}

/* ---- the service ------------------------------------------------------------------------ */

static int events_init(void **ctx, const vigil_config *cfg, char *err, size_t errlen) {
  *ctx = NULL;
  char url[1024];
  const char *u = vigil_config_str(cfg, "VIGIL_DB");
  if (u && *u)
    snprintf(url, sizeof url, "%s", u);
  else if (store_default_url(url, sizeof url)) {
    vigil_err(err, errlen, -1, "store URL too long");
    return -1;
  }
  events_ctx *c = calloc(1, sizeof *c);
  if (!c) return -1;
  if (store_open(&c->st, url, err, errlen)) {
    free(c);
    return -1;
  }
  c->own = true;
  if (events_search_open(&c->search, cfg)) {
    store_close(c->st);
    free(c);
    vigil_err(err, errlen, -1, "out of memory");
    return -1;
  }
  if (notify_start(&c->nt, c->st, err, errlen)) {
    events_search_close(c->search);
    store_close(c->st);
    free(c);
    return -1;
  }
  *ctx = c;
  return 0;
}

static void events_metrics(vigil_metrics_out *o, void *ctx) {
  events_ctx *c = ctx;
  if (c) notify_metrics(c->nt, o);
}

static void events_free(void *ctx) {
  events_ctx *c = ctx;
  if (!c) return;
  notify_stop(c->nt);
  events_search_close(c->search);
  if (c->own) store_close(c->st);
  free(c);
}

static const vigil_http_route events_routes[] = {
    {"GET", "/health", h_health},
    {"GET", "/events", h_list},
    {"GET", "/events/stream", h_stream}, /* before /events/{id} */
    {"GET", "/events/search", h_search},
    {"POST", "/events/search", h_search},
    {"GET", "/events/{id}/similar", h_similar},
    {"GET", "/events/{id}/snapshot", h_snapshot},
    {"GET", "/events/{id}", h_get},
    {"PATCH", "/events/{id}", h_patch},
    {"GET", "/events/{id}/detections", h_detections},
    {"GET", "/cameras/{id}/live", h_live},
    {"GET", "/cameras/{id}/live.jpg", h_live_jpg},
    {"GET", "/detections/{id}/snapshot", h_detection_snapshot},
    /* the dashboard */
    {"GET", "/", web_h_index},
    {"GET", "/ui/{file}", web_h_asset},
    {"GET", "/event/{id}", h_event_page},
    {"GET", "/api/cameras", h_cameras},
    {"GET", "/api/rules", h_rules},
    {"GET", "/api/services", web_h_services},
    {"GET", "/api/services/{name}/health", web_h_proxy},
    {"GET", "/api/services/{name}/metrics", web_h_proxy},
    {"GET", "/api/services/{name}/models/status", web_h_proxy},
    {"POST", "/api/services/{name}/models/preload", web_h_proxy},
    {"POST", "/api/services/{name}/models/unload", web_h_proxy},
};

const vigil_service vigil_service_events = VIGIL_SERVICE("events", 8090, events_routes, .init = events_init,
                                                          .free = events_free, .metrics = events_metrics,
                                                          .max_body = 64 * 1024);
