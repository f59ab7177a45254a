/* The HTTP server: libmicrohttpd (epoll, a pool of worker threads) dispatching
 * to a service's route table, with the edge's limits.
 *
 * Limits, and where each is enforced:
 *   - body size: a Content-Length over the limit is answered 413 before any
 *     body is read; a chunked body is counted as it arrives and, once over,
 *     discarded (never buffered) and answered 413 at its end.
 *   - connections: MHD's own limit is set a little above ours so that the
 *     connections past ours can still be told 503 instead of being dropped.
 *   - headers: MHD's per-connection memory pool (MHD answers 431 past it).
 *   - slow clients: MHD's idle timeout only closes connections that send
 *     nothing, so a client sending one byte a second would hold a worker's
 *     connection forever. A watchdog thread therefore tracks when each
 *     connection started its current request and shuts down the socket of any
 *     that has not delivered the whole request within request_timeout_s.
 *     shutdown(2) (not close) leaves the descriptor to MHD, which sees EOF
 *     and cleans up on its own thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http/http_internal.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/sync.h"
#include "vigil/status.h"

typedef struct conn_track {
  int fd;
  uint32_t ip;              /* IPv4, network order */
  atomic_llong recv_start_ms; /* when the request now arriving began (connect, or the end of the last one) */
  atomic_int handling;      /* a handler runs, or the request is parked (long poll) */
  atomic_int headers_done;  /* the current request's line and headers have arrived */
  atomic_int bad_target;    /* the request target unescapes to a NUL byte */
  bool killed, over_ip;     /* under conn_mu */
  struct conn_track *prev, *next;
} conn_track;

#define MAX_QUERY 64
#define MAX_EXTRA_HEADERS 6

typedef struct req_state {
  vigil_http_server *srv;
  struct MHD_Connection *c;
  double t0;
  uint8_t *buf;
  size_t len, cap;
  bool too_big, answered, dispatched, parked, has_pending;
  conn_track *ct;
  uint64_t pixels; /* admitted decoded pixels, given back when the handler returns */
  /* kept for long polls, whose handler is called again later */
  size_t row;
  vigil_http_kv query[MAX_QUERY];
  size_t n_query;
  char pbuf[256];
  bool has_param;
  const char *url, *method;
  void *poll_state;
  vigil_http_response pending;
  struct req_state *pnext; /* next parked poll, or next job */
  struct {
    const char *name;
    char value[256];
  } hdr[MAX_EXTRA_HEADERS];
  int n_hdr;
} req_state;

struct vigil_http_server {
  struct MHD_Daemon *d;
  const vigil_service *svc;
  void *ctx;
  vigil_http_params p;
  uint16_t port;
  bool builtin_metrics;
  http_metrics metrics;
  pthread_mutex_t conn_mu;
  conn_track *conns;
  atomic_uint active;
  atomic_uint killed; /* of those, shut down by us and not yet closed by MHD */
  atomic_uint handling; /* requests between dispatch and completion */
  pthread_t watchdog;
  pthread_cond_t cv;
  bool stop, watchdog_started;
  /* request workers: p.threads threads run handlers off the I/O threads;
   * at most 2 x p.threads requests wait for one (the job queue) */
  pthread_mutex_t gate_mu;
  pthread_cond_t gate_cv;
  req_state *jobs, *jobs_tail;
  unsigned running, waiting;
  double ewma_s; /* handling time of queued requests, moving average */
  pthread_t *workers;
  unsigned n_workers;
  bool workers_stop;
  /* decoded pixels in flight */
  pthread_mutex_t px_mu;
  pthread_cond_t px_cv;
  uint64_t px_inflight;
  /* parked long polls */
  pthread_mutex_t poll_mu;
  pthread_cond_t poll_cv;
  req_state *polls;
  atomic_uint n_polls; /* parked long polls, for /metrics */
  pthread_t poller;
  bool poll_stop, poller_started;
};

/* ---- request helpers ----------------------------------------------------------------- */

const char *vigil_http_query(const vigil_http_request *req, const char *key) {
  for (size_t i = 0; i < req->n_query; i++)
    if (!strcmp(req->query[i].key, key)) return req->query[i].value ? req->query[i].value : "";
  return NULL;
}

const char *vigil_http_header(const vigil_http_request *req, const char *name) {
  if (!req->internal) return NULL;
  const req_state *rs = req->internal;
  return MHD_lookup_connection_value(rs->c, MHD_HEADER_KIND, name);
}

bool vigil_http_content_type_is(const vigil_http_request *req, const char *type) {
  const char *ct = req->content_type;
  if (!ct) return false;
  while (*ct == ' ') ct++;
  size_t n = strlen(type);
  return !strncasecmp(ct, type, n) && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

bool vigil_http_route_match(const char *pat, const char *path, const char **param, size_t *param_len) {
  const char *pp = pat, *s = path;
  while (*pp) {
    if (*pp == '{') {
      const char *close = strchr(pp, '}');
      if (!close) return false;
      const char *seg = s;
      while (*s && *s != '/') s++;
      if (s == seg) return false;
      if (param) *param = seg;
      if (param_len) *param_len = (size_t)(s - seg);
      pp = close + 1;
      continue;
    }
    if (*pp++ != *s++) return false;
  }
  return *s == '\0';
}

static const char *conn_header(struct MHD_Connection *c, const char *name) {
  return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static void add_header(req_state *rs, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add_header(req_state *rs, const char *name, const char *fmt, ...) {
  if (rs->n_hdr == MAX_EXTRA_HEADERS) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(rs->hdr[rs->n_hdr].value, sizeof rs->hdr[0].value, fmt, ap);
  va_end(ap);
  rs->hdr[rs->n_hdr++].name = name;
}

/* ---- responses ------------------------------------------------------------------------- */

static enum MHD_Result send_response(vigil_http_server *srv, struct MHD_Connection *c, req_state *rs, size_t row,
                                     vigil_http_response *res) {
  struct MHD_Response *r;
  if (res->body && res->body_len) {
    r = MHD_create_response_from_buffer(res->body_len, res->body, MHD_RESPMEM_MUST_FREE);
    if (r) res->body = NULL; /* MHD owns it now */
  } else {
    r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
  }
  int status = res->status, retry = res->retry_after_s;
  char ctype[sizeof res->content_type];
  snprintf(ctype, sizeof ctype, "%s", res->content_type[0] ? res->content_type : "text/plain");
  vigil_http_response_free(res);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
  if (retry > 0) {
    char v[16];
    snprintf(v, sizeof v, "%d", retry);
    MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, v);
  }
  for (int i = 0; i < rs->n_hdr; i++) MHD_add_response_header(r, rs->hdr[i].name, rs->hdr[i].value);
  enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
  MHD_destroy_response(r);
  rs->answered = true;
  http_metrics_observe(&srv->metrics, row, status, vigil_mono_s() - rs->t0);
  vlog_debug("%s: %d", srv->svc->name, status);
  return ok;
}

static enum MHD_Result send_error(vigil_http_server *srv, struct MHD_Connection *c, req_state *rs, size_t row,
                                  int status, const char *msg) {
  vigil_http_response res = {0};
  vigil_http_error(&res, status, "%s", msg);
  if (status == 503) res.retry_after_s = 1;
  return send_response(srv, c, rs, row, &res);
}

/* The request whose handler runs on this thread (for vigil_http_decode_image
 * calls that do not pass it). */
static _Thread_local const vigil_http_request *current_req;

const vigil_http_request *http_current_request(void) { return current_req; }

/* ---- admission: bounded handlers, bounded wait, shedding ----------------------------------- */

/* Queues a request for the workers, suspending its connection (the I/O
 * thread moves on); or sheds it: -1, *retry_s says when to retry. The
 * suspend happens under gate_mu, so no worker can resume it first. */
static int job_submit(vigil_http_server *srv, req_state *rs, int *retry_s) {
  unsigned workers = srv->p.threads;
  pthread_mutex_lock(&srv->gate_mu);
  if (srv->running + srv->waiting >= workers) {
    /* Expected wait: the queue ahead drains `workers` at a time, one
     * handling time each. Auto limit: twice one handling time. */
    double est = srv->ewma_s * (double)(srv->waiting + 1) / (double)workers;
    double limit = srv->p.max_queue_wait_s > 0 ? srv->p.max_queue_wait_s : 2 * srv->ewma_s;
    if (srv->waiting >= 2 * workers || (srv->ewma_s > 0 && est > limit)) {
      double r = est > srv->ewma_s ? est : srv->ewma_s;
      *retry_s = r < 1 ? 1 : (int)ceil(r);
      pthread_mutex_unlock(&srv->gate_mu);
      return -1;
    }
  }
  rs->parked = true;
  rs->pnext = NULL;
  if (srv->jobs_tail) srv->jobs_tail->pnext = rs;
  else srv->jobs = rs;
  srv->jobs_tail = rs;
  srv->waiting++;
  MHD_suspend_connection(rs->c);
  pthread_cond_signal(&srv->gate_cv);
  pthread_mutex_unlock(&srv->gate_mu);
  return 0;
}

int http_admit_pixels(const vigil_http_request *req, uint64_t px, vigil_http_response *res) {
  if (!req || !req->internal) return 0;
  req_state *rs = req->internal;
  vigil_http_server *srv = rs->srv;
  uint64_t req_max = srv->p.max_request_pixels, svc_max = srv->p.max_inflight_pixels;
  if (req_max && rs->pixels + px > req_max) {
    vigil_http_error(res, 413,
                     "the images of this request decode to more than %llu pixels in all (limit %llu, "
                     "VIGIL_HTTP_MAX_REQUEST_PIXELS): send fewer or smaller images",
                     (unsigned long long)(rs->pixels + px), (unsigned long long)req_max);
    return -1;
  }
  if (!svc_max) return 0;
  if (px > svc_max) {
    vigil_http_error(res, 413, "an image of %llu pixels is more than this service decodes at once (%llu, "
                     "VIGIL_HTTP_MAX_INFLIGHT_PIXELS)", (unsigned long long)px, (unsigned long long)svc_max);
    return -1;
  }
  pthread_mutex_lock(&srv->px_mu);
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 2;
  int rc = 0;
  while (srv->px_inflight + px > svc_max && rc == 0) rc = pthread_cond_timedwait(&srv->px_cv, &srv->px_mu, &until);
  uint64_t held = srv->px_inflight;
  bool ok = held + px <= svc_max;
  if (ok) {
    srv->px_inflight += px;
    rs->pixels += px;
  }
  pthread_mutex_unlock(&srv->px_mu);
  if (!ok) {
    vigil_http_error(res, 503, "server busy: other requests hold %llu decoded pixels (limit %llu); retry shortly",
                     (unsigned long long)held, (unsigned long long)svc_max);
    res->retry_after_s = 1;
    return -1;
  }
  return 0;
}

static void pixels_release(req_state *rs) {
  if (!rs->pixels) return;
  vigil_http_server *srv = rs->srv;
  pthread_mutex_lock(&srv->px_mu);
  srv->px_inflight -= rs->pixels;
  rs->pixels = 0;
  pthread_cond_broadcast(&srv->px_cv);
  pthread_mutex_unlock(&srv->px_mu);
}

/* ---- dispatch ---------------------------------------------------------------------------- */

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
  req_state *rs = cls;
  if (rs->n_query < MAX_QUERY) rs->query[rs->n_query++] = (vigil_http_kv){key, value};
  return MHD_YES;
}

static size_t find_route(const vigil_http_server *srv, const char *method, const char *url, bool *path_known,
                         const char **param, size_t *param_len) {
  const vigil_service *svc = srv->svc;
  *path_known = false;
  for (size_t i = 0; i < svc->n_routes; i++) {
    if (!vigil_http_route_match(svc->routes[i].path, url, param, param_len)) continue;
    *path_known = true;
    if (!strcmp(svc->routes[i].method, method)) return i;
  }
  if (srv->builtin_metrics && !strcmp(url, "/metrics")) {
    *path_known = true;
    if (!strcmp(method, "GET")) return svc->n_routes;
  }
  return svc->n_routes + 1;
}

static void build_request(vigil_http_request *req, req_state *rs) {
  static const uint8_t empty[1] = {0};
  *req = (vigil_http_request){
      .method = rs->method,
      .path = rs->url,
      .path_param = rs->has_param ? rs->pbuf : NULL,
      .query = rs->query,
      .n_query = rs->n_query,
      .content_type = conn_header(rs->c, MHD_HTTP_HEADER_CONTENT_TYPE),
      .body = rs->buf ? rs->buf : empty,
      .body_len = rs->len,
      .ctx = rs->srv->ctx,
      .internal = rs,
      .poll_state = &rs->poll_state,
  };
}

/* Routes that answer whatever the load: they are cheap and monitoring needs them. */
static bool is_open_route(const char *method, const char *url) {
  return !strcmp(method, "GET") && (!strcmp(url, "/health") || !strcmp(url, "/metrics"));
}

static enum MHD_Result dispatch(vigil_http_server *srv, struct MHD_Connection *c, req_state *rs, const char *url,
                                const char *method) {
  const vigil_service *svc = srv->svc;
  bool known;
  const char *param = NULL;
  size_t param_len = 0;
  size_t row = find_route(srv, method, url, &known, &param, &param_len);
  if (row == svc->n_routes + 1) {
    if (known) return send_error(srv, c, rs, row, 405, "method not allowed");
    char msg[300];
    snprintf(msg, sizeof msg, "not found: %.200s", url);
    return send_error(srv, c, rs, row, 404, msg);
  }
  vigil_http_response res = {0};
  if (row == svc->n_routes) { /* built-in /metrics */
    vigil_metrics_out o = {0};
    http_metrics_render(&srv->metrics, &o, atomic_load(&srv->active));
    {
      char labels[96];
      snprintf(labels, sizeof labels, "service=\"%s\"", svc->name);
      pthread_mutex_lock(&srv->gate_mu);
      unsigned running = srv->running, waiting = srv->waiting;
      pthread_mutex_unlock(&srv->gate_mu);
      vigil_metrics_header(&o, "vigil_http_requests_running", "gauge", "Requests a worker is handling now.");
      vigil_metrics_sample(&o, "vigil_http_requests_running", labels, running);
      vigil_metrics_header(&o, "vigil_http_requests_queued", "gauge", "Requests waiting for a worker.");
      vigil_metrics_sample(&o, "vigil_http_requests_queued", labels, waiting);
      vigil_metrics_header(&o, "vigil_http_long_polls_parked", "gauge",
                           "Long polls (event streams) waiting off the workers.");
      vigil_metrics_sample(&o, "vigil_http_long_polls_parked", labels, atomic_load(&srv->n_polls));
    }
    if (svc->metrics) svc->metrics(&o, srv->ctx);
    if (o.oom) {
      free(o.buf);
      return send_error(srv, c, rs, row, 500, "out of memory");
    }
    res.status = 200;
    snprintf(res.content_type, sizeof res.content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body = o.buf;
    res.body_len = o.len;
    return send_response(srv, c, rs, row, &res);
  }
  rs->row = row;
  rs->url = url;
  rs->method = method;
  MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_query, rs);
  if (param) {
    snprintf(rs->pbuf, sizeof rs->pbuf, "%.*s", (int)(param_len < 255 ? param_len : 255), param);
    rs->has_param = true;
  }
  if (!is_open_route(method, url)) {
    int retry = 0;
    if (job_submit(srv, rs, &retry) == 0) return MHD_YES;
    vigil_http_error(&res, 503, "server busy: the expected wait is over the limit (VIGIL_HTTP_MAX_QUEUE_WAIT_S); "
                     "retry later");
    res.retry_after_s = retry;
    return send_response(srv, c, rs, row, &res);
  }
  /* /health and /metrics run here, on the I/O thread: cheap, and never queued */
  vigil_http_request req;
  build_request(&req, rs);
  current_req = &req;
  int rc = svc->routes[row].handler(&res, &req);
  current_req = NULL;
  if (res.status < 100 || res.status > 599) {
    vigil_http_response_free(&res);
    if (rc == 0) vlog_error("%s %s %s: handler set no status", svc->name, method, url);
    return send_error(srv, c, rs, row, 500, "internal error");
  }
  return send_response(srv, c, rs, row, &res);
}

/* Hands a parked request its answer; its I/O thread sends it. */
static void finish_parked(req_state *rs, vigil_http_response *res) {
  rs->pending = *res;
  rs->has_pending = true;
  rs->parked = false;
  MHD_resume_connection(rs->c);
}

static void *worker_main(void *arg) {
  vigil_http_server *srv = arg;
  for (;;) {
    pthread_mutex_lock(&srv->gate_mu);
    while (!srv->jobs && !srv->workers_stop) pthread_cond_wait(&srv->gate_cv, &srv->gate_mu);
    req_state *rs = srv->jobs;
    if (!rs) { /* stopping, and the queue is drained */
      pthread_mutex_unlock(&srv->gate_mu);
      return NULL;
    }
    srv->jobs = rs->pnext;
    if (!srv->jobs) srv->jobs_tail = NULL;
    srv->waiting--;
    srv->running++;
    pthread_mutex_unlock(&srv->gate_mu);
    vigil_http_request req;
    build_request(&req, rs);
    vigil_http_response res = {0};
    double t0 = vigil_mono_s();
    const vigil_http_route *route = &srv->svc->routes[rs->row];
    current_req = &req;
    int rc = route->handler(&res, &req);
    current_req = NULL;
    pixels_release(rs);
    double dt = vigil_mono_s() - t0;
    pthread_mutex_lock(&srv->gate_mu);
    srv->running--;
    srv->ewma_s = srv->ewma_s > 0 ? 0.8 * srv->ewma_s + 0.2 * dt : dt;
    pthread_mutex_unlock(&srv->gate_mu);
    if (rc == VIGIL_HTTP_POLL && !res.status) {
      /* A long poll: stays suspended, the poller calls it again. */
      pthread_mutex_lock(&srv->poll_mu);
      rs->pnext = srv->polls;
      srv->polls = rs;
      atomic_fetch_add(&srv->n_polls, 1);
      pthread_cond_signal(&srv->poll_cv);
      pthread_mutex_unlock(&srv->poll_mu);
      continue;
    }
    if (res.status < 100 || res.status > 599) {
      vigil_http_response_free(&res);
      if (rc == 0) vlog_error("%s %s %s: handler set no status", srv->svc->name, rs->method, rs->url);
      vigil_http_error(&res, 500, "internal error");
    }
    finish_parked(rs, &res);
  }
}

/* Calls parked long-poll handlers until each answers, then resumes its connection. */
static void *poller_main(void *arg) {
  vigil_http_server *srv = arg;
  pthread_mutex_lock(&srv->poll_mu);
  while (!srv->poll_stop) {
    for (req_state **pp = &srv->polls; *pp;) {
      req_state *rs = *pp;
      vigil_http_request req;
      build_request(&req, rs);
      vigil_http_response res = {0};
      current_req = &req;
      int rc = srv->svc->routes[rs->row].handler(&res, &req);
      current_req = NULL;
      if (rc == VIGIL_HTTP_POLL && !res.status) {
        pp = &rs->pnext;
        continue;
      }
      if (res.status < 100 || res.status > 599) {
        vigil_http_response_free(&res);
        vigil_http_error(&res, 500, "internal error");
      }
      *pp = rs->pnext;
      atomic_fetch_sub(&srv->n_polls, 1);
      finish_parked(rs, &res);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 250 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    if (srv->polls) pthread_cond_timedwait(&srv->poll_cv, &srv->poll_mu, &ts);
    else if (!srv->poll_stop) pthread_cond_wait(&srv->poll_cv, &srv->poll_mu);
  }
  /* Stopping: answer whatever is still parked. */
  while (srv->polls) {
    req_state *rs = srv->polls;
    srv->polls = rs->pnext;
    atomic_fetch_sub(&srv->n_polls, 1);
    vigil_http_response res = {0};
    vigil_http_error(&res, 503, "server shutting down");
    res.retry_after_s = 1;
    finish_parked(rs, &res);
  }
  pthread_mutex_unlock(&srv->poll_mu);
  return NULL;
}

/* Which metrics row a request would be counted under, for early answers. */
static size_t early_row(vigil_http_server *srv, const char *method, const char *url) {
  bool known;
  return find_route(srv, method, url, &known, NULL, NULL);
}

typedef struct {
  size_t bytes;
} header_sum;

static enum MHD_Result sum_headers(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
  header_sum *h = cls;
  h->bytes += strlen(key) + (value ? strlen(value) : 0) + 4;
  return MHD_YES;
}

static bool is_write(const char *method) {
  return strcmp(method, "GET") && strcmp(method, "HEAD") && strcmp(method, "OPTIONS");
}

/* The edge's rules, checked once the request line and headers are in and
 * before any body is read. Returns true when it has answered. */
static bool screen_request(vigil_http_server *srv, struct MHD_Connection *c, req_state *rs, const char *url,
                           const char *method, enum MHD_Result *ret) {
  size_t row = early_row(srv, method, url);
  const vigil_http_auth *auth = srv->p.auth;
#define ANSWER(status, ...)                                                                                         \
  do {                                                                                                            \
    char msg_[400];                                                                                               \
    snprintf(msg_, sizeof msg_, __VA_ARGS__);                                                                     \
    *ret = send_error(srv, c, rs, row, status, msg_);                                                             \
    return true;                                                                                                  \
  } while (0)
  if (rs->ct && atomic_load(&rs->ct->bad_target)) ANSWER(400, "the request target holds a NUL byte (%%00)");
  size_t url_max = srv->p.max_header < 8192 ? srv->p.max_header : 8192;
  header_sum target = {strlen(url)}; /* path and query, roughly as sent */
  MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, sum_headers, &target);
  if (target.bytes > url_max) ANSWER(414, "request target too long (limit %zu bytes)", url_max);
  header_sum hs = {target.bytes + strlen(method) + 12};
  MHD_get_connection_values(c, MHD_HEADER_KIND, sum_headers, &hs);
  if (hs.bytes > srv->p.max_header)
    ANSWER(431, "request line and headers too large (limit %zu bytes)", srv->p.max_header);
  bool open = is_open_route(method, url);
  if (!open && rs->ct && rs->ct->over_ip)
    ANSWER(503, "server busy: too many connections from your address (limit %u)", srv->p.max_conn_per_ip);
  /* connections we have already shut down do not count: they are going */
  unsigned active = atomic_load(&srv->active), going = atomic_load(&srv->killed);
  if (!open && active > going && active - going > srv->p.max_connections)
    ANSWER(503, "server busy: too many connections");
  bool health = !strcmp(url, "/health");
  const char *host = conn_header(c, MHD_HTTP_HEADER_HOST);
  if (!health && host && !vigil_http_host_allowed(auth, host))
    ANSWER(403, "Host '%.100s' is not allowed: use an IP address or a name listed in VIGIL_HTTP_ALLOWED_HOSTS",
           host);
  const char *origin = conn_header(c, "Origin");
  bool listed = origin && vigil_http_origin_listed(auth, origin);
  if (listed) {
    add_header(rs, "Access-Control-Allow-Origin", "%s", origin);
    add_header(rs, "Vary", "Origin");
  }
  if (!strcmp(method, "OPTIONS")) { /* CORS preflight: only for allow-listed origins */
    if (origin && !listed) ANSWER(403, "cross-origin requests from '%.100s' are not allowed", origin);
    add_header(rs, "Access-Control-Allow-Methods", "GET, POST, PATCH, PUT, DELETE");
    add_header(rs, "Access-Control-Allow-Headers", "Authorization, X-API-Key, Content-Type, Last-Event-ID");
    add_header(rs, "Access-Control-Max-Age", "600");
    vigil_http_response res = {.status = 204};
    *ret = send_response(srv, c, rs, row, &res);
    return true;
  }
  bool keys = vigil_http_auth_n_keys(auth) > 0;
  if (keys && !health) {
    vigil_http_role role = vigil_http_auth_role(auth, conn_header(c, MHD_HTTP_HEADER_AUTHORIZATION),
                                                conn_header(c, "X-API-Key"));
    if (role == VIGIL_ROLE_NONE) {
      add_header(rs, "WWW-Authenticate", "Bearer realm=\"vigil\"");
      ANSWER(401, "an API key is required: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'");
    }
    if (is_write(method) && role < VIGIL_ROLE_ADMIN) ANSWER(403, "this API key is read-only");
  }
  if (is_write(method)) {
    if (origin && !vigil_http_origin_allowed(auth, origin, host))
      ANSWER(403, "cross-site request refused (Origin '%.100s'; allow it with VIGIL_HTTP_CORS_ORIGINS)", origin);
    const char *site = conn_header(c, "Sec-Fetch-Site");
    if (!listed && site && !strcasecmp(site, "cross-site"))
      ANSWER(403, "cross-site request refused (Sec-Fetch-Site: cross-site)");
    const char *cl = conn_header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
    bool body = conn_header(c, MHD_HTTP_HEADER_TRANSFER_ENCODING) || (cl && strcmp(cl, "0"));
    vigil_http_request probe = {.content_type = conn_header(c, MHD_HTTP_HEADER_CONTENT_TYPE)};
    if (body && !vigil_http_content_type_is(&probe, "application/json") &&
        !vigil_http_content_type_is(&probe, "multipart/form-data"))
      ANSWER(415, "unsupported content type '%.80s': a request that changes state must send application/json or "
             "multipart/form-data", probe.content_type ? probe.content_type : "(none)");
  }
  const char *cl = conn_header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (cl) {
    char *end;
    errno = 0;
    unsigned long long n = strtoull(cl, &end, 10);
    if (errno || n > srv->p.max_body) ANSWER(413, "request body too large (limit %zu bytes)", srv->p.max_body);
  }
#undef ANSWER
  return false;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
  vigil_http_server *srv = cls;
  req_state *rs = *con_cls;
  if (!rs) {
    rs = calloc(1, sizeof *rs);
    if (!rs) return MHD_NO;
    rs->srv = srv;
    rs->c = c;
    rs->t0 = vigil_mono_s();
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    rs->ct = ci ? ci->socket_context : NULL;
    if (rs->ct) atomic_store(&rs->ct->headers_done, 1);
    *con_cls = rs;
    enum MHD_Result ret;
    if (screen_request(srv, c, rs, url, method, &ret)) return ret;
    return MHD_YES;
  }
  if (rs->has_pending) { /* a parked long poll has its answer */
    rs->has_pending = false;
    return send_response(srv, c, rs, rs->row, &rs->pending);
  }
  if (*upload_size) {
    if (!rs->too_big && !rs->answered) {
      size_t n = *upload_size;
      if (rs->len + n > srv->p.max_body) {
        rs->too_big = true;
        free(rs->buf);
        rs->buf = NULL;
        rs->len = rs->cap = 0;
      } else {
        if (rs->len + n + 1 > rs->cap) {
          size_t cap = rs->cap ? rs->cap : 16384;
          while (cap < rs->len + n + 1) cap *= 2;
          if (cap > srv->p.max_body + 1) cap = srv->p.max_body + 1;
          uint8_t *nb = realloc(rs->buf, cap);
          if (!nb) return MHD_NO;
          rs->buf = nb;
          rs->cap = cap;
        }
        memcpy(rs->buf + rs->len, upload, n);
        rs->len += n;
        rs->buf[rs->len] = '\0';
      }
    }
    *upload_size = 0;
    return MHD_YES;
  }
  if (rs->answered || rs->parked) return MHD_YES;
  if (rs->too_big) {
    char msg[128];
    snprintf(msg, sizeof msg, "request body too large (limit %zu bytes)", srv->p.max_body);
    return send_error(srv, c, rs, early_row(srv, method, url), 413, msg);
  }
  if (rs->dispatched) return MHD_YES;
  if (rs->ct) atomic_store(&rs->ct->handling, 1);
  rs->dispatched = true;
  atomic_fetch_add(&srv->handling, 1);
  return dispatch(srv, c, rs, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
  vigil_http_server *srv = cls;
  req_state *rs = *con_cls;
  if (!rs) return;
  if (rs->dispatched) atomic_fetch_sub(&srv->handling, 1);
  if (rs->ct) {
    atomic_store(&rs->ct->recv_start_ms, (long long)(vigil_mono_s() * 1000));
    atomic_store(&rs->ct->headers_done, 0);
    atomic_store(&rs->ct->handling, 0);
  }
  pixels_release(rs);
  if (rs->has_pending) vigil_http_response_free(&rs->pending);
  free(rs->poll_state);
  free(rs->buf);
  free(rs);
  *con_cls = NULL;
}

/* Shuts a connection's socket down (MHD then sees EOF and closes it on its
 * own thread). Under conn_mu. */
static void kill_conn(vigil_http_server *srv, conn_track *t) {
  shutdown(t->fd, SHUT_RDWR);
  t->killed = true;
  atomic_fetch_add(&srv->killed, 1);
}

static void evict(vigil_http_server *srv, conn_track *t, const char *why) {
  vlog_debug("%s: closing a waiting connection (%s)", srv->svc->name, why);
  kill_conn(srv, t);
}

/* A new connection past the per-address or the total limit closes the
 * oldest connection that is still waiting for its request's headers (a slow
 * or idle client), so slow clients cannot hold every slot. With none to
 * close, a client past its address's limit is refused (503) per request. */
static void admit_connection(vigil_http_server *srv, conn_track *ct) {
  conn_track *oldest_ip = NULL, *oldest = NULL;
  unsigned same = 0, total = 0;
  for (conn_track *t = srv->conns; t; t = t->next) {
    if (t == ct || t->killed || t->fd < 0) continue;
    total++;
    bool waiting = !atomic_load(&t->handling) && !atomic_load(&t->headers_done);
    long long st = atomic_load(&t->recv_start_ms);
    if (t->ip == ct->ip) {
      same++;
      if (waiting && (!oldest_ip || st < atomic_load(&oldest_ip->recv_start_ms))) oldest_ip = t;
    }
    if (waiting && (!oldest || st < atomic_load(&oldest->recv_start_ms))) oldest = t;
  }
  if (srv->p.max_conn_per_ip && same >= srv->p.max_conn_per_ip) {
    if (oldest_ip) evict(srv, oldest_ip, "per-address limit");
    else ct->over_ip = true;
  } else if (total >= srv->p.max_connections && oldest) {
    evict(srv, oldest, "connection limit");
  }
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
  vigil_http_server *srv = cls;
  if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
    conn_track *ct = calloc(1, sizeof *ct);
    *socket_context = ct;
    atomic_fetch_add(&srv->active, 1);
    if (!ct) return;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    ct->fd = ci ? ci->connect_fd : -1;
    ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
      ct->ip = ((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_addr.s_addr;
    atomic_store(&ct->recv_start_ms, (long long)(vigil_mono_s() * 1000));
    pthread_mutex_lock(&srv->conn_mu);
    ct->next = srv->conns;
    if (srv->conns) srv->conns->prev = ct;
    srv->conns = ct;
    admit_connection(srv, ct);
    pthread_mutex_unlock(&srv->conn_mu);
  } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
    conn_track *ct = *socket_context;
    if (!ct) {
      atomic_fetch_sub(&srv->active, 1);
      return;
    }
    pthread_mutex_lock(&srv->conn_mu);
    /* killed before active: a reader taking active, then killed, never sees killed > active */
    if (ct->killed) atomic_fetch_sub(&srv->killed, 1);
    atomic_fetch_sub(&srv->active, 1);
    if (ct->prev) ct->prev->next = ct->next;
    else srv->conns = ct->next;
    if (ct->next) ct->next->prev = ct->prev;
    pthread_mutex_unlock(&srv->conn_mu);
    free(ct);
    *socket_context = NULL;
  }
}

/* MHD's unescaping, after noting a %00: a NUL would silently cut the path
 * ("/events/1%00/snapshot" read as "/events/1"), so such requests get 400. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s) {
  (void)cls;
  for (const char *p = s; (p = strchr(p, '%')); p++)
    if (p[1] == '0' && p[2] == '0') {
      const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
      conn_track *ct = ci ? ci->socket_context : NULL;
      if (ct) atomic_store(&ct->bad_target, 1);
      break;
    }
  return MHD_http_unescape(s);
}

static void *watchdog_main(void *arg) {
  vigil_http_server *srv = arg;
  pthread_mutex_lock(&srv->conn_mu);
  while (!srv->stop) {
    long long t = (long long)(vigil_mono_s() * 1000);
    for (conn_track *ct = srv->conns; ct; ct = ct->next) {
      if (ct->killed || atomic_load(&ct->handling) || ct->fd < 0) continue;
      bool headers = atomic_load(&ct->headers_done);
      unsigned limit = headers ? srv->p.request_timeout_s : srv->p.header_timeout_s;
      if (t - atomic_load(&ct->recv_start_ms) > 1000LL * limit) {
        vlog_info("%s: closing a connection that took over %u s to send its request%s", srv->svc->name, limit,
                  headers ? "" : "'s headers");
        kill_conn(srv, ct);
      }
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 250 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_cond_timedwait(&srv->cv, &srv->conn_mu, &ts);
  }
  pthread_mutex_unlock(&srv->conn_mu);
  return NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  size_t n = strlen(msg);
  while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = '\0';
  vlog_debug("microhttpd: %s", msg);
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

int vigil_http_params_from_config(vigil_http_params *p, const vigil_config *cfg, char *err, size_t errlen) {
  memset(p, 0, sizeof *p);
  long threads, conns, header_kb, idle, req, hdr_s, per_ip, req_px, svc_px;
  double body_mb, wait_s;
  bool insecure = false;
  if (vigil_config_int(cfg, "VIGIL_HTTP_THREADS", &threads, err, errlen) ||
      vigil_config_int(cfg, "VIGIL_HTTP_MAX_CONNECTIONS", &conns, err, errlen) ||
      vigil_config_int(cfg, "VIGIL_HTTP_MAX_HEADER_KB", &header_kb, err, errlen) ||
      vigil_config_int(cfg, "VIGIL_HTTP_IDLE_TIMEOUT_S", &idle, err, errlen) ||
      vigil_config_int(cfg, "VIGIL_HTTP_REQUEST_TIMEOUT_S", &req, err, errlen) ||
      vigil_config_int(cfg, "VIGIL_HTTP_HEADER_TIMEOUT_S", &hdr_s, err, errlen) ||
      vigil_config_int(cfg, "VIGIL_HTTP_MAX_CONNECTIONS_PER_IP", &per_ip, err, errlen) ||
      vigil_config_int(cfg, "VIGIL_HTTP_MAX_REQUEST_PIXELS", &req_px, err, errlen) ||
      vigil_config_int(cfg, "VIGIL_HTTP_MAX_INFLIGHT_PIXELS", &svc_px, err, errlen) ||
      vigil_config_float(cfg, "VIGIL_HTTP_MAX_QUEUE_WAIT_S", &wait_s, err, errlen) ||
      vigil_config_bool(cfg, "VIGIL_HTTP_INSECURE", &insecure, err, errlen) ||
      vigil_config_float(cfg, "VIGIL_HTTP_MAX_BODY_MB", &body_mb, err, errlen))
    return -1;
  p->threads = (unsigned)threads;
  p->max_connections = (unsigned)conns;
  p->max_header = (size_t)header_kb * 1024;
  p->idle_timeout_s = (unsigned)idle;
  p->request_timeout_s = (unsigned)req;
  p->header_timeout_s = (unsigned)hdr_s;
  p->max_conn_per_ip = (unsigned)per_ip;
  p->max_request_pixels = (uint64_t)req_px;
  p->max_inflight_pixels = (uint64_t)svc_px;
  p->max_queue_wait_s = wait_s;
  p->allow_insecure_bind = insecure;
  /* Left at its default, the body limit is the service's own (vigil_service.max_body). */
  const char *src = vigil_config_source(cfg, "VIGIL_HTTP_MAX_BODY_MB");
  p->max_body = strcmp(src, "default") ? (size_t)llround(body_mb * 1024 * 1024) : 0;
  return 0;
}

static bool is_loopback(const struct in_addr *a) { return (ntohl(a->s_addr) >> 24) == 127; }

int vigil_http_server_start(vigil_http_server **out, const vigil_service *svc, void *ctx, vigil_http_params p,
                            char *err, size_t errlen) {
  *out = NULL;
  vigil_http_server *srv = calloc(1, sizeof *srv);
  if (!srv) {
    vigil_err(err, errlen, -1, "out of memory");
    return -1;
  }
  if (!p.threads) p.threads = 1;
  if (!p.max_connections) p.max_connections = 64;
  if (!p.max_body) p.max_body = svc->max_body ? svc->max_body : 16u << 20;
  if (!p.max_header) p.max_header = 32u << 10;
  if (!p.idle_timeout_s) p.idle_timeout_s = 15;
  if (!p.request_timeout_s) p.request_timeout_s = 30;
  if (!p.header_timeout_s) p.header_timeout_s = 5;
  if (p.header_timeout_s > p.request_timeout_s) p.header_timeout_s = p.request_timeout_s;
  srv->svc = svc;
  srv->ctx = ctx;
  srv->p = p;
  srv->builtin_metrics = true;
  for (size_t i = 0; i < svc->n_routes; i++)
    if (!strcmp(svc->routes[i].path, "/metrics")) srv->builtin_metrics = false;
  vigil_sync_init(&srv->conn_mu, &srv->cv, false);
  vigil_sync_init(&srv->gate_mu, &srv->gate_cv, false);
  vigil_sync_init(&srv->px_mu, &srv->px_cv, false);
  vigil_sync_init(&srv->poll_mu, &srv->poll_cv, false);
  if (http_metrics_init(&srv->metrics, svc->name, svc->routes, svc->n_routes)) {
    vigil_err(err, errlen, -1, "out of memory");
    vigil_http_server_free(srv);
    return -1;
  }
  bool keys = vigil_http_auth_n_keys(p.auth) > 0;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(p.port)};
  const char *bind_addr = p.bind_addr ? p.bind_addr : keys ? "0.0.0.0" : "127.0.0.1";
  if (inet_pton(AF_INET, bind_addr, &addr.sin_addr) != 1) {
    vigil_err(err, errlen, -1, "bad bind address '%s' (IPv4 expected)", bind_addr);
    vigil_http_server_free(srv);
    return -1;
  }
  if (!keys && !is_loopback(&addr.sin_addr) && !p.allow_insecure_bind) {
    snprintf(err, errlen,
             "refusing to listen on %s without an API key: set VIGIL_API_KEY or VIGIL_API_KEYS_FILE (or "
             "VIGIL_HTTP_INSECURE=1 to let anyone who reaches the port use it)",
             bind_addr);
    vigil_http_server_free(srv);
    return -1;
  }
  /* MHD's pool holds the request line and headers, and buffers reads; it is
   * larger than our own header limit so that our JSON 414/431 answer first. */
  size_t pool = 2 * p.max_header < 16384 ? 16384 : 2 * p.max_header;
  /* I/O threads only read, write, screen and queue: handlers run on the
   * workers, so an I/O thread can always shed load and answer /health. */
  unsigned pool_threads = 2;
  /* Room past max_connections: /health and /metrics still get a slot. */
  unsigned mhd_limit = p.max_connections + 64 + 4 * pool_threads;
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_ITC |
                   MHD_ALLOW_SUSPEND_RESUME;
  /* No MHD_OPTION_LISTENING_ADDRESS_REUSE: it sets SO_REUSEPORT, which would let
   * a second server silently share a port that is already taken. */
  srv->d = MHD_start_daemon(
      flags, p.port, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
      MHD_OPTION_THREAD_POOL_SIZE, pool_threads, MHD_OPTION_CONNECTION_LIMIT, mhd_limit,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)p.idle_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
      MHD_OPTION_UNESCAPE_CALLBACK, unescape, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv, MHD_OPTION_END);
  if (!srv->d) {
    vigil_err(err, errlen, -1, "cannot listen on %s:%u (%s)", bind_addr, (unsigned)p.port,
             errno ? strerror(errno) : "microhttpd failed to start");
    vigil_http_server_free(srv);
    return -1;
  }
  const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
  srv->port = di ? di->port : p.port;
  if (pthread_create(&srv->watchdog, NULL, watchdog_main, srv)) {
    vigil_err(err, errlen, -1, "cannot start the watchdog thread");
    vigil_http_server_free(srv);
    return -1;
  }
  srv->watchdog_started = true;
  if (pthread_create(&srv->poller, NULL, poller_main, srv)) {
    vigil_err(err, errlen, -1, "cannot start the poller thread");
    vigil_http_server_free(srv);
    return -1;
  }
  srv->poller_started = true;
  srv->workers = calloc(p.threads, sizeof *srv->workers);
  for (unsigned i = 0; srv->workers && i < p.threads; i++) {
    if (pthread_create(&srv->workers[i], NULL, worker_main, srv)) break;
    srv->n_workers++;
  }
  if (srv->n_workers != p.threads) {
    vigil_err(err, errlen, -1, "cannot start the worker threads");
    vigil_http_server_free(srv);
    return -1;
  }
  *out = srv;
  return 0;
}

uint16_t vigil_http_server_port(const vigil_http_server *s) { return s ? s->port : 0; }

void vigil_http_server_free(vigil_http_server *srv) {
  if (!srv) return;
  if (srv->d) {
    MHD_socket ls = MHD_quiesce_daemon(srv->d);
    if (ls != MHD_INVALID_SOCKET) close(ls);
  }
  if (srv->n_workers) { /* they finish the queued requests, then exit */
    vigil_sync_raise(&srv->gate_mu, &srv->gate_cv, &srv->workers_stop);
    for (unsigned i = 0; i < srv->n_workers; i++) pthread_join(srv->workers[i], NULL);
  }
  free(srv->workers);
  if (srv->poller_started) { /* answers parked long polls (503) and resumes them */
    vigil_sync_raise(&srv->poll_mu, &srv->poll_cv, &srv->poll_stop);
    pthread_join(srv->poller, NULL);
  }
  if (srv->d) {
    /* Give requests being handled up to 10 s to have their responses sent,
     * before the daemon closes every connection. */
    struct timespec nap = {0, 20 * 1000000L};
    for (int i = 0; i < 500 && atomic_load(&srv->handling); i++) nanosleep(&nap, NULL);
  }
  if (srv->watchdog_started) {
    vigil_sync_raise(&srv->conn_mu, &srv->cv, &srv->stop);
    pthread_join(srv->watchdog, NULL);
  }
  if (srv->d) MHD_stop_daemon(srv->d);
  http_metrics_free(&srv->metrics);
  vigil_sync_destroy(&srv->conn_mu, &srv->cv);
  vigil_sync_destroy(&srv->gate_mu, &srv->gate_cv);
  vigil_sync_destroy(&srv->px_mu, &srv->px_cv);
  vigil_sync_destroy(&srv->poll_mu, &srv->poll_cv);
  free(srv);
}
