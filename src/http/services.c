/* The services `vigil serve` knows, in one table. To add a service, define a
 * `const vigil_service` (include/vigil/http.h) next to its code and add its
 * line below. */
#include <string.h>

#include "vigil/http.h"

extern const vigil_service vigil_service_detect;
extern const vigil_service vigil_service_events; /* src/store/events_api.c */
extern const vigil_service vigil_service_enrich, vigil_service_enrich_light;
extern const vigil_service vigil_service_clip; /* src/models/clip_service.c */
extern const vigil_service vigil_service_florence; /* src/models/florence_service.c */

const vigil_service *const vigil_services[] = {
    &vigil_service_detect,    /* 8095: detection (src/models) */
    &vigil_service_enrich,    /* 8094: enrichment, heavy models (src/enrich) */
    &vigil_service_enrich_light, /* 8096: enrichment, light models (src/enrich) */
    &vigil_service_clip,      /* 8093: CLIP embeddings, zero-shot labels, scene anomaly (src/models) */
    &vigil_service_florence,  /* 8092: Florence-2 port: OCR by PP-OCRv4 (src/models) */
    &vigil_service_events,    /* 8090: risk events API (src/store) */
    NULL,
};

const vigil_service *vigil_service_find(const char *name) {
  for (size_t i = 0; vigil_services[i]; i++)
    if (!strcmp(vigil_services[i]->name, name)) return vigil_services[i];
  return NULL;
}
