"""Each task's tiny run (its spec's ``toy``) built on generated data: the one builder of the runs that check the
runtime and the process rather than accuracy (the tests' session runs, ``make soak``, ``make arm64-check``).

The tools run each edgeward command in a process of its own (``in_process=False``), so that TensorFlow never enters
the caller's process; the tests run them in theirs (faster).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from edgeward.core.registry import get_task, task_names
from edgeward.core.rundir import RunDir


@dataclass(frozen=True)
class ToyRun:
    """A built toy: its task, its data (a folder or one file), its run folder and the input the checks feed it."""

    task: str
    data: Path
    run: Path
    check_input: Path

    @property
    def model(self) -> Path:
        """Its fp32 ONNX file."""
        return RunDir(self.run).artifact("model.onnx")


def toys() -> tuple[str, ...]:
    """The tasks that have a toy run."""
    return tuple(name for name in task_names() if get_task(name).toy is not None)


def edgeward(*argv: str, in_process: bool = False) -> None:
    """An edgeward command, in this process or in one of its own; a failure stops the build."""
    if in_process:
        from edgeward.app.cli import main

        code = main(list(argv))
    else:
        code = subprocess.run([sys.executable, "-m", "edgeward", *argv]).returncode
    if code != 0:
        raise SystemExit(f"setup failed: edgeward {' '.join(argv)}")


def toy_data(task: str, out: Path, in_process: bool = False) -> Path:
    """The toy's data written into the folder ``out`` (or, for data of one file, as a file in it); its path."""
    toy = get_task(task).toy
    path = out / toy.data_file if toy.data_file else out
    path.parent.mkdir(parents=True, exist_ok=True)
    edgeward("data", task, str(path), *toy.data, in_process=in_process)
    return path


def toy_run(task: str, data: Path, out: Path, exports: tuple[tuple[str, ...], ...] | None = None,
            in_process: bool = False) -> Path:
    """The toy trained on ``data`` into the run folder ``out`` and exported (``exports``: each export's arguments
    instead of the toy's)."""
    toy = get_task(task).toy
    edgeward("train", task, "--data", str(data), "--out", str(out), *toy.train, in_process=in_process)
    for flags in toy.exports if exports is None else exports:
        edgeward("export", str(out), *flags, in_process=in_process)
    return out


def build_toys(folder: Path, log, exports: tuple[tuple[str, ...], ...] | None = None) -> dict[str, ToyRun]:
    """Every task's toy in ``folder`` (kept: built once per folder), each command in a process of its own;
    ``exports`` instead of each toy's own."""
    built = {}
    for task in toys():
        data, run = folder / f"{task}-data", folder / task
        if not RunDir(run).artifact("model.onnx").exists():
            log(f"training a tiny {task} model")
            toy_run(task, toy_data(task, data), run, exports)
        toy = get_task(task).toy
        data = data / toy.data_file if toy.data_file else data
        built[task] = ToyRun(task, data, run, data / toy.check_input if toy.check_input else data)
    return built
