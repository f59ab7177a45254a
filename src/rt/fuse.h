/* Load-time fusion passes (fuse.c). Each returns how many nodes it fused or
 * <0 on error, marks changed[i] = 1 for every node whose inputs or attributes
 * it rewrote (changed may be NULL), and leaves swallowed nodes dead (op -1)
 * for remove_dead. They need shapes and constants known (run after static
 * inference and constant folding). */
#ifndef VRT_FUSE_H
#define VRT_FUSE_H

#include "ir.h"

/* Helpers the passes of fuse.c and fuse_mm.c share. uses[v]: how many node
 * inputs read v, plus one when v is a graph output (calloc'd; NULL when out
 * of memory). */
int *vrt__fuse_uses(const vrt_graph *g);
/* The only live reader of v after node index from (-1: anywhere), or NULL when
 * v has another reader or is a graph output. */
vrt_node *vrt__fuse_sole_reader(vrt_graph *g, const int *uses, int v, int from);
/* Make node n produce the output of the node it swallowed (dead, now op -1). */
void vrt__fuse_take_output(vrt_graph *g, vrt_node *n, vrt_node *dead);
/* The live node producing v, or NULL (an input, a constant, a dead node). */
vrt_node *vrt__fuse_producer(vrt_graph *g, int v);
/* Turn node n into op (named op_type) reading in[0..nin); attributes
 * cleared. 0 or <0 (out of memory, n unchanged). */
int vrt__fuse_rewrite(vrt_node *n, int op, const char *op_type, const int *in, int nin);
/* Mark the swallowed nodes dead (op -1); NULL entries are patterns' absent
 * optional parts. */
void vrt__fuse_kill(vrt_node *const *dead, size_t n);
/* A pass is one rule tried at every node in order: 1 when it fused at node
 * i, 0 when the pattern is not there, <0 on error. uses is
 * vrt__fuse_uses() as the pass began. */
typedef int (*vrt_fuse_rule)(vrt_graph *g, const int *uses, int i, char *changed);
/* Run rule over the graph, stopping at the first error: fusions or <0. */
int vrt__fuse_pass(vrt_graph *g, char *changed, vrt_fuse_rule rule);
/* Run the passes in order: the fusions of all, or the first error. */
typedef int (*vrt_fuse_fn)(vrt_graph *g, char *changed);
int vrt__fuse_seq(vrt_graph *g, char *changed, const vrt_fuse_fn *passes, int n);

/* Conv or ConvTranspose -> BatchNormalization (inference, NCHW): new weights
 * and bias. */
int vrt__fuse_batchnorm(vrt_graph *g, char *changed);
/* Conv/ConvTranspose -> Mul/Add by a constant scalar or per-channel value:
 * scaled weights, shifted bias. */
int vrt__fuse_affine(vrt_graph *g, char *changed);
/* LayerNorm written out (ReduceMean, Sub, Pow/Mul, ReduceMean, Add eps,
 * Sqrt, Div [, Mul gamma [, Add beta]]) over the last axis: one
 * LayerNormalization. */
int vrt__fuse_layernorm(vrt_graph *g, char *changed);
/* Conv -> Add(conv, r), r of the same static shape and ready before the Conv:
 * r becomes Conv input 4 (a oneDNN sum post-op). */
int vrt__fuse_residual(vrt_graph *g, char *changed);
/* Conv/ConvTranspose/Gemm/MatMul -> Relu, LeakyRelu, Sigmoid, Tanh, Elu,
 * HardSwish, Gelu, Clip (Relu6), or Mul(x, Sigmoid(x)) (SiLU): "vrt_act". */
int vrt__fuse_activation(vrt_graph *g, char *changed);
/* fuse_mm.c: the erf GELU written out -> Gelu; MatMul(A, const W) -> Add of
 * a last-axis constant bias: MatMul input 2; MatMul, scale, [mask Add],
 * Softmax, MatMul -> VrtAttention (nn_attention.c). */
int vrt__fuse_gelu(vrt_graph *g, char *changed);
int vrt__fuse_matmul_bias(vrt_graph *g, char *changed);
int vrt__fuse_attention(vrt_graph *g, char *changed);
/* The three above, in that order (vrt__fuse_all calls it). */
int vrt__fuse_transformer(vrt_graph *g, char *changed);
/* BatchNormalization (NCHW, rank 4, inference) left after BatchNorm folding:
 * a depthwise 1x1 Conv with the normalisation as weights and bias. */
int vrt__fuse_bn_dwconv(vrt_graph *g, char *changed);
/* Pad whose pads are all zero (torch exports AvgPool2d(2, 2) as Pad +
 * AveragePool) or Concat of one input: readers take its input, the node
 * dies. */
int vrt__fuse_identity(vrt_graph *g, char *changed);
/* Pad (zeros, spatial axes, NCHW) -> AveragePool without pads: the pool's
 * pads, counted (count_include_pad = 1). */
int vrt__fuse_pad_pool(vrt_graph *g, char *changed);
/* All of them (identities, BatchNorm, affine, LayerNorm, residual, activation, Pad into AveragePool) (a residual
 * before the activation after it). */
int vrt__fuse_all(vrt_graph *g, char *changed);

#endif
