/* Lowering of TensorFlow (TF.js graph-model) ops onto IR ops with ONNX
 * semantics in their newest opset form. Data stays NHWC: no transposes are
 * inserted; layout-sensitive IR nodes carry vrt_layout=1 instead.
 *
 * TF op                        IR
 * ---------------------------  -------------------------------------------------
 * Conv2D, _FusedConv2D         Conv(x, W, [B], [alpha]) vrt_layout=1 (NHWC input),
 *                              W converted HWIO -> OIHW at load, kernel_shape,
 *                              strides/dilations from the NHWC 4-vectors,
 *                              SAME -> auto_pad SAME_UPPER, VALID -> VALID,
 *                              EXPLICIT -> pads [t,l,b,r]. fused_ops: BiasAdd ->
 *                              input 3; then Relu/Relu6/Elu/Sigmoid/Tanh/
 *                              LeakyRelu (vrt_act_alpha = leakyrelu_alpha) /
 *                              Prelu (alpha as input 4) -> vrt_act.
 * DepthwiseConv2dNative,       Conv group=C, filter [kh,kw,C,mult] ->
 *  FusedDepthwiseConv2dNative   [C*mult,1,kh,kw]; fused ops as above.
 * MaxPool, AvgPool             MaxPool / AveragePool vrt_layout=1, kernel_shape,
 *                              strides, auto_pad, count_include_pad=0.
 * _FusedMatMul, MatMul         Gemm(A, B, [C]) transA/transB, vrt_act.
 * ResizeBilinear               Resize(x, -, -, sizes int64[2]) axes=[1,2],
 *                              mode linear; coordinate_transformation_mode
 *                              half_pixel | align_corners | asymmetric.
 * ResizeNearestNeighbor        Resize mode nearest (tf_half_pixel_for_nn+floor |
 *                              align_corners+round_prefer_ceil | asymmetric+floor).
 * ConcatV2                     Concat(axis from the last, constant input).
 * Pack                         Unsqueeze each input + Concat.
 * Unpack                       Split(ones) + Squeeze each part.
 * SplitV                       Split(split int64); with a -1 size: one Slice per
 *                              part, counted from both ends (no shape needed).
 * StridedSlice                 StridedSlice (TF semantics; begin/end/strides as
 *                              int64 inputs; the five masks as attributes).
 * SparseToDense                SparseToDense (TF inputs, unchanged).
 * FloorDiv, FloorMod           FloorDiv, FloorMod.
 * SquaredDifference            d = Sub(a, b); Mul(d, d).
 * Relu6                        Clip(x, 0, 6).
 * Rsqrt, Square                Reciprocal(Sqrt(x)), Mul(x, x).
 * RealDiv/Div, Add/AddV2/      Div, Add, Max, Min, Sub, Mul, Sum, and the
 *  BiasAdd, Maximum, Minimum,   unary ops of the same name; LeakyRelu(alpha);
 *  Sub, Mul, AddN, Sqrt, Tanh,  Softmax axis=-1; comparisons; LogicalAnd/Or/Not
 *  Sigmoid, Relu, ...           -> And/Or/Not; Select/SelectV2 -> Where.
 * Cast(DstT)                   Cast(to), TF.js dtypes (int64 is int32).
 * ExpandDims                   Unsqueeze(x, axes int64[1]).
 * Squeeze(squeeze_dims)        Squeeze(x, [axes int64]).
 * Reshape                      Reshape(x, shape int64) allowzero=1.
 * Transpose                    Transpose perm (constant).
 * Pad, PadV2, MirrorPad        Pad(x, pads int64 [begins..., ends...], [value]).
 * Mean, Max, Min, Sum, Prod    ReduceMean/Max/Min/Sum/Prod(x, axes int64)
 *                              keepdims from keep_dims, noop_with_empty_axes=1.
 * ArgMax, ArgMin               ArgMax/ArgMin axis, keepdims=0, then Cast int32.
 * TopKV2                       TopK(x, K int64[1]) axis=-1 largest sorted; the
 *                              indices go through Cast int32.
 * GatherV2                     Gather axis (batch_dims must be 0).
 * GatherNd                     GatherND.
 * Tile, Shape                  Tile(x, repeats int64), Cast(Shape(x), int32).
 * Identity, StopGradient,      no node: the output is the input value.
 *  Snapshot, IdentityN
 * Anything else is VRT_EUNSUPPORTED naming the op and the node.
 *
 * Index-like inputs (shapes, sizes, axes, pads, K) become int64 as ONNX wants:
 * constants are converted at load, computed ones go through Cast. Values made
 * by the extra nodes of a lowering are named "<tf node>/vrt_<what>". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ops.h"
#include "tfjs.h"

typedef struct lower_rule lower_rule;
typedef int (*lower_fn)(tfjs_ctx *c, const tfjs_node *n, const lower_rule *r);
struct lower_rule {
  const char *tf;
  lower_fn fn;
  int op; /* IR op for rules that map one-to-one */
};

#define MAX_OUTS 1024

/* Append IR node op reading ins; its nout outputs are fresh values named
 * base, base:1, ... Returns the node index or <0; output ids in outs. */
static int emit(tfjs_ctx *c, int op, const char *base, const char *op_type, const int *ins, int nin, int nout,
                int *outs) {
  char nm[1100];
  if (nout > MAX_OUTS) return vrt__err(VRT_ELIMIT, "node '%s': %d outputs", base, nout);
  for (int k = 0; k < nout; k++) {
    if (k == 0)
      snprintf(nm, sizeof nm, "%s", base);
    else
      snprintf(nm, sizeof nm, "%s:%d", base, k);
    int v = vrt_graph_add_value(c->g, nm, VRT_UNDEFINED, -1, NULL);
    if (v < 0) return v;
    outs[k] = v;
  }
  return vrt_graph_add_node(c->g, op, base, op_type, ins, nin, outs, nout);
}

/* emit with one output, bound as output 0 of the TF node when final. */
static int emit1(tfjs_ctx *c, int op, const tfjs_node *n, const char *suffix, const int *ins, int nin, int *out) {
  char base[1100];
  if (suffix)
    snprintf(base, sizeof base, "%s/vrt_%s", n->name, suffix);
  else
    snprintf(base, sizeof base, "%s", n->name);
  int ni = emit(c, op, base, n->op, ins, nin, 1, out);
  if (ni < 0) return ni;
  if (!suffix) {
    int rc = tfjs_bind(c, n->name, 0, *out);
    if (rc) return rc;
  }
  return ni;
}

static vrt_node *node_at(tfjs_ctx *c, int ni) { return &c->g->nodes[ni]; }

static int add_const(tfjs_ctx *c, const tfjs_node *n, const char *suffix, vrt_dtype dt, const int64_t *dims, int ndim,
                     const void *vals) {
  char nm[1100];
  snprintf(nm, sizeof nm, "%s/vrt_%s", n->name, suffix);
  size_t bytes = (size_t)vrt__numel(dims, ndim) * vrt_dtype_size(dt);
  void *d = malloc(bytes ? bytes : 1);
  if (!d) return vrt__err(VRT_ENOMEM, "out of memory");
  if (bytes) memcpy(d, vals, bytes);
  return vrt_graph_add_const(c->g, nm, dt, ndim, dims, d, bytes, false);
}

static int const_i64(tfjs_ctx *c, const tfjs_node *n, const char *suffix, const int64_t *v, int count) {
  int64_t dims[1] = {count};
  return add_const(c, n, suffix, VRT_I64, dims, 1, v);
}

static int const_scalar(tfjs_ctx *c, const tfjs_node *n, const char *suffix, vrt_dtype dt, double x) {
  float f = (float)x;
  int32_t i = (int32_t)x;
  return add_const(c, n, suffix, dt, NULL, 0, dt == VRT_I32 ? (const void *)&i : (const void *)&f);
}

/* Values of the constant k-th input as int64 (at most max). */
static int const_ints(tfjs_ctx *c, const tfjs_node *n, int k, int64_t *out, int max, int *count) {
  const vrt_tensor *t;
  int rc = tfjs_input_const(c, n, k, &t);
  if (rc) return rc;
  int64_t ne = vrt__numel(t->dims, t->ndim);
  if (t->dtype != VRT_I32 && t->dtype != VRT_I64 && t->dtype != VRT_F32)
    return vrt__err(VRT_ETYPE, "node '%s' (%s): input %d must be integer", n->name, n->op, k);
  if (ne < 0 || ne > max)
    return vrt__err(VRT_ELIMIT, "node '%s' (%s): input %d has %lld values (max %d)", n->name, n->op, k, (long long)ne,
                    max);
  for (int64_t i = 0; i < ne; i++) out[i] = vrt__get_i64(t, i);
  *count = (int)ne;
  return 0;
}

/* The k-th input as an int64 tensor: constants converted (flattened to 1-D
 * when flat), computed values through Cast (and Reshape [-1] when flat). */
static int idx_input(tfjs_ctx *c, const tfjs_node *n, int k, bool flat, int *vid) {
  const vrt_tensor *t;
  char sfx[32];
  snprintf(sfx, sizeof sfx, "in%d", k);
  if (tfjs_input_const(c, n, k, &t) == 0) {
    int64_t ne = vrt__numel(t->dims, t->ndim);
    if (ne < 0) return vrt__err(VRT_EPARSE, "node '%s': bad constant input %d", n->name, k);
    if (t->dtype != VRT_I32 && t->dtype != VRT_I64 && t->dtype != VRT_F32)
      return vrt__err(VRT_ETYPE, "node '%s' (%s): input %d must be integer", n->name, n->op, k);
    int64_t *v = malloc(sizeof(int64_t) * (size_t)(ne ? ne : 1));
    if (!v) return vrt__err(VRT_ENOMEM, "out of memory");
    for (int64_t i = 0; i < ne; i++) v[i] = vrt__get_i64(t, i);
    /* copy the shape first: adding a value may move the tensor t points to */
    int64_t dims[VRT_MAX_DIMS], d1[1] = {ne};
    int ndim = t->ndim;
    memcpy(dims, t->dims, sizeof dims);
    *vid = flat ? add_const(c, n, sfx, VRT_I64, d1, 1, v) : add_const(c, n, sfx, VRT_I64, dims, ndim, v);
    free(v);
    return *vid < 0 ? *vid : 0;
  }
  vrt__err_clear();
  int x, ni;
  int rc = tfjs_input(c, n, k, &x);
  if (rc) return rc;
  snprintf(sfx, sizeof sfx, "cast%d", k);
  if ((ni = emit1(c, VRT_OP_Cast, n, sfx, &x, 1, vid)) < 0) return ni;
  if ((rc = vrt_node_set_int(node_at(c, ni), "to", VRT_I64))) return rc;
  if (!flat) return 0;
  int64_t m1 = -1;
  snprintf(sfx, sizeof sfx, "flat%d", k);
  int shp = const_i64(c, n, sfx, &m1, 1);
  if (shp < 0) return shp;
  int ins[2] = {*vid, shp};
  snprintf(sfx, sizeof sfx, "flatten%d", k);
  return (ni = emit1(c, VRT_OP_Reshape, n, sfx, ins, 2, vid)) < 0 ? ni : 0;
}

/* ---- elementwise and simple ops ------------------------------------------ */

static int lower_plain(tfjs_ctx *c, const tfjs_node *n, const lower_rule *r) {
  int ins[8], out;
  if (n->nin < 1 || n->nin > 8) return vrt__err(VRT_EGRAPH, "node '%s' (%s): %d inputs", n->name, n->op, n->nin);
  for (int k = 0; k < n->nin; k++) {
    int rc = tfjs_input(c, n, k, &ins[k]);
    if (rc) return rc;
  }
  int ni = emit1(c, r->op, n, NULL, ins, n->nin, &out);
  if (ni < 0) return ni;
  if (r->op == VRT_OP_LeakyRelu) return vrt_node_set_float(node_at(c, ni), "alpha", tfjs_attr_float(n, "alpha", 0.2f));
  if (r->op == VRT_OP_Softmax) return vrt_node_set_int(node_at(c, ni), "axis", -1);
  return 0;
}

static int lower_identity(tfjs_ctx *c, const tfjs_node *n, const lower_rule *r) {
  (void)r;
  for (int k = 0; k < (n->nin ? n->nin : 1); k++) {
    int v, rc = tfjs_input(c, n, k, &v);
    if (rc || (rc = tfjs_bind(c, n->name, k, v))) return rc;
  }
  return 0;
}

static int lower_sqdiff(tfjs_ctx *c, const tfjs_node *n, const lower_rule *r) {
  (void)r;
  int ins[2], d, out, rc;
  if ((rc = tfjs_input(c, n, 0, &ins[0])) || (rc = tfjs_input(c, n, 1, &ins[1]))) return rc;
  if ((rc = emit1(c, VRT_OP_Sub, n, "diff", ins, 2, &d)) < 0) return rc;
  int sq[2] = {d, d};
  return (rc = emit1(c, VRT_OP_Mul, n, NULL, sq, 2, &out)) < 0 ? rc : 0;
}

static int lower_square(tfjs_ctx *c, const tfjs_node *n, const lower_rule *r) {
  (void)r;
  int x, out, rc;
  if ((rc = tfjs_input(c, n, 0, &x))) return rc;
  int ins[2] = {x, x};
  return (rc = emit1(c, VRT_OP_Mul, n, NULL, ins, 2, &out)) < 0 ? rc : 0;
}

static int lower_rsqrt(tfjs_ctx *c, const tfjs_node *n, const lower_rule *r) {
  (void)r;
  int x, s, out, rc;
  if ((rc = tfjs_input(c, n, 0, &x))) return rc;
  if ((rc = emit1(c, VRT_OP_Sqrt, n, "sqrt", &x, 1, &s)) < 0) return rc;
  return (rc = emit1(c, VRT_OP_Reciprocal, n, NULL, &s, 1, &out)) < 0 ? rc : 0;
}

static int lower_not_equal(tfjs_ctx *c, const tfjs_node *n, const lower_rule *r) {
  (void)r;
  int ins[2], e, out, rc;
  if ((rc = tfjs_input(c, n, 0, &ins[0])) || (rc = tfjs_input(c, n, 1, &ins[1]))) return rc;
  if ((rc = emit1(c, VRT_OP_Equal, n, "eq", ins, 2, &e)) < 0) return rc;
  return (rc = emit1(c, VRT_OP_Not, n, NULL, &e, 1, &out)) < 0 ? rc : 0;
}

static int lower_relu6(tfjs_ctx *c, const tfjs_node *n, const lower_rule *r) {
  (void)r;
  int ins[3], out, rc;
  vrt_dtype dt = tfjs_attr_dtype(n, "T") == VRT_I32 ? VRT_I32 : VRT_F32;
  if ((rc = tfjs_input(c, n, 0, &ins[0]))) return rc;
  if ((ins[1] = const_scalar(c, n, "min", dt, 0)) < 0) return ins[1];
  if ((ins[2] = const_scalar(c, n, "max", dt, 6)) < 0) return ins[2];
  return (rc = emit1(c, VRT_OP_Clip, n, NULL, ins, 3, &out)) < 0 ? rc : 0;
}

static int lower_cast(tfjs_ctx *c, const tfjs_node *n, const lower_rule *r) {
  (void)r;
  int x, out, rc;
  vrt_dtype to = tfjs_attr_dtype(n, "DstT");
  if (to == VRT_UNDEFINED) return vrt__err(VRT_EUNSUPPORTED, "node '%s' (Cast): unsupported DstT", n->name);
  if ((rc = tfjs_input(c, n, 0, &x))) return rc;
  int ni = emit1(c, VRT_OP_Cast, n, NULL, &x, 1, &out);
  return ni < 0 ? ni : vrt_node_set_int(node_at(c, ni), "to", to);
}

/* ---- convolution, pooling, matmul ----------------------------------------- */

/* Reads data_format, strides, dilations and padding of a conv/pool node. */
typedef struct conv_geom {
  bool nchw;
  int64_t strides[2], dilations[2], ksize[2];
  const char *auto_pad; /* NULL when pads holds explicit pads */
  int64_t pads[4];
} conv_geom;

static int read_geom(const tfjs_node *n, bool pool, conv_geom *g) {
  char fmt[16], pad[16];
  int64_t v[8];
  int hi = 1, wi = 2;
  memset(g, 0, sizeof *g);
  if (tfjs_attr_str(n, "data_format", fmt, sizeof fmt) > 0 && strcmp(fmt, "NHWC")) {
    if (strcmp(fmt, "NCHW")) return vrt__err(VRT_EUNSUPPORTED, "node '%s' (%s): data_format %s", n->name, n->op, fmt);
    g->nchw = true, hi = 2, wi = 3;
  }
  g->strides[0] = g->strides[1] = g->dilations[0] = g->dilations[1] = 1;
  int cnt = tfjs_attr_ints(n, "strides", v, 8);
  if (cnt == 4) g->strides[0] = v[hi], g->strides[1] = v[wi];
  else if (cnt != 0) return vrt__err(VRT_EPARSE, "node '%s' (%s): strides must have 4 values", n->name, n->op);
  cnt = tfjs_attr_ints(n, "dilations", v, 8);
  if (cnt == 4) g->dilations[0] = v[hi], g->dilations[1] = v[wi];
  else if (cnt != 0) return vrt__err(VRT_EPARSE, "node '%s' (%s): dilations must have 4 values", n->name, n->op);
  if (pool) {
    if (tfjs_attr_ints(n, "ksize", v, 8) != 4) return vrt__err(VRT_EPARSE, "node '%s' (%s): ksize must have 4 values", n->name, n->op);
    g->ksize[0] = v[hi], g->ksize[1] = v[wi];
    if (g->ksize[0] < 1 || g->ksize[1] < 1 || v[0] != 1 || v[g->nchw ? 1 : 3] != 1)
      return vrt__err(VRT_EUNSUPPORTED, "node '%s' (%s): pooling window must be spatial", n->name, n->op);
  }
  for (int i = 0; i < 2; i++)
    if (g->strides[i] < 1 || g->dilations[i] < 1 || g->strides[i] > 1 << 16 || g->dilations[i] > 1 << 16)
      return vrt__err(VRT_EPARSE, "node '%s' (%s): bad strides or dilations", n->name, n->op);
  if (tfjs_attr_str(n, "padding", pad, sizeof pad) < 0)
    return vrt__err(VRT_EPARSE, "node '%s' (%s): no padding attribute", n->name, n->op);
  if (!strcmp(pad, "SAME")) {
    g->auto_pad = "SAME_UPPER";
  } else if (!strcmp(pad, "VALID")) {
    g->auto_pad = "VALID";
  } else if (!strcmp(pad, "EXPLICIT")) {
    if (tfjs_attr_ints(n, "explicit_paddings", v, 8) != 8)
      return vrt__err(VRT_EPARSE, "node '%s' (%s): explicit_paddings must have 8 values", n->name, n->op);
    g->pads[0] = v[2 * hi], g->pads[1] = v[2 * wi], g->pads[2] = v[2 * hi + 1], g->pads[3] = v[2 * wi + 1];
    for (int i = 0; i < 4; i++)
      if (g->pads[i] < 0 || g->pads[i] > 1 << 16) return vrt__err(VRT_EPARSE, "node '%s': bad explicit padding", n->name);
  } else {
    return vrt__err(VRT_EUNSUPPORTED, "node '%s' (%s): padding '%s'", n->name, n->op, pad);
  }
  return 0;
}

static int set_geom(vrt_node *nd, const conv_geom *g) {
  int rc;
  if ((rc = vrt_node_set_int(nd, "vrt_layout", g->nchw ? 0 : 1)) || (rc = vrt_node_set_ints(nd, "strides", g->strides, 2)))
    return rc;
  if (g->auto_pad) return vrt_node_set_string(nd, "auto_pad", g->auto_pad);
  return vrt_node_set_ints(nd, "pads", g->pads, 4);
}

/* fused_ops of _FusedConv2D / FusedDepthwiseConv2dNative / _FusedMatMul:
 * [BiasAdd] then at most one activation. Fills the extra IR inputs (bias at
 * ins[2], Prelu alpha at ins[3]) and the vrt_act name. */
typedef struct fused {
  int bias, alpha;
  char act[32];
  float act_alpha;
} fused;

static int read_fused(tfjs_ctx *c, const tfjs_node *n, fused *f) {
  char op[32];
  int arg = 2, rc;
  f->bias = f->alpha = -1;
  f->act[0] = 0;
  f->act_alpha = tfjs_attr_float(n, "leakyrelu_alpha", 0.2f);
  for (int i = 0; tfjs_attr_list_str(n, "fused_ops", i, op, sizeof op) >= 0; i++) {
    if (i > 1) return vrt__err(VRT_EUNSUPPORTED, "node '%s' (%s): more than two fused ops", n->name, n->op);
    if (!strcmp(op, "BiasAdd") && i == 0) {
      if ((rc = tfjs_input(c, n, arg++, &f->bias))) return rc;
    } else if (!strcmp(op, "Relu") || !strcmp(op, "Relu6") || !strcmp(op, "Elu") || !strcmp(op, "Sigmoid") ||
               !strcmp(op, "Tanh") || !strcmp(op, "LeakyRelu")) {
      snprintf(f->act, sizeof f->act, "%s", op);
    } else if (!strcmp(op, "Prelu")) {
      snprintf(f->act, sizeof f->act, "Prelu");
      if ((rc = tfjs_input(c, n, arg++, &f->alpha))) return rc;
    } else {
      return vrt__err(VRT_EUNSUPPORTED, "node '%s' (%s): fused op '%s'", n->name, n->op, op);
    }
  }
  if (!strcmp(f->act, "Elu")) f->act_alpha = 1.0f;
  return 0;
}

static int set_fused(vrt_node *nd, const fused *f) {
  int rc = 0;
  if (f->act[0] && (rc = vrt_node_set_string(nd, "vrt_act", f->act))) return rc;
  if (!strcmp(f->act, "LeakyRelu") || !strcmp(f->act, "Elu")) rc = vrt_node_set_float(nd, "vrt_act_alpha", f->act_alpha);
  return rc;
}

static int lower_conv(tfjs_ctx *c, const tfjs_node *n, const lower_rule *r) {
  (void)r;
  bool dw = strstr(n->op, "Depthwise") != NULL;
  const vrt_tensor *f;
  conv_geom g;
  fused fu;
  int rc, x;
  if ((rc = read_geom(n, false, &g)) || (rc = tfjs_input(c, n, 0, &x)) || (rc = tfjs_input_const(c, n, 1, &f)))
    return rc;
  if (f->ndim != 4 || f->dtype != VRT_F32)
    return vrt__err(VRT_ESHAPE, "node '%s' (%s): filter must be a 4-D float32 constant", n->name, n->op);
  int64_t kh = f->dims[0], kw = f->dims[1], ci = f->dims[2], co = f->dims[3];
  if (kh < 1 || kw < 1 || ci < 1 || co < 1) return vrt__err(VRT_ESHAPE, "node '%s' (%s): empty filter", n->name, n->op);
  int64_t wdims[4] = {dw ? ci * co : co, dw ? 1 : ci, kh, kw};
  const float *src = f->data;
  float *w = malloc(f->nbytes);
  if (!w) return vrt__err(VRT_ENOMEM, "out of memory");
  /* HWIO -> OIHW; depthwise [kh,kw,C,mult] -> [C*mult,1,kh,kw] is the same
   * formula with O = c*mult+m and one input channel per group. */
  for (int64_t i = 0; i < kh; i++)
    for (int64_t j = 0; j < kw; j++)
      for (int64_t a = 0; a < ci; a++)
        for (int64_t b = 0; b < co; b++) {
          float v = src[((i * kw + j) * ci + a) * co + b];
          if (dw)
            w[((a * co + b) * kh + i) * kw + j] = v;
          else
            w[((b * ci + a) * kh + i) * kw + j] = v;
        }
  char nm[1100];
  snprintf(nm, sizeof nm, "%s/vrt_filter_oihw", n->name);
  int wv = vrt_graph_add_const(c->g, nm, VRT_F32, 4, wdims, w, f->nbytes, false);
  if (wv < 0) return wv;
  tfjs_release_const(c, n, 1); /* the HWIO original, when nothing else reads it */
  if ((rc = read_fused(c, n, &fu))) return rc;
  int ins[4] = {x, wv, fu.bias, fu.alpha}, out;
  int nin = fu.alpha >= 0 ? 4 : fu.bias >= 0 ? 3 : 2;
  int ni = emit1(c, VRT_OP_Conv, n, NULL, ins, nin, &out);
  if (ni < 0) return ni;
  vrt_node *nd = node_at(c, ni);
  int64_t ks[2] = {kh, kw};
  if ((rc = set_geom(nd, &g)) || (rc = vrt_node_set_ints(nd, "dilations", g.dilations, 2)) ||
      (rc = vrt_node_set_ints(nd, "kernel_shape", ks, 2)) || (rc = vrt_node_set_int(nd, "group", dw ? ci : 1)))
    return rc;
  return set_fused(nd, &fu);
}

static int lower_pool(tfjs_ctx *c, const tfjs_node *n, const lower_rule *r) {
  conv_geom g;
  int rc, x, out;
  if ((rc = read_geom(n, true, &g)) || (rc = tfjs_input(c, n, 0, &x))) return rc;
  int ni = emit1(c, r->op, n, NULL, &x, 1, &out);
  if (ni < 0) return ni;
  vrt_node *nd = node_at(c, ni);
  if ((rc = set_geom(nd, &g)) || (rc = vrt_node_set_ints(nd, "kernel_shape", g.ksize, 2))) return rc;
  return r->op == VRT_OP_AveragePool ? vrt_node_set_int(nd, "count_include_pad", 0) : 0;
}

static int lower_matmul(tfjs_ctx *c, const tfjs_node *n, const lower_rule *r) {
  (void)r;
  fused fu = {.bias = -1, .alpha = -1};
  int ins[4], rc, out;
  if ((rc = tfjs_input(c, n, 0, &ins[0])) || (rc = tfjs_input(c, n, 1, &ins[1]))) return rc;
  if (!strcmp(n->op, "_FusedMatMul") && (rc = read_fused(c, n, &fu))) return rc;
  ins[2] = fu.bias, ins[3] = fu.alpha;
  int nin = fu.alpha >= 0 ? 4 : fu.bias >= 0 ? 3 : 2;
  int ni = emit1(c, VRT_OP_Gemm, n, NULL, ins, nin, &out);
  if (ni < 0) return ni;
  vrt_node *nd = node_at(c, ni);
  if ((rc = vrt_node_set_int(nd, "transA", tfjs_attr_bool(n, "transpose_a", 0))) ||
      (rc = vrt_node_set_int(nd, "transB", tfjs_attr_bool(n, "transpose_b", 0))))
    return rc;
  return set_fused(nd, &fu);
}

static int lower_resize(tfjs_ctx *c, const tfjs_node *n, const lower_rule *r) {
  (void)r;
  int ins[4] = {-1, -1, -1, -1}, rc, out;
  bool nearest = !strcmp(n->op, "ResizeNearestNeighbor");
  if ((rc = tfjs_input(c, n, 0, &ins[0])) || (rc = idx_input(c, n, 1, true, &ins[3]))) return rc;
  int ni = emit1(c, VRT_OP_Resize, n, NULL, ins, 4, &out);
  if (ni < 0) return ni;
  vrt_node *nd = node_at(c, ni);
  int64_t axes[2] = {1, 2};
  bool hp = tfjs_attr_bool(n, "half_pixel_centers", 0), ac = tfjs_attr_bool(n, "align_corners", 0);
  const char *ct = ac ? "align_corners" : hp ? (nearest ? "tf_half_pixel_for_nn" : "half_pixel") : "asymmetric";
  if ((rc = vrt_node_set_ints(nd, "axes", axes, 2)) || (rc = vrt_node_set_string(nd, "mode", nearest ? "nearest" : "linear")) ||
      (rc = vrt_node_set_string(nd, "coordinate_transformation_mode", ct)))
    return rc;
  return nearest ? vrt_node_set_string(nd, "nearest_mode", ac ? "round_prefer_ceil" : "floor") : 0;
}

/* ---- shape and data movement ------------------------------------------------ */

static int lower_concat(tfjs_ctx *c, const tfjs_node *n, const lower_rule *r) {
  (void)r;
  int64_t axis;
  int cnt, rc, out;
  if (n->nin < 2) return vrt__err(VRT_EGRAPH, "node '%s' (ConcatV2): needs values and an axis", n->name);
  if ((rc = const_ints(c, n, n->nin - 1, &axis, 1, &cnt))) return rc;
  if (cnt != 1) return vrt__err(VRT_EPARSE, "node '%s' (ConcatV2): axis must be a scalar", n->name);
  int *ins = malloc(sizeof(int) * (size_t)n->nin);
  if (!ins) return vrt__err(VRT_ENOMEM, "out of memory");
  for (int k = 0; k < n->nin - 1 && !rc; k++) rc = tfjs_input(c, n, k, &ins[k]);
  int ni = rc ? rc : emit1(c, VRT_OP_Concat, n, NULL, ins, n->nin - 1, &out);
  free(ins);
  return ni < 0 ? ni : vrt_node_set_int(node_at(c, ni), "axis", axis);
}

static int lower_pack(tfjs_ctx *c, const tfjs_node *n, const lower_rule *r) {
  (void)r;
  int64_t axis = tfjs_attr_int(n, "axis", 0);
  int rc = 0, out;
  if (n->nin < 1) return vrt__err(VRT_EGRAPH, "node '%s' (Pack): no inputs", n->name);
  int ax = const_i64(c, n, "axes", &axis, 1);
  if (ax < 0) return ax;
  int *parts = malloc(sizeof(int) * (size_t)n->nin);
  if (!parts) return vrt__err(VRT_ENOMEM, "out of memory");
  for (int k = 0; k < n->nin && !rc; k++) {
    char sfx[32];
    int ins[2];
    snprintf(sfx, sizeof sfx, "unsqueeze%d", k);
    if ((rc = tfjs_input(c, n, k, &ins[0]))) break;
    ins[1] = ax;
    int ni = emit1(c, VRT_OP_Unsqueeze, n, sfx, ins, 2, &parts[k]);
    if (ni < 0) rc = ni;
  }
  int ni = rc ? rc : emit1(c, VRT_OP_Concat, n, NULL, parts, n->nin, &out);
  free(parts);
  return ni < 0 ? ni : vrt_node_set_int(node_at(c, ni), "axis", axis);
}

static int lower_unpack(tfjs_ctx *c, const tfjs_node *n, const lower_rule *r) {
  (void)r;
  int64_t axis = tfjs_attr_int(n, "axis", 0), num = tfjs_attr_int(n, "num", 0);
  int x, rc;
  if (num < 1 || num > MAX_OUTS) return vrt__err(VRT_EPARSE, "node '%s' (Unpack): num is %lld", n->name, (long long)num);
  if ((rc = tfjs_input(c, n, 0, &x))) return rc;
  int64_t *ones = malloc(sizeof(int64_t) * (size_t)num);
  int *parts = malloc(sizeof(int) * (size_t)num);
  if (!ones || !parts) {
    free(ones), free(parts);
    return vrt__err(VRT_ENOMEM, "out of memory");
  }
  for (int64_t i = 0; i < num; i++) ones[i] = 1;
  int sp = const_i64(c, n, "ones", ones, (int)num);
  int ax = sp < 0 ? sp : const_i64(c, n, "axes", &axis, 1);
  char base[1100];
  snprintf(base, sizeof base, "%s/vrt_split", n->name);
  int ins[2] = {x, sp};
  rc = ax < 0 ? ax : emit(c, VRT_OP_Split, base, n->op, ins, 2, (int)num, parts);
  if (rc >= 0) rc = vrt_node_set_int(node_at(c, rc), "axis", axis);
  for (int64_t i = 0; i < num && rc >= 0; i++) {
    int sq[2] = {parts[i], ax}, out;
    snprintf(base, sizeof base, i ? "%s:%lld" : "%s", n->name, (long long)i);
    rc = emit(c, VRT_OP_Squeeze, base, n->op, sq, 2, 1, &out);
    if (rc >= 0) rc = tfjs_bind(c, n->name, (int)i, out);
  }
  free(ones), free(parts);
  return rc < 0 ? rc : 0;
}

static int lower_splitv(tfjs_ctx *c, const tfjs_node *n, const lower_rule *r) {
  (void)r;
  int64_t sizes[MAX_OUTS], axis;
  int cnt, acnt, x, rc;
  if ((rc = tfjs_input(c, n, 0, &x)) || (rc = const_ints(c, n, 1, sizes, MAX_OUTS, &cnt)) ||
      (rc = const_ints(c, n, 2, &axis, 1, &acnt)))
    return rc;
  if (cnt < 1 || acnt != 1) return vrt__err(VRT_EPARSE, "node '%s' (SplitV): bad size_splits or axis", n->name);
  int unknown = -1;
  for (int i = 0; i < cnt; i++) {
    if (sizes[i] == -1 && unknown < 0)
      unknown = i;
    else if (sizes[i] < 0)
      return vrt__err(VRT_EPARSE, "node '%s' (SplitV): bad size %lld", n->name, (long long)sizes[i]);
  }
  int parts[MAX_OUTS];
  if (unknown < 0) {
    int sp = const_i64(c, n, "split", sizes, cnt);
    if (sp < 0) return sp;
    int ins[2] = {x, sp};
    int ni = emit(c, VRT_OP_Split, n->name, n->op, ins, 2, cnt, parts);
    if (ni < 0 || (rc = vrt_node_set_int(node_at(c, ni), "axis", axis))) return ni < 0 ? ni : rc;
    for (int i = 0; i < cnt; i++)
      if ((rc = tfjs_bind(c, n->name, i, parts[i]))) return rc;
    return 0;
  }
  /* A -1 size: slice each part, counting from the front before the unknown
   * part and from the back after it, so no input shape is needed. */
  int64_t before = 0, after = 0;
  for (int i = 0; i < cnt; i++)
    if (i < unknown) before += sizes[i];
    else if (i > unknown) after += sizes[i];
  int axv = const_i64(c, n, "axes", &axis, 1);
  if (axv < 0) return axv;
  int64_t pos = 0, rest = after;
  for (int i = 0; i < cnt; i++) {
    int64_t st, en;
    if (i < unknown) {
      st = pos, en = pos + sizes[i], pos = en;
    } else if (i == unknown) {
      st = before, en = after ? -after : INT64_MAX;
    } else {
      st = -rest, rest -= sizes[i], en = rest ? -rest : INT64_MAX;
    }
    char sfx[48], base[1100];
    snprintf(sfx, sizeof sfx, "start%d", i);
    int sv = const_i64(c, n, sfx, &st, 1);
    snprintf(sfx, sizeof sfx, "end%d", i);
    int ev = sv < 0 ? sv : const_i64(c, n, sfx, &en, 1);
    if (ev < 0) return ev;
    int ins[4] = {x, sv, ev, axv}, out;
    snprintf(base, sizeof base, i ? "%s:%d" : "%s", n->name, i);
    int ni = emit(c, VRT_OP_Slice, base, n->op, ins, 4, 1, &out);
    if (ni < 0 || (rc = tfjs_bind(c, n->name, i, out))) return ni < 0 ? ni : rc;
  }
  return 0;
}

static int lower_strided_slice(tfjs_ctx *c, const tfjs_node *n, const lower_rule *r) {
  (void)r;
  int ins[4], rc, out;
  if ((rc = tfjs_input(c, n, 0, &ins[0]))) return rc;
  for (int k = 1; k < 4; k++)
    if ((rc = idx_input(c, n, k, true, &ins[k]))) return rc;
  int ni = emit1(c, VRT_OP_StridedSlice, n, NULL, ins, 4, &out);
  if (ni < 0) return ni;
  static const char *masks[] = {"begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask"};
  for (int i = 0; i < 5; i++)
    if ((rc = vrt_node_set_int(node_at(c, ni), masks[i], tfjs_attr_int(n, masks[i], 0)))) return rc;
  return 0;
}

/* IR op reading x and the node's integer second input (axes, shape,
 * multiples) as int64. Returns the node index or <0. */
static int emit_with_index(tfjs_ctx *c, const tfjs_node *n, int op) {
  int ins[2], rc, out;
  if ((rc = tfjs_input(c, n, 0, &ins[0])) || (rc = idx_input(c, n, 1, true, &ins[1]))) return rc;
  return emit1(c, op, n, NULL, ins, 2, &out);
}

/* ExpandDims, Tile: the row's IR op, no attributes */
static int lower_with_index(tfjs_ctx *c, const tfjs_node *n, const lower_rule *r) {
  int ni = emit_with_index(c, n, r->op);
  return ni < 0 ? ni : 0;
}

static int lower_squeeze(tfjs_ctx *c, const tfjs_node *n, const lower_rule *r) {
  (void)r;
  int64_t axes[VRT_MAX_DIMS];
  int ins[2] = {-1, -1}, rc, out;
  int cnt = tfjs_attr_ints(n, "squeeze_dims", axes, VRT_MAX_DIMS);
  if (cnt < 0) return vrt__err(VRT_EPARSE, "node '%s' (Squeeze): bad squeeze_dims", n->name);
  if ((rc = tfjs_input(c, n, 0, &ins[0]))) return rc;
  if (cnt > 0 && (ins[1] = const_i64(c, n, "axes", axes, cnt)) < 0) return ins[1];
  return (rc = emit1(c, VRT_OP_Squeeze, n, NULL, ins, cnt > 0 ? 2 : 1, &out)) < 0 ? rc : 0;
}

static int lower_reshape(tfjs_ctx *c, const tfjs_node *n, const lower_rule *r) {
  (void)r;
  int ni = emit_with_index(c, n, VRT_OP_Reshape);
  return ni < 0 ? ni : vrt_node_set_int(node_at(c, ni), "allowzero", 1);
}

static int lower_transpose(tfjs_ctx *c, const tfjs_node *n, const lower_rule *r) {
  (void)r;
  int64_t perm[VRT_MAX_DIMS];
  int cnt, x, rc, out;
  if ((rc = tfjs_input(c, n, 0, &x)) || (rc = const_ints(c, n, 1, perm, VRT_MAX_DIMS, &cnt))) return rc;
  int ni = emit1(c, VRT_OP_Transpose, n, NULL, &x, 1, &out);
  return ni < 0 ? ni : vrt_node_set_ints(node_at(c, ni), "perm", perm, cnt);
}

static int lower_pad(tfjs_ctx *c, const tfjs_node *n, const lower_rule *r) {
  (void)r;
  int64_t p[2 * VRT_MAX_DIMS], pads[2 * VRT_MAX_DIMS];
  int cnt, ins[3] = {-1, -1, -1}, rc, out;
  if ((rc = tfjs_input(c, n, 0, &ins[0])) || (rc = const_ints(c, n, 1, p, 2 * VRT_MAX_DIMS, &cnt))) return rc;
  if (cnt % 2) return vrt__err(VRT_EPARSE, "node '%s' (%s): paddings must be [rank, 2]", n->name, n->op);
  int rank = cnt / 2;
  for (int i = 0; i < rank; i++) pads[i] = p[2 * i], pads[rank + i] = p[2 * i + 1];
  if ((ins[1] = const_i64(c, n, "pads", pads, cnt)) < 0) return ins[1];
  const char *mode = "constant";
  if (!strcmp(n->op, "PadV2") && (rc = tfjs_input(c, n, 2, &ins[2]))) return rc;
  if (!strcmp(n->op, "MirrorPad")) {
    char m[16];
    if (tfjs_attr_str(n, "mode", m, sizeof m) < 0 || strcmp(m, "REFLECT"))
      return vrt__err(VRT_EUNSUPPORTED, "node '%s' (MirrorPad): only REFLECT mode", n->name);
    mode = "reflect";
  }
  int ni = emit1(c, VRT_OP_Pad, n, NULL, ins, ins[2] >= 0 ? 3 : 2, &out);
  return ni < 0 ? ni : vrt_node_set_string(node_at(c, ni), "mode", mode);
}

static int lower_reduce(tfjs_ctx *c, const tfjs_node *n, const lower_rule *r) {
  int rc, ni = emit_with_index(c, n, r->op);
  if (ni < 0) return ni;
  if ((rc = vrt_node_set_int(node_at(c, ni), "keepdims", tfjs_attr_bool(n, "keep_dims", 0)))) return rc;
  return vrt_node_set_int(node_at(c, ni), "noop_with_empty_axes", 1);
}

static int lower_argmax(tfjs_ctx *c, const tfjs_node *n, const lower_rule *r) {
  int64_t axis;
  int cnt, x, rc, idx, out;
  if ((rc = tfjs_input(c, n, 0, &x)) || (rc = const_ints(c, n, 1, &axis, 1, &cnt))) return rc;
  if (cnt != 1) return vrt__err(VRT_EPARSE, "node '%s' (%s): axis must be a scalar", n->name, n->op);
  int ni = emit1(c, r->op, n, "i64", &x, 1, &idx);
  if (ni < 0 || (rc = vrt_node_set_int(node_at(c, ni), "axis", axis)) ||
      (rc = vrt_node_set_int(node_at(c, ni), "keepdims", 0)))
    return ni < 0 ? ni : rc;
  ni = emit1(c, VRT_OP_Cast, n, NULL, &idx, 1, &out);
  return ni < 0 ? ni : vrt_node_set_int(node_at(c, ni), "to", VRT_I32);
}

static int lower_topk(tfjs_ctx *c, const tfjs_node *n, const lower_rule *r) {
  (void)r;
  int ins[2], rc, outs[2], idx;
  if ((rc = tfjs_input(c, n, 0, &ins[0])) || (rc = idx_input(c, n, 1, true, &ins[1]))) return rc;
  char base[1100];
  snprintf(base, sizeof base, "%s/vrt_topk", n->name);
  int ni = emit(c, VRT_OP_TopK, base, n->op, ins, 2, 2, outs);
  if (ni < 0) return ni;
  vrt_node *nd = node_at(c, ni);
  if ((rc = vrt_node_set_int(nd, "axis", -1)) || (rc = vrt_node_set_int(nd, "largest", 1)) ||
      (rc = vrt_node_set_int(nd, "sorted", 1)) || (rc = tfjs_bind(c, n->name, 0, outs[0])))
    return rc;
  snprintf(base, sizeof base, "%s:1", n->name);
  if ((ni = emit(c, VRT_OP_Cast, base, n->op, &outs[1], 1, 1, &idx)) < 0) return ni;
  if ((rc = vrt_node_set_int(node_at(c, ni), "to", VRT_I32))) return rc;
  return tfjs_bind(c, n->name, 1, idx);
}

static int lower_gather(tfjs_ctx *c, const tfjs_node *n, const lower_rule *r) {
  (void)r;
  int64_t axis = 0;
  int ins[2], cnt, rc, out;
  if (tfjs_attr_int(n, "batch_dims", 0) != 0)
    return vrt__err(VRT_EUNSUPPORTED, "node '%s' (GatherV2): batch_dims != 0", n->name);
  if ((rc = tfjs_input(c, n, 0, &ins[0])) || (rc = tfjs_input(c, n, 1, &ins[1]))) return rc;
  if (n->nin > 2 && (rc = const_ints(c, n, 2, &axis, 1, &cnt))) return rc;
  int ni = emit1(c, VRT_OP_Gather, n, NULL, ins, 2, &out);
  return ni < 0 ? ni : vrt_node_set_int(node_at(c, ni), "axis", axis);
}

static int lower_shape(tfjs_ctx *c, const tfjs_node *n, const lower_rule *r) {
  (void)r;
  int x, s, out, rc;
  if ((rc = tfjs_input(c, n, 0, &x))) return rc;
  if ((rc = emit1(c, VRT_OP_Shape, n, "shape", &x, 1, &s)) < 0) return rc;
  int ni = emit1(c, VRT_OP_Cast, n, NULL, &s, 1, &out);
  return ni < 0 ? ni : vrt_node_set_int(node_at(c, ni), "to", VRT_I32);
}

/* The table: TF op type -> lowering, one row per tfjs_ops.def line. */
static const lower_rule rules[] = {
#define X(tf, fn, op) {#tf, lower_##fn, op},
#include "tfjs_ops.def"
#undef X
};

static const lower_rule *find_rule(const char *op) {
  for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
    if (!strcmp(rules[i].tf, op)) return &rules[i];
  return NULL;
}

int tfjs_lower_node(tfjs_ctx *c, const tfjs_node *n) {
  const lower_rule *r = find_rule(n->op);
  if (!r) return vrt__err(VRT_EUNSUPPORTED, "node '%s': unsupported TF.js op '%s'", n->name, n->op);
  return r->fn(c, n, r);
}
