/* vigil models: not implemented yet. */
#include <stdio.h>
#include <string.h>

#include "cmds.h"

int cmd_models(int argc, char **argv) {
  if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    printf("usage: vigil models (not implemented yet)\n");
    return VIGIL_EXIT_OK;
  }
  fprintf(stderr, "vigil models: not implemented yet\n");
  return VIGIL_EXIT_FAIL;
}
