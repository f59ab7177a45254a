#!/usr/bin/python3
"""Test images for the OCR and plate tests, rendered at test time with
python3-pil (nothing is committed): `basic OUT` writes a 1x1 image, a
40,000-px-wide image, a photo without text, a noise image and a sign in a
script outside the PP-OCR dictionary; `plates MEDIA OUT` renders licence
plates (several fonts, sizes, slight perspective, blur) onto the real vehicle
photos and writes OUT/plates.json: [{file, text, vehicle: [x1,y1,x2,y2],
plate: [x1,y1,x2,y2]}]."""
import json
import os
import random
import sys

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONTS = "/usr/share/fonts/truetype/dejavu/"


def basic(out):
    Image.new("RGB", (1, 1), (128, 128, 128)).save(os.path.join(out, "one.png"))
    Image.new("RGB", (40000, 8), (200, 200, 200)).save(os.path.join(out, "wide.png"))
    sky = Image.new("RGB", (320, 240))
    for y in range(240):
        ImageDraw.Draw(sky).line([(0, y), (319, y)], fill=(60 + y // 4, 130, 210))
    sky.save(os.path.join(out, "blank.png"))
    rnd = random.Random(7)
    noise = Image.new("RGB", (640, 640))
    px = noise.load()
    for y in range(640):
        for x in range(640):
            v = 255 if rnd.random() < 0.5 else 0
            px[x, y] = (v, v, v)
    noise.save(os.path.join(out, "noise.png"))
    sign = Image.new("RGB", (640, 200), (255, 255, 255))
    d = ImageDraw.Draw(sign)
    d.text((30, 50), "\u05e9\u05dc\u05d5\u05dd \u0627\u0644\u0633\u0644\u0627\u0645",
           font=ImageFont.truetype(FONTS + "DejaVuSans.ttf", 72), fill=(0, 0, 0))
    sign.save(os.path.join(out, "hebrew_arabic.png"))


# (photo, vehicle box, where the plate's centre goes, plate width)
SCENES = [
    ("dog.jpg", (465, 75, 695, 170), (560, 140), 84),
    ("dog.jpg", (465, 75, 695, 170), (600, 128), 100),
    ("motorcycle_left.png", None, None, 120),
    ("dog.jpg", (465, 75, 695, 170), (540, 150), 62),
]
PLATES = [("KX21ABC", "KX21 ABC", "DejaVuSans-Bold.ttf"),
          ("AB123CD", "AB-123-CD", "DejaVuSansMono-Bold.ttf"),
          ("7ABC123", "7ABC123", "DejaVuSansCondensed-Bold.ttf"),
          ("LR69KVD", "LR69 KVD", "DejaVuSerif-Bold.ttf")]


def plate_image(text, font, width, rnd):
    h = int(width * 0.26)
    img = Image.new("RGB", (width, h), (250, 250, 245) if rnd.random() < 0.5 else (250, 215, 40))
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, width - 1, h - 1], outline=(20, 20, 20), width=max(1, width // 60))
    size = h
    while size > 6:
        f = ImageFont.truetype(FONTS + font, size)
        l, t, r, b = d.textbbox((0, 0), text, font=f)
        if r - l <= width * 0.88 and b - t <= h * 0.72:
            break
        size -= 1
    d.text(((width - (r - l)) / 2 - l, (h - (b - t)) / 2 - t), text, font=f, fill=(10, 10, 10))
    return img


def perspective(img, rnd):
    w, h = img.size
    k = 0.06
    # where each output corner samples the plate: a slight keystone
    src = [(rnd.uniform(-k, k) * w, rnd.uniform(-k, k) * h), (w + rnd.uniform(-k, k) * w, rnd.uniform(-k, k) * h),
           (w + rnd.uniform(-k, k) * w, h + rnd.uniform(-k, k) * h), (rnd.uniform(-k, k) * w, h + rnd.uniform(-k, k) * h)]
    dst = [(0, 0), (w, 0), (w, h), (0, h)]
    import numpy as np
    A = []
    for (x, y), (u, v) in zip(src, dst):
        A.append([u, v, 1, 0, 0, 0, -u * x, -v * x])
        A.append([0, 0, 0, u, v, 1, -u * y, -v * y])
    coeffs = np.linalg.solve(np.array(A, float), np.array([c for p in src for c in p], float))
    return img.transform((w, h), Image.PERSPECTIVE, tuple(coeffs), Image.BICUBIC, fillcolor=(40, 40, 40))


def plates(media, out):
    rnd = random.Random(13)
    rows = []
    for si, (photo, vbox, centre, width) in enumerate(SCENES):
        for pi, (norm, raw, font) in enumerate(PLATES):
            base = Image.open(os.path.join(media, photo)).convert("RGB")
            if vbox is None:
                vbox = (0, 0, base.width, base.height)
                centre = (int(base.width * 0.42), int(base.height * 0.62))
            p = plate_image(raw, font, width + 6 * pi, rnd)
            p = perspective(p, rnd)
            p = p.filter(ImageFilter.GaussianBlur(0.4 + 0.3 * (pi % 2)))
            x, y = centre[0] - p.width // 2, centre[1] - p.height // 2
            base.paste(p, (x, y))
            name = "plate_%d_%d.png" % (si, pi)
            base.save(os.path.join(out, name))
            rows.append({"file": name, "text": norm, "raw": raw, "vehicle": list(vbox),
                         "plate": [x, y, x + p.width, y + p.height]})
    with open(os.path.join(out, "plates.json"), "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    if sys.argv[1] == "basic":
        basic(sys.argv[2])
    elif sys.argv[1] == "plates":
        plates(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: ocr_media.py basic OUT | plates MEDIA OUT")
