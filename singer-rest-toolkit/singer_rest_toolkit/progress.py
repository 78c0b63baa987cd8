"""A sync's progress in the log: records, requests and elapsed time every few seconds, then
where the time went (waiting for the rate limit, waiting for the API, working)."""

from __future__ import annotations

import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging

RATE_LIMIT = "rate limit"
API = "API"
RETRY = "retry"
"""Waiting before a retry other than a 429's: counted as waiting for the API, not a request."""
FETCH_AHEAD = "fetch ahead"
"""The main thread waiting for a listing a worker fetches (workers wait for the other two)."""


class SyncProgress:
    """Counters every thread of one sync adds to, and the thread that logs them. The split is
    of the main thread's time, the one that writes the records: its waits for a fetch-ahead
    worker are shared between the rate limit and the API as the workers' own waits are."""

    def __init__(self, tap_name: str, logger: logging.Logger, interval_s: float) -> None:
        self.tap_name = tap_name
        self.logger = logger
        self.interval_s = interval_s
        self.records = 0  # added to by the main thread only
        self.requests = 0
        self._waits: defaultdict[tuple[str, bool], float] = defaultdict(float)
        """Seconds waited, by (what for, on the main thread)."""
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._reporting = False

    @contextmanager
    def waiting(self, kind: str) -> Iterator[None]:
        """The calling thread's time inside the block counted as waiting for ``kind``."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.waited(kind, time.monotonic() - started)

    def waited(self, kind: str, seconds: float) -> None:
        """Add ``seconds`` of waiting for ``kind`` (for the API: one request) by this thread."""
        on_main = threading.current_thread() is threading.main_thread()
        if not self._reporting:
            self.start()
        with self._lock:
            self._waits[API if kind == RETRY else kind, on_main] += seconds
            if kind == API:
                self.requests += 1

    def elapsed(self) -> float:
        """Seconds since the sync started."""
        return time.monotonic() - self._started

    def split(self) -> tuple[float, float, float]:
        """The main thread's seconds waiting for the rate limit, for the API, and working."""
        with self._lock:
            waits = self._waits.copy()
        workers_pace, workers_api = waits[RATE_LIMIT, False], waits[API, False]
        pace_share = workers_pace / (workers_pace + workers_api) if workers_pace else 0.0
        ahead = waits[FETCH_AHEAD, True]
        pace = waits[RATE_LIMIT, True] + ahead * pace_share
        api = waits[API, True] + ahead * (1 - pace_share)
        return pace, api, max(self.elapsed() - pace - api, 0.0)

    def start(self) -> None:
        """Log progress every :attr:`interval_s` from a thread of its own, until :meth:`stop`
        (or until this object is dropped: the thread holds it only weakly). The first
        request starts it: the elapsed time counts from there."""
        with self._lock:
            if self._reporting:
                return
            self._reporting = True
            self._started = time.monotonic()
        stop, interval, this = self._stop, self.interval_s, weakref.ref(self)

        def report() -> None:
            while not stop.wait(interval) and (progress := this()) is not None:
                progress.logger.info(
                    "progress: %s records, %s requests, %.0f s elapsed",  # the logger is the tap's
                    f"{progress.records:,}",
                    f"{progress.requests:,}",
                    progress.elapsed(),
                )
                del progress

        weakref.finalize(self, stop.set)
        threading.Thread(target=report, name=f"{self.tap_name}-progress", daemon=True).start()

    def stop(self) -> None:
        """Stop the progress lines and log where the time went (if anything was fetched)."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self.requests or self.records:
            pace, api, work = self.split()
            self.logger.info(
                "time: %.1f s in all: %.1f s waiting for the rate limit, %.1f s waiting for the "
                "API, %.1f s working (%s records, %s requests)",
                self.elapsed(),
                pace,
                api,
                work,
                f"{self.records:,}",
                f"{self.requests:,}",
            )
