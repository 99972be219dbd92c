"""``edgeward demo``: every registered task's whole flow on generated data, ending in one HTML report.

Each task brings its steps (``TaskSpec.demo``) and their sizes (``TaskSpec.demo_config``); its run
directory is ``OUT/TASK``. The steps' times and results go to ``OUT/demo.json`` and the report.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeward.core.config import option
from edgeward.core.errors import ConfigError
from edgeward.core.registry import get_task, tasks_that


@dataclass(frozen=True)
class DemoOptions:
    out: str = option("runs/demo", "the demo folder (a run directory per task, the report)")
    tasks: tuple[str, ...] = option((), "the tasks to run, comma-separated (default: all that have a demo)")
    seed: int = option(0, "random seed")
    max_drop: float = option(1.0, "int8 accuracy budget, metric points")
    sizes: Mapping[str, Any] = option(factory=dict, cli=False)  # task -> its demo config; default: the task's defaults
    bench: Any = option(None, cli=False)  # how long each benchmark measures (BenchOptions; default: its defaults)

    def __post_init__(self):
        for name in (*self.tasks, *self.sizes):
            if not get_task(name).offers("demo"):  # an unknown task: one error naming the known ones
                raise ConfigError(f"tasks (--tasks): task {name!r} has no demo; the tasks that have one: "
                                  f"{', '.join(tasks_that('demo'))}")


@dataclass(frozen=True)
class DemoResult:
    report: Path
    out: Path
    steps: list[dict] = field(default_factory=list)


def run_demo(options: DemoOptions = DemoOptions(), log: Callable[[str], None] = lambda s: None) -> DemoResult:
    from edgeward.app.report import DEMO_FILE, write_report
    from edgeward.export.bench import BenchOptions

    out = Path(options.out)
    plan = []
    for name in options.tasks or tasks_that("demo"):
        spec = get_task(name)
        config = options.sizes.get(name) or spec.demo_config()
        plan += spec.demo(out / name, config, options.seed, options.max_drop, options.bench or BenchOptions())
    total = len(plan) + 1
    steps: list[dict] = []

    def step(name: str, fn, describe):
        log(f"[{len(steps) + 1}/{total}] {name} ...")
        started = time.perf_counter()
        value = fn()
        seconds = time.perf_counter() - started
        steps.append({"step": name, "seconds": round(seconds, 2), "result": describe(value)})
        log(f"      {describe(value)} ({seconds:.1f} s)")
        return value

    out.mkdir(parents=True, exist_ok=True)
    for s in plan:
        step(s.name, s.run, s.describe)
    (out / DEMO_FILE).write_text(json.dumps({"steps": steps}, indent=2))
    report = step("write report", lambda: write_report(out), str)
    (out / DEMO_FILE).write_text(json.dumps({"steps": steps}, indent=2))
    write_report(out)  # again, so that the report lists its own step
    return DemoResult(report, out, steps)
