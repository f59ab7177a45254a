/* The model registry: one compiled-in table of every model vigil knows, the
 * config-file format that adds or overrides rows, and weights-path lookup. */
#include "vigil/zoo.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vigil/status.h"

#include "util/assets.h"
#include "vigil/config.h"

#define GB(x) ((x) * 1024.0)

enum { /* the flags of registry_rows.def */
  AL = ZOO_ROW_ALWAYS_LOADED,
  VD = ZOO_ROW_VIGIL_DEFAULT | ZOO_ROW_HOME_RELATIVE,
  HR = ZOO_ROW_HOME_RELATIVE,
  NW = ZOO_ROW_NO_WEIGHTS,
};

/* The compiled-in table, from registry_rows.def (docs/zoo.md describes it). */
static const zoo_model_row builtin_rows[] = {
#define X(name, mb, prio, svc, flags, adapter, env, path) \
  {name, mb, ZOO_##prio, ZOO_SVC_##svc, flags, adapter, env, path},
#include "registry_rows.def"
#undef X
};

const char *zoo_strerror(int status) {
  switch (status) {
#define ZOO_X_(name, code, msg, http) \
  case code:                          \
    return msg;
    ZOO_STATUS_MAP(ZOO_X_)
#undef ZOO_X_
  }
  return "unknown zoo status";
}

int zoo_http_status(int status) {
  switch (status) {
#define ZOO_X_(name, code, msg, http) \
  case code:                          \
    return http;
    ZOO_STATUS_MAP(ZOO_X_)
#undef ZOO_X_
  }
  return 500;
}

static const char *const priority_names[] = {"CRITICAL", "HIGH", "MEDIUM", "LOW"};
static const char *const service_names[] = {"core", "heavy", "light"};

const char *zoo_priority_name(zoo_priority p) {
  return (unsigned)p < 4 ? priority_names[p] : "?";
}
const char *zoo_service_name(zoo_service s) {
  return (unsigned)s < 3 ? service_names[s] : "?";
}

int zoo_priority_parse(const char *s, zoo_priority *out) {
  for (int i = 0; i < 4; i++)
    if (!strcasecmp(s, priority_names[i])) {
      *out = (zoo_priority)i;
      return 0;
    }
  return ZOO_EINVAL;
}

int zoo_service_parse(const char *s, zoo_service *out) {
  for (int i = 0; i < 3; i++)
    if (!strcasecmp(s, service_names[i])) {
      *out = (zoo_service)i;
      return 0;
    }
  return ZOO_EINVAL;
}

int zoo_budget_parse_gb(const char *s, double *out_mb, char *err, size_t errlen) {
  if (!s || !*s) return vigil_err(err, errlen, ZOO_EINVAL, "VRAM_BUDGET_GB is empty");
  char *end = NULL;
  errno = 0;
  double gb = strtod(s, &end);
  while (end && isspace((unsigned char)*end)) end++;
  if (end == s || (end && *end) || errno == ERANGE)
    return vigil_err(err, errlen, ZOO_EINVAL, "VRAM_BUDGET_GB '%s' is not a number", s);
  if (isnan(gb) || isinf(gb))
    return vigil_err(err, errlen, ZOO_EINVAL, "VRAM_BUDGET_GB '%s' is not finite", s);
  if (gb < 0) return vigil_err(err, errlen, ZOO_EINVAL, "VRAM_BUDGET_GB %g is negative", gb);
  if (gb > ZOO_BUDGET_MAX_GB)
    return vigil_err(err, errlen, ZOO_EINVAL, "VRAM_BUDGET_GB %g is absurd (max %g)", gb,
                  ZOO_BUDGET_MAX_GB);
  *out_mb = gb * 1024.0;
  return 0;
}

/* ---- registry table ------------------------------------------------------ */

static int reg_reserve(zoo_registry *r, int n) {
  if (n <= r->cap) return 0;
  int cap = r->cap ? r->cap : 16;
  while (cap < n) cap *= 2;
  zoo_model_row *rows = realloc(r->rows, (size_t)cap * sizeof *rows);
  if (!rows) return ZOO_ENOMEM;
  r->rows = rows;
  r->cap = cap;
  return 0;
}

int zoo_registry_init_builtin(zoo_registry *r, char *err, size_t errlen) {
  memset(r, 0, sizeof *r);
  int n = (int)(sizeof builtin_rows / sizeof builtin_rows[0]);
  if (reg_reserve(r, n)) return vigil_err(err, errlen, ZOO_ENOMEM, "out of memory");
  memcpy(r->rows, builtin_rows, sizeof builtin_rows);
  r->count = n;
  return 0;
}

int zoo_registry_init(zoo_registry *r, char *err, size_t errlen) {
  int rc = zoo_registry_init_builtin(r, err, errlen);
  if (rc) return rc;
  const char *cfg = vigil_config_given(NULL, "VIGIL_ZOO_CONFIG");
  if (cfg && *cfg && (rc = zoo_registry_load_config(r, cfg, err, errlen))) zoo_registry_free(r);
  return rc;
}

void zoo_registry_free(zoo_registry *r) {
  if (!r) return;
  free(r->rows);
  memset(r, 0, sizeof *r);
}

static zoo_model_row *reg_find(zoo_model_row *rows, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(rows[i].name, name)) return &rows[i];
  return NULL;
}

const zoo_model_row *zoo_registry_find(const zoo_registry *r, const char *name) {
  if (!r || !name) return NULL;
  return reg_find(r->rows, r->count, name);
}

/* ---- config file -----------------------------------------------------------
 * One row per line: NAME key=value key=value ...  ('#' starts a comment).
 * Keys: declared_mb, priority, service, adapter, env, path, always_loaded,
 * home_relative, no_weights. A known NAME overrides the given keys; a new
 * NAME adds a row and must give declared_mb. */

static bool valid_name(const char *s) {
  if (!*s || strlen(s) >= ZOO_NAME_MAX) return false;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.') return false;
  return true;
}

static int set_str(char *dst, size_t cap, const char *v, int lineno, const char *key, char *err,
                   size_t errlen) {
  if (strlen(v) >= cap)
    return vigil_err(err, errlen, ZOO_ECONFIG, "zoo config line %d: %s is too long", lineno, key);
  strcpy(dst, v);
  return 0;
}

static int set_flag(zoo_model_row *row, unsigned flag, const char *v, int lineno, char *err,
                    size_t errlen) {
  if (!strcmp(v, "1") || !strcmp(v, "true")) row->flags |= flag;
  else if (!strcmp(v, "0") || !strcmp(v, "false")) row->flags &= ~flag;
  else return vigil_err(err, errlen, ZOO_ECONFIG, "zoo config line %d: '%s' is not 0/1", lineno, v);
  return 0;
}

static int apply_kv(zoo_model_row *row, char *kv, int lineno, bool *has_mb, char *err,
                    size_t errlen) {
  char *eq = strchr(kv, '=');
  if (!eq || eq == kv)
    return vigil_err(err, errlen, ZOO_ECONFIG, "zoo config line %d: expected key=value, got '%s'",
                  lineno, kv);
  *eq = 0;
  const char *k = kv, *v = eq + 1;
  if (!strcmp(k, "declared_mb")) {
    char *end;
    errno = 0;
    double mb = strtod(v, &end);
    if (end == v || *end || errno || isnan(mb) || mb < 0 || mb > ZOO_BUDGET_MAX_GB * 1024)
      return vigil_err(err, errlen, ZOO_ECONFIG, "zoo config line %d: bad declared_mb '%s'", lineno,
                    v);
    row->declared_mb = mb;
    *has_mb = true;
    return 0;
  }
  if (!strcmp(k, "priority")) {
    if (zoo_priority_parse(v, &row->priority))
      return vigil_err(err, errlen, ZOO_ECONFIG,
                    "zoo config line %d: priority '%s' is not CRITICAL/HIGH/MEDIUM/LOW", lineno, v);
    return 0;
  }
  if (!strcmp(k, "service")) {
    if (zoo_service_parse(v, &row->service))
      return vigil_err(err, errlen, ZOO_ECONFIG,
                    "zoo config line %d: service '%s' is not core/heavy/light", lineno, v);
    return 0;
  }
  if (!strcmp(k, "adapter")) return set_str(row->adapter, sizeof row->adapter, v, lineno, k, err, errlen);
  if (!strcmp(k, "env")) return set_str(row->env_var, sizeof row->env_var, v, lineno, k, err, errlen);
  if (!strcmp(k, "path"))
    return set_str(row->default_path, sizeof row->default_path, v, lineno, k, err, errlen);
  if (!strcmp(k, "always_loaded")) return set_flag(row, ZOO_ROW_ALWAYS_LOADED, v, lineno, err, errlen);
  if (!strcmp(k, "home_relative")) return set_flag(row, ZOO_ROW_HOME_RELATIVE, v, lineno, err, errlen);
  if (!strcmp(k, "no_weights")) return set_flag(row, ZOO_ROW_NO_WEIGHTS, v, lineno, err, errlen);
  return vigil_err(err, errlen, ZOO_ECONFIG, "zoo config line %d: unknown key '%s'", lineno, k);
}

int zoo_registry_load_config_text(zoo_registry *r, const char *text, char *err, size_t errlen) {
  /* Work on a copy so that a bad line leaves the registry untouched. */
  zoo_registry tmp = {0};
  if (reg_reserve(&tmp, r->count + 8)) return vigil_err(err, errlen, ZOO_ENOMEM, "out of memory");
  if (r->count) memcpy(tmp.rows, r->rows, (size_t)r->count * sizeof *r->rows);
  tmp.count = r->count;
  char *buf = strdup(text);
  if (!buf) {
    zoo_registry_free(&tmp);
    return vigil_err(err, errlen, ZOO_ENOMEM, "out of memory");
  }
  int rc = 0, lineno = 0;
  char *save = NULL;
  for (char *line = buf; line && !rc; line = save) {
    save = strchr(line, '\n');
    if (save) *save++ = 0;
    lineno++;
    char *hash = strchr(line, '#');
    if (hash) *hash = 0;
    char *tok_save = NULL;
    char *name = strtok_r(line, " \t\r", &tok_save);
    if (!name) continue;
    if (!valid_name(name)) {
      rc = vigil_err(err, errlen, ZOO_ECONFIG, "zoo config line %d: bad model name '%s'", lineno, name);
      break;
    }
    zoo_model_row *row = reg_find(tmp.rows, tmp.count, name);
    bool is_new = row == NULL;
    zoo_model_row fresh = {0};
    if (is_new) {
      snprintf(fresh.name, sizeof fresh.name, "%s", name);
      fresh.priority = ZOO_MEDIUM;
      fresh.service = ZOO_SVC_HEAVY;
      row = &fresh;
    }
    zoo_model_row edit = *row;
    bool has_mb = false;
    for (char *kv; !rc && (kv = strtok_r(NULL, " \t\r", &tok_save));)
      rc = apply_kv(&edit, kv, lineno, &has_mb, err, errlen);
    if (rc) break;
    if (is_new && !has_mb) {
      rc = vigil_err(err, errlen, ZOO_ECONFIG, "zoo config line %d: new model '%s' needs declared_mb",
                  lineno, name);
      break;
    }
    if (is_new) {
      if (reg_reserve(&tmp, tmp.count + 1)) {
        rc = vigil_err(err, errlen, ZOO_ENOMEM, "out of memory");
        break;
      }
      tmp.rows[tmp.count++] = edit;
    } else {
      *row = edit;
    }
  }
  free(buf);
  if (rc) {
    zoo_registry_free(&tmp);
    return rc;
  }
  free(r->rows);
  *r = tmp;
  return 0;
}

int zoo_registry_load_config(zoo_registry *r, const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) return vigil_err(err, errlen, ZOO_ECONFIG, "zoo config %s: %s", path, strerror(errno));
  char *text = NULL;
  size_t len = 0, cap = 0;
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (len + n + 1 > (size_t)1 << 20) {
      fclose(f);
      free(text);
      return vigil_err(err, errlen, ZOO_ECONFIG, "zoo config %s: larger than 1 MiB", path);
    }
    if (len + n + 1 > cap) {
      cap = (len + n + 1) * 2;
      char *t = realloc(text, cap);
      if (!t) {
        fclose(f);
        free(text);
        return vigil_err(err, errlen, ZOO_ENOMEM, "out of memory");
      }
      text = t;
    }
    memcpy(text + len, chunk, n);
    len += n;
  }
  fclose(f);
  if (!text) return 0; /* empty file */
  text[len] = 0;
  int rc = zoo_registry_load_config_text(r, text, err, errlen);
  if (rc && err && errlen) {
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s: %s", path, err);
    vigil_err(err, errlen, -1, "%s", tmp);
  }
  free(text);
  return rc;
}

/* ---- weights path ---------------------------------------------------------- */

static int zoo_asset_path(char *buf, size_t len, const char *rel) {
  return vigil_asset_path(buf, len, rel) < 0 ? -1 : 0;
}

int zoo_row_weights_path(const zoo_model_row *row, char *buf, size_t len, bool *from_env) {
  if (from_env) *from_env = false;
  if (!len) return ZOO_EINVAL;
  buf[0] = 0;
  if (row->env_var[0]) {
    const char *v = vigil_config_given(NULL, row->env_var);
    if (v && *v) {
      if (from_env) *from_env = true;
      if ((size_t)snprintf(buf, len, "%s", v) >= len) return ZOO_EINVAL;
      return 0;
    }
  }
  if (!row->default_path[0]) return row->flags & ZOO_ROW_NO_WEIGHTS ? 0 : ZOO_ENOTFOUND;
  if (row->flags & ZOO_ROW_HOME_RELATIVE && row->default_path[0] != '/')
    return zoo_asset_path(buf, len, row->default_path) ? ZOO_EINVAL : 0;
  if ((size_t)snprintf(buf, len, "%s", row->default_path) >= len) return ZOO_EINVAL;
  return 0;
}

bool zoo_row_installed(const zoo_model_row *row) {
  if (row->flags & ZOO_ROW_NO_WEIGHTS) return true;
  char path[ZOO_PATH_MAX * 2];
  if (zoo_row_weights_path(row, path, sizeof path, NULL)) return false;
  struct stat st;
  return path[0] && stat(path, &st) == 0;
}
