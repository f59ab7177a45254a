/* Semantic search and the pipeline's scene stage, black box: `vigil analyze` with the
 * generated CLIP and Florence-2 stand-ins (tools/testmodels/: a reddish image embeds
 * near the text "red", Florence reads a red image as "a red car") on a person photo
 * tinted red, green and blue, one camera each; then `vigil serve events` ranks those
 * events by text (GET/POST /events/search) and by image (/events/{id}/similar), with
 * the bad input the API documents, a store without events, and a server without
 * CLIP (503). The same camera seen again in another colour scores as an anomaly
 * against its rolling baseline; without the models the pipeline logs each once and
 * stores events without a scene. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "service_test.h"
#include "util/assets.h"

static char person[1024];

static void run(const char *cmd) {
  int rc = system(cmd);
  if (rc) fail_msg("command failed (%d): %s", rc, cmd);
}

/* vigil analyze DIR with or without the stand-ins; the JSON lines into OUT.jsonl. */
static void analyze(const char *dir, const char *db, const char *out, bool models) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd,
           "cd %s && NEMOTRON_API=none CLIP_BASELINE_WARM=1 CLIP_MODEL_PATH=%s FLORENCE_MODEL_PATH=%s "
           "FLORENCE_NUM_BEAMS=1 VIGIL_CLIP_BASELINES=%s/baselines-%s.sqlite %s analyze %s --json --no-enrich --quiet "
           "--db sqlite://%s/%s --snapshots %s/snaps --report %s.html > %s.jsonl 2> %s.log",
           tmp, models ? "clip" : "/nonexistent/clip", models ? "florence" : "/nonexistent/florence", tmp, db,
           getenv("VIGIL_BINARY"), dir, tmp, db, tmp, out, out, out);
  run(cmd);
}

/* The JSON lines of an analyze run, keyed by camera (the last event of each). */
static json_t *events_of(const char *out) {
  char path[512], line[1 << 16];
  snprintf(path, sizeof path, "%s/%s.jsonl", tmp, out);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  json_t *by = json_object();
  while (fgets(line, sizeof line, f)) {
    json_t *j = json_loads(line, 0, NULL);
    if (!j) fail_msg("not JSON: %s", line);
    json_object_set_new(by, json_string_value(json_object_get(j, "camera_id")), j);
  }
  fclose(f);
  return by;
}

static int count_lines(const char *file, const char *needle) {
  char path[512], line[4096];
  snprintf(path, sizeof path, "%s/%s", tmp, file);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  int n = 0;
  while (fgets(line, sizeof line, f)) n += strstr(line, needle) != NULL;
  fclose(f);
  return n;
}

static pid_t serve(int port, const char *db, bool clip) {
  pid_t c = fork();
  if (c == 0) {
    char v[600], ports[16], log[512];
    snprintf(v, sizeof v, "sqlite://%s/%s", tmp, db), setenv("VIGIL_DB", v, 1);
    snprintf(v, sizeof v, "%s/clip", tmp), setenv("CLIP_MODEL_PATH", clip ? v : "/nonexistent/clip", 1);
    snprintf(ports, sizeof ports, "%d", port);
    snprintf(log, sizeof log, "%s/serve-%d.log", tmp, port);
    if (!freopen(log, "w", stderr)) _exit(126);
    const char *bin = getenv("VIGIL_BINARY");
    execl(bin, bin, "serve", "events", "--port", ports, (char *)NULL);
    _exit(127);
  }
  return c;
}

static void stop(pid_t p) {
  int st;
  kill(p, SIGTERM);
  waitpid(p, &st, 0);
}

static json_t *get(int port, const char *target, int want) {
  json_t *j;
  int st;
  assert_int_equal(svc_curl(&j, &st, "'http://127.0.0.1:%d%s'", port, target), 0);
  if (st != want) fail_msg("GET %s: status %d, wanted %d: %s", target, st, want, json_dumps(j, 0));
  return j;
}

static const char *cam_of(json_t *result) {
  return json_string_value(json_object_get(json_object_get(result, "event"), "camera_id"));
}

static int setup(void **s) {
  (void)s;
  if (!getenv("VIGIL_BINARY")) return -1;
  if (vigil_asset_require(person, sizeof person, "media/person.jpg")) {
    fprintf(stderr, "%s\n", vigil_asset_errmsg());
    return -1;
  }
  snprintf(tmp, sizeof tmp, "/tmp/vigil-search-XXXXXX");
  if (!mkdtemp(tmp)) return -1;
  const char *src = getenv("VIGIL_SOURCE_DIR");
  char cmd[4096];
  /* three cameras: the person photo tinted red, green, blue; "again" holds camera
   * "red" seen tinted blue later (a new file, a new batch) */
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 %s/tools/testmodels/gen_clip_models.py %s > /dev/null && "
           "/usr/bin/python3 %s/tools/testmodels/gen_florence_models.py %s > /dev/null && "
           "cd %s && /usr/bin/python3 -c \"\nimport os\nfrom PIL import Image\np = Image.open('%s').convert('RGB')\n"
           "for d, name, c in (('in', 'red', (255, 0, 0)), ('in', 'green', (0, 255, 0)), ('in', 'blue', (0, 0, 255)),"
           " ('again', 'red', (0, 0, 255))):\n"
           "    os.makedirs(d + '/' + name, exist_ok=True)\n"
           "    Image.blend(p, Image.new('RGB', p.size, c), 0.45).save(d + '/' + name + '/' + d + '.jpg')\n\"",
           src ? src : ".", tmp, src ? src : ".", tmp, tmp, person);
  if (system(cmd)) {
    fprintf(stderr, "generating the stand-ins or the images failed (run `make deps`)\n");
    return -1;
  }
  return 0;
}

static int teardown(void **s) {
  (void)s;
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  return system(cmd) == 0 ? 0 : -1;
}

/* The pipeline stores a caption, an anomaly score and embeddings per event; the
 * events service ranks them; the bad input of the API. */
static void pipeline_and_search(void **state) {
  (void)state;
  analyze("in", "ev.db", "first", true);
  json_t *by = events_of("first");
  assert_int_equal(json_object_size(by), 3);
  const char *cams[3] = {"red", "green", "blue"};
  for (int i = 0; i < 3; i++) {
    json_t *sc = json_object_get(json_object_get(by, cams[i]), "scene");
    if (!json_is_object(sc)) fail_msg("event of %s has no scene", cams[i]);
    assert_non_null(json_string_value(json_object_get(sc, "caption")));
    /* each camera's first view: no baseline yet */
    assert_float_equal(json_number_value(json_object_get(sc, "anomaly_score")), 0, 1e-9);
    assert_true(json_is_null(json_object_get(sc, "similarity_to_baseline")));
    assert_int_equal(json_integer_value(json_object_get(sc, "baseline_samples")), 1);
  }
  assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(by, "red"), "scene"), "caption")),
                      "a red car");
  assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(by, "blue"), "scene"), "caption")),
                      "a blue car");
  json_decref(by);
  assert_int_equal(count_lines("first.log", "scene stage on"), 1);
  assert_int_equal(count_lines("first.html", "caption: a red car"), 1); /* the report shows it */
  assert_int_equal(count_lines("first.html", "scene anomaly 0.00 (baseline still learning"), 3);

  /* the store: a snapshot and the person crops per event, crops tied to the event's detections */
  char path[512];
  snprintf(path, sizeof path, "%s/ev.db", tmp);
  sqlite3 *db;
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT (SELECT COUNT(*) FROM event_embeddings WHERE kind = 'snapshot'),"
                                      " (SELECT COUNT(*) FROM event_embeddings WHERE kind = 'crop' AND label = 'person'),"
                                      " (SELECT COUNT(*) FROM event_embeddings x WHERE kind = 'crop' AND detection_id IN"
                                      "  (SELECT detection_id FROM event_detections d WHERE d.event_id = x.event_id)),"
                                      " (SELECT COUNT(*) FROM event_scene)",
                                      -1, &st, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), 3);
  assert_true(sqlite3_column_int(st, 1) >= 3);
  assert_int_equal(sqlite3_column_int(st, 2), sqlite3_column_int(st, 1));
  assert_int_equal(sqlite3_column_int(st, 3), 3);
  sqlite3_finalize(st);
  sqlite3_close(db);

  int port = svc_free_port(), bare = svc_free_port();
  assert_true(port > 0 && bare > 0);
  pid_t srv = serve(port, "ev.db", true), nomodel = serve(bare, "ev.db", false);
  assert_true(svc_wait_up(port) && svc_wait_up(bare));

  json_t *hj = get(port, "/health", 200);
  assert_true(json_is_true(json_object_get(hj, "semantic_search")));
  json_decref(hj);
  hj = get(bare, "/health", 200);
  assert_true(json_is_false(json_object_get(hj, "semantic_search")));
  json_decref(hj);
  /* text -> events: each colour word finds its camera first, scores descending */
  const char *words[3] = {"person in a red jacket", "green", "a BLUE coat"};
  for (int i = 0; i < 3; i++) {
    char target[256];
    snprintf(target, sizeof target, "/events/search?q=%s&limit=3", words[i]);
    for (char *p = target; *p; p++)
      if (*p == ' ') *p = '+';
    json_t *j = get(port, target, 200);
    json_t *r = json_object_get(j, "results");
    assert_int_equal(json_array_size(r), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "events_searched")), 3);
    assert_string_equal(cam_of(json_array_get(r, 0)), cams[i]);
    double s0 = json_number_value(json_object_get(json_array_get(r, 0), "score"));
    double s1 = json_number_value(json_object_get(json_array_get(r, 1), "score"));
    double s2 = json_number_value(json_object_get(json_array_get(r, 2), "score"));
    assert_true(s0 > 0.5 && s0 > s1 && s1 >= s2);
    assert_non_null(json_string_value(json_object_get(json_object_get(json_array_get(r, 0), "match"), "kind")));
    json_decref(j);
  }
  json_t *j = get(port, "/events/search?q=red&limit=1", 200);
  assert_int_equal(json_array_size(json_object_get(j, "results")), 1);
  assert_string_equal(json_string_value(json_object_get(j, "query")), "red");
  json_decref(j);
  /* image -> events: the red event is closest to... not itself */
  j = get(port, "/events/search?q=red&limit=1", 200);
  json_int_t red_id = json_integer_value(json_object_get(json_object_get(json_array_get(json_object_get(j, "results"), 0), "event"), "id"));
  json_decref(j);
  char target[256];
  snprintf(target, sizeof target, "/events/%lld/similar?limit=5", (long long)red_id);
  j = get(port, target, 200);
  assert_int_equal(json_array_size(json_object_get(j, "results")), 2);
  for (size_t i = 0; i < 2; i++) assert_string_not_equal(cam_of(json_array_get(json_object_get(j, "results"), i)), "red");
  json_decref(j);

  /* bad input */
  json_decref(get(port, "/events/search", 400));                  /* no q */
  json_decref(get(port, "/events/search?q=%FF%FE", 400));         /* invalid UTF-8 */
  json_decref(get(port, "/events/search?q=red&limit=0", 400));
  json_decref(get(port, "/events/search?q=red&limit=101", 400));
  json_decref(get(port, "/events/search?q=red&limit=x", 400));
  json_decref(get(port, "/events/search?q=", 200));               /* empty text: valid, as on 8093 */
  json_decref(get(port, "/events/0/similar", 400));
  json_decref(get(port, "/events/999999/similar", 404));
  /* 10,000 characters: too long for a request target (414), answered from its start in a POST body */
  char path2[512];
  snprintf(path2, sizeof path2, "%s/long.curl", tmp); /* past curl's command line: a config file */
  FILE *f = fopen(path2, "w");
  assert_non_null(f);
  fprintf(f, "url = \"http://127.0.0.1:%d/events/search?q=red", port);
  for (int i = 0; i < 10000 - 3; i++) fputc('x', f);
  fputs("\"\n", f);
  fclose(f);
  int status;
  assert_int_equal(svc_curl(&j, &status, "-K %s", path2), 0);
  assert_int_equal(status, 414);
  json_decref(j);
  char body[10100];
  int k;
  k = snprintf(body, sizeof body, "{\"q\":\"red");
  for (int i = 0; i < 9997; i++) body[k++] = i % 5 ? 'x' : ' ';
  snprintf(body + k, sizeof body - k, "\"}");
  snprintf(path, sizeof path, "%s/long.json", tmp);
  f = fopen(path, "w");
  assert_non_null(f);
  fputs(body, f);
  fclose(f);
  assert_int_equal(svc_curl(&j, &status, "-H 'Content-Type: application/json' --data-binary @%s "
                                         "http://127.0.0.1:%d/events/search", path, port), 0);
  assert_int_equal(status, 200);
  assert_string_equal(cam_of(json_array_get(json_object_get(j, "results"), 0)), "red");
  json_decref(j);
  assert_int_equal(svc_curl(&j, &status, "-H 'Content-Type: application/json' --data '{\"q\": 5}' "
                                         "http://127.0.0.1:%d/events/search", port), 0);
  assert_int_equal(status, 400);
  json_decref(j);

  /* without CLIP: 503 saying so */
  j = get(bare, "/events/search?q=red", 503);
  assert_non_null(strstr(json_string_value(json_object_get(j, "detail")), "CLIP"));
  json_decref(j);
  j = get(bare, "/events/1/similar", 503);
  assert_non_null(strstr(json_string_value(json_object_get(j, "detail")), "CLIP"));
  json_decref(j);
  stop(srv);
  stop(nomodel);

  /* camera "red" seen again, tinted blue: an anomaly against its (warm) baseline */
  analyze("again", "ev.db", "again", true);
  by = events_of("again");
  json_t *sc = json_object_get(json_object_get(by, "red"), "scene");
  assert_true(json_is_object(sc));
  assert_true(json_number_value(json_object_get(sc, "anomaly_score")) > 0.25);
  assert_true(json_is_true(json_object_get(sc, "baseline_warm")));
  assert_true(json_is_true(json_object_get(sc, "is_anomaly")));
  assert_int_equal(json_integer_value(json_object_get(sc, "baseline_samples")), 2);
  json_decref(by);
}

/* A store without events answers an empty list. */
static void empty_store(void **state) {
  (void)state;
  int port = svc_free_port();
  pid_t srv = serve(port, "empty.db", true);
  assert_true(svc_wait_up(port));
  json_t *j = get(port, "/events/search?q=anything", 200);
  assert_int_equal(json_array_size(json_object_get(j, "results")), 0);
  assert_int_equal(json_integer_value(json_object_get(j, "count")), 0);
  json_decref(j);
  stop(srv);
}

/* Without the models the pipeline says so once each and stores plain events. */
static void missing_models(void **state) {
  (void)state;
  analyze("in", "plain.db", "plain", false);
  json_t *by = events_of("plain");
  assert_int_equal(json_object_size(by), 3);
  assert_true(json_is_null(json_object_get(json_object_get(by, "red"), "scene")));
  json_decref(by);
  assert_int_equal(count_lines("plain.log", "CLIP is not installed"), 1);
  assert_int_equal(count_lines("plain.log", "Florence-2 is not installed"), 1);
  /* CLIP installed later: those events have nothing to compare, and are not found */
  int port = svc_free_port();
  pid_t srv = serve(port, "plain.db", true);
  assert_true(svc_wait_up(port));
  json_t *j = get(port, "/events/1/similar", 404);
  assert_non_null(strstr(json_string_value(json_object_get(j, "detail")), "no stored CLIP embedding"));
  json_decref(j);
  j = get(port, "/events/search?q=red", 200);
  assert_int_equal(json_array_size(json_object_get(j, "results")), 0);
  json_decref(j);
  stop(srv);
}

int main(void) {
  const struct CMUnitTest t[] = {
      cmocka_unit_test(pipeline_and_search),
      cmocka_unit_test(empty_store),
      cmocka_unit_test(missing_models),
  };
  return cmocka_run_group_tests(t, setup, teardown);
}
