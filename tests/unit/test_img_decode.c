/* Image decoding: sniffing, JPEG/PNG/WebP round trips, real photos from
 * $VIGIL_HOME/media (checked against values read with Pillow), and the bad
 * inputs of the HTTP edge: truncated files, huge headers, random bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <spng.h>
#include <turbojpeg.h>
#ifdef VIGIL_HAVE_WEBP
#include <webp/encode.h>
#endif

#include "util/assets.h"
#include "vigil/img.h"

static uint8_t *read_file(const char *rel, size_t *len) {
  char path[1024];
  if (vigil_asset_require(path, sizeof path, rel)) fail_msg("%s", vigil_asset_errmsg());
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = malloc((size_t)n);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static void gradient(uint8_t *px, int w, int h) {
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      uint8_t *p = px + ((size_t)y * w + x) * 3;
      p[0] = (uint8_t)(x * 255 / (w - 1));
      p[1] = (uint8_t)(y * 255 / (h - 1));
      p[2] = (uint8_t)((x + y) * 2);
    }
}

static uint8_t *make_jpeg(int w, int h, size_t *len) {
  uint8_t *px = malloc((size_t)w * h * 3);
  gradient(px, w, h);
  tjhandle tj = tjInitCompress();
  unsigned char *jpg = NULL;
  unsigned long jl = 0;
  assert_int_equal(tjCompress2(tj, px, w, 0, h, TJPF_RGB, &jpg, &jl, TJSAMP_444, 95, 0), 0);
  tjDestroy(tj);
  free(px);
  uint8_t *out = malloc(jl);
  memcpy(out, jpg, jl);
  tjFree(jpg);
  *len = jl;
  return out;
}

static uint8_t *make_png(const uint8_t *px, int w, int h, int color_type, int depth, size_t *len) {
  spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
  spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
  struct spng_ihdr ihdr = {.width = (uint32_t)w, .height = (uint32_t)h, .bit_depth = (uint8_t)depth,
                           .color_type = (uint8_t)color_type};
  spng_set_ihdr(ctx, &ihdr);
  int ch = color_type == SPNG_COLOR_TYPE_GRAYSCALE ? 1 : color_type == SPNG_COLOR_TYPE_TRUECOLOR_ALPHA ? 4 : 3;
  size_t n = (size_t)w * h * ch * (depth / 8);
  assert_int_equal(spng_encode_image(ctx, px, n, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE), 0);
  int e;
  void *buf = spng_get_png_buffer(ctx, len, &e);
  assert_non_null(buf);
  spng_ctx_free(ctx);
  return buf;
}

static uint32_t crc32_ieee(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
  }
  return ~c;
}

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* A PNG whose IHDR claims w x h, with a tiny IDAT: must be refused from the header. */
static size_t fake_png(uint8_t *b, uint32_t w, uint32_t h) {
  memcpy(b, "\x89PNG\r\n\x1a\n", 8);
  put32(b + 8, 13);
  memcpy(b + 12, "IHDR", 4);
  put32(b + 16, w);
  put32(b + 20, h);
  b[24] = 8, b[25] = 2, b[26] = 0, b[27] = 0, b[28] = 0;
  put32(b + 29, crc32_ieee(b + 12, 17));
  put32(b + 33, 2);
  memcpy(b + 37, "IDAT\x78\x9c", 6);
  put32(b + 43, crc32_ieee(b + 37, 6));
  return 47;
}

static void sniffing(void **state) {
  assert_int_equal(vigil_img_sniff((const uint8_t *)"\xff\xd8\xff\xe0", 4), VIGIL_IMG_FMT_JPEG);
  assert_int_equal(vigil_img_sniff((const uint8_t *)"\x89PNG\r\n\x1a\n", 8), VIGIL_IMG_FMT_PNG);
  assert_int_equal(vigil_img_sniff((const uint8_t *)"RIFF\0\0\0\0WEBPVP8 ", 16), VIGIL_IMG_FMT_WEBP);
  assert_int_equal(vigil_img_sniff((const uint8_t *)"GIF89a", 6), VIGIL_IMG_FMT_GIF);
  assert_int_equal(vigil_img_sniff((const uint8_t *)"II*\0", 4), VIGIL_IMG_FMT_TIFF);
  assert_int_equal(vigil_img_sniff((const uint8_t *)"\x89PNG", 4), VIGIL_IMG_FMT_UNKNOWN);
  assert_int_equal(vigil_img_sniff((const uint8_t *)"{\"image\":", 9), VIGIL_IMG_FMT_UNKNOWN);
  assert_int_equal(vigil_img_sniff(NULL, 0), VIGIL_IMG_FMT_UNKNOWN);
}

static void status_mapping(void **state) {
  assert_int_equal(vigil_img_http_status(VIGIL_IMG_EFORMAT), 400);
  assert_int_equal(vigil_img_http_status(VIGIL_IMG_ECORRUPT), 400);
  assert_int_equal(vigil_img_http_status(VIGIL_IMG_EUNSUPPORTED), 415);
  assert_int_equal(vigil_img_http_status(VIGIL_IMG_ETOOBIG), 413);
  assert_string_equal(vigil_img_strerror(VIGIL_IMG_EFORMAT), "could not decode image");
}

static void jpeg_round_trip(void **state) {
  size_t len;
  uint8_t *jpg = make_jpeg(97, 61, &len);
  vigil_image im;
  char err[256];
  assert_int_equal(vigil_img_decode(&im, jpg, len, NULL, err, sizeof err), 0);
  assert_int_equal(im.w, 97);
  assert_int_equal(im.h, 61);
  assert_int_equal(im.c, 3);
  uint8_t *ref = malloc(97 * 61 * 3);
  gradient(ref, 97, 61);
  double sad = 0;
  int maxd = 0;
  for (int i = 0; i < 97 * 61 * 3; i++) {
    int d = abs(im.data[i] - ref[i]);
    sad += d;
    maxd = d > maxd ? d : maxd;
  }
  assert_true(sad / (97 * 61 * 3) < 2.0);
  assert_true(maxd < 24);
  int w, h;
  vigil_img_format fmt;
  assert_int_equal(vigil_img_probe(&w, &h, &fmt, jpg, len, NULL, 0), 0);
  assert_true(w == 97 && h == 61 && fmt == VIGIL_IMG_FMT_JPEG);
  vigil_image_free(&im);
  vigil_image_free(&im); /* zeroed: no-op */
  vigil_image_free(NULL);
  /* truncated at several points: an error, never half an image */
  size_t cuts[] = {len / 2, len - 10, 200, 3};
  for (int i = 0; i < 4; i++) {
    err[0] = '\0';
    int rc = vigil_img_decode(&im, jpg, cuts[i], NULL, err, sizeof err);
    assert_true(rc == VIGIL_IMG_ECORRUPT);
    assert_null(im.data);
    assert_int_equal(vigil_img_http_status(rc), 400);
    if (!strstr(err, "could not decode image")) fail_msg("cut %zu: '%s'", cuts[i], err);
  }
  /* extraneous bytes before the SOS marker: libjpeg warns, the image is whole */
  size_t k = 2;
  while (k + 1 < len && !(jpg[k] == 0xff && jpg[k + 1] == 0xda)) k++;
  assert_true(k + 1 < len);
  uint8_t *extra = malloc(len + 2);
  memcpy(extra, jpg, k);
  extra[k] = 0x12, extra[k + 1] = 0x34;
  memcpy(extra + k + 2, jpg + k, len - k);
  vigil_image a, b;
  assert_int_equal(vigil_img_decode(&a, jpg, len, NULL, NULL, 0), 0);
  if (vigil_img_decode(&b, extra, len + 2, NULL, err, sizeof err)) fail_msg("extraneous bytes: %s", err);
  assert_memory_equal(a.data, b.data, (size_t)a.h * a.stride);
  vigil_image_free(&a), vigil_image_free(&b);
  free(extra);
  free(ref);
  free(jpg);
}

static void png_round_trips(void **state) {
  int w = 33, h = 20;
  uint8_t rgb[33 * 20 * 3], rgba[33 * 20 * 4], grey[33 * 20];
  uint16_t rgb16[33 * 20 * 3];
  gradient(rgb, w, h);
  for (int i = 0; i < w * h; i++) {
    memcpy(rgba + 4 * i, rgb + 3 * i, 3);
    rgba[4 * i + 3] = (uint8_t)i;
    grey[i] = (uint8_t)(i * 3);
    for (int k = 0; k < 3; k++) {
      uint16_t v = (uint16_t)(rgb[3 * i + k] * 257);
      rgb16[3 * i + k] = (uint16_t)(v >> 8 | v << 8); /* PNG samples are big-endian */
    }
  }
  struct {
    const void *px;
    int type, depth;
  } cases[] = {{rgb, SPNG_COLOR_TYPE_TRUECOLOR, 8},
               {rgba, SPNG_COLOR_TYPE_TRUECOLOR_ALPHA, 8},
               {grey, SPNG_COLOR_TYPE_GRAYSCALE, 8},
               {rgb16, SPNG_COLOR_TYPE_TRUECOLOR, 16}};
  for (int c = 0; c < 4; c++) {
    size_t len;
    uint8_t *png = make_png(cases[c].px, w, h, cases[c].type, cases[c].depth, &len);
    vigil_image im;
    char err[256] = "";
    int rc = vigil_img_decode(&im, png, len, NULL, err, sizeof err);
    if (rc) fail_msg("case %d: %s", c, err);
    assert_true(im.w == w && im.h == h && im.c == 3);
    for (int i = 0; i < w * h; i++) {
      if (cases[c].type == SPNG_COLOR_TYPE_GRAYSCALE) {
        for (int k = 0; k < 3; k++) assert_int_equal(im.data[3 * i + k], grey[i]);
      } else {
        assert_memory_equal(im.data + 3 * i, rgb + 3 * i, 3);
      }
    }
    vigil_image_free(&im);
    /* truncated */
    assert_int_equal(vigil_img_decode(&im, png, len - 20, NULL, err, sizeof err), VIGIL_IMG_ECORRUPT);
    assert_null(im.data);
    free(png);
  }
}

static void huge_headers_refused(void **state) {
  uint8_t b[64];
  vigil_image im;
  char err[256];
  uint32_t dims[][2] = {{100000, 100000}, {20000, 100}, {10000, 6000}, {0x7fffffff, 0x7fffffff}};
  for (int i = 0; i < 4; i++) {
    size_t n = fake_png(b, dims[i][0], dims[i][1]);
    err[0] = '\0';
    int rc = vigil_img_decode(&im, b, n, NULL, err, sizeof err);
    if (rc != VIGIL_IMG_ETOOBIG) fail_msg("%ux%u: rc %d (%s)", dims[i][0], dims[i][1], rc, err);
    assert_null(im.data);
    assert_non_null(strstr(err, "too large"));
  }
  /* a small claim passes the header check and then fails on the missing data */
  size_t n = fake_png(b, 100, 100);
  assert_int_equal(vigil_img_decode(&im, b, n, NULL, err, sizeof err), VIGIL_IMG_ECORRUPT);
  /* the byte limit */
  size_t len;
  uint8_t *jpg = make_jpeg(64, 64, &len);
  vigil_img_limits lim = vigil_img_default_limits();
  lim.max_bytes = len - 1;
  assert_int_equal(vigil_img_decode(&im, jpg, len, &lim, err, sizeof err), VIGIL_IMG_ETOOBIG);
  lim = vigil_img_default_limits();
  lim.max_pixels = 64 * 64 - 1;
  assert_int_equal(vigil_img_decode(&im, jpg, len, &lim, err, sizeof err), VIGIL_IMG_ETOOBIG);
  free(jpg);
}

static void not_images(void **state) {
  uint8_t buf[4096];
  uint32_t s = 7;
  vigil_image im;
  char err[256];
  for (int t = 0; t < 50; t++) {
    size_t n = 1 + (size_t)(t * 83 % 4096);
    for (size_t i = 0; i < n; i++) {
      s = s * 1103515245u + 12345u;
      buf[i] = (uint8_t)(s >> 16);
    }
    int rc = vigil_img_decode(&im, buf, n, NULL, err, sizeof err);
    assert_true(rc == VIGIL_IMG_EFORMAT || rc == VIGIL_IMG_EUNSUPPORTED);
    assert_null(im.data);
    /* with a JPEG or PNG signature in front the decoders see the garbage */
    memcpy(buf, t % 2 ? "\xff\xd8\xff" : "\x89PNG\r\n\x1a\n", t % 2 ? 3 : 8);
    rc = vigil_img_decode(&im, buf, n < 8 ? 8 : n, NULL, err, sizeof err);
    assert_true(rc == VIGIL_IMG_ECORRUPT || rc == VIGIL_IMG_ETOOBIG);
    assert_null(im.data);
  }
  assert_int_equal(vigil_img_decode(&im, (const uint8_t *)"GIF89a\1\0\1\0\0\0\0", 13, NULL, err, sizeof err),
                   VIGIL_IMG_EUNSUPPORTED);
  assert_int_equal(vigil_img_decode(&im, NULL, 0, NULL, err, sizeof err), VIGIL_IMG_EFORMAT);
  assert_int_equal(vigil_img_decode(&im, (const uint8_t *)"", 0, NULL, err, sizeof err), VIGIL_IMG_EFORMAT);
}

#ifdef VIGIL_HAVE_WEBP
static void webp_round_trip(void **state) {
  uint8_t px[40 * 30 * 3];
  gradient(px, 40, 30);
  uint8_t *out = NULL;
  size_t len = WebPEncodeLosslessRGB(px, 40, 30, 40 * 3, &out);
  assert_true(len > 0);
  vigil_image im;
  assert_int_equal(vigil_img_decode(&im, out, len, NULL, NULL, 0), 0);
  assert_true(im.w == 40 && im.h == 30);
  assert_memory_equal(im.data, px, sizeof px);
  vigil_image_free(&im);
  assert_int_equal(vigil_img_decode(&im, out, len / 2, NULL, NULL, 0), VIGIL_IMG_ECORRUPT);
  WebPFree(out);
}
#endif

/* Real photos. Reference values were read with Pillow 9.4 (libjpeg 6.2 IDCT):
 * channel means over the whole image, and two pixels. */
static void real_photos(void **state) {
  static const struct {
    const char *file;
    int w, h;
    double mean[3];
    int px[2][3]; /* (x=100, y=50) and the bottom-right pixel */
    double tol;   /* JPEG decoders may differ slightly; PNG is exact */
  } photos[] = {
      {"media/dog.jpg", 768, 576, {134.447, 135.666, 114.08}, {{135, 165, 101}, {50, 39, 35}}, 3},
      {"media/grace_hopper.jpg", 512, 600, {82.485, 72.43, 86.424}, {{12, 16, 64}, {14, 13, 19}}, 3},
      {"media/chelsea.png", 451, 300, {147.673, 111.444, 86.798}, {{120, 84, 52}, {162, 138, 128}}, 0},
      {"media/astronaut.png", 512, 512, {141.562, 105.759, 96.475}, {{178, 169, 157}, {0, 0, 0}}, 0},
      {"media/basketball1.png", 640, 480, {120.31, 120.31, 120.31}, {{68, 68, 68}, {18, 18, 18}}, 0},
  };
  for (size_t i = 0; i < sizeof photos / sizeof photos[0]; i++) {
    size_t len;
    uint8_t *buf = read_file(photos[i].file, &len);
    vigil_image im;
    char err[256] = "";
    if (vigil_img_decode(&im, buf, len, NULL, err, sizeof err)) fail_msg("%s: %s", photos[i].file, err);
    assert_int_equal(im.w, photos[i].w);
    assert_int_equal(im.h, photos[i].h);
    double sum[3] = {0, 0, 0};
    for (int y = 0; y < im.h; y++)
      for (int x = 0; x < im.w; x++)
        for (int k = 0; k < 3; k++) sum[k] += im.data[(size_t)y * im.stride + 3 * x + k];
    for (int k = 0; k < 3; k++) {
      double m = sum[k] / ((double)im.w * im.h);
      if (m < photos[i].mean[k] - 0.05 - photos[i].tol / 10 || m > photos[i].mean[k] + 0.05 + photos[i].tol / 10)
        fail_msg("%s: channel %d mean %.3f, Pillow %.3f", photos[i].file, k, m, photos[i].mean[k]);
    }
    const uint8_t *p0 = im.data + 50 * im.stride + 100 * 3;
    const uint8_t *p1 = im.data + (size_t)(im.h - 1) * im.stride + (size_t)(im.w - 1) * 3;
    for (int k = 0; k < 3; k++) {
      assert_true(abs(p0[k] - photos[i].px[0][k]) <= photos[i].tol);
      assert_true(abs(p1[k] - photos[i].px[1][k]) <= photos[i].tol);
    }
    vigil_image_free(&im);
    /* the real file truncated */
    assert_int_equal(vigil_img_decode(&im, buf, len * 2 / 3, NULL, err, sizeof err), VIGIL_IMG_ECORRUPT);
    assert_null(im.data);
    free(buf);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(sniffing),        cmocka_unit_test(status_mapping),
      cmocka_unit_test(jpeg_round_trip), cmocka_unit_test(png_round_trips),
      cmocka_unit_test(huge_headers_refused), cmocka_unit_test(not_images),
#ifdef VIGIL_HAVE_WEBP
      cmocka_unit_test(webp_round_trip),
#endif
      cmocka_unit_test(real_photos),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
