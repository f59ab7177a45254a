/* Semantic search over stored events (the events service, 8090): CLIP embeds the
 * query text in-process (the export at CLIP_MODEL_PATH, shared with the CLIP
 * service when both run in one process) and the store's event embeddings, written
 * by the pipeline, are ranked by cosine. */
#ifndef VIGIL_EVENTS_SEARCH_H
#define VIGIL_EVENTS_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/config.h"
#include "vigil/http.h"
#include "vigil/store.h"

typedef struct events_search events_search;

/* Never fails for a missing model: the handlers then answer 503 saying why. */
int events_search_open(events_search **out, const vigil_config *cfg);
void events_search_close(events_search *es);
bool events_search_available(const events_search *es); /* CLIP is loaded */

/* GET /events/search?q=&limit= and POST /events/search {"q", "limit"}. */
int events_search_h_text(vigil_http_response *res, const vigil_http_request *req, store *st, events_search *es);
/* GET /events/{id}/similar?limit= */
int events_search_h_similar(vigil_http_response *res, const vigil_http_request *req, store *st, events_search *es);

/* The ranking alone (tests): the events whose stored embeddings of width dim come
 * closest to any of the nq query vectors (score = the best cosine over pairs),
 * best first (ties: newer id first), at most limit, without `exclude` (0: none). */
typedef struct {
  int64_t event_id;
  float score;
  store_embedding match; /* the stored embedding that scored (vec NULL) */
} events_hit;
int events_search_rank(store *st, const float *queries, int nq, int dim, int64_t exclude, int limit,
                       events_hit *hits, int *n_hits, int64_t *n_events, char *err, size_t errlen);

#endif
