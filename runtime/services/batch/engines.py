"""The two engines, both scoring ``units`` with ``units.score``: this process, one unit after another, and a pool
of Ray actors on a cluster of one node or many.

On Ray, an actor whose process or node dies is started again (on another node where its own is gone), at most
``RESTARTS`` times, and the units it held are sent to it again until it has them done or is lost for good: a unit
scored twice writes the same files and is counted once, from the one answer the driver takes for it. An error of
the input (a damaged file) is not retried: it ends the run in one line.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from pathlib import Path

from edgeward.core.errors import DeviceError, InputError, require
from edgeward.core.waiting import POLL_S, DeferredSignals
from edgeward.runtime.services.batch.units import Counts, Unreadable, score

RESTARTS = 4  # times an actor is started again after its process or its node died
# a unit held by an actor that died is sent again for as long as the actor may be started again: while it starts,
# it answers "unavailable" at once, and a bounded count of tries would be spent in that second (RESTARTS bounds it)
RETRIES = -1
IN_FLIGHT = 2  # units sent to an actor at once: the next is there when one is done


def run_local(model, source, units, out: Path, options, progress: bool) -> Counts:
    from tqdm import tqdm

    scorer = source.scorer(model, options.threshold)
    total = Counts()
    with tqdm(total=len(units), desc="scoring", unit="unit", disable=not progress, leave=False) as bar, \
            DeferredSignals() as signals:  # a signal acts between units (a unit is a fraction of a second)
        for unit in units:
            total += score(scorer, source, unit, out, options.batch_rows)
            bar.set_postfix(rows=f"{total.rows:,}")
            bar.update()
            signals.check()
    return total


class UnitScorer:
    """A Ray actor: one scorer (one model, one thread) scoring units into the run's folder."""

    def __init__(self, model: str, threshold, source, out: str, rows: int):
        self.scorer, self.source, self.out, self.rows = source.scorer(model, threshold), source, Path(out), rows

    def score(self, unit) -> Counts:
        return score(self.scorer, self.source, unit, self.out, self.rows)


def run_ray(model, source, units, out: Path, options, progress: bool) -> Counts:
    from tqdm import tqdm

    ray = connect(options)
    actor = ray.remote(num_cpus=1, max_restarts=RESTARTS, max_task_retries=RETRIES)(UnitScorer)
    pool = [actor.remote(str(Path(model).resolve()), options.threshold, source, str(Path(out).resolve()),
                         options.batch_rows) for _ in range(options.workers)]
    todo, running, held, total = deque(units), {}, [0] * len(pool), Counts()
    try:
        with tqdm(total=len(units), desc="scoring on Ray", unit="unit", disable=not progress, leave=False) as bar, \
                DeferredSignals() as signals:
            while todo or running:
                signals.check()
                for i, a in enumerate(pool):
                    while todo and held[i] < IN_FLIGHT:
                        running[a.score.remote(todo.popleft())] = i
                        held[i] += 1
                ready, _ = ray.wait(list(running), num_returns=1, timeout=POLL_S)  # a signal acts between waits
                if ready:
                    ready, _ = ray.wait(list(running), num_returns=len(running), timeout=0)
                for ref in ready:
                    held[running.pop(ref)] -= 1
                    total += _answer(ray, ref)
                    bar.set_postfix(rows=f"{total.rows:,}")
                    bar.update()
    finally:
        for a in pool:
            ray.kill(a)
    return total


def _answer(ray, ref) -> Counts:
    """A unit's counts, or one line: the input's error (not retried), or Ray's where an actor died more often than
    it may be started again."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:  # the unit's own error (a file that fails to read, say)
        cause = exc.cause if getattr(exc, "cause", None) is not None else exc
        if isinstance(cause, Unreadable):
            raise Unreadable(str(cause)) from None
        first = next((line for line in str(cause).splitlines() if line.strip()), type(cause).__name__)
        raise InputError(f"batch on Ray: {first.strip()[:300]}") from None
    except ray.exceptions.RayError as exc:
        first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise DeviceError(f"batch on Ray: a scorer was lost more often than it may be started again ({RESTARTS}): "
                          f"{first.strip()[:200]}") from None


def connect(options):
    """Ray, joined to ``options.address`` or to a local instance started here (a CPU per actor, one more)."""
    if options.address:  # said at once, also where this process has a Ray instance already
        reachable(options.address)
        if _loopback(options.address):
            _keep_loopback()
    # the driver takes one answer per unit and ends the run on the first error: the answers it leaves (units in
    # flight on other actors) are not errors to print at exit
    os.environ.setdefault("RAY_IGNORE_UNHANDLED_ERRORS", "1")
    ray = require("ray", "ray")
    if not ray.is_initialized():
        # no address: a new local instance ("local"), not whatever cluster Ray would find on this machine
        ray.init(address=options.address or "local", num_cpus=None if options.address else options.workers + 1,
                 include_dashboard=False, log_to_driver=False, configure_logging=False)
    for name in ("ray",):  # Ray logs at INFO to the terminal otherwise
        logging.getLogger(name).setLevel(logging.WARNING)
    return ray


def _loopback(address: str) -> bool:
    host = address.removeprefix("ray://").rpartition(":")[0].strip("[]")
    return host in ("127.0.0.1", "localhost", "::1")


def _keep_loopback() -> None:
    """Ray turns a loopback address into this machine's network address before it connects, where a cluster on
    127.0.0.1 does not answer; it keeps loopback where it is told that this machine is no part of a cluster of
    machines (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, read when Ray is imported; docs/decisions.md)."""
    import sys

    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    if "ray" in sys.modules:  # imported already: its constant was read then
        sys.modules["ray"]._private.ray_constants.ENABLE_RAY_CLUSTER = False


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
