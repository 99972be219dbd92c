"""The classification task's own measurements: the ``Classifier`` end to end on one thread, on the test
images read from disk (decoding included) and on the video's decoded frames (preprocessing, inference and
top-k timed apart), with top-1 against the truth; its targets and tables."""

from __future__ import annotations

import csv
import statistics
import time
from pathlib import Path

from edgeward.core.records import BenchRecord, ValidationRecord

WARMUP = 5


def _run(artifact: Path, items: list, read, labels_of) -> dict:
    """Time ``read(item)`` + ``classify`` on each item; top-1 against ``labels_of(item)`` (a label name)."""
    from edgeward.runtime.tasks.classify import Classifier

    stages: dict[str, list[float]] = {"preprocess_ms": [], "inference_ms": [], "postprocess_ms": [], "total_ms": []}
    right = 0
    with Classifier.from_file(artifact, threads=1) as clf:
        for item in items[:WARMUP]:
            clf.classify(read(item), top_k=1)
        started = time.perf_counter()
        for item in items:
            t0 = time.perf_counter()
            found = clf.classify(read(item), top_k=1)
            stages["total_ms"].append((time.perf_counter() - t0) * 1e3)
            for k, v in clf.timings.items():
                stages[k].append(v)
            right += found[0].label == labels_of(item)
        seconds = time.perf_counter() - started
    return {"artifact": artifact.name, "images": len(items), **{k: round(statistics.median(v), 4) for k, v in stages.items()},
            "images_per_s": round(len(items) / seconds, 1), "top1": right / len(items)}


def bench_folder(artifact: Path, files: list[tuple[Path, str]]) -> dict:
    """On image files (path, label), each read and decoded by OpenCV inside the timing."""
    import cv2

    return {"source": "folder", **_run(artifact, files, lambda f: cv2.imread(str(f[0]), cv2.IMREAD_COLOR), lambda f: f[1])}


def bench_video(artifact: Path, video: Path, truth_csv: Path) -> dict:
    """On the video's frames, decoded first (the camera's work is not the classifier's)."""
    from edgeward.runtime.io.video import read_frames

    frames = read_frames(video)
    with truth_csv.open(newline="") as fh:
        labels = {int(r["frame"]): r["label"] for r in csv.DictReader(fh)}
    return {"source": "video", **_run(artifact, list(enumerate(frames)), lambda f: f[1], lambda f: labels.get(f[0]))}


def targets(result: BenchRecord, validation: ValidationRecord) -> list[tuple]:
    r = result.payload
    rows = [("classifier parameters", f"{r['params']:,}", "<= 300,000", r["params"] <= 300_000)]
    checks = validation.by_name()
    if "model.onnx" in checks and r.get("classes", 0) > 2:
        top1 = checks["model.onnx"].metric
        rows.append(("top-1 on held-out images (fp32 ONNX)", f"{top1:.2%}", ">= 90%", top1 >= 0.90))
    if "auprc" in r.get("keras_metrics", {}):
        value = r["keras_metrics"]["auprc"]
        rows.append(("AUPRC on held-out images (Keras)", f"{value:.4f}", ">= 0.95", value >= 0.95))
    for e in r.get("end_to_end", []):
        small = r.get("size", 0) <= 32
        rows.append((f"end to end, 1 thread, {e['source']} ({e['artifact']})", f"{e['images_per_s']:,.0f} images/s",
                     ">= 1,000 (32x32)", (e["images_per_s"] >= 1000) if small else None))
    return rows


def tables(result: BenchRecord) -> list[tuple[str, list[str], list[list[str]]]]:
    r = result.payload
    if not r.get("end_to_end"):
        return []
    return [("End to end on 1 thread (test images read from disk; video frames decoded first; medians per image)",
             ["artifact", "source", "images", "preprocess", "inference", "top-k", "total", "images/s", "top-1"],
             [[e["artifact"], e["source"], str(e["images"]), f"{e['preprocess_ms']:.3f} ms", f"{e['inference_ms']:.3f} ms",
               f"{e['postprocess_ms']:.3f} ms", f"{e['total_ms']:.3f} ms", f"{e['images_per_s']:,.0f}", f"{e['top1']:.2%}"]
              for e in r["end_to_end"]])]
