/* In-place Concat, Slice and Reshape: the planning pass that turns a join, a
 * window or a reshape of plain tensors into a view of one arena block, so the
 * node copies nothing.
 *
 * Why. A Concat along axis a whose output has size 1 on every axis before a
 * is a byte concatenation of its inputs; a Slice that cuts one such axis and
 * keeps the others whole is one contiguous byte range of its input. If each
 * producer writes its value where it would sit in the joined tensor, the
 * Concat has nothing left to do, and a Slice's output is already in place.
 * DenseNet joins every earlier feature map again for each layer (O(layers^2)
 * bytes copied per block); with views each map is written once. Reshape,
 * Flatten, Squeeze, Unsqueeze and Identity keep the bytes as they are: their
 * output is a view of their input at offset 0.
 *
 * How. Values are grouped (union-find with byte offsets): "u lies at byte a
 * of o" for each Concat input and Slice output. A group is placed by the
 * arena planner as one block, its root's, live from its first member's
 * producer to its last member's last reader, so no other value is ever
 * placed over it. Only "leaves" (values a kernel writes: everything but the
 * outputs of view nodes) own bytes; views only read. So a node becomes a
 * view when its constraints agree with the ones already made and no two
 * leaves of the resulting group overlap (Concat(p, q) and Concat(p, r) may
 * not both be views: q and r would share bytes); else it stays a copy.
 *
 * Layouts. A value in a backend's private layout takes part only when that
 * layout is channel-blocked (oneDNN's nChw16c, batch 1): a window of whole
 * channel blocks is then one byte range laid out like a tensor of its own,
 * at the same offset as in plain NCHW, so joins and windows of such values
 * along the channel axis in whole blocks are views too (block[v] says which:
 * 1 plain, b > 1 blocked by b, 0 neither). exec.c keeps the inputs of a
 * plain Concat plain, so a plain join can be a view.
 *
 * What stays a copy: other private layouts (nhwc), graph inputs, constants and graph outputs, a value joined twice
 * in one Concat, and graphs with data-dependent ops (a size that differs
 * from the plan's sends a value to the heap, away from its group). */
#include <stdlib.h>
#include <string.h>

#include "cpu/shape_util.h"
#include "exec.h"

bool vrt__view_op(int op) {
  switch (op) {
    case VRT_OP_Concat: case VRT_OP_Slice: case VRT_OP_Reshape: case VRT_OP_Flatten: case VRT_OP_Squeeze:
    case VRT_OP_Unsqueeze: case VRT_OP_Identity: return true;
    default: return false;
  }
}

bool vrt__views_enabled(void) {
  const char *e = getenv("VRT_VIEWS");
  return !(e && !strcmp(e, "0"));
}

/* Can value v take part in a view: an intermediate in the arena, plain,
 * with the recorded size. */
static bool member_ok(const vrt_graph *g, const vrt_tensor *vals, const int *block, int v) {
  if (v < 0 || v >= g->nvalues) return false;
  const vrt_value *val = &g->values[v];
  if (val->producer < 0 || (val->flags & (VRT_VAL_CONST | VRT_VAL_INPUT | VRT_VAL_OUTPUT))) return false;
  return block[v] >= 1 && vals[v].ndim >= 0 && vals[v].dtype != VRT_UNDEFINED;
}

/* Are the axes before a of t all of size 1 (so that a cut on axis a is a
 * contiguous byte range)? */
static bool leading_ones(const vrt_tensor *t, int64_t a) {
  for (int64_t d = 0; d < a; d++)
    if (t->dims[d] != 1) return false;
  return true;
}

bool vrt__view_concat_shape(const vrt_graph *g, const vrt_tensor *vals, int node) {
  const vrt_node *n = &g->nodes[node];
  if (n->op != VRT_OP_Concat || n->nout != 1 || n->nin < 1 || n->out[0] < 0) return false;
  const vrt_tensor *o = &vals[n->out[0]];
  if (o->ndim < 1) return false;
  int64_t a = vrt_attr_int(n, "axis", 0);
  if (a < 0) a += o->ndim;
  if (a < 0 || a >= o->ndim || !leading_ones(o, a)) return false;
  size_t sum = 0;
  for (int k = 0; k < n->nin; k++) {
    if (n->in[k] < 0) return false;
    const vrt_tensor *t = &vals[n->in[k]];
    if (t->dtype != o->dtype || t->ndim != o->ndim) return false;
    sum += t->nbytes;
  }
  return sum == o->nbytes;
}

/* Slice of one axis a (unit steps; every other axis whole; size 1 before
 * a): the byte offset of its window in the input. */
static bool slice_offset(const vrt_graph *g, const vrt_tensor *vals, int node, int b, size_t *off) {
  const vrt_node *n = &g->nodes[node];
  if (n->op != VRT_OP_Slice || n->nout != 1 || n->nin < 1 || n->in[0] < 0 || n->out[0] < 0) return false;
  const vrt_tensor *x = &vals[n->in[0]], *o = &vals[n->out[0]];
  if (x->ndim < 1 || o->ndim != x->ndim || o->dtype != x->dtype) return false;
  const vrt_tensor *in[VRT_MAX_NODE_IO];
  for (int k = 0; k < n->nin; k++) {
    int v = n->in[k];
    if (k > 0 && v >= 0 && !(g->values[v].flags & VRT_VAL_CONST)) return false; /* starts, ends ... constant */
    in[k] = v >= 0 ? &vals[v] : NULL;
  }
  int64_t start[VRT_MAX_DIMS], step[VRT_MAX_DIMS], odims[VRT_MAX_DIMS];
  if (vrt__slice_window(n, in, n->nin, start, step, odims) < 0) {
    vrt__err_clear();
    return false;
  }
  int cut = -1;
  for (int d = 0; d < x->ndim; d++) {
    if (odims[d] != o->dims[d] || (odims[d] > 1 && step[d] != 1)) return false;
    if (odims[d] == x->dims[d]) continue;
    if (cut >= 0) return false;
    cut = d;
  }
  if (cut < 0) cut = 0; /* the whole tensor */
  if (!leading_ones(x, cut)) return false;
  if (b > 1 && (x->ndim != 4 || (cut != 1 && odims[cut] != x->dims[cut]) || start[1] % b || odims[1] % b))
    return false; /* a blocked window: whole channel blocks */
  size_t inner = vrt_dtype_size(x->dtype);
  for (int d = cut + 1; d < x->ndim; d++) inner *= (size_t)x->dims[d];
  *off = odims[cut] > 0 ? (size_t)start[cut] * inner : 0;
  return *off + o->nbytes <= x->nbytes;
}

/* The root of v's group and v's byte offset in it. */
static int find(const vrt_views *w, int v, size_t *pos) {
  size_t p = 0;
  while (w->up[v] >= 0) {
    p += w->off[v];
    v = w->up[v];
  }
  *pos = p;
  return v;
}

/* Record "u lies at byte a of o": false when that contradicts what the
 * groups already say. */
static bool place(vrt_views *w, int u, int o, size_t a) {
  size_t pu, po;
  int ru = find(w, u, &pu), ro = find(w, o, &po);
  if (ru == ro) return pu == po + a;
  if (po + a >= pu) { /* u's root sits at po + a - pu in o's root */
    size_t d = po + a - pu;
    w->up[ru] = ro, w->off[ru] = d;
    if (d + w->ext[ru] > w->ext[ro]) w->ext[ro] = d + w->ext[ru];
  } else {
    size_t d = pu - po - a;
    w->up[ro] = ru, w->off[ro] = d;
    if (d + w->ext[ro] > w->ext[ru]) w->ext[ru] = d + w->ext[ro];
  }
  return true;
}

typedef struct {
  size_t lo, hi;
} span;

static int cmp_span(const void *a, const void *b) {
  const span *x = a, *y = b;
  return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Do two leaves of root r's group share a byte? */
static bool leaves_overlap(const vrt_graph *g, const vrt_tensor *vals, const vrt_views *w, int r, span *tmp) {
  int n = 0;
  for (int v = 0; v < g->nvalues; v++) {
    size_t p;
    if (w->view[v] || !vals[v].nbytes || (w->up[v] < 0 && v != r) || find(w, v, &p) != r) continue;
    tmp[n++] = (span){p, p + vals[v].nbytes};
  }
  qsort(tmp, (size_t)n, sizeof *tmp, cmp_span);
  for (int i = 1; i < n; i++)
    if (tmp[i].lo < tmp[i - 1].hi) return true;
  return false;
}

/* Could node i be a view by itself (shapes, layouts, members)? Cheap, and
 * changes nothing: most Slices of a transformer stop here. */
static bool view_candidate(const vrt_graph *g, const vrt_tensor *vals, const int *block, int i, size_t *slice_off) {
  const vrt_node *n = &g->nodes[i];
  if (!vrt__view_op(n->op) || n->nout != 1 || n->nin < 1) return false;
  int o = n->out[0], b = block[o];
  if (!member_ok(g, vals, block, o)) return false;
  if (n->op != VRT_OP_Concat && n->op != VRT_OP_Slice) { /* the same bytes, another shape */
    int x = n->in[0];
    *slice_off = 0;
    return b == 1 && member_ok(g, vals, block, x) && block[x] == 1 && x != o && vals[x].dtype == vals[o].dtype &&
           vals[x].nbytes == vals[o].nbytes;
  }
  if (n->op == VRT_OP_Slice) {
    int x = n->in[0];
    return member_ok(g, vals, block, x) && block[x] == b && x != o && slice_offset(g, vals, i, b, slice_off);
  }
  if (!vrt__view_concat_shape(g, vals, i)) return false;
  if (b > 1 && (vals[o].ndim != 4 || (vrt_attr_int(n, "axis", 0) + 4) % 4 != 1)) return false;
  for (int k = 0; k < n->nin; k++) {
    int u = n->in[k];
    if (!member_ok(g, vals, block, u) || block[u] != b || u == o || (b > 1 && vals[u].dims[1] % b)) return false;
    for (int j = 0; j < k; j++)
      if (n->in[j] == u) return false; /* Concat(x, x): one value, two places */
  }
  return true;
}

/* The constraints of candidate node i as a view, applied to w; false if
 * they conflict with the groups made so far. */
static bool node_as_view(const vrt_tensor *vals, vrt_views *w, const vrt_node *n, size_t slice_off) {
  w->view[n->out[0]] = 1;
  if (n->op != VRT_OP_Concat) return place(w, n->out[0], n->in[0], slice_off);
  size_t a = 0;
  for (int k = 0; k < n->nin; k++) {
    if (!place(w, n->in[k], n->out[0], a)) return false;
    a += vals[n->in[k]].nbytes;
  }
  return true;
}

/* The groups of from into to (arrays of nv). */
static void views_copy(vrt_views *to, const vrt_views *from, size_t nv) {
  memcpy(to->up, from->up, nv * sizeof *to->up);
  memcpy(to->off, from->off, nv * sizeof *to->off);
  memcpy(to->ext, from->ext, nv * sizeof *to->ext);
  memcpy(to->view, from->view, nv);
}

int vrt__views_plan(const vrt_graph *g, const vrt_tensor *vals, const int *block, char *skip,
                    vrt_views *w) {
  size_t nv = (size_t)g->nvalues + 1;
  for (int v = 0; v < g->nvalues; v++) {
    w->up[v] = -1;
    w->off[v] = 0;
    w->ext[v] = vals[v].nbytes;
    w->view[v] = 0;
  }
  if (!vrt__views_enabled()) return 0;
  for (int i = 0; i < g->nnodes; i++) {
    const vrt_opdef *d = vrt_opdef_get((vrt_op)g->nodes[i].op);
    if (d && (d->flags & VRT_OPF_DATA_DEPENDENT)) return 0;
  }
  /* a copy of the groups to go back to when a node's constraints conflict */
  span *tmp = malloc(nv * (sizeof(span) + 2 * sizeof(size_t) + sizeof(int) + 1)); /* widest first */
  if (!tmp) return 0; /* no views: every node copies, as without this pass */
  vrt_views saved;
  saved.off = (size_t *)(tmp + nv), saved.ext = saved.off + nv;
  saved.up = (int *)(saved.ext + nv);
  saved.view = (char *)(saved.up + nv);
  int count = 0;
  for (int i = 0; i < g->nnodes; i++) {
    const vrt_node *n = &g->nodes[i];
    size_t slice_off = 0;
    skip[i] = 0;
    if (!view_candidate(g, vals, block, i, &slice_off)) continue;
    views_copy(&saved, w, nv);
    size_t p;
    if (node_as_view(vals, w, n, slice_off) && !leaves_overlap(g, vals, w, find(w, n->out[0], &p), tmp)) {
      skip[i] = 1;
      count++;
      continue;
    }
    views_copy(w, &saved, nv);
  }
  free(tmp);
  return count;
}

int vrt__views_root(const vrt_views *w, int v, size_t *pos) { return find(w, v, pos); }
