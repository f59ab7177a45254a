/* Webhooks against a local receiver (libmicrohttpd in this process): the
 * outbox dispatcher signs with HMAC-SHA256, retries with backoff after
 * failures and a hanging receiver (timeout), honours WEBHOOK_MIN_LEVEL, and
 * a row survives a dispatcher restart until a 2xx acknowledged it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>

#include "notify/notify.h"
#include "service/notify_test.h"

#define SECRET "s3cret key"

typedef struct {
  pthread_mutex_t mu;
  int fail_first; /* the first N requests get 500 */
  int hang_ms;    /* the first request waits this long before answering */
  int calls, ok, bad_sig, bad_id;
  int64_t ids[64];
} recv_state;

static recv_state rs = {.mu = PTHREAD_MUTEX_INITIALIZER};
static struct MHD_Daemon *daemon_;
static int recv_port;
static char tmpdir[128];

typedef struct {
  char *buf;
  size_t len;
} body_acc;

static enum MHD_Result on_req(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *data, size_t *size, void **con_cls) {
  body_acc *b = *con_cls;
  if (!b) {
    *con_cls = calloc(1, sizeof *b);
    return *con_cls ? MHD_YES : MHD_NO;
  }
  if (*size) {
    char *n = realloc(b->buf, b->len + *size + 1);
    if (!n) return MHD_NO;
    b->buf = n;
    memcpy(b->buf + b->len, data, *size);
    b->len += *size;
    b->buf[b->len] = 0;
    *size = 0;
    return MHD_YES;
  }
  /* the whole body is here: check what a receiver would check */
  const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Vigil-Signature");
  const char *eid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Vigil-Event-Id");
  unsigned char mac[32];
  unsigned int ml = 0;
  HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)(b->buf ? b->buf : ""), b->len, mac, &ml);
  char want[80] = "sha256=";
  for (int i = 0; i < 32; i++) snprintf(want + 7 + 2 * i, 3, "%02x", mac[i]);
  json_t *j = json_loadb(b->buf ? b->buf : "", b->len, 0, NULL);
  int64_t id = j ? (int64_t)json_integer_value(json_object_get(j, "id")) : -1;
  json_decref(j);
  pthread_mutex_lock(&rs.mu);
  int call = ++rs.calls;
  if (!sig || strcmp(sig, want)) rs.bad_sig++;
  if (!eid || strtoll(eid, NULL, 10) != id) rs.bad_id++;
  int hang = call == 1 ? rs.hang_ms : 0;
  bool fail = call <= rs.fail_first;
  pthread_mutex_unlock(&rs.mu);
  if (hang) nt_sleep_ms(hang);
  if (!fail && !hang) {
    pthread_mutex_lock(&rs.mu);
    if (rs.ok < 64) rs.ids[rs.ok] = id;
    rs.ok++;
    pthread_mutex_unlock(&rs.mu);
  }
  struct MHD_Response *r = MHD_create_response_from_buffer(2, (void *)"{}", MHD_RESPMEM_PERSISTENT);
  enum MHD_Result ret = MHD_queue_response(c, fail ? 500 : 200, r);
  MHD_destroy_response(r);
  return ret;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t) {
  body_acc *b = *con_cls;
  if (b) free(b->buf);
  free(b);
  *con_cls = NULL;
}

static void reset(int fail_first, int hang_ms) {
  pthread_mutex_lock(&rs.mu);
  rs.fail_first = fail_first;
  rs.hang_ms = hang_ms;
  rs.calls = rs.ok = rs.bad_sig = rs.bad_id = 0;
  pthread_mutex_unlock(&rs.mu);
}

static int get(int *field) {
  pthread_mutex_lock(&rs.mu);
  int v = *field;
  pthread_mutex_unlock(&rs.mu);
  return v;
}

static bool one_ok(void *ud) { return get(&rs.ok) >= 1; }
static bool two_calls(void *ud) { return get(&rs.calls) >= 2; }

static store *open_store(const char *name) {
  char url[300], err[512];
  snprintf(url, sizeof url, "sqlite://%s/%s.db", tmpdir, name);
  store *s = NULL;
  if (store_open(&s, url, err, sizeof err)) fail_msg("store_open: %s", err);
  return s;
}

static int64_t pending(store *s) {
  int64_t n = -1;
  assert_int_equal(store_outbox_pending(s, "webhook", &n, NULL, 0), 0);
  return n;
}

static void wh_sign_vector(void **state) {
  /* RFC 4231 test case 2 */
  char out[80];
  assert_int_equal(webhook_sign("Jefe", "what do ya want for nothing?", 28, out), 0);
  assert_string_equal(out, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void wh_retry_signature_level(void **state) {
  reset(2, 0);
  setenv("WEBHOOK_MIN_LEVEL", "medium", 1);
  store *s = open_store("retry");
  int64_t low = nt_insert(s, "gate", "Gate", "person", 10, "low event", NULL);
  int64_t high = nt_insert(s, "gate", "Gate", "person,car", 70, "high event", NULL);
  assert_true(low > 0 && high > 0);
  int64_t rows = 0;
  assert_int_equal(store_count(s, "outbox", &rows, NULL, 0), 0);
  assert_int_equal(rows, 1); /* the low event is below WEBHOOK_MIN_LEVEL */
  notify *n;
  char err[512];
  assert_int_equal(notify_start(&n, s, err, sizeof err), 0);
  assert_non_null(n);
  assert_true(nt_wait(one_ok, NULL, 30));
  notify_stop(n);
  assert_int_equal(get(&rs.calls), 3); /* two 500s, then the 200 */
  assert_int_equal(get(&rs.bad_sig), 0);
  assert_int_equal(get(&rs.bad_id), 0);
  assert_int_equal(rs.ids[0], high);
  assert_int_equal(pending(s), 0);
  store_close(s);
  setenv("WEBHOOK_MIN_LEVEL", "low", 1);
}

static void wh_hanging_receiver(void **state) {
  reset(0, 2000);
  char url[64], err[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", recv_port);
  /* one POST on its own: a clear timeout error, not a hang */
  double t0 = nt_now();
  assert_int_equal(webhook_post(url, SECRET, "{\"id\":1}", 8, 1, 0.3, err, sizeof err), -1);
  assert_string_equal(err, "timed out");
  assert_true(nt_now() - t0 < 1.9);
  nt_sleep_ms(2100); /* let the receiver finish that one */
  reset(0, 2000);
  setenv("WEBHOOK_TIMEOUT_S", "0.3", 1);
  store *s = open_store("hang");
  int64_t id = nt_insert(s, "porch", "Porch", "person", 80, "hang", NULL);
  notify *n;
  assert_int_equal(notify_start(&n, s, err, sizeof err), 0);
  assert_true(nt_wait(one_ok, NULL, 30));
  notify_stop(n);
  assert_true(get(&rs.calls) >= 2); /* the timed-out attempt was retried */
  assert_int_equal(rs.ids[0], id);
  assert_int_equal(pending(s), 0);
  store_close(s);
  setenv("WEBHOOK_TIMEOUT_S", "10", 1);
}

static void wh_survives_restart(void **state) {
  reset(1000, 0); /* the receiver is failing */
  store *s = open_store("restart");
  int64_t id = nt_insert(s, "yard", "Yard", "dog", 60, "restart", NULL);
  notify *n;
  char err[256];
  assert_int_equal(notify_start(&n, s, err, sizeof err), 0);
  assert_true(nt_wait(two_calls, NULL, 30));
  notify_stop(n); /* as if vigil stopped: the row is not acknowledged, so it stays */
  assert_int_equal(pending(s), 1);
  reset(0, 0);
  store_close(s);
  s = open_store("restart");
  assert_int_equal(notify_start(&n, s, err, sizeof err), 0);
  assert_true(nt_wait(one_ok, NULL, 30));
  notify_stop(n);
  assert_int_equal(rs.ids[0], id);
  assert_int_equal(pending(s), 0);
  store_close(s);
}

static int setup(void **state) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/vigil-webhook-XXXXXX");
  if (!mkdtemp(tmpdir)) return -1;
  recv_port = nt_free_port();
  daemon_ = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)recv_port,
                             NULL, NULL, on_req, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_END);
  if (!daemon_) return -1;
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", recv_port);
  setenv("WEBHOOK_URL", url, 1);
  setenv("WEBHOOK_SECRET", SECRET, 1);
  setenv("NOTIFY_BACKOFF_S", "0.05", 1);
  setenv("NOTIFY_BACKOFF_MAX_S", "0.5", 1);
  unsetenv("MQTT_URL");
  return 0;
}

static int teardown(void **state) {
  MHD_stop_daemon(daemon_);
  char cmd[200];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  return system(cmd);
}

int main(void) {
  const struct CMUnitTest t[] = {cmocka_unit_test(wh_sign_vector), cmocka_unit_test(wh_retry_signature_level),
                                 cmocka_unit_test(wh_hanging_receiver), cmocka_unit_test(wh_survives_restart)};
  return cmocka_run_group_tests(t, setup, teardown);
}
