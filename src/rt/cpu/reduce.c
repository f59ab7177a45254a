/* CPU reference kernels: the "reduce" family of ops.def. */
#include "ops.h"

const vrt_opdef *const vrt__ops_reduce[] = {NULL};
