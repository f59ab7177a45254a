/* Drawing detections on frames and encoding JPEG: the annotated snapshots of
 * events (store, events API, HTML report). */
#ifndef VIGIL_ANNOTATE_H
#define VIGIL_ANNOTATE_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/img.h"
#include "vigil/pose.h"

typedef struct {
  uint8_t r, g, b;
} vigil_rgb;

/* A stable colour per class label. */
vigil_rgb annotate_class_color(const char *label);
void annotate_rect(vigil_image *im, float x1, float y1, float x2, float y2, int thickness, vigil_rgb c);
void annotate_dot(vigil_image *im, float x, float y, int radius, vigil_rgb c);
/* A COCO skeleton: keypoints above min_score and the limbs between them. */
void annotate_pose(vigil_image *im, const pose_result *p, float min_score);
/* A label in a small built-in 5x7 font, on a filled background. */
void annotate_text(vigil_image *im, int x, int y, const char *text, int scale, vigil_rgb fg, vigil_rgb bg);

/* JPEG of an RGB image (quality 1..100); *out is malloc'ed. */
int annotate_encode_jpeg(uint8_t **out, size_t *len, const vigil_image *im, int quality);

#endif
