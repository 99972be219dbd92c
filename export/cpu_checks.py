"""int8 files run on each CPU class they are meant for, from this one machine (``edgeward.devices.emulators``).

Integer kernels differ by instruction set (``edgeward.devices.cpu``), so an int8 file checked on the machine that
exported it says nothing yet about another class. Here the same held-out rows go through the file on each target
class, in one worker process per class for all the files at once (``edgeward.runtime.services.replay``), and the outputs
come back to be judged exactly as the host's are. A worker that did not see the class it was started for (its
CPUID says otherwise) is an error, never a pass.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeward.core.errors import DeviceError
from edgeward.devices.cpu import CpuClass, running_class
from edgeward.devices.emulators import runner, unavailable

# an emulated CPU runs a model tens of times slower than the host: minutes for the largest zoo model's held-out rows
TIMEOUT_S = 3600


@dataclass(frozen=True)
class Targets:
    """The CPU classes a run's int8 files are made for (``classes``), and those this host can check them on."""

    classes: tuple[CpuClass, ...]
    host: CpuClass | None
    skipped: dict[CpuClass, str]  # a class this host cannot check: why

    @property
    def checkable(self) -> tuple[CpuClass, ...]:
        return tuple(c for c in self.classes if c not in self.skipped)

    @property
    def elsewhere(self) -> tuple[CpuClass, ...]:
        """The classes checked in a worker process: all but the host's own (the export checks that itself)."""
        return tuple(c for c in self.checkable if c is not self.host)


def targets(classes: tuple[CpuClass, ...], explicit: bool) -> Targets:
    """``explicit``: the user named the classes, and one this host cannot check is an error; otherwise (a device
    profile's classes) it is skipped, with the reason kept."""
    host = running_class()
    skipped = {c: why for c in classes if (why := unavailable(c, host))}
    if explicit and skipped:
        cls, why = next(iter(skipped.items()))
        raise DeviceError(f"--targets {cls.value}: this host cannot check int8 files on {cls.value}: {why}")
    return Targets(tuple(classes), host, skipped)


def run_on(cpu: CpuClass, files: list[bytes], feeds: dict[str, np.ndarray]) -> tuple[str, list[dict[str, np.ndarray]]]:
    """Each file's outputs on ``feeds``, computed on ``cpu``: how it was run, and one dict (output name -> array) a
    file."""
    with tempfile.TemporaryDirectory(prefix="edgeward-cpu-") as tmp, runner(cpu, running_class()) as r:
        tmp = Path(tmp)
        paths = []
        for i, data in enumerate(files):
            paths.append(tmp / f"{i}.{'tflite' if data[4:8] == b'TFL3' else 'onnx'}")
            paths[-1].write_bytes(data)
        np.savez(tmp / "feeds.npz", **feeds)
        spec = {"feeds": str(tmp / "feeds.npz"), "artifacts": [str(p) for p in paths], "out": str(tmp / "out.npz")}
        (tmp / "spec.json").write_text(json.dumps(spec))
        done = r.run(["-m", "edgeward.runtime.services.replay", str(tmp / "spec.json")], timeout=TIMEOUT_S)
        if done.returncode:
            tail = (done.stderr.strip().splitlines() or ["(nothing on stderr)"])[-1]
            raise DeviceError(f"the {cpu.value} check ({r.how}) failed: {tail}")
        report = json.loads(done.stdout.strip().splitlines()[-1])
        if report["cpu"] != cpu.value:
            raise DeviceError(f"the {cpu.value} check ({r.how}) ran on a CPU of class {report['cpu']}: not a check "
                              f"on {cpu.value}")
        with np.load(spec["out"]) as out:
            return r.how, [{name: out[f"{i}/{name}"] for name in names} for i, names in enumerate(report["outputs"])]
