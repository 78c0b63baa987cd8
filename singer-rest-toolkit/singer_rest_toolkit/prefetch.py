"""The mechanics of fetching ahead (what is fetched and when: scheduler.py): a bounded pool
of worker threads fills one queue of pages per listing, and the main thread reads each in
order, then its error if it failed, where a sequential run would have met it. Every request
still passes its family's pace and its stream's retry loop. The main thread waits for a
listing no worker has started only while a worker is free to start it: when every worker
waits on the full queue of a listing read later, it takes the listing back and fetches it
itself, so bounded queues can never stall the sync. What a pool's listings hold ahead is
bounded in bytes (of the response bodies their pages came in), all listings together, so it
does not grow with the tenant or its records' size. With ``spill``, pages beyond the budget
wait in a temporary file (:class:`SpillFile`) instead of stalling their worker.
"""

from __future__ import annotations

import os
import pickle
import queue
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any, Final, Protocol

from singer_rest_toolkit import stop
from singer_rest_toolkit.responses import bytes_parsed
from singer_rest_toolkit.sdk_internals.process_exit import run_before_threads_join

Record = dict[str, Any]
Key = tuple[str, Hashable]

CHUNK_RECORDS = 1_000
"""At most this many records per queued item: the main thread gets a large page's first
records while the rest are parsed."""
POOL_BUFFERED_BYTES = 512 * 1024
"""Bytes of response bodies a pool's listings may hold ahead of the main thread, all
together (parsed, about ten times as much): a worker whose listing the main thread is not
reading sends no request while they are spent. Enough pages that the next listings cost the
main thread no round trip, not a tenant's worth."""
SPILL_BYTES = 256 * 1024 * 1024
"""Bytes a listing may hold unread on disk: a larger stream ahead waits for its reader."""
_PUT_POLL_S = 0.05
"""How often a worker blocked on a full queue checks whether its listing was cancelled."""
_DONE: Final = object()
_fetching = threading.local()
"""The listing a worker thread is fetching, whichever pool the worker belongs to."""


class FetchCancelled(Exception):  # noqa: N818 - a signal, never shown to the user
    """A fetch of a finished or failed sync stops before its next request."""


class _Failure:
    """An exception raised by a worker, to be raised again on the main thread."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class PrefetchedStream(Protocol):
    """What the pool needs from a stream whose listings it fetches."""

    name: str

    def fetch_records(self, context: Any) -> Iterable[Record]: ...

    def submit_children(self, records: list[Record], context: Any) -> bool: ...

    def has_children_to_sync(self) -> bool: ...


class RecordsOnly:
    """A listing a pool fetches without queueing children: they are queued as the main
    thread reads its records (a top-level stream fetched ahead, a date window)."""

    def __init__(self, name: str, fetch: Callable[[Any], Iterable[Record]]) -> None:
        self.name = name
        self._fetch = fetch

    def fetch_records(self, context: Any) -> Iterable[Record]:
        """The listing's records, as the API sends them."""
        return self._fetch(context)

    def submit_children(self, records: list[Record], context: Any) -> bool:
        """See the class."""
        return False

    def has_children_to_sync(self) -> bool:
        """See the class."""
        return False


def context_key(stream_name: str, context: Mapping[str, Any] | None) -> Key | None:
    """A hashable key of a child context; None when a value is not hashable."""
    try:
        items = tuple(sorted((context or {}).items()))
        hash(items)
    except TypeError:
        return None
    return stream_name, items


class _Held:
    """A page held in memory and the bytes it weighs in the pool's budget."""

    def __init__(self, page: list[Record], size: int) -> None:
        self.page = page
        self.size = size


class _Spilled:
    """Where a page waits in a :class:`SpillFile`."""

    def __init__(self, offset: int, size: int) -> None:
        self.offset = offset
        self.size = size


class SpillFile:
    """The pages a listing fetched beyond its memory budget, on disk until they are read.

    Pickled, so records come back exactly as they were parsed (Decimals stay Decimals). The
    file is anonymous: the system frees it when it is closed, or when the process ends.
    """

    def __init__(self) -> None:
        self._file: IO[bytes] | None = None
        self._end = 0
        self._closed = False
        self._lock = threading.Lock()
        self.unread = 0
        """Bytes written and not yet read."""

    def write(self, page: list[Record]) -> _Spilled:
        """Worker side: append ``page``."""
        data = pickle.dumps(page, protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            if self._closed:
                raise FetchCancelled
            if self._file is None:
                self._file = tempfile.TemporaryFile(prefix="fetched-ahead-")  # noqa: SIM115
            self._file.write(data)
            self._file.flush()
            where = _Spilled(self._end, len(data))
            self._end += len(data)
            self.unread += len(data)
        return where

    def read(self, where: _Spilled) -> list[Record]:
        """Reader side: the page written at ``where``."""
        assert self._file is not None
        page: list[Record] = pickle.loads(  # noqa: S301 - this process wrote it
            os.pread(self._file.fileno(), where.size, where.offset)
        )
        with self._lock:
            self.unread -= where.size
        return page

    def close(self) -> None:
        """Free the file; a later write stops its worker."""
        with self._lock:
            self._closed = True
            if self._file is not None:
                self._file.close()


class MemoryBudget:
    """Bytes the listings of a pool may hold in memory, all of them together."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._free = size
        self.page = 0
        """Bytes of the last page queued: what a request about to be sent reserves."""
        self._changed = threading.Condition()

    @property
    def held(self) -> int:
        """Bytes held now."""
        return self.size - self._free

    @property
    def spent(self) -> bool:
        """True while no room is left."""
        return self._free <= 0

    def take(self, size: int, *, anyway: bool = False) -> bool:
        """``size`` bytes more in memory, if the budget has room left (or ``anyway``)."""
        with self._changed:
            if size and self._free <= 0 and not anyway:
                return False
            self._free -= size
            return True

    def wait(self) -> None:
        """Until some bytes are given back (or a short while: the caller checks again)."""
        with self._changed:
            if self._free <= 0:
                self._changed.wait(_PUT_POLL_S)

    def give_back(self, size: int) -> None:
        """Bytes read (or dropped) leave memory: one waiting worker goes on."""
        with self._changed:
            self._free += size
            self._changed.notify()


class Listing:
    """One listing: a worker queues its pages, the main thread reads them in order."""

    def __init__(
        self,
        name: str,
        page_size: int,
        budget: MemoryBudget,
        *,
        children_queued: bool,
        stuck: StuckWorkers,
        waited: Callable[[float], object],
        spill: bool = False,
    ) -> None:
        self.name = name
        """The stream (or windows) whose listing this is."""
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
        self._budget = budget
        self._spill = SpillFile() if spill else None
        """Where pages beyond the pool's memory budget wait; None: the worker waits for the
        reader when the budget is spent and this listing holds a page."""
        self._pages: queue.Queue[object] = queue.Queue()
        self._held = 0
        """Bytes of this listing in the memory budget, not yet read (or reserved)."""
        self._reserved = 0
        """Bytes reserved for the page of the request in flight."""
        self._held_lock = threading.Lock()
        self._cancelled = threading.Event()
        self._reading = threading.Event()
        """Set once the main thread reads the listing."""

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
            parsed = bytes_parsed()
            for record in stream.fetch_records(context):
                page.append(record)
                # A page's records arrive together, so a full chunk is a whole page: handing
                # it over before the next request keeps the main thread busy meanwhile.
                if len(page) >= self.page_size:
                    parsed, size = bytes_parsed(), bytes_parsed() - parsed
                    if not self._put_page(stream, context, page, size):
                        return
                    page = []
            if page and not self._put_page(stream, context, page, bytes_parsed() - parsed):
                return
            self._put(_DONE)
        except BaseException as exc:  # raised again, in order, by records()
            self._put(_Failure(exc))

    def _put_page(
        self, stream: PrefetchedStream, context: Any, page: list[Record], parsed: int
    ) -> bool:
        """Queue ``page``, weighed as the ``parsed`` bytes of the bodies it came in (the first
        part of a large page carries them all; at least a byte a record, for a source that
        parses no body)."""
        if self.children_queued:
            stream.submit_children(page, context)
        size = max(parsed, len(page))
        spill = self._spill
        if spill is None:  # its request reserved room (wait_for_room): the page is in memory
            with self._held_lock:
                reserved, self._reserved = self._reserved, 0
                self._held -= reserved
            self._budget.give_back(reserved)
            self._budget.page = size or self._budget.page
        if self._take(size, anyway=spill is None) or spill is None:
            return self._put(_Held(page, size))
        if spill.unread >= SPILL_BYTES:
            with self._stuck:
                while spill.unread >= SPILL_BYTES and not self.cancelled:
                    time.sleep(_PUT_POLL_S)
        return not self.cancelled and self._put(spill.write(page))

    def _take(self, size: int, *, anyway: bool) -> bool:
        """Room for ``size`` bytes more in the pool's budget (or ``anyway``)."""
        with self._held_lock:
            if not self._budget.take(size, anyway=anyway):
                return False
            self._held += size
            return True

    def wait_for_room(self) -> None:
        """Worker side, before a request: reserve room for its page in the pool's budget,
        waiting while it is spent, unless the main thread reads this listing (it waits for
        this page) or it is dropped."""
        if self._spill is not None:
            return
        estimate = self._budget.page
        if not self._take(estimate, anyway=self._reading.is_set()):
            with self._stuck:
                while not self._take(estimate, anyway=self._reading.is_set()):
                    if self.cancelled:
                        return
                    self._budget.wait()
        with self._held_lock:
            self._reserved += estimate

    def _put(self, item: object) -> bool:
        """Queue ``item`` (the budget bounds the queue); False once the listing is dropped
        (its reader is gone)."""
        self._pages.put_nowait(item)
        return not self.cancelled

    def records(self) -> Iterator[Record]:
        """Main thread: the listing's records in order, then its error if it failed."""
        self._reading.set()
        try:
            while True:
                started = time.monotonic()
                item = self._pages.get()
                self._waited(time.monotonic() - started)
                if item is _DONE:
                    return
                if isinstance(item, _Failure):
                    raise item.error
                if isinstance(item, _Spilled):
                    assert self._spill is not None
                    yield from self._spill.read(item)
                    continue
                if isinstance(item, _Held):
                    with self._held_lock:
                        self._held -= item.size
                    self._budget.give_back(item.size)
                    yield from item.page
        finally:
            self._release()

    def cancel(self) -> None:
        """Stop the worker (at its next page or request) and drop what it queued."""
        self._cancelled.set()
        if self.future is not None:
            self.future.cancel()
        self._release()

    def _release(self) -> None:
        """Free the spill file and the memory budget of pages nobody will read."""
        if self._spill is not None:
            self._spill.close()
        with self._held_lock:
            held, self._held, self._reserved = self._held, 0, 0
        self._budget.give_back(held)


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
        name: str,
        page_size: int = CHUNK_RECORDS,
        buffered: int | None = None,
        spill: bool = False,
        waited: Callable[[float], object] = lambda _: None,
    ) -> None:
        self.ahead = 2 * workers
        """Parent records read ahead of the one emitted: a free worker always finds work."""
        self.workers = workers
        self._page_size = page_size
        """Records per page of a listing submitted without its stream's page size."""
        self.budget = MemoryBudget(buffered or POOL_BUFFERED_BYTES)
        """Bytes the pool's listings may hold in memory, all together (``buffered``)."""
        self._spill = spill
        """With ``spill``: pages beyond the budget wait on disk (see :class:`SpillFile`)
        instead of their worker waiting for the reader."""
        self._name = name
        self._waited = waited
        """Told the seconds the main thread waited for a worker (progress.py)."""
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._pending: dict[Key, deque[Listing]] = {}
        self._live: set[Listing] = set()
        self._stuck = StuckWorkers()
        run_before_threads_join(self.discard)

    # --- main thread --------------------------------------------------------------------------
    def take(
        self, stream_name: str, context: Mapping[str, Any] | None, *, started_only: bool = False
    ) -> Listing | None:
        """The listing fetched for this context, or None: fetch it inline (none was
        submitted, or no worker can start it, or, with ``started_only``, none has yet)."""
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
                stuck = started_only or self._stuck.count >= self.workers
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
        if pool is not None:  # a stopped sync does not wait for a request (stop.py)
            pool.shutdown(wait=stop.requested() is None, cancel_futures=True)

    def drop(self, names: Iterable[str]) -> None:
        """Drop the listings of ``names`` (taken or not): their reader is done with them."""
        names = set(names)
        with self._lock:
            dropped = [listing for listing in self._live if listing.name in names]
            for key in [key for key in self._pending if key[0] in names]:
                dropped.extend(self._pending.pop(key))
        for listing in dropped:
            listing.cancel()

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
        if key is None or fetching_cancelled():
            return False  # a worker of a dropped listing queues nothing more
        listing = Listing(
            stream.name,
            page_size or self._page_size,
            self.budget,
            children_queued=stream.has_children_to_sync(),
            stuck=self._stuck,
            waited=self._waited,
            spill=self._spill,
        )
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix=self._name)
            self._live.add(listing)
            self._pending.setdefault(key, deque()).append(listing)
            listing.future = self._pool.submit(self._fetch, listing, stream, context)
        return True

    # --- worker threads -----------------------------------------------------------------------
    def _fetch(self, listing: Listing, stream: PrefetchedStream, context: Any) -> None:
        _fetching.listing = listing
        try:
            listing.fill(stream, context)
        finally:
            _fetching.listing = None
            with self._lock:
                self._live.discard(listing)


def fetching_cancelled() -> bool:
    """True in a worker whose listing was dropped."""
    listing: Listing | None = getattr(_fetching, "listing", None)
    return listing is not None and listing.cancelled


def before_request() -> None:
    """In a worker, before it sends a request: wait while its pool holds all the memory it
    may (:meth:`Listing.wait_for_room`); stop if its listing was dropped."""
    listing: Listing | None = getattr(_fetching, "listing", None)
    if listing is not None:
        listing.wait_for_room()
    if fetching_cancelled():
        raise FetchCancelled
