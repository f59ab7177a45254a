/* libFuzzer target: MQTT_URL parsing. Whatever parses has a host, a port in
 * range and NUL-terminated fields that fit; nothing else crashes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "notify/notify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0;
  char *s = malloc(size + 1);
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  mqtt_url u;
  char err[160];
  if (mqtt_url_parse(&u, s, err, sizeof err) == 0) {
    if (!u.host[0] || u.port < 1 || u.port > 65535) abort();
    if (strlen(u.host) >= sizeof u.host || strlen(u.user) >= sizeof u.user || strlen(u.pass) >= sizeof u.pass) abort();
  }
  free(s);
  return 0;
}
