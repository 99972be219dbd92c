"""Row 1 of the zoo, the article's feed-forward binary classifier: Dense 64, Dense 64, sigmoid, on 20 numeric
features; and data with a rule to learn."""

from __future__ import annotations

import numpy as np

FEATURES = 20
INPUT_NAME = "features"
FEATURE_NAMES = tuple(f"x{i:02d}" for i in range(1, FEATURES + 1))  # the columns' names in the manifest
LABELS = ("negative", "positive")


def build_fnn(keras, features: int = FEATURES):
    L = keras.layers
    inputs = keras.Input(shape=(features,), name=INPUT_NAME)
    x = L.Dense(64, activation="relu", name="dense1")(inputs)
    x = L.Dense(64, activation="relu", name="dense2")(x)
    return keras.Model(inputs, L.Dense(1, activation="sigmoid", name="probability")(x), name="fnn")


def binary_rows(n: int, seed: int, features: int = FEATURES) -> tuple[np.ndarray, np.ndarray]:
    """Standard normal features; the label says whether a fixed mix of them, with an interaction and a
    threshold, is positive (about half are), flipped for 5% of rows: a rule a small network learns, not a line."""
    rule = np.random.default_rng(12345)  # the same rule for every seed: train and test agree on it
    w = rule.normal(size=features)

    def score(x):
        return x @ w / np.sqrt(features) + 0.8 * x[:, 0] * x[:, 1] - 0.5 * np.abs(x[:, 2])

    threshold = np.median(score(rule.normal(size=(20_000, features))))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = (score(x) > threshold).astype(np.int64)
    flip = rng.random(n) < 0.05
    return x, np.where(flip, 1 - y, y)
