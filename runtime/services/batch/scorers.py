"""What a batch scores: rows of CSV or Parquet files with a model whose runtime takes rows, images of a folder with
one whose runtime takes images, the runtime looked up by the manifest's task in ``runtime.registry``. Each scorer
takes a pandas frame (rows, or image paths) and returns one frame of results in which a row that cannot be scored
has its ``field`` and ``reason``; ``units`` reads the input as such frames."""

from __future__ import annotations

import glob
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeward.core.errors import InputError, require
from edgeward.runtime.engine.model import Model
from edgeward.runtime.registry import Feed, fed, feeds, runtime_class
from edgeward.runtime.io.video import IMAGE_SUFFIXES, read_image

TABLES = (".csv", ".parquet")


class FrameScorer:
    """Scores a pandas frame of rows with the runtime of the model's task (one that takes ``Feed.ROWS``). Returns one
    frame: the input's non-feature columns (ids, labels), ``score``, ``flag``, and for a row that cannot be scored an
    empty score, its first bad ``field`` and the ``reason``."""

    def __init__(self, model_path: str, threshold: float | None = None):
        model = Model(model_path, device="auto", threads=1)
        self.scorer = runtime_class(model.manifest.task)(model, threshold=threshold)  # one that takes ``Feed.ROWS``
        self.features = list(self.scorer.features)

    def __call__(self, frame):

        missing = [f for f in self.features if f not in frame.columns]
        if missing:
            raise InputError(f"input: expected a column for every model feature ({len(self.features)}), got none for "
                             f"{', '.join(missing)}")
        values = np.empty((len(frame), len(self.features)), dtype=np.float64)
        bad = np.zeros(len(frame), dtype=bool)
        reason = np.full(len(frame), "", dtype=object)
        field = np.full(len(frame), "", dtype=object)
        for j, name in enumerate(self.features):
            column = _floats(frame[name])
            wrong = (~np.isfinite(column) | (np.abs(column) > np.finfo(np.float32).max)) & ~bad
            if wrong.any():
                field[wrong] = name
                reason[wrong] = [f"expected a finite number, got {v!r}" for v in frame[name].to_numpy()[wrong]]
                bad |= wrong
            values[:, j] = column
        out = frame[[c for c in frame.columns if c not in self.features]].reset_index(drop=True)
        score = np.full(len(frame), np.nan, dtype=np.float32)
        if (~bad).any():
            result = self.scorer.model.run({self.scorer.input_name: values[~bad].astype(np.float32)}, validate=False)
            score[~bad] = result[self.scorer.model.output_names[0]].reshape(-1)
        out["score"], out["flag"], out["field"], out["reason"] = score, ~bad & (score >= self.scorer.threshold), field, reason
        return out

    result_columns = ("score", "flag")


def _floats(series) -> np.ndarray:
    """A column as float64, a value that is no number as NaN: Arrow's cast for a column of good text (fast), pandas'
    coercion for a column with a bad value in it."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    if series.dtype.kind in "fiub":
        return series.to_numpy(dtype=np.float64)
    if series.dtype.kind in "mM":  # timestamps and durations: not amounts, whatever their numbers are
        return np.full(len(series), np.nan)
    try:
        return pc.cast(pa.array(series), pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


class ImageScorer:
    """Each image of a frame of paths through the runtime of the model's task (one that takes ``Feed.IMAGES``): its
    ``result_columns`` (its ``image_result``'s columns, ``flag`` among them). An image that cannot be read is rejected with the reader's reason."""

    def __init__(self, model_path: str, threshold: float | None = None):
        model = Model(model_path, device="auto", threads=1)
        self.runtime = runtime_class(model.manifest.task)(model)
        self.result_columns = self.runtime.result_columns

    def __call__(self, frame):
        import pandas as pd

        rows = []
        for path in frame["path"]:
            try:
                image = read_image(path)
            except InputError as exc:  # the result columns typed as for a scored image (Arrow needs one type)
                rows.append({**self.runtime.no_result, "field": "image", "reason": str(exc)})
                continue
            rows.append({**self.runtime.image_result(image), "field": "", "reason": ""})
        return pd.concat([frame.reset_index(drop=True), pd.DataFrame(rows, columns=[*self.result_columns, "field", "reason"])],
                         axis=1)


@dataclass(frozen=True)
class Source:
    """The input: its files, their kind (``.csv``, ``.parquet`` or ``images``) and the scorer that fits the model."""

    files: list[str]
    kind: str
    scorer: type
    types: dict = field(default_factory=dict)  # CSV: the Arrow type of each column read as other than text


def source_for(model: str, pattern: str) -> Source:
    """The input files of ``pattern`` (a file, a glob, or an image folder) and the scorer of the model's task."""
    with Model(model, device="x86-64-cpu") as m:
        task, features = m.manifest.task, m.manifest.features
    takes = feeds(task)
    scorer = FrameScorer if Feed.ROWS in takes else ImageScorer if Feed.IMAGES in takes else None
    if scorer is None:
        raise InputError(f"{model}: a {task} model; batch scores rows with {' and '.join(fed(Feed.ROWS))} models and "
                         f"images with {' and '.join(fed(Feed.IMAGES))} models")
    path = Path(pattern)
    if path.is_dir():
        files = sorted(str(p) for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    else:
        files = sorted(glob.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern]
        files = [f for f in files if Path(f).is_file()]
    if not files:
        raise InputError(f"--input {pattern}: no CSV, Parquet or image file found")
    kinds = {Path(f).suffix.lower() for f in files}
    kind = "images" if kinds <= set(IMAGE_SUFFIXES) else kinds.pop() if len(kinds) == 1 and kinds <= set(TABLES) else None
    wanted = "images" if scorer is ImageScorer else "rows"
    if kind is None or (kind == "images") != (wanted == "images"):
        takes = "an image folder (or images)" if wanted == "images" else "CSV or Parquet files (one kind)"
        raise InputError(f"--input {pattern}: a {task} model takes {takes}, got {', '.join(sorted(kinds))}")
    for f in files if kind != "images" else ():  # every file's header before any row is scored
        columns(f, kind)
    types = passthrough_types(files, features) if kind == ".csv" else {}
    return Source(files, kind, scorer, types)


def passthrough_types(files: list[str], features) -> dict:
    """The types of a CSV's columns that are not features (ids, labels), as a reader of ``edgeward score``'s output
    sees them: whole numbers where every value in every file is one, numbers where every value is, else text (a
    feature column stays text, so that a bad value rejects its row). Read once, those columns only."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    names = [n for n in columns(files[0], ".csv") if n not in set(features)]
    if not names or any(columns(f, ".csv") != columns(files[0], ".csv") for f in files[1:]):
        return {}
    kinds = dict.fromkeys(names, (pa.int64(), pa.float64()))
    for path in files:
        try:
            table = pacsv.read_csv(path, parse_options=pacsv.ParseOptions(invalid_row_handler=lambda row: "skip"),
                                   convert_options=pacsv.ConvertOptions(
                                       include_columns=names, column_types={n: pa.string() for n in names},
                                       strings_can_be_null=False))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OSError):
            return {}  # the scoring read says what is wrong with the file
        for name in names:
            kinds[name] = tuple(t for t in kinds[name] if _casts(pc, table.column(name), t))
    return {name: kinds[name][0] for name in names if kinds[name]}


def _casts(pc, column, kind) -> bool:
    import pyarrow as pa

    try:
        pc.cast(column, kind)
        return True
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False


def columns(path: str, kind: str) -> list[str]:
    """A table file's column names, read without its rows; an InputError for one that is empty, not UTF-8, not
    Parquet, or names a column twice."""
    if kind == ".parquet":
        pq = require("pyarrow.parquet", "ray")
        with _read_errors(path, kind):
            names = pq.ParquetFile(path).schema_arrow.names
        _once(names, f"{path}: schema")
        return names
    with open(path, "rb") as f:
        return header_names(f.readline(1 << 20), path)


def header_names(first: bytes, path: str) -> list[str]:
    """The column names of a CSV file's header line ``first`` (its bytes, read already)."""
    if not first.strip():
        raise InputError(f"{path}: empty; expected a header line of column names, then rows")
    try:
        names = [n.strip() for n in first.decode("utf-8").rstrip("\r\n").split(",")]
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} line 1: expected UTF-8 text, got byte 0x{first[exc.start]:02x} at column "
                         f"{exc.start + 1}") from None
    return _once(names, f"{path} line 1")


def _once(names: list[str], where: str) -> list[str]:
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"{where}: column {twice[0]!r} appears {names.count(twice[0])} times; expected each once")
    return names


@contextmanager
def _read_errors(path: str, kind: str, ragged: list | None = None):
    """Arrow's read errors as one line naming the file, and the line where it can be known (a row of other columns
    than the header's, recorded in ``ragged`` by the reader; text that is not UTF-8)."""
    import pyarrow as pa

    try:
        yield
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OSError) as exc:
        message = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        if kind == ".parquet":
            raise InputError(f"{path}: not a readable Parquet file ({message})") from None
        if ragged:
            row = ragged[0]
            number = row.number if row.number is not None else _first_ragged_line(path, row.expected_columns)
            raise InputError(f"{path} line {number}: expected {row.expected_columns} columns, as the header names, "
                             f"got {row.actual_columns}") from None
        if "UTF8" in message or "UTF-8" in message:
            raise InputError(f"{path} line {_first_bad_utf8_line(path)}: expected UTF-8 text, got bytes that are "
                             "not (save the file as UTF-8)") from None
        raise InputError(f"{path}: {message}") from None


def _first_ragged_line(path: str, expected: int) -> int | str:
    """The line of a CSV file's first row with other than ``expected`` columns (Arrow's reader does not count
    lines), read a row at a time."""
    import csv

    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as f:
            reader = csv.reader(f)
            for row in reader:
                if len(row) != expected and row:
                    return reader.line_num
    except (csv.Error, OSError):  # a field past the csv module's limit, the file gone since: the line stays unknown
        pass
    return "?"


def _first_bad_utf8_line(path: str) -> int | str:
    """The line of a file's first byte that is not UTF-8, read a megabyte at a time ("?" if it is gone since)."""
    import codecs

    decoder, line = codecs.getincrementaldecoder("utf-8")(), 1
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    return line + chunk[:exc.start].count(b"\n")
                line += chunk.count(b"\n")
    except OSError:
        return "?"
    return line


def split(frame, result_columns):
    """(scored rows without field and reason, rejected rows without the results)."""
    bad = frame["reason"] != ""
    return frame.loc[~bad].drop(columns=["field", "reason"]), frame.loc[bad].drop(columns=list(result_columns))


def _csv_convert(pacsv, names: list[str], types: dict):
    """Every column of ``names`` read as text (a bad value then rejects its row instead of failing the read), but
    those of ``types`` (``passthrough_types``)."""
    import pyarrow as pa

    return pacsv.ConvertOptions(column_types={name: types.get(name, pa.string()) for name in names},
                                strings_can_be_null=False)
