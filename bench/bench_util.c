/* The benchmarks' reference workers (bench_util.h): child processes that
 * answer one line per command over pipes, and how busy such a process is;
 * and the HTTP benchmarks' reply buffer. */
#include "bench_util.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/wait.h>

size_t bench_buf_keep(char *p, size_t sz, size_t n, void *ud) {
  bench_buf *b = ud;
  char *d = realloc(b->data, b->len + sz * n + 1);
  if (!d) return 0;
  memcpy(d + b->len, p, sz * n);
  b->data = d;
  b->len += sz * n;
  d[b->len] = 0;
  return sz * n;
}

pid_t bench_serve_start(const char *vigil, const char *service, int port, const char *const *env) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid != 0) return pid;
  char ps[16];
  snprintf(ps, sizeof ps, "%d", port);
  for (int i = 0; env && env[i] && env[i + 1]; i += 2) setenv(env[i], env[i + 1], 1);
  if (!freopen("/dev/null", "w", stderr)) _exit(126);
  execl(vigil, vigil, "serve", service, "--port", ps, "--bind", "127.0.0.1", (char *)NULL);
  _exit(127);
}

static void worker_close(bench_worker *w) {
  if (w->to) fclose(w->to);
  if (w->from) fclose(w->from);
  w->to = w->from = NULL;
  if (w->pid > 0) {
    int st;
    waitpid(w->pid, &st, 0);
  }
  w->pid = 0;
}

int bench_worker_start(bench_worker *w, char *const argv[], const char *env_key, const char *env_val) {
  memset(w, 0, sizeof *w);
  int a[2], b[2];
  if (pipe(a)) return -1;
  if (pipe(b)) {
    close(a[0]), close(a[1]);
    return -1;
  }
  fflush(stdout); /* the child must not repeat what is buffered */
  pid_t pid = fork();
  if (pid < 0) {
    close(a[0]), close(a[1]), close(b[0]), close(b[1]);
    return -1;
  }
  if (pid == 0) {
    dup2(a[0], 0);
    dup2(b[1], 1);
    close(a[0]), close(a[1]), close(b[0]), close(b[1]);
    if (env_key) setenv(env_key, env_val, 1);
    execvp(argv[0], argv);
    fprintf(stderr, "bench: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(a[0]);
  close(b[1]);
  w->pid = pid;
  w->to = fdopen(a[1], "w");
  w->from = fdopen(b[0], "r");
  char line[256];
  if (!w->to || !w->from || !fgets(line, sizeof line, w->from) || strncmp(line, "ready", 5)) {
    worker_close(w);
    return -1;
  }
  return 0;
}

double bench_worker_cmd(bench_worker *w, double *second, const char *fmt, ...) {
  if (second) *second = NAN;
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
    fprintf(stderr, "bench: worker %d: %s\n", (int)w->pid, line);
    return NAN;
  }
  char *end;
  double v = strtod(line + 2, &end);
  if (end == line + 2) return 0;
  if (second) {
    char *e2;
    double s = strtod(end, &e2);
    if (e2 != end) *second = s;
  }
  return v;
}

void bench_worker_stop(bench_worker *w) {
  if (!w->pid) return;
  fputs("quit\n", w->to);
  fflush(w->to);
  worker_close(w);
}

double bench_proc_cpu_ms(pid_t pid) {
  /* per-thread schedstat (ns on the CPU): /proc/PID/stat counts in clock
   * ticks, too coarse to see a spin of a few ms */
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
  DIR *d = opendir(path);
  if (!d) return NAN;
  double ns = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char p[320];
    snprintf(p, sizeof p, "/proc/%d/task/%s/schedstat", (int)pid, e->d_name);
    FILE *f = fopen(p, "r");
    unsigned long long on = 0;
    if (f && fscanf(f, "%llu", &on) == 1) ns += (double)on;
    if (f) fclose(f);
  }
  closedir(d);
  return ns / 1e6;
}

double bench_procs_settle(const pid_t *pids, int n, double max_ms) {
  /* idle = under 0.2 ms of CPU, all of them together, in 20 ms: on a loaded
   * machine a spinning thread can go unscheduled for 10 ms and more */
  double t0 = now_s(), prev = 0;
  for (int i = 0; i < n; i++) prev += bench_proc_cpu_ms(pids[i]);
  struct timespec nap = {0, 20000000};
  while (!isnan(prev) && (now_s() - t0) * 1e3 < max_ms) {
    nanosleep(&nap, NULL);
    double cur = 0;
    for (int i = 0; i < n; i++) cur += bench_proc_cpu_ms(pids[i]);
    if (isnan(cur) || cur - prev < 0.2) break;
    prev = cur;
  }
  return (now_s() - t0) * 1e3;
}
