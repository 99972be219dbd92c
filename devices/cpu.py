"""CPU classes: which integer kernels a CPU runs, because an int8 file that holds on one can fail on another.

onnxruntime and LiteRT pick their int8 kernels by instruction set. On x86-64 with AVX2 but no VNNI, onnxruntime's
u8 x s8 kernels multiply pairs of bytes and add each pair into 16 bits (``vpmaddubsw``), which saturates when both
products are large: 8-bit weights there need one bit of headroom (``reduce_range``). VNNI (AVX-512 VNNI, AVX-VNNI,
AMX) adds into 32 bits; arm64 widens before it adds (NEON, or dot-product instructions).
"""

from __future__ import annotations

from enum import Enum


class CpuClass(str, Enum):
    AVX2 = "avx2"  # x86-64 with AVX2 and no VNNI: most laptops and servers before ~2019 (Haswell .. Skylake client)
    VNNI = "vnni"  # x86-64 with AVX-512 VNNI, AVX-VNNI or AMX: Cascade Lake and later servers, Alder Lake, Zen 4
    ARM64 = "arm64"  # aarch64 NEON: Raspberry Pi, Jetson, Graviton, Apple silicon

    @property
    def saturates_u8s8(self) -> bool:
        """Whether u8 x s8 products are added in pairs into 16 bits (full-range int8 weights can saturate)."""
        return self is CpuClass.AVX2

    @property
    def kernels(self) -> str:
        return KERNELS[self]


KERNELS = {
    CpuClass.AVX2: "x86-64 AVX2 without VNNI (u8 x s8 pairs added in 16 bits: vpmaddubsw)",
    CpuClass.VNNI: "x86-64 with VNNI (AVX-512 VNNI, AVX-VNNI or AMX: 32-bit dot products)",
    CpuClass.ARM64: "arm64 NEON (widening multiplies, or sdot/udot where the core has dot products)",
}
X86 = ("x86_64", "amd64")
ARM64 = ("aarch64", "arm64")
VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


def classify(arch: str, flags: tuple[str, ...] | set[str]) -> CpuClass | None:
    """The class of a CPU from its architecture and /proc/cpuinfo flags; None where edgeward has none (x86 without
    AVX2, 32-bit ARM, other architectures)."""
    arch = arch.lower()
    if arch in ARM64:
        return CpuClass.ARM64
    if arch in X86:
        if any(f in flags for f in VNNI_FLAGS):
            return CpuClass.VNNI
        if "avx2" in flags:
            return CpuClass.AVX2
    return None


def parse_classes(text: str | list | tuple, field: str = "--targets") -> tuple[CpuClass, ...]:
    """CPU classes from ``avx2,vnni`` (or a list of names), in the order given, each once; a ValueError names the
    field, what was given and the choices."""
    names = [n.strip() for n in text.split(",")] if isinstance(text, str) else list(text)
    out: list[CpuClass] = []
    for name in names:
        try:
            cls = CpuClass(name)
        except ValueError:
            raise ValueError(f"{field}: expected CPU classes from {', '.join(c.value for c in CpuClass)}, "
                             f"got {name!r}") from None
        if cls not in out:
            out.append(cls)
    return tuple(out)


def running_class() -> CpuClass | None:
    """The class of the CPU this process runs on, as the kernels see it: numpy's run-time CPUID detection (under an
    emulator it is the emulated CPU's, where /proc/cpuinfo shows the host's)."""
    import platform

    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # numpy 1.x
        from numpy.core._multiarray_umath import __cpu_features__ as features
    on = {name.lower() for name, present in features.items() if present}
    arch = platform.machine().lower()
    if arch in X86:
        return CpuClass.VNNI if on & {"avx512vnni", "avxvnni", "amx_int8"} else CpuClass.AVX2 if "avx2" in on else None
    return classify(arch, on)
