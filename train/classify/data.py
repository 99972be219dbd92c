"""Image classification data: generated class folders, and the loader for any class-folder tree.

``generate_images`` writes ``OUT/{train,val,test}/CLASS/NNNNN.png``:
- ``objects``: 10 shapes at 32x32 RGB, the shape of CIFAR-10, each drawn at a random size, place, rotation
  and colour over a random background (flat, gradient or mottled) with a distractor stroke, blur and noise.
  The colours are drawn independently of the class, so colour alone says nothing of it.
- ``nodules``: 128x128 RGB crops of a lung-like texture (mottled parenchyma, bright branching vessels, whose
  cross-sections are small bright dots) with or without a nodule: a small round or irregular blob.
It also writes ``video.mp4``, the test images one a second at 10 frames a second (each frame jittered and
noised afresh, as a camera sees a still scene), and ``video.csv`` (frame, label).

``load_class_folders`` reads such a tree, or any folder of class sub-folders (split by a seeded shuffle).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeward.core.errors import InputError, require
from edgeward.runtime.tasks.classify import ImagePreprocess
from edgeward.runtime.io.video_loop import VideoSink
from edgeward.train.classify.config import ClassifyDataConfig, ImageKind
from edgeward.train.classify.digits import DIGITS, draw_digit

OBJECTS = ("circle", "ring", "square", "frame", "triangle", "star", "plus", "crescent", "arrow", "bars")
NODULES = ("clear", "nodule")
SIZES = {ImageKind.OBJECTS: 32, ImageKind.NODULES: 128, ImageKind.DIGITS: 28}
VIDEO_SCALE = {ImageKind.OBJECTS: 4, ImageKind.NODULES: 2, ImageKind.DIGITS: 8}  # how much larger the video shows each
SPLITS = ("train", "val", "test")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
DRAW_SCALE = 4  # objects are drawn at 4x and averaged down: smooth edges at 32x32


def class_names(kind: ImageKind) -> tuple[str, ...]:
    return {ImageKind.OBJECTS: OBJECTS, ImageKind.NODULES: NODULES, ImageKind.DIGITS: DIGITS}[kind]


# objects ------------------------------------------------------------------------------------------------
def _polygon(name: str, rng: np.random.Generator) -> list[np.ndarray]:
    """The shape's outline(s) as polygons in a unit frame centred on 0 (radius about 1); the first is filled
    with the shape's colour, later ones with the background's (holes)."""
    t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    circle = np.c_[np.cos(t), np.sin(t)]
    square = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float) * 0.85
    if name == "circle":
        return [circle]
    if name == "ring":
        return [circle, circle * rng.uniform(0.45, 0.65)]
    if name == "square":
        return [square]
    if name == "frame":
        return [square, square * rng.uniform(0.5, 0.7)]
    if name == "triangle":
        a = np.pi / 2 + np.array([0, 2 * np.pi / 3, 4 * np.pi / 3])
        return [np.c_[np.cos(a), -np.sin(a)]]
    if name == "star":
        a = np.pi / 2 + np.arange(10) * np.pi / 5
        r = np.where(np.arange(10) % 2 == 0, 1.0, rng.uniform(0.35, 0.5))
        return [np.c_[r * np.cos(a), -r * np.sin(a)]]
    if name == "plus":
        w = rng.uniform(0.25, 0.4)
        return [np.array([[-w, -1], [w, -1], [w, -w], [1, -w], [1, w], [w, w], [w, 1], [-w, 1], [-w, w], [-1, w],
                          [-1, -w], [-w, -w]])]
    if name == "crescent":
        shift = rng.uniform(0.35, 0.6)
        return [circle, circle * 0.9 + [shift, -0.15]]
    if name == "arrow":
        w = rng.uniform(0.2, 0.3)
        return [np.array([[-1, -w], [0.1, -w], [0.1, -0.7], [1, 0], [0.1, 0.7], [0.1, w], [-1, w]])]
    w = rng.uniform(0.12, 0.18)  # bars: three parallel bars, each filled
    return [np.array([[x - w, -0.9], [x + w, -0.9], [x + w, 0.9], [x - w, 0.9]]) for x in (-0.6, 0.0, 0.6)]


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """(size, size, 3) float: flat, a gradient between two colours, or mottled low-frequency noise."""
    from PIL import Image

    kind = rng.integers(3)
    if kind == 0:
        return np.broadcast_to(rng.uniform(0, 255, 3), (size, size, 3)).copy()
    if kind == 1:
        a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        angle = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:size, 0:size] / size
        t = ((xx - 0.5) * np.cos(angle) + (yy - 0.5) * np.sin(angle) + 0.5).clip(0, 1)[:, :, None]
        return a + (b - a) * t
    small = rng.uniform(0, 255, (4, 4, 3)).astype(np.uint8)
    return np.asarray(Image.fromarray(small).resize((size, size), Image.BICUBIC), dtype=np.float64)


def _contrasting(rng: np.random.Generator, under: np.ndarray) -> tuple[int, int, int]:
    """A random colour whose brightness differs from the mean of ``under`` by at least 45 of 255."""
    level = under.mean() if under.size else 128.0
    for _ in range(100):
        colour = rng.uniform(0, 255, 3)
        if abs(colour.mean() - level) >= 45:
            break
    else:
        colour = np.full(3, 255.0 if level < 128 else 0.0)
    return tuple(int(c) for c in colour)


def _paint(img, bg: np.ndarray, name: str, centre: np.ndarray, radius: float, rng: np.random.Generator) -> None:
    """Draw shape ``name`` into the PIL image ``img`` (holes show ``bg``): rotated about +-25 degrees (an arrow
    still points right, bars stand upright) and stretched up to 25% along one axis."""
    from PIL import Image, ImageDraw

    big = img.size[0]
    angle = rng.uniform(-0.45, 0.45)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) @ np.diag(rng.uniform(0.8, 1.2, 2))
    x0, y0 = (centre - radius).clip(0, big).astype(int)
    x1, y1 = (centre + radius).clip(0, big).astype(int)
    colour = _contrasting(rng, bg[y0:y1, x0:x1])
    draw = ImageDraw.Draw(img)
    for k, poly in enumerate(_polygon(name, rng)):
        points = [tuple(p) for p in (poly @ rot.T) * radius + centre]
        if k == 0 or name == "bars":
            draw.polygon(points, fill=colour)
        else:  # a hole shows the background behind it
            mask = Image.new("L", (big, big), 0)
            ImageDraw.Draw(mask).polygon(points, fill=255)
            img.paste(Image.fromarray(bg.clip(0, 255).astype(np.uint8)), (0, 0), mask)
            draw = ImageDraw.Draw(img)


def draw_object(name: str, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """One ``name`` shape image, (size, size, 3) uint8 RGB: the shape at 18-45% of the side (up to 15% of it
    past the edge), sometimes a small shape of another class beside it, distractor strokes, blur and noise."""
    from PIL import Image, ImageDraw, ImageFilter

    big = size * DRAW_SCALE
    bg = _background(rng, big)
    img = Image.fromarray(bg.clip(0, 255).astype(np.uint8))
    radius = big * rng.uniform(0.18, 0.45)
    centre = rng.uniform(radius * 0.85, big - radius * 0.85, 2)
    if rng.random() < 0.3:  # a smaller shape of another class, away from the main one
        other = OBJECTS[(OBJECTS.index(name) + rng.integers(1, len(OBJECTS))) % len(OBJECTS)]
        small = radius * rng.uniform(0.25, 0.4)
        spot = rng.uniform(small, big - small, 2)
        if np.hypot(*(spot - centre)) > radius + small:
            _paint(img, bg, other, spot, small, rng)
    _paint(img, bg, name, centre, radius, rng)
    draw = ImageDraw.Draw(img)
    for _ in range(rng.integers(0, 3)):  # distractor strokes, thinner than any part of a shape
        a, b = rng.uniform(0, big, 2), rng.uniform(0, big, 2)
        draw.line([tuple(a), tuple(b)], fill=tuple(int(c) for c in rng.uniform(0, 255, 3)), width=int(rng.integers(1, 4)))
    img = img.resize((size, size), Image.BOX)
    if rng.random() < 0.3:
        img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.0))))
    arr = np.asarray(img, dtype=np.float64) + rng.normal(0, rng.uniform(0, 12), (size, size, 3))
    return arr.clip(0, 255).astype(np.uint8)


# nodules ------------------------------------------------------------------------------------------------
def _smooth_noise(rng: np.random.Generator, size: int, octaves: tuple[int, ...]) -> np.ndarray:
    from PIL import Image

    out = np.zeros((size, size))
    for cells in octaves:
        small = rng.normal(0, 1, (cells, cells)).astype(np.float32)
        out += np.asarray(Image.fromarray(small, mode="F").resize((size, size), Image.BICUBIC)) / cells ** 0.5
    return out / (out.std() + 1e-9)


def _vessels(rng: np.random.Generator, size: int, field: np.ndarray) -> None:
    """Bright branching vessels drawn into ``field`` (in place): random walks that thin as they go, and
    vessel cross-sections, small bright dots."""
    for _ in range(rng.integers(3, 7)):
        p, heading, width = rng.uniform(0, size, 2), rng.uniform(0, 2 * np.pi), rng.uniform(1.2, 2.5)
        brightness = rng.uniform(0.6, 1.2)
        for _ in range(rng.integers(50, 150)):
            heading += rng.normal(0, 0.2)
            p = p + 1.2 * np.array([np.cos(heading), np.sin(heading)])
            width = max(0.6, width * 0.99)
            x0, y0 = (np.floor(p - 3 * width).astype(int)).clip(0, size)
            x1, y1 = (np.ceil(p + 3 * width).astype(int) + 1).clip(0, size)
            if x1 <= x0 or y1 <= y0:
                continue
            yy, xx = np.mgrid[y0:y1, x0:x1]
            spot = brightness * np.exp(-((xx - p[0]) ** 2 + (yy - p[1]) ** 2) / (2 * width ** 2))
            field[y0:y1, x0:x1] = np.maximum(field[y0:y1, x0:x1], spot)
    yy, xx = np.mgrid[0:size, 0:size]
    for _ in range(rng.integers(3, 10)):  # cross-sections: dots of 1-2.5 px, smaller than a nodule
        c, r = rng.uniform(0, size, 2), rng.uniform(1.0, 2.5)
        field += rng.uniform(0.5, 1.0) * np.exp(-((xx - c[0]) ** 2 + (yy - c[1]) ** 2) / (2 * r ** 2))


def _nodule(rng: np.random.Generator, size: int, field: np.ndarray) -> None:
    """A nodule added to ``field`` (in place): a soft blob of radius 3.5-9 px, round or lobulated."""
    yy, xx = np.mgrid[0:size, 0:size]
    c, r = rng.uniform(16, size - 16, 2), rng.uniform(3.5, 9.0)
    angle = np.arctan2(yy - c[1], xx - c[0])
    lobes = 1 + (rng.uniform(0.1, 0.25) * np.sin(rng.integers(3, 7) * angle + rng.uniform(0, 6.3))
                 if rng.random() < 0.5 else 0)
    distance = np.hypot(xx - c[0], yy - c[1]) / (r * lobes)
    field += rng.uniform(0.55, 1.1) / (1 + np.exp((distance - 1) * 6))


def draw_scan(positive: bool, rng: np.random.Generator, size: int = 128) -> np.ndarray:
    """One lung-like crop, (size, size, 3) uint8 RGB, with a nodule if ``positive``."""
    field = np.zeros((size, size))
    _vessels(rng, size, field)
    if positive:
        _nodule(rng, size, field)
    tissue = _smooth_noise(rng, size, (4, 8, 16, 32)) * rng.uniform(0.08, 0.16)
    grey = rng.uniform(40, 80) + 90 * (field + tissue) + rng.normal(0, rng.uniform(2, 7), (size, size))
    tint = rng.uniform(0.93, 1.07, 3)  # scanners and viewers differ slightly in colour
    return (grey[:, :, None] * tint).clip(0, 255).astype(np.uint8)


# writing and reading ------------------------------------------------------------------------------------
def generate_images(out: str | os.PathLike, config: ClassifyDataConfig = ClassifyDataConfig(), progress: bool = False) -> dict:
    """Write ``{train,val,test}/CLASS/NNNNN.png`` (and the video, if asked); returns counts per split."""
    from PIL import Image
    from tqdm import tqdm

    out, names = Path(out), class_names(config.kind)
    rng = np.random.default_rng(config.seed)
    counts = {"train": config.per_class, "val": config.holdout, "test": config.holdout}
    bar = tqdm(total=sum(counts.values()) * len(names), desc=f"drawing {config.kind.value}", disable=not progress, leave=False)
    for split, n in counts.items():
        for k, name in enumerate(names):
            folder = out / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                Image.fromarray(_draw(config.kind, k, rng)).save(folder / f"{i:05d}.png")
                bar.update(1)
    bar.close()
    summary = {"path": str(out), "kind": config.kind.value, "classes": list(names), "size": SIZES[config.kind],
               "images": {split: n * len(names) for split, n in counts.items()}}
    if config.video_seconds > 0:
        summary["video"] = write_video(out / "video.mp4", out / "video.csv", config.kind, config.video_seconds, config.seed + 1)
    return summary


def _draw(kind: ImageKind, k: int, rng: np.random.Generator) -> np.ndarray:
    if kind is ImageKind.DIGITS:
        return draw_digit(k, rng)
    return draw_object(OBJECTS[k], rng) if kind is ImageKind.OBJECTS else draw_scan(k == 1, rng)


def write_video(out_video: Path, out_csv: Path, kind: ImageKind, seconds: float, seed: int, fps: int = 10) -> dict:
    """A new image of a random class every second, shown 4x (objects), 2x (nodules) or 8x (digits) larger, each frame
    shifted by a pixel or two and noised afresh; ``out_csv`` says each frame's class."""
    cv2 = require("cv2", "camera")
    rng = np.random.default_rng(seed)
    names, side = class_names(kind), SIZES[kind] * VIDEO_SCALE[kind]
    rows = []
    with VideoSink(out_video, float(fps)) as sink:
        for second in range(int(seconds)):
            k = int(rng.integers(len(names)))
            still = cv2.resize(_draw(kind, k, rng), (side, side), interpolation=cv2.INTER_LINEAR).astype(np.float64)
            for f in range(fps):
                dx, dy = rng.integers(-2, 3, 2)
                frame = np.roll(still, (int(dy), int(dx)), axis=(0, 1)) + rng.normal(0, 3, still.shape)
                sink.write(frame.clip(0, 255).astype(np.uint8)[:, :, ::-1].copy())
                rows.append((second * fps + f, names[k]))
    with open(out_csv, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["frame", "label"])
        w.writerows(rows)
    return {"video": str(out_video), "csv": str(out_csv), "frames": len(rows)}


@dataclass(frozen=True)
class ClassFolders:
    """Images of a class-folder tree, resized, per split."""

    names: tuple[str, ...]
    splits: dict[str, tuple[np.ndarray, np.ndarray]]  # split -> (images (N, S, S, 3) uint8 RGB, class indices (N,))
    skipped: list[tuple[str, str]]  # unreadable images: (path, reason)
    size: int


def read_image(path: Path) -> np.ndarray:
    """The image as (H, W, 3) uint8 RGB, whatever its mode (greyscale, palette, RGBA: the alpha dropped)."""
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        return np.asarray(image.convert("RGB"))


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _class_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def class_folder_files(path: str | os.PathLike, val: float, test: float, seed: int) -> tuple[tuple[str, ...], dict]:
    """(class names, {split: [(image path, class index), ...]}) of a class-folder tree: ``train/CLASS``,
    ``val/CLASS`` (and ``test/CLASS``; without it, test is val), or ``CLASS/`` folders split by a seeded
    shuffle within each class. An empty class folder, or no class folders, is an error."""
    root = Path(path)
    if not root.is_dir():
        raise InputError(f"{root}: expected a folder of class folders (or train/ and val/ of them), got none")
    if (root / "train").is_dir() and (root / "val").is_dir():
        names = tuple(p.name for p in _class_dirs(root / "train"))
        parts = {s: root / s for s in SPLITS if (root / s).is_dir()}
        files = {}
        for split, folder in parts.items():
            unknown = [p.name for p in _class_dirs(folder) if p.name not in names]
            if unknown:
                raise InputError(f"{folder}: class folder(s) {unknown} are not among the training classes {list(names)}")
            files[split] = [(f, k) for k, name in enumerate(names) if (folder / name).is_dir()
                            for f in _nonempty(folder / name)]
        files.setdefault("test", files["val"])
        _check_classes(root, names)
        return names, files
    names = tuple(p.name for p in _class_dirs(root))
    _check_classes(root, names)
    rng = np.random.default_rng(seed)
    files = {s: [] for s in SPLITS}
    for k, name in enumerate(names):
        items = _nonempty(root / name)
        order = rng.permutation(len(items))
        n_val, n_test = max(1, round(len(items) * val)), max(1, round(len(items) * test))
        if len(items) < n_val + n_test + 1:
            raise InputError(f"{root / name}: {len(items)} image(s); expected at least {n_val + n_test + 1} to split "
                             "into training, validation and test")
        files["val"] += [(items[i], k) for i in order[:n_val]]
        files["test"] += [(items[i], k) for i in order[n_val:n_val + n_test]]
        files["train"] += [(items[i], k) for i in order[n_val + n_test:]]
    return names, files


def _nonempty(folder: Path) -> list[Path]:
    items = _images_in(folder)
    if not items:
        raise InputError(f"{folder}: an empty class folder; expected images ({', '.join(IMAGE_SUFFIXES)})")
    return items


def _check_classes(root: Path, names: tuple[str, ...]) -> None:
    if len(names) < 2:
        raise InputError(f"{root}: expected at least 2 class folders, got {len(names)} ({list(names)})")


def load_class_folders(path: str | os.PathLike, size: int | None = None, val: float = 0.1, test: float = 0.1,
                       seed: int = 0, progress: bool = False) -> ClassFolders:
    """Every readable image of a class-folder tree, as RGB resized to ``size`` (default: the first image's
    side) by the runtime's own resize. An unreadable image is skipped and reported (path, reason), never
    silently; a split left without images is an error."""
    from tqdm import tqdm

    names, files = class_folder_files(path, val, test, seed)
    splits, skipped = {}, []
    total = sum(len(v) for k, v in files.items() if not (k == "test" and v is files["val"]))
    bar = tqdm(total=total, desc="reading images", unit="image", disable=not progress, leave=False)
    loaded: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for split, items in files.items():
        if id(items) in loaded:  # test is val
            splits[split] = loaded[id(items)]
            continue
        images, labels = [], []
        for file, k in items:
            try:
                rgb = read_image(file)
            except Exception as exc:  # PIL raises many types for damaged files: report each, go on
                skipped.append((str(file), str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__))
                bar.update(1)
                continue
            if size is None:
                size = max(rgb.shape[:2])
            images.append(ImagePreprocess(size).resize(rgb))
            labels.append(k)
            bar.update(1)
        if not images:
            raise InputError(f"{path}: no readable image in the {split} split ({len(items)} unreadable)")
        loaded[id(items)] = splits[split] = (np.stack(images), np.asarray(labels, np.int64))
    bar.close()
    return ClassFolders(names, splits, skipped, size)
