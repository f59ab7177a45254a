/* CPU kernels of the "nn" family of ops.def: the family table plus helpers
 * shared by nn_*.c (fused activations, conv/pool attributes and geometry).
 *
 * Layout of the family:
 *   nn_conv.c     Conv, ConvTranspose: reference loops + fast path
 *                 (own im2col/col2im + oneDNN's sgemm, direct depthwise)
 *   nn_pool.c     MaxPool AveragePool LpPool GlobalAveragePool GlobalMaxPool
 *   nn_matmul.c   MatMul, Gemm (fast path: oneDNN sgemm), Einsum
 *   nn_norm.c     Batch/Instance/Layer/Group/LpNormalization, Softmax,
 *                 LogSoftmax, Hardmax
 *   nn_resize.c   Resize, Upsample
 *   nn_select.c   TopK, NonMaxSuppression
 *   nn_loss.c     NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss
 *   nn_gridsample.c GridSample
 *   nn_quant.c    ConvInteger, MatMulInteger, QLinearConv, QLinearMatMul
 *   nn_rnn.c      RNN, GRU, LSTM
 *   nn_roialign.c RoiAlign
 *   (LRN and MeanVarianceNormalization live in nn_norm.c, MaxUnpool in nn_pool.c)
 *
 * VRT_REFERENCE=1 in the environment forces the reference kernels
 * everywhere (read at every call).
 *
 * Fused activations (loader attributes "vrt_act", "vrt_act_alpha") apply to
 * Conv, Gemm and MatMul. "Prelu" takes its slope tensor (1 or C elements,
 * C = output channels / last dim) as an extra input after the bias:
 *   Conv:   X, W, [B], slope
 *   Gemm:   A, B, [C], slope
 *   MatMul: A, B, [bias along the last dim, a vrt extension], slope */
#include "nn.h"

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool nn_use_reference(void) {
  const char *e = getenv("VRT_REFERENCE");
  return e && *e && strcmp(e, "0") != 0;
}

/* How oneDNN's OpenMP workers wait between parallel regions. libgomp's
 * default (OMP_WAIT_POLICY unset) lets a worker spin 300000 polls (~15 ms
 * on this CPU, where a pause takes ~140 cycles) after every region: at 2
 * threads the spinning worker holds the core a neighbour needs (another
 * session, another service, the other camera) long after the run, and with
 * that core busy a region waits for a worker that is not scheduled. Passive
 * workers (OMP_WAIT_POLICY=passive, no spinning) sleep at once, but then
 * every region wakes a sleeping thread on an idle CPU; in a KVM guest that
 * costs so much after an idle gap that 2 threads were no faster than 1 for
 * runs spaced 30 ms apart (resnet18: 23 ms at 1 and 2 threads, 13 ms back to
 * back). VRT_OMP_SPINCOUNT polls (~0.5 ms here) keep the worker awake across
 * the short gaps between the regions of one run (2 threads: 12.5 ms with the
 * gaps) and let it sleep soon after the run; libgomp itself cuts the spin to
 * 100 polls when it manages more threads than there are CPUs. libgomp reads
 * GOMP_SPINCOUNT once, in its constructor, before main; setting it from the
 * executable's .preinit_array does not work: glibc's own constructor runs
 * after it and resets environ to the loader's array. So the program
 * re-executes itself with the variable set, first thing in main. A
 * GOMP_SPINCOUNT or OMP_WAIT_POLICY the user set is left alone. */
#define VRT_OMP_SPINCOUNT "10000"

void vrt_omp_env_reexec(char **argv) {
  if (!argv || !argv[0] || getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
  if (setenv("GOMP_SPINCOUNT", VRT_OMP_SPINCOUNT, 0)) return;
  execv("/proc/self/exe", argv);
  /* no /proc: this process keeps libgomp's default; its children (exec)
   * get the variable */
}

/* oneDNN here is built on OpenMP, which sizes its team from the calling
 * thread's nthreads ICV. Setting it per call makes sgemm honour the
 * session's thread count (default 1) instead of grabbing every core, which
 * on a shared, oversubscribed machine is many times slower. The symbol is
 * looked up at run time (libgomp comes in through libdnnl), so vrt does not
 * need -fopenmp. */
static void (*omp_set_threads_fn)(int);
static pthread_once_t omp_once = PTHREAD_ONCE_INIT;
static _Thread_local int omp_threads_now;

static void omp_lookup(void) { *(void **)&omp_set_threads_fn = dlsym(RTLD_DEFAULT, "omp_set_num_threads"); }

void nn_set_threads(int threads) {
  if (threads < 1) threads = 1;
  if (threads == omp_threads_now) return;
  pthread_once(&omp_once, omp_lookup);
  if (omp_set_threads_fn) omp_set_threads_fn(threads);
  omp_threads_now = threads;
}

/* ---- fused activations -------------------------------------------------- */

int nn_act_parse(const vrt_node *n, nn_act *a) {
  static const struct {
    const char *name;
    nn_act_kind kind;
    float alpha, beta;
  } acts[] = {
      {"Relu", NN_ACT_RELU, 0, 0},         {"Relu6", NN_ACT_RELU6, 0, 0},   {"LeakyRelu", NN_ACT_LEAKY, 0.01f, 0},
      {"Sigmoid", NN_ACT_SIGMOID, 0, 0},   {"Tanh", NN_ACT_TANH, 0, 0},     {"Elu", NN_ACT_ELU, 1.0f, 0},
      {"HardSwish", NN_ACT_HARDSWISH, 0, 0}, {"Prelu", NN_ACT_PRELU, 0, 0}, {"PRelu", NN_ACT_PRELU, 0, 0},
      {"Clip", NN_ACT_CLIP, -INFINITY, INFINITY}, {"SiLU", NN_ACT_SILU, 0, 0}, {"Gelu", NN_ACT_GELU, 0, 0},
  };
  memset(a, 0, sizeof *a);
  const char *s = vrt_attr_string(n, "vrt_act", NULL);
  if (!s || !*s || strcmp(s, "None") == 0 || strcmp(s, "Identity") == 0 || strcmp(s, "Linear") == 0) return 0;
  for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++)
    if (strcmp(s, acts[i].name) == 0) {
      a->kind = acts[i].kind;
      a->alpha = vrt_attr_float(n, "vrt_act_alpha", acts[i].alpha);
      a->beta = vrt_attr_float(n, "vrt_act_beta", acts[i].beta);
      return 0;
    }
  return NN_ERR(n, VRT_EUNSUPPORTED, "unknown fused activation '%s'", s);
}

static void act_span(nn_act_kind k, float alpha, float beta, float *y, int64_t n) {
  switch (k) {
    case NN_ACT_CLIP:
      for (int64_t i = 0; i < n; i++) y[i] = y[i] < alpha ? alpha : (y[i] > beta ? beta : y[i]);
      break;
    case NN_ACT_SILU:
      for (int64_t i = 0; i < n; i++) y[i] = y[i] / (1.0f + expf(-y[i]));
      break;
    case NN_ACT_GELU:
      for (int64_t i = 0; i < n; i++) y[i] = 0.5f * y[i] * (1.0f + erff(y[i] * 0.70710678118654752f));
      break;
    case NN_ACT_NONE:
    case NN_ACT_PRELU: break;
    case NN_ACT_RELU:
      for (int64_t i = 0; i < n; i++) y[i] = y[i] > 0 ? y[i] : 0;
      break;
    case NN_ACT_RELU6:
      for (int64_t i = 0; i < n; i++) y[i] = y[i] < 0 ? 0 : (y[i] > 6 ? 6 : y[i]);
      break;
    case NN_ACT_LEAKY:
      for (int64_t i = 0; i < n; i++) y[i] = y[i] >= 0 ? y[i] : alpha * y[i];
      break;
    case NN_ACT_SIGMOID:
      for (int64_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-y[i]));
      break;
    case NN_ACT_TANH:
      for (int64_t i = 0; i < n; i++) y[i] = tanhf(y[i]);
      break;
    case NN_ACT_ELU:
      for (int64_t i = 0; i < n; i++) y[i] = y[i] >= 0 ? y[i] : alpha * (expf(y[i]) - 1.0f);
      break;
    case NN_ACT_HARDSWISH:
      for (int64_t i = 0; i < n; i++) {
        float t = y[i] / 6.0f + 0.5f;
        t = t < 0 ? 0 : (t > 1 ? 1 : t);
        y[i] *= t;
      }
      break;
  }
}

/* One sweep over y: each chunk (a [C] row when inner == 1, else an [inner]
 * plane) gets its bias and activation while it is in cache. */
void nn_bias_act(float *y, int64_t outer, int64_t C, int64_t inner, const float *bias, const nn_act *a,
                 const float *slope, int64_t nslope) {
  nn_act_kind k = a ? a->kind : NN_ACT_NONE;
  float alpha = a ? a->alpha : 0, beta = a ? a->beta : 0;
  if (!bias && k == NN_ACT_NONE) return;
  if (inner == 1) {
    for (int64_t o = 0; o < outer; o++) {
      float *p = y + o * C;
      if (bias)
        for (int64_t c = 0; c < C; c++) p[c] += bias[c];
      if (k == NN_ACT_PRELU) {
        for (int64_t c = 0; c < C; c++) {
          float s = slope[nslope == 1 ? 0 : c];
          p[c] = p[c] >= 0 ? p[c] : s * p[c];
        }
      } else {
        act_span(k, alpha, beta, p, C);
      }
    }
    return;
  }
  for (int64_t o = 0; o < outer; o++)
    for (int64_t c = 0; c < C; c++) {
      float *p = y + (o * C + c) * inner;
      if (bias) {
        float b = bias[c];
        for (int64_t i = 0; i < inner; i++) p[i] += b;
      }
      if (k == NN_ACT_PRELU) {
        float s = slope[nslope == 1 ? 0 : c];
        for (int64_t i = 0; i < inner; i++) p[i] = p[i] >= 0 ? p[i] : s * p[i];
      } else {
        act_span(k, alpha, beta, p, inner);
      }
    }
}

int nn_prelu_slope(const vrt_node *n, const vrt_tensor *const *in, int nin, int idx, int64_t C,
                   const nn_act *a, const float **slope, int64_t *nslope) {
  *slope = NULL;
  *nslope = 0;
  if (a->kind != NN_ACT_PRELU) return 0;
  if (idx >= nin || !in[idx]) return NN_ERR(n, VRT_EINVAL, "fused Prelu needs its slope as input %d", idx);
  const vrt_tensor *t = in[idx];
  int64_t k = vrt_tensor_numel(t);
  if (t->dtype != VRT_F32 || (k != 1 && k != C))
    return NN_ERR(n, VRT_ESHAPE, "Prelu slope must be float32 with 1 or %lld elements", (long long)C);
  *slope = t->data;
  *nslope = k;
  return 0;
}

/* ---- conv / pool attributes and geometry --------------------------------- */

static int read_ints(const vrt_node *n, const char *name, int64_t *dst, int max, int *count, int64_t minv) {
  const int64_t *v;
  int k = vrt_attr_ints(n, name, &v);
  if (k > max) return NN_ERR(n, VRT_EUNSUPPORTED, "attribute %s has %d values; at most %d supported", name, k, max);
  for (int i = 0; i < k; i++) {
    if (v[i] < minv || v[i] > (1 << 24))
      return NN_ERR(n, VRT_EINVAL, "attribute %s[%d] = %lld out of range", name, i, (long long)v[i]);
    dst[i] = v[i];
  }
  *count = k;
  return 0;
}

int nn_conv_prepare(vrt_node *n) {
  nn_conv_params *p = calloc(1, sizeof *p);
  if (!p) return NN_ERR(n, VRT_ENOMEM, "out of memory");
  int rc = 0;
  p->layout = (int)vrt_attr_int(n, "vrt_layout", 0);
  p->group = vrt_attr_int(n, "group", 1);
  p->ceil_mode = (int)vrt_attr_int(n, "ceil_mode", 0);
  p->count_include_pad = (int)vrt_attr_int(n, "count_include_pad", 0);
  p->storage_order = (int)vrt_attr_int(n, "storage_order", 0);
  p->p = vrt_attr_int(n, "p", 2);
  const char *ap = vrt_attr_string(n, "auto_pad", "NOTSET");
  if (strcmp(ap, "NOTSET") == 0 || !*ap) p->auto_pad = NN_PAD_NOTSET;
  else if (strcmp(ap, "SAME_UPPER") == 0) p->auto_pad = NN_PAD_SAME_UPPER;
  else if (strcmp(ap, "SAME_LOWER") == 0) p->auto_pad = NN_PAD_SAME_LOWER;
  else if (strcmp(ap, "VALID") == 0) p->auto_pad = NN_PAD_VALID;
  else rc = NN_ERR(n, VRT_EINVAL, "bad auto_pad '%s'", ap);
  if (!rc && (p->layout < 0 || p->layout > 1)) rc = NN_ERR(n, VRT_EINVAL, "bad vrt_layout %d", p->layout);
  if (!rc && (p->group < 1 || p->group > (1 << 24))) rc = NN_ERR(n, VRT_EINVAL, "bad group %lld", (long long)p->group);
  if (!rc) rc = read_ints(n, "kernel_shape", p->kernel, 3, &p->nk, 1);
  if (!rc) rc = read_ints(n, "strides", p->strides, 3, &p->nstrides, 1);
  if (!rc) rc = read_ints(n, "dilations", p->dil, 3, &p->ndil, 1);
  if (!rc) rc = read_ints(n, "pads", p->pads, 6, &p->npads, -(1 << 24));
  if (!rc) rc = read_ints(n, "output_padding", p->outpad, 3, &p->noutpad, 0);
  if (!rc) rc = read_ints(n, "output_shape", p->outshape, 3, &p->noutshape, 1);
  if (!rc) rc = nn_act_parse(n, &p->act);
  return nn_params_keep(n, p, rc);
}

void nn_layout_strides(int layout, int64_t C, const int64_t sp[3], int64_t *sn, int64_t *sc, int64_t ssp[3]) {
  int64_t plane = sp[0] * sp[1] * sp[2];
  if (layout == 0) {
    ssp[2] = 1;
    ssp[1] = sp[2];
    ssp[0] = sp[1] * sp[2];
    *sc = plane;
    *sn = C * plane;
  } else {
    *sc = 1;
    ssp[2] = C;
    ssp[1] = C * sp[2];
    ssp[0] = C * sp[1] * sp[2];
    *sn = C * plane;
  }
}

void nn_layout_dims(int layout, int nsp, int64_t N, int64_t C, const int64_t sp[3], int64_t *dims) {
  dims[0] = N;
  if (layout == 0) {
    dims[1] = C;
    for (int i = 0; i < nsp; i++) dims[2 + i] = sp[3 - nsp + i];
  } else {
    for (int i = 0; i < nsp; i++) dims[1 + i] = sp[3 - nsp + i];
    dims[1 + nsp] = C;
  }
}

/* Convolution by the definition, any layout (the layout only changes the
 * element strides): y[n, m, o] = b[m] + the sum over the group's input
 * channels c and the in-range taps q of x[n, c, o*s - pb + q*d] * w[m, c, q].
 * The oracle of Conv (float, accumulated in float) and of ConvInteger /
 * QLinearConv (int32 operands, int64 accumulator). */
#define CONV_DIRECT(NAME, T, A)                                                                    \
  void NAME(const nn_geom *g, const T *x, const T *w, const T *b, A *y) {                          \
    int64_t xsn, xsc, xs[3], ysn, ysc, ys[3];                                                      \
    nn_layout_strides(g->layout, g->C, g->in, &xsn, &xsc, xs);                                     \
    nn_layout_strides(g->layout, g->M, g->out, &ysn, &ysc, ys);                                    \
    int64_t Cg = g->C / g->group, Mg = g->M / g->group, kk = g->k[0] * g->k[1] * g->k[2];          \
    for (int64_t n = 0; n < g->N; n++)                                                             \
      for (int64_t m = 0; m < g->M; m++) {                                                         \
        const T *wm = w + m * Cg * kk;                                                             \
        int64_t c0 = (m / Mg) * Cg;                                                                \
        for (int64_t o0 = 0; o0 < g->out[0]; o0++)                                                 \
          for (int64_t o1 = 0; o1 < g->out[1]; o1++)                                               \
            for (int64_t o2 = 0; o2 < g->out[2]; o2++) {                                           \
              A acc = b ? (A)b[m] : 0;                                                             \
              for (int64_t c = 0; c < Cg; c++)                                                     \
                for (int64_t q0 = 0; q0 < g->k[0]; q0++) {                                         \
                  int64_t i0 = o0 * g->s[0] - g->pb[0] + q0 * g->d[0];                             \
                  if (i0 < 0 || i0 >= g->in[0]) continue;                                          \
                  for (int64_t q1 = 0; q1 < g->k[1]; q1++) {                                       \
                    int64_t i1 = o1 * g->s[1] - g->pb[1] + q1 * g->d[1];                           \
                    if (i1 < 0 || i1 >= g->in[1]) continue;                                        \
                    for (int64_t q2 = 0; q2 < g->k[2]; q2++) {                                     \
                      int64_t i2 = o2 * g->s[2] - g->pb[2] + q2 * g->d[2];                         \
                      if (i2 < 0 || i2 >= g->in[2]) continue;                                      \
                      acc += (A)x[n * xsn + (c0 + c) * xsc + i0 * xs[0] + i1 * xs[1] + i2 * xs[2]] * \
                             wm[((c * g->k[0] + q0) * g->k[1] + q1) * g->k[2] + q2];               \
                    }                                                                              \
                  }                                                                                \
                }                                                                                  \
              y[n * ysn + m * ysc + o0 * ys[0] + o1 * ys[1] + o2 * ys[2]] = acc;                   \
            }                                                                                      \
      }                                                                                            \
  }

CONV_DIRECT(nn_conv_direct_f32, float, float)
CONV_DIRECT(nn_conv_direct_i32, int32_t, int64_t)

int nn_read_nchw(const vrt_node *n, const vrt_tensor *x, int layout, nn_geom *g) {
  memset(g, 0, sizeof *g);
  if (x->ndim < 3 || x->ndim > 5)
    return NN_ERR(n, VRT_ESHAPE, "input must have rank 3..5, got %d", x->ndim);
  g->nsp = x->ndim - 2;
  g->layout = layout;
  g->N = x->dims[0];
  g->C = layout == 0 ? x->dims[1] : x->dims[x->ndim - 1];
  for (int i = 0; i < 3; i++) g->in[i] = g->out[i] = g->k[i] = g->s[i] = g->d[i] = 1;
  for (int i = 0; i < g->nsp; i++) g->in[3 - g->nsp + i] = x->dims[(layout == 0 ? 2 : 1) + i];
  /* bounds keep the int64 window arithmetic (dims up to 2^32 times strides
   * and dilations up to 2^24) far from overflow */
  if (g->N < 0 || g->C < 0 || g->N > (INT64_C(1) << 32) || g->C > (INT64_C(1) << 32))
    return NN_ERR(n, VRT_ESHAPE, "bad batch/channel dimension");
  for (int i = 0; i < 3; i++)
    if (g->in[i] < 0 || g->in[i] > (INT64_C(1) << 32)) return NN_ERR(n, VRT_ESHAPE, "bad spatial dimension");
  return 0;
}

/* Fills g->out/pb/pe from g->in, k, s, d and the pad attributes; ceil is the
 * pooling ceil_mode. */
static int64_t floordiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

static int out_geom(const vrt_node *n, const nn_conv_params *p, nn_geom *g, int ceil) {
  int nsp = g->nsp;
  if (p->npads && p->npads != 2 * nsp && p->auto_pad == NN_PAD_NOTSET)
    return NN_ERR(n, VRT_EINVAL, "pads has %d values, expected %d", p->npads, 2 * nsp);
  for (int i = 0; i < nsp; i++) {
    int j = 3 - nsp + i;
    int64_t ext = (g->k[j] - 1) * g->d[j] + 1;
    switch (p->auto_pad) {
      case NN_PAD_NOTSET:
        g->pb[j] = p->npads ? p->pads[i] : 0;
        g->pe[j] = p->npads ? p->pads[i + nsp] : 0;
        if (g->pb[j] < 0 || g->pe[j] < 0) return NN_ERR(n, VRT_EINVAL, "negative pads");
        break;
      case NN_PAD_VALID: g->pb[j] = g->pe[j] = 0; break;
      default: {
        int64_t o = (g->in[j] + g->s[j] - 1) / g->s[j];
        int64_t total = (o - 1) * g->s[j] + ext - g->in[j];
        if (total < 0) total = 0;
        if (p->auto_pad == NN_PAD_SAME_UPPER) {
          g->pb[j] = total / 2;
          g->pe[j] = total - g->pb[j];
        } else {
          g->pe[j] = total / 2;
          g->pb[j] = total - g->pe[j];
        }
      }
    }
    int64_t span = g->in[j] + g->pb[j] + g->pe[j] - ext;
    if (span < 0) return NN_ERR(n, VRT_ESHAPE, "kernel extent %lld larger than padded input %lld", (long long)ext,
                                (long long)(g->in[j] + g->pb[j] + g->pe[j]));
    int64_t o = ceil ? (span + g->s[j] - 1) / g->s[j] + 1 : span / g->s[j] + 1;
    /* the last window must start inside the input or its leading pad */
    if (ceil && (o - 1) * g->s[j] >= g->in[j] + g->pb[j]) o--;
    g->out[j] = o;
  }
  (void)floordiv;
  return 0;
}

int nn_pool_geom(const vrt_node *n, const nn_conv_params *p, const vrt_tensor *x, nn_geom *g) {
  int rc = nn_read_nchw(n, x, p->layout, g);
  if (rc) return rc;
  if (p->nk != g->nsp) return NN_ERR(n, VRT_EINVAL, "kernel_shape has %d values for %d spatial dims", p->nk, g->nsp);
  if ((p->nstrides && p->nstrides != g->nsp) || (p->ndil && p->ndil != g->nsp))
    return NN_ERR(n, VRT_EINVAL, "strides/dilations rank does not match the input");
  for (int i = 0; i < g->nsp; i++) {
    int j = 3 - g->nsp + i;
    g->k[j] = p->kernel[i];
    g->s[j] = p->nstrides ? p->strides[i] : 1;
    g->d[j] = p->ndil ? p->dil[i] : 1;
  }
  g->M = g->C;
  g->group = 1;
  return out_geom(n, p, g, p->ceil_mode);
}

/* Conv geometry: x [N,C,sp] (layout), w [M, C/group, k...]. */
int nn_conv_geom(const vrt_node *n, const nn_conv_params *p, const vrt_tensor *x, const vrt_tensor *w, nn_geom *g) {
  int rc = nn_read_nchw(n, x, p->layout, g);
  if (rc) return rc;
  if (w->ndim != x->ndim) return NN_ERR(n, VRT_ESHAPE, "weights rank %d != input rank %d", w->ndim, x->ndim);
  g->group = p->group;
  if (w->dims[0] < 0 || w->dims[0] > (INT64_C(1) << 32) || w->dims[1] < 0 || w->dims[1] > (INT64_C(1) << 32))
    return NN_ERR(n, VRT_ESHAPE, "bad weights shape");
  g->M = w->dims[0];
  if (g->C % p->group || g->M % p->group || w->dims[1] * p->group != g->C)
    return NN_ERR(n, VRT_ESHAPE, "channels: input %lld, weights %lldx%lld, group %lld", (long long)g->C,
                  (long long)w->dims[0], (long long)w->dims[1], (long long)p->group);
  if ((p->nk && p->nk != g->nsp) || (p->nstrides && p->nstrides != g->nsp) || (p->ndil && p->ndil != g->nsp))
    return NN_ERR(n, VRT_EINVAL, "kernel_shape/strides/dilations rank does not match the input");
  for (int i = 0; i < g->nsp; i++) {
    int j = 3 - g->nsp + i;
    g->k[j] = w->dims[2 + i];
    if (p->nk && p->kernel[i] != g->k[j]) return NN_ERR(n, VRT_ESHAPE, "kernel_shape does not match the weights");
    g->s[j] = p->nstrides ? p->strides[i] : 1;
    g->d[j] = p->ndil ? p->dil[i] : 1;
    if (g->k[j] < 1 || g->k[j] > (1 << 24)) return NN_ERR(n, VRT_ESHAPE, "bad kernel size");
  }
  return out_geom(n, p, g, 0);
}

/* ConvTranspose geometry: w [C, M/group, k...]. */
int nn_convt_geom(const vrt_node *n, const nn_conv_params *p, const vrt_tensor *x, const vrt_tensor *w, nn_geom *g) {
  int rc = nn_read_nchw(n, x, p->layout, g);
  if (rc) return rc;
  int nsp = g->nsp;
  if (w->ndim != x->ndim) return NN_ERR(n, VRT_ESHAPE, "weights rank %d != input rank %d", w->ndim, x->ndim);
  g->group = p->group;
  if (w->dims[0] != g->C || g->C % p->group)
    return NN_ERR(n, VRT_ESHAPE, "weights have %lld input channels, data %lld (group %lld)", (long long)w->dims[0],
                  (long long)g->C, (long long)p->group);
  if (w->dims[1] < 0 || w->dims[1] > (INT64_C(1) << 32)) return NN_ERR(n, VRT_ESHAPE, "bad weights shape");
  g->M = w->dims[1] * p->group;
  if ((p->nk && p->nk != nsp) || (p->nstrides && p->nstrides != nsp) || (p->ndil && p->ndil != nsp) ||
      (p->noutpad && p->noutpad != nsp) || (p->noutshape && p->noutshape != nsp && p->noutshape != nsp + 2))
    return NN_ERR(n, VRT_EINVAL, "attribute ranks do not match the input");
  for (int i = 0; i < nsp; i++) {
    int j = 3 - nsp + i;
    g->k[j] = w->dims[2 + i];
    if (p->nk && p->kernel[i] != g->k[j]) return NN_ERR(n, VRT_ESHAPE, "kernel_shape does not match the weights");
    if (g->k[j] < 1 || g->k[j] > (1 << 24)) return NN_ERR(n, VRT_ESHAPE, "bad kernel size");
    g->s[j] = p->nstrides ? p->strides[i] : 1;
    g->d[j] = p->ndil ? p->dil[i] : 1;
    int64_t op = p->noutpad ? p->outpad[i] : 0;
    int64_t full = g->s[j] * (g->in[j] - 1) + op + (g->k[j] - 1) * g->d[j] + 1;
    int64_t want = -1;
    if (p->noutshape) want = p->outshape[p->noutshape == nsp ? i : i + 2];
    else if (p->auto_pad == NN_PAD_SAME_UPPER || p->auto_pad == NN_PAD_SAME_LOWER) want = g->in[j] * g->s[j];
    if (want >= 0) {
      int64_t total = full - want;
      if (p->auto_pad == NN_PAD_SAME_UPPER) {
        g->pb[j] = floordiv(total, 2);
        g->pe[j] = total - g->pb[j];
      } else {
        g->pe[j] = floordiv(total, 2);
        g->pb[j] = total - g->pe[j];
      }
      g->out[j] = want;
    } else {
      if (p->npads && p->npads != 2 * nsp) return NN_ERR(n, VRT_EINVAL, "pads has %d values", p->npads);
      g->pb[j] = p->npads && p->auto_pad != NN_PAD_VALID ? p->pads[i] : 0;
      g->pe[j] = p->npads && p->auto_pad != NN_PAD_VALID ? p->pads[i + nsp] : 0;
      g->out[j] = full - g->pb[j] - g->pe[j];
    }
    if (g->out[j] < 1) return NN_ERR(n, VRT_ESHAPE, "output size %lld is not positive", (long long)g->out[j]);
  }
  return 0;
}

