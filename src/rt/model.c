/* vrt_model_t: format detection and loader dispatch, then the load-time
 * passes over the IR (validation, op preparation, static shape inference,
 * constant folding, dead-node removal) and introspection.
 *
 * After loading, the graph is immutable: sessions only read it. Every
 * per-run decision (shapes that depend on input sizes, memory plans) lives in
 * the session (exec.c). */
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "fuse.h"
#include "loaders.h"
#include "model.h"

vrt_load_params vrt_load_default_params(void) {
  vrt_load_params p = {.format = VRT_FORMAT_AUTO, .optimize = 1, .max_weight_bytes = 0};
  return p;
}

static bool ends_with(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Tensor views of a node's inputs as they are known at load time. */
static void node_inputs(const vrt_graph *g, const vrt_node *n, const vrt_tensor **in) {
  for (int k = 0; k < n->nin; k++) in[k] = n->in[k] >= 0 ? &g->values[n->in[k]].t : NULL;
}

static bool fully_known(const vrt_tensor *t) {
  if (t->ndim < 0 || t->dtype == VRT_UNDEFINED) return false;
  for (int d = 0; d < t->ndim; d++)
    if (t->dims[d] < 0) return false;
  return true;
}

/* Prepare every node once and check that a kernel exists for it. */
static int prepare_nodes(vrt_graph *g) {
  for (int i = 0; i < g->nnodes; i++) {
    vrt_node *n = &g->nodes[i];
    const vrt_opdef *d = vrt_opdef_get((vrt_op)n->op);
    if (!d || !d->infer || !d->exec)
      return vrt__err(VRT_EUNSUPPORTED, "node '%s': op '%s' has no CPU kernel in vrt", n->name, n->op_type);
    int rc = vrt_node_check_arity(n, d);
    if (rc) return rc;
    if (d->prepare && !n->params && (rc = d->prepare(n)) < 0) return rc;
  }
  return 0;
}

/* Static shape inference and constant folding in one forward sweep. A node
 * whose inputs are all constants is run now (when its outputs stay small)
 * and replaced by constant values; its slot is marked dead (op = -1). */
#define VRT_FOLD_MAX_BYTES ((size_t)64 << 20)

static int infer_and_fold(vrt_graph *g, bool fold) {
  const vrt_tensor *in[VRT_MAX_NODE_IO];
  for (int i = 0; i < g->nnodes; i++) {
    vrt_node *n = &g->nodes[i];
    node_inputs(g, n, in);
    bool known = true, all_const = true;
    for (int k = 0; k < n->nin; k++) {
      if (!in[k]) continue;
      if (!fully_known(in[k])) known = false;
      if (!(g->values[n->in[k]].flags & VRT_VAL_CONST)) all_const = false;
    }
    /* Shape and Size read only the dims: with those known (static here; the
     * session rejects inputs that differ) they fold like constants, and so
     * does the arithmetic that turns them into Slice bounds or Reshape
     * targets (torch's chunk/split export), which lets those nodes plan. */
    if (known && (n->op == VRT_OP_Shape || n->op == VRT_OP_Size)) all_const = true;
    if (!known) {
      for (int k = 0; k < n->nout; k++) {
        vrt_value *v = &g->values[n->out[k]];
        if (!(v->flags & VRT_VAL_OUTPUT) || v->t.ndim < 0) v->t.ndim = -1;
      }
      continue;
    }
    const vrt_opdef *d = vrt_opdef_get((vrt_op)n->op);
    vrt_tensor out[VRT_MAX_NODE_IO]; /* nin, nout <= VRT_MAX_NODE_IO: checked by validation */
    memset(out, 0, sizeof out);
    int rc = d->infer(n, in, n->nin, out, n->nout);
    if (rc == VRT_ENEEDDATA) {
      for (int k = 0; k < n->nout; k++) g->values[n->out[k]].t.ndim = -1;
      continue;
    }
    if (rc < 0) return rc;
    size_t total = 0;
    for (int k = 0; k < n->nout; k++) {
      vrt_value *v = &g->values[n->out[k]];
      const char *keep = v->t.name;
      v->t.dtype = out[k].dtype;
      v->t.ndim = out[k].ndim;
      memcpy(v->t.dims, out[k].dims, sizeof v->t.dims);
      v->t.name = keep;
      size_t b = 0;
      if (!vrt__tensor_bytes(&out[k], &b)) b = VRT_FOLD_MAX_BYTES + 1;
      total += b;
    }
    /* Shape and Size read only the dims, which are static here (inputs are
     * checked against their declared shapes at run time): fold them too, so
     * the shape arithmetic exporters emit (Shape, Gather, Div, Slice ...)
     * folds away and the passes after see static shapes. */
    if ((n->op == VRT_OP_Shape || n->op == VRT_OP_Size) && n->nin == 1) all_const = true;
    if (!fold || !all_const || total > VRT_FOLD_MAX_BYTES) continue;
    rc = vrt_node_run1(n, in, n->nin, out, n->nout);
    if (rc < 0) return rc;
    for (int k = 0; k < n->nout; k++) {
      vrt_value *v = &g->values[n->out[k]];
      /* executor buffers are aligned_alloc'd; constants are free()'d: both are
       * posix_memalign-compatible, so ownership transfers as is. */
      v->t.data = out[k].data;
      v->t.nbytes = out[k].nbytes;
      v->flags |= VRT_VAL_CONST;
      v->flags &= ~(unsigned)VRT_VAL_BORROWED;
      v->file_src = NULL;
      v->producer = -1;
    }
    n->op = -1; /* dead: removed by compact_nodes */
  }
  return 0;
}

/* Drop nodes whose outputs nobody needs, then compact the node array and
 * free constants that are no longer referenced. */
static int remove_dead(vrt_graph *g) {
  char *need = calloc((size_t)g->nvalues + 1, 1);
  if (!need) return vrt__err(VRT_ENOMEM, "out of memory");
  for (int i = 0; i < g->noutputs; i++) need[g->outputs[i]] = 1;
  for (int i = g->nnodes - 1; i >= 0; i--) {
    vrt_node *n = &g->nodes[i];
    if (n->op < 0) continue;
    bool used = false;
    for (int k = 0; k < n->nout; k++) used |= need[n->out[k]] != 0;
    if (!used) {
      n->op = -1;
      continue;
    }
    for (int k = 0; k < n->nin; k++)
      if (n->in[k] >= 0) need[n->in[k]] = 1;
  }
  int w = 0;
  for (int i = 0; i < g->nnodes; i++) {
    vrt_node *n = &g->nodes[i];
    if (n->op < 0) {
      vrt_node_clear(n);
      continue;
    }
    g->nodes[w++] = *n;
  }
  g->nnodes = w;
  for (int i = 0; i < g->nnodes; i++)
    for (int k = 0; k < g->nodes[i].nout; k++) g->values[g->nodes[i].out[k]].producer = i;
  for (int v = 0; v < g->nvalues; v++) {
    vrt_value *val = &g->values[v];
    if ((val->flags & VRT_VAL_CONST) && !need[v]) {
      if (!(val->flags & VRT_VAL_BORROWED)) free(val->t.data);
      val->t.data = NULL;
      val->t.nbytes = 0;
      val->file_src = NULL;
      val->flags &= ~(unsigned)(VRT_VAL_CONST | VRT_VAL_BORROWED);
    }
  }
  free(need);
  return 0;
}

/* Fusion (fuse.c), then the rewritten nodes parse their attributes again and
 * the swallowed ones are removed. VRT_FUSE=0 turns it off (A/B checks). */
static int fuse(vrt_graph *g) {
  const char *e = getenv("VRT_FUSE");
  if (e && !strcmp(e, "0")) return 0;
  char *changed = calloc((size_t)g->nnodes + 1, 1);
  if (!changed) return vrt__err(VRT_ENOMEM, "out of memory");
  int rc = vrt__fuse_all(g, changed);
  for (int i = 0; i < g->nnodes && rc > 0; i++) {
    vrt_node *n = &g->nodes[i];
    if (!changed[i] || n->op < 0) continue;
    const vrt_opdef *d = vrt_opdef_get((vrt_op)n->op);
    if (n->params_free) n->params_free(n->params);
    n->params = NULL;
    n->params_free = NULL;
    int r = vrt_node_check_arity(n, d);
    if (!r && d->prepare) r = d->prepare(n);
    if (r < 0) rc = r;
  }
  free(changed);
  if (rc > 0) rc = remove_dead(g);
  return rc;
}

static int finish_model(vrt_model_t *m, vrt_load_params p) {
  vrt_graph *g = m->g;
  int rc = vrt_graph_validate(g);
  if (rc) return rc;
  if ((rc = prepare_nodes(g))) return rc;
  if ((rc = infer_and_fold(g, p.optimize != 0))) return rc;
  if (p.optimize && (rc = remove_dead(g))) return rc;
  if (p.optimize && (rc = fuse(g)) < 0) return rc;
  size_t limit = p.max_weight_bytes ? p.max_weight_bytes : ((size_t)4 << 30);
  for (int v = 0; v < g->nvalues; v++) {
    vrt_value *val = &g->values[v];
    if (!(val->flags & VRT_VAL_CONST)) continue;
    m->weight_bytes += val->t.nbytes;
    if (val->t.dtype == VRT_F32 || val->t.dtype == VRT_F16 || val->t.dtype == VRT_BF16)
      m->param_count += vrt_tensor_numel(&val->t);
  }
  if (m->weight_bytes > limit)
    return vrt__err(VRT_ELIMIT, "model weights are %zu bytes, over the limit of %zu", m->weight_bytes, limit);
  return vrt__model_weights_init(m);
}

static int wrap(vrt_model_t **out, vrt_graph *g, vrt_load_params p) {
  vrt_model_t *m = calloc(1, sizeof *m);
  if (!m) {
    vrt_graph_free(g);
    return vrt__err(VRT_ENOMEM, "out of memory");
  }
  m->g = g;
  m->bf16 = p.bf16 != 0;
  pthread_mutex_init(&m->pack_mu, NULL);
  int rc = finish_model(m, p);
  if (rc) {
    vrt_model_free(m);
    return rc;
  }
  *out = m;
  return 0;
}

int vrt__model_from_graph(vrt_model_t **out, vrt_graph *g, vrt_load_params p) { return wrap(out, g, p); }

int vrt_model_load(vrt_model_t **out, const char *path, vrt_load_params p) {
  if (!out || !path) return vrt__err(VRT_EINVAL, "vrt_model_load: NULL argument");
  *out = NULL;
  vrt__err_clear();
  vrt_graph *g = NULL;
  int rc;
  vrt_format f = p.format;
  if (f == VRT_FORMAT_AUTO) f = ends_with(path, ".json") ? VRT_FORMAT_TFJS : VRT_FORMAT_ONNX;
  if (f == VRT_FORMAT_TFJS) rc = vrt__tfjs_load_file(&g, path);
  else rc = vrt__onnx_load_file(&g, path);
  if (rc) return rc;
  rc = wrap(out, g, p);
  vrt__trim_heap();
  return rc;
}

int vrt_model_load_memory(vrt_model_t **out, const void *buf, size_t len, vrt_load_params p) {
  if (!out || (!buf && len)) return vrt__err(VRT_EINVAL, "vrt_model_load_memory: NULL argument");
  *out = NULL;
  vrt__err_clear();
  vrt_format f = p.format;
  if (f == VRT_FORMAT_AUTO) f = (len && ((const char *)buf)[0] == '{') ? VRT_FORMAT_TFJS : VRT_FORMAT_ONNX;
  vrt_graph *g = NULL;
  int rc = f == VRT_FORMAT_TFJS ? vrt__tfjs_load_json(&g, buf, len, NULL) : vrt__onnx_load_buffer(&g, buf, len, NULL);
  if (rc) return rc;
  return wrap(out, g, p);
}

void vrt_model_free(vrt_model_t *m) {
  if (!m) return;
  vrt__model_pack_free(m);
  free(m->ws);
  free(m->node_pin);
  pthread_mutex_destroy(&m->pack_mu);
  vrt_graph_free(m->g);
  free(m);
}

int vrt_model_num_inputs(const vrt_model_t *m) { return m->g->ninputs; }
int vrt_model_num_outputs(const vrt_model_t *m) { return m->g->noutputs; }

const vrt_tensor *vrt_model_input(const vrt_model_t *m, int i) {
  return i >= 0 && i < m->g->ninputs ? &m->g->values[m->g->inputs[i]].t : NULL;
}

const vrt_tensor *vrt_model_output(const vrt_model_t *m, int i) {
  return i >= 0 && i < m->g->noutputs ? &m->g->values[m->g->outputs[i]].t : NULL;
}

const char *vrt_model_input_dim_name(const vrt_model_t *m, int i, int dim) {
  if (i < 0 || i >= m->g->ninputs || dim < 0 || dim >= VRT_MAX_DIMS) return NULL;
  return m->g->values[m->g->inputs[i]].dim_names[dim];
}

const char *vrt_model_metadata(const vrt_model_t *m, const char *key) {
  for (int i = 0; i < m->g->nmeta; i++)
    if (!strcmp(m->g->meta[i].key, key)) return m->g->meta[i].val;
  return NULL;
}

size_t vrt_model_weight_bytes(const vrt_model_t *m) { return m->weight_bytes; }
int64_t vrt_model_param_count(const vrt_model_t *m) { return m->param_count; }
int vrt_model_num_nodes(const vrt_model_t *m) { return m->g->nnodes; }

const char *vrt_model_node_op(const vrt_model_t *m, int i) {
  return i >= 0 && i < m->g->nnodes ? vrt_op_name((vrt_op)m->g->nodes[i].op) : NULL;
}
