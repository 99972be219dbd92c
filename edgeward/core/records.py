"""The typed, versioned records export and the benchmark write into a run directory (``RunDir`` reads and writes
them; nothing else touches their files):

- ``ValidationRecord`` (``validation.json``): each artifact's check against the Keras reference (``ArtifactCheck``),
  or why it could not be made (``ExportFailure``); the int8 candidates tried; the recommendation; the CPU classes.
- ``BenchRecord`` (``bench.json``): each artifact's measurements, the runtime's overhead, the recommendation by the
  benchmark's own numbers, the targets, and the task's own results (``payload``, by name).

Files written before the records had a schema (schema 0) still load.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from edgeward.core.config import from_dict
from edgeward.core.errors import InputError

VALIDATION_SCHEMA = 1
BENCH_SCHEMA = 1


@dataclass(frozen=True)
class ArtifactCheck:
    """One artifact checked against the Keras model it came from (``export.validate``)."""

    artifact: str
    format: str
    precision: str
    source: str
    method: str
    size_bytes: int
    rows: int
    max_abs_diff: float  # against the Keras model it came from
    metric_name: str
    metric: float
    reference_metric: float  # the original fp32 Keras model's
    drop_points: float
    agreement: float  # share of rows whose decision equals the original Keras model's
    check: str
    budget: float
    passed: bool
    reason: str
    degenerate: str = ""  # why no comparison with the reference could fail ("" when one could)
    # int8 files: CPU class -> {"passed", "metric", "drop_points", "agreement", "how", "reason"}
    cpu: dict = field(default_factory=dict)

    @property
    def status(self) -> str:
        """passed, failed or degenerate (``core.manifest.CHECKS``)."""
        return "degenerate" if self.degenerate else "passed" if self.passed else "failed"

    @property
    def usable(self) -> bool:
        """Within its budget, or checked degenerately (an untrained model's file is still its file)."""
        return self.passed or bool(self.degenerate)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ExportFailure:
    """An artifact export could not make (the converter's or quantizer's error)."""

    artifact: str
    reason: str
    passed: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def read_json_object(path, what: str, limit: int) -> dict | None:
    """A run file's JSON object (None where the file is not there), bounded and checked as hostile input."""
    from edgeward.core.files import read_regular

    if not path.exists():
        return None
    data = read_regular(path, what, limit)
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise InputError(f"{path}: expected a JSON object, got {type(raw).__name__}")
    return raw


def _schema(raw: dict, where: str, current: int, what: str) -> int:
    schema = raw.get("schema", 0)
    if schema not in (0, current):
        raise InputError(f"{where}: {what} schema {schema!r} is not supported (this edgeward reads {current} and "
                         "unversioned ones; upgrade edgeward or run it again)")
    return schema


@dataclass(frozen=True)
class ValidationRecord:
    """``validation.json``: what every export of the run checked, merged (a later export's entry for an artifact
    replaces the earlier one)."""

    artifacts: tuple[ArtifactCheck | ExportFailure, ...] = ()
    search: tuple[dict, ...] = ()  # the int8 candidates tried: method, drop_points, passed (and excluded nodes)
    recommendation: dict | None = None  # export.recommend's choice for the device exported for
    targets: dict = field(default_factory=dict)  # CPU classes: cpu, host, checked, skipped (with why)
    schema: int = VALIDATION_SCHEMA

    @property
    def checks(self) -> list[ArtifactCheck]:
        """The artifacts that were made and checked (not those export could not make)."""
        return [a for a in self.artifacts if isinstance(a, ArtifactCheck)]

    def by_name(self) -> dict[str, ArtifactCheck]:
        return {c.artifact: c for c in self.checks}

    def to_json(self) -> str:
        return json.dumps({"schema": self.schema, "artifacts": [a.as_dict() for a in self.artifacts],
                           "search": list(self.search), "recommendation": self.recommendation,
                           "targets": self.targets}, indent=2)

    @classmethod
    def from_dict(cls, raw: dict, where: str) -> "ValidationRecord":
        _schema(raw, where, VALIDATION_SCHEMA, "validation record")
        entries = raw.get("artifacts", [])
        if not isinstance(entries, list):
            raise InputError(f"{where}: field 'artifacts': expected a list, got {type(entries).__name__}")
        artifacts = tuple(from_dict(ArtifactCheck if isinstance(e, dict) and "metric" in e else ExportFailure, e,
                                    f"{where}: artifacts[{i}]") for i, e in enumerate(entries))
        return cls(artifacts=artifacts, search=tuple(raw.get("search") or ()), recommendation=raw.get("recommendation"),
                   targets=raw.get("targets") or {})


@dataclass
class BenchRecord:
    """``bench.json``: what ``edgeward bench`` measured. ``artifacts`` holds one row per artifact (its check's
    numbers, size, load time, single-row latency on 1 and all threads, batched rows/s, peak RSS); a task adds its
    own results to ``payload`` by name."""

    task: str
    machine: dict
    device: str
    threads_all: int
    rows: int
    artifacts: list[dict] = field(default_factory=list)
    overhead: dict | None = None  # Model.run against a bare session.run (one-input models)
    recommendation: dict | None = None  # by this benchmark's own numbers
    cpu_classes: dict | None = None  # int8 files measured again by CPU class (``bench --targets``)
    targets: list[dict] = field(default_factory=list)  # target, measured, goal, met
    payload: dict[str, Any] = field(default_factory=dict)
    schema: int = BENCH_SCHEMA

    def row(self, artifact: str) -> dict | None:
        return next((a for a in self.artifacts if a["artifact"] == artifact), None)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_dict(cls, raw: dict, where: str) -> "BenchRecord":
        schema = _schema(raw, where, BENCH_SCHEMA, "benchmark record")
        if schema == 0:  # the task's results sat beside the common fields
            common = {f for f in cls.__dataclass_fields__}
            raw = {**{k: v for k, v in raw.items() if k in common},
                   "payload": {k: v for k, v in raw.items() if k not in common}}
        record = from_dict(cls, raw, where)
        record.schema = BENCH_SCHEMA
        return record
