"""Model files run on given inputs on whatever CPU runs this, with the CPU class it saw: the worker that the export
runs on each CPU class a file is checked on (natively, or under user-mode QEMU: ``edgeward.devices.emulators``).

    python -m edgeward.runtime.services.replay SPEC.json

SPEC: ``{"feeds": "inputs.npz", "artifacts": ["a.onnx", ...], "out": "outputs.npz"}``. Each artifact runs through
``Model`` on the CPU profile, one thread, on every row of the feeds (by input name); its outputs go to OUT as
``"<index>/<output name>"``. The last line printed is JSON: the CPU class this process saw (``cpu.running_class``)
and each artifact's output names, in the file's order.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np


def replay(spec: dict) -> dict:
    from edgeward.devices import cpu_profile
    from edgeward.devices.cpu import running_class
    from edgeward.runtime.engine.model import Model, UncheckedCpuWarning

    with np.load(spec["feeds"]) as f:
        feeds = {k: f[k] for k in f.files}
    arrays, names = {}, []
    for i, artifact in enumerate(spec["artifacts"]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UncheckedCpuWarning)  # this is the check
            model = Model(artifact, device=cpu_profile(), threads=1)
        with model:
            out = model.run(feeds)
            names.append(list(model.output_names))
        arrays.update({f"{i}/{name}": value for name, value in out.items()})
    np.savez(spec["out"], **arrays)
    seen = running_class()
    return {"cpu": seen.value if seen else None, "outputs": names}


if __name__ == "__main__":
    print(json.dumps(replay(json.loads(Path(sys.argv[1]).read_text()))))
