/* The FFmpeg video reader on the real surveillance clip: size, sampling
 * rate, timestamps; and errors for missing or non-video files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/assets.h"
#include "vigil/video.h"

static void test_vtest_sampling(void **s) {
  (void)s;
  char path[1024];
  if (vigil_asset_require(path, sizeof path, "media/vtest.avi")) fail_msg("%s", vigil_asset_errmsg());
  video_params p = video_default_params();
  p.fps = 2;
  video_reader *v;
  char err[256];
  assert_int_equal(video_open(&v, path, p, err, sizeof err), 0);
  assert_int_equal(video_width(v), 768);
  assert_int_equal(video_height(v), 576);
  assert_true(video_source_fps(v) > 9 && video_source_fps(v) < 11);
  vigil_image img = {0};
  double t, last = -1;
  int n = 0, rc;
  while ((rc = video_next(v, &img, &t, err, sizeof err)) == 1 && n < 20) {
    assert_int_equal(img.w, 768);
    assert_true(t > last);
    if (last >= 0) assert_true(t - last > 0.45 && t - last < 0.55); /* 2 fps */
    last = t;
    n++;
  }
  assert_int_equal(n, 20);
  /* the frame is not blank: some spread of pixel values */
  int mn = 255, mx = 0;
  for (size_t i = 0; i < (size_t)img.w * 3; i++) {
    int px = img.data[(size_t)img.h / 2 * img.stride + i];
    mn = px < mn ? px : mn, mx = px > mx ? px : mx;
  }
  assert_true(mx - mn > 40);
  vigil_image_free(&img);
  video_close(v);
}

static void test_errors(void **s) {
  (void)s;
  video_reader *v = NULL;
  char err[256] = "";
  assert_true(video_open(&v, "/nonexistent/clip.avi", video_default_params(), err, sizeof err) < 0);
  assert_null(v);
  assert_true(strlen(err) > 0);
  char tmp[] = "/tmp/vigil-notvideo-XXXXXX";
  int fd = mkstemp(tmp);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "hello, this is not a video at all", 33), 33);
  close(fd);
  assert_true(video_open(&v, tmp, video_default_params(), err, sizeof err) < 0);
  unlink(tmp);
}

int main(void) {
  const struct CMUnitTest t[] = {cmocka_unit_test(test_vtest_sampling), cmocka_unit_test(test_errors)};
  return cmocka_run_group_tests(t, NULL, NULL);
}
