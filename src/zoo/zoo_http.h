/* The zoo's HTTP endpoints for both enrichment services:
 *   GET  /models/status
 *   POST /models/preload?model_name=NAME
 *   POST /models/unload?model_name=NAME
 *
 * Two ways to wire them:
 *   - call zoo_http_get_status/zoo_http_preload/zoo_http_unload(res, req, manager) from your own
 *     handlers (when your service context holds the manager somewhere), or
 *   - make the zoo_manager * the FIRST member of your service context struct
 *     and put ZOO_HTTP_ROUTES in your route table.
 * Handlers are thread-safe (the manager is). */
#ifndef VIGIL_ZOO_HTTP_H
#define VIGIL_ZOO_HTTP_H

#include "vigil/http.h"
#include "vigil/zoo.h"

int zoo_http_get_status(vigil_http_response *res, const vigil_http_request *req, zoo_manager *m);
int zoo_http_preload(vigil_http_response *res, const vigil_http_request *req, zoo_manager *m);
int zoo_http_unload(vigil_http_response *res, const vigil_http_request *req, zoo_manager *m);

/* The model_name query of preload/unload, apart from the server (a fuzz target
 * calls it): get(ud, key) returns a query value or NULL. 0 with *name (a
 * model m manages), else the HTTP status (400, 503) with msg. */
int zoo_http_parse_model(const char *(*get)(void *ud, const char *key), void *ud, const zoo_manager *m,
                         const char **name, char *msg, size_t msglen);

/* Route handlers for contexts whose first member is a zoo_manager *. */
int zoo_http_route_status(vigil_http_response *res, const vigil_http_request *req);
int zoo_http_route_preload(vigil_http_response *res, const vigil_http_request *req);
int zoo_http_route_unload(vigil_http_response *res, const vigil_http_request *req);

#define ZOO_HTTP_ROUTES                                   \
  {"GET", "/models/status", zoo_http_route_status},       \
      {"POST", "/models/preload", zoo_http_route_preload}, \
      {"POST", "/models/unload", zoo_http_route_unload}

#endif
