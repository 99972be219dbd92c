"""Score a CSV file of transactions in chunks: every input row lands in the scores or the rejects file.

Scores file: ``line`` (the row's line in the input), the input's non-feature columns (ids, labels,
timestamps, passed through), ``score`` and ``flag``. Rejects file: ``line``, ``field`` and ``reason``
for each row with a missing, non-numeric, non-finite or float32-overflowing value, the wrong number of fields,
an unclosed quote or bytes that are not UTF-8. One bad row is one reject: a row is one line (a quoted field
does not run across lines), so no row can swallow the rows after it.

Both files are written under temporary names and renamed when the input is read to its end: a file named
``out`` is always complete. Interrupted (SIGINT, SIGTERM), the rows scored so far stay in the ``.partial``
files; a write that fails (a full disk) leaves nothing behind. A passed-through value that a spreadsheet would
run as a formula (``=``, ``+``, ``-``, ``@``, and not a number) is written with a leading ``'``.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edgeward.core.errors import DataError, InputError, Interrupted, OutputError
from edgeward.core.files import open_for_reading

if TYPE_CHECKING:  # the scorer is given; this module needs no more of it
    from edgeward.runtime.tasks.tabular import TabularClassifier

FLOAT32_MAX = float(np.finfo(np.float32).max)
FORMULA = ("=", "+", "-", "@", "\t", "\r")
BLOCK_BYTES = 1 << 22  # read at a time: about 30,000 transactions
CHUNK_ROWS = 20_000  # rows scored at a time on the row-by-row path
SPLIT_LINES = 256  # a block with a bad line is halved down to this many lines, then read row by row


@dataclass(frozen=True)
class ScoreSummary:
    rows: int
    scored: int
    rejected: int
    flagged: int
    scores_path: Path
    rejects_path: Path


def score_csv(
    scorer: TabularClassifier, input_path: str | os.PathLike, out_path: str | os.PathLike,
    rejects_path: str | os.PathLike | None = None, progress: bool = False, block_bytes: int = BLOCK_BYTES,
) -> ScoreSummary:
    input_path, out_path = Path(input_path), Path(out_path)
    rejects_path = Path(rejects_path) if rejects_path else out_path.with_name(out_path.stem + ".rejects.csv")
    if not input_path.exists():
        raise InputError(f"{input_path}: input file not found")
    if input_path.resolve() in (out_path.resolve(), rejects_path.resolve()):
        raise InputError(f"{input_path}: the output files must differ from the input")
    if out_path.resolve() == rejects_path.resolve():
        raise InputError(f"{out_path}: the scores and the rejects must go to different files")
    from tqdm import tqdm

    tmp_out, tmp_rej = out_path.with_name(out_path.name + ".partial"), rejects_path.with_name(rejects_path.name + ".partial")
    counts = {"rows": 0, "scored": 0, "rejected": 0, "flagged": 0}
    keep_partial = False
    try:
        with open_for_reading(input_path) as src, open(tmp_out, "w", newline="", encoding="utf-8") as out, \
                open(tmp_rej, "w", newline="", encoding="utf-8") as rej, \
                tqdm(total=input_path.stat().st_size, unit="B", unit_scale=True, desc="scoring",
                     disable=not progress, leave=False) as bar:
            _score(scorer, input_path, src, out, rej, bar, block_bytes, counts)
        os.replace(tmp_out, out_path)
        os.replace(tmp_rej, rejects_path)
    except KeyboardInterrupt as exc:  # SIGINT, or SIGTERM through the CLI: what was scored stays, named partial
        keep_partial = True
        raise Interrupted(f"{input_path}: interrupted after {counts['scored']:,} rows scored and {counts['rejected']:,} "
                          f"rejected; they are in {tmp_out} and {tmp_rej} (partial: {out_path} was not written)",
                          getattr(exc, "exit_code", 130)) from None
    except OSError as exc:  # a full disk, a read-only folder: no half-written file is left behind
        if exc.filename and Path(exc.filename) == input_path:
            raise InputError(f"{input_path}: cannot be read: {exc.strerror}") from None
        raise OutputError(f"{out_path}: cannot write the scores: {exc.strerror or exc} (after {counts['rows']:,} rows; "
                          "nothing was left behind)") from None
    finally:
        if not keep_partial:
            for tmp in (tmp_out, tmp_rej):
                tmp.unlink(missing_ok=True)
    return ScoreSummary(counts["rows"], counts["scored"], counts["rejected"], counts["flagged"], out_path, rejects_path)


def _score(scorer, input_path: Path, src, out, rej, bar, block_bytes: int, counts: dict) -> None:
    features = list(scorer.features)
    first = src.readline()
    header = _header(input_path, first, features)
    bar.update(len(first))
    idx = [header.index(f) for f in features]
    keep = [i for i, h in enumerate(header) if h not in features]
    out.write(_csv_line(["line", *[header[i] for i in keep], "score", "flag"]))
    rej.write("line,field,reason\n")
    chunk = Chunk(scorer, header, idx, keep)
    carry, first = b"", 2
    while True:  # blocks of whole lines: the clean ones are parsed by Arrow without a Python loop over lines
        block = src.read(block_bytes)
        data = carry + block
        cut = data.rfind(b"\n") + 1 if block else len(data)
        body, carry = data[:cut], data[cut:]
        if body:
            bar.update(len(body))
            _flush(chunk, body if body.endswith(b"\n") else body + b"\n", first, out, rej, counts)
            first += body.count(b"\n") + (not body.endswith(b"\n"))
        if not block:
            return


def _flush(chunk: "Chunk", body: bytes, first: int, out, rej, counts: dict) -> None:
    """Score a block of lines: all at once with Arrow when every line is clean. A block with a bad line is halved
    until each part is clean (Arrow again) or small (row by row): one bad row sends a few hundred rows down the
    slow path, not the whole block."""
    if chunk.fast(body, first, out, counts):
        return
    mid = len(body) // 2
    cut = body.find(b"\n", mid) + 1
    if cut >= len(body):  # the newline after the middle ends the block: split before the middle instead
        cut = body.rfind(b"\n", 0, mid) + 1
    if body.count(b"\n") > SPLIT_LINES and 0 < cut < len(body):
        _flush(chunk, body[:cut], first, out, rej, counts)
        _flush(chunk, body[cut:], first + body.count(b"\n", 0, cut), out, rej, counts)
        return
    for number, raw in enumerate(body.split(b"\n")[:-1], start=first):
        chunk.add(number, raw)
        if len(chunk) >= CHUNK_ROWS:
            chunk.flush(out, rej, counts)
    chunk.flush(out, rej, counts)


def _header(path: Path, raw: bytes, features: list[str]) -> list[str]:
    if not raw:
        raise DataError(path, 1, None, "a header row", "an empty file")
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")  # a byte-order mark, as spreadsheets write it
    except UnicodeDecodeError as exc:
        raise DataError(path, 1, None, "a UTF-8 header row", f"byte 0x{raw[exc.start]:02x} at {exc.start}") from None
    header = [h.strip() for h in next(csv.reader([text]))]
    seen = set()
    for name in header:
        if name in seen:
            raise DataError(path, 1, name, "unique column names", f"{name!r} twice")
        seen.add(name)
    missing = [f for f in features if f not in header]
    if missing:
        raise DataError(path, 1, missing[0], f"a column for every model feature ({len(features)})",
                        f"a header without {', '.join(missing)}")
    return header


class Chunk:
    """Rows waiting to be scored together, in input order: each parsed into its fields, or already rejected
    with its (field, reason)."""

    def __init__(self, scorer, header: list[str], idx: list[int], keep: list[int]):
        self.scorer, self.header, self.idx, self.keep, self.width = scorer, header, idx, keep, len(header)
        self.lines: list[int] = []
        self.rows: list[list[str] | tuple[str, str]] = []

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, number: int, raw: bytes) -> None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self._keep(number, ("", f"expected UTF-8 text, got byte 0x{raw[exc.start]:02x} at column {exc.start + 1}"))
            return
        text = text.rstrip("\r\n")
        if not text.strip():  # a blank line is not a row
            return
        if '"' in text:
            if text.count('"') % 2:
                self._keep(number, ("", "expected closed quotes, got an unclosed quote"))
                return
            row = next(csv.reader([text]))
        else:
            row = text.split(",")
        self._keep(number, row if len(row) == self.width else ("", f"expected {self.width} fields, got {len(row)}"))

    def fast(self, blob: bytes, first: int, out, counts: dict) -> bool:
        """Score a block of clean lines with Arrow: UTF-8, no quotes, no blank line, the right number of fields, every
        feature a finite float32, no formula-like value to escape. Returns False (having written nothing) if one is
        not, or if pyarrow is not installed (the base runtime does not need it). ``blob`` ends with a newline."""
        try:
            import pyarrow as pa
            import pyarrow.compute as pc
            import pyarrow.csv as pacsv
        except ImportError:
            return False

        rows = blob.count(b"\n")
        if b'"' in blob or b"\n\n" in blob or b"\n\r\n" in blob or blob.startswith((b"\n", b"\r\n")):
            return False
        try:
            blob.decode("utf-8")
        except UnicodeDecodeError:
            return False
        invalid = []
        read = pacsv.ReadOptions(column_names=self.header, use_threads=False)
        parse = pacsv.ParseOptions(invalid_row_handler=lambda row: invalid.append(row) or "skip")
        convert = pacsv.ConvertOptions(column_types={h: pa.string() for h in self.header}, strings_can_be_null=False)
        try:
            table = pacsv.read_csv(pa.BufferReader(blob), read_options=read, parse_options=parse, convert_options=convert)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return False
        if invalid or table.num_rows != rows:
            return False
        try:
            x = np.column_stack([pc.cast(pc.utf8_trim_whitespace(table.column(i)), pa.float64()).to_numpy() for i in self.idx])
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return False
        if not np.isfinite(x).all() or (np.abs(x) > FLOAT32_MAX).any():
            return False
        kept = [table.column(i) for i in self.keep]
        if any(pc.any(pc.starts_with(c, f)).as_py() for c in kept for f in FORMULA):
            return False
        scores = self.scorer.model.run({self.scorer.input_name: x.astype(np.float32)}, validate=False)
        scores = scores[self.scorer.model.output_names[0]].reshape(-1)
        flags = scores >= self.scorer.threshold
        lines = pa.array(np.arange(first, first + rows)).cast(pa.string())
        columns = [lines, *kept, pa.array([f"{v:.6f}" for v in scores.tolist()]),
                   pa.array(flags.astype(np.int8)).cast(pa.string())]
        joined = pc.binary_join_element_wise(*columns, ",")
        out.write("\n".join(joined.to_pylist()) + "\n")
        counts["rows"] += rows
        counts["scored"] += rows
        counts["flagged"] += int(flags.sum())
        return True

    def _keep(self, number: int, row) -> None:
        self.lines.append(number)
        self.rows.append(row)

    def flush(self, out, rej, counts: dict) -> None:
        if not self.rows:
            return
        n = len(self.rows)
        values = np.empty((n, len(self.idx)), dtype=np.float64)
        bad: dict[int, tuple[str, str]] = {r: row for r, row in enumerate(self.rows) if isinstance(row, tuple)}
        parsed = [row if isinstance(row, list) else [""] * self.width for row in self.rows]
        for j, i in enumerate(self.idx):
            column = [row[i] for row in parsed]
            try:
                values[:, j] = np.asarray(column, dtype=np.str_).astype(np.float64)
            except ValueError:  # a value that is no number somewhere in this column: row by row
                for r, v in enumerate(column):
                    try:
                        values[r, j] = float(v)
                    except ValueError:
                        values[r, j] = np.nan
                        given = v.strip()
                        bad.setdefault(r, (self.header[i], "missing value" if given == "" else
                                           f"expected a number, got {given!r}"))
            wrong = np.flatnonzero(~np.isfinite(values[:, j]) | (np.abs(values[:, j]) > FLOAT32_MAX))
            for r in wrong:
                if r not in bad:
                    given = column[r].strip()
                    what = "a finite number" if not np.isfinite(values[r, j]) or not given else "a number within float32"
                    bad[r] = (self.header[i], f"expected {what}, got {given!r}")
        good = np.ones(n, dtype=bool)
        good[list(bad)] = False
        scores = np.empty(0, dtype=np.float32)
        if good.any():
            x = values[good].astype(np.float32)
            scores = self.scorer.model.run({self.scorer.input_name: x}, validate=False)[self.scorer.model.output_names[0]]
            scores = scores.reshape(-1)
        flags = scores >= self.scorer.threshold
        buffer = io.StringIO()
        k = 0
        for r in range(n):
            if r in bad:
                rej.write(_csv_line([self.lines[r], *bad[r]]))
                continue
            row = parsed[r]
            buffer.write(_csv_line([self.lines[r], *[_cell(row[i]) for i in self.keep], f"{scores[k]:.6f}",
                                    int(flags[k])]))
            k += 1
        out.write(buffer.getvalue())
        counts["rows"] += n
        counts["scored"] += int(good.sum())
        counts["rejected"] += len(bad)
        counts["flagged"] += int(flags.sum())
        self.lines, self.rows = [], []


def _cell(value: str) -> str:
    """A passed-through value, with a leading ``'`` if a spreadsheet would run it as a formula."""
    if value.startswith(FORMULA):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


def _csv_line(fields: list) -> str:
    """One CSV line; fields quoted only where they need it (as the csv module writes them)."""
    text = [str(f) for f in fields]
    if any(("," in t or '"' in t or "\n" in t or "\r" in t) for t in text):
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(text)
        return buffer.getvalue()
    return ",".join(text) + "\n"
