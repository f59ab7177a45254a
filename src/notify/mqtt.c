/* The MQTT client of the notifications (libmosquitto, threaded interface):
 * URL parsing, last will, reconnect with exponential backoff, a bounded
 * buffer of messages produced while the broker is down, PUBACK waits. */
#include <ctype.h>
#include <errno.h>
#include <mosquitto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "notify/notify.h"
#include "util/log.h"
#include "vigil/status.h"

#define AVAIL_TOPIC "vigil/available"
#define ACK_RING 1024
#define SEEN_MAX 4096

typedef struct {
  char *topic;
  void *payload;
  size_t len;
  bool retain;
} held_msg;

struct mqtt_client {
  struct mosquitto *m;
  pthread_t th; /* the network loop: ours, so that reconnects never stop */
  bool th_on;
  atomic_bool stop, closing;
  mqtt_url url;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool connected;
  unsigned connects;
  int refusal;
  held_msg *ring; /* messages produced while the broker was down */
  size_t cap, head, count;
  uint64_t dropped;
  int acked[ACK_RING]; /* mids the broker acknowledged, most recent last */
  size_t n_acked;
  char *subscribe;
  char **seen;
  size_t n_seen;
};

static int wait_ack(mqtt_client *c, int mid, double timeout_s, char *err, size_t errlen);

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static void lib_init(void) { mosquitto_lib_init(); }

static int unhex(int c) { return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1; }

/* Copies [s, s+n) into out, decoding %XX. */
static int pct_copy(char *out, size_t cap, const char *s, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)s[i];
    if (c == '%' && i + 2 < n && unhex((unsigned char)s[i + 1]) >= 0 && unhex((unsigned char)s[i + 2]) >= 0) {
      c = unhex((unsigned char)s[i + 1]) * 16 + unhex((unsigned char)s[i + 2]);
      i += 2;
    }
    if (k + 1 >= cap || c == 0) return -1;
    out[k++] = (char)c;
  }
  out[k] = '\0';
  return 0;
}

int mqtt_url_parse(mqtt_url *u, const char *url, char *err, size_t errlen) {
  memset(u, 0, sizeof *u);
  u->port = 1883;
  if (!url || strncmp(url, "mqtt://", 7)) {
    vigil_err(err, errlen, -1, "MQTT_URL must start with mqtt:// (mqtt://user:pass@host:1883)");
    return -1;
  }
  const char *p = url + 7, *end = p + strcspn(p, "/?#");
  const char *at = NULL;
  for (const char *q = p; q < end; q++)
    if (*q == '@') at = q; /* the last '@': a password may hold one if %-encoded or not */
  if (at) {
    const char *colon = memchr(p, ':', (size_t)(at - p));
    size_t ul = colon ? (size_t)(colon - p) : (size_t)(at - p);
    if (pct_copy(u->user, sizeof u->user, p, ul) ||
        (colon && pct_copy(u->pass, sizeof u->pass, colon + 1, (size_t)(at - colon - 1)))) {
      vigil_err(err, errlen, -1, "MQTT_URL: user or password too long or malformed");
      return -1;
    }
    p = at + 1;
  }
  const char *colon = memchr(p, ':', (size_t)(end - p));
  size_t hl = colon ? (size_t)(colon - p) : (size_t)(end - p);
  if (hl == 0 || hl >= sizeof u->host) {
    vigil_err(err, errlen, -1, "MQTT_URL has no host");
    return -1;
  }
  memcpy(u->host, p, hl);
  u->host[hl] = '\0';
  if (colon) {
    char *e;
    errno = 0;
    long port = strtol(colon + 1, &e, 10);
    if (e != end || errno || port < 1 || port > 65535) {
      vigil_err(err, errlen, -1, "MQTT_URL: bad port");
      return -1;
    }
    u->port = (int)port;
  }
  if (*end && strcmp(end, "/")) {
    vigil_err(err, errlen, -1, "MQTT_URL: unexpected '%.32s' after host:port", end);
    return -1;
  }
  return 0;
}

static void held_free(held_msg *h) {
  free(h->topic);
  free(h->payload);
  memset(h, 0, sizeof *h);
}

/* Buffers a message; the oldest goes when full. Called with mu held. */
static void hold(mqtt_client *c, const char *topic, const void *payload, size_t len, bool retain) {
  if (c->count == c->cap) {
    held_free(&c->ring[c->head]);
    c->head = (c->head + 1) % c->cap;
    c->count--;
    c->dropped++;
  }
  held_msg *h = &c->ring[(c->head + c->count) % c->cap];
  h->topic = strdup(topic);
  h->payload = malloc(len ? len : 1);
  if (!h->topic || !h->payload) {
    held_free(h);
    c->dropped++;
    return;
  }
  memcpy(h->payload, payload, len);
  h->len = len;
  h->retain = retain;
  c->count++;
}

static void on_connect(struct mosquitto *m, void *ud, int rc) {
  mqtt_client *c = ud;
  if (rc) {
    pthread_mutex_lock(&c->mu);
    bool first = c->refusal != rc;
    c->refusal = rc;
    pthread_mutex_unlock(&c->mu);
    if (first) vlog_error("mqtt: the broker refused the connection: %s (retrying with backoff)", mosquitto_connack_string(rc));
    return;
  }
  mosquitto_publish(m, NULL, AVAIL_TOPIC, 6, "online", 1, true);
  if (c->subscribe) mosquitto_subscribe(m, NULL, c->subscribe, 1);
  pthread_mutex_lock(&c->mu);
  c->connected = true;
  c->connects++;
  c->refusal = 0;
  size_t sent = 0;
  while (c->count) { /* what was produced while down, oldest first */
    held_msg *h = &c->ring[c->head];
    if (mosquitto_publish(m, NULL, h->topic, (int)h->len, h->payload, 1, h->retain) != MOSQ_ERR_SUCCESS) break;
    held_free(h);
    c->head = (c->head + 1) % c->cap;
    c->count--;
    sent++;
  }
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
  if (sent)
    vlog_info("mqtt: connected, %zu buffered message(s) sent", sent);
  else
    vlog_info("mqtt: connected");
}

static void on_disconnect(struct mosquitto *m, void *ud, int rc) {
  mqtt_client *c = ud;
  pthread_mutex_lock(&c->mu);
  c->connected = false;
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

static void on_publish(struct mosquitto *m, void *ud, int mid) {
  mqtt_client *c = ud;
  pthread_mutex_lock(&c->mu);
  if (c->n_acked == ACK_RING) {
    memmove(c->acked, c->acked + ACK_RING / 2, sizeof(int) * (ACK_RING / 2));
    c->n_acked = ACK_RING / 2;
  }
  c->acked[c->n_acked++] = mid;
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg) {
  mqtt_client *c = ud;
  if (!msg->retain || !msg->payloadlen) return; /* only configurations that are still there */
  pthread_mutex_lock(&c->mu);
  if (c->n_seen < SEEN_MAX) {
    char **ns = realloc(c->seen, (c->n_seen + 1) * sizeof *ns);
    if (ns) {
      c->seen = ns;
      if ((c->seen[c->n_seen] = strdup(msg->topic))) c->n_seen++;
    }
  }
  pthread_mutex_unlock(&c->mu);
}

/* Sleeps up to `s` seconds in short steps, returning early on stop. */
static void nap(mqtt_client *c, double s) {
  for (double t = 0; t < s && !atomic_load(&c->stop); t += 0.1) {
    struct timespec ts = {0, 100 * 1000000L};
    nanosleep(&ts, NULL);
  }
}

/* The network thread: connect, run the loop, and after any failure (broker
 * down, connection lost, login refused) wait 1, 2, 4 ... 60 s and reconnect. */
static void *net_main(void *arg) {
  mqtt_client *c = arg;
  double delay = 1;
  bool first = true;
  while (!atomic_load(&c->stop)) {
    int rc = first ? mosquitto_connect_async(c->m, c->url.host, c->url.port, 30) : mosquitto_reconnect_async(c->m);
    if (rc == MOSQ_ERR_SUCCESS) first = false;
    unsigned before = mqtt_client_connects(c);
    while (rc == MOSQ_ERR_SUCCESS && !atomic_load(&c->stop)) rc = mosquitto_loop(c->m, 100, 1);
    if (atomic_load(&c->stop)) break;
    bool was = mqtt_client_connects(c) != before;
    if (was) delay = 1; /* it was up: start the backoff again */
    pthread_mutex_lock(&c->mu);
    c->connected = false;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (was && !atomic_load(&c->closing)) vlog_warn("mqtt: connection lost (%s); reconnecting", mosquitto_strerror(rc));
    else vlog_debug("mqtt: %s:%d: %s; retry in %.0f s", c->url.host, c->url.port, mosquitto_strerror(rc), delay);
    nap(c, delay);
    delay = delay * 2 > 60 ? 60 : delay * 2;
  }
  return NULL;
}

int mqtt_client_start(mqtt_client **out, const char *url, const char *client_id, size_t buffer_cap,
                      const char *subscribe, char *err, size_t errlen) {
  *out = NULL;
  mqtt_url u;
  if (mqtt_url_parse(&u, url, err, errlen)) return -1;
  pthread_once(&lib_once, lib_init);
  mqtt_client *c = calloc(1, sizeof *c);
  if (!c) return -1;
  c->url = u;
  c->cap = buffer_cap ? buffer_cap : 1;
  c->ring = calloc(c->cap, sizeof *c->ring);
  c->subscribe = subscribe ? strdup(subscribe) : NULL;
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->cv, NULL);
  c->m = mosquitto_new(client_id && *client_id ? client_id : "vigil", true, c);
  if (!c->ring || !c->m || (subscribe && !c->subscribe)) {
    vigil_err(err, errlen, -1, "mqtt: out of memory");
    mqtt_client_stop(c);
    return -1;
  }
  mosquitto_connect_callback_set(c->m, on_connect);
  mosquitto_disconnect_callback_set(c->m, on_disconnect);
  mosquitto_publish_callback_set(c->m, on_publish);
  mosquitto_message_callback_set(c->m, on_message);
  mosquitto_will_set(c->m, AVAIL_TOPIC, 7, "offline", 1, true);
  if (u.user[0]) mosquitto_username_pw_set(c->m, u.user, u.pass[0] ? u.pass : NULL);
  mosquitto_threaded_set(c->m, true); /* publishes come from other threads than the loop */
  if (pthread_create(&c->th, NULL, net_main, c)) {
    vigil_err(err, errlen, -1, "mqtt: cannot start the network thread");
    mqtt_client_stop(c);
    return -1;
  }
  c->th_on = true;
  *out = c;
  return 0;
}

void mqtt_client_stop(mqtt_client *c) {
  if (!c) return;
  if (c->m) {
    pthread_mutex_lock(&c->mu);
    bool up = c->connected;
    pthread_mutex_unlock(&c->mu);
    if (up) { /* a clean goodbye: the will only fires on an unclean one */
      int mid = 0;
      char e[64];
      if (mosquitto_publish(c->m, &mid, AVAIL_TOPIC, 7, "offline", 1, true) == MOSQ_ERR_SUCCESS)
        wait_ack(c, mid, 2.0, e, sizeof e);
    }
    atomic_store(&c->closing, true);
    mosquitto_disconnect(c->m);
    for (int i = 0; i < 20 && mqtt_client_connected(c); i++) { /* let the loop send the DISCONNECT */
      struct timespec ts = {0, 50 * 1000000L};
      nanosleep(&ts, NULL);
    }
    atomic_store(&c->stop, true);
    if (c->th_on) pthread_join(c->th, NULL);
    mosquitto_destroy(c->m);
  }
  for (size_t i = 0; i < c->count; i++) held_free(&c->ring[(c->head + i) % c->cap]);
  for (size_t i = 0; i < c->n_seen; i++) free(c->seen[i]);
  free(c->seen);
  free(c->ring);
  free(c->subscribe);
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->cv);
  free(c);
}

/* The body of a getter that reads one field under the client lock. */
#define LOCKED_READ(type, field)      \
  {                                   \
    pthread_mutex_lock(&c->mu);       \
    type v = c->field;                \
    pthread_mutex_unlock(&c->mu);     \
    return v;                         \
  }

bool mqtt_client_connected(mqtt_client *c) LOCKED_READ(bool, connected)

unsigned mqtt_client_connects(mqtt_client *c) LOCKED_READ(unsigned, connects)

int mqtt_client_last_refusal(mqtt_client *c) LOCKED_READ(int, refusal)

void mqtt_client_publish(mqtt_client *c, const char *topic, const void *payload, size_t len, bool retain) {
  pthread_mutex_lock(&c->mu);
  bool up = c->connected && !c->count; /* keep the order: nothing overtakes the buffer */
  if (!up) hold(c, topic, payload, len, retain);
  pthread_mutex_unlock(&c->mu);
  if (up && mosquitto_publish(c->m, NULL, topic, (int)len, payload, 1, retain) != MOSQ_ERR_SUCCESS) {
    pthread_mutex_lock(&c->mu);
    hold(c, topic, payload, len, retain);
    pthread_mutex_unlock(&c->mu);
  }
}

static bool was_acked(mqtt_client *c, int mid) {
  for (size_t i = c->n_acked; i-- > 0;)
    if (c->acked[i] == mid) return true;
  return false;
}

static int wait_ack(mqtt_client *c, int mid, double timeout_s, char *err, size_t errlen) {
  struct timespec dl;
  clock_gettime(CLOCK_REALTIME, &dl);
  double t = dl.tv_sec + dl.tv_nsec * 1e-9 + timeout_s;
  dl.tv_sec = (time_t)t;
  dl.tv_nsec = (long)((t - (double)dl.tv_sec) * 1e9);
  pthread_mutex_lock(&c->mu);
  int rc = 0;
  for (;;) {
    if (was_acked(c, mid)) break;
    if (!c->connected) {
      vigil_err(err, errlen, -1, "connection lost before the broker acknowledged");
      rc = -1;
      break;
    }
    if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) == ETIMEDOUT) {
      vigil_err(err, errlen, -1, "no PUBACK within %.1f s", timeout_s);
      rc = -1;
      break;
    }
  }
  pthread_mutex_unlock(&c->mu);
  return rc;
}

int mqtt_client_publish_acked(mqtt_client *c, const char *topic, const void *payload, size_t len,
                              double timeout_s, char *err, size_t errlen) {
  int mid = -1;
  int rc = mosquitto_publish(c->m, &mid, topic, (int)len, payload, 1, false);
  if (rc != MOSQ_ERR_SUCCESS) {
    vigil_err(err, errlen, -1, "publish: %s", mosquitto_strerror(rc));
    return -1;
  }
  return wait_ack(c, mid, timeout_s, err, errlen);
}

uint64_t mqtt_client_dropped(mqtt_client *c) LOCKED_READ(uint64_t, dropped)

size_t mqtt_client_buffered(mqtt_client *c) LOCKED_READ(size_t, count)

char **mqtt_client_take_seen(mqtt_client *c, size_t *n) {
  pthread_mutex_lock(&c->mu);
  char **v = c->seen;
  *n = c->n_seen;
  c->seen = NULL;
  c->n_seen = 0;
  pthread_mutex_unlock(&c->mu);
  return v;
}
