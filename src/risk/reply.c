/* Handling of the LLM's untrusted reply text: <think> stripping, extraction
 * of the first balanced JSON object from prose or code fences, validation
 * and normalisation (score clamped, level from the score's band). */
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/sbuf.h"
#include "vigil/risk.h"
#include "vigil/status.h"

#define MAX_TEXT_FIELD 4000 /* summary / reasoning cap, bytes */
#define MAX_CANDIDATES 64   /* '{' starts tried; bounds the work on hostile input */

void risk_reply_free(risk_reply *r) {
  if (!r) return;
  free(r->summary);
  free(r->reasoning);
  r->summary = r->reasoning = NULL;
}

static const char *find(const char *h, size_t hl, const char *n) {
  size_t nl = strlen(n);
  if (nl > hl) return NULL;
  for (size_t i = 0; i + nl <= hl; i++)
    if (h[i] == n[0] && !memcmp(h + i, n, nl)) return h + i;
  return NULL;
}

/* Removes <think>...</think> blocks into dst (which has room for len bytes).
 * A "</think>" with no opener drops everything before it (the opener was in
 * the prompt); an unclosed "<think>" drops the rest, and its content is kept
 * aside in *tail as a last resort. Returns the new length. */
static size_t strip_think(char *dst, const char *s, size_t len, const char **tail, size_t *tail_len) {
  *tail = NULL;
  *tail_len = 0;
  const char *close0 = find(s, len, "</think>");
  const char *open0 = find(s, len, "<think>");
  if (close0 && (!open0 || close0 < open0)) {
    size_t skip = (size_t)(close0 - s) + 8;
    s += skip;
    len -= skip;
  }
  size_t o = 0;
  while (len) {
    const char *op = find(s, len, "<think>");
    if (!op) {
      memcpy(dst + o, s, len);
      o += len;
      break;
    }
    size_t pre = (size_t)(op - s);
    memcpy(dst + o, s, pre);
    o += pre;
    s = op + 7;
    len -= pre + 7;
    const char *cl = find(s, len, "</think>");
    if (!cl) {
      *tail = s;
      *tail_len = len;
      break;
    }
    size_t in = (size_t)(cl - s) + 8;
    s += in;
    len -= in;
  }
  return o;
}

/* End (exclusive) of the balanced {...} that starts at s[0], or 0. */
static size_t balanced_end(const char *s, size_t len) {
  int depth = 0;
  bool str = false, esc = false;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (str) {
      if (esc)
        esc = false;
      else if (c == '\\')
        esc = true;
      else if (c == '"')
        str = false;
      continue;
    }
    if (c == '"')
      str = true;
    else if (c == '{' || c == '[') {
      if (++depth > 256) return 0;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return c == '}' ? i + 1 : 0;
      if (depth < 0) return 0;
    }
  }
  return 0;
}

static json_t *first_object(const char *s, size_t len) {
  int tries = 0;
  for (size_t i = 0; i < len && tries < MAX_CANDIDATES; i++) {
    if (s[i] != '{') continue;
    tries++;
    size_t end = balanced_end(s + i, len - i);
    if (!end) continue;
    json_error_t jerr;
    json_t *j = json_loadb(s + i, end, JSON_DISABLE_EOF_CHECK | JSON_DECODE_INT_AS_REAL, &jerr);
    if (!j) continue;
    if (json_is_object(j) && json_object_get(j, "risk_score")) return j;
    json_decref(j);
  }
  return NULL;
}

static bool parse_score(json_t *v, double *out) {
  if (json_is_number(v)) {
    *out = json_number_value(v);
  } else if (json_is_string(v)) {
    /* a decimal number and nothing else ("64.6", " -3 "): strtod alone would
     * read "0x50" as 80, "1e2" as 100, "inf", or "72 of 100" as 72 */
    const char *s = json_string_value(v), *p;
    while (isspace((unsigned char)*s)) s++;
    p = s + (*s == '-');
    size_t nd = 0, nf = 0;
    while (isdigit((unsigned char)*p)) p++, nd++;
    if (*p == '.')
      for (p++; isdigit((unsigned char)*p);) p++, nf++;
    while (isspace((unsigned char)*p)) p++;
    if (!nd || nd > 6 || *p || (p[-1] == '.' && !nf)) return false;
    if (memchr(s, '.', (size_t)(p - s)) && !nf) return false;
    *out = strtod(s, NULL);
  } else {
    return false;
  }
  return isfinite(*out);
}

static char *clip_text(const char *s) {
  size_t n = strlen(s);
  if (n > MAX_TEXT_FIELD) {
    n = MAX_TEXT_FIELD;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--; /* not inside a UTF-8 sequence */
  }
  return strndup(s, n);
}

/* A string field, or an array of strings joined with "; "; NULL if neither. */
static char *text_field(json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  if (json_is_string(v)) {
    const char *s = json_string_value(v);
    while (isspace((unsigned char)*s)) s++;
    return *s ? clip_text(s) : NULL;
  }
  if (json_is_array(v) && json_array_size(v) > 0) {
    sbuf b;
    sbuf_init(&b, MAX_TEXT_FIELD);
    size_t i;
    json_t *it;
    json_array_foreach(v, i, it) {
      if (!json_is_string(it)) continue;
      if (b.len) sbuf_add(&b, "; ");
      sbuf_add(&b, json_string_value(it));
    }
    if (!b.len) {
      sbuf_free(&b);
      return NULL;
    }
    return sbuf_take(&b);
  }
  return NULL;
}

/* Model text ends up on terminals (vigil analyze), in logs and in reports:
 * control characters (C0 but newline and tab, DEL, and the UTF-8 encoded C1
 * range, whose CSI U+009B starts terminal escapes too) become spaces, in place. */
static void strip_controls(char *s) {
  if (!s) return;
  char *o = s;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f) {
      *o++ = ' ';
    } else if (*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) {
      *o++ = ' ';
      p++;
    } else {
      *o++ = (char)*p;
    }
  }
  *o = 0;
}

int risk_parse_reply(risk_reply *out, const char *text, size_t len, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (!text) {
    return vigil_err(err, errlen, RISK_EREPLY, "empty reply");
  }
  char *buf = malloc(len + 1);
  if (!buf) {
    return vigil_err(err, errlen, RISK_ENOMEM, "out of memory");
  }
  const char *tail;
  size_t tail_len;
  size_t n = strip_think(buf, text, len, &tail, &tail_len);
  json_t *j = first_object(buf, n);
  if (!j && tail) j = first_object(tail, tail_len);
  free(buf);
  if (!j) {
    return vigil_err(err, errlen, RISK_EREPLY, "no JSON object with a risk_score in the reply");
  }
  double score;
  if (!parse_score(json_object_get(j, "risk_score"), &score)) {
    json_decref(j);
    return vigil_err(err, errlen, RISK_EREPLY, "risk_score is not a number");
  }
  if (score < 0 || score > 100) out->score_clamped = true;
  score = fmin(fmax(score, 0.0), 100.0);
  out->risk_score = (int)lround(score);

  const char *band = vigil_risk_level(out->risk_score);
  json_t *lv = json_object_get(j, "risk_level");
  char level[16] = "";
  if (json_is_string(lv)) {
    const char *s = json_string_value(lv);
    while (isspace((unsigned char)*s)) s++;
    size_t k = 0;
    for (; s[k] && k < sizeof level - 1 && !isspace((unsigned char)s[k]); k++)
      level[k] = (char)tolower((unsigned char)s[k]);
    level[k] = '\0';
  }
  /* the band decides: a missing, unknown or inconsistent level is replaced */
  out->level_derived = strcmp(level, band) != 0;
  vigil_strlcpy(out->risk_level, band, sizeof out->risk_level);

  out->summary = text_field(j, "summary");
  out->reasoning = text_field(j, "reasoning");
  json_decref(j);
  strip_controls(out->summary);
  strip_controls(out->reasoning);
  if (!out->summary) {
    out->filled_defaults = true;
    out->summary = strdup("Risk assessed by the language model (it gave no summary).");
  }
  if (!out->reasoning) {
    out->filled_defaults = true;
    out->reasoning = strdup("The language model gave no reasoning.");
  }
  if (!out->summary || !out->reasoning) {
    risk_reply_free(out);
    return vigil_err(err, errlen, RISK_ENOMEM, "out of memory");
  }
  return 0;
}
