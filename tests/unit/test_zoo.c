/* Unit tests of the zoo manager: budget, measured memory, priority-LRU
 * eviction, leases, single-flight loads, idle reaping, failure backoff and
 * the status/preload/unload results, with a fake loader and a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/zoo.h"
#include "zoo/zoo_json.h"

#define MB ZOO_MB
#define SEC 1000000000LL

/* ---- fakes ------------------------------------------------------------------ */

#define HANDLE_MAGIC 0x5a4f4f21u
#define NFAKE 16

typedef struct fake_handle {
  unsigned magic;
  char name[ZOO_NAME_MAX];
  uint64_t bytes;
} fake_handle;

typedef struct fake_loader {
  /* per model, by name: measured bytes override, failure, delay */
  struct {
    char name[ZOO_NAME_MAX];
    uint64_t measured; /* 0 = declared */
    bool fail;
    int delay_ms;
  } cfg[NFAKE];
  _Atomic int loads, unloads;
  _Atomic int64_t in_use; /* bytes of live handles */
  _Atomic int64_t peak;
  char unloaded_order[512];
  pthread_mutex_t mu;
} fake_loader;

static int fake_idx(fake_loader *f, const char *name) {
  for (int i = 0; i < NFAKE; i++)
    if (!strcmp(f->cfg[i].name, name)) return i;
  for (int i = 0; i < NFAKE; i++)
    if (!f->cfg[i].name[0]) {
      snprintf(f->cfg[i].name, sizeof f->cfg[i].name, "%s", name);
      return i;
    }
  return -1;
}

static int fake_load(void *ctx, const zoo_model_row *row, void **handle, uint64_t *measured,
                     char *err, size_t errlen) {
  fake_loader *f = ctx;
  pthread_mutex_lock(&f->mu);
  int i = fake_idx(f, row->name);
  bool fail = f->cfg[i].fail;
  int delay = f->cfg[i].delay_ms;
  uint64_t bytes = f->cfg[i].measured ? f->cfg[i].measured : (uint64_t)(row->declared_mb * MB);
  pthread_mutex_unlock(&f->mu);
  atomic_fetch_add(&f->loads, 1);
  if (delay) usleep((useconds_t)delay * 1000);
  if (fail) {
    snprintf(err, errlen, "fake weights of %s are corrupt", row->name);
    return -1;
  }
  fake_handle *h = calloc(1, sizeof *h);
  h->magic = HANDLE_MAGIC;
  snprintf(h->name, sizeof h->name, "%s", row->name);
  h->bytes = bytes;
  int64_t now = atomic_fetch_add(&f->in_use, (int64_t)bytes) + (int64_t)bytes;
  int64_t pk = atomic_load(&f->peak);
  while (now > pk && !atomic_compare_exchange_weak(&f->peak, &pk, now)) {
  }
  *handle = h;
  *measured = bytes;
  return 0;
}

static void fake_unload(void *ctx, const zoo_model_row *row, void *handle) {
  fake_loader *f = ctx;
  fake_handle *h = handle;
  assert_int_equal(h->magic, HANDLE_MAGIC);
  assert_string_equal(h->name, row->name);
  atomic_fetch_sub(&f->in_use, (int64_t)h->bytes);
  atomic_fetch_add(&f->unloads, 1);
  pthread_mutex_lock(&f->mu);
  strncat(f->unloaded_order, row->name, sizeof f->unloaded_order - strlen(f->unloaded_order) - 2);
  strcat(f->unloaded_order, " ");
  pthread_mutex_unlock(&f->mu);
  h->magic = 0;
  free(h);
}

static _Atomic int64_t fake_now = 1000 * SEC;
static int64_t fake_clock(void *ctx) { return atomic_load(&fake_now); }
static void advance(double s) { atomic_fetch_add(&fake_now, (int64_t)(s * 1e9)); }

typedef struct fixture {
  zoo_registry reg;
  fake_loader fl;
  zoo_manager *m;
} fixture;

/* rows: config text; budget in MB */
static fixture *fx_new(const char *rows, double budget_mb, int timeout_ms) {
  fixture *fx = calloc(1, sizeof *fx);
  pthread_mutex_init(&fx->fl.mu, NULL);
  char err[256];
  assert_int_equal(zoo_registry_load_config_text(&fx->reg, rows, err, sizeof err), 0);
  zoo_params p = zoo_default_params();
  p.budget_mb = budget_mb;
  p.acquire_timeout_ms = timeout_ms;
  p.service_mask = 7;
  p.include_always_loaded = true;
  p.loader = (zoo_loader){&fx->fl, fake_load, fake_unload};
  p.clock = (zoo_clock){NULL, fake_clock};
  assert_int_equal(zoo_manager_init(&fx->m, &fx->reg, p, err, sizeof err), 0);
  return fx;
}

static void fx_free(fixture *fx) {
  zoo_manager_free(fx->m);
  assert_int_equal(atomic_load(&fx->fl.in_use), 0); /* everything unloaded */
  zoo_registry_free(&fx->reg);
  pthread_mutex_destroy(&fx->fl.mu);
  free(fx);
}

static bool is_loaded(zoo_manager *m, const char *name) {
  zoo_snapshot s;
  assert_int_equal(zoo_manager_status(m, &s), 0);
  bool r = false;
  for (int i = 0; i < s.nmodels; i++)
    if (!strcmp(s.models[i].name, name)) r = s.models[i].loaded;
  zoo_snapshot_free(&s);
  return r;
}

static void use(zoo_manager *m, const char *name) {
  zoo_lease l;
  char err[512];
  int rc = zoo_manager_acquire(m, name, &l, err, sizeof err);
  if (rc) fail_msg("acquire %s: %s", name, err);
  assert_non_null(l.handle);
  assert_string_equal(((fake_handle *)l.handle)->name, name);
  zoo_manager_release(m, &l);
  assert_null(l.entry);
}

static double used_mb(zoo_manager *m) { return (double)zoo_manager_used_bytes(m) / MB; }

/* ---- budget and registry ---------------------------------------------------- */

static void test_budget_parse(void **state) {
  double mb = 0;
  char err[256];
  assert_int_equal(zoo_budget_parse_gb("6.8", &mb, err, sizeof err), 0);
  assert_true(mb > 6963.2 - 1e-9 && mb < 6963.2 + 1e-9);
  assert_int_equal(zoo_budget_parse_gb("6", &mb, err, sizeof err), 0);
  assert_true(mb == 6144.0);
  assert_int_equal(zoo_budget_parse_gb("0", &mb, err, sizeof err), 0);
  const char *bad[] = {"-1", "nan", "inf", "-inf", "1e9", "abc", "6GB", "", "1e400"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = 0;
    assert_int_equal(zoo_budget_parse_gb(bad[i], &mb, err, sizeof err), ZOO_EINVAL);
    assert_true(strlen(err) > 0);
  }
  zoo_params p = zoo_default_params();
  setenv("VRAM_BUDGET_GB", "6.8", 1);
  assert_int_equal(zoo_params_from_env(&p, err, sizeof err), 0);
  assert_true(p.budget_mb > 6963.19 && p.budget_mb < 6963.21);
  setenv("VRAM_BUDGET_GB", "-2", 1);
  assert_int_equal(zoo_params_from_env(&p, err, sizeof err), ZOO_EINVAL);
  assert_non_null(strstr(err, "negative"));
  setenv("VRAM_BUDGET_GB", "NaN", 1);
  assert_int_equal(zoo_params_from_env(&p, err, sizeof err), ZOO_EINVAL);
  unsetenv("VRAM_BUDGET_GB");
  p = zoo_default_params();
  assert_int_equal(zoo_params_from_env(&p, err, sizeof err), 0);
  assert_true(p.idle_timeout_s == 300 && p.reaper_interval_s == 30);
  assert_int_equal(p.acquire_timeout_ms, 5000);
  setenv("ZOO_IDLE_TIMEOUT_S", "0", 1); /* never unload idle models */
  setenv("ZOO_ACQUIRE_TIMEOUT_MS", "250", 1);
  assert_int_equal(zoo_params_from_env(&p, err, sizeof err), 0);
  assert_true(p.idle_timeout_s == 0 && p.reaper_interval_s == 0);
  assert_int_equal(p.acquire_timeout_ms, 250);
  setenv("ZOO_ACQUIRE_TIMEOUT_MS", "-4", 1);
  assert_int_equal(zoo_params_from_env(&p, err, sizeof err), ZOO_EINVAL);
  assert_non_null(strstr(err, "ZOO_ACQUIRE_TIMEOUT_MS"));
  unsetenv("ZOO_IDLE_TIMEOUT_S");
  unsetenv("ZOO_ACQUIRE_TIMEOUT_MS");
  /* a manager refuses a nonsense budget too */
  zoo_registry reg;
  assert_int_equal(zoo_registry_init_builtin(&reg, err, sizeof err), 0);
  fake_loader fl = {0};
  p = zoo_default_params();
  p.loader = (zoo_loader){&fl, fake_load, fake_unload};
  p.budget_mb = -5;
  zoo_manager *m = (zoo_manager *)1;
  assert_int_equal(zoo_manager_init(&m, &reg, p, err, sizeof err), ZOO_EINVAL);
  assert_null(m);
  zoo_registry_free(&reg);
  zoo_registry_free(NULL);
  zoo_manager_free(NULL);
  zoo_snapshot_free(NULL);
}

static void test_status_codes(void **state) {
  assert_int_equal(zoo_http_status(ZOO_ENOTFOUND), 400);
  assert_int_equal(zoo_http_status(ZOO_ENOSPACE), 507);
  assert_int_equal(zoo_http_status(ZOO_EBUSY), 503);
  assert_int_equal(zoo_http_status(ZOO_ELEASED), 409);
  assert_int_equal(zoo_http_status(ZOO_OK), 200);
  assert_string_equal(zoo_strerror(ZOO_ENOSPACE), "model cannot fit the memory budget");
  assert_string_equal(zoo_strerror(12345), "unknown zoo status");
}

/* ---- the original project's cases -------------------------------------------- */

static void test_500_in_1gb_leaves_524(void **state) {
  fixture *fx = fx_new("a declared_mb=500\n", 1024, 100);
  use(fx->m, "a");
  zoo_snapshot s;
  assert_int_equal(zoo_manager_status(fx->m, &s), 0);
  assert_true(s.vram_available_mb > 523.999 && s.vram_available_mb < 524.001);
  assert_true(s.vram_used_mb > 499.999 && s.vram_used_mb < 500.001);
  assert_true(s.vram_budget_mb == 1024.0);
  zoo_snapshot_free(&s);
  fx_free(fx);
}

static void test_300_300_in_512_evicts_first(void **state) {
  fixture *fx = fx_new("a declared_mb=300\nb declared_mb=300\n", 512, 100);
  use(fx->m, "a");
  advance(1);
  use(fx->m, "b");
  assert_false(is_loaded(fx->m, "a"));
  assert_true(is_loaded(fx->m, "b"));
  assert_string_equal(fx->fl.unloaded_order, "a ");
  assert_true(used_mb(fx->m) == 300.0);
  fx_free(fx);
}

static void test_lru_within_priority(void **state) {
  fixture *fx = fx_new("a declared_mb=100\nb declared_mb=100\nc declared_mb=100\n"
                       "d declared_mb=100\n",
                       300, 100);
  use(fx->m, "a");
  advance(1);
  use(fx->m, "b");
  advance(1);
  use(fx->m, "c");
  advance(1);
  use(fx->m, "a"); /* a is now the most recent; b the least */
  advance(1);
  use(fx->m, "d");
  assert_string_equal(fx->fl.unloaded_order, "b ");
  advance(1);
  use(fx->m, "b"); /* evicts c, the least recent now */
  assert_string_equal(fx->fl.unloaded_order, "b c ");
  fx_free(fx);
}

static void test_low_before_older_critical(void **state) {
  fixture *fx = fx_new("crit declared_mb=200 priority=CRITICAL\n"
                       "low declared_mb=200 priority=LOW\n"
                       "high declared_mb=200 priority=HIGH\n"
                       "new declared_mb=200 priority=MEDIUM\n",
                       600, 100);
  use(fx->m, "crit"); /* oldest */
  advance(10);
  use(fx->m, "high");
  advance(10);
  use(fx->m, "low"); /* newest, but LOW */
  advance(10);
  use(fx->m, "new");
  assert_string_equal(fx->fl.unloaded_order, "low ");
  advance(10);
  use(fx->m, "low"); /* now evicts MEDIUM "new" (prio desc): LOW is the one we want */
  assert_string_equal(fx->fl.unloaded_order, "low new ");
  assert_true(is_loaded(fx->m, "crit"));
  fx_free(fx);
}

static void test_critical_only_as_last_resort(void **state) {
  fixture *fx = fx_new("crit declared_mb=300 priority=CRITICAL\n"
                       "high declared_mb=200 priority=HIGH\n"
                       "big declared_mb=300 priority=LOW\n",
                       512, 100);
  use(fx->m, "crit");
  advance(1);
  use(fx->m, "high"); /* 500 of 512 */
  advance(1);
  zoo_lease lh;
  char err[512];
  assert_int_equal(zoo_manager_acquire(fx->m, "high", &lh, err, sizeof err), 0);
  /* big needs 300: HIGH is leased, so only evicting CRITICAL can make room */
  use(fx->m, "big");
  assert_string_equal(fx->fl.unloaded_order, "crit ");
  assert_true(is_loaded(fx->m, "high"));
  zoo_manager_release(fx->m, &lh);
  /* with nothing leased, crit (needs 300) evicts LOW big before HIGH */
  use(fx->m, "crit");
  assert_string_equal(fx->fl.unloaded_order, "crit big ");
  fx_free(fx);
}

static void test_larger_than_budget_is_error(void **state) {
  fixture *fx = fx_new("small declared_mb=100\nhuge declared_mb=2000\n", 1024, 100);
  use(fx->m, "small");
  zoo_lease l;
  char err[512];
  int rc = zoo_manager_acquire(fx->m, "huge", &l, err, sizeof err);
  assert_int_equal(rc, ZOO_ENOSPACE);
  assert_int_equal(zoo_http_status(rc), 507);
  assert_non_null(strstr(err, "huge"));
  assert_null(l.handle);
  assert_true(is_loaded(fx->m, "small")); /* nothing was evicted for a hopeless load */
  assert_true(used_mb(fx->m) == 100.0);
  assert_int_equal(atomic_load(&fx->fl.loads), 1);
  zoo_result r;
  assert_int_equal(zoo_manager_preload(fx->m, "huge", &r), ZOO_ENOSPACE);
  fx_free(fx);
}

static void test_unknown_model(void **state) {
  fixture *fx = fx_new("a declared_mb=1\n", 100, 100);
  zoo_lease l;
  char err[512];
  assert_int_equal(zoo_manager_acquire(fx->m, "nope", &l, err, sizeof err), ZOO_ENOTFOUND);
  assert_non_null(strstr(err, "nope"));
  assert_int_equal(zoo_manager_acquire(fx->m, NULL, &l, err, sizeof err), ZOO_ENOTFOUND);
  zoo_result r;
  assert_int_equal(zoo_manager_preload(fx->m, "nope", &r), ZOO_ENOTFOUND);
  assert_int_equal(zoo_http_status(ZOO_ENOTFOUND), 400);
  assert_int_equal(zoo_manager_unload(fx->m, "nope", &r), ZOO_ENOTFOUND);
  fx_free(fx);
}

/* ---- concurrency -------------------------------------------------------------- */

typedef struct getter {
  fixture *fx;
  const char *name;
  _Atomic int *arrived;
  int rc;
  void *handle;
  char err[512];
} getter;

static void *getter_main(void *arg) {
  getter *g = arg;
  atomic_fetch_add(g->arrived, 1);
  zoo_lease l;
  g->rc = zoo_manager_acquire(g->fx->m, g->name, &l, g->err, sizeof g->err);
  g->handle = l.handle;
  if (!g->rc) zoo_manager_release(g->fx->m, &l);
  return NULL;
}

static void run_getters(fixture *fx, const char *name, getter *g, int n) {
  pthread_t t[16];
  _Atomic int arrived = 0;
  for (int i = 0; i < n; i++) {
    g[i] = (getter){.fx = fx, .name = name, .arrived = &arrived};
    pthread_create(&t[i], NULL, getter_main, &g[i]);
  }
  for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
}

static void test_five_concurrent_gets_one_load(void **state) {
  fixture *fx = fx_new("slow declared_mb=100\n", 1024, 1000);
  fx->fl.cfg[fake_idx(&fx->fl, "slow")].delay_ms = 200;
  getter g[5];
  run_getters(fx, "slow", g, 5);
  assert_int_equal(atomic_load(&fx->fl.loads), 1);
  assert_int_equal(zoo_manager_load_count(fx->m, "slow"), 1);
  for (int i = 0; i < 5; i++) {
    assert_int_equal(g[i].rc, 0);
    assert_ptr_equal(g[i].handle, g[0].handle);
  }
  zoo_snapshot s;
  zoo_manager_status(fx->m, &s);
  assert_int_equal(s.models[0].leases, 0); /* every waiter's lease came back */
  zoo_snapshot_free(&s);
  fx_free(fx);
}

static void test_waiters_share_the_error(void **state) {
  fixture *fx = fx_new("bad declared_mb=100\n", 1024, 1000);
  int i0 = fake_idx(&fx->fl, "bad");
  fx->fl.cfg[i0].delay_ms = 200;
  fx->fl.cfg[i0].fail = true;
  getter g[5];
  run_getters(fx, "bad", g, 5);
  assert_int_equal(atomic_load(&fx->fl.loads), 1);
  /* the loader and the waiters that queued behind it got ELOAD; a straggler
   * arriving after the failure gets EBACKOFF with the same reason */
  int nload = 0;
  for (int i = 0; i < 5; i++) {
    assert_true(g[i].rc == ZOO_ELOAD || g[i].rc == ZOO_EBACKOFF);
    assert_non_null(strstr(g[i].err, "fake weights of bad are corrupt"));
    nload += g[i].rc == ZOO_ELOAD;
  }
  assert_true(nload >= 1);
  assert_true(used_mb(fx->m) == 0.0);
  fx_free(fx);
}

static void test_leased_never_evicted(void **state) {
  fixture *fx = fx_new("a declared_mb=300\nb declared_mb=300\n", 512, 50);
  zoo_lease la;
  char err[512];
  assert_int_equal(zoo_manager_acquire(fx->m, "a", &la, err, sizeof err), 0);
  zoo_lease lb;
  int rc = zoo_manager_acquire(fx->m, "b", &lb, err, sizeof err);
  assert_int_equal(rc, ZOO_EBUSY);
  assert_int_equal(zoo_http_status(rc), 503);
  assert_true(strlen(err) > 0);
  assert_true(is_loaded(fx->m, "a"));
  assert_int_equal(atomic_load(&fx->fl.unloads), 0);
  /* unload refuses a leased model */
  zoo_result r;
  rc = zoo_manager_unload(fx->m, "a", &r);
  assert_int_equal(rc, ZOO_ELEASED);
  assert_int_equal(zoo_http_status(rc), 409);
  /* the handle is still intact */
  assert_int_equal(((fake_handle *)la.handle)->magic, HANDLE_MAGIC);
  zoo_manager_release(fx->m, &la);
  use(fx->m, "b");
  assert_false(is_loaded(fx->m, "a"));
  fx_free(fx);
}

typedef struct late_release {
  fixture *fx;
  zoo_lease *l;
  _Atomic int *go;
} late_release;

static void *release_later(void *arg) {
  late_release *lr = arg;
  while (!atomic_load(lr->go)) usleep(1000);
  usleep(50000);
  zoo_manager_release(lr->fx->m, lr->l);
  return NULL;
}

static void test_waiter_served_when_lease_released(void **state) {
  fixture *fx = fx_new("a declared_mb=300\nb declared_mb=300\n", 512, 10000);
  zoo_lease la;
  char err[512];
  assert_int_equal(zoo_manager_acquire(fx->m, "a", &la, err, sizeof err), 0);
  _Atomic int go = 0;
  late_release lr = {fx, &la, &go};
  pthread_t t;
  pthread_create(&t, NULL, release_later, &lr);
  atomic_store(&go, 1);
  zoo_lease lb;
  assert_int_equal(zoo_manager_acquire(fx->m, "b", &lb, err, sizeof err), 0);
  pthread_join(t, NULL);
  assert_string_equal(fx->fl.unloaded_order, "a ");
  zoo_manager_release(fx->m, &lb);
  fx_free(fx);
}

/* ---- idle, failure, measurement ------------------------------------------------- */

static void test_idle_cleanup(void **state) {
  fixture *fx = fx_new("a declared_mb=100\nb declared_mb=100\n", 1024, 100);
  use(fx->m, "a");
  use(fx->m, "b");
  zoo_lease lb;
  char err[512];
  assert_int_equal(zoo_manager_acquire(fx->m, "b", &lb, err, sizeof err), 0);
  advance(299);
  assert_int_equal(zoo_manager_reap(fx->m, atomic_load(&fake_now)), 0);
  assert_true(is_loaded(fx->m, "a"));
  advance(2);
  assert_int_equal(zoo_manager_reap(fx->m, atomic_load(&fake_now)), 1);
  assert_false(is_loaded(fx->m, "a"));
  assert_true(is_loaded(fx->m, "b")); /* leased: never reaped */
  zoo_manager_release(fx->m, &lb);
  assert_true(used_mb(fx->m) == 100.0);
  advance(301);
  assert_int_equal(zoo_manager_reap(fx->m, atomic_load(&fake_now)), 1);
  assert_true(used_mb(fx->m) == 0.0);
  fx_free(fx);
}

static void test_reaper_thread(void **state) {
  fixture *fx = calloc(1, sizeof *fx);
  pthread_mutex_init(&fx->fl.mu, NULL);
  char err[256];
  assert_int_equal(zoo_registry_load_config_text(&fx->reg, "a declared_mb=10\n", err, sizeof err), 0);
  zoo_params p = zoo_default_params();
  p.idle_timeout_s = 0.01;
  p.reaper_interval_s = 0.005;
  p.loader = (zoo_loader){&fx->fl, fake_load, fake_unload};
  assert_int_equal(zoo_manager_init(&fx->m, &fx->reg, p, err, sizeof err), 0);
  use(fx->m, "a");
  /* real clock: poll (bounded) until the reaper thread unloads it */
  for (int i = 0; i < 2000 && is_loaded(fx->m, "a"); i++) usleep(1000);
  assert_false(is_loaded(fx->m, "a"));
  fx_free(fx);
}

static void test_failed_load_budget_and_backoff(void **state) {
  fixture *fx = fx_new("ok declared_mb=200\nbad declared_mb=300\n", 1024, 100);
  use(fx->m, "ok");
  double before = used_mb(fx->m);
  fx->fl.cfg[fake_idx(&fx->fl, "bad")].fail = true;
  zoo_lease l;
  char err[512];
  assert_int_equal(zoo_manager_acquire(fx->m, "bad", &l, err, sizeof err), ZOO_ELOAD);
  assert_non_null(strstr(err, "corrupt"));
  assert_true(used_mb(fx->m) == before);
  zoo_snapshot s;
  zoo_manager_status(fx->m, &s);
  assert_int_equal(s.models[1].state, ZOO_STATE_FAILED);
  assert_non_null(strstr(s.models[1].error, "corrupt"));
  assert_string_equal(s.health, "degraded");
  zoo_snapshot_free(&s);
  /* retried with backoff, not on every request */
  assert_int_equal(zoo_manager_acquire(fx->m, "bad", &l, err, sizeof err), ZOO_EBACKOFF);
  assert_int_equal(zoo_manager_acquire(fx->m, "bad", &l, err, sizeof err), ZOO_EBACKOFF);
  assert_non_null(strstr(err, "corrupt"));
  assert_int_equal(zoo_manager_load_count(fx->m, "bad"), 1);
  advance(2.1); /* base backoff 2 s */
  assert_int_equal(zoo_manager_acquire(fx->m, "bad", &l, err, sizeof err), ZOO_ELOAD);
  assert_int_equal(zoo_manager_load_count(fx->m, "bad"), 2);
  advance(2.1); /* second backoff is 4 s */
  assert_int_equal(zoo_manager_acquire(fx->m, "bad", &l, err, sizeof err), ZOO_EBACKOFF);
  assert_int_equal(zoo_manager_load_count(fx->m, "bad"), 2);
  advance(2.1);
  fx->fl.cfg[fake_idx(&fx->fl, "bad")].fail = false; /* the file got fixed */
  assert_int_equal(zoo_manager_acquire(fx->m, "bad", &l, err, sizeof err), 0);
  zoo_manager_release(fx->m, &l);
  zoo_manager_status(fx->m, &s);
  assert_int_equal(s.models[1].state, ZOO_STATE_LOADED);
  assert_string_equal(s.models[1].error, "");
  assert_true(is_loaded(fx->m, "ok"));
  zoo_snapshot_free(&s);
  assert_true(used_mb(fx->m) == before + 300);
  fx_free(fx);
}

static void test_measured_replaces_declared(void **state) {
  fixture *fx = fx_new("small declared_mb=100\nbig declared_mb=100\nx declared_mb=400\n", 512, 100);
  fx->fl.cfg[fake_idx(&fx->fl, "small")].measured = 40 * MB;
  fx->fl.cfg[fake_idx(&fx->fl, "big")].measured = 200 * MB;
  use(fx->m, "small");
  assert_true(used_mb(fx->m) == 40.0);
  advance(1);
  use(fx->m, "big");
  assert_true(used_mb(fx->m) == 240.0);
  zoo_snapshot s;
  zoo_manager_status(fx->m, &s);
  assert_true(s.models[1].declared_mb == 100.0);
  assert_true(s.models[1].measured_mb == 200.0);
  assert_true(s.models[1].vram_mb == 200.0);
  zoo_snapshot_free(&s);
  /* x (400): 240 + 400 > 512; the LRU small (40) is not enough, big goes too */
  advance(1);
  use(fx->m, "x");
  assert_string_equal(fx->fl.unloaded_order, "small big ");
  assert_true(used_mb(fx->m) == 400.0);
  /* next time big reserves its measured 200 MB, not its declared 100: x is
   * evicted before big loads, so real memory never exceeds the budget */
  atomic_store(&fx->fl.peak, 0);
  advance(1);
  use(fx->m, "big");
  assert_string_equal(fx->fl.unloaded_order, "small big x ");
  assert_true(atomic_load(&fx->fl.peak) <= (int64_t)(512 * MB));
  assert_true(used_mb(fx->m) == 200.0);
  fx_free(fx);
}

static void test_measured_over_budget_is_unloaded(void **state) {
  fixture *fx = fx_new("ok declared_mb=100\nliar declared_mb=100\n", 512, 100);
  use(fx->m, "ok");
  fx->fl.cfg[fake_idx(&fx->fl, "liar")].measured = 600 * MB;
  zoo_lease l;
  char err[640];
  assert_int_equal(zoo_manager_acquire(fx->m, "liar", &l, err, sizeof err), ZOO_ENOSPACE);
  assert_non_null(strstr(err, "measured 600.0 MB"));
  assert_true(used_mb(fx->m) == 100.0);           /* budget as before */
  assert_int_equal(atomic_load(&fx->fl.in_use), 100 * MB); /* and really unloaded */
  /* the next attempt knows the truth and fails without loading */
  assert_int_equal(zoo_manager_acquire(fx->m, "liar", &l, err, sizeof err), ZOO_ENOSPACE);
  assert_int_equal(zoo_manager_load_count(fx->m, "liar"), 2);
  assert_int_equal(atomic_load(&fx->fl.loads), 2); /* one real load of liar */
  fx_free(fx);
}

typedef struct delta_src {
  uint64_t used;
} delta_src;
static uint64_t ds_used(void *ctx) { return ((delta_src *)ctx)->used; }
static uint64_t ds_measure(void *ctx, void *h, uint64_t reported, uint64_t before, uint64_t after) {
  return after - before; /* device delta wins over the loader's figure */
}
static uint64_t ds_total(void *ctx) { return 4096 * MB; }
static int ds_load(void *ctx, const zoo_model_row *row, void **handle, uint64_t *measured,
                   char *err, size_t errlen) {
  delta_src *d = ctx;
  d->used += 123 * MB;
  *handle = d;
  *measured = 1; /* ignored */
  return 0;
}
static void ds_unload(void *ctx, const zoo_model_row *row, void *handle) {
  ((delta_src *)ctx)->used -= 123 * MB;
}

static void test_memsource_delta(void **state) {
  zoo_registry reg = {0};
  char err[256];
  assert_int_equal(zoo_registry_load_config_text(&reg, "m declared_mb=50\n", err, sizeof err), 0);
  delta_src d = {1000 * MB};
  zoo_params p = zoo_default_params();
  p.budget_mb = 1024;
  p.loader = (zoo_loader){&d, ds_load, ds_unload};
  p.memsource = (zoo_memsource){&d, ds_used, ds_measure, ds_total};
  zoo_manager *m;
  assert_int_equal(zoo_manager_init(&m, &reg, p, err, sizeof err), 0);
  zoo_result r;
  assert_int_equal(zoo_manager_preload(m, "m", &r), 0);
  assert_int_equal(zoo_manager_used_bytes(m), 123 * MB);
  zoo_snapshot s;
  zoo_manager_status(m, &s);
  assert_true(s.vram_total_mb == 4096.0);
  assert_true(s.models[0].measured_mb == 123.0);
  zoo_snapshot_free(&s);
  zoo_manager_free(m);
  assert_int_equal(d.used, 1000 * MB);
  zoo_registry_free(&reg);
}

static void test_pinned_never_evicted(void **state) {
  fixture *fx = fx_new("core declared_mb=300 always_loaded=1\na declared_mb=200\n"
                       "b declared_mb=300\n",
                       512, 50);
  use(fx->m, "core");
  char err[512];
  zoo_lease l;
  /* b needs 300, only 212 can ever be free besides the pinned 300 */
  assert_int_equal(zoo_manager_acquire(fx->m, "b", &l, err, sizeof err), ZOO_ENOSPACE);
  use(fx->m, "a");
  assert_int_equal(zoo_manager_reap(fx->m, atomic_load(&fake_now) + 1000 * SEC), 1);
  assert_true(is_loaded(fx->m, "core"));
  zoo_result r;
  /* explicit unload still works for a pinned model */
  assert_int_equal(zoo_manager_unload(fx->m, "core", &r), 0);
  assert_string_equal(r.status, "unloaded");
  fx_free(fx);
}

/* ---- endpoints' results ---------------------------------------------------------- */

static void test_preload_unload_results(void **state) {
  fixture *fx = fx_new("a declared_mb=100 priority=HIGH\nb declared_mb=50\n", 6963.2, 100);
  zoo_result r;
  assert_int_equal(zoo_manager_preload(fx->m, "a", &r), 0);
  assert_string_equal(r.status, "loaded");
  assert_string_equal(r.model, "a");
  assert_int_equal(zoo_manager_preload(fx->m, "a", &r), 0);
  assert_string_equal(r.status, "already_loaded");
  json_t *j = zoo_result_to_json(&r);
  assert_string_equal(json_string_value(json_object_get(j, "status")), "already_loaded");
  assert_string_equal(json_string_value(json_object_get(j, "model")), "a");
  assert_non_null(json_string_value(json_object_get(j, "message")));
  json_decref(j);
  assert_int_equal(zoo_manager_unload(fx->m, "b", &r), 0);
  assert_string_equal(r.status, "not_loaded");

  zoo_snapshot s;
  assert_int_equal(zoo_manager_status(fx->m, &s), 0);
  j = zoo_snapshot_to_json(&s);
  zoo_snapshot_free(&s);
  assert_string_equal(json_string_value(json_object_get(j, "status")), "healthy");
  assert_true(json_real_value(json_object_get(j, "vram_budget_mb")) == 6963.2);
  assert_true(json_real_value(json_object_get(j, "vram_used_mb")) == 100.0);
  assert_true(json_real_value(json_object_get(j, "vram_available_mb")) == 6863.2);
  assert_non_null(json_object_get(j, "vram_total_mb"));
  assert_non_null(json_object_get(j, "vram_utilization_percent"));
  assert_non_null(json_object_get(j, "uptime_seconds"));
  json_t *lm = json_object_get(j, "loaded_models");
  assert_int_equal(json_array_size(lm), 1);
  json_t *a = json_array_get(lm, 0);
  assert_string_equal(json_string_value(json_object_get(a, "name")), "a");
  assert_string_equal(json_string_value(json_object_get(a, "priority")), "HIGH");
  assert_true(json_real_value(json_object_get(a, "declared_mb")) == 100.0);
  assert_true(json_real_value(json_object_get(a, "measured_mb")) == 100.0);
  const char *lu = json_string_value(json_object_get(a, "last_used"));
  assert_non_null(lu);
  assert_int_equal(strlen(lu), 24); /* 2026-11-27T06:30:00.123Z */
  assert_int_equal(lu[10], 'T');
  assert_int_equal(lu[23], 'Z');
  json_t *rm = json_object_get(j, "registered_models");
  assert_int_equal(json_array_size(rm), 2);
  json_t *b = json_array_get(rm, 1);
  assert_false(json_is_true(json_object_get(b, "loaded")));
  assert_string_equal(json_string_value(json_object_get(b, "state")), "unloaded");
  assert_true(json_is_null(json_object_get(b, "error")));
  assert_int_equal(json_array_size(json_object_get(j, "pending_loads")), 0);
  json_decref(j);

  assert_int_equal(zoo_manager_unload(fx->m, "a", &r), 0);
  assert_string_equal(r.status, "unloaded");
  assert_true(used_mb(fx->m) == 0.0);
  fx_free(fx);
}

static void test_degraded_over_95_percent(void **state) {
  fixture *fx = fx_new("a declared_mb=960\n", 1000, 100);
  use(fx->m, "a");
  zoo_snapshot s;
  zoo_manager_status(fx->m, &s);
  assert_string_equal(s.health, "degraded");
  assert_true(s.vram_utilization_percent > 95.9 && s.vram_utilization_percent < 96.1);
  zoo_snapshot_free(&s);
  fx_free(fx);
}

static void test_preload_env(void **state) {
  fixture *fx = fx_new("a declared_mb=10\nb declared_mb=10\nc declared_mb=10\n", 100, 100);
  setenv("ENRICHMENT_PRELOAD_MODELS", "a, c,not-here", 1);
  assert_int_equal(zoo_manager_preload_env(fx->m), 0);
  unsetenv("ENRICHMENT_PRELOAD_MODELS");
  assert_true(is_loaded(fx->m, "a"));
  assert_false(is_loaded(fx->m, "b"));
  assert_true(is_loaded(fx->m, "c"));
  fx->fl.cfg[fake_idx(&fx->fl, "b")].fail = true;
  setenv("ENRICHMENT_PRELOAD_MODELS", "b", 1);
  assert_int_equal(zoo_manager_preload_env(fx->m), 1); /* counted, service stays up */
  unsetenv("ENRICHMENT_PRELOAD_MODELS");
  fx_free(fx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_budget_parse),
      cmocka_unit_test(test_status_codes),
      cmocka_unit_test(test_500_in_1gb_leaves_524),
      cmocka_unit_test(test_300_300_in_512_evicts_first),
      cmocka_unit_test(test_lru_within_priority),
      cmocka_unit_test(test_low_before_older_critical),
      cmocka_unit_test(test_critical_only_as_last_resort),
      cmocka_unit_test(test_larger_than_budget_is_error),
      cmocka_unit_test(test_unknown_model),
      cmocka_unit_test(test_five_concurrent_gets_one_load),
      cmocka_unit_test(test_waiters_share_the_error),
      cmocka_unit_test(test_leased_never_evicted),
      cmocka_unit_test(test_waiter_served_when_lease_released),
      cmocka_unit_test(test_idle_cleanup),
      cmocka_unit_test(test_reaper_thread),
      cmocka_unit_test(test_failed_load_budget_and_backoff),
      cmocka_unit_test(test_measured_replaces_declared),
      cmocka_unit_test(test_measured_over_budget_is_unloaded),
      cmocka_unit_test(test_memsource_delta),
      cmocka_unit_test(test_pinned_never_evicted),
      cmocka_unit_test(test_preload_unload_results),
      cmocka_unit_test(test_degraded_over_95_percent),
      cmocka_unit_test(test_preload_env),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
