/* The image toolkit against plain, obviously-correct reference code written
 * here in double precision, on synthetic images and on a real photo. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/assets.h"
#include "vigil/img.h"

static vigil_image random_image(int w, int h, int c, uint32_t seed) {
  vigil_image im;
  assert_int_equal(vigil_image_init(&im, w, h, c), 0);
  for (size_t i = 0; i < (size_t)h * im.stride; i++) {
    seed = seed * 1664525u + 1013904223u;
    /* smooth-ish content plus noise, so interpolation errors show */
    int x = (int)(i / c) % w, y = (int)(i / c) / w;
    im.data[i] = (uint8_t)((x * 3 + y * 5 + (seed >> 28) * 4) & 255);
  }
  return im;
}

static int px(const vigil_image *im, int x, int y, int k) { return im->data[(size_t)y * im->stride + (size_t)x * im->c + k]; }

/* Reference bilinear, half-pixel centres, edges clamped like OpenCV INTER_LINEAR. */
static double ref_coord(int o, int out_n, int in_n, int *i0, int *i1) {
  double s = (o + 0.5) * in_n / out_n - 0.5;
  if (s < 0) s = 0;
  if (s > in_n - 1) s = in_n - 1;
  *i0 = (int)floor(s);
  *i1 = *i0 + 1 < in_n ? *i0 + 1 : *i0;
  return s - *i0;
}

static double ref_bilinear(const vigil_image *in, int W, int H, int x, int y, int k) {
  int x0, x1, y0, y1;
  double fx = ref_coord(x, W, in->w, &x0, &x1), fy = ref_coord(y, H, in->h, &y0, &y1);
  double top = px(in, x0, y0, k) * (1 - fx) + px(in, x1, y0, k) * fx;
  double bot = px(in, x0, y1, k) * (1 - fx) + px(in, x1, y1, k) * fx;
  return top * (1 - fy) + bot * fy;
}

/* Reference area average: the exact integral of the source over the output
 * pixel's footprint, divided by its area. */
static double ref_area(const vigil_image *in, int W, int H, int x, int y, int k) {
  double sx = (double)in->w / W, sy = (double)in->h / H;
  double ax = x * sx, bx = (x + 1) * sx, ay = y * sy, by = (y + 1) * sy, sum = 0;
  for (int j = (int)floor(ay); j < by && j < in->h; j++)
    for (int i = (int)floor(ax); i < bx && i < in->w; i++) {
      double ox = fmin(bx, i + 1) - fmax(ax, i), oy = fmin(by, j + 1) - fmax(ay, j);
      if (ox > 0 && oy > 0) sum += ox * oy * px(in, i, j, k);
    }
  return sum / (sx * sy);
}

static void check_resize(const vigil_image *in, int W, int H, vigil_resize_mode mode) {
  vigil_image out;
  assert_int_equal(vigil_img_resize(&out, in, W, H, mode), 0);
  assert_true(out.w == W && out.h == H && out.c == in->c);
  bool area = mode == VIGIL_RESIZE_AREA && W <= in->w && H <= in->h;
  double maxerr = 0;
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      for (int k = 0; k < in->c; k++) {
        double r = area ? ref_area(in, W, H, x, y, k) : ref_bilinear(in, W, H, x, y, k);
        double e = fabs(px(&out, x, y, k) - r);
        if (e > maxerr) maxerr = e;
      }
  /* rounding to the nearest integer plus float accumulation */
  if (maxerr > 0.51) fail_msg("%dx%d -> %dx%d mode %d: max error %.3f", in->w, in->h, W, H, mode, maxerr);
  vigil_image_free(&out);
}

static void resize_vs_reference(void **state) {
  static const int sizes[][2] = {{1, 1}, {7, 5}, {32, 32}, {33, 17}, {64, 48}, {100, 3}, {129, 97}};
  for (int c = 1; c <= 3; c += 2) {
    vigil_image in = random_image(64, 48, c, 99u + c);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
      check_resize(&in, sizes[s][0], sizes[s][1], VIGIL_RESIZE_BILINEAR);
      check_resize(&in, sizes[s][0], sizes[s][1], VIGIL_RESIZE_AREA);
    }
    vigil_image_free(&in);
  }
  /* a 1x1 source, a 1-row source */
  vigil_image tiny = random_image(1, 1, 3, 5);
  check_resize(&tiny, 9, 4, VIGIL_RESIZE_BILINEAR);
  vigil_image_free(&tiny);
  vigil_image row = random_image(50, 1, 3, 6);
  check_resize(&row, 20, 1, VIGIL_RESIZE_AREA);
  check_resize(&row, 80, 5, VIGIL_RESIZE_BILINEAR);
  vigil_image_free(&row);
}

static void halving_is_2x2_mean(void **state) {
  vigil_image in = random_image(40, 30, 3, 3), a, b;
  assert_int_equal(vigil_img_resize(&a, &in, 20, 15, VIGIL_RESIZE_AREA), 0);
  assert_int_equal(vigil_img_resize(&b, &in, 20, 15, VIGIL_RESIZE_BILINEAR), 0);
  for (int y = 0; y < 15; y++)
    for (int x = 0; x < 20; x++)
      for (int k = 0; k < 3; k++) {
        double m = (px(&in, 2 * x, 2 * y, k) + px(&in, 2 * x + 1, 2 * y, k) + px(&in, 2 * x, 2 * y + 1, k) +
                    px(&in, 2 * x + 1, 2 * y + 1, k)) / 4.0;
        assert_true(fabs(px(&a, x, y, k) - m) <= 0.5);
        assert_true(fabs(px(&b, x, y, k) - m) <= 0.5);
      }
  vigil_image_free(&in), vigil_image_free(&a), vigil_image_free(&b);
}

static void letterbox_and_back(void **state) {
  vigil_image in = random_image(200, 100, 3, 11), out;
  vigil_letterbox lb;
  assert_int_equal(vigil_img_letterbox(&out, &lb, &in, 64, 64, 114, VIGIL_RESIZE_BILINEAR), 0);
  assert_true(out.w == 64 && out.h == 64);
  assert_true(fabsf(lb.scale - 0.32f) < 1e-6f);
  assert_int_equal(lb.inner_w, 64);
  assert_int_equal(lb.inner_h, 32);
  assert_int_equal(lb.pad_x, 0);
  assert_int_equal(lb.pad_y, 16);
  for (int x = 0; x < 64; x++)
    for (int k = 0; k < 3; k++) {
      assert_int_equal(px(&out, x, 0, k), 114);
      assert_int_equal(px(&out, x, 15, k), 114);
      assert_int_equal(px(&out, x, 48, k), 114);
      assert_int_equal(px(&out, x, 63, k), 114);
    }
  /* the inside equals a plain resize to 64x32 */
  vigil_image plain;
  assert_int_equal(vigil_img_resize(&plain, &in, 64, 32, VIGIL_RESIZE_BILINEAR), 0);
  for (int y = 0; y < 32; y++) assert_memory_equal(out.data + (16 + y) * out.stride, plain.data + y * plain.stride, 64 * 3);
  float x = 32, y = 16 + 32;
  vigil_letterbox_to_original(&lb, &x, &y);
  assert_true(fabsf(x - 100) < 1e-3f && fabsf(y - 100) < 1e-3f);
  vigil_image_free(&out), vigil_image_free(&plain), vigil_image_free(&in);
  /* tall image: padded left and right */
  in = random_image(30, 90, 3, 12);
  assert_int_equal(vigil_img_letterbox(&out, &lb, &in, 60, 60, 0, VIGIL_RESIZE_AREA), 0);
  assert_int_equal(lb.inner_w, 20);
  assert_int_equal(lb.pad_x, 20);
  assert_int_equal(px(&out, 19, 30, 0), 0);
  vigil_image_free(&out), vigil_image_free(&in);
}

static void crop_pad_colour(void **state) {
  vigil_image in = random_image(20, 10, 3, 13), out;
  assert_int_equal(vigil_img_crop(&out, &in, -5, 3, 10, 100), 0); /* clamped to x 0..4, y 3..9 */
  assert_true(out.w == 5 && out.h == 7);
  for (int y = 0; y < 7; y++) assert_memory_equal(out.data + y * out.stride, in.data + (3 + y) * in.stride, 15);
  vigil_image_free(&out);
  assert_int_equal(vigil_img_crop(&out, &in, 25, 0, 5, 5), VIGIL_IMG_EINVAL);
  assert_int_equal(vigil_img_crop(&out, &in, 0, 0, 0, 5), VIGIL_IMG_EINVAL);
  assert_null(out.data);
  int ox, oy;
  assert_int_equal(vigil_img_pad_square(&out, &ox, &oy, &in, 7), 0);
  assert_true(out.w == 20 && out.h == 20 && ox == 0 && oy == 5);
  assert_int_equal(px(&out, 3, 4, 1), 7);
  assert_int_equal(px(&out, 3, 5, 1), px(&in, 3, 0, 1));
  assert_int_equal(px(&out, 3, 15, 1), 7);
  vigil_image_free(&out);
  vigil_image copy;
  assert_int_equal(vigil_img_crop(&copy, &in, 0, 0, 20, 10), 0);
  vigil_img_swap_rb(&copy);
  assert_int_equal(px(&copy, 4, 4, 0), px(&in, 4, 4, 2));
  assert_int_equal(px(&copy, 4, 4, 2), px(&in, 4, 4, 0));
  assert_int_equal(px(&copy, 4, 4, 1), px(&in, 4, 4, 1));
  vigil_image_free(&copy);
  assert_int_equal(vigil_img_grey(&out, &in), 0);
  assert_int_equal(out.c, 1);
  for (int y = 0; y < 10; y++)
    for (int x = 0; x < 20; x++) {
      double g = 0.299 * px(&in, x, y, 0) + 0.587 * px(&in, x, y, 1) + 0.114 * px(&in, x, y, 2);
      assert_true(fabs(px(&out, x, y, 0) - g) <= 0.5 + 1e-9);
    }
  vigil_image_free(&out);
  vigil_image_free(&in);
}

static void tensors(void **state) {
  vigil_image in = random_image(5, 4, 3, 17);
  const float mean[3] = {103.53f, 116.28f, 123.675f}, std[3] = {57.375f, 57.12f, 58.395f};
  float nhwc[60], nchw[60];
  vigil_img_to_f32(nhwc, &in, VIGIL_LAYOUT_NHWC, mean, std, false);
  vigil_img_to_f32(nchw, &in, VIGIL_LAYOUT_NCHW, mean, std, true); /* BGR planes, as NanoDet wants */
  for (int y = 0; y < 4; y++)
    for (int x = 0; x < 5; x++)
      for (int k = 0; k < 3; k++) {
        double want = (px(&in, x, y, k) - mean[k]) / std[k];
        assert_true(fabs(nhwc[(y * 5 + x) * 3 + k] - want) < 1e-5);
        double want_bgr = (px(&in, x, y, 2 - k) - mean[k]) / std[k];
        assert_true(fabs(nchw[k * 20 + y * 5 + x] - want_bgr) < 1e-5);
      }
  float plain[60];
  vigil_img_to_f32(plain, &in, VIGIL_LAYOUT_NCHW, NULL, NULL, false);
  assert_true(plain[20 + 5 + 2] == (float)px(&in, 2, 1, 1));
  int32_t i32[60];
  uint8_t u8[60];
  vigil_img_to_i32(i32, &in);
  vigil_img_to_u8(u8, &in);
  for (int i = 0; i < 60; i++) {
    assert_int_equal(i32[i], in.data[i]);
    assert_int_equal(u8[i], in.data[i]);
  }
  /* a crop has a stride larger than its rows: the packers must honour it */
  vigil_image big = random_image(9, 4, 3, 19), view = big;
  view.w = 5;
  vigil_img_to_u8(u8, &view);
  for (int y = 0; y < 4; y++) assert_memory_equal(u8 + y * 15, big.data + y * big.stride, 15);
  vigil_image_free(&big);
  vigil_image_free(&in);
}

static void real_photo(void **state) {
  char path[1024];
  if (vigil_asset_require(path, sizeof path, "media/dog.jpg")) fail_msg("%s", vigil_asset_errmsg());
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  static uint8_t buf[1 << 20];
  size_t len = fread(buf, 1, sizeof buf, f);
  fclose(f);
  vigil_image im;
  assert_int_equal(vigil_img_decode(&im, buf, len, NULL, NULL, 0), 0);
  check_resize(&im, 416, 416, VIGIL_RESIZE_BILINEAR); /* NanoDet */
  check_resize(&im, 192, 144, VIGIL_RESIZE_AREA);
  check_resize(&im, 1000, 700, VIGIL_RESIZE_BILINEAR);
  vigil_image_free(&im);
}

static void bad_arguments(void **state) {
  vigil_image out, empty = {0};
  vigil_letterbox lb;
  assert_int_equal(vigil_img_resize(&out, &empty, 10, 10, VIGIL_RESIZE_BILINEAR), VIGIL_IMG_EINVAL);
  vigil_image in = random_image(4, 4, 3, 1);
  assert_int_equal(vigil_img_resize(&out, &in, 0, 10, VIGIL_RESIZE_BILINEAR), VIGIL_IMG_EINVAL);
  assert_int_equal(vigil_img_letterbox(&out, &lb, &in, -1, 10, 114, VIGIL_RESIZE_AREA), VIGIL_IMG_EINVAL);
  assert_int_equal(vigil_image_init(&out, 0, 5, 3), VIGIL_IMG_EINVAL);
  assert_int_equal(vigil_image_init(&out, 5, 5, 2), VIGIL_IMG_EINVAL);
  vigil_image_free(&in);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(resize_vs_reference), cmocka_unit_test(halving_is_2x2_mean),
      cmocka_unit_test(letterbox_and_back),  cmocka_unit_test(crop_pad_colour),
      cmocka_unit_test(tensors),             cmocka_unit_test(real_photo),
      cmocka_unit_test(bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
