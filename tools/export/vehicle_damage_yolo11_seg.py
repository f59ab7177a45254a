#!/usr/bin/env python3
"""Vehicle damage (harpreetsahota/car-dd-segmentation-yolov11, YOLOv11x-seg, AGPL-3.0) -> <out>/model.onnx

NOT RUN HERE: needs ultralytics, PyTorch and network access (see _common.py).
The checkpoint's file name inside the repository is an assumption
(best.pt); check the repository's file list and pass --weights
hf://<repo>/<file> or a local .pt.

vigil expects (src/models/hub_damage.c, damage_detect):
  input  images  [1,3,640,640] float32: the vehicle box letterboxed with grey
         114, RGB, x/255
  output output0 [1,4+nc+32,8400]: cx, cy, w, h (letterbox px), nc class
         scores, 32 mask coefficients
         output1 [1,32,160,160]: the mask prototypes
         metadata names {0: 'crack', ...} as Ultralytics writes it; vigil maps
         them (case, spaces) to crack, dent, glass_shatter, lamp_broken,
         scratch, tire_flat and ignores other classes
Point VEHICLE_DAMAGE_MODEL_PATH at the written model.onnx.
"""
import _common
import _yolo

if __name__ == "__main__":
    ap = _common.out_dir("vehicle-damage-detection")
    ap.add_argument("--weights", default="hf://harpreetsahota/car-dd-segmentation-yolov11/best.pt")
    args = ap.parse_args()
    p = _yolo.export(args.weights, args.out, lambda nc: 4 + nc + 32)
    import onnx
    m = onnx.load(p, load_external_data=False)
    if len(m.graph.output) != 2:
        raise SystemExit("a segmentation export has two outputs (output0, output1); this one has %d"
                         % len(m.graph.output))
    print("set VEHICLE_DAMAGE_MODEL_PATH=%s" % p)
