"""Signals recorded and raised between steps (``core.waiting.DeferredSignals``): a handler that raises inside code
that clears exceptions (third-party code reached through C, or an ``except BaseException``) is lost; a flag is not.

Each case runs in a fresh Python process, with SIGINT as a terminal gives it: in a loaded ``make test``, a test
worker that had run other tests never ran this process's SIGINT handler, even for a signal raised in its own thread.
The signals are real and raised in the main thread (``signal.raise_signal``), and each case waits for its handler to
have run (recorded, or raised): no timing."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

PRELUDE = '''
import signal, time
from edgeward.core.waiting import DeferredSignals

def signalled(sig, recorded=lambda: False):
    """The signal raised, then waited for until recorded() or its handler raises."""
    deadline = time.monotonic() + 60
    signal.raise_signal(sig)
    while not recorded():
        if time.monotonic() > deadline:
            raise SystemExit(f"the handler of signal {sig} did not run in 60 s")

def inside_code_that_clears_exceptions(sig, recorded=lambda: False):
    """As pyarrow's probe of a pandas Series cleared a KeyboardInterrupt raised in pandas' __getattr__: whether the
    handler raised there."""
    try:
        signalled(sig, recorded)
    except KeyboardInterrupt:  # Terminated is one too
        return True
    return False

def deferred(steps):
    """steps(signals) run under DeferredSignals: prints "raised" where a KeyboardInterrupt leaves the block."""
    try:
        with DeferredSignals() as signals:
            steps(signals)
        print("not-raised")
    except KeyboardInterrupt:
        print("raised")
'''


def _run(body: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(body)], capture_output=True, text=True,
                          timeout=120, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_without_deferral_such_a_signal_is_lost():
    assert _run("print(inside_code_that_clears_exceptions(signal.SIGINT))") == ["True"]  # raised, and gone


def test_deferred_the_signal_is_raised_at_the_next_check():
    assert _run("""
        def steps(signals):
            print(inside_code_that_clears_exceptions(signal.SIGINT, lambda: signals.pending is not None))
            print(signals.pending == signal.SIGINT)
            signals.check()
        deferred(steps)
        print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    """) == ["False", "True", "raised", "True"]  # recorded, raised at check(), the handler restored


def test_a_signal_after_the_last_check_is_raised_when_the_block_ends():
    assert _run("deferred(lambda signals: signalled(signal.SIGINT, lambda: signals.pending is not None))") == ["raised"]


def test_a_second_signal_raises_at_once():
    assert _run("""
        def steps(signals):
            signalled(signal.SIGINT, lambda: signals.pending is not None)
            print("first-recorded")
            signalled(signal.SIGINT)  # returns only by raising
        deferred(steps)
    """) == ["first-recorded", "raised"]


def test_sigterm_is_raised_as_the_clis_handler_raises_it():
    assert _run("""
        from edgeward.app.cli import terminate_as_interrupt
        from edgeward.core.errors import Terminated
        try:
            with terminate_as_interrupt(), DeferredSignals() as signals:
                print(inside_code_that_clears_exceptions(signal.SIGTERM, lambda: signals.pending is not None))
                signals.check()
        except Terminated:
            print("terminated")
    """) == ["False", "terminated"]


def test_an_ignored_signal_stays_ignored():
    assert _run("""
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a background job's SIGINT
        with DeferredSignals() as signals:
            signal.raise_signal(signal.SIGINT)  # delivered to this thread before the call returns: and ignored
            signals.check()
        print(signals.pending is None, signal.getsignal(signal.SIGINT) is signal.SIG_IGN)
    """) == ["True", "True"]
