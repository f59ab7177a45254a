/* The pipeline's scene stage: when a batch closes, its best snapshot gets a
 * Florence-2 <DETAILED_CAPTION> and a CLIP anomaly score against the camera's
 * rolling baseline (both read by the LLM and stored with the event), and the
 * snapshot and its confirmed person and vehicle crops get CLIP embeddings that
 * the store keeps for semantic search (GET /events/search). Each model is used
 * when installed; a missing one is logged once and skipped. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "vigil/classes.h"
#include "vigil/clip.h"
#include "vigil/config.h"
#include "vigil/florence.h"
#include "vigil/pipeline.h"

struct pipeline_scene {
  clip_model *clip;        /* shared (clip_shared_acquire); NULL: not installed */
  clip_baselines *bases;
  florence_model *flo;     /* NULL: not installed */
  florence_params fp;
  double threshold, min_alpha;
  long warm_after, max_crops;
};

int pipeline_scene_open(pipeline_scene **out, const struct vigil_config *cfg) {
  *out = NULL;
  bool on = true;
  vigil_config_bool(cfg, "PIPELINE_SCENE", &on, NULL, 0);
  if (!on) return 0;
  pipeline_scene *s = calloc(1, sizeof *s);
  if (!s) return -1;
  char e[512] = "";
  const char *cp = vigil_config_str(cfg, "CLIP_MODEL_PATH");
  if (!cp || !*cp || clip_shared_acquire(&s->clip, cp, e, sizeof e))
    vlog_warn("pipeline: CLIP is not installed (%s): events get no scene anomaly and no search embeddings",
              cp && *cp ? e : "CLIP_MODEL_PATH is not set");
  const char *fpth = vigil_config_str(cfg, "FLORENCE_MODEL_PATH");
  e[0] = 0;
  if (!fpth || !*fpth || florence_load(&s->flo, fpth, 1, e, sizeof e))
    vlog_warn("pipeline: Florence-2 is not installed (%s): events get no caption",
              fpth && *fpth ? e : "FLORENCE_MODEL_PATH is not set");
  s->fp = florence_default_params();
  long beams = s->fp.num_beams, maxt = s->fp.max_new_tokens;
  vigil_config_int(cfg, "FLORENCE_NUM_BEAMS", &beams, NULL, 0);
  vigil_config_int(cfg, "FLORENCE_MAX_NEW_TOKENS", &maxt, NULL, 0);
  s->fp.num_beams = (int)beams, s->fp.max_new_tokens = (int)maxt;
  s->threshold = 0.25, s->min_alpha = 0.05, s->warm_after = 20, s->max_crops = 8;
  vigil_config_float(cfg, "CLIP_ANOMALY_THRESHOLD", &s->threshold, NULL, 0);
  vigil_config_float(cfg, "CLIP_BASELINE_ALPHA", &s->min_alpha, NULL, 0);
  vigil_config_int(cfg, "CLIP_BASELINE_WARM", &s->warm_after, NULL, 0);
  vigil_config_int(cfg, "CLIP_SEARCH_MAX_CROPS", &s->max_crops, NULL, 0);
  if (s->max_crops > PIPELINE_SCENE_MAX_EMBED - 1) s->max_crops = PIPELINE_SCENE_MAX_EMBED - 1;
  if (s->clip && clip_baselines_open(&s->bases, vigil_config_str(cfg, "VIGIL_CLIP_BASELINES"))) {
    pipeline_scene_close(s);
    return -1;
  }
  if (!s->clip && !s->flo) { /* nothing installed: the stage is off */
    pipeline_scene_close(s);
    return 0;
  }
  vlog_info("pipeline: scene stage on (%s%s%s)", s->flo ? "Florence-2 caption" : "",
            s->flo && s->clip ? ", " : "", s->clip ? "CLIP anomaly and search embeddings" : "");
  *out = s;
  return 0;
}

void pipeline_scene_close(pipeline_scene *s) {
  if (!s) return;
  clip_shared_release(s->clip);
  clip_baselines_close(s->bases);
  florence_free(s->flo);
  free(s);
}

bool pipeline_scene_has_clip(const pipeline_scene *s) { return s && s->clip; }
bool pipeline_scene_has_florence(const pipeline_scene *s) { return s && s->flo; }

void pipeline_scene_out_free(pipeline_scene_out *o) {
  for (int i = 0; i < o->n; i++) free(o->emb[i].vec);
  o->n = 0;
}

static float iou(float ax1, float ay1, float ax2, float ay2, const vigil_bbox *b) {
  float ix = fminf(ax2, b->x2) - fmaxf(ax1, b->x1), iy = fminf(ay2, b->y2) - fmaxf(ay1, b->y1);
  if (ix <= 0 || iy <= 0) return 0;
  float in = ix * iy, u = (ax2 - ax1) * (ay2 - ay1) + (b->x2 - b->x1) * (b->y2 - b->y1) - in;
  return u > 0 ? in / u : 0;
}

/* The batch detection a snapshot box stands for: same class, best overlap (the
 * batch keeps each track's best sighting, possibly from another frame). */
static const char *match_detection(const vigil_batch *b, const vigil_det *d) {
  int best = -1;
  float bi = 0.3f;
  for (size_t i = 0; i < b->n; i++) {
    if (strcmp(b->dets[i].cls, d->label)) continue;
    float v = iou(d->x1, d->y1, d->x2, d->y2, &b->dets[i].bbox);
    if (v > bi) bi = v, best = (int)i;
  }
  return best >= 0 ? b->dets[best].id : "";
}

/* Embeds the square around a box (CLIP centre-crops: a tall person keeps head and feet). */
static int embed_crop(pipeline_scene *s, float *out, const vigil_image *frame, const vigil_det *d) {
  float cx = (d->x1 + d->x2) / 2, cy = (d->y1 + d->y2) / 2;
  float side = fmaxf(d->x2 - d->x1, d->y2 - d->y1) * 1.1f;
  if (side > (float)frame->w) side = (float)frame->w;
  if (side > (float)frame->h) side = (float)frame->h;
  int x = (int)fmaxf(0, fminf(cx - side / 2, (float)frame->w - side));
  int y = (int)fmaxf(0, fminf(cy - side / 2, (float)frame->h - side));
  int sd = (int)side;
  if (sd < 8) return -1; /* nothing a model could read */
  vigil_image crop = {0};
  if (vigil_img_crop(&crop, frame, x, y, sd, sd)) return -1;
  char err[256];
  int rc = clip_embed_image(s->clip, out, &crop, err, sizeof err);
  if (rc) vlog_warn("pipeline: CLIP crop embedding failed: %s", err);
  vigil_image_free(&crop);
  return rc;
}

static bool wanted(const char *label) {
  vigil_kind k = vigil_class_kind(label);
  return k == VIGIL_KIND_PERSON || k == VIGIL_KIND_VEHICLE;
}

int pipeline_scene_run(pipeline_scene *s, vigil_batch *b, const vigil_image *frame, const vigil_det *dets, int n,
                       pipeline_scene_out *out) {
  out->n = 0;
  memset(&b->scene, 0, sizeof b->scene);
  if (!s || !frame || !frame->data || frame->w < 1 || frame->h < 1) return 0;
  char err[512];
  if (s->flo) {
    florence_result r;
    if (florence_run(s->flo, &r, FLORENCE_DETAILED_CAPTION, frame, s->fp, err, sizeof err) == 0) {
      b->scene.has_caption = r.text != NULL;
      vigil_strlcpy(b->scene.caption, r.text ? r.text : "", sizeof b->scene.caption);
      florence_result_free(&r);
    } else {
      vlog_warn("pipeline: Florence-2 caption of %s failed: %s", b->camera_id, err);
    }
  }
  if (!s->clip) return 0;
  int dim = clip_embed_dim(s->clip);
  float *e = malloc(sizeof(float) * (size_t)dim);
  if (!e) return -1;
  if (clip_embed_image(s->clip, e, frame, err, sizeof err)) {
    vlog_warn("pipeline: CLIP embedding of %s failed: %s", b->camera_id, err);
    free(e);
    return 0;
  }
  clip_anomaly a;
  if (clip_baselines_score(s->bases, b->camera_id, e, dim, true, (float)s->min_alpha, s->warm_after, &a) == 0) {
    b->scene.has_anomaly = true;
    b->scene.anomaly_score = a.anomaly_score;
    b->scene.similarity = a.have_baseline ? a.similarity : NAN;
    b->scene.baseline_warm = a.warm;
    b->scene.baseline_samples = a.samples;
    b->scene.is_anomaly = a.warm && a.anomaly_score > s->threshold;
  }
  out->emb[out->n++] = (store_embedding){.kind = "snapshot", .dim = dim, .vec = e};
  for (int i = 0; i < n && out->n <= s->max_crops; i++) {
    if (!dets[i].label || !wanted(dets[i].label)) continue;
    float *v = malloc(sizeof(float) * (size_t)dim);
    if (!v) break;
    if (embed_crop(s, v, frame, &dets[i])) {
      free(v);
      continue;
    }
    store_embedding *se = &out->emb[out->n++];
    *se = (store_embedding){.kind = "crop", .dim = dim, .vec = v};
    vigil_strlcpy(se->label, dets[i].label, sizeof se->label);
    vigil_strlcpy(se->detection_id, match_detection(b, &dets[i]), sizeof se->detection_id);
  }
  return 0;
}

void pipeline_scene_store(store *st, int64_t event_id, const pipeline_scene_out *o) {
  if (!o->n || event_id < 1) return;
  char err[512];
  if (store_put_embeddings(st, event_id, o->emb, o->n, err, sizeof err))
    vlog_warn("pipeline: search embeddings of event %lld not stored: %s", (long long)event_id, err);
}
