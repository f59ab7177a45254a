/* The outbox dispatcher: one thread per configured sink takes due outbox rows
 * from the event store, delivers them (MQTT with Home Assistant discovery and
 * per-camera state topics, or a signed webhook POST), and marks them sent on
 * acknowledgement or schedules a retry with exponential backoff. */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "notify/notify.h"
#include "util/clock.h"
#include "util/log.h"
#include "vigil/cameras.h"
#include "vigil/config.h"
#include "vigil/http.h"
#include "vigil/status.h"
#include "vigil/store_json.h"

#define TICK_NS (200 * 1000000L)
#define CAMERA_REFRESH_S 2.0
#define MAX_SNAPSHOT_BYTES (16u << 20)
#define ACK_TIMEOUT_S 10.0
#define BATCH 5 /* outbox rows claimed at once: a dead claimer delays them by its lease */

typedef struct {
  char cam[VIGIL_ID_LEN], label[VIGIL_NAME_LEN];
  int count; /* as published */
  double until;
} live_count;

typedef struct {
  char **v;
  size_t n;
} strset;

struct notify {
  store *st;
  atomic_bool stop;
  double backoff, backoff_max;
  /* webhook */
  pthread_t wh_th;
  bool wh_on;
  char *wh_url, *wh_secret; /* in conf */
  double wh_timeout;
  /* mqtt */
  pthread_t mq_th;
  bool mq_on;
  mqtt_client *mq;
  char prefix[128];
  char **labels;
  size_t n_labels;
  double clear_s;
  char *cameras_file; /* in conf */
  char *conf;         /* one allocation behind the config strings the threads keep */
  unsigned announced_gen;
  double cams_at;
  store_camera *cams;
  size_t n_cams;
  strset known; /* discovery config topics of ours on the broker */
  live_count *live;
  size_t n_live;
  int64_t live_seq; /* the store's live_state rows seen up to here */
  /* counters for /metrics */
  atomic_ulong delivered[2], failures[2];
};

static void sleep_tick(void) {
  struct timespec ts = {0, TICK_NS};
  nanosleep(&ts, NULL);
}

static double retry_delay(const notify *n, int attempts) {
  double d = n->backoff;
  for (int i = 0; i < attempts && d < n->backoff_max; i++) d *= 2;
  return d < n->backoff_max ? d : n->backoff_max;
}

static const char *const sink[] = {"mqtt", "webhook"}; /* k: 0 mqtt, 1 webhook */

/* One delivery attempt of an outbox row on sink k: sent, or (err set)
 * retried after the backoff. */
static void attempt_done(notify *n, const store_outbox_item *it, int k, const char *err) {
  if (err) {
    double d = retry_delay(n, it->attempts);
    vlog_warn("%s: event %lld: %s; retry %d in %.1f s", sink[k], (long long)it->event_id, err, it->attempts + 1, d);
    store_outbox_retry(n->st, it->id, vigil_wall_s() + d, err, NULL, 0);
    atomic_fetch_add(&n->failures[k], 1);
  } else {
    store_outbox_sent(n->st, it->id, NULL, 0);
    atomic_fetch_add(&n->delivered[k], 1);
  }
}

/* The event as the events API serves it, serialised. */
static char *event_text(const vigil_event *ev) {
  json_t *j = vigil_event_to_json(ev);
  char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  return t;
}

/* The outbox row's event (*ev, which the caller frees) and its JSON text;
 * NULL when either fails, the row then retried after the longest backoff. */
static char *outbox_body(notify *n, const store_outbox_item *it, vigil_event *ev, char *err, size_t errlen) {
  int rc = store_get_event(n->st, it->event_id, ev, err, errlen);
  char *body = rc ? NULL : event_text(ev);
  if (!body) {
    if (!rc) vigil_event_free(ev);
    store_outbox_retry(n->st, it->id, vigil_wall_s() + n->backoff_max, rc ? err : "out of memory", NULL, 0);
  }
  return body;
}

/* Rows claimed but not attempted because we are stopping: due again at once. */
/* Claims up to BATCH due items of sink for lease_s seconds: their count, or 0
 * (logged) when the store fails. */
static size_t outbox_claim(notify *n, const char *sink, double now, double lease_s, store_outbox_item **it) {
  size_t cnt;
  char err[512];
  if (store_outbox_due(n->st, sink, now, lease_s, BATCH, it, &cnt, err, sizeof err)) {
    vlog_warn("%s: outbox: %s", sink, err);
    *it = NULL;
    return 0;
  }
  return cnt;
}

static void release_rest(notify *n, store_outbox_item *it, size_t cnt) {
  for (size_t i = 0; i < cnt; i++) store_outbox_release(n->st, it[i].id, NULL, 0);
}

/* A sink's delivery of one event as JSON text: 0, or non-zero with err set.
 * now: when the batch was claimed. */
typedef int (*sink_send)(notify *n, const vigil_event *ev, const char *body, double now, char *err,
                         size_t errlen);

/* Claims a batch of sink k's due rows (leased for lease_s) and attempts each
 * until stop; the rows not attempted are released for the next pass. */
static void deliver_batch(notify *n, int k, double now, double lease_s, sink_send send) {
  store_outbox_item *it;
  size_t cnt = outbox_claim(n, sink[k], now, lease_s, &it);
  char err[512];
  size_t i = 0;
  for (; i < cnt && !atomic_load(&n->stop); i++) {
    vigil_event ev;
    char *body = outbox_body(n, &it[i], &ev, err, sizeof err);
    if (!body) continue;
    int rc = send(n, &ev, body, now, err, sizeof err);
    vigil_event_free(&ev);
    attempt_done(n, &it[i], k, rc ? err : NULL);
    free(body);
  }
  release_rest(n, it + i, cnt - i);
  free(it);
}

/* ---- the webhook sink -------------------------------------------------------------------- */

static int webhook_send(notify *n, const vigil_event *ev, const char *body, double now, char *err, size_t errlen) {
  (void)now;
  return webhook_post(n->wh_url, n->wh_secret, body, strlen(body), ev->id, n->wh_timeout, err, errlen);
}

static void *webhook_main(void *arg) {
  notify *n = arg;
  while (!atomic_load(&n->stop)) {
    deliver_batch(n, 1, vigil_wall_s(), 30 + BATCH * n->wh_timeout, webhook_send);
    sleep_tick();
  }
  return NULL;
}

/* ---- the MQTT sink ------------------------------------------------------------------------- */

/* Topic-safe and Home-Assistant-id-safe form of a camera id or label. */
static void slug(char *out, size_t cap, const char *s) {
  size_t k = 0;
  for (; *s && k + 1 < cap; s++) {
    char c = *s;
    out[k++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'
                   ? c
                   : '_';
  }
  out[k] = '\0';
}

static bool strset_has(const strset *s, const char *v) {
  for (size_t i = 0; i < s->n; i++)
    if (!strcmp(s->v[i], v)) return true;
  return false;
}

static void strset_add(strset *s, const char *v) {
  if (strset_has(s, v)) return;
  char **nv = realloc(s->v, (s->n + 1) * sizeof *nv);
  if (!nv) return;
  s->v = nv;
  if ((s->v[s->n] = strdup(v))) s->n++;
}

static void strset_free(strset *s) {
  for (size_t i = 0; i < s->n; i++) free(s->v[i]);
  free(s->v);
  s->v = NULL;
  s->n = 0;
}

static void publish_json(notify *n, const char *topic, json_t *j, bool retain) {
  char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  if (t) mqtt_client_publish(n->mq, topic, t, strlen(t), retain);
  free(t);
}

static json_t *ha_common(const char *cam_slug, const char *cam_name, const char *name, const char *uid) {
  char ident[VIGIL_ID_LEN + 8];
  snprintf(ident, sizeof ident, "vigil_%s", cam_slug);
  return json_pack("{s:s,s:s,s:s,s:s,s:s,s:{s:[s],s:s,s:s,s:s}}", "name", name, "unique_id", uid,
                   "availability_topic", "vigil/available", "payload_available", "online", "payload_not_available",
                   "offline", "device", "identifiers", ident, "name", cam_name, "manufacturer", "vigil", "model",
                   "vigil camera");
}

/* Every discovery config topic of one camera, with its payload when pl != NULL. */
typedef void (*topic_fn)(notify *n, const char *topic, json_t *payload, void *ud);

static void camera_topics(notify *n, const store_camera *c, topic_fn fn, void *ud) {
  char cs[VIGIL_ID_LEN], topic[512], uid[256], state[256];
  slug(cs, sizeof cs, c->id);
  const char *cname = c->name[0] ? c->name : c->id;
  for (size_t i = 0; i < n->n_labels; i++) {
    char ls[VIGIL_NAME_LEN];
    slug(ls, sizeof ls, n->labels[i]);
    snprintf(topic, sizeof topic, "%s/binary_sensor/vigil_%s/%s/config", n->prefix, cs, ls);
    snprintf(uid, sizeof uid, "vigil_%s_%s", cs, ls);
    snprintf(state, sizeof state, "vigil/%s/%s", cs, ls);
    json_t *j = ha_common(cs, cname, n->labels[i], uid);
    if (j) {
      json_object_set_new(j, "state_topic", json_string(state));
      json_object_set_new(j, "value_template", json_string("{{ 'ON' if (value | int(0)) > 0 else 'OFF' }}"));
      json_object_set_new(j, "payload_on", json_string("ON"));
      json_object_set_new(j, "payload_off", json_string("OFF"));
      json_object_set_new(j, "device_class", json_string("occupancy"));
    }
    fn(n, topic, j, ud);
  }
  snprintf(state, sizeof state, "vigil/%s/risk", cs);
  snprintf(topic, sizeof topic, "%s/sensor/vigil_%s/risk_level/config", n->prefix, cs);
  snprintf(uid, sizeof uid, "vigil_%s_risk_level", cs);
  json_t *j = ha_common(cs, cname, "Risk level", uid);
  if (j) {
    json_object_set_new(j, "state_topic", json_string(state));
    json_object_set_new(j, "value_template", json_string("{{ value_json.level }}"));
    json_object_set_new(j, "device_class", json_string("enum"));
    json_object_set_new(j, "options", json_pack("[s,s,s,s]", "low", "medium", "high", "critical"));
    json_object_set_new(j, "json_attributes_topic", json_string(state));
  }
  fn(n, topic, j, ud);
  snprintf(topic, sizeof topic, "%s/sensor/vigil_%s/risk_score/config", n->prefix, cs);
  snprintf(uid, sizeof uid, "vigil_%s_risk_score", cs);
  j = ha_common(cs, cname, "Risk score", uid);
  if (j) {
    json_object_set_new(j, "state_topic", json_string(state));
    json_object_set_new(j, "value_template", json_string("{{ value_json.score }}"));
    json_object_set_new(j, "state_class", json_string("measurement"));
  }
  fn(n, topic, j, ud);
  snprintf(topic, sizeof topic, "%s/image/vigil_%s/snapshot/config", n->prefix, cs);
  snprintf(uid, sizeof uid, "vigil_%s_snapshot", cs);
  snprintf(state, sizeof state, "vigil/%s/snapshot", cs);
  j = ha_common(cs, cname, "Snapshot", uid);
  if (j) {
    json_object_set_new(j, "image_topic", json_string(state));
    json_object_set_new(j, "content_type", json_string("image/jpeg"));
  }
  fn(n, topic, j, ud);
}

static void announce_one(notify *n, const char *topic, json_t *j, void *ud) {
  strset_add(&n->known, topic);
  publish_json(n, topic, j, true);
}

static void desire_one(notify *n, const char *topic, json_t *j, void *ud) {
  json_decref(j);
  strset_add(ud, topic);
}

/* The cameras to announce: the registry file when configured, else the store's. */
static int load_cameras(notify *n, store_camera **out, size_t *cnt) {
  char err[512];
  if (n->cameras_file) {
    camera_registry r;
    if (cameras_load(&r, n->cameras_file, err, sizeof err)) {
      vlog_warn("mqtt: cameras: %s", err);
      return -1;
    }
    *out = calloc(r.n ? (size_t)r.n : 1, sizeof **out);
    if (!*out) {
      cameras_free(&r);
      return -1;
    }
    for (int i = 0; i < r.n; i++) {
      vigil_strlcpy((*out)[i].id, r.cams[i].id, sizeof (*out)[i].id);
      vigil_strlcpy((*out)[i].name, r.cams[i].name, sizeof (*out)[i].name);
    }
    *cnt = (size_t)r.n;
    cameras_free(&r);
    return 0;
  }
  if (store_list_cameras(n->st, out, cnt, err, sizeof err)) {
    vlog_warn("mqtt: cameras: %s", err);
    return -1;
  }
  return 0;
}

/* Announces every camera after each (re)connect and when the set changes;
 * clears (empty retained config) our configs of cameras that are gone. */
static void discovery_refresh(notify *n, bool force) {
  double t = vigil_wall_s();
  unsigned gen = mqtt_client_connects(n->mq);
  if (!force && gen == n->announced_gen && t - n->cams_at < CAMERA_REFRESH_S) return;
  store_camera *cams;
  size_t cnt;
  if (load_cameras(n, &cams, &cnt)) return;
  n->cams_at = t;
  bool changed = cnt != n->n_cams;
  for (size_t i = 0; !changed && i < cnt; i++)
    changed = strcmp(cams[i].id, n->cams[i].id) || strcmp(cams[i].name, n->cams[i].name);
  free(n->cams);
  n->cams = cams;
  n->n_cams = cnt;
  size_t ns;
  char **seen = mqtt_client_take_seen(n->mq, &ns);
  for (size_t i = 0; i < ns; i++) {
    char node[16];
    const char *p = strchr(seen[i] + strlen(n->prefix) + 1, '/'); /* after <prefix>/<component> */
    if (!strncmp(seen[i], n->prefix, strlen(n->prefix)) && p && sscanf(p + 1, "%6[^/]", node) == 1 &&
        !strcmp(node, "vigil_"))
      strset_add(&n->known, seen[i]);
    free(seen[i]);
  }
  free(seen);
  if (gen != n->announced_gen || changed || force)
    for (size_t i = 0; i < cnt; i++) camera_topics(n, &cams[i], announce_one, NULL);
  n->announced_gen = gen;
  strset desired = {0};
  for (size_t i = 0; i < cnt; i++) camera_topics(n, &cams[i], desire_one, &desired);
  for (size_t i = 0; i < n->known.n;) {
    if (strset_has(&desired, n->known.v[i])) {
      i++;
      continue;
    }
    vlog_info("mqtt: removing discovery %s (camera removed)", n->known.v[i]);
    mqtt_client_publish(n->mq, n->known.v[i], "", 0, true);
    free(n->known.v[i]);
    n->known.v[i] = n->known.v[--n->known.n];
  }
  strset_free(&desired);
}

/* Sets a retained count; published only when it changes (live states repeat
 * every second). A count above 0 falls back to 0 at `until` unless renewed. */
static void count_set(notify *n, const char *cs, const char *ls, int count, double until) {
  char topic[256], val[16];
  snprintf(topic, sizeof topic, "vigil/%s/%s", cs, ls);
  snprintf(val, sizeof val, "%d", count);
  for (size_t i = 0; i < n->n_live; i++)
    if (!strcmp(n->live[i].cam, cs) && !strcmp(n->live[i].label, ls)) {
      if (n->live[i].count != count) mqtt_client_publish(n->mq, topic, val, strlen(val), true);
      if (count) {
        n->live[i].until = until;
        n->live[i].count = count;
      } else {
        n->live[i] = n->live[--n->n_live];
      }
      return;
    }
  mqtt_client_publish(n->mq, topic, val, strlen(val), true);
  if (!count) return;
  live_count *nl = realloc(n->live, (n->n_live + 1) * sizeof *nl);
  if (!nl) return;
  n->live = nl;
  live_count *l = &n->live[n->n_live++];
  vigil_strlcpy(l->cam, cs, sizeof l->cam);
  vigil_strlcpy(l->label, ls, sizeof l->label);
  l->count = count;
  l->until = until;
}

static bool count_known(const notify *n, const char *cs, const char *ls) {
  for (size_t i = 0; i < n->n_live; i++)
    if (!strcmp(n->live[i].cam, cs) && !strcmp(n->live[i].label, ls)) return true;
  return false;
}

/* A camera whose pipeline publishes its live state (tracks now) at most
 * clear_s ago: its counts come from those tracks, not from events. */
static bool live_fresh(notify *n, const char *camera_id, double t) {
  store_live l;
  if (store_get_live(n->st, camera_id, false, &l, NULL, 0)) return false;
  bool fresh = t - l.updated_at <= n->clear_s;
  store_live_free(&l);
  return fresh;
}

/* Counts of the confirmed objects each camera tracks now, from the live
 * states the pipelines published since the last look (0 when they leave). */
static void live_counts(notify *n, double t) {
  store_live *lv;
  size_t nl;
  char err[256];
  if (store_live_after(n->st, n->live_seq, &lv, &nl, err, sizeof err)) {
    vlog_warn("mqtt: live state: %s", err);
    return;
  }
  for (size_t i = 0; i < nl; i++) {
    n->live_seq = lv[i].seq;
    if (t - lv[i].updated_at > n->clear_s) continue; /* an old state: no pipeline runs there now */
    json_t *tracks = json_loads(lv[i].tracks_json, 0, NULL);
    char cs[VIGIL_ID_LEN];
    slug(cs, sizeof cs, lv[i].camera_id);
    for (size_t k = 0; k < n->n_labels; k++) {
      int c = 0;
      size_t j;
      json_t *tr;
      json_array_foreach(tracks, j, tr) c += json_is_string(json_object_get(tr, "label")) &&
                                            !strcmp(json_string_value(json_object_get(tr, "label")), n->labels[k]);
      char ls[VIGIL_NAME_LEN];
      slug(ls, sizeof ls, n->labels[k]);
      if (c || count_known(n, cs, ls)) count_set(n, cs, ls, c, t + n->clear_s);
    }
    json_decref(tracks);
  }
  store_lives_free(lv, nl);
}

/* The per-camera state of a fresh event: label counts, risk, snapshot. */
static void publish_state(notify *n, const vigil_event *ev) {
  char cs[VIGIL_ID_LEN], topic[256], err[256];
  slug(cs, sizeof cs, ev->camera_id);
  vigil_detection *d;
  size_t nd;
  double t = vigil_wall_s();
  if (!live_fresh(n, ev->camera_id, t) && !store_event_detections(n->st, ev->id, &d, &nd, err, sizeof err)) {
    for (size_t i = 0; i < n->n_labels; i++) {
      int c = 0;
      for (size_t k = 0; k < nd; k++) c += !strcmp(d[k].cls, n->labels[i]);
      char ls[VIGIL_NAME_LEN];
      slug(ls, sizeof ls, n->labels[i]);
      if (c) count_set(n, cs, ls, c, t + n->clear_s);
    }
    free(d);
  }
  snprintf(topic, sizeof topic, "vigil/%s/risk", cs);
  publish_json(n, topic,
               json_pack("{s:s,s:i,s:I,s:s}", "level", ev->risk_level, "score", ev->risk_score, "event_id",
                         (json_int_t)ev->id, "summary", ev->summary ? ev->summary : ""),
               true);
  if (ev->snapshot_path && ev->snapshot_path[0]) {
    FILE *f = fopen(ev->snapshot_path, "rb");
    struct stat st;
    if (f && !fstat(fileno(f), &st) && S_ISREG(st.st_mode) && st.st_size > 0 && st.st_size <= MAX_SNAPSHOT_BYTES) {
      size_t len = (size_t)st.st_size;
      char *buf = malloc(len);
      if (buf && fread(buf, 1, len, f) == len) {
        snprintf(topic, sizeof topic, "vigil/%s/snapshot", cs);
        mqtt_client_publish(n->mq, topic, buf, len, true);
      }
      free(buf);
    }
    if (f) fclose(f);
  }
}

static int mqtt_send(notify *n, const vigil_event *ev, const char *body, double now, char *err, size_t errlen) {
  /* state topics only for fresh events: a backlog must not light up sensors */
  if (now - ev->created_at <= n->clear_s) publish_state(n, ev);
  return mqtt_client_publish_acked(n->mq, "vigil/events", body, strlen(body), ACK_TIMEOUT_S, err, errlen);
}

static void *mqtt_main(void *arg) {
  notify *n = arg;
  while (!atomic_load(&n->stop)) {
    if (!mqtt_client_connected(n->mq)) { /* events wait in the outbox; nothing is attempted */
      sleep_tick();
      continue;
    }
    discovery_refresh(n, false);
    double t = vigil_wall_s();
    live_counts(n, t);
    for (size_t i = 0; i < n->n_live;) { /* objects no longer reported: count back to 0 */
      if (n->live[i].until <= t) {
        live_count l = n->live[i];
        count_set(n, l.cam, l.label, 0, 0);
      } else {
        i++;
      }
    }
    deliver_batch(n, 0, t, 30 + BATCH * ACK_TIMEOUT_S, mqtt_send);
    sleep_tick();
  }
  return NULL;
}

/* ---- start, stop, metrics ------------------------------------------------------------------ */

/* Copies the values of n (at most 4) config keys into one allocation,
 * *block, that the threads keep while the environment may change: *vals[i]
 * the copy, NULL when the key is unset or empty. -1 when out of memory. */
static int cfg_copy(char **block, const char *const *keys, char **const *vals, int n) {
  const char *v[4];
  size_t total = 1;
  for (int i = 0; i < n && i < 4; i++) {
    v[i] = vigil_config_str(NULL, keys[i]);
    total += v[i] ? strlen(v[i]) + 1 : 0;
  }
  char *p = *block = malloc(total);
  if (!p) return -1;
  for (int i = 0; i < n && i < 4; i++) {
    *vals[i] = v[i] && *v[i] ? strcpy(p, v[i]) : NULL;
    p += *vals[i] ? strlen(p) + 1 : 0;
  }
  return 0;
}

int notify_start(notify **out, store *st, char *err, size_t errlen) {
  *out = NULL;
  const char *murl = vigil_config_str(NULL, "MQTT_URL"), *wurl = vigil_config_str(NULL, "WEBHOOK_URL");
  bool mq = murl && *murl, wh = wurl && *wurl;
  if (!mq && !wh) return 0;
  notify *n = calloc(1, sizeof *n);
  if (!n) return -1;
  n->st = st;
  long buf = 1000;
  const char *lvl = vigil_config_str(NULL, "WEBHOOK_MIN_LEVEL");
  if (vigil_config_float(NULL, "NOTIFY_BACKOFF_S", &n->backoff, err, errlen) ||
      vigil_config_float(NULL, "NOTIFY_BACKOFF_MAX_S", &n->backoff_max, err, errlen) ||
      vigil_config_float(NULL, "WEBHOOK_TIMEOUT_S", &n->wh_timeout, err, errlen) ||
      vigil_config_float(NULL, "MQTT_CLEAR_S", &n->clear_s, err, errlen) ||
      vigil_config_int(NULL, "MQTT_BUFFER", &buf, err, errlen) ||
      vigil_config_list(NULL, "MQTT_LABELS", &n->labels, &n->n_labels, err, errlen))
    goto fail;
  if (lvl && *lvl && !vigil_risk_level_valid(lvl)) {
    vigil_err(err, errlen, -1, "WEBHOOK_MIN_LEVEL must be low, medium, high or critical");
    goto fail;
  }
  const char *pfx = vigil_config_str(NULL, "MQTT_DISCOVERY_PREFIX");
  snprintf(n->prefix, sizeof n->prefix, "%s", pfx && *pfx ? pfx : "homeassistant");
  static const char *const kept[] = {"VIGIL_CAMERAS", "WEBHOOK_URL", "WEBHOOK_SECRET"};
  char **const into[] = {&n->cameras_file, &n->wh_url, &n->wh_secret};
  if (cfg_copy(&n->conf, kept, into, 3)) {
    vigil_err(err, errlen, -1, "out of memory");
    goto fail;
  }
  if (mq) {
    char sub[160];
    snprintf(sub, sizeof sub, "%s/+/+/+/config", n->prefix);
    if (mqtt_client_start(&n->mq, murl, vigil_config_str(NULL, "MQTT_CLIENT_ID"), (size_t)buf, sub, err, errlen))
      goto fail;
    if (pthread_create(&n->mq_th, NULL, mqtt_main, n)) {
      vigil_err(err, errlen, -1, "cannot start the MQTT thread");
      goto fail;
    }
    n->mq_on = true;
  }
  if (wh) {
    if (pthread_create(&n->wh_th, NULL, webhook_main, n)) {
      vigil_err(err, errlen, -1, "cannot start the webhook thread");
      goto fail;
    }
    n->wh_on = true;
  }
  vlog_info("notifications:%s%s", mq ? " mqtt" : "", wh ? " webhook" : "");
  *out = n;
  return 0;
fail:
  notify_stop(n);
  return -1;
}

void notify_stop(notify *n) {
  if (!n) return;
  atomic_store(&n->stop, true);
  if (n->mq_on) pthread_join(n->mq_th, NULL);
  if (n->wh_on) pthread_join(n->wh_th, NULL);
  mqtt_client_stop(n->mq);
  vigil_config_list_free(n->labels, n->n_labels);
  strset_free(&n->known);
  free(n->cams);
  free(n->live);
  free(n->conf);
  free(n);
}

bool notify_drain(notify *n, double secs) {
  if (!n) return true;
  double end = vigil_wall_s() + secs;
  for (;;) {
    int64_t a = 0, b = 0;
    if (n->mq_on) store_outbox_pending(n->st, "mqtt", &a, NULL, 0);
    if (n->wh_on) store_outbox_pending(n->st, "webhook", &b, NULL, 0);
    if (a + b == 0) return true;
    if (vigil_wall_s() >= end) {
      vlog_warn("notifications: %lld alert(s) not yet delivered; they stay in the outbox", (long long)(a + b));
      return false;
    }
    sleep_tick();
  }
}

void notify_metrics(notify *n, vigil_metrics_out *o) {
  if (!n) return;
  static const char *const sinks[2] = {"mqtt", "webhook"};
  vigil_metrics_header(o, "vigil_notify_delivered_total", "counter", "Outbox rows delivered and acknowledged");
  for (int i = 0; i < 2; i++) {
    char l[32];
    snprintf(l, sizeof l, "sink=\"%s\"", sinks[i]);
    vigil_metrics_sample(o, "vigil_notify_delivered_total", l, (double)atomic_load(&n->delivered[i]));
  }
  vigil_metrics_header(o, "vigil_notify_failures_total", "counter", "Failed delivery attempts (retried)");
  for (int i = 0; i < 2; i++) {
    char l[32];
    snprintf(l, sizeof l, "sink=\"%s\"", sinks[i]);
    vigil_metrics_sample(o, "vigil_notify_failures_total", l, (double)atomic_load(&n->failures[i]));
  }
  vigil_metrics_header(o, "vigil_outbox_pending", "gauge", "Outbox rows not yet acknowledged");
  for (int i = 0; i < 2; i++) {
    int64_t p = 0;
    char l[32];
    snprintf(l, sizeof l, "sink=\"%s\"", sinks[i]);
    if (!store_outbox_pending(n->st, sinks[i], &p, NULL, 0)) vigil_metrics_sample(o, "vigil_outbox_pending", l, (double)p);
  }
  if (n->mq) {
    vigil_metrics_header(o, "vigil_mqtt_connected", "gauge", "1 while connected to the broker");
    vigil_metrics_sample(o, "vigil_mqtt_connected", "", mqtt_client_connected(n->mq));
    vigil_metrics_header(o, "vigil_mqtt_buffered", "gauge", "Messages held while the broker is down");
    vigil_metrics_sample(o, "vigil_mqtt_buffered", "", (double)mqtt_client_buffered(n->mq));
    vigil_metrics_header(o, "vigil_mqtt_dropped_total", "counter", "Held messages dropped (buffer full, oldest first)");
    vigil_metrics_sample(o, "vigil_mqtt_dropped_total", "", (double)mqtt_client_dropped(n->mq));
  }
}
