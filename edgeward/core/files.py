"""Files read from users as hostile input: a regular file of bounded size, checked before a byte is read.

A FIFO blocks its reader until someone writes, and a device such as ``/dev/zero`` never ends: reading either
"whole" hangs or exhausts memory. A directory or a missing path is named as such.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from edgeward.core.errors import InputError

KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
         (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def regular_file(path: str | os.PathLike, what: str, limit: int, error: type = InputError) -> Path:
    """``path``, when it is a regular file of at most ``limit`` bytes; ``error`` naming what it is otherwise.
    ``what``: the file as messages name it ("WAV file")."""
    path = Path(path)
    try:
        mode, size = (info := path.stat()).st_mode, info.st_size
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except OSError as exc:
        raise error(f"{path}: {what} cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in KINDS if test(mode)), "not a regular file")
        raise error(f"{path}: expected {'an' if what[0] in 'aeiou' else 'a'} {what}, got {kind}")
    if size > limit:
        raise error(f"{path}: {size:,} bytes; expected a {what} of at most {limit:,}")
    return path


def read_regular(path: str | os.PathLike, what: str, limit: int, error: type = InputError) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (``regular_file``), read once."""
    path = regular_file(path, what, limit, error)
    with open(path, "rb") as f:
        data = f.read(limit + 1)  # a file that grew since it was checked is still bounded
    if len(data) > limit:
        raise error(f"{path}: the {what} grew past {limit:,} bytes while it was read")
    return data
