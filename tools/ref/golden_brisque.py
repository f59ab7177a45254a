"""Reference BRISQUE scores (OpenCV quality module) for golden_brisque.sh."""
import os
import sys

import cv2
import numpy as np

home, out = sys.argv[1], sys.argv[2]
model = os.path.join(home, "models/brisque/brisque_model_live.yml")
rng = os.path.join(home, "models/brisque/brisque_range_live.yml")
media = os.path.join(home, "media")
photos = ["dog.jpg", "chelsea.png", "grace_hopper.jpg", "scenetext01.jpg", "astronaut.png", "horses.jpg"]

rs = np.random.RandomState(1234)


def variants(name, img):
    base = os.path.splitext(name)[0]
    yield base, img
    yield base + "_blur3", cv2.GaussianBlur(img, (0, 0), 3)
    noise = rs.normal(0, 20, img.shape)
    yield base + "_noise20", np.clip(img.astype(np.float64) + noise, 0, 255).astype(np.uint8)
    ok, jpg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 8])
    yield base + "_jpeg8", cv2.imdecode(jpg, cv2.IMREAD_COLOR)
    yield base + "_dark", (img.astype(np.float64) * 0.25).astype(np.uint8)


lines = []
for name in photos:
    img = cv2.imread(os.path.join(media, name), cv2.IMREAD_COLOR)
    if img is None:
        sys.exit("golden_brisque: cannot read " + name)
    for vname, v in variants(name, img):
        png = vname + ".png"
        cv2.imwrite(os.path.join(out, png), v)
        v = cv2.imread(os.path.join(out, png), cv2.IMREAD_COLOR)  # score exactly what is stored
        score = cv2.quality.QualityBRISQUE_compute(v, model, rng)[0]
        feat = cv2.quality.QualityBRISQUE_computeFeatures(v).ravel()
        lines.append("%s %.9g %s" % (png, score, " ".join("%.9g" % f for f in feat)))
with open(os.path.join(out, "scores.txt"), "w") as f:
    f.write("\n".join(lines) + "\n")
print("golden_brisque: %d images" % len(lines))
