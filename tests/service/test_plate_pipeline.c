/* Licence plates through the whole pipeline with the real binary: three
 * frames of dog.jpg's pickup truck carrying a plate rendered at test time
 * (two positions, two sizes), two seconds apart at 23:00 UTC, analysed as one
 * camera folder. The vehicle's track votes its plate over the frames, the
 * event carries the plate, the store finds the event by plate, and the rules
 * fire plate_unknown_night. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/assets.h"

static char tmpdir[256];
static const char *vigil;

static int setup(void **s) {
  (void)s;
  char media[1024], cmd[8192];
  vigil = getenv("VIGIL_BINARY");
  if (!vigil || vigil_asset_require(media, sizeof media, "media")) {
    fprintf(stderr, "VIGIL_BINARY unset or %s\n", vigil_asset_errmsg());
    return -1;
  }
  snprintf(tmpdir, sizeof tmpdir, "/tmp/vigil-plate-e2e-XXXXXX");
  if (!mkdtemp(tmpdir)) return -1;
  const char *src = getenv("VIGIL_SOURCE_DIR");
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 %s/tools/testmedia/ocr_media.py plates %s %s && mkdir -p %s/in/drive && "
           "cp %s/plate_0_0.png %s/in/drive/a.png && cp %s/plate_1_0.png %s/in/drive/b.png && "
           "cp %s/plate_3_0.png %s/in/drive/c.png && "
           "TZ=UTC touch -d '2026-12-01 23:00:00' %s/in/drive/a.png && "
           "TZ=UTC touch -d '2026-12-01 23:00:02' %s/in/drive/b.png && "
           "TZ=UTC touch -d '2026-12-01 23:00:04' %s/in/drive/c.png",
           src ? src : ".", media, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir,
           tmpdir);
  if (system(cmd)) return -1;
  setenv("NEMOTRON_API", "none", 1);
  setenv("TZ", "UTC", 1);
  unsetenv("KNOWN_PLATES");
  return 0;
}

static int teardown(void **s) {
  (void)s;
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

static long long scalar(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  long long v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static void test_plate_votes_into_event(void **s) {
  (void)s;
  char cmd[4096];
  snprintf(cmd, sizeof cmd,
           "%s analyze %s/in --json --quiet --window 120 --enrich-interval 1 --db sqlite://%s/a.db "
           "--snapshots %s/snaps > %s/out.jsonl 2> %s/err.log",
           vigil, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir);
  int rc = system(cmd);
  if (rc) {
    snprintf(cmd, sizeof cmd, "tail -20 %s/err.log >&2", tmpdir);
    (void)system(cmd);
  }
  assert_int_equal(rc, 0);
  char path[512];
  snprintf(path, sizeof path, "%s/out.jsonl", tmpdir);
  json_error_t je;
  json_t *ev = json_load_file(path, JSON_DISABLE_EOF_CHECK, &je);
  assert_non_null(ev);
  json_t *plates = json_object_get(ev, "plates");
  assert_int_equal(json_array_size(plates), 1);
  assert_string_equal(json_string_value(json_array_get(plates, 0)), "KX21ABC");
  assert_non_null(strstr(json_string_value(json_object_get(ev, "reasoning")), "plate_unknown_night"));
  json_decref(ev);
  sqlite3 *db;
  snprintf(path, sizeof path, "%s/a.db", tmpdir);
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  assert_int_equal(scalar(db, "SELECT count(*) FROM event_plates WHERE plate = 'KX21ABC'"), 1);
  /* the truck's track read the plate on all three frames */
  assert_int_equal(scalar(db, "SELECT max(json_extract(json, '$.license_plate.votes')) FROM enrichment_results"), 3);
  /* no partial plate from boxes that cut it (the bicycle's box ends inside the plate) */
  assert_int_equal(scalar(db, "SELECT count(*) FROM enrichment_results WHERE json LIKE '%license_plate\":{%' AND "
                              "json_extract(json, '$.license_plate.text') != 'KX21ABC'"),
                   0);
  sqlite3_close(db);
}

int main(void) {
  const struct CMUnitTest t[] = {cmocka_unit_test(test_plate_votes_into_event)};
  return cmocka_run_group_tests(t, setup, teardown);
}
