/* Private structures of the ONNX loader: the load context, nodes as parsed
 * (before opset normalisation and topological sorting), and a small string
 * map. Shared by onnx_load.c, onnx_tensor.c and onnx_upgrade.c.
 *
 * How a load goes. The bytes are never trusted: pb.c checks every length
 * against what remains, repeated fields are counted before anything is
 * allocated, and every tensor's byte count must equal what its dims and dtype
 * need before data is copied, so what the loader allocates stays within a
 * small multiple of the input (external data: of the files it names). There
 * is no recursion: subgraph attributes are skipped, never descended into.
 *   1. ModelProto: opset of the default domain, metadata, the graph's bytes.
 *   2. GraphProto, in file order: initializers and Constant nodes become
 *      constants at once; other nodes are kept as onnx_node (names copied);
 *      then graph inputs (not initializers), declared ranks, outputs.
 *   3. onnx_upgrade.c rewrites each node into the newest opset's form.
 *   4. build_nodes: values for node outputs, inputs resolved by name, a
 *      topological sort when the file's order is not one, emission into the
 *      IR, then vrt_graph_validate.
 * Weights: from a file, the file is mmapped and aligned raw_data is used in
 * place; unaligned raw_data is copied into one anonymous arena. Both
 * mappings (and mapped external data files) are handed to the graph, which
 * unmaps them when freed; such constants carry VRT_VAL_BORROWED and remember
 * their bytes in the file (vrt_value.file_src). The file is not read in
 * ahead (no MAP_POPULATE): the pages a copy was made from are given back at
 * once, the rest after the load, so the file costs no resident memory beyond
 * the weights' first reads (backend.c drops those again once packed). */
#ifndef VRT_ONNX_H
#define VRT_ONNX_H

#include <stdbool.h>

#include "ir.h"
#include "pb.h"

/* Open-addressing map from owned strings to ints. */
typedef struct onnx_map {
  char **keys;
  int *vals;
  size_t cap, n;
} onnx_map;

int onnx_map_put(onnx_map *m, const char *key, int val); /* replaces */
int onnx_map_get(const onnx_map *m, const char *key);    /* -1 if absent */
void onnx_map_free(onnx_map *m);

/* A node as read from the file; names are owned copies. */
typedef struct onnx_node {
  char *name, *op_type, *domain;
  int op; /* vrt_op */
  int nin, nout;
  char **in, **out; /* "" = omitted */
  int nattr;
  vrt_attr *attrs;
} onnx_node;

/* An external data file, mapped once per load. */
typedef struct onnx_ext {
  char *path;
  const uint8_t *addr;
  size_t len;
  bool used; /* some constant borrows from it: the graph keeps the mapping */
} onnx_ext;

#define ONNX_MAX_EXT 64

typedef struct onnx_ctx {
  pb_reader root;      /* the whole buffer */
  bool can_borrow;     /* the buffer is a file mapping the graph may keep (its pages may be dropped) */
  bool borrowed;       /* some constant points into it */
  /* Copies of unaligned raw_data go to one anonymous mapping that the graph
   * keeps (far fewer page faults than a malloc per tensor). */
  uint8_t *arena;
  size_t arena_len, arena_used, arena_populated;
  bool arena_failed;
  onnx_ext ext[ONNX_MAX_EXT];
  int next;
  const char *base_dir;
  int64_t ir_version;
  int opset;
  vrt_graph *g;
  onnx_map values; /* value name -> value index in g */
  onnx_map ranks;  /* value name -> rank, where the file declares it */
  onnx_node *nodes;
  int nnodes, cap_nodes;
  int uniq; /* counter for generated names */
} onnx_ctx;

/* A parsed TensorProto. data is malloc'd unless borrowed (from the file
 * mapping or the copy arena, both kept alive by the graph). */
typedef struct onnx_tensor {
  char *name;
  vrt_dtype dtype;
  int ndim;
  int64_t dims[VRT_MAX_DIMS];
  void *data;
  size_t nbytes;
  bool borrowed;
  const void *src; /* the bytes in a kept file mapping (data itself or its source), or NULL */
} onnx_tensor;

/* Parse a TensorProto in msg. what names the context for errors ("initializer",
 * "node 'x' attribute 'value'"). Borrows raw_data when ctx->can_borrow and
 * alignment allows. ctx may be NULL (no borrowing, no external data). */
int onnx_tensor_parse(onnx_ctx *ctx, const pb_reader *msg, const char *what, onnx_tensor *out);
void onnx_tensor_clear(onnx_tensor *t);
/* Parse a SparseTensorProto into its dense form (bounded by the input size). */
int onnx_sparse_parse(onnx_ctx *ctx, const pb_reader *msg, const char *what, onnx_tensor *out);
/* ONNX elem_type -> vrt dtype with a nonzero size, or VRT_UNDEFINED. */
vrt_dtype onnx_dtype(int64_t elem_type);

/* A copy of a counted string from the buffer, NUL-terminated. */
char *onnx_strndup(const uint8_t *p, size_t n);

/* Add a constant value with a fresh unique name built from base; data is
 * copied. Returns the name (owned by the graph) through *name_out. */
int onnx_add_const(onnx_ctx *c, const char *base, vrt_dtype dt, int ndim, const int64_t *dims,
                   const void *data, size_t nbytes, const char **name_out);
/* A fresh value name built from base, not used by any value yet (malloc'd). */
char *onnx_fresh_name(onnx_ctx *c, const char *base);

/* Node helpers for the normaliser. */
vrt_attr *onnx_node_attr(onnx_node *n, const char *name);
void onnx_node_drop_attr(onnx_node *n, const char *name);
int onnx_node_set_input(onnx_node *n, int idx, const char *name); /* grows with "" */
int onnx_node_add_string_attr(onnx_node *n, const char *name, const char *val);
int onnx_node_add_int_attr(onnx_node *n, const char *name, int64_t v);
void onnx_node_clear(onnx_node *n);
/* Append a node to ctx->nodes (takes ownership of *n's contents). */
int onnx_push_node(onnx_ctx *c, onnx_node *n);

/* Rewrite node *i of ctx->nodes into the newest opset's form. It may insert
 * nodes around it; *i then indexes the last node of the rewrite. */
int onnx_upgrade_node(onnx_ctx *c, int *i);

#endif
