/* Executor internals shared by the session code, constant folding and the op
 * tests. */
#ifndef VRT_EXEC_H
#define VRT_EXEC_H

#include "ops.h"

/* Run one node on its own: prepare (once, if the op has one and params are
 * unset), infer, allocate every output with vrt__aligned_alloc (the caller
 * frees out[i].data with vrt__aligned_free), exec. Used by constant folding
 * and by tests/ops. Errors name the node. */
int vrt_node_run1(vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout);

/* Scratch allocator for one kernel call. Requests are carved from a pool
 * that release empties (and grows to the largest call seen so far), so a
 * session that keeps its list across runs stops allocating after the first;
 * what does not fit the pool comes from the heap and is freed by release. */
typedef struct vrt_scratch_list {
  void **ptrs;
  int n, cap;
  size_t bytes, peak;
  char *pool;
  size_t pool_cap, pool_used, want;
} vrt_scratch_list;
void vrt_exec_ctx_init(vrt_exec_ctx *x, vrt_scratch_list *sl, int threads);
void vrt_scratch_release(vrt_scratch_list *sl); /* takes back everything handed out */
void vrt_scratch_free(vrt_scratch_list *sl);    /* release, then free the pool and list */

/* In-place Concat, Slice and reshapes (views.c). Per value: the value whose arena
 * bytes hold it (-1 for a group's root), its byte offset there, a root's
 * extent (bytes of the whole group), and whether it is the output of a node
 * run as a view (nothing writes it). */
typedef struct vrt_views {
  int *up;
  size_t *off, *ext;
  char *view;
} vrt_views;
/* From the shapes a first run recorded (vals) and how each value is stored
 * (block[v]: 1 plain, b > 1 a backend's batch-1 layout in channel blocks of
 * b, 0 another private layout), decide which Concat, Slice and reshape nodes
 * run as views: skip[node] = 1 for those, groups in w (arrays of
 * g->nvalues + 1). Returns how many. */
int vrt__views_plan(const vrt_graph *g, const vrt_tensor *vals, const int *block, char *skip, vrt_views *w);
/* The root of v's group and v's byte offset in it. */
int vrt__views_root(const vrt_views *w, int v, size_t *pos);
/* Ops that can run as views: Concat, Slice and the reshapes (same bytes). */
bool vrt__view_op(int op);
/* VRT_VIEWS=0 turns views off (every Concat, Slice and Reshape copies); read per plan. */
bool vrt__views_enabled(void);
/* Could Concat node `node` be a view by its shapes (a byte concatenation)? */
bool vrt__view_concat_shape(const vrt_graph *g, const vrt_tensor *vals, int node);

/* The backend that runs node i of the session's current plan ("onednn",
 * ...), NULL for the op's own exec or before the first planned run (tests). */
const char *vrt__session_node_backend(const vrt_session_t *s, int node);

/* Check nin/nout against the opdef and name the node in the error. */
int vrt_node_check_arity(const vrt_node *n, const vrt_opdef *d);

#endif
