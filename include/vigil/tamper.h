/* Camera tampering and blindness: per camera, a rolling baseline of what the view
 * normally looks like, and an incident when the view collapses or changes for good:
 *
 *   covered     the frame goes near-uniform (lens taped, bag over the camera)
 *   defocused   sharpness collapses (lens sprayed or smeared, focus turned)
 *   blinded     most of the frame saturates (a torch or floodlight into the lens)
 *   moved       the scene's edge structure no longer matches (camera turned away)
 *
 * Each incident is reported once, when its condition has held for `sustain_s`;
 * the next one can only start after the view has been normal again for `rearm_s`.
 * Nightfall, rain and lights switching on or off must not trip it: the signals are
 * normalised for brightness and contrast (sharpness is gradient energy over
 * contrast; the scene signature is a zero-mean, unit-norm edge thumbnail), and the
 * baseline follows slow changes (an exponential average over `baseline_tau_s`) but
 * is frozen while a condition holds, so a sudden change cannot be absorbed before it
 * is reported. Times are the frame's time in seconds (stream time for files).
 *
 * Ownership and threads: a tamper_state belongs to one camera and one thread. */
#ifndef VIGIL_TAMPER_H
#define VIGIL_TAMPER_H

#include <stdbool.h>

#include "vigil/img.h"

typedef struct {
  double sustain_s;        /* a condition must hold this long (5 s) */
  double rearm_s;          /* normal this long before the next incident (30 s) */
  double warmup_s;         /* baseline age before anything is judged (10 s) */
  double baseline_tau_s;   /* time constant of the baseline average (20 s) */
  double covered_std;      /* grey standard deviation (0-255) under which a frame is uniform (6) */
  double sharpness_ratio;  /* sharpness below this fraction of the baseline = defocused (0.35) */
  double saturated_frac;   /* fraction of saturated pixels that blinds the camera (0.6) */
  double scene_corr;       /* edge-signature correlation under which the view has moved (0.4) */
} tamper_params;

tamper_params tamper_default_params(void);

typedef enum {
  TAMPER_NONE = 0,
  TAMPER_COVERED,
  TAMPER_DEFOCUSED,
  TAMPER_BLINDED,
  TAMPER_MOVED,
} tamper_kind;

const char *tamper_kind_name(tamper_kind k); /* "none", "covered", ... */

typedef struct {
  tamper_kind started;    /* an incident that starts on this frame (NONE otherwise) */
  tamper_kind ongoing;    /* the incident in progress, if any */
  bool warm;              /* the baseline is old enough to judge */
  bool suspect;           /* some condition holds on this frame (raised or not yet) */
  /* this frame's measurements, for logs and the event's reasoning */
  double grey_std, sharpness_ratio, saturated, scene_corr;
} tamper_verdict;

typedef struct tamper_state tamper_state;

int tamper_init(tamper_state **out, tamper_params p); /* 0, or -1 out of memory */
void tamper_free(tamper_state *s);                     /* NULL: no-op */

/* Feeds one frame (RGB8 or grey) taken at time t (non-decreasing). Returns 0, or a
 * negative VIGIL_IMG_* status for an unusable frame (which changes nothing). */
int tamper_update(tamper_state *s, tamper_verdict *v, const vigil_image *frame, double t);

#endif
