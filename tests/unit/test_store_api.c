/* The events API (service "events") over real HTTP: a server on a free
 * loopback port with a SQLite store in a temporary directory, driven with
 * libcurl. Covers filters, get, PATCH validation, snapshot and the SSE feed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit/test_risk_fixtures.h"
#include "vigil/http.h"
#include "vigil/store.h"
#include "store/events_query.h"

extern const vigil_service vigil_service_events;

static char tmpdir[256];
static vigil_http_server *srv;
static void *svc_ctx;
static store *st; /* a second handle on the same DB, as the pipeline would hold */
static int port;

typedef struct {
  char *data;
  size_t len;
} buf;

static size_t on_data(char *p, size_t sz, size_t n, void *ud) {
  buf *b = ud;
  b->data = realloc(b->data, b->len + sz * n + 1);
  memcpy(b->data + b->len, p, sz * n);
  b->len += sz * n;
  b->data[b->len] = 0;
  return sz * n;
}

/* Returns the status; *body (malloc'ed) the reply. */
static long http(const char *method, const char *path, const char *body, const char *hdr, char **out,
                 char *ctype, size_t ctlen) {
  CURL *h = curl_easy_init();
  char url[512];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
  buf b = {0};
  struct curl_slist *hl = NULL;
  if (hdr) hl = curl_slist_append(hl, hdr);
  if (body) hl = curl_slist_append(hl, "Content-Type: application/json");
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
  if (body) curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
  long status = 0;
  if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (ctype) {
    char *ct = NULL;
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
    snprintf(ctype, ctlen, "%s", ct ? ct : "");
  }
  curl_slist_free_all(hl);
  curl_easy_cleanup(h);
  if (out)
    *out = b.data ? b.data : strdup("");
  else
    free(b.data);
  return status;
}

static json_t *get_json(const char *path, long want) {
  char *body;
  long s = http("GET", path, NULL, NULL, &body, NULL, 0);
  if (s != want) fail_msg("GET %s: %ld, wanted %ld: %s", path, s, want, body);
  json_t *j = json_loads(body, 0, NULL);
  if (!j) fail_msg("GET %s: not JSON: %s", path, body);
  free(body);
  return j;
}

static int64_t add_event(const char *cam, int i, int score, const char *snapshot) {
  vigil_batch b;
  fx_batch(&b, cam, 12);
  b.window_start = 1700000000.0 + 100 * i;
  b.window_end = b.window_start + 90;
  fx_add(&b, "person", 0.9f, NULL);
  char id[64];
  snprintf(id, sizeof id, "%s-%d-x", cam, i);
  vigil_strlcpy(b.dets[0].id, id, sizeof b.dets[0].id);
  if (snapshot) vigil_strlcpy(b.snapshot_path, snapshot, sizeof b.snapshot_path);
  vigil_event ev;
  vigil_event_init(&ev);
  ev.risk_score = score;
  vigil_strlcpy(ev.risk_level, vigil_risk_level(score), sizeof ev.risk_level);
  ev.summary = strdup("sum");
  ev.reasoning = strdup("why");
  vigil_strlcpy(ev.scorer, "rules", sizeof ev.scorer);
  char err[256];
  if (store_insert_batch(st, &b, &ev, NULL, err, sizeof err)) fail_msg("insert: %s", err);
  int64_t r = ev.id;
  vigil_event_free(&ev);
  vigil_batch_free(&b);
  return r;
}

static void list_and_filters(void **state) {
  json_t *j = get_json("/events", 200);
  json_t *evs = json_object_get(j, "events");
  assert_int_equal(json_array_size(evs), 4);
  json_t *e0 = json_array_get(evs, 0);
  assert_string_equal(json_string_value(json_object_get(e0, "camera_id")), "back");
  assert_int_equal(json_integer_value(json_object_get(e0, "risk_score")), 90);
  assert_string_equal(json_string_value(json_object_get(e0, "scorer")), "rules");
  assert_int_equal(json_array_size(json_object_get(e0, "detection_ids")), 1);
  json_decref(j);
  j = get_json("/events?camera=front", 200);
  assert_int_equal(json_array_size(json_object_get(j, "events")), 2);
  json_decref(j);
  j = get_json("/events?level=critical", 200);
  assert_int_equal(json_array_size(json_object_get(j, "events")), 1);
  json_decref(j);
  j = get_json("/events?since=2023-11-14T22:16:00Z&until=1700000250", 200); /* windows 1 and 2 */
  assert_int_equal(json_array_size(json_object_get(j, "events")), 2);
  json_decref(j);
  j = get_json("/events?limit=1&offset=1", 200);
  assert_int_equal(json_array_size(json_object_get(j, "events")), 1);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(j, "events"), 0), "risk_score")), 65);
  json_decref(j);
  const char *bad[] = {"/events?level=extreme", "/events?limit=0", "/events?limit=abc", "/events?since=yesterday",
                       "/events?offset=-1", "/events?reviewed=maybe", "/events?since=2000&until=1000",
                       /* strict numbers and times: no hex, exponent, partial offsets, overlong fields */
                       "/events?since=0x10", "/events?since=1e23", "/events?since=2026-01-01T00:00:00%2B1:1",
                       "/events?since=2026-01-01T00:00:00%2B1", "/events?since=2026-02-30", "/events?since=inf",
                       "/events?since=%2B5", "/events?limit=0x10", "/events?limit=1e2", "/events?since=2026-1-1"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    j = get_json(bad[i], 400);
    assert_non_null(json_string_value(json_object_get(j, "detail")));
    json_decref(j);
  }
}

static void get_one(void **state) {
  json_t *j = get_json("/events/1", 200);
  assert_int_equal(json_integer_value(json_object_get(j, "id")), 1);
  assert_string_equal(json_string_value(json_object_get(j, "window_start")), "2023-11-14T22:13:20.000Z");
  json_decref(j);
  j = get_json("/events/9999", 404);
  assert_non_null(strstr(json_string_value(json_object_get(j, "detail")), "not found"));
  json_decref(j);
  j = get_json("/events/abc", 400);
  json_decref(j);
  j = get_json("/events/-3", 400);
  json_decref(j);
}

static void patch(void **state) {
  char *body;
  long s = http("PATCH", "/events/2", "{\"reviewed\": true, \"notes\": \"checked: the mail carrier\"}", NULL, &body,
                NULL, 0);
  assert_int_equal(s, 200);
  json_t *j = json_loads(body, 0, NULL);
  free(body);
  assert_true(json_is_true(json_object_get(j, "reviewed")));
  assert_string_equal(json_string_value(json_object_get(j, "notes")), "checked: the mail carrier");
  json_decref(j);
  j = get_json("/events?reviewed=true", 200);
  assert_int_equal(json_array_size(json_object_get(j, "events")), 1);
  json_decref(j);
  struct {
    const char *path, *body;
    long status;
  } bad[] = {{"/events/2", "{\"reviewed\": \"yes\"}", 400},
             {"/events/2", "{\"notes\": 5}", 400},
             {"/events/2", "{\"colour\": \"red\"}", 400},
             {"/events/2", "{}", 400},
             {"/events/2", "[true]", 400},
             {"/events/2", "{\"reviewed\": tru", 400},
             {"/events/77", "{\"reviewed\": false}", 404},
             {"/events/x", "{\"reviewed\": false}", 400}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    s = http("PATCH", bad[i].path, bad[i].body, NULL, &body, NULL, 0);
    if (s != bad[i].status) fail_msg("PATCH %s %s: %ld: %s", bad[i].path, bad[i].body, s, body);
    j = json_loads(body, 0, NULL);
    assert_non_null(json_string_value(json_object_get(j, "detail")));
    json_decref(j);
    free(body);
  }
  /* notes too long */
  size_t n = 20000;
  char *big = malloc(n + 32);
  strcpy(big, "{\"notes\": \"");
  memset(big + 11, 'n', n);
  strcpy(big + 11 + n, "\"}");
  s = http("PATCH", "/events/2", big, NULL, &body, NULL, 0);
  assert_int_equal(s, 400);
  free(big);
  free(body);
}

static void snapshot(void **state) {
  char *body, ct[64];
  long s = http("GET", "/events/4/snapshot", NULL, NULL, &body, ct, sizeof ct);
  assert_int_equal(s, 200);
  assert_string_equal(ct, "image/jpeg");
  assert_int_equal((unsigned char)body[0], 0xff);
  assert_int_equal((unsigned char)body[1], 0xd8);
  free(body);
  s = http("GET", "/events/1/snapshot", NULL, NULL, &body, NULL, 0);
  assert_int_equal(s, 404); /* none recorded */
  free(body);
  s = http("GET", "/events/3/snapshot", NULL, NULL, &body, NULL, 0);
  assert_int_equal(s, 404); /* recorded, file gone */
  free(body);
}

static void stream(void **state) {
  char *body, ct[64];
  /* from a cursor: every later event, as SSE records */
  long s = http("GET", "/events/stream?after=2&wait=0", NULL, NULL, &body, ct, sizeof ct);
  assert_int_equal(s, 200);
  assert_string_equal(ct, "text/event-stream");
  assert_non_null(strstr(body, "retry: 1000\n"));
  assert_non_null(strstr(body, "id: 3\ndata: {\"type\":\"new_event\",\"event\":{"));
  assert_non_null(strstr(body, "id: 4\ndata: "));
  assert_null(strstr(body, "id: 2\n"));
  char *d = strstr(body, "data: ");
  char *nl = strchr(d, '\n');
  *nl = 0;
  json_t *j = json_loads(d + 6, 0, NULL);
  assert_string_equal(json_string_value(json_object_get(j, "type")), "new_event");
  assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "event"), "id")), 3);
  json_decref(j);
  free(body);
  /* Last-Event-ID resumes; nothing new: a comment that keeps the cursor */
  s = http("GET", "/events/stream?wait=0", NULL, "Last-Event-ID: 4", &body, NULL, 0);
  assert_int_equal(s, 200);
  assert_null(strstr(body, "data:"));
  assert_non_null(strstr(body, "id: 4\n"));
  free(body);
  /* a new event written while the client waits is delivered */
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    usleep(300000);
    store *s2;
    char url[512];
    snprintf(url, sizeof url, "sqlite://%s/events.db", tmpdir);
    if (store_open(&s2, url, NULL, 0)) _exit(1);
    st = s2;
    add_event("side", 9, 33, NULL);
    store_close(s2);
    _exit(0);
  }
  s = http("GET", "/events/stream?wait=20", NULL, "Last-Event-ID: 4", &body, NULL, 0);
  int wst;
  waitpid(pid, &wst, 0);
  assert_int_equal(s, 200);
  assert_non_null(strstr(body, "id: 5\ndata: "));
  assert_non_null(strstr(body, "\"camera_id\":\"side\""));
  free(body);
  s = http("GET", "/events/stream?after=x", NULL, NULL, &body, NULL, 0);
  assert_int_equal(s, 400);
  free(body);
}

typedef struct {
  int port;
  long status;
  char *body;
  _Atomic int done; /* set when the stream's request has returned */
} stream_call;

static void *stream_thread(void *arg) {
  stream_call *c = arg;
  CURL *h = curl_easy_init();
  char url[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/events/stream?wait=60", c->port);
  buf b = {0};
  struct curl_slist *hl = curl_slist_append(NULL, "Last-Event-ID: 5");
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 90L);
  if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
  atomic_store(&c->done, 1);
  curl_slist_free_all(hl);
  curl_easy_cleanup(h);
  c->body = b.data;
  return NULL;
}

/* Four waiting streams on a one-worker server hold no worker: the events
 * API still answers (30 s client timeout against 60 s streams), and a new
 * event reaches all four. */
static void streams_hold_no_worker(void **state) {
  char err[512];
  vigil_http_params p;
  assert_int_equal(vigil_http_params_from_config(&p, NULL, err, sizeof err), 0);
  p.bind_addr = "127.0.0.1";
  p.port = 0;
  p.threads = 1;
  /* this test is about workers: the per-address limit (the /metrics polling below opens
   * many short connections, which a loaded machine closes late) and load shedding are
   * tested elsewhere and must not turn a stream into a 503 here */
  p.max_conn_per_ip = 0;
  p.max_queue_wait_s = 30;
  vigil_http_server *one;
  assert_int_equal(vigil_http_server_start(&one, &vigil_service_events, svc_ctx, p, err, sizeof err), 0);
  int main_port = port;
  port = vigil_http_server_port(one);
  stream_call calls[4];
  pthread_t t[4];
  for (int i = 0; i < 4; i++) {
    calls[i] = (stream_call){.port = port};
    assert_int_equal(pthread_create(&t[i], NULL, stream_thread, &calls[i]), 0);
    /* until its worker has parked it (the long-poll gauge): one after the other, as
     * a burst of four on one worker would be shed; up to 60 s, as an ASan build on a
     * loaded machine took over 15 s to connect one */
    bool up = false;
    for (int k = 0; k < 1200 && !up; k++) {
      char *m;
      assert_int_equal(http("GET", "/metrics", NULL, NULL, &m, NULL, 0), 200);
      char *g = strstr(m, "\nvigil_http_long_polls_parked{");
      up = g && atoi(strchr(g, '}') + 1) >= i + 1;
      free(m);
      if (!up) usleep(50000);
    }
    assert_true(up);
  }
  /* the one worker answers this while four streams wait, still open */
  char *body;
  long st = http("GET", "/events?limit=1", NULL, NULL, &body, NULL, 0);
  if (st != 200) fail_msg("GET /events?limit=1 with 4 parked streams: %ld: %s", st, body);
  free(body);
  for (int i = 0; i < 4; i++) assert_int_equal(atomic_load(&calls[i].done), 0);
  add_event("side", 4, 50, NULL);
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(calls[i].status, 200);
    assert_non_null(calls[i].body);
    assert_non_null(strstr(calls[i].body, "id: 6\ndata: "));
    free(calls[i].body);
  }
  vigil_http_server_free(one);
  port = main_port;
}

static void health_and_methods(void **state) {
  json_t *j = get_json("/health", 200);
  assert_string_equal(json_string_value(json_object_get(j, "status")), "healthy");
  assert_string_equal(json_string_value(json_object_get(j, "store")), "sqlite");
  json_decref(j);
  char *body;
  assert_int_equal(http("DELETE", "/events/1", NULL, NULL, &body, NULL, 0), 405);
  free(body);
  assert_int_equal(http("GET", "/nope", NULL, NULL, &body, NULL, 0), 404);
  free(body);
}

/* GET /events?plate= normalises the query like a read plate; events list their plates. */
static void plates(void **state) {
  (void)state;
  vigil_batch b;
  fx_batch(&b, "drive", 23);
  b.window_start = 1700009000.0;
  b.window_end = b.window_start + 90;
  vigil_enrichment e = fx_plate("KX21ABC", false);
  fx_add(&b, "car", 0.9f, &e);
  vigil_strlcpy(b.dets[0].id, "drive-plate-1", sizeof b.dets[0].id);
  vigil_event ev;
  vigil_event_init(&ev);
  ev.risk_score = 45;
  vigil_strlcpy(ev.risk_level, vigil_risk_level(45), sizeof ev.risk_level);
  ev.summary = strdup("car");
  ev.reasoning = strdup("plate");
  vigil_strlcpy(ev.scorer, "rules", sizeof ev.scorer);
  char err[256];
  if (store_insert_batch(st, &b, &ev, NULL, err, sizeof err)) fail_msg("insert: %s", err);
  vigil_event_free(&ev);
  vigil_batch_free(&b);
  json_t *j = get_json("/events?plate=kx21-abc", 200);
  json_t *evs = json_object_get(j, "events");
  assert_int_equal(json_array_size(evs), 1);
  json_t *pl = json_object_get(json_array_get(evs, 0), "plates");
  assert_int_equal(json_array_size(pl), 1);
  assert_string_equal(json_string_value(json_array_get(pl, 0)), "KX21ABC");
  json_decref(j);
  j = get_json("/events?plate=ZZ99ZZZ", 200);
  assert_int_equal(json_array_size(json_object_get(j, "events")), 0);
  json_decref(j);
  j = get_json("/events?plate=%21%21", 400);
  json_decref(j);
}

/* Events list the ids of the rules that fired; GET /events?rule= filters on
 * one, and an id that is no rule is a 400. */
static void rules(void **state) {
  (void)state;
  vigil_batch b;
  fx_batch(&b, "rulecam", 23);
  b.window_start = 1700019000.0;
  b.window_end = b.window_start + 90;
  fx_add(&b, "person", 0.9f, NULL);
  vigil_strlcpy(b.dets[0].id, "rulecam-1", sizeof b.dets[0].id);
  vigil_event ev;
  vigil_event_init(&ev);
  ev.risk_score = 35;
  vigil_strlcpy(ev.risk_level, vigil_risk_level(35), sizeof ev.risk_level);
  ev.summary = strdup("night person");
  ev.reasoning = strdup("rules");
  vigil_strlcpy(ev.scorer, "rules", sizeof ev.scorer);
  vigil_strlcpy(ev.rules[ev.n_rules++], "base_person", VIGIL_RULE_LEN);
  vigil_strlcpy(ev.rules[ev.n_rules++], "night_person", VIGIL_RULE_LEN);
  char err[256];
  if (store_insert_batch(st, &b, &ev, NULL, err, sizeof err)) fail_msg("insert: %s", err);
  int64_t id = ev.id;
  vigil_event_free(&ev);
  vigil_batch_free(&b);
  json_t *j = get_json("/events?rule=night_person", 200);
  json_t *evs = json_object_get(j, "events");
  assert_int_equal(json_array_size(evs), 1);
  json_t *e0 = json_array_get(evs, 0);
  assert_int_equal(json_integer_value(json_object_get(e0, "id")), id);
  json_t *r = json_object_get(e0, "rules");
  assert_int_equal(json_array_size(r), 2);
  assert_string_equal(json_string_value(json_array_get(r, 0)), "base_person");
  assert_string_equal(json_string_value(json_array_get(r, 1)), "night_person");
  json_decref(j);
  j = get_json("/events?rule=weapon_firearm", 200);
  assert_int_equal(json_array_size(json_object_get(j, "events")), 0);
  json_decref(j);
  j = get_json("/events?rule=night%25", 400);
  assert_non_null(strstr(json_string_value(json_object_get(j, "detail")), "rule"));
  json_decref(j);
}

/* The live state of a camera: GET /cameras/{id}/live and live.jpg; the
 * stream with ?live=1 sends a `camera` record when a camera's state changes,
 * with an "EVENT:LIVE" id that resumes both cursors. */
static void live(void **state) {
  (void)state;
  char *body, ct[64], err[256];
  long s = http("GET", "/cameras/porch/live", NULL, NULL, &body, NULL, 0);
  assert_int_equal(s, 404);
  assert_non_null(strstr(body, "no live state"));
  free(body);
  int64_t seq0;
  assert_int_equal(store_live_max_seq(st, &seq0, err, sizeof err), 0);
  const uint8_t jpg[] = {0xff, 0xd8, 0xff, 0xe0, 0, 1, 2, 0xff, 0xd9};
  const char *tracks = "[{\"id\":7,\"label\":\"person\",\"score\":0.9,\"bbox\":{\"x1\":1,\"y1\":2,\"x2\":3,\"y2\":4},"
                       "\"stationary\":false,\"dwell_s\":12.5}]";
  assert_int_equal(store_put_live(st, "porch cam", 1700000000.25, 640, 480, tracks, "{\"frames\":12,\"dropped\":3}", jpg, sizeof jpg, err, sizeof err), 0);
  json_t *j = get_json("/cameras/porch%20cam/live", 200);
  assert_string_equal(json_string_value(json_object_get(j, "camera_id")), "porch cam");
  assert_int_equal(json_integer_value(json_object_get(j, "seq")), seq0 + 1);
  assert_int_equal(json_integer_value(json_object_get(j, "width")), 640);
  assert_string_equal(json_string_value(json_object_get(j, "frame_ts")), "2023-11-14T22:13:20.250Z");
  assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "stats"), "dropped")), 3);
  json_t *t0 = json_array_get(json_object_get(j, "tracks"), 0);
  assert_int_equal(json_integer_value(json_object_get(t0, "id")), 7);
  assert_string_equal(json_string_value(json_object_get(t0, "label")), "person");
  char want[128];
  snprintf(want, sizeof want, "/cameras/porch%%20cam/live.jpg?seq=%lld", (long long)(seq0 + 1));
  assert_string_equal(json_string_value(json_object_get(j, "frame")), want);
  json_decref(j);
  s = http("GET", want, NULL, NULL, &body, ct, sizeof ct);
  assert_int_equal(s, 200);
  assert_string_equal(ct, "image/jpeg");
  assert_memory_equal(body, jpg, sizeof jpg);
  free(body);
  /* a camera whose state has no frame: frame null, live.jpg 404 */
  assert_int_equal(store_put_live(st, "dark", 1700000000, 0, 0, "[]", NULL, NULL, 0, err, sizeof err), 0);
  j = get_json("/cameras/dark/live", 200);
  assert_true(json_is_null(json_object_get(j, "frame")));
  json_decref(j);
  s = http("GET", "/cameras/dark/live.jpg", NULL, NULL, &body, NULL, 0);
  assert_int_equal(s, 404);
  free(body);
  /* the stream: camera records after the live cursor, named `camera` */
  char hdr[64];
  snprintf(hdr, sizeof hdr, "Last-Event-ID: 999:%lld", (long long)seq0);
  s = http("GET", "/events/stream?live=1&wait=0", NULL, hdr, &body, ct, sizeof ct);
  assert_int_equal(s, 200);
  char rec[128];
  snprintf(rec, sizeof rec, "event: camera\nid: 999:%lld\ndata: {\"type\":\"camera\",\"camera\":{", (long long)(seq0 + 1));
  assert_non_null(strstr(body, rec));
  assert_non_null(strstr(body, "\"camera_id\":\"porch cam\""));
  snprintf(rec, sizeof rec, "event: camera\nid: 999:%lld\n", (long long)(seq0 + 2));
  assert_non_null(strstr(body, rec));
  assert_null(strstr(body, "new_event"));
  free(body);
  /* resumed at the newest: nothing, the id keeps both cursors */
  snprintf(hdr, sizeof hdr, "Last-Event-ID: 999:%lld", (long long)(seq0 + 2));
  s = http("GET", "/events/stream?live=1&wait=0", NULL, hdr, &body, NULL, 0);
  snprintf(rec, sizeof rec, "id: 999:%lld\n", (long long)(seq0 + 2));
  assert_non_null(strstr(body, rec));
  assert_null(strstr(body, "data:"));
  free(body);
  /* a change while the client waits is pushed */
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    usleep(300000);
    store *s2;
    char url[512];
    snprintf(url, sizeof url, "sqlite://%s/events.db", tmpdir);
    if (store_open(&s2, url, NULL, 0)) _exit(1);
    int rc = store_put_live(s2, "dark", 1700000005, 0, 0, "[{\"id\":9}]", NULL, NULL, 0, NULL, 0);
    store_close(s2);
    _exit(rc ? 1 : 0);
  }
  s = http("GET", "/events/stream?live=1&wait=20", NULL, hdr, &body, NULL, 0);
  int wst;
  waitpid(pid, &wst, 0);
  assert_int_equal(s, 200);
  assert_non_null(strstr(body, "\"camera_id\":\"dark\""));
  assert_non_null(strstr(body, "\"tracks\":[{\"id\":9}]"));
  free(body);
  /* a camera id longer than any stored one is a 400, not a lookup */
  char longpath[160];
  snprintf(longpath, sizeof longpath, "/cameras/%070d/live", 7);
  s = http("GET", longpath, NULL, NULL, &body, NULL, 0);
  assert_int_equal(s, 400);
  free(body);
  /* without live=1 an EVENT:LIVE id is refused, and live itself is 0 or 1 */
  s = http("GET", "/events/stream?wait=0", NULL, "Last-Event-ID: 1:2", &body, NULL, 0);
  assert_int_equal(s, 400);
  free(body);
  s = http("GET", "/events/stream?live=2&wait=0", NULL, NULL, &body, NULL, 0);
  assert_int_equal(s, 400);
  free(body);
  s = http("GET", "/events/stream?live=1&wait=0", NULL, "Last-Event-ID: 1:x", &body, NULL, 0);
  assert_int_equal(s, 400);
  free(body);
}

static int setup(void **state) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/vigil-api-XXXXXX");
  if (!mkdtemp(tmpdir)) return -1;
  char url[512], err[512] = "";
  snprintf(url, sizeof url, "sqlite://%s/events.db", tmpdir);
  setenv("VIGIL_DB", url, 1);
  if (vigil_service_events.init(&svc_ctx, NULL, err, sizeof err)) {
    fprintf(stderr, "init: %s\n", err);
    return -1;
  }
  if (store_open(&st, url, err, sizeof err)) return -1;
  char snap[512];
  snprintf(snap, sizeof snap, "%s/snap.jpg", tmpdir);
  FILE *f = fopen(snap, "wb");
  const unsigned char jpg[] = {0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F', 'I', 'F', 0, 0xff, 0xd9};
  fwrite(jpg, 1, sizeof jpg, f);
  fclose(f);
  add_event("front", 0, 10, NULL);
  add_event("back", 1, 40, NULL);
  add_event("front", 2, 65, "/nonexistent/gone.jpg");
  add_event("back", 3, 90, snap);
  vigil_http_params p;
  if (vigil_http_params_from_config(&p, NULL, err, sizeof err)) return -1;
  p.bind_addr = "127.0.0.1";
  p.port = 0;
  if (vigil_http_server_start(&srv, &vigil_service_events, svc_ctx, p, err, sizeof err)) {
    fprintf(stderr, "server: %s\n", err);
    return -1;
  }
  port = vigil_http_server_port(srv);
  return 0;
}

static int teardown(void **state) {
  vigil_http_server_free(srv);
  vigil_service_events.free(svc_ctx);
  store_close(st);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  return system(cmd) ? -1 : 0;
}

/* The parsers alone: each input in a heap block of exactly its length, so
 * ASan sees a read past its end (the old parse_time read 6 bytes after any
 * '+' or '-', whatever followed). */
static int time_of(const char *s, double *t) {
  size_t n = strlen(s) + 1;
  char *b = malloc(n);
  memcpy(b, s, n);
  int rc = events_parse_time(b, t);
  free(b);
  return rc;
}

static void parse_times(void **state) {
  (void)state;
  double t = -1;
  assert_int_equal(time_of("1700000000", &t), 0);
  assert_true(t == 1700000000.0);
  assert_int_equal(time_of("1700000000.25", &t), 0);
  assert_true(t == 1700000000.25);
  assert_int_equal(time_of("0", &t), 0);
  assert_true(t == 0);
  assert_int_equal(time_of("2023-11-14T22:13:20Z", &t), 0);
  assert_true(t == 1700000000.0);
  assert_int_equal(time_of("2023-11-14T23:13:20.5+01:00", &t), 0);
  assert_true(t == 1700000000.5);
  assert_int_equal(time_of("2023-11-14T20:13:20-02:00", &t), 0);
  assert_true(t == 1700000000.0);
  assert_int_equal(time_of("2023-11-14T22:13:20", &t), 0); /* no offset: UTC */
  assert_true(t == 1700000000.0);
  assert_int_equal(time_of("2024-02-29", &t), 0);
  assert_true(t == 1709164800.0);
  const char *bad[] = {"", "0x10", "1e23", "1E3", "inf", "nan", "-5", "+5", " 5", "5 ", "1.", ".5",
                       "2026-01-01T00:00:00+1:1", "2026-01-01T00:00:00+", "2026-01-01T00:00:00-1",
                       "2026-01-01T00:00:00+01", "2026-01-01T00:00:00+01:0", "2026-01-01T00:00:00+24:00",
                       "2026-01-01T00:00:00Zjunk", "2026-01-01T00:00", "2026-01-01T24:00:00", "2026-02-29",
                       "2023-13-01", "2023-00-10", "2023-1-1", "1969-12-31", "2026-01-01T00:00:00.",
                       "2026-01-01T00:00:00.1234567890", "99999999999999", "1000000000000"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (time_of(bad[i], &t) == 0) fail_msg("accepted '%s' as %f", bad[i], t);
  long v;
  assert_int_equal(events_parse_int("42", 1, 100, &v), 0);
  assert_int_equal(v, 42);
  assert_int_equal(events_parse_int("0x10", 0, 100, &v), -1);
  assert_int_equal(events_parse_int("1e2", 0, 1000, &v), -1);
  assert_int_equal(events_parse_int(" 4", 0, 100, &v), -1);
  assert_int_equal(events_parse_int("99999999999999999999", 0, 100, &v), -1);
  int64_t id;
  assert_int_equal(events_parse_id("12/snapshot", &id), 0);
  assert_int_equal(id, 12);
  assert_int_equal(events_parse_id("-3", &id), -1);
  assert_int_equal(events_parse_id("0", &id), -1);
  assert_int_equal(events_parse_id("", &id), -1);
  int rv;
  char *notes, msg[160];
  assert_int_equal(events_parse_patch("{\"reviewed\":true}", 17, &rv, &notes, msg, sizeof msg), 0);
  assert_int_equal(rv, 1);
  assert_null(notes);
  assert_int_equal(events_parse_patch("{\"notes\":\"a\",\"notes\":\"b\"}", 25, &rv, &notes, msg, sizeof msg), -1);
  assert_int_equal(events_parse_patch("{\"x\":1}", 7, &rv, &notes, msg, sizeof msg), -1);
  assert_non_null(strstr(msg, "unknown field"));
  const char *both = "{\"notes\":\"seen\",\"reviewed\":false}";
  assert_int_equal(events_parse_patch(both, strlen(both), &rv, &notes, msg, sizeof msg), 0);
  assert_int_equal(rv, 0);
  assert_string_equal(notes, "seen");
  free(notes);
  assert_int_equal(events_parse_patch("{\"notes\":7}", 11, &rv, &notes, msg, sizeof msg), -1);
  assert_non_null(strstr(msg, "notes must be a string"));
  assert_int_equal(events_parse_patch("[]", 2, &rv, &notes, msg, sizeof msg), -1);
  assert_non_null(strstr(msg, "must be a JSON object"));
  /* the search body: q required, limit 1..100, nothing else */
  char *q;
  size_t qlen;
  int limit = 20;
  const char *ok = "{\"q\":\"red car\",\"limit\":5}";
  assert_int_equal(events_parse_search_body(ok, strlen(ok), &q, &qlen, &limit, msg, sizeof msg), 0);
  assert_string_equal(q, "red car");
  assert_int_equal(qlen, 7);
  assert_int_equal(limit, 5);
  free(q);
  assert_int_equal(events_parse_search_body("{\"limit\":0,\"q\":\"x\"}", 19, &q, &qlen, &limit, msg, sizeof msg), -1);
  assert_null(q);
  assert_non_null(strstr(msg, "limit must be"));
  assert_int_equal(events_parse_search_body("{\"limit\":3}", 11, &q, &qlen, &limit, msg, sizeof msg), -1);
  assert_non_null(strstr(msg, "'q'"));
  assert_int_equal(events_parse_search_body("{\"q\":\"a\",\"k\":1}", 15, &q, &qlen, &limit, msg, sizeof msg), -1);
  assert_non_null(strstr(msg, "unknown field 'k'"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parse_times),
      cmocka_unit_test(list_and_filters), cmocka_unit_test(get_one), cmocka_unit_test(patch),
      cmocka_unit_test(snapshot),         cmocka_unit_test(stream),  cmocka_unit_test(streams_hold_no_worker),
      cmocka_unit_test(health_and_methods), cmocka_unit_test(plates), cmocka_unit_test(rules), cmocka_unit_test(live),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
