"""Fakes at the hardware edge, for what these machines lack: a microphone (sounddevice over PortAudio) and a
camera or network camera that drops (an OpenCV capture). Everything past them is real."""

from __future__ import annotations

import threading
import time

import numpy as np


class _Status:
    def __init__(self, overflow: bool):
        self.input_overflow = overflow

    def __bool__(self):
        return self.input_overflow


class FakeSoundDevice:
    """Stands in for the sounddevice module: a 'microphone' that plays a signal through PortAudio's callback
    contract from its own thread, in whole blocks, every ``overflow_every``-th block flagged as an input overflow,
    ``pace_s`` apart. ``blocks`` counts the blocks played."""

    def __init__(self, signal: np.ndarray, rate: int, overflow_every: int = 0, devices=None, pace_s: float = 0.0):
        self.signal, self.rate, self.overflow_every, self.pace_s = signal, rate, overflow_every, pace_s
        self.devices = devices if devices is not None else {None: {"default_samplerate": rate}}
        self.blocks = 0

    def query_devices(self, device=None, kind=None):
        if device is None and kind is None:  # the list of every device, as sounddevice gives it
            return [{"name": "fake microphone", "max_input_channels": 1, "default_samplerate": self.rate}]
        if device not in self.devices:
            raise ValueError(f"No input device matching {device!r}")
        return self.devices[device]

    def InputStream(self, samplerate, channels, device, dtype, blocksize, callback):
        fake = self

        class Stream:
            active = False

            def start(self):
                self.active = True

                def play():
                    for i, at in enumerate(range(0, len(fake.signal) - blocksize + 1, blocksize)):
                        block = fake.signal[at: at + blocksize].reshape(-1, 1)
                        overflow = bool(fake.overflow_every) and i % fake.overflow_every == fake.overflow_every - 1
                        callback(block, len(block), None, _Status(overflow))
                        fake.blocks += 1
                        time.sleep(fake.pace_s)
                    self.active = False

                self.thread = threading.Thread(target=play, daemon=True)
                self.thread.start()

            def stop(self):
                self.active = False

            def close(self):
                pass

        return Stream()


class FlakyOpener:
    """An opener for ``LatestFrames`` standing in for hardware these machines lack (a camera, a flaky network
    camera): each capture it opens gives ``frames`` frames, then fails (a drop); from open number ``works + 1``
    on, nothing opens (the device went away). ``opened`` counts the attempts."""

    def __init__(self, frames: int, works: int):
        self.frames, self.works, self.opened = frames, works, 0

    def __call__(self, source):
        self.opened += 1
        return _Capture(self.frames if self.opened <= self.works else 0)


class _Capture:
    def __init__(self, frames: int):
        self.left = frames

    def isOpened(self):
        return self.left > 0

    def read(self):
        if self.left:
            self.left -= 1
            return True, np.zeros((4, 4, 3), np.uint8)
        return False, None

    def release(self):
        pass
