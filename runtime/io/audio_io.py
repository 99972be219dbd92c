"""Audio in numpy: WAV reading and writing (PCM 8/16/24/32-bit and IEEE float), mono mix-down, and a
streaming windowed-sinc resampler. No TensorFlow, no librosa, no scipy.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

from edgeward.core.errors import InputError
from edgeward.core.files import read_regular

MIN_RATE, MAX_RATE = 1000, 384_000  # Hz: telephone-grade audio to studio
MAX_CHANNELS = 64
STREAMING_SIZE = 0x7FFF0000  # a data size from here up means "to the end of the file"
MAX_WAV_BYTES = 4 << 30  # the RIFF format's own limit: 32-bit sizes
MAX_FLOAT_SAMPLE = 1000.0


def read_wav(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """(samples float32 in [-1, 1], shape (n,) mono or (n, channels), sample rate). A regular file of at most
    ``MAX_WAV_BYTES`` (a FIFO or ``/dev/zero`` would never end)."""
    return parse_wav(read_regular(path, "audio file", MAX_WAV_BYTES), str(path))


def parse_wav(data: bytes, path: str = "<bytes>") -> tuple[np.ndarray, int]:
    """``read_wav`` on the bytes of a WAV file."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise InputError(f"{path}: expected a WAV file (RIFF/WAVE header), got {data[:12]!r}")
    pos, fmt, payload = 12, None, None
    while pos + 8 <= len(data):
        chunk, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = data[pos + 8: pos + 8 + size]
        # a header that promises more than the file holds: truncated, unless the size is a streaming writer's
        # placeholder for "until the end" (espeak-ng writes 0x7ffff000 to a pipe, others 0xffffffff)
        if chunk == b"data" and len(body) < size and size < STREAMING_SIZE:
            raise InputError(f"{path}: WAV data chunk: expected {size:,} bytes (its header), got {len(body):,}: "
                             "the file is truncated")
        if chunk == b"fmt ":
            fmt = body
        elif chunk == b"data":
            payload = body
        pos += 8 + size + (size & 1)
    if fmt is None or payload is None or len(fmt) < 16:
        raise InputError(f"{path}: WAV file without a fmt and a data chunk")
    tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", fmt)
    if not 1 <= channels <= MAX_CHANNELS:
        raise InputError(f"{path}: WAV field 'channels': expected 1 to {MAX_CHANNELS}, got {channels}")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise InputError(f"{path}: WAV field 'sample rate': expected {MIN_RATE:,} to {MAX_RATE:,} Hz, got {rate:,}")
    if tag == 0xFFFE and len(fmt) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the sub-format's first two bytes
        tag = struct.unpack_from("<H", fmt, 24)[0]
    width = bits // 8
    usable = len(payload) - len(payload) % (width * channels) if width and channels else 0
    payload = payload[:usable]
    if tag == 3 and bits in (32, 64):
        x = np.frombuffer(payload, dtype="<f4" if bits == 32 else "<f8").astype(np.float32)
    elif tag == 1 and bits == 8:
        x = (np.frombuffer(payload, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif tag == 1 and bits == 16:
        x = np.frombuffer(payload, dtype="<i2").astype(np.float32) / 32768.0
    elif tag == 1 and bits == 24:
        b = np.frombuffer(payload, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = (np.where(v >= 1 << 23, v - (1 << 24), v)).astype(np.float32) / float(1 << 23)
    elif tag == 1 and bits == 32:
        x = np.frombuffer(payload, dtype="<i4").astype(np.float32) / float(1 << 31)
    else:
        raise InputError(f"{path}: expected PCM 8/16/24/32-bit or float WAV, got format {tag} with {bits} bits")
    # float WAVs hold [-1, 1] and may clip a little beyond; 1e30 is no sound, and overflows every power computed from it
    wild = ~(np.abs(x) <= MAX_FLOAT_SAMPLE)
    if wild.any():
        at = int(np.flatnonzero(wild)[0])
        raise InputError(f"{path}: WAV samples: expected finite values within +-1 (a little beyond, clipped, at most "
                         f"+-{MAX_FLOAT_SAMPLE:g}), got {x[at]:g} at sample {at // channels:,}")
    return (x.reshape(-1, channels) if channels > 1 else x), int(rate)


def write_wav(path: str | os.PathLike, samples: np.ndarray, rate: int) -> None:
    """16-bit PCM mono WAV."""
    pcm = (np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
    header = b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(header + b"data" + struct.pack("<I", len(pcm)) + pcm)


def to_mono(x: np.ndarray) -> np.ndarray:
    return x.mean(axis=1).astype(np.float32) if x.ndim == 2 else x.astype(np.float32, copy=False)


class Resampler:
    """Streaming band-limited resampling: a Hann-windowed sinc evaluated at each output instant.

    ``process(block)`` returns the output samples that the input so far determines; ``flush()`` the
    rest (zeros after the end). The cutoff is the lower Nyquist of the two rates, so downsampling
    filters out what would alias.
    """

    def __init__(self, src_rate: int, dst_rate: int, half_width: int = 16):
        self.src, self.dst = int(src_rate), int(dst_rate)
        self.ratio = self.src / self.dst  # input samples per output sample
        self.cutoff = min(1.0, self.dst / self.src)
        self.half = int(np.ceil(half_width / self.cutoff))
        self._buf = np.zeros(self.half, dtype=np.float64)
        self._start = -self.half  # absolute input index of _buf[0]
        self._next = 0.0  # absolute input position of the next output sample
        self._taps = np.arange(-self.half + 1, self.half + 1)

    def process(self, x: np.ndarray) -> np.ndarray:
        if self.src == self.dst:
            return np.asarray(x, dtype=np.float32)
        self._buf = np.concatenate([self._buf, np.asarray(x, dtype=np.float64)])
        end = self._start + len(self._buf)  # one past the last input sample we have
        n = int(np.floor((end - 1 - self.half - self._next) / self.ratio)) + 1
        if n <= 0:
            return np.zeros(0, dtype=np.float32)
        t = self._next + np.arange(n) * self.ratio
        j = np.floor(t).astype(np.int64)[:, None] + self._taps[None, :]
        u = t[:, None] - j
        w = self.cutoff * np.sinc(self.cutoff * u) * (0.5 + 0.5 * np.cos(np.pi * u / self.half))
        y = (self._buf[j - self._start] * w).sum(axis=1)
        self._next += n * self.ratio
        drop = int(np.floor(self._next)) - self.half + 1 - self._start
        if drop > 0:
            self._buf, self._start = self._buf[drop:], self._start + drop
        return y.astype(np.float32)

    def flush(self) -> np.ndarray:
        return self.process(np.zeros(self.half + int(np.ceil(self.ratio)) + 1))


def resample(x: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """A whole signal at another rate (length scaled by the rate ratio)."""
    if src_rate == dst_rate:
        return np.asarray(x, dtype=np.float32)
    r = Resampler(src_rate, dst_rate)
    y = np.concatenate([r.process(x), r.flush()])
    return y[: int(round(len(x) * dst_rate / src_rate))]
