"""``make arm64-check``'s comparison and its environment script (the emulated run itself is `make arm64-check`,
which CI runs after the tests)."""

import subprocess
from pathlib import Path

import numpy as np

from edgeward.runtime.services.parity import FP32_TOLERANCE, compare

ROOT = Path(__file__).resolve().parents[2]


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
    from edgeward.runtime.tasks.detect_post import match_detections

    a = [[0, "one", 0.9, 10, 10, 20, 20], [0, "one", 0.5, 40, 40, 50, 50], [0, "one", 0.5, 60, 60, 70, 70],
         [1, "two", 0.3, 1, 1, 5, 5], [2, "two", 0.3, 1, 1, 5, 5]]
    b = [[0, "one", 0.5, 60, 60, 70, 70], [0, "one", 0.9000001, 10, 10, 20, 20.5], [0, "one", 0.5, 40, 40, 50, 50],
         [1, "two", 0.3, 9, 9, 15, 15]]
    diffs, differ = match_detections(a, b, FP32_TOLERANCE)
    assert max(diffs) < 1e-6  # the tied 0.5 boxes are not compared: either may win on any machine
    assert differ == [[1, "x86 two 0.3000 at [1, 1, 5, 5], arm64 two 0.3000 at [9, 9, 15, 15]"],
                      [2, "1 detections on x86, 0 on arm64"]]


def test_cost_counts_the_multiply_accumulates_of_a_graph(tmp_path):
    """A hand-built graph: a 3x3 conv 3 -> 4 channels, a depthwise 3x3 conv, global pooling and a 4 -> 5 matmul, at
    a free batch (counted as 1): 8*8*4*27 + 8*8*4*9 + 4*5 multiply-accumulates."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from edgeward.export.cost import onnx_cost

    w1, w2, w3 = (np.ones(s, np.float32) for s in ((4, 3, 3, 3), (4, 1, 3, 3), (4, 5)))
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w1"], ["a"], pads=[1, 1, 1, 1]),
         helper.make_node("Conv", ["a", "w2"], ["b"], pads=[1, 1, 1, 1], group=4),
         helper.make_node("GlobalAveragePool", ["b"], ["c"]), helper.make_node("Flatten", ["c"], ["d"]),
         helper.make_node("MatMul", ["d", "w3"], ["y"])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 5])],
        [numpy_helper.from_array(w, n) for w, n in ((w1, "w1"), (w2, "w2"), (w3, "w3"))])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    cost = onnx_cost(path)
    assert cost.macs == 8 * 8 * 4 * 27 + 8 * 8 * 4 * 9 + 4 * 5
    assert cost.weights == 108 + 36 + 20 and cost.weight_bytes == 4 * cost.weights
    assert cost.file_bytes == path.stat().st_size
