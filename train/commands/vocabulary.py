"""The words of a commands dataset: the commands the user chose, and the general English words its
``_unknown_`` class draws from, less those too close to a command to tell apart.

A dataset folder names its commands in ``commands.txt`` (one per line, in label order); a folder without
one (Speech Commands itself) has Speech Commands' ten. A command may be a short phrase ("lights on"); its
clips live in a folder named with underscores for spaces (``lights_on/``).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from edgeward.core.errors import InputError

SPEECH_COMMANDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
UNKNOWN, SILENCE = "_unknown_", "_silence_"
COMMANDS_FILE = "commands.txt"
WORD_LIST = Path(__file__).with_name("english_words.txt")
# a phrase's spoken length is measured in this voice at this pitch and speed (words a minute): the middle of
# the range the data speaks at
REFERENCE_VOICE, REFERENCE_PITCH, REFERENCE_SPEED = "en-us", 50, 165
SPEEDS = (120, 210)  # the data's range of speaking rates, words a minute
FILL = 0.9  # a phrase spoken at its slowest rate fills at most this share of the window (room to shift it)
_WORD = re.compile(r"[a-z][a-z'-]*( [a-z][a-z'-]*)*")


def folder_name(label: str) -> str:
    """The folder that holds a label's clips: the label with underscores for spaces."""
    return label.replace(" ", "_")


def check_words(words: tuple[str, ...], where: str = "--words") -> tuple[str, ...]:
    """The commands as given, or a one-line error naming the first that cannot be one."""
    if not words:
        raise InputError(f"{where}: expected at least one word or phrase, got none")
    for w in words:
        if not _WORD.fullmatch(w):
            raise InputError(f"{where}: expected words or phrases of lower-case letters, ' and - (single spaces between "
                             f"words), got {w!r}")
    twice = sorted({w for w in words if words.count(w) > 1})
    if twice:
        raise InputError(f"{where}: expected each command once, got {twice[0]!r} more than once")
    return tuple(words)


def phonemes(texts: list[str]) -> list[tuple[str, ...]]:
    """espeak-ng's phoneme transcription (``espeak-ng -x``, American English) of each text, stress marks
    dropped and words run together: ``"lights on"`` -> ``('l', 'aI', 't', 's', 'O2', 'n')``."""
    from edgeward.train.commands.voices import espeak_available

    if not espeak_available():
        raise InputError("espeak-ng is not installed: run `make install` (or apt-get install espeak-ng)")
    out = subprocess.run(["espeak-ng", "-q", "-x", "--sep=_", "-v", REFERENCE_VOICE], input="".join(f"{t}.\n" for t in texts),
                         capture_output=True, text=True, check=True).stdout.splitlines()
    if len(out) != len(texts):  # a text espeak-ng split in two: one at a time
        out = [subprocess.run(["espeak-ng", "-q", "-x", "--sep=_", "-v", REFERENCE_VOICE, t], capture_output=True, text=True,
                              check=True).stdout.replace("\n", " ") for t in texts]
    return [tuple(p.strip("',") for p in re.split(r"[_\s]+", line) if p.strip("',")) for line in out]


def edit_distance(a: tuple, b: tuple) -> int:
    """Levenshtein distance between two sequences (insertions, deletions and substitutions count one)."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def general_words() -> tuple[str, ...]:
    return tuple(line.strip() for line in WORD_LIST.read_text().splitlines() if line.strip() and not line.startswith("#"))


@dataclass(frozen=True)
class Vocabulary:
    commands: tuple[str, ...]
    unknown: tuple[str, ...]  # the general words the `_unknown_` class draws from
    excluded: tuple[str, ...]  # general words left out as too close to a command

    @property
    def labels(self) -> tuple[str, ...]:
        return self.commands + (UNKNOWN, SILENCE)


@lru_cache(maxsize=8)
def vocabulary(commands: tuple[str, ...] = SPEECH_COMMANDS) -> Vocabulary:
    """The commands and the general words that may stand for `_unknown_`.

    A general word is left out when it is a command, or one phoneme edit (espeak-ng's transcription) from a
    command or from a word of a command phrase: "know" sounds as "no", "goes" is "go" and one sound more.
    Heard in noise, a listener takes such a word for the command often enough; teaching the model to call it
    unknown asks for a line the audio cannot draw, and the price is paid in commands missed. Commands that
    transcribe the same cannot be told apart at all, and are refused.
    """
    check_words(commands)
    words = [w for w in general_words() if w not in commands]
    parts = sorted({p for c in commands for p in c.split()} - set(commands))
    sounds = phonemes(list(commands) + parts + words)
    near = sounds[: len(commands) + len(parts)]
    for i, a in enumerate(commands):
        for b, sound in zip(commands[i + 1:], sounds[i + 1: len(commands)]):
            if sounds[i] == sound:
                raise InputError(f"--words: {a!r} and {b!r} sound the same ({' '.join(sound)}): a model cannot tell them apart")
    keep, drop = [], []
    for w, sound in zip(words, sounds[len(commands) + len(parts):]):
        (drop if any(edit_distance(sound, s) <= 1 for s in near) else keep).append(w)
    drop += [w for w in general_words() if w in commands]
    return Vocabulary(tuple(commands), tuple(keep), tuple(sorted(drop)))


def read_commands(folder: str | Path) -> tuple[str, ...]:
    """A dataset folder's commands: its ``commands.txt``, else Speech Commands' ten."""
    path = Path(folder) / COMMANDS_FILE
    if not path.exists():
        return SPEECH_COMMANDS
    return check_words(tuple(line.strip() for line in path.read_text().splitlines() if line.strip()), str(path))


def write_commands(folder: str | Path, commands: tuple[str, ...]) -> None:
    Path(folder).mkdir(parents=True, exist_ok=True)
    (Path(folder) / COMMANDS_FILE).write_text("".join(f"{c}\n" for c in commands))


def slowest_speeds(commands: tuple[str, ...], window_seconds: float) -> dict[str, int]:
    """Per command, the slowest speaking rate (words a minute) the data may use so that the command fits in
    the window; an error for one that does not fit even at the middle rate."""
    from edgeward.train.commands.voices import RATE, speak

    out = {}
    for c in commands:
        seconds = len(speak(c, REFERENCE_VOICE, REFERENCE_PITCH, REFERENCE_SPEED, 100)) / RATE
        if seconds > window_seconds:
            raise InputError(f"--words: {c!r} lasts {seconds:.2f} s spoken at {REFERENCE_SPEED} words a minute "
                             f"(espeak-ng {REFERENCE_VOICE}), longer than the {window_seconds:g} s window; choose a "
                             f"shorter phrase")
        out[c] = max(SPEEDS[0], int(-(-REFERENCE_SPEED * seconds // (FILL * window_seconds))))
    return out
