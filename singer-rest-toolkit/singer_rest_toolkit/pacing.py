"""The pace of each API family of a tap, shared by its streams, worker threads and token requests."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from pyrate_limiter import Duration, Limiter, Rate

POLL_S = 0.002
"""How often the waiting thread asks again; the error it adds is a fraction of the headroom."""
RECOVERY_S = 10.0
"""Seconds a pace takes to climb from half the rate a 429 met back to nine tenths (``KNEE``)."""
PROBE_S = 60.0
"""Seconds it then takes to climb the last tenth: a pace once refused stays just under the
rate that was refused for a while, rather than trip the limit again."""
KNEE = 0.9
SETTLE_S = 1.0
"""429s within this long of a slowdown answer requests sent before it: no second slowdown."""
MIN_RATE = 0.5
"""The slowest pace after repeated 429s (requests per second)."""
BURST = 2.0
"""At the full pace, requests leave at most this many times as fast as the rate: a second's
worth is spread over half a second rather than sent at once (workers released together), for
a loaded server stamps the arrivals of a burst late and counts some in the next window."""


class Pacer:
    """At most ``per_second`` requests in any window of one second plus ``headroom_ms``;
    after a 429, fewer for a while (:meth:`refused`).

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
        self.per_second = per_second
        self._turn = threading.Lock()
        self._slowing = threading.Lock()  # not _turn: a waiting thread holds that one
        self._slowed: tuple[float, float] | None = None
        """(when, requests per second refused) of the last slowdown."""
        self._last_sent = 0.0

    def rate(self, now: float) -> float:
        """Requests per second allowed at ``now``: the ceiling, or less after a 429."""
        slowed = self._slowed
        if slowed is None:
            return float(self.per_second)
        since, refused = slowed
        elapsed, low, knee = now - since, refused / 2, refused * KNEE
        if elapsed < RECOVERY_S:
            rate = low + (knee - low) * elapsed / RECOVERY_S
        else:
            rate = knee + self.per_second * (1 - KNEE) * (elapsed - RECOVERY_S) / PROBE_S
        return max(min(rate, float(self.per_second)), MIN_RATE)

    def refused(self) -> None:
        """A 429: the pace drops to half the rate refused, climbs back to nine tenths of it
        over ``RECOVERY_S``, then slowly to the ceiling. Spaced evenly at a fraction f of
        the limit, requests may each arrive up to 1/f - 1 s late without ever crowding a
        one-second window: a busy machine (or network) stops tripping it, a quiet one keeps
        the full pace, and a limit lower than documented (another client) is found.
        """
        with self._slowing:
            now = time.monotonic()
            if self._slowed is None or now - self._slowed[0] >= SETTLE_S:
                self._slowed = (now, self.rate(now))

    def wait(self) -> None:
        """Block until a request may be sent now."""
        with self._turn:
            while True:
                now = time.monotonic()
                rate = self.rate(now)
                spacing = 1 / rate if rate < self.per_second else 1 / (BURST * rate)
                due = self._last_sent + spacing
                if now >= due and self.limiter.try_acquire("requests", blocking=False):
                    self._last_sent = now
                    return
                time.sleep(min(due - now if now < due else POLL_S, SETTLE_S))


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
