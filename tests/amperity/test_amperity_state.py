"""Bookmarks and resuming: the next run starts where the last one ended, nothing is lost."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from amperity.amperity_support import (
    assert_complete,
    data,
    days_ago,
    expected_keys,
    keys_of,
    run_sync,
    sandbox_config,
)
from api_sandbox.testing import SandboxProcess
from calendar_support import midnight
from singer_rest_toolkit.dates import parse_instant
from singer_rest_toolkit.inputs import BadInputFileError
from tap_amperity.tap import TapAmperity


def test_audit_events_resume_from_the_bookmark(sandbox: SandboxProcess) -> None:
    model = data()
    cut = model.audit_event_range(days_ago(10), days_ago(4))
    first = run_sync(sandbox_config(sandbox), ["audit_events"])
    assert first.error is None, first.error
    bookmark = first.bookmark("audit_events")
    newest = model.audit_event_time(model.audit_timeline.count - 1)
    assert bookmark == newest
    # A state from the middle of the history: the next run reads from there (inclusive).
    middle = model.audit_event(cut.stop - 1)["happened_at"]
    state = {
        "bookmarks": {
            "audit_events": {"replication_key": "happened_at", "replication_key_value": middle}
        }
    }
    second = run_sync(sandbox_config(sandbox), ["audit_events"], state=state)
    assert second.error is None, second.error
    assert_complete(
        "audit_events", second.records["audit_events"], model.audit_event_time(cut.stop - 1)
    )


def test_workflow_runs_reread_the_lookback_window(sandbox: SandboxProcess) -> None:
    model = data()
    first = run_sync(sandbox_config(sandbox), ["workflow_runs"])
    assert first.error is None, first.error
    assert_complete("workflow_runs", first.records["workflow_runs"], days_ago(10))
    bookmark = first.bookmark("workflow_runs")
    second = run_sync(
        sandbox_config(sandbox, workflow_lookback_days=2), ["workflow_runs"], first.final_state
    )
    assert second.error is None, second.error
    assert set(keys_of("workflow_runs", second.records["workflow_runs"])) == expected_keys(
        "workflow_runs", bookmark - timedelta(days=2)
    )
    assert second.bookmark("workflow_runs") == bookmark, "the bookmark never moves back"
    assert model.workflow_run_range(bookmark - timedelta(days=2), None)


def test_ingest_jobs_interrupted_mid_run_resume_without_loss(sandbox: SandboxProcess) -> None:
    # Windows one after another (none fetched ahead): the fault's position counts requests.
    config = sandbox_config(
        sandbox, start_date=days_ago(20).isoformat(), max_retries=2, max_parallel_requests=1
    )
    sandbox.add_fault("amperity", "status", path="/api/ingest/jobs", status=500, skip=1, count=-1)
    first = run_sync(config, ["ingest_jobs"])
    assert first.error is not None, "the second window should have failed"
    bookmark = first.bookmark("ingest_jobs")
    assert bookmark == days_ago(20) + timedelta(days=7), "the bookmark is the first window's end"
    sandbox.clear_faults()
    second = run_sync(config, ["ingest_jobs"], first.final_state)
    assert second.error is None, second.error
    both = first.records["ingest_jobs"] + second.records["ingest_jobs"]
    assert set(keys_of("ingest_jobs", both)) == expected_keys("ingest_jobs", days_ago(20))
    # The resumed run starts a day before the bookmark (jobs still running), not at the start.
    assert_complete("ingest_jobs", second.records["ingest_jobs"], bookmark - timedelta(days=1))


DATED_KEYS = {
    "audit_events": "happened_at",
    "workflow_runs": "created_at",
    "ingest_jobs": "started_at",
}


def state_with(stream: str, value: str) -> dict[str, object]:
    key = DATED_KEYS[stream]
    return {"bookmarks": {stream: {"replication_key": key, "replication_key_value": value}}}


@pytest.mark.parametrize("stream", sorted(DATED_KEYS))
def test_a_bookmark_later_than_now_is_read_as_now_with_one_warning(
    sandbox: SandboxProcess, caplog: pytest.LogCaptureFixture, stream: str
) -> None:
    # Small pages: the bookmark is read once per run, not once per page.
    config = sandbox_config(sandbox, page_size=1)
    with caplog.at_level(logging.WARNING):
        result = run_sync(config, [stream], state_with(stream, "2099-01-01T00:00:00Z"))
    assert result.error is None, result.error
    warnings = [r.getMessage() for r in caplog.records if "is later than now" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"{stream}: the bookmark 2099-01-01T00:00:00Z in the state")


@pytest.mark.parametrize("with_start_date", [True, False], ids=["start_date", "no start_date"])
@pytest.mark.parametrize("stream", sorted(DATED_KEYS))
def test_a_bookmark_that_is_not_a_date_time_is_refused_before_any_request(
    sandbox: SandboxProcess, stream: str, with_start_date: bool
) -> None:
    config = sandbox_config(sandbox)
    if not with_start_date:
        del config["start_date"]
    with pytest.raises(BadInputFileError) as refused:  # the state is checked as the tap is built
        TapAmperity(config=config, state=state_with(stream, "yesterday"))
    assert refused.value.problem == (
        f"{stream}: the bookmark {DATED_KEYS[stream]!r} in the state is not a date-time: "
        "'yesterday'; fix or remove this stream's entry in the state"
    )


def test_a_bad_bookmark_through_the_cli_is_one_line(
    sandbox: SandboxProcess, tmp_path: Path
) -> None:
    # The tap's process runs on the real clock, whatever the test's: no start_date of the
    # test's clock, which could lie in that process's future.
    settings = {k: v for k, v in sandbox_config(sandbox).items() if k != "start_date"}
    config = tmp_path / "config.json"
    config.write_text(json.dumps(settings), encoding="utf-8")
    state = tmp_path / "state.json"
    state.write_text(json.dumps(state_with("audit_events", "yesterday")), encoding="utf-8")
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "tap-amperity"),
            *("--config", str(config), "--state", str(state)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    lines = [line for line in run.stderr.splitlines() if "is not a date-time" in line]
    assert len(lines) == 1, run.stderr[-2000:]
    assert "audit_events: the bookmark 'happened_at' in the state" in lines[0]


SEARCH_FROM = date(2025, 6, 2)
"""Where the search for a long run starts: a fixed date, so the test never depends on today."""


def long_run() -> tuple[int, date, date]:
    """(index, first day, later day) of a run the model has created before the first day's
    midnight, still running then, and ended by the later day's midnight; another run is
    created after it before that midnight, so the bookmark passes it."""
    model = data(SEARCH_FROM)
    timeline = model.workflow_timeline
    for index in range(timeline.slot_of(midnight(SEARCH_FROM)), 10**6):
        created = model.workflow_run_time(index)
        first_day = created.date() + timedelta(days=1)
        if model.workflow_run_end(index) >= midnight(first_day) and model.workflow_run_time(
            index + 1
        ) < midnight(first_day):
            return index, first_day, model.workflow_run_end(index).date() + timedelta(days=1)
    raise AssertionError("the model holds no run that outlives its day")


def test_a_run_running_at_one_sync_arrives_with_its_final_state_at_the_next(
    sandbox: SandboxProcess,
) -> None:
    index, first_day, later_day = long_run()
    config = sandbox_config(
        sandbox,
        start_date=midnight(first_day - timedelta(days=10)).isoformat(),
        workflow_lookback_days=0,
    )
    then, later = data(first_day), data(later_day)
    try:
        sandbox.set_clock(midnight(first_day) + timedelta(hours=1))
        first = run_sync(config, ["workflow_runs"])
        assert first.error is None, first.error
        running = then.workflow_run(index)
        assert running["state"] == "started"
        assert "ended_at" not in running
        assert running in first.records["workflow_runs"]
        bookmark = first.bookmark("workflow_runs")
        assert bookmark > parse_instant(running["created_at"]), "the bookmark passed the run"

        sandbox.set_clock(midnight(later_day) + timedelta(hours=1))
        second = run_sync(config, ["workflow_runs"], first.final_state)
        assert second.error is None, second.error
    finally:
        sandbox.set_clock(datetime.now(UTC))
    final = later.workflow_run(index)
    assert final["state"] != "started"
    assert final in second.records["workflow_runs"], "the run's final state never arrived"
    keys = keys_of("workflow_runs", second.records["workflow_runs"])
    assert len(keys) == len(set(keys)), "a run was written twice"
    assert set(keys) == {
        later.workflow_run(i)["id"] for i in later.workflow_runs_active_since(bookmark)
    }


@pytest.mark.parametrize(("age_days", "warned"), [(8, True), (6, False)])
def test_ingest_jobs_warn_once_when_the_bookmark_is_older_than_the_retention(
    sandbox: SandboxProcess, caplog: pytest.LogCaptureFixture, age_days: int, warned: bool
) -> None:
    bookmark = datetime.now(UTC) - timedelta(days=age_days)
    state = {
        "bookmarks": {
            "ingest_jobs": {
                "replication_key": "started_at",
                "replication_key_value": bookmark.isoformat(),
            }
        }
    }
    caplog.set_level(logging.WARNING)
    config = sandbox_config(sandbox, start_date=days_ago(20).isoformat())
    result = run_sync(config, ["ingest_jobs"], state)
    assert result.error is None, result.error
    lines = [
        r.getMessage()
        for r in caplog.records
        if "retention" in r.getMessage() and "ingest_jobs" in r.getMessage()
    ]
    assert len(lines) == (1 if warned else 0), lines
    if warned:
        assert bookmark.isoformat() in lines[0]
        assert "7 days" in lines[0]
