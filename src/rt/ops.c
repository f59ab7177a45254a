/* The op registry: one row per ops.def line, its name, family and opdef;
 * the enum indexes it. */
#include <string.h>

#include "ops.h"

static const struct {
  const char *name, *family;
  const vrt_opdef *def;
} ops[] = {
#define X(name, family) {#name, #family, &vrt__op_##name},
#include "ops.def"
#undef X
};
_Static_assert(sizeof ops / sizeof ops[0] == VRT_OP_COUNT, "op table out of sync");

const char *vrt_op_name(vrt_op op) { return op >= 0 && op < VRT_OP_COUNT ? ops[op].name : "?"; }

const char *vrt_op_family(vrt_op op) { return op >= 0 && op < VRT_OP_COUNT ? ops[op].family : "?"; }

int vrt_op_from_name(const char *name) {
  for (int i = 0; i < VRT_OP_COUNT; i++)
    if (strcmp(ops[i].name, name) == 0) return i;
  return -1;
}

const vrt_opdef *vrt_opdef_get(vrt_op op) { return op >= 0 && op < VRT_OP_COUNT ? ops[op].def : NULL; }
