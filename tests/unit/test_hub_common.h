/* Shared by tests/unit/test_hub_*.c: generates the hub test models
 * (tools/testmodels/gen_hub_models.py) into a temporary directory, loads
 * sample media from $VIGIL_HOME, paints synthetic frames, and captures the
 * input tensors the adapters build (hub_set_input_hook). Header-only: each
 * test is its own executable. */
#ifndef TEST_HUB_COMMON_H
#define TEST_HUB_COMMON_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/hub_common.h"
#include "util/assets.h"
#include "models/runner.h"
#include "vigil/hub.h"

static char hub_tmp[512];

static const char *hub_path(const char *name) {
  static char buf[1024];
  snprintf(buf, sizeof buf, "%s/%s", hub_tmp, name);
  return buf;
}

/* models: space-separated names for the generator ("" = all) */
static inline int hub_generate(const char *models) {
  const char *src = getenv("VIGIL_SOURCE_DIR");
  if (!src) {
    fprintf(stderr, "VIGIL_SOURCE_DIR is not set (run through ctest)\n");
    return -1;
  }
  snprintf(hub_tmp, sizeof hub_tmp, "%s/vigil-hub-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(hub_tmp)) return -1;
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tools/testmodels/gen_hub_models.py' '%s' %s", src, hub_tmp, models);
  if (system(cmd) != 0) {
    fprintf(stderr, "generating the hub test models failed (needs python3-onnx and python3-numpy: run `make deps`)\n");
    return -1;
  }
  return 0;
}

static inline void hub_cleanup(void) {
  char cmd[600];
  if (!hub_tmp[0]) return;
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", hub_tmp);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", hub_tmp);
}

static inline void hub_load_runner(model_runner *r, const char *name) {
  char err[512];
  int rc = runner_load(r, hub_path(name), 1, err, sizeof err);
  if (rc) fail_msg("%s", err);
}

/* A w x h frame filled with one colour. */
static inline void hub_frame(vigil_image *im, int w, int h, uint8_t r, uint8_t g, uint8_t b) {
  assert_int_equal(vigil_image_init(im, w, h, 3), 0);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      uint8_t *p = im->data + (size_t)y * im->stride + (size_t)x * 3;
      p[0] = r, p[1] = g, p[2] = b;
    }
}

static inline void hub_fill(vigil_image *im, int x1, int y1, int x2, int y2, uint8_t r, uint8_t g, uint8_t b) {
  for (int y = y1 < 0 ? 0 : y1; y < y2 && y < im->h; y++)
    for (int x = x1 < 0 ? 0 : x1; x < x2 && x < im->w; x++) {
      uint8_t *p = im->data + (size_t)y * im->stride + (size_t)x * 3;
      p[0] = r, p[1] = g, p[2] = b;
    }
}

static inline void hub_media(vigil_image *img, const char *rel) {
  char path[1024], err[256];
  if (vigil_asset_require(path, sizeof path, rel)) fail_msg("%s", vigil_asset_errmsg());
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc((size_t)n);
  assert_non_null(b);
  assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  vigil_img_limits lim = vigil_img_default_limits();
  int rc = vigil_img_decode(img, b, (size_t)n, &lim, err, sizeof err);
  free(b);
  if (rc) fail_msg("%s: %s", rel, err);
}

/* The last input each adapter built, copied by the hook. */
typedef struct {
  char adapter[64];
  int calls;
  int nin;
  vrt_tensor t[3];
} hub_capture;

static hub_capture hub_cap;

static inline void hub_capture_free(void) {
  for (int i = 0; i < 3; i++) free(hub_cap.t[i].data);
  memset(&hub_cap, 0, sizeof hub_cap);
}

static inline void hub_hook(void *ud, const char *adapter, const vrt_tensor *in, int nin) {
  (void)ud;
  int calls = hub_cap.calls;
  hub_capture_free();
  hub_cap.calls = calls + 1;
  snprintf(hub_cap.adapter, sizeof hub_cap.adapter, "%s", adapter);
  hub_cap.nin = nin > 3 ? 3 : nin;
  for (int i = 0; i < hub_cap.nin; i++) {
    hub_cap.t[i] = in[i];
    hub_cap.t[i].data = malloc(in[i].nbytes);
    memcpy(hub_cap.t[i].data, in[i].data, in[i].nbytes);
  }
}

static inline void hub_capture_start(void) {
  hub_capture_free();
  hub_set_input_hook(hub_hook, NULL);
}

static inline void hub_capture_stop(void) { hub_set_input_hook(NULL, NULL); }

/* Element (c, y, x) of a captured [1,3,H,W] tensor. */
static inline float hub_at(const vrt_tensor *t, int c, int y, int x) {
  const float *d = t->data;
  return d[((size_t)c * (size_t)t->dims[2] + (size_t)y) * (size_t)t->dims[3] + (size_t)x];
}

/* The normalised value of an 8-bit channel value. */
static inline float hub_norm(int v, float mean, float std) { return ((float)v / 255.0f - mean) / std; }

#endif
