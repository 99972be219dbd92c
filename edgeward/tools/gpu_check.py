"""``make gpu-check``: detection on an NVIDIA GPU beside the bare model call, side by side in one process.

With a CUDA GPU (onnxruntime-gpu's CUDA provider creates a session and runs it), for a YOLOv8-layout model at 640
(``--model``, an ONNX file such as Ultralytics' YOLO11n export; default: the cheap one ``pipeline_bench`` makes) and a
640 x 480 frame, medians of:

- the bare ``session.run`` on CUDA (numpy in, numpy out);
- the same with IO binding, the input already on the GPU;
- the same with a CUDA graph (fixed shapes, IO binding);
- ``Detector.detect`` on the ``nvidia-gpu`` profile, end to end;
- Ultralytics' ``predict`` on the same ONNX file, where Ultralytics is installed;

with each row's ratio to the bare call, printed and written to ``--out`` (JSON). Without a CUDA GPU it says so,
prints the CPU pipeline table (``pipeline_bench``, what the CPU spends around the model) and exits 0.

    python -m edgeward.tools gpu-check [--model yolo11n.onnx] [--repeats 300] [--out runs/gpu-check.json]
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from edgeward.tools.pipeline_bench import FRAME, SIZE, markdown, measure, median_ms, yolov8_layout_model


def cuda_here() -> str | None:
    """Why there is no usable CUDA GPU here, or None when a session runs on the CUDA provider."""
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return f"onnxruntime offers no CUDA provider here ({', '.join(ort.get_available_providers())})"
    with tempfile.TemporaryDirectory() as tmp:
        path = yolov8_layout_model(Path(tmp) / "probe.onnx")
        try:
            session = ort.InferenceSession(str(path), providers=["CUDAExecutionProvider"])
        except Exception as exc:  # a provider that is listed but cannot start (no driver, no device)
            return f"the CUDA provider does not start: {str(exc).splitlines()[0]}"
        if session.get_providers()[0] != "CUDAExecutionProvider":
            return "the CUDA provider is listed but a session falls back to the CPU"
    return None


def gpu_rows(model: Path, repeats: int) -> dict:
    """The GPU table's rows (ms, medians) for ``model`` on one 640 x 480 frame."""
    import onnxruntime as ort

    from edgeward.runtime.tasks.detect import Detector

    frame = np.random.default_rng(1).integers(0, 256, (*FRAME, 3), dtype=np.uint8)
    labels = [f"class{i}" for i in range(80)]
    with Detector.from_yolo(model, labels, device="nvidia-gpu") as detector:
        x = np.ascontiguousarray(detector.preprocess(frame)[0])
        rows = {"edgeward_detect_ms": median_ms(lambda: detector.detect(frame), repeats)}
    plain = ort.InferenceSession(str(model), providers=["CUDAExecutionProvider"])
    name, output = plain.get_inputs()[0].name, plain.get_outputs()[0].name
    rows["bare_run_ms"] = median_ms(lambda: plain.run(None, {name: x}), repeats)
    on_gpu = ort.OrtValue.ortvalue_from_numpy(x, "cuda", 0)
    binding = plain.io_binding()
    binding.bind_ortvalue_input(name, on_gpu)
    binding.bind_output(output, "cuda")
    rows["io_binding_ms"] = median_ms(lambda: plain.run_with_iobinding(binding), repeats)
    graphed = ort.InferenceSession(str(model), providers=[("CUDAExecutionProvider", {"enable_cuda_graph": "1"})])
    result = ort.OrtValue.ortvalue_from_shape_and_type(graphed.get_outputs()[0].shape, np.float32, "cuda", 0)
    bound = graphed.io_binding()
    bound.bind_ortvalue_input(name, on_gpu)
    bound.bind_ortvalue_output(output, result)
    rows["cuda_graph_ms"] = median_ms(lambda: graphed.run_with_iobinding(bound), repeats)
    try:
        from ultralytics import YOLO
    except ImportError:
        rows["ultralytics_onnx_ms"] = None
    else:
        yolo = YOLO(str(model), task="detect")
        rows["ultralytics_onnx_ms"] = median_ms(lambda: yolo.predict(frame, imgsz=SIZE, device=0, verbose=False), repeats)
    rows["ratios_to_bare"] = {k: round(v / rows["bare_run_ms"], 2) for k, v in rows.items() if isinstance(v, float)}
    return rows


def add_arguments(parser) -> None:
    parser.add_argument("--model", type=Path, help="a YOLOv8-layout ONNX file at 640 (default: a cheap one made here)")
    parser.add_argument("--repeats", type=int, default=300, help="timed calls per row (medians)")
    parser.add_argument("--out", type=Path, default=Path("runs/gpu-check.json"), help="the numbers, as JSON")


def run(args) -> int:
    why = cuda_here()
    if why:
        print(f"no CUDA GPU here: {why}; the GPU table needs one. What the CPU spends around the model, on one core:")
        result = {"gpu": None, "why": why, "cpu_pipeline": measure(max(1, args.repeats))}
        print(markdown(result["cpu_pipeline"]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            model = args.model or yolov8_layout_model(Path(tmp) / "yolov8-layout.onnx")
            result = {"gpu": gpu_rows(model, max(1, args.repeats)), "model": str(args.model or "cheap YOLOv8 layout")}
        print(json.dumps(result["gpu"], indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    return 0
