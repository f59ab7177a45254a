/* OSNet x0.25 embeddings on a generated model with the real export's input
 * and output (preprocessing 256x128 ImageNet, unit norm, same crop matches,
 * different people differ) and the re-id gallery: cosine threshold, one
 * person_id across cameras and time, SQLite persistence across a restart. */
#include <pthread.h>

#include "test_hub_common.h"

static model_runner osnet;

static int setup(void **s) {
  (void)s;
  if (hub_generate("osnet")) return -1;
  char err[512];
  if (runner_load(&osnet, hub_path("osnet_x0_25.onnx"), 1, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  return 0;
}

static int teardown(void **s) {
  (void)s;
  runner_free(&osnet);
  hub_capture_free();
  hub_cleanup();
  return 0;
}

static void osnet_preprocessing(void **s) {
  (void)s;
  vigil_image f;
  hub_frame(&f, 300, 400, 0, 0, 255);
  hub_fill(&f, 100, 100, 200, 300, 255, 128, 0);
  float e[REID_DIM];
  char err[256];
  hub_capture_start();
  assert_int_equal(osnet_embed(&osnet, e, &f, 100, 100, 200, 300, err, sizeof err), 0);
  hub_capture_stop();
  const vrt_tensor *t = &hub_cap.t[0];
  assert_string_equal(t->name, "images");
  assert_int_equal(t->dims[2], 256);
  assert_int_equal(t->dims[3], 128);
  const float *m = hub_imagenet_mean, *sd = hub_imagenet_std;
  assert_float_equal(hub_at(t, 0, 0, 0), hub_norm(255, m[0], sd[0]), 1e-3);
  assert_float_equal(hub_at(t, 1, 128, 64), hub_norm(128, m[1], sd[1]), 1e-3);
  assert_float_equal(hub_at(t, 2, 255, 127), hub_norm(0, m[2], sd[2]), 1e-3);
  vigil_image_free(&f);
}

static float cosine(const float *a, const float *b) { return hub_dot(a, b, REID_DIM); }

static void osnet_embeddings_on_real_people(void **s) {
  (void)s;
  vigil_image f = {0};
  hub_media(&f, "media/basketball1.png");
  float a[REID_DIM], a2[REID_DIM], b[REID_DIM], c[REID_DIM];
  char err[256];
  /* the two players of basketball1 (left and right halves) */
  int w = f.w, h = f.h;
  assert_int_equal(osnet_embed(&osnet, a, &f, 0.05f * w, 0.05f * h, 0.45f * w, 0.95f * h, err, sizeof err), 0);
  assert_int_equal(osnet_embed(&osnet, a2, &f, 0.05f * w, 0.05f * h, 0.45f * w, 0.95f * h, err, sizeof err), 0);
  assert_int_equal(osnet_embed(&osnet, b, &f, 0.55f * w, 0.05f * h, 0.95f * w, 0.95f * h, err, sizeof err), 0);
  vigil_image g = {0};
  hub_media(&g, "media/person.jpg");
  assert_int_equal(osnet_embed(&osnet, c, &g, 180, 90, 280, 380, err, sizeof err), 0);
  float n = sqrtf(hub_dot(a, a, REID_DIM));
  assert_float_equal(n, 1.0, 1e-5);
  assert_float_equal(sqrtf(hub_dot(c, c, REID_DIM)), 1.0, 1e-5);
  assert_float_equal(cosine(a, a2), 1.0, 1e-5);
  fprintf(stderr, "osnet test model: cos(left, right) %.3f, cos(left, person.jpg) %.3f\n", cosine(a, b), cosine(a, c));
  assert_true(cosine(a, b) < 0.95f);
  assert_true(cosine(a, c) < 0.95f);
  vigil_image_free(&f);
  vigil_image_free(&g);
}

/* Unit vectors: base i, and a variant of base i turned towards j by angle t. */
static void unit(float *v, int i) {
  memset(v, 0, sizeof(float) * REID_DIM);
  v[i] = 1;
}
static void turned(float *v, int i, int j, float cos_t) {
  memset(v, 0, sizeof(float) * REID_DIM);
  v[i] = cos_t;
  v[j] = sqrtf(1 - cos_t * cos_t);
}

static void gallery_reuses_ids_across_cameras(void **s) {
  (void)s;
  reid_gallery *g;
  char err[256];
  assert_int_equal(reid_gallery_open(&g, NULL, 0.7f, err, sizeof err), 0);
  float e[REID_DIM];
  reid_match m;
  unit(e, 0);
  assert_int_equal(reid_gallery_match(g, &m, e, "front_door", 100, err, sizeof err), 0);
  assert_true(m.is_new);
  char first[64];
  snprintf(first, sizeof first, "%s", m.person_id);
  /* the same person on another camera, a minute later, cos 0.8 */
  turned(e, 0, 1, 0.8f);
  for (int i = 0; i < REID_DIM; i++) e[i] *= 3; /* not normalised: the gallery normalises */
  assert_int_equal(reid_gallery_match(g, &m, e, "driveway", 160, err, sizeof err), 0);
  assert_false(m.is_new);
  assert_string_equal(m.person_id, first);
  assert_float_equal(m.similarity, 0.8, 1e-4);
  assert_int_equal(m.n_cameras, 2);
  assert_string_equal(m.cameras[0], "front_door");
  assert_string_equal(m.cameras[1], "driveway");
  assert_float_equal(m.first_seen, 100, 1e-9);
  assert_float_equal(m.last_seen, 160, 1e-9);
  /* below the threshold (cos 0.6 to the first sighting, less to the mean) */
  turned(e, 0, 2, 0.6f);
  assert_int_equal(reid_gallery_match(g, &m, e, "front_door", 170, err, sizeof err), 0);
  assert_true(m.is_new);
  assert_string_not_equal(m.person_id, first);
  /* someone else entirely */
  unit(e, 7);
  assert_int_equal(reid_gallery_match(g, &m, e, "backyard", 180, err, sizeof err), 0);
  assert_true(m.is_new);
  assert_float_equal(m.similarity, 1.0, 1e-6);
  /* the first person again, earlier timestamp (late frame): first_seen moves */
  unit(e, 0);
  assert_int_equal(reid_gallery_match(g, &m, e, "front_door", 90, err, sizeof err), 0);
  assert_string_equal(m.person_id, first);
  assert_float_equal(m.first_seen, 90, 1e-9);
  assert_float_equal(m.last_seen, 160, 1e-9);
  assert_int_equal(m.n_cameras, 2);
  reid_gallery_close(g);
}

static void gallery_rejects_bad_input(void **s) {
  (void)s;
  reid_gallery *g;
  char err[256] = "";
  assert_int_not_equal(reid_gallery_open(&g, NULL, 1.5f, err, sizeof err), 0);
  assert_int_not_equal(reid_gallery_open(&g, NULL, NAN, err, sizeof err), 0);
  assert_int_equal(reid_gallery_open(&g, NULL, 0.7f, err, sizeof err), 0);
  float e[REID_DIM] = {0};
  reid_match m;
  assert_int_not_equal(reid_gallery_match(g, &m, e, "cam", 1, err, sizeof err), 0);
  assert_non_null(strstr(err, "zero"));
  e[3] = NAN;
  assert_int_not_equal(reid_gallery_match(g, &m, e, "cam", 1, err, sizeof err), 0);
  unit(e, 3);
  assert_int_not_equal(reid_gallery_match(g, &m, e, "cam", INFINITY, err, sizeof err), 0);
  assert_int_equal(reid_gallery_match(g, &m, e, NULL, 1, err, sizeof err), 0);
  assert_string_equal(m.cameras[0], "default");
  reid_gallery_close(g);
  reid_gallery_close(NULL);
}

/* Close and reopen the SQLite file: the same person keeps their id, and new
 * ids are never handed out twice. */
static void gallery_survives_restart(void **s) {
  (void)s;
  char path[600], err[256];
  snprintf(path, sizeof path, "%s/reid.db", hub_tmp);
  reid_gallery *g;
  assert_int_equal(reid_gallery_open(&g, path, 0.7f, err, sizeof err), 0);
  float e[REID_DIM];
  reid_match m;
  char id0[64], id1[64];
  unit(e, 10);
  assert_int_equal(reid_gallery_match(g, &m, e, "cam1", 1000, err, sizeof err), 0);
  snprintf(id0, sizeof id0, "%s", m.person_id);
  unit(e, 20);
  assert_int_equal(reid_gallery_match(g, &m, e, "cam2", 1001, err, sizeof err), 0);
  snprintf(id1, sizeof id1, "%s", m.person_id);
  turned(e, 10, 11, 0.9f);
  assert_int_equal(reid_gallery_match(g, &m, e, "cam3", 1002, err, sizeof err), 0);
  assert_string_equal(m.person_id, id0);
  reid_gallery_close(g);

  assert_int_equal(reid_gallery_open(&g, path, 0.7f, err, sizeof err), 0);
  unit(e, 10);
  assert_int_equal(reid_gallery_match(g, &m, e, "cam1", 2000, err, sizeof err), 0);
  assert_false(m.is_new);
  assert_string_equal(m.person_id, id0);
  assert_int_equal(m.n_cameras, 2); /* cam1 and cam3 */
  assert_float_equal(m.first_seen, 1000, 1e-9);
  assert_float_equal(m.last_seen, 2000, 1e-9);
  unit(e, 20);
  assert_int_equal(reid_gallery_match(g, &m, e, "cam2", 2001, err, sizeof err), 0);
  assert_string_equal(m.person_id, id1);
  unit(e, 30);
  assert_int_equal(reid_gallery_match(g, &m, e, "cam2", 2002, err, sizeof err), 0);
  assert_true(m.is_new);
  assert_string_not_equal(m.person_id, id0);
  assert_string_not_equal(m.person_id, id1);
  reid_gallery_close(g);
  /* a path that cannot be opened is an error with a message */
  err[0] = 0;
  assert_int_not_equal(reid_gallery_open(&g, "/nonexistent-dir/x/reid.db", 0.7f, err, sizeof err), 0);
  assert_true(err[0] != 0);
}

/* Four threads match the same people at once: every sighting of person k
 * gets one id. */
static reid_gallery *shared;
static void *worker(void *arg) {
  long t = (long)arg;
  for (int i = 0; i < 50; i++) {
    float e[REID_DIM];
    reid_match m;
    char err[128];
    turned(e, i % 5, 100 + (int)t, 0.95f);
    if (reid_gallery_match(shared, &m, e, "cam", (double)i, err, sizeof err)) return (void *)1;
  }
  return NULL;
}

static void gallery_is_thread_safe(void **s) {
  (void)s;
  char err[256];
  assert_int_equal(reid_gallery_open(&shared, NULL, 0.8f, err, sizeof err), 0);
  pthread_t th[4];
  for (long i = 0; i < 4; i++) assert_int_equal(pthread_create(&th[i], NULL, worker, (void *)i), 0);
  for (int i = 0; i < 4; i++) {
    void *r;
    pthread_join(th[i], &r);
    assert_null(r);
  }
  /* five people: matching each base vector must give five distinct old ids */
  char ids[5][64];
  for (int k = 0; k < 5; k++) {
    float e[REID_DIM];
    reid_match m;
    unit(e, k);
    assert_int_equal(reid_gallery_match(shared, &m, e, "cam", 99, err, sizeof err), 0);
    assert_false(m.is_new);
    snprintf(ids[k], sizeof ids[k], "%s", m.person_id);
    for (int j = 0; j < k; j++) assert_string_not_equal(ids[j], ids[k]);
  }
  reid_gallery_close(shared);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(osnet_preprocessing),          cmocka_unit_test(osnet_embeddings_on_real_people),
      cmocka_unit_test(gallery_reuses_ids_across_cameras), cmocka_unit_test(gallery_rejects_bad_input),
      cmocka_unit_test(gallery_survives_restart),     cmocka_unit_test(gallery_is_thread_safe),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
