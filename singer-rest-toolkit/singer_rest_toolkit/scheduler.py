"""What a sync fetches ahead, and when: the one owner of the worker pools and their listings.

A tap has one :class:`Scheduler`, entered once around the SDK's ``sync_all`` and closed on
every exit path (no request outlives the sync). Streams ask it for their listings
(:meth:`Scheduler.listing`, :meth:`Scheduler.windows`); it hides round trips three ways,
each through a pool of prefetch.py:

- child listings: while the main thread walks a parent's records, the pool of each child's
  API family fetches the listings of the next parents;
- date windows: the next windows of a top-level stream are fetched while one is written;
- next streams: as the first top-level stream begins, the listings of the others are fetched
  by a pool of their own (``streams_ahead`` workers), beyond a memory budget onto disk.

What does not change: records and STATE are written by the main thread in the order of a
sequential run, and an error is raised where a sequential run meets it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol

from singer_rest_toolkit.pacing import MAIN_API
from singer_rest_toolkit.prefetch import Listing, Prefetcher, Record, RecordsOnly
from singer_rest_toolkit.progress import FETCH_AHEAD, SyncProgress

STREAMS_AHEAD_RECORDS = 4_000
"""Records the streams fetched ahead may hold in memory, all together (the rest on disk)."""


class Listed(Protocol):
    """What the scheduler needs of a stream whose listings it fetches."""

    name: str
    api_family: ClassVar[str]
    independent_requests: ClassVar[bool]

    @property
    def page_size_now(self) -> int:
        """The page size the stream asks for now."""

    def fetch_records(self, context: Any) -> Iterable[Record]:
        """The listing's records from the API."""

    def children_to_sync(self) -> list[Any]:
        """The child streams synced for each record (each one :class:`Listed` too)."""

    def generate_child_contexts(self, record: Record, context: Any) -> Iterable[Any]:
        """The contexts of the child listings of ``record``."""

    def plan_ahead(self) -> Plan | None:
        """What to fetch before the stream's sync begins; None when nothing can be."""

    def plan_windows(self, plan: Plan) -> Plan | None:
        """``plan`` with the date windows to fetch (the stream reads ``plan`` meanwhile)."""


@dataclass(frozen=True)
class Plan:
    """A listing planned before its stream's sync began, which that sync then reads."""

    starting_value: Any
    """The starting replication value the SDK will write (worked out now, on a copy)."""
    fetch: Callable[[Any], Iterable[Record]]
    """Fetches the listing (or, with :attr:`windows`, one window)."""
    now: datetime | None = None
    """For date windows: the instant the windows end at."""
    windows: tuple[dict[str, Any], ...] = ()
    """For date windows: the request context of each window fetched ahead."""


class Scheduler:
    """The worker pools of a tap (one per API family, one for the next streams) and every
    listing they fetch ahead, from a sync's start to its end."""

    def __init__(
        self,
        name: str,
        *,
        workers: Mapping[str, int],
        streams_ahead: int,
        progress: SyncProgress,
        top_level: Callable[[], Sequence[Listed]],
    ) -> None:
        def waited(seconds: float) -> None:
            progress.waited(FETCH_AHEAD, seconds)

        self._pools = {
            family: Prefetcher(workers=n, name=f"{name}-{family}-fetch", waited=waited)
            if n > 1
            else None
            for family, n in workers.items()
        }
        main = self._pools[MAIN_API]
        self._ahead = (
            Prefetcher(
                workers=min(streams_ahead, main.workers),
                name=f"{name}-streams-ahead",
                buffered=STREAMS_AHEAD_RECORDS,
                spill=True,
                waited=waited,
            )
            if main is not None and streams_ahead >= 1
            else None
        )
        self._top_level = top_level
        self._plans: dict[str, Plan] = {}

    def __enter__(self) -> Scheduler:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop every listing fetched ahead and wait for the workers (Prefetcher.discard)."""
        for pool in (*self._pools.values(), self._ahead):
            if pool is not None:
                pool.discard()
        self._plans.clear()

    def pool(self, family: str) -> Prefetcher | None:
        """The pool of ``family``'s listings; None when it fetches one request at a time."""
        return self._pools[family]

    def plan(self, stream: Listed) -> Plan | None:
        """What was planned for ``stream``'s listing before its sync began (one context)."""
        return self._plans.get(stream.name)

    # --- listings -----------------------------------------------------------------------------
    def listing(self, stream: Listed, context: Any, *, top_level: bool) -> Iterator[Record]:
        """The records of ``stream``'s listing for ``context``, fetched ahead when they were.

        A child listing comes from the pool of its own API family; a parent reads ahead as
        far as the largest pool of its children's families needs. A top-level stream first
        keeps the next streams of the sync fetching.
        """
        children = stream.children_to_sync()
        pools = [pool for pool in {self.pool(c.api_family) for c in children} if pool is not None]
        try:
            if top_level:
                self._fetch_streams_ahead(stream)
                listing = self._take_ahead(stream.name)
            else:
                own = self.pool(stream.api_family)
                listing = own.take(stream.name, context) if own is not None else None
            if listing is not None and (listing.children_queued or not pools):
                yield from listing.records()
                return
            records = listing.records() if listing is not None else stream.fetch_records(context)
            if not pools:
                yield from records
                return
            reader = max(pools, key=lambda pool: pool.ahead)
            yield from reader.read_ahead(
                records, lambda batch: self.submit_children(stream, batch, context)
            )
        finally:
            if top_level:
                self._end_tree(stream)

    def submit_children(self, stream: Listed, records: list[Record], context: Any) -> bool:
        """Queue the child listings of ``records`` in their pools; False if there are none.

        Contexts are computed as the SDK will compute them; a record whose context cannot be
        computed is skipped here: the SDK meets the same error when it reaches the record.
        """
        pools = [(child, self.pool(child.api_family)) for child in stream.children_to_sync()]
        children = [(child, pool) for child, pool in pools if pool is not None]
        if not children:
            return False
        for record in records:
            try:
                contexts = list(stream.generate_child_contexts(record, context))
            except Exception:  # noqa: S112 - see the docstring
                continue
            for child_context in contexts:
                if child_context is not None:
                    for child, pool in children:
                        pool.submit(_Child(child, self), child_context, child.page_size_now)
        return True

    def windows(
        self,
        stream: Listed,
        contexts: list[dict[str, Any]],
        fetch: Callable[[dict[str, Any]], Iterable[Record]],
        *,
        ahead: int,
        inline: bool,
        planned: bool,
    ) -> Iterator[Iterable[Record]]:
        """Each window's records, in order. The windows are independent listings: with
        workers to spare, the next ``ahead`` are fetched while one is written, so a run waits
        for the API once per worker, not per window. Windows a worker began before the sync
        did are read from there (``planned``: the sync the plan was made for). ``inline``: fetch
        each in its turn (a child stream, or a worker thread: a worker waiting for other
        workers could wait for ever)."""
        windows = RecordsOnly(windows_of(stream.name), fetch)
        plan = self._plans.get(stream.name)
        count = len(plan.windows) if plan is not None and planned else 0
        fetched = {
            index: listing
            for index in range(min(count, len(contexts)))
            if (listing := self._take_ahead(windows.name, contexts[index]))
        }
        pool = self.pool(stream.api_family)
        if pool is None or len(contexts) < 2 or inline:
            pool = None
        submitted, finished = 0, False
        try:
            for index, window in enumerate(contexts):
                while pool is not None and submitted < min(index + 1 + ahead, len(contexts)):
                    if submitted not in fetched:
                        pool.submit(windows, contexts[submitted], stream.page_size_now)
                    submitted += 1
                listing = fetched.pop(index, None)
                if listing is None and pool is not None:
                    listing = pool.take(windows.name, window)
                yield listing.records() if listing is not None else fetch(window)
            finished = True
        finally:
            for listing in fetched.values():
                listing.cancel()  # windows after one that failed
            if not finished and pool is not None:
                pool.discard()  # the windows fetched ahead of one that failed

    # --- the next streams of the sync ---------------------------------------------------------
    def _fetch_streams_ahead(self, current: Listed) -> None:
        """As the first top-level stream of a sync begins, queue the listings of the others:
        chains of round trips (cursor pages) first, so that they start at once; the
        independent requests of date windows fill the workers in between."""
        pool = self._ahead
        if pool is None:
            return
        synced = self._top_level()
        if not synced or current is not synced[0]:
            return
        self._plans.clear()  # what an earlier, failed sync worked out
        for stream in sorted(synced[1:], key=lambda stream: stream.independent_requests):
            plan = stream.plan_ahead()
            if plan is None:
                continue
            self._plans[stream.name] = plan  # the stream's bookmark is read from here on
            plan = stream.plan_windows(plan)
            if plan is None:
                del self._plans[stream.name]
                continue
            self._plans[stream.name] = plan
            if plan.windows:
                windows = RecordsOnly(windows_of(stream.name), plan.fetch)
                for window in plan.windows:
                    pool.submit(windows, window, stream.page_size_now)
            else:
                pool.submit(RecordsOnly(stream.name, plan.fetch), None, stream.page_size_now)

    def _take_ahead(self, name: str, context: Mapping[str, Any] | None = None) -> Listing | None:
        """The listing of ``name`` a worker of the next-streams pool has started, or None
        (none was queued, or no worker began it yet: it is fetched in its turn)."""
        pool = self._ahead
        return pool.take(name, context, started_only=True) if pool is not None else None

    def _end_tree(self, stream: Listed) -> None:
        """The top-level ``stream`` is done: drop what was fetched for it and its children
        and nobody read (a parent a stream map filtered out, a failed listing)."""
        for pool in self._pools.values():
            if pool is not None:
                pool.discard()
        if self._ahead is not None:
            self._ahead.drop((stream.name, windows_of(stream.name)))
        self._plans.pop(stream.name, None)


class _Child:
    """A child listing as a pool fetches it: its records, and the listings of its own
    children queued from the worker as its pages arrive."""

    def __init__(self, stream: Listed, scheduler: Scheduler) -> None:
        self.name = stream.name
        self._stream = stream
        self._scheduler = scheduler

    def fetch_records(self, context: Any) -> Iterable[Record]:
        return self._stream.fetch_records(context)

    def submit_children(self, records: list[Record], context: Any) -> bool:
        return self._scheduler.submit_children(self._stream, records, context)

    def has_children_to_sync(self) -> bool:
        return bool(self._stream.children_to_sync())


def windows_of(name: str) -> str:
    """The name the windows of stream ``name`` are fetched under."""
    return f"{name} windows"


def on_main_thread() -> bool:
    """True on the thread that writes the records."""
    return threading.current_thread() is threading.main_thread()
