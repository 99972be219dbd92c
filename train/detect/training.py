"""Training the detector on a YOLO folder or a COCO JSON set.

Images go through the runtime's letterbox (so training and serving cannot drift), boxes into model-input
pixels. Training augments each batch (scale and shift, brightness and contrast, channel order, grey),
then the run directory gets ``model.keras``, ``train.json`` (mAP on the held-out test split, per class,
the decision threshold, the geometry) and ``holdout.npz`` (test images as the model sees them, their
ground truth).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edgeward.core.errors import InputError
from edgeward.core.hashing import data_sha256
from edgeward.core.rundir import DataInfo, RunDir, TrainingRecord
from edgeward.core.task import TaskData
from edgeward.runtime.tasks.detect_post import PAD_VALUE, decode_centernet, letterbox_image, to_input
from edgeward.train.detect.config import DetectPayload, DetectTrainConfig
from edgeward.train.detect.data import UNSEEN_SPLIT
from edgeward.train.detect.labels import DetectionSet, load_coco, load_yolo
from edgeward.train.detect.metrics import Detections, average_precision, f1_at, f1_threshold
from edgeward.train.detect.model import build_detector, detector_loss, encode_targets
from edgeward.train.loop import Evaluation, Fitted, Trainer, batches, fit, train_run

EVAL_SCORE, EVAL_IOU, EVAL_MAX = 0.01, 0.6, 100  # decoding for mAP: low threshold, COCO's 100 per image


@dataclass
class Split:
    images: np.ndarray  # (N, S, S, 3) uint8 RGB, letterboxed
    boxes: list[np.ndarray]  # per image (K, 4) xyxy in input pixels
    classes: list[np.ndarray]

    def truth(self) -> list[Detections]:
        return [Detections(b, c) for b, c in zip(self.boxes, self.classes)]


def load_split(data: DetectionSet, indices, size: int, progress: bool = False, desc: str = "loading images") -> Split:
    """Read and letterbox the images; normalised cx cy w h labels become xyxy input pixels."""
    from tqdm import tqdm

    from edgeward.runtime.io.video import read_image

    images = np.empty((len(indices), size, size, 3), np.uint8)
    boxes, classes = [], []
    for n, i in enumerate(tqdm(indices, desc=desc, unit="image", disable=not progress, leave=False)):
        sample = data.samples[i]
        image = read_image(sample.image)  # the runtime's reader: the same checks and decoding as serving
        images[n], lb = letterbox_image(image, size)
        h, w = image.shape[:2]
        b = sample.boxes.astype(np.float64) * [w, h, w, h]
        xyxy = np.c_[b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2]
        boxes.append(lb.to_input(xyxy).astype(np.float32).reshape(-1, 4))
        classes.append(sample.classes.astype(np.int64))
    return Split(images, boxes, classes)


def dataset_splits(data_path: str | os.PathLike, images_dir: str | os.PathLike | None, seed: int):
    """(names, {split: (DetectionSet, indices)}): a YOLO folder's train/val/test sub-folders (test falls
    back to val; the generator's unseen-fonts folder comes too), or one set (a COCO JSON or a flat YOLO
    folder) split 80/10/10 by a seeded shuffle."""
    path = Path(data_path)
    if path.suffix == ".json":
        if images_dir is None:
            raise InputError(f"{path}: a COCO JSON set needs --images, the folder its file_name entries are in")
        whole = load_coco(path, images_dir)
    elif (path / "images" / "train").is_dir():
        parts = {s: load_yolo(path, s) for s in ("train", "val", "test", UNSEEN_SPLIT) if (path / "images" / s).is_dir()}
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


class DetectTrainer(Trainer):
    task, desc, compress_holdout = "detect", "training detector", False

    def __init__(self, data_path: str | os.PathLike, config: DetectTrainConfig):
        self.data_path, self.config = Path(data_path), config

    def load(self) -> None:
        c = self.config
        self.names, parts = dataset_splits(self.data_path, c.images, c.seed)
        self.splits = {s: load_split(d, idx, c.shape.size, self.progress, f"loading {s} images") for s, (d, idx) in parts.items()}

    def build(self, keras):
        c, n = self.config, len(self.names)
        model = build_detector(keras, n, c.shape)
        per_epoch = int(np.ceil(len(self.splits["train"].images) / c.batch_size))
        warmup = int(per_epoch * c.warmup_epochs)
        schedule = keras.optimizers.schedules.CosineDecay(
            c.learning_rate / 10, max(1, per_epoch * c.epochs - warmup), warmup_target=c.learning_rate, warmup_steps=warmup)
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss=detector_loss(n))
        return model

    def fit(self, keras, model, callbacks: list) -> dict:
        c, n, shape = self.config, len(self.names), self.config.shape
        train, val = self.splits["train"], self.splits["val"]
        rng = np.random.default_rng(c.seed)

        def batch(idx):
            x, b, k = augment(train.images[idx], [train.boxes[i] for i in idx], [train.classes[i] for i in idx], rng, c)
            return to_input(x), encode_targets(b, k, n, shape)

        progress = self.progress

        class ValidationMap(keras.callbacks.Callback):
            """mAP@0.5 on the validation split every ``eval_every`` epochs and at the end, into the history."""

            def __init__(self):
                super().__init__()
                self.scores: dict[int, float] = {}

            def on_epoch_end(self, epoch, logs=None):
                if (epoch + 1) % c.eval_every == 0 or epoch + 1 == c.epochs:
                    value = average_precision(val.truth(), predict_detections(self.model, val.images, shape.size))["map50"]
                    self.scores[epoch + 1] = round(value, 4)
                    if progress:
                        from tqdm import tqdm

                        tqdm.write(f"epoch {epoch + 1}: loss {logs['loss']:.4f}, validation mAP@0.5 {value:.3f}")

        self.validation = ValidationMap()
        return fit(model, batches(keras, len(train.images), c.batch_size, batch, rng), epochs=c.epochs,
                   callbacks=[self.validation, *callbacks])

    def evaluate(self, fitted: Fitted) -> Evaluation:
        c, names, size = self.config, self.names, self.config.shape.size
        val, test = self.splits["val"], self.splits["test"]
        scored = {s: v for s, v in self.splits.items() if s != "train"}
        found = {s: predict_detections(fitted.model, split.images, size) for s, split in scored.items()}
        scores = {s: average_precision(split.truth(), found[s]) for s, split in scored.items()}
        unseen = ({"unseen_fonts_map50": scores[UNSEEN_SPLIT]["map50"], "unseen_fonts_map50_95": scores[UNSEEN_SPLIT]["map50_95"]}
                  if UNSEEN_SPLIT in scores else {})
        decision = f1_threshold(val.truth(), found["val"])
        keep = min(len(test.images), c.holdout_images)
        owner = np.concatenate([np.full(len(b), i) for i, b in enumerate(test.boxes[:keep])] + [np.zeros(0, int)])
        return Evaluation(
            data=DataInfo(str(self.data_path), data_sha256(self.data_path),
                          {s: len(v.images) for s, v in self.splits.items()}),
            labels=tuple(names), thresholds={"score": round(decision["threshold"], 4)},
            metrics={"model": {"map50": scores["test"]["map50"], "map50_95": scores["test"]["map50_95"],
                               "val_map50": scores["val"]["map50"], **unseen}},
            payload=DetectPayload(
                shape=asdict(c.shape), images=str(c.images) if c.images else None,
                per_class={names[k]: {"ap50": round(a, 4), "ap50_95": round(b, 4)}
                           for k, (a, b) in scores["test"]["per_class"].items()},
                threshold_rule="max F1 on the validation split (IoU 0.5)",
                threshold_quality={"validation": {k: round(v, 4) for k, v in decision.items() if k != "threshold"},
                                   "test": {k: round(v, 4) for k, v in f1_at(test.truth(), found["test"],
                                                                            decision["threshold"]).items()}},
                decoder={"head": "centernet", "iou_threshold": EVAL_IOU}),
            holdout={"x_test": to_input(test.images[:keep]), "y_test": np.arange(keep),
                     "gt_boxes": np.concatenate(test.boxes[:keep] + [np.zeros((0, 4), np.float32)]),
                     "gt_classes": np.concatenate(test.classes[:keep] + [np.zeros(0, np.int64)]),
                     "gt_image": owner.astype(np.int64)},
            history={"val_map50": self.validation.scores})


def train_detect(data_path: str | os.PathLike, out_dir: str | os.PathLike, config: DetectTrainConfig = DetectTrainConfig(),
                 progress: bool = False) -> TrainingRecord:
    """Train the detector on a YOLO folder or a COCO JSON set (``config.images``: its images) into ``out_dir``."""
    return train_run(DetectTrainer(data_path, config), out_dir, progress)


def detect_splits(run: RunDir, record: TrainingRecord, train_sample: int | None = None) -> TaskData:
    """Training images (letterboxed, 0-1) with their encoded targets; validation and test: the held-out
    images with their indices, scored by mAP@0.5 against the ground truth in ``holdout.npz``."""
    payload: DetectPayload = record.payload
    shape = payload.detector_shape()
    _, parts = dataset_splits(record.data.path, payload.images, record.config["seed"])
    dataset, idx = parts["train"]
    if train_sample is not None and train_sample < len(idx):
        idx = idx[np.linspace(0, len(idx) - 1, train_sample).astype(int)]
    train = load_split(dataset, idx, shape.size)
    holdout = np.load(run.holdout)
    n = len(record.labels)
    return TaskData(x_train=to_input(train.images), y_train=encode_targets(train.boxes, train.classes, n, shape),
                    x_val=holdout["x_test"], y_val=holdout["y_test"], x_test=holdout["x_test"], y_test=holdout["y_test"],
                    loss=detector_loss(n))
