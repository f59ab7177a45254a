#!/usr/bin/python3
"""Input preparation and decoding for tools/ref/golden_onnx.sh (PP-OCR golden data).

  golden_onnx_prep.py det   IMAGE TMP        det/input_0.bin + inputs.json
  golden_onnx_prep.py crops IMAGE TMP        rec/ and cls/ inputs from det/output_0.bin
  golden_onnx_prep.py meta  IMAGE TMP KEYS   meta.json for det, rec, cls
Preprocessing follows /work/shared/MODEL-FACTS.md (PaddleOCR's own)."""
import json
import os
import sys
from collections import deque

import numpy as np
from PIL import Image

mode, image, tmp = sys.argv[1:4]
im = Image.open(image).convert("RGB")
DET_W, DET_H = 640, 480  # multiples of 32
REC_H, REC_MAX_W = 48, 320
CLS_W = 192


def write_input(model, name, x, extra):
    d = os.path.join(tmp, model)
    x = np.ascontiguousarray(x, dtype=np.float32)
    x.tofile(os.path.join(d, "input_0.bin"))
    with open(os.path.join(d, "inputs.json"), "w") as f:
        json.dump([{"name": name, "dtype": "float32", "shape": list(x.shape), "file": "input_0.bin"}], f)
    with open(os.path.join(d, "prep.json"), "w") as f:
        json.dump(extra, f)


def bgr_chw(a):
    return np.asarray(a, dtype=np.float32)[:, :, ::-1].transpose(2, 0, 1)


def read_output(model, i=0):
    d = os.path.join(tmp, model)
    outs = json.load(open(os.path.join(d, "outputs.json")))
    o = outs[i]
    return np.fromfile(os.path.join(d, o["file"]), dtype=np.float32).reshape(o["shape"])


def regions(prob, thresh=0.3, keep=2):
    """Connected components (4-neighbour) of prob > thresh; the largest boxes."""
    mask = prob > thresh
    seen = np.zeros_like(mask)
    H, W = mask.shape
    boxes = []
    for y0, x0 in zip(*np.nonzero(mask)):
        if seen[y0, x0]:
            continue
        q = deque([(y0, x0)])
        seen[y0, x0] = True
        ys, xs = [], []
        while q:
            y, x = q.popleft()
            ys.append(y)
            xs.append(x)
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < H and 0 <= nx < W and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    q.append((ny, nx))
        boxes.append((len(ys), min(xs), min(ys), max(xs) + 1, max(ys) + 1))
    boxes.sort(reverse=True)
    return [b[1:] for b in boxes[:keep]]


def crop_box(box):
    """A det-map box back in photo pixels, grown like DB's unclip (about half the height)."""
    sx, sy = im.width / DET_W, im.height / DET_H
    x0, y0, x1, y1 = box
    pad = 0.5 * (y1 - y0)
    return (max(0, int((x0 - pad) * sx)), max(0, int((y0 - pad) * sy)),
            min(im.width, int((x1 + pad) * sx + 0.5)), min(im.height, int((y1 + pad) * sy + 0.5)))


def norm(a):
    return (a / 255.0 - 0.5) / 0.5


if mode == "det":
    a = bgr_chw(im.resize((DET_W, DET_H), Image.BILINEAR)) / 255.0
    mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)[:, None, None]
    std = np.array([0.229, 0.224, 0.225], dtype=np.float32)[:, None, None]
    write_input("det", "x", ((a - mean) / std)[None],
                {"image": os.path.basename(image), "size": [DET_H, DET_W],
                 "preprocess": "BGR, (x/255 - [.485,.456,.406]) / [.229,.224,.225], NCHW"})
elif mode == "crops":
    prob = read_output("det")[0, 0]
    boxes = [crop_box(b) for b in regions(prob)]
    if not boxes:
        sys.exit("golden_onnx_prep: the det map found no text region")
    crops = [im.crop(b) for b in boxes]
    widths = [min(REC_MAX_W, max(8, int(round(REC_H * c.width / c.height / 8.0)) * 8)) for c in crops]
    W = max(widths)
    rec = np.zeros((len(crops), 3, REC_H, W), dtype=np.float32)
    for i, (c, w) in enumerate(zip(crops, widths)):
        rec[i, :, :, :w] = norm(bgr_chw(c.resize((w, REC_H), Image.BILINEAR)))
    write_input("rec", "x", rec, {"image": os.path.basename(image), "boxes": boxes, "widths": widths,
                                  "preprocess": "crop, 48 px high, BGR, (x/255 - .5) / .5, zero-padded right"})
    cls_imgs = [crops[0], crops[0].rotate(180)] + crops[1:]
    cls = np.zeros((len(cls_imgs), 3, REC_H, CLS_W), dtype=np.float32)
    for i, c in enumerate(cls_imgs):
        w = min(CLS_W, max(1, int(round(REC_H * c.width / c.height))))
        cls[i, :, :, :w] = norm(bgr_chw(c.resize((w, REC_H), Image.BILINEAR)))
    write_input("cls", "x", cls, {"image": os.path.basename(image), "crops": "box 0, box 0 turned 180, box 1",
                                  "preprocess": "crop, 48x192 (aspect kept, zero-padded), BGR, (x/255 - .5) / .5"})
elif mode == "meta":
    keys = ["blank"] + [l.rstrip("\n") for l in open(sys.argv[4], encoding="utf-8")] + [" "]
    files = {"det": "ch_PP-OCRv4_det_infer.onnx", "rec": "ch_PP-OCRv4_rec_infer.onnx",
             "cls": "ch_ppocr_mobile_v2.0_cls_infer.onnx"}
    for m, f in files.items():
        meta = json.load(open(os.path.join(tmp, m, "prep.json")))
        meta.update({"model": "models/ocr/" + f, "reference": "onnxruntime-node 1.30.0, CPU, 1 thread",
                     "tolerance": "max abs error <= 1e-4 * max(1, max|ref|)"})
        y = read_output(m)
        if m == "det":
            meta["text_pixels"] = int((y > 0.3).sum())
        elif m == "rec":
            texts, confs = [], []
            for row in y:
                idx = row.argmax(1)
                chars = [keys[k] for j, k in enumerate(idx) if k != 0 and (j == 0 or k != idx[j - 1])]
                texts.append("".join(chars))
                confs.append(float(row.max(1)[idx != 0].mean()) if (idx != 0).any() else 0.0)
            meta["text"], meta["confidence"] = texts, confs
        else:
            meta["angle"] = [("180" if r.argmax() == 1 else "0") for r in y]
            meta["score"] = [float(r.max()) for r in y]
        with open(os.path.join(tmp, m, "meta.json"), "w") as fh:
            json.dump(meta, fh, indent=1, ensure_ascii=False)
        os.remove(os.path.join(tmp, m, "prep.json"))
else:
    sys.exit("usage: golden_onnx_prep.py det|crops|meta IMAGE TMP [KEYS]")
