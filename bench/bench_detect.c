/* Benchmark of the detection service: POST /detect on vtest.avi frames (JPEG)
 * against a `vigil serve detect` it starts on a free port, with 1 and 4
 * concurrent clients (requests/s, p50/p99 latency), compared in the same run
 * with bare inference (detector_run in process on the same decoded frames).
 * Prints the HTTP + decode overhead as a percentage of inference (target
 * <= 5%), both as latency minus bare inference and as latency minus the
 * inference time the service itself reports.
 * usage: bench_detect [--frames N] [--requests N] [--vigil PATH] */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "util/assets.h"
#include "vigil/annotate.h"
#include "vigil/detect.h"
#include "vigil/video.h"

static size_t sink(char *p, size_t sz, size_t n, void *ud) {
  json_t **body = ud;
  (void)p;
  (void)body;
  return sz * n;
}

typedef struct {
  uint8_t *jpg;
  size_t len;
} frame_jpg;

static int port;
static frame_jpg *jpgs;
static int njpg;

/* One POST /detect; returns latency in seconds (<0 on failure) and the server's inference time. */
static double post_detect(CURL *h, int i, double *server_ms) {
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/detect", port);
  curl_mime *m = curl_mime_init(h);
  curl_mimepart *part = curl_mime_addpart(m);
  curl_mime_name(part, "file");
  curl_mime_filename(part, "frame.jpg");
  curl_mime_type(part, "image/jpeg");
  curl_mime_data(part, (const char *)jpgs[i].jpg, jpgs[i].len);
  bench_buf b = {0};
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_MIMEPOST, m);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, bench_buf_keep);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
  double t0 = now_s();
  CURLcode cc = curl_easy_perform(h);
  double dt = now_s() - t0;
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_mime_free(m);
  json_t *j = b.data ? json_loads(b.data, 0, NULL) : NULL;
  *server_ms = json_number_value(json_object_get(j, "inference_time_ms"));
  bool ok = cc == CURLE_OK && status == 200 && json_is_array(json_object_get(j, "detections"));
  json_decref(j);
  free(b.data);
  return ok ? dt : -1;
}

typedef struct {
  int id, n;
  double *lat, *srv;
  int failures;
} client_arg;

static void *client_main(void *p) {
  client_arg *a = p;
  CURL *h = curl_easy_init();
  for (int k = 0; k < a->n; k++) {
    double s;
    double dt = post_detect(h, (a->id + k) % njpg, &s);
    if (dt < 0) a->failures++;
    a->lat[k] = dt, a->srv[k] = s;
  }
  curl_easy_cleanup(h);
  return NULL;
}

typedef struct {
  double rps, p50, p99, srv_p50;
  int failures;
} load_result;

static load_result run_clients(int clients, int total) {
  int per = (total + clients - 1) / clients;
  client_arg *a = calloc((size_t)clients, sizeof *a);
  pthread_t *th = calloc((size_t)clients, sizeof *th);
  double *lat = calloc((size_t)(per * clients), sizeof *lat), *srv = calloc((size_t)(per * clients), sizeof *srv);
  double t0 = now_s();
  for (int c = 0; c < clients; c++) {
    a[c] = (client_arg){.id = c, .n = per, .lat = lat + c * per, .srv = srv + c * per};
    pthread_create(&th[c], NULL, client_main, &a[c]);
  }
  load_result r = {0};
  for (int c = 0; c < clients; c++) {
    pthread_join(th[c], NULL);
    r.failures += a[c].failures;
  }
  double wall = now_s() - t0;
  int n = per * clients;
  r.rps = n / wall;
  r.p50 = pct(lat, n, 50) * 1e3;
  r.p99 = pct(lat, n, 99) * 1e3;
  r.srv_p50 = pct(srv, n, 50);
  free(a), free(th), free(lat), free(srv);
  return r;
}

int main(int argc, char **argv) {
  int nframes = 6, requests = 12;
  char vigil[1024];
  vigil_binary_path(vigil, sizeof vigil, argv[0]);
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--frames") && i + 1 < argc) nframes = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--requests") && i + 1 < argc) requests = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--vigil") && i + 1 < argc) snprintf(vigil, sizeof vigil, "%s", argv[++i]);
    else {
      fprintf(stderr, "usage: bench_detect [--frames N] [--requests N] [--vigil PATH]\n");
      return 2;
    }
  }
  if (nframes < 1 || requests < 4) return 2;
  char path[1024], err[512];
  if (vigil_asset_require(path, sizeof path, "media/vtest.avi")) {
    fprintf(stderr, "bench_detect: %s\n", vigil_asset_errmsg());
    return 1;
  }
  /* frames: spread over the video, decoded once, also kept as JPEG for the service */
  video_params vp = video_default_params();
  vp.fps = 0.2;
  video_reader *v;
  if (video_open(&v, path, vp, err, sizeof err)) {
    fprintf(stderr, "bench_detect: %s\n", err);
    return 1;
  }
  vigil_image *frames = calloc((size_t)nframes, sizeof *frames);
  jpgs = calloc((size_t)nframes, sizeof *jpgs);
  double pts;
  while (njpg < nframes && video_next(v, &frames[njpg], &pts, err, sizeof err) == 1) {
    if (annotate_encode_jpeg(&jpgs[njpg].jpg, &jpgs[njpg].len, &frames[njpg], 90)) return 1;
    njpg++;
  }
  video_close(v);
  if (!njpg) return 1;

  /* bare inference, in process, same model and settings as the service */
  detector_params dp;
  char mp[1024];
  detector_t *det;
  if (detector_params_from_config(&dp, mp, sizeof mp, NULL, err, sizeof err) || detector_load(&det, dp, err, sizeof err)) {
    fprintf(stderr, "bench_detect: %s (run `make deps`)\n", err);
    return 1;
  }
  vigil_det_list l;
  const vigil_image *one[1] = {&frames[0]};
  detector_run(det, &l, one, 1, err, sizeof err); /* warm-up */
  vigil_det_list_free(&l);
  double *bare = calloc((size_t)requests, sizeof *bare);
  char model[160];
  snprintf(model, sizeof model, "%s (%s, %d vrt thread%s)", detector_model_name(det),
           det_family_name(detector_family(det)), dp.threads, dp.threads == 1 ? "" : "s");

  /* the service */
  curl_global_init(CURL_GLOBAL_DEFAULT);
  port = free_port();
  pid_t pid = bench_serve_start(vigil, "detect", port, NULL);
  CURL *h = curl_easy_init();
  bool up = false;
  for (int i = 0; i < 600 && !up; i++) {
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/health", port);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    up = curl_easy_perform(h) == CURLE_OK;
    if (!up) usleep(100000);
  }
  double s;
  if (!up || post_detect(h, 0, &s) < 0) { /* also the service's warm-up */
    fprintf(stderr, "bench_detect: %s serve detect did not answer\n", vigil);
    kill(pid, SIGTERM);
    return 1;
  }
  /* 1 client, interleaved with bare inference on the same frame: on a shared
   * machine the load changes from second to second, and both see the same */
  double *lat = calloc((size_t)requests, sizeof *lat), *srv = calloc((size_t)requests, sizeof *srv);
  load_result r1 = {0};
  double busy = 0;
  for (int k = 0; k < requests; k++) {
    one[0] = &frames[k % njpg];
    double t0 = now_s();
    if (detector_run(det, &l, one, 1, err, sizeof err)) return 1;
    bare[k] = (now_s() - t0) * 1e3;
    vigil_det_list_free(&l);
    lat[k] = post_detect(h, k % njpg, &srv[k]);
    if (lat[k] < 0) r1.failures++;
    busy += lat[k];
  }
  curl_easy_cleanup(h);
  double bare_p50 = pct(bare, requests, 50);
  detector_free(det);
  r1.rps = requests / busy;
  r1.p50 = pct(lat, requests, 50) * 1e3;
  r1.p99 = pct(lat, requests, 99) * 1e3;
  r1.srv_p50 = pct(srv, requests, 50);
  free(lat);
  free(srv);
  load_result r4 = run_clients(4, requests * 2);
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);

  printf("bench_detect: %s, %d vtest frames %dx%d as JPEG (%.0f KB), %d requests per run\n", model, njpg,
         frames[0].w, frames[0].h, (double)jpgs[0].len / 1024, requests);
  printf("  bare inference (detector_run in process, interleaved with the 1-client requests): p50 %.1f ms\n", bare_p50);
  printf("  POST /detect, 1 client : %.2f req/s, p50 %.1f ms, p99 %.1f ms, service-reported inference p50 %.1f ms%s\n",
         r1.rps, r1.p50, r1.p99, r1.srv_p50, r1.failures ? " (FAILURES)" : "");
  printf("  POST /detect, 4 clients: %.2f req/s, p50 %.1f ms, p99 %.1f ms%s\n", r4.rps, r4.p50, r4.p99,
         r4.failures ? " (FAILURES)" : "");
  printf("  throughput 4 clients / 1 client: %.2fx (cores here: %ld)\n", r4.rps / r1.rps, sysconf(_SC_NPROCESSORS_ONLN));
  printf("  HTTP + decode overhead vs bare inference: %+.1f%% (p50 latency %.1f ms vs %.1f ms; target <= 5%%)\n",
         100 * (r1.p50 - bare_p50) / bare_p50, r1.p50, bare_p50);
  printf("  HTTP + decode overhead vs the service's own inference time: %+.1f%% (%.1f ms of %.1f ms)\n",
         100 * (r1.p50 - r1.srv_p50) / r1.srv_p50, r1.p50 - r1.srv_p50, r1.srv_p50);
  for (int i = 0; i < njpg; i++) {
    vigil_image_free(&frames[i]);
    free(jpgs[i].jpg);
  }
  free(frames);
  free(jpgs);
  free(bare);
  return r1.failures || r4.failures ? 1 : 0;
}
