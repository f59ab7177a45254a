/* Clothing segmentation by SegFormer-b2 (mattmdjaga/segformer_b2_clothes, the zoo's
 * segformer-b2-clothes row, include/vigil/scene_models.h): per-cell labels over a person
 * box, merged into clothing items with their area, colour and extent. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/hub_common.h"
#include "vigil/status.h"
#include "vigil/scene_models.h"

#define SEG_SIZE 512
#define SEG_MIN_AREA 0.005f

const char *const segformer_labels[SEGFORMER_LABELS] = {
    "background", "hat",       "hair",      "sunglasses", "upper_clothes", "skirt",
    "pants",      "dress",     "belt",      "left_shoe",  "right_shoe",    "face",
    "left_leg",   "right_leg", "left_arm",  "right_arm",  "bag",           "scarf"};

/* label id -> clothing item (-1: not clothing: background, hair, face, limbs) */
static const char *item_of(int label) {
  switch (label) {
    case 1: case 3: case 4: case 5: case 6: case 7: case 8: case 16: case 17: return segformer_labels[label];
    case 9: case 10: return "shoes";
    default: return NULL;
  }
}

int segformer_check(model_runner *r, char *err, size_t errlen) {
  const vrt_tensor *in = vrt_model_input(r->m, 0), *o = vrt_model_output(r->m, 0);
  if (!in || in->ndim != 4 || in->dtype != VRT_F32 || (in->dims[1] >= 0 && in->dims[1] != 3) ||
      (in->dims[2] >= 0 && in->dims[2] != SEG_SIZE) || (in->dims[3] >= 0 && in->dims[3] != SEG_SIZE))
    return vigil_err(err, errlen, -1, "segformer-b2-clothes: expected pixel_values [B,3,512,512] float32");
  if (!o || o->ndim != 4 || (o->dims[1] >= 0 && o->dims[1] != SEGFORMER_LABELS))
    return vigil_err(err, errlen, -1, "segformer-b2-clothes: expected logits [B,%d,H,W] (its %d labels)",
                     SEGFORMER_LABELS, SEGFORMER_LABELS);
  return 0;
}

void segformer_result_free(segformer_result *r) {
  if (!r) return;
  free(r->mask);
  r->mask = NULL;
}

int segformer_clothes(model_runner *r, segformer_result *out, const vigil_image *frame, float x1, float y1, float x2,
                      float y2, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (segformer_check(r, err, errlen)) return -1;
  if (hub_clip_box(&x1, &y1, &x2, &y2, frame)) return vigil_err(err, errlen, -1, "segformer-b2-clothes: empty box");
  vrt_tensor *o;
  int n;
  int rc = hub_run_box(r, "segformer-b2-clothes", frame, x1, y1, x2, y2, SEG_SIZE, SEG_SIZE, hub_imagenet_mean,
                       hub_imagenet_std, "segformer-b2-clothes: cannot resize the person box", &o, &n, err, errlen);
  if (rc) return rc;
  if (n < 1 || o[0].dtype != VRT_F32 || o[0].ndim != 4 || o[0].dims[0] != 1 || o[0].dims[1] != SEGFORMER_LABELS ||
      o[0].dims[2] < 1 || o[0].dims[3] < 1 || o[0].dims[2] > SEG_SIZE || o[0].dims[3] > SEG_SIZE) {
    runner_outputs_free(o, n);
    return vigil_err(err, errlen, -1, "segformer-b2-clothes: expected logits [1,%d,H,W] float32 (H, W <= %d)",
                    SEGFORMER_LABELS, SEG_SIZE);
  }
  int mh = (int)o[0].dims[2], mw = (int)o[0].dims[3];
  size_t plane = (size_t)mw * (size_t)mh;
  out->mask = malloc(plane);
  if (!out->mask) {
    runner_outputs_free(o, n);
    return vigil_err(err, errlen, -1, "out of memory");
  }
  const float *lg = o[0].data;
  for (size_t i = 0; i < plane; i++) {
    int best = 0;
    for (int k = 1; k < SEGFORMER_LABELS; k++)
      if (lg[(size_t)k * plane + i] > lg[(size_t)best * plane + i]) best = k;
    out->mask[i] = (uint8_t)best;
  }
  runner_outputs_free(o, n);
  out->mask_w = mw, out->mask_h = mh;
  out->box[0] = x1, out->box[1] = y1, out->box[2] = x2, out->box[3] = y2;
  /* items: cells, extent and colour votes (the frame pixel under each cell's centre) */
  struct {
    const char *name;
    long cells;
    int cx1, cy1, cx2, cy2;
    int votes[16];
  } acc[SEGFORMER_MAX_ITEMS];
  const char *names[16];
  int nacc = 0, nnames = 0;
  float sx = (x2 - x1) / (float)mw, sy = (y2 - y1) / (float)mh;
  for (int y = 0; y < mh; y++)
    for (int x = 0; x < mw; x++) {
      const char *it = item_of(out->mask[(size_t)y * mw + x]);
      if (!it) continue;
      int a = 0;
      while (a < nacc && strcmp(acc[a].name, it)) a++;
      if (a == nacc) {
        if (nacc == SEGFORMER_MAX_ITEMS) continue;
        memset(&acc[a], 0, sizeof acc[a]);
        acc[a].name = it, acc[a].cx1 = x, acc[a].cy1 = y, acc[a].cx2 = x, acc[a].cy2 = y;
        nacc++;
      }
      acc[a].cells++;
      if (x < acc[a].cx1) acc[a].cx1 = x;
      if (x > acc[a].cx2) acc[a].cx2 = x;
      if (y < acc[a].cy1) acc[a].cy1 = y;
      if (y > acc[a].cy2) acc[a].cy2 = y;
      int px = (int)(x1 + ((float)x + 0.5f) * sx), py = (int)(y1 + ((float)y + 0.5f) * sy);
      if (px >= frame->w) px = frame->w - 1;
      if (py >= frame->h) py = frame->h - 1;
      const uint8_t *p = frame->data + (size_t)py * frame->stride + (size_t)px * 3;
      const char *cn = hub_palette_name(p[0], p[1], p[2]);
      int c = 0;
      while (c < nnames && names[c] != cn) c++;
      if (c == nnames && nnames < 16) names[nnames++] = cn;
      if (c < 16) acc[a].votes[c]++;
    }
  for (int a = 0; a < nacc; a++) {
    float area = (float)acc[a].cells / (float)plane;
    if (area < SEG_MIN_AREA) continue;
    segformer_item *it = &out->items[out->n++];
    snprintf(it->item, sizeof it->item, "%s", acc[a].name);
    it->area = area;
    int best = 0;
    for (int c = 1; c < nnames; c++)
      if (acc[a].votes[c] > acc[a].votes[best]) best = c;
    snprintf(it->color, sizeof it->color, "%s", nnames ? names[best] : "unknown");
    it->x1 = x1 + (float)acc[a].cx1 * sx, it->y1 = y1 + (float)acc[a].cy1 * sy;
    it->x2 = x1 + (float)(acc[a].cx2 + 1) * sx, it->y2 = y1 + (float)(acc[a].cy2 + 1) * sy;
  }
  for (int i = 1; i < out->n; i++) /* largest first */
    for (int j = i; j > 0 && out->items[j].area > out->items[j - 1].area; j--) {
      segformer_item t = out->items[j];
      out->items[j] = out->items[j - 1];
      out->items[j - 1] = t;
    }
  return 0;
}
