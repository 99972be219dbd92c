"""Batch scoring of files: CSV or Parquet rows or image folders in (for a model whose runtime takes rows or images),
Parquet out, every row or image either scored or rejected with its reason. The input is cut into units (``units``)
that are read, scored and written on their own: ``engine="local"`` scores them in this process, ``engine="ray"``
on a pool of Ray actors (the ``ray`` extra), each holding one scorer, on one node or a cluster. Both engines score
a unit with the same function, so the same rows give the same bytes; a unit scored twice counts once.

    OUT/scores/*.parquet    the input's own columns (ids, labels; an image's path) and the results (the runtime's
                            ``result_columns``, ``flag`` among them)
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
from edgeward.core.errors import InputError, Interrupted

RECORD_BYTES = 1 << 26  # the largest plan.json read back from an output folder

class Engine(str, Enum):
    LOCAL = "local"
    RAY = "ray"


@dataclass(frozen=True)
class BatchOptions:
    engine: Engine = option(Engine.LOCAL, "local (this process) or ray (a pool of Ray scorer actors, on one node or a cluster)")
    address: str | None = option(None, "ray: the cluster to join (HOST:PORT of its head, auto, ray://head:10001); "
                                       "default: a local instance. The output folder must be one every node can write")
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
              progress: bool = False, log=lambda line: None) -> BatchSummary:
    """Score every row (or image) of the input into ``out`` (scores, rejects, summary.json).

    The work goes to ``OUT.partial`` and is moved into ``out`` once complete. Interrupted (SIGINT, SIGTERM), or an
    input file gone mid-run, the units scored stay there and the same call resumes from them; any other failure
    (a damaged input, a lost cluster) leaves nothing behind."""
    from edgeward.runtime.engine.catalogue import locate
    from edgeward.runtime.services.batch.engines import run_local, run_ray
    from edgeward.runtime.services.batch.units import Counts, Unreadable, done, plan, tidy
    from edgeward.runtime.services.batch.scorers import source_for

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--output {out}: a file; expected a folder to write scores/ and rejects/ into")
    if (out / "scores").exists() and any((out / "scores").iterdir()):
        raise InputError(f"{out}: holds scores already; choose a new output folder")
    model = str(locate(model))  # a released name, once, here: Ray's workers run in another folder
    source = source_for(model, pattern)
    units = plan(source, options.batch_rows)
    partial = out.with_name(out.name + ".partial")
    finished = _resumed(partial, _plan(model, source, units, options), units)
    if finished:
        log(f"resuming {partial}: {len(finished)} of {len(units)} units already scored")
    started = time.perf_counter()
    run = run_ray if options.engine is Engine.RAY else run_local
    try:
        counts = sum(finished.values(), Counts())
        counts += run(model, source, [u for u in units if u.number not in finished], partial, options, progress)
        if counts.rows != counts.scored + counts.rejected:  # every row is accounted for, or the run says it is not
            raise InputError(f"batch lost rows: {counts.rows} in, {counts.scored} scored, {counts.rejected} rejected")
    except KeyboardInterrupt as exc:  # SIGINT, or SIGTERM through the CLI: the units scored stay, to resume from
        tidy(partial)
        kept = len(done(partial, units))
        raise Interrupted(f"{out}: interrupted with {kept} of {len(units)} units scored, kept in {partial} (partial: "
                          f"{out} was not written); the same command resumes from them", getattr(exc, "exit_code", 130)) from None
    except Unreadable as exc:  # a file gone mid-run: what was scored stays, to resume once it is back
        tidy(partial)
        kept = len(done(partial, units))
        raise Unreadable(f"{exc}; {kept} of {len(units)} units scored are kept in {partial} ({out} was not written): "
                         "the same command resumes from them once the file can be read") from None
    except Exception:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    summary = BatchSummary(counts.rows, counts.scored, counts.rejected, counts.flagged, time.perf_counter() - started,
                           options.engine.value)
    tidy(partial)
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("scores", "rejects"):
        shutil.rmtree(out / sub, ignore_errors=True)  # empty, if there (checked above)
        (partial / sub).rename(out / sub)
    shutil.rmtree(partial)
    (out / "summary.json").write_text(json.dumps({**asdict(summary), "input": source.files, "model": str(model),
                                                  "units": len(units)}, indent=2))
    return summary


def _plan(model: str, source, units, options: BatchOptions) -> dict:
    """What a run's output depends on: the model, the input files as they are now, and the options."""
    def stamp(path: str) -> list:
        st = os.stat(path)
        return [str(Path(path).resolve()), st.st_size, st.st_mtime_ns]

    return {"model": stamp(model), "files": [stamp(f) for f in source.files], "kind": source.kind,
            "types": {k: str(v) for k, v in source.types.items()}, "batch_rows": options.batch_rows,
            "threshold": options.threshold, "units": len(units)}


def _resumed(partial: Path, plan: dict, units) -> dict:
    """The units already scored in ``partial`` by an interrupted run of the same plan; otherwise ``partial`` is
    made afresh (and nothing is resumed)."""
    from edgeward.runtime.services.batch.units import done, prepare

    record = partial / "plan.json"
    try:
        same = record.stat().st_size <= RECORD_BYTES and json.loads(record.read_text()) == plan
    except (OSError, ValueError):
        same = False
    if same:
        prepare(partial)
        return done(partial, units)
    shutil.rmtree(partial, ignore_errors=True)
    prepare(partial)
    record.write_text(json.dumps(plan))
    return {}
