#!/usr/bin/env python3
"""Weather (any Hugging Face image classifier of weather) -> <out>/model.onnx

NOT RUN HERE: needs the Hugging Face hub and PyTorch (see _common.py).
model-zoo.md names a weather-classification model (200 MB, heavy service)
but no repository; pass --repo with a ViT-style weather classifier whose
processor is 224 px with mean/std 0.5 (the script warns otherwise). vigil
does not pick one for you: no weather model has been checked here.

vigil expects (src/models/hub_weather.c, weather_classify):
  input  pixel_values [B,3,224,224] float32: the whole frame resized, x/255,
         mean 0.5, std 0.5
  output logits [B,n], 2 <= n <= 64; metadata id2label (required: vigil
         refuses the model at load without it). The winning label, lower
         case, goes into the LLM prompt as "Weather: <label>".
Point WEATHER_MODEL_PATH at the written model.onnx.
"""
import _common

if __name__ == "__main__":
    ap = _common.out_dir("weather-classification")
    ap.add_argument("--repo", required=True, help="Hugging Face image classifier of weather (owner/name)")
    ap.add_argument("--labels", type=int, default=0, help="expected number of labels (0: any)")
    args = ap.parse_args()
    import transformers
    n = args.labels or len(transformers.AutoConfig.from_pretrained(args.repo).id2label)
    p = _common.export_vit_classifier(args.repo, args.out, n)
    print("set WEATHER_MODEL_PATH=%s" % p)
