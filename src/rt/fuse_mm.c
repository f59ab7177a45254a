/* Load-time fusion passes for transformer graphs: the erf GELU written out,
 * a bias Add after a MatMul, and the attention block (MatMul, scale, mask,
 * Softmax, MatMul) as one VrtAttention node. Same rules as fuse.c: run after
 * constant folding, swallow a node only when the value between has exactly
 * one reader and is not a graph output, leave the dead nodes (op -1) for
 * remove_dead. */
#include <math.h>
#include <stdlib.h>

#include "fuse.h"
#include "ops.h"

static vrt_node *made_by(vrt_graph *g, int v, int op) {
  vrt_node *p = vrt__fuse_producer(g, v);
  return p && p->op == op ? p : NULL;
}

/* A constant float32 scalar (any rank, one element). */
static bool scalar(const vrt_graph *g, int v, float *out) {
  if (v < 0) return false;
  const vrt_value *val = &g->values[v];
  if (!(val->flags & VRT_VAL_CONST) || val->t.dtype != VRT_F32 || !val->t.data || vrt_tensor_numel(&val->t) != 1)
    return false;
  *out = *(const float *)val->t.data;
  return true;
}

static bool near(float a, float b) { return fabsf(a - b) <= 1e-5f * fabsf(b); }

/* x * c or x / c for a constant scalar c: the other operand and the factor. */
static bool scaled(vrt_graph *g, const vrt_node *n, int *x, float *f) {
  float c;
  if (n->nin != 2) return false;
  if (n->op == VRT_OP_Div && scalar(g, n->in[1], &c) && c != 0) return *x = n->in[0], *f = 1 / c, true;
  if (n->op != VRT_OP_Mul) return false;
  if (scalar(g, n->in[1], &c)) return *x = n->in[0], *f = c, true;
  if (scalar(g, n->in[0], &c)) return *x = n->in[1], *f = c, true;
  return false;
}

/* GELU as torch exports it (approximate="none"):
 *   Mul(Mul(x, Add(Erf(Div(x, sqrt 2)), 1)), 0.5)   or the 0.5 applied to x first
 * becomes Gelu(x), which fuse_activation may then fold into a MatMul/Gemm/Conv. */
static int gelu_at(vrt_graph *g, const int *uses, int i, char *changed) {
  vrt_node *e = &g->nodes[i];
  if (e->op != VRT_OP_Erf || e->nin != 1) return 0;
  vrt_node *d = vrt__fuse_producer(g, e->in[0]);
  int x;
  float f;
  if (!d || !scaled(g, d, &x, &f) || !near(f, (float)M_SQRT1_2) || uses[d->out[0]] != 1) return 0;
  vrt_node *add = vrt__fuse_sole_reader(g, uses, e->out[0], -1);
  float one;
  if (!add || add->op != VRT_OP_Add || add->nin != 2 ||
      !scalar(g, add->in[add->in[0] == e->out[0] ? 1 : 0], &one) || one != 1.0f)
    return 0;
  /* x * (1 + erf) * 0.5, in either order of the two products */
  vrt_node *m1 = vrt__fuse_sole_reader(g, uses, add->out[0], -1), *last = NULL, *half = NULL;
  if (!m1 || m1->op != VRT_OP_Mul || m1->nin != 2) return 0;
  int other = m1->in[m1->in[0] == add->out[0] ? 1 : 0];
  int xh;
  if (other == x && uses[x] == 2) { /* Mul(x, 1 + erf) then * 0.5 */
    vrt_node *m2 = vrt__fuse_sole_reader(g, uses, m1->out[0], -1);
    if (m2 && scaled(g, m2, &xh, &f) && xh == m1->out[0] && near(f, 0.5f)) last = m2;
  } else if ((half = made_by(g, other, VRT_OP_Mul)) && uses[other] == 1 && scaled(g, half, &xh, &f) && xh == x &&
             near(f, 0.5f) && uses[x] == 2) { /* Mul(x * 0.5, 1 + erf) */
    last = m1;
  }
  if (!last) return 0;
  /* d becomes Gelu(x) producing last's value */
  int rc = vrt__fuse_rewrite(d, VRT_OP_Gelu, "Gelu", &x, 1);
  if (rc) return rc;
  vrt__fuse_take_output(g, d, last);
  e->op = -1, add->op = -1;
  if (last != m1) m1->op = -1;
  if (half) half->op = -1;
  if (changed) changed[d - g->nodes] = 1;
  return 1;
}

int vrt__fuse_gelu(vrt_graph *g, char *changed) { return vrt__fuse_pass(g, changed, gelu_at); }

/* MatMul(A, W) with W a constant [K, N], then Add of a constant bias that
 * only spans the last axis ([N], [1, N], ...): the bias becomes MatMul
 * input 2 (added by the kernel, a oneDNN bias). */
static int matmul_bias_at(vrt_graph *g, const int *uses, int i, char *changed) {
  vrt_node *add = &g->nodes[i];
  if (add->op != VRT_OP_Add || add->nin != 2 || add->nout != 1) return 0;
  for (int side = 0; side < 2; side++) {
    int y = add->in[side], b = add->in[1 - side];
    vrt_node *mm = made_by(g, y, VRT_OP_MatMul);
    if (!mm || mm->nin != 2 || mm->nout != 1 || uses[y] != 1 || vrt_node_attr(mm, "vrt_act")) continue;
    const vrt_value *w = &g->values[mm->in[1]], *bv = &g->values[b], *yv = &g->values[y];
    if (!(w->flags & VRT_VAL_CONST) || w->t.ndim != 2 || w->t.dtype != VRT_F32) continue;
    if (!(bv->flags & VRT_VAL_CONST) || bv->t.dtype != VRT_F32 || !bv->t.data || yv->t.dtype != VRT_F32) continue;
    int64_t N = w->t.dims[1];
    bool ok = bv->t.ndim >= 1 && bv->t.ndim <= yv->t.ndim && bv->t.dims[bv->t.ndim - 1] == N;
    for (int d = 0; ok && d < bv->t.ndim - 1; d++) ok = bv->t.dims[d] == 1;
    if (!ok) continue;
    int *in = realloc(mm->in, sizeof(int) * 3);
    if (!in) return vrt__err(VRT_ENOMEM, "out of memory");
    in[2] = b;
    mm->in = in;
    mm->nin = 3;
    vrt__fuse_take_output(g, mm, add);
    if (changed) changed[mm - g->nodes] = 1;
    return 1;
  }
  return 0;
}

int vrt__fuse_matmul_bias(vrt_graph *g, char *changed) { return vrt__fuse_pass(g, changed, matmul_bias_at); }

static bool static_shape(const vrt_tensor *t) {
  if (t->ndim < 0 || t->dtype != VRT_F32) return false;
  for (int d = 0; d < t->ndim; d++)
    if (t->dims[d] < 0) return false;
  return true;
}

/* t has the same last two dims as s (a Reshape between them only splits or
 * merges batch dims). */
static bool views_batch(const vrt_tensor *t, const vrt_tensor *s) {
  return t->ndim >= 2 && s->ndim >= 2 && t->dims[t->ndim - 1] == s->dims[s->ndim - 1] &&
         t->dims[t->ndim - 2] == s->dims[s->ndim - 2] && t->dims[t->ndim - 1] >= 0 && t->dims[t->ndim - 2] >= 0;
}

/* A static float mask that is 1 on every dim but the last two: the same for
 * every batch entry however the batch dims are viewed. */
static bool batch_broadcast(const vrt_tensor *m) {
  if (!static_shape(m)) return false;
  for (int d = 0; d < m->ndim - 2; d++)
    if (m->dims[d] != 1) return false;
  return true;
}

/* The attention block as torch (nn.MultiheadAttention, HF CLIP/ViT) exports it:
 *   s = MatMul([q * c1 | q / c1 | q], kt) [* c2 | / c2] [+ mask]
 *   o = MatMul(Softmax(s, axis -1), v)
 * (HF CLIP adds the mask on a [b, h, t, t] view: Reshape, Add, Reshape back;
 * fused when the mask is the same for every batch entry), 
 * becomes o = VrtAttention(q, kt, v [, mask]; scale c1 * c2), when Q, Kt and
 * V have static shapes with the same batch dims and every value in between
 * has one reader. */
static int attention_at(vrt_graph *g, const int *uses, int i, char *changed) {
  vrt_node *sm = &g->nodes[i];
  if (sm->op != VRT_OP_Softmax || sm->nin != 1 || sm->nout != 1) return 0;
  int s = sm->in[0];
  const vrt_tensor *st = &g->values[s].t;
  int64_t ax = vrt_attr_int(sm, "axis", -1);
  if (st->ndim < 2 || (ax != -1 && ax != st->ndim - 1) || uses[s] != 1) return 0;
  vrt_node *mm2 = vrt__fuse_sole_reader(g, uses, sm->out[0], -1);
  if (!mm2 || mm2->op != VRT_OP_MatMul || mm2->nin != 2 || mm2->in[0] != sm->out[0] || mm2->in[1] == s) return 0;
  float scale = 1, f;
  int mask = -1, x;
  vrt_node *p = vrt__fuse_producer(g, s);
  vrt_node *madd = NULL, *sc2 = NULL, *sc1 = NULL;
  vrt_node *rs_out = NULL, *rs_in = NULL;
  if (p && p->op == VRT_OP_Reshape && uses[p->in[0]] == 1) { /* the view around the mask Add (HF CLIP) */
    vrt_node *ad = vrt__fuse_producer(g, p->in[0]);
    for (int k = 0; ad && ad->op == VRT_OP_Add && ad->nin == 2 && k < 2 && mask < 0; k++) {
      vrt_node *r = vrt__fuse_producer(g, ad->in[k]);
      int mv = ad->in[1 - k];
      if (!r || r->op != VRT_OP_Reshape || uses[ad->in[k]] != 1 || uses[r->in[0]] != 1 ||
          !views_batch(&g->values[r->in[0]].t, st) || !batch_broadcast(&g->values[mv].t))
        continue;
      mask = mv, madd = ad, rs_out = p, rs_in = r;
      p = vrt__fuse_producer(g, r->in[0]);
    }
    if (mask < 0) return 0;
  } else if (p && p->op == VRT_OP_Add && p->nin == 2) { /* the mask: whichever operand is not the scores path */
    for (int k = 0; k < 2 && mask < 0; k++) {
      vrt_node *q = vrt__fuse_producer(g, p->in[k]);
      if (q && uses[p->in[k]] == 1 && (q->op == VRT_OP_MatMul || q->op == VRT_OP_Mul || q->op == VRT_OP_Div))
        mask = p->in[1 - k], madd = p, p = q;
    }
    if (mask < 0) return 0;
  }
  if (p && (p->op == VRT_OP_Mul || p->op == VRT_OP_Div) && scaled(g, p, &x, &f) && uses[x] == 1) {
    sc2 = p, scale *= f;
    p = vrt__fuse_producer(g, x);
  }
  if (!p || p->op != VRT_OP_MatMul || p->nin != 2) return 0;
  vrt_node *mm1 = p;
  int q = mm1->in[0], kt = mm1->in[1], v = mm2->in[1];
  vrt_node *qp = vrt__fuse_producer(g, q);
  if (qp && uses[q] == 1 && scaled(g, qp, &x, &f)) sc1 = qp, scale *= f, q = x;
  const vrt_tensor *tq = &g->values[q].t, *tk = &g->values[kt].t, *tv = &g->values[v].t;
  if (!static_shape(tq) || !static_shape(tk) || !static_shape(tv) || tq->ndim < 2 || tk->ndim != tq->ndim ||
      tv->ndim != tq->ndim)
    return 0;
  bool ok = true;
  for (int d = 0; d < tq->ndim - 2; d++) ok = ok && tk->dims[d] == tq->dims[d] && tv->dims[d] == tq->dims[d];
  if (!ok) return 0;
  if (mask >= 0) { /* broadcasts to the scores (extra leading dims of 1 allowed) */
    const vrt_tensor *tm = &g->values[mask].t;
    if (!static_shape(tm)) return 0;
    for (int d = 0; d < tm->ndim; d++) {
      int sd = st->ndim - tm->ndim + d;
      ok = ok && (tm->dims[d] == 1 || (sd >= 0 && tm->dims[d] == st->dims[sd]));
    }
    if (!ok) return 0;
  }
  int in[4] = {q, kt, v, mask}, rc;
  if ((rc = vrt__fuse_rewrite(mm2, VRT_OP_VrtAttention, "VrtAttention", in, mask >= 0 ? 4 : 3)) ||
      (rc = vrt_node_set_float(mm2, "scale", scale)))
    return rc;
  vrt_node *dead[] = {mm1, sc1, sc2, madd, sm, rs_out, rs_in};
  vrt__fuse_kill(dead, sizeof dead / sizeof dead[0]);
  if (changed) changed[mm2 - g->nodes] = 1;
  return 1;
}

int vrt__fuse_attention(vrt_graph *g, char *changed) { return vrt__fuse_pass(g, changed, attention_at); }

int vrt__fuse_transformer(vrt_graph *g, char *changed) {
  static const vrt_fuse_fn passes[] = {vrt__fuse_gelu, vrt__fuse_matmul_bias, vrt__fuse_attention};
  return vrt__fuse_seq(g, changed, passes, (int)(sizeof passes / sizeof passes[0]));
}
