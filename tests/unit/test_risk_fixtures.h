/* Batches used by the risk, rules, LLM and store tests. Header-only. */
#ifndef VIGIL_TEST_RISK_FIXTURES_H
#define VIGIL_TEST_RISK_FIXTURES_H

#include <stdio.h>
#include <string.h>

#include "vigil/event.h"

static inline vigil_detection fx_det(const char *cam, const char *id, const char *cls, float conf, double ts) {
  vigil_detection d;
  memset(&d, 0, sizeof d);
  vigil_strlcpy(d.id, id, sizeof d.id);
  vigil_strlcpy(d.camera_id, cam, sizeof d.camera_id);
  vigil_strlcpy(d.cls, cls, sizeof d.cls);
  d.confidence = conf;
  d.bbox = (vigil_bbox){10, 20, 110, 220};
  d.ts = ts;
  return d;
}

static inline vigil_enrichment fx_none(void) {
  vigil_enrichment e;
  memset(&e, 0, sizeof e);
  return e;
}

/* An empty batch at a given local hour; window 1700000000 .. +90 s. */
static inline void fx_batch(vigil_batch *b, const char *cam, int hour) {
  vigil_batch_init(b, cam);
  b->window_start = 1700000000.0;
  b->window_end = 1700000090.0;
  b->local_hour = hour;
  b->local_minute = 15;
}

static inline void fx_add(vigil_batch *b, const char *cls, float conf, const vigil_enrichment *e) {
  char id[64];
  snprintf(id, sizeof id, "%.40s-d%zu", b->camera_id, b->n);
  vigil_detection d = fx_det(b->camera_id, id, cls, conf, b->window_start + (double)b->n);
  vigil_batch_add(b, &d, e);
}

/* A vehicle whose plate was read (normalised text). */
static inline vigil_enrichment fx_plate(const char *text, bool known) {
  vigil_enrichment e = fx_none();
  e.plate.present = true;
  vigil_strlcpy(e.plate.text, text, sizeof e.plate.text);
  vigil_strlcpy(e.plate.raw, text, sizeof e.plate.raw);
  e.plate.confidence = 0.93f;
  e.plate.votes = 3;
  e.plate.known = known;
  e.plate.bbox = (vigil_bbox){10, 20, 90, 40};
  return e;
}

static inline vigil_enrichment fx_threat(const char *type, float conf, const char *sev) {
  vigil_enrichment e = fx_none();
  e.threat.present = true;
  vigil_strlcpy(e.threat.type, type, sizeof e.threat.type);
  e.threat.confidence = conf;
  vigil_strlcpy(e.threat.severity, sev, sizeof e.threat.severity);
  return e;
}

static inline vigil_enrichment fx_damage(int n, const char *const *types, const int *counts, const float *confs) {
  vigil_enrichment e = fx_none();
  e.vehicle.present = true;
  vigil_strlcpy(e.vehicle.type, "car", sizeof e.vehicle.type);
  e.vehicle.n_damage = n;
  for (int i = 0; i < n; i++) {
    vigil_strlcpy(e.vehicle.damage[i].type, types[i], sizeof e.vehicle.damage[i].type);
    e.vehicle.damage[i].count = counts[i];
    e.vehicle.damage[i].avg_confidence = confs[i];
  }
  return e;
}

#endif
