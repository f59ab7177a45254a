/* libFuzzer target for the ONNX loader and what it loads. Every input is
 *  - written to a file and loaded through the file path (mmap: constants
 *    borrowed from the mapping, as real models load), checked valid;
 *  - loaded by the public vrt_model_load (load passes: validation, shape
 *    inference, constant folding) and, when its inputs are small, run once
 *    on small deterministic inputs, so the kernels see what a hostile model
 *    file can make them do;
 *  - parsed as a single TensorProto (vrt__onnx_parse_tensor).
 * Errors are fine; crashes, leaks and unbounded allocations are not. Bounds:
 * inputs over 1 MB (FUZZ_ONNX_MAX_MB raises it, for mutation sweeps of the
 * real models: `fuzz_onnx mutated-*.onnx`), models whose inputs (dynamic dims taken as 2) exceed
 * 64 Ki elements, or with more than 256 nodes are not run; a run holds at
 * most 8 MB of values (vrt_session_params.max_bytes). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loaders.h"
#include "vrt/vrt.h"

#define MAX_RUN_ELEMS 65536
#define MAX_RUN_NODES 256

static char path[64];

static void run_small(const vrt_model_t *m) {
  int nin = vrt_model_num_inputs(m);
  if (nin < 0 || nin > 16 || vrt_model_num_nodes(m) > MAX_RUN_NODES) return;
  vrt_tensor in[16];
  memset(in, 0, sizeof in);
  int64_t total = 0;
  for (int i = 0; i < nin; i++) {
    const vrt_tensor *d = vrt_model_input(m, i);
    size_t es = d ? vrt_dtype_size(d->dtype) : 0;
    if (!d || !es || d->ndim < 0 || d->ndim > VRT_MAX_DIMS) goto done;
    in[i].name = d->name;
    in[i].dtype = d->dtype;
    in[i].ndim = d->ndim;
    int64_t n = 1;
    for (int k = 0; k < d->ndim; k++) {
      int64_t dim = d->dims[k] < 0 ? 2 : d->dims[k];
      if (dim > MAX_RUN_ELEMS) goto done;
      in[i].dims[k] = dim;
      n *= dim;
      if (n > MAX_RUN_ELEMS) goto done;
    }
    total += n;
    if (total > MAX_RUN_ELEMS) goto done;
    in[i].nbytes = (size_t)n * es;
    uint8_t *b = malloc(in[i].nbytes ? in[i].nbytes : 1);
    if (!b) goto done;
    for (size_t k = 0; k < in[i].nbytes; k++) b[k] = (uint8_t)(k % es == 0 ? k % 3 : 0); /* small values: 0, 1, 2 */
    in[i].data = b;
  }
  vrt_session_t *s = NULL;
  vrt_session_params sp = vrt_session_default_params();
  sp.max_bytes = 8u << 20; /* what a hostile file may make a run hold; over it: VRT_ELIMIT, not an OOM (256 MB, then
                             * 32 MB, let a 978-byte model spend over 10 s in one ASan Resize on a loaded machine) */
  if (vrt_session_create(&s, m, sp) == 0) {
    const vrt_tensor *out;
    int nout;
    if (vrt_session_run(s, in, nin, &out, &nout) == 0)
      for (int o = 0; o < nout; o++)
        if (out[o].nbytes && !out[o].data) abort();
    vrt_session_free(s);
  }
done:
  for (int i = 0; i < nin && i < 16; i++) free(in[i].data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static size_t max_bytes;
  if (!max_bytes) {
    const char *e = getenv("FUZZ_ONNX_MAX_MB");
    max_bytes = (e && atoi(e) > 0 ? (size_t)atoi(e) : 1) << 20;
  }
  if (size > max_bytes) return 0;
  if (!path[0]) {
    char dir[] = "/tmp/fuzz_onnx-XXXXXX";
    if (!mkdtemp(dir)) abort();
    snprintf(path, sizeof path, "%s/model.onnx", dir);
  }
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  if (size && fwrite(data, 1, size, f) != size) abort();
  if (fclose(f)) abort();
  vrt_graph *g = NULL;
  if (vrt__onnx_load_file(&g, path) == 0) {
    if (vrt_graph_validate(g) != 0) abort(); /* a graph the loader accepts is structurally valid */
    vrt_graph_free(g);
  }
  vrt_model_t *m = NULL;
  vrt_load_params lp = vrt_load_default_params();
  lp.format = VRT_FORMAT_ONNX;
  lp.max_weight_bytes = 64u << 20;
  if (vrt_model_load(&m, path, lp) == 0) {
    run_small(m);
    vrt_model_free(m);
  }
  vrt_tensor t;
  if (vrt__onnx_parse_tensor(data, size, &t) == 0) {
    free(t.data);
    free((char *)t.name);
  }
  return 0;
}
