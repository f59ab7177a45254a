/* main() of the `vigil` command: the subcommand table and dispatch. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "vrt/vrt.h"

typedef struct {
  const char *name;
  int (*fn)(int, char **);
  const char *summary;
} command;

static const command commands[] = {
    {"serve", cmd_serve, "run HTTP services: detect, enrich, enrich-light, clip, florence, all"},
    {"analyze", cmd_analyze, "run the whole pipeline on images, folders and videos"},
    {"models", cmd_models, "list registered models and their state; fetch default assets"},
    {"model", cmd_model, "runtime tools: info and run on one .onnx or TF.js model.json"},
    {"bench", cmd_bench, "benchmarks against the reference implementations"},
};

static void usage(FILE *f) {
  fprintf(f, "usage: vigil <command> [options]\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "\n'vigil <command> --help' describes each command.\n");
}

int vigil_default_threads(void) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  return cpus >= 2 ? 2 : 1;
}

int main(int argc, char **argv) {
  vrt_omp_env_reexec(argv); /* libgomp's workers spin briefly (docs/configuration.md, Threads) */
  if (argc < 2) {
    usage(stderr);
    return VIGIL_EXIT_USAGE;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return VIGIL_EXIT_OK;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "vigil: unknown command '%s' (try 'vigil --help')\n", argv[1]);
  return VIGIL_EXIT_USAGE;
}
