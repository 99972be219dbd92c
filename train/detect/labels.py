"""Object-detection datasets on disk: YOLO (``images/``, ``labels/`` with ``class cx cy w h`` normalised,
``data.yaml`` with the class names) and COCO JSON. Every bad label is a ``DataError`` naming the file,
the line, the field, what was expected and what was given.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeward.core.errors import DataError, InputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass(frozen=True)
class Sample:
    image: Path
    boxes: np.ndarray  # (N, 4) cx, cy, w, h, normalised to the image
    classes: np.ndarray  # (N,) int


@dataclass(frozen=True)
class DetectionSet:
    names: tuple[str, ...]
    samples: tuple[Sample, ...]


def read_names(data_yaml: Path) -> tuple[str, ...]:
    """Class names from a YOLO ``data.yaml`` (a list, or a dict of index -> name)."""
    from edgeward.core.errors import require

    yaml = require("yaml", "train")
    if not data_yaml.exists():
        raise InputError(f"{data_yaml}: not found; a YOLO dataset needs data.yaml with the class names")
    try:
        data = yaml.safe_load(data_yaml.read_text()) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"{data_yaml}: not valid YAML ({str(exc).splitlines()[0]})") from None
    names = data.get("names") if isinstance(data, dict) else None
    if isinstance(names, dict):
        names = [names[k] for k in sorted(names)]
    if not isinstance(names, list) or not names:
        raise DataError(data_yaml, None, "names", "a list of class names", data.get("names") if isinstance(data, dict) else data)
    return tuple(str(n) for n in names)


def read_yolo_labels(path: Path, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(boxes (N, 4) cx cy w h, classes (N,)) from one label file, every line checked."""
    boxes, classes = [], []
    for line_no, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 5:
            raise DataError(path, line_no, None, "5 fields 'class cx cy w h'", line.strip())
        try:
            cls = int(fields[0])
        except ValueError:
            raise DataError(path, line_no, "class", "an integer class index", fields[0]) from None
        if not 0 <= cls < n_classes:
            raise DataError(path, line_no, "class", f"a class index from 0 to {n_classes - 1}", cls)
        values = []
        for name, text in zip(("cx", "cy", "w", "h"), fields[1:]):
            try:
                v = float(text)
            except ValueError:
                raise DataError(path, line_no, name, "a number", text) from None
            if not (0.0 <= v <= 1.0) or (name in ("w", "h") and v <= 0.0):
                raise DataError(path, line_no, name, "a normalised value in (0, 1]" if name in ("w", "h") else
                                "a normalised value in [0, 1]", text)
            values.append(v)
        boxes.append(values)
        classes.append(cls)
    return np.asarray(boxes, dtype=np.float32).reshape(-1, 4), np.asarray(classes, dtype=np.int64)


def load_yolo(folder: str | os.PathLike, split: str | None = None) -> DetectionSet:
    """A YOLO dataset: ``images/[split/]*.png`` with ``labels/[split/]*.txt``; a missing label file is an error."""
    root = Path(folder)
    names = read_names(root / "data.yaml")
    images_dir = root / "images" / split if split else root / "images"
    if not images_dir.is_dir():
        raise InputError(f"{images_dir}: expected a folder of images, got none")
    samples = []
    for image in sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        label = root / "labels" / image.relative_to(root / "images").with_suffix(".txt")
        if not label.exists():
            raise DataError(label, None, None, f"a label file for {image.name} (empty when it shows no object)", "none")
        boxes, classes = read_yolo_labels(label, len(names))
        samples.append(Sample(image, boxes, classes))
    if not samples:
        raise InputError(f"{images_dir}: expected images ({', '.join(IMAGE_SUFFIXES)}), found none")
    return DetectionSet(names, tuple(samples))


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)


def _fields(path: Path, key: str, items: list[dict], types: dict) -> None:
    """Each item of a COCO list has each field, of its type (bool is no number)."""
    for n, item in enumerate(items):
        for field, kind in types.items():
            value = item.get(field)
            if value is None or isinstance(value, bool) or not isinstance(value, kind) or \
                    (isinstance(value, float) and not np.isfinite(value)):
                expected = {int: "a whole number", str: "text"}.get(kind, "a number")
                raise DataError(path, None, f"{key}[{n}].{field}", expected, value)


def load_coco(annotations: str | os.PathLike, images_dir: str | os.PathLike) -> DetectionSet:
    """A COCO JSON detection set; boxes become normalised cx cy w h, categories become 0..C-1 in id order."""
    path = Path(annotations)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: annotations file not found") from None
    except json.JSONDecodeError as exc:
        raise DataError(path, exc.lineno, None, "COCO JSON", exc.msg) from None
    if not isinstance(data, dict):
        raise DataError(path, None, None, "a COCO JSON object with images, annotations and categories", type(data).__name__)
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise DataError(path, None, key, f"a top-level '{key}' list", "none")
        if not isinstance(data[key], list) or not all(isinstance(item, dict) for item in data[key]):
            raise DataError(path, None, key, "a list of objects", str(data[key])[:40])
    _fields(path, "categories", data["categories"], {"id": int, "name": str})
    _fields(path, "images", data["images"], {"id": int, "file_name": str, "width": (int, float), "height": (int, float)})
    categories = sorted(data["categories"], key=lambda c: c["id"])
    index = {c["id"]: i for i, c in enumerate(categories)}
    images = {im["id"]: im for im in data["images"]}
    for n, im in enumerate(data["images"]):
        if im["width"] <= 0 or im["height"] <= 0:
            raise DataError(path, None, f"images[{n}]", "a width and a height above 0", (im["width"], im["height"]))
    per_image: dict = {i: ([], []) for i in images}
    for n, ann in enumerate(data["annotations"]):
        where = f"annotations[{n}]"
        if ann.get("image_id") not in images:
            raise DataError(path, None, f"{where}.image_id", "the id of an image in 'images'", ann.get("image_id"))
        if ann.get("category_id") not in index:
            raise DataError(path, None, f"{where}.category_id", f"one of the category ids {sorted(index)}", ann.get("category_id"))
        im = images[ann["image_id"]]
        bbox = ann.get("bbox", (0, 0, 0, 0))
        if not (isinstance(bbox, (list, tuple)) and len(bbox) == 4 and all(_number(v) for v in bbox)):
            raise DataError(path, None, f"{where}.bbox", "4 numbers [x, y, w, h]", bbox)
        x, y, w, h = bbox
        if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > im["width"] + 1e-6 or y + h > im["height"] + 1e-6:
            raise DataError(path, None, f"{where}.bbox", f"a box inside the {im['width']}x{im['height']} image", ann.get("bbox"))
        per_image[ann["image_id"]][0].append([(x + w / 2) / im["width"], (y + h / 2) / im["height"], w / im["width"], h / im["height"]])
        per_image[ann["image_id"]][1].append(index[ann["category_id"]])
    samples = tuple(Sample(Path(images_dir) / images[i]["file_name"], np.asarray(b, np.float32).reshape(-1, 4),
                           np.asarray(c, np.int64)) for i, (b, c) in sorted(per_image.items()))
    return DetectionSet(tuple(str(c["name"]) for c in categories), samples)
