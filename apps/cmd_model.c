/* vigil model: not implemented yet. */
#include <stdio.h>
#include <string.h>

#include "cmds.h"

int cmd_model(int argc, char **argv) {
  if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    printf("usage: vigil model (not implemented yet)\n");
    return VIGIL_EXIT_OK;
  }
  fprintf(stderr, "vigil model: not implemented yet\n");
  return VIGIL_EXIT_FAIL;
}
