/* The oneDNN backend: Conv (plain, grouped, depthwise; NCHW and NHWC;
 * Winograd for mid-sized 3x3 ones), ConvTranspose, binary ops (Add, Mul,
 * Sub, Div, Max, Min with numpy broadcast), pooling (Max, Average, also
 * with ceil_mode; Global*), nearest Resize by integer
 * factors, Softmax / LogSoftmax, LayerNormalization, inference
 * BatchNormalization (with a fused ReLU), standalone activations (Relu,
 * Sigmoid, Clip ...), MatMul / Gemm with
 * constant weights, a batched MatMul of two activations and the fused
 * VrtAttention through oneDNN 2.6 primitives, with bias, activation and a
 * residual Add fused as post-ops.
 *
 * Why primitives and not dnnl_sgemm. The own kernels of nn_conv.c run
 * im2col + sgemm on plain tensors: they write a K-times larger copy of the
 * input, run a GEMM whose shape suits neither small-channel nor depthwise
 * convolutions, then sweep the output again for bias and activation. A
 * oneDNN convolution primitive is a JIT kernel generated for one shape and
 * this CPU's ISA (AVX-512, AMX), reading the input in place and applying
 * bias, activation and the residual sum while the output tile is still in
 * registers. The price is state: a primitive is built for one set of shapes.
 *
 * Where the state lives. A model is loaded once and shared read-only by
 * every session (one per thread); a session caches one plan per set of input
 * shapes (exec.c). So:
 *   - primitives, memory objects and the stream are per session and per plan
 *     (the kernel states below), built when the plan is made; executing them
 *     needs no lock;
 *   - weights are reordered into the primitive's preferred blocked layout
 *     (format_tag::any) once per model, through vrt__model_pack (keyed by
 *     node and the packed layout, under the model's lock), and shared by every
 *     session. Packing happens at the first plan, not at load, so load time
 *     stays what it was.
 *
 * Layouts. NHWC graphs (TF.js) run on plain nhwc tensors, which oneDNN's
 * AVX-512 kernels read directly. In NCHW graphs (ONNX) a convolution picks
 * its own source and destination layout (on this CPU usually nhwc, "acdb",
 * or nChw16c). exec.c tells each kernel which of its values may stay in a
 * private layout (producer and every reader on this backend, see
 * accepts_private): those are written and read in the primitive's layout,
 * so a conv -> conv / add / mul / pool chain reorders only where it enters
 * from or leaves to a plain op or a graph output.
 *
 * Refusals. supports_op is a cheap filter (dtype, rank, constant weights,
 * activation kinds oneDNN has); whatever oneDNN itself refuses when the
 * primitive descriptor is created makes plan return <0, and the node runs on
 * its own kernel with one log line (backend.c). So do shapes for which
 * oneDNN only has its "ref" loops, and ConvTranspose with few output channels
 * per group (padded to 16, many times slower than sgemm + col2im).
 *
 * Denormals. The kernels run with flush-to-zero / denormals-are-zero
 * (VRT_DENORMALS=keep: not), see dn_flush_on.
 *
 * Precision. VRT_PRECISION=bf16 (or vrt_load_params.bf16 for one model)
 * makes convolutions and constant-weight MatMul/Gemm take bf16 source and
 * weights (f32 accumulation, destination and post-ops) on CPUs with
 * avx512_bf16 or AMX; elsewhere they stay f32 with one log line.
 *
 * Threads. This oneDNN is built on OpenMP: each execution uses the calling
 * thread's OpenMP team size, which nn_set_threads sets before every
 * primitive is created or run: the session's thread count for bulky nodes,
 * one thread for nodes too small to pay for a parallel region (dn_team). */
#include <dnnl.h>
#include <dnnl_debug.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "model.h"
#include "nn.h"
#include "shape_util.h"

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

/* ---- precision ----------------------------------------------------------- */

/* VRT_PRECISION=bf16 (every model) or vrt_load_params.bf16 (one model): let
 * oneDNN compute f32 convolutions and constant-weight MatMul/Gemm in bf16 (inputs and
 * weights rounded to bf16, f32 accumulation) where this CPU has bf16 dot
 * products (avx512_bf16 or AMX); elsewhere say once that it stays f32.
 * Read per plan, like the other switches. */
static bool bf16_ok;
static pthread_once_t bf16_once = PTHREAD_ONCE_INIT;

static void bf16_probe(void) {
  dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
  bf16_ok = isa == dnnl_cpu_isa_avx512_core_bf16 || isa == dnnl_cpu_isa_avx512_core_amx;
  if (!bf16_ok) vrt__log("VRT_PRECISION=bf16: this CPU has no avx512_bf16/AMX; running float32");
}

static bool dn_bf16(const vrt_kernel_req *rq) {
  const char *e = getenv("VRT_PRECISION");
  if (!rq->m->bf16 && (!e || strcmp(e, "bf16"))) return false;
  pthread_once(&bf16_once, bf16_probe);
  return bf16_ok;
}

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

/* ---- denormals ------------------------------------------------------------- */

/* A tiny activation (a classifier with random BatchNorm statistics has
 * them; GoogLeNet's 1x1 convolutions after its first pools read ~1e-39)
 * costs a microcode assist in every FMA that reads it: oneDNN's kernel for
 * one 1x1 convolution of GoogLeNet ran at 28 instead of 175 GFLOP/s. So the
 * oneDNN kernels run with the SSE control register's flush-to-zero and
 * denormals-are-zero bits set (what TensorFlow does in its executor and ORT
 * offers as an option), on the calling thread, restored after each node;
 * the own kernels (the reference) keep IEEE subnormals. VRT_DENORMALS=keep
 * (read per plan) turns it off. With 2 threads oneDNN's OpenMP worker keeps
 * its own control register: its half of the work is not flushed. */
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
enum { DN_FTZ_DAZ = 0x8040 };
static unsigned dn_flush_on(bool on) {
  unsigned csr = _mm_getcsr();
  if (on) _mm_setcsr(csr | DN_FTZ_DAZ);
  return csr;
}
static void dn_flush_off(unsigned csr) { _mm_setcsr(csr); }
#else
static unsigned dn_flush_on(bool on) { (void)on; return 0; }
static void dn_flush_off(unsigned csr) { (void)csr; }
#endif

static bool dn_flush(void) {
  const char *e = getenv("VRT_DENORMALS");
  return !e || strcmp(e, "keep");
}

/* ---- threads per node ------------------------------------------------------ */

/* How many of the session's threads one node's primitives use. Every oneDNN
 * execution is an OpenMP parallel region, and with more than one thread each
 * region costs waking the workers (a futex wake-up with passive waiting,
 * nn.c) and a barrier that waits for the slowest of them; on a shared
 * machine a worker that is not scheduled stalls the region for a time
 * slice. A node whose work is smaller than that cost (OSNet's channel-gate
 * convolutions on 1x1 maps, small pools, adds and concats) runs on the
 * calling thread alone; the bulky ones get the session's team. Thresholds:
 * about 30 us of work on one core (4 MFLOP of convolution, 64 Ki elements
 * written by a memory-bound op). */
enum { DN_TEAM_MIN_FLOP = 4000000, DN_TEAM_MIN_ELEMS = 65536 };

static int dn_team(const vrt_kernel_req *rq) {
  if (rq->threads <= 1 || rq->nout < 1) return 1;
  double out = (double)vrt_tensor_numel(&rq->out[0]);
  const vrt_node *n = rq->n;
  if ((n->op == VRT_OP_Conv || n->op == VRT_OP_ConvTranspose) && rq->nin > 1 && rq->in[1] && rq->in[1]->ndim >= 2) {
    const vrt_tensor *w = rq->in[1];
    double k = 1; /* MACs per output element: (C/G) * kh * kw, from the weights */
    for (int d = 1; d < w->ndim; d++) k *= (double)w->dims[d];
    if (n->op == VRT_OP_ConvTranspose) /* w [C, M/G, k..]: each input element feeds M/G * k outputs */
      out = (double)vrt_tensor_numel(rq->in[0]);
    return 2 * out * k < DN_TEAM_MIN_FLOP ? 1 : rq->threads;
  }
  return out < DN_TEAM_MIN_ELEMS ? 1 : rq->threads;
}

/* ---- convolution and deconvolution --------------------------------------- */

enum { DN_CONV = 1, DN_SIMPLE, DN_CONCAT, DN_SLICE, DN_PW };

/* What every kernel state starts with (its first member h): the kind, the
 * OpenMP threads this node's primitives run on (dn_team), the stream and
 * the (main) primitive. */
typedef struct dn_head {
  int kind, team;
  bool flush; /* denormals as zero while it runs (dn_flush) */
  dnnl_stream_t stream;
  dnnl_primitive_t prim;
} dn_head;

/* What a plan makes on its way and drops at the end (plan_end). */
typedef struct dn_build {
  dnnl_primitive_desc_t pd;
  dnnl_primitive_attr_t attr;
  dnnl_post_ops_t po;
} dn_build;

typedef struct dn_conv {
  dn_head h; /* kind DN_CONV */
  dnnl_primitive_t r_src, r_dst, r_res; /* plain <-> primitive layout; NULL when plain */
  dnnl_memory_t m_src_user, m_src, m_w, m_b, m_dst, m_dst_user, m_res_user;
  size_t src_bytes, dst_bytes; /* scratch for the primitive's own layouts */
  size_t dst_size;             /* bytes of dst in the layout the primitive writes */
  const void *w;               /* packed weights, owned by the model */
  bool residual;
  dnnl_memory_desc_t md_out;   /* the layout the output is stored in when kept private */
  /* ConvTranspose: bias and activation applied after the primitive, on the
   * plain output (oneDNN 2.6's deconvolution with bias or post-ops falls to
   * a path ~100x slower than without) */
  bool post;
  const float *post_bias;
  nn_act post_act;
  int layout;
  int64_t N, M, P;
} dn_conv;

/* Destroys the primitives and memory objects of a state that exist. */
static void objs_destroy(const dnnl_primitive_t *prims, size_t np, const dnnl_memory_t *mems, size_t nm) {
  for (size_t i = 0; i < np; i++)
    if (prims[i]) dnnl_primitive_destroy(prims[i]);
  for (size_t i = 0; i < nm; i++)
    if (mems[i]) dnnl_memory_destroy(mems[i]);
}

#define DN_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* What a conv state holds besides its head (release frees the rest). */
static void conv_free(dn_conv *c) {
  dnnl_primitive_t prims[] = {c->r_src, c->r_dst, c->r_res};
  dnnl_memory_t mems[] = {c->m_src_user, c->m_src, c->m_w, c->m_b, c->m_dst, c->m_dst_user, c->m_res_user};
  objs_destroy(prims, DN_COUNT(prims), mems, DN_COUNT(mems));
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
  if (n->op == VRT_OP_ConvTranspose) {
    if (rq->nin > 4 && rq->in[4]) return false;
    /* oneDNN's deconvolution pads output channels to a block of 16; with a
     * few per group (a 1-channel upsampling head) it is many times slower
     * than the sgemm + col2im of nn_conv.c */
    const vrt_tensor *w = rq->in[1];
    if (w->ndim != 4 || w->dims[1] < 8) return false;
  }
  dnnl_alg_kind_t alg;
  float a, b;
  return p->act.kind == NN_ACT_NONE || act_alg(&p->act, &alg, &a, &b);
}

typedef struct {
  const dnnl_memory_desc_t *user, *packed;
  const void *src;
} pack_ctx;

/* One reorder of a weight between two layouts, on one thread. */
static int reorder_weights(const dnnl_memory_desc_t *from, const void *src, const dnnl_memory_desc_t *to, void *dst) {
  dnnl_engine_t eng = get_engine();
  dnnl_primitive_desc_t pd = NULL;
  dnnl_primitive_t r = NULL;
  dnnl_memory_t ms = NULL, md = NULL;
  dnnl_stream_t st = NULL;
  int ok = dnnl_reorder_primitive_desc_create(&pd, from, eng, to, eng, NULL) == dnnl_success &&
           dnnl_primitive_create(&r, pd) == dnnl_success &&
           dnnl_memory_create(&ms, from, eng, (void *)src) == dnnl_success &&
           dnnl_memory_create(&md, to, eng, dst) == dnnl_success &&
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

/* Reorder the constant weights into the primitive's layout (runs once per
 * model and layout, under the model's pack lock). */
static int pack_weights(void *ctx, void *dst) {
  pack_ctx *pc = ctx;
  return reorder_weights(pc->user, pc->src, pc->packed, dst);
}

/* The inverse, from what unpack_info holds: an f32 reorder only moves
 * elements (and pads with zeros), so the original comes back exactly and
 * its own pages need not stay resident (backend.c). */
typedef struct {
  dnnl_memory_desc_t user, packed;
} unpack_info;

static int unpack_weights(const void *info, const void *packed, void *dst) {
  const unpack_info *u = info;
  return reorder_weights(&u->packed, packed, &u->user, dst);
}

/* oneDNN's "ref" implementations are plain loops, slower than the op's own
 * kernel: refuse them so the node stays there. */
/* Keeps output 0 in the primitive's layout md: the plan's copy (*keep, which
 * must outlive the plan) becomes the output's layout, and its size the bytes
 * the executor reserves for it. */
static void keep_out_private(const vrt_kernel_req *rq, dnnl_memory_desc_t *keep, const dnnl_memory_desc_t *md) {
  *keep = *md;
  rq->out_layout[0] = keep;
  rq->out_bytes[0] = dnnl_memory_desc_get_size(md);
}

static int refuse_ref(const vrt_kernel_req *rq, const_dnnl_primitive_desc_t pd) {
  const char *impl = NULL;
  if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success || !impl) return 0;
  if (!strncmp(impl, "ref", 3)) return NN_ERR(rq->n, VRT_EUNSUPPORTED, "oneDNN offers only its reference kernel (%s)", impl);
  return 0;
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
  } else if (md->format_kind == dnnl_format_kind_wino) { /* F(2x2) or F(4x4), picked per thread count */
    const dnnl_wino_desc_t *w = &md->format_desc.wino_desc;
    k[n++] = w->wino_format, k[n++] = w->r, k[n++] = w->alpha, k[n++] = w->ic, k[n++] = w->oc;
    k[n++] = w->ic_block, k[n++] = w->oc_block, k[n++] = w->ic2_block, k[n++] = w->oc2_block;
    k[n++] = (int64_t)w->size;
    int32_t sc;
    memcpy(&sc, &w->adj_scale, sizeof sc);
    k[n++] = sc;
  }
  k[n++] = md->extra.flags;
  return n;
}

/* The weights of node rq->node (input 1) packed for md_w, shared by the
 * model's sessions; NULL (vrt__err set) when that fails. */
static const void *pack_input1(const vrt_kernel_req *rq, const dnnl_memory_desc_t *md_user,
                               const dnnl_memory_desc_t *md_w) {
  int64_t key[128];
  int kl = md_key(md_w, key);
  pack_ctx pc = {md_user, md_w, rq->in[1]->data};
  unpack_info ui = {*md_user, *md_w};
  /* Winograd's weights (format_kind wino) are transformed: no way back */
  bool exact = md_w->data_type == dnnl_f32 && md_w->format_kind == dnnl_blocked;
  vrt_pack_req r = {rq->node, 1, key, sizeof(int64_t) * (size_t)kl, dnnl_memory_desc_get_size(md_w), pack_weights,
                    &pc, exact ? unpack_weights : NULL, &ui, sizeof ui};
  const void *w = vrt__model_pack(rq->m, &r);
  nn_set_threads(dn_team(rq)); /* packing ran on one */
  return w;
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

/* ---- what every plan does --------------------------------------------------- */

static void release(void *state);

/* A plan's zeroed state of size bytes and the given kind; NULL (with *rc)
 * without an engine or memory. */
static void *plan_new(const vrt_kernel_req *rq, size_t size, int kind, int *rc) {
  *rc = 0;
  if (!get_engine()) {
    *rc = NN_ERR(rq->n, VRT_EUNSUPPORTED, "no oneDNN CPU engine");
    return NULL;
  }
  dn_head *h = calloc(1, size);
  if (!h) {
    *rc = NN_ERR(rq->n, VRT_ENOMEM, "out of memory");
    return NULL;
  }
  h->kind = kind;
  return h;
}

/* The primitive descriptor of desc with attr (NULL: none) into b->pd, in
 * place of one made before, unless oneDNN offers only its reference
 * kernel; then the primitive into *prim. */
static int prim_make(const vrt_kernel_req *rq, dn_build *b, const_dnnl_op_desc_t desc, const_dnnl_primitive_attr_t attr,
                     const char *what, dnnl_primitive_t *prim) {
  int rc = 0;
  if (b->pd) dnnl_primitive_desc_destroy(b->pd), b->pd = NULL;
  DN_TRY(dnnl_primitive_desc_create(&b->pd, desc, attr, get_engine(), NULL), what);
  if ((rc = refuse_ref(rq, b->pd))) goto fail;
  DN_TRY(dnnl_primitive_create(prim, b->pd), what);
fail:
  return rc;
}

/* Memory objects with no data yet (each bound at exec) for mds[i] into
 * *slots[i]. */
static int mems_make(const vrt_kernel_req *rq, int count, dnnl_memory_t *const *slots,
                     const dnnl_memory_desc_t *const *mds) {
  int rc = 0;
  for (int i = 0; i < count; i++) DN_TRY(dnnl_memory_create(slots[i], mds[i], get_engine(), DNNL_MEMORY_NONE), "memory");
fail:
  return rc;
}

/* The constant weights of input 1 (laid out as user) packed once per model
 * into the primitive's layout md_w (shared by the model's sessions, *packed)
 * and a memory object over them. */
static int weights_bind(const vrt_kernel_req *rq, const dnnl_memory_desc_t *user, const dnnl_memory_desc_t *md_w,
                        const void **packed, dnnl_memory_t *mem) {
  int rc = 0;
  *packed = pack_input1(rq, user, md_w);
  if (!*packed) return VRT_EUNSUPPORTED;
  DN_TRY(dnnl_memory_create(mem, md_w, get_engine(), (void *)*packed), "weights memory");
fail:
  return rc;
}

/* The end of every plan: plans jump here on failure (rc != 0) and fall
 * through on success. Success: the stream the primitives run on, and the
 * state becomes the plan's; failure: the state is released. Either way what
 * the build made is dropped. */
static int plan_end(const vrt_kernel_req *rq, int rc, dn_build *b, void *state, void **out) {
  dn_head *h = state;
  if (!rc) DN_TRY(dnnl_stream_create(&h->stream, get_engine(), dnnl_stream_default_flags), "stream");
fail:
  if (b->pd) dnnl_primitive_desc_destroy(b->pd);
  if (b->po) dnnl_post_ops_destroy(b->po);
  if (b->attr) dnnl_primitive_attr_destroy(b->attr);
  if (rc) {
    release(state);
    return rc < 0 ? rc : VRT_EUNSUPPORTED;
  }
  *out = state;
  return 0;
}

/* The attributes of a convolution or matmul: a sum post-op onto what dst
 * holds (the fused residual) and the activation act (NULL: none) as an
 * eltwise post-op. */
static int post_ops_make(const vrt_kernel_req *rq, dn_build *b, bool residual, const nn_act *act) {
  int rc = 0;
  dnnl_alg_kind_t alg;
  float alpha, beta;
  DN_TRY(dnnl_primitive_attr_create(&b->attr), "attr");
  DN_TRY(dnnl_post_ops_create(&b->po), "post-ops");
  if (residual) DN_TRY(dnnl_post_ops_append_sum(b->po, 1.0f), "sum post-op");
  if (act && act->kind != NN_ACT_NONE && act_alg(act, &alg, &alpha, &beta))
    DN_TRY(dnnl_post_ops_append_eltwise(b->po, 1.0f, alg, alpha, beta), "eltwise post-op");
  DN_TRY(dnnl_primitive_attr_set_post_ops(b->attr, b->po), "set post-ops");
fail:
  return rc;
}

/* Is md the f32 4-D layout tag over dims d? */
static bool md_is_tag(const dnnl_memory_desc_t *md, const dnnl_dims_t d, dnnl_format_tag_t tag) {
  dnnl_memory_desc_t t;
  return dnnl_memory_desc_init_by_tag(&t, 4, d, dnnl_f32, tag) == dnnl_success && dnnl_memory_desc_equal(md, &t);
}

/* The head of a detector at 640^2 (YOLO's stem): few channels on large maps,
 * where nhwc kernels pay for a reorder of the whole input and are
 * memory-bound. There oneDNN's blocked kernels do better: the first
 * convolution reads the plain NCHW input as it is (no reorder of the image)
 * and writes nChw16c, and the convolutions right after it on maps of 160^2
 * or more read and write nChw16c too (as fast as nhwc there). A Slice or a
 * smaller map's convolution turns it back into nhwc, where the brgemm
 * kernels are faster. Returns the source layout to ask for (plain nchw or
 * nChw16c), or 0 when the node is not such a head convolution. Smaller
 * inputs (224^2 classifiers) keep their layouts: there the difference is
 * within noise. */
enum { DN_HEAD_FIRST_PIX = 320 * 320, DN_HEAD_NEXT_PIX = 160 * 160 };

static dnnl_format_tag_t conv_head_src(const vrt_kernel_req *rq) {
  const vrt_node *n = rq->n;
  const nn_conv_params *p = n->params;
  if (n->op != VRT_OP_Conv || !p || p->layout || (rq->nin > 4 && rq->in[4])) return 0;
  const vrt_tensor *x = rq->in[0], *w = rq->in[1];
  if (x->ndim != 4 || w->ndim != 4 || x->dims[0] != 1 || w->dims[1] != x->dims[1] || w->dims[0] % 16) return 0;
  int64_t C = x->dims[1], pix = x->dims[2] * x->dims[3];
  const dnnl_memory_desc_t *in = rq->in_layout ? rq->in_layout[0] : NULL;
  if (!in) return C <= 4 && pix >= DN_HEAD_FIRST_PIX ? dnnl_nchw : 0;
  dnnl_dims_t d = {x->dims[0], C, x->dims[2], x->dims[3]};
  return C % 16 == 0 && pix >= DN_HEAD_NEXT_PIX && md_is_tag(in, d, dnnl_nChw16c) ? dnnl_nChw16c : 0;
}

/* Winograd for a 3x3 stride-1 convolution (oneDNN's F(2x2, 3x3) and
 * F(4x4, 3x3) kernels: 1.2-1.9x the direct kernel's speed on GoogLeNet,
 * SqueezeNet, Inception and ResNet 3x3 layers at 13x13 and up, with errors
 * of ~1e-6 relative to the output). Measured on this CPU at one thread, it
 * loses with few output channels (16 -> 16 at 160x160: 0.6x, 32 -> 32 at
 * 80x80: 0.87x, 24 -> 24 at 56x56: 0.84x), wins from 48 of them (16 -> 64
 * at 55x55: 1.36x, 48 -> 192 at 13x13: 1.6x) and breaks even at 7x7.
 * On large maps it wins alone but loses inside a network (Inception's
 * 80 -> 192 at 71x71: 13 ms against the direct kernel's 7; its transforms
 * of the whole map overflow the caches), so nothing above 64x64. Hence the
 * thresholds. VRT_WINOGRAD=0 (read per plan) turns it off. */
static bool conv_wino_wanted(const vrt_node *n, const nn_conv_params *p, const nn_geom *g, dnnl_data_type_t cdt) {
  const char *e = getenv("VRT_WINOGRAD");
  if ((e && !strcmp(e, "0")) || n->op != VRT_OP_Conv || cdt != dnnl_f32 || p->layout || g->nsp != 2) return false;
  for (int i = 1; i < 3; i++)
    if (g->k[i] != 3 || g->s[i] != 1 || g->d[i] != 1) return false;
  int64_t P = g->out[1] * g->out[2];
  return g->group == 1 && g->C >= 16 && g->M >= 48 && (g->C >= 32 || g->M >= 64) && P >= 12 * 12 && P <= 64 * 64;
}

static int conv_plan(const vrt_kernel_req *rq, void **state, dnnl_data_type_t cdt, dnnl_format_tag_t head) {
  const vrt_node *n = rq->n;
  const nn_conv_params *p = n->params;
  bool deconv = n->op == VRT_OP_ConvTranspose;
  nn_geom g;
  int rc = deconv ? nn_convt_geom(n, p, rq->in[0], rq->in[1], &g) : nn_conv_geom(n, p, rq->in[0], rq->in[1], &g);
  if (rc) return rc;
  dn_conv *c = plan_new(rq, sizeof *c, DN_CONV, &rc);
  if (!c) return rc;
  dn_build bld = {NULL};
  dnnl_engine_t eng = get_engine();

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
  dnnl_dims_t wd = {G, M / G, C / G, g.k[1], g.k[2]}; /* ungrouped: without the leading G */
  int wr = G == 1 ? 4 : 5;
  dnnl_format_tag_t wtag = G == 1 ? (deconv ? dnnl_iohw : dnnl_oihw) : (deconv ? dnnl_giohw : dnnl_goihw);
  DN_TRY(dnnl_memory_desc_init_by_tag(&md_w_user, wr, wd + 5 - wr, dnnl_f32, wtag), "w desc");
  DN_TRY(dnnl_memory_desc_init_by_tag(&md_w_any, wr, wd + 5 - wr, cdt, dnnl_format_tag_any), "w desc");
  dnnl_dims_t bd = {M};
  DN_TRY(dnnl_memory_desc_init_by_tag(&md_b, 1, bd, dnnl_f32, dnnl_x), "bias desc");
  dnnl_format_tag_t io = p->layout ? dnnl_nhwc : dnnl_format_tag_any;
  bool may_keep = rq->out_private_ok && rq->out_private_ok[0];
  DN_TRY(dnnl_memory_desc_init_by_tag(&md_src_any, 4, sd, cdt, head ? head : io), "src desc");
  DN_TRY(dnnl_memory_desc_init_by_tag(&md_dst_any, 4, dd, dnnl_f32, head && may_keep ? dnnl_nChw16c : io), "dst desc");
  bool bias = rq->nin > 2 && rq->in[2];
  c->residual = rq->nin > 4 && rq->in[4];
  if (deconv && (bias || p->act.kind != NN_ACT_NONE)) {
    c->post = true;
    c->post_bias = bias ? rq->in[2]->data : NULL;
    c->post_act = p->act;
    c->layout = p->layout;
    c->N = g.N, c->M = g.M, c->P = g.out[1] * g.out[2];
    bias = false;
  }

  if ((rc = post_ops_make(rq, &bld, c->residual, c->post ? NULL : &p->act))) goto fail;
  /* a deconvolution descriptor is a convolution descriptor, made by a
   * function of the same signature */
  dnnl_convolution_desc_t cd;
  DN_TRY((deconv ? dnnl_dilated_deconvolution_forward_desc_init : dnnl_dilated_convolution_forward_desc_init)(
             &cd, dnnl_forward_inference, deconv ? dnnl_deconvolution_direct : dnnl_convolution_direct, &md_src_any,
             &md_w_any, bias ? &md_b : NULL, &md_dst_any, strides, dil, pl, pr),
         "convolution desc");
  /* Winograd computes in nChw16c; its output is handed on in the layout
   * the direct kernel would have written (md_direct_dst), so the nodes
   * around it plan as they would without it. */
  bool wino = false;
  dnnl_memory_desc_t md_direct_dst;
  if (conv_wino_wanted(n, p, &g, cdt)) {
    dnnl_primitive_desc_t dpd = NULL;
    dnnl_convolution_desc_t wd;
    if (dnnl_primitive_desc_create(&dpd, &cd, bld.attr, eng, NULL) == dnnl_success) {
      md_direct_dst = *dnnl_primitive_desc_query_md(dpd, dnnl_query_dst_md, 0);
      dnnl_primitive_desc_destroy(dpd);
      wino = dnnl_dilated_convolution_forward_desc_init(&wd, dnnl_forward_inference, dnnl_convolution_winograd,
                                                        &md_src_any, &md_w_any, bias ? &md_b : NULL, &md_dst_any,
                                                        strides, dil, pl, pr) == dnnl_success &&
             prim_make(rq, &bld, &wd, bld.attr, "winograd convolution", &c->h.prim) == 0;
      if (!wino) vrt__err_clear();
    }
  }
  if (!wino && (rc = prim_make(rq, &bld, &cd, bld.attr, deconv ? "deconvolution" : "convolution", &c->h.prim)))
    goto fail;
  const dnnl_memory_desc_t *md_src = dnnl_primitive_desc_query_md(bld.pd, dnnl_query_src_md, 0);
  const dnnl_memory_desc_t *md_dst = dnnl_primitive_desc_query_md(bld.pd, dnnl_query_dst_md, 0);
  const dnnl_memory_desc_t *md_w = dnnl_primitive_desc_query_md(bld.pd, dnnl_query_weights_md, 0);
  if ((rc = weights_bind(rq, &md_w_user, md_w, &c->w, &c->m_w))) goto fail;
  if (bias) DN_TRY(dnnl_memory_create(&c->m_b, &md_b, eng, rq->in[2]->data), "bias memory");
  /* Where the input and residual come from (a producer's private layout or
   * plain) and where the output goes (kept in the primitive's layout when
   * every reader is a oneDNN node too, else reordered to plain). */
  const dnnl_memory_desc_t *md_in = rq->in_layout && rq->in_layout[0] ? rq->in_layout[0] : &md_src_user;
  const dnnl_memory_desc_t *md_res = rq->in_layout && c->residual && rq->in_layout[4] ? rq->in_layout[4] : &md_dst_user;
  bool keep = rq->out_private_ok && rq->out_private_ok[0] && !p->layout && !c->post;
  const dnnl_memory_desc_t *md_kept = wino ? &md_direct_dst : md_dst;
  if (keep) keep_out_private(rq, &c->md_out, md_kept);
  const dnnl_memory_desc_t *md_out = keep ? md_kept : &md_dst_user;
  c->dst_size = dnnl_memory_desc_get_size(md_dst);
  DN_TRY(dnnl_memory_create(&c->m_src_user, md_in, eng, DNNL_MEMORY_NONE), "memory");
  DN_TRY(dnnl_memory_create(&c->m_dst_user, md_out, eng, DNNL_MEMORY_NONE), "memory");
  DN_TRY(dnnl_memory_create(&c->m_src, md_src, eng, DNNL_MEMORY_NONE), "memory");
  DN_TRY(dnnl_memory_create(&c->m_dst, md_dst, eng, DNNL_MEMORY_NONE), "memory");
  if ((rc = make_reorder(rq, md_in, md_src, &c->r_src))) goto fail;
  if ((rc = make_reorder(rq, md_dst, md_out, &c->r_dst))) goto fail;
  if (c->residual && !dnnl_memory_desc_equal(md_res, md_dst)) {
    DN_TRY(dnnl_memory_create(&c->m_res_user, md_res, eng, DNNL_MEMORY_NONE), "memory");
    if ((rc = make_reorder(rq, md_res, md_dst, &c->r_res))) goto fail;
  }
  if (c->r_src) c->src_bytes = dnnl_memory_desc_get_size(md_src);
  if (c->r_dst) c->dst_bytes = dnnl_memory_desc_get_size(md_dst);
  /* the residual stored as dst is written: summed in place when the
   * executor gives the output its bytes (no copy in conv_exec) */
  if (c->residual && !c->r_res && !c->r_dst && rq->out_inplace) rq->out_inplace[0] = 4;
  /* a depthwise 1x1 convolution (a BatchNorm, fuse.c) maps each element
   * to the one at its place and may overwrite its input: DenseNet's
   * Concat -> BatchNorm pass then touches half the memory (-5% there) */
  if (!deconv && !c->residual && G == C && C == M && g.k[1] == 1 && g.k[2] == 1 && g.s[1] == 1 && g.s[2] == 1 &&
      !g.pb[1] && !g.pb[2] && !g.pe[1] && !g.pe[2] && !c->r_src && !c->r_dst && rq->out_inplace &&
      dnnl_memory_desc_equal(md_src, md_dst))
    rq->out_inplace[0] = 0;
fail:
  return plan_end(rq, rc, &bld, c, state);
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
  void *src = in[0]->data, *dst = out[0].data;
  if (c->r_src) {
    src = x->scratch(x, c->src_bytes);
    if (!src) return NN_ERR(n, VRT_ENOMEM, "out of memory for oneDNN source");
    dnnl_memory_set_data_handle(c->m_src_user, in[0]->data);
    dnnl_memory_set_data_handle(c->m_src, src);
    dnnl_exec_arg_t a[] = {{DNNL_ARG_FROM, c->m_src_user}, {DNNL_ARG_TO, c->m_src}};
    if ((rc = run(n, c->r_src, c->h.stream, 2, a))) return rc;
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
      if ((rc = run(n, c->r_res, c->h.stream, 2, a))) return rc;
    } else if (r->data != dst) { /* same layout as dst: its padded size */
      memcpy(dst, r->data, c->dst_size);
    }
  }
  dnnl_exec_arg_t a[5] = {{DNNL_ARG_SRC, c->m_src}, {DNNL_ARG_WEIGHTS, c->m_w}, {DNNL_ARG_DST, c->m_dst}};
  int na = 3;
  if (c->m_b) a[na++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, c->m_b};
  if ((rc = run(n, c->h.prim, c->h.stream, na, a))) return rc;
  if (c->r_dst) {
    dnnl_memory_set_data_handle(c->m_dst_user, out[0].data);
    dnnl_exec_arg_t b[] = {{DNNL_ARG_FROM, c->m_dst}, {DNNL_ARG_TO, c->m_dst_user}};
    if ((rc = run(n, c->r_dst, c->h.stream, 2, b))) return rc;
  }
  if (c->post) { /* plain output here: never kept private */
    if (c->layout == 0) nn_bias_act(out[0].data, c->N, c->M, c->P, c->post_bias, &c->post_act, NULL, 0);
    else nn_bias_act(out[0].data, c->N * c->P, c->M, 1, c->post_bias, &c->post_act, NULL, 0);
  }
  return 0;
}

/* ---- a 1x1 convolution whose output must be plain NCHW, as a matmul ------
 *
 * A detector's last 1x1 convolutions (YOLO's box and class heads) write
 * plain NCHW for the reshapes that follow, while their input arrives in
 * nhwc. The convolution primitive writes nhwc and a reorder transposes it
 * (a third of the node's time); with batch 1 the same node is one matmul
 * dst[M, HW] = W[M, C] x X[C, HW], X read in place through its strides
 * (nhwc is X transposed), written straight in NCHW. The bias is each
 * output row's starting value (oneDNN's matmul takes a bias per column, not
 * per row), accumulated onto by a sum post-op; the activation follows. */
enum { DN_PW_MIN_PIX = 256 };

typedef struct dn_pw {
  dn_head h; /* kind DN_PW */
  dnnl_memory_t m_w, m_x, m_dst;
  const void *w;     /* packed weights [M, C], owned by the model */
  const float *bias; /* [M] or NULL */
  int64_t M, P;
} dn_pw;

static void pw_free(dn_pw *c) {
  dnnl_memory_t mems[] = {c->m_w, c->m_x, c->m_dst};
  objs_destroy(NULL, 0, mems, DN_COUNT(mems));
}

/* Can this Conv go through pw_plan: 1x1, unit strides, no padding, one
 * group, batch 1, NCHW, f32, no fused residual, output needed plain, input
 * plain or dense nhwc? */
static bool pw_ok(const vrt_kernel_req *rq) {
  const vrt_node *n = rq->n;
  const nn_conv_params *p = n->params;
  if (n->op != VRT_OP_Conv || !p || p->layout || (rq->nin > 4 && rq->in[4])) return false;
  if (rq->out_private_ok && rq->out_private_ok[0]) return false; /* stays private: no reorder to save */
  nn_geom g;
  if (nn_conv_geom(n, p, rq->in[0], rq->in[1], &g)) {
    vrt__err_clear();
    return false;
  }
  if (g.N != 1 || g.group != 1 || g.k[1] != 1 || g.k[2] != 1 || g.s[1] != 1 || g.s[2] != 1 || g.pb[1] || g.pb[2] ||
      g.pe[1] || g.pe[2])
    return false;
  if (g.out[1] * g.out[2] < DN_PW_MIN_PIX) return false; /* a channel gate's 1x1 map: nothing to transpose */
  const dnnl_memory_desc_t *in = rq->in_layout ? rq->in_layout[0] : NULL;
  if (!in) return true;
  dnnl_dims_t d = {1, g.C, g.in[1], g.in[2]};
  return md_is_tag(in, d, dnnl_nhwc);
}

static int pw_plan(const vrt_kernel_req *rq, void **state) {
  const vrt_node *n = rq->n;
  const nn_conv_params *p = n->params;
  nn_geom g;
  int rc = nn_conv_geom(n, p, rq->in[0], rq->in[1], &g);
  if (rc) return rc;
  dn_pw *c = plan_new(rq, sizeof *c, DN_PW, &rc);
  if (!c) return rc;
  dn_build bld = {NULL};
  c->M = g.M, c->P = g.out[1] * g.out[2];
  c->bias = rq->nin > 2 && rq->in[2] ? rq->in[2]->data : NULL;
  bool nhwc = rq->in_layout && rq->in_layout[0];
  dnnl_dims_t wd = {g.M, g.C}, xd = {g.C, c->P}, dd = {g.M, c->P};
  dnnl_dims_t xs = {nhwc ? 1 : c->P, nhwc ? g.C : 1};
  dnnl_memory_desc_t md_w, md_x, md_dst;
  DN_TRY(dnnl_memory_desc_init_by_tag(&md_w, 2, wd, dnnl_f32, dnnl_ab), "weights desc");
  DN_TRY(dnnl_memory_desc_init_by_strides(&md_x, 2, xd, dnnl_f32, xs), "source desc");
  DN_TRY(dnnl_memory_desc_init_by_tag(&md_dst, 2, dd, dnnl_f32, dnnl_ab), "dst desc");
  if ((rc = post_ops_make(rq, &bld, c->bias != NULL, &p->act))) goto fail;
  dnnl_matmul_desc_t md;
  DN_TRY(dnnl_matmul_desc_init(&md, &md_w, &md_x, NULL, &md_dst), "matmul desc");
  if ((rc = prim_make(rq, &bld, &md, bld.attr, "matmul", &c->h.prim))) goto fail;
  c->w = pack_input1(rq, &md_w, &md_w); /* the model's own copy: its weight may be given back */
  if (!c->w) {
    rc = VRT_EUNSUPPORTED;
    goto fail;
  }
  DN_TRY(dnnl_memory_create(&c->m_w, &md_w, get_engine(), (void *)c->w), "weights memory");
  rc = mems_make(rq, 2, (dnnl_memory_t *const[]){&c->m_x, &c->m_dst},
                 (const dnnl_memory_desc_t *const[]){&md_x, &md_dst});
fail:
  return plan_end(rq, rc, &bld, c, state);
}

static int pw_exec(dn_pw *c, const vrt_node *n, const vrt_tensor *const *in, vrt_tensor *out) {
  float *dst = out[0].data;
  if (c->bias) /* each row starts at its bias: the sum post-op adds W x onto it */
    for (int64_t m = 0; m < c->M; m++)
      for (int64_t i = 0; i < c->P; i++) dst[m * c->P + i] = c->bias[m];
  dnnl_memory_set_data_handle(c->m_x, in[0]->data);
  dnnl_memory_set_data_handle(c->m_dst, dst);
  dnnl_exec_arg_t a[] = {{DNNL_ARG_SRC, c->m_w}, {DNNL_ARG_WEIGHTS, c->m_x}, {DNNL_ARG_DST, c->m_dst}};
  return run(n, c->h.prim, c->h.stream, 3, a);
}

/* ---- binary, pooling: one primitive between reorders ---------------------- */

/* A side of a simple primitive: the tensor as stored (user: a producer's
 * private layout or plain) and as the primitive wants it (mem), with the
 * reorder between them when they differ. */
typedef struct dn_side {
  int idx; /* node input index; -1 for the output */
  dnnl_memory_t user, mem;
  dnnl_primitive_t reorder;
  size_t bytes; /* scratch for mem when reordering */
} dn_side;

typedef struct dn_simple {
  dn_head h; /* kind DN_SIMPLE */
  int nsrc;
  int src_arg[2];
  dn_side src[2], dst;
  dnnl_memory_desc_t md_out;
  /* per-channel constants bound at exec from node inputs (batch
   * normalization: mean, variance, scale, shift) */
  int nconst;
  int const_arg[4], const_idx[4];
  dnnl_memory_t konst[4];
} dn_simple;

static void side_free(dn_side *d) {
  if (d->reorder) dnnl_primitive_destroy(d->reorder);
  if (d->user) dnnl_memory_destroy(d->user);
  if (d->mem) dnnl_memory_destroy(d->mem);
}

static void simple_free(dn_simple *c) {
  for (int i = 0; i < c->nsrc; i++) side_free(&c->src[i]);
  side_free(&c->dst);
  objs_destroy(NULL, 0, c->konst, (size_t)c->nconst);
}

/* user -> mem for an input (to_prim), mem -> user for the output. */
static int side_init(const vrt_kernel_req *rq, dn_side *d, int idx, const dnnl_memory_desc_t *user,
                     const dnnl_memory_desc_t *prim, bool to_prim) {
  int rc = 0;
  d->idx = idx;
  DN_TRY(dnnl_memory_create(&d->user, user, get_engine(), DNNL_MEMORY_NONE), "memory");
  DN_TRY(dnnl_memory_create(&d->mem, prim, get_engine(), DNNL_MEMORY_NONE), "memory");
  if ((rc = to_prim ? make_reorder(rq, user, prim, &d->reorder) : make_reorder(rq, prim, user, &d->reorder)))
    goto fail;
  if (d->reorder) d->bytes = dnnl_memory_desc_get_size(prim);
fail:
  return rc;
}

/* Plain row-major md of a tensor as rank 4 (leading 1s). */
static int plain4(const vrt_kernel_req *rq, const vrt_tensor *t, dnnl_memory_desc_t *md) {
  int rc = 0;
  dnnl_dims_t d = {1, 1, 1, 1};
  for (int i = 0; i < t->ndim; i++) d[4 - t->ndim + i] = t->dims[i];
  DN_TRY(dnnl_memory_desc_init_by_tag(md, 4, d, dnnl_f32, dnnl_abcd), "plain desc");
fail:
  return rc;
}

/* md (plain, rank 4) in the format of like when like is one of the
 * layouts oneDNN's convolutions write (plain, nhwc, channel blocks of 4 to
 * 32), else md itself: into *out. */
static int md_same_format(const vrt_kernel_req *rq, const dnnl_memory_desc_t *like, const dnnl_memory_desc_t *md,
                          dnnl_memory_desc_t *out) {
  static const dnnl_format_tag_t tags[] = {dnnl_abcd, dnnl_acdb, dnnl_aBcd16b, dnnl_aBcd8b, dnnl_aBcd4b, dnnl_aBcd32b};
  int rc = 0;
  *out = *md;
  for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
    dnnl_memory_desc_t t;
    DN_TRY(dnnl_memory_desc_init_by_tag(&t, 4, like->dims, dnnl_f32, tags[i]), "desc");
    if (!dnnl_memory_desc_equal(&t, like)) continue;
    DN_TRY(dnnl_memory_desc_init_by_tag(out, 4, md->dims, dnnl_f32, tags[i]), "desc");
    break;
  }
fail:
  return rc;
}

/* The nhwc (acdb) desc of a rank-4 f32 md's dims. */
static dnnl_status_t md_nhwc_of(const dnnl_memory_desc_t *md, dnnl_memory_desc_t *out) {
  return dnnl_memory_desc_init_by_tag(out, 4, md->dims, dnnl_f32, dnnl_acdb);
}

static bool full4(const vrt_tensor *t, const vrt_tensor *out) {
  return t && t->ndim == 4 && vrt__same_shape(t, out);
}

static int binary_alg(int op, dnnl_alg_kind_t *alg) {
  switch (op) {
    case VRT_OP_Add: *alg = dnnl_binary_add; return 1;
    case VRT_OP_Mul: *alg = dnnl_binary_mul; return 1;
    case VRT_OP_Max: *alg = dnnl_binary_max; return 1;
    case VRT_OP_Min: *alg = dnnl_binary_min; return 1;
    case VRT_OP_Sub: *alg = dnnl_binary_sub; return 2; /* not commutative */
    case VRT_OP_Div: *alg = dnnl_binary_div; return 2;
    default: return 0;
  }
}

/* Which input is the full-shape one (src0) and which broadcasts (src1). */
static bool binary_roles(const vrt_kernel_req *rq, int *s0, int *s1) {
  dnnl_alg_kind_t alg = dnnl_binary_add;
  int k = binary_alg(rq->n->op, &alg);
  if (!k || rq->nin != 2 || !rq->in[0] || !rq->in[1] || rq->nout != 1) return false;
  const vrt_tensor *a = rq->in[0], *b = rq->in[1], *o = &rq->out[0];
  if (a->dtype != VRT_F32 || b->dtype != VRT_F32 || o->ndim != 4) return false;
  *s0 = full4(a, o) ? 0 : (k == 1 && full4(b, o)) ? 1 : -1;
  if (*s0 < 0) return false;
  *s1 = 1 - *s0;
  const vrt_tensor *t = rq->in[*s1];
  if (t->ndim > 4) return false;
  for (int i = 0; i < t->ndim; i++) { /* numpy broadcast into o: each dim equal or 1 */
    int64_t od = o->dims[4 - t->ndim + i];
    if (t->dims[i] != od && t->dims[i] != 1) return false;
  }
  return true;
}

/* ReduceMean / ReduceMax over exactly the two spatial axes of a rank-4
 * tensor (a channel gate's x.mean((2, 3), keepdim=True), a classifier's
 * final mean) is GlobalAveragePool / GlobalMaxPool; *keep says whether the
 * output keeps rank 4 (keepdims). Axes come from the attribute (opset < 18)
 * or a constant second input (opset 18). */
static bool reduce_spatial(const vrt_kernel_req *rq, bool *keep) {
  const vrt_node *n = rq->n;
  if (n->op != VRT_OP_ReduceMean && n->op != VRT_OP_ReduceMax) return false;
  if (rq->nin < 1 || !rq->in[0] || rq->in[0]->ndim != 4 || rq->nout != 1) return false;
  if (rq->in[0]->dims[0] < 1 || rq->in[0]->dims[1] < 1 || rq->in[0]->dims[2] < 1 || rq->in[0]->dims[3] < 1) return false;
  const int64_t *ax = NULL;
  int na;
  if (rq->nin > 1 && rq->in[1]) {
    const vrt_tensor *t = rq->in[1];
    if (!is_const(rq, 1) || t->dtype != VRT_I64 || t->ndim != 1) return false;
    ax = t->data;
    na = (int)t->dims[0];
  } else {
    na = vrt_attr_ints(n, "axes", &ax);
  }
  if (na != 2 || !ax) return false;
  bool seen[4] = {false, false, false, false};
  for (int i = 0; i < 2; i++) {
    int64_t a = ax[i] < 0 ? ax[i] + 4 : ax[i];
    if (a < 2 || a > 3 || seen[a]) return false;
    seen[a] = true;
  }
  *keep = vrt_attr_int(n, "keepdims", 1) != 0;
  return true;
}

static bool pool_supports(const vrt_kernel_req *rq) {
  int op = rq->n->op;
  bool keep;
  if (op == VRT_OP_ReduceMean || op == VRT_OP_ReduceMax)
    return reduce_spatial(rq, &keep) && rq->in[0]->dtype == VRT_F32;
  if (op != VRT_OP_MaxPool && op != VRT_OP_AveragePool && op != VRT_OP_GlobalAveragePool &&
      op != VRT_OP_GlobalMaxPool)
    return false;
  if (rq->nout != 1 || rq->in[0]->dtype != VRT_F32 || rq->in[0]->ndim != 4) return false;
  const nn_conv_params *p = rq->n->params;
  if (op == VRT_OP_MaxPool || op == VRT_OP_AveragePool) {
    /* ceil_mode: plan widens the right padding to ONNX's output size */
    if (!p || p->layout || p->storage_order) return false;
  }
  if (p && p->layout) return false;
  return true;
}

/* Resize, nearest, by integer factors on the last two axes (N and C kept):
 * for those, ONNX's asymmetric+floor and half_pixel+round_prefer_floor
 * both pick source floor((o + 0.5) / k), which is oneDNN's nearest too. */
static bool resize_supports(const vrt_kernel_req *rq) {
  const vrt_node *n = rq->n;
  if (n->op != VRT_OP_Resize || rq->nout != 1 || rq->in[0]->dtype != VRT_F32 || rq->in[0]->ndim != 4) return false;
  if (strcmp(vrt_attr_string(n, "mode", "nearest"), "nearest") || vrt_attr_int(n, "antialias", 0)) return false;
  const char *ct = vrt_attr_string(n, "coordinate_transformation_mode", "half_pixel");
  const char *nm = vrt_attr_string(n, "nearest_mode", "round_prefer_floor");
  bool ok = (!strcmp(ct, "asymmetric") && !strcmp(nm, "floor")) ||
            ((!strcmp(ct, "half_pixel") || !strcmp(ct, "pytorch_half_pixel")) && !strcmp(nm, "round_prefer_floor"));
  const vrt_tensor *x = rq->in[0], *o = &rq->out[0];
  if (!ok || o->ndim != 4 || o->dims[0] != x->dims[0] || o->dims[1] != x->dims[1]) return false;
  for (int i = 2; i < 4; i++)
    if (x->dims[i] < 1 || o->dims[i] < x->dims[i] || o->dims[i] % x->dims[i]) return false;
  /* pytorch_half_pixel differs when an output axis has length 1 */
  return strcmp(ct, "pytorch_half_pixel") || (o->dims[2] > 1 && o->dims[3] > 1);
}

/* Softmax / LogSoftmax (opset-13 single axis), any rank up to 6, plain. */
static bool softmax_supports(const vrt_kernel_req *rq) {
  int op = rq->n->op;
  if ((op != VRT_OP_Softmax && op != VRT_OP_LogSoftmax) || rq->nin != 1 || rq->nout != 1) return false;
  const vrt_tensor *x = rq->in[0];
  if (x->dtype != VRT_F32 || x->ndim < 1 || x->ndim > 6 || vrt_tensor_numel(x) <= 0) return false;
  int64_t axis = vrt_attr_int(rq->n, "axis", -1);
  return axis >= -x->ndim && axis < x->ndim;
}

static int softmax_plan(const vrt_kernel_req *rq, void **state) {
  const vrt_node *n = rq->n;
  const vrt_tensor *x = rq->in[0];
  int rc;
  dn_simple *c = plan_new(rq, sizeof *c, DN_SIMPLE, &rc);
  if (!c) return rc;
  dn_build bld = {NULL};
  dnnl_dims_t d, st;
  for (int i = x->ndim - 1; i >= 0; i--) {
    d[i] = x->dims[i];
    st[i] = i == x->ndim - 1 ? 1 : st[i + 1] * x->dims[i + 1];
  }
  int64_t axis = vrt_attr_int(n, "axis", -1);
  if (axis < 0) axis += x->ndim;
  dnnl_memory_desc_t md;
  DN_TRY(dnnl_memory_desc_init_by_strides(&md, x->ndim, d, dnnl_f32, st), "softmax desc");
  dnnl_softmax_v2_desc_t sd;
  DN_TRY(dnnl_softmax_v2_forward_desc_init(&sd, dnnl_forward_inference,
                                           n->op == VRT_OP_LogSoftmax ? dnnl_softmax_log : dnnl_softmax_accurate,
                                           &md, &md, (int)axis),
         "softmax desc");
  if ((rc = prim_make(rq, &bld, &sd, NULL, "softmax", &c->h.prim))) goto fail;
  c->nsrc = 1;
  c->src_arg[0] = DNNL_ARG_SRC;
  if ((rc = side_init(rq, &c->src[0], 0, &md, &md, true))) goto fail;
  rc = side_init(rq, &c->dst, -1, &md, &md, false);
fail:
  return plan_end(rq, rc, &bld, c, state);
}

/* The output side of a simple primitive pd: kept in the primitive's layout
 * when every reader takes it private (rank 4), else reordered to plain. */
static int simple_dst(const vrt_kernel_req *rq, dn_simple *c, const_dnnl_primitive_desc_t pd,
                      const dnnl_memory_desc_t *md_plain_out) {
  const dnnl_memory_desc_t *md_dst = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
  bool keep = rq->out_private_ok && rq->out_private_ok[0] && rq->out[0].ndim == 4 &&
              !dnnl_memory_desc_equal(md_dst, md_plain_out);
  if (keep) keep_out_private(rq, &c->md_out, md_dst);
  return side_init(rq, &c->dst, -1, keep ? md_dst : md_plain_out, md_dst, false);
}

static int simple_plan(const vrt_kernel_req *rq, void **state) {
  const vrt_node *n = rq->n;
  const vrt_tensor *out = &rq->out[0];
  bool red_keep = true, red = reduce_spatial(rq, &red_keep);
  if (out->ndim != 4 && !(red && !red_keep))
    return NN_ERR(n, VRT_EUNSUPPORTED, "oneDNN binary/pooling: rank-4 outputs only");
  int rc;
  dn_simple *c = plan_new(rq, sizeof *c, DN_SIMPLE, &rc);
  if (!c) return rc;
  dn_build bld = {NULL};
  dnnl_memory_desc_t md_plain_out, md_any_out, md_in[2];
  const dnnl_memory_desc_t *stored[2] = {NULL, NULL};
  /* a spatial reduce without keepdims writes [N, C]: the bytes of [N, C, 1, 1] */
  dnnl_dims_t od = {out->dims[0], out->dims[1], red ? 1 : out->dims[2], red ? 1 : out->dims[3]};
  DN_TRY(dnnl_memory_desc_init_by_tag(&md_plain_out, 4, od, dnnl_f32, dnnl_abcd), "dst desc");
  DN_TRY(dnnl_memory_desc_init_by_tag(&md_any_out, 4, od, dnnl_f32, dnnl_format_tag_any), "dst desc");
  int s0 = 0, s1 = 1;
  if (binary_roles(rq, &s0, &s1)) {
    dnnl_alg_kind_t alg = dnnl_binary_add;
    binary_alg(n->op, &alg);
    int idx[2] = {s0, s1};
    for (int i = 0; i < 2; i++) {
      if ((rc = plain4(rq, rq->in[idx[i]], &md_in[i]))) goto fail;
      stored[i] = rq->in_layout && rq->in_layout[idx[i]] ? rq->in_layout[idx[i]] : &md_in[i];
    }
    /* The primitive works in src0's stored layout, src1 brought to the
     * same one: oneDNN's jit binary takes a broadcast src1 (an SE block's
     * per-channel gate [1, C, 1, 1]) only in src0's own format, and has no
     * jit kernel at all for some (nChw8c, which grouped convolutions with 8
     * channels per group write, with a broadcast). Then src0 goes to nhwc
     * first: one reorder, and nhwc is what 1x1 convolutions read next. */
    bool bcast = !full4(rq->in[s1], out);
    dnnl_memory_desc_t md_like[2], md_nhwc[2];
    const dnnl_memory_desc_t *want[2] = {stored[0], bcast ? &md_in[1] : stored[0]};
    if (bcast && (rc = md_same_format(rq, stored[0], &md_in[1], &md_like[1])) == 0) want[1] = &md_like[1];
    if (rc < 0) goto fail;
    for (int attempt = 0; attempt < 2; attempt++) {
      if (attempt) {
        for (int i = 0; i < 2; i++)
          if (md_nhwc_of(&md_in[i], &md_nhwc[i]) != dnnl_success) goto fail; /* with the first refusal */
        if (dnnl_memory_desc_equal(stored[0], &md_nhwc[0])) break;           /* tried that */
        vrt__err_clear();
        want[0] = &md_nhwc[0], want[1] = &md_nhwc[1];
      }
      dnnl_binary_desc_t bd;
      DN_TRY(dnnl_binary_desc_init(&bd, alg, want[0], want[1], &md_any_out), "binary desc");
      if ((rc = prim_make(rq, &bld, &bd, NULL, "binary", &c->h.prim)) == 0) break;
    }
    if (rc) goto fail;
    c->nsrc = 2;
    c->src_arg[0] = DNNL_ARG_SRC_0, c->src_arg[1] = DNNL_ARG_SRC_1;
    if ((rc = side_init(rq, &c->src[0], s0, stored[0], want[0], true))) goto fail;
    if ((rc = side_init(rq, &c->src[1], s1, stored[1], want[1], true))) goto fail;
  } else if (resize_supports(rq)) {
    if ((rc = plain4(rq, rq->in[0], &md_in[0]))) goto fail;
    stored[0] = rq->in_layout && rq->in_layout[0] ? rq->in_layout[0] : &md_in[0];
    dnnl_resampling_desc_t rd;
    DN_TRY(dnnl_resampling_forward_desc_init(&rd, dnnl_forward_inference, dnnl_resampling_nearest, NULL, stored[0],
                                             &md_any_out),
           "resampling desc");
    if ((rc = prim_make(rq, &bld, &rd, NULL, "resampling", &c->h.prim))) goto fail;
    c->nsrc = 1;
    c->src_arg[0] = DNNL_ARG_SRC;
    if ((rc = side_init(rq, &c->src[0], 0, stored[0], stored[0], true))) goto fail;
  } else {
    const nn_conv_params *p = n->params;
    const vrt_tensor *x = rq->in[0];
    if ((rc = plain4(rq, x, &md_in[0]))) goto fail;
    stored[0] = rq->in_layout && rq->in_layout[0] ? rq->in_layout[0] : &md_in[0];
    dnnl_dims_t st = {1, 1}, k = {x->dims[2], x->dims[3]}, dil = {0, 0}, pl = {0, 0}, pr = {0, 0};
    dnnl_alg_kind_t alg = n->op == VRT_OP_MaxPool || n->op == VRT_OP_GlobalMaxPool || n->op == VRT_OP_ReduceMax
                              ? dnnl_pooling_max
                              : dnnl_pooling_avg_exclude_padding;
    if (n->op == VRT_OP_MaxPool || n->op == VRT_OP_AveragePool) {
      nn_geom g;
      if ((rc = nn_pool_geom(n, p, x, &g))) goto fail;
      for (int i = 0; i < 2; i++) {
        st[i] = g.s[1 + i], k[i] = g.k[1 + i], dil[i] = g.d[1 + i] - 1, pl[i] = g.pb[1 + i];
        /* oneDNN derives the output size from the padding: make it agree */
        pr[i] = (g.out[1 + i] - 1) * g.s[1 + i] + (g.k[1 + i] - 1) * g.d[1 + i] + 1 - g.in[1 + i] - g.pb[1 + i];
      }
      if (n->op == VRT_OP_AveragePool && p->count_include_pad) {
        /* ONNX divides by the taps inside the padded input, never the
         * ceil_mode overhang past the end pad; oneDNN's include_padding by
         * the whole kernel. Without pads both counts are the in-range taps;
         * with pads and an overhang oneDNN has no such divisor. */
        bool pads = false, over = false;
        for (int i = 0; i < 2; i++) pads |= g.pb[1 + i] || g.pe[1 + i], over |= pr[i] > g.pe[1 + i];
        if (pads && over) {
          rc = NN_ERR(n, VRT_EUNSUPPORTED, "count_include_pad with a ceil_mode overhang is not mapped to oneDNN");
          goto fail;
        }
        if (pads) alg = dnnl_pooling_avg_include_padding;
      }
    }
    dnnl_pooling_v2_desc_t pdsc;
    DN_TRY(dnnl_pooling_v2_forward_desc_init(&pdsc, dnnl_forward_inference, alg, stored[0], &md_any_out, st, k, dil,
                                             pl, pr),
           "pooling desc");
    if ((rc = prim_make(rq, &bld, &pdsc, NULL, "pooling", &c->h.prim))) goto fail;
    c->nsrc = 1;
    c->src_arg[0] = DNNL_ARG_SRC;
    if ((rc = side_init(rq, &c->src[0], 0, stored[0], stored[0], true))) goto fail;
  }
  rc = simple_dst(rq, c, bld.pd, &md_plain_out);
fail:
  return plan_end(rq, rc, &bld, c, state);
}

static int simple_exec(dn_simple *c, const vrt_node *n, const vrt_tensor *const *in, vrt_tensor *out,
                       vrt_exec_ctx *x) {
  int rc;
  dnnl_exec_arg_t a[3 + 4];
  for (int i = 0; i < c->nsrc; i++) {
    dn_side *d = &c->src[i];
    void *data = in[d->idx]->data;
    if (d->reorder) {
      void *t = x->scratch(x, d->bytes);
      if (!t) return NN_ERR(n, VRT_ENOMEM, "out of memory for a oneDNN reorder");
      dnnl_memory_set_data_handle(d->user, data);
      dnnl_memory_set_data_handle(d->mem, t);
      dnnl_exec_arg_t r[] = {{DNNL_ARG_FROM, d->user}, {DNNL_ARG_TO, d->mem}};
      if ((rc = run(n, d->reorder, c->h.stream, 2, r))) return rc;
    } else {
      dnnl_memory_set_data_handle(d->mem, data);
    }
    a[i] = (dnnl_exec_arg_t){c->src_arg[i], d->mem};
  }
  dn_side *d = &c->dst;
  void *t = out[0].data;
  if (d->reorder && !(t = x->scratch(x, d->bytes))) return NN_ERR(n, VRT_ENOMEM, "out of memory for oneDNN output");
  dnnl_memory_set_data_handle(d->mem, t);
  int na = c->nsrc;
  a[na++] = (dnnl_exec_arg_t){DNNL_ARG_DST, d->mem};
  for (int i = 0; i < c->nconst; i++) {
    dnnl_memory_set_data_handle(c->konst[i], in[c->const_idx[i]]->data);
    a[na++] = (dnnl_exec_arg_t){c->const_arg[i], c->konst[i]};
  }
  if ((rc = run(n, c->h.prim, c->h.stream, na, a))) return rc;
  if (d->reorder) {
    dnnl_memory_set_data_handle(d->user, out[0].data);
    dnnl_exec_arg_t r[] = {{DNNL_ARG_FROM, d->mem}, {DNNL_ARG_TO, d->user}};
    if ((rc = run(n, d->reorder, c->h.stream, 2, r))) return rc;
  }
  return 0;
}

/* ---- batch normalization and eltwise: in the producer's layout ------------ */

/* A BatchNormalization left standalone (fuse.c folds it into a Conv, or
 * makes a rank-4 one a depthwise 1x1 Conv; what remains is BatchNorm1d
 * over [N, C] or [N, C, L], with the ReLU after it folded in, or any with
 * VRT_FUSE=0) and a standalone activation run as one oneDNN primitive on
 * their input where its producer stored it (nChw16c, nhwc or plain),
 * writing the same layout: kept private when the readers take it,
 * reordered to plain otherwise. On the own kernels they would force the
 * producer to write plain data and sweep it in scalar loops. */

/* A standalone activation node as an nn_act (the kinds act_alg maps), from
 * its attributes and, for Clip, constant min / max inputs. */
static bool eltwise_act(const vrt_kernel_req *rq, nn_act *a) {
  const vrt_node *n = rq->n;
  memset(a, 0, sizeof *a);
  switch (n->op) {
    case VRT_OP_Relu: a->kind = NN_ACT_RELU; break;
    case VRT_OP_LeakyRelu: a->kind = NN_ACT_LEAKY, a->alpha = vrt_attr_float(n, "alpha", 0.01f); break;
    case VRT_OP_Sigmoid: a->kind = NN_ACT_SIGMOID; break;
    case VRT_OP_Tanh: a->kind = NN_ACT_TANH; break;
    case VRT_OP_Elu: a->kind = NN_ACT_ELU, a->alpha = vrt_attr_float(n, "alpha", 1.0f); break;
    case VRT_OP_HardSwish: a->kind = NN_ACT_HARDSWISH; break;
    case VRT_OP_Gelu:
      if (strcmp(vrt_attr_string(n, "approximate", "none"), "none")) return false;
      a->kind = NN_ACT_GELU;
      break;
    case VRT_OP_Clip:
      a->kind = NN_ACT_CLIP, a->alpha = vrt_attr_float(n, "min", -INFINITY), a->beta = vrt_attr_float(n, "max", INFINITY);
      for (int k = 1; k < rq->nin && k < 3; k++) {
        if (!rq->in[k]) continue;
        if (!is_const(rq, k) || rq->in[k]->dtype != VRT_F32 || vrt_tensor_numel(rq->in[k]) != 1) return false;
        *(k == 1 ? &a->alpha : &a->beta) = *(const float *)rq->in[k]->data;
      }
      break;
    default: return false;
  }
  return true;
}

/* Rank 1..4 float input, same-shape output. */
static bool unary4(const vrt_kernel_req *rq) {
  const vrt_tensor *x = rq->in[0];
  return rq->nout == 1 && x && x->dtype == VRT_F32 && x->ndim >= 1 && x->ndim <= 4 && vrt_tensor_numel(x) > 0 &&
         vrt__same_shape(x, &rq->out[0]);
}

static bool eltwise_supports(const vrt_kernel_req *rq) {
  nn_act a;
  dnnl_alg_kind_t alg;
  float al, be;
  return rq->nin >= 1 && unary4(rq) && eltwise_act(rq, &a) && act_alg(&a, &alg, &al, &be);
}

/* Inference BatchNormalization, NCHW, constant [C] scale, B, mean, var; no
 * fused activation or a ReLU. */
static bool bnorm_supports(const vrt_kernel_req *rq) {
  const vrt_node *n = rq->n;
  if (n->op != VRT_OP_BatchNormalization || rq->nin != 5 || !unary4(rq) || rq->in[0]->ndim < 2) return false;
  if (vrt_attr_int(n, "training_mode", 0) || vrt_attr_int(n, "vrt_layout", 0)) return false;
  for (int k = 1; k < 5; k++)
    if (!is_const(rq, k) || rq->in[k]->dtype != VRT_F32 || vrt_tensor_numel(rq->in[k]) != rq->in[0]->dims[1])
      return false;
  nn_act a;
  if (nn_act_parse(n, &a)) {
    vrt__err_clear();
    return false;
  }
  return a.kind == NN_ACT_NONE || a.kind == NN_ACT_RELU;
}

static int norm_plan(const vrt_kernel_req *rq, void **state) {
  const vrt_node *n = rq->n;
  int rc;
  dn_simple *c = plan_new(rq, sizeof *c, DN_SIMPLE, &rc);
  if (!c) return rc;
  dn_build bld = {NULL};
  dnnl_memory_desc_t md_plain, md_c;
  const vrt_tensor *x = rq->in[0];
  if ((rc = plain4(rq, x, &md_plain))) goto fail;
  if (n->op == VRT_OP_BatchNormalization && x->ndim < 4) { /* channels on axis 1: [N, C, L] as [N, C, L, 1] */
    dnnl_dims_t d = {1, 1, 1, 1};
    for (int i = 0; i < x->ndim; i++) d[i] = x->dims[i];
    DN_TRY(dnnl_memory_desc_init_by_tag(&md_plain, 4, d, dnnl_f32, dnnl_abcd), "plain desc");
  }
  const dnnl_memory_desc_t *stored = rq->in_layout && rq->in_layout[0] ? rq->in_layout[0] : &md_plain;
  if (n->op == VRT_OP_BatchNormalization) {
    nn_act act;
    if ((rc = nn_act_parse(n, &act))) goto fail;
    unsigned flags = dnnl_use_global_stats | dnnl_use_scale | dnnl_use_shift;
    if (act.kind == NN_ACT_RELU) flags |= dnnl_fuse_norm_relu;
    dnnl_batch_normalization_desc_t bd;
    DN_TRY(dnnl_batch_normalization_forward_desc_init(&bd, dnnl_forward_inference, stored,
                                                      vrt_attr_float(n, "epsilon", 1e-5f), flags),
           "batch normalization desc");
    if ((rc = prim_make(rq, &bld, &bd, NULL, "batch normalization", &c->h.prim))) goto fail;
    dnnl_dims_t cd = {x->dims[1]};
    DN_TRY(dnnl_memory_desc_init_by_tag(&md_c, 1, cd, dnnl_f32, dnnl_a), "channel desc");
    /* ONNX inputs: X, scale, B, mean, var */
    static const int args[4] = {DNNL_ARG_MEAN, DNNL_ARG_VARIANCE, DNNL_ARG_SCALE, DNNL_ARG_SHIFT};
    static const int idx[4] = {3, 4, 1, 2};
    c->nconst = 4;
    for (int i = 0; i < 4; i++) c->const_arg[i] = args[i], c->const_idx[i] = idx[i];
    if ((rc = mems_make(rq, 4, (dnnl_memory_t *const[]){&c->konst[0], &c->konst[1], &c->konst[2], &c->konst[3]},
                        (const dnnl_memory_desc_t *const[]){&md_c, &md_c, &md_c, &md_c})))
      goto fail;
  } else {
    nn_act act;
    dnnl_alg_kind_t alg;
    float alpha, beta;
    if (!eltwise_act(rq, &act) || !act_alg(&act, &alg, &alpha, &beta)) {
      rc = NN_ERR(n, VRT_EUNSUPPORTED, "oneDNN eltwise: activation not mapped");
      goto fail;
    }
    dnnl_eltwise_desc_t ed;
    DN_TRY(dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_inference, alg, stored, alpha, beta), "eltwise desc");
    if ((rc = prim_make(rq, &bld, &ed, NULL, "eltwise", &c->h.prim))) goto fail;
  }
  c->nsrc = 1;
  c->src_arg[0] = DNNL_ARG_SRC;
  if ((rc = side_init(rq, &c->src[0], 0, stored, stored, true))) goto fail;
  if ((rc = simple_dst(rq, c, bld.pd, &md_plain))) goto fail;
  /* oneDNN runs these in place: the output may take its input's bytes
   * when no reorder stands between them */
  if (!c->dst.reorder && rq->out_inplace) rq->out_inplace[0] = 0;
fail:
  return plan_end(rq, rc, &bld, c, state);
}

/* ---- concat: inputs in their stored layouts, output kept private --------- */

/* Concat of rank-4 float tensors along any axis (YOLO necks and C2f blocks
 * join channels). oneDNN's concat reads each input where its producer left
 * it (nhwc or blocked) and writes the joined tensor in the first input's
 * layout when the readers take it private, or straight into plain memory
 * otherwise: no reorder to plain and back around the join. */
#define DN_CONCAT_MAX 64 /* DenseNet-201 joins 49 */

typedef struct dn_concat {
  dn_head h; /* kind DN_CONCAT */
  int nsrc;
  dnnl_memory_t src[DN_CONCAT_MAX], dst;
  dnnl_memory_desc_t md_out;
} dn_concat;

static bool concat_supports(const vrt_kernel_req *rq) {
  const vrt_node *n = rq->n;
  if (n->op != VRT_OP_Concat || rq->nout != 1 || rq->nin < 2 || rq->nin > DN_CONCAT_MAX) return false;
  const vrt_tensor *o = &rq->out[0];
  if (o->dtype != VRT_F32 || o->ndim != 4) return false;
  int64_t axis = vrt_attr_int(n, "axis", 1);
  if (axis < -4 || axis > 3) return false;
  for (int k = 0; k < rq->nin; k++) {
    const vrt_tensor *t = rq->in[k];
    if (!t || t->dtype != VRT_F32 || t->ndim != 4 || vrt_tensor_numel(t) <= 0) return false;
  }
  return true;
}

static void concat_free(dn_concat *c) {
  objs_destroy(NULL, 0, c->src, (size_t)c->nsrc);
  objs_destroy(NULL, 0, &c->dst, 1);
}

static int concat_plan(const vrt_kernel_req *rq, void **state) {
  const vrt_node *n = rq->n;
  int rc;
  dn_concat *c = plan_new(rq, sizeof *c, DN_CONCAT, &rc);
  if (!c) return rc;
  dn_build bld = {NULL};
  int64_t axis = vrt_attr_int(n, "axis", 1);
  if (axis < 0) axis += 4;
  dnnl_memory_desc_t plain[DN_CONCAT_MAX], mds[DN_CONCAT_MAX], md_plain_out;
  for (int k = 0; k < rq->nin; k++) {
    if ((rc = plain4(rq, rq->in[k], &plain[k]))) goto fail;
    mds[k] = rq->in_layout && rq->in_layout[k] ? *(const dnnl_memory_desc_t *)rq->in_layout[k] : plain[k];
  }
  if ((rc = plain4(rq, &rq->out[0], &md_plain_out))) goto fail;
  bool priv = rq->out_private_ok && rq->out_private_ok[0];
  /* private: oneDNN picks the layout (the first input's); else plain */
  DN_TRY(dnnl_concat_primitive_desc_create(&bld.pd, priv ? NULL : &md_plain_out, rq->nin, (int)axis, mds, NULL,
                                           get_engine()),
         "concat");
  const dnnl_memory_desc_t *md_dst = dnnl_primitive_desc_query_md(bld.pd, dnnl_query_dst_md, 0);
  if (priv && !dnnl_memory_desc_equal(md_dst, &md_plain_out)) {
    keep_out_private(rq, &c->md_out, md_dst);
  } else if (!dnnl_memory_desc_equal(md_dst, &md_plain_out)) {
    rc = NN_ERR(n, VRT_EUNSUPPORTED, "oneDNN concat: unexpected output layout");
    goto fail;
  }
  c->nsrc = rq->nin;
  dnnl_memory_t *slots[DN_CONCAT_MAX + 1] = {&c->dst};
  const dnnl_memory_desc_t *descs[DN_CONCAT_MAX + 1] = {md_dst};
  for (int k = 0; k < rq->nin; k++) slots[k + 1] = &c->src[k], descs[k + 1] = &mds[k];
  if ((rc = mems_make(rq, rq->nin + 1, slots, descs))) goto fail;
  DN_TRY(dnnl_primitive_create(&c->h.prim, bld.pd), "concat primitive");
fail:
  return plan_end(rq, rc, &bld, c, state);
}

static int concat_exec(dn_concat *c, const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out,
                       vrt_exec_ctx *x) {
  if (nin != c->nsrc) return NN_ERR(n, VRT_EINVAL, "oneDNN concat planned for %d inputs, got %d", c->nsrc, nin);
  dnnl_exec_arg_t a[DN_CONCAT_MAX + 1];
  for (int k = 0; k < c->nsrc; k++) {
    dnnl_memory_set_data_handle(c->src[k], in[k]->data);
    a[k] = (dnnl_exec_arg_t){DNNL_ARG_MULTIPLE_SRC + k, c->src[k]};
  }
  dnnl_memory_set_data_handle(c->dst, out[0].data);
  a[c->nsrc] = (dnnl_exec_arg_t){DNNL_ARG_DST, c->dst};
  return run(n, c->h.prim, c->h.stream, c->nsrc + 1, a);
}

/* ---- slice: a window of a rank-4 tensor, as a reorder --------------------- */

/* Slice with unit steps of a rank-4 float tensor (C2f's channel split, YOLO's
 * chunk): a reorder from a oneDNN sub-memory view of the input, in whatever
 * layout its producer stored it, to the output, dense in the same axis order
 * when the readers take it private (nhwc stays nhwc), plain otherwise. */
typedef struct dn_slice {
  dn_head h; /* kind DN_SLICE */
  dnnl_memory_t src, dst;
  dnnl_memory_desc_t md_out;
} dn_slice;

static bool slice_window4(const vrt_kernel_req *rq, int64_t *start, int64_t *odims) {
  const vrt_node *n = rq->n;
  if (n->op != VRT_OP_Slice || rq->nout != 1 || rq->nin < 1 || !rq->in[0]) return false;
  const vrt_tensor *x = rq->in[0];
  if (x->dtype != VRT_F32 || x->ndim != 4 || rq->out[0].ndim != 4 || vrt_tensor_numel(&rq->out[0]) <= 0) return false;
  for (int k = 1; k < rq->nin; k++)
    if (rq->in[k] && !is_const(rq, k)) return false;
  int64_t step[4];
  if (vrt__slice_window(n, rq->in, rq->nin, start, step, odims) < 0) {
    vrt__err_clear();
    return false;
  }
  for (int d = 0; d < 4; d++)
    if (step[d] != 1 || odims[d] != rq->out[0].dims[d]) return false;
  return true;
}

static bool slice_supports(const vrt_kernel_req *rq) {
  int64_t start[4], odims[4];
  return slice_window4(rq, start, odims);
}

static void slice_free(dn_slice *c) {
  dnnl_memory_t mems[] = {c->src, c->dst};
  objs_destroy(NULL, 0, mems, DN_COUNT(mems));
}

/* A dense layout of dims with the axis order of md's strides (md without
 * inner blocks), or false. */
static bool dense_like(const dnnl_memory_desc_t *md, const int64_t *dims, dnnl_memory_desc_t *out) {
  if (md->format_kind != dnnl_blocked || md->format_desc.blocking.inner_nblks != 0 || md->ndims != 4) return false;
  const dnnl_dim_t *st = md->format_desc.blocking.strides;
  int order[4] = {0, 1, 2, 3};
  for (int i = 1; i < 4; i++) /* outermost first: larger stride, ties by axis */
    for (int j = i; j > 0 && st[order[j]] > st[order[j - 1]]; j--) {
      int t = order[j];
      order[j] = order[j - 1];
      order[j - 1] = t;
    }
  dnnl_dims_t d = {dims[0], dims[1], dims[2], dims[3]}, s;
  dnnl_dim_t acc = 1;
  for (int i = 3; i >= 0; i--) {
    s[order[i]] = acc;
    acc *= dims[order[i]];
  }
  return dnnl_memory_desc_init_by_strides(out, 4, d, dnnl_f32, s) == dnnl_success;
}

static int channel_block(const void *layout);

static int slice_plan(const vrt_kernel_req *rq, void **state) {
  const vrt_node *n = rq->n;
  int64_t start[4], odims[4];
  if (!slice_window4(rq, start, odims)) return NN_ERR(n, VRT_EUNSUPPORTED, "oneDNN slice: not a unit-step window");
  int rc;
  dn_slice *c = plan_new(rq, sizeof *c, DN_SLICE, &rc);
  if (!c) return rc;
  dn_build bld = {NULL};
  dnnl_memory_desc_t plain_in, parent, sub, md_plain_out, dst;
  if ((rc = plain4(rq, rq->in[0], &plain_in))) goto fail;
  if ((rc = plain4(rq, &rq->out[0], &md_plain_out))) goto fail;
  parent = rq->in_layout && rq->in_layout[0] ? *(const dnnl_memory_desc_t *)rq->in_layout[0] : plain_in;
  dnnl_dims_t sd = {odims[0], odims[1], odims[2], odims[3]}, so = {start[0], start[1], start[2], start[3]};
  DN_TRY(dnnl_memory_desc_init_submemory(&sub, &parent, sd, so), "slice view");
  /* a window of a blocked tensor (a detector head's, conv_head_src) leaves
   * as nhwc, the layout of the convolutions that follow */
  bool blocked = parent.format_kind == dnnl_blocked && parent.format_desc.blocking.inner_nblks > 0;
  int cb = channel_block(&parent);
  /* a window of whole channel blocks stays blocked: then it is a view of
   * the input (exec.c), and the kernel runs only if that falls through */
  bool whole = cb == 16 && start[0] == 0 && start[2] == 0 && start[3] == 0 && odims[2] == rq->in[0]->dims[2] &&
               odims[3] == rq->in[0]->dims[3] && start[1] % cb == 0 && odims[1] % cb == 0;
  bool priv = rq->out_private_ok && rq->out_private_ok[0] &&
              (whole    ? dnnl_memory_desc_init_by_tag(&dst, 4, sd, dnnl_f32, dnnl_nChw16c) == dnnl_success
               : blocked ? dnnl_memory_desc_init_by_tag(&dst, 4, sd, dnnl_f32, dnnl_nhwc) == dnnl_success
                         : dense_like(&parent, odims, &dst)) &&
              !dnnl_memory_desc_equal(&dst, &md_plain_out);
  if (priv) keep_out_private(rq, &c->md_out, &dst);
  else dst = md_plain_out;
  DN_TRY(dnnl_reorder_primitive_desc_create(&bld.pd, &sub, get_engine(), &dst, get_engine(), NULL), "slice reorder");
  DN_TRY(dnnl_primitive_create(&c->h.prim, bld.pd), "slice primitive");
  rc = mems_make(rq, 2, (dnnl_memory_t *const[]){&c->src, &c->dst}, (const dnnl_memory_desc_t *const[]){&sub, &dst});
fail:
  return plan_end(rq, rc, &bld, c, state);
}

static int slice_exec(dn_slice *c, const vrt_node *n, const vrt_tensor *const *in, vrt_tensor *out,
                      vrt_exec_ctx *x) {
  dnnl_memory_set_data_handle(c->src, in[0]->data);
  dnnl_memory_set_data_handle(c->dst, out[0].data);
  dnnl_exec_arg_t a[] = {{DNNL_ARG_FROM, c->src}, {DNNL_ARG_TO, c->dst}};
  return run(n, c->h.prim, c->h.stream, 2, a);
}

/* ---- MatMul / Gemm with constant weights, and VrtAttention ---------------
 * (separate from the convolution code above: its own state, plan and exec)
 *
 * A MatMul or Gemm whose B is a constant [K, N] (every Linear layer) runs as
 * one oneDNN matmul primitive on A viewed as [rows, K] (batch dims folded
 * into rows: B is shared), B packed once per model into the layout the
 * primitive picks, bias and activation as post-ops; with VRT_PRECISION=bf16
 * A and B in bf16 (f32 accumulation and output). A MatMul of two activations
 * is one batched matmul primitive on plain data (numpy broadcasting of the
 * batch dims), and an attention block (VrtAttention) three: Q.Kt (output scale = the softmax scale), the mask added,
 * Softmax in place, then .V: three primitives over the folded batch. */

enum { DN_MM = 16, DN_ATTN, DN_LN, DN_MM_DYN };

typedef struct dn_mm {
  dn_head h; /* kind DN_MM, DN_ATTN, DN_LN or DN_MM_DYN */
  dnnl_primitive_t r_src;           /* f32 -> bf16 of A (bf16 only) */
  dnnl_memory_t m_src_user, m_src, m_w, m_b, m_dst;
  size_t src_bytes;
  const void *w;                    /* packed weights, owned by the model */
  /* DN_ATTN: prim = Q.Kt, sm = softmax, pv = .V */
  dnnl_primitive_t sm, pv;
  dnnl_memory_t m_k, m_s, m_v, m_o;
  size_t s_bytes;
  /* the mask, added between Q.Kt and the softmax (oneDNN 2.6's matmul takes
   * a broadcast binary post-op only on its reference kernel): strides over
   * the folded [B, M, N] scores, 0 on broadcast dims */
  bool mask;
  int64_t B, M, N, mask_b, mask_m, mask_n;
} dn_mm;

static void mm_free(dn_mm *c) {
  dnnl_primitive_t prims[] = {c->r_src, c->sm, c->pv};
  dnnl_memory_t mems[] = {c->m_src_user, c->m_src, c->m_w, c->m_b, c->m_dst, c->m_k, c->m_s, c->m_v, c->m_o};
  objs_destroy(prims, DN_COUNT(prims), mems, DN_COUNT(mems));
}

/* The Gemm attributes the matmul primitive maps: A not transposed, alpha 1,
 * C absent or a [N] / [1, N] bias with beta 1. */
static bool gemm_plain(const vrt_kernel_req *rq, int64_t N) {
  const vrt_node *n = rq->n;
  if (vrt_attr_int(n, "transA", 0) || vrt_attr_float(n, "alpha", 1.0f) != 1.0f) return false;
  if (rq->nin < 3 || !rq->in[2]) return true;
  const vrt_tensor *c = rq->in[2];
  if (!is_const(rq, 2) || vrt_attr_float(n, "beta", 1.0f) != 1.0f || c->dtype != VRT_F32) return false;
  return (c->ndim == 1 && c->dims[0] == N) || (c->ndim == 2 && c->dims[0] == 1 && c->dims[1] == N);
}

/* A MatMul of two activations (no bias, no activation), ranks 2..6 with
 * numpy-broadcast batch dims: one batched matmul primitive on plain data. */
static bool mm_dyn_supports(const vrt_kernel_req *rq) {
  const vrt_node *n = rq->n;
  if (n->op != VRT_OP_MatMul || rq->nout != 1 || rq->nin != 2 || vrt_node_attr(n, "vrt_act")) return false;
  const vrt_tensor *a = rq->in[0], *b = rq->in[1];
  if (!a || !b || a->dtype != VRT_F32 || b->dtype != VRT_F32 || a->ndim < 2 || b->ndim < 2 || a->ndim > 6 ||
      b->ndim > 6 || is_const(rq, 1))
    return false;
  if (a->dims[a->ndim - 1] != b->dims[b->ndim - 2] || vrt_tensor_numel(a) <= 0 || vrt_tensor_numel(b) <= 0)
    return false;
  for (int i = 3; i <= a->ndim || i <= b->ndim; i++) {
    int64_t da = i <= a->ndim ? a->dims[a->ndim - i] : 1, db = i <= b->ndim ? b->dims[b->ndim - i] : 1;
    if (da != db && da != 1 && db != 1) return false;
  }
  return true;
}

static int mm_dyn_plan(const vrt_kernel_req *rq, void **state) {
  const vrt_tensor *a = rq->in[0], *b = rq->in[1];
  int r = a->ndim > b->ndim ? a->ndim : b->ndim;
  dnnl_dims_t ad, bd, od;
  for (int i = 0; i < r; i++) { /* left-padded with 1s to rank r */
    int ia = i - (r - a->ndim), ib = i - (r - b->ndim);
    ad[i] = ia >= 0 ? a->dims[ia] : 1;
    bd[i] = ib >= 0 ? b->dims[ib] : 1;
    od[i] = i < r - 2 ? (ad[i] > bd[i] ? ad[i] : bd[i]) : 0;
  }
  od[r - 2] = ad[r - 2], od[r - 1] = bd[r - 1];
  int rc;
  dn_mm *c = plan_new(rq, sizeof *c, DN_MM_DYN, &rc);
  if (!c) return rc;
  dn_build bld = {NULL};
  static const dnnl_format_tag_t plain[] = {dnnl_ab, dnnl_ab, dnnl_ab, dnnl_abc, dnnl_abcd, dnnl_abcde, dnnl_abcdef};
  dnnl_memory_desc_t md_a, md_b, md_o;
  DN_TRY(dnnl_memory_desc_init_by_tag(&md_a, r, ad, dnnl_f32, plain[r]), "src desc");
  DN_TRY(dnnl_memory_desc_init_by_tag(&md_b, r, bd, dnnl_f32, plain[r]), "weights desc");
  DN_TRY(dnnl_memory_desc_init_by_tag(&md_o, r, od, dnnl_f32, plain[r]), "dst desc");
  dnnl_matmul_desc_t mdsc;
  DN_TRY(dnnl_matmul_desc_init(&mdsc, &md_a, &md_b, NULL, &md_o), "matmul desc");
  if ((rc = prim_make(rq, &bld, &mdsc, NULL, "matmul", &c->h.prim))) goto fail;
  rc = mems_make(rq, 3, (dnnl_memory_t *const[]){&c->m_src, &c->m_k, &c->m_dst},
                 (const dnnl_memory_desc_t *const[]){&md_a, &md_b, &md_o});
fail:
  return plan_end(rq, rc, &bld, c, state);
}

static int mm_dyn_exec(dn_mm *c, const vrt_node *n, const vrt_tensor *const *in, vrt_tensor *out, vrt_exec_ctx *x) {
  dnnl_memory_set_data_handle(c->m_src, in[0]->data);
  dnnl_memory_set_data_handle(c->m_k, in[1]->data);
  dnnl_memory_set_data_handle(c->m_dst, out[0].data);
  dnnl_exec_arg_t a[] = {{DNNL_ARG_SRC, c->m_src}, {DNNL_ARG_WEIGHTS, c->m_k}, {DNNL_ARG_DST, c->m_dst}};
  return run(n, c->h.prim, c->h.stream, 3, a);
}

static bool mm_supports(const vrt_kernel_req *rq) {
  const vrt_node *n = rq->n;
  if ((n->op != VRT_OP_MatMul && n->op != VRT_OP_Gemm) || rq->nout != 1 || rq->nin > 3) return false;
  const vrt_tensor *a = rq->in[0], *b = rq->in[1];
  if (!a || !b || a->dtype != VRT_F32 || b->dtype != VRT_F32 || a->ndim < 2 || b->ndim != 2 || !is_const(rq, 1))
    return false;
  bool tb = n->op == VRT_OP_Gemm && vrt_attr_int(n, "transB", 0);
  int64_t K = tb ? b->dims[1] : b->dims[0], N = tb ? b->dims[0] : b->dims[1];
  if (a->dims[a->ndim - 1] != K || K <= 0 || N <= 0 || vrt_tensor_numel(a) <= 0) return false;
  if (n->op == VRT_OP_Gemm ? (a->ndim != 2 || !gemm_plain(rq, N))
                           : (rq->nin > 2 && rq->in[2] && (!is_const(rq, 2) || vrt_tensor_numel(rq->in[2]) != N)))
    return false;
  nn_act act;
  dnnl_alg_kind_t alg;
  float al, be;
  if (nn_act_parse(n, &act)) return false;
  return act.kind == NN_ACT_NONE || act_alg(&act, &alg, &al, &be);
}

enum { DN_MM_AS_IS_BYTES = 64 << 20 };

static int mm_plan(const vrt_kernel_req *rq, void **state, dnnl_data_type_t cdt) {
  const vrt_node *n = rq->n;
  const vrt_tensor *a = rq->in[0], *b = rq->in[1];
  bool tb = n->op == VRT_OP_Gemm && vrt_attr_int(n, "transB", 0);
  int64_t K = a->dims[a->ndim - 1], N = tb ? b->dims[0] : b->dims[1], R = vrt_tensor_numel(a) / K;
  int rc;
  dn_mm *c = plan_new(rq, sizeof *c, DN_MM, &rc);
  if (!c) return rc;
  dn_build bld = {NULL};
  dnnl_engine_t eng = get_engine();
  dnnl_dims_t sd = {R, K}, wd = {K, N}, dd = {R, N}, bd = {1, N};
  dnnl_memory_desc_t md_src_user, md_src, md_w_user, md_w_any, md_b, md_dst;
  DN_TRY(dnnl_memory_desc_init_by_tag(&md_src_user, 2, sd, dnnl_f32, dnnl_ab), "src desc");
  DN_TRY(dnnl_memory_desc_init_by_tag(&md_src, 2, sd, cdt, dnnl_ab), "src desc");
  DN_TRY(dnnl_memory_desc_init_by_tag(&md_w_user, 2, wd, dnnl_f32, tb ? dnnl_ba : dnnl_ab), "weights desc");
  DN_TRY(dnnl_memory_desc_init_by_tag(&md_w_any, 2, wd, cdt, dnnl_format_tag_any), "weights desc");
  DN_TRY(dnnl_memory_desc_init_by_tag(&md_b, 2, bd, dnnl_f32, dnnl_ab), "bias desc");
  DN_TRY(dnnl_memory_desc_init_by_tag(&md_dst, 2, dd, dnnl_f32, dnnl_ab), "dst desc");
  bool bias = rq->nin > 2 && rq->in[2];
  nn_act act;
  if ((rc = nn_act_parse(n, &act))) goto fail;
  if ((rc = post_ops_make(rq, &bld, false, &act))) goto fail;
  dnnl_matmul_desc_t mdsc;
  /* A big weight (VGG's 25088x4096 classifier: 411 MB) is read as the model
   * holds it when oneDNN has a real kernel for that layout: a packed copy
   * would make the model resident twice while it is made (a peak above ORT's)
   * and buys nothing for the few rows of a batch-1 matmul, which streams the
   * weight once either way. */
  bool as_is = cdt == dnnl_f32 && R <= 16 && dnnl_memory_desc_get_size(&md_w_user) >= DN_MM_AS_IS_BYTES;
  /* transB ([N, K] rows, torchvision's Linear): an inner product over oi
   * weights, whose kernel streams each row (matmul's on that layout is
   * slower than on a packed copy: AlexNet 1.12x ORT); else matmul on [K, N] */
  dnnl_dims_t oid = {N, K}, b1d = {N};
  dnnl_memory_desc_t md_w_as_is = md_w_user, md_b_as_is = md_b;
  if (as_is) {
    dnnl_inner_product_desc_t ipd;
    if (tb)
      as_is = dnnl_memory_desc_init_by_tag(&md_w_as_is, 2, oid, dnnl_f32, dnnl_ab) == dnnl_success &&
              dnnl_memory_desc_init_by_tag(&md_b_as_is, 1, b1d, dnnl_f32, dnnl_x) == dnnl_success &&
              dnnl_inner_product_forward_desc_init(&ipd, dnnl_forward_inference, &md_src, &md_w_as_is,
                                                   bias ? &md_b_as_is : NULL, &md_dst) == dnnl_success &&
              prim_make(rq, &bld, &ipd, bld.attr, "inner product", &c->h.prim) == 0;
    else
      as_is = dnnl_matmul_desc_init(&mdsc, &md_src, &md_w_user, bias ? &md_b : NULL, &md_dst) == dnnl_success &&
              prim_make(rq, &bld, &mdsc, bld.attr, "matmul", &c->h.prim) == 0;
    if (!as_is) vrt__err_clear();
  }
  if (!as_is) {
    DN_TRY(dnnl_matmul_desc_init(&mdsc, &md_src, &md_w_any, bias ? &md_b : NULL, &md_dst), "matmul desc");
    if ((rc = prim_make(rq, &bld, &mdsc, bld.attr, "matmul", &c->h.prim))) goto fail;
  }
  const dnnl_memory_desc_t *md_w = dnnl_primitive_desc_query_md(bld.pd, dnnl_query_weights_md, 0);
  if (as_is && dnnl_memory_desc_equal(md_w, &md_w_as_is)) {
    /* pinned for good: the original's pages are never given back */
    if ((rc = vrt__model_weights_pin(rq->m, rq->node, true))) goto fail;
    c->w = rq->in[1]->data;
    DN_TRY(dnnl_memory_create(&c->m_w, md_w, eng, (void *)c->w), "weights memory");
  } else if ((rc = weights_bind(rq, &md_w_user, md_w, &c->w, &c->m_w))) {
    goto fail;
  }
  if (bias) DN_TRY(dnnl_memory_create(&c->m_b, as_is ? &md_b_as_is : &md_b, eng, rq->in[2]->data), "bias memory");
  DN_TRY(dnnl_memory_create(&c->m_src, &md_src, eng, DNNL_MEMORY_NONE), "memory");
  DN_TRY(dnnl_memory_create(&c->m_dst, &md_dst, eng, DNNL_MEMORY_NONE), "memory");
  if (cdt != dnnl_f32) {
    DN_TRY(dnnl_memory_create(&c->m_src_user, &md_src_user, eng, DNNL_MEMORY_NONE), "memory");
    if ((rc = make_reorder(rq, &md_src_user, &md_src, &c->r_src))) goto fail;
    c->src_bytes = dnnl_memory_desc_get_size(&md_src);
  }
fail:
  return plan_end(rq, rc, &bld, c, state);
}

static int mm_exec(dn_mm *c, const vrt_node *n, const vrt_tensor *const *in, vrt_tensor *out, vrt_exec_ctx *x) {
  int rc;
  void *src = in[0]->data;
  if (c->r_src) {
    if (!(src = x->scratch(x, c->src_bytes))) return NN_ERR(n, VRT_ENOMEM, "out of memory for oneDNN source");
    dnnl_memory_set_data_handle(c->m_src_user, in[0]->data);
    dnnl_memory_set_data_handle(c->m_src, src);
    dnnl_exec_arg_t r[] = {{DNNL_ARG_FROM, c->m_src_user}, {DNNL_ARG_TO, c->m_src}};
    if ((rc = run(n, c->r_src, c->h.stream, 2, r))) return rc;
  }
  dnnl_memory_set_data_handle(c->m_src, src);
  dnnl_memory_set_data_handle(c->m_dst, out[0].data);
  dnnl_exec_arg_t a[4] = {{DNNL_ARG_SRC, c->m_src}, {DNNL_ARG_WEIGHTS, c->m_w}, {DNNL_ARG_DST, c->m_dst}};
  int na = 3;
  if (c->m_b) a[na++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, c->m_b};
  return run(n, c->h.prim, c->h.stream, na, a);
}

/* VrtAttention with the batch dims folded into one (the mask must broadcast
 * over all of them or over none). */
static bool attn_supports(const vrt_kernel_req *rq) {
  if (rq->n->op != VRT_OP_VrtAttention || rq->nout != 1) return false;
  nn_attn_geom_t g;
  if (nn_attn_geom(rq->n, rq->in, rq->nin, &g)) {
    vrt__err_clear();
    return false;
  }
  if (g.M <= 0 || g.N <= 0 || g.D <= 0 || g.Dv <= 0) return false;
  if (g.mask) {
    bool any = false, all = true;
    for (int i = 0; i < g.rank - 2; i++) any |= g.mst[i] != 0, all &= g.mst[i] != 0 || rq->in[0]->dims[i] == 1;
    if (any && !all) return false;
  }
  return true;
}

static int attn_plan(const vrt_kernel_req *rq, void **state) {
  const vrt_node *n = rq->n;
  nn_attn_geom_t g;
  int rc = nn_attn_geom(n, rq->in, rq->nin, &g);
  if (rc) return rc;
  dn_mm *c = plan_new(rq, sizeof *c, DN_ATTN, &rc);
  if (!c) return rc;
  dn_build bld = {NULL};
  int64_t B = g.batch;
  dnnl_dims_t qd = {B, g.M, g.D}, kd = {B, g.D, g.N}, sd = {B, g.M, g.N}, vd = {B, g.N, g.Dv}, od = {B, g.M, g.Dv};
  dnnl_memory_desc_t md_q, md_k, md_s, md_v, md_o;
  DN_TRY(dnnl_memory_desc_init_by_tag(&md_q, 3, qd, dnnl_f32, dnnl_abc), "q desc");
  DN_TRY(dnnl_memory_desc_init_by_tag(&md_k, 3, kd, dnnl_f32, dnnl_abc), "k desc");
  DN_TRY(dnnl_memory_desc_init_by_tag(&md_s, 3, sd, dnnl_f32, dnnl_abc), "s desc");
  DN_TRY(dnnl_memory_desc_init_by_tag(&md_v, 3, vd, dnnl_f32, dnnl_abc), "v desc");
  DN_TRY(dnnl_memory_desc_init_by_tag(&md_o, 3, od, dnnl_f32, dnnl_abc), "o desc");
  DN_TRY(dnnl_primitive_attr_create(&bld.attr), "attr");
  if (g.scale != 1.0f) DN_TRY(dnnl_primitive_attr_set_output_scales(bld.attr, 1, 0, &g.scale), "output scale");
  if (g.mask) { /* folded to [1 or B, 1 or M, 1 or N], dense over the dims it has */
    bool mb = false;
    for (int i = 0; i < g.rank - 2; i++) mb |= g.mst[i] != 0;
    int64_t mm = g.mst[g.rank - 2] ? g.M : 1, mn = g.mst[g.rank - 1] ? g.N : 1;
    c->mask_n = mn > 1, c->mask_m = mm > 1 ? mn : 0, c->mask_b = mb ? mm * mn : 0;
    c->mask = true;
  }
  c->B = B, c->M = g.M, c->N = g.N;
  dnnl_matmul_desc_t mdsc;
  DN_TRY(dnnl_matmul_desc_init(&mdsc, &md_q, &md_k, NULL, &md_s), "matmul desc");
  if ((rc = prim_make(rq, &bld, &mdsc, bld.attr, "matmul", &c->h.prim))) goto fail;
  dnnl_softmax_v2_desc_t smd;
  DN_TRY(dnnl_softmax_v2_forward_desc_init(&smd, dnnl_forward_inference, dnnl_softmax_accurate, &md_s, &md_s, 2),
         "softmax desc");
  if ((rc = prim_make(rq, &bld, &smd, NULL, "softmax", &c->sm))) goto fail;
  DN_TRY(dnnl_matmul_desc_init(&mdsc, &md_s, &md_v, NULL, &md_o), "matmul desc");
  if ((rc = prim_make(rq, &bld, &mdsc, NULL, "matmul", &c->pv))) goto fail;
  c->s_bytes = dnnl_memory_desc_get_size(&md_s);
  rc = mems_make(rq, 5, (dnnl_memory_t *const[]){&c->m_src, &c->m_k, &c->m_s, &c->m_v, &c->m_o},
                 (const dnnl_memory_desc_t *const[]){&md_q, &md_k, &md_s, &md_v, &md_o});
fail:
  return plan_end(rq, rc, &bld, c, state);
}

static int attn_exec(dn_mm *c, const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out,
                     vrt_exec_ctx *x) {
  int rc;
  void *s = x->scratch(x, c->s_bytes);
  if (!s) return NN_ERR(n, VRT_ENOMEM, "out of memory for attention scores");
  dnnl_memory_set_data_handle(c->m_src, in[0]->data);
  dnnl_memory_set_data_handle(c->m_k, in[1]->data);
  dnnl_memory_set_data_handle(c->m_v, in[2]->data);
  dnnl_memory_set_data_handle(c->m_s, s);
  dnnl_memory_set_data_handle(c->m_o, out[0].data);
  dnnl_exec_arg_t a[] = {{DNNL_ARG_SRC, c->m_src}, {DNNL_ARG_WEIGHTS, c->m_k}, {DNNL_ARG_DST, c->m_s}};
  if ((rc = run(n, c->h.prim, c->h.stream, 3, a))) return rc;
  if (c->mask) {
    if (nin < 4 || !in[3]) return NN_ERR(n, VRT_EINVAL, "attention mask missing");
    const float *mk = in[3]->data;
    float *sc = s;
    for (int64_t t = 0; t < c->B; t++)
      for (int64_t i = 0; i < c->M; i++) {
        float *row = sc + (t * c->M + i) * c->N;
        const float *mr = mk + t * c->mask_b + i * c->mask_m;
        if (c->mask_n)
          for (int64_t j = 0; j < c->N; j++) row[j] += mr[j];
        else
          for (int64_t j = 0; j < c->N; j++) row[j] += mr[0];
      }
  }
  dnnl_exec_arg_t b[] = {{DNNL_ARG_SRC, c->m_s}, {DNNL_ARG_DST, c->m_s}};
  if ((rc = run(n, c->sm, c->h.stream, 2, b))) return rc;
  dnnl_exec_arg_t d[] = {{DNNL_ARG_SRC, c->m_s}, {DNNL_ARG_WEIGHTS, c->m_v}, {DNNL_ARG_DST, c->m_o}};
  return run(n, c->pv, c->h.stream, 3, d);
}

/* LayerNormalization with dense [D] scale (and bias) over the trailing axes
 * (folded into one of D), no Mean / InvStdDev outputs: oneDNN's
 * layer_normalization primitive (vectorised; the op's own kernel
 * accumulates in double). Shares dn_mm: prim, m_src, m_dst, m_w (scale),
 * m_b (shift). */
static bool ln_supports(const vrt_kernel_req *rq) {
  const vrt_node *n = rq->n;
  if (n->op != VRT_OP_LayerNormalization || rq->nout != 1 || rq->nin < 2 || !rq->in[0] || !rq->in[1]) return false;
  const vrt_tensor *x = rq->in[0];
  if (x->dtype != VRT_F32 || x->ndim < 1 || rq->in[1]->dtype != VRT_F32) return false;
  int64_t axis = vrt_attr_int(n, "axis", -1);
  if (axis < 0) axis += x->ndim;
  if (axis < 0 || axis >= x->ndim) return false;
  int64_t D = vrt__numel(x->dims + axis, x->ndim - (int)axis);
  if (D <= 0 || vrt_tensor_numel(x) <= 0 || vrt_tensor_numel(rq->in[1]) != D) return false;
  return rq->nin < 3 || !rq->in[2] || (rq->in[2]->dtype == VRT_F32 && vrt_tensor_numel(rq->in[2]) == D);
}

static int ln_plan(const vrt_kernel_req *rq, void **state) {
  const vrt_node *n = rq->n;
  const vrt_tensor *x = rq->in[0];
  int64_t axis = vrt_attr_int(n, "axis", -1);
  if (axis < 0) axis += x->ndim;
  int64_t D = vrt__numel(x->dims + axis, x->ndim - (int)axis), R = vrt_tensor_numel(x) / D;
  int rc;
  dn_mm *c = plan_new(rq, sizeof *c, DN_LN, &rc);
  if (!c) return rc;
  dn_build bld = {NULL};
  bool shift = rq->nin > 2 && rq->in[2];
  dnnl_dims_t dd = {R, D}, sd = {D};
  dnnl_memory_desc_t md, md_s;
  DN_TRY(dnnl_memory_desc_init_by_tag(&md, 2, dd, dnnl_f32, dnnl_ab), "data desc");
  DN_TRY(dnnl_memory_desc_init_by_tag(&md_s, 1, sd, dnnl_f32, dnnl_a), "scale desc");
  dnnl_layer_normalization_desc_t ld;
  DN_TRY(dnnl_layer_normalization_forward_desc_init(&ld, dnnl_forward_inference, &md, NULL,
                                                    vrt_attr_float(n, "epsilon", 1e-5f),
                                                    dnnl_use_scale | (shift ? dnnl_use_shift : 0)),
         "layer normalization desc");
  if ((rc = prim_make(rq, &bld, &ld, NULL, "layer normalization", &c->h.prim))) goto fail;
  /* src, dst, scale and (when there is one) shift */
  rc = mems_make(rq, shift ? 4 : 3, (dnnl_memory_t *const[]){&c->m_src, &c->m_dst, &c->m_w, &c->m_b},
                 (const dnnl_memory_desc_t *const[]){&md, &md, &md_s, &md_s});
fail:
  return plan_end(rq, rc, &bld, c, state);
}

static int ln_exec(dn_mm *c, const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out,
                   vrt_exec_ctx *x) {
  dnnl_memory_set_data_handle(c->m_src, in[0]->data);
  dnnl_memory_set_data_handle(c->m_dst, out[0].data);
  dnnl_memory_set_data_handle(c->m_w, in[1]->data);
  dnnl_exec_arg_t a[4] = {{DNNL_ARG_SRC, c->m_src}, {DNNL_ARG_DST, c->m_dst}, {DNNL_ARG_SCALE, c->m_w}};
  int na = 3;
  if (c->m_b) {
    if (nin < 3 || !in[2]) return NN_ERR(n, VRT_EINVAL, "LayerNormalization bias missing");
    dnnl_memory_set_data_handle(c->m_b, in[2]->data);
    a[na++] = (dnnl_exec_arg_t){DNNL_ARG_SHIFT, c->m_b};
  }
  return run(n, c->h.prim, c->h.stream, na, a);
}

/* ---- the backend ----------------------------------------------------------- */

static bool supports(const vrt_kernel_req *rq) {
  if (!get_engine()) return false;
  int s0, s1;
  return conv_supports(rq) || binary_roles(rq, &s0, &s1) || pool_supports(rq) || resize_supports(rq) ||
         softmax_supports(rq) || concat_supports(rq) || slice_supports(rq) || mm_supports(rq) ||
         mm_dyn_supports(rq) || attn_supports(rq) || ln_supports(rq) || bnorm_supports(rq) || eltwise_supports(rq);
}

static bool is_conv(const vrt_node *n) { return n->op == VRT_OP_Conv || n->op == VRT_OP_ConvTranspose; }

/* bf16 (when asked for and the CPU has it): source and weights in bf16,
 * destination, bias and post-ops in f32. A shape oneDNN has no bf16 kernel
 * for runs in f32 rather than on the reference kernel. */
static int plan_node(const vrt_kernel_req *rq, void **state);

static int plan(const vrt_kernel_req *rq, void **state) {
  /* some kernels split their work when the primitive is created, by the
   * thread count in force then: make it the node's team */
  int team = dn_team(rq);
  nn_set_threads(team);
  int rc = plan_node(rq, state);
  if (rc == 0) ((dn_head *)*state)->team = team, ((dn_head *)*state)->flush = dn_flush();
  return rc;
}

static int plan_node(const vrt_kernel_req *rq, void **state) {
  if (softmax_supports(rq)) return softmax_plan(rq, state);
  if (attn_supports(rq)) return attn_plan(rq, state);
  if (ln_supports(rq)) return ln_plan(rq, state);
  if (mm_dyn_supports(rq)) return mm_dyn_plan(rq, state);
  if (mm_supports(rq)) {
    if (dn_bf16(rq) && mm_plan(rq, state, dnnl_bf16) == 0) return 0;
    vrt__err_clear();
    return mm_plan(rq, state, dnnl_f32);
  }
  if (concat_supports(rq)) return concat_plan(rq, state);
  if (rq->n->op == VRT_OP_Slice) return slice_plan(rq, state);
  if (bnorm_supports(rq) || eltwise_supports(rq)) return norm_plan(rq, state);
  if (!is_conv(rq->n)) return simple_plan(rq, state);
  if (dn_bf16(rq) && conv_plan(rq, state, dnnl_bf16, 0) == 0) return 0;
  vrt__err_clear();
  dnnl_format_tag_t head = conv_head_src(rq);
  if (head && conv_plan(rq, state, dnnl_f32, head) == 0) return 0;
  vrt__err_clear();
  if (pw_ok(rq) && pw_plan(rq, state) == 0) return 0;
  vrt__err_clear();
  return conv_plan(rq, state, dnnl_f32, 0);
}

static int exec_kind(void *state, const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                     vrt_exec_ctx *x);

static int exec(void *state, const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                vrt_exec_ctx *x) {
  const dn_head *h = state;
  nn_set_threads(h->team);
  unsigned csr = dn_flush_on(h->flush);
  int rc = exec_kind(state, n, in, nin, out, nout, x);
  dn_flush_off(csr);
  return rc;
}

static int exec_kind(void *state, const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                     vrt_exec_ctx *x) {
  if (*(int *)state == DN_SIMPLE) return simple_exec(state, n, in, out, x);
  if (*(int *)state == DN_CONCAT) return concat_exec(state, n, in, nin, out, x);
  if (*(int *)state == DN_SLICE) return slice_exec(state, n, in, out, x);
  if (*(int *)state == DN_PW) return pw_exec(state, n, in, out);
  if (*(int *)state == DN_MM) return mm_exec(state, n, in, out, x);
  if (*(int *)state == DN_ATTN) return attn_exec(state, n, in, nin, out, x);
  if (*(int *)state == DN_LN) return ln_exec(state, n, in, nin, out, x);
  if (*(int *)state == DN_MM_DYN) return mm_dyn_exec(state, n, in, out, x);
  return conv_exec(state, n, in, nin, out, nout, x);
}

static void release(void *state) {
  dn_head *h = state;
  if (!h) return;
  if (h->kind == DN_SIMPLE) simple_free(state);
  else if (h->kind == DN_CONCAT) concat_free(state);
  else if (h->kind == DN_SLICE) slice_free(state);
  else if (h->kind == DN_PW) pw_free(state);
  else if (h->kind >= DN_MM) mm_free(state);
  else conv_free(state);
  objs_destroy(&h->prim, 1, NULL, 0);
  if (h->stream) dnnl_stream_destroy(h->stream);
  free(h);
}

/* NCHW convolutions read their input (0) and residual (4) in whatever layout
 * the producer wrote; binary ops their full-shape operands; pools, batch
 * normalization and activations their rank-4 input. */
static bool accepts_private(const vrt_kernel_req *rq, int k) {
  if (is_conv(rq->n)) {
    const nn_conv_params *p = rq->n->params;
    if (!p || p->layout) return false;
    return k == 0 || (k == 4 && rq->n->op == VRT_OP_Conv);
  }
  if (concat_supports(rq)) return true;
  if (rq->n->op == VRT_OP_Slice) return k == 0 && slice_supports(rq);
  int s0, s1;
  if (binary_roles(rq, &s0, &s1)) return k == s0 || (k == s1 && full4(rq->in[s1], &rq->out[0]));
  return k == 0 && (pool_supports(rq) || resize_supports(rq) || (rq->in[0]->ndim == 4 && (bnorm_supports(rq) || eltwise_supports(rq))));
}

/* nChw16c (nChw8c ...) of a batch-1 tensor without channel padding: dense
 * blocks of b channels, one after the other. */
static int channel_block(const void *layout) {
  const dnnl_memory_desc_t *md = layout;
  if (md->format_kind != dnnl_blocked || md->ndims != 4 || md->dims[0] != 1 || md->offset0) return 0;
  const dnnl_blocking_desc_t *bk = &md->format_desc.blocking;
  if (bk->inner_nblks != 1 || bk->inner_idxs[0] != 1 || bk->inner_blks[0] < 2) return 0;
  dnnl_dim_t b = bk->inner_blks[0], H = md->dims[2], W = md->dims[3];
  if (md->padded_dims[1] != md->dims[1] || md->dims[1] % b) return 0;
  if ((md->dims[1] > b && bk->strides[1] != H * W * b) || (H > 1 && bk->strides[2] != W * b) ||
      (W > 1 && bk->strides[3] != b))
    return 0;
  return (int)b;
}

const vrt_backend vrt__backend_onednn = {
    .name = "onednn", .supports_op = supports, .plan = plan, .exec = exec, .release = release,
    .accepts_private = accepts_private, .channel_block = channel_block,
};
