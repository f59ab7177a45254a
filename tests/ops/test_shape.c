/* Tests of the shape-family views, movers and generators: Reshape, Squeeze,
 * Unsqueeze, Transpose, Concat, Split, Slice, StridedSlice (TF masks), Pad,
 * Tile, Expand, Trilu, Range, ConstantOfShape, Shape, DepthToSpace. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "op_test.h"

static void run_ok(vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  int rc = vrt_node_run1(n, in, nin, out, nout);
  if (rc != 0) fail_msg("run failed (%d): %s", rc, vrt_last_error());
}

static void assert_dims(const vrt_tensor *t, int nd, const int64_t *dims) {
  assert_int_equal(t->ndim, nd);
  for (int i = 0; i < nd; i++) assert_int_equal(t->dims[i], dims[i]);
}

static void assert_f32(const vrt_tensor *t, const float *want, int64_t n) {
  assert_int_equal(vrt_tensor_numel(t), n);
  double d = op_test_maxdiff(t->data, want, n);
  if (d != 0) fail_msg("max diff %g", d);
}

/* 0..n-1 as float */
static float *iota(int n) {
  static float buf[256];
  for (int i = 0; i < n && i < 256; i++) buf[i] = (float)i;
  return buf;
}

static void test_reshape(void **state) {
  (void)state;
  int64_t d[] = {2, 3, 4};
  vrt_tensor tx = op_test_tensor(VRT_F32, 3, d, iota(24));
  const int64_t s[] = {0, -1};
  int64_t ns = 2;
  vrt_tensor ts = op_test_tensor(VRT_I64, 1, &ns, s);
  vrt_node n = op_test_node(VRT_OP_Reshape, 2, 1);
  const vrt_tensor *in[] = {&tx, &ts};
  vrt_tensor o;
  run_ok(&n, in, 2, &o, 1);
  const int64_t want[] = {2, 12};
  assert_dims(&o, 2, want);
  assert_float_equal(((float *)o.data)[23], 23, 0);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);
  /* allowzero: 0 is a real zero dim, so [0,-1] cannot fit 24 elements */
  n = op_test_node(VRT_OP_Reshape, 2, 1);
  vrt_node_set_int(&n, "allowzero", 1);
  assert_int_equal(vrt_node_run1(&n, in, 2, &o, 1), VRT_ESHAPE);
  op_test_node_free(&n);
  /* wrong count */
  const int64_t s2[] = {5, 5};
  ts.data = (void *)s2;
  n = op_test_node(VRT_OP_Reshape, 2, 1);
  assert_int_equal(vrt_node_run1(&n, in, 2, &o, 1), VRT_ESHAPE);
  assert_non_null(strstr(vrt_last_error(), "test_node"));
  op_test_node_free(&n);
}

static void test_squeeze_unsqueeze_flatten(void **state) {
  (void)state;
  int64_t d[] = {1, 3, 1, 2};
  vrt_tensor tx = op_test_tensor(VRT_F32, 4, d, iota(6));
  vrt_tensor o;
  vrt_node n = op_test_node(VRT_OP_Squeeze, 1, 1);
  const vrt_tensor *in1[] = {&tx};
  run_ok(&n, in1, 1, &o, 1);
  const int64_t w1[] = {3, 2};
  assert_dims(&o, 2, w1);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);

  const int64_t ax[] = {-2};
  int64_t na = 1;
  vrt_tensor ta = op_test_tensor(VRT_I64, 1, &na, ax);
  const vrt_tensor *in2[] = {&tx, &ta};
  n = op_test_node(VRT_OP_Squeeze, 2, 1);
  run_ok(&n, in2, 2, &o, 1);
  const int64_t w2[] = {1, 3, 2};
  assert_dims(&o, 3, w2);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);
  /* squeezing a dim that is not 1 fails */
  const int64_t ax1[] = {1};
  ta.data = (void *)ax1;
  n = op_test_node(VRT_OP_Squeeze, 2, 1);
  assert_int_equal(vrt_node_run1(&n, in2, 2, &o, 1), VRT_ESHAPE);
  op_test_node_free(&n);

  const int64_t ua[] = {0, -1};
  int64_t nu = 2;
  vrt_tensor tu = op_test_tensor(VRT_I64, 1, &nu, ua);
  const vrt_tensor *in3[] = {&tx, &tu};
  n = op_test_node(VRT_OP_Unsqueeze, 2, 1);
  run_ok(&n, in3, 2, &o, 1);
  const int64_t w3[] = {1, 1, 3, 1, 2, 1};
  assert_dims(&o, 6, w3);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);

  /* output axes 1 and -5 (of rank 6) are the same axis */
  const int64_t urep[] = {1, -5};
  vrt_tensor tur = op_test_tensor(VRT_I64, 1, &nu, urep);
  const vrt_tensor *in3r[] = {&tx, &tur};
  n = op_test_node(VRT_OP_Unsqueeze, 2, 1);
  assert_int_equal(vrt_node_run1(&n, in3r, 2, &o, 1), VRT_EINVAL);
  assert_non_null(strstr(vrt_last_error(), "repeated"));
  op_test_node_free(&n);

  n = op_test_node(VRT_OP_Flatten, 1, 1);
  vrt_node_set_int(&n, "axis", 2);
  run_ok(&n, in1, 1, &o, 1);
  const int64_t w4[] = {3, 2};
  assert_dims(&o, 2, w4);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);
}

static void test_transpose(void **state) {
  (void)state;
  int64_t d[] = {2, 3, 4};
  vrt_tensor tx = op_test_tensor(VRT_F32, 3, d, iota(24));
  const vrt_tensor *in[] = {&tx};
  vrt_tensor o;
  vrt_node n = op_test_node(VRT_OP_Transpose, 1, 1);
  const int64_t perm[] = {1, 2, 0};
  vrt_node_set_ints(&n, "perm", perm, 3);
  run_ok(&n, in, 1, &o, 1);
  const int64_t w[] = {3, 4, 2};
  assert_dims(&o, 3, w);
  const float *y = o.data;
  /* y[j][k][i] = x[i][j][k] = 12i + 4j + k */
  for (int j = 0; j < 3; j++)
    for (int k = 0; k < 4; k++)
      for (int i = 0; i < 2; i++) assert_float_equal(y[(j * 4 + k) * 2 + i], 12 * i + 4 * j + k, 0);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);
  /* bad perm */
  n = op_test_node(VRT_OP_Transpose, 1, 1);
  const int64_t bad[] = {0, 0, 1};
  vrt_node_set_ints(&n, "perm", bad, 3);
  assert_int_equal(vrt_node_run1(&n, in, 1, &o, 1), VRT_EINVAL);
  op_test_node_free(&n);
}

static void test_concat_split(void **state) {
  (void)state;
  const int32_t a[] = {1, 2, 3, 4}, b[] = {5, 6};
  int64_t da[] = {2, 2}, db[] = {2, 1};
  vrt_tensor ta = op_test_tensor(VRT_I32, 2, da, a), tb = op_test_tensor(VRT_I32, 2, db, b);
  const vrt_tensor *in[] = {&ta, &tb};
  vrt_tensor o;
  vrt_node n = op_test_node(VRT_OP_Concat, 2, 1);
  vrt_node_set_int(&n, "axis", -1);
  run_ok(&n, in, 2, &o, 1);
  const int32_t w[] = {1, 2, 5, 3, 4, 6};
  for (int i = 0; i < 6; i++) assert_int_equal(((int32_t *)o.data)[i], w[i]);
  op_test_node_free(&n);
  /* mismatched dim */
  n = op_test_node(VRT_OP_Concat, 2, 1);
  vrt_tensor c;
  assert_int_equal(vrt_node_run1(&n, in, 2, &c, 1), VRT_ESHAPE);
  op_test_node_free(&n);

  /* split the [2,3] back into [2,2] and [2,1] */
  const int64_t sizes[] = {2, 1};
  int64_t ns = 2;
  vrt_tensor ts = op_test_tensor(VRT_I64, 1, &ns, sizes);
  const vrt_tensor *sin[] = {&o, &ts};
  vrt_tensor parts[2];
  n = op_test_node(VRT_OP_Split, 2, 2);
  vrt_node_set_int(&n, "axis", 1);
  run_ok(&n, sin, 2, parts, 2);
  assert_dims(&parts[0], 2, da);
  assert_dims(&parts[1], 2, db);
  assert_memory_equal(parts[0].data, a, sizeof a);
  assert_memory_equal(parts[1].data, b, sizeof b);
  vrt__aligned_free(parts[0].data);
  vrt__aligned_free(parts[1].data);
  op_test_node_free(&n);
  /* equal split with num_outputs: 3 -> 2 + 1 */
  n = op_test_node(VRT_OP_Split, 1, 2);
  vrt_node_set_int(&n, "axis", 1);
  vrt_node_set_int(&n, "num_outputs", 2);
  run_ok(&n, sin, 1, parts, 2);
  assert_int_equal(parts[0].dims[1], 2);
  assert_int_equal(parts[1].dims[1], 1);
  vrt__aligned_free(parts[0].data);
  vrt__aligned_free(parts[1].data);
  op_test_node_free(&n);
  vrt__aligned_free(o.data);
}

static vrt_tensor slice(const vrt_tensor *x, const int64_t *st, const int64_t *en, const int64_t *ax,
                        const int64_t *sp, int64_t k) {
  vrt_tensor a = op_test_tensor(VRT_I64, 1, &k, st), b = op_test_tensor(VRT_I64, 1, &k, en),
             c = op_test_tensor(VRT_I64, 1, &k, ax), d = op_test_tensor(VRT_I64, 1, &k, sp);
  const vrt_tensor *in[] = {x, &a, &b, &c, &d};
  vrt_node n = op_test_node(VRT_OP_Slice, 5, 1);
  vrt_tensor o;
  run_ok(&n, in, 5, &o, 1);
  op_test_node_free(&n);
  return o;
}

static void test_slice(void **state) {
  (void)state;
  int64_t d[] = {3, 4};
  vrt_tensor tx = op_test_tensor(VRT_F32, 2, d, iota(12));
  /* rows 1.., columns reversed with step -2 from the end */
  const int64_t st[] = {1, -1}, en[] = {INT64_MAX, INT64_MIN}, ax[] = {0, 1}, sp[] = {1, -2};
  vrt_tensor o = slice(&tx, st, en, ax, sp, 2);
  const int64_t wd[] = {2, 2};
  assert_dims(&o, 2, wd);
  const float w[] = {7, 5, 11, 9};
  assert_f32(&o, w, 4);
  vrt__aligned_free(o.data);
  /* out-of-range starts clamp to an empty result */
  const int64_t st2[] = {10}, en2[] = {20}, ax2[] = {-1}, sp2[] = {1};
  o = slice(&tx, st2, en2, ax2, sp2, 1);
  assert_int_equal(o.dims[1], 0);
  vrt__aligned_free(o.data);
}

static vrt_tensor strided(const vrt_tensor *x, const int64_t *b, const int64_t *e, const int64_t *s, int64_t k,
                          int64_t bm, int64_t em, int64_t elm, int64_t nam, int64_t sam) {
  vrt_tensor tb = op_test_tensor(VRT_I64, 1, &k, b), te = op_test_tensor(VRT_I64, 1, &k, e),
             ts = op_test_tensor(VRT_I64, 1, &k, s);
  const vrt_tensor *in[] = {x, &tb, &te, &ts};
  vrt_node n = op_test_node(VRT_OP_StridedSlice, 4, 1);
  vrt_node_set_int(&n, "begin_mask", bm);
  vrt_node_set_int(&n, "end_mask", em);
  vrt_node_set_int(&n, "ellipsis_mask", elm);
  vrt_node_set_int(&n, "new_axis_mask", nam);
  vrt_node_set_int(&n, "shrink_axis_mask", sam);
  vrt_tensor o;
  run_ok(&n, in, 4, &o, 1);
  op_test_node_free(&n);
  return o;
}

static void test_strided_slice(void **state) {
  (void)state;
  int64_t d[] = {2, 3, 4};
  vrt_tensor tx = op_test_tensor(VRT_F32, 3, d, iota(24));
  /* x[:, 1, ::-1]: begin/end masks, shrink on axis 1, negative stride */
  const int64_t b1[] = {0, 1, 0}, e1[] = {0, 2, 0}, s1[] = {1, 1, -1};
  vrt_tensor o = strided(&tx, b1, e1, s1, 3, 0x5, 0x5, 0, 0, 0x2);
  const int64_t wd1[] = {2, 4};
  assert_dims(&o, 2, wd1);
  const float w1[] = {7, 6, 5, 4, 19, 18, 17, 16};
  assert_f32(&o, w1, 8);
  vrt__aligned_free(o.data);
  /* x[..., 1:3]: ellipsis then one explicit dim */
  const int64_t b2[] = {0, 1}, e2[] = {0, 3}, s2[] = {1, 1};
  o = strided(&tx, b2, e2, s2, 2, 0, 0, 0x1, 0, 0);
  const int64_t wd2[] = {2, 3, 2};
  assert_dims(&o, 3, wd2);
  assert_float_equal(((float *)o.data)[0], 1, 0);
  assert_float_equal(((float *)o.data)[11], 22, 0);
  vrt__aligned_free(o.data);
  /* x[tf.newaxis, -1]: new axis then shrink with a negative index */
  const int64_t b3[] = {0, -1}, e3[] = {0, 0}, s3[] = {1, 1};
  o = strided(&tx, b3, e3, s3, 2, 0, 0, 0, 0x1, 0x2);
  const int64_t wd3[] = {1, 3, 4};
  assert_dims(&o, 3, wd3);
  assert_float_equal(((float *)o.data)[0], 12, 0);
  vrt__aligned_free(o.data);
  /* shrink index out of range is an error */
  const int64_t b4[] = {5}, e4[] = {6}, s4[] = {1};
  int64_t k = 1;
  vrt_tensor tb = op_test_tensor(VRT_I64, 1, &k, b4), te = op_test_tensor(VRT_I64, 1, &k, e4),
             ts = op_test_tensor(VRT_I64, 1, &k, s4);
  const vrt_tensor *in[] = {&tx, &tb, &te, &ts};
  vrt_node n = op_test_node(VRT_OP_StridedSlice, 4, 1);
  vrt_node_set_int(&n, "shrink_axis_mask", 1);
  assert_int_equal(vrt_node_run1(&n, in, 4, &o, 1), VRT_EINVAL);
  op_test_node_free(&n);
}

static vrt_tensor pad(const vrt_tensor *x, const int64_t *pads, int64_t np, const char *mode, const float *cv) {
  vrt_tensor tp = op_test_tensor(VRT_I64, 1, &np, pads), tc = op_test_tensor(VRT_F32, 0, NULL, cv);
  const vrt_tensor *in[] = {x, &tp, cv ? &tc : NULL};
  vrt_node n = op_test_node(VRT_OP_Pad, 3, 1);
  vrt_node_set_string(&n, "mode", mode);
  vrt_tensor o;
  run_ok(&n, in, 3, &o, 1);
  op_test_node_free(&n);
  return o;
}

static void test_pad(void **state) {
  (void)state;
  int64_t d[] = {2, 3};
  vrt_tensor tx = op_test_tensor(VRT_F32, 2, d, iota(6));
  const int64_t p[] = {1, 2, 0, 1}; /* rows: 1 before; cols: 2 before, 1 after */
  const float cv = -1;
  vrt_tensor o = pad(&tx, p, 4, "constant", &cv);
  const int64_t wd[] = {3, 6};
  assert_dims(&o, 2, wd);
  const float wc[] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 1, 2, -1, -1, -1, 3, 4, 5, -1};
  assert_f32(&o, wc, 18);
  vrt__aligned_free(o.data);
  o = pad(&tx, p, 4, "reflect", NULL);
  const float wr[] = {5, 4, 3, 4, 5, 4, 2, 1, 0, 1, 2, 1, 5, 4, 3, 4, 5, 4};
  assert_f32(&o, wr, 18);
  vrt__aligned_free(o.data);
  o = pad(&tx, p, 4, "edge", NULL);
  const float we[] = {0, 0, 0, 1, 2, 2, 0, 0, 0, 1, 2, 2, 3, 3, 3, 4, 5, 5};
  assert_f32(&o, we, 18);
  vrt__aligned_free(o.data);
  /* negative pads crop */
  const int64_t pc[] = {0, -1, 0, -1};
  o = pad(&tx, pc, 4, "constant", NULL);
  const float wcrop[] = {1, 4};
  assert_f32(&o, wcrop, 2);
  vrt__aligned_free(o.data);
  /* absurd pads are refused before any size arithmetic can overflow */
  const int64_t ph[] = {0, 0, 0, INT64_MAX};
  int64_t np = 4;
  vrt_tensor tp = op_test_tensor(VRT_I64, 1, &np, ph);
  const vrt_tensor *in[] = {&tx, &tp};
  vrt_node n = op_test_node(VRT_OP_Pad, 2, 1);
  assert_int_equal(vrt_node_run1(&n, in, 2, &o, 1), VRT_ELIMIT);
  op_test_node_free(&n);
}

static void test_tile_expand_trilu(void **state) {
  (void)state;
  int64_t d[] = {2, 1};
  const float x[] = {1, 2};
  vrt_tensor tx = op_test_tensor(VRT_F32, 2, d, x);
  const int64_t rep[] = {2, 3};
  int64_t nr = 2;
  vrt_tensor tr = op_test_tensor(VRT_I64, 1, &nr, rep);
  const vrt_tensor *in[] = {&tx, &tr};
  vrt_tensor o;
  vrt_node n = op_test_node(VRT_OP_Tile, 2, 1);
  run_ok(&n, in, 2, &o, 1);
  const float wt[] = {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2};
  assert_f32(&o, wt, 12);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);

  const int64_t shape[] = {3, 1, 2};
  int64_t ns = 3;
  vrt_tensor ts = op_test_tensor(VRT_I64, 1, &ns, shape);
  const vrt_tensor *ein[] = {&tx, &ts};
  n = op_test_node(VRT_OP_Expand, 2, 1);
  run_ok(&n, ein, 2, &o, 1);
  const int64_t we[] = {3, 2, 2};
  assert_dims(&o, 3, we);
  const float wv[] = {1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2};
  assert_f32(&o, wv, 12);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);

  int64_t dm[] = {3, 3};
  vrt_tensor tm = op_test_tensor(VRT_F32, 2, dm, iota(9));
  const int64_t k = 1;
  vrt_tensor tk = op_test_tensor(VRT_I64, 0, NULL, &k);
  const vrt_tensor *tin[] = {&tm, &tk};
  n = op_test_node(VRT_OP_Trilu, 2, 1);
  run_ok(&n, tin, 2, &o, 1);
  const float wu[] = {0, 1, 2, 0, 0, 5, 0, 0, 0};
  assert_f32(&o, wu, 9);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);
  n = op_test_node(VRT_OP_Trilu, 1, 1);
  vrt_node_set_int(&n, "upper", 0);
  run_ok(&n, tin, 1, &o, 1);
  const float wl[] = {0, 0, 0, 3, 4, 0, 6, 7, 8};
  assert_f32(&o, wl, 9);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);
}

static void test_generators(void **state) {
  (void)state;
  const int32_t s = 10, l = 1, dl = -3;
  vrt_tensor a = op_test_tensor(VRT_I32, 0, NULL, &s), b = op_test_tensor(VRT_I32, 0, NULL, &l),
             c = op_test_tensor(VRT_I32, 0, NULL, &dl);
  const vrt_tensor *in[] = {&a, &b, &c};
  vrt_tensor o;
  vrt_node n = op_test_node(VRT_OP_Range, 3, 1);
  run_ok(&n, in, 3, &o, 1);
  assert_int_equal(o.dims[0], 3);
  const int32_t *r = o.data;
  assert_true(r[0] == 10 && r[1] == 7 && r[2] == 4);
  vrt__aligned_free(o.data);
  /* delta 0 is an error */
  const int32_t z = 0;
  c.data = (void *)&z;
  assert_int_equal(vrt_node_run1(&n, in, 3, &o, 1), VRT_EINVAL);
  op_test_node_free(&n);

  const int64_t shape[] = {2, 3};
  int64_t ns = 2;
  vrt_tensor ts = op_test_tensor(VRT_I64, 1, &ns, shape);
  const vrt_tensor *cin[] = {&ts};
  n = op_test_node(VRT_OP_ConstantOfShape, 1, 1);
  run_ok(&n, cin, 1, &o, 1);
  assert_int_equal(o.dtype, VRT_F32);
  assert_int_equal(vrt_tensor_numel(&o), 6);
  assert_float_equal(((float *)o.data)[5], 0, 0);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);

  int64_t d[] = {2, 3, 4, 5};
  vrt_tensor tx = op_test_tensor(VRT_F32, 4, d, NULL);
  const vrt_tensor *sin[] = {&tx};
  n = op_test_node(VRT_OP_Shape, 1, 1);
  vrt_node_set_int(&n, "start", 1);
  vrt_node_set_int(&n, "end", -1);
  run_ok(&n, sin, 1, &o, 1);
  assert_int_equal(o.dims[0], 2);
  assert_int_equal(((int64_t *)o.data)[0], 3);
  assert_int_equal(((int64_t *)o.data)[1], 4);
  vrt__aligned_free(o.data);
  op_test_node_free(&n);
}

static void test_depth_to_space(void **state) {
  (void)state;
  int64_t d[] = {1, 4, 1, 1};
  vrt_tensor tx = op_test_tensor(VRT_F32, 4, d, iota(4));
  const vrt_tensor *in[] = {&tx};
  vrt_tensor o;
  vrt_node n = op_test_node(VRT_OP_DepthToSpace, 1, 1);
  vrt_node_set_int(&n, "blocksize", 2);
  run_ok(&n, in, 1, &o, 1);
  const int64_t w[] = {1, 1, 2, 2};
  assert_dims(&o, 4, w);
  const float wv[] = {0, 1, 2, 3};
  assert_f32(&o, wv, 4);
  /* and back */
  vrt_node m = op_test_node(VRT_OP_SpaceToDepth, 1, 1);
  vrt_node_set_int(&m, "blocksize", 2);
  const vrt_tensor *in2[] = {&o};
  vrt_tensor back;
  run_ok(&m, in2, 1, &back, 1);
  assert_dims(&back, 4, d);
  assert_f32(&back, wv, 4);
  vrt__aligned_free(back.data);
  vrt__aligned_free(o.data);
  op_test_node_free(&m);
  op_test_node_free(&n);
}

/* every op of the unary, binary, reduce and shape families (the rows of
 * ops.def before the nn family) has a CPU kernel */
static void test_family_coverage(void **state) {
  (void)state;
  for (int op = 0; op < VRT_OP_Conv; op++) {
    const vrt_opdef *d = vrt_opdef_get((vrt_op)op);
    if (!d || !d->infer || !d->exec) fail_msg("op %s has no kernel", vrt_op_name((vrt_op)op));
    assert_int_equal(d->op, op);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reshape),      cmocka_unit_test(test_squeeze_unsqueeze_flatten),
      cmocka_unit_test(test_transpose),    cmocka_unit_test(test_concat_split),
      cmocka_unit_test(test_slice),        cmocka_unit_test(test_strided_slice),
      cmocka_unit_test(test_pad),          cmocka_unit_test(test_tile_expand_trilu),
      cmocka_unit_test(test_generators),   cmocka_unit_test(test_depth_to_space), cmocka_unit_test(test_family_coverage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
