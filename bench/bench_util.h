/* Shared by the HTTP benchmarks: a monotonic clock, nearest-rank
 * percentiles, a free loopback port for the server they start, and where
 * that server's binary is.
 * Header-only. */
#ifndef VIGIL_BENCH_UTIL_H
#define VIGIL_BENCH_UTIL_H

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
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

#endif
