"""What this host is: architecture, cores, CPU flags, accelerators and onnxruntime providers."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

from edgeward.core.errors import DeviceError
from edgeward.devices.cpu import CpuClass, classify

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

    @property
    def cpu_class(self) -> CpuClass | None:
        """Which integer kernels this CPU runs (``devices.cpu``); None where edgeward has no class for it."""
        return classify(self.arch, self.cpu_flags)


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


def this_host() -> HostInfo:
    """This machine: its architecture, cores, CPU and flags, board, accelerators and onnxruntime's providers."""
    model, flags = _cpuinfo()
    accelerators = []
    if any(Path(p).exists() for p in ("/dev/apex_0",)):
        accelerators.append("coral-edgetpu")
    try:
        providers = tuple(available_providers())
    except DeviceError:
        providers = ()
    return HostInfo(
        arch=platform.machine().lower(), cores=os.cpu_count() or 1, cpu_model=model,
        cpu_flags=tuple(f for f in INTERESTING_FLAGS if f in flags), board=_board(),
        providers=providers, accelerators=tuple(accelerators),
    )


# 32-bit ARM: PyPI has no onnxruntime wheels for it, so the install leaves onnxruntime out there (pyproject's marker)
NO_ONNXRUNTIME = ("armv7l", "armv6l")


def import_onnxruntime():
    """onnxruntime, or a DeviceError that says what to do where it is missing (a 32-bit ARM OS above all)."""
    try:
        import onnxruntime
    except ImportError:
        arch = platform.machine().lower()
        if arch in NO_ONNXRUNTIME:
            raise DeviceError(f"onnxruntime has no wheels for 32-bit ARM ({arch}), so edgeward installed without it and "
                              "cannot run models here: install the 64-bit OS (Raspberry Pi OS 64-bit, aarch64), where `pip "
                              "install edgeward` brings everything (docs/arm64.md)") from None
        raise DeviceError("onnxruntime is not installed: pip install onnxruntime (or reinstall edgeward)") from None
    return onnxruntime


def available_providers() -> list[str]:
    """The execution providers this onnxruntime offers."""
    return list(import_onnxruntime().get_available_providers())
