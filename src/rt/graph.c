/* IR construction and teardown: values, nodes, attributes, metadata, and the
 * structural validation both loaders run before a graph is executed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ir.h"
#include "ops.h"

vrt_graph *vrt_graph_new(void) { return calloc(1, sizeof(vrt_graph)); }

void vrt_attr_clear(vrt_attr *a) {
  free(a->name);
  free(a->s);
  free(a->ints);
  free(a->floats);
  for (int i = 0; a->strings && i < a->n; i++) free(a->strings[i]);
  free(a->strings);
  if (a->t) {
    if (!a->t_borrowed) free(a->t->data);
    free((char *)a->t->name);
    free(a->t);
  }
  memset(a, 0, sizeof *a);
}

void vrt_node_clear(vrt_node *n) {
  if (n->params_free) n->params_free(n->params);
  for (int k = 0; k < n->nattr; k++) vrt_attr_clear(&n->attrs[k]);
  free(n->attrs), free(n->in), free(n->out), free(n->name), free(n->op_type);
}

/* Each array goes after the elements it owns; the maps last, as constants
 * may borrow their bytes. */
void vrt_graph_free(vrt_graph *g) {
  if (!g) return;
  for (int i = 0; i < g->nnodes; i++) vrt_node_clear(&g->nodes[i]);
  free(g->nodes);
  for (int i = 0; i < g->nvalues; i++) {
    vrt_value *v = &g->values[i];
    if (!(v->flags & VRT_VAL_BORROWED)) free(v->t.data);
    free((char *)v->t.name);
    for (int d = 0; d < VRT_MAX_DIMS; d++) free(v->dim_names[d]);
  }
  free(g->values);
  for (int i = 0; i < g->nmeta; i++) free(g->meta[i].key);
  free(g->meta);
  free(g->inputs);
  free(g->outputs);
  for (int i = 0; i < g->nmaps; i++) munmap(g->maps[i].addr, g->maps[i].len);
  free(g->maps);
  free(g);
}

size_t vrt__drop_pages(const void *p, size_t n) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  uintptr_t a = ((uintptr_t)p + page - 1) / page * page, b = ((uintptr_t)p + n) / page * page;
  if (!p || b <= a || madvise((void *)a, b - a, MADV_DONTNEED) != 0) return 0;
  return b - a;
}

static char *xstrdup(const char *s) { return strdup(s ? s : ""); }

/* arr (n of cap elements of size elt) with room for one more: doubled from
 * 64 when full, *cap updated. NULL when out of memory (arr is kept). */
static void *grow(void *arr, int n, int *cap, size_t elt) {
  if (n < *cap) return arr;
  int c = *cap ? *cap * 2 : 64;
  void *p = realloc(arr, (size_t)c * elt);
  if (p) *cap = c;
  return p;
}

int vrt_graph_add_value(vrt_graph *g, const char *name, vrt_dtype dtype, int ndim, const int64_t *dims) {
  if (ndim > VRT_MAX_DIMS) return vrt__err(VRT_ELIMIT, "value '%s': %d dims (max %d)", name, ndim, VRT_MAX_DIMS);
  vrt_value *nv = grow(g->values, g->nvalues, &g->cap_values, sizeof *nv);
  if (!nv) return vrt__err(VRT_ENOMEM, "out of memory adding value");
  g->values = nv;
  vrt_value *v = &g->values[g->nvalues];
  memset(v, 0, sizeof *v);
  v->t.name = xstrdup(name);
  if (!v->t.name) return vrt__err(VRT_ENOMEM, "out of memory");
  v->t.dtype = dtype;
  v->t.ndim = ndim;
  for (int i = 0; i < ndim && dims; i++) v->t.dims[i] = dims[i];
  v->producer = -1;
  return g->nvalues++;
}

int vrt_graph_add_const(vrt_graph *g, const char *name, vrt_dtype dtype, int ndim, const int64_t *dims,
                        void *data, size_t nbytes, bool borrowed) {
  int id = vrt_graph_add_value(g, name, dtype, ndim, dims);
  if (id < 0) {
    if (!borrowed) free(data);
    return id;
  }
  vrt_value *v = &g->values[id];
  size_t want;
  if (!vrt__tensor_bytes(&v->t, &want) || want != nbytes) {
    if (!borrowed) free(data);
    char b[96];
    return vrt__err(VRT_EPARSE, "constant '%s' %s %s: %zu bytes of data", name, vrt_dtype_name(dtype),
                    vrt__shape_str(dims, ndim, b, sizeof b), nbytes);
  }
  v->t.data = data;
  v->t.nbytes = nbytes;
  v->flags |= VRT_VAL_CONST | (borrowed ? VRT_VAL_BORROWED : 0);
  return id;
}

int vrt_graph_find_value(const vrt_graph *g, const char *name) {
  for (int i = g->nvalues - 1; i >= 0; i--)
    if (strcmp(g->values[i].t.name, name) == 0) return i;
  return -1;
}

int vrt_graph_add_node(vrt_graph *g, int op, const char *name, const char *op_type, const int *in, int nin,
                       const int *out, int nout) {
  vrt_node *nn = grow(g->nodes, g->nnodes, &g->cap_nodes, sizeof *nn);
  if (!nn) return vrt__err(VRT_ENOMEM, "out of memory adding node");
  g->nodes = nn;
  vrt_node *n = &g->nodes[g->nnodes];
  memset(n, 0, sizeof *n);
  n->op = op;
  n->name = xstrdup(name);
  n->op_type = xstrdup(op_type);
  n->in = malloc(sizeof(int) * (size_t)(nin ? nin : 1));
  n->out = malloc(sizeof(int) * (size_t)(nout ? nout : 1));
  if (!n->name || !n->op_type || !n->in || !n->out) {
    free(n->name), free(n->op_type), free(n->in), free(n->out);
    return vrt__err(VRT_ENOMEM, "out of memory adding node");
  }
  if (nin) memcpy(n->in, in, sizeof(int) * (size_t)nin);
  if (nout) memcpy(n->out, out, sizeof(int) * (size_t)nout);
  n->nin = nin;
  n->nout = nout;
  for (int i = 0; i < nout; i++)
    if (out[i] >= 0 && out[i] < g->nvalues) g->values[out[i]].producer = g->nnodes;
  return g->nnodes++;
}

static int attr_push(vrt_node *n, vrt_attr **slot, const char *name) {
  for (int i = 0; i < n->nattr; i++)
    if (strcmp(n->attrs[i].name, name) == 0) {
      vrt_attr_clear(&n->attrs[i]);
      n->attrs[i].name = strdup(name);
      *slot = &n->attrs[i];
      return n->attrs[i].name ? 0 : VRT_ENOMEM;
    }
  vrt_attr *na = realloc(n->attrs, sizeof *na * (size_t)(n->nattr + 1));
  if (!na) return vrt__err(VRT_ENOMEM, "out of memory");
  n->attrs = na;
  *slot = &na[n->nattr];
  memset(*slot, 0, sizeof **slot);
  (*slot)->name = strdup(name);
  if (!(*slot)->name) return vrt__err(VRT_ENOMEM, "out of memory");
  n->nattr++;
  return 0;
}

int vrt_node_add_attr(vrt_node *n, const vrt_attr *a) {
  vrt_attr *d = NULL;
  int rc = attr_push(n, &d, a->name);
  if (rc) return rc;
  d->type = a->type;
  d->i = a->i;
  d->f = a->f;
  d->n = a->n;
  if (a->s) {
    d->s = malloc(a->slen + 1);
    if (!d->s) return VRT_ENOMEM;
    memcpy(d->s, a->s, a->slen);
    d->s[a->slen] = 0;
    d->slen = a->slen;
  }
  if (a->ints && a->n) {
    d->ints = malloc(sizeof(int64_t) * (size_t)a->n);
    if (!d->ints) return VRT_ENOMEM;
    memcpy(d->ints, a->ints, sizeof(int64_t) * (size_t)a->n);
  }
  if (a->floats && a->n) {
    d->floats = malloc(sizeof(float) * (size_t)a->n);
    if (!d->floats) return VRT_ENOMEM;
    memcpy(d->floats, a->floats, sizeof(float) * (size_t)a->n);
  }
  if (a->strings && a->n) {
    d->strings = calloc((size_t)a->n, sizeof(char *));
    if (!d->strings) return VRT_ENOMEM;
    for (int i = 0; i < a->n; i++)
      if (!(d->strings[i] = strdup(a->strings[i] ? a->strings[i] : ""))) return VRT_ENOMEM;
  }
  if (a->t) {
    d->t = calloc(1, sizeof *d->t);
    if (!d->t) return VRT_ENOMEM;
    *d->t = *a->t;
    d->t->name = strdup(a->t->name ? a->t->name : "");
    d->t->data = malloc(a->t->nbytes ? a->t->nbytes : 1);
    if (!d->t->data || !d->t->name) return VRT_ENOMEM;
    if (a->t->nbytes) memcpy(d->t->data, a->t->data, a->t->nbytes);
  }
  return 0;
}

int vrt_node_set_int(vrt_node *n, const char *name, int64_t v) {
  vrt_attr a = {.name = (char *)name, .type = VRT_ATTR_INT, .i = v};
  return vrt_node_add_attr(n, &a);
}
int vrt_node_set_float(vrt_node *n, const char *name, float v) {
  vrt_attr a = {.name = (char *)name, .type = VRT_ATTR_FLOAT, .f = v};
  return vrt_node_add_attr(n, &a);
}
int vrt_node_set_ints(vrt_node *n, const char *name, const int64_t *v, int count) {
  vrt_attr a = {.name = (char *)name, .type = VRT_ATTR_INTS, .ints = (int64_t *)v, .n = count};
  return vrt_node_add_attr(n, &a);
}
int vrt_node_set_floats(vrt_node *n, const char *name, const float *v, int count) {
  vrt_attr a = {.name = (char *)name, .type = VRT_ATTR_FLOATS, .floats = (float *)v, .n = count};
  return vrt_node_add_attr(n, &a);
}
int vrt_node_set_string(vrt_node *n, const char *name, const char *s) {
  vrt_attr a = {.name = (char *)name, .type = VRT_ATTR_STRING, .s = (char *)s, .slen = strlen(s)};
  return vrt_node_add_attr(n, &a);
}

int vrt_graph_set_meta(vrt_graph *g, const char *key, const char *val) {
  vrt_meta *m = realloc(g->meta, sizeof *m * (size_t)(g->nmeta + 1));
  if (!m) return VRT_ENOMEM;
  g->meta = m;
  size_t kl = strlen(key) + 1, vl = strlen(val) + 1;
  char *kv = malloc(kl + vl);
  if (!kv) return VRT_ENOMEM;
  memcpy(kv, key, kl);
  memcpy(kv + kl, val, vl);
  m[g->nmeta++] = (vrt_meta){.key = kv, .val = kv + kl};
  return 0;
}

int vrt_graph_add_map(vrt_graph *g, void *addr, size_t len) {
  vrt_map *m = realloc(g->maps, sizeof *m * (size_t)(g->nmaps + 1));
  if (!m) return VRT_ENOMEM;
  g->maps = m;
  m[g->nmaps].addr = addr;
  m[g->nmaps].len = len;
  g->nmaps++;
  return 0;
}

const vrt_attr *vrt_node_attr(const vrt_node *n, const char *name) {
  for (int i = 0; i < n->nattr; i++)
    if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
  return NULL;
}

int64_t vrt_attr_int(const vrt_node *n, const char *name, int64_t dflt) {
  const vrt_attr *a = vrt_node_attr(n, name);
  if (!a) return dflt;
  if (a->type == VRT_ATTR_INT) return a->i;
  /* a float where an int belongs: only a value an int64 can hold converts (a model
   * file's NaN or 4e37 would be undefined behaviour; found by fuzz_onnx) */
  if (a->type == VRT_ATTR_FLOAT) return isfinite(a->f) && fabs(a->f) < 9.2e18 ? (int64_t)a->f : dflt;
  return dflt;
}

float vrt_attr_float(const vrt_node *n, const char *name, float dflt) {
  const vrt_attr *a = vrt_node_attr(n, name);
  if (!a) return dflt;
  if (a->type == VRT_ATTR_FLOAT) return a->f;
  if (a->type == VRT_ATTR_INT) return (float)a->i;
  return dflt;
}

const char *vrt_attr_string(const vrt_node *n, const char *name, const char *dflt) {
  const vrt_attr *a = vrt_node_attr(n, name);
  return a && a->type == VRT_ATTR_STRING ? a->s : dflt;
}

int vrt_attr_ints(const vrt_node *n, const char *name, const int64_t **out) {
  const vrt_attr *a = vrt_node_attr(n, name);
  *out = NULL;
  if (!a || a->type != VRT_ATTR_INTS) return 0;
  *out = a->ints;
  return a->n;
}

int vrt_attr_floats(const vrt_node *n, const char *name, const float **out) {
  const vrt_attr *a = vrt_node_attr(n, name);
  *out = NULL;
  if (!a || a->type != VRT_ATTR_FLOATS) return 0;
  *out = a->floats;
  return a->n;
}

int vrt_graph_validate(const vrt_graph *g) {
  char *defined = calloc((size_t)g->nvalues + 1, 1);
  if (!defined) return vrt__err(VRT_ENOMEM, "out of memory");
  int rc = 0;
  for (int i = 0; i < g->nvalues; i++)
    if (g->values[i].flags & (VRT_VAL_CONST | VRT_VAL_INPUT)) defined[i] = 1;
  for (int i = 0; i < g->nnodes && !rc; i++) {
    const vrt_node *n = &g->nodes[i];
    if (n->op < 0 || n->op >= VRT_OP_COUNT) {
      rc = vrt__err(VRT_EUNSUPPORTED, "node '%s': unsupported op '%s'", n->name, n->op_type);
      break;
    }
    if (n->nin > VRT_MAX_NODE_IO || n->nout > VRT_MAX_NODE_IO) {
      rc = vrt__err(VRT_ELIMIT, "node '%s' (%s): %d inputs and %d outputs, at most %d of each are supported",
                    n->name, n->op_type, n->nin, n->nout, VRT_MAX_NODE_IO);
      break;
    }
    for (int k = 0; k < n->nin; k++) {
      int v = n->in[k];
      if (v < -1 || v >= g->nvalues) {
        rc = vrt__err(VRT_EGRAPH, "node '%s' (%s): input %d out of range", n->name, n->op_type, k);
        break;
      }
      if (v >= 0 && !defined[v]) {
        rc = vrt__err(VRT_EGRAPH, "node '%s' (%s): input '%s' is not produced before use (cycle or missing)",
                      n->name, n->op_type, g->values[v].t.name);
        break;
      }
    }
    for (int k = 0; k < n->nout && !rc; k++) {
      int v = n->out[k];
      if (v < 0 || v >= g->nvalues) {
        rc = vrt__err(VRT_EGRAPH, "node '%s' (%s): output %d out of range", n->name, n->op_type, k);
      } else if (defined[v]) {
        rc = vrt__err(VRT_EGRAPH, "node '%s' (%s): output '%s' is defined twice", n->name, n->op_type,
                      g->values[v].t.name);
      } else {
        defined[v] = 1;
      }
    }
  }
  for (int i = 0; i < g->noutputs && !rc; i++) {
    int v = g->outputs[i];
    if (v < 0 || v >= g->nvalues || !defined[v])
      rc = vrt__err(VRT_EGRAPH, "graph output %d is never produced", i);
  }
  free(defined);
  return rc;
}
