"""`make bench-pipeline` and `make gpu-check` on this machine, which has no GPU: the check says so, measures the CPU
pipeline instead and exits 0 (the timings are the benchmark's business, not the test's: here they only have to
exist). The model they make has YOLOv8's layout, and the Detector reads it as such."""

import json

import numpy as np

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
    assert gpu_check.cuda_here() is not None  # no GPU on the machines these tests run on
    assert tools(["gpu-check", "--repeats", "2", "--out", str(tmp_path / "g.json")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("no CUDA GPU here: onnxruntime offers no CUDA provider here") and "letterbox_input" in out
    result = json.loads((tmp_path / "g.json").read_text())
    assert result["gpu"] is None
    cpu = result["cpu_pipeline"]
    assert all(cpu[k] > 0 for k in ("preprocess_ms", "postprocess_ms", "bare_run_ms", "detect_ms"))
    assert set(cpu["met"]) == {"preprocess_ms", "pre_plus_post_ms"}
