/* Internals shared by the HTTP server and its metrics (not a public API). */
#ifndef VIGIL_HTTP_INTERNAL_H
#define VIGIL_HTTP_INTERNAL_H

#include <pthread.h>

#include "vigil/http.h"

struct vigil_metrics_out {
  char *buf;
  size_t len, cap;
  bool oom;
};

void metrics_out_printf(vigil_metrics_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define HTTP_LATENCY_BUCKETS 12
#define HTTP_MAX_STATUSES 16

typedef struct {
  const char *method, *route; /* static strings or the route table's */
  int statuses[HTTP_MAX_STATUSES];
  uint64_t counts[HTTP_MAX_STATUSES];
  uint64_t buckets[HTTP_LATENCY_BUCKETS]; /* cumulative counts are formed when printed */
  uint64_t n;
  double sum_s;
} http_route_metrics;

/* Per-server counters: one row per route plus /metrics and "unmatched". */
typedef struct {
  pthread_mutex_t mu;
  const char *service;
  http_route_metrics *rows;
  size_t n_rows;
} http_metrics;

int http_metrics_init(http_metrics *m, const char *service, const vigil_http_route *routes, size_t n_routes);
void http_metrics_free(http_metrics *m);
/* row: index of the route, n_routes for /metrics, n_routes + 1 for unmatched. */
void http_metrics_observe(http_metrics *m, size_t row, int status, double seconds);
/* Writes the Prometheus text; the caller frees o->buf. */
void http_metrics_render(http_metrics *m, vigil_metrics_out *o, unsigned active_connections);

/* Admits `px` decoded pixels for the request being served (server.c): 0, or
 * -1 with `res` filled (413 over the request's budget, 503 when the
 * service's stays full for 2 s). A request without a server: always 0. */
/* The request whose handler runs on the calling thread, or NULL. */
const vigil_http_request *http_current_request(void);

int http_admit_pixels(const vigil_http_request *req, uint64_t px, vigil_http_response *res);

#endif
