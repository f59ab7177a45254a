/* Image decoding from untrusted bytes: format sniffing, header probing with
 * pixel limits, and JPEG (libturbojpeg), PNG (libspng), WebP (libwebp) to RGB8. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spng.h>
#include <turbojpeg.h>
#ifdef VIGIL_HAVE_WEBP
#include <webp/decode.h>
#endif

#include "vigil/img.h"
#include "vigil/status.h"

VIGIL_STATUS_LOOKUPS(VIGIL_IMG_STATUS_MAP, vigil_img_strerror, vigil_img_http_status, "unknown image error")

int vigil_image_init(vigil_image *im, int w, int h, int c) {
  memset(im, 0, sizeof *im);
  if (w <= 0 || h <= 0 || (c != 1 && c != 3)) return VIGIL_IMG_EINVAL;
  size_t stride = (size_t)w * (size_t)c;
  if ((size_t)h > SIZE_MAX / stride) return VIGIL_IMG_ENOMEM;
  im->data = calloc((size_t)h, stride);
  if (!im->data) return VIGIL_IMG_ENOMEM;
  im->w = w;
  im->h = h;
  im->c = c;
  im->stride = stride;
  return 0;
}

void vigil_image_free(vigil_image *im) {
  if (!im) return;
  free(im->data);
  memset(im, 0, sizeof *im);
}

vigil_img_format vigil_img_sniff(const uint8_t *b, size_t n) {
  if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return VIGIL_IMG_FMT_JPEG;
  if (n >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8)) return VIGIL_IMG_FMT_PNG;
  if (n >= 12 && !memcmp(b, "RIFF", 4) && !memcmp(b + 8, "WEBP", 4)) return VIGIL_IMG_FMT_WEBP;
  if (n >= 6 && (!memcmp(b, "GIF87a", 6) || !memcmp(b, "GIF89a", 6))) return VIGIL_IMG_FMT_GIF;
  if (n >= 14 && b[0] == 'B' && b[1] == 'M') return VIGIL_IMG_FMT_BMP;
  if (n >= 4 && (!memcmp(b, "II*\0", 4) || !memcmp(b, "MM\0*", 4))) return VIGIL_IMG_FMT_TIFF;
  return VIGIL_IMG_FMT_UNKNOWN;
}

static const char *format_name(vigil_img_format f) {
  static const char *names[] = {"unknown", "jpeg", "png", "webp", "gif", "bmp", "tiff"};
  return (unsigned)f < sizeof names / sizeof names[0] ? names[f] : "unknown";
}

vigil_img_limits vigil_img_default_limits(void) {
  return (vigil_img_limits){.max_bytes = 10u << 20, .max_pixels = 50000000u, .max_side = 16384};
}

static int check_dims(int w, int h, const vigil_img_limits *lim, char *err, size_t errlen) {
  if (w <= 0 || h <= 0)
    return vigil_err(err, errlen, VIGIL_IMG_ECORRUPT, "could not decode image: no pixels (%dx%d)", w, h);
  if ((lim->max_side && (w > lim->max_side || h > lim->max_side)) ||
      (lim->max_pixels && (uint64_t)w * (uint64_t)h > lim->max_pixels))
    return vigil_err(err, errlen, VIGIL_IMG_ETOOBIG,
                "image too large: %dx%d pixels (limits: %llu pixels, %d per side)", w, h,
                (unsigned long long)lim->max_pixels, lim->max_side);
  return 0;
}

/* ---- JPEG ----------------------------------------------------------------- */

static int jpeg_header(tjhandle tj, const uint8_t *buf, size_t len, int *w, int *h, char *err, size_t errlen) {
  int subsamp = 0, cs = 0;
  *w = *h = 0;
  if (len > ULONG_MAX) return vigil_err(err, errlen, VIGIL_IMG_ETOOBIG, "jpeg too large");
  /* A warning (see decode_jpeg) still fills the header fields. */
  if (tjDecompressHeader3(tj, buf, (unsigned long)len, w, h, &subsamp, &cs) &&
      (tjGetErrorCode(tj) != TJERR_WARNING || strcasestr(tjGetErrorStr2(tj), "premature end") || *w <= 0 || *h <= 0))
    return vigil_err(err, errlen, VIGIL_IMG_ECORRUPT, "could not decode image: jpeg header: %s", tjGetErrorStr2(tj));
  if (cs == TJCS_CMYK || cs == TJCS_YCCK)
    return vigil_err(err, errlen, VIGIL_IMG_EUNSUPPORTED, "unsupported image format: CMYK jpeg");
  return 0;
}

static int decode_jpeg(vigil_image *out, const uint8_t *buf, size_t len, const vigil_img_limits *lim,
                       char *err, size_t errlen) {
  tjhandle tj = tjInitDecompress();
  if (!tj) return vigil_err(err, errlen, VIGIL_IMG_ENOMEM, "jpeg: %s", tjGetErrorStr2(NULL));
  int w, h, rc = jpeg_header(tj, buf, len, &w, &h, err, errlen);
  if (!rc) rc = check_dims(w, h, lim, err, errlen);
  if (!rc && (rc = vigil_image_init(out, w, h, 3)))
    vigil_err(err, errlen, rc, "out of memory for a %dx%d image", w, h);
  /* A truncated stream is an error, never half an image: libjpeg reports it
   * as the warning "Premature end of JPEG file". Other warnings (such as
   * "extraneous bytes before marker", common from IP cameras) leave a whole
   * image and are tolerated. LIMITSCANS stops progressive files with
   * thousands of scans. */
  if (!rc && tjDecompress2(tj, buf, (unsigned long)len, out->data, w, (int)out->stride, h, TJPF_RGB,
                           TJFLAG_LIMITSCANS)) {
    const char *msg = tjGetErrorStr2(tj);
    if (tjGetErrorCode(tj) != TJERR_WARNING || strcasestr(msg, "premature end")) {
      rc = vigil_err(err, errlen, VIGIL_IMG_ECORRUPT, "could not decode image: jpeg: %s", msg);
      vigil_image_free(out);
    }
  }
  tjDestroy(tj);
  return rc;
}

/* ---- PNG ------------------------------------------------------------------ */

static spng_ctx *png_open(const uint8_t *buf, size_t len, const vigil_img_limits *lim) {
  spng_ctx *ctx = spng_ctx_new(0);
  if (!ctx) return NULL;
  uint32_t side = lim->max_side > 0 ? (uint32_t)lim->max_side : 0x7fffffffu;
  spng_set_image_limits(ctx, side, side);
  /* Ancillary chunks (text, ICC, ...) are bounded too: 1 MB each, 8 MB all. */
  spng_set_chunk_limits(ctx, 1u << 20, 8u << 20);
  spng_set_png_buffer(ctx, buf, len);
  return ctx;
}

static int png_header(spng_ctx *ctx, int *w, int *h, char *err, size_t errlen) {
  struct spng_ihdr ihdr;
  int r = spng_get_ihdr(ctx, &ihdr);
  /* EUSER_*: over our side limit (413). EWIDTH/EHEIGHT: a width or height
   * the PNG format forbids (0, or past 2^31 - 1): a corrupt file (400). */
  if (r == SPNG_EUSER_WIDTH || r == SPNG_EUSER_HEIGHT)
    return vigil_err(err, errlen, VIGIL_IMG_ETOOBIG, "image too large: png %s", spng_strerror(r));
  if (r) return vigil_err(err, errlen, VIGIL_IMG_ECORRUPT, "could not decode image: png: %s", spng_strerror(r));
  *w = (int)ihdr.width;
  *h = (int)ihdr.height;
  return 0;
}

static int decode_png(vigil_image *out, const uint8_t *buf, size_t len, const vigil_img_limits *lim,
                      char *err, size_t errlen) {
  spng_ctx *ctx = png_open(buf, len, lim);
  if (!ctx) return vigil_err(err, errlen, VIGIL_IMG_ENOMEM, "png: out of memory");
  int w = 0, h = 0, rc = png_header(ctx, &w, &h, err, errlen);
  if (!rc) rc = check_dims(w, h, lim, err, errlen);
  size_t need = 0;
  if (!rc && spng_decoded_image_size(ctx, SPNG_FMT_RGB8, &need))
    rc = vigil_err(err, errlen, VIGIL_IMG_ECORRUPT, "could not decode image: png size");
  if (!rc && (rc = vigil_image_init(out, w, h, 3)))
    vigil_err(err, errlen, rc, "out of memory for a %dx%d image", w, h);
  if (!rc && need != (size_t)h * out->stride)
    rc = vigil_err(err, errlen, VIGIL_IMG_ECORRUPT, "could not decode image: png size mismatch");
  int r;
  if (!rc && (r = spng_decode_image(ctx, out->data, need, SPNG_FMT_RGB8, 0)))
    rc = vigil_err(err, errlen, VIGIL_IMG_ECORRUPT, "could not decode image: png: %s", spng_strerror(r));
  if (rc) vigil_image_free(out);
  spng_ctx_free(ctx);
  return rc;
}

/* ---- WebP ------------------------------------------------------------------ */

#ifdef VIGIL_HAVE_WEBP
static int decode_webp(vigil_image *out, const uint8_t *buf, size_t len, const vigil_img_limits *lim,
                       char *err, size_t errlen) {
  int w, h;
  if (!WebPGetInfo(buf, len, &w, &h))
    return vigil_err(err, errlen, VIGIL_IMG_ECORRUPT, "could not decode image: webp header");
  int rc = check_dims(w, h, lim, err, errlen);
  if (rc) return rc;
  if ((rc = vigil_image_init(out, w, h, 3))) return vigil_err(err, errlen, rc, "out of memory for a %dx%d image", w, h);
  if (!WebPDecodeRGBInto(buf, len, out->data, (size_t)h * out->stride, (int)out->stride)) {
    vigil_image_free(out);
    return vigil_err(err, errlen, VIGIL_IMG_ECORRUPT, "could not decode image: corrupt webp");
  }
  return 0;
}
#endif

/* ---- entry points ---------------------------------------------------------- */

static int sniff_checked(vigil_img_format *fmt, const uint8_t *buf, size_t len, char *err, size_t errlen) {
  *fmt = buf ? vigil_img_sniff(buf, len) : VIGIL_IMG_FMT_UNKNOWN;
  switch (*fmt) {
  case VIGIL_IMG_FMT_JPEG:
  case VIGIL_IMG_FMT_PNG:
    return 0;
  case VIGIL_IMG_FMT_WEBP:
#ifdef VIGIL_HAVE_WEBP
    return 0;
#endif
  case VIGIL_IMG_FMT_GIF:
  case VIGIL_IMG_FMT_BMP:
  case VIGIL_IMG_FMT_TIFF:
    return vigil_err(err, errlen, VIGIL_IMG_EUNSUPPORTED, "unsupported image format: %s (use JPEG, PNG or WebP)",
                format_name(*fmt));
  default:
    return vigil_err(err, errlen, VIGIL_IMG_EFORMAT, "could not decode image: not a JPEG, PNG or WebP file");
  }
}

int vigil_img_probe(int *w, int *h, vigil_img_format *fmt, const uint8_t *buf, size_t len, char *err,
                    size_t errlen) {
  *w = *h = 0;
  int rc = sniff_checked(fmt, buf, len, err, errlen);
  if (rc) return rc;
  vigil_img_limits nolim = {0};
  if (*fmt == VIGIL_IMG_FMT_JPEG) {
    tjhandle tj = tjInitDecompress();
    if (!tj) return vigil_err(err, errlen, VIGIL_IMG_ENOMEM, "jpeg: out of memory");
    rc = jpeg_header(tj, buf, len, w, h, err, errlen);
    tjDestroy(tj);
    if (!rc && (*w <= 0 || *h <= 0)) rc = vigil_err(err, errlen, VIGIL_IMG_ECORRUPT, "could not decode image: no pixels");
    return rc;
  }
  if (*fmt == VIGIL_IMG_FMT_PNG) {
    spng_ctx *ctx = png_open(buf, len, &nolim);
    if (!ctx) return vigil_err(err, errlen, VIGIL_IMG_ENOMEM, "png: out of memory");
    rc = png_header(ctx, w, h, err, errlen);
    spng_ctx_free(ctx);
    return rc;
  }
#ifdef VIGIL_HAVE_WEBP
  if (*fmt == VIGIL_IMG_FMT_WEBP && !WebPGetInfo(buf, len, w, h))
    return vigil_err(err, errlen, VIGIL_IMG_ECORRUPT, "could not decode image: webp header");
#endif
  return 0;
}

int vigil_img_decode(vigil_image *out, const uint8_t *buf, size_t len, const vigil_img_limits *lim,
                     char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  vigil_img_limits def = vigil_img_default_limits();
  if (!lim) lim = &def;
  if (lim->max_bytes && len > lim->max_bytes)
    return vigil_err(err, errlen, VIGIL_IMG_ETOOBIG, "image too large: %zu bytes (limit %zu)", len, lim->max_bytes);
  vigil_img_format fmt;
  int rc = sniff_checked(&fmt, buf, len, err, errlen);
  if (rc) return rc;
  switch (fmt) {
  case VIGIL_IMG_FMT_JPEG:
    return decode_jpeg(out, buf, len, lim, err, errlen);
  case VIGIL_IMG_FMT_PNG:
    return decode_png(out, buf, len, lim, err, errlen);
#ifdef VIGIL_HAVE_WEBP
  case VIGIL_IMG_FMT_WEBP:
    return decode_webp(out, buf, len, lim, err, errlen);
#endif
  default:
    return vigil_err(err, errlen, VIGIL_IMG_EFORMAT, "could not decode image");
  }
}
