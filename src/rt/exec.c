/* Sessions: binding inputs, per-shape plans, the memory arena and the node
 * loop.
 *
 * How a run works. The first run for a given set of input shapes executes
 * node by node, asking each op's infer for its output shapes with the real
 * input values at hand (so shape-computing subgraphs such as Shape -> Gather
 * -> Concat -> Reshape work even when the input has dynamic dimensions), and
 * gives every intermediate its own heap buffer. From the shapes it recorded,
 * it then builds a plan: each intermediate's lifetime (producer to last
 * consumer; graph outputs live to the end) and an offset in one arena,
 * assigned greedily, largest first, at the lowest offset that overlaps no
 * placed value whose lifetime intersects. Later runs with the same input
 * shapes reuse the plan: one arena, no allocation per node. Infer still runs
 * per node (it is cheap and per node, not per element); a value whose actual
 * size exceeds its slot (only data-dependent ops such as NonZero can do that)
 * gets a heap buffer for that run. Plans are cached per input-shape key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "exec.h"
#include "model.h"
#include "team.h"

#define VRT_ALIGN 64
#define VRT_MAX_PLANS 16

typedef struct vrt_plan {
  int64_t key[16 * VRT_MAX_DIMS + 17]; /* ndim + dims of each input, then the team size */
  int keylen;
  size_t *offset;  /* per value; SIZE_MAX = not in the arena */
  size_t *size;    /* per value planned bytes (in offset's block) */
  size_t arena_bytes;
  vrt_kernel *kern; /* per node: the backend kernel of this plan (backend.h) */
  int *alias;       /* per value: the input value whose arena bytes it takes over (-1: none) */
  char *skip;       /* per node: runs as a view (views.c): its output is already in place */
  int views;        /* how many nodes do */
  int64_t runs;     /* planned runs so far (the first one is not timed: cold) */
} vrt_plan;

struct vrt_session {
  const vrt_model_t *m;
  int threads;        /* the most a run may use (vrt_session_params.threads) */
  int team_now;       /* threads of the run (and the plan) in progress: 1 or threads */
  bool adaptive;      /* threads > 1 and VRT_ADAPTIVE_THREADS is not 0: team.h */
  vrt_team team;      /* which of 1 and threads has been faster lately */
  uint64_t team_key;  /* hash of the input shapes the team statistics are for */
  size_t max_bytes;   /* 0 = no limit */
  vrt_tensor *vals;   /* runtime view of every value; one block with outs, heap, last_use */
  void **heap;        /* per value: heap buffer owned for this run, or NULL */
  vrt_plan plans[VRT_MAX_PLANS];
  int nplans, next_evict;
  int active_plan;    /* plan whose arena is current, -1 none */
  void *arena;
  size_t arena_cap;
  size_t peak;
  int *last_use;      /* per value: last node index reading it */
  const vrt_tensor **out_ptrs;
  vrt_tensor *outs;
  vrt_scratch_list sl; /* kernel scratch, kept across runs */
  double *prof;        /* VRT_PROFILE: seconds per op [op*2 + on a backend] */
  int64_t *prof_n;     /* calls, in prof's block */
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* VRT_PROFILE=1: time per op type (planned runs only), printed to stderr when
 * the session is freed: where a model's time goes, and which backend ran it. */
static void prof_print(const vrt_session_t *s) {
  double total = 0;
  for (int i = 0; i < 2 * VRT_OP_COUNT; i++) total += s->prof[i];
  fprintf(stderr, "vrt profile: %.1f ms in planned runs\n", total * 1e3);
  for (;;) {
    int best = -1;
    for (int i = 0; i < 2 * VRT_OP_COUNT; i++)
      if (s->prof[i] > 0 && (best < 0 || s->prof[i] > s->prof[best])) best = i;
    if (best < 0 || s->prof[best] < total * 0.005) break;
    fprintf(stderr, "  %-24s %-9s %9.2f ms %5.1f%% %8lld calls\n", vrt_op_name((vrt_op)(best / 2)),
            best & 1 ? "backend" : "own", s->prof[best] * 1e3, 100 * s->prof[best] / total, (long long)s->prof_n[best]);
    s->prof[best] = -s->prof[best];
  }
}

vrt_session_params vrt_session_default_params(void) {
  vrt_session_params p = {.threads = 1};
  return p;
}

int vrt_session_create(vrt_session_t **out, const vrt_model_t *m, vrt_session_params p) {
  if (!out || !m) return vrt__err(VRT_EINVAL, "vrt_session_create: NULL argument");
  const vrt_graph *g = m->g;
  vrt_session_t *s = calloc(1, sizeof *s);
  if (!s) return vrt__err(VRT_ENOMEM, "out of memory");
  s->m = m;
  s->threads = p.threads > 0 ? p.threads : 1;
  s->team_now = s->threads;
  const char *ae = getenv("VRT_ADAPTIVE_THREADS");
  s->adaptive = s->threads > 1 && !(ae && !strcmp(ae, "0"));
  vrt_team_init(&s->team);
  s->max_bytes = p.max_bytes;
  s->active_plan = -1;
  /* the per-value arrays and the outputs live as long as the session: one
   * block, largest alignment first */
  size_t nv = (size_t)g->nvalues + 1, no = (size_t)g->noutputs + 1;
  s->vals = calloc(1, nv * (sizeof *s->vals + sizeof *s->heap + sizeof *s->last_use) + no * sizeof *s->outs);
  if (!s->vals) {
    free(s);
    return vrt__err(VRT_ENOMEM, "out of memory");
  }
  s->outs = s->vals + nv;
  s->heap = (void **)(s->outs + no);
  s->last_use = (int *)(s->heap + nv);
  const char *pe = getenv("VRT_PROFILE");
  if (pe && *pe && strcmp(pe, "0") && (s->prof = calloc(2 * VRT_OP_COUNT, sizeof *s->prof + sizeof *s->prof_n)))
    s->prof_n = (int64_t *)(s->prof + 2 * VRT_OP_COUNT);
  for (int v = 0; v < g->nvalues; v++) s->last_use[v] = -1;
  for (int i = 0; i < g->nnodes; i++)
    for (int k = 0; k < g->nodes[i].nin; k++)
      if (g->nodes[i].in[k] >= 0) s->last_use[g->nodes[i].in[k]] = i;
  for (int i = 0; i < g->noutputs; i++) s->last_use[g->outputs[i]] = g->nnodes;
  *out = s;
  return 0;
}

static size_t align_up(size_t x) { return (x + VRT_ALIGN - 1) & ~(size_t)(VRT_ALIGN - 1); }

static void free_kernels(const vrt_graph *g, vrt_plan *p) {
  if (!p->kern) return;
  for (int i = 0; i < g->nnodes; i++) vrt__kernel_release(&p->kern[i]);
  free(p->kern);
  p->kern = NULL;
}

/* Shapes of node i as the first run recorded them (constants keep their
 * data, everything else has none). */
typedef struct node_view {
  vrt_tensor tin[VRT_MAX_NODE_IO], tout[VRT_MAX_NODE_IO];
  const vrt_tensor *in[VRT_MAX_NODE_IO];
  const void *in_layout[VRT_MAX_NODE_IO], *out_layout[VRT_MAX_NODE_IO];
  bool out_ok[VRT_MAX_NODE_IO];
  size_t out_bytes[VRT_MAX_NODE_IO];
  int inplace[VRT_MAX_NODE_IO];
  vrt_kernel_req rq;
} node_view;

static void view_node(const vrt_session_t *s, int i, node_view *w) {
  const vrt_graph *g = s->m->g;
  const vrt_node *n = &g->nodes[i];
  for (int k = 0; k < n->nin; k++) {
    int v = n->in[k];
    w->in[k] = NULL;
    w->in_layout[k] = NULL;
    if (v < 0) continue;
    w->tin[k] = s->vals[v];
    if (!(g->values[v].flags & VRT_VAL_CONST)) w->tin[k].data = NULL;
    w->in[k] = &w->tin[k];
  }
  for (int k = 0; k < n->nout; k++) {
    w->tout[k] = s->vals[n->out[k]];
    w->tout[k].data = NULL;
    w->out_ok[k] = false;
    w->out_layout[k] = NULL;
    w->out_bytes[k] = 0;
    w->inplace[k] = -1;
  }
  w->rq = (vrt_kernel_req){s->m, g, i, n, w->in, n->nin, w->tout, n->nout, s->team_now, NULL, NULL, NULL, NULL, NULL};
}

/* Which values may stay in a backend's private layout: produced and read
 * only by nodes assigned to that backend, at input slots it accepts, and not
 * graph outputs. Graphs with data-dependent ops keep everything plain (a
 * node whose input shapes change between runs falls back to its own exec,
 * which only reads plain data). */
static void mark_private(const vrt_session_t *s, const vrt_backend *const *assigned, char *priv, node_view *w) {
  const vrt_graph *g = s->m->g;
  memset(priv, 0, (size_t)g->nvalues + 1);
  for (int i = 0; i < g->nnodes; i++) {
    const vrt_opdef *d = vrt_opdef_get((vrt_op)g->nodes[i].op);
    if (d && (d->flags & VRT_OPF_DATA_DEPENDENT)) return;
  }
  for (int i = 0; i < g->nnodes; i++)
    if (assigned[i] && assigned[i]->accepts_private)
      for (int k = 0; k < g->nodes[i].nout; k++) priv[g->nodes[i].out[k]] = 1;
  for (int i = 0; i < g->noutputs; i++) priv[g->outputs[i]] = 0;
  for (int i = 0; i < g->nnodes; i++) {
    const vrt_node *n = &g->nodes[i];
    for (int k = 0; k < n->nin; k++) {
      int v = n->in[k];
      if (v < 0 || !priv[v]) continue;
      const vrt_backend *pb = assigned[g->values[v].producer];
      if (assigned[i] != pb) {
        priv[v] = 0;
        continue;
      }
      view_node(s, i, w);
      if (!pb->accepts_private(&w->rq, k)) priv[v] = 0;
    }
  }
  /* a join stored plain can be a view of its inputs (views.c) if they are
   * plain too: their producers write them in place, which costs no more
   * than leaving a private layout for the join to convert */
  for (int i = 0; i < g->nnodes; i++) {
    const vrt_node *n = &g->nodes[i];
    if (n->op != VRT_OP_Concat || priv[n->out[0]] || !vrt__views_enabled() ||
        !vrt__view_concat_shape(g, s->vals, i))
      continue;
    for (int k = 0; k < n->nin; k++)
      if (n->in[k] >= 0) priv[n->in[k]] = 0;
  }
}

/* Ask the backends for every node's kernel of plan p, from the shapes the
 * first run recorded in s->vals (backend.h): assign each node to the first
 * backend that supports it, decide which values stay in a private layout,
 * plan in node order (a producer's layout is known before its readers plan),
 * and grow the arena slots of private values. A node refused at plan time
 * that touches a private value is banned, the round goes on to find every
 * other such node (a graph with a refused node in each of its 16 blocks
 * must not need 16 rounds), and then everything is planned again (at most a
 * few rounds); without memory every node runs its own exec. layout[v]: the
 * private layout value v is stored in, NULL for plain. */
static void plan_kernels(vrt_session_t *s, vrt_plan *p, const void **layout) {
  const vrt_graph *g = s->m->g;
  const vrt_backend *bs[8];
  memset(layout, 0, sizeof *layout * ((size_t)g->nvalues + 1));
  int nb = vrt__backends_enabled(bs, 8);
  if (!nb) return;
  p->kern = calloc((size_t)g->nnodes + 1, sizeof *p->kern);
  const vrt_backend **assigned = calloc((size_t)g->nnodes + 1, sizeof *assigned);
  char *priv = calloc((size_t)g->nvalues + 1, 1);
  node_view *w = malloc(sizeof *w);
  if (!p->kern || !assigned || !priv || !w) {
    free(p->kern);
    p->kern = NULL;
    goto out;
  }
  for (int i = 0; i < g->nnodes; i++) {
    view_node(s, i, w);
    for (int b = 0; b < nb && !assigned[i]; b++)
      if (bs[b]->supports_op(&w->rq)) assigned[i] = bs[b];
  }
  for (int round = 0; round < 4; round++) {
    for (int v = 0; v < g->nvalues; v++) p->alias[v] = -1;
    mark_private(s, assigned, priv, w);
    memset(layout, 0, sizeof *layout * (size_t)g->nvalues);
    bool again = false;
    for (int i = 0; i < g->nnodes; i++) {
      const vrt_node *n = &g->nodes[i];
      view_node(s, i, w);
      if (!assigned[i]) {
        p->kern[i].sig = vrt__shape_sig(w->in, n->nin);
        continue;
      }
      bool touches = false;
      for (int k = 0; k < n->nin; k++) {
        w->in_layout[k] = n->in[k] >= 0 ? layout[n->in[k]] : NULL;
        touches |= n->in[k] >= 0 && priv[n->in[k]];
      }
      for (int k = 0; k < n->nout; k++) touches |= (w->out_ok[k] = priv[n->out[k]] != 0);
      w->rq.in_layout = w->in_layout;
      w->rq.out_private_ok = w->out_ok;
      w->rq.out_layout = w->out_layout;
      w->rq.out_bytes = w->out_bytes;
      w->rq.out_inplace = w->inplace;
      if (vrt__kernel_plan_on(assigned[i], &w->rq, &p->kern[i]) == 0) {
        for (int k = 0; k < n->nout; k++) {
          int v = n->out[k], j = w->inplace[k];
          if (j >= 0 && j < n->nin) p->alias[v] = n->in[j];
          if (!w->out_layout[k]) continue;
          layout[v] = w->out_layout[k];
          if (align_up(w->out_bytes[k]) > p->size[v]) p->size[v] = align_up(w->out_bytes[k]);
        }
        continue;
      }
      if (touches) { /* banned: its own exec, on plain data, from the next round */
        assigned[i] = NULL;
        again = true;
        continue;
      }
      /* refused on plain data (it stays so in later rounds: fewer values
       * qualify as private each round): another backend or its own exec */
      view_node(s, i, w);
      vrt__kernel_plan(&w->rq, &p->kern[i]); /* another backend, plain */
    }
    if (!again) break;
    for (int j = 0; j < g->nnodes; j++) vrt__kernel_release(&p->kern[j]);
    if (round == 3) { /* give up on kernels rather than loop */
      free_kernels(g, p);
      break;
    }
  }
out:
  if (!p->kern) memset(layout, 0, sizeof *layout * ((size_t)g->nvalues + 1));
  free(assigned);
  free(priv);
  free(w);
}

static void plan_free(const vrt_graph *g, vrt_plan *p) {
  free(p->offset);
  free(p->alias);
  free(p->skip);
  free_kernels(g, p);
}

static void free_heap(vrt_session_t *s) {
  for (int v = 0; v < s->m->g->nvalues; v++)
    if (s->heap[v]) {
      vrt__aligned_free(s->heap[v]);
      s->heap[v] = NULL;
    }
}

void vrt_session_free(vrt_session_t *s) {
  if (!s) return;
  if (s->prof && s->prof_n) prof_print(s);
  free(s->prof);
  free_heap(s);
  for (int i = 0; i < s->nplans; i++) plan_free(s->m->g, &s->plans[i]);
  vrt_scratch_free(&s->sl);
  vrt__aligned_free(s->arena);
  free(s->vals);
  free(s);
}

void vrt_session_memory(const vrt_session_t *s, vrt_memory_info *out) {
  memset(out, 0, sizeof *out);
  out->weight_bytes = s->m->weight_bytes;
  out->arena_bytes = s->arena_cap;
  out->peak_bytes = s->peak;
  out->plan_count = (size_t)s->nplans;
  out->view_nodes = s->active_plan >= 0 ? (size_t)s->plans[s->active_plan].views : 0;
}

int vrt_session_threads_used(const vrt_session_t *s) { return s->team_now; }

const char *vrt__session_node_backend(const vrt_session_t *s, int node) {
  if (s->active_plan < 0 || node < 0 || node >= s->m->g->nnodes) return NULL;
  const vrt_plan *p = &s->plans[s->active_plan];
  return p->kern && p->kern[node].b ? p->kern[node].b->name : NULL;
}


/* Bind the caller's inputs to the graph inputs, checking dtype and rank and
 * every static dimension. */
static int bind_inputs(vrt_session_t *s, const vrt_tensor *inputs, int ninputs) {
  const vrt_graph *g = s->m->g;
  if (ninputs != g->ninputs) {
    /* allow fewer only if names cover all inputs: they can't, so be strict */
    return vrt__err(VRT_EINVAL, "model has %d inputs, %d given", g->ninputs, ninputs);
  }
  for (int i = 0; i < g->ninputs; i++) s->vals[g->inputs[i]].data = NULL;
  for (int i = 0; i < ninputs; i++) {
    const vrt_tensor *t = &inputs[i];
    int slot = i;
    if (t->name) {
      slot = -1;
      for (int k = 0; k < g->ninputs; k++)
        if (!strcmp(g->values[g->inputs[k]].t.name, t->name)) slot = k;
      if (slot < 0) return vrt__err(VRT_ENOTFOUND, "model has no input named '%s'", t->name);
    }
    const vrt_value *decl = &g->values[g->inputs[slot]];
    if (s->vals[g->inputs[slot]].data)
      return vrt__err(VRT_EINVAL, "input '%s' given twice", decl->t.name);
    if (t->dtype != decl->t.dtype)
      return vrt__err(VRT_ETYPE, "input '%s': expected %s, got %s", decl->t.name, vrt_dtype_name(decl->t.dtype),
                      vrt_dtype_name(t->dtype));
    char b1[128], b2[128];
    if (t->ndim < 0 || t->ndim > VRT_MAX_DIMS || (decl->t.ndim >= 0 && t->ndim != decl->t.ndim))
      return vrt__err(VRT_ESHAPE, "input '%s': expected shape %s, got rank %d", decl->t.name,
                      vrt__shape_str(decl->t.dims, decl->t.ndim, b1, sizeof b1), t->ndim);
    for (int d = 0; d < t->ndim; d++)
      if (t->dims[d] < 0 || (decl->t.ndim >= 0 && decl->t.dims[d] >= 0 && decl->t.dims[d] != t->dims[d]))
        return vrt__err(VRT_ESHAPE, "input '%s': expected shape %s, got %s", decl->t.name,
                        vrt__shape_str(decl->t.dims, decl->t.ndim, b1, sizeof b1),
                        vrt__shape_str(t->dims, t->ndim, b2, sizeof b2));
    size_t bytes;
    if (!vrt__tensor_bytes(t, &bytes) || (t->nbytes && t->nbytes < bytes) || (!t->data && bytes))
      return vrt__err(VRT_EINVAL, "input '%s': data is missing or smaller than its shape", decl->t.name);
    vrt_tensor *rt = &s->vals[g->inputs[slot]];
    *rt = *t;
    rt->name = decl->t.name;
    rt->nbytes = bytes;
    if (!rt->data) rt->data = (void *)"";
  }
  for (int i = 0; i < g->ninputs; i++)
    if (!s->vals[g->inputs[i]].data)
      return vrt__err(VRT_EINVAL, "input '%s' was not given", g->values[g->inputs[i]].t.name);
  return 0;
}

static int find_plan(vrt_session_t *s, const int64_t *key, int keylen) {
  for (int i = 0; i < s->nplans; i++)
    if (s->plans[i].keylen == keylen && !memcmp(s->plans[i].key, key, sizeof(int64_t) * (size_t)keylen))
      return i;
  return -1;
}

/* Value v needs size bytes of the arena from node start (its producer)
 * through node end (its last reader). */
typedef struct {
  int v;
  size_t size;
  int start, end;
} live_range;

/* Largest first; equal sizes in value order, so that a plan does not depend
 * on how qsort orders ties. */
static int cmp_size_desc(const void *a, const void *b) {
  const live_range *x = a, *y = b;
  if (x->size != y->size) return x->size < y->size ? 1 : -1;
  return x->v - y->v;
}

/* A node whose output took over an input's arena bytes (settle_aliases) but
 * runs its own exec (a shape its kernel was not planned for, or
 * VRT_REFERENCE=1): the own kernels may write their output before reading
 * that input, so they read a copy of it (in[] is pointed at copy[]). */
static int unalias_inputs(const vrt_plan *p, const vrt_node *n, const vrt_tensor **in, vrt_tensor *copy,
                          vrt_exec_ctx *x) {
  for (int k = 0; k < n->nout; k++) {
    int r = p->alias[n->out[k]];
    for (int j = 0; r >= 0 && j < n->nin; j++) {
      if (n->in[j] != r) continue;
      copy[j] = *in[j];
      if (!(copy[j].data = x->scratch(x, in[j]->nbytes ? in[j]->nbytes : 1)))
        return vrt__err(VRT_ENOMEM, "node '%s': out of memory for an input copy", n->name);
      memcpy(copy[j].data, in[j]->data, in[j]->nbytes);
      in[j] = &copy[j];
    }
  }
  return 0;
}

/* The value whose arena bytes v's chain of in-place outputs shares. */
static int alias_root(const vrt_plan *p, int v) {
  while (p->alias[v] >= 0) v = p->alias[v];
  return v;
}

/* Keeps the output aliases the kernels offered (plan_kernels) that are safe:
 * value v takes the bytes of input r of its producer when r is an arena
 * value that dies there, read by no other input slot of that node, with
 * room for v. Then r's slot lives on until v's last reader (end[], size[]
 * of the root of a chain grow) and v is placed at r's offset; the rest are
 * dropped (-1). */
static void settle_aliases(const vrt_session_t *s, vrt_plan *p, int *end) {
  const vrt_graph *g = s->m->g;
  for (int v = 0; v < g->nvalues; v++) {
    int r = p->alias[v], i = g->values[v].producer;
    if (r < 0) continue;
    p->alias[v] = -1;
    if (i < 0 || g->values[r].producer < 0 || (g->values[r].flags & (VRT_VAL_CONST | VRT_VAL_INPUT))) continue;
    if (s->last_use[r] != i || p->size[v] > p->size[r]) continue;
    const vrt_node *n = &g->nodes[i];
    int reads = 0;
    for (int k = 0; k < n->nin; k++) reads += n->in[k] == r;
    if (reads != 1) continue;
    p->alias[v] = r;
  }
  /* roots take their aliases' lifetimes (a chain r <- v <- w: all of it) */
  for (int v = 0; v < g->nvalues; v++) {
    if (p->alias[v] < 0) continue;
    int r = alias_root(p, v);
    if (end[v] > end[r]) end[r] = end[v];
  }
}

/* Greedy offset assignment (see the essay at the top of the file). */
static int build_plan(vrt_session_t *s, const int64_t *key, int keylen) {
  const vrt_graph *g = s->m->g;
  int slot;
  if (s->nplans < VRT_MAX_PLANS) {
    slot = s->nplans++;
  } else {
    slot = s->next_evict;
    s->next_evict = (s->next_evict + 1) % VRT_MAX_PLANS;
    plan_free(g, &s->plans[slot]);
    if (s->active_plan == slot) s->active_plan = -1;
  }
  vrt_plan *p = &s->plans[slot];
  memset(p, 0, sizeof *p);
  memcpy(p->key, key, sizeof(int64_t) * (size_t)keylen);
  p->keylen = keylen;
  p->offset = calloc(2 * ((size_t)g->nvalues + 1), sizeof(size_t));
  if (p->offset) p->size = p->offset + g->nvalues + 1;
  p->alias = malloc(sizeof(int) * ((size_t)g->nvalues + 1));
  live_range *lr = malloc(sizeof *lr * (size_t)(g->nvalues + 1));
  if (!p->offset || !p->alias || !lr) {
    free(lr);
    return vrt__err(VRT_ENOMEM, "out of memory planning");
  }
  for (int v = 0; v < g->nvalues; v++) p->alias[v] = -1;
  int n = 0;
  for (int v = 0; v < g->nvalues; v++) {
    p->offset[v] = SIZE_MAX;
    const vrt_value *val = &g->values[v];
    if (val->producer < 0 || (val->flags & (VRT_VAL_CONST | VRT_VAL_INPUT))) continue;
    p->size[v] = align_up(s->vals[v].nbytes ? s->vals[v].nbytes : 1);
  }
  /* per value: its stored layout (plan_kernels), then the groups of views */
  size_t nv = (size_t)g->nvalues + 1;
  const void **layout = calloc(nv, sizeof *layout);
  vrt_views vw = {NULL};
  /* one block, widest members first: off, ext, up, gstart, gend, end, view */
  vw.off = malloc(nv * (2 * sizeof(size_t) + 4 * sizeof(int) + 1));
  p->skip = calloc((size_t)g->nnodes + 1, 1);
  if (!layout || !vw.off || !p->skip) {
    free(layout);
    free(vw.off);
    free(lr);
    return vrt__err(VRT_ENOMEM, "out of memory planning");
  }
  vw.ext = vw.off + nv;
  vw.up = (int *)(vw.ext + nv);
  int *gstart = vw.up + nv, *gend = gstart + nv, *end = gend + nv;
  vw.view = (char *)(end + nv);
  plan_kernels(s, p, layout); /* may grow the slots of values kept in a private layout */
  /* how each value is stored, for the views: plain, channel blocks, other */
  int *block = gstart; /* borrowed: the group ranges are computed after */
  for (int v = 0; v < g->nvalues; v++) {
    int pr = g->values[v].producer;
    const vrt_backend *b = layout[v] && p->kern && pr >= 0 && pr < g->nnodes ? p->kern[pr].b : NULL;
    block[v] = !layout[v] ? 1 : b && b->channel_block ? b->channel_block(layout[v]) : 0;
  }
  p->views = vrt__views_plan(g, s->vals, block, p->skip, &vw);
  free(layout);
  for (int i = 0; i < g->nnodes && p->kern; i++) /* a view runs no kernel */
    if (p->skip[i]) vrt__kernel_release(&p->kern[i]);
  /* in-place outputs only among values that are in no group of views (a
   * member's bytes are shared with others that live on) */
  for (int v = 0; v < g->nvalues; v++) gend[v] = 0;
  for (int v = 0; v < g->nvalues; v++)
    if (vw.up[v] >= 0) gend[v] = gend[vw.up[v]] = 1;
  for (int v = 0; v < g->nvalues; v++) {
    int r = p->alias[v];
    if (r >= 0 && (gend[v] || gend[r])) p->alias[v] = -1;
  }
  for (int v = 0; v < g->nvalues; v++) {
    const vrt_value *val = &g->values[v];
    end[v] = s->last_use[v] < 0 ? val->producer : s->last_use[v];
  }
  settle_aliases(s, p, end);
  /* a group of views is one block: its root's, live while any member is */
  for (int v = 0; v < g->nvalues; v++) gstart[v] = INT32_MAX, gend[v] = -1;
  for (int v = 0; v < g->nvalues; v++) {
    const vrt_value *val = &g->values[v];
    if (val->producer < 0 || (val->flags & (VRT_VAL_CONST | VRT_VAL_INPUT)) || p->alias[v] >= 0) continue;
    size_t pos;
    int r = vrt__views_root(&vw, v, &pos);
    if (val->producer < gstart[r]) gstart[r] = val->producer;
    if (end[v] > gend[r]) gend[r] = end[v];
  }
  for (int v = 0; v < g->nvalues; v++) {
    if (gend[v] < 0 || vw.up[v] >= 0) continue;
    size_t size = align_up(vw.ext[v]) > p->size[v] ? align_up(vw.ext[v]) : p->size[v];
    lr[n++] = (live_range){v, size, gstart[v], gend[v]};
  }
  qsort(lr, (size_t)n, sizeof *lr, cmp_size_desc);
  /* placed[] holds indices into lr of values already given an offset */
  int *placed = malloc(sizeof(int) * (size_t)(n + 1));
  if (!placed) {
    free(vw.off);
    free(lr);
    return vrt__err(VRT_ENOMEM, "out of memory planning");
  }
  int np = 0;
  size_t total = 0;
  for (int i = 0; i < n; i++) {
    size_t off = 0;
    bool moved = true;
    while (moved) { /* first fit: bump past any overlapping placed block */
      moved = false;
      for (int k = 0; k < np; k++) {
        const live_range *o = &lr[placed[k]];
        if (o->end < lr[i].start || lr[i].end < o->start) continue;
        size_t oo = p->offset[o->v];
        if (off < oo + o->size && oo < off + lr[i].size) {
          off = oo + o->size;
          moved = true;
        }
      }
    }
    p->offset[lr[i].v] = off;
    placed[np++] = i;
    if (off + lr[i].size > total) total = off + lr[i].size;
  }
  for (int v = 0; v < g->nvalues; v++) { /* members: where they sit in their root's block */
    size_t pos;
    int r = vrt__views_root(&vw, v, &pos);
    if (r != v && gend[r] >= 0) p->offset[v] = p->offset[r] + pos;
  }
  free(vw.off);
  free(placed);
  free(lr);
  for (int v = 0; v < g->nvalues; v++) /* an alias's root was placed (settle_aliases) */
    if (p->alias[v] >= 0) p->offset[v] = p->offset[alias_root(p, v)];
  p->arena_bytes = total;
  return slot;
}

static int use_plan(vrt_session_t *s, int slot) {
  vrt_plan *p = &s->plans[slot];
  if (p->arena_bytes > s->arena_cap) {
    if (s->max_bytes && p->arena_bytes > s->max_bytes)
      return vrt__err(VRT_ELIMIT, "the run needs a %zu-byte arena, over the session limit of %zu", p->arena_bytes,
                      s->max_bytes);
    void *a = vrt__aligned_alloc(p->arena_bytes);
    if (!a) return vrt__err(VRT_ENOMEM, "out of memory for a %zu-byte arena", p->arena_bytes);
    vrt__aligned_free(s->arena);
    s->arena = a;
    s->arena_cap = p->arena_bytes;
  }
  s->active_plan = slot;
  return 0;
}

/* Are the inputs and output of a node planned as a view where the plan put
 * them? (Not when one went to the heap: then the node copies after all.) */
static bool view_in_place(const vrt_session_t *s, const vrt_plan *p, const vrt_node *n) {
  int nin = n->op == VRT_OP_Concat ? n->nin : 1;
  for (int k = -1; k < nin; k++) {
    int v = k < 0 ? n->out[0] : n->in[k];
    if (p->offset[v] == SIZE_MAX || s->vals[v].data != (char *)s->arena + p->offset[v]) return false;
  }
  return true;
}

int vrt_session_run(vrt_session_t *s, const vrt_tensor *inputs, int ninputs, const vrt_tensor **outputs,
                    int *noutputs) {
  if (!s || (!inputs && ninputs) || !outputs || !noutputs)
    return vrt__err(VRT_EINVAL, "vrt_session_run: NULL argument");
  vrt__err_clear();
  const vrt_graph *g = s->m->g;
  free_heap(s);
  for (int v = 0; v < g->nvalues; v++) {
    if (g->values[v].flags & VRT_VAL_CONST) s->vals[v] = g->values[v].t;
    else if (!(g->values[v].flags & VRT_VAL_INPUT)) memset(&s->vals[v], 0, sizeof s->vals[v]);
  }
  int rc = bind_inputs(s, inputs, ninputs);
  if (rc) return rc;
  int64_t key[16 * VRT_MAX_DIMS + 17];
  int keylen = 0;
  for (int i = 0; i < g->ninputs && i < 16; i++) {
    const vrt_tensor *t = &s->vals[g->inputs[i]];
    key[keylen++] = t->ndim;
    for (int d = 0; d < t->ndim; d++) key[keylen++] = t->dims[d];
  }
  /* the team: every thread allowed, or with adaptive threads whichever of
   * 1 and N has been faster for these shapes (team.h); kernels are made for
   * one team size (oneDNN splits work when a primitive is created), so the
   * team is part of the plan key */
  int arm = 1;
  if (s->adaptive) {
    uint64_t h = 1469598103934665603ull;
    for (int k = 0; k < keylen; k++) h = (h ^ (uint64_t)key[k]) * 1099511628211ull;
    if (h != s->team_key) { /* other shapes, other timings */
      vrt_team_init(&s->team);
      s->team_key = h;
    }
    arm = vrt_team_pick(&s->team);
  }
  s->team_now = arm ? s->threads : 1;
  key[keylen++] = s->team_now;
  int plan = g->ninputs <= 16 ? find_plan(s, key, keylen) : -1;
  if (plan >= 0 && (rc = use_plan(s, plan))) return rc;
  const vrt_plan *p = plan >= 0 ? &s->plans[plan] : NULL;

  const vrt_tensor *in[VRT_MAX_NODE_IO]; /* validation bounds nin and nout */
  vrt_scratch_list *sl = &s->sl;
  vrt_exec_ctx x;
  vrt_exec_ctx_init(&x, sl, s->team_now);
  double run_t0 = p && s->adaptive ? now_s() : 0;
  const vrt_backend *enabled[2];
  const vrt_kernel *kern = p && vrt__backends_enabled(enabled, 2) ? p->kern : NULL;
  size_t heap_bytes = 0, heap_peak = 0;
  for (int i = 0; i < g->nnodes && !rc; i++) {
    const vrt_node *n = &g->nodes[i];
    const vrt_opdef *d = vrt_opdef_get((vrt_op)n->op);
    for (int k = 0; k < n->nin; k++) in[k] = n->in[k] >= 0 ? &s->vals[n->in[k]] : NULL;
    vrt_tensor out[VRT_MAX_NODE_IO];
    memset(out, 0, sizeof out);
    rc = d->infer(n, in, n->nin, out, n->nout);
    if (rc < 0) break;
    for (int k = 0; k < n->nout; k++) {
      int v = n->out[k];
      size_t bytes;
      if (!vrt__tensor_bytes(&out[k], &bytes)) {
        char b[128];
        rc = vrt__err(VRT_ESHAPE, "node '%s' (%s): bad output shape %s", n->name, n->op_type,
                      vrt__shape_str(out[k].dims, out[k].ndim, b, sizeof b));
        break;
      }
      out[k].name = g->values[v].t.name;
      out[k].nbytes = bytes;
      if (p && p->offset[v] != SIZE_MAX && bytes <= p->size[v]) {
        out[k].data = (char *)s->arena + p->offset[v];
      } else {
        if (s->max_bytes && (bytes > s->max_bytes || heap_bytes + bytes > s->max_bytes)) {
          rc = vrt__err(VRT_ELIMIT, "node '%s' (%s): %zu more bytes of values would pass the session limit of %zu",
                        n->name, n->op_type, bytes, s->max_bytes);
          break;
        }
        out[k].data = s->heap[v] = vrt__aligned_alloc(bytes);
        if (!out[k].data) {
          rc = vrt__err(VRT_ENOMEM, "node '%s': out of memory for %zu bytes", n->name, bytes);
          break;
        }
        heap_bytes += bytes;
        if (heap_bytes > heap_peak) heap_peak = heap_bytes;
      }
      s->vals[v] = out[k];
    }
    if (rc) break;
    if (p && p->skip[i] && view_in_place(s, p, n)) continue; /* its output is already there (views.c) */
    const vrt_kernel *kn = kern ? &kern[i] : NULL;
    bool on_backend = kn && kn->b && kn->sig == vrt__shape_sig(in, n->nin);
    double t0 = s->prof && p ? now_s() : 0;
    vrt_tensor copy[VRT_MAX_NODE_IO];
    if (on_backend) {
      rc = kn->b->exec(kn->state, n, in, n->nin, out, n->nout, &x);
    } else if (p && (rc = unalias_inputs(p, n, in, copy, &x)) < 0) {
      /* out of scratch memory: rc says so */
    } else if (s->m->node_pin && s->m->node_pin[i]) { /* a weight its backend packed may be given back */
      rc = vrt__model_weights_pin(s->m, i, p != NULL);
      if (rc == 0) rc = d->exec(n, in, n->nin, out, n->nout, &x);
      vrt__model_weights_unpin(s->m, i);
    } else {
      rc = d->exec(n, in, n->nin, out, n->nout, &x);
    }
    if (t0 > 0 && s->prof_n) {
      s->prof[n->op * 2 + on_backend] += now_s() - t0;
      s->prof_n[n->op * 2 + on_backend]++;
    }
    if (rc > 0) rc = 0;
    if (sl->peak + heap_bytes + s->arena_cap > s->peak) s->peak = sl->peak + heap_bytes + s->arena_cap;
    vrt_scratch_release(sl);
    sl->peak = 0;
    /* free heap buffers of values that are dead now (first, unplanned run) */
    for (int k = 0; k < n->nin && !p; k++) {
      int v = n->in[k];
      if (v >= 0 && s->last_use[v] == i && s->heap[v]) {
        heap_bytes -= s->vals[v].nbytes;
        vrt__aligned_free(s->heap[v]);
        s->heap[v] = NULL;
      }
    }
  }
  if (rc < 0) return rc;
  if (p && run_t0 > 0 && s->plans[plan].runs++ > 0) vrt_team_record(&s->team, arm, now_s() - run_t0);
  if (!p && g->ninputs <= 16) {
    /* first run with these shapes: plan from what was recorded, move the
     * outputs into the arena so they stay valid like on planned runs. */
    int slot = build_plan(s, key, keylen);
    if (slot < 0) return slot;
    if ((rc = use_plan(s, slot))) return rc;
    const vrt_plan *np = &s->plans[slot];
    for (int i = 0; i < g->noutputs; i++) {
      int v = g->outputs[i];
      if (s->heap[v] && np->offset[v] != SIZE_MAX) {
        void *dst = (char *)s->arena + np->offset[v];
        memcpy(dst, s->vals[v].data, s->vals[v].nbytes);
        s->vals[v].data = dst;
      }
    }
    free_heap(s);
    /* the first run's buffers, before the arena's pages are touched (not for
     * small graphs whose shapes change every run: a token loop) */
    if (heap_peak >= ((size_t)8 << 20)) vrt__trim_heap();
    for (int i = 0; i < g->noutputs; i++) {
      int v = g->outputs[i];
      if (!s->vals[v].data && s->vals[v].nbytes) return vrt__err(VRT_EGRAPH, "output '%s' lost", g->values[v].t.name);
    }
    if (s->adaptive) { /* the other team's plan now too, from the same shapes: no second unplanned run */
      int team = s->team_now;
      s->team_now = team == 1 ? s->threads : 1;
      key[keylen - 1] = s->team_now;
      int other = find_plan(s, key, keylen);
      if (other < 0 && (other = build_plan(s, key, keylen)) < 0) vrt__err_clear();
      if (other < 0 || (s->max_bytes && s->plans[other].arena_bytes > s->max_bytes))
        s->adaptive = false; /* no second plan within the limit: stay on N threads */
      s->team_now = team;
    }
  }
  if (s->arena_cap > s->peak) s->peak = s->arena_cap;
  for (int i = 0; i < g->noutputs; i++) s->outs[i] = s->vals[g->outputs[i]];
  *outputs = s->outs;
  *noutputs = g->noutputs;
  return 0;
}
