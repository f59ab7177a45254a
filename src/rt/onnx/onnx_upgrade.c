/* Opset normalisation: rewrites nodes written for opsets 1..20 into the form
 * of the newest opset, so kernels see one form per op (attributes that later
 * opsets turned into inputs become constant inputs, old ops get new names). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.h"
#include "ops.h"

/* Turn attribute `attr` of node i into constant input `idx`. Ints become an
 * int64 vector; a float becomes an f32 scalar. Absent attribute: no-op. */
static int attr_to_input(onnx_ctx *c, int i, const char *attr, int idx) {
  vrt_attr *a = onnx_node_attr(&c->nodes[i], attr);
  if (!a) return 0;
  char base[300];
  snprintf(base, sizeof base, "%s:%s", c->nodes[i].name, attr);
  const char *name = NULL;
  int rc;
  if (a->type == VRT_ATTR_INTS || a->type == VRT_ATTR_INT) {
    int64_t dims[1] = {a->type == VRT_ATTR_INT ? 1 : a->n};
    const void *data = a->type == VRT_ATTR_INT ? (const void *)&a->i : (const void *)a->ints;
    rc = onnx_add_const(c, base, VRT_I64, 1, dims, data, sizeof(int64_t) * (size_t)dims[0], &name);
  } else if (a->type == VRT_ATTR_FLOAT) {
    /* a scalar of the data input's type when that is known here (graph
     * input or constant): Clip and Pad take min/max/value of type T */
    onnx_node *n = &c->nodes[i];
    int v = n->nin ? onnx_map_get(&c->values, n->in[0]) : -1;
    vrt_dtype dt = v >= 0 ? c->g->values[v].t.dtype : VRT_F32;
    union { float f; double d; uint16_t h; } x;
    size_t sz = 4;
    if (dt == VRT_F64) x.d = a->f, sz = 8;
    else if (dt == VRT_F16) x.h = vrt__f32_to_f16(a->f), sz = 2;
    else if (dt == VRT_BF16) x.h = vrt__f32_to_bf16(a->f), sz = 2;
    else x.f = a->f, dt = VRT_F32;
    rc = onnx_add_const(c, base, dt, 0, NULL, &x, sz, &name);
  } else if (a->type == VRT_ATTR_FLOATS) {
    int64_t dims[1] = {a->n};
    rc = onnx_add_const(c, base, VRT_F32, 1, dims, a->floats, sizeof(float) * (size_t)a->n, &name);
  } else {
    return vrt__err(VRT_EPARSE, "node '%s' (%s): attribute '%s' has the wrong type", c->nodes[i].name,
                    c->nodes[i].op_type, attr);
  }
  if (rc) return rc;
  onnx_node *n = &c->nodes[i];
  if (idx < n->nin && n->in[idx][0])
    return vrt__err(VRT_EPARSE, "node '%s' (%s): has both attribute and input '%s'", n->name, n->op_type, attr);
  if ((rc = onnx_node_set_input(n, idx, name))) return rc;
  onnx_node_drop_attr(n, attr);
  return 0;
}

/* Insert *n before position pos of ctx->nodes. */
static int insert_node(onnx_ctx *c, int pos, onnx_node *n) {
  int rc = onnx_push_node(c, n);
  if (rc) return rc;
  onnx_node tmp = c->nodes[c->nnodes - 1];
  memmove(&c->nodes[pos + 1], &c->nodes[pos], sizeof tmp * (size_t)(c->nnodes - 1 - pos));
  c->nodes[pos] = tmp;
  return 0;
}

static int make_node(onnx_node *n, int op, const char *name, const char *op_type, const char *in0, const char *in1,
                     const char *out) {
  memset(n, 0, sizeof *n);
  n->op = op;
  n->name = strdup(name);
  n->op_type = strdup(op_type);
  n->domain = strdup("");
  n->in = calloc(2, sizeof(char *));
  n->out = calloc(1, sizeof(char *));
  if (!n->name || !n->op_type || !n->domain || !n->in || !n->out) goto oom;
  n->nin = in1 ? 2 : 1;
  n->nout = 1;
  if (!(n->in[0] = strdup(in0)) || (in1 && !(n->in[1] = strdup(in1))) || !(n->out[0] = strdup(out))) goto oom;
  return 0;
oom:
  onnx_node_clear(n);
  return vrt__err(VRT_ENOMEM, "out of memory");
}

/* Softmax, LogSoftmax and Hardmax before opset 13 flatten the input to 2-D at
 * `axis` (default 1) and normalise over the second dimension. That equals the
 * new single-axis form when axis is the last one; otherwise the node becomes
 * Shape + Flatten + op(axis=1) + Reshape. *i is advanced past the additions. */
static int upgrade_softmax(onnx_ctx *c, int *i) {
  onnx_node *n = &c->nodes[*i];
  int64_t axis = 1;
  vrt_attr *a = onnx_node_attr(n, "axis");
  if (a && a->type == VRT_ATTR_INT) axis = a->i;
  int rank = n->nin ? onnx_map_get(&c->ranks, n->in[0]) : -1;
  if (rank < 0 && n->nout) rank = onnx_map_get(&c->ranks, n->out[0]);
  if (axis == -1 || (rank > 0 && (axis == rank - 1 || axis == -1))) return onnx_node_add_int_attr(n, "axis", axis);
  if (n->nin < 1 || n->nout < 1 || !n->in[0][0])
    return vrt__err(VRT_EGRAPH, "node '%s' (%s): needs one input and one output", n->name, n->op_type);
  char *shape = onnx_fresh_name(c, n->name), *flat = onnx_fresh_name(c, n->name), *sm = NULL;
  onnx_node s = {0}, f = {0}, r = {0};
  int rc = VRT_ENOMEM;
  if (!shape || !flat || !(sm = onnx_fresh_name(c, n->name))) goto oom;
  char *x = n->in[0], *y = n->out[0];
  char nm[512];
  snprintf(nm, sizeof nm, "%s/shape", n->name);
  if ((rc = make_node(&s, VRT_OP_Shape, nm, "Shape", x, NULL, shape))) goto out;
  snprintf(nm, sizeof nm, "%s/flatten", n->name);
  if ((rc = make_node(&f, VRT_OP_Flatten, nm, "Flatten", x, NULL, flat))) goto out;
  if ((rc = onnx_node_add_int_attr(&f, "axis", axis))) goto out;
  snprintf(nm, sizeof nm, "%s/reshape", n->name);
  if ((rc = make_node(&r, VRT_OP_Reshape, nm, "Reshape", sm, shape, y))) goto out;
  /* the op itself now reads flat and writes sm */
  n->in[0] = strdup(flat);
  n->out[0] = strdup(sm);
  if (!n->in[0] || !n->out[0]) {
    free(n->in[0]), free(n->out[0]);
    n->in[0] = x, n->out[0] = y;
    goto oom;
  }
  free(x), free(y);
  if ((rc = onnx_node_add_int_attr(n, "axis", 1)) || (rc = onnx_map_put(&c->ranks, flat, 2))) goto out;
  int pos = *i;
  if ((rc = insert_node(c, pos, &s)) || (rc = insert_node(c, pos + 1, &f)) || (rc = insert_node(c, pos + 3, &r)))
    goto out;
  *i = pos + 3;
  goto out;
oom:
  rc = vrt__err(VRT_ENOMEM, "out of memory");
out:
  onnx_node_clear(&s), onnx_node_clear(&f), onnx_node_clear(&r);
  free(shape), free(flat), free(sm);
  return rc;
}

/* Upsample (any opset) and Resize-10 become Resize in the opset-13 form:
 * inputs X, roi (omitted), scales; asymmetric coordinates, floor rounding. */
static int upgrade_resize(onnx_ctx *c, int i) {
  onnx_node *n = &c->nodes[i];
  int rc;
  if (n->op == VRT_OP_Upsample) {
    vrt_attr *m = onnx_node_attr(n, "mode");
    const char *mode = m && m->type == VRT_ATTR_STRING ? m->s : "nearest";
    if (strcmp(mode, "bilinear") == 0 || strcmp(mode, "linear") == 0) mode = "linear";
    else if (strcmp(mode, "nearest") != 0)
      return vrt__err(VRT_EUNSUPPORTED, "node '%s' (Upsample): mode '%s' is not supported", n->name, mode);
    if ((rc = onnx_node_add_string_attr(n, "mode", mode))) return rc;
    if (n->nin < 2 && (rc = attr_to_input(c, i, "scales", 1))) return rc; /* opset < 9 */
    n = &c->nodes[i];
    n->op = VRT_OP_Resize;
  }
  if (n->nin != 2)
    return vrt__err(VRT_EGRAPH, "node '%s' (%s): expected inputs X and scales", n->name, n->op_type);
  char *scales = n->in[1];
  n->in[1] = NULL;
  if ((rc = onnx_node_set_input(n, 2, scales)) || (rc = onnx_node_set_input(n, 1, ""))) {
    free(scales);
    return rc;
  }
  free(scales);
  if ((rc = onnx_node_add_string_attr(n, "coordinate_transformation_mode", "asymmetric"))) return rc;
  return onnx_node_add_string_attr(n, "nearest_mode", "floor");
}

/* Insert Unsqueeze(input k of node *ip, axes first..first+count-1) before
 * the node and make the node read its result; *ip then indexes the node. */
static int insert_unsqueeze(onnx_ctx *c, int *ip, int k, int first, int count, int rank_after) {
  int64_t axes[VRT_MAX_DIMS];
  if (count > VRT_MAX_DIMS) return vrt__err(VRT_ELIMIT, "node '%s': too many dims", c->nodes[*ip].name);
  for (int a = 0; a < count; a++) axes[a] = first + a;
  char base[300];
  snprintf(base, sizeof base, "%s:unsqueeze", c->nodes[*ip].name);
  const char *axes_name;
  int64_t dims[1] = {count};
  int rc = onnx_add_const(c, base, VRT_I64, 1, dims, axes, sizeof(int64_t) * (size_t)count, &axes_name);
  if (rc) return rc;
  char *y = onnx_fresh_name(c, base);
  onnx_node u;
  if (!y) return vrt__err(VRT_ENOMEM, "out of memory");
  if ((rc = make_node(&u, VRT_OP_Unsqueeze, base, "Unsqueeze", c->nodes[*ip].in[k], axes_name, y)) ||
      (rc = onnx_map_put(&c->ranks, y, rank_after)) || (rc = onnx_node_set_input(&c->nodes[*ip], k, y)) ||
      (rc = insert_node(c, *ip, &u))) {
    onnx_node_clear(&u);
    free(y);
    return rc;
  }
  free(y);
  (*ip)++;
  return 0;
}

/* Opsets 1..6: attributes that later opsets dropped, and the legacy
 * broadcasting that aligned B at `axis` (binary ops) or at the channel
 * (PRelu): B gets the trailing 1-dims that numpy broadcasting needs. */
static int upgrade_legacy(onnx_ctx *c, int *ip) {
  int i = *ip;
  onnx_node *n = &c->nodes[i];
  int O = c->opset;
  onnx_node_drop_attr(n, "consumed_inputs");
  switch (n->op) {
    case VRT_OP_Add: case VRT_OP_Sub: case VRT_OP_Mul: case VRT_OP_Div: case VRT_OP_Pow: case VRT_OP_And:
    case VRT_OP_Or: case VRT_OP_Xor: case VRT_OP_Equal: case VRT_OP_Greater: case VRT_OP_Less: case VRT_OP_Gemm: {
      /* legacy broadcast aligns the trailing dims, as numpy does, unless an axis is given */
      vrt_attr *b = onnx_node_attr(n, "broadcast"), *ax = onnx_node_attr(n, "axis");
      if (b && b->type == VRT_ATTR_INT && b->i && ax && n->op != VRT_OP_Gemm && n->nin == 2) {
        int ra = onnx_map_get(&c->ranks, n->in[0]), rb = onnx_map_get(&c->ranks, n->in[1]);
        int64_t axis = ax->type == VRT_ATTR_INT ? ax->i : -1;
        if (ra >= 0 && axis < 0) axis += ra;
        if (ra < 0 || rb < 0 || axis < 0 || axis + rb > ra)
          return vrt__err(VRT_EUNSUPPORTED, "node '%s' (%s): legacy broadcast at axis %lld needs known ranks", n->name,
                          n->op_type, (long long)axis);
        onnx_node_drop_attr(n, "broadcast");
        onnx_node_drop_attr(n, "axis");
        int pad = ra - (int)axis - rb;
        return pad > 0 ? insert_unsqueeze(c, ip, 1, rb, pad, ra - (int)axis) : 0;
      }
      onnx_node_drop_attr(n, "broadcast");
      if (n->op != VRT_OP_Gemm) onnx_node_drop_attr(n, "axis");
      return 0;
    }
    case VRT_OP_PRelu: {
      int rx = n->nin == 2 ? onnx_map_get(&c->ranks, n->in[0]) : -1;
      int rs = n->nin == 2 ? onnx_map_get(&c->ranks, n->in[1]) : -1;
      int vs = n->nin == 2 ? onnx_map_get(&c->values, n->in[1]) : -1;
      bool one = vs >= 0 && vrt_tensor_numel(&c->g->values[vs].t) == 1;
      return rx > 2 && rs == 1 && !one ? insert_unsqueeze(c, ip, 1, 1, rx - 2, rx - 1) : 0;
    }
    case VRT_OP_Reshape:
      return O < 5 ? attr_to_input(c, i, "shape", 1) : 0;
    case VRT_OP_Concat:
      return O < 4 && !onnx_node_attr(n, "axis") ? onnx_node_add_int_attr(n, "axis", 1) : 0;
    case VRT_OP_Pad:
      return attr_to_input(c, i, "paddings", 1);
    case VRT_OP_Cast: {
      vrt_attr *to = onnx_node_attr(n, "to");
      if (to && to->type != VRT_ATTR_INT)
        return vrt__err(VRT_EUNSUPPORTED, "node '%s' (Cast): opset %d string 'to' is not supported", n->name, O);
      return 0;
    }
    case VRT_OP_Upsample: /* opsets 1..6: height_scale / width_scale */
      return vrt__err(VRT_EUNSUPPORTED, "node '%s' (%s): the opset %d form is not supported", n->name, n->op_type, O);
    case VRT_OP_Tile: /* opsets 1..5: tiles + axis inputs */
      return O < 6 ? vrt__err(VRT_EUNSUPPORTED, "node '%s' (Tile): the opset %d form is not supported", n->name, O) : 0;
    default:
      return 0;
  }
}

static int upgrade(onnx_ctx *c, int *ip) {
  int i = *ip, O = c->opset, rc = 0;
  if (O < 7 && (rc = upgrade_legacy(c, ip))) return rc;
  i = *ip;
  onnx_node *n = &c->nodes[i];
  switch (n->op) {
    case VRT_OP_Squeeze:
    case VRT_OP_Unsqueeze:
      return O < 13 ? attr_to_input(c, i, "axes", 1) : 0;
    case VRT_OP_ReduceSum:
      return O < 13 ? attr_to_input(c, i, "axes", 1) : 0;
    case VRT_OP_ReduceMean: case VRT_OP_ReduceMax: case VRT_OP_ReduceMin: case VRT_OP_ReduceProd:
    case VRT_OP_ReduceL1: case VRT_OP_ReduceL2: case VRT_OP_ReduceLogSum: case VRT_OP_ReduceLogSumExp:
    case VRT_OP_ReduceSumSquare:
      return O < 18 ? attr_to_input(c, i, "axes", 1) : 0;
    case VRT_OP_Split:
      return O < 13 ? attr_to_input(c, i, "split", 1) : 0;
    case VRT_OP_Pad:
      if (O >= 11) return 0;
      if ((rc = attr_to_input(c, i, "pads", 1))) return rc;
      return attr_to_input(c, i, "value", 2);
    case VRT_OP_Clip:
      if (O >= 11) return 0;
      if ((rc = attr_to_input(c, i, "min", 1))) return rc;
      return attr_to_input(c, i, "max", 2);
    case VRT_OP_Slice:
      if (O >= 10) return 0;
      if ((rc = attr_to_input(c, i, "starts", 1)) || (rc = attr_to_input(c, i, "ends", 2))) return rc;
      return attr_to_input(c, i, "axes", 3);
    case VRT_OP_TopK:
      return O < 10 ? attr_to_input(c, i, "k", 1) : 0;
    case VRT_OP_Dropout:
      if (O >= 12) return 0;
      onnx_node_drop_attr(n, "is_test");
      return attr_to_input(c, i, "ratio", 1);
    case VRT_OP_BatchNormalization:
      onnx_node_drop_attr(n, "is_test");
      if (O < 9) {
        vrt_attr *s = onnx_node_attr(n, "spatial");
        if (s && s->type == VRT_ATTR_INT && s->i == 0)
          return vrt__err(VRT_EUNSUPPORTED, "node '%s' (BatchNormalization): spatial=0 is not supported", n->name);
        onnx_node_drop_attr(n, "spatial");
      }
      return 0;
    case VRT_OP_Upsample:
      return upgrade_resize(c, i);
    case VRT_OP_Resize:
      return O < 11 ? upgrade_resize(c, i) : 0;
    case VRT_OP_Softmax: case VRT_OP_LogSoftmax: case VRT_OP_Hardmax:
      return O < 13 ? upgrade_softmax(c, ip) : 0;
    default:
      return 0;
  }
}

int onnx_upgrade_node(onnx_ctx *c, int *i) { return upgrade(c, i); }
