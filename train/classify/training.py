"""Training an image classifier on a class-folder tree.

Images are resized and scaled by the runtime's ``ImagePreprocess`` (so training and serving cannot drift);
training augments each batch as Keras' ``ImageDataGenerator`` did (flips, shifts, zoom, brightness). The run
directory gets ``model.keras``, ``train.json`` (top-1 and top-5 accuracy on the test split, a confusion
matrix, and for two classes AUPRC, ROC-AUC and a decision threshold chosen on validation) and
``holdout.npz`` (test images as the model takes them, their labels).
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import numpy as np

from edgeward.core.errors import InputError
from edgeward.core.hashing import data_sha256
from edgeward.core.rundir import DataInfo, RunDir, TrainingRecord
from edgeward.core.task import TaskData
from edgeward.runtime.tasks.classify import ImagePreprocess
from edgeward.train.classify.config import Arch, ClassifyPayload, ClassifyTrainConfig
from edgeward.train.classify.data import load_class_folders
from edgeward.train.loop import Evaluation, Fitted, Trainer, batches, fit, train_run
from edgeward.train.metrics import auprc, best_f1_threshold, top1, top5
from edgeward.train.zoo.images import build_article_cnn, build_nodule_cnn

INPUT_NAME = "image"  # the model's input, in Keras and in every exported file
BN_MOMENTUM = 0.9  # as for the DS-CNN and the detector (docs/decisions.md)
# how each network takes its pixels: its own convention for the two Keras applications
PREPROCESS = {Arch.SMALL_CNN: {"mode": "scale"}, Arch.MOBILENET: {"mode": "meanstd", "mean": (0.5,) * 3, "std": (0.5,) * 3},
              Arch.RESNET50: {"mode": "caffe"}, Arch.ARTICLE_CNN: {"mode": "scale"}, Arch.NODULE_CNN: {"mode": "scale"}}


def build_small_cnn(keras, size: int, n_classes: int, config: ClassifyTrainConfig):
    """Three blocks of two 3x3 conv + batch norm + ReLU, then 2x2 max pooling (widths f, 2f, 3f); global
    average and global max pooling side by side (the max finds a small object anywhere in a large image, where
    the average dilutes it); dropout, a dense softmax."""
    L = keras.layers
    inputs = keras.Input(shape=(size, size, 3), name=INPUT_NAME)
    x = inputs
    for block, width in enumerate((config.filters, 2 * config.filters, 3 * config.filters)):
        for k in range(2):
            x = L.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv{block}_{k}")(x)
            x = L.BatchNormalization(momentum=BN_MOMENTUM, name=f"conv{block}_{k}_bn")(x)
            x = L.ReLU(name=f"conv{block}_{k}_relu")(x)
        x = L.MaxPooling2D(2, name=f"pool{block}")(x)
    x = L.Concatenate(name="pooled")([L.GlobalAveragePooling2D(name="gap")(x), L.GlobalMaxPooling2D(name="gmp")(x)])
    x = L.Dropout(config.dropout, seed=config.seed)(x)
    x = L.Dense(n_classes, name="logits")(x)
    return keras.Model(inputs, L.Softmax(name="probabilities")(x), name="small_cnn")


def build_classifier(keras, arch: Arch, size: int, n_classes: int, config: ClassifyTrainConfig):
    if arch is Arch.SMALL_CNN:
        return build_small_cnn(keras, size, n_classes, config)
    if arch is Arch.ARTICLE_CNN:
        return build_article_cnn(keras, size, n_classes, input_name=INPUT_NAME)
    if arch is Arch.NODULE_CNN:
        return build_nodule_cnn(keras, size, n_classes, seed=config.seed, input_name=INPUT_NAME)
    apps = keras.applications
    inputs = keras.Input(shape=(size, size, 3), name=INPUT_NAME)
    application = partial(apps.MobileNetV2, alpha=0.35) if arch is Arch.MOBILENET else apps.ResNet50
    try:
        base = application(input_tensor=inputs, weights=config.weights, include_top=False, pooling="avg")
    except (ValueError, OSError) as exc:  # a file of other weights, or not an HDF5 file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{config.weights}: not weights for {arch.value} without its top ({first[:160]})") from None
    x = keras.layers.Dropout(config.dropout, seed=config.seed)(base.output)
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=arch.value.replace("-", "_"))


def augment(images: np.ndarray, rng: np.random.Generator, config: ClassifyTrainConfig) -> np.ndarray:
    """A copy of uint8 (N, S, S, 3) images, each flipped, shifted, zoomed and brightened at random."""
    import cv2

    out = np.empty_like(images)
    size = images.shape[1]
    for i, image in enumerate(images):
        if config.flip and rng.random() < 0.5:
            image = image[:, ::-1]
        s = 1 + rng.uniform(-config.zoom, config.zoom)
        tx, ty = rng.uniform(-config.shift, config.shift, 2) * size
        m = np.array([[s, 0, (1 - s) * size / 2 + tx], [0, s, (1 - s) * size / 2 + ty]])
        warped = cv2.warpAffine(np.ascontiguousarray(image), m, (size, size), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REFLECT)
        out[i] = (warped.astype(np.float32) + rng.uniform(-config.brightness, config.brightness) * 255).clip(0, 255)
    return out


def binary_scores(y_val, p_val, y_test, p_test) -> tuple[float, dict]:
    """The decision threshold on the positive class's probability (max F1 on validation) and the test metrics."""
    from sklearn.metrics import precision_score, recall_score, roc_auc_score

    threshold = best_f1_threshold(y_val == 1, p_val[:, 1])
    flag = p_test[:, 1] >= threshold
    return threshold, {"auprc": auprc(y_test, p_test), "roc_auc": float(roc_auc_score(y_test == 1, p_test[:, 1])),
                       "precision": float(precision_score(y_test == 1, flag, zero_division=0)),
                       "recall": float(recall_score(y_test == 1, flag, zero_division=0))}


class ClassifyTrainer(Trainer):
    task, desc, compress_holdout = "classify", "training classifier", False

    def __init__(self, data_path: str | os.PathLike, config: ClassifyTrainConfig):
        self.data_path, self.config = Path(data_path), config

    def load(self) -> None:
        c = self.config
        self.data = load_class_folders(self.data_path, c.size, c.val, c.test, c.seed, self.progress)
        self.preprocess = ImagePreprocess(self.data.size, **PREPROCESS[c.arch])

    def build(self, keras):
        c, n = self.config, len(self.data.names)
        model = build_classifier(keras, c.arch, self.data.size, n, c)
        steps = int(np.ceil(len(self.data.splits["train"][1]) / c.batch_size)) * c.epochs
        schedule = keras.optimizers.schedules.CosineDecay(c.learning_rate, steps)
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    def fit(self, keras, model, callbacks: list) -> dict:
        c = self.config
        (x_tr, y_tr), (x_va, y_va) = self.data.splits["train"], self.data.splits["val"]
        rng = np.random.default_rng(c.seed)

        def batch(idx):
            return self.preprocess.scale(augment(x_tr[idx], rng, c)), y_tr[idx]

        return fit(model, batches(keras, len(x_tr), c.batch_size, batch, rng), validation=(self.preprocess.scale(x_va), y_va),
                   epochs=c.epochs, callbacks=callbacks)

    def evaluate(self, fitted: Fitted) -> Evaluation:
        names, splits = self.data.names, self.data.splits
        (x_va, y_va), (x_te, y_te) = splits["val"], splits["test"]
        p_va = fitted.model.predict(self.preprocess.scale(x_va), batch_size=256, verbose=0)
        p_te = fitted.model.predict(self.preprocess.scale(x_te), batch_size=256, verbose=0)
        metrics = {"top1": top1(y_te, p_te), "val_top1": top1(y_va, p_va)}
        if len(names) > 5:
            metrics["top5"] = top5(y_te, p_te)
        thresholds, positive = {}, None
        if len(names) == 2:
            positive = names[1]
            threshold, scores = binary_scores(y_va, p_va, y_te, p_te)
            thresholds, metrics = {"decision": threshold}, {**metrics, **scores}
        confusion = np.zeros((len(names), len(names)), np.int64)
        np.add.at(confusion, (y_te, p_te.argmax(1)), 1)
        keep = min(len(y_te), self.config.holdout_images)
        rows = np.linspace(0, len(y_te) - 1, keep).astype(int)
        return Evaluation(
            data=DataInfo(str(self.data_path), data_sha256(self.data_path), {s: len(v[1]) for s, v in splits.items()}),
            labels=names, thresholds=thresholds, metrics={"model": metrics},
            payload=ClassifyPayload(preprocess=self.preprocess.to_dict(), arch=self.config.arch.value,
                                    confusion=confusion.tolist(), positive=positive,
                                    skipped=[list(s) for s in self.data.skipped] or None),
            holdout={"x_val": self.preprocess.scale(x_va[:keep]), "y_val": y_va[:keep],
                     "x_test": self.preprocess.scale(x_te[rows]), "y_test": y_te[rows]})


def train_classify(data_path: str | os.PathLike, out_dir: str | os.PathLike,
                   config: ClassifyTrainConfig = ClassifyTrainConfig(), progress: bool = False) -> TrainingRecord:
    """Train a classifier on a class-folder tree into the run directory ``out_dir``."""
    return train_run(ClassifyTrainer(data_path, config), out_dir, progress)


def classify_splits(run: RunDir, record: TrainingRecord, train_sample: int | None = None) -> TaskData:
    """The run's images again, through its own preprocessing; validation and test from holdout.npz."""
    c = record.config
    data = load_class_folders(record.data.path, record.payload.preprocess["size"], c["val"], c["test"], c["seed"])
    preprocess = ImagePreprocess.from_dict(record.payload.preprocess, str(run))
    x, y = data.splits["train"]
    if train_sample is not None and train_sample < len(y):
        keep = np.linspace(0, len(y) - 1, train_sample).astype(int)
        x, y = x[keep], y[keep]
    holdout = np.load(run.holdout)
    return TaskData(x_train=preprocess.scale(x), y_train=y, x_val=holdout["x_val"], y_val=holdout["y_val"],
                    x_test=holdout["x_test"], y_test=holdout["y_test"], loss="sparse_categorical_crossentropy")

