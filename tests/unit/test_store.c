/* The event store suite on SQLite, each test in a fresh file of a temporary
 * directory; plus SQLite specifics (WAL, URL forms). */
#include "unit/test_store_suite.h"

#include <sqlite3.h>

static char tmpdir[256];

static void suite_fresh_url(char *buf, size_t len, const char *name) {
  snprintf(buf, len, "sqlite://%s/%s.db", tmpdir, name);
}

static void sqlite_is_wal_with_fk(void **state) {
  char path[512];
  snprintf(path, sizeof path, "%s/wal.db", tmpdir);
  store *s = NULL;
  char err[256];
  assert_int_equal(store_open(&s, path, err, sizeof err), 0); /* a bare path works too */
  assert_string_equal(store_backend_name(s), "sqlite");
  suite_insert(s, "cam", 0, 1, 1, NULL);
  store_close(s);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
  /* in-memory form */
  assert_int_equal(store_open(&s, "sqlite::memory:", err, sizeof err), 0);
  suite_insert(s, "cam", 0, 1, 1, NULL);
  store_close(s);
  /* a newer schema than this build is refused */
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "UPDATE schema_version SET version = 99", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  assert_int_equal(store_open(&s, path, err, sizeof err), STORE_EDB);
  assert_non_null(strstr(err, "newer"));
}

static int setup(void **state) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/vigil-store-XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
  const struct CMUnitTest tests[] = {STORE_SUITE_TESTS, cmocka_unit_test(sqlite_is_wal_with_fk)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
