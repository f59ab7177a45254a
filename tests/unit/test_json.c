/* JSON request parsing into C structs, and the {"detail": ...} error replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/http.h"

/* The shape of an enrichment request (CONTRACTS.md). */
typedef struct {
  double x1, y1, x2, y2;
} bbox;
typedef struct {
  bool include_pose, include_depth, action_recognition;
} options;
typedef struct {
  vigil_bytes image;
  char *detection_type;
  bbox box;
  bool has_box;
  vigil_bytes *frames;
  size_t n_frames;
  options opt;
  long limit;
  char **tags;
  size_t n_tags;
} enrich_req;

static const vigil_json_field bbox_f[] = {
    {.key = "x1", .type = VIGIL_JSON_DOUBLE, .offset = offsetof(bbox, x1), .required = true},
    {.key = "y1", .type = VIGIL_JSON_DOUBLE, .offset = offsetof(bbox, y1), .required = true},
    {.key = "x2", .type = VIGIL_JSON_DOUBLE, .offset = offsetof(bbox, x2), .required = true},
    {.key = "y2", .type = VIGIL_JSON_DOUBLE, .offset = offsetof(bbox, y2), .required = true},
};
static const vigil_json_field opt_f[] = {
    {.key = "include_pose", .type = VIGIL_JSON_BOOL, .offset = offsetof(options, include_pose)},
    {.key = "include_depth", .type = VIGIL_JSON_BOOL, .offset = offsetof(options, include_depth)},
    {.key = "action_recognition", .type = VIGIL_JSON_BOOL, .offset = offsetof(options, action_recognition)},
};
static const vigil_json_field req_f[] = {
    {.key = "image", .type = VIGIL_JSON_BASE64, .offset = offsetof(enrich_req, image), .required = true, .max = 64},
    {.key = "detection_type", .type = VIGIL_JSON_STRING, .offset = offsetof(enrich_req, detection_type), .required = true, .max = 16},
    {.key = "bbox", .type = VIGIL_JSON_OBJECT, .offset = offsetof(enrich_req, box), .sub = bbox_f, .n_sub = 4,
     .present_offset = 1 + offsetof(enrich_req, has_box)},
    {.key = "frames", .type = VIGIL_JSON_BASE64_ARRAY, .offset = offsetof(enrich_req, frames),
     .count_offset = offsetof(enrich_req, n_frames), .max = 4},
    {.key = "options", .type = VIGIL_JSON_OBJECT, .offset = offsetof(enrich_req, opt), .sub = opt_f, .n_sub = 3},
    {.key = "limit", .type = VIGIL_JSON_INT, .offset = offsetof(enrich_req, limit)},
    {.key = "tags", .type = VIGIL_JSON_STRING_ARRAY, .offset = offsetof(enrich_req, tags),
     .count_offset = offsetof(enrich_req, n_tags)},
};
#define NF VIGIL_JSON_N(req_f)

static int parse(enrich_req *r, const char *s, char *err) {
  memset(r, 0, sizeof *r);
  r->opt.include_pose = true; /* a default kept when the key is absent */
  r->limit = 7;
  return vigil_json_parse(r, req_f, NF, (const uint8_t *)s, strlen(s), err, 256);
}

static void full_request(void **state) {
  enrich_req r;
  char err[256] = "";
  const char *s = "{\"image\":\"aGVsbG8=\",\"detection_type\":\"person\","
                  "\"bbox\":{\"x1\":1,\"y1\":2.5,\"x2\":30,\"y2\":40},"
                  "\"frames\":[\"YQ==\",\"YmM=\"],\"options\":{\"include_depth\":true},"
                  "\"limit\":3,\"tags\":[\"a\",\"b\",\"c\"],\"unknown\":[1,2]}";
  assert_int_equal(parse(&r, s, err), 0);
  assert_int_equal(r.image.len, 5);
  assert_memory_equal(r.image.data, "hello", 5);
  assert_string_equal(r.detection_type, "person");
  assert_true(r.has_box);
  assert_true(r.box.y1 == 2.5 && r.box.x2 == 30);
  assert_int_equal(r.n_frames, 2);
  assert_memory_equal(r.frames[1].data, "bc", 2);
  assert_true(r.opt.include_pose); /* default kept */
  assert_true(r.opt.include_depth);
  assert_false(r.opt.action_recognition);
  assert_int_equal(r.limit, 3);
  assert_int_equal(r.n_tags, 3);
  assert_string_equal(r.tags[2], "c");
  vigil_json_free(&r, req_f, NF);
  assert_null(r.detection_type);
  assert_null(r.frames);
}

static void optional_absent_and_null(void **state) {
  enrich_req r;
  char err[256];
  assert_int_equal(parse(&r, "{\"image\":\"\",\"detection_type\":\"car\",\"bbox\":null}", err), 0);
  assert_false(r.has_box);
  assert_int_equal(r.limit, 7);
  assert_int_equal(r.image.len, 0);
  vigil_json_free(&r, req_f, NF);
}

static void errors_name_the_field(void **state) {
  static const struct {
    const char *body, *msg;
  } cases[] = {
      {"{\"image\":\"aGk=\"", "malformed JSON"},
      {"[1,2]", "must be a JSON object"},
      {"{\"image\":\"aGk=\",\"detection_type\":\"x\"} trailing", "malformed JSON"},
      {"{\"detection_type\":\"person\"}", "field 'image' is required"},
      {"{\"image\":\"a!\",\"detection_type\":\"person\"}", "field 'image' is not valid base64"},
      {"{\"image\":5,\"detection_type\":\"person\"}", "field 'image' must be a base64 string"},
      {"{\"image\":\"aGk=\",\"detection_type\":7}", "field 'detection_type' must be a string"},
      {"{\"image\":\"aGk=\",\"detection_type\":\"aaaaaaaaaaaaaaaaaaaaaaaaa\"}", "field 'detection_type' is too long"},
      {"{\"image\":\"aGk=\",\"detection_type\":\"p\",\"bbox\":{\"x1\":1,\"y1\":2,\"x2\":\"3\",\"y2\":4}}",
       "field 'bbox.x2' must be a number"},
      {"{\"image\":\"aGk=\",\"detection_type\":\"p\",\"bbox\":{\"x1\":1}}", "field 'bbox.y1' is required"},
      {"{\"image\":\"aGk=\",\"detection_type\":\"p\",\"frames\":[\"YQ==\",3]}", "field 'frames[1]' must be a base64 string"},
      {"{\"image\":\"aGk=\",\"detection_type\":\"p\",\"frames\":[\"YQ==\",\"YQ==\",\"YQ==\",\"YQ==\",\"YQ==\"]}",
       "field 'frames' has too many items"},
      {"{\"image\":\"aGk=\",\"detection_type\":\"p\",\"options\":{\"include_pose\":1}}",
       "field 'options.include_pose' must be true or false"},
      {"{\"image\":\"aGk=\",\"detection_type\":\"p\",\"limit\":2.5}", "field 'limit' must be an integer"},
      {"{\"image\":\"aGk=\",\"detection_type\":\"p\",\"image\":\"aGk=\"}", "malformed JSON"},
      {"{\"image\":\"aGk=\",\"detection_type\":\"p\",\"tags\":[\"a\",{}]}", "field 'tags[1]' must be a string"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    enrich_req r;
    char err[256] = "";
    assert_int_equal(parse(&r, cases[i].body, err), -1);
    if (!strstr(err, cases[i].msg)) fail_msg("case %zu: got '%s', want '%s'", i, err, cases[i].msg);
    /* everything was freed: the struct holds no pointers */
    assert_null(r.detection_type);
    assert_null(r.image.data);
    assert_null(r.frames);
    assert_null(r.tags);
  }
}

static void image_too_large(void **state) {
  enrich_req r;
  char err[256], body[400];
  /* 100 bytes of base64 'A' decode to 75 bytes > max 64 */
  snprintf(body, sizeof body, "{\"image\":\"%0100d\",\"detection_type\":\"p\"}", 0);
  for (char *p = strstr(body, "\":\"") + 3; *p == '0'; p++) *p = 'A';
  assert_int_equal(parse(&r, body, err), -1);
  assert_non_null(strstr(err, "field 'image' is too large"));
}

static void data_url_prefix(void **state) {
  enrich_req r;
  char err[256];
  assert_int_equal(parse(&r, "{\"image\":\"data:image/png;base64,aGk=\",\"detection_type\":\"p\"}", err), 0);
  assert_int_equal(r.image.len, 2);
  vigil_json_free(&r, req_f, NF);
}

static void error_reply(void **state) {
  vigil_http_response res = {0};
  assert_int_equal(vigil_http_error(&res, 400, "bad \"%s\"", "thing"), 0);
  assert_int_equal(res.status, 400);
  assert_string_equal(res.content_type, "application/json");
  json_t *j = json_loadb(res.body, res.body_len, 0, NULL);
  assert_non_null(j);
  assert_string_equal(json_string_value(json_object_get(j, "detail")), "bad \"thing\"");
  json_decref(j);
  vigil_http_response_free(&res);
  assert_null(res.body);
  vigil_http_response_free(NULL);
}

static void route_matching(void **state) {
  const char *p;
  size_t n;
  assert_true(vigil_http_route_match("/health", "/health", NULL, NULL));
  assert_false(vigil_http_route_match("/health", "/health/", NULL, NULL));
  assert_false(vigil_http_route_match("/health", "/healt", NULL, NULL));
  assert_true(vigil_http_route_match("/models/{name}/status", "/models/vit-age/status", &p, &n));
  assert_int_equal(n, 7);
  assert_memory_equal(p, "vit-age", 7);
  assert_false(vigil_http_route_match("/models/{name}", "/models/", NULL, NULL));
  assert_false(vigil_http_route_match("/models/{name}", "/models/a/b", NULL, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(full_request),   cmocka_unit_test(optional_absent_and_null),
      cmocka_unit_test(errors_name_the_field), cmocka_unit_test(image_too_large),
      cmocka_unit_test(data_url_prefix), cmocka_unit_test(error_reply),
      cmocka_unit_test(route_matching),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
