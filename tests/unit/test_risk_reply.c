/* Tests of LLM reply handling: think stripping, JSON extraction, clamping,
 * level derivation, defaults, and rejection of unusable replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/risk.h"

static int parse(risk_reply *r, const char *s) {
  char err[256] = "";
  return risk_parse_reply(r, s, strlen(s), err, sizeof err);
}

static void plain_valid(void **state) {
  risk_reply r;
  assert_int_equal(parse(&r, "{\"risk_score\": 72, \"risk_level\": \"high\", \"summary\": \"Person at door\", "
                             "\"reasoning\": \"Night, crouching\"}"), 0);
  assert_int_equal(r.risk_score, 72);
  assert_string_equal(r.risk_level, "high");
  assert_string_equal(r.summary, "Person at door");
  assert_string_equal(r.reasoning, "Night, crouching");
  assert_false(r.score_clamped || r.level_derived || r.filled_defaults);
  risk_reply_free(&r);
  risk_reply_free(&r); /* idempotent */
  risk_reply_free(NULL);
}

static void prose_fences_and_think(void **state) {
  risk_reply r;
  const char *s = "<think>The user wants {\"risk_score\": 1}. Let me think... {oops</think>\n"
                  "Here is my assessment:\n```json\n{\"risk_score\": 40, \"risk_level\": \"MEDIUM\", "
                  "\"summary\": \"A {brace} in text\", \"reasoning\": \"ok\"}\n```\nThanks!";
  assert_int_equal(parse(&r, s), 0);
  assert_int_equal(r.risk_score, 40);
  assert_string_equal(r.risk_level, "medium");
  assert_false(r.level_derived); /* case only */
  assert_string_equal(r.summary, "A {brace} in text");
  risk_reply_free(&r);
  /* a closing tag with no opener (the opener was in the prompt) */
  assert_int_equal(parse(&r, "reasoning {\"risk_score\":3} here</think>{\"risk_score\": 90, \"summary\":\"s\","
                             "\"reasoning\":\"r\"}"), 0);
  assert_int_equal(r.risk_score, 90);
  assert_string_equal(r.risk_level, "critical");
  assert_true(r.level_derived);
  risk_reply_free(&r);
  /* an unclosed leading think block whose only JSON is inside it: last resort */
  assert_int_equal(parse(&r, "<think>I will answer {\"risk_score\": 12, \"summary\":\"x\",\"reasoning\":\"y\"}"), 0);
  assert_int_equal(r.risk_score, 12);
  risk_reply_free(&r);
  /* a preceding object without risk_score is skipped */
  assert_int_equal(parse(&r, "{\"note\": 1} then {\"risk_score\": 55, \"summary\":\"a\",\"reasoning\":\"b\"}"), 0);
  assert_int_equal(r.risk_score, 55);
  risk_reply_free(&r);
}

static void clamp_and_strings(void **state) {
  risk_reply r;
  assert_int_equal(parse(&r, "{\"risk_score\": 250, \"risk_level\": \"low\", \"summary\": \"s\", \"reasoning\": \"r\"}"), 0);
  assert_int_equal(r.risk_score, 100);
  assert_true(r.score_clamped);
  assert_string_equal(r.risk_level, "critical");
  assert_true(r.level_derived);
  risk_reply_free(&r);
  assert_int_equal(parse(&r, "{\"risk_score\": -7.5, \"summary\": \"s\", \"reasoning\": \"r\"}"), 0);
  assert_int_equal(r.risk_score, 0);
  assert_string_equal(r.risk_level, "low");
  risk_reply_free(&r);
  assert_int_equal(parse(&r, "{\"risk_score\": \" 64.6 \", \"risk_level\": \"severe\", \"summary\": \"s\", \"reasoning\": [\"a\", \"b\"]}"), 0);
  assert_int_equal(r.risk_score, 65);
  assert_string_equal(r.risk_level, "high");
  assert_true(r.level_derived);
  assert_string_equal(r.reasoning, "a; b");
  risk_reply_free(&r);
  /* bands at their edges */
  const int sc[] = {29, 30, 59, 60, 84, 85};
  const char *lv[] = {"low", "medium", "medium", "high", "high", "critical"};
  for (int i = 0; i < 6; i++) {
    char buf[64];
    snprintf(buf, sizeof buf, "{\"risk_score\": %d}", sc[i]);
    assert_int_equal(parse(&r, buf), 0);
    assert_string_equal(r.risk_level, lv[i]);
    assert_true(r.filled_defaults);
    assert_non_null(strstr(r.summary, "no summary"));
    risk_reply_free(&r);
  }
}

/* Issue 10 item 2.10: terminal escapes in model text never reach a terminal:
 * C0 controls (but newline and tab), DEL and UTF-8 C1 codes become spaces. */
static void control_characters_removed(void **state) {
  risk_reply r;
  const char *txt = "{\"risk_score\": 40, \"summary\": \"\\u001b]0;pwned\\u0007 ok \\u009b31m red\\u007f\", "
                    "\"reasoning\": \"line 1\\nline 2\\t\\u001b[2J\\r\"}";
  assert_int_equal(parse(&r, txt), 0);
  for (const unsigned char *p = (const unsigned char *)r.summary; *p; p++) {
    assert_true(*p >= 0x20 && *p != 0x7f);
    assert_false(*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F);
  }
  assert_non_null(strstr(r.summary, "]0;pwned  ok  31m red"));
  assert_string_equal(r.reasoning, "line 1\nline 2\t [2J ");
  risk_reply_free(&r);
}

static void rejects_unusable(void **state) {
  risk_reply r;
  const char *bad[] = {"", "no json here", "{\"risk_score\": ", "{\"risk_level\": \"high\"}",
                       "{\"risk_score\": \"high\"}", "{\"risk_score\": null}", "[1,2,3]",
                       "{\"risk_score\": 50", "<think>{\"risk_score\": 1}</think>",
                       "{\"risk_score\": 1e999}",
                       /* strings hold a plain decimal number or nothing usable */
                       "{\"risk_score\": \"0x50\"}", "{\"risk_score\": \"1e2\"}", "{\"risk_score\": \"inf\"}",
                       "{\"risk_score\": \"72 of 100\"}", "{\"risk_score\": \"5.\"}", "{\"risk_score\": \".\"}",
                       "{\"risk_score\": \"nan\"}", "{\"risk_score\": \"+-3\"}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char err[128] = "";
    int rc = risk_parse_reply(&r, bad[i], strlen(bad[i]), err, sizeof err);
    if (rc != RISK_EREPLY) fail_msg("accepted \"%s\" (rc %d)", bad[i], rc);
    assert_true(err[0] != '\0');
    assert_null(r.summary);
  }
  assert_int_equal(risk_parse_reply(&r, NULL, 0, NULL, 0), RISK_EREPLY);
  /* NUL bytes and deep nesting do not crash */
  const char nul[] = "{\"risk_score\": 5\0, \"x\": 1}";
  risk_parse_reply(&r, nul, sizeof nul - 1, NULL, 0);
  risk_reply_free(&r);
  size_t n = 200000;
  char *deep = malloc(n + 1);
  memset(deep, '{', n);
  deep[n] = 0;
  assert_int_equal(risk_parse_reply(&r, deep, n, NULL, 0), RISK_EREPLY);
  free(deep);
}

static void long_fields_are_capped(void **state) {
  size_t n = 100000;
  char *s = malloc(n + 64);
  strcpy(s, "{\"risk_score\": 10, \"summary\": \"");
  size_t l = strlen(s);
  memset(s + l, 'a', n);
  strcpy(s + l + n, "\"}");
  risk_reply r;
  assert_int_equal(risk_parse_reply(&r, s, strlen(s), NULL, 0), 0);
  assert_true(strlen(r.summary) <= 4000);
  risk_reply_free(&r);
  free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(plain_valid),
      cmocka_unit_test(prose_fences_and_think),
      cmocka_unit_test(clamp_and_strings),
      cmocka_unit_test(control_characters_removed),
      cmocka_unit_test(rejects_unusable),
      cmocka_unit_test(long_fields_are_capped),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
