/* The zoo manager: loads models on demand within a memory budget, evicts by
 * (priority desc, last_used asc), lends models out under leases, coalesces
 * concurrent loads, unloads idle models and backs off after failures.
 *
 * How the concurrency works
 * -------------------------
 * The set of managed models is fixed at init: an array of entries plus an
 * open-addressing name index, never modified afterwards, so looking a model up
 * needs no lock at all.
 *
 * Each entry has an atomic `state` (UNLOADED, LOADING, LOADED, EVICTING,
 * FAILED) and a lease count, split into cache-line-sized shards so that
 * threads hitting the same model do not fight over one line; the count is the
 * sum of the shards. A cache hit is two atomic operations: increment the
 * calling thread's shard, then re-read state; if it is still LOADED the caller
 * holds a lease and reads the handle. Eviction is the mirror image: under the
 * budget mutex the evictor CASes LOADED -> EVICTING, then sums the shards; if
 * the sum is not zero it puts LOADED back. Both sides use sequentially consistent
 * atomics, so of the two "write then read the other's variable" sequences at
 * least one sees the other's write (the Dekker argument): either the reader
 * sees EVICTING and drops its lease, or the evictor sees the lease and backs
 * off. A leased model can therefore never reach unload(). Release is one
 * atomic decrement; only if a thread is reserving memory (an atomic count of
 * reservers says so) does it take the budget mutex to wake it. A reserver
 * bumps that count before it reads any lease count, so by the same argument
 * a release that it did not see will see it, and wake it.
 *
 * The budget mutex guards the byte accounting only: `used` (the sum of each
 * entry's `charge`: the reservation of a loading model, the measured bytes of
 * a loaded one, still counted while its eviction runs) and `freeing` (bytes of
 * claimed victims not yet unloaded). It is held to decide, never to act: no
 * load() and no unload() ever runs under it. A load reserves the declared size
 * (or the last measured size) first, evicting claimed victims outside the
 * lock and retrying; once loaded, the charge is trued up to the measured
 * bytes, evicting more if the model turned out bigger. Because a model's bytes
 * stay in `used` until its unload() has returned, and a load starts only after
 * its reservation fits, the memory really in use never exceeds the budget
 * (except while a model whose first measurement exceeds its declaration is
 * being loaded; from then on its measured size is reserved).
 *
 * Single flight: whoever moves an entry from UNLOADED (or FAILED past its
 * backoff) to LOADING under the entry mutex is the one loader. Later callers
 * queue a waiter record on the entry and sleep on its condition variable. The
 * loader, under the entry mutex, grants one lease per queued waiter before it
 * publishes LOADED, and writes the same handle or the same error into every
 * waiter record, so every waiter gets exactly the loader's outcome even if the
 * model is evicted right after. The entry mutex is never held across a load.
 *
 * Lock order: budget mutex, then an entry mutex. Nobody takes the budget mutex
 * while holding an entry mutex.
 */
#include "vigil/zoo.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/sync.h"
#include "vigil/config.h"
#include "vigil/status.h"

#define LEASE_SHARDS 8

typedef struct lease_shard {
  _Alignas(64) _Atomic int n; /* one cache line each */
} lease_shard;

typedef struct zoo_waiter {
  struct zoo_waiter *next;
  bool done;
  int status;
  void *handle;
  char err[256];
} zoo_waiter;

struct zoo_entry {
  lease_shard leases[LEASE_SHARDS]; /* first: 64-byte aligned with the array */
  zoo_model_row row;
  bool pinned; /* ALWAYS_LOADED: never evicted or reaped */
  _Atomic int state;
  _Atomic int64_t last_used; /* manager clock, ns */
  _Atomic int loads;         /* load attempts started */
  _Atomic uint64_t measured; /* bytes, while loaded */
  _Atomic uint64_t last_measured;
  void *handle; /* written before LOADED is published, read under a lease */

  pthread_mutex_t mu; /* guards waiters, error, fail_count, next_retry_ns */
  pthread_cond_t cv;
  zoo_waiter *waiters;
  char error[256];
  int fail_count;
  int64_t next_retry_ns;

  uint64_t charge; /* bytes counted in manager.used; guarded by bmu */
};

struct zoo_manager {
  zoo_params p;
  int n;
  zoo_entry *entries;
  int *index; /* open addressing: entry index or -1 */
  unsigned index_mask;

  pthread_mutex_t bmu;
  pthread_cond_t space_cv;
  uint64_t budget, used, freeing; /* bytes; guarded by bmu */
  _Atomic int space_waiters;

  int64_t start_ns;       /* manager clock at init */
  int64_t start_wall_ms;  /* wall clock at init */
  int64_t touch_granularity_ns;

  bool reaper_on, reaper_stop;
  pthread_t reaper;
  pthread_mutex_t rmu;
  pthread_cond_t rcv;
};

/* ---- small helpers --------------------------------------------------------- */

/* Truncating copy (the messages we keep are bounded; snprintf("%s") warns). */
static void copy_str(char *dst, size_t cap, const char *src) {
  size_t n = strnlen(src, cap - 1);
  memcpy(dst, src, n);
  dst[n] = 0;
}

static int my_shard(void) {
  static _Atomic int next_thread;
  static _Thread_local int shard = -1;
  if (shard < 0) shard = atomic_fetch_add(&next_thread, 1) % LEASE_SHARDS;
  return shard;
}

static int lease_count(const zoo_entry *e) {
  int n = 0;
  for (int i = 0; i < LEASE_SHARDS; i++) n += atomic_load(&e->leases[i].n);
  return n;
}

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t mgr_now(const zoo_manager *m) {
  return m->p.clock.now_ns ? m->p.clock.now_ns(m->p.clock.ctx) : mono_ns();
}

static double to_mb(uint64_t b) { return (double)b / (double)ZOO_MB; }

static uint64_t mb_to_bytes(double mb) { return mb <= 0 ? 0 : (uint64_t)llround(mb * (double)ZOO_MB); }

static struct timespec ns_to_ts(int64_t ns) {
  struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
  return ts;
}

static uint32_t name_hash(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

static zoo_entry *find_entry(const zoo_manager *m, const char *name) {
  if (!name) return NULL;
  for (uint32_t i = name_hash(name) & m->index_mask;; i = (i + 1) & m->index_mask) {
    int k = m->index[i];
    if (k < 0) return NULL;
    if (!strcmp(m->entries[k].row.name, name)) return &m->entries[k];
  }
}

const char *zoo_state_name(zoo_state s) {
  static const char *const names[] = {"unloaded", "loading", "loaded", "evicting", "failed"};
  return (unsigned)s < 5 ? names[s] : "?";
}

/* ---- params ----------------------------------------------------------------- */

zoo_params zoo_default_params(void) {
  zoo_params p;
  memset(&p, 0, sizeof p);
  p.budget_mb = 6.0 * 1024.0;
  p.idle_timeout_s = 300;
  p.acquire_timeout_ms = 5000;
  p.backoff_base_s = 2;
  p.backoff_max_s = 300;
  p.reaper_interval_s = 0;
  p.service_mask = (1u << ZOO_SVC_HEAVY) | (1u << ZOO_SVC_LIGHT);
  p.include_always_loaded = false;
  return p;
}

int zoo_params_from_env(zoo_params *p, char *err, size_t errlen) {
  const char *b = vigil_config_given(NULL, "VRAM_BUDGET_GB");
  if (b) {
    int rc = zoo_budget_parse_gb(b, &p->budget_mb, err, errlen);
    if (rc) return rc;
  }
  static const struct {
    const char *key;
    double lo, hi;
  } keys[] = {{"ZOO_IDLE_TIMEOUT_S", -1, 1e9}, {"ZOO_REAPER_INTERVAL_S", 0, 86400},
              {"ZOO_ACQUIRE_TIMEOUT_MS", 0, 3600000}};
  double v[3] = {p->idle_timeout_s, 30, p->acquire_timeout_ms};
  for (int i = 0; i < 3; i++) {
    const char *t = vigil_config_given(NULL, keys[i].key);
    if (!t || !*t) continue;
    char *end;
    errno = 0;
    double x = strtod(t, &end);
    if (end == t || *end || errno || isnan(x) || x < keys[i].lo || x > keys[i].hi)
      return vigil_err(err, errlen, ZOO_EINVAL, "%s '%s' is not a number in [%g, %g]", keys[i].key,
                    t, keys[i].lo, keys[i].hi);
    v[i] = x;
  }
  p->idle_timeout_s = v[0];
  p->reaper_interval_s = v[0] > 0 ? v[1] : 0; /* a service reaps on its own */
  p->acquire_timeout_ms = (int)v[2];
  return 0;
}

/* ---- init / free ------------------------------------------------------------ */

static void *reaper_main(void *arg);

int zoo_manager_init(zoo_manager **out, const zoo_registry *reg, zoo_params p, char *err,
                     size_t errlen) {
  *out = NULL;
  if (!reg || !p.loader.load || !p.loader.unload)
    return vigil_err(err, errlen, ZOO_EINVAL, "zoo manager needs a registry and a loader");
  if (isnan(p.budget_mb) || p.budget_mb < 0 || p.budget_mb > ZOO_BUDGET_MAX_GB * 1024)
    return vigil_err(err, errlen, ZOO_EINVAL, "budget %g MB is out of range", p.budget_mb);
  if (p.acquire_timeout_ms < 0) p.acquire_timeout_ms = 0;
  zoo_manager *m = calloc(1, sizeof *m);
  if (!m) return vigil_err(err, errlen, ZOO_ENOMEM, "out of memory");
  m->p = p;
  for (int i = 0; i < reg->count; i++) {
    const zoo_model_row *r = &reg->rows[i];
    if (!(p.service_mask & (1u << r->service))) continue;
    if ((r->flags & ZOO_ROW_ALWAYS_LOADED) && !p.include_always_loaded) continue;
    m->n++;
  }
  unsigned cap = 16;
  while (cap < (unsigned)m->n * 2) cap *= 2;
  size_t ebytes = (m->n ? (size_t)m->n : 1) * sizeof *m->entries;
  m->entries = aligned_alloc(64, (ebytes + 63) / 64 * 64);
  if (m->entries) memset(m->entries, 0, ebytes);
  m->index = malloc(cap * sizeof *m->index);
  if (!m->entries || !m->index) {
    free(m->entries);
    free(m->index);
    free(m);
    return vigil_err(err, errlen, ZOO_ENOMEM, "out of memory");
  }
  m->index_mask = cap - 1;
  for (unsigned i = 0; i < cap; i++) m->index[i] = -1;
  int k = 0;
  for (int i = 0; i < reg->count; i++) {
    const zoo_model_row *r = &reg->rows[i];
    if (!(p.service_mask & (1u << r->service))) continue;
    if ((r->flags & ZOO_ROW_ALWAYS_LOADED) && !p.include_always_loaded) continue;
    if (find_entry(m, r->name)) continue; /* duplicate name: first row wins */
    zoo_entry *e = &m->entries[k];
    e->row = *r;
    e->pinned = (r->flags & ZOO_ROW_ALWAYS_LOADED) != 0;
    vigil_sync_init(&e->mu, &e->cv, true);
    uint32_t h = name_hash(r->name) & m->index_mask;
    while (m->index[h] >= 0) h = (h + 1) & m->index_mask;
    m->index[h] = k++;
  }
  m->n = k;
  vigil_sync_init(&m->bmu, &m->space_cv, true);
  m->budget = mb_to_bytes(p.budget_mb);
  m->start_ns = mgr_now(m);
  struct timespec wall;
  clock_gettime(CLOCK_REALTIME, &wall);
  m->start_wall_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
  m->touch_granularity_ns = p.clock.now_ns ? 0 : 1000000; /* real clock: 1 ms */
  vigil_sync_init(&m->rmu, &m->rcv, true);
  if (p.reaper_interval_s > 0) {
    if (pthread_create(&m->reaper, NULL, reaper_main, m) == 0) m->reaper_on = true;
    else vlog_warn("zoo: could not start the reaper thread; idle models stay loaded");
  }
  *out = m;
  return 0;
}

void zoo_manager_free(zoo_manager *m) {
  if (!m) return;
  if (m->reaper_on) {
    vigil_sync_raise(&m->rmu, &m->rcv, &m->reaper_stop);
    pthread_join(m->reaper, NULL);
  }
  for (int i = 0; i < m->n; i++) {
    zoo_entry *e = &m->entries[i];
    if (lease_count(e) > 0)
      vlog_warn("zoo: freeing manager while '%s' still has %d lease(s)", e->row.name,
                lease_count(e));
    if (atomic_load(&e->state) == ZOO_STATE_LOADED && e->handle)
      m->p.loader.unload(m->p.loader.ctx, &e->row, e->handle);
    vigil_sync_destroy(&e->mu, &e->cv);
  }
  vigil_sync_destroy(&m->bmu, &m->space_cv);
  vigil_sync_destroy(&m->rmu, &m->rcv);
  free(m->entries);
  free(m->index);
  free(m);
}

/* ---- leases ----------------------------------------------------------------- */

/* Stamp last_used. With the real clock this reads CLOCK_MONOTONIC_COARSE
 * (same base, 1-4 ms resolution, a third of the cost on a VM): LRU order
 * needs no finer grain, and release is on the hot path. */
static void touch(zoo_manager *m, zoo_entry *e) {
  int64_t now;
  if (m->p.clock.now_ns) {
    now = m->p.clock.now_ns(m->p.clock.ctx);
  } else {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
  }
  int64_t old = atomic_load_explicit(&e->last_used, memory_order_relaxed);
  if (now - old >= m->touch_granularity_ns && now != old)
    atomic_store_explicit(&e->last_used, now, memory_order_relaxed);
}

static void wake_space_waiters(zoo_manager *m) {
  if (atomic_load(&m->space_waiters) > 0) {
    pthread_mutex_lock(&m->bmu);
    pthread_cond_broadcast(&m->space_cv);
    pthread_mutex_unlock(&m->bmu);
  }
}

/* Whether this was the last lease is not known without summing the shards;
 * reservers are rare, so wake them on any release while one exists. */
static void drop_lease(zoo_manager *m, zoo_entry *e, int shard) {
  atomic_fetch_sub(&e->leases[shard].n, 1);
  wake_space_waiters(m);
}

/* The lock-free cache hit: true with a lease held on *shard, false with none. */
static bool try_lease(zoo_manager *m, zoo_entry *e, int *shard) {
  if (atomic_load(&e->state) != ZOO_STATE_LOADED) return false;
  *shard = my_shard();
  atomic_fetch_add(&e->leases[*shard].n, 1);
  if (atomic_load(&e->state) == ZOO_STATE_LOADED) return true;
  drop_lease(m, e, *shard); /* an evictor claimed it between our two reads */
  return false;
}

void zoo_manager_release(zoo_manager *m, zoo_lease *l) {
  if (!m || !l || !l->entry) return;
  zoo_entry *e = l->entry;
  int shard = l->shard;
  touch(m, e);
  memset(l, 0, sizeof *l);
  drop_lease(m, e, shard);
}

/* ---- eviction ---------------------------------------------------------------- */

/* Under bmu: move e from LOADED to EVICTING if nobody holds a lease. */
static bool claim_victim(zoo_entry *e) {
  int expect = ZOO_STATE_LOADED;
  if (!atomic_compare_exchange_strong(&e->state, &expect, ZOO_STATE_EVICTING)) return false;
  if (lease_count(e) == 0) return true;
  pthread_mutex_lock(&e->mu);
  atomic_store(&e->state, ZOO_STATE_LOADED);
  pthread_cond_broadcast(&e->cv);
  pthread_mutex_unlock(&e->mu);
  return false;
}

static void unclaim(zoo_entry *e) {
  pthread_mutex_lock(&e->mu);
  atomic_store(&e->state, ZOO_STATE_LOADED);
  pthread_cond_broadcast(&e->cv);
  pthread_mutex_unlock(&e->mu);
}

/* Outside bmu: unload a claimed victim and return its bytes. */
static void finish_evict(zoo_manager *m, zoo_entry *e) {
  void *h = e->handle;
  m->p.loader.unload(m->p.loader.ctx, &e->row, h);
  pthread_mutex_lock(&m->bmu);
  m->used -= e->charge;
  m->freeing -= e->charge;
  e->charge = 0;
  pthread_cond_broadcast(&m->space_cv);
  pthread_mutex_unlock(&m->bmu);
  pthread_mutex_lock(&e->mu);
  e->handle = NULL;
  atomic_store(&e->measured, 0);
  atomic_store(&e->state, ZOO_STATE_UNLOADED);
  pthread_cond_broadcast(&e->cv);
  pthread_mutex_unlock(&e->mu);
  vlog_debug("zoo: unloaded %s", e->row.name);
}

static bool evictable(const zoo_entry *e, const zoo_entry *self) {
  return e != self && !e->pinned && atomic_load(&e->state) == ZOO_STATE_LOADED &&
         lease_count(e) == 0 && e->charge > 0;
}

/* A candidate with its sort key copied: last_used keeps changing under
 * concurrent releases, and qsort needs a consistent comparator. */
typedef struct victim {
  zoo_entry *e;
  int priority;
  int64_t last_used;
} victim;

/* Eviction order: priority descending (LOW first, CRITICAL last), then the
 * least recently used first. */
static int victim_cmp(const void *a, const void *b) {
  const victim *x = a, *y = b;
  if (x->priority != y->priority) return x->priority > y->priority ? -1 : 1;
  return x->last_used < y->last_used ? -1 : x->last_used > y->last_used;
}

/* Add `need` bytes to self's charge, evicting unleased models as needed and
 * waiting (until deadline, real monotonic ns) while only leased models stand
 * in the way. */
static int reserve(zoo_manager *m, zoo_entry *self, uint64_t need, int64_t deadline, char *err,
                   size_t errlen) {
  victim *cand = malloc((size_t)(m->n ? m->n : 1) * sizeof *cand);
  if (!cand) return vigil_err(err, errlen, ZOO_ENOMEM, "out of memory");
  int rc = 0;
  pthread_mutex_lock(&m->bmu);
  /* Announce ourselves before reading any lease count: a release that drops
   * the last lease after our scan then sees the count and wakes us (both
   * sides write, then read the other's variable, seq_cst). */
  atomic_fetch_add(&m->space_waiters, 1);
  for (;;) {
    uint64_t pinned = 0;
    for (int i = 0; i < m->n; i++)
      if (m->entries[i].pinned && &m->entries[i] != self) pinned += m->entries[i].charge;
    uint64_t room = m->budget > pinned ? m->budget - pinned : 0;
    if (need + self->charge > room) {
      rc = vigil_err(err, errlen, ZOO_ENOSPACE,
                  "model '%s' needs %.1f MB but the budget is %.1f MB (%.1f MB pinned)",
                  self->row.name, to_mb(need + self->charge), to_mb(m->budget), to_mb(pinned));
      break;
    }
    if (m->used + need <= m->budget) {
      m->used += need;
      self->charge += need;
      break;
    }
    uint64_t deficit = m->used + need - m->budget;
    if (m->freeing < deficit) {
      uint64_t target = deficit - m->freeing, avail = 0;
      int nc = 0;
      for (int i = 0; i < m->n; i++) {
        zoo_entry *e = &m->entries[i];
        if (!evictable(e, self)) continue;
        cand[nc++] = (victim){e, (int)e->row.priority,
                              atomic_load_explicit(&e->last_used, memory_order_relaxed)};
        avail += e->charge;
      }
      if (avail >= target) {
        qsort(cand, nc, sizeof *cand, victim_cmp);
        int nv = 0;
        uint64_t got = 0;
        for (int i = 0; i < nc && got < target; i++)
          if (claim_victim(cand[i].e)) {
            cand[nv++] = cand[i];
            got += cand[i].e->charge;
          }
        if (got >= target) {
          m->freeing += got;
          pthread_mutex_unlock(&m->bmu);
          for (int i = 0; i < nv; i++) {
            vlog_info("zoo: evicting %s (%s, %.1f MB) to load %s", cand[i].e->row.name,
                      zoo_priority_name(cand[i].e->row.priority), to_mb(cand[i].e->charge),
                      self->row.name);
            finish_evict(m, cand[i].e);
          }
          pthread_mutex_lock(&m->bmu);
          continue;
        }
        for (int i = 0; i < nv; i++) unclaim(cand[i].e); /* a lease raced in; wait instead */
      }
    }
    if (m->freeing >= deficit) { /* someone else's evictions will make room */
      struct timespec ts = ns_to_ts(mono_ns() + 10000000);
      pthread_cond_timedwait(&m->space_cv, &m->bmu, &ts);
      continue;
    }
    if (mono_ns() >= deadline) {
      rc = vigil_err(err, errlen, ZOO_EBUSY,
                  "model '%s' needs %.1f MB; %.1f of %.1f MB are held by models in use or loading",
                  self->row.name, to_mb(need), to_mb(m->used), to_mb(m->budget));
      break;
    }
    struct timespec ts = ns_to_ts(deadline);
    pthread_cond_timedwait(&m->space_cv, &m->bmu, &ts);
  }
  atomic_fetch_sub(&m->space_waiters, 1);
  pthread_mutex_unlock(&m->bmu);
  free(cand);
  return rc;
}

static void unreserve_all(zoo_manager *m, zoo_entry *e) {
  pthread_mutex_lock(&m->bmu);
  m->used -= e->charge;
  e->charge = 0;
  pthread_cond_broadcast(&m->space_cv);
  pthread_mutex_unlock(&m->bmu);
}

/* ---- loading ------------------------------------------------------------------ */

static double backoff_s(const zoo_manager *m, int fails) {
  double d = m->p.backoff_base_s;
  for (int i = 1; i < fails && d < m->p.backoff_max_s; i++) d *= 2;
  return d > m->p.backoff_max_s ? m->p.backoff_max_s : d;
}

/* Publish the outcome of a load to the entry and every queued waiter.
 * On success the loader and each waiter get one lease. */
static void finish_load(zoo_manager *m, zoo_entry *e, int rc, void *handle, uint64_t measured,
                        const char *msg) {
  pthread_mutex_lock(&e->mu);
  int nw = 0;
  for (zoo_waiter *w = e->waiters; w; w = w->next) nw++;
  int64_t now = mgr_now(m);
  if (rc == 0) {
    e->handle = handle;
    e->error[0] = 0;
    e->fail_count = 0;
    atomic_store(&e->measured, measured);
    atomic_store(&e->last_measured, measured);
    atomic_store(&e->last_used, now);
    atomic_fetch_add(&e->leases[0].n, nw + 1); /* loader and waiters use shard 0 */
    atomic_store(&e->state, ZOO_STATE_LOADED);
  } else {
    /* a busy budget is not the model's fault: only real failures are kept */
    if (rc != ZOO_EBUSY) copy_str(e->error, sizeof e->error, msg);
    if (rc == ZOO_ELOAD) {
      e->fail_count++;
      e->next_retry_ns = now + (int64_t)(backoff_s(m, e->fail_count) * 1e9);
      atomic_store(&e->state, ZOO_STATE_FAILED);
    } else {
      atomic_store(&e->state, ZOO_STATE_UNLOADED);
    }
  }
  for (zoo_waiter *w = e->waiters; w; w = w->next) {
    w->status = rc;
    w->handle = rc == 0 ? handle : NULL;
    copy_str(w->err, sizeof w->err, rc ? msg : "");
    w->done = true;
  }
  e->waiters = NULL;
  pthread_cond_broadcast(&e->cv);
  pthread_mutex_unlock(&e->mu);
}

/* Called by the one loader, with e in LOADING and no lock held. */
static int do_load(zoo_manager *m, zoo_entry *e, void **handle_out, char *err, size_t errlen) {
  char msg[512] = "";
  atomic_fetch_add(&e->loads, 1);
  int64_t deadline = mono_ns() + (int64_t)m->p.acquire_timeout_ms * 1000000;
  uint64_t last = atomic_load(&e->last_measured);
  uint64_t need = last ? last : mb_to_bytes(e->row.declared_mb);
  int rc = reserve(m, e, need, deadline, msg, sizeof msg);
  if (rc) {
    finish_load(m, e, rc, NULL, 0, msg);
    return vigil_err(err, errlen, rc, "%s", msg);
  }
  const zoo_memsource *ms = &m->p.memsource;
  uint64_t before = ms->used ? ms->used(ms->ctx) : 0;
  void *h = NULL;
  uint64_t reported = 0;
  char lerr[200] = "";
  int lrc = m->p.loader.load(m->p.loader.ctx, &e->row, &h, &reported, lerr, sizeof lerr);
  if (lrc) {
    unreserve_all(m, e);
    snprintf(msg, sizeof msg, "model '%s' failed to load: %s", e->row.name,
             lerr[0] ? lerr : "unknown error");
    vlog_warn("zoo: %s", msg);
    finish_load(m, e, ZOO_ELOAD, NULL, 0, msg);
    return vigil_err(err, errlen, ZOO_ELOAD, "%s", msg);
  }
  uint64_t after = ms->used ? ms->used(ms->ctx) : 0;
  uint64_t measured = ms->measure ? ms->measure(ms->ctx, h, reported, before, after) : reported;
  /* true up the reservation to the measured bytes */
  if (measured < need) {
    pthread_mutex_lock(&m->bmu);
    m->used -= need - measured;
    e->charge -= need - measured;
    pthread_cond_broadcast(&m->space_cv);
    pthread_mutex_unlock(&m->bmu);
  } else if (measured > need) {
    /* the load itself may have outlasted the first deadline: start a new one */
    deadline = mono_ns() + (int64_t)m->p.acquire_timeout_ms * 1000000;
    rc = reserve(m, e, measured - need, deadline, msg, sizeof msg);
    if (rc) {
      m->p.loader.unload(m->p.loader.ctx, &e->row, h);
      unreserve_all(m, e);
      atomic_store(&e->last_measured, measured); /* reserve the truth next time */
      char full[640];
      snprintf(full, sizeof full, "measured %.1f MB (declared %.1f MB): %s", to_mb(measured),
               e->row.declared_mb, msg);
      vlog_warn("zoo: %s", full);
      finish_load(m, e, rc, NULL, 0, full);
      return vigil_err(err, errlen, rc, "%s", full);
    }
  }
  vlog_info("zoo: loaded %s (%.1f MB measured, %.1f MB declared)", e->row.name, to_mb(measured),
            e->row.declared_mb);
  finish_load(m, e, 0, h, measured, "");
  *handle_out = h;
  return 0;
}

/* *how: 0 cache hit, 1 this call loaded it, 2 waited for another's load. */
static int acquire_entry(zoo_manager *m, zoo_entry *e, zoo_lease *out, int *how, char *err,
                         size_t errlen) {
  memset(out, 0, sizeof *out);
  int shard;
  if (try_lease(m, e, &shard)) { /* last_used is stamped at release: a leased model can't be evicted */
    out->entry = e;
    out->handle = e->handle;
    out->shard = shard;
    if (how) *how = 0;
    return 0;
  }
  pthread_mutex_lock(&e->mu);
  for (;;) {
    int st = atomic_load(&e->state);
    if (st == ZOO_STATE_LOADED) {
      /* not under e->mu: a failed try drops its lease, which may take the
       * budget mutex, and the order is budget mutex first */
      pthread_mutex_unlock(&e->mu);
      if (try_lease(m, e, &shard)) {
        out->entry = e;
        out->handle = e->handle;
        out->shard = shard;
        if (how) *how = 0;
        return 0;
      }
      pthread_mutex_lock(&e->mu); /* it was claimed for eviction meanwhile; look again */
      continue;
    }
    if (st == ZOO_STATE_LOADING) {
      zoo_waiter w;
      memset(&w, 0, sizeof w);
      w.next = e->waiters;
      e->waiters = &w;
      while (!w.done) pthread_cond_wait(&e->cv, &e->mu);
      pthread_mutex_unlock(&e->mu);
      if (w.status) return vigil_err(err, errlen, w.status, "%s", w.err);
      out->entry = e;
      out->handle = w.handle;
      if (how) *how = 2;
      return 0;
    }
    if (st == ZOO_STATE_EVICTING) {
      pthread_cond_wait(&e->cv, &e->mu);
      continue;
    }
    if (st == ZOO_STATE_FAILED) {
      int64_t now = mgr_now(m);
      if (now < e->next_retry_ns) {
        double wait = (double)(e->next_retry_ns - now) / 1e9;
        int rc = vigil_err(err, errlen, ZOO_EBACKOFF, "%s (failure %d; next retry in %.1f s)",
                        e->error, e->fail_count, wait);
        pthread_mutex_unlock(&e->mu);
        return rc;
      }
    }
    /* UNLOADED, or FAILED past its backoff: this thread loads it */
    atomic_store(&e->state, ZOO_STATE_LOADING);
    pthread_mutex_unlock(&e->mu);
    break;
  }
  void *h = NULL;
  int rc = do_load(m, e, &h, err, errlen);
  if (rc) return rc;
  out->entry = e;
  out->handle = h;
  if (how) *how = 1;
  return 0;
}

int zoo_manager_acquire(zoo_manager *m, const char *name, zoo_lease *out, char *err,
                        size_t errlen) {
  if (!m || !out) return vigil_err(err, errlen, ZOO_EINVAL, "invalid argument");
  zoo_entry *e = find_entry(m, name);
  if (!e) {
    memset(out, 0, sizeof *out);
    return vigil_err(err, errlen, ZOO_ENOTFOUND, "unknown model '%s'", name ? name : "(null)");
  }
  return acquire_entry(m, e, out, NULL, err, errlen);
}

/* ---- preload / unload / reap ------------------------------------------------- */

/* The managed model called name, with res started for it; NULL with res
 * filled when there is none. */
static zoo_entry *named_entry(zoo_manager *m, const char *name, zoo_result *res) {
  memset(res, 0, sizeof *res);
  snprintf(res->model, sizeof res->model, "%s", name ? name : "");
  zoo_entry *e = m ? find_entry(m, name) : NULL;
  if (!e) {
    res->status = "error";
    vigil_err(res->message, sizeof res->message, ZOO_ENOTFOUND, "unknown model '%s'", name ? name : "(null)");
  }
  return e;
}

int zoo_manager_preload(zoo_manager *m, const char *name, zoo_result *res) {
  zoo_result dummy;
  if (!res) res = &dummy;
  zoo_entry *e = named_entry(m, name, res);
  if (!e) return ZOO_ENOTFOUND;
  zoo_lease l;
  int how = 0;
  int rc = acquire_entry(m, e, &l, &how, res->message, sizeof res->message);
  if (rc) {
    res->status = "error";
    return rc;
  }
  res->status = how == 0 ? "already_loaded" : "loaded";
  snprintf(res->message, sizeof res->message, "%s %s (%.1f MB measured)", e->row.name,
           how == 0 ? "was already loaded" : "loaded", to_mb(atomic_load(&e->measured)));
  zoo_manager_release(m, &l);
  return 0;
}

int zoo_manager_unload(zoo_manager *m, const char *name, zoo_result *res) {
  zoo_result dummy;
  if (!res) res = &dummy;
  zoo_entry *e = named_entry(m, name, res);
  if (!e) return ZOO_ENOTFOUND;
  pthread_mutex_lock(&m->bmu);
  int st = atomic_load(&e->state);
  if (st == ZOO_STATE_LOADING) {
    pthread_mutex_unlock(&m->bmu);
    res->status = "error";
    return vigil_err(res->message, sizeof res->message, ZOO_ELEASED, "model '%s' is loading", name);
  }
  if (st != ZOO_STATE_LOADED) {
    pthread_mutex_unlock(&m->bmu);
    res->status = "not_loaded";
    snprintf(res->message, sizeof res->message, "model '%s' was not loaded", name);
    return 0;
  }
  if (!claim_victim(e)) {
    int n = lease_count(e);
    pthread_mutex_unlock(&m->bmu);
    res->status = "error";
    return vigil_err(res->message, sizeof res->message, ZOO_ELEASED,
                  "model '%s' is in use (%d lease%s); try again later", name, n, n == 1 ? "" : "s");
  }
  m->freeing += e->charge;
  uint64_t bytes = e->charge;
  pthread_mutex_unlock(&m->bmu);
  finish_evict(m, e);
  res->status = "unloaded";
  snprintf(res->message, sizeof res->message, "model '%s' unloaded, %.1f MB freed", name,
           to_mb(bytes));
  return 0;
}

int zoo_manager_preload_env(zoo_manager *m) {
  const char *list = vigil_config_given(NULL, "ENRICHMENT_PRELOAD_MODELS");
  if (!m || !list || !*list) return 0;
  char *buf = strdup(list);
  if (!buf) return 1;
  int failed = 0;
  char *save = NULL;
  for (char *tok = strtok_r(buf, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
    if (!find_entry(m, tok)) {
      vlog_debug("zoo: preload '%s' is not managed by this service; skipped", tok);
      continue;
    }
    zoo_result r;
    int rc = zoo_manager_preload(m, tok, &r);
    if (rc) {
      vlog_warn("zoo: preload %s failed: %s", tok, r.message);
      failed++;
    }
  }
  free(buf);
  return failed;
}

int zoo_manager_reap(zoo_manager *m, int64_t now_ns) {
  if (!m || m->p.idle_timeout_s <= 0) return 0;
  int64_t idle = (int64_t)(m->p.idle_timeout_s * 1e9);
  zoo_entry **victims = malloc((size_t)(m->n ? m->n : 1) * sizeof *victims);
  if (!victims) return 0;
  int nv = 0;
  pthread_mutex_lock(&m->bmu);
  for (int i = 0; i < m->n; i++) {
    zoo_entry *e = &m->entries[i];
    if (e->pinned || atomic_load(&e->state) != ZOO_STATE_LOADED) continue;
    if (now_ns - atomic_load(&e->last_used) < idle) continue;
    if (!claim_victim(e)) continue;
    m->freeing += e->charge;
    victims[nv++] = e;
  }
  pthread_mutex_unlock(&m->bmu);
  for (int i = 0; i < nv; i++) {
    vlog_info("zoo: %s idle for %.0f s, unloading", victims[i]->row.name, m->p.idle_timeout_s);
    finish_evict(m, victims[i]);
  }
  free(victims);
  return nv;
}

static void *reaper_main(void *arg) {
  zoo_manager *m = arg;
  int64_t step = (int64_t)(m->p.reaper_interval_s * 1e9);
  pthread_mutex_lock(&m->rmu);
  while (!m->reaper_stop) {
    struct timespec ts = ns_to_ts(mono_ns() + step);
    pthread_cond_timedwait(&m->rcv, &m->rmu, &ts);
    if (m->reaper_stop) break;
    pthread_mutex_unlock(&m->rmu);
    zoo_manager_reap(m, mgr_now(m));
    pthread_mutex_lock(&m->rmu);
  }
  pthread_mutex_unlock(&m->rmu);
  return NULL;
}

/* ---- introspection -------------------------------------------------------------- */

bool zoo_manager_manages(const zoo_manager *m, const char *name) {
  return m && find_entry(m, name) != NULL;
}

uint64_t zoo_manager_used_bytes(const zoo_manager *m) {
  if (!m) return 0;
  zoo_manager *mm = (zoo_manager *)m;
  pthread_mutex_lock(&mm->bmu);
  uint64_t u = mm->used;
  pthread_mutex_unlock(&mm->bmu);
  return u;
}

int zoo_manager_load_count(const zoo_manager *m, const char *name) {
  zoo_entry *e = m ? find_entry(m, name) : NULL;
  return e ? atomic_load(&e->loads) : -1;
}

static uint64_t phys_bytes(void) {
  long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
  return pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz : 0;
}

int zoo_manager_status(zoo_manager *m, zoo_snapshot *out) {
  memset(out, 0, sizeof *out);
  if (!m) return ZOO_EINVAL;
  out->models = calloc(m->n ? (size_t)m->n : 1, sizeof *out->models);
  if (!out->models) return ZOO_ENOMEM;
  out->nmodels = m->n;
  int64_t now = mgr_now(m);
  bool any_failed = false;
  for (int i = 0; i < m->n; i++) {
    zoo_entry *e = &m->entries[i];
    zoo_model_status *s = &out->models[i];
    snprintf(s->name, sizeof s->name, "%s", e->row.name);
    s->priority = e->row.priority;
    pthread_mutex_lock(&e->mu);
    s->state = (zoo_state)atomic_load(&e->state);
    snprintf(s->error, sizeof s->error, "%s", e->error);
    pthread_mutex_unlock(&e->mu);
    s->loaded = s->state == ZOO_STATE_LOADED;
    s->declared_mb = e->row.declared_mb;
    uint64_t meas = s->loaded ? atomic_load(&e->measured) : atomic_load(&e->last_measured);
    s->measured_mb = to_mb(meas);
    s->vram_mb = meas ? s->measured_mb : s->declared_mb;
    s->leases = lease_count(e);
    int64_t lu = atomic_load(&e->last_used);
    s->last_used_unix_ms = lu ? m->start_wall_ms + (lu - m->start_ns) / 1000000 : 0;
    if (s->state == ZOO_STATE_FAILED) any_failed = true;
  }
  pthread_mutex_lock(&m->bmu);
  uint64_t used = m->used, budget = m->budget;
  pthread_mutex_unlock(&m->bmu);
  out->vram_budget_mb = to_mb(budget);
  out->vram_used_mb = to_mb(used);
  out->vram_available_mb = budget > used ? to_mb(budget - used) : 0;
  out->vram_utilization_percent = budget ? 100.0 * (double)used / (double)budget : 0;
  const zoo_memsource *ms = &m->p.memsource;
  out->vram_total_mb = to_mb(ms->total ? ms->total(ms->ctx) : phys_bytes());
  out->uptime_seconds = (double)(now - m->start_ns) / 1e9;
  if (used > budget) out->health = "unhealthy";
  else if (out->vram_utilization_percent > 95.0 || any_failed) out->health = "degraded";
  else out->health = "healthy";
  return 0;
}

void zoo_snapshot_free(zoo_snapshot *s) {
  if (!s) return;
  free(s->models);
  s->models = NULL;
  s->nmodels = 0;
}
