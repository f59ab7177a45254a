#!/usr/bin/env python3
"""Vehicle type (lxyuan/vit-base-patch16-224-vehicle-segment-classification) -> <out>/model.onnx

NOT RUN HERE: needs the Hugging Face hub and PyTorch (see _common.py).

vigil expects (src/models/hub_vehicle.c, vehicle_classify):
  input  pixel_values [B,3,224,224] float32: the vehicle box resized to
         224x224 (no crop), x/255, mean 0.5, std 0.5 (the model's
         ViTImageProcessor)
  output logits [B,11]; metadata id2label. vigil maps the labels by name to
         model-zoo.md's 11 classes (articulated_truck, background, bicycle,
         bus, car, motorcycle, non_motorized_vehicle, pedestrian,
         pickup_truck, single_unit_truck, work_van); the script stops when
         the model has a different number of labels.
Point VEHICLE_MODEL_PATH at the written model.onnx.
"""
import _common

if __name__ == "__main__":
    args = _common.out_dir("vehicle-segment-classification").parse_args()
    p = _common.export_vit_classifier("lxyuan/vit-base-patch16-224-vehicle-segment-classification", args.out, 11)
    print("set VEHICLE_MODEL_PATH=%s" % p)
