/* ONNX model loading: ModelProto/GraphProto/NodeProto/AttributeProto parsing,
 * Constant nodes and initializers to constants, opset normalisation, a
 * topological sort, and the vrt__onnx_load_file/_buffer entry points. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loaders.h"
#include "onnx.h"
#include "ops.h"

/* Field numbers from onnx.proto. */
enum { M_IR_VERSION = 1, M_GRAPH = 7, M_OPSET = 8, M_META = 14 };
enum { G_NODE = 1, G_INIT = 5, G_INPUT = 11, G_OUTPUT = 12, G_VALUE_INFO = 13, G_SPARSE_INIT = 15 };
enum { N_INPUT = 1, N_OUTPUT = 2, N_NAME = 3, N_OP_TYPE = 4, N_ATTR = 5, N_DOMAIN = 7 };
enum {
  A_NAME = 1, A_F = 2, A_I = 3, A_S = 4, A_T = 5, A_G = 6, A_FLOATS = 7, A_INTS = 8, A_STRINGS = 9,
  A_TENSORS = 10, A_GRAPHS = 11, A_TP = 14, A_TPS = 15, A_TYPE = 20, A_REF = 21, A_SPARSE = 22, A_SPARSES = 23
};
/* AttributeProto.AttributeType */
enum {
  AT_FLOAT = 1, AT_INT, AT_STRING, AT_TENSOR, AT_GRAPH, AT_FLOATS, AT_INTS, AT_STRINGS, AT_TENSORS, AT_GRAPHS,
  AT_SPARSE_TENSOR, AT_SPARSE_TENSORS, AT_TYPE_PROTO, AT_TYPE_PROTOS
};

#define ONNX_MIN_OPSET 1
#define ONNX_MAX_OPSET 21

/* ---- string map ------------------------------------------------------------ */

static size_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
  return (size_t)h;
}

static size_t map_slot(const onnx_map *m, const char *key) {
  size_t i = hash_str(key) & (m->cap - 1);
  while (m->keys[i] && strcmp(m->keys[i], key) != 0) i = (i + 1) & (m->cap - 1);
  return i;
}

int onnx_map_put(onnx_map *m, const char *key, int val) {
  if ((m->n + 1) * 2 > m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    onnx_map nm = {calloc(cap, sizeof(char *)), calloc(cap, sizeof(int)), cap, m->n};
    if (!nm.keys || !nm.vals) {
      free(nm.keys), free(nm.vals);
      return vrt__err(VRT_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < m->cap; i++)
      if (m->keys[i]) {
        size_t s = map_slot(&nm, m->keys[i]);
        nm.keys[s] = m->keys[i];
        nm.vals[s] = m->vals[i];
      }
    free(m->keys), free(m->vals);
    *m = nm;
  }
  size_t s = map_slot(m, key);
  if (!m->keys[s]) {
    if (!(m->keys[s] = strdup(key))) return vrt__err(VRT_ENOMEM, "out of memory");
    m->n++;
  }
  m->vals[s] = val;
  return 0;
}

int onnx_map_get(const onnx_map *m, const char *key) {
  if (!m->cap) return -1;
  size_t s = map_slot(m, key);
  return m->keys[s] ? m->vals[s] : -1;
}

void onnx_map_free(onnx_map *m) {
  for (size_t i = 0; i < m->cap; i++) free(m->keys[i]);
  free(m->keys), free(m->vals);
  memset(m, 0, sizeof *m);
}

/* ---- nodes ------------------------------------------------------------------ */

void onnx_node_clear(onnx_node *n) {
  for (int i = 0; i < n->nin; i++) free(n->in[i]);
  for (int i = 0; i < n->nout; i++) free(n->out[i]);
  for (int i = 0; i < n->nattr; i++) vrt_attr_clear(&n->attrs[i]);
  free(n->in), free(n->out), free(n->attrs);
  free(n->name), free(n->op_type), free(n->domain);
  memset(n, 0, sizeof *n);
}

int onnx_push_node(onnx_ctx *c, onnx_node *n) {
  if (c->nnodes == c->cap_nodes) {
    int cap = c->cap_nodes ? c->cap_nodes * 2 : 64;
    onnx_node *nn = realloc(c->nodes, sizeof *nn * (size_t)cap);
    if (!nn) {
      onnx_node_clear(n);
      return vrt__err(VRT_ENOMEM, "out of memory");
    }
    c->nodes = nn;
    c->cap_nodes = cap;
  }
  c->nodes[c->nnodes++] = *n;
  memset(n, 0, sizeof *n);
  return 0;
}

vrt_attr *onnx_node_attr(onnx_node *n, const char *name) {
  for (int i = 0; i < n->nattr; i++)
    if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
  return NULL;
}

void onnx_node_drop_attr(onnx_node *n, const char *name) {
  for (int i = 0; i < n->nattr; i++)
    if (strcmp(n->attrs[i].name, name) == 0) {
      vrt_attr_clear(&n->attrs[i]);
      n->attrs[i] = n->attrs[--n->nattr];
      return;
    }
}

static int node_push_attr(onnx_node *n, vrt_attr *a) {
  vrt_attr *na = realloc(n->attrs, sizeof *na * (size_t)(n->nattr + 1));
  if (!na) {
    vrt_attr_clear(a);
    return vrt__err(VRT_ENOMEM, "out of memory");
  }
  n->attrs = na;
  n->attrs[n->nattr++] = *a;
  memset(a, 0, sizeof *a);
  return 0;
}

int onnx_node_add_string_attr(onnx_node *n, const char *name, const char *val) {
  /* val may point into the attribute being replaced: copy it first */
  vrt_attr a = {.name = strdup(name), .type = VRT_ATTR_STRING, .s = strdup(val), .slen = strlen(val)};
  onnx_node_drop_attr(n, name);
  if (!a.name || !a.s) {
    vrt_attr_clear(&a);
    return vrt__err(VRT_ENOMEM, "out of memory");
  }
  return node_push_attr(n, &a);
}

int onnx_node_add_int_attr(onnx_node *n, const char *name, int64_t v) {
  onnx_node_drop_attr(n, name);
  vrt_attr a = {.name = strdup(name), .type = VRT_ATTR_INT, .i = v};
  if (!a.name) return vrt__err(VRT_ENOMEM, "out of memory");
  return node_push_attr(n, &a);
}

int onnx_node_set_input(onnx_node *n, int idx, const char *name) {
  if (idx >= n->nin) {
    char **ni = realloc(n->in, sizeof(char *) * (size_t)(idx + 1));
    if (!ni) return vrt__err(VRT_ENOMEM, "out of memory");
    n->in = ni;
    for (int i = n->nin; i <= idx; i++) ni[i] = NULL;
    for (int i = n->nin; i < idx; i++)
      if (!(ni[i] = strdup(""))) {
        n->nin = i;
        return vrt__err(VRT_ENOMEM, "out of memory");
      }
    n->nin = idx + 1;
  }
  char *s = strdup(name);
  if (!s) return vrt__err(VRT_ENOMEM, "out of memory");
  free(n->in[idx]);
  n->in[idx] = s;
  return 0;
}

char *onnx_fresh_name(onnx_ctx *c, const char *base) {
  size_t len = strlen(base) + 32;
  char *s = malloc(len);
  if (!s) return NULL;
  do snprintf(s, len, "%s/vrt%d", base, c->uniq++);
  while (onnx_map_get(&c->values, s) >= 0);
  return s;
}

/* Register a constant value in the graph and the name map. Takes t's data. */
static int add_const_tensor(onnx_ctx *c, const char *name, onnx_tensor *t) {
  if (onnx_map_get(&c->values, name) >= 0) {
    onnx_tensor_clear(t);
    return vrt__err(VRT_EGRAPH, "value '%s' is defined twice", name);
  }
  void *data = t->data;
  t->data = NULL;
  int id = vrt_graph_add_const(c->g, name, t->dtype, t->ndim, t->dims, data, t->nbytes, t->borrowed);
  const void *src = t->src;
  onnx_tensor_clear(t);
  if (id < 0) return id;
  c->g->values[id].file_src = src;
  int rc = onnx_map_put(&c->values, name, id);
  return rc ? rc : onnx_map_put(&c->ranks, name, c->g->values[id].t.ndim);
}

int onnx_add_const(onnx_ctx *c, const char *base, vrt_dtype dt, int ndim, const int64_t *dims, const void *data,
                   size_t nbytes, const char **name_out) {
  onnx_tensor t = {.dtype = dt, .ndim = ndim, .nbytes = nbytes};
  if (ndim) memcpy(t.dims, dims, sizeof(int64_t) * (size_t)ndim);
  char *name = onnx_fresh_name(c, base);
  t.data = malloc(nbytes ? nbytes : 1);
  if (!name || !t.data) {
    free(name), free(t.data);
    return vrt__err(VRT_ENOMEM, "out of memory");
  }
  if (nbytes) memcpy(t.data, data, nbytes);
  int rc = add_const_tensor(c, name, &t);
  free(name);
  if (rc) return rc;
  *name_out = c->g->values[c->g->nvalues - 1].t.name;
  return 0;
}

/* ---- attributes ------------------------------------------------------------- */

/* Parses one AttributeProto into *a: 0, or 1 for an attribute of a kind no
 * vrt op reads (skipped, *a empty), or <0. TENSOR attributes may borrow from
 * the mapping only when allow_borrow (Constant nodes, whose tensor becomes a
 * graph constant at once); *borrowed tells. */
static int parse_attr(onnx_ctx *c, const pb_reader *msg, const onnx_node *n, bool allow_borrow, vrt_attr *a,
                      bool *borrowed, const void **src) {
  memset(a, 0, sizeof *a);
  *borrowed = false;
  if (src) *src = NULL;
  int64_t type = 0;
  unsigned seen = 0; /* bit per field number present */
  const uint8_t *name = NULL, *s = NULL, *t = NULL;
  size_t name_len = 0, s_len = 0, t_len = 0;
  const uint8_t *st = NULL; /* sparse_tensor */
  size_t st_len = 0;
  pb_reader r = *msg;
  pb_field f;
  int rc;
  while ((rc = pb_next(&r, &f)) > 0) {
    if (f.num < 32) seen |= 1u << f.num;
    switch (f.num) {
      case A_NAME: if (f.wire == PB_LEN) name = f.data, name_len = f.len; break;
      case A_TYPE: type = (int64_t)f.v; break;
      case A_F: a->f = pb_f32(f.v); break;
      case A_I: a->i = (int64_t)f.v; break;
      case A_S: if (f.wire == PB_LEN) s = f.data, s_len = f.len; break;
      case A_T: if (f.wire == PB_LEN) t = f.data, t_len = f.len; break;
      case A_SPARSE: if (f.wire == PB_LEN) st = f.data, st_len = f.len; break;
      default: break;
    }
  }
  if (rc < 0) return rc;
  if (!name || !(a->name = onnx_strndup(name, name_len)))
    return name ? vrt__err(VRT_ENOMEM, "out of memory")
                : vrt__err(VRT_EPARSE, "node '%s' (%s): attribute without a name", n->name, n->op_type);
  if (seen & (1u << A_REF)) {
    rc = vrt__err(VRT_EUNSUPPORTED, "node '%s' (%s): attribute '%s' refers to a function attribute", n->name,
                  n->op_type, a->name);
    goto fail;
  }
  if (!type) { /* old writers leave the type out: infer it from the field present */
    static const struct { int field, type; } guess[] = {
        {A_F, AT_FLOAT}, {A_I, AT_INT}, {A_S, AT_STRING}, {A_T, AT_TENSOR}, {A_G, AT_GRAPH},
        {A_FLOATS, AT_FLOATS}, {A_INTS, AT_INTS}, {A_STRINGS, AT_STRINGS}, {A_TENSORS, AT_TENSORS},
        {A_GRAPHS, AT_GRAPHS}, {A_SPARSE, AT_SPARSE_TENSOR}, {A_SPARSES, AT_SPARSE_TENSORS}, {A_TP, AT_TYPE_PROTO},
        {A_TPS, AT_TYPE_PROTOS}};
    for (size_t i = 0; i < sizeof guess / sizeof guess[0] && !type; i++)
      if (seen & (1u << guess[i].field)) type = guess[i].type;
  }
  switch (type) {
    case AT_FLOAT: a->type = VRT_ATTR_FLOAT; break;
    case AT_INT: a->type = VRT_ATTR_INT; break;
    case AT_STRING:
      a->type = VRT_ATTR_STRING;
      if (!(a->s = onnx_strndup(s, s ? s_len : 0))) goto oom;
      a->slen = s ? s_len : 0;
      break;
    case AT_SPARSE_TENSOR:
    case AT_TENSOR: {
      bool sparse = type == AT_SPARSE_TENSOR;
      if (sparse) t = st, t_len = st_len;
      if (!t) {
        rc = vrt__err(VRT_EPARSE, "node '%s' (%s): tensor attribute '%s' has no tensor", n->name, n->op_type, a->name);
        goto fail;
      }
      char what[256];
      snprintf(what, sizeof what, "node '%s' attribute '%s'", n->name, a->name);
      bool save = c->can_borrow;
      c->can_borrow = save && allow_borrow;
      onnx_tensor ot;
      pb_reader tr = pb_sub(msg, t, t_len);
      rc = sparse ? onnx_sparse_parse(c, &tr, what, &ot) : onnx_tensor_parse(c, &tr, what, &ot);
      c->can_borrow = save;
      if (rc) goto fail;
      a->type = VRT_ATTR_TENSOR;
      if (!(a->t = calloc(1, sizeof *a->t))) {
        onnx_tensor_clear(&ot);
        goto oom;
      }
      a->t->name = ot.name;
      a->t->dtype = ot.dtype;
      a->t->ndim = ot.ndim;
      memcpy(a->t->dims, ot.dims, sizeof ot.dims);
      a->t->data = ot.data;
      a->t->nbytes = ot.nbytes;
      a->t_borrowed = ot.borrowed; /* then vrt_attr_clear leaves the data alone, whatever path frees a */
      *borrowed = ot.borrowed;
      if (src) *src = ot.src;
      break;
    }
    case AT_FLOATS: case AT_INTS: {
      bool fl = type == AT_FLOATS;
      size_t cnt;
      if ((rc = pb_count(msg, fl ? A_FLOATS : A_INTS, fl ? PB_FIXED32 : PB_VARINT, &cnt))) goto fail;
      if (cnt > INT_MAX) goto toolong;
      a->type = fl ? VRT_ATTR_FLOATS : VRT_ATTR_INTS;
      a->n = (int)cnt;
      if (fl ? !(a->floats = malloc(sizeof(float) * (cnt ? cnt : 1))) : !(a->ints = malloc(sizeof(int64_t) * (cnt ? cnt : 1))))
        goto oom;
      pb_iter it;
      pb_iter_init(&it, msg, fl ? A_FLOATS : A_INTS, fl ? PB_FIXED32 : PB_VARINT);
      uint64_t v;
      for (size_t i = 0; i < cnt && (rc = pb_iter_next(&it, &v)) > 0; i++) {
        if (fl) a->floats[i] = pb_f32(v);
        else a->ints[i] = (int64_t)v;
      }
      if (rc < 0) goto fail;
      break;
    }
    case AT_STRINGS: {
      size_t cnt = 0;
      for (r = *msg; (rc = pb_next(&r, &f)) > 0;) cnt += f.num == A_STRINGS && f.wire == PB_LEN;
      if (rc < 0) goto fail;
      if (cnt > INT_MAX) goto toolong;
      a->type = VRT_ATTR_STRINGS;
      if (!(a->strings = calloc(cnt ? cnt : 1, sizeof(char *)))) goto oom;
      for (r = *msg; (rc = pb_next(&r, &f)) > 0;)
        if (f.num == A_STRINGS && f.wire == PB_LEN) {
          if (!(a->strings[a->n] = onnx_strndup(f.data, f.len))) goto oom;
          a->n++;
        }
      if (rc < 0) goto fail;
      break;
    }
    case AT_GRAPH: case AT_GRAPHS: case AT_TENSORS: case AT_SPARSE_TENSORS: case AT_TYPE_PROTO: case AT_TYPE_PROTOS:
      /* No op vrt knows reads such an attribute (the ops that need subgraphs,
       * If/Loop/Scan, are refused as unknown ops before this): skip it. */
      vrt_attr_clear(a);
      return 1;
    default:
      rc = vrt__err(VRT_EUNSUPPORTED, "node '%s' (%s): attribute '%s' has unsupported type %lld", n->name, n->op_type,
                    a->name, (long long)type);
      goto fail;
  }
  return 0;
toolong:
  rc = vrt__err(VRT_ELIMIT, "node '%s': attribute '%s' is too long", n->name, a->name);
  goto fail;
oom:
  rc = vrt__err(VRT_ENOMEM, "out of memory");
fail:
  *borrowed = false;
  vrt_attr_clear(a);
  return rc < 0 ? rc : VRT_EPARSE;
}

/* A Constant node becomes a graph constant named after its output. */
static int constant_node(onnx_ctx *c, const pb_reader *msg, onnx_node *n) {
  if (n->nout != 1 || !n->out[0][0])
    return vrt__err(VRT_EGRAPH, "node '%s' (Constant): needs exactly one output", n->name);
  onnx_tensor t = {0};
  bool have = false;
  pb_reader r = *msg;
  pb_field f;
  int rc;
  while ((rc = pb_next(&r, &f)) > 0) {
    if (f.num != N_ATTR || f.wire != PB_LEN) continue;
    vrt_attr a;
    bool borrowed;
    const void *src;
    pb_reader ar = pb_sub(msg, f.data, f.len);
    if ((rc = parse_attr(c, &ar, n, true, &a, &borrowed, &src)) < 0) break;
    if (rc == 1) {
      rc = 0;
      continue;
    }
    const char *an = a.name;
    bool used = true;
    if (have) {
      rc = vrt__err(VRT_EPARSE, "node '%s' (Constant): more than one value attribute", n->name);
    } else if ((strcmp(an, "value") == 0 || strcmp(an, "sparse_value") == 0) && a.type == VRT_ATTR_TENSOR) {
      t.dtype = a.t->dtype;
      t.ndim = a.t->ndim;
      memcpy(t.dims, a.t->dims, sizeof t.dims);
      t.data = a.t->data;
      t.nbytes = a.t->nbytes;
      t.borrowed = borrowed;
      t.src = src;
      a.t->data = NULL; /* moved into t (owned or borrowed, as t.borrowed says) */
    } else if ((strcmp(an, "value_float") == 0 && a.type == VRT_ATTR_FLOAT) ||
               (strcmp(an, "value_int") == 0 && a.type == VRT_ATTR_INT)) {
      bool fl = a.type == VRT_ATTR_FLOAT;
      t.dtype = fl ? VRT_F32 : VRT_I64;
      t.nbytes = fl ? 4 : 8;
      if ((t.data = malloc(8))) memcpy(t.data, fl ? (void *)&a.f : (void *)&a.i, t.nbytes);
      else rc = vrt__err(VRT_ENOMEM, "out of memory");
    } else if ((strcmp(an, "value_floats") == 0 && a.type == VRT_ATTR_FLOATS) ||
               (strcmp(an, "value_ints") == 0 && a.type == VRT_ATTR_INTS)) {
      bool fl = a.type == VRT_ATTR_FLOATS;
      t.dtype = fl ? VRT_F32 : VRT_I64;
      t.ndim = 1;
      t.dims[0] = a.n;
      t.nbytes = (size_t)a.n * (fl ? 4 : 8);
      t.data = fl ? (void *)a.floats : (void *)a.ints;
      a.floats = NULL, a.ints = NULL;
    } else if (strncmp(an, "value", 5) == 0) {
      rc = vrt__err(VRT_EUNSUPPORTED, "node '%s' (Constant): attribute '%s' is not supported", n->name, an);
    } else {
      used = false;
    }
    have |= used && rc == 0;
    vrt_attr_clear(&a);
    if (rc) break;
  }
  if (rc >= 0 && !have) rc = vrt__err(VRT_EPARSE, "node '%s' (Constant): no value attribute", n->name);
  if (rc < 0) {
    onnx_tensor_clear(&t);
    return rc;
  }
  return add_const_tensor(c, n->out[0], &t);
}

/* ---- nodes ------------------------------------------------------------------- */

static int op_lookup(const char *op_type) {
  /* IR ops that exist for TF.js or the fusion passes only; an ONNX file
   * cannot name them. */
  static const char *const not_onnx[] = {"StridedSlice", "SparseToDense", "FloorDiv", "FloorMod", "VrtAttention"};
  for (size_t i = 0; i < sizeof not_onnx / sizeof not_onnx[0]; i++)
    if (strcmp(op_type, not_onnx[i]) == 0) return -1;
  if (strcmp(op_type, "Scatter") == 0) return VRT_OP_ScatterElements; /* renamed in opset 11 */
  return vrt_op_from_name(op_type);
}

static int read_strings(const pb_reader *msg, uint32_t num, char ***out, int *count) {
  size_t n = 0;
  pb_reader r = *msg;
  pb_field f;
  int rc;
  while ((rc = pb_next(&r, &f)) > 0) n += f.num == num && f.wire == PB_LEN;
  if (rc < 0) return rc;
  if (n > 65536) return vrt__err(VRT_ELIMIT, "onnx: node with %zu inputs or outputs", n);
  char **v = calloc(n ? n : 1, sizeof(char *));
  if (!v) return vrt__err(VRT_ENOMEM, "out of memory");
  *out = v;
  *count = 0;
  for (r = *msg; (rc = pb_next(&r, &f)) > 0;)
    if (f.num == num && f.wire == PB_LEN) {
      if (!(v[*count] = onnx_strndup(f.data, f.len))) return vrt__err(VRT_ENOMEM, "out of memory");
      if (strlen(v[*count]) != f.len) {
        (*count)++;
        return vrt__err(VRT_EPARSE, "onnx: value name with a NUL byte");
      }
      (*count)++;
    }
  return rc;
}

static int parse_node(onnx_ctx *c, const pb_reader *msg) {
  onnx_node n = {0};
  const uint8_t *name = NULL, *op = NULL, *dom = NULL;
  size_t name_len = 0, op_len = 0, dom_len = 0;
  pb_reader r = *msg;
  pb_field f;
  int rc;
  while ((rc = pb_next(&r, &f)) > 0) {
    if (f.wire != PB_LEN) continue;
    if (f.num == N_NAME) name = f.data, name_len = f.len;
    if (f.num == N_OP_TYPE) op = f.data, op_len = f.len;
    if (f.num == N_DOMAIN) dom = f.data, dom_len = f.len;
  }
  if (rc < 0) return rc;
  if ((rc = read_strings(msg, N_INPUT, &n.in, &n.nin)) || (rc = read_strings(msg, N_OUTPUT, &n.out, &n.nout)))
    goto done;
  n.op_type = onnx_strndup(op, op ? op_len : 0);
  n.domain = onnx_strndup(dom, dom ? dom_len : 0);
  if (name && name_len) n.name = onnx_strndup(name, name_len);
  else if (n.nout && n.out[0][0]) n.name = strdup(n.out[0]);
  else if ((n.name = malloc(64))) snprintf(n.name, 64, "%s_%d", n.op_type ? n.op_type : "node", c->nnodes);
  if (!n.op_type || !n.domain || !n.name) {
    rc = vrt__err(VRT_ENOMEM, "out of memory");
    goto done;
  }
  bool dflt = !n.domain[0] || strcmp(n.domain, "ai.onnx") == 0;
  n.op = dflt ? op_lookup(n.op_type) : -1;
  if (n.op >= 0 && c->opset <= 0) {
    rc = vrt__err(VRT_EPARSE, "node '%s' (%s): the model imports no opset for the default domain", n.name, n.op_type);
    goto done;
  }
  if (n.op < 0) {
    rc = vrt__err(VRT_EUNSUPPORTED, "node '%s': unsupported op '%s:%s'", n.name, dflt ? "ai.onnx" : n.domain,
                  n.op_type);
    goto done;
  }
  if (n.op == VRT_OP_Constant) {
    rc = constant_node(c, msg, &n);
    goto done;
  }
  for (r = *msg; (rc = pb_next(&r, &f)) > 0;) {
    if (f.num != N_ATTR || f.wire != PB_LEN) continue;
    vrt_attr a;
    bool borrowed;
    pb_reader ar = pb_sub(msg, f.data, f.len);
    if ((rc = parse_attr(c, &ar, &n, false, &a, &borrowed, NULL)) < 0) goto done;
    if (rc == 0 && (rc = node_push_attr(&n, &a))) goto done;
    rc = 0;
  }
  if (rc < 0) goto done;
  return onnx_push_node(c, &n);
done:
  onnx_node_clear(&n);
  return rc < 0 ? rc : 0;
}

/* ---- value infos -------------------------------------------------------------- */

typedef struct vinfo {
  char *name;
  bool tensor;    /* a tensor type (not sequence/map/optional) */
  int64_t elem;   /* ONNX elem_type */
  int ndim;       /* -1 without a shape */
  int64_t dims[VRT_MAX_DIMS];
  char *dim_names[VRT_MAX_DIMS];
} vinfo;

static void vinfo_clear(vinfo *v) {
  free(v->name);
  for (int i = 0; i < VRT_MAX_DIMS; i++) free(v->dim_names[i]);
  memset(v, 0, sizeof *v);
}

static int parse_shape(const pb_reader *msg, vinfo *v) {
  pb_reader r = *msg;
  pb_field f;
  int rc;
  v->ndim = 0;
  while ((rc = pb_next(&r, &f)) > 0) {
    if (f.num != 1 || f.wire != PB_LEN) continue;
    if (v->ndim == VRT_MAX_DIMS) return vrt__err(VRT_ELIMIT, "value '%s': more than %d dims", v->name, VRT_MAX_DIMS);
    int d = v->ndim++;
    v->dims[d] = -1;
    pb_reader dr = pb_sub(msg, f.data, f.len);
    pb_field df;
    while ((rc = pb_next(&dr, &df)) > 0) {
      if (df.num == 1 && df.wire == PB_VARINT) {
        v->dims[d] = (int64_t)df.v >= 0 ? (int64_t)df.v : -1;
        free(v->dim_names[d]);
        v->dim_names[d] = NULL;
      } else if (df.num == 2 && df.wire == PB_LEN && df.len) {
        free(v->dim_names[d]);
        if (!(v->dim_names[d] = onnx_strndup(df.data, df.len))) return vrt__err(VRT_ENOMEM, "out of memory");
        v->dims[d] = -1;
      }
    }
    if (rc < 0) return rc;
  }
  return rc;
}

static int parse_vinfo(const pb_reader *msg, vinfo *v) {
  memset(v, 0, sizeof *v);
  v->ndim = -1;
  const uint8_t *type = NULL;
  size_t type_len = 0;
  pb_reader r = *msg;
  pb_field f;
  int rc;
  while ((rc = pb_next(&r, &f)) > 0) {
    if (f.wire != PB_LEN) continue;
    if (f.num == 1) {
      free(v->name);
      if (!(v->name = onnx_strndup(f.data, f.len))) return vrt__err(VRT_ENOMEM, "out of memory");
    }
    if (f.num == 2) type = f.data, type_len = f.len;
  }
  if (rc < 0) return rc;
  if (!v->name && !(v->name = strdup(""))) return vrt__err(VRT_ENOMEM, "out of memory");
  if (!type) return 0;
  pb_reader tr = pb_sub(msg, type, type_len);
  while ((rc = pb_next(&tr, &f)) > 0) {
    if (f.num != 1 || f.wire != PB_LEN) continue; /* tensor_type */
    v->tensor = true;
    pb_reader tt = pb_sub(msg, f.data, f.len);
    pb_field tf;
    while ((rc = pb_next(&tt, &tf)) > 0) {
      if (tf.num == 1 && tf.wire == PB_VARINT) v->elem = (int64_t)tf.v;
      if (tf.num == 2 && tf.wire == PB_LEN) {
        pb_reader sr = pb_sub(msg, tf.data, tf.len);
        if ((rc = parse_shape(&sr, v))) return rc;
      }
    }
    if (rc < 0) return rc;
  }
  return rc;
}

/* ---- graph -------------------------------------------------------------------- */

/* Give every node output a value, drop unused trailing outputs that only
 * training needs, resolve inputs, and emit the nodes in topological order. */
static int build_nodes(onnx_ctx *c, onnx_map *used) {
  vrt_graph *g = c->g;
  int rc = 0, nn = c->nnodes;
  for (int i = 0; i < nn; i++) {
    onnx_node *n = &c->nodes[i];
    while (n->nout > 0 && !n->out[n->nout - 1][0]) free(n->out[--n->nout]);
    if (n->op == VRT_OP_BatchNormalization || n->op == VRT_OP_Dropout || n->op == VRT_OP_MaxPool)
      while (n->nout > 1 && onnx_map_get(used, n->out[n->nout - 1]) < 0) free(n->out[--n->nout]);
    for (int k = 0; k < n->nout; k++) {
      if (!n->out[k][0]) {
        char *s = onnx_fresh_name(c, n->name);
        if (!s) return vrt__err(VRT_ENOMEM, "out of memory");
        free(n->out[k]);
        n->out[k] = s;
      }
      if (onnx_map_get(&c->values, n->out[k]) >= 0)
        return vrt__err(VRT_EGRAPH, "node '%s' (%s): output '%s' is defined twice", n->name, n->op_type, n->out[k]);
      int id = vrt_graph_add_value(g, n->out[k], VRT_UNDEFINED, -1, NULL);
      if (id < 0) return id;
      if ((rc = onnx_map_put(&c->values, n->out[k], id))) return rc;
    }
  }
  /* value -> producing node, and per-node value indices */
  int *prod = malloc(sizeof(int) * (size_t)(g->nvalues + 1));
  int *ins = NULL, *outs = NULL, *in_off = calloc((size_t)nn + 1, sizeof(int)), *out_off = calloc((size_t)nn + 1, sizeof(int));
  int *order = malloc(sizeof(int) * (size_t)(nn + 1)), *deps = calloc((size_t)nn + 1, sizeof(int));
  int *adj_off = calloc((size_t)nn + 2, sizeof(int)), *adj = NULL;
  if (!prod || !in_off || !out_off || !order || !deps || !adj_off) goto oom;
  for (int v = 0; v < g->nvalues; v++) prod[v] = -1;
  for (int i = 0; i < nn; i++) {
    in_off[i + 1] = in_off[i] + c->nodes[i].nin;
    out_off[i + 1] = out_off[i] + c->nodes[i].nout;
  }
  ins = malloc(sizeof(int) * (size_t)(in_off[nn] + 1));
  outs = malloc(sizeof(int) * (size_t)(out_off[nn] + 1));
  adj = malloc(sizeof(int) * (size_t)(in_off[nn] + 1));
  if (!ins || !outs || !adj) goto oom;
  for (int i = 0; i < nn; i++) {
    onnx_node *n = &c->nodes[i];
    for (int k = 0; k < n->nout; k++) prod[outs[out_off[i] + k] = onnx_map_get(&c->values, n->out[k])] = i;
  }
  bool sorted = true;
  for (int i = 0; i < nn; i++) {
    onnx_node *n = &c->nodes[i];
    for (int k = 0; k < n->nin; k++) {
      int v = -1;
      if (n->in[k][0] && (v = onnx_map_get(&c->values, n->in[k])) < 0) {
        rc = vrt__err(VRT_EGRAPH, "node '%s' (%s): input '%s' is not produced by any node, initializer or graph input",
                      n->name, n->op_type, n->in[k]);
        goto out;
      }
      ins[in_off[i] + k] = v;
      if (v >= 0 && prod[v] >= 0) {
        deps[i]++;
        adj_off[prod[v] + 2]++;
        if (prod[v] >= i) sorted = false;
      }
    }
  }
  if (sorted) {
    for (int i = 0; i < nn; i++) order[i] = i;
  } else {
    /* Kahn's algorithm; consumers of each node in CSR form. */
    for (int i = 0; i < nn; i++) adj_off[i + 2] += adj_off[i + 1];
    for (int i = 0; i < nn; i++)
      for (int k = in_off[i]; k < in_off[i + 1]; k++)
        if (ins[k] >= 0 && prod[ins[k]] >= 0) adj[adj_off[prod[ins[k]] + 1]++] = i;
    int head = 0, tail = 0;
    for (int i = 0; i < nn; i++)
      if (!deps[i]) order[tail++] = i;
    while (head < tail) {
      int u = order[head++];
      for (int k = adj_off[u]; k < adj_off[u + 1]; k++)
        if (--deps[adj[k]] == 0) order[tail++] = adj[k];
    }
    if (tail < nn) {
      int bad = 0;
      while (bad < nn && !deps[bad]) bad++;
      /* Every blocked node has a blocked producer: walking back nn steps
       * lands on the cycle itself, not on a node downstream of it. */
      for (int step = 0; step < nn; step++) {
        int next = -1;
        for (int k = in_off[bad]; k < in_off[bad + 1] && next < 0; k++)
          if (ins[k] >= 0 && prod[ins[k]] >= 0 && deps[prod[ins[k]]]) next = prod[ins[k]];
        if (next < 0) break;
        bad = next;
      }
      rc = vrt__err(VRT_EGRAPH, "graph has a cycle through node '%s' (%s)", c->nodes[bad].name, c->nodes[bad].op_type);
      goto out;
    }
  }
  for (int j = 0; j < nn; j++) {
    int i = order[j];
    onnx_node *n = &c->nodes[i];
    int id = vrt_graph_add_node(g, n->op, n->name, n->op_type, ins + in_off[i], n->nin, outs + out_off[i], n->nout);
    if (id < 0) {
      rc = id;
      goto out;
    }
    for (int k = 0; k < n->nattr; k++)
      if ((rc = vrt_node_add_attr(&g->nodes[id], &n->attrs[k]))) {
        rc = vrt__err(VRT_ENOMEM, "out of memory");
        goto out;
      }
  }
  goto out;
oom:
  rc = vrt__err(VRT_ENOMEM, "out of memory");
out:
  free(prod), free(ins), free(outs), free(in_off), free(out_off), free(order), free(deps), free(adj_off), free(adj);
  return rc;
}

static int set_value_type(vrt_value *v, const vinfo *vi) {
  v->t.dtype = onnx_dtype(vi->elem);
  v->t.ndim = vi->ndim;
  for (int d = 0; d < vi->ndim; d++) {
    v->t.dims[d] = vi->dims[d];
    if (vi->dim_names[d] && !(v->dim_names[d] = strdup(vi->dim_names[d]))) return vrt__err(VRT_ENOMEM, "out of memory");
  }
  return 0;
}

/* A graph initializer, dense or sparse: a named constant. */
static int add_initializer(onnx_ctx *c, const pb_reader *msg, bool sparse) {
  const char *what = sparse ? "sparse initializer" : "initializer";
  onnx_tensor t;
  int rc = sparse ? onnx_sparse_parse(c, msg, what, &t) : onnx_tensor_parse(c, msg, what, &t);
  if (rc) return rc;
  if (!t.name[0]) {
    onnx_tensor_clear(&t);
    return vrt__err(VRT_EPARSE, "%s without a name", what);
  }
  char *name = t.name;
  t.name = NULL;
  rc = add_const_tensor(c, name, &t);
  free(name);
  return rc;
}

static int parse_graph(onnx_ctx *c, const pb_reader *msg) {
  vrt_graph *g = c->g;
  size_t n_in = 0, n_out = 0;
  pb_reader r = *msg;
  pb_field f;
  int rc;
  /* Pass 1: initializers and nodes (Constant nodes become constants). */
  while ((rc = pb_next(&r, &f)) > 0) {
    if (f.wire != PB_LEN) continue;
    pb_reader sub = pb_sub(msg, f.data, f.len);
    if (f.num == G_INIT || f.num == G_SPARSE_INIT) {
      if ((rc = add_initializer(c, &sub, f.num == G_SPARSE_INIT))) return rc;
    } else if (f.num == G_NODE) {
      if ((rc = parse_node(c, &sub))) return rc;
    } else {
      n_in += f.num == G_INPUT;
      n_out += f.num == G_OUTPUT;
    }
  }
  if (rc < 0) return rc;
  /* Pass 2: inputs (not the initializers that old files also list as inputs),
   * declared ranks, outputs. */
  vinfo *outs = calloc(n_out + 1, sizeof *outs);
  onnx_map used = {0};
  if (!outs || !(g->inputs = malloc(sizeof(int) * (n_in + 1))) || !(g->outputs = malloc(sizeof(int) * (n_out + 1)))) {
    free(outs);
    return vrt__err(VRT_ENOMEM, "out of memory");
  }
  size_t no = 0;
  for (r = *msg; (rc = pb_next(&r, &f)) > 0;) {
    if (f.wire != PB_LEN || (f.num != G_INPUT && f.num != G_OUTPUT && f.num != G_VALUE_INFO)) continue;
    pb_reader sub = pb_sub(msg, f.data, f.len);
    vinfo vi;
    if ((rc = parse_vinfo(&sub, &vi))) {
      vinfo_clear(&vi);
      goto out;
    }
    if (vi.ndim >= 0 && (rc = onnx_map_put(&c->ranks, vi.name, vi.ndim))) {
      vinfo_clear(&vi);
      goto out;
    }
    if (f.num == G_OUTPUT) {
      outs[no++] = vi;
      continue;
    }
    if (f.num == G_INPUT && onnx_map_get(&c->values, vi.name) < 0) {
      if (!vi.tensor || !vi.name[0]) {
        rc = vrt__err(VRT_EUNSUPPORTED, "graph input '%s': only tensor inputs are supported", vi.name);
      } else if (onnx_dtype(vi.elem) == VRT_UNDEFINED) {
        rc = vrt__err(VRT_EUNSUPPORTED, "graph input '%s': element type %lld is not supported", vi.name,
                      (long long)vi.elem);
      } else {
        int id = vrt_graph_add_value(g, vi.name, VRT_UNDEFINED, -1, NULL);
        if (id < 0 || (rc = set_value_type(&g->values[id], &vi)) || (rc = onnx_map_put(&c->values, vi.name, id))) {
          rc = id < 0 ? id : rc;
        } else {
          g->values[id].flags |= VRT_VAL_INPUT;
          g->inputs[g->ninputs++] = id;
        }
      }
    }
    vinfo_clear(&vi);
    if (rc) goto out;
  }
  if (rc < 0) goto out;
  /* Normalise to the newest opset (may append nodes), then build. */
  for (int i = 0; i < c->nnodes; i++)
    if ((rc = onnx_upgrade_node(c, &i))) goto out;
  for (int i = 0; i < c->nnodes; i++)
    for (int k = 0; k < c->nodes[i].nin; k++)
      if ((rc = onnx_map_put(&used, c->nodes[i].in[k], 1))) goto out;
  for (size_t i = 0; i < no; i++)
    if ((rc = onnx_map_put(&used, outs[i].name, 1))) goto out;
  if ((rc = build_nodes(c, &used))) goto out;
  for (size_t i = 0; i < no; i++) {
    int id = onnx_map_get(&c->values, outs[i].name);
    if (id < 0) {
      rc = vrt__err(VRT_EGRAPH, "graph output '%s' is not produced by any node", outs[i].name);
      goto out;
    }
    vrt_value *v = &g->values[id];
    if (!(v->flags & (VRT_VAL_CONST | VRT_VAL_INPUT)) && v->t.ndim < 0 && outs[i].tensor &&
        (rc = set_value_type(v, &outs[i])))
      goto out;
    v->flags |= VRT_VAL_OUTPUT;
    g->outputs[g->noutputs++] = id;
  }
  rc = vrt_graph_validate(g);
out:
  for (size_t i = 0; i < no; i++) vinfo_clear(&outs[i]);
  free(outs);
  onnx_map_free(&used);
  return rc;
}

/* ---- model -------------------------------------------------------------------- */

static int parse_model(onnx_ctx *c) {
  const uint8_t *graph = NULL;
  size_t graph_len = 0;
  int64_t opset = -1;
  pb_reader r = c->root;
  pb_field f;
  int rc;
  while ((rc = pb_next(&r, &f)) > 0) {
    if (f.num == M_IR_VERSION && f.wire == PB_VARINT) c->ir_version = (int64_t)f.v;
    if (f.wire != PB_LEN) continue;
    if (f.num == M_GRAPH) graph = f.data, graph_len = f.len;
    if (f.num == M_OPSET || f.num == M_META) {
      pb_reader sr = pb_sub(&c->root, f.data, f.len);
      pb_field sf;
      const uint8_t *k = NULL, *v = NULL;
      size_t kn = 0, vn = 0;
      int64_t version = 0;
      while ((rc = pb_next(&sr, &sf)) > 0) {
        if (sf.num == 1 && sf.wire == PB_LEN) k = sf.data, kn = sf.len;
        if (sf.num == 2 && sf.wire == PB_LEN) v = sf.data, vn = sf.len;
        if (sf.num == 2 && sf.wire == PB_VARINT) version = (int64_t)sf.v;
      }
      if (rc < 0) return rc;
      if (f.num == M_OPSET) {
        if (!k || kn == 0 || (kn == 7 && memcmp(k, "ai.onnx", 7) == 0)) opset = version;
      } else {
        char *ks = onnx_strndup(k, k ? kn : 0), *vs = onnx_strndup(v, v ? vn : 0);
        rc = ks && vs ? vrt_graph_set_meta(c->g, ks, vs) : VRT_ENOMEM;
        free(ks), free(vs);
        if (rc) return vrt__err(VRT_ENOMEM, "out of memory");
      }
    }
  }
  if (rc < 0) return rc;
  if (!graph) return vrt__err(VRT_EPARSE, "onnx: the model has no graph");
  /* no default-domain opset: fine while no node uses the default domain */
  if (opset >= 0 && (opset < ONNX_MIN_OPSET || opset > ONNX_MAX_OPSET))
    return vrt__err(VRT_EUNSUPPORTED, "onnx: opset %lld is not supported (%d..%d)", (long long)opset, ONNX_MIN_OPSET,
                    ONNX_MAX_OPSET);
  c->opset = (int)opset;
  c->g->opset = opset > 0 ? (int)opset : 0;
  pb_reader gr = pb_sub(&c->root, graph, graph_len);
  return parse_graph(c, &gr);
}

static int onnx_load(vrt_graph **out, const void *buf, size_t len, const char *base_dir, bool can_borrow,
                     bool *borrowed) {
  static const uint8_t empty[1];
  if (!out || (!buf && len)) return vrt__err(VRT_EINVAL, "onnx: NULL argument");
  if (!buf) buf = empty;
  /* protobuf messages are limited to 2 GiB; bigger weights go to external data */
  if (len > (size_t)INT32_MAX)
    return vrt__err(VRT_ELIMIT, "onnx: model of %zu bytes exceeds 2 GiB (use external data)", len);
  onnx_ctx c = {0};
  c.root.p = c.root.base = buf;
  c.root.end = (const uint8_t *)buf + len;
  c.can_borrow = can_borrow;
  c.base_dir = base_dir;
  if (!(c.g = vrt_graph_new())) return vrt__err(VRT_ENOMEM, "out of memory");
  int rc = len ? parse_model(&c) : vrt__err(VRT_EPARSE, "onnx: empty model");
  for (int i = 0; i < c.nnodes; i++) onnx_node_clear(&c.nodes[i]);
  free(c.nodes);
  onnx_map_free(&c.values);
  onnx_map_free(&c.ranks);
  if (c.arena) { /* keep the used pages with the graph, return the rest */
    size_t page = (size_t)sysconf(_SC_PAGESIZE), keep = (c.arena_used + page - 1) / page * page;
    if (rc == 0 && keep && vrt_graph_add_map(c.g, c.arena, keep) != 0) rc = vrt__err(VRT_ENOMEM, "out of memory");
    if (rc) keep = 0;
    if (keep < c.arena_len) munmap(c.arena + keep, c.arena_len - keep);
  }
  for (int i = 0; i < c.next; i++) { /* external data files: keep the ones constants point into */
    onnx_ext *x = &c.ext[i];
    bool keep = rc == 0 && x->used && x->len;
    if (keep && vrt_graph_add_map(c.g, (void *)x->addr, x->len) != 0) {
      rc = vrt__err(VRT_ENOMEM, "out of memory");
      keep = false;
    }
    if (!keep && x->len) munmap((void *)x->addr, x->len);
    else vrt__drop_pages(x->addr, x->len); /* what the load read: weights fault back in on use */
    free(x->path);
  }
  if (rc) {
    vrt_graph_free(c.g);
    return rc < 0 ? rc : VRT_EPARSE;
  }
  if (borrowed) *borrowed = c.borrowed;
  *out = c.g;
  return 0;
}

int vrt__onnx_load_buffer(vrt_graph **out, const void *buf, size_t len, const char *base_dir) {
  return onnx_load(out, buf, len, base_dir, false, NULL);
}

int vrt__onnx_load_file(vrt_graph **out, const char *path) {
  if (!out || !path) return vrt__err(VRT_EINVAL, "onnx: NULL argument");
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return vrt__err(VRT_EIO, "cannot open '%s': %m", path);
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return vrt__err(VRT_EIO, "'%s' is not a regular file", path);
  }
  size_t len = (size_t)st.st_size;
  if (len == 0) {
    close(fd);
    return vrt__err(VRT_EPARSE, "'%s' is empty", path);
  }
  /* not MAP_POPULATE: only what the load reads (the graph's structure,
   * unaligned weights it copies) becomes resident, and goes again below */
  void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return vrt__err(VRT_EIO, "cannot map '%s': %m", path);
  char *dir = strdup(path);
  if (!dir) {
    munmap(map, len);
    return vrt__err(VRT_ENOMEM, "out of memory");
  }
  char *slash = strrchr(dir, '/');
  if (slash) *(slash == dir ? slash + 1 : slash) = 0;
  else strcpy(dir, ".");
  vrt_graph *g = NULL;
  bool borrowed = false;
  int rc = onnx_load(&g, map, len, dir, true, &borrowed);
  free(dir);
  if (rc) {
    munmap(map, len);
    return rc;
  }
  if (!borrowed) {
    munmap(map, len);
  } else if (vrt_graph_add_map(g, map, len)) {
    vrt_graph_free(g);
    munmap(map, len);
    return vrt__err(VRT_ENOMEM, "out of memory");
  } else {
    vrt__drop_pages(map, len); /* the weights used in place fault back in on first use */
  }
  *out = g;
  return 0;
}
