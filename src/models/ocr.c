/* The PP-OCRv4 pipeline on vrt: text detection with DB post-processing,
 * perspective crops, 0/180 degree classification, batched CTC recognition.
 *
 * The steps and constants follow PaddleOCR's published inference code
 * (DetResizeForTest "max" 960, DBPostProcess fast score, get_rotate_crop_image,
 * TextClassifier 48x192, TextRecognizer 3x48x320 with the batch's widest
 * ratio). Where PaddleOCR uses OpenCV contours we take 8-connected regions of
 * the binary map and the convex hull of their border pixels: the minimum-area
 * rectangle of a region is the same either way. */
#include "vigil/ocr.h"
#include "vigil/status.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "models/runner.h"
#include "util/assets.h"
#include "util/clock.h"
#include "util/file.h"

#define OCR_DET_MULTIPLE 32
#define OCR_REC_H 48
#define OCR_REC_W 320        /* the published rec_image_shape's width: the smallest batch width */
#define OCR_CLS_W 192
#define OCR_MAX_REC_RATIO 40 /* a line wider than 40x its height is squeezed: bounds the rec tensor */
#define OCR_TALL_RATIO 1.5f  /* crops this much taller than wide are turned 90 degrees */

/* The three stages' models; the classifier is optional (not loaded: m NULL). */
enum { OCR_DET, OCR_REC, OCR_CLS, OCR_NSTAGES };

struct ocr_engine {
  model_runner run[OCR_NSTAGES];
  bool has_cls;
  ocr_dict dict;
};

static ocr_stage_hook_fn stage_hook;
static void *stage_hook_ud;

void ocr_set_stage_hook(ocr_stage_hook_fn fn, void *ud) {
  stage_hook = fn;
  stage_hook_ud = ud;
}

ocr_params ocr_default_params(void) {
  /* PaddleOCR's defaults, by stage: detection, angle classifier, recognition */
  return (ocr_params){.max_side = 960, .thresh = 0.3f, .box_thresh = 0.6f, .unclip_ratio = 1.5f, .min_size = 3,
                      .max_candidates = 1000, .max_lines = 200,
                      .use_cls = true, .cls_thresh = 0.9f,
                      .drop_score = 0.5f, .rec_batch = 6};
}

/* ---- dictionary and CTC ------------------------------------------------------------ */

int ocr_dict_load(ocr_dict *d, const char *path, char *err, size_t errlen) {
  memset(d, 0, sizeof *d);
  char *text, e[600];
  size_t len;
  if (vigil_file_read(path, (size_t)64 << 20, &text, &len, e, sizeof e))
    return vigil_err(err, errlen, -1, "dictionary: %s", e);
  long n = (long)len;
  /* room for the blank and space symbols written after the text */
  d->pool = n > 0 ? realloc(text, len + 8) : NULL;
  if (!d->pool) {
    free(text);
    return vigil_err(err, errlen, -1, n > 0 ? "out of memory reading %s" : "dictionary %s is empty", path);
  }
  int lines = 1;
  for (long i = 0; i < n; i++) lines += d->pool[i] == '\n';
  d->sym = calloc((size_t)lines + 2, sizeof *d->sym);
  if (!d->sym) {
    free(d->pool);
    d->pool = NULL;
    return vigil_err(err, errlen, -1, "out of memory reading %s", path);
  }
  /* sym[0] = blank: points at a NUL written after the text */
  d->pool[n] = 0;
  d->pool[n + 1] = ' ';
  d->pool[n + 2] = 0;
  d->sym[d->n++] = d->pool + n;
  char *s = d->pool;
  for (long i = 0; i <= n; i++) {
    if (i == n || d->pool[i] == '\n') {
      d->pool[i] = 0;
      size_t l = strlen(s);
      if (l && s[l - 1] == '\r') s[--l] = 0;
      if (l || i < n) d->sym[d->n++] = s; /* a final line without '\n' counts; an empty tail does not */
      s = d->pool + i + 1;
    }
  }
  if (d->n >= 2 && d->sym[d->n - 1][0] == 0) d->n--; /* trailing newline */
  d->sym[d->n++] = d->pool + n + 1;                   /* the space the model was trained with */
  return 0;
}

void ocr_dict_free(ocr_dict *d) {
  if (!d) return;
  free(d->sym);
  free(d->pool);
  memset(d, 0, sizeof *d);
}

void ocr_ctc_decode(char *out, size_t cap, float *conf, const float *probs, int T, int C, const ocr_dict *d) {
  size_t len = 0;
  double sum = 0;
  int kept = 0, prev = -1;
  if (cap) out[0] = 0;
  for (int t = 0; t < T; t++) {
    const float *row = probs + (size_t)t * C;
    int best = 0;
    for (int c = 1; c < C; c++)
      if (row[c] > row[best]) best = c;
    if (best != 0 && best != prev && best < d->n) {
      const char *s = d->sym[best];
      size_t l = strlen(s);
      if (len + l < cap) { /* whole characters only: never a cut UTF-8 sequence */
        memcpy(out + len, s, l);
        len += l;
        out[len] = 0;
        sum += row[best];
        kept++;
      }
    }
    prev = best;
  }
  *conf = kept ? (float)(sum / kept) : 0.0f;
}

/* ---- geometry ------------------------------------------------------------------------ */

static float dist(ocr_point a, ocr_point b) { return hypotf(a.x - b.x, a.y - b.y); }

/* PaddleOCR's get_mini_boxes order: the two leftmost points give top-left and
 * bottom-left (by y), the two rightmost top-right and bottom-right. */
static void order_quad(ocr_point q[4]) {
  for (int i = 1; i < 4; i++) /* insertion sort by x */
    for (int j = i; j > 0 && q[j].x < q[j - 1].x; j--) {
      ocr_point t = q[j];
      q[j] = q[j - 1], q[j - 1] = t;
    }
  ocr_point tl = q[0], bl = q[1], tr = q[2], br = q[3];
  if (bl.y < tl.y) tl = q[1], bl = q[0];
  if (br.y < tr.y) tr = q[3], br = q[2];
  q[0] = tl, q[1] = tr, q[2] = br, q[3] = bl;
}

static int cmp_pt(const void *a, const void *b) {
  const ocr_point *p = a, *q = b;
  if (p->x != q->x) return p->x < q->x ? -1 : 1;
  return (p->y > q->y) - (p->y < q->y);
}

static double cross(ocr_point o, ocr_point a, ocr_point b) {
  return (double)(a.x - o.x) * (b.y - o.y) - (double)(a.y - o.y) * (b.x - o.x);
}

/* Andrew's monotone chain; sorts pts; hull gets at most n + 1 points. */
static int convex_hull(ocr_point *hull, ocr_point *pts, int n) {
  qsort(pts, (size_t)n, sizeof *pts, cmp_pt);
  int k = 0;
  for (int i = 0; i < n; i++) {
    while (k >= 2 && cross(hull[k - 2], hull[k - 1], pts[i]) <= 0) k--;
    hull[k++] = pts[i];
  }
  for (int i = n - 2, lo = k + 1; i >= 0; i--) {
    while (k >= lo && cross(hull[k - 2], hull[k - 1], pts[i]) <= 0) k--;
    hull[k++] = pts[i];
  }
  return n > 1 ? k - 1 : n;
}

static float rect_of_hull(ocr_point q[4], const ocr_point *h, int m) {
  if (m <= 0) {
    memset(q, 0, 4 * sizeof *q);
    return 0;
  }
  if (m == 1) {
    for (int i = 0; i < 4; i++) q[i] = h[0];
    return 0;
  }
  double best = INFINITY;
  float side = 0;
  for (int i = 0; i < m; i++) {
    ocr_point a = h[i], b = h[(i + 1) % m];
    double ux = b.x - a.x, uy = b.y - a.y, l = hypot(ux, uy);
    if (l <= 0) continue;
    ux /= l, uy /= l;
    double mnu = INFINITY, mxu = -INFINITY, mnv = INFINITY, mxv = -INFINITY;
    for (int j = 0; j < m; j++) {
      double dx = h[j].x - a.x, dy = h[j].y - a.y;
      double pu = dx * ux + dy * uy, pv = -dx * uy + dy * ux;
      mnu = fmin(mnu, pu), mxu = fmax(mxu, pu), mnv = fmin(mnv, pv), mxv = fmax(mxv, pv);
    }
    double area = (mxu - mnu) * (mxv - mnv);
    if (area < best - 1e-9) {
      best = area;
      double us[4] = {mnu, mxu, mxu, mnu}, vs[4] = {mnv, mnv, mxv, mxv};
      for (int k = 0; k < 4; k++)
        q[k] = (ocr_point){(float)(a.x + us[k] * ux - vs[k] * uy), (float)(a.y + us[k] * uy + vs[k] * ux)};
      side = (float)fmin(mxu - mnu, mxv - mnv);
    }
  }
  order_quad(q);
  return side;
}

float ocr_min_area_rect(ocr_point quad[4], const ocr_point *pts, int n) {
  if (n <= 0) return rect_of_hull(quad, NULL, 0);
  ocr_point *tmp = malloc(sizeof *tmp * (size_t)n), *hull = malloc(sizeof *hull * ((size_t)n + 1));
  float side = 0;
  if (tmp && hull) {
    memcpy(tmp, pts, sizeof *tmp * (size_t)n);
    side = rect_of_hull(quad, hull, convex_hull(hull, tmp, n));
  } else {
    memset(quad, 0, 4 * sizeof *quad);
  }
  free(tmp);
  free(hull);
  return side;
}

void ocr_unclip(ocr_point q[4], float ratio) {
  float w = dist(q[0], q[1]), h = dist(q[0], q[3]);
  float per = 2 * (w + h);
  if (per <= 0) return;
  float d = w * h * ratio / per;
  float ux = w > 0 ? (q[1].x - q[0].x) / w : 1, uy = w > 0 ? (q[1].y - q[0].y) / w : 0;
  float vx = h > 0 ? (q[3].x - q[0].x) / h : -uy, vy = h > 0 ? (q[3].y - q[0].y) / h : ux;
  const float su[4] = {-1, 1, 1, -1}, sv[4] = {-1, -1, 1, 1};
  for (int i = 0; i < 4; i++) q[i].x += d * (su[i] * ux + sv[i] * vx), q[i].y += d * (su[i] * uy + sv[i] * vy);
  order_quad(q);
}

float ocr_box_score(const float *prob, int w, int h, const ocr_point q[4]) {
  float mnx = q[0].x, mxx = q[0].x, mny = q[0].y, mxy = q[0].y;
  for (int i = 1; i < 4; i++)
    mnx = fminf(mnx, q[i].x), mxx = fmaxf(mxx, q[i].x), mny = fminf(mny, q[i].y), mxy = fmaxf(mxy, q[i].y);
  int x0 = (int)fmaxf(0, floorf(mnx)), x1 = (int)fminf((float)w - 1, ceilf(mxx));
  int y0 = (int)fmaxf(0, floorf(mny)), y1 = (int)fminf((float)h - 1, ceilf(mxy));
  /* the quad's orientation decides the sign of "inside" */
  double orient = 0;
  for (int i = 0; i < 4; i++) orient += cross(q[0], q[i], q[(i + 1) % 4]);
  double sgn = orient < 0 ? -1 : 1, sum = 0;
  long cnt = 0;
  for (int y = y0; y <= y1; y++)
    for (int x = x0; x <= x1; x++) {
      ocr_point p = {(float)x, (float)y};
      bool in = true;
      for (int i = 0; i < 4 && in; i++) {
        ocr_point a = q[i], b = q[(i + 1) % 4];
        double l = dist(a, b);
        if (l > 0 && sgn * cross(a, b, p) / l < -0.5) in = false; /* half a pixel: the fill includes edges */
      }
      if (in) sum += prob[(size_t)y * w + x], cnt++;
    }
  return cnt ? (float)(sum / cnt) : 0.0f;
}

int ocr_db_boxes(ocr_box *out, int cap, const float *prob, int w, int h, const ocr_params *p, int *ncand) {
  size_t npx = (size_t)w * h;
  int *label = calloc(npx, sizeof *label);
  int *stack = malloc(npx * sizeof *stack);
  ocr_point *border = malloc(npx * sizeof *border), *hull = malloc((npx + 1) * sizeof *hull);
  int nbox = 0, nreg = 0;
  if (!label || !stack || !border || !hull) {
    nbox = -1;
    goto out;
  }
  for (size_t i = 0; i < npx; i++) label[i] = prob[i] > p->thresh ? -1 : 0; /* -1: text, not yet labelled */
  for (size_t start = 0; start < npx; start++) {
    if (label[start] != -1) continue;
    nreg++;
    bool examine = nreg <= p->max_candidates && nbox < cap;
    int sp = 0, nb = 0;
    stack[sp++] = (int)start;
    label[start] = nreg;
    while (sp) {
      int i = stack[--sp], x = i % w, y = i / w;
      bool edge = false;
      for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++) {
          if (!dx && !dy) continue;
          int nx = x + dx, ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= w || ny >= h) {
            edge |= !dx || !dy;
            continue;
          }
          int j = ny * w + nx;
          if (label[j] == 0) edge |= !dx || !dy;
          else if (label[j] == -1) label[j] = nreg, stack[sp++] = j;
        }
      if (edge && examine) border[nb++] = (ocr_point){(float)x, (float)y};
    }
    if (!examine) continue;
    ocr_box b;
    float side = rect_of_hull(b.quad, hull, convex_hull(hull, border, nb));
    if (side < p->min_size) continue;
    b.score = ocr_box_score(prob, w, h, b.quad);
    if (b.score < p->box_thresh) continue;
    ocr_unclip(b.quad, p->unclip_ratio);
    /* the grown rectangle: its shorter side must clear min_size + 2 */
    if (fminf(dist(b.quad[0], b.quad[1]), dist(b.quad[0], b.quad[3])) < p->min_size + 2) continue;
    out[nbox++] = b;
  }
out:
  if (ncand) *ncand = nreg;
  free(label);
  free(stack);
  free(border);
  free(hull);
  return nbox;
}

static int cmp_line(const void *a, const void *b) {
  const ocr_line *p = a, *q = b;
  if (p->quad[0].y != q->quad[0].y) return p->quad[0].y < q->quad[0].y ? -1 : 1;
  return (p->quad[0].x > q->quad[0].x) - (p->quad[0].x < q->quad[0].x);
}

void ocr_sort_lines(ocr_line *l, int n) {
  if (n < 2) return;
  qsort(l, (size_t)n, sizeof *l, cmp_line);
  for (int i = 0; i < n - 1; i++)
    for (int j = i; j >= 0; j--) {
      if (fabsf(l[j + 1].quad[0].y - l[j].quad[0].y) < 10 && l[j + 1].quad[0].x < l[j].quad[0].x) {
        ocr_line t = l[j];
        l[j] = l[j + 1], l[j + 1] = t;
      } else {
        break;
      }
    }
}

/* ---- image helpers ------------------------------------------------------------------- */

/* The homography H mapping dst (0,0),(w,0),(w,h),(0,h) to the quad q[0..3], in
 * closed form (Heckbert's unit square to quad, scaled to w x h); -1 when the quad
 * is degenerate (three corners on a line). */
static int homography(double H[9], const ocr_point q[4], float w, float h) {
  double x0 = q[0].x, y0 = q[0].y, x1 = q[1].x, y1 = q[1].y, x2 = q[2].x, y2 = q[2].y, x3 = q[3].x, y3 = q[3].y;
  double sx = x0 - x1 + x2 - x3, sy = y0 - y1 + y2 - y3; /* 0, 0 for a parallelogram */
  double dx1 = x1 - x2, dx2 = x3 - x2, dy1 = y1 - y2, dy2 = y3 - y2;
  double den = dx1 * dy2 - dx2 * dy1;
  if (fabs(den) < 1e-12) return -1;
  double g = (sx * dy2 - dx2 * sy) / den, k = (dx1 * sy - sx * dy1) / den;
  const double m[9] = {(x1 - x0 + g * x1) / w, (x3 - x0 + k * x3) / h, x0,
                       (y1 - y0 + g * y1) / w, (y3 - y0 + k * y3) / h, y0,
                       g / w,                  k / h,                  1};
  memcpy(H, m, sizeof m);
  return 0;
}

/* The quad cut out and straightened: bilinear sampling, edges replicated (as
 * cv2.warpPerspective with BORDER_REPLICATE). Tall results are turned 90
 * degrees counter-clockwise, as PaddleOCR does. */
static int crop_quad(vigil_image *out, const vigil_image *im, const ocr_point q[4]) {
  int cw = (int)fmaxf(dist(q[0], q[1]), dist(q[2], q[3]));
  int ch = (int)fmaxf(dist(q[0], q[3]), dist(q[1], q[2]));
  if (cw < 1 || ch < 1) return -1;
  double H[9];
  if (homography(H, q, (float)cw, (float)ch)) return -1;
  vigil_image tmp = {0};
  if (vigil_image_init(&tmp, cw, ch, 3)) return -1;
  for (int v = 0; v < ch; v++)
    for (int u = 0; u < cw; u++) {
      double z = H[6] * u + H[7] * v + H[8];
      double x = (H[0] * u + H[1] * v + H[2]) / z, y = (H[3] * u + H[4] * v + H[5]) / z;
      x = fmin(fmax(x, 0), im->w - 1), y = fmin(fmax(y, 0), im->h - 1);
      int x0 = (int)x, y0 = (int)y, x1 = x0 + 1 < im->w ? x0 + 1 : x0, y1 = y0 + 1 < im->h ? y0 + 1 : y0;
      double fx = x - x0, fy = y - y0;
      const uint8_t *a = im->data + y0 * im->stride + x0 * 3, *b = im->data + y0 * im->stride + x1 * 3;
      const uint8_t *c = im->data + y1 * im->stride + x0 * 3, *d = im->data + y1 * im->stride + x1 * 3;
      uint8_t *o = tmp.data + v * tmp.stride + u * 3;
      for (int k = 0; k < 3; k++) {
        double top = a[k] + (b[k] - a[k]) * fx, bot = c[k] + (d[k] - c[k]) * fx;
        o[k] = (uint8_t)lrint(top + (bot - top) * fy);
      }
    }
  if ((float)ch / (float)cw < OCR_TALL_RATIO) {
    *out = tmp;
    return 0;
  }
  if (vigil_image_init(out, ch, cw, 3)) {
    vigil_image_free(&tmp);
    return -1;
  }
  for (int i = 0; i < cw; i++) /* new row i = old column cw-1-i */
    for (int j = 0; j < ch; j++)
      memcpy(out->data + i * out->stride + j * 3, tmp.data + j * tmp.stride + (cw - 1 - i) * 3, 3);
  vigil_image_free(&tmp);
  return 0;
}

static void rotate_180(vigil_image *im) {
  size_t n = (size_t)im->w * im->h;
  for (size_t i = 0, j = n - 1; i < j; i++, j--) {
    uint8_t *a = im->data + (i / im->w) * im->stride + (i % im->w) * 3;
    uint8_t *b = im->data + (j / im->w) * im->stride + (j % im->w) * 3;
    for (int k = 0; k < 3; k++) {
      uint8_t t = a[k];
      a[k] = b[k], b[k] = t;
    }
  }
}

/* One crop resized to 48 x rw (rw <= W) into a [3,48,W] slot: BGR,
 * (x/255 - 0.5) / 0.5, zero (mid-grey) padding on the right. */
static int put_line(float *dst, const vigil_image *crop, int W) {
  double ratio = (double)crop->w / crop->h;
  int rw = (int)ceil(OCR_REC_H * ratio);
  if (rw > W) rw = W;
  if (rw < 1) rw = 1;
  vigil_image r = {0};
  if (vigil_img_resize(&r, crop, rw, OCR_REC_H, VIGIL_RESIZE_BILINEAR)) return -1;
  size_t plane = (size_t)OCR_REC_H * W;
  memset(dst, 0, 3 * plane * sizeof *dst);
  for (int y = 0; y < OCR_REC_H; y++)
    for (int x = 0; x < rw; x++) {
      const uint8_t *px = r.data + y * r.stride + x * 3;
      for (int c = 0; c < 3; c++) dst[c * plane + (size_t)y * W + x] = px[2 - c] / 127.5f - 1.0f;
    }
  vigil_image_free(&r);
  return 0;
}

static int run_model(model_runner *r, const char *stage, vrt_tensor *in, vrt_tensor **o, int *no, double *ms,
                     char *err, size_t errlen) {
  in->name = vrt_model_input(r->m, 0)->name;
  double t0 = vigil_mono_ms();
  int rc = runner_run(r, in, 1, o, no, err, errlen);
  *ms += vigil_mono_ms() - t0;
  if (rc) return rc;
  if (*no < 1 || (*o)[0].dtype != VRT_F32) {
    runner_outputs_free(*o, *no);
    return vigil_err(err, errlen, -1, "%s: unexpected output", stage);
  }
  if (stage_hook) stage_hook(stage_hook_ud, stage, in, &(*o)[0]);
  return 0;
}

/* ---- engine ---------------------------------------------------------------------------- */

int ocr_load(ocr_engine **out, const char *det, const char *rec, const char *cls, const char *keys, int threads,
             char *err, size_t errlen) {
  *out = NULL;
  ocr_engine *e = calloc(1, sizeof *e);
  if (!e) return vigil_err(err, errlen, -1, "out of memory");
  if (runner_load(&e->run[OCR_DET], det, threads, err, errlen) ||
      runner_load(&e->run[OCR_REC], rec, threads, err, errlen) ||
      (cls && runner_load(&e->run[OCR_CLS], cls, threads, err, errlen)) || ocr_dict_load(&e->dict, keys, err, errlen)) {
    ocr_free(e);
    return -1;
  }
  e->has_cls = cls != NULL;
  *out = e;
  return 0;
}

static int path_of(char *buf, size_t len, const vigil_config *cfg, const char *key, const char *rel) {
  const char *v = vigil_config_str(cfg, key);
  if (v && v[0]) {
    snprintf(buf, len, "%s", v);
    return 0;
  }
  return vigil_asset_path(buf, len, rel);
}

int ocr_load_config(ocr_engine **out, ocr_params *params, const vigil_config *cfg, char *err, size_t errlen) {
  char det[1024], rec[1024], cls[1024], keys[1024];
  *out = NULL;
  if (params) {
    long side;
    if (vigil_config_int(cfg, "OCR_MAX_SIDE", &side, err, errlen)) return -1;
    params->max_side = (int)side;
  }
  if (path_of(det, sizeof det, cfg, "PPOCR_DET_MODEL_PATH", "models/ocr/ch_PP-OCRv4_det_infer.onnx") ||
      path_of(rec, sizeof rec, cfg, "PPOCR_REC_MODEL_PATH", "models/ocr/ch_PP-OCRv4_rec_infer.onnx") ||
      path_of(cls, sizeof cls, cfg, "PPOCR_CLS_MODEL_PATH", "models/ocr/ch_ppocr_mobile_v2.0_cls_infer.onnx") ||
      path_of(keys, sizeof keys, cfg, "PPOCR_KEYS_PATH", "models/ocr/ppocr_keys_v1.txt"))
    return vigil_err(err, errlen, -1, "%s", vigil_asset_errmsg());
  return ocr_load(out, det, rec, cls, keys, 1, err, errlen);
}

void ocr_free(ocr_engine *e) {
  if (!e) return;
  for (int s = 0; s < OCR_NSTAGES; s++) runner_free(&e->run[s]);
  ocr_dict_free(&e->dict);
  free(e);
}

size_t ocr_memory_bytes(const ocr_engine *e) {
  if (!e) return 0;
  size_t bytes = 0;
  for (int s = 0; s < OCR_NSTAGES; s++) bytes += runner_memory_bytes(&e->run[s]); /* 0 when not loaded */
  return bytes;
}

void ocr_result_free(ocr_result *r) {
  if (!r) return;
  free(r->lines);
  memset(r, 0, sizeof *r);
}

char *ocr_result_text(const ocr_result *r) {
  size_t n = 1;
  for (int i = 0; i < r->n; i++) n += strlen(r->lines[i].text) + 1;
  char *s = malloc(n), *p = s;
  if (!s) return NULL;
  *p = 0;
  for (int i = 0; i < r->n; i++) p += sprintf(p, "%s%s", i ? "\n" : "", r->lines[i].text);
  return s;
}

/* det: resized to multiples of 32 (longest side <= max_side), BGR ImageNet
 * normalisation, DB post-processing; quads in original pixels, ordered. */
static int detect(ocr_engine *e, ocr_result *res, const vigil_image *im, const ocr_params *p, char *err,
                  size_t errlen) {
  double ratio = 1;
  int side = im->w > im->h ? im->w : im->h;
  if (side > p->max_side) ratio = (double)p->max_side / side;
  int rw = (int)(im->w * ratio), rh = (int)(im->h * ratio);
  rw = (int)lround(rw / (double)OCR_DET_MULTIPLE) * OCR_DET_MULTIPLE;
  rh = (int)lround(rh / (double)OCR_DET_MULTIPLE) * OCR_DET_MULTIPLE;
  if (rw < OCR_DET_MULTIPLE) rw = OCR_DET_MULTIPLE;
  if (rh < OCR_DET_MULTIPLE) rh = OCR_DET_MULTIPLE;
  vigil_image r = {0};
  if (vigil_img_resize(&r, im, rw, rh, VIGIL_RESIZE_BILINEAR)) return vigil_err(err, errlen, -1, "out of memory");
  float *buf = malloc(sizeof *buf * 3 * (size_t)rw * rh);
  if (!buf) {
    vigil_image_free(&r);
    return vigil_err(err, errlen, -1, "out of memory");
  }
  static const float mean[3] = {0.406f * 255, 0.456f * 255, 0.485f * 255}; /* BGR order */
  static const float std[3] = {0.225f * 255, 0.224f * 255, 0.229f * 255};
  vigil_img_to_f32(buf, &r, VIGIL_LAYOUT_NCHW, mean, std, true);
  vigil_image_free(&r);
  vrt_tensor in = {.dtype = VRT_F32, .ndim = 4, .dims = {1, 3, rh, rw}, .data = buf,
                   .nbytes = sizeof *buf * 3 * (size_t)rw * rh};
  vrt_tensor *o;
  int no;
  int rc = run_model(&e->run[OCR_DET], "det", &in, &o, &no, &res->det_ms, err, errlen);
  free(buf);
  if (rc) return rc;
  if (vrt_tensor_numel(&o[0]) != (int64_t)rw * rh) {
    runner_outputs_free(o, no);
    return vigil_err(err, errlen, -1, "det: probability map of an unexpected size");
  }
  ocr_box *boxes = malloc(sizeof *boxes * (size_t)(p->max_candidates > 0 ? p->max_candidates : 1));
  int nb = boxes ? ocr_db_boxes(boxes, p->max_candidates, o[0].data, rw, rh, p, &res->candidates) : -1;
  runner_outputs_free(o, no);
  if (nb < 0) {
    free(boxes);
    return vigil_err(err, errlen, -1, "out of memory");
  }
  if (res->candidates > p->max_candidates) res->capped = true;
  res->lines = calloc((size_t)nb + 1, sizeof *res->lines);
  if (!res->lines) {
    free(boxes);
    return vigil_err(err, errlen, -1, "out of memory");
  }
  float sx = (float)im->w / rw, sy = (float)im->h / rh;
  for (int i = 0; i < nb; i++) {
    ocr_line *l = &res->lines[res->n];
    for (int k = 0; k < 4; k++) {
      l->quad[k].x = fminf(fmaxf(roundf(boxes[i].quad[k].x * sx), 0), (float)im->w - 1);
      l->quad[k].y = fminf(fmaxf(roundf(boxes[i].quad[k].y * sy), 0), (float)im->h - 1);
    }
    order_quad(l->quad);
    if ((int)dist(l->quad[0], l->quad[1]) <= 3 || (int)dist(l->quad[0], l->quad[3]) <= 3) continue;
    l->box_score = boxes[i].score;
    res->n++;
  }
  free(boxes);
  ocr_sort_lines(res->lines, res->n);
  if (res->n > p->max_lines) res->n = p->max_lines, res->capped = true;
  return 0;
}

typedef struct {
  int idx;
  float ratio;
} line_order;

static int cmp_ratio(const void *a, const void *b) {
  const line_order *p = a, *q = b;
  return (p->ratio > q->ratio) - (p->ratio < q->ratio);
}

static int classify(ocr_engine *e, ocr_result *res, vigil_image *crops, const ocr_params *p, char *err,
                    size_t errlen) {
  int B = p->rec_batch > 0 ? p->rec_batch : 6;
  size_t slot = 3 * (size_t)OCR_REC_H * OCR_CLS_W;
  float *buf = malloc(sizeof *buf * slot * B);
  if (!buf) return vigil_err(err, errlen, -1, "out of memory");
  for (int b0 = 0; b0 < res->n; b0 += B) {
    int nb = res->n - b0 < B ? res->n - b0 : B;
    for (int i = 0; i < nb; i++)
      if (put_line(buf + slot * i, &crops[b0 + i], OCR_CLS_W)) {
        free(buf);
        return vigil_err(err, errlen, -1, "out of memory");
      }
    vrt_tensor in = {.dtype = VRT_F32, .ndim = 4, .dims = {nb, 3, OCR_REC_H, OCR_CLS_W}, .data = buf,
                     .nbytes = sizeof *buf * slot * nb};
    vrt_tensor *o;
    int no;
    if (run_model(&e->run[OCR_CLS], "cls", &in, &o, &no, &res->cls_ms, err, errlen)) {
      free(buf);
      return -1;
    }
    if (vrt_tensor_numel(&o[0]) == 2 * nb) {
      const float *s = o[0].data;
      for (int i = 0; i < nb; i++)
        if (s[2 * i + 1] > s[2 * i] && s[2 * i + 1] > p->cls_thresh) rotate_180(&crops[b0 + i]);
    }
    runner_outputs_free(o, no);
  }
  free(buf);
  return 0;
}

static int recognise(ocr_engine *e, ocr_result *res, const vigil_image *crops, const ocr_params *p, char *err,
                     size_t errlen) {
  int n = res->n, B = p->rec_batch > 0 ? p->rec_batch : 6;
  line_order *ord = malloc(sizeof *ord * (size_t)n);
  if (!ord) return vigil_err(err, errlen, -1, "out of memory");
  for (int i = 0; i < n; i++) ord[i] = (line_order){i, (float)crops[i].w / (float)crops[i].h};
  qsort(ord, (size_t)n, sizeof *ord, cmp_ratio);
  int rc = 0;
  for (int b0 = 0; b0 < n && !rc; b0 += B) {
    int nb = n - b0 < B ? n - b0 : B;
    float maxr = (float)OCR_REC_W / OCR_REC_H;
    for (int i = 0; i < nb; i++) maxr = fmaxf(maxr, ord[b0 + i].ratio);
    if (maxr > OCR_MAX_REC_RATIO) maxr = OCR_MAX_REC_RATIO;
    int W = (int)(OCR_REC_H * maxr);
    size_t slot = 3 * (size_t)OCR_REC_H * W;
    float *buf = malloc(sizeof *buf * slot * nb);
    if (!buf) {
      rc = vigil_err(err, errlen, -1, "out of memory");
      break;
    }
    for (int i = 0; i < nb && !rc; i++)
      if (put_line(buf + slot * i, &crops[ord[b0 + i].idx], W)) rc = vigil_err(err, errlen, -1, "out of memory");
    vrt_tensor in = {.dtype = VRT_F32, .ndim = 4, .dims = {nb, 3, OCR_REC_H, W}, .data = buf,
                     .nbytes = sizeof *buf * slot * nb};
    vrt_tensor *o = NULL;
    int no = 0;
    if (!rc) rc = run_model(&e->run[OCR_REC], "rec", &in, &o, &no, &res->rec_ms, err, errlen);
    free(buf);
    if (rc) break;
    if (o[0].ndim != 3 || o[0].dims[0] != nb) {
      runner_outputs_free(o, no);
      rc = vigil_err(err, errlen, -1, "rec: output of an unexpected shape");
      break;
    }
    int T = (int)o[0].dims[1], C = (int)o[0].dims[2];
    for (int i = 0; i < nb; i++) {
      ocr_line *l = &res->lines[ord[b0 + i].idx];
      ocr_ctc_decode(l->text, sizeof l->text, &l->confidence, (const float *)o[0].data + (size_t)i * T * C, T, C,
                     &e->dict);
    }
    runner_outputs_free(o, no);
  }
  free(ord);
  return rc;
}

int ocr_run(ocr_engine *e, ocr_result *out, const vigil_image *im, const ocr_params *p0, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  double t0 = vigil_mono_ms();
  ocr_params p = p0 ? *p0 : ocr_default_params();
  if (p.max_side < OCR_DET_MULTIPLE) p.max_side = OCR_DET_MULTIPLE;
  if (!e || !im || !im->data || im->w < 1 || im->h < 1 || im->c != 3)
    return vigil_err(err, errlen, -1, "ocr: need an RGB image");
  if (detect(e, out, im, &p, err, errlen)) {
    ocr_result_free(out);
    return -1;
  }
  vigil_image *crops = calloc((size_t)out->n + 1, sizeof *crops);
  int rc = crops ? 0 : vigil_err(err, errlen, -1, "out of memory");
  /* a quad that cannot be cut (degenerate) is dropped here */
  int k = 0;
  for (int i = 0; i < out->n && !rc; i++) {
    if (crop_quad(&crops[k], im, out->lines[i].quad)) continue;
    out->lines[k++] = out->lines[i];
  }
  if (!rc) out->n = k;
  if (!rc && out->n && p.use_cls && e->has_cls) rc = classify(e, out, crops, &p, err, errlen);
  if (!rc && out->n) rc = recognise(e, out, crops, &p, err, errlen);
  for (int i = 0; crops && i < out->n; i++) vigil_image_free(&crops[i]);
  free(crops);
  if (rc) {
    ocr_result_free(out);
    return -1;
  }
  k = 0;
  for (int i = 0; i < out->n; i++)
    if (out->lines[i].text[0] && out->lines[i].confidence >= p.drop_score) out->lines[k++] = out->lines[i];
  out->n = k;
  out->total_ms = vigil_mono_ms() - t0;
  return 0;
}
