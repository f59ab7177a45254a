/* The event store suite against a real PostgreSQL 15 that this test starts
 * itself: initdb in a temporary directory (as user postgres when run as
 * root), pg_ctl on a free loopback port, one fresh database per test. */
#include "unit/test_store_suite.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define PGBIN "/usr/lib/postgresql/15/bin"

static char tmpdir[256];
static int pg_port;
static char as_user[64]; /* "runuser -u postgres -- " when root */

static int run(const char *cmd) {
  int rc = system(cmd);
  if (rc) fprintf(stderr, "# command failed (%d): %s\n", rc, cmd);
  return rc;
}

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (struct sockaddr *)&a, &l)) return -1;
  int p = ntohs(a.sin_port);
  close(fd);
  return p;
}

static void quiet(void *arg, const char *msg) {}

static void suite_fresh_url(char *buf, size_t len, const char *name) {
  char admin[256], sql[256];
  snprintf(admin, sizeof admin, "postgresql://vigil@127.0.0.1:%d/postgres", pg_port);
  PGconn *c = PQconnectdb(admin);
  if (PQstatus(c) != CONNECTION_OK) fail_msg("connect %s: %s", admin, PQerrorMessage(c));
  PQsetNoticeProcessor(c, quiet, NULL);
  snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS t_%s", name);
  PQclear(PQexec(c, sql));
  snprintf(sql, sizeof sql, "CREATE DATABASE t_%s", name);
  PGresult *r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_COMMAND_OK) fail_msg("%s: %s", sql, PQresultErrorMessage(r));
  PQclear(r);
  PQfinish(c);
  snprintf(buf, len, "postgresql://vigil@127.0.0.1:%d/t_%s?connect_timeout=10", pg_port, name);
}

static void pg_backend_name(void **state) {
  store *s = suite_open("name");
  assert_string_equal(store_backend_name(s), "postgresql");
  store_close(s);
  char err[512];
  char url[128];
  snprintf(url, sizeof url, "postgresql://vigil@127.0.0.1:%d/no_such_db", pg_port);
  assert_int_equal(store_open(&s, url, err, sizeof err), STORE_EDB);
  assert_non_null(strstr(err, "no_such_db"));
}

static int setup(void **state) {
  if (access(PGBIN "/initdb", X_OK)) {
    fprintf(stderr, "# %s/initdb not found: install Debian's postgresql-15\n", PGBIN);
    return -1;
  }
  snprintf(tmpdir, sizeof tmpdir, "/tmp/vigil-pg-XXXXXX");
  if (!mkdtemp(tmpdir)) return -1;
  if (geteuid() == 0) {
    struct passwd *pw = getpwnam("postgres");
    if (!pw || chown(tmpdir, pw->pw_uid, pw->pw_gid)) {
      fprintf(stderr, "# running as root needs the postgres user to own %s\n", tmpdir);
      return -1;
    }
    snprintf(as_user, sizeof as_user, "runuser -u postgres -- ");
  }
  pg_port = free_port();
  if (pg_port <= 0) return -1;
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s" PGBIN "/initdb -D %s/data -U vigil -A trust --no-sync -E UTF8 >%s/initdb.log 2>&1",
           as_user, tmpdir, tmpdir);
  if (run(cmd)) return -1;
  snprintf(cmd, sizeof cmd,
           "%s" PGBIN "/pg_ctl -D %s/data -l %s/server.log -w -t 60 -o \"-k %s -p %d -c listen_addresses=127.0.0.1"
           " -c fsync=off\" start >/dev/null",
           as_user, tmpdir, tmpdir, tmpdir, pg_port);
  if (run(cmd)) {
    snprintf(cmd, sizeof cmd, "cat %s/server.log >&2", tmpdir);
    run(cmd);
    return -1;
  }
  return 0;
}

static int teardown(void **state) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s" PGBIN "/pg_ctl -D %s/data -m fast -w stop >/dev/null", as_user, tmpdir);
  int rc = run(cmd);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  rc |= run(cmd);
  return rc ? -1 : 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {STORE_SUITE_TESTS, cmocka_unit_test(pg_backend_name)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
