/* CPU reference kernels: the "unary" family of ops.def. */
#include "ops.h"

const vrt_opdef *const vrt__ops_unary[] = {NULL};
