"""Tokens, retries, rate limits and paging faults: nothing lost, nothing looped, clear errors."""

from __future__ import annotations

import pytest
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from amperity.amperity_support import (
    amperity_stats,
    assert_complete,
    days_ago,
    path_hits,
    run_sync,
    sandbox_config,
)
from api_sandbox.testing import SandboxProcess

TOKEN = "/v0/oauth2/token"
AUDIT = "/api/audit-events"


def audit_complete(records: list[dict[str, object]], start_days_ago: int = 10) -> None:
    assert_complete("audit_events", records, days_ago(start_days_ago))


# --- tokens ---------------------------------------------------------------------------------
def test_token_is_renewed_ahead_of_expiry_during_a_long_sync(sandbox: SandboxProcess) -> None:
    sandbox.configure(token_ttl_s={"amperity": 1.0})
    # About 20 requests at 6/s take over three seconds: three token lifetimes.
    config = sandbox_config(sandbox, page_size=1, max_requests_per_second=6)
    result = run_sync(config, ["audit_events"])
    assert result.error is None, result.error
    audit_complete(result.records["audit_events"])
    assert path_hits(sandbox, TOKEN) >= 3, "the token was not renewed"
    assert amperity_stats(sandbox)["statuses"].get("401", 0) == 0, "renewed after expiry"


def test_a_401_mid_sync_renews_the_token_once_and_loses_nothing(sandbox: SandboxProcess) -> None:
    sandbox.add_fault("amperity", "expire_tokens", path=AUDIT, skip=2)
    result = run_sync(sandbox_config(sandbox), ["audit_events"])
    assert result.error is None, result.error
    audit_complete(result.records["audit_events"])
    assert amperity_stats(sandbox)["statuses"]["401"] == 1
    assert path_hits(sandbox, TOKEN) == 2


def test_a_fresh_token_refused_again_stops_with_a_clear_error(sandbox: SandboxProcess) -> None:
    sandbox.add_fault("amperity", "status", path=AUDIT, status=401, count=2)
    result = run_sync(sandbox_config(sandbox), ["audit_events"])
    assert isinstance(result.error, FatalAPIError)
    message = str(result.error)
    assert message.startswith("audit_events: HTTP 401 from GET /amperity/api/audit-events")
    assert "freshly issued token was refused" in message
    assert path_hits(sandbox, TOKEN) == 2


def test_wrong_client_secret_fails_naming_the_settings(sandbox: SandboxProcess) -> None:
    result = run_sync(sandbox_config(sandbox, client_secret="not-the-secret"), ["segments"])
    assert isinstance(result.error, FatalAPIError)
    message = str(result.error)
    assert "HTTP 401 from POST /amperity/api/v0/oauth2/token" in message
    assert "client_id, client_secret" in message
    assert "not-the-secret" not in message
    assert path_hits(sandbox, TOKEN) == 1, "refused credentials are not retried"


def test_token_endpoint_outage_is_retried(sandbox: SandboxProcess) -> None:
    sandbox.add_fault("amperity", "status", path=TOKEN, status=503, count=2)
    result = run_sync(sandbox_config(sandbox), ["segments"])
    assert result.error is None, result.error
    assert path_hits(sandbox, TOKEN) == 3
    assert_complete("segments", result.records["segments"], None)


# --- retries --------------------------------------------------------------------------------
def test_a_429_storm_is_ridden_out(sandbox: SandboxProcess) -> None:
    sandbox.add_fault("amperity", "status", path=AUDIT, status=429, count=3, skip=1)
    result = run_sync(sandbox_config(sandbox), ["audit_events"])
    assert result.error is None, result.error
    audit_complete(result.records["audit_events"])
    assert amperity_stats(sandbox)["statuses"]["429"] == 3


def test_retries_are_bounded(sandbox: SandboxProcess) -> None:
    sandbox.add_fault("amperity", "status", path=AUDIT, status=429, count=-1)
    result = run_sync(sandbox_config(sandbox, max_retries=3), ["audit_events"])
    assert isinstance(result.error, RetriableAPIError)
    assert str(result.error).startswith(
        "audit_events: HTTP 429 from GET /amperity/api/audit-events"
    )
    assert path_hits(sandbox, AUDIT) == 3


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "status", "status": 500},
        {"kind": "status", "status": 502},
        {"kind": "status", "status": 503},
        {"kind": "status", "status": 504},
        {"kind": "html"},
        {"kind": "truncate"},
        {"kind": "reset"},
        {"kind": "slow", "delay_s": 2.0},
    ],
    ids=lambda f: f.get("kind") + str(f.get("status", "")),
)
def test_transient_faults_mid_listing_are_retried_without_loss(
    sandbox: SandboxProcess, fault: dict[str, object]
) -> None:
    sandbox.add_fault("amperity", path=AUDIT, skip=1, count=2, **fault)
    result = run_sync(sandbox_config(sandbox, request_timeout=1), ["audit_events"])
    assert result.error is None, result.error
    audit_complete(result.records["audit_events"])


# --- paging faults ----------------------------------------------------------------------------
def test_an_empty_page_that_points_further_is_followed(sandbox: SandboxProcess) -> None:
    sandbox.add_fault("amperity", "empty_page", path=AUDIT, skip=1)
    result = run_sync(sandbox_config(sandbox), ["audit_events"])
    assert result.error is None, result.error
    audit_complete(result.records["audit_events"])


def test_a_repeated_page_token_stops_loudly(sandbox: SandboxProcess) -> None:
    sandbox.add_fault("amperity", "repeat_page_token", path=AUDIT, skip=1)
    result = run_sync(sandbox_config(sandbox), ["audit_events"])
    assert isinstance(result.error, FatalAPIError)
    assert "same next_token twice" in str(result.error)


# --- pacing ---------------------------------------------------------------------------------
def test_pacing_at_the_documented_limit_never_meets_a_429(sandbox: SandboxProcess) -> None:
    sandbox.configure(rate_limits={"amperity": 10})
    config = sandbox_config(sandbox, page_size=2, max_requests_per_second=10)
    result = run_sync(config, ["segments", "campaigns", "profile_indexes", "index_profiles"])
    assert result.error is None, result.error
    stats = amperity_stats(sandbox)
    assert stats["requests"] > 15, "too few requests to test pacing"
    assert stats["rate_limited"] == 0
