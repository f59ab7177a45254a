/* libFuzzer target: the BRISQUE model reader (OpenCV FileStorage YAML subset), whose
 * files come from a user-set BRISQUE_MODEL_PATH. Input: the model text, a NUL byte,
 * the range text. A loaded model must predict a finite number on finite features. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/quality.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > (1u << 20)) return 0;
  const uint8_t *sep = memchr(data, 0, size);
  size_t ml = sep ? (size_t)(sep - data) : size;
  const char *range = sep ? (const char *)sep + 1 : "";
  size_t rl = sep ? size - ml - 1 : 0;
  vigil_brisque *m = NULL;
  char err[256];
  if (vigil_brisque_load_mem(&m, (const char *)data, ml, range, rl, err, sizeof err) == 0) {
    double f[VIGIL_BRISQUE_NFEAT];
    for (int i = 0; i < VIGIL_BRISQUE_NFEAT; i++) f[i] = 0.1 * i;
    double s = vigil_brisque_predict(m, f);
    if (isnan(s) && vigil_brisque_memory_bytes(m) == 0) abort();
    vigil_brisque_free(m);
  } else if (!err[0]) {
    abort(); /* every refusal says why */
  }
  return 0;
}
