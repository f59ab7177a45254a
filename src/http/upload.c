/* Uploaded images at the edge: multipart `file` fields or JSON base64, with
 * size and count limits, and image decoding mapped to HTTP statuses. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_internal.h"
#include "util/base64.h"
#include "vigil/http.h"

/* Fills `res` with {"detail": ...} and returns -1. */
static int reject(vigil_http_response *res, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int reject(vigil_http_response *res, int status, const char *fmt, ...) {
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  vigil_http_error(res, status, "%s", msg);
  return -1;
}

void vigil_uploads_free(vigil_uploads *u) {
  if (!u) return;
  for (size_t i = 0; i < u->n; i++) free(u->items[i].data);
  free(u->items);
  u->items = NULL;
  u->n = 0;
}

static int add_upload(vigil_uploads *u, size_t cap, const uint8_t *data, size_t len, const char *filename,
                      bool take) {
  if (u->n == cap) return -1;
  vigil_upload *it = &u->items[u->n];
  memset(it, 0, sizeof *it);
  if (take) {
    it->data = (uint8_t *)data;
  } else {
    it->data = malloc(len ? len : 1);
    if (!it->data) return -1;
    memcpy(it->data, data, len);
  }
  it->len = len;
  snprintf(it->filename, sizeof it->filename, "%s", filename ? filename : "");
  u->n++;
  return 0;
}

static int from_multipart(vigil_uploads *out, vigil_http_response *res, const vigil_http_request *req,
                          size_t max_files, size_t max_bytes) {
  char boundary[80], err[200];
  if (vigil_multipart_boundary(boundary, sizeof boundary, req->content_type))
    return reject(res, 400, "multipart/form-data needs a valid boundary parameter");
  size_t cap = 64, n = 0;
  vigil_multipart_part *parts = malloc(cap * sizeof *parts);
  if (!parts) return reject(res, 500, "out of memory");
  if (vigil_multipart_parse(parts, cap, &n, req->body, req->body_len, boundary, err, sizeof err)) {
    free(parts);
    return reject(res, 400, "%s", err);
  }
  size_t nfiles = 0;
  for (size_t i = 0; i < n; i++) nfiles += !strcmp(parts[i].name, "file");
  int rc = 0;
  if (nfiles == 0) rc = reject(res, 400, "no 'file' field in the form");
  else if (nfiles > max_files) rc = reject(res, 400, "too many files (%zu; at most %zu)", nfiles, max_files);
  else if (!(out->items = calloc(nfiles, sizeof *out->items))) rc = reject(res, 500, "out of memory");
  for (size_t i = 0; i < n && !rc; i++) {
    if (strcmp(parts[i].name, "file")) continue;
    if (max_bytes && parts[i].len > max_bytes) {
      rc = reject(res, 413, "image too large: %zu bytes (limit %zu)", parts[i].len, max_bytes);
    } else if (parts[i].len == 0) {
      rc = reject(res, 400, "empty file '%s'", parts[i].filename);
    } else if (add_upload(out, nfiles, parts[i].data, parts[i].len, parts[i].filename, false)) {
      rc = reject(res, 500, "out of memory");
    }
  }
  free(parts);
  if (rc) vigil_uploads_free(out);
  return rc;
}

typedef struct {
  vigil_bytes image;
  char *filename;
} one_image;

typedef struct {
  vigil_bytes image;
  char *filename;
  one_image *images;
  size_t n_images;
} json_uploads;

static int from_json(vigil_uploads *out, vigil_http_response *res, const vigil_http_request *req, const char *key,
                     size_t max_files, size_t max_bytes) {
  const vigil_json_field item[] = {
      {.key = key, .type = VIGIL_JSON_BASE64, .offset = offsetof(one_image, image), .required = true, .max = max_bytes},
      {.key = "filename", .type = VIGIL_JSON_STRING, .offset = offsetof(one_image, filename), .max = 255},
  };
  const vigil_json_field fields[] = {
      {.key = key, .type = VIGIL_JSON_BASE64, .offset = offsetof(json_uploads, image), .max = max_bytes},
      {.key = "filename", .type = VIGIL_JSON_STRING, .offset = offsetof(json_uploads, filename), .max = 255},
      {.key = "images",
       .type = VIGIL_JSON_ARRAY,
       .offset = offsetof(json_uploads, images),
       .count_offset = offsetof(json_uploads, n_images),
       .sub = item,
       .n_sub = 2,
       .elem_size = sizeof(one_image)},
  };
  json_uploads j = {0};
  char err[300];
  if (vigil_json_parse(&j, fields, 3, req->body, req->body_len, err, sizeof err)) {
    return reject(res, strstr(err, "is too large") ? 413 : 400, "%s", err);
  }
  size_t total = (j.image.data ? 1 : 0) + j.n_images;
  int rc = 0;
  if (total == 0) rc = reject(res, 400, "field '%s' is required", key);
  else if (total > max_files) rc = reject(res, 400, "too many images (%zu; at most %zu)", total, max_files);
  else if (!(out->items = calloc(total, sizeof *out->items))) rc = reject(res, 500, "out of memory");
  if (!rc && j.image.data) {
    if (j.image.len == 0) rc = reject(res, 400, "field '%s' is empty", key);
    else if (add_upload(out, total, j.image.data, j.image.len, j.filename, true)) rc = reject(res, 500, "internal error");
    else j.image.data = NULL; /* taken */
  }
  for (size_t i = 0; i < j.n_images && !rc; i++) {
    if (j.images[i].image.len == 0) {
      rc = reject(res, 400, "field 'images[%zu].%s' is empty", i, key);
    } else if (add_upload(out, total, j.images[i].image.data, j.images[i].image.len, j.images[i].filename, true)) {
      rc = reject(res, 500, "internal error");
    } else {
      j.images[i].image.data = NULL;
    }
  }
  vigil_json_free(&j, fields, 3);
  if (rc) vigil_uploads_free(out);
  return rc;
}

int vigil_http_read_uploads(vigil_uploads *out, vigil_http_response *res, const vigil_http_request *req,
                            const char *json_key, size_t max_files, size_t max_bytes) {
  memset(out, 0, sizeof *out);
  if (!max_files) max_files = 1;
  if (vigil_http_content_type_is(req, "multipart/form-data"))
    return from_multipart(out, res, req, max_files, max_bytes);
  if (vigil_http_content_type_is(req, "application/json"))
    return from_json(out, res, req, json_key ? json_key : "image_base64", max_files, max_bytes);
  vigil_http_error(res, 415, "unsupported content type '%s': send multipart/form-data with a 'file' field or "
                   "application/json",
                   req->content_type ? req->content_type : "(none)");
  return -1;
}

int vigil_http_decode_image(vigil_image *out, vigil_http_response *res, const vigil_http_request *req,
                            const uint8_t *buf, size_t len, const vigil_img_limits *lim) {
  char err[256];
  memset(out, 0, sizeof *out);
  if (!req) req = http_current_request();
  if (req && req->internal) {
    /* Admit the decoded size before allocating it: a small file can name a
     * huge image, and a batch of them adds up. */
    int w, h;
    vigil_img_format fmt;
    int rc = vigil_img_probe(&w, &h, &fmt, buf, len, err, sizeof err);
    if (rc) {
      vigil_http_error(res, vigil_img_http_status(rc), "%s", err);
      return rc;
    }
    uint64_t px = (uint64_t)w * (uint64_t)h;
    bool over_image = lim && ((lim->max_side && (w > lim->max_side || h > lim->max_side)) ||
                              (lim->max_pixels && px > lim->max_pixels));
    /* an image over its own limits is refused by the decoder, with its reason */
    if (px && !over_image && http_admit_pixels(req, px, res)) return VIGIL_IMG_ETOOBIG;
  }
  int rc = vigil_img_decode(out, buf, len, lim, err, sizeof err);
  if (rc) vigil_http_error(res, vigil_img_http_status(rc), "%s", err);
  return rc;
}

vigil_img_limits vigil_http_image_limits(const vigil_config *cfg) {
  vigil_img_limits lim = vigil_img_default_limits();
  double mb;
  long px;
  if (!vigil_config_float(cfg, "VIGIL_MAX_IMAGE_MB", &mb, NULL, 0)) lim.max_bytes = (size_t)(mb * 1024 * 1024);
  if (!vigil_config_int(cfg, "VIGIL_MAX_IMAGE_PIXELS", &px, NULL, 0)) lim.max_pixels = (uint64_t)px;
  return lim;
}
