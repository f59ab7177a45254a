/* SORT-style multi-object tracker: a constant-velocity Kalman filter per
 * track over (cx, cy, w, h), greedy association on the predicted boxes (IoU
 * first, then centre distance for small fast objects at low frame rates),
 * and confirmation by the median score of the track's history.
 *
 * Time is in seconds, not frames: cameras are sampled at different rates and
 * motion gating skips frames, so the filter's transition and noise scale
 * with the real interval. Noise is proportional to the box height (a far,
 * small person moves fewer pixels than a near one), as in DeepSORT. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/linalg.h"
#include "vigil/track.h"
#include "vigil/status.h"

#define TRACKER_MAX 256

tracker_params tracker_default_params(void) {
  /* matching, what makes a track a real object, then lifetimes */
  tracker_params p = {.match_iou = 0.2f, .match_dist = 0.8f,
                      .min_hits = 3, .min_first_score = 0.3f, .confirm_median = 0.35f,
                      .max_age_s = 2.0, .max_idle_s = 60.0, .stationary_s = 3.0, .stationary_frac = 0.15f};
  /* measured on labelled vtest frames (docs/models.md): the centernet rock
   * and sign post score 0.31-0.42 as "person" on every frame, real people
   * have medians of 0.45 and more */
  p.nclasses = 1;
  snprintf(p.cls[0].label, sizeof p.cls[0].label, "person");
  p.cls[0].min_first_score = 0.3f;
  p.cls[0].confirm_median = 0.45f;
  return p;
}

int tracker_parse_classes(tracker_params *p, const char *spec, char *err, size_t errlen) {
  p->nclasses = 0;
  const char *s = spec;
  while (s && *s) {
    while (*s == ' ' || *s == ',') s++;
    if (!*s) break;
    if (p->nclasses >= TRACK_MAX_CLASSES) {
      vigil_err(err, errlen, -1, "at most %d classes", TRACK_MAX_CLASSES);
      return -1;
    }
    track_class_params *c = &p->cls[p->nclasses];
    const char *colon = strchr(s, ':');
    size_t ln = colon ? (size_t)(colon - s) : 0;
    if (!colon || ln == 0 || ln >= sizeof c->label) {
      vigil_err(err, errlen, -1, "expected label:min_first:median, got '%.40s'", s);
      return -1;
    }
    memcpy(c->label, s, ln);
    c->label[ln] = 0;
    char *end;
    double a = strtod(colon + 1, &end);
    if (*end != ':') {
      vigil_err(err, errlen, -1, "expected label:min_first:median, got '%.40s'", s);
      return -1;
    }
    double b = strtod(end + 1, &end);
    if (end == colon + 1 || (*end && *end != ',' && *end != ' ') || !(a >= 0 && a <= 1) || !(b >= 0 && b <= 1)) {
      vigil_err(err, errlen, -1, "thresholds of '%s' must be numbers in 0..1", c->label);
      return -1;
    }
    c->min_first_score = (float)a;
    c->confirm_median = (float)b;
    p->nclasses++;
    s = end;
  }
  return 0;
}

void tracker_class_thresholds(const tracker_params *p, const char *label, float *min_first, float *median) {
  *min_first = p->min_first_score;
  *median = p->confirm_median;
  for (int i = 0; label && i < p->nclasses; i++)
    if (!strcmp(p->cls[i].label, label)) {
      *min_first = p->cls[i].min_first_score;
      *median = p->cls[i].confirm_median;
    }
}

void tracker_init(tracker *tr, const tracker_params *p) {
  memset(tr, 0, sizeof *tr);
  tr->p = p ? *p : tracker_default_params();
  tr->next_id = 1;
}

void tracker_free(tracker *tr) {
  if (!tr) return;
  free(tr->t);
  tr->t = NULL;
  tr->n = tr->cap = 0;
}

/* ---- Kalman filter ---------------------------------------------------------------- */

static void box_of(const track_t *t, float *x1, float *y1, float *x2, float *y2) {
  double w = t->kx[2] > 1 ? t->kx[2] : 1, h = t->kx[3] > 1 ? t->kx[3] : 1;
  *x1 = (float)(t->kx[0] - w / 2);
  *y1 = (float)(t->kx[1] - h / 2);
  *x2 = (float)(t->kx[0] + w / 2);
  *y2 = (float)(t->kx[1] + h / 2);
}

static void kf_init(track_t *t, const vigil_det *d, double ts) {
  double w = d->x2 - d->x1, h = d->y2 - d->y1;
  memset(t->kx, 0, sizeof t->kx);
  memset(t->kp, 0, sizeof t->kp);
  t->kx[0] = (d->x1 + d->x2) / 2;
  t->kx[1] = (d->y1 + d->y2) / 2;
  t->kx[2] = w;
  t->kx[3] = h;
  double sp = 0.1 * h, sv = 1.0 * h; /* position known, velocity not at all */
  for (int i = 0; i < 4; i++) t->kp[i * 8 + i] = sp * sp;
  for (int i = 4; i < 8; i++) t->kp[i * 8 + i] = sv * sv;
  t->kts = ts;
}

static void kf_predict(track_t *t, double ts) {
  double dt = ts - t->kts;
  if (!(dt > 0)) return;
  if (dt > 10) dt = 10; /* a long gap is not a long extrapolation */
  double *x = t->kx, *P = t->kp;
  for (int i = 0; i < 4; i++) x[i] += dt * x[i + 4];
  /* P = F P F^T with F = [I dt*I; 0 I] */
  double FP[64];
  for (int r = 0; r < 8; r++)
    for (int c = 0; c < 8; c++) FP[r * 8 + c] = P[r * 8 + c] + (r < 4 ? dt * P[(r + 4) * 8 + c] : 0);
  for (int r = 0; r < 8; r++)
    for (int c = 0; c < 8; c++) P[r * 8 + c] = FP[r * 8 + c] + (c < 4 ? dt * FP[r * 8 + c + 4] : 0);
  double h = x[3] > 1 ? x[3] : 1;
  double qp = 0.05 * h, qv = 0.5 * h;
  for (int i = 0; i < 4; i++) P[i * 8 + i] += qp * qp * dt;
  for (int i = 4; i < 8; i++) P[i * 8 + i] += qv * qv * dt;
  t->kts = ts;
}

/* Inverts a 4x4 matrix ([a | I] reduced by Gauss-Jordan); -1 if singular. */
static int inv4(const double *a, double *out) {
  double m[4][8];
  for (int r = 0; r < 4; r++)
    for (int c = 0; c < 8; c++) m[r][c] = c < 4 ? a[r * 4 + c] : (c - 4 == r);
  if (vigil_gauss_jordan(&m[0][0], 4, 8)) return -1;
  for (int r = 0; r < 4; r++)
    for (int c = 0; c < 4; c++) out[r * 4 + c] = m[r][c + 4];
  return 0;
}

static void kf_update(track_t *t, const vigil_det *d) {
  double z[4] = {(d->x1 + d->x2) / 2, (d->y1 + d->y2) / 2, d->x2 - d->x1, d->y2 - d->y1};
  double *x = t->kx, *P = t->kp;
  double h = z[3] > 1 ? z[3] : 1, sr = 0.05 * h;
  double S[16], Si[16], K[32];
  for (int r = 0; r < 4; r++)
    for (int c = 0; c < 4; c++) S[r * 4 + c] = P[r * 8 + c] + (r == c ? sr * sr : 0);
  if (inv4(S, Si)) { /* degenerate: take the measurement */
    for (int i = 0; i < 4; i++) x[i] = z[i];
    return;
  }
  for (int r = 0; r < 8; r++)
    for (int c = 0; c < 4; c++) {
      double s = 0;
      for (int k = 0; k < 4; k++) s += P[r * 8 + k] * Si[k * 4 + c];
      K[r * 4 + c] = s;
    }
  double y[4];
  for (int i = 0; i < 4; i++) y[i] = z[i] - x[i];
  for (int r = 0; r < 8; r++)
    for (int k = 0; k < 4; k++) x[r] += K[r * 4 + k] * y[k];
  double KP[64];
  for (int r = 0; r < 8; r++)
    for (int c = 0; c < 8; c++) {
      double s = 0;
      for (int k = 0; k < 4; k++) s += K[r * 4 + k] * P[k * 8 + c];
      KP[r * 8 + c] = s;
    }
  for (int i = 0; i < 64; i++) P[i] -= KP[i];
  /* keep P symmetric against rounding drift */
  for (int r = 0; r < 8; r++)
    for (int c = r + 1; c < 8; c++) P[r * 8 + c] = P[c * 8 + r] = (P[r * 8 + c] + P[c * 8 + r]) / 2;
}

/* ---- tracks --------------------------------------------------------------------------- */

float track_median_score(const track_t *t) {
  if (t->nscores <= 0) return 0;
  float s[TRACK_HISTORY];
  int n = t->nscores;
  memcpy(s, t->scores, sizeof(float) * (size_t)n);
  for (int i = 1; i < n; i++) { /* insertion sort: at most 32 */
    float v = s[i];
    int j = i - 1;
    while (j >= 0 && s[j] > v) s[j + 1] = s[j], j--;
    s[j + 1] = v;
  }
  return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void push_score(track_t *t, float s) {
  t->scores[t->score_pos] = s;
  t->score_pos = (t->score_pos + 1) % TRACK_HISTORY;
  if (t->nscores < TRACK_HISTORY) t->nscores++;
}

static void observe(tracker *tr, track_t *t, const vigil_det *d, double ts) {
  kf_update(t, d);
  box_of(t, &t->x1, &t->y1, &t->x2, &t->y2);
  t->score = d->score;
  if (d->score > t->best_score) {
    t->best_score = d->score;
    t->bx1 = d->x1, t->by1 = d->y1, t->bx2 = d->x2, t->by2 = d->y2;
    t->best_ts = ts;
    t->cls = d->cls; /* a van seen as car and truck keeps its best-scored class */
    t->label = d->label;
  }
  push_score(t, d->score);
  t->hits++;
  t->misses = 0;
  t->last_seen = ts;
  t->matched = true;
  float cx = (d->x1 + d->x2) / 2, cy = (d->y1 + d->y2) / 2, h = d->y2 - d->y1;
  float lim = tr->p.stationary_frac * (h > 4 ? h : 4);
  if (hypotf(cx - t->ax, cy - t->ay) > lim) t->ax = cx, t->ay = cy, t->ats = ts;
  t->stationary = ts - t->ats >= tr->p.stationary_s;
  if (!t->confirmed) {
    float first, med;
    tracker_class_thresholds(&tr->p, t->label, &first, &med);
    if ((t->hits >= tr->p.min_hits || tr->one_shot) && t->first_score >= first && track_median_score(t) >= med)
      t->confirmed = t->confirmed_now = true;
  }
}

static track_t *spawn(tracker *tr, const vigil_det *d, double ts) {
  if (tr->n == tr->cap) {
    if (tr->cap >= TRACKER_MAX) return NULL;
    int nc = tr->cap ? tr->cap * 2 : 16;
    track_t *nt = realloc(tr->t, sizeof *nt * (size_t)nc);
    if (!nt) return NULL;
    tr->t = nt;
    tr->cap = nc;
  }
  track_t *t = &tr->t[tr->n++];
  memset(t, 0, sizeof *t);
  t->id = tr->next_id++;
  t->cls = d->cls;
  t->label = d->label;
  t->first_score = d->score;
  t->first_seen = ts;
  t->ax = (d->x1 + d->x2) / 2, t->ay = (d->y1 + d->y2) / 2, t->ats = ts;
  kf_init(t, d, ts);
  observe(tr, t, d, ts);
  return t;
}

typedef struct {
  float key;
  int t, d;
} pair;

static int by_key_desc(const void *a, const void *b) {
  const pair *x = a, *y = b;
  if (x->key != y->key) return x->key < y->key ? 1 : -1;
  if (x->t != y->t) return x->t - y->t;
  return x->d - y->d;
}

static bool looked_at(const track_t *t, const track_region *rg, int nrg) {
  if (!rg || nrg <= 0) return true;
  float cx = (t->x1 + t->x2) / 2, cy = (t->y1 + t->y2) / 2;
  for (int i = 0; i < nrg; i++)
    if (cx >= rg[i].x1 && cx <= rg[i].x2 && cy >= rg[i].y1 && cy <= rg[i].y2) return true;
  return false;
}

void tracker_predict(tracker *tr, double ts) {
  for (int i = 0; i < tr->n; i++) {
    track_t *t = &tr->t[i];
    if (t->stationary) continue; /* a still object stays where it was seen */
    kf_predict(t, ts);
    box_of(t, &t->x1, &t->y1, &t->x2, &t->y2);
  }
}

int tracker_update(tracker *tr, const vigil_det *dets, int n, double ts, const track_region *regions, int nregions,
                   int *det_track) {
  for (int i = 0; i < n && det_track; i++) det_track[i] = -1;
  /* drop the dead, predict the living to ts */
  int k = 0;
  for (int i = 0; i < tr->n; i++) {
    track_t *t = &tr->t[i];
    double gap = ts - t->last_seen;
    if ((t->misses > 0 && gap > tr->p.max_age_s) || gap > tr->p.max_idle_s) continue;
    if (k != i) tr->t[k] = *t;
    k++;
  }
  tr->n = k;
  for (int i = 0; i < tr->n; i++) {
    track_t *t = &tr->t[i];
    t->matched = t->confirmed_now = false;
    if (!t->stationary) kf_predict(t, ts);
    else t->kts = ts;
    box_of(t, &t->x1, &t->y1, &t->x2, &t->y2);
  }
  int np = 0;
  pair *pairs = tr->n && n ? malloc(sizeof *pairs * (size_t)tr->n * (size_t)n) : NULL;
  if (tr->n && n && !pairs) return -1;
  for (int i = 0; i < tr->n; i++) {
    const track_t *t = &tr->t[i];
    vigil_det tb = {.cls = t->cls, .label = t->label, .x1 = t->x1, .y1 = t->y1, .x2 = t->x2, .y2 = t->y2};
    float th = t->y2 - t->y1;
    for (int j = 0; j < n; j++) {
      const vigil_det *d = &dets[j];
      if (!det_same_group(&tb, d) && !(t->label && d->label && !strcmp(t->label, d->label))) continue;
      float iou = det_iou(&tb, d);
      if (iou >= tr->p.match_iou) {
        pairs[np++] = (pair){1 + iou, i, j};
        continue;
      }
      /* low frame rates: a small walker moves more than its width between frames */
      float dh = d->y2 - d->y1, size = th > dh ? th : dh;
      if (size <= 0 || dh < th * 0.5f || dh > th * 2) continue;
      float dist = hypotf((d->x1 + d->x2 - t->x1 - t->x2) / 2, (d->y1 + d->y2 - t->y1 - t->y2) / 2) / size;
      if (dist < tr->p.match_dist) pairs[np++] = (pair){1 - dist / tr->p.match_dist, i, j};
    }
  }
  if (np) qsort(pairs, (size_t)np, sizeof *pairs, by_key_desc); /* pairs may be NULL with none */
  bool *dused = calloc((size_t)n + 1, 1);
  if (!dused) {
    free(pairs);
    return -1;
  }
  int ntr = tr->n; /* spawned tracks are not matched again in this pass */
  for (int q = 0; q < np; q++) {
    track_t *t = &tr->t[pairs[q].t];
    if (t->matched || dused[pairs[q].d]) continue;
    dused[pairs[q].d] = true;
    observe(tr, t, &dets[pairs[q].d], ts);
    if (det_track) det_track[pairs[q].d] = pairs[q].t;
  }
  free(pairs);
  for (int i = 0; i < ntr; i++) {
    track_t *t = &tr->t[i];
    if (!t->matched && looked_at(t, regions, nregions)) t->misses++;
  }
  int rc = 0;
  for (int j = 0; j < n; j++) {
    if (dused[j]) continue;
    if (!spawn(tr, &dets[j], ts)) {
      if (tr->cap < TRACKER_MAX) rc = -1; /* out of memory; a full tracker just ignores the rest */
      continue;
    }
    if (det_track) det_track[j] = tr->n - 1;
  }
  free(dused);
  return rc;
}

int tracker_count_confirmed(const tracker *tr, const char *label, double since) {
  int c = 0;
  for (int i = 0; i < tr->n; i++) {
    const track_t *t = &tr->t[i];
    if (t->confirmed && t->last_seen >= since && (!label || (t->label && !strcmp(t->label, label)))) c++;
  }
  return c;
}
