/* CPU reference kernels for data movement by strided views: the strided
 * gather engine (vrt__kern_strided_gather, vrt__kern_transpose) and the ops built on it:
 * Transpose, DepthToSpace, SpaceToDepth. */
#include <stdlib.h>

#include "shape_util.h"

/* Drop size-1 output dims and merge neighbours whose source strides chain
 * (outer stride == inner stride * inner dim), so that a plain transpose of
 * an image tensor becomes at most a 2-D or 3-D walk; then copy row by row. */
void vrt__kern_strided_gather(void *dst, const void *src, size_t es, int ndim, const int64_t *odims, const int64_t *sstr,
                       int64_t base) {
  int64_t cd[VRT_MAX_DIMS], cs[VRT_MAX_DIMS];
  int m = 0;
  int64_t total = vrt__numel(odims, ndim);
  if (total <= 0) return;
  for (int d = 0; d < ndim; d++) {
    if (odims[d] == 1) continue;
    if (m > 0 && cs[m - 1] == sstr[d] * odims[d]) {
      cd[m - 1] *= odims[d];
      cs[m - 1] = sstr[d];
    } else {
      cd[m] = odims[d];
      cs[m] = sstr[d];
      m++;
    }
  }
  if (m == 0) {
    cd[0] = 1, cs[0] = 1, m = 1;
  }
  int64_t inner = cd[m - 1], istride = cs[m - 1];
  int64_t idx[VRT_MAX_DIMS] = {0};
  int64_t off = base;
  const char *s = src;
  char *d = dst;
  for (int64_t o = 0; o < total; o += inner) {
    vrt__kern_strided_copy(d + o * (int64_t)es, s + off * (int64_t)es, es, inner, istride);
    for (int k = m - 2; k >= 0; k--) {
      idx[k]++;
      off += cs[k];
      if (idx[k] < cd[k]) break;
      off -= cs[k] * cd[k];
      idx[k] = 0;
    }
  }
}

void vrt__kern_transpose(void *dst, const void *src, size_t es, int ndim, const int64_t *dims, const int *perm) {
  int64_t istr[VRT_MAX_DIMS], od[VRT_MAX_DIMS], ss[VRT_MAX_DIMS];
  vrt__strides(dims, ndim, istr);
  for (int i = 0; i < ndim; i++) od[i] = dims[perm[i]], ss[i] = istr[perm[i]];
  vrt__kern_strided_gather(dst, src, es, ndim, od, ss, 0);
}

/* ---- Transpose ---- */

static int transpose_perm(const vrt_node *n, int rank, int *perm) {
  const int64_t *p;
  int np = vrt_attr_ints(n, "perm", &p);
  if (np == 0) {
    for (int i = 0; i < rank; i++) perm[i] = rank - 1 - i;
    return 0;
  }
  if (np != rank) return KERN_ERR(n, VRT_EINVAL, "perm has %d entries for rank %d", np, rank);
  bool seen[VRT_MAX_DIMS] = {0};
  for (int i = 0; i < rank; i++) {
    int64_t a = p[i] < 0 ? p[i] + rank : p[i];
    if (a < 0 || a >= rank || seen[a]) return KERN_ERR(n, VRT_EINVAL, "perm is not a permutation of 0..%d", rank - 1);
    seen[a] = true;
    perm[i] = (int)a;
  }
  return 0;
}

static int transpose_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(1);
  int perm[VRT_MAX_DIMS];
  int rank = in[0]->ndim;
  if (vrt_dtype_size(in[0]->dtype) == 0) return KERN_ERR(n, VRT_ETYPE, "dtype %s not supported", vrt_dtype_name(in[0]->dtype));
  int rc = transpose_perm(n, rank, perm);
  if (rc < 0) return rc;
  out->dtype = in[0]->dtype;
  out->ndim = rank;
  for (int i = 0; i < rank; i++) out->dims[i] = in[0]->dims[perm[i]];
  return 0;
}

static int transpose_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                          vrt_exec_ctx *x) {
  int perm[VRT_MAX_DIMS];
  int rc = transpose_perm(n, in[0]->ndim, perm);
  if (rc < 0) return rc;
  vrt__kern_transpose(out->data, in[0]->data, vrt_dtype_size(in[0]->dtype), in[0]->ndim, in[0]->dims, perm);
  return 0;
}

const vrt_opdef vrt__op_Transpose = {VRT_OP_Transpose, NULL, transpose_infer, transpose_exec, 0, 1, 1};

/* ---- DepthToSpace / SpaceToDepth (NCHW), as a 6-D transpose ---- */

typedef struct {
  int64_t dims6[6];
  int perm[6];
} d2s_plan;

static int d2s_plan_make(const vrt_node *n, const vrt_tensor *t, d2s_plan *p, int64_t *odims) {
  if (t->ndim != 4) return KERN_ERR(n, VRT_ESHAPE, "input must be 4-D NCHW, got rank %d", t->ndim);
  int64_t bs = vrt_attr_int(n, "blocksize", 0);
  if (bs <= 0 || bs > 4096) return KERN_ERR(n, VRT_EINVAL, "bad blocksize %lld", (long long)bs);
  int64_t N = t->dims[0], C = t->dims[1], H = t->dims[2], W = t->dims[3];
  if (n->op == VRT_OP_DepthToSpace) {
    if (C % (bs * bs)) return KERN_ERR(n, VRT_ESHAPE, "channels %lld not divisible by blocksize^2", (long long)C);
    int64_t c = C / (bs * bs);
    const char *mode = vrt_attr_string(n, "mode", "DCR");
    if (strcmp(mode, "CRD") == 0) {
      int64_t d[6] = {N, c, bs, bs, H, W};
      int pm[6] = {0, 1, 4, 2, 5, 3};
      memcpy(p->dims6, d, sizeof d), memcpy(p->perm, pm, sizeof pm);
    } else if (strcmp(mode, "DCR") == 0) {
      int64_t d[6] = {N, bs, bs, c, H, W};
      int pm[6] = {0, 3, 4, 1, 5, 2};
      memcpy(p->dims6, d, sizeof d), memcpy(p->perm, pm, sizeof pm);
    } else {
      return KERN_ERR(n, VRT_EINVAL, "unknown mode '%s'", mode);
    }
    odims[0] = N, odims[1] = c, odims[2] = H * bs, odims[3] = W * bs;
  } else {
    if (H % bs || W % bs) return KERN_ERR(n, VRT_ESHAPE, "H and W must be divisible by blocksize");
    int64_t d[6] = {N, C, H / bs, bs, W / bs, bs};
    int pm[6] = {0, 3, 5, 1, 2, 4};
    memcpy(p->dims6, d, sizeof d), memcpy(p->perm, pm, sizeof pm);
    odims[0] = N, odims[1] = C * bs * bs, odims[2] = H / bs, odims[3] = W / bs;
  }
  return 0;
}

static int d2s_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  KERN_NEED(1);
  d2s_plan p;
  int64_t od[4];
  int rc = d2s_plan_make(n, in[0], &p, od);
  if (rc < 0) return rc;
  kern_set_shape(out, in[0]->dtype, 4, od);
  return 0;
}

static int d2s_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                    vrt_exec_ctx *x) {
  d2s_plan p;
  int64_t od[4];
  int rc = d2s_plan_make(n, in[0], &p, od);
  if (rc < 0) return rc;
  vrt__kern_transpose(out->data, in[0]->data, vrt_dtype_size(in[0]->dtype), 6, p.dims6, p.perm);
  return 0;
}

const vrt_opdef vrt__op_DepthToSpace = {VRT_OP_DepthToSpace, NULL, d2s_infer, d2s_exec, 0, 1, 1};
const vrt_opdef vrt__op_SpaceToDepth = {VRT_OP_SpaceToDepth, NULL, d2s_infer, d2s_exec, 0, 1, 1};
