/* CPU reference kernels: the "nn" family of ops.def. */
#include "ops.h"

const vrt_opdef *const vrt__ops_nn[] = {NULL};
