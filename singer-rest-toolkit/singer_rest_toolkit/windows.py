"""Incremental streams read in date windows, whose bookmark moves only when a window is done."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from typing_extensions import override

from singer_rest_toolkit.bookmarks import BadBookmarkError, bookmark_of
from singer_rest_toolkit.dates import iso_z, parse_instant, utc_now
from singer_rest_toolkit.scheduler import Plan
from singer_rest_toolkit.sdk_internals.state import WindowBookmarks
from singer_rest_toolkit.stream import RestStream

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


_TToken = TypeVar("_TToken")


def windows(start: datetime, end: datetime, size: timedelta) -> Iterator[tuple[datetime, datetime]]:
    """Consecutive half-open windows of ``size`` covering ``[start, end)``."""
    while start < end:
        stop = min(start + size, end)
        yield start, stop
        start = stop


class DateWindowStream(WindowBookmarks, RestStream[_TToken], abc.ABC):
    """A date-ranged listing read in windows from the bookmark (minus ``lookback_days``, for
    data changed after the fact) to now. Each window's records are written before the
    bookmark moves to its end (never past now): a run resumed from its last STATE loses
    nothing."""

    window_size: ClassVar[timedelta] = timedelta(days=7)
    window_params: ClassVar[tuple[str, str]] = ("start", "end")  # the query parameters
    align_to_days: ClassVar[bool] = False  # records per day: windows start at midnight UTC
    windows_ahead: ClassVar[int] = 1
    """Windows fetched while one is written: one hides most round trips; each holds up to two
    chunks of records, so more would cost memory on a large tenant."""
    is_sorted = True  # the bookmark only ever moves to a later completed window's end
    independent_requests = True

    def lookback(self) -> timedelta:
        """Re-read before the bookmark on every run (``lookback_days``)."""
        return timedelta(days=self.settings.lookback_days)

    def first_run_history(self) -> timedelta:
        """How far back a first run reads without a start_date."""
        return self.lookback()

    def lookahead(self) -> timedelta:
        """How far past now the last window reaches (records dated in the future)."""
        return timedelta(0)

    def window_filters(self, start: datetime, end: datetime) -> dict[str, Any]:
        """The query parameters of the window ``[start, end)``."""
        start_param, end_param = self.window_params
        return {start_param: iso_z(start), end_param: iso_z(end)}

    def in_window(self, record: dict[str, Any], start: datetime, end: datetime) -> bool:
        """True to keep a record the API returned for ``[start, end)``."""
        return True

    def sync_range(
        self, context: Context | None, now: datetime
    ) -> tuple[datetime, datetime, datetime | None]:
        """(start, end, bookmark) of this run: from the bookmark minus the lookback, or
        start_date, to now (plus the lookahead) or end_date, whichever is first."""
        start_date = self.settings.start_date
        bookmark = bookmark_of(self, context, now)
        if bookmark is not None:
            start = bookmark - self.lookback()
        else:
            start = now - self.first_run_history() if start_date is None else start_date
        if start_date is not None:
            start = max(start, start_date)
        if self.align_to_days:
            start = datetime.combine(start.date(), time(), tzinfo=UTC)
        start = _millis(start)
        end = now + self.lookahead()
        until = self.settings.end_date
        return start, end if until is None else min(end, until), bookmark

    @override
    def query_filters(self, context: Context | None) -> dict[str, Any]:
        """The window (from the request context) in the endpoint's parameters."""
        if not context or "window_start" not in context:
            msg = f"{self.name}: a date-ranged request needs a window"
            raise ValueError(msg)
        start = parse_instant(context["window_start"])
        return self.window_filters(start, parse_instant(context["window_end"]))

    @override
    def plan_windows(self, plan: Plan) -> Plan | None:
        """The windows of this stream's sync, to fetch before it begins (no state changes)."""
        now = _millis(utc_now())
        try:
            start, end, _ = self.sync_range(None, now)
        except BadBookmarkError:
            return None  # raised again in the stream's own turn
        contexts = tuple(self._window_contexts(None, list(windows(start, end, self.window_size))))
        return Plan(plan.starting_value, self.request_records, now=now, windows=contexts)

    @override
    def fetch_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Each window's records, then its end (never past now) as the bookmark; the next
        windows are fetched while one is written (scheduler.py)."""
        ahead = self.scheduler.plan(self) if not context else None
        now = ahead.now if ahead is not None and ahead.now is not None else _millis(utc_now())
        start, end, saved = self.sync_range(context, now)
        if saved is not None and saved >= now:
            # A bookmark from the future, read as now: the windows' ends replace it.
            self.get_context_state(context).pop("replication_key_value", None)
            saved = None
        plan = list(windows(start, end, self.window_size))
        listings = self.scheduler.windows(
            self,
            self._window_contexts(context, plan),
            self.request_records,
            ahead=self.windows_ahead,
        )
        keeps_all = type(self).in_window is DateWindowStream.in_window
        key = self.replication_key
        assert key is not None
        for (window_start, window_end), records in zip(plan, listings, strict=True):
            if keeps_all:
                yield from records  # every record kept: no call per record
            else:
                yield from (r for r in records if self.in_window(r, window_start, window_end))
            done = min(window_end, now)
            if saved is None or done > saved:  # the bookmark moves, and STATE says so at once
                state = {key: done.isoformat()}
                self.state_manager.increment_state(state, context=context, replication_key=key)
                self.finalize_state_progress_markers(self.get_context_state(context))
                saved = done

    def _window_contexts(
        self, context: Context | None, plan: list[tuple[datetime, datetime]]
    ) -> list[dict[str, Any]]:
        """The request context of each window of ``plan``."""
        return [
            {**(context or {}), "window_start": iso_z(start), "window_end": iso_z(end)}
            for start, end in plan
        ]


def _millis(instant: datetime) -> datetime:
    """``instant`` to the APIs' precision: a window's bounds are exactly what its parameters say."""
    return instant.replace(microsecond=instant.microsecond // 1000 * 1000)
