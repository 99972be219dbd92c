"""An export for an accelerator made on a host without it (a GPU target built on a CPU machine): the artifacts are
checked on this host's CPU, and the recommendation is the target profile's default, said to be one, not a timing."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest

from edgeward.app.cli import main
from edgeward.devices import available_providers, load_profile, runnable_here
from edgeward.export.recommend import default_choice
from edgeward.core.records import ArtifactCheck


def _check(name: str, precision: str, size: int, passed: bool = True) -> ArtifactCheck:
    return ArtifactCheck(artifact=name, format=name.rsplit(".", 1)[1], precision=precision, source="base", method="",
                         size_bytes=size, rows=10, max_abs_diff=0.0, metric_name="m", metric=0.9, reference_metric=0.9,
                         drop_points=0.0, agreement=1.0, check="", budget=1.0, passed=passed, reason="")


def test_the_default_is_the_profiles_own_format_and_precision_else_its_format_in_fp32():
    gpu = load_profile("nvidia-gpu")
    fp32, fp16, int8 = _check("model.onnx", "fp32", 400), _check("model-fp16.onnx", "fp16", 200), \
        _check("model-int8.onnx", "int8", 100)
    chosen = default_choice([fp32, int8, fp16, _check("model.tflite", "fp32", 390)], gpu, "CUDAExecutionProvider")
    assert chosen["artifact"] == "model-fp16.onnx" and chosen["measured"] is False
    assert chosen["reason"].startswith("the nvidia-gpu profile's default (onnx fp16), not a measurement: this host "
                                       "lacks CUDAExecutionProvider")
    chosen = default_choice([int8, fp32], gpu, "CUDAExecutionProvider")  # no fp16 passed: fp32 of its format, said so
    assert chosen["artifact"] == "model.onnx" and chosen["reason"].endswith("(no passing onnx fp16 artifact: onnx fp32)")
    assert default_choice([], gpu, "CUDAExecutionProvider")["artifact"] is None


def test_a_target_this_host_cannot_run_is_checked_on_its_cpu():
    gpu = load_profile("nvidia-gpu")
    here, lacking = runnable_here(gpu)
    if "CUDAExecutionProvider" in available_providers():
        assert (here, lacking) == (gpu, None)
    else:
        assert here.providers == ("CPUExecutionProvider",) and lacking == "CUDAExecutionProvider"
    assert runnable_here(load_profile("x86-64-cpu"))[1] is None
    board = replace(load_profile("coral"), delegate="libedgeward-no-such-delegate.so.1")  # a delegate that is nowhere
    assert board.missing() == "the TFLite delegate libedgeward-no-such-delegate.so.1"
    assert runnable_here(board)[0].name in ("x86-64-cpu", "arm64-cpu")


def test_an_export_for_a_gpu_on_a_host_without_one(fraud_run, tmp_path, capsys):
    if "CUDAExecutionProvider" in available_providers():
        pytest.skip("this host has the CUDA provider: the export measures on it (the recommendation tests)")
    run = tmp_path / "run"
    shutil.copytree(fraud_run, run)
    assert main(["export", str(run), "--device", "nvidia-gpu", "--format", "onnx", "--precision", "fp32,fp16"]) == 0
    out = capsys.readouterr().out
    assert "checked on this host's CPU (x86-64-cpu): it lacks CUDAExecutionProvider, which nvidia-gpu runs them on" in out
    assert "recommended for nvidia-gpu: model-fp16.onnx (the nvidia-gpu profile's default (onnx fp16), not a " \
           "measurement" in out
    validation = json.loads((run / "validation.json").read_text())
    assert validation["recommendation"]["measured"] is False
    assert {a["artifact"]: a["passed"] for a in validation["artifacts"]} == {"model.onnx": True, "model-fp16.onnx": True}
    assert validation["targets"]["lacking"] == "CUDAExecutionProvider"
