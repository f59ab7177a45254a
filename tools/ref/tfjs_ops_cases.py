"""Small synthetic TF.js graph models for the lowerings that the nine
human-models graphs do not exercise (explicit padding, Prelu/LeakyRelu fusion,
nearest resize, SplitV with -1, StridedSlice masks, reductions, TopKV2, casts,
integer floor division, ...).

    /usr/bin/python3 tfjs_ops_cases.py OUT_DIR

writes OUT_DIR/<case>/{model.json, w.bin, input_<i>.bin, inputs.json}; then
golden_tfjs.sh runs each through TensorFlow.js (tfjs_run.mjs). Weights use
float32, float16, uint8 and uint16 storage. golden_tfjs.sh pins this file's
sha256 (CASES_SHA), so editing it means updating that line, which makes
`make deps` regenerate the goldens.
"""
import base64
import json
import os
import sys

import numpy as np

root = sys.argv[1]
rng = np.random.default_rng(20261127)


def b64(s): return base64.b64encode(s.encode()).decode()
def I(v): return {"i": str(v)}
def IL(vs): return {"list": {"i": [str(v) for v in vs]}}
def S(s): return {"s": b64(s)}
def SL(ss): return {"list": {"s": [b64(s) for s in ss]}}
def B(v): return {"b": v}
def F(v): return {"f": v}
def T(t): return {"type": t}
def tf_dtype(a): return "DT_INT32" if a.dtype == np.int32 else "DT_FLOAT"
def randn(*shape): return rng.standard_normal(shape).astype(np.float32)


class Model:
    def __init__(self, name, signature=True):
        self.name, self.signature = name, signature
        self.nodes, self.weights, self.inputs, self.outputs = [], [], [], []

    def ph(self, name, a):
        dims = [{"size": str(d)} for d in a.shape]
        self.nodes.append({"name": name, "op": "Placeholder",
                           "attr": {"dtype": T(tf_dtype(a)), "shape": {"shape": {"dim": dims}}}})
        self.inputs.append((name, a))
        return name

    def const(self, name, a, quant=None):
        a = np.asarray(a)
        if a.dtype != np.int32:
            a = a.astype(np.float32)
        self.nodes.append({"name": name, "op": "Const", "attr": {"dtype": T(tf_dtype(a))}})
        self.weights.append((name, a, quant))
        return name

    def op(self, name, op, inputs, **attr):
        self.nodes.append({"name": name, "op": op, "input": list(inputs), "attr": attr})
        return name

    def out(self, *refs):
        self.outputs += refs

    def write(self):
        d = os.path.join(root, self.name)
        os.makedirs(d)
        specs, blob = [], b""
        for name, a, q in self.weights:
            spec = {"name": name, "shape": list(a.shape), "dtype": "int32" if a.dtype == np.int32 else "float32"}
            if q == "f16":
                spec["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
                blob += a.astype("<f2").tobytes()
            elif q in ("u8", "u16"):
                lo, hi = float(a.min()), float(a.max())
                levels = 255 if q == "u8" else 65535
                scale = (hi - lo) / levels or 1.0
                qa = np.round((a - lo) / scale).astype("<u1" if q == "u8" else "<u2")
                spec["quantization"] = {"dtype": "uint8" if q == "u8" else "uint16", "scale": scale, "min": lo}
                blob += qa.tobytes()
            else:
                blob += a.astype("<i4" if a.dtype == np.int32 else "<f4").tobytes()
            specs.append(spec)
        model = {"format": "graph-model", "generatedBy": "tfjs_ops_cases.py",
                 "modelTopology": {"node": self.nodes, "library": {}, "versions": {"producer": 1808}},
                 "weightsManifest": [{"paths": ["w.bin"], "weights": specs}]}
        if self.signature:
            model["signature"] = {"outputs": {r.replace(":", "_"): {"name": r if ":" in r else r + ":0"}
                                              for r in self.outputs}}
        with open(os.path.join(d, "model.json"), "w") as f:
            json.dump(model, f)
        with open(os.path.join(d, "w.bin"), "wb") as f:
            f.write(blob)
        ins = []
        for i, (name, a) in enumerate(self.inputs):
            fn = f"input_{i}.bin"
            a.astype("<i4" if a.dtype == np.int32 else "<f4").tofile(os.path.join(d, fn))
            ins.append({"name": name, "dtype": "int32" if a.dtype == np.int32 else "float32",
                        "shape": list(a.shape), "file": fn})
        with open(os.path.join(d, "inputs.json"), "w") as f:
            json.dump(ins, f)


# conv: explicit padding, strides (2,1), BiasAdd + Prelu, float16 filter, uint8 alpha
m = Model("conv_explicit_prelu")
x = m.ph("x", randn(1, 7, 6, 3))
m.const("w", randn(3, 3, 3, 4), "f16")
m.const("b", randn(4))
m.const("al", randn(4) * 0.3, "u8")
m.op("c", "_FusedConv2D", [x, "w", "b", "al"], strides=IL([1, 2, 1, 1]), padding=S("EXPLICIT"),
     explicit_paddings=IL([0, 0, 1, 2, 0, 1, 0, 0]), dilations=IL([1, 1, 1, 1]), data_format=S("NHWC"),
     num_args=I(2), fused_ops=SL(["BiasAdd", "Prelu"]))
m.out("c")
m.write()

# conv: dilation 2, SAME, BiasAdd + LeakyRelu(0.3), uint8 filter; Conv2D stride 2 SAME on an even size
m = Model("conv_dilated_leaky")
x = m.ph("x", randn(1, 9, 8, 2))
m.const("w", randn(3, 3, 2, 5), "u8")
m.const("b", randn(5))
m.op("c", "_FusedConv2D", [x, "w", "b"], strides=IL([1, 1, 1, 1]), padding=S("SAME"), dilations=IL([1, 2, 2, 1]),
     num_args=I(1), fused_ops=SL(["BiasAdd", "LeakyRelu"]), leakyrelu_alpha=F(0.3))
m.const("w2", randn(2, 2, 2, 3), "u16")
m.op("c2", "Conv2D", [x, "w2"], strides=IL([1, 2, 2, 1]), padding=S("SAME"), dilations=IL([1, 1, 1, 1]))
m.out("c", "c2")
m.write()

# depthwise with channel multiplier 2, stride 2 SAME; fused depthwise 5x5 VALID with bias + Relu6
m = Model("depthwise")
x = m.ph("x", randn(1, 8, 8, 3) * 3)
m.const("dw", randn(3, 3, 3, 2))
m.op("d", "DepthwiseConv2dNative", [x, "dw"], strides=IL([1, 2, 2, 1]), padding=S("SAME"),
     dilations=IL([1, 1, 1, 1]))
m.const("dw2", randn(5, 5, 3, 1), "f16")
m.const("b2", randn(3))
m.op("f", "FusedDepthwiseConv2dNative", [x, "dw2", "b2"], strides=IL([1, 1, 1, 1]), padding=S("VALID"),
     dilations=IL([1, 1, 1, 1]), num_args=I(1), fused_ops=SL(["BiasAdd", "Relu6"]))
m.out("d", "f")
m.write()

# pooling with SAME windows that hang over the border
m = Model("pools")
x = m.ph("x", randn(1, 7, 6, 2))
m.op("ap", "AvgPool", [x], ksize=IL([1, 3, 3, 1]), strides=IL([1, 2, 2, 1]), padding=S("SAME"))
m.op("mp", "MaxPool", [x], ksize=IL([1, 3, 2, 1]), strides=IL([1, 2, 1, 1]), padding=S("SAME"))
m.op("av", "AvgPool", [x], ksize=IL([1, 2, 2, 1]), strides=IL([1, 1, 2, 1]), padding=S("VALID"))
m.out("ap", "mp", "av")
m.write()

# matmuls: _FusedMatMul transpose_b with bias + Relu, MatMul transpose_a, Elu, Softmax
m = Model("matmul")
x = m.ph("x", randn(3, 5))
m.const("w", randn(4, 5))
m.const("b", randn(4))
m.op("fm", "_FusedMatMul", [x, "w", "b"], transpose_a=B(False), transpose_b=B(True), num_args=I(1),
     fused_ops=SL(["BiasAdd", "Relu"]))
m.const("w2", randn(3, 2))
m.op("mm", "MatMul", [x, "w2"], transpose_a=B(True), transpose_b=B(False))
m.op("el", "Elu", ["mm"])
m.op("sm", "Softmax", ["fm"])
m.out("sm", "el")
m.write()

# resizes: bilinear in its three coordinate modes, nearest in its three; up and down
m = Model("resize")
x = m.ph("x", randn(1, 5, 7, 2))
m.const("up", np.array([8, 11], np.int32))
m.const("down", np.array([3, 4], np.int32))
for size in ("up", "down"):
    for kind, op in (("b", "ResizeBilinear"), ("n", "ResizeNearestNeighbor")):
        m.op(f"{kind}l_{size}", op, [x, size], align_corners=B(False), half_pixel_centers=B(False))
        m.op(f"{kind}h_{size}", op, [x, size], align_corners=B(False), half_pixel_centers=B(True))
        m.op(f"{kind}a_{size}", op, [x, size], align_corners=B(True), half_pixel_centers=B(False))
        m.out(f"{kind}l_{size}", f"{kind}h_{size}", f"{kind}a_{size}")
m.write()

# SplitV with a -1 size, Unpack/Pack on negative axes, ConcatV2; no signature
m = Model("split_pack", signature=False)
x = m.ph("x", randn(2, 3, 7))
m.const("sizes", np.array([2, -1, 1], np.int32))
m.const("axm1", np.array(-1, np.int32))
m.op("sv", "SplitV", [x, "sizes", "axm1"], num_split=I(3))
m.op("up", "Unpack", ["sv:1"], axis=I(-2), num=I(3))
m.op("pk", "Pack", ["up:2", "up", "up:1"], axis=I(-1), N=I(3))
m.op("cat", "ConcatV2", ["sv", "sv:2", "axm1"], N=I(2))
m.op("out_pack", "Identity", ["pk"])
m.op("out_cat", "Identity", ["cat"])
m.write()

# StridedSlice: masks, negative strides, shrink and new axes, ellipsis
m = Model("strided_slice")
x = m.ph("x", randn(4, 5, 6))


def ss(name, b, e, s, **masks):
    m.const(name + "_b", np.array(b, np.int32))
    m.const(name + "_e", np.array(e, np.int32))
    m.const(name + "_s", np.array(s, np.int32))
    m.op(name, "StridedSlice", [x, name + "_b", name + "_e", name + "_s"], **{k: I(v) for k, v in masks.items()})
    m.out(name)


ss("s1", [1, 0, 1], [3, 5, 6], [1, 2, 2], begin_mask=2, end_mask=2)
ss("s2", [-1, 4, 5], [0, 0, 0], [-1, -2, -3], end_mask=1)
ss("s3", [2, 1, 0], [3, 4, 6], [1, 1, 1], shrink_axis_mask=1, end_mask=4)
ss("s4", [0, 0, 2], [0, 0, 5], [1, 1, 1], new_axis_mask=2, begin_mask=1, end_mask=1)
ss("s5", [0, 3], [0, 4], [1, 1], ellipsis_mask=1, shrink_axis_mask=2)
m.write()

# reductions, ArgMax, TopKV2 (values and int32 indices)
m = Model("reduce_topk")
x = m.ph("x", randn(2, 4, 6))
m.const("a12", np.array([1, 2], np.int32))
m.const("am1", np.array(-1, np.int32))
m.const("a0", np.array([0], np.int32))
m.const("k", np.array(3, np.int32))
m.op("mean", "Mean", [x, "a12"], keep_dims=B(False))
m.op("max", "Max", [x, "am1"], keep_dims=B(True))
m.op("min", "Min", [x, "a0"], keep_dims=B(False))
m.op("sum", "Sum", [x, "am1"], keep_dims=B(False))
m.op("prod", "Prod", [x, "a12"], keep_dims=B(True))
m.op("argmax", "ArgMax", [x, "am1"], output_type=T("DT_INT32"))
m.op("topk", "TopKV2", [x, "k"], sorted=B(True))
m.out("mean", "max", "min", "sum", "prod", "argmax", "topk", "topk:1")
m.write()

# shape and data movement, elementwise odds and ends
m = Model("misc")
x = m.ph("x", randn(2, 3, 4) * 3)
m.const("pads", np.array([[0, 0], [1, 2], [2, 1]], np.int32))
m.const("cv", np.array(1.5, np.float32))
m.op("mpad", "MirrorPad", [x, "pads"], mode=S("REFLECT"))
m.op("pad2", "PadV2", [x, "pads", "cv"])
m.const("perm", np.array([2, 0, 1], np.int32))
m.op("tr", "Transpose", [x, "perm"])
m.const("shape", np.array([4, -1], np.int32))
m.op("rs", "Reshape", ["tr", "shape"])
m.const("one", np.array(1, np.int32))
m.op("ex", "ExpandDims", [x, "one"])
m.op("sq", "Squeeze", ["ex"])
m.op("ci", "Cast", [x], SrcT=T("DT_FLOAT"), DstT=T("DT_INT32"))
m.const("idx", np.array([[2, 0], [1, 1], [0, 2]], np.int32))
m.const("ax1", np.array(1, np.int32))
m.op("g", "GatherV2", [x, "idx", "ax1"], batch_dims=I(0))
m.const("nd", np.array([[1, 2], [0, 0]], np.int32))
m.op("gnd", "GatherNd", [x, "nd"])
m.const("d", np.array([1.5, -2.0, 2.5, -0.75], np.float32))
# TF.js's cpu FloorDiv always returns int32 (TF returns the input type, as
# vrt does); the Cast to float compares the values and leaves that aside.
m.op("fdiv_raw", "FloorDiv", [x, "d"])
m.op("fdiv", "Cast", ["fdiv_raw"], SrcT=T("DT_FLOAT"), DstT=T("DT_FLOAT"))
m.op("fmod", "FloorMod", [x, "d"])
m.op("sqd", "SquaredDifference", [x, "d"])
m.op("ab", "Abs", [x])
m.op("rsq", "Rsqrt", ["ab"])
m.op("sqr", "Square", [x])
m.op("gt", "Greater", [x, "d"])
m.op("sel", "SelectV2", ["gt", x, "d"])
m.op("eq", "Equal", ["ci", "ci"])
m.op("eqf", "Cast", ["eq"], SrcT=T("DT_BOOL"), DstT=T("DT_FLOAT"))
m.const("mult", np.array([1, 2, 1], np.int32))
m.op("tile", "Tile", [x, "mult"])
m.op("r6", "Relu6", [x])
m.op("sel_u", "Selu", [x])
m.out("mpad", "pad2", "rs", "sq", "ci", "g", "gnd", "fdiv", "fmod", "sqd", "rsq", "sqr", "sel", "eqf", "tile",
      "r6", "sel_u")
m.write()

# integer floor division and modulo, SparseToDense
m = Model("int_ops")
x = m.ph("x", rng.integers(-20, 20, size=(3, 4)).astype(np.int32))
m.const("dv", np.array([3, -4, 5, 7], np.int32))
m.op("idiv", "FloorDiv", [x, "dv"])
m.op("imod", "FloorMod", [x, "dv"])
m.const("si", np.array([[0, 1], [2, 3], [1, 0]], np.int32))
m.const("sh", np.array([3, 4], np.int32))
m.const("svals", np.array([5, 6, 7], np.int32))
m.const("dflt", np.array(-1, np.int32))
m.op("std", "SparseToDense", ["si", "sh", "svals", "dflt"], validate_indices=B(True))
m.op("sum", "AddV2", [x, "std"])
m.out("idiv", "imod", "sum")
m.write()
