/* The LLM and enrichment HTTP clients over HTTPS: a fake server (libmicrohttpd
 * with TLS, a self-signed certificate made by `openssl` for 127.0.0.1) is
 * reached when VIGIL_CA_FILE-style ca_file names its certificate, refused
 * (certificate not trusted) when it does not, and sees the API key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include "vigil/enrich_client.h"
#include "vigil/risk.h"

static char tmp[256], cert_path[300];
static char *cert_pem, *key_pem;
static struct MHD_Daemon *daemon_;
static int port;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int hits;
static char last_auth[300], last_path[128];

/* The server thread's record, read under its lock. */
static int hits_now(void) {
  pthread_mutex_lock(&mu);
  int n = hits;
  pthread_mutex_unlock(&mu);
  return n;
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  static char buf[16384];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  return strdup(buf);
}

static enum MHD_Result on_req(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls) {
  if (!*con_cls) {
    *con_cls = (void *)1;
    return MHD_YES;
  }
  if (*upload_size) {
    *upload_size = 0;
    return MHD_YES;
  }
  const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
  pthread_mutex_lock(&mu);
  hits++;
  snprintf(last_auth, sizeof last_auth, "%s", auth ? auth : "");
  snprintf(last_path, sizeof last_path, "%s", url);
  pthread_mutex_unlock(&mu);
  const char *body = !strcmp(url, "/completion") ? "{\"content\": \"hello over tls\"}" : "{\"detail\": \"fake enrich\"}";
  int status = !strcmp(url, "/completion") ? 200 : 503;
  struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
  MHD_add_response_header(r, "Content-Type", "application/json");
  enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
  MHD_destroy_response(r);
  return ok;
}

static int setup(void **s) {
  if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
    fprintf(stderr, "libmicrohttpd was built without TLS: this test cannot run its HTTPS server\n");
    return -1;
  }
  snprintf(tmp, sizeof tmp, "/tmp/vigil-tls-XXXXXX");
  if (!mkdtemp(tmp)) return -1;
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s/key.pem -out %s/cert.pem -days 2 "
           "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null",
           tmp, tmp);
  if (system(cmd)) {
    fprintf(stderr, "openssl could not make a certificate\n");
    return -1;
  }
  snprintf(cert_path, sizeof cert_path, "%s/cert.pem", tmp);
  char key_path[300];
  snprintf(key_path, sizeof key_path, "%s/key.pem", tmp);
  cert_pem = slurp(cert_path);
  key_pem = slurp(key_path);
  if (!cert_pem || !key_pem) return -1;
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS, 0, NULL, NULL, on_req, NULL,
                             MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a, MHD_OPTION_HTTPS_MEM_KEY, key_pem,
                             MHD_OPTION_HTTPS_MEM_CERT, cert_pem, MHD_OPTION_END);
  if (!daemon_) return -1;
  port = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT)->port;
  return 0;
}

static int teardown(void **s) {
  MHD_stop_daemon(daemon_);
  free(cert_pem);
  free(key_pem);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  return system(cmd) ? -1 : 0;
}

static void llm_over_https(void **s) {
  risk_params p = risk_default_params();
  p.api = RISK_API_LLAMACPP;
  snprintf(p.url, sizeof p.url, "https://127.0.0.1:%d", port);
  snprintf(p.api_key, sizeof p.api_key, "llm-key-0123456789");
  p.max_retries = 0;
  char *text = NULL, err[512] = "";
  /* the system's CAs do not know our certificate: refused before any request */
  pthread_mutex_lock(&mu);
  hits = 0;
  pthread_mutex_unlock(&mu);
  assert_int_not_equal(risk_llm_complete(&text, &p, "prompt", NULL, NULL, err, sizeof err), 0);
  assert_null(text);
  if (!strcasestr(err, "certificate") && !strcasestr(err, "SSL")) fail_msg("error: %s", err);
  assert_int_equal(hits_now(), 0);
  /* trusted through ca_file: the request goes through, with the key */
  snprintf(p.ca_file, sizeof p.ca_file, "%s", cert_path);
  int rc = risk_llm_complete(&text, &p, "prompt", NULL, NULL, err, sizeof err);
  if (rc) fail_msg("LLM over https: %s", err);
  assert_string_equal(text, "hello over tls");
  free(text);
  assert_int_equal(hits_now(), 1);
  assert_string_equal(last_path, "/completion");
  assert_string_equal(last_auth, "Bearer llm-key-0123456789");
}

static void enrich_over_https(void **s) {
  char url[128], err[512] = "";
  snprintf(url, sizeof url, "https://127.0.0.1:%d", port);
  setenv("ENRICHMENT_URL", url, 1);
  setenv("ENRICHMENT_API_KEY", "enrich-key-0123456789", 1);
  unsetenv("VIGIL_CA_FILE");
  enrich_client_params cp;
  assert_int_equal(enrich_client_params_from_config(&cp, NULL, err, sizeof err), 1);
  assert_string_equal(cp.api_key, "enrich-key-0123456789");
  enrich_client *c;
  assert_int_equal(enrich_client_init(&c, cp, err, sizeof err), 0);
  vigil_image frame;
  assert_int_equal(vigil_image_init(&frame, 64, 64, 3), 0);
  memset(frame.data, 90, (size_t)frame.h * frame.stride);
  enrich_request rq = {.frame = &frame, .x1 = 8, .y1 = 8, .x2 = 56, .y2 = 56, .kind = ENRICH_PERSON};
  enrich_result *r = calloc(1, sizeof *r);
  pthread_mutex_lock(&mu);
  hits = 0;
  pthread_mutex_unlock(&mu);
  assert_int_equal(enrich_client_run(c, r, &rq, err, sizeof err), -1);
  if (!strcasestr(err, "certificate") && !strcasestr(err, "SSL")) fail_msg("error: %s", err);
  assert_int_equal(hits_now(), 0);
  enrich_client_free(c);
  setenv("VIGIL_CA_FILE", cert_path, 1);
  assert_int_equal(enrich_client_params_from_config(&cp, NULL, err, sizeof err), 1);
  assert_int_equal(enrich_client_init(&c, cp, err, sizeof err), 0);
  assert_int_equal(enrich_client_run(c, r, &rq, err, sizeof err), -1); /* the fake answers 503 */
  if (!strstr(err, "fake enrich")) fail_msg("error: %s", err);
  assert_int_equal(hits_now(), 1);
  assert_string_equal(last_path, "/enrich");
  assert_string_equal(last_auth, "Bearer enrich-key-0123456789");
  enrich_client_free(c);
  free(r);
  vigil_image_free(&frame);
  unsetenv("ENRICHMENT_URL");
  unsetenv("ENRICHMENT_API_KEY");
  unsetenv("VIGIL_CA_FILE");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(llm_over_https),
      cmocka_unit_test(enrich_over_https),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
