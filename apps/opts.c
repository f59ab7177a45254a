/* The option tables of the commands (apps/opts.h): parsing and --help from
 * the same rows. */
#include "opts.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"

void app_opts_usage(const app_cmd *c, FILE *f) {
  fputs(c->synopsis, f);
  if (c->more) c->more(f);
  if (c->nopts) fputs("options:\n", f);
  for (int i = 0; i < c->nopts; i++) {
    const app_opt *o = &c->opts[i];
    char left[64];
    snprintf(left, sizeof left, "%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
    fprintf(f, "  %-19s ", left);
    for (const char *p = o->help; *p; p++) {
      fputc(*p, f);
      if (*p == '\n') fprintf(f, "  %-19s ", "");
    }
    fputc('\n', f);
  }
  if (c->epilog) fputs(c->epilog, f);
}

static const app_opt *find(const app_cmd *c, const char *name) {
  for (int i = 0; i < c->nopts; i++)
    if (!strcmp(c->opts[i].name, name)) return &c->opts[i];
  return NULL;
}

static int usage_error(const app_cmd *c) {
  app_opts_usage(c, stderr);
  return VIGIL_EXIT_USAGE;
}

int app_opts_parse(const app_cmd *c, int first, int argc, char **argv) {
  int npos = 0;
  for (int i = first; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      app_opts_usage(c, stdout);
      return APP_OPTS_HELP;
    }
    if (a[0] != '-' || !strcmp(a, "-")) {
      int rc = c->positional ? c->positional(c->ud, a) : -1;
      if (rc < 0) fprintf(stderr, "%s: unexpected argument '%s'\n", c->name, a);
      if (rc) return rc < 0 ? usage_error(c) : rc;
      npos++;
      continue;
    }
    const app_opt *o = find(c, a);
    if (!o) {
      fprintf(stderr, "%s: unknown option '%s'\n", c->name, a);
      return usage_error(c);
    }
    if (o->kind == OPT_SET || o->kind == OPT_CLEAR) {
      *(bool *)o->dst = o->kind == OPT_SET;
      continue;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "%s: %s needs a value (%s)\n", c->name, a, o->arg);
      return usage_error(c);
    }
    const char *v = argv[++i];
    switch (o->kind) {
    case OPT_STR: *(const char **)o->dst = v; break;
    case OPT_INT: *(int *)o->dst = atoi(v); break;
    case OPT_DOUBLE: *(double *)o->dst = atof(v); break;
    case OPT_FLOAT: *(float *)o->dst = (float)atof(v); break;
    case OPT_FN:
      if (o->fn(o->dst, v)) {
        fprintf(stderr, "%s: %s %s: not a valid %s\n", c->name, a, v, o->arg);
        return usage_error(c);
      }
      break;
    default: break;
    }
  }
  if (c->needs && !npos) {
    fprintf(stderr, "%s: no %s given\n", c->name, c->needs);
    return usage_error(c);
  }
  return 0;
}
