/* TopK (K as an int64 input; largest/sorted; ties keep the lower index
 * first) and NonMaxSuppression (ONNX semantics, both box formats). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"

/* ---- TopK ------------------------------------------------------------------- */

static int topk_args(const vrt_node *n, const vrt_tensor *const *in, int nin, int *axis, int64_t *k) {
  const vrt_tensor *x = in[0];
  int r = x->ndim;
  int64_t a = vrt_attr_int(n, "axis", -1);
  if (r < 1 || a < -r || a >= r) return NN_ERR(n, VRT_EINVAL, "axis %lld out of range for rank %d", (long long)a, r);
  *axis = (int)(a < 0 ? a + r : a);
  if (nin > 1 && in[1]) {
    if (vrt_tensor_numel(in[1]) != 1 || (in[1]->dtype != VRT_I64 && in[1]->dtype != VRT_I32))
      return NN_ERR(n, VRT_ESHAPE, "K must be a single int64");
    if (!in[1]->data) return VRT_ENEEDDATA;
    *k = vrt__get_i64(in[1], 0);
  } else {
    *k = vrt_attr_int(n, "k", -1); /* opset 1-9 attribute form */
  }
  if (*k < 0 || *k > x->dims[*axis])
    return NN_ERR(n, VRT_EINVAL, "K = %lld out of range for axis of size %lld", (long long)*k,
                  (long long)x->dims[*axis]);
  switch (x->dtype) {
    case VRT_F32: case VRT_F64: case VRT_I32: case VRT_I64: case VRT_U8: case VRT_I8: case VRT_U64: break;
    default: return NN_ERR(n, VRT_ETYPE, "unsupported dtype %s", vrt_dtype_name(x->dtype));
  }
  return 0;
}

static int topk_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  int axis;
  int64_t k;
  int rc = topk_args(n, in, nin, &axis, &k);
  if (rc) return rc;
  for (int i = 0; i < nout; i++) {
    out[i].dtype = i == 0 ? in[0]->dtype : VRT_I64;
    out[i].ndim = in[0]->ndim;
    memcpy(out[i].dims, in[0]->dims, sizeof(int64_t) * in[0]->ndim);
    out[i].dims[axis] = k;
  }
  return 0;
}

/* Per row: with k small against D, a bounded heap keeps the k best seen so
 * far (worst at the root), O(D log k); otherwise the whole row is sorted.
 * Either way the k winners are sorted at the end with the same comparator:
 * by value, ties by lower index. */
#define TOPK_FN(NAME, T, ISNAN)                                                                        \
  typedef struct {                                                                                \
    T v;                                                                                          \
    int64_t i;                                                                                    \
  } NAME##_kv;                                                                                    \
  /* three-way compare of values; NaN ranks above every number, so the   \
   * order stays total and qsort/heap stay consistent */                 \
  static int NAME##_vcmp(T a, T b) {                                                              \
    if (ISNAN(a)) return ISNAN(b) ? 0 : 1;                                                            \
    if (ISNAN(b)) return -1;                                                                        \
    return (a > b) - (a < b);                                                                     \
  }                                                                                               \
  static int NAME##_desc(const void *pa, const void *pb) {                                        \
    const NAME##_kv *a = pa, *b = pb;                                                             \
    int c = NAME##_vcmp(a->v, b->v);                                                              \
    if (c) return -c;                                                                             \
    return a->i < b->i ? -1 : a->i > b->i;                                                        \
  }                                                                                               \
  static int NAME##_asc(const void *pa, const void *pb) {                                         \
    const NAME##_kv *a = pa, *b = pb;                                                             \
    int c = NAME##_vcmp(a->v, b->v);                                                              \
    if (c) return c;                                                                              \
    return a->i < b->i ? -1 : a->i > b->i;                                                        \
  }                                                                                               \
  static void NAME##_sift(NAME##_kv *h, int64_t n, int64_t i, int (*cmp)(const void *, const void *)) { \
    for (;;) {                                                                                    \
      int64_t l = 2 * i + 1, r = l + 1, w = i;                                                    \
      if (l < n && cmp(&h[l], &h[w]) > 0) w = l;                                                  \
      if (r < n && cmp(&h[r], &h[w]) > 0) w = r;                                                  \
      if (w == i) return;                                                                         \
      NAME##_kv t = h[i];                                                                         \
      h[i] = h[w];                                                                                \
      h[w] = t;                                                                                   \
      i = w;                                                                                      \
    }                                                                                             \
  }                                                                                               \
  static void NAME(const T *x, T *yv, int64_t *yi, int64_t outer, int64_t D, int64_t inner,       \
                   int64_t k, int largest, NAME##_kv *kv) {                                       \
    int (*cmp)(const void *, const void *) = largest ? NAME##_desc : NAME##_asc;                  \
    bool heap = k * 4 < D;                                                                        \
    for (int64_t o = 0; o < outer; o++)                                                           \
      for (int64_t in_ = 0; in_ < inner; in_++) {                                                 \
        const T *xp = x + o * D * inner + in_;                                                    \
        int64_t fill = heap ? k : D;                                                              \
        for (int64_t d = 0; d < fill; d++) {                                                      \
          kv[d].v = xp[d * inner];                                                                \
          kv[d].i = d;                                                                            \
        }                                                                                         \
        if (heap) {                                                                               \
          for (int64_t h = k / 2 - 1; h >= 0; h--) NAME##_sift(kv, k, h, cmp);                    \
          for (int64_t d = k; d < D; d++) {                                                       \
            NAME##_kv c = {xp[d * inner], d};                                                     \
            if (cmp(&c, &kv[0]) < 0) {                                                            \
              kv[0] = c;                                                                          \
              NAME##_sift(kv, k, 0, cmp);                                                         \
            }                                                                                     \
          }                                                                                       \
        }                                                                                         \
        qsort(kv, (size_t)fill, sizeof *kv, cmp);                                                 \
        for (int64_t j = 0; j < k; j++) {                                                         \
          int64_t at = (o * k + j) * inner + in_;                                                 \
          if (yv) yv[at] = kv[j].v;                                                               \
          if (yi) yi[at] = kv[j].i;                                                               \
        }                                                                                         \
      }                                                                                           \
  }

#define NEVER_NAN(x) 0
TOPK_FN(topk_f32, float, isnan)
TOPK_FN(topk_f64, double, isnan)
TOPK_FN(topk_i32, int32_t, NEVER_NAN)
TOPK_FN(topk_i64, int64_t, NEVER_NAN)
TOPK_FN(topk_u8, uint8_t, NEVER_NAN)
TOPK_FN(topk_i8, int8_t, NEVER_NAN)
TOPK_FN(topk_u64, uint64_t, NEVER_NAN)

static int topk_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                     vrt_exec_ctx *ctx) {
  int axis;
  int64_t k;
  int rc = topk_args(n, in, nin, &axis, &k);
  if (rc) return rc == VRT_ENEEDDATA ? NN_ERR(n, VRT_EINVAL, "K has no data") : rc;
  const vrt_tensor *x = in[0];
  int64_t outer = vrt__numel(x->dims, axis), D = x->dims[axis];
  int64_t inner = vrt__numel(x->dims + axis + 1, x->ndim - axis - 1);
  int largest = (int)vrt_attr_int(n, "largest", 1);
  /* sorted=0 lets any order through; the sorted order is one of them */
  if (k == 0 || outer == 0 || inner == 0) return 0;
  void *kv = ctx->scratch(ctx, 16 * (size_t)D);
  if (!kv) return NN_ERR(n, VRT_ENOMEM, "out of memory for TopK scratch");
  void *yv = out[0].data;
  int64_t *yi = nout > 1 ? out[1].data : NULL;
  switch (x->dtype) {
    case VRT_F32: topk_f32(x->data, yv, yi, outer, D, inner, k, largest, kv); break;
    case VRT_F64: topk_f64(x->data, yv, yi, outer, D, inner, k, largest, kv); break;
    case VRT_I32: topk_i32(x->data, yv, yi, outer, D, inner, k, largest, kv); break;
    case VRT_I64: topk_i64(x->data, yv, yi, outer, D, inner, k, largest, kv); break;
    case VRT_U8: topk_u8(x->data, yv, yi, outer, D, inner, k, largest, kv); break;
    case VRT_I8: topk_i8(x->data, yv, yi, outer, D, inner, k, largest, kv); break;
    case VRT_U64: topk_u64(x->data, yv, yi, outer, D, inner, k, largest, kv); break;
    default: return NN_ERR(n, VRT_ETYPE, "unsupported dtype");
  }
  return 0;
}

const vrt_opdef vrt__op_TopK = {
    .op = VRT_OP_TopK, .infer = topk_infer, .exec = topk_exec, .min_inputs = 1, .max_inputs = 2,
};

/* ---- NonMaxSuppression ----------------------------------------------------------
 * Per batch and class: candidates above score_threshold sorted by score
 * (ties: lower box index first), then greedy selection dropping boxes whose
 * IoU with a selected box exceeds iou_threshold. The output [k, 3] lists
 * (batch, class, box) in batch, class, selection order. The output size
 * depends on the data, so infer runs the selection too (counting only). */

typedef struct nms_args {
  int64_t B, C, N, max_out;
  float iou, score_th;
  bool has_score_th;
  int center;
  const float *boxes, *scores;
} nms_args;

static int nms_get(const vrt_node *n, const vrt_tensor *const *in, int nin, nms_args *a) {
  const vrt_tensor *bx = in[0], *sc = in[1];
  if (bx->dtype != VRT_F32 || sc->dtype != VRT_F32) return NN_ERR(n, VRT_ETYPE, "boxes and scores must be float32");
  if (bx->ndim != 3 || bx->dims[2] != 4 || sc->ndim != 3 || sc->dims[0] != bx->dims[0] || sc->dims[2] != bx->dims[1])
    return NN_ERR(n, VRT_ESHAPE, "boxes must be [B,N,4] and scores [B,C,N]");
  a->B = bx->dims[0];
  a->N = bx->dims[1];
  a->C = sc->dims[1];
  a->center = (int)vrt_attr_int(n, "center_point_box", 0);
  a->max_out = 0;
  a->iou = 0;
  a->has_score_th = false;
  for (int i = 2; i < nin && i < 5; i++)
    if (in[i] && vrt_tensor_numel(in[i]) > 0 && !in[i]->data) return VRT_ENEEDDATA;
  if (!bx->data || !sc->data) return VRT_ENEEDDATA;
  if (nin > 2 && in[2] && vrt_tensor_numel(in[2]) > 0) a->max_out = vrt__get_i64(in[2], 0);
  if (nin > 3 && in[3] && vrt_tensor_numel(in[3]) > 0) a->iou = (float)vrt__get_f64(in[3], 0);
  if (nin > 4 && in[4] && vrt_tensor_numel(in[4]) > 0) {
    a->has_score_th = true;
    a->score_th = (float)vrt__get_f64(in[4], 0);
  }
  if (a->max_out < 0) a->max_out = 0;
  a->boxes = bx->data;
  a->scores = sc->data;
  return 0;
}

static void corners(const float *b, int center, float *y1, float *x1, float *y2, float *x2) {
  if (center) {
    float xc = b[0], yc = b[1], w = b[2], h = b[3];
    *x1 = xc - w / 2;
    *x2 = xc + w / 2;
    *y1 = yc - h / 2;
    *y2 = yc + h / 2;
  } else {
    *y1 = fminf(b[0], b[2]);
    *y2 = fmaxf(b[0], b[2]);
    *x1 = fminf(b[1], b[3]);
    *x2 = fmaxf(b[1], b[3]);
  }
}

static float iou(const float *a, const float *b, int center) {
  float ay1, ax1, ay2, ax2, by1, bx1, by2, bx2;
  corners(a, center, &ay1, &ax1, &ay2, &ax2);
  corners(b, center, &by1, &bx1, &by2, &bx2);
  float ih = fminf(ay2, by2) - fmaxf(ay1, by1), iw = fminf(ax2, bx2) - fmaxf(ax1, bx1);
  if (ih <= 0 || iw <= 0) return 0;
  float inter = ih * iw, ua = (ay2 - ay1) * (ax2 - ax1) + (by2 - by1) * (bx2 - bx1) - inter;
  return ua > 0 ? inter / ua : 0;
}

/* Candidates are ordered as TopK orders float32 values: by score
 * descending, ties by the lower box index (NaN first, so the order stays
 * total). */
typedef topk_f32_kv nms_cand;

/* Runs the selection; writes triples to out (when not NULL) and returns the
 * count, or <0 on allocation failure. */
static int64_t nms_run(const nms_args *a, int64_t *out, int64_t cap) {
  if (a->max_out == 0 || a->N == 0) return 0;
  nms_cand *cand = malloc(sizeof *cand * (size_t)a->N);
  int64_t *sel = malloc(sizeof *sel * (size_t)a->N);
  if (!cand || !sel) {
    free(cand);
    free(sel);
    return -1;
  }
  int64_t total = 0;
  for (int64_t b = 0; b < a->B; b++)
    for (int64_t c = 0; c < a->C; c++) {
      const float *sc = a->scores + (b * a->C + c) * a->N;
      const float *bx = a->boxes + b * a->N * 4;
      int64_t nc = 0, ns = 0;
      for (int64_t i = 0; i < a->N; i++)
        if (!a->has_score_th || sc[i] > a->score_th) cand[nc++] = (nms_cand){sc[i], i};
      qsort(cand, (size_t)nc, sizeof *cand, topk_f32_desc);
      for (int64_t k = 0; k < nc && ns < a->max_out; k++) {
        bool keep = true;
        for (int64_t j = 0; j < ns && keep; j++)
          if (iou(bx + cand[k].i * 4, bx + sel[j] * 4, a->center) > a->iou) keep = false;
        if (!keep) continue;
        sel[ns++] = cand[k].i;
        if (out && total < cap) {
          out[total * 3] = b;
          out[total * 3 + 1] = c;
          out[total * 3 + 2] = cand[k].i;
        }
        total++;
      }
    }
  free(cand);
  free(sel);
  return total;
}

static int nms_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  nms_args a;
  int rc = nms_get(n, in, nin, &a);
  if (rc) return rc;
  int64_t k = nms_run(&a, NULL, 0);
  if (k < 0) return NN_ERR(n, VRT_ENOMEM, "out of memory");
  out[0].dtype = VRT_I64;
  out[0].ndim = 2;
  out[0].dims[0] = k;
  out[0].dims[1] = 3;
  return 0;
}

static int nms_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                    vrt_exec_ctx *ctx) {
  nms_args a;
  int rc = nms_get(n, in, nin, &a);
  if (rc) return rc == VRT_ENEEDDATA ? NN_ERR(n, VRT_EINVAL, "inputs have no data") : rc;
  int64_t k = nms_run(&a, out[0].data, out[0].dims[0]);
  if (k < 0) return NN_ERR(n, VRT_ENOMEM, "out of memory");
  if (k != out[0].dims[0]) return NN_ERR(n, VRT_ESHAPE, "output has %lld rows, selection has %lld",
                                         (long long)out[0].dims[0], (long long)k);
  return 0;
}

const vrt_opdef vrt__op_NonMaxSuppression = {
    .op = VRT_OP_NonMaxSuppression, .infer = nms_infer, .exec = nms_exec, .flags = VRT_OPF_DATA_DEPENDENT,
    .min_inputs = 2, .max_inputs = 5,
};
