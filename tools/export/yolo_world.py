#!/usr/bin/env python3
"""Ultralytics YOLO-World (yolov8s-worldv2.pt) with its vocabulary as an input -> <out>/
    yolo_world.onnx, text.onnx, vocab.json, merges.txt

NOT RUN HERE: needs ultralytics, transformers, PyTorch and the model hubs (see _common.py).

Ultralytics' own `model.set_classes([...]); model.export(format="onnx")` bakes one fixed
vocabulary into the graph (the text features become constants). vigil asks for classes
per request, so this script exports the detector with the text features as a second
input and CLIP ViT-B/32's text tower (the encoder YOLO-World was trained with) beside it.

vigil expects (src/models/yolo_world.c, include/vigil/yolo_world.h):
  yolo_world.onnx  images    [1,3,640,640] float32 (letterbox to 640, grey 114 padding,
                             RGB / 255)
                   txt_feats [1,N,512] float32: one L2-normalised CLIP text embedding per
                             class (as WorldModel.set_classes normalises them); N is fixed at
                             export (--classes, default 80: the head's class count is a
                             Python int the tracer bakes in); vigil pads unused slots with
                             zero vectors and ignores their scores
                   -> output0 [1,4+N,8400]: cx, cy, w, h in letterbox pixels, then N class
                             scores (sigmoid), anchors of strides 8/16/32; no NMS inside
  text.onnx        input_ids [N,77] int64, attention_mask [N,77] int64 -> text_embeds [N,512]
                   (openai/clip-vit-base-patch32 get_text_features; vigil normalises)
  vocab.json, merges.txt   that tokenizer's files (vigil tokenizes in C)
Point YOLO_WORLD_MODEL_PATH at <out>; then POST /detect on 8095 accepts "classes".
"""
import os
import shutil

import _common


def main():
    ap = _common.out_dir("yolo-world-s")
    ap.add_argument("--weights", default="yolov8s-worldv2.pt", help="Ultralytics YOLO-World weights")
    ap.add_argument("--classes", type=int, default=80, help="class slots N of txt_feats (default 80)")
    args = ap.parse_args()
    import numpy as np
    import torch
    from transformers import CLIPModel, CLIPTokenizer
    from ultralytics import YOLO

    os.makedirs(args.out, exist_ok=True)
    world = YOLO(args.weights).model.eval()
    n = args.classes
    # the head's class count follows the vocabulary: give it N placeholder classes first
    world.set_classes(["object %d" % i for i in range(n)])
    for m in world.modules():
        if hasattr(m, "export"):
            m.export = True  # Detect heads: one concatenated [1,4+N,A] output, no NMS

    class Detector(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, images, txt_feats):
            y = self.m.predict(images, txt_feats=txt_feats)
            return y[0] if isinstance(y, (list, tuple)) else y

    name = "openai/clip-vit-base-patch32"
    clip = CLIPModel.from_pretrained(name).eval()
    tok = CLIPTokenizer.from_pretrained(name)

    class Text(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            return self.m.get_text_features(input_ids=input_ids, attention_mask=attention_mask)

    dpath, tpath = os.path.join(args.out, "yolo_world.onnx"), os.path.join(args.out, "text.onnx")
    feats = torch.nn.functional.normalize(torch.randn(1, n, 512), dim=-1)
    enc = tok(["a ladder"], padding="max_length", max_length=77, return_tensors="pt")
    with torch.no_grad():
        out = Detector(world)(torch.zeros(1, 3, 640, 640), feats)
        if tuple(out.shape) != (1, 4 + n, 8400):
            raise SystemExit("the detector gives %s, expected (1, %d, 8400)" % (tuple(out.shape), 4 + n))
        torch.onnx.export(Detector(world), (torch.zeros(1, 3, 640, 640), feats), dpath,
                          input_names=["images", "txt_feats"], output_names=["output0"],
                          opset_version=_common.OPSET)
        torch.onnx.export(Text(clip), (enc["input_ids"], enc["attention_mask"]), tpath,
                          input_names=["input_ids", "attention_mask"], output_names=["text_embeds"],
                          dynamic_axes={"input_ids": {0: "batch"}, "attention_mask": {0: "batch"},
                                        "text_embeds": {0: "batch"}},
                          opset_version=_common.OPSET)
    tok.save_pretrained(os.path.join(args.out, "tokenizer"))
    for f in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(args.out, "tokenizer", f), os.path.join(args.out, f))
    _common.check(dpath, {"images": np.zeros((1, 3, 640, 640), np.float32), "txt_feats": feats.numpy()})
    _common.check(tpath, {"input_ids": enc["input_ids"].numpy(), "attention_mask": enc["attention_mask"].numpy()})
    print("set YOLO_WORLD_MODEL_PATH=%s" % os.path.abspath(args.out))


if __name__ == "__main__":
    main()
