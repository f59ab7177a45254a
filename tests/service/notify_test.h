/* Shared by the notification and dashboard tests: free loopback ports, a
 * stored event with a real JPEG snapshot, polling with a deadline. Header-only. */
#ifndef VIGIL_TESTS_NOTIFY_TEST_H
#define VIGIL_TESTS_NOTIFY_TEST_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "unit/test_risk_fixtures.h"
#include "vigil/store.h"

static inline int nt_free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (struct sockaddr *)&a, &l)) return -1;
  int p = ntohs(a.sin_port);
  close(fd);
  return p;
}

static inline double nt_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline void nt_sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Polls cond(ud) every 50 ms for up to secs; true when it held. */
static inline bool nt_wait(bool (*cond)(void *), void *ud, double secs) {
  double end = nt_now() + secs;
  do {
    if (cond(ud)) return true;
    nt_sleep_ms(50);
  } while (nt_now() < end);
  return cond(ud);
}

/* Stores one event of camera `cam` with the given labels (comma list) and
 * score, created now; snapshot (may be NULL) is its JPEG path. Returns its id. */
static inline int64_t nt_insert(store *s, const char *cam, const char *cam_name, const char *labels, int score,
                         const char *summary, const char *snapshot) {
  static int seq;
  vigil_batch b;
  vigil_batch_init(&b, cam);
  if (cam_name) vigil_strlcpy(b.camera_name, cam_name, sizeof b.camera_name);
  b.window_start = nt_now() - 5 + (seq++) * 1e-3;
  b.window_end = b.window_start + 4;
  b.local_hour = 12;
  char l[256];
  snprintf(l, sizeof l, "%s", labels);
  int k = 0;
  for (char *t = strtok(l, ","); t; t = strtok(NULL, ","), k++) {
    char id[64];
    snprintf(id, sizeof id, "%.20s-%d-%d-%d", cam, (int)getpid(), seq, k);
    vigil_detection d = fx_det(cam, id, t, 0.8f, b.window_start + k);
    vigil_enrichment e = fx_none();
    vigil_batch_add(&b, &d, &e);
  }
  if (snapshot) vigil_strlcpy(b.snapshot_path, snapshot, sizeof b.snapshot_path);
  vigil_event ev;
  vigil_event_init(&ev);
  ev.risk_score = score;
  vigil_strlcpy(ev.risk_level, vigil_risk_level(score), sizeof ev.risk_level);
  ev.summary = strdup(summary);
  ev.reasoning = strdup("Rules fired:\n- night_person: +15\n- weapon_knife: floor 85");
  vigil_strlcpy(ev.rules[ev.n_rules++], "night_person", VIGIL_RULE_LEN);
  vigil_strlcpy(ev.rules[ev.n_rules++], "weapon_knife", VIGIL_RULE_LEN);
  vigil_strlcpy(ev.scorer, "rules", sizeof ev.scorer);
  ev.created_at = nt_now();
  char err[512] = "";
  if (store_insert_batch(s, &b, &ev, NULL, err, sizeof err)) {
    fprintf(stderr, "# insert: %s\n", err);
    return -1;
  }
  int64_t id = ev.id;
  vigil_event_free(&ev);
  vigil_batch_free(&b);
  return id;
}

#endif
