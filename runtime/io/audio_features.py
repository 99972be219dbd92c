"""The audio front end: log-mel features in numpy, shared by training and the runtime.

Its parameters travel in the model's manifest (``FrontEnd.to_dict``), so the runtime computes exactly
the features the model was trained on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from functools import cached_property

import numpy as np

from edgeward.core.errors import ManifestError


ADDED_LATER = ("channel",)  # fields a manifest written before them lacks: their defaults hold


@dataclass(frozen=True)
class FrontEnd:
    sample_rate: int = 16_000
    clip_seconds: float = 1.0
    frame_ms: float = 30.0
    hop_ms: float = 10.0
    n_fft: int = 512
    n_mels: int = 40
    fmin: float = 20.0
    fmax: float = 7_600.0
    mean: float = 0.0  # normalisation of the log-mel values, measured on the training set
    std: float = 1.0
    # the model's input layout: (frames, mel bands, 1) for a 2-D convolution (NHWC); False: (frames, mel bands) for
    # a 1-D one over time (the article's speech CNN). Absent from manifests written before it: True
    channel: bool = True

    @property
    def win(self) -> int:
        return int(round(self.sample_rate * self.frame_ms / 1000))

    @property
    def hop(self) -> int:
        return int(round(self.sample_rate * self.hop_ms / 1000))

    @property
    def clip_samples(self) -> int:
        return int(round(self.sample_rate * self.clip_seconds))

    @property
    def frames(self) -> int:
        return 1 + (self.clip_samples - self.win) // self.hop

    @property
    def shape(self) -> tuple[int, ...]:
        """One clip's features: (frames, mel bands, 1), or (frames, mel bands) without ``channel``."""
        return (self.frames, self.n_mels, 1) if self.channel else (self.frames, self.n_mels)

    @property
    def layout(self) -> str:
        return "NHWC" if self.channel else "NTF"

    @cached_property
    def _window(self) -> np.ndarray:
        return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(self.win) / self.win)).astype(np.float32)

    @cached_property
    def _filters(self) -> np.ndarray:
        """Triangular mel filters, (n_fft // 2 + 1, n_mels), HTK mel scale."""

        def mel(f):
            return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

        def hz(m):
            return 700.0 * (10 ** (np.asarray(m) / 2595.0) - 1.0)

        edges = hz(np.linspace(mel(self.fmin), mel(self.fmax), self.n_mels + 2))
        bins = np.linspace(0, self.sample_rate / 2, self.n_fft // 2 + 1)
        lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
        up = (bins[None, :] - lo) / (mid - lo)
        down = (hi - bins[None, :]) / (hi - mid)
        return np.maximum(0.0, np.minimum(up, down)).T.astype(np.float32)

    def fit_clip(self, x: np.ndarray) -> np.ndarray:
        """Exactly one clip of ``clip_samples``: the centre of a longer signal, a shorter one padded
        equally on both sides. Training and the runtime both cut clips this way."""
        n = self.clip_samples
        x = np.asarray(x, dtype=np.float32)
        if len(x) >= n:
            start = (len(x) - n) // 2
            return x[start: start + n]
        pad = n - len(x)
        return np.pad(x, (pad // 2, pad - pad // 2))

    def logmel(self, audio: np.ndarray, normalise: bool = True) -> np.ndarray:
        """``shape`` for one clip of ``clip_samples``, or (B, *shape) for a batch."""
        x = np.asarray(audio, dtype=np.float32)
        single = x.ndim == 1
        x = x.reshape(1, -1) if single else x
        if x.shape[1] < self.win:
            raise ValueError(f"audio: expected at least {self.win} samples, got {x.shape[1]}")
        frames = np.lib.stride_tricks.sliding_window_view(x, self.win, axis=1)[:, :: self.hop]
        spectrum = np.fft.rfft(frames * self._window, n=self.n_fft, axis=-1)
        power = (spectrum.real ** 2 + spectrum.imag ** 2).astype(np.float32)
        feats = np.log(power @ self._filters + 1e-6)
        if normalise:
            feats = (feats - self.mean) / self.std
        feats = (feats[..., None] if self.channel else feats).astype(np.float32)
        return feats[0] if single else feats

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, source: str = "manifest") -> "FrontEnd":
        names = {f.name for f in fields(cls)}
        missing = [n for n in names if n not in data and n not in ADDED_LATER]
        if missing:
            raise ManifestError(f"{source}: manifest field 'params.front_end.{missing[0]}' is missing")
        return cls(**{k: data[k] for k in names if k in data})
