"""Check each exported artifact against the Keras reference on held-out task data.

fp32 and fp16: max abs diff against the Keras model they came from, with a tolerance per precision.
int8 (and pruned models): the task metric's drop against the original fp32 Keras model, in points,
and the decision agreement with it. Every artifact is checked; then one ``ValidationError`` lists all
that fell outside their budget, with their numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from edgeward.core.errors import ParityError


class ValidationError(ParityError):
    """One or more artifacts are outside their budget."""


@dataclass(frozen=True)
class Budget:
    fp32_tolerance: float = 1e-5
    fp16_tolerance: float = 1e-2  # fp16 keeps ~3 significant digits
    max_drop: float = 1.0  # task-metric points (AUPRC x 100) for int8 and pruned artifacts


@dataclass(frozen=True)
class ArtifactCheck:
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

    def as_dict(self) -> dict:
        return asdict(self)


def check_outputs(out: np.ndarray, source_ref: np.ndarray, base_ref: np.ndarray, y: np.ndarray, metric, decide,
                  by_diff: bool, tolerance: float, max_drop: float, agreement=None, **fields) -> ArtifactCheck:
    """Judge one artifact's outputs on the held-out rows. ``agreement(reference, out)``: the share of rows that
    agree with the original Keras model's (default: equal ``decide``)."""
    out64, src64 = out.astype(np.float64).reshape(len(y), -1), source_ref.astype(np.float64).reshape(len(y), -1)
    diff = float(np.abs(out64 - src64).max(initial=0.0)) if out64.shape == src64.shape else float("inf")
    value, reference = metric(y, out), metric(y, base_ref)
    drop = round((reference - value) * 100.0, 9)  # one row in 100 is a drop of 1 point, not 1.0000000000000009
    agreed = float(agreement(base_ref, out)) if agreement else float((decide(out) == decide(base_ref)).mean())
    if by_diff:
        passed = diff <= tolerance
        reason = (f"max abs diff {diff:.2e} {'<=' if passed else '>'} {tolerance:g}"
                  if out64.shape == src64.shape else f"output shape {out.shape}, Keras {source_ref.shape}")
        check, budget = "max abs diff vs keras", tolerance
    else:
        passed = drop <= max_drop
        reason = f"{metric.__name__} drop {drop:+.2f} points {'<=' if passed else '>'} {max_drop:g}; agreement {agreed:.2%}"
        check, budget = "metric drop vs fp32 keras", max_drop
    return ArtifactCheck(rows=len(y), max_abs_diff=diff, metric_name=metric.__name__, metric=value,
                         reference_metric=reference, drop_points=drop, agreement=agreed, check=check,
                         budget=budget, passed=passed, reason=reason, **fields)


def raise_failures(checks: list[ArtifactCheck], errors: dict[str, str]) -> None:
    failed = [f"{c.artifact}: {c.reason}" for c in checks if not c.passed]
    failed += [f"{name}: {message}" for name, message in errors.items()]
    if failed:
        raise ValidationError(f"{len(failed)} artifact(s) outside their budget or not exported: " + "; ".join(failed))
