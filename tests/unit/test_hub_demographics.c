/* ViT age and gender adapters, and the yolo11-face / threat YOLOv8n exports
 * through the detector, on generated models with the real exports' inputs
 * and outputs: preprocessing (224, mean/std 0.5), expected age over the 9
 * bins mapped to model-zoo.md's brackets, gender unknown below 0.5, names
 * from the Ultralytics metadata, boxes back in frame pixels. */
#include "test_hub_common.h"
#include "vigil/detect.h"

static model_runner age, gender;

static int setup(void **s) {
  (void)s;
  if (hub_generate("vitage vitgender yoloface threat")) return -1;
  char err[512];
  if (runner_load(&age, hub_path("vit-age-classifier.onnx"), 1, err, sizeof err) ||
      runner_load(&gender, hub_path("vit-gender-classifier.onnx"), 1, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  return 0;
}

static int teardown(void **s) {
  (void)s;
  runner_free(&age);
  runner_free(&gender);
  hub_capture_free();
  hub_cleanup();
  return 0;
}

/* What the generated age model predicts for a mean normalised input m
 * (gen_hub_models.py: logit_k = 8 (2 c_k m - c_k^2), c_k = -1 + k/4), as the
 * expected age over the model card's bins. */
static float expected_age(float m) {
  static const float mid[9] = {1.5f, 6.5f, 15, 25, 35, 45, 55, 65, 80};
  float l[9], mx = -1e30f, sum = 0, a = 0;
  for (int k = 0; k < 9; k++) {
    float c = -1 + (float)k / 4;
    l[k] = 8 * (2 * c * m - c * c);
    mx = fmaxf(mx, l[k]);
  }
  for (int k = 0; k < 9; k++) sum += l[k] = expf(l[k] - mx);
  for (int k = 0; k < 9; k++) a += l[k] / sum * mid[k];
  return a;
}

static float capture_mean(int c) {
  const vrt_tensor *t = &hub_cap.t[0];
  size_t plane = (size_t)t->dims[2] * (size_t)t->dims[3];
  double s = 0;
  for (size_t i = 0; i < plane; i++) s += ((const float *)t->data)[(size_t)c * plane + i];
  return (float)(s / (double)plane);
}

static void vit_preprocessing(void **s) {
  (void)s;
  vigil_image f;
  hub_frame(&f, 400, 300, 40, 40, 40);
  hub_fill(&f, 140, 80, 240, 200, 255, 0, 128);
  face_box face = {.x1 = 150, .y1 = 100, .x2 = 230, .y2 = 180, .score = 0.9f};
  demographics_result d = {0};
  char err[256];
  hub_capture_start();
  assert_int_equal(vit_age(&age, &d, &f, &face, err, sizeof err), 0);
  hub_capture_stop();
  const vrt_tensor *t = &hub_cap.t[0];
  assert_string_equal(t->name, "pixel_values");
  assert_int_equal(t->dims[1], 3);
  assert_int_equal(t->dims[2], 224);
  assert_int_equal(t->dims[3], 224);
  /* the 80 px face grown by 1.3 to a 104 px square (138..242, 88..192): the
   * centre is the face, RGB order, (x/255 - 0.5) / 0.5 */
  assert_float_equal(hub_at(t, 0, 112, 112), 1.0f, 1e-4);
  assert_float_equal(hub_at(t, 1, 112, 112), -1.0f, 1e-4);
  assert_float_equal(hub_at(t, 2, 112, 112), hub_norm(128, 0.5f, 0.5f), 1e-4);
  /* the first two columns are the background left of x = 140 */
  assert_float_equal(hub_at(t, 0, 112, 0), hub_norm(40, 0.5f, 0.5f), 1e-3);
  vigil_image_free(&f);
}

static void vit_age_bins_and_brackets(void **s) {
  (void)s;
  static const struct {
    int v;
    const char *bracket;
  } cases[] = {{5, "0-12"}, {128, NULL}, {250, "65+"}};
  float prev = -1;
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    vigil_image f;
    hub_frame(&f, 200, 200, (uint8_t)cases[i].v, (uint8_t)cases[i].v, (uint8_t)cases[i].v);
    face_box face = {.x1 = 60, .y1 = 60, .x2 = 140, .y2 = 140};
    demographics_result d = {0};
    char err[256];
    assert_int_equal(vit_age(&age, &d, &f, &face, err, sizeof err), 0);
    float want = expected_age(hub_norm(cases[i].v, 0.5f, 0.5f));
    assert_float_equal(d.age, want, 0.01);
    assert_string_equal(d.age_range, age_bracket(want));
    if (cases[i].bracket) assert_string_equal(d.age_range, cases[i].bracket);
    assert_true(d.age > prev);
    prev = d.age;
    assert_true(d.age_confidence > 0 && d.age_confidence <= 1);
    assert_string_equal(d.model, "vit-age-classifier");
    vigil_image_free(&f);
  }
}

/* Bin mass spread over the bracket: for mid-grey the expected age is 35
 * (the 30-39 bin dominates), bracket 25-35 keeps about 60% of that bin. */
static void vit_age_confidence_is_bracket_mass(void **s) {
  (void)s;
  vigil_image f;
  hub_frame(&f, 200, 200, 134, 134, 134);
  face_box face = {.x1 = 60, .y1 = 60, .x2 = 140, .y2 = 140};
  demographics_result d = {0};
  char err[256];
  assert_int_equal(vit_age(&age, &d, &f, &face, err, sizeof err), 0);
  float m = hub_norm(134, 0.5f, 0.5f), l[9], mx = -1e30f, sum = 0;
  for (int k = 0; k < 9; k++) {
    float c = -1 + (float)k / 4;
    l[k] = 8 * (2 * c * m - c * c);
    mx = fmaxf(mx, l[k]);
  }
  for (int k = 0; k < 9; k++) sum += l[k] = expf(l[k] - mx);
  static const float lo[9] = {0, 3, 10, 20, 30, 40, 50, 60, 70}, hi[9] = {3, 10, 20, 30, 40, 50, 60, 70, 90};
  static const float edges[8] = {0, 13, 18, 25, 36, 51, 66, 1000};
  float blo = 0, bhi = 0;
  for (int b = 0; b < 7; b++)
    if (d.age >= edges[b] && d.age < edges[b + 1]) blo = edges[b], bhi = edges[b + 1];
  float mass = 0;
  for (int k = 0; k < 9; k++) {
    float ov = fminf(bhi, hi[k]) - fmaxf(blo, lo[k]);
    if (ov > 0) mass += l[k] / sum * ov / (hi[k] - lo[k]);
  }
  assert_float_equal(d.age_confidence, mass, 1e-4);
  vigil_image_free(&f);
}

static void vit_gender_unknown_below_half(void **s) {
  (void)s;
  static const struct {
    uint8_t r, b;
    const char *want;
  } cases[] = {{230, 30, "male"}, {30, 230, "female"}, {128, 120, "unknown"}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    vigil_image f;
    hub_frame(&f, 200, 200, cases[i].r, 100, cases[i].b);
    face_box face = {.x1 = 50, .y1 = 50, .x2 = 150, .y2 = 150};
    demographics_result d = {0};
    char err[256];
    assert_int_equal(vit_gender(&gender, &d, &f, &face, err, sizeof err), 0);
    assert_string_equal(d.gender, cases[i].want);
    /* male - female logit = 6 (mean R - mean B), confidence = |2 p - 1| */
    float diff = 6 * (hub_norm(cases[i].r, 0.5f, 0.5f) - hub_norm(cases[i].b, 0.5f, 0.5f));
    float pm = 1 / (1 + expf(-diff));
    assert_float_equal(d.gender_confidence, fabsf(2 * pm - 1), 1e-4);
    if (!strcmp(cases[i].want, "unknown")) assert_true(d.gender_confidence < 0.5f);
    else assert_true(d.gender_confidence >= 0.5f);
    assert_string_equal(d.model, "vit-gender-classifier");
    vigil_image_free(&f);
  }
}

/* On a real portrait, with the real BlazeFace finding the face: the age and
 * gender follow from the tensor the adapter actually built. */
static void vit_on_real_face(void **s) {
  (void)s;
  char path[1024], err[512];
  if (vigil_asset_require(path, sizeof path, "models/human/blazeface.json")) fail_msg("%s", vigil_asset_errmsg());
  model_runner bf;
  assert_int_equal(runner_load(&bf, path, 1, err, sizeof err), 0);
  vigil_image f = {0};
  hub_media(&f, "media/grace_hopper.jpg");
  face_box faces[4];
  int n = 0;
  assert_int_equal(blazeface_detect(&bf, faces, 4, &n, &f, 0, 0, 0, 0, 0.5f, err, sizeof err), 0);
  assert_true(n >= 1);
  demographics_result d = {0};
  hub_capture_start();
  assert_int_equal(vit_age(&age, &d, &f, &faces[0], err, sizeof err), 0);
  float m = (capture_mean(0) + capture_mean(1) + capture_mean(2)) / 3;
  assert_float_equal(d.age, expected_age(m), 0.01);
  assert_int_equal(vit_gender(&gender, &d, &f, &faces[0], err, sizeof err), 0);
  hub_capture_stop();
  float diff = 6 * (capture_mean(0) - capture_mean(2)), pm = 1 / (1 + expf(-diff));
  assert_float_equal(d.gender_confidence, fabsf(2 * pm - 1), 1e-3);
  assert_string_equal(d.gender, fabsf(2 * pm - 1) < 0.5f ? "unknown" : pm > 0.5f ? "male" : "female");
  runner_free(&bf);
  vigil_image_free(&f);
}

static void vit_bad_face(void **s) {
  (void)s;
  vigil_image f;
  hub_frame(&f, 100, 100, 0, 0, 0);
  face_box face = {.x1 = 300, .y1 = 300, .x2 = 340, .y2 = 340};
  demographics_result d = {0};
  char err[256] = "";
  assert_int_not_equal(vit_age(&age, &d, &f, &face, err, sizeof err), 0);
  assert_true(err[0] != 0);
  face_box empty = {.x1 = 10, .y1 = 10, .x2 = 10, .y2 = 10};
  assert_int_not_equal(vit_gender(&gender, &d, &f, &empty, err, sizeof err), 0);
  vigil_image_free(&f);
}

static detector_t *load_det(const char *name) {
  detector_params p = detector_default_params();
  p.path = hub_path(name);
  p.security_only = false;
  p.conf = 0.5f;
  detector_t *d = NULL;
  char err[512];
  if (detector_load(&d, p, err, sizeof err)) fail_msg("%s", err);
  assert_int_equal(detector_family(d), DET_FAMILY_YOLO);
  return d;
}

/* yolo11-face: one class named by the metadata; the face box comes back
 * through the letterbox; it scores 0.3 + 0.6 * mean, so a dark frame has none. */
static void yolo11_face_through_detector(void **s) {
  (void)s;
  detector_t *d = load_det("yolo11-face.onnx");
  vigil_image f;
  hub_frame(&f, 1280, 720, 255, 255, 255);
  const vigil_image *imgs[1] = {&f};
  vigil_det_list l;
  char err[256];
  assert_int_equal(detector_run(d, &l, imgs, 1, err, sizeof err), 0);
  assert_int_equal(l.n, 1);
  assert_string_equal(l.dets[0].label, "face");
  /* 1280x720 -> 640x360, pad_y 140: (260,150)-(340,250) -> x*2, (y-140)*2 */
  assert_float_equal(l.dets[0].x1, 520, 1.5);
  assert_float_equal(l.dets[0].y1, 20, 1.5);
  assert_float_equal(l.dets[0].x2, 680, 1.5);
  assert_float_equal(l.dets[0].y2, 220, 1.5);
  vigil_det_list_free(&l);
  hub_fill(&f, 0, 0, 1280, 720, 0, 0, 0);
  assert_int_equal(detector_run(d, &l, imgs, 1, err, sizeof err), 0);
  assert_int_equal(l.n, 0);
  vigil_det_list_free(&l);
  vigil_image_free(&f);
  detector_free(d);
}

/* Threat YOLOv8n: class names from the Ultralytics metadata, the duplicate
 * knife removed by NMS, best first. */
static void threat_through_detector(void **s) {
  (void)s;
  detector_t *d = load_det("threat-yolov8n.onnx");
  vigil_image f = {0};
  hub_media(&f, "media/person.jpg");
  vigil_image sq = {0};
  assert_int_equal(vigil_img_resize(&sq, &f, 640, 640, VIGIL_RESIZE_BILINEAR), 0);
  const vigil_image *imgs[1] = {&sq};
  vigil_det_list l;
  char err[256];
  assert_int_equal(detector_run(d, &l, imgs, 1, err, sizeof err), 0);
  assert_int_equal(l.n, 2);
  assert_string_equal(l.dets[0].label, "knife");
  assert_float_equal(l.dets[0].score, 0.8, 1e-4);
  assert_float_equal(l.dets[0].x1, 370, 0.5);
  assert_float_equal(l.dets[0].y2, 360, 0.5);
  assert_string_equal(l.dets[1].label, "gun");
  assert_float_equal(l.dets[1].x1, 105, 0.5);
  assert_float_equal(l.dets[1].y1, 395, 0.5);
  vigil_det_list_free(&l);
  vigil_image_free(&sq);
  vigil_image_free(&f);
  detector_free(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(vit_preprocessing),          cmocka_unit_test(vit_age_bins_and_brackets),
      cmocka_unit_test(vit_age_confidence_is_bracket_mass), cmocka_unit_test(vit_gender_unknown_below_half),
      cmocka_unit_test(vit_on_real_face),           cmocka_unit_test(vit_bad_face),
      cmocka_unit_test(yolo11_face_through_detector), cmocka_unit_test(threat_through_detector),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
