/* Strict parsers of the events API's query values, path id and PATCH body
 * (see events_query.h). Strict on purpose: strtod would take "0x10", "1e23",
 * " 5", "inf"; strptime and sscanf("%2d") take one-digit fields and stop
 * anywhere; a value the API half-understood is worse than a 400. */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/events_query.h"
#include "vigil/risk.h"

static int say(char *msg, size_t msglen, const char *text) {
  if (msg && msglen) snprintf(msg, msglen, "%s", text);
  return -1;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Exactly n digits at s; their value. */
static bool digits(const char *s, int n, int *v) {
  int x = 0;
  for (int i = 0; i < n; i++) {
    if (!is_digit(s[i])) return false;
    x = x * 10 + (s[i] - '0');
  }
  *v = x;
  return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's civil algorithm). */
static long long days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  long long era = (y >= 0 ? y : y - 399) / 400;
  long long yoe = y - era * 400;
  long long doy = (153LL * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m) {
  static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : dm[m - 1];
}

#define MAX_EPOCH 253402300799.0 /* 9999-12-31T23:59:59Z */

/* Digits, then optionally '.' and at least one digit; nothing else. */
static int parse_epoch(const char *s, double *out) {
  const char *p = s;
  int n = 0;
  while (is_digit(*p)) p++, n++;
  if (!n || n > 12) return -1;
  if (*p == '.') {
    p++;
    int f = 0;
    while (is_digit(*p)) p++, f++;
    if (!f || f > 9) return -1;
  }
  if (*p) return -1;
  double v = strtod(s, NULL); /* only digits and one '.' here: no hex, exponent or locale surprise */
  if (!(v >= 0 && v <= MAX_EPOCH)) return -1;
  *out = v;
  return 0;
}

int events_parse_time(const char *s, double *out) {
  if (!s || !*s) return -1;
  if (strlen(s) > 64) return -1;
  if (!parse_epoch(s, out)) return 0;
  int y, mo, d, h = 0, mi = 0, sec = 0;
  const char *p = s;
  if (!digits(p, 4, &y) || p[4] != '-' || !digits(p + 5, 2, &mo) || p[7] != '-' || !digits(p + 8, 2, &d)) return -1;
  p += 10;
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) return -1;
  double frac = 0;
  long off = 0;
  if (*p == 'T' || *p == 't') {
    p++;
    if (!digits(p, 2, &h) || p[2] != ':' || !digits(p + 3, 2, &mi) || p[5] != ':' || !digits(p + 6, 2, &sec)) return -1;
    p += 8;
    if (h > 23 || mi > 59 || sec > 59) return -1;
    if (*p == '.') {
      double scale = 0.1;
      int f = 0;
      for (p++; is_digit(*p); p++, f++) {
        if (f < 9) frac += (*p - '0') * scale, scale /= 10;
      }
      if (!f || f > 9) return -1;
    }
    if (*p == 'Z' || *p == 'z') {
      p++;
    } else if (*p == '+' || *p == '-') {
      int oh, om;
      if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 || om > 59) return -1;
      off = (oh * 3600L + om * 60L) * (*p == '+' ? 1 : -1);
      p += 6;
    }
  }
  if (*p) return -1;
  double t = (double)(days_from_civil(y, mo, d) * 86400LL + h * 3600LL + mi * 60LL + sec) - (double)off + frac;
  if (!(t >= 0 && t <= MAX_EPOCH)) return -1;
  *out = t;
  return 0;
}

int events_parse_int(const char *s, long lo, long hi, long *out) {
  if (!s || !*s) return -1;
  const char *p = s;
  bool neg = *p == '-';
  if (neg) p++;
  if (!*p || strlen(p) > 18) return -1;
  long v = 0;
  for (; *p; p++) {
    if (!is_digit(*p)) return -1;
    v = v * 10 + (*p - '0'); /* at most 18 digits: no overflow */
  }
  if (neg) v = -v;
  if (v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

int events_parse_id(const char *path_param, int64_t *id) {
  if (!path_param) return -1;
  char buf[32];
  const char *slash = strchr(path_param, '/');
  size_t n = slash ? (size_t)(slash - path_param) : strlen(path_param);
  if (n == 0 || n >= sizeof buf) return -1;
  memcpy(buf, path_param, n);
  buf[n] = '\0';
  if (buf[0] == '-') return -1;
  long v;
  if (events_parse_int(buf, 1, 0x7fffffffffffL, &v)) return -1;
  *id = v;
  return 0;
}

static int parse_bool(const char *s, int *out) {
  if (!strcasecmp(s, "true") || !strcmp(s, "1")) return *out = 1, 0;
  if (!strcasecmp(s, "false") || !strcmp(s, "0")) return *out = 0, 0;
  return -1;
}

int events_parse_cursor(const char *v, bool live, long *after, long *live_after) {
  const char *colon = live ? strchr(v, ':') : NULL;
  if (!colon) return events_parse_int(v, 0, 0x7fffffffffffL, after);
  char a[24];
  size_t k = (size_t)(colon - v);
  if (k == 0 || k >= sizeof a) return -1;
  memcpy(a, v, k);
  a[k] = '\0';
  if (events_parse_int(a, 0, 0x7fffffffffffL, after)) return -1;
  return events_parse_int(colon + 1, 0, 0x7fffffffffffL, live_after);
}

int events_parse_filter(const char *(*get)(void *ud, const char *name), void *ud, store_filter *f, char *msg,
                        size_t msglen) {
  *f = store_default_filter();
  const char *v;
  long n;
  f->camera_id = get(ud, "camera");
  if (!f->camera_id) f->camera_id = get(ud, "camera_id");
  f->level = get(ud, "level");
  if (!f->level) f->level = get(ud, "risk_level");
  if (f->level && !vigil_risk_level_valid(f->level)) return say(msg, msglen, "level must be low, medium, high or critical");
  if ((v = get(ud, "since")) && events_parse_time(v, &f->since))
    return say(msg, msglen, "since must be unix seconds or ISO 8601 (2026-01-01T00:00:00Z)");
  if ((v = get(ud, "until")) && events_parse_time(v, &f->until))
    return say(msg, msglen, "until must be unix seconds or ISO 8601 (2026-01-01T00:00:00Z)");
  if (f->since > 0 && f->until > 0 && f->until < f->since) return say(msg, msglen, "until is before since");
  if ((v = get(ud, "reviewed")) && parse_bool(v, &f->reviewed)) return say(msg, msglen, "reviewed must be true or false");
  if ((v = get(ud, "rule"))) {
    size_t nr;
    const risk_rule *rules = risk_rules_table(&nr);
    size_t i = 0;
    while (i < nr && strcmp(rules[i].id, v)) i++;
    if (i == nr) return say(msg, msglen, "rule must be the id of a risk rule (docs/risk.md), e.g. weapon_knife");
    f->rule = rules[i].id;
  }
  if ((v = get(ud, "limit"))) {
    if (events_parse_int(v, 1, 1000, &n)) return say(msg, msglen, "limit must be an integer 1..1000");
    f->limit = (int)n;
  }
  if ((v = get(ud, "offset"))) {
    if (events_parse_int(v, 0, 1000000000, &n)) return say(msg, msglen, "offset must be an integer >= 0");
    f->offset = (int)n;
  }
  return 0;
}

/* A text field's destination: a malloc'ed copy in *s (NULL while absent),
 * its length in *len (when len is not NULL), at most max bytes. */
typedef struct {
  char **s;
  size_t *len;
  size_t max;
} text_out;

static text_out text_out_init(char **s, size_t *len, size_t max) {
  *s = NULL;
  if (len) *len = 0;
  return (text_out){s, len, max};
}

static void text_out_reset(text_out *t) {
  free(*t->s);
  *t->s = NULL;
  if (t->len) *t->len = 0;
}

/* A field of a small JSON body: its name, and what takes its value into out
 * (0, or -1 with msg naming the field). */
typedef struct {
  const char *name;
  int (*take)(json_t *val, const char *name, void *out, char *msg, size_t msglen);
  void *out;
} body_field;

static int take_bool(json_t *val, const char *name, void *out, char *msg, size_t msglen) {
  if (!json_is_boolean(val)) {
    if (msg && msglen) snprintf(msg, msglen, "%s must be true or false", name);
    return -1;
  }
  *(int *)out = json_is_true(val);
  return 0;
}

/* A JSON string of at most t->max bytes and no NUL (into a text_out). */
static int take_text(json_t *val, const char *name, void *out, char *msg, size_t msglen) {
  text_out *t = out;
  size_t n = json_is_string(val) ? json_string_length(val) : 0;
  const char *s = json_is_string(val) ? json_string_value(val) : NULL;
  if (!s || n > t->max || memchr(s, 0, n)) {
    if (msg && msglen) snprintf(msg, msglen, "%s must be a string of at most %zu bytes", name, t->max);
    return -1;
  }
  if (!(*t->s = malloc(n + 1))) return say(msg, msglen, "out of memory");
  memcpy(*t->s, s, n + 1);
  if (t->len) *t->len = n;
  return 0;
}

static int take_limit(json_t *val, const char *name, void *out, char *msg, size_t msglen) {
  json_int_t v = json_is_integer(val) ? json_integer_value(val) : 0;
  if (v < 1 || v > EVENTS_MAX_SEARCH) {
    if (msg && msglen) snprintf(msg, msglen, "%s must be an integer 1..%d", name, EVENTS_MAX_SEARCH);
    return -1;
  }
  *(int *)out = (int)v;
  return 0;
}

/* body as one JSON object (duplicate keys refused) of the nf fields f, each
 * optional and taken once, no other: 0, or -1 with msg (saying the body must
 * look like shape when it is no object). */
static int parse_body(const void *body, size_t len, const char *shape, const body_field *f, size_t nf, char *msg,
                      size_t msglen) {
  json_error_t jerr;
  json_t *j = body && len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
  if (!j || !json_is_object(j)) {
    json_decref(j);
    if (msg && msglen) snprintf(msg, msglen, "body must be a JSON object %s", shape);
    return -1;
  }
  const char *key;
  json_t *val;
  int rc = 0;
  json_object_foreach(j, key, val) {
    size_t i = 0;
    while (i < nf && strcmp(key, f[i].name)) i++;
    if (i < nf) {
      rc = f[i].take(val, f[i].name, f[i].out, msg, msglen);
    } else {
      char known[128] = "";
      for (size_t k = 0; k < nf; k++)
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", k ? ", " : "", f[k].name);
      if (msg && msglen) snprintf(msg, msglen, "unknown field '%.64s' (%s)", key, known);
      rc = -1;
    }
    if (rc) break;
  }
  json_decref(j);
  return rc;
}

int events_parse_patch(const void *body, size_t len, int *reviewed, char **notes, char *msg, size_t msglen) {
  *reviewed = -1;
  text_out t = text_out_init(notes, NULL, EVENTS_MAX_NOTES);
  const body_field f[] = {{"reviewed", take_bool, reviewed}, {"notes", take_text, &t}};
  int rc = parse_body(body, len, "{\"reviewed\": bool, \"notes\": string}", f, 2, msg, msglen);
  if (!rc && *reviewed < 0 && !*notes) rc = say(msg, msglen, "nothing to change: give reviewed and/or notes");
  if (rc) {
    text_out_reset(&t);
    *reviewed = -1;
  }
  return rc;
}

int events_parse_search_limit(const char *s, int *limit, char *msg, size_t msglen) {
  long v;
  if (!s) return 0;
  if (events_parse_int(s, 1, EVENTS_MAX_SEARCH, &v)) return say(msg, msglen, "limit must be 1..100");
  *limit = (int)v;
  return 0;
}

int events_parse_search_body(const void *body, size_t len, char **q, size_t *qlen, int *limit, char *msg,
                             size_t msglen) {
  text_out t = text_out_init(q, qlen, EVENTS_MAX_QUERY);
  const body_field f[] = {{"q", take_text, &t}, {"limit", take_limit, limit}};
  int rc = parse_body(body, len, "{\"q\": string, \"limit\": 1..100}", f, 2, msg, msglen);
  if (!rc && !*q) rc = say(msg, msglen, "field 'q' (the text to search for) is required");
  if (rc) text_out_reset(&t);
  return rc;
}
