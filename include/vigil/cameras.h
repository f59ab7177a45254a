/* The camera registry file (`vigil analyze --cameras FILE`): a JSON array of
 * cameras, parsed strictly into the `camera` structs of vigil/pipeline.h.
 *
 *   [{"id": "front-door", "name": "Front door", "source": "/srv/ftp/front-door",
 *     "timezone": "Europe/Paris", "depth_px_per_m": 310,
 *     "zones": [{"name": "porch", "points": [[0,300],[640,300],[640,480],[0,480]],
 *                "entrance": true}],
 *     "watch": ["ladder", "crowbar"]}]
 * "watch" (at most VIGIL_MAX_WATCH names of 1-47 characters): classes YOLO-World looks
 * for on this camera when its export is installed; their sightings raise the risk
 * (rules watched_object, watched_object_night).
 *
 * Rules: "id" is required (1-63 of [A-Za-z0-9_.-], unique); every other key is
 * optional; unknown keys, wrong types, too many cameras/zones/points, zones
 * with fewer than 3 points, non-finite or negative numbers and timezone names
 * that are not in the system's zoneinfo database are errors naming the path
 * of the offending value ("cameras[2].zones[0].points[5]").
 * Ownership: the array returned is malloc'ed; free it with cameras_free. */
#ifndef VIGIL_CAMERAS_H
#define VIGIL_CAMERAS_H

#include <stdbool.h>
#include <stddef.h>

#include "vigil/pipeline.h"

#define CAMERAS_MAX 256
#define CAMERAS_MAX_FILE_BYTES ((size_t)1 << 20)

typedef struct {
  camera *cams;
  int n;
} camera_registry;

/* Parses a registry from memory (len bytes, need not be NUL-terminated). On
 * error *out is empty and err says what and where. Returns 0 or -1. */
int cameras_parse(camera_registry *out, const char *json, size_t len, char *err, size_t errlen);
/* Reads and parses a registry file (at most CAMERAS_MAX_FILE_BYTES). */
int cameras_load(camera_registry *out, const char *path, char *err, size_t errlen);
void cameras_free(camera_registry *r); /* NULL or empty: no-op */

/* The camera whose id equals `id`, or NULL. */
const camera *cameras_find(const camera_registry *r, const char *id);
/* The camera whose source equals `path` or is a folder containing it, or NULL
 * (the longest matching source wins). */
const camera *cameras_find_source(const camera_registry *r, const char *path);

/* True for an IANA timezone name found under the zoneinfo database
 * ($TZDIR, else /usr/share/zoneinfo): "UTC", "Europe/Paris". "" is valid (local time). */
bool camera_timezone_valid(const char *tz);

#endif
