/* The adaptive team size (src/rt/team.c) fed synthetic run times, and a
 * session at 2 threads that keeps a plan per team size and gives the same
 * outputs as one thread. No clock is read here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "model.h"
#include "ops.h"
#include "ops/op_test.h"
#include "team.h"

/* Feed `runs` runs in which arm 0 takes t0 and arm 1 takes t1 seconds;
 * returns how many went on arm 1. */
static int feed(vrt_team *tm, int runs, double t0, double t1) {
  int on1 = 0;
  for (int r = 0; r < runs; r++) {
    int arm = vrt_team_pick(tm);
    on1 += arm;
    vrt_team_record(tm, arm, arm ? t1 : t0);
  }
  return on1;
}

static void test_explores_both_first(void **state) {
  (void)state;
  vrt_team tm;
  vrt_team_init(&tm);
  int want[4] = {1, 0, 1, 0}; /* N first: what the caller asked for */
  for (int r = 0; r < 4; r++) {
    int arm = vrt_team_pick(&tm);
    assert_int_equal(arm, want[r]);
    vrt_team_record(&tm, arm, arm ? 0.010 : 0.002);
  }
  assert_int_equal(vrt_team_pick(&tm), 0);
  assert_float_equal(vrt_team_median(&tm, 0), 0.002, 1e-12);
  assert_float_equal(vrt_team_median(&tm, 1), 0.010, 1e-12);
}

static void test_keeps_faster_and_backs_off(void **state) {
  (void)state;
  vrt_team tm;
  vrt_team_init(&tm);
  /* one thread 4x faster (the other core busy): after exploring, N is only
   * probed, ever more rarely */
  int on1 = feed(&tm, 2000, 0.002, 0.008);
  assert_true(on1 >= 3);   /* explored twice, then probed */
  assert_true(on1 <= 20);  /* 16, 32, .. 256 apart: about 1% of runs */
  assert_int_equal(tm.interval, VRT_TEAM_PROBE_MAX);
  assert_int_equal(tm.cur, 0);
  /* N faster: it stays on N, probing one thread as rarely */
  vrt_team_init(&tm);
  on1 = feed(&tm, 2000, 0.008, 0.005);
  assert_true(on1 >= 2000 - 20);
  assert_int_equal(tm.cur, 1);
}

static void test_one_spike_does_not_flip(void **state) {
  (void)state;
  vrt_team tm;
  vrt_team_init(&tm);
  feed(&tm, 10, 0.004, 0.002);
  assert_int_equal(tm.cur, 1);
  vrt_team_record(&tm, 1, 0.050); /* the scheduler took the core once */
  assert_int_equal(vrt_team_pick(&tm), 1);
  vrt_team_record(&tm, 1, 0.050); /* twice: the median of five still holds */
  assert_int_equal(vrt_team_pick(&tm), 1);
  vrt_team_record(&tm, 1, 0.050); /* a third: most recent runs are slow, switch */
  assert_int_equal(vrt_team_pick(&tm), 0);
}

static void test_follows_the_machine(void **state) {
  (void)state;
  vrt_team tm;
  vrt_team_init(&tm);
  feed(&tm, 40, 0.004, 0.002); /* quiet: N wins */
  assert_int_equal(tm.cur, 1);
  feed(&tm, 3, 0.004, 0.016); /* the other core got busy: N loses by its own samples */
  assert_int_equal(tm.cur, 0);
  feed(&tm, 600, 0.004, 0.016);
  assert_int_equal(tm.cur, 0);
  assert_true(tm.interval > VRT_TEAM_PROBE_MIN);
  /* quiet again: the next probe of N wins at once and probing speeds up */
  int runs = 0;
  while (tm.cur == 0 && runs <= VRT_TEAM_PROBE_MAX) {
    feed(&tm, 1, 0.004, 0.002);
    runs++;
  }
  assert_int_equal(tm.cur, 1);
  assert_true(runs <= VRT_TEAM_PROBE_MAX);
  assert_int_equal(tm.interval, VRT_TEAM_PROBE_MIN);
}

/* N threads must win by VRT_TEAM_MARGIN: a tie or a sliver goes to one
 * thread (with the other core busy N's runs are noisy), a clear win to N. */
static void test_margin(void **state) {
  (void)state;
  vrt_team tm;
  double n_over_1[3] = {1.0, 0.95, 0.8};
  int want[3] = {0, 0, 1};
  for (int k = 0; k < 3; k++) {
    vrt_team_init(&tm);
    feed(&tm, 12, 0.010, 0.010 * n_over_1[k]);
    assert_int_equal(tm.cur, want[k]);
  }
}

/* y = Relu(x) * x, x [N, 4096] */
static vrt_model_t *build(void) {
  vrt_graph *g = vrt_graph_new();
  int64_t xd[2] = {-1, 4096};
  int x = vrt_graph_add_value(g, "x", VRT_F32, 2, xd);
  g->values[x].flags |= VRT_VAL_INPUT;
  int r = vrt_graph_add_value(g, "r", VRT_UNDEFINED, -1, NULL);
  int y = vrt_graph_add_value(g, "y", VRT_UNDEFINED, -1, NULL);
  int in1[1] = {x}, in2[2] = {r, x};
  vrt_graph_add_node(g, VRT_OP_Relu, "relu", "Relu", in1, 1, &r, 1);
  vrt_graph_add_node(g, VRT_OP_Mul, "mul", "Mul", in2, 2, &y, 1);
  vrt_model_t *m = op_test_model(g, x, y, vrt_load_default_params());
  return m;
}

/* Runs a fresh session `runs` times; used[r] (when not NULL) gets the
 * threads run r ran on. Returns the plans it made. */
static size_t plans_after_runs(vrt_model_t *m, int threads, int runs, const float *x, int *used) {
  vrt_session_params p = vrt_session_default_params();
  p.threads = threads;
  vrt_session_t *s;
  assert_int_equal(vrt_session_create(&s, m, p), 0);
  vrt_tensor in = {.dtype = VRT_F32, .ndim = 2, .dims = {16, 4096}, .data = (void *)x};
  for (int r = 0; r < runs; r++) {
    const vrt_tensor *out;
    int nout;
    assert_int_equal(vrt_session_run(s, &in, 1, &out, &nout), 0);
    const float *y = out[0].data;
    for (int i = 0; i < 16 * 4096; i++) assert_true(y[i] == (x[i] > 0 ? x[i] * x[i] : 0));
    if (used) used[r] = vrt_session_threads_used(s);
  }
  vrt_memory_info mi;
  vrt_session_memory(s, &mi);
  vrt_session_free(s);
  return mi.plan_count;
}

static void test_session_plans_per_team(void **state) {
  (void)state;
  vrt_model_t *m = build();
  float *x = malloc(sizeof(float) * 16 * 4096);
  for (int i = 0; i < 16 * 4096; i++) x[i] = (float)((i * 37) % 101 - 50) * 0.125f;
  unsetenv("VRT_ADAPTIVE_THREADS");
  int used[12];
  assert_int_equal(plans_after_runs(m, 1, 3, x, used), 1); /* one thread: exact, one plan */
  for (int r = 0; r < 3; r++) assert_int_equal(used[r], 1);
  assert_int_equal(plans_after_runs(m, 2, 12, x, used), 2); /* a plan for 1 and one for 2 */
  /* exploration: the unplanned first run on N, then each team's untimed
   * first planned run and VRT_TEAM_EXPLORE timed ones, N first; it is over
   * after VRT_TEAM_WARM_RUNS runs (what a benchmark warms up) */
  int want[VRT_TEAM_WARM_RUNS] = {2, 2, 2, 1, 1, 2, 1};
  int on[3] = {0};
  for (int r = 0; r < VRT_TEAM_WARM_RUNS; r++) {
    assert_int_equal(used[r], want[r]);
    if (r) on[used[r]]++;
  }
  assert_int_equal(on[1], 1 + VRT_TEAM_EXPLORE);
  assert_int_equal(on[2], 1 + VRT_TEAM_EXPLORE);
  for (int r = VRT_TEAM_WARM_RUNS; r < 12; r++) assert_true(used[r] == 1 || used[r] == 2);
  setenv("VRT_ADAPTIVE_THREADS", "0", 1);
  assert_int_equal(plans_after_runs(m, 2, 3, x, used), 1); /* switched off: 2 threads, exact */
  for (int r = 0; r < 3; r++) assert_int_equal(used[r], 2);
  unsetenv("VRT_ADAPTIVE_THREADS");
  free(x);
  vrt_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_explores_both_first),
      cmocka_unit_test(test_keeps_faster_and_backs_off),
      cmocka_unit_test(test_one_spike_does_not_flip),
      cmocka_unit_test(test_follows_the_machine),
      cmocka_unit_test(test_margin),
      cmocka_unit_test(test_session_plans_per_team),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
