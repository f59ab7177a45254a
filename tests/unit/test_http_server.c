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

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(routes_params_headers),
      cmocka_unit_test(two_servers_and_busy_port),
      cmocka_unit_test(graceful_stop),
      cmocka_unit_test(params_from_config),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
