/* model_runner: one shared vrt model and a pool of sessions. */
#include "models/runner.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/status.h"

int runner_load(model_runner *r, const char *path, int threads, char *err, size_t errlen) {
  memset(r, 0, sizeof *r);
  const char *base = strrchr(path, '/');
  snprintf(r->name, sizeof r->name, "%s", base ? base + 1 : path);
  r->threads = threads > 0 ? threads : 1;
  if (vrt_model_load(&r->m, path, vrt_load_default_params())) {
    vigil_err(err, errlen, -1, "cannot load %s: %s", path, vrt_last_error());
    r->m = NULL;
    return -1;
  }
  pthread_mutex_init(&r->mu, NULL);
  return 0;
}

void runner_free(model_runner *r) {
  if (!r || !r->m) return;
  for (int i = 0; i < r->npool; i++) vrt_session_free(r->pool[i]);
  vrt_model_free(r->m);
  pthread_mutex_destroy(&r->mu);
  memset(r, 0, sizeof *r);
}

vrt_session_t *runner_borrow(model_runner *r) {
  pthread_mutex_lock(&r->mu);
  vrt_session_t *s = r->npool ? r->pool[--r->npool] : NULL;
  pthread_mutex_unlock(&r->mu);
  if (!s) {
    vrt_session_params sp = vrt_session_default_params();
    sp.threads = r->threads;
    if (vrt_session_create(&s, r->m, sp)) return NULL;
  }
  return s;
}

void runner_give_back(model_runner *r, vrt_session_t *s) {
  if (!s) return;
  vrt_memory_info mi;
  vrt_session_memory(s, &mi);
  size_t cur = __atomic_load_n(&r->arena_peak, __ATOMIC_RELAXED);
  while (mi.peak_bytes > cur &&
         !__atomic_compare_exchange_n(&r->arena_peak, &cur, mi.peak_bytes, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
  pthread_mutex_lock(&r->mu);
  if (r->npool < RUNNER_POOL_MAX) {
    r->pool[r->npool++] = s;
    s = NULL;
  }
  pthread_mutex_unlock(&r->mu);
  vrt_session_free(s);
}

void runner_outputs_free(vrt_tensor *outs, int nout) {
  for (int i = 0; outs && i < nout; i++) free(outs[i].data);
  free(outs);
}

int runner_run(model_runner *r, const vrt_tensor *in, int nin, vrt_tensor **outs, int *nout, char *err,
               size_t errlen) {
  *outs = NULL;
  *nout = 0;
  vrt_session_t *s = runner_borrow(r);
  if (!s) {
    vigil_err(err, errlen, -1, "%s: cannot create a session: %s", r->name, vrt_last_error());
    return -1;
  }
  const vrt_tensor *o;
  int n, rc = 0;
  if (vrt_session_run(s, in, nin, &o, &n)) {
    vigil_err(err, errlen, -1, "%s: inference failed: %s", r->name, vrt_last_error());
    rc = -1;
  } else {
    vrt_tensor *copy = calloc((size_t)n + 1, sizeof *copy);
    for (int i = 0; copy && i < n; i++) {
      copy[i] = o[i];
      copy[i].data = malloc(o[i].nbytes ? o[i].nbytes : 1);
      if (!copy[i].data) {
        runner_outputs_free(copy, i);
        copy = NULL;
        break;
      }
      memcpy(copy[i].data, o[i].data, o[i].nbytes);
    }
    if (!copy) {
      vigil_err(err, errlen, -1, "out of memory");
      rc = -1;
    } else {
      *outs = copy;
      *nout = n;
    }
  }
  runner_give_back(r, s);
  return rc;
}

size_t runner_memory_bytes(const model_runner *r) {
  if (!r->m) return 0;
  return vrt_model_weight_bytes(r->m) + __atomic_load_n(&r->arena_peak, __ATOMIC_RELAXED);
}
