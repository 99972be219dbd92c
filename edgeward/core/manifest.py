"""The manifest: a versioned JSON document embedded in every exported model file.

It makes the file self-describing: the runtime needs nothing but the model file. ONNX stores it
in ``metadata_props`` under ``METADATA_KEY``. Loading checks the schema version and every field,
and names the file and the field in its error.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from edgeward.core.errors import InputError, ManifestError
from edgeward.core.registry import task_names

SCHEMA_VERSION = 1
METADATA_KEY = "edgeward.manifest"
# a manifest holds labels, thresholds, a tokenizer's vocabulary at most: far below these; a hostile file's
# megabytes of JSON, or arrays nested thousands deep (a RecursionError in the parser), are refused unread
MAX_MANIFEST_BYTES = 4 << 20
MAX_MANIFEST_DEPTH = 32
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def json_depth(text: str) -> int:
    """How deeply the JSON text nests arrays and objects (strings skipped), without parsing it."""
    marks = np.frombuffer(_STRING.sub("", text).encode("utf-8", "replace"), np.uint8)
    steps = np.isin(marks, (ord("["), ord("{"))).astype(np.int64) - np.isin(marks, (ord("]"), ord("}")))
    return int(np.cumsum(steps).max(initial=0))


# a request nests an object, its inputs, a tensor and its data (as deep as the tensor's rank): no client sends more;
# JSON nested thousands deep would overflow the parser's stack
REQUEST_MAX_DEPTH = 40


def parse_request(body: bytes, what: str):
    """A request body's JSON, or an InputError (not UTF-8, invalid, or nested deeper than ``REQUEST_MAX_DEPTH``)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"request: expected {what}, got bytes that are not UTF-8 ({exc})") from None
    depth = json_depth(text)
    if depth > REQUEST_MAX_DEPTH:
        raise InputError(f"request: expected {what} nested at most {REQUEST_MAX_DEPTH} levels deep, got {depth}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"request: expected {what}, got invalid JSON ({exc})") from None


@dataclass(frozen=True)
class TensorInfo:
    """One model input or output. ``None`` in ``shape`` is a free dimension (the batch)."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str
    layout: str = ""  # "NF": batch x features, "NHWC", ...
    normalisation: str = ""  # how raw values become model values, or "inside-model"


@dataclass(frozen=True)
class Metric:
    name: str
    value: float
    data: str  # on which data it was measured


@dataclass(frozen=True)
class Provenance:
    edgeward: str
    packages: dict[str, str]  # tensorflow, tf_keras, tf2onnx, onnx, onnxruntime versions
    source_model_sha256: str
    data_sha256: str
    code_sha256: str
    created_at: str  # ISO 8601, UTC
    artifact_sha256: str = ""  # this file's own hash (edgeward.core.seal); "" in files exported before 0.3


@dataclass(frozen=True)
class CpuCheck:
    """An int8 file's check on one CPU class (``edgeward.devices.cpu.CpuClass``): its task metric on the held-out
    rows run there, the drop from the fp32 Keras model's, and the share of decisions that agree with it."""

    cpu: str  # "avx2", "vnni", "arm64"
    passed: bool
    metric: float
    drop_points: float
    agreement: float
    how: str  # "this host", "qemu-x86_64 -cpu Haswell", ...


# ``Manifest.checks``: what the export's check of the file says. DEGENERATE: the reference model's outputs did not vary
# over the held-out rows (constant outputs, or every row one class), so no comparison with it could fail.
CHECKS = ("passed", "failed", "degenerate")


@dataclass(frozen=True)
class Manifest:
    task: str  # a name in edgeward.core.registry
    format: str  # "onnx", "tflite"
    precision: str  # "fp32", "fp16", "int8"
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    labels: tuple[str, ...]
    features: tuple[str, ...]  # tabular tasks: feature names, in input order
    thresholds: dict[str, float]  # e.g. {"decision": 0.83}
    metrics: tuple[Metric, ...]
    provenance: Provenance
    params: dict[str, Any] = field(default_factory=dict)  # task specifics (front end, image size)
    # a catalogue model's: name, metrics measured at release, the command lines and seeds that made it (runtime.catalogue)
    release: dict[str, Any] = field(default_factory=dict)
    checks: str = ""  # one of CHECKS; "" in files exported before edgeward recorded it
    cpu_checks: tuple[CpuCheck, ...] = ()  # int8 files: the check on each CPU class it was run on
    schema: int = SCHEMA_VERSION

    def checked_on(self) -> tuple[str, ...]:
        """The CPU classes this file passed its check on."""
        return tuple(c.cpu for c in self.cpu_checks if c.passed)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes, source: str = "manifest") -> "Manifest":
        if len(text) > MAX_MANIFEST_BYTES:
            raise ManifestError(f"{source}: manifest of {len(text):,} bytes; expected at most {MAX_MANIFEST_BYTES:,}")
        try:
            if isinstance(text, bytes):
                text = text.decode("utf-8")
            depth = json_depth(text)
            if depth > MAX_MANIFEST_DEPTH:
                raise ManifestError(f"{source}: manifest nested {depth} levels deep; expected at most {MAX_MANIFEST_DEPTH}")
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ManifestError(f"{source}: manifest is not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ManifestError(f"{source}: manifest: expected a JSON object, got {type(data).__name__}")
        return cls.from_dict(data, source)

    @classmethod
    def from_dict(cls, data: dict, source: str = "manifest") -> "Manifest":
        schema = data.get("schema")
        if schema != SCHEMA_VERSION:
            raise ManifestError(
                f"{source}: manifest schema version {schema!r} is not supported "
                f"(this edgeward reads version {SCHEMA_VERSION}; upgrade edgeward or re-export)"
            )
        _require(data, cls, source, "manifest")
        if data["task"] not in task_names():
            raise ManifestError(f"{source}: manifest field 'task': expected one of {', '.join(task_names())}, "
                                f"got {data['task']!r}")
        thresholds, features, labels = data["thresholds"], data["features"], data["labels"]
        _expect(isinstance(thresholds, dict) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                     for v in thresholds.values()),
                source, "thresholds", "an object of numbers", thresholds)
        for name, value in (("features", features), ("labels", labels)):
            _expect(isinstance(value, list) and all(isinstance(v, str) for v in value), source, name, "a list of names", value)
        for name in ("inputs", "outputs", "metrics"):
            _expect(isinstance(data[name], list), source, name, "a list", data[name])
        for name in ("params", "release"):
            _expect(isinstance(data.get(name, {}), dict), source, name, "an object", data.get(name))
        checks, cpu_checks = data.get("checks", ""), data.get("cpu_checks", [])
        _expect(checks in ("", *CHECKS), source, "checks", f"one of {', '.join(CHECKS)}", checks)
        _expect(isinstance(cpu_checks, list), source, "cpu_checks", "a list", cpu_checks)
        sealed = data["provenance"].get("artifact_sha256", "") if isinstance(data["provenance"], dict) else ""
        _expect(isinstance(sealed, str) and (sealed == "" or re.fullmatch("[0-9a-f]{64}", sealed) is not None), source,
                "provenance.artifact_sha256", "64 hexadecimal digits", sealed)
        return cls(
            task=str(data["task"]),
            format=str(data["format"]),
            precision=str(data["precision"]),
            inputs=tuple(_tensor(t, source, f"inputs[{i}]") for i, t in enumerate(data["inputs"])),
            outputs=tuple(_tensor(t, source, f"outputs[{i}]") for i, t in enumerate(data["outputs"])),
            labels=tuple(labels),
            features=tuple(features),
            thresholds={str(k): float(v) for k, v in thresholds.items()},
            metrics=tuple(_sub(Metric, m, source, f"metrics[{i}]") for i, m in enumerate(data["metrics"])),
            provenance=_sub(Provenance, data["provenance"], source, "provenance"),
            params=dict(data.get("params", {})),
            release=dict(data.get("release", {})),
            checks=checks,
            cpu_checks=tuple(_cpu_check(c, source, f"cpu_checks[{i}]") for i, c in enumerate(cpu_checks)),
            schema=schema,
        )


def _expect(ok: bool, source: str, field: str, expected: str, given) -> None:
    if not ok:
        raise ManifestError(f"{source}: manifest field '{field}': expected {expected}, got {str(given)[:60]!r}")


_OPTIONAL = {"params", "release", "schema", "layout", "normalisation", "artifact_sha256", "checks", "cpu_checks"}


def _require(data: dict, cls: type, source: str, where: str) -> None:
    for f in fields(cls):
        if f.name not in _OPTIONAL and f.name not in data:
            raise ManifestError(f"{source}: manifest field '{where}.{f.name}' is missing")


def _sub(cls: type, data: Any, source: str, where: str):
    if not isinstance(data, dict):
        raise ManifestError(f"{source}: manifest field '{where}': expected an object, got {data!r}")
    _require(data, cls, source, where)
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in known})


def _tensor(data: Any, source: str, where: str) -> TensorInfo:
    t = _sub(TensorInfo, data, source, where)
    _expect(isinstance(t.name, str) and t.name != "", source, f"{where}.name", "a name", t.name)
    _expect(isinstance(t.shape, list) and all(d is None or (isinstance(d, int) and not isinstance(d, bool) and d >= 0)
                                              for d in t.shape), source, f"{where}.shape", "a list of sizes or null", t.shape)
    _expect(isinstance(t.dtype, str), source, f"{where}.dtype", "a dtype name", t.dtype)
    try:
        np.dtype(t.dtype)
    except TypeError:
        _expect(False, source, f"{where}.dtype", "a numpy dtype name", t.dtype)
    return TensorInfo(t.name, tuple(t.shape), t.dtype, t.layout, t.normalisation)


def _cpu_check(data: Any, source: str, where: str) -> CpuCheck:
    c = _sub(CpuCheck, data, source, where)
    for name in ("cpu", "how"):
        _expect(isinstance(getattr(c, name), str), source, f"{where}.{name}", "a string", getattr(c, name))
    _expect(isinstance(c.passed, bool), source, f"{where}.passed", "true or false", c.passed)
    for name in ("metric", "drop_points", "agreement"):
        value = getattr(c, name)
        _expect(isinstance(value, (int, float)) and not isinstance(value, bool), source, f"{where}.{name}", "a number", value)
    return c
