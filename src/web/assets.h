/* The dashboard's static files (web/), embedded at build time by
 * tools/embed_web.cmake, and the HTTP handlers of the dashboard that need no
 * event store: the asset routes and the proxy to the other services. */
#ifndef VIGIL_WEB_ASSETS_H
#define VIGIL_WEB_ASSETS_H

#include <stddef.h>

#include "vigil/http.h"

typedef struct {
  const char *name; /* file name under web/, e.g. "app.js" */
  const unsigned char *data;
  size_t len;
} web_asset;

extern const web_asset web_assets[]; /* terminated by a NULL name */

const web_asset *web_asset_find(const char *name);
/* Replies with an embedded file; status lets the app shell answer 404 pages. */
int web_reply_asset(vigil_http_response *res, const char *name, int status);

/* GET /, GET /ui/{file} */
int web_h_index(vigil_http_response *res, const vigil_http_request *req);
int web_h_asset(vigil_http_response *res, const vigil_http_request *req);
/* GET /api/services and the proxy /api/services/{name}/(health|metrics|models/...)
 * to the services named in DASHBOARD_SERVICES. */
int web_h_services(vigil_http_response *res, const vigil_http_request *req);
int web_h_proxy(vigil_http_response *res, const vigil_http_request *req);

#endif
