/* The Florence-2 service (port 8092).
 *
 * With the Florence-2 export at FLORENCE_MODEL_PATH (src/models/florence.c):
 * POST /extract answers every task prompt of model-zoo.md, and /caption, /detect
 * (<OD>) and /dense-caption are shortcuts; /health is "healthy". Without it, text
 * reading comes from the PP-OCRv4 engine: POST /extract with <OCR> and
 * <OCR_WITH_REGION> (saying which engine answered), and the other prompts get 503
 * saying Florence-2 is not installed; /health is "degraded" while OCR works.
 * POST /ocr is always the PP-OCRv4 pipeline (it reports per-line confidences). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/log.h"
#include "vigil/florence.h"
#include "vigil/http.h"
#include "vigil/ocr.h"

#define OCR_ENGINE_NAME "pp-ocrv4"

typedef struct {
  ocr_engine *ocr;
  ocr_params params;
  char error[512];
  florence_model *fm;     /* NULL: Florence-2 is not installed */
  florence_params fp;
  char fm_error[512];
} florence_ctx;

static int florence_init(void **out, const vigil_config *cfg, char *err, size_t errlen) {
  (void)err, (void)errlen;
  florence_ctx *c = calloc(1, sizeof *c);
  if (!c) return -1;
  c->params = ocr_default_params();
  if (ocr_load_config(&c->ocr, &c->params, cfg, c->error, sizeof c->error))
    vlog_error("florence: OCR unavailable: %s (run `make deps`)", c->error);
  c->fp = florence_default_params();
  long beams = c->fp.num_beams, maxt = c->fp.max_new_tokens;
  vigil_config_int(cfg, "FLORENCE_NUM_BEAMS", &beams, NULL, 0);
  vigil_config_int(cfg, "FLORENCE_MAX_NEW_TOKENS", &maxt, NULL, 0);
  c->fp.num_beams = (int)beams, c->fp.max_new_tokens = (int)maxt;
  const char *path = vigil_config_str(cfg, "FLORENCE_MODEL_PATH");
  char e[480] = "not set";
  if (!path || !*path || florence_load(&c->fm, path, 1, e, sizeof e)) {
    snprintf(c->fm_error, sizeof c->fm_error,
             "Florence-2 is not installed (FLORENCE_MODEL_PATH: %s; see docs/models.md)", e);
    vlog_info("florence: %s; <OCR> is answered by PP-OCRv4", c->fm_error);
  }
  *out = c;
  return 0;
}

static void florence_ctx_free(void *ctx) {
  florence_ctx *c = ctx;
  if (!c) return;
  ocr_free(c->ocr);
  florence_free(c->fm);
  free(c);
}

static int h_health(vigil_http_response *res, const vigil_http_request *req) {
  florence_ctx *c = req->ctx;
  json_t *o = json_object();
  json_object_set_new(o, "status", json_string(c->fm ? "healthy" : c->ocr ? "degraded" : "unhealthy"));
  json_object_set_new(o, "model_loaded", json_boolean(c->fm != NULL));
  json_object_set_new(o, "device", json_string("cpu"));
  json_object_set_new(o, "cuda_available", json_false());
  json_object_set_new(o, "model_name", c->fm ? json_string("florence-2-large") : json_null());
  json_object_set_new(o, "vram_used_gb", json_real((ocr_memory_bytes(c->ocr) + florence_memory_bytes(c->fm)) / 1e9));
  json_object_set_new(o, "ocr_engine", c->ocr ? json_string(OCR_ENGINE_NAME) : json_null());
  json_object_set_new(o, "ocr_loaded", json_boolean(c->ocr != NULL));
  json_object_set_new(o, "detail", json_string(c->fm    ? "Florence-2 and PP-OCRv4"
                                               : c->ocr ? "Florence-2 is not installed; OCR only (PP-OCRv4)"
                                                        : c->error));
  return vigil_http_reply_json(res, 200, o);
}

static json_t *jround(double v, double k) { return json_real(round(v * k) / k); }

static json_t *quad_json(const ocr_line *l) {
  json_t *q = json_array();
  for (int k = 0; k < 4; k++) json_array_append_new(q, json_pack("[o,o]", jround(l->quad[k].x, 10), jround(l->quad[k].y, 10)));
  return q;
}

/* Reads the one image of the request (multipart `file` or JSON image_base64);
 * -1 with res filled on any error. */
static int read_image(vigil_image *im, vigil_http_response *res, const vigil_http_request *req) {
  vigil_img_limits lim = vigil_http_image_limits(NULL);
  vigil_uploads up;
  if (vigil_http_read_uploads(&up, res, req, "image_base64", 1, lim.max_bytes)) return -1;
  int rc = vigil_http_decode_image(im, res, req, up.items[0].data, up.items[0].len, &lim);
  vigil_uploads_free(&up);
  return rc < 0 ? -1 : 0;
}

/* Reads the image and runs OCR; 0 with res filled on any error. */
static int read_and_run(vigil_http_response *res, const vigil_http_request *req, ocr_result *r, double *ms) {
  florence_ctx *c = req->ctx;
  vigil_image im;
  int rc;
  if (read_image(&im, res, req)) return -1;
  if (!c->ocr) {
    vigil_image_free(&im);
    vigil_http_error(res, 503, "OCR models not loaded: %s", c->error);
    return -1;
  }
  char err[512];
  double t0 = vigil_mono_ms();
  rc = ocr_run(c->ocr, r, &im, &c->params, err, sizeof err);
  *ms = vigil_mono_ms() - t0;
  vigil_image_free(&im);
  if (rc) {
    vigil_http_error(res, 500, "OCR failed: %s", err);
    return -1;
  }
  return 0;
}

static int h_ocr(vigil_http_response *res, const vigil_http_request *req) {
  ocr_result r;
  double ms;
  if (read_and_run(res, req, &r, &ms)) return 0;
  char *text = ocr_result_text(&r);
  json_t *lines = json_array();
  for (int i = 0; i < r.n; i++)
    json_array_append_new(lines, json_pack("{s:s, s:o, s:o}", "text", r.lines[i].text, "confidence",
                                           jround(r.lines[i].confidence, 1000), "quad", quad_json(&r.lines[i])));
  json_t *o = json_pack("{s:s, s:o, s:o, s:s, s:b}", "text", text ? text : "", "lines", lines, "inference_time_ms",
                        jround(ms, 100), "engine", OCR_ENGINE_NAME, "lines_capped", r.capped);
  free(text);
  ocr_result_free(&r);
  return vigil_http_reply_json(res, 200, o);
}

/* The prompt: JSON "prompt", a multipart "prompt" field, or ?prompt=. */
static int read_prompt(char *out, size_t cap, const vigil_http_request *req) {
  out[0] = 0;
  const char *q = vigil_http_query(req, "prompt");
  if (q) {
    snprintf(out, cap, "%s", q);
    return 0;
  }
  if (vigil_http_content_type_is(req, "application/json")) {
    json_t *j = json_loadb((const char *)req->body, req->body_len, 0, NULL);
    const char *s = json_string_value(json_object_get(j, "prompt"));
    if (s) snprintf(out, cap, "%s", s);
    json_decref(j);
  } else if (vigil_http_content_type_is(req, "multipart/form-data")) {
    char boundary[80], err[200];
    vigil_multipart_part parts[16];
    size_t n = 0;
    if (!vigil_multipart_boundary(boundary, sizeof boundary, req->content_type) &&
        !vigil_multipart_parse(parts, 16, &n, req->body, req->body_len, boundary, err, sizeof err))
      for (size_t i = 0; i < n; i++)
        if (!strcmp(parts[i].name, "prompt")) {
          size_t l = parts[i].len < cap - 1 ? parts[i].len : cap - 1;
          memcpy(out, parts[i].data, l);
          out[l] = 0;
        }
  }
  return 0;
}

/* One Florence-2 answer in Florence's own layout: {"<TASK>": text} for captions and
 * OCR, {"<TASK>": {"bboxes": [[x1,y1,x2,y2]], "labels"}} for boxes,
 * {"<OCR_WITH_REGION>": {"quad_boxes", "labels"}} for text regions. */
static int reply_florence(vigil_http_response *res, const vigil_http_request *req, florence_task t) {
  florence_ctx *c = req->ctx;
  if (!c->fm) return vigil_http_error(res, 503, "%s needs %s", florence_task_prompt(t), c->fm_error);
  vigil_image im;
  if (read_image(&im, res, req)) return 0;
  florence_result r;
  char err[512];
  double t0 = vigil_mono_ms();
  int rc = florence_run(c->fm, &r, t, &im, c->fp, err, sizeof err);
  double ms = vigil_mono_ms() - t0;
  vigil_image_free(&im);
  if (rc) return vigil_http_error(res, 500, "Florence-2 failed: %s", err);
  json_t *v;
  if (t == FLORENCE_OD || t == FLORENCE_DENSE_REGION_CAPTION || t == FLORENCE_REGION_PROPOSAL) {
    json_t *boxes = json_array(), *labels = json_array();
    for (int i = 0; i < r.n_boxes; i++) {
      const florence_box *b = &r.boxes[i];
      json_array_append_new(boxes, json_pack("[o,o,o,o]", jround(b->x1, 10), jround(b->y1, 10), jround(b->x2, 10),
                                             jround(b->y2, 10)));
      json_array_append_new(labels, json_string(b->label));
    }
    v = json_pack("{s:o, s:o}", "bboxes", boxes, "labels", labels);
  } else if (t == FLORENCE_OCR_WITH_REGION) {
    json_t *quads = json_array(), *labels = json_array();
    for (int i = 0; i < r.n_regions; i++) {
      json_t *q = json_array();
      for (int k = 0; k < 8; k++) json_array_append_new(q, jround(r.regions[i].quad[k], 10));
      json_array_append_new(quads, q);
      json_array_append_new(labels, json_string(r.regions[i].text));
    }
    v = json_pack("{s:o, s:o}", "quad_boxes", quads, "labels", labels);
  } else {
    v = json_string(r.text);
  }
  json_t *result = json_object();
  json_object_set_new(result, florence_task_prompt(t), v);
  json_t *o = json_pack("{s:s, s:o, s:s, s:i, s:b, s:o}", "prompt", florence_task_prompt(t), "result", result, "engine",
                        "florence-2", "tokens", r.n_tokens, "truncated", r.truncated, "inference_time_ms",
                        jround(ms, 100));
  florence_result_free(&r);
  return vigil_http_reply_json(res, 200, o);
}

static int h_caption(vigil_http_response *res, const vigil_http_request *req) {
  const char *d = vigil_http_query(req, "detail");
  florence_task t = !d || !strcmp(d, "brief") ? FLORENCE_CAPTION
                    : !strcmp(d, "detailed")  ? FLORENCE_DETAILED_CAPTION
                    : !strcmp(d, "more")      ? FLORENCE_MORE_DETAILED_CAPTION
                                              : FLORENCE_NTASKS;
  if (t == FLORENCE_NTASKS) return vigil_http_error(res, 400, "detail must be brief, detailed or more");
  return reply_florence(res, req, t);
}
static int h_detect(vigil_http_response *res, const vigil_http_request *req) { return reply_florence(res, req, FLORENCE_OD); }
static int h_dense(vigil_http_response *res, const vigil_http_request *req) {
  return reply_florence(res, req, FLORENCE_DENSE_REGION_CAPTION);
}

static int h_extract(vigil_http_response *res, const vigil_http_request *req) {
  florence_ctx *c = req->ctx;
  char prompt[64];
  read_prompt(prompt, sizeof prompt, req);
  if (!prompt[0]) return vigil_http_error(res, 400, "missing 'prompt' (e.g. <OCR>, <OCR_WITH_REGION>)");
  int task = florence_task_parse(prompt);
  if (task >= 0 && c->fm) return reply_florence(res, req, (florence_task)task);
  bool region = !strcmp(prompt, "<OCR_WITH_REGION>");
  if (!region && strcmp(prompt, "<OCR>")) {
    static const char *const florence_only[] = {"<CAPTION>", "<DETAILED_CAPTION>", "<MORE_DETAILED_CAPTION>",
                                                 "<OD>", "<DENSE_REGION_CAPTION>", "<REGION_PROPOSAL>"};
    for (size_t i = 0; i < VIGIL_JSON_N(florence_only); i++)
      if (!strcmp(prompt, florence_only[i]))
        return vigil_http_error(res, 503,
                                "%s needs Florence-2, which is not installed; only <OCR> and <OCR_WITH_REGION> "
                                "are answered (by PP-OCRv4)",
                                prompt);
    return vigil_http_error(res, 400, "unknown prompt '%.40s'", prompt);
  }
  ocr_result r;
  double ms;
  if (read_and_run(res, req, &r, &ms)) return 0;
  json_t *result;
  if (region) {
    json_t *quads = json_array(), *labels = json_array();
    for (int i = 0; i < r.n; i++) {
      json_t *q = json_array(); /* Florence-2's flat [x1,y1,...,x4,y4] */
      for (int k = 0; k < 4; k++) {
        json_array_append_new(q, jround(r.lines[i].quad[k].x, 10));
        json_array_append_new(q, jround(r.lines[i].quad[k].y, 10));
      }
      json_array_append_new(quads, q);
      json_array_append_new(labels, json_string(r.lines[i].text));
    }
    result = json_pack("{s:{s:o, s:o}}", prompt, "quad_boxes", quads, "labels", labels);
  } else {
    char *text = ocr_result_text(&r);
    result = json_pack("{s:s}", prompt, text ? text : "");
    free(text);
  }
  json_t *o = json_pack("{s:s, s:o, s:s, s:s, s:o}", "prompt", prompt, "result", result, "engine", OCR_ENGINE_NAME,
                        "note", "Florence-2 is not installed; answered by PP-OCRv4", "inference_time_ms",
                        jround(ms, 100));
  ocr_result_free(&r);
  return vigil_http_reply_json(res, 200, o);
}

static const vigil_http_route florence_routes[] = {
    {"GET", "/health", h_health},
    {"POST", "/ocr", h_ocr},
    {"POST", "/extract", h_extract},
    {"POST", "/caption", h_caption},
    {"POST", "/detect", h_detect},
    {"POST", "/dense-caption", h_dense},
};

const vigil_service vigil_service_florence =
    VIGIL_SERVICE("florence", 8092, florence_routes, .init = florence_init, .free = florence_ctx_free);
