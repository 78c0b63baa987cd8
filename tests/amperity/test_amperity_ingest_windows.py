"""ingest_jobs through the CLI: a window holding more than a page's worth of jobs is read in
smaller spans without losing or repeating a job; the retention warning whatever sets the
start of the range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from amperity.amperity_support import (
    assert_complete,
    days_ago,
    expected_keys,
    path_hits,
    sandbox_config,
)
from api_sandbox.testing import SandboxProcess
from resilience.tap_runner import run_tap

TAP = "tap-amperity"
RETENTION_WORDS = "older than the API's retention"


def test_a_crowded_window_is_read_in_smaller_spans_without_losing_a_job(
    sandbox: SandboxProcess,
) -> None:
    start = days_ago(42)
    expected = expected_keys("ingest_jobs", start)
    assert len(expected) >= 12, "too few jobs in the sandbox to crowd a window"
    # A page's worth is 2 jobs: every 7-day window of the range holds more.
    config = sandbox_config(sandbox, page_size=2, start_date=start.isoformat())
    run = run_tap(TAP, config, {"ingest_jobs"})
    assert run.returncode == 0, run.last_error_line
    assert_complete("ingest_jobs", run.records["ingest_jobs"], start)
    windows = 7  # 42 days and today's part, in 7-day windows
    assert path_hits(sandbox, "/ingest/jobs") > windows, "no window was split"
    bookmark = run.states[-1]["bookmarks"]["ingest_jobs"]["replication_key_value"]
    assert datetime.fromisoformat(bookmark) > datetime.now(UTC) - timedelta(minutes=5)


def test_a_sparse_tenant_is_read_in_whole_windows(sandbox: SandboxProcess) -> None:
    start = days_ago(42)
    config = sandbox_config(sandbox, page_size=1000, start_date=start.isoformat())
    run = run_tap(TAP, config, {"ingest_jobs"})
    assert run.returncode == 0, run.last_error_line
    assert_complete("ingest_jobs", run.records["ingest_jobs"], start)
    assert path_hits(sandbox, "/ingest/jobs") == 7


def test_a_start_date_before_the_retention_is_warned_about(sandbox: SandboxProcess) -> None:
    start = days_ago(20)
    run = run_tap(TAP, sandbox_config(sandbox, start_date=start.isoformat()), {"ingest_jobs"})
    assert run.returncode == 0, run.last_error_line
    lines = [line for line in run.stderr.splitlines() if RETENTION_WORDS in line]
    assert len(lines) == 1, lines
    assert "start_date" in lines[0]
    assert start.date().isoformat() in lines[0]


def test_a_recent_start_date_is_not_warned_about(sandbox: SandboxProcess) -> None:
    start = datetime.now(UTC) - timedelta(days=3)
    run = run_tap(TAP, sandbox_config(sandbox, start_date=start.isoformat()), {"ingest_jobs"})
    assert run.returncode == 0, run.last_error_line
    assert RETENTION_WORDS not in run.stderr
