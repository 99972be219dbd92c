"""Files read from users as hostile input: a regular file of bounded size, checked before a byte is read; an .npz
whose arrays' declared shapes are checked against the bytes it holds before numpy allocates them.

A FIFO blocks its reader until someone writes, and a device such as ``/dev/zero`` never ends: reading either
"whole" hangs or exhausts memory. A directory or a missing path is named as such.
"""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

from edgeward.core.errors import InputError
from edgeward.core.waiting import POLL_S

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


def physical_memory() -> int:
    """This machine's memory in bytes (the bound on what a file may declare)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 << 30


def check_npz(path: str | os.PathLike, memory: int | None = None, max_members: int = 10_000) -> None:
    """Refuse an .npz (``InputError``) whose arrays declare shapes their bytes do not hold, or that together exceed
    half this machine's memory: numpy allocates what a member's header declares before it reads the data."""
    import numpy as np

    memory, total = memory or physical_memory(), 0
    try:
        with zipfile.ZipFile(path) as z:
            members = z.infolist()
            if len(members) > max_members:
                raise InputError(f"{path}: an .npz of {len(members):,} arrays; expected at most {max_members:,}")
            for info in members:
                with z.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                    shape, _, dtype = read(f, max_header_size=10_000)
                    held = info.file_size - f.tell()
                count = 1
                for d in shape:
                    count *= int(d)
                declared = count * dtype.itemsize
                if dtype.hasobject:
                    raise InputError(f"{path}: {info.filename} holds Python objects; expected numeric arrays")
                if declared > held:
                    raise InputError(f"{path}: {info.filename} declares shape {tuple(shape)} of {dtype} ({declared:,} "
                                     f"bytes) but holds {held:,}: refused before allocating")
                total += declared
                if total > memory // 2:
                    raise InputError(f"{path}: its arrays declare {total:,} bytes; expected at most {memory // 2:,} "
                                     "(half this machine's memory)")
    except InputError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise InputError(f"{path}: not a readable .npz file ({exc})") from None


class WaitingReader:
    """A pipe, FIFO, socket or terminal read so that a signal stops a read that waits for data: each read waits in
    ``select`` for at most ``poll_s`` at a time, and between waits Python runs the handlers of signals that arrived.
    A plain blocking read is woken only when the signal lands on the reading thread; the kernel may hand a process's
    signal to any of its threads (ONNX Runtime's, OpenCV's), and then Ctrl-C waits for data that may never come.
    ``read(n)`` and ``readline()`` behave as a buffered binary file's."""

    def __init__(self, raw, poll_s: float = POLL_S):
        self.raw, self.fd, self.poll_s, self._buffer = raw, raw.fileno(), poll_s, b""

    def __enter__(self) -> "WaitingReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.raw.close()

    def _more(self, n: int) -> bytes:
        import select

        while not select.select([self.fd], [], [], self.poll_s)[0]:
            pass  # back in Python between waits: a signal's handler runs here, and may raise
        return os.read(self.fd, n)

    def read(self, n: int) -> bytes:
        parts, have = [self._buffer[:n]], len(self._buffer[:n])
        self._buffer = self._buffer[n:]
        while have < n and (chunk := self._more(n - have)):
            parts.append(chunk)
            have += len(chunk)
        return b"".join(parts)

    def readline(self, limit: int = 1 << 20) -> bytes:
        while b"\n" not in self._buffer and len(self._buffer) < limit and (chunk := self._more(1 << 16)):
            self._buffer += chunk
        end = self._buffer.find(b"\n") + 1 or min(len(self._buffer), limit)
        line, self._buffer = self._buffer[:end], self._buffer[end:]
        return line


def open_for_reading(path: str | os.PathLike):
    """A binary file to read, opened once (a FIFO's open waits for its writer): a regular file buffered, as ``open``
    gives it; anything else (a FIFO, a device) as a ``WaitingReader``. A context manager either way."""
    import io

    f = open(path, "rb", buffering=0)
    return io.BufferedReader(f) if stat.S_ISREG(os.fstat(f.fileno()).st_mode) else WaitingReader(f)
