/* The enrichment zoo loader: registry row -> weights path -> adapter kind ->
 * loaded handle, warmed up once so the zoo budgets with measured bytes
 * (weights + the activation arena of a typical input), never the declared
 * size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "enrich/handles.h"

/* A typical input per adapter for the warm-up (dynamic dims get these). */
static void warm_dims(const char *adapter, const vrt_tensor *decl, int64_t *dims) {
  for (int k = 0; k < decl->ndim; k++) dims[k] = decl->dims[k];
  for (int k = 0; k < decl->ndim; k++) {
    if (dims[k] >= 0) continue;
    if (k == 0) dims[k] = 1;
    else if (!strcmp(adapter, "ppocr")) dims[k] = k == 1 ? 3 : 640;
    else if (!strcmp(adapter, "depth-anything")) dims[k] = k == 1 ? 3 : 518;
    else if (!strcmp(adapter, "yolo-segment")) dims[k] = k == 1 ? 3 : 640;
    else if (!strcmp(adapter, "segformer")) dims[k] = k == 1 ? 3 : 512;
    else dims[k] = 224;
  }
}

static int warm_runner(model_runner *r, const char *adapter, char *err, size_t errlen) {
  int nin = vrt_model_num_inputs(r->m);
  vrt_tensor *in = calloc((size_t)nin + 1, sizeof *in);
  int rc = in ? 0 : -1;
  for (int i = 0; !rc && i < nin; i++) {
    const vrt_tensor *d = vrt_model_input(r->m, i);
    in[i].name = d->name;
    in[i].dtype = d->dtype;
    in[i].ndim = d->ndim;
    warm_dims(adapter, d, in[i].dims);
    int64_t n = vrt_tensor_numel(&in[i]);
    size_t es = vrt_dtype_size(d->dtype);
    if (n < 0 || !es || n > ((int64_t)1 << 28)) {
      if (err) snprintf(err, errlen, "%s: input '%s' cannot be warmed up", r->name, d->name);
      rc = -1;
      break;
    }
    in[i].nbytes = (size_t)n * es;
    in[i].data = calloc(1, in[i].nbytes ? in[i].nbytes : 1);
    if (!in[i].data) rc = -1;
  }
  if (!rc) {
    vrt_tensor *o;
    int no;
    rc = runner_run(r, in, nin, &o, &no, err, errlen);
    if (!rc) runner_outputs_free(o, no);
  }
  for (int i = 0; in && i < nin; i++) free(in[i].data);
  free(in);
  return rc;
}

/* The whole PP-OCR pipeline from a folder holding the published files. */
static int load_ocr(const zoo_model_row *row, const char *dir, int threads, void **handle, uint64_t *measured,
                    char *err, size_t errlen) {
  static const char *const files[4] = {"ch_PP-OCRv4_det_infer.onnx", "ch_PP-OCRv4_rec_infer.onnx",
                                       "ch_ppocr_mobile_v2.0_cls_infer.onnx", "ppocr_keys_v1.txt"};
  char p[4][ZOO_PATH_MAX * 2 + 64];
  for (int i = 0; i < 4; i++) snprintf(p[i], sizeof p[i], "%s/%s", dir, files[i]);
  enrich_handle *h = calloc(1, sizeof *h);
  if (!h) return -1;
  h->kind = EH_OCR;
  snprintf(h->adapter, sizeof h->adapter, "%s", row->adapter);
  snprintf(h->name, sizeof h->name, "%s", row->name);
  if (ocr_load(&h->ocr, p[0], p[1], access(p[2], R_OK) ? NULL : p[2], p[3], threads, err, errlen)) {
    free(h);
    return -1;
  }
  /* warm-up on a typical vehicle crop so the measured bytes include the arenas */
  vigil_image grey = {0};
  if (!vigil_image_init(&grey, 640, 320, 3)) {
    memset(grey.data, 128, (size_t)grey.h * grey.stride);
    ocr_result r;
    if (!ocr_run(h->ocr, &r, &grey, NULL, err, errlen)) ocr_result_free(&r);
    vigil_image_free(&grey);
  }
  *measured = ocr_memory_bytes(h->ocr);
  *handle = h;
  return 0;
}

static int el_load(void *ctx, const zoo_model_row *row, void **handle, uint64_t *measured, char *err,
                   size_t errlen) {
  int threads = (int)(intptr_t)ctx;
  char path[ZOO_PATH_MAX * 2];
  bool from_env = false;
  if (zoo_row_weights_path(row, path, sizeof path, &from_env) || !path[0] || !zoo_row_installed(row)) {
    snprintf(err, errlen, "weights for %s are not installed: %s%s%s%s", row->name,
             row->env_var[0] ? "set " : "", row->env_var, row->env_var[0] ? " or place them at " : "place them at ",
             path[0] ? path : row->default_path);
    return -1;
  }
  /* a single-file model given as its export folder: <dir>/model.onnx */
  struct stat st;
  bool is_dir = !stat(path, &st) && S_ISDIR(st.st_mode);
  if (is_dir && !strcmp(row->adapter, "ppocr")) return load_ocr(row, path, threads, handle, measured, err, errlen);
  if (is_dir && strcmp(row->adapter, "siglip-zero-shot") &&
      strcmp(row->adapter, "xclip-action") &&
      strcmp(row->adapter, "brisque")) {
    size_t n = strlen(path);
    snprintf(path + n, sizeof path - n, "/model.onnx");
    if (access(path, R_OK)) {
      snprintf(err, errlen, "%s: the folder has no model.onnx (see docs/models.md)", row->name);
      return -1;
    }
  }
  enrich_handle *h = calloc(1, sizeof *h);
  if (!h) return -1;
  snprintf(h->adapter, sizeof h->adapter, "%s", row->adapter);
  snprintf(h->name, sizeof h->name, "%s", row->name);
  int rc;
  if (!strcmp(row->adapter, "yolo-detect") ||
      !strcmp(row->adapter, "centernet-detect") || !strcmp(row->adapter, "nanodet-detect")) {
    h->kind = EH_DETECTOR;
    detector_params p = detector_default_params();
    p.path = path;
    p.threads = threads;
    p.security_only = false;
    p.conf = 0.05f; /* adapters apply their own cut-offs */
    rc = detector_load(&h->det, p, err, errlen);
    if (!rc) {
      vigil_image grey = {0};
      rc = vigil_image_init(&grey, 320, 240, 3);
      if (!rc) {
        memset(grey.data, 114, (size_t)grey.h * grey.stride);
        const vigil_image *imgs[1] = {&grey};
        vigil_det_list l;
        rc = detector_run(h->det, &l, imgs, 1, err, errlen);
        if (!rc) vigil_det_list_free(&l);
        vigil_image_free(&grey);
      }
      *measured = detector_memory_bytes(h->det);
    }
  } else if (!strcmp(row->adapter, "siglip-zero-shot")) {
    h->kind = EH_SIGLIP;
    rc = siglip_load(&h->sig, path, err, errlen);
    if (!rc) *measured = siglip_memory_bytes(h->sig);
  } else if (!strcmp(row->adapter, "brisque")) {
    h->kind = EH_BRISQUE;
    char mp[ZOO_PATH_MAX * 2 + 32], rp[ZOO_PATH_MAX * 2 + 32];
    snprintf(mp, sizeof mp, "%s/brisque_model_live.yml", path);
    snprintf(rp, sizeof rp, "%s/brisque_range_live.yml", path);
    rc = vigil_brisque_load(&h->bq, mp, rp, err, errlen);
    if (!rc) *measured = vigil_brisque_memory_bytes(h->bq);
  } else if (!strcmp(row->adapter, "xclip-action")) {
    h->kind = EH_XCLIP;
    rc = xclip_load(&h->xc, path, err, errlen);
    if (!rc) *measured = xclip_memory_bytes(h->xc);
  } else {
    h->kind = EH_RUNNER;
    rc = runner_load(&h->run, path, threads, err, errlen);
    /* exports with the wrong outputs fail here with their shapes named,
     * not later in a request (yolo-segment: the damage decoder's masks) */
    if (!rc && !strcmp(row->adapter, "depth-anything")) rc = depth_check(&h->run, err, errlen);
    if (!rc && !strcmp(row->adapter, "yolo-segment")) rc = damage_check(&h->run, err, errlen);
    if (!rc && !strcmp(row->name, "weather-classification")) rc = weather_check(&h->run, err, errlen);
    if (!rc && !strcmp(row->name, "violence-detection")) rc = violence_check(&h->run, err, errlen);
    if (!rc && !strcmp(row->adapter, "segformer")) rc = segformer_check(&h->run, err, errlen);
    if (!rc) rc = warm_runner(&h->run, row->adapter, err, errlen);
    if (!rc) *measured = runner_memory_bytes(&h->run);
  }
  if (rc) {
    detector_free(h->det);
    siglip_free(h->sig);
    xclip_free(h->xc);
    vigil_brisque_free(h->bq);
    runner_free(&h->run);
    free(h);
    return -1;
  }
  *handle = h;
  return 0;
}

static void el_unload(void *ctx, const zoo_model_row *row, void *handle) {
  enrich_handle *h = handle;
  if (!h) return;
  detector_free(h->det);
  siglip_free(h->sig);
  xclip_free(h->xc);
  ocr_free(h->ocr);
  vigil_brisque_free(h->bq);
  runner_free(&h->run);
  free(h);
}

zoo_loader enrich_zoo_loader(int threads) {
  zoo_loader l = {.ctx = (void *)(intptr_t)(threads > 0 ? threads : 1), .load = el_load, .unload = el_unload};
  return l;
}
