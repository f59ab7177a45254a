/* libFuzzer target: base64 decoding. Whatever decodes must re-encode to text
 * that decodes to the same bytes; whatever is encoded must decode back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > (1u << 18)) return 0;
  uint8_t *out = NULL, *again = NULL;
  size_t n = 0, m = 0;
  char err[160];
  int rc = vigil_b64_decode_alloc(&out, &n, (const char *)data, size, 0, err, sizeof err);
  if (rc == 0) {
    if (n > vigil_b64_decoded_max(size)) abort();
    for (int url = 0; url < 2; url++) {
      char *enc = malloc(vigil_b64_encoded_len(n) + 1);
      size_t el = vigil_b64_encode(enc, out, n, url);
      if (vigil_b64_decode_alloc(&again, &m, enc, el, 0, NULL, 0) || m != n || memcmp(again, out, n)) abort();
      free(again);
      free(enc);
    }
    free(out);
  } else if (out || n) {
    abort();
  }
  /* the raw bytes as data */
  char *enc = malloc(vigil_b64_encoded_len(size) + 1);
  size_t el = vigil_b64_encode(enc, data, size, (int)(size & 1));
  if (el != ((size & 1) ? (size * 4 + 2) / 3 : vigil_b64_encoded_len(size))) abort();
  if (vigil_b64_decode_alloc(&again, &m, enc, el, size, NULL, 0) || m != size || memcmp(again, data, size)) abort();
  free(again);
  free(enc);
  return 0;
}
