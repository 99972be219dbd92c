"""Row 3 of the zoo, the article's LSTM regressor: LSTM(50, relu) over 10 steps of one value, Dense(1); and
series to learn from: a daily cycle and a weekly one, each series its own level, amplitudes and phases, with noise.

The model takes values scaled by ``runtime.forecast.SeriesScaling`` (fitted on the training series), which the
runtime's ``Forecaster`` applies again from the manifest.
"""

from __future__ import annotations

import numpy as np

WINDOW = 10
INPUT_NAME = "window"


def build_lstm(keras, window: int = WINDOW, units: int = 50):
    inputs = keras.Input(shape=(window, 1), name=INPUT_NAME)
    h = keras.layers.LSTM(units, activation="relu", name="lstm")(inputs)
    return keras.Model(inputs, keras.layers.Dense(1, name="next")(h), name="lstm_forecaster")


def hourly_series(count: int, length: int, seed: int) -> np.ndarray:
    """(count, length) hourly readings: a level, a daily cycle with a harmonic, a weekly swing, a slow drift and
    noise, each series drawn its own (a building's power draw, say)."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)[None, :]
    level = rng.uniform(20, 80, (count, 1))
    daily = rng.uniform(5, 15, (count, 1)) * np.sin(2 * np.pi * (t / 24 + rng.random((count, 1))))
    harmonic = rng.uniform(0, 4, (count, 1)) * np.sin(4 * np.pi * (t / 24 + rng.random((count, 1))))
    weekly = rng.uniform(0, 6, (count, 1)) * np.sin(2 * np.pi * (t / 168 + rng.random((count, 1))))
    drift = rng.normal(0, 0.02, (count, 1)) * t
    return level + daily + harmonic + weekly + drift + rng.normal(0, 1.0, (count, length))


def windows(series: np.ndarray, window: int = WINDOW) -> tuple[np.ndarray, np.ndarray]:
    """Every (window values, the next value) pair of each series: (M, window) and (M,)."""
    idx = np.arange(series.shape[1] - window)[:, None] + np.arange(window + 1)[None, :]
    pairs = series[:, idx].reshape(-1, window + 1)
    return pairs[:, :window], pairs[:, window]
