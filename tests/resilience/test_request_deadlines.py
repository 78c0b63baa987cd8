"""Every request ends by its deadline: a body that trickles fails like a timeout (retried, then
one line), and a connection that cannot succeed (refused, unknown host, TLS spoken to a
plain-HTTP port) fails at once in one line naming the URL. Each tap through its CLI against the
sandbox; the time bounds are generous, only "seconds, not minutes"."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from api_sandbox.testing import SandboxProcess
from repo_support import TAPS
from resilience.tap_profiles import SCALE, SEED, profile
from resilience.tap_runner import TapRun, run_tap
from resilience.test_credentials_stay_home import CALLS, armed

REQUEST_TIMEOUT_S = 2
SECONDS_NOT_MINUTES = 30
UNREACHABLE = {
    "connection refused": ("http://127.0.0.1:9", r"127\.0\.0\.1:9 \(connection refused\)"),
    "unknown host": ("https://no-such-host.invalid", r"no-such-host\.invalid \(unknown host\)"),
    "TLS on a plain-HTTP port": (
        "https://127.0.0.1:{port}",
        r"127\.0\.0\.1:\d+ \(TLS handshake failed: [^)]+\)",
    ),
}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    with SandboxProcess(scale=SCALE, seed=SEED) as server:
        yield server


def failed_within_seconds(tap: str, config: dict[str, Any], stream: str) -> TapRun:
    """The sync of ``stream``, which must fail, without a traceback, in seconds."""
    started = time.monotonic()
    run = run_tap(tap, config, {stream}, timeout_s=120)
    elapsed = time.monotonic() - started
    assert not run.timed_out
    assert elapsed < SECONDS_NOT_MINUTES, run.stderr[-3000:]
    assert run.returncode != 0
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    return run


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("tap", TAPS)
def test_a_trickling_body_fails_like_a_timeout_within_seconds(
    tap: str, call: str, sandbox: SandboxProcess
) -> None:
    trickle = {"kind": "trickle", "count": -1, "interval_s": 1}
    tap_profile, config = armed(tap, call, sandbox, trickle)
    config = {**config, "request_timeout": REQUEST_TIMEOUT_S, "max_retries": 2}
    run = failed_within_seconds(tap, config, tap_profile.stream)
    assert "(attempt 1 of 2)" in run.stderr  # retried as a timeout is
    line = run.last_error_line
    assert "no complete answer within request_timeout" in line, line
    assert f"127.0.0.1:{sandbox.port}" in line
    assert "?" not in line  # the path only, never a query string


@pytest.mark.parametrize("failure", sorted(UNREACHABLE))
@pytest.mark.parametrize("tap", TAPS)
def test_a_connection_that_cannot_succeed_fails_at_once_naming_the_url(
    tap: str, failure: str, sandbox: SandboxProcess
) -> None:
    tap_profile = profile(tap)
    base, reason = UNREACHABLE[failure]
    here = sandbox.base_url
    config: dict[str, Any] = {
        name: value.replace(here, base.format(port=sandbox.port))
        if isinstance(value, str)
        else value
        for name, value in tap_profile.config(sandbox).items()
        if name != "max_retries"  # the default budget: none of it may be spent
    }
    run = failed_within_seconds(tap, config, tap_profile.stream)
    assert "retrying" not in run.stderr
    line = run.last_error_line
    assert re.search(rf"cannot reach \S*{reason} for \w+ /\S+; check ", line), line
    assert "?" not in line
