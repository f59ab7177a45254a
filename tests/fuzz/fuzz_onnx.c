/* libFuzzer target for the ONNX loader: every input is parsed both as a
 * ModelProto (vrt__onnx_load_buffer, no external data) and as a single
 * TensorProto (vrt__onnx_parse_tensor). Errors are fine; crashes, leaks and
 * unbounded allocations are not. */
#include <stdint.h>
#include <stdlib.h>

#include "loaders.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  vrt_graph *g = NULL;
  if (vrt__onnx_load_buffer(&g, data, size, NULL) == 0) {
    /* a graph the loader accepts must be structurally valid */
    if (vrt_graph_validate(g) != 0) abort();
    vrt_graph_free(g);
  }
  vrt_tensor t;
  if (vrt__onnx_parse_tensor(data, size, &t) == 0) {
    free(t.data);
    free((char *)t.name);
  }
  return 0;
}
