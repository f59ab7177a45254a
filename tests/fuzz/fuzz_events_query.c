/* libFuzzer target: the events API's parsers of untrusted input without a
 * server (src/store/events_query.c). The input is a query string
 * ("since=...&limit=..."): it goes to the filter parser as key=value pairs,
 * whole to the time, integer, SSE cursor, path-id and search-limit parsers, and as a PATCH
 * body and a search body to the body parsers. Checks the ranges every accepted value must be in. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/events_query.h"

typedef struct {
  char *keys[16], *vals[16];
  int n;
} query;

static const char *get(void *ud, const char *name) {
  query *q = ud;
  for (int i = 0; i < q->n; i++)
    if (!strcmp(q->keys[i], name)) return q->vals[i];
  return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0;
  char *s = malloc(size + 1);
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = 0;
  double t;
  if (events_parse_time(s, &t) == 0 && !(t >= 0 && t <= 253402300799.0)) abort();
  long v;
  if (events_parse_int(s, -5, 1000, &v) == 0 && (v < -5 || v > 1000)) abort();
  long ev = -1, lv = -1;
  if (events_parse_cursor(s, true, &ev, &lv) == 0 && (ev < 0 || lv < -1)) abort();
  if (events_parse_cursor(s, false, &ev, &lv) == 0 && ev < 0) abort();
  int64_t id;
  if (events_parse_id(s, &id) == 0 && id < 1) abort();
  int reviewed;
  char *notes, msg[160];
  if (events_parse_patch(data, size, &reviewed, &notes, msg, sizeof msg) == 0) {
    if (reviewed < -1 || reviewed > 1 || (reviewed < 0 && !notes)) abort();
    if (notes && strlen(notes) > EVENTS_MAX_NOTES) abort();
    free(notes);
  } else if (notes || !msg[0]) {
    abort();
  }
  char *sq;
  size_t sqlen;
  int lim = 20;
  if (events_parse_search_body(data, size, &sq, &sqlen, &lim, msg, sizeof msg) == 0) {
    if (!sq || strlen(sq) != sqlen || sqlen > EVENTS_MAX_QUERY || lim < 1 || lim > EVENTS_MAX_SEARCH) abort();
    free(sq);
  } else if (sq || !msg[0]) {
    abort();
  }
  lim = 20;
  if (events_parse_search_limit(s, &lim, msg, sizeof msg) == 0 && (lim < 1 || lim > EVENTS_MAX_SEARCH)) abort();
  query q = {0};
  for (char *p = s, *save = NULL, *kv; q.n < 16 && (kv = strtok_r(p, "&", &save)); p = NULL) {
    char *eq = strchr(kv, '=');
    if (!eq) continue;
    *eq = 0;
    q.keys[q.n] = kv;
    q.vals[q.n++] = eq + 1;
  }
  store_filter f;
  if (events_parse_filter(get, &q, &f, msg, sizeof msg) == 0) {
    if (f.limit < 1 || f.limit > 1000 || f.offset < 0 || f.since < 0 || f.until < 0) abort();
    if (f.since > 0 && f.until > 0 && f.until < f.since) abort();
    if (f.level && !vigil_risk_level_valid(f.level)) abort();
    if (f.reviewed < -1 || f.reviewed > 1) abort();
    if (f.rule && (strlen(f.rule) >= VIGIL_RULE_LEN || strspn(f.rule, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(f.rule)))
      abort();
  } else if (!msg[0]) {
    abort();
  }
  free(s);
  return 0;
}
