/* libFuzzer target for the TF.js graph-model loader: model.json text, then
 * optionally a NUL byte and the raw bytes of the (concatenated) weight shards.
 * Any input must load or fail with a status; never crash, leak or allocate
 * without bound. Seeds: tests/fuzz/corpus/fuzz_tfjs/. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ir.h"
#include "tfjs/tfjs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nul = memchr(data, 0, size);
  size_t jlen = nul ? (size_t)(nul - data) : size;
  const uint8_t *w = nul ? nul + 1 : NULL;
  size_t wlen = nul ? size - jlen - 1 : 0;
  vrt_graph *g = NULL;
  if (vrt__tfjs_load_json_weights(&g, (const char *)data, jlen, w, wlen) == 0) {
    /* a loaded graph is structurally valid */
    if (vrt_graph_validate(g) != 0) __builtin_trap();
    vrt_graph_free(g);
  }
  return 0;
}
