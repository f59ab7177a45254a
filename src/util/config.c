/* Configuration keys in one table (config_keys.def), a KEY=VALUE file reader,
 * and typed getters with the precedence environment > file > default. */
#include "vigil/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/log.h"
#include "vigil/status.h"

/* The key table, from config_keys.def (keep docs/configuration.md in step). */
#define RANGE(lo, hi) lo, hi
#define NORANGE 1, 0 /* min > max: no range check */
static const vigil_config_key keys[] = {
#define X(key, type, def, range, help) {key, VIGIL_CFG_##type, def, range, help},
#include "config_keys.def"
#undef X
};

const char *vigil_config_strerror(int status) {
  switch (status) { VIGIL_CFG_STATUS_MAP(VIGIL_MSG_CASE_3) }
  return "unknown config error";
}

const vigil_config_key *vigil_config_keys(size_t *n) {
  *n = sizeof keys / sizeof keys[0];
  return keys;
}

/* Matches `key` against a pattern whose '*' stands for [A-Z0-9_]+. */
static bool key_match(const char *pat, const char *key) {
  const char *star = strchr(pat, '*');
  if (!star) return !strcmp(pat, key);
  size_t pre = (size_t)(star - pat), suf = strlen(star + 1), klen = strlen(key);
  if (klen < pre + suf + 1) return false;
  if (strncmp(pat, key, pre) || strcmp(key + klen - suf, star + 1)) return false;
  for (size_t i = pre; i < klen - suf; i++)
    if (!isupper((unsigned char)key[i]) && !isdigit((unsigned char)key[i]) && key[i] != '_') return false;
  return true;
}

const vigil_config_key *vigil_config_find(const char *key) {
  const vigil_config_key *pattern = NULL;
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    if (!strchr(keys[i].key, '*')) {
      if (!strcmp(keys[i].key, key)) return &keys[i];
    } else if (!pattern && key_match(keys[i].key, key)) {
      pattern = &keys[i];
    }
  }
  return pattern;
}

struct vigil_config {
  size_t n;
  char **k, **v;
};

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  char *e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
  return s;
}

static int cfg_put(vigil_config *c, const char *k, const char *v) {
  for (size_t i = 0; i < c->n; i++)
    if (!strcmp(c->k[i], k)) { /* a later line wins */
      char *nv = strdup(v);
      if (!nv) return VIGIL_CFG_ENOMEM;
      free(c->v[i]);
      c->v[i] = nv;
      return 0;
    }
  char **nk = realloc(c->k, (c->n + 1) * sizeof *nk);
  if (!nk) return VIGIL_CFG_ENOMEM;
  c->k = nk;
  char **nv = realloc(c->v, (c->n + 1) * sizeof *nv);
  if (!nv) return VIGIL_CFG_ENOMEM;
  c->v = nv;
  c->k[c->n] = strdup(k);
  c->v[c->n] = strdup(v);
  if (!c->k[c->n] || !c->v[c->n]) {
    free(c->k[c->n]);
    free(c->v[c->n]);
    return VIGIL_CFG_ENOMEM;
  }
  c->n++;
  return 0;
}

int vigil_config_load(vigil_config **out, const char *path, char *err, size_t errlen) {
  *out = NULL;
  vigil_config *c = calloc(1, sizeof *c);
  if (!c) return VIGIL_CFG_ENOMEM;
  if (!path) path = getenv("VIGIL_CONFIG");
  if (!path || !*path) {
    *out = c;
    return 0;
  }
  FILE *f = fopen(path, "r");
  if (!f) {
    vigil_err(err, errlen, -1, "config %s: %s", path, strerror(errno));
    free(c);
    return VIGIL_CFG_EIO;
  }
  char line[4096];
  int lineno = 0, rc = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    size_t len = strlen(line);
    if (len == sizeof line - 1 && line[len - 1] != '\n' && !feof(f)) {
      vigil_err(err, errlen, -1, "%s:%d: line too long", path, lineno);
      rc = VIGIL_CFG_ESYNTAX;
      break;
    }
    char *s = trim(line);
    if (!*s || *s == '#') continue;
    if (!strncmp(s, "export ", 7)) s = trim(s + 7);
    char *eq = strchr(s, '=');
    if (!eq) {
      vigil_err(err, errlen, -1, "%s:%d: expected KEY=VALUE", path, lineno);
      rc = VIGIL_CFG_ESYNTAX;
      break;
    }
    *eq = '\0';
    char *k = trim(s), *v = trim(eq + 1);
    bool ok = *k != '\0';
    for (char *p = k; *p && ok; p++)
      ok = isupper((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_';
    if (!ok) {
      vigil_err(err, errlen, -1, "%s:%d: bad key '%s' (upper case, digits, '_')", path, lineno, k);
      rc = VIGIL_CFG_ESYNTAX;
      break;
    }
    size_t vl = strlen(v);
    if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
      v[vl - 1] = '\0';
      v++;
    }
    if (!vigil_config_find(k)) vlog_warn("config %s:%d: unknown key %s (kept)", path, lineno, k);
    if ((rc = cfg_put(c, k, v))) {
      vigil_err(err, errlen, -1, "out of memory");
      break;
    }
  }
  fclose(f);
  if (rc) vigil_config_free(c);
  else *out = c;
  return rc;
}

void vigil_config_free(vigil_config *cfg) {
  if (!cfg) return;
  for (size_t i = 0; i < cfg->n; i++) {
    free(cfg->k[i]);
    free(cfg->v[i]);
  }
  free(cfg->k);
  free(cfg->v);
  free(cfg);
}

static vigil_config *global_cfg;

void vigil_config_set_global(vigil_config *cfg) {
  vigil_config_free(global_cfg);
  global_cfg = cfg;
}

const vigil_config *vigil_config_global(void) { return global_cfg; }

static const char *lookup(const vigil_config *cfg, const char *key, const char **source) {
  if (!cfg) cfg = global_cfg;
  const char *e = getenv(key);
  if (e) {
    *source = "env";
    return e;
  }
  if (cfg)
    for (size_t i = 0; i < cfg->n; i++)
      if (!strcmp(cfg->k[i], key)) {
        *source = "file";
        return cfg->v[i];
      }
  const vigil_config_key *row = vigil_config_find(key);
  if (row && row->def) {
    *source = "default";
    return row->def;
  }
  *source = "unset";
  return NULL;
}

const char *vigil_config_str(const vigil_config *cfg, const char *key) {
  const char *src;
  return lookup(cfg, key, &src);
}

const char *vigil_config_source(const vigil_config *cfg, const char *key) {
  const char *src;
  lookup(cfg, key, &src);
  return src;
}

const char *vigil_config_given(const vigil_config *cfg, const char *key) {
  const char *src, *v = lookup(cfg, key, &src);
  return !strcmp(src, "env") || !strcmp(src, "file") ? v : NULL;
}

static int range_check(const char *key, double v, char *err, size_t errlen) {
  const vigil_config_key *row = vigil_config_find(key);
  if (row && row->min <= row->max && (v < row->min || v > row->max)) {
    return vigil_err(err, errlen, VIGIL_CFG_EINVAL, "%s=%g is out of range [%g, %g]", key, v, row->min, row->max);
  }
  return 0;
}

/* The text of a key that must be set. */
static int need(const vigil_config *cfg, const char *key, const char **s, char *err, size_t errlen) {
  *s = vigil_config_str(cfg, key);
  return *s ? 0 : vigil_err(err, errlen, VIGIL_CFG_ENOTFOUND, "%s is not set", key);
}

/* A key's number: an integer into *l when l is set, else a finite float into
 * *d, within the row's range; the output is left as it was on failure. */
static int number(const vigil_config *cfg, const char *key, double *d, long *l, char *err, size_t errlen) {
  const char *s;
  int rc = need(cfg, key, &s, err, errlen);
  if (rc) return rc;
  char *end;
  long iv = 0;
  errno = 0;
  double v = l ? (double)(iv = strtol(s, &end, 10)) : strtod(s, &end);
  while (end && isspace((unsigned char)*end)) end++;
  if (end == s || *end || errno || !isfinite(v))
    return vigil_err(err, errlen, VIGIL_CFG_EINVAL, "%s='%s' is not %s", key, s, l ? "an integer" : "a number");
  if ((rc = range_check(key, v, err, errlen))) return rc;
  if (l) *l = iv;
  else *d = v;
  return 0;
}

int vigil_config_float(const vigil_config *cfg, const char *key, double *out, char *err, size_t errlen) {
  return number(cfg, key, out, NULL, err, errlen);
}

int vigil_config_int(const vigil_config *cfg, const char *key, long *out, char *err, size_t errlen) {
  return number(cfg, key, NULL, out, err, errlen);
}

int vigil_config_bool(const vigil_config *cfg, const char *key, bool *out, char *err, size_t errlen) {
  const char *s;
  int rc = need(cfg, key, &s, err, errlen);
  if (rc) return rc;
  static const char *yes[] = {"1", "true", "yes", "on"}, *no[] = {"0", "false", "no", "off"};
  for (int i = 0; i < 4; i++) {
    if (!strcasecmp(s, yes[i])) {
      *out = true;
      return 0;
    }
    if (!strcasecmp(s, no[i])) {
      *out = false;
      return 0;
    }
  }
  return vigil_err(err, errlen, VIGIL_CFG_EINVAL, "%s='%s' is not a boolean (true/false, 1/0, yes/no, on/off)", key, s);
}

void vigil_config_list_free(char **items, size_t n) {
  if (!items) return;
  for (size_t i = 0; i < n; i++) free(items[i]);
  free(items);
}

int vigil_config_list(const vigil_config *cfg, const char *key, char ***items, size_t *n,
                      char *err, size_t errlen) {
  *items = NULL;
  *n = 0;
  const char *s;
  int rc = need(cfg, key, &s, err, errlen);
  if (rc) return rc;
  char **v = NULL;
  size_t cnt = 0;
  while (*s) {
    const char *comma = strchr(s, ',');
    size_t len = comma ? (size_t)(comma - s) : strlen(s);
    const char *a = s, *b = s + len;
    while (a < b && isspace((unsigned char)*a)) a++;
    while (b > a && isspace((unsigned char)b[-1])) b--;
    if (b > a) {
      char **nv = realloc(v, (cnt + 1) * sizeof *nv);
      char *item = nv ? strndup(a, (size_t)(b - a)) : NULL;
      if (!item) {
        vigil_config_list_free(nv ? nv : v, cnt);
        return vigil_err(err, errlen, VIGIL_CFG_ENOMEM, "out of memory");
      }
      v = nv;
      v[cnt++] = item;
    }
    s += len;
    if (*s == ',') s++;
  }
  *items = v;
  *n = cnt;
  return 0;
}
