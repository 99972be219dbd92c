"""The one hierarchy of edgeward errors.

Every message is one line that says what was expected and what was given. The CLI prints
``error: <message>`` and exits non-zero, without a traceback.
"""

from __future__ import annotations


class EdgewardError(Exception):
    """Base of every error edgeward raises on purpose."""


class InputError(EdgewardError, ValueError):
    """Bad user input: a file, a column, a tensor, a flag."""


class DataError(InputError):
    """A data file has a bad value: names the file, line, field, expected and given."""

    def __init__(self, path, line: int | None, field: str | None, expected: str, given: object):
        where = str(path)
        if line is not None:
            where += f" line {line}"
        if field is not None:
            where += f", field '{field}'"
        super().__init__(f"{where}: expected {expected}, got {given!r}")
        self.path, self.line, self.field, self.expected, self.given = path, line, field, expected, given


class ConfigError(InputError):
    """A configuration field outside its allowed values: names the field (and its CLI flag), expected and given."""


class ModelFileError(InputError):
    """A model file is missing, unreadable, or not a model edgeward can load."""


class ManifestError(ModelFileError):
    """The manifest embedded in a model is missing, of an unknown version, or lacks a field."""


class TensorError(InputError):
    """A tensor given to a model has the wrong name, shape, dtype or values."""


class DeviceError(EdgewardError):
    """A device profile cannot be used on this host (a missing provider, an unknown profile)."""


class UnknownProfileError(DeviceError, InputError):
    """A device profile name that no profile has: bad input (exit code 2), and a device error."""


class MissingExtraError(EdgewardError, ImportError):
    """An optional dependency is not installed; names the extra that provides it."""

    def __init__(self, module: str, extra: str):
        super().__init__(f"{module} is not installed: pip install 'edgeward[{extra}]'")


class OutputError(EdgewardError):
    """An output could not be written (the disk is full, the folder is read-only); names the file and the cause."""


class Interrupted(EdgewardError):
    """A run stopped by SIGINT or SIGTERM; the message says what was kept. ``exit_code``: 130 or 143."""

    def __init__(self, message: str, exit_code: int = 130):
        super().__init__(message)
        self.exit_code = exit_code


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where SIGINT raises KeyboardInterrupt, so that a terminated run cleans up the same way
    (the CLI installs the handler)."""

    exit_code = 143


class ExportError(EdgewardError):
    """An export could not be produced."""


class ParityError(ExportError):
    """An exported artifact disagrees with the Keras reference beyond its tolerance."""


def require(module: str, extra: str):
    """Import an optional module, or raise MissingExtraError naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(module, extra) from exc
