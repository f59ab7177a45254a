/* Enrichment over HTTP: the pipeline's detections sent to `vigil serve enrich`
 * / `enrich-light` (POST /enrich, CONTRACTS.md body) instead of the in-process
 * engine. The frame goes as base64 JPEG, the box in frame pixels, the
 * detection_type by class; the reply is parsed back into an enrich_result.
 *
 * Routing: animals (pet, depth: light models) go to the light service when
 * its URL is set; people and vehicles go to the heavy service, whose /enrich
 * runs every part of the kind itself. With only one URL, everything goes there.
 *
 * Threads: an enrich_client may be used from several threads at once (one
 * curl handle per call). */
#ifndef VIGIL_ENRICH_CLIENT_H
#define VIGIL_ENRICH_CLIENT_H

#include <stddef.h>

#include "vigil/config.h"
#include "vigil/enrich.h"

typedef struct {
  char url[512];        /* heavy service base URL, e.g. http://127.0.0.1:8094 */
  char light_url[512];  /* light service base URL; "" = the heavy one */
  double timeout_s;     /* whole request (30) */
  double connect_timeout_s; /* (5) */
  size_t max_reply;     /* reply bytes at most (4 MB) */
  int jpeg_quality;     /* frame encoding (90) */
  char api_key[257];    /* sent as Authorization: Bearer; "" = none */
  char ca_file[512];    /* PEM bundle that verifies an https:// service; "" = the system's */
} enrich_client_params;

enrich_client_params enrich_client_default_params(void);
/* ENRICHMENT_URL, ENRICHMENT_LIGHT_URL, ENRICHMENT_TIMEOUT_S, ENRICHMENT_API_KEY,
 * VIGIL_CA_FILE (env or config
 * file). Returns 1 when ENRICHMENT_URL is set, 0 when not (in-process
 * enrichment), <0 on a bad value. */
int enrich_client_params_from_config(enrich_client_params *p, const vigil_config *cfg, char *err, size_t errlen);

typedef struct enrich_client enrich_client;

int enrich_client_init(enrich_client **out, enrich_client_params p, char *err, size_t errlen);
void enrich_client_free(enrich_client *c);

/* enrich_run over HTTP: same request and result. The reid gallery's
 * first/last seen and camera list are not in the reply and stay empty.
 * Returns <0 on a transport error, timeout, oversized or malformed reply or
 * a non-200 status (err says which, with the service's detail). */
int enrich_client_run(enrich_client *c, enrich_result *out, const enrich_request *rq, char *err, size_t errlen);
/* The pipeline's enrich_fn: ud is the enrich_client. */
int enrich_client_fn(void *ud, enrich_result *out, const enrich_request *rq, char *err, size_t errlen);

/* A /enrich reply body into *out (exposed for tests and fuzzing). */
int enrich_reply_parse(enrich_result *out, const char *body, size_t len, char *err, size_t errlen);

#endif
