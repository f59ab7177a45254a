#!/usr/bin/env python3
"""Depth-Anything-V2-Small (depth-anything/Depth-Anything-V2-Small-hf) -> <out>/model.onnx

NOT RUN HERE: needs the Hugging Face hub and PyTorch (see _common.py).

vigil expects (src/models/hub_depth.c, depth_estimate):
  input  pixel_values    [B,3,518,518] float32: the whole frame stretched to
         518x518 (the export fixes the size; 518 is the processor's lower
         bound and a multiple of the 14 px patch), x/255, ImageNet mean/std
  output predicted_depth [B,518,518] (or [B,1,518,518]): relative inverse
         depth, larger = nearer
vigil refuses at load an export whose output is another shape (for example
the [B,37,37] patch grid of a truncated graph) with an error naming it.
Point DEPTH_MODEL_PATH at the written model.onnx.
"""
import os

import _common


def main():
    args = _common.out_dir("depth-anything-v2-small").parse_args()
    import numpy as np
    import torch
    from transformers import AutoModelForDepthEstimation

    os.makedirs(args.out, exist_ok=True)
    repo = "depth-anything/Depth-Anything-V2-Small-hf"
    model = AutoModelForDepthEstimation.from_pretrained(repo).eval()

    class Wrap(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, pixel_values):
            return self.m(pixel_values=pixel_values).predicted_depth

    path = os.path.join(args.out, "model.onnx")
    torch.onnx.export(Wrap(model), (torch.zeros(1, 3, 518, 518),), path, input_names=["pixel_values"],
                      output_names=["predicted_depth"],
                      dynamic_axes={"pixel_values": {0: "batch"}, "predicted_depth": {0: "batch"}},
                      opset_version=_common.OPSET)
    _common.set_metadata(path, {"source": repo})
    _common.check(path, {"pixel_values": np.zeros((1, 3, 518, 518), np.float32)})
    print("set DEPTH_MODEL_PATH=%s" % path)


if __name__ == "__main__":
    main()
