/* libFuzzer target: licence plate text from untrusted places (the events
 * API's ?plate=, OCR output, KNOWN_PLATES). Normalisation must stay inside
 * its buffers, give only A-Z/0-9, be stable on its own cleaned text, and agree with the pattern
 * check and the known-plate lookup. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/plate.h"

static plate_config pc;
static int ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!ready) {
    const char *known[] = {"KX21 ABC", "lr69-kvd"};
    if (plate_config_set(&pc, "^([A-Z0-9][ -]?){3,9}[A-Z0-9]$", known, 2, NULL, 0)) abort();
    ready = 1;
  }
  if (size > 4096) return 0;
  char *s = malloc(size + 1);
  memcpy(s, data, size);
  s[size] = 0;
  char out[PLATE_TEXT_MAX], sep[PLATE_RAW_MAX], again[PLATE_TEXT_MAX];
  int k = plate_normalize(out, sizeof out, sep, sizeof sep, s);
  size_t n = strlen(out);
  if (k < 0 || n >= sizeof out || n > (size_t)k) abort();
  for (size_t i = 0; i < n; i++)
    if (!((out[i] >= 'A' && out[i] <= 'Z') || (out[i] >= '0' && out[i] <= '9'))) abort();
  /* the cleaned text with its separators normalises to the same plate */
  plate_normalize(again, sizeof again, NULL, 0, sep);
  if (strcmp(again, out)) abort();
  (void)plate_matches(&pc, s);
  if (plate_is_known(&pc, out) && strcmp(out, "KX21ABC") && strcmp(out, "LR69KVD")) abort();
  free(s);
  return 0;
}
