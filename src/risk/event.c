/* Lifetime helpers of the pipeline records (vigil/event.h): batches that own
 * their detection arrays, events that own their strings, risk level bands. */
#include "vigil/event.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void vigil_strlcpy(char *dst, const char *src, size_t n) {
  if (!n) return;
  if (!src) src = "";
  size_t l = strnlen(src, n - 1);
  memcpy(dst, src, l);
  dst[l] = '\0';
}

void vigil_batch_init(vigil_batch *b, const char *camera_id) {
  memset(b, 0, sizeof *b);
  vigil_strlcpy(b->camera_id, camera_id, sizeof b->camera_id);
  b->local_hour = -1;
}

void vigil_batch_free(vigil_batch *b) {
  if (!b) return;
  free(b->dets);
  free(b->enr);
  b->dets = NULL;
  b->enr = NULL;
  b->n = b->cap = 0;
}

int vigil_batch_add(vigil_batch *b, const vigil_detection *d, const vigil_enrichment *e) {
  if (b->n == b->cap) {
    size_t nc = b->cap ? b->cap * 2 : 16;
    vigil_detection *nd = realloc(b->dets, nc * sizeof *nd);
    if (!nd) return -ENOMEM;
    b->dets = nd;
    vigil_enrichment *ne = realloc(b->enr, nc * sizeof *ne);
    if (!ne) return -ENOMEM;
    b->enr = ne;
    b->cap = nc;
  }
  b->dets[b->n] = *d;
  if (e) {
    b->enr[b->n] = *e;
  } else {
    memset(&b->enr[b->n], 0, sizeof b->enr[b->n]);
  }
  vigil_strlcpy(b->enr[b->n].detection_id, d->id, sizeof b->enr[b->n].detection_id);
  b->n++;
  return 0;
}

void vigil_batch_add_zone(vigil_batch *b, const char *zone) {
  if (!zone || !*zone) return;
  for (int i = 0; i < b->n_zones; i++)
    if (!strcmp(b->zones[i], zone)) return;
  if (b->n_zones >= VIGIL_MAX_ZONES) return;
  vigil_strlcpy(b->zones[b->n_zones++], zone, VIGIL_NAME_LEN);
}

void vigil_batch_mark_entrance(vigil_batch *b, const char *zone) {
  for (int i = 0; zone && i < b->n_zones; i++)
    if (!strcmp(b->zones[i], zone)) b->zone_entrance[i] = true;
}

void vigil_event_init(vigil_event *ev) {
  memset(ev, 0, sizeof *ev);
  vigil_strlcpy(ev->risk_level, "low", sizeof ev->risk_level);
}

void vigil_event_free(vigil_event *ev) {
  if (!ev) return;
  free(ev->summary);
  free(ev->reasoning);
  free(ev->detection_ids);
  free(ev->notes);
  free(ev->snapshot_path);
  vigil_event_init(ev);
}

int vigil_event_from_batch(vigil_event *ev, const vigil_batch *b) {
  vigil_strlcpy(ev->camera_id, b->camera_id, sizeof ev->camera_id);
  ev->window_start = b->window_start;
  ev->window_end = b->window_end;
  ev->fast_path = b->fast_path;
  free(ev->detection_ids);
  ev->detection_ids = NULL;
  ev->n_detection_ids = 0;
  if (b->n) {
    ev->detection_ids = malloc(b->n * sizeof *ev->detection_ids);
    if (!ev->detection_ids) return -ENOMEM;
    for (size_t i = 0; i < b->n; i++)
      vigil_strlcpy(ev->detection_ids[i], b->dets[i].id, VIGIL_ID_LEN);
    ev->n_detection_ids = b->n;
  }
  ev->n_plates = 0;
  for (size_t i = 0; i < b->n; i++) {
    const vigil_plate *pl = &b->enr[i].plate;
    if (!pl->present || !pl->text[0]) continue;
    bool seen = false;
    for (int k = 0; k < ev->n_plates; k++) seen |= !strcmp(ev->plates[k], pl->text);
    if (!seen && ev->n_plates < VIGIL_MAX_PLATES) vigil_strlcpy(ev->plates[ev->n_plates++], pl->text, 16);
  }
  ev->scene = b->scene;
  free(ev->snapshot_path);
  ev->snapshot_path = NULL;
  if (b->snapshot_path[0] && !(ev->snapshot_path = strdup(b->snapshot_path))) return -ENOMEM;
  return 0;
}

const char *vigil_risk_level(int score) {
  if (score >= 85) return "critical";
  if (score >= 60) return "high";
  if (score >= 30) return "medium";
  return "low";
}

bool vigil_risk_level_valid(const char *level) {
  static const char *levels[] = {"low", "medium", "high", "critical"};
  if (!level) return false;
  for (int i = 0; i < 4; i++)
    if (!strcmp(level, levels[i])) return true;
  return false;
}
