/* bench_clip: the CLIP service's /embed (images/s) and /classify (texts/s), and
 * Florence-2 generation (tokens/s), each against ONNX Runtime (onnxruntime-node, CPU
 * EP, one intra-op thread, as vigil's sessions) running the same ONNX files on the
 * same input in the same run, interleaved round by round; medians.
 *
 * CLIP: `vigil serve clip` started on a free port; /embed of person.jpg and /classify of
 * it against 10 labels over loopback, against tools/ref/ort_bench.mjs running
 * vision.onnx on the same preprocessed pixels and text.onnx on the same 10 token rows.
 * vigil's time includes HTTP, base64, JPEG decoding and preprocessing; ORT's is the
 * graphs alone. Florence-2: florence_run (greedy, <DETAILED_CAPTION>) in this process
 * against tools/ref/ort_florence.mjs running the five graphs with the same greedy loop.
 *
 * Models: CLIP_MODEL_PATH / FLORENCE_MODEL_PATH when they hold an export, else the
 * generated stand-ins (tools/testmodels/), and the output says so.
 * usage: bench_clip [--runs N] [--warmup N] [--max-tokens N] [--vigil PATH] */
#include <curl/curl.h>
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
#include <unistd.h>

#include "bench_util.h"
#include "models/hub_common.h"
#include "util/assets.h"
#include "util/base64.h"
#include "vigil/clip.h"
#include "vigil/florence.h"

#define NLABELS 10
static const char *const labels[NLABELS] = {"a person",         "a car",      "a dog",
                                            "a delivery driver", "an empty street", "a person in a red jacket",
                                            "a cat",            "a bicycle",  "a truck",
                                            "a package at the door"};

/* ---- HTTP -------------------------------------------------------------------------------- */

/* POST body to the service; the latency (s) and the reply's inference_time_ms (NAN on failure). */
static double post(CURL *h, int port, const char *path, const char *body, double *service_ms) {
  char url[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
  bench_buf b = {0};
  struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
  curl_easy_reset(h);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, bench_buf_keep);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 600L);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
  double t0 = now_s();
  CURLcode cc = curl_easy_perform(h);
  double dt = now_s() - t0;
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(hdr);
  json_t *j = cc == CURLE_OK && b.data ? json_loads(b.data, 0, NULL) : NULL;
  *service_ms = j ? json_number_value(json_object_get(j, "inference_time_ms")) : NAN;
  if (status != 200) {
    fprintf(stderr, "bench_clip: %s: status %ld: %.300s\n", path, status, b.data ? b.data : "(no reply)");
    dt = NAN;
  }
  json_decref(j);
  free(b.data);
  return dt;
}

static bool http_up(int port) {
  CURL *h = curl_easy_init();
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/health", port);
  bool up = false;
  for (int i = 0; i < 1200 && !up; i++) { /* a real CLIP takes a while to load */
    bench_buf b = {0};
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, bench_buf_keep);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    up = curl_easy_perform(h) == CURLE_OK && b.data && strstr(b.data, "\"healthy\"");
    free(b.data);
    if (!up) usleep(100000);
  }
  curl_easy_cleanup(h);
  return up;
}

/* ---- inputs -------------------------------------------------------------------------------- */

static int write_file(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  bool ok = fwrite(p, 1, n, f) == n;
  return fclose(f) == 0 && ok ? 0 : -1;
}

static char *read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *d = sz > 0 ? malloc((size_t)sz) : NULL;
  *n = d && fread(d, 1, (size_t)sz, f) == (size_t)sz ? (size_t)sz : 0;
  fclose(f);
  if (!*n) free(d);
  return *n ? d : NULL;
}

static bool has(const char *dir, const char *file) {
  char p[1200];
  snprintf(p, sizeof p, "%s/%s", dir, file);
  return access(p, R_OK) == 0;
}

static const char *vpath_of(const char *dir) {
  static char p[1200];
  snprintf(p, sizeof p, "%s/vision.onnx", dir);
  return p;
}


int main(int argc, char **argv) {
  int runs = 15, warmup = 3, max_tokens = 256;
  char vigil[1024];
  vigil_binary_path(vigil, sizeof vigil, argv[0]);
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--max-tokens") && i + 1 < argc) max_tokens = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--vigil") && i + 1 < argc) snprintf(vigil, sizeof vigil, "%s", argv[++i]);
    else {
      fprintf(stderr, "usage: bench_clip [--runs N] [--warmup N] [--max-tokens N] [--vigil PATH]\n");
      return 2;
    }
  }
  if (runs < 1 || runs > 1000 || warmup < 0 || max_tokens < 1 || max_tokens > 4096) {
    fprintf(stderr, "bench_clip: --runs 1..1000, --warmup >= 0, --max-tokens 1..4096\n");
    return 2;
  }
  const char *src = getenv("VIGIL_SOURCE_DIR") ? getenv("VIGIL_SOURCE_DIR") : VIGIL_SOURCE_DIR_DEFAULT;
  char tmp[] = "/tmp/vigil-bench-clip-XXXXXX";
  if (!mkdtemp(tmp)) return 1;
  char clip_dir[1100], flo_dir[1100], cmd[4096], person[1024];
  const char *e = getenv("CLIP_MODEL_PATH");
  bool clip_real = e && has(e, "vision.onnx") && has(e, "text.onnx");
  e = getenv("FLORENCE_MODEL_PATH");
  bool flo_real = e && has(e, "decoder_with_past_model.onnx");
  snprintf(clip_dir, sizeof clip_dir, "%s", clip_real ? getenv("CLIP_MODEL_PATH") : "");
  snprintf(flo_dir, sizeof flo_dir, "%s", flo_real ? getenv("FLORENCE_MODEL_PATH") : "");
  if (!clip_real) {
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tools/testmodels/gen_clip_models.py %s > /dev/null", src, tmp);
    snprintf(clip_dir, sizeof clip_dir, "%s/clip", tmp);
    if (system(cmd)) return fprintf(stderr, "bench_clip: generating the CLIP stand-in failed\n"), 1;
  }
  if (!flo_real) {
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tools/testmodels/gen_florence_models.py %s > /dev/null", src, tmp);
    snprintf(flo_dir, sizeof flo_dir, "%s/florence", tmp);
    if (system(cmd)) return fprintf(stderr, "bench_clip: generating the Florence-2 stand-in failed\n"), 1;
  }
  printf("CLIP: %s\nFlorence-2: %s\n",
         clip_real ? clip_dir : "generated stand-in (the real export is absent: set CLIP_MODEL_PATH; docs/models.md)",
         flo_real ? flo_dir
                  : "generated stand-in (the real export is absent: set FLORENCE_MODEL_PATH; docs/models.md)");
  printf("runs: %d after %d warm-ups, interleaved; one intra-op thread on both sides\n\n", runs, warmup);
  if (vigil_asset_require(person, sizeof person, "media/person.jpg"))
    return fprintf(stderr, "bench_clip: %s\n", vigil_asset_errmsg()), 1;
  vigil_image im = {0};
  size_t jn = 0;
  char *jpg = read_file(person, &jn);
  vigil_img_limits lim = vigil_img_default_limits();
  char err[512] = "";
  if (!jpg || vigil_img_decode(&im, (const uint8_t *)jpg, jn, &lim, err, sizeof err))
    return fprintf(stderr, "bench_clip: %s: %s\n", person, err), 1;
  int status = 0;

  /* ---- CLIP -------------------------------------------------------------------------------- */
  {
    /* the reference's inputs: the pixels vigil computes, the token rows vigil's tokenizer gives */
    char a[1200], b[1200];
    snprintf(a, sizeof a, "%s/vocab.json", clip_dir);
    snprintf(b, sizeof b, "%s/merges.txt", clip_dir);
    clip_tokenizer *tok = NULL;
    if (clip_tokenizer_load(&tok, a, b, err, sizeof err)) return fprintf(stderr, "bench_clip: %s\n", err), 1;
    int64_t ids[NLABELS * CLIP_CONTEXT], mask[NLABELS * CLIP_CONTEXT];
    for (int i = 0; i < NLABELS; i++) {
      int32_t row[CLIP_CONTEXT];
      int real = 0;
      clip_tokenize(tok, row, CLIP_CONTEXT, &real, labels[i], strlen(labels[i]), err, sizeof err);
      for (int t = 0; t < CLIP_CONTEXT; t++) ids[i * CLIP_CONTEXT + t] = row[t], mask[i * CLIP_CONTEXT + t] = t < real;
    }
    clip_tokenizer_free(tok);
    const int S = 224;
    float *px = malloc(sizeof(float) * 3 * S * S);
    float side = (float)(im.w < im.h ? im.w : im.h), x0 = ((float)im.w - side) / 2, y0 = ((float)im.h - side) / 2;
    if (!px || hub_box_to_nchw(px, &im, x0, y0, x0 + side, y0 + side, S, S, hub_clip_mean, hub_clip_std)) return 1;
    char f1[1200], f2[1200], f3[1200], vj[1200], tj[1200];
    snprintf(f1, sizeof f1, "%s/pixel_values.bin", tmp);
    snprintf(f2, sizeof f2, "%s/input_ids.bin", tmp);
    snprintf(f3, sizeof f3, "%s/attention_mask.bin", tmp);
    snprintf(vj, sizeof vj, "%s/vision.json", tmp);
    snprintf(tj, sizeof tj, "%s/text.json", tmp);
    write_file(f1, px, sizeof(float) * 3 * S * S);
    write_file(f2, ids, sizeof ids);
    write_file(f3, mask, sizeof mask);
    /* vrt on the same graph and pixels, in this process: the runtimes alone */
    vrt_model_t *vm = NULL;
    vrt_session_t *vs = NULL;
    vrt_session_params sp = vrt_session_default_params();
    sp.threads = 1;
    if (vrt_model_load(&vm, vpath_of(clip_dir), vrt_load_default_params()) || vrt_session_create(&vs, vm, sp))
      return fprintf(stderr, "bench_clip: vrt cannot load %s\n", vpath_of(clip_dir)), 1;
    vrt_tensor vin = {.name = vrt_model_input(vm, 0)->name, .dtype = VRT_F32, .ndim = 4, .dims = {1, 3, S, S},
                      .data = px, .nbytes = sizeof(float) * 3 * S * S};
    FILE *f = fopen(vj, "w");
    fprintf(f, "[{\"name\":\"pixel_values\",\"dtype\":\"float32\",\"shape\":[1,3,%d,%d],\"file\":\"pixel_values.bin\"}]\n",
            S, S);
    fclose(f);
    f = fopen(tj, "w");
    fprintf(f,
            "[{\"name\":\"input_ids\",\"dtype\":\"int64\",\"shape\":[%d,%d],\"file\":\"input_ids.bin\"},"
            "{\"name\":\"attention_mask\",\"dtype\":\"int64\",\"shape\":[%d,%d],\"file\":\"attention_mask.bin\"}]\n",
            NLABELS, CLIP_CONTEXT, NLABELS, CLIP_CONTEXT);
    fclose(f);
    char js[1200], vpath[1200], tpath[1200];
    snprintf(js, sizeof js, "%s/tools/ref/ort_bench.mjs", src);
    snprintf(vpath, sizeof vpath, "%s/vision.onnx", clip_dir);
    snprintf(tpath, sizeof tpath, "%s/text.onnx", clip_dir);
    char *vargv[] = {"node", js, vpath, vj, NULL}, *targv[] = {"node", js, tpath, tj, NULL};
    bench_worker ov = {0}, ot = {0};
    bool ort = !bench_worker_start(&ov, vargv, NULL, NULL) && !bench_worker_start(&ot, targv, NULL, NULL) && !isnan(bench_worker_cmd(&ov, NULL, "load 1")) &&
               !isnan(bench_worker_cmd(&ot, NULL, "load 1"));
    if (!ort) fprintf(stderr, "bench_clip: the ONNX Runtime reference did not start (make deps installs it)\n");

    /* the service */
    int port = free_port();
    char bl[1200];
    snprintf(bl, sizeof bl, "%s/baselines.sqlite", tmp);
    const char *const env[] = {"CLIP_MODEL_PATH", clip_dir, "VIGIL_CLIP_BASELINES", bl, NULL};
    pid_t srv = bench_serve_start(vigil, "clip", port, env);
    if (!http_up(port)) {
      fprintf(stderr, "bench_clip: `%s serve clip` did not come up\n", vigil);
      kill(srv, SIGTERM);
      waitpid(srv, NULL, 0);
      return 1;
    }
    char *b64 = malloc(vigil_b64_encoded_len(jn) + 1);
    vigil_b64_encode(b64, (const uint8_t *)jpg, jn, 0);
    size_t cap = strlen(b64) + 2048;
    char *embed_body = malloc(cap), *classify_body = malloc(cap);
    snprintf(embed_body, cap, "{\"image\":\"%s\"}", b64);
    int k = snprintf(classify_body, cap, "{\"image\":\"%s\",\"labels\":[", b64);
    for (int i = 0; i < NLABELS; i++) k += snprintf(classify_body + k, cap - (size_t)k, "%s\"%s\"", i ? "," : "", labels[i]);
    snprintf(classify_body + k, cap - (size_t)k, "]}");
    free(b64);
    CURL *h = curl_easy_init();
    double *v_emb = calloc((size_t)runs, sizeof(double)), *v_emb_svc = calloc((size_t)runs, sizeof(double));
    double *v_cls = calloc((size_t)runs, sizeof(double)), *v_cls_svc = calloc((size_t)runs, sizeof(double));
    double *o_vis = calloc((size_t)runs, sizeof(double)), *o_cls = calloc((size_t)runs, sizeof(double));
    double *r_vis = calloc((size_t)runs, sizeof(double));
    int ne = 0, nc = 0, nv = 0, no = 0, nr = 0;
    for (int r = -warmup; r < runs; r++) {
      double svc, t = post(h, port, "/embed", embed_body, &svc);
      if (r >= 0 && !isnan(t)) v_emb[ne] = t, v_emb_svc[ne++] = svc;
      double ov_ms = ort ? bench_worker_cmd(&ov, NULL, "run 1") : NAN;
      t = post(h, port, "/classify", classify_body, &svc);
      if (r >= 0 && !isnan(t)) v_cls[nc] = t, v_cls_svc[nc++] = svc;
      double ot_ms = ort ? bench_worker_cmd(&ot, NULL, "run 1") : NAN;
      double ov2 = ort ? bench_worker_cmd(&ov, NULL, "run 1") : NAN; /* a classify is one image and the labels */
      if (r >= 0 && !isnan(ov_ms)) o_vis[nv++] = ov_ms;
      if (r >= 0 && !isnan(ot_ms) && !isnan(ov2)) o_cls[no++] = ot_ms + ov2;
      const vrt_tensor *vo;
      int nvo;
      double t1 = now_s();
      if (vrt_session_run(vs, &vin, 1, &vo, &nvo) == 0 && r >= 0) r_vis[nr++] = (now_s() - t1) * 1e3;
    }
    double me = median_of(v_emb, ne), mes = median_of(v_emb_svc, ne), mc = median_of(v_cls, nc), mcs = median_of(v_cls_svc, nc);
    double mov = median_of(o_vis, nv), moc = median_of(o_cls, no);
    printf("CLIP /embed (person.jpg, 640x424 JPEG)\n");
    printf("  vigil /embed   client %.1f ms (%.2f images/s), service inference_time_ms %.1f\n", me * 1e3, 1 / me, mes);
    double mrv = median_of(r_vis, nr);
    printf("  vrt vision     %.1f ms (%.2f images/s): the graph alone, in-process\n", mrv, 1e3 / mrv);
    printf("  ORT vision     %.1f ms (%.2f images/s): the graph alone\n", mov, 1e3 / mov);
    printf("  ratio vrt/ORT vision graph images/s: %.2f\n", mov / mrv);
    printf("  ratio vigil/ORT images/s: %.2f (client), %.2f (service time)\n\n", mov / (me * 1e3), mov / mes);
    printf("CLIP /classify (person.jpg, %d labels)\n", NLABELS);
    printf("  vigil /classify client %.1f ms (%.1f texts/s), service inference_time_ms %.1f\n", mc * 1e3,
           NLABELS / mc, mcs);
    printf("  ORT vision + text[%d] %.1f ms (%.1f texts/s)\n", NLABELS, moc, NLABELS * 1e3 / moc);
    printf("  ratio vigil/ORT texts/s: %.2f (client), %.2f (service time)\n\n", moc / (mc * 1e3), moc / mcs);
    if (!ne || !nc) status = 1;
    curl_easy_cleanup(h);
    free(embed_body), free(classify_body);
    free(v_emb), free(v_emb_svc), free(v_cls), free(v_cls_svc), free(o_vis), free(o_cls), free(r_vis);
    vrt_session_free(vs);
    vrt_model_free(vm);
    free(px);
    kill(srv, SIGTERM);
    waitpid(srv, NULL, 0);
    bench_worker_stop(&ov);
    bench_worker_stop(&ot);
  }

  /* ---- Florence-2 generation ------------------------------------------------------------------ */
  {
    florence_model *fm = NULL;
    if (florence_load(&fm, flo_dir, 1, err, sizeof err)) return fprintf(stderr, "bench_clip: %s\n", err), 1;
    int S = florence_image_size(fm), nq = 0;
    int32_t bos, eos, *q = florence_question_ids(fm, FLORENCE_DETAILED_CAPTION, &nq);
    florence_special_ids(fm, &bos, &eos);
    float *px = malloc(sizeof(float) * 3 * (size_t)S * (size_t)S);
    if (!q || !px || hub_box_to_nchw(px, &im, 0, 0, (float)im.w, (float)im.h, S, S, hub_imagenet_mean, hub_imagenet_std))
      return 1;
    char pf[1200], js[1200], side[16], bs[16], es[16], mt[16];
    snprintf(pf, sizeof pf, "%s/florence_pixels.bin", tmp);
    write_file(pf, px, sizeof(float) * 3 * (size_t)S * (size_t)S);
    free(px);
    char *qs = malloc((size_t)nq * 12 + 1);
    int k = 0;
    for (int i = 0; i < nq; i++) k += sprintf(qs + k, "%s%d", i ? "," : "", q[i]);
    free(q);
    snprintf(js, sizeof js, "%s/tools/ref/ort_florence.mjs", src);
    snprintf(side, sizeof side, "%d", S);
    snprintf(bs, sizeof bs, "%d", bos);
    snprintf(es, sizeof es, "%d", eos);
    snprintf(mt, sizeof mt, "%d", max_tokens);
    char *fargv[] = {"node", js, flo_dir, pf, side, qs, bs, es, mt, NULL};
    bench_worker of = {0};
    bool ort = !bench_worker_start(&of, fargv, NULL, NULL) && !isnan(bench_worker_cmd(&of, NULL, "load 1"));
    if (!ort) fprintf(stderr, "bench_clip: the ONNX Runtime Florence-2 reference did not start\n");
    florence_params fp = florence_default_params();
    fp.num_beams = 1;
    fp.max_new_tokens = max_tokens;
    double *vt = calloc((size_t)runs, sizeof(double)), *ot = calloc((size_t)runs, sizeof(double));
    int nv = 0, no = 0, vtok = 0;
    double otok = 0;
    char caption[160] = "";
    for (int r = -warmup; r < runs; r++) {
      florence_result res;
      double t0 = now_s();
      if (florence_run(fm, &res, FLORENCE_DETAILED_CAPTION, &im, fp, err, sizeof err)) {
        fprintf(stderr, "bench_clip: florence: %s\n", err);
        status = 1;
        break;
      }
      double dt = now_s() - t0;
      vtok = res.n_tokens;
      snprintf(caption, sizeof caption, "%s", res.text ? res.text : "");
      florence_result_free(&res);
      double n2 = 0, oms = ort ? bench_worker_cmd(&of, &n2, "run") : NAN;
      if (r >= 0) {
        vt[nv++] = dt / (vtok > 0 ? vtok : 1);
        if (!isnan(oms)) ot[no++] = oms / 1e3 / (n2 > 0 ? n2 : 1), otok = n2;
      }
    }
    double mv = median_of(vt, nv), mo = median_of(ot, no);
    printf("Florence-2 <DETAILED_CAPTION> generation (greedy, person.jpg, max %d tokens)\n", max_tokens);
    printf("  vigil  %d tokens per answer, %.2f ms/token (%.1f tokens/s): \"%s\"\n", vtok, mv * 1e3, 1 / mv, caption);
    printf("  ORT    %.0f tokens per answer, %.2f ms/token (%.1f tokens/s)\n", otok, mo * 1e3, 1 / mo);
    printf("  ratio vigil/ORT tokens/s: %.2f%s\n", mo / mv,
           (int)otok != vtok ? " (token counts differ: the loops did not generate the same answer)" : "");
    printf("  (a token's time here is the whole answer's: image and question encoding included)\n");
    free(vt), free(ot), free(qs);
    bench_worker_stop(&of);
    florence_free(fm);
  }
  vigil_image_free(&im);
  free(jpg);
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  if (system(cmd)) fprintf(stderr, "bench_clip: could not remove %s\n", tmp);
  return status;
}
