"""A sync stopped by SIGTERM or SIGINT: a non-zero exit (as a shell reports a process the
signal ended), within seconds whatever the workers are doing, and output a target can trust.

The handler raises :class:`SyncStopped` on the main thread wherever the sync is, except while
stdout is being written (:func:`deferred`): a write cut short leaves a partial line, and a later
flush of the same block writes its records twice. The CLI then writes a last STATE (covering
only records written), logs one line and ends without waiting for workers blocked in a request;
a reader that stops reading cannot hold the process: after :data:`GRACE_S` it ends without it.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import NoReturn

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
GRACE_S = 4.0
"""Seconds a stopped sync has to write its last records and STATE (stdout no longer read)."""
_LOG_WAIT_S = 0.5


def exit_code(signum: int) -> int:
    """The exit code of a process a signal stopped: 143 for SIGTERM, 130 for SIGINT."""
    return 128 + signum


def signal_name(signum: int) -> str:
    """``SIGTERM``, ``SIGINT``."""
    return signal.Signals(signum).name


class SyncStopped(BaseException):
    """Raised on the main thread by a stop signal. A BaseException: no ``except Exception``
    (a retry loop, the SDK's error log) takes it for a failure to handle."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal_name(signum))
        self.signum = signum


class _Stop:
    """The process's stop: the signal received, and the writes of stdout under way."""

    signum: int | None = None
    raised = False
    writing = 0

    def raise_once(self) -> None:
        if self.signum is not None and not self.writing and not self.raised:
            self.raised = True
            raise SyncStopped(self.signum)


_stop = _Stop()


def requested() -> int | None:
    """The stop signal received, if any."""
    return _stop.signum


@contextmanager
def handled(logger: logging.Logger) -> Iterator[None]:
    """SIGTERM and SIGINT handled as a stop while the CLI runs, then as before (a test gets its
    handlers back). Only the main thread may handle signals: elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        if _stop.signum is not None:
            return  # already stopping; GRACE_S bounds it
        _stop.signum = signum
        watchdog = threading.Timer(GRACE_S, _give_up, (signum, logger))
        watchdog.daemon = True
        watchdog.start()
        _stop.raise_once()

    previous = {signum: signal.signal(signum, handle) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def deferred() -> Iterator[None]:
    """A write of stdout: a stop signal received meanwhile is raised once it is done."""
    _stop.writing += 1
    try:
        yield
    finally:
        _stop.writing -= 1
    _stop.raise_once()


def end(signum: int) -> NoReturn:
    """End the process now, stdout and the log flushed, not waiting for workers in a request."""
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # a closed pipe: nothing more to do
            stream.flush()
    logging.shutdown()
    os._exit(exit_code(signum))


def _give_up(signum: int, logger: logging.Logger) -> None:
    """The watchdog: nobody read stdout for the grace period. The line is logged from a thread
    of its own: a log stream nobody reads either must not hold the exit."""
    line = threading.Thread(
        target=logger.error,
        args=(
            "stopped by %s; the output was not read for %.0f s: ended without a last STATE "
            "(a run from the previous STATE reads again what this one wrote)",
            signal_name(signum),
            GRACE_S,
        ),
        daemon=True,
    )
    line.start()
    line.join(_LOG_WAIT_S)
    os._exit(exit_code(signum))
