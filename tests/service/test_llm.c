/* The LLM clients and the analyzer's fallback against a fake llama.cpp /
 * OpenAI server (libmicrohttpd on a random loopback port, inside the test):
 * valid replies, prose, <think>, malformed JSON, out-of-range scores, 500s,
 * timeouts and oversized replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit/test_risk_fixtures.h"
#include "vigil/risk.h"

typedef enum { S_VALID, S_PROSE, S_THINK, S_MALFORMED, S_RANGE, S_500, S_FLAKY, S_SLOW, S_BIG, S_404, S_KNIFE_LOW } scenario;

static struct {
  pthread_mutex_t mu;
  scenario sc;
  int hits;
  char path[128];
  char auth[128];
  json_t *last; /* last request body */
} srv = {.mu = PTHREAD_MUTEX_INITIALIZER};

static struct MHD_Daemon *daemon_;
static int port;

typedef struct {
  char *buf;
  size_t len;
} reqbuf;

static const char *model_text(scenario sc) {
  switch (sc) {
  case S_VALID:
  case S_FLAKY:
    return "{\"risk_score\": 72, \"risk_level\": \"high\", \"summary\": \"Person crouching by the car\", "
           "\"reasoning\": \"Night time and crouching near a vehicle.\"}";
  case S_PROSE:
    return "Sure! Here is the analysis you asked for:\n```json\n{\"risk_score\": 35, \"risk_level\": \"medium\", "
           "\"summary\": \"Visitor at the door\", \"reasoning\": \"Daytime, no alerts\"}\n```\nLet me know.";
  case S_THINK:
    return "<think>A knife was detected, so {\"risk_score\": 10} would be wrong.</think>\n"
           "{\"risk_score\": 91, \"risk_level\": \"critical\", \"summary\": \"Armed person\", \"reasoning\": \"knife\"}";
  case S_MALFORMED:
    return "{risk_score: very high, \"summary\": \"oops\"";
  case S_KNIFE_LOW: /* a reply that talks a weapon down */
    return "{\"risk_score\": 20, \"risk_level\": \"low\", \"summary\": \"Gardener with a tool\", "
           "\"reasoning\": \"The knife is probably for the hedges.\"}";
  case S_RANGE:
    return "{\"risk_score\": 150, \"risk_level\": \"extreme\", \"summary\": \"s\", \"reasoning\": \"r\"}";
  default:
    return "";
  }
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **con_cls) {
  reqbuf *rb = *con_cls;
  if (!rb) {
    *con_cls = calloc(1, sizeof(reqbuf));
    return MHD_YES;
  }
  if (*upload_size) {
    rb->buf = realloc(rb->buf, rb->len + *upload_size + 1);
    memcpy(rb->buf + rb->len, upload, *upload_size);
    rb->len += *upload_size;
    rb->buf[rb->len] = 0;
    *upload_size = 0;
    return MHD_YES;
  }
  pthread_mutex_lock(&srv.mu);
  scenario sc = srv.sc;
  int hit = ++srv.hits;
  snprintf(srv.path, sizeof srv.path, "%s %s", method, url);
  const char *au = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
  snprintf(srv.auth, sizeof srv.auth, "%s", au ? au : "");
  json_decref(srv.last);
  srv.last = rb->buf ? json_loadb(rb->buf, rb->len, 0, NULL) : NULL;
  pthread_mutex_unlock(&srv.mu);

  unsigned status = 200;
  char *body = NULL;
  bool openai = strstr(url, "/v1/chat/completions") != NULL;
  if (sc == S_404 || (!openai && strcmp(url, "/completion"))) {
    status = 404;
    body = strdup("{\"error\":\"not found\"}");
  } else if (sc == S_500 || (sc == S_FLAKY && hit == 1)) {
    status = 500;
    body = strdup("{\"error\":\"model crashed\"}");
  } else if (sc == S_SLOW) {
    sleep(3);
    body = strdup("{\"content\":\"{\\\"risk_score\\\": 5}\"}");
  } else if (sc == S_BIG) {
    size_t n = 3u << 20;
    body = malloc(n + 32);
    strcpy(body, "{\"content\":\"");
    memset(body + 12, 'x', n);
    strcpy(body + 12 + n, "\"}");
  } else {
    json_t *j = openai ? json_pack("{s:[{s:{s:s,s:s}}]}", "choices", "message", "role", "assistant", "content",
                                   model_text(sc))
                       : json_pack("{s:s,s:b}", "content", model_text(sc), "stop", 1);
    body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
  }
  struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
  MHD_add_response_header(r, "Content-Type", "application/json");
  enum MHD_Result ret = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t) {
  reqbuf *rb = *con_cls;
  if (rb) free(rb->buf);
  free(rb);
  *con_cls = NULL;
}

static int setup(void **state) {
  daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG, 0,
                             NULL, NULL, handler, NULL, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                             MHD_OPTION_SOCK_ADDR, NULL, MHD_OPTION_END);
  if (!daemon_) return -1;
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
  port = info->port;
  return port > 0 ? 0 : -1;
}

static int teardown(void **state) {
  MHD_stop_daemon(daemon_);
  json_decref(srv.last);
  srv.last = NULL;
  return 0;
}

static void use(scenario sc) {
  pthread_mutex_lock(&srv.mu);
  srv.sc = sc;
  srv.hits = 0;
  pthread_mutex_unlock(&srv.mu);
}

static risk_params params(risk_api api) {
  risk_params p = risk_default_params();
  snprintf(p.url, sizeof p.url, "http://127.0.0.1:%d/", port);
  p.api = api;
  p.backoff_s = 0.01;
  p.cooldown_s = 0;
  p.timeout_s = 10;
  return p;
}

static void night_batch(vigil_batch *b) {
  fx_batch(b, "driveway", 23);
  vigil_enrichment e = fx_none();
  e.pose.present = true;
  vigil_strlcpy(e.pose.posture, "crouching", sizeof e.pose.posture);
  fx_add(b, "person", 0.95f, &e);
  fx_add(b, "car", 0.8f, NULL);
}

/* Runs the analyzer on a night batch and returns the event. */
static void analyze(vigil_event *ev, const risk_params *p) {
  vigil_batch b;
  night_batch(&b);
  risk_analyzer *a;
  assert_int_equal(risk_analyzer_init(&a, p, NULL, 0), 0);
  vigil_event_init(ev);
  char err[256];
  assert_int_equal(risk_analyze(a, &b, ev, err, sizeof err), 0);
  assert_int_equal(ev->n_detection_ids, 2);
  assert_string_equal(ev->camera_id, "driveway");
  assert_non_null(ev->summary);
  assert_non_null(ev->reasoning);
  risk_analyzer_free(a);
  vigil_batch_free(&b);
}

static void llamacpp_request_and_valid_reply(void **state) {
  use(S_VALID);
  risk_params p = params(RISK_API_LLAMACPP);
  vigil_event ev;
  analyze(&ev, &p);
  assert_string_equal(ev.scorer, "llm");
  assert_int_equal(ev.risk_score, 72);
  assert_string_equal(ev.risk_level, "high");
  assert_string_equal(ev.summary, "Person crouching by the car");
  vigil_event_free(&ev);
  pthread_mutex_lock(&srv.mu);
  assert_string_equal(srv.path, "POST /completion");
  assert_int_equal(srv.hits, 1);
  json_t *j = srv.last;
  assert_non_null(j);
  const char *prompt = json_string_value(json_object_get(j, "prompt"));
  assert_non_null(prompt);
  assert_true(!strncmp(prompt, "<|im_start|>system\n", 19));
  assert_non_null(strstr(prompt, "Pose: crouching"));
  assert_true(json_real_value(json_object_get(j, "temperature")) > 0.69 &&
              json_real_value(json_object_get(j, "temperature")) < 0.71);
  assert_true(json_real_value(json_object_get(j, "top_p")) > 0.94);
  assert_int_equal(json_integer_value(json_object_get(j, "n_predict")), 1536);
  json_t *stop = json_object_get(j, "stop");
  assert_int_equal(json_array_size(stop), 2);
  assert_string_equal(json_string_value(json_array_get(stop, 0)), "<|im_end|>");
  assert_string_equal(json_string_value(json_array_get(stop, 1)), "<|im_start|>");
  pthread_mutex_unlock(&srv.mu);
}

static void openai_request_and_valid_reply(void **state) {
  use(S_VALID);
  risk_params p = params(RISK_API_OPENAI);
  vigil_strlcpy(p.model, "nemotron-mini", sizeof p.model);
  vigil_strlcpy(p.api_key, "sekret", sizeof p.api_key);
  vigil_event ev;
  analyze(&ev, &p);
  assert_string_equal(ev.scorer, "llm");
  assert_int_equal(ev.risk_score, 72);
  vigil_event_free(&ev);
  pthread_mutex_lock(&srv.mu);
  assert_string_equal(srv.path, "POST /v1/chat/completions");
  assert_string_equal(srv.auth, "Bearer sekret");
  json_t *j = srv.last;
  assert_string_equal(json_string_value(json_object_get(j, "model")), "nemotron-mini");
  assert_int_equal(json_integer_value(json_object_get(j, "max_tokens")), 1536);
  json_t *m = json_object_get(j, "messages");
  assert_int_equal(json_array_size(m), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(m, 0), "role")), "system");
  assert_string_equal(json_string_value(json_object_get(json_array_get(m, 1), "role")), "user");
  assert_non_null(strstr(json_string_value(json_object_get(json_array_get(m, 1), "content")), "Camera: driveway"));
  pthread_mutex_unlock(&srv.mu);
}

static void prose_and_think(void **state) {
  for (int api = RISK_API_LLAMACPP; api <= RISK_API_OPENAI; api++) {
    risk_params p = params((risk_api)api);
    vigil_event ev;
    use(S_PROSE);
    analyze(&ev, &p);
    assert_string_equal(ev.scorer, "llm");
    assert_int_equal(ev.risk_score, 35);
    assert_string_equal(ev.risk_level, "medium");
    assert_string_equal(ev.summary, "Visitor at the door");
    vigil_event_free(&ev);
    use(S_THINK);
    analyze(&ev, &p);
    assert_string_equal(ev.scorer, "llm");
    assert_int_equal(ev.risk_score, 91);
    assert_string_equal(ev.risk_level, "critical");
    assert_null(strstr(ev.reasoning, "think"));
    vigil_event_free(&ev);
  }
}

/* Item 2.8 of issue 10: the rule floors bind an LLM score too. A person with
 * a knife scored "low" (20) by the model comes out at the knife floor (85,
 * critical), still the LLM's summary, with a note in the reasoning. A score
 * above the floors is left alone. */
static void llm_cannot_go_below_floors(void **state) {
  for (int api = RISK_API_LLAMACPP; api <= RISK_API_OPENAI; api++) {
    use(S_KNIFE_LOW);
    risk_params p = params((risk_api)api);
    vigil_batch b;
    fx_batch(&b, "garden", 14);
    vigil_enrichment e = fx_threat("knife", 0.8f, "high");
    fx_add(&b, "person", 0.9f, &e);
    risk_analyzer *a;
    assert_int_equal(risk_analyzer_init(&a, &p, NULL, 0), 0);
    vigil_event ev;
    vigil_event_init(&ev);
    char err[256];
    assert_int_equal(risk_analyze(a, &b, &ev, err, sizeof err), 0);
    assert_string_equal(ev.scorer, "llm");
    assert_int_equal(ev.risk_score, 85);
    assert_string_equal(ev.risk_level, "critical");
    assert_string_equal(ev.summary, "Gardener with a tool");
    assert_non_null(strstr(ev.reasoning, "safety floor weapon_knife raised the score from 20 to 85"));
    vigil_event_free(&ev);
    vigil_batch_free(&b);
    /* no weapon: the model's 20 stands */
    fx_batch(&b, "garden", 14);
    fx_add(&b, "person", 0.9f, NULL);
    assert_int_equal(risk_analyze(a, &b, &ev, err, sizeof err), 0);
    assert_int_equal(ev.risk_score, 20);
    assert_null(strstr(ev.reasoning, "safety floor"));
    vigil_event_free(&ev);
    vigil_batch_free(&b);
    risk_analyzer_free(a);
  }
}

static void malformed_falls_back_to_rules(void **state) {
  use(S_MALFORMED);
  risk_params p = params(RISK_API_LLAMACPP);
  vigil_event ev;
  analyze(&ev, &p);
  assert_string_equal(ev.scorer, "rules");
  /* 20 person + 15 night + 15 crouching */
  assert_int_equal(ev.risk_score, 50);
  assert_string_equal(ev.risk_level, "medium");
  assert_non_null(strstr(ev.reasoning, "pose_crouching"));
  assert_non_null(strstr(ev.reasoning, "no JSON object"));
  vigil_event_free(&ev);
  assert_int_equal(srv.hits, 1); /* a bad reply is not retried */
}

static void out_of_range_is_clamped(void **state) {
  use(S_RANGE);
  risk_params p = params(RISK_API_OPENAI);
  vigil_event ev;
  analyze(&ev, &p);
  assert_string_equal(ev.scorer, "llm");
  assert_int_equal(ev.risk_score, 100);
  assert_string_equal(ev.risk_level, "critical");
  assert_non_null(strstr(ev.reasoning, "score clamped"));
  vigil_event_free(&ev);
}

static void http_500_is_retried_then_rules(void **state) {
  use(S_500);
  risk_params p = params(RISK_API_LLAMACPP);
  p.max_retries = 2;
  vigil_event ev;
  analyze(&ev, &p);
  assert_string_equal(ev.scorer, "rules");
  assert_non_null(strstr(ev.reasoning, "HTTP 500"));
  vigil_event_free(&ev);
  assert_int_equal(srv.hits, 3);
  /* a transient 500 followed by a good reply */
  use(S_FLAKY);
  analyze(&ev, &p);
  assert_string_equal(ev.scorer, "llm");
  assert_int_equal(ev.risk_score, 72);
  vigil_event_free(&ev);
  assert_int_equal(srv.hits, 2);
  /* 404 is not retried */
  use(S_404);
  analyze(&ev, &p);
  assert_string_equal(ev.scorer, "rules");
  vigil_event_free(&ev);
  assert_int_equal(srv.hits, 1);
}

static void timeout_falls_back(void **state) {
  use(S_SLOW);
  risk_params p = params(RISK_API_LLAMACPP);
  p.timeout_s = 0.5;
  p.max_retries = 1;
  vigil_event ev;
  analyze(&ev, &p);
  assert_string_equal(ev.scorer, "rules");
  assert_non_null(strstr(ev.reasoning, "Timeout"));
  vigil_event_free(&ev);
  assert_int_equal(srv.hits, 2); /* a timeout is retried */
}

static void oversized_reply_is_capped(void **state) {
  use(S_BIG);
  risk_params p = params(RISK_API_LLAMACPP);
  p.max_reply_bytes = 64 * 1024;
  char *text = NULL;
  char err[256] = "";
  assert_int_equal(risk_llm_complete(&text, &p, "x", NULL, NULL, err, sizeof err), RISK_ETOOBIG);
  assert_null(text);
  assert_non_null(strstr(err, "larger than"));
  assert_int_equal(srv.hits, 1);
}

static void no_server_and_cooldown(void **state) {
  /* nothing listens on this port: connect errors, retried, then rules */
  risk_params p = params(RISK_API_LLAMACPP);
  snprintf(p.url, sizeof p.url, "http://127.0.0.1:1");
  p.max_retries = 1;
  p.cooldown_s = 3600;
  vigil_batch b;
  night_batch(&b);
  risk_analyzer *a;
  assert_int_equal(risk_analyzer_init(&a, &p, NULL, 0), 0);
  vigil_event ev;
  vigil_event_init(&ev);
  assert_int_equal(risk_analyze(a, &b, &ev, NULL, 0), 0);
  assert_string_equal(ev.scorer, "rules");
  assert_non_null(strstr(ev.reasoning, "failed"));
  vigil_event_free(&ev);
  /* the second batch does not even try while the cool-down runs */
  assert_int_equal(risk_analyze(a, &b, &ev, NULL, 0), 0);
  assert_string_equal(ev.scorer, "rules");
  assert_non_null(strstr(ev.reasoning, "recent failure"));
  vigil_event_free(&ev);
  risk_analyzer_free(a);
  risk_analyzer_free(NULL);
  /* no LLM configured at all */
  risk_params none = risk_default_params();
  assert_int_equal(risk_analyzer_init(&a, &none, NULL, 0), 0);
  assert_int_equal(risk_analyze(a, &b, &ev, NULL, 0), 0);
  assert_string_equal(ev.scorer, "rules");
  assert_non_null(strstr(ev.reasoning, "no LLM configured"));
  vigil_event_free(&ev);
  risk_analyzer_free(a);
  vigil_batch_free(&b);
}

static void params_from_env(void **state) {
  setenv("NEMOTRON_URL", "http://10.0.0.5:8091", 1);
  setenv("NEMOTRON_API", "openai", 1);
  setenv("NEMOTRON_TIMEOUT_S", "7.5", 1);
  setenv("NEMOTRON_RETRIES", "4", 1);
  setenv("NEMOTRON_API_KEY", "k", 1);
  risk_params p;
  char err[256];
  assert_int_equal(risk_params_from_config(&p, NULL, err, sizeof err), 0);
  assert_string_equal(p.url, "http://10.0.0.5:8091");
  assert_int_equal(p.api, RISK_API_OPENAI);
  assert_true(p.timeout_s == 7.5);
  assert_int_equal(p.max_retries, 4);
  assert_string_equal(p.api_key, "k");
  setenv("NEMOTRON_API", "bogus", 1);
  assert_int_equal(risk_params_from_config(&p, NULL, err, sizeof err), RISK_EINVAL);
  assert_non_null(strstr(err, "NEMOTRON_API"));
  setenv("NEMOTRON_API", "completion", 1);
  setenv("NEMOTRON_RETRIES", "99", 1);
  assert_int_equal(risk_params_from_config(&p, NULL, err, sizeof err), RISK_EINVAL);
  unsetenv("NEMOTRON_RETRIES");
  setenv("NEMOTRON_URL", "", 1);
  assert_int_equal(risk_params_from_config(&p, NULL, err, sizeof err), 0);
  assert_int_equal(p.api, RISK_API_NONE);
  unsetenv("NEMOTRON_URL");
  unsetenv("NEMOTRON_API");
  unsetenv("NEMOTRON_TIMEOUT_S");
  unsetenv("NEMOTRON_API_KEY");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(llamacpp_request_and_valid_reply),
      cmocka_unit_test(openai_request_and_valid_reply),
      cmocka_unit_test(prose_and_think),
      cmocka_unit_test(llm_cannot_go_below_floors),
      cmocka_unit_test(malformed_falls_back_to_rules),
      cmocka_unit_test(out_of_range_is_clamped),
      cmocka_unit_test(http_500_is_retried_then_rules),
      cmocka_unit_test(timeout_falls_back),
      cmocka_unit_test(oversized_reply_is_capped),
      cmocka_unit_test(no_server_and_cooldown),
      cmocka_unit_test(params_from_env),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
