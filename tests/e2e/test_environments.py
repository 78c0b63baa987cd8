"""The sandbox and prod environments cannot be mixed up, whatever the default environment.

Real `meltano` commands in a project of the test's own, with a `.env` holding credentials
of every auth mode for all three taps (what a user who fills in .env.example has):
`meltano invoke --dump=config` prints the very configuration the tap would be given.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from api_sandbox.testing import SandboxProcess
from e2e.meltano_support import meltano, project_root, tap_env
from repo_support import ROOT, TAPS

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("meltano")]

REAL = {
    "tap-amilia": {
        "organization": "real-org",
        "username": "real.user@example.org",
        "password": "real-password",
        "api_key": "real-api-key",
        "api_secret": "real-api-secret",
        "token": "real-token",
    },
    "tap-amperity": {
        "tenant_id": "real-tenant",
        "client_id": "real-client-id",
        "client_secret": "real-client-secret",
        "access_token": "real-access-token",
    },
    "tap-agyletime": {
        "subdomain": "real-subdomain",
        "region": "us",
        "access_key_id": "real-access-key-id",
        "access_key_secret": "real-access-key-secret",
    },
}
"""What .env holds for prod: every setting of every auth mode."""


def variable(tap: str, setting: str) -> str:
    return f"{tap}_{setting}".upper().replace("-", "_")


def with_dotenv(env: dict[str, str], default_environment: str | None = None) -> dict[str, str]:
    """``env``'s project with the real credentials in its .env (and, if given, another
    default environment in its meltano.yml)."""
    project = project_root(env)
    lines = [
        f"{variable(tap, k)}={v}" for tap, settings in REAL.items() for k, v in settings.items()
    ]
    (project / ".env").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if default_environment is not None:
        path = project / "meltano.yml"
        text = path.read_text(encoding="utf-8")
        path.write_text(
            re.sub(
                r"(?m)^default_environment: .*$",
                f"default_environment: {default_environment}",
                text,
            ),
            encoding="utf-8",
        )
    return env


def dumped_config(tap: str, env: dict[str, str], *environment: str) -> dict[str, Any]:
    """The configuration Meltano gives ``tap``."""
    result = meltano(*environment, "invoke", "--dump=config", tap, env=env)
    config: dict[str, Any] = json.loads(result.stdout)
    return config


def sandbox_environment(tap: str) -> dict[str, str]:
    """What meltano.yml's sandbox environment sets for ``tap`` (its config and its variables)."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    sandbox = next(e for e in project["environments"] if e["name"] == "sandbox")
    plugin = next(p for p in sandbox["config"]["plugins"]["extractors"] if p["name"] == tap)
    prefix = variable(tap, "")
    values = {k.removeprefix(prefix).lower(): v for k, v in plugin.get("env", {}).items()}
    return {**plugin.get("config", {}), **values}


@pytest.mark.parametrize("tap", TAPS)
@pytest.mark.parametrize(
    ("default_environment", "flags"),
    [
        ("sandbox", ()),
        ("sandbox", ("--environment=sandbox",)),
        ("prod", ("--environment=sandbox",)),
    ],
    ids=["default-sandbox", "explicit-sandbox", "default-prod-explicit-sandbox"],
)
def test_credentials_in_dotenv_never_reach_the_sandbox(
    tap: str, default_environment: str, flags: tuple[str, ...], meltano_env: dict[str, str]
) -> None:
    env = with_dotenv(meltano_env, default_environment)
    config = dumped_config(tap, env, *flags)
    leaked = {k for k, v in REAL[tap].items() if config.get(k) == v}
    assert not leaked, f"the sandbox environment would send .env's {sorted(leaked)}"
    for name, value in sandbox_environment(tap).items():
        assert config.get(name, "") == value, name
    urls = [v for k, v in config.items() if k.endswith("_url") and v]
    assert urls
    assert all(url.startswith("http://127.0.0.1:") for url in urls), urls


@pytest.mark.parametrize("tap", TAPS)
@pytest.mark.parametrize("default_environment", ["sandbox", "prod"])
def test_no_sandbox_setting_joins_a_prod_run(
    tap: str, default_environment: str, meltano_env: dict[str, str]
) -> None:
    env = with_dotenv(meltano_env, default_environment)
    config = dumped_config(tap, env, "--environment=prod")
    for name, value in REAL[tap].items():
        assert config.get(name) == value, name
    for name, value in sandbox_environment(tap).items():
        if value:
            assert config.get(name) != value, f"the sandbox's {name} joined the prod run"
    assert "127.0.0.1" not in json.dumps(config)
    if default_environment == "prod":
        assert dumped_config(tap, env) == config


def test_sandbox_run_succeeds_with_real_credentials_in_dotenv(
    sandbox: SandboxProcess, meltano_env: dict[str, str], tmp_path: Path
) -> None:
    """The user of the issue: API-key credentials in .env, no --environment: the run reaches
    the sandbox with its own credentials only (mixed, they would be "more than one auth mode";
    the real ones, a 401 from the sandbox)."""
    env = {**with_dotenv(meltano_env), **tap_env("tap-amilia", sandbox)}
    env["TAP_AMILIA__SELECT"] = json.dumps(["programs.*"])
    meltano("run", "tap-amilia", "target-jsonl", env=env)
    programs = (tmp_path / "jsonl" / "programs.jsonl").read_text(encoding="utf-8").splitlines()
    assert programs
    assert sandbox.stats()["amilia"]["requests"] > 0


def test_readme_select_example_runs_without_a_warning(meltano_env: dict[str, str]) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (line,) = re.findall(r"`\.venv/bin/meltano ([^`]*select [^`]*)`", readme)
    result = meltano(*shlex.split(line), env=meltano_env)
    output = result.stdout + result.stderr
    assert "programs" in result.stdout
    warnings = [line for line in output.splitlines() if re.search(r"\[(warning|error)\s*\]", line)]
    assert warnings == []
    assert "Config validation failed" not in output


@pytest.mark.parametrize(
    ("tap", "flags", "settings"),
    [
        # The SDK checks no setting for --discover; tap-amperity's discovery signs in.
        ("tap-amilia", (), ("username + password", "api_key + api_secret", "token")),
        ("tap-amperity", ("--discover",), ("client_id + client_secret", "access_token")),
    ],
)
def test_a_settings_conflict_names_the_environment_and_the_settings(
    tap: str, flags: tuple[str, ...], settings: tuple[str, ...], meltano_env: dict[str, str]
) -> None:
    """.env holding every auth mode: the prod run stops in one line that names the Meltano
    environment and each auth mode's settings before any request, and shows no secret."""
    env = with_dotenv(meltano_env)
    result = meltano("--environment=prod", "invoke", tap, *flags, env=env, check=False)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if "(Meltano environment" in line]
    assert len(lines) == 1, result.stderr[-2000:]
    assert "Meltano environment 'prod'" in lines[0]
    for names in settings:
        assert names in lines[0]
    for value in REAL[tap].values():
        if "real-" in value and value != REAL[tap].get("organization"):
            assert value not in result.stderr
