"""Which artifact to ship on the target: the fastest one within budget, measured there, not assumed.

int8 is not always faster (on CPUs without VNNI/dot-product instructions, or for tiny models, QDQ
overhead can dominate): an int8 artifact slower than fp32 is reported as such, and an artifact must be
at least ``MARGIN`` faster than the fp32 reference to replace it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeward.devices import resolve
from edgeward.export.timing import single_row
from edgeward.runtime.model import Model

MARGIN = 0.05  # 5%: below that, timing noise on a shared machine decides


def recommend(artifact_dir: Path, checks: list, feeds: dict[str, np.ndarray], device: str = "auto", calls: int = 400) -> dict:
    """``feeds``: held-out rows by input name, timed one row at a time."""
    profile = resolve(device)
    runnable = {"onnx" if b.value == "onnxruntime" else b.value for b in profile.backends}
    candidates = [c for c in checks if c.passed and c.format in runnable]
    if not candidates:
        return {"device": profile.name, "artifact": None, "reason": "no artifact is within its budget"}
    latency = {}
    for c in candidates:
        with Model(artifact_dir / c.artifact, device=profile) as m:
            latency[c.artifact] = single_row(lambda r: m.run(r, validate=False), feeds, calls)["p50_us"]
    fp32 = next((c for c in candidates if c.precision == "fp32" and c.source == "base" and c.format == profile.format),
                next((c for c in candidates if c.precision == "fp32" and c.source == "base"), None))
    quickest = min(latency.values())
    # among the artifacts within MARGIN of the quickest (a tie, on a shared machine): the most accurate, then the smallest
    near = [c for c in candidates if latency[c.artifact] <= quickest * (1 + MARGIN)]
    fastest = max(near, key=lambda c: (round(c.metric, 4), -c.size_bytes))
    if fp32 is None or fastest is fp32:
        choice, reason = fastest, "fastest single-row latency on this target among artifacts within budget"
    elif latency[fastest.artifact] <= (1 - MARGIN) * latency[fp32.artifact]:
        choice = fastest
        reason = (f"{latency[fastest.artifact]:.1f} us vs {latency[fp32.artifact]:.1f} us for {fp32.artifact} "
                  f"({latency[fp32.artifact] / latency[fastest.artifact]:.2f}x faster); the most accurate of the "
                  f"artifacts within {MARGIN:.0%} of the quickest, all within budget")
    else:
        choice = fp32
        reason = (f"no artifact is at least {MARGIN:.0%} faster than {fp32.artifact} here (best: {fastest.artifact} "
                  f"{latency[fastest.artifact]:.1f} us vs {latency[fp32.artifact]:.1f} us): fp32 stays")
    reference = {c.format: latency[c.artifact] for c in candidates if c.precision == "fp32" and c.source == "base"}
    slower = [c.artifact for c in candidates
              if c.precision.startswith("int8") and c.format in reference and latency[c.artifact] > reference[c.format]]
    if slower:
        reason += f"; int8 slower than fp32 of the same format on this target: {', '.join(slower)}"
    return {"device": profile.name, "threads": profile.num_threads, "artifact": choice.artifact, "reason": reason,
            "latency_p50_us": {k: round(v, 2) for k, v in latency.items()}, "int8_slower_than_fp32": slower}
