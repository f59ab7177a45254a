#!/usr/bin/env python3
"""YOLOv8n-pose (Ultralytics yolov8n-pose.pt) -> <out>/model.onnx

NOT RUN HERE: needs ultralytics, PyTorch and network access (see _common.py).

vigil expects (src/models/hub_pose.c, yolopose_pose):
  input  images  [1,3,640,640] float32, the person region letterboxed with
         grey 114, RGB, x/255
  output output0 [1,56,8400]: cx, cy, w, h, person score, 17 x (x, y,
         visibility), in input pixels, scores already sigmoid (Ultralytics'
         export decodes the head)
Point YOLO_POSE_MODEL_PATH at the written model.onnx.
"""
import _common
import _yolo

if __name__ == "__main__":
    ap = _common.out_dir("yolov8n-pose")
    ap.add_argument("--weights", default="yolov8n-pose.pt", help="Ultralytics downloads it by this name")
    args = ap.parse_args()
    p = _yolo.export(args.weights, args.out, lambda nc: 4 + nc + 17 * 3)
    print("set YOLO_POSE_MODEL_PATH=%s" % p)
