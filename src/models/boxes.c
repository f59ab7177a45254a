/* COCO class names, IoU and NMS (class-aware, except that the vehicle
 * classes of the vocabulary, vigil/classes.h, suppress each other). */
#include <stdlib.h>
#include <string.h>

#include "vigil/detect.h"

static const char *const coco80[] = {
#include "coco80.def"
};
_Static_assert(sizeof coco80 / sizeof *coco80 == 80, "coco80.def must list the 80 COCO classes");

const char *coco_label(int cls) { return cls >= 0 && cls < 80 ? coco80[cls] : "unknown"; }

int coco_class_id(const char *label) {
  for (int i = 0; i < 80; i++)
    if (!strcmp(coco80[i], label)) return i;
  return -1;
}

void vigil_det_list_free(vigil_det_list *l) {
  if (!l) return;
  free(l->dets);
  l->dets = NULL;
  l->n = 0;
}

float det_iou(const vigil_det *a, const vigil_det *b) {
  float ix1 = a->x1 > b->x1 ? a->x1 : b->x1, iy1 = a->y1 > b->y1 ? a->y1 : b->y1;
  float ix2 = a->x2 < b->x2 ? a->x2 : b->x2, iy2 = a->y2 < b->y2 ? a->y2 : b->y2;
  float iw = ix2 - ix1, ih = iy2 - iy1;
  if (iw <= 0 || ih <= 0) return 0;
  float inter = iw * ih;
  float ua = (a->x2 - a->x1) * (a->y2 - a->y1) + (b->x2 - b->x1) * (b->y2 - b->y1) - inter;
  return ua > 0 ? inter / ua : 0;
}

int yolo_anchor_best(const float *p, int64_t n, int64_t j, int nc, const char *const *names, float conf, float *score,
                     float box[4]) {
  int best = -1;
  for (int k = 0; k < nc; k++) {
    float s = p[(size_t)(4 + k) * (size_t)n + (size_t)j];
    if (s >= conf && (!names || names[k])) conf = s, best = k;
  }
  *score = conf;
  for (int r = 0; r < 4; r++) box[r] = p[(size_t)r * (size_t)n + (size_t)j];
  return best;
}

static int by_score_desc(const void *a, const void *b) {
  const vigil_det *x = a, *y = b;
  if (x->score != y->score) return x->score < y->score ? 1 : -1;
  return x->cls - y->cls;
}

/* One parked van scored as both "car" and "truck" is one object: the vehicle
 * classes form one group for suppression. Other classes stay apart (a person
 * in front of a car is two objects). */
bool det_same_group(const vigil_det *a, const vigil_det *b) {
  if (a->cls == b->cls) return true;
  return vigil_class_kind(a->label) == VIGIL_KIND_VEHICLE && vigil_class_kind(b->label) == VIGIL_KIND_VEHICLE;
}

int det_nms_ex(vigil_det *dets, int n, float iou, float group_iou) {
  if (n <= 0) return 0;
  qsort(dets, (size_t)n, sizeof *dets, by_score_desc);
  int kept = 0;
  for (int i = 0; i < n; i++) {
    bool keep = true;
    for (int k = 0; k < kept && keep; k++) {
      if (!det_same_group(&dets[k], &dets[i])) continue;
      float lim = dets[k].cls == dets[i].cls ? iou : group_iou;
      if (det_iou(&dets[k], &dets[i]) > lim) keep = false;
    }
    if (keep) dets[kept++] = dets[i];
  }
  return kept;
}

int det_nms(vigil_det *dets, int n, float iou) { return det_nms_ex(dets, n, iou, iou); }
