/* Webhook delivery: POST of an event's JSON with an HMAC-SHA256 signature
 * (OpenSSL libcrypto) and the event id for de-duplication, over libcurl. */
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "notify/notify.h"
#include "vigil/status.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

int webhook_sign(const char *secret, const void *body, size_t len, char out[80]) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!secret || !HMAC(EVP_sha256(), secret, (int)strlen(secret), body, len, mac, &n) || n != 32) return -1;
  memcpy(out, "sha256=", 7);
  for (unsigned i = 0; i < n; i++) snprintf(out + 7 + 2 * i, 3, "%02x", mac[i]);
  return 0;
}

static size_t discard(char *p, size_t sz, size_t n, void *ud) { return sz * n; }

int webhook_post(const char *url, const char *secret, const char *body, size_t len, int64_t event_id,
                 double timeout_s, char *err, size_t errlen) {
  pthread_once(&curl_once, curl_init_once);
  CURL *h = curl_easy_init();
  if (!h) {
    vigil_err(err, errlen, -1, "curl_easy_init failed");
    return -1;
  }
  char sig[80 + 32], idh[64];
  struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
  hdr = curl_slist_append(hdr, "Expect:");
  snprintf(idh, sizeof idh, "X-Vigil-Event-Id: %lld", (long long)event_id);
  hdr = curl_slist_append(hdr, idh);
  if (secret && *secret) {
    char s[80];
    if (webhook_sign(secret, body, len, s)) {
      curl_slist_free_all(hdr);
      curl_easy_cleanup(h);
      vigil_err(err, errlen, -1, "HMAC-SHA256 failed");
      return -1;
    }
    snprintf(sig, sizeof sig, "X-Vigil-Signature: %s", s);
    hdr = curl_slist_append(hdr, sig);
  }
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(timeout_s * 1000));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_s * 1000));
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_USERAGENT, "vigil-webhook");
  CURLcode cc = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(hdr);
  curl_easy_cleanup(h);
  if (cc != CURLE_OK) {
    vigil_err(err, errlen, -1, "%s", cc == CURLE_OPERATION_TIMEDOUT ? "timed out" : curl_easy_strerror(cc));
    return -1;
  }
  if (status < 200 || status > 299) {
    vigil_err(err, errlen, -1, "HTTP %ld", status);
    return -1;
  }
  return 0;
}
