"""SIGKILL the tap at random points of a `meltano run` into DuckDB, run again, lose nothing.

Each tap syncs a date-windowed stream and a full-table or child stream with small pages and
small loader batches (so state is committed mid-run). The tap process is killed ``KILLS``
times (2 unless ``CRASH_KILLS`` says otherwise) at seeded random moments, and every one of
those kills must interrupt a running sync; a final run completes. The DuckDB tables must
then hold exactly the sandbox's primary keys: nothing lost, and no key twice (the loader
upserts on the keys).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import psutil
import pytest

from api_sandbox.testing import SandboxProcess
from e2e.meltano_support import isolated_env, project_root, tap_env
from repo_support import BIN, TAPS
from resilience.tap_profiles import SCALE, SEED, profile

# Concurrent `meltano run`s of one plugin in one project share .meltano/run/<plugin>/ and
# delete each other's catalog: every Meltano test runs in the same xdist worker, in turn.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("meltano")]
KILLS = int(os.environ.get("CRASH_KILLS", "2"))
KILL_POINTS = range(3, 16)
"""Sync requests before a kill (counted from the sync process's start, so Amperity's
discovery requests do not count). Every run of every profile makes at least ~20, even from
the state of a completed run, because the full-table streams are read again each time
(Amilia 21, Amperity 20, Agyle Time 52): a kill at 15 or fewer always lands mid-sync."""
RUN_TIMEOUT_S = 180


def start_run(tap: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as stderr:  # a file, not a pipe: nobody reads a killed run's output
        return subprocess.Popen(
            [str(BIN / "meltano"), "run", tap, "target-duckdb"],
            cwd=project_root(env),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def tap_process(
    run: subprocess.Popen[bytes], tap: str, wait_s: float = 60
) -> psutil.Process | None:
    """The tap's syncing process among the run's descendants (Meltano runs discovery first)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and run.poll() is None:
        for child in psutil.Process(run.pid).children(recursive=True):
            try:
                cmdline = child.cmdline()
                if "--discover" in cmdline:
                    continue
                if any(part.endswith(f"/{tap}") for part in cmdline):
                    return child
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.05)
    return None


def requests_so_far(sandbox: SandboxProcess, vendor: str) -> int:
    requests: int = sandbox.stats()[vendor]["requests"]
    return requests


def normalise(value: Any) -> Any:
    """Key values as comparable Python values: datetimes in UTC, the rest as strings."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        return normalise(parsed) if "T" in value else value
    return str(value)


def loaded_keys(
    path: Path, schema: str, table: str, columns: tuple[str, ...]
) -> list[tuple[Any, ...]]:
    column_sql = ", ".join(f'"{c.lower()}"' for c in columns)
    with duckdb.connect(str(path), read_only=True) as db:
        rows = db.execute(f'select {column_sql} from "{schema}"."{table.lower()}"').fetchall()
    return [tuple(normalise(v) for v in row) for row in rows]


@pytest.mark.parametrize("tap", TAPS)
def test_killed_runs_resume_to_exactly_the_sandbox_data(tap: str, tmp_path: Path) -> None:
    tap_profile = profile(tap)
    rng = random.Random(f"{SEED}-{tap}")
    with SandboxProcess(scale=SCALE, seed=SEED, latency_ms=15) as sandbox:
        env = {
            **isolated_env(tmp_path),
            **tap_env(tap, sandbox),
            **tap_profile.crash_env,
            f"{tap.upper().replace('-', '_')}__SELECT": json.dumps(
                [f"{stream}.*" for stream in tap_profile.crash_streams]
            ),
            "TARGET_DUCKDB_BATCH_SIZE_ROWS": "10",
        }
        killed: list[str] = []
        for attempt in range(KILLS):
            run = start_run(tap, env, tmp_path / "killed-runs.log")
            process = tap_process(run, tap)
            assert process is not None, f"kill {attempt + 1}: the tap's sync never started"
            # A random point, in the sync's own API requests: it lands mid-run on any machine.
            kill_after = requests_so_far(sandbox, tap_profile.vendor) + rng.choice(KILL_POINTS)
            outcome = "the sync finished first"
            while process.is_running() and run.poll() is None:
                if requests_so_far(sandbox, tap_profile.vendor) >= kill_after:
                    try:
                        process.send_signal(signal.SIGKILL)
                        outcome = "killed"
                    except psutil.NoSuchProcess:
                        pass
                    break
                time.sleep(0.01)
            run.wait(timeout=RUN_TIMEOUT_S)
            if outcome == "killed" and run.returncode == 0:
                outcome = "signalled after the sync had ended (the run succeeded)"
            killed.append(outcome)
        assert killed == ["killed"] * KILLS, f"not every kill interrupted a running sync: {killed}"
        final_log = tmp_path / "final-run.log"
        final = start_run(tap, env, final_log)
        final.wait(timeout=RUN_TIMEOUT_S)
        assert final.returncode == 0, final_log.read_text(encoding="utf-8")[-3000:]

    schema = tap.replace("-", "_")
    for stream, (columns, expected) in tap_profile.crash_streams.items():
        keys = loaded_keys(tmp_path / "warehouse.duckdb", schema, stream, columns)
        assert len(keys) == len(set(keys)), f"{stream}: a primary key was loaded twice"
        want = {
            tuple(normalise(v) for v in (k if isinstance(k, tuple) else (k,))) for k in expected()
        }
        got = set(keys)
        assert got == want, f"{stream}: {len(want - got)} missing, {len(got - want)} unexpected"
