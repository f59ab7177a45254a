/* HTTP enrichment routing against a real `vigil serve enrich` started on a
 * free port: the client's result on a real person matches the in-process
 * engine's; bad boxes, HTTP errors, timeouts, oversized replies, refused
 * connections and malformed replies are clean errors; animals go to the light
 * URL; parts are split between heavy and light by their models' service,
 * a dead or slow (timed out) URL in a list is skipped, and a light service killed mid-run leaves
 * its parts null with the reason while heavy's still arrive; `vigil analyze
 * --enrich-url` enriches through the service. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/assets.h"
#include "vigil/detect.h"
#include "vigil/enrich.h"
#include "vigil/enrich_client.h"

static char tmp[256], media[1024];
static int port, mute_port;
static pid_t server;
static vigil_image photo;
static vigil_det person, dog;

/* a port nobody listens on right now */
static int free_port(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof a;
  if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || getsockname(s, (struct sockaddr *)&a, &l)) return -1;
  close(s);
  return ntohs(a.sin_port);
}

/* A server that accepts and never answers: for timeouts. */
static int mute_fd = -1;
static int held[64]; /* connections kept open, unanswered */
static void *mute_main(void *p) {
  (void)p;
  int n = 0;
  for (;;) {
    int c = accept(mute_fd, NULL, NULL);
    if (c < 0) return NULL;
    if (n < 64) held[n++] = c;
    else close(c);
  }
}

static int wait_up(int p) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "curl -sf -o /dev/null http://127.0.0.1:%d/health", p);
  for (int i = 0; i < 300; i++) {
    if (system(cmd) == 0) return 0;
    usleep(100000);
  }
  return -1;
}

static int setup(void **s) {
  (void)s;
  const char *bin = getenv("VIGIL_BINARY");
  if (!bin) {
    fprintf(stderr, "VIGIL_BINARY is not set (run through ctest)\n");
    return -1;
  }
  char path[1100];
  if (vigil_asset_require(media, sizeof media, "media/person.jpg") ||
      vigil_asset_require(path, sizeof path, "models/human/movenet-lightning.json") ||
      vigil_asset_require(path, sizeof path, "models/human/centernet.json") ||
      vigil_asset_require(media, sizeof media, "media")) {
    fprintf(stderr, "%s\n", vigil_asset_errmsg());
    return -1;
  }
  snprintf(tmp, sizeof tmp, "/tmp/vigil-enrich-http-XXXXXX");
  if (!mkdtemp(tmp)) return -1;
  /* the photo and its person and dog boxes, from the real detector */
  snprintf(path, sizeof path, "%s/person.jpg", media);
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  static uint8_t buf[1 << 20];
  size_t len = fread(buf, 1, sizeof buf, f);
  fclose(f);
  vigil_img_limits lim = vigil_img_default_limits();
  char err[512];
  if (vigil_img_decode(&photo, buf, len, &lim, err, sizeof err)) return -1;
  detector_params dp;
  char mp[1024];
  detector_t *det;
  if (detector_params_from_config(&dp, mp, sizeof mp, NULL, err, sizeof err) || detector_load(&det, dp, err, sizeof err)) {
    fprintf(stderr, "detector: %s\n", err);
    return -1;
  }
  vigil_det_list l;
  const vigil_image *im[1] = {&photo};
  if (detector_run(det, &l, im, 1, err, sizeof err)) return -1;
  for (int i = 0; i < l.n; i++) {
    if (!strcmp(l.dets[i].label, "person") && !person.label) person = l.dets[i];
    if (!strcmp(l.dets[i].label, "dog") && !dog.label) dog = l.dets[i];
  }
  vigil_det_list_free(&l);
  detector_free(det);
  if (!person.label || !dog.label) {
    fprintf(stderr, "person.jpg: the detector found no person or no dog\n");
    return -1;
  }
  /* the service */
  port = free_port();
  server = fork();
  if (server == 0) {
    char ps[16], log[512];
    snprintf(ps, sizeof ps, "%d", port);
    snprintf(log, sizeof log, "%s/serve.log", tmp);
    if (!freopen(log, "w", stderr)) _exit(126);
    execl(bin, bin, "serve", "enrich", "--port", ps, "--bind", "127.0.0.1", (char *)NULL);
    _exit(127);
  }
  if (wait_up(port)) {
    fprintf(stderr, "vigil serve enrich did not come up on port %d\n", port);
    return -1;
  }
  /* the mute server */
  mute_fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  if (mute_fd < 0 || bind(mute_fd, (struct sockaddr *)&a, sizeof a) || listen(mute_fd, 16) ||
      getsockname(mute_fd, (struct sockaddr *)&a, &al))
    return -1;
  mute_port = ntohs(a.sin_port);
  pthread_t th;
  if (pthread_create(&th, NULL, mute_main, NULL)) return -1;
  pthread_detach(th);
  return 0;
}

static int teardown(void **s) {
  (void)s;
  if (server > 0) {
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);
  }
  vigil_image_free(&photo);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  return system(cmd) == 0 ? 0 : -1;
}

static enrich_client *client(int p, double timeout_s, size_t max_reply) {
  enrich_client_params cp = enrich_client_default_params();
  snprintf(cp.url, sizeof cp.url, "http://127.0.0.1:%d/", p);
  cp.timeout_s = timeout_s;
  cp.max_reply = max_reply;
  cp.jpeg_quality = 95;
  enrich_client *c;
  char err[256];
  assert_int_equal(enrich_client_init(&c, cp, err, sizeof err), 0);
  return c;
}

static enrich_request person_request(void) {
  return (enrich_request){.frame = &photo, .x1 = person.x1, .y1 = person.y1, .x2 = person.x2, .y2 = person.y2,
                          .kind = ENRICH_PERSON, .detection_id = "det-1", .camera_id = "cam-http", .ts = 1732690000,
                          .opt = {.include_pose = true}};
}

static void test_person_matches_in_process(void **s) {
  (void)s;
  enrich_client *c = client(port, 120, (size_t)4 << 20);
  enrich_request rq = person_request();
  enrich_result *r = malloc(sizeof *r), *local = malloc(sizeof *local);
  assert_non_null(r);
  assert_non_null(local);
  char err[512];
  int rc = enrich_client_run(c, r, &rq, err, sizeof err);
  if (rc) fail_msg("enrich over HTTP: %s", err);
  assert_true(r->n_models > 0);
  assert_true(r->inference_ms > 0);
  assert_true(r->has_pose);
  int confident = 0;
  for (int i = 0; i < POSE_NKP; i++) confident += r->pose.kp[i].score > 0.3f;
  assert_true(confident >= 10);
  assert_true(r->pose.posture[0]);
  bool movenet = false;
  for (int i = 0; i < r->n_models; i++) movenet |= strstr(r->models_used[i], "movenet") != NULL;
  assert_true(movenet);
  /* the same request in process: the same keypoints (the frame went through JPEG at quality 95) */
  enrich_engine *eng;
  assert_int_equal(enrich_engine_init(&eng, NULL, err, sizeof err), 0);
  assert_int_equal(enrich_run(eng, local, &rq, err, sizeof err), 0);
  assert_true(local->has_pose);
  assert_string_equal(local->pose.posture, r->pose.posture);
  float box = fmaxf(person.x2 - person.x1, person.y2 - person.y1), worst = 0;
  for (int i = 0; i < POSE_NKP; i++) {
    if (local->pose.kp[i].score < 0.3f) continue;
    float d = hypotf(local->pose.kp[i].x - r->pose.kp[i].x, local->pose.kp[i].y - r->pose.kp[i].y);
    if (d > worst) worst = d;
  }
  fprintf(stderr, "keypoints: HTTP vs in-process, worst distance %.2f px (box %.0f px)\n", worst, box);
  assert_true(worst < 0.03f * box);
  assert_int_equal(local->has_demographics, r->has_demographics);
  if (r->has_demographics) assert_string_equal(local->demo.gender, r->demo.gender);
  /* and the summary the risk stage reads */
  vigil_enrichment sum;
  enrich_result_summary(r, "det-1", &sum);
  assert_true(sum.pose.present);
  assert_string_equal(sum.pose.posture, r->pose.posture);
  enrich_engine_free(eng);
  free(local);
  free(r);
  enrich_client_free(c);
}

static void test_errors(void **s) {
  (void)s;
  enrich_result *r = malloc(sizeof *r);
  char err[512];
  enrich_request rq = person_request();
  /* an empty box never leaves the process */
  enrich_client *c = client(port, 60, (size_t)4 << 20);
  rq.x2 = rq.x1;
  assert_int_equal(enrich_client_run(c, r, &rq, err, sizeof err), -1);
  assert_non_null(strstr(err, "empty"));
  /* a box outside the image is empty after the service clips it: 400 with its detail */
  rq = person_request();
  rq.x1 = photo.w + 10.0f, rq.x2 = photo.w + 50.0f;
  assert_int_equal(enrich_client_run(c, r, &rq, err, sizeof err), -1);
  fprintf(stderr, "outside box: %s\n", err);
  assert_non_null(strstr(err, "HTTP 400"));
  enrich_client_free(c);
  /* a reply larger than allowed */
  c = client(port, 60, 1000);
  rq = person_request();
  assert_int_equal(enrich_client_run(c, r, &rq, err, sizeof err), -1);
  assert_non_null(strstr(err, "reply over 1000 bytes"));
  enrich_client_free(c);
  /* a service that never answers */
  c = client(mute_port, 0.5, (size_t)4 << 20);
  assert_int_equal(enrich_client_run(c, r, &rq, err, sizeof err), -1);
  assert_non_null(strstr(err, "timed out"));
  enrich_client_free(c);
  /* nobody listening */
  c = client(free_port(), 5, (size_t)4 << 20);
  assert_int_equal(enrich_client_run(c, r, &rq, err, sizeof err), -1);
  assert_non_null(strstr(err, "/enrich"));
  enrich_client_free(c);
  /* bad parameters */
  enrich_client_params cp = enrich_client_default_params();
  snprintf(cp.url, sizeof cp.url, "ftp://example");
  assert_int_equal(enrich_client_init(&c, cp, err, sizeof err), -1);
  assert_non_null(strstr(err, "http://"));
  free(r);
}

static void test_light_routing(void **s) {
  (void)s;
  /* the light URL is the mute server: animals time out there, people are answered by heavy */
  enrich_client_params cp = enrich_client_default_params();
  snprintf(cp.url, sizeof cp.url, "http://127.0.0.1:%d", port);
  snprintf(cp.light_url, sizeof cp.light_url, "http://127.0.0.1:%d", mute_port);
  cp.timeout_s = 1;
  enrich_client *c;
  char err[512];
  assert_int_equal(enrich_client_init(&c, cp, err, sizeof err), 0);
  enrich_result *r = malloc(sizeof *r);
  enrich_request rq = {.frame = &photo, .x1 = dog.x1, .y1 = dog.y1, .x2 = dog.x2, .y2 = dog.y2, .kind = ENRICH_ANIMAL};
  assert_int_equal(enrich_client_run(c, r, &rq, err, sizeof err), -1);
  char want[64];
  snprintf(want, sizeof want, ":%d/enrich: timed out", mute_port);
  assert_non_null(strstr(err, want));
  rq = (enrich_request){.frame = &photo, .x1 = dog.x1, .y1 = dog.y1, .x2 = dog.x2, .y2 = dog.y2, .kind = ENRICH_VEHICLE};
  enrich_client_free(c);
  cp.timeout_s = 120;
  assert_int_equal(enrich_client_init(&c, cp, err, sizeof err), 0);
  if (enrich_client_run(c, r, &rq, err, sizeof err)) fail_msg("vehicle to heavy: %s", err);
  assert_false(r->has_pose); /* a vehicle request runs no person part */
  assert_true(r->plate_ran); /* vehicle.license_plate came back (null: the dog has no plate) */
  assert_false(r->plate.found);
  enrich_client_free(c);
  free(r);
}

static pid_t spawn(const char *svc, int p, const char *logname) {
  pid_t pid = fork();
  if (pid == 0) {
    char ps[16], log[512];
    snprintf(ps, sizeof ps, "%d", p);
    snprintf(log, sizeof log, "%s/%s", tmp, logname);
    if (!freopen(log, "w", stderr)) _exit(126);
    const char *bin = getenv("VIGIL_BINARY");
    execl(bin, bin, "serve", svc, "--port", ps, "--bind", "127.0.0.1", (char *)NULL);
    _exit(127);
  }
  return pid;
}

static bool used(const enrich_result *r, const char *model) {
  for (int i = 0; i < r->n_models; i++)
    if (strstr(r->models_used[i], model)) return true;
  return false;
}

static const char *error_of(const enrich_result *r, const char *part) {
  for (int i = 0; i < r->n_errors; i++)
    if (!strcmp(r->error_part[i], part)) return r->error_reason[i];
  return NULL;
}

/* Parts follow their models' service; a dead light URL is skipped; the light
 * service killed between requests: its parts null with the reason, heavy's
 * parts still there. */
static void test_split_failover_and_kill(void **s) {
  (void)s;
  int lport = free_port(), dead = free_port();
  pid_t light = spawn("enrich-light", lport, "light.log");
  assert_true(light > 0);
  assert_int_equal(wait_up(lport), 0);
  enrich_client_params cp = enrich_client_default_params();
  snprintf(cp.url, sizeof cp.url, "http://127.0.0.1:%d", port);
  snprintf(cp.light_url, sizeof cp.light_url, "http://127.0.0.1:%d, http://127.0.0.1:%d", dead, lport);
  cp.timeout_s = 120;
  enrich_client *c;
  char err[512];
  assert_int_equal(enrich_client_init(&c, cp, err, sizeof err), 0);
  enrich_result *r = malloc(sizeof *r);
  enrich_request rq = person_request();
  /* a slow light URL (accepts, never answers) first: skipped after its timeout */
  enrich_client_params sp = cp;
  snprintf(sp.light_url, sizeof sp.light_url, "http://127.0.0.1:%d,http://127.0.0.1:%d", mute_port, lport);
  sp.timeout_s = 10;
  enrich_client *slow;
  assert_int_equal(enrich_client_init(&slow, sp, err, sizeof err), 0);
  if (enrich_client_run(slow, r, &rq, err, sizeof err)) fail_msg("past the slow URL: %s", err);
  assert_true(r->has_pose);
  assert_true(used(r, "movenet"));
  enrich_client_free(slow);
  for (int round = 0; round < 4; round++) {
    if (round == 2) { /* mid-run */
      kill(light, SIGKILL);
      waitpid(light, NULL, 0);
    }
    int rc = enrich_client_run(c, r, &rq, err, sizeof err);
    if (rc) fail_msg("round %d: %s", round, err);
    /* heavy always answers its parts: the face finder ran there, clothing's reason came from there */
    assert_true(used(r, "blazeface"));
    const char *clothing = error_of(r, "clothing");
    assert_non_null(clothing);
    assert_null(strstr(clothing, "service unavailable"));
    if (round < 2) { /* pose from the light service, reached past the dead URL */
      assert_true(r->has_pose);
      assert_true(used(r, "movenet"));
      assert_null(error_of(r, "pose"));
    } else {
      assert_false(r->has_pose);
      assert_false(used(r, "movenet"));
      const char *why = error_of(r, "pose");
      assert_non_null(why);
      fprintf(stderr, "after the kill, pose: %s\n", why);
      assert_non_null(strstr(why, "light service unavailable"));
      assert_non_null(error_of(r, "reid"));
      assert_non_null(error_of(r, "threat"));
    }
  }
  /* moving pose to heavy brings it back without the light service */
  setenv("ENRICHMENT_POSE_SERVICE", "heavy", 1);
  int rc = enrich_client_run(c, r, &rq, err, sizeof err);
  unsetenv("ENRICHMENT_POSE_SERVICE");
  if (rc) fail_msg("pose on heavy: %s", err);
  assert_true(r->has_pose);
  assert_true(used(r, "movenet"));
  enrich_client_free(c);
  free(r);
}

static void test_config(void **s) {
  (void)s;
  enrich_client_params p;
  char err[256];
  unsetenv("ENRICHMENT_URL");
  unsetenv("ENRICHMENT_LIGHT_URL");
  assert_int_equal(enrich_client_params_from_config(&p, NULL, err, sizeof err), 0);
  setenv("ENRICHMENT_URL", "http://10.0.0.5:8094/", 1);
  setenv("ENRICHMENT_LIGHT_URL", "http://10.0.0.6:8096", 1);
  setenv("ENRICHMENT_TIMEOUT_S", "7.5", 1);
  assert_int_equal(enrich_client_params_from_config(&p, NULL, err, sizeof err), 1);
  assert_string_equal(p.url, "http://10.0.0.5:8094");
  assert_string_equal(p.light_url, "http://10.0.0.6:8096");
  assert_true(p.timeout_s == 7.5);
  setenv("ENRICHMENT_LIGHT_URL", "http://10.0.0.6:8096/ , http://10.0.0.7:8096", 1);
  assert_int_equal(enrich_client_params_from_config(&p, NULL, err, sizeof err), 1);
  assert_string_equal(p.light_url, "http://10.0.0.6:8096,http://10.0.0.7:8096");
  setenv("ENRICHMENT_LIGHT_URL", "http://10.0.0.6:8096,ftp://x", 1);
  assert_true(enrich_client_params_from_config(&p, NULL, err, sizeof err) < 0);
  setenv("ENRICHMENT_LIGHT_URL", "http://10.0.0.6:8096", 1);
  setenv("ENRICHMENT_TIMEOUT_S", "-1", 1);
  assert_true(enrich_client_params_from_config(&p, NULL, err, sizeof err) < 0);
  assert_non_null(strstr(err, "ENRICHMENT_TIMEOUT_S"));
  unsetenv("ENRICHMENT_TIMEOUT_S");
  setenv("ENRICHMENT_URL", "localhost:8094", 1);
  assert_true(enrich_client_params_from_config(&p, NULL, err, sizeof err) < 0);
  assert_non_null(strstr(err, "ENRICHMENT_URL"));
  unsetenv("ENRICHMENT_URL");
  unsetenv("ENRICHMENT_LIGHT_URL");
}

static void test_reply_parse(void **s) {
  (void)s;
  enrich_result *r = malloc(sizeof *r);
  char err[256];
  const char *bad[] = {
      "not json",
      "[1,2]",
      "{\"pose\":null}",
      "{\"pose\":{\"keypoints\":[]},\"clothing\":null,\"demographics\":null,\"threat\":null,\"reid_embedding\":null,\"action\":null}",
      "{\"pose\":null,\"clothing\":null,\"demographics\":null,\"threat\":null,\"reid_embedding\":[1,2],\"action\":null}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    err[0] = 0;
    assert_int_equal(enrich_reply_parse(r, bad[i], strlen(bad[i]), err, sizeof err), -1);
    assert_true(err[0] != 0);
  }
  const char *ok = "{\"pose\":null,\"clothing\":{\"clothing_type\":\"hoodie\",\"color\":\"dark\",\"is_suspicious\":true},"
                   "\"demographics\":{\"age_range\":\"25-35\",\"gender\":\"female\",\"gender_confidence\":0.8},"
                   "\"threat\":{\"detected\":true,\"threat_type\":\"knife\",\"severity\":\"high\",\"confidence\":0.7,"
                   "\"bbox\":[1,2,3,4]},\"reid_embedding\":null,\"action\":null,\"models_used\":[\"a\",\"b\"],"
                   "\"errors\":{\"pose\":\"model missing\"},\"inference_time_ms\":12.5}";
  assert_int_equal(enrich_reply_parse(r, ok, strlen(ok), err, sizeof err), 0);
  assert_false(r->has_pose);
  assert_true(r->has_clothing && r->clothing.is_suspicious);
  assert_string_equal(r->clothing.clothing_type, "hoodie");
  assert_true(r->has_demographics);
  assert_string_equal(r->demo.gender, "female");
  assert_string_equal(r->demo.age_range, "25-35");
  assert_true(r->has_threat && r->threat.detected);
  assert_true(r->threat.x2 == 3.0f);
  assert_int_equal(r->n_models, 2);
  assert_int_equal(r->n_errors, 1);
  assert_string_equal(r->error_part[0], "pose");
  vigil_enrichment sum;
  enrich_result_summary(r, "d", &sum);
  assert_true(sum.threat.present);
  assert_string_equal(sum.threat.severity, "high");
  assert_false(sum.plate.present);
  /* a vehicle's plate comes back into the result and the summary */
  const char *veh = "{\"pose\":null,\"clothing\":null,\"demographics\":null,\"threat\":null,\"reid_embedding\":null,"
                    "\"action\":null,\"vehicle\":{\"license_plate\":{\"text\":\"KX21ABC\",\"raw_text\":\"KX21 ABC\","
                    "\"confidence\":0.93,\"bbox\":{\"x1\":10,\"y1\":20,\"x2\":90,\"y2\":40},\"known\":true,"
                    "\"source\":\"ocr-detector\"}}}";
  assert_int_equal(enrich_reply_parse(r, veh, strlen(veh), err, sizeof err), 0);
  assert_true(r->plate_ran && r->plate.found);
  assert_string_equal(r->plate.text, "KX21ABC");
  assert_string_equal(r->plate.raw, "KX21 ABC");
  assert_true(r->plate.known);
  assert_true(r->plate.x2 == 90.0f && r->plate.y1 == 20.0f);
  enrich_result_summary(r, "v", &sum);
  assert_true(sum.plate.present && sum.plate.known && sum.plate.votes == 1);
  assert_string_equal(sum.plate.text, "KX21ABC");
  free(r);
}

/* vigil analyze --enrich-url: the pipeline enriches through the service */
static void test_analyze_routes_over_http(void **s) {
  (void)s;
  const char *bin = getenv("VIGIL_BINARY");
  char cmd[4096];
  snprintf(cmd, sizeof cmd,
           "NEMOTRON_API=none %s analyze %s/person.jpg --enrich-url http://127.0.0.1:%d --json --quiet "
           "--db sqlite://%s/a.db --snapshots %s/snaps > %s/a.out 2> %s/a.err",
           bin, media, port, tmp, tmp, tmp, tmp);
  int rc = system(cmd);
  if (rc) {
    snprintf(cmd, sizeof cmd, "tail -20 %s/a.err >&2", tmp);
    (void)system(cmd);
  }
  assert_int_equal(rc, 0);
  sqlite3 *db;
  char path[512];
  snprintf(path, sizeof path, "%s/a.db", tmp);
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_stmt *q;
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT count(*) FROM enrichment_results e JOIN detections d ON d.id = e.detection_id "
                                      "WHERE d.class = 'person' AND e.json LIKE '%posture%'",
                                      -1, &q, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_true(sqlite3_column_int(q, 0) >= 1);
  sqlite3_finalize(q);
  sqlite3_close(db);
  /* the same with a service that never answers: enrichment fails per detection, events still come */
  snprintf(cmd, sizeof cmd,
           "NEMOTRON_API=none ENRICHMENT_TIMEOUT_S=1 %s analyze %s/person.jpg --enrich-url http://127.0.0.1:%d --json "
           "--quiet --db sqlite://%s/b.db --snapshots %s/snaps > %s/b.out 2> %s/b.err",
           bin, media, mute_port, tmp, tmp, tmp, tmp);
  assert_int_equal(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "grep -q 'enrichment of .*timed out' %s/b.err && grep -q '\"risk_level\"' %s/b.out", tmp, tmp);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest t[] = {
      cmocka_unit_test(test_config),
      cmocka_unit_test(test_reply_parse),
      cmocka_unit_test(test_person_matches_in_process),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_light_routing),
      cmocka_unit_test(test_split_failover_and_kill),
      cmocka_unit_test(test_analyze_routes_over_http),
  };
  return cmocka_run_group_tests(t, setup, teardown);
}
