#!/usr/bin/python3
"""Writes the tiny ONNX models that tests/unit/test_onnx_loader.c loads.

Usage: /usr/bin/python3 tools/ref/gen_onnx_test_models.py OUTDIR
Needs Debian's python3-onnx and python3-numpy. Every model is built with
onnx.helper; the broken ones are written without running the checker.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
os.makedirs(out, exist_ok=True)


def save(name, nodes, inputs, outputs, inits=(), opset=17, value_info=(), domain_opsets=()):
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits), value_info=list(value_info))
    ops = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in domain_opsets]
    m = helper.make_model(g, opset_imports=ops, producer_name="vigil-test")
    m.ir_version = 8
    helper.set_model_props(m, {"author": "vigil", "purpose": "unit test"})
    onnx.save(m, os.path.join(out, name + ".onnx"))
    return m


f32 = TensorProto.FLOAT
vi = helper.make_tensor_value_info

# add: dynamic batch, an initializer, metadata
w = numpy_helper.from_array(np.arange(3, dtype=np.float32), "W")
save("add", [helper.make_node("Add", ["X", "W"], ["Y"], name="add0")],
     [vi("X", f32, ["N", 3])], [vi("Y", f32, ["N", 3])], [w])

# constants: Constant nodes in every attribute form, typed (non-raw) data, fp16
c_tensor = helper.make_tensor("ct", f32, [2, 2], [1.0, 2.0, 3.0, 4.0])  # float_data, not raw
c_i32 = helper.make_tensor("ci", TensorProto.INT32, [3], [-1, 0, 7])
c_f16 = numpy_helper.from_array(np.array([0.5, -2.0], dtype=np.float16), "h")
c_bool = helper.make_tensor("cb", TensorProto.BOOL, [2], [True, False])
save("constants", [
    helper.make_node("Constant", [], ["c_t"], name="k0", value=c_tensor),
    helper.make_node("Constant", [], ["c_f"], name="k1", value_float=2.5),
    helper.make_node("Constant", [], ["c_fs"], name="k2", value_floats=[1.0, 2.0, 3.0]),
    helper.make_node("Constant", [], ["c_i"], name="k3", value_int=-7),
    helper.make_node("Constant", [], ["c_is"], name="k4", value_ints=[4, -5]),
    helper.make_node("Constant", [], ["c_i32"], name="k5", value=c_i32),
    helper.make_node("Constant", [], ["c_b"], name="k6", value=c_bool),
    helper.make_node("Mul", ["X", "c_t"], ["t0"], name="mul0"),
    helper.make_node("Add", ["t0", "c_f"], ["t1"], name="add0"),
    helper.make_node("Add", ["t1", "h32"], ["Y"], name="add1"),
    helper.make_node("Cast", ["h"], ["h32"], name="cast0", to=f32),
], [vi("X", f32, [2, 2])], [vi("Y", f32, [2, 2]), vi("c_fs", f32, [3]), vi("c_i", TensorProto.INT64, []),
                               vi("c_is", TensorProto.INT64, [2]), vi("c_i32", TensorProto.INT32, [3]),
                               vi("c_b", TensorProto.BOOL, [2])], [c_f16])

# opset 9 forms that must come out in the newest form
x4 = vi("X", f32, [1, 2, 3, 4])
save("opset9", [
    helper.make_node("Squeeze", ["X"], ["sq"], name="squeeze0", axes=[0]),
    helper.make_node("Unsqueeze", ["sq"], ["us"], name="unsqueeze0", axes=[0]),
    helper.make_node("Slice", ["us"], ["sl"], name="slice0", starts=[0], ends=[2], axes=[3]),
    helper.make_node("Clip", ["sl"], ["cl"], name="clip0", min=0.0, max=6.0),
    helper.make_node("ReduceMean", ["cl"], ["rm"], name="rmean0", axes=[-1], keepdims=1),
    helper.make_node("Pad", ["rm"], ["pd"], name="pad0", pads=[0, 0, 0, 0, 0, 0, 0, 1], value=1.5),
    helper.make_node("Upsample", ["pd", "sc"], ["up"], name="up0", mode="nearest"),
    helper.make_node("Softmax", ["up"], ["sm"], name="softmax0", axis=1),
    helper.make_node("Softmax", ["X"], ["sm_last"], name="softmax1", axis=3),
    helper.make_node("TopK", ["X"], ["tv", "ti"], name="topk0", k=2),
    helper.make_node("Dropout", ["X"], ["dr", "mask"], name="drop0", ratio=0.25),
    helper.make_node("Split", ["X"], ["s0", "s1"], name="split0", axis=3, split=[1, 3]),
    helper.make_node("BatchNormalization", ["X", "bs", "bb", "bm", "bv"], ["bn", "", "", "", ""], name="bn0"),
], [x4], [vi("sm", f32, None), vi("sm_last", f32, [1, 2, 3, 4]), vi("tv", f32, None), vi("dr", f32, None),
          vi("s0", f32, None), vi("bn", f32, None)],
    [numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), "sc")] +
    [numpy_helper.from_array(np.ones(2, dtype=np.float32), n) for n in ("bs", "bb", "bm", "bv")], opset=9)

# nodes out of order: the loader must sort them
save("unsorted", [
    helper.make_node("Relu", ["t1"], ["Y"], name="last"),
    helper.make_node("Neg", ["t0"], ["t1"], name="middle"),
    helper.make_node("Abs", ["X"], ["t0"], name="first"),
], [vi("X", f32, [2])], [vi("Y", f32, [2])])

# a cycle
save("cycle", [
    helper.make_node("Add", ["X", "b"], ["a"], name="node_a"),
    helper.make_node("Relu", ["a"], ["b"], name="node_b"),
    helper.make_node("Relu", ["a"], ["Y"], name="node_c"),
], [vi("X", f32, [2])], [vi("Y", f32, [2])])

# an op vrt does not know, and a foreign domain
save("unknown_op", [helper.make_node("FancyOp", ["X"], ["Y"], name="mystery_node")],
     [vi("X", f32, [2])], [vi("Y", f32, [2])])
save("foreign_domain", [helper.make_node("FusedConv", ["X"], ["Y"], name="ms_node", domain="com.microsoft")],
     [vi("X", f32, [2])], [vi("Y", f32, [2])], domain_opsets=[("com.microsoft", 1)])

# input that nothing defines; output that nothing produces; value defined twice
save("undefined_input", [helper.make_node("Add", ["X", "ghost"], ["Y"], name="add_ghost")],
     [vi("X", f32, [2])], [vi("Y", f32, [2])])
save("missing_output", [helper.make_node("Relu", ["X"], ["Y"], name="r")],
     [vi("X", f32, [2])], [vi("Z", f32, [2])])
save("defined_twice", [helper.make_node("Relu", ["X"], ["Y"], name="r1"),
                       helper.make_node("Neg", ["X"], ["Y"], name="r2")],
     [vi("X", f32, [2])], [vi("Y", f32, [2])])

# huge dims with tiny data: must fail without allocating
huge = TensorProto()
huge.name = "H"
huge.data_type = f32
huge.dims.extend([1 << 40])
huge.raw_data = b"\0\0\0\0"
save("huge_dims", [helper.make_node("Add", ["X", "H"], ["Y"], name="add_huge")],
     [vi("X", f32, [1])], [vi("Y", f32, [1])], [huge])
over = TensorProto()
over.name = "H"
over.data_type = f32
over.dims.extend([1 << 40, 1 << 40])
over.raw_data = b"\0\0\0\0"
save("overflow_dims", [helper.make_node("Add", ["X", "H"], ["Y"], name="add_over")],
     [vi("X", f32, [1])], [vi("Y", f32, [1])], [over])

# external data next to the model, and one that tries to leave the folder
def external(name, location, data):
    t = TensorProto()
    t.name = "E"
    t.data_type = f32
    t.dims.extend([len(data)])
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", "8"), ("length", str(4 * len(data)))):
        e = t.external_data.add()
        e.key, e.value = k, v
    save(name, [helper.make_node("Add", ["X", "E"], ["Y"], name="add_ext")],
         [vi("X", f32, [len(data)])], [vi("Y", f32, [len(data)])], [t])

vals = np.array([1.5, -2.0, 3.25, 8.0], dtype=np.float32)
with open(os.path.join(out, "weights.bin"), "wb") as fh:
    fh.write(b"padding!" + vals.tobytes())
external("external", "weights.bin", vals)
external("external_escape", "../weights.bin", vals)
external("external_link", "link.bin", vals)  # the test makes link.bin a symlink out of the folder

# a standalone TensorProto with int64_data (not raw), as the node tests' .pb files may have
t = helper.make_tensor("ints", TensorProto.INT64, [2, 3], [1, -2, 3, -4, 5, 1 << 40])
with open(os.path.join(out, "tensor_i64.pb"), "wb") as fh:
    fh.write(t.SerializeToString())
t = numpy_helper.from_array(np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4), "raw")
with open(os.path.join(out, "tensor_raw.pb"), "wb") as fh:
    fh.write(t.SerializeToString())

# sparse initializer (linear indices) and a Constant with a sparse_value (2-D indices)
sp_vals = helper.make_tensor("S", f32, [2], [5.0, -1.0])
sp_idx = helper.make_tensor("S_idx", TensorProto.INT64, [2], [1, 5])
sparse = helper.make_sparse_tensor(sp_vals, sp_idx, [2, 3])
cs_vals = helper.make_tensor("cs_vals", f32, [1], [7.0])
cs_idx = helper.make_tensor("cs_idx", TensorProto.INT64, [1, 2], [1, 2])
g = helper.make_graph([helper.make_node("Constant", [], ["C"], name="ks",
                                        sparse_value=helper.make_sparse_tensor(cs_vals, cs_idx, [2, 3])),
                       helper.make_node("Add", ["X", "S"], ["t"], name="add_s"),
                       helper.make_node("Add", ["t", "C"], ["Y"], name="add_c")],
                      "sparse", [vi("X", f32, [2, 3])], [vi("Y", f32, [2, 3])], sparse_initializer=[sparse])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
onnx.save(m, os.path.join(out, "sparse.onnx"))
huge_sp = helper.make_sparse_tensor(helper.make_tensor("S", f32, [1], [1.0]),
                                    helper.make_tensor("S_idx", TensorProto.INT64, [1], [0]), [1 << 30])
g = helper.make_graph([helper.make_node("Add", ["X", "S"], ["Y"], name="add_s")], "sparse_huge",
                      [vi("X", f32, [1])], [vi("Y", f32, [1])], sparse_initializer=[huge_sp])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), os.path.join(out, "sparse_huge.onnx"))

# a subgraph op
then_g = helper.make_graph([helper.make_node("Identity", ["X"], ["a"])], "then", [], [vi("a", f32, [2])])
else_g = helper.make_graph([helper.make_node("Neg", ["X"], ["b"])], "else", [], [vi("b", f32, [2])])
save("if_node", [helper.make_node("ReduceMax", ["X"], ["m"], name="rmax", keepdims=0),
                 helper.make_node("Cast", ["m"], ["cond"], name="to_bool", to=TensorProto.BOOL),
                 helper.make_node("If", ["cond"], ["Y"], name="branchy", then_branch=then_g, else_branch=else_g)],
     [vi("X", f32, [2])], [vi("Y", f32, [2])])

# Old-opset forms that must run like the originals: models with inputs and
# numpy-computed expected outputs (run_<name>.onnx, run_<name>_in_<i>.pb,
# run_<name>_out_<i>.pb), executed by test_onnx_loader through vrt.
def save_run(name, nodes, ins, outs, opset):
    m = helper.make_model(helper.make_graph(
        nodes, name, [vi(n, f32 if a.dtype == np.float32 else TensorProto.INT64, list(a.shape)) for n, a in ins],
        [vi(n, f32 if a.dtype == np.float32 else TensorProto.INT64, list(a.shape)) for n, a in outs]),
        opset_imports=[helper.make_opsetid("", opset)])
    onnx.save(m, os.path.join(out, "run_%s.onnx" % name))
    for k, (n, a) in enumerate(ins):
        with open(os.path.join(out, "run_%s_in_%d.pb" % (name, k)), "wb") as fh:
            fh.write(numpy_helper.from_array(a, n).SerializeToString())
    for k, (n, a) in enumerate(outs):
        with open(os.path.join(out, "run_%s_out_%d.pb" % (name, k)), "wb") as fh:
            fh.write(numpy_helper.from_array(a, n).SerializeToString())


def softmax2d(x, axis):
    f = x.reshape(int(np.prod(x.shape[:axis])), -1)
    e = np.exp(f - f.max(1, keepdims=True))
    return (e / e.sum(1, keepdims=True)).reshape(x.shape)


rng = np.random.default_rng(7)
X = rng.standard_normal((2, 3, 4)).astype(np.float32)
tk = -np.sort(-X, axis=2)[:, :, :2]
save_run("opset9", [
    helper.make_node("Softmax", ["X"], ["sm"], axis=1),
    helper.make_node("LogSoftmax", ["X"], ["lsm"], axis=1),
    helper.make_node("Unsqueeze", ["X"], ["x4"], axes=[0]),
    helper.make_node("Constant", [], ["scales"], value=numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32))),
    helper.make_node("Upsample", ["x4", "scales"], ["up"], mode="nearest"),
    helper.make_node("Slice", ["X"], ["sl"], starts=[1], ends=[3], axes=[2]),
    helper.make_node("Clip", ["X"], ["cl"], min=-0.5, max=0.5),
    helper.make_node("Pad", ["X"], ["pd"], pads=[0, 0, 1, 0, 0, 0], value=1.5),
    helper.make_node("ReduceMean", ["X"], ["rm"], axes=[1], keepdims=0),
    helper.make_node("Unsqueeze", ["X"], ["x_u"], axes=[1]),
    helper.make_node("Squeeze", ["x_u"], ["sq"], axes=[1]),
    helper.make_node("TopK", ["X"], ["tk", "ti"], k=2),
    helper.make_node("Split", ["X"], ["sp0", "sp1"], axis=2, split=[1, 3]),
    helper.make_node("Dropout", ["X"], ["dr"], ratio=0.3),
], [("X", X)], [
    ("sm", softmax2d(X, 1)), ("lsm", np.log(softmax2d(X, 1))),
    ("up", X[None].repeat(2, axis=2).repeat(2, axis=3)), ("sl", X[:, :, 1:3]), ("cl", np.clip(X, -0.5, 0.5)),
    ("pd", np.pad(X, ((0, 0), (0, 0), (1, 0)), constant_values=1.5)), ("rm", X.mean(axis=1)), ("sq", X),
    ("tk", tk), ("ti", np.argsort(-X, axis=2, kind="stable")[:, :, :2].astype(np.int64)),
    ("sp0", X[:, :, :1]), ("sp1", X[:, :, 1:]), ("dr", X)], 9)
X4 = rng.standard_normal((1, 2, 2, 3)).astype(np.float32)
save_run("opset10", [
    helper.make_node("Constant", [], ["scales"], value=numpy_helper.from_array(np.array([1, 1, 2, 3], np.float32))),
    helper.make_node("Resize", ["X", "scales"], ["rs"], mode="nearest"),
    helper.make_node("ReduceSum", ["X"], ["rsum"], axes=[0, 2], keepdims=1),
    helper.make_node("Softmax", ["X"], ["sm0"], axis=0),
], [("X", X4)], [("rs", X4.repeat(2, axis=2).repeat(3, axis=3)), ("rsum", X4.sum(axis=(0, 2), keepdims=True)),
                 ("sm0", softmax2d(X4, 0))], 10)

# a known op carrying a subgraph attribute it does not use: skipped
save("graph_attr", [helper.make_node("Relu", ["X"], ["Y"], name="relu_g", body=then_g, note="kept")],
     [vi("X", f32, [2])], [vi("Y", f32, [2])])

# a cycle with a node downstream of it listed first: the error names a node on the cycle
save("cycle2", [
    helper.make_node("Relu", ["c"], ["Y"], name="downstream"),
    helper.make_node("Add", ["X", "b"], ["a"], name="loop_a"),
    helper.make_node("Relu", ["a"], ["b"], name="loop_b"),
    helper.make_node("Neg", ["a"], ["c"], name="after_loop"),
], [vi("X", f32, [2])], [vi("Y", f32, [2])])

# opset-9 Clip and Pad on a float16 graph input: their scalars become float16 too
save("opset9_f16", [helper.make_node("Clip", ["X"], ["c"], name="clip16", min=-1.0, max=2.5),
                    helper.make_node("Pad", ["c"], ["Y"], name="pad16", pads=[1, 0], value=0.5)],
     [vi("X", TensorProto.FLOAT16, [3])], [vi("Y", TensorProto.FLOAT16, [4])], opset=9)

# weights oneDNN packs (Conv, MatMul, Gemm B) big enough to give pages back, one
# used in place from the file (raw_data 4-aligned) and two copied (unaligned):
# the weight names are padded until the file has that mix
rng = np.random.default_rng(11)
wc = rng.standard_normal((64, 8, 3, 3)).astype(np.float32) * 0.2
wm = rng.standard_normal((64, 256)).astype(np.float32) * 0.2
wg = rng.standard_normal((128, 256)).astype(np.float32) * 0.2
bg = rng.standard_normal(128).astype(np.float32)
for pad in range(64):
    names = ["Wconv" + "_" * pad, "Wmm" + "_" * (pad // 4), "Wgemm" + "_" * (pad // 16)]
    nodes = [helper.make_node("Conv", ["X", names[0]], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("GlobalAveragePool", ["r"], ["p"], name="gap"),
             helper.make_node("Flatten", ["p"], ["f"], name="flat"),
             helper.make_node("MatMul", ["f", names[1]], ["m"], name="mm"),
             helper.make_node("Relu", ["m"], ["mr"], name="relu2"),
             helper.make_node("Gemm", ["mr", names[2], "Bgemm"], ["Y"], name="gemm", transB=1)]
    inits = [numpy_helper.from_array(a, n) for a, n in zip((wc, wm, wg), names)]
    inits.append(numpy_helper.from_array(bg, "Bgemm"))
    m = save("packed_weights", nodes, [vi("X", f32, ["N", 8, 12, 12])], [vi("Y", f32, ["N", 128])], inits)
    data = m.SerializeToString()
    aligned = [data.find(a.tobytes()) % 4 == 0 for a in (wc, wm, wg)]
    if any(aligned) and not all(aligned):
        break
else:
    raise SystemExit("packed_weights: no name padding gives aligned and unaligned weights")
