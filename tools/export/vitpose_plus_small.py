#!/usr/bin/env python3
"""ViTPose+ small (usyd-community/vitpose-plus-small) -> <out>/model.onnx

NOT RUN HERE: needs the Hugging Face hub and PyTorch (see _common.py).

vigil expects (src/models/hub_pose.c, vitpose_pose):
  input  pixel_values [B,3,256,192] float32, the person box grown to 3:4 and
         padded by 1.25, affine-warped, x/255, ImageNet mean/std
  output heatmaps     [B,17,64,48] float32, COCO keypoint order
ViTPose+ is a mixture of experts over six pose datasets; the export fixes
dataset_index = 0 (COCO), so the ONNX graph takes the image only.
Point VITPOSE_MODEL_PATH at the written model.onnx.
"""
import os

import _common


def main():
    args = _common.out_dir("vitpose-plus-small").parse_args()
    import numpy as np
    import torch
    from transformers import AutoImageProcessor, VitPoseForPoseEstimation

    repo = "usyd-community/vitpose-plus-small"
    os.makedirs(args.out, exist_ok=True)
    model = VitPoseForPoseEstimation.from_pretrained(repo).eval()
    proc = AutoImageProcessor.from_pretrained(repo)
    print("processor: size %s mean %s std %s" % (proc.size, proc.image_mean, proc.image_std))

    class Wrap(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, pixel_values):
            idx = torch.zeros(pixel_values.shape[0], dtype=torch.int64)  # 0 = the COCO expert
            return self.m(pixel_values=pixel_values, dataset_index=idx).heatmaps

    path = os.path.join(args.out, "model.onnx")
    torch.onnx.export(Wrap(model), (torch.zeros(1, 3, 256, 192),), path, input_names=["pixel_values"],
                      output_names=["heatmaps"],
                      dynamic_axes={"pixel_values": {0: "batch"}, "heatmaps": {0: "batch"}},
                      opset_version=_common.OPSET)
    _common.set_metadata(path, {"source": repo, "keypoints": "coco17"})
    _common.check(path, {"pixel_values": np.zeros((1, 3, 256, 192), np.float32)})
    print("set VITPOSE_MODEL_PATH=%s" % os.path.abspath(path))


if __name__ == "__main__":
    main()
