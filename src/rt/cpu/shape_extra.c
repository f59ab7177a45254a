/* CPU reference kernels for the less common shape-family ops: Compress,
 * ReverseSequence, Unique and the generators HannWindow, HammingWindow,
 * BlackmanWindow and MelWeightMatrix. */
#include <math.h>
#include <stdlib.h>

#include "exec.h"
#include "shape_util.h"

/* ---- Compress(input, condition), axis optional (absent: flattened) ---- */

static int compress_count(const vrt_node *n, const vrt_tensor *in, const vrt_tensor *cond, int64_t limit,
                          int64_t *kept) {
  if (cond->dtype != VRT_BOOL || cond->ndim != 1) return KERN_ERR(n, VRT_ETYPE, "condition must be a 1-D bool tensor");
  int64_t len = cond->dims[0];
  if (len > limit) return KERN_ERR(n, VRT_ESHAPE, "condition has %lld entries for a dim of %lld", (long long)len, (long long)limit);
  if (len > 0 && !cond->data) return VRT_ENEEDDATA;
  const uint8_t *c = cond->data;
  *kept = 0;
  for (int64_t i = 0; i < len; i++) *kept += c[i] != 0;
  return 0;
}

static int compress_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(2);
  if (vrt_dtype_size(in[0]->dtype) == 0) return KERN_ERR(n, VRT_ETYPE, "dtype %s not supported", vrt_dtype_name(in[0]->dtype));
  const vrt_attr *a = vrt_node_attr(n, "axis");
  int64_t kept;
  int rc;
  if (!a) {
    if ((rc = compress_count(n, in[0], in[1], vrt_tensor_numel(in[0]), &kept)) < 0) return rc;
    kern_set_shape(out, in[0]->dtype, 1, &kept);
    return 0;
  }
  int axis;
  if ((rc = vrt__kern_axis(n, a->i, in[0]->ndim, &axis)) < 0) return rc;
  if ((rc = compress_count(n, in[0], in[1], in[0]->dims[axis], &kept)) < 0) return rc;
  kern_set_shape(out, in[0]->dtype, in[0]->ndim, in[0]->dims);
  out->dims[axis] = kept;
  return 0;
}

static int compress_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                         vrt_exec_ctx *x) {
  const vrt_attr *a = vrt_node_attr(n, "axis");
  size_t es = vrt_dtype_size(in[0]->dtype);
  int64_t outer = 1, D = vrt_tensor_numel(in[0]), inner = 1;
  if (a) {
    int axis;
    vrt__kern_axis(n, a->i, in[0]->ndim, &axis);
    outer = vrt__numel(in[0]->dims, axis);
    D = in[0]->dims[axis];
    inner = vrt__numel(in[0]->dims + axis + 1, in[0]->ndim - axis - 1);
  }
  const uint8_t *c = in[1]->data;
  int64_t len = in[1]->dims[0];
  size_t row = (size_t)inner * es;
  char *o = out->data;
  for (int64_t ob = 0; ob < outer; ob++)
    for (int64_t i = 0; i < len; i++)
      if (c[i]) {
        memcpy(o, (const char *)in[0]->data + (ob * D + i) * (int64_t)row, row);
        o += row;
      }
  return 0;
}

const vrt_opdef vrt__op_Compress = {VRT_OP_Compress, NULL, compress_infer, compress_exec, VRT_OPF_DATA_DEPENDENT,
                                          2, 2};

/* ---- ReverseSequence(input, sequence_lens), batch_axis, time_axis ---- */

static int revseq_axes(const vrt_node *n, const vrt_tensor *const *in, int *b, int *t) {
  int rc;
  if (in[0]->ndim < 2) return KERN_ERR(n, VRT_ESHAPE, "input must have rank >= 2");
  if ((rc = vrt__kern_axis(n, vrt_attr_int(n, "batch_axis", 1), in[0]->ndim, b)) < 0) return rc;
  if ((rc = vrt__kern_axis(n, vrt_attr_int(n, "time_axis", 0), in[0]->ndim, t)) < 0) return rc;
  if (*b == *t || *b > 1 || *t > 1) return KERN_ERR(n, VRT_EINVAL, "batch_axis and time_axis must be 0 and 1");
  if (!kern_is_index(in[1]->dtype) || in[1]->ndim != 1 || in[1]->dims[0] != in[0]->dims[*b])
    return KERN_ERR(n, VRT_ESHAPE, "sequence_lens must be an integer vector of the batch size");
  return 0;
}

static int revseq_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(2);
  int b, t, rc;
  if (vrt_dtype_size(in[0]->dtype) == 0) return KERN_ERR(n, VRT_ETYPE, "dtype %s not supported", vrt_dtype_name(in[0]->dtype));
  if ((rc = revseq_axes(n, in, &b, &t)) < 0) return rc;
  kern_set_shape(out, in[0]->dtype, in[0]->ndim, in[0]->dims);
  return 0;
}

static int revseq_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                       vrt_exec_ctx *x) {
  int b, t, rc;
  if ((rc = revseq_axes(n, in, &b, &t)) < 0) return rc;
  size_t es = vrt_dtype_size(in[0]->dtype);
  int64_t B = in[0]->dims[b], T = in[0]->dims[t];
  int64_t inner = vrt__numel(in[0]->dims + 2, in[0]->ndim - 2) * (int64_t)es;
  /* element (batch i, time j) starts at (b == 0 ? i*T + j : j*B + i) * inner */
  for (int64_t i = 0; i < B; i++) {
    int64_t len = vrt__get_i64(in[1], i);
    if (len < 0 || len > T) return KERN_ERR(n, VRT_EINVAL, "sequence length %lld out of range [0, %lld]", (long long)len, (long long)T);
    for (int64_t j = 0; j < T; j++) {
      int64_t src = j < len ? len - 1 - j : j;
      int64_t od = b == 0 ? i * T + j : j * B + i, sd = b == 0 ? i * T + src : src * B + i;
      memcpy((char *)out->data + od * inner, (const char *)in[0]->data + sd * inner, (size_t)inner);
    }
  }
  return 0;
}

const vrt_opdef vrt__op_ReverseSequence = {VRT_OP_ReverseSequence, NULL, revseq_infer, revseq_exec, 0, 2, 2};

/* ---- HannWindow / HammingWindow / BlackmanWindow(size), periodic, output_datatype ---- */

static int window_size(const vrt_node *n, const vrt_tensor *t, int64_t *size) {
  int64_t v;
  if (vrt_tensor_numel(t) != 1) return KERN_ERR(n, VRT_ESHAPE, "size must be a scalar");
  int rc = vrt__kern_read_ints(n, t, "size", &v, 1);
  if (rc < 0) return rc;
  if (v < 0 || v > (INT64_C(1) << 32)) return KERN_ERR(n, VRT_EINVAL, "bad window size %lld", (long long)v);
  *size = v;
  return 0;
}

static int window_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(1);
  int64_t size;
  int rc = window_size(n, in[0], &size);
  if (rc < 0) return rc;
  vrt_dtype dt = (vrt_dtype)vrt_attr_int(n, "output_datatype", VRT_F32);
  if (!kern_is_float(dt) && !kern_is_int(dt)) return KERN_ERR(n, VRT_ETYPE, "output_datatype %s not supported", vrt_dtype_name(dt));
  kern_set_shape(out, dt, 1, &size);
  return 0;
}

static int window_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                       vrt_exec_ctx *x) {
  int64_t N = out->dims[0];
  double *w = x->scratch(x, sizeof(double) * (size_t)(N ? N : 1));
  if (!w) return KERN_ERR(n, VRT_ENOMEM, "out of memory");
  double den = vrt_attr_int(n, "periodic", 1) ? (double)N : (double)(N - 1);
  for (int64_t i = 0; i < N; i++) {
    double a = den > 0 ? 2.0 * M_PI * (double)i / den : 0;
    switch (n->op) {
      case VRT_OP_HannWindow: w[i] = 0.5 - 0.5 * cos(a); break;
      case VRT_OP_HammingWindow: w[i] = 25.0 / 46.0 - (21.0 / 46.0) * cos(a); break;
      default: w[i] = 0.42 - 0.5 * cos(a) + 0.08 * cos(2 * a); break;
    }
  }
  return vrt__kern_cast(out->data, out->dtype, w, VRT_F64, N) < 0 ? KERN_ERR(n, VRT_ETYPE, "cast failed") : 0;
}

const vrt_opdef vrt__op_HannWindow = {VRT_OP_HannWindow, NULL, window_infer, window_exec, 0, 1, 1};
const vrt_opdef vrt__op_HammingWindow = {VRT_OP_HammingWindow, NULL, window_infer, window_exec, 0, 1, 1};
const vrt_opdef vrt__op_BlackmanWindow = {VRT_OP_BlackmanWindow, NULL, window_infer, window_exec, 0, 1, 1};

/* ---- Unique(X), axis optional, sorted (default 1) ----
 * Outputs Y (unique values or slices), indices (first occurrence),
 * inverse_indices and counts. Slices are compared as double vectors: the
 * input is converted once, then sorted with a stable merge of slice ids. */

typedef struct {
  int64_t outer, D, inner; /* X viewed as [outer, D, inner]; uniques along D */
  double *v;               /* X as double */
} uniq_view;

/* compare slices a and b along D, lexicographically over (outer, inner) */
static int uniq_cmp(const uniq_view *u, int64_t a, int64_t b) {
  for (int64_t o = 0; o < u->outer; o++) {
    const double *pa = u->v + (o * u->D + a) * u->inner, *pb = u->v + (o * u->D + b) * u->inner;
    for (int64_t i = 0; i < u->inner; i++)
      if (pa[i] != pb[i]) return pa[i] < pb[i] ? -1 : 1;
  }
  return 0;
}

static void uniq_sort(const uniq_view *u, int64_t *ids, int64_t *tmp, int64_t n) {
  for (int64_t w = 1; w < n; w *= 2) /* bottom-up stable merge sort */
    for (int64_t lo = 0; lo < n; lo += 2 * w) {
      int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
      int64_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi) tmp[k++] = uniq_cmp(u, ids[j], ids[i]) < 0 ? ids[j++] : ids[i++];
      while (i < mid) tmp[k++] = ids[i++];
      while (j < hi) tmp[k++] = ids[j++];
      memcpy(ids + lo, tmp + lo, sizeof(int64_t) * (size_t)(hi - lo));
    }
}

typedef struct {
  int64_t nuniq;
  int64_t *first;   /* [nuniq] slice index of each unique, in output order */
  int64_t *inverse; /* [D] */
  int64_t *count;   /* [nuniq] */
} uniq_result;

static int uniq_run(const vrt_node *n, const vrt_tensor *t, vrt_exec_ctx *x, uniq_result *r, uniq_view *u,
                    int *axis_out) {
  const vrt_attr *a = vrt_node_attr(n, "axis");
  int axis = -1, rc;
  if (a && (rc = vrt__kern_axis(n, a->i, t->ndim, &axis)) < 0) return rc;
  *axis_out = axis;
  int64_t total = vrt_tensor_numel(t);
  u->outer = axis < 0 ? 1 : vrt__numel(t->dims, axis);
  u->D = axis < 0 ? total : t->dims[axis];
  u->inner = axis < 0 ? 1 : vrt__numel(t->dims + axis + 1, t->ndim - axis - 1);
  int64_t D = u->D;
  size_t nb = sizeof(int64_t) * (size_t)(D ? D : 1);
  u->v = x->scratch(x, sizeof(double) * (size_t)(total ? total : 1));
  int64_t *ids = x->scratch(x, nb), *tmp = x->scratch(x, nb);
  r->first = x->scratch(x, nb), r->inverse = x->scratch(x, nb), r->count = x->scratch(x, nb);
  if (!u->v || !ids || !tmp || !r->first || !r->inverse || !r->count) return KERN_ERR(n, VRT_ENOMEM, "out of memory");
  if (vrt__kern_cast(u->v, VRT_F64, t->data, t->dtype, total) < 0) return KERN_ERR(n, VRT_ETYPE, "dtype not supported");
  for (int64_t i = 0; i < D; i++) ids[i] = i;
  uniq_sort(u, ids, tmp, D); /* stable: equal slices keep ascending ids, so the first is the first occurrence */
  /* group runs of equal slices; rank[] of each group in sorted order */
  int64_t *group_first = tmp, ng = 0;
  for (int64_t i = 0; i < D; i++) {
    if (i == 0 || uniq_cmp(u, ids[i - 1], ids[i]) != 0) group_first[ng++] = ids[i];
    r->inverse[ids[i]] = ng - 1; /* group index in sorted order for now */
  }
  r->nuniq = ng;
  int sorted = (int)vrt_attr_int(n, "sorted", 1);
  /* order[g] = output position of sorted group g */
  int64_t *order = ids; /* ids no longer needed */
  if (sorted) {
    for (int64_t g = 0; g < ng; g++) order[g] = g;
  } else { /* by first occurrence: walk X in order, number groups as first seen */
    for (int64_t g = 0; g < ng; g++) order[g] = -1;
    int64_t next = 0;
    for (int64_t i = 0; i < D; i++)
      if (order[r->inverse[i]] < 0) order[r->inverse[i]] = next++;
  }
  for (int64_t g = 0; g < ng; g++) r->first[order[g]] = group_first[g], r->count[order[g]] = 0;
  for (int64_t i = 0; i < D; i++) {
    r->inverse[i] = order[r->inverse[i]];
    r->count[r->inverse[i]]++;
  }
  return 0;
}

static int unique_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(1);
  if (!kern_is_float(in[0]->dtype) && !kern_is_int(in[0]->dtype))
    return KERN_ERR(n, VRT_ETYPE, "dtype %s not supported", vrt_dtype_name(in[0]->dtype));
  if (!in[0]->data && vrt_tensor_numel(in[0]) > 0) return VRT_ENEEDDATA;
  /* the unique count needs the values: run the grouping with heap scratch */
  vrt_scratch_list sl = {0};
  vrt_exec_ctx x;
  vrt_exec_ctx_init(&x, &sl, 1);
  uniq_result r;
  uniq_view u;
  int axis;
  int rc = uniq_run(n, in[0], &x, &r, &u, &axis);
  int64_t ng = r.nuniq;
  vrt_scratch_free(&sl); /* release() alone would keep (and leak) the grown pool */
  if (rc < 0) return rc;
  if (axis < 0) {
    kern_set_shape(&out[0], in[0]->dtype, 1, &ng);
  } else {
    kern_set_shape(&out[0], in[0]->dtype, in[0]->ndim, in[0]->dims);
    out[0].dims[axis] = ng;
  }
  int64_t D = u.D;
  if (nout > 1) kern_set_shape(&out[1], VRT_I64, 1, &ng);
  if (nout > 2) kern_set_shape(&out[2], VRT_I64, 1, &D);
  if (nout > 3) kern_set_shape(&out[3], VRT_I64, 1, &ng);
  return 0;
}

static int unique_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                       vrt_exec_ctx *x) {
  uniq_result r;
  uniq_view u;
  int axis;
  int rc = uniq_run(n, in[0], x, &r, &u, &axis);
  if (rc < 0) return rc;
  size_t es = vrt_dtype_size(in[0]->dtype);
  size_t row = (size_t)u.inner * es;
  for (int64_t o = 0; o < u.outer; o++)
    for (int64_t g = 0; g < r.nuniq; g++)
      memcpy((char *)out[0].data + (o * r.nuniq + g) * (int64_t)row,
             (const char *)in[0]->data + (o * u.D + r.first[g]) * (int64_t)row, row);
  if (nout > 1 && out[1].data) memcpy(out[1].data, r.first, sizeof(int64_t) * (size_t)r.nuniq);
  if (nout > 2 && out[2].data) memcpy(out[2].data, r.inverse, sizeof(int64_t) * (size_t)u.D);
  if (nout > 3 && out[3].data) memcpy(out[3].data, r.count, sizeof(int64_t) * (size_t)r.nuniq);
  return 0;
}

const vrt_opdef vrt__op_Unique = {VRT_OP_Unique, NULL, unique_infer, unique_exec, VRT_OPF_DATA_DEPENDENT, 1, 1};

/* ---- MelWeightMatrix(num_mel_bins, dft_length, sample_rate, lower_hz, upper_hz) ----
 * Triangular filters on the mel scale, following the ONNX reference: the
 * num_mel_bins + 2 edge frequencies are spread evenly in mel, mapped back
 * to hertz and floored to DFT bins; filter i rises from edge i to edge i+1
 * and falls to edge i+2. */

typedef struct {
  int64_t mels, dft, rate;
  double lo, hi;
} mel_args;

static int mel_read(const vrt_node *n, const vrt_tensor *const *in, mel_args *a) {
  for (int i = 0; i < 5; i++) {
    if (vrt_tensor_numel(in[i]) != 1) return KERN_ERR(n, VRT_ESHAPE, "input %d must be a scalar", i);
    if (!in[i]->data) return VRT_ENEEDDATA;
  }
  for (int i = 0; i < 3; i++)
    if (!kern_is_int(in[i]->dtype)) return KERN_ERR(n, VRT_ETYPE, "input %d must be an integer", i);
  a->mels = vrt__get_i64(in[0], 0), a->dft = vrt__get_i64(in[1], 0), a->rate = vrt__get_i64(in[2], 0);
  a->lo = vrt__get_f64(in[3], 0), a->hi = vrt__get_f64(in[4], 0);
  if (a->mels < 1 || a->mels > 65536 || a->dft < 1 || a->dft > (INT64_C(1) << 24) || a->rate < 1 || !(a->hi >= a->lo) ||
      !(a->lo >= 0))
    return KERN_ERR(n, VRT_EINVAL, "bad MelWeightMatrix arguments");
  return 0;
}

static int mel_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(5);
  mel_args a;
  int rc = mel_read(n, in, &a);
  if (rc < 0) return rc;
  vrt_dtype dt = (vrt_dtype)vrt_attr_int(n, "output_datatype", VRT_F32);
  if (!kern_is_float(dt) && !kern_is_int(dt)) return KERN_ERR(n, VRT_ETYPE, "output_datatype %s not supported", vrt_dtype_name(dt));
  int64_t d[2] = {a.dft / 2 + 1, a.mels};
  kern_set_shape(out, dt, 2, d);
  return 0;
}

static int mel_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                    vrt_exec_ctx *x) {
  mel_args a;
  int rc = mel_read(n, in, &a);
  if (rc < 0) return rc;
  int64_t bins = a.dft / 2 + 1, M = a.mels;
  double *w = x->scratch(x, sizeof(double) * (size_t)(bins * M));
  int64_t *edge = x->scratch(x, sizeof(int64_t) * (size_t)(M + 2));
  if (!w || !edge) return KERN_ERR(n, VRT_ENOMEM, "out of memory");
  memset(w, 0, sizeof(double) * (size_t)(bins * M));
  double mlo = 2595.0 * log10(1.0 + a.lo / 700.0), mhi = 2595.0 * log10(1.0 + a.hi / 700.0);
  double step = (mhi - mlo) / (double)(M + 2);
  for (int64_t i = 0; i < M + 2; i++) {
    double hz = 700.0 * (pow(10.0, ((double)i * step + mlo) / 2595.0) - 1.0);
    edge[i] = (int64_t)floor((double)(a.dft + 1) * hz / (double)a.rate);
    if (edge[i] < 0) edge[i] = 0;
    if (edge[i] >= bins) edge[i] = bins - 1;
  }
  for (int64_t i = 0; i < M; i++) {
    int64_t l = edge[i], c = edge[i + 1], h = edge[i + 2];
    if (c == l) {
      w[c * M + i] = 1;
    } else {
      for (int64_t j = l; j <= c; j++) w[j * M + i] = (double)(j - l) / (double)(c - l);
    }
    for (int64_t j = c; j < h; j++) w[j * M + i] = (double)(h - j) / (double)(h - c);
  }
  return vrt__kern_cast(out->data, out->dtype, w, VRT_F64, bins * M) < 0 ? KERN_ERR(n, VRT_ETYPE, "cast failed") : 0;
}

const vrt_opdef vrt__op_MelWeightMatrix = {VRT_OP_MelWeightMatrix, NULL, mel_infer, mel_exec, 0, 5, 5};
