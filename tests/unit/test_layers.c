/* The layer rules of docs/architecture.md, checked on the source tree: HTTP
 * only in src/http and the service edge files, JSON only there, in the codecs
 * and in the readers/writers of foreign JSON formats; public headers include
 * only public headers. A new file that breaks a rule fails here, so the page
 * stays true (or the page and this list change together). */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ftw.h>

#include "util/file.h"

/* The service edge files: HTTP handlers and the JSON they speak. */
static const char *const http_edge[] = {
    "src/enrich/service.c",     "src/models/clip_service.c", "src/models/detect_service.c",
    "src/models/florence_service.c", "src/store/events_api.c", "src/zoo/zoo_http.c",
    "src/zoo/zoo_http.h",       "src/web/dashboard.c",       "src/web/assets.h",
    "src/store/events_search.c", "src/store/events_search.h", /* the events service's search routes */
    "src/notify/dispatch.c", /* the outbox gauges of the events service's /metrics */
    "src/pipeline/pipeline_http.c", /* vigil analyze --metrics-port: the pipeline's /health and /metrics */
};

/* JSON besides the edge: the record codecs and the foreign formats. */
static const char *const json_only[] = {
    "src/store/json.c",      "src/zoo/zoo_json.c",   "src/zoo/zoo_json.h",        /* codecs */
    "src/store/events_query.c",                                                    /* PATCH body of the events API */
    "src/pipeline/live.c",                                                         /* live tiles' stored JSON */
    "src/models/bpe.c",      "src/models/clip_tokenizer.c", "src/models/hub_common.c", /* vocab.json, config.json */
    "src/pipeline/cameras.c",                                                      /* the camera registry file */
    "src/pipeline/enrich_client.c",                                                /* client of the enrichment API */
    "src/risk/llm.c",        "src/risk/reply.c",                                   /* the LLM's wire format */
    "src/notify/dispatch.c",                                                       /* outbox payloads */
};

static char root[4096];
static char bad[8192];

static bool listed(const char *rel, const char *const *list, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(rel, list[i])) return true;
  return false;
}

static bool has_any(const char *text, const char *const *needles) {
  for (; *needles; needles++)
    if (strstr(text, *needles)) return true;
  return false;
}

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)st, (void)ftw;
  if (type != FTW_F) return 0;
  size_t n = strlen(path);
  if (n < 2 || (strcmp(path + n - 2, ".c") && strcmp(path + n - 2, ".h"))) return 0;
  const char *rel = path + strlen(root) + 1;
  if (!strncmp(rel, "src/rt/", 7) || !strncmp(rel, "src/http/", 9)) return 0;
  char *text, err[256];
  size_t len;
  if (vigil_file_read(path, (size_t)8 << 20, &text, &len, err, sizeof err)) {
    snprintf(bad + strlen(bad), sizeof bad - strlen(bad), "%s\n", err);
    return 0;
  }
  static const char *const http_marks[] = {"#include \"vigil/http.h\"", "#include <microhttpd.h>", "#include \"http/",
                                           "#include \"zoo/zoo_http.h\"", "#include \"web/assets.h\"", NULL};
  static const char *const json_marks[] = {"#include <jansson.h>", "json_t", "#include \"vigil/store_json.h\"",
                                           "#include \"zoo/zoo_json.h\"", NULL};
  size_t nh = sizeof http_edge / sizeof *http_edge, nj = sizeof json_only / sizeof *json_only;
  if (has_any(text, http_marks) && !listed(rel, http_edge, nh))
    snprintf(bad + strlen(bad), sizeof bad - strlen(bad), "%s: HTTP outside the edge\n", rel);
  if (has_any(text, json_marks) && !listed(rel, http_edge, nh) && !listed(rel, json_only, nj))
    snprintf(bad + strlen(bad), sizeof bad - strlen(bad), "%s: JSON outside the edge, codecs and formats\n", rel);
  free(text);
  return 0;
}

static void src_layers(void **state) {
  (void)state;
  char src[4200];
  snprintf(src, sizeof src, "%s/src", root);
  bad[0] = 0;
  assert_int_equal(nftw(src, visit, 16, FTW_PHYS), 0);
  if (bad[0]) fail_msg("docs/architecture.md's layers are broken:\n%s", bad);
}

/* The public headers (include/vigil, include/vrt) include only public headers. */
static int visit_public(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)st, (void)ftw;
  if (type != FTW_F) return 0;
  char *text, err[256];
  size_t len;
  if (vigil_file_read(path, (size_t)1 << 20, &text, &len, err, sizeof err)) return 0;
  for (const char *p = text; (p = strstr(p, "#include \"")); p++) {
    const char *h = p + 10;
    if (strncmp(h, "vigil/", 6) && strncmp(h, "vrt/", 4))
      snprintf(bad + strlen(bad), sizeof bad - strlen(bad), "%s includes a private header\n", path);
  }
  free(text);
  return 0;
}

static void public_headers(void **state) {
  (void)state;
  char inc[4200];
  snprintf(inc, sizeof inc, "%s/include", root);
  bad[0] = 0;
  assert_int_equal(nftw(inc, visit_public, 16, FTW_PHYS), 0);
  if (bad[0]) fail_msg("%s", bad);
}

int main(void) {
  const char *src = getenv("VIGIL_SOURCE_DIR");
  snprintf(root, sizeof root, "%s", src && *src ? src : ".");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(src_layers),
      cmocka_unit_test(public_headers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
