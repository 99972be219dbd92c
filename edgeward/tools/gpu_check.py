"""``make gpu-check``: detection on an NVIDIA GPU beside the bare model call, side by side in one process.

With a CUDA GPU (onnxruntime-gpu's CUDA provider creates a session and runs it), for a YOLOv8-layout model at 640
(``--model``, an ONNX file such as Ultralytics' YOLO11n export; default: the cheap one ``pipeline_bench`` makes) and a
640 x 480 frame, medians of:

- the bare ``session.run`` on CUDA (numpy in, numpy out);
- the same with IO binding, the input already on the GPU;
- the same with a CUDA graph (fixed shapes, IO binding);
- ``Detector.detect`` on the ``nvidia-gpu`` profile, end to end (IO binding and a CUDA graph as the profile asks,
  and what it got), and the same with a plain ``session.run`` (and whether both find the same);
- Ultralytics' ``predict`` on the same ONNX file, where Ultralytics is installed;

with each row's ratio to the bare call and the targets (edgeward <= 1.3x the bare call, <= 0.8x
Ultralytics' ONNX path), printed as a table and written to ``--out`` (JSON). Without a CUDA GPU it says so,
prints the CPU pipeline table (``pipeline_bench``, what the CPU spends around the model) and exits 0.

    python -m edgeward.tools gpu-check [--model yolo11n.onnx] [--repeats 300] [--out runs/gpu-check.json]
    python -m edgeward.tools gpu-check --on-cpu     # the same rows on the CPU provider: what IO binding costs there
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


def detect_rows(detector, frames: list[np.ndarray], repeats: int) -> dict:
    """``Detector.detect`` end to end (median ms) and the medians of its own pre, inference and post timings."""
    parts: dict[str, list[float]] = {}

    def one():
        detector.detect(frames[0])
        for k, v in detector.timings.items():
            parts.setdefault(k, []).append(v)

    total = median_ms(one, repeats)
    return {"ms": total, **{k: float(np.median(v)) for k, v in parts.items()}, "execution": detector.model.execution}


def same_detections(a, b, frames: list[np.ndarray]) -> int:
    """How many of ``frames`` give other detections on ``a`` than on ``b`` (boxes within 0.01 px, scores 1e-3)."""
    differ = 0
    for frame in frames:
        x, y = a.detect(frame), b.detect(frame)
        same = len(x) == len(y) and all(p.class_id == q.class_id and abs(p.score - q.score) <= 1e-3 and
                                        max(abs(u - v) for u, v in zip(p.box, q.box)) <= 1e-2 for p, q in zip(x, y))
        differ += not same
    return differ


def gpu_rows(model: Path, repeats: int, provider: str = "CUDAExecutionProvider") -> dict:
    """The GPU table's rows (ms, medians) for ``model`` on 640 x 480 frames: the bare calls, edgeward's
    ``Detector.detect`` on the ``nvidia-gpu`` profile (IO binding and a CUDA graph as the profile asks, ``execution``
    says what it got) and without them, whether both find the same, Ultralytics' ONNX path, the ratios and targets.
    ``provider``: CPUExecutionProvider runs the same code on the CPU (the tests: no GPU there), without the graph row."""
    from dataclasses import replace

    import onnxruntime as ort

    from edgeward.devices import load_profile
    from edgeward.runtime.tasks.detect import Detector, DetectorOptions

    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (*FRAME, 3), dtype=np.uint8) for _ in range(8)]
    labels = [f"class{i}" for i in range(80)]
    gpu = replace(load_profile("nvidia-gpu"), providers=(provider,))
    device = "cuda" if provider == "CUDAExecutionProvider" else "cpu"
    options = DetectorOptions(score_threshold=0.05)
    rows: dict = {"provider": provider}
    with Detector.from_yolo(model, labels, device=gpu, options=options) as detector, \
            Detector.from_yolo(model, labels, device=replace(gpu, io_binding=False, cuda_graph=False),
                               options=options) as unbound:
        x = np.ascontiguousarray(detector.preprocess(frames[0])[0])
        rows["edgeward_detect"] = detect_rows(detector, frames, repeats)
        rows["edgeward_detect_plain_run"] = detect_rows(unbound, frames, repeats)
        rows["frames_differing_bound_vs_plain"] = same_detections(detector, unbound, frames)
        rows["detections_on_first_frame"] = len(detector.detect(frames[0]))
    rows["edgeward_detect_ms"] = rows["edgeward_detect"]["ms"]
    plain = ort.InferenceSession(str(model), providers=[provider])
    name, output = plain.get_inputs()[0].name, plain.get_outputs()[0].name
    rows["bare_run_ms"] = median_ms(lambda: plain.run(None, {name: x}), repeats)
    on_device = ort.OrtValue.ortvalue_from_numpy(x, device, 0)
    binding = plain.io_binding()
    binding.bind_ortvalue_input(name, on_device)
    binding.bind_output(output, device)
    rows["io_binding_ms"] = median_ms(lambda: plain.run_with_iobinding(binding), repeats)
    rows["cuda_graph_ms"] = None
    if device == "cuda":
        graphed = ort.InferenceSession(str(model), providers=[(provider, {"enable_cuda_graph": "1"})])
        result = ort.OrtValue.ortvalue_from_shape_and_type(graphed.get_outputs()[0].shape, np.float32, device, 0)
        bound = graphed.io_binding()
        bound.bind_ortvalue_input(name, on_device)
        bound.bind_ortvalue_output(output, result)
        rows["cuda_graph_ms"] = median_ms(lambda: graphed.run_with_iobinding(bound), repeats)
    try:
        from ultralytics import YOLO
    except ImportError:
        rows["ultralytics_onnx_ms"] = None
    else:
        yolo = YOLO(str(model), task="detect")
        rows["ultralytics_onnx_ms"] = median_ms(lambda: yolo.predict(frames[0], imgsz=SIZE, device=0 if device == "cuda"
                                                                     else "cpu", verbose=False), repeats)
    rows["ratios_to_bare"] = {k: round(v / rows["bare_run_ms"], 2) for k, v in rows.items() if isinstance(v, float)}
    ultra = rows["ultralytics_onnx_ms"]
    rows["targets"] = {"edgeward <= 1.3x bare run": rows["edgeward_detect_ms"] <= 1.3 * rows["bare_run_ms"],
                       "edgeward <= 0.8x Ultralytics' ONNX path": None if ultra is None else rows["edgeward_detect_ms"] <= 0.8 * ultra}
    return rows


def gpu_markdown(rows: dict) -> str:
    e, u = rows["edgeward_detect"], rows["edgeward_detect_plain_run"]
    cuda = rows["provider"] == "CUDAExecutionProvider"
    on, device = ("CUDA", "the GPU") if cuda else ("the CPU provider", "the CPU provider's memory")
    line = lambda what, ms: f"| {what} | {ms:.2f} | {ms / rows['bare_run_ms']:.2f}x |"  # noqa: E731
    out = ["| path, median ms a frame | ms | to bare |", "|---|---:|---:|",
           line(f"bare `session.run` on {on} (numpy in, numpy out)", rows["bare_run_ms"]),
           line(f"IO binding, input already in {device}", rows["io_binding_ms"]),
           *([line("CUDA graph (fixed shapes, IO binding)", rows["cuda_graph_ms"])] if rows["cuda_graph_ms"] else []),
           line(f"edgeward `Detector.detect`, nvidia-gpu{'' if cuda else ' on ' + on} ({e['execution']}; pre {e.get('preprocess_ms', 0):.2f}, "
                f"inference {e.get('inference_ms', 0):.2f}, post {e.get('postprocess_ms', 0):.2f})", e["ms"]),
           line(f"edgeward `Detector.detect`, plain run (pre {u.get('preprocess_ms', 0):.2f}, inference "
                f"{u.get('inference_ms', 0):.2f}, post {u.get('postprocess_ms', 0):.2f})", u["ms"])]
    if rows["ultralytics_onnx_ms"] is not None:
        out.append(line("Ultralytics `predict` on the same ONNX file", rows["ultralytics_onnx_ms"]))
    out.append(f"\nframes whose detections differ between the bound and the plain run: "
               f"{rows['frames_differing_bound_vs_plain']} of 8; targets: " +
               ", ".join(f"{k}: {'n/a' if v is None else 'met' if v else 'NOT met'}" for k, v in rows["targets"].items()))
    return "\n".join(out)


def add_arguments(parser) -> None:
    parser.add_argument("--model", type=Path, help="a YOLOv8-layout ONNX file at 640 (default: a cheap one made here)")
    parser.add_argument("--repeats", type=int, default=300, help="timed calls per row (medians)")
    parser.add_argument("--out", type=Path, default=Path("runs/gpu-check.json"), help="the numbers, as JSON")
    parser.add_argument("--on-cpu", action="store_true",
                        help="the GPU table's rows on the CPU provider (IO binding's cost on a CPU; no CUDA graph row)")


def run(args) -> int:
    why = None if args.on_cpu else cuda_here()
    if why:
        print(f"no CUDA GPU here: {why}; the GPU table needs one. What the CPU spends around the model, on one core:")
        result = {"gpu": None, "why": why, "cpu_pipeline": measure(max(1, args.repeats))}
        print(markdown(result["cpu_pipeline"]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            model = args.model or yolov8_layout_model(Path(tmp) / "yolov8-layout.onnx")
            provider = "CPUExecutionProvider" if args.on_cpu else "CUDAExecutionProvider"
            result = {"gpu": gpu_rows(model, max(1, args.repeats), provider),
                      "model": str(args.model or "cheap YOLOv8 layout")}
        print(gpu_markdown(result["gpu"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    return 0
