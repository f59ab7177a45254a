/* vrt_model_t: loading (format detection, loader dispatch), preparation of
 * the IR, and introspection. Filled in with the executor. */
#include "rt.h"
