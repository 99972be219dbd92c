"""Score a CSV file of transactions in chunks: every input row lands in the scores or the rejects file.

Scores file: ``line`` (the row's line in the input), the input's non-feature columns (ids, labels,
timestamps, passed through), ``score`` and ``flag``. Rejects file: ``line``, ``field`` and ``reason``
for each row with a missing or non-numeric value or the wrong number of fields.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeward.core.errors import DataError, InputError
from edgeward.runtime.fraud import FraudScorer


@dataclass(frozen=True)
class ScoreSummary:
    rows: int
    scored: int
    rejected: int
    flagged: int
    scores_path: Path
    rejects_path: Path


def score_csv(
    scorer: FraudScorer, input_path: str | os.PathLike, out_path: str | os.PathLike,
    rejects_path: str | os.PathLike | None = None, chunk_rows: int = 20_000, progress: bool = False,
) -> ScoreSummary:
    input_path, out_path = Path(input_path), Path(out_path)
    rejects_path = Path(rejects_path) if rejects_path else out_path.with_name(out_path.stem + ".rejects.csv")
    if not input_path.exists():
        raise InputError(f"{input_path}: input file not found")
    if input_path.resolve() in (out_path.resolve(), rejects_path.resolve()):
        raise InputError(f"{input_path}: the output files must differ from the input")
    features = list(scorer.features)
    counts = {"rows": 0, "scored": 0, "rejected": 0, "flagged": 0}
    from tqdm import tqdm

    with open(input_path, newline="") as src, open(out_path, "w", newline="") as out, \
            open(rejects_path, "w", newline="") as rej, \
            tqdm(total=input_path.stat().st_size, unit="B", unit_scale=True, desc="scoring",
                 disable=not progress, leave=False) as bar:
        reader = csv.reader(_counting(src, bar))
        header = next(reader, None)
        if header is None:
            raise DataError(input_path, 1, None, "a header row", "an empty file")
        header = [h.strip() for h in header]
        missing = [f for f in features if f not in header]
        if missing:
            raise DataError(input_path, 1, missing[0], f"a column for every model feature ({len(features)})",
                            f"a header without {', '.join(missing)}")
        idx = [header.index(f) for f in features]
        keep = [i for i, h in enumerate(header) if h not in features]
        scores_w, rejects_w = csv.writer(out), csv.writer(rej)
        scores_w.writerow(["line", *[header[i] for i in keep], "score", "flag"])
        rejects_w.writerow(["line", "field", "reason"])
        chunk: list[tuple[int, list[str]]] = []
        for row in reader:
            if not row:  # a blank line is not a row
                continue
            chunk.append((reader.line_num, row))
            if len(chunk) >= chunk_rows:
                _flush(scorer, chunk, idx, keep, header, scores_w, rejects_w, counts)
                chunk = []
        _flush(scorer, chunk, idx, keep, header, scores_w, rejects_w, counts)
    return ScoreSummary(counts["rows"], counts["scored"], counts["rejected"], counts["flagged"], out_path, rejects_path)


def _flush(scorer, chunk, idx, keep, header, scores_w, rejects_w, counts) -> None:
    if not chunk:
        return
    counts["rows"] += len(chunk)
    width = len(header)
    good_lines, good_rows, values = [], [], []
    for line, row in chunk:
        reason = None
        if len(row) != width:
            reason = ("", f"expected {width} fields, got {len(row)}")
        else:
            picked = [row[i].strip() for i in idx]
            try:
                nums = [float(v) for v in picked]
            except ValueError:
                j = next(k for k, v in enumerate(picked) if not _is_number(v))
                given = picked[j]
                reason = (header[idx[j]], "missing value" if given == "" else f"expected a number, got {given!r}")
            else:
                bad = [k for k, v in enumerate(nums) if v != v or v in (float("inf"), float("-inf"))]
                if bad:
                    reason = (header[idx[bad[0]]], f"expected a finite number, got {picked[bad[0]]!r}")
        if reason is None:
            good_lines.append(line)
            good_rows.append(row)
            values.append(nums)
        else:
            rejects_w.writerow([line, *reason])
            counts["rejected"] += 1
    if not values:
        return
    x = np.asarray(values, dtype=np.float32)
    scores = scorer.score(x)
    flags = scores >= scorer.threshold
    for line, row, s, f in zip(good_lines, good_rows, scores.tolist(), flags.tolist()):
        scores_w.writerow([line, *[row[i] for i in keep], f"{s:.6f}", int(f)])
    counts["scored"] += len(values)
    counts["flagged"] += int(flags.sum())


def _counting(lines, bar):
    """Yield the file's lines, advancing the progress bar by their size."""
    for line in lines:
        bar.update(len(line))
        yield line


def _is_number(v: str) -> bool:
    try:
        float(v)
        return True
    except ValueError:
        return False
