/* CPU reference kernels for the signal ops DFT and STFT (opset 17): direct
 * O(n^2) transforms in double with a precomputed twiddle table, complex
 * values as a trailing dim of 2. */
#include <math.h>
#include <stdlib.h>

#include "shape_util.h"

/* cos/sin of 2*pi*m/L for m < L */
static int twiddles(const vrt_node *n, vrt_exec_ctx *x, int64_t L, double **c, double **s) {
  *c = x->scratch(x, sizeof(double) * (size_t)(L ? L : 1));
  *s = x->scratch(x, sizeof(double) * (size_t)(L ? L : 1));
  if (!*c || !*s) return KERN_ERR(n, VRT_ENOMEM, "out of memory");
  for (int64_t m = 0; m < L; m++) {
    double a = 2.0 * M_PI * (double)m / (double)L;
    (*c)[m] = cos(a), (*s)[m] = sin(a);
  }
  return 0;
}

/* the input as double, converted once */
static const double *as_f64(const vrt_node *n, const vrt_tensor *t, vrt_exec_ctx *x) {
  int64_t cnt = vrt_tensor_numel(t);
  double *d = x->scratch(x, sizeof(double) * (size_t)(cnt ? cnt : 1));
  if (!d || vrt__kern_cast(d, VRT_F64, t->data, t->dtype, cnt) < 0) {
    KERN_ERR(n, VRT_ENOMEM, "out of memory");
    return NULL;
  }
  return d;
}

/* ---- DFT(input, dft_length?), axis, inverse, onesided ---- */

typedef struct {
  int axis;
  int64_t outer, N, inner, C, L, bins;
} dft_geom;

static int dft_geometry(const vrt_node *n, const vrt_tensor *const *in, int nin, dft_geom *g) {
  const vrt_tensor *t = in[0];
  if (!kern_is_float(t->dtype)) return KERN_ERR(n, VRT_ETYPE, "dtype %s not supported", vrt_dtype_name(t->dtype));
  if (t->ndim < 2) return KERN_ERR(n, VRT_ESHAPE, "input must have rank >= 2");
  g->C = t->dims[t->ndim - 1];
  if (g->C != 1 && g->C != 2) return KERN_ERR(n, VRT_ESHAPE, "last dim must be 1 (real) or 2 (complex)");
  int rc = vrt__kern_axis(n, vrt_attr_int(n, "axis", 1), t->ndim, &g->axis);
  if (rc < 0) return rc;
  if (g->axis == t->ndim - 1) return KERN_ERR(n, VRT_EINVAL, "axis must not be the complex dim");
  g->outer = vrt__numel(t->dims, g->axis);
  g->N = t->dims[g->axis];
  g->inner = vrt__numel(t->dims + g->axis + 1, t->ndim - g->axis - 2);
  g->L = g->N;
  if (nin > 1 && in[1]) {
    int64_t v;
    if ((rc = vrt__kern_read_ints(n, in[1], "dft_length", &v, 1)) < 0) return rc;
    if (v < 1 || v > (INT64_C(1) << 24)) return KERN_ERR(n, VRT_EINVAL, "bad dft_length %lld", (long long)v);
    g->L = v;
  }
  g->bins = vrt_attr_int(n, "onesided", 0) ? g->L / 2 + 1 : g->L;
  return 0;
}

static int dft_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(1);
  dft_geom g;
  int rc = dft_geometry(n, in, nin, &g);
  if (rc < 0) return rc;
  kern_set_shape(out, in[0]->dtype, in[0]->ndim, in[0]->dims);
  out->dims[g.axis] = g.bins;
  out->dims[out->ndim - 1] = 2;
  return 0;
}

static int dft_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                    vrt_exec_ctx *x) {
  dft_geom g;
  int rc = dft_geometry(n, in, nin, &g);
  if (rc < 0) return rc;
  double *cs, *sn;
  if ((rc = twiddles(n, x, g.L, &cs, &sn)) < 0) return rc;
  const double *xd = as_f64(n, in[0], x);
  int64_t ocnt = vrt_tensor_numel(out);
  double *yd = x->scratch(x, sizeof(double) * (size_t)(ocnt ? ocnt : 1));
  if (!xd || !yd) return KERN_ERR(n, VRT_ENOMEM, "out of memory");
  int inverse = (int)vrt_attr_int(n, "inverse", 0);
  double sign = inverse ? 1.0 : -1.0, scale = inverse ? 1.0 / (double)g.L : 1.0;
  int64_t used = g.N < g.L ? g.N : g.L; /* shorter inputs are zero-padded, longer truncated */
  for (int64_t o = 0; o < g.outer; o++)
    for (int64_t i = 0; i < g.inner; i++)
      for (int64_t k = 0; k < g.bins; k++) {
        double re = 0, im = 0;
        for (int64_t m = 0; m < used; m++) {
          const double *v = xd + ((o * g.N + m) * g.inner + i) * g.C;
          double xr = v[0], xi = g.C == 2 ? v[1] : 0;
          int64_t t = (k * m) % g.L;
          double c = cs[t], s = sign * sn[t];
          re += xr * c - xi * s;
          im += xr * s + xi * c;
        }
        double *y = yd + ((o * g.bins + k) * g.inner + i) * 2;
        y[0] = re * scale, y[1] = im * scale;
      }
  return vrt__kern_cast(out->data, out->dtype, yd, VRT_F64, ocnt) < 0 ? KERN_ERR(n, VRT_ETYPE, "cast failed") : 0;
}

const vrt_opdef vrt__op_DFT = {VRT_OP_DFT, NULL, dft_infer, dft_exec, 0, 1, 2};

/* ---- STFT(signal, frame_step, window?, frame_length?), onesided ---- */

typedef struct {
  int64_t B, S, C, step, FL, frames, bins;
} stft_geom;

static int stft_geometry(const vrt_node *n, const vrt_tensor *const *in, int nin, stft_geom *g) {
  const vrt_tensor *t = in[0];
  if (!kern_is_float(t->dtype)) return KERN_ERR(n, VRT_ETYPE, "dtype %s not supported", vrt_dtype_name(t->dtype));
  if (t->ndim != 3 || (t->dims[2] != 1 && t->dims[2] != 2))
    return KERN_ERR(n, VRT_ESHAPE, "signal must be [batch, length, 1 or 2]");
  g->B = t->dims[0], g->S = t->dims[1], g->C = t->dims[2];
  int rc;
  if ((rc = vrt__kern_read_ints(n, in[1], "frame_step", &g->step, 1)) < 0) return rc;
  if (rc != 1 || g->step < 1) return KERN_ERR(n, VRT_EINVAL, "frame_step must be a positive scalar");
  const vrt_tensor *win = nin > 2 ? in[2] : NULL;
  g->FL = -1;
  if (nin > 3 && in[3]) {
    if ((rc = vrt__kern_read_ints(n, in[3], "frame_length", &g->FL, 1)) < 0) return rc;
  }
  if (win) {
    if (win->ndim != 1 || !kern_is_float(win->dtype)) return KERN_ERR(n, VRT_ESHAPE, "window must be a 1-D float tensor");
    if (g->FL >= 0 && g->FL != win->dims[0]) return KERN_ERR(n, VRT_ESHAPE, "window length differs from frame_length");
    g->FL = win->dims[0];
  }
  if (g->FL < 1 || g->FL > g->S || g->FL > (INT64_C(1) << 24))
    return KERN_ERR(n, VRT_EINVAL, "frame length %lld does not fit the signal", (long long)g->FL);
  g->frames = (g->S - g->FL) / g->step + 1;
  g->bins = vrt_attr_int(n, "onesided", 1) ? g->FL / 2 + 1 : g->FL;
  return 0;
}

static int stft_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(2);
  stft_geom g;
  int rc = stft_geometry(n, in, nin, &g);
  if (rc < 0) return rc;
  int64_t d[4] = {g.B, g.frames, g.bins, 2};
  kern_set_shape(out, in[0]->dtype, 4, d);
  return 0;
}

static int stft_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                     vrt_exec_ctx *x) {
  stft_geom g;
  int rc = stft_geometry(n, in, nin, &g);
  if (rc < 0) return rc;
  double *cs, *sn;
  if ((rc = twiddles(n, x, g.FL, &cs, &sn)) < 0) return rc;
  const double *xd = as_f64(n, in[0], x);
  const double *w = nin > 2 && in[2] ? as_f64(n, in[2], x) : NULL;
  int64_t ocnt = vrt_tensor_numel(out);
  double *yd = x->scratch(x, sizeof(double) * (size_t)(ocnt ? ocnt : 1));
  if (!xd || !yd || (nin > 2 && in[2] && !w)) return KERN_ERR(n, VRT_ENOMEM, "out of memory");
  for (int64_t b = 0; b < g.B; b++)
    for (int64_t f = 0; f < g.frames; f++)
      for (int64_t k = 0; k < g.bins; k++) {
        double re = 0, im = 0;
        for (int64_t m = 0; m < g.FL; m++) {
          const double *v = xd + (b * g.S + f * g.step + m) * g.C;
          double wm = w ? w[m] : 1.0;
          double xr = v[0] * wm, xi = g.C == 2 ? v[1] * wm : 0;
          int64_t t = (k * m) % g.FL;
          double c = cs[t], s = -sn[t];
          re += xr * c - xi * s;
          im += xr * s + xi * c;
        }
        double *y = yd + ((b * g.frames + f) * g.bins + k) * 2;
        y[0] = re, y[1] = im;
      }
  return vrt__kern_cast(out->data, out->dtype, yd, VRT_F64, ocnt) < 0 ? KERN_ERR(n, VRT_ETYPE, "cast failed") : 0;
}

const vrt_opdef vrt__op_STFT = {VRT_OP_STFT, NULL, stft_infer, stft_exec, 0, 2, 4};
