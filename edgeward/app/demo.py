"""``edgeward demo``: first the released models (``edgeward models list``) on inputs drawn afresh, then every
registered task's whole flow on generated data, ending in one HTML report.

The first part is each task's default catalogue model measured by ``TaskSpec.measure_release`` on a small
fresh sample (``OUT/released/NAME``, ``OUT/released.json``): the real quality, in about a minute. The second
part trains briefly to show the flow: each task brings its steps (``TaskSpec.demo``) and their sizes
(``TaskSpec.demo_config``); its run directory is ``OUT/TASK``. Two tiers: the quick one (``make demo``: each
config's ``quick()`` sizes, ONNX fp32 and int8, short benchmarks) and the full one (``make demo-full``: the
configs' own sizes, compression, TFLite, full benchmarks). The tier, the steps' times and results go to
``OUT/demo.json`` and the report.
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
from edgeward.core.task import DemoStep

RELEASED_FILE = "released.json"  # part one's measurements, beside the runs
RELEASED_DIR = "released"  # part one's fresh data and outputs, a folder per model
FRESH_SEED = 2000  # part one draws with seed + this: neither training (0) nor the release (1000) drew it


def _quick_bench():
    from edgeward.export.bench import BenchOptions

    return BenchOptions(single_rows=200, keras_single_rows=20, predict_single_rows=10, batch_repeats=3, load_repeats=1,
                        cold_repeats=1)


@dataclass(frozen=True)
class DemoOptions:
    out: str = option("runs/demo", "the demo folder (a run directory per task, the report)")
    tasks: tuple[str, ...] = option((), "the tasks to run, comma-separated (default: all that have a demo)")
    seed: int = option(0, "random seed")
    max_drop: float = option(1.0, "int8 accuracy budget, metric points")
    released: bool = option(True, "first, the released models on inputs drawn afresh")
    full: bool = option(False, "the whole flow at the demo's training sizes, with compression, TFLite and full "
                        "benchmarks (make demo-full); without it, the quick flow (make demo: short trainings, ONNX)")
    # task -> its demo config; default: the tier's sizes (the config's own, or its quick() ones)
    sizes: Mapping[str, Any] = option(factory=dict, cli=False)
    # how long each benchmark measures (BenchOptions; default: its defaults, or short ones in the quick demo)
    bench: Any = option(None, cli=False)

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
    tasks = options.tasks or tasks_that("demo")
    plan = released_steps(out, tasks, options.seed + FRESH_SEED) if options.released else []
    bench = options.bench or (BenchOptions() if options.full else _quick_bench())  # quick: short measurements
    for name in tasks:
        spec = get_task(name)
        config = options.sizes.get(name) or (spec.demo_config() if options.full else spec.demo_config.quick())
        plan += spec.demo(out / name, config, options.seed, options.max_drop, bench, options.full)
    total, tier = len(plan) + 1, "full" if options.full else "quick"
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
    (out / RELEASED_FILE).unlink(missing_ok=True)
    for s in plan:
        step(s.name, s.run, s.describe)
    (out / DEMO_FILE).write_text(json.dumps({"tier": tier, "steps": steps}, indent=2))
    report = step("write report", lambda: write_report(out), str)
    (out / DEMO_FILE).write_text(json.dumps({"tier": tier, "steps": steps}, indent=2))
    write_report(out)  # again, so that the report lists its own step
    return DemoResult(report, out, steps)


def released_steps(out: Path, tasks, seed: int) -> list[DemoStep]:
    """Part one: each task's default catalogue model on a small sample drawn afresh; ``OUT/released.json`` gets, per
    model, the file, the metrics now and the metrics measured at release."""
    from dataclasses import asdict

    from edgeward.runtime.engine.catalogue import catalogue

    results: dict[str, dict] = {}

    def measure(model):
        metrics = get_task(model.task).measure_release(model.file(), out / RELEASED_DIR / model.name, seed=seed, small=True)
        results[model.name] = {"task": model.task, "file": model.file().name, "metrics": [asdict(m) for m in metrics],
                               "at_release": model.release.get("metrics", [])}
        (out / RELEASED_FILE).write_text(json.dumps(results, indent=2))
        return metrics

    return [DemoStep(f"released model '{m.name}' on fresh {m.task} data", lambda m=m: measure(m),
                     lambda metrics: ", ".join(f"{x.name} {x.value:.3f}" for x in metrics))
            for m in catalogue().values() if m.task in tasks and m.release.get("default")]
