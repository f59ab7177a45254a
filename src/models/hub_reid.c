/* Person re-identification: OSNet x0.25 embeddings and the re-id gallery that
 * reuses one person_id for the same person across cameras and time (cosine
 * similarity over L2-normalised embeddings), kept in SQLite across restarts. */
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/hub_common.h"
#include "models/runner.h"
#include "vigil/hub.h"
#include "vigil/status.h"

/* OSNet (torchreid's test transform): resize to 256 high x 128 wide
 * (bilinear), ToTensor, ImageNet mean/std; RGB. */
#define OSNET_W 128
#define OSNET_H 256

int osnet_embed(model_runner *r, float *emb, const vigil_image *frame, float x1, float y1, float x2, float y2,
                char *err, size_t errlen) {
  int ih, iw;
  const vrt_tensor *decl = hub_rgb_input(r->m, OSNET_H, OSNET_W, &ih, &iw);
  if (!decl) return vigil_err(err, errlen, -1, "osnet: expected images [B,3,256,128] float32");
  if (ih > 2048 || iw > 2048) return vigil_err(err, errlen, -1, "osnet: input too large");
  vrt_tensor *o;
  int n;
  int rc = hub_run_box(r, "osnet-x0-25", frame, x1, y1, x2, y2, iw, ih, hub_imagenet_mean, hub_imagenet_std,
                       "person box is empty or outside the image", &o, &n, err, errlen);
  if (rc) return rc;
  if (n < 1 || o[0].dtype != VRT_F32 || vrt_tensor_numel(&o[0]) != REID_DIM) {
    runner_outputs_free(o, n);
    return vigil_err(err, errlen, -1, "osnet: expected features [1,%d]", REID_DIM);
  }
  memcpy(emb, o[0].data, sizeof(float) * REID_DIM);
  runner_outputs_free(o, n);
  float norm = hub_l2_normalize(emb, REID_DIM);
  if (!(norm > 0) || !isfinite(norm)) return vigil_err(err, errlen, -1, "osnet: the embedding is zero or not finite");
  return 0;
}

/* ---- gallery ------------------------------------------------------------------
 * Every person is one row: a running-mean embedding (re-normalised after each
 * sighting, the mean over at most REID_MEAN_CAP sightings so it follows slow
 * changes of appearance), first/last seen, and the cameras. A query takes the
 * most similar person; at or above the threshold its id is reused, else a new
 * person is added. Linear scan: galleries here are thousands of rows, 512
 * floats each, a few hundred microseconds. When full, the person seen least
 * recently is dropped. Every change is written through to SQLite at once. */
#define REID_GALLERY_MAX 10000
#define REID_MEAN_CAP 10
#define REID_MAX_CAMS 8

typedef struct {
  char id[64];
  float emb[REID_DIM];
  double first, last;
  int sightings, ncam;
  char cams[REID_MAX_CAMS][64];
} reid_person;

struct reid_gallery {
  pthread_mutex_t mu;
  sqlite3 *db;
  float threshold;
  reid_person *p;
  int n;
  long next_id;
};

static int db_exec(reid_gallery *g, const char *sql, char *err, size_t errlen) {
  char *msg = NULL;
  if (sqlite3_exec(g->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    vigil_err(err, errlen, -1, "reid gallery: %s", msg ? msg : sqlite3_errmsg(g->db));
    sqlite3_free(msg);
    return -1;
  }
  return 0;
}

static void cams_from_text(reid_person *p, const char *t) {
  p->ncam = 0;
  while (t && *t && p->ncam < REID_MAX_CAMS) {
    const char *e = strchr(t, '\n');
    size_t l = e ? (size_t)(e - t) : strlen(t);
    if (l && l < sizeof p->cams[0]) {
      memcpy(p->cams[p->ncam], t, l);
      p->cams[p->ncam++][l] = 0;
    }
    t = e ? e + 1 : NULL;
  }
}

static int db_load(reid_gallery *g, char *err, size_t errlen) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(g->db,
                         "SELECT person_id, embedding, first_seen, last_seen, sightings, cameras FROM reid_persons "
                         "ORDER BY last_seen DESC",
                         -1, &st, NULL) != SQLITE_OK)
    return vigil_err(err, errlen, -1, "reid gallery: %s", sqlite3_errmsg(g->db));
  while (sqlite3_step(st) == SQLITE_ROW && g->n < REID_GALLERY_MAX) {
    const unsigned char *id = sqlite3_column_text(st, 0);
    const void *blob = sqlite3_column_blob(st, 1);
    if (!id || !blob || sqlite3_column_bytes(st, 1) != (int)(sizeof(float) * REID_DIM) ||
        strlen((const char *)id) >= sizeof g->p[0].id)
      continue; /* a row vigil did not write: skip it rather than trust it */
    reid_person *p = &g->p[g->n];
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "%s", id);
    memcpy(p->emb, blob, sizeof p->emb);
    float norm = hub_l2_normalize(p->emb, REID_DIM);
    if (!(norm > 0) || !isfinite(norm)) continue;
    p->first = sqlite3_column_double(st, 2);
    p->last = sqlite3_column_double(st, 3);
    p->sightings = sqlite3_column_int(st, 4);
    cams_from_text(p, (const char *)sqlite3_column_text(st, 5));
    g->n++;
  }
  sqlite3_finalize(st);
  if (sqlite3_prepare_v2(g->db, "SELECT value FROM reid_meta WHERE key = 'next_id'", -1, &st, NULL) != SQLITE_OK)
    return vigil_err(err, errlen, -1, "reid gallery: %s", sqlite3_errmsg(g->db));
  if (sqlite3_step(st) == SQLITE_ROW) g->next_id = (long)sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  if (g->next_id < 1) g->next_id = 1;
  return 0;
}

int reid_gallery_open(reid_gallery **out, const char *path, float threshold, char *err, size_t errlen) {
  *out = NULL;
  if (!(threshold > -1 && threshold <= 1)) return vigil_err(err, errlen, -1, "reid gallery: threshold must be in (-1, 1]");
  reid_gallery *g = calloc(1, sizeof *g);
  if (!g || !(g->p = calloc(REID_GALLERY_MAX, sizeof *g->p))) {
    free(g);
    return vigil_err(err, errlen, -1, "out of memory");
  }
  g->threshold = threshold;
  g->next_id = 1;
  pthread_mutex_init(&g->mu, NULL);
  if (path && path[0]) {
    if (sqlite3_open_v2(path, &g->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) !=
        SQLITE_OK) {
      vigil_err(err, errlen, -1, "reid gallery: cannot open %s: %s", path, g->db ? sqlite3_errmsg(g->db) : "?");
      reid_gallery_close(g);
      return -1;
    }
    sqlite3_busy_timeout(g->db, 5000);
    if (db_exec(g,
                "PRAGMA journal_mode=WAL;"
                "CREATE TABLE IF NOT EXISTS reid_persons(person_id TEXT PRIMARY KEY, embedding BLOB NOT NULL,"
                " first_seen REAL NOT NULL, last_seen REAL NOT NULL, sightings INTEGER NOT NULL, cameras TEXT);"
                "CREATE TABLE IF NOT EXISTS reid_meta(key TEXT PRIMARY KEY, value INTEGER);",
                err, errlen) ||
        db_load(g, err, errlen)) {
      reid_gallery_close(g);
      return -1;
    }
  }
  *out = g;
  return 0;
}

void reid_gallery_close(reid_gallery *g) {
  if (!g) return;
  if (g->db) sqlite3_close(g->db);
  pthread_mutex_destroy(&g->mu);
  free(g->p);
  free(g);
}

static int db_save(reid_gallery *g, const reid_person *p, char *err, size_t errlen) {
  if (!g->db) return 0;
  char cams[REID_MAX_CAMS * 64 + 8] = "";
  size_t o = 0;
  for (int i = 0; i < p->ncam; i++) o += (size_t)snprintf(cams + o, sizeof cams - o, "%s%s", i ? "\n" : "", p->cams[i]);
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(g->db,
                              "INSERT OR REPLACE INTO reid_persons(person_id, embedding, first_seen, last_seen, "
                              "sightings, cameras) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                              -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, p->id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, p->emb, (int)sizeof p->emb, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, p->first);
    sqlite3_bind_double(st, 4, p->last);
    sqlite3_bind_int(st, 5, p->sightings);
    sqlite3_bind_text(st, 6, cams, -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    sqlite3_finalize(st);
  }
  if (rc == SQLITE_OK &&
      sqlite3_prepare_v2(g->db, "INSERT OR REPLACE INTO reid_meta(key, value) VALUES ('next_id', ?1)", -1, &st,
                         NULL) == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, g->next_id);
    rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    sqlite3_finalize(st);
  }
  if (rc != SQLITE_OK) return vigil_err(err, errlen, -1, "reid gallery: %s", sqlite3_errmsg(g->db));
  return 0;
}

static void db_delete(reid_gallery *g, const char *id) {
  sqlite3_stmt *st;
  if (!g->db || sqlite3_prepare_v2(g->db, "DELETE FROM reid_persons WHERE person_id = ?1", -1, &st, NULL) != SQLITE_OK)
    return;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  sqlite3_step(st);
  sqlite3_finalize(st);
}

static void add_camera(reid_person *p, const char *cam) {
  for (int i = 0; i < p->ncam; i++)
    if (!strcmp(p->cams[i], cam)) return;
  if (p->ncam < REID_MAX_CAMS) snprintf(p->cams[p->ncam++], sizeof p->cams[0], "%s", cam);
}

int reid_gallery_match(reid_gallery *g, reid_match *out, const float *emb, const char *camera_id, double ts,
                       char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  float q[REID_DIM];
  memcpy(q, emb, sizeof q);
  float norm = hub_l2_normalize(q, REID_DIM);
  if (!(norm > 0) || !isfinite(norm)) return vigil_err(err, errlen, -1, "reid gallery: the embedding is zero or not finite");
  if (!camera_id || !camera_id[0]) camera_id = "default";
  if (!isfinite(ts)) return vigil_err(err, errlen, -1, "reid gallery: bad timestamp");
  pthread_mutex_lock(&g->mu);
  int best = -1;
  float bs = -2;
  for (int i = 0; i < g->n; i++) {
    float s = hub_dot(q, g->p[i].emb, REID_DIM);
    if (s > bs) bs = s, best = i;
  }
  reid_person *p;
  if (best >= 0 && bs >= g->threshold) {
    p = &g->p[best];
    int k = p->sightings < REID_MEAN_CAP ? p->sightings : REID_MEAN_CAP;
    for (int i = 0; i < REID_DIM; i++) p->emb[i] = p->emb[i] * (float)k + q[i];
    hub_l2_normalize(p->emb, REID_DIM);
    p->sightings++;
    if (ts < p->first) p->first = ts;
    if (ts > p->last) p->last = ts;
    out->similarity = bs;
  } else {
    if (g->n == REID_GALLERY_MAX) { /* drop the person seen least recently */
      int old = 0;
      for (int i = 1; i < g->n; i++)
        if (g->p[i].last < g->p[old].last) old = i;
      db_delete(g, g->p[old].id);
      g->p[old] = g->p[--g->n];
    }
    p = &g->p[g->n++];
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "person-%06ld", g->next_id++);
    memcpy(p->emb, q, sizeof q);
    p->first = p->last = ts;
    p->sightings = 1;
    out->similarity = 1;
    out->is_new = true;
  }
  add_camera(p, camera_id);
  snprintf(out->person_id, sizeof out->person_id, "%s", p->id);
  out->first_seen = p->first;
  out->last_seen = p->last;
  out->n_cameras = p->ncam;
  for (int i = 0; i < p->ncam && i < 8; i++) snprintf(out->cameras[i], sizeof out->cameras[i], "%s", p->cams[i]);
  int rc = db_save(g, p, err, errlen);
  pthread_mutex_unlock(&g->mu);
  return rc;
}
