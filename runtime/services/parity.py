"""The same artifacts and inputs through each task's runtime, on whatever machine this runs on: the worker half of
``make arm64-check``, which runs it once on x86 and once on aarch64 under emulation and compares the two.

For each artifact: its raw outputs on seeded inputs of its own input shapes, and what its task's runtime class
makes of a real input of the kind it names (``parity_feed``, ``parity_results``: rows, a WAV stream or video frames,
as the class chooses), with decision thresholds set low so that the tiny test models decide
something (each runtime class sets its own); the class compares two machines' results (``parity_compare``). Also: the device profile picked here, and
whether each arm64 profile's backend and providers work with this onnxruntime. ``compare`` sets two machines'
results side by side.

    python -m edgeward.runtime.services.parity SPEC.json OUT.json     (writes OUT.json and OUT.npz)
"""

from __future__ import annotations

import json
import platform
import sys
import warnings
from pathlib import Path

import numpy as np

from edgeward.runtime.engine.model import PARITY_FP32_TOLERANCE as FP32_TOLERANCE
from edgeward.runtime.registry import runtime_class

PROFILES = ("arm64-cpu", "raspberry-pi-4", "raspberry-pi-5")
RAW_BATCH = 4


def raw_outputs(artifact: str, seed: int = 0) -> dict[str, np.ndarray]:
    """The model's outputs on seeded inputs of its own shapes (None dimensions: ``RAW_BATCH``)."""
    from edgeward.runtime.engine.model import Model

    with Model(artifact, device="auto", threads=1) as model:
        return model.run(model.example_inputs(RAW_BATCH, seed))


def decoded(video: str, frames: int = 30) -> np.ndarray:
    """The first frames of a video file as this machine's OpenCV decodes them."""
    from edgeward.runtime.io.video import read_frames

    return np.stack(read_frames(video)[:frames])


def profiles_here(artifact: str) -> dict:
    """The profile ``auto`` picks on this host, and for each arm64 profile whether a session runs with it."""
    from edgeward.core.errors import EdgewardError
    from edgeward.devices import closest_profile, this_host
    from edgeward.runtime.engine.model import Model

    host = this_host()
    result = {"machine": platform.machine(), "python": platform.python_version(), "auto": closest_profile(host).name,
              "providers": list(host.providers), "profiles": {}}
    for name in PROFILES:
        try:
            with Model(artifact, device=name, threads=1) as model:
                model.run({t.name: np.zeros([1 if d is None else d for d in t.shape], t.dtype) for t in model.manifest.inputs})
                result["profiles"][name] = f"ok: {model.backend.value} {', '.join(model.providers)}"
        except EdgewardError as exc:
            result["profiles"][name] = f"error: {exc}"
    return result


def compare(x86: dict, arm: dict, x86_raw, arm_raw, names: tuple[str, str] = ("x86", "arm64")) -> list[dict]:
    """One row per artifact: the raw outputs' difference, and the task's own results compared (fp32: values within
    ``FP32_TOLERANCE`` and no decision differs; fp16 and int8: no decision differs, else each one is listed).
    ``names``: the two machines, for the text."""
    rows = []
    for i, (a, b) in enumerate(zip(x86["artifacts"], arm["artifacts"])):
        keys = [k for k in x86_raw.files if k.startswith(f"{i}:")]
        raw = max(float(np.abs(x86_raw[k].astype(np.float64) - arm_raw[k].astype(np.float64)).max()) for k in keys)
        row = {"task": a["task"], "artifact": a["name"], "int8": a["int8"], "raw_max_abs_diff": raw}
        row["values"], differ, row["decisions"] = runtime_class(a["task"]).parity_compare(a, b, names)
        row["differences"] = differ[:20]
        same_values = raw <= FP32_TOLERANCE and row["values"] <= FP32_TOLERANCE * 100  # scores as written: 6 decimals
        row["ok"] = not differ and (row["int8"] or same_values)
        rows.append(row)
    return rows


def run(spec: dict, out: Path) -> None:
    from edgeward.runtime.engine.model import UncheckedCpuWarning

    warnings.simplefilter("ignore", UncheckedCpuWarning)  # comparing machines is the point here
    results, arrays = {"host": profiles_here(spec["profile_model"]), "artifacts": []}, {}
    if spec.get("video"):
        arrays["decoded"] = decoded(spec["video"])
    for i, item in enumerate(spec["artifacts"]):
        for name, value in raw_outputs(item["artifact"]).items():
            arrays[f"{i}:{name}"] = value
        found = runtime_class(item["task"]).parity_results(item["artifact"], item["input"])
        arrays.update({f"{i}:{k}": found.pop(k) for k in [k for k in found if k.startswith("array:")]})
        results["artifacts"].append({**item, **found})
    out.write_text(json.dumps(results))
    np.savez(out.with_suffix(".npz"), **arrays)


if __name__ == "__main__":
    run(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))
