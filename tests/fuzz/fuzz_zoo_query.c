/* libFuzzer target: the zoo's query parsing of /models/preload and
 * /models/unload (zoo_http_parse_model) without a server. The input is a
 * query string of key=value pairs; the manager manages the built-in registry
 * with a loader that is never called (parsing alone loads nothing). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zoo/zoo_http.h"

static zoo_manager *mgr;

static int no_load(void *ctx, const zoo_model_row *row, void **h, uint64_t *b, char *err, size_t errlen) {
  (void)ctx, (void)row, (void)h, (void)b, (void)err, (void)errlen;
  abort(); /* parsing must never load */
}
static void no_unload(void *ctx, const zoo_model_row *row, void *h) { (void)ctx, (void)row, (void)h; }

typedef struct {
  char *keys[16], *vals[16];
  int n;
} query;

static const char *get(void *ud, const char *name) {
  query *q = ud;
  for (int i = 0; i < q->n; i++)
    if (!strcmp(q->keys[i], name)) return q->vals[i];
  return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!mgr) {
    static zoo_registry reg;
    char err[256];
    if (zoo_registry_init_builtin(&reg, err, sizeof err)) abort();
    zoo_params p = zoo_default_params();
    p.loader = (zoo_loader){NULL, no_load, no_unload};
    if (zoo_manager_init(&mgr, &reg, p, err, sizeof err)) abort();
  }
  if (size > 4096) return 0;
  char *s = malloc(size + 1);
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = 0;
  query q = {0};
  for (char *p = s, *save = NULL, *kv; q.n < 16 && (kv = strtok_r(p, "&", &save)); p = NULL) {
    char *eq = strchr(kv, '=');
    if (!eq) continue;
    *eq = 0;
    q.keys[q.n] = kv;
    q.vals[q.n++] = eq + 1;
  }
  const char *name;
  char msg[160] = "";
  int st = zoo_http_parse_model(get, &q, mgr, &name, msg, sizeof msg);
  if (st == 0) {
    if (!name || !zoo_manager_manages(mgr, name) || strlen(name) >= ZOO_NAME_MAX) abort();
  } else if (st != 400 || name || !msg[0]) {
    abort();
  }
  if (zoo_http_parse_model(get, &q, NULL, &name, msg, sizeof msg) != 503) abort();
  free(s);
  return 0;
}
