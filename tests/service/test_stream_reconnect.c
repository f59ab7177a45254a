/* A stream that drops is reconnected with backoff: `vigil analyze` reads the
 * first part of vtest.avi (about 5 s of video, cut mid-file as a dropped
 * connection leaves it) as an http:// stream from a local server; each time
 * the stream ends it reconnects, until --duration. The clip is short so that
 * the drop comes within the duration however slow the machine is. */
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

#include "util/assets.h"

static void test_reconnect(void **s) {
  (void)s;
  char media[1024], tmp[] = "/tmp/vigil-stream-XXXXXX", cmd[4096];
  if (vigil_asset_require(media, sizeof media, "media/vtest.avi")) fail_msg("%s", vigil_asset_errmsg());
  assert_non_null(mkdtemp(tmp));
  /* the served folder holds the cut clip */
  snprintf(cmd, sizeof cmd, "mkdir -p %s/www && head -c 600000 %s > %s/www/vtest.avi", tmp, media, tmp);
  assert_int_equal(system(cmd), 0);
  snprintf(media, sizeof media, "%s/www", tmp);
  const char *vigil = getenv("VIGIL_BINARY");
  assert_non_null(vigil);
  int port = 23000 + (int)(getpid() % 20000);
  pid_t srv = fork();
  if (srv == 0) {
    char ports[16];
    snprintf(ports, sizeof ports, "%d", port);
    if (!freopen("/dev/null", "w", stderr) || !freopen("/dev/null", "w", stdout)) _exit(126);
    execl("/usr/bin/python3", "python3", "-m", "http.server", ports, "--bind", "127.0.0.1", "--directory", media,
          (char *)NULL);
    _exit(127);
  }
  snprintf(cmd, sizeof cmd, "for i in $(seq 50); do curl -sfI http://127.0.0.1:%d/vtest.avi >/dev/null && exit 0; sleep 0.1; done; exit 1",
           port);
  assert_int_equal(system(cmd), 0);
  snprintf(cmd, sizeof cmd,
           "NEMOTRON_API=none %s analyze http://127.0.0.1:%d/vtest.avi --fps 2 --duration 25 --no-enrich --quiet --json "
           "--window 5 --db sqlite://%s/s.db --snapshots %s/snaps > %s/out.jsonl 2> %s/err.log",
           vigil, port, tmp, tmp, tmp, tmp);
  int rc = system(cmd);
  kill(srv, SIGTERM);
  int st;
  waitpid(srv, &st, 0);
  snprintf(cmd, sizeof cmd, "grep -c 'dropped; reconnecting' %s/err.log > %s/n", tmp, tmp);
  (void)system(cmd);
  char path[300];
  snprintf(path, sizeof path, "%s/n", tmp);
  FILE *f = fopen(path, "r");
  int n = 0;
  assert_non_null(f);
  assert_int_equal(fscanf(f, "%d", &n), 1);
  fclose(f);
  fprintf(stderr, "analyze exit %d, %d reconnects\n", rc, n);
  if (rc) {
    snprintf(cmd, sizeof cmd, "tail -5 %s/err.log >&2", tmp);
    (void)system(cmd);
  }
  assert_int_equal(rc, 0);
  assert_true(n >= 1);
  /* events kept coming across the reconnects, all with distinct windows */
  snprintf(cmd, sizeof cmd, "test $(wc -l < %s/out.jsonl) -ge 2", tmp);
  assert_int_equal(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest t[] = {cmocka_unit_test(test_reconnect)};
  return cmocka_run_group_tests(t, NULL, NULL);
}
