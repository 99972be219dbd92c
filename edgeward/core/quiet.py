"""Keep converter chatter (MLIR, absl, TensorFlow C++ logs written straight to fd 2) off the terminal."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile


@contextlib.contextmanager
def quiet_stderr():
    """Redirect file descriptor 2 to a temporary file; yields a callable returning what was written."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        captured = {"text": ""}
        try:
            yield lambda: captured["text"]
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured["text"] = sink.read().decode(errors="replace")
