"""The one training loop every task's trainer runs: read the data, seed, build, fit with a progress bar,
evaluate, write the run directory (``edgeward.core.rundir``)."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeward.core.rundir import DataInfo, RunDir, TrainingRecord


@dataclass(frozen=True)
class Fitted:
    model: Any
    history: dict[str, list]  # Keras' history: per epoch
    seconds: float


@dataclass(frozen=True)
class Evaluation:
    """What a trainer measured after fitting: its parts of the training record, and the held-out arrays."""

    data: DataInfo
    labels: tuple[str, ...]
    thresholds: dict[str, float]
    metrics: dict[str, dict[str, float]]
    payload: Any
    holdout: dict[str, np.ndarray]  # holdout.npz: at least x_test and y_test
    history: dict[str, Any] = field(default_factory=dict)  # beside Keras' own (validation mAP by epoch)


class Trainer(ABC):
    """One task's training, in the steps ``train_run`` calls in order."""

    task: str
    config: Any  # a dataclass with ``epochs`` and ``seed``
    desc: str = "training"  # the progress bar's text
    compress_holdout: bool = True  # False where the held-out arrays are images (compression is slow there)
    progress: bool = False  # set by train_run: whether the trainer's own steps show progress too

    @abstractmethod
    def load(self) -> None:
        """Read the data (before TensorFlow is imported)."""

    @abstractmethod
    def build(self, keras):
        """The model (tf_keras), seeded."""

    @abstractmethod
    def fit(self, keras, model, callbacks: list) -> dict:
        """Fit ``model`` with ``callbacks`` (the progress bar last); returns Keras' history."""

    @abstractmethod
    def evaluate(self, fitted: Fitted) -> Evaluation:
        ...

    def save_model(self, model, path: Path) -> None:
        model.save(path)


def train_run(trainer: Trainer, out_dir, progress: bool = False) -> TrainingRecord:
    from edgeward.core.keras_env import tf_keras

    trainer.progress = progress
    trainer.load()
    keras = tf_keras()
    keras.utils.set_random_seed(trainer.config.seed)
    model = trainer.build(keras)
    started = time.perf_counter()
    history = trainer.fit(keras, model, [epoch_bar(keras, trainer.config.epochs, trainer.desc, progress)])
    fitted = Fitted(model, history, time.perf_counter() - started)
    result = trainer.evaluate(fitted)
    record = TrainingRecord(
        task=trainer.task, data=result.data, config=asdict(trainer.config), labels=tuple(result.labels),
        thresholds=result.thresholds, metrics=result.metrics, params=int(model.count_params()),
        epochs_run=len(history.get("loss", [])), train_seconds=round(fitted.seconds, 2),
        history={**{k: [round(float(v), 5) for v in vs] for k, vs in history.items()}, **result.history},
        payload=result.payload)
    run = RunDir(out_dir)
    run.path.mkdir(parents=True, exist_ok=True)
    trainer.save_model(model, run.model)
    (np.savez_compressed if trainer.compress_holdout else np.savez)(run.holdout, **result.holdout)
    run.write_record(record)
    return record


def fit(model, x, y=None, *, epochs: int, callbacks: list, batch_size: int | None = None, validation=None,
        class_weight: dict | None = None) -> dict:
    """``model.fit`` quietly (the progress bar is a callback); returns the history."""
    return model.fit(x, y, validation_data=validation, epochs=epochs, batch_size=batch_size, class_weight=class_weight,
                     verbose=0, shuffle=True, callbacks=callbacks).history


def batches(keras, n: int, batch_size: int, make: Callable[[np.ndarray], tuple], rng: np.random.Generator):
    """A Keras Sequence over ``n`` samples in a new random order every epoch; ``make(indices)`` builds a
    batch (augmented afresh each time)."""

    class Batches(keras.utils.Sequence):
        def __len__(self):
            return int(np.ceil(n / batch_size))

        def __getitem__(self, i):
            return make(self.order[i * batch_size:(i + 1) * batch_size])

        def on_epoch_end(self):
            self.order = rng.permutation(n)

    sequence = Batches()
    sequence.on_epoch_end()
    return sequence


def epoch_bar(keras, epochs: int, desc: str, enabled: bool):
    """A Keras callback that shows training progress as a tqdm bar (on stderr), one step per epoch."""
    from tqdm import tqdm

    class EpochBar(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = tqdm(total=epochs, desc=desc, unit="epoch", disable=not enabled, leave=False)

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            self.bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items() if k in ("loss", "val_loss", "val_auprc")})
            self.bar.update(1)

        def on_train_end(self, logs=None):
            self.bar.close()

    return EpochBar()
