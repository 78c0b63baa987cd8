"""The one token protocol (the toolkit's TokenAuthenticator), as each tap uses it against the
sandbox: one renewal serves every thread that saw a 401, a 401 for a token already replaced
is retried with the new one, and refused credentials cost one token request and end the CLI
in one line."""

from __future__ import annotations

import json
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from api_sandbox.testing import SandboxProcess
from repo_support import BIN, TAPS
from resilience.tap_profiles import SCALE, SEED, profile
from resilience.tap_runner import discovered_catalog, select_only
from singer_rest_toolkit.auth import TokenAuthenticator

TOKEN_ROUTES = {
    "tap-amilia": "/authenticate",
    "tap-amperity": "/oauth2/token",
    "tap-agyletime": "/authority/token",
}
WRONG_SECRET = {
    "tap-amilia": {"password": "wrong-password-value"},
    "tap-amperity": {"client_secret": "wrong-password-value"},
    "tap-agyletime": {"access_key_secret": "wrong-password-value"},
}
THREADS = 8


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    with SandboxProcess(scale=SCALE, seed=SEED) as server:
        yield server


def token_requests(sandbox: SandboxProcess, tap: str) -> int:
    paths: dict[str, int] = sandbox.stats()[profile(tap).vendor]["paths"]
    return sum(n for path, n in paths.items() if path.endswith(TOKEN_ROUTES[tap]))


def answered_401(token: str | None) -> requests.Response:
    """A 401 answered to a request that carried ``token``."""
    response = requests.Response()
    response.status_code = 401
    headers = {"Authorization": f"Bearer {token}"}
    response.request = requests.Request("GET", "http://api.test/x", headers=headers).prepare()
    return response


def authorized(authenticator: TokenAuthenticator) -> str | None:
    """The token a request sent now would carry."""
    request = authenticator(requests.Request("GET", "http://api.test/x").prepare())
    return request.headers["Authorization"].removeprefix("Bearer ")


@pytest.mark.parametrize("tap", TAPS)
def test_one_renewal_serves_every_thread_that_saw_the_401(
    tap: str, sandbox: SandboxProcess
) -> None:
    sandbox.reset()
    tap_profile = profile(tap)
    authenticator = tap_profile.tap_class(config=tap_profile.config(sandbox)).authenticator
    assert isinstance(authenticator, TokenAuthenticator)
    first = authorized(authenticator)
    assert token_requests(sandbox, tap) == 1
    start = threading.Barrier(THREADS)

    def refused_together(_: int) -> tuple[bool, str | None]:
        start.wait()
        retry = authenticator.renew_after_401(answered_401(first))
        return retry, authorized(authenticator)

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(refused_together, range(THREADS)))
    assert all(retry for retry, _ in results), "a thread gave up after the first 401"
    renewed = {token for _, token in results}
    assert len(renewed) == 1, "the threads retried with different tokens"
    assert first not in renewed
    assert token_requests(sandbox, tap) == 2, "one renewal, not one per thread"

    # A late 401 for the replaced token: retried with the current one, nothing renewed.
    assert authenticator.renew_after_401(answered_401(first))
    assert authorized(authenticator) in renewed
    # The renewed token refused too, before any call accepted it: the credentials are refused.
    [current] = renewed
    assert not authenticator.renew_after_401(answered_401(current))
    assert token_requests(sandbox, tap) == 2


@pytest.mark.parametrize("tap", TAPS)
def test_refused_credentials_cost_one_token_request_and_end_in_one_line(
    tap: str, sandbox: SandboxProcess
) -> None:
    tap_profile = profile(tap)
    good = tap_profile.config(sandbox)
    streams = {tap_profile.stream, *tap_profile.crash_streams}
    catalog = select_only(discovered_catalog(tap, json.dumps(good, sort_keys=True)), streams)
    sandbox.reset()
    with tempfile.TemporaryDirectory() as directory:
        config_path, catalog_path = Path(directory, "config.json"), Path(directory, "catalog.json")
        config_path.write_text(json.dumps({**good, **WRONG_SECRET[tap]}), encoding="utf-8")
        catalog_path.write_text(json.dumps(catalog), encoding="utf-8")
        result = subprocess.run(
            [str(BIN / tap), "--config", str(config_path), "--catalog", str(catalog_path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1, errors
    assert f"HTTP 401 from POST /{tap_profile.vendor}" in errors[0] or (
        f"HTTP 401 from GET /{tap_profile.vendor}" in errors[0]
    )
    assert TOKEN_ROUTES[tap] in errors[0]
    assert "refused" in errors[0]
    assert "Traceback" not in result.stderr
    assert "wrong-password-value" not in result.stderr + result.stdout
    assert token_requests(sandbox, tap) == 1
