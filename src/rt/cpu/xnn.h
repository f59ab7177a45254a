/* XNNPACK backend for NHWC f32 nodes (the TF.js models' layout): a narrow,
 * self-contained interface the executor's backend table calls.
 *
 *   xnn_supports_node  static check (op, layout, dtype, constant weights,
 *                      attributes XNNPACK implements); no allocation
 *   xnn_prepare_node   creates the XNNPACK operator for this input shape and
 *                      packs the constant weights into it (plan time)
 *   xnn_run_node       binds this run's buffers and runs the operator
 *
 * Families: Conv 2-D NHWC (dense, grouped, depthwise; fused Relu/Relu6/Clip
 * as output bounds, other fused activations applied after), Gemm and MatMul
 * with constant 2-D weights (fully connected), MaxPool / AveragePool 2-D
 * NHWC, GlobalAveragePool NHWC. Which of them a build routes here is the
 * backend table's decision, made from `vigil bench kernels`.
 *
 * An xnn_node is stateful (XNNPACK operators keep the bound pointers and
 * indirection buffers), so it belongs to one session's plan at a time, like
 * the arena. Built without XNNPACK, xnn_available() is false and
 * xnn_supports_node() always false.
 *
 * The backend table entry (vrt__backend_xnn, "xnnpack" in VRT_BACKENDS)
 * wraps these calls. It comes first in the default order but takes only the
 * families `vigil bench kernels` measured faster than oneDNN on this CPU: NHWC
 * MaxPool and AveragePool. Convolutions stay on oneDNN unless
 * VRT_XNNPACK_CONV=1; global average pooling and Gemm/MatMul are implemented
 * and tested here but left to oneDNN and vrt's sgemm (see bench/README.md).
 */
#ifndef VRT_CPU_XNN_H
#define VRT_CPU_XNN_H

#include <stdbool.h>

#include "ops.h"

typedef struct xnn_node xnn_node;

/* XNNPACK is compiled in and initialised on this CPU (once, thread-safe). */
bool xnn_available(void);

/* True when node n (prepared: n->params set) can run on XNNPACK with these
 * inputs. wconst: the weights (and bias) are constants of the model, so
 * packing them once is valid; without it, Conv/Gemm/MatMul are refused. */
bool xnn_supports_node(const vrt_node *n, const vrt_tensor *const *in, int nin, bool wconst);

/* The operator for n at the shapes of in (weights read now). Errors name the
 * node; the caller falls back to the reference/oneDNN kernel. */
int xnn_prepare_node(const vrt_node *n, const vrt_tensor *const *in, int nin, xnn_node **out);

/* Runs the prepared operator: in must have the shapes it was prepared for,
 * out is allocated with infer's shape. threads > 1 uses a process-wide pool
 * of that size (calls from several sessions take turns on it). */
int xnn_run_node(xnn_node *x, const vrt_tensor *const *in, int nin, vrt_tensor *out, int threads);

void xnn_node_free(xnn_node *x); /* NULL is a no-op */

/* Operators run by xnn_run_node since the process started (all threads):
 * lets tests see that the backend table routed nodes here. */
int64_t xnn_run_count(void);

#endif
