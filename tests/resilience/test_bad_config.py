"""Bad configurations through the real CLI: non-zero exit and a readable line naming the setting.

The runs are syncs (discovery deliberately tolerates partial config in the SDK). Config is
checked before any request, so they need no sandbox: the URLs point at a closed local port,
and a run that got as far as a request would fail without naming the setting.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from repo_support import BIN

CLOSED = "http://127.0.0.1:9"
NEXT_WEEK = (datetime.now(UTC) + timedelta(days=7)).date().isoformat()
GOOD: dict[str, dict[str, Any]] = {
    "tap-amilia": {
        "organization": "8008",
        "username": "sandbox@example.com",
        "password": "sandbox-password",
        "api_url": f"{CLOSED}/amilia/api/v3",
    },
    "tap-amperity": {
        "tenant_id": "acme-sandbox",
        "client_id": "sandbox-client-id",
        "client_secret": "sandbox-client-secret",
        "api_url": f"{CLOSED}/amperity/api",
    },
    "tap-agyletime": {
        "subdomain": "acme",
        "region": "eu",
        "access_key_id": "sandbox-access-key-id",
        "access_key_secret": "sandbox-access-key-secret",
        "tenant_url": f"{CLOSED}/agyletime/tenant/api",
        "regional_url": f"{CLOSED}/agyletime/regional",
    },
}
DROP = object()
"""Marks a setting removed from the good config."""

BAD_CONFIGS: list[tuple[str, str, dict[str, Any], str]] = [
    # (tap, what is wrong, overrides, the setting the message must name)
    ("tap-amilia", "organization missing", {"organization": DROP}, "organization"),
    ("tap-amilia", "no auth mode", {"username": DROP, "password": DROP}, "username"),
    ("tap-amilia", "two auth modes", {"token": "a.b.c"}, "token"),
    ("tap-amilia", "username without password", {"password": DROP}, "password"),
    (
        "tap-amilia",
        "api_key without api_secret",
        {"username": DROP, "password": DROP, "api_key": "k"},
        "api_secret",
    ),
    ("tap-amilia", "api_url not a URL", {"api_url": "app.amilia.com/api/v3"}, "api_url"),
    (
        "tap-amilia",
        "api_url plain http, not localhost",
        {"api_url": "http://app.amilia.com/api/v3"},
        "api_url",
    ),
    (
        "tap-amilia",
        "api_url with a port out of range",
        {"api_url": "https://app.amilia.com:99999/api/v3"},
        "api_url",
    ),
    ("tap-amilia", "unknown language", {"language": "de"}, "language"),
    ("tap-amilia", "negative page size", {"page_size": -50}, "page_size"),
    ("tap-amilia", "start_date in the future", {"start_date": NEXT_WEEK}, "start_date"),
    ("tap-amilia", "start_date not a date", {"start_date": "last tuesday"}, "start_date"),
    ("tap-amilia", "lookback_days of the wrong type", {"lookback_days": "seven"}, "lookback_days"),
    ("tap-amilia", "zero request rate", {"max_requests_per_second": 0}, "max_requests_per_second"),
    ("tap-amperity", "tenant_id missing", {"tenant_id": DROP}, "tenant_id"),
    ("tap-amperity", "no auth mode", {"client_id": DROP, "client_secret": DROP}, "client_id"),
    ("tap-amperity", "two auth modes", {"access_token": "tok"}, "access_token"),
    ("tap-amperity", "client_id without client_secret", {"client_secret": DROP}, "client_secret"),
    (
        "tap-amperity",
        "api_url with an unsupported scheme",
        {"api_url": "ftp://acme.amperity.com/api"},
        "api_url",
    ),
    (
        "tap-amperity",
        "token_url plain http, not localhost",
        {"token_url": "http://acme.amperity.com/token"},
        "token_url",
    ),
    ("tap-amperity", "zero page size", {"page_size": 0}, "page_size"),
    (
        "tap-amperity",
        "zero Profile API pace",
        {"profile_api_max_requests_per_second": 0},
        "profile_api_max_requests_per_second",
    ),
    ("tap-amperity", "start_date not a date", {"start_date": "last tuesday"}, "start_date"),
    ("tap-amperity", "start_date in the future", {"start_date": NEXT_WEEK}, "start_date"),
    (
        "tap-amperity",
        "include_unstable of the wrong type",
        {"include_unstable": "sometimes"},
        "include_unstable",
    ),
    ("tap-agyletime", "subdomain missing", {"subdomain": DROP}, "subdomain"),
    ("tap-agyletime", "unknown region", {"region": "mars"}, "region"),
    (
        "tap-agyletime",
        "access_key_secret missing",
        {"access_key_secret": DROP},
        "access_key_secret",
    ),
    (
        "tap-agyletime",
        "regional_url not a URL",
        {"regional_url": "api-eu.cloud.agyletime.io"},
        "regional_url",
    ),
    (
        "tap-agyletime",
        "tenant_url plain http, not localhost",
        {"tenant_url": "http://acme.example.com/api"},
        "tenant_url",
    ),
    ("tap-agyletime", "negative page size", {"page_size": -1}, "page_size"),
    ("tap-agyletime", "start_date in the future", {"start_date": NEXT_WEEK}, "start_date"),
    (
        "tap-agyletime",
        "request rate of the wrong type",
        {"max_requests_per_second": "fast"},
        "max_requests_per_second",
    ),
]


def bad_config(tap: str, overrides: dict[str, Any]) -> dict[str, Any]:
    config = {**GOOD[tap], **overrides}
    return {key: value for key, value in config.items() if value is not DROP}


def config_file(tmp_path: Path, config: dict[str, Any]) -> str:
    """``config`` written as a JSON file; its path."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return str(path)


def run_cli(tap: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The tap's CLI with ``args``, stdout and stderr captured."""
    return subprocess.run(
        [str(BIN / tap), *args], capture_output=True, text=True, timeout=60, check=False
    )


def assert_fails_in_one_line_naming(result: subprocess.CompletedProcess[str], name: str) -> None:
    """Non-zero exit, no output, no traceback, and readable stderr lines naming ``name``."""
    assert result.returncode != 0
    assert result.stdout == "", "the tap emitted messages despite the bad input"
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    naming = [line for line in result.stderr.splitlines() if name in line]
    assert naming, f"no line names {name!r}:\n{result.stderr[-2000:]}"
    assert all(len(line) < 400 for line in naming), "the message is not one readable line"


@pytest.mark.parametrize(
    ("tap", "overrides", "setting"),
    [(tap, overrides, setting) for tap, _, overrides, setting in BAD_CONFIGS],
    ids=[f"{tap}: {what}" for tap, what, _, _ in BAD_CONFIGS],
)
def test_bad_config_exits_non_zero_naming_the_setting(
    tap: str, overrides: dict[str, Any], setting: str, tmp_path: Path
) -> None:
    result = run_cli(tap, "--config", config_file(tmp_path, bad_config(tap, overrides)))
    assert_fails_in_one_line_naming(result, setting)


SECRET = "QSECRET987654321"
"""A distinctive secret: it must appear in no output of a failing run."""
LEAKY_CONFIGS: list[tuple[str, str, dict[str, Any], str]] = [
    # (tap, what is wrong, overrides, the setting the message must name)
    ("tap-amilia", "password a number", {"password": int(SECRET[7:])}, "password"),
    (
        "tap-amilia",
        "api_secret a list",
        {"username": DROP, "password": DROP, "api_key": "k", "api_secret": [SECRET]},
        "api_secret",
    ),
    (
        "tap-amilia",
        "token an object",
        {"username": DROP, "password": DROP, "token": {"t": SECRET}},
        "token",
    ),
    (
        "tap-amilia",
        "api_url with a key in its query string",
        {"api_url": f"https://app.amilia.com/api/v3?apikey={SECRET}"},
        "api_url",
    ),
    (
        "tap-amilia",
        "api_url with a password, unreachable",
        {"api_url": f"http://user:{SECRET}@127.0.0.1:9/amilia/api/v3", "max_retries": 1},
        "api_url",
    ),
    ("tap-amperity", "client_secret a list", {"client_secret": [SECRET]}, "client_secret"),
    (
        "tap-amperity",
        "api_url with a token in its query string",
        {"api_url": f"https://acme.amperity.com/api?token={SECRET}"},
        "api_url",
    ),
    (
        "tap-agyletime",
        "access_key_secret a number",
        {"access_key_secret": int(SECRET[7:])},
        "access_key_secret",
    ),
    (
        "tap-agyletime",
        "tenant_url with a password, unreachable",
        {"tenant_url": f"http://user:{SECRET}@127.0.0.1:9/agyletime/tenant/api", "max_retries": 1},
        "tenant_url",
    ),
]


@pytest.mark.parametrize(
    ("tap", "overrides", "setting"),
    [(tap, overrides, setting) for tap, _, overrides, setting in LEAKY_CONFIGS],
    ids=[f"{tap}: {what}" for tap, what, _, _ in LEAKY_CONFIGS],
)
def test_a_secret_in_a_bad_setting_is_never_echoed(
    tap: str, overrides: dict[str, Any], setting: str, tmp_path: Path
) -> None:
    config = config_file(tmp_path, bad_config(tap, overrides))
    for mode in ((), ("--discover",)):
        result = run_cli(tap, "--config", config, *mode)
        output = result.stdout + result.stderr
        assert SECRET[7:] not in output, f"{mode}: the secret leaked:\n{output[-2000:]}"
        if not mode:  # the sync fails, naming the setting (discovery may tolerate it)
            assert result.returncode != 0
            assert "Traceback" not in result.stderr, result.stderr[-2000:]
            assert setting in result.stderr or "cannot reach 127.0.0.1:9" in result.stderr


@pytest.mark.parametrize("tap", sorted(GOOD))
@pytest.mark.parametrize("option", ["--config", "--state", "--catalog"])
@pytest.mark.parametrize("content", [None, "{not json"], ids=["missing", "not JSON"])
def test_an_unreadable_input_file_is_one_line_naming_the_file(
    tap: str, option: str, content: str | None, tmp_path: Path
) -> None:
    bad_file = tmp_path / "input-file.json"
    if content is not None:
        bad_file.write_text(content, encoding="utf-8")
    good = ["--config", config_file(tmp_path, GOOD[tap])]
    args = ["--config", str(bad_file)] if option == "--config" else [*good, option, str(bad_file)]
    assert_fails_in_one_line_naming(run_cli(tap, *args), "input-file.json")
