"""The data of a training run, reloaded for compression fine-tuning, calibration and evaluation.

A run directory's ``train.json`` says the task, the data file (with its hash) and how it was split;
``load_task_data`` rebuilds the same split, so fine-tuning and calibration use training rows only
and evaluation uses the held-out rows only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from edgeward.errors import InputError

REPORT_FILE = "train.json"


@dataclass(frozen=True)
class TaskData:
    task: str
    input_name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    metric_name: str
    metric: Callable[[np.ndarray, np.ndarray], float]  # (labels, model outputs) -> metric, higher is better
    loss: str | Callable  # a Keras loss name, or the task's own loss function
    class_weight: dict | None = None


def read_report(run_dir: str | os.PathLike) -> dict:
    path = Path(run_dir) / REPORT_FILE
    if not path.exists():
        raise InputError(f"{run_dir}: expected a training run directory with {REPORT_FILE}, got none (run `edgeward train` first)")
    return json.loads(path.read_text())


def auprc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, np.asarray(p).reshape(-1)))


def accuracy(y: np.ndarray, p: np.ndarray) -> float:
    return float((np.asarray(p).argmax(axis=-1) == np.asarray(y)).mean())


def load_task_data(run_dir: str | os.PathLike, train_sample: int | None = None) -> TaskData:
    """The run's split. ``train_sample``: only that many training rows, evenly spaced (detection reads
    just those images)."""
    report = read_report(run_dir)
    if report.get("task") == "detect":
        return _detect_data(report, run_dir, train_sample)
    if report.get("task") == "commands":
        data = _commands_data(report, run_dir)
    elif report.get("task") == "fraud":
        data = _fraud_data(report, run_dir)
    else:
        raise InputError(f"{run_dir}: no task data loader for task {report.get('task')!r}; "
                         "expected 'fraud', 'commands' or 'detect'")
    if train_sample is None or train_sample >= len(data.y_train):
        return data
    keep = np.linspace(0, len(data.y_train) - 1, train_sample).astype(int)
    return replace(data, x_train=data.x_train[keep], y_train=data.y_train[keep])


def _fraud_data(report: dict, run_dir) -> TaskData:
    from edgeward.train.tabular import file_sha256, load_csv, time_split

    data_info = report["data"]
    path = Path(data_info["path"])
    if not path.exists():
        raise InputError(f"{path}: the run's training data is gone; expected the file that trained {run_dir}")
    if file_sha256(path) != data_info["sha256"]:
        raise InputError(f"{path}: expected the data that trained {run_dir} (sha256 {data_info['sha256'][:12]}...), got a changed file")
    data = load_csv(path, data_info["label"], time_column=data_info["time_column"], features=report["features"])
    split = time_split(len(data.y), val=report["config"]["val"], test=report["config"]["test"])
    return TaskData(
        task="fraud", input_name="features",
        x_train=data.x[split.train], y_train=data.y[split.train], x_val=data.x[split.val], y_val=data.y[split.val],
        x_test=data.x[split.test], y_test=data.y[split.test], metric_name="auprc", metric=auprc,
        loss="binary_crossentropy", class_weight={0: 1.0, 1: float(report["class_weight"])},
    )


def _commands_data(report: dict, run_dir) -> TaskData:
    """The clips of a commands run, through the run's own front end (normalisation included)."""
    from edgeward.runtime.audio_features import FrontEnd
    from edgeward.train.commands_data import load_commands

    fe = FrontEnd.from_dict(report["front_end"], str(run_dir))
    splits = load_commands(report["data"]["path"], fe, tuple(report["labels"]))

    def norm(x):
        return ((x - fe.mean) / fe.std).astype(np.float32)

    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = (splits[k] for k in ("train", "val", "test"))
    return TaskData(task="commands", input_name="logmel", x_train=norm(x_tr), y_train=y_tr, x_val=norm(x_va), y_val=y_va,
                    x_test=norm(x_te), y_test=y_te, metric_name="accuracy", metric=accuracy,
                    loss="sparse_categorical_crossentropy")


def _detect_data(report: dict, run_dir, train_sample: int | None) -> TaskData:
    """Training images (letterboxed, 0-1) with their encoded targets; validation and test: the held-out
    images with their indices, scored by mAP@0.5 against the ground truth in ``holdout.npz``."""
    from edgeward.runtime.detect_post import to_input
    from edgeward.train.detect import dataset_splits, load_split, map_scorers
    from edgeward.train.detect_model import DetectorShape, detector_loss, encode_targets

    shape = DetectorShape(**{k: tuple(v) if isinstance(v, list) else v for k, v in report["shape"].items()})
    data = report["data"]
    _, parts = dataset_splits(data["path"], data.get("images"), report["config"]["seed"])
    dataset, idx = parts["train"]
    if train_sample is not None and train_sample < len(idx):
        idx = idx[np.linspace(0, len(idx) - 1, train_sample).astype(int)]
    train = load_split(dataset, idx, shape.size)
    holdout = np.load(Path(run_dir) / "holdout.npz")
    n = len(report["labels"])
    return TaskData(task="detect", input_name="image", x_train=to_input(train.images),
                    y_train=encode_targets(train.boxes, train.classes, n, shape), x_val=holdout["x_test"],
                    y_val=holdout["y_test"], x_test=holdout["x_test"], y_test=holdout["y_test"], metric_name="map50",
                    metric=map_scorers(holdout, shape.size)[0], loss=detector_loss(n))
