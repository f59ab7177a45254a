#!/usr/bin/python3
"""Writes the fuzz_onnx seed split20_dynamic.onnx: x [N, 20] (N a dynamic
dimension) -> Split(axis 1) into 20 outputs. Static shape inference cannot
run (N unknown), so only the executor sees the node's width: the case of the
Split overflow that test_exec's test_wide_split_dynamic pins. Hand-encoded
protobuf (no onnx package needed); deterministic.

Usage: python3 tools/testmodels/gen_fuzz_split_seed.py tests/fuzz/corpus/fuzz_onnx/split20_dynamic.onnx
"""
import sys


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def field(num, wire, payload):
    key = varint(num << 3 | wire)
    if wire == 0:
        return key + varint(payload)
    return key + varint(len(payload)) + payload


def s(num, text):
    return field(num, 2, text.encode())


def value_info(name, dims):
    tensor = field(1, 0, 1)  # elem_type FLOAT
    if dims is not None:
        shape = b"".join(field(1, 2, s(2, d) if isinstance(d, str) else field(1, 0, d)) for d in dims)
        tensor += field(2, 2, shape)
    return s(1, name) + field(2, 2, field(1, 2, tensor))


def main(path):
    n = 20
    outs = [f"y{i}" for i in range(n)]
    attr = s(1, "axis") + field(3, 0, 1) + field(20, 0, 2)  # AttributeProto: i = 1, type INT
    node = s(1, "x") + b"".join(s(2, o) for o in outs) + s(3, "split") + s(4, "Split") + field(5, 2, attr)
    graph = field(1, 2, node) + s(2, "split20") + field(11, 2, value_info("x", ["N", n]))
    graph += b"".join(field(12, 2, value_info(o, None)) for o in outs)
    model = field(1, 0, 8) + field(8, 2, s(1, "") + field(2, 0, 13)) + field(7, 2, graph)
    with open(path, "wb") as f:
        f.write(model)


if __name__ == "__main__":
    main(sys.argv[1])
