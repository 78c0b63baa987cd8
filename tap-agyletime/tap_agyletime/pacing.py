"""The tap's one pace, shared by every stream, worker thread and token request."""

from __future__ import annotations

import threading
import time

from pyrate_limiter import Duration, Limiter, Rate

HEADROOM_MS = 30
"""The window is 1.03 s, not 1 s: requests released exactly a second apart can reach the API
a few ms less than a second apart (thread wake-ups, a busy server loop), and a server may count
arrivals on a strict one-second window. The cost is 3% of the ceiling (2.9 calls/s at 3)."""
POLL_S = 0.002
"""How often the waiting thread asks again; the error it adds is a fraction of the headroom."""


class Pacer:
    """At most ``per_second`` requests in any window of 1 s + headroom, across all threads.

    The limiter is pyrate-limiter's, asked without blocking by one waiting thread at a time.
    Not its blocking wait: that sleeps 50 ms past each free slot (its ``buffer_ms``, 5% of a
    10/s ceiling) and records the permit at the planned time, so a thread that wakes late
    (the GIL, a busy main thread) sends later than recorded and eats into the headroom. A
    non-blocking acquire records the moment it actually succeeds.
    """

    def __init__(self, per_second: int) -> None:
        self.limiter = Limiter(Rate(per_second, Duration.SECOND + HEADROOM_MS))
        self._turn = threading.Lock()

    def wait(self) -> None:
        """Block until a request may be sent now."""
        with self._turn:
            while not self.limiter.try_acquire("agyletime", blocking=False):
                time.sleep(POLL_S)
