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
#include "vigil/status.h"

/* The adapters, one row each: the handle kind that loads it, whether its
 * weights are a folder of several files (else a folder stands for
 * <folder>/model.onnx), the side that dynamic spatial dims of a plain
 * runner's warm-up input get (0: 224), and the check of a plain runner's
 * outputs at load time (exports with the wrong outputs fail here with their
 * shapes named, not later in a request). A registry adapter with no row
 * loads as a plain runner. A new adapter is one row here and its call in
 * src/enrich/engine.c. */
typedef struct {
  const char *adapter;
  enrich_handle_kind kind;
  bool folder;
  int warm_side;
  int (*check)(model_runner *r, char *err, size_t errlen);
} adapter_row;

static const adapter_row adapters[] = {
    {"yolo-detect", EH_DETECTOR, false, 0, NULL},
    {"centernet-detect", EH_DETECTOR, false, 0, NULL},
    {"nanodet-detect", EH_DETECTOR, false, 0, NULL},
    {"siglip-zero-shot", EH_SIGLIP, true, 0, NULL},
    {"xclip-action", EH_XCLIP, true, 0, NULL},
    {"brisque", EH_BRISQUE, true, 0, NULL},
    {"ppocr", EH_OCR, true, 640, NULL}, /* a single file (no folder) loads as a plain runner */
    {"depth-anything", EH_RUNNER, false, 518, depth_check},
    {"yolo-segment", EH_RUNNER, false, 640, damage_check},
    {"segformer", EH_RUNNER, false, 512, segformer_check},
};

static const adapter_row *adapter_find(const char *name) {
  static const adapter_row runner = {"", EH_RUNNER, false, 0, NULL};
  for (size_t i = 0; i < sizeof adapters / sizeof *adapters; i++)
    if (!strcmp(adapters[i].adapter, name)) return &adapters[i];
  return &runner;
}

/* A typical input for the warm-up (dynamic dims get these). */
static void warm_dims(const adapter_row *a, const vrt_tensor *decl, int64_t *dims) {
  for (int k = 0; k < decl->ndim; k++) dims[k] = decl->dims[k];
  for (int k = 0; k < decl->ndim; k++) {
    if (dims[k] >= 0) continue;
    if (k == 0) dims[k] = 1;
    else if (a->warm_side) dims[k] = k == 1 ? 3 : a->warm_side;
    else dims[k] = 224;
  }
}

static int warm_runner(model_runner *r, const adapter_row *a, char *err, size_t errlen) {
  int nin = vrt_model_num_inputs(r->m);
  vrt_tensor *in = calloc((size_t)nin + 1, sizeof *in);
  int rc = in ? 0 : -1;
  for (int i = 0; !rc && i < nin; i++) {
    const vrt_tensor *d = vrt_model_input(r->m, i);
    in[i].name = d->name;
    in[i].dtype = d->dtype;
    in[i].ndim = d->ndim;
    warm_dims(a, d, in[i].dims);
    int64_t n = vrt_tensor_numel(&in[i]);
    size_t es = vrt_dtype_size(d->dtype);
    if (n < 0 || !es || n > ((int64_t)1 << 28)) {
      vigil_err(err, errlen, -1, "%s: input '%s' cannot be warmed up", r->name, d->name);
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

/* One loader per handle kind: the handle's model from path (its weights:
 * a file, or the adapter's folder), warmed up where a first run allocates
 * (handle_bytes then measures it). */
typedef int (*kind_load)(enrich_handle *h, const adapter_row *a, const char *path, int threads, char *err,
                         size_t errlen);

/* The whole PP-OCR pipeline from a folder holding the published files. */
static int load_ocr(enrich_handle *h, const adapter_row *a, const char *dir, int threads, char *err, size_t errlen) {
  (void)a;
  static const char *const files[4] = {"ch_PP-OCRv4_det_infer.onnx", "ch_PP-OCRv4_rec_infer.onnx",
                                       "ch_ppocr_mobile_v2.0_cls_infer.onnx", "ppocr_keys_v1.txt"};
  char p[4][ZOO_PATH_MAX * 2 + 64];
  for (int i = 0; i < 4; i++) snprintf(p[i], sizeof p[i], "%s/%s", dir, files[i]);
  if (ocr_load(&h->ocr, p[0], p[1], access(p[2], R_OK) ? NULL : p[2], p[3], threads, err, errlen)) return -1;
  /* warm-up on a typical vehicle crop so the measured bytes include the arenas */
  vigil_image grey = {0};
  if (!vigil_image_init(&grey, 640, 320, 3)) {
    memset(grey.data, 128, (size_t)grey.h * grey.stride);
    ocr_result r;
    if (!ocr_run(h->ocr, &r, &grey, NULL, err, errlen)) ocr_result_free(&r);
    vigil_image_free(&grey);
  }
  return 0;
}

static int load_detector(enrich_handle *h, const adapter_row *a, const char *path, int threads, char *err, size_t errlen) {
  (void)a;
  detector_params p = detector_default_params();
  p.path = path;
  p.threads = threads;
  p.security_only = false;
  p.conf = 0.05f; /* adapters apply their own cut-offs */
  int rc = detector_load(&h->det, p, err, errlen);
  if (rc) return rc;
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
  return rc;
}

static int load_siglip(enrich_handle *h, const adapter_row *a, const char *path, int threads, char *err, size_t errlen) {
  (void)a, (void)threads;
  return siglip_load(&h->sig, path, err, errlen);
}

static int load_brisque(enrich_handle *h, const adapter_row *a, const char *path, int threads, char *err, size_t errlen) {
  (void)a, (void)threads;
  char mp[ZOO_PATH_MAX * 2 + 32], rp[ZOO_PATH_MAX * 2 + 32];
  snprintf(mp, sizeof mp, "%s/brisque_model_live.yml", path);
  snprintf(rp, sizeof rp, "%s/brisque_range_live.yml", path);
  return vigil_brisque_load(&h->bq, mp, rp, err, errlen);
}

static int load_xclip(enrich_handle *h, const adapter_row *a, const char *path, int threads, char *err, size_t errlen) {
  (void)a, (void)threads;
  return xclip_load(&h->xc, path, err, errlen);
}

static int load_runner(enrich_handle *h, const adapter_row *a, const char *path, int threads, char *err, size_t errlen) {
  int rc = runner_load(&h->run, path, threads, err, errlen);
  if (!rc && a->check) rc = a->check(&h->run, err, errlen);
  if (!rc && !strcmp(h->name, "weather-classification")) rc = weather_check(&h->run, err, errlen);
  if (!rc && !strcmp(h->name, "violence-detection")) rc = violence_check(&h->run, err, errlen);
  if (!rc) rc = warm_runner(&h->run, a, err, errlen);
  return rc;
}

static const kind_load kind_loads[] = {
    [EH_RUNNER] = load_runner, [EH_DETECTOR] = load_detector, [EH_SIGLIP] = load_siglip,
    [EH_XCLIP] = load_xclip,   [EH_OCR] = load_ocr,           [EH_BRISQUE] = load_brisque,
};

/* The bytes a loaded handle holds: weights, and the arenas of its warm-up. */
static uint64_t handle_bytes(enrich_handle *h) {
  switch (h->kind) {
  case EH_DETECTOR: return detector_memory_bytes(h->det);
  case EH_SIGLIP: return siglip_memory_bytes(h->sig);
  case EH_XCLIP: return xclip_memory_bytes(h->xc);
  case EH_OCR: return ocr_memory_bytes(h->ocr);
  case EH_BRISQUE: return vigil_brisque_memory_bytes(h->bq);
  case EH_RUNNER: break;
  }
  return runner_memory_bytes(&h->run);
}

static void handle_free(enrich_handle *h) {
  detector_free(h->det);
  siglip_free(h->sig);
  xclip_free(h->xc);
  ocr_free(h->ocr);
  vigil_brisque_free(h->bq);
  runner_free(&h->run);
  free(h);
}

static int el_load(void *ctx, const zoo_model_row *row, void **handle, uint64_t *measured, char *err,
                   size_t errlen) {
  int threads = (int)(intptr_t)ctx;
  char path[ZOO_PATH_MAX * 2];
  bool from_env = false;
  if (zoo_row_weights_path(row, path, sizeof path, &from_env) || !path[0] || !zoo_row_installed(row)) {
    vigil_err(err, errlen, -1, "weights for %s are not installed: %s%s%s%s", row->name,
             row->env_var[0] ? "set " : "", row->env_var, row->env_var[0] ? " or place them at " : "place them at ",
             path[0] ? path : row->default_path);
    return -1;
  }
  const adapter_row *a = adapter_find(row->adapter);
  enrich_handle_kind kind = a->kind;
  /* a single-file model given as its export folder: <dir>/model.onnx */
  struct stat st;
  bool is_dir = !stat(path, &st) && S_ISDIR(st.st_mode);
  if (kind == EH_OCR && !is_dir) kind = EH_RUNNER;
  if (is_dir && !a->folder) {
    size_t n = strlen(path);
    snprintf(path + n, sizeof path - n, "/model.onnx");
    if (access(path, R_OK)) {
      vigil_err(err, errlen, -1, "%s: the folder has no model.onnx (see docs/models.md)", row->name);
      return -1;
    }
  }
  enrich_handle *h = calloc(1, sizeof *h);
  if (!h) {
    return vigil_err(err, errlen, -1, "%s: out of memory", row->name);
  }
  h->kind = kind;
  snprintf(h->adapter, sizeof h->adapter, "%s", row->adapter);
  snprintf(h->name, sizeof h->name, "%s", row->name);
  if (kind_loads[kind](h, a, path, threads, err, errlen)) {
    handle_free(h);
    return -1;
  }
  *measured = handle_bytes(h);
  *handle = h;
  return 0;
}

static void el_unload(void *ctx, const zoo_model_row *row, void *handle) {
  (void)ctx, (void)row;
  if (handle) handle_free(handle);
}

zoo_loader enrich_zoo_loader(int threads) {
  zoo_loader l = {.ctx = (void *)(intptr_t)(threads > 0 ? threads : 1), .load = el_load, .unload = el_unload};
  return l;
}
