"""`make bench-pipeline` and `make gpu-check` on this machine, which has no GPU: the check says so, measures the CPU
pipeline instead and exits 0 (the timings are the benchmark's business, not the test's: here they only have to
exist). The model they make has YOLOv8's layout, and the Detector reads it as such."""

import json

import numpy as np
import pytest

from edgeward.tools import gpu_check, pipeline_bench
from edgeward.tools.__main__ import main as tools


def test_the_cheap_model_has_yolov8s_layout_and_the_detector_runs_it(tmp_path):
    from edgeward.runtime.tasks.detect import Detector

    model = pipeline_bench.yolov8_layout_model(tmp_path / "m.onnx")
    with Detector.from_yolo(model, [f"c{i}" for i in range(80)], threads=1) as detector:
        assert detector.size == 640 and detector.head == "yolo"
        frame = np.zeros((480, 640, 3), np.uint8)
        assert detector.detect(frame) == []  # every class score is the bias, -6: below any threshold
        assert detector.model.run({"images": detector.preprocess(frame)[0]})["output0"].shape == (1, 84, 8400)


def test_gpu_check_without_a_gpu_says_so_and_measures_the_cpu_pipeline(tmp_path, capsys):
    if gpu_check.cuda_here() is None:
        pytest.skip("this host has a CUDA GPU: gpu-check measures it (make gpu-check)")
    assert tools(["gpu-check", "--repeats", "2", "--out", str(tmp_path / "g.json")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("no CUDA GPU here: onnxruntime offers no CUDA provider here") and "letterbox_input" in out
    result = json.loads((tmp_path / "g.json").read_text())
    assert result["gpu"] is None
    cpu = result["cpu_pipeline"]
    assert all(cpu[k] > 0 for k in ("preprocess_ms", "postprocess_ms", "bare_run_ms", "detect_ms"))
    assert set(cpu["met"]) == {"preprocess_ms", "pre_plus_post_ms"}


def test_the_gpu_rows_run_their_code_on_the_cpu_provider(tmp_path, capsys):
    """The GPU table's code, run on the CPU provider (`gpu-check --on-cpu`; no GPU here, and the CUDA graph row needs
    one and is left out): every row measured, the profile's IO binding in the edgeward row, both runs finding the same,
    the table saying where it ran."""
    model = pipeline_bench.yolov8_layout_model(tmp_path / "m.onnx")
    assert tools(["gpu-check", "--on-cpu", "--model", str(model), "--repeats", "2", "--out", str(tmp_path / "g.json")]) == 0
    table = capsys.readouterr().out
    rows = json.loads((tmp_path / "g.json").read_text())["gpu"]
    assert rows["provider"] == "CPUExecutionProvider"
    assert rows["edgeward_detect"]["execution"] == ("IO binding on cpu; no CUDA graph (the session runs on "
                                                    "CPUExecutionProvider, not CUDAExecutionProvider)")
    assert rows["edgeward_detect_plain_run"]["execution"] == "run"
    assert rows["frames_differing_bound_vs_plain"] == 0 and rows["cuda_graph_ms"] is None
    assert all(rows[k] > 0 for k in ("bare_run_ms", "io_binding_ms", "edgeward_detect_ms"))
    assert set(rows["edgeward_detect"]) >= {"ms", "preprocess_ms", "inference_ms", "postprocess_ms"}
    assert "| bare `session.run` on the CPU provider" in table and "IO binding on cpu" in table
    assert "CUDA" not in table.replace("no CUDA graph", "").replace("CUDAExecutionProvider", "")
    assert "targets: edgeward <= 1.3x bare run: " in table
    assert "| bare `session.run` on CUDA" in gpu_check.gpu_markdown({**rows, "provider": "CUDAExecutionProvider"})
