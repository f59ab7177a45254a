/* vigil's configuration: every key the design names, with its default, in one
 * table (src/util/config_keys.def). A value comes from, in order: the environment, an
 * optional KEY=VALUE config file (VIGIL_CONFIG or --config), the default.
 *
 * Threads: a vigil_config is immutable after vigil_config_load; getters may be
 * called from any thread. The process-wide instance (vigil_config_global) is
 * set once at start-up, before threads exist. */
#ifndef VIGIL_CONFIG_H
#define VIGIL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
  VIGIL_CFG_STRING,
  VIGIL_CFG_FLOAT,
  VIGIL_CFG_INT,
  VIGIL_CFG_BOOL,
  VIGIL_CFG_LIST, /* comma-separated */
} vigil_config_type;

typedef struct {
  const char *key;  /* e.g. "YOLO26_CONFIDENCE"; a '*' stands for any upper-case word */
  vigil_config_type type;
  const char *def;  /* default as text; NULL = unset */
  double min, max;  /* inclusive range for FLOAT and INT (ignored when min > max) */
  const char *help; /* one line for docs/configuration.md */
} vigil_config_key;

typedef struct vigil_config vigil_config;

/* Status codes, defined once: X(name, code, message). */
#define VIGIL_CFG_STATUS_MAP(X)                                 \
  X(OK, 0, "ok")                                                \
  X(EINVAL, -1, "a value of the wrong type or out of range")    \
  X(EIO, -2, "the config file cannot be read")                  \
  X(ESYNTAX, -3, "a malformed line in the config file")         \
  X(ENOTFOUND, -4, "no such key, or not set")                   \
  X(ENOMEM, -5, "out of memory")

enum {
#define VIGIL_CFG_X_(name, code, msg) VIGIL_CFG_##name = code,
  VIGIL_CFG_STATUS_MAP(VIGIL_CFG_X_)
#undef VIGIL_CFG_X_
};

const char *vigil_config_strerror(int status);

/* The table of known keys. */
const vigil_config_key *vigil_config_keys(size_t *n);
/* The table row for `key` (patterns such as ENRICHMENT_*_SERVICE match), or NULL. */
const vigil_config_key *vigil_config_find(const char *key);

/* Reads a KEY=VALUE file (blank lines and '#' comments allowed, optional
 * quotes around the value, `export ` prefix tolerated). path NULL: use
 * $VIGIL_CONFIG if set, else an empty config. Unknown keys are kept and
 * logged as a warning. *out is owned by the caller (vigil_config_free). */
int vigil_config_load(vigil_config **out, const char *path, char *err, size_t errlen);
void vigil_config_free(vigil_config *cfg);

/* The process-wide config used when a getter gets cfg == NULL. set() takes
 * ownership (frees the previous one); call it before starting threads. */
void vigil_config_set_global(vigil_config *cfg);
const vigil_config *vigil_config_global(void);

/* Raw text of a key: env, then file, then default. NULL when unset everywhere.
 * The pointer stays valid while cfg lives (env strings: until setenv). */
const char *vigil_config_str(const vigil_config *cfg, const char *key);
/* Where the value came from: "env", "file", "default" or "unset". */
const char *vigil_config_source(const vigil_config *cfg, const char *key);
/* The value set by the environment or the file, NULL when only the default
 * (or nothing) applies: for keys whose unset state means "leave the caller's
 * own default" (zoo timeouts, routing overrides, per-row model paths). */
const char *vigil_config_given(const vigil_config *cfg, const char *key);

/* Typed getters: 0 and *out set on success (including the default); a
 * negative VIGIL_CFG_* with a message naming the key on a bad value.
 * An unset key with no default gives VIGIL_CFG_ENOTFOUND and leaves *out. */
int vigil_config_float(const vigil_config *cfg, const char *key, double *out, char *err, size_t errlen);
int vigil_config_int(const vigil_config *cfg, const char *key, long *out, char *err, size_t errlen);
int vigil_config_bool(const vigil_config *cfg, const char *key, bool *out, char *err, size_t errlen);
/* Splits a comma list, trimming spaces and dropping empty items. *items is a
 * malloc'ed array of malloc'ed strings: free with vigil_config_list_free. */
int vigil_config_list(const vigil_config *cfg, const char *key, char ***items, size_t *n,
                      char *err, size_t errlen);
void vigil_config_list_free(char **items, size_t n);

#endif
