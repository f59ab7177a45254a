/* Per-camera multi-object tracking (SORT-style: a constant-velocity Kalman
 * filter per track, IoU association on the predicted boxes) and the
 * confirmation rule that separates real objects from detector noise. */
#ifndef VIGIL_TRACK_H
#define VIGIL_TRACK_H

#include <stdbool.h>
#include <stddef.h>

#include "vigil/detect.h"

#define TRACK_HISTORY 32    /* scores kept per track for the median */
#define TRACK_MAX_CLASSES 8 /* per-class threshold overrides */

typedef struct {
  char label[24];        /* detector class, e.g. "person" */
  float min_first_score; /* the first sighting must score at least this */
  float confirm_median;  /* the median of the score history must reach this */
} track_class_params;

typedef struct {
  float match_iou;          /* IoU with the predicted box to associate (0.2) */
  float match_dist;         /* fallback: centre distance / box size below this associates (0.8) */
  int min_hits;             /* matched frames before a track can be confirmed (3) */
  float min_first_score;    /* default first-sighting minimum (0.3) */
  float confirm_median;     /* default median-score threshold (0.35; person 0.45 in cls[]) */
  double max_age_s;         /* a track unmatched this long while looked at is dropped (2 s) */
  double max_idle_s;        /* ... and one not looked at this long, whatever (60 s) */
  double stationary_s;      /* a track that stays within stationary_frac of its box for this long is stationary (3 s) */
  float stationary_frac;    /* (0.15 of the box height) */
  int nclasses;
  track_class_params cls[TRACK_MAX_CLASSES];
} tracker_params;

tracker_params tracker_default_params(void);
/* Parses "person:0.3:0.45,car:0.3:0.4" (label:min_first:median) into p->cls.
 * 0 or -1 with err filled (unknown syntax, value outside 0..1, too many). */
int tracker_parse_classes(tracker_params *p, const char *spec, char *err, size_t errlen);
/* The thresholds that apply to a label. */
void tracker_class_thresholds(const tracker_params *p, const char *label, float *min_first, float *median);

typedef struct {
  unsigned id;              /* unique per tracker, from 1 */
  int cls;
  const char *label;        /* static detector string */
  float x1, y1, x2, y2;     /* filtered box, frame pixels */
  float score;              /* score of the last matched detection */
  float first_score;
  float best_score;         /* best sighting: its box and time */
  float bx1, by1, bx2, by2;
  double best_ts;
  double first_seen, last_seen; /* unix seconds of the first and last matched detection */
  int hits;                 /* matched frames */
  int misses;               /* consecutive looks without a match */
  bool confirmed;           /* passed the confirmation rule once: stays so */
  bool stationary;
  bool matched;             /* matched in the last update */
  bool confirmed_now;       /* became confirmed in the last update */
  /* internals */
  int nscores, score_pos;
  float scores[TRACK_HISTORY];
  double kx[8], kp[64];     /* Kalman state cx,cy,w,h,vx,vy,vw,vh and covariance */
  double kts;               /* time of the state */
  float ax, ay;             /* anchor of the stationary test */
  double ats;
} track_t;

typedef struct {
  tracker_params p;
  track_t *t;
  int n, cap;
  unsigned next_id;
  bool one_shot;            /* this update is a lone still (a snapshot camera): one sighting may confirm */
} tracker;

void tracker_init(tracker *tr, const tracker_params *p);
void tracker_free(tracker *tr);

/* A rectangle of the frame the detector looked at (frame pixels). */
typedef struct {
  float x1, y1, x2, y2;
} track_region;

/* One detection pass at time ts. dets: what the detector found; regions:
 * where it looked (NULL/0 = the whole frame). Tracks whose predicted box lies
 * outside every region were not looked at and are neither matched nor aged.
 * det_track[i] (may be NULL) receives the index into tr->t of the track
 * detection i was assigned to, -1 for none (a new track is made for every
 * unmatched detection while there is room). Indexes are valid until the
 * next call. Returns 0 or -1 on out of memory. */
int tracker_update(tracker *tr, const vigil_det *dets, int n, double ts, const track_region *regions, int nregions,
                   int *det_track);
/* Advances every track's prediction to ts without detections (frames not
 * detected); boxes become the predicted ones. */
void tracker_predict(tracker *tr, double ts);
/* Median of a track's score history. */
float track_median_score(const track_t *t);
/* Number of confirmed tracks seen at or after `since` (class NULL = all). */
int tracker_count_confirmed(const tracker *tr, const char *label, double since);

#endif
