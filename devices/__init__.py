"""Device profiles (one TOML file per target) and inspection of this host.

Imports only edgeward.core; onnxruntime is imported lazily to list providers.
"""

from edgeward.devices.host import HostInfo, available_providers, this_host
from edgeward.devices.profiles import Backend, Profile, list_profiles, load_profile
from edgeward.devices.select import closest_profile, cpu_profile, resolve, runnable_here

__all__ = [
    "Backend", "HostInfo", "Profile", "available_providers", "closest_profile", "cpu_profile", "detect",
    "list_profiles", "load_profile", "resolve", "runnable_here",
]
