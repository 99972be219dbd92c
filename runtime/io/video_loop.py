"""The detection video loop: detect on each frame of a source, time it, and draw or write what was found.

``edgeward run detect`` and the detection benchmark both run frames through ``detect_frames``; ``annotate``
(``runtime.draw``) draws a result, ``VideoSink`` writes drawn frames to an MP4 and ``show`` puts them on
the screen.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from edgeward.core.errors import InputError, require


@dataclass(frozen=True)
class DetectedFrame:
    number: int
    frame: np.ndarray  # the source frame (BGR)
    detections: list  # Detection
    timings: dict[str, float]  # preprocess_ms, inference_ms, postprocess_ms and total_ms (the whole detect call)
    fps: float  # frames per second over the recent frames (exponential smoothing of the loop's rate)


def detect_frames(detector, frames: Iterable[tuple[int, np.ndarray]], smoothing: float = 0.1) -> Iterator[DetectedFrame]:
    """Each (number, frame) of ``frames`` with what ``detector`` found in it, timed."""
    fps, last = None, time.perf_counter()
    for number, frame in frames:
        started = time.perf_counter()
        found = detector.detect(frame)
        now = time.perf_counter()
        rate = 1.0 / max(now - last, 1e-9)
        fps = rate if fps is None else (1 - smoothing) * fps + smoothing * rate
        last = now
        yield DetectedFrame(number, frame, found, {**detector.timings, "total_ms": (now - started) * 1e3}, fps)


class VideoSink:
    """An MP4 file of drawn frames, opened at the first frame's size. Frames go to ``NAME.partial.mp4``, renamed
    to the path when the sink closes normally; a run that stops on an error or a signal leaves the partial file."""

    def __init__(self, path: str | os.PathLike, fps: float = 30.0):
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise InputError(f"{path}: cannot write the video there: the folder {folder} does not exist")
        self.path, self.fps, self._writer = str(path), fps, None
        stem, suffix = os.path.splitext(self.path)
        self.partial = f"{stem}.partial{suffix or '.mp4'}"

    def write(self, frame: np.ndarray) -> None:
        if self._writer is None:
            cv2 = require("cv2", "camera")
            self._writer = cv2.VideoWriter(self.partial, cv2.VideoWriter_fourcc(*"mp4v"), self.fps,
                                           (frame.shape[1], frame.shape[0]))
        self._writer.write(frame)

    def close(self, complete: bool = True) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            if complete:
                os.replace(self.partial, self.path)

    def __enter__(self) -> "VideoSink":
        return self

    def __exit__(self, kind, *exc) -> None:
        self.close(complete=kind is None)


def show(frame: np.ndarray, title: str = "edgeward") -> bool:
    """Show a frame in a window; False once the user pressed q. A headless OpenCV is a clear error."""
    cv2 = require("cv2", "camera")
    try:
        cv2.imshow(title, frame)
    except cv2.error:
        raise InputError("--show needs OpenCV with a GUI (pip install opencv-python); this one is headless: use --save") from None
    return cv2.waitKey(1) & 0xFF != ord("q")
