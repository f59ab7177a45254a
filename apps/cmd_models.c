/* vigil models: `list` prints every registered model with where its weights
 * come from and whether they are installed; `fetch` installs the default
 * assets by running tools/setup/deps.sh --assets-only from the source tree. */
#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmds.h"
#include "opts.h"
#include "vigil/config.h"
#include "vigil/zoo.h"

/* `list`'s options: one table for parsing and --help. */
static struct {
  bool json, missing;
  int service; /* -1: every service */
} list_args = {.service = -1};

static int opt_service(void *dst, const char *v) {
  zoo_service s;
  if (zoo_service_parse(v, &s)) return -1;
  *(int *)dst = (int)s;
  return 0;
}

static const app_opt list_opts[] = {
    {"--json", NULL, OPT_SET, &list_args.json, "one JSON array", NULL},
    {"--service", "SVC", OPT_FN, &list_args.service, "only the models of service SVC (core, heavy, light)",
     opt_service},
    {"--missing", NULL, OPT_SET, &list_args.missing, "only models whose weights are missing", NULL},
};

static const app_cmd list_cmd = {
    .name = "vigil models list",
    .synopsis = "usage: vigil models list [options]\n"
                "       vigil models fetch [deps.sh options]\n"
                "\n"
                "list   every model of the zoo registry (built-in table plus $VIGIL_ZOO_CONFIG):\n"
                "       service, priority, declared MB, adapter, and whether its weights are\n"
                "       installed, with the env var or path that would supply them.\n"
                "fetch  install vigil's default models and media into $VIGIL_HOME by running\n"
                "       tools/setup/deps.sh --assets-only (found via $VIGIL_SOURCE_DIR or next\n"
                "       to the binary); extra options are passed on (e.g. --check, --verify).\n"
                "\n"
                "list ",
    APP_OPT_TABLE(list_opts),
};

static void usage(FILE *f) { app_opts_usage(&list_cmd, f); }

typedef struct row_state {
  const char *state; /* "installed", "missing", "builtin" */
  char path[ZOO_PATH_MAX * 2];
  bool from_env;
} row_state;

static void state_of(const zoo_model_row *r, row_state *s) {
  memset(s, 0, sizeof *s);
  int rc = zoo_row_weights_path(r, s->path, sizeof s->path, &s->from_env);
  if (r->flags & ZOO_ROW_NO_WEIGHTS && !s->path[0]) {
    s->state = "builtin";
    return;
  }
  struct stat st;
  s->state = rc == 0 && s->path[0] && stat(s->path, &st) == 0 ? "installed" : "missing";
}

static void describe(const zoo_model_row *r, const row_state *s, char *buf, size_t len) {
  if (!strcmp(s->state, "builtin")) {
    snprintf(buf, len, "builtin (no weights file)");
  } else if (!strcmp(s->state, "installed")) {
    snprintf(buf, len, "installed: %s%s", s->path, s->from_env ? " (from $" : "");
    if (s->from_env) {
      size_t n = strlen(buf);
      snprintf(buf + n, len - n, "%s)", r->env_var);
    }
  } else if (s->from_env) {
    snprintf(buf, len, "missing: $%s points to %s, which does not exist", r->env_var, s->path);
  } else if (r->flags & ZOO_ROW_VIGIL_DEFAULT) {
    snprintf(buf, len, "missing: run `vigil models fetch` (or `make deps`), or set %s; expected %s",
             r->env_var, s->path);
  } else {
    snprintf(buf, len, "missing: set %s or place %s", r->env_var[0] ? r->env_var : "(no env var)",
             s->path);
  }
}

static int models_list(int argc, char **argv) {
  int prc = app_opts_parse(&list_cmd, 2, argc, argv);
  if (prc) return prc == APP_OPTS_HELP ? VIGIL_EXIT_OK : prc;
  bool as_json = list_args.json, only_missing = list_args.missing;
  int want_service = list_args.service;
  zoo_registry reg;
  char err[512];
  if (zoo_registry_init(&reg, err, sizeof err)) {
    fprintf(stderr, "vigil models list: %s\n", err);
    return VIGIL_EXIT_FAIL;
  }
  json_t *arr = as_json ? json_array() : NULL;
  if (!as_json)
    printf("%-31s %-6s %-9s %8s  %-18s %s\n", "NAME", "SVC", "PRIORITY", "MB", "ADAPTER", "STATE");
  int missing = 0;
  for (int i = 0; i < reg.count; i++) {
    const zoo_model_row *r = &reg.rows[i];
    if (want_service >= 0 && (int)r->service != want_service) continue;
    row_state s;
    state_of(r, &s);
    bool is_missing = !strcmp(s.state, "missing");
    missing += is_missing;
    if (only_missing && !is_missing) continue;
    char detail[ZOO_PATH_MAX * 3];
    describe(r, &s, detail, sizeof detail);
    if (as_json) {
      json_array_append_new(
          arr, json_pack("{s:s, s:s, s:s, s:f, s:s, s:b, s:b, s:s?, s:s, s:b, s:s, s:s}", "name",
                         r->name, "service", zoo_service_name(r->service), "priority",
                         zoo_priority_name(r->priority), "declared_mb", r->declared_mb, "adapter",
                         r->adapter, "always_loaded", (r->flags & ZOO_ROW_ALWAYS_LOADED) != 0,
                         "vigil_default", (r->flags & ZOO_ROW_VIGIL_DEFAULT) != 0, "env_var",
                         r->env_var[0] ? r->env_var : NULL, "path", s.path, "from_env",
                         s.from_env, "state", s.state, "detail", detail));
    } else {
      printf("%-31s %-6s %-9s %8.1f  %-18s %s\n", r->name, zoo_service_name(r->service),
             zoo_priority_name(r->priority), r->declared_mb, r->adapter, detail);
    }
  }
  if (as_json) {
    char *text = json_dumps(arr, JSON_INDENT(2));
    if (text) puts(text);
    free(text);
    json_decref(arr);
  } else {
    printf("\n%d model(s) missing weights\n", missing);
  }
  zoo_registry_free(&reg);
  return VIGIL_EXIT_OK;
}

static bool is_file(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* tools/setup/deps.sh: under $VIGIL_SOURCE_DIR, else up from the binary
 * (build/vigil -> ../tools, build/sub/vigil -> ../../tools). */
static int find_deps(char *out, size_t len) {
  const char *src = vigil_config_str(NULL, "VIGIL_SOURCE_DIR");
  if (src && *src) {
    snprintf(out, len, "%s/tools/setup/deps.sh", src);
    return is_file(out) ? 0 : -1;
  }
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return -1;
  exe[n] = 0;
  char *dir = dirname(exe);
  const char *ups[] = {"/..", "/../..", "/../../.."};
  for (size_t i = 0; i < sizeof ups / sizeof ups[0]; i++) {
    snprintf(out, len, "%s%s/tools/setup/deps.sh", dir, ups[i]);
    if (is_file(out)) return 0;
  }
  return -1;
}

static int models_fetch(int argc, char **argv) {
  char deps[PATH_MAX + 64];
  if (find_deps(deps, sizeof deps)) {
    fprintf(stderr,
            "vigil models fetch: tools/setup/deps.sh not found; set VIGIL_SOURCE_DIR to the "
            "vigil source tree (or run `make deps` there)\n");
    return VIGIL_EXIT_NODATA;
  }
  char *args[32];
  int k = 0;
  args[k++] = "bash";
  args[k++] = deps;
  args[k++] = "--assets-only";
  for (int i = 2; i < argc && k < 31; i++) args[k++] = argv[i];
  args[k] = NULL;
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "vigil models fetch: fork: %s\n", strerror(errno));
    return VIGIL_EXIT_FAIL;
  }
  if (pid == 0) {
    execvp("bash", args);
    fprintf(stderr, "vigil models fetch: cannot run bash: %s\n", strerror(errno));
    _exit(127);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return VIGIL_EXIT_OK;
  fprintf(stderr, "vigil models fetch: %s failed (status %d)\n", deps,
          WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  return VIGIL_EXIT_FAIL;
}

int cmd_models(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return VIGIL_EXIT_USAGE;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(stdout);
    return VIGIL_EXIT_OK;
  }
  for (int i = 2; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return VIGIL_EXIT_OK;
    }
  if (!strcmp(argv[1], "list")) return models_list(argc, argv);
  if (!strcmp(argv[1], "fetch")) return models_fetch(argc, argv);
  fprintf(stderr, "vigil models: unknown subcommand '%s' (list, fetch)\n", argv[1]);
  return VIGIL_EXIT_USAGE;
}
