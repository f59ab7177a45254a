/* vigil analyze: the whole pipeline over images, folders (one camera per
 * subfolder, the FTP-upload layout), video files and RTSP/HTTP streams.
 * Prints each event as it is produced (or JSON lines), shows progress on a
 * terminal, stores events, and writes an HTML report on request. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmds.h"
#include "notify/notify.h"
#include "util/assets.h"
#include "util/log.h"
#include "vigil/camrun.h"
#include "vigil/cameras.h"
#include "vigil/config.h"
#include "vigil/detect.h"
#include "vigil/enrich.h"
#include "vigil/enrich_client.h"
#include "vigil/pipeline.h"
#include "vigil/report.h"
#include "vigil/risk.h"
#include "vigil/store.h"
#include "vigil/video.h"
#include "vigil/watch.h"
#include "vigil/yolo_world.h"

#define MAX_SOURCES 256

typedef struct {
  char path[1024];
  char camera[48];
  bool video; /* video file or stream URL */
  bool stream;
  bool done;  /* run concurrently before the sequential pass */
  double mtime;
} source;

typedef struct {
  bool json;
  report *rep;
  long events;
} out_ctx;

static volatile sig_atomic_t stop;

/* Wall-clock time with sub-second resolution: stream frames are stamped with
 * it, and detection ids derive from the stamp in milliseconds. */
static double wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}
static void on_signal(int sig) { (void)sig, stop = 1; }

static void usage(FILE *f) {
  fprintf(f,
          "usage: vigil analyze PATH... [options]\n"
          "  PATH: image files, folders (each subfolder is one camera: the FTP upload layout),\n"
          "        video files, or rtsp:// / http:// streams.\n"
          "options:\n"
          "  --json             print events as JSON lines\n"
          "  --report FILE      write a self-contained HTML report\n"
          "  --fps N|native     frames per second sampled from videos (default 1 for files, native for\n"
          "                     streams: every frame the camera sends)\n"
          "  --no-motion        detect every sampled frame whole (no motion gating, MOTION_GATING=false)\n"
          "  --duration S       stop streams after S seconds (default: until interrupted)\n"
          "  --db URL           store (sqlite:///path or postgresql://...; default VIGIL_DB or $VIGIL_HOME/vigil.db)\n"
          "  --window S --idle S --max-batch N --fast-path CONF   batching (90, 30, 100, 0.90)\n"
          "  --enrich-interval S  re-enrich a tracked object after S seconds (10)\n"
          "  --max-enrich N     enrichment calls per frame (4); --no-enrich to skip enrichment\n"
          "  --snapshots DIR    where annotated snapshots go ($VIGIL_HOME/snapshots)\n"
          "  --config FILE      KEY=VALUE configuration file\n"
          "  --quiet            no progress bar\n"
          "  --watch ROOT       watch ROOT (one subfolder per camera, FTP uploads) with inotify and\n"
          "                     analyze each complete new image or clip until SIGINT/SIGTERM\n"
          "  --cameras FILE     camera registry (JSON: id, name, source, timezone, zones, depth_px_per_m)\n"
          "  --enrich-url URL   enrich over HTTP (vigil serve enrich; also ENRICHMENT_URL,\n"
          "                     ENRICHMENT_LIGHT_URL for animals) instead of in-process\n"
          "  --threads N        vrt threads of the detector session (1)\n"
          "  --workers N        pipeline threads shared by concurrent cameras (2); each video or stream\n"
          "                     that is a camera of its own is decoded on its own thread\n");
}

static bool has_ext(const char *p, const char *const *exts) {
  const char *dot = strrchr(p, '.');
  if (!dot) return false;
  for (int i = 0; exts[i]; i++)
    if (!strcasecmp(dot + 1, exts[i])) return true;
  return false;
}

static const char *const image_exts[] = {"jpg", "jpeg", "png", "webp", NULL};
static const char *const video_exts[] = {"avi", "mp4", "mkv", "mov", "m4v", "ts", "mjpeg", "mjpg", "h264", "webm", NULL};

static void camera_id_from(char *dst, size_t len, const char *path) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  size_t n = 0;
  for (const char *p = base; *p && *p != '.' && n < len - 1 && n < 40; p++)
    dst[n++] = (char)((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ? *p : '_');
  dst[n] = 0;
  if (!n) snprintf(dst, len, "camera");
}

static int add_source(source *s, int *n, const char *path, const char *camera) {
  if (*n >= MAX_SOURCES) return -1;
  source *o = &s[(*n)++];
  memset(o, 0, sizeof *o);
  snprintf(o->path, sizeof o->path, "%s", path);
  o->stream = strstr(path, "://") != NULL;
  o->video = o->stream || has_ext(path, video_exts);
  struct stat st;
  /* full precision: two uploads within one second are two moments, not one */
  o->mtime = !o->stream && stat(path, &st) == 0 ? (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec * 1e-9 : wall_now();
  if (camera) {
    snprintf(o->camera, sizeof o->camera, "%s", camera);
  } else if (o->video) {
    camera_id_from(o->camera, sizeof o->camera, path); /* a video is a camera of its own */
  } else { /* single images: one camera per folder they sit in */
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *sl = strrchr(dir, '/');
    if (sl) *sl = 0;
    else snprintf(dir, sizeof dir, "images");
    camera_id_from(o->camera, sizeof o->camera, dir);
  }
  return 0;
}

static int cmp_src(const void *a, const void *b) {
  const source *x = a, *y = b;
  int c = strcmp(x->camera, y->camera);
  if (c) return c;
  if (x->mtime != y->mtime) return x->mtime < y->mtime ? -1 : 1;
  return strcmp(x->path, y->path);
}

/* A folder: its media files form one camera named after it; each subfolder
 * is a camera of its own (one level deep, as cameras upload by FTP). */
static int add_folder(source *s, int *n, const char *dir, const char *camera, int depth) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  char cam[48];
  if (camera) snprintf(cam, sizeof cam, "%s", camera);
  else camera_id_from(cam, sizeof cam, dir);
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    struct stat st;
    if (stat(p, &st)) continue;
    if (S_ISDIR(st.st_mode) && depth == 0) add_folder(s, n, p, NULL, 1);
    else if (S_ISREG(st.st_mode) && (has_ext(p, image_exts) || has_ext(p, video_exts))) add_source(s, n, p, cam);
  }
  closedir(d);
  return 0;
}

static void *slurp(const char *path, size_t *len, size_t max) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  struct stat st;
  if (fstat(fileno(f), &st) || st.st_size <= 0 || (size_t)st.st_size > max) {
    fclose(f);
    return NULL;
  }
  void *b = malloc((size_t)st.st_size);
  if (b && fread(b, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
    free(b);
    b = NULL;
  }
  fclose(f);
  *len = (size_t)st.st_size;
  return b;
}

/* Text from the store or an LLM on one terminal line: control characters
 * (escape sequences, newlines, C1 codes in UTF-8) become spaces. Events
 * stored by older versions were not cleaned, so this is done here too. */
static void print_clean(FILE *f, const char *s) {
  if (!s) return;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p < 0x20 || *p == 0x7f) fputc(' ', f);
    else if (*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) fputc(' ', f), p++;
    else fputc(*p, f);
  }
}

static void on_event(void *ud, const vigil_event *ev, const vigil_batch *b, bool duplicate) {
  /* A batch already in the store (a rerun over the same media, or a restart
   * after a crash) is reported as the event stored then, flagged, so every
   * run's output and report are complete. */
  out_ctx *o = ud;
  o->events++;
  if (o->json) {
    json_t *j = vigil_event_to_json(ev);
    if (duplicate) json_object_set_new(j, "already_stored", json_true());
    /* the tracked objects behind the event (one batch entry per track) */
    json_t *objs = json_array();
    for (size_t i = 0; i < b->n; i++) {
      const vigil_detection *d = &b->dets[i];
      if (!d->track_id) continue;
      json_t *o = json_pack("{s:i, s:s, s:s, s:f, s:[f,f,f,f], s:f, s:i, s:b}", "track_id", (int)d->track_id,
                            "detection_id", d->id, "class", d->cls, "confidence", (double)d->confidence, "bbox",
                            (double)d->bbox.x1, (double)d->bbox.y1, (double)d->bbox.x2, (double)d->bbox.y2,
                            "dwell_s", d->last_seen - d->first_seen, "frames", d->frames, "stationary",
                            d->stationary);
      if (o && d->entry_zone[0]) json_object_set_new(o, "entry_zone", json_string(d->entry_zone));
      if (o && d->exit_zone[0]) json_object_set_new(o, "exit_zone", json_string(d->exit_zone));
      if (o) json_array_append_new(objs, o);
    }
    json_object_set_new(j, "objects", objs);
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(9));
    printf("%s\n", s);
    free(s);
    json_decref(j);
  } else {
    char t0[32], t1[32];
    time_t a = (time_t)ev->window_start, z = (time_t)ev->window_end;
    struct tm tm;
    gmtime_r(&a, &tm);
    strftime(t0, sizeof t0, "%H:%M:%S", &tm);
    gmtime_r(&z, &tm);
    strftime(t1, sizeof t1, "%H:%M:%S", &tm);
    printf("[%-8s %3d] event %lld, camera ", ev->risk_level, ev->risk_score, (long long)ev->id);
    print_clean(stdout, ev->camera_id);
    printf(", %s-%s UTC, %zu object(s) (", t0, t1, b->n);
    print_clean(stdout, ev->scorer);
    printf("%s%s): ", ev->fast_path ? ", fast path" : "", duplicate ? ", stored earlier" : "");
    print_clean(stdout, ev->summary);
    fputc('\n', stdout);
  }
  fflush(stdout);
  if (o->rep) report_add(o->rep, ev, b);
}

/* Registers the camera of source s (the registry names it and gives its
 * zones and motion masks); returns its pipeline index or <0. */
static int register_camera(pipeline *pl, const camera_registry *reg, const source *s, char *err, size_t errlen) {
  camera c;
  memset(&c, 0, sizeof c);
  snprintf(c.id, sizeof c.id, "%s", s->camera);
  snprintf(c.name, sizeof c.name, "%s", s->camera);
  snprintf(c.source, sizeof c.source, "%.*s", (int)sizeof c.source - 1, s->path);
  const camera *rc = cameras_find(reg, c.id);
  if (!rc) rc = cameras_find_source(reg, s->path);
  if (rc) c = *rc;
  return pipeline_add_camera(pl, &c, err, errlen);
}

typedef struct {
  bool on;
  long done, total;
  double t0;
} progress;

static void progress_draw(progress *pg, const char *what) {
  if (!pg->on) return;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  double el = ts.tv_sec + ts.tv_nsec / 1e9 - pg->t0;
  int width = 30, fill = pg->total > 0 ? (int)(width * (double)pg->done / (double)pg->total) : 0;
  if (fill > width) fill = width;
  char bar[64];
  for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
  bar[width] = 0;
  fprintf(stderr, "\r[%s] %ld/%ld frames %5.1fs %-24.24s", bar, pg->done, pg->total, el, what);
  fflush(stderr);
}

static pthread_mutex_t progress_mu = PTHREAD_MUTEX_INITIALIZER;

static void on_frame_progress(void *ud, int source) {
  (void)source;
  progress *pg = ud;
  pthread_mutex_lock(&progress_mu);
  pg->done++;
  progress_draw(pg, "cameras");
  pthread_mutex_unlock(&progress_mu);
}

int cmd_analyze(int argc, char **argv) {
  source *src = calloc(MAX_SOURCES, sizeof *src);
  int nsrc = 0;
  const char *report_path = NULL, *db = NULL, *config_path = NULL, *snaps = NULL;
  const char *watch_root = NULL, *cameras_path = NULL, *enrich_url = NULL;
  int threads = 0, workers = 0;
  camera_registry reg = {0};
  enrich_client *ecl = NULL;
  double fps = 1, duration = 0;
  bool quiet = false, json = false, fps_set = false, no_motion = false;
  pipeline_params pp = pipeline_default_params();
  int status = VIGIL_EXIT_FAIL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    bool has = i + 1 < argc;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      free(src);
      return VIGIL_EXIT_OK;
    }
    if (!strcmp(a, "--json")) json = true;
    else if (!strcmp(a, "--quiet")) quiet = true;
    else if (!strcmp(a, "--no-enrich")) pp.enrich = false;
    else if (!strcmp(a, "--report") && has) report_path = argv[++i];
    else if (!strcmp(a, "--db") && has) db = argv[++i];
    else if (!strcmp(a, "--config") && has) config_path = argv[++i];
    else if (!strcmp(a, "--snapshots") && has) snaps = argv[++i];
    else if (!strcmp(a, "--fps") && has) {
      const char *v = argv[++i];
      fps = !strcmp(v, "native") ? 0 : atof(v); /* 0 = the stream's own rate */
      fps_set = true;
      if (fps == 0 && strcmp(v, "native")) fps = -1;
    } else if (!strcmp(a, "--no-motion")) no_motion = true;
    else if (!strcmp(a, "--duration") && has) duration = atof(argv[++i]);
    else if (!strcmp(a, "--window") && has) pp.batch.window_s = atof(argv[++i]);
    else if (!strcmp(a, "--idle") && has) pp.batch.idle_s = atof(argv[++i]);
    else if (!strcmp(a, "--max-batch") && has) pp.batch.max_detections = atoi(argv[++i]);
    else if (!strcmp(a, "--fast-path") && has) pp.batch.fast_path_conf = (float)atof(argv[++i]);
    else if (!strcmp(a, "--enrich-interval") && has) pp.enrich_interval_s = atof(argv[++i]);
    else if (!strcmp(a, "--max-enrich") && has) pp.max_enrich_per_frame = atoi(argv[++i]);
    else if (!strcmp(a, "--watch") && has) watch_root = argv[++i];
    else if (!strcmp(a, "--cameras") && has) cameras_path = argv[++i];
    else if (!strcmp(a, "--enrich-url") && has) enrich_url = argv[++i];
    else if (!strcmp(a, "--threads") && has) threads = atoi(argv[++i]);
    else if (!strcmp(a, "--workers") && has) workers = atoi(argv[++i]);
    else if (a[0] == '-' && strcmp(a, "-")) {
      fprintf(stderr, "vigil analyze: unknown option '%s'\n", a);
      usage(stderr);
      free(src);
      return VIGIL_EXIT_USAGE;
    } else {
      struct stat st;
      if (strstr(a, "://")) add_source(src, &nsrc, a, NULL);
      else if (stat(a, &st)) {
        fprintf(stderr, "vigil analyze: %s: %s\n", a, strerror(errno));
        free(src);
        return VIGIL_EXIT_NODATA;
      } else if (S_ISDIR(st.st_mode)) add_folder(src, &nsrc, a, NULL, 0);
      else if (has_ext(a, image_exts) || has_ext(a, video_exts)) add_source(src, &nsrc, a, NULL);
      else {
        fprintf(stderr, "vigil analyze: %s: not an image or video file\n", a);
        free(src);
        return VIGIL_EXIT_USAGE;
      }
    }
  }
  if ((!nsrc && !watch_root) || threads < 0 || threads > 256 || workers < 0 || workers > 64 || fps < 0 || fps > 60 || pp.batch.window_s <= 0 || pp.batch.idle_s <= 0 || pp.batch.max_detections < 1) {
    if (!nsrc && !watch_root) fprintf(stderr, "vigil analyze: no images or videos given\n");
    usage(stderr);
    free(src);
    return VIGIL_EXIT_USAGE;
  }
  qsort(src, (size_t)nsrc, sizeof *src, cmp_src);

  char err[1024];
  vigil_config *cfg = NULL;
  if (vigil_config_load(&cfg, config_path, err, sizeof err)) {
    fprintf(stderr, "vigil analyze: %s\n", err);
    free(src);
    return VIGIL_EXIT_USAGE;
  }
  vigil_config_set_global(cfg);
  cfg = (vigil_config *)vigil_config_global();
  if (pipeline_params_from_config(&pp, cfg, err, sizeof err)) {
    fprintf(stderr, "vigil analyze: %s\n", err);
    vigil_config_set_global(NULL);
    free(src);
    return VIGIL_EXIT_USAGE;
  }
  if (no_motion) pp.motion = false;
  detector_params dp;
  char model_path[1024];
  detector_t *det = NULL;
  yolo_world *world = NULL;
  enrich_engine *eng = NULL;
  risk_analyzer *risk = NULL;
  store *st = NULL;
  notify *nt = NULL;
  pipeline *pl = NULL;
  out_ctx oc = {.json = json, .rep = report_path ? report_new("vigil analyze report") : NULL};
  if (cameras_path && cameras_load(&reg, cameras_path, err, sizeof err)) {
    fprintf(stderr, "vigil analyze: --cameras %s\n", err);
    status = VIGIL_EXIT_USAGE;
    goto done;
  }
  int dpc = detector_params_from_config(&dp, model_path, sizeof model_path, cfg, err, sizeof err);
  if (threads > 0) dp.threads = threads;
  if (dpc || detector_load(&det, dp, err, sizeof err)) {
    fprintf(stderr, "vigil analyze: %s (run `make deps` for the default models)\n", err);
    status = VIGIL_EXIT_NODATA;
    goto done;
  }
  bool watching = false;
  for (int i = 0; i < reg.n; i++) watching |= reg.cams[i].nwatch > 0;
  if (watching) { /* the registry's watch lists need YOLO-World; without it they only feed the rules */
    const char *ywp = vigil_config_str(cfg, "YOLO_WORLD_MODEL_PATH");
    double yc = 0.25;
    vigil_config_float(cfg, "YOLO_WORLD_CONFIDENCE", &yc, NULL, 0);
    pp.world_conf = (float)yc;
    char yerr[512];
    if (!ywp || yolo_world_load(&world, ywp, threads > 0 ? threads : 1, yerr, sizeof yerr)) {
      fprintf(stderr, "vigil analyze: camera watch lists: YOLO-World export not installed (%s); watched classes are "
                      "only recognised when the detector itself reports them (tools/export/yolo_world.py)\n",
              ywp ? yerr : "YOLO_WORLD_MODEL_PATH is not set");
    } else {
      pp.world = world;
    }
  }
  enrich_client_params ecp;
  int remote = enrich_client_params_from_config(&ecp, cfg, err, sizeof err);
  if (remote >= 0 && enrich_url) remote = snprintf(ecp.url, sizeof ecp.url, "%s", enrich_url) > 0;
  if (remote < 0 || (pp.enrich && remote == 1 && enrich_client_init(&ecl, ecp, err, sizeof err))) {
    fprintf(stderr, "vigil analyze: enrichment: %s\n", err);
    status = VIGIL_EXIT_USAGE;
    goto done;
  }
  if (ecl) pp.enrich_fn = enrich_client_fn, pp.enrich_ud = ecl;
  if (pp.enrich && !ecl && enrich_engine_init(&eng, cfg, err, sizeof err)) {
    fprintf(stderr, "vigil analyze: enrichment: %s\n", err);
    goto done;
  }
  risk_params rp;
  if (risk_params_from_config(&rp, cfg, err, sizeof err) || risk_analyzer_init(&risk, &rp, err, sizeof err)) {
    fprintf(stderr, "vigil analyze: risk: %s\n", err);
    goto done;
  }
  char dburl[1100];
  if (db) snprintf(dburl, sizeof dburl, "%s", db);
  else if (store_default_url(dburl, sizeof dburl)) {
    fprintf(stderr, "vigil analyze: no store URL\n");
    goto done;
  }
  if (store_open(&st, dburl, err, sizeof err)) {
    fprintf(stderr, "vigil analyze: store %s: %s\n", dburl, err);
    goto done;
  }
  if (notify_start(&nt, st, err, sizeof err)) { /* MQTT / webhook alerts, when configured */
    fprintf(stderr, "vigil analyze: %s\n", err);
    goto done;
  }
  if (snaps) snprintf(pp.snapshot_dir, sizeof pp.snapshot_dir, "%s", snaps);
  else vigil_asset_path(pp.snapshot_dir, sizeof pp.snapshot_dir, "snapshots");
  pp.on_event = on_event;
  pp.ud = &oc;
  if (pipeline_init(&pl, pp, det, eng, risk, st, err, sizeof err)) {
    fprintf(stderr, "vigil analyze: %s\n", err);
    goto done;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);

  progress pg = {.on = !quiet && isatty(2)};
  struct timespec ts0;
  clock_gettime(CLOCK_MONOTONIC, &ts0);
  pg.t0 = ts0.tv_sec + ts0.tv_nsec / 1e9;
  for (int i = 0; i < nsrc; i++) {
    if (!src[i].video) pg.total++;
    else if (!src[i].stream) {
      video_reader *v;
      if (video_open(&v, src[i].path, video_default_params(), err, sizeof err) == 0) {
        pg.total += (long)ceil(video_duration_s(v) * (fps > 0 ? fps : video_source_fps(v) > 0 ? video_source_fps(v) : 25));
        video_close(v);
      }
    }
  }
  int failures = 0, cam = -1;
  char last_cam[48] = "";
  vigil_img_limits lim = vigil_img_default_limits();
  /* Cameras that are one video or stream each run concurrently: a decode
   * thread per camera, --workers pipeline threads shared by all of them.
   * Cameras made of several files (a folder of clips and stills) keep their
   * order in the sequential pass below. */
  camrun_source *cr = calloc((size_t)nsrc + 1, sizeof *cr);
  int ncr = 0;
  for (int i = 0; cr && i < nsrc; i++) {
    bool alone = (i == 0 || strcmp(src[i - 1].camera, src[i].camera)) &&
                 (i == nsrc - 1 || strcmp(src[i + 1].camera, src[i].camera));
    if (!src[i].video || !alone) continue;
    int c = register_camera(pl, &reg, &src[i], err, sizeof err);
    if (c < 0) {
      fprintf(stderr, "vigil analyze: camera %s: %s\n", src[i].camera, err);
      free(cr);
      goto done;
    }
    camrun_source *o = &cr[ncr++];
    snprintf(o->url, sizeof o->url, "%s", src[i].path);
    o->cam = c;
    snprintf(o->camera_id, sizeof o->camera_id, "%s", src[i].camera);
    o->live = src[i].stream;
    o->fps = src[i].stream && !fps_set ? 0 : fps;
    video_reader *v;
    o->base_ts = src[i].mtime;
    if (!src[i].stream && video_open(&v, src[i].path, video_default_params(), err, sizeof err) == 0) {
      o->base_ts = src[i].mtime - video_duration_s(v);
      video_close(v);
    }
    src[i].done = true;
  }
  if (ncr > 0) {
    camrun_params crp = camrun_default_params();
    if (workers > 0) crp.workers = workers;
    crp.duration_s = duration;
    crp.stop = &stop;
    crp.on_frame = on_frame_progress;
    crp.ud = &pg;
    long nf = 0;
    failures += camrun_run(pl, cr, ncr, &crp, &nf);
    for (int i = 0; i < ncr; i++)
      if (pipeline_flush(pl, cr[i].cam, err, sizeof err)) vlog_error("analyze: %s", err);
  }
  free(cr);
  for (int i = 0; i < nsrc && !stop; i++) {
    source *s = &src[i];
    if (s->done) continue;
    if (strcmp(last_cam, s->camera)) {
      if (cam >= 0 && pipeline_flush(pl, cam, err, sizeof err)) vlog_error("analyze: %s", err);
      cam = register_camera(pl, &reg, s, err, sizeof err);
      if (cam < 0) {
        fprintf(stderr, "vigil analyze: camera %s: %s\n", s->camera, err);
        goto done;
      }
      snprintf(last_cam, sizeof last_cam, "%s", s->camera);
    }
    if (!s->video) {
      size_t len;
      uint8_t *buf = slurp(s->path, &len, lim.max_bytes ? lim.max_bytes : ((size_t)10 << 20));
      vigil_image img = {0};
      if (!buf || vigil_img_decode(&img, buf, len, &lim, err, sizeof err)) {
        vlog_warn("analyze: %s: %s", s->path, buf ? err : "cannot read (missing or over 10 MB)");
        failures++;
      } else if (pipeline_frame(pl, cam, &img, s->mtime, err, sizeof err)) {
        vlog_error("analyze: %s: %s", s->path, err);
        failures++;
      }
      free(buf);
      vigil_image_free(&img);
      pg.done++;
      progress_draw(&pg, s->path);
      continue;
    }
    /* video files and streams; streams reconnect with backoff */
    video_params vp = video_default_params();
    vp.fps = s->stream && !fps_set ? 0 : fps; /* streams: every frame unless --fps says otherwise */
    double backoff = 1, t_start = (double)time(NULL);
    for (;;) {
      video_reader *v;
      if (video_open(&v, s->path, vp, err, sizeof err)) {
        vlog_warn("analyze: %s: %s", s->path, err);
        if (!s->stream || stop || (duration > 0 && time(NULL) - t_start > duration)) {
          failures++;
          break;
        }
        sleep((unsigned)backoff);
        backoff = backoff * 2 > 30 ? 30 : backoff * 2;
        continue;
      }
      backoff = 1;
      double base = s->stream ? wall_now() : s->mtime - video_duration_s(v);
      vigil_image img = {0};
      double pts;
      int r = 0;
      while (!stop && (r = video_next(v, &img, &pts, err, sizeof err)) == 1) {
        double t = s->stream ? wall_now() : base + pts;
        if (pipeline_frame(pl, cam, &img, t, err, sizeof err)) {
          vlog_error("analyze: %s: %s", s->path, err);
          failures++;
          break;
        }
        pg.done++;
        progress_draw(&pg, s->path);
        if (s->stream && duration > 0 && time(NULL) - t_start > duration) break;
      }
      vigil_image_free(&img);
      video_close(v);
      if (r < 0) vlog_warn("analyze: %s: %s", s->path, err);
      if (!s->stream || stop || (duration > 0 && time(NULL) - t_start > duration)) break;
      vlog_warn("analyze: stream %s dropped; reconnecting in %.0f s", s->path, backoff);
      sleep((unsigned)backoff);
      backoff = backoff * 2 > 30 ? 30 : backoff * 2;
    }
  }
  if (pipeline_flush(pl, -1, err, sizeof err)) vlog_error("analyze: %s", err);
  if (watch_root && !stop) {
    watch_run_params wp = watch_run_default_params();
    wp.fps = fps;
    wp.cameras = &reg;
    wp.stop = &stop;
    wp.store = st; /* exactly once across restarts: the ledger and the open batches live in the store */
    long nw = 0;
    if (watch_run(pl, watch_root, &wp, &nw, err, sizeof err)) {
      fprintf(stderr, "vigil analyze: --watch %s: %s\n", watch_root, err);
      failures++;
    }
    fprintf(stderr, "analyze: watched %s, %ld files processed\n", watch_root, nw);
  }
  if (pg.on) fprintf(stderr, "\n");
  const pipeline_stats *ps = pipeline_get_stats(pl);
  fprintf(stderr,
          "analyze: %ld frames (%ld detected, %ld gated by motion, %ld dropped), %ld detector calls, %ld detections, "
          "%ld objects tracked, %ld enrichments, %ld events (%ld new, %ld stored earlier); time: motion %.1fs, "
          "detect %.1fs, track %.1fs, enrich %.1fs, risk %.1fs, store %.1fs\n",
          ps->frames, ps->detected_frames, ps->frames_gated, ps->dropped, ps->detector_calls, ps->detections,
          ps->tracks_confirmed, ps->enriched, ps->batches, ps->events, ps->duplicates, ps->motion_ms / 1e3,
          ps->detect_ms / 1e3, ps->track_ms / 1e3, ps->enrich_ms / 1e3, ps->risk_ms / 1e3, ps->store_ms / 1e3);
  if (oc.rep) {
    if (report_write(oc.rep, report_path, err, sizeof err)) fprintf(stderr, "vigil analyze: %s\n", err);
    else fprintf(stderr, "analyze: report written to %s\n", report_path);
  }
  status = failures && (!ps->frames || watch_root) ? VIGIL_EXIT_FAIL : VIGIL_EXIT_OK;
  notify_drain(nt, 10); /* a short run: give the alerts of its events a moment to go out */
done:
  pipeline_free(pl);
  notify_stop(nt); /* what is left stays in the outbox for the next dispatcher */
  store_close(st);
  risk_analyzer_free(risk);
  enrich_engine_free(eng);
  enrich_client_free(ecl);
  cameras_free(&reg);
  detector_free(det);
  yolo_world_free(world);
  report_free(oc.rep);
  vigil_config_set_global(NULL);
  free(src);
  return status;
}
