"""Keyword spotting: a DS-CNN (depthwise-separable CNN) on log-mel features, in tf_keras.

``train_commands`` reads a Speech Commands layout, computes features with the runtime's front end
(so training and serving cannot drift), normalises them with constants measured on the training set
(they travel in the manifest), trains with the data's ``_background_noise_`` recordings (if any) mixed
into the clips afresh every epoch, the chosen waveform augmentations (``augment.py``), SpecAugment-style
masking and time shifts, and writes the run directory: ``model.keras``, ``train.json`` (accuracy,
confusion matrix, per-label thresholds, front end) and ``holdout.npz``.
"""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np

from edgeward.core.errors import InputError
from edgeward.core.hashing import folder_sha256
from edgeward.core.rundir import DataInfo, RunDir, TrainingRecord
from edgeward.core.task import TaskData
from edgeward.runtime.io.audio_features import FrontEnd
from edgeward.train.commands.augment import Augmenter
from edgeward.train.commands.config import CommandsArch, CommandsPayload, CommandsTrainConfig
from edgeward.train.commands.data import SILENCE, UNKNOWN, features, load_backgrounds, load_clips, load_commands
from edgeward.train.commands.vocabulary import folder_name, read_commands
from edgeward.train.loop import Evaluation, Fitted, Trainer, batches, fit, train_run

# Keras' default 0.99 needs thousands of steps to forget the initial moving variance of 1; a few thousand
# clips give a few hundred steps, too few (docs/decisions.md)
BN_MOMENTUM = 0.9
INPUT_NAME = "logmel"  # the model's input, in Keras and in every exported file


def build_ds_cnn(keras, input_shape: tuple, n_classes: int, config: CommandsTrainConfig):
    """DS-CNN (Zhang et al., "Hello Edge"): a strided conv, then depthwise + pointwise blocks (dilated in time
    unless ``config.dilate`` is off), pooling, dense."""
    L = keras.layers
    inputs = keras.Input(shape=input_shape, name=INPUT_NAME)
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


def build_speech_cnn(keras, input_shape: tuple, n_classes: int, config: CommandsTrainConfig):
    """The founding article's speech CNN: 1-D convolutions over time on (frames, mel bands), each frame's bands its
    channels; two Conv1D + max-pooling blocks, then dense. ``config.filters`` is the first block's width."""
    L = keras.layers
    inputs = keras.Input(shape=input_shape, name=INPUT_NAME)
    x = L.Conv1D(config.filters, 3, activation="relu", padding="same", name="conv1")(inputs)
    x = L.MaxPooling1D(2, name="pool1")(x)
    x = L.Conv1D(2 * config.filters, 3, activation="relu", padding="same", name="conv2")(x)
    x = L.MaxPooling1D(2, name="pool2")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(128, activation="relu", name="dense")(x)
    x = L.Dropout(config.dropout, seed=config.seed)(x)
    outputs = L.Dense(n_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="speech_cnn")


def augment(x: np.ndarray, rng: np.random.Generator, config: CommandsTrainConfig) -> np.ndarray:
    """Random time shift, one time mask and one frequency mask per clip (on normalised features)."""
    out = x.copy()
    n, frames, bands = x.shape[:3]
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


def thresholds(probs: np.ndarray, y: np.ndarray, false_accept: float, labels: tuple[str, ...]) -> dict[str, float]:
    """Per command label: the score that at most ``false_accept`` of the other validation clips reach."""
    out = {}
    for k, label in enumerate(labels):
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


class CommandsTrainer(Trainer):
    task, desc = "commands", "training DS-CNN"

    def __init__(self, data_dir: str | os.PathLike, config: CommandsTrainConfig):
        self.data_dir, self.config = data_dir, config
        if config.arch is CommandsArch.SPEECH_CNN:
            self.desc = "training speech CNN"

    def load(self) -> None:
        front_end = FrontEnd(channel=self.config.arch is CommandsArch.DS_CNN)  # speech-cnn: (frames, bands)
        self.labels = (self.config.words or read_commands(self.data_dir)) + (UNKNOWN, SILENCE)
        self.backgrounds = load_backgrounds(self.data_dir, front_end)
        clips = load_clips(self.data_dir, front_end, self.labels, backgrounds=self.backgrounds)
        for name in ("train", "val", "test"):
            if len(clips[name][1]) == 0:
                raise InputError(f"{self.data_dir}: the {name} split is empty; expected clips for training, validation and test")
        missing = [label for k, label in enumerate(self.labels[:-2]) if not (clips["train"][1] == k).any()]
        if missing:
            raise InputError(f"{self.data_dir}: expected training clips of every command, got none of {missing[0]!r} "
                             f"(its folder: {folder_name(missing[0])}/)")
        (a_tr, y_tr), (a_va, y_va), (a_te, y_te) = (clips[k] for k in ("train", "val", "test"))
        self.front_end, (x_tr, x_va, x_te) = normalise(front_end, *(features(a, front_end) for a in (a_tr, a_va, a_te)))
        self.train, self.val, self.test = (x_tr, y_tr), (x_va, y_va), (x_te, y_te)
        self.mixing = bool(self.backgrounds) and self.config.background > 0
        self.augmenter = Augmenter(self.config.augment, self.config.augment_share, self.config.seed) \
            if self.config.augment else None
        # only the training audio is needed again, and only to mix backgrounds into it or augment it
        self.audio = a_tr if self.mixing or self.augmenter else None

    def build(self, keras):
        c = self.config
        build = build_speech_cnn if c.arch is CommandsArch.SPEECH_CNN else build_ds_cnn
        model = build(keras, self.front_end.shape, len(self.labels), c)
        steps = int(np.ceil(len(self.train[0]) / c.batch_size)) * c.epochs
        schedule = keras.optimizers.schedules.CosineDecay(c.learning_rate, steps)
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    def fit(self, keras, model, callbacks: list) -> dict:
        from threadpoolctl import threadpool_limits

        c, (x_tr, y_tr), rng = self.config, self.train, np.random.default_rng(self.config.seed)

        def batch(idx):
            if self.audio is None:
                return augment(x_tr[idx], rng, c), y_tr[idx]
            audio = self.audio[idx]
            if self.mixing:
                audio = add_background(audio, self.backgrounds, rng, c.background, c.background_snr)
            if self.augmenter:
                audio = self.augmenter(audio, rng)
            return augment(self.front_end.logmel(audio), rng, c), y_tr[idx]

        # batches get their features beside TensorFlow's own threads; numpy's BLAS threads on top of those
        # would spin for the same cores
        with threadpool_limits(limits=1, user_api="blas"):
            return fit(model, batches(keras, len(x_tr), c.batch_size, batch, rng), validation=self.val, epochs=c.epochs,
                       callbacks=callbacks)

    def evaluate(self, fitted: Fitted) -> Evaluation:
        (x_va, y_va), (x_te, y_te) = self.val, self.test
        p_va = fitted.model.predict(x_va, batch_size=256, verbose=0)
        p_te = fitted.model.predict(x_te, batch_size=256, verbose=0)
        pred = p_te.argmax(1)
        return Evaluation(
            data=DataInfo(str(self.data_dir), folder_sha256(self.data_dir),
                          {"train": len(self.train[1]), "val": len(y_va), "test": len(y_te)}),
            labels=self.labels, thresholds=thresholds(p_va, y_va, self.config.false_accept, self.labels),
            metrics={"model": {"accuracy": float((pred == y_te).mean()), "val_accuracy": float((p_va.argmax(1) == y_va).mean())}},
            payload=CommandsPayload(front_end=self.front_end.to_dict(), confusion=confusion(y_te, pred, len(self.labels)),
                                    backgrounds=len(self.backgrounds)),
            holdout={"x_val": x_va, "y_val": y_va, "x_test": x_te, "y_test": y_te})


def train_commands(data_dir: str | os.PathLike, out_dir: str | os.PathLike,
                   config: CommandsTrainConfig = CommandsTrainConfig(), progress: bool = False) -> TrainingRecord:
    """Train the DS-CNN on a Speech Commands folder into the run directory ``out_dir``."""
    return train_run(CommandsTrainer(data_dir, config), out_dir, progress)


def commands_splits(run: RunDir, record: TrainingRecord, train_sample: int | None = None) -> TaskData:
    """The clips of a commands run, through the run's own front end (normalisation included)."""
    fe = FrontEnd.from_dict(record.payload.front_end, str(run))
    splits = load_commands(record.data.path, fe, tuple(record.labels))

    def norm(x):
        return ((x - fe.mean) / fe.std).astype(np.float32)

    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = (splits[k] for k in ("train", "val", "test"))
    if train_sample is not None and train_sample < len(y_tr):
        keep = np.linspace(0, len(y_tr) - 1, train_sample).astype(int)
        x_tr, y_tr = x_tr[keep], y_tr[keep]
    return TaskData(x_train=norm(x_tr), y_train=y_tr, x_val=norm(x_va), y_val=y_va, x_test=norm(x_te), y_test=y_te,
                    loss="sparse_categorical_crossentropy")
