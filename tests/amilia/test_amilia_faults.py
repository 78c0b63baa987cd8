"""Retries, token renewal, paging glitches and errors against a hostile sandbox."""

from __future__ import annotations

import pytest
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from amilia.amilia_support import (
    amilia_stats,
    expected_keys,
    key_pair_config,
    keys_of,
    path_hits,
    run_sync,
    sandbox_config,
)
from api_sandbox.testing import SandboxProcess
from tap_amilia.client import AmiliaStream

ACCOUNTS = r"/org/8008/accounts$"
AUTHENTICATE = "/authenticate"


def assert_all_accounts(result: object) -> None:
    assert result.error is None, result.error  # type: ignore[attr-defined]
    keys = keys_of("accounts", result.records["accounts"])  # type: ignore[attr-defined]
    assert len(keys) == len(set(keys)), "an account was emitted twice"
    assert set(keys) == expected_keys("accounts")


# --- tokens ---------------------------------------------------------------------------------
def test_a_401_mid_sync_renews_the_token_once_and_loses_nothing(sandbox: SandboxProcess) -> None:
    sandbox.add_fault("amilia", "expire_tokens", path=ACCOUNTS, skip=3)
    result = run_sync(sandbox_config(sandbox), ["accounts"])
    assert_all_accounts(result)
    assert amilia_stats(sandbox)["statuses"]["401"] == 1
    assert path_hits(sandbox, AUTHENTICATE) == 2


def test_a_renewed_token_refused_again_stops_with_a_clear_error(sandbox: SandboxProcess) -> None:
    sandbox.add_fault("amilia", "status", path=ACCOUNTS, status=401, count=2)
    result = run_sync(sandbox_config(sandbox), ["accounts"])
    assert isinstance(result.error, FatalAPIError)
    message = str(result.error)
    assert message.startswith("accounts: HTTP 401 from GET /amilia/api/v3/en/org/8008/accounts:")
    assert "TransactionId" in message
    assert path_hits(sandbox, AUTHENTICATE) == 2


def test_a_401_in_key_pair_mode_is_not_retried(sandbox: SandboxProcess) -> None:
    sandbox.add_fault("amilia", "status", path=ACCOUNTS, status=401)
    result = run_sync(key_pair_config(sandbox), ["accounts"])
    assert isinstance(result.error, FatalAPIError)
    assert path_hits(sandbox, "/accounts") == 1


def test_authenticate_outage_is_retried(sandbox: SandboxProcess) -> None:
    sandbox.add_fault("amilia", "status", path=AUTHENTICATE, status=503, count=2)
    result = run_sync(sandbox_config(sandbox), ["accounts"])
    assert_all_accounts(result)
    assert path_hits(sandbox, AUTHENTICATE) == 3


# --- throttling and server errors -------------------------------------------------------------
def test_429_with_retry_after_is_honoured(sandbox: SandboxProcess) -> None:
    sandbox.add_fault("amilia", "status", path=ACCOUNTS, status=429, retry_after=0.2, skip=1)
    result = run_sync(sandbox_config(sandbox), ["accounts"])
    assert_all_accounts(result)
    assert amilia_stats(sandbox)["statuses"]["429"] == 1


def test_429_without_retry_after_backs_off_and_recovers(sandbox: SandboxProcess) -> None:
    sandbox.add_fault("amilia", "status", path=ACCOUNTS, status=429, count=3)
    result = run_sync(sandbox_config(sandbox), ["accounts"])
    assert_all_accounts(result)
    assert amilia_stats(sandbox)["statuses"]["429"] == 3


def test_the_sandbox_rate_limit_answers_429_and_the_tap_recovers(
    sandbox: SandboxProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(AmiliaStream, "retry_base_delay_s", 0.3)  # the window is a second
    sandbox.configure(rate_limits={"amilia": 5})
    config = sandbox_config(sandbox, page_size=2, max_requests_per_second=50, max_retries=8)
    result = run_sync(config, ["accounts"])
    assert_all_accounts(result)
    assert amilia_stats(sandbox)["rate_limited"] > 0


def test_pacing_keeps_under_the_sandbox_rate_limit(sandbox: SandboxProcess) -> None:
    sandbox.configure(rate_limits={"amilia": 10})
    config = sandbox_config(sandbox, page_size=2, max_requests_per_second=8)
    result = run_sync(config, ["programs"])
    assert result.error is None, result.error
    assert amilia_stats(sandbox)["rate_limited"] == 0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried(sandbox: SandboxProcess, status: int) -> None:
    sandbox.add_fault("amilia", "status", path=ACCOUNTS, status=status, count=2, skip=1)
    assert_all_accounts(run_sync(sandbox_config(sandbox), ["accounts"]))


@pytest.mark.parametrize("kind", ["html", "truncate", "reset"])
def test_broken_bodies_and_connections_are_retried(sandbox: SandboxProcess, kind: str) -> None:
    sandbox.add_fault("amilia", kind, path=ACCOUNTS, skip=2)
    assert_all_accounts(run_sync(sandbox_config(sandbox), ["accounts"]))


def test_a_slow_answer_times_out_and_is_retried(sandbox: SandboxProcess) -> None:
    sandbox.add_fault("amilia", "slow", path=ACCOUNTS, delay_s=3, skip=1)
    assert_all_accounts(run_sync(sandbox_config(sandbox, request_timeout=1), ["accounts"]))


def test_retries_are_bounded_by_max_retries(sandbox: SandboxProcess) -> None:
    sandbox.add_fault("amilia", "status", path=ACCOUNTS, status=503, count=-1)
    result = run_sync(sandbox_config(sandbox, max_retries=3), ["accounts"])
    assert isinstance(result.error, RetriableAPIError)
    assert path_hits(sandbox, "/accounts") == 3


# --- paging glitches --------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["empty_page", "repeat_page_token"])
def test_page_glitches_lose_and_repeat_nothing(sandbox: SandboxProcess, kind: str) -> None:
    sandbox.add_fault("amilia", kind, path=ACCOUNTS, skip=2)
    assert_all_accounts(run_sync(sandbox_config(sandbox), ["accounts"]))


def test_a_glitch_on_the_first_page_is_retried_too(sandbox: SandboxProcess) -> None:
    sandbox.add_fault("amilia", "repeat_page_token", path=ACCOUNTS)
    assert_all_accounts(run_sync(sandbox_config(sandbox), ["accounts"]))


# --- errors that stop a stream ------------------------------------------------------------------
@pytest.mark.parametrize("status", [400, 403, 404])
def test_client_errors_name_stream_path_and_transaction(
    sandbox: SandboxProcess, status: int
) -> None:
    sandbox.add_fault("amilia", "status", path=ACCOUNTS, status=status, skip=1)
    result = run_sync(sandbox_config(sandbox), ["accounts"])
    assert isinstance(result.error, FatalAPIError)
    message = str(result.error)
    assert message.startswith(
        f"accounts: HTTP {status} from GET /amilia/api/v3/en/org/8008/accounts: injected {status}"
    )
    assert "(TransactionId " in message
    assert "perPage" not in message, "the query string leaked into the error"
    assert "sandbox-password" not in message
    assert path_hits(sandbox, "/accounts") == 2, "a client error is not retried"


def test_an_organization_the_user_may_not_read_is_a_403(sandbox: SandboxProcess) -> None:
    result = run_sync(sandbox_config(sandbox, organization="9009"), ["locations"])
    assert isinstance(result.error, FatalAPIError)
    assert "locations: HTTP 403 from GET /amilia/api/v3/en/org/9009/locations" in str(result.error)


def test_an_unknown_organization_is_a_404(sandbox: SandboxProcess) -> None:
    result = run_sync(sandbox_config(sandbox, organization="no-such-org"), ["programs"])
    assert isinstance(result.error, FatalAPIError)
    assert "HTTP 404" in str(result.error)
    assert "organization" in str(result.error)
