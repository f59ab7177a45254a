/* JSON shapes of the zoo's HTTP endpoints (CONTRACTS.md): /models/status,
 * /models/preload and /models/unload. Built with jansson; the caller owns the
 * returned object (json_decref). */
#ifndef VIGIL_ZOO_JSON_H
#define VIGIL_ZOO_JSON_H

#include <jansson.h>

#include "vigil/zoo.h"

json_t *zoo_snapshot_to_json(const zoo_snapshot *s);
json_t *zoo_result_to_json(const zoo_result *r);
/* "2026-11-27T06:30:00.123Z" into buf (>= 32 bytes). */
const char *zoo_iso8601_ms(int64_t unix_ms, char *buf, size_t len);

#endif
