/* The camera registry file: strict JSON parsing into camera structs (ids,
 * names, sources, zone polygons, IANA timezones, depth calibration). */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/file.h"
#include "vigil/cameras.h"
#include "vigil/status.h"

bool camera_timezone_valid(const char *tz) {
  if (!tz) return false;
  if (!tz[0]) return true;
  size_t n = strlen(tz);
  if (n >= sizeof(((camera *)0)->timezone) || tz[0] == '/' || tz[0] == '.' || tz[n - 1] == '/') return false;
  for (const char *p = tz; *p; p++) {
    char c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '+' || c == '/';
    if (!ok) return false;
    if (c == '/' && (p[1] == '.' || p[1] == '/')) return false; /* no "..", no empty segment */
  }
  const char *dir = getenv("TZDIR");
  if (!dir || !dir[0]) dir = "/usr/share/zoneinfo";
  char path[512];
  if (snprintf(path, sizeof path, "%s/%s", dir, tz) >= (int)sizeof path) return false;
  struct stat st;
  if (stat(path, &st) || !S_ISREG(st.st_mode)) return false;
  /* a TZif file: rejects the database's text files (zone.tab, tzdata.zi, ...) */
  FILE *f = fopen(path, "rb");
  if (!f) return false;
  char magic[4];
  bool tzif = fread(magic, 1, 4, f) == 4 && !memcmp(magic, "TZif", 4);
  fclose(f);
  return tzif;
}

static bool id_valid(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n >= sizeof(((camera *)0)->id)) return false;
  for (; *s; s++) {
    char c = *s;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
          c == '.'))
      return false;
  }
  return true;
}

/* A string member into dst[cap]; absent is fine unless required. */
static int get_str(char *dst, size_t cap, json_t *obj, const char *key, bool required, const char *where,
                   char *err, size_t errlen) {
  json_t *v = json_object_get(obj, key);
  if (!v) return required ? vigil_err(err, errlen, -1, "%s: \"%s\" is required", where, key) : 0;
  if (!json_is_string(v)) return vigil_err(err, errlen, -1, "%s.%s must be a string", where, key);
  const char *s = json_string_value(v);
  size_t n = json_string_length(v);
  if (n >= cap) return vigil_err(err, errlen, -1, "%s.%s is too long (%zu bytes, at most %zu)", where, key, n, cap - 1);
  if (strlen(s) != n) return vigil_err(err, errlen, -1, "%s.%s must not contain NUL characters", where, key);
  memcpy(dst, s, n + 1);
  return 0;
}

static int get_num(double *out, json_t *v, const char *where, char *err, size_t errlen) {
  if (!json_is_number(v)) return vigil_err(err, errlen, -1, "%s must be a number", where);
  double d = json_number_value(v);
  if (!isfinite(d) || d < 0 || d > 1e6) return vigil_err(err, errlen, -1, "%s must be a finite number in 0..1e6", where);
  *out = d;
  return 0;
}

static int only_keys(json_t *obj, const char *const *keys, const char *where, char *err, size_t errlen) {
  const char *k;
  json_t *v;
  json_object_foreach(obj, k, v) {
    bool known = false;
    for (int i = 0; keys[i] && !known; i++) known = !strcmp(k, keys[i]);
    if (!known) return vigil_err(err, errlen, -1, "%s: unknown key \"%.64s\"", where, k);
  }
  return 0;
}

static int parse_zone(camera_zone *z, json_t *j, const char *where, char *err, size_t errlen) {
  static const char *const keys[] = {"name", "points", "entrance", NULL};
  if (!json_is_object(j)) return vigil_err(err, errlen, -1, "%s must be an object", where);
  if (only_keys(j, keys, where, err, errlen)) return -1;
  if (get_str(z->name, sizeof z->name, j, "name", true, where, err, errlen)) return -1;
  if (!z->name[0]) return vigil_err(err, errlen, -1, "%s.name must not be empty", where);
  json_t *ent = json_object_get(j, "entrance");
  if (ent && !json_is_boolean(ent)) return vigil_err(err, errlen, -1, "%s.entrance must be true or false", where);
  z->entrance = json_is_true(ent);
  json_t *pts = json_object_get(j, "points");
  if (!json_is_array(pts)) return vigil_err(err, errlen, -1, "%s.points must be an array of [x, y] pairs", where);
  size_t n = json_array_size(pts);
  if (n < 3 || n > CAMERA_MAX_POINTS)
    return vigil_err(err, errlen, -1, "%s.points has %zu points; a zone needs 3 to %d", where, n, CAMERA_MAX_POINTS);
  for (size_t i = 0; i < n; i++) {
    json_t *p = json_array_get(pts, i);
    char w[160];
    snprintf(w, sizeof w, "%s.points[%zu]", where, i);
    if (!json_is_array(p) || json_array_size(p) != 2) return vigil_err(err, errlen, -1, "%s must be an [x, y] pair", w);
    double x, y;
    if (get_num(&x, json_array_get(p, 0), w, err, errlen) || get_num(&y, json_array_get(p, 1), w, err, errlen))
      return -1;
    z->x[i] = (float)x;
    z->y[i] = (float)y;
  }
  z->npoints = (int)n;
  return 0;
}

/* The polygon array `key` of camera j (zones, motion_masks; absent: none) into
 * out[CAMERA_MAX_ZONES]: their count, or -1 with err set. noun: what the
 * polygons are called in an error. */
static int parse_zones(camera_zone *out, json_t *j, const char *key, const char *noun, const char *where, char *err,
                       size_t errlen) {
  json_t *a = json_object_get(j, key);
  if (!a) return 0;
  if (!json_is_array(a)) return vigil_err(err, errlen, -1, "%s.%s must be an array", where, key);
  size_t n = json_array_size(a);
  if (n > CAMERA_MAX_ZONES)
    return vigil_err(err, errlen, -1, "%s.%s has %zu %s; at most %d", where, key, n, noun, CAMERA_MAX_ZONES);
  for (size_t i = 0; i < n; i++) {
    char w[128];
    snprintf(w, sizeof w, "%s.%s[%zu]", where, key, i);
    if (parse_zone(&out[i], json_array_get(a, i), w, err, errlen)) return -1;
  }
  return (int)n;
}

static int parse_camera(camera *c, json_t *j, const char *where, char *err, size_t errlen) {
  static const char *const keys[] = {"id",           "name",           "source", "timezone", "zones",
                                     "motion_masks", "depth_px_per_m", "watch",  NULL};
  memset(c, 0, sizeof *c);
  if (!json_is_object(j)) return vigil_err(err, errlen, -1, "%s must be an object", where);
  if (only_keys(j, keys, where, err, errlen)) return -1;
  if (get_str(c->id, sizeof c->id, j, "id", true, where, err, errlen)) return -1;
  if (!id_valid(c->id))
    return vigil_err(err, errlen, -1, "%s.id \"%s\" must be 1-63 characters of A-Z a-z 0-9 _ . -", where, c->id);
  if (get_str(c->name, sizeof c->name, j, "name", false, where, err, errlen) ||
      get_str(c->source, sizeof c->source, j, "source", false, where, err, errlen) ||
      get_str(c->timezone, sizeof c->timezone, j, "timezone", false, where, err, errlen))
    return -1;
  if (!c->name[0]) snprintf(c->name, sizeof c->name, "%.47s", c->id);
  if (!camera_timezone_valid(c->timezone))
    return vigil_err(err, errlen, -1, "%s.timezone \"%s\" is not a timezone name of the zoneinfo database (e.g. Europe/Paris, UTC)",
                where, c->timezone);
  json_t *d = json_object_get(j, "depth_px_per_m");
  if (d) {
    char w[160];
    snprintf(w, sizeof w, "%s.depth_px_per_m", where);
    double v;
    if (get_num(&v, d, w, err, errlen)) return -1;
    c->depth_px_per_m = (float)v;
  }
  if ((c->nzones = parse_zones(c->zones, j, "zones", "zones", where, err, errlen)) < 0) return -1;
  for (int i = 1; i < c->nzones; i++)
    for (int k = 0; k < i; k++)
      if (!strcmp(c->zones[k].name, c->zones[i].name))
        return vigil_err(err, errlen, -1, "%s.zones[%d].name \"%s\" is used twice", where, i, c->zones[i].name);
  /* polygons where movement is ignored (a tree, a busy road): same shape as zones */
  if ((c->nmasks = parse_zones(c->masks, j, "motion_masks", "masks", where, err, errlen)) < 0) return -1;
  /* open-vocabulary classes to look for ("ladder", "crowbar"): YOLO-World and the rules */
  json_t *watch = json_object_get(j, "watch");
  if (watch) {
    if (!json_is_array(watch)) return vigil_err(err, errlen, -1, "%s.watch must be an array of class names", where);
    size_t n = json_array_size(watch);
    if (n > VIGIL_MAX_WATCH)
      return vigil_err(err, errlen, -1, "%s.watch has %zu classes; at most %d", where, n, VIGIL_MAX_WATCH);
    for (size_t i = 0; i < n; i++) {
      const char *s = json_string_value(json_array_get(watch, i));
      size_t len = s ? strlen(s) : 0, k = 0;
      while (k < len && isspace((unsigned char)s[k])) k++;
      if (!s || k == len || len >= VIGIL_NAME_LEN)
        return vigil_err(err, errlen, -1, "%s.watch[%zu] must be a class name of 1-%d characters", where, i,
                         VIGIL_NAME_LEN - 1);
      snprintf(c->watch[i], sizeof c->watch[i], "%s", s);
    }
    c->nwatch = (int)n;
  }
  return 0;
}

int cameras_parse(camera_registry *out, const char *text, size_t len, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (len > CAMERAS_MAX_FILE_BYTES) return vigil_err(err, errlen, -1, "camera registry is over %zu bytes", CAMERAS_MAX_FILE_BYTES);
  json_error_t je;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (!root) return vigil_err(err, errlen, -1, "camera registry: bad JSON at line %d column %d: %s", je.line, je.column, je.text);
  int rc = 0;
  if (!json_is_array(root)) {
    rc = vigil_err(err, errlen, -1, "camera registry must be a JSON array of cameras");
    goto done;
  }
  size_t n = json_array_size(root);
  if (n > CAMERAS_MAX) {
    rc = vigil_err(err, errlen, -1, "camera registry has %zu cameras; at most %d", n, CAMERAS_MAX);
    goto done;
  }
  out->cams = calloc(n ? n : 1, sizeof *out->cams);
  if (!out->cams) {
    rc = vigil_err(err, errlen, -1, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    char where[32];
    snprintf(where, sizeof where, "cameras[%zu]", i);
    if (parse_camera(&out->cams[i], json_array_get(root, i), where, err, errlen)) {
      rc = -1;
      goto done;
    }
    for (size_t k = 0; k < i; k++)
      if (!strcmp(out->cams[k].id, out->cams[i].id)) {
        rc = vigil_err(err, errlen, -1, "%s.id \"%s\" is already used by cameras[%zu]", where, out->cams[i].id, k);
        goto done;
      }
    out->n++;
  }
done:
  json_decref(root);
  if (rc) cameras_free(out);
  return rc;
}

int cameras_load(camera_registry *out, const char *path, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  char *buf;
  size_t n;
  if (vigil_file_read(path, CAMERAS_MAX_FILE_BYTES, &buf, &n, err, errlen)) return -1;
  char e[400];
  int rc = cameras_parse(out, buf, n, e, sizeof e);
  if (rc) vigil_err(err, errlen, -1, "%s: %s", path, e);
  free(buf);
  return rc;
}

void cameras_free(camera_registry *r) {
  if (!r) return;
  free(r->cams);
  r->cams = NULL;
  r->n = 0;
}

const camera *cameras_find(const camera_registry *r, const char *id) {
  for (int i = 0; r && id && i < r->n; i++)
    if (!strcmp(r->cams[i].id, id)) return &r->cams[i];
  return NULL;
}

const camera *cameras_find_source(const camera_registry *r, const char *path) {
  const camera *best = NULL;
  size_t best_len = 0;
  for (int i = 0; r && path && i < r->n; i++) {
    const char *s = r->cams[i].source;
    size_t n = strlen(s);
    while (n > 1 && s[n - 1] == '/') n--; /* "dir/" matches like "dir" */
    if (!n || strncmp(path, s, n) || (path[n] && path[n] != '/')) continue;
    if (n > best_len) best = &r->cams[i], best_len = n;
  }
  return best;
}
