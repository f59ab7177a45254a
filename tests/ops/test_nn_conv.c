/* Conv and ConvTranspose: hand-computed cases, NHWC vs NCHW, fused
 * activations, the fast path against the reference on random shapes, and
 * errors on bad shapes. */
#include <pthread.h>

#include "test_nn_util.h"

static const float x33[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
static const float ones[27] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};

static void conv_case(const char *auto_pad, const int64_t *pads, int64_t stride, const float *want, int64_t oh,
                      int64_t ow) {
  vrt_node n = op_test_node(VRT_OP_Conv, 3, 1);
  if (auto_pad) vrt_node_set_string(&n, "auto_pad", auto_pad);
  if (pads) vrt_node_set_ints(&n, "pads", pads, 4);
  vrt_node_set_ints(&n, "strides", (int64_t[]){stride, stride}, 2);
  float bias = 1;
  vrt_tensor in[3] = {NN_T(VRT_F32, 4, NN_DIMS(1, 1, 3, 3), x33), NN_T(VRT_F32, 4, NN_DIMS(1, 1, 2, 2), ones),
                      NN_T(VRT_F32, 1, NN_DIMS(1), &bias)};
  vrt_tensor out;
  assert_int_equal(nn_run(&n, in, 3, &out, 1), 0);
  assert_int_equal(out.ndim, 4);
  assert_int_equal(out.dims[2], oh);
  assert_int_equal(out.dims[3], ow);
  float w1[16];
  for (int i = 0; i < oh * ow; i++) w1[i] = want[i] + 1; /* bias */
  nn_expect_f32(&out, w1, oh * ow, 1e-5);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
}

static void test_conv_basic(void **state) {
  conv_case(NULL, NULL, 1, (const float[]){8, 12, 20, 24}, 2, 2);
  conv_case("SAME_UPPER", NULL, 1, (const float[]){8, 12, 7, 20, 24, 13, 13, 15, 8}, 3, 3);
  conv_case("SAME_LOWER", NULL, 1, (const float[]){0, 1, 3, 3, 8, 12, 9, 20, 24}, 3, 3);
  conv_case(NULL, (const int64_t[]){1, 1, 0, 0}, 2, (const float[]){0, 3, 9, 24}, 2, 2);
}

static void test_conv_dilation(void **state) {
  float x[16];
  for (int i = 0; i < 16; i++) x[i] = (float)i;
  vrt_node n = op_test_node(VRT_OP_Conv, 2, 1);
  vrt_node_set_ints(&n, "dilations", (int64_t[]){2, 2}, 2);
  vrt_tensor in[2] = {NN_T(VRT_F32, 4, NN_DIMS(1, 1, 4, 4), x), NN_T(VRT_F32, 4, NN_DIMS(1, 1, 2, 2), ones)};
  vrt_tensor out;
  assert_int_equal(nn_run(&n, in, 2, &out, 1), 0);
  /* (0,0) = x00 + x02 + x20 + x22 */
  nn_expect_f32(&out, (const float[]){0 + 2 + 8 + 10, 1 + 3 + 9 + 11, 4 + 6 + 12 + 14, 5 + 7 + 13 + 15}, 4, 1e-5);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
}

/* Depthwise NHWC with a fused Relu: channel 0 doubled, channel 1 negated
 * and then clipped at zero. */
static void test_conv_nhwc_depthwise_relu(void **state) {
  const float x[8] = {1, 2, -3, 4, 5, -6, 7, 8}; /* [1,2,2,2] NHWC */
  const float w[2] = {2, -1};                    /* [2,1,1,1] */
  vrt_node n = op_test_node(VRT_OP_Conv, 2, 1);
  vrt_node_set_int(&n, "vrt_layout", 1);
  vrt_node_set_int(&n, "group", 2);
  vrt_node_set_string(&n, "vrt_act", "Relu");
  vrt_tensor in[2] = {NN_T(VRT_F32, 4, NN_DIMS(1, 2, 2, 2), x), NN_T(VRT_F32, 4, NN_DIMS(2, 1, 1, 1), w)};
  vrt_tensor out;
  assert_int_equal(nn_run(&n, in, 2, &out, 1), 0);
  assert_int_equal(out.dims[3], 2);
  nn_expect_f32(&out, (const float[]){2, 0, 0, 0, 10, 6, 14, 0}, 8, 1e-6);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
}

static void test_conv_fused_acts(void **state) {
  const float x[4] = {-2, -1, 1, 8}; /* [1,1,2,2] with 1x1 identity weights */
  const float w[1] = {1};
  struct {
    const char *act;
    float alpha;
    float want[4];
  } cases[] = {
      {"Relu6", 0, {0, 0, 1, 6}},
      {"LeakyRelu", 0.1f, {-0.2f, -0.1f, 1, 8}},
      {"Sigmoid", 0, {0.11920292f, 0.26894142f, 0.73105858f, 0.99966465f}},
      {"Tanh", 0, {-0.96402758f, -0.76159416f, 0.76159416f, 0.99999977f}},
      {"Elu", 1.0f, {-0.86466472f, -0.63212056f, 1, 8}},
      {"HardSwish", 0, {-0.33333334f, -0.33333334f, 0.66666669f, 8}},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
    for (int ref = 0; ref < 2; ref++) {
      vrt_node n = op_test_node(VRT_OP_Conv, 2, 1);
      vrt_node_set_string(&n, "vrt_act", cases[c].act);
      if (cases[c].alpha) vrt_node_set_float(&n, "vrt_act_alpha", cases[c].alpha);
      vrt_tensor in[2] = {NN_T(VRT_F32, 4, NN_DIMS(1, 1, 2, 2), x), NN_T(VRT_F32, 4, NN_DIMS(1, 1, 1, 1), w)};
      vrt_tensor out;
      if (ref) setenv("VRT_REFERENCE", "1", 1);
      assert_int_equal(nn_run(&n, in, 2, &out, 1), 0);
      unsetenv("VRT_REFERENCE");
      nn_expect_f32(&out, cases[c].want, 4, 1e-5);
      nn_out_free(&out, 1);
      op_test_node_free(&n);
    }
  /* Prelu: per-channel slope as input 3 (after an omitted bias) */
  const float x2[4] = {-1, 2, -3, 4}; /* [1,2,1,2] */
  const float w2[4] = {1, 0, 0, 1};   /* identity 2x2 */
  const float slope[2] = {0.5f, 0.25f};
  vrt_node n = op_test_node(VRT_OP_Conv, 4, 1);
  vrt_node_set_string(&n, "vrt_act", "Prelu");
  vrt_tensor in[4] = {NN_T(VRT_F32, 4, NN_DIMS(1, 2, 1, 2), x2), NN_T(VRT_F32, 4, NN_DIMS(2, 2, 1, 1), w2),
                      {0}, NN_T(VRT_F32, 1, NN_DIMS(2), slope)};
  vrt_tensor out;
  assert_int_equal(nn_run(&n, in, 4, &out, 1), 0);
  nn_expect_f32(&out, (const float[]){-0.5f, 2, -0.75f, 4}, 4, 1e-6);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
}

/* NHWC and NCHW reference results agree after transposing. */
static void test_conv_layouts_agree(void **state) {
  int64_t N = 2, C = 4, H = 5, W = 6, M = 6;
  float *x = nn_rand(N * C * H * W, 1), *w = nn_rand(M * 2 * 9, 2), *b = nn_rand(M, 3);
  float *xt = malloc(sizeof(float) * N * C * H * W);
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t i = 0; i < H * W; i++) xt[(n * H * W + i) * C + c] = x[(n * C + c) * H * W + i];
  for (int ref = 0; ref < 2; ref++) {
    if (ref) setenv("VRT_REFERENCE", "1", 1);
    vrt_tensor o[2];
    for (int layout = 0; layout < 2; layout++) {
      vrt_node n = op_test_node(VRT_OP_Conv, 3, 1);
      vrt_node_set_int(&n, "vrt_layout", layout);
      vrt_node_set_int(&n, "group", 2);
      vrt_node_set_ints(&n, "pads", (int64_t[]){1, 0, 2, 1}, 4);
      vrt_node_set_ints(&n, "strides", (int64_t[]){2, 1}, 2);
      vrt_tensor in[3] = {layout ? NN_T(VRT_F32, 4, NN_DIMS(N, H, W, C), xt) : NN_T(VRT_F32, 4, NN_DIMS(N, C, H, W), x),
                          NN_T(VRT_F32, 4, NN_DIMS(M, 2, 3, 3), w), NN_T(VRT_F32, 1, NN_DIMS(M), b)};
      assert_int_equal(nn_run(&n, in, 3, &o[layout], 1), 0);
      op_test_node_free(&n);
    }
    unsetenv("VRT_REFERENCE");
    int64_t OH = o[0].dims[2], OW = o[0].dims[3];
    assert_int_equal(o[1].dims[1], OH);
    assert_int_equal(o[1].dims[2], OW);
    assert_int_equal(o[1].dims[3], M);
    const float *a = o[0].data, *t = o[1].data;
    for (int64_t n = 0; n < N; n++)
      for (int64_t m = 0; m < M; m++)
        for (int64_t i = 0; i < OH * OW; i++)
          assert_true(fabsf(a[(n * M + m) * OH * OW + i] - t[(n * OH * OW + i) * M + m]) < 1e-5f);
    nn_out_free(o, 2);
  }
  free(x);
  free(w);
  free(b);
  free(xt);
}

/* The fast path (im2col + sgemm, depthwise loops) against the reference on
 * random shapes: both layouts, groups, strides, dilations, pads, acts. */
static void test_conv_fast_vs_ref(void **state) {
  static const char *acts[] = {NULL, "Relu", "LeakyRelu", "Sigmoid", "HardSwish", "Prelu"};
  int cases = 0;
  for (int layout = 0; layout < 2; layout++)
    for (int gi = 0; gi < 3; gi++)
      for (int k = 1; k <= 3; k += 2)
        for (int s = 1; s <= 2; s++)
          for (int d = 1; d <= 2; d++) {
            int64_t C = 6, group = gi == 0 ? 1 : gi == 1 ? 2 : 6, M = gi == 2 ? 12 : 8;
            int64_t N = 1 + (cases % 2), H = 7 + (cases % 3), W = 9;
            const char *act = acts[cases % 6];
            float *x = nn_rand(N * C * H * W, (uint32_t)cases);
            float *w = nn_rand(M * (C / group) * k * k, (uint32_t)cases + 100);
            float *b = nn_rand(M, (uint32_t)cases + 200);
            float *sl = nn_rand(M, (uint32_t)cases + 300);
            vrt_node n = op_test_node(VRT_OP_Conv, 4, 1);
            vrt_node_set_int(&n, "vrt_layout", layout);
            vrt_node_set_int(&n, "group", group);
            vrt_node_set_ints(&n, "strides", (int64_t[]){s, s}, 2);
            vrt_node_set_ints(&n, "dilations", (int64_t[]){d, d}, 2);
            if (k > 1) vrt_node_set_ints(&n, "pads", (int64_t[]){1, 0, 1, 2}, 4);
            if (act) vrt_node_set_string(&n, "vrt_act", act);
            vrt_tensor in[4] = {
                layout ? NN_T(VRT_F32, 4, NN_DIMS(N, H, W, C), x) : NN_T(VRT_F32, 4, NN_DIMS(N, C, H, W), x),
                NN_T(VRT_F32, 4, NN_DIMS(M, C / group, k, k), w), NN_T(VRT_F32, 1, NN_DIMS(M), b),
                NN_T(VRT_F32, 1, NN_DIMS(M), sl)};
            double diff = nn_fast_vs_ref(&n, in, 4);
            if (diff > 1e-4) fprintf(stderr, "case %d: layout %d group %lld k %d s %d d %d: diff %g\n", cases,
                                     layout, (long long)group, k, s, d, diff);
            assert_true(diff <= 1e-4);
            op_test_node_free(&n);
            free(x);
            free(w);
            free(b);
            free(sl);
            cases++;
          }
  assert_int_equal(cases, 48);
}

/* 1-D and 3-D convs (reference path for 3-D) give hand-checkable sums. */
static void test_conv_1d_3d(void **state) {
  const float x[5] = {1, 2, 3, 4, 5};
  vrt_node n = op_test_node(VRT_OP_Conv, 2, 1);
  vrt_node_set_ints(&n, "pads", (int64_t[]){1, 1}, 2);
  vrt_tensor in[2] = {NN_T(VRT_F32, 3, NN_DIMS(1, 1, 5), x), NN_T(VRT_F32, 3, NN_DIMS(1, 1, 3), ones)};
  vrt_tensor out;
  assert_int_equal(nn_run(&n, in, 2, &out, 1), 0);
  nn_expect_f32(&out, (const float[]){3, 6, 9, 12, 9}, 5, 1e-6);
  nn_out_free(&out, 1);
  op_test_node_free(&n);

  float x3[27];
  for (int i = 0; i < 27; i++) x3[i] = (float)i;
  n = op_test_node(VRT_OP_Conv, 2, 1);
  vrt_tensor in3[2] = {NN_T(VRT_F32, 5, NN_DIMS(1, 1, 3, 3, 3), x3), NN_T(VRT_F32, 5, NN_DIMS(1, 1, 3, 3, 3), ones)};
  assert_int_equal(nn_run(&n, in3, 2, &out, 1), 0);
  assert_int_equal(out.ndim, 5);
  nn_expect_f32(&out, (const float[]){351}, 1, 1e-4);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
}

static void test_conv_errors(void **state) {
  float buf[64] = {0};
  vrt_tensor out;
  /* channels: input 3, weights expect 2 */
  vrt_node n = op_test_node(VRT_OP_Conv, 2, 1);
  vrt_tensor in[2] = {NN_T(VRT_F32, 4, NN_DIMS(1, 3, 2, 2), buf), NN_T(VRT_F32, 4, NN_DIMS(1, 2, 1, 1), buf)};
  assert_int_equal(nn_run(&n, in, 2, &out, 1), VRT_ESHAPE);
  assert_non_null(strstr(vrt_last_error(), "test_node"));
  op_test_node_free(&n);
  /* kernel larger than the input */
  n = op_test_node(VRT_OP_Conv, 2, 1);
  vrt_tensor in2[2] = {NN_T(VRT_F32, 4, NN_DIMS(1, 1, 2, 2), buf), NN_T(VRT_F32, 4, NN_DIMS(1, 1, 3, 3), buf)};
  assert_int_equal(nn_run(&n, in2, 2, &out, 1), VRT_ESHAPE);
  op_test_node_free(&n);
  /* wrong pads count */
  n = op_test_node(VRT_OP_Conv, 2, 1);
  vrt_node_set_ints(&n, "pads", (int64_t[]){1, 1}, 2);
  vrt_tensor in3[2] = {NN_T(VRT_F32, 4, NN_DIMS(1, 1, 4, 4), buf), NN_T(VRT_F32, 4, NN_DIMS(1, 1, 3, 3), buf)};
  assert_int_equal(nn_run(&n, in3, 2, &out, 1), VRT_EINVAL);
  op_test_node_free(&n);
  /* bias of the wrong length */
  n = op_test_node(VRT_OP_Conv, 3, 1);
  vrt_tensor in4[3] = {NN_T(VRT_F32, 4, NN_DIMS(1, 1, 4, 4), buf), NN_T(VRT_F32, 4, NN_DIMS(2, 1, 3, 3), buf),
                       NN_T(VRT_F32, 1, NN_DIMS(3), buf)};
  assert_int_equal(nn_run(&n, in4, 3, &out, 1), VRT_ESHAPE);
  op_test_node_free(&n);
  /* unknown fused activation */
  n = op_test_node(VRT_OP_Conv, 2, 1);
  vrt_node_set_string(&n, "vrt_act", "Swish42");
  assert_int_equal(nn_run(&n, in3, 2, &out, 1), VRT_EUNSUPPORTED);
  op_test_node_free(&n);
  /* rank 2 input */
  n = op_test_node(VRT_OP_Conv, 2, 1);
  vrt_tensor in5[2] = {NN_T(VRT_F32, 2, NN_DIMS(4, 4), buf), NN_T(VRT_F32, 2, NN_DIMS(1, 1), buf)};
  assert_int_equal(nn_run(&n, in5, 2, &out, 1), VRT_ESHAPE);
  op_test_node_free(&n);
}

static void test_convtranspose_basic(void **state) {
  const float x[4] = {1, 2, 3, 4};
  vrt_tensor out;
  /* stride 1: overlapping 2x2 footprints */
  vrt_node n = op_test_node(VRT_OP_ConvTranspose, 2, 1);
  vrt_tensor in[2] = {NN_T(VRT_F32, 4, NN_DIMS(1, 1, 2, 2), x), NN_T(VRT_F32, 4, NN_DIMS(1, 1, 2, 2), ones)};
  for (int ref = 0; ref < 2; ref++) {
    if (ref) setenv("VRT_REFERENCE", "1", 1);
    assert_int_equal(nn_run(&n, in, 2, &out, 1), 0);
    unsetenv("VRT_REFERENCE");
    nn_expect_f32(&out, (const float[]){1, 3, 2, 4, 10, 6, 3, 7, 4}, 9, 1e-6);
    nn_out_free(&out, 1);
  }
  op_test_node_free(&n);
  /* stride 2, pads 1 each side: 4x4 blocks cropped to the centre 2x2 */
  n = op_test_node(VRT_OP_ConvTranspose, 2, 1);
  vrt_node_set_ints(&n, "strides", (int64_t[]){2, 2}, 2);
  vrt_node_set_ints(&n, "pads", (int64_t[]){1, 1, 1, 1}, 4);
  assert_int_equal(nn_run(&n, in, 2, &out, 1), 0);
  nn_expect_f32(&out, (const float[]){1, 2, 3, 4}, 4, 1e-6);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
  /* output_shape larger than the natural size: zeros at the end */
  n = op_test_node(VRT_OP_ConvTranspose, 2, 1);
  vrt_node_set_ints(&n, "strides", (int64_t[]){2, 2}, 2);
  vrt_node_set_ints(&n, "output_shape", (int64_t[]){5, 4}, 2);
  assert_int_equal(nn_run(&n, in, 2, &out, 1), 0);
  assert_int_equal(out.dims[2], 5);
  assert_int_equal(out.dims[3], 4);
  nn_expect_f32(&out, (const float[]){1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4, 0, 0, 0, 0}, 20, 1e-6);
  nn_out_free(&out, 1);
  op_test_node_free(&n);
}

static void test_convtranspose_fast_vs_ref(void **state) {
  int cases = 0;
  for (int layout = 0; layout < 2; layout++)
    for (int group = 1; group <= 2; group++)
      for (int s = 1; s <= 3; s++)
        for (int d = 1; d <= 2; d++) {
          int64_t N = 2, C = 4, H = 5, W = 4, Mg = 3, k = 3;
          float *x = nn_rand(N * C * H * W, (uint32_t)cases + 7);
          float *w = nn_rand(C * Mg * k * k, (uint32_t)cases + 70);
          float *b = nn_rand(Mg * group, (uint32_t)cases + 700);
          vrt_node n = op_test_node(VRT_OP_ConvTranspose, 3, 1);
          vrt_node_set_int(&n, "vrt_layout", layout);
          vrt_node_set_int(&n, "group", group);
          vrt_node_set_ints(&n, "strides", (int64_t[]){s, s}, 2);
          vrt_node_set_ints(&n, "dilations", (int64_t[]){d, d}, 2);
          vrt_node_set_ints(&n, "pads", (int64_t[]){1, 0, 0, 1}, 4);
          if (s > 1) vrt_node_set_ints(&n, "output_padding", (int64_t[]){1, 0}, 2);
          if (cases % 2) vrt_node_set_string(&n, "vrt_act", "Relu");
          vrt_tensor in[3] = {
              layout ? NN_T(VRT_F32, 4, NN_DIMS(N, H, W, C), x) : NN_T(VRT_F32, 4, NN_DIMS(N, C, H, W), x),
              NN_T(VRT_F32, 4, NN_DIMS(C, Mg, k, k), w), NN_T(VRT_F32, 1, NN_DIMS(Mg * group), b)};
          double diff = nn_fast_vs_ref(&n, in, 3);
          assert_true(diff <= 1e-4);
          op_test_node_free(&n);
          free(x);
          free(w);
          free(b);
          cases++;
        }
  assert_int_equal(cases, 24);
}

/* A model (so a node and its params) is shared by every session thread:
 * exec must not write to it. Two threads run the same prepared node and
 * must reproduce the single-threaded result exactly. */
typedef struct share_arg {
  vrt_node *n;
  const vrt_tensor *in;
  const float *want;
  int64_t count;
  int ok;
} share_arg;

static void *share_worker(void *p) {
  share_arg *a = p;
  a->ok = 1;
  for (int r = 0; r < 10; r++) {
    vrt_tensor out;
    if (nn_run(a->n, a->in, 3, &out, 1) != 0 || memcmp(out.data, a->want, sizeof(float) * (size_t)a->count))
      a->ok = 0;
    nn_out_free(&out, 1);
  }
  return NULL;
}

static void test_conv_shared_node_threads(void **state) {
  int64_t C = 8, M = 16, H = 12, W = 12;
  float *x = nn_rand(C * H * W, 1), *w = nn_rand(M * C * 9, 2), *b = nn_rand(M, 3);
  vrt_node n = op_test_node(VRT_OP_Conv, 3, 1);
  vrt_node_set_int(&n, "vrt_layout", 1);
  vrt_node_set_ints(&n, "pads", (int64_t[]){1, 1, 1, 1}, 4);
  vrt_node_set_string(&n, "vrt_act", "Relu");
  vrt_tensor in[3] = {NN_T(VRT_F32, 4, NN_DIMS(1, H, W, C), x), NN_T(VRT_F32, 4, NN_DIMS(M, C, 3, 3), w),
                      NN_T(VRT_F32, 1, NN_DIMS(M), b)},
             want;
  assert_int_equal(nn_run(&n, in, 3, &want, 1), 0); /* prepares the params once */
  share_arg a[2];
  pthread_t th[2];
  for (int i = 0; i < 2; i++) {
    a[i] = (share_arg){&n, in, want.data, vrt_tensor_numel(&want), 0};
    assert_int_equal(pthread_create(&th[i], NULL, share_worker, &a[i]), 0);
  }
  for (int i = 0; i < 2; i++) {
    pthread_join(th[i], NULL);
    assert_true(a[i].ok);
  }
  nn_out_free(&want, 1);
  op_test_node_free(&n);
  free(x);
  free(w);
  free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conv_basic),
      cmocka_unit_test(test_conv_dilation),
      cmocka_unit_test(test_conv_nhwc_depthwise_relu),
      cmocka_unit_test(test_conv_fused_acts),
      cmocka_unit_test(test_conv_layouts_agree),
      cmocka_unit_test(test_conv_fast_vs_ref),
      cmocka_unit_test(test_conv_1d_3d),
      cmocka_unit_test(test_conv_errors),
      cmocka_unit_test(test_convtranspose_basic),
      cmocka_unit_test(test_convtranspose_fast_vs_ref),
      cmocka_unit_test(test_conv_shared_node_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
