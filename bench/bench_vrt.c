/* bench_vrt: vrt against ONNX Runtime (onnxruntime-node, CPU EP) on the same
 * models and inputs, in one run; for the TF.js models ORT cannot load, vrt
 * against the f32 FLOP ceiling of this machine measured in the same run.
 *
 * usage: bench_vrt [--runs N] [--warmup N] [--models a,b,..] [--no-busy] [--quick] [--alt BACKENDS]
 *
 * Each model gets two fresh worker processes: this program in --worker mode
 * (vrt) and tools/ref/ort_bench.mjs (ORT), both speaking the same line
 * protocol, so a worker's peak RSS is one model's and inference is timed inside
 * the worker (not node's start-up, not the pipe). Runs alternate between the
 * two runtimes (vrt first on even runs, ORT first on odd ones) and the table
 * quotes medians. Peak RSS (VmHWM) is read after the 1-thread runs, while
 * each worker holds one session; for ORT the node process's own footprint
 * before the session (printed as node_base) is subtracted.
 * The ceiling is the best of 25 dnnl_sgemm calls on 1024^3 in a separate
 * process with OMP_NUM_THREADS=T, measured again before each model; GFLOP counts 2 x MACs of Conv, ConvTranspose, MatMul
 * and Gemm, from shapes found by running the graph once node by node.
 * Then, unless --no-busy, the 1- and 2-thread runs are repeated with a
 * spinning child process keeping one core busy: the t2/t1 column shows
 * whether 2 threads lose to 1 when the other core is taken. --alt BACKENDS
 * adds a third worker, vrt with VRT_BACKENDS=BACKENDS, to the same rounds
 * (e.g. --alt xnnpack,onednn: which backend order is faster per model). */
#include <dnnl.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec.h"
#include "model.h"
#include "ops.h"
#include "util/assets.h"
#include "vrt/vrt.h"

#ifndef VIGIL_SOURCE_DIR_DEFAULT
#define VIGIL_SOURCE_DIR_DEFAULT "."
#endif

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(const double *v, int n) {
  if (n <= 0) return NAN;
  double *t = malloc(sizeof(double) * (size_t)n);
  memcpy(t, v, sizeof(double) * (size_t)n);
  qsort(t, (size_t)n, sizeof *t, cmp_d);
  double m = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
  free(t);
  return m;
}

/* ---- the models ------------------------------------------------------------ */

typedef struct bmodel {
  const char *name;
  const char *rel;   /* under $VIGIL_HOME */
  int64_t dyn[4];    /* values for the first input's dynamic dims, in order */
  int ort;           /* ORT can run it (ONNX) */
} bmodel;

static const bmodel MODELS[] = {
    {"resnet18", "bench-models/resnet18.onnx", {0}, 1},
    {"mobilenet_v3_large", "bench-models/mobilenet_v3_large.onnx", {0}, 1},
    {"yolov8n_style_640", "bench-models/yolov8n_style.onnx", {0}, 1},
    {"osnet_x1_0", "bench-models/osnet_x1_0.onnx", {0}, 1},
    {"ppocr_v4_det_640", "models/ocr/ch_PP-OCRv4_det_infer.onnx", {1, 640, 640}, 1},
    {"ppocr_v4_rec_48x320", "models/ocr/ch_PP-OCRv4_rec_infer.onnx", {1, 320}, 1},
    {"ppocr_cls_48x192", "models/ocr/ch_ppocr_mobile_v2.0_cls_infer.onnx", {1, 48, 192}, 1},
    {"centernet_512", "models/human/centernet.json", {1}, 0},
    {"movenet_lightning", "models/human/movenet-lightning.json", {1}, 0},
    {"movenet_thunder", "models/human/movenet-thunder.json", {1}, 0},
    {"blazeface", "models/human/blazeface.json", {1}, 0},
    {"faceres", "models/human/faceres.json", {1}, 0},
};
#define NMODELS ((int)(sizeof MODELS / sizeof MODELS[0]))

/* Concrete input tensors of model m (dynamic dims from b->dyn, filled with a
 * fixed pseudo-random pattern), written to dir/input_<i>.bin with
 * dir/inputs.json in ort_run.mjs's format. Returns the count, <0 on error. */
static int make_inputs(const vrt_model_t *m, const bmodel *b, const char *dir, vrt_tensor *in, int max) {
  int n = vrt_model_num_inputs(m);
  if (n > max) return -1;
  json_t *arr = json_array();
  uint32_t s = 12345;
  int di = 0;
  for (int i = 0; i < n; i++) {
    const vrt_tensor *t = vrt_model_input(m, i);
    in[i] = *t;
    for (int d = 0; d < t->ndim; d++)
      if (t->dims[d] < 0) in[i].dims[d] = di < 4 && b->dyn[di] > 0 ? b->dyn[di++] : 1;
    int64_t cnt = vrt_tensor_numel(&in[i]);
    size_t es = vrt_dtype_size(t->dtype);
    const char *dt = t->dtype == VRT_F32 ? "float32" : t->dtype == VRT_I32 ? "int32" : t->dtype == VRT_I64 ? "int64" : NULL;
    if (!dt) {
      fprintf(stderr, "bench_vrt: %s: input %s has dtype %s\n", b->name, t->name, vrt_dtype_name(t->dtype));
      json_decref(arr);
      return -1;
    }
    in[i].nbytes = (size_t)cnt * es;
    in[i].data = malloc(in[i].nbytes);
    for (int64_t k = 0; k < cnt; k++) {
      s = s * 1664525u + 1013904223u;
      uint32_t r = s >> 8;
      if (t->dtype == VRT_F32) ((float *)in[i].data)[k] = (float)(r & 0xffff) / 65536.0f;
      else if (t->dtype == VRT_I32) ((int32_t *)in[i].data)[k] = (int32_t)(r & 0xff);
      else ((int64_t *)in[i].data)[k] = (int64_t)(r & 0xff);
    }
    char file[64], path[4096];
    snprintf(file, sizeof file, "input_%d.bin", i);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(in[i].data, 1, in[i].nbytes, f) != in[i].nbytes) {
      if (f) fclose(f);
      json_decref(arr);
      return -1;
    }
    fclose(f);
    json_t *shape = json_array();
    for (int d = 0; d < in[i].ndim; d++) json_array_append_new(shape, json_integer(in[i].dims[d]));
    json_array_append_new(arr, json_pack("{s:s, s:s, s:o, s:s}", "name", t->name, "dtype", dt, "shape", shape,
                                         "file", file));
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/inputs.json", dir);
  int rc = json_dump_file(arr, path, JSON_INDENT(1));
  json_decref(arr);
  return rc ? -1 : n;
}

/* ---- FLOPs: run the graph node by node, count 2 x MACs of the GEMM-like ops - */

static double node_macs(const vrt_node *n, const vrt_tensor *const *in, const vrt_tensor *out) {
  double ny = (double)vrt_tensor_numel(out);
  switch (n->op) {
  case VRT_OP_Conv: {
    /* each output element costs (Cin/group) * kernel MACs = numel(W) / Cout */
    int nhwc = vrt_attr_int(n, "vrt_layout", 0) == 1;
    int64_t cout = out->ndim >= 2 ? out->dims[nhwc ? out->ndim - 1 : 1] : 1;
    return cout > 0 ? ny * (double)vrt_tensor_numel(in[1]) / (double)cout : 0;
  }
  case VRT_OP_ConvTranspose: {
    int nhwc = vrt_attr_int(n, "vrt_layout", 0) == 1;
    const vrt_tensor *x = in[0];
    int64_t cin = x->ndim >= 2 ? x->dims[nhwc ? x->ndim - 1 : 1] : 1;
    return cin > 0 ? (double)vrt_tensor_numel(x) * (double)vrt_tensor_numel(in[1]) / (double)cin : 0;
  }
  case VRT_OP_MatMul: {
    const vrt_tensor *a = in[0];
    return ny * (double)(a->ndim >= 1 ? a->dims[a->ndim - 1] : 1);
  }
  case VRT_OP_Gemm: {
    const vrt_tensor *a = in[0];
    if (a->ndim != 2) return 0;
    return ny * (double)(vrt_attr_int(n, "transA", 0) ? a->dims[0] : a->dims[1]);
  }
  default:
    return 0;
  }
}

/* GFLOP of one inference of g on the given inputs, or <0 if a node fails. */
static double count_gflop(const vrt_graph *g, const vrt_tensor *inputs, int nin) {
  vrt_tensor *vals = calloc((size_t)g->nvalues, sizeof(vrt_tensor));
  bool *own = calloc((size_t)g->nvalues, sizeof(bool));
  int *last = malloc(sizeof(int) * (size_t)g->nvalues);
  for (int v = 0; v < g->nvalues; v++) {
    last[v] = -1;
    if (g->values[v].flags & VRT_VAL_CONST) vals[v] = g->values[v].t;
  }
  for (int i = 0; i < nin && i < g->ninputs; i++) vals[g->inputs[i]] = inputs[i];
  for (int k = 0; k < g->nnodes; k++)
    for (int j = 0; j < g->nodes[k].nin; j++)
      if (g->nodes[k].in[j] >= 0) last[g->nodes[k].in[j]] = k;
  double macs = 0;
  int bad = 0;
  for (int k = 0; k < g->nnodes && !bad; k++) {
    vrt_node *n = &g->nodes[k];
    const vrt_tensor *in[64];
    vrt_tensor out[64];
    if (n->nin > 64 || n->nout > 64) {
      bad = 1;
      break;
    }
    for (int j = 0; j < n->nin; j++) in[j] = n->in[j] >= 0 ? &vals[n->in[j]] : NULL;
    memset(out, 0, sizeof out);
    if (vrt_node_run1(n, in, n->nin, out, n->nout)) {
      fprintf(stderr, "bench_vrt: FLOP count: %s\n", vrt_last_error());
      bad = 1;
      break;
    }
    macs += node_macs(n, in, &out[0]);
    for (int j = 0; j < n->nout; j++) {
      int v = n->out[j];
      if (v < 0) {
        vrt__aligned_free(out[j].data);
        continue;
      }
      vals[v] = out[j];
      own[v] = true;
    }
    for (int j = 0; j < n->nin; j++) { /* free what no later node reads */
      int v = n->in[j];
      if (v >= 0 && own[v] && last[v] == k && !(g->values[v].flags & VRT_VAL_OUTPUT)) {
        vrt__aligned_free(vals[v].data);
        own[v] = false;
      }
    }
  }
  for (int v = 0; v < g->nvalues; v++)
    if (own[v]) vrt__aligned_free(vals[v].data);
  free(vals);
  free(own);
  free(last);
  return bad ? -1 : 2 * macs / 1e9;
}

/* ---- workers ----------------------------------------------------------------- */

typedef struct worker {
  pid_t pid;
  FILE *to, *from;
} worker;

/* env_key=env_val is set in the child when env_key is not NULL. */
static int worker_start(worker *w, char *const argv[], const char *env_key, const char *env_val) {
  int a[2], b[2];
  if (pipe(a) || pipe(b)) return -1;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(a[0], 0);
    dup2(b[1], 1);
    close(a[0]), close(a[1]), close(b[0]), close(b[1]);
    if (env_key) setenv(env_key, env_val, 1);
    execvp(argv[0], argv);
    fprintf(stderr, "bench_vrt: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(a[0]);
  close(b[1]);
  w->pid = pid;
  w->to = fdopen(a[1], "w");
  w->from = fdopen(b[0], "r");
  return 0;
}

/* Sends one command; returns the number after "ok", NAN on "err"/EOF. */
static double worker_cmd(worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static double worker_cmd(worker *w, const char *fmt, ...) {
  if (!w->pid) return NAN;
  va_list ap;
  va_start(ap, fmt);
  vfprintf(w->to, fmt, ap);
  va_end(ap);
  fputc('\n', w->to);
  fflush(w->to);
  char line[1024];
  if (!fgets(line, sizeof line, w->from)) return NAN;
  if (strncmp(line, "ok", 2)) {
    line[strcspn(line, "\n")] = 0;
    fprintf(stderr, "bench_vrt: worker %d: %s\n", (int)w->pid, line);
    return NAN;
  }
  return line[2] ? strtod(line + 3, NULL) : 0;
}

/* VmHWM / VmRSS of a process in MiB (NAN if unreadable). */
static double proc_mem(pid_t pid, const char *key) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return NAN;
  double v = NAN;
  size_t kl = strlen(key);
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, key, kl) && line[kl] == ':') v = strtod(line + kl + 1, NULL) / 1024.0;
  fclose(f);
  return v;
}

static void worker_stop(worker *w) {
  if (!w->pid) return;
  fprintf(w->to, "quit\n");
  fflush(w->to);
  fclose(w->to);
  fclose(w->from);
  int st;
  waitpid(w->pid, &st, 0);
  w->pid = 0;
}

/* ---- vrt worker mode: the same protocol as tools/ref/ort_bench.mjs ------------ */

static int read_inputs(const char *json_path, vrt_tensor *in, int max) {
  json_error_t je;
  json_t *arr = json_load_file(json_path, 0, &je);
  if (!json_is_array(arr)) return -1;
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", json_path);
  char *sl = strrchr(dir, '/');
  if (sl) *sl = 0;
  else snprintf(dir, sizeof dir, ".");
  int n = (int)json_array_size(arr);
  if (n > max) n = max;
  for (int i = 0; i < n; i++) {
    json_t *e = json_array_get(arr, (size_t)i);
    const char *dt = json_string_value(json_object_get(e, "dtype"));
    memset(&in[i], 0, sizeof in[i]);
    in[i].name = strdup(json_string_value(json_object_get(e, "name")));
    in[i].dtype = !strcmp(dt, "float32") ? VRT_F32 : !strcmp(dt, "int32") ? VRT_I32 : VRT_I64;
    json_t *sh = json_object_get(e, "shape");
    in[i].ndim = (int)json_array_size(sh);
    for (int d = 0; d < in[i].ndim; d++) in[i].dims[d] = json_integer_value(json_array_get(sh, (size_t)d));
    in[i].nbytes = (size_t)vrt_tensor_numel(&in[i]) * vrt_dtype_size(in[i].dtype);
    in[i].data = malloc(in[i].nbytes);
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, json_string_value(json_object_get(e, "file")));
    FILE *f = fopen(path, "rb");
    if (!f || fread(in[i].data, 1, in[i].nbytes, f) != in[i].nbytes) {
      if (f) fclose(f);
      json_decref(arr);
      return -1;
    }
    fclose(f);
  }
  json_decref(arr);
  return n;
}

static int worker_main(const char *model_path, const char *inputs_json) {
  vrt_tensor in[16];
  int nin = read_inputs(inputs_json, in, 16);
  if (nin < 0) {
    fprintf(stderr, "bench_vrt --worker: cannot read %s\n", inputs_json);
    return 1;
  }
  vrt_model_t *m = NULL;
  vrt_session_t *sess[9] = {0}, *first = NULL;
  printf("ready\n");
  fflush(stdout);
  char line[4096], arg[4096];
  while (fgets(line, sizeof line, stdin)) {
    char cmd[32];
    arg[0] = 0;
    if (sscanf(line, "%31s %4095s", cmd, arg) < 1) continue;
    if (!strcmp(cmd, "quit")) break;
    int t = atoi(arg);
    double t0 = now_ms();
    if (!strcmp(cmd, "load") && t >= 1 && t <= 8) {
      int rc = 0;
      if (!m) rc = vrt_model_load(&m, model_path, vrt_load_default_params());
      vrt_session_params p = vrt_session_default_params();
      p.threads = t;
      if (!rc && !sess[t]) rc = vrt_session_create(&sess[t], m, p);
      if (rc) printf("err %s: %s\n", vrt_strerror(rc), vrt_last_error());
      else printf("ok %.4f\n", now_ms() - t0);
      if (!first) first = sess[t];
    } else if (!strcmp(cmd, "run") && t >= 1 && t <= 8 && sess[t]) {
      const vrt_tensor *outs;
      int nout;
      int rc = vrt_session_run(sess[t], in, nin, &outs, &nout);
      if (rc) printf("err %s: %s\n", vrt_strerror(rc), vrt_last_error());
      else printf("ok %.4f\n", now_ms() - t0);
    } else if (!strcmp(cmd, "dump") && first) {
      const vrt_tensor *outs;
      int nout, rc = vrt_session_run(first, in, nin, &outs, &nout);
      mkdir(arg, 0755);
      for (int i = 0; !rc && i < nout; i++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/output_%d.bin", arg, i);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(outs[i].data, 1, outs[i].nbytes, f) != outs[i].nbytes) rc = VRT_EIO;
        if (f) fclose(f);
      }
      if (rc) printf("err %s: %s\n", vrt_strerror(rc), vrt_last_error());
      else printf("ok %d\n", nout);
    } else {
      printf("err bad command: %s", line);
    }
    fflush(stdout);
  }
  for (int t = 0; t < 9; t++) vrt_session_free(sess[t]);
  vrt_model_free(m);
  for (int i = 0; i < nin; i++) {
    free((void *)in[i].name);
    free(in[i].data);
  }
  return 0;
}

/* ---- ceiling mode: dnnl_sgemm GFLOP/s at OMP_NUM_THREADS ------------------------- */

static int ceiling_main(void) {
  const int64_t n = 1024;
  enum { RUNS = 25 };
  float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
  for (int64_t i = 0; i < n * n; i++) a[i] = (float)(i % 7) * 0.1f, b[i] = (float)(i % 5) * 0.1f;
  double best = INFINITY;
  for (int r = -3; r < RUNS; r++) {
    double t0 = now_ms();
    dnnl_sgemm('N', 'N', n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    double t = now_ms() - t0;
    if (r >= 0 && t < best) best = t;
  }
  /* the ceiling is a peak: the best run, the one the neighbours disturbed least */
  printf("ok %.3f\n", 2.0 * n * n * n / (best * 1e6));
  free(a), free(b), free(c);
  return 0;
}

static double measure_ceiling(const char *self, int threads) {
  char omp[8];
  snprintf(omp, sizeof omp, "%d", threads);
  char *argv[] = {(char *)self, "--ceiling", NULL};
  worker w = {0};
  if (worker_start(&w, argv, "OMP_NUM_THREADS", omp)) return NAN;
  char line[256];
  double g = NAN;
  if (fgets(line, sizeof line, w.from) && !strncmp(line, "ok ", 3)) g = strtod(line + 3, NULL);
  fclose(w.to);
  fclose(w.from);
  int st;
  waitpid(w.pid, &st, 0);
  return g;
}

/* ---- one model ------------------------------------------------------------------- */

typedef struct result {
  const char *name;
  int ort;
  double gflop;
  double v1, o1, v2, o2;          /* median ms */
  double vload, oload;            /* ms */
  double vrss, orss, obase;       /* MiB */
  double maxdiff;
  double bv1, bv2, bo1, bo2;      /* medians with the other core busy */
  double c1, c2;                  /* f32 ceiling (GFLOP/s) measured just before this model */
  double a1, a2, adiff;           /* --alt: vrt with VRT_BACKENDS=alt, medians, max diff to vrt */
  int ok;
} result;

static pid_t spinner_start(void) {
  pid_t pid = fork();
  if (pid == 0) {
    volatile unsigned long x = 0;
    for (;;) x++;
  }
  return pid;
}

/* Interleaved runs at T threads of the workers that exist (pid != 0), in an
 * order that rotates every round; medians into med[i] (NAN when absent). */
#define NW 3
static void timed_runs(worker *const *w, int t, int runs, int warmup, double *med) {
  double *tm[NW];
  int cnt[NW] = {0};
  for (int i = 0; i < NW; i++) tm[i] = malloc(sizeof(double) * (size_t)runs);
  for (int r = 0; r < warmup; r++)
    for (int i = 0; i < NW; i++)
      if (w[i]->pid) worker_cmd(w[i], "run %d", t);
  for (int r = 0; r < runs; r++)
    for (int j = 0; j < NW; j++) {
      int i = (j + r) % NW;
      if (!w[i]->pid) continue;
      double ms = worker_cmd(w[i], "run %d", t);
      if (!isnan(ms)) tm[i][cnt[i]++] = ms;
    }
  for (int i = 0; i < NW; i++) {
    med[i] = cnt[i] ? median(tm[i], cnt[i]) : NAN;
    free(tm[i]);
  }
}

static double max_abs_diff(const vrt_model_t *m, const char *dv, const char *dort) {
  double md = 0;
  int n = vrt_model_num_outputs(m);
  for (int i = 0; i < n; i++) {
    if (vrt_model_output(m, i)->dtype != VRT_F32) continue;
    char pa[4400], pb[4400];
    snprintf(pa, sizeof pa, "%s/output_%d.bin", dv, i);
    snprintf(pb, sizeof pb, "%s/output_%d.bin", dort, i);
    FILE *fa = fopen(pa, "rb"), *fb = fopen(pb, "rb");
    if (!fa || !fb) {
      if (fa) fclose(fa);
      if (fb) fclose(fb);
      return NAN;
    }
    float x[4096], y[4096];
    size_t na, nb;
    while ((na = fread(x, 4, 4096, fa)) > 0) {
      nb = fread(y, 4, na, fb);
      if (nb != na) {
        md = NAN;
        break;
      }
      for (size_t k = 0; k < na; k++) {
        double d = fabs((double)x[k] - (double)y[k]);
        if (d > md || isnan(d)) md = d;
      }
    }
    if (!isnan(md) && fread(y, 4, 1, fb) == 1) md = NAN; /* ORT's output is longer */
    fclose(fa);
    fclose(fb);
    if (isnan(md)) return NAN;
  }
  return md;
}

static int rm_rf_dir(const char *dir) {
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd);
}

static double measure_ceiling(const char *self, int threads);
static const char *alt_backends; /* --alt */

static void bench_model(const char *self, const bmodel *b, int runs, int warmup, int busy, result *res) {
  memset(res, 0, sizeof *res);
  res->name = b->name;
  res->ort = b->ort;
  res->maxdiff = res->obase = res->orss = res->oload = res->o1 = res->o2 = res->bo1 = res->bo2 = NAN;
  res->a1 = res->a2 = res->adiff = NAN;
  char path[4096];
  if (vigil_asset_require(path, sizeof path, b->rel)) {
    fprintf(stderr, "bench_vrt: %s: %s (skipped)\n", b->name, vigil_asset_errmsg());
    return;
  }
  char dir[] = "/tmp/bench_vrt.XXXXXX";
  if (!mkdtemp(dir)) return;
  vrt_model_t *m = NULL;
  vrt_load_params lp = vrt_load_default_params();
  vrt_tensor in[16];
  int nin = -1;
  if (vrt_model_load(&m, path, lp) || (nin = make_inputs(m, b, dir, in, 16)) < 0) {
    fprintf(stderr, "bench_vrt: %s: cannot load or make inputs: %s\n", b->name, vrt_last_error());
    vrt_model_free(m);
    rm_rf_dir(dir);
    return;
  }
  /* FLOPs on the graph as the loader wrote it (no load-time rewrites) */
  vrt_model_t *raw = NULL;
  lp.optimize = 0;
  res->gflop = vrt_model_load(&raw, path, lp) ? -1 : count_gflop(raw->g, in, nin);
  vrt_model_free(raw);

  /* the ceiling right before the model: a shared machine's load drifts over a run */
  res->c1 = measure_ceiling(self, 1);
  res->c2 = measure_ceiling(self, 2);
  char inputs_json[4200], ort_js[4200];
  snprintf(inputs_json, sizeof inputs_json, "%s/inputs.json", dir);
  const char *src = getenv("VIGIL_SOURCE_DIR") ? getenv("VIGIL_SOURCE_DIR") : VIGIL_SOURCE_DIR_DEFAULT;
  snprintf(ort_js, sizeof ort_js, "%s/tools/ref/ort_bench.mjs", src);
  worker v = {0}, o = {0}, a = {0};
  worker *const ws[NW] = {&v, &o, &a};
  double med[NW];
  char *vargv[] = {(char *)self, "--worker", path, inputs_json, NULL};
  char *oargv[] = {"node", ort_js, path, inputs_json, NULL};
  char line[256];
  if (worker_start(&v, vargv, NULL, NULL) || !fgets(line, sizeof line, v.from)) goto out;
  if (alt_backends && (worker_start(&a, vargv, "VRT_BACKENDS", alt_backends) || !fgets(line, sizeof line, a.from)))
    goto out;
  if (b->ort) {
    if (worker_start(&o, oargv, NULL, NULL) || !fgets(line, sizeof line, o.from) || strncmp(line, "ready", 5)) {
      fprintf(stderr, "bench_vrt: %s: the ORT worker did not start (make deps installs it)\n", b->name);
      if (o.pid) worker_stop(&o);
      o.pid = 0;
      res->ort = 0;
    } else {
      res->obase = proc_mem(o.pid, "VmRSS");
    }
  }
  res->vload = worker_cmd(&v, "load 1");
  if (isnan(res->vload)) goto out;
  if (o.pid) res->oload = worker_cmd(&o, "load 1");
  if (a.pid) worker_cmd(&a, "load 1");
  timed_runs(ws, 1, runs, warmup, med);
  res->v1 = med[0], res->o1 = med[1], res->a1 = med[2];
  char dv[4200], dort[4200], da[4200];
  snprintf(dv, sizeof dv, "%s/vrt", dir);
  snprintf(dort, sizeof dort, "%s/ort", dir);
  snprintf(da, sizeof da, "%s/alt", dir);
  worker_cmd(&v, "dump %s", dv);
  if (a.pid && !isnan(worker_cmd(&a, "dump %s", da))) res->adiff = max_abs_diff(m, da, dv);
  res->vrss = proc_mem(v.pid, "VmHWM");
  if (o.pid) {
    worker_cmd(&o, "dump %s", dort);
    res->orss = proc_mem(o.pid, "VmHWM") - res->obase;
    res->maxdiff = max_abs_diff(m, dv, dort);
  }
  for (int i = 0; i < NW; i++)
    if (ws[i]->pid) worker_cmd(ws[i], "load 2");
  timed_runs(ws, 2, runs, warmup, med);
  res->v2 = med[0], res->o2 = med[1], res->a2 = med[2];
  if (busy) {
    worker_stop(&a); /* the busy-core runs compare vrt and ORT only */
    pid_t sp = spinner_start();
    int br = runs / 2 + 1;
    timed_runs(ws, 1, br, 1, med);
    res->bv1 = med[0], res->bo1 = med[1];
    timed_runs(ws, 2, br, 1, med);
    res->bv2 = med[0], res->bo2 = med[1];
    if (sp > 0) {
      kill(sp, SIGKILL);
      waitpid(sp, NULL, 0);
    }
  }
  res->ok = !isnan(res->v1);
out:
  worker_stop(&v);
  worker_stop(&o);
  worker_stop(&a);
  for (int i = 0; i < nin; i++) free(in[i].data);
  vrt_model_free(m);
  rm_rf_dir(dir);
}

/* ---- report ---------------------------------------------------------------------- */

static void fmt(char *buf, size_t len, const char *f, double v) {
  if (isnan(v)) snprintf(buf, len, "-");
  else snprintf(buf, len, f, v);
}

static void report(const result *r, int n, int busy) {
  printf("\n%-20s %7s %9s %9s %7s %9s %9s %7s %9s %9s %7s %9s %9s %9s\n", "model", "GFLOP", "vrt1_ms", "ort1_ms",
         "ratio1", "vrt2_ms", "ort2_ms", "ratio2", "vrt_load", "ort_load", "load_r", "vrt_MiB", "ort_MiB", "max_diff");
  for (int i = 0; i < n; i++) {
    const result *x = &r[i];
    if (!x->ok) {
      printf("%-20s (not run)\n", x->name);
      continue;
    }
    char s[14][32];
    fmt(s[0], 32, "%.2f", x->gflop < 0 ? NAN : x->gflop);
    fmt(s[1], 32, "%.2f", x->v1);
    fmt(s[2], 32, "%.2f", x->o1);
    fmt(s[3], 32, "%.2f", x->v1 / x->o1);
    fmt(s[4], 32, "%.2f", x->v2);
    fmt(s[5], 32, "%.2f", x->o2);
    fmt(s[6], 32, "%.2f", x->v2 / x->o2);
    fmt(s[7], 32, "%.1f", x->vload);
    fmt(s[8], 32, "%.1f", x->oload);
    fmt(s[9], 32, "%.2f", x->vload / x->oload);
    fmt(s[10], 32, "%.0f", x->vrss);
    fmt(s[11], 32, "%.0f", x->orss);
    if (isnan(x->maxdiff)) snprintf(s[12], 32, "-");
    else snprintf(s[12], 32, "%.1e", x->maxdiff);
    printf("%-20s %7s %9s %9s %7s %9s %9s %7s %9s %9s %7s %9s %9s %9s\n", x->name, s[0], s[1], s[2], s[3], s[4],
           s[5], s[6], s[7], s[8], s[9], s[10], s[11], s[12]);
  }
  printf("\nvrt against the f32 ceiling (ceil: best of 25 dnnl_sgemm 1024^3 in GFLOP/s, measured just before the\n"
         "model; gflops: vrt's achieved rate; limit_ms = GFLOP / ceil; x_limit = vrt median / limit)\n");
  printf("%-20s %7s %9s %9s %9s %7s %9s %9s %9s\n", "model", "ceil1", "gflops1", "limit1", "x_limit1", "ceil2",
         "gflops2", "limit2", "x_limit2");
  for (int i = 0; i < n; i++) {
    const result *x = &r[i];
    if (!x->ok || x->gflop <= 0) continue;
    double l1 = x->gflop / x->c1 * 1e3, l2 = x->gflop / x->c2 * 1e3;
    printf("%-20s %7.1f %9.1f %9.2f %9.2f %7.1f %9.1f %9.2f %9.2f\n", x->name, x->c1, x->gflop / x->v1 * 1e3, l1,
           x->v1 / l1, x->c2, x->gflop / x->v2 * 1e3, l2, x->v2 / l2);
  }
  if (alt_backends) {
    printf("\nvrt with VRT_BACKENDS=%s (alt) against vrt as configured, interleaved in the same rounds\n", alt_backends);
    printf("%-20s %9s %9s %9s %9s %9s %9s %9s\n", "model", "vrt1_ms", "alt1_ms", "alt/vrt1", "vrt2_ms", "alt2_ms",
           "alt/vrt2", "max_diff");
    for (int i = 0; i < n; i++) {
      const result *x = &r[i];
      if (!x->ok) continue;
      char s[7][32];
      fmt(s[0], 32, "%.2f", x->v1);
      fmt(s[1], 32, "%.2f", x->a1);
      fmt(s[2], 32, "%.2f", x->a1 / x->v1);
      fmt(s[3], 32, "%.2f", x->v2);
      fmt(s[4], 32, "%.2f", x->a2);
      fmt(s[5], 32, "%.2f", x->a2 / x->v2);
      fmt(s[6], 32, "%.1e", x->adiff);
      printf("%-20s %9s %9s %9s %9s %9s %9s %9s\n", x->name, s[0], s[1], s[2], s[3], s[4], s[5], s[6]);
    }
  }
  if (!busy) return;
  printf("\nother core busy (a spinning process): medians, and 2 threads over 1 (t2/t1 > 1: 2 threads lose)\n");
  printf("%-20s %9s %9s %9s %9s %9s %9s\n", "model", "vrt1_ms", "vrt2_ms", "vrt_t2/t1", "ort1_ms", "ort2_ms",
         "ort_t2/t1");
  for (int i = 0; i < n; i++) {
    const result *x = &r[i];
    if (!x->ok) continue;
    char s[6][32];
    fmt(s[0], 32, "%.2f", x->bv1);
    fmt(s[1], 32, "%.2f", x->bv2);
    fmt(s[2], 32, "%.2f", x->bv2 / x->bv1);
    fmt(s[3], 32, "%.2f", x->bo1);
    fmt(s[4], 32, "%.2f", x->bo2);
    fmt(s[5], 32, "%.2f", x->bo2 / x->bo1);
    printf("%-20s %9s %9s %9s %9s %9s %9s\n", x->name, s[0], s[1], s[2], s[3], s[4], s[5]);
  }
}

int main(int argc, char **argv) {
  if (argc == 4 && !strcmp(argv[1], "--worker")) return worker_main(argv[2], argv[3]);
  if (argc == 2 && !strcmp(argv[1], "--ceiling")) return ceiling_main();
  int runs = 11, warmup = 3, busy = 1;
  const char *only = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--models") && i + 1 < argc) only = argv[++i];
    else if (!strcmp(argv[i], "--no-busy")) busy = 0;
    else if (!strcmp(argv[i], "--alt") && i + 1 < argc) alt_backends = argv[++i];
    else if (!strcmp(argv[i], "--quick")) runs = 3, warmup = 1;
    else {
      printf("usage: bench_vrt [--runs N] [--warmup N] [--models a,b,..] [--no-busy] [--quick] [--alt BACKENDS]\n"
             "  --alt BACKENDS  also run vrt with VRT_BACKENDS=BACKENDS, interleaved, and compare\nmodels:");
      for (int k = 0; k < NMODELS; k++) printf(" %s", MODELS[k].name);
      printf("\n");
      return strcmp(argv[i], "--help") ? 2 : 0;
    }
  }
  if (runs < 1) runs = 1;
  char self[4096];
  ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
  if (sl <= 0) return 1;
  self[sl] = 0;
  signal(SIGPIPE, SIG_IGN);
  const char *wp = getenv("OMP_WAIT_POLICY"), *vb = getenv("VRT_BACKENDS");
  printf("bench_vrt: vrt vs onnxruntime-node 1.30 (CPU EP), same inputs, interleaved, median of %d runs "
         "(%d warm-up); OMP_WAIT_POLICY=%s VRT_BACKENDS=%s\n", runs, warmup, wp ? wp : "unset (vrt sets passive)",
         vb ? vb : "unset");
  fflush(stdout);
  result res[NMODELS];
  int n = 0;
  for (int k = 0; k < NMODELS; k++) {
    const bmodel *b = &MODELS[k];
    if (only) {
      size_t l = strlen(b->name);
      const char *p = only;
      int hit = 0;
      while ((p = strstr(p, b->name))) {
        if ((p == only || p[-1] == ',') && (p[l] == 0 || p[l] == ',')) hit = 1;
        p += l;
      }
      if (!hit) continue;
    }
    printf("  %s ...\n", b->name);
    fflush(stdout);
    bench_model(self, b, runs, warmup, busy, &res[n++]);
  }
  report(res, n, busy);
  return 0;
}
