/* CLIP's BPE tokenizer against the published algorithm: a vocabulary and merges built
 * by tools/testmodels/gen_clip_bpe.py from a generated corpus, and the reference ids of
 * 1,200 varied strings (unicode, emoji, punctuation, numbers, HTML entities, odd
 * whitespace, empty, 10,000 characters) computed by that script's Python
 * implementation. Plus the bad input: invalid UTF-8, bad vocab/merges files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/base64.h"
#include "vigil/clip.h"

static char dir[256];
static clip_tokenizer *tok;

static int setup(void **s) {
  (void)s;
  snprintf(dir, sizeof dir, "/tmp/vigil-clipbpe-XXXXXX");
  if (!mkdtemp(dir)) return -1;
  const char *src = getenv("VIGIL_SOURCE_DIR");
  char cmd[1024], v[512], m[512], err[256];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tools/testmodels/gen_clip_bpe.py %s 2000",
           src ? src : ".", dir);
  if (system(cmd)) {
    fprintf(stderr, "gen_clip_bpe.py failed (python3-regex installed? run make deps)\n");
    return -1;
  }
  snprintf(v, sizeof v, "%s/vocab.json", dir);
  snprintf(m, sizeof m, "%s/merges.txt", dir);
  if (clip_tokenizer_load(&tok, v, m, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  return 0;
}

static int teardown(void **s) {
  (void)s;
  clip_tokenizer_free(tok);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd) ? -1 : 0;
}

static void test_matches_reference(void **s) {
  (void)s;
  char path[512];
  snprintf(path, sizeof path, "%s/cases.tsv", dir);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  size_t cap = 1 << 20;
  char *line = malloc(cap);
  int n = 0, longest = 0;
  while (fgets(line, (int)cap, f)) {
    char *tab = strchr(line, '\t');
    assert_non_null(tab);
    *tab = 0;
    size_t tl = 0;
    uint8_t *text = NULL;
    assert_int_equal(vigil_b64_decode_alloc(&text, &tl, line, strlen(line), 1 << 20, NULL, 0), 0);
    int32_t want[CLIP_CONTEXT], got[CLIP_CONTEXT];
    char *p = tab + 1;
    for (int i = 0; i < CLIP_CONTEXT; i++) want[i] = (int32_t)strtol(p, &p, 10), p += *p == ',';
    int nreal = 0;
    char err[256];
    if (clip_tokenize(tok, got, CLIP_CONTEXT, &nreal, (const char *)text, tl, err, sizeof err))
      fail_msg("case %d: %s", n, err);
    for (int i = 0; i < CLIP_CONTEXT; i++)
      if (got[i] != want[i]) fail_msg("case %d ('%.60s'): id %d is %d, reference %d", n, (char *)text, i, got[i], want[i]);
    if (nreal > longest) longest = nreal;
    free(text);
    n++;
  }
  free(line);
  fclose(f);
  assert_true(n >= 1000);
  assert_int_equal(longest, CLIP_CONTEXT); /* truncation was exercised */
}

static void test_shape_of_ids(void **s) {
  (void)s;
  int32_t ids[CLIP_CONTEXT];
  int n;
  char err[256];
  assert_int_equal(clip_tokenize(tok, ids, CLIP_CONTEXT, &n, "", 0, err, sizeof err), 0);
  assert_int_equal(n, 2); /* SOT EOT */
  assert_int_not_equal(ids[0], ids[1]);
  assert_int_equal(ids[2], 0);
  /* a long text: 77 ids, end token last */
  char big[20000];
  memset(big, 'a', sizeof big);
  for (size_t i = 1; i < sizeof big; i += 2) big[i] = ' ';
  assert_int_equal(clip_tokenize(tok, ids, CLIP_CONTEXT, &n, big, sizeof big, err, sizeof err), 0);
  assert_int_equal(n, CLIP_CONTEXT);
  int32_t eot = ids[CLIP_CONTEXT - 1];
  assert_int_equal(clip_tokenize(tok, ids, CLIP_CONTEXT, &n, "", 0, err, sizeof err), 0);
  assert_int_equal(ids[1], eot);
}

static void test_invalid_utf8(void **s) {
  (void)s;
  int32_t ids[CLIP_CONTEXT];
  char err[256];
  const char *bad[] = {"\xff", "abc\xc3", "\xc0\xaf", "\xed\xa0\x80", "ok \xf4\x90\x80\x80"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_not_equal(clip_tokenize(tok, ids, CLIP_CONTEXT, NULL, bad[i], strlen(bad[i]), err, sizeof err), 0);
    assert_non_null(strstr(err, "UTF-8"));
  }
}

static void test_bad_files(void **s) {
  (void)s;
  clip_tokenizer *t = NULL;
  char err[256];
  const char *v_ok = "{\"a\":0,\"<|startoftext|>\":1,\"<|endoftext|>\":2}";
  assert_int_equal(clip_tokenizer_load_mem(&t, v_ok, strlen(v_ok), "", 0, err, sizeof err), 0);
  clip_tokenizer_free(t);
  assert_int_not_equal(clip_tokenizer_load_mem(&t, "[1,2]", 5, "", 0, err, sizeof err), 0);
  assert_null(t);
  assert_int_not_equal(clip_tokenizer_load_mem(&t, "{\"a\":0}", 7, "", 0, err, sizeof err), 0);
  assert_non_null(strstr(err, "startoftext"));
  assert_int_not_equal(clip_tokenizer_load_mem(&t, v_ok, strlen(v_ok), "#version: 0.2\nab\n", 17, err, sizeof err), 0);
  assert_non_null(strstr(err, "line 2"));
  assert_int_not_equal(clip_tokenizer_load(&t, "/nonexistent/vocab.json", "/nonexistent/m", err, sizeof err), 0);
  assert_non_null(strstr(err, "/nonexistent/vocab.json"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_matches_reference),
      cmocka_unit_test(test_shape_of_ids),
      cmocka_unit_test(test_invalid_utf8),
      cmocka_unit_test(test_bad_files),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
