"""Check an exported artifact against the Keras reference on held-out rows.

Output names, then shapes, then values; every failure is collected, then one ``ParityError`` says
them all with the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeward.errors import ParityError
from edgeward.runtime.model import Model


@dataclass(frozen=True)
class ParityReport:
    artifact: str
    rows: int
    max_abs_diff: float
    mean_abs_diff: float
    tolerance: float
    passed: bool

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def check_parity(model: Model, x: dict[str, np.ndarray], reference: dict[str, np.ndarray], tolerance: float) -> ParityReport:
    """Run ``model`` on ``x`` and compare each output with ``reference``; raise ParityError on failure."""
    got = model.run(x)
    failures = []
    missing = [name for name in reference if name not in got]
    if missing:
        failures.append(f"outputs {missing} missing (artifact has {list(got)})")
    worst, mean = 0.0, 0.0
    for name, want in reference.items():
        if name not in got:
            continue
        have = got[name]
        if have.shape != want.shape:
            failures.append(f"output {name!r}: shape {have.shape}, reference {want.shape}")
            continue
        diff = np.abs(have.astype(np.float64) - want.astype(np.float64))
        worst, mean = max(worst, float(diff.max(initial=0.0))), max(mean, float(diff.mean()) if diff.size else 0.0)
        if not diff.max(initial=0.0) <= tolerance:
            i = np.unravel_index(int(np.argmax(diff)), diff.shape)
            failures.append(
                f"output {name!r}: max abs diff {float(diff[i]):.3g} > tolerance {tolerance:g} "
                f"(at {tuple(int(k) for k in i)}: artifact {float(have[i]):.6g}, keras {float(want[i]):.6g}; "
                f"{int((diff > tolerance).sum())} of {diff.size} values outside)"
            )
    rows = len(next(iter(x.values())))
    report = ParityReport(model.source, rows, worst, mean, tolerance, not failures)
    if failures:
        raise ParityError(f"{model.source}: parity check on {rows} held-out rows failed: " + "; ".join(failures))
    return report
