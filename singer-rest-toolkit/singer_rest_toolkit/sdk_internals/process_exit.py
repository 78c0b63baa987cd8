"""The end of the process: a failed sync's worker pools dropped before the interpreter joins
them, and the SDK's termination handler replaced by the toolkit's stop (stop.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from singer_sdk import Tap
from typing_extensions import override


def run_before_threads_join(hook: Callable[[], None]) -> None:
    """Call ``hook`` at interpreter exit before worker pools are joined: ``concurrent.futures``
    then runs every queued task, and a failed sync's fetches ahead must be dropped first
    (``atexit`` runs too late for that)."""
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        register(hook)


class NoSdkSignalHandlers(Tap):
    """A tap that leaves SIGTERM and SIGINT alone as it is built.

    The SDK's handler writes a STATE in the middle of whatever the main thread was writing (a
    partial line), then exits 0: a killed sync looks like a good one, and the interrupted block
    of records is flushed a second time on the way out. The CLI installs the toolkit's stop
    instead (stop.py); a tap built inside another program leaves its signals alone."""

    @override
    def _setup_signal_handlers(self) -> None:
        pass
