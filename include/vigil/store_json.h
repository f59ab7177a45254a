/* The JSON forms of the store's records (src/store/json.c), as the events API
 * serves them and the outbox sends them: kept apart from vigil/store.h so
 * that the store's users do not see jansson. */
#ifndef VIGIL_STORE_JSON_H
#define VIGIL_STORE_JSON_H

#include <jansson.h>

#include "vigil/event.h"

#ifdef __cplusplus
extern "C" {
#endif

/* New references; NULL when out of memory. */
json_t *vigil_event_to_json(const vigil_event *ev);
json_t *vigil_enrichment_to_json(const vigil_enrichment *e);
json_t *vigil_detection_to_json(const vigil_detection *d);
json_t *vigil_scene_to_json(const vigil_scene *sc); /* json null when no scene model ran */

#ifdef __cplusplus
}
#endif
#endif
