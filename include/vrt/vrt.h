/* vrt: vigil's inference runtime. Loads ONNX models and TensorFlow.js graph
 * models into one IR and runs them on the CPU.
 *
 * Ownership and threads, for every function below:
 *   - A vrt_model_t is immutable once loaded. Any number of threads may use one
 *     model at once (introspection, creating sessions). It must outlive every
 *     session created from it.
 *   - A vrt_session_t holds the per-run state (arena, plans cached per input
 *     shape). It belongs to one thread at a time; create one per worker.
 *   - Fallible calls return 0 or a negative vrt_status. The readable message of
 *     the last failure on the calling thread is vrt_last_error().
 *   - Strings and tensors returned by introspection are owned by the model;
 *     outputs of vrt_session_run are owned by the session and stay valid until
 *     the next run on that session or its free.
 */
#ifndef VRT_VRT_H
#define VRT_VRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes, defined once; vrt_strerror() is generated from the same list. */
#define VRT_STATUS_MAP(X)                                              \
  X(OK, 0, "ok")                                                       \
  X(EINVAL, -1, "invalid argument")                                    \
  X(ENOMEM, -2, "out of memory")                                       \
  X(EIO, -3, "i/o error")                                              \
  X(EPARSE, -4, "malformed model")                                     \
  X(EUNSUPPORTED, -5, "unsupported operator or feature")               \
  X(ESHAPE, -6, "shape mismatch")                                      \
  X(ETYPE, -7, "type mismatch")                                        \
  X(ENOTFOUND, -8, "not found")                                        \
  X(ELIMIT, -9, "size limit exceeded")                                 \
  X(EGRAPH, -10, "invalid graph")                                      \
  X(ENEEDDATA, -11, "value needed for shape inference is not known")

typedef enum {
#define VRT_X_(name, code, msg) VRT_##name = code,
  VRT_STATUS_MAP(VRT_X_)
#undef VRT_X_
} vrt_status;

const char *vrt_strerror(int status);
/* Message of the last failure on this thread ("" if none). Thread-local. */
const char *vrt_last_error(void);

/* Element types. The numbers are ONNX's TensorProto.DataType. */
typedef enum {
  VRT_UNDEFINED = 0,
  VRT_F32 = 1,
  VRT_U8 = 2,
  VRT_I8 = 3,
  VRT_U16 = 4,
  VRT_I16 = 5,
  VRT_I32 = 6,
  VRT_I64 = 7,
  VRT_STRING = 8,
  VRT_BOOL = 9,
  VRT_F16 = 10,
  VRT_F64 = 11,
  VRT_U32 = 12,
  VRT_U64 = 13,
  VRT_BF16 = 16,
} vrt_dtype;

const char *vrt_dtype_name(vrt_dtype t);
size_t vrt_dtype_size(vrt_dtype t); /* 0 for unknown/string */

#define VRT_MAX_DIMS 8

/* A dense, contiguous, row-major tensor. dims[i] == -1 marks a dynamic
 * dimension in introspection results; tensors passed to or returned from
 * vrt_session_run always have concrete dims. */
typedef struct vrt_tensor {
  const char *name;
  vrt_dtype dtype;
  int ndim;
  int64_t dims[VRT_MAX_DIMS];
  void *data;
  size_t nbytes;
} vrt_tensor;

int64_t vrt_tensor_numel(const vrt_tensor *t);

typedef struct vrt_model vrt_model_t;
typedef struct vrt_session vrt_session_t;

typedef enum {
  VRT_FORMAT_AUTO = 0,
  VRT_FORMAT_ONNX = 1,
  VRT_FORMAT_TFJS = 2,
} vrt_format;

typedef struct vrt_load_params {
  vrt_format format;      /* AUTO guesses from the path / bytes */
  int optimize;           /* constant folding, dead-node removal (default 1) */
  size_t max_weight_bytes; /* refuse models whose weights exceed this (0 = 4 GiB) */
  int bf16;               /* 1: this model's convolutions and constant-weight MatMul/Gemm
                             in bf16 where the CPU has it (as VRT_PRECISION=bf16 does for
                             every model); see bench/README.md for which models keep
                             their accuracy */
} vrt_load_params;

vrt_load_params vrt_load_default_params(void);

/* Load from a file: an .onnx file, or a TF.js model.json whose weight shards
 * sit beside it. ONNX weights are mmapped where their layout allows. */
int vrt_model_load(vrt_model_t **out, const char *path, vrt_load_params p);
/* Load from memory. The bytes are copied as needed; the caller keeps ownership.
 * TF.js from memory is not supported (its shards live in other files). */
int vrt_model_load_memory(vrt_model_t **out, const void *buf, size_t len, vrt_load_params p);
void vrt_model_free(vrt_model_t *m); /* NULL is a no-op */

/* Introspection. Index out of range returns NULL. */
int vrt_model_num_inputs(const vrt_model_t *m);
int vrt_model_num_outputs(const vrt_model_t *m);
const vrt_tensor *vrt_model_input(const vrt_model_t *m, int i);  /* data NULL, dims -1 if dynamic */
const vrt_tensor *vrt_model_output(const vrt_model_t *m, int i); /* ndim -1 if unknown */
/* Symbolic name of a dynamic dimension ("batch"), or NULL. */
const char *vrt_model_input_dim_name(const vrt_model_t *m, int i, int dim);
/* Model metadata (ONNX metadata_props; for TF.js "format", "generatedBy", ...). */
const char *vrt_model_metadata(const vrt_model_t *m, const char *key);
size_t vrt_model_weight_bytes(const vrt_model_t *m);
int64_t vrt_model_param_count(const vrt_model_t *m);
int vrt_model_num_nodes(const vrt_model_t *m);
/* Name of the i-th node's op (IR op), for histograms; NULL past the end. */
const char *vrt_model_node_op(const vrt_model_t *m, int i);

typedef struct vrt_session_params {
  int threads; /* at most this many worker threads inside one run (0 = 1); above 1 the session
                 * uses 1 or this many, whichever its recent runs measured faster
                 * (VRT_ADAPTIVE_THREADS=0: always this many) */
  size_t max_bytes; /* intermediate values a run may hold at once (arena, or buffers in a
                       first run); a run that would need more fails with VRT_ELIMIT before
                       allocating. 0 = no limit. Bounds what a hostile model file can make
                       a session allocate. */
} vrt_session_params;

vrt_session_params vrt_session_default_params(void);

int vrt_session_create(vrt_session_t **out, const vrt_model_t *m, vrt_session_params p);
void vrt_session_free(vrt_session_t *s); /* NULL is a no-op */

/* Run the model. inputs[i].name selects the model input (NULL name = by
 * position). The input data is only read during the call. On success
 * *outputs points to an array of *noutputs tensors owned by the session. */
int vrt_session_run(vrt_session_t *s, const vrt_tensor *inputs, int ninputs,
                    const vrt_tensor **outputs, int *noutputs);

typedef struct vrt_memory_info {
  size_t weight_bytes; /* bytes of the model's constants (mmapped or owned) */
  size_t arena_bytes;  /* bytes of the session's current activation arena */
  size_t peak_bytes;   /* largest arena + scratch ever used by this session */
  size_t plan_count;   /* number of cached per-shape plans */
  size_t view_nodes;   /* Concat/Slice/Reshape nodes the current plan runs in place (no copy) */
} vrt_memory_info;

void vrt_session_memory(const vrt_session_t *s, vrt_memory_info *out);

/* Call first thing in main of a program that runs sessions with threads > 1.
 * oneDNN's OpenMP runtime (libgomp) reads its wait settings once, before
 * main, and by default lets idle workers spin ~15 ms after every parallel
 * region, on the core other work needs. When neither GOMP_SPINCOUNT nor
 * OMP_WAIT_POLICY is set, this sets GOMP_SPINCOUNT=10000 (~0.5 ms: awake
 * across the gaps between one run's regions, asleep soon after the run;
 * src/rt/cpu/nn.c) and re-executes the program (/proc/self/exe, same argv)
 * so that libgomp starts with it; it returns when there was nothing to do
 * or the exec failed. */
void vrt_omp_env_reexec(char **argv);

/* Threads the last vrt_session_run ran on (before the first: the session's
 * threads): with adaptive threads 1 or the session's N, else always N. */
int vrt_session_threads_used(const vrt_session_t *s);

#ifdef __cplusplus
}
#endif
#endif
