#!/usr/bin/env python3
"""OSNet x0.25 (torchreid) -> <out>/model.onnx

NOT RUN HERE: needs torchreid, PyTorch and the weights (see _common.py).
torchreid's model zoo publishes the re-id weights (for example
osnet_x0_25_msmt17_...pth, trained on MSMT17) on Google Drive; download one
and pass --weights. Without --weights the ImageNet-pretrained backbone is
used, which is NOT a re-id model (say so if you ship it).

vigil expects (src/models/hub_reid.c, osnet_embed):
  input  images   [B,3,256,128] float32: the person box resized to 256x128,
         x/255, ImageNet mean/std, RGB (torchreid's test transform)
  output features [B,512] float32 (vigil L2-normalises it)
Point REID_MODEL_PATH at the written model.onnx.
"""
import os

import _common


def main():
    ap = _common.out_dir("osnet-x0-25")
    ap.add_argument("--weights", help="torchreid checkpoint (.pth) of osnet_x0_25")
    args = ap.parse_args()
    import numpy as np
    import torch
    import torchreid

    os.makedirs(args.out, exist_ok=True)
    model = torchreid.models.build_model(name="osnet_x0_25", num_classes=1000, pretrained=args.weights is None)
    if args.weights:
        torchreid.utils.load_pretrained_weights(model, args.weights)
    model.eval()  # in eval mode OSNet returns the 512-d feature, not the logits
    path = os.path.join(args.out, "model.onnx")
    torch.onnx.export(model, (torch.zeros(1, 3, 256, 128),), path, input_names=["images"], output_names=["features"],
                      dynamic_axes={"images": {0: "batch"}, "features": {0: "batch"}}, opset_version=_common.OPSET)
    _common.set_metadata(path, {"source": "torchreid osnet_x0_25", "weights": os.path.basename(args.weights or "imagenet")})
    _common.check(path, {"images": np.zeros((1, 3, 256, 128), np.float32)})
    print("set REID_MODEL_PATH=%s" % os.path.abspath(path))


if __name__ == "__main__":
    main()
