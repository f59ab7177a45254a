#!/usr/bin/python3
"""Writes a small stand-in for the YOLO-World export (tools/export/yolo_world.py) with
exactly its file layout and input/output names and shapes, and weights crafted so the
open-vocabulary detections can be predicted by tests/unit/test_yolo_world.c and
tests/service/test_detect_world.c.

usage: gen_yolo_world.py OUTDIR   -> OUTDIR/yolo-world/{yolo_world.onnx, text.onnx,
                                                         vocab.json, merges.txt}
- vocab.json / merges.txt: the BPE vocabulary of gen_clip_bpe.py ("red", "green", "blue"
  are single tokens).
- text.onnx input_ids [N,77] int64, attention_mask [N,77] int64 -> text_embeds [N,512]
  (CLIP ViT-B/32's text tower shape): the sum over unmasked tokens of a 4-d vector per
  token embedded by an orthonormal 4x512 matrix Q. "red" is (2,-2,-2,1), "green"
  (-2,2,-2,1), "blue" (-2,-2,2,1), every other token 0 (a text without a colour word
  embeds to zero and never matches).
- yolo_world.onnx images [1,3,640,640] + txt_feats [1,8,512] -> output0 [1,12,8400]
  (4 + N rows, N = 8 classes fixed as in the real export; anchors of strides 8, 16, 32
  in Ultralytics order). Each anchor's colour c = the mean of its stride x stride cell;
  its feature a = (2c - 1, 1). Class k's 4-d text vector t_k = txt_feats[k] Q^T.
  score(k, anchor) = sigmoid(10 (t_k . a - 1.2) + level bias), the level bias 0 at
  stride 32 and -40 at strides 8 and 16: so only a 32 x 32 letterbox cell that is all
  red scores ~1 for "red" (a grey cell scores ~0). Boxes are constants: each anchor's
  own cell (cx, cy, stride, stride) in letterbox pixels.
Needs Debian's python3-onnx, python3-numpy and python3-regex.
"""
import json
import os
import sys

import numpy as np

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_clip_bpe  # noqa: E402
from gen_hub_models import F32, I64, init, node, ortho4, save, vi  # noqa: E402

N_CLASSES = 8
DIM = 512


def anchors():
    """Ultralytics anchor order: stride 8 rows then 16 then 32, row-major cells."""
    cx, cy, st = [], [], []
    for s in (8, 16, 32):
        g = 640 // s
        for y in range(g):
            for x in range(g):
                cx.append((x + 0.5) * s)
                cy.append((y + 0.5) * s)
                st.append(s)
    return np.array(cx, np.float32), np.array(cy, np.float32), np.array(st, np.float32)


def main():
    d = os.path.join(sys.argv[1], "yolo-world")
    os.makedirs(d, exist_ok=True)
    sys.argv = [sys.argv[0], d, "600"]
    gen_clip_bpe.main()
    os.remove(os.path.join(d, "cases.tsv"))
    vocab = json.load(open(os.path.join(d, "vocab.json"), encoding="utf-8"))
    Q = ortho4(DIM, 31)
    E = np.zeros((max(vocab.values()) + 1, 4), np.float32)
    for word, target in (("red", (2, -2, -2, 1)), ("green", (-2, 2, -2, 1)), ("blue", (-2, -2, 2, 1))):
        tok = word + "</w>"
        if tok not in vocab:
            sys.exit("gen_yolo_world: '%s' is not one token of the generated vocabulary" % word)
        E[vocab[tok]] = target
    save(os.path.join(d, "text.onnx"), "clip-b32-text",
         [node("Gather", ["E", "input_ids"], ["g"]),
          node("Cast", ["attention_mask"], ["mf"], to=F32), node("Unsqueeze", ["mf", "ax2"], ["m3"]),
          node("Mul", ["g", "m3"], ["gm"]), node("ReduceSum", ["gm", "ax1"], ["s"], keepdims=0),
          node("MatMul", ["s", "Q"], ["text_embeds"])],
         [vi("input_ids", I64, ["batch", 77]), vi("attention_mask", I64, ["batch", 77])],
         [vi("text_embeds", F32, ["batch", DIM])],
         [init("E", E), init("ax1", [1], np.int64), init("ax2", [2], np.int64), init("Q", Q)])

    cx, cy, st = anchors()
    A = cx.size  # 8400
    boxes = np.stack([cx, cy, st, st])[None]                         # [1,4,A]
    bias = np.where(st == 32, 0.0, -40.0).astype(np.float32)[None, None]  # [1,1,A]
    nodes, inits = [], [init("QT", Q.T), init("two", [2.0]), init("one", [1.0]), init("ten", [10.0]),
                        init("thr", [1.2]), init("bias", bias), init("boxes", boxes),
                        init("ones", np.ones((1, 1, A), np.float32)), init("s3", [1, 3, -1], np.int64)]
    cells = []
    for s in (8, 16, 32):
        p, r = "p%d" % s, "r%d" % s
        nodes += [node("AveragePool", ["images"], [p], kernel_shape=[s, s], strides=[s, s]),
                  node("Reshape", [p, "s3"], [r])]
        cells.append(r)
    nodes += [node("Concat", cells, ["col"], axis=2),                  # [1,3,A] mean colour per anchor
              node("Mul", ["col", "two"], ["c2"]), node("Sub", ["c2", "one"], ["c3"]),
              node("Concat", ["c3", "ones"], ["feat"], axis=1),         # [1,4,A]
              node("MatMul", ["txt_feats", "QT"], ["t4"]),              # [1,N,4]
              node("MatMul", ["t4", "feat"], ["dot"]),                  # [1,N,A]
              node("Sub", ["dot", "thr"], ["d1"]), node("Mul", ["d1", "ten"], ["d2"]),
              node("Add", ["d2", "bias"], ["d3"]), node("Sigmoid", ["d3"], ["scores"]),
              node("Concat", ["boxes", "scores"], ["output0"], axis=1)]
    save(os.path.join(d, "yolo_world.onnx"), "yolo-world",
         nodes, [vi("images", F32, [1, 3, 640, 640]), vi("txt_feats", F32, [1, N_CLASSES, DIM])],
         [vi("output0", F32, [1, 4 + N_CLASSES, A])], inits)


if __name__ == "__main__":
    main()
