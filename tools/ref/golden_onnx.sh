#!/usr/bin/env bash
# Golden outputs of the PP-OCR ONNX models (det, rec, cls) from onnxruntime-node
# 1.30.0 (CPU, one thread), on inputs built from a real sample photo
# (scenetext01.jpg: "NOTICE / DOUBLE / PARKING / PROHIBITED").
# Run by `make deps` (tools/setup/deps.sh) with VIGIL_HOME, VIGIL_REF and
# GOLDEN_DIR set; can also be run by hand. For each model it writes
# $GOLDEN_DIR/<model>/{input_0.bin, inputs.json, output_0.bin, outputs.json,
# meta.json}; tests/golden/test_parity_onnx.c reads them.
#   det: the photo scaled to 640x480, BGR, (x/255 - mean) / std, NCHW
#   rec: the two largest text regions that ORT's det map finds, cropped from
#        the photo, 48 px high, BGR, (x/255 - .5) / .5, padded to one width
#   cls: the same crops at 48x192, plus the first one turned 180 degrees
set -euo pipefail

VIGIL_HOME=${VIGIL_HOME:-$HOME/.cache/vigil}
VIGIL_REF=${VIGIL_REF:-$VIGIL_HOME/ref}
GOLDEN_DIR=${GOLDEN_DIR:-$VIGIL_HOME/golden/onnx}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
OCR=$VIGIL_HOME/models/ocr
IMAGE=$VIGIL_HOME/media/scenetext01.jpg

[ -d "$VIGIL_REF/node_modules/onnxruntime-node" ] ||
  { echo "golden_onnx: onnxruntime-node is not installed in $VIGIL_REF (run make deps)" >&2; exit 1; }
for f in "$OCR/ch_PP-OCRv4_det_infer.onnx" "$OCR/ch_PP-OCRv4_rec_infer.onnx" \
  "$OCR/ch_ppocr_mobile_v2.0_cls_infer.onnx" "$OCR/ppocr_keys_v1.txt" "$IMAGE"; do
  [ -f "$f" ] || { echo "golden_onnx: $f is missing (run make deps)" >&2; exit 1; }
done

tmp="$GOLDEN_DIR/.tmp"
rm -rf "$tmp"
mkdir -p "$tmp/det" "$tmp/rec" "$tmp/cls"
export VIGIL_HOME VIGIL_REF

ort() { node "$HERE/ort_run.mjs" "$OCR/$1" "$tmp/$2/inputs.json" "$tmp/$2" >/dev/null; }

# det input
"$PY" "$HERE/golden_onnx_prep.py" det "$IMAGE" "$tmp"
ort ch_PP-OCRv4_det_infer.onnx det
# rec and cls inputs from the regions ORT's det map finds
"$PY" "$HERE/golden_onnx_prep.py" crops "$IMAGE" "$tmp"
ort ch_PP-OCRv4_rec_infer.onnx rec
ort ch_ppocr_mobile_v2.0_cls_infer.onnx cls
# decode (CTC greedy, cls argmax) into meta.json
"$PY" "$HERE/golden_onnx_prep.py" meta "$IMAGE" "$tmp" "$OCR/ppocr_keys_v1.txt"

for m in det rec cls; do
  rm -rf "${GOLDEN_DIR:?}/$m"
  mv "$tmp/$m" "$GOLDEN_DIR/$m"
done
rm -rf "$tmp"
echo "golden_onnx: wrote $GOLDEN_DIR/{det,rec,cls}"
