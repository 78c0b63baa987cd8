"""A tap's one pace, shared by every stream, worker thread and token request."""

from __future__ import annotations

import threading
import time

from pyrate_limiter import Duration, Limiter, Rate

POLL_S = 0.002
"""How often the waiting thread asks again; the error it adds is a fraction of the headroom."""


class Pacer:
    """At most ``per_second`` requests in any window of one second plus ``headroom_ms``.

    The headroom: requests released exactly a second apart can reach the API a few ms less
    than a second apart (thread wake-ups, a busy server loop), and the vendors count
    arrivals on a strict one-second window.

    The limiter is pyrate-limiter's, asked without blocking by one waiting thread at a time.
    Not its blocking wait: that records the permit at the time the wait was planned, so a
    thread that wakes late (the GIL, a busy main thread) sends later than recorded and eats
    into the headroom. A non-blocking acquire records the moment it actually succeeds.
    """

    def __init__(self, per_second: int, *, headroom_ms: int = 30) -> None:
        self.limiter = Limiter(Rate(per_second, Duration.SECOND + headroom_ms))
        self._turn = threading.Lock()

    def wait(self) -> None:
        """Block until a request may be sent now."""
        with self._turn:
            while not self.limiter.try_acquire("requests", blocking=False):
                time.sleep(POLL_S)
