/* Camera-folder watching (inotify): new uploads in per-camera subfolders are
 * handed over once complete, exactly once; watch_run feeds them through the
 * pipeline.
 *
 * Why the several conditions (see vigil/watch.h): FTP servers close and
 * reopen a file when an upload resumes (APPE/REST), so one IN_CLOSE_WRITE
 * does not mean the upload is over; some write in place without ever closing
 * until the end, some upload under a temporary name and rename. So a write
 * event only makes a file a *candidate*. A candidate is re-examined on a
 * timer: its (size, mtime) must hold still for settle_s, then its bytes must
 * form a whole image or video. Failing that it stays a candidate. Once handed
 * over, its identity (dev, inode, size, mtime_ns) goes into a bounded "done"
 * ring, so a later close without changes (touch-less reopen) or a rename of
 * the same file within the tree does not process it again, while a genuinely
 * new upload under the same name (new size or mtime) is processed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/log.h"
#include "vigil/store.h"
#include "vigil/video.h"
#include "vigil/watch.h"
#include "vigil/status.h"

#define DONE_CAP 4096
#define DIR_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE_SELF | IN_MOVE_SELF)

typedef struct {
  int wd;
  char path[PATH_MAX];
  char camera[VIGIL_ID_LEN];
  bool root;
} wdir;

typedef struct {
  char path[PATH_MAX];
  char camera[VIGIL_ID_LEN];
  watch_kind kind;
  long long size;
  int64_t mtime_ns;
  double stable_since, next_check;
  int checks;
} cand;

typedef struct {
  dev_t dev;
  ino_t ino;
  long long size;
  int64_t mtime_ns;
} file_id;

struct watcher {
  watch_params p;
  int fd;
  double started; /* wall clock, for rescans after a queue overflow */
  wdir *dirs;
  int ndirs;
  cand *cands;
  int ncands;
  file_id done[DONE_CAP];
  int ndone, done_next;
};

watch_params watch_default_params(void) {
  return (watch_params){.settle_s = 1.0, .retry_s = 2.0, .max_checks = 150, .scan_existing = false, .video_fps = 1};
}

static int64_t mtime_ns(const struct stat *st) { return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec; }

static bool has_ext(const char *p, const char *const *exts) {
  const char *dot = strrchr(p, '.'), *sl = strrchr(p, '/');
  if (!dot || (sl && dot < sl)) return false;
  for (int i = 0; exts[i]; i++)
    if (!strcasecmp(dot + 1, exts[i])) return true;
  return false;
}

static const char *const image_exts[] = {"jpg", "jpeg", "png", "webp", NULL};
static const char *const video_exts[] = {"avi", "mp4", "mkv", "mov", "m4v", "ts", "mjpeg", "mjpg", "h264", "webm", NULL};

int watch_kind_of(const char *path) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  if (base[0] == '.') return -1; /* hidden: temporary names of uploads in progress */
  if (has_ext(base, image_exts)) return WATCH_IMAGE;
  if (has_ext(base, video_exts)) return WATCH_VIDEO;
  return -1;
}

/* Camera id from a folder name: [A-Za-z0-9_-], others become '_'. */
static void camera_from_dir(char *dst, size_t len, const char *dir) {
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/') n--;
  size_t b = n;
  while (b > 0 && dir[b - 1] != '/') b--;
  size_t k = 0;
  for (size_t i = b; i < n && k < len - 1 && k < 40; i++) {
    char c = dir[i];
    dst[k++] = (char)((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ? c : '_');
  }
  dst[k] = 0;
  if (!k) snprintf(dst, len, "camera");
}

/* ---- completeness ------------------------------------------------------------------ */

static int why_not(char *why, size_t len, const char *fmt, const char *a) {
  if (why && len) snprintf(why, len, fmt, a);
  return 0;
}

static int image_complete(const char *path, char *why, size_t whylen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return why_not(why, whylen, "cannot open: %s", strerror(errno));
  struct stat st;
  uint8_t head[12], tail[12];
  int ok = 0;
  if (fstat(fd, &st) || st.st_size < 24) {
    why_not(why, whylen, "%s", "too short");
    goto done;
  }
  if (pread(fd, head, sizeof head, 0) != (ssize_t)sizeof head ||
      pread(fd, tail, sizeof tail, st.st_size - (off_t)sizeof tail) != (ssize_t)sizeof tail) {
    why_not(why, whylen, "%s", "read error");
    goto done;
  }
  if (head[0] == 0xFF && head[1] == 0xD8) { /* JPEG: ends with the EOI marker */
    ok = tail[10] == 0xFF && tail[11] == 0xD9;
    if (!ok) why_not(why, whylen, "%s", "JPEG without its end marker (FFD9)");
  } else if (!memcmp(head, "\x89PNG\r\n\x1a\n", 8)) { /* PNG: ends with the IEND chunk and its CRC */
    ok = !memcmp(tail + 4, "IEND", 4);
    if (!ok) why_not(why, whylen, "%s", "PNG without its IEND chunk");
  } else if (!memcmp(head, "RIFF", 4) && !memcmp(head + 8, "WEBP", 4)) {
    uint32_t riff = (uint32_t)head[4] | (uint32_t)head[5] << 8 | (uint32_t)head[6] << 16 | (uint32_t)head[7] << 24;
    ok = (long long)riff + 8 <= (long long)st.st_size;
    if (!ok) why_not(why, whylen, "%s", "WebP shorter than its RIFF size");
  } else {
    why_not(why, whylen, "%s", "not a JPEG, PNG or WebP file");
  }
done:
  close(fd);
  return ok;
}

static uint32_t le32(const uint8_t *b) { return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24; }
static uint64_t be32(const uint8_t *b) { return (uint64_t)b[0] << 24 | (uint64_t)b[1] << 16 | (uint64_t)b[2] << 8 | b[3]; }

/* EBML variable-length integer at b (n bytes available): value, length; -1 if
 * malformed; *unknown when all value bits are set (size unknown). */
static int ebml_vint(const uint8_t *b, int n, uint64_t *v, bool *unknown) {
  if (n < 1 || !b[0]) return -1;
  int len = 1;
  while (!(b[0] & (0x80 >> (len - 1)))) len++;
  if (len > n || len > 8) return -1;
  uint64_t x = b[0] & (0xFF >> len), all = (uint64_t)0xFF >> len;
  for (int i = 1; i < len; i++) x = x << 8 | b[i], all = all << 8 | 0xFF;
  *v = x;
  *unknown = x == all;
  return len;
}

/* Container framing: a truncated AVI, MP4/MOV or Matroska file is missing
 * bytes that its own chunk sizes announce. Returns 1 complete (or a
 * container without such sizes), 0 truncated or malformed. Decoders do not
 * tell: FFmpeg opens a cut AVI and estimates its duration from the bytes
 * present. The sizes come from the file, so every step is checked against
 * what is left of it before it moves the offset (always forward), and the
 * walk is bounded in steps: a hostile file can neither loop nor stall it. */
#define MAX_TOP_LEVEL 1000000 /* fragmented MP4: two boxes per fragment, hours of them */
int watch_container_complete(int fd, long long size, char *why, size_t whylen) {
  uint8_t h[64];
  if (size < 12) return why_not(why, whylen, "%s", "too short");
  ssize_t n = pread(fd, h, sizeof h, 0);
  if (n < 12) return why_not(why, whylen, "%s", "too short");
  if (!memcmp(h, "RIFF", 4)) { /* AVI (and OpenDML's AVIX continuation chunks) */
    long long o = 0;
    for (int steps = 0; o + 8 <= size; steps++) {
      uint8_t c[8];
      if (steps >= MAX_TOP_LEVEL) return why_not(why, whylen, "%s", "too many RIFF chunks");
      if (pread(fd, c, 8, (off_t)o) != 8 || memcmp(c, "RIFF", 4)) break;
      uint32_t s = le32(c + 4);
      o += 8 + (long long)s + (s & 1); /* s < 2^32: no overflow, and o grows by 8 at least */
    }
    if (o == size || o == size + 1) return 1;
    return why_not(why, whylen, "%s", o > size ? "RIFF chunks announce more bytes than the file holds" : "bytes after the RIFF chunks");
  }
  if (!memcmp(h + 4, "ftyp", 4)) { /* ISO BMFF: top-level boxes must tile the file, with a moov */
    long long o = 0;
    bool moov = false;
    for (int steps = 0; o + 8 <= size; steps++) {
      uint8_t b[16];
      if (steps >= MAX_TOP_LEVEL) return why_not(why, whylen, "%s", "too many MP4 boxes");
      ssize_t got = pread(fd, b, 16, (off_t)o);
      if (got < 8) return why_not(why, whylen, "%s", "read error");
      uint64_t s = be32(b), head = 8;
      if (!memcmp(b + 4, "moov", 4)) moov = true;
      if (s == 1) { /* 64-bit size after the type */
        if (got < 16) return why_not(why, whylen, "%s", "MP4 box announces more bytes than the file holds");
        s = be32(b + 8) << 32 | be32(b + 12);
        head = 16;
      } else if (s == 0) {
        s = (uint64_t)(size - o); /* to the end of the file */
      }
      if (s < head) return why_not(why, whylen, "%s", "malformed MP4 box");
      if (s > (uint64_t)(size - o)) return why_not(why, whylen, "%s", "MP4 boxes announce more bytes than the file holds");
      o += (long long)s;
    }
    if (o != size) return why_not(why, whylen, "%s", "MP4 box header cut short");
    return moov ? 1 : why_not(why, whylen, "%s", "MP4 without its moov box");
  }
  if (h[0] == 0x1A && h[1] == 0x45 && h[2] == 0xDF && h[3] == 0xA3) { /* Matroska / WebM */
    uint64_t hs, ss;
    bool unk;
    int l1 = ebml_vint(h + 4, (int)n - 4, &hs, &unk);
    if (l1 < 0 || unk) return why_not(why, whylen, "%s", "malformed EBML header");
    if (hs > (uint64_t)size) return why_not(why, whylen, "%s", "no Matroska segment yet");
    long long o = 4 + l1 + (long long)hs; /* both < 2^57: no overflow */
    uint8_t sg[12];
    if (o + 12 > size || pread(fd, sg, 12, (off_t)o) != 12) return why_not(why, whylen, "%s", "no Matroska segment yet");
    if (memcmp(sg, "\x18\x53\x80\x67", 4)) return 1;
    int l2 = ebml_vint(sg + 4, 8, &ss, &unk);
    if (l2 < 0) return why_not(why, whylen, "%s", "malformed Matroska segment");
    if (!unk && ss > (uint64_t)(size - o)) return why_not(why, whylen, "%s", "Matroska segment longer than the file");
    if (!unk && o + 4 + l2 + (long long)ss > size) return why_not(why, whylen, "%s", "Matroska segment longer than the file");
    return 1;
  }
  return 1;
}

static int video_complete(const char *path, double fps, volatile sig_atomic_t *stop, char *why, size_t whylen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return why_not(why, whylen, "cannot open: %s", strerror(errno));
  struct stat st;
  int framed = fstat(fd, &st) == 0 ? watch_container_complete(fd, (long long)st.st_size, why, whylen) : 0;
  close(fd);
  if (framed != 1) return 0;
  video_params vp = video_default_params();
  vp.fps = fps > 0 ? fps : 1;
  video_reader *v;
  char err[256];
  if (video_open(&v, path, vp, err, sizeof err)) return why_not(why, whylen, "does not open: %s", err);
  vigil_image img = {0};
  double pts = 0, last = -1;
  int r;
  long frames = 0;
  while ((r = video_next(v, &img, &pts, err, sizeof err)) == 1) {
    last = pts, frames++;
    if (stop && *stop) { /* shutting down: not complete as far as we know */
      vigil_image_free(&img);
      video_close(v);
      return why_not(why, whylen, "%s", "check interrupted");
    }
  }
  double dur = video_duration_s(v);
  vigil_image_free(&img);
  video_close(v);
  if (r < 0) return why_not(why, whylen, "decode error: %s", err);
  if (!frames) return why_not(why, whylen, "%s", "no frames");
  /* a truncated file keeps the duration its header announces but its frames end early */
  if (dur > 0 && last + 1.0 / vp.fps + 1.0 < dur) {
    char d[96];
    snprintf(d, sizeof d, "frames end at %.1f s of %.1f s", last, dur);
    return why_not(why, whylen, "%s", d);
  }
  return 1;
}

static int file_complete(const char *path, watch_kind kind, double video_fps, volatile sig_atomic_t *stop, char *why,
                         size_t whylen) {
  if (why && whylen) why[0] = 0;
  return kind == WATCH_VIDEO ? video_complete(path, video_fps, stop, why, whylen) : image_complete(path, why, whylen);
}

int watch_file_complete(const char *path, watch_kind kind, double video_fps, char *why, size_t whylen) {
  return file_complete(path, kind, video_fps, NULL, why, whylen);
}

/* ---- folders and candidates ---------------------------------------------------------- */

static bool is_done(const watcher *w, const struct stat *st) {
  for (int i = 0; i < w->ndone; i++) {
    const file_id *d = &w->done[i];
    if (d->dev == st->st_dev && d->ino == st->st_ino && d->size == (long long)st->st_size && d->mtime_ns == mtime_ns(st))
      return true;
  }
  return false;
}

static void mark_done(watcher *w, const struct stat *st) {
  w->done[w->done_next] = (file_id){st->st_dev, st->st_ino, (long long)st->st_size, mtime_ns(st)};
  w->done_next = (w->done_next + 1) % DONE_CAP;
  if (w->ndone < DONE_CAP) w->ndone++;
}

/* Makes path a candidate (or restarts its settle time). min_mtime: ignore
 * older files (rescans); 0 = any. */
static void add_candidate(watcher *w, const char *path, const char *camera, double min_mtime) {
  int kind = watch_kind_of(path);
  if (kind < 0) return;
  struct stat st;
  if (stat(path, &st) || !S_ISREG(st.st_mode) || is_done(w, &st)) return;
  if (min_mtime > 0 && (double)st.st_mtim.tv_sec < min_mtime) return;
  if (w->p.seen && w->p.seen(w->p.seen_ud, path, (long long)st.st_size, mtime_ns(&st))) {
    mark_done(w, &st); /* handled before a restart: once is enough */
    return;
  }
  double now = vigil_mono_s();
  for (int i = 0; i < w->ncands; i++) {
    cand *c = &w->cands[i];
    if (strcmp(c->path, path)) continue;
    c->checks = 0; /* a new write event: check again from scratch */
    if (c->next_check > now + w->p.settle_s) c->next_check = now + w->p.settle_s;
    return;
  }
  cand *n = realloc(w->cands, sizeof *n * (size_t)(w->ncands + 1));
  if (!n) {
    vlog_error("watch: out of memory; %s skipped", path);
    return;
  }
  w->cands = n;
  cand *c = &w->cands[w->ncands++];
  memset(c, 0, sizeof *c);
  snprintf(c->path, sizeof c->path, "%s", path);
  snprintf(c->camera, sizeof c->camera, "%s", camera);
  c->kind = (watch_kind)kind;
  c->size = (long long)st.st_size;
  c->mtime_ns = mtime_ns(&st);
  c->stable_since = now;
  c->next_check = now + w->p.settle_s;
}

static void scan_dir(watcher *w, const wdir *d, double min_mtime) {
  DIR *dir = opendir(d->path);
  if (!dir) return;
  struct dirent *e;
  while ((e = readdir(dir))) {
    if (e->d_name[0] == '.') continue;
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s/%s", d->path, e->d_name) >= (int)sizeof p) continue;
    add_candidate(w, p, d->camera, min_mtime);
  }
  closedir(dir);
}

static int add_dir(watcher *w, const char *path, bool root, char *err, size_t errlen) {
  int wd = inotify_add_watch(w->fd, path, DIR_MASK | IN_ONLYDIR);
  if (wd < 0) {
    vigil_err(err, errlen, -1, "cannot watch %s: %s", path, strerror(errno));
    return -1;
  }
  for (int i = 0; i < w->ndirs; i++)
    if (w->dirs[i].wd == wd) return i; /* already watched */
  wdir *n = realloc(w->dirs, sizeof *n * (size_t)(w->ndirs + 1));
  if (!n) {
    vigil_err(err, errlen, -1, "out of memory");
    return -1;
  }
  w->dirs = n;
  wdir *d = &w->dirs[w->ndirs];
  memset(d, 0, sizeof *d);
  d->wd = wd;
  d->root = root;
  snprintf(d->path, sizeof d->path, "%s", path);
  camera_from_dir(d->camera, sizeof d->camera, path);
  return w->ndirs++;
}

static void remove_dir(watcher *w, int wd) {
  for (int i = 0; i < w->ndirs; i++)
    if (w->dirs[i].wd == wd) {
      w->dirs[i] = w->dirs[--w->ndirs];
      return;
    }
}

/* A new camera subfolder: watch it first, then take what is already in it
 * (files written before the watch existed would otherwise be missed). */
static void new_camera_dir(watcher *w, const char *path) {
  char err[256];
  int i = add_dir(w, path, false, err, sizeof err);
  if (i < 0) {
    vlog_warn("watch: %s", err);
    return;
  }
  vlog_info("watch: camera folder %s (camera %s)", path, w->dirs[i].camera);
  wdir d = w->dirs[i];
  scan_dir(w, &d, 0);
}

int watcher_init(watcher **out, const char *root, watch_params p, char *err, size_t errlen) {
  *out = NULL;
  struct stat st;
  if (stat(root, &st) || !S_ISDIR(st.st_mode)) {
    vigil_err(err, errlen, -1, "%s is not a folder", root);
    return -1;
  }
  watcher *w = calloc(1, sizeof *w);
  if (!w) return -1;
  w->p = p;
  w->started = (double)time(NULL);
  w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (w->fd < 0) {
    vigil_err(err, errlen, -1, "inotify: %s", strerror(errno));
    free(w);
    return -1;
  }
  char rp[PATH_MAX];
  if (!realpath(root, rp)) snprintf(rp, sizeof rp, "%s", root);
  if (add_dir(w, rp, true, err, errlen) < 0) {
    watcher_free(w);
    return -1;
  }
  DIR *dir = opendir(rp);
  if (!dir) {
    vigil_err(err, errlen, -1, "%s: %s", rp, strerror(errno));
    watcher_free(w);
    return -1;
  }
  struct dirent *e;
  while ((e = readdir(dir))) {
    if (e->d_name[0] == '.') continue;
    char sub[PATH_MAX];
    if (snprintf(sub, sizeof sub, "%s/%s", rp, e->d_name) >= (int)sizeof sub) continue;
    if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
      int i = add_dir(w, sub, false, err, errlen);
      if (i < 0) {
        closedir(dir);
        watcher_free(w);
        return -1;
      }
    }
  }
  closedir(dir);
  if (p.scan_existing || p.seen)
    for (int i = 0; i < w->ndirs; i++) {
      wdir d = w->dirs[i];
      scan_dir(w, &d, 0);
    }
  *out = w;
  return 0;
}

void watcher_free(watcher *w) {
  if (!w) return;
  if (w->fd >= 0) close(w->fd);
  free(w->dirs);
  free(w->cands);
  free(w);
}

int watcher_pending(const watcher *w) { return w->ncands; }
int watcher_cameras(const watcher *w) {
  int n = 0;
  for (int i = 0; i < w->ndirs; i++) n += !w->dirs[i].root;
  return n;
}

static const wdir *dir_of(const watcher *w, int wd) {
  for (int i = 0; i < w->ndirs; i++)
    if (w->dirs[i].wd == wd) return &w->dirs[i];
  return NULL;
}

static int read_events(watcher *w, char *err, size_t errlen) {
  _Alignas(struct inotify_event) char buf[16384];
  for (;;) {
    ssize_t n = read(w->fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      if (errno == EINTR) continue;
      vigil_err(err, errlen, -1, "inotify read: %s", strerror(errno));
      return -1;
    }
    for (char *p = buf; p < buf + n;) {
      struct inotify_event *ev = (struct inotify_event *)p;
      p += sizeof *ev + ev->len;
      if (ev->mask & IN_Q_OVERFLOW) { /* events were lost: look at everything written since we started */
        vlog_warn("watch: inotify queue overflow; rescanning");
        for (int i = 0; i < w->ndirs; i++) {
          wdir d = w->dirs[i];
          scan_dir(w, &d, w->p.seen ? 0 : w->started); /* with a ledger, it tells what was handled */
        }
        continue;
      }
      if (ev->mask & IN_IGNORED) {
        remove_dir(w, ev->wd);
        continue;
      }
      const wdir *d = dir_of(w, ev->wd);
      if (!d || !ev->len || ev->name[0] == '.') continue;
      char path[PATH_MAX];
      if (snprintf(path, sizeof path, "%s/%s", d->path, ev->name) >= (int)sizeof path) continue;
      if (ev->mask & IN_ISDIR) {
        if (d->root && (ev->mask & (IN_CREATE | IN_MOVED_TO))) new_camera_dir(w, path);
        continue;
      }
      if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
        char cam[VIGIL_ID_LEN];
        snprintf(cam, sizeof cam, "%s", d->camera);
        add_candidate(w, path, cam, 0);
      }
    }
  }
}

/* Examines the candidates that are due; hands over the complete ones. */
static int check_due(watcher *w, void (*fn)(void *ud, const watch_file *f), void *ud) {
  int handed = 0;
  for (int i = 0; i < w->ncands;) {
    if (w->p.stop && *w->p.stop) break; /* SIGTERM: the rest stay candidates */
    cand *c = &w->cands[i];
    double now = vigil_mono_s();
    if (c->next_check > now) {
      i++;
      continue;
    }
    struct stat st;
    bool drop = false;
    if (stat(c->path, &st) || !S_ISREG(st.st_mode)) {
      drop = true; /* deleted or renamed away (a rename into the tree comes as its own event) */
    } else if ((long long)st.st_size != c->size || mtime_ns(&st) != c->mtime_ns) {
      c->size = (long long)st.st_size; /* still being written */
      c->mtime_ns = mtime_ns(&st);
      c->stable_since = now;
      c->next_check = now + w->p.settle_s;
    } else if (now - c->stable_since < w->p.settle_s) {
      c->next_check = c->stable_since + w->p.settle_s;
    } else if (is_done(w, &st)) {
      drop = true;
    } else {
      char why[256];
      if (file_complete(c->path, c->kind, w->p.video_fps, w->p.stop, why, sizeof why) == 1) {
        /* the check took time: hand over only if nothing changed meanwhile */
        struct stat st2;
        if (stat(c->path, &st2) == 0 && st2.st_size == st.st_size && mtime_ns(&st2) == mtime_ns(&st)) {
          mark_done(w, &st);
          watch_file f = {.camera = c->camera, .path = c->path, .kind = c->kind,
                          .mtime = (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec * 1e-9, .size = (long long)st.st_size,
                          .mtime_ns = mtime_ns(&st)};
          if (fn) fn(ud, &f);
          handed++;
          drop = true;
        } else {
          c->next_check = vigil_mono_s() + w->p.settle_s;
        }
      } else if (++c->checks >= w->p.max_checks) {
        vlog_warn("watch: %s is still incomplete (%s); waiting for its next write", c->path, why);
        drop = true;
      } else {
        vlog_debug("watch: %s not complete yet (%s)", c->path, why);
        c->next_check = now + w->p.retry_s;
      }
    }
    if (drop) w->cands[i] = w->cands[--w->ncands];
    else i++;
  }
  return handed;
}

int watcher_poll(watcher *w, double timeout_s, void (*fn)(void *ud, const watch_file *f), void *ud, char *err,
                 size_t errlen) {
  double now = vigil_mono_s(), wait = timeout_s;
  for (int i = 0; i < w->ncands; i++)
    if (w->cands[i].next_check - now < wait) wait = w->cands[i].next_check - now;
  if (wait < 0) wait = 0;
  struct pollfd pfd = {.fd = w->fd, .events = POLLIN};
  int r = poll(&pfd, 1, (int)ceil(wait * 1000));
  if (r < 0 && errno != EINTR) {
    vigil_err(err, errlen, -1, "poll: %s", strerror(errno));
    return -1;
  }
  if (r > 0 && read_events(w, err, errlen)) return -1;
  return check_due(w, fn, ud);
}

/* ---- driving the pipeline -------------------------------------------------------------- */

watch_run_params watch_run_default_params(void) {
  return (watch_run_params){.watch = watch_default_params(), .fps = 1, .tick_s = 1};
}

typedef struct {
  pipeline *pl;
  const watch_run_params *p;
  char (*ids)[VIGIL_ID_LEN];
  int *idx;
  int n;
  long files;
  int rc;
  char *err;
  size_t errlen;
} run_ctx;

static int camera_index(run_ctx *r, const watch_file *f) {
  for (int i = 0; i < r->n; i++)
    if (!strcmp(r->ids[i], f->camera)) return r->idx[i];
  camera c;
  memset(&c, 0, sizeof c);
  const camera *reg = r->p->cameras ? cameras_find(r->p->cameras, f->camera) : NULL;
  if (!reg && r->p->cameras) reg = cameras_find_source(r->p->cameras, f->path);
  if (reg) {
    c = *reg;
  } else {
    snprintf(c.id, sizeof c.id, "%s", f->camera);
    snprintf(c.name, sizeof c.name, "%.47s", f->camera);
    snprintf(c.source, sizeof c.source, "%.*s", (int)(strrchr(f->path, '/') ? strrchr(f->path, '/') - f->path : 0),
             f->path);
  }
  char (*ids)[VIGIL_ID_LEN] = realloc(r->ids, sizeof *ids * (size_t)(r->n + 1));
  if (!ids) return -1;
  r->ids = ids;
  int *idx = realloc(r->idx, sizeof *idx * (size_t)(r->n + 1));
  if (!idx) return -1;
  r->idx = idx;
  int k = pipeline_add_camera(r->pl, &c, r->err, r->errlen);
  if (k < 0) return -1;
  snprintf(r->ids[r->n], VIGIL_ID_LEN, "%s", f->camera);
  r->idx[r->n++] = k;
  return k;
}

static void on_file(void *ud, const watch_file *f) {
  run_ctx *r = ud;
  if (r->rc) return;
  int cam = camera_index(r, f);
  if (cam < 0) {
    vlog_error("watch: camera %s: %s", f->camera, r->err);
    r->rc = -1;
    return;
  }
  char err[512];
  const char *status = "processed";
  if (f->kind == WATCH_IMAGE) {
    vigil_img_limits lim = vigil_img_default_limits();
    size_t max = lim.max_bytes ? lim.max_bytes : ((size_t)10 << 20);
    FILE *fp = fopen(f->path, "rb");
    uint8_t *buf = NULL;
    size_t len = 0;
    if (fp && f->size > 0 && (size_t)f->size <= max && (buf = malloc((size_t)f->size)))
      len = fread(buf, 1, (size_t)f->size, fp);
    if (fp) fclose(fp);
    vigil_image img = {0};
    if (!buf || len != (size_t)f->size) {
      vlog_warn("watch: %s: cannot read (gone, or over %zu bytes)", f->path, max);
      status = "failed";
    } else if (vigil_img_decode(&img, buf, len, &lim, err, sizeof err)) {
      vlog_warn("watch: %s: %s", f->path, err);
      status = "failed";
    } else if (pipeline_frame(r->pl, cam, &img, f->mtime, err, sizeof err)) {
      vlog_error("watch: %s: %s", f->path, err);
      status = NULL; /* a store error: not done, tried again after a restart */
    }
    vigil_image_free(&img);
    free(buf);
  } else {
    video_params vp = video_default_params();
    vp.fps = r->p->fps;
    video_reader *v;
    if (video_open(&v, f->path, vp, err, sizeof err)) {
      vlog_warn("watch: %s: %s", f->path, err);
      status = "failed";
    } else {
      double base = f->mtime - video_duration_s(v), pts;
      vigil_image img = {0};
      int k;
      while ((k = video_next(v, &img, &pts, err, sizeof err)) == 1) {
        if (r->p->stop && *r->p->stop) { /* shutting down: the rest of the clip waits for the next start */
          status = NULL;
          break;
        }
        if (pipeline_frame(r->pl, cam, &img, base + pts, err, sizeof err)) {
          vlog_error("watch: %s: %s", f->path, err);
          status = NULL;
          break;
        }
      }
      if (k < 0) vlog_warn("watch: %s: %s", f->path, err);
      vigil_image_free(&img);
      video_close(v);
    }
  }
  if (status && r->p->store && store_mark_file(r->p->store, f->path, f->size, f->mtime_ns, status, err, sizeof err))
    vlog_error("watch: %s: ledger: %s", f->path, err); /* processed again after a restart, its detections once */
  r->files++;
  vlog_info("watch: %s %s (camera %s)", status && !strcmp(status, "failed") ? "could not process" : "processed",
            f->path, f->camera);
}

static bool ledger_seen(void *ud, const char *path, long long size, int64_t mtime_ns) {
  bool seen = false;
  char err[256];
  if (store_file_seen(ud, path, size, mtime_ns, &seen, err, sizeof err)) vlog_error("watch: ledger: %s", err);
  return seen;
}

/* First start on a root: what is already there is old, recorded as such. */
static int mark_preexisting(store *st, const char *root, char *err, size_t errlen) {
  char rp[PATH_MAX];
  if (!realpath(root, rp)) snprintf(rp, sizeof rp, "%s", root);
  DIR *top = opendir(rp);
  if (!top) return 0;
  int rc = 0, n = 0;
  struct dirent *e;
  while (!rc && (e = readdir(top))) {
    if (e->d_name[0] == '.') continue;
    char sub[PATH_MAX];
    struct stat st2;
    if (snprintf(sub, sizeof sub, "%s/%s", rp, e->d_name) >= (int)sizeof sub || stat(sub, &st2)) continue;
    DIR *d = S_ISDIR(st2.st_mode) ? opendir(sub) : NULL;
    struct dirent *f;
    while (!rc && d && (f = readdir(d))) {
      char p[PATH_MAX];
      struct stat fs;
      if (f->d_name[0] == '.' || snprintf(p, sizeof p, "%s/%s", sub, f->d_name) >= (int)sizeof p) continue;
      if (watch_kind_of(p) < 0 || stat(p, &fs) || !S_ISREG(fs.st_mode)) continue;
      rc = store_mark_file(st, p, (long long)fs.st_size, mtime_ns(&fs), "preexisting", err, errlen);
      n++;
    }
    if (d) closedir(d);
    if (!rc && S_ISREG(st2.st_mode) && watch_kind_of(sub) >= 0) {
      rc = store_mark_file(st, sub, (long long)st2.st_size, mtime_ns(&st2), "preexisting", err, errlen);
      n++;
    }
  }
  closedir(top);
  if (!rc && n) vlog_info("watch: first start on %s: %d files already there are left alone", rp, n);
  return rc;
}

static const camera *registry_find(void *ud, const char *id) { return ud ? cameras_find(ud, id) : NULL; }

int watch_run(pipeline *pl, const char *root, const watch_run_params *p, long *files_done, char *err, size_t errlen) {
  watcher *w;
  if (files_done) *files_done = 0;
  watch_params wp = p->watch;
  if (!wp.stop) wp.stop = p->stop;
  if (p->store) {
    bool first;
    char rp[PATH_MAX]; /* one name per folder, however it is spelled on the command line */
    if (!realpath(root, rp)) snprintf(rp, sizeof rp, "%s", root);
    if (store_watch_root_first_start(p->store, rp, &first, err, errlen)) return -1;
    if (first && !wp.scan_existing && mark_preexisting(p->store, root, err, errlen)) return -1;
    wp.seen = ledger_seen;
    wp.seen_ud = p->store;
    /* batches a crash left open close by their clocks even if their camera stays quiet */
    if (pipeline_recover(pl, registry_find, (void *)p->cameras, err, errlen)) return -1;
  }
  if (watcher_init(&w, root, wp, err, errlen)) return -1;
  vlog_info("watch: watching %s (%d camera folders)", root, watcher_cameras(w));
  run_ctx r = {.pl = pl, .p = p, .err = err, .errlen = errlen};
  double last_tick = vigil_mono_s();
  int rc = 0;
  while (!(p->stop && *p->stop) && !r.rc && !(p->max_files > 0 && r.files >= p->max_files)) {
    if (watcher_poll(w, p->tick_s > 0 ? p->tick_s : 1, on_file, &r, err, errlen) < 0) {
      rc = -1;
      break;
    }
    if (vigil_mono_s() - last_tick >= (p->tick_s > 0 ? p->tick_s : 1)) {
      last_tick = vigil_mono_s();
      if (pipeline_tick(pl, (double)time(NULL), err, errlen)) {
        rc = -1;
        break;
      }
    }
  }
  if (r.rc) rc = -1;
  char ferr[512];
  if (pipeline_flush(pl, -1, ferr, sizeof ferr)) {
    if (!rc) vigil_err(err, errlen, -1, "%s", ferr);
    rc = -1;
  }
  if (files_done) *files_done = r.files;
  free(r.ids);
  free(r.idx);
  watcher_free(w);
  return rc;
}
