/* A growable string with a hard cap (prompts, reasoning texts, pages, tokens); once
 * the cap is hit further appends are dropped and `full` is set. */
#ifndef VIGIL_UTIL_SBUF_H
#define VIGIL_UTIL_SBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
  char *s;
  size_t len, cap, max; /* max: hard cap on len (0 = 64 MiB) */
  bool oom, full;
} sbuf;

void sbuf_init(sbuf *b, size_t max);
void sbuf_free(sbuf *b);
void sbuf_add(sbuf *b, const char *s);
void sbuf_addn(sbuf *b, const char *s, size_t n);
void sbuf_addf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A curl CURLOPT_WRITEFUNCTION (ud: the sbuf): appends a reply chunk, or
 * returns 0 (which aborts the transfer) when it would pass max (full set) or
 * memory runs out (oom set). */
size_t sbuf_write(char *p, size_t sz, size_t n, void *ud);
/* Returns the string and hands ownership to the caller (NULL after oom). */
char *sbuf_take(sbuf *b);

#endif
