/* Benchmark of load shedding on the detection service: `vigil serve detect`
 * with one worker gets POST /detect arrivals at 4x its sustainable rate
 * (open loop: a request every inference_time / 4, whatever came back). The
 * admitted requests' latency is compared with the unloaded latency measured
 * in the same run (ratio of medians); the shed ones (503 + Retry-After)
 * should come back at once. Before shedding, admitted requests waited behind
 * a 64-connection queue (p50 5.9 s against 118 ms unloaded, issue 10).
 * usage: bench_overload [--seconds N] [--vigil PATH] */
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "util/assets.h"
#include "vigil/annotate.h"
#include "vigil/video.h"

static int port;
static uint8_t *jpg;
static size_t jpg_len;

static size_t discard(char *p, size_t sz, size_t n, void *ud) { return sz * n; }

/* One POST /detect: the status, *dt its latency. */
static long post_detect(double *dt) {
  CURL *h = curl_easy_init();
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/detect", port);
  curl_mime *m = curl_mime_init(h);
  curl_mimepart *part = curl_mime_addpart(m);
  curl_mime_name(part, "file");
  curl_mime_filename(part, "frame.jpg");
  curl_mime_data(part, (const char *)jpg, jpg_len);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_MIMEPOST, m);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
  double t0 = now_s();
  CURLcode cc = curl_easy_perform(h);
  *dt = now_s() - t0;
  long status = 0;
  if (cc == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_mime_free(m);
  curl_easy_cleanup(h);
  return status;
}

typedef struct {
  double dt;
  long status;
  pthread_t t;
} arrival;

static void *arrive(void *p) {
  arrival *a = p;
  a->status = post_detect(&a->dt);
  return NULL;
}

int main(int argc, char **argv) {
  double seconds = 10;
  char vigil[1024];
  vigil_binary_path(vigil, sizeof vigil, argv[0]);
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
    else if (!strcmp(argv[i], "--vigil") && i + 1 < argc) snprintf(vigil, sizeof vigil, "%s", argv[++i]);
    else {
      fprintf(stderr, "usage: bench_overload [--seconds N] [--vigil PATH]\n");
      return 2;
    }
  }
  char path[1024], err[512];
  if (vigil_asset_require(path, sizeof path, "media/vtest.avi")) {
    fprintf(stderr, "bench_overload: %s\n", vigil_asset_errmsg());
    return 1;
  }
  video_params vp = video_default_params();
  vp.fps = 0.2;
  video_reader *v;
  vigil_image frame = {0};
  double pts;
  if (video_open(&v, path, vp, err, sizeof err) || video_next(v, &frame, &pts, err, sizeof err) != 1 ||
      annotate_encode_jpeg(&jpg, &jpg_len, &frame, 90)) {
    fprintf(stderr, "bench_overload: %s\n", err);
    return 1;
  }
  video_close(v);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  port = free_port();
  const char *const env[] = {"VIGIL_HTTP_THREADS", "1", "VIGIL_HTTP_MAX_CONNECTIONS", "1000",
                             "VIGIL_HTTP_MAX_CONNECTIONS_PER_IP", "0", NULL};
  pid_t pid = bench_serve_start(vigil, "detect", port, env);
  double dt;
  bool up = false;
  for (int i = 0; i < 600 && !up; i++) {
    up = post_detect(&dt) == 200;
    if (!up) usleep(100000);
  }
  if (!up) {
    fprintf(stderr, "bench_overload: %s serve detect did not answer\n", vigil);
    kill(pid, SIGTERM);
    return 1;
  }
  /* unloaded: one request at a time */
  enum { UNLOADED = 15 };
  double base[UNLOADED];
  for (int i = 0; i < UNLOADED; i++)
    if (post_detect(&base[i]) != 200) return 1;
  double base_p50 = pct(base, UNLOADED, 50);
  /* 4x the sustainable rate, open loop */
  double gap = base_p50 / 4;
  int n = (int)(seconds / gap) + 1;
  if (n > 2000) n = 2000;
  arrival *a = calloc((size_t)n, sizeof *a);
  double t0 = now_s();
  for (int i = 0; i < n; i++) {
    double due = t0 + i * gap, wait = due - now_s();
    if (wait > 0) usleep((useconds_t)(wait * 1e6));
    pthread_create(&a[i].t, NULL, arrive, &a[i]);
  }
  for (int i = 0; i < n; i++) pthread_join(a[i].t, NULL);
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
  double *ok = calloc((size_t)n, sizeof *ok), *shed = calloc((size_t)n, sizeof *shed);
  int nok = 0, nshed = 0, other = 0;
  for (int i = 0; i < n; i++) {
    if (a[i].status == 200) ok[nok++] = a[i].dt;
    else if (a[i].status == 503) shed[nshed++] = a[i].dt;
    else other++;
  }
  printf("bench_overload: detect, 1 worker, unloaded p50 %.1f ms; %d arrivals at 4x that rate over %.1f s\n",
         base_p50 * 1e3, n, n * gap);
  if (nok)
    printf("  admitted %d: p50 %.1f ms, p99 %.1f ms = %.2fx / %.2fx the unloaded p50\n", nok, pct(ok, nok, 50) * 1e3,
           pct(ok, nok, 99) * 1e3, pct(ok, nok, 50) / base_p50, pct(ok, nok, 99) / base_p50);
  if (nshed)
    printf("  shed %d (503 + Retry-After): p50 %.1f ms, p99 %.1f ms\n", nshed, pct(shed, nshed, 50) * 1e3,
           pct(shed, nshed, 99) * 1e3);
  if (other) printf("  other statuses or failures: %d\n", other);
  free(ok), free(shed), free(a); /* jpg: the encoder's allocation, left to exit */
  return other ? 1 : 0;
}
