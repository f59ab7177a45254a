/* RoiAlign (opset 16): average (or max) of bilinear samples on a regular
 * grid inside each bin of each region of interest, as in Detectron/ONNX
 * Runtime: samples outside [-1, size] count as zero, coordinates are
 * clamped at the border, and max mode takes the largest weighted corner. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "shape_util.h"

typedef struct roi_params {
  int max_mode, half_pixel;
  int64_t oh, ow, ratio;
  float scale;
} roi_params;

static int roi_prepare(vrt_node *n) {
  roi_params *p = calloc(1, sizeof *p);
  if (!p) return NN_ERR(n, VRT_ENOMEM, "out of memory");
  const char *m = vrt_attr_string(n, "mode", "avg"), *c = vrt_attr_string(n, "coordinate_transformation_mode", "half_pixel");
  int rc = 0;
  p->max_mode = !strcmp(m, "max");
  p->half_pixel = !strcmp(c, "half_pixel");
  p->oh = vrt_attr_int(n, "output_height", 1);
  p->ow = vrt_attr_int(n, "output_width", 1);
  p->ratio = vrt_attr_int(n, "sampling_ratio", 0);
  p->scale = vrt_attr_float(n, "spatial_scale", 1.0f);
  if (!p->max_mode && strcmp(m, "avg")) rc = NN_ERR(n, VRT_EINVAL, "bad mode '%s'", m);
  else if (!p->half_pixel && strcmp(c, "output_half_pixel")) rc = NN_ERR(n, VRT_EINVAL, "bad coordinate mode '%s'", c);
  else if (p->oh < 1 || p->ow < 1 || p->oh > 65536 || p->ow > 65536 || p->ratio < 0 || p->ratio > 1024)
    rc = NN_ERR(n, VRT_EINVAL, "bad output size or sampling_ratio");
  return nn_params_keep(n, p, rc);
}

static int roi_check(const vrt_node *n, const vrt_tensor *const *in) {
  const vrt_tensor *x = in[0], *r = in[1], *b = in[2];
  if (x->dtype != VRT_F32 || r->dtype != VRT_F32 || (b->dtype != VRT_I64 && b->dtype != VRT_I32))
    return NN_ERR(n, VRT_ETYPE, "X and rois must be float32, batch_indices integer");
  if (x->ndim != 4 || r->ndim != 2 || r->dims[1] != 4 || b->ndim != 1 || b->dims[0] != r->dims[0])
    return NN_ERR(n, VRT_ESHAPE, "X [N,C,H,W], rois [R,4] and batch_indices [R] expected");
  return 0;
}

static int roi_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  const roi_params *p = n->params;
  int rc = roi_check(n, in);
  if (rc) return rc;
  int64_t d[4] = {in[1]->dims[0], in[0]->dims[1], p->oh, p->ow}; /* [R, C, oh, ow] */
  kern_set_shape(&out[0], VRT_F32, 4, d);
  return 0;
}

/* One bilinear sample: the four corner weights and flat offsets; false when
 * the point is outside [-1, size] (it then contributes zero). */
static bool sample(double y, double x, int64_t H, int64_t W, double w[4], int64_t o[4]) {
  if (!(y >= -1.0 && y <= (double)H && x >= -1.0 && x <= (double)W)) return false;
  if (y < 0) y = 0;
  if (x < 0) x = 0;
  int64_t yl = (int64_t)y, xl = (int64_t)x, yh, xh;
  if (yl >= H - 1) yh = yl = H - 1, y = (double)yl;
  else yh = yl + 1;
  if (xl >= W - 1) xh = xl = W - 1, x = (double)xl;
  else xh = xl + 1;
  double ly = y - (double)yl, lx = x - (double)xl, hy = 1 - ly, hx = 1 - lx;
  w[0] = hy * hx, w[1] = hy * lx, w[2] = ly * hx, w[3] = ly * lx;
  o[0] = yl * W + xl, o[1] = yl * W + xh, o[2] = yh * W + xl, o[3] = yh * W + xh;
  return true;
}

static int roi_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                    vrt_exec_ctx *ctx) {
  const roi_params *p = n->params;
  int rc = roi_check(n, in);
  if (rc) return rc;
  int64_t N = in[0]->dims[0], C = in[0]->dims[1], H = in[0]->dims[2], W = in[0]->dims[3], R = in[1]->dims[0];
  const float *X = in[0]->data, *rois = in[1]->data;
  float *Y = out[0].data;
  double off = p->half_pixel ? 0.5 : 0.0;
  for (int64_t r = 0; r < R; r++) {
    int64_t b = vrt__get_i64(in[2], r);
    if (b < 0 || b >= N) return NN_ERR(n, VRT_EINVAL, "batch index %lld out of range", (long long)b);
    double x1 = rois[r * 4] * p->scale - off, y1 = rois[r * 4 + 1] * p->scale - off;
    double x2 = rois[r * 4 + 2] * p->scale - off, y2 = rois[r * 4 + 3] * p->scale - off;
    double rw = x2 - x1, rh = y2 - y1;
    if (!p->half_pixel) { /* legacy: force regions to be at least 1x1 */
      rw = fmax(rw, 1.0);
      rh = fmax(rh, 1.0);
    }
    double bh = rh / (double)p->oh, bw = rw / (double)p->ow;
    int64_t gh = p->ratio > 0 ? p->ratio : (int64_t)ceil(rh / (double)p->oh);
    int64_t gw = p->ratio > 0 ? p->ratio : (int64_t)ceil(rw / (double)p->ow);
    if (!(gh >= 0 && gh <= 4096 && gw >= 0 && gw <= 4096))
      return NN_ERR(n, VRT_EINVAL, "region %lld needs an unreasonable sampling grid", (long long)r);
    double cnt = (double)(gh * gw > 0 ? gh * gw : 1);
    for (int64_t c = 0; c < C; c++) {
      const float *plane = X + (b * C + c) * H * W;
      for (int64_t ph = 0; ph < p->oh; ph++)
        for (int64_t pw = 0; pw < p->ow; pw++) {
          double acc = 0;
          bool first = true;
          for (int64_t iy = 0; iy < gh; iy++) {
            double y = y1 + (double)ph * bh + ((double)iy + 0.5) * bh / (double)gh;
            for (int64_t ix = 0; ix < gw; ix++) {
              double x = x1 + (double)pw * bw + ((double)ix + 0.5) * bw / (double)gw, w[4];
              int64_t o[4];
              bool in_range = sample(y, x, H, W, w, o);
              if (!p->max_mode) {
                if (in_range)
                  acc += w[0] * plane[o[0]] + w[1] * plane[o[1]] + w[2] * plane[o[2]] + w[3] * plane[o[3]];
                continue;
              }
              double v = 0;
              if (in_range)
                v = fmax(fmax(w[0] * plane[o[0]], w[1] * plane[o[1]]), fmax(w[2] * plane[o[2]], w[3] * plane[o[3]]));
              acc = first ? v : fmax(acc, v);
              first = false;
            }
          }
          Y[((r * C + c) * p->oh + ph) * p->ow + pw] = (float)(p->max_mode ? acc : acc / cnt);
        }
    }
  }
  return 0;
}

const vrt_opdef vrt__op_RoiAlign = {
    .op = VRT_OP_RoiAlign, .prepare = roi_prepare, .infer = roi_infer, .exec = roi_exec,
    .min_inputs = 3, .max_inputs = 3,
};
