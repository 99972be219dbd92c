"""Training the detector on a YOLO folder or a COCO JSON set.

Images go through the runtime's letterbox (so training and serving cannot drift), boxes into model-input
pixels. Training augments each batch (scale and shift, brightness and contrast, channel order, grey),
then the run directory gets ``model.keras``, ``train.json`` (mAP on the held-out test split, per class,
the decision threshold, the geometry) and ``holdout.npz`` (test images as the model sees them, their
ground truth).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edgeward.errors import InputError
from edgeward.runtime.detect_post import PAD_VALUE, decode_centernet, letterbox_image, to_input
from edgeward.train.detect_labels import DetectionSet, load_coco, load_yolo
from edgeward.train.detect_metrics import Detections, average_precision, f1_at, f1_threshold
from edgeward.train.detect_model import DetectorShape, build_detector, detector_loss, encode_targets

MODEL_FILE, REPORT_FILE, HOLDOUT_FILE = "model.keras", "train.json", "holdout.npz"
EVAL_SCORE, EVAL_IOU, EVAL_MAX = 0.01, 0.6, 100  # decoding for mAP: low threshold, COCO's 100 per image


@dataclass(frozen=True)
class DetectTrainConfig:
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 3e-3
    warmup_epochs: float = 1.0
    shape: DetectorShape = field(default_factory=DetectorShape)
    scale: tuple[float, float] = (0.7, 1.3)  # random zoom
    shift: float = 0.15  # random translation, fraction of the input size
    holdout_images: int = 300  # test images kept in holdout.npz for export checks and benchmarks
    eval_every: int = 5  # epochs between validation mAP measurements
    seed: int = 0


@dataclass
class Split:
    images: np.ndarray  # (N, S, S, 3) uint8 RGB, letterboxed
    boxes: list[np.ndarray]  # per image (K, 4) xyxy in input pixels
    classes: list[np.ndarray]

    def truth(self) -> list[Detections]:
        return [Detections(b, c) for b, c in zip(self.boxes, self.classes)]


def load_split(data: DetectionSet, indices, size: int, progress: bool = False, desc: str = "loading images") -> Split:
    """Read and letterbox the images; normalised cx cy w h labels become xyxy input pixels."""
    import cv2
    from tqdm import tqdm

    images = np.empty((len(indices), size, size, 3), np.uint8)
    boxes, classes = [], []
    for n, i in enumerate(tqdm(indices, desc=desc, unit="image", disable=not progress, leave=False)):
        sample = data.samples[i]
        image = cv2.imread(str(sample.image), cv2.IMREAD_COLOR)
        if image is None:
            raise InputError(f"{sample.image}: not a readable image")
        images[n], lb = letterbox_image(image, size)
        h, w = image.shape[:2]
        b = sample.boxes.astype(np.float64) * [w, h, w, h]
        xyxy = np.c_[b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2]
        boxes.append(lb.to_input(xyxy).astype(np.float32).reshape(-1, 4))
        classes.append(sample.classes.astype(np.int64))
    return Split(images, boxes, classes)


def dataset_splits(data_path: str | os.PathLike, images_dir: str | os.PathLike | None, seed: int):
    """(names, {split: (DetectionSet, indices)}): a YOLO folder's train/val/test sub-folders (test falls
    back to val), or one set (a COCO JSON or a flat YOLO folder) split 80/10/10 by a seeded shuffle."""
    path = Path(data_path)
    if path.suffix == ".json":
        if images_dir is None:
            raise InputError(f"{path}: a COCO JSON set needs --images, the folder its file_name entries are in")
        whole = load_coco(path, images_dir)
    elif (path / "images" / "train").is_dir():
        parts = {s: load_yolo(path, s) for s in ("train", "val", "test") if (path / "images" / s).is_dir()}
        if "val" not in parts:
            raise InputError(f"{path}: expected images/val next to images/train, got none")
        parts.setdefault("test", parts["val"])
        return parts["train"].names, {s: (d, np.arange(len(d.samples))) for s, d in parts.items()}
    else:
        whole = load_yolo(path)
    order = np.random.default_rng(seed).permutation(len(whole.samples))
    n_val = n_test = max(1, len(order) // 10)
    if len(order) < 3 * n_val:
        raise InputError(f"{path}: expected at least 3 images to split, got {len(order)}")
    return whole.names, {"train": (whole, order[n_val + n_test:]), "val": (whole, order[:n_val]),
                         "test": (whole, order[n_val:n_val + n_test])}


def augment(images: np.ndarray, boxes: list[np.ndarray], classes: list[np.ndarray], rng: np.random.Generator,
            config: DetectTrainConfig) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """Random zoom and shift (objects cut to less than 60% of their area are dropped, as are their
    pixels' labels: a cut digit can read as another), brightness, contrast, channel order and grey."""
    import cv2

    size = images.shape[1]
    out = np.empty_like(images)
    new_boxes, new_classes = [], []
    for i in range(len(images)):
        s = rng.uniform(*config.scale)
        tx, ty = rng.uniform(-config.shift, config.shift, 2) * size
        m = np.array([[s, 0, (1 - s) * size / 2 + tx], [0, s, (1 - s) * size / 2 + ty]])
        out[i] = cv2.warpAffine(images[i], m, (size, size), flags=cv2.INTER_LINEAR, borderValue=(PAD_VALUE,) * 3)
        b = boxes[i] * s + [m[0, 2], m[1, 2], m[0, 2], m[1, 2]]
        clipped = b.clip(0, size)
        area = np.prod(b[:, 2:] - b[:, :2], axis=1)
        kept = np.prod((clipped[:, 2:] - clipped[:, :2]).clip(0), axis=1) >= 0.6 * area
        for x1, y1, x2, y2 in clipped[~kept].astype(int):  # grey out what no longer has a label
            out[i, y1:y2, x1:x2] = PAD_VALUE
        new_boxes.append(clipped[kept].astype(np.float32))
        new_classes.append(classes[i][kept])
        img = out[i].astype(np.float32)
        img = (img - 127.5) * rng.uniform(0.7, 1.3) + 127.5 + rng.uniform(-30, 30)
        if rng.random() < 0.5:
            img = img[:, :, rng.permutation(3)]
        if rng.random() < 0.1:
            img = np.repeat(img.mean(axis=2, keepdims=True), 3, axis=2)
        out[i] = img.clip(0, 255).astype(np.uint8)
    return out, new_boxes, new_classes


def decode_outputs(outputs: np.ndarray, size: int) -> list[Detections]:
    """Raw head outputs decoded the runtime's way for mAP: low threshold, COCO's 100 per image."""
    return [Detections(b, c, s) for b, s, c in (decode_centernet(o, size, EVAL_SCORE, EVAL_IOU, EVAL_MAX) for o in outputs)]


def predict_detections(model, images: np.ndarray, size: int, batch: int = 32) -> list[Detections]:
    """Keras outputs decoded the runtime's way, for mAP."""
    found = []
    for start in range(0, len(images), batch):
        found += decode_outputs(model.predict(to_input(images[start:start + batch]), verbose=0), size)
    return found


def map_scorers(holdout, size: int):
    """``map50`` and ``map50_95``: (image indices, raw outputs) -> that mAP against the ground truth saved
    in ``holdout.npz``. Both read one computation when called on the same outputs, one after the other."""
    owner, gt_boxes, gt_classes = holdout["gt_image"], holdout["gt_boxes"], holdout["gt_classes"]
    last: dict = {}

    def scores(y, out) -> dict:
        if last.get("out") is not out or not np.array_equal(last.get("y"), y):
            truth = [Detections(gt_boxes[owner == i], gt_classes[owner == i]) for i in np.asarray(y)]
            last.update(out=out, y=np.asarray(y), result=average_precision(truth, decode_outputs(out, size)))
        return last["result"]

    def map50(y, out):
        return scores(y, out)["map50"]

    def map50_95(y, out):
        return scores(y, out)["map50_95"]

    return map50, map50_95


def train_detect(data_path: str | os.PathLike, out_dir: str | os.PathLike, config: DetectTrainConfig = DetectTrainConfig(),
                 images_dir: str | os.PathLike | None = None, progress: bool = False) -> dict:
    from edgeward.train.progress import epoch_bar
    from edgeward.train.tabular import file_sha256, folder_sha256
    from edgeward.train.tf_env import keras as load_keras

    shape = config.shape
    names, parts = dataset_splits(data_path, images_dir, config.seed)
    splits = {s: load_split(d, idx, shape.size, progress, f"loading {s} images") for s, (d, idx) in parts.items()}
    train, val, test = splits["train"], splits["val"], splits["test"]
    keras = load_keras()
    keras.utils.set_random_seed(config.seed)
    model = build_detector(keras, len(names), shape)
    per_epoch = int(np.ceil(len(train.images) / config.batch_size))
    warmup = int(per_epoch * config.warmup_epochs)
    schedule = keras.optimizers.schedules.CosineDecay(
        config.learning_rate / 10, max(1, per_epoch * config.epochs - warmup), warmup_target=config.learning_rate,
        warmup_steps=warmup)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=detector_loss(len(names)))
    rng = np.random.default_rng(config.seed)

    class Augmented(keras.utils.Sequence):
        def __len__(self):
            return per_epoch

        def __getitem__(self, i):
            idx = self.order[i * config.batch_size:(i + 1) * config.batch_size]
            x, b, c = augment(train.images[idx], [train.boxes[k] for k in idx], [train.classes[k] for k in idx], rng, config)
            return to_input(x), encode_targets(b, c, len(names), shape)

        def on_epoch_end(self):
            self.order = rng.permutation(len(train.images))

    class ValidationMap(keras.callbacks.Callback):
        """mAP@0.5 on the validation split every ``config.eval_every`` epochs and at the end, into the history."""

        def __init__(self):
            super().__init__()
            self.scores: dict[int, float] = {}

        def on_epoch_end(self, epoch, logs=None):
            if (epoch + 1) % config.eval_every == 0 or epoch + 1 == config.epochs:
                value = average_precision(val.truth(), predict_detections(self.model, val.images, shape.size))["map50"]
                self.scores[epoch + 1] = round(value, 4)
                if progress:
                    from tqdm import tqdm

                    tqdm.write(f"epoch {epoch + 1}: loss {logs['loss']:.4f}, validation mAP@0.5 {value:.3f}")

    batches = Augmented()
    batches.on_epoch_end()
    started = time.perf_counter()
    history = model.fit(batches, epochs=config.epochs, verbose=0,
                        callbacks=[validation := ValidationMap(), epoch_bar(keras, config.epochs, "training detector", progress)])
    seconds = time.perf_counter() - started
    found = {s: predict_detections(model, split.images, shape.size) for s, split in (("val", val), ("test", test))}
    scores = {s: average_precision(split.truth(), found[s]) for s, split in (("val", val), ("test", test))}
    decision = f1_threshold(val.truth(), found["val"])
    data_path = Path(data_path)
    report = {
        "task": "detect",
        "data": {"path": str(data_path), "images": str(images_dir) if images_dir else None,
                 "sha256": file_sha256(data_path) if data_path.is_file() else folder_sha256(data_path),
                 "split": {s: len(v.images) for s, v in splits.items()}},
        "labels": list(names),
        "shape": asdict(shape),
        "config": asdict(config),
        "threshold": round(decision["threshold"], 4),
        "threshold_rule": "max F1 on the validation split (IoU 0.5)",
        "threshold_quality": {"validation": {k: round(v, 4) for k, v in decision.items() if k != "threshold"},
                              "test": {k: round(v, 4) for k, v in f1_at(test.truth(), found["test"], decision["threshold"]).items()}},
        "decoder": {"head": "centernet", "iou_threshold": EVAL_IOU},
        "epochs_run": len(history.history["loss"]),
        "train_seconds": round(seconds, 2),
        "history": {"loss": [round(float(v), 5) for v in history.history["loss"]],
                    "val_map50": validation.scores},
        "metrics": {"model": {"map50": scores["test"]["map50"], "map50_95": scores["test"]["map50_95"],
                              "val_map50": scores["val"]["map50"]}},
        "per_class": {names[c]: {"ap50": round(a, 4), "ap50_95": round(b, 4)}
                      for c, (a, b) in scores["test"]["per_class"].items()},
        "params": int(model.count_params()),
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / MODEL_FILE)
    keep = min(len(test.images), config.holdout_images)
    owner = np.concatenate([np.full(len(b), i) for i, b in enumerate(test.boxes[:keep])] + [np.zeros(0, int)])
    np.savez(out / HOLDOUT_FILE, x_test=to_input(test.images[:keep]), y_test=np.arange(keep),
             gt_boxes=np.concatenate(test.boxes[:keep] + [np.zeros((0, 4), np.float32)]),
             gt_classes=np.concatenate(test.classes[:keep] + [np.zeros(0, np.int64)]), gt_image=owner.astype(np.int64))
    (out / REPORT_FILE).write_text(json.dumps(report, indent=2))
    return report
