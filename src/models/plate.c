/* Licence plates: normalisation and PLATE_PATTERN, known plates, reading a
 * plate off a vehicle crop with the OCR engine, and per-track voting. */
#include "vigil/plate.h"
#include "vigil/status.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLATE_MIN_ASPECT 1.5f  /* text region width / height */
#define PLATE_MAX_ASPECT 12.0f
#define PLATE_OCR_SIDE 640     /* a vehicle crop is scaled so its longer side is at least this */
#define PLATE_EDGE_PX 4.0f    /* text this close (frame pixels) to the crop's side is cut off */
#define PLATE_VOTE_TRACKS 256  /* tracks remembered (oldest forgotten first) */
#define PLATE_VOTE_TEXTS 8     /* distinct readings kept per track */

/* ---- normalisation ------------------------------------------------------------------ */

static int cls_of(char c) { /* 1 letter, 2 digit, 0 ambiguous or separator */
  if (c == 'O' || c == '0' || c == 'I' || c == '1') return 0;
  if (isupper((unsigned char)c)) return 1;
  if (isdigit((unsigned char)c)) return 2;
  return 0;
}

int plate_normalize(char *out, size_t cap, char *sep, size_t sepcap, const char *raw) {
  char buf[PLATE_RAW_MAX];
  size_t n = 0;
  for (const char *p = raw; *p && n + 1 < sizeof buf; p++) {
    unsigned char c = (unsigned char)*p;
    if (isalnum(c) && c < 128) buf[n++] = (char)toupper(c);
    else if ((c == ' ' || c == '-') && n && buf[n - 1] != ' ' && buf[n - 1] != '-') buf[n++] = (char)c;
    /* anything else (punctuation, characters of other scripts) is dropped */
  }
  while (n && (buf[n - 1] == ' ' || buf[n - 1] == '-')) n--;
  buf[n] = 0;
  /* O/0 and I/1 take the kind of their nearest unambiguous neighbours in the group */
  for (size_t i = 0; i < n; i++) {
    char c = buf[i];
    if (!(c == 'O' || c == '0' || c == 'I' || c == '1')) continue;
    int left = 0, right = 0;
    for (size_t j = i; j-- > 0 && buf[j] != ' ' && buf[j] != '-';)
      if ((left = cls_of(buf[j]))) break;
    for (size_t j = i + 1; j < n && buf[j] != ' ' && buf[j] != '-'; j++)
      if ((right = cls_of(buf[j]))) break;
    int kind = left && right ? (left == right ? left : 0) : (left | right);
    if (kind == 2) buf[i] = c == 'O' ? '0' : c == 'I' ? '1' : c;
    else if (kind == 1) buf[i] = c == '0' ? 'O' : c == '1' ? 'I' : c;
  }
  if (sep && sepcap) snprintf(sep, sepcap, "%s", buf);
  int k = 0;
  size_t o = 0;
  for (size_t i = 0; i < n; i++)
    if (buf[i] != ' ' && buf[i] != '-') {
      if (o + 1 < cap) out[o++] = buf[i];
      k++;
    }
  if (cap) out[o] = 0;
  return k;
}

int plate_config_set(plate_config *pc, const char *pattern, const char *const *known, size_t n, char *err,
                     size_t errlen) {
  memset(pc, 0, sizeof *pc);
  if (pattern && pattern[0]) {
    snprintf(pc->pattern, sizeof pc->pattern, "%s", pattern);
    int rc = regcomp(&pc->re, pattern, REG_EXTENDED | REG_NOSUB);
    if (rc) {
      char msg[128];
      regerror(rc, &pc->re, msg, sizeof msg);
      vigil_err(err, errlen, -1, "PLATE_PATTERN '%.100s': %s", pattern, msg);
      return -1;
    }
    pc->has_re = true;
  }
  if (n) {
    pc->known = calloc(n, sizeof *pc->known);
    if (!pc->known) {
      plate_config_free(pc);
      vigil_err(err, errlen, -1, "out of memory");
      return -1;
    }
    for (size_t i = 0; i < n; i++) {
      char norm[PLATE_TEXT_MAX];
      plate_normalize(norm, sizeof norm, NULL, 0, known[i]);
      if (!norm[0]) continue;
      if (!(pc->known[pc->n_known] = strdup(norm))) {
        plate_config_free(pc);
        vigil_err(err, errlen, -1, "out of memory");
        return -1;
      }
      pc->n_known++;
    }
  }
  return 0;
}

int plate_config_init(plate_config *pc, const vigil_config *cfg, char *err, size_t errlen) {
  char **items = NULL;
  size_t n = 0;
  if (vigil_config_list(cfg, "KNOWN_PLATES", &items, &n, err, errlen)) return -1;
  int rc = plate_config_set(pc, vigil_config_str(cfg, "PLATE_PATTERN"), (const char *const *)items, n, err, errlen);
  vigil_config_list_free(items, n);
  return rc;
}

void plate_config_free(plate_config *pc) {
  if (!pc) return;
  if (pc->has_re) regfree(&pc->re);
  for (size_t i = 0; i < pc->n_known; i++) free(pc->known[i]);
  free(pc->known);
  memset(pc, 0, sizeof *pc);
}

bool plate_matches(const plate_config *pc, const char *raw) {
  char norm[PLATE_RAW_MAX], sep[PLATE_RAW_MAX];
  int k = plate_normalize(norm, sizeof norm, sep, sizeof sep, raw);
  if (k < 1 || k >= PLATE_TEXT_MAX) return false;
  return !pc->has_re || regexec(&pc->re, sep, 0, NULL, 0) == 0;
}

bool plate_is_known(const plate_config *pc, const char *normalised) {
  for (size_t i = 0; i < pc->n_known; i++)
    if (!strcmp(pc->known[i], normalised)) return true;
  return false;
}

/* ---- reading a plate off a vehicle ---------------------------------------------------- */

static float quad_w(const ocr_line *l) { return hypotf(l->quad[1].x - l->quad[0].x, l->quad[1].y - l->quad[0].y); }
static float quad_h(const ocr_line *l) { return hypotf(l->quad[3].x - l->quad[0].x, l->quad[3].y - l->quad[0].y); }

/* in_w: width of the image OCR read; text touching its left or right edge was
 * cut by the vehicle box (a partial plate such as "KX21" of "KX21 ABC"). */
static void consider(plate_read *best, const plate_config *pc, const char *raw, float conf, const ocr_line *a,
                     const ocr_line *b, float ox, float oy, float scale, int in_w) {
  if (!plate_matches(pc, raw) || (best->found && conf <= best->confidence)) return;
  float mnx = INFINITY, mny = INFINITY, mxx = -INFINITY, mxy = -INFINITY;
  for (int k = 0; k < 8; k++) {
    const ocr_line *l = k < 4 ? a : b;
    if (!l) continue;
    mnx = fminf(mnx, l->quad[k % 4].x), mxx = fmaxf(mxx, l->quad[k % 4].x);
    mny = fminf(mny, l->quad[k % 4].y), mxy = fmaxf(mxy, l->quad[k % 4].y);
  }
  if (mnx <= PLATE_EDGE_PX * scale || mxx >= in_w - 1 - PLATE_EDGE_PX * scale) return;
  best->found = true;
  snprintf(best->raw, sizeof best->raw, "%s", raw);
  plate_normalize(best->text, sizeof best->text, NULL, 0, raw);
  best->known = plate_is_known(pc, best->text);
  best->confidence = conf;
  best->x1 = ox + mnx / scale, best->y1 = oy + mny / scale;
  best->x2 = ox + mxx / scale, best->y2 = oy + mxy / scale;
  snprintf(best->source, sizeof best->source, "ocr-detector");
}

int plate_find(ocr_engine *ocr, const plate_config *pc, plate_read *out, const vigil_image *frame, float x1,
               float y1, float x2, float y2, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  x1 = fmaxf(x1, 0), y1 = fmaxf(y1, 0), x2 = fminf(x2, (float)frame->w), y2 = fminf(y2, (float)frame->h);
  int cx = (int)x1, cy = (int)y1, cw = (int)ceilf(x2) - cx, ch = (int)ceilf(y2) - cy;
  if (cw < 8 || ch < 8) return 0; /* nothing readable */
  vigil_image crop = {0}, big = {0};
  if (vigil_img_crop(&crop, frame, cx, cy, cw, ch)) {
    vigil_err(err, errlen, -1, "plate: cannot crop the vehicle");
    return -1;
  }
  float scale = 1;
  int side = crop.w > crop.h ? crop.w : crop.h;
  const vigil_image *in = &crop;
  if (side < PLATE_OCR_SIDE) {
    scale = (float)PLATE_OCR_SIDE / side;
    if (vigil_img_resize(&big, &crop, (int)lroundf(crop.w * scale), (int)lroundf(crop.h * scale),
                         VIGIL_RESIZE_BILINEAR) == 0)
      in = &big;
    else
      scale = 1;
  }
  ocr_result r;
  ocr_params p = ocr_default_params();
  p.max_lines = 32;
  int rc = ocr_run(ocr, &r, in, &p, err, errlen);
  if (!rc) {
    for (int i = 0; i < r.n; i++) {
      const ocr_line *a = &r.lines[i];
      float w = quad_w(a), h = quad_h(a);
      if (h > 0 && w / h >= PLATE_MIN_ASPECT && w / h <= PLATE_MAX_ASPECT)
        consider(out, pc, a->text, a->confidence, a, NULL, (float)cx, (float)cy, scale, in->w);
      /* a plate read as two regions on one row ("KX21" "ABC") */
      if (i + 1 < r.n) {
        const ocr_line *b = &r.lines[i + 1];
        float hb = quad_h(b), gap = b->quad[0].x - a->quad[1].x;
        float dy = fabsf((a->quad[0].y + a->quad[3].y) - (b->quad[0].y + b->quad[3].y)) / 2;
        if (h > 0 && hb > 0 && dy < 0.5f * h && gap > -0.2f * h && gap < 1.5f * h && fabsf(hb - h) < 0.4f * h) {
          char joined[2 * OCR_TEXT_MAX + 2];
          snprintf(joined, sizeof joined, "%s %s", a->text, b->text);
          float wj = quad_w(a) + quad_w(b) + fmaxf(gap, 0);
          if (wj / h >= PLATE_MIN_ASPECT && wj / h <= PLATE_MAX_ASPECT)
            consider(out, pc, joined, fminf(a->confidence, b->confidence), a, b, (float)cx, (float)cy, scale,
                     in->w);
        }
      }
    }
    ocr_result_free(&r);
  }
  vigil_image_free(&crop);
  vigil_image_free(&big);
  return rc;
}

int plate_box_detect(detector_t *det, plate_read *hint, const vigil_image *frame, float x1, float y1, float x2,
                     float y2, char *err, size_t errlen) {
  int cx = (int)fmaxf(x1, 0), cy = (int)fmaxf(y1, 0);
  int cw = (int)fminf(x2, (float)frame->w) - cx, ch = (int)fminf(y2, (float)frame->h) - cy;
  if (cw < 8 || ch < 8) return 0;
  vigil_det_list l;
  int rc = detector_run_region(det, &l, frame, cx, cy, cw, ch, err, errlen);
  if (rc) return rc;
  int best = -1;
  for (int i = 0; i < l.n; i++)
    if (l.dets[i].score >= 0.25f && (best < 0 || l.dets[i].score > l.dets[best].score)) best = i;
  if (best >= 0) {
    memset(hint, 0, sizeof *hint);
    hint->x1 = l.dets[best].x1, hint->y1 = l.dets[best].y1;
    hint->x2 = l.dets[best].x2, hint->y2 = l.dets[best].y2;
    hint->confidence = l.dets[best].score;
    snprintf(hint->source, sizeof hint->source, "yolo11-license-plate");
  }
  vigil_det_list_free(&l);
  return 0;
}

int plate_read_in_box(ocr_engine *ocr, const plate_config *pc, plate_read *out, const vigil_image *frame,
                      const plate_read *hint, char *err, size_t errlen) {
  float w = hint->x2 - hint->x1, h = hint->y2 - hint->y1;
  plate_read box = *hint;
  int rc = plate_find(ocr, pc, out, frame, box.x1 - 0.15f * w, box.y1 - 0.15f * h, box.x2 + 0.15f * w,
                      box.y2 + 0.15f * h, err, errlen);
  if (!rc && out->found) {
    /* the detector's box is the plate; the text region lies inside it */
    out->x1 = box.x1, out->y1 = box.y1, out->x2 = box.x2, out->y2 = box.y2;
    snprintf(out->source, sizeof out->source, "%s", box.source);
  }
  return rc;
}

/* ---- voting ------------------------------------------------------------------------------ */

typedef struct {
  char text[PLATE_TEXT_MAX];
  int count;
  float conf_sum;
} vote_text;

typedef struct {
  long track;
  unsigned long long used; /* last use, for forgetting the oldest */
  int n;
  vote_text t[PLATE_VOTE_TEXTS];
} vote_track;

struct plate_votes {
  pthread_mutex_t mu;
  unsigned long long clock;
  int n;
  vote_track tracks[PLATE_VOTE_TRACKS];
};

plate_votes *plate_votes_new(void) {
  plate_votes *v = calloc(1, sizeof *v);
  if (v) pthread_mutex_init(&v->mu, NULL);
  return v;
}

void plate_votes_free(plate_votes *v) {
  if (!v) return;
  pthread_mutex_destroy(&v->mu);
  free(v);
}

static unsigned long long track_used(const void *t) { return ((const vote_track *)t)->used; }
static unsigned long long text_count(const void *t) { return (unsigned long long)((const vote_text *)t)->count; }

/* A zeroed entry for something new in a table of *n entries (at most cap, each
 * size bytes): appended while there is room, else in place of the entry with
 * the least key (the least recently used track, the weakest reading). */
static void *slot_take(void *base, size_t size, int *n, int cap, unsigned long long (*key)(const void *)) {
  int slot = *n;
  if (*n < cap) {
    (*n)++;
  } else {
    slot = 0;
    for (int i = 1; i < *n; i++)
      if (key((char *)base + (size_t)i * size) < key((char *)base + (size_t)slot * size)) slot = i;
  }
  void *e = (char *)base + (size_t)slot * size;
  memset(e, 0, size);
  return e;
}

static vote_track *track_of(plate_votes *v, long id, bool create) {
  for (int i = 0; i < v->n; i++)
    if (v->tracks[i].track == id) return &v->tracks[i];
  if (!create) return NULL;
  vote_track *t = slot_take(v->tracks, sizeof *v->tracks, &v->n, PLATE_VOTE_TRACKS, track_used);
  t->track = id;
  return t;
}

int plate_votes_add(plate_votes *v, long track_id, const char *text, float confidence, char *best, size_t cap,
                    float *best_conf) {
  if (cap) best[0] = 0;
  if (best_conf) *best_conf = 0;
  pthread_mutex_lock(&v->mu);
  vote_track *t = track_of(v, track_id, text && text[0]);
  int count = 0;
  if (t) {
    t->used = ++v->clock;
    if (text && text[0]) {
      vote_text *x = t->t;
      while (x < t->t + t->n && strcmp(x->text, text)) x++;
      if (x == t->t + t->n) {
        x = slot_take(t->t, sizeof *t->t, &t->n, PLATE_VOTE_TEXTS, text_count);
        snprintf(x->text, sizeof x->text, "%s", text);
      }
      x->count++;
      x->conf_sum += confidence;
    }
    int w = -1;
    for (int i = 0; i < t->n; i++)
      if (w < 0 || t->t[i].count > t->t[w].count ||
          (t->t[i].count == t->t[w].count && t->t[i].conf_sum > t->t[w].conf_sum))
        w = i;
    if (w >= 0) {
      if (cap) snprintf(best, cap, "%s", t->t[w].text);
      count = t->t[w].count;
      if (best_conf) *best_conf = t->t[w].conf_sum / (float)count;
    }
  }
  pthread_mutex_unlock(&v->mu);
  return count;
}

void plate_vote_apply(plate_votes *v, const plate_config *pc, long track_id, vigil_plate *pl) {
  char best[PLATE_TEXT_MAX];
  float conf;
  int n = plate_votes_add(v, track_id, pl->present ? pl->text : "", pl->confidence, best, sizeof best, &conf);
  if (!n) return;
  if (!pl->present || strcmp(best, pl->text)) {
    /* the track's majority differs from (or fills in for) this frame's reading */
    snprintf(pl->raw, sizeof pl->raw, "%s", best);
    snprintf(pl->text, sizeof pl->text, "%s", best);
    pl->confidence = conf; /* the winner's mean over the track */
    pl->present = true;
  }
  pl->votes = n;
  if (pc) pl->known = plate_is_known(pc, pl->text);
}

void plate_votes_forget(plate_votes *v, long track_id) {
  pthread_mutex_lock(&v->mu);
  vote_track *t = track_of(v, track_id, false);
  if (t) *t = v->tracks[--v->n];
  pthread_mutex_unlock(&v->mu);
}
