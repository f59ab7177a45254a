/* The op table: one enum from ops.def, one opdef per op (vrt__op_<Name>,
 * owned by its family's kernel files). Dispatch is by op, then by dtype
 * inside each kernel; never per element. */
#ifndef VRT_OPS_H
#define VRT_OPS_H

#include "ir.h"

typedef enum {
#define X(name, family) VRT_OP_##name,
#include "ops.def"
#undef X
  VRT_OP_COUNT
} vrt_op;

const char *vrt_op_name(vrt_op op);
/* ONNX/IR op type name -> op; returns -1 when unknown. */
int vrt_op_from_name(const char *name);

/* Per-run context a kernel may use: scratch memory that lives until the
 * kernel returns, and the thread count of the session. */
typedef struct vrt_exec_ctx {
  int threads;
  void *(*scratch)(struct vrt_exec_ctx *x, size_t bytes); /* 64-byte aligned; NULL on OOM */
  void *impl;
} vrt_exec_ctx;

enum {
  /* Output shape depends on input *values* that are not derived from input
   * shapes alone (NonZero, NMS): plans cannot be reused blindly. */
  VRT_OPF_DATA_DEPENDENT = 1 << 0,
  /* Output may alias input 0 (Reshape, Squeeze, Identity ...): exec copies
   * only when out->data != in[0]->data. */
  VRT_OPF_ALIAS_IN0 = 1 << 1,
};

/* An op's behaviour. infer and exec see the node's inputs as tensors (NULL for
 * an omitted optional input).
 *   prepare: optional; parses attributes into node->params once at load
 *            (free with node->params_free). Return <0 with vrt__err() on bad
 *            attributes, naming the node.
 *   infer:   sets dtype/ndim/dims of every output from the inputs. Inputs
 *            always have dtype and shape; their data may be NULL at load time.
 *            If it needs an input's values and they are NULL, return
 *            VRT_ENEEDDATA (not an error). Shape errors name the node.
 *   exec:    computes outputs. Output buffers are allocated by the executor
 *            from the shapes infer gave (out->data, out->nbytes set). */
typedef struct vrt_opdef {
  vrt_op op;
  int (*prepare)(vrt_node *n);
  int (*infer)(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout);
  int (*exec)(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
              vrt_exec_ctx *x);
  unsigned flags;
  int min_inputs, max_inputs; /* max -1 = variadic */
} vrt_opdef;

/* Every op's opdef is vrt__op_<Name>, defined in its family's kernel files
 * (src/rt/cpu/<family>*.c); ops.c builds the op table from ops.def. */
#define X(name, family) extern const vrt_opdef vrt__op_##name;
#include "ops.def"
#undef X

/* The opdef of op; NULL for an op outside the enum. */
const vrt_opdef *vrt_opdef_get(vrt_op op);
/* The family of op (ops.def's second column: the kernel files
 * src/rt/cpu/<family>*.c), "?" outside the enum. */
const char *vrt_op_family(vrt_op op);

#endif
