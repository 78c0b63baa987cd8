"""The end of the process: a failed sync's worker pools dropped before the interpreter joins
them."""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_before_threads_join(hook: Callable[[], None]) -> None:
    """Call ``hook`` at interpreter exit before worker pools are joined.

    ``concurrent.futures`` joins its workers at exit after running every queued task; a
    failed sync's fetches ahead must be dropped first. ``atexit`` runs too late for that.
    """
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        register(hook)
