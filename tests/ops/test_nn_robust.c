/* Robustness of the nn kernels: thousands of random nodes (random dtypes,
 * ranks, dims, omitted inputs, attribute values including nonsense) must
 * either run or fail with a status and a message that names the node;
 * never crash, hang or touch memory they do not own (run it under ASan). */
#include "test_nn_util.h"

static uint32_t rng_state;

static uint32_t rnd(uint32_t n) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return n ? (rng_state >> 8) % n : 0;
}

static const vrt_op nn_ops[] = {
    VRT_OP_Conv,           VRT_OP_ConvTranspose,         VRT_OP_MaxPool,           VRT_OP_AveragePool,
    VRT_OP_GlobalAveragePool, VRT_OP_GlobalMaxPool,      VRT_OP_LpPool,            VRT_OP_MatMul,
    VRT_OP_Gemm,           VRT_OP_Einsum,                VRT_OP_BatchNormalization, VRT_OP_InstanceNormalization,
    VRT_OP_LayerNormalization, VRT_OP_GroupNormalization, VRT_OP_LpNormalization,  VRT_OP_Softmax,
    VRT_OP_LogSoftmax,     VRT_OP_Hardmax,               VRT_OP_Resize,            VRT_OP_Upsample,
    VRT_OP_TopK,           VRT_OP_NonMaxSuppression,     VRT_OP_NegativeLogLikelihoodLoss,
    VRT_OP_SoftmaxCrossEntropyLoss, VRT_OP_LRN,          VRT_OP_MaxUnpool,         VRT_OP_GridSample,
    VRT_OP_ConvInteger,    VRT_OP_MatMulInteger,         VRT_OP_QLinearConv,       VRT_OP_QLinearMatMul,
    VRT_OP_RNN,            VRT_OP_GRU,                   VRT_OP_LSTM,              VRT_OP_MeanVarianceNormalization,
    VRT_OP_RoiAlign,
};

static void rand_ints(int64_t *v, int n, int lo, int hi) {
  for (int i = 0; i < n; i++) v[i] = lo + (int64_t)rnd((uint32_t)(hi - lo + 1));
}

static void add_random_attrs(vrt_node *n) {
  static const char *pads[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID", "BOGUS"};
  static const char *modes[] = {"nearest", "linear", "cubic", "bilinear", "area"};
  static const char *ctms[] = {"half_pixel", "align_corners", "asymmetric", "tf_crop_and_resize",
                               "pytorch_half_pixel", "half_pixel_symmetric", "tf_half_pixel_for_nn", "x"};
  static const char *nms[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "up"};
  static const char *eqs[] = {"ij,jk->ik", "ii->i", "...ij->...ji", "ij->", "i,i", "bij,bjk->bik",
                              "ij,,jk", "->", "a...b...", "ij->k", "iJ,Jk", "abc,cd->abd", "", "..."};
  static const char *acts[] = {"Relu", "Relu6", "LeakyRelu", "Sigmoid", "Tanh", "Elu", "HardSwish", "Prelu", "Nope"};
  int64_t v[8];
  int k;
  if (rnd(2)) k = (int)rnd(4), rand_ints(v, k, 0, 3), vrt_node_set_ints(n, "kernel_shape", v, k);
  if (rnd(3) == 0) k = (int)rnd(4), rand_ints(v, k, 0, 3), vrt_node_set_ints(n, "strides", v, k);
  if (rnd(3) == 0) k = (int)rnd(4), rand_ints(v, k, 0, 2), vrt_node_set_ints(n, "dilations", v, k);
  if (rnd(3) == 0) k = (int)rnd(7), rand_ints(v, k, -1, 2), vrt_node_set_ints(n, "pads", v, k);
  if (rnd(4) == 0) k = (int)rnd(4), rand_ints(v, k, -1, 2), vrt_node_set_ints(n, "output_padding", v, k);
  if (rnd(4) == 0) k = (int)rnd(5), rand_ints(v, k, 0, 6), vrt_node_set_ints(n, "output_shape", v, k);
  if (rnd(4) == 0) k = (int)rnd(4), rand_ints(v, k, -4, 4), vrt_node_set_ints(n, "axes", v, k);
  if (rnd(3) == 0) vrt_node_set_int(n, "group", (int64_t)rnd(4));
  if (rnd(3) == 0) vrt_node_set_int(n, "axis", (int64_t)rnd(9) - 4);
  if (rnd(4) == 0) vrt_node_set_int(n, "vrt_layout", (int64_t)rnd(3));
  if (rnd(4) == 0) vrt_node_set_int(n, "ceil_mode", (int64_t)rnd(2));
  if (rnd(4) == 0) vrt_node_set_int(n, "count_include_pad", (int64_t)rnd(2));
  if (rnd(4) == 0) vrt_node_set_int(n, "transA", (int64_t)rnd(2));
  if (rnd(4) == 0) vrt_node_set_int(n, "transB", (int64_t)rnd(2));
  if (rnd(4) == 0) vrt_node_set_int(n, "p", (int64_t)rnd(4));
  if (rnd(4) == 0) vrt_node_set_int(n, "largest", (int64_t)rnd(2));
  if (rnd(4) == 0) vrt_node_set_int(n, "num_groups", (int64_t)rnd(4));
  if (rnd(4) == 0) vrt_node_set_int(n, "training_mode", (int64_t)rnd(2));
  if (rnd(4) == 0) vrt_node_set_int(n, "center_point_box", (int64_t)rnd(2));
  if (rnd(4) == 0) vrt_node_set_int(n, "exclude_outside", (int64_t)rnd(2));
  if (rnd(4) == 0) vrt_node_set_int(n, "storage_order", (int64_t)rnd(2));
  if ((n->op == VRT_OP_MaxUnpool || n->op == VRT_OP_MaxPool) && rnd(2)) /* a usable 2-D kernel */
    v[0] = 1 + rnd(2), v[1] = 1 + rnd(2), vrt_node_set_ints(n, "kernel_shape", v, 2);
  if (rnd(2) == 0 || n->op == VRT_OP_LRN) vrt_node_set_int(n, "size", (int64_t)rnd(5));
  if (rnd(4) == 0) vrt_node_set_string(n, "reduction", rnd(2) ? "sum" : "none");
  if (rnd(4) == 0) vrt_node_set_int(n, "ignore_index", (int64_t)rnd(4) - 1);
  if (rnd(4)) vrt_node_set_int(n, "hidden_size", rnd(8) ? 2 : (int64_t)rnd(3));
  if (rnd(4) == 0) vrt_node_set_string(n, "direction", rnd(2) ? "reverse" : "bidirectional");
  if (rnd(4) == 0) vrt_node_set_int(n, "linear_before_reset", (int64_t)rnd(2));
  if (rnd(4) == 0) vrt_node_set_float(n, "clip", (float)rnd(3));
  if (rnd(4) == 0) vrt_node_set_int(n, "layout", (int64_t)rnd(3));
  if (rnd(4) == 0) vrt_node_set_float(n, "epsilon", (float)rnd(3) * 1e-3f);
  if (rnd(3) == 0) vrt_node_set_string(n, "auto_pad", pads[rnd(5)]);
  if (rnd(2) == 0) vrt_node_set_string(n, "mode", modes[rnd(5)]);
  if (rnd(2) == 0) vrt_node_set_string(n, "coordinate_transformation_mode", ctms[rnd(8)]);
  if (rnd(3) == 0) vrt_node_set_string(n, "nearest_mode", nms[rnd(5)]);
  if (rnd(3) == 0) vrt_node_set_string(n, "padding_mode", rnd(2) ? "border" : "reflection");
  if (rnd(3) == 0) vrt_node_set_int(n, "align_corners", (int64_t)rnd(2));
  if (rnd(2) == 0 || n->op == VRT_OP_Einsum) vrt_node_set_string(n, "equation", eqs[rnd(14)]);
  if (rnd(4) == 0) vrt_node_set_string(n, "vrt_act", acts[rnd(9)]);
  if (rnd(6) == 0) {
    float f[4] = {(float)rnd(4), (float)rnd(3), 0.5f, 2};
    vrt_node_set_floats(n, "scales", f, (int)rnd(5));
  }
}

/* Plausible companion inputs derived from input 0 (x, 4-D here), so the
 * kernels' success paths are reached too: returns the shape and dtype of
 * input i, or false to keep the random one. */
static bool hint(vrt_op op, int i, const int64_t *x, vrt_dtype *t, int *nd, int64_t *d) {
  int64_t C = x[1], k = 1 + rnd(3);
  *t = VRT_F32;
  switch (op) {
    case VRT_OP_Conv:
    case VRT_OP_ConvInteger:
    case VRT_OP_QLinearConv:
      if (i == (op == VRT_OP_QLinearConv ? 3 : 1)) return *nd = 4, d[0] = 1 + rnd(4), d[1] = C, d[2] = d[3] = k, true;
      return false;
    case VRT_OP_MatMulInteger:
    case VRT_OP_QLinearMatMul:
      if (i == (op == VRT_OP_QLinearMatMul ? 3 : 1)) return *nd = 2, d[0] = x[3], d[1] = 1 + rnd(4), true;
      return false;
    case VRT_OP_ConvTranspose:
      if (i == 1) return *nd = 4, d[0] = C, d[1] = 1 + rnd(3), d[2] = d[3] = k, true;
      return false;
    case VRT_OP_Gemm:
      if (i == 1) return *nd = 2, d[0] = x[1], d[1] = 1 + rnd(4), true; /* with x seen as 2-D below */
      if (i == 2) return *nd = 1, d[0] = 1, true;
      return false;
    case VRT_OP_MatMul:
      if (i == 1) return *nd = 2, d[0] = x[3], d[1] = 1 + rnd(4), true;
      return false;
    case VRT_OP_BatchNormalization:
    case VRT_OP_InstanceNormalization:
    case VRT_OP_GroupNormalization:
      return *nd = 1, d[0] = C, true;
    case VRT_OP_LayerNormalization:
      return *nd = 1, d[0] = x[3], true;
    case VRT_OP_TopK:
      if (i == 1) return *t = VRT_I64, *nd = 1, d[0] = 1, true;
      return false;
    case VRT_OP_Resize:
      if (i == 2) return *nd = 1, d[0] = 4, true;
      if (i == 3) return *t = VRT_I64, *nd = 1, d[0] = 4, true;
      return false;
    case VRT_OP_Upsample:
      return *nd = 1, d[0] = 4, true;
    case VRT_OP_NegativeLogLikelihoodLoss:
    case VRT_OP_SoftmaxCrossEntropyLoss:
      if (i == 1) return *t = VRT_I64, *nd = 3, d[0] = x[0], d[1] = x[2], d[2] = x[3], true;
      return *nd = 1, d[0] = C, true;
    case VRT_OP_MaxUnpool:
      if (i == 1) return *t = VRT_I64, *nd = 4, memcpy(d, x, sizeof(int64_t) * 4), true;
      return *t = VRT_I64, *nd = 1, d[0] = 4, true;
    case VRT_OP_RNN:
    case VRT_OP_GRU:
    case VRT_OP_LSTM: { /* x is [S, B, I]; hidden_size 2 */
      int64_t G = op == VRT_OP_RNN ? 1 : op == VRT_OP_GRU ? 3 : 4;
      if (i == 1) return *nd = 3, d[0] = 1, d[1] = 2 * G, d[2] = x[2], true;
      if (i == 2) return *nd = 3, d[0] = 1, d[1] = 2 * G, d[2] = 2, true;
      if (i == 3) return *nd = 2, d[0] = 1, d[1] = 4 * G, true;
      if (i == 4) return *t = VRT_I32, *nd = 1, d[0] = x[1], true;
      if (i == 7) return *nd = 2, d[0] = 1, d[1] = 6, true;
      return *nd = 3, d[0] = 1, d[1] = x[1], d[2] = 2, true;
    }
    case VRT_OP_RoiAlign: /* one region of image 0 */
      if (i == 1) return *nd = 2, d[0] = 1, d[1] = 4, true;
      return *t = VRT_I64, *nd = 1, d[0] = 1, true;
    case VRT_OP_GridSample:
      return *nd = 4, d[0] = x[0], d[1] = 1 + rnd(3), d[2] = 1 + rnd(3), d[3] = 2, true;
    case VRT_OP_NonMaxSuppression:
      if (i == 1) return *nd = 3, d[0] = 1, d[1] = 1 + rnd(2), d[2] = x[2], true;
      if (i == 2) return *t = VRT_I64, *nd = 1, d[0] = 1, true;
      return *nd = 1, d[0] = 1, true;
    default: return false;
  }
}

static void test_random_nodes(void **state) {
  static const vrt_dtype types[] = {VRT_F32, VRT_F32, VRT_F32, VRT_I64, VRT_I64, VRT_I32, VRT_U8, VRT_F64};
  int ran = 0, failed = 0, iters = 20000, ran_op[VRT_OP_COUNT] = {0};
  const char *e = getenv("NN_ROBUST_ITERS"); /* deeper runs by hand */
  if (e && atoi(e) > 0) iters = atoi(e);
  for (int iter = 0; iter < iters; iter++) {
    rng_state = 0x9e3779b9u ^ (uint32_t)iter * 2654435761u;
    vrt_op op = nn_ops[rnd(sizeof nn_ops / sizeof nn_ops[0])];
    const vrt_opdef *d = vrt_opdef_get(op);
    assert_non_null(d);
    int maxin = d->max_inputs < 0 ? 4 : d->max_inputs;
    int nin = d->min_inputs + (int)rnd((uint32_t)(maxin - d->min_inputs + 1));
    int maxout = op == VRT_OP_MaxPool || op == VRT_OP_TopK ? 2
                 : op == VRT_OP_LayerNormalization || op == VRT_OP_BatchNormalization ? 3 : 1;
    int nout = 1 + (int)rnd((uint32_t)(maxout + (rnd(10) == 0))); /* sometimes one too many */
    vrt_node n = op_test_node(op, nin, nout);
    add_random_attrs(&n);
    vrt_tensor in[12];
    void *bufs[12] = {0};
    memset(in, 0, sizeof in);
    int64_t x0[8] = {0};
    bool hinted = false;
    for (int i = 0; i < nin; i++) {
      if (i >= d->min_inputs && rnd(4) == 0) continue; /* omitted optional input */
      vrt_dtype t = rnd(10) < 7 ? VRT_F32 : types[rnd(8)];
      int nd = (int)rnd(6);
      int64_t dims[8];
      for (int a = 0; a < nd; a++) dims[a] = rnd(8) == 0 ? 0 : 1 + (int64_t)rnd(4);
      if (i == 0 && rnd(3)) { /* bias towards shapes conv/pool accept */
        nd = 4;
        dims[0] = 1, dims[1] = 1 + rnd(3), dims[2] = 1 + rnd(5), dims[3] = 1 + rnd(5);
        if (op == VRT_OP_NonMaxSuppression) nd = 3, dims[1] = 2 + rnd(4), dims[2] = 4;
        if (op == VRT_OP_Gemm) nd = 2, dims[0] = 1 + rnd(3);
        if (op == VRT_OP_RNN || op == VRT_OP_GRU || op == VRT_OP_LSTM) nd = 3, dims[1] = 1 + rnd(2), dims[2] = 1 + rnd(3);
        memcpy(x0, dims, sizeof x0);
        hinted = true;
      } else if (i > 0 && hinted && rnd(4)) {
        hint(op, i, x0, &t, &nd, dims);
      }
      /* quantized ops: 8-bit data and zero points, float scales, int32 bias */
      if ((op == VRT_OP_ConvInteger || op == VRT_OP_MatMulInteger) && rnd(4)) t = VRT_U8;
      if ((op == VRT_OP_QLinearConv || op == VRT_OP_QLinearMatMul) && rnd(8)) {
        t = i == 1 || i == 4 || i == 6 ? VRT_F32 : i == 8 ? VRT_I32 : VRT_U8;
        if (i != 0 && i != 3 && i != 8) nd = 0; /* per-tensor scales and zero points */
      }
      int64_t ne = vrt__numel(dims, nd);
      size_t es = vrt_dtype_size(t);
      bufs[i] = calloc((size_t)(ne > 0 ? ne : 1), es);
      for (int64_t e = 0; e < ne; e++) {
        int64_t v = (int64_t)rnd(9) - 3;
        switch (t) {
          case VRT_F32: ((float *)bufs[i])[e] = (float)v * 0.5f; break;
          case VRT_F64: ((double *)bufs[i])[e] = (double)v * 0.5; break;
          case VRT_I64: ((int64_t *)bufs[i])[e] = v; break;
          case VRT_I32: ((int32_t *)bufs[i])[e] = (int32_t)v; break;
          default: ((uint8_t *)bufs[i])[e] = (uint8_t)v; break;
        }
      }
      bool loss = op == VRT_OP_NegativeLogLikelihoodLoss || op == VRT_OP_SoftmaxCrossEntropyLoss;
      if ((op == VRT_OP_MaxUnpool || loss) && i == 1 && t == VRT_I64) /* mostly valid positions/classes */
        for (int64_t e = 0; e < ne; e++) ((int64_t *)bufs[i])[e] = llabs(((int64_t *)bufs[i])[e]) % (loss ? 2 : 4);
      if (op == VRT_OP_RoiAlign && i == 2 && t == VRT_I64 && ne > 0 && rnd(2)) ((int64_t *)bufs[i])[0] = 0;
      in[i] = op_test_tensor(t, nd, dims, bufs[i]);
    }
    vrt_tensor out[4];
    vrt__err_clear();
    int rc = nn_run(&n, in, nin, out, nout);
    if (rc == 0) {
      for (int k = 0; k < nout; k++) {
        assert_true(out[k].ndim >= 0 && out[k].ndim <= VRT_MAX_DIMS);
        assert_true(vrt_tensor_numel(&out[k]) >= 0);
      }
      nn_out_free(out, nout);
      ran++;
      ran_op[op]++;
    } else {
      const char *dbg = getenv("NN_ROBUST_DEBUG"); /* op name: print why its nodes were rejected */
      if (dbg && !strcmp(dbg, vrt_op_name(op))) printf("  rejected: %s\n", vrt_last_error());
      assert_true(rc < 0);
      assert_string_not_equal(vrt_strerror(rc), "unknown status");
      assert_true(vrt_last_error()[0] != 0);
      failed++;
    }
    op_test_node_free(&n);
    for (int i = 0; i < 12; i++) free(bufs[i]);
  }
  /* the generator must exercise both outcomes */
  assert_true(ran > 1000);
  assert_true(failed > 1000);
  printf("random nn nodes: %d ran, %d rejected\n", ran, failed);
  for (size_t i = 0; i < sizeof nn_ops / sizeof nn_ops[0]; i++) {
    printf("  %-24s %d ran\n", vrt_op_name(nn_ops[i]), ran_op[nn_ops[i]]);
    assert_true(ran_op[nn_ops[i]] > 0); /* every kernel was reached */
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_random_nodes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
