/* libFuzzer target: enrich_reply_parse on arbitrary bytes (an enrichment
 * service's reply is untrusted input to the pipeline). Checks the bounds of
 * every accepted result. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/enrich_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > (1u << 20)) return 0;
  enrich_result *r = malloc(sizeof *r);
  if (!r) return 0;
  char err[256];
  if (enrich_reply_parse(r, (const char *)data, size, err, sizeof err) == 0) {
    if (r->n_models < 0 || r->n_models > ENRICH_MAX_MODELS || r->n_errors < 0 || r->n_errors > ENRICH_MAX_ERRORS) abort();
    if (r->pose.n_alerts < 0 || r->pose.n_alerts > POSE_MAX_ALERTS || r->action.n < 0 || r->action.n > 16) abort();
    for (int i = 0; i < r->pose.n_alerts; i++)
      if (!r->pose.alerts[i]) abort();
    if (r->has_demographics && (!r->demo.age_range || !r->demo.gender)) abort();
    if (r->damage.n < 0 || r->damage.n > DAMAGE_MAX_DETECTIONS || r->damage.n_types < 0 ||
        r->damage.n_types > DAMAGE_NTYPES || r->vehicle.n_top < 0 || r->vehicle.n_top > VEHICLE_TOP)
      abort();
    if (r->n_segments < 0 || r->n_segments > SEGFORMER_MAX_ITEMS) abort();
    vigil_enrichment sum;
    enrich_result_summary(r, "fuzz", &sum);
    if (strlen(sum.pose.posture) >= sizeof sum.pose.posture) abort();
    if (strlen(sum.clothing.items) >= sizeof sum.clothing.items) abort();
    if (sum.vehicle.n_damage < 0 || sum.vehicle.n_damage > VIGIL_MAX_DAMAGE) abort();
  } else if (!err[0]) {
    abort();
  }
  free(r);
  return 0;
}
