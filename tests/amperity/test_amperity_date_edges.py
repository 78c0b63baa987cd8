"""tap-amperity at the edges of the calendar (issue 11, item 4).

Incremental streams: ingest_jobs (date windows, re-reads one day), workflow_runs
(``created_from`` = bookmark minus ``workflow_lookback_days``), audit_events
(``happened_from`` = bookmark).

- A bookmark later than now (clock skew, a hand-edited or foreign state) must not skip
  data silently: one WARNING line naming the stream and saying "later than now", then the
  run reads as if the bookmark were now (minus the stream's lookback).
- A bookmark that is not a date-time ends the run through the CLI with one line naming
  the stream, saying "not a date-time" and quoting the value; non-zero, no traceback.
- Any start date, bookmark, lookback and window size, across month ends, 29 February and
  clock changes, lose and duplicate nothing (a hypothesis property).
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

from amperity.amperity_support import expected_keys, keys_of, run_sync, sandbox_config
from api_sandbox.testing import SandboxProcess
from calendar_support import (
    LATER_THAN_NOW,
    assert_fails_with_one_line_naming,
    bookmarks_at,
    instants,
    run_tap_cli,
    state_with,
    utc_today,
    warnings_naming,
)
from tap_amperity.streams import AuditEventsStream, IngestJobsStream, WorkflowRunsStream

ANCHOR = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
"""The property tests draw instants up to this one, fixed when the module is imported (the
strategies must not change between examples; every drawn instant is in the past)."""
STREAM_TYPES: dict[str, Any] = {
    "audit_events": AuditEventsStream,
    "ingest_jobs": IngestJobsStream,
    "workflow_runs": WorkflowRunsStream,
}
INGEST_REREAD = timedelta(days=1)
"""ingest_jobs re-reads one day before its bookmark (jobs still running)."""


def replication_key(stream: str) -> str:
    key = STREAM_TYPES[stream].replication_key
    assert key, stream
    return str(key)


def reread(stream: str, workflow_lookback_days: int) -> timedelta:
    """How far before its bookmark a stream's run starts."""
    if stream == "ingest_jobs":
        return INGEST_REREAD
    if stream == "workflow_runs":
        return timedelta(days=workflow_lookback_days)
    return timedelta(0)


@pytest.mark.parametrize("stream", sorted(STREAM_TYPES))
def test_a_bookmark_later_than_now_warns_and_reads_as_if_it_were_now(
    sandbox: SandboxProcess, caplog: pytest.LogCaptureFixture, stream: str
) -> None:
    # workflow_runs: the shortest lookback with runs to read (from the model).
    lookback_days = next(
        d
        for d in range(2, 60)
        if expected_keys("workflow_runs", datetime.now(UTC) - timedelta(days=d - 1))
    )
    future = datetime.now(UTC) + timedelta(days=30)
    state = state_with(stream, replication_key(stream), future.isoformat())
    config = sandbox_config(sandbox, workflow_lookback_days=lookback_days)
    caplog.set_level(logging.WARNING)
    before = datetime.now(UTC)
    result = run_sync(config, [stream], state=state)
    after = datetime.now(UTC)
    assert result.error is None, result.error
    lines = warnings_naming(caplog.records, stream, LATER_THAN_NOW)
    assert len(lines) == 1, [r.getMessage() for r in caplog.records if r.levelno >= 30]
    keys = keys_of(stream, result.records[stream])
    assert len(keys) == len(set(keys)), "a record was emitted twice"
    back = reread(stream, lookback_days)
    # The run's "now" is between before and after: from (now - lookback) on.
    assert expected_keys(stream, after - back) <= set(keys)
    assert set(keys) <= expected_keys(stream, before - back)
    if stream == "workflow_runs":
        assert set(keys), "the sandbox holds no runs in the lookback to test with"
    bookmarks = result.final_state.get("bookmarks", {})
    value = bookmarks.get(stream, {}).get("replication_key_value")
    if value is not None:
        assert datetime.fromisoformat(value.replace("Z", "+00:00")) <= after, (
            "the bookmark stayed in the future"
        )


@pytest.mark.parametrize("stream", sorted(STREAM_TYPES))
def test_a_bookmark_that_is_not_a_date_time_fails_in_one_line(
    sandbox: SandboxProcess, tmp_path: Path, stream: str
) -> None:
    config = sandbox_config(sandbox)
    del config["start_date"]  # the tap runs in a subprocess, on the real clock
    state = state_with(stream, replication_key(stream), "yesterday")
    result = run_tap_cli("tap-amperity", tmp_path, config, state, stream)
    assert_fails_with_one_line_naming(result, stream, "yesterday")


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_start_bookmark_lookback_and_window_lose_and_duplicate_nothing(
    sandbox: SandboxProcess, data: st.DataObject
) -> None:
    start = data.draw(instants(ANCHOR - timedelta(days=50), ANCHOR - timedelta(hours=1)), "start")
    bookmark = data.draw(st.none() | instants(start, ANCHOR), "bookmark")
    lookback_days = data.draw(st.integers(0, 10), "workflow_lookback_days")
    window_days = data.draw(st.integers(1, 7), "window_days")  # the API allows 7 at most
    config = sandbox_config(
        sandbox, start_date=start.isoformat(), workflow_lookback_days=lookback_days
    )
    streams = tuple(sorted(STREAM_TYPES))
    state = bookmarks_at(streams, replication_key, bookmark)
    with mock.patch.object(IngestJobsStream, "window_size", timedelta(days=window_days)):
        day = utc_today()
        result = run_sync(config, streams, state=state)
    assume(utc_today() == day)  # a run across midnight reads to a later "today"
    assert result.error is None, result.error
    for stream in streams:
        begin = start if bookmark is None else max(start, bookmark - reread(stream, lookback_days))
        keys = keys_of(stream, result.records[stream])
        assert len(keys) == len(set(keys)), f"{stream}: a record was emitted twice"
        assert set(keys) == expected_keys(stream, begin), f"{stream}: records lost or invented"
