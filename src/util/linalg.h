/* Small dense linear algebra: Gauss-Jordan elimination, for the few places
 * that solve or invert a handful of unknowns (the tracker's Kalman gain). */
#ifndef VIGIL_UTIL_LINALG_H
#define VIGIL_UTIL_LINALG_H

/* Reduces the n x cols row-major matrix m = [A | B] (A n x n, n <= cols) in
 * place, with partial pivoting, until A is the identity: the right columns
 * then hold A^-1 B (B = I gives the inverse). -1 when A is singular (a pivot
 * under 1e-12 in magnitude); m is then partly reduced. */
int vigil_gauss_jordan(double *m, int n, int cols);

#endif
