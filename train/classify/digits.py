"""The classification task's ``digits``: 28x28 digits, light on dark as MNIST has them, each in a face drawn
from the detector's training font families (``train.detect.fonts``; the held-out families never), at a random
size, weight, slant and offset, slightly blurred and noisy. What the zoo's GAN learns to draw and its digit
classifier judges."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

SIZE = 28
DIGITS = tuple("0123456789")


@lru_cache(maxsize=1)
def _picker():
    from edgeward.train.detect.fonts import FontPicker, FontSet, font_families

    return FontPicker(font_families(FontSet.TRAINING))


def draw_digit(k: int, rng: np.random.Generator, size: int = SIZE) -> np.ndarray:
    """(size, size, 3) uint8: digit ``k``, grey levels repeated in the three channels."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    big = size * 4
    font = ImageFont.truetype(_picker()(rng), int(big * rng.uniform(0.55, 0.8)))
    left, top, right, bottom = font.getbbox(DIGITS[k])
    canvas = Image.new("L", (big, big), 0)
    x = (big - (right - left)) / 2 - left + rng.uniform(-0.08, 0.08) * big
    y = (big - (bottom - top)) / 2 - top + rng.uniform(-0.08, 0.08) * big
    ImageDraw.Draw(canvas).text((x, y), DIGITS[k], fill=int(rng.integers(190, 256)), font=font,
                                stroke_width=int(rng.integers(0, 5)), stroke_fill=int(rng.integers(190, 256)))
    canvas = canvas.rotate(rng.uniform(-15, 15), resample=Image.BILINEAR)
    shear = rng.uniform(-0.25, 0.25)
    canvas = canvas.transform(canvas.size, Image.AFFINE, (1, shear, -shear * big / 2, 0, 1, 0), resample=Image.BILINEAR)
    small = canvas.filter(ImageFilter.GaussianBlur(rng.uniform(0, 2))).resize((size, size), Image.BOX)
    grey = np.asarray(small, np.float32) + rng.normal(0, rng.uniform(0, 10), (size, size))
    return np.repeat(np.clip(grey, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
