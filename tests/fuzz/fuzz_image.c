/* libFuzzer target: image decoding (sniffing, JPEG, PNG, WebP), then the
 * toolkit on whatever decoded. Limits are small so each input stays fast. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/img.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > (1u << 20)) return 0;
  vigil_img_limits lim = {.max_bytes = 1u << 20, .max_pixels = 1u << 20, .max_side = 4096};
  vigil_image im;
  char err[256];
  int rc = vigil_img_decode(&im, data, size, &lim, err, sizeof err);
  if (rc) {
    if (im.data) abort();
    int st = vigil_img_http_status(rc);
    if (st != 400 && st != 413 && st != 415 && st != 500) abort();
    return 0;
  }
  if (im.w <= 0 || im.h <= 0 || im.c != 3 || (uint64_t)im.w * im.h > lim.max_pixels) abort();
  int w, h;
  vigil_img_format fmt;
  if (vigil_img_probe(&w, &h, &fmt, data, size, NULL, 0) || w != im.w || h != im.h) abort();
  vigil_image a, b;
  vigil_letterbox lb;
  if (vigil_img_resize(&a, &im, 17, 13, VIGIL_RESIZE_AREA) == 0) vigil_image_free(&a);
  if (vigil_img_letterbox(&b, &lb, &im, 32, 24, 114, VIGIL_RESIZE_BILINEAR) == 0) {
    if (lb.pad_x < 0 || lb.pad_y < 0 || lb.pad_x + lb.inner_w > 32 || lb.pad_y + lb.inner_h > 24) abort();
    vigil_image_free(&b);
  }
  vigil_image_free(&im);
  return 0;
}
