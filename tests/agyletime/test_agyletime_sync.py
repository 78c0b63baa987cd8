"""Syncs against the sandbox: every record the sandbox holds arrives, once, in the right shape."""

from __future__ import annotations

import time
from collections import Counter
from datetime import date, timedelta
from typing import Any

import pytest
import requests

from agyletime.agyletime_support import (
    DATA,
    DEFAULT_STREAMS,
    days_ago,
    expected_keys,
    keys_of,
    path_hits,
    run_sync,
    sandbox_config,
)
from api_sandbox.testing import SandboxProcess
from api_sandbox.vendors.agyletime.data import (
    LATER_USER_FIELDS,
    PAY_RATES,
    UNDECLARED_AGENT_METRICS,
)
from tap_agyletime.streams import TasksStream


def test_default_streams_deliver_exactly_the_sandbox_records(sandbox: SandboxProcess) -> None:
    config = sandbox_config(sandbox)
    result = run_sync(config, DEFAULT_STREAMS)
    assert result.error is None, result.error
    start = days_ago(10)
    for stream in DEFAULT_STREAMS:
        keys = keys_of(stream, result.records[stream])
        assert len(keys) == len(set(keys)), f"{stream} emitted a record twice"
        assert set(keys) == expected_keys(stream, start), stream
    # Page size 7 makes every dated stream and users span several pages.
    assert path_hits(sandbox, "/workactivity/tasks") > 2
    assert path_hits(sandbox, "/organisation/users") >= 1


def test_opt_in_streams_deliver_exactly_the_sandbox_records(sandbox: SandboxProcess) -> None:
    config = sandbox_config(sandbox, start_date=days_ago(2).isoformat(), page_size=50)
    result = run_sync(config, ["contacts", "interactions"])
    assert result.error is None, result.error
    for stream in ("contacts", "interactions"):
        keys = keys_of(stream, result.records[stream])
        assert sorted(keys) == sorted(expected_keys(stream, days_ago(2))), stream


def test_users_and_tasks_arrive_as_the_api_sent_them(sandbox: SandboxProcess) -> None:
    result = run_sync(sandbox_config(sandbox), ["users", "tasks"])
    assert result.error is None, result.error
    assert sorted(result.records["users"], key=lambda u: u["id"]) == list(DATA.users())
    for user in result.records["users"]:
        assert set(LATER_USER_FIELDS) <= set(user), "a user field was dropped"
    today = days_ago(0)
    sent = {
        (t["id"], t["createdAt"]): t
        for _, t in DATA.tasks_between(days_ago(10), days_ago(-1), today.date())
    }
    flags = ("isProductive", "isLeave", "isBreak", "isPaid")
    for task in result.records["tasks"]:
        original = sent[(task["id"], task["createdAt"])]
        assert {k: v for k, v in task.items() if k not in flags} == {
            k: v for k, v in original.items() if k not in flags
        }
        assert {k: task[k] for k in flags} == {k: bool(original[k]) for k in flags}


def test_metrics_rows_keep_dynamic_and_undeclared_keys(sandbox: SandboxProcess) -> None:
    result = run_sync(sandbox_config(sandbox), ["agent_metrics", "schedule_metrics"])
    assert result.error is None, result.error
    agent = result.records["agent_metrics"]
    assert agent
    for row in agent:
        assert set(row["otherMetrics"]) == set(UNDECLARED_AGENT_METRICS)
        assert row["totalHandleTime"] is not None
        user = DATA.agent_metrics(row["userId"] - 1000, date.fromisoformat(row["date"]))
        [sent] = [c for c in user["channels"] if c["channel"] == row["channel"]]
        # Every metric the public references name is a column holding the value sent.
        assert {k: row[k] for k in sent if k != "channel" and k in row} == {
            k: v for k, v in sent.items() if k not in ("channel", *UNDECLARED_AGENT_METRICS)
        }
    schedule = result.records["schedule_metrics"]
    assert schedule
    for row in schedule:
        assert {f"totalOvertime_{rate}" for rate in PAY_RATES} <= set(row["rostered"])
        user = DATA.schedule_metrics(row["userId"] - 1000, date.fromisoformat(row["date"]))
        [sent] = [c for c in user["channels"] if c["channel"] == row["channel"]]
        assert (row["rostered"], row["actual"]) == (sent["rostered"], sent["actual"])
        assert "unplannedDuration" in row["actual"]
    # The row matches the user entry the sandbox nested under data.dates[].users[].channels[].
    row = schedule[0]
    day = date.fromisoformat(row["date"])
    entry = DATA.schedule_metrics(row["userId"] - 1000, day)
    channel = next(c for c in entry["channels"] if c["channel"] == row["channel"])
    assert row["rostered"] == channel["rostered"]
    assert row["rosteredStartTime"] == entry["rosteredStartTime"]


def test_every_page_request_keeps_the_window_filters(
    sandbox: SandboxProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[dict[str, Any]] = []
    original = TasksStream.get_http_request

    def spy(self: TasksStream, *, page: Any) -> Any:
        request = original(self, page=page)
        sent.append(dict(request.params))
        return request

    monkeypatch.setattr(TasksStream, "get_http_request", spy)
    monkeypatch.setattr(TasksStream, "window_size", timedelta(days=4))
    result = run_sync(sandbox_config(sandbox, page_size=5), ["tasks"])
    assert result.error is None, result.error
    windows = Counter((p["taskStartTimeFrom"], p["taskStartTimeTo"]) for p in sent)
    assert len(windows) >= 3, "ten days in four-day windows"
    assert max(windows.values()) > 1, "some window spans several pages"
    assert all(p["pageLimit"] == 5 for p in sent)
    first_pages = [p for p in sent if p.get("nextPageToken") is None]
    assert len(first_pages) == len(windows), "one first page per window, then tokens"
    assert set(keys_of("tasks", result.records["tasks"])) == expected_keys("tasks", days_ago(10))


def test_pacing_keeps_under_max_requests_per_second(
    sandbox: SandboxProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Send times are taken in the tap's process: the sandbox stamps a request when its event
    # loop gets to it, which lags by more than the pace's headroom when CI's cores are busy.
    sent: list[float] = []
    send = requests.Session.send

    def timed_send(self: requests.Session, request: Any, **kwargs: Any) -> Any:
        sent.append(time.monotonic())
        return send(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", timed_send)
    config = sandbox_config(sandbox, max_requests_per_second=4, page_size=2)
    result = run_sync(config, ["users", "system_roles", "business_roles", "workstreams"])
    assert result.error is None, result.error
    assert sandbox.stats()["agyletime"]["requests"] == len(sent) > 8
    # At most 4 in any one second: every 5th request leaves a second or more after the 1st.
    assert min(b - a for a, b in zip(sent, sent[4:], strict=False)) >= 1.0
