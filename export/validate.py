"""Check each exported artifact against the Keras reference on held-out task data.

fp32 and fp16: max abs diff against the Keras model they came from, with a tolerance per precision.
int8 (and pruned models): the task metric's drop against the original fp32 Keras model, in points,
and the decision agreement with it. int8 files are judged so on each CPU class they are made for as well
(``export.cpu_checks``). Every artifact is checked; then one ``ValidationError`` lists all that fell outside their
budget, with their numbers.

A check must be able to fail: where the reference model's outputs do not vary over the held-out rows (constant
outputs, or every row one class), any artifact that repeats them agrees, so such a check is ``degenerate``, never a
pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeward.core.errors import ConfigError, ParityError
from edgeward.core.records import ArtifactCheck


class ValidationError(ParityError):
    """One or more artifacts are outside their budget."""


@dataclass(frozen=True)
class Budget:
    """How far an artifact may be from its Keras model (``export --tolerance``, ``--max-drop``)."""

    fp32_tolerance: float = 1e-5
    fp16_tolerance: float = 1e-2  # fp16 keeps ~3 significant digits
    max_drop: float = 1.0  # task-metric points (AUPRC x 100) for int8 and pruned artifacts

    def __post_init__(self):
        # a tolerance of 0 asks for the same bits; a negative max_drop, for a gain
        for name, flag, value, at_least_0 in (("fp32_tolerance", "--tolerance", self.fp32_tolerance, True),
                                            ("fp16_tolerance", "", self.fp16_tolerance, True),
                                            ("max_drop", "--max-drop", self.max_drop, False)):
            number = isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) < float("inf")
            if not number or (at_least_0 and value < 0):
                expected = "a number >= 0" if at_least_0 else "a finite number"
                raise ConfigError(f"{name}{f' ({flag})' if flag else ''}: expected {expected}, got {value!r}")


SPREAD = 1e-6  # outputs that vary less than this (relative to their size, at least 1) over the rows do not vary


def degenerate(reference: np.ndarray, decisions: np.ndarray | None = None) -> str:
    """Why the reference's outputs on the held-out rows cannot tell a good artifact from a broken one, or "".
    ``decisions``: the reference's class for each row, where its outputs are class probabilities."""
    ref = np.asarray(reference, np.float64).reshape(len(reference), -1)
    if len(ref) < 2:
        return f"{len(ref)} held-out row: nothing to vary over"
    spread = float((ref.max(axis=0) - ref.min(axis=0)).max(initial=0.0))
    if spread <= SPREAD * max(float(np.abs(ref).max(initial=0.0)), 1.0):
        return f"the reference model's outputs do not vary over the {len(ref)} held-out rows (spread {spread:.1e})"
    if decisions is not None and len(np.unique(np.asarray(decisions))) == 1:
        return f"the reference model gives every one of the {len(ref)} held-out rows the same class ({decisions[0]})"
    return ""


def check_outputs(out: np.ndarray, source_ref: np.ndarray, base_ref: np.ndarray, y: np.ndarray, metric, decide,
                  by_diff: bool, tolerance: float, max_drop: float, agreement=None, degenerate: str = "",
                  **fields) -> ArtifactCheck:
    """Judge one artifact's outputs on the held-out rows. ``agreement(reference, out)``: the share of rows that
    agree with the original Keras model's (default: equal ``decide``). ``degenerate``: why the reference cannot
    tell (the check is then not passed, whatever its numbers)."""
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
    if degenerate:
        passed, reason = False, f"degenerate: {degenerate} (the check's numbers: {reason})"
    return ArtifactCheck(rows=len(y), max_abs_diff=diff, metric_name=metric.__name__, metric=value,
                         reference_metric=reference, drop_points=drop, agreement=agreed, check=check,
                         budget=budget, passed=passed, reason=reason, degenerate=degenerate, **fields)


def raise_failures(checks: list[ArtifactCheck], errors: dict[str, str]) -> None:
    """One ValidationError for every artifact outside its budget (a degenerate check is reported, not raised: the
    artifact may be fine, and no check here can say)."""
    failed = [f"{c.artifact}: {c.reason}" for c in checks if not c.passed and not c.degenerate]
    failed += [f"{name}: {message}" for name, message in errors.items()]
    if failed:
        raise ValidationError(f"{len(failed)} artifact(s) outside their budget or not exported: " + "; ".join(failed))
