/* The op registry: names from ops.def, opdefs gathered from the family
 * tables of the CPU backend. */
#include <pthread.h>
#include <string.h>

#include "ops.h"

static const char *const op_names[] = {
#define X(name, family) #name,
#include "ops.def"
#undef X
};
_Static_assert(sizeof op_names / sizeof op_names[0] == VRT_OP_COUNT, "op name table out of sync");

const char *vrt_op_name(vrt_op op) { return op >= 0 && op < VRT_OP_COUNT ? op_names[op] : "?"; }

int vrt_op_from_name(const char *name) {
  for (int i = 0; i < VRT_OP_COUNT; i++)
    if (strcmp(op_names[i], name) == 0) return i;
  return -1;
}

static const vrt_opdef *by_op[VRT_OP_COUNT];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void registry_init(void) {
  const vrt_opdef *const *families[] = {vrt__ops_unary, vrt__ops_binary, vrt__ops_reduce, vrt__ops_shape,
                                        vrt__ops_nn};
  for (size_t f = 0; f < sizeof families / sizeof families[0]; f++)
    for (const vrt_opdef *const *d = families[f]; *d; d++)
      if ((*d)->op >= 0 && (*d)->op < VRT_OP_COUNT) by_op[(*d)->op] = *d;
}

const vrt_opdef *vrt_opdef_get(vrt_op op) {
  pthread_once(&once, registry_init);
  return op >= 0 && op < VRT_OP_COUNT ? by_op[op] : NULL;
}
