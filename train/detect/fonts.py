"""The type faces the digit generator draws: Debian's font packages, split into training and unseen families.

A digit on a meter or a house wall is in some face the model never saw, so the detector is trained on many
families (sans, serif, mono, condensed, rounded, display, OCR, seven-segment) and measured on families held
out of training entirely. The Liberation fonts are reserved for a check kept outside the project: they are
never drawn. Without the packages (a plain ``pip install``), matplotlib's DejaVu faces stand in, and the
data's summary says so.
"""

from __future__ import annotations

import enum
from functools import lru_cache
from pathlib import Path

import numpy as np

# Installed by the Makefile (apt-get); the families below come from them.
FONT_PACKAGES = ("fonts-dejavu-core", "fonts-urw-base35", "fonts-freefont-ttf", "fonts-roboto-unhinted", "fonts-dseg",
                 "fonts-lato", "fonts-inconsolata", "fonts-hack", "fonts-comic-neue", "fonts-quicksand", "fonts-oxygen",
                 "fonts-b612", "fonts-league-spartan", "fonts-ocr-a", "fonts-noto-mono", "fonts-courier-prime",
                 "fonts-dosis", "fonts-cabin", "fonts-ebgaramond", "fonts-jura", "fonts-linuxlibertine",
                 # the unseen families
                 "fonts-go", "fonts-cantarell", "fonts-open-sans", "fonts-crosextra-caladea", "fonts-ocr-b",
                 "fonts-bebas-neue")
FONT_ROOT = Path("/usr/share/fonts")

# Never drawn in training: a grotesque sans and its mono, a humanist sans, a neutral sans, a serif, an OCR
# face, fourteen-segment displays (seven-segment ones are trained) and a condensed display face.
UNSEEN = ("Go", "Cantarell", "Open Sans", "Caladea", "OCR B", "DSEG14", "Bebas Neue")
RESERVED = ("Liberation",)  # for the independent check kept outside the project
# icons, symbols, keycaps and initials where digits would be
NOT_DIGITS = ("DSEG Weather", "D050000L", "Standard Symbols PS", "Linux Biolinum Keyboard O", "Linux Libertine Initials O")


class FontSet(str, enum.Enum):
    TRAINING = "training"
    UNSEEN = "unseen"


def _named(family: str, prefixes: tuple[str, ...]) -> bool:
    return any(family == p or family.startswith(p + " ") for p in prefixes)


def _draws_digits(path: Path) -> str | None:
    """The face's family name if it draws ten distinct, non-empty digits, else None."""
    from PIL import Image, ImageDraw, ImageFont

    try:
        font = ImageFont.truetype(str(path), 40)
    except OSError:
        return None
    masks = []
    for glyph in "0123456789\u0378":  # U+0378 is unassigned: what the face draws for a missing glyph
        img = Image.new("L", (64, 64))
        ImageDraw.Draw(img).text((8, 4), glyph, fill=255, font=font)
        masks.append(np.asarray(img).tobytes())
    digits = masks[:10]
    if any(not any(m) for m in digits) or len(set(digits)) < 10 or masks[10] in digits:
        return None
    return font.getname()[0]


@lru_cache(maxsize=4)
def families(root: Path = FONT_ROOT) -> dict[str, tuple[str, ...]]:
    """Family name -> its font files (TrueType and OpenType) under ``root`` that draw the ten digits; the
    reserved and symbol families left out."""
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in (".ttf", ".otf")):
        family = _draws_digits(path)
        if family and not _named(family, RESERVED + NOT_DIGITS):
            found.setdefault(family, []).append(str(path))
    return {k: tuple(v) for k, v in sorted(found.items())}


def _matplotlib_faces() -> dict[str, tuple[str, ...]]:
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    faces = {"DejaVu Sans": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf"),
             "DejaVu Serif": ("DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf"),
             "DejaVu Sans Mono": ("DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf"),
             "STIXGeneral": ("STIXGeneral.ttf", "STIXGeneralBol.ttf")}
    return {k: tuple(str(folder / f) for f in v if (folder / f).exists()) for k, v in faces.items()}


def font_families(which: FontSet = FontSet.TRAINING, root: Path = FONT_ROOT) -> dict[str, tuple[str, ...]]:
    """The families of one set. Training falls back to matplotlib's faces where the packages are missing
    (the unseen set is then empty)."""
    every = families(root) if root.is_dir() else {}
    if which is FontSet.UNSEEN:  # one group per unseen family (DSEG14's four variants count once)
        return {p: tuple(f for k, v in every.items() if _named(k, (p,)) for f in v) for p in UNSEEN
                if any(_named(k, (p,)) for k in every)}
    chosen = {k: v for k, v in every.items() if not _named(k, UNSEEN)}
    return chosen if len(chosen) >= 10 else _matplotlib_faces()


SEGMENT_DISPLAYS = ("DSEG",)  # their letters are digit-shaped by design: a B is an 8, an S a 5, an O a 0


def letter_faces(faces: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """The faces to draw clutter letters in: a segment display's letters would be unlabelled digits."""
    return {k: v for k, v in faces.items() if not k.startswith(SEGMENT_DISPLAYS)} or faces


class FontPicker:
    """Draws a face: a family uniformly, then one of its files (so a family with many weights is not favoured)."""

    def __init__(self, faces: dict[str, tuple[str, ...]]):
        self.faces = [v for v in faces.values() if v]
        self.names = [k for k, v in faces.items() if v]
        if not self.faces:
            raise ValueError("no font families to draw digits with")

    def __call__(self, rng: np.random.Generator) -> str:
        files = self.faces[rng.integers(len(self.faces))]
        return files[rng.integers(len(files))]
