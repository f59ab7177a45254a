/* Tests of the rule-based fallback scorer: each documented rule, the floors,
 * the summary/reasoning texts, and determinism. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_risk_fixtures.h"
#include "vigil/risk.h"

static int score(const vigil_batch *b, risk_rules_result *r) {
  risk_params p = risk_default_params();
  assert_int_equal(risk_rules_score(r, b, &p), 0);
  return r->score;
}

static void table_is_documented(void **state) {
  size_t n;
  const risk_rule *t = risk_rules_table(&n);
  assert_true(n >= 25);
  /* every rule id appears in docs/risk.md */
  const char *src = getenv("VIGIL_SOURCE_DIR");
  char path[1024];
  snprintf(path, sizeof path, "%s/docs/risk.md", src ? src : ".");
  FILE *f = fopen(path, "r");
  if (!f) fail_msg("cannot open %s", path);
  static char doc[65536];
  size_t len = fread(doc, 1, sizeof doc - 1, f);
  doc[len] = 0;
  fclose(f);
  for (size_t i = 0; i < n; i++) {
    char needle[96];
    snprintf(needle, sizeof needle, "`%s`", t[i].id);
    if (!strstr(doc, needle)) fail_msg("docs/risk.md lacks rule %s", t[i].id);
    char row[160];
    snprintf(row, sizeof row, "| `%s` | %s | %d |", t[i].id,
             t[i].kind == RISK_RULE_BASE ? "base" : t[i].kind == RISK_RULE_ADD ? "add" : "floor", t[i].value);
    if (!strstr(doc, row)) fail_msg("docs/risk.md row differs from code: %s", row);
  }
}

static void baseline_by_class(void **state) {
  vigil_batch b;
  risk_rules_result r;
  fx_batch(&b, "c", 12);
  fx_add(&b, "person", 0.8f, NULL);
  assert_int_equal(score(&b, &r), 20);
  assert_string_equal(r.level, "low");
  assert_true(risk_rules_fired(&r, "base_person"));
  risk_rules_result_free(&r);
  vigil_batch_free(&b);
  fx_batch(&b, "c", 12);
  fx_add(&b, "car", 0.8f, NULL);
  assert_int_equal(score(&b, &r), 10);
  risk_rules_result_free(&r);
  vigil_batch_free(&b);
  fx_batch(&b, "c", 12);
  assert_int_equal(score(&b, &r), 0);
  assert_non_null(strstr(r.reasoning, "none"));
  risk_rules_result_free(&r);
  vigil_batch_free(&b);
}

static void weapons_are_critical(void **state) {
  struct {
    const char *type;
    int min;
    const char *rule;
  } cases[] = {{"gun", 95, "weapon_firearm"}, {"rifle", 95, "weapon_firearm"}, {"pistol", 95, "weapon_firearm"},
               {"knife", 85, "weapon_knife"},  {"bat", 60, "weapon_blunt"},     {"weapon", 85, "weapon_other"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    vigil_batch b;
    risk_rules_result r;
    fx_batch(&b, "c", 12);
    vigil_enrichment e = fx_threat(cases[i].type, 0.8f, "high");
    e.clothing.present = true; /* a uniform must not lower a weapon */
    e.clothing.is_service_uniform = true;
    fx_add(&b, "person", 0.9f, &e);
    assert_int_equal(score(&b, &r), cases[i].min);
    assert_true(risk_rules_fired(&r, cases[i].rule));
    assert_false(risk_rules_fired(&r, "service_uniform"));
    if (cases[i].min >= 85) assert_string_equal(r.level, "critical");
    risk_rules_result_free(&r);
    vigil_batch_free(&b);
  }
  /* below the 0.5 cut-off or "none": no weapon */
  vigil_batch b;
  risk_rules_result r;
  fx_batch(&b, "c", 12);
  vigil_enrichment weak = fx_threat("gun", 0.3f, "critical");
  fx_add(&b, "person", 0.9f, &weak);
  vigil_enrichment none = fx_threat("none", 0.0f, "low");
  fx_add(&b, "person", 0.9f, &none);
  score(&b, &r);
  assert_false(risk_rules_fired(&r, "weapon_firearm"));
  assert_true(r.score < 60);
  risk_rules_result_free(&r);
  vigil_batch_free(&b);
  /* a weapon as a detector class */
  fx_batch(&b, "c", 12);
  fx_add(&b, "knife", 0.7f, NULL);
  assert_true(score(&b, &r) >= 85);
  assert_true(risk_rules_fired(&r, "weapon_knife"));
  risk_rules_result_free(&r);
  vigil_batch_free(&b);
}

static void damage_patterns(void **state) {
  const char *gl[] = {"glass_shatter", "lamp_broken"};
  const char *sd[] = {"scratch", "dent"};
  const char *sc[] = {"scratch"};
  int c2[] = {1, 1};
  float f2[] = {0.9f, 0.8f};
  vigil_batch b;
  risk_rules_result r;
  /* day, one scratch: damage_any only */
  fx_batch(&b, "c", 13);
  vigil_enrichment e = fx_damage(1, sc, c2, f2);
  fx_add(&b, "car", 0.9f, &e);
  assert_int_equal(score(&b, &r), 20);
  assert_true(risk_rules_fired(&r, "damage_any"));
  assert_false(risk_rules_fired(&r, "damage_night"));
  risk_rules_result_free(&r);
  vigil_batch_free(&b);
  /* night + scratch + dent: elevated and likely incident */
  fx_batch(&b, "c", 23);
  e = fx_damage(2, sd, c2, f2);
  fx_add(&b, "car", 0.9f, &e);
  assert_int_equal(score(&b, &r), 10 + 10 + 15 + 15);
  assert_true(risk_rules_fired(&r, "damage_night"));
  assert_true(risk_rules_fired(&r, "damage_multi"));
  assert_false(risk_rules_fired(&r, "damage_high_security_night"));
  risk_rules_result_free(&r);
  vigil_batch_free(&b);
  /* day break-in pattern: floor 70 */
  fx_batch(&b, "c", 10);
  e = fx_damage(2, gl, c2, f2);
  fx_add(&b, "car", 0.9f, &e);
  assert_int_equal(score(&b, &r), 70);
  assert_true(risk_rules_fired(&r, "damage_breakin"));
  assert_string_equal(r.level, "high");
  risk_rules_result_free(&r);
  vigil_batch_free(&b);
  /* high-security damage at night (05:00): critical */
  fx_batch(&b, "c", 5);
  e = fx_damage(1, gl, c2, f2);
  fx_add(&b, "car", 0.9f, &e);
  assert_int_equal(score(&b, &r), 85);
  assert_true(risk_rules_fired(&r, "damage_high_security_night"));
  assert_string_equal(r.level, "critical");
  risk_rules_result_free(&r);
  vigil_batch_free(&b);
}

/* An unknown plate at night adds its weight; by day it does not; only known
 * (household) plates lower the score. */
static void plate_rules(void **state) {
  (void)state;
  vigil_batch b;
  risk_rules_result r;
  fx_batch(&b, "drive", 2);
  vigil_enrichment e = fx_plate("AB123CD", false);
  fx_add(&b, "car", 0.9f, &e);
  assert_int_equal(score(&b, &r), 10 + 15);
  assert_true(risk_rules_fired(&r, "plate_unknown_night"));
  assert_non_null(strstr(r.reasoning, "AB123CD"));
  risk_rules_result_free(&r);
  vigil_batch_free(&b);
  fx_batch(&b, "drive", 14);
  fx_add(&b, "car", 0.9f, &e);
  assert_int_equal(score(&b, &r), 10);
  assert_false(risk_rules_fired(&r, "plate_unknown_night"));
  risk_rules_result_free(&r);
  vigil_batch_free(&b);
  /* known plate with a person at night: -10 against the person's +15 */
  fx_batch(&b, "drive", 23);
  e = fx_plate("KX21ABC", true);
  fx_add(&b, "car", 0.9f, &e);
  fx_add(&b, "person", 0.9f, NULL);
  assert_int_equal(score(&b, &r), 20 + 15 - 10);
  assert_true(risk_rules_fired(&r, "plate_known"));
  assert_false(risk_rules_fired(&r, "plate_unknown_night"));
  risk_rules_result_free(&r);
  vigil_batch_free(&b);
  /* a known and an unknown plate: no discount, the unknown one counts */
  fx_batch(&b, "drive", 23);
  fx_add(&b, "car", 0.9f, &e);
  vigil_enrichment u = fx_plate("ZZ99ZZZ", false);
  fx_add(&b, "car", 0.9f, &u);
  assert_int_equal(score(&b, &r), 10 + 15);
  assert_false(risk_rules_fired(&r, "plate_known"));
  risk_rules_result_free(&r);
  vigil_batch_free(&b);
}

/* The household pet discount and the entrance rule, as a table. */
static void pet_and_entrance_rules(void **state) {
  static const struct {
    const char *what;
    const char *cls;
    bool pet, household, depth, entrance;
    float distance;
    int score;
    const char *fired, *not_fired;
  } rows[] = {
      {"unknown dog", "dog", true, false, false, false, 0, 5, "base_animal", "pet_household"},
      {"household dog", "dog", true, true, false, false, 0, 0, "pet_household", NULL},
      {"dog without a pet part", "dog", false, false, false, false, 0, 5, NULL, "pet_household"},
      {"person at 3 m, entrance", "person", false, false, true, true, 3.0f, 45, "person_approaching_entrance", NULL},
      {"person at 3 m, no entrance", "person", false, false, true, false, 3.0f, 20, NULL,
       "person_approaching_entrance"},
      {"person at 8 m, entrance", "person", false, false, true, true, 8.0f, 30, "zone_entered",
       "person_approaching_entrance"},
      {"person without depth, entrance", "person", false, false, false, true, 0, 30, NULL,
       "person_approaching_entrance"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
    vigil_batch b;
    risk_rules_result r;
    fx_batch(&b, "c", 13);
    vigil_enrichment e = fx_none();
    if (rows[i].pet) {
      e.pet.present = true;
      snprintf(e.pet.type, sizeof e.pet.type, "%s", rows[i].cls);
      e.pet.is_household = rows[i].household;
    }
    if (rows[i].depth) {
      e.depth.present = true;
      e.depth.distance_m = rows[i].distance;
    }
    fx_add(&b, rows[i].cls, 0.8f, &e);
    if (rows[i].entrance) {
      vigil_batch_add_zone(&b, "front door");
      vigil_batch_mark_entrance(&b, "front door");
    }
    int sc = score(&b, &r);
    if (sc != rows[i].score) fail_msg("%s: score %d, expected %d", rows[i].what, sc, rows[i].score);
    if (rows[i].fired && !risk_rules_fired(&r, rows[i].fired)) fail_msg("%s: %s did not fire", rows[i].what, rows[i].fired);
    if (rows[i].not_fired && risk_rules_fired(&r, rows[i].not_fired))
      fail_msg("%s: %s fired", rows[i].what, rows[i].not_fired);
    risk_rules_result_free(&r);
    vigil_batch_free(&b);
  }
}

static void behaviour_rules(void **state) {
  vigil_batch b;
  risk_rules_result r;
  fx_batch(&b, "c", 2);
  vigil_enrichment e = fx_none();
  e.pose.present = true;
  vigil_strlcpy(e.pose.posture, "crouching", sizeof e.pose.posture);
  e.pose.n_alerts = 1;
  vigil_strlcpy(e.pose.alerts[0], "crouching", VIGIL_NAME_LEN);
  e.clothing.present = true;
  vigil_strlcpy(e.clothing.type, "hoodie", sizeof e.clothing.type);
  vigil_strlcpy(e.clothing.color, "dark", sizeof e.clothing.color);
  fx_add(&b, "person", 0.9f, &e);
  /* 20 base + 15 night + 15 crouching + 10 dark hoodie at night */
  assert_int_equal(score(&b, &r), 60);
  assert_true(risk_rules_fired(&r, "night_person"));
  assert_true(risk_rules_fired(&r, "pose_crouching"));
  assert_true(risk_rules_fired(&r, "clothing_dark_hoodie_night"));
  assert_non_null(strstr(r.reasoning, "- pose_crouching:"));
  assert_non_null(strstr(r.reasoning, "+15"));
  assert_non_null(strstr(r.summary, "High risk on camera c"));
  assert_non_null(strstr(r.summary, "(night)"));
  risk_rules_result_free(&r);
  /* same at noon: the hoodie is not suspicious and there is no night bonus */
  b.local_hour = 12;
  assert_int_equal(score(&b, &r), 35);
  risk_rules_result_free(&r);
  vigil_batch_free(&b);

  fx_batch(&b, "c", 12);
  e = fx_none();
  e.clothing.present = true;
  vigil_strlcpy(e.clothing.type, "person wearing ski mask or balaclava", sizeof e.clothing.type);
  e.pose.present = true;
  e.pose.n_alerts = 2;
  vigil_strlcpy(e.pose.alerts[0], "hands_raised", VIGIL_NAME_LEN);
  vigil_strlcpy(e.pose.alerts[1], "fighting_stance", VIGIL_NAME_LEN);
  fx_add(&b, "person", 0.9f, &e);
  assert_int_equal(score(&b, &r), 20 + 20 + 25 + 25);
  assert_string_equal(r.level, "critical");
  assert_non_null(strstr(r.summary, "Main factors"));
  risk_rules_result_free(&r);
  vigil_batch_free(&b);
}

static void uniform_loiter_count_faces_zones(void **state) {
  vigil_batch b;
  risk_rules_result r;
  fx_batch(&b, "c", 12);
  vigil_enrichment e = fx_none();
  e.clothing.present = true;
  vigil_strlcpy(e.clothing.type, "UPS uniform", sizeof e.clothing.type);
  e.clothing.is_service_uniform = true;
  fx_add(&b, "person", 0.9f, &e);
  assert_int_equal(score(&b, &r), 5);
  assert_true(risk_rules_fired(&r, "service_uniform"));
  risk_rules_result_free(&r);
  vigil_batch_free(&b);

  /* loitering and two cameras, same track for two detections: one person */
  fx_batch(&b, "c", 12);
  e = fx_none();
  e.reid.present = true;
  vigil_strlcpy(e.reid.person_id, "P1", sizeof e.reid.person_id);
  e.reid.first_seen = 1000;
  e.reid.last_seen = 1000 + 301;
  e.reid.n_cameras = 2;
  fx_add(&b, "person", 0.9f, &e);
  fx_add(&b, "person", 0.9f, &e);
  assert_int_equal(score(&b, &r), 20 + 15 + 5);
  assert_true(risk_rules_fired(&r, "loitering"));
  assert_false(risk_rules_fired(&r, "persons_2"));
  risk_rules_result_free(&r);
  e.reid.last_seen = 1000 + 299;
  b.enr[0] = b.enr[1] = e;
  score(&b, &r);
  assert_false(risk_rules_fired(&r, "loitering"));
  risk_rules_result_free(&r);
  vigil_batch_free(&b);

  /* three untracked people, an unknown face, a zone */
  fx_batch(&b, "c", 12);
  vigil_batch_add_zone(&b, "driveway");
  e = fx_none();
  e.face.present = true;
  fx_add(&b, "person", 0.9f, &e);
  fx_add(&b, "person", 0.9f, NULL);
  fx_add(&b, "person", 0.9f, NULL);
  assert_int_equal(score(&b, &r), 20 + 10 + 5 + 10);
  assert_true(risk_rules_fired(&r, "persons_3plus"));
  assert_true(risk_rules_fired(&r, "face_unknown"));
  assert_true(risk_rules_fired(&r, "zone_entered"));
  risk_rules_result_free(&r);
  vigil_batch_free(&b);

  /* a known face alone lowers the score to the floor of 0..100 */
  fx_batch(&b, "c", 12);
  e = fx_none();
  e.face.present = true;
  e.face.known = true;
  fx_add(&b, "person", 0.9f, &e);
  assert_int_equal(score(&b, &r), 5);
  assert_true(risk_rules_fired(&r, "face_known"));
  risk_rules_result_free(&r);
  vigil_batch_free(&b);
}

static void deterministic(void **state) {
  vigil_batch b;
  fx_batch(&b, "c", 23);
  vigil_enrichment e = fx_threat("knife", 0.9f, "high");
  fx_add(&b, "person", 0.9f, &e);
  fx_add(&b, "car", 0.9f, NULL);
  risk_rules_result a, c;
  score(&b, &a);
  score(&b, &c);
  assert_int_equal(a.score, c.score);
  assert_string_equal(a.summary, c.summary);
  assert_string_equal(a.reasoning, c.reasoning);
  risk_rules_result_free(&a);
  risk_rules_result_free(&c);
  risk_rules_result_free(NULL);
  vigil_batch_free(&b);
  vigil_batch_free(NULL);
}

/* Pipeline batches: one entry per tracked object; counts are objects, a
 * person's dwell on the camera is loitering, stationary vehicles are parked. */
static void tracked_objects(void **state) {
  (void)state;
  vigil_batch b;
  risk_rules_result r;
  fx_batch(&b, "c", 12);
  for (int i = 0; i < 3; i++) {
    fx_add(&b, "person", 0.7f, NULL);
    b.dets[b.n - 1].track_id = (uint32_t)(i + 1);
    b.dets[b.n - 1].first_seen = 1000, b.dets[b.n - 1].last_seen = 1000 + 20 * i;
  }
  for (int i = 0; i < 2; i++) {
    fx_add(&b, "car", 0.7f, NULL);
    b.dets[b.n - 1].track_id = (uint32_t)(10 + i);
    b.dets[b.n - 1].stationary = true;
  }
  score(&b, &r);
  assert_non_null(strstr(r.summary, "3 people"));
  assert_non_null(strstr(r.summary, "2 parked vehicles"));
  assert_null(strstr(r.summary, "detection"));
  assert_true(risk_rules_fired(&r, "persons_3plus"));
  assert_false(risk_rules_fired(&r, "loitering"));
  risk_rules_result_free(&r);
  b.dets[2].last_seen = 1000 + 301; /* one person stays past RISK_LOITER_S (300) */
  score(&b, &r);
  assert_true(risk_rules_fired(&r, "loitering"));
  risk_rules_result_free(&r);
  vigil_batch_free(&b);
}

/* "A ladder against the house at night": a class on the camera's watch list raises the
 * risk, more at night; the same class on a camera without it is only an object. */
static void watch_list_rules(void **state) {
  (void)state;
  vigil_batch b;
  risk_rules_result r;
  fx_batch(&b, "c", 23);
  fx_add(&b, "ladder", 0.6f, NULL);
  assert_int_equal(score(&b, &r), 5); /* no watch list: base_other only */
  assert_false(risk_rules_fired(&r, "watched_object"));
  risk_rules_result_free(&r);
  b.n_watch = 2;
  snprintf(b.watch[0], sizeof b.watch[0], "crowbar");
  snprintf(b.watch[1], sizeof b.watch[1], "Ladder");
  assert_int_equal(score(&b, &r), 5 + 10 + 20);
  assert_true(risk_rules_fired(&r, "watched_object") && risk_rules_fired(&r, "watched_object_night"));
  assert_string_equal(r.level, "medium");
  assert_non_null(strstr(r.summary, "watch-list object at night"));
  assert_non_null(strstr(r.reasoning, "ladder at 23:00"));
  risk_rules_result_free(&r);
  b.local_hour = 14; /* daytime: watched, not the night rule */
  assert_int_equal(score(&b, &r), 15);
  assert_true(risk_rules_fired(&r, "watched_object"));
  assert_false(risk_rules_fired(&r, "watched_object_night"));
  risk_rules_result_free(&r);
  /* a person at night with a watched ladder: both raise */
  b.local_hour = 2;
  fx_add(&b, "person", 0.8f, NULL);
  assert_int_equal(score(&b, &r), 20 + 15 + 10 + 20);
  risk_rules_result_free(&r);
  vigil_batch_free(&b);
}

/* violence on a multi-person frame: +30 and a behaviour alert (no uniform discount) */
static void violence_rule(void **state) {
  (void)state;
  vigil_batch b;
  risk_rules_result r;
  fx_batch(&b, "c", 14);
  vigil_enrichment e;
  memset(&e, 0, sizeof e);
  e.violence.present = true, e.violence.violent = true, e.violence.confidence = 0.93f;
  e.clothing.present = true, e.clothing.is_service_uniform = true;
  snprintf(e.clothing.type, sizeof e.clothing.type, "delivery uniform");
  fx_add(&b, "person", 0.8f, &e);
  fx_add(&b, "person", 0.8f, NULL);
  assert_int_equal(score(&b, &r), 20 + 5 + 30);
  assert_true(risk_rules_fired(&r, "violence_detected"));
  assert_false(risk_rules_fired(&r, "service_uniform"));
  assert_non_null(strstr(r.reasoning, "violence 93%"));
  risk_rules_result_free(&r);
  b.enr[0].violence.violent = false, b.enr[0].violence.confidence = 0.2f;
  score(&b, &r);
  assert_false(risk_rules_fired(&r, "violence_detected"));
  risk_rules_result_free(&r);
  vigil_batch_free(&b);
}

/* risk_analyze stores the ids of the fired rules with the event (rules
 * scorer here: no LLM configured), in table order, as the reasoning lists them. */
static void analyze_keeps_rule_ids(void **state) {
  (void)state;
  vigil_batch b;
  fx_batch(&b, "c", 23);
  vigil_enrichment e = fx_threat("knife", 0.9f, "high");
  fx_add(&b, "person", 0.9f, &e);
  risk_analyzer *a;
  risk_params p = risk_default_params();
  assert_int_equal(risk_analyzer_init(&a, &p, NULL, 0), 0);
  vigil_event ev;
  vigil_event_init(&ev);
  assert_int_equal(risk_analyze(a, &b, &ev, NULL, 0), 0);
  assert_int_equal(ev.n_rules, 3);
  assert_string_equal(ev.rules[0], "base_person");
  assert_string_equal(ev.rules[1], "weapon_knife");
  assert_string_equal(ev.rules[2], "night_person");
  for (int i = 0; i < ev.n_rules; i++) {
    char line[64];
    snprintf(line, sizeof line, "\n- %s: ", ev.rules[i]);
    assert_non_null(strstr(ev.reasoning, line));
  }
  vigil_event_free(&ev);
  risk_analyzer_free(a);
  vigil_batch_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(violence_rule),
      cmocka_unit_test(watch_list_rules),
      cmocka_unit_test(table_is_documented),
      cmocka_unit_test(baseline_by_class),
      cmocka_unit_test(weapons_are_critical),
      cmocka_unit_test(damage_patterns),
      cmocka_unit_test(plate_rules),
      cmocka_unit_test(pet_and_entrance_rules),
      cmocka_unit_test(behaviour_rules),
      cmocka_unit_test(uniform_loiter_count_faces_zones),
      cmocka_unit_test(deterministic),
      cmocka_unit_test(tracked_objects),
      cmocka_unit_test(analyze_keeps_rule_ids),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
