/* BRISQUE features: MSCN coefficients at two scales and the (asymmetric)
 * generalised Gaussian fits of them and of their four neighbour products.
 *
 * The algorithm is the paper's. The arithmetic is that of the reference vigil
 * is checked against (OpenCV 4.6's quality module, Debian python3-opencv), down
 * to the rounding, because the LIVE-trained SVR is sensitive to it: in the flat
 * areas of a darkened or heavily compressed photo the local variance
 * blur(I^2) - blur(I)^2 is a rounding residual whose *sign* decides whether a
 * pixel counts at all (a negative one has no square root: the reference gets a
 * NaN there, and NaNs count as neither positive nor negative in the fits). A
 * double-precision BRISQUE that clamps the variance is off by up to 20% on such
 * images; this one matches the reference's features to float precision.
 * So, all in float32, as the reference computes:
 *   - grey from 8-bit RGB with 15-bit fixed-point BT.601 weights (9798, 19235,
 *     3735), rounded, then times (float)(1/255);
 *   - the half scale: a bicubic (a = -0.75) resize to floor(w/2) x floor(h/2),
 *     half-pixel centres, taps clamped to the image; the horizontal pass sums
 *     its four taps left to right, the vertical pass right to left (last tap
 *     first) except on the last w % 4 columns (the reference's 4-lane SIMD loop
 *     and its scalar tail);
 *   - local mean and variance from a separable 7x7 Gaussian, sigma 7/6, border
 *     replicated: a row pass of fused multiply-adds, tap by tap left to right,
 *     then a symmetric column pass (centre, then the sums of the pairs at
 *     distance 1, 2, 3, each a fused multiply-add);
 *   - MSCN = (I - mu) / (sqrt(var) + 1/255), NaN where var < 0;
 *   - sums of squares (squared in float) accumulated in double;
 *   - the shape parameter: the reference's scan of g = 0.2, 0.201, ... (the step
 *     accumulated in double) for the g whose ratio Gamma(2/g)^2 / (Gamma(1/g)
 *     Gamma(3/g)) comes closest to the normalised sample ratio;
 *   - each feature rounded to float.
 * The fused multiply-adds are fmaf(), exact on every machine, so the features do
 * not depend on the CPU (the reference's do: it uses FMA where AVX2 is present,
 * as on the machines vigil is tested on). The golden test holds the score within
 * 1e-3 (relative) of the reference on real, blurred, noisy, JPEG-8 and darkened
 * photos. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/quality.h"
#include "vigil/status.h"

#define GRID_MAX 9900

static double grid_gam[GRID_MAX], grid_ratio[GRID_MAX];
static int grid_n;
static pthread_once_t grid_once = PTHREAD_ONCE_INIT;

/* The grid exactly as the reference walks it: gam += 0.001 from 0.2 while < 10. */
static void grid_init(void) {
  int n = 0;
  for (double gam = 0.2; gam < 10 && n < GRID_MAX; gam += 0.001, n++) {
    double a = tgamma(2 / gam);
    grid_gam[n] = gam;
    grid_ratio[n] = a * a / (tgamma(1 / gam) * tgamma(3 / gam));
  }
  grid_n = n;
}

/* A w x h plane of floats. */
typedef struct {
  int w, h;
  float *p;
} plane;

static int plane_init(plane *pl, int w, int h) {
  pl->w = w;
  pl->h = h;
  pl->p = malloc((size_t)w * h * sizeof *pl->p);
  return pl->p ? 0 : -1;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* 15-bit fixed point BT.601 (0.299, 0.587, 0.114, summing to 1 << 15), rounded,
 * as OpenCV 4's 8-bit converter does (its older 14-bit weights differ by one
 * level on ~0.1% of pixels); then scaled by the float nearest 1/255. */
static int grey_plane(plane *out, const vigil_image *im) {
  if (plane_init(out, im->w, im->h)) return -1;
  const float scale = (float)(1.0 / 255.0);
  for (int y = 0; y < im->h; y++) {
    const uint8_t *row = im->data + (size_t)y * im->stride;
    float *o = out->p + (size_t)y * im->w;
    for (int x = 0; x < im->w; x++) {
      int v;
      if (im->c == 1) v = row[x];
      else {
        const uint8_t *px = row + (size_t)x * im->c;
        v = (px[0] * 9798 + px[1] * 19235 + px[2] * 3735 + (1 << 14)) >> 15;
      }
      o[x] = (float)v * scale;
    }
  }
  return 0;
}

/* Keys' cubic convolution weights, a = -0.75, for a sample at fraction t past
 * the second of four taps; in float, as the reference computes them. */
static void cubic_weights(float t, float w[4]) {
  const float a = -0.75f;
  float u = t + 1, v = 1 - t;
  w[0] = ((a * u - 5 * a) * u + 8 * a) * u - 4 * a;
  w[1] = ((a + 2) * t - (a + 3)) * t * t + 1;
  w[2] = ((a + 2) * v - (a + 3)) * v * v + 1;
  w[3] = 1.f - w[0] - w[1] - w[2];
}

/* Tap indices (clamped) and weights of an n-sample axis resized to m samples. */
static void cubic_taps(int *idx, float *wt, int n, int m) {
  double scale = 1.0 / ((double)m / n);
  for (int d = 0; d < m; d++) {
    float f = (float)((d + 0.5) * scale - 0.5);
    int i0 = (int)floorf(f);
    cubic_weights(f - (float)i0, wt + 4 * d);
    for (int k = 0; k < 4; k++) idx[4 * d + k] = clampi(i0 - 1 + k, 0, n - 1);
  }
}

/* Bicubic resize (see the top of the file for the summation orders). */
static int resize_cubic(plane *out, const plane *in, int w, int h) {
  if (plane_init(out, w, h)) return -1;
  float *tmp = malloc((size_t)w * in->h * sizeof *tmp);
  int *xi = malloc((size_t)w * 4 * sizeof *xi), *yi = malloc((size_t)h * 4 * sizeof *yi);
  float *xw = malloc((size_t)w * 4 * sizeof *xw), *yw = malloc((size_t)h * 4 * sizeof *yw);
  if (!tmp || !xi || !yi || !xw || !yw) {
    free(tmp), free(xi), free(yi), free(xw), free(yw), free(out->p);
    out->p = NULL;
    return -1;
  }
  cubic_taps(xi, xw, in->w, w);
  cubic_taps(yi, yw, in->h, h);
  for (int y = 0; y < in->h; y++) {
    const float *r = in->p + (size_t)y * in->w;
    float *t = tmp + (size_t)y * w;
    for (int x = 0; x < w; x++) {
      const int *i = xi + 4 * x;
      const float *c = xw + 4 * x;
      t[x] = r[i[0]] * c[0] + r[i[1]] * c[1] + r[i[2]] * c[2] + r[i[3]] * c[3];
    }
  }
  int w4 = w & ~3;
  for (int y = 0; y < h; y++) {
    const int *r = yi + 4 * y;
    const float *b = yw + 4 * y;
    const float *t0 = tmp + (size_t)r[0] * w, *t1 = tmp + (size_t)r[1] * w, *t2 = tmp + (size_t)r[2] * w,
                *t3 = tmp + (size_t)r[3] * w;
    float *o = out->p + (size_t)y * w;
    for (int x = 0; x < w4; x++) o[x] = t3[x] * b[3] + t2[x] * b[2] + t1[x] * b[1] + t0[x] * b[0];
    for (int x = w4; x < w; x++) o[x] = t0[x] * b[0] + t1[x] * b[1] + t2[x] * b[2] + t3[x] * b[3];
  }
  free(tmp), free(xi), free(yi), free(xw), free(yw);
  return 0;
}

/* The 7-tap Gaussian, sigma 7/6: weights in double, normalised, then float. */
static void gauss_kernel(float k[7]) {
  double s = 7.0 / 6.0, sc = -0.5 / (s * s), cf[7], sum = 0;
  for (int i = 0; i < 7; i++) sum += cf[i] = exp(sc * (i - 3) * (i - 3));
  sum = 1.0 / sum;
  for (int i = 0; i < 7; i++) k[i] = (float)(cf[i] * sum);
}

/* Separable 7x7 Gaussian, border replicated; out may not alias in. tmp holds
 * w*h floats, pad w+6. Inlined into a plain and an FMA-targeted copy: fmaf is
 * exact either way; the FMA one is an instruction instead of a libm call. */
static inline __attribute__((always_inline)) void blur7_body(float *out, const float *in, float *tmp, float *pad,
                                                             int w, int h) {
  float k[7];
  gauss_kernel(k);
  for (int y = 0; y < h; y++) {
    const float *r = in + (size_t)y * w;
    for (int i = 0; i < 3; i++) pad[i] = r[0], pad[w + 3 + i] = r[w - 1];
    memcpy(pad + 3, r, (size_t)w * sizeof *pad);
    float *t = tmp + (size_t)y * w;
    for (int x = 0; x < w; x++) {
      float a = pad[x] * k[0];
      for (int i = 1; i < 7; i++) a = fmaf(pad[x + i], k[i], a);
      t[x] = a;
    }
  }
  for (int y = 0; y < h; y++) {
    const float *c = tmp + (size_t)y * w, *p[4], *m[4];
    for (int i = 1; i <= 3; i++) {
      p[i] = tmp + (size_t)clampi(y + i, 0, h - 1) * w;
      m[i] = tmp + (size_t)clampi(y - i, 0, h - 1) * w;
    }
    float *o = out + (size_t)y * w;
    for (int x = 0; x < w; x++) {
      float a = c[x] * k[3];
      a = fmaf(p[1][x] + m[1][x], k[4], a);
      a = fmaf(p[2][x] + m[2][x], k[5], a);
      a = fmaf(p[3][x] + m[3][x], k[6], a);
      o[x] = a;
    }
  }
}

static void blur7_plain(float *out, const float *in, float *tmp, float *pad, int w, int h) {
  blur7_body(out, in, tmp, pad, w, h);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("fma"))) static void blur7_fma(float *out, const float *in, float *tmp, float *pad, int w,
                                                    int h) {
  blur7_body(out, in, tmp, pad, w, h);
}
static void blur7(float *out, const float *in, float *tmp, float *pad, int w, int h) {
  if (__builtin_cpu_supports("fma")) blur7_fma(out, in, tmp, pad, w, h);
  else blur7_plain(out, in, tmp, pad, w, h);
}
#else
#define blur7 blur7_plain
#endif

/* Asymmetric generalised Gaussian fit by moment matching. Returns -1 when one
 * side is empty (no texture). */
typedef struct {
  double shape, lsigma, rsigma;
} aggd_fit;

typedef struct {
  double possq, negsq, abssum;
  size_t pos, neg, n;
} aggd_acc;

/* NaN (from a negative variance) counts in n only, like a zero. */
static void aggd_add(aggd_acc *a, float v) {
  a->n++;
  if (v > 0) a->pos++, a->possq += v * v, a->abssum += v;
  else if (v < 0) a->neg++, a->negsq += v * v, a->abssum += -v;
}

static int aggd_solve(aggd_fit *f, const aggd_acc *a) {
  if (!a->pos || !a->neg) return -1;
  f->lsigma = pow(a->negsq / (double)a->neg, 0.5);
  f->rsigma = pow(a->possq / (double)a->pos, 0.5);
  double gh = f->lsigma / f->rsigma, n = (double)a->n;
  double rhat = pow(a->abssum / n, 2.0) / ((a->negsq + a->possq) / n);
  double rnorm = rhat * (pow(gh, 3) + 1) * (gh + 1) / pow(pow(gh, 2) + 1, 2);
  /* the first g after which the distance grows (the ratio rises with g) */
  double best = 0, prev = 1e10;
  for (int i = 0; i < grid_n; i++) {
    double d = fabs(grid_ratio[i] - rnorm);
    if (d > prev) break;
    prev = d;
    best = grid_gam[i];
  }
  f->shape = best;
  return 0;
}

/* The 18 features of one scale; returns -1 for a textureless plane. */
static int scale_features(double *feat, const plane *x) {
  int w = x->w, h = x->h;
  size_t n = (size_t)w * h;
  float *buf = malloc((4 * n + (size_t)w + 6) * sizeof *buf);
  if (!buf) return -2;
  float *mu = buf, *sq = buf + n, *tmp = buf + 2 * n, *ms = buf + 3 * n, *pad = buf + 4 * n;
  blur7(mu, x->p, tmp, pad, w, h);
  for (size_t i = 0; i < n; i++) ms[i] = x->p[i] * x->p[i];
  blur7(sq, ms, tmp, pad, w, h);
  const float eps = (float)(1.0 / 255.0);
  aggd_acc acc = {0};
  for (size_t i = 0; i < n; i++) {
    float m2 = mu[i] * mu[i];
    float var = sq[i] - m2;
    float sd = sqrtf(var) + eps; /* NaN where var < 0, deliberately (see the top) */
    float d = x->p[i] - mu[i];
    ms[i] = d / sd;
    aggd_add(&acc, ms[i]);
  }
  aggd_fit f;
  int rc = aggd_solve(&f, &acc);
  if (!rc) {
    feat[0] = (float)f.shape;
    feat[1] = (float)((f.lsigma * f.lsigma + f.rsigma * f.rsigma) / 2);
  }
  /* neighbour products: right, below, below-right, above-right; a neighbour
   * outside the image counts as 0 (the product is 0, counted in n). */
  static const int shifts[4][2] = {{0, 1}, {1, 0}, {1, 1}, {-1, 1}};
  for (int s = 0; s < 4 && !rc; s++) {
    int dy = shifts[s][0], dx = shifts[s][1];
    aggd_acc pa = {0};
    for (int yy = 0; yy < h; yy++)
      for (int xx = 0; xx < w; xx++) {
        int ny = yy + dy, nx = xx + dx;
        float nb = ny >= 0 && ny < h && nx < w ? ms[(size_t)ny * w + nx] : 0.f;
        aggd_add(&pa, ms[(size_t)yy * w + xx] * nb);
      }
    rc = aggd_solve(&f, &pa);
    if (rc) break;
    double g = f.shape;
    double c = sqrt(tgamma(1 / g)) / sqrt(tgamma(3 / g));
    double *o = feat + 2 + 4 * s;
    o[0] = (float)g;
    o[1] = (float)((f.rsigma - f.lsigma) * (tgamma(2 / g) / tgamma(1 / g)) * c);
    o[2] = (float)pow(f.lsigma, 2);
    o[3] = (float)pow(f.rsigma, 2);
  }
  free(buf);
  return rc;
}

int vigil_brisque_features(double feat[VIGIL_BRISQUE_NFEAT], const vigil_image *im, char *err, size_t errlen) {
  if (!im || !im->data || (im->c != 1 && im->c != 3)) {
    vigil_err(err, errlen, -1, "brisque: expected an RGB or grey image");
    return VIGIL_IMG_EINVAL;
  }
  if (im->w < VIGIL_BRISQUE_MIN_SIDE || im->h < VIGIL_BRISQUE_MIN_SIDE) {
    if (err)
      vigil_err(err, errlen, -1, "brisque: image is %dx%d, smaller than %d px on a side", im->w, im->h,
               VIGIL_BRISQUE_MIN_SIDE);
    return VIGIL_IMG_EINVAL;
  }
  pthread_once(&grid_once, grid_init);
  plane full = {0}, half = {0};
  int rc = grey_plane(&full, im) ? VIGIL_IMG_ENOMEM : 0;
  if (!rc) {
    int r = scale_features(feat, &full);
    rc = r == -2 ? VIGIL_IMG_ENOMEM : r ? VIGIL_IMG_EINVAL : 0;
  }
  if (!rc && resize_cubic(&half, &full, im->w / 2, im->h / 2)) rc = VIGIL_IMG_ENOMEM;
  if (!rc) {
    int r = scale_features(feat + 18, &half);
    rc = r == -2 ? VIGIL_IMG_ENOMEM : r ? VIGIL_IMG_EINVAL : 0;
  }
  if (rc == VIGIL_IMG_EINVAL && err)
    vigil_err(err, errlen, -1, "brisque: the image has no texture (uniform or nearly so): quality is undefined");
  else if (rc == VIGIL_IMG_ENOMEM && err)
    vigil_err(err, errlen, -1, "brisque: out of memory");
  free(full.p);
  free(half.p);
  return rc;
}

const char *vigil_brisque_label(double score) { return score < 35 ? "good" : score < 55 ? "fair" : "poor"; }
