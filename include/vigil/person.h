/* Person-path model adapters over real default models: MoveNet pose,
 * BlazeFace faces, FaceRes demographics. Each runs through a model_runner
 * (src/models/runner.h) that the caller holds (a zoo lease in the services),
 * takes the full frame plus the person box, and returns results in the
 * frame's pixels. */
#ifndef VIGIL_PERSON_H
#define VIGIL_PERSON_H

#include <stdbool.h>

#include "vigil/img.h"
#include "vigil/pose.h"

/* A loaded model with its session pool (src/models/runner.h); callers hold one
 * (a zoo lease in the services) and pass it in. */
typedef struct model_runner model_runner;

/* MoveNet (lightning 192 / thunder 256, chosen by the model's input size):
 * the person box, grown by 10%, padded to a square, resized, int32 RGB. */
int movenet_pose(model_runner *r, pose_result *out, const vigil_image *frame, float x1, float y1, float x2,
                 float y2, char *err, size_t errlen);

#define FACE_NLMK 6
typedef struct {
  float x1, y1, x2, y2; /* frame pixels */
  float score;
  float lm[FACE_NLMK][2];
} face_box;

/* BlazeFace on a region of the frame (the person box, or the whole frame when
 * x2 <= x1): up to max faces above min_score, best first, after NMS. */
int blazeface_detect(model_runner *r, face_box *faces, int max, int *n, const vigil_image *frame, float x1,
                     float y1, float x2, float y2, float min_score, char *err, size_t errlen);

typedef struct {
  float age;            /* expected age in years */
  const char *age_range;/* model-zoo.md bracket */
  float age_confidence; /* probability mass inside the bracket */
  const char *gender;   /* male, female, unknown (confidence < 0.5) */
  float gender_confidence;
  const char *model;    /* which model produced it */
} demographics_result;

/* FaceRes on a face box (grown to a square with margin). */
int faceres_demographics(model_runner *r, demographics_result *out, const vigil_image *frame, const face_box *face,
                         char *err, size_t errlen);

/* model-zoo.md's age brackets: 0-12, 13-17, 18-24, 25-35, 36-50, 51-65, 65+ */
const char *age_bracket(float age);

#endif
