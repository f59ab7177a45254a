/* RNN, GRU, LSTM on one-unit cells whose values follow the ONNX equations
 * by hand: directions, layouts, sequence_lens, GRU linear_before_reset,
 * LSTM peepholes, and errors. */
#include "test_nn_util.h"

static float sig(float x) { return 1.0f / (1.0f + expf(-x)); }

/* element 0 (batch 0) of a state output */
static void expect0(const vrt_tensor *t, float want) {
  float got = ((const float *)t->data)[0];
  if (fabsf(got - want) > 1e-6f) fprintf(stderr, "got %g want %g\n", got, want);
  assert_true(fabsf(got - want) <= 1e-6f);
}

/* X [S=2, B=2, I=1]: batch 0 sees 1, 2; batch 1 sees 3, 4 (length 1 when seq_lens) */
static const float X[4] = {1, 3, 2, 4};

static int run_cell(vrt_op op, const char *dir, int layout, const float *w, const float *r, const int32_t *lens,
                    vrt_tensor *out, int nout, const char *extra_attr, int64_t extra_val) {
  int G = op == VRT_OP_RNN ? 1 : op == VRT_OP_GRU ? 3 : 4, D = strcmp(dir, "bidirectional") ? 1 : 2;
  vrt_node n = op_test_node(op, 5, nout);
  vrt_node_set_int(&n, "hidden_size", 1);
  vrt_node_set_string(&n, "direction", dir);
  vrt_node_set_int(&n, "layout", layout);
  if (extra_attr) vrt_node_set_int(&n, extra_attr, extra_val);
  float xl[4] = {1, 2, 3, 4}; /* the same data as [B, S, I] */
  vrt_tensor in[5] = {layout ? NN_T(VRT_F32, 3, NN_DIMS(2, 2, 1), xl) : NN_T(VRT_F32, 3, NN_DIMS(2, 2, 1), X),
                      NN_T(VRT_F32, 3, NN_DIMS(D, G, 1), w), NN_T(VRT_F32, 3, NN_DIMS(D, G, 1), r), {0},
                      lens ? NN_T(VRT_I32, 1, NN_DIMS(2), lens) : (vrt_tensor){0}};
  int rc = nn_run(&n, in, 5, out, nout);
  op_test_node_free(&n);
  return rc;
}

static void test_rnn(void **state) {
  const float w[2] = {1, -1}, r[2] = {0.5f, 0.25f};
  vrt_tensor out[2];
  assert_int_equal(run_cell(VRT_OP_RNN, "forward", 0, w, r, NULL, out, 2, NULL, 0), 0);
  assert_int_equal(out[0].ndim, 4); /* [S, D, B, H] */
  float h1 = tanhf(1), h2 = tanhf(2 + 0.5f * h1), g1 = tanhf(3), g2 = tanhf(4 + 0.5f * g1);
  nn_expect_f32(&out[0], (const float[]){h1, g1, h2, g2}, 4, 1e-6);
  nn_expect_f32(&out[1], (const float[]){h2, g2}, 2, 1e-6);
  nn_out_free(out, 2);
  /* reverse: the last step comes first */
  assert_int_equal(run_cell(VRT_OP_RNN, "reverse", 0, w, r, NULL, out, 2, NULL, 0), 0);
  float r1 = tanhf(2), r0 = tanhf(1 + 0.5f * r1);
  nn_expect_f32(&out[1], (const float[]){r0, tanhf(3 + 0.5f * tanhf(4))}, 2, 1e-6);
  nn_out_free(out, 2);
  /* bidirectional: Y_h holds the forward then the backward state */
  assert_int_equal(run_cell(VRT_OP_RNN, "bidirectional", 0, w, r, NULL, out, 2, NULL, 0), 0);
  assert_int_equal(out[1].dims[0], 2);
  float b0 = tanhf(-1 + 0.25f * tanhf(-2));
  assert_true(fabsf(((float *)out[1].data)[0] - h2) < 1e-6f);
  assert_true(fabsf(((float *)out[1].data)[2] - b0) < 1e-6f);
  nn_out_free(out, 2);
  /* sequence_lens: batch 1 stops after one step; its Y at t=1 is zero */
  const int32_t lens[2] = {2, 1};
  assert_int_equal(run_cell(VRT_OP_RNN, "forward", 0, w, r, lens, out, 2, NULL, 0), 0);
  nn_expect_f32(&out[0], (const float[]){h1, g1, h2, 0}, 4, 1e-6);
  nn_expect_f32(&out[1], (const float[]){h2, g1}, 2, 1e-6);
  nn_out_free(out, 2);
  /* layout 1: Y is [B, S, D, H], same numbers */
  assert_int_equal(run_cell(VRT_OP_RNN, "forward", 1, w, r, NULL, out, 2, NULL, 0), 0);
  assert_int_equal(out[0].dims[0], 2);
  assert_int_equal(out[0].dims[1], 2);
  nn_expect_f32(&out[0], (const float[]){h1, h2, g1, g2}, 4, 1e-6);
  nn_out_free(out, 2);
}

static void test_gru(void **state) {
  const float w[3] = {0.5f, -1, 1}, r[3] = {0.25f, 2, -0.5f}; /* z, r, h */
  for (int lbr = 0; lbr < 2; lbr++) {
    vrt_tensor out[2];
    assert_int_equal(run_cell(VRT_OP_GRU, "forward", 0, w, r, NULL, out, 2, "linear_before_reset", lbr), 0);
    /* batch 0, step 1 from h = 0; step 2 from h1 (r . h vs r . (R h) agree with no bias) */
    float z = sig(0.5f * 1), h1 = (1 - z) * tanhf(1);
    float z2 = sig(0.5f * 2 + 0.25f * h1), rr = sig(-2 + 2 * h1), hh = tanhf(2 + rr * (-0.5f * h1));
    float h2 = (1 - z2) * hh + z2 * h1;
    expect0(&out[1], h2);
    nn_out_free(out, 2);
  }
}

static void test_lstm(void **state) {
  const float w[4] = {1, 0.5f, -1, 2}, r[4] = {0.5f, -0.5f, 1, 0.25f}; /* i, o, f, c */
  vrt_tensor out[3];
  assert_int_equal(run_cell(VRT_OP_LSTM, "forward", 0, w, r, NULL, out, 3, NULL, 0), 0);
  float i1 = sig(1), f1 = sig(-1), c1 = i1 * tanhf(2), o1 = sig(0.5f), h1 = o1 * tanhf(c1);
  float i2 = sig(2 + 0.5f * h1), f2 = sig(-2 + h1), cc = tanhf(4 + 0.25f * h1), c2 = f2 * c1 + i2 * cc;
  float o2 = sig(1 - 0.5f * h1), h2 = o2 * tanhf(c2);
  (void)f1;
  expect0(&out[1], h2);
  expect0(&out[2], c2);
  nn_out_free(out, 3);
  /* input_forget couples f = 1 - i */
  assert_int_equal(run_cell(VRT_OP_LSTM, "forward", 0, w, r, NULL, out, 3, "input_forget", 1), 0);
  float c1b = i1 * tanhf(2), h1b = o1 * tanhf(c1b);
  float i2b = sig(2 + 0.5f * h1b), c2b = (1 - i2b) * c1b + i2b * tanhf(4 + 0.25f * h1b);
  expect0(&out[2], c2b);
  nn_out_free(out, 3);
}

static void test_rnn_errors(void **state) {
  const float w[4] = {0}, r[4] = {0};
  vrt_tensor out[2];
  vrt_node n = op_test_node(VRT_OP_RNN, 3, 2); /* no hidden_size */
  vrt_tensor in[3] = {NN_T(VRT_F32, 3, NN_DIMS(2, 2, 1), X), NN_T(VRT_F32, 3, NN_DIMS(1, 1, 1), w),
                      NN_T(VRT_F32, 3, NN_DIMS(1, 1, 1), r)};
  assert_int_equal(nn_run(&n, in, 3, out, 2), VRT_EINVAL);
  op_test_node_free(&n);
  n = op_test_node(VRT_OP_GRU, 3, 2); /* W sized for RNN */
  vrt_node_set_int(&n, "hidden_size", 1);
  assert_int_equal(nn_run(&n, in, 3, out, 2), VRT_ESHAPE);
  op_test_node_free(&n);
  n = op_test_node(VRT_OP_RNN, 3, 2);
  vrt_node_set_int(&n, "hidden_size", 1);
  const char *acts[1] = {"Swish"};
  vrt_attr a = {.name = "activations", .type = VRT_ATTR_STRINGS, .strings = (char **)acts, .n = 1};
  vrt_node_add_attr(&n, &a);
  assert_int_equal(nn_run(&n, in, 3, out, 2), VRT_EUNSUPPORTED);
  op_test_node_free(&n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rnn),
      cmocka_unit_test(test_gru),
      cmocka_unit_test(test_lstm),
      cmocka_unit_test(test_rnn_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
