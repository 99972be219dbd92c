"""Keyword spotting: a DS-CNN (depthwise-separable CNN) on log-mel features, in tf_keras.

``train_commands`` reads a Speech Commands layout, computes features with the runtime's front end
(so training and serving cannot drift), normalises them with constants measured on the training set
(they travel in the manifest), trains with the data's ``_background_noise_`` recordings (if any) mixed
into the clips afresh every epoch, SpecAugment-style masking and time shifts, and writes the
run directory: ``model.keras``, ``train.json`` (accuracy, confusion matrix, per-label thresholds,
front end) and ``holdout.npz``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from edgeward.errors import InputError
from edgeward.runtime.audio_features import FrontEnd
from edgeward.train.commands_data import LABELS, SILENCE, UNKNOWN, features, load_backgrounds, load_clips

MODEL_FILE, REPORT_FILE, HOLDOUT_FILE = "model.keras", "train.json", "holdout.npz"
# Keras' default 0.99 needs thousands of steps to forget the initial moving variance of 1; a few
# thousand clips give a few hundred steps, and inference then collapsed to one class (seen here)
BN_MOMENTUM = 0.9


@dataclass(frozen=True)
class CommandsTrainConfig:
    epochs: int = 30
    batch_size: int = 64
    filters: int = 64
    blocks: int = 4
    # block i's depthwise conv looks 2**i frames apart in time: a receptive field of 0.7 s instead of 0.26 s
    # (a whole word rather than a syllable) at the same size and inference cost (TensorFlow trains it more
    # slowly); on 5 hours of validation streams it detected 3 points more commands at the same false alarms
    # (issue 4 notes). False: Hello Edge's DS-CNN
    dilate: bool = True
    learning_rate: float = 3e-3
    dropout: float = 0.2
    time_mask: int = 12  # frames
    freq_mask: int = 6  # mel bands
    shift: int = 8  # frames of random time shift
    # where the data has _background_noise_ recordings (Speech Commands does): the share of training clips,
    # each batch, that get a random slice of one at a random SNR to the clip, so a word meets many backgrounds
    background: float = 0.8
    background_snr: tuple[float, float] = (0.0, 20.0)  # dB
    false_accept: float = 0.002  # per-label threshold: at most this share of other validation clips above it
    seed: int = 0


def build_ds_cnn(keras, input_shape: tuple, n_classes: int, config: CommandsTrainConfig):
    """DS-CNN (Zhang et al., "Hello Edge"): a strided conv, then depthwise + pointwise blocks (dilated in time
    unless ``config.dilate`` is off), pooling, dense."""
    L = keras.layers
    inputs = keras.Input(shape=input_shape, name="logmel")
    x = L.Conv2D(config.filters, (10, 4), strides=(2, 2), padding="same", use_bias=False, name="conv")(inputs)
    x = L.BatchNormalization(momentum=BN_MOMENTUM, name="conv_bn")(x)
    x = L.ReLU(name="conv_relu")(x)
    for i in range(config.blocks):
        dilation = (2 ** i, 1) if config.dilate else (1, 1)
        x = L.DepthwiseConv2D(3, padding="same", dilation_rate=dilation, use_bias=False, name=f"dw{i}")(x)
        x = L.BatchNormalization(momentum=BN_MOMENTUM, name=f"dw{i}_bn")(x)
        x = L.ReLU(name=f"dw{i}_relu")(x)
        x = L.Conv2D(config.filters, 1, use_bias=False, name=f"pw{i}")(x)
        x = L.BatchNormalization(momentum=BN_MOMENTUM, name=f"pw{i}_bn")(x)
        x = L.ReLU(name=f"pw{i}_relu")(x)
    x = L.GlobalAveragePooling2D(name="pool")(x)
    x = L.Dropout(config.dropout, seed=config.seed)(x)
    x = L.Dense(n_classes, name="logits")(x)
    outputs = L.Softmax(name="probabilities")(x)
    return keras.Model(inputs, outputs, name="ds_cnn")


def augment(x: np.ndarray, rng: np.random.Generator, config: CommandsTrainConfig) -> np.ndarray:
    """Random time shift, one time mask and one frequency mask per clip (on normalised features)."""
    out = x.copy()
    n, frames, bands, _ = x.shape
    shifts = rng.integers(-config.shift, config.shift + 1, n)
    for i in range(n):
        out[i] = np.roll(out[i], shifts[i], axis=0)
        t = rng.integers(0, config.time_mask + 1)
        t0 = rng.integers(0, frames - t + 1)
        out[i, t0: t0 + t] = 0.0
        f = rng.integers(0, config.freq_mask + 1)
        f0 = rng.integers(0, bands - f + 1)
        out[i, :, f0: f0 + f] = 0.0
    return out


def add_background(audio: np.ndarray, backgrounds: list[np.ndarray], rng: np.random.Generator,
                   share: float, snr_db: tuple[float, float]) -> np.ndarray:
    """A copy of the clips (N, samples) with ``share`` of them mixed with a random slice of a random
    background recording, scaled to a random SNR (``snr_db``) below the clip's own level."""
    out = np.array(audio, dtype=np.float32)
    if not backgrounds:
        return out
    n = out.shape[1]
    for i in np.flatnonzero(rng.random(len(out)) < share):
        bg = backgrounds[rng.integers(len(backgrounds))]
        if len(bg) < n:  # a recording shorter than a clip repeats
            bg = np.resize(bg, n)
        at = rng.integers(0, len(bg) - n + 1)
        piece = bg[at: at + n]
        gain = np.sqrt((out[i] ** 2).mean() / ((piece ** 2).mean() + 1e-12)) / 10 ** (rng.uniform(*snr_db) / 20)
        out[i] += gain * piece
    return np.clip(out, -1.0, 1.0)


def thresholds(probs: np.ndarray, y: np.ndarray, false_accept: float) -> dict[str, float]:
    """Per command label: the score that at most ``false_accept`` of the other validation clips reach."""
    out = {}
    for k, label in enumerate(LABELS):
        if label in (UNKNOWN, SILENCE):
            continue
        others = probs[y != k, k]
        out[label] = float(max(0.5, np.quantile(others, 1 - false_accept))) if len(others) else 0.5
    return out


def confusion(y: np.ndarray, pred: np.ndarray, n: int) -> list[list[int]]:
    m = np.zeros((n, n), dtype=np.int64)
    np.add.at(m, (y, pred), 1)
    return m.tolist()


def normalise(front_end: FrontEnd, *arrays: np.ndarray) -> tuple[FrontEnd, list[np.ndarray]]:
    """Measure mean and std on the first (training) array; apply to all; return the front end carrying them."""
    mean, std = float(arrays[0].mean()), float(arrays[0].std() + 1e-6)
    fe = replace(front_end, mean=round(mean, 6), std=round(std, 6))
    return fe, [((a - fe.mean) / fe.std).astype(np.float32) for a in arrays]


def train_commands(data_dir: str | os.PathLike, out_dir: str | os.PathLike,
                   config: CommandsTrainConfig = CommandsTrainConfig(), progress: bool = False) -> dict:
    from threadpoolctl import threadpool_limits

    from edgeward.train.progress import epoch_bar
    from edgeward.train.tabular import folder_sha256
    from edgeward.train.tf_env import keras as load_keras

    front_end = FrontEnd()
    backgrounds = load_backgrounds(data_dir, front_end)
    clips = load_clips(data_dir, front_end, backgrounds=backgrounds)
    for name in ("train", "val", "test"):
        if len(clips[name][1]) == 0:
            raise InputError(f"{data_dir}: the {name} split is empty; expected clips for training, validation and test")
    (a_tr, y_tr), (a_va, y_va), (a_te, y_te) = (clips[k] for k in ("train", "val", "test"))
    front_end, (x_tr, x_va, x_te) = normalise(front_end, *(features(a, front_end) for a in (a_tr, a_va, a_te)))
    mixing = bool(backgrounds) and config.background > 0
    del clips, a_va, a_te  # only the training audio is needed again, and only to mix backgrounds into it
    a_tr = a_tr if mixing else None
    keras = load_keras()
    keras.utils.set_random_seed(config.seed)
    model = build_ds_cnn(keras, front_end.shape, len(LABELS), config)
    steps = int(np.ceil(len(x_tr) / config.batch_size)) * config.epochs
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(config.seed)

    class Augmented(keras.utils.Sequence):
        def __len__(self):
            return int(np.ceil(len(x_tr) / config.batch_size))

        def __getitem__(self, i):
            idx = self.order[i * config.batch_size:(i + 1) * config.batch_size]
            if not mixing:
                return augment(x_tr[idx], rng, config), y_tr[idx]
            mixed = add_background(a_tr[idx], backgrounds, rng, config.background, config.background_snr)
            return augment(front_end.logmel(mixed), rng, config), y_tr[idx]

        def on_epoch_end(self):
            self.order = rng.permutation(len(x_tr))

    data = Augmented()
    data.on_epoch_end()
    started = time.perf_counter()
    # batches get their features beside TensorFlow's own threads: numpy's BLAS threads on top of those spin
    # for the same cores (an epoch with background mixing took 82 s here, and 41 s with one BLAS thread)
    with threadpool_limits(limits=1, user_api="blas"):
        history = model.fit(data, validation_data=(x_va, y_va), epochs=config.epochs, verbose=0,
                            callbacks=[epoch_bar(keras, config.epochs, "training DS-CNN", progress)])
    seconds = time.perf_counter() - started
    p_va = model.predict(x_va, batch_size=256, verbose=0)
    p_te = model.predict(x_te, batch_size=256, verbose=0)
    pred = p_te.argmax(1)
    report = {
        "task": "commands",
        "data": {"path": str(data_dir), "sha256": folder_sha256(data_dir),
                 "split": {"train": len(y_tr), "val": len(y_va), "test": len(y_te)}, "backgrounds": len(backgrounds)},
        "labels": list(LABELS),
        "front_end": front_end.to_dict(),
        "config": asdict(config),
        "thresholds": thresholds(p_va, y_va, config.false_accept),
        "epochs_run": len(history.history["loss"]),
        "train_seconds": round(seconds, 2),
        "history": {k: [round(float(v), 5) for v in vs] for k, vs in history.history.items()},
        "metrics": {"model": {"accuracy": float((pred == y_te).mean()),
                              "val_accuracy": float((p_va.argmax(1) == y_va).mean())}},
        "confusion": confusion(y_te, pred, len(LABELS)),
        "params": int(model.count_params()),
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / MODEL_FILE)
    np.savez_compressed(out / HOLDOUT_FILE, x_val=x_va, y_val=y_va, x_test=x_te, y_test=y_te)
    (out / REPORT_FILE).write_text(json.dumps(report, indent=2))
    return report

