/* libFuzzer target: the model-file metadata the vehicle and animal adapters
 * parse (untrusted: it comes with the user's export): id2label JSON
 * (hub_id2label) and Ultralytics names (damage_parse_names), and the
 * household pet list matcher on the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/hub_common.h"
#include "vigil/hub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > (1u << 16)) return 0;
  char *s = malloc(size + 1);
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = 0;
  char labels[64][48];
  int n = hub_id2label(s, labels, 64);
  if (n < 0 || n > 64) abort();
  for (int i = 0; i < 64; i++)
    if (strlen(labels[i]) >= sizeof labels[i]) abort();
  const char *names[64];
  int k = damage_parse_names(s, names, 64);
  if (k < 0 || k > 64) abort();
  for (int i = 0; i < 64; i++)
    if (names[i] && !damage_canonical(names[i])) abort();
  pet_result p = {.pet_type = "dog", .breed = "golden retriever"};
  (void)pet_household_match(s, &p);
  free(s);
  return 0;
}
