/* CPU reference kernels for the signal ops DFT and STFT (opset 17): direct
 * O(n^2) transforms in double with a precomputed twiddle table, complex
 * values as a trailing dim of 2. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* Both ops as one transform: for every signal (a, b) of an na x nb grid,
 * bins outputs X[k] = scale * sum over m < len of x[m] * w[m] *
 * exp(sign * 2*pi*i * k*m / L), complex values as (re, im) pairs. The
 * strides place signal (a, b), sample m and bin k in the input (in units of
 * elements, C per sample) and the output (in complex values). odims is the
 * output's shape. */
typedef struct {
  int64_t na, nb, C, L, len, bins;
  int64_t in_a, in_b, in_m, out_a, out_b, out_k;
  double sign, scale;
  int ondim;
  int64_t odims[VRT_MAX_DIMS];
} sig_geom;

/* ---- DFT(input, dft_length?), axis, inverse, onesided ---- */

static int dft_geometry(const vrt_node *n, const vrt_tensor *const *in, int nin, sig_geom *g) {
  const vrt_tensor *t = in[0];
  if (!kern_is_float(t->dtype)) return KERN_ERR(n, VRT_ETYPE, "dtype %s not supported", vrt_dtype_name(t->dtype));
  if (t->ndim < 2) return KERN_ERR(n, VRT_ESHAPE, "input must have rank >= 2");
  g->C = t->dims[t->ndim - 1];
  if (g->C != 1 && g->C != 2) return KERN_ERR(n, VRT_ESHAPE, "last dim must be 1 (real) or 2 (complex)");
  int axis;
  int rc = vrt__kern_axis(n, vrt_attr_int(n, "axis", 1), t->ndim, &axis);
  if (rc < 0) return rc;
  if (axis == t->ndim - 1) return KERN_ERR(n, VRT_EINVAL, "axis must not be the complex dim");
  int64_t N = t->dims[axis], inner = vrt__numel(t->dims + axis + 1, t->ndim - axis - 2);
  g->L = N;
  if (nin > 1 && in[1]) {
    int64_t v;
    if ((rc = vrt__kern_read_ints(n, in[1], "dft_length", &v, 1)) < 0) return rc;
    if (v < 1 || v > (INT64_C(1) << 24)) return KERN_ERR(n, VRT_EINVAL, "bad dft_length %lld", (long long)v);
    g->L = v;
  }
  g->bins = vrt_attr_int(n, "onesided", 0) ? g->L / 2 + 1 : g->L;
  g->na = vrt__numel(t->dims, axis), g->nb = inner;
  g->len = N < g->L ? N : g->L; /* shorter inputs are zero-padded, longer truncated */
  g->in_a = N * inner * g->C, g->in_b = g->C, g->in_m = inner * g->C;
  g->out_a = g->bins * inner, g->out_b = 1, g->out_k = inner;
  bool inverse = vrt_attr_int(n, "inverse", 0) != 0;
  g->sign = inverse ? 1.0 : -1.0, g->scale = inverse ? 1.0 / (double)g->L : 1.0;
  g->ondim = t->ndim;
  memcpy(g->odims, t->dims, sizeof(int64_t) * (size_t)t->ndim);
  g->odims[axis] = g->bins, g->odims[t->ndim - 1] = 2;
  return 0;
}

/* ---- STFT(signal, frame_step, window?, frame_length?), onesided ---- */

static int stft_geometry(const vrt_node *n, const vrt_tensor *const *in, int nin, sig_geom *g) {
  const vrt_tensor *t = in[0];
  if (!kern_is_float(t->dtype)) return KERN_ERR(n, VRT_ETYPE, "dtype %s not supported", vrt_dtype_name(t->dtype));
  if (t->ndim != 3 || (t->dims[2] != 1 && t->dims[2] != 2))
    return KERN_ERR(n, VRT_ESHAPE, "signal must be [batch, length, 1 or 2]");
  int64_t S = t->dims[1], step, FL = -1;
  g->na = t->dims[0], g->C = t->dims[2];
  int rc;
  if ((rc = vrt__kern_read_ints(n, in[1], "frame_step", &step, 1)) < 0) return rc;
  if (rc != 1 || step < 1) return KERN_ERR(n, VRT_EINVAL, "frame_step must be a positive scalar");
  const vrt_tensor *win = nin > 2 ? in[2] : NULL;
  if (nin > 3 && in[3]) {
    if ((rc = vrt__kern_read_ints(n, in[3], "frame_length", &FL, 1)) < 0) return rc;
  }
  if (win) {
    if (win->ndim != 1 || !kern_is_float(win->dtype)) return KERN_ERR(n, VRT_ESHAPE, "window must be a 1-D float tensor");
    if (FL >= 0 && FL != win->dims[0]) return KERN_ERR(n, VRT_ESHAPE, "window length differs from frame_length");
    FL = win->dims[0];
  }
  if (FL < 1 || FL > S || FL > (INT64_C(1) << 24))
    return KERN_ERR(n, VRT_EINVAL, "frame length %lld does not fit the signal", (long long)FL);
  g->nb = (S - FL) / step + 1; /* frames */
  g->L = g->len = FL;
  g->bins = vrt_attr_int(n, "onesided", 1) ? FL / 2 + 1 : FL;
  g->in_a = S * g->C, g->in_b = step * g->C, g->in_m = g->C;
  g->out_a = g->nb * g->bins, g->out_b = g->bins, g->out_k = 1;
  g->sign = -1.0, g->scale = 1.0;
  int64_t d[4] = {g->na, g->nb, g->bins, 2};
  g->ondim = 4;
  memcpy(g->odims, d, sizeof d);
  return 0;
}

/* ---- both ---- */

static int sig_geometry(const vrt_node *n, const vrt_tensor *const *in, int nin, sig_geom *g) {
  return n->op == VRT_OP_STFT ? stft_geometry(n, in, nin, g) : dft_geometry(n, in, nin, g);
}

static int sig_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(n->op == VRT_OP_STFT ? 2 : 1);
  sig_geom g;
  int rc = sig_geometry(n, in, nin, &g);
  if (rc < 0) return rc;
  kern_set_shape(out, in[0]->dtype, g.ondim, g.odims);
  return 0;
}

static int sig_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                    vrt_exec_ctx *x) {
  sig_geom g;
  int rc = sig_geometry(n, in, nin, &g);
  if (rc < 0) return rc;
  double *cs, *sn;
  if ((rc = twiddles(n, x, g.L, &cs, &sn)) < 0) return rc;
  const double *xd = as_f64(n, in[0], x);
  const double *w = nin > 2 && in[2] ? as_f64(n, in[2], x) : NULL; /* STFT's window (DFT has two inputs) */
  int64_t ocnt = vrt_tensor_numel(out);
  double *yd = x->scratch(x, sizeof(double) * (size_t)(ocnt ? ocnt : 1));
  if (!xd || !yd || (nin > 2 && in[2] && !w)) return KERN_ERR(n, VRT_ENOMEM, "out of memory");
  for (int64_t a = 0; a < g.na; a++)
    for (int64_t b = 0; b < g.nb; b++)
      for (int64_t k = 0; k < g.bins; k++) {
        const double *v = xd + a * g.in_a + b * g.in_b;
        double re = 0, im = 0;
        for (int64_t m = 0; m < g.len; m++, v += g.in_m) {
          double wm = w ? w[m] : 1.0;
          double xr = v[0] * wm, xi = g.C == 2 ? v[1] * wm : 0;
          int64_t t = (k * m) % g.L;
          double c = cs[t], s = g.sign * sn[t];
          re += xr * c - xi * s;
          im += xr * s + xi * c;
        }
        double *y = yd + (a * g.out_a + b * g.out_b + k * g.out_k) * 2;
        y[0] = re * g.scale, y[1] = im * g.scale;
      }
  return vrt__kern_cast(out->data, out->dtype, yd, VRT_F64, ocnt) < 0 ? KERN_ERR(n, VRT_ETYPE, "cast failed") : 0;
}

const vrt_opdef vrt__op_DFT = {VRT_OP_DFT, NULL, sig_infer, sig_exec, 0, 1, 2};
const vrt_opdef vrt__op_STFT = {VRT_OP_STFT, NULL, sig_infer, sig_exec, 0, 2, 4};
