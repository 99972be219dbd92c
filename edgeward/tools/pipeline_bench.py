"""``make bench-pipeline``: what a detection frame costs around the model, on one CPU core.

A YOLOv8-layout model at 640 x 640 made here (three strided poolings and 1 x 1 convolutions: (1, 84, 8,400), as
YOLOv8n's head gives, at a fraction of its arithmetic) and a 640 x 480 frame. Side by side in one run, medians:

- preprocessing: ``letterbox_input`` (the runtime's, one pass into a reused buffer) beside training's
  ``to_input(letterbox_image(...))`` and the transpose the runtime did before (the same values);
- post-processing of a head with 8,400 candidates of which about a hundred pass the score threshold;
- ``Detector.detect`` end to end beside the bare ``session.run`` of the same model on the same input.

    python -m edgeward.tools bench-pipeline [--repeats 300] [--json out.json]
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

SIZE, CLASSES, FRAME = 640, 80, (480, 640)
TARGETS = {"preprocess_ms": 1.0, "pre_plus_post_ms": 1.5}  # issue 40, one core


def yolov8_layout_model(path: Path, seed: int = 0) -> Path:
    """A cheap ONNX model with YOLOv8's input and output layout: (1, 3, 640, 640) -> (1, 4 + 80, 8,400)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes, inits, parts = [], [], []
    for stride in (8, 16, 32):
        cells = (SIZE // stride) ** 2
        weight = rng.normal(0, 0.01, (4 + CLASSES, 3, 1, 1)).astype(np.float32)
        bias = np.concatenate([[320, 320, 40, 40], np.full(CLASSES, -6.0)]).astype(np.float32)  # boxes; low scores
        inits += [numpy_helper.from_array(weight, f"w{stride}"), numpy_helper.from_array(bias, f"b{stride}"),
                  numpy_helper.from_array(np.array([1, 4 + CLASSES, cells], np.int64), f"s{stride}")]
        nodes += [helper.make_node("AveragePool", ["images"], [f"p{stride}"], kernel_shape=[stride, stride], strides=[stride, stride]),
                  helper.make_node("Conv", [f"p{stride}", f"w{stride}", f"b{stride}"], [f"c{stride}"]),
                  helper.make_node("Reshape", [f"c{stride}", f"s{stride}"], [f"r{stride}"])]
        parts.append(f"r{stride}")
    nodes.append(helper.make_node("Concat", parts, ["output0"], axis=2))
    graph = helper.make_graph(nodes, "yolov8-layout", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
                              [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 4 + CLASSES, 8400])],
                              initializer=inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def head_with_candidates(passing: int = 100, seed: int = 0) -> np.ndarray:
    """A (1, 84, 8,400) head: boxes anywhere, every class score low but ``passing`` candidates' one class."""
    rng = np.random.default_rng(seed)
    out = np.zeros((1, 4 + CLASSES, 8400), np.float32)
    out[0, :2], out[0, 2:4] = rng.uniform(0, SIZE, (2, 8400)), rng.uniform(10, 120, (2, 8400))
    out[0, 4:] = rng.uniform(0, 0.05, (CLASSES, 8400))
    out[0, 4 + rng.integers(0, CLASSES, passing), rng.choice(8400, passing, replace=False)] = rng.uniform(0.3, 0.95, passing)
    return out


def median_ms(fn, repeats: int) -> float:
    fn()  # warm
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1e3)


def measure(repeats: int = 300) -> dict:
    import cv2

    from edgeward.runtime.tasks.detect import Detector
    from edgeward.runtime.tasks.detect_post import decode_yolo, letterbox_image, letterbox_input, to_input

    cv2.setNumThreads(1)  # one core: OpenCV's resize would use every core otherwise
    frame = np.random.default_rng(1).integers(0, 256, (*FRAME, 3), dtype=np.uint8)
    head = head_with_candidates()
    buffer = letterbox_input(frame, SIZE)[0]
    with tempfile.TemporaryDirectory() as tmp:
        model = yolov8_layout_model(Path(tmp) / "yolov8-layout.onnx")
        labels = [f"class{i}" for i in range(CLASSES)]
        with Detector.from_yolo(model, labels, device="x86-64-cpu", threads=1) as detector:
            import onnxruntime as ort

            x = detector.preprocess(frame)[0]
            options = ort.SessionOptions()
            options.intra_op_num_threads = options.inter_op_num_threads = 1
            session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])  # the bare call
            rows = {
                "preprocess_ms": median_ms(lambda: letterbox_input(frame, SIZE, out=buffer), repeats),
                "preprocess_training_path_ms": median_ms(
                    lambda: np.ascontiguousarray(to_input(letterbox_image(frame, SIZE)[0]).transpose(2, 0, 1)[None]), repeats),
                "postprocess_ms": median_ms(lambda: decode_yolo(head, 0.25, 0.45, 300), repeats),
                "bare_run_ms": median_ms(lambda: session.run(None, {"images": x}), repeats),
                "detect_ms": median_ms(lambda: detector.detect(frame), repeats),
            }
    rows["pre_plus_post_ms"] = rows["preprocess_ms"] + rows["postprocess_ms"]
    rows["detect_over_bare"] = rows["detect_ms"] / rows["bare_run_ms"]
    rows["met"] = {name: rows[name] <= limit for name, limit in TARGETS.items()}
    return rows


def markdown(r: dict) -> str:
    return "\n".join([
        "| one core, medians | ms |", "|---|---:|",
        f"| preprocessing, 640x480 frame -> (1, 3, 640, 640) float32 (`letterbox_input`) | {r['preprocess_ms']:.3f} |",
        f"| the same by training's path (`to_input(letterbox_image())`, then the transpose) | {r['preprocess_training_path_ms']:.3f} |",
        f"| post-processing, 8,400 candidates, ~100 above the threshold (`decode_yolo`) | {r['postprocess_ms']:.3f} |",
        f"| pre + post (target <= {TARGETS['pre_plus_post_ms']}) | {r['pre_plus_post_ms']:.3f} |",
        f"| bare `session.run` of the cheap YOLOv8-layout model | {r['bare_run_ms']:.3f} |",
        f"| `Detector.detect` end to end ({r['detect_over_bare']:.2f}x the bare call) | {r['detect_ms']:.3f} |"])


def add_arguments(parser) -> None:
    parser.add_argument("--repeats", type=int, default=300, help="timed calls per row (medians)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")


def run(args) -> int:
    result = measure(max(1, args.repeats))
    print(markdown(result))
    print("targets (issue 40, one core): " + ", ".join(f"{k} <= {v}: {'met' if result['met'][k] else 'NOT met'}"
                                                     for k, v in TARGETS.items()))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0
