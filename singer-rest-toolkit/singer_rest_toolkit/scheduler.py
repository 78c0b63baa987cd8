"""What a sync fetches ahead, and when: the one owner of the worker pools and their listings.

A tap has one :class:`Scheduler`, entered once around the SDK's ``sync_all`` and closed on
every exit path (no request outlives the sync). Streams ask it for their listings; it hides
round trips three ways, each through a pool of prefetch.py:

- child listings: while the main thread walks a parent's records, the pool of each child's
  API family fetches the listings of the next parents;
- date windows: the next windows of a top-level stream are fetched while one is written;
- next streams: as the first top-level stream begins, the listings of the others are fetched
  by a pool of their own (``streams_ahead`` workers), onto disk.

Records and STATE are still written by the main thread in the order of a sequential run, and
an error is raised where a sequential run meets it.
"""

from __future__ import annotations

import abc
import logging
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk.exceptions import FatalAPIError
from singer_sdk.singerlib.catalog import REPLICATION_INCREMENTAL
from typing_extensions import override

from singer_rest_toolkit.dates import parse_instant, utc_now
from singer_rest_toolkit.exchange import ONE_LINE_ERRORS, UnavailableStreamError
from singer_rest_toolkit.pacing import MAIN_API
from singer_rest_toolkit.prefetch import Fetch, Listing, Prefetcher, Record
from singer_rest_toolkit.progress import FETCH_AHEAD, SyncProgress
from singer_rest_toolkit.sdk_internals.record_loop import FastRecordMessages
from singer_rest_toolkit.sdk_internals.state import starting_replication_value

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from singer_rest_toolkit.pagination import PageSize
    from singer_rest_toolkit.settings import Settings


@dataclass(frozen=True)
class Plan:
    """A listing planned before its stream's sync began, which that sync then reads."""

    starting_value: Any
    """The starting replication value the SDK will write (worked out now, on a copy)."""
    fetch: Fetch
    """Fetches the listing (or, with :attr:`now`, one window)."""
    now: datetime | None = None
    """For date windows: the instant the windows end at."""
    windows: tuple[dict[str, Any], ...] = ()
    """For date windows: the request context of each window."""


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
        top_level: Callable[[], Sequence[ScheduledStream]],
    ) -> None:
        waited = partial(progress.waited, FETCH_AHEAD)
        self._pools = {
            family: Prefetcher(workers=n, name=f"{name}-{family}-fetch", waited=waited)
            if n > 1
            else None
            for family, n in workers.items()
        }
        main = self._pools[MAIN_API]
        self._ahead: Prefetcher | None = None
        if main is not None and streams_ahead >= 1:
            ahead = min(streams_ahead, main.workers)
            self._ahead = Prefetcher(workers=ahead, name=f"{name}-streams-ahead", waited=waited)
        self._top_level = top_level
        self._plans: dict[str, Plan] = {}

    def __enter__(self) -> Scheduler:
        return self

    def __exit__(self, *_: object) -> None:
        """Drop every listing fetched ahead and wait for the workers."""
        for pool in (*self._pools.values(), self._ahead):
            if pool is not None:
                pool.discard()
        self._plans.clear()

    def pool(self, family: str) -> Prefetcher | None:
        """The pool of ``family``'s listings; None when it fetches one request at a time."""
        return self._pools[family]

    def plan(self, stream: ScheduledStream) -> Plan | None:
        """What was planned for ``stream``'s listing before its sync began (one context)."""
        return self._plans.get(stream.name)

    def listing(self, stream: ScheduledStream, context: Any) -> Iterator[Record]:
        """The records of ``stream``'s listing for ``context``, fetched ahead when they were.

        A child listing comes from the pool of its own API family; a parent reads ahead as
        far as the largest pool of its children's families needs. A top-level stream first
        keeps the next streams of the sync fetching.
        """
        top_level = stream.parent_stream_type is None
        children = stream.children_to_sync()
        pools = [pool for pool in {self.pool(c.api_family) for c in children} if pool is not None]
        try:
            if top_level:
                self._fetch_streams_ahead(stream)
                listing = self._take_ahead(stream.name)
            else:
                own = self.pool(stream.api_family)
                listing = own.take(stream.name, context) if own is not None else None
            records = listing.records() if listing is not None else stream.fetch_records(context)
            if pools and (listing is None or listing.children is None):
                submit = partial(self.submit_children, stream, context=context)
                records = max(pools, key=lambda pool: pool.ahead).read_ahead(records, submit)
            yield from records
        finally:
            if top_level:
                self._end_tree(stream)

    def submit_children(self, stream: ScheduledStream, records: list[Record], context: Any) -> None:
        """Queue the child listings of ``records`` in their pools (a worker queues those of
        the pages it fetches, too).

        Contexts are computed as the SDK will compute them; a record whose context cannot be
        computed is skipped here: the SDK meets the same error when it reaches the record.
        """
        children = [
            (child, pool, partial(self.submit_children, child) if child.syncs_children() else None)
            for child in stream.children_to_sync()
            if (pool := self.pool(child.api_family)) is not None
        ]
        if not children:
            return
        for record in records:
            try:
                contexts = list(stream.generate_child_contexts(record, context))
            except Exception:  # noqa: S112 - see the docstring
                continue
            for child_context in contexts:
                for child, pool, grandchildren in children if child_context is not None else ():
                    fetch, page_size = child.fetch_records, child.page_size.current
                    pool.submit(child.name, child_context, fetch, page_size, grandchildren)

    def windows(
        self, stream: ScheduledStream, contexts: list[dict[str, Any]], fetch: Fetch, *, ahead: int
    ) -> Iterator[Iterable[Record]]:
        """Each window's records, in order. The windows are independent listings: with
        workers to spare, the next ``ahead`` are fetched while one is written, so a run waits
        for the API once per worker, not per window. Windows a worker of the next streams
        began before the sync did are read from there. A child stream, or a worker thread,
        fetches each in its turn: a worker waiting for other workers could wait for ever."""
        name = windows_of(stream.name)
        fetched = {
            index: listing
            for index, window in enumerate(contexts)
            if (listing := self._take_ahead(name, window))
        }
        on_main_thread = threading.current_thread() is threading.main_thread()
        alone = stream.parent_stream_type is not None or not on_main_thread or len(contexts) < 2
        pool = None if alone else self.pool(stream.api_family)
        submitted = 0
        try:
            for index, window in enumerate(contexts):
                while pool is not None and submitted < min(index + 1 + ahead, len(contexts)):
                    if submitted not in fetched:
                        pool.submit(name, contexts[submitted], fetch, stream.page_size.current)
                    submitted += 1
                listing = fetched.pop(index, None)
                if listing is None and pool is not None:
                    listing = pool.take(name, window)
                yield listing.records() if listing is not None else fetch(window)
        finally:  # after a window that failed; the pool's windows are dropped with the tree
            for listing in fetched.values():
                listing.cancel()

    # --- the next streams of the sync ---------------------------------------------------------
    def _fetch_streams_ahead(self, current: ScheduledStream) -> None:
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
            page_size = stream.page_size.current
            if plan.now is None:
                pool.submit(stream.name, None, plan.fetch, page_size)
            for window in plan.windows:
                pool.submit(windows_of(stream.name), window, plan.fetch, page_size)

    def _take_ahead(self, name: str, context: Mapping[str, Any] | None = None) -> Listing | None:
        """The listing of ``name`` a worker of the next-streams pool has started, or None
        (none was queued, or no worker began it yet: it is fetched in its turn)."""
        pool = self._ahead
        return pool.take(name, context, started_only=True) if pool is not None else None

    def _end_tree(self, stream: ScheduledStream) -> None:
        """The top-level ``stream`` is done: drop what was fetched for it and its children
        and nobody read (a parent a stream map filtered out, a failed listing)."""
        for pool in self._pools.values():
            if pool is not None:
                pool.discard()
        if self._ahead is not None:
            self._ahead.drop((stream.name, windows_of(stream.name)))
        self._plans.pop(stream.name, None)


class ScheduledStream(FastRecordMessages, abc.ABC):
    """A stream whose listings come from its tap's :class:`Scheduler`, and what of it can be
    fetched before its turn; one this account cannot read is skipped in its turn."""

    api_family: ClassVar[str] = MAIN_API
    """The API family of the endpoint: its pace and worker pool (``RestTap.api_families``)."""
    independent_requests: ClassVar[bool] = False
    """True when the listing's requests do not wait for each other (date windows), False
    for a chain of pages, each asked for with the cursor of the one before."""
    page_size: PageSize
    unavailable: str | None = None
    """The error line of a stream skipped as unavailable (see :meth:`get_records`)."""
    _delivered = False
    """True once a listing of this stream was read, in the order of a sequential run: a
    later 403/404 is an error, not a stream this account cannot read."""
    _children_to_sync: list[ScheduledStream] | None = None
    """Set by each :meth:`get_records` call; None until then (ask the SDK)."""

    @override
    def log(self, message: str, *args: Any, level: int = logging.INFO, **kwargs: Any) -> None:
        """The SDK's "An unhandled error occurred while syncing" line is left out for an
        error the CLI reports in its own one line."""
        if level >= logging.ERROR and isinstance(sys.exc_info()[1], ONE_LINE_ERRORS):
            return
        super().log(message, *args, level=level, **kwargs)

    @property
    @abc.abstractmethod
    def settings(self) -> Settings:
        """The tap's typed settings."""

    @property
    @abc.abstractmethod
    def scheduler(self) -> Scheduler:
        """The tap's scheduler."""

    def children_to_sync(self) -> list[ScheduledStream]:
        """Child streams the SDK will sync for each record of this stream."""
        return [
            child
            for child in self.child_streams
            if isinstance(child, ScheduledStream)
            and child.unavailable is None
            and (child.selected or child.has_selected_descendents)
        ]

    @override
    def syncs_children(self) -> bool:
        """:meth:`generate_child_contexts` yields nothing when no child stream syncs."""
        return bool(self.children_to_sync())

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """The listing's records, from the scheduler (fetched ahead when they were); none
        for a stream this account cannot read (its endpoint answered 403/404 to the first
        request), which is reported when the sync ends."""
        if self.unavailable is not None:
            return
        self._children_to_sync = self.children_to_sync()
        records = self.scheduler.listing(self, context)
        try:
            for record in records:
                self._delivered = True
                yield record
                yield from records  # the rest without a step of this loop each
        except UnavailableStreamError as exc:
            if self._delivered:  # the endpoint answered before: not an unavailable stream
                raise FatalAPIError(str(exc)) from None
            if not self.settings.skip_unavailable_streams:
                raise
            self.unavailable = str(exc)
            self.logger.error("%s; skipping the stream, the others go on", exc)
        else:
            self._delivered = True

    def plan_ahead(self) -> Plan | None:
        """The listing to fetch before the stream's sync begins: only one whose fetch changes
        no state (one context, a known starting value not later than now)."""
        if self.partitions is not None:
            return None
        if self.replication_method != REPLICATION_INCREMENTAL:
            return Plan(None, self.fetch_records)
        try:
            value = starting_replication_value(self)
            if value and parse_instant(str(value)) > utc_now():
                return None  # a bookmark from the future: warned about in the stream's turn
        except Exception:  # raised again in the stream's own turn
            return None
        return Plan(value, self.fetch_records)

    def plan_windows(self, plan: Plan) -> Plan | None:
        """No windows: the listing is fetched whole."""
        return plan

    @override
    def get_starting_replication_key_value(self, context: Context | None) -> Any | None:
        """The value worked out before a fetch ahead (the SDK writes the same at the sync's
        start), else the SDK's."""
        plan = self.scheduler.plan(self)
        if plan is not None and not context:
            return plan.starting_value
        return super().get_starting_replication_key_value(context)

    @abc.abstractmethod
    def fetch_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """The listing's records from the API (a date-windowed stream reads its windows)."""

    @override
    def generate_child_contexts(
        self, record: dict[str, Any], context: Context | None
    ) -> Iterable[Context | None]:
        """No context when no child stream syncs: the SDK would otherwise copy the record's
        context and ask every child whether it is selected, for every record."""
        if self._children_to_sync is None or self._children_to_sync:
            yield from super().generate_child_contexts(record, context)


def windows_of(name: str) -> str:
    """The name the windows of stream ``name`` are fetched under."""
    return f"{name} windows"
