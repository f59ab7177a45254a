/* The model object behind vrt_model_t (private to the runtime). */
#ifndef VRT_MODEL_H
#define VRT_MODEL_H

#include "ir.h"

struct vrt_model {
  vrt_graph *g;          /* immutable after load */
  size_t weight_bytes;   /* bytes of all constants kept after optimisation */
  int64_t param_count;   /* elements of floating-point constants */
};

#endif
