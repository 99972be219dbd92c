"""The demo's export step for the tasks whose demo exports fp32 and int8, ONNX and TFLite (ONNX alone in the quick
demo)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from edgeward.core.task import DemoStep


def export_step(run: Path, max_drop: float, metric_text: Callable, full: bool = True) -> DemoStep:
    """Export with the int8 search; ``metric_text(check)`` says an artifact's metric. A short training can
    leave int8 outside the budget: the step then says so, and the demo goes on with the rest. ``full``: ONNX and
    TFLite, with the search; else (the quick demo) ONNX alone, int8 at its default settings."""
    from edgeward.export.artifacts import ArtifactSpec, Format, Precision
    from edgeward.export.engine import ExportOptions, export_run
    from edgeward.export.validate import Budget, ValidationError

    formats = (Format.ONNX, Format.TFLITE) if full else (Format.ONNX,)
    specs = tuple(ArtifactSpec(f, p) for f in formats for p in (Precision.FP32, Precision.INT8))

    def export() -> str:
        try:
            # the quick demo exports int8 with the default settings, no search: one candidate (a short training's model
            # can send the search through every candidate, minutes of the quick demo's few)
            e = export_run(run, ExportOptions(specs=specs, budget=Budget(max_drop=max_drop), search=full), progress=True)
        except ValidationError as exc:
            return str(exc)
        return ", ".join(f"{c.artifact} {metric_text(c)}" for c in e.checks) + f"; recommended {e.recommendation['artifact']}"

    return DemoStep(f"export {' and '.join(f.value.upper().replace('TFLITE', 'TFLite') for f in formats)}, fp32 and "
                    "int8, checked against Keras", export, str)
