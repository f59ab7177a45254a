/* The image toolkit: crop, bilinear and area resize, letterbox, pad to square,
 * colour conversion and normalisation into model input tensors.
 *
 * Inner loops are plain C over contiguous rows so the compiler can vectorise
 * them at the baseline ISA (no -march=native). Resizing is separable: each
 * source row is first interpolated horizontally into a float row, then rows
 * are blended vertically, which is the part that vectorises well. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/img.h"

/* Rounds to nearest and saturates; branch-free so row loops vectorise. */
static inline uint8_t clamp_u8(float v) {
  v = v < 0.f ? 0.f : v;
  v = v > 255.f ? 255.f : v;
  return (uint8_t)(int)(v + 0.5f);
}

int vigil_img_crop(vigil_image *out, const vigil_image *in, int x, int y, int w, int h) {
  memset(out, 0, sizeof *out);
  if (!in || !in->data || w <= 0 || h <= 0) return VIGIL_IMG_EINVAL;
  long x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
  long x1 = (long)x + w, y1 = (long)y + h;
  if (x1 > in->w) x1 = in->w;
  if (y1 > in->h) y1 = in->h;
  if (x1 <= x0 || y1 <= y0) return VIGIL_IMG_EINVAL;
  int rc = vigil_image_init(out, (int)(x1 - x0), (int)(y1 - y0), in->c);
  if (rc) return rc;
  for (int r = 0; r < out->h; r++)
    memcpy(out->data + (size_t)r * out->stride, in->data + (size_t)(y0 + r) * in->stride + (size_t)x0 * in->c,
           out->stride);
  return 0;
}

/* ---- bilinear ------------------------------------------------------------------ */

/* Half-pixel source coordinate of output i, as OpenCV INTER_LINEAR: clamped
 * to the first/last pixel at the borders. */
static void linear_tab(int out_n, int in_n, int *i0, float *f) {
  double scale = (double)in_n / out_n;
  for (int i = 0; i < out_n; i++) {
    double s = (i + 0.5) * scale - 0.5;
    int k = (int)floor(s);
    double fr = s - k;
    if (k < 0) {
      k = 0;
      fr = 0;
    }
    if (k >= in_n - 1) {
      k = in_n - 1;
      fr = 0;
    }
    i0[i] = k;
    f[i] = (float)fr;
  }
}

/* One source row interpolated horizontally: ofs0/ofs1 are the byte offsets
 * of the left and right neighbours (equal at the right edge). */
static void hline_linear(float *restrict dst, const uint8_t *restrict src, int out_w, int c, const int *ofs0,
                         const int *ofs1, const float *fx) {
  if (c == 3) {
    for (int x = 0; x < out_w; x++) {
      const uint8_t *p = src + ofs0[x], *q = src + ofs1[x];
      const float f = fx[x];
      dst[3 * x + 0] = p[0] + (q[0] - p[0]) * f;
      dst[3 * x + 1] = p[1] + (q[1] - p[1]) * f;
      dst[3 * x + 2] = p[2] + (q[2] - p[2]) * f;
    }
  } else {
    for (int x = 0; x < out_w; x++) dst[x] = src[ofs0[x]] + (src[ofs1[x]] - src[ofs0[x]]) * fx[x];
  }
}

static int resize_linear_into(uint8_t *dst, size_t dst_stride, int W, int H, const vigil_image *in) {
  const int c = in->c;
  const size_t rowlen = (size_t)W * c;
  int *x0 = malloc(sizeof(int) * W * 3), *y0 = malloc(sizeof(int) * H);
  float *fx = malloc(sizeof(float) * W), *fy = malloc(sizeof(float) * H);
  float *rows = malloc(sizeof(float) * rowlen * 2);
  if (!x0 || !y0 || !fx || !fy || !rows) {
    free(x0), free(y0), free(fx), free(fy), free(rows);
    return VIGIL_IMG_ENOMEM;
  }
  linear_tab(W, in->w, x0, fx);
  linear_tab(H, in->h, y0, fy);
  int *ofs0 = x0 + W, *ofs1 = x0 + 2 * W;
  for (int x = 0; x < W; x++) {
    ofs0[x] = x0[x] * c;
    ofs1[x] = (x0[x] + 1 < in->w ? x0[x] + 1 : x0[x]) * c;
  }
  float *r0 = rows, *r1 = rows + rowlen;
  int have0 = -1, have1 = -1; /* source rows held in r0 and r1 */
  for (int y = 0; y < H; y++) {
    int a = y0[y], b = a + 1 < in->h ? a + 1 : a;
    if (have0 != a) {
      if (have1 == a) { /* slide down: the old lower row is the new upper row */
        float *t = r0;
        r0 = r1;
        r1 = t;
        have0 = a;
        have1 = -1;
      } else {
        hline_linear(r0, in->data + (size_t)a * in->stride, W, c, ofs0, ofs1, fx);
        have0 = a;
      }
    }
    if (have1 != b) {
      hline_linear(r1, in->data + (size_t)b * in->stride, W, c, ofs0, ofs1, fx);
      have1 = b;
    }
    const float f = fy[y];
    uint8_t *restrict d = dst + (size_t)y * dst_stride;
    const float *restrict u = r0, *restrict v = r1;
    for (size_t i = 0; i < rowlen; i++) d[i] = clamp_u8(u[i] + (v[i] - u[i]) * f);
  }
  free(x0), free(y0), free(fx), free(fy), free(rows);
  return 0;
}

/* ---- area ---------------------------------------------------------------------- */

/* Output i averages source interval [i*s, (i+1)*s), s = in/out >= 1: each
 * source pixel it overlaps is weighted by the overlap length / s. */
typedef struct {
  int *start, *count, *src;
  float *w;
} area_tab;

static void area_tab_free(area_tab *t) { free(t->start), free(t->count), free(t->src), free(t->w); }

static int area_tab_init(area_tab *t, int out_n, int in_n) {
  double s = (double)in_n / out_n;
  size_t cap = (size_t)out_n * ((size_t)ceil(s) + 2);
  t->start = malloc(sizeof(int) * out_n);
  t->count = malloc(sizeof(int) * out_n);
  t->src = malloc(sizeof(int) * cap);
  t->w = malloc(sizeof(float) * cap);
  if (!t->start || !t->count || !t->src || !t->w) {
    area_tab_free(t);
    return VIGIL_IMG_ENOMEM;
  }
  size_t k = 0;
  for (int i = 0; i < out_n; i++) {
    double a = i * s, b = (i + 1) * s;
    int j0 = (int)floor(a), j1 = (int)ceil(b);
    if (j1 > in_n) j1 = in_n;
    t->start[i] = (int)k;
    for (int j = j0; j < j1; j++) {
      double lo = a > j ? a : j, hi = b < j + 1 ? b : j + 1;
      double ov = hi - lo;
      if (ov <= 1e-9) continue;
      t->src[k] = j;
      t->w[k] = (float)(ov / s);
      k++;
    }
    t->count[i] = (int)k - t->start[i];
  }
  return 0;
}

/* Vertical pass first: the weighted sum of the source rows under an output
 * row is a contiguous multiply-add over in_w*c values (vectorises), leaving
 * only out_w*c short horizontal sums per output row. */
static int resize_area_into(uint8_t *dst, size_t dst_stride, int W, int H, const vigil_image *in) {
  const int c = in->c;
  const size_t inlen = (size_t)in->w * c;
  area_tab tx = {0}, ty = {0};
  float *vacc = malloc(sizeof(float) * inlen);
  if (!vacc || area_tab_init(&tx, W, in->w) || area_tab_init(&ty, H, in->h)) {
    free(vacc), area_tab_free(&tx), area_tab_free(&ty);
    return VIGIL_IMG_ENOMEM;
  }
  for (int i = 0; i < tx.start[W - 1] + tx.count[W - 1]; i++) tx.src[i] *= c; /* pixel -> value offset */
  for (int y = 0; y < H; y++) {
    float *restrict a = vacc;
    for (int m = ty.start[y], e = m + ty.count[y]; m < e; m++) {
      const uint8_t *restrict src = in->data + (size_t)ty.src[m] * in->stride;
      const float wy = ty.w[m];
      if (m == ty.start[y])
        for (size_t i = 0; i < inlen; i++) a[i] = src[i] * wy;
      else
        for (size_t i = 0; i < inlen; i++) a[i] += src[i] * wy;
    }
    uint8_t *restrict d = dst + (size_t)y * dst_stride;
    if (c == 3) {
      for (int x = 0; x < W; x++) {
        float s0 = 0, s1 = 0, s2 = 0;
        for (int n = tx.start[x], e = n + tx.count[x]; n < e; n++) {
          const float *p = a + tx.src[n], w = tx.w[n];
          s0 += p[0] * w, s1 += p[1] * w, s2 += p[2] * w;
        }
        d[3 * x] = clamp_u8(s0), d[3 * x + 1] = clamp_u8(s1), d[3 * x + 2] = clamp_u8(s2);
      }
    } else {
      for (int x = 0; x < W; x++) {
        float s0 = 0;
        for (int n = tx.start[x], e = n + tx.count[x]; n < e; n++) s0 += a[tx.src[n]] * tx.w[n];
        d[x] = clamp_u8(s0);
      }
    }
  }
  free(vacc), area_tab_free(&tx), area_tab_free(&ty);
  return 0;
}

static int resize_into(uint8_t *dst, size_t dst_stride, int W, int H, const vigil_image *in,
                       vigil_resize_mode mode) {
  if (W == in->w && H == in->h) {
    for (int y = 0; y < H; y++)
      memcpy(dst + (size_t)y * dst_stride, in->data + (size_t)y * in->stride, (size_t)W * in->c);
    return 0;
  }
  if (mode == VIGIL_RESIZE_AREA && W <= in->w && H <= in->h) return resize_area_into(dst, dst_stride, W, H, in);
  return resize_linear_into(dst, dst_stride, W, H, in);
}

static bool image_ok(const vigil_image *in) {
  return in && in->data && in->w > 0 && in->h > 0 && (in->c == 1 || in->c == 3) &&
         in->stride >= (size_t)in->w * in->c;
}

int vigil_img_resize(vigil_image *out, const vigil_image *in, int w, int h, vigil_resize_mode mode) {
  memset(out, 0, sizeof *out);
  if (!image_ok(in) || w <= 0 || h <= 0) return VIGIL_IMG_EINVAL;
  int rc = vigil_image_init(out, w, h, in->c);
  if (rc) return rc;
  if ((rc = resize_into(out->data, out->stride, w, h, in, mode))) vigil_image_free(out);
  return rc;
}

/* ---- letterbox, pad ---------------------------------------------------------------- */

int vigil_img_letterbox(vigil_image *out, vigil_letterbox *lb, const vigil_image *in, int w, int h,
                        uint8_t pad, vigil_resize_mode mode) {
  memset(out, 0, sizeof *out);
  memset(lb, 0, sizeof *lb);
  if (!image_ok(in) || w <= 0 || h <= 0) return VIGIL_IMG_EINVAL;
  double sx = (double)w / in->w, sy = (double)h / in->h, s = sx < sy ? sx : sy;
  int iw = (int)lround(in->w * s), ih = (int)lround(in->h * s);
  if (iw < 1) iw = 1;
  if (ih < 1) ih = 1;
  if (iw > w) iw = w;
  if (ih > h) ih = h;
  int rc = vigil_image_init(out, w, h, in->c);
  if (rc) return rc;
  memset(out->data, pad, (size_t)h * out->stride);
  lb->scale = (float)s;
  lb->pad_x = (w - iw) / 2;
  lb->pad_y = (h - ih) / 2;
  lb->inner_w = iw;
  lb->inner_h = ih;
  uint8_t *dst = out->data + (size_t)lb->pad_y * out->stride + (size_t)lb->pad_x * in->c;
  if ((rc = resize_into(dst, out->stride, iw, ih, in, mode))) vigil_image_free(out);
  return rc;
}

void vigil_letterbox_to_original(const vigil_letterbox *lb, float *x, float *y) {
  *x = (*x - lb->pad_x) / lb->scale;
  *y = (*y - lb->pad_y) / lb->scale;
}

int vigil_img_pad_square(vigil_image *out, int *off_x, int *off_y, const vigil_image *in, uint8_t pad) {
  memset(out, 0, sizeof *out);
  if (!image_ok(in)) return VIGIL_IMG_EINVAL;
  int n = in->w > in->h ? in->w : in->h;
  int rc = vigil_image_init(out, n, n, in->c);
  if (rc) return rc;
  memset(out->data, pad, (size_t)n * out->stride);
  int ox = (n - in->w) / 2, oy = (n - in->h) / 2;
  for (int y = 0; y < in->h; y++)
    memcpy(out->data + (size_t)(oy + y) * out->stride + (size_t)ox * in->c, in->data + (size_t)y * in->stride,
           (size_t)in->w * in->c);
  if (off_x) *off_x = ox;
  if (off_y) *off_y = oy;
  return 0;
}

/* ---- colour -------------------------------------------------------------------------- */

void vigil_img_swap_rb(vigil_image *im) {
  if (!im || !im->data || im->c != 3) return;
  for (int y = 0; y < im->h; y++) {
    uint8_t *p = im->data + (size_t)y * im->stride;
    for (int x = 0; x < im->w; x++) {
      uint8_t t = p[3 * x];
      p[3 * x] = p[3 * x + 2];
      p[3 * x + 2] = t;
    }
  }
}

int vigil_img_grey(vigil_image *out, const vigil_image *in) {
  memset(out, 0, sizeof *out);
  if (!image_ok(in) || in->c != 3) return VIGIL_IMG_EINVAL;
  int rc = vigil_image_init(out, in->w, in->h, 1);
  if (rc) return rc;
  for (int y = 0; y < in->h; y++) {
    const uint8_t *p = in->data + (size_t)y * in->stride;
    uint8_t *d = out->data + (size_t)y * out->stride;
    for (int x = 0; x < in->w; x++)
      d[x] = (uint8_t)((299u * p[3 * x] + 587u * p[3 * x + 1] + 114u * p[3 * x + 2] + 500u) / 1000u);
  }
  return 0;
}

/* ---- tensors --------------------------------------------------------------------------- */

void vigil_img_to_f32(float *out, const vigil_image *in, vigil_layout layout, const float *mean,
                      const float *std, bool swap_rb) {
  const int c = in->c, W = in->w, H = in->h;
  float sc[3], bi[3];
  int from[3] = {0, 1, 2}; /* output channel k reads input channel from[k] */
  if (swap_rb && c == 3) from[0] = 2, from[2] = 0;
  for (int k = 0; k < c; k++) {
    float s = std ? std[k] : 1.f, m = mean ? mean[k] : 0.f;
    sc[k] = 1.f / s;
    bi[k] = -m / s;
  }
  if (layout == VIGIL_LAYOUT_NHWC) {
    for (int y = 0; y < H; y++) {
      const uint8_t *p = in->data + (size_t)y * in->stride;
      float *d = out + (size_t)y * W * c;
      if (c == 1) {
        for (int x = 0; x < W; x++) d[x] = p[x] * sc[0] + bi[0];
      } else {
        for (int x = 0; x < W; x++) {
          d[3 * x + 0] = p[3 * x + from[0]] * sc[0] + bi[0];
          d[3 * x + 1] = p[3 * x + from[1]] * sc[1] + bi[1];
          d[3 * x + 2] = p[3 * x + from[2]] * sc[2] + bi[2];
        }
      }
    }
    return;
  }
  const size_t plane = (size_t)W * H;
  for (int k = 0; k < c; k++) {
    const int f = from[k];
    const float s = sc[k], b = bi[k];
    for (int y = 0; y < H; y++) {
      const uint8_t *p = in->data + (size_t)y * in->stride + f;
      float *d = out + k * plane + (size_t)y * W;
      for (int x = 0; x < W; x++) d[x] = p[(size_t)x * c] * s + b;
    }
  }
}

void vigil_img_to_u8(uint8_t *out, const vigil_image *in) {
  const size_t row = (size_t)in->w * in->c;
  for (int y = 0; y < in->h; y++) memcpy(out + (size_t)y * row, in->data + (size_t)y * in->stride, row);
}

void vigil_img_to_i32(int32_t *out, const vigil_image *in) {
  const size_t row = (size_t)in->w * in->c;
  for (int y = 0; y < in->h; y++) {
    const uint8_t *p = in->data + (size_t)y * in->stride;
    int32_t *d = out + (size_t)y * row;
    for (size_t i = 0; i < row; i++) d[i] = p[i];
  }
}
