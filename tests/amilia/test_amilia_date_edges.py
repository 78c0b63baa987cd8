"""tap-amilia at the edges of the calendar (issue 11, item 4).

- A bookmark later than now (clock skew, a hand-edited or foreign state) must not skip
  data silently: one WARNING line naming the stream and saying "later than now", then the
  run reads as if the bookmark were now.
- A bookmark that is not a date-time ends the run through the CLI with one line naming
  the stream, saying "not a date-time" and quoting the value; non-zero, no traceback.
- Day windows of any size from any start date and bookmark, across month ends, 29
  February and clock changes, lose and duplicate nothing (a hypothesis property).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from amilia.amilia_support import (
    DATED_STREAMS,
    LOOKAHEAD_DAYS,
    expected_keys,
    keys_of,
    run_sync,
    sandbox_config,
    utc_today,
)
from api_sandbox.testing import SandboxProcess
from calendar_support import (
    LATER_THAN_NOW,
    assert_fails_with_one_line_naming,
    bookmarks_at,
    instants,
    run_tap_cli,
    state_with,
    warnings_naming,
)
from tap_amilia.client import AmiliaDateWindowStream
from tap_amilia.streams import STREAM_TYPES as ALL_STREAM_TYPES
from tap_amilia.streams import EventsStream, RegistrationsStream

ANCHOR = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
"""The property tests draw instants up to this one, fixed when the module is imported (the
strategies must not change between examples; every drawn instant is in the past)."""
STREAM_TYPES = {s.name: s for s in ALL_STREAM_TYPES if issubclass(s, AmiliaDateWindowStream)}
READS_AHEAD = ("events", "reservations")
"""Streams read ``lookahead_days`` past today (a schedule, bookings)."""


def replication_key(stream: str) -> str:
    key = STREAM_TYPES[stream].replication_key
    assert key, stream
    return key


def last_day_read(stream: str) -> datetime:
    """The last day a run reads: today, or LOOKAHEAD_DAYS later for the schedule."""
    ahead = LOOKAHEAD_DAYS if stream in READS_AHEAD else 0
    return datetime.combine(utc_today() + timedelta(days=ahead), datetime.min.time(), UTC)


@pytest.mark.parametrize("stream", DATED_STREAMS)
def test_a_bookmark_later_than_now_warns_and_reads_as_if_it_were_now(
    sandbox: SandboxProcess, caplog: pytest.LogCaptureFixture, stream: str
) -> None:
    # The shortest lookback with records to read before today, from the model.
    today = utc_today()
    lookback = next(
        d for d in range(1, 60) if expected_keys(stream, today - timedelta(days=d), today)
    )
    future = datetime.now(UTC) + timedelta(days=30)
    state = state_with(stream, replication_key(stream), future.isoformat())
    caplog.set_level(logging.WARNING)
    result = run_sync(sandbox_config(sandbox, lookback_days=lookback), [stream], state=state)
    assert result.error is None, result.error
    now = datetime.now(UTC)
    lines = warnings_naming(caplog.records, stream, LATER_THAN_NOW)
    assert len(lines) == 1, [r.getMessage() for r in caplog.records if r.levelno >= 30]
    keys = keys_of(stream, result.records[stream])
    assert len(keys) == len(set(keys)), "a record was emitted twice"
    first = (now - timedelta(days=lookback)).date()
    assert set(keys) == expected_keys(stream, first, last_day_read(stream).date())
    assert expected_keys(stream, first, utc_today()), "nothing in the lookback to test with"
    assert result.bookmark(stream) <= now, "the bookmark stayed in the future"


@pytest.mark.parametrize("stream", DATED_STREAMS)
def test_a_bookmark_that_is_not_a_date_time_fails_in_one_line(
    sandbox: SandboxProcess, tmp_path: Path, stream: str
) -> None:
    # No start_date: the tap runs in a subprocess, on the real clock.
    config = sandbox_config(sandbox, start_date=None)
    state = state_with(stream, replication_key(stream), "yesterday")
    result = run_tap_cli("tap-amilia", tmp_path, config, state, stream)
    assert_fails_with_one_line_naming(result, stream, "yesterday")


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_windows_from_any_start_and_bookmark_lose_and_duplicate_nothing(
    sandbox: SandboxProcess, data: st.DataObject
) -> None:
    sandbox.configure(rate_limits={"amilia": 0})  # examples follow each other closely
    start = data.draw(instants(ANCHOR - timedelta(days=75), ANCHOR - timedelta(hours=1)), "start")
    bookmark = data.draw(st.none() | instants(start, ANCHOR), "bookmark")
    lookback = data.draw(st.integers(0, 10), "lookback_days")
    window_days = data.draw(st.integers(1, 45), "window_days")
    config = sandbox_config(sandbox, start_date=start.isoformat(), lookback_days=lookback)
    streams = ("events", "registrations")
    state = bookmarks_at(streams, replication_key, bookmark)
    with (
        mock.patch.object(EventsStream, "window_size", timedelta(days=window_days)),
        mock.patch.object(RegistrationsStream, "window_size", timedelta(days=window_days)),
    ):
        day = utc_today()
        result = run_sync(config, streams, state=state)
    assume(utc_today() == day)  # a run across midnight reads to a later "today"
    assert result.error is None, result.error
    first = start if bookmark is None else max(start, bookmark - timedelta(days=lookback))
    for stream in streams:
        keys = keys_of(stream, result.records[stream])
        assert len(keys) == len(set(keys)), f"{stream}: a record was emitted twice"
        expected = expected_keys(stream, first.date(), last_day_read(stream).date())
        assert set(keys) == expected, f"{stream}: records lost or invented"
