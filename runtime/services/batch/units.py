"""The units of a batch: the input cut into pieces that are read, scored and written on their own, so that a piece
scored twice (a retried Ray task, a restarted actor, a resumed run) writes the same files again and counts once.

A unit is a byte range of whole lines of a CSV file (its header read apart), a range of a Parquet file's row groups,
or a range of an image folder's files, in input order; each holds about ``rows`` rows. Its parts go to
``scores/part-UNIT-K.parquet`` and ``rejects/part-UNIT-K.parquet``, each written under a hidden name and renamed;
then ``units/UNIT.json`` records the unit's counts: the commit that says it is done. A run's counts are the sum of
these records, one per unit, whoever wrote them and however often.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from edgeward.core.errors import InputError, require
from edgeward.runtime.services.batch.scorers import _csv_convert, _read_errors, header_names, split

HEADER_BYTES = 1 << 20  # the longest header line read
SAMPLE_BYTES = 1 << 20  # read to estimate a CSV row's size
MIN_UNIT_BYTES = 1 << 16
RECORD_BYTES = 1 << 16  # the largest unit record read back (a record is about 200 bytes)


@dataclass(frozen=True)
class Unit:
    number: int  # its place in the input: its parts and its record are named after it
    path: str  # the file ("" for images: the source's files[start:end])
    start: int  # CSV: the first byte (of a line); Parquet: the first row group
    end: int  # CSV: the byte after its last line; Parquet: the row group after its last


@dataclass(frozen=True)
class Counts:
    rows: int = 0
    scored: int = 0
    rejected: int = 0
    flagged: int = 0

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(*(a + b for a, b in zip(asdict(self).values(), asdict(other).values())))


def plan(source, rows: int) -> list[Unit]:
    """The units of ``source`` (a ``scorers.Source``), about ``rows`` rows each, in input order."""
    units: list[Unit] = []
    if source.kind == "images":
        for start in range(0, len(source.files), rows):
            units.append(Unit(len(units), "", start, min(start + rows, len(source.files))))
        return units
    for path in source.files:
        ranges = _row_groups(path, rows) if source.kind == ".parquet" else _line_ranges(path, rows)
        units += [Unit(len(units) + i, path, a, b) for i, (a, b) in enumerate(ranges)]
    return units


def _row_groups(path: str, rows: int) -> list[tuple[int, int]]:
    pq = require("pyarrow.parquet", "ray")
    with _read_errors(path, ".parquet"):
        meta = pq.ParquetFile(path).metadata
    ranges, start, held = [], 0, 0
    for group in range(meta.num_row_groups):
        held += meta.row_group(group).num_rows
        if held >= rows:
            ranges.append((start, group + 1))
            start, held = group + 1, 0
    if start < meta.num_row_groups:
        ranges.append((start, meta.num_row_groups))
    return ranges


def _line_ranges(path: str, rows: int) -> list[tuple[int, int]]:
    """Byte ranges of whole lines after the header, of about ``rows`` lines each (the size of a line estimated from
    the file's first megabyte)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        first = _header(f, path)
        sample = f.read(SAMPLE_BYTES)
        per_row = max(1.0, len(sample) / max(1, sample.count(b"\n")))
        step = max(MIN_UNIT_BYTES, int(per_row * rows))
        ranges, start = [], len(first)
        while start < size:
            f.seek(min(start + step, size) - 1)
            f.readline()  # to the end of the line the step ends in
            end = min(f.tell(), size)
            ranges.append((start, end))
            start = end
    return ranges


def _header(f, path: str) -> bytes:
    first = f.readline(HEADER_BYTES)
    if len(first) == HEADER_BYTES and not first.endswith(b"\n"):
        raise InputError(f"{path} line 1: expected a header line of column names, got a line over {HEADER_BYTES:,} bytes")
    return first


class Unreadable(InputError):
    """An input file that cannot be read now (gone, its disk or share away): the units scored are kept, to resume
    from once it can be read again."""


def _open(path: str):
    try:
        return open(path, "rb")
    except OSError as exc:
        raise Unreadable(f"{path}: cannot be read now ({exc.strerror or exc})") from None


def read(source, unit: Unit, rows: int):
    """pandas frames of at most ``rows`` rows (or image paths) of ``unit``, read with Arrow."""
    import pandas as pd

    if source.kind == "images":
        for start in range(unit.start, unit.end, rows):
            yield pd.DataFrame({"path": source.files[start:min(start + rows, unit.end)]})
        return
    pa = require("pyarrow", "ray")
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    # Python's own SIGINT/SIGTERM handler, not Arrow's cancelling one, acts on a signal: after the unit's short read
    # (docs/decisions.md, "Batch scoring")
    pa.enable_signal_handlers(False)
    ragged: list = []  # the first row whose columns do not match the header (Arrow knows its line)
    if source.kind == ".parquet":
        with _open(unit.path) as f, _read_errors(unit.path, source.kind):
            for batch in pq.ParquetFile(f).iter_batches(batch_size=rows, row_groups=range(unit.start, unit.end)):
                yield pa.Table.from_batches([batch]).to_pandas()
        return
    with _open(unit.path) as f:
        try:
            header = _header(f, unit.path)
            f.seek(unit.start)
            data = f.read(unit.end - unit.start)
        except OSError as exc:
            raise Unreadable(f"{unit.path}: cannot be read now ({exc.strerror or exc})") from None
    with _read_errors(unit.path, source.kind, ragged):
        table = pacsv.read_csv(pa.py_buffer(header + data), read_options=pacsv.ReadOptions(block_size=1 << 24),
                               parse_options=pacsv.ParseOptions(invalid_row_handler=lambda row: ragged.append(row) or "error"),
                               convert_options=_csv_convert(pacsv, header_names(header, unit.path), source.types))
    frame = table.to_pandas()
    for start in range(0, len(frame), rows):
        yield frame.iloc[start:start + rows]


def score(scorer, source, unit: Unit, out: Path, rows: int) -> Counts:
    """Read, score and write ``unit`` into ``out`` (its parts, then its record); its counts."""
    counts = Counts()
    for k, frame in enumerate(read(source, unit, rows)):
        scored, rejects = split(scorer(frame), scorer.result_columns)
        for sub, part in (("scores", scored), ("rejects", rejects)):
            if len(part):
                _replace(out / sub / f"part-{unit.number:06d}-{k:04d}.parquet",
                         lambda tmp, part=part: part.to_parquet(tmp, index=False))
        counts += Counts(len(frame), len(scored), len(rejects), int(scored["flag"].sum()))
    _replace(out / "units" / f"{unit.number:06d}.json",
             lambda tmp: Path(tmp).write_text(json.dumps({"unit": asdict(unit), "counts": asdict(counts)})))
    return counts


def _replace(path: Path, write) -> None:
    """``write(tmp)`` to a hidden name beside ``path`` (readers of the folder skip it), then renamed to ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    os.replace(tmp, path)


def done(out: Path, units: list[Unit]) -> dict[int, Counts]:
    """The units of ``units`` already recorded in ``out`` (a run resumed), with their counts."""
    found = {}
    for unit in units:
        record = out / "units" / f"{unit.number:06d}.json"
        try:
            if record.stat().st_size > RECORD_BYTES:
                continue
            doc = json.loads(record.read_text())
            counts = doc["counts"] if isinstance(doc, dict) and doc.get("unit") == asdict(unit) else None
            if isinstance(counts, dict) and all(type(counts.get(k)) is int for k in asdict(Counts())):
                found[unit.number] = Counts(**{k: counts[k] for k in asdict(Counts())})
        except (OSError, ValueError, RecursionError):  # not there, or not one of ours: scored again
            continue
    return found


def prepare(out: Path) -> None:
    for sub in ("scores", "rejects", "units"):
        (out / sub).mkdir(parents=True, exist_ok=True)


def tidy(out: Path) -> None:
    """Hidden files a stopped writer left."""
    for sub in ("scores", "rejects", "units"):
        for tmp in (out / sub).glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
