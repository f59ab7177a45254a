/* Semantic search over stored events: the query text (GET /events/search) or an
 * event's own stored embeddings (GET /events/{id}/similar) against every stored
 * event embedding, scanned page by page, best `limit` events kept (memory is
 * bounded by the limit, not by the store). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/hub_common.h"
#include "store/events_query.h"
#include "store/events_search.h"
#include "util/log.h"
#include "vigil/clip.h"
#include "vigil/store_json.h"

struct events_search {
  clip_model *m; /* NULL: not installed (why says so) */
  char why[600];
};

int events_search_open(events_search **out, const vigil_config *cfg) {
  events_search *es = calloc(1, sizeof *es);
  if (!es) return -1;
  const char *path = vigil_config_str(cfg, "CLIP_MODEL_PATH");
  char e[512] = "";
  if (!path || !*path)
    snprintf(es->why, sizeof es->why, "semantic search needs CLIP: CLIP_MODEL_PATH is not set (docs/models.md)");
  else if (clip_shared_acquire(&es->m, path, e, sizeof e))
    snprintf(es->why, sizeof es->why,
             "semantic search needs CLIP, which is not installed: %s (set CLIP_MODEL_PATH to an export folder, see "
             "docs/models.md)",
             e);
  if (!es->m) vlog_info("events: %s", es->why);
  *out = es;
  return 0;
}

void events_search_close(events_search *es) {
  if (!es) return;
  clip_shared_release(es->m);
  free(es);
}

bool events_search_available(const events_search *es) { return es && es->m; }

/* ---- ranking ----------------------------------------------------------------------------- */

typedef struct {
  const float *q;
  int nq, dim, limit, n;
  int64_t exclude, events;
  events_hit *hits;   /* sorted best first, n of them */
  events_hit cur;     /* the event being read (rows come by event id) */
  bool have_cur;
} rank_ctx;

static bool better(const events_hit *a, const events_hit *b) {
  return a->score > b->score || (a->score == b->score && a->event_id > b->event_id);
}

static void flush(rank_ctx *x) {
  if (!x->have_cur) return;
  x->have_cur = false;
  x->events++;
  if (x->n == x->limit && !better(&x->cur, &x->hits[x->n - 1])) return;
  int i = x->n < x->limit ? x->n++ : x->n - 1; /* insertion: limit is at most 100 */
  while (i > 0 && better(&x->cur, &x->hits[i - 1])) {
    x->hits[i] = x->hits[i - 1];
    i--;
  }
  x->hits[i] = x->cur;
}

static int on_row(void *ud, int64_t event_id, const store_embedding *e) {
  rank_ctx *x = ud;
  if (event_id == x->exclude) return 0;
  if (!x->have_cur || x->cur.event_id != event_id) {
    flush(x);
    x->cur.event_id = event_id;
    x->cur.score = -INFINITY;
    x->have_cur = true;
  }
  for (int k = 0; k < x->nq; k++) {
    float s = hub_dot(x->q + (size_t)k * x->dim, e->vec, x->dim);
    if (isfinite(s) && s > x->cur.score) {
      x->cur.score = s;
      x->cur.match = *e;
      x->cur.match.vec = NULL;
    }
  }
  return 0;
}

int events_search_rank(store *st, const float *queries, int nq, int dim, int64_t exclude, int limit,
                       events_hit *hits, int *n_hits, int64_t *n_events, char *err, size_t errlen) {
  rank_ctx x = {.q = queries, .nq = nq, .dim = dim, .limit = limit, .exclude = exclude, .hits = hits};
  *n_hits = 0;
  if (n_events) *n_events = 0;
  int rc = store_scan_embeddings(st, dim, on_row, &x, err, errlen);
  if (rc) return rc;
  flush(&x);
  *n_hits = x.n;
  if (n_events) *n_events = x.events;
  return 0;
}

/* ---- handlers ----------------------------------------------------------------------------- */

static int need_model(events_search *es, vigil_http_response *res) {
  if (es && es->m) return 0;
  vigil_http_error(res, 503, "%s", es ? es->why : "semantic search is not set up");
  return -1;
}

/* Ranks and answers {"results": [{"score", "match", "event"}], "count", "limit", "events_searched", EXTRA}. */
static int answer(vigil_http_response *res, store *st, events_search *es, const float *q, int nq, int64_t exclude,
                  int limit, json_t *extra) {
  events_hit *hits = calloc((size_t)limit, sizeof *hits);
  if (!hits) {
    json_decref(extra);
    return vigil_http_error(res, 500, "out of memory");
  }
  int n = 0;
  int64_t searched = 0;
  char err[512] = "";
  int rc = events_search_rank(st, q, nq, clip_embed_dim(es->m), exclude, limit, hits, &n, &searched, err, sizeof err);
  if (rc) {
    free(hits);
    json_decref(extra);
    return vigil_http_error(res, 500, "%s", err);
  }
  json_t *arr = json_array();
  for (int i = 0; i < n; i++) {
    vigil_event ev;
    if (store_get_event(st, hits[i].event_id, &ev, NULL, 0)) continue; /* deleted meanwhile */
    const store_embedding *m = &hits[i].match;
    json_t *match = json_pack("{s:s,s:s?,s:s?}", "kind", m->kind, "label", m->label[0] ? m->label : NULL,
                              "detection_id", m->detection_id[0] ? m->detection_id : NULL);
    json_array_append_new(arr, json_pack("{s:f,s:o,s:o}", "score", round((double)hits[i].score * 1e6) / 1e6, "match",
                                         match, "event", vigil_event_to_json(&ev)));
    vigil_event_free(&ev);
  }
  free(hits);
  json_t *o = json_pack("{s:o,s:i,s:i,s:I}", "results", arr, "count", (int)json_array_size(arr), "limit", limit,
                        "events_searched", (json_int_t)searched);
  if (extra) json_object_update(o, extra);
  json_decref(extra);
  return vigil_http_reply_json(res, 200, o);
}

int events_search_h_text(vigil_http_response *res, const vigil_http_request *req, store *st, events_search *es) {
  if (need_model(es, res)) return 0;
  int limit = 20;
  char msg[200];
  char *q = NULL;
  size_t qlen = 0;
  if (!strcmp(req->method, "POST")) {
    if (events_parse_search_body(req->body, req->body_len, &q, &qlen, &limit, msg, sizeof msg))
      return vigil_http_error(res, 400, "%s", msg);
  } else {
    const char *v = vigil_http_query(req, "q");
    if (!v) return vigil_http_error(res, 400, "query parameter 'q' (the text to search for) is required");
    if (events_parse_search_limit(vigil_http_query(req, "limit"), &limit, msg, sizeof msg))
      return vigil_http_error(res, 400, "%s", msg);
    qlen = strlen(v);
    if (qlen > EVENTS_MAX_QUERY) qlen = EVENTS_MAX_QUERY; /* CLIP reads no further */
    if (!(q = strndup(v, qlen))) return vigil_http_error(res, 500, "out of memory");
  }
  int dim = clip_embed_dim(es->m);
  float *e = malloc(sizeof(float) * (size_t)dim);
  char err[512] = "";
  const char *texts[1] = {q};
  if (!e || clip_embed_texts(es->m, e, texts, &qlen, 1, err, sizeof err)) {
    int status = !e ? 500 : strstr(err, "UTF-8") ? 400 : 500;
    free(e);
    free(q);
    return vigil_http_error(res, status, "q: %s", e ? err : "out of memory");
  }
  json_t *extra = json_pack("{s:s%}", "query", q, qlen);
  free(q);
  answer(res, st, es, e, 1, 0, limit, extra);
  free(e);
  return 0;
}

int events_search_h_similar(vigil_http_response *res, const vigil_http_request *req, store *st, events_search *es) {
  if (need_model(es, res)) return 0;
  int64_t id;
  if (events_parse_id(req->path_param, &id)) return vigil_http_error(res, 400, "event id must be a positive integer");
  int limit = 20;
  char msg[200], err[512] = "";
  if (events_parse_search_limit(vigil_http_query(req, "limit"), &limit, msg, sizeof msg))
    return vigil_http_error(res, 400, "%s", msg);
  vigil_event ev;
  int rc = store_get_event(st, id, &ev, err, sizeof err);
  if (rc) return vigil_http_error(res, rc == STORE_ENOTFOUND ? 404 : 500, "%s", err);
  vigil_event_free(&ev);
  store_embedding *own;
  int n, dim = clip_embed_dim(es->m);
  if ((rc = store_event_embeddings(st, id, &own, &n, err, sizeof err))) return vigil_http_error(res, 500, "%s", err);
  float *q = malloc(sizeof(float) * (size_t)dim * (size_t)(n ? n : 1));
  int nq = 0;
  for (int i = 0; q && i < n; i++)
    if (own[i].dim == dim) memcpy(q + (size_t)nq++ * dim, own[i].vec, sizeof(float) * (size_t)dim);
  store_embeddings_free(own, n);
  if (!q) return vigil_http_error(res, 500, "out of memory");
  if (!nq) {
    free(q);
    return vigil_http_error(res, 404,
                            "event %lld has no stored CLIP embedding (it was stored without CLIP, or had no snapshot)",
                            (long long)id);
  }
  answer(res, st, es, q, nq, id, limit, json_pack("{s:I}", "event_id", (json_int_t)id));
  free(q);
  return 0;
}
