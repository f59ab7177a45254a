/* ONNX backend node tests (Debian's libonnx-testdata, data/node/<case>/) run
 * through vrt's public API, and the small model tests beside them
 * (data/pytorch-converted, data/pytorch-operator, data/simple: older opsets,
 * listed as "<suite>/<case>"). Each case runs in a child process, so a crash
 * or hang in one kernel fails that case only.
 *
 *   test_onnx_node                 run every case; every case listed in
 *                                  tests/conformance/supported.txt must pass
 *   test_onnx_node --update        rewrite supported.txt with the passing cases
 *   test_onnx_node -v [SUBSTR]     print why each (matching) case fails */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loaders.h"
#include "rt.h"

#define DATA_DIR "/usr/share/libonnx-testdata/data"
#define NODE_DIR DATA_DIR "/node"
/* suites besides node; their cases are named "<suite>/<case>" */
static const char *const extra_suites[] = {"pytorch-converted", "pytorch-operator", "simple"};
#define MAX_IO 16
#define CASE_SECONDS 60 /* hang guard for one case, not a timing */
#define RTOL 1e-3
#define ATOL 1e-4

static bool update, verbose;
static const char *filter;

static int read_file(const char *path, uint8_t **buf, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  *buf = malloc(n > 0 ? (size_t)n : 1);
  if (!*buf || fread(*buf, 1, (size_t)n, f) != (size_t)n) {
    fclose(f);
    free(*buf);
    return -1;
  }
  fclose(f);
  *len = (size_t)n;
  return 0;
}

static int load_pb(const char *path, vrt_tensor *t) {
  uint8_t *b;
  size_t n;
  if (read_file(path, &b, &n)) return -1;
  int rc = vrt__onnx_parse_tensor(b, n, t);
  free(b);
  return rc;
}

static void free_tensor(vrt_tensor *t) {
  free(t->data);
  free((char *)t->name);
  memset(t, 0, sizeof *t);
}

static bool is_float(vrt_dtype d) { return d == VRT_F32 || d == VRT_F64 || d == VRT_F16 || d == VRT_BF16; }

/* 0 when got matches want; else writes why into why. */
static int compare(const vrt_tensor *got, const vrt_tensor *want, int idx, char *why, size_t wlen) {
  char a[128], b[128];
  if (got->dtype != want->dtype) {
    snprintf(why, wlen, "output %d: dtype %s, expected %s", idx, vrt_dtype_name(got->dtype), vrt_dtype_name(want->dtype));
    return -1;
  }
  if (!vrt__same_shape(got, want)) {
    snprintf(why, wlen, "output %d: shape %s, expected %s", idx, vrt__shape_str(got->dims, got->ndim, a, sizeof a),
             vrt__shape_str(want->dims, want->ndim, b, sizeof b));
    return -1;
  }
  int64_t n = vrt_tensor_numel(want);
  for (int64_t i = 0; i < n; i++) {
    if (is_float(want->dtype)) {
      double x = vrt__get_f64(got, i), y = vrt__get_f64(want, i);
      if (isnan(y) ? isnan(x) : (isinf(y) ? x == y : fabs(x - y) <= ATOL + RTOL * fabs(y))) continue;
      snprintf(why, wlen, "output %d: element %lld is %.9g, expected %.9g", idx, (long long)i, x, y);
      return -1;
    }
    uint64_t x, y;
    size_t es = vrt_dtype_size(want->dtype);
    x = y = 0;
    memcpy(&x, (const uint8_t *)got->data + (size_t)i * es, es);
    memcpy(&y, (const uint8_t *)want->data + (size_t)i * es, es);
    if (want->dtype == VRT_BOOL) x = !!x, y = !!y;
    if (x == y) continue;
    snprintf(why, wlen, "output %d: element %lld is %lld, expected %lld", idx, (long long)i,
             (long long)vrt__get_i64(got, i), (long long)vrt__get_i64(want, i));
    return -1;
  }
  return 0;
}

/* Runs one case in this (child) process; writes "ok" or the reason to why. */
static int run_case(const char *dir, char *why, size_t wlen) {
  char path[1024];
  snprintf(path, sizeof path, "%s/model.onnx", dir);
  vrt_model_t *m = NULL;
  vrt_session_t *s = NULL;
  int rc = vrt_model_load(&m, path, vrt_load_default_params());
  if (rc) {
    snprintf(why, wlen, "load: %s", vrt_last_error());
    return -1;
  }
  if ((rc = vrt_session_create(&s, m, vrt_session_default_params()))) {
    snprintf(why, wlen, "session: %s", vrt_last_error());
    vrt_model_free(m);
    return -1;
  }
  int sets = 0, fail = 0;
  for (int d = 0; !fail; d++) {
    char set[900];
    snprintf(set, sizeof set, "%.800s/test_data_set_%d", dir, d);
    struct stat st;
    if (stat(set, &st) != 0) break;
    sets++;
    vrt_tensor in[MAX_IO] = {0}, want[MAX_IO] = {0};
    int nin = 0, nwant = 0;
    for (; nin < MAX_IO; nin++) {
      snprintf(path, sizeof path, "%s/input_%d.pb", set, nin);
      if (access(path, R_OK) != 0) break;
      if (load_pb(path, &in[nin])) {
        snprintf(why, wlen, "input_%d.pb: %s", nin, vrt_last_error());
        fail = 1;
        break;
      }
      const vrt_tensor *mi = vrt_model_input(m, nin);
      /* ONNX 1.12 stores bfloat16 test data as uint16 (numpy has no bfloat16) */
      if (mi && mi->dtype == VRT_BF16 && in[nin].dtype == VRT_U16) in[nin].dtype = VRT_BF16;
      free((char *)in[nin].name);
      in[nin].name = mi ? strdup(mi->name) : NULL;
    }
    for (; !fail && nwant < MAX_IO; nwant++) {
      snprintf(path, sizeof path, "%s/output_%d.pb", set, nwant);
      if (access(path, R_OK) != 0) break;
      if (load_pb(path, &want[nwant])) {
        snprintf(why, wlen, "output_%d.pb: %s", nwant, vrt_last_error());
        fail = 1;
      }
    }
    if (!fail && nin != vrt_model_num_inputs(m)) {
      snprintf(why, wlen, "%d input files for %d model inputs", nin, vrt_model_num_inputs(m));
      fail = 1;
    }
    /* twice: the first run of a shape uses the ops' own kernels, the second
     * (planned) one the backends (oneDNN), which must agree too */
    for (int pass = 0; pass < 2 && !fail; pass++) {
      const vrt_tensor *out = NULL;
      int nout = 0;
      if (!fail && (rc = vrt_session_run(s, in, nin, &out, &nout))) {
        snprintf(why, wlen, "run %d: %s", pass + 1, vrt_last_error());
        fail = 1;
      }
      if (!fail && nout < nwant) {
        snprintf(why, wlen, "%d outputs, expected %d", nout, nwant);
        fail = 1;
      }
      for (int k = 0; !fail && k < nwant; k++)
        if (out[k].dtype == VRT_BF16 && want[k].dtype == VRT_U16) want[k].dtype = VRT_BF16;
      for (int k = 0; !fail && k < nwant; k++)
        if (compare(&out[k], &want[k], k, why, wlen)) fail = 1;
    }
    for (int k = 0; k < MAX_IO; k++) free_tensor(&in[k]), free_tensor(&want[k]);
  }
  if (!fail && !sets) {
    snprintf(why, wlen, "no test_data_set_*");
    fail = 1;
  }
  vrt_session_free(s);
  vrt_model_free(m);
  if (!fail) snprintf(why, wlen, "ok");
  return fail ? -1 : 0;
}

/* Forks, runs the case in the child, and reports its verdict. */
static bool run_isolated(const char *dir, char *why, size_t wlen) {
  int fds[2];
  if (pipe(fds) != 0) {
    snprintf(why, wlen, "pipe failed");
    return false;
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    alarm(CASE_SECONDS);
    char msg[512];
    int rc = run_case(dir, msg, sizeof msg);
    size_t n = strlen(msg);
    if (write(fds[1], msg, n) != (ssize_t)n) _exit(3);
    _exit(rc ? 1 : 0);
  }
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    snprintf(why, wlen, "fork failed");
    return false;
  }
  size_t got = 0;
  ssize_t r;
  while (got + 1 < wlen && (r = read(fds[0], why + got, wlen - 1 - got)) > 0) got += (size_t)r;
  why[got] = 0;
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) {
    snprintf(why, wlen, "%s (signal %d)", WTERMSIG(status) == SIGALRM ? "hang" : "crash", WTERMSIG(status));
    return false;
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void add_case(char ***v, int *n, int *cap, const char *name) {
  if (*n == *cap) {
    *cap = *cap ? *cap * 2 : 1024;
    *v = realloc(*v, sizeof(char *) * (size_t)*cap);
    assert_non_null(*v);
  }
  (*v)[(*n)++] = strdup(name);
}

/* Every case: node cases by name, the others as "<suite>/<name>". */
static char **list_cases(int *n) {
  DIR *d = opendir(NODE_DIR);
  if (!d) return NULL;
  char **v = NULL;
  int cap = 0;
  *n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strncmp(e->d_name, "test_", 5) == 0) add_case(&v, n, &cap, e->d_name);
  closedir(d);
  for (size_t s = 0; s < sizeof extra_suites / sizeof extra_suites[0]; s++) {
    char dir[512], name[512];
    snprintf(dir, sizeof dir, "%s/%s", DATA_DIR, extra_suites[s]);
    if (!(d = opendir(dir))) continue;
    while ((e = readdir(d)))
      if (strncmp(e->d_name, "test_", 5) == 0) {
        snprintf(name, sizeof name, "%s/%.200s", extra_suites[s], e->d_name);
        add_case(&v, n, &cap, name);
      }
    closedir(d);
  }
  qsort(v, (size_t)*n, sizeof(char *), cmp_str);
  return v;
}

static bool is_node_case(const char *name) { return !strchr(name, '/'); }

static const char *list_path(void) {
  static char p[1024];
  const char *src = getenv("VIGIL_SOURCE_DIR");
  snprintf(p, sizeof p, "%s/tests/conformance/supported.txt", src ? src : ".");
  return p;
}

/* supported.txt: one case name per line; '#' starts a comment. */
static bool listed(char **names, int n, const char *name) {
  return bsearch(&name, names, (size_t)n, sizeof(char *), cmp_str) != NULL;
}

static char **read_list(int *n) {
  *n = 0;
  FILE *f = fopen(list_path(), "r");
  if (!f) return NULL;
  char **v = NULL, line[512];
  int cap = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n# ")] = 0;
    if (!line[0]) continue;
    if (*n == cap) {
      cap = cap ? cap * 2 : 1024;
      v = realloc(v, sizeof(char *) * (size_t)cap);
      assert_non_null(v);
    }
    v[(*n)++] = strdup(line);
  }
  fclose(f);
  qsort(v, (size_t)*n, sizeof(char *), cmp_str);
  return v;
}

static void test_node_conformance(void **state) {
  (void)state;
  int total = 0, nlist = 0;
  char **cases = list_cases(&total);
  if (!cases) fail_msg("%s is missing: run `make deps` (Debian package libonnx-testdata)", NODE_DIR);
  char **list = read_list(&nlist);
  if (!list && !update) fail_msg("%s is missing: run test_onnx_node --update", list_path());
  bool *pass = calloc((size_t)total + 1, 1);
  int passed = 0, ran = 0, regressions = 0, xpassed = 0, xran = 0;
  for (int i = 0; i < total; i++) {
    if (filter && !strstr(cases[i], filter)) continue;
    char dir[1024], why[512];
    bool node = is_node_case(cases[i]);
    snprintf(dir, sizeof dir, "%s/%s", node ? NODE_DIR : DATA_DIR, cases[i]);
    pass[i] = run_isolated(dir, why, sizeof why);
    if (node) ran++, passed += pass[i];
    else xran++, xpassed += pass[i];
    bool claimed = list && listed(list, nlist, cases[i]);
    if (!pass[i] && claimed) {
      regressions++;
      printf("FAIL (supported) %s: %s\n", cases[i], why);
    } else if (!pass[i] && verbose) {
      printf("fail %s: %s\n", cases[i], why);
    }
  }
  int missing = 0;
  for (int i = 0; i < nlist; i++)
    if (!bsearch(&list[i], cases, (size_t)total, sizeof(char *), cmp_str)) {
      printf("FAIL (supported) %s: case not found in %s\n", list[i], NODE_DIR);
      missing++;
    }
  int nlist_node = 0;
  for (int i = 0; i < nlist; i++) nlist_node += is_node_case(list[i]);
  printf("onnx node conformance: %d passed of %d total (%d in supported list)\n", passed, ran, nlist_node);
  printf("onnx pytorch-converted/pytorch-operator/simple models: %d passed of %d total (%d in supported list)\n",
         xpassed, xran, nlist - nlist_node);
  if (update && !filter) {
    FILE *f = fopen(list_path(), "w");
    assert_non_null(f);
    fprintf(f, "# ONNX backend tests (libonnx-testdata 1.12: data/node/<case>, data/<suite>/<case>) that vrt passes.\n");
    fprintf(f, "# Generated by `test_onnx_node --update`; the test requires every case here to pass.\n");
    for (int i = 0; i < total; i++)
      if (pass[i]) fprintf(f, "%s\n", cases[i]);
    fclose(f);
    printf("wrote %d cases to %s\n", passed + xpassed, list_path());
  }
  for (int i = 0; i < total; i++) free(cases[i]);
  for (int i = 0; i < nlist; i++) free(list[i]);
  free(cases), free(list), free(pass);
  if (!update) {
    assert_int_equal(missing, 0);
    assert_int_equal(regressions, 0);
  }
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--update") == 0) update = true;
    else if (strcmp(argv[i], "-v") == 0) verbose = true;
    else filter = argv[i];
  }
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_node_conformance)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
