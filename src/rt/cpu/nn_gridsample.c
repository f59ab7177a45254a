/* GridSample (opset 16, 4-D): samples X [N,C,H,W] at the normalised (x, y)
 * positions of grid [N,Ho,Wo,2] with bilinear, nearest or bicubic
 * interpolation and zeros, border or reflection padding, following the
 * PyTorch grid_sample semantics the ONNX operator was specified from. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "shape_util.h"

enum { GS_BILINEAR, GS_NEAREST, GS_BICUBIC };
enum { GS_ZEROS, GS_BORDER, GS_REFLECTION };

typedef struct gs_params {
  int mode, pad, align;
} gs_params;

static int gs_prepare(vrt_node *n) {
  const char *m = vrt_attr_string(n, "mode", "bilinear"), *p = vrt_attr_string(n, "padding_mode", "zeros");
  gs_params *g = calloc(1, sizeof *g);
  if (!g) return NN_ERR(n, VRT_ENOMEM, "out of memory");
  g->align = vrt_attr_int(n, "align_corners", 0) != 0;
  int rc = 0;
  if (!strcmp(m, "bilinear") || !strcmp(m, "linear")) g->mode = GS_BILINEAR;
  else if (!strcmp(m, "nearest")) g->mode = GS_NEAREST;
  else if (!strcmp(m, "bicubic") || !strcmp(m, "cubic")) g->mode = GS_BICUBIC;
  else rc = NN_ERR(n, VRT_EUNSUPPORTED, "mode '%s' is not supported", m);
  if (!rc && !strcmp(p, "zeros")) g->pad = GS_ZEROS;
  else if (!rc && !strcmp(p, "border")) g->pad = GS_BORDER;
  else if (!rc && !strcmp(p, "reflection")) g->pad = GS_REFLECTION;
  else if (!rc) rc = NN_ERR(n, VRT_EUNSUPPORTED, "padding_mode '%s' is not supported", p);
  return nn_params_keep(n, g, rc);
}

static int gs_check(const vrt_node *n, const vrt_tensor *const *in) {
  const vrt_tensor *x = in[0], *g = in[1];
  if (x->dtype != VRT_F32 || g->dtype != VRT_F32) return NN_ERR(n, VRT_ETYPE, "only float32 is supported");
  if (x->ndim != 4 || g->ndim != 4 || g->dims[0] != x->dims[0] || g->dims[3] != 2)
    return NN_ERR(n, VRT_ESHAPE, "X must be [N,C,H,W] and grid [N,Ho,Wo,2]");
  return 0;
}

static int gs_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  int rc = gs_check(n, in);
  if (rc) return rc;
  int64_t d[4] = {in[0]->dims[0], in[0]->dims[1], in[1]->dims[1], in[1]->dims[2]}; /* [N, C, Ho, Wo] */
  kern_set_shape(&out[0], VRT_F32, 4, d);
  return 0;
}

static double unnormalize(double c, int64_t size, int align) {
  return align ? (c + 1) / 2 * (double)(size - 1) : ((c + 1) * (double)size - 1) / 2;
}

/* Reflect c into [lo2/2, hi2/2] (bounds given doubled). */
static double reflect(double c, double lo2, double hi2) {
  if (lo2 == hi2) return 0;
  double mn = lo2 / 2, span = (hi2 - lo2) / 2;
  c = fabs(c - mn);
  double extra = fmod(c, span);
  int64_t flips = (int64_t)floor(c / span);
  return flips % 2 == 0 ? extra + mn : span - extra + mn;
}

static double clip(double c, int64_t size) { return c < 0 ? 0 : (c > (double)(size - 1) ? (double)(size - 1) : c); }

/* The padding mode applied to a coordinate (border: clamp; reflection:
 * reflect, then clamp). */
static double pad_coord(const gs_params *p, double c, int64_t size) {
  if (!isfinite(c)) return -1;
  if (p->pad == GS_BORDER) return clip(c, size);
  if (p->pad == GS_REFLECTION) {
    c = p->align ? reflect(c, 0, 2.0 * (double)(size - 1)) : reflect(c, -1, 2.0 * (double)size - 1);
    return clip(c, size);
  }
  return c;
}

static float at(const float *plane, int64_t H, int64_t W, int64_t y, int64_t x) {
  return y >= 0 && y < H && x >= 0 && x < W ? plane[y * W + x] : 0.0f;
}

static void cubic_coeffs(double t, double c[4]) {
  const double A = -0.75;
  double t1 = t + 1, t2 = 1 - t, t3 = 2 - t;
  c[0] = ((A * t1 - 5 * A) * t1 + 8 * A) * t1 - 4 * A;
  c[1] = ((A + 2) * t - (A + 3)) * t * t + 1;
  c[2] = ((A + 2) * t2 - (A + 3)) * t2 * t2 + 1;
  c[3] = ((A * t3 - 5 * A) * t3 + 8 * A) * t3 - 4 * A;
}

static int gs_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                   vrt_exec_ctx *ctx) {
  int rc = gs_check(n, in);
  if (rc) return rc;
  const gs_params *p = n->params;
  int64_t N = in[0]->dims[0], C = in[0]->dims[1], H = in[0]->dims[2], W = in[0]->dims[3];
  int64_t Ho = in[1]->dims[1], Wo = in[1]->dims[2];
  const float *X = in[0]->data, *G = in[1]->data;
  float *Y = out[0].data;
  for (int64_t b = 0; b < N; b++)
    for (int64_t oy = 0; oy < Ho; oy++)
      for (int64_t ox = 0; ox < Wo; ox++) {
        const float *gp = G + ((b * Ho + oy) * Wo + ox) * 2;
        double fx = unnormalize(gp[0], W, p->align), fy = unnormalize(gp[1], H, p->align);
        for (int64_t c = 0; c < C; c++) {
          const float *plane = X + (b * C + c) * H * W;
          double v = 0;
          if (p->mode == GS_BICUBIC) {
            /* taps padded one by one, on the unpadded coordinate */
            double x0 = floor(fx), y0 = floor(fy), cx[4], cy[4];
            cubic_coeffs(fx - x0, cx);
            cubic_coeffs(fy - y0, cy);
            for (int j = 0; j < 4; j++)
              for (int i = 0; i < 4; i++) {
                double tx = pad_coord(p, x0 - 1 + i, W), ty = pad_coord(p, y0 - 1 + j, H);
                if (!isfinite(tx) || !isfinite(ty) || fabs(tx) > 1e15 || fabs(ty) > 1e15) continue;
                v += cx[i] * cy[j] * at(plane, H, W, (int64_t)ty, (int64_t)tx);
              }
          } else {
            double ix = pad_coord(p, fx, W), iy = pad_coord(p, fy, H);
            if (!isfinite(ix) || !isfinite(iy) || fabs(ix) > 1e15 || fabs(iy) > 1e15) {
              v = 0;
            } else if (p->mode == GS_NEAREST) {
              v = at(plane, H, W, (int64_t)nearbyint(iy), (int64_t)nearbyint(ix));
            } else {
              double x0 = floor(ix), y0 = floor(iy), tx = ix - x0, ty = iy - y0;
              int64_t xi = (int64_t)x0, yi = (int64_t)y0;
              v = (1 - ty) * ((1 - tx) * at(plane, H, W, yi, xi) + tx * at(plane, H, W, yi, xi + 1)) +
                  ty * ((1 - tx) * at(plane, H, W, yi + 1, xi) + tx * at(plane, H, W, yi + 1, xi + 1));
            }
          }
          Y[((b * C + c) * Ho + oy) * Wo + ox] = (float)v;
        }
      }
  return 0;
}

const vrt_opdef vrt__op_GridSample = {
    .op = VRT_OP_GridSample, .prepare = gs_prepare, .infer = gs_infer, .exec = gs_exec,
    .min_inputs = 2, .max_inputs = 2,
};
