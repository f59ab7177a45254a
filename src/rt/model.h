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
  /* Weights whose own pages go once packed (backend.c, under pack_mu):
   * per value, NULL when none qualifies; per node, whether its own exec
   * must pin an input (a copy that has to be read back from the file). */
  struct vrt_wstate *ws;
  unsigned char *node_pin;
  size_t dropped_bytes;  /* weight bytes given back now */
  bool bf16;             /* vrt_load_params.bf16 */
};

void vrt__model_pack_free(vrt_model_t *m);
/* Which constants may give their pages back once packed (finish_model). */
int vrt__model_weights_init(vrt_model_t *m);
/* Around the own exec of node i (the reference kernel), or a backend's plan
 * that reads its weights itself (no-ops unless m->node_pin[i]):
 * pin brings its dropped weights back (from the file or the packed copy;
 * <0 when that fails, then it must not run) and keeps them while pinned;
 * sticky keeps them for good (a planned run that keeps needing them); unpin
 * (always, even after a failed pin) lets them go again. */
int vrt__model_weights_pin(const vrt_model_t *m, int node, bool sticky);
void vrt__model_weights_unpin(const vrt_model_t *m, int node);
/* Bytes of packed weights, and of original weights given back now. */
void vrt__model_weight_stats(const vrt_model_t *m, size_t *packed, size_t *dropped);

/* Wrap a graph built in memory (tests, tools) into a model, running the same
 * load-time passes as the loaders' graphs. Takes ownership of g. */
int vrt__model_from_graph(vrt_model_t **out, vrt_graph *g, vrt_load_params p);

#endif
