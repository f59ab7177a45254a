#!/usr/bin/env python3
"""Marqo-FashionSigLIP (Marqo/marqo-fashionSigLIP, open_clip) -> <out>/
    vision.onnx, text.onnx, prompt_ids.txt

NOT RUN HERE: needs open_clip_torch, PyTorch and the Hugging Face hub (see
_common.py).

vigil expects (src/models/hub_siglip.c, siglip_load / clothing_classify):
  vision.onnx    pixel_values [B,3,224,224] float32 (the person box squashed
                 to 224, x/255, mean 0.5, std 0.5) -> image_embeds [B,768]
  text.onnx      input_ids [B,64] int64 -> text_embeds [B,768]
  prompt_ids.txt every prompt of SECURITY_CLOTHING_PROMPTS (read from
                 src/models/hub_siglip.c) with its 64 token ids: vrt has no
                 SentencePiece tokenizer, so the prompts are tokenised here,
                 once, by the model's own tokenizer
vigil L2-normalises both embeddings and takes softmax(100 * cosine), as the
model card does. Rerun this script whenever the prompt list changes (vigil
refuses a prompt_ids.txt that lacks a prompt).
Point CLOTHING_MODEL_PATH at <out>.
"""
import os

import _common


def main():
    args = _common.out_dir("fashion-clip").parse_args()
    import numpy as np
    import open_clip
    import torch

    hub = "hf-hub:Marqo/marqo-fashionSigLIP"
    os.makedirs(args.out, exist_ok=True)
    model, _, preprocess = open_clip.create_model_and_transforms(hub)
    tokenizer = open_clip.get_tokenizer(hub)
    model.eval()
    print("preprocess:", preprocess)

    class Vision(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, pixel_values):
            return self.m.encode_image(pixel_values)

    class Text(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids):
            return self.m.encode_text(input_ids)

    prompts = _common.clothing_prompts()
    ids = tokenizer(prompts)  # [N, 64] int64
    if ids.shape[1] != 64:
        print("note: context length is %d, not 64; vigil follows the file" % ids.shape[1])
    vpath, tpath = os.path.join(args.out, "vision.onnx"), os.path.join(args.out, "text.onnx")
    with torch.no_grad():
        torch.onnx.export(Vision(model), (torch.zeros(1, 3, 224, 224),), vpath, input_names=["pixel_values"],
                          output_names=["image_embeds"],
                          dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}},
                          opset_version=_common.OPSET)
        torch.onnx.export(Text(model), (ids[:1],), tpath, input_names=["input_ids"], output_names=["text_embeds"],
                          dynamic_axes={"input_ids": {0: "batch"}, "text_embeds": {0: "batch"}},
                          opset_version=_common.OPSET)
    _common.write_prompt_ids(os.path.join(args.out, "prompt_ids.txt"), prompts, ids.tolist())
    _common.check(vpath, {"pixel_values": np.zeros((1, 3, 224, 224), np.float32)})
    _common.check(tpath, {"input_ids": ids.numpy()})
    print("%d prompts; set CLOTHING_MODEL_PATH=%s" % (len(prompts), os.path.abspath(args.out)))


if __name__ == "__main__":
    main()
