/* The zoo with real vrt models: measured bytes (weights + arena peak) replace
 * the declared size, and broken or missing model files fail cleanly without
 * touching the budget. Needs `make deps` (models/human/movenet-lightning). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/assets.h"
#include "vigil/zoo.h"
#include "vrt/vrt.h"

static void test_real_model_measured(void **state) {
  char path[1024];
  if (vigil_asset_require(path, sizeof path, "models/human/movenet-lightning.json"))
    fail_msg("%s", vigil_asset_errmsg());
  char junk[] = "/tmp/zoo_junk_XXXXXX.onnx";
  int fd = mkstemps(junk, 5);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "this is not a model", 19), 19);
  close(fd);
  char cfg[512];
  snprintf(cfg, sizeof cfg,
           "junk declared_mb=10 adapter=vit-classify env=ZOO_TEST_JUNK path=%s\n"
           "gone declared_mb=10 path=/nonexistent/model.onnx\n",
           junk);
  zoo_registry reg;
  char err[512];
  assert_int_equal(zoo_registry_init_builtin(&reg, err, sizeof err), 0);
  assert_int_equal(zoo_registry_load_config_text(&reg, cfg, err, sizeof err), 0);
  zoo_params p = zoo_default_params();
  p.budget_mb = 512;
  p.loader = zoo_vrt_loader(1);
  zoo_manager *m;
  assert_int_equal(zoo_manager_init(&m, &reg, p, err, sizeof err), 0);

  zoo_lease l;
  assert_int_equal(zoo_manager_acquire(m, "movenet-lightning", &l, err, sizeof err), 0);
  zoo_vrt_model *h = l.handle;
  assert_non_null(h->model);
  assert_non_null(h->session);
  assert_int_equal(h->weight_bytes, vrt_model_weight_bytes(h->model));
  assert_true(h->weight_bytes > 4000000); /* 4.6 MB of fp16 on disk */
  assert_true(h->arena_peak_bytes > 0);
  uint64_t measured = h->weight_bytes + h->arena_peak_bytes;
  assert_int_equal(zoo_manager_used_bytes(m), measured);
  zoo_manager_release(m, &l);
  zoo_snapshot s;
  assert_int_equal(zoo_manager_status(m, &s), 0);
  for (int i = 0; i < s.nmodels; i++)
    if (!strcmp(s.models[i].name, "movenet-lightning")) {
      assert_true(s.models[i].loaded);
      assert_true(s.models[i].declared_mb == 40.0);
      double want = (double)measured / ZOO_MB;
      assert_true(s.models[i].measured_mb > want - 1e-9 && s.models[i].measured_mb < want + 1e-9);
    }
  zoo_snapshot_free(&s);

  /* broken and missing files: clear errors, budget untouched, service up */
  uint64_t before = zoo_manager_used_bytes(m);
  assert_int_equal(zoo_manager_acquire(m, "junk", &l, err, sizeof err), ZOO_ELOAD);
  assert_non_null(strstr(err, junk));
  assert_int_equal(zoo_manager_used_bytes(m), before);
  assert_int_equal(zoo_manager_acquire(m, "gone", &l, err, sizeof err), ZOO_ELOAD);
  assert_non_null(strstr(err, "/nonexistent/model.onnx"));
  assert_int_equal(zoo_manager_used_bytes(m), before);
  assert_int_equal(zoo_manager_acquire(m, "movenet-lightning", &l, err, sizeof err), 0);
  zoo_manager_release(m, &l);

  zoo_manager_free(m);
  zoo_registry_free(&reg);
  unlink(junk);
}

int main(void) {
  setenv("VIGIL_LOG", "error", 0);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_real_model_measured)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
