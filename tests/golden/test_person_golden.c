/* The person path on real photos with the real default models: MoveNet pose
 * (messi5, basketball1, vtest pedestrians), BlazeFace faces and FaceRes
 * demographics on the sample portraits. Numbers printed here feed
 * docs/models.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/assets.h"
#include "vigil/detect.h"
#include "models/runner.h"
#include "vigil/person.h"
#include "vigil/video.h"

static detector_t *det;
static model_runner movenet, blazeface, faceres;

static int load_runner(model_runner *r, const char *rel) {
  char path[1024], err[512];
  if (vigil_asset_require(path, sizeof path, rel)) {
    fprintf(stderr, "%s\n", vigil_asset_errmsg());
    return -1;
  }
  if (runner_load(r, path, 1, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  return 0;
}

static int setup(void **s) {
  (void)s;
  char path[1024], err[512];
  if (vigil_asset_require(path, sizeof path, "models/human/centernet.json")) {
    fprintf(stderr, "%s\n", vigil_asset_errmsg());
    return -1;
  }
  detector_params p = detector_default_params();
  p.path = path;
  if (detector_load(&det, p, err, sizeof err)) return -1;
  if (load_runner(&movenet, "models/human/movenet-lightning.json")) return -1;
  if (load_runner(&blazeface, "models/human/blazeface.json")) return -1;
  if (load_runner(&faceres, "models/human/faceres.json")) return -1;
  return 0;
}

static int teardown(void **s) {
  (void)s;
  detector_free(det);
  runner_free(&movenet);
  runner_free(&blazeface);
  runner_free(&faceres);
  return 0;
}

static void load_image(const char *rel, vigil_image *img) {
  char path[1024], err[256];
  if (vigil_asset_require(path, sizeof path, rel)) fail_msg("%s", vigil_asset_errmsg());
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc((size_t)n);
  assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  vigil_img_limits lim = vigil_img_default_limits();
  assert_int_equal(vigil_img_decode(img, b, (size_t)n, &lim, err, sizeof err), 0);
  free(b);
}

static int people(const vigil_image *img, vigil_det *out, int max) {
  vigil_det_list l;
  char err[256];
  const vigil_image *imgs[1] = {img};
  if (detector_run(det, &l, imgs, 1, err, sizeof err)) fail_msg("%s", err);
  int n = 0;
  for (int i = 0; i < l.n && n < max; i++)
    if (!strcmp(l.dets[i].label, "person")) out[n++] = l.dets[i];
  vigil_det_list_free(&l);
  return n;
}

static int confident(const pose_result *r) {
  int n = 0;
  for (int i = 0; i < POSE_NKP; i++) n += r->kp[i].score > POSE_MIN_KP_SCORE;
  return n;
}

static void print_pose(const char *what, const pose_result *r) {
  fprintf(stderr, "%s: posture %s (%.2f), %d confident keypoints:", what, r->posture, r->posture_score, confident(r));
  for (int i = 0; i < POSE_NKP; i++) fprintf(stderr, " %.0f,%.0f/%.2f", r->kp[i].x, r->kp[i].y, r->kp[i].score);
  fprintf(stderr, "\n");
}

/* messi5: one player, at least 15 confident keypoints, anatomically ordered:
 * eyes above shoulders above hips above knees above ankles. */
static void test_messi(void **s) {
  (void)s;
  vigil_image img = {0};
  load_image("media/messi5.jpg", &img);
  vigil_det p[8];
  int n = people(&img, p, 8);
  assert_true(n >= 1);
  pose_result r;
  char err[256];
  assert_int_equal(movenet_pose(&movenet, &r, &img, p[0].x1, p[0].y1, p[0].x2, p[0].y2, err, sizeof err), 0);
  print_pose("messi5", &r);
  assert_true(confident(&r) >= 15);
  float eye = (r.kp[KP_LEFT_EYE].y + r.kp[KP_RIGHT_EYE].y) / 2;
  float sh = (r.kp[KP_LEFT_SHOULDER].y + r.kp[KP_RIGHT_SHOULDER].y) / 2;
  float hip = (r.kp[KP_LEFT_HIP].y + r.kp[KP_RIGHT_HIP].y) / 2;
  float knee = (r.kp[KP_LEFT_KNEE].y + r.kp[KP_RIGHT_KNEE].y) / 2;
  float ankle = (r.kp[KP_LEFT_ANKLE].y + r.kp[KP_RIGHT_ANKLE].y) / 2;
  assert_true(eye < sh && sh < hip && hip < knee && knee < ankle);
  for (int i = 0; i < POSE_NKP; i++) {
    assert_true(r.kp[i].x >= p[0].x1 - 0.1f * (p[0].x2 - p[0].x1) && r.kp[i].x <= p[0].x2 + 0.1f * (p[0].x2 - p[0].x1));
  }
  vigil_image_free(&img);
}

/* basketball1: two players, both get a skeleton inside their own box. */
static void test_basketball(void **s) {
  (void)s;
  vigil_image img = {0};
  load_image("media/basketball1.png", &img);
  vigil_det p[8];
  int n = people(&img, p, 8);
  fprintf(stderr, "basketball1: %d people\n", n);
  assert_true(n >= 2);
  for (int k = 0; k < 2; k++) {
    pose_result r;
    char err[256];
    assert_int_equal(movenet_pose(&movenet, &r, &img, p[k].x1, p[k].y1, p[k].x2, p[k].y2, err, sizeof err), 0);
    print_pose("basketball1 player", &r);
    assert_true(confident(&r) >= 10);
    int inside = 0;
    for (int i = 0; i < POSE_NKP; i++)
      inside += r.kp[i].score > POSE_MIN_KP_SCORE && r.kp[i].x >= p[k].x1 - 5 && r.kp[i].x <= p[k].x2 + 5 &&
                r.kp[i].y >= p[k].y1 - 5 && r.kp[i].y <= p[k].y2 + 5;
    assert_true(inside >= 10);
  }
  vigil_image_free(&img);
}

/* vtest: pedestrians large enough to see are standing or walking. */
static void test_vtest_posture(void **s) {
  (void)s;
  char path[1024], err[256];
  if (vigil_asset_require(path, sizeof path, "media/vtest.avi")) fail_msg("%s", vigil_asset_errmsg());
  video_params vp = video_default_params();
  vp.fps = 0.2;
  video_reader *v;
  assert_int_equal(video_open(&v, path, vp, err, sizeof err), 0);
  vigil_image img = {0};
  double t;
  int checked = 0, upright = 0, frames = 0;
  while (video_next(v, &img, &t, err, sizeof err) == 1 && frames++ < 3) {
    vigil_det p[16];
    int n = people(&img, p, 16);
    for (int i = 0; i < n; i++) {
      if (p[i].y2 - p[i].y1 < 80) continue; /* too small for 17 keypoints */
      pose_result r;
      assert_int_equal(movenet_pose(&movenet, &r, &img, p[i].x1, p[i].y1, p[i].x2, p[i].y2, err, sizeof err), 0);
      fprintf(stderr, "vtest t=%.0f person %d (h=%.0f): %s\n", t, i, p[i].y2 - p[i].y1, r.posture);
      checked++;
      upright += !strcmp(r.posture, "standing") || !strcmp(r.posture, "walking");
    }
  }
  fprintf(stderr, "vtest: %d of %d pedestrians standing or walking\n", upright, checked);
  assert_true(checked >= 4);
  assert_true(upright * 10 >= checked * 8); /* at least 80% */
  vigil_image_free(&img);
  video_close(v);
}

typedef struct {
  const char *file;
  const char *gender;
} face_case;

/* Portraits with a known answer. The default models are weak (docs/models.md):
 * the test requires the face to be found in every portrait and reports the
 * demographics; gender must be right on a majority. */
static void test_faces(void **s) {
  (void)s;
  const face_case cases[] = {
      {"media/grace_hopper.jpg", "female"}, {"media/astronaut.png", "female"}, {"media/messi5.jpg", "male"}};
  int right = 0;
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    vigil_image img = {0};
    load_image(cases[c].file, &img);
    face_box faces[8];
    int nf;
    char err[256];
    assert_int_equal(blazeface_detect(&blazeface, faces, 8, &nf, &img, 0, 0, 0, 0, 0.5f, err, sizeof err), 0);
    fprintf(stderr, "%s: %d faces", cases[c].file, nf);
    if (nf) fprintf(stderr, " best %.2f [%.0f %.0f %.0f %.0f]", faces[0].score, faces[0].x1, faces[0].y1, faces[0].x2, faces[0].y2);
    assert_true(nf >= 1);
    demographics_result d;
    assert_int_equal(faceres_demographics(&faceres, &d, &img, &faces[0], err, sizeof err), 0);
    fprintf(stderr, " -> age %.1f (%s, %.2f) gender %s (%.2f)\n", d.age, d.age_range, d.age_confidence, d.gender,
            d.gender_confidence);
    assert_true(d.age > 0 && d.age < 100);
    right += !strcmp(d.gender, cases[c].gender);
    vigil_image_free(&img);
  }
  fprintf(stderr, "faceres gender right on %d of 3 portraits\n", right);
  assert_true(right >= 2);
}

int main(void) {
  const struct CMUnitTest t[] = {
      cmocka_unit_test(test_messi), cmocka_unit_test(test_basketball), cmocka_unit_test(test_vtest_posture),
      cmocka_unit_test(test_faces),
  };
  return cmocka_run_group_tests(t, setup, teardown);
}
