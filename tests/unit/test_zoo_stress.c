/* Stress test of the zoo manager: 8 threads, 100 000 acquisitions of a random
 * mix of models under a small budget. The fake loader checks at every load
 * that the measured bytes really in use never exceed the budget, and at every
 * unload that nobody holds the model; a watchdog bounds the run. Also built
 * under ThreadSanitizer in CI (see docs/zoo.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vigil/zoo.h"

#define MB ZOO_MB
#define NTHREADS 8
#define PER_THREAD 12500 /* 8 x 12 500 = 100 000 acquisitions */
#define BUDGET_MB 200
#define WATCHDOG_S 300

typedef struct handle {
  _Atomic int alive;
  _Atomic int users; /* leases the test itself holds */
  uint64_t bytes;
  int model;
  struct handle *next;
} handle;

typedef struct model_cfg {
  const char *name;
  double declared_mb;
  double measured_mb; /* <= declared: see the file comment of docs/zoo.md */
  const char *prio;
  bool fail;
} model_cfg;

static const model_cfg models[] = {
    {"threat", 30, 30, "CRITICAL", false}, {"pose", 60, 45, "HIGH", false},
    {"face", 20, 20, "HIGH", false},       {"clothes", 80, 70, "HIGH", false},
    {"vehicle", 100, 100, "MEDIUM", false}, {"pet", 25, 10, "MEDIUM", false},
    {"reid", 10, 8, "MEDIUM", false},      {"depth", 50, 50, "LOW", false},
    {"action", 120, 110, "LOW", false},    {"weather", 15, 15, "LOW", false},
    {"broken", 40, 40, "MEDIUM", true},    {"huge", 300, 300, "LOW", false},
};
#define NMODELS ((int)(sizeof models / sizeof models[0]))

static struct {
  _Atomic int64_t in_use;
  _Atomic int64_t peak;
  _Atomic int over_budget;    /* loads that pushed real bytes past the budget */
  _Atomic int freed_leased;   /* unloads of a handle the test still held */
  _Atomic int dead_handed_out;
  _Atomic int bad_status;     /* an error other than the expected ones, or no message */
  _Atomic int loads, unloads;
  _Atomic long ok, busy, loadfail, backoff, nospace;
  _Atomic int done;
  pthread_mutex_t mu;
  handle *all; /* never freed during the run, so a stale pointer is detectable */
} S;

static int model_index(const char *name) {
  for (int i = 0; i < NMODELS; i++)
    if (!strcmp(models[i].name, name)) return i;
  return -1;
}

static int fake_load(void *ctx, const zoo_model_row *row, void **out, uint64_t *measured,
                     char *err, size_t errlen) {
  int i = model_index(row->name);
  atomic_fetch_add(&S.loads, 1);
  static _Thread_local unsigned seed = 12345;
  if (rand_r(&seed) % 8 == 0) usleep(50); /* slow loads let waiters pile up */
  if (models[i].fail) {
    snprintf(err, errlen, "checksum mismatch in %s", row->name);
    return -1;
  }
  handle *h = calloc(1, sizeof *h);
  h->bytes = (uint64_t)(models[i].measured_mb * MB);
  h->model = i;
  atomic_store(&h->alive, 1);
  int64_t now = atomic_fetch_add(&S.in_use, (int64_t)h->bytes) + (int64_t)h->bytes;
  if (now > (int64_t)BUDGET_MB * (int64_t)MB) atomic_fetch_add(&S.over_budget, 1);
  int64_t pk = atomic_load(&S.peak);
  while (now > pk && !atomic_compare_exchange_weak(&S.peak, &pk, now)) {
  }
  pthread_mutex_lock(&S.mu);
  h->next = S.all;
  S.all = h;
  pthread_mutex_unlock(&S.mu);
  *out = h;
  *measured = h->bytes;
  return 0;
}

static void fake_unload(void *ctx, const zoo_model_row *row, void *p) {
  handle *h = p;
  if (atomic_load(&h->users) != 0) atomic_fetch_add(&S.freed_leased, 1);
  atomic_store(&h->alive, 0);
  atomic_fetch_sub(&S.in_use, (int64_t)h->bytes);
  atomic_fetch_add(&S.unloads, 1);
}

static uint64_t xorshift(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

typedef struct worker {
  zoo_manager *m;
  uint64_t seed;
  int iters;
} worker;

static void check_lease(int i, zoo_lease *l) {
  handle *h = l->handle;
  atomic_fetch_add(&h->users, 1);
  if (!atomic_load(&h->alive) || h->model != i) atomic_fetch_add(&S.dead_handed_out, 1);
}

static void end_lease(zoo_manager *m, zoo_lease *l) {
  handle *h = l->handle;
  if (!atomic_load(&h->alive)) atomic_fetch_add(&S.dead_handed_out, 1);
  atomic_fetch_sub(&h->users, 1);
  zoo_manager_release(m, l);
}

/* Hold-and-wait: take a second model while holding a first one. With 8
 * threads and a small budget this runs into EBUSY, which must come back
 * after the deadline (no deadlock) and leave everything consistent. */
static void *pair_main(void *arg) {
  worker *w = arg;
  char err[640];
  for (int k = 0; k < w->iters; k++) {
    int i = (int)(xorshift(&w->seed) % 10), j = (int)(xorshift(&w->seed) % 10);
    zoo_lease a, b;
    int rc = zoo_manager_acquire(w->m, models[i].name, &a, err, sizeof err);
    if (rc) {
      if (rc != ZOO_EBUSY || !err[0]) atomic_fetch_add(&S.bad_status, 1);
      atomic_fetch_add(&S.busy, 1);
      continue;
    }
    check_lease(i, &a);
    rc = zoo_manager_acquire(w->m, models[j].name, &b, err, sizeof err);
    if (rc == 0) {
      check_lease(j, &b);
      end_lease(w->m, &b);
      atomic_fetch_add(&S.ok, 1);
    } else {
      if (rc != ZOO_EBUSY || !err[0]) atomic_fetch_add(&S.bad_status, 1);
      atomic_fetch_add(&S.busy, 1);
    }
    end_lease(w->m, &a);
  }
  return NULL;
}

static void *worker_main(void *arg) {
  worker *w = arg;
  char err[640];
  for (int k = 0; k < w->iters; k++) {
    int i = (int)(xorshift(&w->seed) % NMODELS);
    /* skew towards the small, frequent models, like real traffic */
    if (xorshift(&w->seed) % 4 == 0) i = (int)(xorshift(&w->seed) % 4);
    zoo_lease l;
    err[0] = 0;
    int rc = zoo_manager_acquire(w->m, models[i].name, &l, err, sizeof err);
    if (rc == 0) {
      handle *h = l.handle;
      atomic_fetch_add(&h->users, 1);
      if (!atomic_load(&h->alive) || h->model != i) atomic_fetch_add(&S.dead_handed_out, 1);
      if (xorshift(&w->seed) % 16 == 0) sched_yield(); /* hold it a little */
      if (!atomic_load(&h->alive)) atomic_fetch_add(&S.dead_handed_out, 1);
      atomic_fetch_sub(&h->users, 1);
      zoo_manager_release(w->m, &l);
      atomic_fetch_add(&S.ok, 1);
      continue;
    }
    if (!err[0]) atomic_fetch_add(&S.bad_status, 1);
    switch (rc) {
    case ZOO_EBUSY: atomic_fetch_add(&S.busy, 1); break;
    case ZOO_ELOAD: atomic_fetch_add(&S.loadfail, 1); break;
    case ZOO_EBACKOFF: atomic_fetch_add(&S.backoff, 1); break;
    case ZOO_ENOSPACE: atomic_fetch_add(&S.nospace, 1); break;
    default: atomic_fetch_add(&S.bad_status, 1);
    }
    /* only these models may fail for good */
    if ((rc == ZOO_ELOAD || rc == ZOO_EBACKOFF) && !models[i].fail)
      atomic_fetch_add(&S.bad_status, 1);
    if (rc == ZOO_ENOSPACE && models[i].declared_mb <= BUDGET_MB)
      atomic_fetch_add(&S.bad_status, 1);
  }
  return NULL;
}

static void *watchdog_main(void *arg) {
  for (int i = 0; i < WATCHDOG_S * 10; i++) {
    if (atomic_load(&S.done)) return NULL;
    usleep(100000);
  }
  fprintf(stderr, "test_zoo_stress: no progress after %d s: deadlock? ok=%ld busy=%ld\n",
          WATCHDOG_S, atomic_load(&S.ok), atomic_load(&S.busy));
  _exit(2);
}

static void test_stress(void **state) {
  pthread_mutex_init(&S.mu, NULL);
  zoo_registry reg = {0};
  char cfg[2048] = "", err[256];
  for (int i = 0; i < NMODELS; i++) {
    char line[128];
    snprintf(line, sizeof line, "%s declared_mb=%g priority=%s\n", models[i].name,
             models[i].declared_mb, models[i].prio);
    strcat(cfg, line);
  }
  assert_int_equal(zoo_registry_load_config_text(&reg, cfg, err, sizeof err), 0);
  zoo_params p = zoo_default_params();
  p.budget_mb = BUDGET_MB;
  p.acquire_timeout_ms = 2000;
  p.backoff_base_s = 0.0005; /* retry the broken model now and then */
  p.backoff_max_s = 0.002;
  p.idle_timeout_s = 0.001;   /* and let a reaper thread race with everyone */
  p.reaper_interval_s = 0.001;
  p.loader = (zoo_loader){NULL, fake_load, fake_unload};
  zoo_manager *m;
  assert_int_equal(zoo_manager_init(&m, &reg, p, err, sizeof err), 0);

  pthread_t wd, t[NTHREADS];
  pthread_create(&wd, NULL, watchdog_main, NULL);
  worker w[NTHREADS];
  for (int i = 0; i < NTHREADS; i++) {
    w[i] = (worker){m, 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1), PER_THREAD};
    pthread_create(&t[i], NULL, worker_main, &w[i]);
  }
  /* a status reader and an unloader race with the workers too */
  for (int k = 0; k < 200; k++) {
    zoo_snapshot s;
    assert_int_equal(zoo_manager_status(m, &s), 0);
    assert_true(s.vram_used_mb <= BUDGET_MB + 1e-6);
    zoo_snapshot_free(&s);
    zoo_result r;
    int rc = zoo_manager_unload(m, models[k % NMODELS].name, &r);
    assert_true(rc == 0 || rc == ZOO_ELEASED);
    assert_true(zoo_manager_used_bytes(m) <= (uint64_t)BUDGET_MB * MB);
    usleep(500);
  }
  for (int i = 0; i < NTHREADS; i++) pthread_join(t[i], NULL);
  atomic_store(&S.done, 1);
  pthread_join(wd, NULL);

  long total = atomic_load(&S.ok) + atomic_load(&S.busy) + atomic_load(&S.loadfail) +
               atomic_load(&S.backoff) + atomic_load(&S.nospace);
  printf("stress: %ld acquisitions: %ld served, %ld busy, %ld load failures, %ld backoff, "
         "%ld never-fit; %d loads, %d unloads, peak %.1f of %d MB\n",
         total, atomic_load(&S.ok), atomic_load(&S.busy), atomic_load(&S.loadfail),
         atomic_load(&S.backoff), atomic_load(&S.nospace), atomic_load(&S.loads),
         atomic_load(&S.unloads), (double)atomic_load(&S.peak) / MB, BUDGET_MB);
  assert_int_equal(total, (long)NTHREADS * PER_THREAD);
  assert_int_equal(atomic_load(&S.over_budget), 0);
  assert_true(atomic_load(&S.peak) <= (int64_t)BUDGET_MB * (int64_t)MB);
  assert_int_equal(atomic_load(&S.freed_leased), 0);
  assert_int_equal(atomic_load(&S.dead_handed_out), 0);
  assert_int_equal(atomic_load(&S.bad_status), 0);
  assert_true(atomic_load(&S.ok) > total / 2); /* mostly served, not mostly refused */
  assert_true(atomic_load(&S.unloads) > 0);    /* eviction really happened */
  assert_true(atomic_load(&S.nospace) > 0);    /* and the hopeless model was refused */

  zoo_manager_free(m);
  assert_int_equal(atomic_load(&S.in_use), 0);
  for (handle *h = S.all, *n; h; h = n) {
    n = h->next;
    free(h);
  }
  zoo_registry_free(&reg);
  pthread_mutex_destroy(&S.mu);
}

static void test_hold_and_wait(void **state) {
  memset(&S, 0, sizeof S);
  pthread_mutex_init(&S.mu, NULL);
  zoo_registry reg = {0};
  char cfg[2048] = "", err[256];
  for (int i = 0; i < 10; i++) { /* the ten good models */
    char line[128];
    snprintf(line, sizeof line, "%s declared_mb=%g priority=%s\n", models[i].name,
             models[i].declared_mb, models[i].prio);
    strcat(cfg, line);
  }
  assert_int_equal(zoo_registry_load_config_text(&reg, cfg, err, sizeof err), 0);
  zoo_params p = zoo_default_params();
  p.budget_mb = BUDGET_MB;
  p.acquire_timeout_ms = 5;
  p.loader = (zoo_loader){NULL, fake_load, fake_unload};
  zoo_manager *m;
  assert_int_equal(zoo_manager_init(&m, &reg, p, err, sizeof err), 0);
  pthread_t wd, t[NTHREADS];
  pthread_create(&wd, NULL, watchdog_main, NULL);
  worker w[NTHREADS];
  for (int i = 0; i < NTHREADS; i++) {
    w[i] = (worker){m, 0xD1B54A32D192ED03ull * (uint64_t)(i + 7), 1000};
    pthread_create(&t[i], NULL, pair_main, &w[i]);
  }
  for (int i = 0; i < NTHREADS; i++) pthread_join(t[i], NULL);
  atomic_store(&S.done, 1);
  pthread_join(wd, NULL);
  printf("hold-and-wait: %ld pairs served, %ld busy; peak %.1f of %d MB\n", atomic_load(&S.ok),
         atomic_load(&S.busy), (double)atomic_load(&S.peak) / MB, BUDGET_MB);
  assert_int_equal(atomic_load(&S.ok) + atomic_load(&S.busy), NTHREADS * 1000L);
  assert_true(atomic_load(&S.ok) > 0);
  assert_int_equal(atomic_load(&S.over_budget), 0);
  assert_int_equal(atomic_load(&S.freed_leased), 0);
  assert_int_equal(atomic_load(&S.dead_handed_out), 0);
  assert_int_equal(atomic_load(&S.bad_status), 0);
  zoo_snapshot s;
  assert_int_equal(zoo_manager_status(m, &s), 0);
  for (int i = 0; i < s.nmodels; i++) assert_int_equal(s.models[i].leases, 0);
  zoo_snapshot_free(&s);
  zoo_manager_free(m);
  assert_int_equal(atomic_load(&S.in_use), 0);
  for (handle *h = S.all, *n; h; h = n) {
    n = h->next;
    free(h);
  }
  zoo_registry_free(&reg);
  pthread_mutex_destroy(&S.mu);
}

typedef struct storm_arg {
  zoo_manager *m;
  int role; /* 0 hit, 1 unload, 2 churn other models */
  _Atomic int *stop;
  _Atomic long n;
} storm_arg;

static void *storm_main(void *p) {
  storm_arg *a = p;
  char err[640];
  uint64_t seed = 77 + (uint64_t)a->role * 1000 + (uint64_t)(intptr_t)a;
  while (!atomic_load(a->stop)) {
    int i = a->role == 2 ? 4 + (int)(xorshift(&seed) % 6) : (int)(xorshift(&seed) % 2);
    if (a->role == 1) {
      zoo_result r;
      int rc = zoo_manager_unload(a->m, models[i].name, &r);
      if (rc && rc != ZOO_ELEASED) atomic_fetch_add(&S.bad_status, 1);
    } else {
      zoo_lease l;
      int rc = zoo_manager_acquire(a->m, models[i].name, &l, err, sizeof err);
      if (rc == 0) {
        check_lease(i, &l);
        end_lease(a->m, &l);
      } else if (rc != ZOO_EBUSY) {
        atomic_fetch_add(&S.bad_status, 1);
      }
    }
    atomic_fetch_add(&a->n, 1);
  }
  return NULL;
}

/* Evictions racing with hits on the same models, while reservations are in
 * flight (so releases take the wake-up path): exercises the claim/revert
 * handshake and the lock order under TSan. */
static void test_unload_storm(void **state) {
  memset(&S, 0, sizeof S);
  pthread_mutex_init(&S.mu, NULL);
  zoo_registry reg = {0};
  char cfg[2048] = "", err[256];
  for (int i = 0; i < 10; i++) {
    char line[128];
    snprintf(line, sizeof line, "%s declared_mb=%g priority=%s\n", models[i].name,
             models[i].declared_mb, models[i].prio);
    strcat(cfg, line);
  }
  assert_int_equal(zoo_registry_load_config_text(&reg, cfg, err, sizeof err), 0);
  zoo_params p = zoo_default_params();
  p.budget_mb = BUDGET_MB;
  p.acquire_timeout_ms = 20;
  p.loader = (zoo_loader){NULL, fake_load, fake_unload};
  zoo_manager *m;
  assert_int_equal(zoo_manager_init(&m, &reg, p, err, sizeof err), 0);
  _Atomic int stop = 0;
  pthread_t wd, t[8];
  storm_arg a[8];
  int roles[8] = {0, 0, 0, 0, 1, 1, 2, 2};
  pthread_create(&wd, NULL, watchdog_main, NULL);
  for (int i = 0; i < 8; i++) {
    a[i].m = m;
    a[i].role = roles[i];
    a[i].stop = &stop;
    atomic_init(&a[i].n, 0);
    pthread_create(&t[i], NULL, storm_main, &a[i]);
  }
  /* run until every thread made progress (bounded by the watchdog) */
  for (bool all = false; !all;) {
    usleep(20000);
    all = true;
    for (int i = 0; i < 8; i++) all = all && atomic_load(&a[i].n) >= 2000;
  }
  atomic_store(&stop, 1);
  for (int i = 0; i < 8; i++) pthread_join(t[i], NULL);
  atomic_store(&S.done, 1);
  pthread_join(wd, NULL);
  assert_int_equal(atomic_load(&S.over_budget), 0);
  assert_int_equal(atomic_load(&S.freed_leased), 0);
  assert_int_equal(atomic_load(&S.dead_handed_out), 0);
  assert_int_equal(atomic_load(&S.bad_status), 0);
  assert_true(atomic_load(&S.unloads) > 0);
  zoo_manager_free(m);
  assert_int_equal(atomic_load(&S.in_use), 0);
  for (handle *h = S.all, *n; h; h = n) {
    n = h->next;
    free(h);
  }
  zoo_registry_free(&reg);
  pthread_mutex_destroy(&S.mu);
}

int main(void) {
  setenv("VIGIL_LOG", "error", 0); /* 100 000 info lines would drown the result */
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_stress),
                                     cmocka_unit_test(test_hold_and_wait),
                                     cmocka_unit_test(test_unload_storm)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
