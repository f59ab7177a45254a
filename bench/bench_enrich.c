/* Benchmark of POST /enrich on a person crop (the person that the real
 * detector finds in person.jpg), against a `vigil serve enrich` it starts on
 * a free port with every model routed to that one service: p50/p99 with the
 * real default models loaded (warm), and with every model cold (each loaded
 * model unloaded through /models/unload before each request), as the ratio
 * warm/cold measured in the same run. Both the client latency and the
 * service's own inference_time_ms are shown.
 * usage: bench_enrich [--warm N] [--cold N] [--vigil PATH] */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
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
#include "util/base64.h"
#include "vigil/annotate.h"
#include "vigil/detect.h"

static int port;

/* method + path (+ JSON body); returns the parsed reply (NULL on failure) and the latency. */
static json_t *call(CURL *h, const char *method, const char *path, const char *body, double *secs, long *status) {
  char url[512];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
  bench_buf b = {0};
  struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
  curl_easy_reset(h);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, bench_buf_keep);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 300L);
  if (!strcmp(method, "POST")) curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
  double t0 = now_s();
  CURLcode cc = curl_easy_perform(h);
  if (secs) *secs = now_s() - t0;
  *status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
  curl_slist_free_all(hdr);
  json_t *j = cc == CURLE_OK && b.data ? json_loads(b.data, 0, NULL) : NULL;
  free(b.data);
  return j;
}

/* unloads every loaded model; returns how many */
static int unload_all(CURL *h) {
  long st;
  json_t *s = call(h, "GET", "/models/status", NULL, NULL, &st);
  json_t *loaded = json_object_get(s, "loaded_models");
  int n = 0;
  for (size_t i = 0; i < json_array_size(loaded); i++) {
    const char *name = json_string_value(json_object_get(json_array_get(loaded, i), "name"));
    char path[256];
    snprintf(path, sizeof path, "/models/unload?model_name=%s", name ? name : "");
    json_decref(call(h, "POST", path, "", NULL, &st));
    n += st == 200;
  }
  json_decref(s);
  return n;
}

int main(int argc, char **argv) {
  int nwarm = 10, ncold = 5;
  char vigil[1024];
  vigil_binary_path(vigil, sizeof vigil, argv[0]);
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--warm") && i + 1 < argc) nwarm = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--cold") && i + 1 < argc) ncold = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--vigil") && i + 1 < argc) snprintf(vigil, sizeof vigil, "%s", argv[++i]);
    else {
      fprintf(stderr, "usage: bench_enrich [--warm N] [--cold N] [--vigil PATH]\n");
      return 2;
    }
  }
  if (nwarm < 2 || ncold < 1) return 2;
  char path[1024], err[512];
  if (vigil_asset_require(path, sizeof path, "media/person.jpg")) {
    fprintf(stderr, "bench_enrich: %s\n", vigil_asset_errmsg());
    return 1;
  }
  /* the person crop */
  FILE *f = fopen(path, "rb");
  static uint8_t file[1 << 20];
  size_t flen = f ? fread(file, 1, sizeof file, f) : 0;
  if (f) fclose(f);
  vigil_image photo = {0}, crop = {0};
  vigil_img_limits lim = vigil_img_default_limits();
  if (vigil_img_decode(&photo, file, flen, &lim, err, sizeof err)) return 1;
  detector_params dp;
  char mp[1024];
  detector_t *det;
  if (detector_params_from_config(&dp, mp, sizeof mp, NULL, err, sizeof err) || detector_load(&det, dp, err, sizeof err)) {
    fprintf(stderr, "bench_enrich: %s (run `make deps`)\n", err);
    return 1;
  }
  vigil_det_list l;
  const vigil_image *one[1] = {&photo};
  if (detector_run(det, &l, one, 1, err, sizeof err)) return 1;
  int pi = -1;
  for (int i = 0; i < l.n && pi < 0; i++)
    if (!strcmp(l.dets[i].label, "person")) pi = i;
  if (pi < 0) {
    fprintf(stderr, "bench_enrich: no person found in person.jpg\n");
    return 1;
  }
  vigil_det p = l.dets[pi];
  if (vigil_img_crop(&crop, &photo, (int)p.x1, (int)p.y1, (int)(p.x2 - p.x1), (int)(p.y2 - p.y1))) return 1;
  vigil_det_list_free(&l);
  detector_free(det);
  uint8_t *jpg;
  size_t jlen;
  if (annotate_encode_jpeg(&jpg, &jlen, &crop, 92)) return 1;
  char *b64 = malloc(vigil_b64_encoded_len(jlen) + 1);
  vigil_b64_encode(b64, jpg, jlen, 0);
  json_t *req = json_pack("{s:s, s:s, s:{s:i, s:i, s:i, s:i}, s:{s:b}}", "image", b64, "detection_type", "person",
                          "bbox", "x1", 0, "y1", 0, "x2", crop.w, "y2", crop.h, "options", "include_pose", 1);
  char *body = json_dumps(req, JSON_COMPACT);
  json_decref(req);
  free(b64);
  free(jpg);

  /* the service, every model in its one zoo so /models/unload reaches them all */
  static const char *const fns[] = {"POSE", "THREAT", "REID", "PET", "DEPTH", "FACE", "DEMOGRAPHICS", "CLOTHING",
                                    "VEHICLE", "ACTION", "DAMAGE", NULL};
  for (int i = 0; fns[i]; i++) {
    char k[64];
    snprintf(k, sizeof k, "ENRICHMENT_%s_SERVICE", fns[i]);
    setenv(k, "heavy", 1);
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  port = free_port();
  pid_t pid = bench_serve_start(vigil, "enrich", port, NULL);
  CURL *h = curl_easy_init();
  long st = 0;
  for (int i = 0; i < 600; i++) {
    json_t *j = call(h, "GET", "/health", NULL, NULL, &st);
    json_decref(j);
    if (st == 200) break;
    usleep(100000);
  }
  double secs;
  json_t *first = call(h, "POST", "/enrich", body, &secs, &st); /* loads the models */
  if (st != 200 || !first) {
    fprintf(stderr, "bench_enrich: %s serve enrich did not answer /enrich (status %ld)\n", vigil, st);
    kill(pid, SIGTERM);
    return 1;
  }
  char used[512] = "";
  json_t *mu = json_object_get(first, "models_used");
  for (size_t i = 0; i < json_array_size(mu); i++)
    snprintf(used + strlen(used), sizeof used - strlen(used), "%s%s", i ? ", " : "",
             json_string_value(json_array_get(mu, i)));
  json_decref(first);

  double *warm = calloc((size_t)nwarm, sizeof *warm), *warm_srv = calloc((size_t)nwarm, sizeof *warm_srv);
  double *cold = calloc((size_t)ncold, sizeof *cold), *cold_srv = calloc((size_t)ncold, sizeof *cold_srv);
  int failures = 0, unloaded = 0;
  for (int k = 0; k < nwarm; k++) {
    json_t *j = call(h, "POST", "/enrich", body, &warm[k], &st);
    failures += st != 200;
    warm[k] *= 1e3;
    warm_srv[k] = json_number_value(json_object_get(j, "inference_time_ms"));
    json_decref(j);
  }
  for (int k = 0; k < ncold; k++) {
    unloaded += unload_all(h);
    json_t *j = call(h, "POST", "/enrich", body, &cold[k], &st);
    failures += st != 200;
    cold[k] *= 1e3;
    cold_srv[k] = json_number_value(json_object_get(j, "inference_time_ms"));
    json_decref(j);
  }
  curl_easy_cleanup(h);
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);

  double w50 = pct(warm, nwarm, 50), w99 = pct(warm, nwarm, 99), c50 = pct(cold, ncold, 50), c99 = pct(cold, ncold, 99);
  double ws50 = pct(warm_srv, nwarm, 50), cs50 = pct(cold_srv, ncold, 50);
  printf("bench_enrich: POST /enrich, person crop %dx%d from person.jpg; models used: %s\n", crop.w, crop.h, used);
  printf("  warm (models loaded)   : p50 %.1f ms, p99 %.1f ms (service inference p50 %.1f ms), %d requests\n", w50, w99,
         ws50, nwarm);
  printf("  cold (all unloaded)    : p50 %.1f ms, p99 %.1f ms (service inference p50 %.1f ms), %d requests, %.1f models "
         "unloaded before each\n",
         c50, c99, cs50, ncold, (double)unloaded / ncold);
  printf("  warm/cold p50: %.3f (cold is %.1fx slower); warm/cold p99: %.3f\n", w50 / c50, c50 / w50, w99 / c99);
  free(warm), free(warm_srv), free(cold), free(cold_srv);
  free(body);
  vigil_image_free(&photo);
  vigil_image_free(&crop);
  if (failures) printf("  %d requests FAILED\n", failures);
  return failures ? 1 : 0;
}
