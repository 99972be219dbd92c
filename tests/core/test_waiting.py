"""Signals recorded and raised between steps (``core.waiting.DeferredSignals``): a handler that raises inside code
that clears exceptions (third-party code reached through C, or an ``except BaseException``) is lost; a flag is not.
The signals are real (``os.kill`` of this process); the handler runs at the next bytecode, inside the block."""

from __future__ import annotations

import os
import signal

import pytest

from edgeward.app.cli import terminate_as_interrupt
from edgeward.core.errors import Terminated
from edgeward.core.waiting import DeferredSignals


def _inside_code_that_clears_exceptions(sig=signal.SIGINT) -> bool:
    """The signal sent where an exception raised by its handler is cleared, as pyarrow's probe of a pandas Series
    cleared a KeyboardInterrupt raised in pandas' ``__getattr__``. Whether the handler raised there."""
    try:
        os.kill(os.getpid(), sig)
        for _ in range(1000):  # the handler runs between these bytecodes
            pass
    except BaseException:
        return True
    return False


def test_without_deferral_such_a_signal_is_lost():
    assert _inside_code_that_clears_exceptions()  # the handler raised, and the exception went nowhere


def test_deferred_the_signal_is_raised_at_the_next_check():
    with pytest.raises(KeyboardInterrupt):
        with DeferredSignals() as signals:
            assert not _inside_code_that_clears_exceptions()  # recorded, not raised
            assert signals.pending == signal.SIGINT
            signals.check()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_a_signal_after_the_last_check_is_raised_when_the_block_ends():
    with pytest.raises(KeyboardInterrupt):
        with DeferredSignals():
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):
                pass


def test_a_second_signal_raises_at_once():
    with pytest.raises(KeyboardInterrupt), DeferredSignals():
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):
            pass
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):
            pass
        pytest.fail("the second signal did not raise")


def test_sigterm_is_raised_as_the_clis_handler_raises_it():
    with terminate_as_interrupt(), pytest.raises(Terminated):
        with DeferredSignals() as signals:
            assert not _inside_code_that_clears_exceptions(signal.SIGTERM)
            signals.check()


def test_an_ignored_signal_stays_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a background job's SIGINT
    try:
        with DeferredSignals() as signals:
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):
                pass
            signals.check()
        assert signals.pending is None and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
