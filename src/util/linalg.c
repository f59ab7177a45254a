/* Gauss-Jordan elimination with partial pivoting (util/linalg.h). */
#include "util/linalg.h"

#include <math.h>

int vigil_gauss_jordan(double *m, int n, int cols) {
  for (int c = 0; c < n; c++) {
    int piv = c;
    for (int r = c + 1; r < n; r++)
      if (fabs(m[r * cols + c]) > fabs(m[piv * cols + c])) piv = r;
    if (fabs(m[piv * cols + c]) < 1e-12) return -1;
    double *pc = m + c * cols, *pp = m + piv * cols;
    for (int k = 0; piv != c && k < cols; k++) {
      double t = pc[k];
      pc[k] = pp[k];
      pp[k] = t;
    }
    double d = pc[c];
    for (int k = 0; k < cols; k++) pc[k] /= d;
    for (int r = 0; r < n; r++) { /* the column becomes a unit vector */
      if (r == c) continue;
      double *pr = m + r * cols, f = pr[c];
      for (int k = 0; k < cols; k++) pr[k] -= f * pc[k];
    }
  }
  return 0;
}
