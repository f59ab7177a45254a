/* Load-time fusion passes (fuse.c). Each returns how many nodes it fused or
 * <0 on error, marks changed[i] = 1 for every node whose inputs or attributes
 * it rewrote (changed may be NULL), and leaves swallowed nodes dead (op -1)
 * for remove_dead. They need shapes and constants known (run after static
 * inference and constant folding). */
#ifndef VRT_FUSE_H
#define VRT_FUSE_H

#include "ir.h"

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
/* Pad whose pads are all zero (torch exports AvgPool2d(2, 2) as Pad +
 * AveragePool): readers take its input, the node dies. */
int vrt__fuse_identity_pad(vrt_graph *g, char *changed);
/* All of them (BatchNorm, affine, LayerNorm, residual, activation) (a residual before the activation after it). */
int vrt__fuse_all(vrt_graph *g, char *changed);

#endif
