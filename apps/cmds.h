/* The subcommands of `vigil`. Each takes argv with argv[0] = its own name,
 * returns a process exit status (see EXIT_* in main.c), prints --help. */
#ifndef VIGIL_APPS_CMDS_H
#define VIGIL_APPS_CMDS_H

enum {
  VIGIL_EXIT_OK = 0,
  VIGIL_EXIT_FAIL = 1,    /* the command ran and failed */
  VIGIL_EXIT_USAGE = 2,   /* bad arguments */
  VIGIL_EXIT_NODATA = 3,  /* a model or input file is missing */
};

int cmd_serve(int argc, char **argv);   /* apps/cmd_serve.c */
int cmd_analyze(int argc, char **argv); /* apps/cmd_analyze.c */
int cmd_models(int argc, char **argv);  /* apps/cmd_models.c */
int cmd_model(int argc, char **argv);   /* apps/cmd_model.c */
int cmd_bench(int argc, char **argv);   /* apps/cmd_bench.c */

/* vrt threads of a session that serves one stream (`vigil analyze`'s
 * detector, `vigil model run`) when --threads is not given: 2, or 1 on a
 * one-CPU machine. Measured (bench/README.md, docs/configuration.md
 * Threads): with passive OpenMP waiting and the adaptive team size, 2
 * threads beat 1 with the other core free and did not lose with it busy.
 * apps/main.c */
int vigil_default_threads(void);

#endif
