/* The CLIP service (8093): embeddings, zero-shot labels, image-text similarity and
 * scene anomaly against a camera's usual view, from the CLIP export at
 * CLIP_MODEL_PATH (docs/models.md). Without the export every model endpoint answers
 * 503 saying so, and /health is "unhealthy" with model_loaded false.
 *
 *   POST /embed             {"image"} or {"text"} -> {"embedding" [D], "embedding_dimension"}
 *   POST /classify          {"image", "labels": [..<=100]} -> {"scores", "top_label", "top_score"}
 *   POST /similarity        {"image", "text"} -> {"similarity"} (cosine)
 *   POST /batch-similarity  {"image", "texts": [..<=100]} -> {"similarities": [..], "texts"}
 *   POST /anomaly-score     {"image", "baseline_embedding": [D]} or {"image", "camera_id",
 *                           "update_baseline": true} -> {"anomaly_score", "similarity_to_baseline",
 *                           "baseline_warm", "baseline_samples", "is_anomaly"}
 * "image" is base64 (JPEG/PNG/WebP); multipart `file` is accepted by /embed. Texts are
 * UTF-8 (invalid: 400), truncated to CLIP's 77 tokens. The per-camera baselines live
 * in SQLite (VIGIL_CLIP_BASELINES, src/models/clip_baselines.c) so they survive
 * restarts; the pipeline's scene stage updates the same ones. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "models/hub_common.h"
#include "util/assets.h"
#include "util/clock.h"
#include "util/log.h"
#include "vigil/clip.h"
#include "vigil/config.h"
#include "vigil/http.h"

#define CLIP_MAX_LABELS 100
#define CLIP_MAX_BODY ((size_t)16 << 20)

typedef struct {
  clip_model *m; /* shared with the events API and the pipeline (clip_shared_acquire) */
  char why[512]; /* why there is no model */
  double threshold, min_alpha;
  long warm_after;
  clip_baselines *bases;
} clip_ctx;

static int clip_init(void **out, const vigil_config *cfg, char *err, size_t errlen) {
  (void)err, (void)errlen;
  clip_ctx *c = calloc(1, sizeof *c);
  if (!c) return -1;
  const char *path = vigil_config_str(cfg, "CLIP_MODEL_PATH");
  char e[512] = "";
  if (!path || !*path) snprintf(c->why, sizeof c->why, "CLIP_MODEL_PATH is not set");
  else if (clip_shared_acquire(&c->m, path, e, sizeof e))
    snprintf(c->why, sizeof c->why, "CLIP is not installed: %s (set CLIP_MODEL_PATH to an export folder, see docs/models.md)", e);
  if (!c->m) vlog_warn("clip: %s", c->why);
  c->threshold = 0.25, c->min_alpha = 0.05, c->warm_after = 20;
  vigil_config_float(cfg, "CLIP_ANOMALY_THRESHOLD", &c->threshold, NULL, 0);
  vigil_config_float(cfg, "CLIP_BASELINE_ALPHA", &c->min_alpha, NULL, 0);
  vigil_config_int(cfg, "CLIP_BASELINE_WARM", &c->warm_after, NULL, 0);
  if (clip_baselines_open(&c->bases, vigil_config_str(cfg, "VIGIL_CLIP_BASELINES"))) {
    clip_shared_release(c->m);
    free(c);
    return -1;
  }
  *out = c;
  return 0;
}

static void clip_ctx_free(void *p) {
  clip_ctx *c = p;
  if (!c) return;
  clip_shared_release(c->m);
  clip_baselines_close(c->bases);
  free(c);
}

/* ---- requests --------------------------------------------------------------------------------- */

typedef struct {
  vigil_bytes image;
  char *text, *camera_id;
  char **labels;
  size_t n_labels;
  char **texts;
  size_t n_texts;
  bool update_baseline;
} clip_req;

static const vigil_json_field req_f[] = {
    {.key = "image", .type = VIGIL_JSON_BASE64, .offset = offsetof(clip_req, image), .max = (size_t)10 << 20},
    {.key = "text", .type = VIGIL_JSON_STRING, .offset = offsetof(clip_req, text), .max = 65536},
    {.key = "camera_id", .type = VIGIL_JSON_STRING, .offset = offsetof(clip_req, camera_id), .max = 63},
    {.key = "labels", .type = VIGIL_JSON_STRING_ARRAY, .offset = offsetof(clip_req, labels),
     .count_offset = offsetof(clip_req, n_labels), .max = CLIP_MAX_LABELS},
    {.key = "texts", .type = VIGIL_JSON_STRING_ARRAY, .offset = offsetof(clip_req, texts),
     .count_offset = offsetof(clip_req, n_texts), .max = CLIP_MAX_LABELS},
    {.key = "update_baseline", .type = VIGIL_JSON_BOOL, .offset = offsetof(clip_req, update_baseline)},
};

static json_t *jround(double v, double q) { return json_real(round(v * q) / q); }

static json_t *vec_json(const float *v, int n) {
  json_t *a = json_array();
  for (int i = 0; i < n; i++) json_array_append_new(a, jround(v[i], 1e6));
  return a;
}

/* Parses the JSON body; 0, or -1 with res filled. */
static int parse(clip_req *q, json_t **root, vigil_http_response *res, const vigil_http_request *req) {
  memset(q, 0, sizeof *q);
  q->update_baseline = true;
  *root = NULL;
  if (!vigil_http_content_type_is(req, "application/json"))
    return vigil_http_error(res, 415, "send application/json (see docs/http-api.md)"), -1;
  json_error_t je;
  *root = json_loadb((const char *)req->body, req->body_len, 0, &je);
  if (!*root) return vigil_http_error(res, 400, "body is not valid JSON: %s", je.text), -1;
  if (!json_is_object(*root)) return vigil_http_error(res, 400, "body is not a JSON object"), -1;
  char err[512];
  if (vigil_json_parse_object(q, req_f, VIGIL_JSON_N(req_f), *root, err, sizeof err)) {
    json_t *l = json_object_get(*root, "labels"), *t = json_object_get(*root, "texts");
    bool too_many = (json_is_array(l) && json_array_size(l) > CLIP_MAX_LABELS) ||
                    (json_is_array(t) && json_array_size(t) > CLIP_MAX_LABELS);
    return vigil_http_error(res, too_many ? 400 : strstr(err, "too large") ? 413 : 400, "%s%s", err,
                            too_many ? " (at most 100)" : ""), -1;
  }
  return 0;
}

static void req_free(clip_req *q, json_t *root) {
  vigil_json_free(q, req_f, VIGIL_JSON_N(req_f));
  json_decref(root);
}

static int need_model(const clip_ctx *c, vigil_http_response *res) {
  if (c->m) return 0;
  vigil_http_error(res, 503, "%s", c->why);
  return -1;
}

/* Every route's end: the answer with its inference time. */
static void reply_timed(vigil_http_response *res, json_t *o, double t0) {
  json_object_set_new(o, "inference_time_ms", jround(vigil_mono_ms() - t0, 100));
  vigil_http_reply_json(res, 200, o);
}

/* One JSON route's call: the context, the parsed body, when it started. */
typedef struct {
  clip_ctx *c;
  clip_req q;
  json_t *root;
  double t0;
} clip_call;

/* Every JSON route: the model is loaded and the body parses, then fn fills res;
 * the request is freed on every path. */
static int run_json(vigil_http_response *res, const vigil_http_request *req,
                    void (*fn)(clip_call *k, vigil_http_response *res)) {
  clip_call k = {.c = req->ctx, .t0 = vigil_mono_ms()};
  if (need_model(k.c, res) == 0 && parse(&k.q, &k.root, res, req) == 0) fn(&k, res);
  req_free(&k.q, k.root);
  return 0;
}

/* Decodes and embeds q->image into e (dim floats). */
static int embed_image(clip_ctx *c, float *e, const clip_req *q, vigil_http_response *res) {
  if (!q->image.data) return vigil_http_error(res, 400, "field 'image' (base64) is required"), -1;
  vigil_image im = {0};
  vigil_img_limits lim = vigil_http_image_limits(NULL);
  if (vigil_http_decode_image(&im, res, NULL, q->image.data, q->image.len, &lim) < 0) return -1;
  char err[512];
  int rc = clip_embed_image(c->m, e, &im, err, sizeof err);
  vigil_image_free(&im);
  if (rc) return vigil_http_error(res, 500, "%s", err), -1;
  return 0;
}

/* Embeds n texts; an invalid UTF-8 text is a 400 naming it. */
static int embed_texts(clip_ctx *c, float *e, char *const *texts, size_t n, vigil_http_response *res) {
  size_t *lens = malloc(sizeof *lens * (n ? n : 1));
  if (!lens) return vigil_http_error(res, 500, "out of memory"), -1;
  for (size_t i = 0; i < n; i++) lens[i] = strlen(texts[i]);
  char err[512];
  int rc = clip_embed_texts(c->m, e, (const char *const *)texts, lens, (int)n, err, sizeof err);
  free(lens);
  if (rc) return vigil_http_error(res, strstr(err, "UTF-8") ? 400 : 500, "%s", err), -1;
  return 0;
}

static int h_embed(vigil_http_response *res, const vigil_http_request *req) {
  clip_ctx *c = req->ctx;
  if (need_model(c, res)) return 0;
  double t0 = vigil_mono_ms();
  int d = clip_embed_dim(c->m);
  float *e = malloc(sizeof(float) * (size_t)d);
  if (!e) return vigil_http_error(res, 500, "out of memory");
  clip_req q;
  json_t *root = NULL;
  int rc = -1;
  if (req->content_type && !strncmp(req->content_type, "multipart/", 10)) {
    vigil_uploads u;
    if (vigil_http_read_uploads(&u, res, req, "image", 1, (size_t)10 << 20) == 0) {
      memset(&q, 0, sizeof q);
      q.image.data = u.items[0].data, q.image.len = u.items[0].len;
      rc = embed_image(c, e, &q, res);
      vigil_uploads_free(&u);
      memset(&q, 0, sizeof q);
    }
  } else if (parse(&q, &root, res, req) == 0) {
    if (q.text && !q.image.data) rc = embed_texts(c, e, &q.text, 1, res);
    else rc = embed_image(c, e, &q, res);
    req_free(&q, root);
  }
  if (rc == 0) {
    json_t *o = json_object();
    json_object_set_new(o, "embedding", vec_json(e, d));
    json_object_set_new(o, "embedding_dimension", json_integer(d));
    json_object_set_new(o, "model", json_string("clip-vit-large-patch14"));
    reply_timed(res, o, t0);
  }
  free(e);
  (void)rc; /* every path above filled res */
  return 0;
}

/* The image's similarity to n texts (cosine). */
static int image_vs_texts(clip_ctx *c, float *sims, const clip_req *q, char *const *texts, size_t n,
                          vigil_http_response *res) {
  int d = clip_embed_dim(c->m);
  float *e = malloc(sizeof(float) * (size_t)d * (n + 1));
  if (!e) return vigil_http_error(res, 500, "out of memory"), -1;
  int rc = embed_image(c, e, q, res);
  if (!rc) rc = embed_texts(c, e + d, texts, n, res);
  for (size_t i = 0; !rc && i < n; i++) sims[i] = hub_dot(e, e + (size_t)d * (i + 1), d);
  free(e);
  return rc;
}

static void classify(clip_call *k, vigil_http_response *res) {
  const clip_req *q = &k->q;
  if (q->n_labels < 1) {
    vigil_http_error(res, 400, "field 'labels' must list 1 to 100 labels");
    return;
  }
  float sims[CLIP_MAX_LABELS], probs[CLIP_MAX_LABELS];
  if (image_vs_texts(k->c, sims, q, q->labels, q->n_labels, res)) return;
  float scale = clip_logit_scale(k->c->m);
  for (size_t i = 0; i < q->n_labels; i++) sims[i] *= scale;
  hub_softmax(probs, sims, (int)q->n_labels);
  json_t *o = json_object(), *scores = json_object();
  size_t best = 0;
  for (size_t i = 0; i < q->n_labels; i++) {
    json_object_set_new(scores, q->labels[i], jround(probs[i], 1e6));
    if (probs[i] > probs[best]) best = i;
  }
  json_object_set_new(o, "scores", scores);
  json_object_set_new(o, "top_label", json_string(q->labels[best]));
  json_object_set_new(o, "top_score", jround(probs[best], 1e6));
  reply_timed(res, o, k->t0);
}

static void similarity(clip_call *k, vigil_http_response *res) {
  float sim;
  if (!k->q.text) vigil_http_error(res, 400, "field 'text' is required");
  else if (image_vs_texts(k->c, &sim, &k->q, &k->q.text, 1, res) == 0)
    reply_timed(res, json_pack("{s:o}", "similarity", jround(sim, 1e6)), k->t0);
}

static void batch_similarity(clip_call *k, vigil_http_response *res) {
  const clip_req *q = &k->q;
  float sims[CLIP_MAX_LABELS];
  if (q->n_texts < 1) {
    vigil_http_error(res, 400, "field 'texts' must list 1 to 100 texts");
    return;
  }
  if (image_vs_texts(k->c, sims, q, q->texts, q->n_texts, res)) return;
  json_t *a = json_array(), *t = json_array();
  for (size_t i = 0; i < q->n_texts; i++) {
    json_array_append_new(a, jround(sims[i], 1e6));
    json_array_append_new(t, json_string(q->texts[i]));
  }
  reply_timed(res, json_pack("{s:o, s:o}", "similarities", a, "texts", t), k->t0);
}

static void anomaly(clip_call *k, vigil_http_response *res) {
  clip_ctx *c = k->c;
  const clip_req *q = &k->q;
  int d = clip_embed_dim(c->m);
  float *e = malloc(sizeof(float) * (size_t)d * 2);
  clip_baseline b = {0};
  if (!e || clip_baseline_init(&b, d)) {
    vigil_http_error(res, 500, "out of memory");
    goto out;
  }
  json_t *given = json_object_get(k->root, "baseline_embedding");
  if (given && !json_is_null(given)) {
    if (!json_is_array(given) || json_array_size(given) != (size_t)d) {
      vigil_http_error(res, 400, "field 'baseline_embedding' must be an array of %d numbers", d);
      goto out;
    }
    for (int i = 0; i < d; i++) {
      json_t *v = json_array_get(given, (size_t)i);
      if (!json_is_number(v) || !isfinite(json_number_value(v))) {
        vigil_http_error(res, 400, "field 'baseline_embedding[%d]' must be a finite number", i);
        goto out;
      }
      b.mean[i] = (float)json_number_value(v);
    }
    if (hub_l2_normalize(b.mean, d) == 0) {
      vigil_http_error(res, 400, "field 'baseline_embedding' is all zeros");
      goto out;
    }
    b.count = c->warm_after; /* a given baseline counts as warm */
  } else if (!q->camera_id || !*q->camera_id) {
    vigil_http_error(res, 400, "give 'baseline_embedding' or 'camera_id' (the camera's rolling baseline)");
    goto out;
  }
  if (embed_image(c, e, q, res)) goto out;
  bool have, warm;
  float sim;
  int64_t samples;
  if (!given || json_is_null(given)) { /* the camera's rolling baseline */
    clip_anomaly a;
    if (clip_baselines_score(c->bases, q->camera_id, e, d, q->update_baseline, (float)c->min_alpha, c->warm_after, &a)) {
      vigil_http_error(res, 500, "out of memory");
      goto out;
    }
    have = a.have_baseline, warm = a.warm, sim = a.similarity, samples = a.samples;
  } else {
    have = true, warm = true, sim = hub_dot(e, b.mean, d), samples = b.count;
  }
  double score = have ? 1.0 - sim : 0.0;
  json_t *o = json_object();
  json_object_set_new(o, "anomaly_score", jround(score, 1e6));
  json_object_set_new(o, "similarity_to_baseline", have ? jround(sim, 1e6) : json_null());
  json_object_set_new(o, "baseline_warm", json_boolean(warm));
  json_object_set_new(o, "baseline_samples", json_integer(samples));
  json_object_set_new(o, "is_anomaly", json_boolean(warm && score > c->threshold));
  json_object_set_new(o, "threshold", jround(c->threshold, 1e6));
  reply_timed(res, o, k->t0);
out:
  clip_baseline_free(&b);
  free(e);
}

static int h_classify(vigil_http_response *res, const vigil_http_request *req) { return run_json(res, req, classify); }
static int h_similarity(vigil_http_response *res, const vigil_http_request *req) { return run_json(res, req, similarity); }
static int h_batch_similarity(vigil_http_response *res, const vigil_http_request *req) {
  return run_json(res, req, batch_similarity);
}
static int h_anomaly(vigil_http_response *res, const vigil_http_request *req) { return run_json(res, req, anomaly); }

static int h_health(vigil_http_response *res, const vigil_http_request *req) {
  clip_ctx *c = req->ctx;
  json_t *o = json_object();
  json_object_set_new(o, "status", json_string(c->m ? "healthy" : "unhealthy"));
  json_object_set_new(o, "model_loaded", json_boolean(c->m != NULL));
  json_object_set_new(o, "model_name", json_string("clip-vit-large-patch14"));
  json_object_set_new(o, "device", json_string("cpu"));
  json_object_set_new(o, "cuda_available", json_false());
  json_object_set_new(o, "embedding_dimension", c->m ? json_integer(clip_embed_dim(c->m)) : json_null());
  json_object_set_new(o, "memory_mb", jround(c->m ? (double)clip_memory_bytes(c->m) / 1048576.0 : 0, 10));
  if (!c->m) json_object_set_new(o, "detail", json_string(c->why));
  return vigil_http_reply_json(res, 200, o);
}

static const vigil_http_route clip_routes[] = {
    {"GET", "/health", h_health},
    {"POST", "/embed", h_embed},
    {"POST", "/classify", h_classify},
    {"POST", "/similarity", h_similarity},
    {"POST", "/batch-similarity", h_batch_similarity},
    {"POST", "/anomaly-score", h_anomaly},
};

const vigil_service vigil_service_clip =
    VIGIL_SERVICE("clip", 8093, clip_routes, .init = clip_init, .free = clip_ctx_free, .max_body = CLIP_MAX_BODY);
