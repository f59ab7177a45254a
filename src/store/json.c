/* JSON forms of the pipeline records (event, detection, enrichment), used by
 * the events API and for the enrichment_results column. */
#include <math.h>
#include <stdio.h>
#include <time.h>

#include "store/store_int.h"
#include "vigil/store.h"
#include "vigil/store_json.h"

static json_t *iso_time(double t) {
  if (!(t > 0) || !isfinite(t) || t > 1e11) return json_null();
  time_t s = (time_t)t;
  int ms = (int)((t - (double)s) * 1000.0);
  if (ms < 0) ms = 0;
  if (ms > 999) ms = 999;
  struct tm tm;
  gmtime_r(&s, &tm);
  char buf[40], out[48];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, sizeof out, "%s.%03dZ", buf, ms);
  return json_string(out);
}

static json_t *bbox(const vigil_bbox *b) {
  return json_pack("{s:f,s:f,s:f,s:f}", "x1", (double)b->x1, "y1", (double)b->y1, "x2", (double)b->x2, "y2",
                   (double)b->y2);
}

/* jansson rejects invalid UTF-8; labels come from models and cameras, so
 * fall back to an empty string rather than dropping the record. */
static json_t *str(const char *s) {
  json_t *j = json_string(s ? s : "");
  return j ? j : json_string("");
}

/* The first n strings of a char[][stride] table, as a JSON array. */
static json_t *str_array(const char *first, size_t stride, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++) json_array_append_new(a, str(first + i * stride));
  return a;
}

/* The filled rows of a fixed table of max rows that claims n. */
static size_t filled(int n, int max) { return n <= 0 ? 0 : (size_t)(n < max ? n : max); }

json_t *vigil_detection_to_json(const vigil_detection *d) {
  /* has_snapshot: the tracked object's best sighting, GET /detections/{id}/snapshot */
  return json_pack("{s:o,s:o,s:o,s:f,s:o,s:o,s:b}", "id", str(d->id), "camera_id", str(d->camera_id), "class",
                   str(d->cls), "confidence", d->confidence, "bbox", bbox(&d->bbox), "timestamp", iso_time(d->ts),
                   "has_snapshot", d->snapshot_path[0] != 0);
}

/* key: the object packed from the rest when the part is present, else null
 * (nothing is packed for an absent part). */
#define SET_PART(j, key, present, ...) json_object_set_new(j, key, (present) ? json_pack(__VA_ARGS__) : json_null())

json_t *vigil_enrichment_to_json(const vigil_enrichment *e) {
  json_t *j = json_object();
  json_object_set_new(j, "detection_id", str(e->detection_id));
  SET_PART(j, "threat", e->threat.present, "{s:o,s:f,s:o,s:o}", "threat_type", str(e->threat.type), "confidence",
           (double)e->threat.confidence, "severity", str(e->threat.severity), "bbox", bbox(&e->threat.bbox));
  SET_PART(j, "pose", e->pose.present, "{s:o,s:o}", "posture", str(e->pose.posture), "alerts",
           str_array(e->pose.alerts[0], sizeof e->pose.alerts[0], filled(e->pose.n_alerts, VIGIL_MAX_ALERTS)));
  SET_PART(j, "clothing", e->clothing.present, "{s:o,s:o,s:b,s:b,s:o}", "type", str(e->clothing.type), "color",
           str(e->clothing.color), "is_suspicious", e->clothing.is_suspicious, "is_service_uniform",
           e->clothing.is_service_uniform, "items", str(e->clothing.items));
  SET_PART(j, "demographics", e->demographics.present, "{s:o,s:o,s:f}", "age_range", str(e->demographics.age_range),
           "gender", str(e->demographics.gender), "confidence", (double)e->demographics.confidence);
  SET_PART(j, "reid", e->reid.present, "{s:o,s:o,s:o,s:o}", "person_id", str(e->reid.person_id), "first_seen",
           iso_time(e->reid.first_seen), "last_seen", iso_time(e->reid.last_seen), "cameras",
           str_array(e->reid.cameras[0], sizeof e->reid.cameras[0], filled(e->reid.n_cameras, VIGIL_MAX_REID_CAMERAS)));
  if (e->vehicle.present) {
    json_t *dm = json_array();
    int total = 0;
    for (int i = 0; i < e->vehicle.n_damage && i < VIGIL_MAX_DAMAGE; i++) {
      json_array_append_new(dm, json_pack("{s:o,s:i,s:f}", "type", str(e->vehicle.damage[i].type), "count",
                                          e->vehicle.damage[i].count, "avg_confidence",
                                          (double)e->vehicle.damage[i].avg_confidence));
      total += e->vehicle.damage[i].count;
    }
    json_object_set_new(j, "vehicle",
                        json_pack("{s:o,s:b,s:o,s:i}", "vehicle_type", str(e->vehicle.type), "is_commercial",
                                  e->vehicle.is_commercial, "damage", dm, "total_damage_count", total));
  } else {
    json_object_set_new(j, "vehicle", json_null());
  }
  SET_PART(j, "pet", e->pet.present, "{s:o,s:o,s:f,s:b}", "type", str(e->pet.type), "breed", str(e->pet.breed),
           "confidence", (double)e->pet.confidence, "is_household_pet", e->pet.is_household);
  SET_PART(j, "depth", e->depth.present, "{s:f,s:o}", "distance_m", (double)e->depth.distance_m, "proximity_label",
           str(e->depth.proximity));
  SET_PART(j, "weather", e->weather.present, "{s:o,s:f}", "label", str(e->weather.label), "confidence",
           (double)e->weather.confidence);
  SET_PART(j, "violence", e->violence.present, "{s:b,s:f}", "is_violent", e->violence.violent, "confidence",
           (double)e->violence.confidence);
  SET_PART(j, "action", e->action.present, "{s:o,s:f}", "action", str(e->action.action), "confidence",
           (double)e->action.confidence);
  SET_PART(j, "license_plate", e->plate.present, "{s:o,s:o,s:f,s:i,s:b,s:o}", "text", str(e->plate.text), "raw_text",
           str(e->plate.raw), "confidence", (double)e->plate.confidence, "votes", e->plate.votes, "known",
           e->plate.known, "bbox", bbox(&e->plate.bbox));
  SET_PART(j, "face", e->face.present, "{s:b,s:o}", "known", e->face.known, "name", str(e->face.name));
  return j;
}

/* The caption and CLIP anomaly of an event; null when no scene model ran. */
json_t *vigil_scene_to_json(const vigil_scene *sc) {
  if (!sc->has_caption && !sc->has_anomaly) return json_null();
  json_t *j = json_object();
  json_object_set_new(j, "caption", sc->has_caption ? str(sc->caption) : json_null());
  if (sc->has_anomaly) {
    json_object_set_new(j, "anomaly_score", json_real(round(sc->anomaly_score * 1e4) / 1e4));
    json_object_set_new(j, "similarity_to_baseline",
                        isfinite(sc->similarity) ? json_real(round(sc->similarity * 1e4) / 1e4) : json_null());
    json_object_set_new(j, "baseline_warm", json_boolean(sc->baseline_warm));
    json_object_set_new(j, "baseline_samples", json_integer(sc->baseline_samples));
    json_object_set_new(j, "is_anomaly", json_boolean(sc->is_anomaly));
  } else {
    json_object_set_new(j, "anomaly_score", json_null());
  }
  return j;
}

json_t *vigil_event_to_json(const vigil_event *ev) {
  json_t *ids = ev->n_detection_ids ? str_array(ev->detection_ids[0], sizeof ev->detection_ids[0], ev->n_detection_ids)
                                    : json_array();
  return json_pack("{s:I,s:o,s:i,s:o,s:o,s:o,s:o,s:o,s:o,s:b,s:o,s:b,s:o,s:b,s:o,s:o,s:o,s:o}", "id",
                   (json_int_t)ev->id, "camera_id", str(ev->camera_id), "risk_score", ev->risk_score, "risk_level",
                   str(ev->risk_level), "summary", str(ev->summary), "reasoning", str(ev->reasoning), "detection_ids",
                   ids, "window_start", iso_time(ev->window_start), "window_end", iso_time(ev->window_end),
                   "fast_path", ev->fast_path, "scorer", str(ev->scorer), "reviewed", ev->reviewed, "notes",
                   ev->notes ? str(ev->notes) : json_null(), "has_snapshot", ev->snapshot_path && ev->snapshot_path[0],
                   "plates", str_array(ev->plates[0], sizeof ev->plates[0], filled(ev->n_plates, VIGIL_MAX_PLATES)),
                   "rules", str_array(ev->rules[0], sizeof ev->rules[0], filled(ev->n_rules, VIGIL_MAX_RULES)),
                   "created_at", iso_time(ev->created_at), "scene", vigil_scene_to_json(&ev->scene));
}

char *store__enrichment_text(const vigil_enrichment *e) {
  json_t *j = vigil_enrichment_to_json(e);
  char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  return txt;
}
