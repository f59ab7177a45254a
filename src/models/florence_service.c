/* The Florence-2 service (port 8092). Florence-2 itself is a hub-only model
 * that vigil cannot run yet, so the service answers text reading from the
 * PP-OCRv4 engine: POST /ocr, and POST /extract with the <OCR> and
 * <OCR_WITH_REGION> prompts (saying which engine answered); the other
 * Florence prompts get 503. /health is "degraded" while OCR works. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "vigil/http.h"
#include "vigil/ocr.h"

#define OCR_ENGINE_NAME "pp-ocrv4"

typedef struct {
  ocr_engine *ocr;
  ocr_params params;
  char error[512];
} florence_ctx;

static double ms_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int florence_init(void **out, const vigil_config *cfg, char *err, size_t errlen) {
  (void)err, (void)errlen;
  florence_ctx *c = calloc(1, sizeof *c);
  if (!c) return -1;
  c->params = ocr_default_params();
  if (ocr_load_config(&c->ocr, &c->params, cfg, c->error, sizeof c->error))
    vlog_error("florence: OCR unavailable: %s (run `make deps`)", c->error);
  else
    vlog_info("florence: Florence-2 is not installed; <OCR> is answered by PP-OCRv4");
  *out = c;
  return 0;
}

static void florence_free(void *ctx) {
  florence_ctx *c = ctx;
  if (!c) return;
  ocr_free(c->ocr);
  free(c);
}

static int h_health(vigil_http_response *res, const vigil_http_request *req) {
  florence_ctx *c = req->ctx;
  json_t *o = json_object();
  json_object_set_new(o, "status", json_string(c->ocr ? "degraded" : "unhealthy"));
  json_object_set_new(o, "model_loaded", json_false());
  json_object_set_new(o, "device", json_string("cpu"));
  json_object_set_new(o, "cuda_available", json_false());
  json_object_set_new(o, "model_name", json_null());
  json_object_set_new(o, "vram_used_gb", json_real(ocr_memory_bytes(c->ocr) / 1e9));
  json_object_set_new(o, "ocr_engine", c->ocr ? json_string(OCR_ENGINE_NAME) : json_null());
  json_object_set_new(o, "ocr_loaded", json_boolean(c->ocr != NULL));
  json_object_set_new(o, "detail", json_string(c->ocr ? "Florence-2 is not installed; OCR only (PP-OCRv4)"
                                                       : c->error));
  return vigil_http_reply_json(res, 200, o);
}

static json_t *jround(double v, double k) { return json_real(round(v * k) / k); }

static json_t *quad_json(const ocr_line *l) {
  json_t *q = json_array();
  for (int k = 0; k < 4; k++) json_array_append_new(q, json_pack("[o,o]", jround(l->quad[k].x, 10), jround(l->quad[k].y, 10)));
  return q;
}

/* Reads the one image of the request (multipart `file` or JSON image_base64)
 * and runs OCR; 0 with res filled on any error. */
static int read_and_run(vigil_http_response *res, const vigil_http_request *req, ocr_result *r, double *ms) {
  florence_ctx *c = req->ctx;
  vigil_img_limits lim = vigil_http_image_limits(NULL);
  vigil_uploads up;
  if (vigil_http_read_uploads(&up, res, req, "image_base64", 1, lim.max_bytes)) return -1;
  vigil_image im;
  int rc = vigil_http_decode_image(&im, res, req, up.items[0].data, up.items[0].len, &lim);
  vigil_uploads_free(&up);
  if (rc < 0) return -1;
  if (!c->ocr) {
    vigil_image_free(&im);
    vigil_http_error(res, 503, "OCR models not loaded: %s", c->error);
    return -1;
  }
  char err[512];
  double t0 = ms_now();
  rc = ocr_run(c->ocr, r, &im, &c->params, err, sizeof err);
  *ms = ms_now() - t0;
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

static int h_extract(vigil_http_response *res, const vigil_http_request *req) {
  char prompt[64];
  read_prompt(prompt, sizeof prompt, req);
  if (!prompt[0]) return vigil_http_error(res, 400, "missing 'prompt' (e.g. <OCR>, <OCR_WITH_REGION>)");
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
};

const vigil_service vigil_service_florence = {.name = "florence",
                                              .port = 8092,
                                              .routes = florence_routes,
                                              .n_routes = VIGIL_JSON_N(florence_routes),
                                              .init = florence_init,
                                              .free = florence_free};
