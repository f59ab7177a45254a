/* Person-path adapters: MoveNet pose, BlazeFace faces, FaceRes demographics
 * (preprocessing as in MODEL-FACTS.md, checked by the golden tests). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/detect.h"
#include "models/runner.h"
#include "vigil/person.h"
#include "vigil/status.h"

/* The square a model saw: its top-left in frame pixels and its side. */
typedef struct {
  float ox, oy, side;
} square;

/* Crops the (grown) box, pads it to a square and resizes that to size x size
 * (bilinear) into *rs; sq gets the square. -1: the box is empty or outside the
 * image; -2: the resize failed. */
static int square_crop(vigil_image *rs, square *sq_out, const vigil_image *frame, float x1, float y1, float x2,
                       float y2, float grow, int size) {
  float w = x2 - x1, h = y2 - y1;
  x1 -= w * grow / 2, x2 += w * grow / 2, y1 -= h * grow / 2, y2 += h * grow / 2;
  int cx = (int)floorf(fmaxf(x1, 0)), cy = (int)floorf(fmaxf(y1, 0));
  int cw = (int)ceilf(fminf(x2, (float)frame->w)) - cx, ch = (int)ceilf(fminf(y2, (float)frame->h)) - cy;
  if (cw < 2 || ch < 2) return -1;
  vigil_image crop = {0};
  if (vigil_img_crop(&crop, frame, cx, cy, cw, ch)) return -1;
  int offx = 0, offy = 0;
  vigil_image sq = {0};
  int rc = vigil_img_pad_square(&sq, &offx, &offy, &crop, 0);
  vigil_image_free(&crop);
  if (rc) return -1;
  *sq_out = (square){(float)(cx - offx), (float)(cy - offy), (float)sq.w};
  rc = vigil_img_resize(rs, &sq, size, size, VIGIL_RESIZE_BILINEAR);
  vigil_image_free(&sq);
  return rc ? -2 : 0;
}

/* square_crop of the box as the model's [1,size,size,3] input, run: int32 RGB
 * (dtype VRT_I32) or floats (x - mean) / std (NULL: 0 and 1). bad_box: the
 * error when the box is empty or outside the image. */
static int run_square(model_runner *r, square *sq, const vigil_image *frame, float x1, float y1, float x2, float y2,
                      float grow, int size, vrt_dtype dtype, const float *mean, const float *std, const char *bad_box,
                      vrt_tensor **o, int *no, char *err, size_t errlen) {
  vigil_image rs = {0};
  int rc = square_crop(&rs, sq, frame, x1, y1, x2, y2, grow, size);
  if (rc) return vigil_err(err, errlen, -1, "%s", rc == -1 ? bad_box : "resize failed");
  size_t ne = (size_t)size * (size_t)size * 3, es = dtype == VRT_I32 ? sizeof(int32_t) : sizeof(float);
  void *buf = malloc(es * ne);
  if (buf && dtype == VRT_I32) vigil_img_to_i32(buf, &rs);
  else if (buf) vigil_img_to_f32(buf, &rs, VIGIL_LAYOUT_NHWC, mean, std, false);
  vigil_image_free(&rs);
  if (!buf) return vigil_err(err, errlen, -1, "out of memory");
  vrt_tensor in = {.name = vrt_model_input(r->m, 0)->name, .dtype = dtype, .ndim = 4, .dims = {1, size, size, 3},
                   .data = buf, .nbytes = es * ne};
  rc = runner_run(r, &in, 1, o, no, err, errlen);
  free(buf);
  return rc;
}

int movenet_pose(model_runner *r, pose_result *out, const vigil_image *frame, float x1, float y1, float x2,
                 float y2, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  const vrt_tensor *decl = vrt_model_input(r->m, 0);
  if (!decl || decl->ndim != 4 || decl->dtype != VRT_I32) return vigil_err(err, errlen, -1, "movenet: unexpected input");
  int size = decl->dims[1] > 0 ? (int)decl->dims[1] : 192;
  square sq;
  vrt_tensor *o;
  int n;
  int rc = run_square(r, &sq, frame, x1, y1, x2, y2, 0.1f, size, VRT_I32, NULL, NULL,
                      "person box is empty or outside the image", &o, &n, err, errlen);
  if (rc) return rc;
  if (n < 1 || o[0].dtype != VRT_F32 || vrt_tensor_numel(&o[0]) != POSE_NKP * 3) {
    runner_outputs_free(o, n);
    return vigil_err(err, errlen, -1, "movenet: unexpected output");
  }
  const float *k = o[0].data;
  for (int i = 0; i < POSE_NKP; i++) {
    out->kp[i].y = sq.oy + k[i * 3 + 0] * sq.side;
    out->kp[i].x = sq.ox + k[i * 3 + 1] * sq.side;
    out->kp[i].score = k[i * 3 + 2];
  }
  runner_outputs_free(o, n);
  pose_classify(out, x1, y1, x2, y2);
  return 0;
}

static int face_by_score(const void *a, const void *b) {
  float x = ((const face_box *)a)->score, y = ((const face_box *)b)->score;
  return (x < y) - (x > y);
}

static float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

int blazeface_detect(model_runner *r, face_box *faces, int max, int *n, const vigil_image *frame, float x1,
                     float y1, float x2, float y2, float min_score, char *err, size_t errlen) {
  *n = 0;
  if (x2 <= x1 || y2 <= y1) x1 = 0, y1 = 0, x2 = (float)frame->w, y2 = (float)frame->h;
  const float half[3] = {127.5f, 127.5f, 127.5f};
  square sq;
  vrt_tensor *o;
  int no;
  int rc = run_square(r, &sq, frame, x1, y1, x2, y2, 0, 256, VRT_F32, half, half,
                      "region is empty or outside the image", &o, &no, err, errlen);
  if (rc) return rc;
  const float ox = sq.ox, oy = sq.oy;
  /* outputs: scores [1,512,1] + [1,384,1], boxes [1,512,16] + [1,384,16] */
  const float *sc[2] = {0}, *bx[2] = {0};
  for (int i = 0; i < no; i++) {
    if (o[i].ndim != 3 || o[i].dtype != VRT_F32) continue;
    int which = o[i].dims[1] == 512 ? 0 : o[i].dims[1] == 384 ? 1 : -1;
    if (which < 0) continue;
    if (o[i].dims[2] == 1) sc[which] = o[i].data;
    if (o[i].dims[2] == 16) bx[which] = o[i].data;
  }
  if (!sc[0] || !sc[1] || !bx[0] || !bx[1]) {
    runner_outputs_free(o, no);
    return vigil_err(err, errlen, -1, "blazeface: unexpected outputs");
  }
  face_box *cf = malloc(sizeof *cf * 896);
  if (!cf) {
    runner_outputs_free(o, no);
    return vigil_err(err, errlen, -1, "out of memory");
  }
  int nc = 0;
  const int grid[2] = {16, 8}, per[2] = {2, 6};
  const float k = sq.side / 256.0f;
  for (int part = 0; part < 2; part++) {
    int g = grid[part];
    for (int a = 0; a < g * g * per[part]; a++) {
      float s = sigmoidf(sc[part][a]);
      if (s < min_score) continue;
      int cell = a / per[part];
      float ax = ((float)(cell % g) + 0.5f) / (float)g * 256, ay = ((float)(cell / g) + 0.5f) / (float)g * 256;
      const float *b = bx[part] + a * 16;
      float cx = ax + b[0], cy = ay + b[1], w = b[2], h = b[3];
      face_box *f = &cf[nc++];
      f->x1 = ox + (cx - w / 2) * k, f->y1 = oy + (cy - h / 2) * k;
      f->x2 = ox + (cx + w / 2) * k, f->y2 = oy + (cy + h / 2) * k;
      f->score = s;
      for (int l = 0; l < FACE_NLMK; l++) {
        f->lm[l][0] = ox + (ax + b[4 + 2 * l]) * k;
        f->lm[l][1] = oy + (ay + b[5 + 2 * l]) * k;
      }
    }
  }
  runner_outputs_free(o, no);
  qsort(cf, (size_t)nc, sizeof *cf, face_by_score);
  for (int i = 0; i < nc && *n < max; i++) {
    vigil_det a = {.x1 = cf[i].x1, .y1 = cf[i].y1, .x2 = cf[i].x2, .y2 = cf[i].y2};
    bool keep = true;
    for (int j = 0; j < *n && keep; j++) {
      vigil_det b = {.x1 = faces[j].x1, .y1 = faces[j].y1, .x2 = faces[j].x2, .y2 = faces[j].y2};
      keep = det_iou(&a, &b) <= 0.3f;
    }
    if (keep) faces[(*n)++] = cf[i];
  }
  free(cf);
  return 0;
}

const char *age_bracket(float age) {
  if (age < 13) return "0-12";
  if (age < 18) return "13-17";
  if (age < 25) return "18-24";
  if (age < 36) return "25-35";
  if (age < 51) return "36-50";
  if (age < 66) return "51-65";
  return "65+";
}

int faceres_demographics(model_runner *r, demographics_result *out, const vigil_image *frame, const face_box *face,
                         char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  const vrt_tensor *decl = vrt_model_input(r->m, 0);
  int size = decl && decl->ndim == 4 && decl->dims[1] > 0 ? (int)decl->dims[1] : 224;
  /* RGB 0..255 on the tight face box: measured on the sample portraits, 0..1
   * or -1..1 input leaves the final features all zero (docs/models.md). */
  square sq;
  vrt_tensor *o;
  int no;
  int rc = run_square(r, &sq, frame, face->x1, face->y1, face->x2, face->y2, 0.0f, size, VRT_F32, NULL, NULL,
                      "face box is empty", &o, &no, err, errlen);
  if (rc) return rc;
  const float *gender = NULL, *age = NULL;
  for (int i = 0; i < no; i++) {
    int64_t ne = vrt_tensor_numel(&o[i]);
    if (o[i].dtype != VRT_F32) continue;
    if (ne == 1) gender = o[i].data;
    if (ne == 100) age = o[i].data;
  }
  if (!gender || !age) {
    runner_outputs_free(o, no);
    return vigil_err(err, errlen, -1, "faceres: unexpected outputs");
  }
  float sum = 0, expect = 0;
  for (int i = 0; i < 100; i++) sum += age[i], expect += age[i] * (float)i;
  out->age = sum > 0 ? expect / sum : 0;
  out->age_range = age_bracket(out->age);
  float lo = 0, hi = 100;
  static const float edges[] = {0, 13, 18, 25, 36, 51, 66, 100};
  for (int b = 0; b < 7; b++)
    if (out->age >= edges[b] && out->age < edges[b + 1]) lo = edges[b], hi = edges[b + 1];
  float mass = 0;
  for (int i = (int)lo; i < (int)hi && i < 100; i++) mass += age[i];
  out->age_confidence = sum > 0 ? mass / sum : 0;
  float g = gender[0];
  out->gender_confidence = fabsf(g - 0.5f) * 2;
  out->gender = out->gender_confidence < 0.5f ? "unknown" : g > 0.5f ? "male" : "female";
  out->model = "faceres";
  runner_outputs_free(o, no);
  return 0;
}
