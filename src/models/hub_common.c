/* Shared pieces of the hub-model adapters: published normalisations, crops to
 * NCHW tensors, the input test hook, softmax/L2, pre-tokenised prompt files. */
#include "models/hub_common.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/status.h"

const float hub_imagenet_mean[3] = {0.485f, 0.456f, 0.406f}, hub_imagenet_std[3] = {0.229f, 0.224f, 0.225f};
const float hub_half_mean[3] = {0.5f, 0.5f, 0.5f}, hub_half_std[3] = {0.5f, 0.5f, 0.5f};
const float hub_clip_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
const float hub_clip_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};

static hub_input_hook_fn hook;
static void *hook_ud;

void hub_set_input_hook(hub_input_hook_fn fn, void *ud) {
  hook = fn;
  hook_ud = ud;
}

int hub_run(model_runner *r, const char *adapter, const vrt_tensor *in, int nin, vrt_tensor **outs, int *nout,
            char *err, size_t errlen) {
  if (hook) hook(hook_ud, adapter, in, nin);
  return runner_run(r, in, nin, outs, nout, err, errlen);
}

int hub_clip_box(float *x1, float *y1, float *x2, float *y2, const vigil_image *frame) {
  if (!(*x2 > *x1) || !(*y2 > *y1)) return -1; /* also rejects NaN */
  *x1 = fmaxf(*x1, 0), *y1 = fmaxf(*y1, 0);
  *x2 = fminf(*x2, (float)frame->w), *y2 = fminf(*y2, (float)frame->h);
  return *x2 - *x1 >= 1 && *y2 - *y1 >= 1 ? 0 : -1;
}

static void to_pixel_units(float m[3], float s[3], const float mean[3], const float std[3]) {
  for (int c = 0; c < 3; c++) m[c] = mean[c] * 255.0f, s[c] = std[c] * 255.0f;
}

int hub_box_to_nchw(float *out, const vigil_image *frame, float x1, float y1, float x2, float y2, int ow, int oh,
                    const float mean[3], const float std[3]) {
  if (frame->c != 3 || hub_clip_box(&x1, &y1, &x2, &y2, frame)) return -1;
  int cx = (int)floorf(x1), cy = (int)floorf(y1);
  int cw = (int)ceilf(x2) - cx, ch = (int)ceilf(y2) - cy;
  vigil_image crop = {0}, rs = {0};
  if (vigil_img_crop(&crop, frame, cx, cy, cw, ch)) return -1;
  int rc = vigil_img_resize(&rs, &crop, ow, oh, VIGIL_RESIZE_AREA);
  vigil_image_free(&crop);
  if (rc) return -1;
  float m[3], s[3];
  to_pixel_units(m, s, mean, std);
  vigil_img_to_f32(out, &rs, VIGIL_LAYOUT_NCHW, m, s, false);
  vigil_image_free(&rs);
  return 0;
}

void hub_affine_to_nchw(float *out, const vigil_image *frame, float x0, float y0, float sx, float sy, int ow,
                        int oh, const float mean[3], const float std[3]) {
  size_t plane = (size_t)ow * (size_t)oh;
  for (int v = 0; v < oh; v++) {
    float fy = y0 + ((float)v + 0.5f) * sy - 0.5f;
    int iy = (int)floorf(fy);
    float wy = fy - (float)iy;
    for (int u = 0; u < ow; u++) {
      float fx = x0 + ((float)u + 0.5f) * sx - 0.5f;
      int ix = (int)floorf(fx);
      float wx = fx - (float)ix;
      float acc[3] = {0, 0, 0};
      for (int dy = 0; dy < 2; dy++)
        for (int dx = 0; dx < 2; dx++) {
          int px = ix + dx, py = iy + dy;
          if (px < 0 || py < 0 || px >= frame->w || py >= frame->h) continue; /* black border */
          float w = (dx ? wx : 1 - wx) * (dy ? wy : 1 - wy);
          const uint8_t *p = frame->data + (size_t)py * frame->stride + (size_t)px * 3;
          for (int c = 0; c < 3; c++) acc[c] += w * (float)p[c];
        }
      for (int c = 0; c < 3; c++)
        out[(size_t)c * plane + (size_t)v * (size_t)ow + (size_t)u] = (acc[c] / 255.0f - mean[c]) / std[c];
    }
  }
}

void hub_softmax(float *p, const float *logits, int n) {
  float mx = -INFINITY, sum = 0;
  for (int i = 0; i < n; i++) mx = fmaxf(mx, logits[i]);
  for (int i = 0; i < n; i++) sum += p[i] = expf(logits[i] - mx);
  for (int i = 0; i < n; i++) p[i] = sum > 0 ? p[i] / sum : 1.0f / (float)n;
}

float hub_dot(const float *a, const float *b, int n) {
  double s = 0;
  for (int i = 0; i < n; i++) s += (double)a[i] * b[i];
  return (float)s;
}

float hub_l2_normalize(float *v, int n) {
  float norm = sqrtf(hub_dot(v, v, n));
  if (norm > 0 && isfinite(norm))
    for (int i = 0; i < n; i++) v[i] /= norm;
  return norm;
}

const vrt_tensor *hub_rgb_input(const vrt_model_t *m, int def_h, int def_w, int *ih, int *iw) {
  const vrt_tensor *d = vrt_model_input(m, 0);
  if (!d || d->ndim != 4 || d->dtype != VRT_F32 || (d->dims[1] > 0 && d->dims[1] != 3)) return NULL;
  if (ih) *ih = d->dims[2] > 0 ? (int)d->dims[2] : def_h;
  if (iw) *iw = d->dims[3] > 0 ? (int)d->dims[3] : def_w;
  return d;
}

int hub_run_nchw(model_runner *r, const char *adapter, float *buf, int ow, int oh, vrt_tensor **outs, int *nout,
                 char *err, size_t errlen) {
  vrt_tensor in = {.name = vrt_model_input(r->m, 0)->name, .dtype = VRT_F32, .ndim = 4, .dims = {1, 3, oh, ow},
                   .data = buf, .nbytes = sizeof(float) * 3 * (size_t)ow * (size_t)oh};
  int rc = hub_run(r, adapter, &in, 1, outs, nout, err, errlen);
  free(buf);
  return rc;
}

int hub_run_box(model_runner *r, const char *adapter, const vigil_image *frame, float x1, float y1, float x2, float y2,
                int ow, int oh, const float mean[3], const float std[3], const char *bad_box, vrt_tensor **outs,
                int *nout, char *err, size_t errlen) {
  float *buf = malloc(sizeof(float) * 3 * (size_t)ow * (size_t)oh);
  if (!buf) return vigil_err(err, errlen, -1, "out of memory");
  if (hub_box_to_nchw(buf, frame, x1, y1, x2, y2, ow, oh, mean, std)) {
    free(buf);
    return vigil_err(err, errlen, -1, "%s", bad_box);
  }
  return hub_run_nchw(r, adapter, buf, ow, oh, outs, nout, err, errlen);
}

int hub_classify_box(model_runner *r, const char *adapter, const vigil_image *frame, float x1, float y1, float x2,
                     float y2, int ow, int oh, const float mean[3], const float std[3], const char *bad_box, float *p,
                     int n, char *err, size_t errlen) {
  vrt_tensor *o;
  int no;
  int rc = hub_run_box(r, adapter, frame, x1, y1, x2, y2, ow, oh, mean, std, bad_box, &o, &no, err, errlen);
  if (rc) return rc;
  if (no < 1 || o[0].dtype != VRT_F32 || vrt_tensor_numel(&o[0]) != n)
    rc = vigil_err(err, errlen, -1, "%s: expected logits [1,%d] float32", adapter, n);
  else
    hub_softmax(p, o[0].data, n);
  runner_outputs_free(o, no);
  return rc;
}

int hub_run_letterboxed(model_runner *r, const char *adapter, const vigil_image *frame, float x1, float y1, float x2,
                        float y2, int ow, int oh, const char *bad_box, hub_boxed *at, vrt_tensor **outs, int *nout,
                        char *err, size_t errlen) {
  if (frame->c != 3 || hub_clip_box(&x1, &y1, &x2, &y2, frame)) return vigil_err(err, errlen, -1, "%s", bad_box);
  at->x0 = (int)floorf(x1), at->y0 = (int)floorf(y1);
  vigil_image crop = {0}, lbi = {0};
  if (vigil_img_crop(&crop, frame, at->x0, at->y0, (int)ceilf(x2) - at->x0, (int)ceilf(y2) - at->y0))
    return vigil_err(err, errlen, -1, "%s", bad_box);
  int rc = vigil_img_letterbox(&lbi, &at->lb, &crop, ow, oh, 114, VIGIL_RESIZE_BILINEAR);
  vigil_image_free(&crop);
  if (rc) return vigil_err(err, errlen, -1, "%s: cannot letterbox the box", adapter);
  float *buf = malloc(sizeof(float) * 3 * (size_t)ow * (size_t)oh);
  if (buf) {
    const float scale255[3] = {255, 255, 255};
    vigil_img_to_f32(buf, &lbi, VIGIL_LAYOUT_NCHW, NULL, scale255, false);
  }
  vigil_image_free(&lbi);
  if (!buf) return vigil_err(err, errlen, -1, "out of memory");
  return hub_run_nchw(r, adapter, buf, ow, oh, outs, nout, err, errlen);
}

/* Parses "1 2 3" into dst (at most cap values); returns the count or -1. */
static int parse_ints(int64_t *dst, int cap, const char *s) {
  int n = 0;
  while (*s) {
    while (*s == ' ') s++;
    if (!*s) break;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || n >= cap) return -1;
    if (dst) dst[n] = v;
    n++;
    s = end;
  }
  return n;
}

#define HUB_MAX_PROMPT_LEN 512

int hub_prompt_ids_load(hub_prompt_ids *p, const char *path, char *err, size_t errlen) {
  memset(p, 0, sizeof *p);
  FILE *f = fopen(path, "r");
  if (!f) return vigil_err(err, errlen, -1, "cannot open %s (write it with tools/export/)", path);
  char line[16384];
  int lineno = 0, cap = 0, rc = 0;
  int64_t tmp[HUB_MAX_PROMPT_LEN];
  while (!rc && fgets(line, sizeof line, f)) {
    lineno++;
    size_t l = strlen(line);
    if (l && line[l - 1] != '\n' && !feof(f)) rc = vigil_err(err, errlen, -1, "%s:%d: line too long", path, lineno);
    while (l && (line[l - 1] == '\n' || line[l - 1] == '\r')) line[--l] = 0;
    if (rc || !l || line[0] == '#') continue;
    char *t1 = strchr(line, '\t');
    if (!t1) {
      rc = vigil_err(err, errlen, -1, "%s:%d: expected prompt<TAB>ids", path, lineno);
      break;
    }
    *t1++ = 0;
    char *t2 = strchr(t1, '\t');
    if (t2) *t2++ = 0;
    int n = parse_ints(tmp, HUB_MAX_PROMPT_LEN, t1);
    if (n <= 0 || (p->n && n != p->len) || (p->n && (t2 != NULL) != (p->mask != NULL))) {
      rc = vigil_err(err, errlen, -1, "%s:%d: every row needs the same number (1..%d) of ids and the same columns", path,
                    lineno, HUB_MAX_PROMPT_LEN);
      break;
    }
    if (p->n == cap) {
      cap = cap ? cap * 2 : 32;
      char **np = realloc(p->prompts, sizeof *np * (size_t)cap);
      if (np) p->prompts = np;
      int64_t *ni = np ? realloc(p->ids, sizeof *ni * (size_t)cap * (size_t)n) : NULL;
      if (ni) p->ids = ni;
      int64_t *nm = ni && t2 ? realloc(p->mask, sizeof *nm * (size_t)cap * (size_t)n) : NULL;
      if (nm) p->mask = nm;
      if (!np || !ni || (t2 && !nm)) {
        rc = vigil_err(err, errlen, -1, "out of memory");
        break;
      }
    }
    p->len = n;
    memcpy(p->ids + (size_t)p->n * (size_t)n, tmp, sizeof *tmp * (size_t)n);
    if (t2 && parse_ints(p->mask + (size_t)p->n * (size_t)n, n, t2) != n) {
      rc = vigil_err(err, errlen, -1, "%s:%d: the attention mask needs as many values as the ids", path, lineno);
      break;
    }
    if (!(p->prompts[p->n] = strdup(line))) rc = vigil_err(err, errlen, -1, "out of memory");
    else p->n++;
  }
  fclose(f);
  if (!rc && !p->n) rc = vigil_err(err, errlen, -1, "%s: no prompts", path);
  if (rc) hub_prompt_ids_free(p);
  return rc;
}

void hub_prompt_ids_free(hub_prompt_ids *p) {
  if (!p) return;
  for (int i = 0; i < p->n; i++) free(p->prompts[i]);
  free(p->prompts);
  free(p->ids);
  free(p->mask);
  memset(p, 0, sizeof *p);
}

int hub_prompt_ids_find(const hub_prompt_ids *p, const char *prompt) {
  for (int i = 0; i < p->n; i++)
    if (!strcmp(p->prompts[i], prompt)) return i;
  return -1;
}

int hub_id2label(const char *meta, char (*labels)[48], int n) {
  for (int i = 0; i < n; i++) labels[i][0] = 0;
  if (!meta) return 0;
  json_t *o = json_loads(meta, 0, NULL);
  int named = 0;
  const char *k;
  json_t *v;
  json_object_foreach(o, k, v) { /* a NULL or non-object o visits nothing */
    char *end;
    long id = strtol(k, &end, 10);
    if (end == k || *end || id < 0 || id >= n || !json_is_string(v)) continue;
    const char *s = json_string_value(v);
    size_t j = 0;
    for (; s[j] && j < sizeof labels[0] - 1; j++) labels[id][j] = (char)tolower((unsigned char)s[j]);
    labels[id][j] = 0;
    named++;
  }
  json_decref(o);
  return named;
}

void hub_center_square(float *x1, float *y1, float *x2, float *y2, float crop_pct) {
  float cx = (*x1 + *x2) / 2, cy = (*y1 + *y2) / 2;
  float side = fminf(*x2 - *x1, *y2 - *y1) * crop_pct;
  *x1 = cx - side / 2, *x2 = cx + side / 2, *y1 = cy - side / 2, *y2 = cy + side / 2;
}
