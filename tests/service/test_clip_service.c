/* The CLIP service (8093) as a black box: `vigil serve clip` on the generated CLIP
 * stand-in (tools/testmodels/gen_clip_models.py: colours map to predictable
 * directions), driven with curl over loopback. The maths (unit norm, logit scale and
 * softmax, cosine), the rolling per-camera baseline (warm-up, anomaly, persistence
 * across a restart), a given baseline, bad input, and a service without the export. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "service_test.h"

static int port, port_bare;
static pid_t pid, pid_bare;

static pid_t start(int p, bool with_model) {
  pid_t c = fork();
  if (c == 0) {
    char ports[16], log[512], v[600];
    snprintf(ports, sizeof ports, "%d", p);
    snprintf(log, sizeof log, "%s/serve-%d.log", tmp, p);
    if (with_model) snprintf(v, sizeof v, "%s/clip", tmp), setenv("CLIP_MODEL_PATH", v, 1);
    else setenv("CLIP_MODEL_PATH", "/nonexistent/clip", 1);
    snprintf(v, sizeof v, "%s/baselines-%d.sqlite", tmp, with_model), setenv("VIGIL_CLIP_BASELINES", v, 1);
    setenv("CLIP_BASELINE_WARM", "5", 1);
    if (!freopen(log, "w", stderr)) _exit(126);
    const char *bin = getenv("VIGIL_BINARY");
    execl(bin, bin, "serve", "clip", "--port", ports, (char *)NULL);
    _exit(127);
  }
  return c;
}

static void stop(pid_t p) {
  int st;
  kill(p, SIGTERM);
  waitpid(p, &st, 0);
}

/* tmp/NAME.json = {"image": base64 of a solid-colour PNG, EXTRA} */
static void body(const char *name, const char *rgb, const char *extra) {
  char cmd[1024], path[512];
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 -c \"from PIL import Image; Image.new('RGB',(200,150),(%s)).save('%s/%s.png')\" && "
           "base64 -w0 %s/%s.png > %s/%s.b64",
           rgb, tmp, name, tmp, name, tmp, name);
  assert_int_equal(system(cmd), 0);
  snprintf(path, sizeof path, "%s/%s.b64", tmp, name);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  static char b64[1 << 16];
  size_t n = fread(b64, 1, sizeof b64 - 1, f);
  b64[n] = 0;
  fclose(f);
  snprintf(path, sizeof path, "%s/%s.json", tmp, name);
  f = fopen(path, "w");
  assert_non_null(f);
  fprintf(f, "{\"image\":\"%s\"%s%s}", b64, *extra ? "," : "", extra);
  fclose(f);
}

static json_t *post(int p, const char *path, const char *file, int want) {
  json_t *j;
  int st;
  assert_int_equal(svc_curl(&j, &st, "-H 'Content-Type: application/json' --data-binary @%s/%s.json http://127.0.0.1:%d%s",
                            tmp, file, p, path),
                   0);
  if (st != want) fail_msg("%s %s: status %d, wanted %d: %s", path, file, st, want, json_dumps(j, 0));
  return j;
}

static double num(json_t *o, const char *k) { return json_number_value(json_object_get(o, k)); }

static int setup(void **s) {
  (void)s;
  if (!getenv("VIGIL_BINARY")) return -1;
  snprintf(tmp, sizeof tmp, "/tmp/vigil-clip-XXXXXX");
  if (!mkdtemp(tmp)) return -1;
  const char *src = getenv("VIGIL_SOURCE_DIR");
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tools/testmodels/gen_clip_models.py %s", src ? src : ".", tmp);
  if (system(cmd)) {
    fprintf(stderr, "generating the CLIP test model failed (run `make deps`)\n");
    return -1;
  }
  port = svc_free_port(), port_bare = svc_free_port();
  if (port < 0 || port_bare < 0 || port == port_bare) return -1;
  pid = start(port, true);
  pid_bare = start(port_bare, false);
  if (!svc_wait_up(port) || !svc_wait_up(port_bare)) return -1;
  body("red", "230,20,20", "");
  body("blue", "20,20,230", "");
  return 0;
}

static int teardown(void **s) {
  (void)s;
  stop(pid);
  stop(pid_bare);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  return system(cmd) ? -1 : 0;
}

static void test_health(void **s) {
  (void)s;
  json_t *j;
  int st;
  assert_int_equal(svc_curl(&j, &st, "http://127.0.0.1:%d/health", port), 0);
  assert_string_equal(json_string_value(json_object_get(j, "status")), "healthy");
  assert_int_equal(json_integer_value(json_object_get(j, "embedding_dimension")), 768);
  json_decref(j);
  assert_int_equal(svc_curl(&j, &st, "http://127.0.0.1:%d/health", port_bare), 0);
  assert_string_equal(json_string_value(json_object_get(j, "status")), "unhealthy");
  assert_true(json_is_false(json_object_get(j, "model_loaded")));
  json_decref(j);
}

static void test_embed_is_unit_norm(void **s) {
  (void)s;
  json_t *j = post(port, "/embed", "red", 200);
  json_t *e = json_object_get(j, "embedding");
  assert_int_equal(json_array_size(e), 768);
  double n2 = 0;
  for (size_t i = 0; i < 768; i++) n2 += pow(json_number_value(json_array_get(e, i)), 2);
  assert_true(fabs(sqrt(n2) - 1) < 1e-4);
  json_decref(j);
  /* a text: "red" alone embeds to the same direction as the red image's colour part */
  char path[512];
  snprintf(path, sizeof path, "%s/t.json", tmp);
  FILE *f = fopen(path, "w");
  fputs("{\"text\": \"RED!!\"}", f);
  fclose(f);
  j = post(port, "/embed", "t", 200);
  assert_int_equal(json_array_size(json_object_get(j, "embedding")), 768);
  json_decref(j);
}

/* /classify = softmax(100 * the cosines /batch-similarity reports) */
static void test_classify_is_scaled_softmax(void **s) {
  (void)s;
  body("cls", "230,20,20", "\"labels\":[\"a red car\",\"a green car\",\"a blue car\",\"a car\"]");
  body("bs", "230,20,20", "\"texts\":[\"a red car\",\"a green car\",\"a blue car\",\"a car\"]");
  json_t *c = post(port, "/classify", "cls", 200), *b = post(port, "/batch-similarity", "bs", 200);
  assert_string_equal(json_string_value(json_object_get(c, "top_label")), "a red car");
  json_t *sims = json_object_get(b, "similarities"), *scores = json_object_get(c, "scores");
  const char *labels[4] = {"a red car", "a green car", "a blue car", "a car"};
  double z = 0, sum = 0, e[4];
  for (int i = 0; i < 4; i++) z += e[i] = exp(100 * json_number_value(json_array_get(sims, (size_t)i)) - 100);
  for (int i = 0; i < 4; i++) {
    double p = json_number_value(json_object_get(scores, labels[i]));
    sum += p;
    if (fabs(p - e[i] / z) > 1e-5) fail_msg("%s: %g, softmax says %g", labels[i], p, e[i] / z);
  }
  assert_true(fabs(sum - 1) < 1e-5);
  assert_true(json_number_value(json_array_get(sims, 0)) > 0.9); /* red vs "a red car" */
  assert_true(json_number_value(json_array_get(sims, 3)) == 0);  /* no colour word: zero text */
  /* /similarity agrees with /batch-similarity */
  body("sim", "230,20,20", "\"text\":\"a blue car\"");
  json_t *one = post(port, "/similarity", "sim", 200);
  assert_true(fabs(num(one, "similarity") - json_number_value(json_array_get(sims, 2))) < 1e-5);
  json_decref(one);
  json_decref(c);
  json_decref(b);
}

static void test_rolling_baseline(void **s) {
  (void)s;
  body("cam", "230,20,20", "\"camera_id\":\"porch\"");
  body("camblue", "20,20,230", "\"camera_id\":\"porch\",\"update_baseline\":false");
  json_t *j = post(port, "/anomaly-score", "cam", 200);
  assert_int_equal(json_integer_value(json_object_get(j, "baseline_samples")), 1);
  assert_true(json_is_null(json_object_get(j, "similarity_to_baseline")));
  assert_true(json_is_false(json_object_get(j, "baseline_warm")));
  json_decref(j);
  for (int i = 0; i < 5; i++) json_decref(post(port, "/anomaly-score", "cam", 200));
  j = post(port, "/anomaly-score", "cam", 200);
  assert_true(json_is_true(json_object_get(j, "baseline_warm")));
  assert_true(num(j, "anomaly_score") < 1e-4); /* the usual view */
  assert_false(json_is_true(json_object_get(j, "is_anomaly")));
  json_decref(j);
  j = post(port, "/anomaly-score", "camblue", 200);
  assert_true(num(j, "anomaly_score") > 0.25);
  assert_true(json_is_true(json_object_get(j, "is_anomaly")));
  assert_int_equal(json_integer_value(json_object_get(j, "baseline_samples")), 7); /* not updated */
  json_decref(j);
  /* the baseline survives a restart */
  stop(pid);
  pid = start(port, true);
  assert_true(svc_wait_up(port));
  j = post(port, "/anomaly-score", "camblue", 200);
  assert_int_equal(json_integer_value(json_object_get(j, "baseline_samples")), 7);
  assert_true(json_is_true(json_object_get(j, "is_anomaly")));
  json_decref(j);
}

static void test_given_baseline(void **s) {
  (void)s;
  json_t *e = post(port, "/embed", "red", 200);
  char *arr = json_dumps(json_object_get(e, "embedding"), JSON_COMPACT);
  json_decref(e);
  char extra[20000];
  snprintf(extra, sizeof extra, "\"baseline_embedding\":%s", arr);
  free(arr);
  body("given", "230,20,20", extra);
  json_t *j = post(port, "/anomaly-score", "given", 200);
  assert_true(num(j, "anomaly_score") < 1e-4);
  json_decref(j);
  body("givenbad", "230,20,20", "\"baseline_embedding\":[1,2,3]");
  json_decref(post(port, "/anomaly-score", "givenbad", 400));
}

static void test_bad_input(void **s) {
  (void)s;
  char many[8192] = "\"texts\":[";
  for (int i = 0; i < 101; i++) strcat(many, i ? ",\"x\"" : "\"x\"");
  strcat(many, "]");
  body("many", "1,2,3", many);
  json_t *j = post(port, "/batch-similarity", "many", 400);
  assert_non_null(strstr(json_string_value(json_object_get(j, "detail")), "100"));
  json_decref(j);
  /* 10,000 characters: truncated to 77 tokens, answered */
  char *longtext = malloc(10200);
  strcpy(longtext, "\"text\":\"");
  for (int i = 0; i < 10000; i++) longtext[8 + i] = i % 5 == 4 ? ' ' : 'r';
  strcpy(longtext + 10008, "\"");
  body("long", "1,2,3", longtext);
  free(longtext);
  json_decref(post(port, "/similarity", "long", 200));
  body("empty", "1,2,3", "\"text\":\"\"");
  json_decref(post(port, "/similarity", "empty", 200));
  body("nolabels", "1,2,3", "\"labels\":[]");
  json_decref(post(port, "/classify", "nolabels", 400));
  body("nocam", "1,2,3", "");
  json_decref(post(port, "/anomaly-score", "nocam", 400));
  char path[512];
  snprintf(path, sizeof path, "%s/bad.json", tmp);
  FILE *f = fopen(path, "w");
  fputs("{\"text\": \"bad \xff\"}", f);
  fclose(f);
  json_decref(post(port, "/embed", "bad", 400));
  /* no export: 503 with the reason */
  j = post(port_bare, "/embed", "red", 503);
  assert_non_null(strstr(json_string_value(json_object_get(j, "detail")), "CLIP_MODEL_PATH"));
  json_decref(j);
}

int main(void) {
  const struct CMUnitTest t[] = {
      cmocka_unit_test(test_health),           cmocka_unit_test(test_embed_is_unit_norm),
      cmocka_unit_test(test_classify_is_scaled_softmax), cmocka_unit_test(test_rolling_baseline),
      cmocka_unit_test(test_given_baseline),   cmocka_unit_test(test_bad_input),
  };
  return cmocka_run_group_tests(t, setup, teardown);
}
