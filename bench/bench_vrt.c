/* bench_vrt: vrt against ONNX Runtime (onnxruntime-node, CPU EP) on the same
 * models and inputs, in one run; for the TF.js models ORT cannot load, vrt
 * against the f32 FLOP ceiling of this machine measured in the same run.
 *
 * usage: bench_vrt [--runs N] [--warmup N] [--models a,b,..] [--onnx FILE]... [--no-busy] [--quick] [--alt BACKENDS | --bf16]
 *
 * Each model gets two fresh worker processes: this program in --worker mode
 * (vrt) and tools/ref/ort_bench.mjs (ORT), both speaking the same line
 * protocol (bench_util.h), so a worker's peak RSS is one model's and
 * inference is timed inside the worker (not node's start-up, not the pipe).
 * Each round runs vrt and ORT at 1 and at 2 threads once, in an order that
 * rotates every round, and the tables quote medians; before each timed run
 * every worker is left to go idle (ORT's pool threads spin on after a run).
 * vrt's t2/t1 comes from rounds of vrt alone (1 and 2 threads alternating):
 * a vrt 2-thread run right after an ORT 2-thread run was slower even with
 * ORT idle again.
 * vrt's 2-thread session is adaptive (team.h): it warms up until it has
 * explored both team sizes, and the bench prints which one it ran on. Peak
 * RSS (VmHWM) is read after two 1-thread runs and an output dump, while
 * each worker holds one session; for ORT the node process's own footprint
 * before the session (printed as node_base) is subtracted.
 * The ceiling is the best of 25 dnnl_sgemm calls on 1024^3 in a separate
 * process with OMP_NUM_THREADS=T, measured again before each model; GFLOP counts 2 x MACs of Conv, ConvTranspose, MatMul
 * and Gemm, from shapes found by running the graph once node by node.
 * Then, unless --no-busy, the same rounds (vrt and ORT, 1 and 2 threads,
 * fresh vrt sessions) run with a spinning child process keeping one core
 * busy: the t2/t1 columns show whether 2 threads lose to 1 when the other
 * core is taken. --alt BACKENDS
 * adds a third worker, vrt with VRT_BACKENDS=BACKENDS, to the same rounds
 * (e.g. --alt xnnpack,onednn: which backend order is faster per model).
 * --bf16 makes that third worker vrt with VRT_PRECISION=bf16 and checks bf16
 * on the real photos of media/ (max error against float32, classifiers'
 * top-1 agreement, the CenterNet detector's box agreement). */
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

#include "bench_util.h"
#include "exec.h"
#include "model.h"
#include "ops.h"
#include "team.h"
#include "util/assets.h"
#include "util/file.h"
#include "vigil/detect.h"
#include "vigil/img.h"
#include "vrt/vrt.h"

#ifndef VIGIL_SOURCE_DIR_DEFAULT
#define VIGIL_SOURCE_DIR_DEFAULT "."
#endif

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
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
    {"vit_small_6l", "bench-models/vit_small_6l.onnx", {0}, 1},
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

/* ---- workers (bench_util.h) ---------------------------------------------------- */

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

/* ---- vrt worker mode: the same protocol as tools/ref/ort_bench.mjs ------------ */
/* ("run T" answers "ok MS THREADS": the threads the run used, as the
 * adaptive session chose them) */

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
  vrt_session_t *sess[9] = {0};
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
    vrt_session_t *first = NULL; /* dump: the session with the fewest threads */
    for (int k = 8; k >= 1; k--)
      if (sess[k]) first = sess[k];
    if (!strcmp(cmd, "load") && t >= 1 && t <= 8) {
      /* a fresh session each time (as ort_bench.mjs): no statistics of the
       * adaptive team size carried over from other conditions */
      int rc = 0;
      if (!m) rc = vrt_model_load(&m, model_path, vrt_load_default_params());
      vrt_session_params p = vrt_session_default_params();
      p.threads = t;
      vrt_session_free(sess[t]);
      sess[t] = NULL;
      if (!rc) rc = vrt_session_create(&sess[t], m, p);
      if (rc) printf("err %s: %s\n", vrt_strerror(rc), vrt_last_error());
      else printf("ok %.4f\n", now_ms() - t0);
    } else if (!strcmp(cmd, "run") && t >= 1 && t <= 8 && sess[t]) {
      const vrt_tensor *outs;
      int nout;
      int rc = vrt_session_run(sess[t], in, nin, &outs, &nout);
      if (rc) printf("err %s: %s\n", vrt_strerror(rc), vrt_last_error());
      else printf("ok %.4f %d\n", now_ms() - t0, vrt_session_threads_used(sess[t]));
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
  printf("ready\n");
  fflush(stdout);
  char line[64];
  if (!fgets(line, sizeof line, stdin)) return 0;
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
  fflush(stdout);
  free(a), free(b), free(c);
  return 0;
}

static double measure_ceiling(const char *self, int threads) {
  char omp[8];
  snprintf(omp, sizeof omp, "%d", threads);
  char *argv[] = {(char *)self, "--ceiling", NULL};
  bench_worker w;
  if (bench_worker_start(&w, argv, "OMP_NUM_THREADS", omp)) return NAN;
  double g = bench_worker_cmd(&w, NULL, "run");
  bench_worker_stop(&w);
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
  double maxdiff, ortmax;          /* max |vrt - ORT| and max |ORT| over the float outputs */
  double bv1, bv2, bo1, bo2;      /* medians with the other core busy */
  double von2, bvon2;             /* share of vrt's timed 2-thread runs on 2 threads (adaptive), quiet / busy */
  double tv1, tv2, tvon2;         /* vrt at 1 and 2 threads in rounds without ORT: medians, share on 2 */
  double c1, c2;                  /* f32 ceiling (GFLOP/s) measured just before this model */
  double a1, a2, adiff;           /* --alt: vrt with VRT_BACKENDS=alt, medians, max diff to vrt */
                                  /* --bf16: the same, with VRT_PRECISION=bf16 */
  int photos, top1_same, top1_n;  /* --bf16 on the real photos: top-1 agreement (classifiers) */
  double prel;                    /* max |bf16 - f32| / max |f32| over the photos' outputs */
  int boxes_same, boxes_n;        /* detectors: boxes matched (same class, IoU >= 0.5) / max(count) */
  int ok;
} result;

static pid_t spinner_start(void) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    volatile unsigned long x = 0;
    for (;;) x++;
  }
  return pid;
}

#define NW_MAX 4 /* workers of one model */

/* One kind of timed run in a round: worker w at t threads. */
typedef struct slot {
  bench_worker *w;
  int t;
  int warm;   /* untimed runs before the rounds */
  double med; /* median ms of the timed runs (NAN: none) */
  double on;  /* share of the timed runs a vrt worker ran on all t threads (NAN: ORT) */
} slot;

/* Untimed warm-up, then `runs` rounds; each round runs every slot once, in an
 * order that rotates every round, so that each kind of run meets the same
 * machine. Before each timed run every worker (all[], those running) is
 * left to go idle: ORT's pool threads spin for tens of ms after a run and
 * would hold a core during the next run of any worker. */
static void timed_rounds(slot *sl, int ns, bench_worker *const *all, int nall, int runs) {
  int maxwarm = 0;
  for (int i = 0; i < ns; i++)
    if (sl[i].warm > maxwarm) maxwarm = sl[i].warm;
  for (int r = 0; r < maxwarm; r++)
    for (int i = 0; i < ns; i++)
      if (sl[i].w->pid && r < sl[i].warm) bench_worker_cmd(sl[i].w, NULL, "run %d", sl[i].t);
  double *tm = malloc(sizeof(double) * (size_t)(ns * runs));
  int *cnt = calloc((size_t)ns, sizeof *cnt), *on = calloc((size_t)ns, sizeof *on), *teams = calloc((size_t)ns, sizeof *teams);
  for (int r = 0; r < runs; r++)
    for (int j = 0; j < ns; j++) {
      int i = (j + r) % ns;
      if (!sl[i].w->pid) continue;
      pid_t pids[NW_MAX];
      int np = 0;
      for (int k = 0; k < nall && np < NW_MAX; k++)
        if (all[k]->pid) pids[np++] = all[k]->pid;
      bench_procs_settle(pids, np, 500);
      double team, ms = bench_worker_cmd(sl[i].w, &team, "run %d", sl[i].t);
      if (isnan(ms)) continue;
      tm[i * runs + cnt[i]++] = ms;
      if (!isnan(team)) teams[i]++, on[i] += (int)team == sl[i].t;
    }
  for (int i = 0; i < ns; i++) {
    sl[i].med = median_of(tm + i * runs, cnt[i]);
    sl[i].on = teams[i] ? (double)on[i] / teams[i] : NAN;
  }
  free(tm), free(cnt), free(on), free(teams);
}

/* max |a - b| over every float output of the dumps in dv (a) and dort (b);
 * *bmax (when not NULL) gets max |b|, the scale to read the difference
 * against (a classifier with random BN statistics outputs ~1e12). */
static double max_abs_diff(const vrt_model_t *m, const char *dv, const char *dort, double *bmax) {
  double md = 0, mb = 0;
  if (bmax) *bmax = NAN;
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
        if (fabs((double)y[k]) > mb) mb = fabs((double)y[k]);
      }
    }
    if (!isnan(md) && fread(y, 4, 1, fb) == 1) md = NAN; /* ORT's output is longer */
    fclose(fa);
    fclose(fb);
    if (isnan(md)) return NAN;
  }
  if (bmax) *bmax = mb;
  return md;
}

static int rm_rf_dir(const char *dir) {
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd);
}

static double measure_ceiling(const char *self, int threads);
static const char *alt_backends; /* --alt */
static int bf16_mode;            /* --bf16 */

/* ---- --bf16: accuracy of VRT_PRECISION=bf16 on the real photos ----------------- */

static const char *const PHOTOS[] = {"media/dog.jpg",     "media/person.jpg",  "media/horses.jpg",
                                     "media/eagle.jpg",   "media/chelsea.png", "media/astronaut.png",
                                     "media/grace_hopper.jpg", "media/kite.jpg", "media/messi5.jpg"};
#define NPHOTOS ((int)(sizeof PHOTOS / sizeof PHOTOS[0]))

static int photo_load(const char *rel, vigil_image *im) {
  char path[4096], err[256];
  char *buf = NULL;
  size_t len = 0;
  if (vigil_asset_require(path, sizeof path, rel) || vigil_file_read(path, (size_t)64 << 20, &buf, &len, err, sizeof err))
    return -1;
  int rc = vigil_img_decode(im, (const uint8_t *)buf, len, NULL, err, sizeof err) ? -1 : 0;
  free(buf);
  return rc;
}

/* The photo as model input t (3 channels, NCHW or NHWC by where the 3 is):
 * float32 ImageNet-normalised for ONNX graphs, [0, 1] for TF.js ones, raw
 * 0..255 for int32 inputs. Returns -1 when the input is not an image. */
static int photo_tensor(const vigil_image *im, const vrt_tensor *t, int onnx, vrt_tensor *out) {
  if (t->ndim != 4 || (t->dtype != VRT_F32 && t->dtype != VRT_I32)) return -1;
  bool nchw = t->dims[1] == 3;
  if (!nchw && t->dims[3] != 3) return -1;
  int h = (int)(nchw ? t->dims[2] : t->dims[1]), w = (int)(nchw ? t->dims[3] : t->dims[2]);
  vigil_image rs = {0};
  if (h <= 0 || w <= 0 || vigil_img_resize(&rs, im, w, h, VIGIL_RESIZE_BILINEAR)) return -1;
  *out = *t;
  out->dims[0] = 1;
  out->nbytes = (size_t)3 * w * h * 4;
  out->data = malloc(out->nbytes);
  static const float mean[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < 3; c++) {
        uint8_t v = rs.data[(size_t)y * rs.stride + (size_t)x * rs.c + (rs.c >= 3 ? c : 0)];
        size_t i = nchw ? ((size_t)c * h + y) * w + x : ((size_t)y * w + x) * 3 + c;
        if (t->dtype == VRT_I32) ((int32_t *)out->data)[i] = v;
        else ((float *)out->data)[i] = onnx ? (v / 255.0f - mean[c]) / sd[c] : v / 255.0f;
      }
  vigil_image_free(&rs);
  return 0;
}

/* One session of m planned with VRT_PRECISION=prec (read when a plan is
 * made: the second run of a shape). */
static vrt_session_t *session_planned(vrt_model_t *m, const char *prec, const vrt_tensor *in) {
  vrt_session_t *s = NULL;
  if (vrt_session_create(&s, m, vrt_session_default_params())) return NULL;
  if (prec) setenv("VRT_PRECISION", prec, 1);
  const vrt_tensor *o;
  int no;
  for (int r = 0; r < 2; r++) vrt_session_run(s, in, 1, &o, &no);
  unsetenv("VRT_PRECISION");
  return s;
}

static double iou(const vigil_det *a, const vigil_det *b) {
  double ix = fmin(a->x2, b->x2) - fmax(a->x1, b->x1), iy = fmin(a->y2, b->y2) - fmax(a->y1, b->y1);
  if (ix <= 0 || iy <= 0) return 0;
  double i = ix * iy, u = (a->x2 - a->x1) * (a->y2 - a->y1) + (b->x2 - b->x1) * (b->y2 - b->y1) - i;
  return u > 0 ? i / u : 0;
}

/* Detector models (vigil's own decoding): boxes of the f32 and bf16
 * detectors, matched greedily by class and IoU >= 0.5. */
static void bf16_boxes(const char *path, result *res) {
  detector_t *d[2] = {0};
  char err[256];
  vigil_image ims[NPHOTOS];
  int n = 0;
  for (int i = 0; i < NPHOTOS; i++)
    if (!photo_load(PHOTOS[i], &ims[n])) n++;
  for (int k = 0; k < 2 && n > 0; k++) {
    detector_params p = detector_default_params();
    p.path = path;
    p.threads = 1;
    if (detector_load(&d[k], p, err, sizeof err)) break;
    if (k) setenv("VRT_PRECISION", "bf16", 1);
    vigil_det_list l[2];
    const vigil_image *one = &ims[0];
    for (int r = 0; r < 2; r++) /* unplanned, then planned with this precision */
      if (!detector_run(d[k], l, &one, 1, err, sizeof err)) vigil_det_list_free(&l[0]);
    unsetenv("VRT_PRECISION");
  }
  if (d[0] && d[1]) {
    res->boxes_same = res->boxes_n = 0;
    for (int i = 0; i < n; i++) {
      vigil_det_list a = {0}, b = {0};
      const vigil_image *one = &ims[i];
      if (detector_run(d[0], &a, &one, 1, err, sizeof err) || detector_run(d[1], &b, &one, 1, err, sizeof err)) {
        vigil_det_list_free(&a);
        continue;
      }
      char *used = calloc((size_t)b.n + 1, 1);
      for (int x = 0; x < a.n; x++)
        for (int y = 0; y < b.n; y++)
          if (!used[y] && a.dets[x].cls == b.dets[y].cls && iou(&a.dets[x], &b.dets[y]) >= 0.5) {
            used[y] = 1;
            res->boxes_same++;
            break;
          }
      res->boxes_n += a.n > b.n ? a.n : b.n;
      free(used);
      vigil_det_list_free(&a);
      vigil_det_list_free(&b);
    }
  }
  for (int k = 0; k < 2; k++) detector_free(d[k]);
  for (int i = 0; i < n; i++) vigil_image_free(&ims[i]);
}

static void bf16_photos(const bmodel *b, const char *path, vrt_model_t *m, result *res) {
  res->prel = NAN;
  res->boxes_n = -1;
  if (vrt_model_num_inputs(m) != 1) return;
  const vrt_tensor *t = vrt_model_input(m, 0);
  vrt_tensor tmpl = *t;
  for (int d = 0, di = 0; d < tmpl.ndim; d++)
    if (tmpl.dims[d] < 0) tmpl.dims[d] = di < 4 && b->dyn[di] > 0 ? b->dyn[di++] : 1;
  vrt_session_t *s[2] = {0};
  double maxd = 0, maxv = 0;
  for (int i = 0; i < NPHOTOS; i++) {
    vigil_image im = {0};
    vrt_tensor in;
    if (photo_load(PHOTOS[i], &im)) continue;
    int rc = photo_tensor(&im, &tmpl, b->ort, &in);
    vigil_image_free(&im);
    if (rc) break;
    in.name = t->name;
    if (!s[0]) s[0] = session_planned(m, NULL, &in), s[1] = session_planned(m, "bf16", &in);
    const vrt_tensor *o[2];
    int no[2];
    if (!s[0] || !s[1] || vrt_session_run(s[0], &in, 1, &o[0], &no[0])) {
      free(in.data);
      break;
    }
    /* keep f32's outputs: the next run of s[1] does not touch s[0]'s */
    if (vrt_session_run(s[1], &in, 1, &o[1], &no[1])) {
      free(in.data);
      break;
    }
    res->photos++;
    for (int k = 0; k < no[0] && k < no[1]; k++) {
      if (o[0][k].dtype != VRT_F32 || o[0][k].nbytes != o[1][k].nbytes) continue;
      const float *x = o[0][k].data, *y = o[1][k].data;
      int64_t ne = vrt_tensor_numel(&o[0][k]), ax = 0, ay = 0;
      for (int64_t e = 0; e < ne; e++) {
        maxd = fmax(maxd, fabs((double)x[e] - y[e]));
        maxv = fmax(maxv, fabs((double)x[e]));
        if (x[e] > x[ax]) ax = e;
        if (y[e] > y[ay]) ay = e;
      }
      if (k == 0 && o[0][0].ndim == 2 && o[0][0].dims[0] == 1 && ne >= 2) res->top1_n++, res->top1_same += ax == ay;
    }
    free(in.data);
  }
  if (res->photos) res->prel = maxv > 0 ? maxd / maxv : maxd;
  vrt_session_free(s[0]);
  vrt_session_free(s[1]);
  if (!strcmp(b->name, "centernet_512")) bf16_boxes(path, res);
}

static void bench_model(const char *self, const bmodel *b, int runs, int warmup, int busy, result *res) {
  memset(res, 0, sizeof *res);
  res->name = b->name;
  res->ort = b->ort;
  res->maxdiff = res->ortmax = res->obase = res->orss = res->oload = res->o1 = res->o2 = res->bo1 = res->bo2 = NAN;
  res->a1 = res->a2 = res->adiff = NAN;
  res->von2 = res->bvon2 = res->tv1 = res->tv2 = res->tvon2 = NAN;
  char path[4096];
  if (b->rel[0] == '/') /* --onnx: a file of the user's, not an asset */
    snprintf(path, sizeof path, "%s", b->rel);
  else if (vigil_asset_require(path, sizeof path, b->rel)) {
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
  bench_worker v = {0}, o = {0}, a = {0};
  bench_worker *const all[] = {&v, &o, &a};
  char *vargv[] = {(char *)self, "--worker", path, inputs_json, NULL};
  char *oargv[] = {"node", ort_js, path, inputs_json, NULL};
  if (bench_worker_start(&v, vargv, NULL, NULL)) goto out;
  if (alt_backends && bench_worker_start(&a, vargv, "VRT_BACKENDS", alt_backends)) goto out;
  if (bf16_mode && bench_worker_start(&a, vargv, "VRT_PRECISION", "bf16")) goto out;
  if (b->ort) {
    if (bench_worker_start(&o, oargv, NULL, NULL)) {
      fprintf(stderr, "bench_vrt: %s: the ORT worker did not start (make deps installs it)\n", b->name);
      res->ort = 0;
    } else {
      res->obase = proc_mem(o.pid, "VmRSS");
    }
  }
  res->vload = bench_worker_cmd(&v, NULL, "load 1");
  if (isnan(res->vload)) goto out;
  if (o.pid) res->oload = bench_worker_cmd(&o, NULL, "load 1");
  if (a.pid) bench_worker_cmd(&a, NULL, "load 1");
  /* outputs and peak RSS with one session each, planned (vrt plans on its
   * second run) */
  char dv[4200], dort[4200], da[4200];
  snprintf(dv, sizeof dv, "%s/vrt", dir);
  snprintf(dort, sizeof dort, "%s/ort", dir);
  snprintf(da, sizeof da, "%s/alt", dir);
  for (int k = 0; k < 3; k++)
    for (int r = 0; r < 2; r++)
      if (all[k]->pid) bench_worker_cmd(all[k], NULL, "run 1");
  bench_worker_cmd(&v, NULL, "dump %s", dv);
  if (a.pid && !isnan(bench_worker_cmd(&a, NULL, "dump %s", da))) res->adiff = max_abs_diff(m, da, dv, NULL);
  res->vrss = proc_mem(v.pid, "VmHWM");
  if (o.pid) {
    bench_worker_cmd(&o, NULL, "dump %s", dort);
    res->orss = proc_mem(o.pid, "VmHWM") - res->obase;
    res->maxdiff = max_abs_diff(m, dv, dort, &res->ortmax);
  }
  for (int k = 0; k < 3; k++)
    if (all[k]->pid) bench_worker_cmd(all[k], NULL, "load 2");
  /* 1 and 2 threads of every runtime in the same rounds; the adaptive vrt
   * sessions at 2 threads warm up until their exploration is over (team.h) */
  slot q[] = {{&v, 1, warmup, 0, 0}, {&v, 2, warmup + VRT_TEAM_WARM_RUNS, 0, 0}, {&o, 1, warmup, 0, 0},
              {&o, 2, warmup, 0, 0},  {&a, 1, warmup, 0, 0},                       {&a, 2, warmup + VRT_TEAM_WARM_RUNS, 0, 0}};
  timed_rounds(q, 6, all, 3, runs);
  res->v1 = q[0].med, res->v2 = q[1].med, res->von2 = q[1].on;
  res->o1 = q[2].med, res->o2 = q[3].med, res->a1 = q[4].med, res->a2 = q[5].med;
  /* vrt's 1 and 2 threads again in rounds of their own: even after ORT's
   * pool threads went back to sleep, a vrt 2-thread run right after an ORT
   * 2-thread run measured 2-4x slower on OSNet (bench/README.md, h11t) */
  bench_worker_cmd(&v, NULL, "load 2"); /* fresh: explores without ORT's runs in between */
  slot tq[] = {{&v, 1, 1, 0, 0}, {&v, 2, 1 + VRT_TEAM_WARM_RUNS, 0, 0}};
  timed_rounds(tq, 2, all, 3, runs);
  res->tv1 = tq[0].med, res->tv2 = tq[1].med, res->tvon2 = tq[1].on;
  if (busy) {
    bench_worker_stop(&a); /* the busy-core runs compare vrt and ORT only */
    /* fresh vrt sessions: they explore 1 and 2 threads with the core busy */
    bench_worker_cmd(&v, NULL, "load 1");
    bench_worker_cmd(&v, NULL, "load 2");
    pid_t sp = spinner_start();
    int br = runs;
    slot bv[] = {{&v, 1, 1, 0, 0}, {&v, 2, 1 + VRT_TEAM_WARM_RUNS, 0, 0}}, bo[] = {{&o, 1, 1, 0, 0}, {&o, 2, 1, 0, 0}};
    timed_rounds(bv, 2, all, 3, br); /* vrt's rounds, then ORT's (see tq above) */
    timed_rounds(bo, 2, all, 3, br);
    res->bv1 = bv[0].med, res->bv2 = bv[1].med, res->bvon2 = bv[1].on, res->bo1 = bo[0].med, res->bo2 = bo[1].med;
    if (sp > 0) {
      kill(sp, SIGKILL);
      waitpid(sp, NULL, 0);
    }
  }
  res->ok = !isnan(res->v1);
  if (bf16_mode) bf16_photos(b, path, m, res);
out:
  bench_worker_stop(&v);
  bench_worker_stop(&o);
  bench_worker_stop(&a);
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
  printf("\n%-20s %7s %9s %9s %7s %9s %9s %7s %9s %9s %7s %9s %9s %9s %9s\n", "model", "GFLOP", "vrt1_ms", "ort1_ms",
         "ratio1", "vrt2_ms", "ort2_ms", "ratio2", "vrt_load", "ort_load", "load_r", "vrt_MiB", "ort_MiB", "max_diff",
         "rel_diff");
  for (int i = 0; i < n; i++) {
    const result *x = &r[i];
    if (!x->ok) {
      printf("%-20s (not run)\n", x->name);
      continue;
    }
    char s[14][32];
    fmt(s[0], 32, "%.2f", x->gflop < 0 ? NAN : x->gflop);
    fmt(s[13], 32, "%.1e", x->ortmax > 0 ? x->maxdiff / x->ortmax : x->maxdiff);
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
    printf("%-20s %7s %9s %9s %7s %9s %9s %7s %9s %9s %7s %9s %9s %9s %9s\n", x->name, s[0], s[1], s[2], s[3], s[4],
           s[5], s[6], s[7], s[8], s[9], s[10], s[11], s[12], s[13]);
  }
  printf("\nvrt against the f32 ceiling (ceil: best of 25 dnnl_sgemm 1024^3 in GFLOP/s, measured alone just before\n"
         "the model; limit_ms = GFLOP / ceil; gflops and x_limit = vrt median / limit from vrt's rounds of its own,\n"
         "as the ceiling is measured alone; x_mixed: the same from the rounds shared with ORT, whose runs in between\n"
         "leave vrt colder caches)\n");
  printf("%-20s %7s %9s %9s %9s %9s %7s %9s %9s %9s %9s\n", "model", "ceil1", "gflops1", "limit1", "x_limit1",
         "x_mixed1", "ceil2", "gflops2", "limit2", "x_limit2", "x_mixed2");
  for (int i = 0; i < n; i++) {
    const result *x = &r[i];
    if (!x->ok || x->gflop <= 0) continue;
    double l1 = x->gflop / x->c1 * 1e3, l2 = x->gflop / x->c2 * 1e3;
    printf("%-20s %7.1f %9.1f %9.2f %9.2f %9.2f %7.1f %9.1f %9.2f %9.2f %9.2f\n", x->name, x->c1,
           x->gflop / x->tv1 * 1e3, l1, x->tv1 / l1, x->v1 / l1, x->c2, x->gflop / x->tv2 * 1e3, l2, x->tv2 / l2,
           x->v2 / l2);
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
  if (bf16_mode) {
    printf("\nVRT_PRECISION=bf16 (bf16) against vrt float32 and ORT float32, interleaved in the same rounds;\n"
           "accuracy on the real photos (%d in media/): rel_err = max |bf16 - f32| / max |f32| over every\n"
           "output; top1: classifiers' argmax agreement; boxes: detections matched (class, IoU >= 0.5)\n", NPHOTOS);
    printf("%-20s %9s %9s %9s %9s %9s %9s %7s %9s %7s %9s\n", "model", "vrt1_ms", "bf16_ms", "ort1_ms", "bf16/vrt",
           "bf16/ort", "diff", "photos", "rel_err", "top1", "boxes");
    for (int i = 0; i < n; i++) {
      const result *x = &r[i];
      if (!x->ok) continue;
      char s[10][32];
      fmt(s[0], 32, "%.2f", x->v1);
      fmt(s[1], 32, "%.2f", x->a1);
      fmt(s[2], 32, "%.2f", x->o1);
      fmt(s[3], 32, "%.2f", x->a1 / x->v1);
      fmt(s[4], 32, "%.2f", x->a1 / x->o1);
      fmt(s[5], 32, "%.1e", x->adiff);
      snprintf(s[6], 32, "%d", x->photos);
      fmt(s[7], 32, "%.1e", x->prel);
      if (x->top1_n) snprintf(s[8], 32, "%d/%d", x->top1_same, x->top1_n);
      else snprintf(s[8], 32, "-");
      if (x->boxes_n >= 0) snprintf(s[9], 32, "%d/%d", x->boxes_same, x->boxes_n);
      else snprintf(s[9], 32, "-");
      printf("%-20s %9s %9s %9s %9s %9s %9s %7s %9s %7s %9s\n", x->name, s[0], s[1], s[2], s[3], s[4], s[5], s[6],
             s[7], s[8], s[9]);
    }
  }
  printf("\n2 threads over 1 (t2/t1 > 1: 2 threads lose): vrt's from rounds of its own (1 and 2 threads\n"
         "alternating), ORT's and the ort/vrt ratios from the rounds above; vrt_on2: share of vrt's timed\n"
         "2-thread runs that ran on 2 threads (the adaptive session's choice, VRT_ADAPTIVE_THREADS)%s\n",
         busy ? "; busy: the same with a spinning process on one core, fresh vrt sessions, vrt's rounds then ORT's" : "");
  printf("%-20s %9s %9s %9s %9s %9s", "model", "vrt_t2/t1", "vrt_on2", "ort_t2/t1", "ort2/vrt2", "ort1/vrt1");
  if (busy)
    printf(" | %9s %9s %9s %9s %9s %9s %9s", "busy_vrt1", "vrt2_ms", "vrt_t2/t1", "vrt_on2", "ort1_ms", "ort2_ms",
           "ort_t2/t1");
  printf("\n");
  for (int i = 0; i < n; i++) {
    const result *x = &r[i];
    if (!x->ok) continue;
    char s[12][32];
    fmt(s[0], 32, "%.2f", x->tv2 / x->tv1);
    fmt(s[1], 32, "%.2f", x->tvon2);
    fmt(s[2], 32, "%.2f", x->o2 / x->o1);
    fmt(s[3], 32, "%.2f", x->o2 / x->v2);
    fmt(s[4], 32, "%.2f", x->o1 / x->v1);
    printf("%-20s %9s %9s %9s %9s %9s", x->name, s[0], s[1], s[2], s[3], s[4]);
    if (busy) {
      fmt(s[5], 32, "%.2f", x->bv1);
      fmt(s[6], 32, "%.2f", x->bv2);
      fmt(s[7], 32, "%.2f", x->bv2 / x->bv1);
      fmt(s[8], 32, "%.2f", x->bvon2);
      fmt(s[9], 32, "%.2f", x->bo1);
      fmt(s[10], 32, "%.2f", x->bo2);
      fmt(s[11], 32, "%.2f", x->bo2 / x->bo1);
      printf(" | %9s %9s %9s %9s %9s %9s %9s", s[5], s[6], s[7], s[8], s[9], s[10], s[11]);
    }
    printf("\n");
  }
}

int main(int argc, char **argv) {
  vrt_omp_env_reexec(argv); /* as vigil does; the workers inherit it */
  if (argc == 4 && !strcmp(argv[1], "--worker")) return worker_main(argv[2], argv[3]);
  if (argc == 2 && !strcmp(argv[1], "--ceiling")) return ceiling_main();
  int runs = 11, warmup = 3, busy = 1, nextra = 0;
  const char *only = NULL;
  bmodel extra[16];
  char extra_name[16][256], extra_path[16][4096];
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--models") && i + 1 < argc) only = argv[++i];
    else if (!strcmp(argv[i], "--no-busy")) busy = 0;
    else if (!strcmp(argv[i], "--alt") && i + 1 < argc) alt_backends = argv[++i];
    else if (!strcmp(argv[i], "--bf16")) bf16_mode = 1;
    else if (!strcmp(argv[i], "--quick")) runs = 3, warmup = 1;
    else if (!strcmp(argv[i], "--onnx") && i + 1 < argc && nextra < 16) {
      const char *f = argv[++i], *base = strrchr(f, '/') ? strrchr(f, '/') + 1 : f;
      if (!realpath(f, extra_path[nextra])) {
        fprintf(stderr, "bench_vrt: %s: %s\n", f, strerror(errno));
        return 2;
      }
      size_t bl = strcspn(base, ".");
      snprintf(extra_name[nextra], sizeof extra_name[0], "%.*s", (int)(bl < 255 ? bl : 255), base);
      extra[nextra] = (bmodel){extra_name[nextra], extra_path[nextra], {0}, 1};
      nextra++;
    } else {
      printf("usage: bench_vrt [--runs N] [--warmup N] [--models a,b,..] [--onnx FILE]... [--no-busy] [--quick] [--alt BACKENDS | --bf16]\n"
             "  --onnx FILE     also bench this ONNX file (dynamic dims 1); alone with --models none\n"
             "  --alt BACKENDS  also run vrt with VRT_BACKENDS=BACKENDS, interleaved, and compare\n"
             "  --bf16          also run vrt with VRT_PRECISION=bf16, interleaved, and check it on the real photos\n"
             "models:");
      for (int k = 0; k < NMODELS; k++) printf(" %s", MODELS[k].name);
      printf("\n");
      return strcmp(argv[i], "--help") ? 2 : 0;
    }
  }
  if (runs < 1) runs = 1;
  if (alt_backends && bf16_mode) {
    fprintf(stderr, "bench_vrt: --alt and --bf16 share the third worker: pick one\n");
    return 2;
  }
  char self[4096];
  ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
  if (sl <= 0) return 1;
  self[sl] = 0;
  signal(SIGPIPE, SIG_IGN);
  const char *wp = getenv("OMP_WAIT_POLICY"), *sc = getenv("GOMP_SPINCOUNT"), *vb = getenv("VRT_BACKENDS");
  printf("bench_vrt: vrt vs onnxruntime-node 1.30 (CPU EP), same inputs, interleaved, median of %d runs "
         "(%d warm-up); OMP_WAIT_POLICY=%s GOMP_SPINCOUNT=%s VRT_BACKENDS=%s\n", runs, warmup, wp ? wp : "unset",
         sc ? sc : "unset", vb ? vb : "unset");
  fflush(stdout);
  result res[NMODELS + 16];
  int n = 0;
  for (int k = 0; k < NMODELS + nextra; k++) {
    const bmodel *b = k < NMODELS ? &MODELS[k] : &extra[k - NMODELS];
    if (only && k < NMODELS) {
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
