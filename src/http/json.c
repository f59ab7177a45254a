/* JSON at the HTTP edge: replies ({"detail": ...} errors included) and a
 * table-driven parser from request JSON into C structs. */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/base64.h"
#include "vigil/http.h"
#include "vigil/status.h"

int vigil_http_reply(vigil_http_response *res, int status, const char *content_type, const void *body, size_t len) {
  free(res->body);
  res->body = NULL;
  res->body_len = 0;
  res->status = status;
  snprintf(res->content_type, sizeof res->content_type, "%s", content_type ? content_type : "text/plain");
  if (len) {
    res->body = malloc(len);
    if (!res->body) return -1;
    memcpy(res->body, body, len);
    res->body_len = len;
  }
  return 0;
}

int vigil_http_reply_json(vigil_http_response *res, int status, json_t *obj) {
  char *s = obj ? json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(9)) : NULL;
  json_decref(obj);
  if (!s) {
    vigil_http_reply(res, 500, "application/json", "{\"detail\":\"internal error\"}", 27);
    return -1;
  }
  free(res->body);
  res->status = status;
  snprintf(res->content_type, sizeof res->content_type, "application/json");
  res->body = s; /* jansson allocates with malloc by default */
  res->body_len = strlen(s);
  return 0;
}

/* Replaces every byte that is not part of valid UTF-8 with '?', in place, so
 * that messages quoting untrusted input (a parser's "near '...'") can always
 * become a JSON string: jansson refuses invalid UTF-8. Overlong forms and
 * surrogates count as invalid. */
static void utf8_sanitize(char *s) {
  unsigned char *p = (unsigned char *)s;
  while (*p) {
    int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : -1;
    bool ok = n >= 0;
    for (int k = 1; ok && k <= n; k++) ok = (p[k] & 0xc0) == 0x80;
    if (ok && n == 1) ok = *p >= 0xc2;
    if (ok && n == 2) {
      unsigned cp = (unsigned)(p[0] & 0x0f) << 12 | (unsigned)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
      ok = cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff);
    }
    if (ok && n == 3) {
      unsigned cp = (unsigned)(p[0] & 0x07) << 18 | (unsigned)(p[1] & 0x3f) << 12;
      ok = cp >= 0x10000 && cp <= 0x10ffff;
    }
    if (!ok) {
      *p++ = '?';
      continue;
    }
    p += n + 1;
  }
}

int vigil_http_error(vigil_http_response *res, int status, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  utf8_sanitize(msg);
  return vigil_http_reply_json(res, status, json_pack("{s:s}", "detail", msg));
}

void vigil_http_response_free(vigil_http_response *res) {
  if (!res) return;
  free(res->body);
  res->body = NULL;
  res->body_len = 0;
}

/* ---- parsing ---------------------------------------------------------------------- */

#define AT(out, off, type) ((type *)((char *)(out) + (off)))

static int jerr(char *err, size_t errlen, const char *path, const char *key, const char *what) {
  vigil_err(err, errlen, -1, "field '%s%s%s' %s", path, *path && *key ? "." : "", key, what);
  return -1;
}

static int parse_fields(void *out, const vigil_json_field *f, size_t n, json_t *obj, const char *path,
                        char *err, size_t errlen);

static void free_fields(void *out, const vigil_json_field *f, size_t n);

static void free_items(const vigil_json_field *f, char *items, size_t cnt) {
  for (size_t k = 0; items && k < cnt; k++) {
    if (f->type == VIGIL_JSON_ARRAY) free_fields(items + k * f->elem_size, f->sub, f->n_sub);
    else if (f->type == VIGIL_JSON_STRING_ARRAY) free(((char **)items)[k]);
    else free(((vigil_bytes *)items)[k].data);
  }
  free(items);
}

static int dup_string(char **dst, json_t *v, const vigil_json_field *f, const char *path, char *err, size_t errlen) {
  if (!json_is_string(v)) return jerr(err, errlen, path, f->key, "must be a string");
  size_t len = json_string_length(v);
  if (f->max && len > f->max) return jerr(err, errlen, path, f->key, "is too long");
  char *s = malloc(len + 1);
  if (!s) return jerr(err, errlen, path, f->key, "does not fit in memory");
  memcpy(s, json_string_value(v), len + 1);
  *dst = s;
  return 0;
}

static int decode_b64(vigil_bytes *dst, json_t *v, const vigil_json_field *f, const char *path, char *err,
                      size_t errlen) {
  if (!json_is_string(v)) return jerr(err, errlen, path, f->key, "must be a base64 string");
  const char *s = json_string_value(v);
  size_t len = json_string_length(v);
  /* A data URL prefix ("data:image/jpeg;base64,") is common from browsers. */
  if (len > 5 && !strncmp(s, "data:", 5)) {
    const char *comma = memchr(s, ',', len);
    if (comma && comma - s < 128) {
      len -= (size_t)(comma + 1 - s);
      s = comma + 1;
    }
  }
  char msg[160];
  int rc = vigil_b64_decode_alloc(&dst->data, &dst->len, s, len, f->max, msg, sizeof msg);
  if (rc == VIGIL_B64_ESPACE) return jerr(err, errlen, path, f->key, "is too large");
  if (rc) {
    char what[200];
    snprintf(what, sizeof what, "is not valid base64 (%s)", msg);
    return jerr(err, errlen, path, f->key, what);
  }
  return 0;
}

static int parse_one(void *out, const vigil_json_field *f, json_t *v, const char *path, char *err, size_t errlen) {
  switch (f->type) {
  case VIGIL_JSON_STRING: {
    char *s = NULL;
    if (dup_string(&s, v, f, path, err, errlen)) return -1;
    free(*AT(out, f->offset, char *));
    *AT(out, f->offset, char *) = s;
    return 0;
  }
  case VIGIL_JSON_BASE64: {
    vigil_bytes b = {0};
    if (decode_b64(&b, v, f, path, err, errlen)) return -1;
    free(AT(out, f->offset, vigil_bytes)->data);
    *AT(out, f->offset, vigil_bytes) = b;
    return 0;
  }
  case VIGIL_JSON_INT: {
    double d = json_is_integer(v) ? (double)json_integer_value(v) : json_is_real(v) ? json_real_value(v) : NAN;
    if (!json_is_number(v) || d != floor(d) || fabs(d) > 9.007199254740992e15)
      return jerr(err, errlen, path, f->key, "must be an integer");
    *AT(out, f->offset, long) = json_is_integer(v) ? (long)json_integer_value(v) : (long)d;
    return 0;
  }
  case VIGIL_JSON_DOUBLE:
    if (!json_is_number(v)) return jerr(err, errlen, path, f->key, "must be a number");
    *AT(out, f->offset, double) = json_number_value(v);
    return 0;
  case VIGIL_JSON_BOOL:
    if (!json_is_boolean(v)) return jerr(err, errlen, path, f->key, "must be true or false");
    *AT(out, f->offset, bool) = json_is_true(v);
    return 0;
  case VIGIL_JSON_OBJECT: {
    if (!json_is_object(v)) return jerr(err, errlen, path, f->key, "must be an object");
    char sub[256];
    snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", f->key);
    return parse_fields(AT(out, f->offset, char), f->sub, f->n_sub, v, sub, err, errlen);
  }
  case VIGIL_JSON_ARRAY:
  case VIGIL_JSON_STRING_ARRAY:
  case VIGIL_JSON_BASE64_ARRAY: {
    if (!json_is_array(v)) return jerr(err, errlen, path, f->key, "must be an array");
    size_t cnt = json_array_size(v);
    if (f->max && cnt > f->max) return jerr(err, errlen, path, f->key, "has too many items");
    size_t esz = f->type == VIGIL_JSON_ARRAY ? f->elem_size
                 : f->type == VIGIL_JSON_STRING_ARRAY ? sizeof(char *)
                                                      : sizeof(vigil_bytes);
    char *items = calloc(cnt ? cnt : 1, esz);
    if (!items) return jerr(err, errlen, path, f->key, "does not fit in memory");
    int rc = 0;
    size_t i = 0;
    for (; i < cnt && !rc; i++) {
      json_t *it = json_array_get(v, i);
      char sub[256];
      snprintf(sub, sizeof sub, "%s%s%s[%zu]", path, *path ? "." : "", f->key, i);
      if (f->type == VIGIL_JSON_ARRAY) {
        if (!json_is_object(it)) rc = jerr(err, errlen, sub, "", "must be an object");
        else rc = parse_fields(items + i * esz, f->sub, f->n_sub, it, sub, err, errlen);
      } else {
        vigil_json_field one = *f;
        one.key = "";
        one.max = 0; /* per item: only the body limit */
        if (f->type == VIGIL_JSON_STRING_ARRAY) rc = dup_string((char **)(items + i * esz), it, &one, sub, err, errlen);
        else rc = decode_b64((vigil_bytes *)(items + i * esz), it, &one, sub, err, errlen);
      }
    }
    if (rc) {
      free_items(f, items, i - 1); /* the failed item freed its own parts */
      return -1;
    }
    free_fields(out, f, 1); /* a repeated key replaces the earlier value */
    *AT(out, f->offset, void *) = items;
    *AT(out, f->count_offset, size_t) = cnt;
    return 0;
  }
  }
  return jerr(err, errlen, path, f->key, "has an unknown type");
}

static int parse_fields(void *out, const vigil_json_field *f, size_t n, json_t *obj, const char *path,
                        char *err, size_t errlen) {
  for (size_t i = 0; i < n; i++) {
    json_t *v = json_object_get(obj, f[i].key);
    if (!v || json_is_null(v)) {
      if (f[i].required) {
        free_fields(out, f, i);
        return jerr(err, errlen, path, f[i].key, "is required");
      }
      continue;
    }
    if (parse_one(out, &f[i], v, path, err, errlen)) {
      free_fields(out, f, i);
      return -1;
    }
    if (f[i].present_offset) *AT(out, f[i].present_offset - 1, bool) = true;
  }
  return 0;
}

static void free_fields(void *out, const vigil_json_field *f, size_t n) {
  for (size_t i = 0; i < n; i++) {
    switch (f[i].type) {
    case VIGIL_JSON_STRING:
      free(*AT(out, f[i].offset, char *));
      *AT(out, f[i].offset, char *) = NULL;
      break;
    case VIGIL_JSON_BASE64: {
      vigil_bytes *b = AT(out, f[i].offset, vigil_bytes);
      free(b->data);
      b->data = NULL;
      b->len = 0;
      break;
    }
    case VIGIL_JSON_OBJECT:
      free_fields(AT(out, f[i].offset, char), f[i].sub, f[i].n_sub);
      break;
    case VIGIL_JSON_ARRAY:
    case VIGIL_JSON_STRING_ARRAY:
    case VIGIL_JSON_BASE64_ARRAY: {
      free_items(&f[i], *AT(out, f[i].offset, char *), *AT(out, f[i].count_offset, size_t));
      *AT(out, f[i].offset, char *) = NULL;
      *AT(out, f[i].count_offset, size_t) = 0;
      break;
    }
    default:
      break;
    }
  }
}

int vigil_json_parse_object(void *out, const vigil_json_field *fields, size_t n, json_t *obj, char *err,
                            size_t errlen) {
  if (!json_is_object(obj)) {
    vigil_err(err, errlen, -1, "request body must be a JSON object");
    return -1;
  }
  return parse_fields(out, fields, n, obj, "", err, errlen);
}

int vigil_json_parse(void *out, const vigil_json_field *fields, size_t n, const uint8_t *body, size_t len,
                     char *err, size_t errlen) {
  json_error_t je;
  json_t *root = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &je);
  if (!root) {
    vigil_err(err, errlen, -1, "malformed JSON at line %d column %d: %s", je.line, je.column, je.text);
    return -1;
  }
  int rc = vigil_json_parse_object(out, fields, n, root, err, errlen);
  json_decref(root);
  return rc;
}

void vigil_json_free(void *out, const vigil_json_field *fields, size_t n) {
  if (out) free_fields(out, fields, n);
}
