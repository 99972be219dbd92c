"""Frames from cameras, video files, RTSP/HTTP streams and image folders, through OpenCV.

``LatestFrames`` reads in its own thread and always hands over the newest frame: when inference is
slower than the source, frames are dropped (and counted) instead of piling up. A camera that cannot
open is a clear error; a URL stream that drops is reopened with exponential backoff.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from edgeward.core.errors import DeviceError, InputError, require

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def read_image(path: str | os.PathLike) -> np.ndarray:
    """One image file as BGR, or an ``InputError`` naming it."""
    cv2 = require("cv2", "camera")
    frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if frame is None:
        raise InputError(f"{path}: not a readable image")
    return frame


class ImageFolder:
    """A folder of images (or one image file) as a finite, ordered stream of BGR frames. An unreadable image
    is skipped and kept in ``skipped`` (path, reason); ``names`` holds the file name of each frame read."""

    def __init__(self, folder: str | os.PathLike):
        folder = Path(folder)
        self.paths = [folder] if folder.is_file() else sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.paths:
            raise InputError(f"{folder}: expected images ({', '.join(IMAGE_SUFFIXES)}), found none")
        self._next = 0
        self.names: list[str] = []
        self.skipped: list[tuple[str, str]] = []

    def read(self) -> tuple[bool, np.ndarray | None]:
        while self._next < len(self.paths):
            path = self.paths[self._next]
            self._next += 1
            try:
                frame = read_image(path)
            except InputError:
                self.skipped.append((str(path), "not a readable image"))
                continue
            self.names.append(path.name)
            return True, frame
        return False, None

    def release(self) -> None:
        pass


def open_capture(source: str | int, opener: Callable | None = None):
    """An OpenCV capture (or ImageFolder) for a camera index, a video file, a URL or an image folder."""
    cv2 = require("cv2", "camera")
    opener = opener or cv2.VideoCapture
    if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
        cap = opener(int(source))
        if not cap.isOpened():
            raise DeviceError(f"camera {source} cannot be opened (no such device, or it is busy)")
        return cap
    if "://" in str(source):
        cap = opener(str(source))
        if not cap.isOpened():
            raise DeviceError(f"stream {source} cannot be opened")
        return cap
    path = Path(source)
    if path.is_dir() or (path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES):
        return ImageFolder(path)
    if not path.exists():
        raise InputError(f"{path}: video source not found; expected a camera index, a URL, a video file or an image folder")
    cap = opener(str(path))
    if not cap.isOpened():
        raise InputError(f"{path}: not a video OpenCV can read")
    return cap


class LatestFrames:
    """Reads a source in a background thread, keeping only the newest frame.

    ``frames()`` yields (frame number, frame) for the newest unseen frame until the source ends;
    ``dropped`` counts frames that were read but never handed over. ``realtime=False`` (files, folders):
    the reader waits for the consumer instead of dropping, for offline processing of every frame. An error in
    the reader ends the frames and is raised to the consumer.
    """

    def __init__(self, source: str | int, realtime: bool | None = None, opener: Callable | None = None,
                 reconnect: int = 5, backoff_s: float = 0.5):
        self.source, self._opener = source, opener
        self.is_url = "://" in str(source)
        self.realtime = (isinstance(source, int) or str(source).isdigit() or self.is_url) if realtime is None else realtime
        self._cap = open_capture(source, opener)
        self._reconnect, self._backoff = reconnect, backoff_s
        self._cond = threading.Condition()
        self._frame: tuple[int, np.ndarray] | None = None
        self._taken = -1
        self._ended = False
        self._error: BaseException | None = None
        self.read_count = self.dropped = self.reconnects = 0
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="edgeward-capture", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._read_all()
        except BaseException as exc:  # handed to the consumer: a dead reader must not leave it waiting
            self._error = exc
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def _read_all(self) -> None:
        failures = 0
        while not self._stop:
            ok, frame = self._cap.read()
            if not ok:
                if self.is_url and failures < self._reconnect:  # a dropped stream: reopen, waiting longer each time
                    time.sleep(self._backoff * 2 ** failures)
                    failures += 1
                    self._cap.release()
                    try:
                        self._cap = open_capture(self.source, self._opener)
                        self.reconnects += 1
                    except DeviceError:
                        pass
                    continue
                break
            failures = 0
            with self._cond:
                if not self.realtime:
                    self._cond.wait_for(lambda: self._frame is None or self._frame[0] == self._taken or self._stop)
                if self._frame is not None and self._frame[0] != self._taken:
                    self.dropped += 1
                self._frame = (self.read_count, frame)
                self.read_count += 1
                self._cond.notify_all()

    def frames(self) -> Iterator[tuple[int, np.ndarray]]:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: (self._frame is not None and self._frame[0] != self._taken) or self._ended)
                if self._frame is None or self._frame[0] == self._taken:
                    if self._error is not None:
                        raise self._error
                    return
                number, frame = self._frame
                self._taken = number
                self._cond.notify_all()
            yield number, frame

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """Images of a folder that could not be read: (path, reason)."""
        return list(getattr(self._cap, "skipped", []))

    def name(self, number: int) -> str | None:
        """The file name of frame ``number`` of an image folder (None for other sources)."""
        names = getattr(self._cap, "names", None)
        return names[number] if names is not None and number < len(names) else None

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout=2)
        self._cap.release()

    def __enter__(self) -> "LatestFrames":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_frames(video: str | os.PathLike) -> list[np.ndarray]:
    """Every frame of a video file, decoded (BGR)."""
    cv2 = require("cv2", "camera")
    cap = cv2.VideoCapture(str(video))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    if not frames:
        raise InputError(f"{video}: no frames could be decoded")
    return frames
