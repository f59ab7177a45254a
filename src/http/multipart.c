/* A bounded multipart/form-data parser (RFC 7578 over RFC 2046): finds the
 * parts of a fully read body without copying their contents. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "vigil/http.h"

static int merr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int merr(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(err, errlen, "malformed multipart body: ");
    if (n > 0 && (size_t)n < errlen) vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* bchars of RFC 2046, plus the space that may not end a boundary. */
static int is_bchar(unsigned char c) {
  return c && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || strchr("'()+_,-./:=? ", c));
}

int vigil_multipart_boundary(char *out, size_t cap, const char *ct) {
  if (!ct || strncasecmp(ct, "multipart/form-data", 19)) return -1;
  const char *p = ct + 19;
  while (*p) {
    while (*p == ';' || *p == ' ' || *p == '\t') p++;
    const char *name = p;
    while (*p && *p != '=' && *p != ';') p++;
    size_t nlen = (size_t)(p - name);
    while (nlen && (name[nlen - 1] == ' ' || name[nlen - 1] == '\t')) nlen--;
    if (*p != '=') continue;
    p++;
    char val[128];
    size_t vl = 0;
    if (*p == '"') {
      p++;
      while (*p && *p != '"') {
        if (*p == '\\' && p[1]) p++;
        if (vl + 1 >= sizeof val) return -1;
        val[vl++] = *p++;
      }
      if (*p != '"') return -1;
      p++;
    } else {
      while (*p && *p != ';' && *p != ' ' && *p != '\t') {
        if (vl + 1 >= sizeof val) return -1;
        val[vl++] = *p++;
      }
    }
    val[vl] = '\0';
    if (nlen == 8 && !strncasecmp(name, "boundary", 8)) {
      if (vl < 1 || vl > 70 || val[vl - 1] == ' ' || vl + 1 > cap) return -1;
      for (size_t i = 0; i < vl; i++)
        if (!is_bchar((unsigned char)val[i])) return -1;
      memcpy(out, val, vl + 1);
      return 0;
    }
  }
  return -1;
}

/* Copies the value of parameter `key` from a Content-Disposition header. */
static int disp_param(char *out, size_t cap, const char *h, size_t hlen, const char *key) {
  size_t klen = strlen(key);
  size_t i = 0;
  int inq = 0;
  while (i < hlen) {
    /* find a ';' outside quotes, then a parameter name */
    if (h[i] == '"') inq = !inq;
    if (h[i] != ';' || inq) {
      i++;
      continue;
    }
    i++;
    while (i < hlen && (h[i] == ' ' || h[i] == '\t')) i++;
    if (hlen - i > klen && !strncasecmp(h + i, key, klen) && h[i + klen] == '=') {
      i += klen + 1;
      size_t o = 0;
      if (i < hlen && h[i] == '"') {
        i++;
        while (i < hlen && h[i] != '"') {
          if (h[i] == '\\' && i + 1 < hlen) i++;
          if (o + 1 < cap) out[o++] = h[i];
          i++;
        }
        if (i >= hlen) return -1; /* unterminated quote */
      } else {
        while (i < hlen && h[i] != ';' && h[i] != ' ') {
          if (o + 1 < cap) out[o++] = h[i];
          i++;
        }
      }
      out[o] = '\0';
      return 0;
    }
  }
  return 1; /* absent */
}

static int parse_headers(vigil_multipart_part *part, const char *h, size_t len, char *err, size_t errlen) {
  bool disposition = false;
  const char *end = h + len;
  while (h < end) {
    const char *eol = memmem(h, (size_t)(end - h), "\r\n", 2);
    if (!eol) eol = end;
    size_t ll = (size_t)(eol - h);
    const char *colon = memchr(h, ':', ll);
    if (!colon) return merr(err, errlen, "part header without ':'");
    size_t nl = (size_t)(colon - h);
    const char *v = colon + 1;
    size_t vl = ll - nl - 1;
    while (vl && (*v == ' ' || *v == '\t')) v++, vl--;
    if (nl == 19 && !strncasecmp(h, "Content-Disposition", 19)) {
      if (vl < 9 || strncasecmp(v, "form-data", 9)) return merr(err, errlen, "part is not form-data");
      disposition = true;
      if (disp_param(part->name, sizeof part->name, v, vl, "name") != 0)
        return merr(err, errlen, "part without a name");
      if (disp_param(part->filename, sizeof part->filename, v, vl, "filename") < 0)
        return merr(err, errlen, "bad filename");
    } else if (nl == 12 && !strncasecmp(h, "Content-Type", 12)) {
      size_t n = vl < sizeof part->content_type - 1 ? vl : sizeof part->content_type - 1;
      memcpy(part->content_type, v, n);
      part->content_type[n] = '\0';
    }
    if (eol == end) break;
    h = eol + 2;
  }
  if (!disposition) return merr(err, errlen, "part without Content-Disposition");
  return 0;
}

int vigil_multipart_parse(vigil_multipart_part *parts, size_t max_parts, size_t *n_parts, const uint8_t *body,
                          size_t len, const char *boundary, char *err, size_t errlen) {
  *n_parts = 0;
  char delim[80]; /* "\r\n--" + boundary */
  size_t bl = boundary ? strlen(boundary) : 0;
  if (bl < 1 || bl > 70) return merr(err, errlen, "bad boundary");
  int dl = snprintf(delim, sizeof delim, "\r\n--%s", boundary);
  const char *b = (const char *)body, *end = b + len;
  /* The first delimiter may open the body (no CRLF before it) or follow a preamble. */
  const char *p;
  if (len >= (size_t)dl - 2 && !memcmp(b, delim + 2, (size_t)dl - 2)) p = b + dl - 2;
  else if ((p = memmem(b, len, delim, (size_t)dl))) p += dl;
  else return merr(err, errlen, "boundary not found");
  for (;;) {
    /* after a delimiter: "--" closes, else optional padding then CRLF */
    if (end - p >= 2 && p[0] == '-' && p[1] == '-') break;
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    if (end - p < 2 || p[0] != '\r' || p[1] != '\n') return merr(err, errlen, "bad delimiter line or truncated body");
    p += 2;
    if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') return merr(err, errlen, "part without headers");
    const char *hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
    if (!hend) return merr(err, errlen, "truncated part headers");
    if (hend - p > 8192) return merr(err, errlen, "part headers too long");
    if (*n_parts == max_parts) return merr(err, errlen, "more than %zu parts", max_parts);
    vigil_multipart_part *part = &parts[*n_parts];
    memset(part, 0, sizeof *part);
    if (parse_headers(part, p, (size_t)(hend - p), err, errlen)) return -1;
    const char *data = hend + 4;
    const char *next = memmem(data, (size_t)(end - data), delim, (size_t)dl);
    if (!next) return merr(err, errlen, "truncated body (no closing boundary)");
    part->data = (const uint8_t *)data;
    part->len = (size_t)(next - data);
    (*n_parts)++;
    p = next + dl;
  }
  return 0;
}
