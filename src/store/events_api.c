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
 * events written by another process (vigil analyze) are seen too. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "risk/sbuf.h"
#include "util/log.h"
#include "vigil/http.h"
#include "vigil/plate.h"
#include "vigil/store.h"

#define MAX_NOTES 10000
#define MAX_SNAPSHOT_BYTES (32u << 20)

typedef struct {
  store *st;
  bool own; /* close on free */
} events_ctx;

/* ---- parsing of query values --------------------------------------------------------- */

/* Unix seconds, or ISO 8601 "YYYY-MM-DDTHH:MM:SS[.fff][Z|+HH:MM|-HH:MM]" (or a date). */
static int parse_time(const char *s, double *out) {
  if (!s || !*s) return -1;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end != s && !*end && !errno && isfinite(v) && v >= 0) {
    *out = v;
    return 0;
  }
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
  if (!p) {
    memset(&tm, 0, sizeof tm);
    p = strptime(s, "%Y-%m-%d", &tm);
    if (!p || *p) return -1;
  }
  double frac = 0;
  if (*p == '.') {
    char *e;
    frac = strtod(p, &e);
    p = e;
  }
  long off = 0;
  if (*p == 'Z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int hh, mm;
    if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2 || hh > 23 || mm > 59) return -1;
    off = (hh * 3600L + mm * 60L) * (*p == '+' ? 1 : -1);
    p += 6;
  }
  if (*p) return -1;
  time_t t = timegm(&tm);
  if (t == (time_t)-1) return -1;
  *out = (double)t - (double)off + frac;
  return 0;
}

static int parse_int(const char *s, long lo, long hi, long *out) {
  if (!s || !*s) return -1;
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (*end || errno || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

static int parse_bool(const char *s, int *out) {
  if (!s) return -1;
  if (!strcasecmp(s, "true") || !strcmp(s, "1")) return *out = 1, 0;
  if (!strcasecmp(s, "false") || !strcmp(s, "0")) return *out = 0, 0;
  return -1;
}

static int parse_id(const vigil_http_request *req, int64_t *id) {
  long v;
  if (!req->path_param) return -1;
  char buf[32];
  const char *slash = strchr(req->path_param, '/');
  size_t n = slash ? (size_t)(slash - req->path_param) : strlen(req->path_param);
  if (n == 0 || n >= sizeof buf) return -1;
  memcpy(buf, req->path_param, n);
  buf[n] = '\0';
  for (size_t i = 0; i < n; i++)
    if (!isdigit((unsigned char)buf[i])) return -1;
  if (parse_int(buf, 1, 0x7fffffffffffL, &v)) return -1;
  *id = v;
  return 0;
}

static int store_status(int rc) { return rc == STORE_ENOTFOUND ? 404 : rc == STORE_EINVAL ? 400 : 500; }

/* ---- handlers ----------------------------------------------------------------------------- */

static int h_health(vigil_http_response *res, const vigil_http_request *req) {
  events_ctx *c = req->ctx;
  int v = -1;
  char err[256] = "";
  int rc = store_schema_version(c->st, &v, err, sizeof err);
  return vigil_http_reply_json(res, rc ? 503 : 200,
                               json_pack("{s:s,s:s,s:i}", "status", rc ? "unhealthy" : "healthy", "store",
                                         store_backend_name(c->st), "schema_version", v));
}

static int h_list(vigil_http_response *res, const vigil_http_request *req) {
  events_ctx *c = req->ctx;
  store_filter f = store_default_filter();
  const char *v;
  long n;
  f.camera_id = vigil_http_query(req, "camera");
  if (!f.camera_id) f.camera_id = vigil_http_query(req, "camera_id");
  f.level = vigil_http_query(req, "level");
  if (!f.level) f.level = vigil_http_query(req, "risk_level");
  if (f.level && !vigil_risk_level_valid(f.level))
    return vigil_http_error(res, 400, "level must be low, medium, high or critical");
  if ((v = vigil_http_query(req, "since")) && parse_time(v, &f.since))
    return vigil_http_error(res, 400, "since must be unix seconds or ISO 8601");
  if ((v = vigil_http_query(req, "until")) && parse_time(v, &f.until))
    return vigil_http_error(res, 400, "until must be unix seconds or ISO 8601");
  if (f.since > 0 && f.until > 0 && f.until < f.since) return vigil_http_error(res, 400, "until is before since");
  if ((v = vigil_http_query(req, "reviewed")) && parse_bool(v, &f.reviewed))
    return vigil_http_error(res, 400, "reviewed must be true or false");
  char plate[PLATE_TEXT_MAX];
  if ((v = vigil_http_query(req, "plate"))) {
    /* normalised like a read plate: "kx21 abc" finds KX21ABC */
    int k = plate_normalize(plate, sizeof plate, NULL, 0, v);
    if (k < 1 || k >= PLATE_TEXT_MAX) return vigil_http_error(res, 400, "plate must be 1-15 letters or digits");
    f.plate = plate;
  }
  if ((v = vigil_http_query(req, "limit"))) {
    if (parse_int(v, 1, 1000, &n)) return vigil_http_error(res, 400, "limit must be an integer 1..1000");
    f.limit = (int)n;
  }
  if ((v = vigil_http_query(req, "offset"))) {
    if (parse_int(v, 0, 1000000000, &n)) return vigil_http_error(res, 400, "offset must be an integer >= 0");
    f.offset = (int)n;
  }
  vigil_event *evs;
  size_t cnt;
  char err[512] = "";
  int rc = store_list_events(c->st, &f, &evs, &cnt, err, sizeof err);
  if (rc) return vigil_http_error(res, store_status(rc), "%s", err);
  json_t *arr = json_array();
  for (size_t i = 0; i < cnt; i++) json_array_append_new(arr, vigil_event_to_json(&evs[i]));
  store_events_free(evs, cnt);
  return vigil_http_reply_json(res, 200,
                               json_pack("{s:o,s:i,s:i,s:i}", "events", arr, "count", (int)cnt, "limit",
                                         f.limit, "offset", f.offset));
}

static int h_get(vigil_http_response *res, const vigil_http_request *req) {
  events_ctx *c = req->ctx;
  int64_t id;
  if (parse_id(req, &id)) return vigil_http_error(res, 400, "event id must be a positive integer");
  vigil_event ev;
  char err[512] = "";
  int rc = store_get_event(c->st, id, &ev, err, sizeof err);
  if (rc) return vigil_http_error(res, store_status(rc), "%s", err);
  json_t *j = vigil_event_to_json(&ev);
  vigil_event_free(&ev);
  return vigil_http_reply_json(res, 200, j);
}

static int h_patch(vigil_http_response *res, const vigil_http_request *req) {
  events_ctx *c = req->ctx;
  int64_t id;
  if (parse_id(req, &id)) return vigil_http_error(res, 400, "event id must be a positive integer");
  json_error_t jerr;
  json_t *body = json_loadb((const char *)req->body, req->body_len, 0, &jerr);
  if (!body || !json_is_object(body)) {
    json_decref(body);
    return vigil_http_error(res, 400, "body must be a JSON object {\"reviewed\": bool, \"notes\": string}");
  }
  int reviewed = -1;
  const char *notes = NULL;
  const char *key;
  json_t *val;
  int status = 0;
  char msg[160] = "";
  json_object_foreach(body, key, val) {
    if (!strcmp(key, "reviewed")) {
      if (!json_is_boolean(val)) {
        status = 400, snprintf(msg, sizeof msg, "reviewed must be true or false");
        break;
      }
      reviewed = json_is_true(val);
    } else if (!strcmp(key, "notes")) {
      if (!json_is_string(val)) {
        status = 400, snprintf(msg, sizeof msg, "notes must be a string");
        break;
      }
      if (json_string_length(val) > MAX_NOTES || memchr(json_string_value(val), 0, json_string_length(val))) {
        status = 400, snprintf(msg, sizeof msg, "notes must be at most %d bytes of text", MAX_NOTES);
        break;
      }
      notes = json_string_value(val);
    } else {
      status = 400, snprintf(msg, sizeof msg, "unknown field '%.64s' (reviewed, notes)", key);
      break;
    }
  }
  if (!status && reviewed < 0 && !notes) status = 400, snprintf(msg, sizeof msg, "nothing to change: give reviewed and/or notes");
  if (status) {
    json_decref(body);
    return vigil_http_error(res, status, "%s", msg);
  }
  vigil_event ev;
  char err[512] = "";
  int rc = store_patch_event(c->st, id, reviewed, notes, &ev, err, sizeof err);
  json_decref(body);
  if (rc) return vigil_http_error(res, store_status(rc), "%s", err);
  json_t *j = vigil_event_to_json(&ev);
  vigil_event_free(&ev);
  return vigil_http_reply_json(res, 200, j);
}

static int h_snapshot(vigil_http_response *res, const vigil_http_request *req) {
  events_ctx *c = req->ctx;
  int64_t id;
  if (parse_id(req, &id)) return vigil_http_error(res, 400, "event id must be a positive integer");
  vigil_event ev;
  char err[512] = "";
  int rc = store_get_event(c->st, id, &ev, err, sizeof err);
  if (rc) return vigil_http_error(res, store_status(rc), "%s", err);
  if (!ev.snapshot_path || !ev.snapshot_path[0]) {
    vigil_event_free(&ev);
    return vigil_http_error(res, 404, "event %lld has no snapshot", (long long)id);
  }
  FILE *f = fopen(ev.snapshot_path, "rb");
  struct stat stt;
  if (!f || fstat(fileno(f), &stt) || !S_ISREG(stt.st_mode) || stt.st_size > MAX_SNAPSHOT_BYTES) {
    vlog_warn("events: snapshot of event %lld unreadable: %s", (long long)id, ev.snapshot_path);
    if (f) fclose(f);
    vigil_event_free(&ev);
    return vigil_http_error(res, 404, "the snapshot of event %lld is no longer available", (long long)id);
  }
  size_t n = (size_t)stt.st_size;
  char *buf = malloc(n ? n : 1);
  size_t got = buf ? fread(buf, 1, n, f) : 0;
  fclose(f);
  const char *path = ev.snapshot_path;
  size_t pl = strlen(path);
  const char *ct = pl > 4 && !strcasecmp(path + pl - 4, ".png") ? "image/png" : "image/jpeg";
  vigil_event_free(&ev);
  if (!buf || got != n) {
    free(buf);
    return vigil_http_error(res, 500, "reading the snapshot failed");
  }
  rc = vigil_http_reply(res, 200, ct, buf, n);
  free(buf);
  return rc;
}

static double mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A parked stream between polls (the server keeps it, then free()s it). */
typedef struct {
  int64_t cursor;
  double deadline;
} stream_state;

/* Sends the events after *cursor, or, when there are none, waits: returns
 * VIGIL_HTTP_POLL until the deadline, then answers with the cursor kept. */
static int stream_poll(vigil_http_response *res, events_ctx *c, stream_state *ss) {
  char err[512] = "";
  vigil_event *evs;
  size_t n;
  if (store_events_after(c->st, ss->cursor, 100, &evs, &n, err, sizeof err))
    return vigil_http_error(res, 500, "%s", err);
  if (!n && mono() < ss->deadline) {
    store_events_free(evs, n);
    return VIGIL_HTTP_POLL;
  }
  sbuf out;
  sbuf_init(&out, 0);
  sbuf_add(&out, "retry: 1000\n\n");
  for (size_t i = 0; i < n; i++) {
    json_t *msg = json_pack("{s:s,s:o}", "type", "new_event", "event", vigil_event_to_json(&evs[i]));
    char *txt = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    if (txt) sbuf_addf(&out, "id: %lld\ndata: %s\n\n", (long long)evs[i].id, txt);
    free(txt);
    ss->cursor = evs[i].id;
  }
  store_events_free(evs, n);
  if (!n) sbuf_addf(&out, ": no new events\nid: %lld\n\n", (long long)ss->cursor); /* keeps the cursor */
  if (out.oom) {
    sbuf_free(&out);
    return vigil_http_error(res, 500, "out of memory");
  }
  int rc = vigil_http_reply(res, 200, "text/event-stream", out.s, out.len);
  sbuf_free(&out);
  return rc;
}

/* The wait happens parked (VIGIL_HTTP_POLL), so streams hold no request worker. */
static int h_stream(vigil_http_response *res, const vigil_http_request *req) {
  events_ctx *c = req->ctx;
  if (req->poll_state && *req->poll_state) return stream_poll(res, c, *req->poll_state);
  long after = -1, wait_s = 10;
  const char *v = vigil_http_header(req, "Last-Event-ID");
  if (!v || !*v) v = vigil_http_query(req, "after");
  if (v && parse_int(v, 0, 0x7fffffffffffL, &after))
    return vigil_http_error(res, 400, "after / Last-Event-ID must be an event id");
  if ((v = vigil_http_query(req, "wait")) && parse_int(v, 0, 60, &wait_s))
    return vigil_http_error(res, 400, "wait must be 0..60 seconds");
  char err[512] = "";
  stream_state st = {.cursor = after, .deadline = mono() + (double)wait_s};
  if (after < 0) {
    int rc = store_max_event_id(c->st, &st.cursor, err, sizeof err);
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

/* ---- the service ------------------------------------------------------------------------ */

static int events_init(void **ctx, const vigil_config *cfg, char *err, size_t errlen) {
  *ctx = NULL;
  char url[1024];
  const char *u = vigil_config_str(cfg, "VIGIL_DB");
  if (u && *u)
    snprintf(url, sizeof url, "%s", u);
  else if (store_default_url(url, sizeof url)) {
    snprintf(err, errlen, "store URL too long");
    return -1;
  }
  events_ctx *c = calloc(1, sizeof *c);
  if (!c) return -1;
  if (store_open(&c->st, url, err, errlen)) {
    free(c);
    return -1;
  }
  c->own = true;
  *ctx = c;
  return 0;
}

static void events_free(void *ctx) {
  events_ctx *c = ctx;
  if (!c) return;
  if (c->own) store_close(c->st);
  free(c);
}

static const vigil_http_route events_routes[] = {
    {"GET", "/health", h_health},
    {"GET", "/events", h_list},
    {"GET", "/events/stream", h_stream}, /* before /events/{id} */
    {"GET", "/events/{id}/snapshot", h_snapshot},
    {"GET", "/events/{id}", h_get},
    {"PATCH", "/events/{id}", h_patch},
};

const vigil_service vigil_service_events = {
    .name = "events",
    .port = 8090,
    .routes = events_routes,
    .n_routes = VIGIL_JSON_N(events_routes),
    .init = events_init,
    .free = events_free,
    .max_body = 64 * 1024,
};
