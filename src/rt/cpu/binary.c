/* CPU reference kernels: the "binary" family of ops.def. */
#include "ops.h"

const vrt_opdef *const vrt__ops_binary[] = {NULL};
