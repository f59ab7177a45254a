/* Images for vigil: decoding untrusted bytes (JPEG, PNG, WebP) into RGB8 with
 * pixel limits checked before any allocation, and the toolkit that turns
 * images into model inputs (crop, resize, letterbox, colour, normalisation).
 *
 * Ownership and threads: a vigil_image owns its pixels (vigil_image_free);
 * every function is reentrant and touches only its arguments. Outputs come
 * first in argument lists. Functions that take an output vigil_image expect it
 * zeroed or previously freed, and (re)allocate it. */
#ifndef VIGIL_IMG_H
#define VIGIL_IMG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Status codes, defined once; vigil_img_strerror and vigil_img_http_status
 * come from the same list: X(name, code, http status, message). */
#define VIGIL_IMG_STATUS_MAP(X)                                             \
  X(OK, 0, 200, "ok")                                                        \
  X(EFORMAT, -1, 400, "could not decode image")                              \
  X(EUNSUPPORTED, -2, 415, "unsupported image format")                      \
  X(ETOOBIG, -3, 413, "image too large")                                    \
  X(ECORRUPT, -4, 400, "corrupt or truncated image")                        \
  X(ENOMEM, -5, 500, "out of memory")                                       \
  X(EINVAL, -6, 400, "invalid argument")

typedef enum {
#define VIGIL_IMG_X_(name, code, http, msg) VIGIL_IMG_##name = code,
  VIGIL_IMG_STATUS_MAP(VIGIL_IMG_X_)
#undef VIGIL_IMG_X_
} vigil_img_status;

const char *vigil_img_strerror(int status);
/* HTTP status for a decode error: 400 not an image / corrupt, 413 too large,
 * 415 a known but unsupported format, 500 out of memory. */
int vigil_img_http_status(int status);

/* Interleaved 8-bit pixels: c = 3 (RGB, or BGR after vigil_img_swap_rb) or
 * c = 1 (grey). Row y starts at data + y * stride. */
typedef struct {
  int w, h, c;
  size_t stride;
  uint8_t *data;
} vigil_image;

/* Allocates w*h*c zeroed pixels (stride = w*c). */
int vigil_image_init(vigil_image *im, int w, int h, int c);
void vigil_image_free(vigil_image *im); /* NULL or zeroed: no-op */

/* ---- decoding ------------------------------------------------------------ */

typedef enum {
  VIGIL_IMG_FMT_UNKNOWN = 0,
  VIGIL_IMG_FMT_JPEG,
  VIGIL_IMG_FMT_PNG,
  VIGIL_IMG_FMT_WEBP,
  VIGIL_IMG_FMT_GIF,  /* recognised, not decoded (415) */
  VIGIL_IMG_FMT_BMP,  /* recognised, not decoded (415) */
  VIGIL_IMG_FMT_TIFF, /* recognised, not decoded (415) */
} vigil_img_format;

/* Format from magic bytes (never from a content type). */
vigil_img_format vigil_img_sniff(const uint8_t *buf, size_t len);

typedef struct {
  size_t max_bytes;    /* encoded size; 0 = no limit */
  uint64_t max_pixels; /* w * h */
  int max_side;        /* max(w, h) */
} vigil_img_limits;

/* 10 MB, 50 megapixels, 16384 px per side. */
vigil_img_limits vigil_img_default_limits(void);

/* Reads the dimensions from the header only. */
int vigil_img_probe(int *w, int *h, vigil_img_format *fmt, const uint8_t *buf, size_t len,
                    char *err, size_t errlen);

/* Decodes to RGB8 (c = 3). Limits are checked on the header before the pixel
 * buffer is allocated. Truncated or corrupt data is an error, never a partial
 * image. On error *out is zeroed and err (may be NULL) says why. */
int vigil_img_decode(vigil_image *out, const uint8_t *buf, size_t len, const vigil_img_limits *lim,
                     char *err, size_t errlen);

/* ---- toolkit --------------------------------------------------------------- */

/* Copies the part of (x, y, w, h) that lies inside `in` (clamped). A rectangle
 * with no pixel inside is VIGIL_IMG_EINVAL. */
int vigil_img_crop(vigil_image *out, const vigil_image *in, int x, int y, int w, int h);

typedef enum {
  VIGIL_RESIZE_BILINEAR, /* half-pixel centres: OpenCV INTER_LINEAR, TF half_pixel_centers */
  VIGIL_RESIZE_AREA,     /* box average for downscaling (OpenCV INTER_AREA); bilinear when enlarging */
} vigil_resize_mode;

int vigil_img_resize(vigil_image *out, const vigil_image *in, int w, int h, vigil_resize_mode mode);

/* Maps between letterboxed model input and the original image:
 * x_orig = (x_input - pad_x) / scale. */
typedef struct {
  float scale;       /* input pixels per original pixel */
  int pad_x, pad_y;  /* top-left of the image inside the input */
  int inner_w, inner_h;
} vigil_letterbox;

/* Resizes keeping the aspect ratio to fit w x h, centred, padding with `pad`
 * (114 for YOLO-style models). */
int vigil_img_letterbox(vigil_image *out, vigil_letterbox *lb, const vigil_image *in, int w, int h,
                        uint8_t pad, vigil_resize_mode mode);
void vigil_letterbox_to_original(const vigil_letterbox *lb, float *x, float *y);

/* Pads the shorter side to a square, centring the image; off_x and off_y get
 * the image's position (may be NULL). */
int vigil_img_pad_square(vigil_image *out, int *off_x, int *off_y, const vigil_image *in, uint8_t pad);

/* Swaps R and B in place (RGB <-> BGR). */
void vigil_img_swap_rb(vigil_image *im);
/* Grey from RGB with BT.601 weights (0.299, 0.587, 0.114), rounded. */
int vigil_img_grey(vigil_image *out, const vigil_image *in);

typedef enum { VIGIL_LAYOUT_NHWC, VIGIL_LAYOUT_NCHW } vigil_layout;

/* out[..] = (pixel - mean[c]) / std[c] for each channel, written as one image
 * (N = 1) of w*h*c floats in `layout`. mean/std NULL mean 0 and 1. With
 * swap_rb the channels are written in the other order (BGR models); mean/std
 * are given in the output channel order. */
void vigil_img_to_f32(float *out, const vigil_image *in, vigil_layout layout, const float *mean,
                      const float *std, bool swap_rb);
/* The pixels as they are, NHWC, packed (no stride). */
void vigil_img_to_u8(uint8_t *out, const vigil_image *in);
void vigil_img_to_i32(int32_t *out, const vigil_image *in); /* MoveNet: int32 NHWC 0..255 */

#endif
