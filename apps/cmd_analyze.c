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
#include "opts.h"
#include "notify/notify.h"
#include "util/assets.h"
#include "util/clock.h"
#include "util/file.h"
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
#include "vigil/store_json.h"
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
static void on_signal(int sig) { (void)sig, stop = 1; }

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
  o->mtime = !o->stream && stat(path, &st) == 0 ? (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec * 1e-9 : vigil_wall_s();
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

/* A whole image file; NULL when missing, empty or over max bytes. */
static void *slurp(const char *path, size_t *len, size_t max) {
  char *b;
  if (vigil_file_read(path, max, &b, len, NULL, 0)) return NULL;
  if (!*len) {
    free(b);
    return NULL;
  }
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
      if (o && d->snapshot_path[0]) json_object_set_new(o, "snapshot", json_string(d->snapshot_path));
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
  double el = vigil_mono_s() - pg->t0;
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

/* ---- parse: the options and the paths ------------------------------------------------ */

typedef struct {
  source *src;
  int nsrc;
  const char *report_path, *db, *config_path, *snaps;
  const char *watch_root, *cameras_path, *enrich_url;
  int threads, workers;
  int metrics_port; /* -1: no /metrics */
  double fps, duration; /* fps 0: a stream's own rate */
  bool quiet, json, fps_set, no_motion;
  pipeline_params pp;
} analyze_args;

static int parse_fps(void *dst, const char *v) {
  analyze_args *a = dst;
  a->fps = !strcmp(v, "native") ? 0 : atof(v); /* 0 = the stream's own rate */
  a->fps_set = true;
  if (a->fps == 0 && strcmp(v, "native")) a->fps = -1; /* refused below, with the usage */
  return 0;
}

/* A path: a stream URL, a folder, an image or a video file. */
static int add_path(void *ud, const char *a) {
  analyze_args *x = ud;
  struct stat st;
  if (strstr(a, "://")) add_source(x->src, &x->nsrc, a, NULL);
  else if (stat(a, &st)) {
    fprintf(stderr, "vigil analyze: %s: %s\n", a, strerror(errno));
    return VIGIL_EXIT_NODATA;
  } else if (S_ISDIR(st.st_mode)) add_folder(x->src, &x->nsrc, a, NULL, 0);
  else if (has_ext(a, image_exts) || has_ext(a, video_exts)) add_source(x->src, &x->nsrc, a, NULL);
  else {
    fprintf(stderr, "vigil analyze: %s: not an image or video file\n", a);
    return VIGIL_EXIT_USAGE;
  }
  return 0;
}

static int analyze_parse(analyze_args *a, int argc, char **argv) {
  pipeline_params *pp = &a->pp;
  const app_opt opts[] = {
      {"--json", NULL, OPT_SET, &a->json, "print events as JSON lines", NULL},
      {"--report", "FILE", OPT_STR, &a->report_path, "write a self-contained HTML report", NULL},
      {"--fps", "N|native", OPT_FN, a,
       "frames per second sampled from videos (default 1 for files, native for\n"
       "streams: every frame the camera sends)", parse_fps},
      {"--no-motion", NULL, OPT_SET, &a->no_motion,
       "detect every sampled frame whole (no motion gating, MOTION_GATING=false)", NULL},
      {"--duration", "S", OPT_DOUBLE, &a->duration, "stop streams after S seconds (default: until interrupted)",
       NULL},
      {"--db", "URL", OPT_STR, &a->db,
       "store (sqlite:///path or postgresql://...; default VIGIL_DB or $VIGIL_HOME/vigil.db)", NULL},
      {"--window", "S", OPT_DOUBLE, &pp->batch.window_s, "batch window in seconds (90)", NULL},
      {"--idle", "S", OPT_DOUBLE, &pp->batch.idle_s, "close a batch S seconds after its last sighting (30)", NULL},
      {"--max-batch", "N", OPT_INT, &pp->batch.max_detections, "objects in one batch at most (100)", NULL},
      {"--fast-path", "CONF", OPT_FLOAT, &pp->batch.fast_path_conf,
       "a person at CONF or above closes the batch at once (0.90)", NULL},
      {"--enrich-interval", "S", OPT_DOUBLE, &pp->enrich_interval_s,
       "re-enrich a tracked object after S seconds (10)", NULL},
      {"--max-enrich", "N", OPT_INT, &pp->max_enrich_per_frame, "enrichment calls per frame (4)", NULL},
      {"--no-enrich", NULL, OPT_CLEAR, &pp->enrich, "skip enrichment", NULL},
      {"--snapshots", "DIR", OPT_STR, &a->snaps, "where annotated snapshots go ($VIGIL_HOME/snapshots)", NULL},
      {"--config", "FILE", OPT_STR, &a->config_path, "KEY=VALUE configuration file", NULL},
      {"--quiet", NULL, OPT_SET, &a->quiet, "no progress bar", NULL},
      {"--watch", "ROOT", OPT_STR, &a->watch_root,
       "watch ROOT (one subfolder per camera, FTP uploads) with inotify and\n"
       "analyze each complete new image or clip until SIGINT/SIGTERM", NULL},
      {"--cameras", "FILE", OPT_STR, &a->cameras_path,
       "camera registry (JSON: id, name, source, timezone, zones, depth_px_per_m)", NULL},
      {"--enrich-url", "URL", OPT_STR, &a->enrich_url,
       "enrich over HTTP (vigil serve enrich; also ENRICHMENT_URL,\n"
       "ENRICHMENT_LIGHT_URL for animals) instead of in-process", NULL},
      {"--threads", "N", OPT_INT, &a->threads,
       "vrt threads of the detector session (2; 1 on one CPU): at most N, adaptive\n"
       "as in vigil model run --help", NULL},
      {"--workers", "N", OPT_INT, &a->workers,
       "pipeline threads shared by concurrent cameras (2); each video or stream\n"
       "that is a camera of its own is decoded on its own thread", NULL},
      {"--metrics-port", "N", OPT_INT, &a->metrics_port,
       "serve GET /health and GET /metrics (per-camera frames, drops, events)\n"
       "on port N while running (0: any free port, logged)", NULL},
  };
  const app_cmd cmd = {
      .name = "vigil analyze",
      .synopsis = "usage: vigil analyze PATH... [options]\n"
                  "  PATH: image files, folders (each subfolder is one camera: the FTP upload layout),\n"
                  "        video files, or rtsp:// / http:// streams.\n",
      APP_OPT_TABLE(opts),
      .positional = add_path,
      .ud = a,
  };
  int rc = app_opts_parse(&cmd, 1, argc, argv);
  if (rc) return rc;
  if ((!a->nsrc && !a->watch_root) || a->threads < 0 || a->threads > 256 || a->workers < 0 || a->workers > 64 ||
      a->metrics_port < -1 || a->metrics_port > 65535 || a->fps < 0 || a->fps > 60 || pp->batch.window_s <= 0 || pp->batch.idle_s <= 0 || pp->batch.max_detections < 1) {
    if (!a->nsrc && !a->watch_root) fprintf(stderr, "vigil analyze: no images or videos given\n");
    app_opts_usage(&cmd, stderr);
    return VIGIL_EXIT_USAGE;
  }
  qsort(a->src, (size_t)a->nsrc, sizeof *a->src, cmp_src);
  return 0;
}

/* ---- build: configuration, models, store, pipeline ----------------------------------- */

typedef struct {
  camera_registry reg;
  detector_t *det;
  yolo_world *world; /* the cameras' watch lists (NULL: none watch, or not installed) */
  enrich_engine *eng;
  enrich_client *ecl;
  risk_analyzer *risk;
  store *st;
  notify *nt;
  pipeline *pl;
  pipeline_http *mh; /* --metrics-port */
  pipeline_scene *scene; /* caption, CLIP anomaly, search embeddings (NULL: off) */
  out_ctx oc;
} analyze_ctx;

/* Everything the run needs, from the configuration and the options; an
 * exit status on failure (what was built is freed by analyze_free). */
static int analyze_build(analyze_ctx *x, analyze_args *a, char *err, size_t errlen) {
  pipeline_params *pp = &a->pp;
  vigil_config *cfg = NULL;
  if (vigil_config_load(&cfg, a->config_path, err, errlen)) {
    fprintf(stderr, "vigil analyze: %s\n", err);
    return VIGIL_EXIT_USAGE;
  }
  vigil_config_set_global(cfg);
  cfg = (vigil_config *)vigil_config_global();
  if (pipeline_params_from_config(pp, cfg, err, errlen)) {
    fprintf(stderr, "vigil analyze: %s\n", err);
    return VIGIL_EXIT_USAGE;
  }
  if (a->no_motion) pp->motion = false;
  x->oc = (out_ctx){.json = a->json, .rep = a->report_path ? report_new("vigil analyze report") : NULL};
  if (a->cameras_path && cameras_load(&x->reg, a->cameras_path, err, errlen)) {
    fprintf(stderr, "vigil analyze: --cameras %s\n", err);
    return VIGIL_EXIT_USAGE;
  }
  detector_params dp;
  char model_path[1024];
  int dpc = detector_params_from_config(&dp, model_path, sizeof model_path, cfg, err, errlen);
  dp.threads = a->threads > 0 ? a->threads : vigil_default_threads();
  if (dpc || detector_load(&x->det, dp, err, errlen)) {
    fprintf(stderr, "vigil analyze: %s (run `make deps` for the default models)\n", err);
    return VIGIL_EXIT_NODATA;
  }
  bool watching = false;
  for (int i = 0; i < x->reg.n; i++) watching |= x->reg.cams[i].nwatch > 0;
  if (watching) { /* the registry's watch lists need YOLO-World; without it they only feed the rules */
    const char *ywp = vigil_config_str(cfg, "YOLO_WORLD_MODEL_PATH");
    double yc = 0.25;
    vigil_config_float(cfg, "YOLO_WORLD_CONFIDENCE", &yc, NULL, 0);
    pp->world_conf = (float)yc;
    char yerr[512];
    if (!ywp || yolo_world_load(&x->world, ywp, dp.threads, yerr, sizeof yerr))
      fprintf(stderr, "vigil analyze: camera watch lists: YOLO-World export not installed (%s); watched classes are "
                      "only recognised when the detector itself reports them (tools/export/yolo_world.py)\n",
              ywp ? yerr : "YOLO_WORLD_MODEL_PATH is not set");
    else
      pp->world = x->world;
  }
  enrich_client_params ecp;
  int remote = enrich_client_params_from_config(&ecp, cfg, err, errlen);
  if (remote >= 0 && a->enrich_url) remote = snprintf(ecp.url, sizeof ecp.url, "%s", a->enrich_url) > 0;
  if (remote < 0 || (pp->enrich && remote == 1 && enrich_client_init(&x->ecl, ecp, err, errlen))) {
    fprintf(stderr, "vigil analyze: enrichment: %s\n", err);
    return VIGIL_EXIT_USAGE;
  }
  if (x->ecl) pp->enrich_fn = enrich_client_fn, pp->enrich_ud = x->ecl;
  if (pp->enrich && !x->ecl && enrich_engine_init(&x->eng, cfg, err, errlen)) {
    fprintf(stderr, "vigil analyze: enrichment: %s\n", err);
    return VIGIL_EXIT_FAIL;
  }
  risk_params rp;
  if (risk_params_from_config(&rp, cfg, err, errlen) || risk_analyzer_init(&x->risk, &rp, err, errlen)) {
    fprintf(stderr, "vigil analyze: risk: %s\n", err);
    return VIGIL_EXIT_FAIL;
  }
  char dburl[1100];
  if (a->db) snprintf(dburl, sizeof dburl, "%s", a->db);
  else if (store_default_url(dburl, sizeof dburl)) {
    fprintf(stderr, "vigil analyze: no store URL\n");
    return VIGIL_EXIT_FAIL;
  }
  if (store_open(&x->st, dburl, err, errlen)) {
    fprintf(stderr, "vigil analyze: store %s: %s\n", dburl, err);
    return VIGIL_EXIT_FAIL;
  }
  if (notify_start(&x->nt, x->st, err, errlen)) { /* MQTT / webhook alerts, when configured */
    fprintf(stderr, "vigil analyze: %s\n", err);
    return VIGIL_EXIT_FAIL;
  }
  if (a->snaps) snprintf(pp->snapshot_dir, sizeof pp->snapshot_dir, "%s", a->snaps);
  else vigil_asset_path(pp->snapshot_dir, sizeof pp->snapshot_dir, "snapshots");
  pp->on_event = on_event;
  pp->ud = &x->oc;
  if (pipeline_init(&x->pl, *pp, x->det, x->eng, x->risk, x->st, err, errlen)) {
    fprintf(stderr, "vigil analyze: %s\n", err);
    return VIGIL_EXIT_FAIL;
  }
  if (pipeline_scene_open(&x->scene, cfg)) { /* caption, CLIP anomaly, search embeddings, when installed */
    fprintf(stderr, "vigil analyze: out of memory\n");
    return VIGIL_EXIT_FAIL;
  }
  pipeline_set_scene(x->pl, x->scene);
  if (a->metrics_port >= 0) {
    if (pipeline_http_start(&x->mh, x->pl, a->metrics_port, err, errlen)) {
      fprintf(stderr, "vigil analyze: --metrics-port %d: %s\n", a->metrics_port, err);
      return VIGIL_EXIT_FAIL;
    }
    signal(SIGPIPE, SIG_IGN); /* a scraper that hangs up */
    vlog_info("analyze: metrics on http://127.0.0.1:%d/metrics", pipeline_http_port(x->mh));
  }
  return 0;
}

static void analyze_free(analyze_ctx *x) {
  pipeline_http_stop(x->mh);
  pipeline_free(x->pl);
  pipeline_scene_close(x->scene);
  notify_stop(x->nt); /* what is left stays in the outbox for the next dispatcher */
  store_close(x->st);
  risk_analyzer_free(x->risk);
  enrich_engine_free(x->eng);
  enrich_client_free(x->ecl);
  cameras_free(&x->reg);
  detector_free(x->det);
  yolo_world_free(x->world);
  report_free(x->oc.rep);
  vigil_config_set_global(NULL);
}

/* ---- run: the sources, then --watch --------------------------------------------------- */

/* Frames the progress bar expects: one per image, duration x fps per video. */
static long frames_expected(const analyze_args *a, char *err, size_t errlen) {
  long total = 0;
  for (int i = 0; i < a->nsrc; i++) {
    if (!a->src[i].video) total++;
    else if (!a->src[i].stream) {
      video_reader *v;
      if (video_open(&v, a->src[i].path, video_default_params(), err, errlen) == 0) {
        double fps = a->fps > 0 ? a->fps : video_source_fps(v) > 0 ? video_source_fps(v) : 25;
        total += (long)ceil(video_duration_s(v) * fps);
        video_close(v);
      }
    }
  }
  return total;
}

/* Cameras that are one video or stream each run concurrently: a decode
 * thread per camera, --workers pipeline threads shared by all of them.
 * Cameras made of several files (a folder of clips and stills) keep their
 * order in the sequential pass (run_sequential). Returns the failures, or
 * -1 when a camera cannot be registered. */
static int run_concurrent(analyze_ctx *x, analyze_args *a, progress *pg, char *err, size_t errlen) {
  source *src = a->src;
  int nsrc = a->nsrc, failures = 0;
  camrun_source *cr = calloc((size_t)nsrc + 1, sizeof *cr);
  int ncr = 0;
  for (int i = 0; cr && i < nsrc; i++) {
    bool alone = (i == 0 || strcmp(src[i - 1].camera, src[i].camera)) &&
                 (i == nsrc - 1 || strcmp(src[i + 1].camera, src[i].camera));
    if (!src[i].video || !alone) continue;
    int c = register_camera(x->pl, &x->reg, &src[i], err, errlen);
    if (c < 0) {
      fprintf(stderr, "vigil analyze: camera %s: %s\n", src[i].camera, err);
      free(cr);
      return -1;
    }
    camrun_source *o = &cr[ncr++];
    snprintf(o->url, sizeof o->url, "%s", src[i].path);
    o->cam = c;
    snprintf(o->camera_id, sizeof o->camera_id, "%s", src[i].camera);
    o->live = src[i].stream;
    o->fps = src[i].stream && !a->fps_set ? 0 : a->fps;
    video_reader *v;
    o->base_ts = src[i].mtime;
    if (!src[i].stream && video_open(&v, src[i].path, video_default_params(), err, errlen) == 0) {
      o->base_ts = src[i].mtime - video_duration_s(v);
      video_close(v);
    }
    src[i].done = true;
  }
  if (ncr > 0) {
    camrun_params crp = camrun_default_params();
    if (a->workers > 0) crp.workers = a->workers;
    crp.duration_s = a->duration;
    crp.stop = &stop;
    crp.on_frame = on_frame_progress;
    crp.ud = pg;
    long nf = 0;
    failures += camrun_run(x->pl, cr, ncr, &crp, &nf);
    for (int i = 0; i < ncr; i++)
      if (pipeline_flush(x->pl, cr[i].cam, err, errlen)) vlog_error("analyze: %s", err);
  }
  free(cr);
  return failures;
}

/* One image file: 1 if it failed. */
static int run_image(analyze_ctx *x, const source *s, int cam, char *err, size_t errlen) {
  vigil_img_limits lim = vigil_img_default_limits();
  size_t len;
  uint8_t *buf = slurp(s->path, &len, lim.max_bytes ? lim.max_bytes : ((size_t)10 << 20));
  vigil_image img = {0};
  int failed = 0;
  if (!buf || vigil_img_decode(&img, buf, len, &lim, err, errlen)) {
    vlog_warn("analyze: %s: %s", s->path, buf ? err : "cannot read (missing or over 10 MB)");
    failed = 1;
  } else if (pipeline_frame(x->pl, cam, &img, s->mtime, err, errlen)) {
    vlog_error("analyze: %s: %s", s->path, err);
    failed = 1;
  }
  free(buf);
  vigil_image_free(&img);
  return failed;
}

/* A video file or a stream; streams reconnect with backoff. Returns the
 * failures. */
static int run_video(analyze_ctx *x, const analyze_args *a, const source *s, int cam, progress *pg, char *err,
                     size_t errlen) {
  int failures = 0;
  double duration = a->duration;
  video_params vp = video_default_params();
  vp.fps = s->stream && !a->fps_set ? 0 : a->fps; /* streams: every frame unless --fps says otherwise */
  double backoff = 1, t_start = (double)time(NULL);
  for (;;) {
    video_reader *v;
    if (video_open(&v, s->path, vp, err, errlen)) {
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
    double base = s->stream ? vigil_wall_s() : s->mtime - video_duration_s(v);
    vigil_image img = {0};
    double pts;
    int r = 0;
    while (!stop && (r = video_next(v, &img, &pts, err, errlen)) == 1) {
      double t = s->stream ? vigil_wall_s() : base + pts;
      if (pipeline_frame(x->pl, cam, &img, t, err, errlen)) {
        vlog_error("analyze: %s: %s", s->path, err);
        failures++;
        break;
      }
      pg->done++;
      progress_draw(pg, s->path);
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
  return failures;
}

/* The sources not run concurrently, camera by camera in time order. Returns
 * the failures, or -1 when a camera cannot be registered. */
static int run_sequential(analyze_ctx *x, analyze_args *a, progress *pg, char *err, size_t errlen) {
  int failures = 0, cam = -1;
  char last_cam[48] = "";
  for (int i = 0; i < a->nsrc && !stop; i++) {
    source *s = &a->src[i];
    if (s->done) continue;
    if (strcmp(last_cam, s->camera)) {
      if (cam >= 0 && pipeline_flush(x->pl, cam, err, errlen)) vlog_error("analyze: %s", err);
      cam = register_camera(x->pl, &x->reg, s, err, errlen);
      if (cam < 0) {
        fprintf(stderr, "vigil analyze: camera %s: %s\n", s->camera, err);
        return -1;
      }
      snprintf(last_cam, sizeof last_cam, "%s", s->camera);
    }
    if (s->video) {
      failures += run_video(x, a, s, cam, pg, err, errlen);
    } else {
      failures += run_image(x, s, cam, err, errlen);
      pg->done++;
      progress_draw(pg, s->path);
    }
  }
  return failures;
}

static void print_stats(const pipeline_stats *ps) {
  fprintf(stderr,
          "analyze: %ld frames (%ld detected, %ld gated by motion, %ld dropped), %ld detector calls, %ld detections, "
          "%ld objects tracked, %ld enrichments, %ld events (%ld new, %ld stored earlier); time: motion %.1fs, "
          "detect %.1fs, track %.1fs, enrich %.1fs, risk %.1fs, store %.1fs\n",
          ps->frames, ps->detected_frames, ps->frames_gated, ps->dropped, ps->detector_calls, ps->detections,
          ps->tracks_confirmed, ps->enriched, ps->batches, ps->events, ps->duplicates, ps->motion_ms / 1e3,
          ps->detect_ms / 1e3, ps->track_ms / 1e3, ps->enrich_ms / 1e3, ps->risk_ms / 1e3, ps->store_ms / 1e3);
}

/* The whole run over built objects: an exit status. */
static int analyze_run(analyze_ctx *x, analyze_args *a, char *err, size_t errlen) {
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  progress pg = {.on = !a->quiet && isatty(2)};
  pg.t0 = vigil_mono_s();
  pg.total = frames_expected(a, err, errlen);
  int failures = run_concurrent(x, a, &pg, err, errlen);
  if (failures < 0) return VIGIL_EXIT_FAIL;
  int seq = run_sequential(x, a, &pg, err, errlen);
  if (seq < 0) return VIGIL_EXIT_FAIL;
  failures += seq;
  if (pipeline_flush(x->pl, -1, err, errlen)) vlog_error("analyze: %s", err);
  if (a->watch_root && !stop) {
    watch_run_params wp = watch_run_default_params();
    wp.fps = a->fps;
    wp.cameras = &x->reg;
    wp.stop = &stop;
    wp.store = x->st; /* exactly once across restarts: the ledger and the open batches live in the store */
    long nw = 0;
    if (watch_run(x->pl, a->watch_root, &wp, &nw, err, errlen)) {
      fprintf(stderr, "vigil analyze: --watch %s: %s\n", a->watch_root, err);
      failures++;
    }
    fprintf(stderr, "analyze: watched %s, %ld files processed\n", a->watch_root, nw);
  }
  if (pg.on) fprintf(stderr, "\n");
  const pipeline_stats *ps = pipeline_get_stats(x->pl);
  print_stats(ps);
  if (x->oc.rep) {
    if (report_write(x->oc.rep, a->report_path, err, errlen)) fprintf(stderr, "vigil analyze: %s\n", err);
    else fprintf(stderr, "analyze: report written to %s\n", a->report_path);
  }
  int status = failures && (!ps->frames || a->watch_root) ? VIGIL_EXIT_FAIL : VIGIL_EXIT_OK;
  notify_drain(x->nt, 10); /* a short run: give the alerts of its events a moment to go out */
  return status;
}

int cmd_analyze(int argc, char **argv) {
  analyze_args a = {.src = calloc(MAX_SOURCES, sizeof(source)), .fps = 1, .pp = pipeline_default_params(),
                    .metrics_port = -1};
  if (!a.src) {
    fprintf(stderr, "vigil analyze: out of memory\n");
    return VIGIL_EXIT_FAIL;
  }
  int status = analyze_parse(&a, argc, argv);
  if (status) {
    free(a.src);
    return status == APP_OPTS_HELP ? VIGIL_EXIT_OK : status;
  }
  char err[1024];
  analyze_ctx x;
  memset(&x, 0, sizeof x);
  status = analyze_build(&x, &a, err, sizeof err);
  if (!status) status = analyze_run(&x, &a, err, sizeof err);
  analyze_free(&x);
  free(a.src);
  return status;
}
