"""end_date in each tap: no request asks past it, no record is dated past it, no bookmark
moves past it, including a date window that straddles it; one line when it is before
start_date. Expectations come from the sandbox's data model."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from api_sandbox.testing import SandboxProcess
from repo_support import BIN, SyncResult
from resilience.tap_runner import config_file
from resilience.test_bad_config import GOOD

REQUEST_LINE = re.compile(r'"GET (\S+) HTTP/1\.1"')


@dataclass(frozen=True)
class Case:
    """One tap's end_date case: a config, the streams, what the sandbox holds in range."""

    tap: str
    vendor: str
    config: Callable[[SandboxProcess, datetime, datetime], dict[str, Any]]
    start: Callable[[], datetime]
    end: Callable[[], datetime]
    """end_date: inside the first date window of ``start`` (the window straddles it)."""
    streams: tuple[str, ...]
    sync: Callable[[dict[str, Any], tuple[str, ...], dict[str, Any] | None], SyncResult]
    expected: Callable[[str, datetime, datetime], set[Any]]
    key: Callable[[str, dict[str, Any]], Any]
    replication_key: dict[str, str]
    date_params: tuple[str, ...]
    """Query parameters that bound a request's dates from above."""
    window_streams: tuple[str, ...]
    """Date-windowed streams: their bookmark is the last window's end, end_date itself."""


def _amilia() -> Case:
    from amilia.amilia_support import days_ago, expected_keys, keys_of, run_sync, sandbox_config

    def config(sandbox: SandboxProcess, start: datetime, end: datetime) -> dict[str, Any]:
        return sandbox_config(
            sandbox, start_date=start.date().isoformat(), end_date=end.date().isoformat()
        )

    def expected(stream: str, start: datetime, end: datetime) -> set[Any]:
        return expected_keys(stream, start.date(), end.date() - timedelta(days=1))

    return Case(
        tap="tap-amilia",
        vendor="amilia",
        config=config,
        start=lambda: days_ago(40),
        end=lambda: days_ago(25),  # the first 30-day window runs to 10 days ago
        streams=("registrations", "donations_sold"),
        sync=run_sync,
        expected=expected,
        key=lambda stream, record: keys_of(stream, [record])[0],
        replication_key={"registrations": "DateCreated", "donations_sold": "PurchasedDateUtc"},
        date_params=("to",),
        window_streams=("registrations", "donations_sold"),
    )


def _amperity() -> Case:
    from amperity.amperity_support import data, days_ago, keys_of, run_sync, sandbox_config

    def config(sandbox: SandboxProcess, start: datetime, end: datetime) -> dict[str, Any]:
        return sandbox_config(sandbox, start_date=start.isoformat(), end_date=end.isoformat())

    def expected(stream: str, start: datetime, end: datetime) -> set[Any]:
        model = data()
        if stream == "audit_events":
            return {model.audit_event(i)["event_id"] for i in model.audit_event_range(start, end)}
        return {model.ingest_job(i)["id"] for i in model.ingest_job_range(start, end)}

    return Case(
        tap="tap-amperity",
        vendor="amperity",
        config=config,
        start=lambda: days_ago(6),
        # Not midnight: the first 7-day ingest_jobs window runs to today and straddles it.
        end=lambda: days_ago(3) + timedelta(hours=13, minutes=17),
        streams=("audit_events", "ingest_jobs"),
        sync=run_sync,
        expected=expected,
        key=lambda stream, record: keys_of(stream, [record])[0],
        replication_key={"audit_events": "happened_at", "ingest_jobs": "started_at"},
        date_params=("happened_to", "created_to"),
        window_streams=("ingest_jobs",),
    )


def _agyletime() -> Case:
    from agyletime.agyletime_support import days_ago, expected_keys, run_sync, sandbox_config

    def config(sandbox: SandboxProcess, start: datetime, end: datetime) -> dict[str, Any]:
        return sandbox_config(sandbox, start_date=start.isoformat(), end_date=end.isoformat())

    return Case(
        tap="tap-agyletime",
        vendor="agyletime",
        config=config,
        start=lambda: days_ago(8),
        # Not midnight: the one 92-day window of tasks runs to now and straddles it.
        end=lambda: days_ago(4) + timedelta(hours=11, minutes=45),
        streams=("tasks",),
        sync=run_sync,
        expected=expected_keys,
        key=lambda _, record: (record["id"], record["createdAt"]),
        replication_key={"tasks": "startTime"},
        date_params=("taskStartTimeTo", "endTime"),
        window_streams=("tasks",),
    )


CASES = {"tap-amilia": _amilia, "tap-amperity": _amperity, "tap-agyletime": _agyletime}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    """A sandbox of its own that logs every request line (to read the query strings)."""
    with SandboxProcess("--access-log", scale=0.05) as server:
        yield server


def requested_until(
    sandbox: SandboxProcess, params: tuple[str, ...], skip: int = 0
) -> list[datetime]:
    """Each upper date bound the requests logged after the first ``skip`` sent, in one of
    ``params``."""
    bounds = []
    for line in REQUEST_LINE.findall(sandbox.output())[skip:]:
        for name, value in parse_qsl(urlsplit(line).query):
            if name in params:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
                bounds.append(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))
    return bounds


def instant(value: Any) -> datetime:
    """A replication key value as an aware instant (a bare date is its midnight UTC)."""
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@pytest.mark.parametrize("tap", sorted(CASES))
def test_requests_records_and_bookmarks_stop_at_end_date(tap: str, sandbox: SandboxProcess) -> None:
    case = CASES[tap]()
    start, end = case.start(), case.end()
    sandbox.reset()
    already = len(REQUEST_LINE.findall(sandbox.output()))
    result = case.sync(case.config(sandbox, start, end), case.streams, None)
    assert result.error is None, result.error

    bounds = requested_until(sandbox, case.date_params, already)
    assert bounds, "no date-bounded request was logged"
    # Amilia's `to` is a whole day, inclusive: the day before end_date's midnight.
    limit = end - timedelta(days=1) if case.date_params == ("to",) else end
    assert max(bounds) <= limit, f"a request asked for dates after end_date {end.isoformat()}"

    for stream in case.streams:
        records = result.records.get(stream, [])
        field = case.replication_key[stream]
        late = [r[field] for r in records if r.get(field) and instant(r[field]) > end]
        assert not late, f"{stream}: records dated after end_date: {late[:3]}"
        keys = [case.key(stream, r) for r in records]
        assert len(keys) == len(set(keys)), f"{stream}: a record was written twice"
        assert set(keys) == case.expected(stream, start, end), f"{stream}: lost or invented"
        assert records, f"{stream}: the range should hold records at this scale"
        bookmark = result.bookmark(stream)
        assert bookmark <= end, f"{stream}: the bookmark {bookmark} passed end_date"
        if stream in case.window_streams:
            assert bookmark == end, f"{stream}: the last window ends at end_date"


@pytest.mark.parametrize("tap", sorted(CASES))
def test_a_bookmark_past_end_date_stays_where_it_is(tap: str, sandbox: SandboxProcess) -> None:
    """A state from a later daily run, resumed with an end_date before it: nothing read, the
    bookmark not moved back."""
    case = CASES[tap]()
    start, end = case.start(), case.end()
    stream = case.window_streams[0]
    later = (end + timedelta(days=2)).isoformat()
    state = {"bookmarks": {stream: {"replication_key": case.replication_key[stream]}}}
    state["bookmarks"][stream]["replication_key_value"] = later
    config = {**case.config(sandbox, start, end), "lookback_days": 0}
    if tap == "tap-amperity":
        config.pop("lookback_days")  # ingest_jobs re-reads a fixed day
    result = case.sync(config, (stream,), state)
    assert result.error is None, result.error
    assert all(
        instant(r[case.replication_key[stream]]) <= end for r in result.records.get(stream, [])
    )
    assert instant(result.final_state["bookmarks"][stream]["replication_key_value"]) == instant(
        later
    )


@pytest.mark.parametrize("tap", sorted(CASES))
def test_end_date_before_start_date_is_one_line(tap: str) -> None:
    """A sync (config is checked before any request: the URLs point at a closed port)."""
    start = datetime.now(UTC) - timedelta(days=10)
    config = {
        **GOOD[tap],
        "start_date": start.date().isoformat(),
        "end_date": (start - timedelta(days=3)).date().isoformat(),
    }
    with config_file(tap, config) as path:
        result = subprocess.run(
            [str(BIN / tap), "--config", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if "end_date" in line]
    assert len(lines) == 1, result.stderr
    assert "start_date" in lines[0]
    assert "Traceback" not in result.stderr
    assert "cannot reach" not in result.stderr  # stopped before any request
