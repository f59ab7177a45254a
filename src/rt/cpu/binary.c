/* CPU reference kernels: the "binary" family of ops.def (broadcasting
 * arithmetic, comparisons, logic, variadic Sum/Mean/Max/Min, Where) and the
 * broadcasting engine that Expand and others share. */
#include <stdlib.h>
#include <tgmath.h>

#include "shape_util.h"

/* ---- broadcasting engine ----
 * Align every input to the output's rank with stride 0 on broadcast dims,
 * drop size-1 dims, merge neighbouring dims that stay contiguous for every
 * input, then walk the outer dims with an odometer and hand each innermost
 * run to the row function. After merging, the innermost stride of each input
 * is 1 or 0, so row functions only see those two cases. */
int vrt__kern_broadcast(const vrt_node *n, vrt_tensor *out, const vrt_tensor *const *in, int nin, vrt__kern_row_fn row,
                 void *ctx) {
  int nd = out->ndim;
  int64_t cd[VRT_MAX_DIMS], cs[3][VRT_MAX_DIMS];
  size_t es[3];
  int m = 0;
  int64_t total = vrt__numel(out->dims, nd);
  if (total < 0) return KERN_ERR(n, VRT_ESHAPE, "bad output shape");
  for (int k = 0; k < nin; k++) {
    if (in[k]->ndim > nd) return KERN_ERR(n, VRT_ESHAPE, "input %d has rank %d > output rank %d", k, in[k]->ndim, nd);
    es[k] = vrt_dtype_size(in[k]->dtype);
  }
  for (int d = 0; d < nd; d++) {
    int64_t od = out->dims[d];
    int64_t st[3];
    for (int k = 0; k < nin; k++) {
      int id = d - (nd - in[k]->ndim);
      int64_t idim = id >= 0 ? in[k]->dims[id] : 1;
      int64_t stride = 1;
      for (int j = id < 0 ? 0 : id + 1; j < in[k]->ndim; j++) stride *= in[k]->dims[j];
      if (idim == od) st[k] = id >= 0 ? stride : 0;
      else if (idim == 1) st[k] = 0;
      else {
        char a[96], b[96];
        return KERN_ERR(n, VRT_ESHAPE, "cannot broadcast input %d %s to %s", k,
                      vrt__shape_str(in[k]->dims, in[k]->ndim, a, sizeof a), vrt__shape_str(out->dims, nd, b, sizeof b));
      }
    }
    if (od == 1) continue;
    bool merge = m > 0;
    for (int k = 0; k < nin && merge; k++) merge = cs[k][m - 1] == st[k] * od;
    if (merge) {
      cd[m - 1] *= od;
      for (int k = 0; k < nin; k++) cs[k][m - 1] = st[k];
    } else {
      cd[m] = od;
      for (int k = 0; k < nin; k++) cs[k][m] = st[k];
      m++;
    }
  }
  if (total == 0) return 0;
  if (m == 0) {
    cd[0] = 1;
    for (int k = 0; k < nin; k++) cs[k][0] = 0;
    m = 1;
  }
  int64_t inner = cd[m - 1];
  int64_t s[3];
  for (int k = 0; k < nin; k++) s[k] = cs[k][m - 1];
  size_t oes = vrt_dtype_size(out->dtype);
  int64_t idx[VRT_MAX_DIMS] = {0};
  int64_t off[3] = {0, 0, 0};
  const void *p[3];
  for (int64_t o = 0; o < total; o += inner) {
    for (int k = 0; k < nin; k++) p[k] = (const char *)in[k]->data + off[k] * (int64_t)es[k];
    row(ctx, (char *)out->data + o * (int64_t)oes, p, s, inner);
    for (int d = m - 2; d >= 0; d--) { /* odometer over outer dims */
      idx[d]++;
      for (int k = 0; k < nin; k++) off[k] += cs[k][d];
      if (idx[d] < cd[d]) break;
      for (int k = 0; k < nin; k++) off[k] -= cs[k][d] * cd[d];
      idx[d] = 0;
    }
  }
  return 0;
}

static void copy_row(void *ctx, void *o, const void *const *p, const int64_t *s, int64_t n) {
  vrt__kern_strided_copy(o, p[0], *(const size_t *)ctx, n, s[0]);
}

int vrt__kern_broadcast_copy(const vrt_node *n, vrt_tensor *out, const vrt_tensor *in) {
  size_t es = vrt_dtype_size(in->dtype);
  const vrt_tensor *ins[1] = {in};
  return vrt__kern_broadcast(n, out, ins, 1, copy_row, &es);
}

/* ---- typed binary loops ---- */

typedef void (*bin_fn)(void *o, const void *a, int64_t sa, const void *b, int64_t sb, int64_t n);

#define BIN_ONE(NAME, T, CT, LD, OT, OST, SFX, EXPR)                                                   \
  static void NAME##_##SFX(void *o_, const void *a_, int64_t sa, const void *b_, int64_t sb, int64_t n) { \
    typedef CT ct;                                                                                     \
    OT *o = o_;                                                                                        \
    const T *a = a_, *b = b_;                                                                          \
    if (sa == 1 && sb == 1) {                                                                          \
      for (int64_t i = 0; i < n; i++) {                                                                \
        ct x = LD(a[i]), y = LD(b[i]);                                                                 \
        o[i] = OST(EXPR);                                                                              \
      }                                                                                                \
    } else if (sb == 0) {                                                                              \
      ct y = LD(b[0]);                                                                                 \
      for (int64_t i = 0; i < n; i++) {                                                                \
        ct x = LD(a[i * sa]);                                                                          \
        o[i] = OST(EXPR);                                                                              \
      }                                                                                                \
    } else {                                                                                           \
      ct x = LD(a[0]);                                                                                 \
      for (int64_t i = 0; i < n; i++) {                                                                \
        ct y = LD(b[i]);                                                                               \
        o[i] = OST(EXPR);                                                                              \
      }                                                                                                \
    }                                                                                                  \
  }

#define F32_TO_F16(x) vrt__f32_to_f16((float)(x))
#define F32_TO_BF16(x) vrt__f32_to_bf16((float)(x))
#define GEN_F(NAME, EXPR)                                                         \
  BIN_ONE(NAME, float, float, KERN_ID, float, (float), f32, EXPR)                   \
  BIN_ONE(NAME, double, double, KERN_ID, double, (double), f64, EXPR)               \
  BIN_ONE(NAME, uint16_t, float, vrt__f16_to_f32, uint16_t, F32_TO_F16, f16, EXPR) \
  BIN_ONE(NAME, uint16_t, float, vrt__bf16_to_f32, uint16_t, F32_TO_BF16, bf16, EXPR)
#define GEN_FB(NAME, EXPR)                                                        \
  BIN_ONE(NAME, float, float, KERN_ID, uint8_t, (uint8_t), f32, EXPR)               \
  BIN_ONE(NAME, double, double, KERN_ID, uint8_t, (uint8_t), f64, EXPR)             \
  BIN_ONE(NAME, uint16_t, float, vrt__f16_to_f32, uint8_t, (uint8_t), f16, EXPR)  \
  BIN_ONE(NAME, uint16_t, float, vrt__bf16_to_f32, uint8_t, (uint8_t), bf16, EXPR)
#define GEN_S_(NAME, EXPR, O)                                                 \
  BIN_ONE(NAME, int8_t, int8_t, KERN_ID, O(int8_t), (O(int8_t)), i8, EXPR)        \
  BIN_ONE(NAME, int16_t, int16_t, KERN_ID, O(int16_t), (O(int16_t)), i16, EXPR)   \
  BIN_ONE(NAME, int32_t, int32_t, KERN_ID, O(int32_t), (O(int32_t)), i32, EXPR)   \
  BIN_ONE(NAME, int64_t, int64_t, KERN_ID, O(int64_t), (O(int64_t)), i64, EXPR)
#define GEN_U_(NAME, EXPR, O)                                                     \
  BIN_ONE(NAME, uint8_t, uint8_t, KERN_ID, O(uint8_t), (O(uint8_t)), u8, EXPR)        \
  BIN_ONE(NAME, uint16_t, uint16_t, KERN_ID, O(uint16_t), (O(uint16_t)), u16, EXPR)   \
  BIN_ONE(NAME, uint32_t, uint32_t, KERN_ID, O(uint32_t), (O(uint32_t)), u32, EXPR)   \
  BIN_ONE(NAME, uint64_t, uint64_t, KERN_ID, O(uint64_t), (O(uint64_t)), u64, EXPR)
#define SAME_T(T) T
#define BOOL_T(T) uint8_t
#define GEN_S(NAME, EXPR) GEN_S_(NAME, EXPR, SAME_T)
#define GEN_U(NAME, EXPR) GEN_U_(NAME, EXPR, SAME_T)
#define GEN_I(NAME, EXPR) GEN_S(NAME, EXPR) GEN_U(NAME, EXPR)
#define GEN_IB(NAME, EXPR) GEN_S_(NAME, EXPR, BOOL_T) GEN_U_(NAME, EXPR, BOOL_T)

#define F_FNS(NAME) [VRT_F32] = NAME##_f32, [VRT_F64] = NAME##_f64, [VRT_F16] = NAME##_f16, [VRT_BF16] = NAME##_bf16
#define S_FNS(NAME) [VRT_I8] = NAME##_i8, [VRT_I16] = NAME##_i16, [VRT_I32] = NAME##_i32, [VRT_I64] = NAME##_i64
#define U_FNS(NAME) [VRT_U8] = NAME##_u8, [VRT_U16] = NAME##_u16, [VRT_U32] = NAME##_u32, [VRT_U64] = NAME##_u64
#define I_FNS(NAME) S_FNS(NAME), U_FNS(NAME)

/* Integer helpers: wrapping arithmetic (no signed-overflow UB) and guarded
 * division (x/0 -> 0, INT_MIN/-1 wraps) so bad inputs never trap. */
#define WADD(x, y) ({ ct r_; __builtin_add_overflow((x), (y), &r_); r_; })
#define WSUB(x, y) ({ ct r_; __builtin_sub_overflow((x), (y), &r_); r_; })
#define WMUL(x, y) ({ ct r_; __builtin_mul_overflow((x), (y), &r_); r_; })
#define IDIV(x, y) ((y) == 0 ? (ct)0 : (y) == (ct)-1 ? WSUB((ct)0, (x)) : (ct)((x) / (y)))
#define IREM(x, y) ((y) == 0 || (y) == (ct)-1 ? (ct)0 : (ct)((x) % (y)))
#define UDIV(x, y) ((y) == 0 ? (ct)0 : (ct)((x) / (y)))
#define UREM(x, y) ((y) == 0 ? (ct)0 : (ct)((x) % (y)))
/* remainder with the sign of the divisor (Python / TF floormod) */
#define IMOD(x, y) ({ ct r_ = IREM(x, y); (r_ != 0 && ((r_ < 0) != ((y) < 0))) ? (ct)(r_ + (y)) : r_; })
#define IFLOORDIV(x, y) ({ ct q_ = IDIV(x, y); ((y) != 0 && IREM(x, y) != 0 && (((x) < 0) != ((y) < 0))) ? (ct)(q_ - 1) : q_; })
#define FMOD_PY(x, y) ({ ct r_ = fmod((x), (y)); (r_ != 0 && ((r_ < 0) != ((y) < 0))) ? r_ + (y) : r_; })

static inline int64_t kern_ipow(int64_t x, int64_t y) {
  if (y < 0) return x == 1 ? 1 : x == -1 ? (y % 2 ? -1 : 1) : 0;
  uint64_t r = 1, b = (uint64_t)x;
  while (y) {
    if (y & 1) r *= b;
    b *= b;
    y >>= 1;
  }
  return (int64_t)r;
}

GEN_F(op_add, x + y)
GEN_I(op_add, WADD(x, y))
GEN_F(op_sub, x - y)
GEN_I(op_sub, WSUB(x, y))
GEN_F(op_mul, x * y)
GEN_I(op_mul, WMUL(x, y))
GEN_F(op_div, x / y)
GEN_S(op_div, IDIV(x, y))
GEN_U(op_div, UDIV(x, y))
GEN_F(op_pow, pow(x, y))
GEN_I(op_pow, kern_ipow((int64_t)x, (int64_t)y))
GEN_F(op_fmod, fmod(x, y))
GEN_S(op_fmod, IREM(x, y))
GEN_U(op_fmod, UREM(x, y))
GEN_F(op_pymod, FMOD_PY(x, y))
GEN_S(op_pymod, IMOD(x, y))
GEN_U(op_pymod, UREM(x, y))
GEN_F(op_floordiv, floor(x / y))
GEN_S(op_floordiv, IFLOORDIV(x, y))
GEN_U(op_floordiv, UDIV(x, y))
GEN_F(op_prelu, (x < 0 ? x * y : x))
GEN_S(op_prelu, (x < 0 ? WMUL(x, y) : x))
GEN_F(op_max, ((x != x || x > y) ? x : y))
GEN_I(op_max, (x > y ? x : y))
GEN_F(op_min, ((x != x || x < y) ? x : y))
GEN_I(op_min, (x < y ? x : y))
GEN_FB(op_eq, x == y)
GEN_IB(op_eq, x == y)
GEN_FB(op_gt, x > y)
GEN_IB(op_gt, x > y)
GEN_FB(op_ge, x >= y)
GEN_IB(op_ge, x >= y)
GEN_FB(op_lt, x < y)
GEN_IB(op_lt, x < y)
GEN_FB(op_le, x <= y)
GEN_IB(op_le, x <= y)
BIN_ONE(op_and, uint8_t, uint8_t, KERN_ID, uint8_t, (uint8_t), b, (x && y))
BIN_ONE(op_or, uint8_t, uint8_t, KERN_ID, uint8_t, (uint8_t), b, (x || y))
BIN_ONE(op_xor, uint8_t, uint8_t, KERN_ID, uint8_t, (uint8_t), b, ((x != 0) != (y != 0)))
BIN_ONE(op_eq, uint8_t, uint8_t, KERN_ID, uint8_t, (uint8_t), b, ((x != 0) == (y != 0)))
GEN_U(op_shl, (y >= sizeof(ct) * 8 ? (ct)0 : (ct)((uint64_t)x << y)))
GEN_U(op_shr, (y >= sizeof(ct) * 8 ? (ct)0 : (ct)((uint64_t)x >> y)))

enum { V_NONE = 0, V_FMOD = 1, V_RIGHT = 1 };

typedef struct {
  int op, variant;
  bool bool_out;
  bin_fn fn[KERN_NDT];
} bin_kernels;

static const bin_kernels bin_tab[] = {
    {VRT_OP_Add, 0, 0, {F_FNS(op_add), I_FNS(op_add)}},
    {VRT_OP_Sum, 0, 0, {F_FNS(op_add), I_FNS(op_add)}},
    {VRT_OP_Mean, 0, 0, {F_FNS(op_add)}},
    {VRT_OP_Sub, 0, 0, {F_FNS(op_sub), I_FNS(op_sub)}},
    {VRT_OP_Mul, 0, 0, {F_FNS(op_mul), I_FNS(op_mul)}},
    {VRT_OP_Div, 0, 0, {F_FNS(op_div), I_FNS(op_div)}},
    {VRT_OP_Pow, 0, 0, {F_FNS(op_pow), I_FNS(op_pow)}},
    {VRT_OP_Mod, 0, 0, {F_FNS(op_pymod), S_FNS(op_pymod), U_FNS(op_pymod)}},
    {VRT_OP_Mod, V_FMOD, 0, {F_FNS(op_fmod), I_FNS(op_fmod)}},
    {VRT_OP_FloorMod, 0, 0, {F_FNS(op_pymod), S_FNS(op_pymod), U_FNS(op_pymod)}},
    {VRT_OP_FloorDiv, 0, 0, {F_FNS(op_floordiv), S_FNS(op_floordiv), U_FNS(op_floordiv)}},
    {VRT_OP_PRelu, 0, 0, {F_FNS(op_prelu), S_FNS(op_prelu)}},
    {VRT_OP_Max, 0, 0, {F_FNS(op_max), I_FNS(op_max)}},
    {VRT_OP_Min, 0, 0, {F_FNS(op_min), I_FNS(op_min)}},
    {VRT_OP_Equal, 0, 1, {F_FNS(op_eq), I_FNS(op_eq), [VRT_BOOL] = op_eq_b}},
    {VRT_OP_Greater, 0, 1, {F_FNS(op_gt), I_FNS(op_gt)}},
    {VRT_OP_GreaterOrEqual, 0, 1, {F_FNS(op_ge), I_FNS(op_ge)}},
    {VRT_OP_Less, 0, 1, {F_FNS(op_lt), I_FNS(op_lt)}},
    {VRT_OP_LessOrEqual, 0, 1, {F_FNS(op_le), I_FNS(op_le)}},
    {VRT_OP_And, 0, 1, {[VRT_BOOL] = op_and_b}},
    {VRT_OP_Or, 0, 1, {[VRT_BOOL] = op_or_b}},
    {VRT_OP_Xor, 0, 1, {[VRT_BOOL] = op_xor_b}},
    {VRT_OP_BitShift, 0, 0, {U_FNS(op_shl)}},
    {VRT_OP_BitShift, V_RIGHT, 0, {U_FNS(op_shr)}},
};

static const bin_kernels *bin_find(int op, int variant) {
  for (size_t i = 0; i < sizeof bin_tab / sizeof bin_tab[0]; i++)
    if (bin_tab[i].op == op && bin_tab[i].variant == variant) return &bin_tab[i];
  return NULL;
}

static int bin_prepare(vrt_node *n) {
  int variant = 0;
  if (n->op == VRT_OP_Mod) {
    variant = vrt_attr_int(n, "fmod", 0) ? V_FMOD : V_NONE;
  } else if (n->op == VRT_OP_BitShift) {
    const char *dir = vrt_attr_string(n, "direction", "");
    if (strcmp(dir, "LEFT") && strcmp(dir, "RIGHT")) return KERN_ERR(n, VRT_EINVAL, "direction must be LEFT or RIGHT, got '%s'", dir);
    variant = strcmp(dir, "RIGHT") == 0 ? V_RIGHT : V_NONE;
  }
  const bin_kernels *k = bin_find(n->op, variant);
  if (!k) return KERN_ERR(n, VRT_EUNSUPPORTED, "no kernel");
  n->params = (void *)k;
  n->params_free = NULL;
  return 0;
}

static const bin_kernels *bin_kernels_of(const vrt_node *n) {
  return n->params ? n->params : bin_find(n->op, 0);
}

static bool cast_ok_for_pow(vrt_dtype t) { return kern_is_float(t) || kern_is_int(t); }

static int bin_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(1);
  const bin_kernels *k = bin_kernels_of(n);
  vrt_dtype dt = in[0]->dtype;
  if (!k || dt < 0 || dt >= KERN_NDT || !k->fn[dt]) return KERN_ERR(n, VRT_ETYPE, "dtype %s not supported", vrt_dtype_name(dt));
  bool variadic = n->op == VRT_OP_Sum || n->op == VRT_OP_Mean || n->op == VRT_OP_Max || n->op == VRT_OP_Min;
  if (!variadic && nin != 2) return KERN_ERR(n, VRT_EGRAPH, "expects 2 inputs, got %d", nin);
  int64_t dims[VRT_MAX_DIMS];
  int nd = in[0]->ndim;
  memcpy(dims, in[0]->dims, sizeof dims);
  for (int i = 1; i < nin; i++) {
    if (!in[i]) return KERN_ERR(n, VRT_EINVAL, "input %d missing", i);
    if (in[i]->dtype != dt && n->op != VRT_OP_Pow)
      return KERN_ERR(n, VRT_ETYPE, "input %d has dtype %s, input 0 has %s", i, vrt_dtype_name(in[i]->dtype), vrt_dtype_name(dt));
    if (n->op == VRT_OP_Pow && !cast_ok_for_pow(in[i]->dtype))
      return KERN_ERR(n, VRT_ETYPE, "exponent dtype %s not supported", vrt_dtype_name(in[i]->dtype));
    int64_t tmp[VRT_MAX_DIMS];
    int nt;
    if (vrt__broadcast_shape(dims, nd, in[i]->dims, in[i]->ndim, tmp, &nt) < 0) {
      char a[96], b[96];
      return KERN_ERR(n, VRT_ESHAPE, "shapes %s and %s are not broadcastable", vrt__shape_str(dims, nd, a, sizeof a),
                    vrt__shape_str(in[i]->dims, in[i]->ndim, b, sizeof b));
    }
    memcpy(dims, tmp, sizeof dims);
    nd = nt;
  }
  /* PRelu broadcasts slope to X only (unidirectional) */
  if (n->op == VRT_OP_PRelu && (nd != in[0]->ndim || memcmp(dims, in[0]->dims, sizeof(int64_t) * (size_t)nd)))
    return KERN_ERR(n, VRT_ESHAPE, "slope does not broadcast to X");
  kern_set_shape(&out[0], k->bool_out ? VRT_BOOL : dt, nd, dims);
  return 0;
}

static void bin_row(void *ctx, void *o, const void *const *p, const int64_t *s, int64_t n) {
  bin_fn fn = *(bin_fn *)ctx;
  fn(o, p[0], s[0], p[1], s[1], n);
}

static int bin_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                    vrt_exec_ctx *x) {
  const bin_kernels *k = bin_kernels_of(n);
  vrt_dtype dt = in[0]->dtype;
  bin_fn fn = k->fn[dt];
  if (nin == 1) return vrt__kern_broadcast_copy(n, out, in[0]);
  if (n->op == VRT_OP_Pow && kern_is_float(dt) && vrt_tensor_numel(in[1]) == 1 && in[0]->ndim >= in[1]->ndim &&
      vrt__get_f64(in[1], 0) == 2.0) {
    /* x^2, as in decomposed LayerNorm/variance: a multiply, same result as pow */
    const vrt_tensor *sq[2] = {in[0], in[0]};
    bin_fn mul = bin_find(VRT_OP_Mul, 0)->fn[dt];
    return vrt__kern_broadcast(n, out, sq, 2, bin_row, &mul);
  }
  vrt_tensor b1 = *in[1];
  if (b1.dtype != dt) { /* Pow with a differently typed exponent: convert it to the base type */
    int64_t cnt = vrt_tensor_numel(&b1);
    size_t bytes = (size_t)cnt * vrt_dtype_size(dt);
    b1.data = x->scratch(x, bytes);
    if (!b1.data) return KERN_ERR(n, VRT_ENOMEM, "out of memory");
    if (vrt__kern_cast(b1.data, dt, in[1]->data, in[1]->dtype, cnt) < 0) return KERN_ERR(n, VRT_ETYPE, "cannot convert exponent");
    b1.dtype = dt;
  }
  const vrt_tensor *pair[2] = {in[0], &b1};
  int rc = vrt__kern_broadcast(n, out, pair, 2, bin_row, &fn);
  for (int i = 2; i < nin && rc == 0; i++) { /* variadic: fold into the output */
    pair[0] = out;
    pair[1] = in[i];
    rc = vrt__kern_broadcast(n, out, pair, 2, bin_row, &fn);
  }
  if (rc == 0 && n->op == VRT_OP_Mean && nin > 1) {
    double cnt = nin;
    union { float f; double d; uint16_t h; } sc;
    vrt__kern_cast(&sc, dt, &cnt, VRT_F64, 1);
    const bin_kernels *dk = bin_find(VRT_OP_Div, 0);
    dk->fn[dt](out->data, out->data, 1, &sc, 0, vrt_tensor_numel(out));
  }
  return rc;
}

/* ---- Where(cond, X, Y) ---- */

#define WHERE_ROW(T)                                                \
  do {                                                              \
    T *od = o;                                                      \
    const T *xa = p[1], *ya = p[2];                                 \
    for (int64_t i = 0; i < n; i++) od[i] = c[i * s[0]] ? xa[i * s[1]] : ya[i * s[2]]; \
  } while (0)

static void where_row(void *ctx, void *o, const void *const *p, const int64_t *s, int64_t n) {
  const uint8_t *c = p[0];
  switch (*(size_t *)ctx) {
    case 1: WHERE_ROW(uint8_t); break;
    case 2: WHERE_ROW(uint16_t); break;
    case 4: WHERE_ROW(uint32_t); break;
    case 8: WHERE_ROW(uint64_t); break;
  }
}

static int where_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(3);
  if (in[0]->dtype != VRT_BOOL) return KERN_ERR(n, VRT_ETYPE, "condition must be bool, got %s", vrt_dtype_name(in[0]->dtype));
  if (in[1]->dtype != in[2]->dtype)
    return KERN_ERR(n, VRT_ETYPE, "X is %s but Y is %s", vrt_dtype_name(in[1]->dtype), vrt_dtype_name(in[2]->dtype));
  if (vrt_dtype_size(in[1]->dtype) == 0) return KERN_ERR(n, VRT_ETYPE, "dtype %s not supported", vrt_dtype_name(in[1]->dtype));
  int64_t d1[VRT_MAX_DIMS], d2[VRT_MAX_DIMS];
  int n1, n2;
  if (vrt__broadcast_shape(in[0]->dims, in[0]->ndim, in[1]->dims, in[1]->ndim, d1, &n1) < 0 ||
      vrt__broadcast_shape(d1, n1, in[2]->dims, in[2]->ndim, d2, &n2) < 0)
    return KERN_ERR(n, VRT_ESHAPE, "condition, X and Y are not broadcastable");
  kern_set_shape(&out[0], in[1]->dtype, n2, d2);
  return 0;
}

static int where_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                      vrt_exec_ctx *x) {
  size_t es = vrt_dtype_size(in[1]->dtype);
  return vrt__kern_broadcast(n, out, in, 3, where_row, &es);
}

#define BIN_DEF(Name, lo, hi) \
  const vrt_opdef vrt__op_##Name = {VRT_OP_##Name, bin_prepare, bin_infer, bin_exec, 0, lo, hi};
BIN_DEF(Add, 2, 2) BIN_DEF(Sub, 2, 2) BIN_DEF(Mul, 2, 2) BIN_DEF(Div, 2, 2) BIN_DEF(Pow, 2, 2)
BIN_DEF(Mod, 2, 2) BIN_DEF(FloorDiv, 2, 2) BIN_DEF(FloorMod, 2, 2) BIN_DEF(PRelu, 2, 2)
BIN_DEF(And, 2, 2) BIN_DEF(Or, 2, 2) BIN_DEF(Xor, 2, 2) BIN_DEF(BitShift, 2, 2) BIN_DEF(Equal, 2, 2)
BIN_DEF(Greater, 2, 2) BIN_DEF(GreaterOrEqual, 2, 2) BIN_DEF(Less, 2, 2) BIN_DEF(LessOrEqual, 2, 2)
BIN_DEF(Max, 1, -1) BIN_DEF(Min, 1, -1) BIN_DEF(Sum, 1, -1) BIN_DEF(Mean, 1, -1)
const vrt_opdef vrt__op_Where = {VRT_OP_Where, NULL, where_infer, where_exec, 0, 3, 3};

