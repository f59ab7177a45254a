/* bench_kernels: one op family at a time, NHWC f32, one thread: XNNPACK
 * operators vs oneDNN primitives (called directly through dnnl.h) vs vrt's
 * current kernel (vrt_node_run1, the fast path), on the layer shapes of the
 * real TF.js models (centernet, movenet, blazeface, faceres).
 *
 * usage: bench_kernels [--runs N] [--quick]
 *
 * Operators and primitives are created once per case (weights packed once,
 * as a backend would at plan time); only execution is timed. The three run
 * in turn inside each round, in a rotating order; the table quotes medians, the ratios divide by
 * vrt's median, and max_diff is each library's largest difference from
 * vrt's output. oneDNN uses plain nhwc activations (what an XNNPACK/vrt
 * neighbour would hand it) and lets the primitive pick the weights layout.
 * OMP_NUM_THREADS is forced to 1 (the program re-executes itself). */
#include <dnnl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exec.h"
#include "ir.h"
#include "ops.h"

#ifdef VIGIL_HAVE_XNNPACK
#include <xnnpack.h>
#endif

typedef enum { K_CONV, K_FC, K_MAXPOOL, K_AVGPOOL, K_GAVGPOOL } kind;

typedef struct kcase {
  const char *name;
  kind k;
  int64_t h, w, cin, cout, kh, stride, pad, group; /* FC: h rows, cin -> cout; pools: kh x kh window */
} kcase;

static const kcase CASES[] = {
    {"conv3x3 s2 3->16 512 (centernet)", K_CONV, 512, 512, 3, 16, 3, 2, 1, 1},
    {"conv3x3 s2 3->32 192 (movenet)", K_CONV, 192, 192, 3, 32, 3, 2, 1, 1},
    {"conv3x3 64->64 80 (yolo-style)", K_CONV, 80, 80, 64, 64, 3, 1, 1, 1},
    {"conv1x1 24->72 128 (centernet)", K_CONV, 128, 128, 24, 72, 1, 1, 0, 1},
    {"conv1x1 96->24 64 (centernet)", K_CONV, 64, 64, 96, 24, 1, 1, 0, 1},
    {"conv1x1 720->120 16 (centernet)", K_CONV, 16, 16, 720, 120, 1, 1, 0, 1},
    {"conv1x1 24->24 128 (blazeface)", K_CONV, 128, 128, 24, 24, 1, 1, 0, 1},
    {"conv1x1 24->96 48 (movenet)", K_CONV, 48, 48, 24, 96, 1, 1, 0, 1},
    {"conv1x1 64->384 12 (movenet)", K_CONV, 12, 12, 64, 384, 1, 1, 0, 1},
    {"conv1x1 512->512 14 (faceres)", K_CONV, 14, 14, 512, 512, 1, 1, 0, 1},
    {"dw3x3 128 128 (centernet)", K_CONV, 128, 128, 128, 128, 3, 1, 1, 128},
    {"dw3x3 s2 192 64 (centernet)", K_CONV, 64, 64, 192, 192, 3, 2, 1, 192},
    {"dw5x5 96 64 (centernet)", K_CONV, 64, 64, 96, 96, 5, 1, 2, 96},
    {"dw5x5 720 16 (centernet)", K_CONV, 16, 16, 720, 720, 5, 1, 2, 720},
    {"dw3x3 24 128 (blazeface)", K_CONV, 128, 128, 24, 24, 3, 1, 1, 24},
    {"dw3x3 24 48 (movenet)", K_CONV, 48, 48, 24, 24, 3, 1, 1, 24},
    {"dw3x3 384 12 (movenet)", K_CONV, 12, 12, 384, 384, 3, 1, 1, 384},
    {"dw3x3 512 14 (faceres)", K_CONV, 14, 14, 512, 512, 3, 1, 1, 512},
    {"fc 1024->256 (faceres)", K_FC, 1, 1, 1024, 256, 0, 0, 0, 0},
    {"fc 197x768->768 (ViT block)", K_FC, 197, 1, 768, 768, 0, 0, 0, 0},
    {"fc 64x512->128 (re-id head)", K_FC, 64, 1, 512, 128, 0, 0, 0, 0},
    {"maxpool 2x2 s2 24 128 (blazeface)", K_MAXPOOL, 128, 128, 24, 24, 2, 2, 0, 0},
    {"maxpool 3x3 s1 80 128 (centernet)", K_MAXPOOL, 128, 128, 80, 80, 3, 1, 1, 0},
    {"avgpool 2x2 s2 256 32", K_AVGPOOL, 32, 32, 256, 256, 2, 2, 0, 0},
    {"global avgpool 1024 7 (faceres-like)", K_GAVGPOOL, 7, 7, 1024, 1024, 7, 1, 0, 0},
    {"global avgpool 96 64", K_GAVGPOOL, 64, 64, 96, 96, 64, 1, 0, 0},
};
#define NCASES ((int)(sizeof CASES / sizeof CASES[0]))

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  if (n <= 0) return NAN;
  qsort(v, (size_t)n, sizeof *v, cmp_d);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void fill(float *p, int64_t n, uint32_t s) {
  for (int64_t i = 0; i < n; i++) {
    s = s * 1664525u + 1013904223u;
    p[i] = (float)((s >> 8) & 0xffff) / 32768.0f - 1.0f;
  }
}

static double max_diff(const float *a, const float *b, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - (double)b[i]);
    if (d > m || isnan(d)) m = d;
  }
  return m;
}

/* geometry of one case */
typedef struct geom {
  int64_t oh, ow, xn, yn, wn;
} geom;

static geom case_geom(const kcase *c) {
  geom g = {0};
  if (c->k == K_FC) {
    g.oh = c->h, g.ow = 1;
    g.xn = c->h * c->cin, g.yn = c->h * c->cout, g.wn = c->cin * c->cout;
    return g;
  }
  g.oh = (c->h + 2 * c->pad - c->kh) / c->stride + 1;
  g.ow = (c->w + 2 * c->pad - c->kh) / c->stride + 1;
  g.xn = c->h * c->w * c->cin;
  g.yn = g.oh * g.ow * c->cout;
  g.wn = c->k == K_CONV ? c->cout * (c->cin / c->group) * c->kh * c->kh : 0;
  return g;
}

/* ---- vrt ------------------------------------------------------------------------ */

typedef struct vrt_impl {
  vrt_node n;
  vrt_tensor tx, tw, tb;
  const vrt_tensor *in[3];
  int nin;
} vrt_impl;

static vrt_tensor mk_tensor(int ndim, const int64_t *dims, float *data) {
  vrt_tensor t;
  memset(&t, 0, sizeof t);
  t.dtype = VRT_F32;
  t.ndim = ndim;
  memcpy(t.dims, dims, sizeof(int64_t) * (size_t)ndim);
  t.data = data;
  t.nbytes = sizeof(float) * (size_t)vrt__numel(dims, ndim);
  return t;
}

static void vrt_setup(vrt_impl *v, const kcase *c, float *x, float *w, float *b) {
  memset(v, 0, sizeof *v);
  vrt_op op = c->k == K_CONV ? VRT_OP_Conv : c->k == K_FC ? VRT_OP_Gemm : c->k == K_MAXPOOL ? VRT_OP_MaxPool
                                                                                              : VRT_OP_AveragePool;
  if (c->k == K_GAVGPOOL) op = VRT_OP_GlobalAveragePool;
  v->nin = c->k == K_CONV || c->k == K_FC ? 3 : 1;
  v->n.op = op;
  v->n.name = strdup("bench");
  v->n.op_type = strdup(vrt_op_name(op));
  v->n.nin = v->nin;
  v->n.nout = 1;
  v->n.in = calloc((size_t)v->nin, sizeof(int));
  v->n.out = calloc(1, sizeof(int));
  if (c->k == K_FC) {
    v->tx = mk_tensor(2, (int64_t[]){c->h, c->cin}, x);
    v->tw = mk_tensor(2, (int64_t[]){c->cin, c->cout}, w); /* [K,N] as TF.js MatMul lowers it */
    v->tb = mk_tensor(1, (int64_t[]){c->cout}, b);
  } else if (c->k == K_GAVGPOOL) {
    v->tx = mk_tensor(4, (int64_t[]){1, c->h, c->w, c->cin}, x);
    vrt_node_set_int(&v->n, "vrt_layout", 1);
  } else {
    v->tx = mk_tensor(4, (int64_t[]){1, c->h, c->w, c->cin}, x);
    vrt_node_set_int(&v->n, "vrt_layout", 1);
    vrt_node_set_ints(&v->n, "strides", (int64_t[]){c->stride, c->stride}, 2);
    vrt_node_set_ints(&v->n, "pads", (int64_t[]){c->pad, c->pad, c->pad, c->pad}, 4);
    if (c->k == K_CONV) {
      v->tw = mk_tensor(4, (int64_t[]){c->cout, c->cin / c->group, c->kh, c->kh}, w);
      v->tb = mk_tensor(1, (int64_t[]){c->cout}, b);
      vrt_node_set_int(&v->n, "group", c->group);
    } else {
      vrt_node_set_ints(&v->n, "kernel_shape", (int64_t[]){c->kh, c->kh}, 2);
    }
  }
  v->in[0] = &v->tx, v->in[1] = &v->tw, v->in[2] = &v->tb;
}

static int vrt_exec(vrt_impl *v, float *y, int64_t yn) {
  vrt_tensor out;
  memset(&out, 0, sizeof out);
  if (vrt_node_run1(&v->n, v->in, v->nin, &out, 1)) {
    fprintf(stderr, "bench_kernels: vrt: %s\n", vrt_last_error());
    return -1;
  }
  int rc = vrt_tensor_numel(&out) == yn ? 0 : -1;
  if (!rc) memcpy(y, out.data, sizeof(float) * (size_t)yn);
  vrt__aligned_free(out.data);
  return rc;
}

static void vrt_teardown(vrt_impl *v) {
  if (v->n.params_free) v->n.params_free(v->n.params);
  for (int k = 0; k < v->n.nattr; k++) vrt_attr_clear(&v->n.attrs[k]);
  free(v->n.attrs);
  free(v->n.in);
  free(v->n.out);
  free(v->n.name);
  free(v->n.op_type);
}

/* ---- oneDNN primitives ------------------------------------------------------------ */

typedef struct dnn_impl {
  dnnl_engine_t eng;
  dnnl_stream_t st;
  dnnl_primitive_t prim;
  dnnl_memory_t src, wei, bia, dst;
  float *wpacked;
  int ok;
} dnn_impl;

#define DNN_CHECK(x)                                                              \
  do {                                                                            \
    dnnl_status_t s_ = (x);                                                       \
    if (s_ != dnnl_success) {                                                     \
      fprintf(stderr, "bench_kernels: oneDNN: %s failed (%d)\n", #x, (int)s_);   \
      return -1;                                                                  \
    }                                                                             \
  } while (0)

/* Weights: a reorder from the plain layout into what the primitive chose. */
static int dnn_pack(dnn_impl *d, const dnnl_memory_desc_t *plain, float *w, const dnnl_memory_desc_t *want) {
  dnnl_memory_t m_plain;
  DNN_CHECK(dnnl_memory_create(&m_plain, plain, d->eng, w));
  d->wpacked = aligned_alloc(64, (dnnl_memory_desc_get_size(want) + 63) / 64 * 64);
  DNN_CHECK(dnnl_memory_create(&d->wei, want, d->eng, d->wpacked));
  dnnl_primitive_desc_t rpd;
  dnnl_primitive_t r;
  DNN_CHECK(dnnl_reorder_primitive_desc_create(&rpd, plain, d->eng, want, d->eng, NULL));
  DNN_CHECK(dnnl_primitive_create(&r, rpd));
  dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, m_plain}, {DNNL_ARG_TO, d->wei}};
  DNN_CHECK(dnnl_primitive_execute(r, d->st, 2, args));
  DNN_CHECK(dnnl_stream_wait(d->st));
  dnnl_primitive_destroy(r);
  dnnl_primitive_desc_destroy(rpd);
  dnnl_memory_destroy(m_plain);
  return 0;
}

static int dnn_setup(dnn_impl *d, const kcase *c, const geom *g, float *x, float *w, float *b, float *y) {
  memset(d, 0, sizeof *d);
  DNN_CHECK(dnnl_engine_create(&d->eng, dnnl_cpu, 0));
  DNN_CHECK(dnnl_stream_create(&d->st, d->eng, dnnl_stream_default_flags));
  dnnl_memory_desc_t xmd, ymd, bmd, wplain, wany;
  dnnl_primitive_desc_t pd;
  if (c->k == K_FC) {
    DNN_CHECK(dnnl_memory_desc_init_by_tag(&xmd, 2, (dnnl_dims_t){c->h, c->cin}, dnnl_f32, dnnl_nc));
    DNN_CHECK(dnnl_memory_desc_init_by_tag(&ymd, 2, (dnnl_dims_t){c->h, c->cout}, dnnl_f32, dnnl_nc));
    /* weights are [K,N] (TF.js MatMul): oneDNN's logical dims are {O, I}; io = transposed */
    DNN_CHECK(dnnl_memory_desc_init_by_tag(&wplain, 2, (dnnl_dims_t){c->cout, c->cin}, dnnl_f32, dnnl_io));
    DNN_CHECK(dnnl_memory_desc_init_by_tag(&wany, 2, (dnnl_dims_t){c->cout, c->cin}, dnnl_f32, dnnl_format_tag_any));
    DNN_CHECK(dnnl_memory_desc_init_by_tag(&bmd, 1, (dnnl_dims_t){c->cout}, dnnl_f32, dnnl_a));
    dnnl_inner_product_desc_t ip;
    DNN_CHECK(dnnl_inner_product_forward_desc_init(&ip, dnnl_forward_inference, &xmd, &wany, &bmd, &ymd));
    DNN_CHECK(dnnl_primitive_desc_create(&pd, &ip, NULL, d->eng, NULL));
  } else {
    DNN_CHECK(dnnl_memory_desc_init_by_tag(&xmd, 4, (dnnl_dims_t){1, c->cin, c->h, c->w}, dnnl_f32, dnnl_nhwc));
    DNN_CHECK(dnnl_memory_desc_init_by_tag(&ymd, 4, (dnnl_dims_t){1, c->cout, g->oh, g->ow}, dnnl_f32, dnnl_nhwc));
    dnnl_dims_t st = {c->stride, c->stride}, pl = {c->pad, c->pad};
    /* padding_r so that (h + pl + pr - k) / s + 1 == oh exactly */
    dnnl_dims_t pr = {(g->oh - 1) * c->stride + c->kh - c->h - c->pad, (g->ow - 1) * c->stride + c->kh - c->w - c->pad};
    if (c->k == K_CONV) {
      if (c->group > 1) {
        dnnl_dims_t wd = {c->group, c->cout / c->group, c->cin / c->group, c->kh, c->kh};
        DNN_CHECK(dnnl_memory_desc_init_by_tag(&wplain, 5, wd, dnnl_f32, dnnl_goihw));
        DNN_CHECK(dnnl_memory_desc_init_by_tag(&wany, 5, wd, dnnl_f32, dnnl_format_tag_any));
      } else {
        dnnl_dims_t wd = {c->cout, c->cin, c->kh, c->kh};
        DNN_CHECK(dnnl_memory_desc_init_by_tag(&wplain, 4, wd, dnnl_f32, dnnl_oihw));
        DNN_CHECK(dnnl_memory_desc_init_by_tag(&wany, 4, wd, dnnl_f32, dnnl_format_tag_any));
      }
      DNN_CHECK(dnnl_memory_desc_init_by_tag(&bmd, 1, (dnnl_dims_t){c->cout}, dnnl_f32, dnnl_a));
      dnnl_convolution_desc_t cd;
      DNN_CHECK(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &xmd, &wany,
                                                   &bmd, &ymd, st, pl, pr));
      DNN_CHECK(dnnl_primitive_desc_create(&pd, &cd, NULL, d->eng, NULL));
    } else {
      dnnl_pooling_v2_desc_t pdsc;
      dnnl_dims_t k = {c->kh, c->kh}, dil = {0, 0};
      DNN_CHECK(dnnl_pooling_v2_forward_desc_init(
          &pdsc, dnnl_forward_inference, c->k == K_MAXPOOL ? dnnl_pooling_max : dnnl_pooling_avg_exclude_padding,
          &xmd, &ymd, st, k, dil, pl, pr));
      DNN_CHECK(dnnl_primitive_desc_create(&pd, &pdsc, NULL, d->eng, NULL));
    }
  }
  DNN_CHECK(dnnl_primitive_create(&d->prim, pd));
  if (c->k == K_CONV || c->k == K_FC) {
    const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    if (dnn_pack(d, &wplain, w, want)) return -1;
    DNN_CHECK(dnnl_memory_create(&d->bia, &bmd, d->eng, b));
  }
  DNN_CHECK(dnnl_memory_create(&d->src, &xmd, d->eng, x));
  DNN_CHECK(dnnl_memory_create(&d->dst, &ymd, d->eng, y));
  dnnl_primitive_desc_destroy(pd);
  d->ok = 1;
  return 0;
}

static int dnn_exec(dnn_impl *d) {
  dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, d->src}, {DNNL_ARG_DST, d->dst}, {DNNL_ARG_WEIGHTS, d->wei},
                             {DNNL_ARG_BIAS, d->bia}};
  DNN_CHECK(dnnl_primitive_execute(d->prim, d->st, d->wei ? 4 : 2, args));
  DNN_CHECK(dnnl_stream_wait(d->st));
  return 0;
}

static void dnn_teardown(dnn_impl *d) {
  if (d->prim) dnnl_primitive_destroy(d->prim);
  dnnl_memory_t ms[4] = {d->src, d->wei, d->bia, d->dst};
  for (int i = 0; i < 4; i++)
    if (ms[i]) dnnl_memory_destroy(ms[i]);
  free(d->wpacked);
  if (d->st) dnnl_stream_destroy(d->st);
  if (d->eng) dnnl_engine_destroy(d->eng);
}

/* ---- XNNPACK operators ------------------------------------------------------------- */

#ifdef VIGIL_HAVE_XNNPACK
typedef struct xnn_impl {
  xnn_operator_t op;
  int ok;
} xnn_impl;

static int xnn_setup(xnn_impl *xi, const kcase *c, const geom *g, const float *x, const float *w, const float *b,
                     float *y) {
  memset(xi, 0, sizeof *xi);
  enum xnn_status s = xnn_status_success;
  uint32_t p = (uint32_t)c->pad;
  uint32_t pb = (uint32_t)((g->oh - 1) * c->stride + c->kh - c->h - c->pad);
  uint32_t pr = (uint32_t)((g->ow - 1) * c->stride + c->kh - c->w - c->pad);
  if (c->k == K_CONV) {
    /* OIHW -> OHWI (dense), or [1, kh, kw, C] (depthwise) */
    int64_t cig = c->cin / c->group, kk = c->kh * c->kh;
    float *wt = malloc(sizeof(float) * (size_t)g->wn);
    bool dw = c->group > 1 && cig == 1 && c->cout == c->group;
    for (int64_t o = 0; o < c->cout; o++)
      for (int64_t i = 0; i < cig; i++)
        for (int64_t k = 0; k < kk; k++)
          wt[dw ? k * c->cout + o : (o * kk + k) * cig + i] = w[(o * cig + i) * kk + k];
    s = xnn_create_convolution2d_nhwc_f32(p, pr, pb, p, (uint32_t)c->kh, (uint32_t)c->kh, (uint32_t)c->stride,
                                          (uint32_t)c->stride, 1, 1, (uint32_t)c->group, (size_t)cig,
                                          (size_t)(c->cout / c->group), (size_t)c->cin, (size_t)c->cout, wt, b,
                                          -INFINITY, INFINITY, dw ? XNN_FLAG_DEPTHWISE_CONVOLUTION : 0, &xi->op);
    free(wt); /* XNNPACK packs the weights into its own buffer at create */
    if (s == xnn_status_success)
      s = xnn_setup_convolution2d_nhwc_f32(xi->op, 1, (size_t)c->h, (size_t)c->w, x, y, NULL);
  } else if (c->k == K_FC) {
    s = xnn_create_fully_connected_nc_f32((size_t)c->cin, (size_t)c->cout, (size_t)c->cin, (size_t)c->cout, w, b,
                                          -INFINITY, INFINITY, XNN_FLAG_TRANSPOSE_WEIGHTS, &xi->op);
    if (s == xnn_status_success) s = xnn_setup_fully_connected_nc_f32(xi->op, (size_t)c->h, x, y, NULL);
  } else if (c->k == K_GAVGPOOL) {
    s = xnn_create_global_average_pooling_nwc_f32((size_t)c->cin, (size_t)c->cin, (size_t)c->cin, -INFINITY, INFINITY,
                                                  0, &xi->op);
    if (s == xnn_status_success)
      s = xnn_setup_global_average_pooling_nwc_f32(xi->op, 1, (size_t)(c->h * c->w), x, y, NULL);
  } else if (c->k == K_MAXPOOL) {
    s = xnn_create_max_pooling2d_nhwc_f32(p, pr, pb, p, (uint32_t)c->kh, (uint32_t)c->kh, (uint32_t)c->stride,
                                          (uint32_t)c->stride, 1, 1, (size_t)c->cin, (size_t)c->cin, (size_t)c->cin,
                                          -INFINITY, INFINITY, 0, &xi->op);
    if (s == xnn_status_success)
      s = xnn_setup_max_pooling2d_nhwc_f32(xi->op, 1, (size_t)c->h, (size_t)c->w, x, y, NULL);
  } else {
    s = xnn_create_average_pooling2d_nhwc_f32(p, pr, pb, p, (uint32_t)c->kh, (uint32_t)c->kh, (uint32_t)c->stride,
                                              (uint32_t)c->stride, (size_t)c->cin, (size_t)c->cin, (size_t)c->cin,
                                              -INFINITY, INFINITY, 0, &xi->op);
    if (s == xnn_status_success)
      s = xnn_setup_average_pooling2d_nhwc_f32(xi->op, 1, (size_t)c->h, (size_t)c->w, x, y, NULL);
  }
  if (s != xnn_status_success) {
    fprintf(stderr, "bench_kernels: XNNPACK: %s: status %d\n", c->name, (int)s);
    return -1;
  }
  xi->ok = 1;
  return 0;
}

static int xnn_exec(xnn_impl *xi) { return xnn_run_operator(xi->op, NULL) == xnn_status_success ? 0 : -1; }

static void xnn_teardown(xnn_impl *xi) {
  if (xi->op) xnn_delete_operator(xi->op);
}
#endif

/* ---- main ------------------------------------------------------------------------ */

static void cell(char *buf, size_t n, const char *f, double v) {
  if (isnan(v)) snprintf(buf, n, "-");
  else snprintf(buf, n, f, v);
}

int main(int argc, char **argv) {
  /* oneDNN's OpenMP reads OMP_NUM_THREADS when the library loads: set it and start again */
  const char *omp = getenv("OMP_NUM_THREADS");
  if (!omp || strcmp(omp, "1")) {
    setenv("OMP_NUM_THREADS", "1", 1);
    execv("/proc/self/exe", argv);
    perror("bench_kernels: execv");
    return 1;
  }
  int runs = 21, ncases = NCASES;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--quick")) runs = 5, ncases = 6;
    else {
      printf("usage: bench_kernels [--runs N] [--quick]\n");
      return strcmp(argv[i], "--help") ? 2 : 0;
    }
  }
  if (runs < 1) runs = 1;
#ifdef VIGIL_HAVE_XNNPACK
  int have_xnn = xnn_initialize(NULL) == xnn_status_success;
#else
  int have_xnn = 0;
#endif
  printf("bench_kernels: NHWC f32, 1 thread, median of %d runs; ratios = library / vrt (< 1: library faster)%s\n",
         runs, have_xnn ? "" : "; XNNPACK not available in this build");
  printf("%-36s %9s %9s %9s %8s %8s %9s %9s\n", "case", "vrt_us", "onednn_us", "xnn_us", "dnn/vrt", "xnn/vrt",
         "dnn_diff", "xnn_diff");
  double lsum_d = 0, lsum_x = 0;
  int nd = 0, nx = 0;
  for (int ci = 0; ci < ncases; ci++) {
    const kcase *c = &CASES[ci];
    geom g = case_geom(c);
    float *x = aligned_alloc(64, sizeof(float) * (size_t)((g.xn + 16 + 15) / 16 * 16)); /* XNN_EXTRA_BYTES */
    float *w = aligned_alloc(64, sizeof(float) * (size_t)((g.wn + 16) / 16 * 16));
    float *b = aligned_alloc(64, sizeof(float) * (size_t)((c->cout + 15) / 16 * 16));
    float *yv = calloc((size_t)g.yn, sizeof(float)), *yd = calloc((size_t)g.yn, sizeof(float));
    float *yx = calloc((size_t)g.yn, sizeof(float));
    fill(x, g.xn, 1);
    fill(w, g.wn, 2);
    fill(b, c->cout, 3);
    for (int64_t i = 0; i < g.wn; i++) w[i] *= 0.2f;
    vrt_impl v;
    dnn_impl d;
    vrt_setup(&v, c, x, w, b);
    int dok = dnn_setup(&d, c, &g, x, w, b, yd) == 0;
#ifdef VIGIL_HAVE_XNNPACK
    xnn_impl xi;
    int xok = have_xnn && xnn_setup(&xi, c, &g, x, w, b, yx) == 0;
#else
    int xok = 0;
#endif
    double *tv = malloc(sizeof(double) * (size_t)runs), *td = malloc(sizeof(double) * (size_t)runs),
           *tx = malloc(sizeof(double) * (size_t)runs);
    int vok = 1;
    for (int r = -2; r < runs && vok; r++) { /* two warm-up rounds */
      double t[3] = {0, 0, 0};
      for (int j = 0; j < 3; j++) { /* rotate the order: no library always runs on the others' cache */
        int which = (j + (r < 0 ? 0 : r)) % 3;
        double t0 = now_ms();
        if (which == 0) vok = vok && vrt_exec(&v, yv, g.yn) == 0;
        else if (which == 1 && dok) dok = dnn_exec(&d) == 0;
#ifdef VIGIL_HAVE_XNNPACK
        else if (which == 2 && xok) xok = xnn_exec(&xi) == 0;
#endif
        t[which] = now_ms() - t0;
      }
      if (r >= 0) tv[r] = t[0], td[r] = t[1], tx[r] = t[2];
    }
    double mv = vok ? median(tv, runs) * 1e3 : NAN, md = dok ? median(td, runs) * 1e3 : NAN;
    double mx = xok ? median(tx, runs) * 1e3 : NAN;
    double dd = dok && vok ? max_diff(yv, yd, g.yn) : NAN, dx = xok && vok ? max_diff(yv, yx, g.yn) : NAN;
    char s[7][32];
    cell(s[0], 32, "%.1f", mv);
    cell(s[1], 32, "%.1f", md);
    cell(s[2], 32, "%.1f", mx);
    cell(s[3], 32, "%.2f", md / mv);
    cell(s[4], 32, "%.2f", mx / mv);
    cell(s[5], 32, "%.1e", dd);
    cell(s[6], 32, "%.1e", dx);
    printf("%-36s %9s %9s %9s %8s %8s %9s %9s\n", c->name, s[0], s[1], s[2], s[3], s[4], s[5], s[6]);
    fflush(stdout);
    if (!isnan(md / mv)) lsum_d += log(md / mv), nd++;
    if (!isnan(mx / mv)) lsum_x += log(mx / mv), nx++;
    vrt_teardown(&v);
    dnn_teardown(&d);
#ifdef VIGIL_HAVE_XNNPACK
    if (have_xnn) xnn_teardown(&xi);
#endif
    free(tv), free(td), free(tx);
    free(x), free(w), free(b), free(yv), free(yd), free(yx);
  }
  printf("geometric mean of the ratios: oneDNN/vrt %.2f, XNNPACK/vrt %.2f\n", nd ? exp(lsum_d / nd) : NAN,
         nx ? exp(lsum_x / nx) : NAN);
#ifdef VIGIL_HAVE_XNNPACK
  if (have_xnn) xnn_deinitialize();
#endif
  return 0;
}
