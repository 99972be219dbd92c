"""Fraud model: a tf_keras MLP with its input normalisation inside, trained on a time split,
compared with a scikit-learn HistGradientBoosting baseline on the same held-out tail.

``train_fraud`` writes into ``out_dir``: ``model.keras``, ``train.json`` (features, split, metrics,
decision threshold, PR curves) and ``holdout.npz`` (validation and test rows, for export checks and
the benchmark).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edgeward.errors import InputError
from edgeward.train.tabular import TabularData, load_csv, time_split

MODEL_FILE, REPORT_FILE, HOLDOUT_FILE = "model.keras", "train.json", "holdout.npz"


@dataclass(frozen=True)
class FraudTrainConfig:
    epochs: int = 30
    batch_size: int = 512
    hidden: tuple[int, ...] = (64, 32)
    dropout: float = 0.2
    learning_rate: float = 2e-3
    max_class_weight: float = 20.0  # fraud rows weigh min(neg/pos, this): imbalance without instability
    patience: int = 5  # epochs without a better validation AUPRC before stopping
    val: float = 0.15
    test: float = 0.15
    seed: int = 0
    baseline: bool = True


def build_model(keras, x_train: np.ndarray, config: FraudTrainConfig):
    """MLP on raw features: Normalization (adapted on the training rows) -> Dense... -> sigmoid."""
    inputs = keras.Input(shape=(x_train.shape[1],), name="features", dtype="float32")
    norm = keras.layers.Normalization(name="normalise")
    norm.adapt(x_train)
    h = norm(inputs)
    for i, units in enumerate(config.hidden):
        h = keras.layers.Dense(units, activation="relu", name=f"dense_{i}")(h)
        h = keras.layers.Dropout(config.dropout, seed=config.seed + i)(h)
    out = keras.layers.Dense(1, activation="sigmoid", name="fraud_probability")(h)
    return keras.Model(inputs, out, name="fraud_mlp")


def best_f1_threshold(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(y, p)
    f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
    return float(thresholds[int(np.argmax(f1))]) if len(thresholds) else 0.5


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


def train_fraud(
    data_path: str | os.PathLike, label: str, out_dir: str | os.PathLike,
    config: FraudTrainConfig = FraudTrainConfig(), time_column: str | None = "auto",
    features: list[str] | None = None, progress: bool = False, from_model: str | os.PathLike | None = None,
) -> dict:
    """Train, evaluate against the baseline, write the run directory; returns the training report.

    ``from_model``: adopt a model trained elsewhere (tf_keras or Keras 3 ``.keras``, taking the raw
    feature columns in order as float32 (N, F) and giving a fraud probability) instead of training one:
    it is evaluated on the same split and written into the run like a trained model, so export,
    post-training quantization and the benchmark work on it.
    """
    from edgeward.train.progress import epoch_bar
    from edgeward.train.tf_env import keras as load_keras

    data = load_csv(data_path, label, time_column=time_column, features=features)
    split = time_split(len(data.y), val=config.val, test=config.test)
    _check_split(data, split)
    keras = load_keras()
    keras.utils.set_random_seed(config.seed)
    x_tr, y_tr = data.x[split.train], data.y[split.train]
    x_va, y_va = data.x[split.val], data.y[split.val]
    x_te, y_te = data.x[split.test], data.y[split.test]

    pos = max(int(y_tr.sum()), 1)
    weight = float(min((len(y_tr) - pos) / pos, config.max_class_weight))
    started = time.perf_counter()
    if from_model is not None:
        model, history = _adopt(from_model, len(data.features)), {}
    else:
        model = build_model(keras, x_tr, config)
        model.compile(
            optimizer=keras.optimizers.Adam(config.learning_rate), loss="binary_crossentropy",
            metrics=[keras.metrics.AUC(curve="PR", name="auprc")],
        )
        history = model.fit(
            x_tr, y_tr, validation_data=(x_va, y_va), epochs=config.epochs, batch_size=config.batch_size,
            class_weight={0: 1.0, 1: weight}, verbose=0, shuffle=True,
            callbacks=[
                keras.callbacks.EarlyStopping("val_auprc", mode="max", patience=config.patience, restore_best_weights=True),
                epoch_bar(keras, config.epochs, "training fraud MLP", progress),
            ],
        ).history
    train_seconds = time.perf_counter() - started
    p_va = model.predict(x_va, batch_size=4096, verbose=0).reshape(-1)
    p_te = model.predict(x_te, batch_size=4096, verbose=0).reshape(-1)
    threshold = best_f1_threshold(y_va, p_va)

    report = {
        "task": "fraud",
        "data": {"path": data.path, "sha256": data.sha256, "label": label, "time_column": data.time_column,
                 "rows": len(data.y), "fraud_rate": float(data.y.mean()),
                 "split": {"train": len(y_tr), "val": len(y_va), "test": len(y_te),
                           "test_frauds": int(y_te.sum())}},
        "features": list(data.features),
        "config": asdict(config),
        "threshold": threshold,
        "class_weight": weight,
        "epochs_run": len(history.get("loss", [])),
        "train_seconds": round(train_seconds, 2),
        "history": {k: [round(float(v), 5) for v in vs] for k, vs in history.items()},
        "metrics": {"model": scores(y_te, p_te, threshold)},
        "pr_curves": {"model": pr_curve(y_te, p_te)},
        "params": int(model.count_params()),
    }
    if config.baseline:
        report["metrics"]["baseline"], report["pr_curves"]["baseline"], report["baseline_seconds"] = _baseline(
            x_tr, y_tr, x_va, y_va, x_te, y_te, config.seed
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if from_model is not None:
        report["adopted_from"] = str(from_model)
        if Path(from_model).resolve() != (out / MODEL_FILE).resolve():
            shutil.copyfile(from_model, out / MODEL_FILE)
    else:
        model.save(out / MODEL_FILE)
    np.savez_compressed(out / HOLDOUT_FILE, x_val=x_va, y_val=y_va, x_test=x_te, y_test=y_te)
    (out / REPORT_FILE).write_text(json.dumps(report, indent=2))
    return report


def _adopt(path: str | os.PathLike, n_features: int):
    from edgeward.train.keras_io import load_keras

    model, _ = load_keras(path)
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
