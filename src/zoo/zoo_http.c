/* HTTP handlers of the zoo endpoints (/models/status, /models/preload,
 * /models/unload) on top of the manager and the JSON shapes of zoo_json.c. */
#include "zoo/zoo_http.h"

#include <stdio.h>
#include <string.h>

#include "zoo/zoo_json.h"

int zoo_http_get_status(vigil_http_response *res, const vigil_http_request *req, zoo_manager *m) {
  if (!m) return vigil_http_error(res, 503, "model manager is not running");
  zoo_snapshot s;
  if (zoo_manager_status(m, &s)) return vigil_http_error(res, 500, "out of memory");
  json_t *j = zoo_snapshot_to_json(&s);
  zoo_snapshot_free(&s);
  if (!j) return vigil_http_error(res, 500, "out of memory");
  return vigil_http_reply_json(res, 200, j);
}

int zoo_http_parse_model(const char *(*get)(void *ud, const char *key), void *ud, const zoo_manager *m,
                         const char **name, char *msg, size_t msglen) {
  *name = NULL;
  if (!m) return snprintf(msg, msglen, "model manager is not running"), 503;
  const char *v = get(ud, "model_name");
  if (!v || !*v) return snprintf(msg, msglen, "query parameter 'model_name' is required"), 400;
  size_t n = strnlen(v, ZOO_NAME_MAX);
  if (n >= ZOO_NAME_MAX) return snprintf(msg, msglen, "model_name is longer than %d bytes", ZOO_NAME_MAX - 1), 400;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)v[i];
    if (c < 0x21 || c > 0x7e) /* the name is echoed back in the reply and the log: printable ASCII only */
      return snprintf(msg, msglen, "model_name has a byte 0x%02x outside printable ASCII", c), 400;
  }
  if (!zoo_manager_manages(m, v)) return snprintf(msg, msglen, "unknown model '%.64s'", v), 400;
  *name = v;
  return 0;
}

static const char *query_get(void *ud, const char *key) { return vigil_http_query(ud, key); }

typedef int (*zoo_action)(zoo_manager *, const char *, zoo_result *);

static int model_action(vigil_http_response *res, const vigil_http_request *req, zoo_manager *m,
                        zoo_action act) {
  const char *name;
  char msg[160];
  int status = zoo_http_parse_model(query_get, (void *)req, m, &name, msg, sizeof msg);
  if (status) return vigil_http_error(res, status, "%s", msg);
  zoo_result r;
  int rc = act(m, name, &r);
  if (rc) return vigil_http_error(res, zoo_http_status(rc), "%s", r.message);
  json_t *j = zoo_result_to_json(&r);
  if (!j) return vigil_http_error(res, 500, "out of memory");
  return vigil_http_reply_json(res, 200, j);
}

int zoo_http_preload(vigil_http_response *res, const vigil_http_request *req, zoo_manager *m) {
  return model_action(res, req, m, zoo_manager_preload);
}

int zoo_http_unload(vigil_http_response *res, const vigil_http_request *req, zoo_manager *m) {
  return model_action(res, req, m, zoo_manager_unload);
}

static zoo_manager *ctx_manager(const vigil_http_request *req) {
  return req->ctx ? *(zoo_manager **)req->ctx : NULL;
}

int zoo_http_route_status(vigil_http_response *res, const vigil_http_request *req) {
  return zoo_http_get_status(res, req, ctx_manager(req));
}
int zoo_http_route_preload(vigil_http_response *res, const vigil_http_request *req) {
  return zoo_http_preload(res, req, ctx_manager(req));
}
int zoo_http_route_unload(vigil_http_response *res, const vigil_http_request *req) {
  return zoo_http_unload(res, req, ctx_manager(req));
}
