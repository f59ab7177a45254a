/* bench_ops: the nn kernels' fast paths (Conv: im2col/direct depthwise +
 * oneDNN sgemm; MatMul/Gemm: oneDNN sgemm) against the reference kernels,
 * measured in the same run. Prints per case the median of N runs of each
 * and the speedup ratio of the medians (minimums too: on a shared machine
 * they show the kernels' own cost), plus the max abs difference.
 *
 * usage: bench_ops [--runs N] [--quick]
 * The reference is single-threaded; the fast path uses oneDNN's OpenMP
 * threads (set OMP_NUM_THREADS=1 for a one-core comparison). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec.h"
#include "ir.h"
#include "ops.h"

typedef struct bcase {
  const char *name;
  vrt_op op;
  int layout, group;
  int64_t x[4], w[4]; /* conv: x NCHW logical dims, w OIHW; matmul: a, b (3-D) */
  int64_t stride, pad;
  const char *act;
} bcase;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void fill(float *p, int64_t n, uint32_t s) {
  for (int64_t i = 0; i < n; i++) {
    s = s * 1664525u + 1013904223u;
    p[i] = (float)((s >> 8) & 0xffff) / 32768.0f - 1.0f;
  }
}

static vrt_node make_node(vrt_op op, int nin) {
  vrt_node n;
  memset(&n, 0, sizeof n);
  n.op = op;
  n.name = strdup("bench");
  n.op_type = strdup(vrt_op_name(op));
  n.nin = nin;
  n.nout = 1;
  n.in = calloc((size_t)nin, sizeof(int));
  n.out = calloc(1, sizeof(int));
  return n;
}

static void free_node(vrt_node *n) {
  if (n->params_free) n->params_free(n->params);
  for (int k = 0; k < n->nattr; k++) vrt_attr_clear(&n->attrs[k]);
  free(n->attrs);
  free(n->in);
  free(n->out);
  free(n->name);
  free(n->op_type);
}

static vrt_tensor tensor(int ndim, const int64_t *dims, float *data) {
  vrt_tensor t;
  memset(&t, 0, sizeof t);
  t.dtype = VRT_F32;
  t.ndim = ndim;
  memcpy(t.dims, dims, sizeof(int64_t) * ndim);
  t.data = data;
  t.nbytes = sizeof(float) * (size_t)vrt__numel(dims, ndim);
  return t;
}

/* Median (and through *minp the minimum) time of runs of node n; the last
 * output is kept in *keep. */
static double time_runs(vrt_node *n, const vrt_tensor *const *in, int nin, int runs, vrt_tensor *keep,
                        double *minp) {
  double *t = malloc(sizeof(double) * (size_t)runs);
  for (int r = 0; r < runs; r++) {
    vrt_tensor out;
    double t0 = now_ms();
    if (vrt_node_run1(n, in, nin, &out, 1)) {
      fprintf(stderr, "%s: %s\n", n->name, vrt_last_error());
      exit(1);
    }
    t[r] = now_ms() - t0;
    if (r == runs - 1) *keep = out;
    else vrt__aligned_free(out.data);
  }
  qsort(t, (size_t)runs, sizeof *t, cmp_d);
  if (minp) *minp = t[0];
  double med = runs % 2 ? t[runs / 2] : (t[runs / 2 - 1] + t[runs / 2]) / 2;
  free(t);
  return med;
}

int main(int argc, char **argv) {
  int runs = 5, quick = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--quick")) quick = 1;
  }
  if (runs < 1) runs = 1;
  const bcase cases[] = {
      {"conv3x3 64->64 56x56 nchw", VRT_OP_Conv, 0, 1, {1, 64, 56, 56}, {64, 64, 3, 3}, 1, 1, "Relu"},
      {"conv3x3 64->64 56x56 nhwc", VRT_OP_Conv, 1, 1, {1, 64, 56, 56}, {64, 64, 3, 3}, 1, 1, "Relu"},
      {"conv3x3 s2 3->32 320x320 nhwc", VRT_OP_Conv, 1, 1, {1, 3, 320, 320}, {32, 3, 3, 3}, 2, 1, "Relu6"},
      {"conv1x1 128->256 28x28 nchw", VRT_OP_Conv, 0, 1, {1, 128, 28, 28}, {256, 128, 1, 1}, 1, 0, NULL},
      {"conv1x1 128->256 28x28 nhwc", VRT_OP_Conv, 1, 1, {1, 128, 28, 28}, {256, 128, 1, 1}, 1, 0, NULL},
      {"dwconv3x3 256 40x40 nchw", VRT_OP_Conv, 0, 256, {1, 256, 40, 40}, {256, 1, 3, 3}, 1, 1, "Relu"},
      {"dwconv3x3 256 40x40 nhwc", VRT_OP_Conv, 1, 256, {1, 256, 40, 40}, {256, 1, 3, 3}, 1, 1, "Relu"},
      {"matmul 197x768 * 768x768", VRT_OP_MatMul, 0, 0, {1, 197, 768}, {1, 768, 768}, 0, 0, NULL},
      {"matmul 12x[197x64 * 64x197]", VRT_OP_MatMul, 0, 0, {12, 197, 64}, {12, 64, 197}, 0, 0, NULL},
  };
  int ncases = (int)(sizeof cases / sizeof cases[0]);
  if (quick) ncases = 3;
  const char *omp = getenv("OMP_NUM_THREADS");
  printf("bench_ops: fast path vs reference, median of %d runs (OMP_NUM_THREADS=%s)\n", runs, omp ? omp : "unset");
  printf("%-32s %10s %10s %9s %10s %10s %10s\n", "case", "ref_med", "fast_med", "speedup", "ref_min", "fast_min",
         "max_diff");
  double logsum = 0;
  for (int c = 0; c < ncases; c++) {
    const bcase *b = &cases[c];
    bool conv = b->op == VRT_OP_Conv;
    int nd = conv ? 4 : 3;
    int64_t xn = vrt__numel(b->x, nd), wn = vrt__numel(b->w, nd);
    float *x = malloc(sizeof(float) * (size_t)xn), *w = malloc(sizeof(float) * (size_t)wn);
    float *bias = malloc(sizeof(float) * (size_t)b->w[0]);
    fill(x, xn, 1);
    fill(w, wn, 2);
    fill(bias, b->w[0], 3);
    vrt_node n = make_node(b->op, conv ? 3 : 2);
    vrt_tensor tx, tw, tb = tensor(1, b->w, bias);
    if (conv) {
      int64_t xd[4] = {b->x[0], b->x[2], b->x[3], b->x[1]};
      tx = tensor(4, b->layout ? xd : b->x, x);
      tw = tensor(4, b->w, w);
      vrt_node_set_int(&n, "vrt_layout", b->layout);
      vrt_node_set_int(&n, "group", b->group);
      vrt_node_set_ints(&n, "strides", (int64_t[]){b->stride, b->stride}, 2);
      vrt_node_set_ints(&n, "pads", (int64_t[]){b->pad, b->pad, b->pad, b->pad}, 4);
      if (b->act) vrt_node_set_string(&n, "vrt_act", b->act);
    } else {
      tx = tensor(3, b->x, x);
      tw = tensor(3, b->w, w);
    }
    const vrt_tensor *in[3] = {&tx, &tw, &tb};
    vrt_tensor of, orf;
    unsetenv("VRT_REFERENCE");
    vrt_tensor warm; /* warm-up: oneDNN JIT, OpenMP pool start, page faults */
    time_runs(&n, in, n.nin, 2, &warm, NULL);
    vrt__aligned_free(warm.data);
    double fast_min, ref_min;
    double fast = time_runs(&n, in, n.nin, runs, &of, &fast_min);
    setenv("VRT_REFERENCE", "1", 1);
    double ref = time_runs(&n, in, n.nin, runs > 3 ? 3 : runs, &orf, &ref_min);
    unsetenv("VRT_REFERENCE");
    double md = 0;
    const float *p = of.data, *q = orf.data;
    for (int64_t i = 0; i < vrt_tensor_numel(&of); i++) md = fmax(md, fabs((double)p[i] - q[i]));
    printf("%-32s %10.2f %10.2f %8.1fx %10.2f %10.2f %10.2e\n", b->name, ref, fast, ref / fast, ref_min, fast_min,
           md);
    logsum += log(ref / fast);
    vrt__aligned_free(of.data);
    vrt__aligned_free(orf.data);
    free_node(&n);
    free(x);
    free(w);
    free(bias);
  }
  printf("geomean speedup (reference / fast): %.1fx over %d cases\n", exp(logsum / ncases), ncases);
  return 0;
}
