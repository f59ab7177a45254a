/* Camera-folder watching: completeness checks on real media cut short, a
 * writer that uploads slowly in chunks (closing between chunks), renames into
 * place, creates camera folders while the watcher runs; every complete file is
 * handed over exactly once with its whole content, partial files never. Then
 * `vigil analyze --watch` end to end with a camera registry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/assets.h"
#include "vigil/watch.h"

static char tmp[256], media[1024];

static int setup(void **s) {
  (void)s;
  if (vigil_asset_require(media, sizeof media, "media/dog.jpg") ||
      vigil_asset_require(media, sizeof media, "media/basketball1.png") ||
      vigil_asset_require(media, sizeof media, "media/vtest.avi") || vigil_asset_require(media, sizeof media, "media")) {
    fprintf(stderr, "%s\n", vigil_asset_errmsg());
    return -1;
  }
  snprintf(tmp, sizeof tmp, "/tmp/vigil-watch-XXXXXX");
  return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **s) {
  (void)s;
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  return system(cmd) == 0 ? 0 : -1;
}

static uint8_t *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc((size_t)n);
  assert_non_null(b);
  assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return b;
}

static void put(const char *path, const uint8_t *data, size_t len, bool append) {
  int fd = open(path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0644);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, data, len), (ssize_t)len);
  assert_int_equal(close(fd), 0);
}

static void sleep_s(double s) {
  struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
  nanosleep(&ts, NULL);
}

static void test_complete_checks(void **s) {
  (void)s;
  char path[1024], src[1100], why[256];
  size_t jl, pl, vl;
  snprintf(src, sizeof src, "%s/dog.jpg", media);
  uint8_t *jpg = slurp(src, &jl);
  snprintf(src, sizeof src, "%s/basketball1.png", media);
  uint8_t *png = slurp(src, &pl);
  snprintf(src, sizeof src, "%s/vtest.avi", media);
  uint8_t *avi = slurp(src, &vl);

  snprintf(path, sizeof path, "%s/c.jpg", tmp);
  put(path, jpg, jl / 2, false);
  assert_int_equal(watch_file_complete(path, WATCH_IMAGE, 1, why, sizeof why), 0);
  assert_non_null(strstr(why, "FFD9"));
  put(path, jpg, jl - 1, false);
  assert_int_equal(watch_file_complete(path, WATCH_IMAGE, 1, why, sizeof why), 0);
  put(path, jpg, jl, false);
  assert_int_equal(watch_file_complete(path, WATCH_IMAGE, 1, why, sizeof why), 1);

  snprintf(path, sizeof path, "%s/c.png", tmp);
  put(path, png, pl - 6, false);
  assert_int_equal(watch_file_complete(path, WATCH_IMAGE, 1, why, sizeof why), 0);
  assert_non_null(strstr(why, "IEND"));
  put(path, png, pl, false);
  assert_int_equal(watch_file_complete(path, WATCH_IMAGE, 1, why, sizeof why), 1);

  snprintf(path, sizeof path, "%s/c2.jpg", tmp);
  put(path, (const uint8_t *)"this is not an image at all, honest", 35, false);
  assert_int_equal(watch_file_complete(path, WATCH_IMAGE, 1, why, sizeof why), 0);
  assert_int_equal(watch_file_complete("/nonexistent/x.jpg", WATCH_IMAGE, 1, why, sizeof why), 0);

  /* a video cut at 40%: it opens, but its frames end long before its declared duration */
  snprintf(path, sizeof path, "%s/c.avi", tmp);
  put(path, avi, vl * 2 / 5, false);
  assert_int_equal(watch_file_complete(path, WATCH_VIDEO, 1, why, sizeof why), 0);
  fprintf(stderr, "truncated video: %s\n", why);
  put(path, avi + vl * 2 / 5, vl - vl * 2 / 5, true);
  assert_int_equal(watch_file_complete(path, WATCH_VIDEO, 1, why, sizeof why), 1);

  assert_int_equal(watch_kind_of("/a/b.JPG"), WATCH_IMAGE);
  assert_int_equal(watch_kind_of("/a/b.mp4"), WATCH_VIDEO);
  assert_int_equal(watch_kind_of("/a/.b.jpg"), -1);
  assert_int_equal(watch_kind_of("/a/b.jpg.part"), -1);
  assert_int_equal(watch_kind_of("/a.d/b"), -1);
  free(jpg);
  free(png);
  free(avi);
}

/* Hostile container sizes: each check must end (the alarm turns a hang into a
 * failure) and say 0. A 32-byte MP4 whose second box has a 64-bit size near
 * 2^64 once made the box offset go negative and loop forever. */
static void on_alarm(int sig) {
  (void)sig;
  static const char m[] = "container check hung\n";
  (void)!write(2, m, sizeof m - 1);
  _exit(3);
}

static void test_hostile_containers(void **s) {
  (void)s;
  static const struct {
    const char *name;
    size_t len;
    const char *bytes;
  } cases[] = {
      /* ftyp(16) then a box of size 1 whose 64-bit size is 2^64 - 16: o would step back to 0 */
      {"neg.mp4", 32, "\0\0\0\x10" "ftypisom\0\0\0\0" "\0\0\0\x01" "mdat" "\xff\xff\xff\xff\xff\xff\xff\xf0"},
      /* a 64-bit size of 2^63: would be negative as a signed offset */
      {"big.mp4", 32, "\0\0\0\x10" "ftypisom\0\0\0\0" "\0\0\0\x01" "mdat" "\x80\0\0\0\0\0\0\0"},
      /* a 64-bit size smaller than its own header */
      {"small.mp4", 32, "\0\0\0\x10" "ftypisom\0\0\0\0" "\0\0\0\x01" "mdat" "\0\0\0\0\0\0\0\x08"},
      /* a 64-bit size header cut short by the end of the file */
      {"cut.mp4", 28, "\0\0\0\x10" "ftypisom\0\0\0\0" "\0\0\0\x01" "mdat" "\0\0\0\0"},
      /* an EBML header size of 2^56 - 2 */
      {"big.mkv", 16, "\x1a\x45\xdf\xa3" "\x01\xff\xff\xff\xff\xff\xff\xfe" "\0\0\0\0"},
      /* a RIFF chunk larger than the file */
      {"big.avi", 16, "RIFF\xff\xff\xff\xff" "AVI LIST"},
  };
  signal(SIGALRM, on_alarm);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char path[1024], why[256] = "";
    snprintf(path, sizeof path, "%s/%s", tmp, cases[i].name);
    put(path, (const uint8_t *)cases[i].bytes, cases[i].len, false);
    alarm(20);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(watch_container_complete(fd, (long long)cases[i].len, why, sizeof why), 0);
    close(fd);
    assert_int_equal(watch_file_complete(path, WATCH_VIDEO, 1, why, sizeof why), 0);
    alarm(0);
    fprintf(stderr, "%s: %s\n", cases[i].name, why);
    assert_true(why[0] != 0);
  }
  signal(SIGALRM, SIG_DFL);
}

/* ---- the slow uploader ---------------------------------------------------------------- */

typedef struct {
  char root[512];
  uint8_t *jpg, *png, *avi;
  size_t jl, pl, vl;
  volatile int done;
} writer_arg;

static void chunked(const char *path, const uint8_t *data, size_t len, int chunks, double gap) {
  for (int i = 0; i < chunks; i++) {
    size_t a = len * (size_t)i / (size_t)chunks, b = len * (size_t)(i + 1) / (size_t)chunks;
    put(path, data + a, b - a, i > 0);
    if (i + 1 < chunks) sleep_s(gap);
  }
}

static void *writer_main(void *p) {
  writer_arg *a = p;
  char path[1024], path2[1024];
  /* gaps longer than the settle time: only the content check tells these apart */
  snprintf(path, sizeof path, "%s/cam1/a.jpg", a->root);
  chunked(path, a->jpg, a->jl, 4, 0.5);
  snprintf(path, sizeof path, "%s/cam1/.b.jpg.part", a->root);
  chunked(path, a->jpg, a->jl, 3, 0.3);
  snprintf(path2, sizeof path2, "%s/cam1/b.jpg", a->root);
  rename(path, path2);
  snprintf(path, sizeof path, "%s/cam1/partial.jpg", a->root); /* never finished */
  put(path, a->jpg, a->jl / 3, false);
  snprintf(path, sizeof path, "%s/cam1/notes.txt", a->root);
  put(path, (const uint8_t *)"hello", 5, false);
  /* a new camera folder while running */
  snprintf(path, sizeof path, "%s/cam2", a->root);
  mkdir(path, 0755);
  sleep_s(0.2);
  snprintf(path, sizeof path, "%s/cam2/c.png", a->root);
  chunked(path, a->png, a->pl, 3, 0.5);
  /* a camera folder whose first file lands before any watch can exist on it */
  snprintf(path, sizeof path, "%s/cam3", a->root);
  mkdir(path, 0755);
  snprintf(path, sizeof path, "%s/cam3/d.jpg", a->root);
  put(path, a->jpg, a->jl, false);
  /* a short clip, cut at 40% for a while, then finished */
  snprintf(path, sizeof path, "%s/cam2/clip.avi", a->root);
  put(path, a->avi, a->vl * 2 / 5, false);
  sleep_s(1.5);
  put(path, a->avi + a->vl * 2 / 5, a->vl - a->vl * 2 / 5, true);
  sleep_s(1.0);
  /* no second hand-over: a write-open and close without changes, a rename of the same file */
  snprintf(path, sizeof path, "%s/cam1/a.jpg", a->root);
  int fd = open(path, O_WRONLY | O_APPEND);
  if (fd >= 0) close(fd);
  snprintf(path, sizeof path, "%s/cam1/b.jpg", a->root);
  snprintf(path2, sizeof path2, "%s/cam1/b-renamed.jpg", a->root);
  rename(path, path2);
  a->done = 1;
  return NULL;
}

typedef struct {
  int n;
  char path[32][1024];
  char camera[32][64];
  int kind[32];
  const writer_arg *w;
  int bad_content;
} seen;

static void on_file(void *ud, const watch_file *f) {
  seen *s = ud;
  if (s->n >= 32) return;
  snprintf(s->path[s->n], sizeof s->path[0], "%s", strrchr(f->path, '/') + 1);
  snprintf(s->camera[s->n], sizeof s->camera[0], "%s", f->camera);
  s->kind[s->n] = f->kind;
  /* what is handed over is the whole original, byte for byte */
  FILE *fp = fopen(f->path, "rb");
  const uint8_t *want = f->kind == WATCH_VIDEO ? s->w->avi : strstr(f->path, ".png") ? s->w->png : s->w->jpg;
  size_t wl = f->kind == WATCH_VIDEO ? s->w->vl : strstr(f->path, ".png") ? s->w->pl : s->w->jl;
  uint8_t *got = malloc(wl + 1);
  size_t n = fp && got ? fread(got, 1, wl + 1, fp) : 0;
  if (fp) fclose(fp);
  if (n != wl || (long long)wl != f->size || memcmp(got, want, wl)) s->bad_content++;
  free(got);
  s->n++;
}

static int count(const seen *s, const char *name) {
  int c = 0;
  for (int i = 0; i < s->n; i++) c += !strcmp(s->path[i], name);
  return c;
}

static void test_slow_uploads(void **st) {
  (void)st;
  writer_arg a = {0};
  char src[1100];
  snprintf(src, sizeof src, "%s/dog.jpg", media);
  a.jpg = slurp(src, &a.jl);
  snprintf(src, sizeof src, "%s/basketball1.png", media);
  a.png = slurp(src, &a.pl);
  snprintf(src, sizeof src, "%s/vtest.avi", media);
  a.avi = slurp(src, &a.vl);
  snprintf(a.root, sizeof a.root, "%s/ftp", tmp);
  assert_int_equal(mkdir(a.root, 0755), 0);
  char path[1024];
  snprintf(path, sizeof path, "%s/cam1", a.root);
  assert_int_equal(mkdir(path, 0755), 0);
  snprintf(path, sizeof path, "%s/cam1/old.jpg", a.root); /* an old upload: left alone */
  put(path, a.jpg, a.jl, false);

  watch_params p = watch_default_params();
  p.settle_s = 0.25;
  p.retry_s = 0.2;
  watcher *w;
  char err[256];
  assert_int_equal(watcher_init(&w, "/nonexistent-vigil-root", p, err, sizeof err), -1);
  assert_non_null(strstr(err, "not a folder"));
  assert_int_equal(watcher_init(&w, a.root, p, err, sizeof err), 0);
  assert_int_equal(watcher_cameras(w), 1);

  seen s = {.w = &a};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, writer_main, &a), 0);
  /* poll until the writer is done and everything settled; the deadline only bounds a hang */
  time_t deadline = time(NULL) + 120;
  int quiet_rounds = 0;
  while (time(NULL) < deadline && quiet_rounds < 15) {
    int r = watcher_poll(w, 0.2, on_file, &s, err, sizeof err);
    assert_true(r >= 0);
    bool only_partial = watcher_pending(w) == 0 || (watcher_pending(w) == 1 && s.n >= 5);
    quiet_rounds = a.done && only_partial && r == 0 ? quiet_rounds + 1 : 0;
  }
  pthread_join(th, NULL);
  for (int i = 0; i < s.n; i++) fprintf(stderr, "handed over: %s/%s\n", s.camera[i], s.path[i]);
  assert_int_equal(s.bad_content, 0);
  assert_int_equal(count(&s, "a.jpg"), 1);
  assert_int_equal(count(&s, "b.jpg"), 1);
  assert_int_equal(count(&s, "c.png"), 1);
  assert_int_equal(count(&s, "d.jpg"), 1);
  assert_int_equal(count(&s, "clip.avi"), 1);
  assert_int_equal(count(&s, "partial.jpg"), 0);
  assert_int_equal(count(&s, "old.jpg"), 0);
  assert_int_equal(count(&s, "notes.txt"), 0);
  assert_int_equal(count(&s, "b-renamed.jpg"), 0);
  assert_int_equal(count(&s, ".b.jpg.part"), 0);
  assert_int_equal(s.n, 5);
  for (int i = 0; i < s.n; i++) {
    const char *want = !strcmp(s.path[i], "c.png") || !strcmp(s.path[i], "clip.avi") ? "cam2"
                       : !strcmp(s.path[i], "d.jpg")                                  ? "cam3"
                                                                                      : "cam1";
    assert_string_equal(s.camera[i], want);
    assert_int_equal(s.kind[i], !strcmp(s.path[i], "clip.avi") ? WATCH_VIDEO : WATCH_IMAGE);
  }
  assert_int_equal(watcher_cameras(w), 3);
  assert_int_equal(watcher_pending(w), 1); /* partial.jpg waits, unprocessed */
  /* a genuinely new upload under a used name is new content: handed over again */
  snprintf(path, sizeof path, "%s/cam1/a.jpg", a.root);
  sleep_s(0.05);
  put(path, a.jpg, a.jl, false);
  struct timespec ts[2] = {{0, UTIME_OMIT}, {time(NULL) + 5, 0}};
  utimensat(AT_FDCWD, path, ts, 0); /* same size: make the mtime differ for sure */
  int before = s.n;
  deadline = time(NULL) + 30;
  while (time(NULL) < deadline && s.n == before) assert_true(watcher_poll(w, 0.2, on_file, &s, err, sizeof err) >= 0);
  assert_int_equal(s.n, before + 1);
  assert_string_equal(s.path[before], "a.jpg");
  watcher_free(w);
  watcher_free(NULL);
  free(a.jpg);
  free(a.png);
  free(a.avi);
}

/* ---- vigil analyze --watch, black box ---------------------------------------------------- */

static void test_analyze_watch(void **st) {
  (void)st;
  const char *vigil = getenv("VIGIL_BINARY");
  assert_non_null(vigil);
  char root[512], cmd[4096], path[1024], src[1100];
  snprintf(root, sizeof root, "%s/live", tmp);
  assert_int_equal(mkdir(root, 0755), 0);
  snprintf(path, sizeof path, "%s/porch", root);
  assert_int_equal(mkdir(path, 0755), 0);
  /* the registry names the camera and puts a zone over the whole frame */
  snprintf(path, sizeof path, "%s/cameras.json", tmp);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fprintf(f, "[{\"id\":\"porch\",\"name\":\"Porch camera\",\"timezone\":\"UTC\",\"zones\":[{\"name\":\"yard\","
             "\"points\":[[0,0],[5000,0],[5000,5000],[0,5000]]}]}]");
  fclose(f);
  snprintf(cmd, sizeof cmd,
           "NEMOTRON_API=none exec %s analyze --watch %s --cameras %s/cameras.json --no-enrich --json --quiet "
           "--db sqlite://%s/w.db --snapshots %s/snaps > %s/w.out 2> %s/w.err",
           vigil, root, tmp, tmp, tmp, tmp, tmp);
  pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
  }
  assert_true(pid > 0);
  sleep_s(1.0); /* the watch must exist before the upload starts */
  size_t jl;
  snprintf(src, sizeof src, "%s/dog.jpg", media);
  uint8_t *jpg = slurp(src, &jl);
  snprintf(path, sizeof path, "%s/porch/snap1.jpg", root);
  chunked(path, jpg, jl, 3, 1.5);
  free(jpg);
  /* wait for the log line, then stop it like a service manager would */
  char errlog[600];
  snprintf(errlog, sizeof errlog, "%s/w.err", tmp);
  bool processed = false;
  for (int i = 0; i < 600 && !processed; i++) {
    sleep_s(0.2);
    FILE *e = fopen(errlog, "r");
    char line[2048];
    while (e && fgets(line, sizeof line, e))
      if (strstr(line, "processed") && strstr(line, "snap1.jpg")) processed = true;
    if (e) fclose(e);
  }
  kill(pid, SIGTERM);
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  if (!processed || !WIFEXITED(status) || WEXITSTATUS(status)) {
    snprintf(cmd, sizeof cmd, "tail -20 %s >&2", errlog);
    (void)system(cmd);
  }
  assert_true(processed);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  /* the batch was flushed at exit: stored under the registry's camera, dog inside the zone */
  sqlite3 *db;
  snprintf(path, sizeof path, "%s/w.db", tmp);
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_stmt *q;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM detections WHERE camera_id = 'porch' AND class = 'dog'",
                                      -1, &q, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(q, 0), 1); /* processed once, not once per chunk */
  sqlite3_finalize(q);
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT name FROM cameras WHERE id = 'porch'", -1, &q, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "Porch camera");
  sqlite3_finalize(q);
  sqlite3_close(db);
  /* the event printed as JSON names the zone */
  snprintf(cmd, sizeof cmd, "grep -q '\"camera_id\":\"porch\"' %s/w.out", tmp);
  assert_int_equal(system(cmd), 0);
}

/* ---- restart: kill -9 mid-run, uploads while down, restart (issue 10, 2.5) ---------------- */

static pid_t start_watch(const char *root, const char *db, const char *log) {
  const char *vigil = getenv("VIGIL_BINARY");
  assert_non_null(vigil);
  char cmd[4096];
  /* long windows: the batch is still open when the watcher dies */
  snprintf(cmd, sizeof cmd,
           "NEMOTRON_API=none exec %s analyze --watch %s --no-enrich --quiet --window 3600 --idle 3600 "
           "--db sqlite://%s --snapshots %s/snaps-r >> %s.out 2>> %s",
           vigil, root, db, tmp, log, log);
  pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
  }
  assert_true(pid > 0);
  return pid;
}

static int log_count(const char *log, const char *a, const char *b) {
  FILE *e = fopen(log, "r");
  char line[2048];
  int n = 0;
  while (e && fgets(line, sizeof line, e)) n += strstr(line, a) && strstr(line, b);
  if (e) fclose(e);
  return n;
}

static void wait_log(const char *log, const char *a, const char *b, int want) {
  for (int i = 0; i < 900 && log_count(log, a, b) < want; i++) sleep_s(0.2);
  if (log_count(log, a, b) < want) {
    char cmd[700];
    snprintf(cmd, sizeof cmd, "tail -20 %s >&2", log);
    (void)!system(cmd);
  }
  assert_true(log_count(log, a, b) >= want);
}

static long long q1(sqlite3 *db, const char *sql) {
  sqlite3_stmt *q;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  long long v = sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  return v;
}

static void copy_media(const char *name, const char *dst, time_t mtime) {
  char src[1100];
  size_t len;
  snprintf(src, sizeof src, "%s/%s", media, name);
  uint8_t *b = slurp(src, &len);
  char part[1100];
  snprintf(part, sizeof part, "%s.part", dst); /* upload under a temporary name, then rename */
  put(part, b, len, false);
  struct timespec ts[2] = {{0, UTIME_OMIT}, {mtime, 123456789}};
  assert_int_equal(utimensat(AT_FDCWD, part, ts, 0), 0);
  assert_int_equal(rename(part, dst), 0);
  free(b);
}

static void test_restart_exactly_once(void **st) {
  (void)st;
  char root[512], cam[600], db[600], log[600], path[1024];
  snprintf(root, sizeof root, "%s/restart", tmp);
  snprintf(cam, sizeof cam, "%s/porch", root);
  snprintf(db, sizeof db, "%s/restart.db", tmp);
  snprintf(log, sizeof log, "%s/restart.log", tmp);
  assert_int_equal(mkdir(root, 0755), 0);
  assert_int_equal(mkdir(cam, 0755), 0);
  snprintf(path, sizeof path, "%s/old.jpg", cam); /* there before the first start ever: left alone */
  copy_media("dog.jpg", path, time(NULL) - 600);
  time_t t0 = time(NULL);

  pid_t pid = start_watch(root, db, log);
  wait_log(log, "watching", root, 1);
  snprintf(path, sizeof path, "%s/u1.jpg", cam);
  copy_media("dog.jpg", path, t0);
  wait_log(log, "processed", "u1.jpg", 1);
  kill(pid, SIGKILL); /* a crash: the batch holding u1's detections is open */
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFSIGNALED(status));

  sqlite3 *d;
  assert_int_equal(sqlite3_open_v2(db, &d, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  long long n1 = q1(d, "SELECT count(*) FROM detections");
  assert_true(n1 > 0);                                               /* durable when processed */
  assert_int_equal(q1(d, "SELECT count(*) FROM open_detections"), n1); /* in the open batch */
  assert_int_equal(q1(d, "SELECT count(*) FROM events"), 0);
  sqlite3_close(d);

  /* uploads while vigil is down; one is the same image at another time */
  snprintf(path, sizeof path, "%s/u2.jpg", cam);
  copy_media("person.jpg", path, t0 + 1);
  snprintf(path, sizeof path, "%s/u3.jpg", cam);
  copy_media("dog.jpg", path, t0 + 2);
  /* and a hostile 32-byte MP4 (a negative 64-bit box size): it must neither hang nor block SIGTERM */
  snprintf(path, sizeof path, "%s/evil.mp4", cam);
  put(path, (const uint8_t *)"\0\0\0\x10" "ftypisom\0\0\0\0" "\0\0\0\x01" "mdat" "\xff\xff\xff\xff\xff\xff\xff\xf0", 32,
      false);

  pid = start_watch(root, db, log);
  wait_log(log, "processed", "u2.jpg", 1);
  wait_log(log, "processed", "u3.jpg", 1);
  sleep_s(3.0); /* time for the MP4 to be examined (settle 1 s) */
  kill(pid, SIGTERM);
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);

  assert_int_equal(log_count(log, "processed", "u1.jpg"), 1); /* not again after the restart */
  assert_int_equal(log_count(log, "processed", "old.jpg"), 0);
  assert_int_equal(sqlite3_open_v2(db, &d, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  long long n = q1(d, "SELECT count(*) FROM detections");
  fprintf(stderr, "restart: %lld detections before the crash, %lld in all\n", n1, n);
  assert_true(n > n1);
  assert_int_equal(q1(d, "SELECT count(DISTINCT ts) FROM detections"), 3); /* u1, u2, u3: each once */
  assert_int_equal(q1(d, "SELECT count(*) FROM open_detections"), 0);     /* flushed at exit */
  assert_int_equal(q1(d, "SELECT count(*) FROM event_detections"), n);   /* every detection in one event */
  assert_int_equal(q1(d, "SELECT count(DISTINCT detection_id) FROM event_detections"), n);
  assert_int_equal(q1(d, "SELECT count(*) FROM processed_files WHERE status = 'processed'"), 3);
  assert_int_equal(q1(d, "SELECT count(*) FROM processed_files WHERE path LIKE '%old.jpg' AND status = 'preexisting'"), 1);
  sqlite3_close(d);
}

int main(void) {
  const struct CMUnitTest t[] = {
      cmocka_unit_test(test_complete_checks),
      cmocka_unit_test(test_hostile_containers),
      cmocka_unit_test(test_slow_uploads),
      cmocka_unit_test(test_analyze_watch),
      cmocka_unit_test(test_restart_exactly_once),
  };
  return cmocka_run_group_tests(t, setup, teardown);
}
