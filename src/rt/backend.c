/* The backend table, per-node backend choice for a plan, and the model's
 * cache of packed weights (see the essay in backend.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "model.h"

/* Default priority order. A new backend adds one line here. */
static const vrt_backend *const table[] = {
    &vrt__backend_xnn, /* only NHWC max/average pooling, where it beats oneDNN (bench/README.md) */
    &vrt__backend_onednn,
};
#define NTABLE ((int)(sizeof table / sizeof table[0]))

static bool env_on(const char *name) {
  const char *e = getenv(name);
  return e && *e && strcmp(e, "0") != 0;
}

int vrt__backends_enabled(const vrt_backend **out, int cap) {
  int n = 0;
  if (env_on("VRT_REFERENCE")) {
    if (cap > 0) out[0] = NULL;
    return 0;
  }
  const char *e = getenv("VRT_BACKENDS");
  if (!e || !*e) {
    for (int i = 0; i < NTABLE && n < cap - 1; i++) out[n++] = table[i];
  } else {
    /* names in the order given; unknown names are ignored ("none" enables none) */
    const char *p = e;
    while (*p && n < cap - 1) {
      size_t len = strcspn(p, ",");
      for (int i = 0; i < NTABLE; i++) {
        bool dup = false;
        for (int k = 0; k < n; k++) dup |= out[k] == table[i];
        if (!dup && strlen(table[i]->name) == len && !strncmp(p, table[i]->name, len)) out[n++] = table[i];
      }
      p += len;
      if (*p == ',') p++;
    }
  }
  if (cap > 0) out[n] = NULL;
  return n;
}

uint64_t vrt__shape_sig(const vrt_tensor *const *in, int nin) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a over dtype, rank and dims */
#define MIX(x) (h = (h ^ (uint64_t)(x)) * 1099511628211ull)
  for (int k = 0; k < nin; k++) {
    if (!in[k]) {
      MIX(0xffff);
      continue;
    }
    MIX(in[k]->dtype);
    MIX(in[k]->ndim);
    for (int d = 0; d < in[k]->ndim; d++) MIX(in[k]->dims[d]);
  }
#undef MIX
  return h;
}

int vrt__kernel_plan_on(const vrt_backend *b, const vrt_kernel_req *rq, vrt_kernel *k) {
  memset(k, 0, sizeof *k);
  k->sig = vrt__shape_sig(rq->in, rq->nin);
  void *st = NULL;
  int rc = b->plan(rq, &st);
  if (rc == 0) {
    k->b = b;
    k->state = st;
    return 0;
  }
  /* one line per refusal, but a process running many sessions of a model
   * with many odd nodes would repeat them: the first 32 are enough */
  static _Atomic int logged;
  int nlog = logged++;
  if (nlog < 32)
    vrt__log("%s backend refused: %s; the node runs on the next backend or its own kernel", b->name,
             vrt_last_error());
  else if (nlog == 32)
    vrt__log("further backend refusals are not logged");
  vrt__err_clear();
  return rc < 0 ? rc : VRT_EUNSUPPORTED;
}

void vrt__kernel_plan(const vrt_kernel_req *rq, vrt_kernel *k) {
  memset(k, 0, sizeof *k);
  const vrt_backend *bs[8];
  int nb = vrt__backends_enabled(bs, 8);
  for (int i = 0; i < nb; i++)
    if (bs[i]->supports_op(rq) && vrt__kernel_plan_on(bs[i], rq, k) == 0) return;
  k->sig = vrt__shape_sig(rq->in, rq->nin);
}

void vrt__kernel_release(vrt_kernel *k) {
  if (k->b && k->b->release) k->b->release(k->state);
  memset(k, 0, sizeof *k);
}

void vrt__log(const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(stderr, "vrt: %s\n", line);
}

/* ---- packed weights, per model ------------------------------------------- */

struct vrt_packed {
  struct vrt_packed *next;
  int node;
  size_t keylen, bytes;
  void *key, *data;
};

const void *vrt__model_pack(const vrt_model_t *cm, int node, const void *key, size_t keylen, size_t bytes,
                            int (*pack)(void *ctx, void *dst), void *ctx) {
  /* The model is shared read-only by sessions; the cache is the one part
   * that changes after load, always under pack_mu. */
  vrt_model_t *m = (vrt_model_t *)cm;
  pthread_mutex_lock(&m->pack_mu);
  struct vrt_packed *p;
  for (p = m->packed; p; p = p->next)
    if (p->node == node && p->keylen == keylen && p->bytes == bytes && !memcmp(p->key, key, keylen)) break;
  if (!p) {
    p = calloc(1, sizeof *p);
    void *kc = p ? malloc(keylen ? keylen : 1) : NULL;
    void *d = kc ? vrt__aligned_alloc(bytes) : NULL;
    int rc = d ? pack(ctx, d) : vrt__err(VRT_ENOMEM, "out of memory packing weights of node %d", node);
    if (rc < 0) {
      vrt__aligned_free(d);
      free(kc);
      free(p);
      pthread_mutex_unlock(&m->pack_mu);
      return NULL;
    }
    memcpy(kc, key, keylen);
    *p = (struct vrt_packed){m->packed, node, keylen, bytes, kc, d};
    m->packed = p;
    m->packed_bytes += bytes;
  }
  pthread_mutex_unlock(&m->pack_mu);
  return p->data;
}

void vrt__model_pack_free(vrt_model_t *m) {
  for (struct vrt_packed *p = m->packed, *nx; p; p = nx) {
    nx = p->next;
    vrt__aligned_free(p->data);
    free(p->key);
    free(p);
  }
  m->packed = NULL;
  m->packed_bytes = 0;
}
