"""The mechanics of fetching ahead (what is fetched and when: scheduler.py).

A bounded pool of worker threads fills one queue of pages per listing; the main thread reads
each in order, then its error if it failed, where a sequential run would have met it. Every
page waits in a temporary file, so what a pool holds in memory does not grow with the tenant
or with how far ahead of their reader the workers are; the requests a pool has in flight are
bounded in bytes of response bodies, all listings together: a worker waits before a request
while the budget is spent, unless the main thread reads its listing. The main thread waits
for a listing no worker has started only while a worker is free to start it, else it fetches
the listing itself, so no wait stalls the sync.
"""

from __future__ import annotations

import ctypes
import functools
import os
import pickle
import queue
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any, Final

from singer_rest_toolkit import stop
from singer_rest_toolkit.responses import bytes_parsed
from singer_rest_toolkit.sdk_internals.process_exit import run_before_threads_join

Record = dict[str, Any]
Key = tuple[str, Hashable]
Fetch = Callable[[Any], Iterable[Record]]
"""A listing's records for a context, as the API sends them."""
QueueChildren = Callable[[list[Record], Any], object]
"""Queues the child listings of a page of records (and the listing's context)."""

CHUNK_RECORDS = 1_000
"""At most this many records per queued item: the main thread gets a large page's first
records while the rest are parsed."""
IN_FLIGHT_BYTES = 2 * 1024 * 1024
"""Bytes of response bodies a pool's requests may have in flight, all together (parsed,
about ten times as much while a worker parses them): enough pages to hide a 200 ms answer
behind the main thread's writing, not so many that a fast API swamps it."""
SPILL_BYTES = 256 * 1024 * 1024
"""Bytes a listing may hold unread on disk: a larger stream ahead waits for its reader."""
_POLL_S = 0.05
"""How often a waiting worker checks again (its listing dropped, its reader come)."""
_DONE: Final = object()
_fetching = threading.local()
"""The listing a worker thread is fetching, whichever pool the worker belongs to."""


@functools.cache
def give_back_large_blocks() -> None:
    """Blocks of 128 KiB and more (response bodies) come from and go back to the system at
    once, in every thread. glibc otherwise raises that threshold to the largest block freed so
    far, and each worker thread's arena keeps the freed bodies of the pages it parsed: the
    process would grow with the size of the pages and the number of workers. Elsewhere than
    glibc, nothing."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError, TypeError):  # not glibc, or no C library to ask
        return
    m_mmap_threshold = -3  # glibc's malloc.h
    mallopt(m_mmap_threshold, 128 * 1024)


class FetchCancelled(Exception):  # noqa: N818 - a signal, never shown to the user
    """A fetch of a finished or failed sync stops before its next request."""


def context_key(stream_name: str, context: Mapping[str, Any] | None) -> Key | None:
    """A hashable key of a child context; None when a value is not hashable."""
    try:
        items = tuple(sorted((context or {}).items()))
        hash(items)
    except TypeError:
        return None
    return stream_name, items


class SpillFile:
    """The pages of a listing fetched ahead, on disk until read.

    Pickled, so records come back exactly as they were parsed (Decimals stay Decimals).
    Anonymous: the system frees it when it is closed, or when the process ends. Read in the
    order written (one worker writes a listing), so a page is known by its size alone.
    """

    def __init__(self) -> None:
        self._file: IO[bytes] | None = None
        self._closed = False
        self._lock = threading.Lock()
        self._read_at = 0
        self.unread = 0
        """Bytes written and not yet read."""

    def write(self, page: list[Record]) -> int:
        """Worker side: append ``page``; its size."""
        data = pickle.dumps(page, protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            if self._closed:
                raise FetchCancelled
            if self._file is None:
                self._file = tempfile.TemporaryFile(prefix="fetched-ahead-")  # noqa: SIM115
            self._file.write(data)
            self._file.flush()
            self.unread += len(data)
        return len(data)

    def read(self, size: int) -> list[Record]:
        """Reader side: the next page, of ``size`` bytes."""
        assert self._file is not None
        page: list[Record] = pickle.loads(  # noqa: S301 - this process wrote it
            os.pread(self._file.fileno(), size, self._read_at)
        )
        self._read_at += size
        with self._lock:
            self.unread -= size
        return page

    def close(self) -> None:
        """Free the file; a later write stops its worker."""
        with self._lock:
            self._closed = True
            if self._file is not None:
                self._file.close()


class MemoryBudget:
    """Bytes of the pages a pool's requests have in flight, all listings together, and each
    one's share."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.held = 0
        self.pages: dict[str, int] = {}
        """Bytes of the largest page of each stream: what its next request reserves (a
        stream's own, not another's: a pool fetches pages of very different sizes)."""
        self.stuck = 0
        """Workers waiting for room or for their reader: while one is, it fetches nothing else."""
        self._shares: Counter[Listing] = Counter()
        self._changed = threading.Condition()

    def take(self, listing: Listing, size: int, *, anyway: bool = False) -> bool:
        """Charge ``size`` bytes (negative: give them back) to ``listing``, if the budget has
        room left or ``anyway``. A dropped listing is charged nothing."""
        with self._changed:
            if size > 0 and self.held >= self.size and not anyway:
                return False
            if not listing.cancelled:
                self.held += size
                self._shares[listing] += size
                if size < 0:
                    self._changed.notify()  # one waiting worker goes on
            return True

    def learn(self, name: str, size: int) -> None:
        """A page of stream ``name`` weighed ``size`` bytes: its largest is :attr:`pages`."""
        with self._changed:
            self.pages[name] = max(self.pages.get(name, 0), size)

    def release(self, listing: Listing) -> None:
        """Give back everything ``listing`` holds (it was dropped, or read to its end)."""
        with self._changed:
            self.held -= self._shares.pop(listing, 0)
            self._changed.notify()

    def wait_while(self, busy: Callable[[], bool]) -> None:
        """Worker side: wait while ``busy()``, counted in :attr:`stuck`."""
        with self._changed:
            if not busy():
                return
            self.stuck += 1
            try:
                while busy():
                    self._changed.wait(_POLL_S)
            finally:
                self.stuck -= 1


class Listing:
    """One listing: a worker queues its pages, the main thread reads them in order."""

    def __init__(
        self,
        name: str,
        page_size: int,
        budget: MemoryBudget,
        *,
        children: QueueChildren | None,
        waited: Callable[[float], object],
    ) -> None:
        self.name = name
        self.page_size = max(1, min(page_size, CHUNK_RECORDS))
        """Records handed over at once: a page, or a part of a large page."""
        self.children = children
        """Queues the child listings of each page from the worker; None: the reader does."""
        self.future: Future[None] | None = None
        self.started = threading.Event()
        self._budget = budget
        self._waited = waited
        self._spill = SpillFile()
        self._pages: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._reserved = 0
        """Bytes charged for the page of the request in flight."""
        self.cancelled = False
        self._reading = False
        """True once the main thread reads the listing (it waits for the next page)."""

    def fill(self, fetch: Fetch, context: Any) -> None:
        """Worker side: fetch the listing and queue it a page at a time."""
        self.started.set()
        try:
            if self.cancelled:
                return
            page: list[Record] = []
            parsed = bytes_parsed()
            for record in fetch(context):
                page.append(record)
                # A page's records arrive together, so a full chunk is a whole page: handing
                # it over before the next request keeps the main thread busy meanwhile.
                if len(page) >= self.page_size:
                    size, parsed = bytes_parsed() - parsed, bytes_parsed()
                    if not self._put_page(page, context, size):
                        return
                    page = []  # before the next request: a worker holds one page at a time
            if page and not self._put_page(page, context, bytes_parsed() - parsed):
                return
            if not page:  # an empty last page: what its request reserved goes back
                self._weighed(max(bytes_parsed() - parsed, 1))
            self._pages.put(_DONE)
        except BaseException as exc:  # raised again, in order, by records()
            self._pages.put(exc)

    def _put_page(self, page: list[Record], context: Any, parsed: int) -> bool:
        """Queue ``page`` on disk and give back what its request reserved; its weight is the
        ``parsed`` bytes of the bodies it came in (the first part of a large page carries
        them all; at least a byte a record, for a source that parses no body). False once
        the listing is dropped (its reader is gone)."""
        if self.children is not None:
            self.children(page, context)
        self._budget.wait_while(lambda: self._spill.unread >= SPILL_BYTES and not self.cancelled)
        if not self.cancelled:
            self._pages.put(self._spill.write(page))
        self._weighed(max(parsed, len(page)))
        return not self.cancelled

    def _weighed(self, size: int) -> None:
        """The page of the request in flight arrived, weighing ``size`` bytes."""
        self._budget.take(self, -self._reserved)
        self._reserved = 0
        self._budget.learn(self.name, size)

    def wait_for_room(self) -> None:
        """Worker side, before a request: charge its page's estimated bytes, waiting while
        the budget is spent, unless the main thread reads this listing (it waits for this
        page) or it is dropped."""
        estimate = self._budget.pages.get(self.name, 0)

        def no_room() -> bool:
            taken = self._budget.take(self, estimate, anyway=self._reading)
            return not taken and not self.cancelled

        self._budget.wait_while(no_room)
        self._reserved += estimate

    def records(self) -> Iterator[Record]:
        """Main thread: the listing's records in order, then its error if it failed."""
        self._reading = True
        try:
            while True:
                started = time.monotonic()
                item = self._pages.get()
                self._waited(time.monotonic() - started)
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, int)
                yield from self._spill.read(item)
        finally:
            self.cancel()  # read to its end, or its reader is gone

    def cancel(self) -> None:
        """Stop the worker (at its next page or request) and drop what it queued."""
        self.cancelled = True
        if self.future is not None:
            self.future.cancel()
        self._spill.close()
        self._budget.release(self)


class Prefetcher:
    """A bounded worker pool and the listings it fetches ahead, by stream and context."""

    def __init__(
        self,
        *,
        workers: int,
        name: str,
        in_flight: int = IN_FLIGHT_BYTES,
        waited: Callable[[float], object] = lambda _: None,
    ) -> None:
        self.workers = workers
        self.ahead = 2 * workers
        """Parent records read ahead of the one emitted: a free worker always finds work."""
        self.budget = MemoryBudget(in_flight)
        self._name = name
        self._waited = waited
        """Told the seconds the main thread waited for a worker (progress.py)."""
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._pending: dict[Key, deque[Listing]] = {}
        """Listings not taken yet."""
        self._live: set[Listing] = set()
        """Listings whose worker has not finished."""
        run_before_threads_join(self.discard)

    # --- main thread --------------------------------------------------------------------------
    def take(
        self, stream_name: str, context: Mapping[str, Any] | None, *, started_only: bool = False
    ) -> Listing | None:
        """The listing fetched for this context; None: fetch it inline (none was submitted,
        no worker can start it, or, with ``started_only``, none has yet)."""
        key = context_key(stream_name, context)
        if key is None:
            return None
        with self._lock:
            if not (pending := self._pending.get(key)):
                return None
            listing = pending.popleft()
            if not pending:
                del self._pending[key]
        # Wait for a worker to start it, unless every worker is stuck on a listing read
        # later: then no worker may ever start it, and it is fetched here.
        started = time.monotonic()
        try:
            while not listing.started.wait(_POLL_S / 10):
                stuck = started_only or self.budget.stuck >= self.workers
                if listing.cancelled or (stuck and listing.future and listing.future.cancel()):
                    listing.cancel()
                    return None
            return listing
        finally:
            self._waited(time.monotonic() - started)

    def read_ahead(
        self, records: Iterable[Record], submit: Callable[[list[Record]], object]
    ) -> Iterator[Record]:
        """``records`` as they are, each passed to ``submit`` :attr:`ahead` records before it
        is yielded. An error while reading ahead is raised after the records read before it."""
        source = iter(records)
        buffer: deque[Record] = deque()
        error: Exception | None = None
        while True:
            try:
                record = next(source)
            except StopIteration:
                break
            except Exception as exc:  # raised below, in order
                error = exc
                break
            submit([record])
            buffer.append(record)
            if len(buffer) >= self.ahead:
                yield buffer.popleft()
        yield from buffer
        if error is not None:
            raise error

    def discard(self) -> None:
        """Drop every listing (queued ones never run, running ones stop at their next page
        or request) and wait for the workers: no request outlives the sync."""
        with self._lock:
            listings = self._live.union(*self._pending.values())
            self._live, self._pending = set(), {}
            pool, self._pool = self._pool, None
        for listing in listings:
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
        name: str,
        context: Mapping[str, Any] | None,
        fetch: Fetch,
        page_size: int,
        children: QueueChildren | None = None,
    ) -> bool:
        """Queue a fetch of ``name``'s listing for ``context``, whose pages hold ``page_size``
        records; ``children`` queues the child listings of each page from the worker. False
        if it cannot be queued."""
        key = context_key(name, context)
        fetching = _worker_listing()
        if key is None or (fetching is not None and fetching.cancelled):
            return False  # a worker of a dropped listing queues nothing more
        listing = Listing(name, page_size, self.budget, children=children, waited=self._waited)
        with self._lock:
            if self._pool is None:
                give_back_large_blocks()
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix=self._name)
            self._live.add(listing)
            self._pending.setdefault(key, deque()).append(listing)
            listing.future = self._pool.submit(self._fetch, listing, fetch, context)
        return True

    # --- worker threads -----------------------------------------------------------------------
    def _fetch(self, listing: Listing, fetch: Fetch, context: Any) -> None:
        _fetching.listing = listing
        try:
            listing.fill(fetch, context)
        finally:
            _fetching.listing = None
            with self._lock:
                self._live.discard(listing)


def _worker_listing() -> Listing | None:
    """The listing this worker thread fetches; None on any other thread."""
    listing: Listing | None = getattr(_fetching, "listing", None)
    return listing


def before_request() -> None:
    """In a worker, before it sends a request: wait while its pool holds all the memory it
    may (:meth:`Listing.wait_for_room`); stop if its listing was dropped."""
    listing = _worker_listing()
    if listing is not None:
        listing.wait_for_room()
        if listing.cancelled:
            raise FetchCancelled
