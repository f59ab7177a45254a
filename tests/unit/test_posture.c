/* Posture rules of CONTRACTS.md on synthetic skeletons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "vigil/pose.h"

/* A person in a 100x200 box at (0,0): coordinates given normalised. */
static void set(pose_result *r, int k, float x, float y) {
  r->kp[k].x = x * 100;
  r->kp[k].y = y * 200;
  r->kp[k].score = 0.9f;
}

static void upright(pose_result *r, float ankle_spread) {
  memset(r, 0, sizeof *r);
  set(r, KP_NOSE, 0.5f, 0.08f);
  set(r, KP_LEFT_SHOULDER, 0.65f, 0.2f);
  set(r, KP_RIGHT_SHOULDER, 0.35f, 0.2f);
  set(r, KP_LEFT_WRIST, 0.7f, 0.5f);
  set(r, KP_RIGHT_WRIST, 0.3f, 0.5f);
  set(r, KP_LEFT_HIP, 0.6f, 0.5f);
  set(r, KP_RIGHT_HIP, 0.4f, 0.5f);
  set(r, KP_LEFT_KNEE, 0.6f, 0.72f);
  set(r, KP_RIGHT_KNEE, 0.4f, 0.72f);
  float half = 0.1f * ankle_spread; /* hip width is 0.2 */
  set(r, KP_LEFT_ANKLE, 0.5f + half, 0.95f);
  set(r, KP_RIGHT_ANKLE, 0.5f - half, 0.95f);
}

static bool has_alert(const pose_result *r, const char *a) {
  for (int i = 0; i < r->n_alerts; i++)
    if (!strcmp(r->alerts[i], a)) return true;
  return false;
}

static void test_standing_walking_running(void **s) {
  (void)s;
  pose_result r;
  upright(&r, 1.0f);
  pose_classify(&r, 0, 0, 100, 200);
  assert_string_equal(r.posture, "standing");
  upright(&r, 2.5f);
  pose_classify(&r, 0, 0, 100, 200);
  assert_string_equal(r.posture, "walking");
  upright(&r, 3.5f);
  pose_classify(&r, 0, 0, 100, 200);
  assert_string_equal(r.posture, "running");
  assert_int_equal(r.n_alerts, 0);
}

static void test_hands_raised(void **s) {
  (void)s;
  pose_result r;
  upright(&r, 1.0f);
  set(&r, KP_LEFT_WRIST, 0.7f, 0.02f);
  set(&r, KP_RIGHT_WRIST, 0.3f, 0.03f);
  pose_classify(&r, 0, 0, 100, 200);
  assert_true(has_alert(&r, "hands_raised"));
  /* only one wrist up is not hands raised */
  set(&r, KP_RIGHT_WRIST, 0.3f, 0.5f);
  pose_classify(&r, 0, 0, 100, 200);
  assert_false(has_alert(&r, "hands_raised"));
}

static void test_fighting_stance(void **s) {
  (void)s;
  pose_result r;
  upright(&r, 1.0f);
  /* 0.35 box widths from the shoulder is only 0.175 box heights: a swinging arm */
  set(&r, KP_LEFT_WRIST, 1.0f, 0.25f);
  pose_classify(&r, 0, 0, 100, 200);
  assert_false(has_alert(&r, "fighting_stance"));
  /* a punch: the wrist 0.7 box widths = 0.35 box heights out */
  set(&r, KP_LEFT_WRIST, 1.35f, 0.22f);
  pose_classify(&r, 0, 0, 100, 200);
  assert_true(has_alert(&r, "fighting_stance"));
}

static void test_lying_down(void **s) {
  (void)s;
  pose_result r;
  memset(&r, 0, sizeof r);
  /* a body along x in a 200x60 box */
  float xs[] = {0.05f, 0.25f, 0.3f, 0.5f, 0.55f, 0.75f, 0.95f};
  int ks[] = {KP_NOSE, KP_LEFT_SHOULDER, KP_RIGHT_SHOULDER, KP_LEFT_HIP, KP_RIGHT_HIP, KP_LEFT_KNEE, KP_LEFT_ANKLE};
  for (int i = 0; i < 7; i++) {
    r.kp[ks[i]].x = xs[i] * 200;
    r.kp[ks[i]].y = 30 + (i % 2) * 8;
    r.kp[ks[i]].score = 0.8f;
  }
  pose_classify(&r, 0, 0, 200, 60);
  assert_string_equal(r.posture, "lying_down");
  assert_true(has_alert(&r, "lying_down"));
}

static void test_sitting(void **s) {
  (void)s;
  pose_result r;
  upright(&r, 1.0f);
  set(&r, KP_LEFT_HIP, 0.6f, 0.7f);
  set(&r, KP_RIGHT_HIP, 0.4f, 0.7f);
  set(&r, KP_LEFT_KNEE, 0.8f, 0.68f);
  set(&r, KP_RIGHT_KNEE, 0.6f, 0.68f);
  pose_classify(&r, 0, 0, 100, 200);
  assert_string_equal(r.posture, "sitting");
}

static void test_crouching(void **s) {
  (void)s;
  pose_result r;
  upright(&r, 1.0f);
  /* torso bent: shoulders nearly level with hips; long thigh */
  set(&r, KP_LEFT_SHOULDER, 0.75f, 0.45f);
  set(&r, KP_RIGHT_SHOULDER, 0.55f, 0.45f);
  set(&r, KP_LEFT_HIP, 0.5f, 0.5f);
  set(&r, KP_RIGHT_HIP, 0.3f, 0.5f);
  set(&r, KP_LEFT_KNEE, 0.9f, 0.45f);
  set(&r, KP_RIGHT_KNEE, 0.7f, 0.45f);
  pose_classify(&r, 0, 0, 100, 200);
  assert_string_equal(r.posture, "crouching");
  assert_true(has_alert(&r, "crouching"));
}

static void test_low_scores_unknown(void **s) {
  (void)s;
  pose_result r;
  upright(&r, 1.0f);
  for (int i = 0; i < POSE_NKP; i++) r.kp[i].score = 0.2f;
  pose_classify(&r, 0, 0, 100, 200);
  assert_string_equal(r.posture, "unknown");
  assert_int_equal(r.n_alerts, 0);
}

int main(void) {
  const struct CMUnitTest t[] = {
      cmocka_unit_test(test_standing_walking_running), cmocka_unit_test(test_hands_raised),
      cmocka_unit_test(test_fighting_stance),          cmocka_unit_test(test_lying_down),
      cmocka_unit_test(test_sitting),                  cmocka_unit_test(test_crouching),
      cmocka_unit_test(test_low_scores_unknown),
  };
  return cmocka_run_group_tests(t, NULL, NULL);
}
