/* X-CLIP action on a generated graph with the real export's inputs and
 * outputs (pixel_values [B,8,3,224,224], input_ids, attention_mask ->
 * logits_per_video): 8 frames sampled evenly, CLIP preprocessing, the
 * security action prompts, and bad frame sets. */
#include "test_hub_common.h"

static xclip_model *xc;

static int setup(void **s) {
  (void)s;
  if (hub_generate("xclip")) return -1;
  char err[512];
  if (xclip_load(&xc, hub_path("xclip"), err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  return 0;
}

static int teardown(void **s) {
  (void)s;
  xclip_free(xc);
  hub_capture_free();
  hub_cleanup();
  return 0;
}

/* n frames; frame i gets colour col[i % ncol] */
static int run(action_result *r, int n, const uint8_t (*col)[3], int ncol, char *err, size_t errlen) {
  vigil_image *f = calloc((size_t)n, sizeof *f);
  const vigil_image **fp = calloc((size_t)n, sizeof *fp);
  for (int i = 0; i < n; i++) {
    hub_frame(&f[i], 320, 240, 90, 90, 90);
    hub_fill(&f[i], 100, 20, 220, 220, col[i % ncol][0], col[i % ncol][1], col[i % ncol][2]);
    fp[i] = &f[i];
  }
  int rc = xclip_action(xc, r, fp, n, 100, 20, 220, 220, err, errlen);
  for (int i = 0; i < n; i++) vigil_image_free(&f[i]);
  free(f);
  free(fp);
  return rc;
}

static const uint8_t red[1][3] = {{255, 0, 0}}, blue[1][3] = {{0, 0, 255}};

static void actions_and_scores(void **s) {
  (void)s;
  action_result r;
  char err[256];
  assert_int_equal(run(&r, 8, red, 1, err, sizeof err), 0);
  assert_string_equal(r.action, "running");
  assert_true(r.confidence > 0.5f);
  assert_int_equal(r.n, 16);
  float sum = 0;
  for (int i = 0; i < r.n; i++) sum += r.scores[i];
  assert_float_equal(sum, 1.0, 1e-4);
  static const char *const wanted[] = {"running", "walking", "fighting", "falling", "loitering", "climbing"};
  for (size_t k = 0; k < sizeof wanted / sizeof *wanted; k++) {
    bool found = false;
    for (int i = 0; i < r.n; i++) found |= !strcmp(r.names[i], wanted[k]);
    if (!found) fail_msg("no action \"%s\"", wanted[k]);
  }
  assert_int_equal(run(&r, 8, blue, 1, err, sizeof err), 0);
  assert_string_equal(r.action, "fighting");
}

/* 16 frames alternating red and green: an even spread (0, 2, ..., 14) sees
 * only red; the first 8 would be half green. Fewer than 8 frames repeat. */
static void frames_sampled_evenly(void **s) {
  (void)s;
  static const uint8_t alt[2][3] = {{255, 0, 0}, {0, 255, 0}};
  action_result r;
  char err[256];
  hub_capture_start();
  assert_int_equal(run(&r, 16, alt, 2, err, sizeof err), 0);
  hub_capture_stop();
  assert_string_equal(r.action, "running");
  const vrt_tensor *p = NULL;
  for (int i = 0; i < hub_cap.nin; i++)
    if (!strcmp(hub_cap.t[i].name, "pixel_values")) p = &hub_cap.t[i];
  assert_non_null(p);
  assert_int_equal(p->ndim, 5);
  assert_int_equal(p->dims[1], 8);
  assert_int_equal(p->dims[2], 3);
  assert_int_equal(p->dims[3], 224);
  assert_int_equal(p->dims[4], 224);
  /* every sampled frame is red, CLIP-normalised: (1 - 0.4815) / 0.2686 */
  size_t per = 3 * 224 * 224;
  for (int t = 0; t < 8; t++) {
    const float *fr = (const float *)p->data + per * (size_t)t;
    assert_float_equal(fr[112 * 224 + 112], hub_norm(255, hub_clip_mean[0], hub_clip_std[0]), 1e-3);
    assert_float_equal(fr[224 * 224 + 112 * 224 + 112], hub_norm(0, hub_clip_mean[1], hub_clip_std[1]), 1e-3);
  }
  /* prompts: [16, L] ids with a mask */
  for (int i = 0; i < hub_cap.nin; i++)
    if (!strcmp(hub_cap.t[i].name, "input_ids") || !strcmp(hub_cap.t[i].name, "attention_mask")) {
      assert_int_equal(hub_cap.t[i].dtype, VRT_I64);
      assert_int_equal(hub_cap.t[i].dims[0], 16);
    }
  assert_int_equal(run(&r, 3, red, 1, err, sizeof err), 0);
  assert_string_equal(r.action, "running");
}

static void bad_frame_sets(void **s) {
  (void)s;
  action_result r;
  char err[256] = "";
  assert_int_not_equal(run(&r, 1, red, 1, err, sizeof err), 0);
  assert_non_null(strstr(err, "at least 2"));
  assert_int_not_equal(run(&r, 33, red, 1, err, sizeof err), 0);
  assert_non_null(strstr(err, "at most 32"));
  vigil_image a, b;
  hub_frame(&a, 320, 240, 0, 0, 0);
  hub_frame(&b, 160, 120, 0, 0, 0);
  const vigil_image *fp[2] = {&a, &b};
  assert_int_not_equal(xclip_action(xc, &r, fp, 2, 10, 10, 100, 100, err, sizeof err), 0);
  assert_non_null(strstr(err, "size"));
  fp[1] = &a;
  assert_int_not_equal(xclip_action(xc, &r, fp, 2, 400, 400, 500, 500, err, sizeof err), 0);
  vigil_image_free(&a);
  vigil_image_free(&b);
  xclip_model *m = NULL;
  assert_int_not_equal(xclip_load(&m, "/nonexistent", err, sizeof err), 0);
  assert_null(m);
  xclip_free(NULL);
}

/* A real photo as a (still) clip: the adapter runs end to end on real pixels. */
static void action_on_real_frames(void **s) {
  (void)s;
  vigil_image f = {0};
  hub_media(&f, "media/messi5.jpg");
  const vigil_image *fp[8];
  for (int i = 0; i < 8; i++) fp[i] = &f;
  action_result r;
  char err[256];
  assert_int_equal(xclip_action(xc, &r, fp, 8, 250, 60, 420, 340, err, sizeof err), 0);
  assert_true(r.action[0] != 0);
  assert_true(r.confidence > 0 && r.confidence <= 1);
  assert_true(xclip_memory_bytes(xc) > 0);
  vigil_image_free(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(actions_and_scores),
      cmocka_unit_test(frames_sampled_evenly),
      cmocka_unit_test(bad_frame_sets),
      cmocka_unit_test(action_on_real_frames),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
