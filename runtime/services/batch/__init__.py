"""Batch scoring of files: CSV or Parquet rows (fraud) or image folders (detection, classification) in, Parquet
out, every row or image either scored or rejected with its reason. ``engine="local"`` runs in this process;
``engine="ray"`` runs on Ray Data (the ``ray`` extra): Ray reads and splits the input and ``map_batches`` runs a pool
of actors, each holding one scorer loaded once. Both engines read with Arrow and score with the same function, so
the same rows give the same bytes.

    OUT/scores/*.parquet    the input's own columns (ids, labels; an image's path) and the results (``score`` and
                            ``flag``; ``detections`` and ``count``; ``label``, ``score`` and ``top``)
    OUT/rejects/*.parquet   the same columns, ``field`` and ``reason``
    OUT/summary.json        rows in = rows scored + rows rejected
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path

from edgeward.core.config import at_least, option
from edgeward.core.errors import InputError


class Engine(str, Enum):
    LOCAL = "local"
    RAY = "ray"


@dataclass(frozen=True)
class BatchOptions:
    engine: Engine = option(Engine.LOCAL, "local (this process) or ray (Ray Data: a pool of scorer actors)")
    address: str | None = option(None, "ray: the cluster to join (auto, ray://head:10001); default: a local instance")
    workers: int = option(1, "ray: scorer actors (each holds one model, one thread)")
    batch_rows: int = option(65536, "rows per model call")
    threshold: float | None = option(None, "the decision threshold (default: the model's)")

    def __post_init__(self):
        if not isinstance(self.engine, Engine):
            object.__setattr__(self, "engine", Engine(self.engine))
        at_least(self, 1, "workers", "batch_rows")


@dataclass(frozen=True)
class BatchSummary:
    rows: int
    scored: int
    rejected: int
    flagged: int
    seconds: float
    engine: str

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def run_batch(model: str, pattern: str, out: str | os.PathLike, options: BatchOptions = BatchOptions(),
              progress: bool = False) -> BatchSummary:
    """Score every row (or image) of the input into ``out`` (scores, rejects, summary.json)."""
    from edgeward.runtime.services.batch.engines import run_local, run_ray
    from edgeward.runtime.services.batch.scorers import source_for
    from edgeward.runtime.engine.catalogue import locate

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--output {out}: a file; expected a folder to write scores/ and rejects/ into")
    if (out / "scores").exists() and any((out / "scores").iterdir()):
        raise InputError(f"{out}: holds scores already; choose a new output folder")
    model = str(locate(model))  # a released name, once, here: Ray's workers run in another folder
    source = source_for(model, pattern)
    started = time.perf_counter()
    run = run_ray if options.engine is Engine.RAY else run_local
    # written beside the output and moved into it once complete: a run that fails leaves nothing half-written
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        rows, scored, rejected, flagged = run(model, source, partial, options, progress)
        if rows != scored + rejected:  # every row is accounted for, or the run says it is not
            raise InputError(f"batch lost rows: {rows} in, {scored} scored, {rejected} rejected")
    except Exception:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    summary = BatchSummary(rows, scored, rejected, flagged, time.perf_counter() - started, options.engine.value)
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("scores", "rejects"):
        shutil.rmtree(out / sub, ignore_errors=True)  # empty, if there (checked above)
        (partial / sub).mkdir(parents=True, exist_ok=True)
        (partial / sub).rename(out / sub)
    shutil.rmtree(partial)
    (out / "summary.json").write_text(json.dumps({**asdict(summary), "input": source.files, "model": str(model)}, indent=2))
    return summary
