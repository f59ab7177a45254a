/* CPU reference kernels: the "shape" family of ops.def. This file holds the
 * views (Reshape, Flatten, Squeeze, Unsqueeze), shape queries (Shape, Size),
 * generators (ConstantOfShape, Range, EyeLike, Constant) and the family
 * table; the movers live in shape_transpose.c, shape_slice.c,
 * shape_gather.c and shape_extra.c. */
#include <math.h>
#include <stdlib.h>

#include "shape_util.h"

/* Views only change the shape: copy unless the executor aliased. */
static int view_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                     vrt_exec_ctx *x) {
  if (out->data != in[0]->data && out->nbytes) memmove(out->data, in[0]->data, out->nbytes);
  return 0;
}

static int check_numel(const vrt_node *n, const vrt_tensor *in, const vrt_tensor *out) {
  int64_t a = vrt_tensor_numel(in), b = vrt_tensor_numel(out);
  if (a != b) {
    char s1[128], s2[128];
    return KERN_ERR(n, VRT_ESHAPE, "cannot reshape %s into %s", vrt__shape_str(in->dims, in->ndim, s1, sizeof s1),
                  vrt__shape_str(out->dims, out->ndim, s2, sizeof s2));
  }
  return 0;
}

/* ---- Reshape(data, shape) ---- */

static int reshape_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(1);
  int64_t shape[VRT_MAX_DIMS];
  int ns;
  if (nin > 1 && in[1]) {
    ns = vrt__kern_read_ints(n, in[1], "shape", shape, VRT_MAX_DIMS);
    if (ns < 0) return ns;
  } else { /* opset 1-4 attribute form */
    const int64_t *s;
    ns = vrt_attr_ints(n, "shape", &s);
    if (ns > VRT_MAX_DIMS) return KERN_ERR(n, VRT_ELIMIT, "shape has %d dims", ns);
    if (ns > 0) memcpy(shape, s, sizeof(int64_t) * (size_t)ns);
  }
  int allowzero = (int)vrt_attr_int(n, "allowzero", 0);
  int infer_at = -1;
  int64_t known = 1;
  for (int i = 0; i < ns; i++) {
    int64_t d = shape[i];
    if (d == 0 && !allowzero) {
      if (i >= in[0]->ndim) return KERN_ERR(n, VRT_ESHAPE, "shape[%d] = 0 copies a dim the input lacks", i);
      d = in[0]->dims[i];
    }
    if (d == -1) {
      if (infer_at >= 0) return KERN_ERR(n, VRT_ESHAPE, "more than one -1 in shape");
      infer_at = i;
    } else if (d < 0) {
      return KERN_ERR(n, VRT_ESHAPE, "negative dim %lld in shape", (long long)d);
    } else if (__builtin_mul_overflow(known, d, &known)) {
      return KERN_ERR(n, VRT_ELIMIT, "shape too large");
    }
    out->dims[i] = d;
  }
  out->dtype = in[0]->dtype;
  out->ndim = ns;
  if (infer_at >= 0) {
    int64_t total = vrt_tensor_numel(in[0]);
    if (known == 0 || total % known)
      return KERN_ERR(n, VRT_ESHAPE, "cannot infer -1: %lld elements not divisible by %lld", (long long)total,
                    (long long)known);
    out->dims[infer_at] = total / known;
  }
  return check_numel(n, in[0], out);
}

/* ---- Flatten ---- */

static int flatten_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(1);
  int rank = in[0]->ndim;
  int64_t axis = vrt_attr_int(n, "axis", 1);
  if (axis < -rank || axis > rank) return KERN_ERR(n, VRT_EINVAL, "axis %lld out of range for rank %d", (long long)axis, rank);
  if (axis < 0) axis += rank;
  int64_t a = vrt__numel(in[0]->dims, (int)axis), b = vrt__numel(in[0]->dims + axis, rank - (int)axis);
  int64_t d[2] = {a, b};
  kern_set_shape(out, in[0]->dtype, 2, d);
  return 0;
}

/* ---- Squeeze / Unsqueeze: axes from input 1 (opset >= 13) or attribute ---- */

static int axes_of(const vrt_node *n, const vrt_tensor *const *in, int nin, int64_t *axes) {
  if (nin > 1 && in[1]) return vrt__kern_read_ints(n, in[1], "axes", axes, VRT_MAX_DIMS);
  const int64_t *a;
  int na = vrt_attr_ints(n, "axes", &a);
  if (na > VRT_MAX_DIMS) return KERN_ERR(n, VRT_ELIMIT, "too many axes");
  if (na > 0) memcpy(axes, a, sizeof(int64_t) * (size_t)na);
  return na;
}

static int squeeze_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(1);
  int64_t axes[VRT_MAX_DIMS];
  int na = axes_of(n, in, nin, axes);
  if (na < 0) return na;
  int rank = in[0]->ndim;
  bool drop[VRT_MAX_DIMS] = {0};
  for (int i = 0; i < na; i++) {
    int a;
    int rc = vrt__kern_axis(n, axes[i], rank, &a);
    if (rc < 0) return rc;
    if (in[0]->dims[a] != 1)
      return KERN_ERR(n, VRT_ESHAPE, "cannot squeeze axis %d of size %lld", a, (long long)in[0]->dims[a]);
    drop[a] = true;
  }
  out->dtype = in[0]->dtype;
  out->ndim = 0;
  for (int d = 0; d < rank; d++) {
    if (na == 0 ? in[0]->dims[d] == 1 : drop[d]) continue;
    out->dims[out->ndim++] = in[0]->dims[d];
  }
  return 0;
}

static int unsqueeze_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(1);
  int64_t axes[VRT_MAX_DIMS];
  int na = axes_of(n, in, nin, axes);
  if (na < 0) return na;
  int orank = in[0]->ndim + na;
  if (orank > VRT_MAX_DIMS) return KERN_ERR(n, VRT_ELIMIT, "output rank %d exceeds %d", orank, VRT_MAX_DIMS);
  bool ins[VRT_MAX_DIMS];
  int rc = vrt__kern_axes_mask(n, axes, na, orank, ins);
  if (rc < 0) return rc;
  out->dtype = in[0]->dtype;
  out->ndim = orank;
  for (int d = 0, k = 0; d < orank; d++) out->dims[d] = ins[d] ? 1 : in[0]->dims[k++];
  return 0;
}

/* ---- Shape, Size ---- */

static void shape_range(const vrt_node *n, int rank, int64_t *s, int64_t *e) {
  int64_t start = vrt_attr_int(n, "start", 0), end = vrt_attr_int(n, "end", rank);
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  *s = start < 0 ? 0 : start > rank ? rank : start;
  *e = end < 0 ? 0 : end > rank ? rank : end;
  if (*e < *s) *e = *s;
}

static int shape_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(1);
  int64_t s, e;
  shape_range(n, in[0]->ndim, &s, &e);
  int64_t d = e - s;
  kern_set_shape(out, VRT_I64, 1, &d);
  return 0;
}

static int shape_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                      vrt_exec_ctx *x) {
  int64_t s, e;
  shape_range(n, in[0]->ndim, &s, &e);
  int64_t *o = out->data;
  for (int64_t i = s; i < e; i++) o[i - s] = in[0]->dims[i];
  return 0;
}

static int size_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(1);
  kern_set_shape(out, VRT_I64, 0, NULL);
  return 0;
}

static int size_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                     vrt_exec_ctx *x) {
  *(int64_t *)out->data = vrt_tensor_numel(in[0]);
  return 0;
}

/* ---- generators ---- */

/* Fill count elements of es bytes with the value at v. */
static void fill_elems(void *dst, const void *v, size_t es, int64_t count) {
  vrt__kern_strided_copy(dst, v, es, count, 0);
}

static int cos_value(const vrt_node *n, vrt_dtype *dt, const void **v) {
  static const float zero = 0;
  const vrt_attr *a = vrt_node_attr(n, "value");
  *dt = VRT_F32;
  *v = &zero;
  if (!a) return 0;
  if (a->type != VRT_ATTR_TENSOR || !a->t || vrt_tensor_numel(a->t) != 1 || vrt_dtype_size(a->t->dtype) == 0)
    return KERN_ERR(n, VRT_EINVAL, "value must be a one-element tensor");
  *dt = a->t->dtype;
  *v = a->t->data;
  return 0;
}

static int cos_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(1);
  int64_t dims[VRT_MAX_DIMS];
  int nd = vrt__kern_read_ints(n, in[0], "shape", dims, VRT_MAX_DIMS);
  if (nd < 0) return nd;
  for (int i = 0; i < nd; i++)
    if (dims[i] < 0) return KERN_ERR(n, VRT_ESHAPE, "negative dim %lld", (long long)dims[i]);
  vrt_dtype dt;
  const void *v;
  int rc = cos_value(n, &dt, &v);
  if (rc < 0) return rc;
  kern_set_shape(out, dt, nd, dims);
  return 0;
}

static int cos_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                    vrt_exec_ctx *x) {
  vrt_dtype dt;
  const void *v;
  int rc = cos_value(n, &dt, &v);
  if (rc < 0) return rc;
  fill_elems(out->data, v, vrt_dtype_size(dt), vrt_tensor_numel(out));
  return 0;
}

/* Range(start, limit, delta): ceil((limit - start) / delta) elements. */
static int range_count(const vrt_node *n, const vrt_tensor *const *in, int64_t *count) {
  for (int i = 0; i < 3; i++) {
    if (vrt_tensor_numel(in[i]) != 1) return KERN_ERR(n, VRT_ESHAPE, "input %d must be a scalar", i);
    if (in[i]->dtype != in[0]->dtype) return KERN_ERR(n, VRT_ETYPE, "inputs must share one dtype");
    if (!in[i]->data) return VRT_ENEEDDATA;
  }
  vrt_dtype dt = in[0]->dtype;
  if (!kern_is_float(dt) && !kern_is_int(dt)) return KERN_ERR(n, VRT_ETYPE, "dtype %s not supported", vrt_dtype_name(dt));
  double cnt;
  if (kern_is_int(dt)) {
    int64_t s = vrt__get_i64(in[0], 0), l = vrt__get_i64(in[1], 0), d = vrt__get_i64(in[2], 0);
    if (d == 0) return KERN_ERR(n, VRT_EINVAL, "delta is 0");
    cnt = ceil(((double)l - (double)s) / (double)d);
  } else {
    double s = vrt__get_f64(in[0], 0), l = vrt__get_f64(in[1], 0), d = vrt__get_f64(in[2], 0);
    if (d == 0 || d != d) return KERN_ERR(n, VRT_EINVAL, "delta is 0 or NaN");
    cnt = ceil((l - s) / d);
  }
  if (!(cnt == cnt) || cnt < 0) cnt = 0;
  if (cnt > (double)(INT64_C(1) << 40)) return KERN_ERR(n, VRT_ELIMIT, "range of %g elements is too large", cnt);
  *count = (int64_t)cnt;
  return 0;
}

static int range_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(3);
  int64_t cnt = 0;
  int rc = range_count(n, in, &cnt);
  if (rc < 0) return rc;
  kern_set_shape(out, in[0]->dtype, 1, &cnt);
  return 0;
}

#define RANGE_LOOP(DT, T, CT, LD, ST, SFX)                                 \
  case DT: {                                                               \
    T *o = out->data;                                                      \
    CT s = LD(*(const T *)in[0]->data), d = LD(*(const T *)in[2]->data);   \
    for (int64_t i = 0; i < cnt; i++) o[i] = ST((CT)(s + (CT)i * d));      \
    break;                                                                 \
  }

static int range_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                      vrt_exec_ctx *x) {
  int64_t cnt = vrt_tensor_numel(out);
  switch (in[0]->dtype) {
    KERN_FLOAT_TYPES(RANGE_LOOP)
    KERN_INT_TYPES(RANGE_LOOP)
    default: return KERN_ERR(n, VRT_ETYPE, "dtype not supported");
  }
  return 0;
}

/* EyeLike(x): 2-D, ones on diagonal k, dtype attr (default x's) */
static int eyelike_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(1);
  if (in[0]->ndim != 2) return KERN_ERR(n, VRT_ESHAPE, "input must be 2-D");
  vrt_dtype dt = (vrt_dtype)vrt_attr_int(n, "dtype", in[0]->dtype);
  if (!kern_is_float(dt) && !kern_is_int(dt) && dt != VRT_BOOL) return KERN_ERR(n, VRT_ETYPE, "dtype %s not supported", vrt_dtype_name(dt));
  kern_set_shape(out, dt, 2, in[0]->dims);
  return 0;
}

static int eyelike_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                        vrt_exec_ctx *x) {
  int64_t k = vrt_attr_int(n, "k", 0), R = out->dims[0], C = out->dims[1];
  size_t es = vrt_dtype_size(out->dtype);
  uint64_t one = 0;
  double d1 = 1;
  vrt__kern_cast(&one, out->dtype, &d1, VRT_F64, 1);
  memset(out->data, 0, out->nbytes);
  for (int64_t i = 0; i < R; i++) {
    int64_t j = i + k;
    if (j >= 0 && j < C) memcpy((char *)out->data + (i * C + j) * (int64_t)es, &one, es);
  }
  return 0;
}

/* Constant: value (tensor) or value_float(s) / value_int(s) */
static int constant_src(const vrt_node *n, vrt_tensor *t) {
  const vrt_attr *a;
  memset(t, 0, sizeof *t);
  if ((a = vrt_node_attr(n, "value")) && a->type == VRT_ATTR_TENSOR && a->t) {
    *t = *a->t;
  } else if ((a = vrt_node_attr(n, "value_float"))) {
    t->dtype = VRT_F32, t->data = (void *)&a->f;
  } else if ((a = vrt_node_attr(n, "value_floats"))) {
    t->dtype = VRT_F32, t->ndim = 1, t->dims[0] = a->n, t->data = a->floats;
  } else if ((a = vrt_node_attr(n, "value_int"))) {
    t->dtype = VRT_I64, t->data = (void *)&a->i;
  } else if ((a = vrt_node_attr(n, "value_ints"))) {
    t->dtype = VRT_I64, t->ndim = 1, t->dims[0] = a->n, t->data = a->ints;
  } else {
    return KERN_ERR(n, VRT_EUNSUPPORTED, "no supported value attribute");
  }
  if (vrt_dtype_size(t->dtype) == 0) return KERN_ERR(n, VRT_ETYPE, "dtype %s not supported", vrt_dtype_name(t->dtype));
  return 0;
}

static int constant_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  vrt_tensor t;
  int rc = constant_src(n, &t);
  if (rc < 0) return rc;
  kern_set_shape(out, t.dtype, t.ndim, t.dims);
  return 0;
}

static int constant_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                         vrt_exec_ctx *x) {
  vrt_tensor t;
  int rc = constant_src(n, &t);
  if (rc < 0) return rc;
  if (out->nbytes) memcpy(out->data, t.data, out->nbytes);
  return 0;
}

const vrt_opdef vrt__op_Reshape = {VRT_OP_Reshape, NULL, reshape_infer, view_exec, VRT_OPF_ALIAS_IN0, 1, 2};
const vrt_opdef vrt__op_Flatten = {VRT_OP_Flatten, NULL, flatten_infer, view_exec, VRT_OPF_ALIAS_IN0, 1, 1};
const vrt_opdef vrt__op_Squeeze = {VRT_OP_Squeeze, NULL, squeeze_infer, view_exec, VRT_OPF_ALIAS_IN0, 1, 2};
const vrt_opdef vrt__op_Unsqueeze = {VRT_OP_Unsqueeze, NULL, unsqueeze_infer, view_exec, VRT_OPF_ALIAS_IN0, 1, 2};
const vrt_opdef vrt__op_Shape = {VRT_OP_Shape, NULL, shape_infer, shape_exec, 0, 1, 1};
const vrt_opdef vrt__op_Size = {VRT_OP_Size, NULL, size_infer, size_exec, 0, 1, 1};
const vrt_opdef vrt__op_ConstantOfShape = {VRT_OP_ConstantOfShape, NULL, cos_infer, cos_exec, 0, 1, 1};
const vrt_opdef vrt__op_Range = {VRT_OP_Range, NULL, range_infer, range_exec, 0, 3, 3};
const vrt_opdef vrt__op_EyeLike = {VRT_OP_EyeLike, NULL, eyelike_infer, eyelike_exec, 0, 1, 1};
const vrt_opdef vrt__op_Constant = {VRT_OP_Constant, NULL, constant_infer, constant_exec, 0, 0, 0};

