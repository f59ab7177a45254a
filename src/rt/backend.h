/* The backend table: which library runs a node.
 *
 * A backend is a kernel library (oneDNN, XNNPACK, ...) that can run some
 * nodes faster than the reference kernels of src/rt/cpu. For every plan (one
 * set of input shapes, see exec.c) the executor asks the enabled backends in
 * table order whether they support each node (supports_op, cheap, no
 * allocation), then lets the first that does build the node's kernel (plan:
 * primitives, operators, packed weights). A backend that refuses at plan time
 * (returns <0: shapes or attributes the library rejects) passes the node on
 * to the next one, and in the end to the op's own exec in src/rt/cpu, with
 * one log line; never an error. The op's own exec is also what runs on the
 * first, unplanned run of a shape, and always under VRT_REFERENCE=1.
 *
 * Registering another backend (e.g. XNNPACK in src/rt/xnn*.c):
 *   1. define `const vrt_backend vrt__backend_xnn = {"xnnpack", supports,
 *      plan, exec, release};` in your file;
 *   2. declare it below and add it to the table in backend.c, before or
 *      after oneDNN (the order is the default priority);
 *   3. VRT_BACKENDS=xnnpack,onednn (names, comma separated, in priority
 *      order) picks and orders backends at run time; VRT_BACKENDS=none or
 *      VRT_REFERENCE=1 runs every node on src/rt/cpu.
 * Layout propagation: a backend with accepts_private may keep a value in its
 * own layout (oneDNN's nChw16c / nhwc for an NCHW graph) when its producer and
 * every reader run on that backend; exec.c decides which values qualify per
 * plan, and plans again without them if a node in the chain is refused.
 * Kernel states are per session and plan, so exec needs no lock. Weights
 * packed for a library are per model and shared by every session: pack them
 * through vrt__model_pack, which packs once under the model's lock. */
#ifndef VRT_BACKEND_H
#define VRT_BACKEND_H

#include "ops.h"

/* What a backend sees when it plans one node. in/out carry dtype and shape of
 * this plan; in[k]->data is set only for constants (weights), NULL
 * otherwise. in[k] is NULL for an omitted optional input. */
typedef struct vrt_kernel_req {
  const vrt_model_t *m;
  const vrt_graph *g;
  int node; /* index of n in g->nodes */
  const vrt_node *n;
  const vrt_tensor *const *in;
  int nin;
  const vrt_tensor *out;
  int nout;
  int threads;
  /* Private layouts (plan only; all NULL in supports_op and accepts_private).
   * in_layout[k]: the layout the producer's kernel stored input k in (the
   * pointer its plan set in out_layout), NULL for plain row-major.
   * out_private_ok[k]: output k may be stored in a layout of the backend's
   * own (every reader runs on this backend and accepts it there); the kernel
   * then sets out_layout[k] (a pointer that lives as long as its state) and
   * out_bytes[k] (what that layout needs; the arena slot grows to it). */
  const void *const *in_layout;
  const bool *out_private_ok;
  const void **out_layout;
  size_t *out_bytes;
  /* Plan only, NULL elsewhere: out_inplace[k] (-1 on entry) may be set to
   * an input index j when the kernel reads input j where it writes output
   * k, in the same layout and size (a fused residual the convolution sums
   * onto its output; an element-wise op, a depthwise 1x1 convolution): the
   * executor may then give output k input j's arena bytes when input j
   * dies at this node (no copy, less memory touched). */
  int *out_inplace;
} vrt_kernel_req;

typedef struct vrt_backend {
  const char *name;
  bool (*supports_op)(const vrt_kernel_req *rq);
  /* Build the kernel: 0 and *state, or <0 (with vrt__err) to refuse. */
  int (*plan)(const vrt_kernel_req *rq, void **state);
  /* Same contract as vrt_opdef.exec, with the state plan made. */
  int (*exec)(void *state, const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
              vrt_exec_ctx *x);
  void (*release)(void *state);
  /* Optional: may input k of this node arrive in this backend's private
   * layout? NULL: never, every value it reads or writes is plain. */
  bool (*accepts_private)(const vrt_kernel_req *rq, int k);
  /* Optional: b > 1 when a private layout (an out_layout of this backend)
   * stores a batch-1 rank-4 tensor in dense channel blocks of b (nChw16c),
   * so a window of whole blocks is contiguous and laid out like a tensor of
   * its own (exec.c may then run Concat/Slice along channels as views); 0
   * otherwise. */
  int (*channel_block)(const void *layout);
} vrt_backend;

extern const vrt_backend vrt__backend_onednn;
extern const vrt_backend vrt__backend_xnn; /* src/rt/cpu/xnn.c */

/* Enabled backends in priority order (VRT_BACKENDS, VRT_REFERENCE), NULL
 * terminated. Read on every call, like VRT_REFERENCE, so tests can flip it. */
int vrt__backends_enabled(const vrt_backend **out, int cap);

/* A node's kernel for one plan: the backend that runs it (NULL: the op's own
 * exec) and its state, plus a signature of the input shapes it was planned
 * for (a data-dependent op upstream can change them between runs). */
typedef struct vrt_kernel {
  const vrt_backend *b;
  void *state;
  uint64_t sig;
} vrt_kernel;

uint64_t vrt__shape_sig(const vrt_tensor *const *in, int nin);
/* Choose and plan node rq->node on plain layouts; fills k (k->b NULL when no
 * backend took it). */
void vrt__kernel_plan(const vrt_kernel_req *rq, vrt_kernel *k);
/* Plan it on backend b only (private layouts as rq says): 0, or <0 when b
 * refused, with the log line written. */
int vrt__kernel_plan_on(const vrt_backend *b, const vrt_kernel_req *rq, vrt_kernel *k);
void vrt__kernel_release(vrt_kernel *k);

/* Packed weights shared by all sessions of model m. Looks up (node, key); the
 * first caller allocates bytes (64-byte aligned) and fills them with
 * pack(ctx, dst) while holding the model's lock, so concurrent first plans
 * pack once. input: the node's input that pack reads (-1: none of them).
 * Once packed, that weight's own pages may be given back (backend.c) when
 * its bytes can be had again: from the model file, or through unpack, the
 * exact inverse of pack (NULL when there is none, e.g. bf16 packing), which
 * writes the original bytes to dst from the packed copy and what info held
 * (info_len bytes, copied). So a kernel reads the weight only through pack,
 * never keeps a pointer to it. Returns the model-owned buffer (valid until
 * vrt_model_free), or NULL with vrt__err set when pack fails or memory runs
 * out. */
typedef struct vrt_pack_req {
  int node, input;
  const void *key;
  size_t keylen, bytes;
  int (*pack)(void *ctx, void *dst);
  void *ctx;
  int (*unpack)(const void *info, const void *packed, void *dst);
  const void *info;
  size_t info_len;
} vrt_pack_req;
const void *vrt__model_pack(const vrt_model_t *m, const vrt_pack_req *r);

/* One line on stderr, prefixed "vrt: " (fallbacks and precision choices). */
void vrt__log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
