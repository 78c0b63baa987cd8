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


def window_pages(stream: str, start: datetime, end: datetime, page_size: int) -> int:
    """Requests the API needs for one window: its items ``page_size`` at a time (a metrics
    item is a user-day), one page when there are none; counted from the data model."""
    today = utc_today()
    if stream == "tasks":
        count = sum(1 for _ in DATA.tasks_between(start, end, today))
    else:
        count = sum(1 for _ in DATA.metric_user_days(start, end, today))
    return max(1, -(-count // page_size))


def fault_skip_inside_the_third_window(stream: str, window_days: int, page_size: int) -> int:
    """Requests to let through so the fault hits the third window of the run's plan (from
    start_date, ``window_days`` a window): after two completed windows, on the third
    window's second page when it has one."""
    size = timedelta(days=window_days)
    pages = [
        window_pages(stream, days_ago(10) + n * size, days_ago(10) + (n + 1) * size, page_size)
        for n in range(3)
    ]
    return pages[0] + pages[1] + (1 if pages[2] > 1 else 0)


@pytest.mark.parametrize("stream_type", [TasksStream, AgentMetricsStream])
def test_an_interrupted_sync_resumed_from_its_last_state_loses_nothing(
    sandbox: SandboxProcess, monkeypatch: pytest.MonkeyPatch, stream_type: type[Any]
) -> None:
    stream = stream_type.name
    monkeypatch.setattr(stream_type, "window_size", timedelta(days=2))
    config = sandbox_config(sandbox, lookback_days=0, page_size=5)
    # A fatal error in the middle of the run: after two windows, inside the third.
    skip = fault_skip_inside_the_third_window(stream, window_days=2, page_size=5)
    sandbox.add_fault("agyletime", "status", path=stream_type.path, status=400, skip=skip)
    first = run_sync(config, [stream])
    assert isinstance(first.error, FatalAPIError)
    assert first.states, "no STATE before the failure"
    bookmark = first.bookmark(stream)
    assert bookmark == days_ago(6), "the bookmark is not the end of the second window"
    start = days_ago(10)
    emitted = set(keys_of(stream, first.records[stream]))
    # Everything before the bookmark was written before the bookmark was.
    assert expected_keys(stream, start, end=bookmark) <= emitted

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
