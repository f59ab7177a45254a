#!/usr/bin/python3
"""Writes a small stand-in for the CLIP ViT-L/14 export (tools/export/clip_vit_large_patch14.py)
with exactly its file layout and input/output names and shapes, and weights crafted so the
CLIP service's answers can be predicted by tests/service/test_clip_service.c.

usage: gen_clip_models.py OUTDIR   -> OUTDIR/clip/{vision.onnx, text.onnx, vocab.json,
                                                  merges.txt, logit_scale.txt}
- vocab.json / merges.txt: a BPE vocabulary built by gen_clip_bpe.py ("red", "green" and
  "blue" are single tokens).
- vision.onnx pixel_values [N,3,224,224] -> image_embeds [N,768]: the mean of each
  CLIP-normalised channel (r, g, b) and a constant 1, embedded by an orthonormal 4x768
  matrix Q: r Q0 + g Q1 + b Q2 + Q3.
- text.onnx input_ids [N,77] int64, attention_mask [N,77] int64 -> text_embeds [N,768]: the
  sum over unmasked tokens of a 4-d vector per token, embedded by the same Q. "red" is
  (2,-2,-2,1), "green" (-2,2,-2,1), "blue" (-2,-2,2,1), every other token 0: a text with
  no colour word embeds to zero.
- logit_scale.txt: log(100), as CLIP's trained scale.
Needs Debian's python3-onnx, python3-numpy and python3-regex.
"""
import math
import os
import sys

import numpy as np
from onnx import TensorProto, helper

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_clip_bpe  # noqa: E402
from gen_hub_models import init, node, ortho4, save, vi  # noqa: E402

F32, I64 = TensorProto.FLOAT, TensorProto.INT64


def main():
    d = os.path.join(sys.argv[1], "clip")
    os.makedirs(d, exist_ok=True)
    sys.argv = [sys.argv[0], d, "600"]
    gen_clip_bpe.main()  # vocab.json, merges.txt (and cases.tsv, unused here)
    import json
    vocab = json.load(open(os.path.join(d, "vocab.json"), encoding="utf-8"))
    Q = ortho4(768, 23)
    save(os.path.join(d, "vision.onnx"), "clip-vision",
         [node("GlobalAveragePool", ["pixel_values"], ["gap"]), node("Flatten", ["gap"], ["f"], axis=1),
          node("MatMul", ["f", "W"], ["mm"]), node("Add", ["mm", "b"], ["image_embeds"])],
         [vi("pixel_values", F32, ["batch", 3, 224, 224])], [vi("image_embeds", F32, ["batch", 768])],
         [init("W", Q[:3]), init("b", Q[3])])
    E = np.zeros((max(vocab.values()) + 1, 4), np.float32)
    for word, target in (("red", (2, -2, -2, 1)), ("green", (-2, 2, -2, 1)), ("blue", (-2, -2, 2, 1))):
        tok = word + "</w>"
        if tok not in vocab:
            sys.exit("gen_clip_models: '%s' is not one token of the generated vocabulary" % word)
        E[vocab[tok]] = target
    save(os.path.join(d, "text.onnx"), "clip-text",
         [node("Gather", ["E", "input_ids"], ["g"]),
          node("Cast", ["attention_mask"], ["mf"], to=F32), node("Unsqueeze", ["mf", "ax2"], ["m3"]),
          node("Mul", ["g", "m3"], ["gm"]), node("ReduceSum", ["gm", "ax1"], ["s"], keepdims=0),
          node("MatMul", ["s", "Q"], ["text_embeds"])],
         [vi("input_ids", I64, ["batch", 77]), vi("attention_mask", I64, ["batch", 77])],
         [vi("text_embeds", F32, ["batch", 768])],
         [init("E", E), init("ax1", [1], np.int64), init("ax2", [2], np.int64), init("Q", Q)])
    with open(os.path.join(d, "logit_scale.txt"), "w") as f:
        f.write("%.9f\n" % math.log(100.0))
    os.remove(os.path.join(d, "cases.tsv"))


if __name__ == "__main__":
    main()
