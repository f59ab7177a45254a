/* Black-box test of the HTTP edge: starts `vigil serve detect` on a free port
 * (VIGIL_BINARY) and checks the answers to good and bad requests, the limits
 * (body size, connections, slow clients), /metrics, and a clean SIGTERM exit. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "util/assets.h"
#include "util/base64.h"

static pid_t server_pid;
static int port;

static void nap_ms(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int connect_server(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
    close(fd);
    return -1;
  }
  struct timeval tv = {20, 0}; /* a hung server fails the test instead of hanging it */
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

static int send_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

typedef struct {
  int status;
  char head[4096];
  char *body;
  size_t body_len;
} reply;

/* Reads a whole response from a `Connection: close` request. */
static int read_reply(int fd, reply *r) {
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap + 1);
  for (;;) {
    if (len == cap) buf = realloc(buf, (cap *= 2) + 1);
    ssize_t n = recv(fd, buf + len, cap - len, 0);
    if (n <= 0) break;
    len += (size_t)n;
  }
  buf[len] = '\0';
  memset(r, 0, sizeof *r);
  char *sep = strstr(buf, "\r\n\r\n");
  if (len < 12 || strncmp(buf, "HTTP/1.", 7) || !sep) {
    free(buf);
    return -1;
  }
  r->status = atoi(buf + 9);
  size_t hl = (size_t)(sep - buf);
  memcpy(r->head, buf, hl < sizeof r->head - 1 ? hl : sizeof r->head - 1);
  r->body_len = len - hl - 4;
  r->body = malloc(r->body_len + 1);
  memcpy(r->body, sep + 4, r->body_len + 1);
  free(buf);
  return 0;
}

static reply request(const char *method, const char *path, const char *ctype, const void *body, size_t len) {
  char head[1024];
  int hl = snprintf(head, sizeof head,
                    "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n%s%s%sContent-Length: %zu\r\n\r\n",
                    method, path, ctype ? "Content-Type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "", len);
  int fd = connect_server();
  assert_true(fd >= 0);
  assert_int_equal(send_all(fd, head, (size_t)hl), 0);
  if (len) assert_int_equal(send_all(fd, body, len), 0);
  reply r;
  if (read_reply(fd, &r)) fail_msg("%s %s: no HTTP reply", method, path);
  close(fd);
  return r;
}

/* The reply is JSON with a non-empty "detail". */
static void assert_detail(const reply *r, const char *contains) {
  json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
  if (!j) fail_msg("status %d: body is not JSON: %.200s", r->status, r->body);
  const char *d = json_string_value(json_object_get(j, "detail"));
  if (!d || !*d) fail_msg("no detail in %.200s", r->body);
  if (contains && !strstr(d, contains)) fail_msg("detail '%s' lacks '%s'", d, contains);
  json_decref(j);
}

static void expect(const char *method, const char *path, const char *ctype, const char *body, int status,
                   const char *detail) {
  reply r = request(method, path, ctype, body, body ? strlen(body) : 0);
  if (r.status != status) fail_msg("%s %s: status %d, want %d (%.200s)", method, path, r.status, status, r.body);
  assert_detail(&r, detail);
  free(r.body);
}

/* Starts `vigil serve detect` with the given request timeout and connection
 * limit; sets server_pid and port. */
static int start_with(const char *request_timeout, const char *max_connections) {
  const char *bin = getenv("VIGIL_BINARY");
  if (!bin) {
    fprintf(stderr, "VIGIL_BINARY is not set (run through ctest)\n");
    return -1;
  }
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t al = sizeof a;
  if (bind(s, (struct sockaddr *)&a, sizeof a) || getsockname(s, (struct sockaddr *)&a, &al)) return -1;
  port = ntohs(a.sin_port);
  close(s);
  char ports[16];
  snprintf(ports, sizeof ports, "%d", port);
  setenv("VIGIL_HTTP_MAX_BODY_MB", "2", 1);
  setenv("VIGIL_HTTP_REQUEST_TIMEOUT_S", request_timeout, 1);
  setenv("VIGIL_HTTP_MAX_CONNECTIONS", max_connections, 1);
  setenv("VIGIL_HTTP_THREADS", "2", 1);
  setenv("VIGIL_LOG", "warn", 1);
  unsetenv("PORT");
  server_pid = fork();
  if (server_pid == 0) {
    execl(bin, bin, "serve", "detect", "--port", ports, "--bind", "127.0.0.1", (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 600; i++) { /* up to a minute for the model to load on a busy machine */
    int fd = connect_server();
    if (fd >= 0) {
      close(fd);
      return 0;
    }
    int st;
    if (waitpid(server_pid, &st, WNOHANG) == server_pid) {
      fprintf(stderr, "vigil serve exited early (status %d)\n", st);
      return -1;
    }
    nap_ms(100);
  }
  fprintf(stderr, "vigil serve did not start listening\n");
  return -1;
}

/* The main server: slow clients cut off after 2 s. The detect service checks
 * its input only once its model is loaded, so the model must be installed. */
static int start_server(void **state) {
  char path[1024];
  if (vigil_asset_require(path, sizeof path, "models/human/centernet.json")) {
    fprintf(stderr, "%s\n", vigil_asset_errmsg());
    return -1;
  }
  return start_with("2", "64");
}

static int stop_server(void **state) {
  if (server_pid > 0) {
    kill(server_pid, SIGKILL);
    waitpid(server_pid, NULL, 0);
    server_pid = 0;
  }
  return 0;
}

/* A second server for the connection limit: 4 connections, and a request
 * timeout long enough that the idle connections are not cut off meanwhile. */
static pid_t main_pid;
static int main_port;

static int start_limited(void **state) {
  main_pid = server_pid, main_port = port;
  return start_with("120", "4");
}

static int stop_limited(void **state) {
  stop_server(state);
  server_pid = main_pid, port = main_port;
  return 0;
}

static void health(void **state) {
  reply r = request("GET", "/health", NULL, NULL, 0);
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.head, "application/json"));
  json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
  assert_non_null(j);
  const char *st = json_string_value(json_object_get(j, "status"));
  assert_non_null(st);
  assert_true(!strcmp(st, "healthy") || !strcmp(st, "degraded") || !strcmp(st, "unhealthy"));
  assert_true(json_is_boolean(json_object_get(j, "model_loaded")));
  assert_non_null(json_object_get(j, "device"));
  json_decref(j);
  free(r.body);
}

static void bad_requests(void **state) {
  expect("POST", "/detect", "application/json", "{\"image_base64\": ", 400, "malformed JSON");
  expect("POST", "/detect", "application/json", "[1, 2]", 400, NULL);
  expect("POST", "/detect", "application/json", "{\"image_base64\": 12}", 400, "image_base64");
  expect("POST", "/detect", "application/json", "{\"image_base64\": \"@@@@\"}", 400, "base64");
  expect("POST", "/detect", "application/json", "{\"image_base64\": \"aGVsbG8gd29ybGQ=\"}", 400,
         "could not decode image");
  expect("POST", "/detect", "application/json", "{\"image_base64\": \"R0lGODlhAQABAAAAACw=\"}", 415, "gif");
  expect("POST", "/detect", "text/plain", "hello", 415, "content type");
  expect("POST", "/detect", NULL, "hello", 415, NULL);
  expect("POST", "/detect", "multipart/form-data", "x", 400, "boundary");
  expect("POST", "/detect", "multipart/form-data; boundary=zz", "--zz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc",
         400, "multipart");
  expect("GET", "/nope", NULL, NULL, 404, "not found");
  expect("GET", "/detect", NULL, NULL, 405, NULL);
}

static void huge_png_header(void **state) {
  /* IHDR claims 100000 x 100000 (CRC left wrong on purpose is not needed: the
   * size check comes first either way) */
  static const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                                0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0, 8, 2, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef};
  char b64[128], body[256];
  vigil_b64_encode(b64, png, sizeof png, 0);
  snprintf(body, sizeof body, "{\"image_base64\": \"%s\"}", b64);
  reply r = request("POST", "/detect", "application/json", body, strlen(body));
  if (r.status != 413 && r.status != 400) fail_msg("status %d (%.200s)", r.status, r.body);
  assert_detail(&r, NULL);
  free(r.body);
}

static void oversized_bodies(void **state) {
  /* announced by Content-Length: refused before the body is sent */
  const char *h = "POST /detect HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\n"
                  "Content-Length: 50000000\r\n\r\n";
  int fd = connect_server();
  assert_int_equal(send_all(fd, h, strlen(h)), 0);
  reply r;
  assert_int_equal(read_reply(fd, &r), 0);
  close(fd);
  assert_int_equal(r.status, 413);
  assert_detail(&r, "too large");
  free(r.body);
  /* chunked, 3 MB against a 2 MB limit: counted as it streams, then refused */
  h = "POST /detect HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  fd = connect_server();
  assert_int_equal(send_all(fd, h, strlen(h)), 0);
  static char chunk[65536 + 16];
  int cl = snprintf(chunk, sizeof chunk, "10000\r\n");
  memset(chunk + cl, 'A', 65536);
  memcpy(chunk + cl + 65536, "\r\n", 2);
  for (int i = 0; i < 48; i++) assert_int_equal(send_all(fd, chunk, (size_t)cl + 65536 + 2), 0);
  assert_int_equal(send_all(fd, "0\r\n\r\n", 5), 0);
  assert_int_equal(read_reply(fd, &r), 0);
  close(fd);
  assert_int_equal(r.status, 413);
  assert_detail(&r, "too large");
  free(r.body);
}

static void oversized_headers(void **state) {
  static char big[80000];
  int n = snprintf(big, sizeof big, "GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX-Big: ");
  memset(big + n, 'b', 70000);
  memcpy(big + n + 70000, "\r\n\r\n", 4);
  int fd = connect_server();
  send_all(fd, big, (size_t)n + 70004); /* the server may stop reading part-way */
  reply r;
  int got = read_reply(fd, &r);
  close(fd);
  /* either an error status or a closed connection, never a 200 */
  if (got == 0) {
    assert_true(r.status >= 400);
    free(r.body);
  }
}

/* A client that sends one byte at a time is cut off (request timeout 2 s). */
static void slow_client(void **state) {
  int fd = connect_server();
  assert_true(fd >= 0);
  const char *h = "GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";
  assert_int_equal(send_all(fd, h, strlen(h)), 0);
  bool closed = false;
  for (int i = 0; i < 100 && !closed; i++) { /* at most 100 x 200 ms */
    if (send(fd, "a", 1, MSG_NOSIGNAL) != 1) {
      closed = true;
      break;
    }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 200) > 0) {
      char c[512];
      ssize_t n = recv(fd, c, sizeof c, MSG_DONTWAIT);
      if (n <= 0) closed = true;
    }
  }
  close(fd);
  assert_true(closed);
}

/* Past the connection limit (4 here), a new connection closes the oldest one
 * still waiting for its request, so idle or slow clients cannot lock the
 * service: /health answers, and the idle connections are all closed. */
static void connection_limit(void **state) {
  int idle[6];
  for (int i = 0; i < 6; i++) assert_true((idle[i] = connect_server()) >= 0);
  /* let the server accept the idle ones first: a connection accepted among them,
   * before it sent its headers, is itself an "oldest waiting" one a later idle
   * connection may close (by design); the request must come after them */
  usleep(1000 * 1000);
  reply r = request("GET", "/health", NULL, NULL, 0);
  assert_int_equal(r.status, 200);
  free(r.body);
  r = request("POST", "/detect", "application/json", "{}", 2);
  assert_int_equal(r.status, 400); /* a normal request is served too */
  free(r.body);
  int closed = 0;
  for (int i = 0; i < 6; i++) {
    char c;
    if (recv(idle[i], &c, 1, 0) <= 0) closed++; /* EOF, or the 20 s receive timeout */
    close(idle[i]);
  }
  assert_int_equal(closed, 6);
}

/* Opens a connection from a loopback source address of our choosing. */
static int connect_from(const char *src) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in me = {.sin_family = AF_INET};
  inet_pton(AF_INET, src, &me.sin_addr);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&me, sizeof me) || connect(fd, (struct sockaddr *)&a, sizeof a)) {
    close(fd);
    return -1;
  }
  struct timeval tv = {20, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

/* A crowd of 100 connections trickling header bytes: /health still answers
 * 200, and another client's request is served or refused with a JSON 503,
 * never left hanging (each read has a 20 s timeout). */
static void slow_crowd(void **state) {
  enum { N = 100 };
  int fds[N], n = 0;
  for (int i = 0; i < N; i++) {
    int fd = connect_server();
    if (fd < 0) continue;
    send_all(fd, "GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ", 48);
    fds[n++] = fd;
  }
  assert_true(n >= N / 2);
  for (int i = 0; i < n; i++) send(fds[i], "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
  reply r = request("GET", "/health", NULL, NULL, 0);
  assert_int_equal(r.status, 200);
  free(r.body);
  for (int i = 0; i < n; i++) send(fds[i], "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
  int fd = connect_from("127.0.0.2");
  assert_true(fd >= 0);
  const char *h = "POST /detect HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\n"
                  "Content-Length: 2\r\n\r\n{}";
  assert_int_equal(send_all(fd, h, strlen(h)), 0);
  if (read_reply(fd, &r)) fail_msg("the other client got no reply");
  close(fd);
  if (r.status != 400 && r.status != 503) fail_msg("status %d (%.200s)", r.status, r.body);
  assert_detail(&r, NULL);
  free(r.body);
  for (int i = 0; i < n; i++) close(fds[i]);
}

/* A %00 in the request target is refused, not cut short. */
static void nul_in_path(void **state) {
  expect("GET", "/health%00/x", NULL, NULL, 400, "NUL");
  expect("GET", "/health?x=1%00", NULL, NULL, 400, "NUL");
}

static uint32_t crc32_of(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
  }
  return ~c;
}

/* A PNG whose IHDR says width 0 is a corrupt file (400), not a large one. */
static void zero_width_png(void **state) {
  uint8_t png[33] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                     0, 0, 0, 0, 0, 0, 0, 64, 8, 2, 0, 0, 0};
  uint32_t crc = crc32_of(png + 12, 17);
  png[29] = (uint8_t)(crc >> 24), png[30] = (uint8_t)(crc >> 16), png[31] = (uint8_t)(crc >> 8), png[32] = (uint8_t)crc;
  char b64[128], body[256];
  vigil_b64_encode(b64, png, sizeof png, 0);
  snprintf(body, sizeof body, "{\"image_base64\": \"%s\"}", b64);
  reply r = request("POST", "/detect", "application/json", body, strlen(body));
  if (r.status != 400) fail_msg("status %d (%.200s)", r.status, r.body);
  assert_detail(&r, NULL);
  free(r.body);
}

/* Headers or a target over our limits get our JSON 431 / 414, not HTML. */
static void json_header_limits(void **state) {
  static char big[48000];
  int n = snprintf(big, sizeof big, "GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX-Big: ");
  memset(big + n, 'b', 40000);
  memcpy(big + n + 40000, "\r\n\r\n", 4);
  int fd = connect_server();
  assert_int_equal(send_all(fd, big, (size_t)n + 40004), 0);
  reply r;
  assert_int_equal(read_reply(fd, &r), 0);
  close(fd);
  assert_int_equal(r.status, 431);
  assert_non_null(strstr(r.head, "application/json"));
  assert_detail(&r, "too large");
  free(r.body);
  n = snprintf(big, sizeof big, "GET /health?q=");
  memset(big + n, 'q', 12000);
  n += 12000;
  n += snprintf(big + n, sizeof big - (size_t)n, " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  fd = connect_server();
  assert_int_equal(send_all(fd, big, (size_t)n), 0);
  assert_int_equal(read_reply(fd, &r), 0);
  close(fd);
  assert_int_equal(r.status, 414);
  assert_detail(&r, "too long");
  free(r.body);
}

static void still_serving_and_metrics(void **state) {
  health(state);
  reply r = request("GET", "/metrics", NULL, NULL, 0);
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.head, "text/plain"));
  assert_non_null(strstr(r.body, "# TYPE vigil_http_requests_total counter"));
  assert_non_null(strstr(r.body, "route=\"/detect\",status=\"400\""));
  assert_non_null(strstr(r.body, "status=\"413\""));
  assert_non_null(strstr(r.body, "route=\"/health\",status=\"200\""));
  assert_non_null(strstr(r.body, "vigil_http_request_duration_seconds_bucket{service=\"detect\",method=\"GET\",route=\"/health\",le=\"+Inf\"}"));
  assert_non_null(strstr(r.body, "vigil_process_resident_memory_bytes"));
  free(r.body);
}

static void clean_shutdown(void **state) {
  assert_int_equal(kill(server_pid, SIGTERM), 0);
  int st = 0;
  for (int i = 0; i < 200; i++) {
    if (waitpid(server_pid, &st, WNOHANG) == server_pid) {
      server_pid = 0;
      break;
    }
    nap_ms(50);
  }
  assert_int_equal(server_pid, 0);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(health),           cmocka_unit_test(bad_requests),
      cmocka_unit_test(huge_png_header),  cmocka_unit_test(oversized_bodies),
      cmocka_unit_test(oversized_headers), cmocka_unit_test(slow_client),
      cmocka_unit_test(slow_crowd),       cmocka_unit_test(nul_in_path),
      cmocka_unit_test(zero_width_png),   cmocka_unit_test(json_header_limits),
      cmocka_unit_test_setup_teardown(connection_limit, start_limited, stop_limited),
      cmocka_unit_test(still_serving_and_metrics),
      cmocka_unit_test(clean_shutdown),
  };
  return cmocka_run_group_tests(tests, start_server, stop_server);
}
