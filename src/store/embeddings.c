/* The scene side of the event store: an event's caption and CLIP anomaly
 * (event_scene, written in the event's own transaction) and its CLIP embeddings
 * (event_embeddings: the snapshot and confirmed crops, base64 little-endian
 * float32 text so both backends hold them alike) scanned page by page for the
 * events API's semantic search. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"
#include "util/base64.h"
#include "vigil/status.h"
#include "vigil/store.h"

#define SCAN_PAGE 512

/* ---- scene ---------------------------------------------------------------------------------- */

int store__scene_insert(struct store *s, int64_t event_id, const vigil_scene *sc, char *err, size_t errlen) {
  if (!sc->has_caption && !sc->has_anomaly) return 0;
  sval p[7] = {sv_int(event_id),
               sv_text(sc->has_caption ? sc->caption : NULL),
               sc->has_anomaly ? sv_real(sc->anomaly_score) : sv_text(NULL),
               sc->has_anomaly ? sv_real(sc->similarity) : sv_text(NULL),
               sv_int(sc->baseline_warm),
               sv_int(sc->baseline_samples),
               sv_int(sc->is_anomaly)};
  return EXEC(s,
              "INSERT INTO event_scene(event_id, caption, anomaly_score, similarity, baseline_warm, baseline_samples,"
              " is_anomaly) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(event_id) DO NOTHING",
              p, 7, NULL, NULL);
}

static int row_scene(void *ud, int nc, const char *const *c) {
  vigil_scene *sc = ud;
  if (nc < 6) return STORE_EDB;
  if (c[0]) {
    sc->has_caption = true;
    vigil_strlcpy(sc->caption, c[0], sizeof sc->caption);
  }
  if (c[1]) {
    sc->has_anomaly = true;
    sc->anomaly_score = strtof(c[1], NULL);
    sc->similarity = c[2] ? strtof(c[2], NULL) : NAN;
    sc->baseline_warm = c[3] && atoi(c[3]);
    sc->baseline_samples = c[4] ? strtoll(c[4], NULL, 10) : 0;
    sc->is_anomaly = c[5] && atoi(c[5]);
  }
  return 0;
}

int store__scene_load(struct store *s, vigil_event *ev, char *err, size_t errlen) {
  memset(&ev->scene, 0, sizeof ev->scene);
  sval p = sv_int(ev->id);
  return EXEC(s,
              "SELECT caption, anomaly_score, similarity, baseline_warm, baseline_samples, is_anomaly"
              " FROM event_scene WHERE event_id = ?",
              &p, 1, row_scene, &ev->scene);
}

/* ---- vectors as text ---------------------------------------------------------------------- */

static char *vec_encode(const float *v, int dim) {
  size_t nb = sizeof(float) * (size_t)dim;
  uint8_t *raw = malloc(nb);
  char *txt = malloc(vigil_b64_encoded_len(nb) + 1);
  if (!raw || !txt) {
    free(raw);
    free(txt);
    return NULL;
  }
  for (int i = 0; i < dim; i++) { /* little-endian whatever the host */
    uint32_t u;
    memcpy(&u, &v[i], 4);
    for (int k = 0; k < 4; k++) raw[4 * i + k] = (uint8_t)(u >> (8 * k));
  }
  vigil_b64_encode(txt, raw, nb, 0);
  free(raw);
  return txt;
}

/* Decodes a stored vector of `dim` floats into out; -1 when it is not one. */
static int vec_decode(float *out, int dim, const char *txt) {
  size_t nb = sizeof(float) * (size_t)dim, got = 0;
  uint8_t *raw = malloc(nb + 4);
  if (!raw) return -1;
  int rc = vigil_b64_decode(raw, nb + 4, &got, txt, strlen(txt), NULL, 0);
  if (!rc && got == nb)
    for (int i = 0; i < dim; i++) {
      uint32_t u = 0;
      for (int k = 0; k < 4; k++) u |= (uint32_t)raw[4 * i + k] << (8 * k);
      memcpy(&out[i], &u, 4);
      if (!isfinite(out[i])) rc = -1;
    }
  free(raw);
  return !rc && got == nb ? 0 : -1;
}

/* ---- writing and reading ------------------------------------------------------------------ */

int store_put_embeddings(store *s, int64_t event_id, const store_embedding *e, int n, char *err, size_t errlen) {
  if (n < 0 || n > STORE_MAX_EMBEDDINGS || event_id < 1) {
    return vigil_err(err, errlen, STORE_EINVAL, "store_put_embeddings: bad event id or more than %d embeddings",
                     STORE_MAX_EMBEDDINGS);
  }
  for (int i = 0; i < n; i++)
    if (e[i].dim < 1 || e[i].dim > STORE_MAX_EMBED_DIM || e[i].dim != e[0].dim || !e[i].vec) {
      return vigil_err(err, errlen, STORE_EINVAL, "store_put_embeddings: embeddings of one event must share one width");
    }
  char *txt[STORE_MAX_EMBEDDINGS] = {0};
  for (int i = 0; i < n; i++)
    if (!(txt[i] = vec_encode(e[i].vec, e[i].dim))) {
      for (int k = 0; k < i; k++) free(txt[k]);
      return vigil_err(err, errlen, STORE_ENOMEM, "out of memory");
    }
  pthread_mutex_lock(&s->mu);
  int rc = EXEC(s, s->be->begin_sql, NULL, 0, NULL, NULL);
  if (!rc) {
    sval id = sv_int(event_id);
    rc = EXEC(s, "DELETE FROM event_embeddings WHERE event_id = ?", &id, 1, NULL, NULL);
    for (int i = 0; !rc && i < n; i++) {
      sval p[7] = {sv_int(event_id),
                   sv_int(i),
                   sv_text(e[i].kind[0] ? e[i].kind : "snapshot"),
                   sv_text(e[i].detection_id[0] ? e[i].detection_id : NULL),
                   sv_text(e[i].label),
                   sv_int(e[i].dim),
                   sv_text(txt[i])};
      rc = EXEC(s,
                "INSERT INTO event_embeddings(event_id, seq, kind, detection_id, label, dim, vec)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                p, 7, NULL, NULL);
    }
    rc = store__tx_end(s, rc, err, errlen);
  }
  pthread_mutex_unlock(&s->mu);
  for (int i = 0; i < n; i++) free(txt[i]);
  return rc;
}

void store_embeddings_free(store_embedding *e, int n) {
  for (int i = 0; e && i < n; i++) free(e[i].vec);
  free(e);
}

static void fill_meta(store_embedding *e, const char *kind, const char *det, const char *label) {
  vigil_strlcpy(e->kind, kind ? kind : "", sizeof e->kind);
  vigil_strlcpy(e->detection_id, det ? det : "", sizeof e->detection_id);
  vigil_strlcpy(e->label, label ? label : "", sizeof e->label);
}

typedef struct {
  store_embedding *e;
  int n;
  bool oom;
} one_event;

/* cols: kind, detection_id, label, dim, vec */
static int row_own(void *ud, int nc, const char *const *c) {
  one_event *x = ud;
  if (nc < 5 || x->n >= STORE_MAX_EMBEDDINGS) return 0;
  long dim = c[3] ? strtol(c[3], NULL, 10) : 0;
  if (dim < 1 || dim > STORE_MAX_EMBED_DIM || !c[4]) return 0; /* a damaged row is skipped, not fatal */
  store_embedding *e = &x->e[x->n];
  memset(e, 0, sizeof *e);
  if (!(e->vec = malloc(sizeof(float) * (size_t)dim))) {
    x->oom = true;
    return STORE_ENOMEM;
  }
  if (vec_decode(e->vec, (int)dim, c[4])) {
    free(e->vec);
    e->vec = NULL;
    return 0;
  }
  e->dim = (int)dim;
  fill_meta(e, c[0], c[1], c[2]);
  x->n++;
  return 0;
}

int store_event_embeddings(store *s, int64_t event_id, store_embedding **out, int *n, char *err, size_t errlen) {
  *out = NULL;
  *n = 0;
  one_event x = {.e = calloc(STORE_MAX_EMBEDDINGS, sizeof(store_embedding))};
  if (!x.e) return vigil_err(err, errlen, STORE_ENOMEM, "out of memory");
  sval p = sv_int(event_id);
  int rc = EXEC_LOCKED(s,
                       "SELECT kind, detection_id, label, dim, vec FROM event_embeddings WHERE event_id = ? ORDER BY seq",
                       &p, 1, row_own, &x);
  if (rc) {
    if (x.oom) vigil_err(err, errlen, rc, "out of memory");
    store_embeddings_free(x.e, x.n);
    return rc;
  }
  *out = x.e;
  *n = x.n;
  return 0;
}

typedef struct {
  store_embedding e; /* e.vec: dim floats, reused for every row */
  store_embedding_fn fn;
  void *ud;
  int64_t last_event, last_seq;
  int rows, stopped;
} scan_ctx;

/* cols: event_id, seq, kind, detection_id, label, vec */
static int row_scan(void *ud, int nc, const char *const *c) {
  scan_ctx *x = ud;
  if (nc < 6 || !c[0] || !c[1]) return STORE_EDB;
  x->rows++;
  x->last_event = strtoll(c[0], NULL, 10);
  x->last_seq = strtoll(c[1], NULL, 10);
  if (!c[5] || vec_decode(x->e.vec, x->e.dim, c[5])) return 0; /* a damaged row is skipped */
  fill_meta(&x->e, c[2], c[3], c[4]);
  int r = x->fn(x->ud, x->last_event, &x->e);
  if (r) x->stopped = r;
  return r;
}

int store_scan_embeddings(store *s, int dim, store_embedding_fn fn, void *ud, char *err, size_t errlen) {
  if (dim < 1 || dim > STORE_MAX_EMBED_DIM) return vigil_err(err, errlen, STORE_EINVAL, "embedding width out of range");
  scan_ctx x = {.fn = fn, .ud = ud, .last_event = 0, .last_seq = -1};
  x.e.dim = dim;
  if (!(x.e.vec = malloc(sizeof(float) * (size_t)dim))) return vigil_err(err, errlen, STORE_ENOMEM, "out of memory");
  int rc = 0;
  do { /* keyset pages: each one a short read under the lock */
    x.rows = 0;
    sval p[5] = {sv_int(dim), sv_int(x.last_event), sv_int(x.last_event), sv_int(x.last_seq), sv_int(SCAN_PAGE)};
    pthread_mutex_lock(&s->mu);
    rc = EXEC(s,
              "SELECT event_id, seq, kind, detection_id, label, vec FROM event_embeddings WHERE dim = ?"
              " AND (event_id > ? OR (event_id = ? AND seq > ?)) ORDER BY event_id, seq LIMIT ?",
              p, 5, row_scan, &x);
    pthread_mutex_unlock(&s->mu);
  } while (!rc && !x.stopped && x.rows == SCAN_PAGE);
  free(x.e.vec);
  if (x.stopped) return 0; /* the caller stopped it; not a store error */
  return rc;
}
