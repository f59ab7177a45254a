/* The dashboard's HTTP side on the events service: embedded static files and
 * a small proxy so that the page, served from 8090 alone, can show and drive
 * the other services' model zoos and metrics (DASHBOARD_SERVICES). */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/sbuf.h"
#include "vigil/config.h"
#include "web/assets.h"

#define PROXY_TIMEOUT_MS 15000L
#define PROXY_MAX_BYTES (8u << 20)

const web_asset *web_asset_find(const char *name) {
  for (const web_asset *a = web_assets; a->name; a++)
    if (!strcmp(a->name, name)) return a;
  return NULL;
}

static const char *content_type(const char *name) {
  const char *dot = strrchr(name, '.');
  if (!dot) return "application/octet-stream";
  if (!strcmp(dot, ".html")) return "text/html; charset=utf-8";
  if (!strcmp(dot, ".js")) return "text/javascript; charset=utf-8";
  if (!strcmp(dot, ".css")) return "text/css; charset=utf-8";
  if (!strcmp(dot, ".svg")) return "image/svg+xml";
  if (!strcmp(dot, ".png")) return "image/png";
  return "application/octet-stream";
}

int web_reply_asset(vigil_http_response *res, const char *name, int status) {
  const web_asset *a = web_asset_find(name);
  if (!a) return vigil_http_error(res, 404, "no such file");
  return vigil_http_reply(res, status, content_type(name), a->data, a->len);
}

int web_h_index(vigil_http_response *res, const vigil_http_request *req) {
  return web_reply_asset(res, "index.html", 200);
}

int web_h_asset(vigil_http_response *res, const vigil_http_request *req) {
  char name[128];
  const char *p = req->path_param ? req->path_param : "";
  size_t n = strcspn(p, "/");
  if (n == 0 || n >= sizeof name || p[n]) return vigil_http_error(res, 404, "no such file");
  memcpy(name, p, n);
  name[n] = '\0';
  return web_reply_asset(res, name, 200);
}

/* The base URL of a DASHBOARD_SERVICES entry "name=url", or -1. */
static int service_url(const char *name, char *url, size_t cap) {
  char **items;
  size_t n;
  if (vigil_config_list(NULL, "DASHBOARD_SERVICES", &items, &n, NULL, 0)) return -1;
  int rc = -1;
  size_t nl = strlen(name);
  for (size_t i = 0; i < n && rc; i++)
    if (!strncmp(items[i], name, nl) && items[i][nl] == '=') {
      snprintf(url, cap, "%s", items[i] + nl + 1);
      size_t l = strlen(url);
      while (l && url[l - 1] == '/') url[--l] = '\0';
      rc = 0;
    }
  vigil_config_list_free(items, n);
  return rc;
}

int web_h_services(vigil_http_response *res, const vigil_http_request *req) {
  char **items;
  size_t n;
  if (vigil_config_list(NULL, "DASHBOARD_SERVICES", &items, &n, NULL, 0))
    return vigil_http_error(res, 500, "DASHBOARD_SERVICES is malformed");
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++) {
    char *eq = strchr(items[i], '=');
    if (!eq) continue;
    *eq = '\0';
    json_array_append_new(arr, json_pack("{s:s,s:s}", "name", items[i], "url", eq + 1));
  }
  vigil_config_list_free(items, n);
  return vigil_http_reply_json(res, 200, json_pack("{s:o}", "services", arr));
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

typedef struct {
  sbuf b;
  bool too_big;
} sink;

static size_t on_data(char *p, size_t sz, size_t n, void *ud) {
  sink *s = ud;
  if (s->b.len + sz * n > PROXY_MAX_BYTES) {
    s->too_big = true;
    return 0;
  }
  sbuf_addn(&s->b, p, sz * n);
  return sz * n;
}

/* Forwards GET .../health|metrics|models/status and POST .../models/preload|unload. */
int web_h_proxy(vigil_http_response *res, const vigil_http_request *req) {
  static const char *const allowed[] = {"GET /health", "GET /metrics", "GET /models/status", "POST /models/preload",
                                        "POST /models/unload"};
  const char *pp = req->path_param ? req->path_param : "";
  char name[64];
  size_t nl = strcspn(pp, "/");
  if (nl == 0 || nl >= sizeof name) return vigil_http_error(res, 404, "unknown service");
  memcpy(name, pp, nl);
  name[nl] = '\0';
  const char *prefix = "/api/services/";
  const char *rest = req->path + strlen(prefix) + nl; /* "/models/status" */
  char what[96];
  snprintf(what, sizeof what, "%s %s", req->method, rest);
  bool ok = false;
  for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++) ok |= !strcmp(what, allowed[i]);
  if (!ok) return vigil_http_error(res, 404, "not proxied: %.80s", what);
  char base[512], url[1200];
  if (service_url(name, base, sizeof base)) return vigil_http_error(res, 404, "service '%s' is not in DASHBOARD_SERVICES", name);
  pthread_once(&curl_once, curl_init_once);
  CURL *h = curl_easy_init();
  if (!h) return vigil_http_error(res, 500, "curl_easy_init failed");
  const char *model = vigil_http_query(req, "model_name");
  char *esc = model ? curl_easy_escape(h, model, 0) : NULL;
  snprintf(url, sizeof url, "%s%s%s%s", base, rest, esc ? "?model_name=" : "", esc ? esc : "");
  curl_free(esc);
  sink s = {0};
  sbuf_init(&s.b, 0);
  curl_easy_setopt(h, CURLOPT_URL, url);
  if (!strcmp(req->method, "POST")) {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
  }
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, PROXY_TIMEOUT_MS);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  CURLcode cc = curl_easy_perform(h);
  long status = 0;
  char *ct = NULL, ctype[64] = "application/json";
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct) snprintf(ctype, sizeof ctype, "%s", ct);
  curl_easy_cleanup(h);
  int rc;
  if (cc != CURLE_OK)
    rc = vigil_http_error(res, s.too_big ? 502 : 502, "service '%s' at %s is not reachable: %s", name, base,
                          s.too_big ? "reply too large" : curl_easy_strerror(cc));
  else if (s.b.oom)
    rc = vigil_http_error(res, 500, "out of memory");
  else
    rc = vigil_http_reply(res, (int)status, ctype, s.b.s ? s.b.s : "", s.b.len);
  sbuf_free(&s.b);
  return rc;
}
