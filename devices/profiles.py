"""Device profiles: which backend, execution providers, threads, format and precision a target uses."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from edgeward.core.errors import DeviceError, InputError, UnknownProfileError
from edgeward.core.files import read_regular
from edgeward.devices.cpu import ARM64, X86, CpuClass, parse_classes
from edgeward.devices.host import available_providers

PROFILE_DIR = Path(__file__).parent / "profiles"
MAX_PROFILE_BYTES = 1 << 20  # a profile is a dozen lines
MAX_THREADS = 256  # more than any board has cores: a typo (or an attack), not a request
CPU_PROVIDER = "CPUExecutionProvider"


class Backend(str, Enum):
    ONNXRUNTIME = "onnxruntime"
    TFLITE = "tflite"


class Prefer(str, Enum):
    """What the export recommends among the artifacts that pass on the target: the fastest, or the smallest."""

    LATENCY = "latency"
    SIZE = "size"


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    arch: tuple[str, ...]
    backends: tuple[Backend, ...]  # in order of preference
    providers: tuple[str, ...]  # ONNX Runtime execution providers, in order
    threads: int  # 0: all cores
    format: str  # preferred artifact format: "onnx" or "tflite"
    precision: str  # preferred precision: "fp32", "fp16", "int8"
    delegate: str = ""  # TFLite delegate library (Coral: libedgetpu.so.1)
    cpu: tuple[CpuClass, ...] = ()  # the CPU classes whose integer kernels the target runs (int8 is checked on each)
    prefer: Prefer = Prefer.LATENCY
    # runs keep their data on the first provider's device: inputs copied into buffers there that live as long as the
    # session, outputs read back when returned (``runtime.engine.bound``); for a GPU, not a CPU (measured: slower there)
    io_binding: bool = False
    cuda_graph: bool = False  # with io_binding on the CUDA provider: the model captured once and replayed (fixed shapes)

    @property
    def num_threads(self) -> int:
        return self.threads or (os.cpu_count() or 1)

    def check_providers(self, available: list[str] | None = None) -> tuple[str, ...]:
        """The providers to use; raises DeviceError naming any that this onnxruntime lacks."""
        available = available_providers() if available is None else available
        missing = [p for p in self.providers if p not in available]
        if missing:
            raise DeviceError(
                f"device profile '{self.name}' needs {', '.join(missing)}, but this onnxruntime offers "
                f"{', '.join(available)} (install the onnxruntime build for this device, or pick another profile)"
            )
        return self.providers or (CPU_PROVIDER,)

    def missing(self) -> str | None:
        """What this host lacks to run the profile (execution providers, the TFLite delegate), or None."""
        try:
            available = available_providers() if Backend.ONNXRUNTIME in self.backends else []
        except DeviceError as exc:
            return str(exc)
        lacking = [p for p in self.providers if p not in available] if Backend.ONNXRUNTIME in self.backends else []
        if self.delegate:
            import ctypes

            try:
                ctypes.CDLL(self.delegate)
            except OSError:
                lacking.append(f"the TFLite delegate {self.delegate}")
        return ", ".join(lacking) or None


def list_profiles() -> list[Profile]:
    return [load_profile(p.stem) for p in sorted(PROFILE_DIR.glob("*.toml"))]


def load_profile(name_or_path: str | os.PathLike) -> Profile:
    """A profile by name (``x86-64-cpu``) or by the path of a TOML file of the same shape."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = PROFILE_DIR / f"{name_or_path}.toml"
        if not path.exists():
            names = ", ".join(p.stem for p in sorted(PROFILE_DIR.glob("*.toml")))
            raise UnknownProfileError(f"unknown device profile {str(name_or_path)!r}; expected one of: {names}, auto")
    try:
        data = tomllib.loads(read_regular(path, "device profile file", MAX_PROFILE_BYTES).decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: expected UTF-8 text (TOML), got byte 0x{exc.object[exc.start]:02x} at offset "
                         f"{exc.start}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML ({exc})") from None
    required = ("name", "description", "arch", "backends", "providers", "threads", "format", "precision")
    for key in required:
        if key not in data:
            raise InputError(f"{path}: field '{key}' is missing")
    threads = data["threads"]
    if not isinstance(threads, int) or isinstance(threads, bool) or not 0 <= threads <= MAX_THREADS:
        raise InputError(f"{path}: field 'threads': expected a whole number from 0 (all cores) to {MAX_THREADS}, "
                         f"got {threads!r}")
    for key in ("name", "description", "format", "precision", "delegate"):
        if not isinstance(data.get(key, ""), str):
            raise InputError(f"{path}: field '{key}': expected a string, got {data[key]!r}")
    for key in ("arch", "backends", "providers"):
        if not isinstance(data[key], list) or not all(isinstance(v, str) for v in data[key]):
            raise InputError(f"{path}: field '{key}': expected a list of strings, got {data[key]!r}")
    try:
        backends = tuple(Backend(b) for b in data["backends"])
    except ValueError:
        raise InputError(
            f"{path}: field 'backends': expected items of {[b.value for b in Backend]}, got {data['backends']!r}"
        ) from None
    try:
        cpu = parse_classes(data["cpu"], f"{path}: field 'cpu'") if "cpu" in data else default_classes(data["arch"])
    except (ValueError, AttributeError, TypeError) as exc:
        raise InputError(str(exc) if isinstance(exc, ValueError) else
                         f"{path}: field 'cpu': expected a list of CPU classes, got {data['cpu']!r}") from None
    for key in ("io_binding", "cuda_graph"):
        if not isinstance(data.get(key, False), bool):
            raise InputError(f"{path}: field '{key}': expected true or false, got {data[key]!r}")
    try:
        prefer = Prefer(data.get("prefer", Prefer.LATENCY.value))
    except ValueError:
        raise InputError(f"{path}: field 'prefer': expected one of {[p.value for p in Prefer]}, "
                         f"got {data.get('prefer')!r}") from None
    return Profile(
        name=data["name"], description=data["description"], arch=tuple(data["arch"]), backends=backends,
        providers=tuple(data["providers"]), threads=threads, format=data["format"],
        precision=data["precision"], delegate=data.get("delegate", ""), cpu=cpu, prefer=prefer,
        io_binding=data.get("io_binding", False), cuda_graph=data.get("cuda_graph", False),
    )


def default_classes(arch) -> tuple[CpuClass, ...]:
    """A profile without a ``cpu`` field targets every class of its architectures: an x86-64 target may or may not
    have VNNI."""
    arch = [a.lower() for a in arch] if isinstance(arch, list) else []
    return ((CpuClass.AVX2, CpuClass.VNNI) if any(a in X86 for a in arch) else ()) + \
        ((CpuClass.ARM64,) if any(a in ARM64 for a in arch) else ())
