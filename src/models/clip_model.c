/* CLIP ViT-L/14 from the user's ONNX export folder: image and text encoders behind
 * session pools, the tokenizer, the logit scale; and the rolling scene baseline the
 * anomaly score compares against. The export's signatures are in include/vigil/clip.h
 * and tools/export/clip_vit_large_patch14.py. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/hub_common.h"
#include "vigil/clip.h"
#include "vigil/status.h"

#define CLIP_MAX_DIM 8192

struct clip_model {
  model_runner vision, text;
  clip_tokenizer *tok;
  int dim, size;     /* embedding width; square input side */
  float log_scale;   /* the learned logit scale (log) */
  bool text_mask;    /* text.onnx takes attention_mask */
};

static const vrt_tensor *output_named(vrt_tensor *o, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (o[i].name && !strcmp(o[i].name, name)) return &o[i];
  return n == 1 ? &o[0] : NULL;
}

static int read_scale(float *out, const char *dir, char *err, size_t errlen) {
  char path[4096];
  snprintf(path, sizeof path, "%s/logit_scale.txt", dir);
  FILE *f = fopen(path, "r");
  if (!f) {
    *out = logf(100.0f); /* CLIP's trained value saturates at this clamp */
    return 0;
  }
  double v;
  int ok = fscanf(f, "%lf", &v) == 1 && isfinite(v) && v > -10 && v < 10;
  fclose(f);
  if (!ok) return vigil_err(err, errlen, -1, "clip: %s must hold one number (the log of the logit scale)", path);
  *out = (float)v;
  return 0;
}

/* with_vision false: the text tower only (YOLO-World's vocabulary encoder). */
static int load_dir(clip_model **out, const char *dir, int threads, bool with_vision, char *err, size_t errlen) {
  *out = NULL;
  clip_model *m = calloc(1, sizeof *m);
  if (!m) return vigil_err(err, errlen, -1, "out of memory");
  char a[4096], b[4096];
  snprintf(a, sizeof a, "%s/vision.onnx", dir);
  int rc = with_vision ? runner_load(&m->vision, a, threads, err, errlen) : 0;
  if (!rc) {
    snprintf(a, sizeof a, "%s/text.onnx", dir);
    rc = runner_load(&m->text, a, threads, err, errlen);
  }
  if (!rc) {
    snprintf(a, sizeof a, "%s/vocab.json", dir);
    snprintf(b, sizeof b, "%s/merges.txt", dir);
    rc = clip_tokenizer_load(&m->tok, a, b, err, errlen);
  }
  if (!rc) rc = read_scale(&m->log_scale, dir, err, errlen);
  if (!rc && with_vision) {
    const vrt_tensor *v = vrt_model_input(m->vision.m, 0);
    if (!v || v->ndim != 4 || v->dtype != VRT_F32 || (v->dims[1] > 0 && v->dims[1] != 3) ||
        (v->dims[2] > 0 && v->dims[2] != v->dims[3]) || v->dims[2] > 1024)
      rc = vigil_err(err, errlen, -1, "clip: vision.onnx must take pixel_values [N,3,S,S] float32");
    else
      m->size = v->dims[2] > 0 ? (int)v->dims[2] : 224;
  }
  if (!rc) {
    int nin = vrt_model_num_inputs(m->text.m);
    const vrt_tensor *t = vrt_model_input(m->text.m, 0);
    if (!t || t->ndim != 2 || (t->dtype != VRT_I64 && t->dtype != VRT_I32) || (t->dims[1] > 0 && t->dims[1] != CLIP_CONTEXT) ||
        nin < 1 || nin > 2)
      rc = vigil_err(err, errlen, -1, "clip: text.onnx must take input_ids [N,%d] int64 (and optionally attention_mask)",
                    CLIP_CONTEXT);
    m->text_mask = nin == 2;
  }
  if (!rc) { /* the width: one tiny run of the text tower (cheap, and proves it runs) */
    const char *empty = "";
    size_t zero = 0;
    m->dim = -1;
    rc = clip_embed_texts(m, NULL, &empty, &zero, 1, err, errlen);
  }
  if (rc) {
    clip_free(m);
    return -1;
  }
  *out = m;
  return 0;
}

int clip_load(clip_model **out, const char *dir, int threads, char *err, size_t errlen) {
  return load_dir(out, dir, threads, true, err, errlen);
}

int clip_load_text(clip_model **out, const char *dir, int threads, char *err, size_t errlen) {
  return load_dir(out, dir, threads, false, err, errlen);
}

void clip_free(clip_model *m) {
  if (!m) return;
  runner_free(&m->vision);
  runner_free(&m->text);
  clip_tokenizer_free(m->tok);
  free(m);
}

/* The shared handles: few (one export per process in practice), found by folder. */
#define CLIP_SHARED_MAX 4
static struct {
  char dir[1024];
  clip_model *m;
  int refs;
} shared[CLIP_SHARED_MAX];
static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;

int clip_shared_acquire(clip_model **out, const char *dir, char *err, size_t errlen) {
  *out = NULL;
  pthread_mutex_lock(&shared_mu);
  int slot = -1;
  for (int i = 0; i < CLIP_SHARED_MAX; i++) {
    if (shared[i].m && !strcmp(shared[i].dir, dir)) {
      shared[i].refs++;
      *out = shared[i].m;
      pthread_mutex_unlock(&shared_mu);
      return 0;
    }
    if (!shared[i].m && slot < 0) slot = i;
  }
  int rc = -1;
  if (slot < 0) vigil_err(err, errlen, -1, "clip: too many CLIP exports loaded at once");
  else if (strlen(dir) >= sizeof shared[slot].dir) vigil_err(err, errlen, -1, "clip: export path too long");
  else if (!(rc = clip_load(&shared[slot].m, dir, 1, err, errlen))) {
    snprintf(shared[slot].dir, sizeof shared[slot].dir, "%s", dir);
    shared[slot].refs = 1;
    *out = shared[slot].m;
  }
  pthread_mutex_unlock(&shared_mu);
  return rc;
}

void clip_shared_release(clip_model *m) {
  if (!m) return;
  clip_model *dead = NULL;
  pthread_mutex_lock(&shared_mu);
  for (int i = 0; i < CLIP_SHARED_MAX; i++)
    if (shared[i].m == m && --shared[i].refs == 0) {
      dead = m;
      shared[i].m = NULL;
      shared[i].dir[0] = 0;
    }
  pthread_mutex_unlock(&shared_mu);
  clip_free(dead);
}

int clip_embed_dim(const clip_model *m) { return m->dim; }
float clip_logit_scale(const clip_model *m) { return expf(m->log_scale); }
size_t clip_memory_bytes(const clip_model *m) {
  return m ? runner_memory_bytes(&m->vision) + runner_memory_bytes(&m->text) : 0;
}
const clip_tokenizer *clip_model_tokenizer(const clip_model *m) { return m->tok; }

/* Checks an embedding output and copies n rows (normalised) to out; out NULL with
 * m->dim < 0 only learns the width (load time). */
static int take_rows(clip_model *m, float *out, const vrt_tensor *t, int n, const char *what, char *err,
                     size_t errlen) {
  if (!t || t->dtype != VRT_F32 || t->ndim != 2 || t->dims[0] != n || t->dims[1] < 1 || t->dims[1] > CLIP_MAX_DIM ||
      (m->dim > 0 && t->dims[1] != m->dim))
    return vigil_err(err, errlen, -1, "clip: %s must output %s [N,D] float32", what,
                    strcmp(what, "vision.onnx") ? "text_embeds" : "image_embeds");
  if (m->dim < 0) m->dim = (int)t->dims[1];
  if (!out) return 0;
  for (int i = 0; i < n; i++) {
    float *o = out + (size_t)i * m->dim;
    memcpy(o, (const float *)t->data + (size_t)i * m->dim, sizeof(float) * (size_t)m->dim);
    hub_l2_normalize(o, m->dim);
  }
  return 0;
}

int clip_embed_texts(const clip_model *cm, float *out, const char *const *texts, const size_t *lens, int n,
                     char *err, size_t errlen) {
  clip_model *m = (clip_model *)cm; /* only the width is learnt, once, at load */
  if (n < 1) return 0;
  const vrt_tensor *d = vrt_model_input(m->text.m, 0);
  int batch = d->dims[0] > 0 ? (int)d->dims[0] : (n < 16 ? n : 16);
  size_t per = (size_t)batch * CLIP_CONTEXT;
  int64_t *ids = malloc(sizeof *ids * per * 2);
  int32_t row[CLIP_CONTEXT];
  if (!ids) return vigil_err(err, errlen, -1, "out of memory");
  int64_t *mask = ids + per;
  int rc = 0;
  for (int b0 = 0; !rc && b0 < n; b0 += batch) {
    int nb = n - b0 < batch ? n - b0 : batch;
    for (int j = 0; j < batch; j++) {
      int k = b0 + (j < nb ? j : nb - 1); /* a fixed batch is filled with the last text */
      int real = 0;
      rc = clip_tokenize(m->tok, row, CLIP_CONTEXT, &real, texts[k], lens[k], err, errlen);
      if (rc) break;
      for (int t = 0; t < CLIP_CONTEXT; t++) {
        ids[(size_t)j * CLIP_CONTEXT + t] = row[t];
        mask[(size_t)j * CLIP_CONTEXT + t] = t < real;
      }
    }
    if (rc) break;
    vrt_tensor in[2] = {
        {.name = d->name, .dtype = VRT_I64, .ndim = 2, .dims = {batch, CLIP_CONTEXT}, .data = ids,
         .nbytes = sizeof *ids * per},
        {.name = m->text_mask ? vrt_model_input(m->text.m, 1)->name : NULL, .dtype = VRT_I64, .ndim = 2,
         .dims = {batch, CLIP_CONTEXT}, .data = mask, .nbytes = sizeof *ids * per}};
    if (d->dtype == VRT_I32) { /* an export with int32 ids: narrow in place */
      int32_t *n32 = (int32_t *)ids, *m32 = (int32_t *)mask;
      for (size_t i = 0; i < per; i++) n32[i] = (int32_t)ids[i], m32[i] = (int32_t)mask[i];
      in[0].dtype = in[1].dtype = VRT_I32;
      in[0].nbytes = in[1].nbytes = sizeof(int32_t) * per;
    }
    vrt_tensor *o;
    int no;
    rc = hub_run(&m->text, "clip-text", in, m->text_mask ? 2 : 1, &o, &no, err, errlen);
    if (rc) break;
    float *tmp = out ? malloc(sizeof(float) * (size_t)batch * (size_t)(m->dim > 0 ? m->dim : 1)) : NULL;
    rc = take_rows(m, out ? tmp : NULL, output_named(o, no, "text_embeds"), batch, "text.onnx", err, errlen);
    if (!rc && out) memcpy(out + (size_t)b0 * m->dim, tmp, sizeof(float) * (size_t)nb * (size_t)m->dim);
    free(tmp);
    runner_outputs_free(o, no);
  }
  free(ids);
  return rc;
}

int clip_embed_image(const clip_model *cm, float *out, const vigil_image *im, char *err, size_t errlen) {
  clip_model *m = (clip_model *)cm;
  if (!m->vision.m) return vigil_err(err, errlen, -1, "clip: this model has no image tower (loaded text-only)");
  if (!im || im->c != 3 || im->w < 1 || im->h < 1) return vigil_err(err, errlen, -1, "clip: expected an RGB image");
  int s = m->size, side = im->w < im->h ? im->w : im->h;
  size_t ne = 3 * (size_t)s * (size_t)s;
  float *buf = malloc(sizeof(float) * ne);
  if (!buf) return vigil_err(err, errlen, -1, "out of memory");
  /* shortest side to S, centre crop: the centred side x side square, resized */
  float x0 = (float)(im->w - side) / 2, y0 = (float)(im->h - side) / 2;
  if (hub_box_to_nchw(buf, im, x0, y0, x0 + (float)side, y0 + (float)side, s, s, hub_clip_mean, hub_clip_std)) {
    free(buf);
    return vigil_err(err, errlen, -1, "clip: the image is empty");
  }
  const vrt_tensor *d = vrt_model_input(m->vision.m, 0);
  vrt_tensor in = {.name = d->name, .dtype = VRT_F32, .ndim = 4, .dims = {1, 3, s, s}, .data = buf,
                   .nbytes = sizeof(float) * ne};
  vrt_tensor *o;
  int no;
  int rc = hub_run(&m->vision, "clip-vision", &in, 1, &o, &no, err, errlen);
  free(buf);
  if (rc) return rc;
  rc = take_rows(m, out, output_named(o, no, "image_embeds"), 1, "vision.onnx", err, errlen);
  runner_outputs_free(o, no);
  return rc;
}

/* ---- baseline ---------------------------------------------------------------------------------- */

int clip_baseline_init(clip_baseline *b, int dim) {
  b->dim = dim;
  b->count = 0;
  b->mean = calloc((size_t)dim, sizeof *b->mean);
  return b->mean ? 0 : -1;
}

void clip_baseline_free(clip_baseline *b) {
  free(b->mean);
  b->mean = NULL;
}

void clip_baseline_update(clip_baseline *b, const float *e, float min_alpha) {
  float a = 1.0f / (float)(b->count + 1);
  if (a < min_alpha) a = min_alpha;
  for (int i = 0; i < b->dim; i++) b->mean[i] = (1 - a) * b->mean[i] + a * e[i];
  hub_l2_normalize(b->mean, b->dim);
  b->count++;
}
