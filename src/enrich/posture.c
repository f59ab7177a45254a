/* Posture and pose alerts from 17 COCO keypoints, by the rules of
 * CONTRACTS.md. Keypoints are normalised to the person box, only those with
 * score > 0.3 count, every posture rule yields a score in 0..1, and the best
 * score wins when it is at least 0.3 (else "unknown").
 *
 *   lying_down  horizontal extent of the keypoints > 1.5 x vertical extent
 *   sitting     hips at or below the knees
 *   crouching   torso height / upper-leg length < 0.8
 *   standing    hip above knee above ankle, ankle spread / hip width < 2.0
 *   walking     same ordering, 1.5 < spread <= 3.0
 *   running     same ordering, spread > 3.0
 * Alerts: hands_raised (both wrists above the nose), fighting_stance (arm
 * extension > 0.3: a wrist more than 0.3 box heights from its shoulder
 * horizontally; box widths would fire on every walking pedestrian, whose box
 * is narrow and whose arms swing), crouching, lying_down. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "vigil/pose.h"

const char *const coco_keypoint_names[POSE_NKP] = {
    "nose",       "left_eye",    "right_eye",  "left_ear",   "right_ear",  "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip",  "left_knee",   "right_knee", "left_ankle", "right_ankle"};

typedef struct {
  float x, y;
  bool ok;
} npt;

/* mean of the visible points among a and b */
static npt mid(npt a, npt b) {
  if (a.ok && b.ok) return (npt){(a.x + b.x) / 2, (a.y + b.y) / 2, true};
  return a.ok ? a : b;
}

static float clamp01(float v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

static void add_alert(pose_result *r, const char *a) {
  if (r->n_alerts < POSE_MAX_ALERTS) r->alerts[r->n_alerts++] = a;
}

void pose_classify(pose_result *r, float x1, float y1, float x2, float y2) {
  float bw = x2 - x1, bh = y2 - y1;
  npt p[POSE_NKP];
  int visible = 0;
  float minx = INFINITY, maxx = -INFINITY, miny = INFINITY, maxy = -INFINITY;
  for (int i = 0; i < POSE_NKP; i++) {
    p[i].ok = r->kp[i].score > POSE_MIN_KP_SCORE && bw > 0 && bh > 0;
    p[i].x = bw > 0 ? (r->kp[i].x - x1) / bw : 0;
    p[i].y = bh > 0 ? (r->kp[i].y - y1) / bh : 0;
    if (!p[i].ok) continue;
    visible++;
    minx = fminf(minx, p[i].x), maxx = fmaxf(maxx, p[i].x);
    miny = fminf(miny, p[i].y), maxy = fmaxf(maxy, p[i].y);
  }
  r->n_alerts = 0;
  snprintf(r->posture, sizeof r->posture, "unknown");
  r->posture_score = 0;
  if (visible < 3) return;

  /* Normalised coordinates stretch a lying body's box into a square, so the
   * extent test uses pixels: x extent times box width vs y extent times box height. */
  float hext = (maxx - minx) * bw, vext = (maxy - miny) * bh;
  npt shoulder = mid(p[KP_LEFT_SHOULDER], p[KP_RIGHT_SHOULDER]);
  npt hip = mid(p[KP_LEFT_HIP], p[KP_RIGHT_HIP]);
  npt knee = mid(p[KP_LEFT_KNEE], p[KP_RIGHT_KNEE]);
  npt ankle = mid(p[KP_LEFT_ANKLE], p[KP_RIGHT_ANKLE]);

  const char *names[6] = {"lying_down", "sitting", "crouching", "standing", "walking", "running"};
  float score[6] = {0};
  if (vext > 0 && hext > 1.5f * vext) score[0] = clamp01(0.6f + 0.4f * (hext / vext - 1.5f));
  else if (vext == 0 && hext > 0) score[0] = 1;
  if (hip.ok && knee.ok && hip.y >= knee.y - 0.02f) score[1] = 0.8f;
  if (shoulder.ok && hip.ok && knee.ok) {
    float torso = fabsf(hip.y - shoulder.y);
    float thigh = hypotf(knee.x - hip.x, knee.y - hip.y);
    if (thigh > 0 && torso / thigh < 0.8f) score[2] = clamp01(0.5f + (0.8f - torso / thigh));
  }
  if (hip.ok && knee.ok && ankle.ok && hip.y < knee.y && knee.y < ankle.y) {
    bool both_hips = p[KP_LEFT_HIP].ok && p[KP_RIGHT_HIP].ok;
    bool both_ankles = p[KP_LEFT_ANKLE].ok && p[KP_RIGHT_ANKLE].ok;
    float hipw = both_hips ? fabsf(p[KP_LEFT_HIP].x - p[KP_RIGHT_HIP].x) : 0;
    if (both_ankles && hipw > 0.02f) {
      float spread = fabsf(p[KP_LEFT_ANKLE].x - p[KP_RIGHT_ANKLE].x) / hipw;
      if (spread < 2.0f) score[3] = 0.8f;
      if (spread > 1.5f && spread <= 3.0f) score[4] = 0.5f + 0.3f * (spread - 1.5f) / 1.5f;
      if (spread > 3.0f) score[5] = clamp01(0.8f + 0.05f * (spread - 3.0f));
    } else {
      score[3] = 0.6f; /* upright, spread unknown (side view) */
    }
  }
  int best = -1;
  for (int i = 0; i < 6; i++)
    if (score[i] >= 0.3f && (best < 0 || score[i] > score[best])) best = i;
  if (best >= 0) {
    snprintf(r->posture, sizeof r->posture, "%s", names[best]);
    r->posture_score = score[best];
  }

  npt nose = p[KP_NOSE];
  if (nose.ok && p[KP_LEFT_WRIST].ok && p[KP_RIGHT_WRIST].ok && p[KP_LEFT_WRIST].y < nose.y &&
      p[KP_RIGHT_WRIST].y < nose.y)
    add_alert(r, "hands_raised");
  float ext = 0; /* in box heights */
  if (p[KP_LEFT_WRIST].ok && p[KP_LEFT_SHOULDER].ok) ext = fabsf(p[KP_LEFT_WRIST].x - p[KP_LEFT_SHOULDER].x) * bw / bh;
  if (p[KP_RIGHT_WRIST].ok && p[KP_RIGHT_SHOULDER].ok)
    ext = fmaxf(ext, fabsf(p[KP_RIGHT_WRIST].x - p[KP_RIGHT_SHOULDER].x) * bw / bh);
  if (ext > 0.3f) add_alert(r, "fighting_stance");
  if (best == 2) add_alert(r, "crouching");
  if (best == 0) add_alert(r, "lying_down");
}
