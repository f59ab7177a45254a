/* Camera folders: cameras upload by FTP into one subfolder per camera under a
 * root; the watcher follows the root with inotify and hands over each file
 * once it is complete. `vigil analyze --watch ROOT` drives the pipeline with
 * it (watch_run).
 *
 * A file is complete when a write to it was closed (IN_CLOSE_WRITE) or it was
 * renamed into place (IN_MOVED_TO), its size and mtime then stayed unchanged
 * for settle_s, and its content is whole: a JPEG ends with FFD9, a PNG with
 * its IEND chunk, a WebP holds the bytes its RIFF header announces, and a
 * video holds every byte its container announces (AVI RIFF chunks, MP4 boxes
 * with a moov, a sized Matroska segment) and decodes to the end without error
 * (formats without sizes, like MPEG-TS, rely on the settle time and the
 * decode alone). An incomplete file is
 * checked again every retry_s (up to max_checks times, and afresh on its next
 * write event); the same content (device, inode, size, mtime) is never handed
 * over twice. New camera subfolders are picked up as they appear (and the
 * files already in them). Files present at start are old uploads and left
 * alone unless scan_existing is set.
 *
 * Threads: a watcher belongs to the thread that polls it. */
#ifndef VIGIL_WATCH_H
#define VIGIL_WATCH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/cameras.h"
#include "vigil/pipeline.h"

typedef struct {
  double settle_s;    /* size and mtime unchanged for this long (1.0) */
  double retry_s;     /* an incomplete file is checked again after this (2.0) */
  int max_checks;     /* failed checks before waiting for its next write event (150) */
  bool scan_existing; /* also hand over the files present at start (false) */
  double video_fps;   /* sampling rate of the decode-to-the-end check of videos (1) */
  volatile sig_atomic_t *stop; /* when it becomes nonzero, checks and polls return early (may be NULL) */
  /* A ledger of files already handled (across restarts), or NULL: a file it
   * knows is never a candidate, and with a ledger every file present at start
   * is looked at (the ledger, not scan_existing, decides what is old). */
  bool (*seen)(void *ud, const char *path, long long size, int64_t mtime_ns);
  void *seen_ud;
} watch_params;

watch_params watch_default_params(void);

typedef enum { WATCH_IMAGE, WATCH_VIDEO } watch_kind;

typedef struct {
  const char *camera; /* camera id: the subfolder's name (the root's own name for files directly in it) */
  const char *path;
  watch_kind kind;
  double mtime;       /* unix seconds */
  long long size;
  int64_t mtime_ns;   /* the same, exact: (path, size, mtime_ns) names this upload in the ledger */
} watch_file;

typedef struct watcher watcher;

/* Starts watching root (a folder). */
int watcher_init(watcher **out, const char *root, watch_params p, char *err, size_t errlen);
void watcher_free(watcher *w);
/* Waits up to timeout_s for file system events, then calls fn for every file
 * that has become complete, in the calling thread. Returns how many files were
 * handed over, or <0 on error. */
int watcher_poll(watcher *w, double timeout_s, void (*fn)(void *ud, const watch_file *f), void *ud, char *err,
                 size_t errlen);
int watcher_pending(const watcher *w); /* files waiting to become complete */
int watcher_cameras(const watcher *w); /* camera folders watched */

/* The completeness check alone: 1 complete, 0 not (why says what is missing). */
int watch_file_complete(const char *path, watch_kind kind, double video_fps, char *why, size_t whylen);
/* The container framing part of it on an open file of `size` bytes (AVI RIFF
 * chunks, MP4 top-level boxes, Matroska segment): 1 complete or a format
 * without sizes, 0 truncated or malformed. Bounded in time for any bytes. */
int watch_container_complete(int fd, long long size, char *why, size_t whylen);
/* WATCH_IMAGE or WATCH_VIDEO by extension, or -1 for files the watcher ignores. */
int watch_kind_of(const char *path);

typedef struct {
  watch_params watch;
  double fps;                      /* frames per second sampled from videos (1) */
  double tick_s;                   /* how often idle batch clocks advance (1) */
  const camera_registry *cameras;  /* names, zones and timezones by camera id or source (may be NULL) */
  volatile sig_atomic_t *stop;     /* runs until *stop becomes nonzero */
  long max_files;                  /* return after this many files (0 = no limit) */
  struct store *store;             /* the ledger of processed files (vigil/store.h), or NULL: none */
} watch_run_params;

watch_run_params watch_run_default_params(void);

/* Watches root and feeds every complete file through the pipeline: images as
 * one frame at their mtime, videos sampled at fps (frame times end at the
 * file's mtime); ticks the batch clocks with wall time while idle; flushes
 * every open batch on return. Unknown camera folders become cameras named
 * after the folder. With a store: every file is handled exactly once across
 * crashes and restarts. Its detections are stored as they are found (open
 * batches resume after a restart, see pipeline_add_camera); it goes into the
 * store's ledger once all its frames went through; at start the ledger is
 * consulted for every file present, so uploads that arrived while vigil was
 * down are processed, and the ones processed before are not. The first time
 * a root is watched, the files already there are recorded as preexisting and
 * left alone (unless scan_existing). Returns 0 when stopped, <0 on a watcher or store error. */
int watch_run(pipeline *pl, const char *root, const watch_run_params *p, long *files_done, char *err, size_t errlen);

#endif
