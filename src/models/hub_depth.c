/* Depth from the Depth-Anything-V2-Small export: the relative depth map of
 * the frame, the relative depth of a box, and a distance in metres from the
 * box height and the camera's calibration (depth_px_per_m). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/hub_common.h"
#include "models/runner.h"
#include "vigil/hub.h"
#include "vigil/status.h"

/* The export's fixed input: 518 x 518 (the processor's lower bound, a
 * multiple of the 14 px patch). The frame is stretched to it, ImageNet
 * mean/std (preprocessor_config.json of depth-anything/Depth-Anything-V2-
 * Small-hf; the export fixes the size, so the aspect is not kept). */
#define DEPTH_SIZE 518

static void dims_str(char *dst, size_t cap, const vrt_tensor *t) {
  size_t o = (size_t)snprintf(dst, cap, "[");
  for (int k = 0; t && k < t->ndim && o < cap; k++)
    o += (size_t)snprintf(dst + o, cap - o, "%s%lld", k ? "," : "", (long long)t->dims[k]);
  if (o < cap) snprintf(dst + o, cap - o, "]");
}

/* Output [B,H,W] or [B,1,H,W]; H and W the input's (or dynamic). */
static bool out_shape_ok(const vrt_tensor *o, int64_t ih, int64_t iw) {
  if (!o || (o->ndim != 3 && o->ndim != 4)) return false;
  if (o->ndim == 4 && o->dims[1] != 1 && o->dims[1] >= 0) return false;
  int64_t h = o->dims[o->ndim - 2], w = o->dims[o->ndim - 1];
  return (h < 0 || h == ih) && (w < 0 || w == iw);
}

int depth_check(model_runner *r, char *err, size_t errlen) {
  const vrt_tensor *in = vrt_model_input(r->m, 0), *out = vrt_model_output(r->m, 0);
  char s[96];
  if (!in || in->ndim != 4 || in->dtype != VRT_F32 || (in->dims[1] >= 0 && in->dims[1] != 3)) {
    dims_str(s, sizeof s, in);
    return vigil_err(err, errlen, -1, "depth-anything: input has shape %s; expected pixel_values [B,3,%d,%d] float32", s,
                    DEPTH_SIZE, DEPTH_SIZE);
  }
  int64_t ih = in->dims[2] > 0 ? in->dims[2] : DEPTH_SIZE, iw = in->dims[3] > 0 ? in->dims[3] : DEPTH_SIZE;
  if (ih % 14 || iw % 14 || ih > 2048 || iw > 2048)
    return vigil_err(err, errlen, -1, "depth-anything: input %lldx%lld is not a multiple of the 14 px patch (or too large)",
                    (long long)ih, (long long)iw);
  if (out && out->ndim >= 0 && !out_shape_ok(out, ih, iw)) {
    dims_str(s, sizeof s, out);
    return vigil_err(err, errlen, -1, "depth-anything: unexpected output shape %s; expected predicted_depth [B,%lld,%lld]",
                    s, (long long)ih, (long long)iw);
  }
  return 0;
}

const char *depth_proximity(float d) {
  return d < 2 ? "very_close" : d < 5 ? "close" : d < 10 ? "medium" : "far";
}

/* Nominal heights (m) of what a box of each kind holds. */
static float kind_height(const char *kind) {
  if (kind && !strcmp(kind, "person")) return 1.7f;
  if (kind && !strcmp(kind, "vehicle")) return 1.5f;
  if (kind && !strcmp(kind, "animal")) return 0.5f;
  return 1.0f;
}

void depth_distance(depth_result *out, const char *kind, float box_h, float px_per_m, int frame_w) {
  out->default_calibration = !(px_per_m > 0);
  /* default: a 90 degree horizontal field of view, focal = w / 2, and a
   * 1.7 m person at 1 m is 1.7 * focal px tall */
  out->px_per_m = px_per_m > 0 ? px_per_m : 0.85f * (float)frame_w;
  float focal = out->px_per_m / 1.7f;
  float d = box_h >= 1 ? focal * kind_height(kind) / box_h : 1000;
  out->distance_m = fminf(d, 1000);
  snprintf(out->proximity, sizeof out->proximity, "%s", depth_proximity(out->distance_m));
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

int depth_estimate(model_runner *r, depth_result *out, const vigil_image *frame, float x1, float y1, float x2,
                   float y2, char *err, size_t errlen) {
  if (depth_check(r, err, errlen)) return -1;
  const vrt_tensor *decl = vrt_model_input(r->m, 0);
  int ih = decl->dims[2] > 0 ? (int)decl->dims[2] : DEPTH_SIZE, iw = decl->dims[3] > 0 ? (int)decl->dims[3] : DEPTH_SIZE;
  if (hub_clip_box(&x1, &y1, &x2, &y2, frame)) return vigil_err(err, errlen, -1, "box is empty or outside the image");
  vrt_tensor *o;
  int n;
  int rc = hub_run_box(r, "depth-anything", frame, 0, 0, (float)frame->w, (float)frame->h, iw, ih, hub_imagenet_mean,
                       hub_imagenet_std, "cannot resize the frame", &o, &n, err, errlen);
  if (rc) return rc;
  if (n < 1 || o[0].dtype != VRT_F32 || !out_shape_ok(&o[0], ih, iw) || o[0].dims[0] != 1) {
    char s[96];
    dims_str(s, sizeof s, n ? &o[0] : NULL);
    runner_outputs_free(o, n);
    return vigil_err(err, errlen, -1, "depth-anything: unexpected output shape %s; expected predicted_depth [1,%d,%d]", s,
                    ih, iw);
  }
  const float *d = o[0].data;
  int oh = (int)o[0].dims[o[0].ndim - 2], ow = (int)o[0].dims[o[0].ndim - 1];
  size_t np = (size_t)oh * (size_t)ow;
  float lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < np; i++)
    if (isfinite(d[i])) lo = fminf(lo, d[i]), hi = fmaxf(hi, d[i]);
  float span = hi > lo ? hi - lo : 1;
  if (!(hi >= lo)) lo = 0; /* all non-finite */
  /* the depth map: normalised disparity, 255 = nearest, area-resized to fit DEPTH_MAP_MAX */
  vigil_image g = {0}, small = {0};
  if (vigil_image_init(&g, ow, oh, 1)) {
    runner_outputs_free(o, n);
    return vigil_err(err, errlen, -1, "out of memory");
  }
  for (int y = 0; y < oh; y++)
    for (int x = 0; x < ow; x++) {
      float v = d[(size_t)y * ow + x];
      v = isfinite(v) ? (v - lo) / span : 0;
      g.data[(size_t)y * g.stride + x] = (uint8_t)lrintf(fminf(fmaxf(v, 0), 1) * 255);
    }
  /* relative depth of the box: median normalised disparity inside it */
  int bx1 = (int)floorf(x1 / frame->w * ow), bx2 = (int)ceilf(x2 / frame->w * ow);
  int by1 = (int)floorf(y1 / frame->h * oh), by2 = (int)ceilf(y2 / frame->h * oh);
  bx1 = bx1 < 0 ? 0 : bx1, by1 = by1 < 0 ? 0 : by1;
  bx2 = bx2 > ow ? ow : bx2 <= bx1 ? bx1 + 1 : bx2, by2 = by2 > oh ? oh : by2 <= by1 ? by1 + 1 : by2;
  size_t cnt = (size_t)(bx2 - bx1) * (size_t)(by2 - by1), k = 0;
  float *vals = malloc(sizeof(float) * cnt);
  if (!vals) {
    runner_outputs_free(o, n);
    vigil_image_free(&g);
    return vigil_err(err, errlen, -1, "out of memory");
  }
  for (int y = by1; y < by2; y++)
    for (int x = bx1; x < bx2; x++) {
      float v = d[(size_t)y * ow + x];
      vals[k++] = isfinite(v) ? (v - lo) / span : 0;
    }
  qsort(vals, k, sizeof *vals, cmp_float);
  out->relative_depth = fminf(fmaxf(1 - vals[k / 2], 0), 1);
  free(vals);
  runner_outputs_free(o, n);
  int mw = ow, mh = oh;
  if (mw > DEPTH_MAP_MAX || mh > DEPTH_MAP_MAX) {
    float s = (float)DEPTH_MAP_MAX / (float)(mw > mh ? mw : mh);
    mw = (int)fmaxf(1, floorf((float)mw * s)), mh = (int)fmaxf(1, floorf((float)mh * s));
  }
  rc = vigil_img_resize(&small, &g, mw, mh, VIGIL_RESIZE_AREA);
  vigil_image_free(&g);
  if (rc) return vigil_err(err, errlen, -1, "cannot resize the depth map");
  out->map_w = mw, out->map_h = mh;
  for (int y = 0; y < mh; y++) memcpy(out->map + (size_t)y * mw, small.data + (size_t)y * small.stride, (size_t)mw);
  vigil_image_free(&small);
  out->has_map = true;
  return 0;
}
