/* libFuzzer target: multipart/form-data. The first line of the input is the
 * Content-Type header, the rest is the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > (1u << 20)) return 0;
  const uint8_t *nl = memchr(data, '\n', size < 256 ? size : 256);
  char ct[260];
  size_t cl = nl ? (size_t)(nl - data) : 0;
  memcpy(ct, data, cl);
  ct[cl] = '\0';
  const uint8_t *body = nl ? nl + 1 : data;
  size_t len = size - (size_t)(body - data);
  /* a copy of exactly len bytes, so reads past the body are caught */
  uint8_t *copy = malloc(len ? len : 1);
  memcpy(copy, body, len);
  char boundary[80];
  if (vigil_multipart_boundary(boundary, sizeof boundary, ct) == 0) {
    size_t bl = strlen(boundary);
    if (bl < 1 || bl > 70) abort();
    vigil_multipart_part parts[16];
    size_t n = 0;
    char err[200];
    if (vigil_multipart_parse(parts, 16, &n, copy, len, boundary, err, sizeof err) == 0) {
      if (n > 16) abort();
      for (size_t i = 0; i < n; i++) {
        if (parts[i].data < copy || parts[i].data + parts[i].len > copy + len) abort();
        if (strlen(parts[i].name) >= sizeof parts[i].name) abort();
      }
    }
    /* and through the upload helper */
    vigil_http_request req = {.method = "POST", .content_type = ct, .body = copy, .body_len = len};
    vigil_uploads up;
    vigil_http_response res = {0};
    if (vigil_http_read_uploads(&up, &res, &req, "image_base64", 4, 1 << 16) == 0) {
      if (up.n == 0 || up.n > 4) abort();
      vigil_uploads_free(&up);
    }
    vigil_http_response_free(&res);
  }
  free(copy);
  return 0;
}
