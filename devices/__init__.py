"""Device profiles (one TOML file per target) and inspection of this host.

Imports neither the runtime nor export; onnxruntime is imported lazily to list providers.
"""

from edgeward.devices.host import HostInfo, closest_profile, cpu_profile, detect
from edgeward.devices.profiles import Backend, Profile, available_providers, list_profiles, load_profile, resolve

__all__ = [
    "Backend", "HostInfo", "Profile", "available_providers", "closest_profile", "cpu_profile", "detect",
    "list_profiles", "load_profile", "resolve",
]
