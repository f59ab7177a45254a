/* Tests of the zoo's HTTP handlers (/models/status, /models/preload,
 * /models/unload): status codes and JSON bodies, with a fake loader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/zoo.h"
#include "zoo/zoo_http.h"

static int fake_load(void *ctx, const zoo_model_row *row, void **handle, uint64_t *measured,
                     char *err, size_t errlen) {
  *handle = malloc(1);
  *measured = (uint64_t)(row->declared_mb * ZOO_MB);
  return 0;
}
static void fake_unload(void *ctx, const zoo_model_row *row, void *handle) { free(handle); }

typedef struct svc_ctx {
  zoo_manager *zoo; /* first member: ZOO_HTTP_ROUTES finds it here */
  int other;
} svc_ctx;

static const vigil_http_route routes[] = {ZOO_HTTP_ROUTES};

static json_t *call(svc_ctx *ctx, const char *method, const char *path, const char *model,
                    int *status) {
  vigil_http_kv q = {"model_name", model};
  vigil_http_request req = {.method = method, .path = path, .query = &q, .n_query = model ? 1 : 0,
                            .body = (const uint8_t *)"", .ctx = ctx};
  vigil_http_response res = {0};
  const vigil_http_route *r = NULL;
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
    if (!strcmp(routes[i].method, method) && !strcmp(routes[i].path, path)) r = &routes[i];
  assert_non_null(r);
  assert_int_equal(r->handler(&res, &req), 0);
  *status = res.status;
  json_error_t je;
  json_t *j = json_loadb(res.body, res.body_len, 0, &je);
  assert_non_null(j);
  vigil_http_response_free(&res);
  return j;
}

static void test_endpoints(void **state) {
  zoo_registry reg = {0};
  char err[256];
  assert_int_equal(zoo_registry_load_config_text(&reg,
                                                 "small declared_mb=100 priority=HIGH\n"
                                                 "other declared_mb=100\n"
                                                 "huge declared_mb=5000\n",
                                                 err, sizeof err),
                   0);
  zoo_params p = zoo_default_params();
  p.budget_mb = 1024;
  p.acquire_timeout_ms = 20;
  p.loader = (zoo_loader){NULL, fake_load, fake_unload};
  svc_ctx ctx = {0};
  assert_int_equal(zoo_manager_init(&ctx.zoo, &reg, p, err, sizeof err), 0);
  int st;

  json_t *j = call(&ctx, "POST", "/models/preload", "small", &st);
  assert_int_equal(st, 200);
  assert_string_equal(json_string_value(json_object_get(j, "status")), "loaded");
  assert_string_equal(json_string_value(json_object_get(j, "model")), "small");
  json_decref(j);
  j = call(&ctx, "POST", "/models/preload", "small", &st);
  assert_int_equal(st, 200);
  assert_string_equal(json_string_value(json_object_get(j, "status")), "already_loaded");
  json_decref(j);

  j = call(&ctx, "POST", "/models/preload", "nope", &st);
  assert_int_equal(st, 400);
  assert_non_null(strstr(json_string_value(json_object_get(j, "detail")), "nope"));
  json_decref(j);
  j = call(&ctx, "POST", "/models/preload", NULL, &st);
  assert_int_equal(st, 400);
  json_decref(j);
  /* names with control bytes (echoed into replies and logs) or overlong: 400 before any lookup */
  const char *bad[] = {"sma\x1b[2Jll", "small\n", "a b",
                       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    j = call(&ctx, "POST", "/models/preload", bad[i], &st);
    assert_int_equal(st, 400);
    const char *d = json_string_value(json_object_get(j, "detail"));
    assert_non_null(d);
    assert_null(strchr(d, 0x1b));
    json_decref(j);
  }
  j = call(&ctx, "POST", "/models/preload", "huge", &st);
  assert_int_equal(st, 507);
  json_decref(j);

  j = call(&ctx, "GET", "/models/status", NULL, &st);
  assert_int_equal(st, 200);
  assert_string_equal(json_string_value(json_object_get(j, "status")), "healthy");
  assert_true(json_real_value(json_object_get(j, "vram_budget_mb")) == 1024.0);
  assert_true(json_real_value(json_object_get(j, "vram_used_mb")) == 100.0);
  assert_true(json_real_value(json_object_get(j, "vram_available_mb")) == 924.0);
  assert_int_equal(json_array_size(json_object_get(j, "loaded_models")), 1);
  assert_int_equal(json_array_size(json_object_get(j, "registered_models")), 3);
  json_t *huge = json_array_get(json_object_get(j, "registered_models"), 2);
  assert_non_null(strstr(json_string_value(json_object_get(huge, "error")), "budget"));
  json_decref(j);

  /* unloading a model in use: 409 */
  zoo_lease l;
  assert_int_equal(zoo_manager_acquire(ctx.zoo, "small", &l, err, sizeof err), 0);
  j = call(&ctx, "POST", "/models/unload", "small", &st);
  assert_int_equal(st, 409);
  json_decref(j);
  zoo_manager_release(ctx.zoo, &l);
  j = call(&ctx, "POST", "/models/unload", "small", &st);
  assert_int_equal(st, 200);
  assert_string_equal(json_string_value(json_object_get(j, "status")), "unloaded");
  json_decref(j);
  j = call(&ctx, "POST", "/models/unload", "small", &st);
  assert_int_equal(st, 200);
  assert_string_equal(json_string_value(json_object_get(j, "status")), "not_loaded");
  json_decref(j);
  j = call(&ctx, "POST", "/models/unload", "nope", &st);
  assert_int_equal(st, 400);
  json_decref(j);

  /* a service whose manager failed to start answers 503, never crashes */
  svc_ctx none = {0};
  j = call(&none, "GET", "/models/status", NULL, &st);
  assert_int_equal(st, 503);
  json_decref(j);

  zoo_manager_free(ctx.zoo);
  zoo_registry_free(&reg);
}

int main(void) {
  setenv("VIGIL_LOG", "warn", 0);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_endpoints)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
