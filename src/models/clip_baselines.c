/* The rolling per-camera CLIP scene baselines, in one SQLite file
 * (VIGIL_CLIP_BASELINES) shared by the CLIP service's /anomaly-score and the
 * pipeline's scene stage, so a camera has one usual view whoever looks at it.
 * A score and its update run in one IMMEDIATE transaction: two processes
 * updating the same camera never lose a sample. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "models/hub_common.h"
#include "util/assets.h"
#include "util/log.h"
#include "vigil/clip.h"
#include "vigil/config.h"

struct clip_baselines {
  sqlite3 *db; /* NULL: baselines live in memory only for this call (they do not persist) */
  pthread_mutex_t mu;
};

int clip_baselines_open(clip_baselines **out, const char *path) {
  *out = NULL;
  clip_baselines *b = calloc(1, sizeof *b);
  if (!b) return -1;
  pthread_mutex_init(&b->mu, NULL);
  char def[1024];
  if (!path || !*path) path = vigil_config_str(NULL, "VIGIL_CLIP_BASELINES");
  if ((!path || !*path) && vigil_asset_path(def, sizeof def, "clip-baselines.sqlite") == 0) path = def;
  if (path && sqlite3_open_v2(path, &b->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                              NULL) == SQLITE_OK) {
    sqlite3_busy_timeout(b->db, 5000);
    if (sqlite3_exec(b->db,
                     "PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS clip_baselines(camera_id TEXT PRIMARY KEY,"
                     " samples INTEGER NOT NULL, dim INTEGER NOT NULL, mean BLOB NOT NULL, updated REAL NOT NULL);",
                     NULL, NULL, NULL) != SQLITE_OK) {
      vlog_warn("clip: baselines database %s: %s; baselines will not persist", path, sqlite3_errmsg(b->db));
      sqlite3_close(b->db);
      b->db = NULL;
    }
  } else {
    if (b->db) sqlite3_close(b->db);
    b->db = NULL;
    vlog_warn("clip: cannot open the baselines database %s; baselines will not persist", path ? path : "(none)");
  }
  *out = b;
  return 0;
}

void clip_baselines_close(clip_baselines *b) {
  if (!b) return;
  if (b->db) sqlite3_close(b->db);
  pthread_mutex_destroy(&b->mu);
  free(b);
}

/* Loads a camera's baseline (left zeroed when it has none or another width). */
static void load(clip_baselines *bs, clip_baseline *b, const char *cam) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(bs->db, "SELECT samples, dim, mean FROM clip_baselines WHERE camera_id = ?", -1, &st, NULL))
    return;
  sqlite3_bind_text(st, 1, cam, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 1) == b->dim &&
      sqlite3_column_bytes(st, 2) == (int)(sizeof(float) * (size_t)b->dim)) {
    b->count = sqlite3_column_int64(st, 0);
    memcpy(b->mean, sqlite3_column_blob(st, 2), sizeof(float) * (size_t)b->dim);
  }
  sqlite3_finalize(st);
}

static void save(clip_baselines *bs, const clip_baseline *b, const char *cam) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(bs->db,
                         "INSERT INTO clip_baselines(camera_id, samples, dim, mean, updated) VALUES(?,?,?,?,?) "
                         "ON CONFLICT(camera_id) DO UPDATE SET samples=excluded.samples, dim=excluded.dim, "
                         "mean=excluded.mean, updated=excluded.updated",
                         -1, &st, NULL))
    return;
  sqlite3_bind_text(st, 1, cam, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, b->count);
  sqlite3_bind_int(st, 3, b->dim);
  sqlite3_bind_blob(st, 4, b->mean, (int)(sizeof(float) * (size_t)b->dim), SQLITE_STATIC);
  sqlite3_bind_double(st, 5, (double)time(NULL));
  if (sqlite3_step(st) != SQLITE_DONE) vlog_warn("clip: baseline of %s not saved: %s", cam, sqlite3_errmsg(bs->db));
  sqlite3_finalize(st);
}

int clip_baselines_score(clip_baselines *bs, const char *camera, const float *e, int dim, bool update,
                         float min_alpha, long warm_after, clip_anomaly *out) {
  memset(out, 0, sizeof *out);
  clip_baseline b = {0};
  if (clip_baseline_init(&b, dim)) return -1;
  pthread_mutex_lock(&bs->mu);
  bool tx = bs->db && sqlite3_exec(bs->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
  if (tx) load(bs, &b, camera);
  out->have_baseline = b.count > 0;
  out->similarity = out->have_baseline ? hub_dot(e, b.mean, dim) : 1.0f;
  out->anomaly_score = out->have_baseline ? 1.0f - out->similarity : 0.0f;
  out->warm = b.count >= warm_after;
  out->samples = b.count;
  if (update) {
    clip_baseline_update(&b, e, min_alpha);
    out->samples = b.count;
    if (tx) save(bs, &b, camera);
  }
  if (tx && sqlite3_exec(bs->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
    vlog_warn("clip: baseline of %s not saved: %s", camera, sqlite3_errmsg(bs->db));
    sqlite3_exec(bs->db, "ROLLBACK", NULL, NULL, NULL);
  }
  pthread_mutex_unlock(&bs->mu);
  clip_baseline_free(&b);
  return 0;
}
