/* Frames a live camera drops under overload show on the /metrics of the
 * process that runs the pipeline: `vigil analyze --metrics-port` reads
 * vtest.avi as an http:// stream, which arrives as fast as FFmpeg decodes it
 * (far faster than one worker detecting every frame whole: a flood), and
 * GET /metrics is read while it runs until the camera's drop counter moves.
 * At SIGTERM analyze exits 0 and its summary counts at least those drops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "service/service_test.h"
#include "util/assets.h"

/* The value of the first sample of `name` in a Prometheus text file, with its
 * labels in `labels`; -1 when absent. */
static double metric_value(const char *path, const char *name, char *labels, size_t cap) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char line[1024];
  double v = -1;
  size_t n = strlen(name);
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, name, n) || line[n] != '{') continue;
    char *end = strchr(line, '}');
    if (!end) break;
    snprintf(labels, cap, "%.*s", (int)(end - line - n - 1), line + n + 1);
    v = strtod(end + 1, NULL);
    break;
  }
  fclose(f);
  return v;
}

static void test_drops_on_metrics(void **s) {
  (void)s;
  char media[1024], cmd[4096], path[512], labels[256] = "";
  if (vigil_asset_require(media, sizeof media, "media/vtest.avi")) fail_msg("%s", vigil_asset_errmsg());
  snprintf(tmp, sizeof tmp, "/tmp/vigil-pmetrics-XXXXXX");
  assert_non_null(mkdtemp(tmp));
  snprintf(cmd, sizeof cmd, "mkdir -p %s/www && cp %s %s/www/vtest.avi", tmp, media, tmp);
  assert_int_equal(system(cmd), 0);
  const char *vigil = getenv("VIGIL_BINARY");
  assert_non_null(vigil);
  int port = svc_free_port(), mport = svc_free_port();
  assert_true(port > 0 && mport > 0 && port != mport);
  pid_t srv = fork();
  if (srv == 0) {
    char ports[16], dir[300];
    snprintf(ports, sizeof ports, "%d", port);
    snprintf(dir, sizeof dir, "%s/www", tmp);
    if (!freopen("/dev/null", "w", stderr) || !freopen("/dev/null", "w", stdout)) _exit(126);
    execl("/usr/bin/python3", "python3", "-m", "http.server", ports, "--bind", "127.0.0.1", "--directory", dir,
          (char *)NULL);
    _exit(127);
  }
  snprintf(cmd, sizeof cmd,
           "for i in $(seq 100); do curl -sfI http://127.0.0.1:%d/vtest.avi >/dev/null && exit 0; sleep 0.1; done; exit 1",
           port);
  assert_int_equal(system(cmd), 0);
  pid_t an = fork();
  if (an == 0) {
    char url[128], mp[16], db[400], snaps[400], errlog[400];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/vtest.avi", port);
    snprintf(mp, sizeof mp, "%d", mport);
    snprintf(db, sizeof db, "sqlite://%s/s.db", tmp);
    snprintf(snaps, sizeof snaps, "%s/snaps", tmp);
    snprintf(errlog, sizeof errlog, "%s/err.log", tmp);
    if (!freopen(errlog, "w", stderr) || !freopen("/dev/null", "w", stdout)) _exit(126);
    setenv("NEMOTRON_API", "none", 1);
    /* every frame detected whole by one worker: the stream outruns it */
    execl(vigil, vigil, "analyze", url, "--no-motion", "--no-enrich", "--workers", "1", "--quiet", "--duration",
          "600", "--metrics-port", mp, "--db", db, "--snapshots", snaps, (char *)NULL);
    _exit(127);
  }
  /* the server starts once the detector is loaded: up to 3 minutes (a sanitizer build on a loaded machine) */
  bool up = false;
  for (int i = 0; i < 3 && !up; i++) up = svc_wait_up(mport);
  assert_true(up);
  /* the counters are read while the camera floods, until frames went through and some were dropped */
  double dropped = -1, frames = -1;
  snprintf(path, sizeof path, "%s/metrics.txt", tmp);
  for (int i = 0; i < 1200 && (dropped <= 0 || frames <= 0); i++) {
    snprintf(cmd, sizeof cmd, "curl -sf -o %s http://127.0.0.1:%d/metrics", path, mport);
    if (system(cmd) == 0) {
      dropped = metric_value(path, "vigil_pipeline_frames_dropped_total", labels, sizeof labels);
      frames = metric_value(path, "vigil_pipeline_frames_total", labels, sizeof labels);
    }
    if (dropped <= 0 || frames <= 0) usleep(100000);
  }
  fprintf(stderr, "metrics: %.0f frames processed, %.0f dropped {%s}\n", frames, dropped, labels);
  kill(an, SIGTERM);
  int st;
  waitpid(an, &st, 0);
  kill(srv, SIGTERM);
  waitpid(srv, NULL, 0);
  assert_true(dropped > 0);
  assert_true(frames > 0);
  assert_non_null(strstr(labels, "camera=\""));
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0);
  /* analyze's own summary counts them too (at least as many: drops went on after the read) */
  snprintf(cmd, sizeof cmd,
           "sed -n 's/.*gated by motion, \\([0-9]*\\) dropped).*/\\1/p' %s/err.log | tail -1 > %s/summary", tmp, tmp);
  assert_int_equal(system(cmd), 0);
  snprintf(path, sizeof path, "%s/summary", tmp);
  FILE *f = fopen(path, "r");
  long in_summary = -1;
  assert_non_null(f);
  assert_int_equal(fscanf(f, "%ld", &in_summary), 1);
  fclose(f);
  assert_true((double)in_summary >= dropped);
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest t[] = {cmocka_unit_test(test_drops_on_metrics)};
  return cmocka_run_group_tests(t, NULL, NULL);
}
