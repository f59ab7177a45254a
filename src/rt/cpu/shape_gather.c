/* CPU reference kernels that move data by index tensors: Gather,
 * GatherElements, GatherND, ScatterND, ScatterElements, SparseToDense
 * (TensorFlow), NonZero, OneHot. Indices are checked before any access;
 * negative indices count from the end where ONNX allows it. */
#include <stdlib.h>

#include "shape_util.h"

/* Element copy typed by size: the switch is outside the loops. */
#define BY_ES(es, BODY)                    \
  switch (es) {                            \
    case 1: { typedef uint8_t E; BODY; break; }  \
    case 2: { typedef uint16_t E; BODY; break; } \
    case 4: { typedef uint32_t E; BODY; break; } \
    default: { typedef uint64_t E; BODY; break; } \
  }

/* Read all indices as int64 into scratch, wrapping negatives against dim and
 * checking range. dim < 0 skips normalisation. */
static int64_t *load_indices(const vrt_node *n, const vrt_tensor *t, vrt_exec_ctx *x, int64_t dim) {
  int64_t cnt = vrt_tensor_numel(t);
  int64_t *idx = x->scratch(x, sizeof(int64_t) * (size_t)(cnt > 0 ? cnt : 1));
  if (!idx) {
    KERN_ERR(n, VRT_ENOMEM, "out of memory");
    return NULL;
  }
  vrt__kern_cast(idx, VRT_I64, t->data, t->dtype, cnt);
  if (dim >= 0)
    for (int64_t i = 0; i < cnt; i++) {
      int64_t v = idx[i] < 0 ? idx[i] + dim : idx[i];
      if (v < 0 || v >= dim) {
        KERN_ERR(n, VRT_EINVAL, "index %lld out of range [-%lld, %lld)", (long long)idx[i], (long long)dim, (long long)dim);
        return NULL;
      }
      idx[i] = v;
    }
  return idx;
}

static int check_index_dtype(const vrt_node *n, const vrt_tensor *t) {
  if (!kern_is_index(t->dtype)) return KERN_ERR(n, VRT_ETYPE, "indices must be int32 or int64, got %s", vrt_dtype_name(t->dtype));
  return 0;
}

static int check_data_dtype(const vrt_node *n, const vrt_tensor *t) {
  size_t es = vrt_dtype_size(t->dtype);
  if (es == 0 || es > 8) return KERN_ERR(n, VRT_ETYPE, "dtype %s not supported", vrt_dtype_name(t->dtype));
  return 0;
}

/* ---- Gather(data, indices), axis ---- */

static int gather_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(2);
  int rc, axis, r = in[0]->ndim, q = in[1]->ndim;
  if ((rc = check_data_dtype(n, in[0])) < 0 || (rc = check_index_dtype(n, in[1])) < 0) return rc;
  if ((rc = vrt__kern_axis(n, vrt_attr_int(n, "axis", 0), r, &axis)) < 0) return rc;
  if (r - 1 + q > VRT_MAX_DIMS) return KERN_ERR(n, VRT_ELIMIT, "output rank too large");
  out->dtype = in[0]->dtype;
  out->ndim = 0;
  for (int d = 0; d < axis; d++) out->dims[out->ndim++] = in[0]->dims[d];
  for (int d = 0; d < q; d++) out->dims[out->ndim++] = in[1]->dims[d];
  for (int d = axis + 1; d < r; d++) out->dims[out->ndim++] = in[0]->dims[d];
  return 0;
}

static int gather_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                       vrt_exec_ctx *x) {
  int axis;
  vrt__kern_axis(n, vrt_attr_int(n, "axis", 0), in[0]->ndim, &axis);
  int64_t D = in[0]->dims[axis];
  int64_t *idx = load_indices(n, in[1], x, D);
  if (!idx) return VRT_EINVAL;
  size_t es = vrt_dtype_size(in[0]->dtype);
  int64_t outer = vrt__numel(in[0]->dims, axis);
  int64_t inner = vrt__numel(in[0]->dims + axis + 1, in[0]->ndim - axis - 1);
  int64_t ni = vrt_tensor_numel(in[1]);
  const char *src = in[0]->data;
  char *dst = out->data;
  if (inner == 1) { /* embedding-like lookup of single elements */
    BY_ES(es, {
      const E *s = (const E *)src;
      E *d = (E *)dst;
      for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < ni; j++) d[o * ni + j] = s[o * D + idx[j]];
    })
  } else {
    size_t row = (size_t)inner * es;
    for (int64_t o = 0; o < outer; o++)
      for (int64_t j = 0; j < ni; j++) memcpy(dst + (o * ni + j) * (int64_t)row, src + (o * D + idx[j]) * (int64_t)row, row);
  }
  return 0;
}

const vrt_opdef vrt__op_Gather = {VRT_OP_Gather, NULL, gather_infer, gather_exec, 0, 2, 2};

/* ---- GatherElements(data, indices), axis ---- */

static int gel_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(2);
  int rc, axis, r = in[0]->ndim;
  if ((rc = check_data_dtype(n, in[0])) < 0 || (rc = check_index_dtype(n, in[1])) < 0) return rc;
  if ((rc = vrt__kern_axis(n, vrt_attr_int(n, "axis", 0), r, &axis)) < 0) return rc;
  if (in[1]->ndim != r) return KERN_ERR(n, VRT_ESHAPE, "indices rank %d differs from data rank %d", in[1]->ndim, r);
  kern_set_shape(out, in[0]->dtype, r, in[1]->dims);
  return 0;
}

/* Walk every position of `shape` (the indices' shape) and call BODY with
 * `pos` (flat index into indices) and `doff` (offset in data of that
 * position with the axis coordinate zeroed). */
#define WALK_ELEMS(rank, shape, dstr, axis, BODY)                          \
  do {                                                                     \
    int64_t cnt_ = vrt__numel(shape, rank), ix_[VRT_MAX_DIMS] = {0}, doff = 0; \
    for (int64_t pos = 0; pos < cnt_; pos++) {                             \
      BODY;                                                                \
      for (int k_ = rank - 1; k_ >= 0; k_--) {                             \
        if (k_ != axis) doff += dstr[k_];                                  \
        if (++ix_[k_] < shape[k_]) break;                                  \
        if (k_ != axis) doff -= dstr[k_] * shape[k_];                      \
        ix_[k_] = 0;                                                       \
      }                                                                    \
    }                                                                      \
  } while (0)

static int gel_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                    vrt_exec_ctx *x) {
  int axis, r = in[0]->ndim;
  vrt__kern_axis(n, vrt_attr_int(n, "axis", 0), r, &axis);
  for (int d = 0; d < r; d++)
    if (d != axis && in[1]->dims[d] > in[0]->dims[d]) return KERN_ERR(n, VRT_ESHAPE, "indices dim %d exceeds data", d);
  int64_t *idx = load_indices(n, in[1], x, in[0]->dims[axis]);
  if (!idx) return VRT_EINVAL;
  int64_t dstr[VRT_MAX_DIMS];
  vrt__strides(in[0]->dims, r, dstr);
  size_t es = vrt_dtype_size(in[0]->dtype);
  int64_t astr = dstr[axis];
  const int64_t *shape = in[1]->dims;
  BY_ES(es, {
    const E *s = in[0]->data;
    E *o = out->data;
    WALK_ELEMS(r, shape, dstr, axis, o[pos] = s[doff + idx[pos] * astr]);
  })
  return 0;
}

const vrt_opdef vrt__op_GatherElements = {VRT_OP_GatherElements, NULL, gel_infer, gel_exec, 0, 2, 2};

/* ---- GatherND(data, indices), batch_dims ---- */

static int gnd_check(const vrt_node *n, const vrt_tensor *const *in, int *b, int64_t *k) {
  int rc, r = in[0]->ndim, q = in[1]->ndim;
  if ((rc = check_data_dtype(n, in[0])) < 0 || (rc = check_index_dtype(n, in[1])) < 0) return rc;
  int64_t bd = vrt_attr_int(n, "batch_dims", 0);
  if (q < 1 || r < 1) return KERN_ERR(n, VRT_ESHAPE, "data and indices need rank >= 1");
  if (bd < 0 || bd >= q || bd >= r) return KERN_ERR(n, VRT_EINVAL, "bad batch_dims %lld", (long long)bd);
  *b = (int)bd;
  *k = in[1]->dims[q - 1];
  if (*k < 1 || *k > r - bd) return KERN_ERR(n, VRT_ESHAPE, "indices last dim %lld out of range", (long long)*k);
  for (int d = 0; d < bd; d++)
    if (in[0]->dims[d] != in[1]->dims[d]) return KERN_ERR(n, VRT_ESHAPE, "batch dim %d differs", d);
  return 0;
}

static int gnd_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(2);
  int b;
  int64_t k;
  int rc = gnd_check(n, in, &b, &k);
  if (rc < 0) return rc;
  int q = in[1]->ndim, r = in[0]->ndim;
  out->dtype = in[0]->dtype;
  out->ndim = 0;
  for (int d = 0; d < q - 1; d++) out->dims[out->ndim++] = in[1]->dims[d];
  for (int d = b + (int)k; d < r; d++) out->dims[out->ndim++] = in[0]->dims[d];
  return 0;
}

static int gnd_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                    vrt_exec_ctx *x) {
  int b;
  int64_t k;
  int rc = gnd_check(n, in, &b, &k);
  if (rc < 0) return rc;
  int q = in[1]->ndim, r = in[0]->ndim;
  int64_t *idx = load_indices(n, in[1], x, -1);
  if (!idx) return VRT_ENOMEM;
  int64_t dstr[VRT_MAX_DIMS];
  vrt__strides(in[0]->dims, r, dstr);
  size_t es = vrt_dtype_size(in[0]->dtype);
  int64_t slice = vrt__numel(in[0]->dims + b + k, r - b - (int)k) * (int64_t)es;
  int64_t batches = vrt__numel(in[1]->dims, b);
  int64_t tuples = vrt__numel(in[1]->dims, q - 1);
  int64_t per_batch = batches ? tuples / batches : 0;
  int64_t bstride = b ? dstr[b - 1] : 0;
  for (int64_t t = 0; t < tuples; t++) {
    int64_t off = per_batch ? (t / per_batch) * bstride : 0;
    for (int64_t j = 0; j < k; j++) {
      int64_t D = in[0]->dims[b + j], v = idx[t * k + j];
      if (v < 0) v += D;
      if (v < 0 || v >= D) return KERN_ERR(n, VRT_EINVAL, "index %lld out of range for dim %lld", (long long)idx[t * k + j], (long long)D);
      off += v * dstr[b + j];
    }
    memcpy((char *)out->data + t * slice, (const char *)in[0]->data + off * (int64_t)es, (size_t)slice);
  }
  return 0;
}

const vrt_opdef vrt__op_GatherND = {VRT_OP_GatherND, NULL, gnd_infer, gnd_exec, 0, 2, 2};

/* ---- scatter reductions ---- */

enum { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN };

static int scatter_reduction(const vrt_node *n, vrt_dtype dt, int *red) {
  const char *s = vrt_attr_string(n, "reduction", "none");
  if (!strcmp(s, "none")) *red = RED_NONE;
  else if (!strcmp(s, "add")) *red = RED_ADD;
  else if (!strcmp(s, "mul")) *red = RED_MUL;
  else if (!strcmp(s, "max")) *red = RED_MAX;
  else if (!strcmp(s, "min")) *red = RED_MIN;
  else return KERN_ERR(n, VRT_EINVAL, "unknown reduction '%s'", s);
  if (*red != RED_NONE && dt != VRT_F32 && dt != VRT_F64 && dt != VRT_I32 && dt != VRT_I64)
    return KERN_ERR(n, VRT_ETYPE, "reduction '%s' not supported for %s", s, vrt_dtype_name(dt));
  return 0;
}

/* dst[0..cnt) op= src[0..cnt) for the reduction's dtype */
#define COMBINE_T(T)                                                                               \
  do {                                                                                             \
    T *d = dst;                                                                                    \
    const T *s = src;                                                                              \
    switch (red) {                                                                                 \
      case RED_ADD: for (int64_t i = 0; i < cnt; i++) d[i] = (T)(d[i] + s[i]); break;              \
      case RED_MUL: for (int64_t i = 0; i < cnt; i++) d[i] = (T)(d[i] * s[i]); break;              \
      case RED_MAX: for (int64_t i = 0; i < cnt; i++) d[i] = s[i] > d[i] ? s[i] : d[i]; break;     \
      default: for (int64_t i = 0; i < cnt; i++) d[i] = s[i] < d[i] ? s[i] : d[i]; break;          \
    }                                                                                              \
  } while (0)

static void combine(void *dst, const void *src, vrt_dtype dt, int red, int64_t cnt, size_t es) {
  switch (red == RED_NONE ? VRT_UNDEFINED : dt) {
    case VRT_F32: COMBINE_T(float); break;
    case VRT_F64: COMBINE_T(double); break;
    case VRT_I32: COMBINE_T(int32_t); break;
    case VRT_I64: COMBINE_T(int64_t); break;
    default: memcpy(dst, src, (size_t)cnt * es);
  }
}

/* dst[off[i]] (op)= src[i] for i < cnt; duplicates apply in order. */
#define APPLY_T(T)                                                                        \
  do {                                                                                    \
    T *d = dst;                                                                           \
    const T *s = src;                                                                     \
    switch (red) {                                                                        \
      case RED_ADD: for (int64_t i = 0; i < cnt; i++) d[off[i]] = (T)(d[off[i]] + s[i]); break; \
      case RED_MUL: for (int64_t i = 0; i < cnt; i++) d[off[i]] = (T)(d[off[i]] * s[i]); break; \
      case RED_MAX: for (int64_t i = 0; i < cnt; i++) if (s[i] > d[off[i]]) d[off[i]] = s[i]; break; \
      default: for (int64_t i = 0; i < cnt; i++) if (s[i] < d[off[i]]) d[off[i]] = s[i]; break; \
    }                                                                                     \
  } while (0)

static void scatter_apply(void *dst, const int64_t *off, const void *src, int64_t cnt, vrt_dtype dt, int red,
                          size_t es) {
  if (red == RED_NONE) {
    BY_ES(es, {
      E *d = dst;
      const E *s = src;
      for (int64_t i = 0; i < cnt; i++) d[off[i]] = s[i];
    })
    return;
  }
  switch (dt) {
    case VRT_F32: APPLY_T(float); break;
    case VRT_F64: APPLY_T(double); break;
    case VRT_I32: APPLY_T(int32_t); break;
    default: APPLY_T(int64_t); break;
  }
}

/* ---- ScatterND(data, indices, updates) ---- */

static int snd_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(3);
  int rc, red;
  if ((rc = check_data_dtype(n, in[0])) < 0 || (rc = check_index_dtype(n, in[1])) < 0) return rc;
  if ((rc = scatter_reduction(n, in[0]->dtype, &red)) < 0) return rc;
  int r = in[0]->ndim, q = in[1]->ndim;
  if (q < 1) return KERN_ERR(n, VRT_ESHAPE, "indices need rank >= 1");
  int64_t k = in[1]->dims[q - 1];
  if (k < 1 || k > r) return KERN_ERR(n, VRT_ESHAPE, "indices last dim %lld out of range", (long long)k);
  if (in[2]->dtype != in[0]->dtype) return KERN_ERR(n, VRT_ETYPE, "updates dtype differs from data");
  /* updates shape = indices.shape[:-1] + data.shape[k:] */
  if (in[2]->ndim != q - 1 + r - k) return KERN_ERR(n, VRT_ESHAPE, "updates has the wrong rank");
  for (int d = 0; d < q - 1; d++)
    if (in[2]->dims[d] != in[1]->dims[d]) return KERN_ERR(n, VRT_ESHAPE, "updates dim %d mismatch", d);
  for (int d = (int)k; d < r; d++)
    if (in[2]->dims[q - 1 + d - k] != in[0]->dims[d]) return KERN_ERR(n, VRT_ESHAPE, "updates dim mismatch");
  kern_set_shape(out, in[0]->dtype, r, in[0]->dims);
  return 0;
}

static int snd_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                    vrt_exec_ctx *x) {
  int red;
  scatter_reduction(n, in[0]->dtype, &red);
  int r = in[0]->ndim, q = in[1]->ndim;
  int64_t k = in[1]->dims[q - 1];
  int64_t *idx = load_indices(n, in[1], x, -1);
  if (!idx) return VRT_ENOMEM;
  if (out->data != in[0]->data) memcpy(out->data, in[0]->data, out->nbytes);
  int64_t dstr[VRT_MAX_DIMS];
  vrt__strides(in[0]->dims, r, dstr);
  size_t es = vrt_dtype_size(in[0]->dtype);
  int64_t slice = vrt__numel(in[0]->dims + k, r - (int)k);
  int64_t tuples = vrt__numel(in[1]->dims, q - 1);
  for (int64_t t = 0; t < tuples; t++) {
    int64_t off = 0;
    for (int64_t j = 0; j < k; j++) {
      int64_t D = in[0]->dims[j], v = idx[t * k + j];
      if (v < 0) v += D;
      if (v < 0 || v >= D) return KERN_ERR(n, VRT_EINVAL, "index %lld out of range for dim %lld", (long long)idx[t * k + j], (long long)D);
      off += v * dstr[j];
    }
    combine((char *)out->data + off * (int64_t)es, (const char *)in[2]->data + t * slice * (int64_t)es, in[0]->dtype,
            red, slice, es);
  }
  return 0;
}

const vrt_opdef vrt__op_ScatterND = {VRT_OP_ScatterND, NULL, snd_infer, snd_exec, 0, 3, 3};

/* ---- ScatterElements(data, indices, updates), axis ---- */

static int sel_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(3);
  int rc, red, axis, r = in[0]->ndim;
  if ((rc = check_data_dtype(n, in[0])) < 0 || (rc = check_index_dtype(n, in[1])) < 0) return rc;
  if ((rc = scatter_reduction(n, in[0]->dtype, &red)) < 0) return rc;
  if ((rc = vrt__kern_axis(n, vrt_attr_int(n, "axis", 0), r, &axis)) < 0) return rc;
  if (in[1]->ndim != r || !vrt__same_shape(in[1], in[2])) return KERN_ERR(n, VRT_ESHAPE, "indices and updates must have data's rank and one shape");
  if (in[2]->dtype != in[0]->dtype) return KERN_ERR(n, VRT_ETYPE, "updates dtype differs from data");
  for (int d = 0; d < r; d++)
    if (d != axis && in[1]->dims[d] > in[0]->dims[d]) return KERN_ERR(n, VRT_ESHAPE, "indices dim %d exceeds data", d);
  kern_set_shape(out, in[0]->dtype, r, in[0]->dims);
  return 0;
}

static int sel_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                    vrt_exec_ctx *x) {
  int red, axis, r = in[0]->ndim;
  scatter_reduction(n, in[0]->dtype, &red);
  vrt__kern_axis(n, vrt_attr_int(n, "axis", 0), r, &axis);
  int64_t *idx = load_indices(n, in[1], x, in[0]->dims[axis]);
  if (!idx) return VRT_EINVAL;
  if (out->data != in[0]->data) memcpy(out->data, in[0]->data, out->nbytes);
  int64_t dstr[VRT_MAX_DIMS];
  vrt__strides(in[0]->dims, r, dstr);
  size_t es = vrt_dtype_size(in[0]->dtype);
  int64_t astr = dstr[axis];
  const int64_t *shape = in[1]->dims;
  int64_t cnt = vrt_tensor_numel(in[1]);
  int64_t *offs = x->scratch(x, sizeof(int64_t) * (size_t)(cnt > 0 ? cnt : 1));
  if (!offs) return KERN_ERR(n, VRT_ENOMEM, "out of memory");
  WALK_ELEMS(r, shape, dstr, axis, offs[pos] = doff + idx[pos] * astr);
  scatter_apply(out->data, offs, in[2]->data, cnt, in[0]->dtype, red, es);
  return 0;
}

const vrt_opdef vrt__op_ScatterElements = {VRT_OP_ScatterElements, NULL, sel_infer, sel_exec, 0, 3, 3};
/* Scatter (opset 9-10) is ScatterElements without reduction */
const vrt_opdef vrt__op_Scatter = {VRT_OP_Scatter, NULL, sel_infer, sel_exec, 0, 3, 3};

/* ---- SparseToDense(sparse_indices, output_shape, sparse_values, default_value) (TF) ---- */

static int s2d_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(4);
  int rc;
  int64_t shape[VRT_MAX_DIMS];
  if ((rc = check_index_dtype(n, in[0])) < 0 || (rc = check_data_dtype(n, in[2])) < 0) return rc;
  if (in[3]->dtype != in[2]->dtype || vrt_tensor_numel(in[3]) != 1)
    return KERN_ERR(n, VRT_ESHAPE, "default_value must be a scalar of the values' dtype");
  if (in[0]->ndim > 2) return KERN_ERR(n, VRT_ESHAPE, "sparse_indices must have rank <= 2");
  int ns = vrt__kern_read_ints(n, in[1], "output_shape", shape, VRT_MAX_DIMS);
  if (ns < 0) return ns;
  for (int i = 0; i < ns; i++)
    if (shape[i] < 0) return KERN_ERR(n, VRT_ESHAPE, "negative output dim");
  int64_t nvals = in[0]->ndim == 0 ? 1 : in[0]->dims[0];
  int64_t rank_idx = in[0]->ndim == 2 ? in[0]->dims[1] : 1;
  if (rank_idx != ns) return KERN_ERR(n, VRT_ESHAPE, "indices have %lld coordinates, output rank is %d", (long long)rank_idx, ns);
  int64_t nv = vrt_tensor_numel(in[2]);
  if (nv != 1 && nv != nvals) return KERN_ERR(n, VRT_ESHAPE, "sparse_values must be a scalar or have %lld values", (long long)nvals);
  kern_set_shape(out, in[2]->dtype, ns, shape);
  return 0;
}

static int s2d_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                    vrt_exec_ctx *x) {
  size_t es = vrt_dtype_size(out->dtype);
  int ns = out->ndim;
  vrt__kern_strided_copy(out->data, in[3]->data, es, vrt_tensor_numel(out), 0);
  int64_t *idx = load_indices(n, in[0], x, -1);
  if (!idx) return VRT_ENOMEM;
  int64_t ostr[VRT_MAX_DIMS];
  vrt__strides(out->dims, ns, ostr);
  int64_t nvals = in[0]->ndim == 0 ? 1 : in[0]->dims[0];
  int64_t vstride = vrt_tensor_numel(in[2]) == 1 ? 0 : 1;
  int64_t per = ns ? ns : 1;
  for (int64_t v = 0; v < nvals; v++) {
    int64_t off = 0;
    for (int d = 0; d < ns; d++) {
      int64_t i = idx[v * per + d];
      if (i < 0 || i >= out->dims[d]) return KERN_ERR(n, VRT_EINVAL, "sparse index %lld out of range for dim %lld", (long long)i, (long long)out->dims[d]);
      off += i * ostr[d];
    }
    memcpy((char *)out->data + off * (int64_t)es, (const char *)in[2]->data + v * vstride * (int64_t)es, es);
  }
  return 0;
}

const vrt_opdef vrt__op_SparseToDense = {VRT_OP_SparseToDense, NULL, s2d_infer, s2d_exec, 0, 4, 4};

/* ---- NonZero(x) -> int64 [rank, nnz] ---- */

#define NZ_COUNT(DT, T, CT, LD, ST, SFX) \
  case DT: { const T *p = t->data; for (int64_t i = 0; i < cnt; i++) if (LD(p[i]) != 0) { if (mark) mark[nz] = i; nz++; } break; }

static int64_t nonzero_scan(const vrt_tensor *t, int64_t *mark) {
  int64_t cnt = vrt_tensor_numel(t), nz = 0;
  switch (t->dtype) {
    KERN_FLOAT_TYPES(NZ_COUNT)
    KERN_INT_TYPES(NZ_COUNT)
    case VRT_BOOL: { const uint8_t *p = t->data; for (int64_t i = 0; i < cnt; i++) if (p[i]) { if (mark) mark[nz] = i; nz++; } break; }
    default: return -1;
  }
  return nz;
}

static int nonzero_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(1);
  if (!kern_is_float(in[0]->dtype) && !kern_is_int(in[0]->dtype) && in[0]->dtype != VRT_BOOL)
    return KERN_ERR(n, VRT_ETYPE, "dtype %s not supported", vrt_dtype_name(in[0]->dtype));
  if (!in[0]->data && vrt_tensor_numel(in[0]) > 0) return VRT_ENEEDDATA;
  int64_t d[2] = {in[0]->ndim, nonzero_scan(in[0], NULL)};
  kern_set_shape(out, VRT_I64, 2, d);
  return 0;
}

static int nonzero_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                        vrt_exec_ctx *x) {
  int64_t nz = out->dims[1], r = in[0]->ndim;
  int64_t *mark = x->scratch(x, sizeof(int64_t) * (size_t)(nz ? nz : 1));
  if (!mark) return KERN_ERR(n, VRT_ENOMEM, "out of memory");
  if (nonzero_scan(in[0], mark) != nz) return KERN_ERR(n, VRT_EINVAL, "input changed since shape inference");
  int64_t *o = out->data;
  for (int64_t j = 0; j < nz; j++) {
    int64_t flat = mark[j];
    for (int64_t d = r - 1; d >= 0; d--) {
      int64_t D = in[0]->dims[d];
      o[d * nz + j] = flat % D;
      flat /= D;
    }
  }
  return 0;
}

const vrt_opdef vrt__op_NonZero = {VRT_OP_NonZero, NULL, nonzero_infer, nonzero_exec, VRT_OPF_DATA_DEPENDENT, 1, 1};

/* ---- OneHot(indices, depth, values[off, on]), axis ---- */

static int onehot_depth(const vrt_node *n, const vrt_tensor *t, int64_t *depth) {
  if (vrt_tensor_numel(t) != 1) return KERN_ERR(n, VRT_ESHAPE, "depth must have one element");
  if (!t->data) return VRT_ENEEDDATA;
  double d = vrt__get_f64(t, 0);
  if (!(d >= 1) || d > (double)(INT64_C(1) << 32)) return KERN_ERR(n, VRT_EINVAL, "bad depth %g", d);
  *depth = (int64_t)d;
  return 0;
}

static int onehot_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(3);
  int rc, axis;
  int64_t depth;
  if (!kern_is_float(in[0]->dtype) && !kern_is_int(in[0]->dtype)) return KERN_ERR(n, VRT_ETYPE, "indices must be numeric");
  if ((rc = check_data_dtype(n, in[2])) < 0) return rc;
  if (vrt_tensor_numel(in[2]) != 2) return KERN_ERR(n, VRT_ESHAPE, "values must have 2 elements");
  if ((rc = onehot_depth(n, in[1], &depth)) < 0) return rc;
  int r = in[0]->ndim + 1;
  if (r > VRT_MAX_DIMS) return KERN_ERR(n, VRT_ELIMIT, "output rank too large");
  if ((rc = vrt__kern_axis(n, vrt_attr_int(n, "axis", -1), r, &axis)) < 0) return rc;
  out->dtype = in[2]->dtype;
  out->ndim = r;
  for (int d = 0, k = 0; d < r; d++) out->dims[d] = d == axis ? depth : in[0]->dims[k++];
  return 0;
}

static int onehot_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                       vrt_exec_ctx *x) {
  int axis;
  int64_t depth;
  int rc = onehot_depth(n, in[1], &depth);
  if (rc < 0) return rc;
  vrt__kern_axis(n, vrt_attr_int(n, "axis", -1), out->ndim, &axis);
  size_t es = vrt_dtype_size(out->dtype);
  const char *vals = in[2]->data;
  vrt__kern_strided_copy(out->data, vals, es, vrt_tensor_numel(out), 0);
  int64_t outer = vrt__numel(out->dims, axis);
  int64_t inner = vrt__numel(out->dims + axis + 1, out->ndim - axis - 1);
  int64_t cnt = vrt_tensor_numel(in[0]);
  int64_t *idx = x->scratch(x, sizeof(int64_t) * (size_t)(cnt > 0 ? cnt : 1));
  if (!idx) return KERN_ERR(n, VRT_ENOMEM, "out of memory");
  vrt__kern_cast(idx, VRT_I64, in[0]->data, in[0]->dtype, cnt);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      int64_t v = idx[o * inner + i];
      if (v < 0) v += depth;
      if (v < 0 || v >= depth) continue;
      memcpy((char *)out->data + ((o * depth + v) * inner + i) * (int64_t)es, vals + es, es);
    }
  return 0;
}

const vrt_opdef vrt__op_OneHot = {VRT_OP_OneHot, NULL, onehot_infer, onehot_exec, 0, 3, 3};
