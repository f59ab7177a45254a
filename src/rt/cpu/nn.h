/* Private helpers shared by the "nn" family kernels (src/rt/cpu/nn*.c):
 * error formatting, fused activations, conv/pool geometry. */
#ifndef VRT_CPU_NN_H
#define VRT_CPU_NN_H

#include <stdbool.h>
#include <stdlib.h>

#include "ops.h"

/* GCC 12 at -O2 vectorizes only loops whose trip count needs no epilogue
 * ("very cheap" cost model), which leaves every kernel loop scalar. The
 * dynamic model vectorizes them (SSE2 baseline; no -march). Clang's -O2
 * vectorizes anyway. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("vect-cost-model=dynamic")
#endif

/* An error naming the node: the reference kernels' KERN_ERR (shape_util.c). */
#define NN_ERR(n, code, ...) vrt__kern_err_node((n), (code), __VA_ARGS__)
int vrt__kern_err_node(const vrt_node *n, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The end of every prepare that mallocs its params: on error (rc != 0) frees
 * p and passes rc on; otherwise hands p to the node, freed with it. */
static inline int nn_params_keep(vrt_node *n, void *p, int rc) {
  if (rc) {
    free(p);
    return rc;
  }
  n->params = p;
  n->params_free = free;
  return 0;
}

/* True when VRT_REFERENCE is set to something other than "" or "0": every
 * kernel then takes its reference path. Read on every call so tests and
 * benchmarks can flip it between runs. */
bool nn_use_reference(void);
/* Thread count for oneDNN calls made by the calling thread (the session's
 * vrt_exec_ctx.threads). */
void nn_set_threads(int threads);

/* Fused activation from the loaders' "vrt_act"/"vrt_act_alpha" attributes. */
typedef enum {
  NN_ACT_NONE = 0,
  NN_ACT_RELU,
  NN_ACT_RELU6,
  NN_ACT_LEAKY,
  NN_ACT_SIGMOID,
  NN_ACT_TANH,
  NN_ACT_ELU,
  NN_ACT_HARDSWISH,
  NN_ACT_PRELU,
  NN_ACT_CLIP,  /* min alpha, max beta (vrt_act_alpha / vrt_act_beta) */
  NN_ACT_SILU,  /* x * sigmoid(x) */
  NN_ACT_GELU,  /* x/2 * (1 + erf(x / sqrt 2)) */
} nn_act_kind;

typedef struct nn_act {
  nn_act_kind kind;
  float alpha, beta;
} nn_act;

int nn_act_parse(const vrt_node *n, nn_act *a);
/* y is viewed as [outer, C, inner]; adds bias[c] when bias != NULL, then
 * applies the activation. For PRELU, slope has 1 or C elements (nslope). */
void nn_bias_act(float *y, int64_t outer, int64_t C, int64_t inner, const float *bias, const nn_act *a,
                 const float *slope, int64_t nslope);
/* The PRELU slope input (index idx) as floats: validates it has 1 or C
 * elements. Returns 0 or an error naming the node. */
int nn_prelu_slope(const vrt_node *n, const vrt_tensor *const *in, int nin, int idx, int64_t C,
                   const nn_act *a, const float **slope, int64_t *nslope);

/* Conv / ConvTranspose / pool attributes, parsed once by prepare. Spatial
 * arrays are in ONNX order (first spatial axis first). */
enum { NN_PAD_NOTSET = 0, NN_PAD_SAME_UPPER, NN_PAD_SAME_LOWER, NN_PAD_VALID };

typedef struct nn_conv_params {
  int layout; /* 0 NCHW, 1 NHWC */
  int auto_pad;
  int64_t group;
  int nk, nstrides, ndil, npads, noutpad, noutshape;
  int64_t kernel[3], strides[3], dil[3], pads[6], outpad[3], outshape[3];
  int ceil_mode, count_include_pad, storage_order;
  int64_t p; /* LpPool */
  nn_act act;
} nn_conv_params;

/* Geometry of one conv/pool call. Spatial arrays always have 3 entries
 * (depth, height, width); lower-rank ops fill the leading ones with 1. */
typedef struct nn_geom {
  int nsp;
  int layout;
  int64_t N, C, M, group;
  int64_t in[3], out[3], k[3], s[3], d[3], pb[3], pe[3];
} nn_geom;

int nn_conv_prepare(vrt_node *n);
/* Element strides of a [N, C, D, H, W] tensor stored as NCDHW (layout 0) or
 * NDHWC (layout 1). */
void nn_layout_strides(int layout, int64_t C, const int64_t sp[3], int64_t *sn, int64_t *sc, int64_t ssp[3]);
/* Shape of a [N, C, spatial] tensor in the given layout into dims. */
void nn_layout_dims(int layout, int nsp, int64_t N, int64_t C, const int64_t sp[3], int64_t *dims);
/* Reads N, C and the spatial sizes of x given the layout; VRT_ESHAPE when
 * the rank is not 3..5. */
int nn_read_nchw(const vrt_node *n, const vrt_tensor *x, int layout, nn_geom *g);
/* Pool-style output geometry (kernel from params). */
int nn_pool_geom(const vrt_node *n, const nn_conv_params *p, const vrt_tensor *x, nn_geom *g);
/* Conv: w is [M, C/group, k...]. ConvTranspose: w is [C, M/group, k...]. */
int nn_conv_geom(const vrt_node *n, const nn_conv_params *p, const vrt_tensor *x, const vrt_tensor *w, nn_geom *g);
int nn_convt_geom(const vrt_node *n, const nn_conv_params *p, const vrt_tensor *x, const vrt_tensor *w, nn_geom *g);
/* Direct convolution by the definition, any layout (nn.c): the reference of
 * Conv (b: bias or NULL) and of the integer convolutions (int32 operands with
 * their zero points taken off, int64 accumulator). */
void nn_conv_direct_f32(const nn_geom *g, const float *x, const float *w, const float *b, float *y);
void nn_conv_direct_i32(const nn_geom *g, const int32_t *x, const int32_t *w, const int32_t *b, int64_t *y);

/* MatMul geometry (numpy broadcasting of the batch dims, 1-D operands):
 * output batch dims and per-operand batch strides (0 on broadcast dims).
 * Checks shapes only. */
typedef struct nn_mm_geom {
  int64_t M, N, K;
  int nb;
  int64_t bdims[VRT_MAX_DIMS], sa[VRT_MAX_DIMS], sb[VRT_MAX_DIMS];
  int64_t batch;
  int ndim_out;
  int64_t out_dims[VRT_MAX_DIMS];
} nn_mm_geom;

/* VrtAttention geometry (nn_attention.c): Q [b.., M, D], Kt [b.., D, N],
 * V [b.., N, Dv], same batch dims; mask strides over [b.., M, N]. */
typedef struct nn_attn_geom_t {
  int rank;
  int64_t batch, M, N, D, Dv;
  bool mask;
  int64_t mst[VRT_MAX_DIMS];
  float scale;
} nn_attn_geom_t;
int nn_attn_geom(const vrt_node *n, const vrt_tensor *const *in, int nin, nn_attn_geom_t *g);

int nn_mm_geom_get(const vrt_node *n, const vrt_tensor *a, const vrt_tensor *b, nn_mm_geom *g);
/* Element offsets of batch item t in A and B. */
void nn_mm_offsets(const nn_mm_geom *g, int64_t t, int64_t *oa, int64_t *ob);

#endif
