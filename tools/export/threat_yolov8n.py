#!/usr/bin/env python3
"""Threat-Detection-YOLOv8n (Subh775/Threat-Detection-YOLOv8n) -> <out>/model.onnx

NOT RUN HERE: needs ultralytics, PyTorch and network access (see _common.py).
The file name of the checkpoint inside the repository is an assumption
(best.pt); check the repository's file list and pass --weights
hf://<repo>/<file> or a local .pt.

vigil expects (the detector, family yolo; src/enrich maps classes to
severity by CONTRACTS.md):
  input  images  [1,3,640,640] float32, letterbox 114, RGB, x/255
  output output0 [1,4+nc,8400]; metadata names {0: 'knife', 1: 'gun', ...}
         as Ultralytics writes it: vigil reads the class names from there
Point THREAT_MODEL_PATH at the written model.onnx.
"""
import _common
import _yolo

if __name__ == "__main__":
    ap = _common.out_dir("threat-detection-yolov8n")
    ap.add_argument("--weights", default="hf://Subh775/Threat-Detection-YOLOv8n/best.pt")
    args = ap.parse_args()
    p = _yolo.export(args.weights, args.out, lambda nc: 4 + nc)
    print("set THREAT_MODEL_PATH=%s" % p)
