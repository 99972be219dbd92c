"""Fraud model: a tf_keras MLP with its input normalisation inside, trained on a time split, compared with
a scikit-learn HistGradientBoosting baseline on the same held-out tail.

``train_fraud`` writes the run directory: ``model.keras``, ``train.json`` (features, split, metrics,
decision threshold, PR curves) and ``holdout.npz`` (validation and test rows, for export checks and the
benchmark). ``from_model`` adopts a model trained elsewhere instead (tf_keras or Keras 3 ``.keras``, taking
the raw feature columns in order as float32 (N, F) and giving a fraud probability): it is evaluated on the
same split and written into the run like a trained model, so export, post-training quantization and the
benchmark work on it.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from edgeward.core.errors import InputError
from edgeward.core.rundir import DataInfo, RunDir, TrainingRecord
from edgeward.core.task import TaskData
from edgeward.train.fraud.config import FraudPayload, FraudTrainConfig
from edgeward.train.fraud.tabular import TabularData, load_csv, time_split
from edgeward.train.loop import Evaluation, Fitted, Trainer, fit, train_run
from edgeward.train.metrics import best_f1_threshold

LABELS = ("legit", "fraud")
INPUT_NAME = "features"  # the model's input, in Keras and in every exported file


def build_model(keras, x_train: np.ndarray, config: FraudTrainConfig):
    """MLP on raw features: Normalization (adapted on the training rows) -> Dense... -> sigmoid."""
    inputs = keras.Input(shape=(x_train.shape[1],), name=INPUT_NAME, dtype="float32")
    norm = keras.layers.Normalization(name="normalise")
    norm.adapt(x_train)
    h = norm(inputs)
    for i, units in enumerate(config.hidden):
        h = keras.layers.Dense(units, activation="relu", name=f"dense_{i}")(h)
        h = keras.layers.Dropout(config.dropout, seed=config.seed + i)(h)
    out = keras.layers.Dense(1, activation="sigmoid", name="fraud_probability")(h)
    return keras.Model(inputs, out, name="fraud_mlp")


def scores(y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    from sklearn.metrics import average_precision_score, precision_score, recall_score, roc_auc_score

    flag = p >= threshold
    return {
        "auprc": float(average_precision_score(y, p)),
        "roc_auc": float(roc_auc_score(y, p)),
        "precision": float(precision_score(y, flag, zero_division=0)),
        "recall": float(recall_score(y, flag, zero_division=0)),
    }


def pr_curve(y: np.ndarray, p: np.ndarray, points: int = 200) -> dict:
    from sklearn.metrics import precision_recall_curve

    precision, recall, _ = precision_recall_curve(y, p)
    idx = np.unique(np.linspace(0, len(recall) - 1, min(points, len(recall))).astype(int))
    return {"recall": np.round(recall[idx], 4).tolist(), "precision": np.round(precision[idx], 4).tolist()}


def _time_column(config: FraudTrainConfig) -> str | None:
    return None if config.time_column == "none" else config.time_column


class FraudTrainer(Trainer):
    task, desc = "fraud", "training fraud MLP"

    def __init__(self, data_path: str | os.PathLike, config: FraudTrainConfig):
        self.data_path, self.config = data_path, config

    def load(self) -> None:
        config = self.config
        self.data = load_csv(self.data_path, config.label, time_column=_time_column(config),
                             features=list(config.features) if config.features else None)
        split = time_split(len(self.data.y), val=config.val, test=config.test)
        _check_split(self.data, split)
        x, y = self.data.x, self.data.y
        self.train, self.val, self.test = ((x[s], y[s]) for s in (split.train, split.val, split.test))
        y_tr = self.train[1]
        pos = max(int(y_tr.sum()), 1)
        self.weight = float(min((len(y_tr) - pos) / pos, config.max_class_weight))

    def build(self, keras):
        if self.config.from_model is not None:
            return _adopt(self.config.from_model, len(self.data.features))
        model = build_model(keras, self.train[0], self.config)
        model.compile(optimizer=keras.optimizers.Adam(self.config.learning_rate), loss="binary_crossentropy",
                      metrics=[keras.metrics.AUC(curve="PR", name="auprc")])
        return model

    def fit(self, keras, model, callbacks: list) -> dict:
        if self.config.from_model is not None:
            return {}
        c = self.config
        stop = keras.callbacks.EarlyStopping("val_auprc", mode="max", patience=c.patience, restore_best_weights=True)
        return fit(model, *self.train, validation=self.val, epochs=c.epochs, batch_size=c.batch_size,
                   class_weight={0: 1.0, 1: self.weight}, callbacks=[stop, *callbacks])

    def evaluate(self, fitted: Fitted) -> Evaluation:
        (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = self.train, self.val, self.test
        p_va = fitted.model.predict(x_va, batch_size=4096, verbose=0).reshape(-1)
        p_te = fitted.model.predict(x_te, batch_size=4096, verbose=0).reshape(-1)
        threshold = best_f1_threshold(y_va, p_va)
        metrics, curves = {"model": scores(y_te, p_te, threshold)}, {"model": pr_curve(y_te, p_te)}
        baseline_seconds = None
        if self.config.baseline:
            metrics["baseline"], curves["baseline"], baseline_seconds = _baseline(x_tr, y_tr, x_va, y_va, x_te, y_te,
                                                                                  self.config.seed)
        data = self.data
        return Evaluation(
            data=DataInfo(data.path, data.sha256, {"train": len(y_tr), "val": len(y_va), "test": len(y_te)}),
            labels=LABELS, thresholds={"decision": threshold}, metrics=metrics,
            payload=FraudPayload(features=list(data.features), label=data.label, time_column=data.time_column,
                                 rows=len(data.y), fraud_rate=float(data.y.mean()), test_frauds=int(y_te.sum()),
                                 class_weight=self.weight, pr_curves=curves, baseline_seconds=baseline_seconds,
                                 adopted_from=None if self.config.from_model is None else str(self.config.from_model)),
            holdout={"x_val": x_va, "y_val": y_va, "x_test": x_te, "y_test": y_te})

    def save_model(self, model, path: Path) -> None:
        source = self.config.from_model
        if source is None:
            model.save(path)
        elif Path(source).resolve() != path.resolve():
            shutil.copyfile(source, path)


def train_fraud(data_path: str | os.PathLike, out_dir: str | os.PathLike, config: FraudTrainConfig = FraudTrainConfig(),
                progress: bool = False) -> TrainingRecord:
    """Train (or adopt ``config.from_model``), evaluate against the baseline, write the run directory."""
    return train_run(FraudTrainer(data_path, config), out_dir, progress)


def fraud_splits(run: RunDir, record: TrainingRecord, train_sample: int | None = None) -> TaskData:
    """The run's time split again, from its data file (which must be unchanged)."""
    payload: FraudPayload = record.payload
    path = Path(record.data.path)
    if not path.exists():
        raise InputError(f"{path}: the run's training data is gone; expected the file that trained {run}")
    from edgeward.core.hashing import file_sha256

    if file_sha256(path) != record.data.sha256:
        raise InputError(f"{path}: expected the data that trained {run} (sha256 {record.data.sha256[:12]}...), "
                         "got a changed file")
    data = load_csv(path, payload.label, time_column=payload.time_column, features=payload.features)
    split = time_split(len(data.y), val=record.config["val"], test=record.config["test"])
    out = TaskData(x_train=data.x[split.train], y_train=data.y[split.train], x_val=data.x[split.val],
                   y_val=data.y[split.val], x_test=data.x[split.test], y_test=data.y[split.test],
                   loss="binary_crossentropy", class_weight={0: 1.0, 1: float(payload.class_weight)})
    if train_sample is None or train_sample >= len(out.y_train):
        return out
    keep = np.linspace(0, len(out.y_train) - 1, train_sample).astype(int)
    return replace(out, x_train=out.x_train[keep], y_train=out.y_train[keep])


def _adopt(path: str | os.PathLike, n_features: int):
    from edgeward.core.model_files import load_model

    model, _ = load_model(path)
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 2 or shape[1] != n_features:
        raise InputError(f"{path}: expected a model taking (N, {n_features}) features, got input shape {shape}")
    return model


def _baseline(x_tr, y_tr, x_va, y_va, x_te, y_te, seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier

    started = time.perf_counter()
    clf = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.1, class_weight="balanced",
                                         early_stopping=True, random_state=seed)
    clf.fit(x_tr, y_tr)
    seconds = round(time.perf_counter() - started, 2)
    threshold = best_f1_threshold(y_va, clf.predict_proba(x_va)[:, 1])
    p_te = clf.predict_proba(x_te)[:, 1]
    return scores(y_te, p_te, threshold), pr_curve(y_te, p_te), seconds


def _check_split(data: TabularData, split) -> None:
    for name in ("train", "val", "test"):
        y = data.y[getattr(split, name)]
        if y.sum() == 0 or y.sum() == len(y):
            raise InputError(
                f"{data.path}: the {name} part of the time split has {int(y.sum())} positive rows of {len(y)}; "
                "expected both classes in every part (more rows, or more positives, are needed)"
            )
