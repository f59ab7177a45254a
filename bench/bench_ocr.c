/* Benchmark of the OCR pipeline: latency per image on the scenetext photos,
 * vrt against ONNX Runtime running the same pipeline in the same run. The
 * pipeline's own steps (resize, DB post-processing, crops, CTC) are the same
 * C code for both, so the ORT pipeline time is vigil's pipeline time with
 * vrt's model time replaced by ORT's time on the very same model calls
 * (recorded by bench/ocr_stages.h, replayed by tools/ref/ort_stages.mjs,
 * one thread each). Prints medians of --reps runs per image and the ratio.
 * usage: bench_ocr [--reps N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ocr_stages.h"
#include "util/assets.h"
#include "vigil/ocr.h"

#define NPHOTO 6

static int load(vigil_image *im, const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc((size_t)n);
  size_t got = b ? fread(b, 1, (size_t)n, f) : 0;
  fclose(f);
  vigil_img_limits lim = vigil_img_default_limits();
  int rc = got == (size_t)n ? vigil_img_decode(im, b, got, &lim, NULL, 0) : -1;
  free(b);
  return rc;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) { /* sorts v */
  qsort(v, (size_t)n, sizeof *v, cmp_d);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv) {
  int reps = 5;
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
  if (reps < 1) reps = 1;
  char det[1024], rec[1024], cls[1024], keys[1024], err[512];
  if (vigil_asset_require(det, sizeof det, "models/ocr/ch_PP-OCRv4_det_infer.onnx") ||
      vigil_asset_require(rec, sizeof rec, "models/ocr/ch_PP-OCRv4_rec_infer.onnx") ||
      vigil_asset_require(cls, sizeof cls, "models/ocr/ch_ppocr_mobile_v2.0_cls_infer.onnx") ||
      vigil_asset_require(keys, sizeof keys, "models/ocr/ppocr_keys_v1.txt")) {
    fprintf(stderr, "bench_ocr: %s\n", vigil_asset_errmsg());
    return 1;
  }
  ocr_engine *e;
  if (ocr_load(&e, det, rec, cls, keys, 1, err, sizeof err)) {
    fprintf(stderr, "bench_ocr: %s\n", err);
    return 1;
  }
  static ocr_stages r;
  snprintf(r.dir, sizeof r.dir, "/tmp/vigil-bench-ocr-XXXXXX");
  if (!mkdtemp(r.dir)) return 1;
  r.model_det = det, r.model_rec = rec, r.model_cls = cls;
  double vrt_total[NPHOTO], vrt_model[NPHOTO];
  int lines[NPHOTO];
  for (int k = 0; k < NPHOTO; k++) {
    char rel[64], path[1024];
    snprintf(rel, sizeof rel, "media/scenetext%02d.jpg", k + 1);
    vigil_image im = {0};
    if (vigil_asset_require(path, sizeof path, rel) || load(&im, path)) {
      fprintf(stderr, "bench_ocr: cannot read %s\n", rel);
      return 1;
    }
    ocr_result res;
    /* one recorded run (also the warm-up: plans are built here) */
    r.cur_image = k;
    ocr_set_stage_hook(ocr_stages_hook, &r);
    if (ocr_run(e, &res, &im, NULL, err, sizeof err)) return fprintf(stderr, "bench_ocr: %s\n", err), 1;
    ocr_set_stage_hook(NULL, NULL);
    lines[k] = res.n;
    ocr_result_free(&res);
    double *tt = calloc((size_t)reps, sizeof *tt), *tm = calloc((size_t)reps, sizeof *tm);
    for (int i = 0; i < reps; i++) {
      if (ocr_run(e, &res, &im, NULL, err, sizeof err)) return fprintf(stderr, "bench_ocr: %s\n", err), 1;
      tt[i] = res.total_ms, tm[i] = res.det_ms + res.cls_ms + res.rec_ms;
      ocr_result_free(&res);
    }
    vrt_total[k] = median(tt, reps), vrt_model[k] = median(tm, reps);
    free(tt);
    free(tm);
    vigil_image_free(&im);
  }
  if (r.failed) return fprintf(stderr, "bench_ocr: recording the model calls failed\n"), 1;
  const char *src = getenv("VIGIL_SOURCE_DIR");
  if (!src) src = VIGIL_SOURCE_DIR_DEFAULT;
  if (ocr_stages_run_ort(&r, src, reps)) {
    fprintf(stderr, "bench_ocr: ONNX Runtime replay failed (node and onnxruntime-node in $VIGIL_HOME/ref)\n");
    return 1;
  }
  double ort_model[NPHOTO] = {0};
  for (int i = 0; i < r.n; i++) {
    size_t n;
    double ms;
    float *o = ocr_stages_ort_output(&r, i, &n, &ms);
    if (!o || ms < 0) return fprintf(stderr, "bench_ocr: no ORT timing for call %d\n", i), 1;
    free(o);
    ort_model[r.image[i]] += ms;
  }
  printf("OCR latency per image (medians of %d runs, 1 thread; ORT 1.30 replays the same model calls)\n", reps);
  printf("%-16s %5s %10s %10s %10s %10s %8s\n", "image", "lines", "vrt ms", "vrt model", "ORT model", "ORT ms",
         "vrt/ORT");
  double ratio[NPHOTO], vt[NPHOTO], ot[NPHOTO];
  for (int k = 0; k < NPHOTO; k++) {
    double ort_total = vrt_total[k] - vrt_model[k] + ort_model[k];
    ratio[k] = vrt_total[k] / ort_total, vt[k] = vrt_total[k], ot[k] = ort_total;
    printf("scenetext%02d.jpg %5d %10.1f %10.1f %10.1f %10.1f %8.2f\n", k + 1, lines[k], vrt_total[k], vrt_model[k],
           ort_model[k], ort_total, ratio[k]);
  }
  printf("median: vrt %.1f ms, ORT %.1f ms per image, vrt/ORT %.2f\n", median(vt, NPHOTO), median(ot, NPHOTO),
         median(ratio, NPHOTO));
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", r.dir);
  if (system(cmd)) return 1;
  ocr_free(e);
  return 0;
}
