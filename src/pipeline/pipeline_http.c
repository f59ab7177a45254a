/* The pipeline's own small HTTP service (`vigil analyze --metrics-port`):
 * GET /health and GET /metrics with per-camera counters (frames, drops under
 * overload, gated frames, detector calls, events) for Prometheus. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "vigil/config.h"
#include "vigil/http.h"
#include "vigil/pipeline.h"
#include "vigil/status.h"

static int h_health(vigil_http_response *res, const vigil_http_request *req) {
  pipeline *p = req->ctx;
  json_t *o = json_object();
  json_object_set_new(o, "status", json_string("healthy"));
  json_object_set_new(o, "cameras", json_integer(p ? pipeline_camera_count(p) : 0));
  return vigil_http_reply_json(res, 200, o);
}

/* A Prometheus label value: backslash, quote and newline escaped. */
static void label_escape(char *dst, size_t cap, const char *s) {
  size_t n = 0;
  for (; *s && n + 3 < cap; s++) {
    if (*s == '\\' || *s == '"') dst[n++] = '\\', dst[n++] = *s;
    else if (*s == '\n') dst[n++] = '\\', dst[n++] = 'n';
    else dst[n++] = *s;
  }
  dst[n] = 0;
}

typedef struct {
  const char *name, *type, *help;
  size_t off; /* a long of pipeline_stats */
} counter;

#define C(f) offsetof(pipeline_stats, f)
static const counter counters[] = {
    {"vigil_pipeline_frames_total", "counter", "Frames the pipeline processed, per camera.", C(frames)},
    {"vigil_pipeline_frames_dropped_total", "counter",
     "Live frames dropped before processing because the pipeline fell behind (oldest first), per camera.",
     C(dropped)},
    {"vigil_pipeline_frames_gated_total", "counter", "Frames not given to the detector (no new motion), per camera.",
     C(frames_gated)},
    {"vigil_pipeline_detector_calls_total", "counter", "Detector images run (one per motion crop), per camera.",
     C(detector_calls)},
    {"vigil_pipeline_tracks_confirmed_total", "counter", "Tracks confirmed as real objects, per camera.",
     C(tracks_confirmed)},
    {"vigil_pipeline_events_total", "counter", "Events stored, per camera.", C(events)},
};
#undef C

static void pipeline_metrics(vigil_metrics_out *o, void *ctx) {
  pipeline *p = ctx;
  if (!p) return;
  int n = pipeline_camera_count(p);
  for (size_t k = 0; k < sizeof counters / sizeof *counters; k++) {
    vigil_metrics_header(o, counters[k].name, counters[k].type, counters[k].help);
    for (int i = 0; i < n; i++) {
      char id[VIGIL_ID_LEN], esc[2 * VIGIL_ID_LEN + 1], labels[2 * VIGIL_ID_LEN + 16];
      pipeline_stats st;
      if (pipeline_camera_stats(p, i, id, sizeof id, &st)) continue;
      label_escape(esc, sizeof esc, id);
      snprintf(labels, sizeof labels, "camera=\"%s\"", esc);
      long v;
      memcpy(&v, (const char *)&st + counters[k].off, sizeof v);
      vigil_metrics_sample(o, counters[k].name, labels, (double)v);
    }
  }
}

static const vigil_http_route pipeline_routes[] = {
    {"GET", "/health", h_health},
};

/* Not in vigil_services (`vigil serve` does not run a pipeline): analyze
 * starts it with the pipeline as its context. */
const vigil_service vigil_service_pipeline =
    VIGIL_SERVICE("pipeline", 8097, pipeline_routes, .metrics = pipeline_metrics, .max_body = 1024);

struct pipeline_http {
  vigil_http_server *srv;
  vigil_http_auth *auth;
};

int pipeline_http_start(pipeline_http **out, pipeline *p, int port, char *err, size_t errlen) {
  *out = NULL;
  pipeline_http *h = calloc(1, sizeof *h);
  if (!h) return vigil_err_oom(err, errlen);
  vigil_http_params hp;
  /* the services' rules: API keys, bind address (loopback without a key) */
  if (vigil_http_params_from_config(&hp, NULL, err, errlen) || vigil_http_auth_from_config(&h->auth, NULL, err, errlen)) {
    free(h);
    return -1;
  }
  const char *bind = vigil_config_str(NULL, "VIGIL_HTTP_BIND");
  hp.bind_addr = bind && *bind ? bind : NULL;
  hp.auth = h->auth;
  hp.port = (uint16_t)port;
  if (vigil_http_server_start(&h->srv, &vigil_service_pipeline, p, hp, err, errlen)) {
    vigil_http_auth_free(h->auth);
    free(h);
    return -1;
  }
  *out = h;
  return 0;
}

int pipeline_http_port(const pipeline_http *h) { return h ? vigil_http_server_port(h->srv) : 0; }

void pipeline_http_stop(pipeline_http *h) {
  if (!h) return;
  vigil_http_server_free(h->srv);
  vigil_http_auth_free(h->auth);
  free(h);
}
