/* The class vocabulary: kinds, the SECURITY_CLASSES flag, weapons and their
 * threat type and severity, case-insensitive labels, kind names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "vigil/classes.h"
#include "vigil/detect.h"

static void test_kinds(void **s) {
  (void)s;
  assert_int_equal(vigil_class_kind("person"), VIGIL_KIND_PERSON);
  assert_int_equal(vigil_class_kind("Person"), VIGIL_KIND_PERSON);
  assert_int_equal(vigil_class_kind("bus"), VIGIL_KIND_VEHICLE);
  assert_int_equal(vigil_class_kind("TRUCK"), VIGIL_KIND_VEHICLE);
  assert_int_equal(vigil_class_kind("vehicle"), VIGIL_KIND_VEHICLE);
  assert_int_equal(vigil_class_kind("Dog"), VIGIL_KIND_ANIMAL);
  assert_int_equal(vigil_class_kind("knife"), VIGIL_KIND_OBJECT);
  assert_int_equal(vigil_class_kind("toaster"), VIGIL_KIND_OBJECT);
  assert_int_equal(vigil_class_kind(NULL), VIGIL_KIND_OBJECT);
  assert_null(vigil_class_find("toaster"));
  assert_string_equal(vigil_class_find("BiCycle")->label, "bicycle");
}

/* The detector keeps exactly the nine classes of the design; every one of
 * them is a COCO name (the filter runs on COCO labels). */
static void test_security(void **s) {
  (void)s;
  static const char *const keep[] = {"person", "car", "truck", "dog", "cat", "bird", "bicycle", "motorcycle", "bus"};
  int n = 0;
  for (int i = 0; i < 80; i++) n += vigil_class_security(coco_label(i));
  assert_int_equal(n, 9);
  for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
    assert_true(vigil_class_security(keep[i]));
    assert_true(coco_class_id(keep[i]) >= 0);
  }
  assert_false(vigil_class_security("vehicle"));
  assert_false(vigil_class_security("knife"));
  assert_false(vigil_class_security(NULL));
}

static void test_threats(void **s) {
  (void)s;
  const char *type = NULL, *sev = NULL;
  static const struct {
    const char *label, *type, *sev;
  } want[] = {{"knife", "knife", "high"},          {"gun", "gun", "critical"},       {"Rifle", "gun", "critical"},
              {"shotgun", "gun", "critical"},      {"HANDGUN", "gun", "critical"},   {"weapon", "weapon", "high"},
              {"baseball bat", "weapon", "medium"}, {"crowbar", "weapon", "medium"}};
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
    assert_true(vigil_class_threat(want[i].label, &type, &sev));
    assert_string_equal(type, want[i].type);
    assert_string_equal(sev, want[i].sev);
  }
  assert_false(vigil_class_threat("person", &type, &sev));
  assert_false(vigil_class_threat("scissors", &type, &sev));
  assert_int_equal(vigil_class_weapon("pistol"), VIGIL_WEAPON_FIREARM);
  assert_int_equal(vigil_class_weapon("bat"), VIGIL_WEAPON_BLUNT);
  assert_int_equal(vigil_class_weapon("car"), VIGIL_WEAPON_NONE);
}

static void test_kind_names(void **s) {
  (void)s;
  for (int k = VIGIL_KIND_PERSON; k <= VIGIL_KIND_OBJECT; k++) {
    vigil_kind back = VIGIL_KIND_OBJECT;
    assert_int_equal(vigil_kind_parse(vigil_kind_name((vigil_kind)k), &back), 0);
    assert_int_equal(back, k);
  }
  vigil_kind k = VIGIL_KIND_PERSON;
  assert_int_equal(vigil_kind_parse("alien", &k), -1);
  assert_int_equal(vigil_kind_parse(NULL, &k), -1);
  assert_int_equal(k, VIGIL_KIND_PERSON);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_kinds), cmocka_unit_test(test_security),
                                     cmocka_unit_test(test_threats), cmocka_unit_test(test_kind_names)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
