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
#include "util/log.h"

typedef struct conn_track {
  int fd;
  atomic_llong recv_start_ms; /* when the request now arriving began (connect, or the end of the last one) */
  atomic_int handling;
  bool killed;
  struct conn_track *prev, *next;
} conn_track;

typedef struct {
  double t0;
  uint8_t *buf;
  size_t len, cap;
  bool too_big, answered, dispatched;
  conn_track *ct;
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
  atomic_uint handling; /* requests between dispatch and completion */
  pthread_t watchdog;
  pthread_cond_t cv;
  bool stop, watchdog_started;
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- request helpers ----------------------------------------------------------------- */

const char *vigil_http_query(const vigil_http_request *req, const char *key) {
  for (size_t i = 0; i < req->n_query; i++)
    if (!strcmp(req->query[i].key, key)) return req->query[i].value ? req->query[i].value : "";
  return NULL;
}

const char *vigil_http_header(const vigil_http_request *req, const char *name) {
  if (!req->internal) return NULL;
  return MHD_lookup_connection_value((struct MHD_Connection *)req->internal, MHD_HEADER_KIND, name);
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
  vigil_http_response_free(res);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, res->content_type[0] ? res->content_type : "text/plain");
  enum MHD_Result ok = MHD_queue_response(c, (unsigned)res->status, r);
  MHD_destroy_response(r);
  rs->answered = true;
  http_metrics_observe(&srv->metrics, row, res->status, now_s() - rs->t0);
  vlog_debug("%s: %d", srv->svc->name, res->status);
  return ok;
}

static enum MHD_Result send_error(vigil_http_server *srv, struct MHD_Connection *c, req_state *rs, size_t row,
                                  int status, const char *msg) {
  vigil_http_response res = {0};
  vigil_http_error(&res, status, "%s", msg);
  return send_response(srv, c, rs, row, &res);
}

/* ---- dispatch ---------------------------------------------------------------------------- */

typedef struct {
  vigil_http_kv kv[64];
  size_t n;
} query_collector;

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
  query_collector *q = cls;
  if (q->n < 64) q->kv[q->n++] = (vigil_http_kv){key, value};
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
  query_collector q = {.n = 0};
  MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_query, &q);
  char pbuf[256];
  if (param) snprintf(pbuf, sizeof pbuf, "%.*s", (int)(param_len < 255 ? param_len : 255), param);
  static const uint8_t empty[1] = {0};
  vigil_http_request req = {
      .method = method,
      .path = url,
      .path_param = param ? pbuf : NULL,
      .query = q.kv,
      .n_query = q.n,
      .content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
      .body = rs->buf ? rs->buf : empty,
      .body_len = rs->len,
      .ctx = srv->ctx,
      .internal = c,
  };
  int rc = svc->routes[row].handler(&res, &req);
  if (res.status < 100 || res.status > 599) {
    vigil_http_response_free(&res);
    if (rc == 0) vlog_error("%s %s %s: handler set no status", svc->name, method, url);
    return send_error(srv, c, rs, row, 500, "internal error");
  }
  return send_response(srv, c, rs, row, &res);
}

/* Which metrics row a request would be counted under, for early answers. */
static size_t early_row(vigil_http_server *srv, const char *method, const char *url) {
  bool known;
  return find_route(srv, method, url, &known, NULL, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
  vigil_http_server *srv = cls;
  req_state *rs = *con_cls;
  if (!rs) {
    rs = calloc(1, sizeof *rs);
    if (!rs) return MHD_NO;
    rs->t0 = now_s();
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    rs->ct = ci ? ci->socket_context : NULL;
    *con_cls = rs;
    if (atomic_load(&srv->active) > srv->p.max_connections)
      return send_error(srv, c, rs, early_row(srv, method, url), 503, "server busy: too many connections");
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
      char *end;
      errno = 0;
      unsigned long long n = strtoull(cl, &end, 10);
      if (errno || n > srv->p.max_body) {
        char msg[128];
        snprintf(msg, sizeof msg, "request body too large (limit %zu bytes)", srv->p.max_body);
        return send_error(srv, c, rs, early_row(srv, method, url), 413, msg);
      }
    }
    return MHD_YES;
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
  if (rs->answered) return MHD_YES;
  if (rs->too_big) {
    char msg[128];
    snprintf(msg, sizeof msg, "request body too large (limit %zu bytes)", srv->p.max_body);
    return send_error(srv, c, rs, early_row(srv, method, url), 413, msg);
  }
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
    atomic_store(&rs->ct->recv_start_ms, (long long)(now_s() * 1000));
    atomic_store(&rs->ct->handling, 0);
  }
  free(rs->buf);
  free(rs);
  *con_cls = NULL;
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
    atomic_store(&ct->recv_start_ms, (long long)(now_s() * 1000));
    pthread_mutex_lock(&srv->conn_mu);
    ct->next = srv->conns;
    if (srv->conns) srv->conns->prev = ct;
    srv->conns = ct;
    pthread_mutex_unlock(&srv->conn_mu);
  } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
    conn_track *ct = *socket_context;
    atomic_fetch_sub(&srv->active, 1);
    if (!ct) return;
    pthread_mutex_lock(&srv->conn_mu);
    if (ct->prev) ct->prev->next = ct->next;
    else srv->conns = ct->next;
    if (ct->next) ct->next->prev = ct->prev;
    pthread_mutex_unlock(&srv->conn_mu);
    free(ct);
    *socket_context = NULL;
  }
}

static void *watchdog_main(void *arg) {
  vigil_http_server *srv = arg;
  pthread_mutex_lock(&srv->conn_mu);
  while (!srv->stop) {
    long long t = (long long)(now_s() * 1000);
    for (conn_track *ct = srv->conns; ct; ct = ct->next) {
      if (ct->killed || atomic_load(&ct->handling) || ct->fd < 0) continue;
      if (t - atomic_load(&ct->recv_start_ms) > 1000LL * srv->p.request_timeout_s) {
        vlog_info("%s: closing a connection that took over %u s to send its request", srv->svc->name,
                  srv->p.request_timeout_s);
        shutdown(ct->fd, SHUT_RDWR);
        ct->killed = true;
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
  long threads, conns, header_kb, idle, req;
  double body_mb;
  if (vigil_config_int(cfg, "VIGIL_HTTP_THREADS", &threads, err, errlen) ||
      vigil_config_int(cfg, "VIGIL_HTTP_MAX_CONNECTIONS", &conns, err, errlen) ||
      vigil_config_int(cfg, "VIGIL_HTTP_MAX_HEADER_KB", &header_kb, err, errlen) ||
      vigil_config_int(cfg, "VIGIL_HTTP_IDLE_TIMEOUT_S", &idle, err, errlen) ||
      vigil_config_int(cfg, "VIGIL_HTTP_REQUEST_TIMEOUT_S", &req, err, errlen) ||
      vigil_config_float(cfg, "VIGIL_HTTP_MAX_BODY_MB", &body_mb, err, errlen))
    return -1;
  p->threads = (unsigned)threads;
  p->max_connections = (unsigned)conns;
  p->max_header = (size_t)header_kb * 1024;
  p->idle_timeout_s = (unsigned)idle;
  p->request_timeout_s = (unsigned)req;
  /* Left at its default, the body limit is the service's own (vigil_service.max_body). */
  const char *src = vigil_config_source(cfg, "VIGIL_HTTP_MAX_BODY_MB");
  p->max_body = strcmp(src, "default") ? (size_t)llround(body_mb * 1024 * 1024) : 0;
  return 0;
}

int vigil_http_server_start(vigil_http_server **out, const vigil_service *svc, void *ctx, vigil_http_params p,
                            char *err, size_t errlen) {
  *out = NULL;
  vigil_http_server *srv = calloc(1, sizeof *srv);
  if (!srv) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (!p.threads) p.threads = 1;
  if (!p.max_connections) p.max_connections = 64;
  if (!p.max_body) p.max_body = svc->max_body ? svc->max_body : 16u << 20;
  if (!p.max_header) p.max_header = 32u << 10;
  if (!p.idle_timeout_s) p.idle_timeout_s = 15;
  if (!p.request_timeout_s) p.request_timeout_s = 30;
  srv->svc = svc;
  srv->ctx = ctx;
  srv->p = p;
  srv->builtin_metrics = true;
  for (size_t i = 0; i < svc->n_routes; i++)
    if (!strcmp(svc->routes[i].path, "/metrics")) srv->builtin_metrics = false;
  pthread_mutex_init(&srv->conn_mu, NULL);
  pthread_cond_init(&srv->cv, NULL);
  if (http_metrics_init(&srv->metrics, svc->name, svc->routes, svc->n_routes)) {
    snprintf(err, errlen, "out of memory");
    vigil_http_server_free(srv);
    return -1;
  }
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(p.port)};
  const char *bind_addr = p.bind_addr ? p.bind_addr : "0.0.0.0";
  if (inet_pton(AF_INET, bind_addr, &addr.sin_addr) != 1) {
    snprintf(err, errlen, "bad bind address '%s' (IPv4 expected)", bind_addr);
    vigil_http_server_free(srv);
    return -1;
  }
  /* MHD's pool holds the request line and headers, and buffers reads. */
  size_t pool = p.max_header < 8192 ? 8192 : p.max_header;
  unsigned mhd_limit = p.max_connections + 4 * p.threads + 4;
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_ITC;
  /* No MHD_OPTION_LISTENING_ADDRESS_REUSE: it sets SO_REUSEPORT, which would let
   * a second server silently share a port that is already taken. */
  if (p.threads > 1)
    srv->d = MHD_start_daemon(
        flags, p.port, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)p.threads, MHD_OPTION_CONNECTION_LIMIT, mhd_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)p.idle_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv, MHD_OPTION_END);
  else
    srv->d = MHD_start_daemon(
        flags, p.port, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_CONNECTION_LIMIT, mhd_limit, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)p.idle_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
        MHD_OPTION_END);
  if (!srv->d) {
    snprintf(err, errlen, "cannot listen on %s:%u (%s)", bind_addr, (unsigned)p.port,
             errno ? strerror(errno) : "microhttpd failed to start");
    vigil_http_server_free(srv);
    return -1;
  }
  const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
  srv->port = di ? di->port : p.port;
  if (pthread_create(&srv->watchdog, NULL, watchdog_main, srv)) {
    snprintf(err, errlen, "cannot start the watchdog thread");
    vigil_http_server_free(srv);
    return -1;
  }
  srv->watchdog_started = true;
  *out = srv;
  return 0;
}

uint16_t vigil_http_server_port(const vigil_http_server *s) { return s ? s->port : 0; }

void vigil_http_server_free(vigil_http_server *srv) {
  if (!srv) return;
  if (srv->d) {
    /* Stop accepting, then give requests being handled up to 10 s to have
     * their responses sent, before the daemon closes every connection. */
    MHD_socket ls = MHD_quiesce_daemon(srv->d);
    if (ls != MHD_INVALID_SOCKET) close(ls);
    struct timespec nap = {0, 20 * 1000000L};
    for (int i = 0; i < 500 && atomic_load(&srv->handling); i++) nanosleep(&nap, NULL);
  }
  if (srv->watchdog_started) {
    pthread_mutex_lock(&srv->conn_mu);
    srv->stop = true;
    pthread_cond_signal(&srv->cv);
    pthread_mutex_unlock(&srv->conn_mu);
    pthread_join(srv->watchdog, NULL);
  }
  if (srv->d) MHD_stop_daemon(srv->d);
  http_metrics_free(&srv->metrics);
  pthread_cond_destroy(&srv->cv);
  pthread_mutex_destroy(&srv->conn_mu);
  free(srv);
}
