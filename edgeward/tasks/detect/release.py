"""A released detector measured by the runtime on digits drawn afresh: mAP@0.5 on images in the training font
families and in the families training never drew, and on videos of moving digits (the first written with its
boxes). One video holds three digits, so its mAP swings with the faces and colours drawn: the measurement pools
several (docs/decisions.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeward.core.manifest import Metric
from edgeward.core.task import RELEASE_RUNS, Recipe
from edgeward.tasks.detect.bench import as_detections
from edgeward.train.detect.metrics import Detections, average_precision

RELEASE_IMAGES, CHECK_IMAGES = 500, 100  # per split: the release's measurement, the quick check's
RELEASE_VIDEOS, CHECK_VIDEOS = 10, 8  # videos of 5 s (release) or 2 s (check), three digits each
ANNOTATED = "annotated"  # the first video with its boxes, in the work folder (the demo's report shows it)


def image_map(model: Path, folder: Path, split: str) -> dict:
    """mAP of the runtime's ``Detector`` (low threshold, its own letterbox, decoding and NMS) on one split of
    a YOLO folder."""
    from edgeward.runtime.tasks.detect import Detector, DetectorOptions
    from edgeward.runtime.io.video import read_image
    from edgeward.train.detect.labels import load_yolo

    truth, found = [], []
    with Detector.from_file(model, options=DetectorOptions(score_threshold=0.01)) as detector:
        for sample in load_yolo(folder, split).samples:
            image = read_image(sample.image)
            h, w = image.shape[:2]
            b = sample.boxes.astype(np.float64) * [w, h, w, h]
            truth.append(Detections(np.c_[b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2], sample.classes.astype(int)))
            found.append(as_detections(detector.detect(image)))
    return average_precision(truth, found)


def video_map(model: Path, videos: list[tuple[Path, Path]]) -> dict:
    """mAP of the runtime's ``Detector`` over every frame of several videos, pooled."""
    from edgeward.runtime.tasks.detect import Detector, DetectorOptions
    from edgeward.runtime.io.video import read_frames
    from edgeward.tasks.detect.bench import read_video_truth

    truth, found = [], []
    none = Detections(np.zeros((0, 4)), np.zeros(0, int))
    with Detector.from_file(model, options=DetectorOptions(score_threshold=0.01)) as detector:
        for video, csv in videos:
            frames, gt = read_frames(video), read_video_truth(csv)
            truth += [gt.get(i, none) for i in range(len(frames))]
            found += [as_detections(detector.detect(f)) for f in frames]
    return {**average_precision(truth, found), "frames": len(truth)}


def measure(model: Path, work: Path, seed: int, small: bool = False) -> list[Metric]:
    from edgeward.runtime.tasks.detect import Detector
    from edgeward.runtime.io.video import read_frames
    from edgeward.runtime.io.video_loop import detect_frames
    from edgeward.tasks.detect.bench import write_annotated
    from edgeward.train.detect.config import DetectDataConfig
    from edgeward.train.detect.data import UNSEEN_SPLIT, generate_digits, write_video

    n = CHECK_IMAGES if small else RELEASE_IMAGES
    summary = generate_digits(work, DetectDataConfig(images=1, holdout=n, unseen_fonts=n, seed=seed, video_seconds=0))
    unseen = ", ".join(summary["families"]["unseen"])
    videos = [(work / f"video-{i}.mp4", work / f"video-{i}.csv") for i in range(CHECK_VIDEOS if small else RELEASE_VIDEOS)]
    for i, (video, csv) in enumerate(videos):
        write_video(video, csv, seconds=2.0 if small else 5.0, seed=seed + i)
    with Detector.from_file(model) as detector:  # the first video with its boxes, at the model's own threshold
        write_annotated(list(detect_frames(detector, enumerate(read_frames(videos[0][0])))), work / ANNOTATED)
    pooled = video_map(model, videos)
    return [Metric("map50", round(image_map(model, work, "test")["map50"], 4),
                   f"{n} images drawn afresh (seed {seed}), training font families"),
            Metric("unseen_fonts_map50", round(image_map(model, work, UNSEEN_SPLIT)["map50"], 4),
                   f"{n} images drawn afresh (seed {seed}) in font families training never drew: {unseen}"),
            Metric("video_map50", round(pooled["map50"], 4),
                   f"{len(videos)} videos of three moving digits, {pooled['frames']} frames "
                   f"(seeds {seed} to {seed + len(videos) - 1})")]


def recipes() -> tuple[Recipe, ...]:
    """The task's released models (``make models``)."""
    data, run = str(RELEASE_RUNS / "digits-data"), str(RELEASE_RUNS / "digits")
    return (Recipe(
        "digits", "detect", "digits on meters and house numbers: CenterNet-style detector, 320x320, 100k parameters",
        steps=(("data", "detect", data, "--images", "6000", "--holdout", "500", "--seed", "0"),
               ("train", "detect", "--data", data, "--out", run, "--epochs", "30", "--seed", "0"),
               ("export", run, "--format", "all", "--precision", "fp32,int8", "--max-drop", "1")),
        ship=("model.onnx", "model-int8.tflite")),)
