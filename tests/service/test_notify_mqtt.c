/* MQTT against a real mosquitto broker that this test starts on a free
 * loopback port (with a password file): `vigil serve events` delivers the
 * outbox to vigil/events, per-camera counts, risk and snapshot topics, and
 * announces Home Assistant discovery configs, validated here against HA's
 * documented schema per entity type (binary_sensor, sensor, image); a
 * removed camera's configs are cleared; delivery resumes after a broker
 * restart; the last will says offline; a refused login is retried, never
 * delivered; the buffer kept while the broker is down is bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <mosquitto.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "notify/notify.h"
#include "service/notify_test.h"
#include "util/assets.h"

static char dir[128], snap[1024];
static int broker_port, http_port;
static pid_t broker_pid;

/* ---- the broker ---- */

static void broker_start(void) {
  broker_pid = fork();
  if (broker_pid == 0) {
    char conf[256], log[256];
    snprintf(conf, sizeof conf, "%s/mosquitto.conf", dir);
    snprintf(log, sizeof log, "%s/mosquitto.out", dir);
    if (!freopen(log, "a", stdout) || !freopen(log, "a", stderr)) _exit(126);
    execl("/usr/sbin/mosquitto", "mosquitto", "-c", conf, (char *)NULL);
    _exit(127);
  }
  assert_true(broker_pid > 0);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "for i in $(seq 100); do (echo > /dev/tcp/127.0.0.1/%d) 2>/dev/null && exit 0; sleep 0.05; done; exit 1",
           broker_port);
  char sh[300];
  snprintf(sh, sizeof sh, "bash -c '%s'", cmd);
  assert_int_equal(system(sh), 0);
}

static void broker_stop(void) {
  kill(broker_pid, SIGTERM);
  int st;
  waitpid(broker_pid, &st, 0);
  broker_pid = 0;
}

/* ---- an observer client that records every message ---- */

typedef struct {
  char *topic;
  unsigned char *payload;
  int len;
  bool retain;
} rec_msg;

static pthread_mutex_t obs_mu = PTHREAD_MUTEX_INITIALIZER;
static rec_msg *msgs;
static size_t n_msgs;
static struct mosquitto *obs;

static void obs_connect(struct mosquitto *m, void *ud, int rc) {
  if (!rc) mosquitto_subscribe(m, NULL, "#", 1);
}

static void obs_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg) {
  pthread_mutex_lock(&obs_mu);
  rec_msg *nm = realloc(msgs, (n_msgs + 1) * sizeof *nm);
  if (nm) {
    msgs = nm;
    rec_msg *r = &msgs[n_msgs++];
    r->topic = strdup(msg->topic);
    r->payload = malloc((size_t)msg->payloadlen + 1);
    if (msg->payloadlen > 0) memcpy(r->payload, msg->payload, (size_t)msg->payloadlen);
    r->payload[msg->payloadlen] = 0;
    r->len = msg->payloadlen;
    r->retain = msg->retain;
  }
  pthread_mutex_unlock(&obs_mu);
}

/* The newest message on `topic` received at index >= from: its payload copied, or NULL. */
static char *last_on(const char *topic, size_t from, int *len) {
  char *out = NULL;
  pthread_mutex_lock(&obs_mu);
  for (size_t i = n_msgs; i-- > from;)
    if (!strcmp(msgs[i].topic, topic)) {
      out = malloc((size_t)msgs[i].len + 1);
      memcpy(out, msgs[i].payload, (size_t)msgs[i].len + 1);
      if (len) *len = msgs[i].len;
      break;
    }
  pthread_mutex_unlock(&obs_mu);
  return out;
}

static size_t mark(void) {
  pthread_mutex_lock(&obs_mu);
  size_t n = n_msgs;
  pthread_mutex_unlock(&obs_mu);
  return n;
}

typedef struct {
  const char *topic;
  const char *want; /* NULL: any payload; "" : an empty payload */
  size_t from;
} wait_msg;

static bool have_msg(void *ud) {
  wait_msg *w = ud;
  int len = -1;
  char *p = last_on(w->topic, w->from, &len);
  bool ok = p && (!w->want || (len == (int)strlen(w->want) && !memcmp(p, w->want, (size_t)len)));
  free(p);
  return ok;
}

/* A message on topic published after `from` by a client, not a retained copy
 * the broker replays on a (re)subscription. */
static bool have_fresh(void *ud) {
  wait_msg *w = ud;
  bool ok = false;
  pthread_mutex_lock(&obs_mu);
  for (size_t i = w->from; i < n_msgs && !ok; i++) ok = !msgs[i].retain && !strcmp(msgs[i].topic, w->topic);
  pthread_mutex_unlock(&obs_mu);
  return ok;
}

static bool got(const char *topic, const char *want, size_t from, double secs) {
  wait_msg w = {topic, want, from};
  bool ok = nt_wait(have_msg, &w, secs);
  if (!ok) fprintf(stderr, "# no message '%s' on %s\n", want ? want : "(any)", topic);
  return ok;
}

typedef struct {
  int64_t id;
  size_t from;
} wait_event;

static bool have_event(void *ud) {
  wait_event *w = ud;
  bool ok = false;
  pthread_mutex_lock(&obs_mu);
  for (size_t i = w->from; i < n_msgs && !ok; i++) {
    if (strcmp(msgs[i].topic, "vigil/events")) continue;
    json_t *j = json_loadb((const char *)msgs[i].payload, (size_t)msgs[i].len, 0, NULL);
    ok = j && json_integer_value(json_object_get(j, "id")) == w->id;
    json_decref(j);
  }
  pthread_mutex_unlock(&obs_mu);
  return ok;
}

/* A client connecting now receives what the broker retained under `filter`:
 * the number of retained, non-empty messages it got within 3 s. */
static int retained_count(const char *filter) {
  struct mosquitto *late = mosquitto_new("late", true, NULL);
  assert_non_null(late);
  mosquitto_username_pw_set(late, "observer", "obs");
  mosquitto_message_callback_set(late, obs_message);
  size_t m = mark();
  assert_int_equal(mosquitto_connect(late, "127.0.0.1", broker_port, 30), 0);
  mosquitto_subscribe(late, NULL, filter, 1);
  for (int i = 0; i < 30; i++) mosquitto_loop(late, 100, 1);
  mosquitto_disconnect(late);
  mosquitto_destroy(late);
  int n = 0;
  pthread_mutex_lock(&obs_mu);
  for (size_t i = m; i < n_msgs; i++) n += msgs[i].retain && msgs[i].len > 0;
  pthread_mutex_unlock(&obs_mu);
  return n;
}

/* ---- Home Assistant's MQTT discovery schema, per entity type ----
 * From the HA docs (integrations binary_sensor.mqtt, sensor.mqtt, image.mqtt,
 * and the shared entity options): required keys, allowed keys with types, and
 * the documented constraints between them. */

typedef struct {
  const char *key;
  json_type type;
} ha_key;

static const ha_key ha_common[] = {
    {"name", JSON_STRING},           {"unique_id", JSON_STRING},         {"object_id", JSON_STRING},
    {"availability_topic", JSON_STRING}, {"payload_available", JSON_STRING}, {"payload_not_available", JSON_STRING},
    {"availability_template", JSON_STRING}, {"device", JSON_OBJECT},    {"icon", JSON_STRING},
    {"json_attributes_topic", JSON_STRING}, {"json_attributes_template", JSON_STRING},
    {"enabled_by_default", JSON_TRUE}, {"entity_category", JSON_STRING}, {"qos", JSON_INTEGER},
    {"encoding", JSON_STRING},
};
static const ha_key ha_binary_sensor[] = {
    {"state_topic", JSON_STRING}, {"value_template", JSON_STRING}, {"payload_on", JSON_STRING},
    {"payload_off", JSON_STRING}, {"device_class", JSON_STRING},   {"off_delay", JSON_INTEGER},
    {"expire_after", JSON_INTEGER}, {"force_update", JSON_TRUE},
};
static const ha_key ha_sensor[] = {
    {"state_topic", JSON_STRING},  {"value_template", JSON_STRING}, {"device_class", JSON_STRING},
    {"state_class", JSON_STRING},  {"unit_of_measurement", JSON_STRING}, {"options", JSON_ARRAY},
    {"expire_after", JSON_INTEGER}, {"force_update", JSON_TRUE}, {"suggested_display_precision", JSON_INTEGER},
    {"last_reset_value_template", JSON_STRING},
};
static const ha_key ha_image[] = {
    {"image_topic", JSON_STRING}, {"url_topic", JSON_STRING},     {"url_template", JSON_STRING},
    {"content_type", JSON_STRING}, {"image_encoding", JSON_STRING},
};
static const char *const binary_device_classes[] = {
    "battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door", "garage_door", "gas", "heat",
    "light", "lock", "moisture", "motion", "moving", "occupancy", "opening", "plug", "power", "presence", "problem",
    "running", "safety", "smoke", "sound", "tamper", "update", "vibration", "window"};

static bool key_ok(const ha_key *t, size_t n, const char *k, json_t *v, bool *known) {
  for (size_t i = 0; i < n; i++) {
    if (strcmp(t[i].key, k)) continue;
    *known = true;
    if (t[i].type == JSON_TRUE) return json_is_boolean(v);
    return json_typeof(v) == t[i].type;
  }
  return true;
}

/* Fails the test with the reason when `cfg` breaks the schema of `component`. */
static void ha_validate(const char *topic, const char *component, json_t *cfg) {
  const ha_key *spec = NULL;
  size_t ns = 0;
  if (!strcmp(component, "binary_sensor")) spec = ha_binary_sensor, ns = sizeof ha_binary_sensor / sizeof *spec;
  else if (!strcmp(component, "sensor")) spec = ha_sensor, ns = sizeof ha_sensor / sizeof *spec;
  else if (!strcmp(component, "image")) spec = ha_image, ns = sizeof ha_image / sizeof *spec;
  else fail_msg("%s: unexpected component %s", topic, component);
  assert_true(json_is_object(cfg));
  const char *k;
  json_t *v;
  json_object_foreach(cfg, k, v) {
    bool known = false;
    if (!key_ok(ha_common, sizeof ha_common / sizeof *ha_common, k, v, &known) || !key_ok(spec, ns, k, v, &known))
      fail_msg("%s: key '%s' has the wrong type", topic, k);
    if (!known) fail_msg("%s: key '%s' is not an option of %s", topic, k, component);
  }
  /* entities grouped in a device need a unique_id; a device needs identifiers or connections */
  json_t *dev = json_object_get(cfg, "device");
  if (dev) {
    if (!json_is_string(json_object_get(cfg, "unique_id"))) fail_msg("%s: device without unique_id", topic);
    json_t *ids = json_object_get(dev, "identifiers");
    if (!(json_is_array(ids) && json_array_size(ids) > 0) && !json_object_get(dev, "connections"))
      fail_msg("%s: device needs identifiers or connections", topic);
    json_object_foreach(dev, k, v) {
      static const char *const dk[] = {"identifiers", "connections", "name", "manufacturer", "model", "sw_version",
                                       "hw_version", "suggested_area", "via_device", "configuration_url"};
      bool found = false;
      for (size_t i = 0; i < sizeof dk / sizeof *dk; i++) found |= !strcmp(dk[i], k);
      if (!found) fail_msg("%s: device key '%s' unknown", topic, k);
    }
  }
  if (!strcmp(component, "binary_sensor") || !strcmp(component, "sensor"))
    if (!json_is_string(json_object_get(cfg, "state_topic"))) fail_msg("%s: state_topic is required", topic);
  if (!strcmp(component, "binary_sensor") && json_object_get(cfg, "device_class")) {
    const char *dc = json_string_value(json_object_get(cfg, "device_class"));
    bool found = false;
    for (size_t i = 0; i < sizeof binary_device_classes / sizeof *binary_device_classes; i++)
      found |= !strcmp(dc, binary_device_classes[i]);
    if (!found) fail_msg("%s: binary_sensor device_class '%s' unknown", topic, dc);
  }
  if (!strcmp(component, "sensor")) {
    const char *dc = json_string_value(json_object_get(cfg, "device_class"));
    const char *sc = json_string_value(json_object_get(cfg, "state_class"));
    if (sc && strcmp(sc, "measurement") && strcmp(sc, "total") && strcmp(sc, "total_increasing"))
      fail_msg("%s: state_class '%s' unknown", topic, sc);
    if (dc && !strcmp(dc, "enum")) { /* an enum sensor lists its options and has no state class or unit */
      json_t *o = json_object_get(cfg, "options");
      if (!json_is_array(o) || !json_array_size(o)) fail_msg("%s: enum sensor without options", topic);
      if (sc || json_object_get(cfg, "unit_of_measurement")) fail_msg("%s: enum sensor with state_class/unit", topic);
    } else if (json_object_get(cfg, "options")) {
      fail_msg("%s: options need device_class enum", topic);
    }
  }
  if (!strcmp(component, "image")) {
    bool it = json_object_get(cfg, "image_topic"), ut = json_object_get(cfg, "url_topic");
    if (it == ut) fail_msg("%s: exactly one of image_topic and url_topic", topic);
    if (ut && json_object_get(cfg, "content_type")) fail_msg("%s: content_type only with image_topic", topic);
    const char *enc = json_string_value(json_object_get(cfg, "image_encoding"));
    if (enc && strcmp(enc, "b64")) fail_msg("%s: image_encoding must be b64", topic);
  }
}

static const char *const comp_of[5] = {"binary_sensor", "binary_sensor", "sensor", "sensor", "image"};
static const char *const obj_of[5] = {"person", "car", "risk_level", "risk_score", "snapshot"};

static void config_topic(char *out, size_t cap, const char *cam, int i) {
  snprintf(out, cap, "homeassistant/%s/vigil_%s/%s/config", comp_of[i], cam, obj_of[i]);
}

/* ---- vigil serve events, as a child process ---- */

static pid_t vigil_start(void) {
  pid_t p = fork();
  if (p == 0) {
    char port[16], log[256];
    snprintf(port, sizeof port, "%d", http_port);
    snprintf(log, sizeof log, "%s/vigil.out", dir);
    if (!freopen(log, "a", stdout) || !freopen(log, "a", stderr)) _exit(126);
    execl(getenv("VIGIL_BINARY"), "vigil", "serve", "events", "--port", port, "--bind", "127.0.0.1", (char *)NULL);
    _exit(127);
  }
  return p;
}

static store *st;

static int64_t pending(void) {
  int64_t n = -1;
  assert_int_equal(store_outbox_pending(st, "mqtt", &n, NULL, 0), 0);
  return n;
}

static bool none_pending(void *ud) { return pending() == 0; }

static void write_cameras(bool with_back) {
  char path[256];
  snprintf(path, sizeof path, "%s/cameras.json", dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fprintf(f, "[{\"id\": \"front\", \"name\": \"Front <b>door</b>\"}%s]\n",
          with_back ? ", {\"id\": \"back\", \"name\": \"Back yard\"}" : "");
  fclose(f);
}

static void mq_refused_login(void **state) {
  char url[128], err[256];
  snprintf(url, sizeof url, "mqtt://vigil:wrong@127.0.0.1:%d", broker_port);
  mqtt_client *c;
  assert_int_equal(mqtt_client_start(&c, url, "refused", 10, NULL, err, sizeof err), 0);
  for (int i = 0; i < 100 && !mqtt_client_last_refusal(c); i++) nt_sleep_ms(50);
  assert_int_equal(mqtt_client_last_refusal(c), 5); /* CONNACK: not authorised */
  assert_false(mqtt_client_connected(c));
  mqtt_client_stop(c);
  /* malformed URLs are refused up front */
  assert_int_equal(mqtt_client_start(&c, "http://x", "x", 10, NULL, err, sizeof err), -1);
  mqtt_url u;
  assert_int_equal(mqtt_url_parse(&u, "mqtt://us%40er:p%3Ass@host.lan:1884", err, sizeof err), 0);
  assert_string_equal(u.user, "us@er");
  assert_string_equal(u.pass, "p:ss");
  assert_string_equal(u.host, "host.lan");
  assert_int_equal(u.port, 1884);
  assert_int_equal(mqtt_url_parse(&u, "mqtt://host:99999", err, sizeof err), -1);
  assert_int_equal(mqtt_url_parse(&u, "mqtt://:1883", err, sizeof err), -1);
}

static void mq_buffer_bounded(void **state) {
  /* the broker is down: 5 messages into a buffer of 3; the 2 oldest are
   * dropped and counted, the 3 newest are sent in order once it is back */
  broker_stop();
  char url[128], err[256];
  snprintf(url, sizeof url, "mqtt://vigil:secret@127.0.0.1:%d", broker_port);
  mqtt_client *c;
  assert_int_equal(mqtt_client_start(&c, url, "buffered", 3, NULL, err, sizeof err), 0);
  for (int i = 1; i <= 5; i++) {
    char v[8];
    snprintf(v, sizeof v, "m%d", i);
    mqtt_client_publish(c, "vigil/test/buffered", v, strlen(v), false);
  }
  assert_int_equal(mqtt_client_buffered(c), 3);
  assert_int_equal(mqtt_client_dropped(c), 2);
  size_t m = mark();
  broker_start();
  assert_true(got("vigil/test/buffered", "m5", m, 60));
  assert_int_equal(mqtt_client_buffered(c), 0);
  mqtt_client_stop(c);
  pthread_mutex_lock(&obs_mu);
  char seq[64] = "";
  for (size_t i = m; i < n_msgs; i++)
    if (!strcmp(msgs[i].topic, "vigil/test/buffered") && strlen(seq) + 4 < sizeof seq) strcat(seq, (char *)msgs[i].payload);
  pthread_mutex_unlock(&obs_mu);
  assert_string_equal(seq, "m3m4m5");
}

static void mq_end_to_end(void **state) {
  char topic[256];
  size_t m0 = mark();
  pid_t vp = vigil_start();
  assert_true(got("vigil/available", "online", m0, 30));
  /* discovery: five configs per camera, each valid for its entity type */
  for (int cam = 0; cam < 2; cam++)
    for (int i = 0; i < 5; i++) {
      config_topic(topic, sizeof topic, cam ? "back" : "front", i);
      assert_true(got(topic, NULL, m0, 30));
      char *p = last_on(topic, m0, NULL);
      json_t *j = json_loads(p, 0, NULL);
      free(p);
      assert_non_null(j);
      ha_validate(topic, comp_of[i], j);
      json_t *dev = json_object_get(j, "device");
      assert_string_equal(json_string_value(json_array_get(json_object_get(dev, "identifiers"), 0)),
                          cam ? "vigil_back" : "vigil_front");
      if (!cam) assert_string_equal(json_string_value(json_object_get(dev, "name")), "Front <b>door</b>");
      json_decref(j);
    }
  assert_int_equal(retained_count("homeassistant/#"), 10); /* retained for a Home Assistant that starts later */
  /* an event: vigil/events, counts, risk, snapshot; the outbox row is acknowledged */
  size_t m1 = mark();
  int64_t id = nt_insert(st, "front", "Front <b>door</b>", "person,person,car", 80, "two people <script>x</script>", snap);
  assert_true(id > 0);
  wait_event we = {id, m1};
  assert_true(nt_wait(have_event, &we, 30));
  assert_true(got("vigil/front/person", "2", m1, 10));
  assert_true(got("vigil/front/car", "1", m1, 10));
  assert_true(got("vigil/front/risk", NULL, m1, 10));
  char *risk = last_on("vigil/front/risk", m1, NULL);
  json_t *rj = json_loads(risk, 0, NULL);
  free(risk);
  assert_int_equal(json_integer_value(json_object_get(rj, "score")), 80);
  assert_int_equal(json_integer_value(json_object_get(rj, "event_id")), id);
  assert_string_equal(json_string_value(json_object_get(rj, "level")), vigil_risk_level(80));
  json_decref(rj);
  assert_true(got("vigil/front/snapshot", NULL, m1, 10));
  int len = 0;
  char *img = last_on("vigil/front/snapshot", m1, &len);
  FILE *f = fopen(snap, "rb");
  assert_non_null(f);
  char *want = malloc((size_t)len + 1);
  assert_int_equal(fread(want, 1, (size_t)len + 1, f), (size_t)len); /* same length ... */
  fclose(f);
  assert_memory_equal(img, want, (size_t)len); /* ... same bytes */
  free(img);
  free(want);
  assert_true(nt_wait(none_pending, NULL, 10));
  /* objects gone: the count returns to 0 (MQTT_CLEAR_S=2) */
  assert_true(got("vigil/front/person", "0", m1, 20));
  assert_true(got("vigil/front/car", "0", m1, 20));

  /* a pipeline's live state: the counts are the objects tracked now, 0 when they leave */
  size_t ml = mark();
  assert_int_equal(store_put_live(st, "front", nt_now(), 640, 480,
                                  "[{\"id\":1,\"label\":\"person\"},{\"id\":2,\"label\":\"person\"},"
                                  "{\"id\":3,\"label\":\"person\"},{\"id\":4,\"label\":\"dog\"}]",
                                  NULL, NULL, 0, NULL, 0), 0);
  assert_true(got("vigil/front/person", "3", ml, 20));
  size_t ml2 = mark();
  assert_int_equal(store_put_live(st, "front", nt_now(), 640, 480, "[{\"id\":5,\"label\":\"car\"}]", NULL, NULL, 0, NULL, 0), 0);
  assert_true(got("vigil/front/car", "1", ml2, 20));
  assert_true(got("vigil/front/person", "0", ml2, 20));
  /* no further state (the pipeline stopped): the count clears after MQTT_CLEAR_S */
  assert_true(got("vigil/front/car", "0", ml2, 20));

  /* a camera removed: its configs are cleared (empty retained payloads) */
  size_t m2 = mark();
  write_cameras(false);
  for (int i = 0; i < 5; i++) {
    config_topic(topic, sizeof topic, "back", i);
    assert_true(got(topic, "", m2, 20));
  }
  assert_int_equal(retained_count("homeassistant/+/vigil_back/#"), 0); /* gone from the broker */
  assert_int_equal(retained_count("homeassistant/+/vigil_front/#"), 5);

  /* the broker restarts; an event stored while it is down is delivered after */
  broker_stop();
  int64_t id2 = nt_insert(st, "front", "Front <b>door</b>", "person", 40, "while the broker was down", NULL);
  nt_sleep_ms(1500);
  assert_int_equal(pending(), 1); /* nothing acknowledged it */
  size_t m3 = mark();
  broker_start();
  wait_event we2 = {id2, m3};
  assert_true(nt_wait(have_event, &we2, 90));
  assert_true(nt_wait(none_pending, NULL, 10));
  config_topic(topic, sizeof topic, "front", 0);
  wait_msg fresh = {topic, NULL, m3};
  assert_true(nt_wait(have_fresh, &fresh, 30)); /* announced again on reconnect (not the broker's retained copy) */
  assert_true(got("vigil/available", "online", m3, 30));

  /* metrics of the events service say so */
  char cmd[512];
  snprintf(cmd, sizeof cmd, "curl -sf http://127.0.0.1:%d/metrics | grep -q '^vigil_mqtt_connected 1'", http_port);
  assert_int_equal(system(cmd), 0);

  /* the last will: killed without a goodbye, the broker says offline for us */
  size_t m4 = mark();
  kill(vp, SIGKILL);
  int stt;
  waitpid(vp, &stt, 0);
  assert_true(got("vigil/available", "offline", m4, 30));
  /* a clean stop says offline too */
  size_t m5 = mark();
  vp = vigil_start();
  assert_true(got("vigil/available", "online", m5, 30));
  size_t m6 = mark();
  kill(vp, SIGTERM);
  waitpid(vp, &stt, 0);
  assert_true(WIFEXITED(stt) && WEXITSTATUS(stt) == 0);
  assert_true(got("vigil/available", "offline", m6, 10));
}

static void mq_refused_keeps_outbox(void **state) {
  /* a dispatcher whose login is refused delivers nothing and keeps the row */
  char url[128], err[256];
  snprintf(url, sizeof url, "mqtt://vigil:wrong@127.0.0.1:%d", broker_port);
  setenv("MQTT_URL", url, 1);
  setenv("MQTT_CLIENT_ID", "refused-dispatcher", 1);
  notify *n;
  int64_t id = nt_insert(st, "front", NULL, "person", 20, "refused", NULL);
  size_t m = mark();
  assert_int_equal(notify_start(&n, st, err, sizeof err), 0);
  nt_sleep_ms(1500);
  notify_stop(n);
  assert_int_equal(pending(), 1);
  wait_event we = {id, m};
  assert_false(have_event(&we));
}

static int setup(void **state) {
  snprintf(dir, sizeof dir, "/tmp/vigil-mqtt-XXXXXX");
  if (!mkdtemp(dir) || chmod(dir, 0755)) return -1;
  if (vigil_asset_require(snap, sizeof snap, "media/dog.jpg")) {
    fprintf(stderr, "# %s\n", vigil_asset_errmsg());
    return -1;
  }
  broker_port = nt_free_port();
  http_port = nt_free_port();
  char path[256], cmd[512];
  snprintf(path, sizeof path, "%s/mosquitto.conf", dir);
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fprintf(f, "listener %d 127.0.0.1\nallow_anonymous false\npassword_file %s/passwd\npersistence true\n"
          "persistence_location %s/\n%s",
          broker_port, dir, dir, geteuid() == 0 ? "user root\n" : "");
  fclose(f);
  snprintf(cmd, sizeof cmd,
           "mosquitto_passwd -b -c %s/passwd vigil secret && mosquitto_passwd -b %s/passwd observer obs && chmod 644 %s/passwd",
           dir, dir, dir);
  if (system(cmd)) return -1;
  broker_start();
  mosquitto_lib_init();
  /* a persistent session (the broker persists it across its restarts): what is
   * published while the observer reconnects after a restart is queued for it,
   * so a client that reconnects first loses nothing the tests look for */
  obs = mosquitto_new("observer", false, NULL);
  mosquitto_username_pw_set(obs, "observer", "obs");
  mosquitto_connect_callback_set(obs, obs_connect);
  mosquitto_message_callback_set(obs, obs_message);
  mosquitto_reconnect_delay_set(obs, 1, 2, false);
  if (mosquitto_connect(obs, "127.0.0.1", broker_port, 30) || mosquitto_loop_start(obs)) return -1;
  write_cameras(true);
  char url[128], v[300];
  snprintf(url, sizeof url, "mqtt://vigil:secret@127.0.0.1:%d", broker_port);
  setenv("MQTT_URL", url, 1); /* the writer of the events decides the outbox rows */
  unsetenv("WEBHOOK_URL");
  snprintf(v, sizeof v, "sqlite://%s/v.db", dir);
  setenv("VIGIL_DB", v, 1);
  snprintf(v, sizeof v, "%s/cameras.json", dir);
  setenv("VIGIL_CAMERAS", v, 1);
  setenv("MQTT_CLEAR_S", "2", 1);
  setenv("MQTT_LABELS", "person,car", 1);
  setenv("NOTIFY_BACKOFF_S", "0.2", 1);
  setenv("NOTIFY_BACKOFF_MAX_S", "1", 1);
  char err[512];
  if (store_open(&st, v[0] ? getenv("VIGIL_DB") : "", err, sizeof err)) {
    fprintf(stderr, "# %s\n", err);
    return -1;
  }
  return 0;
}

static int teardown(void **state) {
  if (getenv("VIGIL_TEST_VERBOSE")) {
    char c[300];
    snprintf(c, sizeof c, "cat %s/vigil.out >&2", dir);
    (void)system(c);
  }
  store_close(st);
  mosquitto_disconnect(obs);
  mosquitto_loop_stop(obs, true);
  mosquitto_destroy(obs);
  if (broker_pid) broker_stop();
  char cmd[200];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd);
}

int main(void) {
  const struct CMUnitTest t[] = {cmocka_unit_test(mq_refused_login), cmocka_unit_test(mq_buffer_bounded),
                                 cmocka_unit_test(mq_end_to_end), cmocka_unit_test(mq_refused_keeps_outbox)};
  return cmocka_run_group_tests(t, setup, teardown);
}
