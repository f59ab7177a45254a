/* The enrichment services: heavy (8094) and light (8096). Both serve the
 * same endpoints over one process-wide engine; /models endpoints on each shows and
 * drives that service's own zoo manager.
 *
 *   POST /enrich            CONTRACTS.md request and reply
 *   POST /pose-analyze /clothing-classify /threat-detect /demographics
 *        /reid-embed /vehicle-classify /pet-classify /depth-estimate
 *        /object-distance /vehicle-damage /weather-classify /violence-detect
 *                           one part each: {"image", "bbox"} -> that part
 *        (/depth-estimate needs the depth model; /object-distance falls
 *        back to the box-height distance without it)
 *   POST /quality           (light) BRISQUE of the whole image
 *   GET  /models/status, POST /models/preload, POST /models/unload
 *   GET  /health
 *
 * Bad input: an empty bbox (after clipping to the image) is 400; more than
 * 32 frames is 400; frames of sizes different from each other are 400; a
 * detection_type other than person/vehicle/animal/object is 400. A missing
 * model makes its part null with the reason under "errors", never a 500. */
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <spng.h>

#include "util/base64.h"
#include "util/clock.h"
#include "util/log.h"
#include "vigil/cameras.h"
#include "vigil/risk.h"
#include "vigil/enrich.h"
#include "vigil/http.h"
#include "enrich/handles.h"
#include "zoo/zoo_http.h"

#define ENRICH_MAX_IMAGE ((size_t)10 << 20)
#define ENRICH_MAX_FRAMES 32

typedef struct {
  zoo_manager *mgr; /* first member: ZOO_HTTP_ROUTES read it */
  enrich_engine *engine;
  zoo_service svc;
} enrich_ctx;

/* One engine per process, shared by the services that run in it. */
static pthread_mutex_t engine_mu = PTHREAD_MUTEX_INITIALIZER;
static enrich_engine *engine;
static int engine_refs;

static int ctx_init(void **out, const vigil_config *cfg, zoo_service svc, char *err, size_t errlen) {
  pthread_mutex_lock(&engine_mu);
  int rc = 0;
  if (!engine) rc = enrich_engine_init(&engine, cfg, err, errlen);
  if (!rc) engine_refs++;
  pthread_mutex_unlock(&engine_mu);
  if (rc) return rc;
  enrich_ctx *c = calloc(1, sizeof *c);
  if (!c) return -1;
  c->engine = engine;
  c->svc = svc;
  c->mgr = enrich_engine_manager(engine, svc);
  *out = c;
  return 0;
}

static int init_heavy(void **out, const vigil_config *cfg, char *err, size_t errlen) {
  return ctx_init(out, cfg, ZOO_SVC_HEAVY, err, errlen);
}
static int init_light(void **out, const vigil_config *cfg, char *err, size_t errlen) {
  return ctx_init(out, cfg, ZOO_SVC_LIGHT, err, errlen);
}

static void ctx_free(void *p) {
  free(p);
  pthread_mutex_lock(&engine_mu);
  if (--engine_refs == 0) {
    enrich_engine_free(engine);
    engine = NULL;
  }
  pthread_mutex_unlock(&engine_mu);
}

/* ---- request ---------------------------------------------------------------------- */

typedef struct {
  double x1, y1, x2, y2;
} req_bbox;

typedef struct {
  bool include_pose, include_depth, action_recognition, include_weather, include_violence;
} req_opts;

typedef struct {
  vigil_bytes image;
  char *detection_type;
  req_bbox box;
  bool has_box;
  vigil_bytes *frames;
  size_t n_frames;
  req_opts opt;
  char *detection_id;
  char *camera_id;
  double timestamp;
  char **parts;          /* vigil extension: run only these parts (the HTTP client's routing) */
  size_t n_parts;
  char *detection_class; /* the detector's class, for the vehicle and pet fallbacks */
  double detection_confidence;
  char *timezone;        /* the camera's IANA timezone, for the damage patterns' time of day */
  double depth_px_per_m; /* the camera's depth calibration */
} enrich_req;

static const vigil_json_field bbox_f[] = {
    {.key = "x1", .type = VIGIL_JSON_DOUBLE, .offset = offsetof(req_bbox, x1), .required = true},
    {.key = "y1", .type = VIGIL_JSON_DOUBLE, .offset = offsetof(req_bbox, y1), .required = true},
    {.key = "x2", .type = VIGIL_JSON_DOUBLE, .offset = offsetof(req_bbox, x2), .required = true},
    {.key = "y2", .type = VIGIL_JSON_DOUBLE, .offset = offsetof(req_bbox, y2), .required = true},
};
static const vigil_json_field opt_f[] = {
    {.key = "include_pose", .type = VIGIL_JSON_BOOL, .offset = offsetof(req_opts, include_pose)},
    {.key = "include_depth", .type = VIGIL_JSON_BOOL, .offset = offsetof(req_opts, include_depth)},
    {.key = "action_recognition", .type = VIGIL_JSON_BOOL, .offset = offsetof(req_opts, action_recognition)},
    {.key = "include_weather", .type = VIGIL_JSON_BOOL, .offset = offsetof(req_opts, include_weather)},
    {.key = "include_violence", .type = VIGIL_JSON_BOOL, .offset = offsetof(req_opts, include_violence)},
};
static const vigil_json_field req_f[] = {
    {.key = "image", .type = VIGIL_JSON_BASE64, .offset = offsetof(enrich_req, image), .required = true,
     .max = ENRICH_MAX_IMAGE},
    {.key = "detection_type", .type = VIGIL_JSON_STRING, .offset = offsetof(enrich_req, detection_type), .max = 32},
    {.key = "bbox", .type = VIGIL_JSON_OBJECT, .offset = offsetof(enrich_req, box), .sub = bbox_f, .n_sub = 4,
     .present_offset = 1 + offsetof(enrich_req, has_box)},
    {.key = "frames", .type = VIGIL_JSON_BASE64_ARRAY, .offset = offsetof(enrich_req, frames),
     .count_offset = offsetof(enrich_req, n_frames), .max = ENRICH_MAX_FRAMES},
    {.key = "options", .type = VIGIL_JSON_OBJECT, .offset = offsetof(enrich_req, opt), .sub = opt_f,
     .n_sub = VIGIL_JSON_N(opt_f)},
    {.key = "detection_id", .type = VIGIL_JSON_STRING, .offset = offsetof(enrich_req, detection_id), .max = 63},
    {.key = "camera_id", .type = VIGIL_JSON_STRING, .offset = offsetof(enrich_req, camera_id), .max = 63},
    {.key = "timestamp", .type = VIGIL_JSON_DOUBLE, .offset = offsetof(enrich_req, timestamp)},
    {.key = "parts", .type = VIGIL_JSON_STRING_ARRAY, .offset = offsetof(enrich_req, parts),
     .count_offset = offsetof(enrich_req, n_parts), .max = 16},
    {.key = "detection_class", .type = VIGIL_JSON_STRING, .offset = offsetof(enrich_req, detection_class), .max = 47},
    {.key = "detection_confidence", .type = VIGIL_JSON_DOUBLE, .offset = offsetof(enrich_req, detection_confidence)},
    {.key = "timezone", .type = VIGIL_JSON_STRING, .offset = offsetof(enrich_req, timezone), .max = 47},
    {.key = "depth_px_per_m", .type = VIGIL_JSON_DOUBLE, .offset = offsetof(enrich_req, depth_px_per_m)},
};

/* ---- reply ------------------------------------------------------------------------ */

static json_t *jround(double v, double q) { return json_real(round(v * q) / q); }

static json_t *bbox_obj(float x1, float y1, float x2, float y2) {
  json_t *b = json_object();
  json_object_set_new(b, "x1", jround(x1, 10));
  json_object_set_new(b, "y1", jround(y1, 10));
  json_object_set_new(b, "x2", jround(x2, 10));
  json_object_set_new(b, "y2", jround(y2, 10));
  return b;
}

static json_t *pose_json(const enrich_result *r) {
  if (!r->has_pose) return json_null();
  json_t *o = json_object(), *kps = json_array(), *alerts = json_array();
  for (int i = 0; i < POSE_NKP; i++) {
    json_t *k = json_object();
    json_object_set_new(k, "name", json_string(coco_keypoint_names[i]));
    json_object_set_new(k, "x", jround(r->pose.kp[i].x, 10));
    json_object_set_new(k, "y", jround(r->pose.kp[i].y, 10));
    json_object_set_new(k, "score", jround(r->pose.kp[i].score, 1000));
    json_array_append_new(kps, k);
  }
  for (int i = 0; i < r->pose.n_alerts; i++) json_array_append_new(alerts, json_string(r->pose.alerts[i]));
  json_object_set_new(o, "keypoints", kps);
  json_object_set_new(o, "posture", json_string(r->pose.posture));
  json_object_set_new(o, "posture_confidence", jround(r->pose.posture_score, 1000));
  json_object_set_new(o, "alerts", alerts);
  json_object_set_new(o, "model", json_string(r->pose_model));
  return o;
}

static json_t *threat_json(const enrich_result *r) {
  if (!r->has_threat) return json_null();
  json_t *o = json_object();
  json_object_set_new(o, "detected", json_boolean(r->threat.detected));
  json_object_set_new(o, "threat_type", json_string(r->threat.type));
  json_object_set_new(o, "confidence", jround(r->threat.confidence, 1000));
  json_object_set_new(o, "severity", json_string(r->threat.severity));
  if (r->threat.detected) {
    json_t *b = json_array();
    float v[4] = {r->threat.x1, r->threat.y1, r->threat.x2, r->threat.y2};
    for (int i = 0; i < 4; i++) json_array_append_new(b, jround(v[i], 10));
    json_object_set_new(o, "bbox", b);
    json_object_set_new(o, "label", json_string(r->threat.label));
  } else {
    json_object_set_new(o, "bbox", json_null());
  }
  return o;
}

static json_t *demo_json(const enrich_result *r) {
  if (!r->has_demographics) return json_null();
  json_t *o = json_object();
  json_object_set_new(o, "age_range", json_string(r->demo.age_range));
  json_object_set_new(o, "age", jround(r->demo.age, 10));
  json_object_set_new(o, "age_confidence", jround(r->demo.age_confidence, 1000));
  json_object_set_new(o, "gender", json_string(r->demo.gender));
  json_object_set_new(o, "gender_confidence", jround(r->demo.gender_confidence, 1000));
  json_object_set_new(o, "model", json_string(r->demo.model ? r->demo.model : r->demo_model));
  json_object_set_new(o, "face_bbox", bbox_obj(r->face.x1, r->face.y1, r->face.x2, r->face.y2));
  json_object_set_new(o, "face_confidence", jround(r->face.score, 1000));
  return o;
}

static json_t *gray_png(const uint8_t *map, int w, int h);

/* SegFormer's items: [{item, area, color, bbox}], largest first */
static json_t *segments_json(const enrich_result *r) {
  json_t *a = json_array();
  for (int i = 0; i < r->n_segments; i++) {
    const segformer_item *s = &r->segments[i];
    json_t *o = json_object();
    json_object_set_new(o, "item", json_string(s->item));
    json_object_set_new(o, "area", jround(s->area, 1000));
    json_object_set_new(o, "color", json_string(s->color));
    json_object_set_new(o, "bbox", json_pack("{s:o,s:o,s:o,s:o}", "x1", jround(s->x1, 10), "y1", jround(s->y1, 10),
                                             "x2", jround(s->x2, 10), "y2", jround(s->y2, 10)));
    json_array_append_new(a, o);
  }
  return a;
}

/* The label map: a grey PNG whose values are label ids, over the person box */
static json_t *mask_json(const enrich_result *r) {
  if (r->seg_mask_w < 1 || r->seg_mask_h < 1) return json_null();
  json_t *o = json_object(), *labels = json_array();
  for (int i = 0; i < SEGFORMER_LABELS; i++) json_array_append_new(labels, json_string(segformer_labels[i]));
  json_t *png = gray_png(r->seg_mask, r->seg_mask_w, r->seg_mask_h);
  json_object_set_new(o, "width", json_integer(r->seg_mask_w));
  json_object_set_new(o, "height", json_integer(r->seg_mask_h));
  json_object_set_new(o, "labels", labels);
  json_object_set_new(o, "png_base64", png ? png : json_null());
  return o;
}

static json_t *clothing_json(const enrich_result *r) {
  if (!r->has_clothing && !r->n_segments) return json_null();
  json_t *o = json_object();
  json_object_set_new(o, "segments", segments_json(r));
  json_object_set_new(o, "segment_mask", mask_json(r));
  if (!r->has_clothing) return o; /* segformer alone (FashionSigLIP not installed) */
  json_object_set_new(o, "type", json_string(r->clothing.clothing_type));
  json_object_set_new(o, "clothing_type", json_string(r->clothing.clothing_type));
  json_object_set_new(o, "color", json_string(r->clothing.color));
  json_object_set_new(o, "style", json_string(r->clothing.style));
  json_object_set_new(o, "confidence", jround(r->clothing.confidence, 1000));
  json_object_set_new(o, "is_suspicious", json_boolean(r->clothing.is_suspicious));
  json_object_set_new(o, "is_service_uniform", json_boolean(r->clothing.is_service_uniform));
  return o;
}

static json_t *embedding_json(const enrich_result *r) {
  json_t *a = json_array();
  for (int i = 0; i < REID_DIM; i++) json_array_append_new(a, jround(r->embedding[i], 1e6));
  return a;
}

static json_t *action_json(const enrich_result *r) {
  if (!r->has_action) return json_null();
  json_t *o = json_object(), *scores = json_object();
  json_object_set_new(o, "action", json_string(r->action.action));
  json_object_set_new(o, "confidence", jround(r->action.confidence, 1000));
  for (int i = 0; i < r->action.n; i++) json_object_set_new(scores, r->action.names[i], jround(r->action.scores[i], 1000));
  json_object_set_new(o, "action_scores", scores);
  return o;
}

/* "license_plate" of the vehicle part: null when the reader ran and found none. */
static json_t *plate_json(const enrich_result *r) {
  if (!r->plate.found) return json_null();
  json_t *o = json_object();
  json_object_set_new(o, "text", json_string(r->plate.text));
  json_object_set_new(o, "raw_text", json_string(r->plate.raw));
  json_object_set_new(o, "confidence", jround(r->plate.confidence, 1000));
  json_object_set_new(o, "bbox", bbox_obj(r->plate.x1, r->plate.y1, r->plate.x2, r->plate.y2));
  json_object_set_new(o, "known", json_boolean(r->plate.known));
  json_object_set_new(o, "source", json_string(r->plate.source));
  return o;
}


/* ---- the vehicle and animal path ------------------------------------------------------ */

/* The "vehicle" part, built in this one function so other vehicle fields
 * (licence plates) merge here. */
static json_t *vehicle_json(const enrich_result *r) {
  if (!r->has_vehicle && !r->plate_ran) return json_null();
  const vehicle_result *v = &r->vehicle;
  json_t *o = json_object(), *top = json_array();
  json_object_set_new(o, "license_plate", r->plate_ran ? plate_json(r) : json_null());
  if (!r->has_vehicle) {
    json_decref(top);
    return o;
  }
  json_object_set_new(o, "vehicle_type", json_string(v->vehicle_type));
  json_object_set_new(o, "display_name", json_string(v->display_name));
  json_object_set_new(o, "confidence", jround(v->confidence, 1000));
  json_object_set_new(o, "is_commercial", json_boolean(v->is_commercial));
  for (int i = 0; i < v->n_top; i++) {
    json_t *t = json_object();
    json_object_set_new(t, "vehicle_type", json_string(v->top_type[i]));
    json_object_set_new(t, "confidence", jround(v->top_score[i], 1000));
    json_array_append_new(top, t);
  }
  json_object_set_new(o, "top_3", top);
  json_object_set_new(o, "source", json_string(v->from_detector ? "detector" : "model"));
  json_object_set_new(o, "model",
                      json_string(v->from_detector ? "detector" : "vehicle-segment-classification"));
  return o;
}

/* model-zoo.md's damage JSON plus the CONTRACTS.md patterns at the frame's
 * local time and the LLM context string. */
static json_t *damage_json(const enrich_result *r) {
  if (!r->has_damage) return json_null();
  const damage_result *d = &r->damage;
  json_t *o = json_object(), *dets = json_array(), *types = json_array();
  for (int i = 0; i < d->n; i++) {
    json_t *x = json_object();
    json_object_set_new(x, "damage_type", json_string(d->dets[i].damage_type));
    json_object_set_new(x, "confidence", jround(d->dets[i].confidence, 1000));
    json_object_set_new(x, "bbox", bbox_obj(d->dets[i].x1, d->dets[i].y1, d->dets[i].x2, d->dets[i].y2));
    json_object_set_new(x, "has_mask", json_boolean(d->dets[i].has_mask));
    json_object_set_new(x, "mask_area", json_integer(d->dets[i].mask_area));
    json_array_append_new(dets, x);
  }
  vigil_vehicle vv;
  memset(&vv, 0, sizeof vv);
  vv.present = true;
  for (int i = 0; i < d->n_types; i++) {
    json_array_append_new(types, json_string(d->types[i]));
    snprintf(vv.damage[i].type, sizeof vv.damage[i].type, "%s", d->types[i]);
    vv.damage[i].count = d->type_count[i];
    vv.damage[i].avg_confidence = d->type_count[i] ? d->type_conf_sum[i] / (float)d->type_count[i] : 0;
    vv.n_damage++;
  }
  json_object_set_new(o, "detections", dets);
  json_object_set_new(o, "damage_types", types);
  json_object_set_new(o, "has_high_security_damage", json_boolean(d->has_high_security_damage));
  json_object_set_new(o, "total_damage_count", json_integer(d->n));
  json_object_set_new(o, "highest_confidence", jround(d->highest_confidence, 1000));
  json_object_set_new(o, "capped", json_boolean(d->capped));
  bool bi, nd, mu, hn;
  risk_damage_patterns(&vv, r->local_hour, &bi, &nd, &mu, &hn);
  json_t *pat = json_object();
  json_object_set_new(pat, "break_in_pattern", json_boolean(bi));
  json_object_set_new(pat, "elevated_risk", json_boolean(nd));
  json_object_set_new(pat, "likely_incident", json_boolean(mu));
  json_object_set_new(pat, "critical_alert", json_boolean(hn));
  json_object_set_new(o, "patterns", pat);
  char hhmm[8];
  snprintf(hhmm, sizeof hhmm, "%02d:%02d", r->local_hour, r->local_minute);
  json_object_set_new(o, "local_time", json_string(hhmm));
  char ctx[1024];
  json_object_set_new(o, "context", risk_damage_context(ctx, sizeof ctx, &vv) > 0 ? json_string(ctx) : json_string(""));
  json_object_set_new(o, "model", json_string("vehicle-damage-detection"));
  return o;
}

static json_t *pet_json(const enrich_result *r) {
  if (!r->has_pet) return json_null();
  const pet_result *p = &r->pet;
  json_t *o = json_object();
  json_object_set_new(o, "pet_type", json_string(p->pet_type));
  json_object_set_new(o, "breed", p->breed[0] ? json_string(p->breed) : json_null());
  json_object_set_new(o, "confidence", jround(p->confidence, 1000));
  json_object_set_new(o, "top_label", json_string(p->top_label));
  json_object_set_new(o, "is_household_pet", json_boolean(p->is_household));
  json_object_set_new(o, "source", json_string(p->from_detector ? "detector" : "model"));
  json_object_set_new(o, "model", json_string(p->from_detector ? "detector" : "pet-classifier"));
  return o;
}

/* The depth map as a base64 PNG (8-bit grey, 255 = nearest); NULL on failure. */
static json_t *depth_png(const depth_result *d) { return gray_png(d->map, d->map_w, d->map_h); }

/* An 8-bit grey map as a base64 PNG; NULL on failure. */
static json_t *gray_png(const uint8_t *map, int w, int h) {
  spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
  if (!ctx) return NULL;
  spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
  struct spng_ihdr ih = {.width = (uint32_t)w, .height = (uint32_t)h, .bit_depth = 8,
                         .color_type = SPNG_COLOR_TYPE_GRAYSCALE};
  spng_set_ihdr(ctx, &ih);
  json_t *j = NULL;
  size_t len = (size_t)w * (size_t)h;
  if (spng_encode_image(ctx, map, len, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE) == 0) {
    int e = 0;
    size_t n = 0;
    uint8_t *png = spng_get_png_buffer(ctx, &n, &e);
    char *b64 = png && !e ? malloc(vigil_b64_encoded_len(n) + 1) : NULL;
    if (b64) j = json_stringn(b64, vigil_b64_encode(b64, png, n, 0));
    free(b64);
    free(png);
  }
  spng_ctx_free(ctx);
  return j;
}

static json_t *depth_json(const enrich_result *r) {
  if (!r->has_depth) return json_null();
  const depth_result *d = &r->depth;
  json_t *o = json_object(), *png = d->has_map ? depth_png(d) : NULL;
  json_object_set_new(o, "depth_map_base64", png ? png : json_null());
  json_object_set_new(o, "estimated_distance_m", jround(d->distance_m, 100));
  json_object_set_new(o, "relative_depth", d->has_map ? jround(d->relative_depth, 1000) : json_null());
  json_object_set_new(o, "proximity_label", json_string(d->proximity));
  json_object_set_new(o, "depth_px_per_m", jround(d->px_per_m, 10));
  json_object_set_new(o, "calibration", json_string(d->default_calibration ? "default" : "camera"));
  json_object_set_new(o, "source", json_string(d->has_map ? "depth-anything-v2-small" : "box"));
  return o;
}

static json_t *weather_json(const enrich_result *r) {
  if (!r->has_weather) return json_null();
  return json_pack("{s:s, s:o}", "label", r->weather.label, "confidence", jround(r->weather.confidence, 1000));
}

static json_t *violence_json(const enrich_result *r) {
  if (!r->has_violence) return json_null();
  const violence_result *v = &r->violence;
  return json_pack("{s:b, s:o, s:s, s:s}", "is_violent", v->violent, "violence_score", jround(v->violence, 1000),
                   "label", v->label, "model", "violence-detection");
}

static json_t *result_json(const enrich_result *r, const char *det_id) {
  json_t *o = json_object();
  json_object_set_new(o, "pose", pose_json(r));
  json_object_set_new(o, "clothing", clothing_json(r));
  json_object_set_new(o, "demographics", demo_json(r));
  json_object_set_new(o, "vehicle", vehicle_json(r));
  json_object_set_new(o, "vehicle_damage", damage_json(r));
  json_object_set_new(o, "pet", pet_json(r));
  json_object_set_new(o, "weather", weather_json(r));
  json_object_set_new(o, "violence", violence_json(r));
  json_object_set_new(o, "threat", threat_json(r));
  json_object_set_new(o, "threat_detection", threat_json(r));
  json_object_set_new(o, "reid_embedding", r->has_reid ? embedding_json(r) : json_null());
  json_object_set_new(o, "action", action_json(r));
  json_object_set_new(o, "depth", depth_json(r));
  /* model-zoo.md's EnrichmentResult maps, keyed by detection id */
  json_t *ages = json_object(), *genders = json_object(), *embs = json_object();
  if (r->has_demographics) {
    json_t *a = json_object(), *g = json_object();
    json_object_set_new(a, "age_range", json_string(r->demo.age_range));
    json_object_set_new(a, "confidence", jround(r->demo.age_confidence, 1000));
    json_object_set_new(a, "raw_prediction", jround(r->demo.age, 10));
    json_object_set_new(g, "gender", json_string(r->demo.gender));
    json_object_set_new(g, "confidence", jround(r->demo.gender_confidence, 1000));
    json_object_set_new(ages, det_id, a);
    json_object_set_new(genders, det_id, g);
  }
  if (r->has_reid) {
    json_t *e = json_object();
    json_object_set_new(e, "embedding", embedding_json(r));
    json_object_set_new(e, "embedding_dimension", json_integer(REID_DIM));
    json_object_set_new(e, "model", json_string("osnet_x0_25"));
    if (r->reid_matched) {
      json_object_set_new(e, "person_id", json_string(r->reid.person_id));
      json_object_set_new(e, "similarity", jround(r->reid.similarity, 1000));
      json_object_set_new(e, "is_new", json_boolean(r->reid.is_new));
    }
    json_object_set_new(embs, det_id, e);
  }
  json_object_set_new(o, "age_classifications", ages);
  json_object_set_new(o, "gender_classifications", genders);
  json_object_set_new(o, "person_embeddings", embs);
  json_object_set_new(o, "person_id", r->reid_matched ? json_string(r->reid.person_id) : json_null());
  json_t *used = json_array(), *errs = json_object();
  for (int i = 0; i < r->n_models; i++) json_array_append_new(used, json_string(r->models_used[i]));
  for (int i = 0; i < r->n_errors; i++) {
    if (json_object_get(errs, r->error_part[i])) continue; /* first reason per part */
    json_object_set_new(errs, r->error_part[i], json_string(r->error_reason[i]));
  }
  json_object_set_new(o, "models_used", used);
  json_object_set_new(o, "errors", errs);
  json_object_set_new(o, "detection_id", json_string(det_id));
  json_object_set_new(o, "inference_time_ms", jround(r->inference_ms, 100));
  return o;
}

/* ---- handlers ------------------------------------------------------------------- */

static unsigned long long id_counter;

/* Parses, decodes and runs; part_mask 0 = the full /enrich. On success the
 * reply is written for /enrich, or *out_json gets the single part. */
static int handle(vigil_http_response *res, const vigil_http_request *req, unsigned part_mask, const char *part) {
  enrich_ctx *c = req->ctx;
  if (!vigil_http_content_type_is(req, "application/json"))
    return vigil_http_error(res, 415, "send application/json (see docs/http-api.md)");
  enrich_req q;
  memset(&q, 0, sizeof q);
  q.opt.include_pose = true;
  char err[512];
  if (vigil_json_parse(&q, req_f, VIGIL_JSON_N(req_f), req->body, req->body_len, err, sizeof err))
    return vigil_http_error(res, strstr(err, "too large") ? 413 : 400, "%s", err);
  enrich_kind kind = ENRICH_PERSON;
  int status = 0;
  vigil_image frame = {0}, *frames = NULL;
  const vigil_image **fptr = NULL;
  if (q.detection_type && vigil_kind_parse(q.detection_type, &kind)) {
    vigil_http_error(res, 400, "detection_type must be person, vehicle, animal or object, not '%s'", q.detection_type);
    goto done;
  }
  unsigned req_parts = 0;
  for (size_t i = 0; i < q.n_parts; i++) {
    unsigned b = enrich_part_bit(q.parts[i]);
    if (!b) {
      vigil_http_error(res, 400, "parts[%zu]: unknown part '%s'", i, q.parts[i]);
      goto done;
    }
    req_parts |= b;
  }
  if (!part_mask) part_mask = req_parts; /* a per-part endpoint runs its own part whatever "parts" says */
  if (q.timezone && q.timezone[0] && !camera_timezone_valid(q.timezone)) {
    vigil_http_error(res, 400, "timezone '%s' is not in the zoneinfo database", q.timezone);
    goto done;
  }
  if (!(q.depth_px_per_m >= 0 && q.depth_px_per_m < 1e6)) {
    vigil_http_error(res, 400, "depth_px_per_m must be a number in [0, 1e6)");
    goto done;
  }
  vigil_img_limits lim = vigil_img_default_limits();
  if (vigil_http_decode_image(&frame, res, req, q.image.data, q.image.len, &lim) < 0) goto done;
  if (q.n_frames) {
    frames = calloc(q.n_frames, sizeof *frames);
    fptr = calloc(q.n_frames, sizeof *fptr);
    if (!frames || !fptr) {
      vigil_http_error(res, 500, "out of memory");
      goto done;
    }
    for (size_t i = 0; i < q.n_frames; i++) {
      if (vigil_http_decode_image(&frames[i], res, req, q.frames[i].data, q.frames[i].len, &lim) < 0) {
        if (res->status == 400 || res->status == 415)
          vigil_http_error(res, res->status, "frames[%zu]: could not decode image", i);
        goto done;
      }
      if (frames[i].w != frames[0].w || frames[i].h != frames[0].h) {
        vigil_http_error(res, 400, "frames must all have the same size (frames[0] is %dx%d, frames[%zu] is %dx%d)",
                         frames[0].w, frames[0].h, i, frames[i].w, frames[i].h);
        goto done;
      }
      fptr[i] = &frames[i];
    }
  }
  char det_id[64];
  if (q.detection_id) snprintf(det_id, sizeof det_id, "%s", q.detection_id);
  else snprintf(det_id, sizeof det_id, "det_%llx", __atomic_add_fetch(&id_counter, 1, __ATOMIC_RELAXED));
  enrich_request rq = {
      .frame = &frame,
      .x1 = q.has_box ? (float)q.box.x1 : 0,
      .y1 = q.has_box ? (float)q.box.y1 : 0,
      .x2 = q.has_box ? (float)q.box.x2 : (float)frame.w,
      .y2 = q.has_box ? (float)q.box.y2 : (float)frame.h,
      .frames = fptr,
      .nframes = (int)q.n_frames,
      .kind = kind,
      .detection_id = det_id,
      .camera_id = q.camera_id,
      .ts = q.timestamp > 0 ? q.timestamp : (double)time(NULL),
      .opt = {q.opt.include_pose, q.opt.include_depth, q.opt.action_recognition, q.opt.include_weather,
              q.opt.include_violence},
      .parts = part_mask,
      .det_class = q.detection_class,
      .det_score = isfinite(q.detection_confidence) ? (float)fmin(fmax(q.detection_confidence, 0), 1) : 0,
      .timezone = q.timezone,
      .depth_px_per_m = (float)q.depth_px_per_m,
  };
  enrich_result *r = malloc(sizeof *r);
  if (!r) {
    vigil_http_error(res, 500, "out of memory");
    goto done;
  }
  if (enrich_run(c->engine, r, &rq, err, sizeof err)) {
    vigil_http_error(res, 400, "%s", err);
    free(r);
    goto done;
  }
  json_t *full = result_json(r, det_id);
  if (!part) {
    vigil_http_reply_json(res, 200, full);
  } else {
    json_t *p = json_object_get(full, part);
    /* /depth-estimate is the full depth map: the model must have run */
    bool no_map = !strcmp(req->path ? req->path : "", "/depth-estimate") && p && json_is_null(json_object_get(p, "depth_map_base64"));
    if (!p || json_is_null(p) || no_map) {
      const char *ekey = !strcmp(part, "reid_embedding") ? "reid" : !strcmp(part, "vehicle_damage") ? "damage" : part;
      json_t *why = json_object_get(json_object_get(full, "errors"), ekey);
      if (!strcmp(part, "demographics") && !why) {
        /* no visible face: not an error */
        json_t *o = json_object();
        json_object_set_new(o, "demographics", json_null());
        json_object_set_new(o, "face_found", json_false());
        json_object_set_new(o, "models_used", json_incref(json_object_get(full, "models_used")));
        vigil_http_reply_json(res, 200, o);
      } else {
        vigil_http_error(res, 503, "%s is not available: %s", part, why ? json_string_value(why) : "model missing");
      }
      json_decref(full);
    } else {
      json_t *o = json_object();
      json_object_set(o, part, p);
      if (!strcmp(part, "reid_embedding")) {
        json_object_set(o, "person_id", json_object_get(full, "person_id"));
        json_object_set_new(o, "embedding_dimension", json_integer(REID_DIM));
      }
      json_object_set(o, "models_used", json_object_get(full, "models_used"));
      json_object_set(o, "inference_time_ms", json_object_get(full, "inference_time_ms"));
      json_decref(full);
      vigil_http_reply_json(res, 200, o);
    }
  }
  free(r);
done:
  vigil_image_free(&frame);
  for (size_t i = 0; frames && i < q.n_frames; i++) vigil_image_free(&frames[i]);
  free(frames);
  free(fptr);
  vigil_json_free(&q, req_f, VIGIL_JSON_N(req_f));
  return status;
}

static int h_enrich(vigil_http_response *res, const vigil_http_request *req) { return handle(res, req, 0, NULL); }

/* The single-part routes: the path names the part (parts.def). */
static const struct {
  const char *path;
  unsigned mask;
  const char *key;
} parts[] = {
#define PART(path, mask, key) {path, mask, key},
#include "parts.def"
#undef PART
};

static int h_part(vigil_http_response *res, const vigil_http_request *req) {
  for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
    if (!strcmp(req->path, parts[i].path)) return handle(res, req, parts[i].mask, parts[i].key);
  return vigil_http_error(res, 404, "no such part");
}

/* POST /quality (light service): BRISQUE of the whole image, multipart `file` or
 * {"image": base64}. An image under 16 px a side or with no texture is a 400 with the
 * reason (BRISQUE is undefined there), never NaN. */
static int h_quality(vigil_http_response *res, const vigil_http_request *req) {
  enrich_ctx *c = req->ctx;
  if (c->svc != ZOO_SVC_LIGHT) return vigil_http_error(res, 404, "/quality is served by the light service (8096)");
  double t0 = vigil_mono_ms();
  vigil_uploads u = {0};
  if (vigil_http_read_uploads(&u, res, req, "image", 1, ENRICH_MAX_IMAGE)) return -1;
  vigil_image im = {0};
  vigil_img_limits lim = vigil_http_image_limits(NULL);
  int rc = vigil_http_decode_image(&im, res, req, u.items[0].data, u.items[0].len, &lim);
  vigil_uploads_free(&u);
  if (rc < 0) return -1;
  zoo_lease l = {0};
  char err[512];
  if (zoo_manager_acquire(c->mgr, "brisque-quality", &l, err, sizeof err)) {
    vigil_image_free(&im);
    return vigil_http_error(res, 503, "brisque-quality is not available: %s", err);
  }
  const enrich_handle *h = l.handle;
  double score = 0;
  rc = vigil_brisque_score(&score, h->bq, &im, err, sizeof err);
  zoo_manager_release(c->mgr, &l);
  vigil_image_free(&im);
  if (rc) return vigil_http_error(res, rc == VIGIL_IMG_ENOMEM ? 500 : 400, "%s", err);
  json_t *o = json_object();
  json_object_set_new(o, "brisque", jround(score, 1000));
  json_object_set_new(o, "quality", json_string(vigil_brisque_label(score)));
  json_object_set_new(o, "model", json_string("brisque-quality"));
  json_object_set_new(o, "inference_time_ms", jround(vigil_mono_ms() - t0, 100));
  return vigil_http_reply_json(res, 200, o);
}

static int h_health(vigil_http_response *res, const vigil_http_request *req) {
  enrich_ctx *c = req->ctx;
  zoo_snapshot s;
  json_t *o = json_object();
  if (zoo_manager_status(c->mgr, &s) == 0) {
    json_object_set_new(o, "status", json_string(s.health));
    json_object_set_new(o, "vram_budget_mb", json_real(s.vram_budget_mb));
    json_object_set_new(o, "vram_used_mb", json_real(s.vram_used_mb));
    int loaded = 0;
    for (int i = 0; i < s.nmodels; i++) loaded += s.models[i].loaded;
    json_object_set_new(o, "models_loaded", json_integer(loaded));
    json_object_set_new(o, "models_registered", json_integer(s.nmodels));
    zoo_snapshot_free(&s);
  } else {
    json_object_set_new(o, "status", json_string("unhealthy"));
  }
  json_object_set_new(o, "service", json_string(zoo_service_name(c->svc)));
  json_object_set_new(o, "device", json_string("cpu"));
  json_object_set_new(o, "cuda_available", json_false());
  return vigil_http_reply_json(res, 200, o);
}

static const vigil_http_route enrich_routes[] = {
    {"GET", "/health", h_health},
    {"POST", "/enrich", h_enrich},
#define PART(path, mask, key) {"POST", path, h_part},
#include "parts.def"
#undef PART
    {"POST", "/quality", h_quality},
    ZOO_HTTP_ROUTES,
};

static void enrich_metrics(vigil_metrics_out *o, void *ctx) {
  enrich_ctx *c = ctx;
  zoo_snapshot s;
  if (zoo_manager_status(c->mgr, &s)) return;
  vigil_metrics_header(o, "vigil_model_memory_bytes", "gauge", "Measured memory of loaded models");
  for (int i = 0; i < s.nmodels; i++) {
    if (!s.models[i].loaded) continue;
    char labels[160];
    snprintf(labels, sizeof labels, "model=\"%s\"", s.models[i].name);
    vigil_metrics_sample(o, "vigil_model_memory_bytes", labels, s.models[i].vram_mb * 1024 * 1024);
  }
  vigil_metrics_header(o, "vigil_zoo_budget_bytes", "gauge", "Memory budget of this service's zoo");
  vigil_metrics_sample(o, "vigil_zoo_budget_bytes", "", s.vram_budget_mb * 1024 * 1024);
  zoo_snapshot_free(&s);
}

/* The heavy and light services differ only in name, port and which models their zoo holds. */
#define ENRICH_SERVICE(NAME, PORT, INIT)                                                            \
  VIGIL_SERVICE(NAME, PORT, enrich_routes, .init = INIT, .free = ctx_free, .metrics = enrich_metrics, \
                .max_body = (ENRICH_MAX_IMAGE * 4 / 3 + 1024) * 4)

const vigil_service vigil_service_enrich = ENRICH_SERVICE("enrich", 8094, init_heavy);
const vigil_service vigil_service_enrich_light = ENRICH_SERVICE("enrich-light", 8096, init_light);
