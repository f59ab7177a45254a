/* Placeholder services: each answers /health as "unhealthy, no model" until
 * the engineer owning it registers the real one in src/http/services.c. The
 * detect placeholder also validates POST /detect input (so the edge's limits
 * can be tested end to end) and then answers 503. */
#include <stdio.h>

#include "vigil/http.h"

static int stub_health(vigil_http_response *res, const vigil_http_request *req) {
  return vigil_http_reply_json(res, 200,
                               json_pack("{s:s, s:b, s:s, s:b, s:n, s:f}", "status", "unhealthy", "model_loaded", 0,
                                         "device", "cpu", "cuda_available", 0, "model_name", "vram_used_gb", 0.0));
}

/* Reads and decodes the images of a detect request; 0 with res filled on any error. */
static int stub_detect_common(vigil_http_response *res, const vigil_http_request *req, size_t max_files) {
  vigil_img_limits lim = vigil_http_image_limits(NULL);
  vigil_uploads up;
  if (vigil_http_read_uploads(&up, res, req, "image_base64", max_files, lim.max_bytes)) return 0;
  for (size_t i = 0; i < up.n; i++) {
    vigil_image im;
    if (vigil_http_decode_image(&im, res, req, up.items[i].data, up.items[i].len, &lim)) {
      vigil_uploads_free(&up);
      return 0;
    }
    vigil_image_free(&im);
  }
  vigil_uploads_free(&up);
  return vigil_http_error(res, 503, "detection model not loaded");
}

static int stub_detect(vigil_http_response *res, const vigil_http_request *req) {
  return stub_detect_common(res, req, 1);
}

static int stub_detect_batch(vigil_http_response *res, const vigil_http_request *req) {
  return stub_detect_common(res, req, 64);
}

static const vigil_http_route detect_routes[] = {
    {"GET", "/health", stub_health},
    {"POST", "/detect", stub_detect},
    {"POST", "/detect/batch", stub_detect_batch},
};
static const vigil_http_route health_routes[] = {
    {"GET", "/health", stub_health},
};

#define STUB(var, nm, prt, rt) \
  const vigil_service var = {.name = nm, .port = prt, .routes = rt, .n_routes = VIGIL_JSON_N(rt)}

STUB(vigil_stub_detect, "detect", 8095, detect_routes);
STUB(vigil_stub_enrich, "enrich", 8094, health_routes);
STUB(vigil_stub_enrich_light, "enrich-light", 8096, health_routes);
