"""The data of a training run, reloaded for compression fine-tuning, calibration and evaluation.

A run directory's ``train.json`` says the task, the data file (with its hash) and how it was split;
``load_task_data`` rebuilds the same split, so fine-tuning and calibration use training rows only
and evaluation uses the held-out rows only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
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
    loss: str
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


def load_task_data(run_dir: str | os.PathLike) -> TaskData:
    report = read_report(run_dir)
    if report.get("task") == "commands":
        return _commands_data(report, run_dir)
    if report.get("task") != "fraud":
        raise InputError(f"{run_dir}: no task data loader for task {report.get('task')!r}; expected 'fraud' or 'commands'")
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
