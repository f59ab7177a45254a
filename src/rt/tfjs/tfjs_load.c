/* TF.js graph-model loader: parses model.json (jansson), decodes the weight
 * shards, orders the TF nodes and hands each to the lowering of tfjs_ops.c.
 *
 * What the file format looks like and how it maps onto the IR:
 *   - modelTopology.node[]: {name, op, input[], attr{}}. Inputs are "x" (output
 *     0 of node x), "x:k" (output k) or "^x" (control dependency, ignored).
 *     Nodes are not guaranteed to be in topological order, so the loader walks
 *     back from the outputs (iteratively, detecting cycles) and lowers only the
 *     nodes the outputs need, each after its inputs.
 *   - weightsManifest[]: groups {paths[], weights[]}. The shards of all groups,
 *     concatenated in manifest order, hold the weights back to back in the
 *     order listed. A weight is {name, shape, dtype} plus optional
 *     quantization {dtype: uint8|uint16 with scale and min (v*scale+min),
 *     or float16}. Everything becomes float32 at load except int32 (and bool).
 *     Sizes are checked against the shard bytes before anything is allocated;
 *     the manifest must describe exactly the bytes the shards hold.
 *   - Inputs are the Placeholder nodes in file order (dtype and shape from
 *     their attributes; -1 dims are dynamic, named "batch" for dim 0 and
 *     "dim<i>" otherwise). Input names are the Placeholder node names.
 *   - Outputs come from signature.outputs (top level, else
 *     userDefinedMetadata.signature, as tf.GraphModel does), in the order of
 *     the json object (what tf.GraphModel.execute returns), named by the
 *     signature keys (gear: "age_output"; nanodet: "Identity_2:0"). Without a
 *     signature they are the non-Const nodes nobody consumes (control deps
 *     count as consumers, as in TF.js), sorted by name in natural order
 *     ("Identity", "Identity_1", "Identity_2", ...), named by the node name.
 *     All nine human-models graphs vigil ships have a signature.
 *   - TF.js has no int64: int64 tensors and casts are int32, as in TF.js. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../loaders.h"
#include "../ops.h"
#include "tfjs.h"

/* ---- string map ------------------------------------------------------------ */

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static int map_grow(tfjs_map *m) {
  size_t cap = m->cap ? m->cap * 2 : 256;
  char **keys = calloc(cap, sizeof *keys);
  int *vals = calloc(cap, sizeof *vals);
  if (!keys || !vals) {
    free(keys), free(vals);
    return vrt__err(VRT_ENOMEM, "out of memory");
  }
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->keys[i]) continue;
    size_t j = hash_str(m->keys[i]) & (cap - 1);
    while (keys[j]) j = (j + 1) & (cap - 1);
    keys[j] = m->keys[i];
    vals[j] = m->vals[i];
  }
  free(m->keys), free(m->vals);
  m->keys = keys, m->vals = vals, m->cap = cap;
  return 0;
}

int tfjs_map_put(tfjs_map *m, const char *key, int val) {
  if ((m->n + 1) * 2 > m->cap && map_grow(m)) return VRT_ENOMEM;
  size_t j = hash_str(key) & (m->cap - 1);
  while (m->keys[j]) {
    if (strcmp(m->keys[j], key) == 0) {
      m->vals[j] = val;
      return 0;
    }
    j = (j + 1) & (m->cap - 1);
  }
  if (!(m->keys[j] = strdup(key))) return vrt__err(VRT_ENOMEM, "out of memory");
  m->vals[j] = val;
  m->n++;
  return 0;
}

int tfjs_map_get(const tfjs_map *m, const char *key) {
  if (!m->cap) return -1;
  size_t j = hash_str(key) & (m->cap - 1);
  while (m->keys[j]) {
    if (strcmp(m->keys[j], key) == 0) return m->vals[j];
    j = (j + 1) & (m->cap - 1);
  }
  return -1;
}

void tfjs_map_free(tfjs_map *m) {
  for (size_t i = 0; i < m->cap; i++) free(m->keys[i]);
  free(m->keys), free(m->vals);
  memset(m, 0, sizeof *m);
}

/* ---- attributes ---------------------------------------------------------- */

static json_t *attr_get(const tfjs_node *n, const char *name) {
  return n->attr ? json_object_get(n->attr, name) : NULL;
}

/* Ints are written as strings ("3") or numbers. */
static bool json_to_int(json_t *v, int64_t *out) {
  if (json_is_integer(v)) {
    *out = json_integer_value(v);
    return true;
  }
  if (json_is_real(v)) {
    *out = (int64_t)json_real_value(v);
    return true;
  }
  if (json_is_string(v)) {
    const char *s = json_string_value(v);
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (end == s || *end || errno) return false;
    *out = x;
    return true;
  }
  return false;
}

int64_t tfjs_attr_int(const tfjs_node *n, const char *name, int64_t dflt) {
  int64_t v;
  json_t *a = attr_get(n, name);
  return a && json_to_int(json_object_get(a, "i"), &v) ? v : dflt;
}

float tfjs_attr_float(const tfjs_node *n, const char *name, float dflt) {
  json_t *a = attr_get(n, name), *f = a ? json_object_get(a, "f") : NULL;
  if (json_is_number(f)) return (float)json_number_value(f);
  if (json_is_string(f)) return strtof(json_string_value(f), NULL);
  return dflt;
}

int tfjs_attr_bool(const tfjs_node *n, const char *name, int dflt) {
  json_t *a = attr_get(n, name), *b = a ? json_object_get(a, "b") : NULL;
  return json_is_boolean(b) ? json_is_true(b) : dflt;
}

static int b64_val(int ch) {
  if (ch >= 'A' && ch <= 'Z') return ch - 'A';
  if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
  if (ch >= '0' && ch <= '9') return ch - '0' + 52;
  if (ch == '+' || ch == '-') return 62;
  if (ch == '/' || ch == '_') return 63;
  return -1;
}

/* Decodes base64 (standard or url alphabet, padding optional) into buf;
 * returns the length, or -1 if it does not fit or is malformed. */
static int b64_decode(const char *s, char *buf, size_t len) {
  size_t o = 0;
  unsigned acc = 0;
  int bits = 0;
  for (; *s && *s != '='; s++) {
    int v = b64_val((unsigned char)*s);
    if (v < 0) return -1;
    acc = (acc << 6) | (unsigned)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (o + 1 >= len) return -1;
      buf[o++] = (char)((acc >> bits) & 0xff);
    }
  }
  if (len) buf[o] = 0;
  return (int)o;
}

int tfjs_attr_str(const tfjs_node *n, const char *name, char *buf, size_t len) {
  json_t *a = attr_get(n, name), *s = a ? json_object_get(a, "s") : NULL;
  return json_is_string(s) ? b64_decode(json_string_value(s), buf, len) : -1;
}

static json_t *attr_list(const tfjs_node *n, const char *name, const char *kind) {
  json_t *a = attr_get(n, name), *l = a ? json_object_get(a, "list") : NULL;
  json_t *arr = l ? json_object_get(l, kind) : NULL;
  return json_is_array(arr) ? arr : NULL;
}

int tfjs_attr_ints(const tfjs_node *n, const char *name, int64_t *out, int max) {
  json_t *arr = attr_list(n, name, "i");
  if (!arr) return 0;
  if ((int)json_array_size(arr) > max) return -1;
  for (size_t i = 0; i < json_array_size(arr); i++)
    if (!json_to_int(json_array_get(arr, i), &out[i])) return -1;
  return (int)json_array_size(arr);
}

int tfjs_attr_list_str(const tfjs_node *n, const char *name, int i, char *buf, size_t len) {
  json_t *arr = attr_list(n, name, "s");
  json_t *s = arr ? json_array_get(arr, (size_t)i) : NULL;
  return json_is_string(s) ? b64_decode(json_string_value(s), buf, len) : -1;
}

vrt_dtype tfjs_dtype_from_tf(const char *s) {
  if (!s) return VRT_UNDEFINED;
  static const struct {
    const char *tf;
    vrt_dtype t;
  } map[] = {
      {"DT_FLOAT", VRT_F32},  {"DT_HALF", VRT_F32},  {"DT_DOUBLE", VRT_F32}, {"DT_BFLOAT16", VRT_F32},
      {"DT_INT32", VRT_I32},  {"DT_INT64", VRT_I32}, {"DT_INT16", VRT_I32},  {"DT_INT8", VRT_I32},
      {"DT_UINT8", VRT_I32},  {"DT_UINT16", VRT_I32}, {"DT_UINT32", VRT_I32}, {"DT_BOOL", VRT_BOOL},
  };
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (strcmp(map[i].tf, s) == 0) return map[i].t;
  return VRT_UNDEFINED;
}

vrt_dtype tfjs_attr_dtype(const tfjs_node *n, const char *name) {
  json_t *a = attr_get(n, name), *t = a ? json_object_get(a, "type") : NULL;
  return json_is_string(t) ? tfjs_dtype_from_tf(json_string_value(t)) : VRT_UNDEFINED;
}

/* ---- references and values ---------------------------------------------- */

int tfjs_parse_ref(const char *ref, char *buf, size_t len, int *index) {
  if (ref[0] == '^') return 1;
  size_t n = strlen(ref);
  const char *colon = strrchr(ref, ':');
  *index = 0;
  if (colon && colon[1]) {
    const char *p = colon + 1;
    while (*p >= '0' && *p <= '9') p++;
    if (!*p && p - colon - 1 < 6) {
      *index = atoi(colon + 1);
      n = (size_t)(colon - ref);
    }
  }
  if (n == 0 || n >= len) return vrt__err(VRT_EPARSE, "bad input reference '%.64s'", ref);
  memcpy(buf, ref, n);
  buf[n] = 0;
  return 0;
}

static void ref_key(char *buf, size_t len, const char *name, int k) {
  if (k == 0)
    snprintf(buf, len, "%s", name);
  else
    snprintf(buf, len, "%s:%d", name, k);
}

int tfjs_bind(tfjs_ctx *c, const char *name, int k, int vid) {
  char key[1024];
  ref_key(key, sizeof key, name, k);
  return tfjs_map_put(&c->value_by_ref, key, vid);
}

static int materialise_weight(tfjs_ctx *c, int wi) {
  tfjs_weight *w = &c->weights[wi];
  if (w->vid >= 0) return w->vid;
  int vid = vrt_graph_add_const(c->g, w->name, w->t.dtype, w->t.ndim, w->t.dims, w->t.data, w->t.nbytes, false);
  w->t.data = NULL; /* the graph owns it now (or freed it on failure) */
  if (vid < 0) return vid;
  w->vid = vid;
  return vid;
}

static int node_index(tfjs_ctx *c, const tfjs_node *n, const char *ref, char *name, size_t len, int *k) {
  int rc = tfjs_parse_ref(ref, name, len, k);
  if (rc) return rc < 0 ? rc : vrt__err(VRT_EPARSE, "node '%s': control input in data position", n->name);
  int ni = tfjs_map_get(&c->node_by_name, name);
  if (ni < 0) return vrt__err(VRT_EGRAPH, "node '%s' (%s): input '%s' does not exist", n->name, n->op, ref);
  return ni;
}

int tfjs_input(tfjs_ctx *c, const tfjs_node *n, int k, int *vid) {
  if (k < 0 || k >= n->nin)
    return vrt__err(VRT_EGRAPH, "node '%s' (%s): has %d inputs, needs at least %d", n->name, n->op, n->nin, k + 1);
  char name[1024], key[1024];
  int idx;
  int ni = node_index(c, n, n->in[k], name, sizeof name, &idx);
  if (ni < 0) return ni;
  ref_key(key, sizeof key, name, idx);
  int v = tfjs_map_get(&c->value_by_ref, key);
  if (v >= 0) {
    *vid = v;
    return 0;
  }
  if (strcmp(c->nodes[ni].op, "Const") == 0 && idx == 0) {
    int wi = tfjs_map_get(&c->weight_by_name, name);
    if (wi < 0) return vrt__err(VRT_EGRAPH, "node '%s': constant '%s' has no weight in the manifest", n->name, name);
    v = materialise_weight(c, wi);
    if (v < 0) return v;
    *vid = v;
    return tfjs_bind(c, name, 0, v);
  }
  return vrt__err(VRT_EGRAPH, "node '%s' (%s): input '%s' names an output its producer does not have", n->name,
                  n->op, n->in[k]);
}

int tfjs_input_const(tfjs_ctx *c, const tfjs_node *n, int k, const vrt_tensor **t) {
  if (k < 0 || k >= n->nin)
    return vrt__err(VRT_EGRAPH, "node '%s' (%s): has %d inputs, needs at least %d", n->name, n->op, n->nin, k + 1);
  const tfjs_node *cur = n;
  int kk = k;
  for (int depth = 0; depth < 16; depth++) {
    char name[1024];
    int idx;
    int ni = node_index(c, cur, cur->in[kk], name, sizeof name, &idx);
    if (ni < 0) return ni;
    const tfjs_node *src = &c->nodes[ni];
    if (strcmp(src->op, "Const") == 0) {
      int wi = tfjs_map_get(&c->weight_by_name, name);
      if (wi < 0) return vrt__err(VRT_EGRAPH, "node '%s': constant '%s' has no weight in the manifest", n->name, name);
      tfjs_weight *w = &c->weights[wi];
      *t = w->vid >= 0 ? &c->g->values[w->vid].t : &w->t;
      return 0;
    }
    if (strcmp(src->op, "Identity") != 0 || src->nin < 1) break;
    cur = src;
    kk = 0;
  }
  return vrt__err(VRT_EUNSUPPORTED, "node '%s' (%s): input %d ('%s') must be a constant", n->name, n->op, k,
                  n->in[k]);
}

void tfjs_release_const(tfjs_ctx *c, const tfjs_node *n, int k) {
  char name[1024];
  int idx;
  if (k < 0 || k >= n->nin || tfjs_parse_ref(n->in[k], name, sizeof name, &idx) != 0 || idx != 0) return;
  int ni = tfjs_map_get(&c->node_by_name, name), wi = tfjs_map_get(&c->weight_by_name, name);
  if (ni < 0 || wi < 0 || strcmp(c->nodes[ni].op, "Const") != 0) return;
  tfjs_weight *w = &c->weights[wi];
  if (w->vid >= 0 || w->uses != 1) return;
  free(w->t.data);
  w->t.data = NULL;
  w->uses = 0; /* gone: a second reader (there is none) would find no data */
}

static void count_use(tfjs_ctx *c, const char *ref) {
  char name[1024];
  int idx;
  if (tfjs_parse_ref(ref, name, sizeof name, &idx) != 0) return;
  int wi = tfjs_map_get(&c->weight_by_name, name);
  if (wi >= 0) c->weights[wi].uses++;
}

/* ---- weights ------------------------------------------------------------- */

static int parse_shape_array(json_t *shape, const char *what, int64_t *dims, int *ndim) {
  if (!json_is_array(shape)) return vrt__err(VRT_EPARSE, "%s: shape is not an array", what);
  if (json_array_size(shape) > VRT_MAX_DIMS)
    return vrt__err(VRT_ELIMIT, "%s: %zu dims (max %d)", what, json_array_size(shape), VRT_MAX_DIMS);
  *ndim = (int)json_array_size(shape);
  for (int i = 0; i < *ndim; i++) {
    if (!json_to_int(json_array_get(shape, (size_t)i), &dims[i]) || dims[i] < 0)
      return vrt__err(VRT_EPARSE, "%s: bad dim %d", what, i);
    if (dims[i] > VRT_TFJS_MAX_DIM) return vrt__err(VRT_ELIMIT, "%s: dim %d is %lld", what, i, (long long)dims[i]);
  }
  return 0;
}

/* Decode one weight spec at *off in the shard bytes. */
static int decode_weight(tfjs_ctx *c, json_t *spec, const uint8_t *buf, size_t blen, size_t *off) {
  const char *name = json_string_value(json_object_get(spec, "name"));
  const char *dtype = json_string_value(json_object_get(spec, "dtype"));
  if (!name || !dtype) return vrt__err(VRT_EPARSE, "weightsManifest: weight without name or dtype");
  tfjs_weight *w = &c->weights[c->nweights];
  memset(w, 0, sizeof *w);
  w->name = name;
  w->vid = -1;
  int rc = parse_shape_array(json_object_get(spec, "shape"), name, w->t.dims, &w->t.ndim);
  if (rc) return rc;
  int64_t numel = vrt__numel(w->t.dims, w->t.ndim);
  if (numel < 0) return vrt__err(VRT_ELIMIT, "weight '%s': element count overflows", name);

  json_t *q = json_object_get(spec, "quantization");
  const char *qdtype = q ? json_string_value(json_object_get(q, "dtype")) : NULL;
  if (q && !qdtype) return vrt__err(VRT_EPARSE, "weight '%s': quantization without dtype", name);
  size_t esize; /* bytes per element in the shard */
  if (qdtype) {
    if (!strcmp(qdtype, "uint8"))
      esize = 1;
    else if (!strcmp(qdtype, "uint16") || !strcmp(qdtype, "float16"))
      esize = 2;
    else
      return vrt__err(VRT_EUNSUPPORTED, "weight '%s': quantization dtype '%s'", name, qdtype);
  } else if (!strcmp(dtype, "float32") || !strcmp(dtype, "int32")) {
    esize = 4;
  } else if (!strcmp(dtype, "bool")) {
    esize = 1;
  } else {
    return vrt__err(VRT_EUNSUPPORTED, "weight '%s': dtype '%s'", name, dtype);
  }
  if (strcmp(dtype, "float32") && strcmp(dtype, "int32") && strcmp(dtype, "bool"))
    return vrt__err(VRT_EUNSUPPORTED, "weight '%s': dtype '%s'", name, dtype);
  if (qdtype && (!strcmp(dtype, "bool") || (!strcmp(qdtype, "float16") && strcmp(dtype, "float32"))))
    return vrt__err(VRT_EUNSUPPORTED, "weight '%s': %s quantization of %s", name, qdtype, dtype);
  size_t bytes, end;
  if (!vrt__mul_ok((size_t)numel, esize, &bytes) || !vrt__add_ok(*off, bytes, &end) || end > blen)
    return vrt__err(VRT_EPARSE, "weight '%s': needs %lld x %zu bytes at offset %zu, the shards hold %zu", name,
                    (long long)numel, esize, *off, blen);
  const uint8_t *src = buf ? buf + *off : NULL; /* NULL only when bytes == 0 */
  *off = end;

  w->t.dtype = !strcmp(dtype, "bool") ? VRT_BOOL : !strcmp(dtype, "int32") ? VRT_I32 : VRT_F32;
  size_t osize = vrt_dtype_size(w->t.dtype);
  w->t.nbytes = (size_t)numel * osize; /* <= 4 * shard bytes, no overflow */
  w->t.data = malloc(w->t.nbytes ? w->t.nbytes : 1);
  if (!w->t.data) return vrt__err(VRT_ENOMEM, "weight '%s': out of memory (%zu bytes)", name, w->t.nbytes);
  c->nweights++; /* owned from here on, freed with the context */

  if (!qdtype || !strcmp(qdtype, "float16")) {
    if (esize == osize) {
      if (w->t.nbytes) memcpy(w->t.data, src, w->t.nbytes);
    } else if (esize == 2) {
      float *d = w->t.data;
      for (int64_t i = 0; i < numel; i++) d[i] = vrt__f16_to_f32((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
    } else {
      return vrt__err(VRT_EUNSUPPORTED, "weight '%s': float16 storage of %s", name, dtype);
    }
    return 0;
  }
  json_t *js = json_object_get(q, "scale"), *jm = json_object_get(q, "min");
  if (!json_is_number(js) || !json_is_number(jm))
    return vrt__err(VRT_EPARSE, "weight '%s': %s quantization without scale and min", name, qdtype);
  double scale = json_number_value(js), mn = json_number_value(jm);
  for (int64_t i = 0; i < numel; i++) {
    unsigned v = esize == 1 ? src[i] : (unsigned)(src[2 * i] | src[2 * i + 1] << 8);
    double x = v * scale + mn;
    if (w->t.dtype == VRT_F32)
      ((float *)w->t.data)[i] = (float)x;
    else if (w->t.dtype == VRT_I32)
      ((int32_t *)w->t.data)[i] = (int32_t)(x < 0 ? x - 0.5 : x + 0.5);
    else
      ((uint8_t *)w->t.data)[i] = x != 0;
  }
  return 0;
}

static int decode_weights(tfjs_ctx *c, const void *buf, size_t blen) {
  json_t *man = json_object_get(c->root, "weightsManifest");
  if (!man) {
    if (blen) return vrt__err(VRT_EPARSE, "model.json: weight bytes given but no weightsManifest");
    return 0;
  }
  if (!json_is_array(man)) return vrt__err(VRT_EPARSE, "model.json: weightsManifest is not an array");
  size_t total = 0;
  for (size_t g = 0; g < json_array_size(man); g++) {
    json_t *ws = json_object_get(json_array_get(man, g), "weights");
    if (!json_is_array(ws)) return vrt__err(VRT_EPARSE, "weightsManifest[%zu]: no weights array", g);
    total += json_array_size(ws);
  }
  if (total > (size_t)INT32_MAX / 2) return vrt__err(VRT_ELIMIT, "weightsManifest: %zu weights", total);
  c->weights = calloc(total ? total : 1, sizeof *c->weights);
  if (!c->weights) return vrt__err(VRT_ENOMEM, "out of memory");
  size_t off = 0;
  for (size_t g = 0; g < json_array_size(man); g++) {
    json_t *ws = json_object_get(json_array_get(man, g), "weights");
    for (size_t i = 0; i < json_array_size(ws); i++) {
      json_t *spec = json_array_get(ws, i);
      if (!json_is_object(spec)) return vrt__err(VRT_EPARSE, "weightsManifest[%zu].weights[%zu]: not an object", g, i);
      int rc = decode_weight(c, spec, buf, blen, &off);
      if (rc) return rc;
      if (tfjs_map_get(&c->weight_by_name, c->weights[c->nweights - 1].name) >= 0)
        return vrt__err(VRT_EPARSE, "weightsManifest: weight '%s' listed twice", c->weights[c->nweights - 1].name);
      if ((rc = tfjs_map_put(&c->weight_by_name, c->weights[c->nweights - 1].name, c->nweights - 1))) return rc;
    }
  }
  if (off != blen)
    return vrt__err(VRT_EPARSE, "weight shards hold %zu bytes but the manifest describes %zu", blen, off);
  return 0;
}

/* ---- nodes, inputs, outputs ---------------------------------------------- */

static int parse_nodes(tfjs_ctx *c) {
  json_t *topo = json_object_get(c->root, "modelTopology");
  json_t *arr = topo ? json_object_get(topo, "node") : NULL;
  if (!json_is_object(topo) || !json_is_array(arr))
    return vrt__err(VRT_EPARSE, "model.json: no modelTopology.node array (not a TF.js graph model?)");
  size_t nn = json_array_size(arr);
  if (nn > (size_t)INT32_MAX / 4) return vrt__err(VRT_ELIMIT, "model.json: %zu nodes", nn);
  c->nodes = calloc(nn ? nn : 1, sizeof *c->nodes);
  if (!c->nodes) return vrt__err(VRT_ENOMEM, "out of memory");
  for (size_t i = 0; i < nn; i++) {
    json_t *j = json_array_get(arr, i);
    tfjs_node *n = &c->nodes[c->nnodes];
    n->name = json_string_value(json_object_get(j, "name"));
    n->op = json_string_value(json_object_get(j, "op"));
    if (!n->name || !n->op || !n->name[0])
      return vrt__err(VRT_EPARSE, "modelTopology.node[%zu]: missing name or op", i);
    if (strlen(n->name) > 900) return vrt__err(VRT_ELIMIT, "modelTopology.node[%zu]: name too long", i);
    n->attr = json_object_get(j, "attr");
    if (n->attr && !json_is_object(n->attr)) return vrt__err(VRT_EPARSE, "node '%s': attr is not an object", n->name);
    json_t *in = json_object_get(j, "input");
    if (in && !json_is_array(in)) return vrt__err(VRT_EPARSE, "node '%s': input is not an array", n->name);
    size_t ni = in ? json_array_size(in) : 0;
    if (ni > VRT_TFJS_MAX_INPUTS) return vrt__err(VRT_ELIMIT, "node '%s': %zu inputs", n->name, ni);
    n->in = calloc(ni ? ni : 1, sizeof *n->in);
    c->nnodes++;
    if (!n->in) return vrt__err(VRT_ENOMEM, "out of memory");
    for (size_t k = 0; k < ni; k++) {
      const char *s = json_string_value(json_array_get(in, k));
      if (!s) return vrt__err(VRT_EPARSE, "node '%s': input %zu is not a string", n->name, k);
      if (s[0] != '^') n->in[n->nin++] = s;
    }
    if (tfjs_map_get(&c->node_by_name, n->name) >= 0)
      return vrt__err(VRT_EPARSE, "model.json: two nodes named '%s'", n->name);
    int rc = tfjs_map_put(&c->node_by_name, n->name, c->nnodes - 1);
    if (rc) return rc;
  }
  return 0;
}

static int add_inputs(tfjs_ctx *c) {
  for (int i = 0; i < c->nnodes; i++) {
    tfjs_node *n = &c->nodes[i];
    if (strcmp(n->op, "Placeholder")) continue;
    vrt_dtype dt = tfjs_attr_dtype(n, "dtype");
    if (dt == VRT_UNDEFINED) return vrt__err(VRT_EUNSUPPORTED, "input '%s': unsupported dtype", n->name);
    json_t *sa = json_object_get(json_object_get(n->attr, "shape"), "shape");
    int64_t dims[VRT_MAX_DIMS];
    int ndim = -1;
    if (json_is_object(sa) && !json_is_true(json_object_get(sa, "unknownRank"))) {
      json_t *dl = json_object_get(sa, "dim");
      ndim = 0;
      if (json_is_array(dl)) {
        if (json_array_size(dl) > VRT_MAX_DIMS) return vrt__err(VRT_ELIMIT, "input '%s': too many dims", n->name);
        for (size_t d = 0; d < json_array_size(dl); d++) {
          json_t *sz = json_object_get(json_array_get(dl, d), "size");
          int64_t v = 0;
          if (sz && !json_to_int(sz, &v)) return vrt__err(VRT_EPARSE, "input '%s': bad dim %zu", n->name, d);
          if (v < -1 || v > VRT_TFJS_MAX_DIM) return vrt__err(VRT_ELIMIT, "input '%s': dim %zu is %lld", n->name, d, (long long)v);
          dims[ndim++] = v;
        }
      }
    }
    int vid = vrt_graph_add_value(c->g, n->name, dt, ndim, dims);
    if (vid < 0) return vid;
    vrt_value *v = &c->g->values[vid];
    v->flags |= VRT_VAL_INPUT;
    for (int d = 0; d < ndim; d++) {
      if (dims[d] >= 0) continue;
      char nm[32];
      snprintf(nm, sizeof nm, d == 0 ? "batch" : "dim%d", d);
      if (!(v->dim_names[d] = strdup(nm))) return vrt__err(VRT_ENOMEM, "out of memory");
    }
    int *ins = realloc(c->g->inputs, sizeof(int) * (size_t)(c->g->ninputs + 1));
    if (!ins) return vrt__err(VRT_ENOMEM, "out of memory");
    c->g->inputs = ins;
    ins[c->g->ninputs++] = vid;
    int rc = tfjs_bind(c, n->name, 0, vid);
    if (rc) return rc;
  }
  return 0;
}

typedef struct out_ref {
  const char *key; /* output name */
  const char *ref; /* "node" or "node:k" */
  vrt_dtype dtype; /* from the signature, else VRT_UNDEFINED */
} out_ref;

/* Natural order: digit runs compare by value, so Identity_2 < Identity_10. */
static int natural_cmp(const char *a, const char *b) {
  while (*a && *b) {
    if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
      while (*a == '0') a++;
      while (*b == '0') b++;
      size_t la = strspn(a, "0123456789"), lb = strspn(b, "0123456789");
      if (la != lb) return la < lb ? -1 : 1;
      int r = strncmp(a, b, la);
      if (r) return r;
      a += la, b += lb;
      continue;
    }
    if (*a != *b) return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
    a++, b++;
  }
  return *a ? 1 : *b ? -1 : 0;
}

static int out_ref_cmp(const void *x, const void *y) {
  return natural_cmp(((const out_ref *)x)->key, ((const out_ref *)y)->key);
}

static int find_outputs(tfjs_ctx *c, out_ref **out, int *nout) {
  /* Like tf.GraphModel: the top-level signature, else the one converters
   * leave in userDefinedMetadata (blazeface, age, gender). */
  json_t *sig = json_object_get(c->root, "signature");
  if (!sig) sig = json_object_get(json_object_get(c->root, "userDefinedMetadata"), "signature");
  json_t *so = sig ? json_object_get(sig, "outputs") : NULL;
  if (json_is_object(so) && json_object_size(so) > 0) {
    *out = calloc(json_object_size(so), sizeof **out);
    if (!*out) return vrt__err(VRT_ENOMEM, "out of memory");
    const char *key;
    json_t *v;
    json_object_foreach(so, key, v) {
      const char *ref = json_string_value(json_object_get(v, "name"));
      (*out)[*nout].key = key;
      (*out)[*nout].ref = ref ? ref : key;
      (*out)[*nout].dtype = tfjs_dtype_from_tf(json_string_value(json_object_get(v, "dtype")));
      (*nout)++;
    }
    return 0;
  }
  /* No signature: the nodes no one consumes. */
  char *used = calloc((size_t)c->nnodes + 1, 1);
  *out = calloc((size_t)c->nnodes + 1, sizeof **out);
  if (!used || !*out) {
    free(used);
    return vrt__err(VRT_ENOMEM, "out of memory");
  }
  json_t *arr = json_object_get(json_object_get(c->root, "modelTopology"), "node");
  for (int i = 0; i < c->nnodes; i++) {
    json_t *in = json_object_get(json_array_get(arr, (size_t)i), "input");
    for (size_t k = 0; k < json_array_size(in); k++) {
      const char *s = json_string_value(json_array_get(in, k));
      char name[1024];
      int idx;
      if (!s) continue;
      if (s[0] == '^') s++;
      if (tfjs_parse_ref(s, name, sizeof name, &idx) < 0) continue;
      int ni = tfjs_map_get(&c->node_by_name, name);
      if (ni >= 0) used[ni] = 1;
    }
  }
  vrt__err_clear();
  for (int i = 0; i < c->nnodes; i++) {
    const char *op = c->nodes[i].op;
    if (used[i] || !strcmp(op, "Const") || !strcmp(op, "Placeholder") || !strcmp(op, "NoOp")) continue;
    (*out)[*nout].key = c->nodes[i].name;
    (*out)[*nout].ref = c->nodes[i].name;
    (*nout)++;
  }
  free(used);
  qsort(*out, (size_t)*nout, sizeof **out, out_ref_cmp);
  return 0;
}

/* Lower every node the outputs need, inputs first. Iterative DFS so deep
 * graphs cannot exhaust the C stack; a node met again while on the stack is
 * a cycle. */
static int lower_reachable(tfjs_ctx *c, const out_ref *outs, int nout) {
  int *stack = malloc(sizeof(int) * (size_t)(c->nnodes + 1));
  int *pos = malloc(sizeof(int) * (size_t)(c->nnodes + 1));
  int rc = 0;
  if (!stack || !pos) {
    rc = vrt__err(VRT_ENOMEM, "out of memory");
    goto done;
  }
  for (int o = 0; o < nout && !rc; o++) {
    char name[1024];
    int idx;
    if ((rc = tfjs_parse_ref(outs[o].ref, name, sizeof name, &idx))) {
      if (rc > 0) rc = vrt__err(VRT_EPARSE, "output '%s': bad reference", outs[o].key);
      break;
    }
    int root = tfjs_map_get(&c->node_by_name, name);
    if (root < 0) {
      rc = vrt__err(VRT_EGRAPH, "output '%s' refers to missing node '%s'", outs[o].key, name);
      break;
    }
    if (c->nodes[root].state) continue;
    int sp = 0;
    stack[sp] = root, pos[sp] = 0, sp++;
    c->nodes[root].state = 1;
    while (sp > 0 && !rc) {
      tfjs_node *n = &c->nodes[stack[sp - 1]];
      bool leaf = !strcmp(n->op, "Const") || !strcmp(n->op, "Placeholder");
      if (!leaf && pos[sp - 1] < n->nin) {
        int k = pos[sp - 1]++;
        int ni = node_index(c, n, n->in[k], name, sizeof name, &idx);
        if (ni < 0) {
          rc = ni;
          break;
        }
        tfjs_node *m = &c->nodes[ni];
        if (m->state == 1) {
          rc = vrt__err(VRT_EGRAPH, "node '%s' (%s): cycle through input '%s'", n->name, n->op, m->name);
        } else if (m->state == 0) {
          m->state = 1;
          stack[sp] = ni, pos[sp] = 0, sp++;
        }
        continue;
      }
      if (!leaf) rc = tfjs_lower_node(c, n);
      n->state = 2;
      sp--;
    }
  }
done:
  free(stack);
  free(pos);
  return rc;
}

static int set_outputs(tfjs_ctx *c, const out_ref *outs, int nout) {
  vrt_graph *g = c->g;
  g->outputs = malloc(sizeof(int) * (size_t)(nout ? nout : 1));
  if (!g->outputs) return vrt__err(VRT_ENOMEM, "out of memory");
  for (int o = 0; o < nout; o++) {
    char name[1024], key[1024];
    int idx, rc;
    if ((rc = tfjs_parse_ref(outs[o].ref, name, sizeof name, &idx)))
      return rc < 0 ? rc : vrt__err(VRT_EPARSE, "output '%s': bad reference", outs[o].key);
    ref_key(key, sizeof key, name, idx);
    int vid = tfjs_map_get(&c->value_by_ref, key);
    if (vid < 0) {
      int ni = tfjs_map_get(&c->node_by_name, name);
      int wi = tfjs_map_get(&c->weight_by_name, name);
      if (ni < 0 || idx || wi < 0 || strcmp(c->nodes[ni].op, "Const"))
        return vrt__err(VRT_EGRAPH, "output '%s' (%s) is never produced", outs[o].key, outs[o].ref);
      if ((vid = materialise_weight(c, wi)) < 0) return vid;
      if ((rc = tfjs_bind(c, name, 0, vid))) return rc;
    }
    vrt_value *v = &g->values[vid];
    if (v->producer < 0 || (v->flags & (VRT_VAL_CONST | VRT_VAL_INPUT | VRT_VAL_OUTPUT))) {
      /* Inputs, constants and values already exported keep their names: the
       * output is a copy under its own name. */
      int nv = vrt_graph_add_value(g, outs[o].key, VRT_UNDEFINED, -1, NULL);
      if (nv < 0) return nv;
      int ni = vrt_graph_add_node(g, VRT_OP_Identity, outs[o].key, "Identity", &vid, 1, &nv, 1);
      if (ni < 0) return ni;
      vid = nv;
    } else if (strcmp(v->t.name, outs[o].key)) {
      char *nm = strdup(outs[o].key);
      if (!nm) return vrt__err(VRT_ENOMEM, "out of memory");
      free((char *)v->t.name);
      v->t.name = nm;
    }
    /* the signature's dtype lets introspection say what a dynamic-batch
     * output holds before any run; shapes are left to shape inference */
    if (g->values[vid].t.dtype == VRT_UNDEFINED) g->values[vid].t.dtype = outs[o].dtype;
    g->values[vid].flags |= VRT_VAL_OUTPUT;
    g->outputs[g->noutputs++] = vid;
  }
  return 0;
}

static void ctx_free(tfjs_ctx *c) {
  for (int i = 0; i < c->nweights; i++) free(c->weights[i].t.data);
  free(c->weights);
  for (int i = 0; i < c->nnodes; i++) free(c->nodes[i].in);
  free(c->nodes);
  tfjs_map_free(&c->node_by_name);
  tfjs_map_free(&c->weight_by_name);
  tfjs_map_free(&c->value_by_ref);
  json_decref(c->root);
  vrt_graph_free(c->g);
  free(c->shards);
}

static int parse_json(json_t **root, const char *json, size_t len) {
  if (len > VRT_TFJS_MAX_JSON_BYTES) return vrt__err(VRT_ELIMIT, "model.json is %zu bytes", len);
  json_error_t e;
  *root = json_loadb(json, len, 0, &e);
  if (!*root) return vrt__err(VRT_EPARSE, "model.json: %s (line %d, column %d)", e.text, e.line, e.column);
  if (!json_is_object(*root)) return vrt__err(VRT_EPARSE, "model.json: not a JSON object");
  return 0;
}

static int build(tfjs_ctx *c, const void *weights, size_t wlen) {
  int rc;
  if (!(c->g = vrt_graph_new())) return vrt__err(VRT_ENOMEM, "out of memory");
  static const char *meta[] = {"format", "generatedBy", "convertedBy"};
  for (size_t i = 0; i < sizeof meta / sizeof meta[0]; i++) {
    const char *s = json_string_value(json_object_get(c->root, meta[i]));
    if (s && (rc = vrt_graph_set_meta(c->g, meta[i], s))) return vrt__err(rc, "out of memory");
  }
  if ((rc = parse_nodes(c)) || (rc = decode_weights(c, weights, wlen))) return rc;
  free(c->shards); /* decoded: the raw bytes are not needed any more */
  c->shards = NULL;
  if ((rc = add_inputs(c))) return rc;
  out_ref *outs = NULL;
  int nout = 0;
  if ((rc = find_outputs(c, &outs, &nout))) {
    free(outs);
    return rc;
  }
  if (nout == 0) rc = vrt__err(VRT_EGRAPH, "model.json: the graph has no outputs");
  /* how many node inputs and outputs name each weight's Const directly */
  for (int i = 0; i < c->nnodes; i++)
    for (int k = 0; k < c->nodes[i].nin; k++) count_use(c, c->nodes[i].in[k]);
  for (int o = 0; o < nout; o++) count_use(c, outs[o].ref);
  if (!rc) rc = lower_reachable(c, outs, nout);
  if (!rc) rc = set_outputs(c, outs, nout);
  free(outs);
  if (!rc) rc = vrt_graph_validate(c->g);
  return rc;
}

/* shards: weights is the loader's own buffer, freed as soon as it is decoded
 * (else the caller's, left alone). */
static int load_json_weights(vrt_graph **out, const char *json, size_t len, const void *weights, size_t wlen,
                             bool shards) {
  tfjs_ctx c;
  memset(&c, 0, sizeof c);
  if (shards) c.shards = (void *)weights;
  int rc = parse_json(&c.root, json, len);
  if (!rc) rc = build(&c, weights, wlen);
  if (!rc) {
    *out = c.g;
    c.g = NULL;
  }
  ctx_free(&c);
  return rc;
}

int vrt__tfjs_load_json_weights(vrt_graph **out, const char *json, size_t len, const void *weights, size_t wlen) {
  return load_json_weights(out, json, len, weights, wlen, false);
}

/* ---- files --------------------------------------------------------------- */

static int read_file(const char *path, size_t max, uint8_t **buf, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return vrt__err(errno == ENOENT ? VRT_ENOTFOUND : VRT_EIO, "%s: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
    fclose(f);
    return vrt__err(VRT_EIO, "%s: not a regular file", path);
  }
  if ((size_t)st.st_size > max) {
    fclose(f);
    return vrt__err(VRT_ELIMIT, "%s: %lld bytes (limit %zu)", path, (long long)st.st_size, max);
  }
  *len = (size_t)st.st_size;
  *buf = malloc(*len ? *len : 1);
  if (!*buf) {
    fclose(f);
    return vrt__err(VRT_ENOMEM, "%s: out of memory", path);
  }
  if (fread(*buf, 1, *len, f) != *len) {
    fclose(f);
    free(*buf);
    return vrt__err(VRT_EIO, "%s: read error", path);
  }
  fclose(f);
  return 0;
}

/* Shard names come from the file: only plain relative paths inside the
 * model's folder are allowed. */
static bool shard_path_ok(const char *p) {
  if (!p[0] || p[0] == '/' || strchr(p, '\\') || strstr(p, "://")) return false;
  for (const char *s = p; *s;) {
    size_t n = strcspn(s, "/");
    if (n == 0 || (n == 2 && s[0] == '.' && s[1] == '.')) return false;
    s += n;
    if (*s) s++;
  }
  return true;
}

/* Read the shards of every manifest group, in order, into one buffer. */
static int read_shards(json_t *root, const char *base_dir, uint8_t **out, size_t *outlen) {
  json_t *man = json_object_get(root, "weightsManifest");
  size_t cap = 0, len = 0;
  uint8_t *buf = NULL;
  *out = NULL, *outlen = 0;
  if (!json_is_array(man)) return 0; /* decode_weights reports it */
  for (size_t g = 0; g < json_array_size(man); g++) {
    json_t *paths = json_object_get(json_array_get(man, g), "paths");
    if (!json_is_array(paths)) {
      free(buf);
      return vrt__err(VRT_EPARSE, "weightsManifest[%zu]: no paths array", g);
    }
    for (size_t i = 0; i < json_array_size(paths); i++) {
      const char *p = json_string_value(json_array_get(paths, i));
      if (!p || !shard_path_ok(p)) {
        free(buf);
        return vrt__err(VRT_EPARSE, "weightsManifest[%zu]: shard path '%.80s' is not a plain relative path", g,
                        p ? p : "(not a string)");
      }
      if (!base_dir) {
        free(buf);
        return vrt__err(VRT_EINVAL, "TF.js model from memory: weight shard '%s' cannot be resolved", p);
      }
      char path[4096];
      if ((size_t)snprintf(path, sizeof path, "%s/%s", base_dir, p) >= sizeof path) {
        free(buf);
        return vrt__err(VRT_ELIMIT, "shard path too long");
      }
      uint8_t *sb;
      size_t sl;
      int rc = read_file(path, VRT_TFJS_MAX_WEIGHT_BYTES - len, &sb, &sl);
      if (rc) {
        free(buf);
        return rc;
      }
      if (len + sl > cap) {
        size_t ncap = (len + sl) * 2 < VRT_TFJS_MAX_WEIGHT_BYTES ? (len + sl) * 2 : len + sl;
        uint8_t *nb = realloc(buf, ncap ? ncap : 1);
        if (!nb) {
          free(buf), free(sb);
          return vrt__err(VRT_ENOMEM, "out of memory reading shards");
        }
        buf = nb, cap = ncap;
      }
      if (sl) memcpy(buf + len, sb, sl);
      len += sl;
      free(sb);
    }
  }
  *out = buf, *outlen = len;
  return 0;
}

int vrt__tfjs_load_json(vrt_graph **out, const char *json, size_t len, const char *base_dir) {
  json_t *root;
  int rc = parse_json(&root, json, len);
  if (rc) {
    json_decref(root);
    return rc;
  }
  uint8_t *w;
  size_t wl;
  rc = read_shards(root, base_dir, &w, &wl);
  json_decref(root);
  if (rc) return rc;
  return load_json_weights(out, json, len, w, wl, true); /* frees w */
}

int vrt__tfjs_load_file(vrt_graph **out, const char *model_json_path) {
  uint8_t *buf;
  size_t len;
  int rc = read_file(model_json_path, VRT_TFJS_MAX_JSON_BYTES, &buf, &len);
  if (rc) return rc;
  char dir[4096];
  const char *slash = strrchr(model_json_path, '/');
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else if ((size_t)(slash - model_json_path) >= sizeof dir)
    rc = vrt__err(VRT_ELIMIT, "path too long");
  else if (slash == model_json_path)
    snprintf(dir, sizeof dir, "/");
  else
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - model_json_path), model_json_path);
  if (!rc) rc = vrt__tfjs_load_json(out, (const char *)buf, len, dir);
  free(buf);
  return rc;
}
