/* vigil's HTTP edge: services declared as route tables, served by
 * libmicrohttpd with request limits; JSON helpers (jansson; JSON exists only
 * here); multipart and base64 uploads; Prometheus /metrics.
 *
 * Ownership and threads:
 *   - Handlers run on the server's worker threads, several at once: anything a
 *     handler shares through its service context must be thread-safe.
 *   - A vigil_http_request and everything it points to is owned by the server
 *     and valid only during the handler call.
 *   - A vigil_http_response owns its body (malloc'ed); the server frees it.
 *   - Parsed JSON structs (vigil_json_parse) own their strings and buffers
 *     (pointer fields must start NULL, never a static default):
 *     free them with vigil_json_free and the same field table. */
#ifndef VIGIL_HTTP_H
#define VIGIL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "vigil/config.h"
#include "vigil/img.h"

/* ---- requests, responses, routes ------------------------------------------------ */

typedef struct {
  const char *key, *value;
} vigil_http_kv;

typedef struct {
  const char *method;       /* "GET", "POST", ... */
  const char *path;         /* without the query string */
  const char *path_param;   /* what a "{name}" segment of the route matched, or NULL */
  const vigil_http_kv *query;
  size_t n_query;
  const char *content_type; /* the Content-Type header, or NULL */
  const uint8_t *body;      /* the whole body, already size-limited; NUL-terminated */
  size_t body_len;
  void *ctx;                /* the service context from vigil_service.init */
  void *internal;           /* the server's; use vigil_http_header() */
  /* Long-poll routes: the handler's own state, kept between its calls; the
   * server free()s it when the request ends. */
  void **poll_state;
} vigil_http_request;

/* A long-poll handler returns this (with res untouched) for "nothing yet":
 * the server parks the connection, which then holds no request worker, and
 * calls the handler again about every 250 ms from its poller thread until it
 * answers (handlers return 0 or -1 otherwise). */
#define VIGIL_HTTP_POLL 1

typedef struct {
  int status;
  char content_type[64];
  char *body; /* malloc'ed, owned by the response */
  size_t body_len;
  int retry_after_s; /* > 0: sent as a Retry-After header (503 when shedding load) */
} vigil_http_response;

/* A handler fills `res` and returns 0. A negative return with res->status
 * unset becomes 500 {"detail": "internal error"}. */
typedef int (*vigil_http_handler)(vigil_http_response *res, const vigil_http_request *req);

/* path is exact ("/detect") or has "{name}" segments ("/models/{name}"). */
typedef struct {
  const char *method;
  const char *path;
  vigil_http_handler handler;
} vigil_http_route;

const char *vigil_http_query(const vigil_http_request *req, const char *key);   /* NULL if absent */
const char *vigil_http_header(const vigil_http_request *req, const char *name); /* case-insensitive */
/* True when the media type (before any ';') equals `type`, case-insensitive. */
bool vigil_http_content_type_is(const vigil_http_request *req, const char *type);

/* Matches a route pattern; *param (may be NULL) gets the {name} segment as a
 * pointer/length into `path`. Exposed for tests. */
bool vigil_http_route_match(const char *pattern, const char *path, const char **param, size_t *param_len);

/* Response helpers; they replace any previous body. Return 0 or -1 (no memory). */
int vigil_http_reply(vigil_http_response *res, int status, const char *content_type, const void *body, size_t len);
/* Serialises `obj` compactly and takes ownership of the reference. */
int vigil_http_reply_json(vigil_http_response *res, int status, json_t *obj);
/* {"detail": "<message>"} */
int vigil_http_error(vigil_http_response *res, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void vigil_http_response_free(vigil_http_response *res);

/* ---- JSON request bodies into C structs ------------------------------------------ */

typedef enum {
  VIGIL_JSON_STRING,        /* char * (malloc'ed) */
  VIGIL_JSON_BASE64,        /* vigil_bytes, decoded */
  VIGIL_JSON_INT,           /* long */
  VIGIL_JSON_DOUBLE,        /* double (integers accepted) */
  VIGIL_JSON_BOOL,          /* bool */
  VIGIL_JSON_OBJECT,        /* a nested struct at `offset`, described by sub */
  VIGIL_JSON_ARRAY,         /* array of objects: void * at offset, size_t count at count_offset */
  VIGIL_JSON_STRING_ARRAY,  /* char ** + count */
  VIGIL_JSON_BASE64_ARRAY,  /* vigil_bytes * + count */
} vigil_json_type;

typedef struct {
  uint8_t *data;
  size_t len;
} vigil_bytes;

typedef struct vigil_json_field {
  const char *key;
  vigil_json_type type;
  size_t offset;
  bool required;
  size_t max;           /* bytes of a string/decoded base64, items of an array (0 = no limit) */
  size_t count_offset;  /* arrays: where the size_t item count goes */
  size_t present_offset;/* 0 = none, else 1 + offset of a bool set when the key is present (non-null) */
  const struct vigil_json_field *sub; /* OBJECT, ARRAY */
  size_t n_sub;
  size_t elem_size;     /* ARRAY: sizeof one item struct */
} vigil_json_field;

#define VIGIL_JSON_N(arr) (sizeof(arr) / sizeof((arr)[0]))

/* Parses `body` (must be one JSON object) into `out` following `fields`.
 * Fields absent or null keep what `out` held (set defaults before); unknown
 * keys are ignored. On error, everything allocated is freed and `err` names
 * the field: "field 'bbox.x1' must be a number". Returns 0 or -1. */
int vigil_json_parse(void *out, const vigil_json_field *fields, size_t n, const uint8_t *body, size_t len,
                     char *err, size_t errlen);
/* The same from an already parsed object. */
int vigil_json_parse_object(void *out, const vigil_json_field *fields, size_t n, json_t *obj, char *err,
                            size_t errlen);
void vigil_json_free(void *out, const vigil_json_field *fields, size_t n);

/* ---- multipart/form-data ------------------------------------------------------------- */

typedef struct {
  char name[64];
  char filename[256];
  char content_type[128];
  const uint8_t *data; /* points into the body */
  size_t len;
} vigil_multipart_part;

/* The boundary parameter of a multipart/form-data content type (1..70 chars). */
int vigil_multipart_boundary(char *out, size_t cap, const char *content_type);
/* Parses the whole body; at most max_parts parts. Errors (-1, with err):
 * missing first boundary, malformed part headers, missing closing boundary
 * (a truncated body), too many parts. */
int vigil_multipart_parse(vigil_multipart_part *parts, size_t max_parts, size_t *n_parts, const uint8_t *body,
                          size_t len, const char *boundary, char *err, size_t errlen);

/* ---- uploads: images from multipart `file` fields or JSON base64 --------------------------- */

typedef struct {
  uint8_t *data; /* malloc'ed copy */
  size_t len;
  char filename[256];
} vigil_upload;

typedef struct {
  vigil_upload *items;
  size_t n;
} vigil_uploads;

/* Reads the uploaded files of a request: every multipart field named `file`,
 * or from JSON either {"<json_key>": "<base64>"} (single) or
 * {"images": [{"<json_key>": "<base64>", "filename": ".."}]} (batch).
 * Limits: at most max_files files, each at most max_bytes bytes.
 * On failure fills `res` (400 malformed, 413 too large, 415 wrong content
 * type) and returns -1. */
int vigil_http_read_uploads(vigil_uploads *out, vigil_http_response *res, const vigil_http_request *req,
                            const char *json_key, size_t max_files, size_t max_bytes);
void vigil_uploads_free(vigil_uploads *u);

/* Decodes an uploaded image; on failure fills `res` with the image status
 * (400 could not decode, 413, 415) and returns the negative VIGIL_IMG_*.
 * With `req` (a request being served), the decoded pixels are first admitted
 * against the request's budget (VIGIL_HTTP_MAX_REQUEST_PIXELS, summed over
 * every image it decodes: 413) and the service's pixels in flight
 * (VIGIL_HTTP_MAX_INFLIGHT_PIXELS: waits up to 2 s for room, then 503 with
 * Retry-After); they are given back when the handler returns. req NULL: the
 * request whose handler runs on this thread, if any. */
int vigil_http_decode_image(vigil_image *out, vigil_http_response *res, const vigil_http_request *req,
                            const uint8_t *buf, size_t len, const vigil_img_limits *lim);

/* Image limits from the configuration: VIGIL_MAX_IMAGE_MB (bytes),
 * VIGIL_MAX_IMAGE_PIXELS, 16384 per side. cfg NULL = the global one. */
vigil_img_limits vigil_http_image_limits(const vigil_config *cfg);

/* ---- metrics --------------------------------------------------------------------------- */

typedef struct vigil_metrics_out vigil_metrics_out;

/* For service gauges (model memory, ...): one header per metric name, then
 * one sample per label set. labels is "" or e.g. "model=\"centernet\"". */
void vigil_metrics_header(vigil_metrics_out *o, const char *name, const char *type, const char *help);
void vigil_metrics_sample(vigil_metrics_out *o, const char *name, const char *labels, double value);

/* ---- services and the server ------------------------------------------------------------- */

typedef struct vigil_service {
  const char *name;       /* "detect" */
  uint16_t port;          /* default port (8095) */
  const vigil_http_route *routes;
  size_t n_routes;
  /* Optional. init builds the context given to handlers; it must succeed even
   * when models are missing (health then reports unhealthy). */
  int (*init)(void **ctx, const vigil_config *cfg, char *err, size_t errlen);
  void (*free)(void *ctx);
  void (*metrics)(vigil_metrics_out *o, void *ctx); /* extra gauges for /metrics */
  size_t max_body;        /* default body limit (0 = 16 MB); VIGIL_HTTP_MAX_BODY_MB, when set, wins */
} vigil_service;

/* A service definition: its name, default port and routes table (n_routes is
 * counted from the table, so the two cannot disagree), then any optional fields
 * as designated initializers (.init = ..., .max_body = ...). */
#define VIGIL_SERVICE(NAME, PORT, ROUTES, ...) \
  {.name = (NAME), .port = (PORT), .routes = (ROUTES), .n_routes = sizeof(ROUTES) / sizeof((ROUTES)[0]), __VA_ARGS__}

/* The registered services, NULL-terminated (src/http/services.c). */
extern const vigil_service *const vigil_services[];
const vigil_service *vigil_service_find(const char *name);

/* ---- access control (src/http/auth.c) ---------------------------------------------------- */

typedef enum { VIGIL_ROLE_NONE = 0, VIGIL_ROLE_READ = 1, VIGIL_ROLE_ADMIN = 2 } vigil_http_role;
typedef struct vigil_http_auth vigil_http_auth;

/* From VIGIL_API_KEY (an admin key), VIGIL_API_KEYS_FILE, VIGIL_HTTP_ALLOWED_HOSTS
 * and VIGIL_HTTP_CORS_ORIGINS. No key anywhere: an object with no keys. */
int vigil_http_auth_from_config(vigil_http_auth **out, const vigil_config *cfg, char *err, size_t errlen);
vigil_http_auth *vigil_http_auth_new(void);
void vigil_http_auth_free(vigil_http_auth *a);
/* A key is 16..256 printable ASCII characters without spaces. */
int vigil_http_auth_add_key(vigil_http_auth *a, vigil_http_role role, const char *key, size_t len, char *err,
                            size_t errlen);
/* The keys file: "admin KEY" / "read KEY" lines, '#' comments. */
int vigil_http_auth_parse_keys(vigil_http_auth *a, const char *text, size_t len, char *err, size_t errlen);
int vigil_http_auth_add_host(vigil_http_auth *a, const char *host);     /* a DNS name, or "*" */
int vigil_http_auth_add_origin(vigil_http_auth *a, const char *origin); /* "https://x:8443", or "*" */
size_t vigil_http_auth_n_keys(const vigil_http_auth *a);
/* The role of the key in `Authorization: Bearer K` or `X-API-Key: K`,
 * compared in constant time; NONE for no or an unknown key; ADMIN when no
 * key is configured at all. */
vigil_http_role vigil_http_auth_role(const vigil_http_auth *a, const char *authorization, const char *x_api_key);
/* A Host header names an IP literal, localhost or an allowed name (port ignored). */
bool vigil_http_host_allowed(const vigil_http_auth *a, const char *host);
/* NULL origin, the same origin as `host`, or an allow-listed one. */
bool vigil_http_origin_allowed(const vigil_http_auth *a, const char *origin, const char *host);
bool vigil_http_origin_listed(const vigil_http_auth *a, const char *origin);

typedef struct {
  const char *bind_addr;     /* IPv4 address; NULL = 127.0.0.1 without keys, else 0.0.0.0 */
  uint16_t port;             /* 0 = any free port (see vigil_http_server_port) */
  unsigned threads;
  unsigned max_connections;  /* past it: 503 */
  size_t max_body;           /* bytes; past it: 413. 0 = the service's max_body, else 16 MB */
  size_t max_header;         /* bytes of request line + headers */
  unsigned idle_timeout_s;
  unsigned request_timeout_s;/* whole request must arrive within this */
  unsigned header_timeout_s; /* request line + headers must arrive within this */
  unsigned max_conn_per_ip;  /* past it, the client's oldest waiting connection is closed */
  uint64_t max_request_pixels;  /* decoded pixels one request may hold */
  uint64_t max_inflight_pixels; /* decoded pixels all requests of the service may hold */
  double max_queue_wait_s;   /* shed (503) past this expected wait; 0 = 2x the measured handling time */
  const vigil_http_auth *auth; /* borrowed; NULL or no keys = open, loopback only */
  bool allow_insecure_bind;  /* listen beyond loopback without keys (VIGIL_HTTP_INSECURE) */
} vigil_http_params;

/* Defaults from the configuration (VIGIL_HTTP_*); cfg NULL = the global one.
 * max_body is 0 unless VIGIL_HTTP_MAX_BODY_MB is set (env or file). auth and
 * bind_addr are left NULL (the caller's). */
int vigil_http_params_from_config(vigil_http_params *p, const vigil_config *cfg, char *err, size_t errlen);

typedef struct vigil_http_server vigil_http_server;

/* Starts serving `svc` with `ctx` on p.port. GET /metrics is built in unless
 * the route table has one. */
int vigil_http_server_start(vigil_http_server **out, const vigil_service *svc, void *ctx, vigil_http_params p,
                            char *err, size_t errlen);
uint16_t vigil_http_server_port(const vigil_http_server *s);
/* Stops accepting, waits for running handlers, frees. NULL: no-op. */
void vigil_http_server_free(vigil_http_server *s);

#endif
