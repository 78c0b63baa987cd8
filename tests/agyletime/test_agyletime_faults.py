"""Tokens, retries and errors against a hostile sandbox: nothing lost, nothing looped, clear errors."""

from __future__ import annotations

import pytest
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from agyletime.agyletime_support import (
    agyletime_stats,
    days_ago,
    expected_keys,
    keys_of,
    path_hits,
    run_sync,
    sandbox_config,
)
from api_sandbox.testing import SandboxProcess
from tap_agyletime.streams import TasksStream

TOKEN = "/authority/token"
TASKS = "/workactivity/tasks"


def assert_all_tasks(records: list[dict[str, object]], start_days_ago: int = 10) -> None:
    keys = keys_of("tasks", records)
    assert len(keys) == len(set(keys)), "a task was emitted twice"
    assert set(keys) == expected_keys("tasks", days_ago(start_days_ago))


# --- tokens ---------------------------------------------------------------------------------
def test_token_is_renewed_ahead_of_expiry_during_a_long_sync(sandbox: SandboxProcess) -> None:
    sandbox.configure(token_ttl_s={"agyletime": 1.0})
    # 20 requests at 6/s take over three seconds: three token lifetimes.
    config = sandbox_config(sandbox, page_size=3, max_requests_per_second=6)
    config["start_date"] = days_ago(3).isoformat()
    result = run_sync(config, ["tasks", "users"])
    assert result.error is None, result.error
    assert_all_tasks(result.records["tasks"], start_days_ago=3)
    stats = agyletime_stats(sandbox)
    assert path_hits(sandbox, TOKEN) >= 3, "the token was not renewed"
    assert stats["statuses"].get("401", 0) == 0, "renewal came after expiry, not ahead of it"


def test_a_401_mid_sync_renews_the_token_once_and_loses_nothing(sandbox: SandboxProcess) -> None:
    sandbox.add_fault("agyletime", "expire_tokens", path=TASKS, skip=2)
    result = run_sync(sandbox_config(sandbox), ["tasks"])
    assert result.error is None, result.error
    assert_all_tasks(result.records["tasks"])
    assert agyletime_stats(sandbox)["statuses"]["401"] == 1
    assert path_hits(sandbox, TOKEN) == 2


def test_a_fresh_token_refused_again_stops_with_a_clear_error(sandbox: SandboxProcess) -> None:
    sandbox.add_fault("agyletime", "status", path=TASKS, status=401, count=2)
    result = run_sync(sandbox_config(sandbox), ["tasks"])
    assert isinstance(result.error, FatalAPIError)
    message = str(result.error)
    assert message.startswith("tasks: HTTP 401 from GET /agyletime/tenant/api/workactivity/tasks")
    assert "freshly issued token was refused" in message
    assert path_hits(sandbox, TOKEN) == 2


def test_wrong_access_key_fails_naming_the_settings(sandbox: SandboxProcess) -> None:
    config = sandbox_config(sandbox, access_key_secret="not-the-secret")
    result = run_sync(config, ["users"])
    assert isinstance(result.error, FatalAPIError)
    message = str(result.error)
    assert "HTTP 401 from POST /agyletime/tenant/api/authority/token" in message
    assert "access_key_id and access_key_secret" in message
    assert "not-the-secret" not in message
    assert path_hits(sandbox, TOKEN) == 1, "a refused key is not retried"


def test_token_endpoint_outage_is_retried(sandbox: SandboxProcess) -> None:
    sandbox.add_fault("agyletime", "status", path=TOKEN, status=503, count=2)
    result = run_sync(sandbox_config(sandbox), ["users"])
    assert result.error is None, result.error
    assert path_hits(sandbox, TOKEN) == 3
    assert len(result.records["users"]) == len(expected_keys("users", days_ago(0)))


# --- retries --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        ("status", {"status": 500, "count": 2}),
        ("status", {"status": 502, "count": 1}),
        ("status", {"status": 429, "count": 2, "retry_after": 0.1}),
        ("status", {"status": 429, "count": 1}),
        ("html", {"count": 1}),
        ("truncate", {"count": 1}),
        ("reset", {"count": 1}),
        ("empty_page", {"count": 2, "skip": 1}),
    ],
)
def test_transient_faults_are_retried_without_losing_records(
    sandbox: SandboxProcess, kind: str, fields: dict[str, object]
) -> None:
    sandbox.add_fault("agyletime", kind, path=TASKS, skip=fields.pop("skip", 1), **fields)
    result = run_sync(sandbox_config(sandbox), ["tasks"])
    assert result.error is None, result.error
    assert_all_tasks(result.records["tasks"])


def test_slow_responses_time_out_and_are_retried(sandbox: SandboxProcess) -> None:
    sandbox.add_fault("agyletime", "slow", path=TASKS, skip=1, delay_s=3)
    result = run_sync(sandbox_config(sandbox, request_timeout=1), ["tasks"])
    assert result.error is None, result.error
    assert_all_tasks(result.records["tasks"])


def test_retries_are_bounded_by_max_retries(sandbox: SandboxProcess) -> None:
    sandbox.add_fault("agyletime", "status", path=TASKS, status=503, count=-1)
    result = run_sync(sandbox_config(sandbox, max_retries=3), ["tasks"])
    assert isinstance(result.error, RetriableAPIError)
    assert str(result.error).startswith("tasks: HTTP 503 from GET /agyletime/tenant/api/")
    assert path_hits(sandbox, TASKS) == 3


def test_a_repeated_page_token_stops_the_stream(sandbox: SandboxProcess) -> None:
    sandbox.add_fault("agyletime", "repeat_page_token", path=TASKS, skip=1)
    result = run_sync(sandbox_config(sandbox), ["tasks"])
    assert isinstance(result.error, FatalAPIError)
    assert "tasks: the API sent the same nextPageToken twice" in str(result.error)


# --- errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "code"), [(400, "BadRequest"), (409, "Conflict"), (422, "UnprocessableEntity")]
)
def test_jsend_errors_become_one_line_naming_stream_status_path_and_message(
    sandbox: SandboxProcess, status: int, code: str
) -> None:
    sandbox.add_fault("agyletime", "status", path=TASKS, status=status)
    result = run_sync(sandbox_config(sandbox), ["tasks"])
    assert isinstance(result.error, FatalAPIError)
    assert str(result.error) == (
        f"tasks: HTTP {status} from GET /agyletime/tenant/api/workactivity/tasks: "
        f"injected {status} (code {code})"
    )
    assert path_hits(sandbox, TASKS) == 1, "a 4xx is not retried"


def test_field_errors_of_the_api_reach_the_message(
    sandbox: SandboxProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TasksStream, "window_params", ("startTime", "endTime"))
    result = run_sync(sandbox_config(sandbox), ["tasks"])
    assert isinstance(result.error, FatalAPIError)
    message = str(result.error)
    assert "startTime (UNDEFINED): Field is not allowed" in message
    assert "taskStartTimeFrom (MISSING): Field is required" in message
    assert "?" not in message, "no query string in errors"


def test_a_forbidden_stream_says_which_stream_to_deselect(sandbox: SandboxProcess) -> None:
    sandbox.add_fault("agyletime", "status", path="/schedule/metrics", status=403, count=-1)
    result = run_sync(sandbox_config(sandbox), ["users", "schedule_metrics"])
    assert isinstance(result.error, FatalAPIError)
    assert "schedule_metrics: HTTP 403" in str(result.error)
    assert "deselect the 'schedule_metrics' stream" in str(result.error)


def test_a_wrong_regional_url_gets_a_404_naming_the_stream(sandbox: SandboxProcess) -> None:
    config = sandbox_config(sandbox, regional_url=f"{sandbox.url('agyletime')}/nowhere")
    result = run_sync(config, ["users"])
    assert isinstance(result.error, FatalAPIError)
    message = str(result.error)
    assert message.startswith("users: HTTP 404 from GET /agyletime/nowhere/organisation/users")
    assert "Resource not found (code NotFound)" in message
    assert "regional_url" in message
