/* Running a single node outside a session: the path of constant folding and
 * of the per-op tests, sharing the same prepare/infer/exec as the executor. */
#include <stdlib.h>
#include <string.h>

#include "exec.h"

static void *scratch_alloc(vrt_exec_ctx *x, size_t bytes) {
  vrt_scratch_list *sl = x->impl;
  size_t b = (bytes + 63) & ~(size_t)63;
  if (b < bytes) return NULL;
  sl->want += b;
  if (sl->pool && sl->pool_cap - sl->pool_used >= b) {
    void *m = sl->pool + sl->pool_used;
    sl->pool_used += b;
    sl->bytes += b;
    if (sl->bytes > sl->peak) sl->peak = sl->bytes;
    return m;
  }
  if (sl->n == sl->cap) {
    int cap = sl->cap ? sl->cap * 2 : 8;
    void **p = realloc(sl->ptrs, sizeof(void *) * (size_t)cap);
    if (!p) return NULL;
    sl->ptrs = p;
    sl->cap = cap;
  }
  void *m = vrt__aligned_alloc(bytes);
  if (!m) return NULL;
  sl->ptrs[sl->n++] = m;
  sl->bytes += bytes;
  if (sl->bytes > sl->peak) sl->peak = sl->bytes;
  return m;
}

void vrt_exec_ctx_init(vrt_exec_ctx *x, vrt_scratch_list *sl, int threads) {
  x->threads = threads > 0 ? threads : 1;
  x->scratch = scratch_alloc;
  x->impl = sl;
}

void vrt_scratch_release(vrt_scratch_list *sl) {
  for (int i = 0; i < sl->n; i++) vrt__aligned_free(sl->ptrs[i]);
  sl->n = 0;
  sl->bytes = 0;
  sl->pool_used = 0;
  if (sl->want > sl->pool_cap) { /* grow the pool to the largest call so far */
    vrt__aligned_free(sl->pool);
    sl->pool = vrt__aligned_alloc(sl->want);
    sl->pool_cap = sl->pool ? sl->want : 0;
  }
  sl->want = 0;
}

void vrt_scratch_free(vrt_scratch_list *sl) {
  vrt_scratch_release(sl);
  vrt__aligned_free(sl->pool);
  free(sl->ptrs);
  memset(sl, 0, sizeof *sl);
}

int vrt_node_check_arity(const vrt_node *n, const vrt_opdef *d) {
  int present = n->nin;
  while (present > 0 && n->in[present - 1] < 0) present--;
  if (present < d->min_inputs || (d->max_inputs >= 0 && n->nin > d->max_inputs))
    return vrt__err(VRT_EGRAPH, "node '%s' (%s): %d inputs, expected %d..%d", n->name, n->op_type, n->nin,
                    d->min_inputs, d->max_inputs);
  /* the required inputs come first (ONNX's rule); an empty name there leaves a
   * kernel with a NULL tensor it never checks for */
  for (int k = 0; k < d->min_inputs && k < n->nin; k++)
    if (n->in[k] < 0)
      return vrt__err(VRT_EGRAPH, "node '%s' (%s): required input %d is missing", n->name, n->op_type, k);
  return 0;
}

int vrt_node_run1(vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  const vrt_opdef *d = vrt_opdef_get((vrt_op)n->op);
  if (!d || !d->infer || !d->exec)
    return vrt__err(VRT_EUNSUPPORTED, "node '%s': no CPU kernel for op '%s'", n->name, vrt_op_name(n->op));
  int rc;
  if (d->prepare && !n->params && (rc = d->prepare(n)) < 0) return rc;
  for (int i = 0; i < nout; i++) memset(&out[i], 0, sizeof out[i]);
  if ((rc = d->infer(n, in, nin, out, nout)) < 0) {
    if (rc == VRT_ENEEDDATA)
      return vrt__err(VRT_EGRAPH, "node '%s' (%s): shape needs input values that are missing", n->name,
                      n->op_type);
    return rc;
  }
  for (int i = 0; i < nout; i++) {
    size_t bytes;
    if (!vrt__tensor_bytes(&out[i], &bytes)) {
      char b[128];
      rc = vrt__err(VRT_ESHAPE, "node '%s' (%s): bad output shape %s", n->name, n->op_type,
                    vrt__shape_str(out[i].dims, out[i].ndim, b, sizeof b));
      goto fail;
    }
    out[i].data = vrt__aligned_alloc(bytes);
    out[i].nbytes = bytes;
    if (!out[i].data) {
      rc = vrt__err(VRT_ENOMEM, "node '%s': out of memory for %zu bytes", n->name, bytes);
      goto fail;
    }
    memset(out[i].data, 0, bytes);
  }
  vrt_scratch_list sl = {0};
  vrt_exec_ctx x;
  vrt_exec_ctx_init(&x, &sl, 1);
  rc = d->exec(n, in, nin, out, nout, &x);
  vrt_scratch_free(&sl);
  if (rc >= 0) return 0;
fail:
  for (int i = 0; i < nout; i++) {
    vrt__aligned_free(out[i].data);
    out[i].data = NULL;
  }
  return rc;
}
