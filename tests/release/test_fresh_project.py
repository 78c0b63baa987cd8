"""What a new Meltano user does: a new project that adds the three taps from their Hub definitions.

The packages are built into wheels (they are not on PyPI yet) and each tap's `pip_url` is
pointed at its wheel and the toolkit's: nothing is resolved from the package index but the
taps' third-party dependencies and target-jsonl. The sandbox stands in for the vendor APIs.

Meltano keeps `select` only when a plugin comes from a Hub (the definition is locked and
its `select` is the plugin's default, see the second test); `meltano add --from-ref` drops
it, so docs/releasing.md's "Installing from Meltano Hub" section gives the `meltano select` lines that
keep the opt-in streams opt-in, and the first test runs exactly those lines.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from api_sandbox.testing import SandboxProcess
from e2e.meltano_support import tap_env
from release.release_support import HUB, script, wheel
from repo_support import BIN, ROOT, TAPS

pytestmark = pytest.mark.release

hub_definitions = script("hub_definitions")
VARIANT: str = hub_definitions.variant()
# The sandbox's public fake credentials (docs/CONVENTIONS.md); its URLs come from tap_env.
SANDBOX_SETTINGS = {
    "tap-amilia": {
        "organization": "8008",
        "username": "sandbox@example.com",
        "password": "sandbox-password",
    },
    "tap-amperity": {
        "tenant_id": "acme-sandbox",
        "client_id": "sandbox-client-id",
        "client_secret": "sandbox-client-secret",
    },
    "tap-agyletime": {
        "subdomain": "acme",
        "region": "eu",
        "access_key_id": "sandbox-access-key-id",
        "access_key_secret": "sandbox-access-key-secret",
    },
}
# Declared in full, as in our meltano.yml: adding it needs no Hub.
TARGET_JSONL = {
    "name": "target-jsonl",
    "namespace": "target_jsonl",
    "variant": "andyh1203",
    "pip_url": "target-jsonl~=0.1.4",
    "executable": "target-jsonl",
    "settings": [
        {"name": "destination_path", "kind": "string"},
        {"name": "do_timestamp_file", "kind": "boolean"},
    ],
}


def definition_file(tap: str) -> Path:
    path: Path = HUB / "_data" / "meltano" / "extractors" / tap / f"{VARIANT}.yml"
    return path


def clean_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a user's shell: none of this repository's Meltano or tap settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TAP_", "TARGET_", "MELTANO_")) and k != "VIRTUAL_ENV"
    }
    env |= {
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_DISABLE_TRACKING": "true",
        "HOME": os.environ.get("HOME", str(tmp_path)),
    }
    return env


def meltano(project: Path, *args: str, env: dict[str, str]) -> str:
    """Run `meltano args` in ``project``; its stdout."""
    result = subprocess.run(
        [str(BIN / "meltano"), *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"meltano {args[0]} failed:\n{result.stderr[-4000:]}"
    return result.stdout


def opt_in_streams(catalog: dict[str, Any]) -> set[str]:
    """Streams the catalog leaves out unless selected."""
    return {
        entry["tap_stream_id"]
        for entry in catalog["streams"]
        for m in entry["metadata"]
        if not m["breadcrumb"] and not m["metadata"].get("selected-by-default", False)
    }


def readme_select_lines() -> list[list[str]]:
    """The `meltano select` commands of docs/releasing.md's "Installing from Meltano Hub"."""
    readme = (ROOT / "docs" / "releasing.md").read_text(encoding="utf-8")
    section = readme.split("## Installing from Meltano Hub", 1)[1].split("\n## ", 1)[0]
    return [
        shlex.split(line)[1:] for line in section.splitlines() if line.startswith("meltano select ")
    ]


def new_project(tmp_path: Path, env: dict[str, str]) -> Path:
    meltano(tmp_path, "init", "fresh", "--no-usage-stats", env=env)
    return tmp_path / "fresh"


def test_new_project_adds_installs_and_runs_every_tap_from_its_hub_definition(
    built_dist: Path, tmp_path: Path
) -> None:
    env = clean_env(tmp_path)
    project = new_project(tmp_path, env)
    toolkit_wheel = wheel(built_dist, "singer-rest-toolkit")
    for tap in TAPS:
        meltano(
            project,
            "add",
            "--plugin-type",
            "extractor",
            "--from-ref",
            str(definition_file(tap)),
            tap,
            "--no-install",
            env=env,
        )
    target = tmp_path / "target-jsonl.yml"
    target.write_text(yaml.safe_dump(TARGET_JSONL), encoding="utf-8")
    add_target = ["--plugin-type", "loader", "--from-ref", str(target), "target-jsonl"]
    meltano(project, "add", *add_target, "--no-install", env=env)

    # The packages are not on PyPI yet: point each pip_url at the built wheels.
    meltano_yml = project / "meltano.yml"
    text = meltano_yml.read_text(encoding="utf-8")
    for tap in TAPS:
        line = f"    pip_url: {tap}\n"
        assert text.count(line) == 1, f"`meltano add` wrote no `pip_url: {tap}`"
        text = text.replace(line, f"    pip_url: {wheel(built_dist, tap)} {toolkit_wheel}\n")
    meltano_yml.write_text(text, encoding="utf-8")
    added = {p["name"]: p for p in yaml.safe_load(text)["plugins"]["extractors"]}
    assert "select" not in added["tap-amilia"], (
        "Meltano now keeps `select` on --from-ref: docs/releasing.md's select lines may go"
    )

    meltano(project, "install", env=env)

    for tap, settings in SANDBOX_SETTINGS.items():
        for name, value in settings.items():
            meltano(project, "config", "set", tap, name, value, env=env)
    for select_line in readme_select_lines():
        meltano(project, *select_line, env=env)

    with SandboxProcess(scale=0.05) as sandbox:
        for tap in TAPS:
            tap_shell = {**env, **tap_env(tap, sandbox)}
            catalog = json.loads(meltano(project, "invoke", tap, "--discover", env=tap_shell))
            opt_in = opt_in_streams(catalog)
            defaults = {e["tap_stream_id"] for e in catalog["streams"]} - opt_in
            selected = yaml.safe_load(meltano_yml.read_text("utf-8"))["plugins"]["extractors"]
            select = next(p for p in selected if p["name"] == tap).get("select", ["*.*"])
            assert set(select) == {"*.*", *(f"!{s}.*" for s in opt_in)}, tap

            out = tmp_path / "jsonl" / tap
            meltano(
                project,
                "run",
                tap,
                "target-jsonl",
                env={
                    **tap_shell,
                    "TARGET_JSONL_DESTINATION_PATH": str(out),
                    "TARGET_JSONL_DO_TIMESTAMP_FILE": "false",
                },
            )
            rows = {p.stem: len(p.read_text("utf-8").splitlines()) for p in out.glob("*.jsonl")}
            assert sum(rows.values()) > 0, f"{tap} wrote no rows"
            assert set(rows) <= defaults, f"{tap} synced {sorted(set(rows) - defaults)}"


HUB_PAGE_ONLY = ("keywords", "maintenance_status", "domain_url", "quality", "usage", "prereq")


class FakeHub(BaseHTTPRequestHandler):
    """The two Hub API routes `meltano add` reads: the extractor index and a definition."""

    base = ""

    def do_GET(self) -> None:
        prefix = "/meltano/api/v1/plugins/extractors/"
        name = self.path.removeprefix(prefix)
        if name == "index":
            body: dict[str, Any] = {
                tap: {
                    "default_variant": VARIANT,
                    "logo_url": f"{self.base}/assets/logos/extractors/x.svg",
                    "variants": {VARIANT: {"ref": f"{self.base}{prefix}{tap}--{VARIANT}"}},
                }
                for tap in TAPS
            }
        elif name.removesuffix(f"--{VARIANT}") in TAPS:
            body = yaml.safe_load(definition_file(name.removesuffix(f"--{VARIANT}")).read_text())
            # The Hub's API serves a definition less its Hub-page metadata (select stays).
            for key in HUB_PAGE_ONLY:
                body.pop(key, None)
        else:
            self.send_error(404)
            return
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def fake_hub() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    FakeHub.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield FakeHub.base
    finally:
        server.shutdown()
        server.server_close()


def test_taps_added_from_a_hub_keep_their_opt_in_streams_opt_in(
    fake_hub: str, tmp_path: Path
) -> None:
    """`meltano add extractor <tap>` from a Hub locks the definition, whose `select` is
    then the plugin's default selection (served here by a local stand-in of the Hub API)."""
    env = {**clean_env(tmp_path), "MELTANO_HUB_URL": fake_hub}
    project = new_project(tmp_path, env)
    with_opt_in = [t for t in TAPS if "select" in yaml.safe_load(definition_file(t).read_text())]
    assert with_opt_in == ["tap-amilia", "tap-amperity", "tap-agyletime"]
    meltano(project, "add", "--plugin-type", "extractor", *with_opt_in, "--no-install", env=env)
    for tap in with_opt_in:
        wanted = yaml.safe_load(definition_file(tap).read_text("utf-8"))["select"]
        extras = json.loads(
            meltano(project, "config", "print", tap, "--extras", "--format=json", env=env)
        )
        assert extras["_select"] == wanted, tap
