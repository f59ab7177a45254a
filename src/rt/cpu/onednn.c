/* The oneDNN backend: Conv (plain, grouped, depthwise; NCHW and NHWC) and
 * ConvTranspose through oneDNN 2.6 primitives, with bias, activation and a
 * residual Add fused as post-ops.
 *
 * Why primitives and not dnnl_sgemm. The reference path of nn_conv.c runs
 * im2col + sgemm on plain tensors: it writes a K-times larger copy of the
 * input, runs a GEMM whose shape suits neither small-channel nor depthwise
 * convolutions, then sweeps the output again for bias and activation. A
 * oneDNN convolution primitive is a JIT kernel generated for one shape and
 * this CPU's ISA (AVX-512, AMX), reading the input in place and applying
 * bias, activation and the residual sum while the output tile is still in
 * registers. The price is state: a primitive is built for one set of shapes.
 *
 * Where the state lives. A model is loaded once and shared read-only by
 * every session (one per thread); a session caches one plan per set of input
 * shapes (exec.c). So:
 *   - primitives, memory objects and the stream are per session and per plan
 *     (the kernel state below), built when the plan is made; executing them
 *     needs no lock;
 *   - weights are reordered into the primitive's preferred blocked layout
 *     (format_tag::any) once per model, through vrt__model_pack (keyed by
 *     node and the packed layout, under the model's lock), and shared by every
 *     session. Packing happens at the first plan, not at load, so load time
 *     stays what it was.
 *
 * Layouts. NHWC graphs (TF.js) run on plain nhwc tensors, which oneDNN's
 * AVX-512 kernels read directly. NCHW graphs (ONNX) let the primitive pick
 * its source and destination layout (nChw16c and friends); the input is
 * reordered in and the output out around the primitive, in per-session
 * scratch. The weights never are: they are packed once.
 *
 * Refusals. supports_op is a cheap filter (dtype, rank, constant weights,
 * activation kinds oneDNN has); whatever oneDNN itself refuses when the
 * primitive descriptor is created makes plan return <0, and the node runs on
 * the reference kernel with one log line (backend.c).
 *
 * Threads. This oneDNN is built on OpenMP: each execution uses the calling
 * thread's OpenMP team size, which nn_set_threads sets to the session's
 * thread count before every primitive runs. */
#include <dnnl.h>
#include <dnnl_debug.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "nn.h"

static dnnl_engine_t engine;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;

static void engine_init(void) {
  if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success) engine = NULL;
}

static dnnl_engine_t get_engine(void) {
  pthread_once(&engine_once, engine_init);
  return engine;
}

#define DN_TRY(call, what)                                                                 \
  do {                                                                                     \
    dnnl_status_t st_ = (call);                                                            \
    if (st_ != dnnl_success) {                                                             \
      rc = NN_ERR(rq->n, VRT_EUNSUPPORTED, "oneDNN %s: %s", what, dnnl_status2str(st_)); \
      goto fail;                                                                           \
    }                                                                                      \
  } while (0)

/* ---- post-ops ------------------------------------------------------------ */

/* oneDNN eltwise algorithm for a fused activation; false when it has none. */
static bool act_alg(const nn_act *a, dnnl_alg_kind_t *alg, float *alpha, float *beta) {
  *alpha = 0;
  *beta = 0;
  switch (a->kind) {
    case NN_ACT_RELU: *alg = dnnl_eltwise_relu; return true;
    case NN_ACT_LEAKY: *alg = dnnl_eltwise_relu, *alpha = a->alpha; return true;
    case NN_ACT_RELU6: *alg = dnnl_eltwise_clip, *beta = 6; return true;
    case NN_ACT_CLIP: *alg = dnnl_eltwise_clip_v2, *alpha = a->alpha, *beta = a->beta; return true;
    case NN_ACT_SIGMOID: *alg = dnnl_eltwise_logistic; return true;
    case NN_ACT_TANH: *alg = dnnl_eltwise_tanh; return true;
    case NN_ACT_ELU: *alg = dnnl_eltwise_elu, *alpha = a->alpha; return true;
    case NN_ACT_HARDSWISH: *alg = dnnl_eltwise_hardswish; return true;
    case NN_ACT_SILU: *alg = dnnl_eltwise_swish, *alpha = 1; return true;
    case NN_ACT_GELU: *alg = dnnl_eltwise_gelu_erf; return true;
    default: return false;
  }
}

/* ---- convolution and deconvolution --------------------------------------- */

typedef struct dn_conv {
  dnnl_stream_t stream;
  dnnl_primitive_t prim;
  dnnl_primitive_t r_src, r_dst, r_res; /* plain <-> primitive layout; NULL when plain */
  dnnl_memory_t m_src_user, m_src, m_w, m_b, m_dst, m_dst_user, m_res_user;
  size_t src_bytes, dst_bytes; /* scratch for the primitive's own layouts */
  const void *w;               /* packed weights, owned by the model */
  bool residual;
} dn_conv;

static void conv_release(void *state) {
  dn_conv *c = state;
  if (!c) return;
  dnnl_primitive_t prims[] = {c->prim, c->r_src, c->r_dst, c->r_res};
  for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++)
    if (prims[i]) dnnl_primitive_destroy(prims[i]);
  dnnl_memory_t mems[] = {c->m_src_user, c->m_src, c->m_w, c->m_b, c->m_dst, c->m_dst_user, c->m_res_user};
  for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
    if (mems[i]) dnnl_memory_destroy(mems[i]);
  if (c->stream) dnnl_stream_destroy(c->stream);
  free(c);
}

static bool is_const(const vrt_kernel_req *rq, int k) {
  return k < rq->nin && rq->in[k] && rq->n->in[k] >= 0 && (rq->g->values[rq->n->in[k]].flags & VRT_VAL_CONST) &&
         rq->in[k]->data;
}

static bool conv_supports(const vrt_kernel_req *rq) {
  const vrt_node *n = rq->n;
  if (n->op != VRT_OP_Conv && n->op != VRT_OP_ConvTranspose) return false;
  const nn_conv_params *p = n->params;
  if (!p || rq->in[0]->dtype != VRT_F32 || rq->in[0]->ndim != 4 || !is_const(rq, 1)) return false;
  if (rq->nin > 2 && rq->in[2] && !is_const(rq, 2)) return false;
  if (n->op == VRT_OP_ConvTranspose && rq->nin > 4 && rq->in[4]) return false;
  dnnl_alg_kind_t alg;
  float a, b;
  return p->act.kind == NN_ACT_NONE || act_alg(&p->act, &alg, &a, &b);
}

typedef struct {
  const dnnl_memory_desc_t *user, *packed;
  const void *src;
} pack_ctx;

/* Reorder the constant weights into the primitive's layout (runs once per
 * model and layout, under the model's pack lock). */
static int pack_weights(void *ctx, void *dst) {
  pack_ctx *pc = ctx;
  dnnl_engine_t eng = get_engine();
  dnnl_primitive_desc_t pd = NULL;
  dnnl_primitive_t r = NULL;
  dnnl_memory_t ms = NULL, md = NULL;
  dnnl_stream_t st = NULL;
  int ok = dnnl_reorder_primitive_desc_create(&pd, pc->user, eng, pc->packed, eng, NULL) == dnnl_success &&
           dnnl_primitive_create(&r, pd) == dnnl_success &&
           dnnl_memory_create(&ms, pc->user, eng, (void *)pc->src) == dnnl_success &&
           dnnl_memory_create(&md, pc->packed, eng, dst) == dnnl_success &&
           dnnl_stream_create(&st, eng, dnnl_stream_default_flags) == dnnl_success;
  if (ok) {
    nn_set_threads(1);
    dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, ms}, {DNNL_ARG_TO, md}};
    ok = dnnl_primitive_execute(r, st, 2, args) == dnnl_success && dnnl_stream_wait(st) == dnnl_success;
  }
  if (st) dnnl_stream_destroy(st);
  if (md) dnnl_memory_destroy(md);
  if (ms) dnnl_memory_destroy(ms);
  if (r) dnnl_primitive_destroy(r);
  if (pd) dnnl_primitive_desc_destroy(pd);
  return ok ? 0 : vrt__err(VRT_EUNSUPPORTED, "oneDNN weights reorder failed");
}

/* The identity of a packed layout, field by field (a memory descriptor has
 * padding and unused union bytes, so it is not compared as raw bytes). */
static int md_key(const dnnl_memory_desc_t *md, int64_t *k) {
  int n = 0;
  k[n++] = md->ndims;
  k[n++] = md->data_type;
  k[n++] = md->format_kind;
  k[n++] = md->offset0;
  for (int i = 0; i < md->ndims; i++) k[n++] = md->dims[i], k[n++] = md->padded_dims[i];
  if (md->format_kind == dnnl_blocked) {
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    for (int i = 0; i < md->ndims; i++) k[n++] = b->strides[i];
    k[n++] = b->inner_nblks;
    for (int i = 0; i < b->inner_nblks; i++) k[n++] = b->inner_blks[i], k[n++] = b->inner_idxs[i];
  }
  k[n++] = md->extra.flags;
  return n;
}

/* A reorder primitive between two layouts of the same tensor, NULL when they
 * are the same. */
static int make_reorder(const vrt_kernel_req *rq, const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to,
                        dnnl_primitive_t *out) {
  int rc = 0;
  dnnl_primitive_desc_t pd = NULL;
  *out = NULL;
  if (dnnl_memory_desc_equal(from, to)) return 0;
  DN_TRY(dnnl_reorder_primitive_desc_create(&pd, from, get_engine(), to, get_engine(), NULL), "reorder");
  DN_TRY(dnnl_primitive_create(out, pd), "reorder primitive");
fail:
  if (pd) dnnl_primitive_desc_destroy(pd);
  return rc;
}

static int conv_plan(const vrt_kernel_req *rq, void **state) {
  const vrt_node *n = rq->n;
  const nn_conv_params *p = n->params;
  bool deconv = n->op == VRT_OP_ConvTranspose;
  nn_geom g;
  int rc = deconv ? nn_convt_geom(n, p, rq->in[0], rq->in[1], &g) : nn_conv_geom(n, p, rq->in[0], rq->in[1], &g);
  if (rc) return rc;
  dnnl_engine_t eng = get_engine();
  if (!eng) return NN_ERR(n, VRT_EUNSUPPORTED, "no oneDNN CPU engine");
  dn_conv *c = calloc(1, sizeof *c);
  if (!c) return NN_ERR(n, VRT_ENOMEM, "out of memory");
  dnnl_primitive_attr_t attr = NULL;
  dnnl_post_ops_t po = NULL;
  dnnl_primitive_desc_t pd = NULL;

  int64_t C = g.C, M = g.M, G = g.group;
  dnnl_dims_t sd = {g.N, C, g.in[1], g.in[2]}, dd = {g.N, M, g.out[1], g.out[2]};
  dnnl_dims_t strides = {g.s[1], g.s[2]}, dil = {g.d[1] - 1, g.d[2] - 1}, pl = {g.pb[1], g.pb[2]},
              pr = {g.pe[1], g.pe[2]};
  if (deconv) { /* oneDNN derives the output size; make the right padding agree with ours */
    for (int i = 0; i < 2; i++) {
      int64_t full = (g.in[1 + i] - 1) * g.s[1 + i] + (g.k[1 + i] - 1) * g.d[1 + i] + 1;
      pr[i] = full - g.out[1 + i] - g.pb[1 + i];
      if (pr[i] < 0) {
        rc = NN_ERR(n, VRT_EUNSUPPORTED, "output padding beyond the kernel is not mapped to oneDNN");
        goto fail;
      }
    }
  }
  /* Weights as ONNX stores them: Conv [M, C/G, kh, kw]; ConvTranspose
   * [C, M/G, kh, kw], i.e. (g, o, i) dims stored i-major. */
  dnnl_memory_desc_t md_src_user, md_dst_user, md_w_user, md_b, md_src_any, md_dst_any, md_w_any;
  dnnl_format_tag_t plain = p->layout ? dnnl_nhwc : dnnl_nchw;
  DN_TRY(dnnl_memory_desc_init_by_tag(&md_src_user, 4, sd, dnnl_f32, plain), "src desc");
  DN_TRY(dnnl_memory_desc_init_by_tag(&md_dst_user, 4, dd, dnnl_f32, plain), "dst desc");
  if (G == 1) {
    dnnl_dims_t wd = {M, C, g.k[1], g.k[2]};
    DN_TRY(dnnl_memory_desc_init_by_tag(&md_w_user, 4, wd, dnnl_f32, deconv ? dnnl_iohw : dnnl_oihw), "w desc");
    DN_TRY(dnnl_memory_desc_init_by_tag(&md_w_any, 4, wd, dnnl_f32, dnnl_format_tag_any), "w desc");
  } else {
    dnnl_dims_t wd = {G, M / G, C / G, g.k[1], g.k[2]};
    DN_TRY(dnnl_memory_desc_init_by_tag(&md_w_user, 5, wd, dnnl_f32, deconv ? dnnl_giohw : dnnl_goihw), "w desc");
    DN_TRY(dnnl_memory_desc_init_by_tag(&md_w_any, 5, wd, dnnl_f32, dnnl_format_tag_any), "w desc");
  }
  dnnl_dims_t bd = {M};
  DN_TRY(dnnl_memory_desc_init_by_tag(&md_b, 1, bd, dnnl_f32, dnnl_x), "bias desc");
  dnnl_format_tag_t io = p->layout ? dnnl_nhwc : dnnl_format_tag_any;
  DN_TRY(dnnl_memory_desc_init_by_tag(&md_src_any, 4, sd, dnnl_f32, io), "src desc");
  DN_TRY(dnnl_memory_desc_init_by_tag(&md_dst_any, 4, dd, dnnl_f32, io), "dst desc");
  bool bias = rq->nin > 2 && rq->in[2];
  c->residual = rq->nin > 4 && rq->in[4];

  DN_TRY(dnnl_primitive_attr_create(&attr), "attr");
  DN_TRY(dnnl_post_ops_create(&po), "post-ops");
  if (c->residual) DN_TRY(dnnl_post_ops_append_sum(po, 1.0f), "sum post-op");
  dnnl_alg_kind_t alg;
  float alpha, beta;
  if (p->act.kind != NN_ACT_NONE && act_alg(&p->act, &alg, &alpha, &beta))
    DN_TRY(dnnl_post_ops_append_eltwise(po, 1.0f, alg, alpha, beta), "eltwise post-op");
  DN_TRY(dnnl_primitive_attr_set_post_ops(attr, po), "set post-ops");
  if (deconv) {
    dnnl_deconvolution_desc_t cd;
    DN_TRY(dnnl_dilated_deconvolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_deconvolution_direct,
                                                        &md_src_any, &md_w_any, bias ? &md_b : NULL, &md_dst_any,
                                                        strides, dil, pl, pr),
           "deconvolution desc");
    DN_TRY(dnnl_primitive_desc_create(&pd, &cd, attr, eng, NULL), "deconvolution");
  } else {
    dnnl_convolution_desc_t cd;
    DN_TRY(dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct,
                                                      &md_src_any, &md_w_any, bias ? &md_b : NULL, &md_dst_any,
                                                      strides, dil, pl, pr),
           "convolution desc");
    DN_TRY(dnnl_primitive_desc_create(&pd, &cd, attr, eng, NULL), "convolution");
  }
  const dnnl_memory_desc_t *md_src = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
  const dnnl_memory_desc_t *md_dst = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
  const dnnl_memory_desc_t *md_w = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
  DN_TRY(dnnl_primitive_create(&c->prim, pd), "primitive");

  /* packed weights, shared by the model's sessions */
  int64_t key[128];
  int kl = md_key(md_w, key);
  pack_ctx pc = {&md_w_user, md_w, rq->in[1]->data};
  c->w = vrt__model_pack(rq->m, rq->node, key, sizeof(int64_t) * (size_t)kl, dnnl_memory_desc_get_size(md_w),
                         pack_weights, &pc);
  if (!c->w) {
    rc = VRT_EUNSUPPORTED;
    goto fail;
  }
  DN_TRY(dnnl_memory_create(&c->m_w, md_w, eng, (void *)c->w), "weights memory");
  if (bias) DN_TRY(dnnl_memory_create(&c->m_b, &md_b, eng, rq->in[2]->data), "bias memory");
  DN_TRY(dnnl_memory_create(&c->m_src_user, &md_src_user, eng, DNNL_MEMORY_NONE), "memory");
  DN_TRY(dnnl_memory_create(&c->m_dst_user, &md_dst_user, eng, DNNL_MEMORY_NONE), "memory");
  DN_TRY(dnnl_memory_create(&c->m_src, md_src, eng, DNNL_MEMORY_NONE), "memory");
  DN_TRY(dnnl_memory_create(&c->m_dst, md_dst, eng, DNNL_MEMORY_NONE), "memory");
  if ((rc = make_reorder(rq, &md_src_user, md_src, &c->r_src))) goto fail;
  if ((rc = make_reorder(rq, md_dst, &md_dst_user, &c->r_dst))) goto fail;
  if (c->r_dst && c->residual) {
    DN_TRY(dnnl_memory_create(&c->m_res_user, &md_dst_user, eng, DNNL_MEMORY_NONE), "memory");
    if ((rc = make_reorder(rq, &md_dst_user, md_dst, &c->r_res))) goto fail;
  }
  if (c->r_src) c->src_bytes = dnnl_memory_desc_get_size(md_src);
  if (c->r_dst) c->dst_bytes = dnnl_memory_desc_get_size(md_dst);
  DN_TRY(dnnl_stream_create(&c->stream, eng, dnnl_stream_default_flags), "stream");
  dnnl_primitive_desc_destroy(pd);
  dnnl_post_ops_destroy(po);
  dnnl_primitive_attr_destroy(attr);
  *state = c;
  return 0;
fail:
  if (pd) dnnl_primitive_desc_destroy(pd);
  if (po) dnnl_post_ops_destroy(po);
  if (attr) dnnl_primitive_attr_destroy(attr);
  conv_release(c);
  return rc < 0 ? rc : VRT_EUNSUPPORTED;
}

static int run(const vrt_node *n, dnnl_primitive_t prim, dnnl_stream_t st, int nargs, const dnnl_exec_arg_t *args) {
  dnnl_status_t s = dnnl_primitive_execute(prim, st, nargs, args);
  if (s == dnnl_success) s = dnnl_stream_wait(st);
  if (s != dnnl_success) return NN_ERR(n, VRT_EINVAL, "oneDNN execution failed: %s", dnnl_status2str(s));
  return 0;
}

static int conv_exec(void *state, const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out,
                     int nout, vrt_exec_ctx *x) {
  (void)nout;
  dn_conv *c = state;
  int rc = 0;
  nn_set_threads(x->threads);
  void *src = in[0]->data, *dst = out[0].data;
  if (c->r_src) {
    src = x->scratch(x, c->src_bytes);
    if (!src) return NN_ERR(n, VRT_ENOMEM, "out of memory for oneDNN source");
    dnnl_memory_set_data_handle(c->m_src_user, in[0]->data);
    dnnl_memory_set_data_handle(c->m_src, src);
    dnnl_exec_arg_t a[] = {{DNNL_ARG_FROM, c->m_src_user}, {DNNL_ARG_TO, c->m_src}};
    if ((rc = run(n, c->r_src, c->stream, 2, a))) return rc;
  }
  if (c->r_dst) {
    dst = x->scratch(x, c->dst_bytes);
    if (!dst) return NN_ERR(n, VRT_ENOMEM, "out of memory for oneDNN destination");
  }
  dnnl_memory_set_data_handle(c->m_src, src);
  dnnl_memory_set_data_handle(c->m_dst, dst);
  if (c->residual) { /* the sum post-op accumulates onto what dst holds */
    const vrt_tensor *r = nin > 4 ? in[4] : NULL;
    if (!r || r->nbytes != out[0].nbytes) return NN_ERR(n, VRT_ESHAPE, "fused residual has the wrong size");
    if (c->r_res) {
      dnnl_memory_set_data_handle(c->m_res_user, r->data);
      dnnl_exec_arg_t a[] = {{DNNL_ARG_FROM, c->m_res_user}, {DNNL_ARG_TO, c->m_dst}};
      if ((rc = run(n, c->r_res, c->stream, 2, a))) return rc;
    } else if (r->data != dst) {
      memcpy(dst, r->data, out[0].nbytes);
    }
  }
  dnnl_exec_arg_t a[5] = {{DNNL_ARG_SRC, c->m_src}, {DNNL_ARG_WEIGHTS, c->m_w}, {DNNL_ARG_DST, c->m_dst}};
  int na = 3;
  if (c->m_b) a[na++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, c->m_b};
  if ((rc = run(n, c->prim, c->stream, na, a))) return rc;
  if (c->r_dst) {
    dnnl_memory_set_data_handle(c->m_dst_user, out[0].data);
    dnnl_exec_arg_t b[] = {{DNNL_ARG_FROM, c->m_dst}, {DNNL_ARG_TO, c->m_dst_user}};
    if ((rc = run(n, c->r_dst, c->stream, 2, b))) return rc;
  }
  return 0;
}

/* ---- the backend ----------------------------------------------------------- */

static bool supports(const vrt_kernel_req *rq) {
  if (!get_engine()) return false;
  return conv_supports(rq);
}

static int plan(const vrt_kernel_req *rq, void **state) { return conv_plan(rq, state); }

const vrt_backend vrt__backend_onednn = {
    .name = "onednn", .supports_op = supports, .plan = plan, .exec = conv_exec, .release = conv_release,
};
