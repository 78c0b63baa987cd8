"""Date windows: nothing lost or read twice, the bookmark moves only when a window is done, a
bookmark from the future is read as now, and one that is not a date-time stops in one line."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time as time_module
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from example_tap import ExampleTap, sync
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from singer_rest_toolkit.dates import iso_z, parse_instant

HERE = Path(__file__).parent
CLI = (sys.executable, "-c", "from example_tap import ExampleTap; ExampleTap.cli()")


def event_times(start: datetime, end: datetime) -> list[datetime]:
    """The server's events: one at 06:00 and one at 18:00 UTC of every day, in [start, end)."""
    day = start.date() - timedelta(days=1)
    found = []
    while day <= end.date():
        for hour in (6, 18):
            moment = datetime.combine(day, time(hour), tzinfo=UTC)
            if start <= moment < end:
                found.append(moment)
        day += timedelta(days=1)
    return found


class EventServer:
    """``/events?start=&end=``; fails with 500 on the request numbered ``fail_at``."""

    def __init__(self, httpserver: HTTPServer, fail_at: int | None = None) -> None:
        self.windows: list[tuple[datetime, datetime]] = []
        self.fail_at = fail_at
        httpserver.expect_request("/events").respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        start, end = parse_instant(request.args["start"]), parse_instant(request.args["end"])
        self.windows.append((start, end))
        if len(self.windows) == self.fail_at:
            return Response("down", status=500)
        body = [{"id": int(t.timestamp()), "at": t.isoformat()} for t in event_times(start, end)]
        return Response(json.dumps(body), content_type="application/json")


def config(httpserver: HTTPServer, **extra: Any) -> dict[str, Any]:
    return {"api_url": httpserver.url_for(""), "max_retries": 1, **extra}


def records_and_states(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Any]]:
    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    return records, states


def bookmark(state: dict[str, Any]) -> datetime:
    return parse_instant(state["bookmarks"]["events"]["replication_key_value"])


@pytest.mark.parametrize("days", [1, 9, 31])
def test_a_first_run_reads_every_record_once(httpserver: HTTPServer, days: int) -> None:
    server = EventServer(httpserver)
    start = datetime.now(UTC) - timedelta(days=days, hours=5)
    messages, error = sync(
        ExampleTap(config=config(httpserver, start_date=iso_z(start))), ["events"]
    )
    assert error is None, error
    records, states = records_and_states(messages)
    end = bookmark(states[-1])
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == [int(t.timestamp()) for t in event_times(start, end)]
    assert server.windows[0][0] == start.replace(microsecond=start.microsecond // 1000 * 1000)
    assert server.windows[-1][1] == end
    for (_, first_end), (second_start, _) in zip(server.windows, server.windows[1:], strict=False):
        assert first_end == second_start, "windows must touch: no gap, no overlap"


def test_an_interrupted_run_resumes_from_its_last_completed_window(httpserver: HTTPServer) -> None:
    start = datetime.now(UTC) - timedelta(days=30)
    server = EventServer(httpserver, fail_at=3)
    first, error = sync(ExampleTap(config=config(httpserver, start_date=iso_z(start))), ["events"])
    assert error is not None
    records, states = records_and_states(first)
    assert states, "no STATE before the failure"
    saved = bookmark(states[-1])
    assert saved == server.windows[1][1], "the bookmark is the end of the last completed window"
    server.fail_at = None
    tap = ExampleTap(config=config(httpserver, start_date=iso_z(start)), state=states[-1])
    second, error = sync(tap, ["events"])
    assert error is None, error
    resumed, final = records_and_states(second)
    assert server.windows[3][0] == saved - timedelta(days=2), "resumes lookback_days before"
    seen = {r["id"] for r in records} | {r["id"] for r in resumed}
    expected = {int(t.timestamp()) for t in event_times(server.windows[0][0], bookmark(final[-1]))}
    assert seen == expected


def test_a_bookmark_from_the_future_is_read_as_now(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = EventServer(httpserver)
    future = datetime.now(UTC) + timedelta(days=40)
    state = {
        "bookmarks": {"events": {"replication_key": "at", "replication_key_value": iso_z(future)}}
    }
    tap = ExampleTap(config=config(httpserver, lookback_days=3), state=state)
    with caplog.at_level(logging.WARNING):
        messages, error = sync(tap, ["events"])
    assert error is None, error
    warnings = [r.getMessage() for r in caplog.records if "later than now" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].startswith("events: ")
    records, states = records_and_states(messages)
    now = bookmark(states[-1])
    assert now < future, "the bookmark from the future was replaced"
    assert server.windows[0][0] == now - timedelta(days=3)
    assert sorted(r["id"] for r in records) == [
        int(t.timestamp()) for t in event_times(now - timedelta(days=3), now)
    ]


def test_a_bookmark_that_is_not_a_date_time_stops_in_one_line(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    EventServer(httpserver)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config(httpserver)))
    state_file = tmp_path / "state.json"
    state = {
        "bookmarks": {"events": {"replication_key": "at", "replication_key_value": "yesterday"}}
    }
    state_file.write_text(json.dumps(state))
    result = subprocess.run(
        [*CLI, "--config", str(config_file), "--state", str(state_file)],
        capture_output=True,
        text=True,
        cwd=HERE,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "not a date-time" in line]
    assert len(errors) == 1, result.stderr
    assert "events: the bookmark 'at' in the state is not a date-time: 'yesterday'" in errors[0]


def test_a_bookmark_finer_than_a_millisecond_loses_no_record_at_its_millisecond(
    httpserver: HTTPServer,
) -> None:
    server = EventServer(httpserver)
    event = event_times(datetime.now(UTC) - timedelta(days=3), datetime.now(UTC))[0]
    bookmark = (event + timedelta(microseconds=1)).isoformat()
    state = {"bookmarks": {"events": {"replication_key": "at", "replication_key_value": bookmark}}}
    tap = ExampleTap(config=config(httpserver, lookback_days=0), state=state)
    messages, error = sync(tap, ["events"])
    assert error is None, error
    records, _ = records_and_states(messages)
    assert server.windows[0][0] == event, "the window starts at the API's precision"
    assert int(event.timestamp()) in {r["id"] for r in records}


class SlowEventServer(EventServer):
    """:class:`EventServer` answering 50 ms late, counting requests in flight at once, and
    failing (500) every request for the window that starts at ``fail_from``."""

    def __init__(self, httpserver: HTTPServer, fail_from: datetime | None = None) -> None:
        super().__init__(httpserver)
        self.fail_from = fail_from
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()

    def handle(self, request: Request) -> Response:
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            time_module.sleep(0.05)
            if parse_instant(request.args["start"]) == self.fail_from:
                return Response("down", status=500)
            return super().handle(request)
        finally:
            with self._lock:
                self.in_flight -= 1


@pytest.mark.parametrize("failing_window", [None, 2])
def test_windows_fetched_ahead_write_what_one_after_another_writes(
    threaded_httpserver: HTTPServer, failing_window: int | None
) -> None:
    httpserver = threaded_httpserver
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=60)
    fail_from = start + 7 * timedelta(days=failing_window) if failing_window else None
    runs = []
    for workers in (1, 4):
        server = SlowEventServer(httpserver, fail_from)
        tap = ExampleTap(
            config=config(httpserver, start_date=iso_z(start), max_parallel_requests=workers)
        )
        messages, error = sync(tap, ["events"])
        assert (error is None) is (failing_window is None), error
        for message in messages:
            message.pop("time_extracted", None)
        runs.append((records_and_states(messages), server.most_in_flight))
        httpserver.clear()
    (sequential, one_at_a_time), (ahead, at_once) = runs
    assert one_at_a_time == 1
    assert at_once > 1, "the next windows were fetched while one was written"
    if failing_window is None:  # the last window ends at now, which moved between the runs
        for _, states in (sequential, ahead):
            assert bookmark(states.pop()) > start + timedelta(days=59)
    assert ahead == sequential, "the same records and STATEs, in the same order"
    if failing_window:
        _, states = ahead
        assert bookmark(states[-1]) == fail_from, "the bookmark stops before the failed window"
