"""Generated digit-detection data in YOLO layout: meter and house-number digits on cluttered scenes.

Each image shows 1-5 digits (0-9) in faces from many font families (``fonts.py``), 10-40% of the image
height, in grey-ish or any colours with luminance contrast to their background, slight rotation and
perspective, some overlapping, on gradient, noise or striped backgrounds with clutter (lines, shapes,
letters that are not digits, never in segment-display faces), then blur, noise and uneven lighting.
Boxes are the tight bounds of each rendered digit.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from edgeward.runtime.io.video_loop import VideoSink
from edgeward.train.detect.config import DetectDataConfig
from edgeward.train.detect.fonts import FontPicker, FontSet, font_families, letter_faces

NAMES = tuple(str(d) for d in range(10))
SPLITS = ("train", "val", "test")
UNSEEN_SPLIT = "unseen-fonts"  # test images in font families that training never draws


def _background(rng: np.random.Generator, size: int):
    from PIL import Image

    kind = rng.integers(3)
    if kind == 0:  # gradient between two colours
        a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        t = np.linspace(0, 1, size)[:, None, None] if rng.random() < 0.5 else np.linspace(0, 1, size)[None, :, None]
        img = a + (b - a) * np.broadcast_to(t, (size, size, 1))
    elif kind == 1:  # low-frequency noise texture
        small = rng.uniform(0, 255, (8, 8, 3)).astype(np.uint8)
        img = np.asarray(Image.fromarray(small).resize((size, size), Image.BICUBIC), dtype=np.float64)
    else:  # stripes (panels, wood, brick-like)
        period = rng.uniform(8, 40)
        phase = np.sin(2 * np.pi * np.arange(size) / period)[:, None, None]
        a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        img = np.broadcast_to(a + (b - a) * (phase > 0), (size, size, 3)).copy()
        if rng.random() < 0.5:
            img = img.transpose(1, 0, 2)
    img = img + rng.normal(0, rng.uniform(0, 12), (size, size, 3))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def _clutter(draw, rng: np.random.Generator, size: int, pick: FontPicker) -> None:
    from PIL import ImageFont

    for _ in range(rng.integers(2, 9)):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x0, y0 = rng.integers(0, size, 2)
        x1, y1 = x0 + rng.integers(-size // 3, size // 3), y0 + rng.integers(-size // 3, size // 3)
        shape = rng.integers(4)
        if shape == 0:
            draw.line([(x0, y0), (x1, y1)], fill=colour, width=int(rng.integers(1, 6)))
        elif shape == 1:
            draw.rectangle([min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)], outline=colour, width=int(rng.integers(1, 4)))
        elif shape == 2:
            draw.ellipse([min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)], outline=colour, width=int(rng.integers(1, 4)))
        else:  # letters are not digits: the detector must learn to leave them
            font = ImageFont.truetype(pick(rng), int(rng.integers(size // 12, size // 4)))
            draw.text((int(x0), int(y0)), chr(int(rng.integers(65, 91))), fill=colour, font=font)


def _digit_layer(digit: str, font_path: str, height: int, colour, rng: np.random.Generator):
    """The digit on a transparent layer, rotated and with a slight perspective."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(font_path, height)
    left, top, right, bottom = font.getbbox(digit)
    w, h = right - left + 8, bottom - top + 8
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    ImageDraw.Draw(layer).text((4 - left, 4 - top), digit, fill=(*colour, 255), font=font)
    layer = layer.rotate(float(rng.uniform(-10, 10)), resample=Image.BICUBIC, expand=True)
    w, h = layer.size
    d = 0.08 * min(w, h)
    src = [(rng.uniform(0, d), rng.uniform(0, d)), (w - rng.uniform(0, d), rng.uniform(0, d)),
           (w - rng.uniform(0, d), h - rng.uniform(0, d)), (rng.uniform(0, d), h - rng.uniform(0, d))]
    coeffs = _perspective_coeffs([(0, 0), (w, 0), (w, h), (0, h)], src)
    return layer.transform((w, h), Image.PERSPECTIVE, coeffs, Image.BICUBIC)


def _perspective_coeffs(dst, src) -> list[float]:
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src):
        rows += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
        rhs += [u, v]
    return list(np.linalg.solve(np.asarray(rows, float), np.asarray(rhs, float)))


def _colour(rng: np.random.Generator, background: float) -> tuple[int, int, int]:
    """A digit's colour against a background of mean luminance ``background``: half the time a dark or light grey-ish
    ink, half the time any colour (painted numbers, coloured displays) at least 40 levels of luminance apart."""
    if rng.random() < 0.5:
        for _ in range(20):
            c = rng.uniform(0, 255, 3)
            if abs(float(c @ (0.299, 0.587, 0.114)) - background) >= 40:
                return tuple(int(v) for v in c)
    base = rng.uniform(0, 70) if background > 127 else rng.uniform(185, 255)
    return tuple(int(np.clip(base + rng.normal(0, 25), 0, 255)) for _ in range(3))


def render(rng: np.random.Generator, size: int, max_digits: int, pick: FontPicker, letters: FontPicker | None = None):
    """One image (H, W, 3 uint8) and its boxes (N, 4) xyxy pixels and classes (N,); ``letters``: the faces of the
    clutter's letters (default: ``pick``'s)."""
    from PIL import ImageDraw, ImageFilter

    img = _background(rng, size)
    _clutter(ImageDraw.Draw(img), rng, size, letters or pick)
    boxes, classes = [], []
    for _ in range(rng.integers(1, max_digits + 1)):
        digit = int(rng.integers(10))
        height = int(size * rng.uniform(0.10, 0.40))
        x, y = rng.integers(0, size - height // 2, 2)
        patch = np.asarray(img.crop((int(x), int(y), int(x) + height, int(y) + height)).convert("L"), dtype=float)
        colour = _colour(rng, patch.mean() if patch.size else 255.0)
        layer = _digit_layer(str(digit), pick(rng), height, colour, rng)
        alpha = np.asarray(layer)[:, :, 3] > 96
        ys, xs = np.nonzero(alpha)
        if not len(xs):
            continue
        box = [x + xs.min(), y + ys.min(), x + xs.max() + 1, y + ys.max() + 1]
        clipped = [max(0, box[0]), max(0, box[1]), min(size, box[2]), min(size, box[3])]
        if (clipped[2] - clipped[0]) < 0.7 * (box[2] - box[0]) or (clipped[3] - clipped[1]) < 0.7 * (box[3] - box[1]):
            continue  # mostly outside the image: skip rather than label a fragment
        if boxes and _max_iou(clipped, boxes) > 0.3:
            continue  # some overlap, not hidden digits
        img.paste(layer, (int(x), int(y)), layer)
        boxes.append(clipped)
        classes.append(digit)
    if rng.random() < 0.5:
        img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.5))))
    arr = np.asarray(img, dtype=np.float64)
    light = np.linspace(rng.uniform(0.5, 1.2), rng.uniform(0.8, 1.3), size)  # uneven lighting
    arr = arr * (light[:, None, None] if rng.random() < 0.5 else light[None, :, None])
    arr = arr + rng.normal(0, rng.uniform(0, 10), arr.shape)
    return np.clip(arr, 0, 255).astype(np.uint8), np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(classes, np.int64)


def _max_iou(box, others) -> float:
    from edgeward.runtime.tasks.detect_post import iou_matrix

    return float(iou_matrix(np.asarray([box]), np.asarray(others)).max())


def generate_digits(out: str | os.PathLike, config: DetectDataConfig = DetectDataConfig(), progress: bool = False) -> dict:
    """Write ``images/{train,val,test}``, ``labels/...`` and ``data.yaml``; returns counts. A video of
    moving digits with its per-frame ground truth comes from ``write_video``."""
    from PIL import Image
    from tqdm import tqdm

    out = Path(out)
    rng = np.random.default_rng(config.seed)
    training, unseen = font_families(FontSet.TRAINING), font_families(FontSet.UNSEEN)
    unseen_images = config.holdout if config.unseen_fonts is None else config.unseen_fonts
    plan = [(s, config.images if s == "train" else config.holdout, training) for s in SPLITS]
    if unseen and unseen_images:
        plan.append((UNSEEN_SPLIT, unseen_images, unseen))
    counts = {}
    bar = tqdm(total=sum(n for _, n, _ in plan), desc="drawing digits", disable=not progress, leave=False)
    for split, n, faces in plan:
        pick, letters = FontPicker(faces), FontPicker(letter_faces(faces))
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
        objects = 0
        for i in range(n):
            image, boxes, classes = render(rng, config.size, config.max_digits, pick, letters)
            Image.fromarray(image).save(out / "images" / split / f"{i:05d}.jpg", quality=92)
            cxcywh = np.c_[(boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]] / config.size
            lines = [f"{c} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}" for c, (cx, cy, w, h) in zip(classes, cxcywh)]
            (out / "labels" / split / f"{i:05d}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
            objects += len(classes)
            bar.update(1)
        counts[split] = {"images": n, "objects": objects}
    bar.close()
    families = {"training": sorted(training), "unseen": sorted(unseen) if UNSEEN_SPLIT in counts else []}
    (out / "data.yaml").write_text(
        "path: .\ntrain: images/train\nval: images/val\ntest: images/test\n"
        + (f"{UNSEEN_SPLIT}: images/{UNSEEN_SPLIT}\n" if UNSEEN_SPLIT in counts else "")
        + "names: [" + ", ".join(f"'{n}'" for n in NAMES) + "]\n"
        + "".join(f"# {k} font families: {', '.join(v) or 'none'}\n" for k, v in families.items()))
    return {"path": str(out), "splits": counts, "families": families}


def write_video(out_video: str | os.PathLike, out_csv: str | os.PathLike, seconds: float = 10.0, fps: int = 25,
                size: tuple[int, int] = (480, 320), digits: int = 3, seed: int = 1) -> dict:
    """A short video of digits moving over a cluttered scene, and its ground truth per frame
    (``frame,class,x1,y1,x2,y2`` in pixels)."""
    import csv

    from PIL import ImageDraw

    rng = np.random.default_rng(seed)
    faces = font_families(FontSet.TRAINING)
    pick = FontPicker(faces)
    width, height = size
    scene = _background(rng, max(size)).crop((0, 0, width, height))
    _clutter(ImageDraw.Draw(scene), rng, min(size), FontPicker(letter_faces(faces)))
    movers = []
    for _ in range(digits):
        digit = int(rng.integers(10))
        layer = _digit_layer(str(digit), pick(rng), int(height * rng.uniform(0.15, 0.35)),
                             tuple(int(c) for c in rng.integers(0, 256, 3)), rng)
        ys, xs = np.nonzero(np.asarray(layer)[:, :, 3] > 96)
        movers.append({"digit": digit, "layer": layer, "bbox": (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1),
                       "pos": rng.uniform([0, 0], [width - layer.size[0], height - layer.size[1]]),
                       "vel": rng.uniform(-4, 4, 2) * (60 / fps)})
    sink = VideoSink(out_video, float(fps))
    rows = []
    frames = int(seconds * fps)
    for f in range(frames):
        frame = scene.copy()
        for m in movers:
            w, h = m["layer"].size
            for axis, limit in ((0, width - w), (1, height - h)):  # bounce off the edges
                if not 0 <= m["pos"][axis] + m["vel"][axis] <= limit:
                    m["vel"][axis] *= -1
            m["pos"] = m["pos"] + m["vel"]
            x, y = int(m["pos"][0]), int(m["pos"][1])
            frame.paste(m["layer"], (x, y), m["layer"])
            x1, y1, x2, y2 = m["bbox"]
            rows.append((f, m["digit"], x + x1, y + y1, x + x2, y + y2))
        sink.write(np.asarray(frame)[:, :, ::-1].copy())
    sink.close()
    with open(out_csv, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["frame", "class", "x1", "y1", "x2", "y2"])
        w.writerows(rows)
    return {"video": str(out_video), "csv": str(out_csv), "frames": frames, "objects": len(rows)}
