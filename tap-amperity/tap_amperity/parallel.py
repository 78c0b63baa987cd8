"""Per-parent listings fetched ahead on a bounded worker pool, handed over in parent order.

The SDK syncs a child stream once per parent record, inline, so a sequential run waits for
every response in turn. Here the parent reads a few records ahead and submits each one's
child listing to a pool of ``max_parallel_requests`` threads; the child stream, synced by the
SDK on the main thread as before, takes the records of its listing from a bounded queue. So
records and STATE are still written by the main thread, in exactly the order of a
sequential run, and an error of listing ``n`` is raised after the records before it, as a
sequential run would. Every request still waits for the tap's one pace (tap_amperity.pacing).
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Final, TypeVar

Record = dict[str, Any]
T = TypeVar("T")

_DONE: Final = object()
BUFFERED_RECORDS = 2_000
"""Records one listing may hold ahead of the main thread: memory stays within
``max_parallel_requests`` x this, while a worker can still read far ahead (its pages are
only written once the listings before it are done)."""
_PUT_POLL_S = 0.05
"""How often a worker blocked on a full queue checks whether its listing was cancelled."""


class _Failure:
    """An exception raised by a worker, to be raised again on the main thread."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class Listing:
    """One child listing: a worker fills a bounded queue with pages, the main thread reads it."""

    def __init__(self, context: Mapping[str, Any] | None, buffer_pages: int) -> None:
        self.context = dict(context) if context is not None else None
        self._pages: queue.Queue[object] = queue.Queue(maxsize=buffer_pages)
        self._cancelled = threading.Event()
        self.future: Future[None] | None = None

    def fill(
        self, fetch: Callable[[dict[str, Any] | None], Iterable[Record]], page_size: int
    ) -> None:
        """Worker side: fetch the listing and queue it a page at a time."""
        if self._cancelled.is_set():
            return
        try:
            page: list[Record] = []
            for record in fetch(self.context):
                page.append(record)
                # A page's records are yielded together, so a full chunk is a whole page:
                # handing it over before the next request keeps the consumer busy meanwhile.
                if len(page) >= page_size:
                    if not self._put(page):
                        return
                    page = []
            if page and not self._put(page):
                return
            self._put(_DONE)
        except BaseException as exc:  # raised again, in order, by records()
            self._put(_Failure(exc))

    def _put(self, item: object) -> bool:
        """Queue ``item`` unless the listing is cancelled meanwhile (the reader is gone).

        Also gives up once the main thread has ended: an error that skipped every cleanup
        must not leave the interpreter waiting at exit for a worker no one will read.
        """
        main = threading.main_thread()
        while not self._cancelled.is_set() and main.is_alive():
            try:
                self._pages.put(item, timeout=_PUT_POLL_S)
            except queue.Full:
                continue
            return True
        return False

    def records(self) -> Iterator[Record]:
        """Main thread: the listing's records in order, then its error if it failed."""
        while True:
            item = self._pages.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield from item  # type: ignore[misc]

    def cancel(self) -> None:
        """Stop the worker (at its next page) and drop what it queued."""
        self._cancelled.set()
        if self.future is not None:
            self.future.cancel()


class Prefetcher:
    """The pool of one parent's sync and its listings, in the order they were submitted."""

    def __init__(
        self,
        fetch: Callable[[dict[str, Any] | None], Iterable[Record]],
        *,
        workers: int,
        page_size: int,
        name: str,
    ) -> None:
        self._fetch = fetch
        self._page_size = max(1, page_size)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._listings: deque[Listing] = deque()
        self._current: Listing | None = None
        self.ahead = 2 * workers
        """Parent records read ahead: enough that a free worker always finds a listing."""

    def submit(self, context: Mapping[str, Any] | None) -> None:
        """Start fetching the listing of ``context`` when a worker is free."""
        listing = Listing(context, buffer_pages=max(2, BUFFERED_RECORDS // self._page_size))
        listing.future = self._pool.submit(listing.fill, self._fetch, self._page_size)
        self._listings.append(listing)

    def take(self, context: Mapping[str, Any] | None) -> Listing | None:
        """The listing submitted for ``context``, or None if there is none (fetch inline).

        Listings submitted before it were skipped (e.g. a stream map filtered their parent
        record out): they are cancelled, freeing their workers.
        """
        if self._current is not None:  # the main thread has moved on (done, or aborted by the SDK)
            self._current.cancel()
            self._current = None
        wanted = dict(context) if context is not None else None
        if not any(listing.context == wanted for listing in self._listings):
            return None
        while True:
            listing = self._listings.popleft()
            if listing.context == wanted:
                self._current = listing
                return listing
            listing.cancel()

    def close(self) -> None:
        """Cancel what was not read and wait for the workers (no request outlives the sync)."""
        if self._current is not None:
            self._current.cancel()
        while self._listings:
            self._listings.popleft().cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)


def read_ahead(items: Iterable[T], count: int, on_read: Callable[[T], None]) -> Iterator[T]:
    """``items`` unchanged, read ``count`` ahead, calling ``on_read`` on each as it is read.

    An error while reading ahead is raised only after the items read before it are yielded,
    where a plain loop would have raised it.
    """
    iterator = iter(items)
    buffer: deque[T] = deque()
    failure: Exception | None = None
    exhausted = False
    while True:
        while not exhausted and len(buffer) <= count:
            try:
                item = next(iterator)
            except StopIteration:
                exhausted = True
            except Exception as exc:  # raised below, after the items before it
                failure = exc
                exhausted = True
            else:
                on_read(item)
                buffer.append(item)
        if not buffer:
            break
        yield buffer.popleft()
    if failure is not None:
        raise failure
