/* YOLO-World open vocabulary on the generated stand-in (tools/testmodels/gen_yolo_world.py:
 * the real export's files, names and shapes; a 32x32 letterbox cell that is all red
 * scores ~1 for a class whose text holds "red"): the decode and its mapping back
 * through the letterbox, padded class slots, the text embedding cache, and the
 * checks of untrusted vocabularies. */
#include <pthread.h>

#include "test_hub_common.h"
#include "vigil/yolo_world.h"

static yolo_world *yw;

static int setup(void **s) {
  (void)s;
  const char *src = getenv("VIGIL_SOURCE_DIR");
  if (!src) return -1;
  snprintf(hub_tmp, sizeof hub_tmp, "%s/vigil-yw-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(hub_tmp)) return -1;
  char cmd[2048], err[512];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tools/testmodels/gen_yolo_world.py' '%s'", src, hub_tmp);
  if (system(cmd)) return -1;
  if (yolo_world_load(&yw, hub_path("yolo-world"), 1, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  return 0;
}

static int teardown(void **s) {
  (void)s;
  yolo_world_free(yw);
  hub_cleanup();
  return 0;
}

static void loads_with_export_slots(void **s) {
  (void)s;
  assert_int_equal(yolo_world_max_classes(yw), 8); /* the export's fixed N */
  assert_true(yolo_world_memory_bytes(yw) > 0);
  char err[256];
  yolo_world *bad = NULL;
  assert_int_equal(yolo_world_load(&bad, hub_tmp, 1, err, sizeof err), -1); /* no yolo_world.onnx there */
  assert_null(bad);
  assert_non_null(strstr(err, "yolo_world.onnx"));
}

/* 1280 x 640 grey, a red 64-px square at (640,320) and a blue one at (128,0): the
 * letterbox halves it and pads 160 rows on top, so each square is one 32-px cell. */
static void scene(vigil_image *im) {
  hub_frame(im, 1280, 640, 128, 128, 128);
  hub_fill(im, 640, 320, 704, 384, 255, 0, 0);
  hub_fill(im, 128, 0, 192, 64, 0, 0, 255);
}

static void detects_the_asked_classes(void **s) {
  (void)s;
  vigil_image im;
  scene(&im);
  vigil_det_list l;
  char err[256];
  const char *a[] = {"red", "green"};
  assert_int_equal(yolo_world_detect(yw, &l, &im, a, 2, 0.25f, err, sizeof err), 0);
  assert_int_equal(l.n, 1);
  assert_string_equal(l.dets[0].label, "red");
  assert_int_equal(l.dets[0].cls, 0);
  assert_true(l.dets[0].score > 0.99f);
  assert_float_equal(l.dets[0].x1, 640, 1.0);
  assert_float_equal(l.dets[0].y1, 320, 1.0);
  assert_float_equal(l.dets[0].x2, 704, 1.0);
  assert_float_equal(l.dets[0].y2, 384, 1.0);
  vigil_det_list_free(&l);
  /* both colours, in the order asked; a multi-word class with a colour word */
  const char *b[] = {"ladder", "a blue tarp", "red"};
  assert_int_equal(yolo_world_detect(yw, &l, &im, b, 3, 0.25f, err, sizeof err), 0);
  assert_int_equal(l.n, 2);
  bool blue = false, red = false;
  for (int i = 0; i < l.n; i++) {
    if (l.dets[i].cls == 1) {
      blue = true;
      assert_string_equal(l.dets[i].label, "a blue tarp");
      assert_float_equal(l.dets[i].x1, 128, 1.0);
      assert_float_equal(l.dets[i].y2, 64, 1.0);
    }
    if (l.dets[i].cls == 2) red = true;
  }
  assert_true(blue && red);
  vigil_det_list_free(&l);
  /* no colour word: nothing matches */
  const char *c[] = {"ladder"};
  assert_int_equal(yolo_world_detect(yw, &l, &im, c, 1, 0.25f, err, sizeof err), 0);
  assert_int_equal(l.n, 0);
  vigil_det_list_free(&l);
  vigil_image_free(&im);
}

static void caches_text_embeddings(void **s) {
  (void)s;
  vigil_image im;
  hub_frame(&im, 64, 64, 128, 128, 128);
  int e0, e1;
  long h0, m0, h1, m1;
  vigil_det_list l;
  char err[256];
  const char *a[] = {"cache test one", "cache test two"};
  yolo_world_cache_stats(yw, &e0, &h0, &m0);
  assert_int_equal(yolo_world_detect(yw, &l, &im, a, 2, 0.25f, err, sizeof err), 0);
  vigil_det_list_free(&l);
  yolo_world_cache_stats(yw, &e1, &h1, &m1);
  assert_int_equal(e1, e0 + 2);
  assert_int_equal(m1, m0 + 2);
  assert_int_equal(yolo_world_detect(yw, &l, &im, a, 2, 0.25f, err, sizeof err), 0);
  vigil_det_list_free(&l);
  yolo_world_cache_stats(yw, &e0, &h0, &m0);
  assert_int_equal(e0, e1);
  assert_int_equal(h0, h1 + 2);
  assert_int_equal(m0, m1);
  vigil_image_free(&im);
}

/* Threads sharing one model and its cache (ThreadSanitizer runs this): every call finds
 * the red square, and each distinct class string is cached once. */
typedef struct {
  const vigil_image *im;
  int found, failed;
} thread_arg;

static void *detect_thread(void *p) {
  thread_arg *a = p;
  const char *cls[] = {"red", "thread class a", "thread class b"};
  for (int k = 0; k < 3; k++) {
    vigil_det_list l;
    char err[256];
    if (yolo_world_detect(yw, &l, a->im, cls, 3, 0.25f, err, sizeof err)) {
      a->failed++;
      continue;
    }
    a->found += l.n == 1 && l.dets[0].cls == 0;
    vigil_det_list_free(&l);
  }
  return NULL;
}

static void shared_between_threads(void **s) {
  (void)s;
  vigil_image im;
  scene(&im);
  int e0, e1;
  long h0, m0, h1, m1;
  yolo_world_cache_stats(yw, &e0, &h0, &m0);
  pthread_t th[4];
  thread_arg args[4];
  for (int i = 0; i < 4; i++) {
    args[i] = (thread_arg){&im, 0, 0};
    assert_int_equal(pthread_create(&th[i], NULL, detect_thread, &args[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(args[i].failed, 0);
    assert_int_equal(args[i].found, 3);
  }
  yolo_world_cache_stats(yw, &e1, &h1, &m1);
  /* "red" may be cached already; the two thread classes are new, once each */
  assert_true(e1 - e0 == 2 || e1 - e0 == 3);
  assert_int_equal((h1 - h0) + (m1 - m0), 4 * 3 * 3);
  vigil_image_free(&im);
}

static void refuses_bad_vocabularies(void **s) {
  (void)s;
  char err[256];
  const char *ok[] = {"ladder"};
  assert_int_equal(yolo_world_check_classes(ok, 1, 8, err, sizeof err), 0);
  assert_int_equal(yolo_world_check_classes(ok, 0, 8, err, sizeof err), -1);
  const char *empty[] = {"ladder", ""};
  assert_int_equal(yolo_world_check_classes(empty, 2, 8, err, sizeof err), -1);
  assert_non_null(strstr(err, "class 1 is empty"));
  const char *blank[] = {" \t "};
  assert_int_equal(yolo_world_check_classes(blank, 1, 8, err, sizeof err), -1);
  char longc[YOLO_WORLD_MAX_CLASS_LEN + 2];
  memset(longc, 'a', sizeof longc - 1);
  longc[sizeof longc - 1] = 0;
  const char *lg[] = {longc};
  assert_int_equal(yolo_world_check_classes(lg, 1, 8, err, sizeof err), -1);
  /* more classes than the export's slots */
  const char *many[9] = {"a", "b", "c", "d", "e", "f", "g", "h", "i"};
  vigil_image im;
  hub_frame(&im, 64, 64, 0, 0, 0);
  vigil_det_list l;
  assert_int_equal(yolo_world_detect(yw, &l, &im, many, 9, 0.25f, err, sizeof err), -1);
  assert_non_null(strstr(err, "at most 8"));
  assert_int_equal(l.n, 0);
  vigil_image_free(&im);
}

/* The decoder alone: padded slots never count, boxes map back through the letterbox,
 * overlapping boxes of one class are suppressed, NaN never passes. */
static void decodes_and_suppresses(void **s) {
  (void)s;
  enum { A = 4, ROWS = 4 + 3 };
  float p[ROWS * A] = {0};
  /* anchor j: cx, cy, w, h */
  float box[A][4] = {{100, 100, 20, 20}, {102, 100, 20, 20}, {300, 300, 40, 40}, {500, 500, 10, 10}};
  for (int j = 0; j < A; j++)
    for (int r = 0; r < 4; r++) p[r * A + j] = box[j][r];
  p[4 * A + 0] = 0.9f;  /* class 0 */
  p[4 * A + 1] = 0.8f;  /* class 0, overlaps anchor 0: suppressed */
  p[5 * A + 2] = 0.7f;  /* class 1 */
  p[6 * A + 3] = 0.99f; /* the padded slot (n = 2): ignored */
  p[5 * A + 3] = NAN;
  const char *cls[] = {"crowbar", "ladder"};
  vigil_letterbox lb = {.scale = 0.5f, .pad_x = 0, .pad_y = 40};
  vigil_det_list l;
  assert_int_equal(yolo_world_decode(&l, p, ROWS, A, 2, cls, 0.25f, 0.45f, &lb, 2000, 2000), 0);
  assert_int_equal(l.n, 2);
  assert_string_equal(l.dets[0].label, "crowbar");
  assert_float_equal(l.dets[0].x1, 180, 1e-3);
  assert_float_equal(l.dets[0].y1, 100, 1e-3); /* (90 - 40) / 0.5 */
  assert_string_equal(l.dets[1].label, "ladder");
  assert_float_equal(l.dets[1].x2, 640, 1e-3);
  vigil_det_list_free(&l);
  assert_int_equal(yolo_world_decode(&l, p, ROWS, A, 4, cls, 0.25f, 0.45f, &lb, 2000, 2000), -1); /* rows < 4+n */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(loads_with_export_slots),   cmocka_unit_test(detects_the_asked_classes),
      cmocka_unit_test(caches_text_embeddings),    cmocka_unit_test(refuses_bad_vocabularies),
      cmocka_unit_test(decodes_and_suppresses),    cmocka_unit_test(shared_between_threads),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
