/* libFuzzer target: CLIP's tokenizer. Input: vocab.json, NUL, merges.txt, NUL, text.
 * The files come from a user's export folder and the text from HTTP requests. A loaded
 * tokenizer must give exactly 77 ids starting with SOT and with EOT last-but-padding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/clip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > (1u << 18)) return 0;
  const uint8_t *a = memchr(data, 0, size);
  if (!a) return 0;
  const uint8_t *b = memchr(a + 1, 0, size - (size_t)(a + 1 - data));
  if (!b) return 0;
  clip_tokenizer *t;
  char err[256];
  if (clip_tokenizer_load_mem(&t, (const char *)data, (size_t)(a - data), (const char *)a + 1, (size_t)(b - a - 1),
                              err, sizeof err))
    return 0;
  int32_t ids[CLIP_CONTEXT];
  int n = 0;
  if (clip_tokenize(t, ids, CLIP_CONTEXT, &n, (const char *)b + 1, size - (size_t)(b + 1 - data), err, sizeof err) == 0) {
    if (n < 2 || n > CLIP_CONTEXT) abort();
    for (int i = n; i < CLIP_CONTEXT; i++)
      if (ids[i] != 0) abort();
  }
  clip_tokenizer_free(t);
  return 0;
}
