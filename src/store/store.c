/* The event store API over a backend (sqlite.c, pg.c): URL dispatch,
 * migrations, the one-transaction batch insert with its idempotency key, and
 * the event queries of the events API. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "store/store_int.h"
#include "util/assets.h"
#include "util/base64.h"
#include "util/clock.h"
#include "vigil/config.h"
#include "vigil/status.h"
#include "vigil/store.h"


static int level_rank(const char *l) {
  static const char *const lv[] = {"low", "medium", "high", "critical"};
  for (int i = 0; i < 4; i++)
    if (l && !strcmp(l, lv[i])) return i;
  return -1;
}

VIGIL_STATUS_LOOKUPS(STORE_STATUS_MAP, store_strerror, store_http_status, "unknown store error")

static int row_int(void *ud, int nc, const char *const *cols) {
  *(int64_t *)ud = nc > 0 && cols[0] ? strtoll(cols[0], NULL, 10) : 0;
  return 0;
}

/* A detection's enrichment, stored as its JSON text (store/json.c). */
static int put_enrichment(store *s, const char *det_id, const vigil_enrichment *e, char *err, size_t errlen) {
  char *txt = store__enrichment_text(e);
  if (!txt) return vigil_err(err, errlen, STORE_ENOMEM, "out of memory");
  sval q[2] = {sv_text(det_id), sv_text(txt)};
  int rc = EXEC(s, "INSERT INTO enrichment_results(detection_id, json) VALUES (?, ?) ON CONFLICT(detection_id) DO NOTHING",
                q, 2, NULL, NULL);
  free(txt);
  return rc;
}

int store__exec_locked(store *s, const char *sql, const sval *params, int n, store_row_fn fn, void *ud, char *err,
                       size_t errlen) {
  pthread_mutex_lock(&s->mu);
  int rc = EXEC(s, sql, params, n, fn, ud);
  pthread_mutex_unlock(&s->mu);
  return rc;
}

int store__tx_end(store *s, int rc, char *err, size_t errlen) {
  if (!rc) rc = EXEC(s, "COMMIT", NULL, 0, NULL, NULL);
  if (rc) s->be->exec(s->db, "ROLLBACK", NULL, 0, NULL, NULL, NULL, 0);
  return rc;
}

int store_latest_schema_version(void) { return store__sqlite.n_migrations; }

static int migrate(store *s, char *err, size_t errlen) {
  int rc = EXEC(s, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)", NULL, 0, NULL, NULL);
  if (rc) return rc;
  if ((rc = EXEC(s, s->be->begin_sql, NULL, 0, NULL, NULL))) return rc;
  if (s->be->lock_sql && (rc = EXEC(s, s->be->lock_sql, NULL, 0, NULL, NULL))) goto end;
  int64_t have = -1;
  if ((rc = EXEC(s, "SELECT version FROM schema_version", NULL, 0, row_int, &have))) goto end;
  if (have < 0) {
    if ((rc = EXEC(s, "INSERT INTO schema_version(version) VALUES (0)", NULL, 0, NULL, NULL))) goto end;
    have = 0;
  }
  if (have > s->be->n_migrations) {
    vigil_err(err, errlen, -1, "database schema version %lld is newer than this vigil (%d)", (long long)have,
            s->be->n_migrations);
    rc = STORE_EDB;
    goto end;
  }
  for (int v = (int)have; v < s->be->n_migrations; v++)
    if ((rc = EXEC(s, s->be->migrations[v], NULL, 0, NULL, NULL))) goto end;
  sval p = sv_int(s->be->n_migrations);
  rc = EXEC(s, "UPDATE schema_version SET version = ?", &p, 1, NULL, NULL);
end: /* commits when rc is 0, else rolls back */
  return store__tx_end(s, rc, err, errlen);
}

int store_open(store **out, const char *url, char *err, size_t errlen) {
  *out = NULL;
  if (!url || !*url) {
    return vigil_err(err, errlen, STORE_EINVAL, "empty store URL");
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
      vigil_err(err, errlen, -1, "unknown store URL scheme in '%s' (sqlite:// or postgresql://)", url);
      rc = STORE_EINVAL;
      goto out;
    }
    if (!*path) {
      vigil_err(err, errlen, -1, "store URL '%s' has no path", url);
      rc = STORE_EINVAL;
      goto out;
    }
    s->be = &store__sqlite;
    rc = store__sqlite_open(&s->db, path, err, errlen);
  }
  if (!rc) rc = migrate(s, err, errlen);
  if (!rc) { /* the sinks that are configured get outbox rows (store_set_outbox overrides) */
    const char *m = vigil_config_str(NULL, "MQTT_URL"), *w = vigil_config_str(NULL, "WEBHOOK_URL");
    s->sinks = (m && *m ? STORE_SINK_MQTT : 0) | (w && *w ? STORE_SINK_WEBHOOK : 0);
    int r = level_rank(vigil_config_str(NULL, "WEBHOOK_MIN_LEVEL"));
    s->webhook_min_rank = r < 0 ? 0 : r;
  }
out:
  if (rc) store_close(s);
  else *out = s;
  return rc;
}

void store_close(store *s) {
  if (!s) return;
  if (s->db) s->be->close(s->db);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

const char *store_backend_name(const store *s) { return s->be->name; }

int store_set_outbox(store *s, unsigned sinks, const char *webhook_min_level) {
  int r = webhook_min_level ? level_rank(webhook_min_level) : 0;
  if (r < 0 || sinks & ~(unsigned)(STORE_SINK_MQTT | STORE_SINK_WEBHOOK)) return STORE_EINVAL;
  pthread_mutex_lock(&s->mu);
  s->sinks = sinks;
  s->webhook_min_rank = r;
  pthread_mutex_unlock(&s->mu);
  return 0;
}

int store_schema_version(store *s, int *version, char *err, size_t errlen) {
  int64_t v = -1;
  int rc = EXEC_LOCKED(s, "SELECT version FROM schema_version", NULL, 0, row_int, &v);
  *version = (int)v;
  return rc;
}

int store_default_url(char *buf, size_t len) {
  const char *u = vigil_config_str(NULL, "VIGIL_DB");
  int n = u && *u ? snprintf(buf, len, "%s", u) : snprintf(buf, len, "sqlite://%s/vigil.db", vigil_home());
  return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int store_upsert_camera(store *s, const char *id, const char *name, const char *source, char *err,
                        size_t errlen) {
  if (!id || !*id) {
    return vigil_err(err, errlen, STORE_EINVAL, "camera id is empty");
  }
  sval p[4] = {sv_text(id), sv_text(name ? name : ""), sv_text(source ? source : ""), sv_real(vigil_wall_s())};
  return EXEC_LOCKED(s,
                     "INSERT INTO cameras(id, name, source, created_at) VALUES (?, ?, ?, ?) "
                     "ON CONFLICT(id) DO UPDATE SET name = excluded.name, source = excluded.source",
                     p, 4, NULL, NULL);
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

/* The rules column: ids separated by single spaces (ids are [a-z0-9_]). */
static void rules_join(char *buf, size_t len, const vigil_event *ev) {
  size_t k = 0;
  buf[0] = '\0';
  for (int i = 0; i < ev->n_rules && i < VIGIL_MAX_RULES; i++) {
    int w = snprintf(buf + k, len - k, "%s%s", k ? " " : "", ev->rules[i]);
    if (w < 0 || (size_t)w >= len - k) break;
    k += (size_t)w;
  }
  buf[k] = '\0';
}

static void rules_split(vigil_event *ev, const char *col) {
  ev->n_rules = 0;
  for (const char *p = col; p && *p && ev->n_rules < VIGIL_MAX_RULES;) {
    while (*p == ' ') p++;
    size_t n = strcspn(p, " ");
    if (!n) break;
    if (n < VIGIL_RULE_LEN) {
      memcpy(ev->rules[ev->n_rules], p, n);
      ev->rules[ev->n_rules++][n] = '\0';
    }
    p += n;
  }
}

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
    sval p[3] = {sv_text(b->camera_id), sv_text(b->camera_name), sv_real(vigil_wall_s())};
    if ((rc = EXEC(s,
                   "INSERT INTO cameras(id, name, source, created_at) VALUES (?, ?, '', ?) "
                   "ON CONFLICT(id) DO NOTHING",
                   p, 3, NULL, NULL)))
      goto fail;
  }
  int64_t id = 0;
  {
    double created = ev->created_at > 0 ? ev->created_at : vigil_wall_s();
    char rules[VIGIL_MAX_RULES * VIGIL_RULE_LEN];
    rules_join(rules, sizeof rules, ev);
    sval p[15] = {sv_text(b->camera_id),
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
                  sv_real(created),
                  sv_text(rules)};
    if ((rc = EXEC(s,
                   "INSERT INTO events(camera_id, risk_score, risk_level, summary, reasoning, window_start,"
                   " window_end, fast_path, scorer, reviewed, notes, snapshot_path, batch_key, created_at, rules)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                   " ON CONFLICT(camera_id, window_start, batch_key) DO NOTHING RETURNING id",
                   p, 15, row_int, &id)))
      goto fail;
    ev->created_at = created;
  }
  if (!id) { /* already stored: this batch was processed before */
    sval p[3] = {sv_text(b->camera_id), sv_real(b->window_start), sv_text(key)};
    if ((rc = EXEC(s, "SELECT id FROM events WHERE camera_id = ? AND window_start = ? AND batch_key = ?", p, 3,
                   row_int, &id)))
      goto fail;
    for (size_t i = 0; i < b->n; i++) {
      sval o = sv_text(b->dets[i].id);
      if ((rc = EXEC(s, "DELETE FROM open_detections WHERE detection_id = ?", &o, 1, NULL, NULL))) goto fail;
    }
    if (duplicate) *duplicate = true;
    ev->id = id;
    return store__tx_end(s, 0, err, errlen);
  }
  for (size_t i = 0; i < b->n; i++) {
    const vigil_detection *d = &b->dets[i];
    sval p[10] = {sv_text(d->id),           sv_text(b->camera_id),    sv_text(d->cls),
                  sv_real(d->confidence),   sv_real(d->bbox.x1),      sv_real(d->bbox.y1),
                  sv_real(d->bbox.x2),      sv_real(d->bbox.y2),      sv_real(d->ts),
                  sv_text(d->snapshot_path[0] ? d->snapshot_path : NULL)};
    if ((rc = EXEC(s,
                   "INSERT INTO detections(id, camera_id, class, confidence, x1, y1, x2, y2, ts, snapshot_path)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING",
                   p, 10, NULL, NULL)))
      goto fail;
    if (d->snapshot_path[0]) { /* an entry stored while open (durable mode) gets its snapshot now */
      sval q[2] = {sv_text(d->snapshot_path), sv_text(d->id)};
      if ((rc = EXEC(s, "UPDATE detections SET snapshot_path = ? WHERE id = ? AND snapshot_path IS NULL", q, 2,
                     NULL, NULL)))
        goto fail;
    }
    if ((rc = put_enrichment(s, d->id, &b->enr[i], err, errlen))) goto fail;
    sval r[3] = {sv_int(id), sv_text(d->id), sv_int((int64_t)i)};
    if ((rc = EXEC(s,
                   "INSERT INTO event_detections(event_id, detection_id, seq) VALUES (?, ?, ?)"
                   " ON CONFLICT(event_id, detection_id) DO NOTHING",
                   r, 3, NULL, NULL)))
      goto fail;
    sval o = sv_text(d->id); /* no longer part of an open batch */
    if ((rc = EXEC(s, "DELETE FROM open_detections WHERE detection_id = ?", &o, 1, NULL, NULL))) goto fail;
  }
  for (size_t i = 0; i < b->n; i++) {
    const vigil_plate *pl = &b->enr[i].plate;
    if (!pl->present || !pl->text[0]) continue;
    sval q[2] = {sv_int(id), sv_text(pl->text)};
    if ((rc = EXEC(s, "INSERT INTO event_plates(event_id, plate) VALUES (?, ?) ON CONFLICT(event_id, plate) DO NOTHING",
                   q, 2, NULL, NULL)))
      goto fail;
  }
  if ((rc = store__scene_insert(s, id, &b->scene, err, errlen))) goto fail;
  { /* the notifications of this event commit with it, or not at all */
    const char *lvl = vigil_risk_level_valid(ev->risk_level) ? ev->risk_level : vigil_risk_level(ev->risk_score);
    for (int k = 0; k < 2; k++) {
      unsigned bit = k ? STORE_SINK_WEBHOOK : STORE_SINK_MQTT;
      if (!(s->sinks & bit) || (bit == STORE_SINK_WEBHOOK && level_rank(lvl) < s->webhook_min_rank)) continue;
      sval p[3] = {sv_int(id), sv_text(k ? "webhook" : "mqtt"), sv_real(vigil_wall_s())};
      if ((rc = EXEC(s, "INSERT INTO outbox(event_id, sink, created_at) VALUES (?, ?, ?)", p, 3, NULL, NULL)))
        goto fail;
    }
  }
  if ((rc = store__tx_end(s, 0, err, errlen))) return rc;
  if (duplicate) *duplicate = false;
  ev->id = id;
  return 0;
fail:
  return store__tx_end(s, rc, err, errlen);
}

int store_insert_batch(store *s, const vigil_batch *b, vigil_event *ev, bool *duplicate, char *err,
                       size_t errlen) {
  if (!s || !b || !ev || !b->camera_id[0]) {
    return vigil_err(err, errlen, STORE_EINVAL, "store_insert_batch: missing store, batch, event or camera id");
  }
  if (ev->risk_score < 0 || ev->risk_score > 100) {
    return vigil_err(err, errlen, STORE_EINVAL, "risk_score %d out of range", ev->risk_score);
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
  store_filter f = {NULL, NULL, 0, 0, -1, 50, 0, NULL, NULL};
  return f;
}

#define EVENT_COLS                                                                                         \
  "id, camera_id, risk_score, risk_level, summary, reasoning, window_start, window_end, fast_path, scorer," \
  " reviewed, notes, snapshot_path, created_at, rules"

/* A growing array of fixed-size records that a row callback fills. */
typedef struct {
  void *v;
  size_t n, cap, size;
  void (*drop)(void *rec); /* frees what a record owns, or NULL */
} row_list;

/* The next record, zeroed; NULL when out of memory. */
static void *row_list_push(row_list *l) {
  if (l->n == l->cap) {
    size_t ncap = l->cap ? l->cap * 2 : 16;
    void *nv = realloc(l->v, ncap * l->size);
    if (!nv) return NULL;
    l->v = nv;
    l->cap = ncap;
  }
  void *r = (char *)l->v + l->n++ * l->size;
  memset(r, 0, l->size);
  return r;
}

/* Ends a listing into l that ended with rc: on failure the records are
 * dropped and freed (l empty), and out of memory is reported. Returns rc. */
static int row_list_end(row_list *l, int rc, char *err, size_t errlen) {
  if (!rc) return 0;
  if (rc == STORE_ENOMEM) vigil_err(err, errlen, -1, "out of memory");
  for (size_t i = 0; l->drop && i < l->n; i++) l->drop((char *)l->v + i * l->size);
  free(l->v);
  l->v = NULL;
  l->n = 0;
  return rc;
}

/* A listing: runs sql under the lock into l (row_list_end on failure). */
static int row_list_query(store *s, row_list *l, const char *sql, const sval *p, int np, store_row_fn fn, char *err,
                          size_t errlen) {
  int rc = EXEC_LOCKED(s, sql, p, np, fn, l);
  return row_list_end(l, rc, err, errlen);
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static void drop_event(void *rec) { vigil_event_free(rec); }

/* An EVENT_COLS row into a row_list of vigil_event (drop_event). */
static int row_event(void *ud, int nc, const char *const *c) {
  if (nc < 15) return STORE_EDB;
  vigil_event *ev = row_list_push(ud);
  if (!ev) return STORE_ENOMEM;
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
  rules_split(ev, c[14]);
  if (!ev->summary || !ev->reasoning || (c[11] && !ev->notes) || (c[12] && !ev->snapshot_path)) return STORE_ENOMEM;
  return 0;
}

/* An id (first column, SQL NULL skipped) into a row_list of char[VIGIL_ID_LEN]. */
static int row_id(void *ud, int nc, const char *const *c) {
  if (nc < 1 || !c[0]) return 0;
  char *id = row_list_push(ud);
  if (!id) return STORE_ENOMEM;
  vigil_strlcpy(id, c[0], VIGIL_ID_LEN);
  return 0;
}

static int load_ids(store *s, vigil_event *ev, char *err, size_t errlen) {
  row_list l = {.size = VIGIL_ID_LEN};
  sval p = sv_int(ev->id);
  int rc = EXEC(s, "SELECT detection_id FROM event_detections WHERE event_id = ? ORDER BY seq", &p, 1, row_id, &l);
  if ((rc = row_list_end(&l, rc, err, errlen))) return rc;
  free(ev->detection_ids);
  ev->detection_ids = l.v;
  ev->n_detection_ids = l.n;
  return 0;
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
  rc = EXEC(s, "SELECT plate FROM event_plates WHERE event_id = ? ORDER BY plate", &p, 1, row_plate, ev);
  return rc ? rc : store__scene_load(s, ev, err, errlen);
}

void store_events_free(vigil_event *evs, size_t n) {
  if (!evs) return;
  for (size_t i = 0; i < n; i++) vigil_event_free(&evs[i]);
  free(evs);
}

/* Events of a query (EVENT_COLS first) with their details, under the lock. */
static int event_query(store *s, const char *sql, const sval *p, int np, vigil_event **evs, size_t *n, char *err,
                       size_t errlen) {
  row_list l = {.size = sizeof(vigil_event), .drop = drop_event};
  pthread_mutex_lock(&s->mu);
  int rc = EXEC(s, sql, p, np, row_event, &l);
  for (size_t i = 0; !rc && i < l.n; i++) rc = load_details(s, (vigil_event *)l.v + i, err, errlen);
  pthread_mutex_unlock(&s->mu);
  rc = row_list_end(&l, rc, err, errlen);
  *evs = l.v;
  *n = l.n;
  return rc;
}

int store_list_events(store *s, const store_filter *f, vigil_event **evs, size_t *n, char *err, size_t errlen) {
  *evs = NULL;
  *n = 0;
  store_filter d = store_default_filter();
  if (!f) f = &d;
  if (f->level && !vigil_risk_level_valid(f->level)) {
    return vigil_err(err, errlen, STORE_EINVAL, "level must be low, medium, high or critical");
  }
  if (f->limit < 0 || f->limit > 1000 || f->offset < 0) {
    return vigil_err(err, errlen, STORE_EINVAL, "limit must be 1..1000 and offset >= 0");
  }
  char sql[1024];
  sval p[10];
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
  char like[VIGIL_RULE_LEN * 2 + 8];
  if (f->rule) { /* ' a b ' LIKE '% b %', with _ taken literally */
    size_t m = 0;
    like[m++] = '%';
    like[m++] = ' ';
    for (const char *r = f->rule; *r && m < sizeof like - 4; r++) {
      if (*r == '_' || *r == '%' || *r == '\\') like[m++] = '\\';
      like[m++] = *r;
    }
    like[m++] = ' ';
    like[m++] = '%';
    like[m] = '\0';
    k += snprintf(sql + k, sizeof sql - k, " AND ' ' || rules || ' ' LIKE ? ESCAPE '\\'");
    p[np++] = sv_text(like);
  }
  snprintf(sql + k, sizeof sql - k, " ORDER BY window_start DESC, id DESC LIMIT ? OFFSET ?");
  p[np++] = sv_int(f->limit ? f->limit : 50);
  p[np++] = sv_int(f->offset);
  return event_query(s, sql, p, np, evs, n, err, errlen);
}

int store_events_after(store *s, int64_t after_id, int limit, vigil_event **evs, size_t *n, char *err,
                       size_t errlen) {
  *evs = NULL;
  *n = 0;
  if (limit < 1 || limit > 1000) {
    return vigil_err(err, errlen, STORE_EINVAL, "limit must be 1..1000");
  }
  sval p[2] = {sv_int(after_id), sv_int(limit)};
  return event_query(s, "SELECT " EVENT_COLS " FROM events WHERE id > ? ORDER BY id LIMIT ?", p, 2, evs, n, err,
                     errlen);
}

int store_max_event_id(store *s, int64_t *id, char *err, size_t errlen) {
  *id = 0;
  return EXEC_LOCKED(s, "SELECT COALESCE(MAX(id), 0) FROM events", NULL, 0, row_int, id);
}

static int get_locked(store *s, int64_t id, vigil_event *out, char *err, size_t errlen) {
  row_list l = {.size = sizeof(vigil_event), .drop = drop_event};
  sval p = sv_int(id);
  int rc = EXEC(s, "SELECT " EVENT_COLS " FROM events WHERE id = ?", &p, 1, row_event, &l);
  if (!rc && l.n == 0) {
    vigil_err(err, errlen, -1, "event %lld not found", (long long)id);
    rc = STORE_ENOTFOUND;
  }
  if (!rc) rc = load_details(s, l.v, err, errlen);
  if (!(rc = row_list_end(&l, rc, err, errlen))) *out = *(vigil_event *)l.v; /* what the row owns passes to out */
  free(l.v);
  return rc;
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
    return vigil_err(err, errlen, STORE_EINVAL, "reviewed must be true or false");
  }
  pthread_mutex_lock(&s->mu);
  int64_t found = 0;
  sval pid = sv_int(id);
  int rc = EXEC(s, "SELECT id FROM events WHERE id = ?", &pid, 1, row_int, &found);
  if (!rc && !found) {
    vigil_err(err, errlen, -1, "event %lld not found", (long long)id);
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
                                   "event_plates", "outbox", "event_scene", "event_embeddings", "live_state"};
  size_t i = 0, nok = sizeof ok / sizeof ok[0];
  while (i < nok && strcmp(table, ok[i])) i++;
  if (i == nok) {
    return vigil_err(err, errlen, STORE_EINVAL, "unknown table %s", table);
  }
  char sql[80];
  snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s", ok[i]);
  *n = 0;
  return EXEC_LOCKED(s, sql, NULL, 0, row_int, n);
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
  return EXEC_LOCKED(s, "SELECT json FROM enrichment_results WHERE detection_id = ?", &p, 1, row_str, json);
}

int store_detection_snapshot(store *s, const char *detection_id, char **path, char *err, size_t errlen) {
  *path = NULL;
  sval p = sv_text(detection_id);
  int rc = EXEC_LOCKED(s, "SELECT COALESCE(snapshot_path, '') FROM detections WHERE id = ?", &p, 1, row_str, path);
  if (!rc && !*path) return vigil_err(err, errlen, STORE_ENOTFOUND, "no detection %s", detection_id);
  return rc;
}

/* ---- the notification outbox ------------------------------------------------------------ */

static bool sink_valid(const char *sink) { return sink && (!strcmp(sink, "mqtt") || !strcmp(sink, "webhook")); }

static int row_outbox(void *ud, int nc, const char *const *c) {
  if (nc < 4) return STORE_EDB;
  store_outbox_item *it = row_list_push(ud);
  if (!it) return STORE_ENOMEM;
  it->id = c[0] ? strtoll(c[0], NULL, 10) : 0;
  it->event_id = c[1] ? strtoll(c[1], NULL, 10) : 0;
  vigil_strlcpy(it->sink, c[2] ? c[2] : "", sizeof it->sink);
  it->attempts = c[3] ? atoi(c[3]) : 0;
  return 0;
}

int store_outbox_due(store *s, const char *sink, double now, double lease_s, int limit, store_outbox_item **items,
                     size_t *n, char *err, size_t errlen) {
  *items = NULL;
  *n = 0;
  if (!sink_valid(sink) || limit < 1 || limit > 1000 || !(lease_s >= 0)) {
    return vigil_err(err, errlen, STORE_EINVAL, "outbox: sink must be mqtt or webhook, limit 1..1000, lease >= 0");
  }
  sval p[3] = {sv_text(sink), sv_real(now), sv_int(limit)};
  row_list l = {.size = sizeof(store_outbox_item)};
  store_outbox_item *v;
  pthread_mutex_lock(&s->mu);
  int rc = EXEC(s,
                "SELECT id, event_id, sink, attempts FROM outbox WHERE sink = ? AND sent_at IS NULL AND next_at <= ?"
                " ORDER BY id LIMIT ?",
                p, 3, row_outbox, &l);
  /* claim each row for the lease, so that another dispatcher (another
   * process on the same store) skips it; a row whose claimer died is due
   * again when the lease ends */
  size_t kept = 0;
  v = l.v;
  for (size_t i = 0; !rc && i < l.n; i++) {
    int64_t got = 0;
    sval q[3] = {sv_real(now + lease_s), sv_int(v[i].id), sv_real(now)};
    rc = EXEC(s, "UPDATE outbox SET next_at = ? WHERE id = ? AND sent_at IS NULL AND next_at <= ? RETURNING id", q, 3,
              row_int, &got);
    if (!rc && got) v[kept++] = v[i];
  }
  pthread_mutex_unlock(&s->mu);
  if (rc) {
    if (rc == STORE_ENOMEM) vigil_err(err, errlen, -1, "out of memory");
    free(l.v);
    return rc;
  }
  *items = l.v;
  *n = kept;
  if (!kept) {
    free(l.v);
    *items = NULL;
  }
  return 0;
}

int store_outbox_sent(store *s, int64_t id, char *err, size_t errlen) {
  sval p[2] = {sv_real(vigil_wall_s()), sv_int(id)};
  return EXEC_LOCKED(s, "UPDATE outbox SET sent_at = ?, last_error = NULL WHERE id = ?", p, 2, NULL, NULL);
}

int store_outbox_release(store *s, int64_t id, char *err, size_t errlen) {
  sval p = sv_int(id);
  return EXEC_LOCKED(s, "UPDATE outbox SET next_at = 0 WHERE id = ? AND sent_at IS NULL", &p, 1, NULL, NULL);
}

int store_outbox_retry(store *s, int64_t id, double next_at, const char *error, char *err, size_t errlen) {
  sval p[3] = {sv_real(next_at), sv_text(error ? error : ""), sv_int(id)};
  return EXEC_LOCKED(s, "UPDATE outbox SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE id = ?", p, 3,
                     NULL, NULL);
}

int store_outbox_pending(store *s, const char *sink, int64_t *n, char *err, size_t errlen) {
  *n = 0;
  if (!sink_valid(sink)) {
    return vigil_err(err, errlen, STORE_EINVAL, "outbox: sink must be mqtt or webhook");
  }
  sval p = sv_text(sink);
  return EXEC_LOCKED(s, "SELECT COUNT(*) FROM outbox WHERE sink = ? AND sent_at IS NULL", &p, 1, row_int, n);
}

/* ---- what the dashboard and MQTT show --------------------------------------------------- */

static int row_det(void *ud, int nc, const char *const *c) {
  if (nc < 9) return STORE_EDB;
  vigil_detection *d = row_list_push(ud);
  if (!d) return STORE_ENOMEM;
  vigil_strlcpy(d->id, c[0] ? c[0] : "", sizeof d->id);
  vigil_strlcpy(d->camera_id, c[1] ? c[1] : "", sizeof d->camera_id);
  vigil_strlcpy(d->cls, c[2] ? c[2] : "", sizeof d->cls);
  d->confidence = c[3] ? strtof(c[3], NULL) : 0;
  d->bbox.x1 = c[4] ? strtof(c[4], NULL) : 0;
  d->bbox.y1 = c[5] ? strtof(c[5], NULL) : 0;
  d->bbox.x2 = c[6] ? strtof(c[6], NULL) : 0;
  d->bbox.y2 = c[7] ? strtof(c[7], NULL) : 0;
  d->ts = c[8] ? strtod(c[8], NULL) : 0;
  if (nc > 9 && c[9]) vigil_strlcpy(d->snapshot_path, c[9], sizeof d->snapshot_path);
  return 0;
}

int store_event_detections(store *s, int64_t event_id, vigil_detection **dets, size_t *n, char *err,
                           size_t errlen) {
  *dets = NULL;
  *n = 0;
  sval p = sv_int(event_id);
  row_list l = {.size = sizeof(vigil_detection)};
  int rc = row_list_query(s, &l,
                          "SELECT d.id, d.camera_id, d.class, d.confidence, d.x1, d.y1, d.x2, d.y2, d.ts, d.snapshot_path"
                          " FROM event_detections ed JOIN detections d ON d.id = ed.detection_id"
                          " WHERE ed.event_id = ? ORDER BY ed.seq",
                          &p, 1, row_det, err, errlen);
  if (rc) return rc;
  *dets = l.v;
  *n = l.n;
  return 0;
}

static int row_cam(void *ud, int nc, const char *const *c) {
  if (nc < 2) return STORE_EDB;
  store_camera *k = row_list_push(ud);
  if (!k) return STORE_ENOMEM;
  vigil_strlcpy(k->id, c[0] ? c[0] : "", sizeof k->id);
  vigil_strlcpy(k->name, c[1] ? c[1] : "", sizeof k->name);
  return 0;
}

int store_list_cameras(store *s, store_camera **cams, size_t *n, char *err, size_t errlen) {
  *cams = NULL;
  *n = 0;
  row_list l = {.size = sizeof(store_camera)};
  int rc = row_list_query(s, &l, "SELECT id, name FROM cameras ORDER BY id", NULL, 0, row_cam, err, errlen);
  if (rc) return rc;
  *cams = l.v;
  *n = l.n;
  return 0;
}

/* ---- durable open batches ------------------------------------------------------------ */

/* The enrichment summary of an open detection is kept as hex of the flat
 * struct, tagged with its size: open batches live minutes, across a crash of
 * the same binary; a row written by a build with another layout is recovered
 * without its enrichment rather than misread. */
static char *enr_encode(const vigil_enrichment *e) {
  size_t n = sizeof *e;
  char *h = malloc(n * 2 + 32);
  if (!h) return NULL;
  int k = snprintf(h, 32, "v1:%zu:", n);
  const uint8_t *b = (const uint8_t *)e;
  for (size_t i = 0; i < n; i++) snprintf(h + k + 2 * i, 3, "%02x", b[i]);
  return h;
}

static void enr_decode(vigil_enrichment *e, const char *h, const char *det_id) {
  memset(e, 0, sizeof *e);
  char tag[32];
  int k = snprintf(tag, sizeof tag, "v1:%zu:", sizeof *e);
  if (h && !strncmp(h, tag, (size_t)k) && strlen(h + k) == 2 * sizeof *e) {
    uint8_t *b = (uint8_t *)e;
    for (size_t i = 0; i < sizeof *e; i++) {
      unsigned v;
      if (sscanf(h + k + 2 * i, "%2x", &v) != 1) {
        memset(e, 0, sizeof *e);
        break;
      }
      b[i] = (uint8_t)v;
    }
  }
  /* whatever the bytes said, the strings end and the id is the detection's */
  vigil_strlcpy(e->detection_id, det_id, sizeof e->detection_id);
  e->threat.type[sizeof e->threat.type - 1] = 0;
}

int store_add_open_detection(store *s, const char *camera_name, const vigil_detection *d, const vigil_enrichment *e,
                             bool *fresh, char *err, size_t errlen) {
  *fresh = false;
  char *enc = enr_encode(e);
  if (!enc) {
    return vigil_err(err, errlen, STORE_ENOMEM, "out of memory");
  }
  pthread_mutex_lock(&s->mu);
  int64_t have = 0;
  sval pid = sv_text(d->id);
  int rc = EXEC(s, s->be->begin_sql, NULL, 0, NULL, NULL);
  if (rc) goto out;
  if ((rc = EXEC(s, "SELECT count(*) FROM detections WHERE id = ?", &pid, 1, row_int, &have))) goto end;
  if (have) {
    int64_t open = 0;
    if ((rc = EXEC(s, "SELECT count(*) FROM open_detections WHERE detection_id = ?", &pid, 1, row_int, &open)))
      goto end;
    if (open) { /* the same batch entry seen again (its track's best sighting): kept current */
      sval p[8] = {sv_text(d->cls),      sv_real(d->confidence), sv_real(d->bbox.x1), sv_real(d->bbox.y1),
                   sv_real(d->bbox.x2),  sv_real(d->bbox.y2),    sv_real(d->ts),      sv_text(d->id)};
      sval q[2] = {sv_text(enc), sv_text(d->id)};
      if ((rc = EXEC(s, "UPDATE detections SET class = ?, confidence = ?, x1 = ?, y1 = ?, x2 = ?, y2 = ?, ts = ? WHERE id = ?",
                     p, 8, NULL, NULL)) ||
          (rc = EXEC(s, "UPDATE open_detections SET enrichment = ? WHERE detection_id = ?", q, 2, NULL, NULL)))
        goto end;
      *fresh = true;
    } /* else: in a stored event already (a restart going over the same file): not again */
    goto end;
  }
  {
    sval p[3] = {sv_text(d->camera_id), sv_text(camera_name ? camera_name : ""), sv_real(vigil_wall_s())};
    if ((rc = EXEC(s, "INSERT INTO cameras(id, name, source, created_at) VALUES (?, ?, '', ?) ON CONFLICT(id) DO NOTHING",
                   p, 3, NULL, NULL)))
      goto end;
  }
  {
    sval p[9] = {sv_text(d->id),         sv_text(d->camera_id), sv_text(d->cls),
                 sv_real(d->confidence), sv_real(d->bbox.x1),   sv_real(d->bbox.y1),
                 sv_real(d->bbox.x2),    sv_real(d->bbox.y2),   sv_real(d->ts)};
    if ((rc = EXEC(s, "INSERT INTO detections(id, camera_id, class, confidence, x1, y1, x2, y2, ts)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", p, 9, NULL, NULL)))
      goto end;
  }
  if ((rc = put_enrichment(s, d->id, e, err, errlen))) goto end;
  {
    int64_t seq = 0;
    sval c = sv_text(d->camera_id);
    if ((rc = EXEC(s, "SELECT COALESCE(MAX(seq), -1) + 1 FROM open_detections WHERE camera_id = ?", &c, 1, row_int,
                   &seq)))
      goto end;
    sval p[4] = {sv_text(d->id), sv_text(d->camera_id), sv_int(seq), sv_text(enc)};
    if ((rc = EXEC(s, "INSERT INTO open_detections(detection_id, camera_id, seq, enrichment) VALUES (?, ?, ?, ?)", p, 4,
                   NULL, NULL)))
      goto end;
  }
  *fresh = true;
end: /* commits when rc is 0, else rolls back */
  if ((rc = store__tx_end(s, rc, err, errlen))) *fresh = false;
out:
  pthread_mutex_unlock(&s->mu);
  free(enc);
  return rc;
}

typedef struct {
  vigil_batch *b;
  int rc;
} open_ctx;

static int row_open(void *ud, int nc, const char *const *c) {
  open_ctx *x = ud;
  if (nc < 10 || !c[0]) return STORE_EDB;
  vigil_detection d;
  memset(&d, 0, sizeof d);
  vigil_strlcpy(d.id, c[0], sizeof d.id);
  vigil_strlcpy(d.camera_id, x->b->camera_id, sizeof d.camera_id);
  vigil_strlcpy(d.cls, c[1] ? c[1] : "", sizeof d.cls);
  d.confidence = c[2] ? strtof(c[2], NULL) : 0;
  d.bbox = (vigil_bbox){c[3] ? strtof(c[3], NULL) : 0, c[4] ? strtof(c[4], NULL) : 0, c[5] ? strtof(c[5], NULL) : 0,
                        c[6] ? strtof(c[6], NULL) : 0};
  d.ts = c[7] ? strtod(c[7], NULL) : 0;
  vigil_enrichment e;
  enr_decode(&e, c[8], d.id);
  if (vigil_batch_add(x->b, &d, &e)) return STORE_ENOMEM;
  if (x->b->n == 1 || d.ts < x->b->window_start) x->b->window_start = d.ts;
  if (d.ts > x->b->window_end) x->b->window_end = d.ts;
  return 0;
}

int store_open_batch(store *s, const char *camera_id, vigil_batch *b, char *err, size_t errlen) {
  vigil_batch_init(b, camera_id);
  open_ctx x = {b, 0};
  sval p = sv_text(camera_id);
  int rc = EXEC_LOCKED(s,
                       "SELECT d.id, d.class, d.confidence, d.x1, d.y1, d.x2, d.y2, d.ts, o.enrichment, o.seq"
                       " FROM open_detections o JOIN detections d ON d.id = o.detection_id"
                       " WHERE o.camera_id = ? ORDER BY o.seq",
                       &p, 1, row_open, &x);
  if (rc) vigil_batch_free(b);
  return rc;
}

int store_open_cameras(store *s, char (**ids)[VIGIL_ID_LEN], int *n, char *err, size_t errlen) {
  row_list l = {.size = VIGIL_ID_LEN};
  int rc = row_list_query(s, &l, "SELECT DISTINCT camera_id FROM open_detections ORDER BY camera_id", NULL, 0,
                          row_id, err, errlen);
  *ids = l.v;
  *n = (int)l.n;
  return rc;
}

/* ---- the watcher's ledger ------------------------------------------------------------ */

int store_file_seen(store *s, const char *path, long long size, int64_t mtime_ns, bool *seen, char *err,
                    size_t errlen) {
  int64_t c = 0;
  sval p[3] = {sv_text(path), sv_int(size), sv_int(mtime_ns)};
  int rc = EXEC_LOCKED(s, "SELECT count(*) FROM processed_files WHERE path = ? AND size = ? AND mtime_ns = ?", p, 3,
                       row_int, &c);
  *seen = c > 0;
  return rc;
}

int store_mark_file(store *s, const char *path, long long size, int64_t mtime_ns, const char *status, char *err,
                    size_t errlen) {
  sval p[5] = {sv_text(path), sv_int(size), sv_int(mtime_ns), sv_text(status), sv_real(vigil_wall_s())};
  return EXEC_LOCKED(s,
                     "INSERT INTO processed_files(path, size, mtime_ns, status, processed_at) VALUES (?, ?, ?, ?, ?)"
                     " ON CONFLICT(path, size, mtime_ns) DO UPDATE SET status = excluded.status",
                     p, 5, NULL, NULL);
}

int store_watch_root_first_start(store *s, const char *root, bool *first, char *err, size_t errlen) {
  int64_t c = 0;
  sval p[2] = {sv_text(root), sv_real(vigil_wall_s())};
  pthread_mutex_lock(&s->mu);
  int rc = EXEC(s, "SELECT count(*) FROM watch_roots WHERE root = ?", p, 1, row_int, &c);
  if (!rc && !c) rc = EXEC(s, "INSERT INTO watch_roots(root, first_started) VALUES (?, ?)", p, 2, NULL, NULL);
  pthread_mutex_unlock(&s->mu);
  *first = c == 0;
  return rc;
}

/* ---- live state ------------------------------------------------------------------------ */

void store_live_free(store_live *l) {
  if (!l) return;
  free(l->tracks_json);
  free(l->stats_json);
  free(l->jpeg);
  l->tracks_json = l->stats_json = NULL;
  l->jpeg = NULL;
  l->jpeg_len = 0;
}

void store_lives_free(store_live *l, size_t n) {
  if (!l) return;
  for (size_t i = 0; i < n; i++) store_live_free(&l[i]);
  free(l);
}

int store_put_live(store *s, const char *camera_id, double frame_ts, int width, int height, const char *tracks_json,
                   const char *stats_json, const uint8_t *jpeg, size_t jpeg_len, char *err, size_t errlen) {
  if (!s || !camera_id || !camera_id[0] || strlen(camera_id) >= VIGIL_ID_LEN || !tracks_json || width < 0 ||
      height < 0) {
    vigil_err(err, errlen, -1, "store_put_live: missing camera id or tracks");
    return STORE_EINVAL;
  }
  if (!stats_json) stats_json = "{}";
  if (strlen(tracks_json) > STORE_LIVE_MAX_TRACKS_JSON || strlen(stats_json) > STORE_LIVE_MAX_TRACKS_JSON ||
      jpeg_len > STORE_LIVE_MAX_JPEG) {
    vigil_err(err, errlen, -1, "store_put_live: tracks or frame too large");
    return STORE_EINVAL;
  }
  /* base64: both backends store text, and PostgreSQL text holds no NUL byte */
  char *b64 = NULL;
  if (jpeg && jpeg_len) {
    if (!(b64 = malloc(vigil_b64_encoded_len(jpeg_len) + 1))) {
      vigil_err(err, errlen, -1, "out of memory");
      return STORE_ENOMEM;
    }
    b64[vigil_b64_encode(b64, jpeg, jpeg_len, 0)] = '\0';
  }
  sval p[8] = {sv_text(camera_id), sv_real(vigil_wall_s()), sv_real(frame_ts), sv_int(width),
               sv_int(height),     sv_text(tracks_json), sv_text(stats_json), sv_text(b64)};
  pthread_mutex_lock(&s->mu);
  int rc = EXEC(s, s->be->begin_sql, NULL, 0, NULL, NULL);
  if (!rc)
    rc = EXEC(s,
              "INSERT INTO live_state(camera_id, seq, updated_at, frame_ts, width, height, tracks, stats, jpeg)"
              " VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM live_state), ?, ?, ?, ?, ?, ?, ?)"
              " ON CONFLICT(camera_id) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at,"
              " frame_ts = excluded.frame_ts, width = excluded.width, height = excluded.height,"
              " tracks = excluded.tracks, stats = excluded.stats, jpeg = excluded.jpeg",
              p, 8, NULL, NULL);
  rc = store__tx_end(s, rc, err, errlen);
  pthread_mutex_unlock(&s->mu);
  free(b64);
  return rc;
}

#define LIVE_HAS_JPEG " CASE WHEN jpeg IS NULL THEN 0 ELSE 1 END"

static void drop_live(void *rec) { store_live_free(rec); }

typedef struct {
  row_list rows; /* of store_live (drop_live) */
  bool with_jpeg, bad;
} live_list;

static int row_live(void *ud, int nc, const char *const *c) {
  live_list *x = ud;
  if (nc < 9) return STORE_EDB;
  store_live *l = row_list_push(&x->rows);
  if (!l) return STORE_ENOMEM;
  vigil_strlcpy(l->camera_id, c[0] ? c[0] : "", sizeof l->camera_id);
  l->seq = c[1] ? strtoll(c[1], NULL, 10) : 0;
  l->updated_at = c[2] ? strtod(c[2], NULL) : 0;
  l->frame_ts = c[3] ? strtod(c[3], NULL) : 0;
  l->width = c[4] ? atoi(c[4]) : 0;
  l->height = c[5] ? atoi(c[5]) : 0;
  l->tracks_json = strdup(c[6] ? c[6] : "[]");
  l->stats_json = strdup(c[7] ? c[7] : "{}");
  if (!l->tracks_json || !l->stats_json) return STORE_ENOMEM;
  if (!x->with_jpeg) l->has_jpeg = c[8] && c[8][0] == '1';
  if (x->with_jpeg && c[8] && c[8][0]) {
    size_t len = strlen(c[8]);
    if (vigil_b64_decode_alloc(&l->jpeg, &l->jpeg_len, c[8], len, STORE_LIVE_MAX_JPEG, NULL, 0)) {
      l->jpeg = NULL, l->jpeg_len = 0;
      x->bad = true; /* a damaged row: served as no frame */
    }
    l->has_jpeg = l->jpeg != NULL;
  }
  return 0;
}

int store_get_live(store *s, const char *camera_id, bool with_jpeg, store_live *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  live_list x = {.rows = {.size = sizeof(store_live), .drop = drop_live}, .with_jpeg = with_jpeg};
  sval p = sv_text(camera_id);
  int rc = EXEC_LOCKED(s,
                       with_jpeg ? "SELECT camera_id, seq, updated_at, frame_ts, width, height, tracks, stats, jpeg FROM live_state"
                                   " WHERE camera_id = ?"
                                 : "SELECT camera_id, seq, updated_at, frame_ts, width, height, tracks, stats," LIVE_HAS_JPEG " FROM live_state"
                                   " WHERE camera_id = ?",
                       &p, 1, row_live, &x);
  if (!rc && !x.rows.n) {
    vigil_err(err, errlen, -1, "camera %.64s has no live state", camera_id);
    rc = STORE_ENOTFOUND;
  }
  store_live *l = x.rows.v;
  if (!(rc = row_list_end(&x.rows, rc, err, errlen))) { /* the camera's one row passes to out */
    *out = l[0];
    for (size_t i = 1; i < x.rows.n; i++) store_live_free(&l[i]);
  }
  free(x.rows.v);
  return rc;
}

int store_live_after(store *s, int64_t after_seq, store_live **out, size_t *n, char *err, size_t errlen) {
  *out = NULL;
  *n = 0;
  live_list x = {.rows = {.size = sizeof(store_live), .drop = drop_live}};
  sval p = sv_int(after_seq);
  int rc = EXEC_LOCKED(s,
                       "SELECT camera_id, seq, updated_at, frame_ts, width, height, tracks, stats," LIVE_HAS_JPEG " FROM live_state"
                       " WHERE seq > ? ORDER BY seq LIMIT 1000",
                       &p, 1, row_live, &x);
  rc = row_list_end(&x.rows, rc, err, errlen);
  *out = x.rows.v;
  *n = x.rows.n;
  return rc;
}

int store_live_max_seq(store *s, int64_t *seq, char *err, size_t errlen) {
  *seq = 0;
  return EXEC_LOCKED(s, "SELECT COALESCE(MAX(seq), 0) FROM live_state", NULL, 0, row_int, seq);
}
