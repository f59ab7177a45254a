/* The parsers of the events API's untrusted input (query values, the event id
 * in the path, the PATCH body), apart from the HTTP server so that unit tests
 * and a fuzz target (tests/fuzz/fuzz_events_query.c) call them directly.
 * Every function returns 0 or -1; on -1 msg (may be NULL) says why, in words
 * a client can act on (the API answers it as 400 {"detail": msg}). */
#ifndef VIGIL_EVENTS_QUERY_H
#define VIGIL_EVENTS_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/store.h"

/* A time: unix seconds (digits, optionally .digits; no sign, exponent, hex,
 * spaces) or ISO 8601 "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SS[.f...](Z|+HH:MM|-HH:MM)?"
 * (no offset = UTC). Years 1970..9999; every field range-checked. */
int events_parse_time(const char *s, double *out);
/* A decimal integer in lo..hi (digits with an optional leading '-'). */
int events_parse_int(const char *s, long lo, long hi, long *out);
/* The event id at the start of a path parameter ("12" or "12/snapshot"). */
int events_parse_id(const char *path_param, int64_t *id);

/* The SSE cursor (Last-Event-ID or ?after=): "N" (an event id), or with live
 * also "N:M" (event id, live_state seq); *live_after is left alone for "N". */
int events_parse_cursor(const char *v, bool live, long *after, long *live_after);
/* GET /events: the filter from the query; get(ud, name) returns a value or
 * NULL. The strings in *f point into what get returned. */
int events_parse_filter(const char *(*get)(void *ud, const char *name), void *ud, store_filter *f, char *msg,
                        size_t msglen);

/* PATCH /events/{id}: {"reviewed": bool, "notes": string}, at least one.
 * *reviewed -1 when absent; *notes malloc'ed (NULL when absent). */
#define EVENTS_MAX_NOTES 10000
int events_parse_patch(const void *body, size_t len, int *reviewed, char **notes, char *msg, size_t msglen);

/* GET /events/search and /events/{id}/similar: ?limit= (1..EVENTS_MAX_SEARCH,
 * default 20). */
#define EVENTS_MAX_SEARCH 100
#define EVENTS_MAX_QUERY 16384 /* bytes of a search text (CLIP reads no further) */
int events_parse_search_limit(const char *s, int *limit, char *msg, size_t msglen);
/* POST /events/search: {"q": string, "limit": 1..100} (q required, at most
 * EVENTS_MAX_QUERY bytes, no NUL; limit optional, *limit keeps its value when
 * absent). *q malloc'ed, *qlen its length. UTF-8 is checked by the tokenizer. */
int events_parse_search_body(const void *body, size_t len, char **q, size_t *qlen, int *limit, char *msg,
                             size_t msglen);

#endif
