"""Waits that a signal ends: Ctrl-C or SIGTERM stops a verb within a fraction of a second, whatever it waits on.

Python runs a signal's handler in the main thread, between bytecodes. A main thread asleep in a system call wakes
for it only if the kernel delivered the signal to that very thread, and some native code (FFmpeg opening a stream)
sleeps again when woken. The kernel may give a process's signal to any of its threads (ONNX Runtime's pool,
OpenCV's, PortAudio's): then a plain wait ends only when its data comes, which may be never. So the main thread
never sleeps long: it waits in short steps (``POLL_S``), and native calls that may block are run in a helper
thread while it waits so (``interruptible``). ``core.files.WaitingReader`` does the same for pipes.
"""

from __future__ import annotations

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
