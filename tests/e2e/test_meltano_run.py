"""Real `meltano run` of each tap against the sandbox into DuckDB and JSONL.

Each test gets its own sandbox, Meltano system database, state backend and output paths
(environment variables override meltano.yml), so it never touches the project's own state.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from api_sandbox.testing import SandboxProcess
from repo_support import BIN, ROOT

pytestmark = pytest.mark.e2e
SCALE = 0.05


def tap_urls(tap: str, sandbox: SandboxProcess) -> dict[str, str]:
    """Environment overrides that point a tap at this test's sandbox."""
    return {
        "tap-amilia": {"TAP_AMILIA_API_URL": f"{sandbox.url('amilia')}/api/v3"},
        "tap-amperity": {"TAP_AMPERITY_API_URL": f"{sandbox.url('amperity')}/api"},
        "tap-agyletime": {
            "TAP_AGYLETIME_TENANT_URL": f"{sandbox.url('agyletime')}/tenant/api",
            "TAP_AGYLETIME_REGIONAL_URL": f"{sandbox.url('agyletime')}/regional",
        },
    }[tap]


@pytest.fixture
def sandbox() -> Iterator[SandboxProcess]:
    with SandboxProcess(scale=SCALE) as server:
        yield server


@pytest.fixture
def meltano_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
        "MELTANO_STATE_BACKEND_URI": f"file://{tmp_path / 'state'}",
        "TARGET_DUCKDB_FILEPATH": str(tmp_path / "warehouse.duckdb"),
        "TARGET_JSONL_DESTINATION_PATH": str(tmp_path / "jsonl"),
    }


def meltano(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(BIN / "meltano"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"meltano {' '.join(args)} failed:\n{result.stderr[-4000:]}"
    return result


def default_streams(tap: str, env: dict[str, str]) -> dict[str, list[str]]:
    """Stream name -> primary keys, for every stream selected by default."""
    result = subprocess.run(
        [str(BIN / "meltano"), "invoke", tap, "--discover"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    catalog: dict[str, Any] = json.loads(result.stdout)
    streams: dict[str, list[str]] = {}
    for entry in catalog["streams"]:
        root = next(m["metadata"] for m in entry["metadata"] if not m["breadcrumb"])
        if root.get("selected-by-default", False):
            streams[entry["tap_stream_id"]] = entry.get("key_properties") or root.get(
                "table-key-properties", []
            )
    return streams


def table_stats(
    path: Path, schema: str, keys_by_table: dict[str, list[str]]
) -> dict[str, tuple[int, int]]:
    """table -> (rows, distinct primary keys)."""
    stats: dict[str, tuple[int, int]] = {}
    with duckdb.connect(str(path), read_only=True) as db:
        tables = {
            r[0]
            for r in db.execute(
                "select table_name from information_schema.tables where table_schema = ?", [schema]
            ).fetchall()
        }
        for stream, keys in keys_by_table.items():
            table = stream.lower()
            if table not in tables:
                continue
            key_sql = ", ".join(f'"{k.lower()}"' for k in keys)
            row = db.execute(
                f'select count(*), count(distinct ({key_sql})) from "{schema}"."{table}"'
            ).fetchone()
            assert row is not None
            stats[table] = (row[0], row[1])
    return stats


@pytest.mark.parametrize("tap", ["tap-amilia", "tap-amperity", "tap-agyletime"])
def test_meltano_run_into_duckdb_loads_every_default_stream_and_reruns_cleanly(
    tap: str, sandbox: SandboxProcess, meltano_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**meltano_env, **tap_urls(tap, sandbox)}
    streams = default_streams(tap, env)
    assert streams, f"{tap} selects no stream by default"
    schema = tap.replace("-", "_")
    warehouse = tmp_path / "warehouse.duckdb"

    meltano("run", tap, "target-duckdb", env=env)
    first = table_stats(warehouse, schema, streams)
    missing = sorted(s for s in streams if s.lower() not in first)
    assert not missing, f"no table for default streams {missing}"
    for table, (rows, distinct) in first.items():
        assert rows > 0, f"{schema}.{table} is empty"
        assert rows == distinct, f"{schema}.{table} has duplicate primary keys"

    state = json.loads(meltano("state", "get", f"sandbox:{tap}-to-target-duckdb", env=env).stdout)
    assert state["singer_state"]["bookmarks"], "the run saved no bookmarks"
    requests_first = sandbox.stats()[schema.removeprefix("tap_")]["requests"]

    meltano("run", tap, "target-duckdb", env=env)
    second = table_stats(warehouse, schema, streams)
    assert second == first, "a second run changed row counts of keyed tables"
    requests_second = sandbox.stats()[schema.removeprefix("tap_")]["requests"] - requests_first
    assert requests_second > 0


def test_meltano_run_into_jsonl_writes_records(
    sandbox: SandboxProcess, meltano_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**meltano_env, **tap_urls("tap-agyletime", sandbox)}
    meltano("run", "tap-agyletime", "target-jsonl", env=env)
    files = {p.stem: p for p in (tmp_path / "jsonl").glob("*.jsonl")}
    assert "users" in files
    users = [json.loads(line) for line in files["users"].read_text(encoding="utf-8").splitlines()]
    assert users
    assert all("id" in user for user in users)
