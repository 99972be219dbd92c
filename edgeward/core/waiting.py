"""Waits that a signal ends: Ctrl-C or SIGTERM stops a verb within a fraction of a second, whatever it waits on.

Python runs a signal's handler in the main thread, between bytecodes. A main thread asleep in a system call wakes
for it only if the kernel delivered the signal to that very thread, and some native code (FFmpeg opening a stream)
sleeps again when woken. The kernel may give a process's signal to any of its threads (ONNX Runtime's pool,
OpenCV's, PortAudio's): then a plain wait ends only when its data comes, which may be never. So the main thread
never sleeps long: it waits in short steps (``POLL_S``), and native calls that may block are run in a helper
thread while it waits so (``interruptible``). ``core.files.WaitingReader`` does the same for pipes.

A handler that raises can also be lost: it runs inside whatever Python code is running, and code that C calls
through its own ``hasattr`` (pandas' ``Series.__getattr__`` under pyarrow's probe of a Series) has any exception
cleared, KeyboardInterrupt included; the run then goes on as if never signalled. Loops of short steps (batch's units)
record the signal instead and raise it between steps (``DeferredSignals``): a flag cannot be cleared.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import TypeVar

POLL_S = 0.2  # the longest the main thread sleeps at once: a signal's handler runs within it
T = TypeVar("T")


def wait_for(condition: threading.Condition, predicate: Callable[[], bool]) -> None:
    """``condition.wait_for(predicate)`` (the condition held) in steps of ``POLL_S``."""
    while not condition.wait_for(predicate, timeout=POLL_S):
        pass  # back in Python: a signal's handler runs here, and may raise


def interruptible(fn: Callable[..., T], *args, **kwargs) -> T:
    """``fn(*args, **kwargs)`` run in a daemon thread while this one waits in steps of ``POLL_S``: its result, or
    the exception it raised. Interrupted (the handler raised), the call is left to end on its own in its thread."""
    done, box = threading.Event(), {}

    def run():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # handed to the waiting thread
            box["error"] = exc
        done.set()

    threading.Thread(target=run, name=f"edgeward-{getattr(fn, '__name__', 'call')}", daemon=True).start()
    while not done.wait(POLL_S):
        pass
    if "error" in box:
        raise box["error"]
    return box["value"]


class DeferredSignals:
    """SIGINT and SIGTERM recorded while the block runs and raised at ``check()`` (or when the block ends), as their
    own handlers raise them: KeyboardInterrupt, or the CLI's Terminated. A second signal raises at once. Only a signal
    whose handler is Python's is deferred (one ignored, or left to the system, stays so); main thread only."""

    def __enter__(self) -> "DeferredSignals":
        self.pending: int | None = None
        self._handlers: dict[int, Callable] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                if callable(signal.getsignal(sig)):
                    self._handlers[sig] = signal.signal(sig, self._record)
        return self

    def _record(self, signum, frame) -> None:
        if self.pending is None:
            self.pending = signum
        else:  # asked twice: at once
            self._handlers[signum](signum, frame)

    def check(self) -> None:
        """Raise the recorded signal as its own handler would."""
        if self.pending is not None:
            signum, self.pending = self.pending, None
            self._handlers[signum](signum, None)

    def __exit__(self, kind, value, traceback) -> None:
        for sig, handler in self._handlers.items():
            signal.signal(sig, handler)
        if kind is None:
            self.check()
