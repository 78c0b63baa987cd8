"""Bookmarks and resuming: the next run starts where the last one ended, nothing is lost."""

from __future__ import annotations

from datetime import timedelta

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
    config = sandbox_config(sandbox, start_date=days_ago(20).isoformat(), max_retries=2)
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
