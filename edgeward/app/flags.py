"""Command-line flags made from configuration dataclasses: one flag per field (``--field-name``) with the
field's type, default and help (``edgeward.core.config.option``). A nested dataclass's fields become flags
of their own. Only the flags given reach the config; the others keep the dataclass's defaults, and the
config's own checks (``__post_init__``) judge the values, as they do for the Python API."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from enum import Enum
from typing import Any


def add_flags(parser: argparse.ArgumentParser, cls: type, prefix: str = "") -> None:
    """A flag per field of ``cls`` (``--PREFIX-FIELD``); fields marked ``cli=False`` are left out."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if not f.metadata.get("cli", True):
            continue
        kind, optional = _unwrap(hints[f.name])
        if dataclasses.is_dataclass(kind):
            add_flags(parser, kind, prefix)
            continue
        flag, dest = "--" + (prefix + f.name).replace("_", "-"), _dest(prefix, f.name)
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        text = f.metadata.get("help", "")
        if kind is bool:
            parser.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                                help=f"{text} (default: {'on' if default else 'off'})")
            continue
        parse, nargs, metavar = _parser(kind, f.name)
        choices = [m.value for m in kind] if isinstance(kind, type) and issubclass(kind, Enum) else None
        shown = default.value if isinstance(default, Enum) else default
        if default is None:
            shown = "none"
        elif isinstance(default, tuple):
            shown = (" " if nargs else ",").join(map(str, default))
        parser.add_argument(flag, dest=dest, type=parse, nargs=nargs, metavar=metavar, choices=choices,
                            default=argparse.SUPPRESS, help=text if "default:" in text else f"{text} (default: {shown})")


def config_from(args: argparse.Namespace, cls: type, prefix: str = "", base=None):
    """An instance of ``cls`` with the fields whose flags were given, the others from ``base`` (an instance of
    ``cls``) or the dataclass's defaults."""
    hints = typing.get_type_hints(cls)
    given: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if not f.metadata.get("cli", True):
            continue
        kind, _ = _unwrap(hints[f.name])
        if dataclasses.is_dataclass(kind):
            if any(hasattr(args, _dest(prefix, g.name)) for g in dataclasses.fields(kind)):
                given[f.name] = config_from(args, kind, prefix)
        elif hasattr(args, _dest(prefix, f.name)):
            value = getattr(args, _dest(prefix, f.name))
            value = tuple(value) if isinstance(value, list) else value
            given[f.name] = kind(value) if isinstance(kind, type) and issubclass(kind, Enum) and value is not None else value
    return dataclasses.replace(base, **given) if base is not None else cls(**given)


def _dest(prefix: str, name: str) -> str:
    return "config_" + (prefix + name).replace("-", "_")


def _unwrap(hint) -> tuple[Any, bool]:
    """(the type, whether None is allowed) of ``X | None`` and of ``X``."""
    args = typing.get_args(hint)
    if (typing.get_origin(hint) in (typing.Union, types.UnionType)) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0], True
    return hint, False


def _parser(kind, name: str):
    """(a function from the flag's text to the value, nargs, metavar)."""
    if kind in (int, float, str):
        return kind, None, name.upper() if kind is str else kind.__name__.upper()
    if isinstance(kind, type) and issubclass(kind, Enum):  # the value's text, checked against the choices
        return str, None, "{" + ",".join(m.value for m in kind) + "}"
    if typing.get_origin(kind) is tuple:
        items = typing.get_args(kind)
        if len(items) == 2 and items[1] is Ellipsis:  # a list of any length: comma-separated
            return _comma_list(items[0]), None, "A,B,..."
        return items[0], len(items), items[0].__name__.upper()
    raise TypeError(f"config field {name!r}: no command-line flag for type {kind!r}; mark it option(..., cli=False)")


def _comma_list(item: type):
    def parse(text: str) -> tuple:
        return tuple(item(v.strip()) for v in text.split(",") if v.strip())

    parse.__name__ = f"comma-separated {item.__name__}"  # argparse names it in "invalid ... value"
    return parse
