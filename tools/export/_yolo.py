"""Ultralytics checkpoint -> ONNX, shared by the YOLO export scripts.
NOT RUN HERE (needs ultralytics, PyTorch and the hubs; see _common.py)."""
import os
import shutil

import _common


def export(weights, out, expect_rows=None):
    """weights: a local .pt, or hf://<repo>/<file> fetched with huggingface_hub.
    Writes <out>/model.onnx: images [1,3,640,640] -> output0 [1,4+nc(+kpts),8400],
    with Ultralytics' metadata (names, task, kpt_shape, imgsz), which vigil's
    detector reads for class names."""
    from ultralytics import YOLO

    if weights.startswith("hf://"):
        from huggingface_hub import hf_hub_download
        parts = weights[5:].split("/")  # hf://owner/name/path/in/repo
        if len(parts) < 3:
            raise SystemExit("--weights hf://owner/name/file.pt")
        weights = hf_hub_download("/".join(parts[:2]), "/".join(parts[2:]))
    os.makedirs(out, exist_ok=True)
    model = YOLO(weights)
    print("names:", model.names)
    path = model.export(format="onnx", imgsz=640, opset=_common.OPSET, dynamic=False, simplify=True)
    dst = os.path.join(out, "model.onnx")
    shutil.move(path, dst)
    import numpy as np
    import onnx
    m = onnx.load(dst)
    dims = [d.dim_value for d in m.graph.output[0].type.tensor_type.shape.dim]
    if expect_rows is not None and dims[1] != expect_rows(len(model.names)):
        raise SystemExit("output0 is %s, vigil expects [1,%d,8400]" % (dims, expect_rows(len(model.names))))
    _common.check(dst, {m.graph.input[0].name: np.zeros((1, 3, 640, 640), np.float32)})
    return dst
