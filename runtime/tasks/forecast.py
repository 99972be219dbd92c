"""``Forecaster``: the next values of a series from a model that reads a window of its recent values.

Model contract: one float32 input (N, W, 1), the last W values scaled as ``SeriesScaling`` says; one output (N, 1),
the next value on the same scale. ``manifest.params["series"]`` holds the scaling training used
(``{"shift": ..., "scale": ...}``): the runtime applies the same function, so training and serving cannot drift.
Several steps ahead are forecast by feeding each prediction back as the newest value.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass

import numpy as np

from edgeward.core.errors import InputError, ManifestError, TensorError
from edgeward.devices import Profile
from edgeward.runtime.engine.model import Model, ModelSource, ModelTask


@dataclass(frozen=True)
class SeriesScaling:
    """Raw values -> model values: (x - shift) / scale; and back."""

    shift: float = 0.0
    scale: float = 1.0

    def __post_init__(self):
        if not (isinstance(self.scale, (int, float)) and np.isfinite(self.scale) and self.scale > 0):
            raise ManifestError(f"series scaling: expected a scale > 0, got {self.scale!r}")

    @classmethod
    def fit(cls, values: np.ndarray) -> "SeriesScaling":
        values = np.asarray(values, np.float64)
        return cls(float(values.mean()), float(values.std()) or 1.0)

    def apply(self, values) -> np.ndarray:
        return ((np.asarray(values, np.float64) - self.shift) / self.scale).astype(np.float32)

    def invert(self, values) -> np.ndarray:
        return np.asarray(values, np.float64) * self.scale + self.shift

    def to_dict(self) -> dict:
        return asdict(self)


class Forecaster(ModelTask):
    """Feed values as they arrive (``update``), ask for the next ones (``forecast``); or forecast from any window
    of history (``forecast(history=...)``, ``forecast_windows`` for many at once)."""

    task = "generic"

    def __init__(self, model: Model):
        m = model.manifest
        series = m.params.get("series")
        if not isinstance(series, dict):
            raise ManifestError(f"{model.source}: manifest field 'params.series' is missing: not a series model "
                                "(adopt it with --params giving its scaling)")
        if len(m.inputs) != 1 or len(m.inputs[0].shape) != 3 or m.inputs[0].shape[2] != 1 or m.inputs[0].shape[1] is None:
            raise ManifestError(f"{model.source}: expected one input (N, W, 1), got "
                                f"{', '.join(f'{t.name} {t.shape}' for t in m.inputs)}")
        self.model = model
        self.scaling = SeriesScaling(float(series.get("shift", 0.0)), float(series.get("scale", 1.0)))
        self.window = int(m.inputs[0].shape[1])
        self._input = m.inputs[0].name
        self._recent: deque[float] = deque(maxlen=self.window)

    @classmethod
    def from_file(cls, source: ModelSource, device: str | Profile | None = "auto", threads: int | None = None):
        return cls(Model(source, device=device, threads=threads))

    def update(self, value: float) -> None:
        """One new value of the stream (the window keeps the last ``window``)."""
        v = float(value)
        if not np.isfinite(v):
            raise TensorError(f"value: expected a finite number, got {value!r}")
        self._recent.append(v)

    @property
    def ready(self) -> bool:
        return len(self._recent) == self.window

    def forecast(self, steps: int = 1, history=None) -> np.ndarray:
        """The next ``steps`` values after ``history`` (its last ``window`` values; default: the values given to
        ``update``), each prediction fed back as the newest value."""
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise InputError(f"steps: expected a whole number >= 1, got {steps!r}")
        values = list(self._recent) if history is None else np.asarray(history, np.float64).reshape(-1).tolist()
        if len(values) < self.window:
            raise TensorError(f"history: expected at least {self.window} values (the model's window), got {len(values)}")
        window = np.asarray(values[-self.window:], np.float64)
        if not np.isfinite(window).all():
            raise TensorError(f"history: expected finite values, got {window[~np.isfinite(window)][0]}")
        out = []
        for _ in range(steps):
            nxt = float(self.forecast_windows(window[None])[0])
            out.append(nxt)
            window = np.append(window[1:], nxt)
        return np.asarray(out)

    def forecast_windows(self, windows: np.ndarray) -> np.ndarray:
        """The next value after each of (N, window) raw windows, shape (N,)."""
        w = np.asarray(windows, np.float64)
        if w.ndim != 2 or w.shape[1] != self.window:
            raise TensorError(f"windows: expected shape (N, {self.window}), got {w.shape}")
        x = self.scaling.apply(w)[..., None]
        out = self.model.run({self._input: x})[self.model.output_names[0]]
        return self.scaling.invert(out.reshape(len(w)))
