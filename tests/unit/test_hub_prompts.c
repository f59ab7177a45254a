/* The pre-tokenised prompt files (hub_prompt_ids_load) on good and malformed
 * input, and the small numeric helpers the hub adapters share. */
#include <unistd.h>

#include "test_hub_common.h"

static char dir[256];

static int setup(void **s) {
  (void)s;
  snprintf(dir, sizeof dir, "%s/vigil-prompts-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **s) {
  (void)s;
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static const char *write_file(const char *text) {
  static char path[400];
  snprintf(path, sizeof path, "%s/prompt_ids.txt", dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  return path;
}

static void good_files(void **s) {
  (void)s;
  hub_prompt_ids p;
  char err[256];
  assert_int_equal(hub_prompt_ids_load(&p, write_file("# comment\na person\t5 6 7\r\n\nanother one\t8 9 10\n"), err,
                                       sizeof err),
                   0);
  assert_int_equal(p.n, 2);
  assert_int_equal(p.len, 3);
  assert_null(p.mask);
  assert_int_equal(hub_prompt_ids_find(&p, "another one"), 1);
  assert_int_equal(hub_prompt_ids_find(&p, "nobody"), -1);
  assert_int_equal(p.ids[3], 8);
  assert_int_equal(p.ids[5], 10);
  hub_prompt_ids_free(&p);
  hub_prompt_ids_free(&p); /* twice is fine */
  /* with masks, and more rows than the first allocation */
  char big[8192] = "";
  size_t o = 0;
  for (int i = 0; i < 70; i++) o += (size_t)snprintf(big + o, sizeof big - o, "p%d\t%d 1 0\t1 1 0\n", i, i);
  assert_int_equal(hub_prompt_ids_load(&p, write_file(big), err, sizeof err), 0);
  assert_int_equal(p.n, 70);
  assert_non_null(p.mask);
  assert_int_equal(p.ids[69 * 3], 69);
  assert_int_equal(p.mask[69 * 3 + 2], 0);
  assert_int_equal(hub_prompt_ids_find(&p, "p42"), 42);
  hub_prompt_ids_free(&p);
}

static void bad_files(void **s) {
  (void)s;
  static const char *const bad[] = {
      "",                                /* no prompts */
      "# only a comment\n",              /* no prompts */
      "no tab here 1 2 3\n",             /* no ids column */
      "a\t1 2 3\nb\t1 2\n",              /* rows of different lengths */
      "a\t1 x 3\n",                      /* not a number */
      "a\t\n",                           /* no ids */
      "a\t1 2\t1 1\nb\t1 2\n",           /* mask on one row only */
      "a\t1 2\t1\n",                     /* mask shorter than the ids */
      "a\t1 2\t1 1 1\n",                 /* mask longer than the ids */
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    hub_prompt_ids p;
    char err[256] = "";
    if (hub_prompt_ids_load(&p, write_file(bad[i]), err, sizeof err) == 0) fail_msg("accepted case %zu", i);
    assert_true(err[0] != 0);
    assert_int_equal(p.n, 0);
    assert_null(p.ids);
  }
  /* more ids than any prompt may have */
  char *big = malloc(6000);
  assert_non_null(big);
  strcpy(big, "a\t");
  for (int i = 0; i < 600; i++) strcat(big, "1 ");
  strcat(big, "\n");
  hub_prompt_ids p;
  char err[256] = "";
  assert_int_not_equal(hub_prompt_ids_load(&p, write_file(big), err, sizeof err), 0);
  free(big);
  assert_int_not_equal(hub_prompt_ids_load(&p, "/nonexistent/prompt_ids.txt", err, sizeof err), 0);
  assert_non_null(strstr(err, "tools/export"));
}

static void numeric_helpers(void **s) {
  (void)s;
  float l[3] = {1000, 1000, -1000}, p[3];
  hub_softmax(p, l, 3); /* large logits: no overflow */
  assert_float_equal(p[0], 0.5, 1e-6);
  assert_float_equal(p[2], 0.0, 1e-6);
  float v[4] = {3, 4, 0, 0};
  assert_float_equal(hub_l2_normalize(v, 4), 5, 1e-6);
  assert_float_equal(v[0], 0.6, 1e-6);
  float z[2] = {0, 0};
  assert_float_equal(hub_l2_normalize(z, 2), 0, 0);
  assert_float_equal(z[0], 0, 0);
  vigil_image f;
  hub_frame(&f, 100, 50, 0, 0, 0);
  float x1 = -10, y1 = -5, x2 = 500, y2 = 20;
  assert_int_equal(hub_clip_box(&x1, &y1, &x2, &y2, &f), 0);
  assert_float_equal(x1, 0, 0);
  assert_float_equal(x2, 100, 0);
  assert_float_equal(y1, 0, 0);
  x1 = 200, x2 = 300, y1 = 0, y2 = 10;
  assert_int_not_equal(hub_clip_box(&x1, &y1, &x2, &y2, &f), 0);
  x1 = NAN, x2 = 10, y1 = 0, y2 = 10;
  assert_int_not_equal(hub_clip_box(&x1, &y1, &x2, &y2, &f), 0);
  x1 = 5, x2 = 5.5f, y1 = 0, y2 = 10;
  assert_int_not_equal(hub_clip_box(&x1, &y1, &x2, &y2, &f), 0);
  vigil_image_free(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(good_files),
      cmocka_unit_test(bad_files),
      cmocka_unit_test(numeric_helpers),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
