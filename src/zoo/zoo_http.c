/* HTTP handlers of the zoo endpoints (/models/status, /models/preload,
 * /models/unload) on top of the manager and the JSON shapes of zoo_json.c. */
#include "zoo/zoo_http.h"

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

typedef int (*zoo_action)(zoo_manager *, const char *, zoo_result *);

static int model_action(vigil_http_response *res, const vigil_http_request *req, zoo_manager *m,
                        zoo_action act) {
  if (!m) return vigil_http_error(res, 503, "model manager is not running");
  const char *name = vigil_http_query(req, "model_name");
  if (!name || !*name) return vigil_http_error(res, 400, "query parameter 'model_name' is required");
  if (!zoo_manager_manages(m, name))
    return vigil_http_error(res, 400, "unknown model '%.64s'", name);
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
