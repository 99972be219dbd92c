"""Frames from cameras, video files, RTSP/HTTP streams and image folders, through OpenCV.

``LatestFrames`` reads in its own thread and always hands over the newest frame: when inference is
slower than the source, frames are dropped (and counted) instead of piling up. A URL that does not answer
is tried again with exponential backoff, then a clear error; a camera or stream that drops is reopened the
same way; a source that opens but never gives a frame is an error, not an empty run.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeward.core.config import at_least, option
from edgeward.core.errors import DeviceError, InputError, require
from edgeward.core.files import regular_file
from edgeward.core.waiting import interruptible, wait_for
from edgeward.runtime.engine.image_header import check_image_size

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
MAX_VIDEO_BYTES = 1 << 40  # a terabyte: a bound for what stat says, not for memory (frames are read one at a time)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """One image file as BGR, or an ``InputError`` naming it (a header declaring more than 64 megapixels is
    refused before decoding)."""
    cv2 = require("cv2", "camera")
    check_image_size(path)
    try:
        frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
    except cv2.error as exc:  # some damaged headers make the decoder raise instead of returning None
        raise InputError(f"{path}: not a readable image ({str(exc).strip().splitlines()[-1][:120]})") from None
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
            except InputError as exc:
                self.skipped.append((str(path), str(exc).removeprefix(f"{path}: ")))
                continue
            self.names.append(path.name)
            return True, frame
        return False, None

    def release(self) -> None:
        pass


@dataclass(frozen=True)
class StreamOptions:
    """How a live source is kept: URL streams and cameras are opened again when they fail or drop."""

    reconnect: int = option(5, "times a URL stream or camera is opened again when it does not answer or drops "
                               "(waiting 0.5 s, then twice as long each time)")
    backoff_s: float = option(0.5, "the first wait before opening a stream again, in seconds", cli=False)
    loop: bool = option(False, "start a video file (or a file served at a URL) again at its end (a kiosk, a soak test)")
    timeout_s: float = option(10.0, "seconds a URL stream may take to open, or to give its next frame, before it "
                                    "counts as not answering")

    def __post_init__(self):
        at_least(self, 0, "reconnect")
        at_least(self, 0.001, "backoff_s")
        at_least(self, 0.1, "timeout_s")


def is_camera(source) -> bool:
    return isinstance(source, int) or (isinstance(source, str) and source.isdigit())


def _url_opener(cv2, timeout_s: float) -> Callable:
    """cv2.VideoCapture with open and read timeouts: without them a listener that never answers (an RTSP port
    behind a dead camera) holds the opening thread for good."""
    ms = int(timeout_s * 1000)
    return lambda url: cv2.VideoCapture(url, cv2.CAP_ANY, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms,
                                                           cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms])


def open_capture(source: str | int, opener: Callable | None = None, retries: int = 0, backoff_s: float = 0.5,
                 timeout_s: float = 10.0):
    """An OpenCV capture (or ImageFolder) for a camera index, a video file, a URL or an image folder. A URL that
    cannot be opened within ``timeout_s`` is tried ``retries`` more times, waiting ``backoff_s``, then twice as
    long each time."""
    cv2 = require("cv2", "camera")
    opener = opener or (_url_opener(cv2, timeout_s) if "://" in str(source) else cv2.VideoCapture)
    if is_camera(source):
        cap = opener(int(source))
        if not cap.isOpened():
            raise DeviceError(f"camera {source} cannot be opened (no such device, or it is busy)")
        return cap
    if "://" in str(source):
        waited = 0.0
        for attempt in range(retries + 1):
            cap = opener(str(source))
            if cap.isOpened():
                return cap
            if attempt < retries:
                time.sleep(backoff_s * 2 ** attempt)
                waited += backoff_s * 2 ** attempt
        raise DeviceError(f"stream {source} cannot be opened: tried {retries + 1} times over {waited:.1f} s, "
                          f"{timeout_s:g} s each at most (nothing answers there, or it is not a video stream)")
    path = Path(source)
    if path.is_dir() or (path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES):
        return ImageFolder(path)
    if not path.exists():
        raise InputError(f"{path}: video source not found; expected a camera index, a URL, a video file or an image folder")
    regular_file(path, "video file", MAX_VIDEO_BYTES)  # a FIFO or a device would block the reader for good
    cap = opener(str(path))
    if not cap.isOpened():
        raise InputError(f"{path}: not a video OpenCV can read")
    return cap


class LatestFrames:
    """Reads a source in a background thread, keeping only the newest frame.

    ``frames()`` yields (frame number, frame) for the newest unseen frame until the source ends;
    ``dropped`` counts frames that were read but never handed over. ``realtime=False`` (files, folders):
    the reader waits for the consumer instead of dropping, for offline processing of every frame. An error in
    the reader ends the frames and is raised to the consumer. ``reconnects`` counts reopenings of a dropped
    stream or camera, ``loops`` the restarts of a looping video file.
    """

    def __init__(self, source: str | int, realtime: bool | None = None, opener: Callable | None = None,
                 options: StreamOptions = StreamOptions()):
        self.source, self._opener, self.options = source, opener, options
        self.is_url = "://" in str(source)
        self.is_live = self.is_url or is_camera(source)
        self.realtime = self.is_live if realtime is None else realtime
        opening = (source, opener, options.reconnect if self.is_url else 0, options.backoff_s, options.timeout_s)
        # a URL's open waits on the network inside FFmpeg, which a signal does not end: waited for in short steps
        self._cap = interruptible(open_capture, *opening) if self.is_url else open_capture(*opening)
        self._looping = options.loop and not is_camera(source) and not isinstance(self._cap, ImageFolder)
        self.file_ended = False  # a URL that served a file of known length to its end (not a dropped stream)
        self._cond = threading.Condition()
        self._frame: tuple[int, np.ndarray] | None = None
        self._taken = -1
        self._ended = False
        self._error: BaseException | None = None
        self.read_count = self.dropped = self.reconnects = self.loops = 0
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

    def _reopen(self) -> None:
        self._cap.release()
        self._cap = open_capture(self.source, self._opener, timeout_s=self.options.timeout_s)

    def _served_a_file(self, since_open: int) -> bool:
        """A URL whose capture knows its length (a video file served over HTTP) and was read to it: it ended,
        it did not drop. Live streams report no length (OpenCV gives 0 or a negative count)."""
        get = getattr(self._cap, "get", None)
        total = get(7) if get else 0  # cv2.CAP_PROP_FRAME_COUNT
        return self.is_url and 0 < total < 2**40 and since_open >= total

    def _read_all(self) -> None:
        failures, since_loop, since_open = 0, 0, 0
        while not self._stop:
            ok, frame = self._cap.read()
            if not ok:
                ended = self._served_a_file(since_open)
                if ended and not self._looping:
                    self.file_ended = True
                    break
                if self.is_live and not ended and failures < self.options.reconnect:  # dropped: reopen, waiting longer
                    time.sleep(self.options.backoff_s * 2 ** failures)
                    failures += 1
                    try:
                        self._reopen()
                        self.reconnects += 1
                        since_open = 0
                    except DeviceError:
                        pass
                    continue
                if self._looping and since_loop:  # a file that gave frames this pass: from the start again
                    self._reopen()
                    self.loops += 1
                    since_loop = since_open = 0
                    continue
                break
            since_open += 1
            failures = 0
            since_loop += 1
            with self._cond:
                if not self.realtime:
                    self._cond.wait_for(lambda: self._frame is None or self._frame[0] == self._taken or self._stop)
                if self._frame is not None and self._frame[0] != self._taken:
                    self.dropped += 1
                self._frame = (self.read_count, frame)
                self.read_count += 1
                self._cond.notify_all()
        if self.read_count == 0 and not self._stop:
            self._no_frames()

    def _no_frames(self) -> None:
        if isinstance(self._cap, ImageFolder):
            raise InputError(f"{self.source}: none of its {len(self._cap.paths)} image(s) could be read; first: "
                             f"{self._cap.skipped[0][0]} ({self._cap.skipped[0][1]})")
        if self.is_url:
            raise DeviceError(f"stream {self.source} opened but gave no frames (reopened {self.reconnects} "
                              f"time(s)); expected a video stream OpenCV can decode")
        if is_camera(self.source):
            raise DeviceError(f"camera {self.source} opened but gave no frames")
        raise InputError(f"{self.source}: opened, but no frame could be decoded")

    def frames(self) -> Iterator[tuple[int, np.ndarray]]:
        while True:
            with self._cond:  # in short steps: a signal ends the wait for a frame that may not come
                wait_for(self._cond, lambda: (self._frame is not None and self._frame[0] != self._taken) or self._ended)
                if self._frame is None or self._frame[0] == self._taken:
                    if self._error is not None:
                        raise self._error
                    return
                number, frame = self._frame
                self._taken = number
                self._cond.notify_all()
            yield number, frame

    def summary(self) -> str:
        """One line: frames read and dropped, reopenings and loops, and the images skipped (with why)."""
        text = f"frames: {self.read_count}, dropped: {self.dropped}"
        text += f", reconnects: {self.reconnects}" if self.is_live else ""
        text += f", loops: {self.loops}" if self._looping else ""
        text += " (the URL served a video file, and it ended: --loop plays it again)" if self.file_ended else ""
        if self.skipped:
            text += f"; skipped {len(self.skipped)} unreadable image(s): " + "; ".join(f"{p} ({why})" for p, why in self.skipped)
        return text

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
        self._thread.join(timeout=0.5)
        if not self._thread.is_alive():  # a reader still inside a read of a stream that stalled keeps its capture:
            self._cap.release()          # released under it, the read would touch freed memory (the process ends)

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
