"""The detection task's own measurements: end to end on one thread, from a decoded video frame to
detections (letterbox and scaling, inference, decoding and NMS timed apart), mAP on the video's
per-frame truth, and annotated output for the report (an MP4, an animated GIF and a few frames); its
targets and tables."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

import numpy as np

from edgeward.core.records import BenchRecord, ValidationRecord
from edgeward.runtime.io.video import read_frames
from edgeward.runtime.io.video_loop import VideoSink, detect_frames
from edgeward.train.detect.metrics import Detections, average_precision

WARMUP_FRAMES = 5


def read_video_truth(path: Path) -> dict[int, Detections]:
    """``frame,class,x1,y1,x2,y2`` rows -> per-frame ground truth."""
    rows: dict[int, list] = {}
    with path.open(newline="") as fh:
        for r in csv.DictReader(fh):
            rows.setdefault(int(r["frame"]), []).append([int(r["class"]), *(float(r[k]) for k in ("x1", "y1", "x2", "y2"))])
    return {f: Detections(np.asarray(v)[:, 1:], np.asarray(v)[:, 0].astype(int)) for f, v in rows.items()}


def as_detections(found) -> Detections:
    """The runtime's detections of one image as the metric's ``Detections``."""
    return Detections(np.asarray([d.box for d in found]).reshape(-1, 4), np.asarray([d.class_id for d in found], int),
                      np.asarray([d.score for d in found]))


def bench_video(artifact: Path, video: Path, truth_csv: Path, annotated_dir: Path | None = None) -> dict:
    """Time the ``Detector`` (1 thread) frame by frame with its default options; score mAP with a low
    threshold in a second pass; ``annotated_dir``: also write the annotated video, GIF and frames."""
    from edgeward.runtime.tasks.detect import Detector, DetectorOptions

    frames = read_frames(video)
    stages: dict[str, list[float]] = {"preprocess_ms": [], "inference_ms": [], "postprocess_ms": [], "total_ms": []}
    detected = []
    with Detector.from_file(artifact, threads=1) as det:
        for frame in frames[:WARMUP_FRAMES]:
            det.detect(frame)
        for result in detect_frames(det, enumerate(frames)):
            detected.append(result)
            for k, v in result.timings.items():
                stages[k].append(v)
    truth = read_video_truth(truth_csv)
    with Detector.from_file(artifact, threads=1, options=DetectorOptions(score_threshold=0.01)) as det:
        predicted = [det.detect(f) for f in frames]
    ap = average_precision([truth.get(i, Detections(np.zeros((0, 4)), np.zeros(0, int))) for i in range(len(frames))],
                           [as_detections(p) for p in predicted])
    medians = {k: statistics.median(v) for k, v in stages.items()}
    out = {"artifact": artifact.name, "frames": len(frames), "frame_size": [int(frames[0].shape[1]), int(frames[0].shape[0])],
           **{k: round(v, 3) for k, v in medians.items()},
           "p95_total_ms": round(float(np.percentile(stages["total_ms"], 95)), 3),
           "fps": round(1000.0 / medians["total_ms"], 1), "video_map50": round(ap["map50"], 4),
           "video_map50_95": round(ap["map50_95"], 4)}
    if annotated_dir is not None:
        out["annotated"] = write_annotated(detected, annotated_dir)
    return out


def write_annotated(detected: list, out_dir: Path) -> dict:
    """``detections.mp4`` (every frame), ``detections.gif`` (every second frame, for the offline report)
    and ``frame_N.png`` for four frames spread over the video."""
    import cv2
    from PIL import Image

    from edgeward.runtime.io.draw import annotate

    out_dir.mkdir(parents=True, exist_ok=True)
    drawn = [annotate(d.frame, d.detections, d.fps) for d in detected]
    h, w = drawn[0].shape[:2]
    with VideoSink(out_dir / "detections.mp4", fps=25.0) as sink:
        for d in drawn:
            sink.write(d)
    gif = [Image.fromarray(d[:, :, ::-1]).resize((w * 3 // 4, h * 3 // 4)) for d in drawn[::2][:80]]
    gif[0].save(out_dir / "detections.gif", save_all=True, append_images=gif[1:], duration=80, loop=0, optimize=True)
    stills = []
    for i in np.linspace(0, len(drawn) - 1, 4).astype(int):
        name = f"frame_{i}.png"
        cv2.imwrite(str(out_dir / name), drawn[i])
        stills.append(name)
    return {"video": "detections.mp4", "gif": "detections.gif", "frames": stills}


def targets(r: BenchRecord, validation: ValidationRecord) -> list[tuple]:
    params = r.payload["params"]
    rows = [("detector parameters", f"{params:,}", "<= 2,000,000", params <= 2_000_000)]
    checks = validation.by_name()
    if "model.onnx" in checks:
        m = checks["model.onnx"].metric
        rows.append(("mAP@0.5 on held-out images (fp32 ONNX)", f"{m:.3f}", ">= 0.90", m >= 0.90))
    int8 = [c for c in checks.values() if c.precision == "int8"]
    if int8:
        worst = max(int8, key=lambda c: c.drop_points)
        rows.append(("int8 mAP@0.5 drop (worst)", f"{worst.drop_points:+.2f} points ({worst.artifact})", "<= 1 point",
                     worst.drop_points <= 1.0))
    for v in r.payload.get("video", []):
        rows.append((f"end to end, 1 thread ({v['artifact']})",
                     f"{v['fps']:.0f} FPS ({v['total_ms']:.2f} ms: preprocess {v['preprocess_ms']:.2f}, inference "
                     f"{v['inference_ms']:.2f}, decode+NMS {v['postprocess_ms']:.2f})", ">= 60 FPS", v["fps"] >= 60))
    return rows


def tables(r: BenchRecord) -> list[tuple[str, list[str], list[list[str]]]]:
    if not r.payload.get("video"):
        return []
    return [("Video, end to end on 1 thread (decoded frame to detections; medians per frame)",
             ["artifact", "frames", "preprocess", "inference", "decode + NMS", "total", "p95 total", "FPS", "video mAP@0.5"],
             [[v["artifact"], str(v["frames"]), f"{v['preprocess_ms']:.2f} ms", f"{v['inference_ms']:.2f} ms",
               f"{v['postprocess_ms']:.2f} ms", f"{v['total_ms']:.2f} ms", f"{v['p95_total_ms']:.2f} ms",
               f"{v['fps']:.0f}", f"{v['video_map50']:.3f}"] for v in r.payload["video"]])]
