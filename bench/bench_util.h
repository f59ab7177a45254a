/* Shared by the benchmarks: a monotonic clock, nearest-rank percentiles and
 * medians, a free loopback port for the server they start, where that
 * server's binary is (inline, below), and the reference workers: child
 * processes speaking a one-line protocol on their stdin/stdout
 * (bench_util.c). */
#ifndef VIGIL_BENCH_UTIL_H
#define VIGIL_BENCH_UTIL_H

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static inline double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* nearest-rank percentile of n samples (sorts v) */
static inline double pct(double *v, int n, double p) {
  qsort(v, (size_t)n, sizeof *v, cmp_d);
  int k = (int)(p / 100.0 * n + 0.999999) - 1;
  return v[k < 0 ? 0 : k >= n ? n - 1 : k];
}

/* median of n samples, NAN when n <= 0 (sorts v) */
static inline double median_of(double *v, int n) {
  if (n <= 0) return NAN;
  qsort(v, (size_t)n, sizeof *v, cmp_d);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static inline int free_port(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof a;
  if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || getsockname(s, (struct sockaddr *)&a, &l)) return -1;
  close(s);
  return ntohs(a.sin_port);
}

/* The vigil binary the benches start: $VIGIL_BINARY, else the `vigil` built
 * beside this bench program. */
static inline void vigil_binary_path(char *buf, size_t len, const char *argv0) {
  if (getenv("VIGIL_BINARY")) {
    snprintf(buf, len, "%s", getenv("VIGIL_BINARY"));
    return;
  }
  snprintf(buf, len, "%s", argv0);
  char *sl = strrchr(buf, '/');
  if (sl) snprintf(sl + 1, len - (size_t)(sl + 1 - buf), "vigil");
  else snprintf(buf, len, "./vigil");
}

/* Starts `VIGIL serve SERVICE --port PORT --bind 127.0.0.1` with stderr to
 * /dev/null and env (NULL, or "KEY", "VALUE", ..., NULL) set in the child
 * only. Returns its pid, -1 if fork failed (bench_util.c). */
pid_t bench_serve_start(const char *vigil, const char *service, int port, const char *const *env);

/* A reply body growing as it arrives (NUL-terminated; free data). */
typedef struct bench_buf {
  char *data;
  size_t len;
} bench_buf;
/* libcurl CURLOPT_WRITEFUNCTION appending to the bench_buf in ud (bench_util.c). */
size_t bench_buf_keep(char *p, size_t sz, size_t n, void *ud);

/* ---- reference workers (bench_util.c) ---------------------------------------
 * A worker is a child process that prints "ready" once, then reads one
 * command per line and answers one line: "ok [NUMBER [NUMBER ...]]" or
 * "err MESSAGE" (tools/ref/ort_bench.mjs, bench_vrt --worker, ...). */
typedef struct bench_worker {
  pid_t pid; /* 0: not running */
  FILE *to, *from;
} bench_worker;

/* Starts argv (PATH lookup) with env_key=env_val set in the child when
 * env_key is not NULL, and waits for its "ready" line. 0 or -1 (then the
 * child, if any, is stopped). */
int bench_worker_start(bench_worker *w, char *const argv[], const char *env_key, const char *env_val);
/* Sends one command; returns the first number after "ok" (0 when there is
 * none), NAN on "err" (printed to stderr) or EOF. *second, when not NULL,
 * gets the next number (NAN when there is none). */
double bench_worker_cmd(bench_worker *w, double *second, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Sends "quit", closes the pipes and reaps the child; no-op when not running. */
void bench_worker_stop(bench_worker *w);
/* CPU time the process has used, all its threads, in ms (NAN if unreadable). */
double bench_proc_cpu_ms(pid_t pid);
/* Waits (at most max_ms) until the n processes stop using the CPU: ONNX
 * Runtime's pool threads spin for tens of ms after a run, which would take
 * the core of whatever runs next. Returns the ms waited. */
double bench_procs_settle(const pid_t *pids, int n, double max_ms);

#endif
