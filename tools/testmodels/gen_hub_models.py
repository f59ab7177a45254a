#!/usr/bin/python3
"""Writes small ONNX stand-ins for the models whose weights only the model hubs
have, with exactly the input and output names and shapes of the real exports
(tools/export/*.py), built from real ops so they exercise vrt, and with
weights crafted so that the adapters' decoding can be predicted by the tests
(tests/unit/test_hub_*.c). Deterministic: fixed seeds, no training.

Usage: /usr/bin/python3 tools/testmodels/gen_hub_models.py OUTDIR [name ...]
names: vitpose yolopose yoloface threat plate vitage vitgender osnet siglip xclip
vehicle damage damageflood pet depth depthbad weather violence segformer (default: all). Needs only Debian's python3-onnx and python3-numpy.

What each model computes (the tests rely on this; docs/models.md repeats it):
- vitpose  pixel_values [B,3,256,192] -> heatmaps [B,17,64,48]: a stride-4
  4x4 Conv; even keypoints light up where the input is red (R - G), odd
  keypoints where it is blue (B - R), each scaled by 0.2 (ImageNet-normalised).
- yolopose images [1,3,640,640] -> output0 [1,56,8400]: two planted people.
  Anchor 100 scores 0.2 + 0.7 * mean(input); anchor 5000 scores 0.4. Boxes
  and keypoints are constants in letterbox pixels (POSE_A, POSE_B below).
- yoloface images [1,3,640,640] -> output0 [1,5,8400], names {0: 'face'}:
  anchor 200 = box (300,200,80,100), score 0.3 + 0.6 * mean(input).
- threat   images [1,3,640,640] -> output0 [1,10,8400], Ultralytics names
  {0: 'knife', ..., 5: 'crowbar'}: a knife (0.8) at anchor 300 with a
  shifted duplicate (0.6) at 301, a gun (0.7) at anchor 400.
- plate    images [1,3,640,640] -> output0 [1,5,8400], names
  {0: 'license_plate'}: anchor 250 = box (264,370,234,58) in letterbox pixels,
  score 0.85 (where the test plate lands when dog.jpg's truck is the crop).
- vitage   pixel_values [B,3,224,224] -> logits [B,9] (ViT-shaped: patch
  Conv, one uniform-attention block, mean pooling; see vit_classifier): logit_k =
  s * (2 c_k m - c_k^2), m = mean of the normalised input, c_k = -1 + k/4,
  s = 8, so a brighter face lands in an older bin.
- vitgender pixel_values [B,3,224,224] -> logits [B,2] (female, male):
  male - female = 6 * (mean R - mean B) of the normalised input.
- osnet    images [B,3,256,128] -> features [B,512]: zero-mean 8x8 stride-8
  Conv, Relu, 4x4 AveragePool, Flatten, MatMul (random, seed 7).
- siglip/  vision.onnx pixel_values [B,3,224,224] -> image_embeds [B,768];
  text.onnx input_ids [B,64] -> text_embeds [B,768]; prompt_ids.txt. Both
  towers map into one 4-d space [r, g, b, 1] embedded by an orthonormal
  4x768 matrix; the prompts get 4-d targets by keyword (dark -> (-1,-1,-1,1),
  high-visibility -> (1,1,-1,1), anything else (0,0,0,-1)).
- xclip/   xclip.onnx pixel_values [B,8,3,224,224] + input_ids [N,L] +
  attention_mask [N,L] -> logits_per_video [B,N]; prompt_ids.txt. The video
  vector is the mean colour over the 8 frames (CLIP-normalised); running is
  red, walking green, fighting blue, the rest (0,0,0,-1).
- vehicle  pixel_values [B,3,224,224] -> logits [B,11] (vit_classifier),
  id2label = model-zoo.md's 11 classes: logits = 6 * mean colour (normalised)
  on pickup_truck (R), background (G), work_van (B), pedestrian 5 * G.
- damage   images [1,3,640,640] -> output0 [1,42,8400] + output1 [1,32,160,160]
  (YOLOv11-seg, nc 6, CarDD names with spaces): a glass shatter (0.9, box
  cx,cy,w,h = 320,320,100,80, mask = prototype 0, +1 on cells 70..89 x
  70..89) with a shifted duplicate (0.6), a lamp broken (0.7, box
  150,150,60,40, mask = prototype 1, +1 everywhere); all constants.
- damageflood the same signature with 5000 non-overlapping dents (0.5).
- pet      pixel_values [B,3,224,224] -> logits [B,1000] (Conv, GAP, MatMul):
  8 * mean R -> 207 (golden retriever) and 6 * R -> 208 (Labrador),
  8 * B -> 281 (tabby), 8 * G -> 17 (jay).
- depth    pixel_values [B,3,518,518] -> predicted_depth [B,518,518]: the
  mean of the three normalised channels (brighter = nearer).
- depthbad the same input -> predicted_depth [B,37,37] (a patch Conv
  without the head's upsampling): vigil must refuse it at load.
- weather  pixel_values [B,3,224,224] -> logits [B,3], id2label
  {clear, rain, fog}: 6 * R, 6 * B, 6 * G.
- violence pixel_values [B,3,224,224] -> logits [B,2] (vit_classifier), id2label
  {Non-Violence, Violence}: violence - non-violence = 6 * (mean R - mean B).
- segformer pixel_values [B,3,512,512] -> logits [B,18,128,128], the model's 18
  labels: red cells upper clothes, blue pants, green a hat, the rest background.
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hub_prompts  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
F32, I64 = TensorProto.FLOAT, TensorProto.INT64
vi = helper.make_tensor_value_info
node = helper.make_node


def init(name, arr, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(arr, dtype=dtype), name)


def save(path, name, nodes, inputs, outputs, inits, meta=None):
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="vigil-testmodels")
    m.ir_version = 8
    props = {"vigil_test_model": name}
    props.update(meta or {})
    helper.set_model_props(m, props)
    onnx.checker.check_model(m)
    onnx.save(m, path)


def mean_scalar(inp):
    """[1,3,H,W] -> [1,1,1] mean of every pixel and channel."""
    return [node("GlobalAveragePool", [inp], ["gap"]),
            node("ReduceMean", ["gap"], ["m4"], axes=[1, 2, 3], keepdims=1),
            node("Reshape", ["m4", "shape111"], ["m"])], [init("shape111", [1, 1, 1], np.int64)]


# ---- ViTPose+ small --------------------------------------------------------
def vitpose(out):
    w = np.zeros((17, 3, 4, 4), np.float32)
    for k in range(17):
        if k % 2 == 0:
            w[k, 0], w[k, 1] = 1.0, -1.0   # red
        else:
            w[k, 2], w[k, 0] = 1.0, -1.0   # blue
    w *= 0.2 / 16
    save(os.path.join(out, "vitpose.onnx"), "vitpose",
         [node("Conv", ["pixel_values", "W"], ["heatmaps"], kernel_shape=[4, 4], strides=[4, 4])],
         [vi("pixel_values", F32, ["batch", 3, 256, 192])], [vi("heatmaps", F32, ["batch", 17, 64, 48])],
         [init("W", w)])


# ---- YOLO family (constant planted rows + one input-dependent score) --------
def yolo_const(out, fname, name, rows, plants, meta):
    """plants: (anchor, values per row or None, row, a, b): out[row, anchor] = a + b * mean."""
    C = np.zeros((1, rows, 8400), np.float32)
    M = np.zeros((1, rows, 8400), np.float32)
    for anchor, vals, row, a, b in plants:
        if vals is not None:
            C[0, :len(vals), anchor] = vals
        C[0, row, anchor] = a
        M[0, row, anchor] = b
    nodes, inits = mean_scalar("images")
    nodes += [node("Mul", ["m", "M"], ["dm"]), node("Add", ["C", "dm"], ["output0"])]
    inits += [init("C", C), init("M", M)]
    save(os.path.join(out, fname), name, nodes, [vi("images", F32, [1, 3, 640, 640])],
         [vi("output0", F32, [1, rows, 8400])], inits, meta)


# letterbox-pixel people for yolopose: box then 17 (x, y, visibility)
def skeleton(cx, top, h):
    ys = [0.06, 0.04, 0.04, 0.05, 0.05, 0.2, 0.2, 0.35, 0.35, 0.48, 0.48, 0.52, 0.52, 0.72, 0.72, 0.95, 0.95]
    dx = [0, -6, 6, -12, 12, -30, 30, -36, 36, -38, 38, -18, 18, -20, 20, -22, 22]
    kp = []
    for k in range(17):
        kp += [cx + dx[k], top + ys[k] * h, 0.9]
    return kp


POSE_A = [320, 320, 160, 400] + [0] + skeleton(320, 120, 400)
POSE_B = [200, 300, 100, 300] + [0] + skeleton(200, 150, 300)


def yolopose(out):
    yolo_const(out, "yolov8n-pose.onnx", "yolov8n-pose", 56,
               [(100, POSE_A, 4, 0.2, 0.7), (5000, POSE_B, 4, 0.4, 0.0)],
               {"names": "{0: 'person'}", "kpt_shape": "[17, 3]", "task": "pose"})


def yoloface(out):
    yolo_const(out, "yolo11-face.onnx", "yolo11-face", 5, [(200, [300, 200, 80, 100], 4, 0.3, 0.6)],
               {"names": "{0: 'face'}", "task": "detect"})


THREAT_NAMES = "{0: 'knife', 1: 'gun', 2: 'pistol', 3: 'rifle', 4: 'bat', 5: 'crowbar'}"


def threat(out):
    yolo_const(out, "threat-yolov8n.onnx", "threat-yolov8n", 10,
               [(300, [400, 300, 60, 120], 4, 0.8, 0.0), (301, [404, 304, 60, 120], 4, 0.6, 0.0),
                (400, [150, 420, 90, 50], 5, 0.7, 0.0)],
               {"names": THREAT_NAMES, "task": "detect", "imgsz": "[640, 640]"})


def plate(out):
    yolo_const(out, "yolo11-license-plate.onnx", "yolo11-license-plate", 5,
               [(250, [264, 370, 234, 58], 4, 0.85, 0.0)], {"names": "{0: 'license_plate'}", "task": "detect"})


# ---- ViT classifiers ---------------------------------------------------------
AGE_LABELS = ["0-2", "3-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "more than 70"]


def vit_classifier(out, fname, name, W, b, labels):
    """ViT-shaped: 16x16 patch embedding (Conv), tokens, one self-attention
    block with a residual, mean over tokens, linear head. Q = K = 0 makes the
    attention uniform, so every token's update is the mean token and the
    pooled feature is exactly the image's mean colour (what the tests predict
    from), while Conv, Reshape, Transpose, batched MatMul and Softmax run."""
    n = W.shape[1]
    wp = np.zeros((3, 3, 16, 16), np.float32)
    for c in range(3):
        wp[c, c] = 1.0 / 256
    nodes = [
        node("Conv", ["pixel_values", "Wp"], ["pe"], kernel_shape=[16, 16], strides=[16, 16]),  # [B,3,14,14]
        node("Reshape", ["pe", "s_tok"], ["t"]),                                                # [B,3,196]
        node("Transpose", ["t"], ["x"], perm=[0, 2, 1]),                                        # [B,196,3]
        node("MatMul", ["x", "Wq"], ["q"]), node("MatMul", ["x", "Wk"], ["k"]),
        node("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
        node("MatMul", ["q", "kt"], ["sc"]), node("Softmax", ["sc"], ["att"], axis=-1),          # [B,196,196]
        node("MatMul", ["att", "x"], ["y"]), node("Add", ["x", "y"], ["h"]),
        node("ReduceMean", ["h"], ["hm"], axes=[1], keepdims=0), node("Mul", ["hm", "half"], ["f"]),
        node("MatMul", ["f", "W"], ["mm"]), node("Add", ["mm", "b"], ["logits"]),
    ]
    inits = [init("Wp", wp), init("s_tok", [0, 3, 196], np.int64), init("Wq", np.zeros((3, 8))),
             init("Wk", np.zeros((3, 8))), init("half", [0.5]), init("W", W), init("b", b)]
    save(os.path.join(out, fname), name, nodes,
         [vi("pixel_values", F32, ["batch", 3, 224, 224])], [vi("logits", F32, ["batch", n])],
         inits, {"id2label": json.dumps({str(i): l for i, l in enumerate(labels)})})


def vitage(out):
    s, c = 8.0, np.array([-1 + k / 4 for k in range(9)], np.float32)
    W = np.tile((2 * s * c / 3)[None, :], (3, 1))  # mean over channels folded in
    vit_classifier(out, "vit-age-classifier.onnx", "vit-age", W, -s * c * c, AGE_LABELS)


def vitgender(out):
    W = np.zeros((3, 2), np.float32)
    W[0, 1], W[2, 1] = 3.0, -3.0   # male:   +3 (R - B)
    W[0, 0], W[2, 0] = -3.0, 3.0   # female: -3 (R - B)
    vit_classifier(out, "vit-gender-classifier.onnx", "vit-gender", W, np.zeros(2, np.float32),
                   ["female", "male"])


# ---- OSNet x0.25 -------------------------------------------------------------
def osnet(out):
    rng = np.random.default_rng(7)
    w = rng.standard_normal((16, 3, 8, 8)).astype(np.float32)
    w -= w.mean(axis=(1, 2, 3), keepdims=True)
    w /= 64
    fc = rng.standard_normal((512, 512)).astype(np.float32) / np.sqrt(512)
    save(os.path.join(out, "osnet_x0_25.onnx"), "osnet_x0_25",
         [node("Conv", ["images", "W"], ["c"], kernel_shape=[8, 8], strides=[8, 8]),
          node("Relu", ["c"], ["r"]),
          node("AveragePool", ["r"], ["p"], kernel_shape=[4, 4], strides=[4, 4]),
          node("Flatten", ["p"], ["f"], axis=1), node("MatMul", ["f", "FC"], ["features"])],
         [vi("images", F32, ["batch", 3, 256, 128])], [vi("features", F32, ["batch", 512])],
         [init("W", w), init("FC", fc)])


# ---- FashionSigLIP: two towers and pre-tokenised prompts -------------------------
def ortho4(dim, seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, 4)))
    return q.T.astype(np.float32)  # [4, dim], orthonormal rows


def clothing_target(p):
    p = p.lower()
    if "dark" in p:
        return [-1, -1, -1, 1]
    if "high-visibility" in p:
        return [1, 1, -1, 1]
    return [0, 0, 0, -1]


def write_ids(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        f.write("# vigil prompt ids: prompt<TAB>ids[<TAB>attention mask] (generated test tokens)\n")
        for r in rows:
            f.write("\t".join([r[0]] + [" ".join(str(int(v)) for v in c) for c in r[1:]]) + "\n")


def siglip(out):
    d = os.path.join(out, "siglip")
    os.makedirs(d, exist_ok=True)
    Q = ortho4(768, 11)
    save(os.path.join(d, "vision.onnx"), "siglip-vision",
         [node("GlobalAveragePool", ["pixel_values"], ["gap"]), node("Flatten", ["gap"], ["f"], axis=1),
          node("MatMul", ["f", "W"], ["mm"]), node("Add", ["mm", "b"], ["image_embeds"])],
         [vi("pixel_values", F32, ["batch", 3, 224, 224])], [vi("image_embeds", F32, ["batch", 768])],
         [init("W", Q[:3]), init("b", Q[3])])
    prompts = hub_prompts.clothing_prompts(ROOT)
    E = np.zeros((len(prompts) + 2, 4), np.float32)  # 0 unused, 1 = pad
    rows = []
    for i, p in enumerate(prompts):
        E[i + 2] = clothing_target(p)
        rows.append((p, [i + 2] + [1] * 63))
    save(os.path.join(d, "text.onnx"), "siglip-text",
         [node("Gather", ["E", "input_ids"], ["g"]), node("ReduceSum", ["g", "ax1"], ["s"], keepdims=0),
          node("MatMul", ["s", "Q"], ["text_embeds"])],
         [vi("input_ids", I64, ["batch", 64])], [vi("text_embeds", F32, ["batch", 768])],
         [init("E", E), init("ax1", [1], np.int64), init("Q", Q)])
    write_ids(os.path.join(d, "prompt_ids.txt"), rows)


# ---- X-CLIP base patch32: one graph, video + prompts -> logits --------------------
def action_target(name):
    return {"running": [1, -1, -1, 0], "walking": [-1, 1, -1, 0], "fighting": [-1, -1, 1, 0]}.get(name, [0, 0, 0, -1])


def xclip(out):
    d = os.path.join(out, "xclip")
    os.makedirs(d, exist_ok=True)
    acts = hub_prompts.action_prompts(ROOT)
    E = np.zeros((len(acts) + 2, 4), np.float32)
    rows = []
    for i, (name, prompt) in enumerate(acts):
        E[i + 2] = action_target(name)
        ids = [i + 2, 1, 1, 0, 0, 0]  # padded to 6 like a real batch, mask marks the pad
        rows.append((prompt, ids, [1, 1, 1, 0, 0, 0]))
    P = np.zeros((3, 4), np.float32)
    P[0, 0] = P[1, 1] = P[2, 2] = 1
    b4 = np.array([0, 0, 0, 1], np.float32)
    nodes = [
        node("Reshape", ["pixel_values", "s_frames"], ["fr"]),            # [B*8,3,224,224]
        node("GlobalAveragePool", ["fr"], ["gap"]),                        # [B*8,3,1,1]
        node("Reshape", ["gap", "s_bt3"], ["bt3"]),                        # [B,8,3]
        node("ReduceMean", ["bt3"], ["v3"], axes=[1], keepdims=0),        # [B,3]
        node("MatMul", ["v3", "P"], ["v4a"]), node("Add", ["v4a", "b4"], ["v4"]),
        node("Gather", ["E", "input_ids"], ["g"]),                         # [N,L,4]
        node("Cast", ["attention_mask"], ["mf"], to=F32),
        node("Unsqueeze", ["mf", "ax2"], ["mu"]),                          # [N,L,1]
        node("Mul", ["g", "mu"], ["gm"]),
        node("ReduceSum", ["gm", "ax1"], ["t4"], keepdims=0),              # [N,4]
        node("Transpose", ["t4"], ["t4t"], perm=[1, 0]),
        node("MatMul", ["v4", "t4t"], ["lv"]),
        node("Mul", ["lv", "scale"], ["logits_per_video"]),
    ]
    inits = [init("s_frames", [-1, 3, 224, 224], np.int64), init("s_bt3", [-1, 8, 3], np.int64), init("P", P),
             init("b4", b4), init("E", E), init("ax1", [1], np.int64), init("ax2", [2], np.int64),
             init("scale", [10.0])]
    save(os.path.join(d, "xclip.onnx"), "xclip", nodes,
         [vi("pixel_values", F32, ["batch", 8, 3, 224, 224]), vi("input_ids", I64, ["prompts", "length"]),
          vi("attention_mask", I64, ["prompts", "length"])],
         [vi("logits_per_video", F32, ["batch", "prompts"])], inits)
    write_ids(os.path.join(d, "prompt_ids.txt"), rows)


# ---- the vehicle and animal path ------------------------------------------------
VEHICLE_CLASSES = ["articulated_truck", "background", "bicycle", "bus", "car", "motorcycle",
                   "non_motorized_vehicle", "pedestrian", "pickup_truck", "single_unit_truck", "work_van"]


def vehicle(out):
    W = np.zeros((3, 11), np.float32)
    W[0, 8] = 6.0   # red   -> pickup_truck
    W[1, 1] = 6.0   # green -> background (never reported)
    W[1, 7] = 5.0   # green -> pedestrian (never reported)
    W[2, 10] = 6.0  # blue  -> work_van
    vit_classifier(out, "vehicle-segment.onnx", "vehicle-segment", W, np.zeros(11, np.float32), VEHICLE_CLASSES)


DAMAGE_NAMES = "{0: 'crack', 1: 'dent', 2: 'glass shatter', 3: 'lamp broken', 4: 'scratch', 5: 'tire flat'}"


def seg_model(out, fname, name, C, P):
    nodes, inits = mean_scalar("images")
    nodes += [node("Mul", ["m", "zero"], ["z"]), node("Add", ["C", "z"], ["output0"]),
              node("Add", ["P", "z"], ["output1"])]
    inits += [init("C", C), init("P", P), init("zero", [0.0])]
    save(os.path.join(out, fname), name, nodes, [vi("images", F32, [1, 3, 640, 640])],
         [vi("output0", F32, [1, 42, 8400]), vi("output1", F32, [1, 32, 160, 160])], inits,
         {"names": DAMAGE_NAMES, "task": "segment", "imgsz": "[640, 640]"})


def damage(out):
    C = np.zeros((1, 42, 8400), np.float32)
    def plant(a, box, cls, score, coef):
        C[0, :4, a] = box
        C[0, 4 + cls, a] = score
        C[0, 10 + coef, a] = 1.0
    plant(100, [320, 320, 100, 80], 2, 0.9, 0)
    plant(101, [324, 322, 100, 80], 2, 0.6, 0)
    plant(200, [150, 150, 60, 40], 3, 0.7, 1)
    P = np.full((1, 32, 160, 160), -1.0, np.float32)
    P[0, 0, 70:90, 70:90] = 1.0
    P[0, 1] = 1.0
    seg_model(out, "damage-seg.onnx", "damage-seg", C, P)


def damageflood(out):
    C = np.zeros((1, 42, 8400), np.float32)
    for a in range(5000):
        C[0, :4, a] = [4 + 8 * (a % 80), 4 + 8 * (a // 80), 4, 4]
        C[0, 4 + 1, a] = 0.5
        C[0, 10, a] = 1.0
    P = np.ones((1, 32, 160, 160), np.float32)
    seg_model(out, "damage-flood.onnx", "damage-flood", C, P)


def pet(out):
    wc = np.zeros((8, 3, 4, 4), np.float32)
    for c in range(3):
        wc[c, c] = 1.0 / 16
    W = np.zeros((8, 1000), np.float32)
    W[0, 207], W[0, 208] = 8.0, 6.0
    W[2, 281] = 8.0
    W[1, 17] = 8.0
    save(os.path.join(out, "resnet-18.onnx"), "resnet-18",
         [node("Conv", ["pixel_values", "Wc"], ["c"], kernel_shape=[4, 4], strides=[4, 4]),
          node("GlobalAveragePool", ["c"], ["g"]), node("Flatten", ["g"], ["f"], axis=1),
          node("MatMul", ["f", "W"], ["logits"])],
         [vi("pixel_values", F32, ["batch", 3, 224, 224])], [vi("logits", F32, ["batch", 1000])],
         [init("Wc", wc), init("W", W)])


def depth(out):
    w = np.full((1, 3, 1, 1), 1.0 / 3, np.float32)
    save(os.path.join(out, "depth-anything.onnx"), "depth-anything",
         [node("Conv", ["pixel_values", "W"], ["c"], kernel_shape=[1, 1]),
          node("Squeeze", ["c", "ax1"], ["predicted_depth"])],
         [vi("pixel_values", F32, ["batch", 3, 518, 518])], [vi("predicted_depth", F32, ["batch", 518, 518])],
         [init("W", w), init("ax1", [1], np.int64)])


def depthbad(out):
    w = np.full((1, 3, 14, 14), 1.0 / (3 * 196), np.float32)
    save(os.path.join(out, "depth-bad.onnx"), "depth-bad",
         [node("Conv", ["pixel_values", "W"], ["c"], kernel_shape=[14, 14], strides=[14, 14]),
          node("Squeeze", ["c", "ax1"], ["predicted_depth"])],
         [vi("pixel_values", F32, [1, 3, 518, 518])], [vi("predicted_depth", F32, [1, 37, 37])],
         [init("W", w), init("ax1", [1], np.int64)])


def weather(out):
    W = np.zeros((3, 3), np.float32)
    W[0, 0], W[2, 1], W[1, 2] = 6.0, 6.0, 6.0
    vit_classifier(out, "weather.onnx", "weather", W, np.zeros(3, np.float32), ["Clear", "Rain", "Fog"])


def violence(out):
    """violence-detection: logits = 3 (R - B) for Violence, the opposite for Non-Violence
    (a red region is violent, a blue one is not)."""
    W = np.zeros((3, 2), np.float32)
    W[0, 1], W[2, 1] = 3.0, -3.0
    W[0, 0], W[2, 0] = -3.0, 3.0
    vit_classifier(out, "violence.onnx", "violence", W, np.zeros(2, np.float32), ["Non-Violence", "Violence"])


def segformer(out):
    """segformer-b2-clothes: pixel_values [B,3,512,512] -> logits [B,18,128,128]. A 4x4
    stride-4 Conv takes each cell's mean colour (ImageNet-normalised), a 1x1 Conv scores
    labels: upper_clothes (4) = 3R - 1.5G - 1.5B, pants (6) = 3B - 1.5R - 1.5G,
    hat (1) = 3G - 1.5R - 1.5B, background (0) = 2, the rest -10: red cells are upper
    clothes, blue pants, green a hat, grey background."""
    wp = np.zeros((3, 3, 4, 4), np.float32)
    for c in range(3):
        wp[c, c] = 1.0 / 16
    w1 = np.zeros((18, 3, 1, 1), np.float32)
    b1 = np.full(18, -10.0, np.float32)
    b1[0] = 2.0
    for lab, ch in ((4, 0), (6, 2), (1, 1)):
        w1[lab, :, 0, 0] = -1.5
        w1[lab, ch, 0, 0] = 3.0
        b1[lab] = 0.0
    labels = ["Background", "Hat", "Hair", "Sunglasses", "Upper-clothes", "Skirt", "Pants", "Dress", "Belt",
              "Left-shoe", "Right-shoe", "Face", "Left-leg", "Right-leg", "Left-arm", "Right-arm", "Bag", "Scarf"]
    save(os.path.join(out, "segformer.onnx"), "segformer-b2-clothes",
         [node("Conv", ["pixel_values", "Wp"], ["m"], kernel_shape=[4, 4], strides=[4, 4]),
          node("Conv", ["m", "W1", "B1"], ["logits"], kernel_shape=[1, 1])],
         [vi("pixel_values", F32, ["batch", 3, 512, 512])], [vi("logits", F32, ["batch", 18, 128, 128])],
         [init("Wp", wp), init("W1", w1), init("B1", b1)],
         {"id2label": json.dumps({str(i): l for i, l in enumerate(labels)})})


MODELS = {"vitpose": vitpose, "yolopose": yolopose, "yoloface": yoloface, "threat": threat, "plate": plate,
          "vitage": vitage,
          "vitgender": vitgender, "osnet": osnet, "siglip": siglip, "xclip": xclip, "vehicle": vehicle,
          "damage": damage, "damageflood": damageflood, "pet": pet, "depth": depth, "depthbad": depthbad,
          "weather": weather, "violence": violence, "segformer": segformer}

if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    for n in sys.argv[2:] or MODELS:
        if n not in MODELS:
            raise SystemExit("unknown model %r (known: %s)" % (n, " ".join(MODELS)))
        MODELS[n](outdir)
