"""The end of the process: a failed sync's worker pools dropped before the interpreter joins
them, and the SDK's termination handler replaced by the toolkit's stop (stop.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from singer_sdk import Tap
from typing_extensions import override


def run_before_threads_join(hook: Callable[[], None]) -> None:
    """Call ``hook`` at interpreter exit before worker pools are joined (``atexit`` is too
    late): ``concurrent.futures`` then runs every queued task, a failed sync's fetches ahead."""
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        register(hook)


class NoSdkSignalHandlers(Tap):
    """A tap that leaves SIGTERM and SIGINT alone as it is built: the SDK's handler writes a
    STATE in the middle of whatever the main thread was writing, flushes the interrupted block
    again, and exits 0, so a killed sync looks like a good one. The CLI installs stop.py's."""

    @override
    def _setup_signal_handlers(self) -> None:
        pass
