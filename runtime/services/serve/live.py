"""Live sources behind the server, each in its own thread: a video source on the served model whose runtime takes
video (the newest frame as the runtime drew it, as JPEG, and its record: ``ModelTask.watch``), an audio source on
the one whose runtime takes audio (the stream of its events: ``ModelTask.listen``).

A file source (a video, a WAV file) plays at its own pace, in real time, and starts again at its end, so a
recording stands in for a camera or a microphone (``--once``: it plays once; the server says which at start).
Viewers read the newest state; nothing waits for them.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeward.core.errors import InputError, require
from edgeward.runtime.registry import Feed, fed, runtime_class

FILE_FPS = 25.0  # a video file's pace when it does not say its own
JOIN_S = 0.5  # the wait for a feed's thread at shutdown; one still waiting on a stalled source is a daemon, left


def is_audio(source: str) -> bool:
    return source == "mic" or source.startswith("mic:") or Path(source).suffix.lower() == ".wav"


def source_feed(source: str) -> Feed:
    """What a live source gives: audio (a microphone, a WAV file) or video (anything else)."""
    return Feed.AUDIO if is_audio(source) else Feed.VIDEO


def is_file(source: str) -> bool:
    """A recording (video, image folder, WAV) rather than a camera, a stream URL or a microphone."""
    return not (source.isdigit() or "://" in source or source == "mic" or source.startswith("mic:"))


@dataclass(frozen=True)
class Published:
    """One frame as served: its number, its record (the runtime's ``watch`` record, the frames per second) and its
    picture as the runtime drew it, made together so that a caption and its picture never come from two frames."""

    number: int
    latest: dict
    jpeg: bytes


class VideoFeed:
    """A runtime that takes video (``watch``) on a video source: the latest frames ``Published`` (``latest``,
    ``jpeg``, ``number`` of the newest; ``frame(n)`` for one of the last few)."""

    KEPT = 32  # frames a page can still ask for by number (about a second of video)

    def __init__(self, runtime, source: str, quality: int = 80, pace_files: bool = True, once: bool = False):
        self.runtime, self.source, self.quality, self.pace_files, self.once = runtime, source, quality, pace_files, once
        self.ended = False  # a file source played once (``once``) to its end
        none_yet = Published(-1, {"frame": -1, **runtime.unwatched, "fps": 0.0}, b"")  # what the page reads before a frame
        self.recent: deque[Published] = deque([none_yet], maxlen=self.KEPT)
        self.frames = self.dropped = self.restarts = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edgeward-video-feed", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from edgeward.runtime.io.video import LatestFrames

        cv2 = require("cv2", "camera")
        live = self.source.isdigit() or "://" in self.source
        while not self._stop.is_set():
            try:
                with LatestFrames(int(self.source) if self.source.isdigit() else self.source, realtime=live) as frames:
                    pace = 1.0 / _file_fps(cv2, self.source) if self.pace_files and not live else 0.0
                    next_at = time.perf_counter()
                    for watched in self.runtime.watch(frames.frames()):
                        self._publish(cv2, watched)
                        if self._stop.is_set():
                            return
                        next_at += pace
                        time.sleep(max(0.0, next_at - time.perf_counter()))
                    self.dropped += frames.dropped
            except Exception as exc:  # a source that fails: said on the page and in /TASK/latest, not a crash
                self.error = f"{type(exc).__name__}: {exc}"
                return
            if live:
                return
            if self.once:
                self.ended = True
                return
            self.restarts += 1

    def _publish(self, cv2, watched) -> None:
        ok, jpeg = cv2.imencode(".jpg", watched.picture, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:  # a frame OpenCV cannot encode is not shown: nothing published would match it
            return
        latest = {"frame": self.frames, **watched.record}
        self.recent.append(Published(self.frames, latest, jpeg.tobytes()))  # one append: readers see all of it or none
        self.frames += 1

    latest = property(lambda self: self.recent[-1].latest)
    jpeg = property(lambda self: self.recent[-1].jpeg)
    number = property(lambda self: self.recent[-1].number)

    def frame(self, number: int) -> Published | None:
        """One of the last ``KEPT`` frames, or None (too old, or not yet made)."""
        kept = list(self.recent)  # a copy made at once: the feed's thread appends while a request reads
        return next((p for p in reversed(kept) if p.number == number), None)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(JOIN_S)


def _file_fps(cv2, source: str) -> float:
    if Path(source).is_dir():
        return 2.0  # an image folder: two images a second
    cap = cv2.VideoCapture(source)
    fps = cap.get(cv2.CAP_PROP_FPS) if cap.isOpened() else 0.0
    cap.release()
    return fps if 1.0 <= fps <= 240.0 else FILE_FPS


class AudioFeed:
    """A runtime that takes audio (``listen``) on an audio source: ``events`` (the newest 200, each with a sequence
    number)."""

    def __init__(self, runtime, source: str, once: bool = False):
        self.runtime, self.source, self.once = runtime, source, once
        self.ended = False  # a WAV source played once (``once``) to its end
        self.events: deque[dict] = deque(maxlen=200)
        self.count, self.restarts = 0, 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edgeward-audio-feed", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from edgeward.runtime.io.audio_sources import WavSource, open_source

        played = 0.0  # seconds of a looped file already played: event times keep counting across loops
        try:
            while not self._stop.is_set():
                if Path(self.source).suffix.lower() != ".wav":
                    with open_source(self.source) as audio:
                        self._listen(audio, 0.0)
                    return
                wav = WavSource(self.source)
                self._listen(_real_time(wav, self._stop), played)
                played += len(wav.samples) / wav.rate
                if self.once:
                    self.ended = True
                    return
                self.restarts += 1
                self.runtime.reset()
        except Exception as exc:  # no microphone, an unreadable file: said on the page, not a crash
            self.error = f"{type(exc).__name__}: {exc}"

    def _listen(self, blocks, offset: float) -> None:
        for event in self.runtime.listen(blocks):
            self.count += 1
            self.events.append({"seq": self.count, **event, "start": round(event["start"] + offset, 2),
                                "end": round(event["end"] + offset, 2)})
            if self._stop.is_set():
                return

    def after(self, seq: int) -> list[dict]:
        return [e for e in list(self.events) if e["seq"] > seq]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(JOIN_S)


def _real_time(source, stop: threading.Event):
    """The blocks of a file source at the pace they would come from a microphone."""
    started = time.perf_counter()
    heard = 0.0
    for block, rate in source:
        if stop.is_set():
            return
        yield np.asarray(block), rate
        heard += len(block) / rate
        time.sleep(max(0.0, started + heard - time.perf_counter()))


def describe_sources(options) -> list[str]:
    """A line per live source of ``options``: what it is and, for a file, whether it starts again at its end."""
    lines = []
    for source in options.source:
        feed = source_feed(source).value
        if not is_file(source):
            lines.append(f"live source {source} -> {feed}")
        else:
            how = "a file, played once (--once)" if options.once else \
                "a file: it starts again at its end (--once plays it once)"
            lines.append(f"live source {source} -> {feed}, {how}")
    return lines


class Feeds:
    """The live sources of ``options.source``, each on the served model whose task's runtime takes what the source
    gives (``registry.Feed``), started with the server."""

    def __init__(self, served: list, options):
        self.video: VideoFeed | None = None
        self.audio: AudioFeed | None = None
        self._plan = []
        from edgeward.runtime.services.serve.models import fed_by

        for source in options.source:
            feed = source_feed(source)
            self._plan.append((feed, source, fed_by(served, feed, f"--source {source}").model))
        kinds = [f for f, _, _ in self._plan]
        if len(set(kinds)) != len(kinds):
            raise InputError("--source: expected at most one video and one audio source, got " + ", ".join(options.source))
        self.options = options

    def start(self) -> None:
        o = self.options
        for feed, source, model in self._plan:  # their own model instances: LiteRT interpreters are not thread-safe
            cls = runtime_class(model.manifest.task)
            runtime = cls.from_file(model.source, device=o.device, threads=o.threads, **o.runtime_options(cls))
            if feed is Feed.VIDEO:
                self.video = VideoFeed(runtime, source, pace_files=o.pace_files, once=o.once)
            else:
                self.audio = AudioFeed(runtime, source, once=o.once)

    def need_video(self) -> VideoFeed:
        if self.video is None:
            raise InputError("no video source: start the server with --source 0|video.mp4|URL|FOLDER and a model of a "
                             f"task whose runtime takes video ({', '.join(fed(Feed.VIDEO))})")
        return self.video

    def need_audio(self) -> AudioFeed:
        if self.audio is None:
            raise InputError("no audio source: start the server with --source mic|file.wav and a model of a task whose "
                             f"runtime takes audio ({', '.join(fed(Feed.AUDIO))})")
        return self.audio

    def close(self) -> None:
        for feed in (self.video, self.audio):
            if feed is not None:
                feed.close()
