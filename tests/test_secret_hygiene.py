"""No secret, token or Authorization value reaches logs, errors, state or the catalog.

Every tap runs discover, a clean sync, a sync through retries and token expiry, and a
failing sync, at DEBUG log level; everything it prints and writes is scanned.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from api_sandbox.testing import SandboxProcess, shared_sandbox
from api_sandbox.vendors.amperity import SANDBOX_UI_TOKEN
from repo_support import BIN

SECRET_SETTINGS = {
    "tap-amilia": ("password",),
    "tap-amperity": ("client_secret",),
    "tap-agyletime": ("access_key_secret",),
}
TOKEN_PATTERNS = (
    re.compile(r"eyJ[\w-]{5,}\.[\w-]{5,}"),  # a JWT
    re.compile(r"Bearer\s+[\w.~+/-]{8,}", re.IGNORECASE),
    re.compile(r"Basic\s+[A-Za-z0-9+/]{8,}=*", re.IGNORECASE),
)


A_MONTH_AGO = (datetime.now(UTC) - timedelta(days=30)).date().isoformat()
"""start_date of every run: relative to today, so a run reads the same span on any date."""


def config_for(tap: str, sandbox: SandboxProcess) -> dict[str, Any]:
    """Sandbox credentials (distinctive strings that appear nowhere else)."""
    return {
        "tap-amilia": {
            "api_url": f"{sandbox.url('amilia')}/api/v3",
            "organization": "8008",
            "username": "sandbox@example.com",
            "password": "sandbox-password",
            "start_date": A_MONTH_AGO,
        },
        "tap-amperity": {
            "api_url": f"{sandbox.url('amperity')}/api",
            "tenant_id": "acme-sandbox",
            "client_id": "sandbox-client-id",
            "client_secret": "sandbox-client-secret",
            "start_date": A_MONTH_AGO,
        },
        "tap-agyletime": {
            "tenant_url": f"{sandbox.url('agyletime')}/tenant/api",
            "regional_url": f"{sandbox.url('agyletime')}/regional",
            "subdomain": "acme",
            "region": "eu",
            "access_key_id": "sandbox-access-key-id",
            "access_key_secret": "sandbox-access-key-secret",
            "start_date": A_MONTH_AGO,
            "max_requests_per_second": 30,  # no documented limit; the default 3/s is a courtesy
        },
    }[tap]


def run_tap(
    tap: str, config: dict[str, Any], tmp_path: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    config_file = tmp_path / f"{tap}-config.json"
    config_file.write_text(json.dumps(config), encoding="utf-8")
    return subprocess.run(
        [str(BIN / tap), "--config", str(config_file), *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env={**os.environ, "LOGLEVEL": "DEBUG"},
    )


def leaks(text: str, secrets: list[str]) -> list[str]:
    found = [f"secret {s[:4]}…" for s in secrets if s in text]
    found += [f"pattern {p.pattern}: {m[:12]}…" for p in TOKEN_PATTERNS for m in p.findall(text)]
    return found


@pytest.mark.parametrize("tap", list(SECRET_SETTINGS))
def test_no_secret_or_token_in_any_output(tap: str, tmp_path: Path) -> None:
    sandbox = shared_sandbox(scale=0.02)
    sandbox.reset()
    vendor = tap.removeprefix("tap-")
    config = config_for(tap, sandbox)
    secrets = [config[name] for name in SECRET_SETTINGS[tap]]
    secrets.append(
        base64.b64encode(
            f"{config.get('username', config.get('client_id', config.get('access_key_id')))}:{secrets[0]}".encode()
        ).decode()
    )
    outputs: list[str] = []

    discover = run_tap(tap, config, tmp_path, "--discover")
    assert discover.returncode == 0, discover.stderr[-2000:]
    catalog_file = tmp_path / "catalog.json"
    catalog_file.write_text(discover.stdout, encoding="utf-8")
    outputs += [discover.stdout, discover.stderr]

    clean = run_tap(tap, config, tmp_path, "--catalog", str(catalog_file))
    assert clean.returncode == 0, clean.stderr[-2000:]
    outputs += [clean.stdout, clean.stderr]

    sandbox.add_fault(vendor, "status", status=503, count=2)
    sandbox.add_fault(vendor, "expire_tokens", skip=3)
    retried = run_tap(tap, config, tmp_path, "--catalog", str(catalog_file))
    sandbox.clear_faults()
    assert retried.returncode == 0, retried.stderr[-2000:]
    assert "503" in retried.stderr, "the injected 503s were not retried visibly"
    outputs += [retried.stdout, retried.stderr]

    wrong = {**config, **{name: f"wrong-{config[name]}-0xC0FFEE" for name in SECRET_SETTINGS[tap]}}
    failing = run_tap(tap, wrong, tmp_path, "--catalog", str(catalog_file))
    assert failing.returncode != 0
    outputs += [failing.stdout, failing.stderr]
    secrets += [wrong[name] for name in SECRET_SETTINGS[tap]]

    found = leaks("\n".join(outputs), secrets)
    assert not found, f"{tap} leaked: {found}"


OTHER_AUTH_MODES = [
    # (tap, settings replacing the default auth mode, secret settings among them, sync succeeds)
    (
        "tap-amilia",
        {"api_key": "sandbox-api-key", "api_secret": "sandbox-api-secret"},
        ("api_secret",),
        True,
    ),
    (
        "tap-amilia",
        {"token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJmYWtlLWxlYWsifQ.c2lnbmF0dXJlLWxlYWs"},
        ("token",),
        False,
    ),
    ("tap-amperity", {"access_token": "<ui-token>"}, ("access_token",), True),
    ("tap-amperity", {"access_token": "fake-ui-token-0xBADC0DE"}, ("access_token",), False),
]
DEFAULT_AUTH = {
    "tap-amilia": ("username", "password"),
    "tap-amperity": ("client_id", "client_secret"),
}


@pytest.mark.parametrize(
    ("tap", "auth", "secret_settings", "succeeds"),
    OTHER_AUTH_MODES,
    ids=[
        f"{tap}-{'-'.join(auth)}-{'ok' if ok else 'refused'}"
        for tap, auth, _, ok in OTHER_AUTH_MODES
    ],
)
def test_other_auth_modes_leak_nothing(
    tap: str, auth: dict[str, str], secret_settings: tuple[str, ...], succeeds: bool, tmp_path: Path
) -> None:
    sandbox = shared_sandbox(scale=0.02)
    sandbox.reset()  # earlier tests on this worker's sandbox revoked tokens, the UI token too
    config = {k: v for k, v in config_for(tap, sandbox).items() if k not in DEFAULT_AUTH[tap]}
    config |= {k: SANDBOX_UI_TOKEN if v == "<ui-token>" else v for k, v in auth.items()}
    result = run_tap(tap, config, tmp_path)
    assert (result.returncode == 0) is succeeds, result.stderr[-2000:]
    found = leaks(result.stdout + result.stderr, [config[name] for name in secret_settings])
    assert not found, f"{tap} leaked: {found}"


def test_the_sandbox_logs_no_secret_or_token(tmp_path: Path) -> None:
    """A sandbox of its own, logging every request line, serves one sync of each tap."""
    with SandboxProcess("--access-log", scale=0.02) as sandbox:
        secrets = []
        for tap, settings in SECRET_SETTINGS.items():
            config = config_for(tap, sandbox)
            secrets += [config[name] for name in settings]
            assert run_tap(tap, config, tmp_path).returncode == 0
        output = sandbox.output()
    assert output.count("GET /") > 20, "the sandbox logged no requests: nothing was checked"
    assert not leaks(output, secrets)
    assert "authorization" not in output.lower()
