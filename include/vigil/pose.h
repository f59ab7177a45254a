/* Human pose: the 17 COCO keypoints, posture classification and security
 * alerts (CONTRACTS.md "Posture from 17 COCO keypoints"). */
#ifndef VIGIL_POSE_H
#define VIGIL_POSE_H

#include <stdbool.h>

#define POSE_NKP 17

enum {
  KP_NOSE, KP_LEFT_EYE, KP_RIGHT_EYE, KP_LEFT_EAR, KP_RIGHT_EAR,
  KP_LEFT_SHOULDER, KP_RIGHT_SHOULDER, KP_LEFT_ELBOW, KP_RIGHT_ELBOW,
  KP_LEFT_WRIST, KP_RIGHT_WRIST, KP_LEFT_HIP, KP_RIGHT_HIP,
  KP_LEFT_KNEE, KP_RIGHT_KNEE, KP_LEFT_ANKLE, KP_RIGHT_ANKLE,
};

extern const char *const coco_keypoint_names[POSE_NKP];

typedef struct {
  float x, y;   /* original image pixels */
  float score;  /* 0..1 */
} pose_keypoint;

#define POSE_MAX_ALERTS 4
#define POSE_MIN_KP_SCORE 0.3f

typedef struct {
  pose_keypoint kp[POSE_NKP];
  char posture[16];       /* standing walking running sitting crouching lying_down unknown */
  float posture_score;
  int n_alerts;
  const char *alerts[POSE_MAX_ALERTS]; /* hands_raised fighting_stance crouching lying_down */
} pose_result;

/* Classifies posture and alerts from r->kp, normalised to the person box
 * (x1,y1)-(x2,y2) in the same pixels as the keypoints. */
void pose_classify(pose_result *r, float x1, float y1, float x2, float y2);

#endif
