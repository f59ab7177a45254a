/* vigil's decoded boxes agree with the TensorFlow.js reference run on the same
 * input (issue 5): the golden inputs and reference outputs that setup made
 * with @tensorflow/tfjs 4.22 are decoded by vigil's own decoder, and so are
 * vrt's outputs on the same input; every box must match: same class, IoU >=
 * 0.9, score within 1e-3. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/assets.h"
#include "vigil/detect.h"
#include "vrt/vrt.h"

static void *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  void *b = malloc((size_t)n + 1);
  *len = fread(b, 1, (size_t)n, f);
  fclose(f);
  return b;
}

static void check_model(const char *name) {
  char dir[1024], model[1024], path[1300], err[512];
  snprintf(path, sizeof path, "golden/tfjs/%s/outputs.json", name);
  if (vigil_asset_require(dir, sizeof dir, path)) fail_msg("%s", vigil_asset_errmsg());
  snprintf(path, sizeof path, "models/human/%s.json", name);
  if (vigil_asset_require(model, sizeof model, path)) fail_msg("%s", vigil_asset_errmsg());
  vigil_asset_path(dir, sizeof dir, "golden/tfjs");
  snprintf(dir + strlen(dir), sizeof dir - strlen(dir), "/%s", name);

  detector_params p = detector_default_params();
  p.path = model;
  detector_t *det;
  if (detector_load(&det, p, err, sizeof err)) fail_msg("%s", err);
  vrt_model_t *m;
  assert_int_equal(vrt_model_load(&m, model, vrt_load_default_params()), 0);
  vrt_session_t *s;
  assert_int_equal(vrt_session_create(&s, m, vrt_session_default_params()), 0);

  /* the input, and the original image size from the meta file */
  json_error_t je;
  snprintf(path, sizeof path, "%s/meta.json", dir);
  json_t *meta = json_load_file(path, 0, &je);
  assert_non_null(meta);
  char img[1024];
  snprintf(path, sizeof path, "media/%s", json_string_value(json_object_get(meta, "image")));
  if (vigil_asset_require(img, sizeof img, path)) fail_msg("%s", vigil_asset_errmsg());
  size_t ilen;
  uint8_t *ibytes = slurp(img, &ilen);
  int w, h;
  vigil_img_format fmt;
  assert_int_equal(vigil_img_probe(&w, &h, &fmt, ibytes, ilen, err, sizeof err), 0);
  free(ibytes);
  json_decref(meta);
  const vrt_tensor *decl = vrt_model_input(m, 0);
  snprintf(path, sizeof path, "%s/input_0.bin", dir);
  size_t len;
  void *in_data = slurp(path, &len);
  assert_non_null(in_data);
  vrt_tensor in = {.name = decl->name, .dtype = decl->dtype, .ndim = decl->ndim, .data = in_data, .nbytes = len};
  memcpy(in.dims, decl->dims, sizeof in.dims);
  in.dims[0] = 1;
  const vrt_tensor *outs;
  int nout;
  assert_int_equal(vrt_session_run(s, &in, 1, &outs, &nout), 0);

  /* reference outputs in the model's output order, matched by name */
  snprintf(path, sizeof path, "%s/outputs.json", dir);
  json_t *ol = json_load_file(path, 0, &je);
  assert_non_null(ol);
  vrt_tensor *ref = calloc((size_t)nout, sizeof *ref);
  for (int i = 0; i < nout; i++) {
    size_t k;
    json_t *o;
    json_array_foreach(ol, k, o) {
      if (strcmp(json_string_value(json_object_get(o, "name")), outs[i].name)) continue;
      ref[i] = outs[i];
      snprintf(path, sizeof path, "%s/%s", dir, json_string_value(json_object_get(o, "file")));
      ref[i].data = slurp(path, &len);
      assert_int_equal(len, outs[i].nbytes);
    }
    assert_non_null(ref[i].data);
  }
  json_decref(ol);
  vigil_det_list a, b;
  assert_int_equal(detector_decode_outputs(det, &a, outs, nout, w, h), 0);
  assert_int_equal(detector_decode_outputs(det, &b, ref, nout, w, h), 0);
  fprintf(stderr, "%s on %dx%d: vigil %d boxes, reference %d boxes\n", name, w, h, a.n, b.n);
  assert_true(b.n > 0);
  assert_int_equal(a.n, b.n);
  for (int i = 0; i < b.n; i++) {
    int match = -1;
    for (int k = 0; k < a.n && match < 0; k++)
      if (!strcmp(a.dets[k].label, b.dets[i].label) && det_iou(&a.dets[k], &b.dets[i]) >= 0.9f) match = k;
    fprintf(stderr, "  ref %s %.4f -> %s\n", b.dets[i].label, b.dets[i].score, match >= 0 ? "matched" : "MISSING");
    assert_true(match >= 0);
    assert_float_equal(a.dets[match].score, b.dets[i].score, 1e-3);
  }
  vigil_det_list_free(&a);
  vigil_det_list_free(&b);
  for (int i = 0; i < nout; i++) free(ref[i].data);
  free(ref);
  free(in_data);
  vrt_session_free(s);
  vrt_model_free(m);
  detector_free(det);
}

static void test_centernet(void **st) {
  (void)st;
  check_model("centernet");
}

static void test_nanodet(void **st) {
  (void)st;
  check_model("nanodet");
}

int main(void) {
  const struct CMUnitTest t[] = {cmocka_unit_test(test_centernet), cmocka_unit_test(test_nanodet)};
  return cmocka_run_group_tests(t, NULL, NULL);
}
