/* Plate text without models: normalisation (case, separators, O/0 and I/1
 * inside letter or digit groups), PLATE_PATTERN, known plates, and voting
 * across one track's frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "vigil/plate.h"

#define DEFAULT_PATTERN "^([A-Z0-9][ -]?){3,9}[A-Z0-9]$"

static void norm_is(const char *raw, const char *want, const char *want_sep) {
  char out[PLATE_TEXT_MAX], sep[PLATE_RAW_MAX];
  plate_normalize(out, sizeof out, sep, sizeof sep, raw);
  if (strcmp(out, want) || (want_sep && strcmp(sep, want_sep)))
    fail_msg("'%s' -> '%s' / '%s', want '%s' / '%s'", raw, out, sep, want, want_sep ? want_sep : "");
}

static void test_normalize(void **s) {
  (void)s;
  norm_is("kx21 abc", "KX21ABC", "KX21 ABC");
  norm_is("AB-123-CD", "AB123CD", "AB-123-CD");
  norm_is("  ab--12  3 ", "AB123", "AB-12 3");
  /* O/0 and I/1 follow their group */
  norm_is("KX2O ABC", "KX20ABC", NULL);   /* O after a digit, end of group */
  norm_is("AB-I23-CD", "AB123CD", NULL);  /* I before digits */
  norm_is("AB-123-C0", "AB123CO", NULL);  /* 0 after a letter */
  norm_is("1B-123-CD", "IB123CD", NULL);  /* 1 before a letter */
  norm_is("L0ND0N", "LONDON", NULL);
  norm_is("KX21ABC", "KX21ABC", NULL);    /* '1' between a digit and a letter: left alone */
  norm_is("OI01", "OI01", NULL);          /* only ambiguous characters: left alone */
  /* punctuation and other scripts dropped */
  norm_is("KX21\xc2\xb7" "ABC.", "KX21ABC", NULL);
  norm_is("\xe4\xb8\xad" "AB12", "AB12", NULL);
  char out[4];
  assert_int_equal(plate_normalize(out, sizeof out, NULL, 0, "ABCDEFG"), 7); /* count, even when cut */
  assert_string_equal(out, "ABC");
}

static void test_pattern(void **s) {
  (void)s;
  plate_config pc;
  char err[256];
  assert_int_equal(plate_config_set(&pc, DEFAULT_PATTERN, NULL, 0, err, sizeof err), 0);
  assert_true(plate_matches(&pc, "KX21 ABC"));
  assert_true(plate_matches(&pc, "ab-123-cd"));
  assert_true(plate_matches(&pc, "7ABC"));
  assert_true(plate_matches(&pc, "ABCDE12345"));
  assert_false(plate_matches(&pc, "ABC"));          /* 3 characters */
  assert_false(plate_matches(&pc, "ABCDE123456"));  /* 11 */
  assert_false(plate_matches(&pc, "NO PARKING AT ALL TIMES"));
  assert_false(plate_matches(&pc, ""));
  plate_config_free(&pc);
  /* a stricter, UK-style pattern */
  assert_int_equal(plate_config_set(&pc, "^[A-Z]{2}[0-9]{2} ?[A-Z]{3}$", NULL, 0, err, sizeof err), 0);
  assert_true(plate_matches(&pc, "KX21 ABC"));
  assert_true(plate_matches(&pc, "KX2I ABC")); /* fixed to KX21 by its group */
  assert_false(plate_matches(&pc, "AB-123-CD"));
  plate_config_free(&pc);
  /* a pattern that does not compile is an error that names it */
  assert_int_equal(plate_config_set(&pc, "([A-Z", NULL, 0, err, sizeof err), -1);
  assert_non_null(strstr(err, "PLATE_PATTERN"));
}

static void test_known(void **s) {
  (void)s;
  plate_config pc;
  char err[256];
  const char *known[] = {"kx21 abc", "LR69-KVD", ""};
  assert_int_equal(plate_config_set(&pc, DEFAULT_PATTERN, known, 3, err, sizeof err), 0);
  assert_int_equal(pc.n_known, 2);
  assert_true(plate_is_known(&pc, "KX21ABC"));
  assert_true(plate_is_known(&pc, "LR69KVD"));
  assert_false(plate_is_known(&pc, "AB123CD"));
  plate_config_free(&pc);
}

static void test_votes(void **s) {
  (void)s;
  plate_votes *v = plate_votes_new();
  char best[PLATE_TEXT_MAX];
  assert_int_equal(plate_votes_add(v, 7, "KX21ABC", 0.9f, best, sizeof best, NULL), 1);
  assert_string_equal(best, "KX21ABC");
  assert_int_equal(plate_votes_add(v, 7, "KX2IABC", 0.95f, best, sizeof best, NULL), 1);
  assert_string_equal(best, "KX2IABC"); /* a tie goes to the higher confidence */
  float conf;
  assert_int_equal(plate_votes_add(v, 7, "KX21ABC", 0.8f, best, sizeof best, &conf), 2);
  assert_string_equal(best, "KX21ABC");
  assert_float_equal(conf, 0.85, 1e-6); /* mean of 0.9 and 0.8 */
  /* another track is counted apart */
  assert_int_equal(plate_votes_add(v, 8, "AB123CD", 0.7f, best, sizeof best, NULL), 1);
  assert_string_equal(best, "AB123CD");
  /* an empty reading adds nothing but reports the winner */
  assert_int_equal(plate_votes_add(v, 7, "", 0, best, sizeof best, NULL), 2);
  assert_string_equal(best, "KX21ABC");
  assert_int_equal(plate_votes_add(v, 99, "", 0, best, sizeof best, NULL), 0);
  assert_string_equal(best, "");
  plate_votes_forget(v, 7);
  assert_int_equal(plate_votes_add(v, 7, "", 0, best, sizeof best, NULL), 0);
  assert_int_equal(plate_votes_add(v, 8, "", 0, best, sizeof best, NULL), 1);
  /* many tracks: the table stays bounded and keeps working */
  for (long t = 1000; t < 1600; t++) plate_votes_add(v, t, "ZZ99ZZZ", 0.5f, best, sizeof best, NULL);
  assert_int_equal(plate_votes_add(v, 1599, "ZZ99ZZZ", 0.5f, best, sizeof best, NULL), 2);
  assert_int_equal(plate_votes_add(v, 8, "", 0, best, sizeof best, NULL), 0); /* least recently used: forgotten */
  /* a track keeps 8 distinct readings (PLATE_VOTE_TEXTS): a new one replaces the weakest, never the leader */
  assert_int_equal(plate_votes_add(v, 2000, "LEAD1", 0.9f, best, sizeof best, NULL), 1);
  assert_int_equal(plate_votes_add(v, 2000, "LEAD1", 0.9f, best, sizeof best, NULL), 2);
  for (int i = 0; i < 12; i++) {
    char text[16];
    snprintf(text, sizeof text, "ONCE%d", i);
    assert_int_equal(plate_votes_add(v, 2000, text, 0.99f, best, sizeof best, NULL), 2);
    assert_string_equal(best, "LEAD1");
  }
  assert_int_equal(plate_votes_add(v, 2000, "LEAD1", 0.9f, best, sizeof best, NULL), 3);
  assert_int_equal(plate_votes_add(v, 2000, "ONCE11", 0.99f, best, sizeof best, NULL), 3); /* 2 votes now */
  assert_int_equal(plate_votes_add(v, 2000, "ONCE11", 0.99f, best, sizeof best, NULL), 3);
  assert_string_equal(best, "ONCE11"); /* the newest reading was kept: 3 votes, ties on the higher confidence */
  plate_votes_free(v);
}

/* The pipeline's hook: a misread frame is outvoted, a frame without a reading
 * inherits the track's plate, known is re-checked on the winner. */
static void test_vote_apply(void **s) {
  (void)s;
  plate_votes *v = plate_votes_new();
  plate_config pc;
  char err[128];
  const char *known[] = {"KX21ABC"};
  assert_int_equal(plate_config_set(&pc, DEFAULT_PATTERN, known, 1, err, sizeof err), 0);
  const char *reads[] = {"KX21ABC", "KX21ABC", "KX2IABC"};
  vigil_plate pl;
  for (int i = 0; i < 3; i++) {
    memset(&pl, 0, sizeof pl);
    pl.present = true;
    snprintf(pl.text, sizeof pl.text, "%s", reads[i]);
    pl.confidence = 0.9f;
    plate_vote_apply(v, &pc, 42, &pl);
  }
  assert_string_equal(pl.text, "KX21ABC"); /* 2 votes against 1 */
  assert_int_equal(pl.votes, 2);
  assert_true(pl.known);
  memset(&pl, 0, sizeof pl);
  plate_vote_apply(v, &pc, 42, &pl); /* no reading on this frame */
  assert_true(pl.present);
  assert_string_equal(pl.text, "KX21ABC");
  assert_float_equal(pl.confidence, 0.9, 1e-6);
  memset(&pl, 0, sizeof pl);
  plate_vote_apply(v, &pc, 43, &pl); /* a track never read: stays absent */
  assert_false(pl.present);
  plate_config_free(&pc);
  plate_votes_free(v);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_normalize), cmocka_unit_test(test_pattern),
                                     cmocka_unit_test(test_known), cmocka_unit_test(test_votes),
                                     cmocka_unit_test(test_vote_apply)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
