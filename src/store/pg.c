/* PostgreSQL backend of the event store (libpq): the same schema as SQLite in
 * PostgreSQL types, `?` placeholders rewritten to $n, text-format results. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"
#include "vigil/status.h"
#include "vigil/store.h"

static const char *const migrations[] = {
    /* 1: the schema */
    "CREATE TABLE cameras(id TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '', source TEXT NOT NULL DEFAULT '',"
    " created_at DOUBLE PRECISION NOT NULL);"
    "CREATE TABLE detections(id TEXT PRIMARY KEY, camera_id TEXT NOT NULL REFERENCES cameras(id),"
    " class TEXT NOT NULL, confidence DOUBLE PRECISION NOT NULL, x1 DOUBLE PRECISION NOT NULL,"
    " y1 DOUBLE PRECISION NOT NULL, x2 DOUBLE PRECISION NOT NULL, y2 DOUBLE PRECISION NOT NULL,"
    " ts DOUBLE PRECISION NOT NULL);"
    "CREATE INDEX detections_camera_ts ON detections(camera_id, ts);"
    "CREATE TABLE enrichment_results(detection_id TEXT PRIMARY KEY REFERENCES detections(id) ON DELETE CASCADE,"
    " json TEXT NOT NULL);"
    "CREATE TABLE events(id BIGSERIAL PRIMARY KEY, camera_id TEXT NOT NULL REFERENCES cameras(id),"
    " risk_score INTEGER NOT NULL CHECK (risk_score BETWEEN 0 AND 100),"
    " risk_level TEXT NOT NULL CHECK (risk_level IN ('low','medium','high','critical')),"
    " summary TEXT NOT NULL, reasoning TEXT NOT NULL, window_start DOUBLE PRECISION NOT NULL,"
    " window_end DOUBLE PRECISION NOT NULL, fast_path INTEGER NOT NULL DEFAULT 0, scorer TEXT NOT NULL,"
    " reviewed INTEGER NOT NULL DEFAULT 0, notes TEXT, snapshot_path TEXT, batch_key TEXT NOT NULL,"
    " created_at DOUBLE PRECISION NOT NULL, UNIQUE (camera_id, window_start, batch_key));"
    "CREATE INDEX events_window ON events(window_start);"
    "CREATE TABLE event_detections(event_id BIGINT NOT NULL REFERENCES events(id) ON DELETE CASCADE,"
    " detection_id TEXT NOT NULL REFERENCES detections(id), seq INTEGER NOT NULL,"
    " PRIMARY KEY (event_id, detection_id));",
    /* 2: filters of the events API */
    "CREATE INDEX events_camera_window ON events(camera_id, window_start);"
    "CREATE INDEX events_level_window ON events(risk_level, window_start);",
    /* 3: licence plates of an event (GET /events?plate=) */
    "CREATE TABLE event_plates(event_id BIGINT NOT NULL REFERENCES events(id) ON DELETE CASCADE,"
    " plate TEXT NOT NULL, PRIMARY KEY (event_id, plate));"
    "CREATE INDEX event_plates_plate ON event_plates(plate);",
    /* 4: the notification outbox, written in the event's transaction */
    "CREATE TABLE outbox(id BIGSERIAL PRIMARY KEY,"
    " event_id BIGINT NOT NULL REFERENCES events(id) ON DELETE CASCADE, sink TEXT NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, next_at DOUBLE PRECISION NOT NULL DEFAULT 0,"
    " sent_at DOUBLE PRECISION, last_error TEXT, created_at DOUBLE PRECISION NOT NULL, UNIQUE (event_id, sink));"
    "CREATE INDEX outbox_due ON outbox(sink, sent_at, next_at);",
    /* 5: durable open batches and the watcher's ledger of processed files */
    "CREATE TABLE open_detections(detection_id TEXT PRIMARY KEY REFERENCES detections(id),"
    " camera_id TEXT NOT NULL, seq INTEGER NOT NULL, enrichment TEXT NOT NULL);"
    "CREATE INDEX open_detections_camera ON open_detections(camera_id, seq);"
    "CREATE TABLE processed_files(path TEXT NOT NULL, size BIGINT NOT NULL, mtime_ns BIGINT NOT NULL,"
    " status TEXT NOT NULL, processed_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (path, size, mtime_ns));"
    "CREATE TABLE watch_roots(root TEXT PRIMARY KEY, first_started DOUBLE PRECISION NOT NULL);",
    /* 6: the scene models' view of an event (caption, CLIP anomaly) and its CLIP
     * embeddings for semantic search (src/store/embeddings.c) */
    "CREATE TABLE event_scene(event_id BIGINT PRIMARY KEY REFERENCES events(id) ON DELETE CASCADE,"
    " caption TEXT, anomaly_score DOUBLE PRECISION, similarity DOUBLE PRECISION,"
    " baseline_warm INTEGER NOT NULL DEFAULT 0, baseline_samples BIGINT NOT NULL DEFAULT 0,"
    " is_anomaly INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE event_embeddings(event_id BIGINT NOT NULL REFERENCES events(id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL, kind TEXT NOT NULL, detection_id TEXT, label TEXT NOT NULL DEFAULT '',"
    " dim INTEGER NOT NULL, vec TEXT NOT NULL, PRIMARY KEY (event_id, seq));",
    /* 7: ids of the risk rules that fired, space-separated (GET /events?rule=) */
    "ALTER TABLE events ADD COLUMN rules TEXT NOT NULL DEFAULT '';",
    /* 8: what each camera's pipeline sees now (dashboard tiles): one row per camera, replaced */
    "CREATE TABLE live_state(camera_id TEXT PRIMARY KEY, seq BIGINT NOT NULL, updated_at DOUBLE PRECISION NOT NULL,"
    " frame_ts DOUBLE PRECISION NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL, tracks TEXT NOT NULL, stats TEXT NOT NULL, jpeg TEXT);"
    "CREATE INDEX live_state_seq ON live_state(seq);",
    /* 9: the JPEG of a tracked object's best sighting (GET /detections/{id}/snapshot) */
    "ALTER TABLE detections ADD COLUMN snapshot_path TEXT;",
};

#ifdef VIGIL_HAVE_PQ
#include <libpq-fe.h>

/* `?` -> `$n` (our SQL has no '?' inside literals). */
static char *rewrite(const char *sql) {
  size_t n = strlen(sql), q = 0;
  for (size_t i = 0; i < n; i++) q += sql[i] == '?';
  char *o = malloc(n + q * 4 + 1);
  if (!o) return NULL;
  size_t k = 0;
  int idx = 0;
  for (size_t i = 0; i < n; i++) {
    if (sql[i] == '?')
      k += (size_t)sprintf(o + k, "$%d", ++idx);
    else
      o[k++] = sql[i];
  }
  o[k] = '\0';
  return o;
}

static int pg_exec(void *vdb, const char *sql, const sval *params, int n, store_row_fn fn, void *ud, char *err,
                   size_t errlen) {
  PGconn *c = vdb;
  if (PQstatus(c) != CONNECTION_OK) PQreset(c);
  PGresult *r;
  if (!n && !fn) {
    r = PQexec(c, sql);
  } else {
    char *q = rewrite(sql);
    if (!q || n > 32) {
      free(q);
      return vigil_err(err, errlen, STORE_ENOMEM, "pg: out of memory or too many parameters");
    }
    char bufs[32][40];
    const char *vals[32];
    for (int i = 0; i < n; i++) {
      switch (params[i].t) {
      case SV_NULL: vals[i] = NULL; break;
      case SV_INT: snprintf(bufs[i], sizeof bufs[i], "%lld", (long long)params[i].i), vals[i] = bufs[i]; break;
      case SV_REAL: snprintf(bufs[i], sizeof bufs[i], "%.17g", params[i].d), vals[i] = bufs[i]; break;
      case SV_TEXT: vals[i] = params[i].s; break;
      }
    }
    r = PQexecParams(c, q, n, NULL, vals, NULL, NULL, 0);
    free(q);
  }
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    vigil_err(err, errlen, -1, "postgresql: %s", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    PQclear(r);
    return STORE_EDB;
  }
  int ret = 0;
  if (fn && st == PGRES_TUPLES_OK) {
    int rows = PQntuples(r), nc = PQnfields(r);
    if (nc > 32) nc = 32;
    for (int i = 0; i < rows && !ret; i++) {
      const char *cols[32];
      for (int k = 0; k < nc; k++) cols[k] = PQgetisnull(r, i, k) ? NULL : PQgetvalue(r, i, k);
      ret = fn(ud, nc, cols);
    }
  }
  PQclear(r);
  return ret;
}

static void pg_close(void *db) { PQfinish(db); }

static void pg_notice(void *arg, const char *msg) {} /* CREATE ... notices are noise */

int store__pg_open(void **out, const char *conninfo, char *err, size_t errlen) {
  *out = NULL;
  PGconn *c = PQconnectdb(conninfo);
  if (!c || PQstatus(c) != CONNECTION_OK) {
    vigil_err(err, errlen, -1, "postgresql connect: %s", c ? PQerrorMessage(c) : "out of memory");
    PQfinish(c);
    return STORE_EDB;
  }
  PQsetNoticeProcessor(c, pg_notice, NULL);
  *out = c;
  return 0;
}

const store_backend store__pg = {
    .name = "postgresql",
    .exec = pg_exec,
    .close = pg_close,
    .begin_sql = "BEGIN",
    .lock_sql = "SELECT pg_advisory_xact_lock(7346211)", /* one migrator at a time */
    STORE_MIGRATIONS(migrations),
};
#else
int store__pg_open(void **out, const char *conninfo, char *err, size_t errlen) {
  *out = NULL;
  (void)migrations;
  return vigil_err(err, errlen, STORE_EUNSUPPORTED, "vigil was built without libpq (PostgreSQL)");
}

const store_backend store__pg = {.name = "postgresql"};
#endif
