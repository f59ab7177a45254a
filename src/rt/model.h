/* The model object behind vrt_model_t (private to the runtime). */
#ifndef VRT_MODEL_H
#define VRT_MODEL_H

#include <pthread.h>

#include "ir.h"

struct vrt_model {
  vrt_graph *g;          /* immutable after load */
  size_t weight_bytes;   /* bytes of all constants kept after optimisation */
  int64_t param_count;   /* elements of floating-point constants */
  /* Weights packed for a backend's preferred layout, shared by all sessions
   * (backend.c: vrt__model_pack). The only state that changes after load. */
  pthread_mutex_t pack_mu;
  struct vrt_packed *packed;
  size_t packed_bytes;
  bool bf16;             /* vrt_load_params.bf16 */
};

void vrt__model_pack_free(vrt_model_t *m);

/* Wrap a graph built in memory (tests, tools) into a model, running the same
 * load-time passes as the loaders' graphs. Takes ownership of g. */
int vrt__model_from_graph(vrt_model_t **out, vrt_graph *g, vrt_load_params p);

#endif
