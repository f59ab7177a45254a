/* LLM clients over libcurl: llama.cpp POST /completion and OpenAI-compatible
 * POST /v1/chat/completions, with a capped reply body, a request timeout and
 * bounded retries with exponential backoff on transient failures. */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "util/sbuf.h"
#include "vigil/risk.h"
#include "vigil/status.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static char *request_json(const risk_params *p, const char *prompt, const char *system, const char *user) {
  json_t *stop = json_pack("[ss]", "<|im_end|>", "<|im_start|>");
  json_t *req;
  if (p->api == RISK_API_OPENAI) {
    json_t *msgs = json_pack("[{s:s,s:s},{s:s,s:s}]", "role", "system", "content", system, "role", "user",
                             "content", user);
    req = json_pack("{s:s,s:o,s:f,s:f,s:i,s:o,s:b}", "model", p->model[0] ? p->model : "nemotron", "messages",
                    msgs, "temperature", p->temperature, "top_p", p->top_p, "max_tokens", p->n_predict, "stop",
                    stop, "stream", 0);
  } else {
    req = json_pack("{s:s,s:f,s:f,s:i,s:o,s:b}", "prompt", prompt, "temperature", p->temperature, "top_p",
                    p->top_p, "n_predict", p->n_predict, "stop", stop, "stream", 0);
  }
  if (!req) return NULL;
  char *s = json_dumps(req, JSON_COMPACT);
  json_decref(req);
  return s;
}

/* The model's text out of the server's JSON reply. */
static int extract_text(char **text, const risk_params *p, const sbuf *b, char *err, size_t errlen) {
  json_error_t jerr;
  json_t *j = json_loadb(b->s ? b->s : "", b->len, 0, &jerr);
  if (!j) {
    return vigil_err(err, errlen, RISK_EREPLY, "LLM server reply is not JSON: %s", jerr.text);
  }
  json_t *c = NULL;
  if (p->api == RISK_API_OPENAI) {
    json_t *ch = json_array_get(json_object_get(j, "choices"), 0);
    c = json_object_get(json_object_get(ch, "message"), "content");
    if (!json_is_string(c)) c = json_object_get(ch, "text"); /* legacy completions shape */
  } else {
    c = json_object_get(j, "content");
  }
  if (!json_is_string(c)) {
    json_decref(j);
    return vigil_err(err, errlen, RISK_EREPLY, "LLM server reply has no %s", p->api == RISK_API_OPENAI ? "choices[0].message.content" : "content");
  }
  *text = strndup(json_string_value(c), json_string_length(c));
  json_decref(j);
  if (!*text) {
    return vigil_err(err, errlen, RISK_ENOMEM, "out of memory");
  }
  return 0;
}

static void sleep_s(double s) {
  if (s <= 0) return;
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  while (nanosleep(&ts, &ts) == -1) {
  }
}

int risk_llm_complete(char **text, const risk_params *p, const char *prompt, const char *system,
                      const char *user, char *err, size_t errlen) {
  *text = NULL;
  if (p->api == RISK_API_NONE || !p->url[0]) {
    return vigil_err(err, errlen, RISK_ENOLLM, "no LLM configured");
  }
  if (p->api == RISK_API_OPENAI ? (!system || !user) : !prompt) {
    return vigil_err(err, errlen, RISK_EINVAL, "missing prompt");
  }
  pthread_once(&curl_once, curl_init_once);
  char url[512];
  size_t ul = strlen(p->url);
  while (ul && p->url[ul - 1] == '/') ul--;
  snprintf(url, sizeof url, "%.*s%s", (int)ul, p->url,
           p->api == RISK_API_OPENAI ? "/v1/chat/completions" : "/completion");
  char *req = request_json(p, prompt, system, user);
  if (!req) {
    return vigil_err(err, errlen, RISK_ENOMEM, "out of memory building the request");
  }
  CURL *h = curl_easy_init();
  if (!h) {
    free(req);
    return vigil_err(err, errlen, RISK_ENOMEM, "curl_easy_init failed");
  }
  struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
  char auth[300];
  if (p->api_key[0]) {
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", p->api_key);
    hdr = curl_slist_append(hdr, auth);
  }
  int rc = RISK_EHTTP;
  int attempts = 1 + (p->max_retries > 0 ? (p->max_retries < 10 ? p->max_retries : 10) : 0);
  double delay = p->backoff_s > 0 ? p->backoff_s : 0;
  for (int a = 0; a < attempts; a++) {
    if (a) {
      vlog_warn("risk: LLM attempt %d/%d failed (%s); retrying in %.2f s", a, attempts, err ? err : "", delay);
      sleep_s(delay);
      delay *= 2;
    }
    sbuf b;
    sbuf_init(&b, p->max_reply_bytes ? p->max_reply_bytes : (1u << 20));
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sbuf_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)((p->timeout_s > 0 ? p->timeout_s : 60) * 1000));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)((p->connect_timeout_s > 0 ? p->connect_timeout_s : 5) * 1000));
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    /* https:// is always verified (certificate and host name) */
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (p->ca_file[0]) curl_easy_setopt(h, CURLOPT_CAINFO, p->ca_file);
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    bool retry = false;
    if (cc == CURLE_OK && status >= 200 && status < 300) {
      rc = extract_text(text, p, &b, err, errlen);
    } else if (b.full) {
      vigil_err(err, errlen, -1, "LLM reply larger than %zu bytes", b.max);
      rc = RISK_ETOOBIG;
    } else if (cc != CURLE_OK) {
      vigil_err(err, errlen, -1, "LLM request to %s failed: %s", url, curl_easy_strerror(cc));
      rc = RISK_EHTTP;
      retry = cc == CURLE_COULDNT_CONNECT || cc == CURLE_OPERATION_TIMEDOUT || cc == CURLE_GOT_NOTHING ||
              cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR || cc == CURLE_COULDNT_RESOLVE_HOST ||
              cc == CURLE_PARTIAL_FILE;
    } else {
      vigil_err(err, errlen, -1, "LLM server %s answered HTTP %ld", url, status);
      rc = RISK_EHTTP;
      retry = status >= 500 || status == 429;
    }
    sbuf_free(&b);
    if (!retry) break;
  }
  curl_slist_free_all(hdr);
  curl_easy_cleanup(h);
  free(req);
  return rc;
}
