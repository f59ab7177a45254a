/* A loaded vrt model shared between threads, with a pool of sessions lent to
 * concurrent callers. Every model adapter (detector, pose, face, ...) runs
 * through one. The pool's mutex guards only its free list. */
#ifndef VIGIL_MODELS_RUNNER_H
#define VIGIL_MODELS_RUNNER_H

#include <pthread.h>
#include <stddef.h>

#include "vrt/vrt.h"

#define RUNNER_POOL_MAX 16

typedef struct model_runner {
  vrt_model_t *m;
  int threads;
  pthread_mutex_t mu;
  vrt_session_t *pool[RUNNER_POOL_MAX];
  int npool;
  size_t arena_peak; /* largest session peak seen (atomic) */
  char name[256];    /* file name of the model */
} model_runner;

/* Loads path into r (zeroed by the caller). err gets vrt's message. */
int runner_load(model_runner *r, const char *path, int threads, char *err, size_t errlen);
void runner_free(model_runner *r); /* zeroed struct: no-op */

/* Runs one inference on a borrowed session. The outputs are copied into
 * caller-owned tensors (free each data with free(), the array with free())
 * so the session can go back to the pool at once. */
int runner_run(model_runner *r, const vrt_tensor *in, int nin, vrt_tensor **outs, int *nout, char *err,
               size_t errlen);
void runner_outputs_free(vrt_tensor *outs, int nout);

/* Lower-level: borrow a session, run as often as needed, give it back. */
vrt_session_t *runner_borrow(model_runner *r);
void runner_give_back(model_runner *r, vrt_session_t *s);

/* weights + the largest arena seen: what the zoo budgets with. */
size_t runner_memory_bytes(const model_runner *r);

#endif
