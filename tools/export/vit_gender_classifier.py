#!/usr/bin/env python3
"""ViT gender classifier (rizvandwiki/gender-classification) -> <out>/model.onnx

NOT RUN HERE: needs the Hugging Face hub and PyTorch (see _common.py).

vigil expects (src/models/hub_vit.c, vit_gender):
  input  pixel_values [B,3,224,224] float32, as for the age classifier
         (224, mean 0.5, std 0.5)
  output logits [B,2]; metadata id2label says which index is "male" (the
         adapter reads it; without it, it assumes female, male)
Point GENDER_MODEL_PATH at the written model.onnx. Any 2-label ViT gender
classifier works: pass --repo.
"""
import _common

if __name__ == "__main__":
    ap = _common.out_dir("vit-gender-classifier")
    ap.add_argument("--repo", default="rizvandwiki/gender-classification")
    args = ap.parse_args()
    p = _common.export_vit_classifier(args.repo, args.out, 2)
    print("set GENDER_MODEL_PATH=%s" % p)
