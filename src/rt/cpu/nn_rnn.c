/* Recurrent layers RNN, GRU and LSTM (ONNX opset 14 form): forward,
 * reverse or bidirectional, layout 0 ([seq, batch, ...]) or 1 ([batch,
 * seq, ...]), per-batch sequence_lens, initial states, LSTM peepholes and
 * input_forget, GRU linear_before_reset, clip, and the activation lists.
 * Reference loops, float32: one time step at a time, gates computed from
 * W (input) and R (recurrence) with their biases. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"

enum { ACT_SIGMOID, ACT_TANH, ACT_RELU, ACT_LEAKY, ACT_HSIG, ACT_ELU, ACT_SOFTSIGN, ACT_SOFTPLUS, ACT_AFFINE,
       ACT_STANH, ACT_TRELU };

typedef struct rnn_act {
  int kind;
  float alpha, beta;
} rnn_act;

typedef struct rnn_params {
  int gates;     /* 1 RNN, 3 GRU, 4 LSTM */
  int64_t H;
  int dirs, reverse; /* reverse: single direction run backwards */
  int layout, lbr, input_forget;
  float clip;    /* 0 = none */
  rnn_act act[6]; /* per direction: f, g, h */
} rnn_params;

static float act_apply(const rnn_act *a, float x) {
  switch (a->kind) {
    case ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case ACT_TANH: return tanhf(x);
    case ACT_RELU: return x > 0 ? x : 0;
    case ACT_LEAKY: return x >= 0 ? x : a->alpha * x;
    case ACT_HSIG: {
      float v = a->alpha * x + a->beta;
      return v < 0 ? 0 : v > 1 ? 1 : v;
    }
    case ACT_ELU: return x >= 0 ? x : a->alpha * (expf(x) - 1);
    case ACT_SOFTSIGN: return x / (1 + fabsf(x));
    case ACT_SOFTPLUS: return logf(1 + expf(x));
    case ACT_AFFINE: return a->alpha * x + a->beta;
    case ACT_STANH: return a->alpha * tanhf(a->beta * x);
    default: return x > a->alpha ? x : 0; /* ThresholdedRelu */
  }
}

static int rnn_prepare(vrt_node *n) {
  static const struct {
    const char *name;
    int kind, nparams;
    float a, b;
  } names[] = {{"Sigmoid", ACT_SIGMOID, 0, 0, 0},     {"Tanh", ACT_TANH, 0, 0, 0},
               {"Relu", ACT_RELU, 0, 0, 0},           {"LeakyRelu", ACT_LEAKY, 1, 0.01f, 0},
               {"HardSigmoid", ACT_HSIG, 2, 0.2f, 0.5f}, {"Elu", ACT_ELU, 1, 1.0f, 0},
               {"Softsign", ACT_SOFTSIGN, 0, 0, 0},   {"Softplus", ACT_SOFTPLUS, 0, 0, 0},
               {"Affine", ACT_AFFINE, 2, 1.0f, 0},    {"ScaledTanh", ACT_STANH, 2, 1.0f, 1.0f},
               {"ThresholdedRelu", ACT_TRELU, 1, 1.0f, 0}};
  rnn_params *p = calloc(1, sizeof *p);
  if (!p) return NN_ERR(n, VRT_ENOMEM, "out of memory");
  int rc = 0;
  p->gates = n->op == VRT_OP_RNN ? 1 : n->op == VRT_OP_GRU ? 3 : 4;
  int nact = n->op == VRT_OP_RNN ? 1 : n->op == VRT_OP_GRU ? 2 : 3;
  p->H = vrt_attr_int(n, "hidden_size", 0);
  p->layout = (int)vrt_attr_int(n, "layout", 0);
  p->lbr = vrt_attr_int(n, "linear_before_reset", 0) != 0;
  p->input_forget = vrt_attr_int(n, "input_forget", 0) != 0;
  p->clip = vrt_attr_float(n, "clip", 0);
  const char *dir = vrt_attr_string(n, "direction", "forward");
  p->dirs = 1;
  if (!strcmp(dir, "bidirectional")) p->dirs = 2;
  else if (!strcmp(dir, "reverse")) p->reverse = 1;
  else if (strcmp(dir, "forward")) rc = NN_ERR(n, VRT_EINVAL, "bad direction '%s'", dir);
  if (!rc && (p->H < 1 || p->H > (1 << 20))) rc = NN_ERR(n, VRT_EINVAL, "hidden_size must be >= 1");
  if (!rc && (p->layout < 0 || p->layout > 1)) rc = NN_ERR(n, VRT_EINVAL, "bad layout");
  if (!rc && p->clip < 0) rc = NN_ERR(n, VRT_EINVAL, "clip must be positive");
  const vrt_attr *acts = vrt_node_attr(n, "activations");
  const float *al, *be;
  int nal = vrt_attr_floats(n, "activation_alpha", &al), nbe = vrt_attr_floats(n, "activation_beta", &be);
  int ial = 0, ibe = 0;
  for (int d = 0; d < p->dirs && !rc; d++)
    for (int k = 0; k < nact && !rc; k++) {
      const char *s = NULL;
      if (acts && acts->type == VRT_ATTR_STRINGS) {
        int idx = d * nact + k;
        if (idx >= acts->n) {
          rc = NN_ERR(n, VRT_EINVAL, "activations lists %d functions, need %d", acts->n, nact * p->dirs);
          break;
        }
        s = acts->strings[idx];
      } else {
        s = k == 0 && n->op != VRT_OP_RNN ? "Sigmoid" : "Tanh";
      }
      size_t j = 0;
      for (; j < sizeof names / sizeof names[0]; j++)
        if (!strcmp(s, names[j].name)) break;
      if (j == sizeof names / sizeof names[0]) {
        rc = NN_ERR(n, VRT_EUNSUPPORTED, "activation '%s' is not supported", s);
        break;
      }
      rnn_act *a = &p->act[d * 3 + k];
      a->kind = names[j].kind;
      a->alpha = names[j].a;
      a->beta = names[j].b;
      if (names[j].nparams >= 1 && ial < nal) a->alpha = al[ial++];
      if (names[j].nparams >= 2 && ibe < nbe) a->beta = be[ibe++];
    }
  return nn_params_keep(n, p, rc);
}

typedef struct rnn_geom {
  int64_t S, B, I, H, G, D;
} rnn_geom;

/* Inputs: X, W, R, B, sequence_lens, initial_h, [initial_c, P] (LSTM). */
static int rnn_check(const vrt_node *n, const vrt_tensor *const *in, int nin, rnn_geom *g) {
  const rnn_params *p = n->params;
  const vrt_tensor *x = in[0], *w = in[1], *r = in[2];
  for (int i = 0; i < nin; i++)
    if (in[i] && i != 4 && in[i]->dtype != VRT_F32) return NN_ERR(n, VRT_ETYPE, "input %d must be float32", i);
  if (x->ndim != 3 || w->ndim != 3 || r->ndim != 3) return NN_ERR(n, VRT_ESHAPE, "X, W and R must be 3-D");
  g->S = p->layout ? x->dims[1] : x->dims[0];
  g->B = p->layout ? x->dims[0] : x->dims[1];
  g->I = x->dims[2];
  g->H = p->H;
  g->G = p->gates;
  g->D = p->dirs;
  if (w->dims[0] != g->D || w->dims[1] != g->G * g->H || w->dims[2] != g->I || r->dims[0] != g->D ||
      r->dims[1] != g->G * g->H || r->dims[2] != g->H)
    return NN_ERR(n, VRT_ESHAPE, "W must be [%lld,%lld,%lld] and R [%lld,%lld,%lld]", (long long)g->D,
                  (long long)(g->G * g->H), (long long)g->I, (long long)g->D, (long long)(g->G * g->H), (long long)g->H);
  if (nin > 3 && in[3] && vrt_tensor_numel(in[3]) != g->D * 2 * g->G * g->H)
    return NN_ERR(n, VRT_ESHAPE, "B must have %lld elements", (long long)(g->D * 2 * g->G * g->H));
  if (nin > 4 && in[4]) {
    if ((in[4]->dtype != VRT_I32 && in[4]->dtype != VRT_I64) || vrt_tensor_numel(in[4]) != g->B)
      return NN_ERR(n, VRT_ESHAPE, "sequence_lens must be int32 [%lld]", (long long)g->B);
    if (!in[4]->data) return VRT_ENEEDDATA;
  }
  for (int i = 5; i < 7 && i < nin; i++)
    if (in[i] && vrt_tensor_numel(in[i]) != g->D * g->B * g->H)
      return NN_ERR(n, VRT_ESHAPE, "initial state %d must have %lld elements", i, (long long)(g->D * g->B * g->H));
  if (nin > 7 && in[7] && vrt_tensor_numel(in[7]) != g->D * 3 * g->H)
    return NN_ERR(n, VRT_ESHAPE, "P must have %lld elements", (long long)(g->D * 3 * g->H));
  return 0;
}

static int rnn_infer(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout) {
  const rnn_params *p = n->params;
  rnn_geom g;
  int rc = rnn_check(n, in, nin, &g);
  if (rc) return rc;
  for (int k = 0; k < nout; k++) {
    out[k].dtype = VRT_F32;
    if (k == 0) {
      out[k].ndim = 4;
      int64_t y[4] = {g.S, g.D, g.B, g.H}, yl[4] = {g.B, g.S, g.D, g.H};
      memcpy(out[k].dims, p->layout ? yl : y, sizeof y);
    } else {
      out[k].ndim = 3;
      int64_t h[3] = {g.D, g.B, g.H}, hl[3] = {g.B, g.D, g.H};
      memcpy(out[k].dims, p->layout ? hl : h, sizeof h);
    }
  }
  return 0;
}

/* index helpers for the two layouts */
static int64_t x_at(const rnn_params *p, const rnn_geom *g, int64_t t, int64_t b) {
  return p->layout ? (b * g->S + t) * g->I : (t * g->B + b) * g->I;
}
static int64_t y_at(const rnn_params *p, const rnn_geom *g, int64_t t, int64_t d, int64_t b) {
  return p->layout ? ((b * g->S + t) * g->D + d) * g->H : ((t * g->D + d) * g->B + b) * g->H;
}
static int64_t h_at(const rnn_params *p, const rnn_geom *g, int64_t d, int64_t b) {
  return p->layout ? (b * g->D + d) * g->H : (d * g->B + b) * g->H;
}

static float clipv(float v, float c) { return c > 0 ? (v < -c ? -c : v > c ? c : v) : v; }

static int rnn_exec(const vrt_node *n, const vrt_tensor *const *in, int nin, vrt_tensor *out, int nout,
                    vrt_exec_ctx *ctx) {
  const rnn_params *p = n->params;
  rnn_geom g;
  int rc = rnn_check(n, in, nin, &g);
  if (rc) return rc == VRT_ENEEDDATA ? NN_ERR(n, VRT_EINVAL, "sequence_lens has no data") : rc;
  int64_t H = g.H, GH = g.G * g.H;
  const float *X = in[0]->data, *W = in[1]->data, *R = in[2]->data;
  const float *Bs = nin > 3 && in[3] ? in[3]->data : NULL;
  const vrt_tensor *sl = nin > 4 ? in[4] : NULL;
  const float *h0 = nin > 5 && in[5] ? in[5]->data : NULL, *c0 = nin > 6 && in[6] ? in[6]->data : NULL;
  const float *P = nin > 7 && in[7] ? in[7]->data : NULL;
  float *Y = nout > 0 ? out[0].data : NULL, *Yh = nout > 1 ? out[1].data : NULL, *Yc = nout > 2 ? out[2].data : NULL;
  float *h = ctx->scratch(ctx, sizeof(float) * (size_t)(5 * H + 2 * GH + 1));
  if (!h) return NN_ERR(n, VRT_ENOMEM, "out of memory");
  float *c = h + H, *hn = c + H, *zg = hn + H, *rg = zg + H, *xw = rg + H, *hr = xw + GH;
  if (Y) memset(Y, 0, sizeof(float) * (size_t)vrt_tensor_numel(&out[0]));
  for (int64_t d = 0; d < g.D; d++) {
    const float *Wd = W + d * GH * g.I, *Rd = R + d * GH * H;
    const float *Wb = Bs ? Bs + d * 2 * GH : NULL, *Rb = Bs ? Bs + d * 2 * GH + GH : NULL;
    const float *Pd = P ? P + d * 3 * H : NULL;
    const rnn_act *f = &p->act[d * 3], *ga = &p->act[d * 3 + 1], *ha = &p->act[d * 3 + 2];
    bool backward = d == 1 || p->reverse;
    for (int64_t b = 0; b < g.B; b++) {
      int64_t len = sl ? vrt__get_i64(sl, b) : g.S;
      if (len < 0 || len > g.S) return NN_ERR(n, VRT_EINVAL, "sequence length %lld out of range", (long long)len);
      int64_t hi = (p->layout ? b * g.D + d : d * g.B + b) * H; /* same index in initial_h and Y_h */
      for (int64_t k = 0; k < H; k++) {
        h[k] = h0 ? h0[hi + k] : 0;
        c[k] = c0 ? c0[hi + k] : 0;
      }
      for (int64_t s = 0; s < len; s++) {
        int64_t t = backward ? len - 1 - s : s;
        const float *xt = X + x_at(p, &g, t, b);
        for (int64_t j = 0; j < GH; j++) {
          float a = Wb ? Wb[j] : 0, r = Rb ? Rb[j] : 0;
          for (int64_t k = 0; k < g.I; k++) a += Wd[j * g.I + k] * xt[k];
          for (int64_t k = 0; k < H; k++) r += Rd[j * H + k] * h[k];
          xw[j] = a;
          hr[j] = r;
        }
        if (g.G == 1) { /* RNN */
          for (int64_t k = 0; k < H; k++) hn[k] = act_apply(f, clipv(xw[k] + hr[k], p->clip));
        } else if (g.G == 3) { /* GRU: gates z, r, h */
          for (int64_t k = 0; k < H; k++) {
            zg[k] = act_apply(f, clipv(xw[k] + hr[k], p->clip));
            rg[k] = act_apply(f, clipv(xw[H + k] + hr[H + k], p->clip));
          }
          for (int64_t k = 0; k < H; k++) {
            float pre;
            if (p->lbr) {
              pre = xw[2 * H + k] + rg[k] * hr[2 * H + k];
            } else { /* (r . h_prev) R_h^T + Rb_h */
              float s2 = Rb ? Rb[2 * H + k] : 0;
              for (int64_t q = 0; q < H; q++) s2 += Rd[(2 * H + k) * H + q] * (rg[q] * h[q]);
              pre = xw[2 * H + k] + s2;
            }
            float hh = act_apply(ga, clipv(pre, p->clip));
            hn[k] = (1 - zg[k]) * hh + zg[k] * h[k];
          }
        } else { /* LSTM: gates i, o, f, c */
          for (int64_t k = 0; k < H; k++) {
            float ig = act_apply(f, clipv(xw[k] + hr[k] + (Pd ? Pd[k] * c[k] : 0), p->clip));
            float fg = p->input_forget ? 1 - ig
                                       : act_apply(f, clipv(xw[2 * H + k] + hr[2 * H + k] + (Pd ? Pd[2 * H + k] * c[k] : 0), p->clip));
            float cg = act_apply(ga, clipv(xw[3 * H + k] + hr[3 * H + k], p->clip));
            float cn = fg * c[k] + ig * cg;
            float og = act_apply(f, clipv(xw[H + k] + hr[H + k] + (Pd ? Pd[H + k] * cn : 0), p->clip));
            hn[k] = og * act_apply(ha, cn);
            c[k] = cn;
          }
        }
        memcpy(h, hn, sizeof(float) * (size_t)H);
        if (Y) memcpy(Y + y_at(p, &g, t, d, b), h, sizeof(float) * (size_t)H);
      }
      if (Yh) memcpy(Yh + h_at(p, &g, d, b), h, sizeof(float) * (size_t)H);
      if (Yc) memcpy(Yc + h_at(p, &g, d, b), c, sizeof(float) * (size_t)H);
    }
  }
  return 0;
}

const vrt_opdef vrt__op_RNN = {
    .op = VRT_OP_RNN, .prepare = rnn_prepare, .infer = rnn_infer, .exec = rnn_exec, .min_inputs = 3, .max_inputs = 6,
};
const vrt_opdef vrt__op_GRU = {
    .op = VRT_OP_GRU, .prepare = rnn_prepare, .infer = rnn_infer, .exec = rnn_exec, .min_inputs = 3, .max_inputs = 6,
};
const vrt_opdef vrt__op_LSTM = {
    .op = VRT_OP_LSTM, .prepare = rnn_prepare, .infer = rnn_infer, .exec = rnn_exec, .min_inputs = 3, .max_inputs = 8,
};
