/* Private interface of the TF.js graph-model loader: the parsing context that
 * tfjs_load.c fills from model.json and the weight shards, and the op
 * lowering of tfjs_ops.c that turns each TF node into IR nodes. */
#ifndef VRT_TFJS_H
#define VRT_TFJS_H

#include <jansson.h>

#include "../ir.h"

/* Limits applied before anything is allocated from untrusted sizes. */
#define VRT_TFJS_MAX_JSON_BYTES ((size_t)256 << 20)
#define VRT_TFJS_MAX_WEIGHT_BYTES ((size_t)4 << 30)
#define VRT_TFJS_MAX_DIM ((int64_t)1 << 31)
#define VRT_TFJS_MAX_INPUTS 4096

/* String -> int map (open addressing); keys are copied. */
typedef struct tfjs_map {
  char **keys;
  int *vals;
  size_t cap, n;
} tfjs_map;

int tfjs_map_put(tfjs_map *m, const char *key, int val);
int tfjs_map_get(const tfjs_map *m, const char *key); /* -1 when absent */
void tfjs_map_free(tfjs_map *m);

/* One node of modelTopology.node[]. Strings point into the json document. */
typedef struct tfjs_node {
  const char *name, *op;
  json_t *attr;       /* object or NULL */
  const char **in;    /* data inputs as written ("x", "x:1"); control deps dropped */
  int nin;
  int state;          /* topological walk: 0 new, 1 on stack, 2 lowered */
} tfjs_node;

/* One weight of the manifest, decoded to its runtime dtype. */
typedef struct tfjs_weight {
  const char *name;
  vrt_tensor t;       /* owned data until the graph takes it */
  int vid;            /* graph value once materialised, else -1 */
  int uses;           /* node inputs and graph outputs naming it directly */
} tfjs_weight;

typedef struct tfjs_ctx {
  vrt_graph *g;
  json_t *root;
  tfjs_node *nodes;
  int nnodes;
  tfjs_map node_by_name;  /* TF node name -> index in nodes */
  tfjs_weight *weights;
  int nweights;
  tfjs_map weight_by_name;
  tfjs_map value_by_ref;  /* "name" / "name:k" -> graph value */
  void *shards;           /* weight bytes the loader read (owned), freed once decoded */
} tfjs_ctx;

/* Split "name:k" into name (copied into buf) and output index k. "^name"
 * (a control dependency) returns 1 and is to be skipped. <0 on bad refs. */
int tfjs_parse_ref(const char *ref, char *buf, size_t len, int *index);

/* The graph value behind the k-th data input of n, materialising constants
 * on first use. */
int tfjs_input(tfjs_ctx *c, const tfjs_node *n, int k, int *vid);
/* The constant tensor behind the k-th input of n (looking through Identity),
 * without adding it to the graph; VRT_EUNSUPPORTED naming the node when the
 * input is not a constant. */
int tfjs_input_const(tfjs_ctx *c, const tfjs_node *n, int k, const vrt_tensor **t);
/* n has copied what it needs of the constant behind its input k (a conv
 * filter it transposed): its decoded data goes now when n is its only reader
 * and the graph does not hold it, not with the context at the end of the
 * load (a model's conv weights would be resident twice meanwhile). */
void tfjs_release_const(tfjs_ctx *c, const tfjs_node *n, int k);

/* Lower node n onto IR nodes and bind its outputs in value_by_ref. */
int tfjs_lower_node(tfjs_ctx *c, const tfjs_node *n);
/* Bind output k of TF node `name` to graph value vid. */
int tfjs_bind(tfjs_ctx *c, const char *name, int k, int vid);

/* Attribute readers over a node's attr object (TF.js JSON encoding: ints as
 * strings, strings base64, types as "DT_*"). */
int64_t tfjs_attr_int(const tfjs_node *n, const char *name, int64_t dflt);
float tfjs_attr_float(const tfjs_node *n, const char *name, float dflt);
int tfjs_attr_bool(const tfjs_node *n, const char *name, int dflt);
/* Decoded string into buf (NUL-terminated); returns length or -1 if absent. */
int tfjs_attr_str(const tfjs_node *n, const char *name, char *buf, size_t len);
/* Integer list: count (0 when absent), at most max values into out; -1 when
 * longer than max. */
int tfjs_attr_ints(const tfjs_node *n, const char *name, int64_t *out, int max);
/* i-th string of a string list into buf; -1 when absent. */
int tfjs_attr_list_str(const tfjs_node *n, const char *name, int i, char *buf, size_t len);
/* A "DT_*" type attribute as a vrt dtype (TF.js semantics: int64 and the
 * small integer types are int32). VRT_UNDEFINED when absent or unknown. */
vrt_dtype tfjs_attr_dtype(const tfjs_node *n, const char *name);
vrt_dtype tfjs_dtype_from_tf(const char *s);

/* Loads from json text with the weight bytes already concatenated (the
 * shards of every manifest group in order). Used by the file loader and by
 * the fuzz target. */
int vrt__tfjs_load_json_weights(vrt_graph **out, const char *json, size_t len, const void *weights,
                                size_t wlen);

#endif
