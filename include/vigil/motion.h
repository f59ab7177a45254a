/* Per-camera motion detection on a downscaled grey frame (running
 * background, threshold, dilation, connected components) and the planning of
 * detector crops around the moving regions. */
#ifndef VIGIL_MOTION_H
#define VIGIL_MOTION_H

#include <stdbool.h>
#include <stdint.h>

#include "vigil/img.h"
#include "vigil/track.h"

#define MOTION_MAX_MASKS 8
#define MOTION_MAX_POINTS 16

typedef struct {
  int npoints;
  float x[MOTION_MAX_POINTS], y[MOTION_MAX_POINTS]; /* polygon, frame pixels */
} motion_mask;

typedef struct {
  int width;          /* analysis width in pixels (160); height keeps the aspect */
  int threshold;      /* grey difference (0..255) that counts as motion (20); lower = more sensitive */
  float alpha;        /* background learning rate per frame (0.05) */
  int dilate;         /* 3x3 dilation passes (2) */
  float min_area;     /* smallest region, as a fraction of the frame (0.001) */
  int nmasks;         /* polygons never to count as motion (trees, a road) */
  motion_mask masks[MOTION_MAX_MASKS];
} motion_params;

motion_params motion_default_params(void);

typedef struct {
  motion_params p;
  int w, h, fw, fh;   /* analysis and frame size */
  float *bg; /* owns the one allocation every buffer here lies in */
  uint8_t *grey, *mask, *tmp, *excl, *prev, *fd;
  int *label;
  long frames;
} motion_detector;

void motion_init(motion_detector *m, const motion_params *p);
void motion_free(motion_detector *m);
/* Feeds one RGB frame; writes up to max moving regions (frame pixels,
 * largest first) to out and returns their count, 0 for a still frame (and the
 * first frame, which only starts the background), -1 on out of memory. A
 * change of frame size restarts the background. */
int motion_detect(motion_detector *m, const vigil_image *frame, track_region *out, int max);

/* Plans detector crops for the regions: each region is grown by a margin and
 * centred in a square of at least `side` pixels (the detector's input, so
 * small far objects are not shrunk); crops that overlap, or fit together
 * within one side, are merged; when more than max_crops remain or they cover
 * most of the frame, one crop is the whole frame. Crops are clamped to the
 * frame. Returns the number of crops written to out (>= 1 when n >= 1). */
int motion_plan_crops(const track_region *regions, int n, int frame_w, int frame_h, int side, int max_crops,
                      track_region *out);

#endif
