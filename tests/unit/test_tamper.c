/* Camera tampering on the real surveillance video (vtest.avi, a fixed outdoor camera,
 * sampled at 2 frames/s and replayed on a longer timeline): covering, defocusing,
 * blinding and turning the camera each raise exactly one incident of the right kind,
 * a few seconds after they start; nightfall (gradual darkening), rain (noise growing
 * gradually), lights switching on and off, and people walking raise none. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/assets.h"
#include "vigil/tamper.h"
#include "vigil/video.h"

#define MAXF 160
static vigil_image frames[MAXF];
static int nframes;

static int setup(void **s) {
  (void)s;
  char path[1024], err[256];
  if (vigil_asset_require(path, sizeof path, "media/vtest.avi")) {
    fprintf(stderr, "%s\n", vigil_asset_errmsg());
    return -1;
  }
  video_params vp = video_default_params();
  vp.fps = 2;
  video_reader *v;
  if (video_open(&v, path, vp, err, sizeof err)) return -1;
  vigil_image im = {0};
  double pts;
  while (nframes < MAXF && video_next(v, &im, &pts, err, sizeof err) == 1) {
    if (vigil_img_resize(&frames[nframes], &im, im.w / 2, im.h / 2, VIGIL_RESIZE_AREA)) break;
    nframes++;
  }
  vigil_image_free(&im);
  video_close(v);
  return nframes >= 100 ? 0 : -1;
}

static int teardown(void **s) {
  (void)s;
  for (int i = 0; i < nframes; i++) vigil_image_free(&frames[i]);
  return 0;
}

typedef enum { FX_NONE, FX_GAIN, FX_NOISE, FX_COVER, FX_BLUR, FX_BLIND, FX_TURN } effect;

static unsigned rng = 12345;
static double urand(void) {
  rng = rng * 1664525u + 1013904223u;
  return (rng >> 8) / 16777216.0;
}
static double nrand(void) { return urand() + urand() + urand() + urand() - 2.0; } /* ~N(0, 1/3) */

static uint8_t clamp8(double v) { return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)lrint(v); }

static void box_blur(vigil_image *im, int r) {
  size_t n = (size_t)im->h * im->stride;
  uint8_t *tmp = malloc(n);
  for (int pass = 0; pass < 2; pass++) {
    memcpy(tmp, im->data, n);
    for (int y = 0; y < im->h; y++)
      for (int x = 0; x < im->w; x++)
        for (int c = 0; c < im->c; c++) {
          int a = 0, k = 0;
          for (int d = -r; d <= r; d++) {
            int xx = pass ? x : x + d, yy = pass ? y + d : y;
            if (xx < 0 || yy < 0 || xx >= im->w || yy >= im->h) continue;
            a += tmp[(size_t)yy * im->stride + (size_t)xx * im->c + c];
            k++;
          }
          im->data[(size_t)y * im->stride + (size_t)x * im->c + c] = (uint8_t)(a / k);
        }
  }
  free(tmp);
}

/* frame i of the timeline with an effect of strength a */
static void make(vigil_image *out, int i, effect fx, double a) {
  const vigil_image *src = &frames[i % nframes];
  if (fx == FX_TURN) src = &frames[(i + nframes / 2) % nframes];
  vigil_image_free(out);
  assert_int_equal(vigil_image_init(out, src->w, src->h, 3), 0);
  for (int y = 0; y < src->h; y++) {
    const uint8_t *r = src->data + (size_t)y * src->stride;
    uint8_t *o = out->data + (size_t)y * out->stride;
    for (int x = 0; x < src->w * 3; x++) {
      double v = r[x];
      switch (fx) {
      case FX_GAIN: v *= a; break;
      case FX_NOISE: v += a * 1.732 * nrand(); break;
      case FX_COVER: v = 22 + 1.5 * nrand(); break;
      case FX_BLIND: v = 238 + v * 0.2; break;
      case FX_TURN: v = src->data[(size_t)(src->h - 1 - y) * src->stride + (size_t)(src->w - 1 - x / 3) * 3 + x % 3]; break;
      default: break;
      }
      o[x] = clamp8(v);
    }
  }
  if (fx == FX_BLUR) box_blur(out, (int)a);
}

typedef struct {
  int n;
  tamper_kind kind[8];
  double at[8];
} incidents;

/* Runs `seconds` of timeline at 2 frames/s; fx(t) gives the effect. */
typedef void (*script)(double t, effect *fx, double *a);

static incidents run(script sc, double seconds) {
  tamper_state *st;
  assert_int_equal(tamper_init(&st, tamper_default_params()), 0);
  incidents inc = {0};
  vigil_image im = {0};
  double min_corr = 1, min_sharp = 1e9, max_sat = 0;
  for (int i = 0; i * 0.5 < seconds; i++) {
    double t = i * 0.5, a = 1;
    effect fx = FX_NONE;
    sc(t, &fx, &a);
    make(&im, i, fx, a);
    tamper_verdict v;
    assert_int_equal(tamper_update(st, &v, &im, t), 0);
    if (v.started && inc.n < 8) inc.kind[inc.n] = v.started, inc.at[inc.n++] = t;
    if (v.warm && !v.ongoing) {
      min_corr = fmin(min_corr, v.scene_corr);
      min_sharp = fmin(min_sharp, v.sharpness_ratio);
      max_sat = fmax(max_sat, v.saturated);
    }
  }
  /* the margins outside incidents, for whoever tunes the thresholds */
  printf("  %d incident(s); outside them: min scene corr %.2f, min sharpness ratio %.2f, max saturated %.2f\n",
         inc.n, min_corr, min_sharp, max_sat);
  vigil_image_free(&im);
  tamper_free(st);
  return inc;
}

static void none(double t, effect *fx, double *a) { (void)t, (void)fx, (void)a; }
static void nightfall(double t, effect *fx, double *a) { /* to 10% over 5 minutes, then night */
  *fx = FX_GAIN;
  *a = t < 300 ? 1 - 0.9 * t / 300 : 0.1;
}
static void rain(double t, effect *fx, double *a) { /* noise sigma 0 -> 25 over 2 minutes */
  *fx = FX_NOISE;
  *a = t < 120 ? 25 * t / 120 : 25;
}
static void lights(double t, effect *fx, double *a) {
  *fx = FX_GAIN;
  *a = t < 40 ? 1 : t < 80 ? 0.45 : t < 120 ? 1.6 : 1;
}
static void cover(double t, effect *fx, double *a) { (void)a, *fx = t >= 30 && t < 90 ? FX_COVER : FX_NONE; }
static void cover_twice(double t, effect *fx, double *a) {
  (void)a, *fx = (t >= 30 && t < 50) || (t >= 120 && t < 140) ? FX_COVER : FX_NONE;
}
static void defocus(double t, effect *fx, double *a) { *fx = t >= 30 ? FX_BLUR : FX_NONE, *a = 6; }
static void blind(double t, effect *fx, double *a) { (void)a, *fx = t >= 30 && t < 70 ? FX_BLIND : FX_NONE; }
static void turn(double t, effect *fx, double *a) { (void)a, *fx = t >= 30 ? FX_TURN : FX_NONE; }

static void expect_none(incidents inc, const char *what) {
  if (inc.n) fail_msg("%s raised %s at t=%.1f", what, tamper_kind_name(inc.kind[0]), inc.at[0]);
}

static void expect_one(incidents inc, tamper_kind k, double from) {
  if (inc.n != 1) fail_msg("%d incidents, wanted one %s", inc.n, tamper_kind_name(k));
  if (inc.kind[0] != k) fail_msg("raised %s, wanted %s", tamper_kind_name(inc.kind[0]), tamper_kind_name(k));
  /* held for sustain_s (5 s) before it is raised, and not much later */
  assert_true(inc.at[0] >= from + 5 && inc.at[0] <= from + 7);
}

static void test_quiet_scenes_raise_nothing(void **s) {
  (void)s;
  expect_none(run(none, 80), "people walking");
  expect_none(run(nightfall, 400), "nightfall");
  expect_none(run(rain, 180), "rain");
  expect_none(run(lights, 160), "lights on and off");
}

static void test_each_tampering_once(void **s) {
  (void)s;
  expect_one(run(cover, 150), TAMPER_COVERED, 30);
  expect_one(run(defocus, 90), TAMPER_DEFOCUSED, 30);
  expect_one(run(blind, 110), TAMPER_BLINDED, 30);
  expect_one(run(turn, 120), TAMPER_MOVED, 30);
}

static void test_second_incident_after_rearm(void **s) {
  (void)s;
  incidents inc = run(cover_twice, 180);
  assert_int_equal(inc.n, 2);
  assert_int_equal(inc.kind[0], TAMPER_COVERED);
  assert_int_equal(inc.kind[1], TAMPER_COVERED);
  assert_true(inc.at[1] >= 125 && inc.at[1] <= 127);
}

static void test_bad_frames(void **s) {
  (void)s;
  tamper_state *st;
  assert_int_equal(tamper_init(&st, tamper_default_params()), 0);
  tamper_verdict v;
  vigil_image tiny = {0};
  assert_int_equal(vigil_image_init(&tiny, 4, 4, 3), 0);
  assert_int_equal(tamper_update(st, &v, &tiny, 0), VIGIL_IMG_EINVAL);
  assert_int_equal(tamper_update(st, &v, NULL, 0), VIGIL_IMG_EINVAL);
  vigil_image_free(&tiny);
  tamper_free(st);
  tamper_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_quiet_scenes_raise_nothing),
      cmocka_unit_test(test_each_tampering_once),
      cmocka_unit_test(test_second_incident_after_rearm),
      cmocka_unit_test(test_bad_frames),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
