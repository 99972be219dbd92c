"""How this host runs edgeward's runtime on each CPU class: natively on its own class, or under user-mode QEMU.

- The host's own class: this Python.
- ``avx2`` on an x86-64 host with VNNI: this same Python under ``qemu-x86_64`` with a Haswell CPU (AVX2, no
  AVX-512, no VNNI), so that onnxruntime and LiteRT pick their AVX2 kernels (Debian's ``qemu-user``).
- ``arm64`` on an x86-64 host: the aarch64 Python that ``make arm64-check`` builds (``devices/emulation``), with a
  Neoverse-N1 CPU, and a copy of this edgeward's runtime on its path.
- ``vnni`` needs a host with VNNI: QEMU does not emulate AVX-512 or AVX-VNNI.

Each runner's Python prints the class it saw (``cpu.running_class``, from the emulated CPUID): a check claims a
class only when the process that ran it saw that class.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from edgeward.core.errors import DeviceError
from edgeward.devices.cpu import X86, CpuClass

# Haswell with the features QEMU's TCG lacks turned off (it warns about each otherwise)
HASWELL = "Haswell-noTSX,-pcid,-x2apic,-tsc-deadline,-invpcid"
ARM64_CPU = "neoverse-n1"
ARM64_ROOT_VARIABLE = "EDGEWARD_ARM64_ROOT"
# what an emulated arm64 runtime needs of edgeward: a copy of these packages goes on its path
RUNTIME_PACKAGES = ("core", "devices", "runtime", "models")


@dataclass(frozen=True)
class Runner:
    """A Python command that runs on ``cpu``, and its environment."""

    cpu: CpuClass
    how: str  # for people: "this host", "qemu-x86_64 -cpu Haswell", ...
    command: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)

    def run(self, args: list[str], timeout: float) -> subprocess.CompletedProcess:
        return subprocess.run([*self.command, *args], env={**os.environ, **self.env}, capture_output=True, text=True,
                              timeout=timeout)


def arm64_root() -> Path:
    """Where the emulated aarch64 Python lives: $EDGEWARD_ARM64_ROOT, else the checkout's ``.arm64``."""
    return Path(os.environ.get(ARM64_ROOT_VARIABLE) or Path(__file__).resolve().parents[1] / ".arm64")


def qemu_x86_64() -> str | None:
    return shutil.which("qemu-x86_64") or shutil.which("qemu-x86_64-static")


def unavailable(cpu: CpuClass, host: CpuClass | None) -> str | None:
    """Why this host cannot run ``cpu``'s kernels, or None when it can."""
    if cpu is host:
        return None
    x86 = platform.machine().lower() in X86
    if cpu is CpuClass.VNNI:
        return "needs a host with AVX-512 VNNI or AVX-VNNI (QEMU emulates neither)"
    if cpu is CpuClass.AVX2:
        if not x86 or host is None:
            return "needs an x86-64 host with AVX2"
        if qemu_x86_64() is None:
            return "needs qemu-x86_64 (Debian: apt-get install --no-install-recommends qemu-user; make install does)"
        return None
    if not x86:
        return "needs an x86-64 host with the arm64 emulation, or an arm64 host"
    root = arm64_root()
    if not (root / "bin" / "python3").exists() or not (root / "site" / "onnxruntime").exists():
        return (f"needs the emulated aarch64 Python in {root} (`make arm64-check` builds it; or set "
                f"{ARM64_ROOT_VARIABLE})")
    return None


def how(cpu: CpuClass, host: CpuClass | None) -> str:
    """How this host runs ``cpu``'s kernels (where it can)."""
    if cpu is host:
        return "this host"
    return "qemu-x86_64 -cpu Haswell" if cpu is CpuClass.AVX2 else f"qemu-aarch64 -cpu {ARM64_CPU}"


@contextmanager
def runner(cpu: CpuClass, host: CpuClass | None):
    """A ``Runner`` for ``cpu`` while the block runs (an arm64 one has a copy of the runtime in a temporary folder);
    a DeviceError says why this host has none."""
    why = unavailable(cpu, host)
    if why:
        raise DeviceError(f"cannot check on {cpu.value}: {why}")
    if cpu is host:
        yield Runner(cpu, how(cpu, host), (sys.executable,))
    elif cpu is CpuClass.AVX2:
        yield Runner(cpu, how(cpu, host), (qemu_x86_64(), "-cpu", HASWELL, sys.executable))
    else:
        root = arm64_root()
        with tempfile.TemporaryDirectory(prefix="edgeward-arm64-") as tmp:
            _copy_runtime(Path(tmp))
            env = {"PYTHONPATH": f"{tmp}:{root / 'site'}", "PYTHONDONTWRITEBYTECODE": "1", "QEMU_CPU": ARM64_CPU}
            yield Runner(cpu, how(cpu, host), (str(root / "bin" / "python3"), "-P"), env)


def _copy_runtime(dest: Path) -> None:
    """edgeward's TensorFlow-free packages, wherever this install keeps them (a checkout maps them from its top
    folders), as one ``edgeward`` package in ``dest``."""
    from importlib.util import find_spec

    package = dest / "edgeward"
    package.mkdir()
    shutil.copy(find_spec("edgeward").origin, package / "__init__.py")
    for name in RUNTIME_PACKAGES:  # found, not imported: this layer imports none of them
        folder = find_spec(f"edgeward.{name}").submodule_search_locations[0]
        shutil.copytree(folder, package / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
