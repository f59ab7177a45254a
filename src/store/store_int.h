/* The backend table behind the store API: each backend (sqlite.c, pg.c)
 * executes parameterised SQL written with `?` placeholders and hands result
 * rows back as text; store.c holds all the schema logic. */
#ifndef VIGIL_STORE_INT_H
#define VIGIL_STORE_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/event.h"

typedef enum { SV_NULL, SV_INT, SV_REAL, SV_TEXT } sv_type;

typedef struct {
  sv_type t;
  int64_t i;
  double d;
  const char *s;
} sval;

static inline sval sv_int(int64_t i) { return (sval){SV_INT, i, 0, NULL}; }
static inline sval sv_real(double d) { return (sval){SV_REAL, 0, d, NULL}; }
static inline sval sv_text(const char *s) { return (sval){s ? SV_TEXT : SV_NULL, 0, 0, s}; }

/* Called per result row; cols[i] is NULL for SQL NULL. Non-zero stops. */
typedef int (*store_row_fn)(void *ud, int ncol, const char *const *cols);

typedef struct {
  const char *name;
  /* Runs one statement (or, with no params and no row_fn, a script). */
  int (*exec)(void *db, const char *sql, const sval *params, int n, store_row_fn fn, void *ud, char *err,
              size_t errlen);
  void (*close)(void *db);
  const char *begin_sql;  /* starts a write transaction */
  const char *lock_sql;   /* run first inside the migration transaction, or NULL */
  const char *const *migrations;
  int n_migrations;
} store_backend;

/* A backend's migration list, the designated initializers of both fields. */
#define STORE_MIGRATIONS(list) .migrations = (list), .n_migrations = (int)(sizeof(list) / sizeof((list)[0]))

extern const store_backend store__sqlite;
extern const store_backend store__pg;

/* A store handle (store.c); the files of the store share it. */
struct store {
  const store_backend *be;
  void *db;
  pthread_mutex_t mu;
  unsigned sinks;        /* STORE_SINK_*: which outbox rows an event gets */
  int webhook_min_rank;  /* 0 low .. 3 critical */
};

/* One statement on s's backend, with `err`/`errlen` of the caller in scope. */
#define EXEC(s, sql, params, n, fn, ud) (s)->be->exec((s)->db, sql, params, n, fn, ud, err, errlen)

/* One statement under s's lock (EXEC_LOCKED: with the caller's err/errlen). */
int store__exec_locked(struct store *s, const char *sql, const sval *params, int n, store_row_fn fn, void *ud,
                       char *err, size_t errlen);
#define EXEC_LOCKED(s, sql, params, n, fn, ud) store__exec_locked(s, sql, params, n, fn, ud, err, errlen)

/* Ends the write transaction begun with be->begin_sql: COMMIT when rc is 0,
 * ROLLBACK when rc or the COMMIT failed (quietly: rc's message stands).
 * Returns rc, or the COMMIT's failure. */
int store__tx_end(struct store *s, int rc, char *err, size_t errlen);

/* embeddings.c: an event's scene row, written in its insert transaction and read
 * with its details (caller holds mu). */
int store__scene_insert(struct store *s, int64_t event_id, const vigil_scene *sc, char *err, size_t errlen);
int store__scene_load(struct store *s, vigil_event *ev, char *err, size_t errlen);

/* Open functions: 0 and *db, or STORE_E* with a message. */
int store__sqlite_open(void **db, const char *path, char *err, size_t errlen);
int store__pg_open(void **db, const char *conninfo, char *err, size_t errlen);

/* An enrichment as compact JSON text (store/json.c), malloc'ed; NULL when out
 * of memory. What the enrichment_results column holds. */
char *store__enrichment_text(const vigil_enrichment *e);

#endif
