/* vigil model: runtime tools over one model file. `info` describes a model;
 * `run` executes it with given or generated inputs and prints one JSON line
 * (the contract the benchmarks rely on; see docs/vrt.md). */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "cmds.h"
#include "opts.h"
#include "util/clock.h"
#include "util/file.h"
#include "vrt/vrt.h"

static int load(const char *path, vrt_model_t **m, double *ms) {
  double t0 = vigil_mono_ms();
  int rc = vrt_model_load(m, path, vrt_load_default_params());
  if (ms) *ms = vigil_mono_ms() - t0;
  if (rc) {
    fprintf(stderr, "vigil model: %s: %s: %s\n", path, vrt_strerror(rc), vrt_last_error());
    return rc == VRT_EIO || rc == VRT_ENOTFOUND ? VIGIL_EXIT_NODATA : VIGIL_EXIT_FAIL;
  }
  return 0;
}

static void shape_str(const vrt_tensor *t, const vrt_model_t *m, int input, char *buf, size_t len) {
  size_t o = 0;
  if (t->ndim < 0) {
    snprintf(buf, len, "[?]");
    return;
  }
  o += (size_t)snprintf(buf, len, "[");
  for (int d = 0; d < t->ndim && o < len; d++) {
    const char *dn = input >= 0 ? vrt_model_input_dim_name(m, input, d) : NULL;
    if (t->dims[d] >= 0) o += (size_t)snprintf(buf + o, len - o, "%s%lld", d ? "," : "", (long long)t->dims[d]);
    else o += (size_t)snprintf(buf + o, len - o, "%s%s", d ? "," : "", dn ? dn : "?");
  }
  if (o < len) snprintf(buf + o, len - o, "]");
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char **)a, *(const char **)b); }

static int model_info(int argc, char **argv) {
  if (argc != 2 || !strcmp(argv[1], "--help")) {
    printf("usage: vigil model info PATH\n  Print inputs, outputs, op histogram, parameter count and bytes.\n");
    return argc == 2 ? VIGIL_EXIT_OK : VIGIL_EXIT_USAGE;
  }
  vrt_model_t *m;
  double ms;
  int rc = load(argv[1], &m, &ms);
  if (rc) return rc;
  char buf[256];
  printf("model: %s (loaded in %.1f ms)\n", argv[1], ms);
  printf("inputs:\n");
  for (int i = 0; i < vrt_model_num_inputs(m); i++) {
    const vrt_tensor *t = vrt_model_input(m, i);
    shape_str(t, m, i, buf, sizeof buf);
    printf("  %-32s %-8s %s\n", t->name, vrt_dtype_name(t->dtype), buf);
  }
  printf("outputs:\n");
  for (int i = 0; i < vrt_model_num_outputs(m); i++) {
    const vrt_tensor *t = vrt_model_output(m, i);
    shape_str(t, m, -1, buf, sizeof buf);
    printf("  %-32s %-8s %s\n", t->name, vrt_dtype_name(t->dtype), buf);
  }
  int nn = vrt_model_num_nodes(m);
  const char **ops = malloc(sizeof(char *) * (size_t)(nn + 1));
  for (int i = 0; i < nn; i++) ops[i] = vrt_model_node_op(m, i);
  qsort(ops, (size_t)nn, sizeof *ops, cmp_str);
  printf("ops (%d nodes):\n", nn);
  for (int i = 0; i < nn;) {
    int j = i;
    while (j < nn && !strcmp(ops[j], ops[i])) j++;
    printf("  %-24s %d\n", ops[i], j - i);
    i = j;
  }
  free(ops);
  printf("parameters: %lld\nweight bytes: %zu\n", (long long)vrt_model_param_count(m), vrt_model_weight_bytes(m));
  vrt_model_free(m);
  return VIGIL_EXIT_OK;
}

typedef struct {
  const char *name;
  const char *val;
} kv;

static bool parse_kv(const char *arg, kv *out) {
  const char *eq = strrchr(arg, '=');
  if (!eq || eq == arg) return false;
  char *name = strndup(arg, (size_t)(eq - arg));
  out->name = name;
  out->val = eq + 1;
  return true;
}

static int parse_shape(const char *s, int64_t *dims, int *ndim) {
  int n = 0;
  while (*s) {
    if (n == VRT_MAX_DIMS) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || v < 0 || errno) return -1;
    dims[n++] = v;
    s = end;
    if (*s == 'x' || *s == ',') s++;
    else if (*s) return -1;
  }
  *ndim = n;
  return 0;
}

/* A fixed pseudo-random pattern: the same bytes on every machine. */
static void fill_pattern(vrt_tensor *t) {
  uint64_t x = 0x9E3779B97F4A7C15ull;
  int64_t n = vrt_tensor_numel(t);
  for (int64_t i = 0; i < n; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    uint32_t r = (uint32_t)(x >> 32);
    switch (t->dtype) {
      case VRT_F32: ((float *)t->data)[i] = (float)(r >> 8) / 16777216.0f; break;
      case VRT_F64: ((double *)t->data)[i] = (double)(r >> 8) / 16777216.0; break;
      case VRT_I32: ((int32_t *)t->data)[i] = (int32_t)(r % 256); break;
      case VRT_I64: ((int64_t *)t->data)[i] = (int64_t)(r % 10); break;
      case VRT_U8: ((uint8_t *)t->data)[i] = (uint8_t)r; break;
      case VRT_I8: ((int8_t *)t->data)[i] = (int8_t)r; break;
      case VRT_BOOL: ((uint8_t *)t->data)[i] = (uint8_t)(r & 1); break;
      default: memset((char *)t->data + (size_t)i * vrt_dtype_size(t->dtype), 0, vrt_dtype_size(t->dtype));
    }
  }
}

/* A raw input tensor file (errno says why on failure). */
static void *read_file(const char *path, size_t *len) {
  char *b;
  return vigil_file_read(path, (size_t)1 << 40, &b, len, NULL, 0) ? NULL : b;
}

static int write_output(const char *dir, const vrt_tensor *t) {
  char name[512];
  size_t n = 0;
  for (const char *p = t->name; *p && n < sizeof name - 5; p++) {
    char c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.';
    name[n++] = ok ? c : '_';
  }
  name[n] = 0;
  char path[1024];
  snprintf(path, sizeof path, "%s/%s.bin", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t w = fwrite(t->data, 1, t->nbytes, f);
  int rc = fclose(f);
  return w == t->nbytes && rc == 0 ? 0 : -1;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* ---- run: parse ----------------------------------------------------------------------- */

typedef struct {
  const char *path, *outdir;
  kv inputs[32], shapes[32];
  int ninputs, nshapes, threads, runs, warmup;
} run_args;

static int add_kv(kv *list, int *n, const char *v) {
  if (*n >= 32 || !parse_kv(v, &list[*n])) return -1;
  (*n)++;
  return 0;
}

static int opt_input(void *dst, const char *v) {
  run_args *a = dst;
  return add_kv(a->inputs, &a->ninputs, v);
}

static int opt_shape(void *dst, const char *v) {
  run_args *a = dst;
  return add_kv(a->shapes, &a->nshapes, v);
}

static int run_path(void *ud, const char *arg) {
  run_args *a = ud;
  if (a->path || arg[0] == '-') return -1;
  a->path = arg;
  return 0;
}

static void run_args_free(run_args *a) {
  for (int k = 0; k < a->ninputs; k++) free((char *)a->inputs[k].name);
  for (int k = 0; k < a->nshapes; k++) free((char *)a->shapes[k].name);
}

static int run_parse(run_args *a, int argc, char **argv) {
  const app_opt opts[] = {
      {"--input", "NAME=FILE", OPT_FN, a, "FILE holds the input's raw little-endian values (repeatable, 32)",
       opt_input},
      {"--shape", "NAME=DIMS", OPT_FN, a, "the shape of an input with dynamic dimensions, e.g. 1x3x640x640",
       opt_shape},
      {"--threads", "N", OPT_INT, &a->threads,
       "vrt threads of the session (2; 1 on one CPU); N > 1 is at most N: each run on 1 thread\n"
       "or N, whichever its recent runs measured faster (VRT_ADAPTIVE_THREADS=0:\n"
       "always exactly N)", NULL},
      {"--runs", "N", OPT_INT, &a->runs, "timed runs (1)", NULL},
      {"--warmup", "N", OPT_INT, &a->warmup, "untimed runs after the first (0)", NULL},
      {"--out", "DIR", OPT_STR, &a->outdir, "write DIR/<output name>.bin per output", NULL},
  };
  const app_cmd cmd = {
      .name = "vigil model run",
      .synopsis = "usage: vigil model run PATH [options]\n"
                  "  PATH is an .onnx file or a TF.js model.json. Inputs without --input get a fixed\n"
                  "  pseudo-random pattern. Dynamic dimensions need --shape (a leading batch dimension\n"
                  "  defaults to 1). Prints one JSON line (runs_on_all_threads: timed runs that used\n"
                  "  all --threads, the others ran on one).\n",
      APP_OPT_TABLE(opts),
      .positional = run_path,
      .ud = a,
      .needs = "PATH",
  };
  int rc = app_opts_parse(&cmd, 1, argc, argv);
  if (rc) return rc;
  if (a->threads < 1 || a->threads > 256 || a->runs < 1 || a->runs > 100000 || a->warmup < 0) {
    app_opts_usage(&cmd, stderr);
    return VIGIL_EXIT_USAGE;
  }
  return 0;
}

/* ---- run: build the inputs ------------------------------------------------------------ */

/* Input i as declared, with --shape applied and --input's file or the
 * pattern as its values: 0 or an exit status. */
static int build_input(vrt_tensor *t, const vrt_tensor *decl, const run_args *a) {
  t->name = decl->name;
  t->dtype = decl->dtype;
  t->ndim = decl->ndim;
  memcpy(t->dims, decl->dims, sizeof t->dims);
  for (int k = 0; k < a->nshapes; k++)
    if (!strcmp(a->shapes[k].name, decl->name) && parse_shape(a->shapes[k].val, t->dims, &t->ndim)) {
      fprintf(stderr, "vigil model run: bad --shape '%s'\n", a->shapes[k].val);
      return VIGIL_EXIT_USAGE;
    }
  for (int d = 0; d < t->ndim; d++) {
    if (t->dims[d] >= 0) continue;
    if (d == 0) {
      t->dims[d] = 1;
      continue;
    }
    fprintf(stderr, "vigil model run: input '%s' has dynamic dimension %d; pass --shape %s=...\n", decl->name, d,
            decl->name);
    return VIGIL_EXIT_USAGE;
  }
  int64_t ne = vrt_tensor_numel(t);
  if (ne < 0 || ne > ((int64_t)1 << 31)) {
    fprintf(stderr, "vigil model run: input '%s' is too large\n", decl->name);
    return VIGIL_EXIT_USAGE;
  }
  size_t bytes = (size_t)ne * vrt_dtype_size(t->dtype);
  const char *file = NULL;
  for (int k = 0; k < a->ninputs; k++)
    if (!strcmp(a->inputs[k].name, decl->name)) file = a->inputs[k].val;
  if (file) {
    size_t len;
    t->data = read_file(file, &len);
    if (!t->data) {
      fprintf(stderr, "vigil model run: cannot read '%s': %s\n", file, strerror(errno));
      return VIGIL_EXIT_NODATA;
    }
    if (len != bytes) {
      fprintf(stderr, "vigil model run: '%s' has %zu bytes, input '%s' needs %zu\n", file, len, decl->name, bytes);
      return VIGIL_EXIT_USAGE;
    }
  } else {
    t->data = malloc(bytes ? bytes : 1);
    if (!t->data) {
      fprintf(stderr, "vigil model run: out of memory\n");
      return VIGIL_EXIT_FAIL;
    }
    fill_pattern(t);
  }
  t->nbytes = bytes;
  return 0;
}

static int build_inputs(vrt_tensor *in, const vrt_model_t *m, const run_args *a) {
  int nin = vrt_model_num_inputs(m);
  for (int i = 0; i < nin; i++) {
    int rc = build_input(&in[i], vrt_model_input(m, i), a);
    if (rc) return rc;
  }
  for (int k = 0; k < a->ninputs; k++) {
    bool found = false;
    for (int i = 0; i < nin; i++) found |= !strcmp(a->inputs[k].name, in[i].name);
    if (!found) {
      fprintf(stderr, "vigil model run: model has no input '%s'\n", a->inputs[k].name);
      return VIGIL_EXIT_USAGE;
    }
  }
  return 0;
}

/* ---- run: run and report ---------------------------------------------------------------- */

static void print_run(vrt_session_t *s, const run_args *a, double load_ms, double first, const double *times,
                      int on_all, const vrt_tensor *outs, int nout) {
  int runs = a->runs;
  vrt_memory_info mi;
  vrt_session_memory(s, &mi);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  json_t *o = json_object();
  json_object_set_new(o, "load_ms", json_real(load_ms));
  json_object_set_new(o, "first_run_ms", json_real(first));
  json_object_set_new(o, "median_ms", json_real(runs % 2 ? times[runs / 2] : (times[runs / 2 - 1] + times[runs / 2]) / 2));
  json_object_set_new(o, "min_ms", json_real(times[0]));
  json_object_set_new(o, "runs", json_integer(runs));
  json_object_set_new(o, "threads", json_integer(a->threads));
  json_object_set_new(o, "runs_on_all_threads", json_integer(on_all));
  json_object_set_new(o, "peak_rss_mb", json_real(ru.ru_maxrss / 1024.0));
  json_object_set_new(o, "weights_bytes", json_integer((json_int_t)mi.weight_bytes));
  json_object_set_new(o, "arena_bytes", json_integer((json_int_t)mi.arena_bytes));
  json_object_set_new(o, "view_nodes", json_integer((json_int_t)mi.view_nodes));
  json_t *arr = json_array();
  for (int i = 0; i < nout; i++) {
    json_t *oj = json_object(), *sh = json_array();
    json_object_set_new(oj, "name", json_string(outs[i].name));
    json_object_set_new(oj, "dtype", json_string(vrt_dtype_name(outs[i].dtype)));
    for (int d = 0; d < outs[i].ndim; d++) json_array_append_new(sh, json_integer(outs[i].dims[d]));
    json_object_set_new(oj, "shape", sh);
    json_array_append_new(arr, oj);
  }
  json_object_set_new(o, "outputs", arr);
  char *txt = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
  printf("%s\n", txt);
  free(txt);
  json_decref(o);
}

/* The first run, --warmup runs, then --runs timed ones; the outputs are
 * written to --out and the JSON line printed. */
static int run_session(vrt_model_t *m, const vrt_tensor *in, int nin, const run_args *a, double load_ms) {
  vrt_session_params sp = vrt_session_default_params();
  sp.threads = a->threads;
  vrt_session_t *s;
  if (vrt_session_create(&s, m, sp)) {
    fprintf(stderr, "vigil model run: %s\n", vrt_last_error());
    return VIGIL_EXIT_FAIL;
  }
  const vrt_tensor *outs = NULL;
  int nout = 0, rc = 0, on_all = 0;
  double first = 0, *times = calloc((size_t)a->runs, sizeof(double));
  if (!times) rc = -1, fprintf(stderr, "vigil model run: out of memory\n");
  for (int r = 0; !rc && r < 1 + a->warmup + a->runs; r++) {
    double t0 = vigil_mono_ms();
    rc = vrt_session_run(s, in, nin, &outs, &nout);
    double dt = vigil_mono_ms() - t0;
    if (rc) {
      fprintf(stderr, "vigil model run: %s: %s\n", vrt_strerror(rc), vrt_last_error());
      break;
    }
    if (r == 0) first = dt;
    else if (r > a->warmup) {
      times[r - 1 - a->warmup] = dt;
      on_all += vrt_session_threads_used(s) == a->threads;
    }
  }
  if (!rc) {
    qsort(times, (size_t)a->runs, sizeof(double), cmp_double);
    if (a->outdir) {
      mkdir(a->outdir, 0777);
      for (int i = 0; i < nout; i++)
        if (write_output(a->outdir, &outs[i])) {
          fprintf(stderr, "vigil model run: cannot write output '%s' to %s\n", outs[i].name, a->outdir);
          rc = -1;
        }
    }
  }
  if (!rc) print_run(s, a, load_ms, first, times, on_all, outs, nout);
  free(times);
  vrt_session_free(s);
  return rc ? VIGIL_EXIT_FAIL : VIGIL_EXIT_OK;
}

static int model_run(int argc, char **argv) {
  run_args a = {.threads = vigil_default_threads(), .runs = 1};
  int status = run_parse(&a, argc, argv);
  if (status) {
    run_args_free(&a);
    return status == APP_OPTS_HELP ? VIGIL_EXIT_OK : status;
  }
  vrt_model_t *m;
  double load_ms;
  status = load(a.path, &m, &load_ms);
  if (status) {
    run_args_free(&a);
    return status;
  }
  int nin = vrt_model_num_inputs(m);
  vrt_tensor *in = calloc((size_t)nin + 1, sizeof *in);
  status = !in ? VIGIL_EXIT_FAIL : build_inputs(in, m, &a);
  if (!status) status = run_session(m, in, nin, &a, load_ms);
  for (int i = 0; in && i < nin; i++) free(in[i].data);
  free(in);
  run_args_free(&a);
  vrt_model_free(m);
  return status;
}

int cmd_model(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    printf("usage: vigil model info PATH\n       vigil model run PATH [options]   (vigil model run --help)\n");
    return argc < 2 ? VIGIL_EXIT_USAGE : VIGIL_EXIT_OK;
  }
  if (!strcmp(argv[1], "info")) return model_info(argc - 1, argv + 1);
  if (!strcmp(argv[1], "run")) return model_run(argc - 1, argv + 1);
  fprintf(stderr, "vigil model: unknown subcommand '%s'\n", argv[1]);
  return VIGIL_EXIT_USAGE;
}
