"""``FraudScorer``: the fraud task on top of ``Model``.

Model contract: task ``fraud``; one input ``features``, float32, shape (N, F), the raw feature values
in the order of ``manifest.features`` (the normalisation is a layer inside the model); one output,
shape (N, 1), the probability that the transaction is fraud; ``manifest.thresholds["decision"]``,
chosen on validation data at export, turns a probability into a flag.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from edgeward.core.errors import ConfigError, InputError, TensorError
from edgeward.devices import Profile
from edgeward.runtime.model import Model, ModelSource, ModelTask

TASK = "fraud"  # the manifest task this runtime reads


class FraudScorer(ModelTask):
    task = TASK

    def __init__(self, model: Model, threshold: float | None = None):
        if model.manifest.task != TASK:
            raise InputError(f"{model.source}: expected a fraud model, got task '{model.manifest.task}'")
        if len(model.manifest.inputs) != 1:
            raise InputError(f"{model.source}: expected one input, got {len(model.manifest.inputs)}")
        self.model = model
        self.features = model.manifest.features
        self.input_name = model.manifest.inputs[0].name
        if threshold is not None and not (isinstance(threshold, (int, float)) and 0.0 <= threshold <= 1.0):
            raise ConfigError(f"threshold (--threshold): expected a probability from 0 to 1, got {threshold!r}")
        self.threshold = float(model.manifest.thresholds.get("decision", 0.5) if threshold is None else threshold)
        self._width = len(self.features)

    @classmethod
    def from_file(
        cls, source: ModelSource, device: str | Profile | None = "auto", threads: int | None = None,
        threshold: float | None = None,
    ) -> "FraudScorer":
        return cls(Model(source, device=device, threads=threads), threshold=threshold)

    def score(self, rows) -> np.ndarray:
        """Fraud probability per row, shape (N,).

        ``rows``: a 2-D array (columns in ``self.features`` order) or one 1-D row; a dict of one row
        (name -> value) or of columns (name -> sequence); a list of such dicts; a pandas DataFrame.
        Named inputs are matched by feature name: order does not matter, extra columns are ignored,
        a missing one is an error.
        """
        x = self.to_matrix(rows)  # checks shape, dtype and finiteness, naming row and feature
        return self.model.run({self.input_name: x}, validate=False)[self.model.output_names[0]].reshape(-1)

    def flag(self, rows) -> np.ndarray:
        """True where the probability reaches the decision threshold."""
        return self.score(rows) >= self.threshold

    def to_matrix(self, rows) -> np.ndarray:
        if isinstance(rows, np.ndarray) and rows.dtype.names is None:
            x = rows if rows.ndim == 2 else rows.reshape(1, -1) if rows.ndim == 1 else rows
            if x.ndim != 2 or x.shape[1] != self._width:
                raise TensorError(f"rows: expected shape (N, {self._width}) or ({self._width},), got {rows.shape}")
            x = _as_float32(x, "rows")
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
