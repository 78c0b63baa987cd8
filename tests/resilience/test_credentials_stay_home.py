"""Credentials stay with their host: a redirect to another host is refused in one line naming
both hosts, and that host receives nothing; a redirect on the same host is followed. Each tap,
through its CLI against the sandbox, for data calls and for token calls."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from api_sandbox.testing import RequestRecorder, SandboxProcess
from repo_support import TAPS
from resilience.tap_profiles import SCALE, SEED, TapProfile, profile
from resilience.tap_runner import TapRun, run_tap

REDIRECTS = (301, 302, 307, 308)
CALLS = ("data", "token")
RUN_TIMEOUT_S = 90


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    with SandboxProcess(scale=SCALE, seed=SEED) as server:
        yield server


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[RequestRecorder]:
    with RequestRecorder() as recorder:
        yield recorder


def call_setup(
    tap_profile: TapProfile, call: str, sandbox: SandboxProcess
) -> tuple[dict[str, Any], str, int]:
    """(config, route, requests let through first) of ``call``: data calls from the stream's
    second page on, with the tap's per-call credentials where it has them (Amilia's key pair
    in headers); the token request from the first."""
    config = tap_profile.config(sandbox)
    if call == "token":
        return config, tap_profile.token_route, 0
    data_config = {**config, **tap_profile.header_credentials}
    return {k: v for k, v in data_config.items() if v is not None}, tap_profile.route, 1


def armed(
    tap: str, call: str, sandbox: SandboxProcess, *faults: dict[str, Any]
) -> tuple[TapProfile, dict[str, Any]]:
    """The tap's profile and the config of ``call``, the sandbox reset and ``faults`` armed
    on that call's route."""
    tap_profile = profile(tap)
    config, route, skip = call_setup(tap_profile, call, sandbox)
    sandbox.reset()
    for fault in faults:
        sandbox.add_fault(tap_profile.vendor, path=route, skip=skip, **fault)
    return tap_profile, config


def secrets_of(tap_profile: TapProfile, config: dict[str, Any]) -> list[str]:
    """The values of the settings the tap declares secret."""
    properties = tap_profile.tap_class.config_jsonschema["properties"]
    return [
        str(value)
        for name, value in config.items()
        if properties.get(name, {}).get("secret") and value
    ]


def synced(tap_profile: TapProfile, config: dict[str, Any]) -> TapRun:
    return run_tap(tap_profile.tap, config, {tap_profile.stream}, timeout_s=RUN_TIMEOUT_S)


@pytest.mark.parametrize("status", REDIRECTS)
@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("tap", TAPS)
def test_a_redirect_to_another_host_is_refused_and_that_host_receives_nothing(
    tap: str, call: str, status: int, sandbox: SandboxProcess, elsewhere: RequestRecorder
) -> None:
    elsewhere.received.clear()
    redirect = {"kind": "redirect", "status": status, "count": -1, "target": elsewhere.base_url}
    tap_profile, config = armed(tap, call, sandbox, redirect)
    run = synced(tap_profile, config)
    assert not run.timed_out
    assert run.returncode != 0
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    assert elsewhere.received == []
    line = run.last_error_line
    here, there = f"127.0.0.1:{sandbox.port}", elsewhere.base_url.removeprefix("http://")
    assert re.search(
        rf"{tap_profile.stream}: refused a redirect \(HTTP {status}\) of \w+ \S+ "
        rf"from {re.escape(here)} to {re.escape(there)}: ",
        line,
    ), line
    assert len(line) < 400
    for secret in secrets_of(tap_profile, config):
        assert secret not in run.stderr
    statuses = sandbox.stats()[tap_profile.vendor]["statuses"]
    assert statuses.get(str(status)) == 1, statuses  # refused at once, never retried


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("tap", TAPS)
def test_redirects_on_the_same_host_are_followed(
    tap: str, call: str, sandbox: SandboxProcess
) -> None:
    # One request is redirected four times in a row.
    redirects = ({"kind": "redirect", "status": status, "count": 1} for status in REDIRECTS)
    tap_profile, config = armed(tap, call, sandbox, *redirects)
    run = synced(tap_profile, config)
    assert run.returncode == 0, run.stderr[-3000:]
    keys = [tap_profile.record_key(r) for r in run.records.get(tap_profile.stream, [])]
    assert len(keys) == len(set(keys))
    assert set(keys) == tap_profile.expected_keys()
    statuses = sandbox.stats()[tap_profile.vendor]["statuses"]
    assert all(statuses.get(str(status)) == 1 for status in REDIRECTS), statuses
