/* FashionSigLIP clothing on generated towers with the real exports' inputs and
 * outputs: the prompt list, text embeddings computed once at load, zero-shot
 * decoding to clothing_type/colour/style/flags, preprocessing (224, mean/std
 * 0.5), and the torso colour palette. */
#include "test_hub_common.h"

static siglip_model *sig;
static int text_runs;

static void count_hook(void *ud, const char *adapter, const vrt_tensor *in, int nin) {
  (void)ud, (void)in, (void)nin;
  if (!strcmp(adapter, "fashion-clip-text")) text_runs++;
}

static int setup(void **s) {
  (void)s;
  if (hub_generate("siglip")) return -1;
  char err[512];
  hub_set_input_hook(count_hook, NULL);
  int rc = siglip_load(&sig, hub_path("siglip"), err, sizeof err);
  hub_set_input_hook(NULL, NULL);
  if (rc) fprintf(stderr, "%s\n", err);
  return rc;
}

static int teardown(void **s) {
  (void)s;
  siglip_free(sig);
  hub_capture_free();
  hub_cleanup();
  return 0;
}

static bool has_prompt(const char *needle) {
  for (int i = 0; security_clothing_prompts[i]; i++)
    if (strstr(security_clothing_prompts[i], needle)) return true;
  return false;
}

static void prompt_list_is_complete(void **s) {
  (void)s;
  /* every prompt model-zoo.md names */
  static const char *const named[] = {"person wearing dark hoodie", "person wearing face mask",
                                      "person wearing ski mask or balaclava", "delivery uniform",
                                      "Amazon delivery vest", "FedEx uniform", "UPS uniform",
                                      "USPS postal worker uniform", "casual clothing", "business attire or suit"};
  for (size_t i = 0; i < sizeof named / sizeof *named; i++) {
    bool found = false;
    for (int j = 0; security_clothing_prompts[j]; j++) found |= !strcmp(security_clothing_prompts[j], named[i]);
    if (!found) fail_msg("missing model-zoo.md prompt \"%s\"", named[i]);
  }
  /* and the security ones it elides */
  static const char *const elided[] = {"hood up", "gloves", "high-visibility", "police", "scrubs", "security guard",
                                       "all black", "balaclava", "face covered"};
  for (size_t i = 0; i < sizeof elided / sizeof *elided; i++)
    if (!has_prompt(elided[i])) fail_msg("no prompt about \"%s\"", elided[i]);
  int n = 0;
  for (; security_clothing_prompts[n]; n++)
    for (int j = 0; j < n; j++) assert_string_not_equal(security_clothing_prompts[j], security_clothing_prompts[n]);
  assert_true(n >= 30);
}

/* One batched run of the text tower at load, none per classification. */
static void text_embeddings_computed_once(void **s) {
  (void)s;
  assert_int_equal(text_runs, 1);
  assert_true(siglip_memory_bytes(sig) > 0);
  vigil_image f;
  hub_frame(&f, 200, 400, 20, 20, 20);
  clothing_result r;
  char err[256];
  text_runs = 0;
  hub_set_input_hook(count_hook, NULL);
  for (int i = 0; i < 3; i++) assert_int_equal(clothing_classify(sig, &r, &f, 10, 10, 190, 390, err, sizeof err), 0);
  hub_set_input_hook(NULL, NULL);
  assert_int_equal(text_runs, 0);
  vigil_image_free(&f);
}

static void siglip_preprocessing(void **s) {
  (void)s;
  vigil_image f;
  hub_frame(&f, 300, 300, 0, 0, 0);
  hub_fill(&f, 50, 50, 150, 250, 255, 128, 0);
  clothing_result r;
  char err[256];
  hub_capture_start();
  assert_int_equal(clothing_classify(sig, &r, &f, 50, 50, 150, 250, err, sizeof err), 0);
  hub_capture_stop();
  const vrt_tensor *t = &hub_cap.t[0];
  assert_string_equal(hub_cap.adapter, "fashion-clip");
  assert_string_equal(t->name, "pixel_values");
  assert_int_equal(t->dims[2], 224);
  assert_int_equal(t->dims[3], 224);
  /* squashed to 224 x 224 (no crop): every pixel is the orange box */
  assert_float_equal(hub_at(t, 0, 0, 0), 1.0f, 1e-4);
  assert_float_equal(hub_at(t, 1, 223, 223), hub_norm(128, 0.5f, 0.5f), 1e-4);
  assert_float_equal(hub_at(t, 2, 100, 10), -1.0f, 1e-4);
  vigil_image_free(&f);
}

/* The generated towers put "dark" prompts on dark pixels and the
 * high-visibility vest on yellow ones. */
static void zero_shot_decoding(void **s) {
  (void)s;
  vigil_image f;
  clothing_result r;
  char err[256];
  hub_frame(&f, 200, 400, 10, 10, 10);
  assert_int_equal(clothing_classify(sig, &r, &f, 20, 20, 180, 380, err, sizeof err), 0);
  assert_string_equal(r.top_prompt, "person wearing dark hoodie");
  assert_string_equal(r.clothing_type, "hoodie");
  assert_string_equal(r.color, "dark");
  assert_string_equal(r.style, "suspicious");
  assert_true(r.is_suspicious);
  assert_false(r.is_service_uniform);
  assert_true(r.confidence > 0.9f && r.confidence <= 1.0f);
  vigil_image_free(&f);

  hub_frame(&f, 200, 400, 255, 255, 0);
  assert_int_equal(clothing_classify(sig, &r, &f, 20, 20, 180, 380, err, sizeof err), 0);
  assert_string_equal(r.top_prompt, "person wearing high-visibility safety vest");
  assert_string_equal(r.clothing_type, "hi_vis_vest");
  assert_string_equal(r.color, "yellow"); /* the prompt has none: from the torso */
  assert_string_equal(r.style, "service_uniform");
  assert_false(r.is_suspicious);
  assert_true(r.is_service_uniform);
  vigil_image_free(&f);
}

static void clothing_on_real_photo(void **s) {
  (void)s;
  vigil_image f = {0};
  hub_media(&f, "media/person.jpg");
  clothing_result r;
  char err[256];
  assert_int_equal(clothing_classify(sig, &r, &f, 180, 90, 280, 380, err, sizeof err), 0);
  assert_true(has_prompt(r.top_prompt));
  assert_true(r.confidence > 0 && r.confidence <= 1);
  assert_true(r.color[0] && strcmp(r.color, "unknown"));
  /* a box outside the image is an error, not a crash */
  assert_int_not_equal(clothing_classify(sig, &r, &f, 5000, 5000, 6000, 6000, err, sizeof err), 0);
  vigil_image_free(&f);
}

/* A prompt file from an older prompt list names what is missing. */
static void load_fails_on_missing_prompt(void **s) {
  (void)s;
  char cmd[4096], dir[600], err[512] = "";
  snprintf(dir, sizeof dir, "%s/siglip-old", hub_tmp);
  snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s'/siglip/*.onnx '%s'/ && grep -v 'gloves' '%s/siglip/prompt_ids.txt' > '%s/prompt_ids.txt'",
           dir, hub_tmp, dir, hub_tmp, dir);
  assert_int_equal(system(cmd), 0);
  siglip_model *m = NULL;
  assert_int_not_equal(siglip_load(&m, dir, err, sizeof err), 0);
  assert_null(m);
  assert_non_null(strstr(err, "person wearing gloves"));
  assert_int_not_equal(siglip_load(&m, "/nonexistent", err, sizeof err), 0);
  siglip_free(NULL);
}

static void torso_palette(void **s) {
  (void)s;
  static const struct {
    uint8_t r, g, b;
    const char *name;
  } cases[] = {{200, 30, 30, "red"},     {20, 20, 20, "black"},   {240, 240, 240, "white"}, {128, 128, 128, "gray"},
               {30, 60, 200, "blue"},    {40, 160, 40, "green"},  {240, 220, 30, "yellow"}, {120, 70, 20, "brown"},
               {250, 140, 20, "orange"}, {130, 40, 160, "purple"}, {240, 120, 180, "pink"}, {20, 40, 90, "blue"}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    vigil_image f;
    /* a green-legged, grey-headed person in a 100 x 200 box at (50, 20) */
    hub_frame(&f, 200, 240, 90, 90, 90);
    hub_fill(&f, 50, 20, 150, 220, 10, 200, 10);
    hub_fill(&f, 75, 60, 125, 130, cases[i].r, cases[i].g, cases[i].b); /* torso: 25-75% across, 20-55% down */
    const char *got = torso_color_name(&f, 50, 20, 150, 220);
    if (strcmp(got, cases[i].name)) fail_msg("(%d,%d,%d): %s, expected %s", cases[i].r, cases[i].g, cases[i].b, got, cases[i].name);
    vigil_image_free(&f);
  }
  vigil_image f;
  hub_frame(&f, 50, 50, 0, 0, 0);
  assert_string_equal(torso_color_name(&f, 100, 100, 150, 150), "unknown");
  assert_string_equal(torso_color_name(&f, 10, 10, 10, 40), "unknown");
  assert_string_equal(torso_color_name(NULL, 0, 0, 10, 10), "unknown");
  vigil_image_free(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(prompt_list_is_complete), cmocka_unit_test(text_embeddings_computed_once),
      cmocka_unit_test(siglip_preprocessing),    cmocka_unit_test(zero_shot_decoding),
      cmocka_unit_test(clothing_on_real_photo),  cmocka_unit_test(load_fails_on_missing_prompt),
      cmocka_unit_test(torso_palette),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
