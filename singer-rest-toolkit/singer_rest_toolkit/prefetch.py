"""Latency hiding for per-parent streams: child listings fetched ahead by a bounded pool.

The SDK syncs a child stream once per parent record, inline, so a sequential tap waits for
one round trip per parent. Here, while the main thread walks the parent records, a pool of
worker threads already fetches the child listings of the next parents, a page at a time
into a bounded queue per listing; when the SDK then syncs the child for a parent, the child
reads that queue instead of asking the API. A listing whose records have children of their
own (activities -> occurrences -> participants) queues those next, from the worker, so the
pool stays busy across parents.

What does not change: records and STATE are written by the main thread, in the order of a
sequential run (each child reads the listing fetched for its exact context); a fetch that
failed raises its error where a sequential run would have, after the same records. Every
request still passes the tap's one pace and the stream's retry loop. The main thread waits
for a listing no worker has started only while a worker is free to start it: when every
worker waits on the full queue of a listing read later, it takes the listing back and fetches
it itself, so bounded queues can never stall the sync. Listings nobody read (a parent a
stream map filtered out) are dropped when the top-level stream ends.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Final, Protocol

from singer_rest_toolkit.sdk_internals import run_before_threads_join

Record = dict[str, Any]
Key = tuple[str, Hashable]

BUFFERED_RECORDS = 2_000
"""Records one listing may hold ahead of the main thread, at least (and two chunks)."""
CHUNK_RECORDS = 1_000
"""At most this many records per queued item: what a listing holds ahead is counted in
records, whatever the page size."""
POOL_BUFFERED_RECORDS = 16_000
"""Records a pool's listings may hold ahead in all, shared out among its workers: a listing
whose pages are all queued before the main thread reaches it costs it no round trip."""
_PUT_POLL_S = 0.05
"""How often a worker blocked on a full queue checks whether its listing was cancelled."""
_DONE: Final = object()


class FetchCancelled(Exception):  # noqa: N818 - a signal, never shown to the user
    """A fetch of a finished or failed sync stops before its next request."""


class _Failure:
    """An exception raised by a worker, to be raised again on the main thread."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class PrefetchedStream(Protocol):
    """What the pool needs from a stream whose listings it fetches."""

    name: str

    def fetch_records(self, context: Any) -> Iterable[Record]:
        """The listing's records, page after page (requests paced and retried)."""

    def submit_children(self, records: list[Record], context: Any) -> bool:
        """Queue the child listings of ``records``; False if none was queued."""

    def has_children_to_sync(self) -> bool:
        """True if a child stream will be synced for each record."""


def context_key(stream_name: str, context: Mapping[str, Any] | None) -> Key | None:
    """A hashable key of a child context; None when a value is not hashable."""
    try:
        items = tuple(sorted((context or {}).items()))
        hash(items)
    except TypeError:
        return None
    return stream_name, items


class Listing:
    """One child listing: a worker queues its pages, the main thread reads them in order."""

    def __init__(
        self,
        page_size: int,
        buffered: int,
        *,
        children_queued: bool,
        stuck: StuckWorkers,
        waited: Callable[[float], object],
    ) -> None:
        self.page_size = max(1, min(page_size, CHUNK_RECORDS))
        """Records handed over at once: a page, or a part of a large page (a page's records
        are all there together, so its parts leave at once too)."""
        self.children_queued = children_queued
        """True when the worker also queues the child listings of these records."""
        self.future: Future[None] | None = None
        self.started = threading.Event()
        """Set when a worker begins the fetch."""
        self._stuck = stuck
        self._waited = waited
        buffer_pages = max(2, buffered // self.page_size)
        self._pages: queue.Queue[object] = queue.Queue(maxsize=buffer_pages)
        self._cancelled = threading.Event()

    @property
    def cancelled(self) -> bool:
        """True once the listing is dropped."""
        return self._cancelled.is_set()

    def fill(self, stream: PrefetchedStream, context: Any) -> None:
        """Worker side: fetch the listing and queue it a page at a time."""
        self.started.set()
        try:
            if self.cancelled:
                return
            page: list[Record] = []
            for record in stream.fetch_records(context):
                page.append(record)
                # A page's records arrive together, so a full chunk is a whole page: handing
                # it over before the next request keeps the main thread busy meanwhile.
                if len(page) >= self.page_size:
                    if not self._put_page(stream, context, page):
                        return
                    page = []
            if page and not self._put_page(stream, context, page):
                return
            self._put(_DONE)
        except BaseException as exc:  # raised again, in order, by records()
            self._put(_Failure(exc))

    def _put_page(self, stream: PrefetchedStream, context: Any, page: list[Record]) -> bool:
        if self.children_queued:
            stream.submit_children(page, context)
        return self._put(page)

    def _put(self, item: object) -> bool:
        """Queue ``item`` unless the listing is dropped meanwhile (its reader is gone)."""
        try:
            self._pages.put_nowait(item)
        except queue.Full:
            pass
        else:
            return True
        with self._stuck:
            while not self.cancelled:
                try:
                    self._pages.put(item, timeout=_PUT_POLL_S)
                except queue.Full:
                    continue
                return True
        return False

    def records(self) -> Iterator[Record]:
        """Main thread: the listing's records in order, then its error if it failed."""
        while True:
            started = time.monotonic()
            item = self._pages.get()
            self._waited(time.monotonic() - started)
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield from item  # type: ignore[misc]

    def cancel(self) -> None:
        """Stop the worker (at its next page or request) and drop what it queued."""
        self._cancelled.set()
        if self.future is not None:
            self.future.cancel()


class StuckWorkers:
    """How many workers wait on a full queue (a listing read later): while one is, it fetches
    nothing else. A context manager around the wait."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        with self._lock:
            self.count += 1

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self.count -= 1


class Prefetcher:
    """A bounded worker pool and the listings it fetches ahead, by stream and context."""

    def __init__(
        self,
        *,
        workers: int,
        page_size: int,
        name: str,
        waited: Callable[[float], object] = lambda _: None,
    ) -> None:
        self.ahead = 2 * workers
        """Parent records read ahead of the one emitted: a free worker always finds work."""
        self._workers = workers
        self._page_size = page_size
        self._buffered = max(BUFFERED_RECORDS, POOL_BUFFERED_RECORDS // workers)
        self._name = name
        self._waited = waited
        """Told the seconds the main thread waited for a worker (progress.py)."""
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._pending: dict[Key, deque[Listing]] = {}
        self._live: set[Listing] = set()
        self._current = threading.local()
        self._stuck = StuckWorkers()
        run_before_threads_join(self.discard)

    # --- main thread --------------------------------------------------------------------------
    def take(self, stream_name: str, context: Mapping[str, Any] | None) -> Listing | None:
        """The listing fetched for this context, or None: fetch it inline (none was
        submitted, or no worker can start it)."""
        key = context_key(stream_name, context)
        if key is None:
            return None
        with self._lock:
            pending = self._pending.get(key)
            listing = pending.popleft() if pending else None
            if pending is not None and not pending:
                del self._pending[key]
        if listing is None:
            return None
        # Wait for a worker to start it, unless every worker is stuck on a full queue of a
        # listing read later: then no worker may ever start it, and it is fetched here.
        started = time.monotonic()
        try:
            while not listing.started.wait(_PUT_POLL_S / 10):
                stuck = self._stuck.count >= self._workers
                if listing.cancelled or (stuck and listing.future and listing.future.cancel()):
                    listing.cancel()
                    return None
            return listing
        finally:
            self._waited(time.monotonic() - started)

    def read_ahead(
        self, records: Iterable[Record], submit: Callable[[list[Record]], object]
    ) -> Iterator[Record]:
        """``records`` as they are, with ``submit`` called :attr:`ahead` records before each.

        An error while reading ahead is raised only after the records read before it.
        """
        source = iter(records)
        buffer: deque[Record] = deque()
        error: Exception | None = None
        exhausted = False
        while True:
            batch: list[Record] = []
            while not exhausted and len(buffer) + len(batch) < self.ahead:
                try:
                    batch.append(next(source))
                except StopIteration:
                    exhausted = True
                except Exception as exc:  # raised below, in order
                    error = exc
                    exhausted = True
            if batch:
                submit(batch)
                buffer.extend(batch)
            if not buffer:
                if error is not None:
                    raise error
                return
            yield buffer.popleft()

    def discard(self) -> None:
        """Drop every listing (queued ones never run, running ones stop at their next page
        or request) and wait for the workers: no request outlives the sync."""
        with self._lock:
            live, self._live = self._live, set()
            self._pending = {}
            pool, self._pool = self._pool, None
        for listing in live:
            listing.cancel()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    # --- any thread ---------------------------------------------------------------------------
    def submit(
        self,
        stream: PrefetchedStream,
        context: Mapping[str, Any] | None,
        page_size: int | None = None,
    ) -> bool:
        """Queue a fetch of ``stream``'s listing for ``context``, whose pages hold
        ``page_size`` records (default: the pool's); False if it cannot be."""
        key = context_key(stream.name, context)
        if key is None or self._fetching_cancelled():
            return False  # a worker of a dropped listing queues nothing more
        listing = Listing(
            page_size or self._page_size,
            self._buffered,
            children_queued=stream.has_children_to_sync(),
            stuck=self._stuck,
            waited=self._waited,
        )
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix=self._name)
            self._live.add(listing)
            self._pending.setdefault(key, deque()).append(listing)
            listing.future = self._pool.submit(self._fetch, listing, stream, context)
        return True

    def raise_if_cancelled(self) -> None:
        """In a worker whose listing was dropped, stop before sending another request."""
        if self._fetching_cancelled():
            raise FetchCancelled

    # --- worker threads -----------------------------------------------------------------------
    def _fetching_cancelled(self) -> bool:
        listing: Listing | None = getattr(self._current, "listing", None)
        return listing is not None and listing.cancelled

    def _fetch(self, listing: Listing, stream: PrefetchedStream, context: Any) -> None:
        self._current.listing = listing
        try:
            listing.fill(stream, context)
        finally:
            self._current.listing = None
            with self._lock:
                self._live.discard(listing)
