/* The enrichment engine: the two zoo managers of model-zoo.md's split, the
 * routing of models to them, and the person path, whose parts run in
 * parallel threads, each under its own zoo lease.
 *
 * Routing. Every registry row names its default service (heavy or light).
 * ENRICHMENT_<FUNCTION>_SERVICE (POSE, THREAT, REID, PET, DEPTH, VEHICLE,
 * CLOTHING, DEMOGRAPHICS, ACTION, DAMAGE, FACE) moves all models of a
 * function; ENRICHMENT_<MODEL>_SERVICE (model name upper-cased, '-' -> '_')
 * moves one model and wins over the function's setting.
 *
 * Model choices. VIGIL_POSE_MODEL (movenet-lightning, movenet-thunder,
 * vitpose-small, yolov8n-pose), VIGIL_FACE_MODEL (blazeface, yolo11-face),
 * VIGIL_DEMOGRAPHICS_MODEL (faceres, vit = vit-age-classifier +
 * vit-gender-classifier). Defaults are the real models setup fetches. */
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "enrich/handles.h"
#include "vigil/pipeline.h"
#include "vigil/risk.h"
#include "util/assets.h"
#include "util/clock.h"
#include "util/log.h"
#include "vigil/enrich.h"
#include "vigil/plate.h"
#include "vigil/status.h"

struct enrich_engine {
  zoo_registry reg;
  zoo_manager *heavy, *light;
  reid_gallery *gallery;
  char pose_model[ZOO_NAME_MAX], face_model[ZOO_NAME_MAX], demo_model[16];
  float threat_conf;
  plate_config plates; /* PLATE_PATTERN, KNOWN_PLATES */
  char household_pets[256];        /* VIGIL_HOUSEHOLD_PETS */
  pthread_mutex_t wx_mu;           /* guards the weather cache */
  struct {
    char camera[64];
    double ts;
    bool ok;
    weather_result w;
    char why[256];                 /* !ok: why it could not run (not retried within the TTL) */
  } wx[16];                        /* last weather per camera (ENRICH_WEATHER_TTL_S) */
};

/* ---- engine ----------------------------------------------------------------------- */

/* The parts' threads (below). */
static void *part_threat(void *arg);
static void *part_pose(void *arg);
static void *part_demographics(void *arg);
static void *part_clothing(void *arg);
static void *part_reid(void *arg);
static void *part_depth(void *arg);
static void *part_vehicle(void *arg);
static void *part_pet(void *arg);
static void *part_damage(void *arg);
static void *part_weather(void *arg);
static void *part_violence(void *arg);

/* The parts, one row each: the part's bit and name, its function (the
 * ENRICHMENT_<FUNCTION>_SERVICE variable moves all the function's models),
 * its models (models[0] decides the part's service, with the registry's
 * default service of model-zoo.md's split), and the thread that runs it
 * (NULL: action runs after pose; FACE is no part of its own, demographics
 * leases its models). A new part is one row here and its thread. */
static const struct {
  unsigned bit;
  const char *name, *function;
  zoo_service dflt;
  void *(*run)(void *);
  const char *models[4];
} parts_table[] = {
    {ENRICH_PART_THREAT, "threat", "THREAT", ZOO_SVC_LIGHT, part_threat, {"threat-detection-yolov8n"}},
    {ENRICH_PART_POSE, "pose", "POSE", ZOO_SVC_LIGHT, part_pose,
     {"movenet-lightning", "movenet-thunder", "vitpose-small", "yolov8n-pose"}},
    {ENRICH_PART_DEMOGRAPHICS, "demographics", "DEMOGRAPHICS", ZOO_SVC_HEAVY, part_demographics,
     {"faceres", "gear", "vit-age-classifier", "vit-gender-classifier"}},
    {ENRICH_PART_CLOTHING, "clothing", "CLOTHING", ZOO_SVC_HEAVY, part_clothing,
     {"fashion-clip", "segformer-b2-clothes"}},
    {ENRICH_PART_REID, "reid", "REID", ZOO_SVC_LIGHT, part_reid, {"osnet-x0-25"}},
    {ENRICH_PART_ACTION, "action", "ACTION", ZOO_SVC_HEAVY, NULL, {"xclip-base"}},
    {ENRICH_PART_DEPTH, "depth", "DEPTH", ZOO_SVC_LIGHT, part_depth, {"depth-anything-v2-small"}},
    {ENRICH_PART_VEHICLE, "vehicle", "VEHICLE", ZOO_SVC_HEAVY, part_vehicle, {"vehicle-segment-classification"}},
    {ENRICH_PART_PET, "pet", "PET", ZOO_SVC_LIGHT, part_pet, {"pet-classifier"}},
    {ENRICH_PART_DAMAGE, "damage", "DAMAGE", ZOO_SVC_HEAVY, part_damage, {"vehicle-damage-detection"}},
    {ENRICH_PART_WEATHER, "weather", "WEATHER", ZOO_SVC_HEAVY, part_weather, {"weather-classification"}},
    {ENRICH_PART_VIOLENCE, "violence", "VIOLENCE", ZOO_SVC_HEAVY, part_violence, {"violence-detection"}},
    {0, NULL, "FACE", ZOO_SVC_HEAVY, NULL, {"blazeface", "yolo11-face"}},
};
#define N_PARTS (sizeof parts_table / sizeof *parts_table)

static const char *route_env(const char *model, char *key, size_t keylen);

unsigned enrich_part_bit(const char *name) {
  for (size_t i = 0; name && i < N_PARTS; i++)
    if (parts_table[i].bit && !strcmp(parts_table[i].name, name)) return parts_table[i].bit;
  return 0;
}

const char *enrich_part_name(unsigned bit) {
  for (size_t i = 0; i < N_PARTS; i++)
    if (parts_table[i].bit && parts_table[i].bit == bit) return parts_table[i].name;
  return NULL;
}

zoo_service enrich_part_service(unsigned bit) {
  for (size_t i = 0; i < N_PARTS; i++) {
    if (!parts_table[i].bit || parts_table[i].bit != bit) continue;
    char key[128];
    const char *model = parts_table[i].models[0];
    const char *pose = vigil_config_given(NULL, "VIGIL_POSE_MODEL");
    if (bit == ENRICH_PART_POSE && pose) model = pose;
    const char *v = route_env(model, key, sizeof key);
    zoo_service s;
    if (v && zoo_service_parse(v, &s) == 0 && s != ZOO_SVC_CORE) return s;
    return parts_table[i].dflt;
  }
  return ZOO_SVC_HEAVY;
}

unsigned enrich_default_parts(enrich_kind kind, const enrich_options *opt, int nframes) {
  unsigned parts = 0;
  if (kind == ENRICH_PERSON)
    parts = ENRICH_PART_THREAT | ENRICH_PART_DEMOGRAPHICS | ENRICH_PART_CLOTHING | ENRICH_PART_REID |
            (opt->include_pose ? ENRICH_PART_POSE : 0) | (opt->action_recognition ? ENRICH_PART_ACTION : 0);
  else if (kind == ENRICH_VEHICLE)
    parts = ENRICH_PART_VEHICLE | ENRICH_PART_DAMAGE;
  else if (kind == ENRICH_ANIMAL)
    parts = ENRICH_PART_PET;
  if (opt->include_depth) parts |= ENRICH_PART_DEPTH;
  if (opt->include_weather) parts |= ENRICH_PART_WEATHER;
  if (opt->include_violence) parts |= ENRICH_PART_VIOLENCE;
  if (nframes > 1 && kind == ENRICH_PERSON) parts |= ENRICH_PART_ACTION | ENRICH_PART_POSE;
  return parts;
}

/* The env override of one model's service, NULL when none; key gets the
 * variable that decided (for the warning). */
static const char *route_env(const char *model, char *key, size_t keylen) {
  const char *v = NULL;
  for (size_t f = 0; f < N_PARTS && !v; f++)
    for (int k = 0; k < 4 && parts_table[f].models[k]; k++)
      if (!strcmp(parts_table[f].models[k], model)) {
        snprintf(key, keylen, "ENRICHMENT_%s_SERVICE", parts_table[f].function);
        v = vigil_config_given(NULL, key);
      }
  char mk[128];
  snprintf(mk, sizeof mk, "ENRICHMENT_");
  size_t o = strlen(mk);
  for (const char *p = model; *p && o < sizeof mk - 10; p++) mk[o++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
  snprintf(mk + o, sizeof mk - o, "_SERVICE");
  const char *mv = vigil_config_given(NULL, mk);
  if (mv) {
    v = mv;
    snprintf(key, keylen, "%s", mk);
  }
  return v;
}

static void route(zoo_registry *reg) {
  for (int i = 0; i < reg->count; i++) {
    zoo_model_row *row = &reg->rows[i];
    if (row->service == ZOO_SVC_CORE) continue;
    char key[128] = "";
    const char *v = route_env(row->name, key, sizeof key);
    zoo_service s;
    if (v && zoo_service_parse(v, &s) == 0 && s != ZOO_SVC_CORE) row->service = s;
    else if (v) vlog_warn("enrich: ignoring %s=%s (heavy or light)", key, v);
  }
}

static double budget_mb(const vigil_config *cfg, const char *key, double dflt_gb, char *err, size_t errlen) {
  const char *v = vigil_config_given(cfg, key);
  double mb;
  if (v && zoo_budget_parse_gb(v, &mb, err, errlen) == 0) return mb;
  if (v) return -1;
  return dflt_gb * 1024;
}

static void choose(char *dst, size_t len, const vigil_config *cfg, const char *key, const char *dflt) {
  const char *v = vigil_config_str(cfg, key);
  snprintf(dst, len, "%s", v && *v ? v : dflt);
}

int enrich_engine_init(enrich_engine **out, const vigil_config *cfg, char *err, size_t errlen) {
  *out = NULL;
  enrich_engine *e = calloc(1, sizeof *e);
  if (!e) return vigil_err_oom(err, errlen);
  pthread_mutex_init(&e->wx_mu, NULL);
  if (zoo_registry_init(&e->reg, err, errlen)) goto fail; /* the registry is empty again */
  route(&e->reg);
  /* the optional scene models, said once: their parts stay quiet per request (segformer)
   * or name the reason in "errors" (violence) */
  if (!zoo_row_installed(zoo_registry_find(&e->reg, "segformer-b2-clothes")))
    vlog_info("enrich: segformer-b2-clothes not installed (SEGFORMER_MODEL_PATH; tools/export/segformer_b2_clothes.py): "
              "clothing has no item masks");
  if (!zoo_row_installed(zoo_registry_find(&e->reg, "violence-detection")))
    vlog_info("enrich: violence-detection not installed (VIOLENCE_MODEL_PATH; tools/export/violence_detection.py): "
              "multi-person frames are not checked for violence");
  choose(e->pose_model, sizeof e->pose_model, cfg, "VIGIL_POSE_MODEL", "movenet-lightning");
  choose(e->face_model, sizeof e->face_model, cfg, "VIGIL_FACE_MODEL", "blazeface");
  choose(e->demo_model, sizeof e->demo_model, cfg, "VIGIL_DEMOGRAPHICS_MODEL", "faceres");
  e->threat_conf = 0.5f;
  if (plate_config_init(&e->plates, cfg, err, errlen)) goto fail;
  choose(e->household_pets, sizeof e->household_pets, cfg, "VIGIL_HOUSEHOLD_PETS", "");
  /* VRAM_BUDGET_GB applies to heavy; light has its own key (design: ~1.2 GB),
   * falling back to VRAM_BUDGET_GB when only that one is set explicitly. */
  double heavy = budget_mb(cfg, "VRAM_BUDGET_GB", 6.0, err, errlen);
  double light = vigil_config_given(cfg, "VRAM_BUDGET_LIGHT_GB")
                     ? budget_mb(cfg, "VRAM_BUDGET_LIGHT_GB", 1.2, err, errlen)
                     : (vigil_config_given(cfg, "VRAM_BUDGET_GB") ? heavy : 1.2 * 1024);
  if (heavy < 0 || light < 0) goto fail;
  zoo_params p = zoo_default_params();
  if (zoo_params_from_env(&p, err, errlen)) goto fail;
  p.loader = enrich_zoo_loader(1);
  p.reaper_interval_s = 30;
  p.budget_mb = heavy;
  p.service_mask = 1u << ZOO_SVC_HEAVY;
  if (zoo_manager_init(&e->heavy, &e->reg, p, err, errlen)) goto fail;
  p.budget_mb = light;
  p.service_mask = 1u << ZOO_SVC_LIGHT;
  if (zoo_manager_init(&e->light, &e->reg, p, err, errlen)) goto fail;
  char gpath[1024], gerr[256];
  const char *gp = vigil_config_str(cfg, "VIGIL_REID_GALLERY");
  if (!gp || !*gp) {
    if (vigil_asset_path(gpath, sizeof gpath, "reid-gallery.sqlite") == 0) gp = gpath;
  }
  double th = 0.7;
  if (vigil_config_float(cfg, "VIGIL_REID_THRESHOLD", &th, err, errlen)) goto fail;
  if (reid_gallery_open(&e->gallery, gp, (float)th, gerr, sizeof gerr))
    vlog_warn("enrich: re-id gallery unavailable: %s", gerr);
  zoo_manager_preload_env(e->heavy);
  zoo_manager_preload_env(e->light);
  *out = e;
  return 0;
fail:
  enrich_engine_free(e);
  return -1;
}

void enrich_engine_free(enrich_engine *e) {
  if (!e) return;
  zoo_manager_free(e->heavy);
  zoo_manager_free(e->light);
  reid_gallery_close(e->gallery);
  zoo_registry_free(&e->reg);
  plate_config_free(&e->plates);
  pthread_mutex_destroy(&e->wx_mu);
  free(e);
}

zoo_manager *enrich_engine_manager(enrich_engine *e, zoo_service svc) {
  return svc == ZOO_SVC_LIGHT ? e->light : e->heavy;
}

/* ---- the person path ---------------------------------------------------------------- */

typedef struct {
  enrich_engine *e;
  const enrich_request *rq;
  enrich_result *r;
  pthread_mutex_t *mu; /* guards r->models_used and r->errors */
} part_ctx;

static void note_error(part_ctx *c, const char *part, const char *reason) {
  pthread_mutex_lock(c->mu);
  enrich_result *r = c->r;
  if (r->n_errors < ENRICH_MAX_ERRORS) {
    snprintf(r->error_part[r->n_errors], sizeof r->error_part[0], "%s", part);
    snprintf(r->error_reason[r->n_errors], sizeof r->error_reason[0], "%s", reason);
    r->n_errors++;
  }
  pthread_mutex_unlock(c->mu);
}

static void note_model(part_ctx *c, const char *name) {
  pthread_mutex_lock(c->mu);
  enrich_result *r = c->r;
  bool seen = false;
  for (int i = 0; i < r->n_models; i++) seen |= !strcmp(r->models_used[i], name);
  if (!seen && r->n_models < ENRICH_MAX_MODELS)
    snprintf(r->models_used[r->n_models++], sizeof r->models_used[0], "%s", name);
  pthread_mutex_unlock(c->mu);
}

/* Leases `name` from whichever manager hosts it. */
static int lease(part_ctx *c, const char *part, const char *name, zoo_manager **mgr, zoo_lease *l) {
  char err[256];
  enrich_engine *e = c->e;
  *mgr = zoo_manager_manages(e->heavy, name) ? e->heavy : zoo_manager_manages(e->light, name) ? e->light : NULL;
  if (!*mgr) {
    char msg[320];
    snprintf(msg, sizeof msg, "model %s is not managed by the enrichment services", name);
    note_error(c, part, msg);
    return -1;
  }
  int rc = zoo_manager_acquire(*mgr, name, l, err, sizeof err);
  if (rc) {
    char msg[400];
    snprintf(msg, sizeof msg, "%s: %s", name, err);
    note_error(c, part, msg);
    return -1;
  }
  return 0;
}

/* Leases `name`, runs fn on its handle, releases, and records the model or
 * the reason it could not be used. The shape every part shares. */
typedef int (*part_call)(part_ctx *c, enrich_handle *h, char *err, size_t errlen);

static bool with_model(part_ctx *c, const char *part, const char *name, part_call fn) {
  zoo_manager *m;
  zoo_lease l;
  if (lease(c, part, name, &m, &l)) return false;
  char err[256];
  vigil_err(err, sizeof err, -1, "%s has an unexpected adapter for %s", name, part);
  int rc = fn(c, l.handle, err, sizeof err);
  zoo_manager_release(m, &l);
  if (rc) {
    note_error(c, part, err);
    return false;
  }
  note_model(c, name);
  return true;
}

/* Threat: YOLO weapon detector on the person box grown by 20%, so a held
 * weapon stays in view; the most severe class above the cut-off wins. */
static int call_threat(part_ctx *c, enrich_handle *h, char *err, size_t errlen) {
  const enrich_request *rq = c->rq;
  if (h->kind != EH_DETECTOR) return -1;
  threat_result *t = &c->r->threat;
  memset(t, 0, sizeof *t);
  snprintf(t->type, sizeof t->type, "none");
  snprintf(t->severity, sizeof t->severity, "low");
  float w = rq->x2 - rq->x1, hh = rq->y2 - rq->y1;
  int cx = (int)fmaxf(0, rq->x1 - 0.1f * w), cy = (int)fmaxf(0, rq->y1 - 0.1f * hh);
  int cw = (int)fminf((float)rq->frame->w, rq->x2 + 0.1f * w) - cx;
  int ch = (int)fminf((float)rq->frame->h, rq->y2 + 0.1f * hh) - cy;
  vigil_image crop = {0};
  if (vigil_img_crop(&crop, rq->frame, cx, cy, cw, ch)) {
    vigil_err(err, errlen, -1, "cannot crop the person box");
    return -1;
  }
  vigil_det_list dl;
  const vigil_image *imgs[1] = {&crop};
  int rc = detector_run(h->det, &dl, imgs, 1, err, errlen);
  vigil_image_free(&crop);
  if (rc) return rc;
  static const char *const rank[] = {"low", "medium", "high", "critical"};
  int best_rank = -1;
  for (int i = 0; i < dl.n; i++) {
    const char *type, *sev;
    if (dl.dets[i].score < c->e->threat_conf || !vigil_class_threat(dl.dets[i].label, &type, &sev)) continue;
    int r = 0;
    while (r < 3 && strcmp(rank[r], sev)) r++;
    if (r > best_rank || (r == best_rank && dl.dets[i].score > t->confidence)) {
      best_rank = r;
      t->detected = true;
      snprintf(t->type, sizeof t->type, "%s", type);
      snprintf(t->severity, sizeof t->severity, "%s", sev);
      snprintf(t->label, sizeof t->label, "%s", dl.dets[i].label);
      t->confidence = dl.dets[i].score;
      t->x1 = dl.dets[i].x1 + (float)cx, t->y1 = dl.dets[i].y1 + (float)cy;
      t->x2 = dl.dets[i].x2 + (float)cx, t->y2 = dl.dets[i].y2 + (float)cy;
    }
  }
  vigil_det_list_free(&dl);
  c->r->has_threat = true;
  return 0;
}

static void *part_threat(void *arg) {
  with_model(arg, "threat", "threat-detection-yolov8n", call_threat);
  return NULL;
}

/* The pose adapters (VIGIL_POSE_MODEL picks the model, its registry row the
 * adapter): one row each. */
static const struct {
  const char *adapter;
  int (*run)(model_runner *r, pose_result *out, const vigil_image *frame, float x1, float y1, float x2, float y2,
             char *err, size_t errlen);
} pose_adapters[] = {
    {"movenet-pose", movenet_pose},
    {"vitpose", vitpose_pose},
    {"yolo-pose", yolopose_pose},
};

static int call_pose(part_ctx *c, enrich_handle *h, char *err, size_t errlen) {
  const enrich_request *rq = c->rq;
  int rc = -1;
  for (size_t i = 0; h->kind == EH_RUNNER && i < sizeof pose_adapters / sizeof *pose_adapters; i++)
    if (!strcmp(h->adapter, pose_adapters[i].adapter)) {
      rc = pose_adapters[i].run(&h->run, &c->r->pose, rq->frame, rq->x1, rq->y1, rq->x2, rq->y2, err, errlen);
      break;
    }
  if (rc == 0) {
    c->r->has_pose = true;
    snprintf(c->r->pose_model, sizeof c->r->pose_model, "%s", c->e->pose_model);
  }
  return rc;
}

static void *part_pose(void *arg) {
  part_ctx *c = arg;
  with_model(c, "pose", c->e->pose_model, call_pose);
  return NULL;
}

/* Faces from a YOLO face detector run on the region's crop. */
static int detector_faces(detector_t *d, face_box *faces, int max, int *n, const vigil_image *frame, float x1,
                          float y1, float x2, float y2, float min_score, char *err, size_t errlen) {
  *n = 0;
  vigil_image crop = {0};
  int cx = (int)x1, cy = (int)y1;
  if (vigil_img_crop(&crop, frame, cx, cy, (int)(x2 - x1), (int)(y2 - y1))) {
    vigil_err(err, errlen, -1, "cannot crop the face region");
    return -1;
  }
  vigil_det_list l;
  const vigil_image *imgs[1] = {&crop};
  int rc = detector_run(d, &l, imgs, 1, err, errlen);
  vigil_image_free(&crop);
  if (rc) return rc;
  for (int i = 0; i < l.n && *n < max; i++) {
    if (l.dets[i].score < min_score) continue;
    face_box *f = &faces[(*n)++];
    memset(f, 0, sizeof *f);
    f->x1 = l.dets[i].x1 + (float)cx, f->y1 = l.dets[i].y1 + (float)cy;
    f->x2 = l.dets[i].x2 + (float)cx, f->y2 = l.dets[i].y2 + (float)cy;
    f->score = l.dets[i].score;
  }
  vigil_det_list_free(&l);
  return 0;
}

/* The face: searched in the upper half of the person box; none found is no
 * error (r->face_found stays false). */
static int call_face(part_ctx *c, enrich_handle *h, char *err, size_t errlen) {
  const enrich_request *rq = c->rq;
  face_box faces[4];
  int n = 0, rc = -1;
  float top = rq->y1, bottom = rq->y1 + (rq->y2 - rq->y1) * 0.5f;
  if (h->kind == EH_RUNNER && !strcmp(h->adapter, "blazeface"))
    rc = blazeface_detect(&h->run, faces, 4, &n, rq->frame, rq->x1, top, rq->x2, bottom, 0.6f, err, errlen);
  else if (h->kind == EH_DETECTOR) /* yolo11-face */
    rc = detector_faces(h->det, faces, 4, &n, rq->frame, rq->x1, top, rq->x2, bottom, 0.5f, err, errlen);
  if (rc == 0 && n > 0) {
    c->r->face = faces[0];
    c->r->face_found = true;
  }
  return rc;
}

/* The demographics adapters: a row matches the handle's adapter (and its
 * model, when the row names one); `gives` says what the model's answer adds
 * to r->demo (the ViT pair merge an age and a gender). */
enum { DEMO_AGE = 1, DEMO_GENDER = 2, DEMO_ALL = 3 };
static const struct {
  const char *adapter, *model;
  int (*run)(model_runner *r, demographics_result *out, const vigil_image *frame, const face_box *face, char *err,
             size_t errlen);
  int gives;
} demo_adapters[] = {
    {"faceres", NULL, faceres_demographics, DEMO_ALL},
    {"vit-classify", "vit-age-classifier", vit_age, DEMO_AGE},
    {"vit-classify", NULL, vit_gender, DEMO_GENDER},
};

static int call_demo(part_ctx *c, enrich_handle *h, char *err, size_t errlen) {
  for (size_t i = 0; i < sizeof demo_adapters / sizeof *demo_adapters; i++) {
    if (strcmp(h->adapter, demo_adapters[i].adapter) ||
        (demo_adapters[i].model && strcmp(h->name, demo_adapters[i].model)))
      continue;
    demographics_result d;
    int rc = demo_adapters[i].run(&h->run, &d, c->rq->frame, &c->r->face, err, errlen);
    if (rc) return rc;
    demographics_result *o = &c->r->demo;
    if (demo_adapters[i].gives == DEMO_ALL) *o = d;
    else if (demo_adapters[i].gives == DEMO_AGE)
      o->age = d.age, o->age_range = d.age_range, o->age_confidence = d.age_confidence;
    else
      o->gender = d.gender, o->gender_confidence = d.gender_confidence;
    return 0;
  }
  return -1;
}

static void *part_demographics(void *arg) {
  part_ctx *c = arg;
  enrich_result *r = c->r;
  if (!with_model(c, "demographics", c->e->face_model, call_face) || !r->face_found) return NULL;
  if (!strcmp(c->e->demo_model, "vit")) {
    if (!with_model(c, "demographics", "vit-age-classifier", call_demo) ||
        !with_model(c, "demographics", "vit-gender-classifier", call_demo))
      return NULL;
    r->demo.model = "vit-age-classifier+vit-gender-classifier";
  } else if (!with_model(c, "demographics", c->e->demo_model, call_demo)) {
    return NULL;
  }
  snprintf(r->demo_model, sizeof r->demo_model, "%s", c->e->demo_model);
  r->has_demographics = true;
  return NULL;
}

static int call_clothing(part_ctx *c, enrich_handle *h, char *err, size_t errlen) {
  const enrich_request *rq = c->rq;
  if (h->kind != EH_SIGLIP) return -1;
  int rc = clothing_classify(h->sig, &c->r->clothing, rq->frame, rq->x1, rq->y1, rq->x2, rq->y2, err, errlen);
  if (rc) return rc;
  if (!c->r->clothing.color[0] || !strcmp(c->r->clothing.color, "unknown"))
    snprintf(c->r->clothing.color, sizeof c->r->clothing.color, "%s",
             torso_color_name(rq->frame, rq->x1, rq->y1, rq->x2, rq->y2));
  c->r->has_clothing = true;
  return 0;
}

/* SegFormer clothes: per-item masks, areas and colours beside FashionSigLIP's label. */
static int call_segformer(part_ctx *c, enrich_handle *h, char *err, size_t errlen) {
  const enrich_request *rq = c->rq;
  if (h->kind != EH_RUNNER) return -1;
  segformer_result s;
  int rc = segformer_clothes(&h->run, &s, rq->frame, rq->x1, rq->y1, rq->x2, rq->y2, err, errlen);
  if (rc) return rc;
  c->r->n_segments = s.n;
  memcpy(c->r->segments, s.items, sizeof s.items[0] * (size_t)s.n);
  /* the label map, nearest-sampled down to SEGFORMER_MASK_SIDE when an export gives more */
  int mw = s.mask_w < SEGFORMER_MASK_SIDE ? s.mask_w : SEGFORMER_MASK_SIDE;
  int mh = s.mask_h < SEGFORMER_MASK_SIDE ? s.mask_h : SEGFORMER_MASK_SIDE;
  for (int y = 0; y < mh; y++)
    for (int x = 0; x < mw; x++)
      c->r->seg_mask[y * mw + x] = s.mask[(size_t)(y * s.mask_h / mh) * (size_t)s.mask_w + (size_t)(x * s.mask_w / mw)];
  c->r->seg_mask_w = mw, c->r->seg_mask_h = mh;
  segformer_result_free(&s);
  return 0;
}

static void *part_clothing(void *arg) {
  part_ctx *c = arg;
  with_model(c, "clothing", "fashion-clip", call_clothing);
  /* segformer is optional beside FashionSigLIP: not installed is no error here
   * (`vigil models list` says so); installed and failing is */
  if (zoo_row_installed(zoo_registry_find(&c->e->reg, "segformer-b2-clothes")))
    with_model(c, "clothing", "segformer-b2-clothes", call_segformer);
  return NULL;
}

/* Violence on the whole frame (asked for multi-person scenes). */
static int call_violence(part_ctx *c, enrich_handle *h, char *err, size_t errlen) {
  if (h->kind != EH_RUNNER) return -1;
  int rc = violence_classify(&h->run, &c->r->violence, c->rq->frame, 0, 0, 0, 0, err, errlen);
  if (rc == 0) c->r->has_violence = true;
  return rc;
}

static void *part_violence(void *arg) {
  with_model(arg, "violence", "violence-detection", call_violence);
  return NULL;
}

/* Re-id: the embedding, then the gallery gives the cross-camera person_id. */
static int call_reid(part_ctx *c, enrich_handle *h, char *err, size_t errlen) {
  const enrich_request *rq = c->rq;
  if (h->kind != EH_RUNNER) return -1;
  int rc = osnet_embed(&h->run, c->r->embedding, rq->frame, rq->x1, rq->y1, rq->x2, rq->y2, err, errlen);
  if (rc) return rc;
  c->r->has_reid = true;
  if (c->e->gallery) {
    char gerr[256];
    if (reid_gallery_match(c->e->gallery, &c->r->reid, c->r->embedding, rq->camera_id ? rq->camera_id : "default",
                           rq->ts, gerr, sizeof gerr) == 0)
      c->r->reid_matched = true;
    else
      note_error(c, "reid", gerr);
  }
  return 0;
}

static void *part_reid(void *arg) {
  with_model(arg, "reid", "osnet-x0-25", call_reid);
  return NULL;
}

static bool pose_suspicious(const pose_result *p) {
  if (p->n_alerts > 0) return true;
  return !strcmp(p->posture, "running") || !strcmp(p->posture, "crouching") || !strcmp(p->posture, "lying_down");
}

static int call_action(part_ctx *c, enrich_handle *h, char *err, size_t errlen) {
  const enrich_request *rq = c->rq;
  if (h->kind != EH_XCLIP) return -1;
  int rc = xclip_action(h->xc, &c->r->action, rq->frames, rq->nframes, rq->x1, rq->y1, rq->x2, rq->y2, err, errlen);
  if (rc == 0) c->r->has_action = true;
  return rc;
}

/* Licence plate: yolo11-license-plate (when its export is installed) finds
 * the plate box, else the OCR detector searches the whole vehicle; the OCR
 * engine reads it (src/models/plate.c). */
static int call_plate_box(part_ctx *c, enrich_handle *h, char *err, size_t errlen) {
  if (h->kind != EH_DETECTOR) return -1;
  return plate_box_detect(h->det, &c->r->plate, c->rq->frame, c->rq->x1, c->rq->y1, c->rq->x2, c->rq->y2, err,
                          errlen);
}

static int call_plate(part_ctx *c, enrich_handle *h, char *err, size_t errlen) {
  const enrich_request *rq = c->rq;
  if (h->kind != EH_OCR) return -1;
  plate_read hint = c->r->plate;
  int rc = hint.source[0] ? plate_read_in_box(h->ocr, &c->e->plates, &c->r->plate, rq->frame, &hint, err, errlen)
                          : plate_find(h->ocr, &c->e->plates, &c->r->plate, rq->frame, rq->x1, rq->y1, rq->x2,
                                       rq->y2, err, errlen);
  c->r->plate_ran = rc == 0;
  return rc;
}

static void part_plate(part_ctx *c) {
  const zoo_model_row *yolo = zoo_registry_find(&c->e->reg, "yolo11-license-plate");
  if (yolo && zoo_row_installed(yolo)) with_model(c, "license_plate", "yolo11-license-plate", call_plate_box);
  with_model(c, "license_plate", "paddleocr", call_plate);
}

/* ---- the vehicle and animal path ------------------------------------------------------ */

/* A part whose model is missing falls back when it can (vehicle and pet from
 * the detector's class, depth from the box alone); the reason stays in
 * errors so the caller knows the model did not run. */
static bool model_missing(part_ctx *c, const char *part) {
  pthread_mutex_lock(c->mu);
  bool miss = false;
  for (int i = 0; i < c->r->n_errors; i++)
    miss |= !strcmp(c->r->error_part[i], part) && strstr(c->r->error_reason[i], "not installed");
  pthread_mutex_unlock(c->mu);
  return miss;
}

/* call_NAME: the runner model FN over the request's box into r->NAME, setting
 * r->has_NAME when it ran. */
#define CALL_BOX_RUNNER(name, fn)                                                                   \
  static int call_##name(part_ctx *c, enrich_handle *h, char *err, size_t errlen) {                \
    const enrich_request *rq = c->rq;                                                              \
    if (h->kind != EH_RUNNER) return -1;                                                           \
    int rc = fn(&h->run, &c->r->name, rq->frame, rq->x1, rq->y1, rq->x2, rq->y2, err, errlen);     \
    if (rc == 0) c->r->has_##name = true;                                                          \
    return rc;                                                                                     \
  }

CALL_BOX_RUNNER(vehicle, vehicle_classify)

static void *part_vehicle(void *arg) {
  part_ctx *c = arg;
  if (!with_model(c, "vehicle", "vehicle-segment-classification", call_vehicle) && model_missing(c, "vehicle"))
    c->r->has_vehicle = vehicle_from_detector(&c->r->vehicle, c->rq->det_class, c->rq->det_score) == 0;
  return NULL;
}

CALL_BOX_RUNNER(damage, damage_detect)

static void *part_damage(void *arg) {
  with_model(arg, "damage", "vehicle-damage-detection", call_damage);
  return NULL;
}

CALL_BOX_RUNNER(pet, pet_classify)

static void *part_pet(void *arg) {
  part_ctx *c = arg;
  if (!with_model(c, "pet", "pet-classifier", call_pet) && model_missing(c, "pet"))
    c->r->has_pet = pet_from_detector(&c->r->pet, c->rq->det_class, c->rq->det_score) == 0;
  if (c->r->has_pet) c->r->pet.is_household = pet_household_match(c->e->household_pets, &c->r->pet);
  return NULL;
}

static int call_depth(part_ctx *c, enrich_handle *h, char *err, size_t errlen) {
  const enrich_request *rq = c->rq;
  if (h->kind != EH_RUNNER) return -1;
  return depth_estimate(&h->run, &c->r->depth, rq->frame, rq->x1, rq->y1, rq->x2, rq->y2, err, errlen);
}

static void *part_depth(void *arg) {
  part_ctx *c = arg;
  const enrich_request *rq = c->rq;
  bool ran = with_model(c, "depth", "depth-anything-v2-small", call_depth);
  if (ran || model_missing(c, "depth")) {
    /* the distance needs only the box and the calibration */
    depth_distance(&c->r->depth, vigil_kind_name(rq->kind), rq->y2 - rq->y1, rq->depth_px_per_m, rq->frame->w);
    c->r->has_depth = true;
  }
  return NULL;
}

static int call_weather(part_ctx *c, enrich_handle *h, char *err, size_t errlen) {
  if (h->kind != EH_RUNNER) return -1;
  int rc = weather_classify(&h->run, &c->r->weather, c->rq->frame, err, errlen);
  if (rc == 0) c->r->has_weather = true;
  return rc;
}

/* Weather changes slowly: one classification per camera per
 * ENRICH_WEATHER_TTL_S, the rest answered from the cache; a failure (no
 * model) is cached too, so the zoo is not asked again on every detection. */
static void *part_weather(void *arg) {
  part_ctx *c = arg;
  enrich_engine *e = c->e;
  const char *cam = c->rq->camera_id && c->rq->camera_id[0] ? c->rq->camera_id : "-";
  char why[256] = "";
  bool cached = false;
  pthread_mutex_lock(&e->wx_mu);
  for (int i = 0; i < 16 && !cached; i++)
    if (!strcmp(e->wx[i].camera, cam) && fabs(c->rq->ts - e->wx[i].ts) < ENRICH_WEATHER_TTL_S) {
      cached = true;
      if (e->wx[i].ok) c->r->weather = e->wx[i].w, c->r->has_weather = true;
      else snprintf(why, sizeof why, "%s", e->wx[i].why);
    }
  pthread_mutex_unlock(&e->wx_mu);
  if (cached) {
    if (!c->r->has_weather) note_error(c, "weather", why);
    return NULL;
  }
  bool ok = with_model(c, "weather", "weather-classification", call_weather);
  if (!ok) {
    pthread_mutex_lock(c->mu);
    for (int i = 0; i < c->r->n_errors; i++)
      if (!strcmp(c->r->error_part[i], "weather")) snprintf(why, sizeof why, "%s", c->r->error_reason[i]);
    pthread_mutex_unlock(c->mu);
  }
  pthread_mutex_lock(&e->wx_mu);
  int slot = 0;
  for (int i = 0; i < 16; i++) {
    if (!strcmp(e->wx[i].camera, cam)) {
      slot = i;
      break;
    }
    if (e->wx[i].ts < e->wx[slot].ts) slot = i; /* the oldest (or an empty one) */
  }
  snprintf(e->wx[slot].camera, sizeof e->wx[slot].camera, "%s", cam);
  e->wx[slot].ts = c->rq->ts;
  e->wx[slot].ok = ok;
  e->wx[slot].w = c->r->weather;
  snprintf(e->wx[slot].why, sizeof e->wx[slot].why, "%s", why);
  pthread_mutex_unlock(&e->wx_mu);
  return NULL;
}

int enrich_run(enrich_engine *e, enrich_result *out, const enrich_request *rq0, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  double t0 = vigil_mono_ms();
  enrich_request rq = *rq0;
  /* clip the box to the image; an empty box is the caller's error */
  rq.x1 = fmaxf(rq.x1, 0), rq.y1 = fmaxf(rq.y1, 0);
  rq.x2 = fminf(rq.x2, (float)rq.frame->w), rq.y2 = fminf(rq.y2, (float)rq.frame->h);
  if (!(rq.x2 - rq.x1 >= 2) || !(rq.y2 - rq.y1 >= 2)) {
    vigil_err(err, errlen, -1, "bbox is empty after clipping to the %dx%d image", rq.frame->w, rq.frame->h);
    return -1;
  }
  unsigned parts = rq.parts ? rq.parts : enrich_default_parts(rq.kind, &rq.opt, rq.nframes);
  if ((parts & (ENRICH_PART_VEHICLE | ENRICH_PART_DAMAGE)) &&
      (rq.x2 - rq.x1 < VEHICLE_MIN_BOX || rq.y2 - rq.y1 < VEHICLE_MIN_BOX)) {
    vigil_err(err, errlen, -1, "vehicle box is %.0fx%.0f px after clipping to the %dx%d image; vehicle parts need at "
               "least %dx%d", rq.x2 - rq.x1, rq.y2 - rq.y1, rq.frame->w, rq.frame->h, VEHICLE_MIN_BOX,
               VEHICLE_MIN_BOX);
    return -1;
  }
  {
    camera tzc;
    memset(&tzc, 0, sizeof tzc);
    if (rq.timezone) snprintf(tzc.timezone, sizeof tzc.timezone, "%s", rq.timezone);
    camera_local_time(&tzc, rq.ts, &out->local_hour, &out->local_minute);
  }
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  part_ctx c = {.e = e, .rq = &rq, .r = out, .mu = &mu};
  pthread_t th[N_PARTS];
  bool started[N_PARTS] = {0};
  for (size_t i = 0; i < N_PARTS; i++)
    if (parts_table[i].run && (parts & parts_table[i].bit))
      started[i] = pthread_create(&th[i], NULL, parts_table[i].run, &c) == 0;
  for (size_t i = 0; i < N_PARTS; i++) {
    if (started[i]) pthread_join(th[i], NULL);
    else if (parts_table[i].run && (parts & parts_table[i].bit))
      parts_table[i].run(&c); /* no thread available: run inline */
  }
  /* action: only with a suspicious pose and more than one frame */
  if ((parts & ENRICH_PART_ACTION) && rq.nframes > 1 && out->has_pose && pose_suspicious(&out->pose))
    with_model(&c, "action", "xclip-base", call_action);
  if (parts & ENRICH_PART_VEHICLE) part_plate(&c);
  out->inference_ms = vigil_mono_ms() - t0;
  return 0;
}

void enrich_result_summary(const enrich_result *r, const char *detection_id, vigil_enrichment *o) {
  memset(o, 0, sizeof *o);
  snprintf(o->detection_id, sizeof o->detection_id, "%s", detection_id ? detection_id : "");
  if (r->has_threat) {
    o->threat.present = true;
    snprintf(o->threat.type, sizeof o->threat.type, "%s", r->threat.type);
    snprintf(o->threat.severity, sizeof o->threat.severity, "%s", r->threat.severity);
    o->threat.confidence = r->threat.confidence;
    o->threat.bbox = (vigil_bbox){r->threat.x1, r->threat.y1, r->threat.x2, r->threat.y2};
  }
  if (r->has_pose) {
    o->pose.present = true;
    snprintf(o->pose.posture, sizeof o->pose.posture, "%s", r->pose.posture);
    for (int i = 0; i < r->pose.n_alerts && i < VIGIL_MAX_ALERTS; i++)
      snprintf(o->pose.alerts[o->pose.n_alerts++], sizeof o->pose.alerts[0], "%s", r->pose.alerts[i]);
  }
  if (r->has_clothing) {
    o->clothing.present = true;
    snprintf(o->clothing.type, sizeof o->clothing.type, "%s", r->clothing.clothing_type);
    snprintf(o->clothing.color, sizeof o->clothing.color, "%s", r->clothing.color);
    o->clothing.is_suspicious = r->clothing.is_suspicious;
    o->clothing.is_service_uniform = r->clothing.is_service_uniform;
  }
  for (int i = 0; i < r->n_segments; i++) { /* SegFormer items, also without FashionSigLIP */
    const segformer_item *s = &r->segments[i];
    size_t n = strlen(o->clothing.items);
    snprintf(o->clothing.items + n, sizeof o->clothing.items - n, "%s%s %s %.0f%%", n ? ", " : "", s->item, s->color,
             s->area * 100);
    o->clothing.present = true;
  }
  if (r->has_violence) {
    o->violence.present = true;
    o->violence.violent = r->violence.violent;
    o->violence.confidence = r->violence.violence;
  }
  if (r->has_demographics) {
    o->demographics.present = true;
    snprintf(o->demographics.age_range, sizeof o->demographics.age_range, "%s", r->demo.age_range);
    snprintf(o->demographics.gender, sizeof o->demographics.gender, "%s", r->demo.gender);
    o->demographics.confidence = r->demo.gender_confidence;
  }
  if (r->reid_matched) {
    o->reid.present = true;
    snprintf(o->reid.person_id, sizeof o->reid.person_id, "%s", r->reid.person_id);
    o->reid.first_seen = r->reid.first_seen;
    o->reid.last_seen = r->reid.last_seen;
    for (int i = 0; i < r->reid.n_cameras && i < VIGIL_MAX_REID_CAMERAS; i++)
      snprintf(o->reid.cameras[o->reid.n_cameras++], sizeof o->reid.cameras[0], "%s", r->reid.cameras[i]);
  }
  if (r->plate.found) {
    o->plate.present = true;
    snprintf(o->plate.text, sizeof o->plate.text, "%s", r->plate.text);
    snprintf(o->plate.raw, sizeof o->plate.raw, "%s", r->plate.raw);
    o->plate.confidence = r->plate.confidence;
    o->plate.votes = 1;
    o->plate.known = r->plate.known;
    o->plate.bbox = (vigil_bbox){r->plate.x1, r->plate.y1, r->plate.x2, r->plate.y2};
  }
  if (r->has_action) {
    o->action.present = true;
    snprintf(o->action.action, sizeof o->action.action, "%s", r->action.action);
    o->action.confidence = r->action.confidence;
  }
  if (r->has_vehicle || r->has_damage) {
    o->vehicle.present = true;
    snprintf(o->vehicle.type, sizeof o->vehicle.type, "%s", r->has_vehicle ? r->vehicle.vehicle_type : "");
    o->vehicle.is_commercial = r->has_vehicle && r->vehicle.is_commercial;
    for (int i = 0; r->has_damage && i < r->damage.n_types && i < VIGIL_MAX_DAMAGE; i++) {
      vigil_damage *d = &o->vehicle.damage[o->vehicle.n_damage++];
      snprintf(d->type, sizeof d->type, "%s", r->damage.types[i]);
      d->count = r->damage.type_count[i];
      d->avg_confidence = d->count ? r->damage.type_conf_sum[i] / (float)d->count : 0;
    }
  }
  if (r->has_pet) {
    o->pet.present = true;
    snprintf(o->pet.type, sizeof o->pet.type, "%s", r->pet.pet_type);
    snprintf(o->pet.breed, sizeof o->pet.breed, "%s",
             r->pet.breed[0] ? r->pet.breed : strcmp(r->pet.pet_type, "other") ? "" : r->pet.top_label);
    o->pet.confidence = r->pet.confidence;
    o->pet.is_household = r->pet.is_household;
  }
  if (r->has_depth) {
    o->depth.present = true;
    o->depth.distance_m = r->depth.distance_m;
    snprintf(o->depth.proximity, sizeof o->depth.proximity, "%s", r->depth.proximity);
  }
  if (r->has_weather) {
    o->weather.present = true;
    snprintf(o->weather.label, sizeof o->weather.label, "%s", r->weather.label);
    o->weather.confidence = r->weather.confidence;
  }
}
