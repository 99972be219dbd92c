"""Which artifact to ship on the target: among those that pass their checks (int8 ones on every target CPU class),
the fastest, measured as ``edgeward bench`` measures (``single_row_latency``: single-row p50 through ``Model.run``
on the profile's threads), or the smallest where the profile prefers size. Never one that the same measurement
shows slower than another passing artifact: int8 is not always faster (on CPUs without VNNI or dot products, and
for tiny models, QDQ overhead can dominate), so whatever is quickest here is named, int8 or not.
"""

from __future__ import annotations

import statistics
import warnings
from pathlib import Path

import numpy as np

from edgeward.devices import Profile, resolve
from edgeward.devices.profiles import Prefer
from edgeward.export.timing import Rows, single_row

ROUNDS = 5  # the candidates take turns, so that a busy moment of a shared machine falls on all of them alike


def runnable_formats(profile: Profile) -> set[str]:
    return {"onnx" if b.value == "onnxruntime" else b.value for b in profile.backends}


def timed_model(data: bytes | Path, profile: Profile, threads: int):
    """The artifact loaded as the benchmark and the recommendation time it (speed, not accuracy: no CPU warning)."""
    from edgeward.runtime.engine.model import Model, UncheckedCpuWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncheckedCpuWarning)
        return Model(data, device=profile, threads=threads)


def single_row_latency(model, rows: Rows, calls: int) -> dict:
    """Single-row latency percentiles of ``model.run`` (inputs already checked): the benchmark's measure, and the
    recommendation's."""
    name = model.input_names[0]
    return single_row(lambda r: model.run(r if isinstance(r, dict) else {name: r}, validate=False), rows, calls)


def choose(checks: list, latency_us: dict[str, float], profile: Profile) -> dict:
    """The recommendation among the checks that passed, from their measured latencies (artifact -> p50 us)."""
    threads = profile.num_threads
    candidates = [c for c in checks if c.passed and c.artifact in latency_us]
    if not candidates:
        return {"device": profile.name, "artifact": None,
                "reason": "no artifact passed its checks (int8 files: on every target CPU class)"}
    ranked = sorted(candidates, key=lambda c: (latency_us[c.artifact], c.size_bytes))
    if profile.prefer is Prefer.SIZE:
        choice = min(candidates, key=lambda c: (c.size_bytes, latency_us[c.artifact]))
        reason = (f"the smallest of the {len(candidates)} artifacts that pass ({choice.size_bytes:,} bytes; the profile "
                  f"prefers size), {latency_us[choice.artifact]:.1f} us single-row p50 on {threads} thread(s)")
    else:
        choice = ranked[0]
        reason = f"the fastest of the {len(candidates)} artifacts that pass: {latency_us[choice.artifact]:.1f} us single-row p50 on {threads} thread(s)"
        if len(ranked) > 1:
            reason += f"; next {ranked[1].artifact} at {latency_us[ranked[1].artifact]:.1f} us"
    fp32 = {c.format: latency_us[c.artifact] for c in candidates if c.precision == "fp32" and c.source == "base"}
    slower = [c.artifact for c in candidates if c.precision.startswith("int8") and c.format in fp32
              and latency_us[c.artifact] > fp32[c.format]]
    if slower:
        reason += f"; int8 slower than fp32 of the same format on this target: {', '.join(slower)}"
    return {"device": profile.name, "threads": threads, "prefer": profile.prefer.value, "artifact": choice.artifact,
            "reason": reason, "measured": True, "latency_p50_us": {c.artifact: round(latency_us[c.artifact], 2) for c in ranked},
            "int8_slower_than_fp32": slower}


def default_choice(candidates: list, profile: Profile, lacking: str) -> dict:
    """The recommendation where the target cannot be timed here: the passing artifact of the profile's own format and
    precision (else its format in fp32, else the smallest), named as a default, not a measurement."""
    if not candidates:
        return {"device": profile.name, "artifact": None, "measured": False,
                "reason": "no artifact passed its checks (int8 files: on every target CPU class)"}
    choice = min(candidates, key=lambda c: (c.format != profile.format, c.precision != profile.precision,
                                            c.precision != "fp32", c.source != "base", c.size_bytes))
    reason = (f"the {profile.name} profile's default ({profile.format} {profile.precision}), not a measurement: this "
              f"host lacks {lacking}; export on the target to choose by its timings")
    if (choice.format, choice.precision) != (profile.format, profile.precision):
        reason += f" (no passing {profile.format} {profile.precision} artifact: {choice.format} {choice.precision})"
    return {"device": profile.name, "artifact": choice.artifact, "reason": reason, "measured": False}


def recommend(artifact_dir: Path, checks: list, feeds: dict[str, np.ndarray], device: str | Profile = "auto",
              calls: int = 400) -> dict:
    """``feeds``: held-out rows by input name, timed one row at a time; the candidates take turns in ``ROUNDS``
    rounds, and each one's latency is the median of its rounds' p50s. On a host that cannot run the target's
    providers (a GPU profile on a machine without one), the profile's default (``default_choice``)."""
    profile = resolve(device)
    candidates = [c for c in checks if c.passed and c.format in runnable_formats(profile)]
    lacking = profile.missing()
    if lacking:
        return default_choice(candidates, profile, lacking)
    rows = feeds if len(feeds) > 1 else next(iter(feeds.values()))
    models = {c.artifact: timed_model(artifact_dir / c.artifact, profile, profile.num_threads) for c in candidates}
    samples: dict[str, list[float]] = {name: [] for name in models}
    try:
        for _ in range(ROUNDS if models else 0):
            for name, model in models.items():
                samples[name].append(single_row_latency(model, rows, max(calls // ROUNDS, 1))["p50_us"])
    finally:
        for model in models.values():
            model.close()
    return choose(candidates, {k: statistics.median(v) for k, v in samples.items()}, profile)
