#!/usr/bin/env python3
"""openai/clip-vit-large-patch14 (Hugging Face transformers) -> <out>/
    vision.onnx, text.onnx, vocab.json, merges.txt, logit_scale.txt

NOT RUN HERE: needs transformers, PyTorch and the Hugging Face hub (see _common.py).

vigil expects (src/models/clip_model.c, clip_load / clip_embed_image / clip_embed_texts):
  vision.onnx      pixel_values [N,3,224,224] float32 (shortest side to 224, centre crop,
                   x/255, OpenAI's mean and std) -> image_embeds [N,768] (the projected
                   image embedding; vigil L2-normalises it)
  text.onnx        input_ids [N,77] int64, attention_mask [N,77] int64 -> text_embeds [N,768]
  vocab.json       the tokenizer's vocabulary, merges.txt its BPE merges (vigil tokenizes
                   in C: src/models/clip_tokenizer.c)
  logit_scale.txt  the model's learned log logit scale (its exp, ~100, scales the
                   cosines before /classify's softmax)
Point CLIP_MODEL_PATH at <out>.
"""
import os
import shutil

import _common


def main():
    args = _common.out_dir("clip-vit-large-patch14").parse_args()
    import numpy as np
    import torch
    from transformers import CLIPModel, CLIPTokenizer

    name = "openai/clip-vit-large-patch14"
    os.makedirs(args.out, exist_ok=True)
    model = CLIPModel.from_pretrained(name).eval()
    tok = CLIPTokenizer.from_pretrained(name)

    class Vision(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, pixel_values):
            return self.m.get_image_features(pixel_values=pixel_values)

    class Text(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            return self.m.get_text_features(input_ids=input_ids, attention_mask=attention_mask)

    enc = tok(["a photo of a person"], padding="max_length", max_length=77, return_tensors="pt")
    vpath, tpath = os.path.join(args.out, "vision.onnx"), os.path.join(args.out, "text.onnx")
    with torch.no_grad():
        torch.onnx.export(Vision(model), (torch.zeros(1, 3, 224, 224),), vpath, input_names=["pixel_values"],
                          output_names=["image_embeds"],
                          dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}},
                          opset_version=_common.OPSET)
        torch.onnx.export(Text(model), (enc["input_ids"], enc["attention_mask"]), tpath,
                          input_names=["input_ids", "attention_mask"], output_names=["text_embeds"],
                          dynamic_axes={"input_ids": {0: "batch"}, "attention_mask": {0: "batch"},
                                        "text_embeds": {0: "batch"}},
                          opset_version=_common.OPSET)
    tok.save_pretrained(os.path.join(args.out, "tokenizer"))
    for f in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(args.out, "tokenizer", f), os.path.join(args.out, f))
    with open(os.path.join(args.out, "logit_scale.txt"), "w") as f:
        f.write("%.9f\n" % float(model.logit_scale.detach()))
    _common.check(vpath, {"pixel_values": np.zeros((1, 3, 224, 224), np.float32)})
    _common.check(tpath, {"input_ids": enc["input_ids"].numpy(), "attention_mask": enc["attention_mask"].numpy()})
    print("set CLIP_MODEL_PATH=%s" % os.path.abspath(args.out))


if __name__ == "__main__":
    main()
