#!/usr/bin/env python3
"""Pets (microsoft/resnet-18, ImageNet-1k) -> <out>/model.onnx

NOT RUN HERE: needs the Hugging Face hub and PyTorch (see _common.py).

vigil expects (src/models/hub_pet.c, pet_classify):
  input  pixel_values [B,3,224,224] float32: the centre square of the animal
         box (0.875 x its shorter side, the processor's crop_pct), resized to
         224, x/255, ImageNet mean/std
  output logits [B,1000] in ImageNet-1k order: dogs are 151-268, cats
         281-285. vigil names the breeds from its own ImageNet table
         (generated at build time from Debian's python3-torchvision); the
         id2label metadata written here is for reference.
Point PET_MODEL_PATH at the written model.onnx.
"""
import os

import _common


def main():
    args = _common.out_dir("pet-classifier").parse_args()
    import numpy as np
    import torch
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    os.makedirs(args.out, exist_ok=True)
    repo = "microsoft/resnet-18"
    model = AutoModelForImageClassification.from_pretrained(repo).eval()
    proc = AutoImageProcessor.from_pretrained(repo)
    print("processor: size %s crop_pct %s mean %s std %s" % (proc.size, getattr(proc, "crop_pct", None),
                                                            proc.image_mean, proc.image_std))
    if len(model.config.id2label) != 1000:
        raise SystemExit("%s has %d labels, vigil expects the 1000 ImageNet classes" % (repo, len(model.config.id2label)))

    class Wrap(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, pixel_values):
            return self.m(pixel_values=pixel_values).logits

    path = os.path.join(args.out, "model.onnx")
    torch.onnx.export(Wrap(model), (torch.zeros(1, 3, 224, 224),), path, input_names=["pixel_values"],
                      output_names=["logits"], dynamic_axes={"pixel_values": {0: "batch"}, "logits": {0: "batch"}},
                      opset_version=_common.OPSET)
    _common.set_metadata(path, {"id2label": {str(k): v for k, v in model.config.id2label.items()}, "source": repo})
    _common.check(path, {"pixel_values": np.zeros((1, 3, 224, 224), np.float32)})
    print("set PET_MODEL_PATH=%s" % path)


if __name__ == "__main__":
    main()
