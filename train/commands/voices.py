"""The speech engines commands data is spoken with, and their voices by split.

espeak-ng speaks the training data and its held-out test voices: many voices (dialect x variant), split by
variant. festival is a held-out engine, for evaluation only (never trained on): its English voices are split
by speaker in two halves, ``val`` (the half that augmentations and thresholds are chosen on) and ``test``
(the half that is only ever measured). A voice names its engine: ``en-us+m3`` is espeak-ng's,
``festival:kal_diphone`` festival's.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from edgeward.core.errors import InputError
from edgeward.runtime.io.audio_io import parse_wav, resample, to_mono
from edgeward.train.commands.config import Engine

RATE = 16_000
# espeak-ng's English dialects, each named so that it takes a variant: "en-gb+VARIANT" is one voice whatever
# the variant (espeak-ng 1.51 resolves it to a voice that drops the variant), so British English is "en";
# "en-us-nyc" is not a voice of its own there (it speaks as "en-us"), so it is not here
DIALECTS = ("en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029")
# other languages' voices that read English words by their own rules: English in those accents, for training
# only (``CommandsDataConfig.accents``); Latin-script languages, so that a word is read, not spelt out
ACCENTS = ("de", "fr", "es", "it", "nl", "pt", "pl", "sv", "cs", "hu", "ro", "tr", "id", "fi", "sw")
FESTIVAL = "festival:"
# Debian's festival English voices (the Makefile installs FESTIVAL_PACKAGES), by half: choose on one speaker,
# measure on two others (another man, and a woman of another synthesis method)
FESTIVAL_PACKAGES = ("festival", "festvox-kallpc16k", "festvox-kdlpc16k", "festvox-us-slt-hts")
FESTIVAL_VOICES = {"val": ("kal_diphone",), "test": ("ked_diphone", "cmu_us_slt_arctic_hts")}
# the diphone voices take a pitch target (their intonation model's mean F0, Hz); the HTS voice speaks at its own
FESTIVAL_F0 = {"kal_diphone": 105.0, "ked_diphone": 105.0}
FESTIVAL_RATE = 165  # words a minute at festival's own duration: a speed of 120 stretches durations by 165/120


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def festival_available() -> bool:
    return shutil.which("text2wave") is not None


def variants() -> list[str]:
    """espeak-ng's voice variants (the !v folder of its data)."""
    if not espeak_available():
        raise InputError("espeak-ng is not installed: run `make install` (or apt-get install espeak-ng)")
    out = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True, check=True).stdout
    names = [line.split()[3] for line in out.splitlines()[1:] if len(line.split()) >= 4]
    files = [line.split()[4].split("/")[-1] for line in out.splitlines()[1:] if len(line.split()) >= 5]
    return sorted(set(files or names))


def split_voices(seed: int, val: float, test: float) -> dict[str, list[str]]:
    """espeak-ng's voices (dialect+variant) by split; a variant belongs to one split only."""
    names = variants()
    rng = np.random.default_rng(seed)
    order = list(rng.permutation(names))
    n_test, n_val = max(1, int(len(order) * test)), max(1, int(len(order) * val))
    groups = {"test": order[:n_test], "val": order[n_test:n_test + n_val], "train": order[n_test + n_val:]}
    return {k: [f"{d}+{v}" for v in vs for d in DIALECTS] for k, vs in groups.items()}


def accented(voice: str, rng: np.random.Generator) -> str:
    """An espeak-ng voice's variant in a random other language's voice (``en-us+m3`` -> ``de+m3``)."""
    return f"{ACCENTS[rng.integers(len(ACCENTS))]}+{voice.split('+', 1)[1]}"


def engine_voices(engine: Engine, seed: int, val: float, test: float) -> dict[str, list[str]]:
    """An engine's voices by split (festival has none for training)."""
    if Engine(engine) is Engine.ESPEAK:
        return split_voices(seed, val, test)
    if not festival_available():
        raise InputError(f"festival is not installed: run `make install` (or apt-get install {' '.join(FESTIVAL_PACKAGES)})")
    return {"train": [], **{k: [FESTIVAL + v for v in vs] for k, vs in FESTIVAL_VOICES.items()}}


def _festival(text: str, voice: str, pitch: int, speed: int) -> tuple[np.ndarray, int]:
    evals = [f"(voice_{voice})", f"(Parameter.set 'Duration_Stretch {FESTIVAL_RATE / speed:.3f})"]
    if voice in FESTIVAL_F0:  # pitch 20-80 as espeak-ng takes it: half an octave either side of the voice's own
        f0 = FESTIVAL_F0[voice] * 2 ** ((pitch - 50) / 60)
        evals.append(f"(set! int_lr_params '((target_f0_mean {f0:.0f}) (target_f0_std {f0 / 7.5:.0f}) "
                     f"(model_f0_mean 170) (model_f0_std 34)))")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        subprocess.run(["text2wave", *(arg for e in evals for arg in ("-eval", e)), "-o", str(out)], input=text.encode(),
                       capture_output=True, check=True)
        return parse_wav(out.read_bytes(), f"festival {voice} {text!r}")


def speak(word: str, voice: str, pitch: int, speed: int, amplitude: int) -> np.ndarray:
    """The word at 16 kHz, silence trimmed, peak 1, in an espeak-ng or a festival voice."""
    if voice.startswith(FESTIVAL):
        x, rate = _festival(word, voice[len(FESTIVAL):], pitch, speed)
    else:
        out = subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "-a", str(amplitude),
                              "--stdout", word], capture_output=True, check=True).stdout
        x, rate = parse_wav(out, f"espeak-ng {voice} {word!r}")
    x = resample(to_mono(x), rate, RATE)
    loud = np.flatnonzero(np.abs(x) > 0.02 * (np.abs(x).max() + 1e-9))
    x = x[loud[0]: loud[-1] + 1] if len(loud) else x
    return (x / (np.abs(x).max() + 1e-9)).astype(np.float32)
