/* YOLO-World open-vocabulary detection (include/vigil/yolo_world.h): the export's
 * detector behind a session pool, its CLIP text tower for the vocabulary, a cache of
 * text embeddings per class string, letterbox preprocessing and the decode + NMS. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/hub_common.h"
#include "vigil/status.h"
#include "vigil/clip.h"
#include "vigil/yolo_world.h"

typedef struct {
  char *key;
  float *e; /* dim floats, normalised */
} yw_entry;

struct yolo_world {
  model_runner det;
  clip_model *text;
  int dim, slots;       /* embedding width; fixed class slots (0 = dynamic) */
  int in_w, in_h;
  pthread_mutex_t mu;   /* guards the cache and its counters */
  yw_entry *cache;
  int ncache;
  long hits, misses;
};

int yolo_world_load(yolo_world **out, const char *dir, int threads, char *err, size_t errlen) {
  *out = NULL;
  yolo_world *w = calloc(1, sizeof *w);
  if (!w) return vigil_err(err, errlen, -1, "out of memory");
  pthread_mutex_init(&w->mu, NULL);
  char path[4096];
  snprintf(path, sizeof path, "%s/yolo_world.onnx", dir);
  int rc = runner_load(&w->det, path, threads, err, errlen);
  if (!rc) rc = clip_load_text(&w->text, dir, threads, err, errlen);
  if (!rc) {
    const vrt_tensor *im = NULL, *tf = NULL;
    for (int i = 0; i < vrt_model_num_inputs(w->det.m); i++) {
      const vrt_tensor *t = vrt_model_input(w->det.m, i);
      if (!strcmp(t->name, "images")) im = t;
      if (!strcmp(t->name, "txt_feats")) tf = t;
    }
    const vrt_tensor *o = vrt_model_num_outputs(w->det.m) >= 1 ? vrt_model_output(w->det.m, 0) : NULL;
    w->dim = clip_embed_dim(w->text);
    if (!im || im->ndim != 4 || im->dtype != VRT_F32 || (im->dims[1] > 0 && im->dims[1] != 3) || !tf ||
        tf->ndim != 3 || tf->dtype != VRT_F32 || tf->dims[2] != w->dim || !o || o->ndim != 3)
      rc = vigil_err(err, errlen, -1,
                    "yolo-world: %s must take images [1,3,H,W] and txt_feats [1,N,%d] float32 and output "
                    "[1,4+N,anchors] (the text tower gives %d-d embeddings)",
                    path, w->dim, w->dim);
    else {
      w->in_w = im->dims[3] > 0 ? (int)im->dims[3] : 640;
      w->in_h = im->dims[2] > 0 ? (int)im->dims[2] : 640;
      w->slots = tf->dims[1] > 0 ? (int)tf->dims[1] : 0;
      if (w->slots > 0 && o->dims[1] > 0 && o->dims[1] != 4 + w->slots)
        rc = vigil_err(err, errlen, -1, "yolo-world: output0 has %lld rows, expected 4 + %d classes",
                      (long long)o->dims[1], w->slots);
    }
  }
  if (rc) {
    yolo_world_free(w);
    return -1;
  }
  *out = w;
  return 0;
}

void yolo_world_free(yolo_world *w) {
  if (!w) return;
  runner_free(&w->det);
  clip_free(w->text);
  for (int i = 0; i < w->ncache; i++) free(w->cache[i].key), free(w->cache[i].e);
  free(w->cache);
  pthread_mutex_destroy(&w->mu);
  free(w);
}

int yolo_world_max_classes(const yolo_world *w) {
  return w->slots > 0 && w->slots < YOLO_WORLD_MAX_CLASSES ? w->slots : YOLO_WORLD_MAX_CLASSES;
}

size_t yolo_world_memory_bytes(const yolo_world *w) {
  return w ? runner_memory_bytes(&w->det) + clip_memory_bytes(w->text) : 0;
}

const char *yolo_world_model_name(const yolo_world *w) { return w->det.name; }

void yolo_world_cache_stats(yolo_world *w, int *entries, long *hits, long *misses) {
  pthread_mutex_lock(&w->mu);
  *entries = w->ncache;
  *hits = w->hits;
  *misses = w->misses;
  pthread_mutex_unlock(&w->mu);
}

int yolo_world_check_classes(const char *const *classes, int n, int max, char *err, size_t errlen) {
  if (n < 1) return vigil_err(err, errlen, -1, "'classes' must list at least one class");
  if (n > max) return vigil_err(err, errlen, -1, "'classes' lists %d classes; at most %d are allowed", n, max);
  for (int i = 0; i < n; i++) {
    const char *s = classes[i];
    size_t len = s ? strlen(s) : 0;
    bool blank = true;
    for (size_t k = 0; k < len && blank; k++) blank = isspace((unsigned char)s[k]) != 0;
    if (blank) return vigil_err(err, errlen, -1, "class %d is empty", i);
    if (len > YOLO_WORLD_MAX_CLASS_LEN)
      return vigil_err(err, errlen, -1, "class %d is %zu bytes long; at most %d are allowed", i, len,
                      YOLO_WORLD_MAX_CLASS_LEN);
  }
  return 0;
}

static int cache_find(const yolo_world *w, const char *key) {
  for (int i = 0; i < w->ncache; i++)
    if (!strcmp(w->cache[i].key, key)) return i;
  return -1;
}

/* Fills feats (n rows of dim) from the cache, embedding the misses in one call. */
static int embed_classes(yolo_world *w, float *feats, const char *const *classes, int n, char *err, size_t errlen) {
  int *miss = malloc(sizeof *miss * (size_t)n);
  const char **mt = malloc(sizeof *mt * (size_t)n);
  size_t *ml = malloc(sizeof *ml * (size_t)n);
  float *me = malloc(sizeof *me * (size_t)n * (size_t)w->dim);
  int nm = 0, rc = 0;
  if (!miss || !mt || !ml || !me) {
    rc = vigil_err(err, errlen, -1, "out of memory");
    goto out;
  }
  pthread_mutex_lock(&w->mu);
  for (int i = 0; i < n; i++) {
    int k = cache_find(w, classes[i]);
    if (k >= 0) {
      memcpy(feats + (size_t)i * w->dim, w->cache[k].e, sizeof(float) * (size_t)w->dim);
      w->hits++;
    } else {
      miss[nm] = i;
      mt[nm] = classes[i];
      ml[nm++] = strlen(classes[i]);
      w->misses++;
    }
  }
  pthread_mutex_unlock(&w->mu);
  if (!nm) goto out;
  rc = clip_embed_texts(w->text, me, mt, ml, nm, err, errlen);
  if (rc) goto out;
  pthread_mutex_lock(&w->mu);
  for (int j = 0; j < nm; j++) {
    memcpy(feats + (size_t)miss[j] * w->dim, me + (size_t)j * w->dim, sizeof(float) * (size_t)w->dim);
    if (cache_find(w, mt[j]) >= 0) continue; /* another thread, or a duplicate in this list */
    if (w->ncache == YOLO_WORLD_CACHE_MAX) { /* bounded: start over rather than grow */
      for (int i = 0; i < w->ncache; i++) free(w->cache[i].key), free(w->cache[i].e);
      w->ncache = 0;
    }
    if (!w->cache) w->cache = calloc(YOLO_WORLD_CACHE_MAX, sizeof *w->cache);
    char *key = strdup(mt[j]);
    float *e = malloc(sizeof(float) * (size_t)w->dim);
    if (!w->cache || !key || !e) { /* the cache is an optimisation: skip the entry */
      free(key), free(e);
      continue;
    }
    memcpy(e, me + (size_t)j * w->dim, sizeof(float) * (size_t)w->dim);
    w->cache[w->ncache++] = (yw_entry){key, e};
  }
  pthread_mutex_unlock(&w->mu);
out:
  free(miss), free(mt), free(ml), free(me);
  return rc;
}

static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

int yolo_world_decode(vigil_det_list *out, const float *pred, int rows, int anchors, int n,
                      const char *const *classes, float conf, float iou, const vigil_letterbox *lb, int w, int h) {
  out->dets = NULL;
  out->n = 0;
  if (n < 1 || rows < 4 + n || anchors < 1 || lb->scale <= 0) return -1;
  int cap = 0;
  for (int j = 0; j < anchors; j++) {
    float bs, b[4];
    int best = yolo_anchor_best(pred, anchors, j, n, NULL, conf, &bs, b);
    if (best < 0) continue;
    float cx = b[0], cy = b[1], bw = b[2], bh = b[3];
    vigil_det d = {.cls = best, .label = classes[best], .score = bs};
    d.x1 = clampf((cx - bw / 2 - (float)lb->pad_x) / lb->scale, 0, (float)w);
    d.y1 = clampf((cy - bh / 2 - (float)lb->pad_y) / lb->scale, 0, (float)h);
    d.x2 = clampf((cx + bw / 2 - (float)lb->pad_x) / lb->scale, 0, (float)w);
    d.y2 = clampf((cy + bh / 2 - (float)lb->pad_y) / lb->scale, 0, (float)h);
    if (!(d.x2 > d.x1 && d.y2 > d.y1)) continue;
    if (out->n == cap) {
      int nc = cap ? cap * 2 : 32;
      vigil_det *nd = realloc(out->dets, sizeof *nd * (size_t)nc);
      if (!nd) {
        vigil_det_list_free(out);
        return -1;
      }
      out->dets = nd;
      cap = nc;
    }
    out->dets[out->n++] = d;
  }
  out->n = det_nms(out->dets, out->n, iou);
  return 0;
}

int yolo_world_detect(yolo_world *w, vigil_det_list *out, const vigil_image *img, const char *const *classes,
                      int n, float conf, char *err, size_t errlen) {
  out->dets = NULL;
  out->n = 0;
  if (yolo_world_check_classes(classes, n, yolo_world_max_classes(w), err, errlen)) return -1;
  int slots = w->slots > 0 ? w->slots : n;
  size_t per = 3 * (size_t)w->in_w * (size_t)w->in_h;
  float *feats = calloc((size_t)slots * (size_t)w->dim, sizeof *feats); /* padding rows stay zero */
  float *pix = malloc(sizeof *pix * per);
  vigil_image lbimg = {0};
  vigil_letterbox lb;
  vrt_tensor *o = NULL;
  int no = 0, rc = 0;
  if (!feats || !pix) {
    rc = vigil_err(err, errlen, -1, "out of memory");
    goto out;
  }
  if ((rc = embed_classes(w, feats, classes, n, err, errlen))) goto out;
  if (vigil_img_letterbox(&lbimg, &lb, img, w->in_w, w->in_h, 114, VIGIL_RESIZE_BILINEAR)) {
    rc = vigil_err(err, errlen, -1, "yolo-world: cannot letterbox the image");
    goto out;
  }
  const float mean[3] = {0, 0, 0}, std[3] = {255, 255, 255};
  vigil_img_to_f32(pix, &lbimg, VIGIL_LAYOUT_NCHW, mean, std, false);
  vrt_tensor in[2] = {
      {.name = "images", .dtype = VRT_F32, .ndim = 4, .dims = {1, 3, w->in_h, w->in_w}, .data = pix,
       .nbytes = sizeof(float) * per},
      {.name = "txt_feats", .dtype = VRT_F32, .ndim = 3, .dims = {1, slots, w->dim}, .data = feats,
       .nbytes = sizeof(float) * (size_t)slots * (size_t)w->dim}};
  if ((rc = hub_run(&w->det, "yolo-world", in, 2, &o, &no, err, errlen))) goto out;
  if (no < 1 || o[0].dtype != VRT_F32 || o[0].ndim != 3 || o[0].dims[0] != 1 || o[0].dims[1] != 4 + slots ||
      o[0].dims[2] < 1) {
    rc = vigil_err(err, errlen, -1, "yolo-world: expected output0 [1,%d,anchors] float32", 4 + slots);
    goto out;
  }
  if (yolo_world_decode(out, o[0].data, (int)o[0].dims[1], (int)o[0].dims[2], n, classes, conf, 0.45f, &lb, img->w,
                        img->h))
    rc = vigil_err(err, errlen, -1, "out of memory");
out:
  if (o) runner_outputs_free(o, no);
  vigil_image_free(&lbimg);
  free(feats);
  free(pix);
  return rc;
}
