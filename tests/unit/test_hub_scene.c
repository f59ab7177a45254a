/* Violence detection and SegFormer clothes on generated models with the real exports'
 * inputs and outputs (tools/testmodels/gen_hub_models.py violence segformer): the
 * class order from id2label, the 224 / mean-std 0.5 and 512 / ImageNet preprocessing,
 * the label map merged into items with areas, colours and extents, and wrong exports
 * refused at the check. */
#include "test_hub_common.h"
#include "vigil/scene_models.h"

static model_runner vio, seg, wrong;

static int setup(void **s) {
  (void)s;
  if (hub_generate("violence segformer weather")) return -1;
  char err[512];
  if (runner_load(&vio, hub_path("violence.onnx"), 1, err, sizeof err) ||
      runner_load(&seg, hub_path("segformer.onnx"), 1, err, sizeof err) ||
      runner_load(&wrong, hub_path("weather.onnx"), 1, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  return 0;
}

static int teardown(void **s) {
  (void)s;
  runner_free(&vio);
  runner_free(&seg);
  runner_free(&wrong);
  hub_capture_free();
  hub_cleanup();
  return 0;
}

static void violence_by_region(void **s) {
  (void)s;
  char err[256];
  assert_int_equal(violence_check(&vio, err, sizeof err), 0);
  vigil_image im;
  hub_frame(&im, 400, 200, 0, 0, 255);  /* blue frame ... */
  hub_fill(&im, 200, 0, 400, 200, 255, 0, 0); /* ... red right half */
  violence_result r;
  assert_int_equal(violence_classify(&vio, &r, &im, 200, 0, 400, 200, err, sizeof err), 0);
  assert_true(r.violent);
  assert_string_equal(r.label, "violence");
  /* logit gap 6 (R - B) with R = (1 - .5)/.5 = 1, B = -1: p = sigmoid(12) */
  assert_float_equal(r.violence, 1.0f / (1.0f + expf(-12.0f)), 1e-4);
  assert_int_equal(violence_classify(&vio, &r, &im, 0, 0, 200, 200, err, sizeof err), 0);
  assert_false(r.violent);
  assert_string_equal(r.label, "non-violence");
  assert_true(r.violence < 1e-4f);
  /* an empty region is the whole frame: half and half, 0.5 exactly up to rounding */
  hub_capture_start();
  assert_int_equal(violence_classify(&vio, &r, &im, 0, 0, 0, 0, err, sizeof err), 0);
  hub_capture_stop();
  assert_float_equal(r.violence, 0.5f, 0.02f);
  /* the input: 224 x 224, (x/255 - 0.5) / 0.5 */
  assert_int_equal(hub_cap.calls, 1);
  const vrt_tensor *t = &hub_cap.t[0];
  assert_int_equal(t->dims[2], 224);
  assert_int_equal(t->dims[3], 224);
  assert_float_equal(hub_at(t, 0, 100, 10), hub_norm(0, 0.5f, 0.5f), 1e-4);
  assert_float_equal(hub_at(t, 0, 100, 200), hub_norm(255, 0.5f, 0.5f), 1e-4);
  hub_capture_free();
  vigil_image_free(&im);
  /* an export without a violence class in id2label is refused by the check */
  assert_int_equal(violence_check(&wrong, err, sizeof err), -1);
  assert_non_null(strstr(err, "id2label"));
}

static void segformer_items(void **s) {
  (void)s;
  char err[256];
  assert_int_equal(segformer_check(&seg, err, sizeof err), 0);
  assert_int_equal(segformer_check(&vio, err, sizeof err), -1);
  /* a person box at (100,50)-(300,450): red top half, blue bottom half, a green hat
   * band on top; grey around */
  vigil_image im;
  hub_frame(&im, 400, 500, 128, 128, 128);
  hub_fill(&im, 100, 50, 300, 250, 255, 0, 0);
  hub_fill(&im, 100, 250, 300, 450, 0, 0, 255);
  hub_fill(&im, 100, 50, 300, 70, 0, 255, 0);
  segformer_result r;
  hub_capture_start();
  assert_int_equal(segformer_clothes(&seg, &r, &im, 100, 50, 300, 450, err, sizeof err), 0);
  hub_capture_stop();
  assert_int_equal(r.mask_w, 128);
  assert_int_equal(r.mask_h, 128);
  assert_int_equal(r.n, 3);
  assert_string_equal(r.items[0].item, "pants");
  assert_string_equal(r.items[0].color, "blue");
  assert_float_equal(r.items[0].area, 0.5f, 0.02f);
  assert_float_equal(r.items[0].y1, 250, 4);
  assert_float_equal(r.items[0].y2, 450, 4);
  assert_float_equal(r.items[0].x1, 100, 2);
  assert_string_equal(r.items[1].item, "upper_clothes");
  assert_string_equal(r.items[1].color, "red");
  assert_float_equal(r.items[1].area, 0.45f, 0.02f);
  assert_string_equal(r.items[2].item, "hat");
  assert_string_equal(r.items[2].color, "green");
  assert_float_equal(r.items[2].area, 0.05f, 0.01f);
  assert_int_equal(r.mask[0], 1);                  /* hat */
  assert_int_equal(r.mask[127 * 128 + 5], 6);      /* pants */
  /* the input: 512 x 512, ImageNet-normalised */
  const vrt_tensor *t = &hub_cap.t[0];
  assert_int_equal(t->dims[2], 512);
  assert_float_equal(hub_at(t, 0, 200, 100), hub_norm(255, 0.485f, 0.229f), 1e-3);
  assert_float_equal(hub_at(t, 2, 400, 100), hub_norm(255, 0.406f, 0.225f), 1e-3);
  hub_capture_free();
  segformer_result_free(&r);
  segformer_result_free(&r); /* twice is fine */
  /* a box outside the frame */
  assert_int_equal(segformer_clothes(&seg, &r, &im, 500, 600, 700, 900, err, sizeof err), -1);
  assert_null(r.mask);
  vigil_image_free(&im);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(violence_by_region), cmocka_unit_test(segformer_items)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
