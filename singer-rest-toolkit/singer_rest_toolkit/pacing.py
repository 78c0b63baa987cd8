"""The pace of each API family of a tap, shared by its streams, worker threads and token requests."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

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


MAIN_API = "api"
"""The family of a stream that names none: the vendor's main API (and its token endpoint)."""


@dataclass(frozen=True)
class ApiFamily:
    """Endpoints of a vendor that share one documented rate limit: one pace, one worker pool.

    A user may lower the pace with ``rate_setting`` and size the pool with
    ``parallel_setting``; the defaults are the documented ceiling and ``parallel_requests``.
    """

    requests_per_second: int
    rate_setting: str = "max_requests_per_second"
    parallel_requests: int = 1
    """Workers that fetch this family's per-parent listings ahead; 1 = none, inline."""
    parallel_setting: str = "max_parallel_requests"
