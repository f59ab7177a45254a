/* The camera registry file: valid registries, every strictness rule with its
 * error message, timezone validation, lookups by id and by source folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/cameras.h"

static void expect_error(const char *json, const char *needle);

static void test_valid_full(void **s) {
  (void)s;
  const char *j =
      "[{\"id\":\"front-door\",\"name\":\"Front door\",\"source\":\"/srv/ftp/front-door\",\"timezone\":\"Europe/Paris\","
      "\"depth_px_per_m\":310.5,\"zones\":[{\"name\":\"porch\",\"points\":[[0,300],[640,300],[640,480],[0,480]]},"
      "{\"name\":\"gate\",\"entrance\":true,\"points\":[[10,10],[20,10],[15,30]]}],"
      "\"motion_masks\":[{\"name\":\"tree\",\"points\":[[0,0],[100,0],[100,100]]}]},"
      "{\"id\":\"garage\"}]";
  camera_registry r;
  char err[256] = "";
  assert_int_equal(cameras_parse(&r, j, strlen(j), err, sizeof err), 0);
  assert_int_equal(r.n, 2);
  const camera *c = &r.cams[0];
  assert_string_equal(c->id, "front-door");
  assert_string_equal(c->name, "Front door");
  assert_string_equal(c->source, "/srv/ftp/front-door");
  assert_string_equal(c->timezone, "Europe/Paris");
  assert_true(c->depth_px_per_m > 310.4f && c->depth_px_per_m < 310.6f);
  assert_int_equal(c->nzones, 2);
  assert_string_equal(c->zones[0].name, "porch");
  assert_int_equal(c->zones[0].npoints, 4);
  assert_true(camera_zone_contains(&c->zones[0], 320, 400));
  assert_false(camera_zone_contains(&c->zones[0], 320, 100));
  assert_int_equal(c->zones[1].npoints, 3);
  assert_int_equal(c->nmasks, 1);
  assert_string_equal(c->masks[0].name, "tree");
  assert_int_equal(c->masks[0].npoints, 3);
  expect_error("[{\"id\":\"a\",\"motion_masks\":{}}]", "motion_masks must be an array");
  expect_error("[{\"id\":\"a\",\"motion_masks\":[{\"name\":\"t\",\"points\":[[0,0],[1,1]]}]}]", "motion_masks[0].points has 2 points");
  assert_false(c->zones[0].entrance);
  assert_true(c->zones[1].entrance);
  /* defaults: the name is the id, local time, no zones */
  assert_string_equal(r.cams[1].name, "garage");
  assert_string_equal(r.cams[1].timezone, "");
  assert_int_equal(r.cams[1].nzones, 0);
  assert_ptr_equal(cameras_find(&r, "garage"), &r.cams[1]);
  assert_null(cameras_find(&r, "nope"));
  /* the camera's timezone drives its local time: 2024-11-27 06:46:40 UTC */
  int h, m;
  camera_local_time(c, 1732690000, &h, &m);
  assert_int_equal(h, 7);
  assert_int_equal(m, 46);
  cameras_free(&r);
  assert_null(r.cams);
  cameras_free(&r); /* twice is fine */
  cameras_free(NULL);
}

static void expect_error(const char *json, const char *needle) {
  camera_registry r;
  char err[512] = "";
  int rc = cameras_parse(&r, json, strlen(json), err, sizeof err);
  if (rc == 0 || !strstr(err, needle)) fail_msg("for %s: rc %d, error '%s' lacks '%s'", json, rc, err, needle);
  assert_int_equal(r.n, 0);
  assert_null(r.cams);
}

static void test_bad_json(void **s) {
  (void)s;
  expect_error("[{\"id\":\"a\",\"zones\":[{\"name\":\"d\",\"entrance\":1,\"points\":[[0,0],[1,0],[1,1]]}]}]",
               "cameras[0].zones[0].entrance must be true or false");
  expect_error("[{\"id\":\"a\"", "bad JSON");
  expect_error("", "bad JSON");
  expect_error("{\"id\":\"a\"}", "must be a JSON array");
  expect_error("[{\"id\":\"a\",\"id\":\"b\"}]", "bad JSON"); /* duplicate keys */
  expect_error("[1]", "cameras[0] must be an object");
  expect_error("[{\"name\":\"x\"}]", "cameras[0]: \"id\" is required");
  expect_error("[{\"id\":\"\"}]", "cameras[0].id");
  expect_error("[{\"id\":\"a b\"}]", "cameras[0].id \"a b\"");
  expect_error("[{\"id\":\"a\"},{\"id\":\"a\"}]", "already used by cameras[0]");
  expect_error("[{\"id\":\"a\",\"colour\":1}]", "unknown key \"colour\"");
  expect_error("[{\"id\":\"a\",\"name\":5}]", "cameras[0].name must be a string");
  expect_error("[{\"id\":\"a\",\"name\":\"0123456789012345678901234567890123456789012345678\"}]", "too long");
  expect_error("[{\"id\":\"a\",\"depth_px_per_m\":-1}]", "depth_px_per_m must be a finite number");
  expect_error("[{\"id\":\"a\",\"depth_px_per_m\":\"x\"}]", "depth_px_per_m must be a number");
}

static void test_watch_list(void **s) {
  (void)s;
  camera_registry r;
  char err[512];
  const char *ok = "[{\"id\":\"back\",\"watch\":[\"ladder\",\"crowbar\"]},{\"id\":\"front\"}]";
  assert_int_equal(cameras_parse(&r, ok, strlen(ok), err, sizeof err), 0);
  assert_int_equal(r.cams[0].nwatch, 2);
  assert_string_equal(r.cams[0].watch[1], "crowbar");
  assert_int_equal(r.cams[1].nwatch, 0);
  cameras_free(&r);
  expect_error("[{\"id\":\"a\",\"watch\":\"ladder\"}]", "cameras[0].watch must be an array");
  expect_error("[{\"id\":\"a\",\"watch\":[\"ladder\",\" \"]}]", "cameras[0].watch[1] must be a class name");
  expect_error("[{\"id\":\"a\",\"watch\":[3]}]", "cameras[0].watch[0]");
  expect_error("[{\"id\":\"a\",\"watch\":[\"0123456789012345678901234567890123456789012345678\"]}]",
               "1-47 characters");
  char many[1024] = "[{\"id\":\"a\",\"watch\":[";
  for (int i = 0; i < VIGIL_MAX_WATCH + 1; i++)
    snprintf(many + strlen(many), sizeof many - strlen(many), "%s\"c%d\"", i ? "," : "", i);
  strcat(many, "]}]");
  expect_error(many, "at most 16");
}

static void test_zone_limits(void **s) {
  (void)s;
  expect_error("[{\"id\":\"a\",\"zones\":{}}]", "zones must be an array");
  expect_error("[{\"id\":\"a\",\"zones\":[{\"name\":\"z\",\"points\":[[0,0],[1,1]]}]}]", "has 2 points");
  expect_error("[{\"id\":\"a\",\"zones\":[{\"points\":[[0,0],[1,1],[2,0]]}]}]", "zones[0]: \"name\" is required");
  expect_error("[{\"id\":\"a\",\"zones\":[{\"name\":\"z\",\"points\":[[0,0],[1],[2,0]]}]}]",
               "cameras[0].zones[0].points[1] must be an [x, y] pair");
  expect_error("[{\"id\":\"a\",\"zones\":[{\"name\":\"z\",\"points\":[[0,0],[1,\"y\"],[2,0]]}]}]", "points[1] must be a number");
  expect_error("[{\"id\":\"a\",\"zones\":[{\"name\":\"z\",\"points\":[[0,0],[1,1],[2,0]],\"color\":1}]}]", "unknown key");
  expect_error("[{\"id\":\"a\",\"zones\":[{\"name\":\"z\",\"points\":[[0,0],[1,1],[2,0]]},"
               "{\"name\":\"z\",\"points\":[[0,0],[1,1],[2,0]]}]}]",
               "used twice");
  /* 17 points, 9 zones */
  char buf[8192];
  int n = snprintf(buf, sizeof buf, "[{\"id\":\"a\",\"zones\":[{\"name\":\"z\",\"points\":[");
  for (int i = 0; i < CAMERA_MAX_POINTS + 1; i++) n += snprintf(buf + n, sizeof buf - n, "%s[%d,%d]", i ? "," : "", i, i * i);
  snprintf(buf + n, sizeof buf - n, "]}]}]");
  expect_error(buf, "has 17 points");
  n = snprintf(buf, sizeof buf, "[{\"id\":\"a\",\"zones\":[");
  for (int i = 0; i < CAMERA_MAX_ZONES + 1; i++)
    n += snprintf(buf + n, sizeof buf - n, "%s{\"name\":\"z%d\",\"points\":[[0,0],[1,1],[2,0]]}", i ? "," : "", i);
  snprintf(buf + n, sizeof buf - n, "]}]");
  expect_error(buf, "has 9 zones; at most 8");
  /* exactly at the limits is fine */
  n = snprintf(buf, sizeof buf, "[{\"id\":\"a\",\"zones\":[");
  for (int i = 0; i < CAMERA_MAX_ZONES; i++) {
    n += snprintf(buf + n, sizeof buf - n, "%s{\"name\":\"z%d\",\"points\":[", i ? "," : "", i);
    for (int k = 0; k < CAMERA_MAX_POINTS; k++) n += snprintf(buf + n, sizeof buf - n, "%s[%d,%d]", k ? "," : "", k, k % 3);
    n += snprintf(buf + n, sizeof buf - n, "]}");
  }
  snprintf(buf + n, sizeof buf - n, "]}]");
  camera_registry r;
  char err[256];
  assert_int_equal(cameras_parse(&r, buf, strlen(buf), err, sizeof err), 0);
  assert_int_equal(r.cams[0].nzones, CAMERA_MAX_ZONES);
  assert_int_equal(r.cams[0].zones[7].npoints, CAMERA_MAX_POINTS);
  cameras_free(&r);
}

static void test_too_many_cameras(void **s) {
  (void)s;
  size_t cap = 64 * (CAMERAS_MAX + 2);
  char *buf = malloc(cap);
  assert_non_null(buf);
  int n = snprintf(buf, cap, "[");
  for (int i = 0; i < CAMERAS_MAX + 1; i++) n += snprintf(buf + n, cap - n, "%s{\"id\":\"c%d\"}", i ? "," : "", i);
  snprintf(buf + n, cap - n, "]");
  expect_error(buf, "257 cameras; at most 256");
  free(buf);
}

static void test_timezones(void **s) {
  (void)s;
  assert_true(camera_timezone_valid(""));
  assert_true(camera_timezone_valid("UTC"));
  assert_true(camera_timezone_valid("Europe/Paris"));
  assert_true(camera_timezone_valid("America/Argentina/Buenos_Aires"));
  assert_false(camera_timezone_valid("Mars/Olympus_Mons"));
  assert_false(camera_timezone_valid("Europe/paris/"));
  assert_false(camera_timezone_valid("../../../etc/passwd"));
  assert_false(camera_timezone_valid("Europe/../../../etc/passwd"));
  assert_false(camera_timezone_valid("/etc/localtime"));
  assert_false(camera_timezone_valid("zone.tab")); /* a text file of the database, not a zone */
  assert_false(camera_timezone_valid("Europe"));   /* a folder */
  assert_false(camera_timezone_valid("Europe/Paris;rm"));
  assert_false(camera_timezone_valid(NULL));
  expect_error("[{\"id\":\"a\",\"timezone\":\"Mars/Olympus_Mons\"}]", "cameras[0].timezone \"Mars/Olympus_Mons\" is not a timezone");
}

static void test_load_and_find_source(void **s) {
  (void)s;
  char path[] = "/tmp/vigil-cameras-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *j = "[{\"id\":\"ftp\",\"source\":\"/srv/ftp/\"},{\"id\":\"door\",\"source\":\"/srv/ftp/door\"},"
                  "{\"id\":\"clip\",\"source\":\"/data/clip.avi\"}]";
  assert_int_equal(write(fd, j, strlen(j)), (ssize_t)strlen(j));
  close(fd);
  camera_registry r;
  char err[512];
  assert_int_equal(cameras_load(&r, path, err, sizeof err), 0);
  assert_int_equal(r.n, 3);
  assert_string_equal(cameras_find_source(&r, "/srv/ftp/door/a.jpg")->id, "door"); /* longest source wins */
  assert_string_equal(cameras_find_source(&r, "/srv/ftp/door")->id, "door");
  assert_string_equal(cameras_find_source(&r, "/srv/ftp/yard/b.jpg")->id, "ftp");
  assert_string_equal(cameras_find_source(&r, "/srv/ftp/doorbell/c.jpg")->id, "ftp");    /* not "door" */
  assert_string_equal(cameras_find_source(&r, "/data/clip.avi")->id, "clip");
  assert_null(cameras_find_source(&r, "/data/clip.avi2"));
  assert_null(cameras_find_source(&r, "/elsewhere/x.jpg"));
  cameras_free(&r);
  unlink(path);
  assert_int_equal(cameras_load(&r, path, err, sizeof err), -1);
  assert_non_null(strstr(err, "No such file"));
}

int main(void) {
  const struct CMUnitTest t[] = {
      cmocka_unit_test(test_watch_list),
      cmocka_unit_test(test_valid_full),      cmocka_unit_test(test_bad_json),  cmocka_unit_test(test_zone_limits),
      cmocka_unit_test(test_too_many_cameras), cmocka_unit_test(test_timezones), cmocka_unit_test(test_load_and_find_source),
  };
  return cmocka_run_group_tests(t, NULL, NULL);
}
