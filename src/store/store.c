/* The event store API over a backend (sqlite.c, pg.c): URL dispatch,
 * migrations, the one-transaction batch insert with its idempotency key, and
 * the event queries of the events API. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "store/store_int.h"
#include "util/assets.h"
#include "vigil/config.h"
#include "vigil/store.h"

struct store {
  const store_backend *be;
  void *db;
  pthread_mutex_t mu;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

#define EXEC(s, sql, params, n, fn, ud) (s)->be->exec((s)->db, sql, params, n, fn, ud, err, errlen)

static int row_int(void *ud, int nc, const char *const *cols) {
  *(int64_t *)ud = nc > 0 && cols[0] ? strtoll(cols[0], NULL, 10) : 0;
  return 0;
}

int store_latest_schema_version(void) { return store__sqlite.n_migrations; }

static int migrate(store *s, char *err, size_t errlen) {
  int rc = EXEC(s, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)", NULL, 0, NULL, NULL);
  if (rc) return rc;
  if ((rc = EXEC(s, s->be->begin_sql, NULL, 0, NULL, NULL))) return rc;
  if (s->be->lock_sql && (rc = EXEC(s, s->be->lock_sql, NULL, 0, NULL, NULL))) goto fail;
  int64_t have = -1;
  if ((rc = EXEC(s, "SELECT version FROM schema_version", NULL, 0, row_int, &have))) goto fail;
  if (have < 0) {
    if ((rc = EXEC(s, "INSERT INTO schema_version(version) VALUES (0)", NULL, 0, NULL, NULL))) goto fail;
    have = 0;
  }
  if (have > s->be->n_migrations) {
    set_err(err, errlen, "database schema version %lld is newer than this vigil (%d)", (long long)have,
            s->be->n_migrations);
    rc = STORE_EDB;
    goto fail;
  }
  for (int v = (int)have; v < s->be->n_migrations; v++)
    if ((rc = EXEC(s, s->be->migrations[v], NULL, 0, NULL, NULL))) goto fail;
  sval p = sv_int(s->be->n_migrations);
  if ((rc = EXEC(s, "UPDATE schema_version SET version = ?", &p, 1, NULL, NULL))) goto fail;
  return EXEC(s, "COMMIT", NULL, 0, NULL, NULL);
fail:
  s->be->exec(s->db, "ROLLBACK", NULL, 0, NULL, NULL, NULL, 0);
  return rc;
}

int store_open(store **out, const char *url, char *err, size_t errlen) {
  *out = NULL;
  if (!url || !*url) {
    set_err(err, errlen, "empty store URL");
    return STORE_EINVAL;
  }
  store *s = calloc(1, sizeof *s);
  if (!s) return STORE_ENOMEM;
  pthread_mutex_init(&s->mu, NULL);
  int rc;
  if (!strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11)) {
    s->be = &store__pg;
    rc = store__pg_open(&s->db, url, err, errlen);
  } else {
    const char *path = url;
    if (!strncmp(url, "sqlite://", 9))
      path = url + 9; /* sqlite:///abs -> /abs, sqlite://rel -> rel */
    else if (!strncmp(url, "sqlite:", 7))
      path = url + 7; /* sqlite::memory: */
    else if (strstr(url, "://")) {
      set_err(err, errlen, "unknown store URL scheme in '%s' (sqlite:// or postgresql://)", url);
      rc = STORE_EINVAL;
      goto out;
    }
    if (!*path) {
      set_err(err, errlen, "store URL '%s' has no path", url);
      rc = STORE_EINVAL;
      goto out;
    }
    s->be = &store__sqlite;
    rc = store__sqlite_open(&s->db, path, err, errlen);
  }
  if (!rc) rc = migrate(s, err, errlen);
out:
  if (rc) {
    store_close(s);
    return rc;
  }
  *out = s;
  return 0;
}

void store_close(store *s) {
  if (!s) return;
  if (s->db) s->be->close(s->db);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

const char *store_backend_name(const store *s) { return s->be->name; }

int store_schema_version(store *s, int *version, char *err, size_t errlen) {
  int64_t v = -1;
  pthread_mutex_lock(&s->mu);
  int rc = EXEC(s, "SELECT version FROM schema_version", NULL, 0, row_int, &v);
  pthread_mutex_unlock(&s->mu);
  *version = (int)v;
  return rc;
}

int store_default_url(char *buf, size_t len) {
  const char *u = vigil_config_str(NULL, "VIGIL_DB");
  int n = u && *u ? snprintf(buf, len, "%s", u) : snprintf(buf, len, "sqlite://%s/vigil.db", vigil_home());
  return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int store_upsert_camera(store *s, const char *id, const char *name, const char *source, char *err,
                        size_t errlen) {
  if (!id || !*id) {
    set_err(err, errlen, "camera id is empty");
    return STORE_EINVAL;
  }
  sval p[4] = {sv_text(id), sv_text(name ? name : ""), sv_text(source ? source : ""), sv_real(now_s())};
  pthread_mutex_lock(&s->mu);
  int rc = EXEC(s,
                "INSERT INTO cameras(id, name, source, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET name = excluded.name, source = excluded.source",
                p, 4, NULL, NULL);
  pthread_mutex_unlock(&s->mu);
  return rc;
}

/* FNV-1a over the detection ids: the default idempotency key. */
static void derive_key(char out[VIGIL_ID_LEN], const vigil_batch *b) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < b->n; i++) {
    for (const char *p = b->dets[i].id; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
  }
  snprintf(out, VIGIL_ID_LEN, "ids-%016llx-%zu", (unsigned long long)h, b->n);
}

static int get_locked(store *s, int64_t id, vigil_event *out, char *err, size_t errlen);

static int insert_locked(store *s, const vigil_batch *b, vigil_event *ev, bool *duplicate, char *err,
                         size_t errlen) {
  char key[VIGIL_ID_LEN];
  if (b->batch_key[0])
    vigil_strlcpy(key, b->batch_key, sizeof key);
  else
    derive_key(key, b);
  int rc = EXEC(s, s->be->begin_sql, NULL, 0, NULL, NULL);
  if (rc) return rc;
  {
    sval p[3] = {sv_text(b->camera_id), sv_text(b->camera_name), sv_real(now_s())};
    if ((rc = EXEC(s,
                   "INSERT INTO cameras(id, name, source, created_at) VALUES (?, ?, '', ?) "
                   "ON CONFLICT(id) DO NOTHING",
                   p, 3, NULL, NULL)))
      goto fail;
  }
  int64_t id = 0;
  {
    double created = ev->created_at > 0 ? ev->created_at : now_s();
    sval p[14] = {sv_text(b->camera_id),
                  sv_int(ev->risk_score),
                  sv_text(vigil_risk_level_valid(ev->risk_level) ? ev->risk_level : vigil_risk_level(ev->risk_score)),
                  sv_text(ev->summary ? ev->summary : ""),
                  sv_text(ev->reasoning ? ev->reasoning : ""),
                  sv_real(b->window_start),
                  sv_real(b->window_end),
                  sv_int(b->fast_path),
                  sv_text(ev->scorer[0] ? ev->scorer : "rules"),
                  sv_int(ev->reviewed),
                  sv_text(ev->notes),
                  sv_text(b->snapshot_path[0] ? b->snapshot_path : ev->snapshot_path),
                  sv_text(key),
                  sv_real(created)};
    if ((rc = EXEC(s,
                   "INSERT INTO events(camera_id, risk_score, risk_level, summary, reasoning, window_start,"
                   " window_end, fast_path, scorer, reviewed, notes, snapshot_path, batch_key, created_at)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                   " ON CONFLICT(camera_id, window_start, batch_key) DO NOTHING RETURNING id",
                   p, 14, row_int, &id)))
      goto fail;
    ev->created_at = created;
  }
  if (!id) { /* already stored: this batch was processed before */
    sval p[3] = {sv_text(b->camera_id), sv_real(b->window_start), sv_text(key)};
    if ((rc = EXEC(s, "SELECT id FROM events WHERE camera_id = ? AND window_start = ? AND batch_key = ?", p, 3,
                   row_int, &id)))
      goto fail;
    if (duplicate) *duplicate = true;
    ev->id = id;
    return EXEC(s, "COMMIT", NULL, 0, NULL, NULL);
  }
  for (size_t i = 0; i < b->n; i++) {
    const vigil_detection *d = &b->dets[i];
    sval p[9] = {sv_text(d->id),           sv_text(b->camera_id),    sv_text(d->cls),
                 sv_real(d->confidence),   sv_real(d->bbox.x1),      sv_real(d->bbox.y1),
                 sv_real(d->bbox.x2),      sv_real(d->bbox.y2),      sv_real(d->ts)};
    if ((rc = EXEC(s,
                   "INSERT INTO detections(id, camera_id, class, confidence, x1, y1, x2, y2, ts)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING",
                   p, 9, NULL, NULL)))
      goto fail;
    json_t *j = vigil_enrichment_to_json(&b->enr[i]);
    char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!txt) {
      set_err(err, errlen, "out of memory");
      rc = STORE_ENOMEM;
      goto fail;
    }
    sval q[2] = {sv_text(d->id), sv_text(txt)};
    rc = EXEC(s, "INSERT INTO enrichment_results(detection_id, json) VALUES (?, ?) ON CONFLICT(detection_id) DO NOTHING",
              q, 2, NULL, NULL);
    free(txt);
    if (rc) goto fail;
    sval r[3] = {sv_int(id), sv_text(d->id), sv_int((int64_t)i)};
    if ((rc = EXEC(s,
                   "INSERT INTO event_detections(event_id, detection_id, seq) VALUES (?, ?, ?)"
                   " ON CONFLICT(event_id, detection_id) DO NOTHING",
                   r, 3, NULL, NULL)))
      goto fail;
  }
  for (size_t i = 0; i < b->n; i++) {
    const vigil_plate *pl = &b->enr[i].plate;
    if (!pl->present || !pl->text[0]) continue;
    sval q[2] = {sv_int(id), sv_text(pl->text)};
    if ((rc = EXEC(s, "INSERT INTO event_plates(event_id, plate) VALUES (?, ?) ON CONFLICT(event_id, plate) DO NOTHING",
                   q, 2, NULL, NULL)))
      goto fail;
  }
  if ((rc = EXEC(s, "COMMIT", NULL, 0, NULL, NULL))) goto fail;
  if (duplicate) *duplicate = false;
  ev->id = id;
  return 0;
fail:
  s->be->exec(s->db, "ROLLBACK", NULL, 0, NULL, NULL, NULL, 0);
  return rc;
}

int store_insert_batch(store *s, const vigil_batch *b, vigil_event *ev, bool *duplicate, char *err,
                       size_t errlen) {
  if (!s || !b || !ev || !b->camera_id[0]) {
    set_err(err, errlen, "store_insert_batch: missing store, batch, event or camera id");
    return STORE_EINVAL;
  }
  if (ev->risk_score < 0 || ev->risk_score > 100) {
    set_err(err, errlen, "risk_score %d out of range", ev->risk_score);
    return STORE_EINVAL;
  }
  bool dup = false;
  pthread_mutex_lock(&s->mu);
  int rc = insert_locked(s, b, ev, &dup, err, errlen);
  vigil_event stored;
  if (!rc && dup && !(rc = get_locked(s, ev->id, &stored, err, errlen))) {
    vigil_event_free(ev); /* the caller sees what is stored, not the re-scored copy */
    *ev = stored;
  }
  pthread_mutex_unlock(&s->mu);
  if (!rc && !dup && vigil_event_from_batch(ev, b)) rc = STORE_ENOMEM; /* detection ids as stored */
  if (duplicate) *duplicate = dup;
  return rc;
}

store_filter store_default_filter(void) {
  store_filter f = {NULL, NULL, 0, 0, -1, 50, 0, NULL};
  return f;
}

#define EVENT_COLS                                                                                         \
  "id, camera_id, risk_score, risk_level, summary, reasoning, window_start, window_end, fast_path, scorer," \
  " reviewed, notes, snapshot_path, created_at"

typedef struct {
  vigil_event *evs;
  size_t n, cap;
  bool oom;
} ev_list;

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static int row_event(void *ud, int nc, const char *const *c) {
  ev_list *l = ud;
  if (nc < 14) return STORE_EDB;
  if (l->n == l->cap) {
    size_t ncap = l->cap ? l->cap * 2 : 16;
    vigil_event *ne = realloc(l->evs, ncap * sizeof *ne);
    if (!ne) {
      l->oom = true;
      return STORE_ENOMEM;
    }
    l->evs = ne;
    l->cap = ncap;
  }
  vigil_event *ev = &l->evs[l->n];
  vigil_event_init(ev);
  ev->id = c[0] ? strtoll(c[0], NULL, 10) : 0;
  vigil_strlcpy(ev->camera_id, c[1], sizeof ev->camera_id);
  ev->risk_score = c[2] ? atoi(c[2]) : 0;
  vigil_strlcpy(ev->risk_level, c[3], sizeof ev->risk_level);
  ev->summary = dup_or_null(c[4] ? c[4] : "");
  ev->reasoning = dup_or_null(c[5] ? c[5] : "");
  ev->window_start = c[6] ? strtod(c[6], NULL) : 0;
  ev->window_end = c[7] ? strtod(c[7], NULL) : 0;
  ev->fast_path = c[8] && atoi(c[8]);
  vigil_strlcpy(ev->scorer, c[9], sizeof ev->scorer);
  ev->reviewed = c[10] && atoi(c[10]);
  ev->notes = dup_or_null(c[11]);
  ev->snapshot_path = dup_or_null(c[12]);
  ev->created_at = c[13] ? strtod(c[13], NULL) : 0;
  l->n++;
  if (!ev->summary || !ev->reasoning || (c[11] && !ev->notes) || (c[12] && !ev->snapshot_path)) {
    l->oom = true;
    return STORE_ENOMEM;
  }
  return 0;
}

typedef struct {
  vigil_event *ev;
  size_t cap;
} ids_ctx;

static int row_id(void *ud, int nc, const char *const *c) {
  ids_ctx *x = ud;
  vigil_event *ev = x->ev;
  if (ev->n_detection_ids == x->cap) {
    size_t ncap = x->cap ? x->cap * 2 : 16;
    void *n = realloc(ev->detection_ids, ncap * sizeof *ev->detection_ids);
    if (!n) return STORE_ENOMEM;
    ev->detection_ids = n;
    x->cap = ncap;
  }
  vigil_strlcpy(ev->detection_ids[ev->n_detection_ids++], c[0], VIGIL_ID_LEN);
  return 0;
}

static int load_ids(store *s, vigil_event *ev, char *err, size_t errlen) {
  ids_ctx x = {ev, 0};
  sval p = sv_int(ev->id);
  int rc = EXEC(s, "SELECT detection_id FROM event_detections WHERE event_id = ? ORDER BY seq", &p, 1, row_id, &x);
  if (rc == STORE_ENOMEM) set_err(err, errlen, "out of memory");
  return rc;
}

static int row_plate(void *ud, int nc, const char *const *c) {
  vigil_event *ev = ud;
  if (nc > 0 && c[0] && ev->n_plates < VIGIL_MAX_PLATES) vigil_strlcpy(ev->plates[ev->n_plates++], c[0], 16);
  return 0;
}

/* The detection ids and the plates of a stored event. */
static int load_details(store *s, vigil_event *ev, char *err, size_t errlen) {
  int rc = load_ids(s, ev, err, errlen);
  if (rc) return rc;
  sval p = sv_int(ev->id);
  ev->n_plates = 0;
  return EXEC(s, "SELECT plate FROM event_plates WHERE event_id = ? ORDER BY plate", &p, 1, row_plate, ev);
}

void store_events_free(vigil_event *evs, size_t n) {
  if (!evs) return;
  for (size_t i = 0; i < n; i++) vigil_event_free(&evs[i]);
  free(evs);
}

int store_list_events(store *s, const store_filter *f, vigil_event **evs, size_t *n, char *err, size_t errlen) {
  *evs = NULL;
  *n = 0;
  store_filter d = store_default_filter();
  if (!f) f = &d;
  if (f->level && !vigil_risk_level_valid(f->level)) {
    set_err(err, errlen, "level must be low, medium, high or critical");
    return STORE_EINVAL;
  }
  if (f->limit < 0 || f->limit > 1000 || f->offset < 0) {
    set_err(err, errlen, "limit must be 1..1000 and offset >= 0");
    return STORE_EINVAL;
  }
  char sql[1024];
  sval p[8];
  int np = 0;
  int k = snprintf(sql, sizeof sql, "SELECT " EVENT_COLS " FROM events WHERE 1 = 1");
  if (f->camera_id) {
    k += snprintf(sql + k, sizeof sql - k, " AND camera_id = ?");
    p[np++] = sv_text(f->camera_id);
  }
  if (f->level) {
    k += snprintf(sql + k, sizeof sql - k, " AND risk_level = ?");
    p[np++] = sv_text(f->level);
  }
  if (f->since > 0) {
    k += snprintf(sql + k, sizeof sql - k, " AND window_end >= ?");
    p[np++] = sv_real(f->since);
  }
  if (f->until > 0) {
    k += snprintf(sql + k, sizeof sql - k, " AND window_start <= ?");
    p[np++] = sv_real(f->until);
  }
  if (f->reviewed == 0 || f->reviewed == 1) {
    k += snprintf(sql + k, sizeof sql - k, " AND reviewed = ?");
    p[np++] = sv_int(f->reviewed);
  }
  if (f->plate) {
    k += snprintf(sql + k, sizeof sql - k, " AND id IN (SELECT event_id FROM event_plates WHERE plate = ?)");
    p[np++] = sv_text(f->plate);
  }
  snprintf(sql + k, sizeof sql - k, " ORDER BY window_start DESC, id DESC LIMIT ? OFFSET ?");
  p[np++] = sv_int(f->limit ? f->limit : 50);
  p[np++] = sv_int(f->offset);
  ev_list l = {0};
  pthread_mutex_lock(&s->mu);
  int rc = EXEC(s, sql, p, np, row_event, &l);
  for (size_t i = 0; !rc && i < l.n; i++) rc = load_details(s, &l.evs[i], err, errlen);
  pthread_mutex_unlock(&s->mu);
  if (rc) {
    if (l.oom) set_err(err, errlen, "out of memory");
    store_events_free(l.evs, l.n);
    return rc;
  }
  *evs = l.evs;
  *n = l.n;
  return 0;
}

int store_events_after(store *s, int64_t after_id, int limit, vigil_event **evs, size_t *n, char *err,
                       size_t errlen) {
  *evs = NULL;
  *n = 0;
  if (limit < 1 || limit > 1000) {
    set_err(err, errlen, "limit must be 1..1000");
    return STORE_EINVAL;
  }
  sval p[2] = {sv_int(after_id), sv_int(limit)};
  ev_list l = {0};
  pthread_mutex_lock(&s->mu);
  int rc = EXEC(s, "SELECT " EVENT_COLS " FROM events WHERE id > ? ORDER BY id LIMIT ?", p, 2, row_event, &l);
  for (size_t i = 0; !rc && i < l.n; i++) rc = load_details(s, &l.evs[i], err, errlen);
  pthread_mutex_unlock(&s->mu);
  if (rc) {
    if (l.oom) set_err(err, errlen, "out of memory");
    store_events_free(l.evs, l.n);
    return rc;
  }
  *evs = l.evs;
  *n = l.n;
  return 0;
}

int store_max_event_id(store *s, int64_t *id, char *err, size_t errlen) {
  *id = 0;
  pthread_mutex_lock(&s->mu);
  int rc = EXEC(s, "SELECT COALESCE(MAX(id), 0) FROM events", NULL, 0, row_int, id);
  pthread_mutex_unlock(&s->mu);
  return rc;
}

static int get_locked(store *s, int64_t id, vigil_event *out, char *err, size_t errlen) {
  ev_list l = {0};
  sval p = sv_int(id);
  int rc = EXEC(s, "SELECT " EVENT_COLS " FROM events WHERE id = ?", &p, 1, row_event, &l);
  if (!rc && l.n == 0) {
    set_err(err, errlen, "event %lld not found", (long long)id);
    rc = STORE_ENOTFOUND;
  }
  if (!rc) rc = load_details(s, &l.evs[0], err, errlen);
  if (rc) {
    store_events_free(l.evs, l.n);
    return rc;
  }
  *out = l.evs[0];
  free(l.evs);
  return 0;
}

int store_get_event(store *s, int64_t id, vigil_event *out, char *err, size_t errlen) {
  vigil_event_init(out);
  pthread_mutex_lock(&s->mu);
  int rc = get_locked(s, id, out, err, errlen);
  pthread_mutex_unlock(&s->mu);
  return rc;
}

int store_patch_event(store *s, int64_t id, int reviewed, const char *notes, vigil_event *out, char *err,
                      size_t errlen) {
  if (out) vigil_event_init(out);
  if (reviewed < -1 || reviewed > 1) {
    set_err(err, errlen, "reviewed must be true or false");
    return STORE_EINVAL;
  }
  pthread_mutex_lock(&s->mu);
  int64_t found = 0;
  sval pid = sv_int(id);
  int rc = EXEC(s, "SELECT id FROM events WHERE id = ?", &pid, 1, row_int, &found);
  if (!rc && !found) {
    set_err(err, errlen, "event %lld not found", (long long)id);
    rc = STORE_ENOTFOUND;
  }
  if (!rc && reviewed >= 0) {
    sval p[2] = {sv_int(reviewed), sv_int(id)};
    rc = EXEC(s, "UPDATE events SET reviewed = ? WHERE id = ?", p, 2, NULL, NULL);
  }
  if (!rc && notes) {
    sval p[2] = {sv_text(notes), sv_int(id)};
    rc = EXEC(s, "UPDATE events SET notes = ? WHERE id = ?", p, 2, NULL, NULL);
  }
  if (!rc && out) rc = get_locked(s, id, out, err, errlen);
  pthread_mutex_unlock(&s->mu);
  return rc;
}

int store_count(store *s, const char *table, int64_t *n, char *err, size_t errlen) {
  static const char *const ok[] = {"cameras", "detections", "enrichment_results", "events", "event_detections",
                                   "event_plates"};
  size_t i = 0;
  while (i < 6 && strcmp(table, ok[i])) i++;
  if (i == 6) {
    set_err(err, errlen, "unknown table %s", table);
    return STORE_EINVAL;
  }
  char sql[80];
  snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s", ok[i]);
  *n = 0;
  pthread_mutex_lock(&s->mu);
  int rc = EXEC(s, sql, NULL, 0, row_int, n);
  pthread_mutex_unlock(&s->mu);
  return rc;
}

static int row_str(void *ud, int nc, const char *const *c) {
  char **o = ud;
  free(*o);
  *o = c[0] ? strdup(c[0]) : NULL;
  return c[0] && !*o ? STORE_ENOMEM : 0;
}

int store_get_enrichment(store *s, const char *detection_id, char **json, char *err, size_t errlen) {
  *json = NULL;
  sval p = sv_text(detection_id);
  pthread_mutex_lock(&s->mu);
  int rc = EXEC(s, "SELECT json FROM enrichment_results WHERE detection_id = ?", &p, 1, row_str, json);
  pthread_mutex_unlock(&s->mu);
  return rc;
}
