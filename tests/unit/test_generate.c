/* Greedy and beam search against hand-worked cases on a mock decoder whose next-token
 * distribution depends on the last TWO tokens it has cached, so a beam whose cache
 * rows were not reordered by `parent` would get the wrong distribution: greedy and beam
 * differ where they must, the length penalty decides between a short and a long
 * hypothesis, a model that never stops is cut at max_new_tokens, and repeated n-grams
 * are banned. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/generate.h"

enum { BOS = 0, PAD = 1, EOS = 2, A = 3, B = 4, X = 5, Y = 6, Z = 7, V = 8 };

typedef struct {
  int32_t cache[64][64];
  int len;
  int calls;
  int fail_at;
} mock;

static void dist(float *p, int32_t prev2, int32_t prev1) {
  for (int v = 0; v < V; v++) p[v] = 0;
  if (prev1 == BOS) p[A] = 0.55f, p[B] = 0.45f;
  else if (prev1 == A || prev1 == B) p[X] = 1;
  else if (prev1 == X && prev2 == A) p[EOS] = 0.2f, p[Y] = 0.8f;
  else if (prev1 == X && prev2 == B) p[EOS] = 1;
  else if (prev1 == Y) p[EOS] = 0.1f, p[Z] = 0.9f;
  else if (prev1 == Z && prev2 == Y) p[EOS] = 1;
  else p[EOS] = 1;
}

static int step(void *ud, int t, const int32_t *tokens, const int *parent, int n, float *logits, char *err,
                size_t errlen) {
  mock *m = ud;
  if (m->calls++ == m->fail_at) return snprintf(err, errlen, "mock failure"), -1;
  int32_t next[64][64];
  for (int i = 0; i < n; i++) {
    memcpy(next[i], m->cache[parent[i]], sizeof next[i]); /* the reorder the contract asks for */
    next[i][t] = tokens[i];
  }
  memcpy(m->cache, next, sizeof next);
  m->len = t + 1;
  for (int i = 0; i < n; i++) {
    float p[V];
    int32_t prev1 = m->cache[i][t], prev2 = t ? m->cache[i][t - 1] : -1;
    dist(p, prev2, prev1);
    for (int v = 0; v < V; v++) logits[i * V + v] = p[v] > 0 ? logf(p[v]) : -INFINITY;
  }
  return 0;
}

/* a model that prefers Z for ever; with ud non-NULL it can never end at all */
static int loop_step(void *ud, int t, const int32_t *tokens, const int *parent, int n, float *logits, char *err,
                     size_t errlen) {
  (void)t, (void)tokens, (void)parent, (void)err, (void)errlen;
  for (int i = 0; i < n; i++)
    for (int v = 0; v < V; v++) logits[i * V + v] = v == Z ? 5.0f : v == EOS ? (ud ? -INFINITY : 1.0f) : 0.0f;
  return 0;
}

static gen_params params(int beams, float lp) {
  gen_params p = gen_default_params();
  p.num_beams = beams, p.length_penalty = lp, p.no_repeat_ngram = 0, p.max_new_tokens = 20;
  p.decoder_start_id = EOS, p.forced_bos_id = BOS, p.eos_id = EOS;
  return p;
}

static void expect(const gen_result *r, const int32_t *want, int n) {
  if (r->n != n) {
    for (int i = 0; i < r->n; i++) print_message("%d ", r->tokens[i]);
    fail_msg("%d tokens, wanted %d", r->n, n);
  }
  for (int i = 0; i < n; i++)
    if (r->tokens[i] != want[i]) fail_msg("token %d is %d, wanted %d", i, r->tokens[i], want[i]);
}

static void test_greedy_vs_beam(void **s) {
  (void)s;
  mock m = {.fail_at = -1};
  gen_result r;
  char err[128];
  /* greedy: <s> A X Y Z </s> (each step's best token) */
  assert_int_equal(gen_run(&r, params(1, 1.0f), V, step, &m, err, sizeof err), 0);
  expect(&r, (int32_t[]){BOS, A, X, Y, Z}, 5);
  assert_true(r.finished);
  gen_result_free(&r);
  /* beams, no length penalty: the most probable whole sequence, <s> B X </s> (0.45 > 0.396) */
  memset(&m, 0, sizeof m), m.fail_at = -1;
  assert_int_equal(gen_run(&r, params(3, 0.0f), V, step, &m, err, sizeof err), 0);
  expect(&r, (int32_t[]){BOS, B, X}, 3);
  assert_true(fabsf(r.score - logf(0.45f)) < 1e-5);
  gen_result_free(&r);
  /* length penalty 1 without early stopping: log p / length favours the longer
   * <s> A X Y Z </s> (length counts the start token and EOS: 7) */
  memset(&m, 0, sizeof m), m.fail_at = -1;
  gen_params p = params(3, 1.0f);
  p.early_stopping = 0;
  assert_int_equal(gen_run(&r, p, V, step, &m, err, sizeof err), 0);
  expect(&r, (int32_t[]){BOS, A, X, Y, Z}, 5);
  assert_true(fabsf(r.score - logf(0.55f * 0.8f * 0.9f) / 7) < 1e-5);
  gen_result_free(&r);
  /* with early stopping the search ends once 3 hypotheses are done (B X, A X, A X Y),
   * before A X Y Z can finish: <s> B X wins */
  memset(&m, 0, sizeof m), m.fail_at = -1;
  assert_int_equal(gen_run(&r, params(3, 1.0f), V, step, &m, err, sizeof err), 0);
  expect(&r, (int32_t[]){BOS, B, X}, 3);
  gen_result_free(&r);
}

static void test_never_stops_is_cut(void **s) {
  (void)s;
  for (int beams = 1; beams <= 3; beams += 2) {
    gen_params p = params(beams, 1.0f);
    p.max_new_tokens = 7;
    gen_result r;
    char err[128];
    int never = 1;
    assert_int_equal(gen_run(&r, p, V, loop_step, &never, err, sizeof err), 0);
    assert_int_equal(r.n, 7);
    assert_false(r.finished);
    for (int i = 1; i < 7; i++) assert_int_equal(r.tokens[i], Z);
    gen_result_free(&r);
  }
}

static void test_no_repeat_ngram(void **s) {
  (void)s;
  gen_params p = params(1, 1.0f);
  p.no_repeat_ngram = 2;
  gen_result r;
  char err[128];
  assert_int_equal(gen_run(&r, p, V, loop_step, NULL, err, sizeof err), 0);
  /* <s> Z Z is fine; a second (Z, Z) is banned, so EOS comes next */
  expect(&r, (int32_t[]){BOS, Z, Z}, 3);
  assert_true(r.finished);
  gen_result_free(&r);
}

static void test_errors(void **s) {
  (void)s;
  mock m = {.fail_at = 2};
  gen_result r;
  char err[128] = "";
  assert_int_equal(gen_run(&r, params(2, 1.0f), V, step, &m, err, sizeof err), -1);
  assert_string_equal(err, "mock failure");
  gen_params p = params(0, 1.0f);
  assert_int_equal(gen_run(&r, p, V, step, &m, err, sizeof err), -1);
  gen_result_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_greedy_vs_beam),
      cmocka_unit_test(test_never_stops_is_cut),
      cmocka_unit_test(test_no_repeat_ngram),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
