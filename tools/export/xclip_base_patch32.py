#!/usr/bin/env python3
"""X-CLIP base patch32 (microsoft/xclip-base-patch32) -> <out>/xclip.onnx,
    prompt_ids.txt

NOT RUN HERE: needs transformers, PyTorch and the Hugging Face hub (see
_common.py).

vigil expects (src/models/hub_xclip.c, xclip_load / xclip_action): one graph,
because X-CLIP's prompt generator conditions the text on the video:
  inputs  pixel_values   [B,8,3,224,224] float32 (8 frames of the person
                         region, shortest edge 224, centre crop 224, x/255,
                         CLIP mean/std)
          input_ids      [N,L] int64
          attention_mask [N,L] int64
  output  logits_per_video [B,N]
  prompt_ids.txt         the ACTION_PROMPTS of src/models/hub_xclip.c with
                         their CLIP BPE ids and attention masks, padded to
                         the longest (vrt has no tokenizer)
Point ACTION_MODEL_PATH at <out>.
"""
import os

import _common


def main():
    args = _common.out_dir("xclip-base-patch32").parse_args()
    import numpy as np
    import torch
    from transformers import XCLIPModel, XCLIPProcessor

    repo = "microsoft/xclip-base-patch32"
    os.makedirs(args.out, exist_ok=True)
    model = XCLIPModel.from_pretrained(repo).eval()
    proc = XCLIPProcessor.from_pretrained(repo)
    print("image processor:", proc.image_processor)
    texts = [p for _, p in _common.action_prompts()]
    tok = proc.tokenizer(texts, padding=True, return_tensors="pt")

    class Wrap(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, pixel_values, input_ids, attention_mask):
            return self.m(pixel_values=pixel_values, input_ids=input_ids, attention_mask=attention_mask).logits_per_video

    path = os.path.join(args.out, "xclip.onnx")
    with torch.no_grad():
        torch.onnx.export(Wrap(model), (torch.zeros(1, 8, 3, 224, 224), tok.input_ids, tok.attention_mask), path,
                          input_names=["pixel_values", "input_ids", "attention_mask"],
                          output_names=["logits_per_video"],
                          dynamic_axes={"pixel_values": {0: "batch"}, "input_ids": {0: "prompts", 1: "length"},
                                        "attention_mask": {0: "prompts", 1: "length"},
                                        "logits_per_video": {0: "batch", 1: "prompts"}},
                          opset_version=_common.OPSET)
    _common.write_prompt_ids(os.path.join(args.out, "prompt_ids.txt"), texts, tok.input_ids.tolist(),
                             tok.attention_mask.tolist())
    _common.check(path, {"pixel_values": np.zeros((1, 8, 3, 224, 224), np.float32),
                         "input_ids": tok.input_ids.numpy(), "attention_mask": tok.attention_mask.numpy()})
    print("%d prompts; set ACTION_MODEL_PATH=%s" % (len(texts), os.path.abspath(args.out)))


if __name__ == "__main__":
    main()
