/* A zoo_loader for plain vrt models (ONNX or TF.js graph): load, one session,
 * a warm-up run on zero inputs, and the measured bytes (weights + arena peak).
 * Model adapters with their own pre/post-processing wrap the same steps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/zoo.h"
#include "vrt/vrt.h"
#include "vigil/status.h"

static int vrt_load(void *ctx, const zoo_model_row *row, void **handle, uint64_t *measured,
                    char *err, size_t errlen) {
  int threads = (int)(intptr_t)ctx;
  char path[ZOO_PATH_MAX * 2];
  if (zoo_row_weights_path(row, path, sizeof path, NULL) || !path[0]) {
    vigil_err(err, errlen, -1, "no weights path for %s (set %s)", row->name,
             row->env_var[0] ? row->env_var : "a path in the zoo config");
    return -1;
  }
  zoo_vrt_model *h = calloc(1, sizeof *h);
  if (!h) {
    vigil_err(err, errlen, -1, "out of memory");
    return -1;
  }
  int rc = vrt_model_load(&h->model, path, vrt_load_default_params());
  if (rc) {
    vigil_err(err, errlen, -1, "%s: %s", path, vrt_last_error()[0] ? vrt_last_error() : vrt_strerror(rc));
    free(h);
    return -1;
  }
  vrt_session_params sp = vrt_session_default_params();
  sp.threads = threads;
  rc = vrt_session_create(&h->session, h->model, sp);
  int nin = vrt_model_num_inputs(h->model);
  vrt_tensor *in = calloc(nin > 0 ? (size_t)nin : 1, sizeof *in);
  for (int i = 0; !rc && i < nin; i++) {
    const vrt_tensor *d = vrt_model_input(h->model, i);
    in[i] = *d;
    size_t n = 1;
    for (int k = 0; k < d->ndim; k++) {
      if (in[i].dims[k] < 0) in[i].dims[k] = k == 0 ? 1 : 64;
      n *= (size_t)in[i].dims[k];
    }
    size_t es = vrt_dtype_size(d->dtype);
    in[i].nbytes = n * (es ? es : 1);
    in[i].data = calloc(1, in[i].nbytes ? in[i].nbytes : 1);
    if (!in[i].data) rc = VRT_ENOMEM;
  }
  if (!rc) {
    const vrt_tensor *outs;
    int nout;
    rc = vrt_session_run(h->session, in, nin, &outs, &nout);
  }
  for (int i = 0; i < nin; i++) free(in[i].data);
  free(in);
  if (rc) {
    vigil_err(err, errlen, -1, "%s: warm-up run failed: %s", path,
             vrt_last_error()[0] ? vrt_last_error() : vrt_strerror(rc));
    vrt_session_free(h->session);
    vrt_model_free(h->model);
    free(h);
    return -1;
  }
  vrt_memory_info mi;
  vrt_session_memory(h->session, &mi);
  h->weight_bytes = vrt_model_weight_bytes(h->model);
  h->arena_peak_bytes = mi.peak_bytes;
  *measured = h->weight_bytes + h->arena_peak_bytes;
  *handle = h;
  return 0;
}

static void vrt_unload(void *ctx, const zoo_model_row *row, void *handle) {
  zoo_vrt_model *h = handle;
  if (!h) return;
  vrt_session_free(h->session);
  vrt_model_free(h->model);
  free(h);
}

zoo_loader zoo_vrt_loader(int threads) {
  zoo_loader l = {(void *)(intptr_t)(threads > 0 ? threads : 1), vrt_load, vrt_unload};
  return l;
}
