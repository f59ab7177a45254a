/* Pose from the hub models: ViTPose+ small (top-down heatmaps) and YOLOv8n-pose
 * (one-stage, letterboxed), both to the 17 COCO keypoints in frame pixels. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/hub_common.h"
#include "models/runner.h"
#include "vigil/hub.h"
#include "vigil/status.h"

/* The pose model's input [B,3,H,W] float32 (def_h x def_w where the export
 * left it dynamic, at most max a side) into *ih, *iw; -1 with err otherwise. */
static int pose_input(const model_runner *r, const char *adapter, const char *want, int def_h, int def_w, int max,
                      int *ih, int *iw, char *err, size_t errlen) {
  if (!hub_rgb_input(r->m, def_h, def_w, ih, iw))
    return vigil_err(err, errlen, -1, "%s: expected %s float32", adapter, want);
  if (*ih > max || *iw > max) return vigil_err(err, errlen, -1, "%s: input %dx%d is too large", adapter, *iw, *ih);
  return 0;
}

/* ViTPose (usyd-community/vitpose-plus-small, VitPoseImageProcessor config):
 * input 256 high x 192 wide; the box is grown to the input's aspect ratio and
 * padded by 1.25 (box_to_center_and_scale, padding_factor 1.25), affine-warped
 * without rotation (black border), rescaled 1/255 and normalised with the
 * ImageNet mean/std. Heatmaps are a quarter of the input (64 x 48). */
#define VITPOSE_W 192
#define VITPOSE_H 256
#define VITPOSE_PADDING 1.25f

int vitpose_pose(model_runner *r, pose_result *out, const vigil_image *frame, float x1, float y1, float x2,
                 float y2, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  int ih, iw;
  if (pose_input(r, "vitpose", "pixel_values [B,3,256,192]", VITPOSE_H, VITPOSE_W, 2048, &ih, &iw, err, errlen))
    return -1;
  float bx1 = x1, by1 = y1, bx2 = x2, by2 = y2;
  if (frame->c != 3 || hub_clip_box(&bx1, &by1, &bx2, &by2, frame))
    return vigil_err(err, errlen, -1, "person box is empty or outside the image");
  float cx = (bx1 + bx2) / 2, cy = (by1 + by2) / 2, w = bx2 - bx1, h = by2 - by1, aspect = (float)iw / (float)ih;
  if (w > aspect * h) h = w / aspect;
  else w = h * aspect;
  w *= VITPOSE_PADDING, h *= VITPOSE_PADDING;
  float ox = cx - w / 2, oy = cy - h / 2;
  float *buf = malloc(sizeof(float) * 3 * (size_t)iw * (size_t)ih);
  if (!buf) return vigil_err(err, errlen, -1, "out of memory");
  hub_affine_to_nchw(buf, frame, ox, oy, w / (float)iw, h / (float)ih, iw, ih, hub_imagenet_mean, hub_imagenet_std);
  vrt_tensor *o;
  int n;
  int rc = hub_run_nchw(r, "vitpose", buf, iw, ih, &o, &n, err, errlen);
  if (rc) return rc;
  if (n < 1 || o[0].dtype != VRT_F32 || o[0].ndim != 4 || o[0].dims[0] != 1 || o[0].dims[1] != POSE_NKP ||
      o[0].dims[2] < 2 || o[0].dims[3] < 2) {
    runner_outputs_free(o, n);
    return vigil_err(err, errlen, -1, "vitpose: expected heatmaps [1,17,H,W]");
  }
  int H = (int)o[0].dims[2], W = (int)o[0].dims[3];
  for (int k = 0; k < POSE_NKP; k++) {
    const float *hm = (const float *)o[0].data + (size_t)k * (size_t)H * (size_t)W;
    int best = 0;
    for (int i = 1; i < H * W; i++)
      if (hm[i] > hm[best]) best = i;
    int px = best % W, py = best / W;
    float fx = (float)px, fy = (float)py;
    /* quarter-offset refinement towards the higher neighbour (MMPose's
     * classic decoder) */
    if (px > 0 && px < W - 1) {
      float d = hm[best + 1] - hm[best - 1];
      fx += d > 0 ? 0.25f : d < 0 ? -0.25f : 0;
    }
    if (py > 0 && py < H - 1) {
      float d = hm[best + W] - hm[best - W];
      fy += d > 0 ? 0.25f : d < 0 ? -0.25f : 0;
    }
    out->kp[k].x = ox + (fx + 0.5f) * w / (float)W;
    out->kp[k].y = oy + (fy + 0.5f) * h / (float)H;
    float s = hm[best];
    out->kp[k].score = isfinite(s) ? fminf(fmaxf(s, 0), 1) : 0;
  }
  runner_outputs_free(o, n);
  pose_classify(out, x1, y1, x2, y2);
  return 0;
}

/* YOLOv8n-pose (Ultralytics export): the region letterboxed to 640 with grey
 * 114, RGB, x/255, NCHW. output0 [1,56,N]: cx,cy,w,h, person score, then 17 x
 * (x, y, visibility) in input pixels, scores already sigmoid. */
#define YOLOPOSE_SIZE 640
#define YOLOPOSE_CONF 0.25f

int yolopose_pose(model_runner *r, pose_result *out, const vigil_image *frame, float x1, float y1, float x2,
                  float y2, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  int ih, iw;
  if (pose_input(r, "yolov8n-pose", "images [1,3,640,640]", YOLOPOSE_SIZE, YOLOPOSE_SIZE, 4096, &ih, &iw, err, errlen))
    return -1;
  hub_boxed at;
  vrt_tensor *o;
  int n;
  int rc = hub_run_letterboxed(r, "yolov8n-pose", frame, x1, y1, x2, y2, iw, ih,
                               "person box is empty or outside the image", &at, &o, &n, err, errlen);
  if (rc) return rc;
  const int rows = 5 + 3 * POSE_NKP;
  /* [1,56,N] as exported; [1,N,56] accepted too */
  bool chfirst = n >= 1 && o[0].ndim == 3 && o[0].dims[1] == rows;
  bool chlast = n >= 1 && o[0].ndim == 3 && o[0].dims[2] == rows;
  if (n < 1 || o[0].dtype != VRT_F32 || o[0].dims[0] != 1 || (!chfirst && !chlast)) {
    runner_outputs_free(o, n);
    return vigil_err(err, errlen, -1, "yolov8n-pose: expected output0 [1,56,N]");
  }
  const float *d = o[0].data;
  int64_t N = chfirst ? o[0].dims[2] : o[0].dims[1];
#define AT(row, a) (chfirst ? d[(int64_t)(row) * N + (a)] : d[(int64_t)(a) * rows + (row)])
  int64_t best = -1;
  float bs = YOLOPOSE_CONF;
  for (int64_t a = 0; a < N; a++)
    if (AT(4, a) >= bs) bs = AT(4, a), best = a;
  if (best >= 0) {
    for (int k = 0; k < POSE_NKP; k++) {
      float kx = AT(5 + 3 * k, best), ky = AT(6 + 3 * k, best), ks = AT(7 + 3 * k, best);
      vigil_letterbox_to_original(&at.lb, &kx, &ky);
      out->kp[k].x = (float)at.x0 + kx;
      out->kp[k].y = (float)at.y0 + ky;
      out->kp[k].score = isfinite(ks) ? fminf(fmaxf(ks, 0), 1) : 0;
    }
  }
#undef AT
  runner_outputs_free(o, n);
  pose_classify(out, x1, y1, x2, y2);
  return 0;
}
