"""``Generator``: images from a generator model (a GAN's), as uint8 pixels.

Model contract: one float32 input (N, D), standard normal noise; one output (N, H, W, C) of pixel values in
``manifest.params["generator"]["range"]`` (a tanh generator's [-1, 1]), mapped linearly onto 0-255.
"""

from __future__ import annotations

import numpy as np

from edgeward.core.errors import InputError, ManifestError
from edgeward.devices import Profile
from edgeward.runtime.engine.model import Model, ModelSource, ModelTask


class Generator(ModelTask):
    task = "generic"

    def __init__(self, model: Model):
        m = model.manifest
        params = m.params.get("generator")
        if not isinstance(params, dict):
            raise ManifestError(f"{model.source}: manifest field 'params.generator' is missing: not a generator "
                                "(adopt it with --params giving its output range)")
        low, high = params.get("range", (-1.0, 1.0))
        if not high > low:
            raise ManifestError(f"{model.source}: manifest field 'params.generator.range': expected low < high, got "
                                f"{params.get('range')}")
        if len(m.inputs) != 1 or len(m.inputs[0].shape) != 2 or m.inputs[0].shape[1] is None:
            raise ManifestError(f"{model.source}: expected one noise input (N, D), got "
                                f"{', '.join(f'{t.name} {t.shape}' for t in m.inputs)}")
        self.model, self.low, self.high = model, float(low), float(high)
        self.noise = int(m.inputs[0].shape[1])
        self._input = m.inputs[0].name

    @classmethod
    def from_file(cls, source: ModelSource, device: str | Profile | None = "auto", threads: int | None = None):
        return cls(Model(source, device=device, threads=threads))

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        """``n`` images, uint8 (n, H, W) for one channel or (n, H, W, C); the same seed gives the same images."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InputError(f"n: expected a whole number >= 1, got {n!r}")
        z = np.random.default_rng(seed).standard_normal((n, self.noise)).astype(np.float32)
        return self.from_noise(z)

    def from_noise(self, z: np.ndarray) -> np.ndarray:
        """The images of given noise vectors (N, D)."""
        out = self.model.run({self._input: np.asarray(z, np.float32)})[self.model.output_names[0]]
        return to_pixels(out, self.low, self.high)


def to_pixels(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """A generator's outputs in [low, high] as uint8 pixels, one channel dropped to (N, H, W). Training judges its
    samples through this same mapping."""
    pixels = np.clip(np.round((np.asarray(values) - low) / (high - low) * 255.0), 0, 255).astype(np.uint8)
    return pixels[..., 0] if pixels.shape[-1] == 1 else pixels


def grid(images: np.ndarray, columns: int = 8, gap: int = 2) -> np.ndarray:
    """uint8 images (N, H, W[, C]) tiled ``columns`` wide on a dark background, for a report."""
    images = np.asarray(images)
    n, h, w = images.shape[:3]
    rows = -(-n // columns)
    out = np.zeros((rows * (h + gap) + gap, columns * (w + gap) + gap, *images.shape[3:]), np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        out[gap + r * (h + gap): gap + r * (h + gap) + h, gap + c * (w + gap): gap + c * (w + gap) + w] = image
    return out
