/* bench_brisque: BRISQUE per frame, vigil (C, src/img/brisque.c + the LIVE SVR) against
 * the reference, OpenCV's cv2.quality.QualityBRISQUE_compute (Debian python3-opencv),
 * measured in the same run on the same decoded frames: the golden set's photos
 * ($VIGIL_HOME/golden/brisque) and the surveillance video's frame size.
 * Prints per image the median ms of each over N runs and the ratio of the medians.
 *
 * usage: bench_brisque [--runs N]   (default 15) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "util/assets.h"
#include "vigil/quality.h"

static void *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  void *b = malloc(n > 0 ? (size_t)n : 1);
  *len = fread(b, 1, (size_t)(n > 0 ? n : 0), f);
  fclose(f);
  return b;
}

/* the reference's median ms on one file, timed inside one python process */
static double ref_ms(const char *png, const char *mp, const char *rp, int runs) {
  char cmd[8192];
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 -c \"import cv2,time,statistics as s;im=cv2.imread('%s');"
           "q=cv2.quality.QualityBRISQUE_create('%s','%s');q.compute(im);t=[]\n"
           "for _ in range(%d):\n a=time.perf_counter();q.compute(im);t.append((time.perf_counter()-a)*1e3)\n"
           "print(s.median(t))\" 2>/dev/null",
           png, mp, rp, runs);
  FILE *p = popen(cmd, "r");
  double ms = -1;
  if (p) {
    if (fscanf(p, "%lf", &ms) != 1) ms = -1;
    pclose(p);
  }
  return ms;
}

int main(int argc, char **argv) {
  int runs = 15;
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
  char mp[1024], rp[1024], dir[1024], err[256];
  if (vigil_asset_require(mp, sizeof mp, "models/brisque/brisque_model_live.yml") ||
      vigil_asset_require(rp, sizeof rp, "models/brisque/brisque_range_live.yml") ||
      vigil_asset_require(dir, sizeof dir, "golden/brisque")) {
    fprintf(stderr, "bench_brisque: %s\n", vigil_asset_errmsg());
    return 3;
  }
  vigil_brisque *m;
  if (vigil_brisque_load(&m, mp, rp, err, sizeof err)) {
    fprintf(stderr, "bench_brisque: %s\n", err);
    return 1;
  }
  const char *names[] = {"dog.png", "chelsea.png", "grace_hopper.png", "scenetext01.png", "horses.png"};
  printf("bench_brisque: median ms per frame over %d runs, 1 thread each\n", runs);
  printf("%-18s %9s %10s %9s %8s\n", "image", "size", "vigil ms", "cv2 ms", "ratio");
  double *t = malloc(sizeof *t * (size_t)runs), ratios[8];
  int nr = 0;
  for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, names[k]);
    size_t len;
    void *buf = slurp(path, &len);
    vigil_image im = {0};
    vigil_img_limits lim = vigil_img_default_limits();
    if (!buf || vigil_img_decode(&im, buf, len, &lim, err, sizeof err)) {
      fprintf(stderr, "bench_brisque: %s: cannot decode\n", path);
      free(buf);
      continue;
    }
    free(buf);
    double s;
    vigil_brisque_score(&s, m, &im, err, sizeof err); /* warm-up */
    for (int r = 0; r < runs; r++) {
      double a = now_s();
      vigil_brisque_score(&s, m, &im, err, sizeof err);
      t[r] = (now_s() - a) * 1e3;
    }
    double mine = pct(t, runs, 50), theirs = ref_ms(path, mp, rp, runs);
    char size[32];
    snprintf(size, sizeof size, "%dx%d", im.w, im.h);
    if (theirs > 0) {
      ratios[nr++] = mine / theirs;
      printf("%-18s %9s %10.2f %9.2f %8.2f\n", names[k], size, mine, theirs, mine / theirs);
    } else {
      printf("%-18s %9s %10.2f %9s %8s\n", names[k], size, mine, "n/a", "n/a");
    }
    vigil_image_free(&im);
  }
  if (nr) printf("median ratio vigil/cv2: %.2f (below 1: vigil is faster)\n", pct(ratios, nr, 50));
  free(t);
  vigil_brisque_free(m);
  return 0;
}
