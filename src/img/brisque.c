/* BRISQUE features: MSCN coefficients at two scales and the (asymmetric)
 * generalised Gaussian fits of them and of their four neighbour products.
 *
 * The algorithm is the paper's; the numerical choices are those of the
 * reference implementation vigil is checked against (OpenCV's quality module,
 * Debian python3-opencv), so that the LIVE-trained model gives the same score:
 *   - grey from 8-bit RGB with the 14-bit fixed-point BT.601 weights, rounded,
 *     then scaled to [0, 1];
 *   - the half scale is a bicubic (a = -0.75) resize to floor(w/2) x floor(h/2)
 *     with half-pixel centres and clamped borders;
 *   - local mean and deviation from a 7x7 Gaussian window, sigma 7/6, with the
 *     border replicated; MSCN = (I - mu) / (sigma + 1/255);
 *   - the shape parameter is searched on the grid 0.2, 0.201, ... 9.999 for the
 *     value whose moment ratio Gamma(2/g)^2 / (Gamma(1/g) Gamma(3/g)) is closest to
 *     the normalised sample ratio.
 * Everything is computed in double; the golden test holds the score within 1e-3
 * (relative) of the reference on real and degraded photos. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/quality.h"
#include "vigil/status.h"

#define GRID_N 9800 /* g = 0.2 + i / 1000, i < GRID_N */

static double grid_ratio[GRID_N];
static pthread_once_t grid_once = PTHREAD_ONCE_INIT;

static double grid_g(int i) { return 0.2 + i * 0.001; }

static void grid_init(void) {
  for (int i = 0; i < GRID_N; i++) {
    double g = grid_g(i), a = tgamma(2.0 / g);
    grid_ratio[i] = a * a / (tgamma(1.0 / g) * tgamma(3.0 / g));
  }
}

/* A w x h plane of doubles. */
typedef struct {
  int w, h;
  double *p;
} plane;

static int plane_init(plane *pl, int w, int h) {
  pl->w = w;
  pl->h = h;
  pl->p = malloc((size_t)w * h * sizeof *pl->p);
  return pl->p ? 0 : -1;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* 14-bit fixed point BT.601 (0.299, 0.587, 0.114), rounded, as 8-bit decoders'
 * colour converters do; then / 255. */
static int grey_plane(plane *out, const vigil_image *im) {
  if (plane_init(out, im->w, im->h)) return -1;
  for (int y = 0; y < im->h; y++) {
    const uint8_t *row = im->data + (size_t)y * im->stride;
    double *o = out->p + (size_t)y * im->w;
    for (int x = 0; x < im->w; x++) {
      int v;
      if (im->c == 1) v = row[x];
      else {
        const uint8_t *px = row + (size_t)x * im->c;
        v = (px[0] * 4899 + px[1] * 9617 + px[2] * 1868 + (1 << 13)) >> 14;
      }
      o[x] = v / 255.0;
    }
  }
  return 0;
}

/* Keys' cubic convolution weights for the four taps around a sample at
 * fraction t past the second tap, a = -0.75. */
static void cubic_weights(double t, double w[4]) {
  const double a = -0.75;
  double u = t + 1, v = 1 - t;
  w[0] = ((a * u - 5 * a) * u + 8 * a) * u - 4 * a;
  w[1] = ((a + 2) * t - (a + 3)) * t * t + 1;
  w[2] = ((a + 2) * v - (a + 3)) * v * v + 1;
  w[3] = 1 - w[0] - w[1] - w[2];
}

/* Bicubic resize with half-pixel centres, taps clamped to the image. */
static int resize_cubic(plane *out, const plane *in, int w, int h) {
  if (plane_init(out, w, h)) return -1;
  double *tmp = malloc((size_t)w * in->h * sizeof *tmp);
  int *xi = malloc((size_t)w * 4 * sizeof *xi);
  double *xw = malloc((size_t)w * 4 * sizeof *xw);
  if (!tmp || !xi || !xw) {
    free(tmp), free(xi), free(xw), free(out->p);
    out->p = NULL;
    return -1;
  }
  double sx = (double)in->w / w, sy = (double)in->h / h;
  for (int x = 0; x < w; x++) {
    double f = (x + 0.5) * sx - 0.5;
    int i0 = (int)floor(f);
    cubic_weights(f - i0, xw + 4 * x);
    for (int k = 0; k < 4; k++) xi[4 * x + k] = clampi(i0 - 1 + k, 0, in->w - 1);
  }
  for (int y = 0; y < in->h; y++) {
    const double *r = in->p + (size_t)y * in->w;
    for (int x = 0; x < w; x++) {
      const int *i = xi + 4 * x;
      const double *c = xw + 4 * x;
      tmp[(size_t)y * w + x] = c[0] * r[i[0]] + c[1] * r[i[1]] + c[2] * r[i[2]] + c[3] * r[i[3]];
    }
  }
  for (int y = 0; y < h; y++) {
    double f = (y + 0.5) * sy - 0.5, c[4];
    int i0 = (int)floor(f), r[4];
    cubic_weights(f - i0, c);
    for (int k = 0; k < 4; k++) r[k] = clampi(i0 - 1 + k, 0, in->h - 1);
    double *o = out->p + (size_t)y * w;
    for (int x = 0; x < w; x++)
      o[x] = c[0] * tmp[(size_t)r[0] * w + x] + c[1] * tmp[(size_t)r[1] * w + x] +
             c[2] * tmp[(size_t)r[2] * w + x] + c[3] * tmp[(size_t)r[3] * w + x];
  }
  free(tmp), free(xi), free(xw);
  return 0;
}

/* Separable 7x7 Gaussian, sigma 7/6, border replicated; out may not alias in.
 * tmp holds w*h doubles. */
static void blur7(double *out, const double *in, double *tmp, int w, int h) {
  double k[7], sum = 0, s = 7.0 / 6.0;
  for (int i = 0; i < 7; i++) sum += k[i] = exp(-(i - 3) * (i - 3) / (2 * s * s));
  for (int i = 0; i < 7; i++) k[i] /= sum;
  for (int y = 0; y < h; y++) {
    const double *r = in + (size_t)y * w;
    double *t = tmp + (size_t)y * w;
    for (int x = 0; x < w; x++) {
      double a = 0;
      if (x >= 3 && x + 3 < w)
        for (int i = 0; i < 7; i++) a += k[i] * r[x - 3 + i];
      else
        for (int i = 0; i < 7; i++) a += k[i] * r[clampi(x - 3 + i, 0, w - 1)];
      t[x] = a;
    }
  }
  for (int y = 0; y < h; y++) {
    double *o = out + (size_t)y * w;
    int rows[7];
    for (int i = 0; i < 7; i++) rows[i] = clampi(y - 3 + i, 0, h - 1);
    for (int x = 0; x < w; x++) {
      double a = 0;
      for (int i = 0; i < 7; i++) a += k[i] * tmp[(size_t)rows[i] * w + x];
      o[x] = a;
    }
  }
}

/* Asymmetric generalised Gaussian fit by moment matching. Returns -1 when one
 * side is empty (no texture). */
typedef struct {
  double shape, lsigma, rsigma;
} aggd_fit;

typedef struct {
  double possq, negsq, abssum;
  size_t pos, neg, n;
} aggd_acc;

static void aggd_add(aggd_acc *a, double v) {
  a->n++;
  if (v > 0) a->pos++, a->possq += v * v, a->abssum += v;
  else if (v < 0) a->neg++, a->negsq += v * v, a->abssum -= v;
}

static int aggd_solve(aggd_fit *f, const aggd_acc *a) {
  if (!a->pos || !a->neg) return -1;
  f->lsigma = sqrt(a->negsq / (double)a->neg);
  f->rsigma = sqrt(a->possq / (double)a->pos);
  double gh = f->lsigma / f->rsigma, n = (double)a->n;
  double m1 = a->abssum / n, m2 = (a->negsq + a->possq) / n;
  double rhat = m1 * m1 / m2;
  double rnorm = rhat * (gh * gh * gh + 1) * (gh + 1) / ((gh * gh + 1) * (gh * gh + 1));
  int best = 0;
  double bd = INFINITY;
  for (int i = 0; i < GRID_N; i++) {
    double d = fabs(grid_ratio[i] - rnorm);
    if (d < bd) bd = d, best = i;
  }
  f->shape = grid_g(best);
  return 0;
}

/* The 18 features of one scale; returns -1 for a textureless plane. */
static int scale_features(double *feat, const plane *x) {
  int w = x->w, h = x->h;
  size_t n = (size_t)w * h;
  double *buf = malloc(4 * n * sizeof *buf);
  if (!buf) return -2;
  double *mu = buf, *sq = buf + n, *tmp = buf + 2 * n, *ms = buf + 3 * n;
  blur7(mu, x->p, tmp, w, h);
  for (size_t i = 0; i < n; i++) ms[i] = x->p[i] * x->p[i];
  blur7(sq, ms, tmp, w, h);
  aggd_acc acc = {0};
  for (size_t i = 0; i < n; i++) {
    double var = fabs(sq[i] - mu[i] * mu[i]);
    ms[i] = (x->p[i] - mu[i]) / (sqrt(var) + 1.0 / 255.0);
    aggd_add(&acc, ms[i]);
  }
  aggd_fit f;
  int rc = aggd_solve(&f, &acc);
  if (!rc) {
    feat[0] = f.shape;
    feat[1] = (f.lsigma * f.lsigma + f.rsigma * f.rsigma) / 2;
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
        double nb = ny >= 0 && ny < h && nx < w ? ms[(size_t)ny * w + nx] : 0;
        aggd_add(&pa, ms[(size_t)yy * w + xx] * nb);
      }
    rc = aggd_solve(&f, &pa);
    if (rc) break;
    double g = f.shape;
    double c = sqrt(tgamma(1 / g)) / sqrt(tgamma(3 / g));
    double *o = feat + 2 + 4 * s;
    o[0] = g;
    o[1] = (f.rsigma - f.lsigma) * (tgamma(2 / g) / tgamma(1 / g)) * c;
    o[2] = f.lsigma * f.lsigma;
    o[3] = f.rsigma * f.rsigma;
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
