"""Real `meltano run` of each tap against the sandbox into DuckDB and JSONL.

Each test gets its own sandbox, Meltano system database, state backend and output paths
(environment variables override meltano.yml), so it never touches the project's own state.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api_sandbox.testing import SandboxProcess
from e2e.meltano_support import default_streams, meltano, table_stats, tap_env
from repo_support import TAPS

# Concurrent `meltano run`s of one plugin in one project share .meltano/run/<plugin>/ and
# delete each other's catalog: every Meltano test runs in the same xdist worker, in turn.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("meltano")]


@pytest.mark.parametrize("tap", TAPS)
def test_meltano_run_into_duckdb_loads_every_default_stream_and_reruns_cleanly(
    tap: str, sandbox: SandboxProcess, meltano_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**meltano_env, **tap_env(tap, sandbox)}
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
    env = {**meltano_env, **tap_env("tap-agyletime", sandbox)}
    meltano("run", "tap-agyletime", "target-jsonl", env=env)
    files = {p.stem: p for p in (tmp_path / "jsonl").glob("*.jsonl")}
    assert "users" in files
    users = [json.loads(line) for line in files["users"].read_text(encoding="utf-8").splitlines()]
    assert users
    assert all("id" in user for user in users)
