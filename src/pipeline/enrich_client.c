/* Enrichment over HTTP (libcurl): the CONTRACTS.md /enrich request built from
 * an enrich_request (frame as base64 JPEG), its parts split between the heavy
 * and light services as ENRICHMENT_<MODEL>_SERVICE routes them, each service
 * tried URL by URL (a dead or slow one is skipped after its timeout), and
 * the replies parsed and merged into one enrich_result with a bounded reply
 * size; the parts of a service that no URL answered are null with the reason
 * under errors. */
#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/base64.h"
#include "util/sbuf.h"
#include "vigil/annotate.h"
#include "vigil/enrich_client.h"
#include "vigil/status.h"

struct enrich_client {
  enrich_client_params p;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

enrich_client_params enrich_client_default_params(void) {
  enrich_client_params p;
  memset(&p, 0, sizeof p);
  p.timeout_s = 30;
  p.connect_timeout_s = 5;
  p.max_reply = (size_t)4 << 20;
  p.jpeg_quality = 90;
  return p;
}

static int base_url(char *dst, size_t cap, const char *url, const char *key, char *err, size_t errlen) {
  if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
    return vigil_err(err, errlen, -1, "%s must be an http:// or https:// URL, not '%s'", key, url);
  size_t n = strlen(url);
  while (n > 8 && url[n - 1] == '/') n--;
  if (n >= cap) return vigil_err(err, errlen, -1, "%s is too long", key);
  memcpy(dst, url, n);
  dst[n] = 0;
  return 0;
}

/* A comma-separated list of base URLs, each checked and normalised. */
static int url_list(char *dst, size_t cap, const char *list, const char *key, char *err, size_t errlen) {
  size_t o = 0;
  dst[0] = 0;
  for (const char *s = list; *s;) {
    const char *e = strchr(s, ',');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    while (n && *s == ' ') s++, n--;
    while (n && s[n - 1] == ' ') n--;
    if (n) {
      char one[512], norm[512];
      if (n >= sizeof one) return vigil_err(err, errlen, -1, "%s: a URL is too long", key);
      memcpy(one, s, n);
      one[n] = 0;
      if (base_url(norm, sizeof norm, one, key, err, errlen)) return -1;
      int w = snprintf(dst + o, cap - o, "%s%s", o ? "," : "", norm);
      if (w < 0 || (size_t)w >= cap - o) return vigil_err(err, errlen, -1, "%s is too long", key);
      o += (size_t)w;
    }
    if (!e) break;
    s = e + 1;
  }
  return 0;
}

int enrich_client_params_from_config(enrich_client_params *p, const vigil_config *cfg, char *err, size_t errlen) {
  *p = enrich_client_default_params();
  const char *u = vigil_config_str(cfg, "ENRICHMENT_URL"), *l = vigil_config_str(cfg, "ENRICHMENT_LIGHT_URL");
  const char *t = vigil_config_str(cfg, "ENRICHMENT_TIMEOUT_S");
  if (t && t[0]) {
    char *end;
    double v = strtod(t, &end);
    if (end == t || *end || !(v > 0 && v <= 3600)) return vigil_err(err, errlen, -1, "ENRICHMENT_TIMEOUT_S must be in (0, 3600], not '%s'", t);
    p->timeout_s = v;
  }
  const char *k = vigil_config_str(cfg, "ENRICHMENT_API_KEY");
  if (k && k[0]) {
    if (strlen(k) >= sizeof p->api_key || strpbrk(k, " \t\r\n"))
      return vigil_err(err, errlen, -1, "ENRICHMENT_API_KEY must be at most 256 characters without spaces");
    snprintf(p->api_key, sizeof p->api_key, "%s", k);
  }
  const char *ca = vigil_config_str(cfg, "VIGIL_CA_FILE");
  if (ca && ca[0]) {
    if (strlen(ca) >= sizeof p->ca_file) return vigil_err(err, errlen, -1, "VIGIL_CA_FILE is too long");
    snprintf(p->ca_file, sizeof p->ca_file, "%s", ca);
  }
  if (l && l[0] && url_list(p->light_url, sizeof p->light_url, l, "ENRICHMENT_LIGHT_URL", err, errlen)) return -1;
  if (!u || !u[0]) return 0;
  if (url_list(p->url, sizeof p->url, u, "ENRICHMENT_URL", err, errlen)) return -1;
  return p->url[0] ? 1 : 0;
}

int enrich_client_init(enrich_client **out, enrich_client_params p, char *err, size_t errlen) {
  *out = NULL;
  char tmp[512];
  if (url_list(tmp, sizeof tmp, p.url, "the enrichment URL", err, errlen)) return -1;
  if (!tmp[0]) return vigil_err(err, errlen, -1, "the enrichment URL is empty");
  snprintf(p.url, sizeof p.url, "%s", tmp);
  if (p.light_url[0]) {
    if (url_list(tmp, sizeof tmp, p.light_url, "the light enrichment URL", err, errlen)) return -1;
    snprintf(p.light_url, sizeof p.light_url, "%s", tmp);
  }
  if (!(p.timeout_s > 0) || p.max_reply < 64 || p.jpeg_quality < 1 || p.jpeg_quality > 100)
    return vigil_err(err, errlen, -1, "enrichment client: bad timeout, reply limit or JPEG quality");
  pthread_once(&curl_once, curl_init_once);
  enrich_client *c = calloc(1, sizeof *c);
  if (!c) return vigil_err(err, errlen, -1, "out of memory");
  c->p = p;
  *out = c;
  return 0;
}

void enrich_client_free(enrich_client *c) { free(c); }

/* ---- reply ------------------------------------------------------------------------ */

static void copy_str(char *dst, size_t cap, json_t *v) {
  const char *s = json_string_value(v);
  snprintf(dst, cap, "%s", s ? s : "");
}

static float num(json_t *v) {
  double d = json_number_value(v);
  return isfinite(d) ? (float)d : 0.0f;
}

/* The result holds static strings for a few fields (pose alerts,
 * demographics): intern the known values, drop the rest. */
static const char *intern(const char *s, const char *const *known) {
  for (int i = 0; s && known[i]; i++)
    if (!strcmp(s, known[i])) return known[i];
  return NULL;
}
static const char *const alert_names[] = {"hands_raised", "fighting_stance", "crouching", "lying_down", NULL};
static const char *const age_ranges[] = {"0-12", "13-17", "18-24", "25-35", "36-50", "51-65", "65+", NULL};
static const char *const genders[] = {"male", "female", "unknown", NULL};

static int parse_pose(enrich_result *r, json_t *o, char *err, size_t errlen) {
  json_t *kps = json_object_get(o, "keypoints");
  if (!json_is_array(kps) || json_array_size(kps) != POSE_NKP)
    return vigil_err(err, errlen, -1, "pose.keypoints must be an array of %d keypoints", POSE_NKP);
  for (int i = 0; i < POSE_NKP; i++) {
    json_t *k = json_array_get(kps, (size_t)i);
    if (!json_is_object(k)) return vigil_err(err, errlen, -1, "pose.keypoints[%d] must be an object", i);
    r->pose.kp[i] = (pose_keypoint){num(json_object_get(k, "x")), num(json_object_get(k, "y")),
                                     num(json_object_get(k, "score"))};
  }
  copy_str(r->pose.posture, sizeof r->pose.posture, json_object_get(o, "posture"));
  if (!r->pose.posture[0]) snprintf(r->pose.posture, sizeof r->pose.posture, "unknown");
  r->pose.posture_score = num(json_object_get(o, "posture_confidence"));
  json_t *al = json_object_get(o, "alerts");
  for (size_t i = 0; json_is_array(al) && i < json_array_size(al) && r->pose.n_alerts < POSE_MAX_ALERTS; i++) {
    const char *a = intern(json_string_value(json_array_get(al, i)), alert_names);
    if (a) r->pose.alerts[r->pose.n_alerts++] = a;
  }
  copy_str(r->pose_model, sizeof r->pose_model, json_object_get(o, "model"));
  r->has_pose = true;
  return 0;
}

static void parse_threat(enrich_result *r, json_t *o) {
  r->has_threat = true;
  r->threat.detected = json_is_true(json_object_get(o, "detected"));
  copy_str(r->threat.type, sizeof r->threat.type, json_object_get(o, "threat_type"));
  if (!r->threat.type[0]) snprintf(r->threat.type, sizeof r->threat.type, "none");
  r->threat.confidence = num(json_object_get(o, "confidence"));
  copy_str(r->threat.severity, sizeof r->threat.severity, json_object_get(o, "severity"));
  copy_str(r->threat.label, sizeof r->threat.label, json_object_get(o, "label"));
  json_t *b = json_object_get(o, "bbox");
  if (json_is_array(b) && json_array_size(b) == 4) {
    r->threat.x1 = num(json_array_get(b, 0)), r->threat.y1 = num(json_array_get(b, 1));
    r->threat.x2 = num(json_array_get(b, 2)), r->threat.y2 = num(json_array_get(b, 3));
  }
}

static void parse_demographics(enrich_result *r, json_t *o) {
  r->has_demographics = true;
  r->face_found = true;
  r->demo.age = num(json_object_get(o, "age"));
  r->demo.age_range = intern(json_string_value(json_object_get(o, "age_range")), age_ranges);
  if (!r->demo.age_range) r->demo.age_range = age_bracket(r->demo.age);
  r->demo.age_confidence = num(json_object_get(o, "age_confidence"));
  r->demo.gender = intern(json_string_value(json_object_get(o, "gender")), genders);
  if (!r->demo.gender) r->demo.gender = "unknown";
  r->demo.gender_confidence = num(json_object_get(o, "gender_confidence"));
  copy_str(r->demo_model, sizeof r->demo_model, json_object_get(o, "model"));
  r->demo.model = NULL; /* the name is in demo_model */
  json_t *fb = json_object_get(o, "face_bbox");
  r->face.x1 = num(json_object_get(fb, "x1")), r->face.y1 = num(json_object_get(fb, "y1"));
  r->face.x2 = num(json_object_get(fb, "x2")), r->face.y2 = num(json_object_get(fb, "y2"));
  r->face.score = num(json_object_get(o, "face_confidence"));
}

static void parse_clothing(enrich_result *r, json_t *o) {
  r->has_clothing = true;
  json_t *t = json_object_get(o, "clothing_type");
  copy_str(r->clothing.clothing_type, sizeof r->clothing.clothing_type, t ? t : json_object_get(o, "type"));
  copy_str(r->clothing.color, sizeof r->clothing.color, json_object_get(o, "color"));
  copy_str(r->clothing.style, sizeof r->clothing.style, json_object_get(o, "style"));
  r->clothing.confidence = num(json_object_get(o, "confidence"));
  r->clothing.is_suspicious = json_is_true(json_object_get(o, "is_suspicious"));
  r->clothing.is_service_uniform = json_is_true(json_object_get(o, "is_service_uniform"));
  if (!json_object_get(o, "type") && !t) r->has_clothing = false; /* segformer's items alone */
  json_t *segs = json_object_get(o, "segments"), *s;
  size_t i;
  json_array_foreach(segs, i, s) {
    if (r->n_segments >= SEGFORMER_MAX_ITEMS || !json_is_object(s)) break;
    segformer_item *it = &r->segments[r->n_segments++];
    copy_str(it->item, sizeof it->item, json_object_get(s, "item"));
    copy_str(it->color, sizeof it->color, json_object_get(s, "color"));
    double area = num(json_object_get(s, "area"));
    it->area = area > 0 && area <= 1 ? (float)area : 0; /* a fraction; NaN and nonsense read as 0 */
    json_t *b = json_object_get(s, "bbox");
    it->x1 = num(json_object_get(b, "x1")), it->y1 = num(json_object_get(b, "y1"));
    it->x2 = num(json_object_get(b, "x2")), it->y2 = num(json_object_get(b, "y2"));
  }
}

static void parse_violence(enrich_result *r, json_t *o) {
  r->has_violence = true;
  r->violence.violent = json_is_true(json_object_get(o, "is_violent"));
  r->violence.violence = num(json_object_get(o, "violence_score"));
  copy_str(r->violence.label, sizeof r->violence.label, json_object_get(o, "label"));
}

static int parse_reid(enrich_result *r, json_t *root, json_t *emb, char *err, size_t errlen) {
  if (!json_is_array(emb) || json_array_size(emb) != REID_DIM)
    return vigil_err(err, errlen, -1, "reid_embedding must be an array of %d numbers", REID_DIM);
  for (int i = 0; i < REID_DIM; i++) r->embedding[i] = num(json_array_get(emb, (size_t)i));
  r->has_reid = true;
  const char *pid = json_string_value(json_object_get(root, "person_id"));
  if (pid && pid[0]) {
    r->reid_matched = true;
    snprintf(r->reid.person_id, sizeof r->reid.person_id, "%s", pid);
    /* similarity and is_new sit in person_embeddings[<detection id>] */
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(root, "person_embeddings"), k, v) {
      r->reid.similarity = num(json_object_get(v, "similarity"));
      r->reid.is_new = json_is_true(json_object_get(v, "is_new"));
      break;
    }
  }
  return 0;
}

static void parse_action(enrich_result *r, json_t *o) {
  r->has_action = true;
  copy_str(r->action.action, sizeof r->action.action, json_object_get(o, "action"));
  r->action.confidence = num(json_object_get(o, "confidence"));
  const char *k;
  json_t *v;
  json_object_foreach(json_object_get(o, "action_scores"), k, v) {
    if (r->action.n >= 16) break;
    snprintf(r->action.names[r->action.n], sizeof r->action.names[0], "%s", k);
    r->action.scores[r->action.n++] = num(v);
  }
}

/* vehicle.license_plate: {text, raw_text, confidence, bbox{x1..y2}, known, source} or null */
static void parse_plate(enrich_result *r, json_t *o) {
  r->plate_ran = true;
  json_t *p = json_object_get(o, "license_plate");
  if (!json_is_object(p) || !json_is_string(json_object_get(p, "text"))) return;
  plate_read *pl = &r->plate;
  pl->found = true;
  copy_str(pl->text, sizeof pl->text, json_object_get(p, "text"));
  copy_str(pl->raw, sizeof pl->raw, json_object_get(p, "raw_text"));
  copy_str(pl->source, sizeof pl->source, json_object_get(p, "source"));
  pl->confidence = num(json_object_get(p, "confidence"));
  pl->known = json_is_true(json_object_get(p, "known"));
  json_t *b = json_object_get(p, "bbox");
  pl->x1 = num(json_object_get(b, "x1")), pl->y1 = num(json_object_get(b, "y1"));
  pl->x2 = num(json_object_get(b, "x2")), pl->y2 = num(json_object_get(b, "y2"));
}

static void parse_vehicle(enrich_result *r, json_t *o) {
  if (json_object_get(o, "license_plate")) parse_plate(r, o);
  if (!json_is_string(json_object_get(o, "vehicle_type"))) return;
  const char *t = json_string_value(json_object_get(o, "vehicle_type"));
  vehicle_set_type(&r->vehicle, t ? t : "unknown", num(json_object_get(o, "confidence")));
  r->vehicle.from_detector = !strcmp(json_string_value(json_object_get(o, "source")) ?: "", "detector");
  json_t *top = json_object_get(o, "top_3");
  for (size_t i = 0; json_is_array(top) && i < json_array_size(top) && r->vehicle.n_top < VEHICLE_TOP; i++) {
    json_t *x = json_array_get(top, i);
    copy_str(r->vehicle.top_type[r->vehicle.n_top], sizeof r->vehicle.top_type[0], json_object_get(x, "vehicle_type"));
    r->vehicle.top_score[r->vehicle.n_top++] = num(json_object_get(x, "confidence"));
  }
  r->has_vehicle = true;
}

static void parse_damage(enrich_result *r, json_t *o) {
  damage_result *d = &r->damage;
  json_t *dets = json_object_get(o, "detections");
  for (size_t i = 0; json_is_array(dets) && i < json_array_size(dets) && d->n < DAMAGE_MAX_DETECTIONS; i++) {
    json_t *x = json_array_get(dets, i);
    const char *t = damage_canonical(json_string_value(json_object_get(x, "damage_type")));
    if (!t) continue;
    damage_det *dd = &d->dets[d->n++];
    snprintf(dd->damage_type, sizeof dd->damage_type, "%s", t);
    dd->confidence = num(json_object_get(x, "confidence"));
    json_t *b = json_object_get(x, "bbox");
    dd->x1 = num(json_object_get(b, "x1")), dd->y1 = num(json_object_get(b, "y1"));
    dd->x2 = num(json_object_get(b, "x2")), dd->y2 = num(json_object_get(b, "y2"));
    dd->has_mask = json_is_true(json_object_get(x, "has_mask"));
    dd->mask_area = (int)json_integer_value(json_object_get(x, "mask_area"));
    int k = 0;
    while (k < d->n_types && strcmp(d->types[k], t)) k++;
    if (k == d->n_types) snprintf(d->types[d->n_types++], sizeof d->types[0], "%s", t);
    d->type_count[k]++;
    d->type_conf_sum[k] += dd->confidence;
    d->has_high_security_damage |= !strcmp(t, "glass_shatter") || !strcmp(t, "lamp_broken");
    if (dd->confidence > d->highest_confidence) d->highest_confidence = dd->confidence;
  }
  d->capped = json_is_true(json_object_get(o, "capped"));
  r->has_damage = true;
}

static void parse_pet(enrich_result *r, json_t *o) {
  copy_str(r->pet.pet_type, sizeof r->pet.pet_type, json_object_get(o, "pet_type"));
  copy_str(r->pet.breed, sizeof r->pet.breed, json_object_get(o, "breed"));
  copy_str(r->pet.top_label, sizeof r->pet.top_label, json_object_get(o, "top_label"));
  r->pet.confidence = num(json_object_get(o, "confidence"));
  r->pet.is_household = json_is_true(json_object_get(o, "is_household_pet"));
  r->pet.from_detector = !strcmp(json_string_value(json_object_get(o, "source")) ?: "", "detector");
  r->has_pet = true;
}

/* The depth map itself is not kept (the pipeline uses the distance). */
static void parse_depth(enrich_result *r, json_t *o) {
  r->depth.distance_m = num(json_object_get(o, "estimated_distance_m"));
  r->depth.relative_depth = num(json_object_get(o, "relative_depth"));
  copy_str(r->depth.proximity, sizeof r->depth.proximity, json_object_get(o, "proximity_label"));
  if (!r->depth.proximity[0]) snprintf(r->depth.proximity, sizeof r->depth.proximity, "%s", depth_proximity(r->depth.distance_m));
  r->depth.px_per_m = num(json_object_get(o, "depth_px_per_m"));
  r->has_depth = true;
}

static void parse_weather(enrich_result *r, json_t *o) {
  copy_str(r->weather.label, sizeof r->weather.label, json_object_get(o, "label"));
  r->weather.confidence = num(json_object_get(o, "confidence"));
  r->has_weather = true;
}

int enrich_reply_parse(enrich_result *r, const char *body, size_t len, char *err, size_t errlen) {
  memset(r, 0, sizeof *r);
  json_error_t je;
  json_t *o = json_loadb(body, len, 0, &je);
  if (!o) return vigil_err(err, errlen, -1, "enrichment reply is not JSON (line %d: %s)", je.line, je.text);
  int rc = 0;
  if (!json_is_object(o)) {
    rc = vigil_err(err, errlen, -1, "enrichment reply must be a JSON object");
    goto done;
  }
  /* every part must be present (null when it did not run): a reply without them is not /enrich's */
  static const char *const parts[] = {"pose", "clothing", "demographics", "threat", "reid_embedding", "action", NULL};
  for (int i = 0; parts[i]; i++)
    if (!json_object_get(o, parts[i])) {
      rc = vigil_err(err, errlen, -1, "enrichment reply lacks \"%s\"", parts[i]);
      goto done;
    }
  json_t *v;
  if (json_is_object(v = json_object_get(o, "pose")) && parse_pose(r, v, err, errlen)) {
    rc = -1;
    goto done;
  }
  if (json_is_object(v = json_object_get(o, "threat"))) parse_threat(r, v);
  if (json_is_object(v = json_object_get(o, "demographics"))) parse_demographics(r, v);
  if (json_is_object(v = json_object_get(o, "clothing"))) parse_clothing(r, v);
  if (json_is_object(v = json_object_get(o, "action"))) parse_action(r, v);
  if (json_is_object(v = json_object_get(o, "vehicle"))) parse_vehicle(r, v);
  if (json_is_object(v = json_object_get(o, "vehicle_damage"))) parse_damage(r, v);
  if (json_is_object(v = json_object_get(o, "pet"))) parse_pet(r, v);
  if (json_is_object(v = json_object_get(o, "depth"))) parse_depth(r, v);
  if (json_is_object(v = json_object_get(o, "weather"))) parse_weather(r, v);
  if (json_is_object(v = json_object_get(o, "violence"))) parse_violence(r, v);
  v = json_object_get(o, "reid_embedding");
  if (!json_is_null(v) && parse_reid(r, o, v, err, errlen)) {
    rc = -1;
    goto done;
  }
  json_t *used = json_object_get(o, "models_used");
  for (size_t i = 0; json_is_array(used) && i < json_array_size(used) && r->n_models < ENRICH_MAX_MODELS; i++)
    if (json_is_string(json_array_get(used, i)))
      copy_str(r->models_used[r->n_models++], sizeof r->models_used[0], json_array_get(used, i));
  const char *k;
  json_object_foreach(json_object_get(o, "errors"), k, v) {
    if (r->n_errors >= ENRICH_MAX_ERRORS) break;
    snprintf(r->error_part[r->n_errors], sizeof r->error_part[0], "%s", k);
    copy_str(r->error_reason[r->n_errors++], sizeof r->error_reason[0], v);
  }
  r->inference_ms = num(json_object_get(o, "inference_time_ms"));
done:
  json_decref(o);
  return rc;
}

/* ---- request ----------------------------------------------------------------------- */

static json_t *b64_jpeg(const vigil_image *im, int quality) {
  uint8_t *jpg;
  size_t len;
  if (annotate_encode_jpeg(&jpg, &len, im, quality)) return NULL;
  char *s = malloc(vigil_b64_encoded_len(len) + 1);
  json_t *j = NULL;
  if (s) {
    size_t n = vigil_b64_encode(s, jpg, len, 0);
    j = json_stringn_nocheck(s, n);
  }
  free(s);
  free(jpg);
  return j;
}

/* One POST of payload to base/enrich, its reply parsed into *out. */
static int post_one(enrich_client *c, const char *base, const char *payload, enrich_result *out, char *err,
                    size_t errlen) {
  char url[600];
  snprintf(url, sizeof url, "%s/enrich", base);
  CURL *h = curl_easy_init();
  if (!h) return vigil_err(err, errlen, -1, "curl_easy_init failed");
  sbuf b;
  sbuf_init(&b, c->p.max_reply);
  struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
  hdr = curl_slist_append(hdr, "Expect:");
  if (c->p.api_key[0]) {
    char auth[300];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->p.api_key);
    hdr = curl_slist_append(hdr, auth);
  }
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(payload));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sbuf_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(c->p.timeout_s * 1000));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(c->p.connect_timeout_s * 1000));
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  /* https:// is always verified (certificate and host name) */
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (c->p.ca_file[0]) curl_easy_setopt(h, CURLOPT_CAINFO, c->p.ca_file);
  CURLcode cc = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(h);
  curl_slist_free_all(hdr);
  int rc = 0;
  if (b.full) rc = vigil_err(err, errlen, -1, "%s: reply over %zu bytes", url, c->p.max_reply);
  else if (cc == CURLE_OPERATION_TIMEDOUT) rc = vigil_err(err, errlen, -1, "%s: timed out after %.1f s", url, c->p.timeout_s);
  else if (cc != CURLE_OK) rc = vigil_err(err, errlen, -1, "%s: %s", url, curl_easy_strerror(cc));
  else if (status != 200) {
    json_t *j = b.s ? json_loadb(b.s, b.len, 0, NULL) : NULL;
    const char *detail = json_string_value(json_object_get(j, "detail"));
    rc = vigil_err(err, errlen, -1, "%s: HTTP %ld%s%s", url, status, detail ? ": " : "", detail ? detail : "");
    json_decref(j);
  } else if (enrich_reply_parse(out, b.s ? b.s : "", b.len, err, errlen)) {
    rc = -1;
  }
  sbuf_free(&b);
  return rc;
}

/* One service's share of a request: its parts, tried on each of its URLs in
 * turn until one answers. */
typedef struct {
  enrich_client *c;
  const char *name, *urls;
  char *payload;
  unsigned parts;
  enrich_result *res;
  int rc;
  char err[512];
} svc_call;

static void *svc_run(void *arg) {
  svc_call *s = arg;
  s->rc = -1;
  snprintf(s->err, sizeof s->err, "no %s URL", s->name);
  for (const char *u = s->urls; u && *u;) {
    const char *e = strchr(u, ',');
    char base[512];
    snprintf(base, sizeof base, "%.*s", (int)(e ? (size_t)(e - u) : strlen(u)), u);
    s->rc = post_one(s->c, base, s->payload, s->res, s->err, sizeof s->err);
    if (s->rc == 0) break;
    if (!e) break;
    u = e + 1;
  }
  return NULL;
}

static void add_model(enrich_result *d, const char *m) {
  for (int i = 0; i < d->n_models; i++)
    if (!strcmp(d->models_used[i], m)) return;
  if (d->n_models < ENRICH_MAX_MODELS) snprintf(d->models_used[d->n_models++], sizeof d->models_used[0], "%s", m);
}

static void add_error(enrich_result *d, const char *part, const char *reason) {
  if (d->n_errors >= ENRICH_MAX_ERRORS) return;
  snprintf(d->error_part[d->n_errors], sizeof d->error_part[0], "%s", part);
  snprintf(d->error_reason[d->n_errors++], sizeof d->error_reason[0], "%s", reason);
}

/* Copies the parts that ran in src into dst (each part comes from one service). */
static void merge(enrich_result *d, const enrich_result *s) {
  if (s->has_threat) d->has_threat = true, d->threat = s->threat;
  if (s->has_pose) d->has_pose = true, d->pose = s->pose, memcpy(d->pose_model, s->pose_model, sizeof d->pose_model);
  if (s->has_demographics) {
    d->has_demographics = d->face_found = true;
    d->demo = s->demo, d->face = s->face;
    memcpy(d->demo_model, s->demo_model, sizeof d->demo_model);
  }
  if (s->has_clothing) d->has_clothing = true, d->clothing = s->clothing;
  if (s->n_segments) d->n_segments = s->n_segments, memcpy(d->segments, s->segments, sizeof d->segments);
  if (s->has_violence) d->has_violence = true, d->violence = s->violence;
  if (s->has_reid) {
    d->has_reid = true, d->reid_matched = s->reid_matched, d->reid = s->reid;
    memcpy(d->embedding, s->embedding, sizeof d->embedding);
  }
  if (s->has_action) d->has_action = true, d->action = s->action;
  if (s->has_vehicle) d->has_vehicle = true, d->vehicle = s->vehicle;
  if (s->has_damage) d->has_damage = true, d->damage = s->damage;
  if (s->has_pet) d->has_pet = true, d->pet = s->pet;
  if (s->has_depth) d->has_depth = true, d->depth = s->depth;
  if (s->has_weather) d->has_weather = true, d->weather = s->weather;
  if (s->plate_ran) d->plate_ran = true, d->plate = s->plate;
  for (int i = 0; i < s->n_models; i++) add_model(d, s->models_used[i]);
  for (int i = 0; i < s->n_errors; i++) add_error(d, s->error_part[i], s->error_reason[i]);
  if (s->inference_ms > d->inference_ms) d->inference_ms = s->inference_ms;
}

int enrich_client_run(enrich_client *c, enrich_result *out, const enrich_request *rq, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (!rq->frame || !rq->frame->data) return vigil_err(err, errlen, -1, "enrichment request without a frame");
  if (!(rq->x2 > rq->x1 && rq->y2 > rq->y1)) return vigil_err(err, errlen, -1, "empty detection box");
  /* the parts by service (ENRICHMENT_<MODEL>_SERVICE); all heavy without a light URL */
  unsigned parts = rq->parts ? rq->parts : enrich_default_parts(rq->kind, &rq->opt, rq->nframes);
  unsigned mask[2] = {0, 0}; /* heavy, light */
  for (unsigned bit = 1; bit && bit <= parts; bit <<= 1)
    if (parts & bit) mask[c->p.light_url[0] && enrich_part_service(bit) == ZOO_SVC_LIGHT] |= bit;
  for (int k = 0; k < 2; k++) /* action runs only on a suspicious pose: its service needs the pose too */
    if ((mask[k] & ENRICH_PART_ACTION) && !(mask[k] & ENRICH_PART_POSE)) mask[k] |= ENRICH_PART_POSE;
  json_t *req = json_object(), *bbox = json_object(), *opt = json_object();
  json_t *img = b64_jpeg(rq->frame, c->p.jpeg_quality);
  if (!req || !bbox || !opt || !img) {
    json_decref(req), json_decref(bbox), json_decref(opt), json_decref(img);
    return vigil_err(err, errlen, -1, "cannot encode the frame");
  }
  json_object_set_new(req, "image", img);
  json_object_set_new(req, "detection_type", json_string(vigil_kind_name(rq->kind)));
  json_object_set_new(bbox, "x1", json_real(rq->x1));
  json_object_set_new(bbox, "y1", json_real(rq->y1));
  json_object_set_new(bbox, "x2", json_real(rq->x2));
  json_object_set_new(bbox, "y2", json_real(rq->y2));
  json_object_set_new(req, "bbox", bbox);
  json_object_set_new(opt, "include_pose", json_boolean(rq->opt.include_pose));
  json_object_set_new(opt, "include_depth", json_boolean(rq->opt.include_depth));
  json_object_set_new(opt, "action_recognition", json_boolean(rq->opt.action_recognition));
  json_object_set_new(opt, "include_weather", json_boolean(rq->opt.include_weather));
  json_object_set_new(opt, "include_violence", json_boolean(rq->opt.include_violence));
  json_object_set_new(req, "options", opt);
  if (rq->nframes > 0 && rq->frames) {
    json_t *fr = json_array();
    for (int i = 0; i < rq->nframes; i++) json_array_append_new(fr, b64_jpeg(rq->frames[i], c->p.jpeg_quality));
    json_object_set_new(req, "frames", fr);
  }
  if (rq->detection_id) json_object_set_new(req, "detection_id", json_string(rq->detection_id));
  if (rq->camera_id) json_object_set_new(req, "camera_id", json_string(rq->camera_id));
  if (rq->ts > 0) json_object_set_new(req, "timestamp", json_real(rq->ts));
  if (rq->det_class && rq->det_class[0]) {
    json_object_set_new(req, "detection_class", json_string(rq->det_class));
    json_object_set_new(req, "detection_confidence", json_real(rq->det_score));
  }
  if (rq->timezone && rq->timezone[0]) json_object_set_new(req, "timezone", json_string(rq->timezone));
  if (rq->depth_px_per_m > 0) json_object_set_new(req, "depth_px_per_m", json_real(rq->depth_px_per_m));
  svc_call calls[2];
  memset(calls, 0, sizeof calls);
  int rc = 0;
  for (int k = 0; k < 2; k++) {
    calls[k] = (svc_call){.c = c, .name = k ? "light" : "heavy", .urls = k ? c->p.light_url : c->p.url,
                          .parts = mask[k], .rc = -1};
    if (!mask[k]) continue;
    json_t *pa = json_array();
    for (unsigned bit = 1; bit && bit <= mask[k]; bit <<= 1)
      if (mask[k] & bit) json_array_append_new(pa, json_string(enrich_part_name(bit)));
    json_object_set_new(req, "parts", pa);
    calls[k].payload = json_dumps(req, JSON_COMPACT);
    calls[k].res = malloc(sizeof *calls[k].res);
    if (!calls[k].payload || !calls[k].res) rc = vigil_err(err, errlen, -1, "out of memory");
  }
  json_decref(req);
  /* both services at once: a slow one costs its timeout, not the other's reply */
  pthread_t th;
  bool threaded = false;
  if (!rc && mask[0] && mask[1]) threaded = pthread_create(&th, NULL, svc_run, &calls[1]) == 0;
  if (!rc && mask[0]) svc_run(&calls[0]);
  if (threaded) pthread_join(th, NULL);
  else if (!rc && mask[1]) svc_run(&calls[1]);
  int answered = 0;
  for (int k = 0; !rc && k < 2; k++) {
    if (!mask[k]) continue;
    if (calls[k].rc == 0) {
      merge(out, calls[k].res);
      answered++;
      continue;
    }
    for (unsigned bit = 1; bit && bit <= mask[k]; bit <<= 1) /* its parts stay null, with the reason */
      if (mask[k] & bit) {
        char why[256];
        snprintf(why, sizeof why, "%s service unavailable: %.200s", calls[k].name, calls[k].err);
        add_error(out, enrich_part_name(bit), why);
      }
    vigil_err(err, errlen, -1, "%s", calls[k].err);
  }
  if (!rc && !answered) rc = -1; /* err holds the last service's reason */
  for (int k = 0; k < 2; k++) {
    free(calls[k].payload);
    free(calls[k].res);
  }
  return rc;
}

int enrich_client_fn(void *ud, enrich_result *out, const enrich_request *rq, char *err, size_t errlen) {
  return enrich_client_run(ud, out, rq, err, errlen);
}
