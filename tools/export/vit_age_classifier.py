#!/usr/bin/env python3
"""ViT age classifier (nateraw/vit-age-classifier) -> <out>/model.onnx

NOT RUN HERE: needs the Hugging Face hub and PyTorch (see _common.py).

vigil expects (src/models/hub_vit.c, vit_age):
  input  pixel_values [B,3,224,224] float32: a square face crop (the face box
         grown 1.3x), resized, x/255, mean 0.5, std 0.5 (the model's
         preprocessor_config.json)
  output logits [B,9] over 0-2, 3-9, 10-19, 20-29, 30-39, 40-49, 50-59,
         60-69, more than 70; metadata id2label
Point AGE_MODEL_PATH at the written model.onnx.
"""
import _common

if __name__ == "__main__":
    args = _common.out_dir("vit-age-classifier").parse_args()
    p = _common.export_vit_classifier("nateraw/vit-age-classifier", args.out, 9)
    print("set AGE_MODEL_PATH=%s" % p)
