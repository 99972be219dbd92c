"""The export engine: a training run's Keras models -> ONNX and TFLite artifacts, each carrying the
manifest and checked against the Keras reference on held-out rows; a recommendation of what to ship.

``export_run(run_dir, options)`` writes ``artifacts/<name>`` for each requested ``ArtifactSpec`` and
``validation.json`` (every check, the int8 candidates tried, the recommendation). An artifact outside
its budget fails the export with its numbers, after all artifacts were checked.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from edgeward.errors import ExportError, InputError
from edgeward.export.artifacts import (Activations, ArtifactSpec, Calibration, Format, Precision, Source, all_specs,
                                       excluded)
from edgeward.export.validate import ArtifactCheck, Budget, check_outputs, raise_failures
from edgeward.export.tasks import adapter_for
from edgeward.manifest import Manifest, Metric
from edgeward.runtime.model import Model
from edgeward.train.task_data import read_report

ARTIFACTS = "artifacts"
HOLDOUT_FILE = "holdout.npz"
VALIDATION_FILE = "validation.json"


@dataclass(frozen=True)
class ExportOptions:
    specs: tuple[ArtifactSpec, ...] = (ArtifactSpec(Format.ONNX, Precision.FP32),)
    budget: Budget = Budget()
    search: bool = False  # try int8 candidates until the metric drop is within budget.max_drop
    device: str = "auto"  # the target: where artifacts are checked and timed for the recommendation
    calibration_rows: int = 5000  # training rows; 1000 left the fraud int8 model 2 AUPRC points down, 5000 0.3
    recommend: bool = True


@dataclass
class ExportReport:
    run: Path
    checks: list[ArtifactCheck]
    errors: dict[str, str] = field(default_factory=dict)
    search: list[dict] = field(default_factory=list)
    recommendation: dict | None = None


class RunData:
    """A run directory's models, held-out rows and task metadata, loaded on demand."""

    def __init__(self, run_dir: str | os.PathLike):
        self.dir = Path(run_dir)
        self.report = read_report(self.dir)
        self.task = adapter_for(self.report, self.dir)
        if not (self.dir / Source.BASE.file).exists():
            raise InputError(f"{self.dir}: expected a training run directory with model.keras, got none")
        holdout = np.load(self.dir / HOLDOUT_FILE)
        self.x, self.y = holdout["x_test"], holdout["y_test"]
        self._models: dict[Source, tuple] = {}
        self._refs: dict[Source, np.ndarray] = {}
        self._onnx_fp32: dict[Source, bytes] = {}
        self._train_x: np.ndarray | None = None

    def model(self, source: Source):
        from edgeward.train.keras_io import KerasFlavor, load_keras

        if source not in self._models:
            path = self.dir / source.file
            if not path.exists():
                raise InputError(f"{path}: not found; make it with `edgeward compress {self.dir}`")
            model, flavor = load_keras(path)
            self._models[source] = (model, flavor is KerasFlavor.KERAS3)
        return self._models[source]

    def reference(self, source: Source) -> np.ndarray:
        if source not in self._refs:
            model, _ = self.model(source)
            batch = int(np.clip((64 << 20) // max(self.x[0].nbytes, 1), 1, 4096))  # inputs of at most 64 MB a batch
            self._refs[source] = np.asarray(model.predict(self.x, batch_size=batch, verbose=0))
        return self._refs[source]

    def onnx_fp32(self, source: Source) -> bytes:
        from edgeward.export.onnx_export import keras_to_onnx

        if source not in self._onnx_fp32:
            model, keras3 = self.model(source)
            self._onnx_fp32[source] = keras_to_onnx(model, self.task.input_name, keras3).SerializeToString()
        return self._onnx_fp32[source]

    def calibration(self, rows: int) -> np.ndarray:
        """``rows`` training rows (never held-out ones), an even sample across time. The training set is
        loaded once; each caller gets the sample size it asked for."""
        cap = self.task.max_calibration
        if self._train_x is None:
            from edgeward.train.task_data import load_task_data

            self._train_x = load_task_data(self.dir, train_sample=cap).x_train
        x = self._train_x
        rows = min(rows, cap or rows)
        return x[np.linspace(0, len(x) - 1, min(rows, len(x))).astype(int)]

    def float_prefix(self, source: Source) -> bool:
        """Whether the model starts with preprocessing layers (Normalization, Rescaling) that take raw
        values: those stay in float in fp16 and int8 artifacts."""
        from edgeward.train.tf_env import keras

        model, keras3 = self.model(source)
        if keras3:
            import keras as k3

            types = (k3.layers.Normalization, k3.layers.Rescaling)
        else:
            types = (keras().layers.Normalization, keras().layers.Rescaling)
        for layer in model.layers:
            if isinstance(layer, types):
                return True
            if layer.weights:
                return False
        return False


def build(run: RunData, spec: ArtifactSpec, calibration_rows: int) -> bytes:
    """The artifact's bytes, before the manifest."""
    from edgeward.export.onnx_export import keras_to_onnx, to_fp16
    from edgeward.export.onnx_quantize import quantize_static_int8
    from edgeward.export.tflite_export import keras_to_tflite

    spec.check()
    model, keras3 = run.model(spec.source)
    if spec.format is Format.ONNX:
        if spec.source.is_qat:
            from edgeward.export.onnx_qdq import quantize_weights

            proto = keras_to_onnx(model, run.task.input_name)
            quantize_weights(proto)
            return proto.SerializeToString()
        if spec.precision is Precision.FP32:
            return run.onnx_fp32(spec.source)
        if spec.precision is Precision.FP16:
            import onnx

            return to_fp16(onnx.load_from_string(run.onnx_fp32(spec.source)), run.float_prefix(spec.source)).SerializeToString()
        return quantize_static_int8(run.onnx_fp32(spec.source), run.task.input_name, run.calibration(calibration_rows), spec,
                                    run.float_prefix(spec.source))
    # full-integer TFLite: 1,000 representative rows (300 left the DS-CNN 1.1 accuracy points down)
    representative = run.calibration(min(calibration_rows, 1000)) if spec.precision is Precision.INT8 and not spec.source.is_qat else None
    return keras_to_tflite(model, spec, representative, keras3)


def embed(spec: ArtifactSpec, data: bytes, manifest: Manifest) -> bytes:
    from edgeward.export import onnx_export, tflite_export

    return (onnx_export if spec.format is Format.ONNX else tflite_export).with_manifest(data, manifest)


def first_output_name(spec: ArtifactSpec, data: bytes) -> str:
    if spec.format is Format.ONNX:
        import onnx

        return onnx.load_from_string(data).graph.output[0].name
    return "output"  # the runtime reads TFLite outputs in order; converters name them after signature keys


def make_artifact(run: RunData, spec: ArtifactSpec, options: ExportOptions) -> ArtifactCheck:
    """Build, embed a provisional manifest, run it with the runtime, check it, embed the measured metrics."""
    raw = build(run, spec, options.calibration_rows)
    if spec.format is Format.ONNX:  # short names once the graph is final (int8 search matches nodes by name before)
        from edgeward.export.onnx_export import compact_names

        raw = compact_names(raw)
    output = first_output_name(spec, raw)
    data = embed(spec, raw, run.task.manifest(spec, output, ()))
    with Model(data, device=options.device) as artifact:
        out = artifact.run({run.task.input_name: run.x})[artifact.output_names[0]]
    by_diff = spec.precision in (Precision.FP32, Precision.FP16) and spec.source is Source.BASE
    tolerance = options.budget.fp16_tolerance if spec.precision is Precision.FP16 else options.budget.fp32_tolerance
    check = check_outputs(
        out, run.reference(spec.source), run.reference(Source.BASE), run.y, run.task.metric, run.task.decide, by_diff, tolerance,
        options.budget.max_drop, artifact=spec.name, format=spec.format.value, precision=spec.precision.value,
        source=spec.source.value, method=spec.describe(), size_bytes=len(data),
    )
    if not by_diff and spec.precision in (Precision.FP32, Precision.FP16) and check.max_abs_diff > tolerance:
        # a pruned fp32/fp16 artifact must still match its own Keras model
        check = _fail(check, f"max abs diff {check.max_abs_diff:.2e} > {tolerance:g} vs its Keras model; " + check.reason)
    on = f"this artifact, held-out tail ({len(run.y)} rows)"
    metrics = (Metric(check.metric_name, round(check.metric, 6), on),
               *(Metric(name, round(value, 6), on) for name, value in run.task.extra_metrics(run.y, out)),
               Metric("decision_agreement", round(check.agreement, 6), on))
    final = embed(spec, raw, run.task.manifest(spec, output, metrics))
    path = run.dir / ARTIFACTS / spec.name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(final)
    return check.__class__(**{**check.as_dict(), "size_bytes": len(final)})


def _fail(check: ArtifactCheck, reason: str) -> ArtifactCheck:
    return check.__class__(**{**check.as_dict(), "passed": False, "reason": reason})


def search_int8(run: RunData, spec: ArtifactSpec, options: ExportOptions, tried: list[dict]) -> ArtifactCheck:
    """ONNX post-training int8 candidates until the metric drop is within budget; the best one if none is.

    First per-channel on and off with each calibration method; then the best of those with the most
    sensitive compute nodes (largest fp32-vs-int8 activation error) kept in float, one more at a time.
    """
    from edgeward.export.onnx_quantize import sensitive_nodes

    best: tuple[ArtifactCheck, ArtifactSpec] | None = None

    def attempt(candidate: ArtifactSpec) -> ArtifactCheck:
        nonlocal best
        check = make_artifact(run, candidate, options)
        entry = {"method": candidate.describe(), "drop_points": round(check.drop_points, 3), "passed": check.passed}
        if candidate.exclude_nodes:
            entry["excluded"] = list(candidate.exclude_nodes)
        tried.append(entry)
        if best is None or check.drop_points < best[0].drop_points:
            best = (check, candidate)
        return check

    for per_channel in (True, False):
        for method in Calibration:
            if attempt(spec.but(per_channel=per_channel, calibration=method)).passed:
                return best[0]
    base = best[1]
    int8 = build(run, base, options.calibration_rows)
    ranked = sensitive_nodes(run.onnx_fp32(spec.source), int8, run.task.input_name, run.calibration(options.calibration_rows))
    for k in range(1, len(ranked)):
        if attempt(base.but(exclude_nodes=tuple(name for name, _ in ranked[:k]))).passed:
            return best[0]
    return make_artifact(run, best[1], options)  # none within budget: keep the best, which fails with its numbers


def export_run(run_dir: str | os.PathLike, options: ExportOptions = ExportOptions(), progress: bool = False) -> ExportReport:
    from tqdm import tqdm

    run = RunData(run_dir)
    report = ExportReport(run.dir, [])
    options = replace(options, specs=for_target(options.specs, options.device))
    for spec in options.specs:
        why = excluded(spec, run.float_prefix(spec.source))
        if why:
            raise InputError(f"{spec.name}: not supported for this model: {why}")
    for spec in tqdm(options.specs, desc="exporting", unit="artifact", disable=not progress, leave=False):
        try:
            if options.search and spec.format is Format.ONNX and spec.precision is Precision.INT8 and not spec.source.is_qat:
                check = search_int8(run, spec, options, report.search)
            else:
                check = make_artifact(run, spec, options)
            report.checks.append(check)
        except ExportError as exc:
            report.errors[spec.name] = str(exc)
    old = json.loads((run.dir / VALIDATION_FILE).read_text()) if (run.dir / VALIDATION_FILE).exists() else {}
    entries = _merged_entries(old, report)
    if options.recommend and report.checks:
        from edgeward.export.recommend import recommend

        # over every artifact of the run within budget, exported now or before
        known = [ArtifactCheck(**e) for e in entries if "metric" in e and (run.dir / ARTIFACTS / e["artifact"]).exists()]
        report.recommendation = recommend(run.dir / ARTIFACTS, known, run.x, options.device)
    _write_validation(run.dir, report, entries, old)
    raise_failures(report.checks, report.errors)
    return report


def for_target(specs: tuple[ArtifactSpec, ...], device: str) -> tuple[ArtifactSpec, ...]:
    """ONNX post-training int8 with symmetric int8 activations where the target runs TensorRT (it
    accepts nothing else); uint8 activations, onnxruntime's fast CPU path, everywhere else."""
    from edgeward.devices import resolve

    if "TensorrtExecutionProvider" not in resolve(device).providers:
        return tuple(specs)
    return tuple(s.but(activations=Activations.S8) if s.format is Format.ONNX and s.precision is Precision.INT8
                 and not s.source.is_qat else s for s in specs)


def available_specs(run_dir: str | os.PathLike) -> tuple[ArtifactSpec, ...]:
    """Every artifact this run supports, from the models it has (base, and compressed ones if made)."""
    run = RunData(run_dir)
    sources = [s for s in Source if (run.dir / s.file).exists()]
    return tuple(all_specs(sources, run.float_prefix(Source.BASE)))


def _merged_entries(old: dict, report: ExportReport) -> list[dict]:
    """The validation record: earlier exports' entries, replaced by this export's for the same artifacts."""
    names = {c.artifact for c in report.checks} | set(report.errors)
    entries = [e for e in old.get("artifacts", []) if e["artifact"] not in names]
    entries += [c.as_dict() for c in report.checks]
    entries += [{"artifact": n, "passed": False, "reason": m} for n, m in report.errors.items()]
    return entries


def _write_validation(run: Path, report: ExportReport, entries: list[dict], old: dict) -> None:
    out = {"artifacts": entries, "search": report.search or old.get("search", []),
           "recommendation": report.recommendation or old.get("recommendation")}
    (run / VALIDATION_FILE).write_text(json.dumps(out, indent=2))
