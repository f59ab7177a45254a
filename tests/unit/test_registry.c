/* Unit tests of the zoo registry: the compiled-in table against model-zoo.md,
 * the config-file format, and weights-path resolution. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/zoo.h"

typedef struct expect {
  const char *name;
  double mb;
  zoo_priority prio;
  zoo_service svc;
} expect;

/* model-zoo.md's on-demand VRAM table, its priority table and service split */
static const expect on_demand[] = {
    {"yolo11-license-plate", 300, ZOO_MEDIUM, ZOO_SVC_HEAVY},
    {"yolo11-face", 200, ZOO_HIGH, ZOO_SVC_HEAVY},
    {"paddleocr", 100, ZOO_MEDIUM, ZOO_SVC_HEAVY},
    {"clip-vit-l", 800, ZOO_MEDIUM, ZOO_SVC_HEAVY},
    {"florence-2-large", 1228.8, ZOO_LOW, ZOO_SVC_HEAVY},
    {"yolo-world-s", 1536, ZOO_LOW, ZOO_SVC_HEAVY},
    {"vitpose-small", 1536, ZOO_HIGH, ZOO_SVC_LIGHT},
    {"depth-anything-v2-small", 150, ZOO_LOW, ZOO_SVC_LIGHT},
    {"violence-detection", 500, ZOO_MEDIUM, ZOO_SVC_HEAVY},
    {"weather-classification", 200, ZOO_LOW, ZOO_SVC_HEAVY},
    {"segformer-b2-clothes", 1536, ZOO_HIGH, ZOO_SVC_HEAVY},
    {"xclip-base", 2048, ZOO_LOW, ZOO_SVC_HEAVY},
    {"fashion-clip", 800, ZOO_HIGH, ZOO_SVC_HEAVY},
    {"brisque-quality", 0, ZOO_LOW, ZOO_SVC_LIGHT},
    {"vehicle-segment-classification", 1536, ZOO_MEDIUM, ZOO_SVC_HEAVY},
    {"vehicle-damage-detection", 2048, ZOO_MEDIUM, ZOO_SVC_HEAVY},
    {"pet-classifier", 200, ZOO_MEDIUM, ZOO_SVC_LIGHT},
    {"osnet-x0-25", 100, ZOO_MEDIUM, ZOO_SVC_LIGHT},
    {"threat-detection-yolov8n", 300, ZOO_CRITICAL, ZOO_SVC_LIGHT},
    {"vit-age-classifier", 200, ZOO_HIGH, ZOO_SVC_HEAVY},
    {"vit-gender-classifier", 200, ZOO_HIGH, ZOO_SVC_HEAVY},
    {"yolov8n-pose", 200, ZOO_HIGH, ZOO_SVC_LIGHT},
};

static void test_on_demand_table(void **state) {
  zoo_registry r;
  char err[256];
  assert_int_equal(zoo_registry_init_builtin(&r, err, sizeof err), 0);
  int n = 0;
  for (int i = 0; i < r.count; i++)
    if (!(r.rows[i].flags & (ZOO_ROW_ALWAYS_LOADED | ZOO_ROW_VIGIL_DEFAULT))) n++;
  assert_int_equal(n, 22);
  for (size_t i = 0; i < sizeof on_demand / sizeof on_demand[0]; i++) {
    const zoo_model_row *row = zoo_registry_find(&r, on_demand[i].name);
    if (!row) fail_msg("missing %s", on_demand[i].name);
    if (row->declared_mb < on_demand[i].mb - 1e-6 || row->declared_mb > on_demand[i].mb + 1e-6)
      fail_msg("%s: %g MB, want %g", row->name, row->declared_mb, on_demand[i].mb);
    assert_int_equal(row->priority, on_demand[i].prio);
    assert_int_equal(row->service, on_demand[i].svc);
    assert_true(row->adapter[0] != 0);
    if (!(row->flags & ZOO_ROW_NO_WEIGHTS)) {
      assert_true(row->env_var[0] != 0);
      assert_true(row->default_path[0] != 0);
    }
  }
  /* the design's env vars */
  assert_string_equal(zoo_registry_find(&r, "vitpose-small")->env_var, "VITPOSE_MODEL_PATH");
  assert_string_equal(zoo_registry_find(&r, "vitpose-small")->default_path,
                      "/models/vitpose-plus-small");
  assert_string_equal(zoo_registry_find(&r, "vehicle-segment-classification")->env_var,
                      "VEHICLE_MODEL_PATH");
  assert_string_equal(zoo_registry_find(&r, "fashion-clip")->env_var, "CLOTHING_MODEL_PATH");
  assert_string_equal(zoo_registry_find(&r, "xclip-base")->env_var, "ACTION_MODEL_PATH");
  /* names are unique */
  for (int i = 0; i < r.count; i++)
    for (int j = i + 1; j < r.count; j++) assert_string_not_equal(r.rows[i].name, r.rows[j].name);
  zoo_registry_free(&r);
}

static void test_always_loaded_and_defaults(void **state) {
  zoo_registry r;
  char err[256];
  assert_int_equal(zoo_registry_init_builtin(&r, err, sizeof err), 0);
  const zoo_model_row *y = zoo_registry_find(&r, "yolo26");
  assert_non_null(y);
  assert_true(y->flags & ZOO_ROW_ALWAYS_LOADED);
  assert_string_equal(y->env_var, "YOLO26_MODEL_PATH");
  assert_true(y->declared_mb == 2048);
  assert_true(zoo_registry_find(&r, "clip")->flags & ZOO_ROW_ALWAYS_LOADED);
  assert_true(zoo_registry_find(&r, "florence-2")->flags & ZOO_ROW_ALWAYS_LOADED);
  const char *defaults[][2] = {
      {"centernet", "models/human/centernet.json"},
      {"nanodet", "models/human/nanodet.json"},
      {"movenet-lightning", "models/human/movenet-lightning.json"},
      {"movenet-thunder", "models/human/movenet-thunder.json"},
      {"blazeface", "models/human/blazeface.json"},
      {"gear", "models/human/gear.json"},
      {"faceres", "models/human/faceres.json"},
      {"age", "models/human/age.json"},
      {"gender", "models/human/gender.json"},
      {"ppocr-det", "models/ocr/ch_PP-OCRv4_det_infer.onnx"},
      {"ppocr-rec", "models/ocr/ch_PP-OCRv4_rec_infer.onnx"},
      {"ppocr-cls", "models/ocr/ch_ppocr_mobile_v2.0_cls_infer.onnx"},
  };
  for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
    const zoo_model_row *row = zoo_registry_find(&r, defaults[i][0]);
    if (!row) fail_msg("missing %s", defaults[i][0]);
    assert_string_equal(row->default_path, defaults[i][1]);
    assert_true(row->flags & ZOO_ROW_VIGIL_DEFAULT);
    assert_true(row->flags & ZOO_ROW_HOME_RELATIVE);
    assert_true(row->declared_mb > 0);
  }
  assert_string_equal(zoo_registry_find(&r, "movenet-lightning")->adapter, "movenet-pose");
  assert_string_equal(zoo_registry_find(&r, "gear")->adapter, "gear-demographics");
  assert_null(zoo_registry_find(&r, "no-such-model"));
  zoo_registry_free(&r);
}

static void test_config_overrides_and_adds(void **state) {
  zoo_registry r;
  char err[256];
  assert_int_equal(zoo_registry_init_builtin(&r, err, sizeof err), 0);
  int n0 = r.count;
  const char *cfg = "# site overrides\n"
                    "vitpose-small declared_mb=1400 priority=MEDIUM path=/data/vitpose\n"
                    "\n"
                    "my-detector declared_mb=120.5 priority=LOW service=light adapter=yolo-detect "
                    "env=MY_DET_PATH path=models/mine.onnx home_relative=1   # trailing comment\n";
  assert_int_equal(zoo_registry_load_config_text(&r, cfg, err, sizeof err), 0);
  assert_int_equal(r.count, n0 + 1);
  const zoo_model_row *v = zoo_registry_find(&r, "vitpose-small");
  assert_true(v->declared_mb == 1400);
  assert_int_equal(v->priority, ZOO_MEDIUM);
  assert_string_equal(v->default_path, "/data/vitpose");
  assert_string_equal(v->env_var, "VITPOSE_MODEL_PATH"); /* untouched key kept */
  const zoo_model_row *d = zoo_registry_find(&r, "my-detector");
  assert_non_null(d);
  assert_true(d->declared_mb == 120.5);
  assert_int_equal(d->service, ZOO_SVC_LIGHT);
  assert_true(d->flags & ZOO_ROW_HOME_RELATIVE);
  zoo_registry_free(&r);
}

static void test_config_errors_change_nothing(void **state) {
  zoo_registry r;
  char err[256];
  assert_int_equal(zoo_registry_init_builtin(&r, err, sizeof err), 0);
  int n0 = r.count;
  const char *bad[] = {
      "vitpose-small declared_mb=1\nnew-one priority=LOW\n", /* new row without size */
      "vitpose-small colour=blue\n",                         /* unknown key */
      "vitpose-small declared_mb=-3\n",                      /* negative */
      "vitpose-small declared_mb=nan\n",
      "vitpose-small priority=URGENT\n",
      "vitpose-small service=gpu\n",
      "bad/name declared_mb=1\n",
      "vitpose-small declared_mb\n",
      "vitpose-small always_loaded=maybe\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = 0;
    assert_int_equal(zoo_registry_load_config_text(&r, bad[i], err, sizeof err), ZOO_ECONFIG);
    assert_non_null(strstr(err, "line"));
    assert_int_equal(r.count, n0);
    assert_true(zoo_registry_find(&r, "vitpose-small")->declared_mb == 1536);
  }
  zoo_registry_free(&r);
}

static void test_config_file_from_env(void **state) {
  char path[] = "/tmp/zoo_cfg_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *text = "pet-classifier declared_mb=222\n";
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  setenv("VIGIL_ZOO_CONFIG", path, 1);
  zoo_registry r;
  char err[256];
  assert_int_equal(zoo_registry_init(&r, err, sizeof err), 0);
  assert_true(zoo_registry_find(&r, "pet-classifier")->declared_mb == 222);
  zoo_registry_free(&r);
  unlink(path);
  /* a missing file is a clear error */
  assert_int_equal(zoo_registry_init(&r, err, sizeof err), ZOO_ECONFIG);
  assert_non_null(strstr(err, path));
  unsetenv("VIGIL_ZOO_CONFIG");
}

static void test_weights_path(void **state) {
  zoo_registry r;
  char err[256], buf[1024];
  bool env;
  assert_int_equal(zoo_registry_init_builtin(&r, err, sizeof err), 0);
  setenv("VIGIL_HOME", "/tmp/zoo-home-test", 1);
  unsetenv("MOVENET_MODEL_PATH");
  const zoo_model_row *mv = zoo_registry_find(&r, "movenet-lightning");
  assert_int_equal(zoo_row_weights_path(mv, buf, sizeof buf, &env), 0);
  assert_string_equal(buf, "/tmp/zoo-home-test/models/human/movenet-lightning.json");
  assert_false(env);
  assert_false(zoo_row_installed(mv));
  char file[] = "/tmp/zoo_weights_XXXXXX";
  int fd = mkstemp(file);
  assert_true(fd >= 0);
  close(fd);
  setenv("MOVENET_MODEL_PATH", file, 1);
  assert_int_equal(zoo_row_weights_path(mv, buf, sizeof buf, &env), 0);
  assert_string_equal(buf, file);
  assert_true(env);
  assert_true(zoo_row_installed(mv));
  unlink(file);
  assert_false(zoo_row_installed(mv)); /* the env var names a file that is gone */
  unsetenv("MOVENET_MODEL_PATH");
  unsetenv("VITPOSE_MODEL_PATH");
  const zoo_model_row *vp = zoo_registry_find(&r, "vitpose-small");
  assert_int_equal(zoo_row_weights_path(vp, buf, sizeof buf, &env), 0);
  assert_string_equal(buf, "/models/vitpose-plus-small");
  /* BRISQUE's "weights" are the LIVE model files setup installs in a folder */
  const zoo_model_row *bq = zoo_registry_find(&r, "brisque-quality");
  assert_int_equal(zoo_row_weights_path(bq, buf, sizeof buf, &env), 0);
  assert_string_equal(buf, "/tmp/zoo-home-test/models/brisque");
  assert_false(zoo_row_installed(bq));
  unsetenv("VIGIL_HOME");
  zoo_registry_free(&r);
}

static void test_names(void **state) {
  zoo_priority p;
  zoo_service s;
  assert_int_equal(zoo_priority_parse("critical", &p), 0);
  assert_int_equal(p, ZOO_CRITICAL);
  assert_int_equal(zoo_priority_parse("LOW", &p), 0);
  assert_int_equal(p, ZOO_LOW);
  assert_int_equal(zoo_priority_parse("x", &p), ZOO_EINVAL);
  assert_int_equal(zoo_service_parse("light", &s), 0);
  assert_int_equal(s, ZOO_SVC_LIGHT);
  assert_string_equal(zoo_priority_name(ZOO_HIGH), "HIGH");
  assert_string_equal(zoo_service_name(ZOO_SVC_HEAVY), "heavy");
  assert_string_equal(zoo_state_name(ZOO_STATE_FAILED), "failed");
}

/* Random and mutated config text never crashes, and either applies or
 * fails with a message while leaving the registry as it was. */
static void test_config_garbage(void **state) {
  zoo_registry r;
  char err[256];
  assert_int_equal(zoo_registry_init_builtin(&r, err, sizeof err), 0);
  const char *seed = "vitpose-small declared_mb=1400 priority=HIGH service=light env=X path=/p\n"
                     "new declared_mb=1 always_loaded=1 # c\n";
  const char alphabet[] = "abz-_.=# \t\n\r0123456789eE+-x/\\\"'\x01\xff";
  unsigned seedv = 1;
  for (int iter = 0; iter < 3000; iter++) {
    char text[256];
    size_t n = strlen(seed);
    memcpy(text, seed, n + 1);
    int muts = 1 + rand_r(&seedv) % 6;
    for (int k = 0; k < muts; k++) {
      size_t at = (size_t)rand_r(&seedv) % n;
      text[at] = alphabet[rand_r(&seedv) % (sizeof alphabet - 1)];
    }
    if (iter % 3 == 0) text[rand_r(&seedv) % n] = 0; /* truncated */
    zoo_registry copy;
    assert_int_equal(zoo_registry_init_builtin(&copy, err, sizeof err), 0);
    int before = copy.count;
    err[0] = 0;
    int rc = zoo_registry_load_config_text(&copy, text, err, sizeof err);
    if (rc) {
      assert_int_equal(rc, ZOO_ECONFIG);
      assert_true(err[0] != 0);
      assert_int_equal(copy.count, before);
      assert_memory_equal(copy.rows, r.rows, (size_t)before * sizeof *r.rows);
    } else {
      assert_true(copy.count >= before);
      for (int i = 0; i < copy.count; i++) {
        assert_true(copy.rows[i].declared_mb >= 0);
        assert_true((unsigned)copy.rows[i].priority <= ZOO_LOW);
        assert_true((unsigned)copy.rows[i].service <= ZOO_SVC_LIGHT);
      }
    }
    zoo_registry_free(&copy);
  }
  zoo_registry_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_on_demand_table),
      cmocka_unit_test(test_always_loaded_and_defaults),
      cmocka_unit_test(test_config_overrides_and_adds),
      cmocka_unit_test(test_config_errors_change_nothing),
      cmocka_unit_test(test_config_file_from_env),
      cmocka_unit_test(test_weights_path),
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_config_garbage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
