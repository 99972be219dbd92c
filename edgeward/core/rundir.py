"""The run directory: the files that training, compression, tuning, export and the benchmark write, and the
typed, versioned training record.

    RUN/
      train.json         the training record (``TrainingRecord``), schema ``RECORD_SCHEMA``
      model.keras        the trained Keras model (an adopted one keeps its format: model.h5, model.savedmodel/);
                         compression adds the other ``SOURCES``
      custom_objects.py  an adopted model's custom layers (``edgeward export --model --custom-objects``)
      holdout.npz        held-out inputs and labels (``x_test``, ``y_test``; the task may add more)
      calibration.npz    an adopted model's calibration inputs, by input name (``edgeward export --model``)
      compress.json      compression results, by source model
      tuning.json        thresholds chosen after training (``edgeward tune``), which export embeds
      artifacts/         the exported ONNX and TFLite files, each with its manifest
      validation.json    every artifact's check against Keras, and the recommendation (``ValidationRecord``)
      bench.json         what the benchmark measured (``BenchRecord``); bench.csv, its artifacts' table
      report.html
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from edgeward.core.config import from_dict
from edgeward.core.errors import InputError
from edgeward.core.records import BenchRecord, ValidationRecord, read_json_object

RECORD_SCHEMA = 1
# the Keras models a run can hold, by source: the trained one, and those `edgeward compress` makes
SOURCES = {"base": "model.keras", "pruned": "model-pruned.keras", "qat": "model-qat.h5", "pruned-qat": "model-pruned-qat.h5"}
RECORD_LIMIT = 64 << 20  # the largest validation or benchmark record read (a run's own are a few KB)
# an adopted model keeps its own format (``edgeward export --model``): the base model is the first of these present
BASE_FILES = ("model.keras", "model.h5", "model.savedmodel")


@dataclass(frozen=True)
class DataInfo:
    path: str  # the data the run was trained on: a file or a folder
    sha256: str  # its hash (``edgeward.core.hashing.data_sha256``)
    split: dict[str, int]  # rows, clips or images per split: train, val, test


@dataclass(frozen=True)
class TrainingRecord:
    """What training wrote into ``train.json``: common fields, and the task's own ``payload`` (a dataclass
    of the task's ``payload_type``)."""

    task: str
    data: DataInfo
    config: dict[str, Any]  # the training config, as given
    labels: tuple[str, ...]
    thresholds: dict[str, float]  # as the manifest carries them: {"decision": 0.83}, per label, {"score": 0.4}
    metrics: dict[str, dict[str, float]]  # on the held-out test split: "model" (and e.g. "baseline") -> name -> value
    params: int
    epochs_run: int
    train_seconds: float
    history: dict[str, Any]
    payload: Any
    schema: int = RECORD_SCHEMA
    custom_objects: str = ""  # an adopted model's custom layers: a Python file in the run directory
    unsafe: bool = False  # an adopted model's Lambda layers may be loaded (``--unsafe`` was given)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_dict(cls, raw: dict, source: str) -> "TrainingRecord":
        from edgeward.core.registry import get_task

        if not isinstance(raw, dict) or "task" not in raw:
            raise InputError(f"{source}: expected a training record with a 'task' field, got {str(raw)[:60]!r}")
        spec = get_task(raw["task"])
        schema = raw.get("schema", 0)
        if schema == 0:
            raw = spec.upgrade_record(raw, source)
        elif schema != RECORD_SCHEMA:
            raise InputError(f"{source}: training record schema {schema!r} is not supported (this edgeward reads "
                             f"{RECORD_SCHEMA} and unversioned records; upgrade edgeward or train again)")
        record = from_dict(cls, raw, source)
        return replace(record, data=from_dict(DataInfo, raw["data"], f"{source}: data"), labels=tuple(record.labels),
                       payload=from_dict(spec.payload_type, raw["payload"], f"{source}: payload"), schema=RECORD_SCHEMA)


class RunDir:
    """The paths of one run directory, and its JSON files read and written in one place."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def __str__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    record_file = property(lambda self: self.path / "train.json")
    holdout = property(lambda self: self.path / "holdout.npz")
    calibration = property(lambda self: self.path / "calibration.npz")
    compress_file = property(lambda self: self.path / "compress.json")
    tuning_file = property(lambda self: self.path / "tuning.json")
    artifacts = property(lambda self: self.path / "artifacts")
    validation_file = property(lambda self: self.path / "validation.json")
    bench_file = property(lambda self: self.path / "bench.json")
    bench_csv = property(lambda self: self.path / "bench.csv")
    report_file = property(lambda self: self.path / "report.html")

    def source_model(self, source: str) -> Path:
        """The Keras model of ``source`` (a key of ``SOURCES``)."""
        if source == "base":
            return next((self.path / n for n in BASE_FILES if (self.path / n).exists()), self.path / SOURCES[source])
        return self.path / SOURCES[source]

    @property
    def model(self) -> Path:
        return self.source_model("base")

    def artifact(self, name: str) -> Path:
        return self.artifacts / name

    def has_record(self) -> bool:
        return self.record_file.exists()

    def record(self) -> TrainingRecord:
        if not self.record_file.exists():
            raise InputError(f"{self.path}: expected a training run directory with train.json, got none "
                             "(run `edgeward train` first)")
        try:
            raw = json.loads(self.record_file.read_text())
        except json.JSONDecodeError as exc:
            raise InputError(f"{self.record_file}: not valid JSON ({exc})") from None
        return TrainingRecord.from_dict(raw, str(self.record_file))

    def write_record(self, record: TrainingRecord) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.record_file.write_text(record.to_json())

    def has_validation(self) -> bool:
        return self.validation_file.exists()

    def validation(self) -> ValidationRecord:
        """What export checked (an empty record before the first export)."""
        raw = read_json_object(self.validation_file, "validation record", RECORD_LIMIT)
        return ValidationRecord() if raw is None else ValidationRecord.from_dict(raw, str(self.validation_file))

    def write_validation(self, record: ValidationRecord) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.validation_file.write_text(record.to_json())

    def bench(self) -> BenchRecord | None:
        """What the benchmark measured, or None before the first ``edgeward bench``."""
        raw = read_json_object(self.bench_file, "benchmark record", RECORD_LIMIT)
        return None if raw is None else BenchRecord.from_dict(raw, str(self.bench_file))

    def write_bench(self, record: BenchRecord) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.bench_file.write_text(record.to_json())

    def read_json(self, path: Path) -> dict | None:
        """One of the run's JSON files, or None if it is not there."""
        return json.loads(path.read_text()) if path.exists() else None

    def write_json(self, path: Path, data: dict) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2))


def holdout_key(names: tuple[str, ...] | list[str], name: str) -> str:
    """The key of an input's held-out rows in ``holdout.npz``: ``x_test`` for a one-input model, ``x_test.NAME``
    for each input of a model with several."""
    return "x_test" if len(names) == 1 else f"x_test.{name}"


def holdout_inputs(holdout, names: tuple[str, ...] | list[str]) -> dict:
    """The held-out model inputs by name (``holdout``: the loaded ``holdout.npz``)."""
    missing = [holdout_key(names, n) for n in names if holdout_key(names, n) not in holdout]
    if missing:
        raise InputError(f"holdout.npz: expected the held-out inputs {missing}, got {sorted(holdout.keys())}")
    return {n: holdout[holdout_key(names, n)] for n in names}


def common_v0(raw: dict) -> dict:
    """An unversioned (schema 0) record's common fields in the current schema's shape; each task's
    ``upgrade_record`` adds its own."""
    d = raw["data"]
    return {"task": raw["task"], "data": {"path": d["path"], "sha256": d["sha256"],
                                          "split": {k: d["split"][k] for k in ("train", "val", "test")}},
            "config": raw["config"], "labels": raw.get("labels", []), "metrics": raw["metrics"], "params": raw["params"],
            "epochs_run": raw["epochs_run"], "train_seconds": raw["train_seconds"], "history": raw["history"]}
