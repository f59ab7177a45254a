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
  int node, input;
  size_t keylen, bytes;
  void *key, *data;
  int (*unpack)(const void *info, const void *packed, void *dst);
  void *info; /* copy of the request's info */
};

/* ---- original weights: given back once packed ----------------------------
 *
 * A weight that a backend packed is read again only by the op's own kernel:
 * the first, unplanned run of a new input shape, a node refused at plan
 * time, VRT_REFERENCE=1, or packing for another layout. Keeping it resident
 * next to its packed copy doubles the model's memory, so once the one node
 * that reads it has packed it, its pages are given back (MADV_DONTNEED on
 * the whole pages inside it) when its bytes can be had again exactly:
 *   - a weight used in place from the model file's mapping comes back from
 *     the file by itself on the next read (its pages are dropped again when
 *     that reader is done);
 *   - a copy of file bytes (unaligned in the file, in the loader's arena) is
 *     copied back from the file;
 *   - any other (TF.js weights, decoded and transposed; weights made by
 *     fusion) is unpacked from the packed copy when the pack has an exact
 *     inverse (an f32 reorder does; bf16 packing does not, so those stay).
 * The last two would read as zeros while dropped, so whoever reads them pins
 * them first (vrt__model_weights_pin around the own exec and around a plan
 * that reads weights itself, vrt__model_pack before packing for another
 * layout), which restores them under the model's lock; they go again when
 * the last pin goes. A weight that keeps being needed stays for good: pinned
 * by a planned run (that node runs its own kernel every time), or restored
 * twice (a graph whose input shapes change run after run, a token loop, whose
 * every first run reads every weight). Only constants read by one node at one
 * input qualify. */

typedef struct vrt_wstate {
  int node, input; /* the one node that reads it, and where (candidates only) */
  int readers;    /* pins now */
  bool candidate; /* constant, one reader, worth a page or more */
  bool packed;    /* its node has a packed copy it can come back from: may go when no pin holds it */
  bool dropped;   /* pages given back now */
  bool keep;      /* stays from now on (a planned run needed it, or restored twice) */
  int restores;
} vrt_wstate;

static bool in_file(const vrt_value *v) { return v->file_src && v->t.data == v->file_src; }

int vrt__model_weights_init(vrt_model_t *m) {
  const vrt_graph *g = m->g;
  int *uses = calloc((size_t)g->nvalues + 1, sizeof *uses);
  if (!uses) return vrt__err(VRT_ENOMEM, "out of memory");
  for (int i = 0; i < g->nnodes; i++)
    for (int k = 0; k < g->nodes[i].nin; k++)
      if (g->nodes[i].in[k] >= 0) uses[g->nodes[i].in[k]]++;
  int n = 0;
  for (int v = 0; v < g->nvalues; v++) {
    const vrt_value *val = &g->values[v];
    uses[v] = (val->flags & VRT_VAL_CONST) && !(val->flags & VRT_VAL_OUTPUT) && val->t.data && uses[v] == 1 &&
              val->t.nbytes >= ((size_t)8 << 10);
    n += uses[v];
  }
  if (n) {
    m->ws = calloc((size_t)g->nvalues, sizeof *m->ws);
    m->node_pin = calloc((size_t)g->nnodes + 1, 1);
    if (!m->ws || !m->node_pin) {
      free(uses);
      return vrt__err(VRT_ENOMEM, "out of memory");
    }
    for (int i = 0; i < g->nnodes; i++)
      for (int k = 0; k < g->nodes[i].nin; k++) {
        int v = g->nodes[i].in[k];
        if (v < 0 || !uses[v]) continue;
        m->ws[v].candidate = true;
        m->ws[v].node = i;
        m->ws[v].input = k;
        m->node_pin[i] = 1;
      }
  }
  free(uses);
  return 0;
}

/* Under pack_mu: the weight's bytes back where they were. */
static int weight_restore(vrt_model_t *m, int v) {
  const vrt_value *val = &m->g->values[v];
  vrt_wstate *w = &m->ws[v];
  if (!w->dropped) return 0;
  if (val->file_src && !in_file(val)) {
    memcpy(val->t.data, val->file_src, val->t.nbytes);
    vrt__drop_pages(val->file_src, val->t.nbytes); /* the file's pages need not stay */
  } else if (!in_file(val)) {
    struct vrt_packed *p = m->packed;
    while (p && !(p->node == w->node && p->input == w->input && p->unpack)) p = p->next;
    if (!p || p->unpack(p->info, p->data, val->t.data) < 0)
      return vrt__err(VRT_EUNSUPPORTED, "node '%s': cannot restore weight '%s' from its packed copy",
                      m->g->nodes[w->node].name, val->t.name);
  }
  w->dropped = false;
  m->dropped_bytes -= val->t.nbytes;
  if (++w->restores >= 2) w->keep = true;
  return 0;
}

static void weight_drop(vrt_model_t *m, int v) {
  vrt_wstate *w = &m->ws[v];
  if (!w->packed || w->keep || w->dropped || w->readers) return;
  const vrt_value *val = &m->g->values[v];
  vrt__drop_pages(val->t.data, val->t.nbytes);
  w->dropped = true;
  m->dropped_bytes += val->t.nbytes;
}

int vrt__model_weights_pin(const vrt_model_t *cm, int node, bool sticky) {
  vrt_model_t *m = (vrt_model_t *)cm;
  if (!m->node_pin || !m->node_pin[node]) return 0;
  const vrt_node *n = &m->g->nodes[node];
  int rc = 0;
  pthread_mutex_lock(&m->pack_mu);
  for (int k = 0; k < n->nin; k++) {
    int v = n->in[k];
    if (v < 0 || !m->ws[v].candidate) continue;
    m->ws[v].readers++;
    m->ws[v].keep |= sticky;
    int r = weight_restore(m, v);
    if (r < 0 && !rc) rc = r;
  }
  pthread_mutex_unlock(&m->pack_mu);
  return rc;
}

void vrt__model_weights_unpin(const vrt_model_t *cm, int node) {
  vrt_model_t *m = (vrt_model_t *)cm;
  if (!m->node_pin || !m->node_pin[node]) return;
  const vrt_node *n = &m->g->nodes[node];
  pthread_mutex_lock(&m->pack_mu);
  for (int k = 0; k < n->nin; k++) {
    int v = n->in[k];
    if (v < 0 || !m->ws[v].candidate) continue;
    m->ws[v].readers--;
    weight_drop(m, v);
  }
  pthread_mutex_unlock(&m->pack_mu);
}

void vrt__model_weight_stats(const vrt_model_t *cm, size_t *packed, size_t *dropped) {
  vrt_model_t *m = (vrt_model_t *)cm;
  pthread_mutex_lock(&m->pack_mu);
  if (packed) *packed = m->packed_bytes;
  if (dropped) *dropped = m->dropped_bytes;
  pthread_mutex_unlock(&m->pack_mu);
}

/* ---- the packed weights' cache ------------------------------------------- */

const void *vrt__model_pack(const vrt_model_t *cm, const vrt_pack_req *r) {
  /* The model is shared read-only by sessions; the cache is the one part
   * that changes after load, always under pack_mu. */
  vrt_model_t *m = (vrt_model_t *)cm;
  pthread_mutex_lock(&m->pack_mu);
  const vrt_node *n = &m->g->nodes[r->node];
  int wv = r->input >= 0 && r->input < n->nin ? n->in[r->input] : -1;
  if (wv >= 0 && (!m->ws || !m->ws[wv].candidate)) wv = -1;
  struct vrt_packed *p;
  for (p = m->packed; p; p = p->next)
    if (p->node == r->node && p->input == r->input && p->keylen == r->keylen && p->bytes == r->bytes &&
        !memcmp(p->key, r->key, r->keylen))
      break;
  if (!p) {
    p = calloc(1, sizeof *p);
    void *kc = p ? malloc(r->keylen ? r->keylen : 1) : NULL;
    void *info = kc && r->unpack ? malloc(r->info_len ? r->info_len : 1) : NULL;
    void *d = kc && (info || !r->unpack) ? vrt__aligned_alloc(r->bytes) : NULL;
    /* another layout: from the original again */
    int rc = d && wv >= 0 ? weight_restore(m, wv) : 0;
    if (!rc) rc = d ? r->pack(r->ctx, d) : vrt__err(VRT_ENOMEM, "out of memory packing weights of node %d", r->node);
    if (rc < 0) {
      vrt__aligned_free(d);
      free(info);
      free(kc);
      free(p);
      pthread_mutex_unlock(&m->pack_mu);
      return NULL;
    }
    memcpy(kc, r->key, r->keylen);
    if (info) memcpy(info, r->info, r->info_len);
    *p = (struct vrt_packed){m->packed, r->node, r->input, r->keylen, r->bytes, kc, d, r->unpack, info};
    m->packed = p;
    m->packed_bytes += r->bytes;
  }
  if (wv >= 0 && (p->unpack || m->g->values[wv].file_src)) {
    /* its one reader has a packed copy, and the bytes can be had again: the original's pages may go */
    m->ws[wv].packed = true;
    weight_drop(m, wv);
  }
  pthread_mutex_unlock(&m->pack_mu);
  return p->data;
}

void vrt__model_pack_free(vrt_model_t *m) {
  for (struct vrt_packed *p = m->packed, *nx; p; p = nx) {
    nx = p->next;
    vrt__aligned_free(p->data);
    free(p->key);
    free(p->info);
    free(p);
  }
  m->packed = NULL;
  m->packed_bytes = 0;
}
