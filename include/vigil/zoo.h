/* vigil model zoo: the registry of every model vigil knows (one data table,
 * optionally extended by a config file) and the manager that loads them on
 * demand within a memory budget, with priority-LRU eviction, leases,
 * single-flight loads, idle unloading and failure backoff.
 *
 * Threads and ownership, for every function below:
 *   - A zoo_registry is plain data: build it on one thread, then share it
 *     read-only. zoo_manager_init copies the rows it needs.
 *   - A zoo_manager is fully thread-safe after zoo_manager_init returns: any
 *     thread may acquire, release, preload, unload, reap or snapshot at any
 *     time. zoo_manager_free must run alone, after every lease was released.
 *   - A lease pins one loaded model: between acquire and release the handle
 *     stays valid and the model is never evicted, reaped or unloaded.
 *   - Fallible calls return 0 or a negative zoo status and write a readable
 *     message into the caller's err buffer (err may be NULL).
 */
#ifndef VIGIL_ZOO_H
#define VIGIL_ZOO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes, defined once: name, value, message, HTTP status. */
#define ZOO_STATUS_MAP(X)                                                         \
  X(OK, 0, "ok", 200)                                                             \
  X(EINVAL, -1, "invalid argument", 400)                                          \
  X(ENOTFOUND, -2, "unknown model", 400)                                          \
  X(ENOSPACE, -3, "model cannot fit the memory budget", 507)                      \
  X(EBUSY, -4, "memory budget is held by models in use", 503)                     \
  X(ELOAD, -5, "model failed to load", 500)                                       \
  X(EBACKOFF, -6, "model failed to load recently; retry later", 503)              \
  X(ELEASED, -7, "model is in use", 409)                                          \
  X(ENOMEM, -8, "out of memory", 500)                                             \
  X(ECONFIG, -9, "bad zoo configuration", 500)

typedef enum {
#define ZOO_X_(name, code, msg, http) ZOO_##name = code,
  ZOO_STATUS_MAP(ZOO_X_)
#undef ZOO_X_
} zoo_status;

const char *zoo_strerror(int status);
int zoo_http_status(int status); /* 200, 400, 409, 500, 503, 507 */

/* ---- registry -------------------------------------------------------------- */

/* Eviction priority; a lower value is kept longer (model-zoo.md's table). */
typedef enum { ZOO_CRITICAL = 0, ZOO_HIGH = 1, ZOO_MEDIUM = 2, ZOO_LOW = 3 } zoo_priority;

/* Which service hosts a model: the always-on core services, or one of the two
 * enrichment services of model-zoo.md's split. */
typedef enum { ZOO_SVC_CORE = 0, ZOO_SVC_HEAVY = 1, ZOO_SVC_LIGHT = 2 } zoo_service;

enum {
  ZOO_ROW_ALWAYS_LOADED = 1u << 0, /* a core service model: pinned, never evicted */
  ZOO_ROW_VIGIL_DEFAULT = 1u << 1, /* one of vigil's real default models */
  ZOO_ROW_HOME_RELATIVE = 1u << 2, /* default_path is relative to $VIGIL_HOME */
  ZOO_ROW_NO_WEIGHTS = 1u << 3,    /* runs without a weights file (e.g. BRISQUE) */
};

#define ZOO_NAME_MAX 64
#define ZOO_PATH_MAX 512

typedef struct zoo_model_row {
  char name[ZOO_NAME_MAX];
  double declared_mb;         /* the design's VRAM figure; replaced by measurement */
  zoo_priority priority;
  zoo_service service;
  unsigned flags;             /* ZOO_ROW_* */
  char adapter[32];           /* "yolo-detect", "vit-classify", "movenet-pose", ... */
  char env_var[48];           /* env var that overrides the weights path ("" none) */
  char default_path[ZOO_PATH_MAX];
} zoo_model_row;

typedef struct zoo_registry {
  zoo_model_row *rows;
  int count;
  int cap;
} zoo_registry;

/* The compiled-in table only. */
int zoo_registry_init_builtin(zoo_registry *r, char *err, size_t errlen);
/* The compiled-in table, then the file named by $VIGIL_ZOO_CONFIG if set. */
int zoo_registry_init(zoo_registry *r, char *err, size_t errlen);
/* Apply a config file (format in docs/zoo.md): each line adds a row or
 * overrides fields of an existing one. On error nothing is changed. */
int zoo_registry_load_config(zoo_registry *r, const char *path, char *err, size_t errlen);
int zoo_registry_load_config_text(zoo_registry *r, const char *text, char *err, size_t errlen);
void zoo_registry_free(zoo_registry *r); /* NULL is a no-op */
const zoo_model_row *zoo_registry_find(const zoo_registry *r, const char *name);

/* Where the row's weights come from: $env_var if set, else default_path
 * (under $VIGIL_HOME when ZOO_ROW_HOME_RELATIVE). *from_env tells which. */
int zoo_row_weights_path(const zoo_model_row *row, char *buf, size_t len, bool *from_env);
/* true if the weights path exists (or the row needs no weights). */
bool zoo_row_installed(const zoo_model_row *row);

const char *zoo_priority_name(zoo_priority p); /* "CRITICAL", "HIGH", ... */
const char *zoo_service_name(zoo_service s);   /* "core", "heavy", "light" */
int zoo_priority_parse(const char *s, zoo_priority *out);
int zoo_service_parse(const char *s, zoo_service *out);

/* ---- budget ---------------------------------------------------------------- */

#define ZOO_MB ((uint64_t)1024 * 1024)
#define ZOO_BUDGET_MAX_GB 4096.0 /* anything above is a typo, not a GPU */

/* "6.8" (GB) -> 6963.2 (MB). Rejects negative, NaN, inf, trailing junk and
 * values above ZOO_BUDGET_MAX_GB. */
int zoo_budget_parse_gb(const char *s, double *out_mb, char *err, size_t errlen);

/* ---- manager --------------------------------------------------------------- */

/* How models are loaded. Real adapters wrap vrt; tests plug in fakes.
 * load() returns 0 and a handle plus the bytes it measured (for a vrt model:
 * vrt_model_weight_bytes + the session arena peak after a warm-up run), or a
 * negative value and a message. unload() frees a handle load() returned.
 * Both may be called from any thread, concurrently for different models. */
typedef struct zoo_loader {
  void *ctx;
  int (*load)(void *ctx, const zoo_model_row *row, void **handle, uint64_t *measured_bytes,
              char *err, size_t errlen);
  void (*unload)(void *ctx, const zoo_model_row *row, void *handle);
} zoo_loader;

/* Where memory figures come from. NULL callbacks fall back to the loader's
 * own measurement (vrt's CPU accounting). A device source (cudaMemGetInfo)
 * implements used() and turns the delta around a load into the measurement. */
typedef struct zoo_memsource {
  void *ctx;
  /* bytes in use on the device now (for delta sources); NULL if unknown */
  uint64_t (*used)(void *ctx);
  /* final measured bytes of a model just loaded; reported = loader's figure,
   * used_before/used_after = used() around the load (0 if used is NULL) */
  uint64_t (*measure)(void *ctx, void *handle, uint64_t reported, uint64_t used_before,
                      uint64_t used_after);
  /* total device memory, for status; NULL = physical RAM */
  uint64_t (*total)(void *ctx);
} zoo_memsource;

/* Monotonic nanoseconds; tests pass a fake one. */
typedef struct zoo_clock {
  void *ctx;
  int64_t (*now_ns)(void *ctx);
} zoo_clock;

typedef struct zoo_params {
  double budget_mb;            /* default 6.0 GB = 6144 MB */
  double idle_timeout_s;       /* unload after this idle time (default 300; <= 0 never) */
  int acquire_timeout_ms;      /* how long to wait for busy memory (default 5000) */
  double backoff_base_s;       /* first retry delay after a failed load (default 2) */
  double backoff_max_s;        /* cap of the exponential backoff (default 300) */
  double reaper_interval_s;    /* > 0: run a reaper thread (default 0: call zoo_manager_reap) */
  unsigned service_mask;       /* which rows to manage: bit (1 << zoo_service); default heavy|light */
  bool include_always_loaded;  /* manage (and pin) ALWAYS_LOADED rows too (default false) */
  zoo_loader loader;
  zoo_memsource memsource;
  zoo_clock clock;             /* NULL now_ns = CLOCK_MONOTONIC */
} zoo_params;

zoo_params zoo_default_params(void);
/* Apply the environment: VRAM_BUDGET_GB, ZOO_IDLE_TIMEOUT_S (default 300),
 * ZOO_ACQUIRE_TIMEOUT_MS (default 5000) and ZOO_REAPER_INTERVAL_S (default
 * 30; this turns the reaper thread on, as a service wants). */
int zoo_params_from_env(zoo_params *p, char *err, size_t errlen);

typedef struct zoo_manager zoo_manager;
typedef struct zoo_entry zoo_entry;

typedef struct zoo_lease {
  zoo_entry *entry; /* internal */
  void *handle;     /* the loader's handle; valid until release */
  int shard;        /* internal */
} zoo_lease;

int zoo_manager_init(zoo_manager **out, const zoo_registry *reg, zoo_params p, char *err,
                     size_t errlen);
/* Unloads every model. Must not race with any other call; leases must be released. */
void zoo_manager_free(zoo_manager *m); /* NULL is a no-op */

/* Take a lease on a model, loading it first if needed (one load however many
 * threads ask). Cache hits take no lock. Errors: ENOTFOUND, ENOSPACE (never
 * fits), EBUSY (memory held by leased models past the deadline), ELOAD,
 * EBACKOFF (failed recently). */
int zoo_manager_acquire(zoo_manager *m, const char *name, zoo_lease *out, char *err,
                        size_t errlen);
void zoo_manager_release(zoo_manager *m, zoo_lease *l); /* zeroes *l; NULL handle no-op */

typedef struct zoo_result {
  const char *status; /* "loaded", "already_loaded", "unloaded", "not_loaded" */
  char model[ZOO_NAME_MAX];
  char message[256];
} zoo_result;

/* Load a model and keep it (unleased). */
int zoo_manager_preload(zoo_manager *m, const char *name, zoo_result *res);
/* Unload a model now. A leased model is not waited for: ZOO_ELEASED (409). */
int zoo_manager_unload(zoo_manager *m, const char *name, zoo_result *res);
/* Preload every model of the comma list $ENRICHMENT_PRELOAD_MODELS that this
 * manager manages. Returns the number that failed (each is logged). */
int zoo_manager_preload_env(zoo_manager *m);
/* Unload every unleased, unpinned model idle for idle_timeout_s at now_ns
 * (the manager clock). Returns how many were unloaded. */
int zoo_manager_reap(zoo_manager *m, int64_t now_ns);

bool zoo_manager_manages(const zoo_manager *m, const char *name);
uint64_t zoo_manager_used_bytes(const zoo_manager *m); /* reserved + measured */
int zoo_manager_load_count(const zoo_manager *m, const char *name); /* loads started, for tests */

/* ---- a loader for plain vrt models ------------------------------------------- */

/* What zoo_vrt_loader's load() hands out: the model, one session (use it
 * under the lease from one thread at a time, or create your own from model),
 * and the bytes measured: vrt_model_weight_bytes + the session's arena peak
 * after a warm-up run on zero-filled inputs. */
typedef struct zoo_vrt_model {
  struct vrt_model *model;
  struct vrt_session *session;
  uint64_t weight_bytes, arena_peak_bytes;
} zoo_vrt_model;

/* Loads the row's weights path (zoo_row_weights_path) with vrt. Dynamic input
 * dims are 1 for the first dim and 64 for the rest during warm-up; a model
 * whose warm-up fails is reported as failed. threads: per-session threads. */
zoo_loader zoo_vrt_loader(int threads);

/* ---- status ---------------------------------------------------------------- */

typedef enum {
  ZOO_STATE_UNLOADED = 0,
  ZOO_STATE_LOADING,
  ZOO_STATE_LOADED,
  ZOO_STATE_EVICTING,
  ZOO_STATE_FAILED,
} zoo_state;

const char *zoo_state_name(zoo_state s); /* "unloaded", "loading", ... */

typedef struct zoo_model_status {
  char name[ZOO_NAME_MAX];
  zoo_priority priority;
  zoo_state state;
  bool loaded;
  double declared_mb;
  double measured_mb; /* 0 until measured */
  double vram_mb;     /* measured if known, else declared */
  int leases;
  int64_t last_used_unix_ms; /* 0 if never used */
  char error[256];           /* last failure, "" if none */
} zoo_model_status;

typedef struct zoo_snapshot {
  const char *health; /* "healthy", "degraded" (> 95% used), "unhealthy" */
  double vram_total_mb, vram_used_mb, vram_available_mb, vram_budget_mb;
  double vram_utilization_percent;
  double uptime_seconds;
  int nmodels;
  zoo_model_status *models; /* every managed model */
} zoo_snapshot;

int zoo_manager_status(zoo_manager *m, zoo_snapshot *out);
void zoo_snapshot_free(zoo_snapshot *s); /* NULL is a no-op */

#ifdef __cplusplus
}
#endif
#endif
