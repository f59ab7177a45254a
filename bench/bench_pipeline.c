/* Benchmark of the whole pipeline in process on vtest.avi: decode (FFmpeg,
 * sampled), detect, enrich (in-process engine, real default models), batch,
 * risk (rule scorer: no LLM here), store (SQLite in a temporary file).
 * Frames per second at 1 and 2 vrt threads of the detector session, the
 * ratio between them, the median time per frame, and the per-stage share of
 * the total (decode, detect, enrich, risk, store, other) from
 * pipeline_get_stats. The runs are interleaved frame by frame (same load on
 * a shared machine) after a short warm-up pass that loads the models, so
 * neither measured run pays for loading. Enrichment results are shared
 * through the one engine, but each run tracks and enriches its own camera.
 * usage: bench_pipeline [--seconds S] [--fps F] [--max-threads N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/assets.h"
#include "vigil/enrich.h"
#include "vigil/pipeline.h"
#include "vigil/risk.h"
#include "vigil/store.h"
#include "vigil/video.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

typedef struct {
  int threads;
  long frames;
  double wall_ms, decode_ms, median_frame_ms;
  pipeline_stats st;
  /* state while running */
  detector_t *det;
  store *st_db;
  pipeline *pl;
  int cam;
  double *per;
  char db[64];
} run_result;

static int run_open(run_result *r, int threads, int cap, enrich_engine *eng, risk_analyzer *risk, char *err,
                    size_t errlen) {
  memset(r, 0, sizeof *r);
  r->threads = threads;
  detector_params dp;
  char mp[1024];
  if (detector_params_from_config(&dp, mp, sizeof mp, NULL, err, errlen)) return -1;
  dp.threads = threads;
  if (detector_load(&r->det, dp, err, errlen)) return -1;
  snprintf(r->db, sizeof r->db, "/tmp/vigil-bench-pipeline-XXXXXX");
  int fd = mkstemp(r->db);
  if (fd < 0) return -1;
  close(fd);
  char url[128];
  snprintf(url, sizeof url, "sqlite://%s", r->db);
  if (store_open(&r->st_db, url, err, errlen)) return -1;
  pipeline_params pp = pipeline_default_params();
  pp.batch.window_s = 20;
  pp.max_enrich_per_frame = 2;
  if (pipeline_init(&r->pl, pp, r->det, eng, risk, r->st_db, err, errlen)) return -1;
  camera c = {0};
  snprintf(c.id, sizeof c.id, "vtest-%d", threads);
  snprintf(c.name, sizeof c.name, "vtest");
  r->cam = pipeline_add_camera(r->pl, &c, err, errlen);
  r->per = calloc((size_t)cap, sizeof *r->per);
  return r->cam < 0 || !r->per ? -1 : 0;
}

static void run_close(run_result *r) {
  r->st = *pipeline_get_stats(r->pl);
  qsort(r->per, (size_t)r->frames, sizeof *r->per, cmp_d);
  r->median_frame_ms = r->frames ? r->per[r->frames / 2] : 0;
  free(r->per);
  pipeline_free(r->pl);
  store_close(r->st_db);
  detector_free(r->det);
  char p[96];
  unlink(r->db);
  snprintf(p, sizeof p, "%s-wal", r->db);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", r->db);
  unlink(p);
}

/* Decodes the video once; every frame goes through each run's pipeline in
 * turn, so that all thread counts see the same machine load (a shared
 * machine's load changes by the second). Each run is charged the decode. */
static int run_all(run_result *r, int n, const char *video, double seconds, double fps, char *err, size_t errlen) {
  video_params vp = video_default_params();
  vp.fps = fps;
  video_reader *v;
  if (video_open(&v, video, vp, err, errlen)) return -1;
  vigil_image img = {0};
  double pts;
  int rc = 0, cap = (int)(seconds * fps) + 2;
  for (;;) {
    double t0 = now_ms();
    int k = video_next(v, &img, &pts, err, errlen);
    double dec = now_ms() - t0;
    if (k != 1 || pts > seconds || r[0].frames >= cap) break;
    for (int i = 0; i < n && !rc; i++) {
      double t1 = now_ms();
      rc = pipeline_frame(r[i].pl, r[i].cam, &img, 1732690000 + pts, err, errlen);
      double ms = now_ms() - t1;
      r[i].decode_ms += dec;
      r[i].wall_ms += dec + ms;
      r[i].per[r[i].frames++] = dec + ms;
    }
    if (rc) break;
  }
  for (int i = 0; i < n && !rc; i++) {
    double t1 = now_ms();
    rc = pipeline_flush(r[i].pl, -1, err, errlen);
    r[i].wall_ms += now_ms() - t1;
  }
  vigil_image_free(&img);
  video_close(v);
  return rc;
}

static void print(const run_result *r) {
  const pipeline_stats *s = &r->st;
  double total = r->wall_ms;
  double other = total - r->decode_ms - s->detect_ms - s->enrich_ms - s->risk_ms - s->store_ms;
  printf("  %d thread%s: %ld frames in %.1f s = %.3f frames/s, median %.0f ms/frame; %ld detections, %ld enrichments, "
         "%ld events\n",
         r->threads, r->threads == 1 ? " " : "s", r->frames, total / 1e3, r->frames / (total / 1e3), r->median_frame_ms,
         s->detections, s->enriched, s->events);
  printf("     share of the total: decode %.3f, detect %.3f, enrich %.3f, risk %.3f, store %.3f, other %.3f\n",
         r->decode_ms / total, s->detect_ms / total, s->enrich_ms / total, s->risk_ms / total, s->store_ms / total,
         other / total);
}

int main(int argc, char **argv) {
  double seconds = 20, fps = 1;
  int max_threads = 2;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
    else if (!strcmp(argv[i], "--fps") && i + 1 < argc) fps = atof(argv[++i]);
    else if (!strcmp(argv[i], "--max-threads") && i + 1 < argc) max_threads = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: bench_pipeline [--seconds S] [--fps F] [--max-threads N]\n");
      return 2;
    }
  }
  if (seconds <= 0 || fps <= 0 || max_threads < 1 || max_threads > 64) return 2;
  char video[1024], err[512];
  if (vigil_asset_require(video, sizeof video, "media/vtest.avi")) {
    fprintf(stderr, "bench_pipeline: %s\n", vigil_asset_errmsg());
    return 1;
  }
  setenv("NEMOTRON_API", "none", 1); /* the rule scorer: no LLM runs here */
  enrich_engine *eng;
  risk_params rp;
  risk_analyzer *risk;
  if (enrich_engine_init(&eng, NULL, err, sizeof err) || risk_params_from_config(&rp, NULL, err, sizeof err) ||
      risk_analyzer_init(&risk, &rp, err, sizeof err)) {
    fprintf(stderr, "bench_pipeline: %s\n", err);
    return 1;
  }
  run_result r[8];
  int n = 0;
  for (int t = 1; t <= max_threads && n < 8; t *= 2)
    if (run_open(&r[n++], t, (int)(seconds * fps) + 2, eng, risk, err, sizeof err)) {
      fprintf(stderr, "bench_pipeline: %s\n", err);
      return 1;
    }
  /* warm-up: load the enrichment models and touch every detector once, unmeasured */
  if (run_all(r, n, video, 2, fps, err, sizeof err)) {
    fprintf(stderr, "bench_pipeline: %s\n", err);
    return 1;
  }
  for (int i = 0; i < n; i++) {
    int t = r[i].threads;
    run_close(&r[i]);
    if (run_open(&r[i], t, (int)(seconds * fps) + 2, eng, risk, err, sizeof err)) return 1;
  }
  printf("bench_pipeline: vtest.avi, first %.0f s at %.1f fps, in-process enrichment (max 2 per frame), rule scorer, "
         "SQLite; %ld cores; runs interleaved frame by frame\n",
         seconds, fps, sysconf(_SC_NPROCESSORS_ONLN));
  if (run_all(r, n, video, seconds, fps, err, sizeof err)) {
    fprintf(stderr, "bench_pipeline: %s\n", err);
    return 1;
  }
  for (int i = 0; i < n; i++) {
    run_close(&r[i]);
    print(&r[i]);
  }
  for (int i = 1; i < n; i++)
    printf("  frames/s at %d threads / at 1 thread: %.2fx\n", r[i].threads,
           (r[i].frames / r[i].wall_ms) / (r[0].frames / r[0].wall_ms));
  risk_analyzer_free(risk);
  enrich_engine_free(eng);
  return 0;
}
