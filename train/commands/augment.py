"""Waveform augmentations for keyword-spotting training: what a real deployment does to speech on its way in.

Every training voice is espeak-ng's, and a real user is none of them, and is heard through a room, a microphone
and sometimes a phone line. Each augmentation here is one of those paths, applied afresh every batch to a share
of the training clips (``Augmenter``); which ones a model keeps is chosen on a held-out engine's choosing half
(``edgeward tune commands`` does not choose these: the ablation in docs/benchmarks.md does).

- ``reverb``: a room, as pyroomacoustics' image-source method models a shoebox room of random size, reverberation
  time (0.15-0.8 s) and source and microphone places;
- ``response``: a microphone's or loudspeaker's frequency response: a bass roll-off (small drivers), a treble
  roll-off and a few broad peaks and dips;
- ``level``: far quieter or louder than the data, clipped where it passes full scale (a hot input gain);
- ``codec``: band-limited as a phone line or a low-rate codec (300-3400 Hz to 7 kHz) and 8-bit mu-law;
- ``speed``: resampled by 0.85-1.15, which scales tempo, pitch and formants (vocal-tract length) together.

Accents (English through espeak-ng's other languages' voices) change the speech itself, so they are a data
option (``CommandsDataConfig.accents``), not one of these.
"""

from __future__ import annotations

from enum import Enum

import numpy as np

RATE = 16_000


class Augmentation(str, Enum):
    REVERB = "reverb"
    RESPONSE = "response"
    LEVEL = "level"
    CODEC = "codec"
    SPEED = "speed"


def room_impulses(n: int, rng: np.random.Generator, rate: int = RATE) -> list[np.ndarray]:
    """``n`` room impulse responses (pyroomacoustics' image-source method), each starting at its direct path
    and scaled to unit energy."""
    import pyroomacoustics as pra

    out = []
    for _ in range(n):
        size = rng.uniform([3.0, 3.0, 2.4], [10.0, 8.0, 4.0])
        absorption, order = pra.inverse_sabine(rng.uniform(0.15, 0.8), size)
        # the image-source order capped: enough for the reverberant rooms' tail at a fraction of the full order's cost
        # (docs/decisions.md)
        room = pra.ShoeBox(size, fs=rate, materials=pra.Material(absorption), max_order=min(order, 40))
        room.add_source(rng.uniform(0.5, size - 0.5))
        room.add_microphone(rng.uniform(0.5, size - 0.5))
        room.compute_rir()
        h = np.asarray(room.rir[0][0], dtype=np.float64)
        h = h[max(0, int(np.argmax(np.abs(h))) - 40):]  # from just before the direct path: no added delay
        out.append((h / np.sqrt((h ** 2).sum() + 1e-12)).astype(np.float32))
    return out


def _rms(x: np.ndarray) -> np.ndarray:
    return np.sqrt((x.astype(np.float64) ** 2).mean(axis=-1, keepdims=True)) + 1e-9


def reverb(x: np.ndarray, impulses: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Each clip through a random room, at its own level."""
    from scipy.signal import fftconvolve

    out = np.empty_like(x)
    for i in range(len(x)):
        wet = fftconvolve(x[i], impulses[rng.integers(len(impulses))])[: x.shape[1]]
        out[i] = wet * (_rms(x[i]) / _rms(wet))
    return out


def _filter(x: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Clips (B, n) through zero-phase filters given as magnitudes over the rfft bins (B, n // 2 + 1)."""
    return np.fft.irfft(np.fft.rfft(x, axis=-1) * gains, x.shape[1], axis=-1).astype(np.float32)


def _roll_offs(freqs: np.ndarray, low: np.ndarray, high: np.ndarray, order: int) -> np.ndarray:
    """Butterworth-shaped magnitudes: high-pass at ``low`` and low-pass at ``high`` Hz (each (B, 1))."""
    f = np.maximum(freqs, 1.0)[None, :]
    return 1.0 / np.sqrt((1.0 + (low / f) ** (2 * order)) * (1.0 + (f / high) ** (2 * order)))


def response(x: np.ndarray, rng: np.random.Generator, rate: int = RATE) -> np.ndarray:
    """Each clip through a random microphone or loudspeaker: roll-offs at 60-400 Hz and 3.5-7.5 kHz, and
    +-8 dB broad peaks and dips (a smooth curve through six log-spaced points), at its own level."""
    b, n = x.shape
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    shape = _roll_offs(freqs, rng.uniform(60, 400, (b, 1)), rng.uniform(3500, 7500, (b, 1)), order=2)
    points = np.geomspace(150, 7000, 6)
    db = rng.uniform(-8, 8, (b, len(points)))
    curve = np.stack([np.interp(np.log(np.maximum(freqs, 1.0)), np.log(points), row) for row in db])
    y = _filter(x, shape * 10 ** (curve / 20))
    return y * (_rms(x) / _rms(y))


def codec(x: np.ndarray, rng: np.random.Generator, rate: int = RATE) -> np.ndarray:
    """Each clip band-limited as a phone line (300-3400 Hz) or a wider codec (up to 4-7 kHz), then coded as
    8-bit mu-law (G.711's companding) at a level near full scale."""
    b, n = x.shape
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    high = rng.choice([3400.0, 4000.0, 5500.0, 7000.0], (b, 1))
    low = np.where(high < 3500, 300.0, 50.0)
    y = _filter(x, _roll_offs(freqs, low, high, order=6))
    peak = np.abs(y).max(axis=1, keepdims=True) + 1e-9
    y = np.clip(y / peak * rng.uniform(0.3, 1.0, (b, 1)), -1, 1)
    mu = 255.0
    coded = np.round(np.sign(y) * np.log1p(mu * np.abs(y)) / np.log1p(mu) * 127) / 127
    return (np.sign(coded) * np.expm1(np.abs(coded) * np.log1p(mu)) / mu * peak).astype(np.float32)


def level(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each clip 24 dB quieter to 18 dB louder, clipped at full scale."""
    return np.clip(x * 10 ** (rng.uniform(-24, 18, (len(x), 1)) / 20), -1, 1).astype(np.float32)


def speed(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each clip resampled by 0.85-1.15 (faster and higher, or slower and lower), kept centred at its length."""
    b, n = x.shape
    out = np.empty_like(x)
    for i, factor in enumerate(rng.uniform(0.85, 1.15, b)):
        m = int(round(n / factor))
        y = np.interp(np.arange(m) * factor, np.arange(n), x[i])
        start = (m - n) // 2
        out[i] = y[start: start + n] if m >= n else np.pad(y, ((n - m) // 2, n - m - (n - m) // 2))
    return out


class Augmenter:
    """Applies each of ``kinds`` to ``share`` of a batch's clips, drawn afresh each call, in the order a sound
    travels: the speaker (speed), the room (reverb), the microphone (response), the line (codec), the input
    gain (level)."""

    ORDER = (Augmentation.SPEED, Augmentation.REVERB, Augmentation.RESPONSE, Augmentation.CODEC, Augmentation.LEVEL)

    def __init__(self, kinds: tuple[str, ...], share: float, seed: int = 0, rooms: int = 200):
        self.kinds = tuple(k for k in self.ORDER if k.value in set(kinds))
        self.share = share
        self.impulses = room_impulses(rooms, np.random.default_rng([seed, 7])) if Augmentation.REVERB in self.kinds else []

    def __call__(self, audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x = np.array(audio, dtype=np.float32)
        for kind in self.kinds:
            chosen = np.flatnonzero(rng.random(len(x)) < self.share)
            if not len(chosen):
                continue
            part = x[chosen]
            if kind is Augmentation.SPEED:
                part = speed(part, rng)
            elif kind is Augmentation.REVERB:
                part = reverb(part, self.impulses, rng)
            elif kind is Augmentation.RESPONSE:
                part = response(part, rng)
            elif kind is Augmentation.CODEC:
                part = codec(part, rng)
            else:
                part = level(part, rng)
            x[chosen] = np.clip(part, -1, 1)
        return x
