#!/usr/bin/env python3
"""mattmdjaga/segformer_b2_clothes (Hugging Face transformers) -> <out>/model.onnx

NOT RUN HERE: needs transformers, PyTorch and the Hugging Face hub (see _common.py).

vigil expects (src/models/hub_segformer.c, segformer_check / segformer_clothes):
  model.onnx  pixel_values [B,3,512,512] float32 (the person box stretched to 512, x/255,
              ImageNet mean (0.485,0.456,0.406) and std (0.229,0.224,0.225): the model's
              SegformerImageProcessor) -> logits [B,18,128,128] (a quarter of the input;
              vigil takes the argmax per cell, no upsampling)
  metadata    id2label: the model's 18 labels in id order: Background, Hat, Hair,
              Sunglasses, Upper-clothes, Skirt, Pants, Dress, Belt, Left-shoe, Right-shoe,
              Face, Left-leg, Right-leg, Left-arm, Right-arm, Bag, Scarf (vigil's
              segformer_labels; the script refuses a model whose labels differ)
Point SEGFORMER_MODEL_PATH at <out> (or <out>/model.onnx).
"""
import os

import _common

LABELS = ["Background", "Hat", "Hair", "Sunglasses", "Upper-clothes", "Skirt", "Pants", "Dress", "Belt",
          "Left-shoe", "Right-shoe", "Face", "Left-leg", "Right-leg", "Left-arm", "Right-arm", "Bag", "Scarf"]


def main():
    args = _common.out_dir("segformer-b2-clothes").parse_args()
    import numpy as np
    import torch
    from transformers import AutoImageProcessor, SegformerForSemanticSegmentation

    repo = "mattmdjaga/segformer_b2_clothes"
    os.makedirs(args.out, exist_ok=True)
    model = SegformerForSemanticSegmentation.from_pretrained(repo).eval()
    proc = AutoImageProcessor.from_pretrained(repo)
    print("processor: size %s, mean %s, std %s" % (proc.size, proc.image_mean, proc.image_std))
    labels = [model.config.id2label[i] for i in range(len(model.config.id2label))]
    if labels != LABELS:
        raise SystemExit("%s labels %s differ from vigil's %s" % (repo, labels, LABELS))

    class Wrap(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, pixel_values):
            return self.m(pixel_values=pixel_values).logits

    path = os.path.join(args.out, "model.onnx")
    with torch.no_grad():
        torch.onnx.export(Wrap(model), (torch.zeros(1, 3, 512, 512),), path, input_names=["pixel_values"],
                          output_names=["logits"],
                          dynamic_axes={"pixel_values": {0: "batch"}, "logits": {0: "batch"}},
                          opset_version=_common.OPSET)
    _common.set_metadata(path, {"id2label": {str(i): l for i, l in enumerate(labels)}, "source": repo})
    _common.check(path, {"pixel_values": np.zeros((1, 3, 512, 512), np.float32)})
    print("set SEGFORMER_MODEL_PATH=%s" % path)


if __name__ == "__main__":
    main()
