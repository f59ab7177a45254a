/* Notifications: the outbox dispatcher (dispatch.c) that delivers stored
 * events to MQTT (mqtt.c, libmosquitto, with Home Assistant discovery) and
 * to a webhook (webhook.c, libcurl, HMAC-SHA256 from libcrypto).
 *
 * Threads: notify_start runs one delivery thread per configured sink; the
 * MQTT client runs libmosquitto's network thread besides. notify_stop joins
 * them. Delivery is at-least-once: an outbox row is marked sent only after the
 * broker's PUBACK or the webhook's 2xx; receivers de-duplicate by event id. */
#ifndef VIGIL_NOTIFY_H
#define VIGIL_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/store.h"

typedef struct notify notify;

/* Reads MQTT_* / WEBHOOK_* / NOTIFY_* from the global config. *out is NULL
 * (and 0 returned) when neither MQTT_URL nor WEBHOOK_URL is set. Errors: a
 * malformed MQTT_URL or WEBHOOK_MIN_LEVEL. A broker that is down or refuses
 * the login is not an error here: the client keeps retrying with backoff. */
int notify_start(notify **out, store *st, char *err, size_t errlen);
void notify_stop(notify *n); /* NULL: no-op */
/* Waits up to secs for the outbox of the configured sinks to empty; true when it did. */
bool notify_drain(notify *n, double secs);
/* vigil_mqtt_* and vigil_outbox_* gauges for the events service's /metrics. */
typedef struct vigil_metrics_out vigil_metrics_out;
void notify_metrics(notify *n, vigil_metrics_out *o);

/* ---- webhook.c ---- */
/* "sha256=" + hex HMAC-SHA256(secret, body): the X-Vigil-Signature header. */
int webhook_sign(const char *secret, const void *body, size_t len, char out[80]);
/* POSTs body (JSON) with X-Vigil-Event-Id and, when secret is set, the
 * signature. 0 on a 2xx reply; else -1 and err says why (status, timeout). */
int webhook_post(const char *url, const char *secret, const char *body, size_t len, int64_t event_id,
                 double timeout_s, char *err, size_t errlen);

/* ---- mqtt.c ---- */
typedef struct {
  char host[256];
  int port;
  char user[128], pass[128]; /* "" when absent */
} mqtt_url;
/* mqtt://[user[:pass]@]host[:port] (user and pass may be %-encoded). */
int mqtt_url_parse(mqtt_url *u, const char *url, char *err, size_t errlen);

typedef struct mqtt_client mqtt_client;
/* Connects in the background (last will: vigil/available = offline, retained)
 * and reconnects with exponential backoff. On every connect it publishes
 * vigil/available = online and flushes what was buffered while down. */
int mqtt_client_start(mqtt_client **out, const char *url, const char *client_id, size_t buffer_cap,
                      const char *subscribe, char *err, size_t errlen);
void mqtt_client_stop(mqtt_client *c); /* publishes offline and disconnects cleanly */
bool mqtt_client_connected(mqtt_client *c);
unsigned mqtt_client_connects(mqtt_client *c); /* successful connects so far */
int mqtt_client_last_refusal(mqtt_client *c); /* CONNACK code of the last refused login, 0 if none */
/* QoS 1; when the broker is down the message is buffered (oldest dropped first). */
void mqtt_client_publish(mqtt_client *c, const char *topic, const void *payload, size_t len, bool retain);
/* QoS 1, waits for the broker's PUBACK up to timeout_s. 0 when acknowledged. */
int mqtt_client_publish_acked(mqtt_client *c, const char *topic, const void *payload, size_t len,
                              double timeout_s, char *err, size_t errlen);
uint64_t mqtt_client_dropped(mqtt_client *c);
size_t mqtt_client_buffered(mqtt_client *c);
/* Topics of retained messages received on the `subscribe` filter since the last call
 * (malloc'ed array of malloc'ed strings). */
char **mqtt_client_take_seen(mqtt_client *c, size_t *n);

#endif
