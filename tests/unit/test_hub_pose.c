/* ViTPose and YOLOv8n-pose adapters on generated models with the real
 * exports' inputs/outputs: the preprocessing tensor against the published
 * configs, and heatmap/row decoding to frame pixels (planted peaks). */
#include "test_hub_common.h"

static model_runner vitpose, yolopose;

static int setup(void **s) {
  (void)s;
  if (hub_generate("vitpose yolopose")) return -1;
  char err[512];
  if (runner_load(&vitpose, hub_path("vitpose.onnx"), 1, err, sizeof err) ||
      runner_load(&yolopose, hub_path("yolov8n-pose.onnx"), 1, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  return 0;
}

static int teardown(void **s) {
  (void)s;
  runner_free(&vitpose);
  runner_free(&yolopose);
  hub_capture_free();
  hub_cleanup();
  return 0;
}

/* 256x192 input, ImageNet mean/std, NCHW RGB, box grown to 3:4 and padded by
 * 1.25, black outside the frame. */
static void vitpose_preprocessing(void **s) {
  (void)s;
  vigil_image f;
  hub_frame(&f, 640, 480, 100, 100, 100);
  hub_fill(&f, 200, 100, 300, 300, 255, 0, 0);
  pose_result pr;
  char err[256];
  hub_capture_start();
  assert_int_equal(vitpose_pose(&vitpose, &pr, &f, 200, 100, 300, 300, err, sizeof err), 0);
  hub_capture_stop();
  assert_string_equal(hub_cap.adapter, "vitpose");
  const vrt_tensor *t = &hub_cap.t[0];
  assert_string_equal(t->name, "pixel_values");
  assert_int_equal(t->ndim, 4);
  assert_int_equal(t->dims[1], 3);
  assert_int_equal(t->dims[2], 256);
  assert_int_equal(t->dims[3], 192);
  /* box 100x200 -> 150x200 (3:4) -> 187.5x250: 0.9766 px per input pixel;
   * the red box spans input x 44.8..147.2, y 25.6..230.4 */
  const float *m = hub_imagenet_mean, *sd = hub_imagenet_std;
  assert_float_equal(hub_at(t, 0, 128, 96), hub_norm(255, m[0], sd[0]), 1e-3);
  assert_float_equal(hub_at(t, 1, 128, 96), hub_norm(0, m[1], sd[1]), 1e-3);
  assert_float_equal(hub_at(t, 2, 128, 96), hub_norm(0, m[2], sd[2]), 1e-3);
  assert_float_equal(hub_at(t, 0, 128, 40), hub_norm(100, m[0], sd[0]), 1e-3); /* left of the box */
  assert_float_equal(hub_at(t, 0, 128, 50), hub_norm(255, m[0], sd[0]), 1e-3); /* inside */
  assert_float_equal(hub_at(t, 0, 20, 96), hub_norm(100, m[0], sd[0]), 1e-3);  /* above */
  assert_float_equal(hub_at(t, 0, 30, 96), hub_norm(255, m[0], sd[0]), 1e-3);
  assert_float_equal(hub_at(t, 0, 236, 96), hub_norm(100, m[0], sd[0]), 1e-3); /* below */
  /* a box at the frame's corner: the padding outside the frame is black */
  hub_capture_start();
  assert_int_equal(vitpose_pose(&vitpose, &pr, &f, 0, 0, 60, 80, err, sizeof err), 0);
  hub_capture_stop();
  assert_float_equal(hub_at(&hub_cap.t[0], 0, 2, 2), hub_norm(0, m[0], sd[0]), 1e-3);
  assert_float_equal(hub_at(&hub_cap.t[0], 2, 128, 96), hub_norm(100, m[2], sd[2]), 1e-3);
  vigil_image_free(&f);
}

/* Even keypoints peak on red, odd ones on blue: each lands on its dot. */
static void check_dots(const vigil_image *f, float x1, float y1, float x2, float y2, float rx, float ry, float bx,
                       float by, float tol) {
  pose_result pr;
  char err[256];
  assert_int_equal(vitpose_pose(&vitpose, &pr, f, x1, y1, x2, y2, err, sizeof err), 0);
  for (int k = 0; k < POSE_NKP; k++) {
    float ex = k % 2 ? bx : rx, ey = k % 2 ? by : ry;
    if (fabsf(pr.kp[k].x - ex) > tol || fabsf(pr.kp[k].y - ey) > tol)
      fail_msg("%s at (%.1f, %.1f), expected (%.1f, %.1f)", coco_keypoint_names[k], pr.kp[k].x, pr.kp[k].y, ex, ey);
    assert_true(pr.kp[k].score > 0.5f && pr.kp[k].score <= 1.0f);
  }
  assert_true(pr.posture[0] != 0);
}

static void vitpose_decode_planted(void **s) {
  (void)s;
  vigil_image f;
  hub_frame(&f, 640, 480, 128, 128, 128);
  hub_fill(&f, 172, 142, 188, 158, 255, 0, 0); /* red dot centred (180, 150) */
  hub_fill(&f, 222, 342, 238, 358, 0, 0, 255); /* blue dot centred (230, 350) */
  /* box 200x400 -> 300x400 -> 375x500: a heatmap cell is 7.8 px */
  check_dots(&f, 100, 50, 300, 450, 180, 150, 230, 350, 8);
  vigil_image_free(&f);
}

static void vitpose_on_real_photo(void **s) {
  (void)s;
  vigil_image f = {0};
  hub_media(&f, "media/messi5.jpg");
  hub_fill(&f, 300, 120, 316, 136, 255, 0, 0);
  hub_fill(&f, 330, 260, 346, 276, 0, 0, 255);
  check_dots(&f, 250, 60, 420, 340, 308, 128, 338, 268, 10);
  vigil_image_free(&f);
}

static void vitpose_bad_box(void **s) {
  (void)s;
  vigil_image f;
  hub_frame(&f, 64, 64, 0, 0, 0);
  pose_result pr;
  char err[256] = "";
  assert_int_not_equal(vitpose_pose(&vitpose, &pr, &f, 10, 10, 10, 40, err, sizeof err), 0);
  assert_non_null(strstr(err, "empty"));
  assert_int_not_equal(vitpose_pose(&vitpose, &pr, &f, 100, 100, 200, 200, err, sizeof err), 0);
  assert_int_not_equal(vitpose_pose(&vitpose, &pr, &f, NAN, 0, 20, 20, err, sizeof err), 0);
  vigil_image_free(&f);
}

/* Letterbox 640 with grey 114, x/255, NCHW. */
static void yolopose_preprocessing(void **s) {
  (void)s;
  vigil_image f;
  hub_frame(&f, 800, 600, 255, 0, 0);
  pose_result pr;
  char err[256];
  hub_capture_start();
  assert_int_equal(yolopose_pose(&yolopose, &pr, &f, 100, 80, 420, 560, err, sizeof err), 0);
  hub_capture_stop();
  const vrt_tensor *t = &hub_cap.t[0];
  assert_string_equal(t->name, "images");
  assert_int_equal(t->dims[2], 640);
  assert_int_equal(t->dims[3], 640);
  /* 320x480 -> 427x640 centred: columns 0..105 are padding */
  assert_float_equal(hub_at(t, 0, 320, 50), 114.0f / 255, 1e-4);
  assert_float_equal(hub_at(t, 0, 320, 320), 1.0f, 1e-4);
  assert_float_equal(hub_at(t, 1, 320, 320), 0.0f, 1e-4);
  assert_float_equal(hub_at(t, 2, 320, 600), 114.0f / 255, 1e-4);
  vigil_image_free(&f);
}

/* expected frame position of a letterbox point for region (rx, ry, rw, rh) */
static void unletterbox(float *x, float *y, float rx, float ry, float rw, float rh) {
  double sc = fmin(640.0 / rw, 640.0 / rh);
  int iw = (int)lround(rw * sc), ih = (int)lround(rh * sc);
  *x = (float)((*x - (640 - iw) / 2) / sc + rx);
  *y = (float)((*y - (640 - ih) / 2) / sc + ry);
}

/* Ultralytics person A scores 0.2 + 0.7 * mean(input), B 0.4: a bright
 * region picks A, a dark one B; keypoints come back through the letterbox. */
static void yolopose_best_person(void **s) {
  (void)s;
  /* mirrors POSE_A / POSE_B of gen_hub_models.py */
  static const float ys[17] = {0.06f, 0.04f, 0.04f, 0.05f, 0.05f, 0.2f, 0.2f, 0.35f, 0.35f,
                               0.48f, 0.48f, 0.52f, 0.52f, 0.72f, 0.72f, 0.95f, 0.95f};
  static const float dx[17] = {0, -6, 6, -12, 12, -30, 30, -36, 36, -38, 38, -18, 18, -20, 20, -22, 22};
  for (int bright = 0; bright < 2; bright++) {
    vigil_image f;
    hub_frame(&f, 800, 600, bright ? 255 : 0, bright ? 255 : 0, bright ? 255 : 0);
    pose_result pr;
    char err[256];
    assert_int_equal(yolopose_pose(&yolopose, &pr, &f, 100, 80, 420, 560, err, sizeof err), 0);
    float cx = bright ? 320 : 200, top = bright ? 120 : 150, h = bright ? 400 : 300;
    for (int k = 0; k < POSE_NKP; k++) {
      float ex = cx + dx[k], ey = top + ys[k] * h;
      unletterbox(&ex, &ey, 100, 80, 320, 480);
      assert_float_equal(pr.kp[k].x, ex, 1.0);
      assert_float_equal(pr.kp[k].y, ey, 1.0);
      assert_float_equal(pr.kp[k].score, 0.9, 1e-5);
    }
    assert_string_equal(pr.posture, "standing");
    vigil_image_free(&f);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(vitpose_preprocessing), cmocka_unit_test(vitpose_decode_planted),
      cmocka_unit_test(vitpose_on_real_photo), cmocka_unit_test(vitpose_bad_box),
      cmocka_unit_test(yolopose_preprocessing), cmocka_unit_test(yolopose_best_person),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
