"""Full syncs against the sandbox: every stream complete, both auth modes, headers, windows."""

from __future__ import annotations

import logging
import math

import pytest
from singer_sdk.exceptions import FatalAPIError

from amperity.amperity_support import (
    DEFAULT_STREAMS,
    amperity_stats,
    assert_complete,
    data,
    days_ago,
    path_hits,
    run_sync,
    sandbox_config,
)
from api_sandbox.testing import SandboxProcess
from api_sandbox.vendors.amperity import SANDBOX_UI_TOKEN, ui_token

DATED = {"audit_events", "workflow_runs", "ingest_jobs"}


def test_oauth_sync_of_every_default_stream_matches_the_sandbox(sandbox: SandboxProcess) -> None:
    result = run_sync(sandbox_config(sandbox), DEFAULT_STREAMS)
    assert result.error is None, result.error
    for stream in DEFAULT_STREAMS:
        assert_complete(stream, result.records[stream], days_ago(10) if stream in DATED else None)
    seen = amperity_stats(sandbox)["headers_seen"]
    assert set(seen["api-version"]) == {"2024-04-01", "2025-07-31"}
    assert seen["amperity-tenant"] == ["acme-sandbox"]
    assert path_hits(sandbox, "/v0/oauth2/token") == 1, "one token serves the whole run"


def test_ui_access_token_sync(sandbox: SandboxProcess) -> None:
    config = sandbox_config(sandbox, access_token=SANDBOX_UI_TOKEN)
    del config["client_id"], config["client_secret"]
    result = run_sync(config, ["segments", "profile_indexes"])
    assert result.error is None, result.error
    assert_complete("segments", result.records["segments"], None)
    assert path_hits(sandbox, "/v0/oauth2/token") == 0


@pytest.mark.parametrize("revoke", [False, True], ids=["expired", "revoked"])
def test_ui_token_rejected_stops_saying_it_expired_or_was_revoked(
    sandbox: SandboxProcess, revoke: bool
) -> None:
    token = ui_token(ttl_s=3600) if revoke else ui_token(ttl_s=1, issued_at=1_700_000_000)
    if revoke:
        sandbox.add_fault("amperity", "expire_tokens")
    config = sandbox_config(sandbox, access_token=token)
    del config["client_id"], config["client_secret"]
    result = run_sync(config, ["segments"])
    assert isinstance(result.error, FatalAPIError)
    message = str(result.error)
    assert message.startswith("segments: HTTP 401 from GET /amperity/api/segments")
    assert "expired or was revoked" in message
    assert token not in message
    assert path_hits(sandbox, "/api/segments") == 1, "a UI token is not retried"


def test_cursor_paging_reads_to_the_last_page(sandbox: SandboxProcess) -> None:
    page_size = 3
    result = run_sync(sandbox_config(sandbox, page_size=page_size), ["segments", "campaigns"])
    assert result.error is None, result.error
    for stream, count in (("segments", data().segment_count), ("campaigns", data().campaign_count)):
        assert_complete(stream, result.records[stream], None)
        # The last page is told apart by next_token absent/null/"" (the sandbox varies it).
        assert path_hits(sandbox, f"/api/{stream}") == math.ceil(count / page_size) or (
            count % page_size == 0
            and path_hits(sandbox, f"/api/{stream}") == count // page_size + 1
        )


def test_index_profiles_carry_their_index_and_discovered_attributes(
    sandbox: SandboxProcess,
) -> None:
    result = run_sync(sandbox_config(sandbox, page_size=10), ["profile_indexes", "index_profiles"])
    assert result.error is None, result.error
    assert_complete("index_profiles", result.records["index_profiles"], None)
    model = data()
    names = {name for n in range(model.index_count) for name, _ in model.index_attributes(n)}
    for record in result.records["index_profiles"]:
        assert set(record["attributes"]) <= names
    assert not any(
        "index_profiles" in s.get("bookmarks", {})
        and s["bookmarks"]["index_profiles"].get("partitions")
        for s in result.states
    ), "a full-table child keeps no state per index"


def test_workflow_task_instances_are_the_tasks_of_each_run_read(sandbox: SandboxProcess) -> None:
    result = run_sync(sandbox_config(sandbox), ("workflow_runs", "workflow_task_instances"))
    assert result.error is None, result.error
    assert result.records["workflow_task_instances"], "the runs of the last 10 days have tasks"
    assert_complete(
        "workflow_task_instances", result.records["workflow_task_instances"], days_ago(10)
    )
    model = data()
    runs = {run["id"] for run in result.records["workflow_runs"]}
    tasks = {
        (run_id, task["id"]): {**task, "workflow_run_id": run_id}
        for run_id in runs
        for task in model.workflow_task_instances(model.workflow_run_number(run_id) or -1)
    }
    for record in result.records["workflow_task_instances"]:
        assert record == tasks[(record["workflow_run_id"], record["id"])]
    assert path_hits(sandbox, "/workflow/runs/{run_id}") == len(runs), "one request per run"


def test_ingest_jobs_are_read_in_windows_of_at_most_seven_days(sandbox: SandboxProcess) -> None:
    config = sandbox_config(sandbox, start_date=days_ago(20).isoformat())
    result = run_sync(config, ["ingest_jobs"])
    assert result.error is None, result.error  # the sandbox answers 400 to a longer window
    assert_complete("ingest_jobs", result.records["ingest_jobs"], days_ago(20))
    assert path_hits(sandbox, "/api/ingest/jobs") == 3  # 20 days and a few hours: 7 + 7 + 6.x
    for record in result.records["ingest_jobs"]:
        assert record["started_at"] == min(t["started_at"] for t in record["tables"])


def test_campaign_drafts_use_the_unstable_version_and_warn_about_deprecation_once(
    sandbox: SandboxProcess, caplog: pytest.LogCaptureFixture
) -> None:
    config = sandbox_config(sandbox, include_unstable=True, page_size=1)
    with caplog.at_level(logging.WARNING):
        result = run_sync(config, ["campaign_drafts"])
    assert result.error is None, result.error
    assert_complete("campaign_drafts", result.records["campaign_drafts"], None)
    assert "unstable" in amperity_stats(sandbox)["headers_seen"]["api-version"]
    warnings = [r for r in caplog.records if "is deprecated (Deprecation:" in r.getMessage()]
    assert path_hits(sandbox, "/campaign-drafts") > 1
    assert len(warnings) == 1


def test_error_line_names_stream_status_path_and_request_id(sandbox: SandboxProcess) -> None:
    result = run_sync(sandbox_config(sandbox, api_version="2023-01-01"), ["campaigns"])
    assert isinstance(result.error, FatalAPIError)
    message = str(result.error)
    assert message.startswith("campaigns: HTTP 400 from GET /amperity/api/campaigns: ")
    assert "Unsupported api-version" in message
    assert "request_id req-" in message
    assert "?" not in message.split(": ", 2)[1], "no query string in the error"
