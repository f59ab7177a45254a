/* Vehicle damage from a YOLOv11-seg export (car-dd-segmentation-yolov11):
 * boxes, classes and mask coefficients decoded, NMS, masks from the
 * prototypes (sigmoid of coefficients . prototypes, inside the box), and a
 * per-type summary (model-zoo.md's damage JSON). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/hub_common.h"
#include "vigil/detect.h"
#include "models/runner.h"
#include "vigil/hub.h"
#include "vigil/status.h"

#define SEG_SIZE 640
#define SEG_NM 32 /* mask coefficients */
#define SEG_IOU 0.45f
#define SEG_MAX_CLASSES 64

const char *const damage_classes[DAMAGE_NTYPES] = {"crack", "dent", "glass_shatter", "lamp_broken", "scratch",
                                                   "tire_flat"};

const char *damage_canonical(const char *name) {
  char t[32];
  size_t n = 0;
  for (; name && name[n] && n < sizeof t - 1; n++)
    t[n] = name[n] == ' ' || name[n] == '-' ? '_' : (char)tolower((unsigned char)name[n]);
  t[n] = 0;
  for (int i = 0; i < DAMAGE_NTYPES; i++)
    if (!strcmp(t, damage_classes[i])) return damage_classes[i];
  return NULL;
}

int damage_parse_names(const char *meta, const char **names, int cap) {
  int n = 0;
  for (int i = 0; i < cap; i++) names[i] = NULL;
  for (const char *s = meta; s && (s = strchr(s, ':'));) {
    const char *k = s;
    while (k > meta && isdigit((unsigned char)k[-1])) k--;
    int id = atoi(k);
    s++;
    while (*s == ' ') s++;
    if (*s != '\'' && *s != '"') continue;
    char q = *s++;
    const char *e = strchr(s, q);
    if (!e) break;
    char nm[48];
    snprintf(nm, sizeof nm, "%.*s", (int)(e - s < 47 ? e - s : 47), s);
    if (id >= 0 && id < cap) {
      names[id] = damage_canonical(nm);
      if (id + 1 > n) n = id + 1;
    }
    s = e + 1;
  }
  return n;
}

/* Finds output0 [1,4+nc+32,N] and output1 [1,32,ph,pw] among the outputs. */
static int find_outputs(const vrt_tensor *o, int n, int *det, int *proto) {
  *det = *proto = -1;
  for (int i = 0; i < n; i++) {
    if (o[i].ndim == 3 && *det < 0) *det = i;
    else if (o[i].ndim == 4 && *proto < 0) *proto = i;
  }
  return *det >= 0 && *proto >= 0 ? 0 : -1;
}

int damage_check(model_runner *r, char *err, size_t errlen) {
  const vrt_tensor *in = vrt_model_input(r->m, 0);
  if (!in || in->ndim != 4 || in->dtype != VRT_F32 || (in->dims[1] >= 0 && in->dims[1] != 3))
    return vigil_err(err, errlen, -1, "vehicle-damage-detection: expected images [1,3,640,640] float32");
  int no = vrt_model_num_outputs(r->m);
  bool have3 = false, have4 = false;
  for (int i = 0; i < no; i++) {
    const vrt_tensor *t = vrt_model_output(r->m, i);
    have3 |= t && t->ndim == 3, have4 |= t && t->ndim == 4;
    if (t && t->ndim == 4 && t->dims[1] >= 0 && t->dims[1] != SEG_NM)
      return vigil_err(err, errlen, -1, "vehicle-damage-detection: output1 has %lld prototypes, expected %d",
                      (long long)t->dims[1], SEG_NM);
  }
  bool unknown = false; /* shapes the loader could not infer are checked at run time */
  for (int i = 0; i < no; i++) unknown |= !vrt_model_output(r->m, i) || vrt_model_output(r->m, i)->ndim < 0;
  if (!unknown && (!have3 || !have4))
    return vigil_err(err, errlen, -1,
                    "vehicle-damage-detection: a segmentation export has output0 [1,4+nc+32,N] and output1 "
                    "[1,32,160,160]; this model has %d output(s) without that pair (a detect-only export?)",
                    no);
  return 0;
}

typedef struct {
  float score, x1, y1, x2, y2; /* letterbox pixels */
  int cls, anchor;
} cand;

static int by_score(const void *a, const void *b) {
  float x = ((const cand *)a)->score, y = ((const cand *)b)->score;
  return (x < y) - (x > y);
}

static float iou(const cand *a, const cand *b) {
  float w = fminf(a->x2, b->x2) - fmaxf(a->x1, b->x1), h = fminf(a->y2, b->y2) - fmaxf(a->y1, b->y1);
  if (w <= 0 || h <= 0) return 0;
  float in = w * h, u = (a->x2 - a->x1) * (a->y2 - a->y1) + (b->x2 - b->x1) * (b->y2 - b->y1) - in;
  return u > 0 ? in / u : 0;
}

static void add_type(damage_result *out, const char *type, float conf) {
  int k = 0;
  while (k < out->n_types && strcmp(out->types[k], type)) k++;
  if (k == out->n_types) {
    if (k >= DAMAGE_NTYPES) return;
    snprintf(out->types[k], sizeof out->types[k], "%s", type);
    out->n_types++;
  }
  out->type_count[k]++;
  out->type_conf_sum[k] += conf;
}

int damage_detect(model_runner *r, damage_result *out, const vigil_image *frame, float x1, float y1, float x2,
                  float y2, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (damage_check(r, err, errlen)) return -1;
  hub_boxed at;
  vrt_tensor *o;
  int n;
  int rc = hub_run_letterboxed(r, "vehicle-damage-detection", frame, x1, y1, x2, y2, SEG_SIZE, SEG_SIZE,
                               "vehicle box is empty or outside the image", &at, &o, &n, err, errlen);
  if (rc) return rc;
  int di, pi;
  if (find_outputs(o, n, &di, &pi) || o[di].dtype != VRT_F32 || o[pi].dtype != VRT_F32 || o[di].dims[0] != 1 ||
      o[pi].dims[0] != 1 || o[pi].dims[1] != SEG_NM) {
    runner_outputs_free(o, n);
    return vigil_err(err, errlen, -1, "vehicle-damage-detection: expected output0 [1,4+nc+32,N] and output1 [1,32,H,W]");
  }
  int rows = (int)o[di].dims[1], na = (int)o[di].dims[2];
  int nc = rows - 4 - SEG_NM;
  const char *names[SEG_MAX_CLASSES];
  int named = damage_parse_names(vrt_model_metadata(r->m, "names"), names, SEG_MAX_CLASSES);
  if (nc < 1 || nc > SEG_MAX_CLASSES || (named && named != nc)) {
    runner_outputs_free(o, n);
    return vigil_err(err, errlen, -1, "vehicle-damage-detection: output0 has %d rows, which is not 4 + %d classes + 32",
                    rows, named ? named : nc);
  }
  if (!named) /* no metadata: the CarDD order of model-zoo.md */
    for (int c = 0; c < nc; c++) names[c] = c < DAMAGE_NTYPES ? damage_classes[c] : NULL;
  const float *p = o[di].data;
  cand *cs = malloc(sizeof(cand) * (size_t)(na > 0 ? na : 1));
  if (!cs) {
    runner_outputs_free(o, n);
    return vigil_err(err, errlen, -1, "out of memory");
  }
  int nk = 0;
  for (int a = 0; a < na; a++) {
    float bs, b[4];
    int best = yolo_anchor_best(p, na, a, nc, names, DAMAGE_CONF, &bs, b);
    if (best < 0 || !isfinite(bs)) continue;
    float bx = b[0], by = b[1], bw = b[2], bh = b[3];
    if (!(bw > 0 && bh > 0 && isfinite(bx) && isfinite(by) && bw < 1e5f && bh < 1e5f)) continue;
    cs[nk++] = (cand){bs, bx - bw / 2, by - bh / 2, bx + bw / 2, by + bh / 2, best, a};
  }
  qsort(cs, (size_t)nk, sizeof *cs, by_score);
  if (nk > DAMAGE_MAX_CANDIDATES) nk = DAMAGE_MAX_CANDIDATES; /* thousands of boxes: bounded NMS */
  /* class-aware NMS */
  int kept = 0;
  for (int i = 0; i < nk; i++) {
    bool drop = false;
    for (int j = 0; j < kept && !drop; j++) drop = cs[j].cls == cs[i].cls && iou(&cs[j], &cs[i]) > SEG_IOU;
    if (drop) continue;
    if (kept == DAMAGE_MAX_DETECTIONS) {
      out->capped = true;
      break;
    }
    cs[kept++] = cs[i];
  }
  /* masks: sigmoid(coeffs . protos) > 0.5 inside the box, in prototype cells */
  const float *pr = o[pi].data;
  int ph = (int)o[pi].dims[2], pw = (int)o[pi].dims[3];
  size_t pp = (size_t)ph * (size_t)pw;
  float sx = (float)pw / SEG_SIZE, sy = (float)ph / SEG_SIZE;
  for (int i = 0; i < kept; i++) {
    const cand *c = &cs[i];
    damage_det *dd = &out->dets[out->n++];
    snprintf(dd->damage_type, sizeof dd->damage_type, "%s", names[c->cls]);
    dd->confidence = c->score;
    float bx1 = c->x1, by1 = c->y1, bx2 = c->x2, by2 = c->y2;
    const vigil_letterbox *lb = &at.lb;
    vigil_letterbox_to_original(lb, &bx1, &by1);
    vigil_letterbox_to_original(lb, &bx2, &by2);
    dd->x1 = fmaxf(bx1, 0) + (float)at.x0, dd->y1 = fmaxf(by1, 0) + (float)at.y0;
    dd->x2 = fminf(bx2, (float)lb->inner_w / lb->scale) + (float)at.x0;
    dd->y2 = fminf(by2, (float)lb->inner_h / lb->scale) + (float)at.y0;
    float co[SEG_NM];
    for (int m = 0; m < SEG_NM; m++) co[m] = p[(size_t)(4 + nc + m) * na + c->anchor];
    int mx1 = (int)fmaxf(0, floorf(c->x1 * sx)), my1 = (int)fmaxf(0, floorf(c->y1 * sy));
    int mx2 = (int)fminf((float)pw, ceilf(c->x2 * sx)), my2 = (int)fminf((float)ph, ceilf(c->y2 * sy));
    long cells = 0;
    for (int y = my1; y < my2; y++)
      for (int x = mx1; x < mx2; x++) {
        float v = 0;
        for (int m = 0; m < SEG_NM; m++) v += co[m] * pr[(size_t)m * pp + (size_t)y * pw + x];
        cells += v > 0; /* sigmoid(v) > 0.5 */
      }
    /* one prototype cell is (1/sx) x (1/sy) letterbox px = that / scale^2 frame px */
    double cell_px = 1.0 / ((double)sx * sy * (double)at.lb.scale * at.lb.scale);
    dd->mask_area = (int)llround((double)cells * cell_px);
    dd->has_mask = cells > 0;
    add_type(out, names[c->cls], dd->confidence);
    out->has_high_security_damage |= !strcmp(dd->damage_type, "glass_shatter") || !strcmp(dd->damage_type, "lamp_broken");
    out->highest_confidence = fmaxf(out->highest_confidence, dd->confidence);
  }
  free(cs);
  runner_outputs_free(o, n);
  return 0;
}
