/* The HTTP server library in-process: route tables with {name} segments,
 * query parameters, headers, handler failures, service gauges in /metrics,
 * ephemeral ports, and several servers in one process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <pthread.h>
#include <time.h>
#include <curl/curl.h>

#include "vigil/http.h"

typedef struct {
  char *buf;
  size_t len;
} sink;

static size_t on_data(char *p, size_t sz, size_t n, void *ud) {
  sink *s = ud;
  s->buf = realloc(s->buf, s->len + sz * n + 1);
  memcpy(s->buf + s->len, p, sz * n);
  s->len += sz * n;
  s->buf[s->len] = '\0';
  return sz * n;
}

/* Performs a request; returns the status and the body in *out (caller frees). */
static long fetch(uint16_t port, const char *method, const char *path, const char *ctype, const char *body,
                  char **out) {
  CURL *c = curl_easy_init();
  char url[512], ct[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%u%s", (unsigned)port, path);
  sink s = {0};
  struct curl_slist *h = NULL;
  if (ctype) {
    snprintf(ct, sizeof ct, "Content-Type: %s", ctype);
    h = curl_slist_append(h, ct);
  }
  h = curl_slist_append(h, "X-Probe: yes");
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
  }
  long status = 0;
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  if (out) *out = s.buf ? s.buf : strdup("");
  else free(s.buf);
  return status;
}

typedef struct {
  int calls;
} svc_ctx;

static int h_item(vigil_http_response *res, const vigil_http_request *req) {
  svc_ctx *ctx = req->ctx;
  __atomic_fetch_add(&ctx->calls, 1, __ATOMIC_RELAXED);
  const char *q = vigil_http_query(req, "verbose");
  const char *probe = vigil_http_header(req, "x-probe");
  return vigil_http_reply_json(res, 200,
                               json_pack("{s:s, s:s, s:s, s:s?, s:s?}", "method", req->method, "path", req->path,
                                         "name", req->path_param, "verbose", q, "probe", probe));
}

static int h_echo(vigil_http_response *res, const vigil_http_request *req) {
  if (!vigil_http_content_type_is(req, "application/json")) return vigil_http_error(res, 415, "json only");
  return vigil_http_reply(res, 201, "application/json", req->body, req->body_len);
}

static int h_fail(vigil_http_response *res, const vigil_http_request *req) { return -1; }

static int entered_slow;

static int h_slow(vigil_http_response *res, const vigil_http_request *req) {
  __atomic_store_n(&entered_slow, 1, __ATOMIC_SEQ_CST);
  struct timespec ts = {0, 300 * 1000000L};
  nanosleep(&ts, NULL);
  return vigil_http_reply(res, 200, "text/plain", "done", 4);
}

static void gauges(vigil_metrics_out *o, void *ctx) {
  vigil_metrics_header(o, "vigil_test_model_bytes", "gauge", "Model memory.");
  vigil_metrics_sample(o, "vigil_test_model_bytes", "model=\"a\"", 1234);
  vigil_metrics_sample(o, "vigil_test_model_bytes", "model=\"b\"", 0.5);
}

static const vigil_http_route routes[] = {
    {"GET", "/items/{name}", h_item},
    {"DELETE", "/items/{name}", h_item},
    {"POST", "/echo", h_echo},
    {"GET", "/fail", h_fail},
    {"GET", "/slow", h_slow},
};

static const vigil_service svc = {.name = "test", .port = 0, .routes = routes, .n_routes = 5, .metrics = gauges};

static void routes_params_headers(void **state) {
  svc_ctx ctx = {0};
  vigil_http_server *s;
  char err[256];
  vigil_http_params p = {.bind_addr = "127.0.0.1", .port = 0, .threads = 2};
  assert_int_equal(vigil_http_server_start(&s, &svc, &ctx, p, err, sizeof err), 0);
  uint16_t port = vigil_http_server_port(s);
  assert_true(port > 0);
  char *body;
  assert_int_equal(fetch(port, "GET", "/items/vit-age?verbose=1&x=2", NULL, NULL, &body), 200);
  json_t *j = json_loads(body, 0, NULL);
  assert_non_null(j);
  assert_string_equal(json_string_value(json_object_get(j, "name")), "vit-age");
  assert_string_equal(json_string_value(json_object_get(j, "path")), "/items/vit-age");
  assert_string_equal(json_string_value(json_object_get(j, "verbose")), "1");
  assert_string_equal(json_string_value(json_object_get(j, "probe")), "yes");
  json_decref(j);
  free(body);
  assert_int_equal(fetch(port, "DELETE", "/items/x", NULL, NULL, NULL), 200);
  assert_int_equal(ctx.calls, 2);
  assert_int_equal(fetch(port, "PUT", "/items/x", NULL, NULL, NULL), 405);
  assert_int_equal(fetch(port, "GET", "/items/", NULL, NULL, NULL), 404);
  assert_int_equal(fetch(port, "GET", "/items/a/b", NULL, NULL, NULL), 404);
  assert_int_equal(fetch(port, "POST", "/echo", "application/json", "{\"a\":[1,2]}", &body), 201);
  assert_string_equal(body, "{\"a\":[1,2]}");
  free(body);
  assert_int_equal(fetch(port, "POST", "/echo", "text/csv", "a,b", NULL), 415);
  assert_int_equal(fetch(port, "GET", "/fail", NULL, NULL, &body), 500);
  assert_non_null(strstr(body, "\"detail\""));
  free(body);
  assert_int_equal(fetch(port, "GET", "/metrics", NULL, NULL, &body), 200);
  assert_non_null(strstr(body, "# TYPE vigil_test_model_bytes gauge"));
  assert_non_null(strstr(body, "vigil_test_model_bytes{model=\"a\"} 1234"));
  assert_non_null(strstr(body, "vigil_http_requests_total{service=\"test\",method=\"GET\",route=\"/items/{name}\",status=\"200\"} 1"));
  assert_non_null(strstr(body, "route=\"/fail\",status=\"500\"} 1"));
  assert_non_null(strstr(body, "route=\"unmatched\",status=\"404\"} 2"));
  free(body);
  vigil_http_server_free(s);
  vigil_http_server_free(NULL);
}

static void two_servers_and_busy_port(void **state) {
  svc_ctx ctx = {0};
  vigil_http_server *a, *b, *c = (vigil_http_server *)1;
  char err[256];
  vigil_http_params p = {.bind_addr = "127.0.0.1"};
  assert_int_equal(vigil_http_server_start(&a, &svc, &ctx, p, err, sizeof err), 0);
  assert_int_equal(vigil_http_server_start(&b, &svc, &ctx, p, err, sizeof err), 0);
  assert_true(vigil_http_server_port(a) != vigil_http_server_port(b));
  p.port = vigil_http_server_port(a); /* taken */
  assert_int_equal(vigil_http_server_start(&c, &svc, &ctx, p, err, sizeof err), -1);
  assert_null(c);
  assert_non_null(strstr(err, "cannot listen"));
  p.bind_addr = "not-an-ip";
  p.port = 0;
  assert_int_equal(vigil_http_server_start(&c, &svc, &ctx, p, err, sizeof err), -1);
  assert_non_null(strstr(err, "bad bind address"));
  assert_int_equal(fetch(vigil_http_server_port(b), "GET", "/items/q", NULL, NULL, NULL), 200);
  vigil_http_server_free(a);
  vigil_http_server_free(b);
}

typedef struct {
  uint16_t port;
  long status;
  char *body;
} slow_call;

static void *call_slow(void *arg) {
  slow_call *c = arg;
  c->status = fetch(c->port, "GET", "/slow", NULL, NULL, &c->body);
  return NULL;
}

/* Freeing a server lets a request that is being handled finish. */
static void graceful_stop(void **state) {
  svc_ctx ctx = {0};
  vigil_http_server *s;
  char err[256];
  vigil_http_params p = {.bind_addr = "127.0.0.1", .threads = 2};
  assert_int_equal(vigil_http_server_start(&s, &svc, &ctx, p, err, sizeof err), 0);
  slow_call c = {.port = vigil_http_server_port(s)};
  pthread_t t;
  entered_slow = 0;
  assert_int_equal(pthread_create(&t, NULL, call_slow, &c), 0);
  struct timespec nap = {0, 5 * 1000000L};
  for (int i = 0; i < 4000 && !__atomic_load_n(&entered_slow, __ATOMIC_SEQ_CST); i++) nanosleep(&nap, NULL);
  assert_true(entered_slow);
  vigil_http_server_free(s);
  pthread_join(t, NULL);
  assert_int_equal(c.status, 200);
  assert_string_equal(c.body, "done");
  free(c.body);
}

static void params_from_config(void **state) {
  vigil_http_params p;
  char err[256];
  unsetenv("VIGIL_HTTP_MAX_BODY_MB");
  setenv("VIGIL_HTTP_THREADS", "3", 1);
  assert_int_equal(vigil_http_params_from_config(&p, NULL, err, sizeof err), 0);
  assert_int_equal(p.threads, 3);
  assert_int_equal(p.max_connections, 64);
  assert_int_equal(p.max_body, 0); /* left to the service */
  assert_int_equal(p.request_timeout_s, 30);
  setenv("VIGIL_HTTP_MAX_BODY_MB", "1.5", 1);
  assert_int_equal(vigil_http_params_from_config(&p, NULL, err, sizeof err), 0);
  assert_int_equal(p.max_body, 1572864);
  setenv("VIGIL_HTTP_THREADS", "0", 1);
  assert_int_equal(vigil_http_params_from_config(&p, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "VIGIL_HTTP_THREADS"));
  unsetenv("VIGIL_HTTP_THREADS");
  unsetenv("VIGIL_HTTP_MAX_BODY_MB");
}

/* fetch() with extra request headers (NULL-terminated) and the Retry-After
 * and Access-Control-Allow-Origin of the reply. */
typedef struct {
  long status;
  long retry_after;
  char acao[128];
  char *body;
} hreply;

static size_t on_header(char *p, size_t sz, size_t n, void *ud) {
  hreply *r = ud;
  size_t len = sz * n;
  if (len > 29 && !strncasecmp(p, "Access-Control-Allow-Origin: ", 29)) {
    size_t v = len - 29;
    while (v && (p[29 + v - 1] == '\r' || p[29 + v - 1] == '\n')) v--;
    snprintf(r->acao, sizeof r->acao, "%.*s", (int)v, p + 29);
  }
  return len;
}

static hreply fetch_h(uint16_t port, const char *method, const char *path, const char *body, const char **hdrs) {
  CURL *c = curl_easy_init();
  char url[512];
  snprintf(url, sizeof url, "http://127.0.0.1:%u%s", (unsigned)port, path);
  sink s = {0};
  hreply r = {0};
  struct curl_slist *h = NULL;
  for (int i = 0; hdrs && hdrs[i]; i++) h = curl_slist_append(h, hdrs[i]);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
  }
  if (curl_easy_perform(c) == CURLE_OK) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_off_t ra = 0;
    curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &ra);
    r.retry_after = (long)ra;
  }
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  r.body = s.buf ? s.buf : strdup("");
  return r;
}

/* A handler that blocks until released: the admission test holds the one worker with it. */
static pthread_mutex_t block_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t block_cv = PTHREAD_COND_INITIALIZER;
static int block_open, block_entered;

static int h_block(vigil_http_response *res, const vigil_http_request *req) {
  pthread_mutex_lock(&block_mu);
  block_entered++;
  pthread_cond_broadcast(&block_cv);
  while (!block_open) pthread_cond_wait(&block_cv, &block_mu);
  pthread_mutex_unlock(&block_mu);
  return vigil_http_reply(res, 200, "text/plain", "ok", 2);
}

/* A long poll: "nothing yet" until poll_open, counting its calls. */
static int poll_open, poll_calls;

static int h_poll(vigil_http_response *res, const vigil_http_request *req) {
  __atomic_add_fetch(&poll_calls, 1, __ATOMIC_SEQ_CST);
  if (!__atomic_load_n(&poll_open, __ATOMIC_SEQ_CST)) {
    if (!*req->poll_state) *req->poll_state = malloc(16); /* freed by the server */
    return VIGIL_HTTP_POLL;
  }
  return vigil_http_reply(res, 200, "text/plain", "news", 4);
}

static int h_health(vigil_http_response *res, const vigil_http_request *req) {
  return vigil_http_reply(res, 200, "application/json", "{}", 2);
}

static const vigil_http_route load_routes[] = {
    {"GET", "/health", h_health},
    {"GET", "/block", h_block},
    {"GET", "/poll", h_poll},
    {"GET", "/items/{name}", h_item},
    {"POST", "/echo", h_echo},
    {"PATCH", "/echo", h_echo},
};

static const vigil_service load_svc = {.name = "load", .routes = load_routes, .n_routes = 6};

typedef struct {
  uint16_t port;
  const char *path;
  hreply r;
  int done; /* set (atomically) once r is filled */
} call;

static void *do_call(void *arg) {
  call *c = arg;
  c->r = fetch_h(c->port, "GET", c->path, NULL, NULL);
  __atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
  return NULL;
}

/* One worker, six requests: one runs, two wait (2 x workers), three are
 * shed at once with 503 + Retry-After while the first still runs. */
static void sheds_past_the_queue(void **state) {
  vigil_http_server *s;
  char err[256];
  vigil_http_params p = {.port = 0, .threads = 1};
  assert_int_equal(vigil_http_server_start(&s, &load_svc, NULL, p, err, sizeof err), 0);
  uint16_t port = vigil_http_server_port(s);
  block_open = block_entered = 0;
  call calls[6];
  pthread_t t[6];
  calls[0] = (call){.port = port, .path = "/block"};
  pthread_create(&t[0], NULL, do_call, &calls[0]);
  pthread_mutex_lock(&block_mu);
  while (!block_entered) pthread_cond_wait(&block_cv, &block_mu);
  pthread_mutex_unlock(&block_mu);
  for (int i = 1; i < 6; i++) {
    calls[i] = (call){.port = port, .path = "/block"};
    pthread_create(&t[i], NULL, do_call, &calls[i]);
  }
  /* the shed ones come back while the worker is still held */
  int shed = 0;
  /* /health is not queued behind the held worker */
  hreply h = fetch_h(port, "GET", "/health", NULL, NULL);
  assert_int_equal(h.status, 200);
  free(h.body);
  for (int tries = 0; tries < 600; tries++) {
    shed = 0;
    for (int i = 1; i < 6; i++) shed += __atomic_load_n(&calls[i].done, __ATOMIC_ACQUIRE) && calls[i].r.status == 503;
    if (shed == 3) break;
    struct timespec nap = {0, 50 * 1000000L};
    nanosleep(&nap, NULL);
  }
  assert_int_equal(shed, 3);
  pthread_mutex_lock(&block_mu);
  assert_int_equal(block_entered, 1); /* still held: the 503s did not wait for it */
  block_open = 1;
  pthread_cond_broadcast(&block_cv);
  pthread_mutex_unlock(&block_mu);
  int ok = 0;
  for (int i = 0; i < 6; i++) {
    pthread_join(t[i], NULL);
    if (calls[i].r.status == 200) ok++;
    else {
      assert_int_equal(calls[i].r.status, 503);
      assert_true(calls[i].r.retry_after >= 1);
      assert_non_null(strstr(calls[i].r.body, "\"detail\""));
    }
    free(calls[i].r.body);
  }
  assert_int_equal(ok, 3);
  vigil_http_server_free(s);
}

/* Parked long polls hold no worker: with one worker, four polls wait while
 * another request is served; they answer when their news comes, and polls
 * still parked when the server stops get 503. */
static void long_polls_park(void **state) {
  svc_ctx ctx = {0};
  vigil_http_server *s;
  char err[256];
  vigil_http_params p = {.port = 0, .threads = 1};
  assert_int_equal(vigil_http_server_start(&s, &load_svc, &ctx, p, err, sizeof err), 0);
  uint16_t port = vigil_http_server_port(s);
  __atomic_store_n(&poll_open, 0, __ATOMIC_SEQ_CST);
  __atomic_store_n(&poll_calls, 0, __ATOMIC_SEQ_CST);
  call calls[4];
  pthread_t t[4];
  struct timespec nap = {0, 20 * 1000000L};
  for (int i = 0; i < 4; i++) { /* one after the other: a burst of four would be shed past the queue */
    calls[i] = (call){.port = port, .path = "/poll"};
    pthread_create(&t[i], NULL, do_call, &calls[i]);
    for (int k = 0; k < 1500 && __atomic_load_n(&poll_calls, __ATOMIC_SEQ_CST) < i + 1; k++) nanosleep(&nap, NULL);
  }
  for (int i = 0; i < 1500 && __atomic_load_n(&poll_calls, __ATOMIC_SEQ_CST) < 8; i++) nanosleep(&nap, NULL);
  assert_true(__atomic_load_n(&poll_calls, __ATOMIC_SEQ_CST) >= 8); /* each polled again after parking */
  hreply r = fetch_h(port, "GET", "/items/x", NULL, NULL);
  if (r.status != 200) fail_msg("%ld: %s", r.status, r.body);
  free(r.body);
  __atomic_store_n(&poll_open, 1, __ATOMIC_SEQ_CST);
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(calls[i].r.status, 200);
    assert_string_equal(calls[i].r.body, "news");
    free(calls[i].r.body);
  }
  /* parked at shutdown: answered 503, and the server stops */
  __atomic_store_n(&poll_open, 0, __ATOMIC_SEQ_CST);
  __atomic_store_n(&poll_calls, 0, __ATOMIC_SEQ_CST);
  calls[0] = (call){.port = port, .path = "/poll"};
  pthread_create(&t[0], NULL, do_call, &calls[0]);
  for (int i = 0; i < 1500 && __atomic_load_n(&poll_calls, __ATOMIC_SEQ_CST) < 2; i++) nanosleep(&nap, NULL);
  vigil_http_server_free(s);
  pthread_join(t[0], NULL);
  assert_int_equal(calls[0].r.status, 503);
  free(calls[0].r.body);
}

#define ADMIN "admin-key-0123456789abcdef"
#define READER "read-key-0123456789abcdef"

/* API keys, Host, Origin and content-type rules on a server with keys. */
static void access_rules(void **state) {
  svc_ctx ctx = {0};
  vigil_http_auth *a = vigil_http_auth_new();
  char err[256];
  const char *file = "# keys\nadmin " ADMIN "\nread " READER "\n";
  assert_int_equal(vigil_http_auth_parse_keys(a, file, strlen(file), err, sizeof err), 0);
  assert_int_equal(vigil_http_auth_add_origin(a, "https://dash.example"), 0);
  assert_int_equal(vigil_http_auth_add_host(a, "vigil.lan"), 0);
  vigil_http_server *s;
  vigil_http_params p = {.bind_addr = "127.0.0.1", .port = 0, .threads = 2, .auth = a};
  assert_int_equal(vigil_http_server_start(&s, &load_svc, &ctx, p, err, sizeof err), 0);
  uint16_t port = vigil_http_server_port(s);
  struct {
    const char *method, *path, *body;
    const char *hdrs[4];
    long want;
  } cases[] = {
      {"GET", "/health", NULL, {NULL}, 200},                      /* open */
      {"GET", "/items/a", NULL, {NULL}, 401},                     /* no key */
      {"GET", "/metrics", NULL, {NULL}, 401},
      {"GET", "/items/a", NULL, {"Authorization: Bearer wrong-key-0123456789", NULL}, 401},
      {"GET", "/items/a", NULL, {"Authorization: Bearer " READER, NULL}, 200},
      {"GET", "/items/a", NULL, {"X-API-Key: " READER, NULL}, 200},
      {"GET", "/items/a", NULL, {"X-API-Key: " ADMIN, NULL}, 200},
      {"POST", "/echo", "{}", {"X-API-Key: " READER, "Content-Type: application/json", NULL}, 403},
      {"POST", "/echo", "{}", {"X-API-Key: " ADMIN, "Content-Type: application/json", NULL}, 201},
      {"PATCH", "/echo", "{}", {"Authorization: bearer " ADMIN, "Content-Type: application/json", NULL}, 201},
      /* a cross-site "simple" request: text/plain, foreign Origin */
      {"POST", "/echo", "{}", {"X-API-Key: " ADMIN, "Content-Type: text/plain", NULL}, 415},
      {"POST", "/echo", "{}", {"X-API-Key: " ADMIN, "Content-Type: application/json", "Origin: http://evil.example", NULL}, 403},
      {"POST", "/echo", "{}", {"X-API-Key: " ADMIN, "Content-Type: application/json", "Sec-Fetch-Site: cross-site", NULL}, 403},
      {"POST", "/echo", "{}", {"X-API-Key: " ADMIN, "Content-Type: application/json", "Origin: https://dash.example", NULL}, 201},
      /* DNS rebinding: a foreign name in Host */
      {"GET", "/items/a", NULL, {"X-API-Key: " ADMIN, "Host: evil.example", NULL}, 403},
      {"GET", "/items/a", NULL, {"X-API-Key: " ADMIN, "Host: vigil.lan:8090", NULL}, 200},
      {"GET", "/items/a", NULL, {"X-API-Key: " ADMIN, "Host: [::1]:8090", NULL}, 200},
      {"GET", "/health", NULL, {"Host: evil.example", NULL}, 200},
      /* CORS preflight */
      {"OPTIONS", "/echo", NULL, {"Origin: http://evil.example", NULL}, 403},
      {"OPTIONS", "/echo", NULL, {"Origin: https://dash.example", NULL}, 204},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    hreply r = fetch_h(port, cases[i].method, cases[i].path, cases[i].body, cases[i].hdrs);
    if (r.status != cases[i].want)
      fail_msg("case %zu: %s %s: %ld, want %ld (%s)", i, cases[i].method, cases[i].path, r.status, cases[i].want,
               r.body);
    if (r.status >= 400) assert_non_null(strstr(r.body, "\"detail\""));
    bool dash = cases[i].hdrs[2] && strstr(cases[i].hdrs[2], "dash.example");
    dash |= cases[i].hdrs[0] && strstr(cases[i].hdrs[0], "dash.example");
    if (dash) assert_string_equal(r.acao, "https://dash.example");
    else assert_string_equal(r.acao, "");
    free(r.body);
  }
  vigil_http_server_free(s);
  /* without keys: loopback only, unless explicitly allowed */
  p = (vigil_http_params){.bind_addr = "0.0.0.0", .port = 0};
  assert_int_equal(vigil_http_server_start(&s, &load_svc, &ctx, p, err, sizeof err), -1);
  assert_non_null(strstr(err, "without an API key"));
  p.allow_insecure_bind = true;
  assert_int_equal(vigil_http_server_start(&s, &load_svc, &ctx, p, err, sizeof err), 0);
  vigil_http_server_free(s);
  p = (vigil_http_params){.bind_addr = "0.0.0.0", .port = 0, .auth = a};
  assert_int_equal(vigil_http_server_start(&s, &load_svc, &ctx, p, err, sizeof err), 0);
  vigil_http_server_free(s);
  vigil_http_auth_free(a);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(routes_params_headers),
      cmocka_unit_test(two_servers_and_busy_port),
      cmocka_unit_test(graceful_stop),
      cmocka_unit_test(params_from_config),
      cmocka_unit_test(sheds_past_the_queue),
      cmocka_unit_test(long_polls_park),
      cmocka_unit_test(access_rules),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
