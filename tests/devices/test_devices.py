from __future__ import annotations

import pytest

from edgeward.app.cli import main
from edgeward.core.errors import DeviceError, InputError
from edgeward.devices import Backend, HostInfo, closest_profile, list_profiles, load_profile, this_host


def test_the_required_profiles_exist_and_load():
    names = {p.name for p in list_profiles()}
    assert {"x86-64-cpu", "nvidia-gpu", "jetson-orin", "raspberry-pi-4", "raspberry-pi-5", "coral"} <= names
    jetson = load_profile("jetson-orin")
    assert jetson.providers[:2] == ("TensorrtExecutionProvider", "CUDAExecutionProvider")
    coral = load_profile("coral")
    assert coral.backends == (Backend.TFLITE,) and coral.precision == "int8" and coral.delegate


def test_unknown_profile_lists_the_choices():
    with pytest.raises(DeviceError, match=r"unknown device profile 'toaster'; expected one of: .*x86-64-cpu, auto"):
        load_profile("toaster")


def test_profile_file_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n')
    with pytest.raises(InputError, match="bad.toml: field 'description' is missing"):
        load_profile(bad)
    bad.write_text("name = \n")
    with pytest.raises(InputError, match="bad.toml: not valid TOML"):
        load_profile(bad)


def test_missing_provider_is_reported_not_hidden():
    with pytest.raises(DeviceError, match="needs TensorrtExecutionProvider, CUDAExecutionProvider, but this onnxruntime offers CPUExecutionProvider"):
        load_profile("jetson-orin").check_providers(["CPUExecutionProvider"])


def _host(**kw) -> HostInfo:
    base = dict(arch="x86_64", cores=2, cpu_model="cpu", cpu_flags=(), board="", providers=("CPUExecutionProvider",))
    return HostInfo(**{**base, **kw})


@pytest.mark.parametrize("host, expected", [
    (_host(), "x86-64-cpu"),
    (_host(providers=("CUDAExecutionProvider", "CPUExecutionProvider")), "nvidia-gpu"),
    (_host(arch="aarch64", board="Raspberry Pi 5 Model B Rev 1.0"), "raspberry-pi-5"),
    (_host(arch="aarch64", board="Raspberry Pi 4 Model B Rev 1.4"), "raspberry-pi-4"),
    (_host(arch="aarch64", board="NVIDIA Jetson AGX Orin", providers=("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")), "jetson-orin"),
    (_host(arch="aarch64", board="NVIDIA Jetson AGX Orin"), "arm64-cpu"),  # no GPU providers installed
    (_host(arch="aarch64"), "arm64-cpu"),
])
def test_closest_profile(host, expected):
    assert closest_profile(host).name == expected


def test_this_host_is_described():
    host = this_host()
    assert host.cores >= 1 and host.arch
    assert "CPUExecutionProvider" in host.providers


def test_cli_devices(capsys):
    assert main(["devices", "list"]) == 0
    out = capsys.readouterr().out
    assert "raspberry-pi-5" in out and out.splitlines()[0].split() == ["profile", "format", "precision", "backends",
                                                                      "description"]
    assert main(["devices", "show", "coral"]) == 0
    assert "libedgetpu.so.1" in capsys.readouterr().out
    assert main(["devices", "host"]) == 0
    out = capsys.readouterr().out
    assert "closest" in out and "providers" in out
    assert main(["devices", "show", "toaster"]) == 2  # a name no profile has: bad input
    assert capsys.readouterr().err.startswith("error: unknown device profile 'toaster'")


def test_a_32_bit_arm_install_goes_on_without_onnxruntime_and_says_what_to_do(monkeypatch, capsys):
    """PyPI has no onnxruntime wheels for 32-bit ARM: the dependency's marker leaves it out there (so `pip install`
    does not stop at a missing wheel), and the first use says to install the 64-bit OS. The 32-bit board is faked
    (platform.machine, and onnxruntime made unimportable): there is none here."""
    import sys
    from pathlib import Path

    import tomllib
    from packaging.requirements import Requirement

    from edgeward.app.cli import main
    from edgeward.core.errors import DeviceError
    from edgeward.runtime.engine.model import Model

    deps = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]["dependencies"]
    ort = next(Requirement(d) for d in deps if Requirement(d).name == "onnxruntime")
    assert [ort.marker.evaluate({"platform_machine": m}) for m in ("armv7l", "armv6l", "aarch64", "x86_64")] == \
        [False, False, True, True]
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` raises ImportError
    monkeypatch.setattr("platform.machine", lambda: "armv7l")
    with pytest.raises(DeviceError, match=r"^onnxruntime has no wheels for 32-bit ARM \(armv7l\), .* install the 64-bit OS"):
        Model("fraud-sim")
    assert main(["devices", "host"]) == 0
    assert "onnxruntime   missing: onnxruntime has no wheels for 32-bit ARM (armv7l)" in capsys.readouterr().out
    monkeypatch.setattr("platform.machine", lambda: "x86_64")
    with pytest.raises(DeviceError, match=r"^onnxruntime is not installed: pip install onnxruntime"):
        Model("fraud-sim")
