/* End to end on the real surveillance video with the real binary:
 * `vigil analyze vtest.avi` produces rule-scored events whose batches all
 * hold person detections, stores them, and the events API lists them; a
 * kill -9 during ingestion followed by a rerun loses and duplicates nothing. */
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
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "util/assets.h"

static char vtest[1024], tmpdir[256];
static const char *vigil;

static int setup(void **s) {
  (void)s;
  vigil = getenv("VIGIL_BINARY");
  if (!vigil) {
    fprintf(stderr, "VIGIL_BINARY is not set (run through ctest)\n");
    return -1;
  }
  if (vigil_asset_require(vtest, sizeof vtest, "media/vtest.avi")) {
    fprintf(stderr, "%s\n", vigil_asset_errmsg());
    return -1;
  }
  snprintf(tmpdir, sizeof tmpdir, "/tmp/vigil-e2e-XXXXXX");
  if (!mkdtemp(tmpdir)) return -1;
  setenv("NEMOTRON_API", "none", 1); /* no LLM runs here: the rule scorer scores */
  return 0;
}

static int teardown(void **s) {
  (void)s;
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

static sqlite3 *open_db(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", tmpdir, name);
  sqlite3 *db;
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  return db;
}

static long long scalar(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  long long v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static void test_vtest_events(void **s) {
  (void)s;
  char cmd[4096];
  snprintf(cmd, sizeof cmd,
           "%s analyze %s --json --quiet --fps 0.5 --window 20 --max-enrich 2 --enrich-interval 20 "
           "--db sqlite://%s/a.db --snapshots %s/snaps --report %s/report.html > %s/out.jsonl 2> %s/err.log",
           vigil, vtest, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir);
  int rc = system(cmd);
  if (rc) {
    snprintf(cmd, sizeof cmd, "tail -20 %s/err.log >&2", tmpdir);
    (void)system(cmd);
  }
  assert_int_equal(rc, 0);
  char path[512];
  snprintf(path, sizeof path, "%s/out.jsonl", tmpdir);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char line[1 << 16];
  int events = 0;
  while (fgets(line, sizeof line, f)) {
    json_error_t je;
    json_t *ev = json_loads(line, 0, &je);
    assert_non_null(ev);
    const char *scorer = json_string_value(json_object_get(ev, "scorer"));
    const char *level = json_string_value(json_object_get(ev, "risk_level"));
    assert_non_null(scorer);
    assert_string_equal(scorer, "rules");
    assert_non_null(level);
    assert_true(!strcmp(level, "low") || !strcmp(level, "medium") || !strcmp(level, "high") || !strcmp(level, "critical"));
    /* the ids of the rules that fired: every window holds a person */
    json_t *rules = json_object_get(ev, "rules");
    assert_true(json_is_array(rules) && json_array_size(rules) >= 1);
    assert_string_equal(json_string_value(json_array_get(rules, 0)), "base_person");
    json_decref(ev);
    events++;
  }
  fclose(f);
  fprintf(stderr, "vtest: %d events\n", events);
  assert_true(events >= 4); /* 80 s of video in 20 s windows */
  sqlite3 *db = open_db("a.db");
  assert_int_equal(scalar(db, "SELECT count(*) FROM events"), events);
  /* every batch window holds person detections */
  assert_int_equal(scalar(db, "SELECT count(*) FROM events e WHERE NOT EXISTS (SELECT 1 FROM event_detections ed "
                              "JOIN detections d ON d.id = ed.detection_id WHERE ed.event_id = e.id AND d.class = 'person')"),
                   0);
  /* vigil analyze published the camera's live state (dashboard tile): a frame and a track list */
  assert_int_equal(scalar(db, "SELECT count(*) FROM live_state WHERE camera_id = 'vtest' AND jpeg IS NOT NULL"
                              " AND width > 0 AND tracks LIKE '[%]'"), 1);
  assert_int_equal(scalar(db, "SELECT count(*) FROM events WHERE ' ' || rules || ' ' LIKE '% base_person %'"), events);
  /* every tracked object has the JPEG of its best sighting, stored with it */
  assert_int_equal(scalar(db, "SELECT count(*) FROM detections WHERE snapshot_path IS NULL OR snapshot_path = ''"), 0);
  {
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT snapshot_path, x2 - x1, y2 - y1 FROM detections", -1, &q, NULL),
                     SQLITE_OK);
    int files = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
      FILE *jf = fopen((const char *)sqlite3_column_text(q, 0), "rb");
      assert_non_null(jf);
      unsigned char m[2] = {0};
      assert_int_equal(fread(m, 1, 2, jf), 2);
      assert_true(m[0] == 0xFF && m[1] == 0xD8); /* a JPEG */
      fclose(jf);
      files++;
    }
    sqlite3_finalize(q);
    assert_true(files > 0);
  }
  /* enrichment results were stored for some detections (pose from MoveNet) */
  assert_true(scalar(db, "SELECT count(*) FROM enrichment_results WHERE json LIKE '%posture%'") > 0);
  sqlite3_close(db);
  snprintf(path, sizeof path, "%s/report.html", tmpdir);
  f = fopen(path, "r");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  assert_true(ftell(f) > 10000); /* snapshots are embedded */
  fseek(f, 0, SEEK_SET);
  {
    static char html[1 << 22];
    size_t got = fread(html, 1, sizeof html - 1, f);
    html[got] = 0;
    assert_non_null(strstr(html, "rules fired: base_person"));
  }
  fclose(f);
  snprintf(cmd, sizeof cmd, "grep -q 'alt=\"object snapshot\" src=\"data:image/jpeg;base64,/9j/' %s/report.html", tmpdir);
  assert_int_equal(system(cmd), 0); /* and each object's best sighting */

  /* the events API lists what was stored */
  int port = 20000 + (int)(getpid() % 20000);
  snprintf(cmd, sizeof cmd, "VIGIL_DB=sqlite://%s/a.db %s serve events --port %d > %s/serve.log 2>&1 & echo $! > %s/serve.pid",
           tmpdir, vigil, port, tmpdir, tmpdir);
  assert_int_equal(system(cmd), 0);
  char out[512];
  snprintf(out, sizeof out, "%s/list.json", tmpdir);
  int ok = 0;
  for (int i = 0; i < 50 && !ok; i++) {
    usleep(100000);
    snprintf(cmd, sizeof cmd, "curl -sf 'http://127.0.0.1:%d/events?camera=vtest&limit=100' -o %s", port, out);
    ok = system(cmd) == 0;
  }
  /* an event's objects say they have a snapshot, and the API serves it */
  char det_id[128] = "";
  if (ok) {
    snprintf(cmd, sizeof cmd,
             "curl -sf http://127.0.0.1:%d/events/1/detections | python3 -c 'import json,sys; d=json.load(sys.stdin)"
             "[\"detections\"]; print(d[0][\"id\"] if d and all(x[\"has_snapshot\"] for x in d) else \"\")' > %s/det",
             port, tmpdir);
    ok = system(cmd) == 0;
    snprintf(path, sizeof path, "%s/det", tmpdir);
    f = fopen(path, "r");
    if (!f || !fgets(det_id, sizeof det_id, f)) ok = 0;
    if (f) fclose(f);
    det_id[strcspn(det_id, "\n")] = 0;
  }
  fprintf(stderr, "object snapshot of detection '%s'\n", det_id);
  int snap_ok = -1, missing_ok = -1;
  if (ok && det_id[0]) {
    snprintf(cmd, sizeof cmd,
             "curl -sf http://127.0.0.1:%d/detections/%s/snapshot -o %s/obj.jpg && "
             "test \"$(head -c 2 %s/obj.jpg | od -An -tx1 | tr -d ' ')\" = ffd8",
             port, det_id, tmpdir, tmpdir);
    snap_ok = system(cmd);
    snprintf(cmd, sizeof cmd, "test $(curl -s -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d/detections/nope/snapshot) = 404",
             port);
    missing_ok = system(cmd);
  }
  snprintf(cmd, sizeof cmd, "kill $(cat %s/serve.pid)", tmpdir);
  (void)system(cmd);
  assert_true(ok);
  assert_true(det_id[0]);
  assert_int_equal(snap_ok, 0);
  assert_int_equal(missing_ok, 0);
  json_error_t je;
  json_t *list = json_load_file(out, 0, &je);
  assert_non_null(list);
  json_t *arr = json_is_array(list) ? list : json_object_get(list, "events");
  assert_true(json_is_array(arr));
  assert_int_equal((int)json_array_size(arr), events);
  json_decref(list);
}

/* kill -9 while frames are being ingested, then run again on the same store:
 * no event is lost (the rerun completes the set) and none is duplicated. */
static void test_crash_consistency(void **s) {
  (void)s;
  char cmd[4096];
  snprintf(cmd, sizeof cmd,
           "%s analyze %s --json --quiet --no-enrich --fps 0.5 --window 10 --db sqlite://%s/ref.db --snapshots %s/s1 "
           "> %s/ref.jsonl 2>/dev/null",
           vigil, vtest, tmpdir, tmpdir, tmpdir);
  assert_int_equal(system(cmd), 0);
  sqlite3 *db = open_db("ref.db");
  long long ref = scalar(db, "SELECT count(*) FROM events");
  sqlite3_close(db);
  assert_true(ref >= 6);

  for (int round = 0; round < 2; round++) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      char db_url[600], snaps[600];
      snprintf(db_url, sizeof db_url, "sqlite://%s/crash.db", tmpdir);
      snprintf(snaps, sizeof snaps, "%s/s2", tmpdir);
      int fd = open("/dev/null", 1);
      dup2(fd, 1);
      dup2(fd, 2);
      execl(vigil, vigil, "analyze", vtest, "--json", "--quiet", "--no-enrich", "--fps", "0.5", "--window", "10", "--db",
            db_url, "--snapshots", snaps, (char *)NULL);
      _exit(127);
    }
    /* let it store some events, then kill it mid-run */
    sqlite3 *cdb = NULL;
    char path[512];
    snprintf(path, sizeof path, "%s/crash.db", tmpdir);
    long long seen = 0;
    for (int i = 0; i < 600 && seen < 2 + round; i++) {
      usleep(50000);
      if (!cdb && sqlite3_open_v2(path, &cdb, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(cdb);
        cdb = NULL;
        continue;
      }
      sqlite3_stmt *st;
      if (cdb && sqlite3_prepare_v2(cdb, "SELECT count(*) FROM events", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) seen = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
      }
    }
    sqlite3_close(cdb);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status));
    fprintf(stderr, "crash round %d: killed after %lld events\n", round, seen);
    assert_true(seen < ref);
  }
  snprintf(cmd, sizeof cmd,
           "%s analyze %s --quiet --no-enrich --fps 0.5 --window 10 --db sqlite://%s/crash.db --snapshots %s/s2 "
           "> /dev/null 2>&1",
           vigil, vtest, tmpdir, tmpdir);
  assert_int_equal(system(cmd), 0);
  db = open_db("crash.db");
  assert_int_equal(scalar(db, "SELECT count(*) FROM events"), ref);
  assert_int_equal(scalar(db, "SELECT count(*) FROM (SELECT camera_id, window_start FROM events GROUP BY 1, 2 HAVING count(*) > 1)"), 0);
  /* every event is complete: its detections are there */
  assert_int_equal(scalar(db, "SELECT count(*) FROM events e WHERE NOT EXISTS (SELECT 1 FROM event_detections ed WHERE ed.event_id = e.id)"), 0);
  assert_int_equal(scalar(db, "SELECT count(*) FROM event_detections ed LEFT JOIN detections d ON d.id = ed.detection_id WHERE d.id IS NULL"), 0);
  sqlite3_close(db);
}

/* Item 2.6 of issue 10: two uploads of one camera with the same mtime second
 * (here: the very same mtime, to the nanosecond) are two frames; every
 * detection of both is stored and linked to the event. Each image alone
 * gives the expected count. */
static long long detections_of(const char *tag, const char *const *imgs, int n) {
  char dir[600], cmd[4096], media[1024];
  snprintf(dir, sizeof dir, "%s/same-%s/porch", tmpdir, tag);
  snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
  assert_int_equal(system(cmd), 0);
  for (int i = 0; i < n; i++) {
    char rel[128];
    snprintf(rel, sizeof rel, "media/%s", imgs[i]);
    assert_int_equal(vigil_asset_require(media, sizeof media, rel), 0);
    snprintf(cmd, sizeof cmd, "cp %s %s/%d-%s && touch -d '2026-01-01 10:00:00.250000000' %s/%d-%s", media, dir, i,
             imgs[i], dir, i, imgs[i]);
    assert_int_equal(system(cmd), 0);
  }
  snprintf(cmd, sizeof cmd,
           "%s analyze %s/same-%s --quiet --no-enrich --db sqlite://%s/same-%s.db --snapshots %s/s3 > /dev/null 2>&1",
           vigil, tmpdir, tag, tmpdir, tag, tmpdir);
  assert_int_equal(system(cmd), 0);
  char name[64];
  snprintf(name, sizeof name, "same-%s.db", tag);
  sqlite3 *db = open_db(name);
  long long n_det = scalar(db, "SELECT count(*) FROM detections");
  assert_int_equal(scalar(db, "SELECT count(*) FROM event_detections"), n_det);
  sqlite3_close(db);
  return n_det;
}

static void test_same_second_uploads(void **s) {
  (void)s;
  const char *a[] = {"dog.jpg"}, *b[] = {"person.jpg"}, *both[] = {"dog.jpg", "person.jpg"};
  long long na = detections_of("a", a, 1), nb = detections_of("b", b, 1);
  fprintf(stderr, "alone: %lld, %lld\n", na, nb);
  assert_true(na > 0 && nb > 0);
  long long nboth = detections_of("both", both, 2);
  fprintf(stderr, "same-mtime uploads: %lld + %lld detections alone, %lld together\n", na, nb, nboth);
  assert_int_equal(nboth, na + nb);
}

/* Item 2.10 of issue 10: text stored or produced by an LLM never carries
 * terminal escapes to the terminal. An event's summary in the store holds an
 * ESC sequence and a C1 CSI; a rerun over the same image reports that stored
 * event ("stored earlier") on stdout, cleaned. */
static void test_no_terminal_escapes(void **s) {
  (void)s;
  char cmd[4096], dir[600];
  snprintf(dir, sizeof dir, "%s/esc/porch", tmpdir);
  char media[1024];
  assert_int_equal(vigil_asset_require(media, sizeof media, "media/dog.jpg"), 0);
  snprintf(cmd, sizeof cmd, "mkdir -p %s && cp %s %s/", dir, media, dir);
  assert_int_equal(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "%s analyze %s --quiet --no-enrich --db sqlite://%s/esc.db --snapshots %s/s4 > /dev/null 2>&1",
           vigil, dir, tmpdir, tmpdir);
  assert_int_equal(system(cmd), 0);
  char path[600];
  snprintf(path, sizeof path, "%s/esc.db", tmpdir);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "UPDATE events SET summary = 'pwn' || char(27) || ']0;title' || char(7) || char(155) || '2J end'",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(db);
  snprintf(cmd, sizeof cmd,
           "%s analyze %s --quiet --no-enrich --db sqlite://%s/esc.db --snapshots %s/s4 > %s/esc.out 2>/dev/null", vigil,
           dir, tmpdir, tmpdir, tmpdir);
  assert_int_equal(system(cmd), 0);
  snprintf(path, sizeof path, "%s/esc.out", tmpdir);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  char out[8192];
  size_t n = fread(out, 1, sizeof out - 1, f);
  fclose(f);
  out[n] = 0;
  assert_non_null(strstr(out, "stored earlier"));
  assert_non_null(strstr(out, "pwn ]0;title"));
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)out[i];
    assert_false(c < 0x20 && c != '\n');
    assert_false(c == 0xC2 && i + 1 < n && (unsigned char)out[i + 1] >= 0x80 && (unsigned char)out[i + 1] <= 0x9F);
  }
}

int main(void) {
  const struct CMUnitTest t[] = {cmocka_unit_test(test_vtest_events), cmocka_unit_test(test_crash_consistency),
                                 cmocka_unit_test(test_same_second_uploads), cmocka_unit_test(test_no_terminal_escapes)};
  return cmocka_run_group_tests(t, setup, teardown);
}
