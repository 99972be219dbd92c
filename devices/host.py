"""What this host is: architecture, cores, CPU flags, accelerators and onnxruntime providers."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

INTERESTING_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "f16c", "fma", "asimd", "asimddp", "fphp")


@dataclass(frozen=True)
class HostInfo:
    arch: str
    cores: int
    cpu_model: str
    cpu_flags: tuple[str, ...]  # the flags among INTERESTING_FLAGS that this CPU has
    board: str  # e.g. "Raspberry Pi 5 Model B", "NVIDIA Jetson", or ""
    providers: tuple[str, ...]  # onnxruntime execution providers available
    accelerators: tuple[str, ...] = field(default=())  # e.g. "coral-edgetpu"

    @property
    def int8_fast(self) -> bool:
        """True where int8 kernels have hardware dot products (VNNI, AMX, ARM dot product)."""
        return any(f in self.cpu_flags for f in ("avx512_vnni", "avx_vnni", "amx_int8", "asimddp"))


def _cpuinfo() -> tuple[str, set[str]]:
    model, flags = platform.processor() or "", set()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return model, flags
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "hardware", "cpu model") and not model:
            model = value.strip()
        elif key in ("flags", "features"):
            flags.update(value.split())
    return model, flags


def _board() -> str:
    for path in ("/proc/device-tree/model", "/sys/firmware/devicetree/base/model"):
        try:
            return Path(path).read_bytes().rstrip(b"\0").decode(errors="replace").strip()
        except OSError:
            continue
    if Path("/etc/nv_tegra_release").exists():
        return "NVIDIA Jetson"
    return ""


def detect() -> HostInfo:
    model, flags = _cpuinfo()
    accelerators = []
    if any(Path(p).exists() for p in ("/dev/apex_0",)):
        accelerators.append("coral-edgetpu")
    try:
        providers = tuple(available_providers())
    except ImportError:
        providers = ()
    return HostInfo(
        arch=platform.machine().lower(), cores=os.cpu_count() or 1, cpu_model=model,
        cpu_flags=tuple(f for f in INTERESTING_FLAGS if f in flags), board=_board(),
        providers=providers, accelerators=tuple(accelerators),
    )


def available_providers() -> list[str]:
    """The execution providers this onnxruntime offers."""
    import onnxruntime

    return list(onnxruntime.get_available_providers())
