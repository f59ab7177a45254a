/* The model-free pieces of the OCR pipeline: DB post-processing on
 * hand-made probability maps, the minimum-area rectangle, unclip, reading
 * order, the dictionary and CTC greedy decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/ocr.h"

static float side(ocr_point a, ocr_point b) { return hypotf(a.x - b.x, a.y - b.y); }

static void fill(float *m, int w, int x0, int y0, int x1, int y1, float v) {
  for (int y = y0; y <= y1; y++)
    for (int x = x0; x <= x1; x++) m[y * w + x] = v;
}

static void test_min_area_rect_axis(void **s) {
  (void)s;
  ocr_point pts[] = {{10, 20}, {50, 20}, {50, 30}, {10, 30}, {30, 25}, {20, 22}};
  ocr_point q[4];
  float sh = ocr_min_area_rect(q, pts, 6);
  assert_float_equal(sh, 10, 1e-4);
  /* top-left, top-right, bottom-right, bottom-left */
  assert_float_equal(q[0].x, 10, 1e-3);
  assert_float_equal(q[0].y, 20, 1e-3);
  assert_float_equal(q[1].x, 50, 1e-3);
  assert_float_equal(q[1].y, 20, 1e-3);
  assert_float_equal(q[2].x, 50, 1e-3);
  assert_float_equal(q[2].y, 30, 1e-3);
  assert_float_equal(q[3].x, 10, 1e-3);
  assert_float_equal(q[3].y, 30, 1e-3);
}

/* A rectangle turned 30 degrees: the minimum-area box finds its sides. */
static void test_min_area_rect_rotated(void **s) {
  (void)s;
  const float a = 30 * (float)M_PI / 180, W = 60, H = 12, cx = 100, cy = 80;
  ocr_point pts[64];
  int n = 0;
  for (int i = 0; i <= 6; i++)
    for (int j = 0; j <= 6; j += 6) {
      float u = -W / 2 + W * i / 6, v = -H / 2 + H * j / 6;
      pts[n++] = (ocr_point){cx + u * cosf(a) - v * sinf(a), cy + u * sinf(a) + v * cosf(a)};
    }
  ocr_point q[4];
  float sh = ocr_min_area_rect(q, pts, n);
  assert_float_equal(sh, H, 1e-2);
  float w = side(q[0], q[1]), h = side(q[0], q[3]);
  assert_float_equal(fmaxf(w, h), W, 1e-2);
  assert_float_equal(fminf(w, h), H, 1e-2);
}

static void test_min_area_rect_degenerate(void **s) {
  (void)s;
  ocr_point one = {3, 4}, q[4];
  assert_float_equal(ocr_min_area_rect(q, &one, 1), 0, 0);
  ocr_point line[] = {{0, 0}, {5, 0}, {10, 0}};
  assert_float_equal(ocr_min_area_rect(q, line, 3), 0, 1e-6);
}

/* Unclip grows each side by area * ratio / perimeter: 40x10 at 1.5 -> d = 400 * 1.5 / 100 = 6. */
static void test_unclip(void **s) {
  (void)s;
  ocr_point q[4] = {{10, 10}, {50, 10}, {50, 20}, {10, 20}};
  ocr_unclip(q, 1.5f);
  assert_float_equal(q[0].x, 4, 1e-4);
  assert_float_equal(q[0].y, 4, 1e-4);
  assert_float_equal(q[2].x, 56, 1e-4);
  assert_float_equal(q[2].y, 26, 1e-4);
  assert_float_equal(side(q[0], q[1]), 52, 1e-3);
  assert_float_equal(side(q[0], q[3]), 22, 1e-3);
  /* ratio 0: unchanged */
  ocr_point r[4] = {{0, 0}, {8, 0}, {8, 4}, {0, 4}};
  ocr_unclip(r, 0);
  assert_float_equal(r[2].x, 8, 1e-6);
}

static void test_box_score(void **s) {
  (void)s;
  float m[20 * 10] = {0};
  fill(m, 20, 5, 2, 14, 6, 1.0f);
  ocr_point q[4] = {{5, 2}, {14, 2}, {14, 6}, {5, 6}};
  assert_float_equal(ocr_box_score(m, 20, 10, q), 1.0, 1e-6);
  ocr_point wide[4] = {{0, 2}, {19, 2}, {19, 6}, {0, 6}};
  assert_float_equal(ocr_box_score(m, 20, 10, wide), 0.5, 1e-6); /* half of it lit */
}

/* Two text blobs, one faint (below box_thresh), one too thin, one tiny. */
static void test_db_boxes(void **s) {
  (void)s;
  const int W = 200, H = 100;
  float *m = calloc(W * H, sizeof *m);
  fill(m, W, 20, 10, 99, 29, 0.9f);   /* a line: 80 x 20 */
  fill(m, W, 120, 60, 179, 79, 0.4f); /* above thresh, below box_thresh */
  fill(m, W, 20, 60, 79, 61, 0.9f);   /* 2 px high: shorter than min_size */
  m[90 * W + 190] = 0.95f;            /* one pixel */
  ocr_params p = ocr_default_params();
  ocr_box b[8];
  int ncand = 0;
  int n = ocr_db_boxes(b, 8, m, W, H, &p, &ncand);
  assert_int_equal(ncand, 4);
  assert_int_equal(n, 1);
  assert_float_equal(b[0].score, 0.9, 1e-5);
  /* 79 x 19 between pixel centres, grown by 79*19*1.5/(2*98) = 11.49 per side */
  float d = 79.0f * 19 * 1.5f / (2 * (79 + 19));
  assert_float_equal(b[0].quad[0].x, 20 - d, 1e-3);
  assert_float_equal(b[0].quad[0].y, 10 - d, 1e-3);
  assert_float_equal(b[0].quad[2].x, 99 + d, 1e-3);
  assert_float_equal(b[0].quad[2].y, 29 + d, 1e-3);
  free(m);
}

/* Thousands of candidate blobs: only max_candidates are examined, and the
 * output never exceeds the caller's capacity. */
static void test_db_boxes_capped(void **s) {
  (void)s;
  const int W = 400, H = 400;
  float *m = calloc(W * H, sizeof *m);
  for (int y = 0; y + 6 < H; y += 8)
    for (int x = 0; x + 6 < W; x += 8) fill(m, W, x, y, x + 5, y + 5, 1.0f);
  ocr_params p = ocr_default_params();
  p.max_candidates = 100;
  ocr_box b[50];
  int ncand = 0;
  int n = ocr_db_boxes(b, 50, m, W, H, &p, &ncand);
  assert_int_equal(ncand, 50 * 50);
  assert_int_equal(n, 50);
  free(m);
}

static void test_sort_lines(void **s) {
  (void)s;
  ocr_line l[4];
  memset(l, 0, sizeof l);
  const float xy[4][2] = {{300, 105}, {10, 100}, {50, 40}, {20, 200}};
  for (int i = 0; i < 4; i++) {
    l[i].quad[0] = (ocr_point){xy[i][0], xy[i][1]};
    snprintf(l[i].text, sizeof l[i].text, "%d", i);
  }
  ocr_sort_lines(l, 4);
  /* 40 first; 100 and 105 are one row: left (10) before right (300); 200 last */
  assert_string_equal(l[0].text, "2");
  assert_string_equal(l[1].text, "1");
  assert_string_equal(l[2].text, "0");
  assert_string_equal(l[3].text, "3");
}

static void write_dict(char *path, size_t len) {
  snprintf(path, len, "/tmp/vigil_test_dict_%d.txt", (int)getpid());
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("A\nB\nC\n\xe4\xb8\xad\n", f); /* A B C 中 */
  fclose(f);
}

static void test_dict(void **s) {
  (void)s;
  char path[256], err[256];
  write_dict(path, sizeof path);
  ocr_dict d;
  assert_int_equal(ocr_dict_load(&d, path, err, sizeof err), 0);
  assert_int_equal(d.n, 6); /* blank, A, B, C, 中, space */
  assert_string_equal(d.sym[0], "");
  assert_string_equal(d.sym[1], "A");
  assert_string_equal(d.sym[4], "\xe4\xb8\xad");
  assert_string_equal(d.sym[5], " ");
  ocr_dict_free(&d);
  unlink(path);
  assert_int_equal(ocr_dict_load(&d, "/nonexistent/keys.txt", err, sizeof err), -1);
}

/* Steps: A A blank A B B space C -> "AAB C"; 7 = outside the dictionary. */
static void test_ctc(void **s) {
  (void)s;
  char path[256], err[256];
  write_dict(path, sizeof path);
  ocr_dict d;
  assert_int_equal(ocr_dict_load(&d, path, err, sizeof err), 0);
  enum { C = 8 };
  const int seq[] = {1, 1, 0, 1, 2, 2, 5, 3, 7, 7, 0};
  const int T = (int)(sizeof seq / sizeof seq[0]);
  float probs[11 * C];
  for (int t = 0; t < T; t++) {
    for (int c = 0; c < C; c++) probs[t * C + c] = 0.01f;
    probs[t * C + seq[t]] = t == 0 ? 0.6f : 0.9f;
  }
  char out[64];
  float conf;
  ocr_ctc_decode(out, sizeof out, &conf, probs, T, C, &d);
  assert_string_equal(out, "AAB C");
  /* kept steps: t0 (0.6), t3, t4, t6, t7 (0.9) */
  assert_float_equal(conf, (0.6f + 4 * 0.9f) / 5, 1e-5);
  /* all blank: empty, confidence 0 */
  for (int t = 0; t < T; t++) probs[t * C + seq[t]] = 0.01f, probs[t * C] = 0.99f;
  ocr_ctc_decode(out, sizeof out, &conf, probs, T, C, &d);
  assert_string_equal(out, "");
  assert_float_equal(conf, 0, 0);
  /* a multi-byte character that does not fit is left out whole */
  for (int t = 0; t < T; t++) probs[t * C] = 0.01f, probs[t * C + (t % 2 ? 0 : 4)] = 0.99f;
  char small[5];
  ocr_ctc_decode(small, sizeof small, &conf, probs, T, C, &d);
  assert_string_equal(small, "\xe4\xb8\xad");
  ocr_dict_free(&d);
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_min_area_rect_axis), cmocka_unit_test(test_min_area_rect_rotated),
      cmocka_unit_test(test_min_area_rect_degenerate), cmocka_unit_test(test_unclip),
      cmocka_unit_test(test_box_score), cmocka_unit_test(test_db_boxes),
      cmocka_unit_test(test_db_boxes_capped), cmocka_unit_test(test_sort_lines),
      cmocka_unit_test(test_dict), cmocka_unit_test(test_ctc),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
