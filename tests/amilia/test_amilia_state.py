"""Bookmarks of the date-ranged streams: windows, lookback re-reads, resuming after a failure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from singer_sdk.exceptions import FatalAPIError

from amilia.amilia_support import (
    DATED_STREAMS,
    START_DAYS_AGO,
    days_ago,
    expected_keys,
    keys_of,
    run_sync,
    sandbox_config,
    utc_today,
)
from api_sandbox.testing import SandboxProcess
from tap_amilia.client import AmiliaDateWindowStream
from tap_amilia.streams import STREAM_TYPES

WINDOWED = {s.name: s for s in STREAM_TYPES if issubclass(s, AmiliaDateWindowStream)}


def state_with(stream: str, key: str, bookmark: datetime) -> dict[str, Any]:
    return {
        "bookmarks": {
            stream: {"replication_key": key, "replication_key_value": bookmark.isoformat()}
        }
    }


def test_first_run_bookmarks_now_for_each_dated_stream(sandbox: SandboxProcess) -> None:
    before = datetime.now(UTC)
    result = run_sync(sandbox_config(sandbox), DATED_STREAMS)
    assert result.error is None, result.error
    for stream in DATED_STREAMS:
        assert before <= result.bookmark(stream) <= datetime.now(UTC)
    assert "progress_markers" not in str(result.final_state)
    # Full-table streams keep no bookmark at all (and children no partitions).
    full = run_sync(sandbox_config(sandbox), ["accounts", "account_contacts"])
    assert "partitions" not in str(full.final_state)


def test_a_second_run_rereads_only_the_lookback_window(sandbox: SandboxProcess) -> None:
    config = sandbox_config(sandbox, lookback_days=7)
    first = run_sync(config, ["registrations"])
    assert first.error is None, first.error
    second = run_sync(config, ["registrations"], state=first.final_state)
    assert second.error is None, second.error
    start = (first.bookmark("registrations") - timedelta(days=7)).date()
    keys = set(keys_of("registrations", second.records["registrations"]))
    assert keys == expected_keys("registrations", start)
    assert keys < expected_keys("registrations"), "the second run re-read more than the lookback"


def test_a_run_from_an_older_bookmark_reads_from_bookmark_minus_lookback(
    sandbox: SandboxProcess,
) -> None:
    bookmark = days_ago(20) + timedelta(hours=5)
    config = sandbox_config(sandbox, lookback_days=3)
    result = run_sync(config, ["reservations"], state=state_with("reservations", "Start", bookmark))
    assert result.error is None, result.error
    keys = set(keys_of("reservations", result.records["reservations"]))
    assert keys == expected_keys("reservations", (bookmark - timedelta(days=3)).date())
    assert result.bookmark("reservations") > bookmark


def first_day_ahead_with(stream: str) -> int:
    """Days from today to the first later day the sandbox holds ``stream`` records on."""
    today = utc_today()
    return next(
        ahead
        for ahead in range(1, 365)
        if expected_keys(stream, today + timedelta(days=ahead), today + timedelta(days=ahead))
    )


def test_the_days_ahead_are_read_only_as_far_as_lookahead_days(sandbox: SandboxProcess) -> None:
    for ahead in (0, first_day_ahead_with("reservations")):
        result = run_sync(sandbox_config(sandbox, lookahead_days=ahead), ["reservations"])
        assert result.error is None, result.error
        keys = set(keys_of("reservations", result.records["reservations"]))
        last = utc_today() + timedelta(days=ahead)
        assert keys == expected_keys("reservations", last=last), ahead
        assert result.bookmark("reservations") <= datetime.now(UTC)
    assert expected_keys("reservations", last=utc_today()) < keys, "no reservations ahead"


def test_start_date_caps_the_lookback(sandbox: SandboxProcess) -> None:
    config = sandbox_config(sandbox, start_date=days_ago(10).isoformat(), lookback_days=30)
    state = state_with("events", "Start", days_ago(5))
    result = run_sync(config, ["events"], state=state)
    assert result.error is None, result.error
    keys = set(keys_of("events", result.records["events"]))
    assert keys == expected_keys("events", days_ago(10).date())


def fault_skip_inside_the_third_window(stream: str, window_days: int, page_size: int) -> int:
    """Requests to let through so the fault hits the third window of the run's plan (from
    start_date, ``window_days`` a window): after two completed windows, on the third
    window's second page when it has one. Pages per window come from the data model: the
    API pages ``TotalCount`` records ``page_size`` at a time, one page when there are none.
    """
    first = days_ago(START_DAYS_AGO).date()
    pages = []
    for number in range(3):
        window_from = first + timedelta(days=number * window_days)
        window_to = window_from + timedelta(days=window_days - 1)
        count = len(expected_keys(stream, window_from, window_to))
        pages.append(max(1, -(-count // page_size)))
    return pages[0] + pages[1] + (1 if pages[2] > 1 else 0)


@pytest.mark.parametrize("stream", sorted(WINDOWED))
def test_an_interrupted_sync_resumed_from_its_last_state_loses_nothing(
    sandbox: SandboxProcess, monkeypatch: pytest.MonkeyPatch, stream: str
) -> None:
    stream_type = WINDOWED[stream]
    monkeypatch.setattr(stream_type, "window_size", timedelta(days=4))
    # Windows one after another (none fetched ahead): the fault's position counts requests.
    config = sandbox_config(sandbox, lookback_days=0, page_size=1, max_parallel_requests=1)
    # A fatal error in the middle of the run: after two windows, inside the third.
    skip = fault_skip_inside_the_third_window(stream, window_days=4, page_size=1)
    sandbox.add_fault("amilia", "status", path=f"{stream_type.path}$", status=400, skip=skip)
    first = run_sync(config, [stream])
    assert isinstance(first.error, FatalAPIError)
    assert first.states, "no STATE before the failure"
    bookmark = first.bookmark(stream)
    assert bookmark.date() == days_ago(START_DAYS_AGO - 8).date(), "not after two windows"
    emitted = set(keys_of(stream, first.records[stream]))
    # Everything before the bookmark was written before the bookmark was.
    assert expected_keys(stream, last=bookmark.date() - timedelta(days=1)) <= emitted

    sandbox.clear_faults()
    second = run_sync(config, [stream], state=first.final_state)
    assert second.error is None, second.error
    resumed = set(keys_of(stream, second.records[stream]))
    assert emitted | resumed == expected_keys(stream)
    assert not resumed & expected_keys(stream, last=bookmark.date() - timedelta(days=1)), (
        "the resumed run re-read windows completed before the interruption"
    )
    assert START_DAYS_AGO > 12
