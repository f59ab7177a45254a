/* The graph IR that both loaders (ONNX, TF.js) produce and the executor runs.
 *
 * A graph is a list of values (tensors: inputs, constants, intermediates) and
 * a list of nodes in topological order. Values are referred to by index.
 * Constants carry data; the graph owns it unless it points into an mmapped
 * region that the graph keeps open (see vrt_graph.maps). */
#ifndef VRT_IR_H
#define VRT_IR_H

#include "rt.h"

/* Most inputs or outputs one node may have. The executor sizes its per-node
 * tensor arrays with it and vrt_graph_validate refuses nodes beyond it, so a
 * loader never has to check (Split, Concat and friends are the wide ones). */
#define VRT_MAX_NODE_IO 64

typedef enum {
  VRT_ATTR_INT = 1,
  VRT_ATTR_FLOAT,
  VRT_ATTR_STRING,
  VRT_ATTR_INTS,
  VRT_ATTR_FLOATS,
  VRT_ATTR_STRINGS,
  VRT_ATTR_TENSOR,
} vrt_attr_type;

typedef struct vrt_attr {
  char *name;
  vrt_attr_type type;
  int64_t i;
  float f;
  char *s;          /* STRING (NUL-terminated; bytes in s, length slen) */
  size_t slen;
  int n;            /* count of ints / floats / strings */
  int64_t *ints;
  float *floats;
  char **strings;
  vrt_tensor *t;    /* TENSOR (owned: t, and t->data unless t_borrowed) */
  bool t_borrowed;  /* t->data points into a model file's mapping: never freed here */
} vrt_attr;

enum {
  VRT_VAL_CONST = 1 << 0,   /* data known at load time */
  VRT_VAL_INPUT = 1 << 1,   /* graph input */
  VRT_VAL_OUTPUT = 1 << 2,  /* graph output */
  VRT_VAL_BORROWED = 1 << 3 /* data points into a mapping; do not free */
};

typedef struct vrt_value {
  vrt_tensor t;        /* t.name owned; ndim -1 = unknown; dims[i] -1 = dynamic */
  char *dim_names[VRT_MAX_DIMS]; /* symbolic names of dynamic dims (owned) */
  unsigned flags;
  int producer;        /* node index, -1 for inputs/constants */
  /* A constant's bytes in a read-only file mapping the graph keeps (ONNX
   * initializers loaded from a file), NULL otherwise: t.data itself when
   * borrowed in place, else the source t.data was copied from. Lets a weight
   * that a backend packed give its pages back (backend.c) and get them back
   * from the file when a reference kernel needs it again. */
  const void *file_src;
} vrt_value;

typedef struct vrt_node {
  int op;              /* vrt_op */
  char *name;          /* node name (owned); used in every error message */
  char *op_type;       /* source op type as written in the file (owned) */
  int nin, nout;
  int *in;             /* value indices; -1 = omitted optional input */
  int *out;
  int nattr;
  vrt_attr *attrs;
  void *params;        /* op-private, set by opdef->prepare */
  void (*params_free)(void *);
} vrt_node;

typedef struct vrt_map {
  void *addr;
  size_t len;
} vrt_map;

typedef struct vrt_meta {
  char *key, *val; /* one allocation: val points into key's block */
} vrt_meta;

typedef struct vrt_graph {
  vrt_value *values;
  int nvalues, cap_values;
  vrt_node *nodes;
  int nnodes, cap_nodes;
  int *inputs, ninputs;    /* value indices of graph inputs (not constants) */
  int *outputs, noutputs;
  int opset;               /* default-domain opset (ONNX); 0 for TF.js */
  vrt_meta *meta;          /* model metadata (producer, doc strings ...) */
  int nmeta;
  vrt_map *maps;           /* mmapped regions kept alive by the graph */
  int nmaps;
} vrt_graph;

vrt_graph *vrt_graph_new(void);
void vrt_graph_free(vrt_graph *g);

/* Add a value; name is copied. Returns its index or <0. */
int vrt_graph_add_value(vrt_graph *g, const char *name, vrt_dtype dtype, int ndim, const int64_t *dims);
/* Add a constant; takes ownership of data (freed with free()) unless
 * borrowed is true. */
int vrt_graph_add_const(vrt_graph *g, const char *name, vrt_dtype dtype, int ndim, const int64_t *dims,
                        void *data, size_t nbytes, bool borrowed);
/* Find a value by name: index or -1. Linear; loaders keep their own maps. */
int vrt_graph_find_value(const vrt_graph *g, const char *name);
/* Append a node; in/out arrays are copied, name/op_type copied. Attributes
 * are added afterwards with vrt_node_add_attr. Returns node index or <0. */
int vrt_graph_add_node(vrt_graph *g, int op, const char *name, const char *op_type,
                       const int *in, int nin, const int *out, int nout);
/* Adds a copy of a (deep copy). */
int vrt_node_add_attr(vrt_node *n, const vrt_attr *a);
int vrt_node_set_int(vrt_node *n, const char *name, int64_t v);
int vrt_node_set_float(vrt_node *n, const char *name, float v);
int vrt_node_set_ints(vrt_node *n, const char *name, const int64_t *v, int count);
int vrt_node_set_floats(vrt_node *n, const char *name, const float *v, int count);
int vrt_node_set_string(vrt_node *n, const char *name, const char *s);
void vrt_attr_clear(vrt_attr *a);
/* Release what node n owns (params, attributes, inputs, outputs, names). */
void vrt_node_clear(vrt_node *n);
int vrt_graph_set_meta(vrt_graph *g, const char *key, const char *val);
int vrt_graph_add_map(vrt_graph *g, void *addr, size_t len);
/* Give back the whole pages inside [p, p + n) (madvise MADV_DONTNEED): a file
 * mapping's pages come back from the file on the next read, an anonymous
 * one's read as zeros until written again. Returns the bytes dropped. */
size_t vrt__drop_pages(const void *p, size_t n);

/* Attribute lookups for kernels (prepare). */
const vrt_attr *vrt_node_attr(const vrt_node *n, const char *name);
int64_t vrt_attr_int(const vrt_node *n, const char *name, int64_t dflt);
float vrt_attr_float(const vrt_node *n, const char *name, float dflt);
const char *vrt_attr_string(const vrt_node *n, const char *name, const char *dflt);
/* Returns the count (0 when absent) and the array through *out. */
int vrt_attr_ints(const vrt_node *n, const char *name, const int64_t **out);
int vrt_attr_floats(const vrt_node *n, const char *name, const float **out);

/* Internal attributes that the loaders set and ONNX does not have:
 *   "vrt_layout"   int   0 = NCHW (default), 1 = NHWC   (Conv, pools, Resize
 *                        reads scales per axis so needs none)
 *   "vrt_act"      string fused activation after Conv/Gemm/MatMul:
 *                        "Relu", "Relu6", "LeakyRelu", "Sigmoid", "Tanh",
 *                        "Elu", "Prelu" (alpha tensor as extra input), "HardSwish"
 *   "vrt_act_alpha" float for LeakyRelu/Elu
 *   Conv weights are always OIHW (groups: O x I/group x kH x kW), whatever the
 *   data layout; the TF.js loader converts HWIO / depthwise filters. */

/* Check structure: indices in range, every node input produced earlier or
 * constant/input, no value produced twice, op known. Errors name the node. */
int vrt_graph_validate(const vrt_graph *g);

#endif
