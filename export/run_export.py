"""Export a training run directory to deployable artifacts, each checked against the Keras model.

``export_run(run_dir)`` reads ``model.keras``, ``train.json`` and ``holdout.npz`` written by
training, writes ``artifacts/model.onnx`` (or ``model.tflite``) with the manifest, checks it on the
held-out rows, and records the check in ``validation.json`` (one entry per artifact). A failed check raises ``ParityError`` with the numbers (the artifact is
kept for inspection and the validation report says it failed).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np

from edgeward.errors import InputError, ParityError
from edgeward.export.onnx_export import keras_to_onnx
from edgeward.export.tflite_export import keras_to_tflite
from edgeward.export.provenance import provenance
from edgeward.export.validate import ParityReport, check_parity
from edgeward.manifest import Manifest, Metric, Task, TensorInfo
from edgeward.runtime.model import Model

ARTIFACTS = "artifacts"
VALIDATION_FILE = "validation.json"


class Format(str, Enum):
    ONNX = "onnx"
    TFLITE = "tflite"  # fp32 here; int8 and fp16 variants come with the compression engine


@dataclass(frozen=True)
class ExportOptions:
    format: Format = Format.ONNX
    tolerance: float = 1e-5  # max abs diff against Keras, fp32
    device: str = "auto"  # where the artifact is checked


@dataclass(frozen=True)
class ExportResult:
    artifact: Path
    manifest: Manifest
    parity: ParityReport


def read_run(run_dir: str | os.PathLike) -> tuple[Path, dict]:
    from edgeward.train.fraud import MODEL_FILE, REPORT_FILE

    run = Path(run_dir)
    for name in (MODEL_FILE, REPORT_FILE):
        if not (run / name).exists():
            raise InputError(f"{run}: expected a training run directory with {name}, got none (run `edgeward train` first)")
    return run, json.loads((run / REPORT_FILE).read_text())


def export_run(run_dir: str | os.PathLike, options: ExportOptions = ExportOptions()) -> ExportResult:
    from edgeward.train.fraud import HOLDOUT_FILE, MODEL_FILE
    from edgeward.train.tf_env import keras

    run, report = read_run(run_dir)
    if report.get("task") != Task.FRAUD.value:
        raise InputError(f"{run}: expected a fraud run, got task {report.get('task')!r}")
    model = keras().models.load_model(run / MODEL_FILE, compile=False)
    holdout = np.load(run / HOLDOUT_FILE)
    x_test = holdout["x_test"]
    n_features = len(report["features"])

    def manifest_for(output_names: list[str]) -> Manifest:
        return fraud_manifest(report, output_names, n_features, run / MODEL_FILE, options.format)

    target = run / ARTIFACTS / f"model.{options.format.value}"
    if options.format is Format.ONNX:
        path = keras_to_onnx(model, "features", target, manifest_for)
    else:
        path = keras_to_tflite(model, target, manifest_for)
    reference = model.predict(x_test, batch_size=4096, verbose=0)
    with Model(path, device=options.device) as artifact:
        output = artifact.output_names[0]
        try:
            parity = check_parity(artifact, {"features": x_test}, {output: reference}, options.tolerance)
        except ParityError:
            _write_validation(run, path, None, options)
            raise
        manifest = artifact.manifest
    _write_validation(run, path, parity, options)
    return ExportResult(path, manifest, parity)


def fraud_manifest(report: dict, output_names: list[str], n_features: int, source_model: Path,
                   fmt: Format = Format.ONNX) -> Manifest:
    split = report["data"]["split"]
    on = f"held-out time tail ({split['test']} rows, {split['test_frauds']} frauds)"
    return Manifest(
        task=Task.FRAUD, format=fmt.value, precision="fp32",
        inputs=(TensorInfo("features", (None, n_features), "float32", "NF", "inside-model"),),
        outputs=(TensorInfo(output_names[0].split(":")[0], (None, 1), "float32", "N1", "probability of fraud"),),
        labels=("legit", "fraud"), features=tuple(report["features"]),
        thresholds={"decision": float(report["threshold"])},
        metrics=tuple(Metric(k, round(v, 6), on) for k, v in report["metrics"]["model"].items()),
        provenance=provenance(source_model, report["data"]["sha256"]),
        params={"label": report["data"]["label"], "threshold_rule": "max F1 on the validation split"},
    )


def _write_validation(run: Path, artifact: Path, parity: ParityReport | None, options: ExportOptions) -> None:
    entry = {"artifact": str(artifact.relative_to(run)), "format": options.format.value, "precision": "fp32",
             "check": "max abs diff vs keras", "tolerance": options.tolerance, "passed": parity is not None}
    if parity is not None:
        entry.update(rows=parity.rows, max_abs_diff=parity.max_abs_diff, mean_abs_diff=parity.mean_abs_diff)
    path = run / VALIDATION_FILE
    entries = json.loads(path.read_text())["artifacts"] if path.exists() else []
    entries = [e for e in entries if e["artifact"] != entry["artifact"]] + [entry]
    path.write_text(json.dumps({"artifacts": entries}, indent=2))
