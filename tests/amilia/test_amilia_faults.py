"""Retries, token renewal, paging glitches and errors against a hostile sandbox."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

import pytest
import requests
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
BASE_DELAY_S = 0.01
"""First backoff wait of these tests (the production base is one second)."""
MAX_BACKOFF_S = 60.0
"""The README's cap on a backoff wait without Retry-After."""


def assert_all_accounts(result: object) -> None:
    assert result.error is None, result.error  # type: ignore[attr-defined]
    keys = keys_of("accounts", result.records["accounts"])  # type: ignore[attr-defined]
    assert len(keys) == len(set(keys)), "an account was emitted twice"
    assert set(keys) == expected_keys("accounts")


@dataclass(frozen=True)
class Call:
    """One HTTP exchange as the tap's client saw it."""

    url: str
    status: int
    sent: float
    answered: float


def record_calls(monkeypatch: pytest.MonkeyPatch) -> list[Call]:
    """Every request the tap sends, with when it was sent and when its answer arrived."""
    calls: list[Call] = []
    send = requests.Session.send

    def recording(
        self: requests.Session, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        sent = time.monotonic()
        response = send(self, request, **kwargs)
        calls.append(Call(str(request.url), response.status_code, sent, time.monotonic()))
        return response

    monkeypatch.setattr(requests.Session, "send", recording)
    return calls


def record_backoff_waits(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, float]]:
    """(attempt that failed, wait before the next one) of every retry, as backoff planned it."""
    waits: list[tuple[int, float]] = []
    handler = AmiliaStream.backoff_handler

    def recording(self: AmiliaStream, details: Any) -> None:
        waits.append((details["tries"], details["wait"]))
        handler(self, details)

    monkeypatch.setattr(AmiliaStream, "backoff_handler", recording)
    return waits


def retries_after_429(calls: list[Call]) -> list[tuple[Call, Call]]:
    """Each 429 answer and the request that followed it (the retry of the same URL)."""
    ordered = sorted(calls, key=lambda c: c.sent)
    pairs = [(c, n) for c, n in itertools.pairwise(ordered) if c.status == 429]
    for throttled, retry in pairs:
        assert retry.url == throttled.url, "the request after a 429 is not its retry"
    return pairs


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
def test_429_with_retry_after_is_honoured(
    sandbox: SandboxProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    retry_after_s = 1  # whole seconds, as HTTP sends it; 100 times the backoff base
    monkeypatch.setattr(AmiliaStream, "retry_base_delay_s", BASE_DELAY_S)
    calls = record_calls(monkeypatch)
    waits = record_backoff_waits(monkeypatch)
    sandbox.add_fault(
        "amilia", "status", path=ACCOUNTS, status=429, retry_after=retry_after_s, skip=1
    )
    result = run_sync(sandbox_config(sandbox), ["accounts"])
    assert_all_accounts(result)
    assert amilia_stats(sandbox)["statuses"]["429"] == 1
    assert len(waits) == 1, waits
    assert waits[0][1] >= retry_after_s, (
        f"planned {waits[0][1]} s, Retry-After said {retry_after_s}"
    )
    [(throttled, retry)] = retries_after_429(calls)
    waited = retry.sent - throttled.answered
    assert waited >= retry_after_s, (
        f"retried after {waited:.3f} s, Retry-After said {retry_after_s}"
    )


def test_429_without_retry_after_backs_off_exponentially_with_full_jitter(
    sandbox: SandboxProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(AmiliaStream, "retry_base_delay_s", BASE_DELAY_S)
    calls = record_calls(monkeypatch)
    waits = record_backoff_waits(monkeypatch)
    throttled = 7  # the README's default max_retries is 8 tries: 7 retries, the last succeeds
    sandbox.add_fault("amilia", "status", path=ACCOUNTS, status=429, count=throttled)
    result = run_sync(sandbox_config(sandbox, max_retries=8), ["accounts"])
    assert_all_accounts(result)
    assert amilia_stats(sandbox)["statuses"]["429"] == throttled
    # README: without Retry-After the wait doubles from the base, capped at 60 s, with full
    # jitter: the n-th retry (from 0) waits anywhere in [0, min(base * 2**n, 60)].
    assert [tries for tries, _ in waits] == list(range(1, throttled + 1))
    bounds = [min(BASE_DELAY_S * 2**n, MAX_BACKOFF_S) for n in range(throttled)]
    assert bounds == sorted(bounds)
    for n, ((_, wait), bound) in enumerate(zip(waits, bounds, strict=True)):
        assert 0 <= wait <= bound + 1e-9, f"retry {n} waited {wait} s, the bound is {bound}"
    # Jittered: not every wait is its bound (each is one with probability 0 under full jitter).
    assert any(wait < bound for (_, wait), bound in zip(waits, bounds, strict=True)), waits
    # Growing: a wait that never passed the base would stay under it; under full jitter the
    # last five all do so with probability 1/4 * 1/8 * ... * 1/64 (about one in a million).
    assert max(wait for _, wait in waits[2:]) > BASE_DELAY_S, waits
    # And each planned wait was really waited before the retry went out.
    pairs = retries_after_429(calls)
    assert len(pairs) == throttled
    for (_, wait), (answer, retry) in zip(waits, pairs, strict=True):
        waited = retry.sent - answer.answered
        assert waited >= wait, f"planned {wait} s but retried after {waited} s"


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
