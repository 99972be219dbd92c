"""Signals recorded and raised between steps (``core.waiting.DeferredSignals``): a handler that raises inside code
that clears exceptions (third-party code reached through C, or an ``except BaseException``) is lost; a flag is not.
The signals are real, raised in this very thread (``signal.raise_signal``: not to whichever thread the kernel picks,
which a busy machine may run much later), and each test waits for its handler to have run: no timing."""

from __future__ import annotations

import signal
import time

import pytest

from edgeward.app.cli import terminate_as_interrupt
from edgeward.core.errors import Terminated
from edgeward.core.waiting import DeferredSignals

WAIT_S = 60  # only a failure waits this long: a handler that never ran


def _signalled(sig, recorded=lambda: False) -> bool:
    """The signal raised, then waited for until ``recorded()`` or its handler raises: whether it raised (else it was
    recorded). A handler that neither raised nor recorded within ``WAIT_S`` fails the test."""
    deadline = time.monotonic() + WAIT_S
    signal.raise_signal(sig)
    while not recorded():
        if time.monotonic() > deadline:
            pytest.fail(f"the handler of signal {sig} did not run in {WAIT_S} s")
    return False


def _inside_code_that_clears_exceptions(sig, recorded=lambda: False) -> bool:
    """The signal raised where an exception its handler raises is cleared, as pyarrow's probe of a pandas Series
    cleared a KeyboardInterrupt raised in pandas' ``__getattr__``: whether the handler raised there."""
    try:
        return _signalled(sig, recorded)
    except (KeyboardInterrupt, Terminated):
        return True


def test_without_deferral_such_a_signal_is_lost():
    assert _inside_code_that_clears_exceptions(signal.SIGINT)  # the handler raised, and the exception went nowhere


def test_deferred_the_signal_is_raised_at_the_next_check():
    with pytest.raises(KeyboardInterrupt):
        with DeferredSignals() as signals:
            assert not _inside_code_that_clears_exceptions(signal.SIGINT, lambda: signals.pending is not None)
            assert signals.pending == signal.SIGINT
            signals.check()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_a_signal_after_the_last_check_is_raised_when_the_block_ends():
    with pytest.raises(KeyboardInterrupt):
        with DeferredSignals() as signals:
            _signalled(signal.SIGINT, lambda: signals.pending is not None)


def test_a_second_signal_raises_at_once():
    with pytest.raises(KeyboardInterrupt), DeferredSignals() as signals:
        _signalled(signal.SIGINT, lambda: signals.pending is not None)
        _signalled(signal.SIGINT)  # returns only by raising, or fails the test


def test_sigterm_is_raised_as_the_clis_handler_raises_it():
    with terminate_as_interrupt(), pytest.raises(Terminated):
        with DeferredSignals() as signals:
            assert not _inside_code_that_clears_exceptions(signal.SIGTERM, lambda: signals.pending is not None)
            signals.check()


def test_an_ignored_signal_stays_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a background job's SIGINT
    try:
        with DeferredSignals() as signals:
            signal.raise_signal(signal.SIGINT)  # delivered (to this thread) before the call returns: and ignored
            signals.check()
        assert signals.pending is None and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
