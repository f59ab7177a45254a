/* CPU reference kernels: the "shape" family of ops.def. */
#include "ops.h"

const vrt_opdef *const vrt__ops_shape[] = {NULL};
