/* Records the model calls of vigil's OCR pipeline (ocr_set_stage_hook):
 * each call's input tensor and vrt's output in a folder of its own, plus a
 * list that tools/ref/ort_stages.mjs replays with ONNX Runtime. Shared by the
 * per-stage parity test (tests/golden/test_ocr_parity.c) and `vigil bench ocr`.
 * Header-only; one recorder at a time (the hook is process-wide). */
#ifndef VIGIL_BENCH_OCR_STAGES_H
#define VIGIL_BENCH_OCR_STAGES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vigil/ocr.h"
#include "vrt/vrt.h"

#define OCR_STAGES_MAX 512

typedef struct {
  char dir[256];
  const char *model_det, *model_rec, *model_cls;
  int n;
  char stage[OCR_STAGES_MAX][4];
  int image[OCR_STAGES_MAX]; /* which image of the run made the call */
  int cur_image;
  bool failed;
} ocr_stages;

static inline int ocr_stages_write(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t w = fwrite(data, 1, len, f);
  return fclose(f) || w != len ? -1 : 0;
}

static inline void ocr_stages_shape(FILE *f, const vrt_tensor *t) {
  fprintf(f, "[");
  for (int k = 0; k < t->ndim; k++) fprintf(f, "%s%lld", k ? "," : "", (long long)t->dims[k]);
  fprintf(f, "]");
}

static inline void ocr_stages_hook(void *ud, const char *stage, const vrt_tensor *in, const vrt_tensor *out) {
  ocr_stages *r = ud;
  if (r->n >= OCR_STAGES_MAX) return;
  char d[512], p[600];
  snprintf(d, sizeof d, "%s/%03d", r->dir, r->n);
  if (mkdir(d, 0755)) {
    r->failed = true;
    return;
  }
  snprintf(p, sizeof p, "%s/input_0.bin", d);
  if (ocr_stages_write(p, in->data, in->nbytes)) r->failed = true;
  snprintf(p, sizeof p, "%s/vrt_output_0.bin", d);
  if (ocr_stages_write(p, out->data, (size_t)vrt_tensor_numel(out) * sizeof(float))) r->failed = true;
  snprintf(p, sizeof p, "%s/inputs.json", d);
  FILE *f = fopen(p, "w");
  if (!f) {
    r->failed = true;
    return;
  }
  fprintf(f, "[{\"name\": \"%s\", \"dtype\": \"float32\", \"shape\": ", in->name);
  ocr_stages_shape(f, in);
  fprintf(f, ", \"file\": \"input_0.bin\"}]\n");
  fclose(f);
  snprintf(r->stage[r->n], sizeof r->stage[0], "%s", stage);
  r->image[r->n] = r->cur_image;
  r->n++;
}

/* Replays every recorded call with ORT (reps timed runs each); 0 on success. */
static inline int ocr_stages_run_ort(ocr_stages *r, const char *source_dir, int reps) {
  char list[512], cmd[1400];
  snprintf(list, sizeof list, "%s/list.json", r->dir);
  FILE *f = fopen(list, "w");
  if (!f) return -1;
  fprintf(f, "[");
  for (int i = 0; i < r->n; i++) {
    const char *m = !strcmp(r->stage[i], "det") ? r->model_det : !strcmp(r->stage[i], "rec") ? r->model_rec
                                                                                               : r->model_cls;
    fprintf(f, "%s{\"model\": \"%s\", \"dir\": \"%s/%03d\"}", i ? ",\n" : "", m, r->dir, i);
  }
  fprintf(f, "]\n");
  fclose(f);
  snprintf(cmd, sizeof cmd, "node %s/tools/ref/ort_stages.mjs %s %d", source_dir, list, reps);
  return system(cmd) ? -1 : 0;
}

/* ORT's output of call i (malloc'ed floats, *n values) and its median ms. */
static inline float *ocr_stages_ort_output(const ocr_stages *r, int i, size_t *n, double *ms) {
  char p[600];
  snprintf(p, sizeof p, "%s/%03d/ort_output_0.bin", r->dir, i);
  FILE *f = fopen(p, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  float *v = malloc((size_t)len + 4);
  if (!v || fread(v, 1, (size_t)len, f) != (size_t)len) {
    fclose(f);
    free(v);
    return NULL;
  }
  fclose(f);
  *n = (size_t)len / sizeof(float);
  if (ms) {
    *ms = -1;
    snprintf(p, sizeof p, "%s/%03d/ort.json", r->dir, i);
    f = fopen(p, "r");
    char buf[512] = "";
    if (f) {
      size_t k = fread(buf, 1, sizeof buf - 1, f);
      buf[k] = 0;
      fclose(f);
      const char *m = strstr(buf, "\"ms\":");
      if (m) *ms = atof(m + 5);
    }
  }
  return v;
}

static inline float *ocr_stages_vrt_output(const ocr_stages *r, int i, size_t *n) {
  char p[600];
  snprintf(p, sizeof p, "%s/%03d/vrt_output_0.bin", r->dir, i);
  FILE *f = fopen(p, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  float *v = malloc((size_t)len + 4);
  if (!v || fread(v, 1, (size_t)len, f) != (size_t)len) {
    fclose(f);
    free(v);
    return NULL;
  }
  fclose(f);
  *n = (size_t)len / sizeof(float);
  return v;
}

/* The shape of call i's input (dims[4]). */
static inline int ocr_stages_input_shape(const ocr_stages *r, int i, long long dims[4]) {
  char p[600], buf[1024];
  snprintf(p, sizeof p, "%s/%03d/inputs.json", r->dir, i);
  FILE *f = fopen(p, "r");
  if (!f) return -1;
  size_t k = fread(buf, 1, sizeof buf - 1, f);
  buf[k] = 0;
  fclose(f);
  const char *s = strstr(buf, "\"shape\": [");
  if (!s) return -1;
  return sscanf(s + 10, "%lld,%lld,%lld,%lld", &dims[0], &dims[1], &dims[2], &dims[3]) == 4 ? 0 : -1;
}

#endif
