/* multipart/form-data: boundaries, several files, binary content, and the
 * malformed bodies that must be refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/http.h"

static void boundary_param(void **state) {
  char b[80];
  assert_int_equal(vigil_multipart_boundary(b, sizeof b, "multipart/form-data; boundary=abc123"), 0);
  assert_string_equal(b, "abc123");
  assert_int_equal(vigil_multipart_boundary(b, sizeof b, "Multipart/Form-Data;charset=utf-8; BOUNDARY=\"a b:c\""), 0);
  assert_string_equal(b, "a b:c");
  assert_int_equal(vigil_multipart_boundary(b, sizeof b, "multipart/form-data"), -1);
  assert_int_equal(vigil_multipart_boundary(b, sizeof b, "multipart/form-data; boundary="), -1);
  assert_int_equal(vigil_multipart_boundary(b, sizeof b, "multipart/form-data; boundary=\"unterminated"), -1);
  assert_int_equal(vigil_multipart_boundary(b, sizeof b, "multipart/form-data; boundary=bad{char}"), -1);
  assert_int_equal(vigil_multipart_boundary(b, sizeof b, "application/json; boundary=x"), -1);
  char longb[120] = "multipart/form-data; boundary=";
  memset(longb + strlen(longb), 'x', 71);
  assert_int_equal(vigil_multipart_boundary(b, sizeof b, longb), -1);
}

/* Builds a body with binary file contents that contain CRLFs and dashes. */
static size_t build(uint8_t *buf, const char *boundary, int nfiles, int close) {
  size_t o = 0;
  o += (size_t)sprintf((char *)buf + o, "preamble to ignore\r\n");
  for (int i = 0; i < nfiles; i++) {
    o += (size_t)sprintf((char *)buf + o,
                         "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"img%d.jpg\"\r\n"
                         "Content-Type: image/jpeg\r\n\r\n",
                         boundary, i);
    for (int k = 0; k < 300; k++) buf[o++] = (uint8_t)(k * 7 + i);
    memcpy(buf + o, "\r\n--\r\n-", 7);
    o += 7;
    buf[o++] = 0;
    o += (size_t)sprintf((char *)buf + o, "\r\n");
  }
  o += (size_t)sprintf((char *)buf + o, "--%s\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n",
                       boundary);
  if (close) o += (size_t)sprintf((char *)buf + o, "--%s--\r\nepilogue", boundary);
  return o;
}

static void several_files(void **state) {
  uint8_t body[8192];
  size_t len = build(body, "XyZ-boundary", 3, 1);
  vigil_multipart_part parts[8];
  size_t n;
  char err[160] = "";
  assert_int_equal(vigil_multipart_parse(parts, 8, &n, body, len, "XyZ-boundary", err, sizeof err), 0);
  assert_int_equal(n, 4);
  for (int i = 0; i < 3; i++) {
    char fn[32];
    snprintf(fn, sizeof fn, "img%d.jpg", i);
    assert_string_equal(parts[i].name, "file");
    assert_string_equal(parts[i].filename, fn);
    assert_string_equal(parts[i].content_type, "image/jpeg");
    assert_int_equal(parts[i].len, 300 + 8);
    for (int k = 0; k < 300; k++) assert_int_equal(parts[i].data[k], (uint8_t)(k * 7 + i));
    assert_memory_equal(parts[i].data + 300, "\r\n--\r\n-\0", 8);
  }
  assert_string_equal(parts[3].name, "note");
  assert_string_equal(parts[3].filename, "");
  assert_int_equal(parts[3].len, 5);
  assert_memory_equal(parts[3].data, "hello", 5);
}

static void body_starting_with_boundary(void **state) {
  const char *b = "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a;b.png\"\r\n\r\nPNG\r\n--b--";
  vigil_multipart_part parts[2];
  size_t n;
  assert_int_equal(vigil_multipart_parse(parts, 2, &n, (const uint8_t *)b, strlen(b), "b", NULL, 0), 0);
  assert_int_equal(n, 1);
  assert_string_equal(parts[0].filename, "a;b.png");
  assert_int_equal(parts[0].len, 3);
}

static void refused(void **state) {
  uint8_t body[8192];
  size_t len = build(body, "XyZ", 2, 1);
  vigil_multipart_part parts[8];
  size_t n;
  char err[160];
  /* wrong boundary */
  assert_int_equal(vigil_multipart_parse(parts, 8, &n, body, len, "nope", err, sizeof err), -1);
  assert_non_null(strstr(err, "boundary not found"));
  /* truncated anywhere before the closing delimiter */
  size_t cut[] = {30, 100, 200, 400, len - 20};
  for (size_t i = 0; i < 5; i++) {
    err[0] = '\0';
    assert_int_equal(vigil_multipart_parse(parts, 8, &n, body, cut[i], "XyZ", err, sizeof err), -1);
    assert_non_null(strstr(err, "malformed multipart body"));
  }
  /* no closing delimiter at all */
  len = build(body, "XyZ", 1, 0);
  assert_int_equal(vigil_multipart_parse(parts, 8, &n, body, len, "XyZ", err, sizeof err), -1);
  assert_non_null(strstr(err, "truncated"));
  /* too many parts */
  len = build(body, "XyZ", 3, 1);
  assert_int_equal(vigil_multipart_parse(parts, 2, &n, body, len, "XyZ", err, sizeof err), -1);
  assert_non_null(strstr(err, "more than 2 parts"));
  /* headers without a name or without Content-Disposition */
  const char *noname = "--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--";
  assert_int_equal(vigil_multipart_parse(parts, 2, &n, (const uint8_t *)noname, strlen(noname), "b", err, sizeof err), -1);
  const char *nodisp = "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--";
  assert_int_equal(vigil_multipart_parse(parts, 2, &n, (const uint8_t *)nodisp, strlen(nodisp), "b", err, sizeof err), -1);
  const char *noheaders = "--b\r\n\r\nx\r\n--b--";
  assert_int_equal(vigil_multipart_parse(parts, 2, &n, (const uint8_t *)noheaders, strlen(noheaders), "b", err, sizeof err), -1);
  const char *garbage = "--bX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--b--";
  assert_int_equal(vigil_multipart_parse(parts, 2, &n, (const uint8_t *)garbage, strlen(garbage), "b", err, sizeof err), -1);
}

static void uploads_from_request(void **state) {
  uint8_t body[8192];
  size_t len = build(body, "XyZ", 2, 1);
  body[len] = 0;
  vigil_http_request req = {.method = "POST", .path = "/detect/batch",
                            .content_type = "multipart/form-data; boundary=XyZ", .body = body, .body_len = len};
  vigil_uploads up;
  vigil_http_response res = {0};
  assert_int_equal(vigil_http_read_uploads(&up, &res, &req, "image_base64", 8, 1 << 20), 0);
  assert_int_equal(up.n, 2);
  assert_string_equal(up.items[1].filename, "img1.jpg");
  assert_int_equal(up.items[1].len, 308);
  vigil_uploads_free(&up);
  /* one file allowed */
  assert_int_equal(vigil_http_read_uploads(&up, &res, &req, "image_base64", 1, 1 << 20), -1);
  assert_int_equal(res.status, 400);
  vigil_http_response_free(&res);
  /* file over the byte limit: 413 */
  assert_int_equal(vigil_http_read_uploads(&up, &res, &req, "image_base64", 8, 100), -1);
  assert_int_equal(res.status, 413);
  vigil_http_response_free(&res);
  /* JSON single and batch */
  const char *js = "{\"images\":[{\"image_base64\":\"aGk=\",\"filename\":\"x.png\"},{\"image_base64\":\"aG8=\"}]}";
  vigil_http_request jr = {.method = "POST", .content_type = "application/json; charset=utf-8",
                           .body = (const uint8_t *)js, .body_len = strlen(js)};
  assert_int_equal(vigil_http_read_uploads(&up, &res, &jr, "image_base64", 8, 100), 0);
  assert_int_equal(up.n, 2);
  assert_string_equal(up.items[0].filename, "x.png");
  assert_memory_equal(up.items[1].data, "ho", 2);
  vigil_uploads_free(&up);
  /* wrong content type: 415 */
  vigil_http_request tr = {.method = "POST", .content_type = "text/plain", .body = body, .body_len = len};
  assert_int_equal(vigil_http_read_uploads(&up, &res, &tr, "image_base64", 8, 100), -1);
  assert_int_equal(res.status, 415);
  vigil_http_response_free(&res);
  /* no file field: 400 */
  const char *nf = "--b\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--b--";
  vigil_http_request nr = {.method = "POST", .content_type = "multipart/form-data; boundary=b",
                           .body = (const uint8_t *)nf, .body_len = strlen(nf)};
  assert_int_equal(vigil_http_read_uploads(&up, &res, &nr, "image_base64", 8, 100), -1);
  assert_int_equal(res.status, 400);
  vigil_http_response_free(&res);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(boundary_param), cmocka_unit_test(several_files),
      cmocka_unit_test(body_starting_with_boundary), cmocka_unit_test(refused),
      cmocka_unit_test(uploads_from_request),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
