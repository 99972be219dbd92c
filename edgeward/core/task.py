"""What a task is: the one object per task that the shared layers look up in ``edgeward.core.registry``.

A task brings its data generator, its training, the
contract of its exported model, its runtime, its benchmark, its report section and its demo steps. The
shared layers (the CLI, the export engine, compression, the benchmark, the report, the demo) call these
methods and never branch on a task's name. ``docs/architecture.md`` says how to add a task.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from edgeward.core.manifest import Metric as Measured
from edgeward.core.manifest import TensorInfo
from edgeward.core.records import BenchRecord, ValidationRecord
from edgeward.core.rundir import RunDir, TrainingRecord

Metric = Callable[[np.ndarray, np.ndarray], float]  # (labels, model outputs) -> higher is better; __name__ names it


@dataclass(frozen=True)
class TaskData:
    """A run's data split again, for compression fine-tuning, calibration and evaluation: model inputs and
    labels (as the loss takes them) per split."""

    x_train: np.ndarray
    y_train: Any
    x_val: np.ndarray
    y_val: Any
    x_test: np.ndarray
    y_test: Any
    loss: str | Callable  # a Keras loss name, or the task's own loss function
    class_weight: dict | None = None


@dataclass(frozen=True)
class ModelContract:
    """What a run's exported model takes and gives, and how its outputs are judged. The export engine
    writes it into every manifest; validation and compression judge artifacts and models with its metric."""

    inputs: tuple[TensorInfo, ...]  # the model's inputs, in the order it takes them
    output: TensorInfo  # its (first) output; its name is the converter's, set at export
    labels: tuple[str, ...]
    thresholds: dict[str, float]
    params: dict[str, Any]
    metric: Metric  # on the held-out labels in holdout.npz (``y_test``)
    decide: Callable[[np.ndarray], np.ndarray]  # outputs -> decisions, for the agreement check
    features: tuple[str, ...] = ()
    extra_metrics: Callable[[np.ndarray, np.ndarray], list[tuple[str, float]]] = lambda y, out: []
    # calibration samples: at most this many (onnxruntime's calibrators keep every intermediate tensor of
    # every sample in memory, which is large for images); 0: the run has no real inputs to calibrate on
    max_calibration: int | None = None
    extra_outputs: tuple[TensorInfo, ...] = ()  # a model with several outputs: the others, named, in its order
    # the share of rows on which an artifact's outputs agree with the reference's (reference, outputs) -> [0, 1];
    # default: the share whose ``decide`` is equal
    agreement: Callable[[np.ndarray, np.ndarray], float] | None = None

    @property
    def input_name(self) -> str:
        return self.inputs[0].name

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.inputs)

    @property
    def outputs(self) -> tuple[TensorInfo, ...]:
        return (self.output, *self.extra_outputs)

    @property
    def metric_name(self) -> str:
        return self.metric.__name__


RELEASE_RUNS = Path("runs/models")  # where `make models` builds the catalogue's runs


@dataclass(frozen=True)
class Recipe:
    """How a released model of the catalogue is made (``make models``, ``edgeward.tools.release``): its ``edgeward``
    command lines from data to export, the files that ship, the seeds and the tolerances of its measurements."""

    name: str
    task: str
    title: str
    steps: tuple[tuple[str, ...], ...]  # `edgeward` command lines, in order
    ship: tuple[str, ...]  # the run's artifacts that ship, the default first
    seed: int = 0  # data and training
    measure_seed: int = 1000  # the fresh data of the release measurement: a draw training never made
    tolerance: float = 0.03  # a rebuild's metrics within this of the release's (same recipe, same seeds)
    check_tolerance: float = 0.1  # make test's quick check: a small fresh sample, so a wider margin
    default: bool = True  # the task's model when `edgeward run TASK` is given none

    @property
    def run(self) -> Path:
        return RELEASE_RUNS / self.name


@dataclass(frozen=True)
class Toy:
    """The task's tiny run on generated data, for checks of the plumbing and never of accuracy (the tests' session
    runs, ``make soak``, ``make arm64-check``; one builder: ``edgeward.tools.tiny_models``): the arguments of
    ``edgeward data TASK OUT``, of ``edgeward train TASK`` and of each ``edgeward export RUN``. ``data_file``: the
    data is one file of this name (else a folder); ``check_input``: the data's file that the checks feed the task's
    runtime (empty: the data file itself)."""

    data: tuple[str, ...]
    train: tuple[str, ...]
    exports: tuple[tuple[str, ...], ...] = (("--format", "onnx", "--precision", "fp32"),)
    data_file: str = ""
    check_input: str = ""


@dataclass(frozen=True)
class DemoStep:
    """One step of ``edgeward demo``: what it does, the call, and the one line that says what it gave."""

    name: str
    run: Callable[[], Any]
    describe: Callable[[Any], str]


class TaskSpec(ABC):
    """One task. Subclasses set the class attributes and implement the abstract methods; the optional
    capabilities (``generate``, ``train``, ``adopt``, ``live``, ``tune``, ``score_file``, ``demo``) are offered
    by overriding them."""

    name: ClassVar[str]
    title: ClassVar[str]  # the report's heading
    payload_type: ClassVar[type]  # the task's part of the training record
    data_config: ClassVar[type | None] = None  # `edgeward data TASK OUT` (flags from its fields)
    train_config: ClassVar[type | None] = None  # `edgeward train TASK` (flags from its fields)
    demo_config: ClassVar[type | None] = None  # `edgeward demo` (flags --TASK-FIELD)
    run_options: ClassVar[type | None] = None  # `edgeward run TASK` (flags from its fields)
    tune_options: ClassVar[type | None] = None  # `edgeward tune TASK` (flags from its fields)
    data_help: ClassVar[str] = "output folder"
    source_help: ClassVar[str] = ""  # what `edgeward run TASK --source` takes
    compress_refusal: ClassVar[str] = ""  # why pruning and QAT are not offered, where they are not
    toy: ClassVar[Toy | None] = None  # the task's tiny run for the checks (tests, soak, the arm64 check)

    # data and training ---------------------------------------------------------------------------------
    def generate(self, out: Path, config, progress: bool = False) -> Iterator[str]:
        """Write a generated dataset, yielding a line that says what was written after each part."""
        raise NotImplementedError

    def train(self, data: Path, out: Path, config, progress: bool = False) -> TrainingRecord:
        """Train on ``data`` into the run directory ``out``."""
        raise NotImplementedError

    def adopt(self, model, run: RunDir, options, progress: bool = False) -> TrainingRecord:
        """Make ``run`` a run directory of a Keras model trained elsewhere (``edgeward export --model``):
        ``model`` is loaded, copied into ``run`` and described by ``options`` (``train.adopt.AdoptOptions``);
        the task writes the held-out data and returns the record (the caller writes it)."""
        raise NotImplementedError

    @abstractmethod
    def describe(self, record: TrainingRecord) -> list[str]:
        """Lines that say what a training gave."""

    @abstractmethod
    def splits(self, run: RunDir, record: TrainingRecord, train_sample: int | None = None) -> TaskData:
        """The run's data split, model-ready. ``train_sample``: only that many training rows, evenly spaced."""

    @abstractmethod
    def contract(self, run: RunDir, record: TrainingRecord) -> ModelContract:
        ...

    def upgrade_record(self, raw: dict, source: str) -> dict:
        """A training record written before records were versioned (schema 0), as the current schema."""
        from edgeward.core.errors import InputError

        raise InputError(f"{source}: an unversioned training record of task {self.name!r} cannot be read; train again")

    # runtime ---------------------------------------------------------------------------------------------
    def live(self, model: str, source: str, options, device: str, threads: int | None,
             emit: Callable[[dict], None], note: Callable[[str], None]) -> None:
        """Run the task's runtime on a live source, ``emit`` each result as it comes and ``note`` what the
        user should know at the end (dropped frames, audio overflows)."""
        raise NotImplementedError

    def result_text(self, result: dict) -> str:
        """One result of ``live`` as a line of text."""
        raise NotImplementedError

    def score_file(self, model, input_path: Path, out: Path, rejects: Path | None, threshold: float | None,
                   progress: bool = False) -> list[str]:
        """Score a file of rows with a loaded ``Model`` of this task; returns lines that say what happened."""
        raise NotImplementedError

    def tune(self, run: RunDir, options) -> list[str]:
        """Choose decision thresholds after training (into ``tuning.json``); returns lines that say how."""
        raise NotImplementedError

    def offers(self, capability: str) -> bool:
        return getattr(type(self), capability) is not getattr(TaskSpec, capability)

    # benchmark, report, demo -----------------------------------------------------------------------------
    def bench(self, run: RunDir, record: TrainingRecord, result: BenchRecord, options, runnable: set[str],
              tick: Callable[[], None]) -> None:
        """The task's own measurements, added by name to the benchmark's ``result.payload``."""

    def bench_steps(self, options) -> int:
        """How many times ``bench`` calls ``tick`` (the progress bar's share)."""
        return 0

    def targets(self, result: BenchRecord, validation: ValidationRecord) -> list[tuple]:
        """The task's targets: (what, measured, goal, met: bool or None)."""
        return []

    def tables(self, result: BenchRecord) -> list[tuple[str, list[str], list[list[str]]]]:
        """The task's benchmark tables: (title, header, rows)."""
        return []

    @abstractmethod
    def section(self, run: RunDir, record: TrainingRecord) -> str:
        """The task's part of the HTML report (after its heading, before compression, export and benchmark)."""

    def demo(self, out: Path, config, seed: int, max_drop: float, bench, full: bool = True) -> list[DemoStep]:
        """The demo's steps for this task, into the run directory ``out``: the whole flow, or with ``full`` false
        the quick one (``make demo``: data, a short training, ONNX fp32 and int8, the runtime on new inputs).
        ``demo_config`` is the steps' sizes; its ``quick()`` gives the quick demo's."""
        raise NotImplementedError

    # the catalogue ---------------------------------------------------------------------------------------
    def recipes(self) -> tuple[Recipe, ...]:
        """The recipes of the task's released models (``make models``)."""
        return ()

    def measure_release(self, model: Path, work: Path, seed: int, small: bool = False) -> list[Measured]:
        """A released model file's metrics on data drawn afresh with ``seed`` into ``work``, by the runtime:
        the release's measurement, or with ``small`` the quick check that ``make test`` runs."""
        raise NotImplementedError
