"""The demo's export step for the tasks whose demo exports fp32 and int8, ONNX and TFLite."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from edgeward.core.task import DemoStep


def export_step(run: Path, max_drop: float, metric_text: Callable) -> DemoStep:
    """Export with the int8 search; ``metric_text(check)`` says an artifact's metric. A short training can
    leave int8 outside the budget: the step then says so, and the demo goes on with the rest."""
    from edgeward.export.artifacts import ArtifactSpec, Format, Precision
    from edgeward.export.engine import ExportOptions, export_run
    from edgeward.export.validate import Budget, ValidationError

    specs = tuple(ArtifactSpec(f, p) for f in (Format.ONNX, Format.TFLITE) for p in (Precision.FP32, Precision.INT8))

    def export() -> str:
        try:
            e = export_run(run, ExportOptions(specs=specs, budget=Budget(max_drop=max_drop), search=True), progress=True)
        except ValidationError as exc:
            return str(exc)
        return ", ".join(f"{c.artifact} {metric_text(c)}" for c in e.checks) + f"; recommended {e.recommendation['artifact']}"

    return DemoStep("export ONNX and TFLite, fp32 and int8, checked against Keras", export, str)
