/* SQLite backend of the event store: WAL, foreign keys, busy timeout, and the
 * schema migrations as an ordered array of SQL scripts. */
#include <sqlite3.h>
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
    " created_at REAL NOT NULL);"
    "CREATE TABLE detections(id TEXT PRIMARY KEY, camera_id TEXT NOT NULL REFERENCES cameras(id),"
    " class TEXT NOT NULL, confidence REAL NOT NULL, x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL,"
    " y2 REAL NOT NULL, ts REAL NOT NULL);"
    "CREATE INDEX detections_camera_ts ON detections(camera_id, ts);"
    "CREATE TABLE enrichment_results(detection_id TEXT PRIMARY KEY REFERENCES detections(id) ON DELETE CASCADE,"
    " json TEXT NOT NULL);"
    "CREATE TABLE events(id INTEGER PRIMARY KEY AUTOINCREMENT, camera_id TEXT NOT NULL REFERENCES cameras(id),"
    " risk_score INTEGER NOT NULL CHECK (risk_score BETWEEN 0 AND 100),"
    " risk_level TEXT NOT NULL CHECK (risk_level IN ('low','medium','high','critical')),"
    " summary TEXT NOT NULL, reasoning TEXT NOT NULL, window_start REAL NOT NULL, window_end REAL NOT NULL,"
    " fast_path INTEGER NOT NULL DEFAULT 0, scorer TEXT NOT NULL, reviewed INTEGER NOT NULL DEFAULT 0,"
    " notes TEXT, snapshot_path TEXT, batch_key TEXT NOT NULL, created_at REAL NOT NULL,"
    " UNIQUE (camera_id, window_start, batch_key));"
    "CREATE INDEX events_window ON events(window_start);"
    "CREATE TABLE event_detections(event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,"
    " detection_id TEXT NOT NULL REFERENCES detections(id), seq INTEGER NOT NULL,"
    " PRIMARY KEY (event_id, detection_id));",
    /* 2: filters of the events API */
    "CREATE INDEX events_camera_window ON events(camera_id, window_start);"
    "CREATE INDEX events_level_window ON events(risk_level, window_start);",
    /* 3: licence plates of an event (GET /events?plate=) */
    "CREATE TABLE event_plates(event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,"
    " plate TEXT NOT NULL, PRIMARY KEY (event_id, plate));"
    "CREATE INDEX event_plates_plate ON event_plates(plate);",
    /* 4: the notification outbox, written in the event's transaction */
    "CREATE TABLE outbox(id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE, sink TEXT NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL DEFAULT 0, sent_at REAL, last_error TEXT,"
    " created_at REAL NOT NULL, UNIQUE (event_id, sink));"
    "CREATE INDEX outbox_due ON outbox(sink, sent_at, next_at);",
    /* 5: durable open batches and the watcher's ledger of processed files */
    "CREATE TABLE open_detections(detection_id TEXT PRIMARY KEY REFERENCES detections(id),"
    " camera_id TEXT NOT NULL, seq INTEGER NOT NULL, enrichment TEXT NOT NULL);"
    "CREATE INDEX open_detections_camera ON open_detections(camera_id, seq);"
    "CREATE TABLE processed_files(path TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
    " status TEXT NOT NULL, processed_at REAL NOT NULL, PRIMARY KEY (path, size, mtime_ns));"
    "CREATE TABLE watch_roots(root TEXT PRIMARY KEY, first_started REAL NOT NULL);",
    /* 6: the scene models' view of an event (caption, CLIP anomaly) and its CLIP
     * embeddings for semantic search (src/store/embeddings.c) */
    "CREATE TABLE event_scene(event_id INTEGER PRIMARY KEY REFERENCES events(id) ON DELETE CASCADE,"
    " caption TEXT, anomaly_score REAL, similarity REAL, baseline_warm INTEGER NOT NULL DEFAULT 0,"
    " baseline_samples INTEGER NOT NULL DEFAULT 0, is_anomaly INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE event_embeddings(event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL, kind TEXT NOT NULL, detection_id TEXT, label TEXT NOT NULL DEFAULT '',"
    " dim INTEGER NOT NULL, vec TEXT NOT NULL, PRIMARY KEY (event_id, seq));",
    /* 7: ids of the risk rules that fired, space-separated (GET /events?rule=) */
    "ALTER TABLE events ADD COLUMN rules TEXT NOT NULL DEFAULT '';",
    /* 8: what each camera's pipeline sees now (dashboard tiles): one row per camera, replaced */
    "CREATE TABLE live_state(camera_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, updated_at REAL NOT NULL,"
    " frame_ts REAL NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL, tracks TEXT NOT NULL, stats TEXT NOT NULL, jpeg TEXT);"
    "CREATE INDEX live_state_seq ON live_state(seq);",
    /* 9: the JPEG of a tracked object's best sighting (GET /detections/{id}/snapshot) */
    "ALTER TABLE detections ADD COLUMN snapshot_path TEXT;",
};

static int lite_exec(void *vdb, const char *sql, const sval *params, int n, store_row_fn fn, void *ud, char *err,
                     size_t errlen) {
  sqlite3 *db = vdb;
  if (!n && !fn) {
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
      vigil_err(err, errlen, -1, "sqlite: %s", msg ? msg : sqlite3_errmsg(db));
      sqlite3_free(msg);
      return STORE_EDB;
    }
    return 0;
  }
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    return vigil_err(err, errlen, STORE_EDB, "sqlite: %s", sqlite3_errmsg(db));
  }
  for (int i = 0; i < n; i++) {
    int rc = SQLITE_OK;
    switch (params[i].t) {
    case SV_NULL: rc = sqlite3_bind_null(st, i + 1); break;
    case SV_INT: rc = sqlite3_bind_int64(st, i + 1, params[i].i); break;
    case SV_REAL: rc = sqlite3_bind_double(st, i + 1, params[i].d); break;
    case SV_TEXT: rc = sqlite3_bind_text(st, i + 1, params[i].s, -1, SQLITE_TRANSIENT); break;
    }
    if (rc != SQLITE_OK) {
      vigil_err(err, errlen, -1, "sqlite bind: %s", sqlite3_errmsg(db));
      sqlite3_finalize(st);
      return STORE_EDB;
    }
  }
  int ret = 0;
  for (;;) {
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      vigil_err(err, errlen, -1, "sqlite: %s", sqlite3_errmsg(db));
      ret = STORE_EDB;
      break;
    }
    if (!fn) continue;
    int nc = sqlite3_column_count(st);
    const char *cols[32];
    if (nc > 32) nc = 32;
    for (int c = 0; c < nc; c++) cols[c] = (const char *)sqlite3_column_text(st, c);
    if ((ret = fn(ud, nc, cols))) break;
  }
  sqlite3_finalize(st);
  return ret;
}

static void lite_close(void *db) { sqlite3_close(db); }

int store__sqlite_open(void **out, const char *path, char *err, size_t errlen) {
  *out = NULL;
  sqlite3 *db = NULL;
  int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
  if (rc != SQLITE_OK) {
    vigil_err(err, errlen, -1, "sqlite open %s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return STORE_EDB;
  }
  sqlite3_busy_timeout(db, 10000);
  /* WAL keeps readers off the writer's back; NORMAL sync is durable across a
   * process crash (only power loss can drop the last commits). */
  rc = lite_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;", NULL, 0, NULL,
                 NULL, err, errlen);
  if (rc) sqlite3_close(db);
  else *out = db;
  return rc;
}

const store_backend store__sqlite = {
    .name = "sqlite",
    .exec = lite_exec,
    .close = lite_close,
    .begin_sql = "BEGIN IMMEDIATE",
    STORE_MIGRATIONS(migrations),
};
