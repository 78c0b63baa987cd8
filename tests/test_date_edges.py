"""Each tap's incremental streams at the edges of the calendar, one suite over the three.

- A bookmark later than now (clock skew, a hand-edited or foreign state) must not skip
  data silently: one WARNING line naming the stream and saying "later than now", then the
  run reads as if the bookmark were now (minus the stream's lookback).
- A bookmark that is not a date-time ends the run through the CLI with one line naming
  the stream, saying "not a date-time" and quoting the value; non-zero, no traceback.
- Windows of any size from any start date, bookmark and lookback, across month ends,
  29 February and clock changes, lose and duplicate nothing (a hypothesis property).

What differs per tap (its streams, how far each re-reads, what the sandbox holds in a
range) is in :class:`Calendar`; expectations come from each sandbox's data model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from agyletime import agyletime_support as agyletime
from amilia import amilia_support as amilia
from amperity import amperity_support as amperity
from api_sandbox.testing import SandboxProcess, shared_sandbox
from calendar_support import (
    LATER_THAN_NOW,
    assert_fails_with_one_line_naming,
    bookmarks_at,
    instants,
    midnight,
    run_tap_cli,
    state_with,
    utc_today,
    warnings_naming,
)
from tap_agyletime.streams import AgentMetricsStream, PublishedShiftsStream, TasksStream
from tap_amilia.client import AmiliaDateWindowStream
from tap_amilia.streams import STREAM_TYPES as AMILIA_STREAM_TYPES
from tap_amilia.streams import EventsStream, RegistrationsStream
from tap_amperity.streams import AuditEventsStream, IngestJobsStream, WorkflowRunsStream

ANCHOR = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
"""The property tests draw instants up to this one, fixed when the module is imported (the
strategies must not change between examples; every drawn instant is in the past)."""
Keys = set[Any]


@dataclass(frozen=True)
class Calendar:
    """One tap as this suite sees it."""

    tap: str
    vendor: str
    streams: dict[str, Any]
    """The incremental streams, by name."""
    support: Any
    """The tap's test helpers: sandbox_config, run_sync, keys_of, expected_keys."""
    lookback_setting: str
    reread: Callable[[str, int], timedelta]
    """How far before its bookmark a stream's run starts, for a lookback setting of n days."""
    expected: Callable[[str, datetime], Keys]
    """The keys the sandbox holds for a stream from an instant to the end of what a run reads."""
    window_streams: tuple[str, ...]
    """The streams of the property test, and the classes whose window size it varies."""
    windowed: tuple[type, ...]
    history_days: int
    max_window_days: int

    def replication_key(self, stream: str) -> str:
        key = self.streams[stream].replication_key
        assert key, stream
        return str(key)


# --- tap-amilia: day windows; events and reservations read lookahead_days past today -------
AMILIA_READS_AHEAD = ("events", "reservations")


def amilia_last_day_read(stream: str) -> datetime:
    """The last day a run reads: today, or LOOKAHEAD_DAYS later for the schedule."""
    ahead = amilia.LOOKAHEAD_DAYS if stream in AMILIA_READS_AHEAD else 0
    return datetime.combine(amilia.utc_today() + timedelta(days=ahead), datetime.min.time(), UTC)


AMILIA = Calendar(
    tap="tap-amilia",
    vendor="amilia",
    streams={s.name: s for s in AMILIA_STREAM_TYPES if issubclass(s, AmiliaDateWindowStream)},
    support=amilia,
    lookback_setting="lookback_days",
    reread=lambda stream, days: timedelta(days=days),
    expected=lambda stream, first: amilia.expected_keys(
        stream, first.date(), amilia_last_day_read(stream).date()
    ),
    window_streams=("events", "registrations"),
    windowed=(EventsStream, RegistrationsStream),
    history_days=75,
    max_window_days=45,
)


# --- tap-amperity: ingest_jobs re-reads a day, workflow_runs workflow_lookback_days --------
def amperity_reread(stream: str, workflow_lookback_days: int) -> timedelta:
    if stream == "ingest_jobs":
        return timedelta(days=1)  # jobs still running
    if stream == "workflow_runs":
        return timedelta(days=workflow_lookback_days)
    return timedelta(0)


AMPERITY = Calendar(
    tap="tap-amperity",
    vendor="amperity",
    streams={
        "audit_events": AuditEventsStream,
        "ingest_jobs": IngestJobsStream,
        "workflow_runs": WorkflowRunsStream,
    },
    support=amperity,
    lookback_setting="workflow_lookback_days",
    reread=amperity_reread,
    expected=amperity.expected_keys,
    window_streams=("audit_events", "ingest_jobs", "workflow_runs"),
    windowed=(IngestJobsStream,),
    history_days=50,
    max_window_days=7,  # the API allows 7 at most
)


# --- tap-agyletime: metrics are per day, read from midnight UTC of their first day ----------
def agyletime_first_read(stream: str, start: datetime) -> datetime:
    return midnight(start.date()) if stream == "agent_metrics" else start


AGYLETIME = Calendar(
    tap="tap-agyletime",
    vendor="agyletime",
    streams={
        "tasks": TasksStream,
        "published_shifts": PublishedShiftsStream,
        "agent_metrics": AgentMetricsStream,
    },
    support=agyletime,
    lookback_setting="lookback_days",
    reread=lambda stream, days: timedelta(days=days),
    expected=lambda stream, first: agyletime.expected_keys(
        stream, agyletime_first_read(stream, first)
    ),
    window_streams=("tasks", "agent_metrics"),
    windowed=(TasksStream, AgentMetricsStream),
    history_days=60,
    max_window_days=30,
)

CALENDARS = {calendar.tap: calendar for calendar in (AMILIA, AMPERITY, AGYLETIME)}
CASES = [
    (tap, stream) for tap, calendar in CALENDARS.items() for stream in sorted(calendar.streams)
]


@pytest.fixture
def sandbox() -> Iterator[SandboxProcess]:
    """This worker's sandbox (the three taps' tests share one scale and seed), reset."""
    assert amilia.SCALE == amperity.SCALE == agyletime.SCALE
    server = shared_sandbox(scale=amilia.SCALE, seed=amilia.SEED)
    server.reset()
    server.configure(rate_limits={"amperity": 0}, token_ttl_s={"amperity": 3600})
    yield server
    server.reset()
    server.configure(
        latency_ms=0,
        rate_limits={"amilia": 100, "amperity": 0, "agyletime": 0},
        token_ttl_s={"amilia": 31536000, "amperity": 3600, "agyletime": 3600},
    )


def shortest_lookback(calendar: Calendar, stream: str) -> int:
    """The shortest lookback setting with records to read before now, from the model."""
    now = datetime.now(UTC)
    if calendar is AMILIA:
        today = utc_today()
        return next(
            d
            for d in range(1, 60)
            if amilia.expected_keys(stream, today - timedelta(days=d), today)
        )
    if calendar is AMPERITY:  # workflow_runs: the one stream it applies to
        return next(
            d
            for d in range(2, 60)
            if amperity.expected_keys("workflow_runs", now - timedelta(days=d - 1))
        )
    return next(d for d in range(2, 60) if calendar.expected(stream, now - timedelta(days=d - 1)))


@pytest.mark.parametrize(("tap", "stream"), CASES)
def test_a_bookmark_later_than_now_warns_and_reads_as_if_it_were_now(
    sandbox: SandboxProcess, caplog: pytest.LogCaptureFixture, tap: str, stream: str
) -> None:
    calendar = CALENDARS[tap]
    days = shortest_lookback(calendar, stream)
    future = datetime.now(UTC) + timedelta(days=30)
    state = state_with(stream, calendar.replication_key(stream), future.isoformat())
    config = calendar.support.sandbox_config(sandbox, **{calendar.lookback_setting: days})
    caplog.set_level(logging.WARNING)
    before = datetime.now(UTC)
    result = calendar.support.run_sync(config, [stream], state=state)
    after = datetime.now(UTC)
    assert result.error is None, result.error
    lines = warnings_naming(caplog.records, stream, LATER_THAN_NOW)
    assert len(lines) == 1, [r.getMessage() for r in caplog.records if r.levelno >= 30]
    keys = calendar.support.keys_of(stream, result.records[stream])
    assert len(keys) == len(set(keys)), "a record was emitted twice"
    back = calendar.reread(stream, days)
    if calendar is AMILIA:
        first = (after - back).date()
        assert set(keys) == amilia.expected_keys(stream, first, amilia_last_day_read(stream).date())
        assert amilia.expected_keys(stream, first, utc_today()), "nothing in the lookback"
    else:
        # The run's "now" is between before and after: from (now - lookback) on.
        assert calendar.expected(stream, after - back) <= set(keys)
        assert set(keys) <= calendar.expected(stream, before - back)
    if calendar is not AMPERITY or stream == "workflow_runs":
        assert set(keys), "the sandbox holds nothing in the lookback window to test with"
    value = result.final_state.get("bookmarks", {}).get(stream, {}).get("replication_key_value")
    if value is not None or calendar is not AMPERITY:
        assert result.bookmark(stream) <= after, "the bookmark stayed in the future"


@pytest.mark.parametrize(("tap", "stream"), CASES)
def test_a_bookmark_that_is_not_a_date_time_fails_in_one_line(
    sandbox: SandboxProcess, tmp_path: Path, tap: str, stream: str
) -> None:
    calendar = CALENDARS[tap]
    # No start_date: the tap runs in a subprocess, on the real clock.
    config = calendar.support.sandbox_config(sandbox, start_date=None)
    config = {name: value for name, value in config.items() if value is not None}
    state = state_with(stream, calendar.replication_key(stream), "yesterday")
    result = run_tap_cli(tap, tmp_path, config, state, stream)
    assert_fails_with_one_line_naming(result, stream, "yesterday")


@pytest.mark.parametrize("tap", sorted(CALENDARS))
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_windows_from_any_start_bookmark_and_lookback_lose_and_duplicate_nothing(
    sandbox: SandboxProcess, tap: str, data: st.DataObject
) -> None:
    calendar = CALENDARS[tap]
    sandbox.configure(rate_limits={calendar.vendor: 0})  # examples follow each other closely
    earliest = ANCHOR - timedelta(days=calendar.history_days)
    start = data.draw(instants(earliest, ANCHOR - timedelta(hours=1)), "start")
    bookmark = data.draw(st.none() | instants(start, ANCHOR), "bookmark")
    lookback = data.draw(st.integers(0, 10), calendar.lookback_setting)
    window_days = data.draw(st.integers(1, calendar.max_window_days), "window_days")
    config = calendar.support.sandbox_config(
        sandbox, start_date=start.isoformat(), **{calendar.lookback_setting: lookback}
    )
    streams = calendar.window_streams
    state = bookmarks_at(streams, calendar.replication_key, bookmark)
    with ExitStack() as patches:
        for stream_type in calendar.windowed:
            size = timedelta(days=window_days)
            patches.enter_context(mock.patch.object(stream_type, "window_size", size))
        day = utc_today()
        result = calendar.support.run_sync(config, streams, state=state)
    assume(utc_today() == day)  # a run across midnight reads to a later "today"
    assert result.error is None, result.error
    for stream in streams:
        reread = calendar.reread(stream, lookback)
        begin = start if bookmark is None else max(start, bookmark - reread)
        keys = calendar.support.keys_of(stream, result.records[stream])
        assert len(keys) == len(set(keys)), f"{stream}: a record was emitted twice"
        assert set(keys) == calendar.expected(stream, begin), f"{stream}: records lost or invented"
