/* Prometheus text exposition for the HTTP edge: request counters per route and
 * status, latency histograms per route, process memory, service gauges. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/http_internal.h"

static const double bucket_le[HTTP_LATENCY_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                       0.5,   1,    2.5,   5,    10,  30};

void metrics_out_printf(vigil_metrics_out *o, const char *fmt, ...) {
  if (o->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->cap - o->len;
    int n = vsnprintf(o->buf ? o->buf + o->len : NULL, o->buf ? room : 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < room) {
      o->len += (size_t)n;
      return;
    }
    size_t cap = o->cap ? o->cap * 2 : 4096;
    while (cap < o->len + (size_t)n + 1) cap *= 2;
    char *nb = realloc(o->buf, cap);
    if (!nb) {
      o->oom = true;
      return;
    }
    o->buf = nb;
    o->cap = cap;
  }
}

void vigil_metrics_header(vigil_metrics_out *o, const char *name, const char *type, const char *help) {
  metrics_out_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void vigil_metrics_sample(vigil_metrics_out *o, const char *name, const char *labels, double value) {
  if (labels && *labels) metrics_out_printf(o, "%s{%s} %.17g\n", name, labels, value);
  else metrics_out_printf(o, "%s %.17g\n", name, value);
}

int http_metrics_init(http_metrics *m, const char *service, const vigil_http_route *routes, size_t n_routes) {
  memset(m, 0, sizeof *m);
  m->rows = calloc(n_routes + 2, sizeof *m->rows);
  if (!m->rows) return -1;
  m->n_rows = n_routes + 2;
  m->service = service;
  for (size_t i = 0; i < n_routes; i++) {
    m->rows[i].method = routes[i].method;
    m->rows[i].route = routes[i].path;
  }
  m->rows[n_routes].method = "GET";
  m->rows[n_routes].route = "/metrics";
  m->rows[n_routes + 1].method = "";
  m->rows[n_routes + 1].route = "unmatched";
  pthread_mutex_init(&m->mu, NULL);
  return 0;
}

void http_metrics_free(http_metrics *m) {
  if (!m || !m->rows) return;
  pthread_mutex_destroy(&m->mu);
  free(m->rows);
  m->rows = NULL;
}

void http_metrics_observe(http_metrics *m, size_t row, int status, double seconds) {
  if (row >= m->n_rows) return;
  pthread_mutex_lock(&m->mu);
  http_route_metrics *r = &m->rows[row];
  int k = 0;
  while (k < HTTP_MAX_STATUSES && r->statuses[k] && r->statuses[k] != status) k++;
  if (k == HTTP_MAX_STATUSES) k = HTTP_MAX_STATUSES - 1; /* pathological: lump into the last */
  if (!r->statuses[k]) r->statuses[k] = status;
  r->counts[k]++;
  int b = 0;
  while (b < HTTP_LATENCY_BUCKETS && seconds > bucket_le[b]) b++;
  if (b < HTTP_LATENCY_BUCKETS) r->buckets[b]++;
  r->n++;
  r->sum_s += seconds;
  pthread_mutex_unlock(&m->mu);
}

static long resident_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, rss = 0;
  if (!f) return 0;
  if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
  fclose(f);
  return rss * sysconf(_SC_PAGESIZE);
}

void http_metrics_render(http_metrics *m, vigil_metrics_out *o, unsigned active) {
  const char *svc = m->service;
  pthread_mutex_lock(&m->mu);
  vigil_metrics_header(o, "vigil_http_requests_total", "counter", "HTTP requests by route and status.");
  for (size_t i = 0; i < m->n_rows; i++) {
    http_route_metrics *r = &m->rows[i];
    for (int k = 0; k < HTTP_MAX_STATUSES && r->statuses[k]; k++)
      metrics_out_printf(o, "vigil_http_requests_total{service=\"%s\",method=\"%s\",route=\"%s\",status=\"%d\"} %llu\n",
                         svc, r->method, r->route, r->statuses[k], (unsigned long long)r->counts[k]);
  }
  vigil_metrics_header(o, "vigil_http_request_duration_seconds", "histogram",
                       "Time from request headers to response, by route.");
  for (size_t i = 0; i < m->n_rows; i++) {
    http_route_metrics *r = &m->rows[i];
    if (!r->n) continue;
    uint64_t cum = 0;
    for (int b = 0; b < HTTP_LATENCY_BUCKETS; b++) {
      cum += r->buckets[b];
      metrics_out_printf(o,
                         "vigil_http_request_duration_seconds_bucket{service=\"%s\",method=\"%s\",route=\"%s\","
                         "le=\"%g\"} %llu\n",
                         svc, r->method, r->route, bucket_le[b], (unsigned long long)cum);
    }
    metrics_out_printf(o,
                       "vigil_http_request_duration_seconds_bucket{service=\"%s\",method=\"%s\",route=\"%s\","
                       "le=\"+Inf\"} %llu\n",
                       svc, r->method, r->route, (unsigned long long)r->n);
    metrics_out_printf(o, "vigil_http_request_duration_seconds_sum{service=\"%s\",method=\"%s\",route=\"%s\"} %.9g\n",
                       svc, r->method, r->route, r->sum_s);
    metrics_out_printf(o, "vigil_http_request_duration_seconds_count{service=\"%s\",method=\"%s\",route=\"%s\"} %llu\n",
                       svc, r->method, r->route, (unsigned long long)r->n);
  }
  pthread_mutex_unlock(&m->mu);
  char labels[96];
  snprintf(labels, sizeof labels, "service=\"%s\"", svc);
  vigil_metrics_header(o, "vigil_http_connections_active", "gauge", "Open HTTP connections.");
  vigil_metrics_sample(o, "vigil_http_connections_active", labels, active);
  vigil_metrics_header(o, "vigil_process_resident_memory_bytes", "gauge", "Resident memory of the process.");
  vigil_metrics_sample(o, "vigil_process_resident_memory_bytes", labels, (double)resident_bytes());
}
