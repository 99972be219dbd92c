"""Where audio comes from: WAV files, arrays, and the microphone (sounddevice / PortAudio).

A source is an iterable of ``(block, sample_rate)``: float32 mono blocks at the source's own rate
(the recognizer resamples). Sources have ``close()`` and a context manager.
"""

from __future__ import annotations

import os
import queue
from collections.abc import Iterator

import numpy as np

from edgeward.core.errors import DeviceError, InputError, require
from edgeward.core.waiting import POLL_S
from edgeward.runtime.io.audio_io import read_wav, to_mono


class ArraySource:
    def __init__(self, samples: np.ndarray, sample_rate: int, block_seconds: float = 0.1):
        self.samples, self.rate = to_mono(np.asarray(samples, dtype=np.float32)), int(sample_rate)
        self.block = max(1, int(self.rate * block_seconds))

    def __iter__(self) -> Iterator[tuple[np.ndarray, int]]:
        for at in range(0, len(self.samples), self.block):
            yield self.samples[at: at + self.block], self.rate

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class WavSource(ArraySource):
    """A WAV file at any rate, mono or multi-channel (mixed down)."""

    def __init__(self, path: str | os.PathLike, block_seconds: float = 0.1):
        samples, rate = read_wav(path)
        super().__init__(samples, rate, block_seconds)
        self.path = str(path)


class MicSource:
    """The microphone through sounddevice (PortAudio), at the device's own rate.

    Blocks arrive from PortAudio's callback thread through a bounded queue. An input overflow (the
    host lost samples) is counted in ``overflows`` and reported, not fatal; so is a block dropped
    because the consumer fell behind (``dropped``).
    """

    def __init__(self, device: int | str | None = None, sample_rate: int | None = None, block_seconds: float = 0.1,
                 max_blocks: int = 50, backend=None):
        sd = backend or require("sounddevice", "audio")
        name = device if device is not None else "(default)"
        try:
            info = sd.query_devices(device, "input")
        except Exception as exc:  # ValueError for an unknown device, PortAudioError when there is no input at all
            found = input_devices(sd)
            raise DeviceError(f"audio input {name} cannot be opened ({exc}); inputs this host has: "
                              + (", ".join(f"mic:{d['index']} {d['name']}" for d in found) or "none")) from None
        self.rate = int(sample_rate or info["default_samplerate"])
        self.overflows = self.dropped = 0
        self._queue: queue.Queue = queue.Queue(maxsize=max_blocks)
        self._closed = False

        def callback(indata, frames, time, status):
            if status and getattr(status, "input_overflow", False):
                self.overflows += 1
            try:
                self._queue.put_nowait(to_mono(np.array(indata, dtype=np.float32)))
            except queue.Full:
                self.dropped += 1

        try:
            self._stream = sd.InputStream(samplerate=self.rate, channels=1, device=device, dtype="float32",
                                          blocksize=max(1, int(self.rate * block_seconds)), callback=callback)
            self._stream.start()
        except Exception as exc:  # PortAudioError and friends
            raise DeviceError(f"audio input {name} cannot be opened: {exc}") from None

    def __iter__(self) -> Iterator[tuple[np.ndarray, int]]:
        while not self._closed:
            try:
                yield self._queue.get(timeout=POLL_S), self.rate  # short waits: a signal ends the wait (core.waiting)
            except queue.Empty:
                if not self._stream.active:
                    return

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._stream.stop()
            self._stream.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def input_devices(backend=None) -> list[dict]:
    """Audio input devices PortAudio sees (empty when sounddevice or PortAudio is missing); ``backend``: the
    sounddevice module to ask (default: the installed one)."""
    try:
        sd = backend or __import__("sounddevice")
        devices = sd.query_devices()
    except Exception:  # ImportError, OSError without PortAudio, PortAudioError: no inputs to list
        return []
    return [{"index": i, "name": d["name"], "channels": d["max_input_channels"], "rate": d["default_samplerate"]}
            for i, d in enumerate(devices) if d["max_input_channels"] > 0]


def open_source(spec: str, block_seconds: float = 0.1):
    """``mic``, ``mic:N`` (device index) or a WAV path."""
    if spec == "mic" or spec.startswith("mic:"):
        device = spec.split(":", 1)[1] if ":" in spec else None
        return MicSource(int(device) if device and device.isdigit() else device, block_seconds=block_seconds)
    if not os.path.exists(spec):
        raise InputError(f"{spec}: audio source not found; expected 'mic', 'mic:N' or a WAV file")
    return WavSource(spec, block_seconds)
