/* The op table built from ops.def: every op has its opdef (vrt__op_<Name>)
 * registered under its own enum value, a family from ops.def's second
 * column, coherent input counts, and a name that maps back to it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "ops.h"

static void test_every_op_registered(void **s) {
  (void)s;
  static const char *const families[] = {"unary", "binary", "reduce", "shape", "nn"};
  for (int op = 0; op < VRT_OP_COUNT; op++) {
    const vrt_opdef *d = vrt_opdef_get((vrt_op)op);
    assert_non_null(d);
    assert_int_equal(d->op, op);
    assert_non_null(d->infer);
    assert_non_null(d->exec);
    assert_true(d->min_inputs >= 0);
    assert_true(d->max_inputs == -1 || d->max_inputs >= d->min_inputs);
    assert_int_equal(vrt_op_from_name(vrt_op_name((vrt_op)op)), op);
    bool known = false;
    for (size_t f = 0; f < sizeof families / sizeof *families; f++)
      known |= !strcmp(vrt_op_family((vrt_op)op), families[f]);
    assert_true(known);
  }
}

static void test_lookups(void **s) {
  (void)s;
  assert_int_equal(vrt_op_from_name("Split"), VRT_OP_Split);
  assert_string_equal(vrt_op_family(VRT_OP_Split), "shape");
  assert_string_equal(vrt_op_family(VRT_OP_Conv), "nn");
  assert_string_equal(vrt_op_family(VRT_OP_Relu), "unary");
  assert_int_equal(vrt_op_from_name("NoSuchOp"), -1);
  assert_null(vrt_opdef_get(VRT_OP_COUNT));
  assert_string_equal(vrt_op_name(VRT_OP_COUNT), "?");
  assert_string_equal(vrt_op_family((vrt_op)-1), "?");
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_every_op_registered), cmocka_unit_test(test_lookups)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
