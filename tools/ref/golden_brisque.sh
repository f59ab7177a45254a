#!/usr/bin/env bash
# Golden BRISQUE scores from the reference implementation, OpenCV's quality module
# (Debian python3-opencv 4.6, cv2.quality.QualityBRISQUE_compute), with the LIVE model
# that setup installs under $VIGIL_HOME/models/brisque. Run by `make deps`.
# Writes $GOLDEN_DIR/<name>.png (the exact pixels both sides score) and
# $GOLDEN_DIR/scores.txt: "<name>.png <score> <36 features>" per line.
# Inputs: real photos, and versions of them made worse in known ways (Gaussian blur,
# additive noise with a fixed seed, JPEG compression, darkening), each decoded and
# stored losslessly so that decoders cannot differ; tests/golden/test_brisque_golden.c
# reads them.
set -euo pipefail
VIGIL_HOME=${VIGIL_HOME:-$HOME/.cache/vigil}
GOLDEN_DIR=${GOLDEN_DIR:-$VIGIL_HOME/golden/brisque}
HERE=$(cd "$(dirname "$0")" && pwd)
for f in brisque_model_live.yml brisque_range_live.yml; do
  [ -f "$VIGIL_HOME/models/brisque/$f" ] || { echo "golden_brisque: models/brisque/$f missing (run make deps)" >&2; exit 1; }
done
mkdir -p "$GOLDEN_DIR"
/usr/bin/python3 "$HERE/golden_brisque.py" "$VIGIL_HOME" "$GOLDEN_DIR"
