/* The detector adapter: recognises a detection model's family from its
 * inputs and outputs, preprocesses images the way that family was trained
 * (letterbox or stretch, RGB or BGR, scale, mean/std, layout), runs vrt, and
 * decodes boxes back into the original image's pixels.
 *
 * Families and their published preprocessing:
 *   YOLO26 / YOLOv8 / YOLO11 (Ultralytics ONNX): letterbox to 640 with grey
 *     114 padding, RGB / 255, NCHW. YOLO26's end-to-end head gives [B,300,6]
 *     boxes already suppressed; v8/11 give [B,4+nc,N] (cx,cy,w,h, class
 *     scores) and need class-aware NMS.
 *   CenterNet (human-models): stretched to 512x512, RGB 0..255, NHWC; output
 *     `detections` [1,100,6] = x1,y1,x2,y2 in 512-px units, score, class.
 *   NanoDet-g (human-models): stretched to 416x416, BGR,
 *     (x - [103.53,116.28,123.675]) / [57.375,57.12,58.395], NCHW; per stride
 *     8/16/32 class scores [1,N,80] (already sigmoid) and boxes [1,N,44] = 4
 *     sides x 11 distance bins: distance = sum(softmax(bins) * i) * stride
 *     from the cell centre (col + 0.5) * stride.
 * Sessions: a detector is shared between threads; each call borrows a vrt
 * session from a small pool (a mutex guards only the pool's free list). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/runner.h"
#include "vigil/detect.h"
#include "vigil/status.h"
#include "vrt/vrt.h"

#define DET_MAX_NAMES 1024

struct detector {
  model_runner run;
  vrt_model_t *m;         /* = run.m */
  detector_params p;
  det_family fam;
  const struct family_row *row; /* fam's row of the family table */
  char name[256];
  int in_w, in_h;
  bool dyn_batch;
  int nc;                 /* classes */
  char **names;           /* class names (Ultralytics metadata), or NULL = COCO */
  int nnames;
  int out_main;           /* output index used by the YOLO families and CenterNet */
  int nano_cls[3], nano_box[3]; /* NanoDet outputs per stride 8/16/32 */
};

detector_params detector_default_params(void) {
  detector_params p = {.path = NULL, .family = DET_FAMILY_AUTO, .conf = -1, .iou = 0.45f, .max_batch = 8,
                       .threads = 1, .security_only = true};
  return p;
}

/* Ultralytics stores names as a Python dict literal: {0: 'person', 1: 'bicycle'} */
static void parse_names(detector_t *d, const char *meta) {
  const char *s = meta;
  while ((s = strchr(s, ':')) && d->nnames < DET_MAX_NAMES) {
    s++;
    while (*s == ' ') s++;
    char q = *s;
    if (q != '\'' && q != '"') continue;
    const char *e = strchr(s + 1, q);
    if (!e) break;
    char **nn = realloc(d->names, sizeof(char *) * (size_t)(d->nnames + 1));
    if (!nn) break;
    d->names = nn;
    d->names[d->nnames++] = strndup(s + 1, (size_t)(e - s - 1));
    s = e + 1;
  }
}

static const char *label_of(const detector_t *d, int cls) {
  if (d->names) return cls >= 0 && cls < d->nnames ? d->names[cls] : "unknown";
  return coco_label(cls);
}

/* ---- the families ------------------------------------------------------------------ */

/* Geometry that maps model-input pixels back to the original image. */
typedef struct {
  float sx, sy;   /* input px per original px */
  float px, py;   /* padding offset in input px */
  int w, h;       /* original size */
} det_geom;

static int push(vigil_det_list *l, int *cap, const detector_t *d, const det_geom *g, int cls, float score, float x1,
                float y1, float x2, float y2);

/* NanoDet: pairs of [1,N,80] scores and [1,N,44] boxes, NCHW. */
static bool match_nanodet(detector_t *d, const vrt_tensor *in, bool nhwc) {
  const vrt_model_t *m = d->m;
  int nout = vrt_model_num_outputs(m), ncls = 0, nbox = 0;
  for (int i = 0; i < nout; i++) {
    const vrt_tensor *o = vrt_model_output(m, i);
    if (o->ndim == 3 && o->dims[2] == 80) ncls++;
    if (o->ndim == 3 && o->dims[2] == 44) nbox++;
  }
  if (ncls != 3 || nbox != 3 || nhwc) return false;
  d->nc = 80;
  d->in_w = in->dims[3] > 0 ? (int)in->dims[3] : 416;
  d->in_h = in->dims[2] > 0 ? (int)in->dims[2] : 416;
  for (int i = 0; i < nout; i++) {
    const vrt_tensor *o = vrt_model_output(m, i);
    if (o->ndim != 3) continue;
    for (int s = 0; s < 3; s++) {
      int stride = 8 << s;
      int64_t cells = (int64_t)(d->in_w / stride) * (d->in_h / stride);
      if (o->dims[1] == cells && o->dims[2] == 80) d->nano_cls[s] = i;
      if (o->dims[1] == cells && o->dims[2] == 44) d->nano_box[s] = i;
    }
  }
  return true;
}

/* CenterNet: NHWC input, an output named `detections` [1,100,6]. */
static bool match_centernet(detector_t *d, const vrt_tensor *in, bool nhwc) {
  for (int i = 0; nhwc && i < vrt_model_num_outputs(d->m); i++) {
    const vrt_tensor *o = vrt_model_output(d->m, i);
    if (strstr(o->name, "detections") && o->ndim == 3 && o->dims[2] == 6) {
      d->out_main = i;
      d->nc = 80;
      d->in_w = in->dims[2] > 0 ? (int)in->dims[2] : 512;
      d->in_h = in->dims[1] > 0 ? (int)in->dims[1] : 512;
      return true;
    }
  }
  return false;
}

/* The Ultralytics heads take an NCHW input and answer in output 0. */
static const vrt_tensor *ultralytics_out(detector_t *d, const vrt_tensor *in, bool nhwc) {
  if (nhwc || vrt_model_num_outputs(d->m) < 1) return NULL;
  d->in_w = in->dims[3] > 0 ? (int)in->dims[3] : 640;
  d->in_h = in->dims[2] > 0 ? (int)in->dims[2] : 640;
  d->out_main = 0;
  return vrt_model_output(d->m, 0);
}

static bool match_yolo26(detector_t *d, const vrt_tensor *in, bool nhwc) {
  const vrt_tensor *o = ultralytics_out(d, in, nhwc);
  if (!o || o->ndim != 3 || o->dims[2] != 6) return false;
  d->nc = d->nnames ? d->nnames : 80;
  return true;
}

static bool match_yolo(detector_t *d, const vrt_tensor *in, bool nhwc) {
  const vrt_tensor *o = ultralytics_out(d, in, nhwc);
  if (!o || o->ndim != 3 || o->dims[1] <= 4 || !(o->dims[2] < 0 || o->dims[2] > o->dims[1])) return false;
  d->nc = (int)o->dims[1] - 4;
  /* segmentation heads add 32 mask coefficients after the classes */
  if (vrt_model_num_outputs(d->m) == 2 && d->nnames && d->nc == d->nnames + 32) d->nc = d->nnames;
  else if (d->nnames && d->nnames < d->nc) d->nc = d->nnames;
  return true;
}

/* End-to-end heads: rows of x1,y1,x2,y2,score,class in input pixels. */
static int decode_rows6(const detector_t *d, vigil_det_list *l, int *cap, const det_geom *g, const vrt_tensor *outs,
                        int b) {
  const vrt_tensor *o = &outs[d->out_main];
  int64_t k = o->dims[1];
  const float *p = (const float *)o->data + (size_t)b * (size_t)k * 6;
  for (int64_t i = 0; i < k; i++, p += 6) {
    if (!(p[4] >= d->p.conf)) continue;
    if (push(l, cap, d, g, (int)p[5], p[4], p[0], p[1], p[2], p[3])) return -1;
  }
  return 0;
}

static int decode_yolo(const detector_t *d, vigil_det_list *l, int *cap, const det_geom *g, const vrt_tensor *outs,
                       int b) {
  const vrt_tensor *o = &outs[d->out_main];
  int64_t c = o->dims[1], n = o->dims[2];
  const float *p = (const float *)o->data + (size_t)b * (size_t)c * (size_t)n;
  for (int64_t j = 0; j < n; j++) {
    float bs, b[4]; /* cx, cy, w, h */
    int best = yolo_anchor_best(p, n, j, d->nc, NULL, d->p.conf, &bs, b);
    if (best >= 0 && push(l, cap, d, g, best, bs, b[0] - b[2] / 2, b[1] - b[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2))
      return -1;
  }
  return 0;
}

static int decode_nanodet(const detector_t *d, vigil_det_list *l, int *cap, const det_geom *g,
                          const vrt_tensor *outs, int b) {
  for (int s = 0; s < 3; s++) {
    int stride = 8 << s, gw = d->in_w / stride;
    const vrt_tensor *ct = &outs[d->nano_cls[s]], *bt = &outs[d->nano_box[s]];
    int64_t cells = ct->dims[1];
    const float *cls = (const float *)ct->data + (size_t)b * (size_t)cells * 80;
    const float *box = (const float *)bt->data + (size_t)b * (size_t)cells * 44;
    for (int64_t i = 0; i < cells; i++) {
      int best = -1;
      float bs = d->p.conf;
      for (int k = 0; k < 80; k++)
        if (cls[i * 80 + k] >= bs) bs = cls[i * 80 + k], best = k;
      if (best < 0) continue;
      float dist[4];
      for (int side = 0; side < 4; side++) {
        const float *bins = box + i * 44 + side * 11;
        float mx = bins[0], sum = 0, acc = 0;
        for (int j = 1; j < 11; j++) mx = bins[j] > mx ? bins[j] : mx;
        for (int j = 0; j < 11; j++) {
          float e = expf(bins[j] - mx);
          sum += e;
          acc += e * (float)j;
        }
        dist[side] = acc / sum * (float)stride;
      }
      float cx = ((float)(i % gw) + 0.5f) * (float)stride, cy = ((float)(i / gw) + 0.5f) * (float)stride;
      if (push(l, cap, d, g, best, bs, cx - dist[0], cy - dist[1], cx + dist[2], cy + dist[3])) return -1;
    }
  }
  return 0;
}

/* One row per family, in the order they are recognised: what it is called,
 * its calibrated default cut-off (centernet's and nanodet's scores run lower
 * than YOLO's: people in the surveillance video score 0.33-0.6 on
 * centernet), its preprocessing (letterbox with grey 114 or stretch, layout,
 * BGR, mean/std), whether its head is end-to-end (suppressed within a class
 * already), and how it is recognised and decoded. A new family is one row
 * and its match/decode pair. */
typedef struct family_row {
  det_family fam;
  const char *name;
  float conf;
  bool letterbox;
  vigil_layout layout;
  bool bgr;
  float mean[3], std[3];
  bool end_to_end;
  bool (*match)(detector_t *d, const vrt_tensor *in, bool nhwc);
  int (*decode)(const detector_t *d, vigil_det_list *l, int *cap, const det_geom *g, const vrt_tensor *outs, int b);
} family_row;

static const family_row families[] = {
    {DET_FAMILY_NANODET, "nanodet", 0.35f, false, VIGIL_LAYOUT_NCHW, true, {103.53f, 116.28f, 123.675f},
     {57.375f, 57.12f, 58.395f}, false, match_nanodet, decode_nanodet},
    {DET_FAMILY_CENTERNET, "centernet", 0.3f, false, VIGIL_LAYOUT_NHWC, false, {0, 0, 0}, {1, 1, 1}, true,
     match_centernet, decode_rows6},
    {DET_FAMILY_YOLO26, "yolo26", 0.5f, true, VIGIL_LAYOUT_NCHW, false, {0, 0, 0}, {255, 255, 255}, true,
     match_yolo26, decode_rows6},
    {DET_FAMILY_YOLO, "yolo", 0.5f, true, VIGIL_LAYOUT_NCHW, false, {0, 0, 0}, {255, 255, 255}, false, match_yolo,
     decode_yolo},
};
#define N_FAMILIES (sizeof families / sizeof *families)

const char *det_family_name(det_family f) {
  for (size_t i = 0; i < N_FAMILIES; i++)
    if (families[i].fam == f) return families[i].name;
  return "auto";
}

static int recognise(detector_t *d, char *err, size_t errlen) {
  const vrt_model_t *m = d->m;
  int nout = vrt_model_num_outputs(m);
  const vrt_tensor *in = vrt_model_input(m, 0);
  if (vrt_model_num_inputs(m) != 1 || !in || in->ndim != 4 || in->dtype != VRT_F32) {
    return vigil_err(err, errlen, -1, "%s: a detector needs one float32 image input of rank 4", d->name);
  }
  bool nhwc = in->dims[3] == 3;
  d->dyn_batch = in->dims[0] < 0;
  for (size_t i = 0; i < N_FAMILIES; i++)
    if (families[i].match(d, in, nhwc)) {
      d->fam = families[i].fam;
      d->row = &families[i];
      return 0;
    }
  char found[1024];
  size_t o = 0;
  found[0] = 0;
  for (int i = 0; i < nout && o < sizeof found - 64; i++) {
    const vrt_tensor *t = vrt_model_output(m, i);
    o += (size_t)snprintf(found + o, sizeof found - o, "%s%s[", i ? ", " : "", t->name);
    for (int k = 0; k < t->ndim && o < sizeof found - 32; k++)
      o += (size_t)snprintf(found + o, sizeof found - o, k ? ",%lld" : "%lld", (long long)t->dims[k]);
    o += (size_t)snprintf(found + o, sizeof found - o, "]");
  }
  return vigil_err(err, errlen, -1,
                   "model outputs match no known detector family (yolo26, yolo, centernet, nanodet): found %s", found);
}

int detector_load(detector_t **out, detector_params p, char *err, size_t errlen) {
  *out = NULL;
  if (!p.path) return vigil_err(err, errlen, -1, "no detector model path given");
  detector_t *d = calloc(1, sizeof *d);
  if (!d) return vigil_err_oom(err, errlen);
  d->p = p;
  if (runner_load(&d->run, p.path, p.threads, err, errlen)) {
    free(d);
    return -1;
  }
  d->m = d->run.m;
  snprintf(d->name, sizeof d->name, "%s", d->run.name);
  const char *names = vrt_model_metadata(d->m, "names");
  if (names) parse_names(d, names);
  if (recognise(d, err, errlen)) {
    detector_free(d);
    return -1;
  }
  if (p.family != DET_FAMILY_AUTO && p.family != d->fam) {
    vigil_err(err, errlen, -1, "detector %s: configured family %s but the model looks like %s", d->name,
              det_family_name(p.family), det_family_name(d->fam));
    detector_free(d);
    return -1;
  }
  if (d->p.conf < 0) d->p.conf = d->row->conf;
  if (d->p.iou <= 0 || d->p.iou > 1) d->p.iou = 0.45f;
  if (d->p.max_batch < 1) d->p.max_batch = 1;
  *out = d;
  return 0;
}

void detector_free(detector_t *d) {
  if (!d) return;
  for (int i = 0; i < d->nnames; i++) free(d->names[i]);
  free(d->names);
  runner_free(&d->run);
  free(d);
}

det_family detector_family(const detector_t *d) { return d->fam; }
const char *detector_model_name(const detector_t *d) { return d->name; }
float detector_conf(const detector_t *d) { return d->p.conf; }
void detector_input_size(const detector_t *d, int *w, int *h) { *w = d->in_w, *h = d->in_h; }

size_t detector_memory_bytes(const detector_t *d) { return runner_memory_bytes(&d->run); }

static int preprocess(const detector_t *d, float *dst, det_geom *g, const vigil_image *img) {
  const family_row *f = d->row;
  vigil_image tmp = {0};
  int rc;
  g->w = img->w;
  g->h = img->h;
  if (f->letterbox) {
    vigil_letterbox lb;
    rc = vigil_img_letterbox(&tmp, &lb, img, d->in_w, d->in_h, 114, VIGIL_RESIZE_BILINEAR);
    if (rc) return rc;
    g->sx = g->sy = lb.scale;
    g->px = (float)lb.pad_x;
    g->py = (float)lb.pad_y;
  } else {
    rc = vigil_img_resize(&tmp, img, d->in_w, d->in_h, VIGIL_RESIZE_BILINEAR);
    if (rc) return rc;
    g->sx = (float)d->in_w / (float)img->w;
    g->sy = (float)d->in_h / (float)img->h;
    g->px = g->py = 0;
  }
  vigil_img_to_f32(dst, &tmp, f->layout, f->mean, f->std, f->bgr);
  vigil_image_free(&tmp);
  return 0;
}

static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Appends a box given in model-input pixels, mapped to the original image. */
static int push(vigil_det_list *l, int *cap, const detector_t *d, const det_geom *g, int cls, float score, float x1,
                float y1, float x2, float y2) {
  const char *label = label_of(d, cls);
  if (d->p.security_only && !vigil_class_security(label)) return 0;
  if (l->n == *cap) {
    int nc = *cap ? *cap * 2 : 32;
    vigil_det *nd = realloc(l->dets, sizeof *nd * (size_t)nc);
    if (!nd) return -1;
    l->dets = nd;
    *cap = nc;
  }
  vigil_det *o = &l->dets[l->n++];
  o->cls = cls;
  o->label = label;
  o->score = score;
  o->x1 = clampf((x1 - g->px) / g->sx, 0, (float)g->w);
  o->y1 = clampf((y1 - g->py) / g->sy, 0, (float)g->h);
  o->x2 = clampf((x2 - g->px) / g->sx, 0, (float)g->w);
  o->y2 = clampf((y2 - g->py) / g->sy, 0, (float)g->h);
  if (o->x2 <= o->x1 || o->y2 <= o->y1) l->n--;
  return 0;
}

static int decode(const detector_t *d, vigil_det_list *l, const det_geom *g, const vrt_tensor *outs, int b) {
  int cap = 0;
  l->dets = NULL;
  l->n = 0;
  if (d->row->decode(d, l, &cap, g, outs, b)) return -1;
  /* end-to-end heads suppressed within each class already; across the
   * vehicle classes they did not (one van: car 0.52 and truck 0.41) */
  l->n = d->row->end_to_end ? det_nms_ex(l->dets, l->n, 1.01f, d->p.iou) : det_nms(l->dets, l->n, d->p.iou);
  return 0;
}

int detector_decode_outputs(const detector_t *d, vigil_det_list *out, const vrt_tensor *outs, int nout, int w, int h) {
  if (nout != vrt_model_num_outputs(d->m) || w <= 0 || h <= 0) return -1;
  det_geom g = {.w = w, .h = h};
  if (d->row->letterbox) {
    float s = fminf((float)d->in_w / (float)w, (float)d->in_h / (float)h);
    g.sx = g.sy = s;
    g.px = (float)((d->in_w - (int)lroundf((float)w * s)) / 2);
    g.py = (float)((d->in_h - (int)lroundf((float)h * s)) / 2);
  } else {
    g.sx = (float)d->in_w / (float)w;
    g.sy = (float)d->in_h / (float)h;
  }
  return decode(d, out, &g, outs, 0);
}

int detector_run(detector_t *d, vigil_det_list *out, const vigil_image *const *imgs, int n, char *err,
                 size_t errlen) {
  for (int i = 0; i < n; i++) out[i].dets = NULL, out[i].n = 0;
  int batch = d->dyn_batch ? d->p.max_batch : 1;
  size_t per = (size_t)d->in_w * (size_t)d->in_h * 3;
  float *buf = malloc(sizeof(float) * per * (size_t)(batch < n ? batch : n > 0 ? n : 1));
  det_geom *geo = malloc(sizeof *geo * (size_t)(n > 0 ? n : 1));
  vrt_session_t *s = runner_borrow(&d->run);
  int rc = 0;
  if (!buf || !geo || !s) {
    vigil_err(err, errlen, -1, "out of memory");
    rc = -1;
    goto done;
  }
  for (int i0 = 0; i0 < n && !rc; i0 += batch) {
    int bn = n - i0 < batch ? n - i0 : batch;
    for (int b = 0; b < bn && !rc; b++)
      if (preprocess(d, buf + (size_t)b * per, &geo[i0 + b], imgs[i0 + b])) {
        vigil_err(err, errlen, -1, "image %d: cannot preprocess", i0 + b);
        rc = -1;
      }
    if (rc) break;
    const vrt_tensor *decl = vrt_model_input(d->m, 0);
    vrt_tensor in = {.name = decl->name, .dtype = VRT_F32, .ndim = 4, .data = buf};
    if (d->row->layout == VIGIL_LAYOUT_NHWC) {
      int64_t dims[4] = {bn, d->in_h, d->in_w, 3};
      memcpy(in.dims, dims, sizeof dims);
    } else {
      int64_t dims[4] = {bn, 3, d->in_h, d->in_w};
      memcpy(in.dims, dims, sizeof dims);
    }
    in.nbytes = sizeof(float) * per * (size_t)bn;
    const vrt_tensor *outs;
    int nout;
    if (vrt_session_run(s, &in, 1, &outs, &nout)) {
      vigil_err(err, errlen, -1, "inference failed: %s", vrt_last_error());
      rc = -1;
      break;
    }
    for (int b = 0; b < bn && !rc; b++)
      if (decode(d, &out[i0 + b], &geo[i0 + b], outs, b)) {
        vigil_err(err, errlen, -1, "out of memory");
        rc = -1;
      }
  }
done:
  if (s) runner_give_back(&d->run, s);
  free(buf);
  free(geo);
  if (rc)
    for (int i = 0; i < n; i++) vigil_det_list_free(&out[i]);
  return rc;
}

int detector_run_region(detector_t *d, vigil_det_list *out, const vigil_image *frame, int x, int y, int w, int h,
                        char *err, size_t errlen) {
  out->dets = NULL, out->n = 0;
  vigil_image crop = {0};
  if (vigil_img_crop(&crop, frame, x, y, w, h))
    return vigil_err(err, errlen, -1, "cannot cut the region %d,%d %dx%d out of the frame", x, y, w, h);
  const vigil_image *imgs[1] = {&crop};
  int rc = detector_run(d, out, imgs, 1, err, errlen);
  vigil_image_free(&crop);
  for (int i = 0; i < out->n; i++) {
    vigil_det *b = &out->dets[i];
    b->x1 += (float)x, b->y1 += (float)y, b->x2 += (float)x, b->y2 += (float)y;
  }
  return rc;
}
