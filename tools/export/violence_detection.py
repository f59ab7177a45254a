#!/usr/bin/env python3
"""jaranohaal/vit-base-violence-detection (Hugging Face transformers) -> <out>/model.onnx

NOT RUN HERE: needs transformers, PyTorch and the Hugging Face hub (see _common.py).

vigil expects (src/models/hub_violence.c, violence_check / violence_classify):
  model.onnx  pixel_values [B,3,224,224] float32 (the region stretched to 224, x/255,
              mean/std 0.5) -> logits [B,2]
  metadata    id2label: one class whose name holds "violen" (and not "non"), one whose
              name holds "non" (the script copies the model's config)
Point VIOLENCE_MODEL_PATH at <out> (or <out>/model.onnx).
"""
import _common


def main():
    args = _common.out_dir("violence-detection").parse_args()
    path = _common.export_vit_classifier("jaranohaal/vit-base-violence-detection", args.out, 2)
    print("set VIOLENCE_MODEL_PATH=%s" % path)


if __name__ == "__main__":
    main()
