"""The two engines: this process, and Ray Data (a pool of scorer actors)."""

from __future__ import annotations

import logging
from pathlib import Path

from edgeward.core.errors import InputError, require
from edgeward.runtime.services.batch.scorers import split


def run_local(model, source, out: Path, options, progress: bool):
    from tqdm import tqdm

    scorer = source.scorer(model, options.threshold)
    writer = _Writer(out)
    counts = [0, 0, 0, 0]
    with tqdm(desc="scoring", unit="row", disable=not progress, leave=False) as bar:
        for frame in source.frames(options.batch_rows):
            scored, rejects = split(scorer(frame), scorer.result_columns)
            writer.write(scored, rejects)
            counts = [counts[0] + len(frame), counts[1] + len(scored), counts[2] + len(rejects),
                      counts[3] + int(scored["flag"].sum())]
            bar.update(len(frame))
    return tuple(counts)


class _Writer:
    def __init__(self, out: Path):
        self.out, self.part = out, 0
        for sub in ("scores", "rejects"):
            (out / sub).mkdir(parents=True, exist_ok=True)

    def write(self, scored, rejects) -> None:
        for sub, frame in (("scores", scored), ("rejects", rejects)):
            if len(frame):
                frame.to_parquet(self.out / sub / f"part-{self.part:05d}.parquet", index=False)
        self.part += 1


def run_ray(model, source, out: Path, options, progress: bool):
    ray = require("ray", "ray")
    if options.address:  # said at once, also where this process has a Ray instance already
        reachable(options.address)
    if not ray.is_initialized():  # a local instance: a CPU per actor, and one to read and write
        ray.init(address=options.address, num_cpus=None if options.address else options.workers + 1,
                 include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = progress
    if not progress:  # Ray Data logs its progress at INFO to the terminal otherwise
        for name in ("ray", "ray.data"):
            logging.getLogger(name).setLevel(logging.WARNING)
    model = str(Path(model).resolve())
    threshold, make = options.threshold, source.scorer
    columns = make(model, threshold).result_columns

    class Actor:
        def __init__(self):
            self.score = make(model, threshold)

        def __call__(self, frame):
            return self.score(frame)

    try:
        both = source.dataset(ray).map_batches(Actor, batch_format="pandas", batch_size=options.batch_rows,
                                               concurrency=options.workers, num_cpus=1).materialize()
    except ray.exceptions.RayError as exc:  # a worker's error (a file that fails to read, say): its own first line
        cause = exc.cause if getattr(exc, "cause", None) is not None else exc
        first = next((line for line in str(cause).splitlines() if line.strip()), type(cause).__name__)
        raise InputError(f"batch on Ray: {first.strip()[:300]}") from None
    scored, rejects = both.filter(expr="reason == ''"), both.filter(expr="reason != ''")
    counts = (both.count(), scored.count(), rejects.count(), scored.filter(expr="flag").count())
    for sub in ("scores", "rejects"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    scored.drop_columns(["field", "reason"]).write_parquet(str(out / "scores"))
    rejects.drop_columns(list(columns)).write_parquet(str(out / "rejects"))
    return counts


def reachable(address: str, seconds: float = 3.0) -> None:
    """An InputError unless something answers at ``address`` (``host:port`` or ``ray://host:port``; ``auto`` is Ray's
    to find): with nothing there, Ray would wait minutes, then fail with its own traceback."""
    import socket

    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"--address {address}: expected host:port, ray://host:port or auto")
    try:
        socket.create_connection((host, int(port)), timeout=seconds).close()
    except OSError as exc:
        raise InputError(f"--address {address}: no Ray cluster answers there ({exc.strerror or exc})") from None
