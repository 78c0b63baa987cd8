"""Latency hiding for per-parent streams: child listings fetched ahead by a bounded pool.

The SDK syncs a child stream once per parent record, inline, so a sequential tap waits for
one round trip per parent (5 requests/s at 200 ms where Amilia allows 100). Here, while the
main thread walks the parent records, a pool of worker threads already fetches the child
listings of the next parents; when the SDK then syncs the child for a parent, the child takes
the fetched records instead of asking the API. A fetched listing whose own records have
children (activities -> occurrences -> participants) queues those next, from the worker, so
the pool stays busy across parents.

What does not change: records are emitted by the main thread, by the SDK, in the order of a
sequential run (each child takes the fetch made for its exact context); a fetch that failed
raises its error where a sequential run would have, after the same records; state is written
by the main thread only. Every request still passes the tap's one rate limiter and the
stream's retry loop. Fetches nobody took (a parent record a stream map filtered out) are
dropped when the top-level stream ends.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

Record = dict[str, Any]
Key = tuple[str, Hashable]


class FetchCancelled(Exception):  # noqa: N818 - it is a signal, not an error the user sees
    """A fetch of a finished or failed sync stops before its next request."""


class ChildStream(Protocol):
    """What the pool needs from a stream whose listing it fetches."""

    name: str

    def request_records(self, context: Mapping[str, Any] | None) -> Iterable[Record]:
        """The listing's records, page after page (requests paced and retried)."""

    def submit_children(self, records: list[Record], context: Mapping[str, Any] | None) -> bool:
        """Queue the child fetches of ``records``; False if none was queued."""


@dataclass
class Fetched:
    """One listing fetched ahead: its records, and the error that ended it early, if any."""

    records: list[Record] = field(default_factory=list)
    error: BaseException | None = None
    children_queued: bool = False
    """True when the records' own child listings were queued too (by the worker)."""


def context_key(stream_name: str, context: Mapping[str, Any] | None) -> Key | None:
    """A hashable key of a child context; None when a value is not hashable."""
    try:
        items = tuple(sorted((context or {}).items()))
        hash(items)
    except TypeError:
        return None
    return stream_name, items


class FanOut:
    """A bounded worker pool and the listings it fetched ahead, keyed by stream and context."""

    def __init__(self, max_workers: int, window: int) -> None:
        self.window = window
        """Parent records a main-thread stream reads ahead of the one it emits."""
        self._max_workers = max_workers
        self._pool: ThreadPoolExecutor | None = None
        """Started on the first fetch, ended (threads and all) when a top-level sync ends."""
        self._lock = threading.Lock()
        self._pending: dict[Key, deque[Future[Fetched]]] = {}
        self._generation = 0
        self._task = threading.local()
        # A failed sync normally discards its fetches as its generator closes. Should the
        # interpreter exit first, the pool's own exit hook would run every queued fetch
        # before the process ends: discard them before that hook (these hooks run last
        # registered, first called; atexit itself runs only after the pool was joined).
        register = getattr(threading, "_register_atexit", None)
        if register is not None:
            register(self.discard)

    # --- main thread --------------------------------------------------------------------------
    def take(self, stream_name: str, context: Mapping[str, Any] | None) -> Fetched | None:
        """The listing fetched for this context (waiting for it), or None if there is none."""
        key = context_key(stream_name, context)
        if key is None:
            return None
        with self._lock:
            queue = self._pending.get(key)
            future = queue.popleft() if queue else None
            if queue is not None and not queue:
                del self._pending[key]
        return future.result() if future is not None else None

    def read_ahead(
        self, records: Iterable[Record], submit: Callable[[list[Record]], object]
    ) -> Iterator[Record]:
        """``records`` as they are, with ``submit`` called ``window`` records ahead of each."""
        source = iter(records)
        buffer: deque[Record] = deque()
        error: Exception | None = None
        while True:
            batch: list[Record] = []
            while error is None and len(buffer) + len(batch) < self.window:
                try:
                    record = next(source, None)
                except Exception as exc:  # raised by the main thread, in order
                    error = exc
                    break
                if record is None:
                    break
                batch.append(record)
            if batch:
                submit(batch)
                buffer.extend(batch)
            if not buffer:
                if error is not None:
                    raise error
                return
            yield buffer.popleft()

    def discard(self) -> None:
        """Drop every fetch not taken (queued ones never run, running ones stop early) and
        let the worker threads end."""
        with self._lock:
            self._generation += 1
            pending, self._pending = self._pending, {}
            pool, self._pool = self._pool, None
        for queue in pending.values():
            for future in queue:
                future.cancel()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    # --- any thread ---------------------------------------------------------------------------
    def submit(self, stream: ChildStream, context: Mapping[str, Any] | None) -> bool:
        """Queue a fetch of ``stream``'s listing for ``context``; False if it cannot be."""
        key = context_key(stream.name, context)
        if key is None:
            return False
        with self._lock:
            generation = self._generation
            if self._task_generation() not in (None, generation):
                return False  # a worker of a discarded sync queues nothing more
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    self._max_workers, thread_name_prefix="tap-amilia-fetch"
                )
            future = self._pool.submit(self._fetch, stream, context, generation)
            self._pending.setdefault(key, deque()).append(future)
        return True

    def raise_if_cancelled(self) -> None:
        """In a worker whose sync was discarded, stop before sending another request."""
        generation = self._task_generation()
        if generation is not None and generation != self._generation:
            raise FetchCancelled

    # --- worker threads -----------------------------------------------------------------------
    def _task_generation(self) -> int | None:
        generation: int | None = getattr(self._task, "generation", None)
        return generation

    def _fetch(
        self, stream: ChildStream, context: Mapping[str, Any] | None, generation: int
    ) -> Fetched:
        self._task.generation = generation
        fetched = Fetched()
        try:
            self.raise_if_cancelled()
            for record in stream.request_records(context):
                fetched.records.append(record)
        except Exception as exc:  # raised by the main thread, in order
            fetched.error = exc
        try:
            # Children of the records read so far, as a sequential run would sync them.
            if not isinstance(fetched.error, FetchCancelled):
                fetched.children_queued = stream.submit_children(fetched.records, context)
        finally:
            self._task.generation = None
        return fetched
