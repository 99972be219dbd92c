"""Load a CSV of numeric features and a 0/1 label, ordered by time, and split it by time.

Feature columns: every column except the label, the time column and id columns (``id`` or a name
ending in ``_id``), unless ``features`` names them. A bad value is a ``DataError`` naming the file,
line, column, expected and given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeward.core.errors import DataError, InputError
from edgeward.core.hashing import file_sha256

TIME_COLUMNS = ("timestamp", "Time", "time", "datetime")


@dataclass(frozen=True)
class TabularData:
    path: str
    features: tuple[str, ...]
    label: str
    time_column: str | None
    x: np.ndarray  # float32 (N, F), time-ordered
    y: np.ndarray  # int8 (N,)
    sha256: str


@dataclass(frozen=True)
class Split:
    train: slice
    val: slice
    test: slice


def load_csv(
    path: str | os.PathLike, label: str, time_column: str | None = "auto",
    features: list[str] | None = None,
) -> TabularData:
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: data file not found")
    try:
        df = pd.read_csv(path, low_memory=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable CSV ({str(exc).strip().splitlines()[0]})") from None
    except pd.errors.EmptyDataError:
        raise DataError(path, 1, None, "a header row", "an empty file") from None
    df.columns = [str(c).strip() for c in df.columns]
    if label not in df.columns:
        raise DataError(path, 1, label, f"a label column named {label!r}", f"columns {list(df.columns)}")
    if time_column == "auto":
        time_column = next((c for c in TIME_COLUMNS if c in df.columns), None)
    elif time_column is not None and time_column not in df.columns:
        raise DataError(path, 1, time_column, f"a time column named {time_column!r}", f"columns {list(df.columns)}")
    if features is None:
        features = [c for c in df.columns if c not in (label, time_column) and not _is_id(c)]
    else:
        for f in features:
            if f not in df.columns:
                raise DataError(path, 1, f, f"a feature column named {f!r}", f"columns {list(df.columns)}")
    if not features:
        raise InputError(f"{path}: expected at least one feature column besides {label!r}, got none")

    y = _labels(df[label], path)
    x = np.empty((len(df), len(features)), dtype=np.float32)
    for j, f in enumerate(features):
        x[:, j] = _numeric(df[f], path, f)
    if time_column is not None:
        order = _time_order(df[time_column], path, time_column)
        x, y = x[order], y[order]
    return TabularData(str(path), tuple(features), label, time_column, x, y, file_sha256(path))


def time_split(n: int, val: float = 0.15, test: float = 0.15) -> Split:
    """Oldest rows train, the next ones validate, the newest (held-out tail) test."""
    n_test, n_val = int(round(n * test)), int(round(n * val))
    n_train = n - n_val - n_test
    return Split(slice(0, n_train), slice(n_train, n_train + n_val), slice(n_train + n_val, n))


def _is_id(column: str) -> bool:
    return column.lower() == "id" or column.lower().endswith("_id")


def _numeric(col, path: Path, name: str) -> np.ndarray:
    import pandas as pd

    values = pd.to_numeric(col, errors="coerce")
    bad = values.isna() | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        given = col.iloc[i]
        given = "" if isinstance(given, float) and np.isnan(given) else given
        raise DataError(path, i + 2, name, "a finite number", given)
    return values.to_numpy(dtype=np.float32)


def _labels(col, path: Path) -> np.ndarray:
    import pandas as pd

    values = pd.to_numeric(col, errors="coerce")
    bad = ~values.isin([0, 1])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(path, i + 2, col.name, "a label of 0 or 1", col.iloc[i])
    return values.to_numpy(dtype=np.int8)


def _time_order(col, path: Path, name: str) -> np.ndarray:
    import pandas as pd

    values = pd.to_numeric(col, errors="coerce")
    if values.isna().any():  # not numbers: dates
        values = pd.to_datetime(col, errors="coerce", utc=True)
        if values.isna().any():
            i = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise DataError(path, i + 2, name, "a number or a date", col.iloc[i])
        values = values.astype("int64")
    return np.argsort(values.to_numpy(), kind="stable")
