"""Which profile to use: the one named, or the closest to this host."""

from __future__ import annotations

import platform

from edgeward.devices.host import HostInfo, this_host
from edgeward.devices.profiles import Profile, load_profile


def cpu_profile() -> Profile:
    """This host's CPU-only profile (for comparisons against a bare CPU session)."""
    return load_profile("arm64-cpu" if platform.machine().lower() in ("aarch64", "arm64") else "x86-64-cpu")


def runnable_here(profile: Profile) -> tuple[Profile, str | None]:
    """The profile that runs a target's files on this host, and what this host lacks of the target (None: nothing):
    the target's own profile where it has what it needs, else this host's CPU profile (an export for a GPU made on
    a machine without one checks its files on the CPU: the same numbers within the precision's tolerance, not the
    GPU's speed)."""
    lacking = profile.missing()
    return (profile, None) if lacking is None else (cpu_profile(), lacking)


def closest_profile(host: HostInfo) -> Profile:
    """The profile that fits this host best, among those whose providers it has."""
    board = host.board.lower()
    if "jetson" in board or "orin" in board:
        name = "jetson-orin"
    elif "raspberry pi 5" in board:
        name = "raspberry-pi-5"
    elif "raspberry pi 4" in board:
        name = "raspberry-pi-4"
    elif "CUDAExecutionProvider" in host.providers:
        name = "nvidia-gpu"
    elif host.arch in ("aarch64", "arm64"):
        name = "arm64-cpu"
    else:
        name = "x86-64-cpu"
    profile = load_profile(name)
    if any(p not in host.providers for p in profile.providers) and host.providers:
        profile = load_profile("arm64-cpu" if host.arch in ("aarch64", "arm64") else "x86-64-cpu")
    return profile


def resolve(device: "str | Profile | None") -> Profile:
    """A Profile from a name, a TOML path, ``auto``/``None`` (the closest to this host) or a Profile."""
    if isinstance(device, Profile):
        return device
    if device in (None, "auto"):
        return closest_profile(this_host())
    return load_profile(device)
