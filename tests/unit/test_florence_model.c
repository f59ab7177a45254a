/* Florence-2's whole run on the generated stand-in (tools/testmodels/gen_florence_models.py):
 * image -> vision encoder -> prompt embedding -> encoder -> decoder with a key/value
 * cache under greedy and beam search -> decoded answer -> boxes. The stand-in only gets
 * the colour right and the box bins right if the encoder output and the decoder history
 * reach every step through the cache, reordered with the beams. Also: an answer cut at
 * max_new_tokens, and a folder with a graph missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/florence.h"

static char dir[256], model_dir[300];
static florence_model *fm;

static int setup(void **s) {
  (void)s;
  snprintf(dir, sizeof dir, "/tmp/vigil-florence-XXXXXX");
  if (!mkdtemp(dir)) return -1;
  const char *src = getenv("VIGIL_SOURCE_DIR");
  char cmd[1024], err[512];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tools/testmodels/gen_florence_models.py %s", src ? src : ".", dir);
  if (system(cmd)) return -1;
  snprintf(model_dir, sizeof model_dir, "%s/florence", dir);
  if (florence_load(&fm, model_dir, 1, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  return 0;
}

static int teardown(void **s) {
  (void)s;
  florence_free(fm);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd) ? -1 : 0;
}

static void solid(vigil_image *im, int w, int h, uint8_t r, uint8_t g, uint8_t b) {
  assert_int_equal(vigil_image_init(im, w, h, 3), 0);
  for (int i = 0; i < w * h; i++) im->data[3 * i] = r, im->data[3 * i + 1] = g, im->data[3 * i + 2] = b;
}

static void near(float a, float b) {
  if (fabsf(a - b) > 1e-2f) fail_msg("%g != %g", a, b);
}

static void test_caption_follows_the_image(void **s) {
  (void)s;
  vigil_image red, blue;
  solid(&red, 200, 100, 220, 30, 30);
  solid(&blue, 200, 100, 30, 30, 220);
  char err[512];
  for (int beams = 1; beams <= 3; beams += 2) {
    florence_params p = florence_default_params();
    p.num_beams = beams;
    florence_result r;
    if (florence_run(fm, &r, FLORENCE_CAPTION, &red, p, err, sizeof err)) fail_msg("%s", err);
    assert_string_equal(r.text, "a red car");
    assert_false(r.truncated);
    florence_result_free(&r);
    if (florence_run(fm, &r, FLORENCE_CAPTION, &blue, p, err, sizeof err)) fail_msg("%s", err);
    assert_string_equal(r.text, "a blue car");
    florence_result_free(&r);
  }
  vigil_image_free(&red);
  vigil_image_free(&blue);
}

static void test_od_boxes_in_pixels(void **s) {
  (void)s;
  vigil_image red, blue;
  solid(&red, 1000, 500, 220, 30, 30);
  solid(&blue, 1000, 500, 30, 30, 220);
  char err[512];
  florence_result r;
  assert_int_equal(florence_run(fm, &r, FLORENCE_OD, &red, florence_default_params(), err, sizeof err), 0);
  assert_int_equal(r.n_boxes, 1);
  assert_string_equal(r.boxes[0].label, "a red car");
  near(r.boxes[0].x1, 100.5f), near(r.boxes[0].y1, 100.25f), near(r.boxes[0].x2, 600.5f), near(r.boxes[0].y2, 350.25f);
  florence_result_free(&r);
  assert_int_equal(florence_run(fm, &r, FLORENCE_OD, &blue, florence_default_params(), err, sizeof err), 0);
  assert_int_equal(r.n_boxes, 1);
  assert_string_equal(r.boxes[0].label, "a blue car");
  near(r.boxes[0].x1, 300.5f), near(r.boxes[0].y1, 200.25f);
  florence_result_free(&r);
  vigil_image_free(&red);
  vigil_image_free(&blue);
}

static void test_cut_at_max_tokens(void **s) {
  (void)s;
  vigil_image red;
  solid(&red, 64, 64, 220, 30, 30);
  florence_params p = florence_default_params();
  p.max_new_tokens = 3; /* <s> a Ġred */
  florence_result r;
  char err[512];
  assert_int_equal(florence_run(fm, &r, FLORENCE_CAPTION, &red, p, err, sizeof err), 0);
  assert_true(r.truncated);
  assert_int_equal(r.n_tokens, 3);
  assert_string_equal(r.text, "a red");
  florence_result_free(&r);
  p.num_beams = 99;
  assert_int_not_equal(florence_run(fm, &r, FLORENCE_CAPTION, &red, p, err, sizeof err), 0);
  vigil_image_free(&red);
}

static void test_missing_graph(void **s) {
  (void)s;
  char cmd[1024], err[512];
  snprintf(cmd, sizeof cmd, "cp -r %s %s/broken && rm %s/broken/decoder_with_past_model.onnx", model_dir, dir, dir);
  assert_int_equal(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "%s/broken", dir);
  florence_model *m = NULL;
  assert_int_not_equal(florence_load(&m, cmd, 1, err, sizeof err), 0);
  assert_null(m);
  assert_non_null(strstr(err, "decoder_with_past_model.onnx"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_caption_follows_the_image),
      cmocka_unit_test(test_od_boxes_in_pixels),
      cmocka_unit_test(test_cut_at_max_tokens),
      cmocka_unit_test(test_missing_graph),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
