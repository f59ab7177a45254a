/* Shared by the black-box service tests: curl over loopback into a JSON body
 * and an HTTP status, and waiting for a server to answer /health. The test
 * defines `tmp`, a scratch folder for curl's output. Header-only. */
#ifndef VIGIL_TESTS_SERVICE_TEST_H
#define VIGIL_TESTS_SERVICE_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static char tmp[256];

/* curl ARGS (printf-style); *out = the parsed JSON body, *status = HTTP status */
static int svc_curl(json_t **out, int *status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int svc_curl(json_t **out, int *status, const char *fmt, ...) {
  char args[4096], cmd[4700], path[300];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(args, sizeof args, fmt, ap);
  va_end(ap);
  snprintf(cmd, sizeof cmd, "curl -s -o %s/body.json -w '%%{http_code}' %s > %s/code", tmp, args, tmp);
  if (system(cmd)) return -1;
  snprintf(path, sizeof path, "%s/code", tmp);
  FILE *f = fopen(path, "r");
  if (!f || fscanf(f, "%d", status) != 1) {
    if (f) fclose(f);
    return -1;
  }
  fclose(f);
  snprintf(path, sizeof path, "%s/body.json", tmp);
  json_error_t je;
  *out = json_load_file(path, 0, &je);
  return *out ? 0 : -1;
}

/* A loopback port the kernel has just handed out (free now; tests running at the same
 * time cannot collide on it as they can on pid-derived ports). */
static inline int svc_free_port(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof a;
  int port = -1;
  if (s >= 0 && !bind(s, (struct sockaddr *)&a, sizeof a) && !getsockname(s, (struct sockaddr *)&a, &l))
    port = ntohs(a.sin_port);
  if (s >= 0) close(s);
  return port;
}

/* Waits up to 60 s for GET /health to answer (a loaded machine loading models is slow;
 * it returns as soon as the server answers); false if it never does. */
static bool svc_wait_up(int port) {
  for (int i = 0; i < 600; i++) {
    json_t *j;
    int st;
    if (svc_curl(&j, &st, "http://127.0.0.1:%d/health", port) == 0) {
      json_decref(j);
      return true;
    }
    usleep(100000);
  }
  return false;
}

/* In a forked child: stderr into tmp/serve-PORT.log, then `$VIGIL_BINARY serve SERVICE
 * --port PORT` (on 127.0.0.1 only when loopback); never returns. */
static inline void svc_serve_exec(const char *service, int port, bool loopback) __attribute__((noreturn));
static inline void svc_serve_exec(const char *service, int port, bool loopback) {
  char ports[16], log[512];
  snprintf(ports, sizeof ports, "%d", port);
  snprintf(log, sizeof log, "%s/serve-%d.log", tmp, port);
  if (!freopen(log, "w", stderr)) _exit(126);
  const char *bin = getenv("VIGIL_BINARY");
  if (loopback) execl(bin, bin, "serve", service, "--port", ports, "--bind", "127.0.0.1", (char *)NULL);
  else execl(bin, bin, "serve", service, "--port", ports, (char *)NULL);
  _exit(127);
}

/* POSTs the JSON file tmp/FILE to PATH on the port; the test fails unless the status is
 * want. Returns the reply's JSON. */
static inline json_t *svc_post_file(int port, const char *path, const char *file, int want) {
  json_t *j;
  int st;
  assert_int_equal(svc_curl(&j, &st, "-H 'Content-Type: application/json' --data-binary @%s/%s http://127.0.0.1:%d%s",
                            tmp, file, port, path),
                   0);
  if (st != want) fail_msg("%s: status %d, wanted %d: %s", path, st, want, json_dumps(j, 0));
  return j;
}

#endif
