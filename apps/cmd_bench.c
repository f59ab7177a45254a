/* vigil bench: runs the benchmark programs built beside the binary
 * (bench_<name>); each compares against its reference in the same run and
 * prints ratios and medians. */
#include <dirent.h>
#include <stdbool.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmds.h"

static int bench_dir(char *dir, size_t len) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return -1;
  self[n] = 0;
  snprintf(dir, len, "%s", dirname(self));
  return 0;
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int list(const char *dir, char ***names) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  *names = NULL;
  struct dirent *e;
  while ((e = readdir(d)))
    if (!strncmp(e->d_name, "bench_", 6)) {
      char **nn = realloc(*names, sizeof(char *) * (size_t)(n + 1));
      if (!nn) break;
      *names = nn;
      (*names)[n++] = strdup(e->d_name + 6);
    }
  closedir(d);
  qsort(*names, (size_t)n, sizeof(char *), cmp);
  return n;
}

int cmd_bench(int argc, char **argv) {
  char dir[PATH_MAX];
  char **names;
  if (bench_dir(dir, sizeof dir)) {
    fprintf(stderr, "vigil bench: cannot find the build folder\n");
    return VIGIL_EXIT_FAIL;
  }
  int n = list(dir, &names);
  if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--list"))) {
    printf("usage: vigil bench [NAME [ARGS...]]\n  Runs bench_NAME from %s (all of them without NAME).\n"
           "  Each prints ratios against its reference measured in the same run.\navailable:", dir);
    for (int i = 0; i < n; i++) printf(" %s", names[i]);
    printf("\n");
    return VIGIL_EXIT_OK;
  }
  if (n <= 0) {
    fprintf(stderr, "vigil bench: no bench_* programs in %s (run `make build`)\n", dir);
    return VIGIL_EXIT_NODATA;
  }
  int status = VIGIL_EXIT_OK;
  for (int i = 0; i < n; i++) {
    if (argc > 1 && strcmp(argv[1], names[i])) continue;
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/bench_%s", dir, names[i]);
    printf("== bench %s\n", names[i]);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      char **args = calloc((size_t)argc + 1, sizeof(char *));
      args[0] = path;
      for (int k = 2; k < argc; k++) args[k - 1] = argv[k];
      execv(path, args);
      _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) status = VIGIL_EXIT_FAIL;
    if (argc > 1) break;
  }
  if (argc > 1) {
    bool found = false;
    for (int i = 0; i < n; i++) found |= !strcmp(argv[1], names[i]);
    if (!found) {
      fprintf(stderr, "vigil bench: no benchmark '%s' (vigil bench --list)\n", argv[1]);
      status = VIGIL_EXIT_USAGE;
    }
  }
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
  return status;
}
