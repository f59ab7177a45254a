/* Camera tampering: per-camera baseline and incident state machine (see
 * include/vigil/tamper.h for the signals and why they are normalised).
 *
 * Each frame is reduced to a 320x240 grey work image (area average) from which
 * come its contrast (grey standard deviation), its saturation (share of pixels at
 * 250 and up), its sharpness (mean absolute Laplacian over contrast, so darkening
 * or brightening the whole view leaves it unchanged) and a 64x48 edge signature
 * (gradient magnitude, zero mean, unit norm; its dot product with the baseline's is
 * a correlation in [-1, 1] that lighting changes barely move but a turned camera
 * destroys). The baseline is an exponential average of all four; it stops moving
 * while any condition holds, which is what separates a sudden collapse from a slow
 * one such as nightfall. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/tamper.h"

#define WORK_W 320
#define WORK_H 240
#define SIG_W 64
#define SIG_H 48
#define SIG_N (SIG_W * SIG_H)
#define NKIND 5

struct tamper_state {
  tamper_params p;
  bool have_base;
  double t_first, t_last;
  double base_std, base_sharp, base_sat;
  double base_sig[SIG_N];
  double held_since[NKIND]; /* < 0: not holding */
  tamper_kind ongoing;
  double normal_since;      /* while an incident is ongoing: since when no condition holds (< 0: one holds) */
};

tamper_params tamper_default_params(void) {
  /* timing, then the threshold of each condition (tamper.h says what each means) */
  return (tamper_params){.sustain_s = 5, .rearm_s = 30, .warmup_s = 10, .baseline_tau_s = 20,
                         .covered_std = 6, .sharpness_ratio = 0.35, .saturated_frac = 0.6, .scene_corr = 0.4};
}

const char *tamper_kind_name(tamper_kind k) {
  static const char *names[NKIND] = {"none", "covered", "defocused", "blinded", "moved"};
  return (unsigned)k < NKIND ? names[k] : "unknown";
}

int tamper_init(tamper_state **out, tamper_params p) {
  tamper_state *s = calloc(1, sizeof *s);
  if (!s) return -1;
  s->p = p;
  for (int k = 0; k < NKIND; k++) s->held_since[k] = -1;
  s->normal_since = -1;
  *out = s;
  return 0;
}

void tamper_free(tamper_state *s) { free(s); }

typedef struct {
  double std, sat, sharp;
  double sig[SIG_N];
} measures;

static void measure(measures *m, const uint8_t *g) {
  double sum = 0, sq = 0;
  size_t sat = 0, n = (size_t)WORK_W * WORK_H;
  for (size_t i = 0; i < n; i++) {
    sum += g[i];
    sq += (double)g[i] * g[i];
    sat += g[i] >= 250;
  }
  double mean = sum / n;
  m->std = sqrt(fmax(sq / n - mean * mean, 0));
  m->sat = (double)sat / n;
  double lap = 0;
  for (int y = 1; y < WORK_H - 1; y++)
    for (int x = 1; x < WORK_W - 1; x++) {
      const uint8_t *p = g + (size_t)y * WORK_W + x;
      lap += fabs(4.0 * p[0] - p[-1] - p[1] - p[-WORK_W] - p[WORK_W]);
    }
  m->sharp = lap / ((double)(WORK_W - 2) * (WORK_H - 2)) / (m->std + 2.0);
  /* 5x5 box means -> 64x48 thumbnail -> gradient magnitude -> zero mean, unit norm */
  static const int bw = WORK_W / SIG_W, bh = WORK_H / SIG_H;
  double thumb[SIG_N];
  for (int y = 0; y < SIG_H; y++)
    for (int x = 0; x < SIG_W; x++) {
      double a = 0;
      for (int j = 0; j < bh; j++)
        for (int i = 0; i < bw; i++) a += g[(size_t)(y * bh + j) * WORK_W + x * bw + i];
      thumb[y * SIG_W + x] = a / (bw * bh);
    }
  double mu = 0;
  for (int y = 0; y < SIG_H; y++)
    for (int x = 0; x < SIG_W; x++) {
      int xl = x ? x - 1 : x, xr = x + 1 < SIG_W ? x + 1 : x, yu = y ? y - 1 : y, yd = y + 1 < SIG_H ? y + 1 : y;
      double gx = thumb[y * SIG_W + xr] - thumb[y * SIG_W + xl];
      double gy = thumb[yd * SIG_W + x] - thumb[yu * SIG_W + x];
      mu += m->sig[y * SIG_W + x] = sqrt(gx * gx + gy * gy);
    }
  mu /= SIG_N;
  double norm = 0;
  for (int i = 0; i < SIG_N; i++) {
    m->sig[i] -= mu;
    norm += m->sig[i] * m->sig[i];
  }
  norm = sqrt(norm);
  for (int i = 0; i < SIG_N; i++) m->sig[i] = norm > 1e-9 ? m->sig[i] / norm : 0;
}

static double correlate(const double *a, const double *b) {
  double d = 0, na = 0, nb = 0;
  for (int i = 0; i < SIG_N; i++) d += a[i] * b[i], na += a[i] * a[i], nb += b[i] * b[i];
  return na > 1e-12 && nb > 1e-12 ? d / sqrt(na * nb) : 0;
}

static void rebaseline(tamper_state *s, const measures *m) {
  s->base_std = m->std;
  s->base_sharp = m->sharp;
  s->base_sat = m->sat;
  memcpy(s->base_sig, m->sig, sizeof s->base_sig);
}

static void follow(tamper_state *s, const measures *m, double dt) {
  double a = s->p.baseline_tau_s > 0 ? 1 - exp(-dt / s->p.baseline_tau_s) : 1;
  s->base_std += a * (m->std - s->base_std);
  s->base_sharp += a * (m->sharp - s->base_sharp);
  s->base_sat += a * (m->sat - s->base_sat);
  for (int i = 0; i < SIG_N; i++) s->base_sig[i] += a * (m->sig[i] - s->base_sig[i]);
}

int tamper_update(tamper_state *s, tamper_verdict *v, const vigil_image *frame, double t) {
  memset(v, 0, sizeof *v);
  if (!frame || !frame->data || frame->w < 8 || frame->h < 8 || (frame->c != 1 && frame->c != 3))
    return VIGIL_IMG_EINVAL;
  vigil_image grey = {0}, work = {0};
  int rc = frame->c == 3 ? vigil_img_grey(&grey, frame) : 0;
  const vigil_image *src = frame->c == 3 ? &grey : frame;
  if (!rc) rc = vigil_img_resize(&work, src, WORK_W, WORK_H, VIGIL_RESIZE_AREA);
  vigil_image_free(&grey);
  if (rc) return rc;
  measures *m = malloc(sizeof *m);
  if (!m) {
    vigil_image_free(&work);
    return VIGIL_IMG_ENOMEM;
  }
  uint8_t *packed = work.data; /* stride == WORK_W for a fresh 1-channel image */
  measure(m, packed);
  vigil_image_free(&work);

  if (!s->have_base) {
    rebaseline(s, m);
    s->have_base = true;
    s->t_first = s->t_last = t;
  }
  double dt = t > s->t_last ? t - s->t_last : 0;
  s->t_last = t;
  const tamper_params *p = &s->p;
  v->warm = t - s->t_first >= p->warmup_s;
  v->grey_std = m->std;
  v->saturated = m->sat;
  v->sharpness_ratio = s->base_sharp > 1e-9 ? m->sharp / s->base_sharp : 1;
  v->scene_corr = correlate(m->sig, s->base_sig);

  bool cond[NKIND] = {false};
  if (v->warm) {
    bool uniform = m->std < p->covered_std;
    cond[TAMPER_BLINDED] = m->sat >= p->saturated_frac && s->base_sat < p->saturated_frac / 2;
    cond[TAMPER_COVERED] = uniform && !cond[TAMPER_BLINDED] && s->base_std >= 2 * p->covered_std &&
                           m->std < 0.5 * s->base_std;
    cond[TAMPER_DEFOCUSED] = !uniform && !cond[TAMPER_BLINDED] && v->sharpness_ratio < p->sharpness_ratio;
    cond[TAMPER_MOVED] = !uniform && !cond[TAMPER_BLINDED] && !cond[TAMPER_DEFOCUSED] && v->scene_corr < p->scene_corr;
  }
  bool any = false;
  for (int k = 1; k < NKIND; k++) {
    if (!cond[k]) s->held_since[k] = -1;
    else if (s->held_since[k] < 0) s->held_since[k] = t;
    any |= cond[k];
  }

  if (s->ongoing != TAMPER_NONE) {
    /* the incident lasts until the view has been normal for rearm_s */
    if (any) s->normal_since = -1;
    else if (s->normal_since < 0) s->normal_since = t;
    if (!any && t - s->normal_since >= p->rearm_s) s->ongoing = TAMPER_NONE;
  } else {
    for (int k = 1; k < NKIND; k++)
      if (cond[k] && t - s->held_since[k] >= p->sustain_s) {
        s->ongoing = v->started = (tamper_kind)k;
        s->normal_since = -1;
        if (k == TAMPER_MOVED) rebaseline(s, m); /* the new view is the new normal */
        break;
      }
  }
  v->ongoing = s->ongoing;
  v->suspect = any;
  if (!any && s->ongoing == TAMPER_NONE) follow(s, m, dt);
  free(m);
  return 0;
}
