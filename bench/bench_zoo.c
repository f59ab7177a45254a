/* Benchmarks of the zoo manager:
 *  1. an uncontended cache-hit acquire + release, at 1 and 2 threads, as a
 *     ratio against a pthread mutex lock/unlock pair measured in the same run;
 *  2. load/evict churn with real models (movenet-lightning, blazeface,
 *     centernet from $VIGIL_HOME) under a budget that fits only two of them:
 *     swaps per second and the time to first inference after a swap, as a
 *     ratio against a warm inference of the same model.
 * usage: bench_zoo [--hits-only] [--iters N] [--swaps N] [--threads N] */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/assets.h"
#include "vigil/zoo.h"
#include "vrt/vrt.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of the calling thread: on a shared 2-core machine, wall time would
 * count the time a thread waits for a core, not the cost of the operation. */
static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- 1. cache hits ----------------------------------------------------------- */

static int null_load(void *ctx, const zoo_model_row *row, void **handle, uint64_t *measured,
                     char *err, size_t errlen) {
  *handle = (void *)row;
  *measured = (uint64_t)(row->declared_mb * ZOO_MB);
  return 0;
}
static void null_unload(void *ctx, const zoo_model_row *row, void *handle) {}

typedef struct hit_arg {
  zoo_manager *m;
  pthread_mutex_t *mu;
  const char *name;
  long iters;
  _Atomic int *start;
  double secs;
  long sink;
} hit_arg;

static void *hit_main(void *p) {
  hit_arg *a = p;
  while (!atomic_load(a->start)) {
  }
  char err[256];
  double t0 = cpu_s();
  for (long i = 0; i < a->iters; i++) {
    zoo_lease l;
    if (zoo_manager_acquire(a->m, a->name, &l, err, sizeof err)) {
      fprintf(stderr, "bench_zoo: acquire failed: %s\n", err);
      exit(1);
    }
    a->sink += (long)(intptr_t)l.handle & 1;
    zoo_manager_release(a->m, &l);
  }
  a->secs = cpu_s() - t0;
  return NULL;
}

static volatile long shared_counter;

static void *mutex_main(void *p) {
  hit_arg *a = p;
  while (!atomic_load(a->start)) {
  }
  double t0 = cpu_s();
  for (long i = 0; i < a->iters; i++) {
    pthread_mutex_lock(a->mu);
    shared_counter++;
    pthread_mutex_unlock(a->mu);
  }
  a->secs = cpu_s() - t0;
  return NULL;
}

static double last_parallelism; /* sum of thread CPU time / wall time of the last run */

/* CPU ns per operation of the slowest thread, nthreads running fn at once */
static double run_threads(void *(*fn)(void *), zoo_manager *m, pthread_mutex_t *mu,
                          const char **names, int nthreads, long iters) {
  pthread_t t[8];
  hit_arg a[8];
  _Atomic int start = 0;
  for (int i = 0; i < nthreads; i++) {
    a[i] = (hit_arg){m, mu, names[i], iters, &start, 0, 0};
    pthread_create(&t[i], NULL, fn, &a[i]);
  }
  double w0 = now_s();
  atomic_store(&start, 1);
  double worst = 0, sum = 0;
  for (int i = 0; i < nthreads; i++) {
    pthread_join(t[i], NULL);
    if (a[i].secs > worst) worst = a[i].secs;
    sum += a[i].secs;
  }
  last_parallelism = sum / (now_s() - w0);
  return worst * 1e9 / (double)iters;
}

static int bench_hits(long iters) {
  zoo_registry reg = {0};
  char err[256];
  if (zoo_registry_load_config_text(&reg, "a declared_mb=10\nb declared_mb=10\n", err, sizeof err))
    return 1;
  zoo_params p = zoo_default_params();
  p.budget_mb = 1024;
  p.loader = (zoo_loader){NULL, null_load, null_unload};
  zoo_manager *m;
  if (zoo_manager_init(&m, &reg, p, err, sizeof err)) {
    fprintf(stderr, "bench_zoo: %s\n", err);
    return 1;
  }
  zoo_result r;
  zoo_manager_preload(m, "a", &r);
  zoo_manager_preload(m, "b", &r);
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  const char *same[2] = {"a", "a"}, *diff[2] = {"a", "b"};
  /* warm up caches and the CPU clock */
  run_threads(hit_main, m, &mu, same, 1, iters / 10);
  double mx1 = run_threads(mutex_main, m, &mu, same, 1, iters);
  double z1 = run_threads(hit_main, m, &mu, same, 1, iters);
  double mx2 = run_threads(mutex_main, m, &mu, same, 2, iters);
  double par_mx = last_parallelism;
  double z2s = run_threads(hit_main, m, &mu, same, 2, iters);
  double par_s = last_parallelism;
  double z2d = run_threads(hit_main, m, &mu, diff, 2, iters);
  double par_d = last_parallelism;
  printf("cache-hit acquire+release (%ld iterations per thread, thread CPU time):\n", iters);
  printf("  1 thread                 : %7.1f ns/op   mutex lock+unlock %6.1f ns   ratio %.2fx\n",
         z1, mx1, z1 / mx1);
  printf("  2 threads, same model    : %7.1f ns/op   mutex (contended) %6.1f ns   ratio %.2fx\n",
         z2s, mx2, z2s / mx2);
  printf("  2 threads, two models    : %7.1f ns/op   vs 1 thread: %.2fx (1.00 = perfect scaling)\n",
         z2d, z2d / z1);
  printf("  threads really overlapping (CPU/wall, 2.0 = fully parallel): mutex %.2f, same %.2f, "
         "two %.2f\n",
         par_mx, par_s, par_d);
  printf("  target < 1000 ns/op: %s\n", z1 < 1000 && z2s < 1000 ? "met" : "NOT met");
  zoo_manager_free(m);
  zoo_registry_free(&reg);
  return 0;
}

/* ---- 2. churn with real models -------------------------------------------------- */

static int run_once(zoo_vrt_model *h) {
  int nin = vrt_model_num_inputs(h->model);
  vrt_tensor in[8];
  if (nin > 8) return -1;
  for (int i = 0; i < nin; i++) {
    const vrt_tensor *d = vrt_model_input(h->model, i);
    in[i] = *d;
    size_t n = 1;
    for (int k = 0; k < d->ndim; k++) {
      if (in[i].dims[k] < 0) in[i].dims[k] = k == 0 ? 1 : 64;
      n *= (size_t)in[i].dims[k];
    }
    in[i].nbytes = n * vrt_dtype_size(d->dtype);
    in[i].data = calloc(1, in[i].nbytes);
  }
  const vrt_tensor *outs;
  int nout;
  int rc = vrt_session_run(h->session, in, nin, &outs, &nout);
  for (int i = 0; i < nin; i++) free(in[i].data);
  return rc;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int bench_churn(int swaps, int threads) {
  const char *names[3] = {"movenet-lightning", "blazeface", "centernet"};
  for (int i = 0; i < 3; i++) {
    char rel[128], path[1024];
    snprintf(rel, sizeof rel, "models/human/%s.json", names[i]);
    if (vigil_asset_require(path, sizeof path, rel)) {
      fprintf(stderr, "bench_zoo: %s\n", vigil_asset_errmsg());
      return 3;
    }
  }
  zoo_registry reg;
  char err[512];
  if (zoo_registry_init_builtin(&reg, err, sizeof err) ||
      zoo_registry_load_config_text(&reg, "centernet always_loaded=0 service=light\n", err,
                                    sizeof err)) {
    fprintf(stderr, "bench_zoo: %s\n", err);
    return 1;
  }
  /* measure each model alone first, to size a budget that fits any two */
  zoo_params p = zoo_default_params();
  p.service_mask = 7;
  p.budget_mb = 4096;
  p.loader = zoo_vrt_loader(threads);
  zoo_manager *m;
  if (zoo_manager_init(&m, &reg, p, err, sizeof err)) {
    fprintf(stderr, "bench_zoo: %s\n", err);
    return 1;
  }
  uint64_t sz[3], total = 0, smallest = UINT64_MAX;
  double warm_ms[3];
  for (int i = 0; i < 3; i++) {
    zoo_lease l;
    uint64_t before = zoo_manager_used_bytes(m);
    if (zoo_manager_acquire(m, names[i], &l, err, sizeof err)) {
      fprintf(stderr, "bench_zoo: %s\n", err);
      return 1;
    }
    sz[i] = zoo_manager_used_bytes(m) - before;
    double t0 = now_s();
    run_once(l.handle);
    warm_ms[i] = (now_s() - t0) * 1e3;
    zoo_manager_release(m, &l);
    total += sz[i];
    if (sz[i] < smallest) smallest = sz[i];
  }
  zoo_manager_free(m);
  double budget_mb = (double)(total - smallest / 2) / ZOO_MB;
  p.budget_mb = budget_mb;
  /* declare the measured sizes, or the first loads would reserve the
   * registry's (larger) declarations */
  char cfg[512];
  snprintf(cfg, sizeof cfg, "%s declared_mb=%.6f\n%s declared_mb=%.6f\n%s declared_mb=%.6f\n",
           names[0], (double)sz[0] / ZOO_MB, names[1], (double)sz[1] / ZOO_MB, names[2],
           (double)sz[2] / ZOO_MB);
  if (zoo_registry_load_config_text(&reg, cfg, err, sizeof err) ||
      zoo_manager_init(&m, &reg, p, err, sizeof err)) {
    fprintf(stderr, "bench_zoo: %s\n", err);
    return 1;
  }
  printf("churn: budget %.1f MB fits any two of movenet-lightning %.1f MB, blazeface %.1f MB, "
         "centernet %.1f MB (measured: weights + arena peak)\n",
         budget_mb, (double)sz[0] / ZOO_MB, (double)sz[1] / ZOO_MB, (double)sz[2] / ZOO_MB);
  /* round robin over three models with room for two: every request is a swap */
  double *first = calloc((size_t)swaps, sizeof *first);
  double first_by[3] = {0};
  int n_by[3] = {0};
  double t_all = now_s();
  int done = 0;
  for (int k = 0; k < swaps + 2; k++) {
    int i = k % 3;
    double t0 = now_s();
    zoo_lease l;
    if (zoo_manager_acquire(m, names[i], &l, err, sizeof err)) {
      fprintf(stderr, "bench_zoo: %s\n", err);
      return 1;
    }
    if (run_once(l.handle)) fprintf(stderr, "bench_zoo: run failed: %s\n", vrt_last_error());
    double dt = (now_s() - t0) * 1e3;
    zoo_manager_release(m, &l);
    if (k < 2) { /* the first two only fill the budget */
      t_all = now_s();
      continue;
    }
    first[done++] = dt;
    first_by[i] += dt;
    n_by[i]++;
  }
  double elapsed = now_s() - t_all;
  int loads = 0;
  for (int i = 0; i < 3; i++) loads += zoo_manager_load_count(m, names[i]);
  qsort(first, (size_t)done, sizeof *first, cmp_d);
  printf("  %d swaps in %.2f s: %.2f swaps/s (%d loads in all, each evicting the LRU model)\n",
         done, elapsed, done / elapsed, loads);
  printf("  time to first inference after a swap: median %.1f ms (min %.1f, max %.1f)\n",
         first[done / 2], first[0], first[done - 1]);
  for (int i = 0; i < 3; i++)
    if (n_by[i])
      printf("    %-18s first inference %.1f ms vs warm inference %.1f ms: ratio %.2fx\n",
             names[i], first_by[i] / n_by[i], warm_ms[i], first_by[i] / n_by[i] / warm_ms[i]);
  free(first);
  zoo_manager_free(m);
  zoo_registry_free(&reg);
  return 0;
}

int main(int argc, char **argv) {
  long iters = 2000000;
  int swaps = 9, threads = 1;
  bool hits_only = false;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--hits-only")) hits_only = true;
    else if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atol(argv[++i]);
    else if (!strcmp(argv[i], "--swaps") && i + 1 < argc) swaps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: bench_zoo [--hits-only] [--iters N] [--swaps N] [--threads N]\n");
      return 2;
    }
  }
  if (iters < 1000) iters = 1000;
  if (swaps < 1) swaps = 1;
  setenv("VIGIL_LOG", "warn", 0);
  int rc = bench_hits(iters);
  if (rc || hits_only) return rc;
  return bench_churn(swaps, threads);
}
