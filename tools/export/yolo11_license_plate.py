#!/usr/bin/env python3
"""yolo11-license-plate (a YOLO11 licence plate detector checkpoint) -> <out>/model.onnx

NOT RUN HERE: needs ultralytics, PyTorch and network access (see _common.py).
The default checkpoint is morsetechlab/yolov11-license-plate-detection on
Hugging Face; the file name inside the repository is an assumption (check the
repository's file list and pass --weights hf://<repo>/<file> or a local .pt).

vigil expects (the detector, include/vigil/detect.h, family yolo):
  input  images  [1,3,640,640] float32, letterbox 114, RGB, x/255
  output output0 [1,5,8400]: cx, cy, w, h, plate score; metadata names
         {0: 'license_plate'}
The enrichment engine runs it on the vehicle crop; its most confident box
(>= 0.25) is then read by the PP-OCR pipeline (src/models/plate.c).
Point LICENSE_PLATE_MODEL_PATH at the written model.onnx.
"""
import _common
import _yolo

if __name__ == "__main__":
    ap = _common.out_dir("yolo11-license-plate")
    ap.add_argument("--weights", default="hf://morsetechlab/yolov11-license-plate-detection/license-plate-finetune-v1n.pt")
    args = ap.parse_args()
    p = _yolo.export(args.weights, args.out, lambda nc: 4 + nc)
    print("set LICENSE_PLATE_MODEL_PATH=%s" % p)
