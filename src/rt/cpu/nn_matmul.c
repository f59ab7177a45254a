/* MatMul (numpy semantics: batch broadcasting, 1-D operands), Gemm and
 * Einsum. Fast path for float32 MatMul/Gemm and two-operand Einsum
 * contractions: oneDNN's dnnl_sgemm (stateless, so safe on a shared model);
 * VRT_REFERENCE=1 selects the plain loops. */
#include <dnnl.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "shape_util.h"

static int sgemm(const vrt_node *n, char ta, char tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                 int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
  if (M <= 0 || N <= 0) return 0;
  if (K <= 0) {
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0 ? 0 : beta * C[i * ldc + j];
    return 0;
  }
  dnnl_status_t st = dnnl_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  if (st != dnnl_success) return NN_ERR(n, VRT_EINVAL, "dnnl_sgemm failed (status %d)", (int)st);
  return 0;
}

/* ---- MatMul ------------------------------------------------------------------ */

typedef nn_mm_geom mm_geom;

/* The types MatMul runs: X(dtype, element, accumulator, suffix). Integers
 * accumulate in the unsigned type of their width: overflow wraps (as numpy's
 * does) instead of being undefined. */
#define MM_TYPES(X)                  \
  X(VRT_F32, float, float, f32)      \
  X(VRT_F64, double, double, f64)    \
  X(VRT_I32, int32_t, uint32_t, i32) \
  X(VRT_I64, int64_t, uint64_t, i64) \
  X(VRT_U32, uint32_t, uint32_t, u32) \
  X(VRT_U64, uint64_t, uint64_t, u64)

#define MM_REF(DT, T, ACC, SFX)                                                               \
  static void mm_ref_##SFX(const mm_geom *g, const void *A_, const void *B_, void *C_) {      \
    const T *A = A_, *B = B_;                                                                 \
    T *C = C_;                                                                                \
    for (int64_t t = 0; t < g->batch; t++) {                                                  \
      int64_t oa, ob;                                                                         \
      nn_mm_offsets(g, t, &oa, &ob);                                                          \
      const T *a = A + oa, *b = B + ob;                                                       \
      T *c = C + t * g->M * g->N;                                                             \
      for (int64_t i = 0; i < g->M; i++)                                                      \
        for (int64_t j = 0; j < g->N; j++) {                                                  \
          ACC s = 0;                                                                          \
          for (int64_t k = 0; k < g->K; k++) s += (ACC)a[i * g->K + k] * b[k * g->N + j];     \
          c[i * g->N + j] = (T)s;                                                             \
        }                                                                                     \
    }                                                                                         \
  }
MM_TYPES(MM_REF)

typedef void (*mm_ref_fn)(const mm_geom *g, const void *A, const void *B, void *C);
#define MM_ROW(DT, T, ACC, SFX) [DT] = mm_ref_##SFX,
static const mm_ref_fn mm_ref_tab[KERN_NDT] = {MM_TYPES(MM_ROW)};

static bool matmul_dtype_ok(vrt_dtype t) { return t > 0 && t < KERN_NDT && mm_ref_tab[t]; }

int nn_mm_geom_get(const vrt_node *n, const vrt_tensor *a, const vrt_tensor *b, nn_mm_geom *g) {
  memset(g, 0, sizeof *g);
  if (a->ndim < 1 || b->ndim < 1) return NN_ERR(n, VRT_ESHAPE, "MatMul operands must have rank >= 1");
  int64_t ad[VRT_MAX_DIMS + 1], bd[VRT_MAX_DIMS + 1];
  int na = a->ndim, nb = b->ndim;
  memcpy(ad, a->dims, sizeof(int64_t) * na);
  memcpy(bd, b->dims, sizeof(int64_t) * nb);
  bool a1 = na == 1, b1 = nb == 1;
  if (a1) {
    ad[1] = ad[0];
    ad[0] = 1;
    na = 2;
  }
  if (b1) {
    bd[1] = 1;
    nb = 2;
  }
  g->M = ad[na - 2];
  g->K = ad[na - 1];
  g->N = bd[nb - 1];
  if (bd[nb - 2] != g->K)
    return NN_ERR(n, VRT_ESHAPE, "inner dimensions differ: %lld vs %lld", (long long)g->K, (long long)bd[nb - 2]);
  int64_t bo[VRT_MAX_DIMS];
  int no;
  if (vrt__broadcast_shape(ad, na - 2, bd, nb - 2, bo, &no) < 0)
    return NN_ERR(n, VRT_ESHAPE, "batch dimensions do not broadcast");
  g->nb = no;
  g->batch = 1;
  int64_t stA = g->M * g->K, stB = g->K * g->N;
  for (int i = no - 1; i >= 0; i--) {
    int ia = i - (no - (na - 2)), ib = i - (no - (nb - 2));
    int64_t da = ia >= 0 ? ad[ia] : 1, db = ib >= 0 ? bd[ib] : 1;
    g->bdims[i] = bo[i];
    g->sa[i] = da == 1 ? 0 : stA;
    g->sb[i] = db == 1 ? 0 : stB;
    stA *= da;
    stB *= db;
    g->batch *= bo[i];
  }
  int k = 0;
  for (int i = 0; i < no; i++) g->out_dims[k++] = bo[i];
  if (!a1) g->out_dims[k++] = g->M;
  if (!b1) g->out_dims[k++] = g->N;
  if (k > VRT_MAX_DIMS) return NN_ERR(n, VRT_ESHAPE, "output rank too large");
  g->ndim_out = k;
  return 0;
}

static int mm_geom_get(const vrt_node *n, const vrt_tensor *a, const vrt_tensor *b, mm_geom *g) {
  if (a->dtype != b->dtype || !matmul_dtype_ok(a->dtype))
    return NN_ERR(n, VRT_ETYPE, "unsupported dtypes %s x %s", vrt_dtype_name(a->dtype), vrt_dtype_name(b->dtype));
  return nn_mm_geom_get(n, a, b, g);
}

static int matmul_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  mm_geom g;
  int rc = mm_geom_get(n, in[0], in[1], &g);
  if (rc) return rc;
  if (nin > 2 && in[2] && (in[2]->dtype != VRT_F32 || vrt_tensor_numel(in[2]) != g.N))
    return NN_ERR(n, VRT_ESHAPE, "fused bias must be float32 with %lld elements", (long long)g.N);
  out[0].dtype = in[0]->dtype;
  out[0].ndim = g.ndim_out;
  memcpy(out[0].dims, g.out_dims, sizeof(int64_t) * g.ndim_out);
  return 0;
}

void nn_mm_offsets(const nn_mm_geom *g, int64_t t, int64_t *oa, int64_t *ob) {
  int64_t a = 0, b = 0;
  for (int i = g->nb - 1; i >= 0; i--) {
    int64_t c = t % g->bdims[i];
    t /= g->bdims[i];
    a += c * g->sa[i];
    b += c * g->sb[i];
  }
  *oa = a;
  *ob = b;
}

static int mm_fast(const vrt_node *n, const mm_geom *g, const float *A, const float *B, float *C) {
  bool b_shared = true, a_contig = true;
  int64_t expect = g->M * g->K;
  for (int i = g->nb - 1; i >= 0; i--) {
    if (g->sb[i]) b_shared = false;
    if (g->bdims[i] > 1 && g->sa[i] != expect) a_contig = false;
    expect *= g->bdims[i];
  }
  if (b_shared && a_contig) /* one big GEMM: [batch*M, K] x [K, N] */
    return sgemm(n, 'N', 'N', g->batch * g->M, g->N, g->K, 1.0f, A, g->K, B, g->N, 0, C, g->N);
  for (int64_t t = 0; t < g->batch; t++) {
    int64_t oa, ob;
    nn_mm_offsets(g, t, &oa, &ob);
    int rc = sgemm(n, 'N', 'N', g->M, g->N, g->K, 1.0f, A + oa, g->K, B + ob, g->N, 0, C + t * g->M * g->N, g->N);
    if (rc) return rc;
  }
  return 0;
}

static int matmul_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                       vrt_exec_ctx *ctx) {
  mm_geom g;
  int rc = mm_geom_get(n, in[0], in[1], &g);
  if (rc) return rc;
  nn_act act;
  if ((rc = nn_act_parse(n, &act))) return rc;
  const void *A = in[0]->data, *B = in[1]->data;
  void *C = out[0].data;
  const float *bias = nin > 2 && in[2] ? in[2]->data : NULL;
  if (in[0]->dtype == VRT_F32 && !nn_use_reference()) {
    nn_set_threads(ctx->threads);
    if ((rc = mm_fast(n, &g, A, B, C))) return rc;
  } else {
    mm_ref_tab[in[0]->dtype](&g, A, B, C); /* the dtype was checked by mm_geom_get */
  }
  if (bias || act.kind != NN_ACT_NONE) {
    if (in[0]->dtype != VRT_F32) return NN_ERR(n, VRT_ETYPE, "fused bias/activation needs float32");
    const float *slope;
    int64_t ns;
    if ((rc = nn_prelu_slope(n, in, nin, 3, g.N, &act, &slope, &ns))) return rc;
    nn_bias_act(C, g.batch * g.M, g.N, 1, bias, &act, slope, ns);
  }
  return 0;
}

const vrt_opdef vrt__op_MatMul = {
    .op = VRT_OP_MatMul, .infer = matmul_infer, .exec = matmul_exec, .min_inputs = 2, .max_inputs = 4,
};

/* ---- Gemm ------------------------------------------------------------------- */

typedef struct gemm_params {
  bool ta, tb; /* transA, transB */
  float alpha, beta;
  nn_act act;
} gemm_params;

static int gemm_prepare(vrt_node *n) {
  gemm_params *p = calloc(1, sizeof *p);
  if (!p) return NN_ERR(n, VRT_ENOMEM, "out of memory");
  p->ta = vrt_attr_int(n, "transA", 0) != 0;
  p->tb = vrt_attr_int(n, "transB", 0) != 0;
  p->alpha = vrt_attr_float(n, "alpha", 1.0f);
  p->beta = vrt_attr_float(n, "beta", 1.0f);
  int rc = nn_act_parse(n, &p->act);
  return nn_params_keep(n, p, rc);
}

/* M, N, K and the broadcast strides of C (row, column) */
static int gemm_geom(const vrt_node *n, const vrt_tensor *const *in, int nin, int64_t *M, int64_t *N, int64_t *K,
                     int64_t *csr, int64_t *csc) {
  const gemm_params *p = n->params;
  const vrt_tensor *a = in[0], *b = in[1];
  if (a->ndim != 2 || b->ndim != 2) return NN_ERR(n, VRT_ESHAPE, "Gemm needs 2-D A and B");
  if (a->dtype != b->dtype || (a->dtype != VRT_F32 && a->dtype != VRT_F64))
    return NN_ERR(n, VRT_ETYPE, "unsupported dtypes %s x %s", vrt_dtype_name(a->dtype), vrt_dtype_name(b->dtype));
  *M = p->ta ? a->dims[1] : a->dims[0];
  *K = p->ta ? a->dims[0] : a->dims[1];
  int64_t kb = p->tb ? b->dims[1] : b->dims[0];
  *N = p->tb ? b->dims[0] : b->dims[1];
  if (kb != *K) return NN_ERR(n, VRT_ESHAPE, "inner dimensions differ: %lld vs %lld", (long long)*K, (long long)kb);
  *csr = *csc = 0;
  if (nin > 2 && in[2]) {
    const vrt_tensor *c = in[2];
    if (c->dtype != a->dtype) return NN_ERR(n, VRT_ETYPE, "C dtype differs from A");
    int64_t r = 1, cc = 1;
    if (c->ndim == 1) cc = c->dims[0];
    else if (c->ndim == 2) {
      r = c->dims[0];
      cc = c->dims[1];
    } else if (c->ndim != 0)
      return NN_ERR(n, VRT_ESHAPE, "C must have rank <= 2");
    if ((r != 1 && r != *M) || (cc != 1 && cc != *N))
      return NN_ERR(n, VRT_ESHAPE, "C of shape %lldx%lld does not broadcast to %lldx%lld", (long long)r,
                    (long long)cc, (long long)*M, (long long)*N);
    *csr = r == 1 ? 0 : cc;
    *csc = cc == 1 ? 0 : 1;
  }
  return 0;
}

static int gemm_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  int64_t M, N, K, r, c;
  int rc = gemm_geom(n, in, nin, &M, &N, &K, &r, &c);
  if (rc) return rc;
  out[0].dtype = in[0]->dtype;
  out[0].ndim = 2;
  out[0].dims[0] = M;
  out[0].dims[1] = N;
  return 0;
}

#define GEMM_REF(NAME, T)                                                                                    \
  static void NAME(const gemm_params *p, int64_t M, int64_t N, int64_t K, const T *A, const T *B, const T *Cb, \
                   int64_t csr, int64_t csc, T *Y) {                                                         \
    for (int64_t i = 0; i < M; i++)                                                                          \
      for (int64_t j = 0; j < N; j++) {                                                                      \
        T s = 0;                                                                                             \
        for (int64_t k = 0; k < K; k++)                                                                      \
          s += (p->ta ? A[k * M + i] : A[i * K + k]) * (p->tb ? B[j * K + k] : B[k * N + j]);                \
        Y[i * N + j] = (T)p->alpha * s + (Cb ? (T)p->beta * Cb[i * csr + j * csc] : 0);                      \
      }                                                                                                      \
  }

GEMM_REF(gemm_ref_f32, float)
GEMM_REF(gemm_ref_f64, double)

static int gemm_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                     vrt_exec_ctx *ctx) {
  const gemm_params *p = n->params;
  int64_t M, N, K, csr, csc;
  int rc = gemm_geom(n, in, nin, &M, &N, &K, &csr, &csc);
  if (rc) return rc;
  const void *Cb = nin > 2 && in[2] ? in[2]->data : NULL;
  if (in[0]->dtype == VRT_F64) {
    gemm_ref_f64(p, M, N, K, in[0]->data, in[1]->data, Cb, csr, csc, out[0].data);
  } else if (nn_use_reference()) {
    gemm_ref_f32(p, M, N, K, in[0]->data, in[1]->data, Cb, csr, csc, out[0].data);
  } else {
    nn_set_threads(ctx->threads);
    float *Y = out[0].data;
    const float *c = Cb;
    if (c)
      for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) Y[i * N + j] = p->beta * c[i * csr + j * csc];
    rc = sgemm(n, p->ta ? 'T' : 'N', p->tb ? 'T' : 'N', M, N, K, p->alpha, in[0]->data, p->ta ? M : K, in[1]->data,
               p->tb ? K : N, c ? 1.0f : 0.0f, Y, N);
    if (rc) return rc;
  }
  if (p->act.kind != NN_ACT_NONE) {
    if (in[0]->dtype != VRT_F32) return NN_ERR(n, VRT_ETYPE, "fused activation needs float32");
    const float *slope;
    int64_t ns;
    if ((rc = nn_prelu_slope(n, in, nin, 3, N, &p->act, &slope, &ns))) return rc;
    nn_bias_act(out[0].data, M, N, 1, NULL, &p->act, slope, ns);
  }
  return 0;
}

const vrt_opdef vrt__op_Gemm = {
    .op = VRT_OP_Gemm, .prepare = gemm_prepare, .infer = gemm_infer, .exec = gemm_exec,
    .min_inputs = 2, .max_inputs = 4,
};

/* ---- Einsum ------------------------------------------------------------------
 * The equation is parsed once into label ids per operand axis (letters 0..51,
 * ellipsis dims 52..). Exec walks every combination of all labels with an
 * odometer that keeps each operand's offset up to date incrementally;
 * repeated labels (diagonals) and summed labels fall out of the strides. */

#define EIN_MAXIN 8
#define EIN_MAXL (52 + VRT_MAX_DIMS)

typedef struct ein_params {
  int nin;
  char terms[EIN_MAXIN][64]; /* letters, '.' marks the ellipsis position */
  char out[64];
  bool has_out;
} ein_params;

static int ein_prepare(vrt_node *n) {
  const char *eq = vrt_attr_string(n, "equation", NULL);
  if (!eq) return NN_ERR(n, VRT_EINVAL, "missing equation");
  ein_params *p = calloc(1, sizeof *p);
  if (!p) return NN_ERR(n, VRT_ENOMEM, "out of memory");
  char *cur = p->terms[0];
  int len = 0, rc = 0;
  for (const char *s = eq; *s && !rc; s++) {
    if (*s == ' ') continue;
    if (*s == ',') {
      if (p->has_out || ++p->nin >= EIN_MAXIN) rc = NN_ERR(n, VRT_EINVAL, "bad equation '%s'", eq);
      else cur = p->terms[p->nin], len = 0;
    } else if (s[0] == '-' && s[1] == '>') {
      if (p->has_out) rc = NN_ERR(n, VRT_EINVAL, "bad equation '%s'", eq);
      p->has_out = true;
      cur = p->out;
      len = 0;
      s++;
    } else if (s[0] == '.' && s[1] == '.' && s[2] == '.') {
      if (len >= 63 || strchr(cur, '.')) rc = NN_ERR(n, VRT_EINVAL, "bad ellipsis in '%s'", eq);
      else cur[len++] = '.';
      s += 2;
    } else if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')) {
      if (len >= 63) rc = NN_ERR(n, VRT_EINVAL, "equation too long");
      else cur[len++] = *s;
    } else {
      rc = NN_ERR(n, VRT_EINVAL, "bad character '%c' in equation '%s'", *s, eq);
    }
  }
  p->nin++;
  return nn_params_keep(n, p, rc);
}

static int letter_id(char c) { return c >= 'a' && c <= 'z' ? c - 'a' : c - 'A' + 26; }

typedef struct ein_geom {
  int nlab;              /* labels in use, compacted */
  int64_t size[EIN_MAXL];
  int64_t st_in[EIN_MAXIN][EIN_MAXL];
  int64_t st_out[EIN_MAXL];
  int ndim_out;
  int64_t out_dims[VRT_MAX_DIMS];
  int lab[EIN_MAXIN][VRT_MAX_DIMS]; /* compacted label of each operand axis */
  int olab[VRT_MAX_DIMS];           /* and of each output axis */
} ein_geom;

static int ein_geom_get(const vrt_node *n, const vrt_tensor *const *in, int nin, ein_geom *g) {
  const ein_params *p = n->params;
  memset(g, 0, sizeof *g);
  if (nin != p->nin) return NN_ERR(n, VRT_EINVAL, "equation has %d operands, node has %d inputs", p->nin, nin);
  int64_t size[EIN_MAXL];
  int axis_lab[EIN_MAXIN][VRT_MAX_DIMS];
  int count[EIN_MAXL] = {0};
  for (int l = 0; l < EIN_MAXL; l++) size[l] = -1;
  int ell = 0; /* ellipsis rank (max over operands) */
  for (int i = 0; i < nin; i++) {
    const vrt_tensor *t = in[i];
    if (!t || t->dtype != in[0]->dtype) return NN_ERR(n, VRT_ETYPE, "operands must share one dtype");
    int nl = (int)strlen(p->terms[i]);
    bool has_e = strchr(p->terms[i], '.') != NULL;
    int er = t->ndim - (nl - (has_e ? 1 : 0));
    if (er < 0 || (!has_e && er != 0))
      return NN_ERR(n, VRT_ESHAPE, "operand %d has rank %d, term '%s'", i, t->ndim, p->terms[i]);
    if (er > ell) ell = er;
    int ax = 0;
    for (int k = 0; k < nl; k++) {
      if (p->terms[i][k] == '.') {
        for (int e = 0; e < er; e++) axis_lab[i][ax++] = -1 - e; /* fixed up below */
      } else {
        axis_lab[i][ax++] = letter_id(p->terms[i][k]);
      }
    }
    for (int a = 0; a < t->ndim; a++)
      if (axis_lab[i][a] >= 0) count[axis_lab[i][a]]++;
  }
  /* right-align ellipsis dims: operand ellipsis dim e of er maps to 52 + ell - er + e */
  for (int i = 0; i < nin; i++) {
    const vrt_tensor *t = in[i];
    int er = 0;
    for (int a = 0; a < t->ndim; a++) er += axis_lab[i][a] < 0;
    for (int a = 0; a < t->ndim; a++) {
      if (axis_lab[i][a] < 0) axis_lab[i][a] = 52 + ell - er + (-1 - axis_lab[i][a]);
      int l = axis_lab[i][a];
      int64_t d = t->dims[a];
      if (size[l] < 0 || size[l] == 1) size[l] = d;
      else if (d != 1 && d != size[l])
        return NN_ERR(n, VRT_ESHAPE, "label '%c' has sizes %lld and %lld", l < 52 ? p->terms[i][0] : '.',
                      (long long)size[l], (long long)d);
    }
  }
  /* output labels */
  int outl[VRT_MAX_DIMS + 52], no = 0;
  if (p->has_out) {
    for (const char *s = p->out; *s; s++) {
      if (*s == '.') {
        for (int e = 0; e < ell; e++) outl[no++] = 52 + e;
      } else {
        int l = letter_id(*s);
        if (size[l] < 0) return NN_ERR(n, VRT_EINVAL, "output label '%c' not in any input", *s);
        outl[no++] = l;
      }
      if (no > VRT_MAX_DIMS) return NN_ERR(n, VRT_ESHAPE, "output rank too large");
    }
  } else {
    for (int e = 0; e < ell; e++) outl[no++] = 52 + e;
    for (int l = 0; l < 52; l++)
      if (count[l] == 1) {
        if (no >= VRT_MAX_DIMS) return NN_ERR(n, VRT_ESHAPE, "output rank too large");
        outl[no++] = l;
      }
  }
  /* compact the label ids in use */
  int map[EIN_MAXL];
  for (int l = 0; l < EIN_MAXL; l++) map[l] = -1;
  for (int l = 0; l < EIN_MAXL; l++)
    if (size[l] >= 0) {
      map[l] = g->nlab;
      g->size[g->nlab++] = size[l];
    }
  for (int i = 0; i < nin; i++) {
    int64_t st = 1;
    for (int a = in[i]->ndim - 1; a >= 0; a--) {
      int l = map[axis_lab[i][a]];
      g->lab[i][a] = l;
      if (in[i]->dims[a] != 1) g->st_in[i][l] += st;
      st *= in[i]->dims[a];
    }
  }
  int64_t st = 1;
  g->ndim_out = no;
  for (int a = no - 1; a >= 0; a--) {
    int l = map[outl[a]];
    g->olab[a] = l;
    g->out_dims[a] = g->size[l];
    g->st_out[l] += st;
    st *= g->size[l];
  }
  return 0;
}

static int ein_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  ein_geom g;
  int rc = ein_geom_get(n, in, nin, &g);
  if (rc) return rc;
  vrt_dtype t = in[0]->dtype;
  if (t != VRT_F32 && t != VRT_F64 && t != VRT_I32 && t != VRT_I64)
    return NN_ERR(n, VRT_ETYPE, "unsupported dtype %s", vrt_dtype_name(t));
  out[0].dtype = t;
  out[0].ndim = g.ndim_out;
  memcpy(out[0].dims, g.out_dims, sizeof(int64_t) * g.ndim_out);
  return 0;
}

#define EIN_FN(NAME, T, ACC)                                                         \
  static void NAME(const ein_geom *g, int nin, const vrt_tensor *const *in, T *y,     \
                   int64_t ny) {                                                      \
    memset(y, 0, sizeof(T) * (size_t)ny);                                             \
    for (int l = 0; l < g->nlab; l++)                                                 \
      if (g->size[l] == 0) return;                                                    \
    int64_t idx[EIN_MAXL] = {0}, off[EIN_MAXIN] = {0}, oo = 0;                        \
    for (;;) {                                                                        \
      ACC v = 1;                                                                      \
      for (int i = 0; i < nin; i++) v *= (ACC)((const T *)in[i]->data)[off[i]];       \
      y[oo] = (T)((ACC)y[oo] + v);                                                    \
      int l = g->nlab - 1;                                                            \
      for (; l >= 0; l--) {                                                           \
        idx[l]++;                                                                     \
        for (int i = 0; i < nin; i++) off[i] += g->st_in[i][l];                       \
        oo += g->st_out[l];                                                           \
        if (idx[l] < g->size[l]) break;                                               \
        for (int i = 0; i < nin; i++) off[i] -= g->st_in[i][l] * g->size[l];          \
        oo -= g->st_out[l] * g->size[l];                                              \
        idx[l] = 0;                                                                   \
      }                                                                               \
      if (l < 0) break;                                                               \
    }                                                                                 \
  }

EIN_FN(ein_f32, float, float)
EIN_FN(ein_f64, double, double)
EIN_FN(ein_i32, int32_t, uint32_t)
EIN_FN(ein_i64, int64_t, uint64_t)

/* dst (dims dd, row-major) = src read through per-dst-axis strides ss. */
static void permute_f32(const float *src, const int64_t *ss, const int64_t *dd, int nd, float *dst) {
  int64_t total = vrt__numel(dd, nd), idx[EIN_MAXL] = {0}, off = 0;
  if (nd == 0) {
    dst[0] = src[0];
    return;
  }
  int64_t last = dd[nd - 1], sl = ss[nd - 1];
  for (int64_t done = 0; done < total; done += last) {
    for (int64_t j = 0; j < last; j++) dst[done + j] = src[off + j * sl];
    for (int a = nd - 2; a >= 0; a--) {
      off += ss[a];
      if (++idx[a] < dd[a]) break;
      off -= ss[a] * dd[a];
      idx[a] = 0;
    }
  }
}

/* Operand k (t, elems floats) with its axes in the label order ord[0..cnt):
 * its own data when already so, else a permuted copy in scratch (NULL when
 * out of memory). */
static const float *ein_operand(const ein_geom *g, const vrt_tensor *t, int k, const int *ord, int cnt, int64_t elems,
                                vrt_exec_ctx *ctx) {
  bool id = true;
  for (int i = 0; i < cnt; i++) id = id && g->lab[k][i] == ord[i];
  if (id) return t->data;
  float *p = ctx->scratch(ctx, sizeof(float) * (size_t)elems);
  if (!p) return NULL;
  int64_t ss[EIN_MAXL], dd[EIN_MAXL];
  for (int i = 0; i < cnt; i++) ss[i] = g->st_in[k][ord[i]], dd[i] = g->size[ord[i]];
  permute_f32(t->data, ss, dd, cnt, p);
  return p;
}

/* Einsum of two float32 operands as a batched GEMM: labels in both inputs
 * and the output are batch dims, in one input and the output M or N, in
 * both inputs only K. Operands are permuted into [batch, M, K] and
 * [batch, K, N] (skipped when already so), the product is permuted into the
 * output order. Returns 1 when handled, 0 when the equation needs the
 * general loop (diagonals, broadcasting, single-operand sums), <0 on error. */
static int ein_fast(const vrt_node *n, const ein_geom *g, const vrt_tensor *const *in, vrt_tensor *out,
                    vrt_exec_ctx *ctx) {
  const vrt_tensor *A = in[0], *B = in[1];
  int where[EIN_MAXL] = {0}; /* bit 0: in A, 1: in B, 2: in output */
  for (int a = 0; a < A->ndim; a++) {
    int l = g->lab[0][a];
    if ((where[l] & 1) || A->dims[a] != g->size[l]) return 0;
    where[l] |= 1;
  }
  for (int a = 0; a < B->ndim; a++) {
    int l = g->lab[1][a];
    if ((where[l] & 2) || B->dims[a] != g->size[l]) return 0;
    where[l] |= 2;
  }
  for (int a = 0; a < g->ndim_out; a++) {
    if (where[g->olab[a]] & 4) return 0;
    where[g->olab[a]] |= 4;
  }
  /* label order: batch, M, N, K (output labels keep the output's order) */
  int bl[EIN_MAXL], ml[EIN_MAXL], nl[EIN_MAXL], kl[EIN_MAXL], nb = 0, nm = 0, nn = 0, nk = 0;
  int64_t Bt = 1, M = 1, N = 1, K = 1;
  for (int a = 0; a < g->ndim_out; a++) {
    int l = g->olab[a];
    if (where[l] == 7) bl[nb++] = l, Bt *= g->size[l];
    else if (where[l] == 5) ml[nm++] = l, M *= g->size[l];
    else if (where[l] == 6) nl[nn++] = l, N *= g->size[l];
  }
  for (int l = 0; l < g->nlab; l++) {
    if (where[l] == 3) kl[nk++] = l, K *= g->size[l];
    else if (where[l] == 1 || where[l] == 2) return 0; /* summed within one operand */
  }
  /* operand layouts wanted: A [b.., m.., k..], B [b.., k.., n..], C [b.., m.., n..] */
  int oa[EIN_MAXL], ob[EIN_MAXL], oc[EIN_MAXL], na = 0, nbb = 0, nc = 0;
  for (int i = 0; i < nb; i++) oa[na++] = ob[nbb++] = oc[nc++] = bl[i];
  for (int i = 0; i < nm; i++) oa[na++] = oc[nc++] = ml[i];
  for (int i = 0; i < nk; i++) oa[na++] = kl[i];
  for (int i = 0; i < nk; i++) ob[nbb++] = kl[i];
  for (int i = 0; i < nn; i++) ob[nbb++] = nl[i], oc[nc++] = nl[i];
  const float *pa = ein_operand(g, A, 0, oa, na, Bt * M * K, ctx), *pb = ein_operand(g, B, 1, ob, nbb, Bt * K * N, ctx);
  int64_t ss[EIN_MAXL], dd[EIN_MAXL];
  bool idc = true;
  for (int i = 0; i < nc; i++) idc = idc && g->olab[i] == oc[i];
  float *pc = out[0].data;
  if (!pa || !pb || (!idc && !(pc = ctx->scratch(ctx, sizeof(float) * (size_t)(Bt * M * N)))))
    return NN_ERR(n, VRT_ENOMEM, "out of memory for Einsum scratch");
  nn_set_threads(ctx->threads);
  for (int64_t t = 0; t < Bt; t++) {
    int rc = sgemm(n, 'N', 'N', M, N, K, 1.0f, pa + t * M * K, K, pb + t * K * N, N, 0, pc + t * M * N, N);
    if (rc) return rc;
  }
  if (!idc) {
    /* C's strides per label, then read in output order */
    int64_t cst[EIN_MAXL], st = 1;
    for (int i = nc - 1; i >= 0; i--) cst[oc[i]] = st, st *= g->size[oc[i]];
    for (int i = 0; i < g->ndim_out; i++) ss[i] = cst[g->olab[i]], dd[i] = g->size[g->olab[i]];
    permute_f32(pc, ss, dd, g->ndim_out, out[0].data);
  }
  return 1;
}

static int ein_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                    vrt_exec_ctx *ctx) {
  ein_geom g;
  int64_t ny = vrt_tensor_numel(&out[0]);
  int rc = ein_geom_get(n, in, nin, &g);
  if (rc || ny == 0) return rc;
  if (nin == 2 && in[0]->dtype == VRT_F32 && !nn_use_reference()) {
    rc = ein_fast(n, &g, in, out, ctx);
    if (rc) return rc < 0 ? rc : 0;
  }
  switch (in[0]->dtype) {
    case VRT_F32: ein_f32(&g, nin, in, out[0].data, ny); break;
    case VRT_F64: ein_f64(&g, nin, in, out[0].data, ny); break;
    case VRT_I32: ein_i32(&g, nin, in, out[0].data, ny); break;
    case VRT_I64: ein_i64(&g, nin, in, out[0].data, ny); break;
    default: return NN_ERR(n, VRT_ETYPE, "unsupported dtype");
  }
  return 0;
}

const vrt_opdef vrt__op_Einsum = {
    .op = VRT_OP_Einsum, .prepare = ein_prepare, .infer = ein_infer, .exec = ein_exec,
    .min_inputs = 1, .max_inputs = EIN_MAXIN,
};
