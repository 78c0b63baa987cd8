"""`python -m api_sandbox` refuses bad numbers in one line, before it binds a port.

Every case exits 2 with a single argparse line naming the option: no server starts, so
each subprocess returns in well under a second (the timeout catches one that would serve).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from api_sandbox.testing import SandboxProcess, SandboxStartError
from e2e.meltano_support import isolated_env, meltano
from repo_support import ROOT

BAD_VALUES = [
    pytest.param("--port", "99999", id="port-too-big"),
    pytest.param("--port", "65536", id="port-just-too-big"),
    pytest.param("--port", "-1", id="port-negative"),
    pytest.param("--port", "http", id="port-not-a-number"),
    pytest.param("--scale", "-1", id="scale-negative"),
    pytest.param("--scale", "0", id="scale-zero"),
    pytest.param("--scale", "nan", id="scale-nan"),
    pytest.param("--scale", "inf", id="scale-infinite"),
    pytest.param("--scale", "lots", id="scale-not-a-number"),
    pytest.param("--latency-ms", "-5", id="latency-negative"),
    pytest.param("--latency-ms", "inf", id="latency-infinite"),
    pytest.param("--rate-limit", "amilia=-1", id="rate-limit-negative"),
    pytest.param("--rate-limit", "amilia=nan", id="rate-limit-nan"),
    pytest.param("--rate-limit", "nobody=5", id="rate-limit-unknown-vendor"),
    pytest.param("--rate-limit", "amilia.profile_api=5", id="rate-limit-unknown-family"),
    pytest.param("--rate-limit", "amilia", id="rate-limit-no-number"),
    pytest.param("--token-ttl", "amperity=0", id="token-ttl-zero"),
    pytest.param("--token-ttl", "agyletime=-3", id="token-ttl-negative"),
    pytest.param("--seed", "x", id="seed-not-a-number"),
]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api_sandbox", *args],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )


@pytest.mark.parametrize(("option", "value"), BAD_VALUES)
def test_cli_rejects_a_bad_number_in_one_line(option: str, value: str) -> None:
    result = run_cli(option, value)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"api-sandbox: error: argument {option}: "), lines[0]
    assert value.rpartition("=")[2] in lines[0], lines[0]
    assert "Traceback" not in result.stderr


def test_cli_port_error_says_what_range_is_allowed() -> None:
    result = run_cli("--port", "99999")
    assert result.stderr.strip() == (
        "api-sandbox: error: argument --port: expected a whole number from 0 to 65535 "
        "(0 picks a free port), got '99999' (see --help)"
    )


def test_cli_unknown_option_is_one_line_too() -> None:
    result = run_cli("--bogus")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "api-sandbox: error: unrecognized arguments: --bogus (see --help)"
    )


def test_sandbox_process_reports_the_bad_option() -> None:
    """SandboxProcess (and so `make demo`) relays the one line, not a traceback."""
    with pytest.raises(SandboxStartError, match=r"argument --port: expected a whole number"):
        SandboxProcess(port=70000).start()


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("--scale", "0.01", "--latency-ms", "0"), id="scale-and-latency"),
        pytest.param(("--rate-limit", "amilia=0", "--token-ttl", "amperity=0.5"), id="per-vendor"),
    ],
)
def test_cli_accepts_the_edge_values(args: tuple[str, ...]) -> None:
    """Port 0 (a free one), a tiny scale, no latency, a limit switched off and a short TTL."""
    with SandboxProcess(*args, port=0) as sandbox:
        assert sandbox.port > 0
        assert sandbox.control("GET", "health")["status"] == "ok"


def test_cli_sets_the_limit_of_one_api_family() -> None:
    with SandboxProcess("--rate-limit", "amperity.profile_api=5", port=0) as sandbox:
        assert sandbox.configure()["rate_limits"] == {"amperity.profile_api": 5.0}


def load_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo", ROOT / "scripts" / "demo.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("tap", "settings"),
    [
        ("tap-amilia", {"api_url": "/amilia/api/v3"}),
        ("tap-amperity", {"api_url": "/amperity/api"}),
        (
            "tap-agyletime",
            {"tenant_url": "/agyletime/tenant/api", "regional_url": "/agyletime/regional"},
        ),
    ],
)
def test_demo_points_every_tap_at_the_port_it_started(
    tap: str, settings: dict[str, str], tmp_path: Path
) -> None:
    """`make demo SANDBOX_PORT=...`: the taps' URLs follow the port, not meltano.yml's 8765."""
    sandbox = SandboxProcess(port=18911)
    sandbox.port = 18911  # as after start(); no server is needed to resolve the settings
    env = {**isolated_env(tmp_path), **load_demo().sandbox_env(sandbox)}
    result = meltano("--environment=sandbox", "config", "print", tap, "--format=json", env=env)
    config = json.loads(result.stdout)
    for name, path in settings.items():
        assert config[name] == f"http://127.0.0.1:18911{path}", name
