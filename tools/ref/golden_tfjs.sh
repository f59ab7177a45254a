#!/usr/bin/env bash
# Golden outputs of the human-models TF.js graphs, from @tensorflow/tfjs 4.22.0
# (pure-JS cpu backend), on inputs built from the real sample photos.
# Run by `make deps` (tools/setup/deps.sh) with VIGIL_HOME, VIGIL_REF and
# GOLDEN_DIR set; can also be run by hand. For each model it writes
# $GOLDEN_DIR/<model>/{input_0.bin, inputs.json, output_<i>.bin, outputs.json,
# meta.json}, and for each synthetic case of tfjs_ops_cases.py the same plus
# model.json and w.bin under $GOLDEN_DIR/ops/<case>/.
# tests/golden/test_parity_tfjs.c reads meta.json.
set -euo pipefail

VIGIL_HOME=${VIGIL_HOME:-$HOME/.cache/vigil}
VIGIL_REF=${VIGIL_REF:-$VIGIL_HOME/ref}
GOLDEN_DIR=${GOLDEN_DIR:-$VIGIL_HOME/golden/tfjs}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3

[ -d "$VIGIL_REF/node_modules/@tensorflow/tfjs" ] ||
  { echo "golden_tfjs: @tensorflow/tfjs is not installed in $VIGIL_REF (run make deps)" >&2; exit 1; }

# The helpers are pinned by hash: deps.sh regenerates when this script
# changes, so a changed helper must change this script (update the hash).
pin() {
  local have
  have=$(sha256sum "$HERE/$1" | cut -d' ' -f1)
  [ "$have" = "$2" ] || { echo "golden_tfjs: $1 changed: set its hash to $have in $0" >&2; exit 1; }
}
pin tfjs_run.mjs 1cc0486fb1df723ec3f1ad83dd596e7c45a2ac39d45c27b4a83291524b94edef
pin tfjs_ops_cases.py 1943e812226bf1df70fab0a53f8c7bc869e5a69b9ed22d8905c4c0285659936a

# model:image; the preprocessing per model is in the python below (MODEL-FACTS.md)
MODELS="centernet:dog.jpg nanodet:person.jpg movenet-lightning:person.jpg movenet-thunder:messi5.jpg
blazeface:astronaut.png gear:grace_hopper.jpg age:grace_hopper.jpg gender:astronaut.png faceres:astronaut.png"

# meta.json of one golden folder: pre.json (if any) + the reference's log line
# + inputs.json + outputs.json with each output's max |value|.
write_meta() {
  "$PY" - "$1" <<'EOF'
import json, os, sys
import numpy as np
d = sys.argv[1]
meta = json.load(open(f"{d}/pre.json")) if os.path.exists(f"{d}/pre.json") else {}
meta["reference"] = json.loads(open(f"{d}/run.log").read().strip().splitlines()[-1])
meta["inputs"] = json.load(open(f"{d}/inputs.json"))
outs = json.load(open(f"{d}/outputs.json"))
for o in outs:
    a = np.fromfile(f"{d}/{o['file']}", dtype="<f4" if o["dtype"] == "float32" else "<i4")
    o["max_abs"] = float(np.abs(a).max()) if a.size else 0.0
meta["outputs"] = outs
json.dump(meta, open(f"{d}/meta.json", "w"), indent=1)
EOF
  rm -f "$1/pre.json" "$1/run.log"
}

mkdir -p "$GOLDEN_DIR"
for entry in $MODELS; do
  model=${entry%%:*}
  image=${entry#*:}
  json="$VIGIL_HOME/models/human/$model.json"
  [ -f "$json" ] || { echo "golden_tfjs: $json is missing (run make deps)" >&2; exit 1; }
  tmp="$GOLDEN_DIR/.$model.tmp"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  "$PY" - "$model" "$VIGIL_HOME/media/$image" "$tmp" <<'EOF'
import json, sys
import numpy as np
from PIL import Image

model, image, out = sys.argv[1:4]
im = Image.open(image).convert("RGB")

# Tight face boxes (left, top, right, bottom) in the sample photos.
FACES = {"grace_hopper.jpg": (160, 130, 370, 340), "astronaut.png": (165, 55, 305, 195)}

def face(size, mode="RGB"):
    box = FACES[image.rsplit("/", 1)[-1]]
    return im.crop(box).convert(mode).resize((size, size), Image.BILINEAR)

def square(size):
    """Pad to a square at the bottom/right with black, then resize."""
    s = max(im.size)
    canvas = Image.new("RGB", (s, s))
    canvas.paste(im, (0, 0))
    return canvas.resize((size, size), Image.BILINEAR)

def f32(a):
    return np.asarray(a, dtype=np.float32)

if model == "centernet":      # [1,512,512,3] RGB 0..255, stretched
    x, pre = f32(im.resize((512, 512), Image.BILINEAR))[None], "RGB 0..255, stretched to 512x512"
elif model == "nanodet":      # [1,3,416,416] BGR, (x - mean) / std, NCHW
    a = f32(im.resize((416, 416), Image.BILINEAR))[:, :, ::-1]
    a = (a - f32([103.53, 116.28, 123.675])) / f32([57.375, 57.12, 58.395])
    x, pre = np.ascontiguousarray(a.transpose(2, 0, 1))[None], "BGR (x-mean)/std NCHW 416, stretched"
elif model in ("movenet-lightning", "movenet-thunder"):  # int32 RGB 0..255, padded square
    n = 192 if model == "movenet-lightning" else 256
    x, pre = np.asarray(square(n), dtype=np.int32)[None], f"int32 RGB 0..255, padded square {n}"
elif model == "blazeface":    # [1,256,256,3] x/127.5 - 1
    x, pre = (f32(square(256)) / 127.5 - 1)[None], "RGB x/127.5-1, padded square 256"
elif model == "gear":         # [1,198,198,3] RGB 0..1, tight face crop
    x, pre = (f32(face(198)) / 255)[None], "RGB 0..1 face crop 198"
elif model == "age":          # [1,64,64,3] RGB 0..255
    x, pre = f32(face(64))[None], "RGB 0..255 face crop 64"
elif model == "gender":       # [1,64,64,1] grey -1..1
    x, pre = (f32(face(64, "L")) / 127.5 - 1)[None, :, :, None], "grey x/127.5-1 face crop 64"
elif model == "faceres":      # [1,224,224,3] RGB 0..255 (as human feeds it)
    x, pre = f32(face(224))[None], "RGB 0..255 face crop 224"
else:
    sys.exit(f"unknown model {model}")

x = np.ascontiguousarray(x)
x.astype("<i4" if x.dtype == np.int32 else "<f4").tofile(f"{out}/input_0.bin")
dtype = "int32" if x.dtype == np.int32 else "float32"
json.dump([{"name": "", "dtype": dtype, "shape": list(x.shape), "file": "input_0.bin"}],
          open(f"{out}/inputs.json", "w"))
json.dump({"model": model, "image": image.rsplit("/", 1)[-1], "preprocess": pre}, open(f"{out}/pre.json", "w"))
EOF
  VIGIL_HOME="$VIGIL_HOME" VIGIL_REF="$VIGIL_REF" node "$HERE/tfjs_run.mjs" "$json" "$tmp/inputs.json" "$tmp" >"$tmp/run.log"
  write_meta "$tmp"
  rm -rf "${GOLDEN_DIR:?}/$model"
  mv "$tmp" "$GOLDEN_DIR/$model"
  echo "golden_tfjs: $model ok"
done

# Synthetic graphs for the lowerings the nine models do not exercise
# (tfjs_ops_cases.py): $GOLDEN_DIR/ops/<case>/ also holds model.json + w.bin.
rm -rf "$GOLDEN_DIR/ops.tmp"
mkdir -p "$GOLDEN_DIR/ops.tmp"
"$PY" "$HERE/tfjs_ops_cases.py" "$GOLDEN_DIR/ops.tmp"
for d in "$GOLDEN_DIR"/ops.tmp/*; do
  VIGIL_HOME="$VIGIL_HOME" VIGIL_REF="$VIGIL_REF" node "$HERE/tfjs_run.mjs" "$d/model.json" "$d/inputs.json" "$d" \
    >"$d/run.log"
  write_meta "$d"
  echo "golden_tfjs: ops/$(basename "$d") ok"
done
rm -rf "${GOLDEN_DIR:?}/ops"
mv "$GOLDEN_DIR/ops.tmp" "$GOLDEN_DIR/ops"
