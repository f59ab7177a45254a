/* Benchmark of the whole pipeline in process on vtest.avi: decode (FFmpeg,
 * sampled), detect, enrich (in-process engine, real default models), batch,
 * risk (rule scorer: no LLM here), store (SQLite in a temporary file).
 * Frames per second at 1 and 2 vrt threads of the detector session, the
 * ratio between them, the median time per frame, and the per-stage share of
 * the total (decode, detect, enrich, risk, store, other) from
 * pipeline_get_stats. A short warm-up pass loads the models first, so
 * neither measured run pays for loading.
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
} run_result;

static int run(run_result *out, const char *video, int threads, double seconds, double fps, enrich_engine *eng,
               risk_analyzer *risk, const char *dbpath) {
  char err[512];
  memset(out, 0, sizeof *out);
  out->threads = threads;
  detector_params dp;
  char mp[1024];
  detector_t *det;
  if (detector_params_from_config(&dp, mp, sizeof mp, NULL, err, sizeof err)) goto fail;
  dp.threads = threads;
  if (detector_load(&det, dp, err, sizeof err)) goto fail;
  unlink(dbpath);
  char url[600];
  snprintf(url, sizeof url, "sqlite://%s", dbpath);
  store *st;
  if (store_open(&st, url, err, sizeof err)) goto fail;
  pipeline_params pp = pipeline_default_params();
  pp.batch.window_s = 20;
  pp.max_enrich_per_frame = 2;
  pipeline *pl;
  if (pipeline_init(&pl, pp, det, eng, risk, st, err, sizeof err)) goto fail;
  camera c = {0};
  snprintf(c.id, sizeof c.id, "vtest");
  snprintf(c.name, sizeof c.name, "vtest");
  int cam = pipeline_add_camera(pl, &c, err, sizeof err);
  video_params vp = video_default_params();
  vp.fps = fps;
  video_reader *v;
  if (cam < 0 || video_open(&v, video, vp, err, sizeof err)) goto fail;
  int cap = (int)(seconds * fps) + 2;
  double *per = calloc((size_t)cap, sizeof *per);
  vigil_image img = {0};
  double pts, t_start = now_ms();
  for (;;) {
    double t0 = now_ms();
    int r = video_next(v, &img, &pts, err, sizeof err);
    double t1 = now_ms();
    if (r != 1 || pts > seconds || out->frames >= cap) break;
    out->decode_ms += t1 - t0;
    if (pipeline_frame(pl, cam, &img, 1732690000 + pts, err, sizeof err)) goto fail;
    per[out->frames++] = now_ms() - t0;
  }
  if (pipeline_flush(pl, -1, err, sizeof err)) goto fail;
  out->wall_ms = now_ms() - t_start;
  out->st = *pipeline_get_stats(pl);
  qsort(per, (size_t)out->frames, sizeof *per, cmp_d);
  out->median_frame_ms = out->frames ? per[out->frames / 2] : 0;
  free(per);
  vigil_image_free(&img);
  video_close(v);
  pipeline_free(pl);
  store_close(st);
  detector_free(det);
  return 0;
fail:
  fprintf(stderr, "bench_pipeline: %s\n", err);
  return -1;
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
  char dbpath[] = "/tmp/vigil-bench-pipeline-XXXXXX";
  int fd = mkstemp(dbpath);
  if (fd < 0) return 1;
  close(fd);
  run_result warm, r[64];
  if (run(&warm, video, 1, 3, fps, eng, risk, dbpath)) return 1; /* loads the enrichment models */
  printf("bench_pipeline: vtest.avi, first %.0f s at %.1f fps, in-process enrichment (max 2 per frame), rule scorer, "
         "SQLite; %ld cores\n",
         seconds, fps, sysconf(_SC_NPROCESSORS_ONLN));
  int n = 0;
  for (int t = 1; t <= max_threads; t *= 2) {
    if (run(&r[n], video, t, seconds, fps, eng, risk, dbpath)) return 1;
    print(&r[n++]);
  }
  for (int i = 1; i < n; i++)
    printf("  frames/s at %d threads / at 1 thread: %.2fx\n", r[i].threads,
           (r[i].frames / r[i].wall_ms) / (r[0].frames / r[0].wall_ms));
  char wal[600];
  unlink(dbpath);
  snprintf(wal, sizeof wal, "%s-wal", dbpath);
  unlink(wal);
  snprintf(wal, sizeof wal, "%s-shm", dbpath);
  unlink(wal);
  risk_analyzer_free(risk);
  enrich_engine_free(eng);
  return 0;
}
