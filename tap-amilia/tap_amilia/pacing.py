"""The tap's one pace, shared by every stream, worker thread and token request."""

from __future__ import annotations

import threading
import time

from pyrate_limiter import Duration, Limiter, Rate

HEADROOM_MS = 40
"""The limiter's window is 1.04 s, not 1 s: requests released exactly a second apart can
reach the server less than a second apart (thread wake-ups, loopback jitter), and Amilia
counts on a sliding second. The cost is 4% of the ceiling (96 calls/s at 100)."""
POLL_S = 0.002


class Pacer:
    """``max_requests_per_second`` over a sliding window, for any number of threads.

    The limiter is pyrate-limiter's. It is asked without blocking, by one waiting thread at a
    time: its own blocking wait records a permit at the time the wait was *planned*, so a
    thread that wakes late (the GIL, a busy main thread) would send later than recorded and
    eat into the headroom; a non-blocking acquire records the time it actually succeeds.
    """

    def __init__(self, per_second: int) -> None:
        self.limiter = Limiter(Rate(per_second, Duration.SECOND + HEADROOM_MS))
        self._turn = threading.Lock()

    def wait(self) -> None:
        """Block until a request may be sent now."""
        with self._turn:
            while not self.limiter.try_acquire("amilia", blocking=False):
                time.sleep(POLL_S)
