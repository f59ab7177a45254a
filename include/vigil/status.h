/* vigilcore's status codes and its one way to report an error.
 *
 * The convention of every fallible vigilcore call: return 0 on success, a
 * negative status on failure, and write one readable line into the caller's
 * err[errlen] (err may be NULL). Modules with their own codes (zoo, image,
 * store, risk, config) keep them, each defined once by a status list macro;
 * the rest return these. -1 (VIGIL_EFAIL) is the generic failure that most
 * functions have always returned: the message says why. */
#ifndef VIGIL_STATUS_H
#define VIGIL_STATUS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, code, HTTP status, message), defined once. */
#define VIGIL_STATUS_MAP(X)                                  \
  X(OK, 0, 200, "ok")                                        \
  X(EFAIL, -1, 500, "failed")                                \
  X(ENOMEM, -2, 500, "out of memory")                        \
  X(EINVAL, -3, 400, "invalid argument")                     \
  X(EIO, -4, 500, "input/output error")                      \
  X(ENOTFOUND, -5, 404, "not found")                         \
  X(ETOOBIG, -6, 413, "too large")                           \
  X(EUNSUPPORTED, -7, 415, "unsupported")

typedef enum {
#define VIGIL_X_(name, code, http, msg) VIGIL_##name = code,
  VIGIL_STATUS_MAP(VIGIL_X_)
#undef VIGIL_X_
} vigil_status;

/* Switch cases that turn a status map into its lookups, so that each module's
 * strerror is one line: switch (st) { MAP(VIGIL_MSG_CASE) } return "unknown";
 * for maps X(name, code, http, msg) and, with the _3 forms, X(name, code, msg). */
#define VIGIL_MSG_CASE(name, code, http, msg) \
  case code:                                  \
    return msg;
#define VIGIL_HTTP_CASE(name, code, http, msg) \
  case code:                                   \
    return http;
#define VIGIL_MSG_CASE_3(name, code, msg) \
  case code:                              \
    return msg;

/* A module's two lookups from its X(name, code, http, msg) map, defined in one
 * line: `const char *msg_fn(int)` (`unknown` for a code not in the map) and
 * `int http_fn(int)` (500 for a code not in the map). */
#define VIGIL_STATUS_LOOKUPS(MAP, msg_fn, http_fn, unknown) \
  const char *msg_fn(int status) {                          \
    switch (status) { MAP(VIGIL_MSG_CASE) }                 \
    return unknown;                                         \
  }                                                         \
  int http_fn(int status) {                                 \
    switch (status) { MAP(VIGIL_HTTP_CASE) }                \
    return 500;                                             \
  }

const char *vigil_strerror(int status);
int vigil_status_http(int status); /* 200, 400, 404, 413, 415, 500 */

/* The one formatted-error helper: writes fmt into err[errlen] (when err is
 * not NULL and errlen > 0) and returns code, so a failure reads
 *   return vigil_err(err, errlen, -1, "%s: %s", path, strerror(errno)); */
int vigil_err(char *err, size_t errlen, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Out of memory, always reported: "out of memory" into err, VIGIL_ENOMEM back. */
int vigil_err_oom(char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
