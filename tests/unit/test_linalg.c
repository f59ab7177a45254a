/* util/linalg: Gauss-Jordan solves, inverts (with row swaps) and refuses a
 * singular matrix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

#include "util/linalg.h"

static void solves_a_system(void **state) {
  (void)state;
  /* 2x + y = 5, x + 3y = 10: x = 1, y = 3 */
  double m[2][3] = {{2, 1, 5}, {1, 3, 10}};
  assert_int_equal(vigil_gauss_jordan(&m[0][0], 2, 3), 0);
  assert_true(fabs(m[0][2] - 1) < 1e-12 && fabs(m[1][2] - 3) < 1e-12);
  assert_true(fabs(m[0][0] - 1) < 1e-12 && fabs(m[0][1]) < 1e-12 && fabs(m[1][0]) < 1e-12);
}

static void inverts_with_a_row_swap(void **state) {
  (void)state;
  /* a zero first pivot needs the swap; A * A^-1 must be I */
  const double a[3][3] = {{0, 2, 1}, {1, 0, 0}, {3, 1, 4}};
  double m[3][6];
  for (int r = 0; r < 3; r++)
    for (int c = 0; c < 6; c++) m[r][c] = c < 3 ? a[r][c] : (c - 3 == r);
  assert_int_equal(vigil_gauss_jordan(&m[0][0], 3, 6), 0);
  for (int r = 0; r < 3; r++)
    for (int c = 0; c < 3; c++) {
      double s = 0;
      for (int k = 0; k < 3; k++) s += a[r][k] * m[k][c + 3];
      assert_true(fabs(s - (r == c)) < 1e-12);
    }
}

static void refuses_a_singular_matrix(void **state) {
  (void)state;
  double m[2][4] = {{1, 2, 1, 0}, {2, 4, 0, 1}};
  assert_int_equal(vigil_gauss_jordan(&m[0][0], 2, 4), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(solves_a_system),
      cmocka_unit_test(inverts_with_a_row_swap),
      cmocka_unit_test(refuses_a_singular_matrix),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
