/* CPU reference kernels that cut, join and extend tensors: Concat, Split,
 * Slice, StridedSlice (TensorFlow semantics), Pad, Tile, Expand, Trilu. */
#include <stdlib.h>

#include "shape_util.h"

/* ---- Concat ---- */

static int concat_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(1);
  int rank = in[0]->ndim, axis;
  int rc = vrt__kern_axis(n, vrt_attr_int(n, "axis", 0), rank, &axis);
  if (rc < 0) return rc;
  if (vrt_dtype_size(in[0]->dtype) == 0) return KERN_ERR(n, VRT_ETYPE, "dtype %s not supported", vrt_dtype_name(in[0]->dtype));
  kern_set_shape(out, in[0]->dtype, rank, in[0]->dims);
  for (int i = 1; i < nin; i++) {
    if (!in[i]) return KERN_ERR(n, VRT_EINVAL, "input %d missing", i);
    if (in[i]->dtype != in[0]->dtype) return KERN_ERR(n, VRT_ETYPE, "input %d has dtype %s, input 0 has %s", i,
                                                   vrt_dtype_name(in[i]->dtype), vrt_dtype_name(in[0]->dtype));
    if (in[i]->ndim != rank) return KERN_ERR(n, VRT_ESHAPE, "input %d has rank %d, input 0 has %d", i, in[i]->ndim, rank);
    for (int d = 0; d < rank; d++)
      if (d != axis && in[i]->dims[d] != in[0]->dims[d])
        return KERN_ERR(n, VRT_ESHAPE, "input %d differs in dim %d (%lld vs %lld)", i, d, (long long)in[i]->dims[d],
                      (long long)in[0]->dims[d]);
    out->dims[axis] += in[i]->dims[axis];
  }
  return 0;
}

static int concat_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                       vrt_exec_ctx *x) {
  int axis;
  vrt__kern_axis(n, vrt_attr_int(n, "axis", 0), out->ndim, &axis);
  size_t es = vrt_dtype_size(out->dtype);
  int64_t outer = vrt__numel(out->dims, axis);
  int64_t inner = vrt__numel(out->dims + axis + 1, out->ndim - axis - 1) * (int64_t)es;
  int64_t orow = out->dims[axis] * inner, at = 0;
  for (int i = 0; i < nin; i++) {
    int64_t chunk = in[i]->dims[axis] * inner;
    if (chunk == 0) continue;
    for (int64_t o = 0; o < outer; o++)
      memcpy((char *)out->data + o * orow + at, (const char *)in[i]->data + o * chunk, (size_t)chunk);
    at += chunk;
  }
  return 0;
}

const vrt_opdef vrt__op_Concat = {VRT_OP_Concat, NULL, concat_infer, concat_exec, 0, 1, -1};

/* ---- Split: sizes from input 1, the 'split' attribute, num_outputs or equal parts ---- */

static int split_sizes(const vrt_node *n, const vrt_tensor *const *in, int nin, int nout, int *axis, int64_t *sizes) {
  int rank = in[0]->ndim;
  int rc = vrt__kern_axis(n, vrt_attr_int(n, "axis", 0), rank, axis);
  if (rc < 0) return rc;
  int64_t D = in[0]->dims[*axis];
  if (nout > 64) return KERN_ERR(n, VRT_ELIMIT, "too many outputs");
  int ns = 0;
  if (nin > 1 && in[1]) {
    ns = vrt__kern_read_ints(n, in[1], "split", sizes, 64);
    if (ns < 0) return ns;
  } else {
    const int64_t *s;
    ns = vrt_attr_ints(n, "split", &s);
    if (ns > 64) return KERN_ERR(n, VRT_ELIMIT, "too many splits");
    if (ns > 0) memcpy(sizes, s, sizeof(int64_t) * (size_t)ns);
  }
  if (ns == 0) { /* equal parts; with num_outputs the last may be smaller */
    int64_t part = (D + nout - 1) / nout;
    if (!vrt_node_attr(n, "num_outputs") && D % nout)
      return KERN_ERR(n, VRT_ESHAPE, "dim %lld does not split into %d equal parts", (long long)D, nout);
    for (int i = 0; i < nout; i++) {
      int64_t left = D - part * i;
      sizes[i] = left < 0 ? 0 : left < part ? left : part;
    }
    return 0;
  }
  if (ns != nout) return KERN_ERR(n, VRT_ESHAPE, "split has %d entries for %d outputs", ns, nout);
  int64_t sum = 0;
  for (int i = 0; i < ns; i++) {
    if (sizes[i] < 0) return KERN_ERR(n, VRT_ESHAPE, "negative split size");
    sum += sizes[i];
  }
  if (sum != D) return KERN_ERR(n, VRT_ESHAPE, "split sizes sum to %lld, dim is %lld", (long long)sum, (long long)D);
  return 0;
}

static int split_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(1);
  int64_t sizes[64];
  int axis;
  int rc = split_sizes(n, in, nin, nout, &axis, sizes);
  if (rc < 0) return rc;
  for (int i = 0; i < nout; i++) {
    kern_set_shape(&out[i], in[0]->dtype, in[0]->ndim, in[0]->dims);
    out[i].dims[axis] = sizes[i];
  }
  return 0;
}

static int split_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                      vrt_exec_ctx *x) {
  int64_t sizes[64];
  int axis;
  int rc = split_sizes(n, in, nin, nout, &axis, sizes);
  if (rc < 0) return rc;
  size_t es = vrt_dtype_size(in[0]->dtype);
  int64_t outer = vrt__numel(in[0]->dims, axis);
  int64_t inner = vrt__numel(in[0]->dims + axis + 1, in[0]->ndim - axis - 1) * (int64_t)es;
  int64_t irow = in[0]->dims[axis] * inner, at = 0;
  for (int i = 0; i < nout; i++) {
    int64_t chunk = sizes[i] * inner;
    if (out[i].data && chunk)
      for (int64_t o = 0; o < outer; o++)
        memcpy((char *)out[i].data + o * chunk, (const char *)in[0]->data + o * irow + at, (size_t)chunk);
    at += chunk;
  }
  return 0;
}

const vrt_opdef vrt__op_Split = {VRT_OP_Split, NULL, split_infer, split_exec, 0, 1, 2};

/* ---- Slice(data, starts, ends, axes?, steps?) ---- */

typedef struct {
  int rank;
  int64_t odims[VRT_MAX_DIMS], start[VRT_MAX_DIMS], step[VRT_MAX_DIMS];
} slice_plan;

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Resolve one axis: python-style start/end with clamping; returns the count. */
static int64_t slice_axis(int64_t D, int64_t start, int64_t end, int64_t step, int64_t *first) {
  if (start < 0) start += D;
  if (end < 0) end += D;
  int64_t cnt;
  if (step > 0) {
    start = clamp64(start, 0, D);
    end = clamp64(end, 0, D);
    cnt = end > start ? (end - start + step - 1) / step : 0;
  } else {
    start = clamp64(start, -1, D - 1);
    end = clamp64(end, -1, D - 1);
    cnt = start > end ? (start - end + (-step) - 1) / (-step) : 0;
  }
  *first = start;
  return cnt;
}

/* Checks a Slice node's inputs and resolves what it reads. */
static int slice_make(const vrt_node *n, const vrt_tensor *const *in, int nin, slice_plan *p) {
  KERN_NEED(1);
  if (vrt_dtype_size(in[0]->dtype) == 0) return KERN_ERR(n, VRT_ETYPE, "dtype %s not supported", vrt_dtype_name(in[0]->dtype));
  int64_t starts[VRT_MAX_DIMS], ends[VRT_MAX_DIMS], axes[VRT_MAX_DIMS], steps[VRT_MAX_DIMS];
  int ns, ne, na = 0, nst = 0;
  if (nin > 1 && in[1]) {
    if ((ns = vrt__kern_read_ints(n, in[1], "starts", starts, VRT_MAX_DIMS)) < 0) return ns;
    if (nin < 3 || !in[2]) return KERN_ERR(n, VRT_EINVAL, "ends missing");
    if ((ne = vrt__kern_read_ints(n, in[2], "ends", ends, VRT_MAX_DIMS)) < 0) return ne;
    if (nin > 3 && in[3] && (na = vrt__kern_read_ints(n, in[3], "axes", axes, VRT_MAX_DIMS)) < 0) return na;
    if (nin > 4 && in[4] && (nst = vrt__kern_read_ints(n, in[4], "steps", steps, VRT_MAX_DIMS)) < 0) return nst;
  } else { /* opset 1-9 attributes */
    const int64_t *a;
    ns = vrt_attr_ints(n, "starts", &a);
    if (ns > VRT_MAX_DIMS) return KERN_ERR(n, VRT_ELIMIT, "too many starts");
    if (ns > 0) memcpy(starts, a, sizeof(int64_t) * (size_t)ns);
    ne = vrt_attr_ints(n, "ends", &a);
    if (ne > VRT_MAX_DIMS) return KERN_ERR(n, VRT_ELIMIT, "too many ends");
    if (ne > 0) memcpy(ends, a, sizeof(int64_t) * (size_t)ne);
    na = vrt_attr_ints(n, "axes", &a);
    if (na > VRT_MAX_DIMS) return KERN_ERR(n, VRT_ELIMIT, "too many axes");
    if (na > 0) memcpy(axes, a, sizeof(int64_t) * (size_t)na);
  }
  if (ns != ne || (na && na != ns) || (nst && nst != ns))
    return KERN_ERR(n, VRT_ESHAPE, "starts/ends/axes/steps lengths differ (%d/%d/%d/%d)", ns, ne, na, nst);
  int rank = in[0]->ndim;
  p->rank = rank;
  bool seen[VRT_MAX_DIMS] = {0};
  for (int d = 0; d < rank; d++) p->odims[d] = in[0]->dims[d], p->start[d] = 0, p->step[d] = 1;
  for (int i = 0; i < ns; i++) {
    int a;
    int rc = vrt__kern_axis(n, na ? axes[i] : i, rank, &a);
    if (rc < 0) return rc;
    if (seen[a]) return KERN_ERR(n, VRT_EINVAL, "axis %d repeated", a);
    seen[a] = true;
    int64_t st = nst ? steps[i] : 1;
    if (st == 0) return KERN_ERR(n, VRT_EINVAL, "step is 0");
    p->step[a] = st;
    p->odims[a] = slice_axis(in[0]->dims[a], starts[i], ends[i], st, &p->start[a]);
  }
  return 0;
}

int vrt__slice_window(const vrt_node *n, const vrt_tensor *const *in, int nin, int64_t *start, int64_t *step,
                      int64_t *odims) {
  slice_plan p;
  int rc = slice_make(n, in, nin, &p);
  if (rc < 0) return rc;
  for (int d = 0; d < p.rank; d++) start[d] = p.start[d], step[d] = p.step[d], odims[d] = p.odims[d];
  return 0;
}

static void slice_run(const slice_plan *p, const vrt_tensor *in, vrt_tensor *out) {
  int64_t istr[VRT_MAX_DIMS], ss[VRT_MAX_DIMS], base = 0;
  vrt__strides(in->dims, in->ndim, istr);
  for (int d = 0; d < p->rank; d++) {
    ss[d] = istr[d] * p->step[d];
    if (p->odims[d] > 0) base += p->start[d] * istr[d];
  }
  vrt__kern_strided_gather(out->data, in->data, vrt_dtype_size(in->dtype), p->rank, p->odims, ss, base);
}

static int slice_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  slice_plan p;
  int rc = slice_make(n, in, nin, &p);
  if (rc == 0) kern_set_shape(out, in[0]->dtype, p.rank, p.odims);
  return rc;
}

static int slice_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                      vrt_exec_ctx *x) {
  slice_plan p;
  int rc = slice_make(n, in, nin, &p);
  if (rc == 0) slice_run(&p, in[0], out);
  return rc;
}

const vrt_opdef vrt__op_Slice = {VRT_OP_Slice, NULL, slice_infer, slice_exec, 0, 1, 5};

/* ---- StridedSlice(input, begin, end, strides?) with TensorFlow's masks ----
 * The sparse spec (one entry per begin element) is expanded against the
 * input rank: the ellipsis entry covers the dims no other entry consumes,
 * new_axis entries add a size-1 output dim and consume nothing, shrink
 * entries take one element and drop the dim. Without an ellipsis the dims
 * after the spec are taken whole. The copy is a Slice over the input dims;
 * new/shrunk axes only change the output shape. */

static int strided_make(const vrt_node *n, const vrt_tensor *const *in, int nin, slice_plan *p, int64_t *odims,
                        int *ond) {
  int64_t b[VRT_MAX_DIMS * 2], e[VRT_MAX_DIMS * 2], s[VRT_MAX_DIMS * 2];
  int nb, ne, ns = 0;
  if ((nb = vrt__kern_read_ints(n, in[1], "begin", b, VRT_MAX_DIMS * 2)) < 0) return nb;
  if ((ne = vrt__kern_read_ints(n, in[2], "end", e, VRT_MAX_DIMS * 2)) < 0) return ne;
  if (nin > 3 && in[3] && (ns = vrt__kern_read_ints(n, in[3], "strides", s, VRT_MAX_DIMS * 2)) < 0) return ns;
  if (nb != ne || (ns && ns != nb)) return KERN_ERR(n, VRT_ESHAPE, "begin/end/strides lengths differ");
  int64_t bm = vrt_attr_int(n, "begin_mask", 0), em = vrt_attr_int(n, "end_mask", 0);
  int64_t elm = vrt_attr_int(n, "ellipsis_mask", 0), nam = vrt_attr_int(n, "new_axis_mask", 0);
  int64_t sam = vrt_attr_int(n, "shrink_axis_mask", 0);
  int rank = in[0]->ndim;
  int ell = -1, explicit_dims = 0;
  for (int i = 0; i < nb; i++) {
    if ((elm >> i) & 1) {
      if (ell < 0) ell = i;
    } else if (!((nam >> i) & 1)) {
      explicit_dims++;
    }
  }
  p->rank = rank;
  for (int d = 0; d < rank; d++) p->odims[d] = in[0]->dims[d], p->start[d] = 0, p->step[d] = 1;
  int d = 0, o = 0;
  for (int i = 0; i < nb; i++) {
    if (i == ell) {
      int full = rank - explicit_dims;
      if (full < 0) return KERN_ERR(n, VRT_ESHAPE, "slice spec has more dims than the input rank %d", rank);
      for (int k = 0; k < full; k++, d++) odims[o++] = in[0]->dims[d];
      continue;
    }
    if ((elm >> i) & 1) continue; /* a second ellipsis is ignored, like TF */
    if ((nam >> i) & 1) {
      if (o >= VRT_MAX_DIMS) return KERN_ERR(n, VRT_ELIMIT, "output rank too large");
      odims[o++] = 1;
      continue;
    }
    if (d >= rank) return KERN_ERR(n, VRT_ESHAPE, "slice spec has more dims than the input rank %d", rank);
    int64_t D = in[0]->dims[d], st = ns ? s[i] : 1;
    if (st == 0) return KERN_ERR(n, VRT_EINVAL, "stride is 0");
    if ((sam >> i) & 1) {
      int64_t k = b[i] < 0 ? b[i] + D : b[i];
      if (k < 0 || k >= D) return KERN_ERR(n, VRT_EINVAL, "shrink index %lld out of range for dim %lld", (long long)b[i], (long long)D);
      p->start[d] = k, p->step[d] = 1, p->odims[d] = 1;
    } else {
      int64_t bb = b[i], ee = e[i];
      if ((bm >> i) & 1) bb = st > 0 ? 0 : D - 1;
      if ((em >> i) & 1) ee = st > 0 ? D : -D - 1; /* wraps to -1: one before the first */
      p->step[d] = st;
      p->odims[d] = slice_axis(D, bb, ee, st, &p->start[d]);
      if (o >= VRT_MAX_DIMS) return KERN_ERR(n, VRT_ELIMIT, "output rank too large");
      odims[o++] = p->odims[d];
    }
    d++;
  }
  for (; d < rank; d++) { /* implicit trailing ellipsis */
    if (o >= VRT_MAX_DIMS) return KERN_ERR(n, VRT_ELIMIT, "output rank too large");
    odims[o++] = in[0]->dims[d];
  }
  *ond = o;
  return 0;
}

static int strided_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(3);
  slice_plan p;
  int64_t od[VRT_MAX_DIMS];
  int ond;
  if (vrt_dtype_size(in[0]->dtype) == 0) return KERN_ERR(n, VRT_ETYPE, "dtype %s not supported", vrt_dtype_name(in[0]->dtype));
  int rc = strided_make(n, in, nin, &p, od, &ond);
  if (rc < 0) return rc;
  kern_set_shape(out, in[0]->dtype, ond, od);
  return 0;
}

static int strided_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                        vrt_exec_ctx *x) {
  slice_plan p;
  int64_t od[VRT_MAX_DIMS];
  int ond;
  int rc = strided_make(n, in, nin, &p, od, &ond);
  if (rc < 0) return rc;
  slice_run(&p, in[0], out);
  return 0;
}

const vrt_opdef vrt__op_StridedSlice = {VRT_OP_StridedSlice, NULL, strided_infer, strided_exec, 0, 3, 4};

/* ---- Pad(data, pads, constant_value?, axes?), modes constant/reflect/edge/wrap ---- */

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP };

typedef struct {
  int mode, rank;
  int64_t pb[VRT_MAX_DIMS], pe[VRT_MAX_DIMS], odims[VRT_MAX_DIMS];
} pad_plan;

static int pad_make(const vrt_node *n, const vrt_tensor *const *in, int nin, pad_plan *p) {
  int rank = in[0]->ndim;
  int64_t pads[2 * VRT_MAX_DIMS], axes[VRT_MAX_DIMS];
  int np, na = 0;
  if (nin > 1 && in[1]) {
    if ((np = vrt__kern_read_ints(n, in[1], "pads", pads, 2 * VRT_MAX_DIMS)) < 0) return np;
  } else {
    const int64_t *a;
    np = vrt_attr_ints(n, "pads", &a);
    if (np > 2 * VRT_MAX_DIMS) return KERN_ERR(n, VRT_ELIMIT, "too many pads");
    if (np > 0) memcpy(pads, a, sizeof(int64_t) * (size_t)np);
  }
  if (nin > 3 && in[3]) {
    if ((na = vrt__kern_read_ints(n, in[3], "axes", axes, VRT_MAX_DIMS)) < 0) return na;
  } else {
    na = rank;
    for (int i = 0; i < rank; i++) axes[i] = i;
  }
  if (np != 2 * na) return KERN_ERR(n, VRT_ESHAPE, "pads has %d values, expected %d", np, 2 * na);
  const char *mode = vrt_attr_string(n, "mode", "constant");
  if (!strcmp(mode, "constant")) p->mode = PAD_CONSTANT;
  else if (!strcmp(mode, "reflect")) p->mode = PAD_REFLECT;
  else if (!strcmp(mode, "edge")) p->mode = PAD_EDGE;
  else if (!strcmp(mode, "wrap")) p->mode = PAD_WRAP;
  else return KERN_ERR(n, VRT_EINVAL, "unknown mode '%s'", mode);
  p->rank = rank;
  for (int d = 0; d < rank; d++) p->pb[d] = p->pe[d] = 0;
  for (int i = 0; i < na; i++) {
    int a;
    int rc = vrt__kern_axis(n, axes[i], rank, &a);
    if (rc < 0) return rc;
    p->pb[a] = pads[i], p->pe[a] = pads[i + na];
  }
  for (int d = 0; d < rank; d++) {
    const int64_t lim = INT64_C(1) << 40;
    if (p->pb[d] > lim || p->pb[d] < -lim || p->pe[d] > lim || p->pe[d] < -lim)
      return KERN_ERR(n, VRT_ELIMIT, "pads of dim %d are too large", d);
    int64_t D = in[0]->dims[d], od = D + p->pb[d] + p->pe[d];
    if (od < 0) return KERN_ERR(n, VRT_ESHAPE, "pads give dim %d a negative size", d);
    if (p->mode != PAD_CONSTANT && D == 0 && od > 0) return KERN_ERR(n, VRT_ESHAPE, "cannot %s-pad an empty dim", mode);
    p->odims[d] = od;
  }
  return 0;
}

/* Source index of output index j along a dim, or -1 for the constant. */
static int64_t pad_src(int mode, int64_t j, int64_t pb, int64_t D) {
  int64_t i = j - pb;
  if (i >= 0 && i < D) return i;
  switch (mode) {
    case PAD_EDGE: return i < 0 ? 0 : D - 1;
    case PAD_WRAP: return ((i % D) + D) % D;
    case PAD_REFLECT: {
      if (D == 1) return 0;
      int64_t period = 2 * (D - 1);
      int64_t m = ((i % period) + period) % period;
      return m < D ? m : period - m;
    }
    default: return -1;
  }
}

#define PAD_ROW(T)                                                       \
  do {                                                                   \
    T *od = (T *)orow;                                                   \
    const T *sr = (const T *)srow;                                       \
    T cv;                                                                \
    memcpy(&cv, &cval, sizeof cv);                                       \
    for (int64_t i = 0; i < W; i++) od[i] = map[i] < 0 || !srow ? cv : sr[map[i]]; \
  } while (0)

static int pad_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                    vrt_exec_ctx *x) {
  pad_plan p;
  int rc = pad_make(n, in, nin, &p);
  if (rc < 0) return rc;
  size_t es = vrt_dtype_size(in[0]->dtype);
  uint64_t cval = 0;
  if (nin > 2 && in[2] && vrt_tensor_numel(in[2]) >= 1) {
    if (in[2]->dtype != in[0]->dtype) return KERN_ERR(n, VRT_ETYPE, "constant_value dtype differs from data");
    memcpy(&cval, in[2]->data, es);
  } else if (vrt_node_attr(n, "value")) {
    float v = vrt_attr_float(n, "value", 0);
    vrt__kern_cast(&cval, in[0]->dtype, &v, VRT_F32, 1);
  }
  int rank = p.rank;
  int64_t total = vrt_tensor_numel(out);
  if (total == 0) return 0;
  if (rank == 0) {
    memcpy(out->data, in[0]->data, es);
    return 0;
  }
  int64_t W = p.odims[rank - 1], Din = in[0]->dims[rank - 1];
  int64_t *map = x->scratch(x, sizeof(int64_t) * (size_t)W);
  if (!map) return KERN_ERR(n, VRT_ENOMEM, "out of memory");
  for (int64_t j = 0; j < W; j++) map[j] = Din ? pad_src(p.mode, j, p.pb[rank - 1], Din) : -1;
  int64_t istr[VRT_MAX_DIMS], idx[VRT_MAX_DIMS] = {0};
  vrt__strides(in[0]->dims, rank, istr);
  for (int64_t o = 0; o < total; o += W) {
    /* source row of this output row, or NULL if it lies in the constant */
    const char *srow = in[0]->data;
    for (int d = 0; d < rank - 1 && srow; d++) {
      int64_t si = pad_src(p.mode, idx[d], p.pb[d], in[0]->dims[d]);
      if (si < 0) srow = NULL;
      else srow += si * istr[d] * (int64_t)es;
    }
    char *orow = (char *)out->data + o * (int64_t)es;
    switch (es) {
      case 1: PAD_ROW(uint8_t); break;
      case 2: PAD_ROW(uint16_t); break;
      case 4: PAD_ROW(uint32_t); break;
      default: PAD_ROW(uint64_t); break;
    }
    for (int d = rank - 2; d >= 0; d--) {
      if (++idx[d] < p.odims[d]) break;
      idx[d] = 0;
    }
  }
  return 0;
}

static int pad_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(1);
  pad_plan p;
  size_t es = vrt_dtype_size(in[0]->dtype);
  if (es == 0 || es > 8) return KERN_ERR(n, VRT_ETYPE, "dtype %s not supported", vrt_dtype_name(in[0]->dtype));
  int rc = pad_make(n, in, nin, &p);
  if (rc < 0) return rc;
  kern_set_shape(out, in[0]->dtype, p.rank, p.odims);
  return 0;
}

const vrt_opdef vrt__op_Pad = {VRT_OP_Pad, NULL, pad_infer, pad_exec, 0, 1, 4};

/* ---- Tile(input, repeats) ---- */

/* Tile and Expand: data of any sized dtype, and the integer list of input 1
 * (what) read into v. Returns its length or an error. */
static int list_arg(const vrt_node *n, const vrt_tensor *const *in, int nin, const char *what, int64_t *v) {
  KERN_NEED(2);
  int nv = vrt__kern_read_ints(n, in[1], what, v, VRT_MAX_DIMS);
  if (nv >= 0 && vrt_dtype_size(in[0]->dtype) == 0)
    return KERN_ERR(n, VRT_ETYPE, "dtype %s not supported", vrt_dtype_name(in[0]->dtype));
  return nv;
}

static int tile_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  int64_t r[VRT_MAX_DIMS];
  int nr = list_arg(n, in, nin, "repeats", r);
  if (nr < 0) return nr;
  int rank = in[0]->ndim;
  if (nr != rank) return KERN_ERR(n, VRT_ESHAPE, "repeats has %d values for rank %d", nr, rank);
  out->dtype = in[0]->dtype;
  out->ndim = rank;
  for (int d = 0; d < rank; d++) {
    if (r[d] < 0) return KERN_ERR(n, VRT_EINVAL, "negative repeat");
    if (__builtin_mul_overflow(in[0]->dims[d], r[d], &out->dims[d])) return KERN_ERR(n, VRT_ELIMIT, "too large");
  }
  return 0;
}

static int tile_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                     vrt_exec_ctx *x) {
  int rank = out->ndim;
  size_t es = vrt_dtype_size(out->dtype);
  int64_t total = vrt_tensor_numel(out);
  if (total == 0) return 0;
  if (rank == 0) {
    memcpy(out->data, in[0]->data, es);
    return 0;
  }
  int64_t istr[VRT_MAX_DIMS], idx[VRT_MAX_DIMS] = {0};
  vrt__strides(in[0]->dims, rank, istr);
  int64_t W = out->dims[rank - 1], Din = in[0]->dims[rank - 1];
  for (int64_t o = 0; o < total; o += W) {
    int64_t soff = 0;
    for (int d = 0; d < rank - 1; d++) soff += (idx[d] % in[0]->dims[d]) * istr[d];
    char *orow = (char *)out->data + o * (int64_t)es;
    for (int64_t j = 0; j < W; j += Din)
      memcpy(orow + j * (int64_t)es, (const char *)in[0]->data + soff * (int64_t)es, (size_t)Din * es);
    for (int d = rank - 2; d >= 0; d--) {
      if (++idx[d] < out->dims[d]) break;
      idx[d] = 0;
    }
  }
  return 0;
}

const vrt_opdef vrt__op_Tile = {VRT_OP_Tile, NULL, tile_infer, tile_exec, 0, 2, 2};

/* ---- Expand(input, shape): bidirectional broadcast ---- */

static int expand_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  int64_t s[VRT_MAX_DIMS];
  int ns = list_arg(n, in, nin, "shape", s);
  if (ns < 0) return ns;
  for (int i = 0; i < ns; i++)
    if (s[i] < 0) return KERN_ERR(n, VRT_ESHAPE, "negative dim in shape");
  int nd;
  if (vrt__broadcast_shape(in[0]->dims, in[0]->ndim, s, ns, out->dims, &nd) < 0) {
    char a[96], b[96];
    return KERN_ERR(n, VRT_ESHAPE, "cannot expand %s to %s", vrt__shape_str(in[0]->dims, in[0]->ndim, a, sizeof a),
                  vrt__shape_str(s, ns, b, sizeof b));
  }
  out->ndim = nd;
  out->dtype = in[0]->dtype;
  return 0;
}

static int expand_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                       vrt_exec_ctx *x) {
  return vrt__kern_broadcast_copy(n, out, in[0]);
}

const vrt_opdef vrt__op_Expand = {VRT_OP_Expand, NULL, expand_infer, expand_exec, 0, 2, 2};

/* ---- Trilu(input, k?) ---- */

static int trilu_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(1);
  if (in[0]->ndim < 2) return KERN_ERR(n, VRT_ESHAPE, "input must have rank >= 2");
  if (vrt_dtype_size(in[0]->dtype) == 0) return KERN_ERR(n, VRT_ETYPE, "dtype %s not supported", vrt_dtype_name(in[0]->dtype));
  if (nin > 1 && in[1] && vrt_tensor_numel(in[1]) != 1) return KERN_ERR(n, VRT_ESHAPE, "k must be a scalar");
  kern_set_shape(out, in[0]->dtype, in[0]->ndim, in[0]->dims);
  return 0;
}

static int trilu_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                      vrt_exec_ctx *x) {
  int64_t k = 0;
  if (nin > 1 && in[1]) {
    int rc = vrt__kern_read_ints(n, in[1], "k", &k, 1);
    if (rc < 0) return rc == VRT_ENEEDDATA ? KERN_ERR(n, VRT_EINVAL, "k has no data") : rc;
  }
  int upper = (int)vrt_attr_int(n, "upper", 1);
  int r = out->ndim;
  int64_t R = out->dims[r - 2], C = out->dims[r - 1];
  int64_t mats = vrt__numel(out->dims, r - 2);
  size_t es = vrt_dtype_size(out->dtype);
  if (out->data != in[0]->data) memcpy(out->data, in[0]->data, out->nbytes);
  if (k > C) k = C + 1;
  if (k < -R) k = -R - 1;
  for (int64_t m = 0; m < mats; m++)
    for (int64_t i = 0; i < R; i++) {
      char *row = (char *)out->data + ((m * R + i) * C) * (int64_t)es;
      int64_t lo, hi; /* zero columns [lo, hi) */
      if (upper) lo = 0, hi = clamp64(i + k, 0, C); /* keep j - i >= k */
      else lo = clamp64(i + k + 1, 0, C), hi = C;   /* keep j - i <= k */
      if (hi > lo) memset(row + lo * (int64_t)es, 0, (size_t)(hi - lo) * es);
    }
  return 0;
}

const vrt_opdef vrt__op_Trilu = {VRT_OP_Trilu, NULL, trilu_infer, trilu_exec, 0, 1, 2};
