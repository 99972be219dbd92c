"""Configuration dataclasses: each field's help text (the CLI makes one flag per field from it) and the
checks their ``__post_init__`` runs, so the Python API and the CLI refuse the same values with the same
message.

    @dataclass(frozen=True)
    class TrainConfig:
        epochs: int = option(30, "passes over the training data")

        def __post_init__(self):
            at_least(self, 1, "epochs")
"""

from __future__ import annotations

import dataclasses
from typing import Any

from edgeward.core.errors import ConfigError, InputError


def option(default: Any = dataclasses.MISSING, help: str = "", *, factory=None, cli: bool = True):
    """A config field with its help text; ``cli=False`` keeps it out of the command line."""
    metadata = {"help": help, "cli": cli}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def flag(name: str) -> str:
    """The command-line flag of a config field."""
    return "--" + name.replace("_", "-")


def refuse(name: str, expected: str, given: Any) -> None:
    raise ConfigError(f"{name} ({flag(name)}): expected {expected}, got {given!r}")


def check(config, name: str, ok: bool, expected: str) -> None:
    if not ok:
        refuse(name, expected, getattr(config, name))


def at_least(config, minimum: float, *names: str) -> None:
    """Each named field is a number >= ``minimum`` (a whole number where the field is an int)."""
    for name in names:
        value = getattr(config, name)
        whole = isinstance(value, int) and not isinstance(value, bool)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value or value < minimum:
            refuse(name, f"{'a whole number' if whole else 'a number'} >= {minimum:g}", value)


def fraction(config, *names: str, low_open: bool = False, high_open: bool = True) -> None:
    """Each named field lies between 0 and 1 (``low_open``/``high_open``: excluding that end)."""
    for name in names:
        value = getattr(config, name)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and \
            (value > 0 if low_open else value >= 0) and (value < 1 if high_open else value <= 1)
        if not ok:
            refuse(name, f"a fraction in {'(' if low_open else '['}0, 1{')' if high_open else ']'}", value)


def from_dict(cls, data: dict, where: str):
    """``cls`` (a dataclass) from a JSON object: every field without a default must be there; unknown keys
    are ignored (a newer writer may add some)."""
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected an object, got {data!r}")
    missing = [f.name for f in dataclasses.fields(cls) if f.name not in data
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise InputError(f"{where}: field '{missing[0]}' is missing")
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})
