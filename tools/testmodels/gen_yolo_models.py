#!/usr/bin/python3
"""Writes small ONNX detectors with the exact inputs and outputs of the
Ultralytics exports vigil's detector adapter recognises, for
tests/unit/test_detector_families.c. Deterministic; needs only Debian's
python3-onnx and python3-numpy.

Usage: /usr/bin/python3 tools/testmodels/gen_yolo_models.py OUTDIR

- yolo26.onnx   images [1,3,640,640] -> output0 [1,300,6] (end-to-end head:
  x1,y1,x2,y2,score,class in letterbox pixels, no NMS needed). Row 0 is a
  person box whose score is the mean of the input (so the test can check the
  /255 scaling and the grey 114 padding), row 1 a car at 0.9, row 2 a dog at
  0.2 (below the 0.5 cut-off), the rest zero. names metadata = COCO.
- yolov8.onnx   images [1,3,640,640] -> output0 [1,84,8400] (cx,cy,w,h +
  80 class scores): two overlapping person boxes (0.9 and 0.8, IoU ~0.8: NMS
  keeps one), a car overlapping them (kept: NMS is class-aware), and a horse
  (not a security class).
- bad.onnx      images [1,3,640,640] -> scores [1,7]: matches no family.
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

COCO = ["person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
        "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
        "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
        "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
        "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
        "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
        "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
        "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
        "teddy bear", "hair drier", "toothbrush"]
NAMES = "{" + ", ".join("%d: '%s'" % (i, n) for i, n in enumerate(COCO)) + "}"


def save(graph, path, names=True):
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="vigil-testmodels")
    m.ir_version = 8
    if names:
        p = m.metadata_props.add()
        p.key, p.value = "names", NAMES
    onnx.checker.check_model(m)
    onnx.save(m, path)


def yolo26(out):
    rows = np.zeros((1, 300, 6), np.float32)
    rows[0, 0] = [100, 200, 300, 500, 0, 0]     # person; score filled from the input mean
    rows[0, 1] = [350, 250, 600, 400, 0.9, 2]   # car
    rows[0, 2] = [50, 50, 100, 100, 0.2, 16]    # dog below the cut-off
    # score of row 0 = mean(images): ReduceMean -> Reshape [1,1,1] -> Pad into position (0,0,4)
    mask = np.zeros((1, 300, 6), np.float32)
    mask[0, 0, 4] = 1
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["m"], keepdims=0),
        helper.make_node("Reshape", ["m", "shape1"], ["m1"]),
        helper.make_node("Mul", ["m1", "mask"], ["score"]),
        helper.make_node("Add", ["rows", "score"], ["output0"]),
    ]
    g = helper.make_graph(nodes, "yolo26-test",
                          [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 640, 640])],
                          [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 300, 6])],
                          [numpy_helper.from_array(rows, "rows"), numpy_helper.from_array(mask, "mask"),
                           numpy_helper.from_array(np.array([1, 1, 1], np.int64), "shape1")])
    save(g, out + "/yolo26.onnx")


def yolov8(out):
    t = np.zeros((1, 84, 8400), np.float32)
    def put(i, cx, cy, w, h, cls, s):
        t[0, 0:4, i] = [cx, cy, w, h]
        t[0, 4 + cls, i] = s
    put(10, 320, 320, 100, 200, 0, 0.9)
    put(11, 325, 322, 100, 200, 0, 0.8)    # duplicate person: suppressed
    put(12, 322, 320, 100, 200, 2, 0.7)    # a car on the same spot: kept
    put(13, 100, 100, 50, 50, 17, 0.95)    # horse: not a security class
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["m"], keepdims=1),   # [1,1,1,1], keeps the input live
        helper.make_node("Mul", ["m", "zero"], ["z"]),
        helper.make_node("Reshape", ["z", "shape1"], ["z1"]),
        helper.make_node("Add", ["t", "z1"], ["output0"]),
    ]
    g = helper.make_graph(nodes, "yolov8-test",
                          [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 640, 640])],
                          [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 84, 8400])],
                          [numpy_helper.from_array(t, "t"), numpy_helper.from_array(np.zeros((), np.float32), "zero"),
                           numpy_helper.from_array(np.array([1, 1, 1], np.int64), "shape1")])
    save(g, out + "/yolov8.onnx")


def bad(out):
    nodes = [helper.make_node("GlobalAveragePool", ["images"], ["p"]),
             helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("MatMul", ["f", "w"], ["scores"])]
    g = helper.make_graph(nodes, "bad-test",
                          [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 640, 640])],
                          [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 7])],
                          [numpy_helper.from_array(np.ones((3, 7), np.float32), "w")])
    save(g, out + "/bad.onnx", names=False)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    yolo26(sys.argv[1])
    yolov8(sys.argv[1])
    bad(sys.argv[1])
