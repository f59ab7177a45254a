/* libFuzzer target: risk_parse_reply on arbitrary bytes (the LLM's text is
 * untrusted). Checks the normalisation invariants on every accepted input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/risk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > (1u << 20)) return 0;
  risk_reply r;
  char err[128];
  if (risk_parse_reply(&r, (const char *)data, size, err, sizeof err) == 0) {
    if (r.risk_score < 0 || r.risk_score > 100) abort();
    if (strcmp(r.risk_level, vigil_risk_level(r.risk_score))) abort();
    if (!r.summary || !r.reasoning || strlen(r.summary) > 4000 || strlen(r.reasoning) > 4000) abort();
  }
  risk_reply_free(&r);
  return 0;
}
