/* Command-line options as a table: one row per option drives both the
 * parsing and the --help text, so the two cannot drift apart. */
#ifndef VIGIL_APPS_OPTS_H
#define VIGIL_APPS_OPTS_H

#include <stdio.h>

typedef enum {
  OPT_SET,    /* a flag: *(bool *)dst = true */
  OPT_CLEAR,  /* a flag: *(bool *)dst = false */
  OPT_STR,    /* *(const char **)dst = the value */
  OPT_INT,    /* *(int *)dst = atoi(value) */
  OPT_DOUBLE, /* *(double *)dst = atof(value) */
  OPT_FLOAT,  /* *(float *)dst = (float)atof(value) */
  OPT_FN,     /* fn(dst, value): 0, or -1 for a bad value (a usage error) */
} app_opt_kind;

typedef struct {
  const char *name; /* "--json" */
  const char *arg;  /* the value's name in --help ("FILE"); NULL for a flag */
  app_opt_kind kind;
  void *dst;
  const char *help; /* one line; '\n' starts a continuation line */
  int (*fn)(void *dst, const char *value);
} app_opt;

typedef struct {
  const char *name;     /* "vigil analyze", the prefix of its messages */
  const char *synopsis; /* the usage line(s) and what precedes "options:" */
  void (*more)(FILE *f); /* what else precedes "options:" (a list known at run time), may be NULL */
  const char *epilog;   /* what follows the options, may be NULL */
  const app_opt *opts;
  int nopts;
  /* a non-option argument ("-" included): 0, or the exit status to end with
   * (the callback printed why); NULL: none are taken */
  int (*positional)(void *ud, const char *arg);
  void *ud;
  const char *needs; /* the positional argument that must be given ("PATH"), or NULL */
} app_cmd;

/* The .opts and .nopts of an app_cmd from an app_opt array. */
#define APP_OPT_TABLE(arr) .opts = (arr), .nopts = (int)(sizeof(arr) / sizeof *(arr))

#define APP_OPTS_HELP (-1) /* --help was printed: end with VIGIL_EXIT_OK */

/* Parses argv[first..argc-1] by the table: 0, APP_OPTS_HELP, or an exit
 * status (VIGIL_EXIT_USAGE after an unknown option, a missing value or no
 * `needs` argument, with the usage printed to stderr;
 * the positional callback's status). */
int app_opts_parse(const app_cmd *c, int first, int argc, char **argv);
void app_opts_usage(const app_cmd *c, FILE *f);

#endif
