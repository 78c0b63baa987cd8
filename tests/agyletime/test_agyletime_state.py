"""Bookmarks: windows, lookback re-reads, resuming an interrupted sync from its last STATE."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from singer_sdk.exceptions import FatalAPIError

from agyletime.agyletime_support import (
    DATA,
    days_ago,
    expected_keys,
    keys_of,
    run_sync,
    sandbox_config,
)
from api_sandbox.testing import SandboxProcess
from api_sandbox.vendors.agyletime.data import utc_today
from tap_agyletime.streams import AgentMetricsStream, TasksStream


def state_with(stream: str, bookmark: datetime) -> dict[str, Any]:
    return {
        "bookmarks": {
            stream: {"replication_key": "startTime", "replication_key_value": bookmark.isoformat()}
        }
    }


def test_first_run_bookmarks_the_end_of_the_last_window(sandbox: SandboxProcess) -> None:
    before = datetime.now(UTC)
    result = run_sync(sandbox_config(sandbox), ["tasks", "agent_metrics"])
    assert result.error is None, result.error
    for stream in ("tasks", "agent_metrics"):
        assert before - timedelta(seconds=1) <= result.bookmark(stream) <= datetime.now(UTC)
    assert "progress_markers" not in str(result.final_state)


def test_a_run_from_state_rereads_only_the_lookback_window(sandbox: SandboxProcess) -> None:
    bookmark = days_ago(4) + timedelta(hours=5)
    config = sandbox_config(sandbox, lookback_days=2)
    result = run_sync(config, ["tasks"], state=state_with("tasks", bookmark))
    assert result.error is None, result.error
    start = bookmark - timedelta(days=2)
    keys = keys_of("tasks", result.records["tasks"])
    assert set(keys) == expected_keys("tasks", start)
    assert set(keys) < expected_keys("tasks", days_ago(10)), "it re-read more than the lookback"
    assert result.bookmark("tasks") > bookmark


def test_metrics_windows_start_at_midnight_of_the_lookback_day(sandbox: SandboxProcess) -> None:
    bookmark = days_ago(3) + timedelta(hours=15)
    state = {
        "bookmarks": {
            "agent_metrics": {
                "replication_key": "date",
                "replication_key_value": bookmark.isoformat(),
            }
        }
    }
    result = run_sync(sandbox_config(sandbox, lookback_days=1), ["agent_metrics"], state=state)
    assert result.error is None, result.error
    keys = set(keys_of("agent_metrics", result.records["agent_metrics"]))
    assert keys == expected_keys("agent_metrics", days_ago(4))
    assert min(day for _, day, _ in keys) == (utc_today() - timedelta(days=4)).isoformat()


def test_start_date_caps_the_lookback(sandbox: SandboxProcess) -> None:
    config = sandbox_config(sandbox, start_date=days_ago(3).isoformat(), lookback_days=30)
    result = run_sync(config, ["tasks"], state=state_with("tasks", days_ago(2)))
    assert result.error is None, result.error
    assert set(keys_of("tasks", result.records["tasks"])) == expected_keys("tasks", days_ago(3))


@pytest.mark.parametrize(("stream_type", "skip"), [(TasksStream, 7), (AgentMetricsStream, 4)])
def test_an_interrupted_sync_resumed_from_its_last_state_loses_nothing(
    sandbox: SandboxProcess, monkeypatch: pytest.MonkeyPatch, stream_type: type[Any], skip: int
) -> None:
    stream = stream_type.name
    monkeypatch.setattr(stream_type, "window_size", timedelta(days=2))
    config = sandbox_config(sandbox, lookback_days=0, page_size=5)
    # A fatal error in the middle of the run: after a few windows, inside a window.
    sandbox.add_fault("agyletime", "status", path=stream_type.path, status=400, skip=skip)
    first = run_sync(config, [stream])
    assert isinstance(first.error, FatalAPIError)
    assert first.states, "no STATE before the failure"
    bookmark = first.bookmark(stream)
    start = days_ago(10)
    emitted = set(keys_of(stream, first.records[stream]))
    # Everything before the bookmark was written before the bookmark was.
    assert expected_keys(stream, start, end=bookmark) <= emitted
    assert bookmark < datetime.now(UTC) - timedelta(days=1), "the failure came too late to test"

    sandbox.clear_faults()
    second = run_sync(config, [stream], state=first.final_state)
    assert second.error is None, second.error
    resumed = set(keys_of(stream, second.records[stream]))
    assert emitted | resumed == expected_keys(stream, start)
    assert not resumed & expected_keys(stream, start, end=bookmark - timedelta(days=1)), (
        "the resumed run re-read windows completed before the interruption"
    )


def test_records_of_a_window_come_only_from_that_window(sandbox: SandboxProcess) -> None:
    result = run_sync(sandbox_config(sandbox), ["published_shifts"])
    assert result.error is None, result.error
    starts = [datetime.fromisoformat(s["startTime"]) for s in result.records["published_shifts"]]
    assert min(starts) >= days_ago(10)
    assert {s["uid"] for s in result.records["published_shifts"]} == {
        s["uid"] for _, s in DATA.shifts_between(days_ago(10), days_ago(-1), utc_today())
    }
