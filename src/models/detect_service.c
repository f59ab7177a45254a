/* The detection service (port 8095): GET /health, POST /detect,
 * POST /detect/batch, over one shared detector (CONTRACTS.md shapes).
 *
 * Model choice: YOLO26_MODEL_PATH when it is set (env or config file) and
 * loadable; when it is left at the design's default (a TensorRT engine path
 * that vrt cannot run) vigil falls back to the real centernet that setup
 * fetched. Confidence: YOLO26_CONFIDENCE when set, else the family's
 * calibrated default. Images smaller than 16x16 pixels get 200 with no
 * detections (nothing meaningful can be found in them); non-images 400/415,
 * bodies over 10 MB 413.
 *
 * Open vocabulary: a JSON body with "classes": ["ladder", ...] runs YOLO-World
 * (YOLO_WORLD_MODEL_PATH, include/vigil/yolo_world.h) instead of the detector, at
 * YOLO_WORLD_CONFIDENCE; 400 when the export is not installed, the list is empty,
 * longer than the export allows (at most YOLO_WORLD_MAX_CLASSES) or holds an empty
 * or over-long class. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/assets.h"
#include "util/clock.h"
#include "util/log.h"
#include "vigil/detect.h"
#include "vigil/http.h"
#include "vigil/status.h"
#include "vigil/yolo_world.h"
#include <jansson.h>

#define DETECT_MAX_IMAGE_BYTES ((size_t)10 << 20)
#define DETECT_MAX_BATCH_FILES 32
#define DETECT_MIN_SIDE 16

typedef struct {
  detector_t *det;
  char error[512];
  char model_path[1024];
  yolo_world *yw;       /* NULL: not installed (yw_error says why) */
  char yw_error[512];
  float yw_conf;
} detect_ctx;

/* The classes of an open-vocabulary request. */
typedef struct {
  char **v;
  int n;
  bool given;
} class_list;

int detector_params_from_config(detector_params *p, char *path_buf, size_t len, const vigil_config *cfg, char *err,
                                size_t errlen) {
  *p = detector_default_params();
  const char *src = vigil_config_source(cfg, "YOLO26_MODEL_PATH");
  const char *path = vigil_config_str(cfg, "YOLO26_MODEL_PATH");
  if (!path || !strcmp(src, "default") || !strcmp(src, "unset")) {
    if (vigil_asset_path(path_buf, len, "models/human/centernet.json")) {
      vigil_err(err, errlen, -1, "%s", vigil_asset_errmsg());
      return -1;
    }
  } else {
    snprintf(path_buf, len, "%s", path);
  }
  if (strcmp(vigil_config_source(cfg, "YOLO26_CONFIDENCE"), "default")) {
    double conf;
    if (vigil_config_float(cfg, "YOLO26_CONFIDENCE", &conf, err, errlen)) return -1;
    p->conf = (float)conf;
  }
  const char *mb = vigil_config_str(cfg, "VIGIL_DETECT_MAX_BATCH");
  if (mb && atoi(mb) > 0) p->max_batch = atoi(mb);
  p->path = path_buf;
  return 0;
}

/* Loads the detector; never fails the service: a missing model makes /health
 * unhealthy and /detect 503. */
static int detect_init(void **out, const vigil_config *cfg, char *err, size_t errlen) {
  detect_ctx *c = calloc(1, sizeof *c);
  if (!c) return -1;
  detector_params p;
  if (detector_params_from_config(&p, c->model_path, sizeof c->model_path, cfg, c->error, sizeof c->error) ||
      detector_load(&c->det, p, c->error, sizeof c->error)) {
    vlog_error("detect: %s (run `make deps` for the default models, or set YOLO26_MODEL_PATH)", c->error);
  } else {
    vlog_info("detect: %s loaded (family %s, confidence %.2f)", detector_model_name(c->det),
              det_family_name(detector_family(c->det)), detector_conf(c->det));
  }
  const char *yw = vigil_config_str(cfg, "YOLO_WORLD_MODEL_PATH");
  double yc = 0.25;
  vigil_config_float(cfg, "YOLO_WORLD_CONFIDENCE", &yc, NULL, 0);
  c->yw_conf = (float)yc;
  if (!yw || !*yw) {
    snprintf(c->yw_error, sizeof c->yw_error, "YOLO_WORLD_MODEL_PATH is not set");
  } else if (yolo_world_load(&c->yw, yw, 1, c->yw_error, sizeof c->yw_error)) {
    vlog_info("detect: open-vocabulary detection off: YOLO-World export not installed (%s; "
              "tools/export/yolo_world.py writes it)", c->yw_error);
  } else {
    vlog_info("detect: YOLO-World %s loaded (up to %d classes per request)", yw, yolo_world_max_classes(c->yw));
  }
  *out = c;
  return 0;
}

static void detect_free(void *ctx) {
  detect_ctx *c = ctx;
  if (!c) return;
  detector_free(c->det);
  yolo_world_free(c->yw);
  free(c);
}

static json_t *dets_json(const vigil_det_list *l) {
  json_t *arr = json_array();
  for (int i = 0; i < l->n; i++) {
    const vigil_det *d = &l->dets[i];
    json_t *o = json_object(), *b = json_object();
    json_object_set_new(o, "class", json_string(d->label));
    json_object_set_new(o, "confidence", json_real(round(d->score * 1e4) / 1e4));
    json_object_set_new(b, "x", json_real(round(d->x1 * 10) / 10));
    json_object_set_new(b, "y", json_real(round(d->y1 * 10) / 10));
    json_object_set_new(b, "width", json_real(round((d->x2 - d->x1) * 10) / 10));
    json_object_set_new(b, "height", json_real(round((d->y2 - d->y1) * 10) / 10));
    json_object_set_new(o, "bbox", b);
    json_array_append_new(arr, o);
  }
  return arr;
}

static int h_health(vigil_http_response *res, const vigil_http_request *req) {
  detect_ctx *c = req->ctx;
  json_t *o = json_object();
  json_object_set_new(o, "status", json_string(c->det ? "healthy" : "unhealthy"));
  json_object_set_new(o, "model_loaded", json_boolean(c->det != NULL));
  json_object_set_new(o, "device", json_string("cpu"));
  json_object_set_new(o, "cuda_available", json_false());
  json_object_set_new(o, "model_name", c->det ? json_string(detector_model_name(c->det)) : json_null());
  json_object_set_new(o, "vram_used_gb", json_real(c->det ? detector_memory_bytes(c->det) / 1e9 : 0));
  if (!c->det) json_object_set_new(o, "error", json_string(c->error));
  /* open vocabulary ("classes"): whether the YOLO-World export is installed, and why not */
  json_object_set_new(o, "open_vocabulary", json_boolean(c->yw != NULL));
  if (c->yw) json_object_set_new(o, "open_vocabulary_max_classes", json_integer(yolo_world_max_classes(c->yw)));
  else json_object_set_new(o, "open_vocabulary_error", json_string(c->yw_error));
  return vigil_http_reply_json(res, 200, o);
}

/* Decodes every upload, runs one detector call over all of them. */
static int run_uploads(vigil_http_response *res, const vigil_http_request *req, detect_ctx *c,
                       const vigil_uploads *up, const class_list *cl, vigil_image *imgs, vigil_det_list *lists,
                       double *ms) {
  vigil_img_limits lim = vigil_img_default_limits();
  const vigil_image **run = calloc(up->n + 1, sizeof *run);
  int *idx = calloc(up->n + 1, sizeof *idx);
  int nrun = 0, rc = 0;
  if (!run || !idx) {
    rc = vigil_http_error(res, 500, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < up->n; i++) {
    if (vigil_http_decode_image(&imgs[i], res, req, up->items[i].data, up->items[i].len, &lim) < 0) {
      if (up->n > 1 && (res->status == 400 || res->status == 415)) {
        /* name the failing image in the batch */
        vigil_http_error(res, res->status ? res->status : 400, "image %zu (%s): could not decode image", i,
                         up->items[i].filename[0] ? up->items[i].filename : "unnamed");
      }
      rc = -1;
      goto out;
    }
    if (imgs[i].w >= DETECT_MIN_SIDE && imgs[i].h >= DETECT_MIN_SIDE) {
      run[nrun] = &imgs[i];
      idx[nrun++] = (int)i;
    }
  }
  vigil_det_list *tmp = calloc((size_t)nrun + 1, sizeof *tmp);
  char err[512];
  double t0 = vigil_mono_ms();
  int frc = 0;
  if (tmp && cl->given) {
    for (int k = 0; k < nrun && !frc; k++)
      frc = yolo_world_detect(c->yw, &tmp[k], run[k], (const char *const *)cl->v, cl->n, c->yw_conf, err, sizeof err);
    if (frc)
      for (int k = 0; k < nrun; k++) vigil_det_list_free(&tmp[k]);
  } else if (tmp && nrun) {
    frc = detector_run(c->det, tmp, run, nrun, err, sizeof err);
  }
  if (!tmp || frc) {
    free(tmp);
    vigil_http_error(res, 500, "inference failed: %s", err);
    rc = -1;
    goto out;
  }
  *ms = vigil_mono_ms() - t0;
  for (int k = 0; k < nrun; k++) lists[idx[k]] = tmp[k];
  free(tmp);
out:
  free(run);
  free(idx);
  return rc;
}

static void classes_free(class_list *cl) {
  for (int i = 0; i < cl->n; i++) free(cl->v[i]);
  free(cl->v);
}

/* "classes" of a JSON body: absent -> !given; present -> checked (400 on error). */
static int read_classes(class_list *cl, vigil_http_response *res, const vigil_http_request *req, detect_ctx *c) {
  memset(cl, 0, sizeof *cl);
  if (!vigil_http_content_type_is(req, "application/json")) return 0;
  json_error_t je;
  json_t *root = json_loadb((const char *)req->body, req->body_len, 0, &je);
  json_t *a = root && json_is_object(root) ? json_object_get(root, "classes") : NULL;
  if (!a || json_is_null(a)) {
    json_decref(root);
    return 0; /* the uploads reader reports malformed JSON */
  }
  int rc = 0;
  char err[256];
  cl->given = true;
  if (!c->yw) {
    rc = -1, vigil_http_error(res, 400, "open-vocabulary detection ('classes') needs the YOLO-World export, which is "
                                    "not installed: %s", c->yw_error);
  } else if (!json_is_array(a)) {
    rc = -1, vigil_http_error(res, 400, "field 'classes' must be an array of strings");
  } else if (json_array_size(a) > (size_t)yolo_world_max_classes(c->yw)) {
    rc = -1, vigil_http_error(res, 400, "field 'classes' lists %zu classes; at most %d are allowed", json_array_size(a),
                          yolo_world_max_classes(c->yw));
  } else if (!(cl->v = calloc(json_array_size(a) + 1, sizeof *cl->v))) {
    rc = -1, vigil_http_error(res, 500, "out of memory");
  } else {
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e) {
      if (!json_is_string(e)) {
        rc = -1, vigil_http_error(res, 400, "field 'classes' item %zu must be a string", i);
        break;
      }
      if (!(cl->v[cl->n++] = strdup(json_string_value(e)))) {
        rc = -1, vigil_http_error(res, 500, "out of memory");
        break;
      }
    }
    if (!rc && yolo_world_check_classes((const char *const *)cl->v, cl->n, yolo_world_max_classes(c->yw), err,
                                        sizeof err))
      rc = -1, vigil_http_error(res, 400, "field 'classes': %s", err);
  }
  json_decref(root);
  if (rc) classes_free(cl);
  return rc ? -1 : 0;
}

static int detect_common(vigil_http_response *res, const vigil_http_request *req, bool batch) {
  detect_ctx *c = req->ctx;
  class_list cl;
  if (read_classes(&cl, res, req, c)) return 0;
  if (!c->det && !cl.given) return vigil_http_error(res, 503, "detector not loaded: %s", c->error);
  vigil_uploads up = {0};
  if (vigil_http_read_uploads(&up, res, req, "image_base64", batch ? DETECT_MAX_BATCH_FILES : 1,
                              DETECT_MAX_IMAGE_BYTES) < 0)
    return classes_free(&cl), 0;
  if (up.n == 0) {
    vigil_uploads_free(&up);
    classes_free(&cl);
    return vigil_http_error(res, 400, "no image given: send a multipart 'file' field or JSON image_base64");
  }
  vigil_image *imgs = calloc(up.n, sizeof *imgs);
  vigil_det_list *lists = calloc(up.n, sizeof *lists);
  double ms = 0;
  if (imgs && lists && run_uploads(res, req, c, &up, &cl, imgs, lists, &ms) == 0) {
    json_t *o = json_object();
    if (!batch) {
      json_object_set_new(o, "detections", dets_json(&lists[0]));
      json_object_set_new(o, "inference_time_ms", json_real(round(ms * 100) / 100));
      json_object_set_new(o, "image_width", json_integer(imgs[0].w));
      json_object_set_new(o, "image_height", json_integer(imgs[0].h));
      if (cl.given) json_object_set_new(o, "model", json_string("yolo-world"));
    } else {
      json_t *arr = json_array();
      for (size_t i = 0; i < up.n; i++) {
        json_t *r = json_object();
        json_object_set_new(r, "index", json_integer((json_int_t)i));
        json_object_set_new(r, "filename", json_string(up.items[i].filename));
        json_object_set_new(r, "detections", dets_json(&lists[i]));
        json_object_set_new(r, "image_width", json_integer(imgs[i].w));
        json_object_set_new(r, "image_height", json_integer(imgs[i].h));
        json_array_append_new(arr, r);
      }
      json_object_set_new(o, "results", arr);
      json_object_set_new(o, "total_inference_time_ms", json_real(round(ms * 100) / 100));
      json_object_set_new(o, "num_images", json_integer((json_int_t)up.n));
    }
    vigil_http_reply_json(res, 200, o);
  } else if (!imgs || !lists) {
    vigil_http_error(res, 500, "out of memory");
  }
  for (size_t i = 0; imgs && lists && i < up.n; i++) {
    vigil_image_free(&imgs[i]);
    vigil_det_list_free(&lists[i]);
  }
  free(imgs);
  free(lists);
  vigil_uploads_free(&up);
  classes_free(&cl);
  return 0;
}

static int h_detect(vigil_http_response *res, const vigil_http_request *req) { return detect_common(res, req, false); }
static int h_batch(vigil_http_response *res, const vigil_http_request *req) { return detect_common(res, req, true); }

static void detect_metrics(vigil_metrics_out *o, void *ctx) {
  detect_ctx *c = ctx;
  vigil_metrics_header(o, "vigil_model_memory_bytes", "gauge", "Measured memory of loaded models");
  char labels[300];
  snprintf(labels, sizeof labels, "model=\"%s\"", c->det ? detector_model_name(c->det) : "none");
  vigil_metrics_sample(o, "vigil_model_memory_bytes", labels, c->det ? (double)detector_memory_bytes(c->det) : 0);
  if (!c->yw) return;
  vigil_metrics_sample(o, "vigil_model_memory_bytes", "model=\"yolo-world\"", (double)yolo_world_memory_bytes(c->yw));
  int entries;
  long hits, misses;
  yolo_world_cache_stats(c->yw, &entries, &hits, &misses);
  vigil_metrics_header(o, "vigil_yolo_world_text_cache_total", "counter",
                       "YOLO-World class-text embeddings: lookups answered from the cache (hit) or computed (miss)");
  vigil_metrics_sample(o, "vigil_yolo_world_text_cache_total", "result=\"hit\"", (double)hits);
  vigil_metrics_sample(o, "vigil_yolo_world_text_cache_total", "result=\"miss\"", (double)misses);
}

static const vigil_http_route detect_routes[] = {
    {"GET", "/health", h_health},
    {"POST", "/detect", h_detect},
    {"POST", "/detect/batch", h_batch},
};

const vigil_service vigil_service_detect =
    VIGIL_SERVICE("detect", 8095, detect_routes, .init = detect_init, .free = detect_free, .metrics = detect_metrics,
                  .max_body = DETECT_MAX_IMAGE_BYTES * DETECT_MAX_BATCH_FILES / 4 + (1 << 20));
