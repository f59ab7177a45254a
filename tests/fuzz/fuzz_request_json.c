/* libFuzzer target: request JSON into C structs (nested objects, arrays,
 * base64), and the JSON upload path of the detect endpoints. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/http.h"

typedef struct {
  double x1, y1, x2, y2;
} bbox;
typedef struct {
  bool pose, depth;
} options;
typedef struct {
  vigil_bytes image;
  char *type;
  bbox box;
  bool has_box;
  vigil_bytes *frames;
  size_t n_frames;
  options opt;
  long limit;
  char **tags;
  size_t n_tags;
  struct item {
    char *name;
    vigil_bytes data;
  } *items;
  size_t n_items;
} req;

static const vigil_json_field bbox_f[] = {
    {.key = "x1", .type = VIGIL_JSON_DOUBLE, .offset = offsetof(bbox, x1), .required = true},
    {.key = "y1", .type = VIGIL_JSON_DOUBLE, .offset = offsetof(bbox, y1), .required = true},
    {.key = "x2", .type = VIGIL_JSON_DOUBLE, .offset = offsetof(bbox, x2)},
    {.key = "y2", .type = VIGIL_JSON_DOUBLE, .offset = offsetof(bbox, y2)},
};
static const vigil_json_field opt_f[] = {
    {.key = "include_pose", .type = VIGIL_JSON_BOOL, .offset = offsetof(options, pose)},
    {.key = "include_depth", .type = VIGIL_JSON_BOOL, .offset = offsetof(options, depth)},
};
static const vigil_json_field item_f[] = {
    {.key = "name", .type = VIGIL_JSON_STRING, .offset = offsetof(struct item, name), .required = true, .max = 32},
    {.key = "data", .type = VIGIL_JSON_BASE64, .offset = offsetof(struct item, data), .max = 1024},
};
static const vigil_json_field req_f[] = {
    {.key = "image", .type = VIGIL_JSON_BASE64, .offset = offsetof(req, image), .max = 4096},
    {.key = "detection_type", .type = VIGIL_JSON_STRING, .offset = offsetof(req, type), .max = 16},
    {.key = "bbox", .type = VIGIL_JSON_OBJECT, .offset = offsetof(req, box), .sub = bbox_f, .n_sub = 4,
     .present_offset = 1 + offsetof(req, has_box)},
    {.key = "frames", .type = VIGIL_JSON_BASE64_ARRAY, .offset = offsetof(req, frames),
     .count_offset = offsetof(req, n_frames), .max = 8},
    {.key = "options", .type = VIGIL_JSON_OBJECT, .offset = offsetof(req, opt), .sub = opt_f, .n_sub = 2},
    {.key = "limit", .type = VIGIL_JSON_INT, .offset = offsetof(req, limit)},
    {.key = "tags", .type = VIGIL_JSON_STRING_ARRAY, .offset = offsetof(req, tags), .count_offset = offsetof(req, n_tags)},
    {.key = "items", .type = VIGIL_JSON_ARRAY, .offset = offsetof(req, items), .count_offset = offsetof(req, n_items),
     .sub = item_f, .n_sub = 2, .elem_size = sizeof(struct item), .max = 16},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > (1u << 20)) return 0;
  req r;
  memset(&r, 0, sizeof r);
  char err[256];
  if (vigil_json_parse(&r, req_f, VIGIL_JSON_N(req_f), data, size, err, sizeof err) == 0) {
    if (r.image.len > 4096 || r.n_frames > 8 || r.n_items > 16) abort();
    if ((r.n_frames && !r.frames) || (r.n_tags && !r.tags) || (r.n_items && !r.items)) abort();
    for (size_t i = 0; i < r.n_items; i++)
      if (!r.items[i].name || strlen(r.items[i].name) > 32) abort();
    vigil_json_free(&r, req_f, VIGIL_JSON_N(req_f));
  } else {
    /* a failed parse leaves no pointer behind */
    if (r.image.data || r.type || r.frames || r.tags || r.items) abort();
  }
  /* the same bytes as a detect request body */
  uint8_t *body = malloc(size + 1);
  memcpy(body, data, size);
  body[size] = 0;
  vigil_http_request hr = {.method = "POST", .path = "/detect/batch", .content_type = "application/json",
                           .body = body, .body_len = size};
  vigil_uploads up;
  vigil_http_response res = {0};
  if (vigil_http_read_uploads(&up, &res, &hr, "image_base64", 4, 1 << 16) == 0) {
    if (up.n == 0 || up.n > 4) abort();
    for (size_t i = 0; i < up.n; i++)
      if (!up.items[i].len || up.items[i].len > (1 << 16)) abort();
    vigil_uploads_free(&up);
  } else if (res.status < 400 || res.status > 499) {
    abort();
  }
  vigil_http_response_free(&res);
  free(body);
  return 0;
}
