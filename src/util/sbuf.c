/* The capped growable string of sbuf.h. */
#include "util/sbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sbuf_init(sbuf *b, size_t max) {
  memset(b, 0, sizeof *b);
  b->max = max ? max : (size_t)64 << 20;
}

void sbuf_free(sbuf *b) {
  if (!b) return;
  free(b->s);
  b->s = NULL;
  b->len = b->cap = 0;
}

static bool grow(sbuf *b, size_t need) {
  if (b->len + need + 1 <= b->cap) return true;
  size_t nc = b->cap ? b->cap : 256;
  while (nc < b->len + need + 1) nc *= 2;
  char *ns = realloc(b->s, nc);
  if (!ns) {
    b->oom = true;
    return false;
  }
  b->s = ns;
  b->cap = nc;
  return true;
}

void sbuf_addn(sbuf *b, const char *s, size_t n) {
  if (b->oom || b->full) return;
  if (b->len + n > b->max) {
    n = b->max - b->len;
    b->full = true;
  }
  if (!grow(b, n)) return;
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = '\0';
}

size_t sbuf_write(char *p, size_t sz, size_t n, void *ud) {
  sbuf *b = ud;
  size_t add = sz * n;
  if (b->len + add > b->max) {
    b->full = true;
    return 0;
  }
  sbuf_addn(b, p, add);
  return b->oom ? 0 : add;
}

void sbuf_add(sbuf *b, const char *s) { sbuf_addn(b, s, strlen(s)); }

void sbuf_addf(sbuf *b, const char *fmt, ...) {
  if (b->oom || b->full) return;
  char tmp[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof tmp) {
    sbuf_addn(b, tmp, (size_t)n);
    return;
  }
  char *big = malloc((size_t)n + 1);
  if (!big) {
    b->oom = true;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  sbuf_addn(b, big, (size_t)n);
  free(big);
}

char *sbuf_take(sbuf *b) {
  if (b->oom) {
    sbuf_free(b);
    return NULL;
  }
  if (!b->s && !grow(b, 0)) return NULL;
  if (b->len == 0) b->s[0] = '\0';
  char *s = b->s;
  b->s = NULL;
  b->len = b->cap = 0;
  return s;
}
