"""``TabularClassifier``: a model of one table input (N, F) that says which class each row is, binary or multi-class.

Model contract: one float32 input (N, F); one output, (N, 1) the probability of the positive class (a sigmoid) or
(N, C) class probabilities; ``manifest.features`` names the F columns (then rows may come named: dicts,
DataFrames, structured arrays), ``manifest.labels`` the classes (default: their numbers), and a two-class model's
``manifest.thresholds["decision"]`` (default 0.5) turns the positive probability into a decision. The fraud
task's ``FraudScorer`` is this with the fraud model's threshold; ``edgeward zoo``'s FNN and any table model
adopted with ``--features`` and ``--labels`` run here as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from edgeward.core.errors import ConfigError, InputError, TensorError
from edgeward.devices import Profile
from edgeward.runtime.engine.model import Model, ModelSource, ModelTask


class TabularClassifier(ModelTask):
    task = "generic"

    def __init__(self, model: Model, threshold: float | None = None):
        m = model.manifest
        if len(m.inputs) != 1 or len(m.inputs[0].shape) != 2 or m.inputs[0].shape[1] is None:
            raise InputError(f"{model.source}: expected one table input (N, F), got "
                             f"{', '.join(f'{t.name} {t.shape}' for t in m.inputs)}")
        out = m.outputs[0].shape
        if len(m.outputs) != 1 or len(out) != 2 or out[1] is None:
            raise InputError(f"{model.source}: expected one output (N, 1) or (N, C), got "
                             f"{', '.join(f'{t.name} {t.shape}' for t in m.outputs)}")
        self.model = model
        self.input_name = m.inputs[0].name
        self._width = int(m.inputs[0].shape[1])
        self.features = tuple(m.features) or tuple(f"x{i}" for i in range(self._width))
        self._named = bool(m.features)
        self.binary = out[1] == 1
        self.labels = tuple(m.labels) or tuple(str(i) for i in range(2 if self.binary else out[1]))
        if threshold is not None and not (isinstance(threshold, (int, float)) and 0.0 <= threshold <= 1.0):
            raise ConfigError(f"threshold (--threshold): expected a probability from 0 to 1, got {threshold!r}")
        self.threshold = float(m.thresholds.get("decision", 0.5) if threshold is None else threshold)

    @classmethod
    def from_file(cls, source: ModelSource, device: str | Profile | None = "auto", threads: int | None = None,
                  threshold: float | None = None):
        return cls(Model(source, device=device, threads=threads), threshold=threshold)

    def probabilities(self, rows) -> np.ndarray:
        """(N, C) class probabilities in ``labels`` order (a sigmoid model's as [1 - p, p])."""
        out = self._run(rows)
        return np.concatenate([1.0 - out, out], axis=1) if self.binary else out

    def score(self, rows) -> np.ndarray:
        """A two-class model's probability of the positive class per row, shape (N,).

        ``rows``: a 2-D array (columns in ``features`` order) or one 1-D row; a dict of one row (name -> value) or
        of columns (name -> sequence); a list of such dicts; a pandas DataFrame. Named rows are matched by feature
        name: order does not matter, extra columns are ignored, a missing one is an error."""
        if not self.binary:
            raise InputError(f"{self.model.source}: score() is for a one-probability model; this one has "
                             f"{len(self.labels)} classes: use probabilities() or predict()")
        return self._run(rows).reshape(-1)

    def _run(self, rows) -> np.ndarray:
        x = self.to_matrix(rows)  # checks shape, dtype and finiteness, naming row and feature
        return self.model.run({self.input_name: x}, validate=False)[self.model.output_names[0]]

    def predict(self, rows) -> list[str]:
        """Each row's class name: the positive class where its probability reaches the threshold (two classes),
        else the most likely one."""
        p = self.probabilities(rows)
        ids = (p[:, 1] >= self.threshold).astype(int) if self.binary else p.argmax(axis=1)
        return [self.labels[i] for i in ids]

    def to_matrix(self, rows) -> np.ndarray:
        if isinstance(rows, np.ndarray) and rows.dtype.names is None:
            x = rows if rows.ndim == 2 else rows.reshape(1, -1) if rows.ndim == 1 else rows
            if x.ndim != 2 or x.shape[1] != self._width:
                raise TensorError(f"rows: expected shape (N, {self._width}) or ({self._width},), got {rows.shape}")
            x = _as_float32(x, "rows")
        elif not self._named:
            raise TensorError(f"rows: this model's manifest names no features (adopt it with --features): pass an "
                              f"array of shape (N, {self._width}), got {type(rows).__name__}")
        else:
            x = self._from_named(rows)
        _check_finite(x, self.features)
        return x

    def _from_named(self, rows) -> np.ndarray:
        if isinstance(rows, np.ndarray):  # structured array
            columns = {name: rows[name] for name in rows.dtype.names}
        elif hasattr(rows, "columns") and hasattr(rows, "__getitem__"):  # DataFrame-like
            columns = {str(c): rows[c] for c in rows.columns}
        elif isinstance(rows, Mapping):
            columns = rows
        elif isinstance(rows, Sequence) and rows and all(isinstance(r, Mapping) for r in rows):
            missing = [f for f in self.features if f not in rows[0]]
            if missing:
                raise TensorError(f"row 0: missing feature(s) {missing}; expected {list(self.features)}")
            try:
                data = [[r[f] for f in self.features] for r in rows]
            except KeyError as exc:
                bad = next(i for i, r in enumerate(rows) if exc.args[0] not in r)
                raise TensorError(f"row {bad}: missing feature {exc.args[0]!r}") from None
            return _as_float32(np.asarray(data, dtype=object), "rows", self.features)
        else:
            raise TensorError(
                "rows: expected an array, a dict, a list of dicts or a DataFrame, "
                f"got {type(rows).__name__}"
            )
        missing = [f for f in self.features if f not in columns]
        if missing:
            raise TensorError(f"missing feature column(s) {missing}; expected {list(self.features)}")
        cols = [np.atleast_1d(np.asarray(columns[f])) for f in self.features]
        lengths = {len(c) for c in cols}
        if len(lengths) != 1:
            raise TensorError(f"feature columns have different lengths: {sorted(lengths)}")
        out = np.empty((cols[0].shape[0], self._width), dtype=np.float32)
        for j, (name, col) in enumerate(zip(self.features, cols)):
            out[:, j] = _as_float32(col, f"feature {name!r}")
        return out


def _as_float32(values: np.ndarray, what: str, features: Sequence[str] | None = None) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError):
        flat = values.reshape(len(values), -1) if values.ndim > 1 else values.reshape(-1, 1)
        for i, row in enumerate(flat):
            for j, v in enumerate(row):
                try:
                    float(v)
                except (TypeError, ValueError):
                    name = f"feature {features[j]!r}" if features is not None else what
                    raise TensorError(f"row {i}, {name}: expected a number, got {v!r}") from None
        raise


def _check_finite(x: np.ndarray, features: Sequence[str]) -> None:
    if not np.isfinite(x).all():
        i, j = np.argwhere(~np.isfinite(x))[0]
        raise TensorError(f"row {int(i)}, feature {features[j]!r}: expected a finite number, got {x[i, j]}")
