/* The dashboard in headless Debian chromium, driven by playwright-core
 * (tests/web/dashboard.mjs): this driver stores events (with HTML in the
 * camera name and the summary), starts `vigil serve events` and the real
 * `vigil serve enrich-light` zoo, and runs the script, which calls this
 * binary back with --insert to store an event while a page is open and with
 * --live to change a camera's live state (tracks, frame) while the Live page is.
 * Screenshots land in <build>/artifacts/dashboard/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "service/notify_test.h"
#include "util/assets.h"

static char dir[128], self[PATH_MAX];
static int put_live(store *s, const char *cam, const char *labels, const char *jpeg_path);

static pid_t spawn_vigil(const char *service, int port) {
  pid_t p = fork();
  if (p == 0) {
    char ps[16], log[256];
    snprintf(ps, sizeof ps, "%d", port);
    snprintf(log, sizeof log, "%s/%s.out", dir, service);
    if (!freopen(log, "a", stdout) || !freopen(log, "a", stderr)) _exit(126);
    execl(getenv("VIGIL_BINARY"), "vigil", "serve", service, "--port", ps, "--bind", "127.0.0.1", (char *)NULL);
    _exit(127);
  }
  return p;
}

static bool up(int port) {
  char cmd[200];
  snprintf(cmd, sizeof cmd, "for i in $(seq 300); do curl -sf -o /dev/null http://127.0.0.1:%d/health && exit 0; sleep 0.1; done; exit 1", port);
  return system(cmd) == 0;
}

static void dashboard(void **state) {
  const char *home = vigil_home();
  char pw[1024];
  snprintf(pw, sizeof pw, "%s/ref/node_modules/playwright-core/package.json", home ? home : "");
  if (!home || access(pw, R_OK)) fail_msg("playwright-core is not installed in $VIGIL_HOME/ref: run make deps");
  if (access("/usr/bin/chromium", X_OK)) fail_msg("/usr/bin/chromium is missing: run make deps");
  char snap[1024], db[300], err[512];
  if (vigil_asset_require(snap, sizeof snap, "media/dog.jpg")) fail_msg("%s", vigil_asset_errmsg());
  snprintf(db, sizeof db, "sqlite://%s/v.db", dir);
  setenv("VIGIL_DB", db, 1);
  unsetenv("MQTT_URL");
  unsetenv("WEBHOOK_URL");
  store *s;
  assert_int_equal(store_open(&s, db, err, sizeof err), 0);
  assert_true(nt_insert(s, "front", "Front <img src=x onerror=\"window.__pwned=1\">", "person,person,car", 80,
                        "<script>window.__pwned=1</script><b>two people</b> at the door", snap) > 0);
  assert_true(nt_insert(s, "garage", "Garage", "car", 20, "a car parks", snap) > 0);
  assert_int_equal(put_live(s, "front", "person", snap), 0); /* a pipeline tracks one person on front */
  store_close(s);

  int ep = nt_free_port(), lp = nt_free_port();
  char svc[192];
  snprintf(svc, sizeof svc, "enrich-light=http://127.0.0.1:%d,gone=http://127.0.0.1:%d", lp, nt_free_port());
  setenv("DASHBOARD_SERVICES", svc, 1);
  pid_t light = spawn_vigil("enrich-light", lp);
  pid_t events = spawn_vigil("events", ep);
  assert_true(up(lp));
  assert_true(up(ep));

  /* the HTTP side on its own: statuses and content types */
  static const struct {
    const char *method, *path, *status, *ctype;
  } checks[] = {
      {"GET", "/", "200", "text/html; charset=utf-8"},
      {"GET", "/ui/app.js", "200", "text/javascript; charset=utf-8"},
      {"GET", "/ui/style.css", "200", "text/css; charset=utf-8"},
      {"GET", "/ui/nope.js", "404", "application/json"},
      {"GET", "/event/1", "200", "text/html; charset=utf-8"},
      {"GET", "/event/424242", "404", "text/html; charset=utf-8"},
      {"GET", "/event/abc", "404", "text/html; charset=utf-8"},
      {"GET", "/events/1/detections", "200", "application/json"},
      {"GET", "/events/424242/detections", "404", "application/json"},
      {"GET", "/cameras/front/live", "200", "application/json"},
      {"GET", "/cameras/front/live.jpg", "200", "image/jpeg"},
      {"GET", "/cameras/garage/live", "404", "application/json"},
      {"GET", "/api/rules", "200", "application/json"},
      {"GET", "/api/services/gone/health", "502", "application/json"},
      {"GET", "/api/services/unknown/health", "404", "application/json"},
      {"GET", "/api/services/enrich-light/enrich", "404", "application/json"},
      {"POST", "/api/services/enrich-light/models/preload?model_name=no%20such", "400", "application/json"},
  };
  for (size_t i = 0; i < sizeof checks / sizeof *checks; i++) {
    char c[512];
    snprintf(c, sizeof c, "test \"$(curl -s -X %s -o /dev/null -w '%%{http_code} %%{content_type}' 'http://127.0.0.1:%d%s')\" = '%s %s'",
             checks[i].method, ep, checks[i].path, checks[i].status, checks[i].ctype);
    if (system(c)) fail_msg("%s %s: expected %s %s", checks[i].method, checks[i].path, checks[i].status, checks[i].ctype);
  }

  char cwd[PATH_MAX], out[PATH_MAX + 64], cmd[3 * PATH_MAX];
  assert_non_null(getcwd(cwd, sizeof cwd));
  snprintf(out, sizeof out, "%s/artifacts/dashboard", cwd);
  snprintf(cmd, sizeof cmd, "mkdir -p '%s' && rm -f '%s'/*.png", out, out);
  assert_int_equal(system(cmd), 0);
  snprintf(cmd, sizeof cmd,
           "BASE=http://127.0.0.1:%d LIGHT=http://127.0.0.1:%d OUT='%s' INSERTER='%s' INSERT_DB='%s' SNAPSHOT='%s' "
           "REF='%s/ref' node '%s/tests/web/dashboard.mjs'",
           ep, lp, out, self, db, snap, home, getenv("VIGIL_SOURCE_DIR"));
  int rc = system(cmd);
  kill(events, SIGTERM);
  kill(light, SIGTERM);
  int st;
  waitpid(events, &st, 0);
  waitpid(light, &st, 0);
  if (rc) {
    snprintf(cmd, sizeof cmd, "tail -n 20 %s/events.out %s/enrich-light.out >&2", dir, dir);
    (void)system(cmd);
  }
  assert_int_equal(rc, 0);
}

/* The live state of a camera as a pipeline publishes it: one track per label
 * of the comma list (ids 1..n), the JPEG file as its frame. */
static int put_live(store *s, const char *cam, const char *labels, const char *jpeg_path) {
  json_t *arr = json_array();
  char l[512];
  snprintf(l, sizeof l, "%s", labels);
  int k = 0;
  for (char *t = strtok(l, ","); t; t = strtok(NULL, ",")) {
    k++;
    json_array_append_new(arr, json_pack("{s:i,s:s,s:f,s:{s:f,s:f,s:f,s:f},s:b,s:f}", "id", k, "label", t, "score",
                                         0.87, "bbox", "x1", 10.0 * k, "y1", 20.0, "x2", 10.0 * k + 40, "y2", 120.0,
                                         "stationary", k == 2, "dwell_s", 4.0 * k));
  }
  char *tracks = json_dumps(arr, JSON_COMPACT);
  json_decref(arr);
  uint8_t *jpg = NULL;
  size_t n = 0;
  FILE *f = jpeg_path ? fopen(jpeg_path, "rb") : NULL;
  if (f) {
    jpg = malloc(STORE_LIVE_MAX_JPEG);
    n = jpg ? fread(jpg, 1, STORE_LIVE_MAX_JPEG, f) : 0;
    fclose(f);
  }
  char err[512] = "";
  int rc = store_put_live(s, cam, nt_now(), 640, 480, tracks, "{\"frames\":250,\"dropped\":4,\"detected_frames\":100,\"detect_ms\":1234.5}", jpg, n, err, sizeof err);
  if (rc) fprintf(stderr, "# put_live: %s\n", err);
  free(tracks);
  free(jpg);
  return rc;
}

/* --insert DB CAMERA SUMMARY: stores one event and prints its id (for the script). */
static int insert_mode(int argc, char **argv) {
  if (argc < 5) return 2;
  store *s;
  char err[512];
  if (store_open(&s, argv[2], err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  int64_t id = nt_insert(s, argv[3], NULL, "person", 55, argv[4], argc > 5 ? argv[5] : NULL);
  store_close(s);
  if (id <= 0) return 1;
  printf("%lld\n", (long long)id);
  return 0;
}

/* --live DB CAMERA LABELS JPEG: replaces the camera's live state (for the script). */
static int live_mode(int argc, char **argv) {
  if (argc < 6) return 2;
  store *s;
  char err[512];
  if (store_open(&s, argv[2], err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  int rc = put_live(s, argv[3], argv[4], argv[5]);
  store_close(s);
  return rc ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--insert")) return insert_mode(argc, argv);
  if (argc > 1 && !strcmp(argv[1], "--live")) return live_mode(argc, argv);
  if (!realpath("/proc/self/exe", self)) return 1;
  snprintf(dir, sizeof dir, "/tmp/vigil-dash-XXXXXX");
  if (!mkdtemp(dir)) return 1;
  const struct CMUnitTest t[] = {cmocka_unit_test(dashboard)};
  int rc = cmocka_run_group_tests(t, NULL, NULL);
  char cmd[200];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  (void)system(cmd);
  return rc;
}
