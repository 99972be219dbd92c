"""``make arm64-check``'s comparison and its environment script (the emulated run itself is `make arm64-check`,
which CI runs after the tests)."""

import subprocess
from pathlib import Path

import numpy as np

from edgeward.runtime.parity import FP32_TOLERANCE, compare

ROOT = Path(__file__).resolve().parents[1]


def _run(name, int8, scores, flags):
    return {"task": "fraud", "name": name, "int8": int8, "scores": scores, "flags": flags}


class _Raw:
    def __init__(self, arrays):
        self.arrays = arrays
        self.files = list(arrays)

    def __getitem__(self, key):
        return self.arrays[key]


def test_fp32_must_agree_within_tolerance_and_int8_differences_are_listed():
    x86 = {"artifacts": [_run("model.onnx", False, [0.1, 0.9], [0, 1]), _run("model-int8.onnx", True, [0.1, 0.6], [0, 1])]}
    arm = {"artifacts": [_run("model.onnx", False, [0.1, 0.9], [0, 1]), _run("model-int8.onnx", True, [0.1, 0.4], [0, 0])]}
    close = _Raw({"0:y": np.array([1.0, 2.0]), "1:y": np.array([1.0])})
    off = _Raw({"0:y": np.array([1.0, 2.0 + 3 * FP32_TOLERANCE]), "1:y": np.array([1.0])})
    rows = compare(x86, arm, close, close)
    assert rows[0]["ok"] and rows[0]["raw_max_abs_diff"] == 0
    assert not rows[1]["ok"] and rows[1]["differences"] == [1] and rows[1]["decisions"] == "2 rows, 1 flags differ"
    assert not compare(x86, arm, close, off)[0]["ok"]


def test_the_environment_script_is_valid_sh():
    assert subprocess.run(["sh", "-n", str(ROOT / "devices/emulation/arm64-env.sh")]).returncode == 0


def test_detections_compare_scores_in_order_and_boxes_where_the_score_is_unique():
    from edgeward.runtime.parity import match_detections

    a = [[0, "one", 0.9, 10, 10, 20, 20], [0, "one", 0.5, 40, 40, 50, 50], [0, "one", 0.5, 60, 60, 70, 70],
         [1, "two", 0.3, 1, 1, 5, 5], [2, "two", 0.3, 1, 1, 5, 5]]
    b = [[0, "one", 0.5, 60, 60, 70, 70], [0, "one", 0.9000001, 10, 10, 20, 20.5], [0, "one", 0.5, 40, 40, 50, 50],
         [1, "two", 0.3, 9, 9, 15, 15]]
    diffs, differ = match_detections(a, b)
    assert max(diffs) < 1e-6  # the tied 0.5 boxes are not compared: either may win on any machine
    assert differ == [[1, "x86 two 0.3000 at [1, 1, 5, 5], arm64 two 0.3000 at [9, 9, 15, 15]"],
                      [2, "1 detections on x86, 0 on arm64"]]
