"""tap-agyletime at the edges of the calendar (issue 11, item 4).

- A bookmark later than now (clock skew, a hand-edited or foreign state) must not skip
  data silently: one WARNING line naming the stream and saying "later than now", then the
  run reads as if the bookmark were now (from now minus lookback_days).
- A bookmark that is not a date-time ends the run through the CLI with one line naming
  the stream, saying "not a date-time" and quoting the value; non-zero, no traceback.
- Windows of any size from any start date and bookmark, across month ends, 29 February
  and clock changes, lose and duplicate nothing (a hypothesis property).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from agyletime.agyletime_support import expected_keys, keys_of, run_sync, sandbox_config
from api_sandbox.testing import SandboxProcess
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

ANCHOR = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
"""The property tests draw instants up to this one, fixed when the module is imported (the
strategies must not change between examples; every drawn instant is in the past)."""
STREAM_TYPES: dict[str, Any] = {
    "tasks": TasksStream,
    "published_shifts": PublishedShiftsStream,
    "agent_metrics": AgentMetricsStream,
}
PER_DAY = ("agent_metrics",)
"""Metrics are per day: a run starts at midnight UTC of its first day."""


def replication_key(stream: str) -> str:
    key = STREAM_TYPES[stream].replication_key
    assert key, stream
    return str(key)


def first_read(stream: str, start: datetime) -> datetime:
    """Where a run that starts at ``start`` reads from."""
    return midnight(start.date()) if stream in PER_DAY else start


@pytest.mark.parametrize("stream", sorted(STREAM_TYPES))
def test_a_bookmark_later_than_now_warns_and_reads_as_if_it_were_now(
    sandbox: SandboxProcess, caplog: pytest.LogCaptureFixture, stream: str
) -> None:
    # The shortest lookback with records to read (volumes vary by weekday), from the model.
    days = next(
        d
        for d in range(2, 60)
        if expected_keys(stream, first_read(stream, datetime.now(UTC) - timedelta(days=d - 1)))
    )
    lookback = timedelta(days=days)
    future = datetime.now(UTC) + timedelta(days=30)
    state = state_with(stream, replication_key(stream), future.isoformat())
    caplog.set_level(logging.WARNING)
    before = datetime.now(UTC)
    result = run_sync(sandbox_config(sandbox, lookback_days=days), [stream], state=state)
    after = datetime.now(UTC)
    assert result.error is None, result.error
    lines = warnings_naming(caplog.records, stream, LATER_THAN_NOW)
    assert len(lines) == 1, [r.getMessage() for r in caplog.records if r.levelno >= 30]
    keys = keys_of(stream, result.records[stream])
    assert len(keys) == len(set(keys)), "a record was emitted twice"
    # The run's "now" is between before and after: from (now - lookback) on.
    assert expected_keys(stream, first_read(stream, after - lookback)) <= set(keys)
    assert set(keys) <= expected_keys(stream, first_read(stream, before - lookback))
    assert set(keys), "the sandbox holds nothing in the lookback window to test with"
    assert result.bookmark(stream) <= after, "the bookmark stayed in the future"


@pytest.mark.parametrize("stream", sorted(STREAM_TYPES))
def test_a_bookmark_that_is_not_a_date_time_fails_in_one_line(
    sandbox: SandboxProcess, tmp_path: Path, stream: str
) -> None:
    config = sandbox_config(sandbox)
    del config["start_date"]  # the tap runs in a subprocess, on the real clock
    state = state_with(stream, replication_key(stream), "yesterday")
    result = run_tap_cli("tap-agyletime", tmp_path, config, state, stream)
    assert_fails_with_one_line_naming(result, stream, "yesterday")


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_windows_from_any_start_and_bookmark_lose_and_duplicate_nothing(
    sandbox: SandboxProcess, data: st.DataObject
) -> None:
    start = data.draw(instants(ANCHOR - timedelta(days=60), ANCHOR - timedelta(hours=1)), "start")
    bookmark = data.draw(st.none() | instants(start, ANCHOR), "bookmark")
    lookback = data.draw(st.integers(0, 10), "lookback_days")
    window_days = data.draw(st.integers(1, 30), "window_days")
    config = sandbox_config(sandbox, start_date=start.isoformat(), lookback_days=lookback)
    streams = ("tasks", "agent_metrics")
    state = bookmarks_at(streams, replication_key, bookmark)
    with (
        mock.patch.object(TasksStream, "window_size", timedelta(days=window_days)),
        mock.patch.object(AgentMetricsStream, "window_size", timedelta(days=window_days)),
    ):
        day = utc_today()
        result = run_sync(config, streams, state=state)
    assume(utc_today() == day)  # a run across midnight reads to a later "today"
    assert result.error is None, result.error
    begin = start if bookmark is None else max(start, bookmark - timedelta(days=lookback))
    for stream in streams:
        keys = keys_of(stream, result.records[stream])
        assert len(keys) == len(set(keys)), f"{stream}: a record was emitted twice"
        expected = expected_keys(stream, first_read(stream, begin))
        assert set(keys) == expected, f"{stream}: records lost or invented"
